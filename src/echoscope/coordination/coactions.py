"""The co-action registry: each behaviour is one SQL query that turns canonical tables into *actions*.

Why a registry of SQL producers: every co-action network (co-retweet, co-link, shared IP, ...) is the same
computation -- two accounts act on the same *object* within a time window, again and again -- so the
expensive part (a windowed self-join, pruning, null model, significance) is written once in
:mod:`echoscope.coordination.stages` and :mod:`echoscope.coordination.judge`, and a behaviour only says what its
actions are. An action is a row
``(account_id, object_id, action_id, ts)`` with ``ts`` in epoch seconds. Adding a behaviour means adding one
entry to :data:`COACTIONS`, like the coordination-network-toolkit's ``_network_types``.

The queries are DuckDB SQL and run on Spark too, transpiled with DuckDB's semantics (:mod:`.dialect`): one
definition per behaviour. Under a peer's semantics (``--semantics cnt|coortweet``) a query gives the peer's
objects (:func:`semantics_of`: URLs as given; CooRTweet's single hashtags, reposts included), and
:attr:`CoAction.peers` says which peers define the behaviour at all. Normalisation (URLs, texts) is in
the DuckDB macros of :data:`MACROS`, which the transpiler expands on Spark.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: query parameters removed by URL normalisation (tracking, click ids, share sources)
TRACKING_PARAMS: tuple[str, ...] = (
    "utm_[a-z0-9_]*", "fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "yclid",
    "_ga", "ref_src", "ref_url", "s", "si", "spm", "cmpid", "__twitter_impression",
)

#: second-level labels under which a two-letter country domain registers names (``bbc.co.uk``, ``abc.net.au``,
#: ``x.com.br``, ``y.go.jp``): under ``LABEL.CC`` the registrable domain keeps three labels. A short stand-in
#: for the Public Suffix List (which the SQL of both engines cannot carry): it misses rarer country schemes
COUNTRY_SECOND_LEVELS: tuple[str, ...] = (
    "ac", "co", "com", "edu", "go", "gob", "gouv", "gov", "govt", "gv", "ltd", "mil", "ne", "net", "nhs", "nic",
    "nom", "or", "org", "plc", "sch",
)

#: hosts that give each user a subdomain of their own (``alice.blogspot.com``): there the registrable domain
#: keeps the user's label, as the Public Suffix List's private section does, so that every blog on the host is
#: not one object
HOSTED_SUFFIXES: tuple[str, ...] = (
    "blogspot.com", "wordpress.com", "substack.com", "tumblr.com", "medium.com", "github.io", "gitlab.io",
    "livejournal.com", "appspot.com", "herokuapp.com", "netlify.app", "vercel.app", "pages.dev", "wixsite.com",
    "weebly.com", "typepad.com", "over-blog.com", "home.blog", "tilda.ws", "narod.ru", "ucoz.ru",
)

#: the normalisation functions as DuckDB macros: name -> (parameters, SQL expression). Plain expressions (a
#: macro may call the ones before it), so that one definition also runs on Spark: :mod:`.dialect` expands them
#: there with DuckDB's semantics (its regular expressions, lower-casing and trimming).
#:
#: ``echo_norm_url(u)``: scheme, ``www.``, fragment, tracking parameters and trailing slash removed; host
#: lower-cased (``echo_url_rest``: the URL without scheme and fragment; ``echo_url_query``: its query without
#: tracking parameters; ``echo_url_parts``: host, path and query put together).
#:
#: ``echo_norm_text(t)``: text normalised for co-text (lower case; URLs, mentions, a leading RT, punctuation
#: removed; each Han, Hiragana and Katakana character made a token of its own, since those scripts put no spaces
#: between words: without it a Chinese post is one "word", below co-text's minimum of 4 tokens, and its
#: near-duplicates cannot be shingled).
#:
#: ``echo_norm_domain(u)``: the registrable domain of a URL (``echo_url_host``: the host of the normalised URL
#: without user, port, trailing dots and leading ``www``/``www2``...): an IP address as it is; under a
#: two-letter country domain with a second level of :data:`COUNTRY_SECOND_LEVELS` the last three labels
#: (``news.bbc.co.uk`` -> ``bbc.co.uk``); under a host of :data:`HOSTED_SUFFIXES` the user's label and the host
#: (``alice.blogspot.com``); else the last two labels (``m.facebook.com`` -> ``facebook.com``).
#:
#: ``echo_ts_text(t)``: DuckDB's text of a UTC timestamp (``2024-03-01 12:00:00.12345+00``), shared-ip's action id.
MACROS: dict[str, tuple[tuple[str, ...], str]] = {
    "echo_url_rest": (("u",), r"""regexp_replace(regexp_replace(trim(u), '^[A-Za-z][A-Za-z0-9+.-]*://', ''),
        '#.*$', '')"""),
    "echo_url_query": (("v",), r"""array_to_string(list_filter(string_split(regexp_extract(v, '\?(.*)$', 1), '&'),
        x -> x <> '' AND NOT regexp_matches(lower(x), '^(PARAMS)(=|$)')), '&')""".replace(
        "PARAMS", "|".join(TRACKING_PARAMS))),
    "echo_url_parts": (("v", "q"), r"""regexp_replace(lower(regexp_extract(v, '^[^/?]*')), '^www\.', '')
        || regexp_replace(regexp_extract(v, '^[^/?]*([^?]*)', 1), '/+$', '')
        || CASE WHEN q = '' THEN '' ELSE '?' || q END"""),
    "echo_norm_url": (("u",), "echo_url_parts(echo_url_rest(u), echo_url_query(echo_url_rest(u)))"),
    "echo_norm_text": (("t",), r"""trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        regexp_replace(regexp_replace(lower(t), 'https?://\S+', ' ', 'g'), '(^|\s)rt\s+@\S+:?', ' ', 'g'),
        '@\S+', ' ', 'g'), '[\pP\pS]+', ' ', 'g'), '([\p{Han}\p{Hiragana}\p{Katakana}])', ' \1 ', 'g'),
        '\s+', ' ', 'g'))"""),
    "echo_url_host": (("u",), r"""regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        regexp_extract(echo_norm_url(u), '^[^/?]*'), '^[^@]*@', ''), ':[0-9]*$', ''), '[.]+$', ''),
        '^(www[0-9]*[.])+', '')"""),
    "echo_domain_of": (("h",), r"""CASE WHEN h = '' THEN NULL
        WHEN regexp_matches(h, '^[0-9.]+$') OR regexp_matches(h, '^\[') THEN h
        WHEN regexp_matches(h, '[^.]+[.](SLD)[.][a-z]{2}$') THEN regexp_extract(h, '[^.]+[.](SLD)[.][a-z]{2}$', 0)
        WHEN regexp_matches(h, '[^.]+[.](HOSTED)$') THEN regexp_extract(h, '[^.]+[.](HOSTED)$', 0)
        ELSE regexp_extract(h, '([^.]+[.])?[^.]+$', 0) END""".replace("SLD", "|".join(COUNTRY_SECOND_LEVELS)).replace(
        "HOSTED", "|".join(x.replace(".", "[.]") for x in HOSTED_SUFFIXES))),
    "echo_norm_domain": (("u",), "echo_domain_of(echo_url_host(u))"),
    "echo_ts_text": (("t",), "CAST(t AS VARCHAR)"),
}

EPOCH = "epoch_us({col}) / 1e6"


@dataclass(frozen=True)
class CoAction:
    """A co-action behaviour.

    Attributes
    ----------
    name : str
        Behaviour name used on the command line (``co-retweet``).
    description : str
        One line for help texts and docs.
    sql : callable
        ``sql(params) -> str``: a query returning ``account_id, object_id, action_id, ts`` (epoch seconds).
    timed : bool
        Whether the time window applies (``shared-ip`` counts shared infrastructure at any time).
    cnt_name : str or None
        Name of the coordination-network-toolkit network this behaviour corresponds to.
    reference : callable or None
        ``reference(params) -> str``: a query returning ``account_id, object_id``, one row per action, over
        *all* actions of each object that the null model shuffles accounts over, when a behaviour's actions
        are a filtered subset of them (the null counts the object's slots from it, and an account is a
        candidate on every object it acted on there, not only where its action made the behaviour).
        rapid-fire keeps only amplifications within seconds of the post; under the object-timeline null
        those all lie within the window of each other (``q_o`` ~ 1, no power), while the question is
        whether the same accounts take the *first* slots of a post's amplifications again and again: the
        null assigns accounts to all of the post's amplification slots. The ``object_id`` a reference row
        gives is the object's ``unit``: each row is a slot of every object of that unit (co-latency: an
        engagement of the post is a slot of each of the post's delay buckets).
    window : callable or None
        ``window(params) -> float``: the pairing window of this behaviour, replacing ``--window``.
        early-amplify keeps only the engagements made within ``early_seconds`` of the post, and any two of
        them count as acting together (its question is *which* posts two accounts reach early, not how
        close in time), so its window is ``early_seconds``.
    unit : str
        SQL expression over ``object_id`` naming what the held-out validation splits into halves: the
        object itself, or for co-latency's ``post@bucket`` objects the post, so that one post falls in the
        same half in every behaviour of a fused run.
    peers : frozenset of str
        The peer semantics (``cnt``, ``coortweet``) that define this behaviour: ``--semantics`` runs only these.
    order : str or None
        ``ORDER BY`` list giving the actions their ids (``_ca_raw`` row order) when the query's own order is
        not a table scan's: the behaviours over the ``engagements`` view (a join) are numbered by action id,
        so that both engines (:mod:`.spark`) and every run pick the same evidence among equally close pairs.
    published : bool
        Whether an object is something an account publishes (a link, a text, a hashtag set, a mention, a domain,
        an image): its first action is then its publication, and a study target's publication of it is what is
        amplified, not an amplification (``CoordParams.target_originals``; :func:`.stages.drop_target_originals`).
        Post behaviours act on someone's post: the post's author is not among its actions.
    pushdown : bool
        False when the object id is a costly expression over a table scan (co-text's normalisation): DuckDB
        pushed every filter on it down into the scan and evaluated the expression once per filter and again for
        the result -- four regular-expression chains per post: 21 s for 10M posts instead of 6.6 s. The behaviour's
        actions are then read with DuckDB's filter pushdown off (:meth:`.backends.DuckTables.actions`).
    """

    name: str
    description: str
    sql: Callable[[dict[str, Any]], str]
    timed: bool = True
    cnt_name: str | None = None
    tables: tuple[str, ...] = field(default=("posts",))
    reference: Callable[[dict[str, Any]], str] | None = None
    window: Callable[[dict[str, Any]], float] | None = None
    unit: str = "object_id"
    order: str | None = None
    peers: frozenset[str] = frozenset()
    pushdown: bool = True
    published: bool = False


def _ref_kind(kind: str) -> Callable[[dict[str, Any]], str]:
    def sql(p: dict[str, Any]) -> str:
        return (f"SELECT account_id, ref_post_id AS object_id, post_id AS action_id, {EPOCH.format(col='created_at')} "
                f"AS ts FROM posts WHERE kind = '{kind}' AND ref_post_id IS NOT NULL AND created_at IS NOT NULL")
    return sql


def semantics_of(p: dict[str, Any]) -> str:
    """The semantics a behaviour's SQL is asked for: ``p["semantics"]``, else ``cnt`` when ``raw_urls`` is set
    (the stages set it for every peer semantics), else ``echoscope``."""
    return str(p.get("semantics") or ("cnt" if p.get("raw_urls") else "echoscope"))


def _posts_with(p: dict[str, Any], cond: str) -> str:
    """The posts a list behaviour reads: ``cond`` holds, the time is known, and -- except under CooRTweet's
    semantics -- not a repost (a repost carries the original's objects: sharing them is a co-retweet, as the
    cnt toolkit counts it). CooRTweet takes every row of the table it is given (its vignette's ``prep_data``
    per object column), so under ``coortweet`` reposts count too."""
    kind = "" if semantics_of(p) == "coortweet" else "kind <> 'repost' AND "
    return f"FROM posts WHERE {kind}created_at IS NOT NULL AND {cond}"


def _links(p: dict[str, Any]) -> str:
    url = "u" if p.get("raw_urls") else "echo_norm_url(u)"
    return (f"SELECT account_id, {url} AS object_id, post_id AS action_id, {EPOCH.format(col='created_at')} AS ts "
            f"FROM (SELECT account_id, post_id, created_at, unnest(urls) AS u {_posts_with(p, 'len(urls) > 0')}) "
            "WHERE u IS NOT NULL AND u <> ''")


def _domains(p: dict[str, Any]) -> str:
    # one action per (post, registrable domain): two links of a post to one site are one share of the site. The
    # host is computed once per URL in a subquery (a macro's argument is substituted, not evaluated once: the
    # nested form evaluated the URL normalisation once per reference, several times slower)
    return (f"SELECT DISTINCT account_id, echo_domain_of(h) AS object_id, post_id AS action_id, "
            f"{EPOCH.format(col='created_at')} AS ts FROM (SELECT account_id, post_id, created_at, "
            f"echo_url_host(u) AS h FROM (SELECT account_id, post_id, created_at, unnest(urls) AS u "
            f"{_posts_with(p, 'len(urls) > 0')}) WHERE u IS NOT NULL AND u <> '')")


def _media(p: dict[str, Any]) -> str:
    # each media hash (or key) of a post as given: hashes are case-sensitive (base32 CIDs, base83 blurhashes)
    return (f"SELECT account_id, h AS object_id, post_id AS action_id, {EPOCH.format(col='created_at')} AS ts "
            f"FROM (SELECT account_id, post_id, created_at, unnest(list_distinct(media_hashes)) AS h "
            f"{_posts_with(p, 'len(media_hashes) > 0')}) WHERE h IS NOT NULL AND h <> ''")


def _hashtags(p: dict[str, Any]) -> str:
    if semantics_of(p) == "coortweet":
        # CooRTweet's hashtag object is one hashtag as written (its reshape_tweets and vignette: one row per tag)
        return (f"SELECT account_id, h AS object_id, post_id AS action_id, {EPOCH.format(col='created_at')} AS ts "
                f"FROM (SELECT account_id, post_id, created_at, unnest(list_distinct(hashtags)) AS h "
                f"{_posts_with(p, 'len(hashtags) > 0')}) WHERE h IS NOT NULL AND h <> ''")
    # the set of hashtags (order-free, case-free) as one object; single hashtags are trends, not signatures
    return ("SELECT account_id, "
            "array_to_string(list_sort(list_distinct(list_transform(hashtags, x -> lower(x)))), ' ')"
            f" AS object_id, post_id AS action_id, {EPOCH.format(col='created_at')} AS ts FROM posts "
            f"WHERE kind <> 'repost' AND created_at IS NOT NULL "
            f"AND len(list_distinct(list_transform(hashtags, x -> lower(x)))) >= {int(p.get('min_hashtags', 2))}")


def _mentions(p: dict[str, Any]) -> str:
    return (f"SELECT account_id, lower(m) AS object_id, post_id AS action_id, {EPOCH.format(col='created_at')} AS ts "
            f"FROM (SELECT account_id, post_id, created_at, unnest(list_distinct(mentions)) AS m FROM posts "
            f"WHERE kind <> 'repost' AND created_at IS NOT NULL AND len(mentions) > 0) WHERE m IS NOT NULL")


def _text(p: dict[str, Any]) -> str:
    # object_id is the normalised text; near-duplicates are merged afterwards (text.py, a prefix-filter similarity
    # join). The token count is a filter on the normalised column, computed once (CoAction.pushdown)
    return (f"SELECT account_id, object_id, action_id, ts FROM (SELECT account_id, echo_norm_text(text) AS object_id, "
            f"post_id AS action_id, "
            f"{EPOCH.format(col='created_at')} AS ts FROM posts WHERE kind <> 'repost' AND text IS NOT NULL "
            f"AND created_at IS NOT NULL) WHERE len(string_split(object_id, ' ')) >= "
            f"{int(p.get('min_text_tokens', 4))}")


#: action order (ids) of the behaviours whose query has no scan order (a join, an unnest): a total order of
#: their rows, the same on both engines (CoAction.order)
ACTION_ORDER = "action_id, account_id, object_id, ts"

#: engagement kinds that amplify a post (rapid-fire) and that answer it (early-amplify, co-latency)
AMPLIFY_KINDS = "('repost', 'quote')"
ENGAGE_KINDS = "('repost', 'quote', 'reply')"


def _answers(kinds: str, max_latency: float | None = None, obj: str = "subject_post_id",
             actions: bool = True) -> str:
    """Engagements of ``kinds`` with a known latency, at most ``max_latency`` seconds: a behaviour's actions
    (``actions``), or the ``account_id, object_id`` rows of its reference (the null model's slots)."""
    cols = (f"actor_id AS account_id, {obj} AS object_id, engagement_id AS action_id, "
            f"{EPOCH.format(col='created_at')} AS ts") if actions else f"actor_id AS account_id, {obj} AS object_id"
    cap = "" if max_latency is None else f" AND latency_s <= {float(max_latency)!r}"
    return (f"SELECT {cols} FROM engagements WHERE kind IN {kinds} AND subject_post_id IS NOT NULL "
            f"AND latency_s IS NOT NULL AND latency_s >= 0{cap}")


def _rapid(p: dict[str, Any]) -> str:
    # amplifications made within `rapid_seconds` of the original post; the object is the amplified post
    return _answers(AMPLIFY_KINDS, p.get("rapid_seconds", 10.0))


def _rapid_reference(p: dict[str, Any]) -> str:
    # every amplification of the post (the slots the null model assigns accounts to)
    return _answers(AMPLIFY_KINDS, actions=False)


def _rapid_window(p: dict[str, Any]) -> float:
    # the window spans every rapid action of a post (all of them co-act), as the null model assumes
    return max(float(p.get("window", 60.0)), float(p.get("rapid_seconds", 10.0)))


def _early(p: dict[str, Any]) -> str:
    # engagements made within `early_seconds` of the post; the object is the post
    return _answers(ENGAGE_KINDS, p.get("early_seconds", 600.0))


def _early_reference(p: dict[str, Any]) -> str:
    # every engagement of the post, early or late (the slots the null model assigns accounts to)
    return _answers(ENGAGE_KINDS, actions=False)


def _early_window(p: dict[str, Any]) -> float:
    # every two early engagements of a post are at most early_seconds apart: all of them pair
    return float(p.get("early_seconds", 600.0))


def _latency_edges(p: dict[str, Any]) -> list[float]:
    return sorted(float(x) for x in p.get("latency_buckets", (10.0, 60.0, 300.0, 1800.0)))


def _latency_bucket_sql(p: dict[str, Any]) -> str:
    edges = _latency_edges(p)
    return "CASE " + " ".join(f"WHEN latency_s <= {e!r} THEN {i}" for i, e in enumerate(edges)) + " END"


def _latency(p: dict[str, Any]) -> str:
    # the object is (post, latency bucket): two accounts co-act when they answer the post at a similar delay
    return _answers(ENGAGE_KINDS, _latency_edges(p)[-1], obj=f"subject_post_id || '@' || {_latency_bucket_sql(p)}")


def _latency_reference(p: dict[str, Any]) -> str:
    # every engagement of the post, early or late: a slot of each of the post's delay buckets (the reference
    # gives the unit, the post; the null model gives each row every bucket of it that has actions). Building
    # the 'post@bucket' strings of every engagement for every bucket here was 10.9 s of co-latency's 72 s at 10M
    return _answers(ENGAGE_KINDS, actions=False)


def _latency_window(p: dict[str, Any]) -> float:
    return _latency_edges(p)[-1]


def _shared_ip(p: dict[str, Any]) -> str:
    # one action per (account, address or device): its first login; the action id is 'account@time'
    one = ("SELECT account_id, '{kind}:' || {col} AS object_id, account_id || '@' || echo_ts_text(ts) AS action_id, "
           f"{EPOCH.format(col='ts')} AS ts FROM logins WHERE {{col}} IS NOT NULL AND ts IS NOT NULL")
    both = " UNION ALL ".join(one.format(kind=k, col=c) for k, c in (("ip", "ip_hash"), ("device", "device_hash")))
    return (f"SELECT account_id, object_id, min(action_id) AS action_id, min(ts) AS ts FROM ({both}) "
            "GROUP BY account_id, object_id")


#: behaviour name -> definition (order = order of the fused network's behaviour list)
CNT, COORTWEET = frozenset({"cnt"}), frozenset({"coortweet"})
BOTH = CNT | COORTWEET

COACTIONS: dict[str, CoAction] = {
    "co-retweet": CoAction("co-retweet", "reposts of the same post", _ref_kind("repost"), cnt_name="co_retweet",
                           peers=BOTH),
    "co-reply": CoAction("co-reply", "replies to the same post", _ref_kind("reply"), cnt_name="co_reply",
                         peers=CNT),
    "co-quote": CoAction("co-quote", "quotes of the same post", _ref_kind("quote")),
    "co-link": CoAction("co-link", "posts of the same URL (normalised)", _links, cnt_name="co_link",
                        order=ACTION_ORDER, peers=BOTH, published=True),
    "co-hashtag": CoAction("co-hashtag", "posts with the same set of two or more hashtags (under coortweet "
                           "semantics: the same hashtag)", _hashtags, order=ACTION_ORDER, peers=COORTWEET,
                            published=True),
    "co-domain": CoAction("co-domain", "posts linking to the same site (registrable domain of the URL)", _domains,
                          order=ACTION_ORDER, peers=COORTWEET, published=True),
    "co-media": CoAction("co-media", "posts carrying the same image or media hash (media_hashes)", _media,
                         order=ACTION_ORDER, peers=COORTWEET, published=True),
    "co-mention": CoAction("co-mention", "posts mentioning the same account", _mentions,
                           order=ACTION_ORDER, published=True),
    "co-text": CoAction("co-text", "identical or near-identical text (Jaccard of word 3-shingles)", _text,
                        cnt_name="co_tweet", peers=CNT, pushdown=False, published=True),
    "rapid-fire": CoAction("rapid-fire", "amplifying the same post within seconds of its publication", _rapid,
                           tables=("posts", "likes"), reference=_rapid_reference, window=_rapid_window,
                           order=ACTION_ORDER),
    "early-amplify": CoAction("early-amplify", "reposting, quoting or replying to the same post within "
                              "--early-seconds of its publication (any two such engagements count)", _early,
                              tables=("posts", "likes"), reference=_early_reference, window=_early_window,
                              order=ACTION_ORDER),
    "co-latency": CoAction("co-latency", "reposting, quoting or replying to the same post at a similar delay after "
                           "its publication (the same latency bucket)", _latency, tables=("posts", "likes"),
                           reference=_latency_reference, window=_latency_window,
                           unit="regexp_replace(object_id, '@[0-9]+$', '')", order=ACTION_ORDER),
    "shared-ip": CoAction("shared-ip", "logins from the same IP or device hash (logins table)", _shared_ip,
                          timed=False, tables=("logins",), order="account_id, object_id"),
}


def install_macros(con: Any) -> None:
    """Create the normalisation macros (:data:`MACROS`) on a raw DuckDB connection."""
    for name, (args, body) in MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}({', '.join(args)}) AS ({body})")


def _normalise(macro: str, value: str) -> str:
    from ..settings import duckdb_connection

    con = duckdb_connection()
    try:
        install_macros(con)
        return str(con.execute(f"SELECT {macro}(?)", [value]).fetchone()[0])
    finally:
        con.close()


def normalise_url(url: str) -> str:
    """Normalise one URL exactly as co-link does (the SQL macro, run on a private DuckDB connection).

    Examples
    --------
    >>> normalise_url("https://www.Example.com/a/?utm_source=x&id=3#top")
    'example.com/a?id=3'
    """
    return _normalise("echo_norm_url", url)


def normalise_domain(url: str) -> str | None:
    """The registrable domain of one URL exactly as co-domain takes it (the SQL macro ``echo_norm_domain``).

    Examples
    --------
    >>> normalise_domain("https://news.BBC.co.uk/a?utm_source=x")
    'bbc.co.uk'
    """
    from ..settings import duckdb_connection

    con = duckdb_connection()
    try:
        install_macros(con)
        row = con.execute("SELECT echo_norm_domain(?)", [url]).fetchone()
        return None if row is None or row[0] is None else str(row[0])
    finally:
        con.close()


def normalise_text(text: str) -> str:
    """Normalise one text exactly as co-text does."""
    return _normalise("echo_norm_text", text)

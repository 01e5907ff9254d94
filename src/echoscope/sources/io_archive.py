"""X/Twitter information-operations (IO) archive: the tweets CSV and the users CSV of each released network.

Why the module is shaped so: the archive is a fixed, well-known CSV layout, so this reader is nothing but two
fixed :class:`~echoscope.sources.tabular.Plan` objects run by the generic tabular engine (DuckDB parsing,
quarantine with line numbers, batches to the sink). The users file is literally a generic accounts file with a
fixed column map; the tweets file adds what a column map cannot say -- the post kind decided from several
columns -- and the author snapshot every tweet row carries.

The two files are told apart by their header: a ``tweetid`` column makes a tweets file; a ``userid`` column
without it makes a users file (both spellings: ``user_screen_name`` ... or ``screen_name`` ...).

Media (``posts.media_hashes``): the archive has no media column (its media come as files), so the links among
``urls`` that point at a tweet's photo or video or at Twitter's media server are taken as media keys
(:func:`media_links_sql`); a ``media_hashes`` column, which a study may add (e.g. perceptual hashes of the
archive's media files), is read instead when present.

Post kind precedence (documented in docs/sources-tabular.md): ``is_retweet`` true (or a ``retweet_tweetid``)
-> repost of ``retweet_tweetid`` by ``retweet_userid``; else ``quoted_tweet_tweetid`` -> quote; else
``in_reply_to_tweetid`` (or ``in_reply_to_userid``) -> reply; else original.
"""

from __future__ import annotations

from .. import schema as S
from ..errors import SchemaError
from . import values as V
from .base import IngestSink, SourceFile
from .tabular import read_header, sniff_delimiter
from .tabular_engine import run_plan
from .tabular_plan import Check, ColumnMap, Extra, Plan, build_plan, header_phrase, resolve_columns

#: official tweets-file columns, in the archive's order
TWEET_COLUMNS: tuple[str, ...] = (
    "tweetid", "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count",
    "account_creation_date", "account_language", "tweet_language", "tweet_text", "tweet_time",
    "tweet_client_name", "in_reply_to_userid", "in_reply_to_tweetid", "quoted_tweet_tweetid", "is_retweet",
    "retweet_userid", "retweet_tweetid", "latitude", "longitude", "quote_count", "reply_count", "like_count",
    "retweet_count", "hashtags", "urls", "user_mentions",
)
#: official users-file columns (the archive also ships them without the ``user_`` prefix)
USER_COLUMNS: tuple[str, ...] = (
    "userid", "user_display_name", "user_screen_name", "user_reported_location", "user_profile_description",
    "user_profile_url", "follower_count", "following_count", "account_creation_date", "account_language",
)

#: tweets-file column -> posts field
TWEET_FIELDS: dict[str, str] = {
    "tweetid": "post_id", "userid": "account_id", "tweet_time": "created_at", "tweet_text": "text",
    "tweet_language": "lang", "tweet_client_name": "client", "urls": "urls", "hashtags": "hashtags",
    "user_mentions": "mentions", "like_count": "like_count", "retweet_count": "repost_count",
    "reply_count": "reply_count", "quote_count": "quote_count",
    # not in the archive: a list of image hashes a study computed from the archive's media files
    "media_hashes": "media_hashes",
}

#: users-file column (either spelling) -> accounts field; also the author snapshot of a tweets file
USER_FIELDS: dict[str, str] = {
    "userid": "account_id",
    "user_screen_name": "handle", "screen_name": "handle",
    "user_display_name": "display_name", "display_name": "display_name",
    "user_reported_location": "location", "reported_location": "location",
    "user_profile_description": "description", "profile_description": "description",
    "follower_count": "followers_count", "following_count": "following_count",
    "account_creation_date": "created_at", "account_language": "language",
}
#: columns the archive has but the canonical model does not keep
IGNORED = ("user_profile_url", "profile_url", "latitude", "longitude")

REQUIRED_TWEET_COLUMNS = ("tweetid", "userid", "tweet_time")

#: where the archive's columns are documented (named in error messages)
DOCS = "docs/sources-tabular.md#io-archive"

#: a link to a tweet's photo or video (``twitter.com/USER/status/ID/photo/N``, also x.com, mobile.) or to an
#: image file on Twitter's media server (``pbs.twimg.com/media/NAME``): a tweet that embeds another tweet's
#: media carries such a link, the same for every tweet that reuses that upload
MEDIA_LINK = (r"(?i)^(?:[a-z]+://)?(?:www\.|mobile\.)?(?:twitter|x)\.com/[^/?#]+/status(?:es)?/([0-9]+)/"
              r"(photo|video)/([0-9]+)|^(?:[a-z]+://)?pbs\.twimg\.com/media/([A-Za-z0-9_-]+)")


def media_links_sql(urls: str) -> str:
    """SQL: the media links of the list ``urls`` (:data:`MEDIA_LINK`) as keys ``tweet:ID/photo/N`` or
    ``twimg:NAME`` (an upload, not the image content), NULL when there are none."""
    pat = V.lit(MEDIA_LINK)

    def grp(i: int) -> str:
        return f"regexp_extract(trim(x), {pat}, {i})"

    key = (f"CASE WHEN {grp(1)} <> '' THEN 'tweet:' || {grp(1)} || '/' || lower({grp(2)}) || '/' || {grp(3)} "
           f"ELSE 'twimg:' || {grp(4)} END")
    found = f"list_filter({urls}, x -> x IS NOT NULL AND regexp_matches(trim(x), {pat}))"
    return f"CASE WHEN len({found}) > 0 THEN list_transform({found}, x -> {key}) END"


def _norm(header: list[str]) -> list[str]:
    return [h.strip().lower() for h in header]


def sniff(head: bytes, name: str) -> float:
    """Sure (0.9) when the header line holds ``tweetid`` and ``userid``; 0.85 for a users file."""
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff").strip().lower()
    if not first or first[:1] in "{[":
        return 0.0
    delim = sniff_delimiter(first)
    cols = {c.strip().strip('"') for c in first.split(delim)}
    if "tweetid" in cols and "userid" in cols:
        return 0.9
    if "userid" in cols and ({"user_screen_name", "screen_name"} & cols) and (
            {"follower_count", "account_creation_date", "user_display_name", "display_name"} & cols):
        return 0.85
    return 0.0


def _where(header: list[str], fields: dict[str, str]) -> ColumnMap:
    return ColumnMap({h: fields[h] for h in header if h in fields}, {}, {})


def tweets_plan(header: list[str], platform: str, file: str) -> Plan:
    """The plan for a tweets CSV with (lower-cased) column names ``header``."""
    missing = [c for c in REQUIRED_TWEET_COLUMNS if c not in header]
    if missing:
        known = sum(1 for h in set(header) if h in TWEET_COLUMNS)
        raise SchemaError(
            f"column{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing from the X information-operations "
            f"tweets header (it has {len(header)} columns, {known} of the {len(TWEET_COLUMNS)} expected); see "
            f"{DOCS}, or read another layout with --format csv --map", file=file, line=1)
    cm = _where(header, TWEET_FIELDS)
    where = resolve_columns(header, cm, file)
    where = {f: i for f, i in where.items() if f in cm.renames.values()}  # only the archive's meaning
    plan = build_plan(header, "posts", where, cm, platform, file)
    col = {h: f"_s{i}" for i, h in enumerate(header)}

    def raw(name: str, column: str) -> str | None:
        if column not in col:
            return None
        plan.raw[name] = V.blank_to_null(col[column])
        return V.ident(name)

    is_rt = raw("io_is_retweet", "is_retweet")
    rt_tweet = raw("io_retweet_tweetid", "retweet_tweetid") or "NULL"
    rt_user = raw("io_retweet_userid", "retweet_userid") or "NULL"
    quoted = raw("io_quoted_tweetid", "quoted_tweet_tweetid") or "NULL"
    reply_tweet = raw("io_reply_tweetid", "in_reply_to_tweetid") or "NULL"
    reply_user = raw("io_reply_userid", "in_reply_to_userid") or "NULL"
    if is_rt:
        plan.parsed["io_p_is_retweet"] = V.bool_sql(is_rt)
        plan.checks.append(Check("is_retweet", f"{is_rt} IS NOT NULL AND io_p_is_retweet IS NULL",
                                 V.lit("is_retweet is not true/false"), fatal=False))
    repost = f"(COALESCE(io_p_is_retweet, false) OR {rt_tweet} IS NOT NULL)" if is_rt else f"({rt_tweet} IS NOT NULL)"
    quote = f"({quoted} IS NOT NULL)"
    reply = f"({reply_tweet} IS NOT NULL OR {reply_user} IS NOT NULL)"
    plan.fields["kind"] = (f"CASE WHEN {repost} THEN 'repost' WHEN {quote} THEN 'quote' "
                           f"WHEN {reply} THEN 'reply' ELSE 'original' END")
    plan.fields["ref_post_id"] = (f"CASE WHEN {repost} THEN {rt_tweet} WHEN {quote} THEN {quoted} "
                                  f"WHEN {reply} THEN {reply_tweet} END")
    plan.fields["ref_account_id"] = (f"CASE WHEN {repost} THEN {rt_user} WHEN {quote} THEN NULL "
                                     f"WHEN {reply} THEN {reply_user} END")
    if "p_urls" in plan.parsed and "p_media_hashes" not in plan.parsed:
        # media: a media_hashes column when the file has one (only it: one kind of key per file), else the
        # media links among the urls
        plan.fields["media_hashes"] = media_links_sql("p_urls")
    # the author snapshot each tweet row carries; observed at tweet time so the newest one wins the merge
    # account_id and observed_at are the post's account_id and created_at: taken from those columns, not
    # exported twice
    snap: dict[str, str] = {}
    reuse = {"account_id": "account_id", "observed_at": "created_at"}
    for column, field in USER_FIELDS.items():
        if column not in col or field in reuse or field in snap:
            continue
        name = "io_u_" + field
        typ = S.ACCOUNTS.field(field).type
        plan.raw[name] = V.blank_to_null(col[column]) if field not in ("description", "display_name") else col[column]
        if field == "handle":
            snap[field] = V.handle_sql(V.ident(name))
        elif str(typ).startswith("timestamp"):
            plan.parsed["io_p_" + field] = V.date_sql(V.ident(name))
            snap[field] = "io_p_" + field
            plan.checks.append(Check(column, f"{V.ident(name)} IS NOT NULL AND io_p_{field} IS NULL",
                                     V.lit(f"{column} is not a date"), fatal=False))
        elif str(typ) == "int64":
            plan.parsed["io_p_" + field] = V.int_sql(V.ident(name))
            snap[field] = "io_p_" + field
            plan.checks.append(Check(column, f"{V.ident(name)} IS NOT NULL AND io_p_{field} IS NULL",
                                     V.lit(f"{column} is not a whole number"), fatal=False))
        else:
            snap[field] = V.ident(name)
    plan.extras.append(Extra(table="accounts", fields=snap, key="account_id", order="observed_at",
                             required="account_id", reuse=reuse))
    plan.checks.sort(key=lambda c: not c.fatal)
    return plan


def users_plan(header: list[str], platform: str, file: str) -> Plan:
    """The plan for a users CSV (either column spelling) with (lower-cased) column names ``header``."""
    cm = _where(header, USER_FIELDS)
    where = resolve_columns(header, cm, file)
    where = {f: i for f, i in where.items() if f in cm.renames.values()}
    plan = build_plan(header, "accounts", where, cm, platform, file)
    # the archive always has ids: a row without one is quarantined, never keyed by its screen name
    plan.fields["account_id"] = "p_account_id"
    plan.checks = [c for c in plan.checks if c.field != "account_id"]
    plan.checks.insert(0, Check("userid", "p_account_id IS NULL",
                                V.lit("userid is empty; every row of the users file needs it")))
    return plan


def read_io_archive(src: SourceFile, sink: IngestSink) -> None:
    """Read one CSV of an information-operations archive (tweets or users; plain, .gz or a zip member).

    Tweets become ``posts`` (primary) plus the author snapshot of each tweet as ``accounts`` (not primary,
    ``observed_at`` = tweet time); users become ``accounts`` (primary). Rows that cannot be split or lack a
    tweet id, user id or readable tweet time are quarantined with their line number.

    Raises
    ------
    SourceError
        Empty file or JSON given as this format.
    SchemaError
        The header is neither a tweets nor a users file of the archive.
    """
    encoding = (sink.options or {}).get("encoding")
    header, delim = read_header(src, encoding)
    names = _norm(header)
    if "tweetid" in names:
        plan = tweets_plan(names, sink.platform, src.path)
    elif "userid" in names:
        plan = users_plan(names, sink.platform, src.path)
    else:
        raise SchemaError(
            f"neither column 'tweetid' (a tweets file) nor 'userid' (a users file) is in the header "
            f"({header_phrase(header)}); expected the X information-operations archive, see {DOCS}, or read "
            "another layout with --format csv --map", file=src.path, line=1)
    plan.columns = header
    run_plan(src, sink, plan, kind="csv", delim=delim, encoding=encoding)


__all__ = [
    "TWEET_COLUMNS",
    "TWEET_FIELDS",
    "USER_COLUMNS",
    "USER_FIELDS",
    "read_io_archive",
    "sniff",
    "tweets_plan",
    "users_plan",
]

"""What kind of cluster it is: what its members' actions amplify, automation signs, and a plain label.

Why: passing the coordination test says that accounts act together beyond chance, not why, and not that they
are inauthentic. A fandom bursting on its idol's posts, independent news bots reposting the same outlets
within seconds, and a campaign amplifying a diplomat all act together; a study of the diplomats needs to see
which is which before it reads a cluster as an operation. So each cluster carries what its evidence shows --
the share of its members' actions that amplify the study's targets, the signs of automation, where its
members' engagements go -- and a plain label chosen by the documented rules of :data:`KIND_RULES`
(docs/coordination.md, "What kind of cluster"). ``coordinated`` stays true for every cluster that passed the
test: the label says what it is.

Everything is one SQL pass per figure over the study's canonical tables (``posts``, ``engagements``,
``targets``) for the clustered accounts only; :func:`word_cluster` turns a stored row into a sentence for the
report, the explorer and the exports, so the wording lives in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..engine import engagements_by

#: behaviours whose objects are things shared (links, texts, hashtag sets, images, domains), not posts answered
CONTENT_BEHAVIOURS: tuple[str, ...] = ("co-link", "co-text", "co-hashtag", "co-media", "co-domain", "co-mention")

#: an account's activity is "round the clock" when its quietest six consecutive hours of the day (UTC) still
#: hold at least this share of its posts (a uniform day: 0.25; people who sleep: a few percent)
ROUND_THE_CLOCK = 0.15
#: delays after the post are "near-constant" when the interquartile range of log10(delay in seconds) is at
#: most this (a factor of about 2 between the quartiles; ordinary reactions: 1-2, a factor of 10-100)
CONSTANT_LATENCY = 0.35
#: "a few sources": at least this share of an account's engagements go to its three most engaged accounts
FEW_SOURCES = 0.8
#: a cluster "amplifies the targets" when at least this share of its members' actions do
TARGET_SHARE = 0.5
#: a "fan community": at least this share of the members' engagements go to one account that is not a target
FAN_SHARE = 0.25
#: a cluster "shares the same links/texts" when at least this share of its evidence is of content behaviours
CONTENT_SHARE = 0.5
#: members with fewer posts than this do not count in the median of the automation signs
MIN_POSTS = 10
#: an automated cluster reposts "news accounts" when at least this share of the posts its members engaged with
#: carry a link (news outlets post their articles' links: every post of the realistic simulator's outlets,
#: 15% of an ordinary user's)
NEWS_LINK_SHARE = 0.5

KIND_SCHEMA = pa.schema([
    ("amplifies_targets", pa.bool_()), ("target_share", pa.float64()), ("actions", pa.int64()),
    ("kind", pa.string()), ("label", pa.string()), ("automation", pa.string()),
    ("round_the_clock", pa.float64()), ("median_latency_s", pa.float64()), ("latency_spread", pa.float64()),
    ("top_sources_share", pa.float64()), ("repost_share", pa.float64()), ("top_source", pa.string()),
    ("top_source_share", pa.float64()), ("content_share", pa.float64()), ("source_link_share", pa.float64()),
])


def _automated(c: Mapping[str, Any]) -> bool:
    return bool(c.get("automation")) and len(str(c["automation"]).split(", ")) >= 2


@dataclass(frozen=True)
class KindRule:
    """One rule of :data:`KIND_RULES`: the first rule whose ``test`` holds names the cluster."""

    kind: str
    label: str
    test: Callable[[Mapping[str, Any]], bool]
    why: str


#: the label rules, in order (the first that holds wins); ``why`` is the documented rule
KIND_RULES: tuple[KindRule, ...] = (
    KindRule("targets", "amplifies the targets", lambda c: (c.get("target_share") or 0.0) >= TARGET_SHARE,
             f"at least {TARGET_SHARE:.0%} of the members' actions amplify the study's targets (engagements with "
             "their posts, posts mentioning them or sharing their links)"),
    KindRule("automated", "automated reposting of news accounts, no target",
             lambda c: _automated(c) and (c.get("repost_share") or 0.0) >= 0.5
             and (c.get("source_link_share") or 0.0) >= NEWS_LINK_SHARE,
             "two or more automation signs (round-the-clock activity, near-constant delay after the post, "
             f"engagements concentrated on a few accounts), mostly reposts, and at least {NEWS_LINK_SHARE:.0%} of "
             "the posts engaged with carry a link (news accounts post their articles)"),
    KindRule("automated", "automated reposting of a few accounts, no target",
             lambda c: _automated(c) and (c.get("repost_share") or 0.0) >= 0.5,
             "two or more automation signs (round-the-clock activity, near-constant delay after the post, "
             "engagements concentrated on a few accounts) and mostly reposts"),
    KindRule("content", "shares the same links/texts", lambda c: (c.get("content_share") or 0.0) >= CONTENT_SHARE,
             f"at least {CONTENT_SHARE:.0%} of the cluster's evidence is shared links, texts, hashtags, images, "
             "domains or mentions"),
    KindRule("fans", "fan community", lambda c: (c.get("top_source_share") or 0.0) >= FAN_SHARE,
             f"at least {FAN_SHARE:.0%} of the members' engagements go to one account that is not a target"),
    KindRule("other", "co-acts repeatedly, no target", lambda c: True, "none of the above"),
)


def _rows(con: Any, sql: str) -> dict[int, tuple[Any, ...]]:
    return {int(r[0]): tuple(r[1:]) for r in con.execute(sql).fetchall()}


def characterise(con: Any, members: str = "_cm", evidence: str = "_cev") -> dict[int, dict[str, Any]]:
    """Per cluster id, the columns of :data:`KIND_SCHEMA`.

    ``members``: a table ``(cluster_id, account_id)`` on ``con``; ``evidence``: the run's evidence table
    ``(behaviour, account_a, account_b, ...)``. Reads the study's ``posts``, ``engagements`` and ``targets``.
    """
    from .coactions import install_macros

    install_macros(con)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ck_p AS SELECT m.cluster_id, p.account_id,
            CAST(p.post_id AS VARCHAR) AS post_id, p.kind, p.created_at, p.mentions, p.urls
        FROM posts p JOIN {members} m ON m.account_id = CAST(p.account_id AS VARCHAR)""")
    # the members' engagements, read from the engagements view once (four summaries below read them)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ck_e AS SELECT m.cluster_id,
            CAST(g.actor_id AS VARCHAR) AS account_id, CAST(g.engagement_id AS VARCHAR) AS post_id, g.latency_s,
            CAST(g.subject_account_id AS VARCHAR) AS src, CAST(g.subject_post_id AS VARCHAR) AS subject_post_id
        FROM ({engagements_by(members)}) g JOIN {members} m ON m.account_id = CAST(g.actor_id AS VARCHAR)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _ck_t AS SELECT DISTINCT CAST(account_id AS VARCHAR) AS account_id,
            lower(handle) AS handle FROM targets""")
    # posts that amplify a target: an engagement with a target's post, a mention of a target, a target's link
    amp = _rows(con, """WITH tu AS (SELECT DISTINCT echo_norm_url(u) AS u FROM
                (SELECT unnest(urls) AS u FROM posts
                 WHERE CAST(account_id AS VARCHAR) IN (SELECT account_id FROM _ck_t))
                WHERE u IS NOT NULL AND u <> ''),
            a AS (SELECT post_id FROM _ck_e WHERE src IN (SELECT account_id FROM _ck_t)
                  UNION SELECT post_id FROM (SELECT post_id, lower(ltrim(unnest(mentions), '@')) AS h FROM _ck_p)
                        WHERE h IN (SELECT handle FROM _ck_t) OR h IN (SELECT account_id FROM _ck_t)
                  UNION SELECT post_id FROM (SELECT post_id, unnest(urls) AS u FROM _ck_p)
                        WHERE u IS NOT NULL AND echo_norm_url(u) IN (SELECT u FROM tu))
        SELECT p.cluster_id, count(*) AS n, count(a.post_id) AS k, avg((p.kind = 'repost')::INT) AS reposts
        FROM _ck_p p LEFT JOIN (SELECT DISTINCT post_id FROM a) a USING (post_id) GROUP BY 1""")
    # round-the-clock: per member, the share of its posts in its quietest six consecutive hours (UTC)
    # (each hour's posts counted in the six windows that contain it: an aggregation, no join on the hour; an
    # account with posts in every window has 24 of them, otherwise its quietest window has none)
    clock = _rows(con, f"""WITH h AS (SELECT cluster_id, account_id, hour(created_at) AS hr, count(*) AS n
                FROM _ck_p WHERE created_at IS NOT NULL GROUP BY ALL),
            t AS (SELECT cluster_id, account_id, sum(n) AS tot FROM h GROUP BY ALL HAVING sum(n) >= {MIN_POSTS}),
            w AS (SELECT h.cluster_id, h.account_id, (h.hr - k.k + 24) % 24 AS s, sum(h.n) AS n
                  FROM h CROSS JOIN range(6) k(k) GROUP BY ALL)
        SELECT cluster_id, median(q) FROM (
            SELECT t.cluster_id, t.account_id,
                   CASE WHEN count(*) < 24 THEN 0.0 ELSE min(w.n) / any_value(t.tot) END AS q
            FROM t JOIN w ON w.account_id = t.account_id AND w.cluster_id = t.cluster_id GROUP BY ALL)
        GROUP BY 1""")
    # delays after the post and where the engagements go
    lat = _rows(con, f"""WITH e AS (SELECT cluster_id, account_id, latency_s, src FROM _ck_e),
            l AS (SELECT cluster_id, account_id, median(latency_s) AS med,
                         quantile_cont(log10(1 + latency_s), 0.75) - quantile_cont(log10(1 + latency_s), 0.25) AS iqr
                  FROM e WHERE latency_s >= 0 GROUP BY ALL HAVING count(*) >= {MIN_POSTS}),
            s AS (SELECT cluster_id, account_id, src, count(*) AS n FROM e GROUP BY ALL),
            top AS (SELECT cluster_id, account_id, sum(n) FILTER (WHERE rk <= 3) / sum(n) AS top3, sum(n) AS tot
                    FROM (SELECT *, row_number() OVER (PARTITION BY cluster_id, account_id ORDER BY n DESC, src) AS rk
                          FROM s) GROUP BY ALL HAVING sum(n) >= {MIN_POSTS})
        SELECT c.cluster_id, (SELECT median(med) FROM l WHERE l.cluster_id = c.cluster_id),
               (SELECT median(iqr) FROM l WHERE l.cluster_id = c.cluster_id),
               (SELECT median(top3) FROM top WHERE top.cluster_id = c.cluster_id)
        FROM (SELECT DISTINCT cluster_id FROM {members}) c""")
    # the one non-target account most engaged by the members, and its share of their engagements
    src = _rows(con, """WITH n AS (SELECT cluster_id, src, count(*) AS n FROM _ck_e GROUP BY cluster_id, src),
            t AS (SELECT cluster_id, sum(n) AS tot FROM n GROUP BY cluster_id),
            b AS (SELECT * FROM n WHERE src NOT IN (SELECT account_id FROM _ck_t)
                  QUALIFY row_number() OVER (PARTITION BY cluster_id ORDER BY n DESC, src) = 1)
        SELECT b.cluster_id, coalesce('@' || (SELECT any_value(a.handle) FROM accounts a
                                             WHERE CAST(a.account_id AS VARCHAR) = b.src), b.src),
               b.n::DOUBLE / t.tot FROM b JOIN t USING (cluster_id)""")
    # the posts the members engaged with that carry a link (news accounts post their articles' links)
    links = _rows(con, """WITH e AS (SELECT DISTINCT cluster_id, subject_post_id AS post_id FROM _ck_e
                WHERE subject_post_id IS NOT NULL)
        SELECT e.cluster_id, avg((coalesce(len(p.urls), 0) > 0)::INT) FROM e
        JOIN (SELECT CAST(post_id AS VARCHAR) AS post_id, any_value(urls) AS urls FROM posts
              WHERE post_id IN (SELECT post_id FROM e) GROUP BY 1) p USING (post_id)
        GROUP BY 1""")
    content = ", ".join(f"'{b}'" for b in CONTENT_BEHAVIOURS)
    ev = _rows(con, f"""SELECT ma.cluster_id, avg((e.behaviour IN ({content}))::INT) FROM {evidence} e
        JOIN {members} ma ON ma.account_id = e.account_a JOIN {members} mb ON mb.account_id = e.account_b
        WHERE ma.cluster_id = mb.cluster_id GROUP BY 1""")
    for t in ("_ck_p", "_ck_t", "_ck_e"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    out: dict[int, dict[str, Any]] = {}
    for cid in {int(r[0]) for r in con.execute(f"SELECT DISTINCT cluster_id FROM {members}").fetchall()}:
        n, k, reposts = amp.get(cid, (0, 0, None))
        med, spread, top3 = lat.get(cid, (None, None, None))
        name, share = src.get(cid, (None, None))
        row: dict[str, Any] = {
            "actions": int(n or 0), "target_share": (float(k) / n) if n else None,
            "repost_share": float(reposts) if reposts is not None else None,
            "round_the_clock": _f(clock.get(cid, (None,))[0]), "median_latency_s": _f(med),
            "latency_spread": _f(spread), "top_sources_share": _f(top3), "top_source": name,
            "top_source_share": _f(share), "content_share": _f(ev.get(cid, (None,))[0]),
            "source_link_share": _f(links.get(cid, (None,))[0])}
        signs = [s for s, ok in (("round-the-clock activity", (row["round_the_clock"] or 0) >= ROUND_THE_CLOCK),
                                 ("near-constant delay after the post",
                                  row["latency_spread"] is not None and row["latency_spread"] <= CONSTANT_LATENCY),
                                 ("engages a few accounts only", (row["top_sources_share"] or 0) >= FEW_SOURCES))
                 if ok]
        row["automation"] = ", ".join(signs) or None
        rule = next(r for r in KIND_RULES if r.test(row))
        row.update(kind=rule.kind, label=rule.label, amplifies_targets=rule.kind == "targets")
        out[cid] = row
    return out


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def word_cluster(row: Mapping[str, Any]) -> str:
    """A stored ``coord_clusters`` row in words: its label, what its evidence shows, and the caveat.

    Examples
    --------
    >>> text = word_cluster({"label": "fan community", "size": 40, "target_share": 0.02, "top_source": "@star",
    ...                      "top_source_share": 0.55, "automation": None})
    >>> text.split(". ")[0]
    'fan community: 40 accounts; 2% of their actions amplify the targets; 55% of their engagements go to @star'
    """
    label = row.get("label") or "coordinated cluster"
    parts = [f"{row['size']:,} accounts" if row.get("size") is not None else None]
    if row.get("target_share") is not None:
        parts.append(f"{row['target_share']:.0%} of their actions amplify the targets")
    if row.get("top_source") and row.get("top_source_share") is not None and row.get("kind") != "targets":
        parts.append(f"{row['top_source_share']:.0%} of their engagements go to {row['top_source']}")
    if row.get("automation"):
        parts.append(f"automation signs: {row['automation']}")
    body = "; ".join(p for p in parts if p)
    return f"{label}: {body}. Coordination is not proof of inauthenticity."


__all__ = ["CONTENT_BEHAVIOURS", "KIND_RULES", "KIND_SCHEMA", "NEWS_LINK_SHARE", "KindRule", "characterise",
           "word_cluster"]

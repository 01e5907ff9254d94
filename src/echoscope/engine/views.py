"""The study's tables and derived views as DuckDB sees them: one view per canonical table over its Parquet
parts, the ``engagements`` and ``targets`` views, and one view per result table.

The two derived views are written once in SQL that both DuckDB and Spark SQL accept (Spark's backend
transpiles them with sqlglot), so both engines see the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import schema as S
from ..store.parts import parquet_select

if TYPE_CHECKING:
    from ..store.study import StudyStore

#: the engagements view, written once in SQL that both DuckDB and Spark SQL accept (``{posts}`` and ``{likes}``:
#: the engagements' own rows, :func:`engagements_by`)
_ENGAGEMENTS = """
SELECT p.platform,
       p.post_id AS engagement_id,
       p.account_id AS actor_id,
       p.kind,
       p.ref_post_id AS subject_post_id,
       COALESCE(p.ref_account_id, s.account_id) AS subject_account_id,
       p.created_at,
       CAST(EXTRACT(EPOCH FROM p.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE) AS latency_s
FROM {posts} p
LEFT JOIN posts s ON s.platform = p.platform AND s.post_id = p.ref_post_id
WHERE p.kind IN ('repost', 'reply', 'quote')
UNION ALL
SELECT l.platform,
       l.account_id || ':' || l.post_id AS engagement_id,
       l.account_id AS actor_id,
       'like' AS kind,
       l.post_id AS subject_post_id,
       s.account_id AS subject_account_id,
       l.created_at,
       CAST(EXTRACT(EPOCH FROM l.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE) AS latency_s
FROM {likes} l
LEFT JOIN posts s ON s.platform = l.platform AND s.post_id = l.post_id
"""
ENGAGEMENTS_SQL = _ENGAGEMENTS.format(posts="posts", likes="likes")


def engagements_by(actors: str) -> str:
    """The ``engagements`` view's rows whose actor is in ``actors`` (a table with a VARCHAR ``account_id``).

    The same SQL as the view, with the actors' own posts and likes selected before the join with the subject
    posts: over the view, DuckDB joins every engagement with its subject first (a hash table of every post:
    2.7 GiB of DuckDB's memory for the 16k members of a coordination run at 10M engagements) and keeps the
    actors' rows after.
    """
    pick = f"SEMI JOIN {actors} a_ ON a_.account_id = CAST(x_.account_id AS VARCHAR)"
    return _ENGAGEMENTS.format(posts=f"(SELECT x_.* FROM posts x_ {pick})",
                               likes=f"(SELECT x_.* FROM likes x_ {pick})")


#: targets with handles resolved against the accounts table (case-insensitive), ids given their handle and
#: label, and one row per account however often it was named (by handle, by id, or both); targets whose
#: handle matches no account stay, one row per handle, with a null account id
TARGETS_SQL = """
WITH acc AS (
    SELECT account_id, handle, affiliation_label,
           row_number() OVER (PARTITION BY lower(handle) ORDER BY observed_at DESC NULLS LAST) AS rn_h,
           row_number() OVER (PARTITION BY account_id ORDER BY observed_at DESC NULLS LAST) AS rn_i
    FROM accounts WHERE handle IS NOT NULL
      -- only the accounts the targets name: ranking every account cost 10 s at 1M accounts
      AND (account_id IN (SELECT account_id FROM targets_raw)
           OR lower(handle) IN (SELECT lower(handle) FROM targets_raw WHERE handle IS NOT NULL))),
r AS (
    SELECT COALESCE(t.account_id, h.account_id) AS account_id,
           COALESCE(t.handle, i.handle, h.handle) AS handle,
           t."group" AS "group",
           COALESCE(t.label, i.affiliation_label, h.affiliation_label) AS label
    FROM targets_raw t
    LEFT JOIN acc h ON t.account_id IS NULL AND lower(t.handle) = lower(h.handle) AND h.rn_h = 1
    LEFT JOIN acc i ON t.account_id IS NOT NULL AND i.account_id = t.account_id AND i.rn_i = 1)
SELECT account_id, min(handle) AS handle, min("group") AS "group", min(label) AS label
FROM r WHERE account_id IS NOT NULL GROUP BY account_id
UNION ALL
SELECT CAST(NULL AS VARCHAR) AS account_id, min(handle) AS handle, min("group") AS "group", min(label) AS label
FROM r WHERE account_id IS NULL GROUP BY lower(handle)
"""


def register_views(raw: Any, study: StudyStore, runs: dict[str, str] | None = None) -> None:
    """Create (or replace) the study's views on a raw DuckDB connection.

    ``runs`` maps an analysis (``coordination``, ``accounts``) to a stored run id whose tables replace the
    latest ones in the views (``--run ID``).
    """
    m = study.manifest()
    for name, schema in S.ALL_TABLES.items():
        parts = [str(study.path / p) for p in m.table_parts(name)]
        view = "targets_raw" if name == "targets" else name
        raw.execute(f'CREATE OR REPLACE VIEW "{view}" AS {parquet_select(parts, schema)}')
    raw.execute(f"CREATE OR REPLACE VIEW targets AS {TARGETS_SQL}")
    raw.execute(f"CREATE OR REPLACE VIEW engagements AS {ENGAGEMENTS_SQL}")
    results = {n: m.result_parts(n) for n in m.result_names()}
    for run_id in (runs or {}).values():
        run = m.run(run_id)
        if run is None:
            continue
        for name, entry in run.get("tables", {}).items():
            results[name] = list(entry.get("parts", []))
    for name, rel in results.items():
        parts = [str(study.path / p) for p in rel]
        if parts:
            raw.execute(f'CREATE OR REPLACE VIEW "{name}" AS {parquet_select(parts, None)}')


__all__ = ["ENGAGEMENTS_SQL", "TARGETS_SQL", "engagements_by", "register_views"]

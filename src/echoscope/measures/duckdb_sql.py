"""SQL texts and exact helpers of the DuckDB plan (:mod:`.duckdb_plan`): the slim read of the targets'
engagements, its latency fallback, the quantiles from value counts, and the small SQL builders both the plan and
its table assembly (:mod:`.duckdb_tables`) use.

Why apart from the plan: these are the pieces whose exactness the tests check one by one
(tests/test_measures_exact.py, tests/test_measures_plan.py); the plan only orders them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

from .definitions import KIND_COLUMNS, LATENCY_EDGES, SUSPENDED_STATUSES, FlagRule, Params

#: the six scope types: name, scope label, key columns of the engagement table (ti target, gi group, wk week)
SCOPE_TYPES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("tw", "target", ("ti", "gi", "wk")),
    ("ta", "target", ("ti", "gi")),
    ("gw", "group", ("gi", "wk")),
    ("ga", "group", ("gi",)),
    ("sw", "study", ("wk",)),
    ("sa", "study", ()),
)

#: status classes stored per engagement row (latest status of its amplifier): code -> statuses; code 5 is
#: unchecked (never checked, or last seen ``unknown``), 0 any other status
STATUS_CODES: dict[int, tuple[str, ...]] = {1: ("suspended",), 2: ("deleted",), 3: ("active",), 4: ("protected",)}

#: SQL list of the status-class codes that make an amplifier "later suspended" (SUSPENDED_STATUSES)
SUSPENDED_CODES = ", ".join(str(k) for k, v in STATUS_CODES.items() if set(v) <= set(SUSPENDED_STATUSES))

EPOCH_SQL = "TIMESTAMPTZ '1970-01-01 00:00:00+00'"


def lit(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def ts_sql(d: dt.date) -> str:
    return f"TIMESTAMPTZ '{d.isoformat()} 00:00:00+00'"


def period_sql(col: str, p: Params) -> str:
    conds = []
    if p.since is not None:
        conds.append(f"{col} >= {ts_sql(p.since)}")
    if p.until is not None:
        conds.append(f"{col} < {ts_sql(p.until + dt.timedelta(days=1))}")
    return " AND ".join(conds) or "TRUE"


def week_sql(col: str) -> str:
    """Day number (since 1970-01-01) of the ISO Monday of ``col``: integer arithmetic on the epoch instead of
    ``date_trunc('week', TIMESTAMPTZ)``, which goes through ICU calendars and cost ~0.7 s per million rows."""
    day = f"floor(epoch_us({col}) / 86400000000.0)"
    return f"CAST(floor(({day} + 3) / 7) * 7 - 3 AS INTEGER)"


def read_sql(p: Params, rl: float, *, ids: bool = False, only: str | None = None) -> str:
    """SELECT of the targets' engagements in the period as slim rows: the ``engagements`` view
    (``ENGAGEMENTS_SQL`` in :mod:`echoscope.engine`) restricted to subjects in ``_am_tg``, with the same rows
    (multiplicities included) and values for those subjects, but far cheaper.

    * The view's ``LEFT JOIN posts s`` (the subject post) is made against the targets' posts only
      (``_am_tp``, built once; a few hundred thousand rows instead of every post). Posts are unique by
      (platform, post_id) (``schema.KEYS``, enforced at load), so an engagement matching a target's post
      matches no other post.
    * Likes: the subject is the liked post's author, so only likes of the targets' posts are kept (inner join).
    * Reposts, quotes, replies: the subject ``COALESCE(p.ref_account_id, s.account_id)`` can only be a target when
      ``ref_account_id`` is null or a target (one join with the targets gives both the filter and the target
      key). Without a match among the targets' posts, a row is kept only when ``ref_account_id`` names a target;
      its subject post, if any, is some other account's post (inconsistent data) or absent (a dangling
      reference), so its latency is looked up afterwards in all posts (column ``fb``, :func:`fix_latency`).

    Columns: integer target / group / week keys, amplifier key ``ai`` (``_am_ad``: actor ids numbered in
    their sort order), kind code, latency, rapid flag, time, the subject post's number in ``_am_tp`` (``pn``,
    rapid rows only), the reference's platform and post id (``fb`` rows only), the amplifier's status class,
    check time and flags. ``ids`` adds ``eid`` (the engagement id) on every row;
    ``only`` names a table of (actor_id, created_at) pairs the read is restricted to.
    """
    lat = "CAST(EXTRACT(EPOCH FROM {a}.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE)"
    semi = (lambda a: f"SEMI JOIN {only} o ON o.actor_id = {a}.account_id AND o.created_at = {a}.created_at"
            ) if only else (lambda a: "")
    eid_p, eid_l = (", p.post_id AS eid", ", l.account_id || ':' || l.post_id AS eid") if ids else ("", "")
    kind_case = " ".join(f"WHEN {lit(k)} THEN {i}" for i, k in enumerate(KIND_COLUMNS, start=1))
    rapid = f"coalesce(e.latency_s >= 0 AND e.latency_s <= {rl!r} AND e.created_at IS NOT NULL, false)"
    return f"""
        SELECT e.ti, e.gi, {week_sql('e.created_at')} AS wk, e.ai,
               CAST(CASE e.kind {kind_case} ELSE 0 END AS TINYINT) AS k,
               CASE WHEN e.latency_s >= 0 THEN e.latency_s END AS lat,
               {rapid} AS rapid, e.created_at,
               CASE WHEN {rapid} THEN e.pn END AS pn, CASE WHEN e.fb THEN e.spid END AS spid,
               e.fb, CASE WHEN e.fb THEN e.platform END AS plat,
               CAST(coalesce(e.sc, 5) AS TINYINT) AS sc, e.checked_at,
               coalesce(e.coord, false) AS coord, coalesce(e.risk, false) AS risk{', e.eid' if ids else ''}
        FROM (
          SELECT coalesce(p.rti, s.ti) AS ti, CASE WHEN p.rti IS NOT NULL THEN p.rgi ELSE s.gi END AS gi,
                 p.ai, p.sc, p.checked_at, p.coord, p.risk,
                 p.kind, p.ref_post_id AS spid, p.created_at, {lat.format(a='p')} AS latency_s,
                 s.ti IS NULL AS fb, p.platform, s.pn{eid_p}
          FROM (SELECT p.platform, p.post_id, d.ai, d.sc, d.checked_at, d.coord, d.risk, p.kind, p.ref_post_id,
                       p.created_at, tg.ti AS rti, tg.gi AS rgi
                FROM posts p {semi('p')}
                LEFT JOIN _am_tg tg ON tg.account_id = p.ref_account_id
                LEFT JOIN _am_ad d ON d.actor_id = p.account_id
                WHERE p.kind IN ('repost', 'reply', 'quote') AND (p.ref_account_id IS NULL OR tg.ti IS NOT NULL)
                  AND {period_sql('p.created_at', p)}) p
          LEFT JOIN _am_tp s ON s.platform = p.platform AND s.post_id = p.ref_post_id
          WHERE s.ti IS NOT NULL OR p.rti IS NOT NULL
          UNION ALL
          SELECT s.ti, s.gi, d.ai, d.sc, d.checked_at, d.coord, d.risk,
                 'like' AS kind, l.post_id AS spid, l.created_at,
                 {lat.format(a='l')} AS latency_s, false AS fb, NULL AS platform, s.pn{eid_l}
          FROM likes l {semi('l')} JOIN _am_tp s ON s.platform = l.platform AND s.post_id = l.post_id
          LEFT JOIN _am_ad d ON d.actor_id = l.account_id
          WHERE {period_sql('l.created_at', p)}) e"""


@contextlib.contextmanager
def written_join_sides(sql: Any) -> Iterator[None]:
    """Build every hash join of a statement on its right (written) side.

    DuckDB's cardinality estimates for a filtered Parquet scan are low, so it would build the hash table of the
    read's subject-post join on the engagements (millions of rows with their strings) and probe it with the
    targets' posts; building on the targets' posts, as written, is the cheap side (at 3M engagements the join
    took 1.9 s the other way round).
    """
    old = sql("SELECT current_setting('disabled_optimizers')").fetchone()[0]
    new = ",".join(x for x in (old, "build_side_probe_side") if x)
    sql(f"SET disabled_optimizers = {lit(new)}")
    try:
        yield
    finally:
        sql(f"SET disabled_optimizers = {lit(old)}" if old else "RESET disabled_optimizers")


def fix_latency(sql: Any, table: str, rl: float, temp: Any) -> None:
    """Latency of the ``fb`` rows of ``table`` (see :func:`read_sql`) from all posts, the view's left join
    for references that are no target's post; a no-op (one count) when there are none."""
    if not sql(f"SELECT count(*) FROM {table} WHERE fb").fetchone()[0]:
        return
    temp("_am_fbx", f"""
        SELECT e.rowid AS rid, n.pn,
               CAST(EXTRACT(EPOCH FROM e.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE) AS latency_s
        FROM {table} e LEFT JOIN posts s ON s.platform = e.plat AND s.post_id = e.spid
        LEFT JOIN (SELECT DISTINCT post_id, pn FROM _am_tp) n ON n.post_id = e.spid
        WHERE e.fb""")
    rapid = f"coalesce(f.latency_s >= 0 AND f.latency_s <= {rl!r} AND t.created_at IS NOT NULL, false)"
    sql(f"""
        UPDATE {table} t SET lat = CASE WHEN f.latency_s >= 0 THEN f.latency_s END, rapid = {rapid},
               pn = CASE WHEN {rapid} THEN f.pn END, spid = CASE WHEN {rapid} AND f.pn IS NULL THEN t.spid END,
               fb = false, plat = NULL
        FROM _am_fbx f WHERE t.rowid = f.rid""")


def quantiles_from_counts(lv: Any, qs: tuple[float, ...], names: list[str]) -> Any:
    """``quantile_cont`` of every scope from its counts of distinct values, exactly as DuckDB computes it.

    ``lv`` (Arrow) holds one row per (scope key sk/gi/wk, value lat) with count ``c``, sorted by key then value.
    For N values, DuckDB's ``quantile_cont`` takes RN = (N - 1) * q, the order statistics lo, hi at floor(RN)
    and ceil(RN) (0-based) and returns lo * (1 - d) + hi * d with d = RN - floor(RN) (lo when RN is whole; this
    form, not lo + (hi - lo) * d, is the one that matches DuckDB to the last bit); the i-th order
    statistic is the first value whose cumulative count exceeds i. The same float64 operations in numpy give
    bit-identical results. Vectorised over the few-million-row table of distinct values (not engagement rows),
    one cumulative sum and one binary search per quantile.
    """
    import numpy as np
    import pyarrow as pa

    c = lv.column("c").to_numpy()
    lat = lv.column("lat").to_numpy()
    keys = [lv.column(k) for k in ("sk", "gi", "wk")]
    if len(c) == 0:
        return pa.table({"sk": pa.array([], pa.int8()), "gi": pa.array([], pa.int32()),
                         "wk": pa.array([], pa.int32()), **{n: pa.array([], pa.float64()) for n in names}})
    # partition starts: rows where any key differs from the previous row (nulls compared as values)
    start = np.zeros(len(c), dtype=bool)
    start[0] = True
    for k in keys:
        v = k.fill_null(-2**31 if k.type != pa.int8() else -128).to_numpy()
        start[1:] |= v[1:] != v[:-1]
    first = np.flatnonzero(start)
    cum = np.cumsum(c)
    before = np.concatenate(([0], cum[first[1:] - 1]))  # values of earlier partitions
    n = np.append(before[1:], cum[-1]) - before
    out = {name: k.take(pa.array(first)) for name, k in zip(("sk", "gi", "wk"), keys)}
    for q, name in zip(qs, names):
        rn = (n - 1).astype(np.float64) * float(q)
        lo_i, hi_i = np.floor(rn), np.ceil(rn)
        d = rn - lo_i
        lo = lat[np.searchsorted(cum, before + lo_i.astype(np.int64), side="right")]
        hi = lat[np.searchsorted(cum, before + hi_i.astype(np.int64), side="right")]
        out[name] = pa.array(np.where(lo_i == hi_i, lo, lo * (1.0 - d) + hi * d), pa.float64())
    return pa.table(out)


def flag_sql(rule: FlagRule | None) -> str | None:
    """SELECT of the account ids a :class:`~echoscope.measures.definitions.FlagRule` marks (None: no table)."""
    if rule is None:
        return None
    where = "TRUE"
    if rule.column is not None:
        where = f'coalesce("{rule.column}", false)'
    elif rule.threshold is not None:
        where = f"score >= {float(rule.threshold)!r}"
    return f'SELECT DISTINCT account_id FROM "{rule.table}" WHERE {where}'


def latency_bins_sql(col: str) -> str:
    """SELECT of (ti, gi, bin b, engagements c) over the known latencies ``col`` of ``_am_e``: the bins of
    :func:`echoscope.measures.expressions.latency_bin` (closed on the right, bin 0 holds 0).

    DuckDB's ``histogram(x, boundaries)`` puts x in the first bucket whose boundary is >= x (and above the last
    boundary in an ``inf`` bucket): the same bins, three times faster than a CASE over the edges.
    """
    bounds = ", ".join(repr(float(e)) for e in LATENCY_EDGES[1:])
    return f"""
        SELECT ti, gi, CASE WHEN isinf(k) THEN {len(LATENCY_EDGES) - 1} ELSE list_position([{bounds}], k) - 1 END AS b,
               c
        FROM (SELECT ti, gi, unnest(map_keys(h)) AS k, unnest(map_values(h)) AS c
              FROM (SELECT ti, gi, histogram({col}, [{bounds}]) AS h FROM _am_e WHERE {col} IS NOT NULL
                    GROUP BY ti, gi))"""


#: drops grouping-set rows that are no scope: weekly rows of engagements without a time, group rows of targets
#: without a group
HAVING_RAW = ("HAVING NOT (GROUPING(wk) = 0 AND wk IS NULL) "
               "AND NOT (GROUPING(ti) = 1 AND GROUPING(gi) = 0 AND gi IS NULL)")
GROUPING_SETS = "GROUPING SETS ((ti, gi, wk), (ti, gi), (gi, wk), (gi), (wk), ())"
SCOPE_LABEL = "CASE WHEN GROUPING(ti) = 0 THEN 'target' WHEN GROUPING(gi) = 0 THEN 'group' ELSE 'study' END"


def top_m_sql(amp: str, k: float) -> str:
    """SQL of ``_top_m`` (:mod:`.expressions`): max(1, ceil(k * amplifiers)) with the same epsilon."""
    return f"greatest(CAST(ceil({amp} * {float(k)!r} - 1e-9) AS BIGINT), 1)"


def share_sql(num: str, den: str) -> str:
    """num / den as DOUBLE, null when den is 0 (the same ratio as ``_share`` of :mod:`.expressions`)."""
    return f"CASE WHEN {den} > 0 THEN CAST({num} AS DOUBLE) / CAST({den} AS DOUBLE) END"

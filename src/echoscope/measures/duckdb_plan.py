"""All measures on DuckDB as a hand-written SQL plan: the same tables as the Ibis expressions, much faster.

Why the module is shaped so: the Ibis expressions (:mod:`.expressions`) define every number once and run on
Spark, but on DuckDB their plan could not be made fast: it expands every (target, week, amplifier) row into six
scope keys and ranks amplifiers with a window over all of them, and on 10 million engagements that reduction is
barely smaller than the input (power-law activity: ~9.8M distinct (target, week, amplifier) rows), so the plan
spent minutes in spilling windows. :func:`run_duckdb` instead

* numbers every engaging account in ``actor_id`` order once (``_am_ad``, with its latest status class and
  flags), so everything after the read groups, sorts and joins integers, and ranks that break ties by
  ``actor_id`` break them by that number; strings come back only for the output rows;
* reads the targets' engagements once into a slim table with integer target / group / week / amplifier keys
  (weeks from epoch arithmetic: ``date_trunc('week', TIMESTAMPTZ)`` goes through ICU and cost more than the
  join), a kind code, the latency, the status class and, on rapid rows, the subject post's number; the read is
  the ``engagements`` view's definition applied to the targets only (:func:`~.duckdb_sql.read_sql`): the
  subject-post join is made against the targets' posts (built on that small side: DuckDB would build it on the
  engagements), with a small fallback for references outside them (:func:`~.duckdb_sql.fix_latency`);
* computes every sum that needs no amplifier level (kinds, latency bands, amplifier-class sums, status-check
  range, mean) per (target, week) and rolls those up to the six scopes with ``GROUPING SETS``; exact
  ``quantile_cont`` latency quantiles over the rows only for the target scopes, and for the group and study
  scopes (millions of values each) from counts of distinct latency values
  (:func:`~.duckdb_sql.quantiles_from_counts`, bit-identical); the latency histogram per (target, bin), rolled up
  the same way;
* runs the rapid-fire window only over amplifiers with at least ``rapid_min_posts`` rapid engagements, ordered
  by time alone, reading engagement ids (the tie-breaker) only for an amplifier's second holding both a rapid
  and a non-rapid engagement; this chain runs on a second cursor while the aggregations run on the first
  (its window is mostly single-threaded);
* per scope type, reduces to (scope key, amplifier) counts and streams them into a grouping-sets aggregate
  giving the number of amplifiers and the histogram of per-amplifier counts; top-k share, Gini and the Lorenz
  curve are exact functions of that small histogram (ties do not change them), and super-spreaders are ranked
  only among amplifiers at or above the m-th largest count read off it (:mod:`.duckdb_tables`).

DuckDB-specific pieces (GROUPING SETS with ``GROUPING()``, ``quantile_cont`` with a list, ``SEMI JOIN``, ``*
EXCLUDE``) are why this is SQL and not Ibis. Results are cast to the Ibis expressions' schemas, so both
engines return identically typed tables. The caller runs this inside ``engine.stage("measures")`` (the memory
limit of :data:`echoscope.settings.STAGE_MEMORY`).
"""

from __future__ import annotations

from typing import Any

from .definitions import KIND_COLUMNS, LATENCY_BANDS, LATENCY_QUANTILES, FlagRule, Params, latency_column
from .duckdb_sql import (
    EPOCH_SQL,
    GROUPING_SETS,
    HAVING_RAW,
    SCOPE_LABEL,
    SCOPE_TYPES,
    STATUS_CODES,
    SUSPENDED_CODES,
    fix_latency,
    flag_sql,
    latency_bins_sql,
    lit,
    period_sql,
    quantiles_from_counts,
    read_sql,
    top_m_sql,
    week_sql,
    written_join_sides,
)
from .duckdb_tables import assemble


class _Background:
    """``fn(*args)`` in a thread; :meth:`join` waits and re-raises its error (DuckDB releases the GIL)."""

    def __init__(self, fn: Any, *args: Any) -> None:
        import threading

        self.error: BaseException | None = None

        def run() -> None:
            try:
                fn(*args)
            except BaseException as e:
                self.error = e

        self.thread = threading.Thread(target=run, name="echoscope-measures-rapid", daemon=True)
        self.thread.start()

    def join(self, raise_error: bool = True) -> None:
        self.thread.join()
        if raise_error and self.error is not None:
            raise self.error


def run_duckdb(raw: Any, p: Params, schemas: dict[str, Any], rules: dict[str, FlagRule | None]) -> dict[str, Any]:
    """All measures on DuckDB with hand-written SQL (same definitions as :func:`.expressions.summary`); returns
    Arrow tables cast to the schemas of the Ibis expressions, so both paths give identically typed tables.

    ``raw`` is the DuckDB connection of an :class:`~echoscope.engine.Engine` (the study's views registered);
    ``rules`` say which accounts are coordinated and high risk (:func:`~.definitions.flag_rules`).

    Plan (see the module docstring for why): (1) an amplifier dictionary (actor id -> integer in actor id order,
    with status class and flags) and the targets' posts; (2) one pass over the targets' engagements writes a
    slim table (integer target / group / week / amplifier keys, kind code, latency, status class; subject post
    numbers only on rapid rows); (3) on a second cursor, the rapid-fire window over amplifiers with enough rapid
    engagements, ordered by time (engagement ids read only for mixed ties); meanwhile (4) the sums that need no
    amplifier level per (target, week), rolled up to the six scopes, the exact latency quantiles
    (``quantile_cont`` over the rows for target scopes, counts of distinct values for group and study scopes)
    and (5) per scope kind, a hash aggregation to (scope key, amplifier) counts streaming into a grouping-sets
    aggregate giving the number of amplifiers and the histogram of per-amplifier counts, from which top-k share,
    Gini, Lorenz points and super-spreader thresholds follow.

    Intermediate tables are plain tables of the connection's in-memory database (the second cursor cannot see
    TEMP tables), named ``_am_*`` and dropped at the end.
    """
    sql = raw.execute
    has_coord = (coord_sql := flag_sql(rules["coordinated"])) is not None
    has_risk = (risk_sql := flag_sql(rules["high_risk"])) is not None
    grp_filter = f'AND "group" = {lit(p.group)}' if p.group is not None else ""
    temps: list[str] = []

    def temp_on(execute: Any) -> Any:
        # plain tables of the connection's in-memory database (not TEMP: those would be invisible to the second
        # cursor the rapid-fire chain runs on); dropped at the end
        def temp(name: str, body: str) -> None:
            execute(f"CREATE OR REPLACE TABLE {name} AS {body}")
            temps.append(name)
        return temp

    temp = temp_on(sql)
    chain: _Background | None = None
    cur: Any = None

    try:
        temp("_am_tg", f"""
            SELECT account_id, handle, grp, label, CAST(row_number() OVER (ORDER BY account_id) AS INTEGER) AS ti,
                   CAST(CASE WHEN grp IS NOT NULL THEN dense_rank() OVER (ORDER BY grp) END AS INTEGER) AS gi
            FROM (SELECT account_id, max(handle) AS handle, min("group") AS grp, max(label) AS label
                  FROM targets WHERE account_id IS NOT NULL {grp_filter} GROUP BY account_id)""")
        status_case = " ".join(f"WHEN status IN ({', '.join(map(lit, v))}) THEN {k}"
                               for k, v in STATUS_CODES.items())
        temp("_am_st", f"""
            SELECT account_id, status, checked_at,
                   CAST(CASE {status_case} WHEN status IS NULL OR status = 'unknown' THEN 5 ELSE 0 END
                        AS TINYINT) AS sc
            FROM (SELECT account_id, status, checked_at,
                         row_number() OVER (PARTITION BY account_id
                                            ORDER BY coalesce(checked_at, {EPOCH_SQL}) DESC, status) AS rn
                  FROM account_status) WHERE rn = 1""")
        # the targets' posts (subject posts of the read) and the amplifier dictionary: every engaging account,
        # numbered in actor_id order (so ranks that break ties by actor_id can use the number), with its latest
        # status class and flags; the read joins it once, and everything after works on integer keys
        temp("_am_tp", """
            SELECT s.platform, s.post_id, s.created_at, tg.ti, tg.gi,
                   CAST(dense_rank() OVER (ORDER BY s.post_id) AS INTEGER) AS pn
            FROM posts s JOIN _am_tg tg ON s.account_id = tg.account_id""")
        coord_join = f"LEFT JOIN ({coord_sql}) c ON c.account_id = a.actor_id" if has_coord else ""
        risk_join = f"LEFT JOIN ({risk_sql}) r ON r.account_id = a.actor_id" if has_risk else ""
        temp("_am_ad", f"""
            SELECT a.actor_id, CAST(row_number() OVER (ORDER BY a.actor_id) AS INTEGER) AS ai,
                   CAST(coalesce(st.sc, 5) AS TINYINT) AS sc, st.checked_at,
                   {"c.account_id IS NOT NULL" if has_coord else "false"} AS coord,
                   {"r.account_id IS NOT NULL" if has_risk else "false"} AS risk
            FROM (SELECT account_id AS actor_id FROM posts WHERE kind IN ('repost', 'reply', 'quote')
                  UNION SELECT account_id FROM likes) a
            LEFT JOIN _am_st st ON st.account_id = a.actor_id {coord_join} {risk_join}""")
        rl = float(p.rapid_latency_s)
        # engagement ids (strings) are not kept: the rapid-fire order needs them only for ties, read again below
        with written_join_sides(sql):
            temp("_am_e", read_sql(p, rl))
        fix_latency(sql, "_am_e", rl, temp)

        # rapid-fire: only amplifiers with at least rapid_min_posts rapid engagements can have a sequence. The
        # chain runs on a second cursor in a thread while this one computes the sums and amplifier counts: its
        # window is mostly single-threaded, so the other core does the aggregations meanwhile
        mp = int(p.rapid_min_posts)

        def rapid_chain(sql: Any, temp: Any) -> None:
            temp("_am_cand", f"SELECT ai FROM _am_e WHERE rapid GROUP BY ai HAVING count(*) >= {mp}")
            # Runs are counted in (created_at, engagement_id) order. A run is a stretch of rapid rows between
            # non-rapid ones, so the order among rows of one amplifier and time matters only when such a group
            # holds both a rapid and a non-rapid row; the first window orders by time alone and flags those
            # groups (a rapid row next to a non-rapid one of the same time, flag ``mix``). Only then (rare) are
            # the flagged groups' rows read again with their engagement ids and the window is run again (the
            # read toggles the global optimizer setting of written_join_sides; the other cursor's plans may
            # change meanwhile, never its results).
            cand = "SELECT e.ai, e.ti, e.wk, e.pn, e.spid, e.created_at, e.lat, e.rapid, NULL::VARCHAR AS eid " \
                   "FROM _am_e e SEMI JOIN _am_cand c ON e.ai = c.ai"

            def rapid_rows(rows: str, order: str) -> None:
                same = "{f}(e.created_at) OVER w = e.created_at AND {f}(e.rapid) OVER w <> e.rapid"
                temp("_am_rr", f"""
                    SELECT ai, run, ti, wk, pn, spid, created_at, lat, mix FROM (
                      SELECT e.*, sum(CASE WHEN e.rapid THEN 0 ELSE 1 END) OVER (
                               w ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run,
                             coalesce({same.format(f='lag')} OR {same.format(f='lead')}, false) AS mix
                      FROM ({rows}) e
                      WINDOW w AS (PARTITION BY e.ai ORDER BY {order}))
                    WHERE rapid""")

            rapid_rows(cand, "e.created_at")
            temp("_am_mix", "SELECT DISTINCT ai, created_at FROM _am_rr WHERE mix")
            if sql("SELECT count(*) FROM _am_mix").fetchone()[0]:
                temp("_am_mixs", "SELECT d.actor_id, m.created_at FROM _am_mix m JOIN _am_ad d ON d.ai = m.ai")
                with written_join_sides(sql):
                    temp("_am_mr", read_sql(p, rl, ids=True, only="_am_mixs"))
                fix_latency(sql, "_am_mr", rl, temp)
                rapid_rows(f"""
                    SELECT e.* FROM ({cand}) e ANTI JOIN _am_mix m ON m.ai = e.ai AND m.created_at = e.created_at
                    UNION ALL
                    SELECT e.ai, e.ti, e.wk, e.pn, e.spid, e.created_at, e.lat, e.rapid, e.eid FROM _am_mr e""",
                           "e.created_at, e.eid")
            # distinct posts: numbered targets' posts (pn) plus, rarely, ids of other posts (spid, disjoint from
            # the numbered ones); the distinct counts run only over runs with at least rapid_min_posts rows
            posts = "count(DISTINCT pn)" + (" + count(DISTINCT spid)" if sql(
                "SELECT count(spid) FROM _am_rr").fetchone()[0] else "")
            temp("_am_run", f"SELECT ai, run FROM _am_rr GROUP BY ai, run HAVING count(*) >= {mp}")
            temp("_am_seq", f"""
                SELECT ai, run, {posts} AS posts, count(*) AS engagements,
                       count(DISTINCT ti) AS targets, min(created_at) AS start, max(created_at) AS "end",
                       max(lat) AS max_latency_s
                FROM _am_rr SEMI JOIN _am_run USING (ai, run) GROUP BY ai, run HAVING {posts} >= {mp}""")
            temp("_am_rc", """
                SELECT r.ti, any_value(tg.gi) AS gi, r.wk, r.ai, count(*) AS n_rapid
                FROM _am_rr r SEMI JOIN _am_seq s ON r.ai = s.ai AND r.run = s.run
                JOIN _am_tg tg ON tg.ti = r.ti
                GROUP BY r.ti, r.wk, r.ai""")

            temp("_am_rsum", f"""
                SELECT {SCOPE_LABEL} AS scope, ti, gi, wk, sum(n_rapid)::BIGINT AS s_n_rapid,
                       count(DISTINCT ai) AS rapid_fire_amplifiers
                FROM _am_rc GROUP BY {GROUPING_SETS} {HAVING_RAW}""")

        cur = raw.cursor()
        chain = _Background(rapid_chain, cur.execute, temp_on(cur.execute))

        # scope sums that need no amplifier level (counts by kind and latency band, status-class sums, status
        # check range, latency mean): first per (target, week), then rolled up to the six scopes from those few
        # thousand rows (a grouping-sets pass over the rows cost three times as much); the latency mean is the
        # rolled-up sum over the count
        repost = list(KIND_COLUMNS).index("repost") + 1  # kind code of reposts (read_sql)
        sums = {"s_n": "count(*)", **{f"s_n_{c}": f"sum(CASE WHEN k = {i} THEN 1 ELSE 0 END)"
                                      for i, c in enumerate(KIND_COLUMNS.values(), start=1)},
                "s_n_lat": "count(lat)", **{f"s_n_{b}": f"sum(CASE WHEN lat <= {sec} THEN 1 ELSE 0 END)"
                                            for b, sec in LATENCY_BANDS.items()},
                "e_suspended": f"sum(CASE WHEN sc IN ({SUSPENDED_CODES}) THEN 1 ELSE 0 END)",
                "e_susp_reposts": f"sum(CASE WHEN sc IN ({SUSPENDED_CODES}) AND k = {repost} THEN 1 ELSE 0 END)",
                "e_flagged": f"sum(CASE WHEN (coord OR risk) AND sc NOT IN ({SUSPENDED_CODES}) THEN 1 ELSE 0 END)",
                "e_deleted": "sum(CASE WHEN sc = 2 THEN 1 ELSE 0 END)",
                "e_unchecked": "sum(CASE WHEN sc = 5 THEN 1 ELSE 0 END)",
                "e_active": "sum(CASE WHEN sc = 3 THEN 1 ELSE 0 END)",
                "e_protected": "sum(CASE WHEN sc = 4 THEN 1 ELSE 0 END)",
                "e_coord": "sum(CASE WHEN coord THEN 1 ELSE 0 END)",
                "e_risk": "sum(CASE WHEN risk THEN 1 ELSE 0 END)"}
        temp("_am_sum1", f"""
            SELECT ti, gi, wk, {', '.join(f'{v}::BIGINT AS {k}' for k, v in sums.items())},
                   min(checked_at) AS status_checked_first, max(checked_at) AS status_checked_last,
                   sum(lat) AS s_lat
            FROM _am_e GROUP BY ti, gi, wk""")
        temp("_am_sum0", f"""
            SELECT {SCOPE_LABEL} AS scope, ti, gi, wk, {', '.join(f'sum({k})::BIGINT AS {k}' for k in sums)},
                   min(status_checked_first) AS status_checked_first,
                   max(status_checked_last) AS status_checked_last,
                   CAST(round(CASE WHEN sum(s_n_lat) > 0 THEN sum(s_lat) / sum(s_n_lat) END, 6) AS DOUBLE)
                     AS latency_mean
            FROM _am_sum1 GROUP BY {GROUPING_SETS} {HAVING_RAW}""")
        # the latency histogram (amplification_latency): known latencies per (target, bin), rolled up to the
        # target, group and study scopes (whole period only)
        temp("_am_lh", f"""
            SELECT {SCOPE_LABEL} AS scope, ti, gi, b, sum(c)::BIGINT AS c FROM ({latency_bins_sql('lat')})
            GROUP BY GROUPING SETS ((ti, gi, b), (gi, b), (b))
            HAVING NOT (GROUPING(ti) = 1 AND GROUPING(gi) = 0 AND gi IS NULL)""")
        # per scope type: (scope key, amplifier) counts -> amplifiers, status-class amplifier counts and the
        # histogram of per-amplifier counts, in one grouping-sets aggregate over the streamed reduction
        scope_parts, hist_parts = [], []
        for name, label, keys in SCOPE_TYPES:
            kl = list(keys)
            where = ["wk IS NOT NULL"] if "wk" in keys else []
            if label == "group":
                where.append("gi IS NOT NULL")
            w = " AND ".join(where) or "TRUE"
            ksel = ", ".join(kl + ["ai"])
            if name == "ta":
                # with the latency counts the super-spreader details need (per target and amplifier)
                temp("_am_pa_ta", f"SELECT {ksel}, count(*) AS n, min(sc) AS sc, count(lat) AS n_lat, "
                                  f"sum(CASE WHEN lat <= 60 THEN 1 ELSE 0 END)::BIGINT AS n_60s "
                                  f"FROM _am_e GROUP BY {ksel}")
                src = "_am_pa_ta"
            elif name == "ga":  # rolled up from the target level (null group kept for the study roll-up)
                temp("_am_pa_ga", "SELECT gi, ai, sum(n)::BIGINT AS n, min(sc) AS sc FROM _am_pa_ta GROUP BY gi, ai")
                src = "(SELECT * FROM _am_pa_ga WHERE gi IS NOT NULL)"
            elif name == "sa":
                temp("_am_pa_sa", "SELECT ai, sum(n)::BIGINT AS n, min(sc) AS sc FROM _am_pa_ga GROUP BY ai")
                src = "_am_pa_sa"
            else:
                src = f"(SELECT {ksel}, count(*) AS n, min(sc) AS sc FROM _am_e WHERE {w} GROUP BY {ksel})"
            kg = ", ".join(kl)
            gsets = f"GROUPING SETS (({kg}), ({kg + ', ' if kl else ''}n))"
            temp(f"_am_agg_{name}", f"""
                SELECT {kg + ',' if kl else ''} n AS hn, GROUPING(n) AS is_sum, count(*) AS c,
                       count(*) FILTER (WHERE sc IN ({SUSPENDED_CODES})) AS suspended_amplifiers,
                       count(*) FILTER (WHERE sc = 5) AS unchecked_amplifiers
                FROM {src} GROUP BY {gsets}""")
            cols = ", ".join(c if c in kl else f"CAST(NULL AS INTEGER) AS {c}" for c in ("ti", "gi", "wk"))
            scope_parts.append(f"SELECT '{label}' AS scope, {cols}, c, suspended_amplifiers, unchecked_amplifiers "
                               f"FROM _am_agg_{name} WHERE is_sum = 1")
            hist_parts.append(f"SELECT '{label}' AS scope, {cols}, hn AS n, c FROM _am_agg_{name} WHERE is_sum = 0")
        on = lambda a, b: " AND ".join(
            [f"{a}.scope = {b}.scope"] + [f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in ("ti", "gi", "wk")])
        chain.join()
        # (after the rapid-fire chain, so that its window and the quantiles' value lists do not overlap: with
        # both at once the 30M-engagement run peaked at 5.5 GiB)
        # exact latency quantiles (quantile_cont): per target scope from the rows; per group and study scope
        # from counts of distinct latency values, which determine the order statistics quantile_cont
        # interpolates between (far fewer values to sort than rows)
        qs = ", ".join(repr(float(q)) for q in LATENCY_QUANTILES)
        qnames = [latency_column(q) for q in LATENCY_QUANTILES]
        qcols = ", ".join(f"CAST(round(qs[{i + 1}], 6) AS DOUBLE) AS {c}" for i, c in enumerate(qnames))
        temp("_am_qt", f"""
            SELECT 'target' AS scope, ti, gi, wk, {qcols} FROM (
              SELECT ti, gi, wk, quantile_cont(lat, [{qs}]) AS qs FROM _am_e
              GROUP BY GROUPING SETS ((ti, gi, wk), (ti, gi)) HAVING NOT (GROUPING(wk) = 0 AND wk IS NULL))""")
        temp("_am_lv", "SELECT gi, wk, lat, count(*) AS c FROM _am_e WHERE lat IS NOT NULL GROUP BY gi, wk, lat")
        lv = raw.execute("""
            SELECT CAST(GROUPING(gi) AS TINYINT) AS sk, gi, wk, lat, sum(c)::BIGINT AS c FROM _am_lv
            GROUP BY GROUPING SETS ((gi, wk, lat), (gi, lat), (wk, lat), (lat))
            HAVING NOT (GROUPING(wk) = 0 AND wk IS NULL) AND NOT (GROUPING(gi) = 0 AND gi IS NULL)
            ORDER BY sk, gi NULLS LAST, wk NULLS LAST, lat""").to_arrow_table()
        raw.register("_am_qg_arrow", quantiles_from_counts(lv, LATENCY_QUANTILES, qnames))
        temp("_am_qg", f"""
            SELECT CASE WHEN sk = 0 THEN 'group' ELSE 'study' END AS scope, NULL::INTEGER AS ti, gi, wk,
                   {', '.join(f'CAST(round({c}, 6) AS DOUBLE) AS {c}' for c in qnames)}
            FROM _am_qg_arrow""")
        raw.unregister("_am_qg_arrow")
        temp("_am_sum", f"""
            SELECT u.*, {', '.join('q.' + c for c in qnames)}
            FROM _am_sum0 u LEFT JOIN (SELECT * FROM _am_qt UNION ALL SELECT * FROM _am_qg) q
              ON q.scope = u.scope AND q.ti IS NOT DISTINCT FROM u.ti AND q.gi IS NOT DISTINCT FROM u.gi
                 AND q.wk IS NOT DISTINCT FROM u.wk""")

        temp("_am_s", f"""
            SELECT a.*, u.* EXCLUDE (scope, ti, gi, wk),
                   coalesce(r.s_n_rapid, 0) AS s_n_rapid, coalesce(r.rapid_fire_amplifiers, 0) AS rapid_fire_amplifiers
            FROM ({' UNION ALL '.join(scope_parts)}) a
            JOIN _am_sum u ON {on('a', 'u')} LEFT JOIN _am_rsum r ON {on('a', 'r')}""")
        temp("_am_h", " UNION ALL ".join(hist_parts))

        # concentration from the histogram of per-amplifier counts (ties change none of these sums)
        def top_m(k: float) -> str:
            return top_m_sql("namp", k)

        temp("_am_hc", """
            SELECT h.*, s.c AS namp, s.s_n AS total,
                   sum(h.c) OVER (PARTITION BY h.scope, h.ti, h.gi, h.wk ORDER BY h.n DESC
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - h.c AS above,
                   sum(h.c) OVER (PARTITION BY h.scope, h.ti, h.gi, h.wk ORDER BY h.n
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - h.c AS below,
                   sum(h.c * h.n) OVER (PARTITION BY h.scope, h.ti, h.gi, h.wk ORDER BY h.n
                                  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - h.c * h.n AS below_sum
            FROM _am_h h JOIN _am_s s ON s.scope = h.scope AND s.ti IS NOT DISTINCT FROM h.ti
                 AND s.gi IS NOT DISTINCT FROM h.gi AND s.wk IS NOT DISTINCT FROM h.wk""")
        temp("_am_conc", f"""
            SELECT scope, ti, gi, wk,
                   sum(n * least(c, greatest({top_m(p.top)} - above, 0)))::BIGINT AS e_top,
                   sum(n * least(c, greatest({top_m(0.01)} - above, 0)))::BIGINT AS e_top1,
                   sum(n * (c * below + c * (c + 1) // 2))::BIGINT AS sum_ix
            FROM _am_hc GROUP BY scope, ti, gi, wk""")

        # posts made by the targets, all scopes in one pass
        temp("_am_po", f"""
            SELECT {SCOPE_LABEL} AS scope, ti, gi, wk, count(*) AS posts,
                   sum(CASE WHEN kind = 'original' THEN 1 ELSE 0 END)::BIGINT AS posts_original
            FROM (SELECT tg.ti, tg.gi, CASE WHEN po.created_at IS NOT NULL THEN {week_sql('po.created_at')} END AS wk,
                         po.kind
                  FROM posts po JOIN _am_tg tg ON po.account_id = tg.account_id
                  WHERE {period_sql('po.created_at', p)})
            GROUP BY GROUPING SETS ((ti, gi, wk), (ti, gi), (gi, wk), (gi), (wk), ()) {HAVING_RAW}""")
        temp("_am_lb", f"""
            SELECT {SCOPE_LABEL} AS scope, ti, gi, count(*) AS targets, count(label) AS labelled_targets
            FROM _am_tg GROUP BY GROUPING SETS ((ti, gi), (gi), ())
            HAVING NOT (GROUPING(ti) = 1 AND GROUPING(gi) = 0 AND gi IS NULL)""")
        return assemble(raw, p, schemas, has_coord, has_risk, temp)
    finally:
        if chain is not None:
            chain.join(raise_error=False)
            cur.close()
        for t in temps:
            sql(f"DROP TABLE IF EXISTS {t}")


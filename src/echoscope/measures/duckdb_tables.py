"""The result tables of the DuckDB plan, assembled from its reduced intermediate tables.

Why apart from :mod:`.duckdb_plan`: the plan reduces millions of engagements to small tables (sums per scope
key, the histogram of per-amplifier counts, rapid-fire sequences, latency bins); this module only turns those
into the five result tables with the Ibis expressions' column names and types, so the expensive part and the
presentation part can be read (and changed) apart.
"""

from __future__ import annotations

from typing import Any

from .definitions import KIND_COLUMNS, LATENCY_BANDS, LATENCY_EDGES, LATENCY_QUANTILES, Params, latency_column
from .duckdb_sql import SCOPE_LABEL, share_sql, top_m_sql


def assemble(raw: Any, p: Params, schemas: dict[str, Any], has_coord: bool, has_risk: bool,
             temp: Any) -> dict[str, Any]:
    """The five result tables from the reduced temp tables of :func:`~.duckdb_plan.run_duckdb` (Arrow, cast to
    ``schemas``, the Ibis expressions' schemas); ``temp(name, sql)`` creates one more temp table."""
    key = lambda a, b: " AND ".join(
        [f"{a}.scope = {b}.scope"] + [f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in ("ti", "gi", "wk")])
    temp("_am_keys", """
        SELECT scope, ti, gi, wk FROM _am_s UNION SELECT scope, ti, gi, wk FROM _am_po
        UNION SELECT 'target', ti, gi, NULL FROM _am_tg
        UNION SELECT 'group', NULL, gi, NULL FROM _am_tg WHERE gi IS NOT NULL
        UNION SELECT 'study', NULL, NULL, NULL""")
    temp("_am_groups", "SELECT DISTINCT gi, grp FROM _am_tg WHERE gi IS NOT NULL")
    z = lambda c: f"coalesce({c}, 0)"
    n, amp = z("s.s_n"), z("s.c")
    fa, fn = f"CAST({amp} AS DOUBLE)", f"CAST({n} AS DOUBLE)"
    quant = ", ".join(f"s.{latency_column(q)}" for q in LATENCY_QUANTILES)
    summary_sql = f"""
        SELECT k.scope, CASE WHEN k.scope = 'target' THEN tg.account_id END AS target,
               CASE WHEN k.scope = 'target' THEN tg.handle END AS handle, g.grp AS "group",
               DATE '1970-01-01' + k.wk AS week,
               {z('po.posts')} AS posts, {z('po.posts_original')} AS posts_original,
               {n} AS engagements, {', '.join(f"{z('s.s_n_' + c)} AS {c}" for c in KIND_COLUMNS.values())},
               {amp} AS amplifiers,
               {share_sql(z('s.e_suspended'), n)} AS share_suspended,
               {share_sql(z('s.e_susp_reposts'), z('s.s_n_reposts'))} AS share_suspended_reposts,
               {share_sql(z('s.e_deleted'), n)} AS share_deleted,
               {share_sql(z('s.e_active'), n)} AS share_active,
               {share_sql(z('s.e_protected'), n)} AS share_protected,
               {share_sql(z('s.e_unchecked'), n)} AS share_unchecked,
               {z('s.suspended_amplifiers')} AS suspended_amplifiers,
               {z('s.unchecked_amplifiers')} AS unchecked_amplifiers,
               {z('s.e_suspended')} AS engagements_suspended, {z('s.e_susp_reposts')} AS reposts_suspended,
               {z('s.e_flagged') if has_coord or has_risk else 'CAST(NULL AS BIGINT)'} AS engagements_flagged,
               {n} - {z('s.e_suspended')} - {z('s.e_flagged')} AS engagements_organic,
               s.status_checked_first, s.status_checked_last,
               CAST({float(p.top)!r} AS DOUBLE) AS top_k,
               {share_sql(z('c.e_top'), n)} AS top_share,
               {share_sql(z('c.e_top1'), n)} AS top1_share,
               CASE WHEN {amp} > 0 THEN {top_m_sql(amp, p.top)} ELSE 0 END AS top_amplifiers,
               {z('c.e_top')} AS top_engagements,
               CASE WHEN {n} > 0 THEN 2.0 * CAST({z('c.sum_ix')} AS DOUBLE) / ({fa} * {fn}) - ({fa} + 1.0) / {fa}
               END AS gini,
               {z('s.s_n_lat')} AS latency_known,
               {', '.join(f"{share_sql(z('s.s_n_' + b), z('s.s_n_lat'))} AS share_within_{b}" for b in LATENCY_BANDS)},
               {quant}, s.latency_mean,
               {z('s.s_n_rapid')} AS rapid_fire_engagements,
               {z('s.rapid_fire_amplifiers')} AS rapid_fire_amplifiers,
               {share_sql(z('s.s_n_rapid'), n)} AS share_rapid_fire,
               {share_sql(z('s.e_coord'), n) if has_coord else 'CAST(NULL AS DOUBLE)'} AS share_coordinated,
               {share_sql(z('s.e_risk'), n) if has_risk else 'CAST(NULL AS DOUBLE)'} AS share_high_risk,
               {z('lb.targets')} AS targets, {z('lb.labelled_targets')} AS labelled_targets,
               {share_sql(z('lb.labelled_targets'), z('lb.targets'))} AS label_coverage
        FROM _am_keys k
        LEFT JOIN _am_s s ON {key('k', 's')}
        LEFT JOIN _am_conc c ON {key('k', 'c')}
        LEFT JOIN _am_po po ON {key('k', 'po')}
        LEFT JOIN _am_lb lb ON lb.scope = k.scope AND lb.ti IS NOT DISTINCT FROM k.ti
                               AND lb.gi IS NOT DISTINCT FROM k.gi
        LEFT JOIN _am_tg tg ON tg.ti = k.ti
        LEFT JOIN _am_groups g ON g.gi = k.gi"""

    # super-spreaders: the m-th largest count of each whole-period scope is read off the histogram, then only
    # amplifiers at or above it are ranked
    temp("_am_thr", f"""
        SELECT scope, ti, gi, m, total, n AS vm FROM (
          SELECT *, {top_m_sql('namp', p.top)} AS m FROM _am_hc WHERE wk IS NULL)
        WHERE above < m AND above + c >= m""")
    parts = []
    for name, label, kl in (("ta", "target", ["ti", "gi"]), ("ga", "group", ["gi"]), ("sa", "study", [])):
        # a target's key is ti alone (its gi is null when the target has no group)
        cond = " AND ".join([f"t.scope = '{label}'"] + [f"t.{c} = a.{c}" for c in kl if c != "gi" or name == "ga"])
        sel = ", ".join(f"a.{c}" if c in kl else f"CAST(NULL AS INTEGER) AS {c}" for c in ("ti", "gi"))
        parts.append(f"""
            SELECT '{label}' AS scope, {sel}, a.ai, a.n, t.m, t.total,
                   row_number() OVER (PARTITION BY {', '.join('a.' + c for c in kl) or "'all'"}
                                      ORDER BY a.n DESC, a.ai) AS rank
            FROM {"(SELECT * FROM _am_pa_ga WHERE gi IS NOT NULL)" if name == "ga" else "_am_pa_" + name} a
            JOIN _am_thr t ON {cond} AND a.n >= t.vm""")
    temp("_am_ss0", f"SELECT * FROM ({' UNION ALL '.join(parts)}) WHERE rank <= m")
    # the chosen amplifiers' latency and rapid-fire counts, per (target, amplifier), then summed per scope
    temp("_am_ssd", """
        SELECT e.ti, e.gi, e.ai, e.n_lat, e.n_60s, 0::BIGINT AS n_rapid, d.coord, d.risk
        FROM _am_pa_ta e SEMI JOIN (SELECT DISTINCT ai FROM _am_ss0) c ON e.ai = c.ai
        JOIN _am_ad d ON d.ai = e.ai
        UNION ALL
        SELECT r.ti, r.gi, r.ai, 0, 0, r.n_rapid, NULL, NULL
        FROM _am_rc r SEMI JOIN (SELECT DISTINCT ai FROM _am_ss0) c ON r.ai = c.ai""")
    # the details summed per scope key and amplifier first (joining each chosen amplifier to all its
    # per-target rows cost seconds for amplifiers chosen in many target scopes)
    temp("_am_ssg", f"""
        SELECT {SCOPE_LABEL} AS scope, ti, gi, ai, sum(n_lat)::BIGINT AS n_lat, sum(n_60s)::BIGINT AS n_60s,
               sum(n_rapid)::BIGINT AS n_rapid, coalesce(bool_or(coord), false) AS coord,
               coalesce(bool_or(risk), false) AS risk
        FROM _am_ssd GROUP BY GROUPING SETS ((ti, gi, ai), (gi, ai), (ai))""")
    ss_sql = f"""
        SELECT x.scope, CASE WHEN x.scope = 'target' THEN tg.account_id END AS target, g.grp AS "group",
               CAST(x.rank AS BIGINT) AS rank, ad.actor_id, acc.actor_handle, x.n AS engagements,
               {share_sql('x.n', 'x.total')} AS share, st.status, st.checked_at,
               {'x.coord' if has_coord else 'CAST(NULL AS BOOLEAN)'} AS coordinated,
               {'x.risk' if has_risk else 'CAST(NULL AS BOOLEAN)'} AS high_risk,
               {share_sql('x.n_60s', 'x.n_lat')} AS share_within_60s, x.n_rapid AS rapid_fire_engagements
        FROM (SELECT x.scope, x.ti, x.gi, x.ai, x.n, x.total, x.rank, d.n_lat, d.n_60s, d.n_rapid, d.coord, d.risk
              FROM _am_ss0 x JOIN _am_ssg d ON d.scope = x.scope AND d.ai = x.ai
                   AND d.ti IS NOT DISTINCT FROM x.ti AND d.gi IS NOT DISTINCT FROM x.gi) x
        LEFT JOIN _am_ad ad ON ad.ai = x.ai
        LEFT JOIN _am_tg tg ON tg.ti = x.ti
        LEFT JOIN _am_groups g ON g.gi = x.gi
        LEFT JOIN _am_st st ON st.account_id = ad.actor_id
        LEFT JOIN (SELECT account_id, max(handle) AS actor_handle FROM accounts
                   SEMI JOIN (SELECT DISTINCT d.actor_id FROM _am_ss0 x JOIN _am_ad d ON d.ai = x.ai) c
                     ON account_id = c.actor_id
                   GROUP BY account_id) acc ON acc.account_id = ad.actor_id"""

    # Lorenz points: the last amplifier of every percentile of population, i = floor(b * N / points)
    pts = int(p.lorenz_points)
    lorenz_sql = f"""
        WITH sc AS (SELECT DISTINCT scope, ti, gi, namp, total FROM _am_hc WHERE wk IS NULL),
             pt AS (SELECT DISTINCT sc.scope, sc.ti, sc.gi, sc.namp, sc.total, (b.b * sc.namp) // {pts} AS i
                    FROM sc CROSS JOIN range(1, {pts + 1}) b(b))
        SELECT pt.scope, CASE WHEN pt.scope = 'target' THEN tg.account_id END AS target, g.grp AS "group",
               CAST(pt.i AS BIGINT) AS amplifiers_rank,
               CAST(pt.i AS DOUBLE) / CAST(pt.namp AS DOUBLE) AS population_share,
               {share_sql('h.below_sum + (pt.i - h.below) * h.n', 'pt.total')} AS engagement_share
        FROM pt JOIN _am_hc h ON h.wk IS NULL AND h.scope = pt.scope AND h.ti IS NOT DISTINCT FROM pt.ti
             AND h.gi IS NOT DISTINCT FROM pt.gi AND pt.i > h.below AND pt.i <= h.below + h.c
        LEFT JOIN _am_tg tg ON tg.ti = pt.ti
        LEFT JOIN _am_groups g ON g.gi = pt.gi
        WHERE pt.i >= 1"""
    # latency histogram: every bin of every whole-period scope key, zeros included
    bins = ", ".join(f"({i}, {float(v)!r}, {float(LATENCY_EDGES[i + 1]) if i + 1 < len(LATENCY_EDGES) else 'NULL'})"
                     for i, v in enumerate(LATENCY_EDGES))
    lat_sql = f"""
        SELECT k.scope, CASE WHEN k.scope = 'target' THEN tg.account_id END AS target,
               CASE WHEN k.scope = 'target' THEN tg.handle END AS handle, g.grp AS "group",
               CAST(b.b AS BIGINT) AS bin, CAST(b.lo AS DOUBLE) AS bin_start_s, CAST(b.hi AS DOUBLE) AS bin_end_s,
               CAST(coalesce(h.c, 0) AS BIGINT) AS engagements
        FROM (SELECT DISTINCT scope, ti, gi FROM _am_keys WHERE wk IS NULL) k
        CROSS JOIN (VALUES {bins}) b(b, lo, hi)
        LEFT JOIN _am_lh h ON h.scope = k.scope AND h.ti IS NOT DISTINCT FROM k.ti
                              AND h.gi IS NOT DISTINCT FROM k.gi AND h.b = b.b
        LEFT JOIN _am_tg tg ON tg.ti = k.ti
        LEFT JOIN _am_groups g ON g.gi = k.gi"""
    rf_sql = ("SELECT d.actor_id, s.start, s.\"end\", s.posts, s.engagements, s.targets, s.max_latency_s "
              "FROM _am_seq s LEFT JOIN _am_ad d ON d.ai = s.ai")
    out = {}
    for name, q in (("summary", summary_sql), ("superspreaders", ss_sql), ("lorenz", lorenz_sql),
                    ("rapidfire", rf_sql), ("latency", lat_sql)):
        t = raw.execute(q).to_arrow_table()
        schema = schemas[name]
        out[name] = t.select(schema.names).cast(schema)
    return out

"""The peers' own semantics, for conformance: the coordination-network-toolkit (``cnt``) and CooRTweet.

Why apart from echoscope's stages: these are exact re-implementations of the peers' definitions (no pruning
beyond theirs, no guard, no null model), written as plain joins and quadratic like the peers, on DuckDB only
(the Spark engine refuses them: they exist to be compared with the peers' outputs on one machine). They read
the same actions (:func:`.stages.load_actions`; under CooRTweet's semantics the behaviours' SQL gives its
objects, see :func:`.coactions.semantics_of`) and write the same edge and evidence schemas. CooRTweet's
multimodal analysis -- object types detected one by one, their share pairs pooled into one network, as its
vignette does -- is :func:`coortweet_pool`, run on the per-type results. docs/peers.md says how to compare.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .backends import DuckTables
from .params import EDGE_SCHEMA, EVIDENCE_SCHEMA, BehaviourResult, CoordParams, ProgressFn
from .stages import load_actions


def cnt_edges(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn) -> BehaviourResult:
    """coordination-network-toolkit semantics: directed rows, weight = count(distinct source message).

    A message is matched by every *other* message on the same object within +/- window (inclusive), so an
    account acting twice on one object inside the window gets a self-loop, as the toolkit's test expects.
    """
    stats: dict[str, Any] = {"behaviour": behaviour,
                             "actions": load_actions(DuckTables(con), behaviour, params, progress)}
    w = float(params.window)
    mw = int(params.min_weight)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_cp AS
        SELECT e1.account_id AS account_a, e2.account_id AS account_b, e1.object_id, e1.action_id AS action_a,
               e2.action_id AS action_b, e1.ts AS ts_a, e2.ts AS ts_b
        FROM _ca_raw e1 JOIN _ca_raw e2 ON e1.object_id = e2.object_id
             AND e2.ts BETWEEN e1.ts - {w!r} AND e1.ts + {w!r} AND e1.action_id <> e2.action_id
        WHERE e1.account_id IN (SELECT account_id FROM _ca_raw GROUP BY account_id HAVING count(*) >= {mw})""")
    stats["pairs_within_window"] = int(con.execute("SELECT count(*) FROM _ca_cp").fetchone()[0])
    e = con.execute(f"""SELECT '{behaviour}' AS behaviour, account_a, account_b, true AS directed,
            CAST(count(DISTINCT action_a) AS DOUBLE) AS weight, count(DISTINCT object_id) AS n_objects,
            count(*) AS n_pairs, CAST(NULL AS DOUBLE) AS weight_idf, min(abs(ts_b - ts_a)) AS min_gap_s,
            avg(abs(ts_b - ts_a)) AS mean_gap_s, min(least(ts_a, ts_b)) AS first_ts,
            max(greatest(ts_a, ts_b)) AS last_ts,
            CAST(NULL AS DOUBLE) AS null_mean, CAST(NULL AS DOUBLE) AS z, CAST(NULL AS DOUBLE) AS p_value,
            true AS significant
        FROM _ca_cp GROUP BY account_a, account_b HAVING count(DISTINCT action_a) >= {mw}
        ORDER BY account_a, account_b""").fetch_arrow_table().cast(EDGE_SCHEMA)
    lim = "" if params.evidence_per_edge is None else (
        "QUALIFY row_number() OVER (PARTITION BY p.account_a, p.account_b ORDER BY abs(p.ts_b - p.ts_a), p.action_a) "
        f"<= {int(params.evidence_per_edge)}")
    ev = con.execute(f"""SELECT '{behaviour}' AS behaviour, p.account_a, p.account_b, p.object_id, p.action_a,
            p.action_b, p.ts_a, p.ts_b, abs(p.ts_b - p.ts_a) AS gap_s FROM _ca_cp p
        SEMI JOIN (SELECT account_a, account_b FROM _ca_cp GROUP BY ALL HAVING count(DISTINCT action_a) >= {mw}) k
             ON k.account_a = p.account_a AND k.account_b = p.account_b
        {lim} ORDER BY 2, 3, 9""").fetch_arrow_table().cast(EVIDENCE_SCHEMA)
    stats["candidate_edges"] = stats["significant_edges"] = e.num_rows
    stats["self_loops"] = int(pc.sum(pc.equal(e["account_a"], e["account_b"])).as_py() or 0)
    stats["expected_false_edges"] = None
    return BehaviourResult(behaviour, e, ev, stats)


# ---------------------------------------------------------------------------------------------- CooRTweet
def _coortweet_actions(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn) -> int:
    """``_ca_raw`` of ``behaviour`` as CooRTweet's input for one object type: the behaviour's SQL asked for
    CooRTweet's objects (``semantics`` in its parameters: single hashtags, reposts included, objects as given),
    then one row per (object, account, content, time), as its vignette's ``unique()`` before ``detect_groups``."""
    peer = dataclasses.replace(params, extra={**params.extra, "semantics": "coortweet"})
    load_actions(DuckTables(con), behaviour, peer, progress)
    con.execute("""CREATE OR REPLACE TEMP TABLE _ca_raw AS SELECT account_id, object_id, action_id, ts FROM _ca_raw
        QUALIFY row_number() OVER (PARTITION BY object_id, account_id, action_id, ts ORDER BY rowid) = 1""")
    return int(con.execute("SELECT count(*) FROM _ca_raw").fetchone()[0])


def coortweet_edges(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn) -> BehaviourResult:
    """CooRTweet 2.1.3 semantics (detect_groups + generate_coordinated_network) for one object type.

    ``min_repeat`` is its ``min_participation`` (rows per account, before pairing and again on the accounts'
    paired shares), the window is inclusive, self and same-account pairs are removed, the edge weight is the
    number of share pairs, and an edge is judged coordinated when its weight is strictly above the R type-7
    quantile ``edge_weight_quantile`` of all edge weights. Several object types are pooled afterwards by
    :func:`coortweet_pool`, as CooRTweet's vignette does.
    """
    stats: dict[str, Any] = {"behaviour": behaviour,
                             "actions": _coortweet_actions(con, behaviour, params, progress)}
    w = float(params.window)
    mp = int(params.min_repeat)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_x AS SELECT *, row_number() OVER () AS rid FROM _ca_raw
        WHERE account_id IN (SELECT account_id FROM _ca_raw GROUP BY account_id HAVING count(*) >= {mp})""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_sp AS
        SELECT a.object_id, a.action_id AS content_id, b.action_id AS content_id_y, a.ts - b.ts AS time_delta,
               a.account_id, b.account_id AS account_id_y
        FROM _ca_x a JOIN _ca_x b ON a.object_id = b.object_id AND a.rid < b.rid AND abs(a.ts - b.ts) <= {w!r}
        WHERE a.object_id <> a.action_id AND a.object_id <> b.action_id AND a.action_id <> b.action_id
              AND a.account_id <> b.account_id""")
    if mp >= 1:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_filt AS SELECT action_id FROM _ca_x
            WHERE account_id IN (SELECT account_id FROM _ca_x WHERE action_id IN
                  (SELECT content_id FROM _ca_sp UNION SELECT content_id_y FROM _ca_sp)
                  GROUP BY account_id HAVING count(*) >= {mp})""")
        con.execute("""CREATE OR REPLACE TEMP TABLE _ca_sp AS SELECT * FROM _ca_sp
            WHERE content_id IN (SELECT action_id FROM _ca_filt) OR content_id_y IN (SELECT action_id FROM _ca_filt)""")
    # orientation as CooRTweet: content_id is the older share, time_delta its absolute value
    pairs = con.execute("""SELECT object_id,
            CASE WHEN time_delta > 0 THEN content_id_y ELSE content_id END AS content_id,
            CASE WHEN time_delta > 0 THEN content_id ELSE content_id_y END AS content_id_y,
            abs(time_delta) AS time_delta,
            CASE WHEN time_delta > 0 THEN account_id_y ELSE account_id END AS account_id,
            CASE WHEN time_delta > 0 THEN account_id ELSE account_id_y END AS account_id_y
        FROM _ca_sp ORDER BY object_id, content_id, content_id_y""").fetch_arrow_table()
    con.register("_ca_spo", pairs)
    e = con.execute(f"""SELECT '{behaviour}' AS behaviour, least(account_id, account_id_y) AS account_a,
            greatest(account_id, account_id_y) AS account_b, false AS directed, CAST(count(*) AS DOUBLE) AS weight,
            count(DISTINCT object_id) AS n_objects, count(*) AS n_pairs, CAST(NULL AS DOUBLE) AS weight_idf,
            min(time_delta) AS min_gap_s, avg(time_delta) AS mean_gap_s, CAST(NULL AS DOUBLE) AS first_ts,
            CAST(NULL AS DOUBLE) AS last_ts, CAST(NULL AS DOUBLE) AS null_mean, CAST(NULL AS DOUBLE) AS z,
            CAST(NULL AS DOUBLE) AS p_value, false AS significant
        FROM _ca_spo GROUP BY 2, 3 ORDER BY 2, 3""").fetch_arrow_table()
    e, q = _quantile_cut(e, params.edge_weight_quantile)  # numpy 'linear' == R type 7
    ev = con.execute(f"""SELECT '{behaviour}' AS behaviour, account_id AS account_a, account_id_y AS account_b,
            object_id, content_id AS action_a, content_id_y AS action_b, CAST(NULL AS DOUBLE) AS ts_a,
            CAST(NULL AS DOUBLE) AS ts_b, time_delta AS gap_s FROM _ca_spo""").fetch_arrow_table()
    con.unregister("_ca_spo")
    stats.update({"share_pairs": pairs.num_rows, "candidate_edges": e.num_rows, "weight_quantile": q,
                  "edge_weight_quantile": params.edge_weight_quantile,
                  "significant_edges": int(pc.sum(e["significant"]).as_py() or 0), "expected_false_edges": None})
    return BehaviourResult(behaviour, e.cast(EDGE_SCHEMA), ev.cast(EVIDENCE_SCHEMA), stats)


def _quantile_cut(e: pa.Table, quantile: float) -> tuple[pa.Table, float]:
    """``e`` with ``significant`` = weight strictly above the R type-7 (numpy ``linear``) ``quantile`` of the
    weights, and that quantile (NaN without edges)."""
    wts = np.asarray(e["weight"].to_numpy(zero_copy_only=False), dtype=float)
    q = float(np.quantile(wts, quantile)) if len(wts) else math.nan
    return e.set_column(e.schema.get_field_index("significant"), "significant", pa.array(wts > q)), q


#: the name of CooRTweet's pooled network of several object types (``coord_edges.behaviour``)
POOLED = "pooled"


def coortweet_pool(con: Any, per: list[BehaviourResult], params: CoordParams,
                   evidence: str) -> tuple[pa.Table, dict[str, Any]]:
    """CooRTweet's multimodal network: the share-level pairs of every object type in one network.

    As its vignette does (``detect_groups`` per object type, the results stacked with ``rbindlist``, one
    ``generate_coordinated_network``): each account pair's weight is its number of share pairs over all types,
    and the edge-weight threshold is the type-7 quantile ``edge_weight_quantile`` of the pooled weights -- not
    the per-type thresholds. ``per`` are the per-type results of :func:`coortweet_edges` (their evidence is the
    share-level pairs). Returns the pooled edges (``behaviour`` = :data:`POOLED`, undirected, ``account_a`` <
    ``account_b``; ``n_objects`` counts (type, object) pairs) and their statistics. ``evidence``: a DuckDB
    table expression of the run's evidence (:meth:`.spill.Spill.source`), where the per-type results' are.
    """
    kinds = ", ".join(f"'{r.behaviour}'" for r in per) or "NULL"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW _ca_pool_in AS SELECT behaviour, account_a, account_b, object_id, gap_s
        FROM {evidence} WHERE behaviour IN ({kinds})""")
    try:
        n_pairs = int(con.execute("SELECT count(*) FROM _ca_pool_in").fetchone()[0])
        e = con.execute(f"""SELECT '{POOLED}' AS behaviour, least(account_a, account_b) AS account_a,
                greatest(account_a, account_b) AS account_b, false AS directed, CAST(count(*) AS DOUBLE) AS weight,
                count(DISTINCT behaviour || chr(0) || object_id) AS n_objects, count(*) AS n_pairs,
                CAST(NULL AS DOUBLE) AS weight_idf, min(gap_s) AS min_gap_s, avg(gap_s) AS mean_gap_s,
                CAST(NULL AS DOUBLE) AS first_ts, CAST(NULL AS DOUBLE) AS last_ts, CAST(NULL AS DOUBLE) AS null_mean,
                CAST(NULL AS DOUBLE) AS z, CAST(NULL AS DOUBLE) AS p_value, false AS significant
            FROM _ca_pool_in GROUP BY 2, 3 ORDER BY 2, 3""").fetch_arrow_table()
    finally:
        con.execute("DROP VIEW IF EXISTS _ca_pool_in")
    e, q = _quantile_cut(e, params.edge_weight_quantile)
    stats = {"behaviours": [r.behaviour for r in per], "share_pairs": n_pairs, "candidate_edges": e.num_rows,
             "weight_quantile": q, "edge_weight_quantile": params.edge_weight_quantile,
             "significant_edges": int(pc.sum(e["significant"]).as_py() or 0), "expected_false_edges": None}
    return e.cast(EDGE_SCHEMA), stats


__all__ = ["POOLED", "cnt_edges", "coortweet_edges", "coortweet_pool"]

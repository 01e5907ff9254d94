"""Judging a behaviour's candidate edges: weights, null means, p-values, the evidence, the validation inputs.

Why shaped so: what the data-sized stages leave (:data:`.stages.HANDOVER`: integer action, account and object
tables and the per (account pair, object) aggregates) is small next to the data; everything after runs on
DuckDB, whichever engine ran those stages, so both give the same p-values and judgements: the null models
and the object halves use DuckDB's ``hash()`` (:mod:`.nulls`).

Significance: an edge's weight (distinct objects acted on together) is compared with the weights the same
pair gets under the null model; the null mean ``lambda`` gives a Poisson p-value and a z-score per edge; edges
are judged with Benjamini-Hochberg at ``alpha`` over all candidate edges of the behaviour, and at the empirical
false-discovery cut-off of the shuffled networks where there are shuffles.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from .audience import POST_BEHAVIOURS, audience_rows
from .coactions import COACTIONS
from .cosharing import configuration_null, held_out_rows
from .ids import behaviour_numbers
from .nulls import null_model
from .params import (
    EDGE_SCHEMA,
    EVIDENCE_SCHEMA,
    BehaviourResult,
    CoordParams,
    ProgressFn,
    judged_by_cosharing,
    sql_params,
)
from .stages import pair_sql
from .stats import benjamini_hochberg, p_threshold, poisson_sf

#: which half of the objects an object falls in: a fixed hash of its unit (``CoAction.unit``: the object id, or
#: the post of co-latency's (post, delay bucket) objects), kept in ``_ca_half(oid, half)``; selection on one
#: half, validation on the other (see :func:`.validation.validate_accounts`). Hashing the id string, not a
#: behaviour's own integer numbering, puts one post in the same half in every behaviour, so a fused run does
#: not select a group on a post's co-retweets and test it on the same post's replies
HALF_SQL = "(hash({unit}, 7) % 2)"

#: the tables a behaviour leaves for the held-out validation (``<name>_<behaviour>``): within-window pairs, the
#: timing null's account-object rows, a reference's actions, the author's audience rows, the co-sharing rows. They
#: hold integers only (the run's account numbers, the half as UTINYINT) and no behaviour column: the validation
#: gives each behaviour a small number when it reads them (a behaviour's name on each of 47M within-window pairs
#: at 10M engagements was most of their memory)
VALIDATION_INPUTS: tuple[str, ...] = ("_cv_abo", "_cv_ao", "_cv_act", "_cv_pp", "_cv_cs", "_cv_csd", "_cv_csm",
                                      "_cv_h")


def echoscope_judge(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn,
                    stats: dict[str, Any]) -> BehaviourResult:
    """Candidate edges, null model, p-values, evidence and validation inputs from the per-pair tables.

    Reads the tables of :data:`.stages.HANDOVER` on the DuckDB connection ``con`` (left there by the stages on
    DuckDB, or handed over by the Spark engine, :mod:`.spark`).
    """
    w = float(params.window)
    timed = COACTIONS[behaviour].timed
    unit = COACTIONS[behaviour].unit
    # the validation inputs of this behaviour from an earlier run on this connection must not be read again
    for k in VALIDATION_INPUTS:
        con.execute(f"DROP TABLE IF EXISTS {k}_{behaviour.replace('-', '_')}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ca_half AS SELECT oid, {HALF_SQL.format(unit=unit)}::UTINYINT AS half "
                "FROM _ca_obj")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_edges AS
        SELECT a, b, count(*) AS n_objects, sum(n) AS n_pairs, sum(i.idf) AS weight_idf, min(gap) AS min_gap,
               avg(gap) AS mean_gap, min(t0) AS first_ts, max(t1) AS last_ts,
               count(*) FILTER (WHERE hf.half = 0) AS w0, count(*) FILTER (WHERE hf.half = 1) AS w1
        FROM _ca_abo JOIN _ca_idf i USING (oid) JOIN _ca_half hf USING (oid)
        GROUP BY a, b HAVING count(*) >= {int(params.min_weight)}""")
    stats["candidate_edges"] = int(con.execute("SELECT count(*) FROM _ca_edges").fetchone()[0])
    spec = COACTIONS[behaviour]
    ref_sql = spec.reference(sql_params(params)) if spec.reference else None
    who = judged_by_cosharing(behaviour, params)
    if who:
        # who shares: the configuration null of the objects (cosharing.py), BH at alpha, no shuffles
        null_stats = configuration_null(con, params, unit)
    else:
        null_stats = null_model(con, params, timed, progress, ref_sql, unit) if params.null != "none" else {}
    stats["null"] = null_stats
    edges = con.execute("""SELECT e.a, e.b, aa.account_id AS account_a, ab.account_id AS account_b, e.n_objects,
            e.n_pairs, e.weight_idf, e.min_gap, e.mean_gap, e.first_ts, e.last_ts, coalesce(nl.lam, 0.0) AS lam
        FROM _ca_edges e JOIN _ca_acc aa ON aa.aid = e.a JOIN _ca_acc ab ON ab.aid = e.b
        LEFT JOIN _ca_nulllam nl ON nl.a = e.a AND nl.b = e.b ORDER BY e.a, e.b""" if null_stats else
                        """SELECT e.a, e.b, aa.account_id AS account_a, ab.account_id AS account_b, e.n_objects,
            e.n_pairs, e.weight_idf, e.min_gap, e.mean_gap, e.first_ts, e.last_ts, 0.0 AS lam
        FROM _ca_edges e JOIN _ca_acc aa ON aa.aid = e.a JOIN _ca_acc ab ON ab.aid = e.b ORDER BY e.a, e.b"""
                        ).fetch_arrow_table()
    n = edges.num_rows
    wts = np.asarray(edges["n_objects"].to_numpy(zero_copy_only=False), dtype=float)
    if null_stats:
        lam_raw = np.asarray(edges["lam"].to_numpy(zero_copy_only=False), dtype=float)
        floor = 1e-9 if null_stats.get("analytic") else 0.5 / max(params.reps, 1)
        reps_run = max(int(null_stats.get("reps") or params.reps), 1)
        # a pair never seen together in R shuffles still gets a small mean, so p never collapses to 0
        lam = np.maximum(lam_raw, floor)
        p = poisson_sf(wts, lam)
        z = (wts - lam) / np.sqrt(lam)
        # Per-pair p-values ignore that only pairs seen together are tested. The shuffled networks give the
        # same test to every pair that co-acts by chance: judge edges at the largest p-value cut-off c whose
        # empirical false-discovery rate (mean shuffled edges with p <= c) / (observed edges with p <= c) is
        # at most alpha, and with a Benjamini-Hochberg-significant p-value over the candidate edges.
        c, expected = p_threshold(p, np.asarray(null_stats.pop("_null_p", [])), params.alpha,
                                  reps_run) if "_null_p" in null_stats else (params.alpha, None)
        sig = benjamini_hochberg(p, params.alpha) & (p <= c)
        if who:
            # a guard against the configuration null's small biases that large counts make significant
            sig &= wts >= params.min_lift * lam
        stats["p_threshold"] = c
        stats["expected_false_edges"] = expected
        null_mean = lam_raw
    else:
        p = np.full(n, np.nan)
        z = np.full(n, np.nan)
        sig = np.ones(n, dtype=bool)
        null_mean = np.full(n, np.nan)
        stats["expected_false_edges"] = None
    stats["significant_edges"] = int(sig.sum())
    out = pa.table({
        "behaviour": pa.array([behaviour] * n, pa.string()), "account_a": edges["account_a"],
        "account_b": edges["account_b"], "directed": pa.array([False] * n), "weight": pa.array(wts),
        "n_objects": edges["n_objects"].cast(pa.int64()), "n_pairs": edges["n_pairs"].cast(pa.int64()),
        "weight_idf": edges["weight_idf"].cast(pa.float64()), "min_gap_s": edges["min_gap"].cast(pa.float64()),
        "mean_gap_s": edges["mean_gap"].cast(pa.float64()), "first_ts": edges["first_ts"].cast(pa.float64()),
        "last_ts": edges["last_ts"].cast(pa.float64()), "null_mean": pa.array(null_mean),
        "z": pa.array(z), "p_value": pa.array(p), "significant": pa.array(sig)}, schema=EDGE_SCHEMA)
    # evidence for judged edges: per object the closest pair of actions
    judged = pa.array(sig)
    con.register("_ca_sig", pa.table({"a": edges["a"].filter(judged), "b": edges["b"].filter(judged)}))
    per_edge = evidence_rows_per_edge(params.evidence_per_edge, int(sig.sum()))
    if per_edge != params.evidence_per_edge:
        stats["evidence_per_edge"] = per_edge
    try:
        sql = evidence_sql(con, behaviour, "_ca_sig", per_edge, "_ca_evx")
        evidence = con.execute(sql + " ORDER BY account_a, account_b, gap_s").fetch_arrow_table().cast(
            EVIDENCE_SCHEMA)
    finally:
        con.unregister("_ca_sig")
        con.execute("DROP TABLE IF EXISTS _ca_evx")
    halves = None
    t = behaviour.replace("-", "_")
    if timed and (null_stats.get("analytic") or who):
        # the validation's inputs carry the run's account numbers (ids.py), not string ids
        behaviour_numbers(con)
    if null_stats.get("analytic") and timed:
        # kept for validate_accounts (validation.py): within-window pairs (and below, per behaviour kind, the
        # account-object rows of its null) with the object's half
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _cv_abo_{t} AS
            SELECT ga.i AS x, gb.i AS y, x.oid, hf.half
            FROM (SELECT DISTINCT a, b, oid FROM ({pair_sql('_ca_pin', w, timed, False)})) x
            JOIN _ca_gid ga ON ga.aid = x.a JOIN _ca_gid gb ON gb.aid = x.b JOIN _ca_half hf ON hf.oid = x.oid""")
    if who and timed:
        held_out_rows(con, behaviour, unit)
        halves = _halves(con, t)
    if null_stats.get("analytic") and timed and not who:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _cv_ao_{t} AS
            SELECT g.i AS acc, x.oid, hf.half, q.q,
                   q.n, q.s, nr.k, nr.nb, q.na
            FROM _ca_ao x JOIN _ca_acc a ON a.aid = x.aid JOIN _ca_gid g ON g.aid = x.aid JOIN _ca_q q ON q.oid = x.oid
            JOIN _ca_half hf ON hf.oid = x.oid
            LEFT JOIN (SELECT account_id, oid, count(*) AS k, sum(nb)::DOUBLE AS nb FROM _ca_nbr GROUP BY 1, 2) nr
              ON nr.account_id = a.account_id AND nr.oid = x.oid""")
        if behaviour in POST_BEHAVIOURS and params.group_null in ("author", "audience"):
            # the author's audience null of the held-out test (audience.py)
            audience_rows(con, behaviour, unit, None if spec.reference is not None else w)
        if spec.reference is not None:
            # a behaviour with a reference keeps only some of an object's actions (the first seconds or
            # minutes) and its window spans them all: every two of its accounts on the object co-act. The
            # held-out test counts co-acting non-group accounts from all of them, pruned accounts included,
            # as the null's slots (every account of the reference) include them
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _cv_act_{t} AS
                SELECT DISTINCT g.i AS acc, o.oid, hf.half
                FROM _ca_raw r JOIN _ca_acc a USING (account_id) JOIN _ca_gid g USING (aid)
                JOIN _ca_obj o USING (object_id) JOIN _ca_half hf ON hf.oid = o.oid""")
        halves = _halves(con, t)
    return BehaviourResult(behaviour, out, evidence, stats, halves=halves)


def evidence_sql(con: Any, behaviour: str, pairs: str, per_edge: int | None, table: str) -> str:
    """The query of the evidence rows (:data:`.params.EVIDENCE_SCHEMA`'s columns) of the account pairs ``pairs``
    (a table or view with ``a``, ``b``: a behaviour's account numbers): per pair, its closest pair of actions on
    each object it co-acted on, ``per_edge`` objects at most (closest first; None: all). Reads the behaviour's
    tables (:data:`.stages.HANDOVER`); leaves the kept rows as integers in the temporary ``table``, which the
    caller drops once the query has run.

    Why the integers first: in one query DuckDB estimated the kept rows at ~3 % of their number (21,745 for 687,096
    on the simulator's 1M early-amplify) and planned the string joins for that (1.5-2.5x slower); from a table
    it knows the count.
    """
    lim = "" if per_edge is None else ("QUALIFY row_number() OVER (PARTITION BY x.a, x.b "
                                       f"ORDER BY x.gap, x.oid) <= {int(per_edge)}")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS SELECT x.a, x.b, x.oid, x.ev, x.gap
        FROM _ca_abo x SEMI JOIN {pairs} s ON s.a = x.a AND s.b = x.b {lim}""")
    return f"""SELECT '{behaviour}' AS behaviour, aa.account_id AS account_a, ab.account_id AS account_b,
            o.object_id, ea.action_id AS action_a, eb.action_id AS action_b, ea.ts::DOUBLE AS ts_a,
            eb.ts::DOUBLE AS ts_b, x.gap::DOUBLE AS gap_s
        FROM {table} x
        JOIN _ca_acc aa ON aa.aid = x.a JOIN _ca_acc ab ON ab.aid = x.b JOIN _ca_obj o ON o.oid = x.oid
        JOIN _ca_raw ea ON ea.rowid = x.ev // 4294967296 JOIN _ca_raw eb ON eb.rowid = x.ev % 4294967296"""


#: the most evidence rows one behaviour's judged edges get together. Every judged edge keeps at least its closest
#: co-action; when ``evidence_per_edge`` rows each would exceed this, each edge keeps fewer (the closest first)
#: and the behaviour's statistics say how many (``evidence_per_edge``). Judging every candidate edge
#: (``--null none``) of 1M power-law retweets gave 10M evidence rows (20 per edge), which the cluster step then
#: copied, sorted and wrote: 5.1 GB and four minutes for a network built in 12 s
EVIDENCE_BUDGET = 2_000_000


def evidence_rows_per_edge(per_edge: int | None, judged: int, budget: int = EVIDENCE_BUDGET) -> int | None:
    """Evidence rows per judged edge: ``per_edge``, fewer (at least one) when ``judged`` edges would exceed
    ``budget`` rows; None (every co-action) only while that fits too.

    Examples
    --------
    >>> evidence_rows_per_edge(20, 1000), evidence_rows_per_edge(20, 1_000_000), evidence_rows_per_edge(20, 10**8)
    (20, 2, 1)
    """
    if judged <= 0:
        return per_edge
    most = max(1, budget // judged)
    if per_edge is None:
        return None if judged * 20 <= budget else most
    return min(per_edge, most)


def _halves(con: Any, t: str) -> str:
    """``_cv_h_<t>``: per candidate edge (the run's account numbers ``a``, ``b``: ids.py), its weight and null
    mean on each half of the objects (validation.py's input); returns the table's name."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cv_h_{t} AS SELECT ga.i AS a, gb.i AS b,
            e.w0::DOUBLE AS w0, coalesce(l.l0, 0.0) AS l0, e.w1::DOUBLE AS w1, coalesce(l.l1, 0.0) AS l1
        FROM _ca_edges e JOIN _ca_gid ga ON ga.aid = e.a JOIN _ca_gid gb ON gb.aid = e.b
        LEFT JOIN _ca_nulllam l ON l.a = e.a AND l.b = e.b""")
    return f"_cv_h_{t}"


__all__ = ["EVIDENCE_BUDGET", "HALF_SQL", "VALIDATION_INPUTS", "echoscope_judge", "evidence_rows_per_edge",
           "evidence_sql"]

"""Coordination run: per-behaviour networks, the fused network, Leiden clusters, summaries, result tables.

Why shaped so: each behaviour's edges come from the one mechanism in :mod:`.network`; fusing them (Luceri et
al. 2024) is a join on account pairs, so an edge seen in several behaviours adds up its TF-IDF weights and
keeps its smallest Bonferroni-corrected p-value. Clusters are Leiden communities (python-igraph + leidenalg)
of the fused network of judged edges; a cluster is judged coordinated when its internal weight is unlikely
under the null model (Poisson with the sum of its edges' null means). Summaries are SQL joins on the study's
canonical tables (accounts, account_status, engagements, targets), so every number is traceable.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..engine import Engine
from ..errors import ConfigError, StudyError
from .coactions import COACTIONS
from .network import (
    BUILDERS,
    EDGE_SCHEMA,
    EVIDENCE_SCHEMA,
    CoordParams,
    behaviour_params,
    benjamini_hochberg,
    poisson_sf,
)

RESULT_TABLES = ("coord_edges", "coord_clusters", "coord_members", "coord_evidence")


@dataclass
class CoordinationResult:
    """What :func:`coordinate` returns: the four result tables and a summary (parameters, counts, caps)."""

    edges: pa.Table
    clusters: pa.Table
    members: pa.Table
    evidence: pa.Table
    summary: dict[str, Any]

    def coordinated_clusters(self) -> list[dict[str, Any]]:
        """Clusters judged coordinated, each with its member account ids (the ``--json`` contract)."""
        if self.clusters.num_rows == 0:
            return []
        coord = self.clusters.filter(self.clusters["coordinated"]).to_pylist()
        mem = self.members.to_pylist()
        by: dict[int, list[str]] = {}
        for m in mem:
            by.setdefault(m["cluster_id"], []).append(m["account_id"])
        for c in coord:
            c["accounts"] = sorted(by.get(c["cluster_id"], []))
        return coord

    def flagged_accounts(self) -> set[str]:
        """Accounts in any cluster judged coordinated."""
        return {a for c in self.coordinated_clusters() for a in c["accounts"]}


def _noop(event: dict[str, Any]) -> None:
    return None


def coordinate(study: Any, params: CoordParams | None = None, *, write: bool = True,
               progress: Any = None, engine: str = "duckdb", spark_master: str | None = None) -> CoordinationResult:
    """Find coordinated accounts in ``study``.

    Parameters
    ----------
    study : echoscope.Study
        The study; its canonical tables are read through DuckDB views.
    params : CoordParams
        Behaviours, window (seconds), minimums, significance level, semantics, null model.
    write : bool
        Store ``coord_edges``, ``coord_clusters``, ``coord_members`` and ``coord_evidence`` in the study.
    progress : callable, optional
        Receives ``{"event": "stage", "message": ...}`` dicts.
    engine : {"duckdb", "spark"}
        Where the data-sized stages (pruning, guard, pairing) run; everything after them runs in DuckDB
        either way and the results are the same (see :mod:`.spark`).
    spark_master : str, optional
        Spark master URL for ``engine="spark"`` (``local[2]``: this machine, two cores); default
        ``ECHOSCOPE_SPARK_MASTER``, then the study's ``[spark]`` configuration, then ``local[2]``.

    Returns
    -------
    CoordinationResult
    """
    params = params or CoordParams()
    params.validate()
    progress = progress or _noop
    skipped: dict[str, str] = {}
    if engine == "spark":
        from .spark import spark_builder, spark_default

        params, skipped = spark_default(params)
        builder = spark_builder(study, params, spark_master)
    elif engine == "duckdb":
        builder = BUILDERS[params.semantics]
    else:
        raise ConfigError(f"--engine must be duckdb or spark, not '{engine}'")
    eng = _engine_of(study)
    # the coordination stage's memory limit comes from echoscope.settings (3 GiB by default: at 10 million
    # actions its integer tables fit, so it does not spill; benchmarks/RESULTS.md)
    with eng.stage("coordination"):
        return _coordinate(study, eng.raw, params, progress, write, builder, skipped)


def _engine_of(study: Any) -> Engine:
    """The study's own engine when it has one (the user-facing Study), else a new one."""
    eng = getattr(study, "engine", None)
    return eng if isinstance(eng, Engine) else Engine(study)


def _coordinate(study: Any, con: Any, params: CoordParams, progress: Any, write: bool,
                builder: Any, skipped: dict[str, str] | None = None) -> CoordinationResult:
    t0 = time.perf_counter()
    per: list[Any] = []
    for b in params.behaviours:
        tb = time.perf_counter()
        r = builder(con, b, behaviour_params(b, params), progress)
        r.stats.setdefault("window", behaviour_params(b, params).window)
        r.stats["seconds"] = round(time.perf_counter() - tb, 3)
        per.append(r)
    edges = pa.concat_tables([r.edges for r in per]).cast(EDGE_SCHEMA)
    evidence = pa.concat_tables([r.evidence for r in per]).cast(EVIDENCE_SCHEMA)
    if params.semantics == "echoscope" and len(params.behaviours) > 1:
        edges = pa.concat_tables([edges, fuse(edges, len(params.behaviours))]).cast(EDGE_SCHEMA)
    network = "fused" if params.semantics == "echoscope" and len(params.behaviours) > 1 else params.behaviours[0]
    progress({"event": "stage", "message": "clustering (Leiden)"})
    halves = [r.halves for r in per if r.halves is not None]
    validated: set[str] | None = None
    if params.semantics == "echoscope" and params.null == "object" and halves:
        progress({"event": "stage", "message": "validating accounts on held-out objects"})
        validated, vstats = validate_accounts(con, pa.concat_tables(halves), list(params.behaviours), params)
        # a behaviour without a time window (shared-ip) has no held-out test: its edges are judged by the
        # exact configuration-model null (BH at alpha), and the accounts of its judged edges join the validated
        untimed = [r.edges.filter(r.edges["significant"]) for r in per if r.halves is None
                   and not COACTIONS[r.behaviour].timed]
        for sig in untimed:
            validated |= set(pc.unique(pa.concat_arrays([sig["account_a"].combine_chunks(),
                                                          sig["account_b"].combine_chunks()])).to_pylist())
        if untimed:
            vstats["untimed_significant_edges"] = {r.behaviour: int(pc.sum(r.edges["significant"]).as_py() or 0)
                                          for r in per if r.halves is None and not COACTIONS[r.behaviour].timed}
    else:
        vstats = None
    clusters, members = cluster(con, edges, evidence, params, network, validated)
    summary = {
        "semantics": params.semantics,
        "parameters": {k: v for k, v in asdict(params).items() if k != "extra"},
        "network": network,
        "behaviours": {r.behaviour: r.stats for r in per},
        "edges": int(edges.num_rows),
        "significant_edges": int(pc.sum(pc.and_(edges["significant"],
                                                pc.equal(edges["behaviour"], network))).as_py() or 0),
        "expected_false_edges": _sum_or_none([r.stats.get("expected_false_edges") for r in per]),
        "capped": {r.behaviour: r.stats.get("guard") for r in per if r.stats.get("guard")},
        "clusters": int(clusters.num_rows),
        "coordinated_clusters": int(pc.sum(clusters["coordinated"]).as_py() or 0) if clusters.num_rows else 0,
        "flagged_accounts": 0,
        "validation": vstats,
        "skipped_behaviours": skipped or {},
        "seconds": 0.0,
    }
    res = CoordinationResult(edges, clusters, members, evidence, summary)
    summary["flagged_accounts"] = len(res.flagged_accounts())
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    if write:
        study.write_results(dict(zip(RESULT_TABLES, (edges, clusters, members, evidence))),
                            meta={"summary": summary}, analysis="coordination")
    return res


def _sum_or_none(values: list[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(sum(vals)) if vals else None


def fuse(edges: pa.Table, n_behaviours: int) -> pa.Table:
    """The fused multi-behaviour network: one undirected edge per account pair judged in any behaviour.

    Weights add up over behaviours (distinct objects and TF-IDF weights); the p-value is the smallest
    behaviour p-value times the number of behaviours (Bonferroni), the null mean the sum of null means.
    """
    import duckdb

    con = duckdb.connect()
    con.register("e", edges)
    return con.execute(f"""SELECT 'fused' AS behaviour, account_a, account_b, false AS directed,
            sum(weight) AS weight, sum(n_objects) AS n_objects, sum(n_pairs) AS n_pairs,
            sum(weight_idf) AS weight_idf, min(min_gap_s) AS min_gap_s, avg(mean_gap_s) AS mean_gap_s,
            min(first_ts) AS first_ts, max(last_ts) AS last_ts, sum(null_mean) AS null_mean,
            max(z) AS z, least(1.0, min(p_value) * {n_behaviours}) AS p_value, bool_or(significant) AS significant
        FROM e GROUP BY account_a, account_b ORDER BY account_a, account_b""").fetch_arrow_table().cast(EDGE_SCHEMA)


CLUSTER_SCHEMA = pa.schema([
    ("cluster_id", pa.int64()), ("size", pa.int64()), ("n_edges", pa.int64()), ("weight", pa.float64()),
    ("null_weight", pa.float64()), ("z", pa.float64()), ("p_value", pa.float64()), ("coordinated", pa.bool_()),
    ("behaviours", pa.string()), ("created_first", pa.timestamp("us", tz="UTC")),
    ("created_last", pa.timestamp("us", tz="UTC")), ("created_spread_days", pa.float64()),
    ("median_followers", pa.float64()), ("share_suspended", pa.float64()), ("targets", pa.string()),
    ("first_activity", pa.timestamp("us", tz="UTC")), ("last_activity", pa.timestamp("us", tz="UTC")),
    ("evidence", pa.string()),
])
MEMBER_SCHEMA = pa.schema([("cluster_id", pa.int64()), ("account_id", pa.string()), ("handle", pa.string()),
                           ("degree", pa.int64()), ("strength", pa.float64())])


def validate_accounts(con: Any, halves: pa.Table, behaviours: list[str],
                      params: CoordParams) -> tuple[set[str], dict[str, Any]]:
    """Accounts whose co-actions with their group exceed the null on objects not used to find the group.

    Pairs that each share only a few objects cannot pass a per-pair test, yet a group of such pairs is
    strong evidence; testing a group found on the same data is biased (its edges were picked for being
    high). So the objects are split in two halves by a fixed hash of their unit (``CoAction.unit``: one post is in
    the same half in every behaviour), and for each half ``s`` (selection) with
    the other half ``t`` (test), a cross-fitting scheme:

    1. Leiden groups the accounts joined by pairs with weight ``>= min_weight`` and ``p <= cluster_p`` on
       half ``s`` alone (RB-configuration modularity at ``group_resolution``: below 1 it keeps a campaign's
       less active members, which link to its core about as densely as to each other, in one group
       instead of splitting them off -- a split group's members count as outsiders of each other's group
       and the halves then hide each other);
    2. on half ``t``, an account ``m``'s weight to group ``G`` is the number of (member, object) co-actions
       within the window (one burst counts once), and its null mean is the sum over the objects ``m`` acted
       on of ``P(m's slot is within the window of a member of G)`` with the group's times fixed and ``m``
       taking a random slot among the object's non-group accounts (the object-timeline null of
       :mod:`.network`, exact in expectation; for a member of ``G``, the group without it, its own slot
       counted among the slots). For behaviours with a reference (rapid-fire, early-amplify, co-latency:
       ``CoAction.reference``) the account's rows are every object it engaged with, the object's accounts
       every account that engaged with it, and the co-acting non-group accounts every account with one of
       the behaviour's actions on the object (all of which are within the behaviour's window of each other),
       pruned accounts included;
    3. an account grouped on half ``s`` is tested against *its own group* only -- a hypothesis fixed before
       half ``t`` is looked at, so it needs no correction for the choice among groups; an account in no
       group is tested against every group (smallest p-value times the number of groups);
    4. the two folds are combined: an account grouped in either fold gets one Poisson test of its weights
       summed over the folds where it is grouped against the sum of their null means (each fold's count is
       on objects its group was not chosen on); an account grouped in neither gets twice its smaller
       fold p-value. Benjamini-Hochberg at ``alpha`` over every tested account; a kept account must share a
       group (in some fold) with another kept account.
    5. an account must also co-act with its group at least ``min_lift`` times as often as the null expects
       (weight >= min_lift x null mean). The null is exact only if the account is exchangeable with the other
       accounts on the same objects; an active account that reacts a little faster than most (lift ~1.3)
       becomes "significant" on counts in the hundreds. Found campaign accounts have lifts of 1.8 (hard
       setting) to 4+ (default).
    """
    tabs = [b.replace("-", "_") for b in behaviours]
    tabs = [t for t in tabs if con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '_cv_ao_{t}'").fetchone()[0]]
    if not tabs:
        return set(), {"folds": [], "accounts": 0}
    con.execute("CREATE OR REPLACE TEMP TABLE _cv_abo AS " + " UNION ALL ".join(
        f"SELECT x, y, beh, oid, half FROM _cv_abo_{t} UNION ALL SELECT y, x, beh, oid, half FROM _cv_abo_{t}"
        for t in tabs))
    con.execute("CREATE OR REPLACE TEMP TABLE _cv_ao AS " + " UNION ALL ".join(f"SELECT * FROM _cv_ao_{t}" for t in tabs))
    acts = [t for t in tabs if con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '_cv_act_{t}'").fetchone()[0]]
    con.execute("CREATE OR REPLACE TEMP TABLE _cv_act AS " + (" UNION ALL ".join(f"SELECT * FROM _cv_act_{t}" for t in acts)
                if acts else "SELECT ''::VARCHAR AS acc, ''::VARCHAR AS beh, 0::INTEGER AS oid, 0::BIGINT AS half LIMIT 0"))
    con.register("_cv_h_in", halves)
    h = con.execute("""SELECT account_a, account_b, sum(w0) AS w0, sum(l0) AS l0, sum(w1) AS w1, sum(l1) AS l1
        FROM _cv_h_in WHERE account_a <> account_b GROUP BY 1, 2""").fetch_arrow_table()
    con.unregister("_cv_h_in")
    col = {k: np.asarray(h[k].to_numpy(zero_copy_only=False), dtype=float) for k in ("w0", "l0", "w1", "l1")}
    # only the pairs a fold's Leiden graph can use go on (most candidate pairs meet once or twice by chance):
    # the account ids of all candidate pairs as Python strings were the validation's peak memory
    use = np.zeros(h.num_rows, dtype=bool)
    for x in ("0", "1"):
        use |= _selected(col[f"w{x}"], col[f"l{x}"], params)
    h = h.filter(pa.array(use))
    col = {k: v[use] for k, v in col.items()}
    a = np.asarray(h["account_a"].to_pylist(), dtype=object)
    b = np.asarray(h["account_b"].to_pylist(), dtype=object)
    folds, tests = _held_out_folds(con, a, b, col, params)
    keep = _combine_folds(tests, params.alpha, params.min_lift)
    for t in ("_cv_abo", "_cv_ao", "_cv_act", "_cv_g", "_cv_n"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return keep, {"folds": folds, "accounts": len(keep)}


def _selected(w: np.ndarray, lam: np.ndarray, params: CoordParams) -> np.ndarray:
    """Pairs joining a fold's Leiden graph: weight >= min_weight on the selection half, p <= cluster_p there."""
    return (w >= params.min_weight) & (poisson_sf(w, np.maximum(lam, 1e-9)) <= params.cluster_p)


def _held_out_folds(con: Any, a: np.ndarray, b: np.ndarray, col: dict[str, np.ndarray],
                    params: CoordParams) -> tuple[list[dict[str, Any]], list[_FoldTest]]:
    """Steps 1-3 of :func:`validate_accounts` for both folds."""
    import igraph as ig
    import leidenalg

    folds: list[dict[str, Any]] = []
    tests: list[_FoldTest] = []
    for s_, t_ in ((0, 1), (1, 0)):
        ws, ls = col[f"w{s_}"], np.maximum(col[f"l{s_}"], 1e-9)
        sel = _selected(col[f"w{s_}"], col[f"l{s_}"], params)
        names = sorted(set(a[sel]) | set(b[sel]))
        fold: dict[str, Any] = {"selection_half": s_, "graph_edges": int(sel.sum()), "groups": 0,
                                "coordinated_groups": 0, "accounts_tested": len(names), "accounts_kept": 0}
        folds.append(fold)
        if not names:
            continue
        idx = {n: i for i, n in enumerate(names)}
        g = ig.Graph(n=len(names), edges=[(idx[x], idx[y]) for x, y in zip(a[sel], b[sel])], directed=False)
        g.es["weight"] = np.maximum(ws[sel] - ls[sel], 1e-6).tolist()
        part = leidenalg.find_partition(g, leidenalg.RBConfigurationVertexPartition, weights="weight",
                                        resolution_parameter=params.group_resolution, seed=params.seed)
        memb = np.asarray(part.membership)
        sizes = np.bincount(memb)
        big = sizes[memb] >= 2
        fold["groups"] = int((sizes >= 2).sum())
        grouped = {n: int(k) for n, k, ok in zip(names, memb, big) if ok}
        con.register("_cv_g_in", pa.table({"acc": pa.array(list(grouped), pa.string()),
                                           "g": pa.array(list(grouped.values()), pa.int64())}))
        con.execute("CREATE OR REPLACE TEMP TABLE _cv_g AS SELECT * FROM _cv_g_in")
        con.unregister("_cv_g_in")
        # accounts tested: every account with a co-action on the selection half (chosen without half t)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _cv_n AS SELECT DISTINCT x AS acc FROM _cv_abo WHERE half = {s_}")
        names = [r[0] for r in con.execute("SELECT acc FROM _cv_n ORDER BY acc").fetchall()]
        fold["accounts_tested"] = len(names)
        res = _group_weights(con, f"= {t_}")
        tests.append(_FoldTest.build(fold, names, grouped, sizes, res, params.min_lift))
    return folds, tests


def _group_weights(con: Any, hx: str) -> pa.Table:
    """Per tested account (``_cv_n``) and group (``_cv_g``): co-actions and their null mean on objects ``half hx``.

    Step 2 of :func:`validate_accounts`; ``hx`` selects the fold's test half (``= 1``).
    """
    return con.execute(f"""
            WITH ab AS (SELECT * FROM _cv_abo WHERE half {hx} AND beh NOT IN (SELECT DISTINCT beh FROM _cv_act)),
                 -- behaviours with a reference (_cv_act): every two of their accounts on an object co-act
                 ac AS (SELECT acc, beh, oid FROM _cv_act WHERE half {hx}),
                 gca AS (SELECT ac.beh, ac.oid, g.g, count(*) AS c FROM ac JOIN _cv_g g USING (acc) GROUP BY 1, 2, 3),
                 mo AS (SELECT DISTINCT a.x AS acc, a.beh, a.oid, g.g FROM ab a JOIN _cv_g g ON g.acc = a.y
                        WHERE a.x IN (SELECT acc FROM _cv_n)
                        UNION SELECT ac.acc, ac.beh, ac.oid, gc.g FROM ac JOIN gca gc USING (beh, oid)
                        LEFT JOIN _cv_g gx ON gx.acc = ac.acc WHERE ac.acc IN (SELECT acc FROM _cv_n)
                        AND (gx.g IS DISTINCT FROM gc.g OR gc.c > 1)),
                 nz AS (SELECT a.beh, a.oid, g.g, count(DISTINCT a.x) AS h FROM ab a JOIN _cv_g g ON g.acc = a.y
                        LEFT JOIN _cv_g gx ON gx.acc = a.x WHERE gx.g IS DISTINCT FROM g.g
                        GROUP BY 1, 2, 3
                        UNION ALL SELECT ac.beh, ac.oid, gc.g, count(DISTINCT ac.acc) AS h FROM ac JOIN gca gc USING (beh, oid)
                        LEFT JOIN _cv_g gx ON gx.acc = ac.acc WHERE gx.g IS DISTINCT FROM gc.g GROUP BY 1, 2, 3),
                 -- accounts on the object: those acting in the behaviour, or all of its reference accounts (rapid-fire)
                 no AS (SELECT beh, oid, greatest(count(*), coalesce(max(na), 0)) AS n FROM _cv_ao
                        WHERE half {hx} GROUP BY 1, 2),
                 c AS (SELECT ao.beh, ao.oid, g.g, count(*) AS c FROM _cv_ao ao JOIN _cv_g g USING (acc)
                       WHERE ao.half {hx} GROUP BY 1, 2, 3),
                 -- the group's times are fixed and m takes a random slot among the object's non-group
                 -- accounts: P(m co-acts with the group) = (non-group accounts with a group member within the
                 -- window) / (non-group accounts); for a member, the group without m (m's own slot counted as
                 -- a hit when it is one, and non-members whose only neighbour is m kept: both conservative)
                 l AS (SELECT ao.acc, c.g, mo.acc IS NOT NULL AS hit,
                              CASE WHEN gm.g = c.g
                                   THEN (coalesce(nz.h, 0) + (mo.acc IS NOT NULL)::INT) / greatest(1, no.n - c.c + 1)
                                   ELSE coalesce(nz.h, 0) / greatest(1, no.n - c.c) END AS e
                       FROM _cv_ao ao JOIN c USING (beh, oid) JOIN no USING (beh, oid)
                       LEFT JOIN _cv_g gm ON gm.acc = ao.acc
                       LEFT JOIN nz ON nz.beh = c.beh AND nz.oid = c.oid AND nz.g = c.g
                       LEFT JOIN mo ON mo.acc = ao.acc AND mo.beh = c.beh AND mo.oid = c.oid AND mo.g = c.g
                       WHERE ao.half {hx} AND ao.acc IN (SELECT acc FROM _cv_n)
                             AND (gm.g IS DISTINCT FROM c.g OR c.c > 1))
            -- weight = objects on which m co-acted with the group (one burst is one event)
            SELECT l.acc, l.g, count(*) FILTER (WHERE l.hit)::DOUBLE AS w, sum(least(1.0, l.e)) AS lam
            FROM l GROUP BY 1, 2""").fetch_arrow_table()


@dataclass
class _FoldTest:
    """One fold's held-out test: per account, its own group's weight and null mean, or its best group."""

    fold: dict[str, Any]
    tested: list[str]
    group: dict[str, int]  # account -> its group on the selection half (groups of two or more)
    own: dict[str, tuple[float, float]]  # grouped account -> (weight, null mean) against its own group
    best: dict[str, tuple[float, int]]  # ungrouped account -> (p-value times groups, group)

    @classmethod
    def build(cls, fold: dict[str, Any], tested: list[str], group: dict[str, int], sizes: np.ndarray,
              res: pa.Table, min_lift: float = 1.0) -> _FoldTest:
        acc = np.asarray(res["acc"].to_pylist(), dtype=object)
        gg = res["g"].to_numpy(zero_copy_only=False).astype(np.int64)
        ww = np.asarray(res["w"].to_numpy(zero_copy_only=False), dtype=float)
        ll = np.maximum(np.asarray(res["lam"].to_numpy(zero_copy_only=False), dtype=float), 1e-9)
        n_groups = max(int((sizes >= 2).sum()), 1)
        own: dict[str, tuple[float, float]] = {}
        best: dict[str, tuple[float, int]] = {}
        pm = np.where(ww >= min_lift * ll, poisson_sf(ww, ll) * n_groups, 1.0)
        for n, g_, w_, l_, p_ in zip(acc, gg, ww, ll, pm):
            mine = group.get(n)
            if mine is not None:
                if mine == g_:
                    own[n] = (float(w_), float(l_))
            elif float(p_) < best.get(n, (2.0, -1))[0]:
                best[n] = (float(p_), int(g_))
        return cls(fold, tested, group, own, best)


def _combine_folds(tests: list[_FoldTest], alpha: float, min_lift: float = 1.0) -> set[str]:
    """Accounts kept by the cross-fitted test (steps 3-5 of :func:`validate_accounts`).

    Per fold, ``coordinated_groups`` (groups with two or more kept accounts) and ``accounts_kept`` (kept
    accounts that are grouped or were tested against a group in that fold) are written into its report.
    """
    if not tests:
        return set()
    names = sorted(set().union(*(t.tested for t in tests)))
    pv = np.ones(len(names))
    for i, n in enumerate(names):
        mine = [t.own.get(n, (0.0, 0.0)) for t in tests if n in t.group]
        if mine:
            w = sum(x[0] for x in mine)
            lam = max(sum(x[1] for x in mine), 1e-9)
            if w > 0 and w >= min_lift * lam:
                pv[i] = float(poisson_sf(np.array([w]), np.array([lam]))[0])
        else:
            pv[i] = min(1.0, len(tests) * min(t.best.get(n, (1.0, -1))[0] for t in tests))
    ok = {n for n, k in zip(names, benjamini_hochberg(pv, alpha)) if k}
    # a kept account must share a group with another kept account: its own group in some fold, or (in no
    # group there) the group it was tested against, which then needs one kept member besides it
    keep: set[str] = set()
    for t in tests:
        counts: dict[int, int] = {}
        for n in ok:
            if n in t.group:
                counts[t.group[n]] = counts.get(t.group[n], 0) + 1
        for n in ok:
            g_, need = (t.group[n], 2) if n in t.group else (t.best.get(n, (1.0, -1))[1], 1)
            if g_ >= 0 and counts.get(g_, 0) >= need:
                keep.add(n)
        t.fold["coordinated_groups"] = sum(1 for c in counts.values() if c >= 2)
    for t in tests:
        t.fold["accounts_kept"] = sum(1 for n in keep if n in t.group or n in t.best)
    return keep


def cluster(con: Any, edges: pa.Table, evidence: pa.Table, params: CoordParams,
            network: str, validated: set[str] | None = None) -> tuple[pa.Table, pa.Table]:
    """Leiden clusters of the judged edges of ``network``, with per-cluster summary and members."""
    import igraph as ig
    import leidenalg

    net = edges.filter(pc.equal(edges["behaviour"], network))
    if validated is not None:
        # accounts validated on held-out objects (validate_accounts); every candidate edge among them is
        # drawn, so a validated account joins the group it co-acts with most
        va = pa.array(sorted(validated), pa.string())
        net = net.filter(pc.and_(pc.is_in(net["account_a"], va), pc.is_in(net["account_b"], va)))
    else:
        net = net.filter(net["significant"])
    net = net.filter(pc.not_equal(net["account_a"], net["account_b"]))
    if net.num_rows == 0:
        return CLUSTER_SCHEMA.empty_table(), MEMBER_SCHEMA.empty_table()
    # integer vertex ids with Arrow compute (no Python loop over edges): dictionary-encode both ends at once
    both = pc.dictionary_encode(pa.concat_arrays([net["account_a"].combine_chunks(),
                                                   net["account_b"].combine_chunks()]))
    uniq = both.dictionary
    order = np.asarray(pc.sort_indices(uniq).to_numpy(zero_copy_only=False))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[np.asarray(both.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    ia, ib = codes[: net.num_rows], codes[net.num_rows:]
    names = uniq.take(pa.array(order)).to_pylist()
    use_idf = params.semantics == "echoscope" and net["weight_idf"].null_count == 0
    wcol = net["weight_idf"] if use_idf else net["weight"]
    wts = np.maximum(np.asarray(wcol.to_numpy(zero_copy_only=False), dtype=float), 1e-9)
    g = ig.Graph(n=len(names), edges=np.column_stack([ia, ib]).tolist(), directed=False)
    g.es["weight"] = wts.tolist()
    g = g.simplify(combine_edges="sum")  # cnt semantics: both directions become one undirected edge
    part = leidenalg.find_partition(g, leidenalg.ModularityVertexPartition, weights="weight", seed=params.seed)
    memb = np.asarray(part.membership)
    sizes = np.bincount(memb)
    # cluster ids ordered by size (largest first), stable on the smallest member name
    order = sorted(range(len(sizes)), key=lambda c: (-sizes[c], names[int(np.nonzero(memb == c)[0][0])]))
    remap = {c: i + 1 for i, c in enumerate(order)}
    deg = g.degree()
    strength = g.strength(weights="weight")
    keep = [i for i in range(len(names)) if sizes[memb[i]] >= params.min_cluster_size]
    members = pa.table({"cluster_id": pa.array([remap[int(memb[i])] for i in keep], pa.int64()),
                        "account_id": pa.array([names[i] for i in keep], pa.string()),
                        "handle": pa.nulls(len(keep), pa.string()),
                        "degree": pa.array([deg[i] for i in keep], pa.int64()),
                        "strength": pa.array([float(strength[i]) for i in keep], pa.float64())})
    return summarise(con, edges, evidence, members, params, network, validated is not None)


def summarise(con: Any, edges: pa.Table, evidence: pa.Table, members: pa.Table, params: CoordParams,
              network: str, validated: bool = False) -> tuple[pa.Table, pa.Table]:
    """Per-cluster summary from the study's tables; significance of each cluster's internal weight."""
    # registered Arrow tables carry no statistics and join slowly: copy them into temp tables first
    for name, tab in (("_cm_in", members), ("_ce_in", edges.filter(pc.equal(edges["behaviour"], network))),
                      ("_cev_in", evidence)):
        con.register(name, tab)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name[:-3]} AS SELECT * FROM {name}")
        con.unregister(name)
    members = con.execute("""SELECT m.cluster_id, m.account_id, a.handle, m.degree, m.strength FROM _cm m
        LEFT JOIN (SELECT account_id, any_value(handle) AS handle FROM accounts GROUP BY account_id) a USING (account_id)
        ORDER BY m.cluster_id, m.strength DESC, m.account_id""").fetch_arrow_table().cast(MEMBER_SCHEMA)
    internal = con.execute("""SELECT ma.cluster_id, count(*) AS n_edges, sum(e.weight) AS weight,
            sum(e.null_mean) AS null_weight, count(e.null_mean) AS n_null
        FROM _ce e JOIN _cm ma ON ma.account_id = e.account_a JOIN _cm mb ON mb.account_id = e.account_b
        WHERE ma.cluster_id = mb.cluster_id AND e.account_a <> e.account_b GROUP BY ma.cluster_id""").fetch_arrow_table()
    beh = dict(con.execute("""SELECT ma.cluster_id, string_agg(DISTINCT e.behaviour, ',' ORDER BY e.behaviour)
        FROM _cev e JOIN _cm ma ON ma.account_id = e.account_a JOIN _cm mb ON mb.account_id = e.account_b
        WHERE ma.cluster_id = mb.cluster_id GROUP BY 1""").fetchall())
    prof = {r[0]: r[1:] for r in con.execute("""SELECT m.cluster_id, epoch(min(a.created_at)), epoch(max(a.created_at)),
            median(a.followers_count), avg(CASE WHEN s.status = 'suspended' THEN 1.0 ELSE 0.0 END)
        FROM _cm m LEFT JOIN (SELECT account_id, any_value(created_at) AS created_at,
                                     any_value(followers_count) AS followers_count FROM accounts GROUP BY 1) a USING (account_id)
        LEFT JOIN (SELECT account_id, arg_max(status, checked_at) AS status FROM account_status GROUP BY 1) s USING (account_id)
        GROUP BY m.cluster_id""").fetchall()}
    act = {r[0]: r[1:] for r in con.execute("""SELECT m.cluster_id, min(least(e.ts_a, e.ts_b)), max(greatest(e.ts_a, e.ts_b))
        FROM _cev e JOIN _cm m ON m.account_id = e.account_a GROUP BY 1""").fetchall()}
    targets = dict(con.execute("""WITH t AS (SELECT m.cluster_id, coalesce('@' || t.handle, t.account_id) AS target,
                count(*) AS n FROM _cm m JOIN engagements g ON g.actor_id = m.account_id
                JOIN targets t ON t.account_id = g.subject_account_id GROUP BY 1, 2)
        SELECT cluster_id, string_agg(target || ' (' || n || ')', ', ' ORDER BY n DESC, target) FROM
            (SELECT * FROM t QUALIFY row_number() OVER (PARTITION BY cluster_id ORDER BY n DESC, target) <= 5)
        GROUP BY 1""").fetchall())
    strongest = dict(con.execute("""WITH x AS (SELECT ma.cluster_id, e.* FROM _cev e JOIN _cm ma ON ma.account_id = e.account_a
                JOIN _cm mb ON mb.account_id = e.account_b WHERE ma.cluster_id = mb.cluster_id)
        SELECT cluster_id, string_agg(behaviour || ' ' || object_id || ': ' || account_a || ' & ' || account_b ||
               ' ' || CAST(round(gap_s, 1) AS VARCHAR) || ' s apart', '; '
               ORDER BY gap_s, object_id, account_a, account_b, behaviour)
        FROM (SELECT * FROM x QUALIFY row_number() OVER (PARTITION BY cluster_id
                                                         ORDER BY gap_s, object_id, account_a, account_b, behaviour) <= 3)
        GROUP BY 1""").fetchall())
    for t in ("_cm", "_ce", "_cev"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    sizes = dict(zip(*np.unique(members["cluster_id"].to_numpy(), return_counts=True)))
    rows = []
    for r in internal.to_pylist():
        cid = int(r["cluster_id"])
        w = float(r["weight"] or 0.0)
        if params.semantics == "echoscope" and params.null != "none" and r["n_null"]:
            lam = max(float(r["null_weight"] or 0.0), 0.5 / max(params.reps, 1))
            p = float(poisson_sf(np.array([w]), np.array([lam]))[0])
            z = (w - lam) / np.sqrt(lam)
            # with validation every member already passed a held-out test; the full-data p-value is shown
            # for reference (it is biased low: the edges were found on the same data)
            coord = True if validated else p <= params.alpha
        else:
            lam, p, z, coord = None, None, None, True  # peers: every cluster of judged edges counts
        cf, cl, medf, susp = prof.get(cid, (None, None, None, None))
        fa, la = act.get(cid, (None, None))
        rows.append({
            "cluster_id": cid, "size": int(sizes.get(cid, 0)), "n_edges": int(r["n_edges"]), "weight": w,
            "null_weight": lam, "z": z, "p_value": p, "coordinated": bool(coord), "behaviours": beh.get(cid),
            "created_first": _ts(cf), "created_last": _ts(cl),
            "created_spread_days": (cl - cf) / 86400 if cf is not None and cl is not None else None,
            "median_followers": float(medf) if medf is not None else None,
            "share_suspended": float(susp) if susp is not None else None, "targets": targets.get(cid),
            "first_activity": _ts(fa), "last_activity": _ts(la), "evidence": strongest.get(cid)})
    rows.sort(key=lambda x: x["cluster_id"])
    clusters = pa.Table.from_pylist(rows, schema=CLUSTER_SCHEMA) if rows else CLUSTER_SCHEMA.empty_table()
    return clusters, members


def _ts(x: float | None) -> Any:
    import datetime as dt

    if x is None:
        return None
    return dt.datetime.fromtimestamp(float(x), tz=dt.timezone.utc)


def resolve_account(study: Any, name: str) -> str:
    """Account id for ``@handle``, a handle or an id (ids win when both match)."""
    con = _engine_of(study).raw
    raw = name.strip()
    if not raw.startswith("@"):
        if con.execute("SELECT 1 FROM accounts WHERE account_id = ? UNION ALL SELECT 1 FROM posts WHERE account_id = ? "
                       "LIMIT 1", [raw, raw]).fetchone():
            return raw
    handle = raw.lstrip("@").lower()
    row = con.execute("SELECT account_id FROM accounts WHERE lower(handle) = ? ORDER BY observed_at DESC NULLS LAST "
                      "LIMIT 1", [handle]).fetchone()
    if row:
        return str(row[0])
    if raw.startswith("@"):
        raise ConfigError(f"no account with handle '{raw}' in {study.path} (accounts table); give an account id "
                          "or ingest the accounts' profiles")
    return raw  # an id the study's tables do not know: explain will say there is no edge


def explain(study: Any, a: str, b: str) -> dict[str, Any]:
    """The edges and evidence between two accounts from the last ``coordinate`` run.

    Returns
    -------
    dict
        ``account_a``, ``account_b`` (ids), ``edges`` (one per behaviour, both orders), ``evidence`` (objects
        acted on together with the time gaps), ``cluster`` (shared cluster id or None), ``parameters``.
    """
    m = study.manifest()
    missing = [t for t in RESULT_TABLES if not m.has_result(t)]
    if missing:
        raise StudyError(f"{study.path} has no coordination results ({', '.join(missing)} missing); "
                         f"run 'echoscope coordinate {study.path}' first")
    ida, idb = resolve_account(study, a), resolve_account(study, b)
    con = _engine_of(study).raw
    q = "(account_a = ? AND account_b = ?) OR (account_a = ? AND account_b = ?)"
    args = [ida, idb, idb, ida]
    edges = con.execute(f"SELECT * FROM coord_edges WHERE {q} ORDER BY behaviour, account_a", args).fetch_arrow_table()
    ev = con.execute(f"SELECT * FROM coord_evidence WHERE {q} ORDER BY gap_s, object_id", args).fetch_arrow_table()
    cl = con.execute("SELECT a.cluster_id FROM coord_members a JOIN coord_members b USING (cluster_id) "
                     "WHERE a.account_id = ? AND b.account_id = ?", [ida, idb]).fetchone()
    return {"account_a": ida, "account_b": idb, "edges": edges.to_pylist(), "evidence": ev.to_pylist(),
            "cluster": int(cl[0]) if cl else None,
            "parameters": m.result_meta("coord_edges").get("summary", {}).get("parameters")}

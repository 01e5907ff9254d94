"""A coordination run: each behaviour's network on the engine's backend, fusion, validation, clusters, the result.

Why shaped so: this is the analysis's one entry point, :func:`run`, of the shape every analysis has
(:mod:`echoscope.engine.analysis`): parameters and an :class:`~echoscope.engine.Engine` in, a
:class:`CoordinationResult` out, its four tables stored in one atomic commit with a run id. The engine's
backend (``Engine.backend``: ``--engine`` or ``[engine] backend`` in ``echoscope.toml``) picks how each
behaviour's data-sized stages run (:data:`ENGINE_BUILDERS`): on DuckDB, or on Spark with the same stage code
(:mod:`.spark`); everything after them -- judging, fusion (:mod:`.clusters`), held-out validation
(:mod:`.validation`), Leiden clusters and their summaries -- runs on the engine's DuckDB connection in the
``coordination`` stage, whose memory limit comes from :mod:`echoscope.settings`. :func:`coordinate` is the
older entry point, kept as a thin wrapper.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..engine import Engine
from ..engine.analysis import ANALYSIS_TABLES, AnalysisResult, new_run_id, store_result
from ..errors import ConfigError
from ..settings import BACKENDS
from ..store.study import StudyStore
from .clusters import cluster, fuse_sql, keep_candidate_evidence
from .ids import RUN_TABLES, target_ids
from .network import BUILDERS, Builder
from .params import EVIDENCE_SCHEMA, BehaviourResult, CoordParams, ProgressFn, behaviour_params
from .peers import POOLED, coortweet_pool
from .spill import Spill
from .validation import validated_accounts

RESULT_TABLES: tuple[str, ...] = ANALYSIS_TABLES["coordination"]


class CoordinationResult(AnalysisResult):
    """What :func:`run` returns: the four result tables (``.tables`` by stored name, and as attributes) and a
    summary (parameters, counts, caps, validation, timings)."""

    def __init__(self, edges: pa.Table, clusters: pa.Table, members: pa.Table, evidence: pa.Table,
                 summary: dict[str, Any], run_id: str | None = None) -> None:
        super().__init__("coordination", dict(zip(RESULT_TABLES, (edges, clusters, members, evidence))), summary,
                         run_id)

    @property
    def edges(self) -> pa.Table:
        return self.tables["coord_edges"]

    @property
    def clusters(self) -> pa.Table:
        return self.tables["coord_clusters"]

    @property
    def members(self) -> pa.Table:
        return self.tables["coord_members"]

    @property
    def evidence(self) -> pa.Table:
        return self.tables["coord_evidence"]

    def coordinated_clusters(self) -> list[dict[str, Any]]:
        """Clusters judged coordinated, each with its member account ids (the ``--json`` contract)."""
        if self.clusters.num_rows == 0:
            return []
        coord = self.clusters.filter(self.clusters["coordinated"]).to_pylist()
        by: dict[int, list[str]] = {}
        for m in self.members.select(["cluster_id", "account_id"]).to_pylist():
            by.setdefault(m["cluster_id"], []).append(m["account_id"])
        for c in coord:
            c["accounts"] = sorted(by.get(c["cluster_id"], []))
        return coord

    def flagged_accounts(self) -> set[str]:
        """Accounts in any cluster judged coordinated."""
        return {a for c in self.coordinated_clusters() for a in c["accounts"]}

    def __repr__(self) -> str:
        return (f"CoordinationResult(run_id={self.run_id!r}, network={self.summary.get('network')!r}, "
                f"edges={self.edges.num_rows}, clusters={self.clusters.num_rows})")


def _noop(event: dict[str, Any]) -> None:
    return None


def _duckdb_builder(study: StudyStore, eng: Engine, params: CoordParams,
                    master: str | None) -> tuple[CoordParams, dict[str, str], Builder]:
    return params, {}, BUILDERS[params.semantics]


def _spark_builder(study: StudyStore, eng: Engine, params: CoordParams,
                   master: str | None) -> tuple[CoordParams, dict[str, str], Builder]:
    from ..engine import spark_target
    from .spark import spark_builder, spark_default

    params, skipped = spark_default(params)
    opts = eng.spark_options
    target = spark_target(study, master=master or opts.get("master"), data_root=opts.get("data_root"),
                          conf=opts.get("conf"))
    return params, skipped, spark_builder(study, params, target, eng.settings)


#: backend -> how a run gets its per-behaviour builder (and, on Spark, the behaviours of a default set it runs)
ENGINE_BUILDERS: dict[str, Callable[[StudyStore, Engine, CoordParams, str | None],
                                    tuple[CoordParams, dict[str, str], Builder]]] = {
    "duckdb": _duckdb_builder,
    "spark": _spark_builder,
}


def run(study: StudyStore, params: CoordParams | None = None, *, engine: Engine | None = None, write: bool = True,
        progress: ProgressFn | None = None) -> CoordinationResult:
    """Find coordinated accounts in ``study``.

    Parameters
    ----------
    study : StudyStore
        The study; its canonical tables are read through the engine's views.
    params : CoordParams, optional
        Behaviours, window (seconds), minimums, significance level, semantics, null model (default: the
        default behaviours with their defaults).
    engine : Engine, optional
        Where it runs: ``engine.backend`` (``duckdb`` or ``spark``) runs the data-sized stages, its DuckDB
        connection the rest. Default: the study's own engine when it has one (``echoscope.Study``), else
        ``Engine(study)`` (backend from the environment and ``echoscope.toml``).
    write : bool
        Store ``coord_edges``, ``coord_clusters``, ``coord_members`` and ``coord_evidence`` in the study
        (:func:`echoscope.engine.analysis.store_result`: one commit, a run id).
    progress : callable, optional
        Receives ``{"event": "stage", "message": ...}`` dicts.

    Returns
    -------
    CoordinationResult

    Raises
    ------
    ConfigError
        Parameters out of range, something the backend does not run, or DuckDB out of memory (the message
        names the setting that raises the limit).
    """
    eng, own = (engine, False) if engine is not None else _engine_of(study)
    try:
        return _run(study, eng, eng.backend, None, params, write, progress)
    finally:
        if own:
            eng.close()


def coordinate(study: Any, params: CoordParams | None = None, *, write: bool = True,
               progress: Any = None, engine: str = "duckdb", spark_master: str | None = None) -> CoordinationResult:
    """:func:`run` on the study's own engine with the backend named here (the older entry point).

    ``engine`` is ``duckdb`` or ``spark``; ``spark_master`` the Spark master URL (``local[2]``: this machine,
    two cores; default ``ECHOSCOPE_SPARK_MASTER``, then the study's ``[spark]`` configuration, then
    ``local[2]``). The results are the same on both (see :mod:`.spark`).
    """
    if engine not in BACKENDS:
        raise ConfigError(f"--engine must be one of {', '.join(BACKENDS)}, not '{engine}'")
    eng, own = _engine_of(study)
    try:
        return _run(study, eng, engine, spark_master, params, write, progress)
    finally:
        if own:
            eng.close()


def coordinate_spark(study: Any, params: CoordParams | None = None, *, write: bool = True,
                     progress: Any = None, master: str | None = None, **kw: Any) -> Any:
    """:func:`echoscope.coordination.coordinate` with the data-sized stages on Spark; the same result.

    Parameters
    ----------
    study : echoscope.Study
        The study.
    params : CoordParams, optional
        As for ``coordinate``; keyword arguments ``**kw`` build one when it is not given
        (``coordinate_spark(study, window=60, min_weight=2)``).
    write : bool
        Store the four result tables in the study.
    progress : callable, optional
        Receives ``{"event": "stage", "message": ...}`` dicts.
    master : str, optional
        Spark master URL (``local[2]``: this machine, two cores); default as in
        :func:`.spark.spark_builder`.

    Returns
    -------
    CoordinationResult

    Raises
    ------
    ConfigError
        For semantics or behaviours the Spark engine does not run (:func:`.spark.check_supported`).
    """
    params = params or CoordParams(**kw)
    params.validate()
    return coordinate(study, params, write=write, progress=progress, engine="spark", spark_master=master)


def _engine_of(study: Any) -> tuple[Engine, bool]:
    """The study's own engine when it has one (``echoscope.Study``: its connection and views are shared with
    the caller's), else a new one (and True: the run closes it)."""
    eng = getattr(study, "engine", None)
    return (eng, False) if isinstance(eng, Engine) else (Engine(study), True)


def _run(study: StudyStore, eng: Engine, backend: str, master: str | None, params: CoordParams | None,
         write: bool, progress: ProgressFn | None) -> CoordinationResult:
    params = params or CoordParams()
    params.validate()
    params, skipped, builder = ENGINE_BUILDERS[backend](study, eng, params, master)
    # the coordination stage's memory limit comes from echoscope.settings (2.5 GiB by default: the process
    # stays under 4 GiB at 10 million engagements; benchmarks/RESULTS.md)
    with eng.stage("coordination"):
        res = _coordinate(eng.raw, params, progress or _noop, builder, skipped,
                          scratch=study.path / ".duckdb-tmp")
        res.summary["backend"] = backend
        if write:
            res.run_id = new_run_id("coordination")
            res.summary["run_id"] = res.run_id
            store_result(study, res)
    return res


def _coordinate(con: Any, params: CoordParams, progress: ProgressFn, builder: Builder,
                skipped: dict[str, str], scratch: Path | None = None) -> CoordinationResult:
    """The run on ``con``; each behaviour's edges and evidence go to Parquet files under ``scratch`` (a
    temporary directory of its own, removed at the end; :mod:`.spill`) as soon as the behaviour is judged."""
    spill = Spill(con, scratch)
    try:
        return _coordinate_spilled(con, params, progress, builder, skipped, spill)
    finally:
        spill.close()


def _coordinate_spilled(con: Any, params: CoordParams, progress: ProgressFn, builder: Builder,
                        skipped: dict[str, str], spill: Spill) -> CoordinationResult:
    t0 = time.perf_counter()
    # tables a run builds once for all its behaviours (ids.py): never from an earlier run on this connection
    for name in RUN_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {name}")
    # the co-actions of every candidate edge, kept while each behaviour's tables are there: the held-out
    # validation keeps accounts whose pairs need not be judged edges, and each member's evidence comes from here
    keep_candidates = params.semantics == "echoscope" and params.null == "object"
    # a target's publication of what the others share is not one of their co-actions (stages.drop_target_originals)
    params = dataclasses.replace(params, target_ids=target_ids(con))
    per: list[BehaviourResult] = []
    for b in params.behaviours:
        tb = time.perf_counter()
        bp = behaviour_params(b, params)
        r = builder(con, b, bp, progress)
        if keep_candidates:
            r.stats["candidate_evidence_rows"] = keep_candidate_evidence(con, b, params, spill)
        r.stats.setdefault("window", bp.window)
        # to disk; in memory only the judged edges (what the held-out validation reads of them)
        spill.add("edges", b, r.edges)
        spill.add("evidence", b, r.evidence)
        r.edges = r.edges.filter(r.edges["significant"])
        r.evidence = EVIDENCE_SCHEMA.empty_table()
        r.stats["seconds"] = round(time.perf_counter() - tb, 3)
        per.append(r)
    fused = params.semantics == "echoscope" and len(params.behaviours) > 1
    pooled = params.semantics == "coortweet" and len(params.behaviours) > 1
    pool_stats = None
    if fused:
        spill.add_sql("edges", "fused", fuse_sql(spill.source("edges"), len(params.behaviours)))
    elif pooled:
        # CooRTweet's multimodal network: every object type's share pairs in one network (peers.coortweet_pool)
        pool, pool_stats = coortweet_pool(con, per, params, spill.source("evidence"))
        spill.add("edges", POOLED, pool)
    network = "fused" if fused else POOLED if pooled else params.behaviours[0]
    progress({"event": "stage", "message": "clustering (Leiden)"})
    validated, vstats = validated_accounts(con, per, params, progress)
    clusters, members, evidence = cluster(con, spill, params, network, validated)
    significant = int(con.execute(f"SELECT count(*) FROM {spill.source('edges', network)} "
                                  f"WHERE significant AND behaviour = '{network}'").fetchone()[0])
    # the whole edges table back in Python once, for the result (the run's peak is behind it)
    edges = spill.to_arrow("edges")
    summary = {
        "semantics": params.semantics,
        "parameters": params.describe(),
        "network": network,
        "behaviours": {r.behaviour: r.stats for r in per},
        "edges": int(edges.num_rows),
        "significant_edges": significant,
        "expected_false_edges": _sum_or_none([r.stats.get("expected_false_edges") for r in per]),
        "capped": {r.behaviour: r.stats.get("guard") for r in per if r.stats.get("guard")},
        # the study's targets' own first shares not counted as co-actions, per behaviour (stages.drop_target_originals)
        "target_originals": {r.behaviour: int(r.stats["target_originals_dropped"]) for r in per
                             if r.stats.get("target_originals_dropped")},
        "clusters": int(clusters.num_rows),
        "coordinated_clusters": int(pc.sum(clusters["coordinated"]).as_py() or 0) if clusters.num_rows else 0,
        "flagged_accounts": 0,
        "validation": vstats,
        "pooled": pool_stats,
        "skipped_behaviours": skipped,
        "seconds": 0.0,
    }
    res = CoordinationResult(edges, clusters, members, evidence, summary)
    summary["flagged_accounts"] = len(res.flagged_accounts())
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return res


def _sum_or_none(values: list[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(sum(vals)) if vals else None


__all__ = ["ENGINE_BUILDERS", "RESULT_TABLES", "CoordinationResult", "coordinate", "coordinate_spark", "run"]

"""The one shape every analysis has: run with parameters on an engine, write its tables, return a result.

Why a shared shape: the measures, the coordination and the account scores grew side by side with three ways
of connecting, storing and reporting. Now each is a module with a ``run`` function::

    def run(study: StudyStore, params: P | None = None, *, engine: Engine | None = None, write: bool = True,
            progress: ProgressFn | None = None) -> R        # R an AnalysisResult

that computes its result tables on ``engine`` (DuckDB or Spark, settings from :mod:`echoscope.settings`),
stores them with :func:`store_result` (one atomic commit, a run id, its parameters and summary) and returns an
:class:`AnalysisResult`. The console summary, ``--json``, the demo, the report and the exports read these
stored tables (or the result object, which holds the same tables): a number is computed once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ..store.study import StudyStore

ProgressFn = Callable[[dict[str, Any]], None]

#: the analyses and the result tables each one writes (the report, ``info`` and the explorer say which command
#: fills a missing table from this)
ANALYSIS_TABLES: dict[str, tuple[str, ...]] = {
    "measures": ("amplification_summary", "amplification_superspreaders", "amplification_lorenz",
                 "amplification_rapidfire", "amplification_latency"),
    "coordination": ("coord_edges", "coord_clusters", "coord_members", "coord_evidence"),
    "accounts": ("account_signals", "account_scores"),
}

#: the command that runs each analysis
ANALYSIS_COMMANDS: dict[str, str] = {
    "measures": "echoscope measure",
    "coordination": "echoscope coordinate",
    "accounts": "echoscope score",
}

#: run-id prefix of each analysis
_PREFIX = {"measures": "m", "coordination": "c", "accounts": "s"}


def new_run_id(analysis: str) -> str:
    """A run id that sorts by time: ``c-20261206T201512-3fa9c1`` (prefix by analysis)."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{_PREFIX.get(analysis, analysis[:1])}-{stamp}-{uuid.uuid4().hex[:6]}"


@dataclasses.dataclass
class AnalysisResult:
    """What an analysis returns: its stored tables and a summary (parameters, counts, timings).

    Attributes
    ----------
    analysis : str
        ``measures``, ``coordination`` or ``accounts``.
    tables : dict of str to pyarrow.Table
        The result tables by their stored names.
    summary : dict
        Parameters and the headline counts, JSON-friendly; stored as the tables' metadata.
    run_id : str or None
        The stored run's id (None when not written).
    """

    analysis: str
    tables: dict[str, pa.Table]
    summary: dict[str, Any]
    run_id: str | None = None

    def table(self, name: str) -> pa.Table:
        return self.tables[name]

    def to_pandas(self, name: str) -> Any:
        return self.tables[name].to_pandas()


def store_result(study: StudyStore, result: AnalysisResult, *, meta: dict[str, Any] | None = None,
                 keep_run: bool = True) -> str:
    """Write ``result``'s tables into ``study`` in one atomic commit; returns (and sets) its run id.

    With ``keep_run`` the run is recorded in the manifest with its parameters and summary, and stays readable
    after a later run replaces the latest tables (``--run ID``).
    """
    run_id = result.run_id or new_run_id(result.analysis)
    result.run_id = run_id
    params = result.summary.get("parameters", {}) if isinstance(result.summary, dict) else {}
    study.write_results(result.tables, meta=meta if meta is not None else {"summary": result.summary},
                        analysis=result.analysis, run_id=run_id if keep_run else None, parameters=params,
                        summary=result.summary)
    return run_id


#: runs of each analysis ``echoscope runs STUDY --prune`` keeps by default (the latest is always kept)
KEEP_RUNS = 5


def latest_runs(study: StudyStore) -> dict[str, str]:
    """The run id whose tables are the latest of each analysis (``{analysis: run id}``; from the manifest)."""
    return study.manifest().latest_runs()


def prune_runs(study: StudyStore, *, keep: int = KEEP_RUNS, analysis: str | None = None,
               dry_run: bool = False) -> dict[str, Any]:
    """Forget all but the ``keep`` newest stored runs of each analysis and delete their Parquet parts.

    The latest run of each analysis (the one whose tables the views read by default) is never pruned, even
    with ``keep=0``; a part is deleted only when no kept run, latest result table or canonical table refers to
    it. The manifest changes in one atomic commit under the study's write lock, and the parts are deleted
    after it, so a reader sees either every run or the pruned set, never a run whose files are gone.

    Parameters
    ----------
    study : StudyStore
        The study.
    keep : int
        Runs kept per analysis, newest first (at least 0; the latest always stays).
    analysis : str, optional
        Prune only this analysis's runs (``coordination``, ``accounts``, ``measures``).
    dry_run : bool
        Say what would go; change nothing.

    Returns
    -------
    dict
        ``pruned`` (run ids), ``kept`` (run ids), ``deleted_parts`` (paths relative to the study), ``bytes``
        (their size) and ``dry_run``.
    """
    import contextlib

    from ..errors import ConfigError

    if keep < 0:
        raise ConfigError(f"--keep {keep}: give how many runs of each analysis to keep (0 or more; the latest "
                          "always stays)")
    if analysis is not None and analysis not in ANALYSIS_TABLES:
        raise ConfigError(f"unknown analysis '{analysis}'; one of {', '.join(ANALYSIS_TABLES)}")
    with study.lock():
        m = study.manifest()
        drop = m.prunable_runs(keep, analysis)
        kept = [r["id"] for r in m.runs() if r.get("id") not in drop]
        parts = m.drop_runs(drop)
        size = sum((study.path / p).stat().st_size for p in parts if (study.path / p).exists())
        if not dry_run and drop:
            study.commit(m)
            for p in parts:
                with contextlib.suppress(FileNotFoundError):
                    (study.path / p).unlink()
    return {"pruned": drop, "kept": kept, "deleted_parts": parts, "bytes": size, "dry_run": dry_run}


__all__ = ["ANALYSIS_COMMANDS", "ANALYSIS_TABLES", "KEEP_RUNS", "AnalysisResult", "ProgressFn", "latest_runs",
           "new_run_id", "prune_runs", "store_result"]

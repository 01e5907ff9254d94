"""Gather what the report and the JSON summary show, as plain, size-bounded Python data.

Why a separate gathering step: the HTML template, the charts, the JSON summary and pseudonymisation all work
on the same small document, so they cannot disagree, and the template never touches the study. The document
is read, not computed: per-target numbers come from the ``amplification_*`` tables ``echoscope measure``
stored, clusters from ``coord_*``, risk from ``account_scores`` (:mod:`.amplification`, :mod:`.coordination`,
:mod:`.accounts`); the report adds only what no analysis computes -- the data covered, the quarantine, what is
missing and which command fills it (:mod:`.stages`), profile facts, example posts and evidence texts. Every
query is top-N in DuckDB, so a report of a 1M-account study stays small (the exports hold every row).

A study of any shape gets a document: a missing table or column leaves its part empty and adds an entry to
``missing`` (what, and the command that fills it) or ``notes`` (limits of the data).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .accounts import accounts
from .amplification import measures, whole_period
from .base import Ctx, ProgressFn, ReportOptions, clean, iso
from .coordination import coordination
from .stages import coverage, data_needs, named_targets, results, stages, truth

if TYPE_CHECKING:
    from ..engine import Engine
    from ..store.study import StudyStore

#: columns of the exported ``report_targets`` table: the stored whole-period measures of each target
TARGET_EXPORT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("account_id", pa.string()), ("handle", pa.string()), ("group", pa.string()), ("label", pa.string()),
    ("posts", pa.int64()), ("engagements", pa.int64()), ("reposts", pa.int64()), ("amplifiers", pa.int64()),
    ("share_suspended", pa.float64()), ("share_suspended_reposts", pa.float64()),
    ("reposts_suspended", pa.int64()), ("engagements_suspended", pa.int64()),
    ("engagements_flagged", pa.int64()), ("engagements_organic", pa.int64()),
    ("share_unchecked", pa.float64()), ("share_coordinated", pa.float64()), ("share_high_risk", pa.float64()),
    ("top1_share", pa.float64()), ("gini", pa.float64()), ("share_within_10s", pa.float64()),
    ("share_within_60s", pa.float64()), ("latency_p50", pa.float64()),
)


def gather(study: StudyStore, options: ReportOptions | None = None, progress: ProgressFn | None = None, *,
           engine: Engine | None = None) -> dict[str, Any]:
    """Collect the report document of ``study`` (see the module docstring).

    Parameters
    ----------
    study : StudyStore
        The study.
    options : ReportOptions, optional
        Size limits (top-N).
    progress : callable, optional
        Receives ``{"event": "stage", "message": ...}``.
    engine : Engine, optional
        The study's engine (default: a new one, closed after).

    Returns
    -------
    dict
        Keys: ``study``, ``coverage``, ``stages``, ``missing``, ``named_targets``, ``measured``, ``targets``,
        ``groups``, ``overall``, ``weekly``, ``lorenz``, ``latency``, ``amplification``, ``coordination``,
        ``accounts``, ``results``, ``truth``, ``notes``. Every value is plain JSON-friendly data.
    """
    from ..engine import Engine
    from ..engine.info import study_info

    opt = options or ReportOptions()
    say = progress or (lambda e: None)
    eng = engine or Engine(study)
    try:
        with eng.stage("report"):
            ctx = Ctx(eng, opt, shown_results(study, eng))
            say({"event": "stage", "message": "report: data covered"})
            info = study_info(study, eng)
            doc: dict[str, Any] = {
                "study": {"title": info.get("name"), "path": str(study.path), "platforms": info.get("platforms", []),
                          "generated_at": iso(dt.datetime.now(dt.UTC)), "generation": info.get("generation"),
                          "runs": shown_runs(study, eng)},
                "coverage": coverage(info),
                "named_targets": named_targets(ctx),
            }
            # what data is missing first (the analyses need it), then which analyses
            data_needs(ctx, doc["coverage"], doc["named_targets"])
            doc["stages"] = stages(ctx)
            say({"event": "stage", "message": "report: stored measures"})
            m = measures(ctx, doc["named_targets"])
            doc.update({"measured": m["ran"], "targets": m["targets"], "groups": m["groups"], "overall": m["overall"],
                        "weekly": m["weekly"], "lorenz": m["lorenz"], "latency": m["latency"],
                        "amplification": {k: m[k] for k in ("superspreaders", "ss_columns", "parameters",
                                                            "missing_columns")}})
            say({"event": "stage", "message": "report: coordination"})
            doc["coordination"] = coordination(ctx)
            say({"event": "stage", "message": "report: accounts"})
            doc["accounts"] = accounts(ctx, m["superspreaders"])
            doc["results"] = results(ctx)
            doc["truth"] = truth(ctx)
            doc["missing"] = ctx.missing
            doc["notes"] = ctx.notes
            return clean(doc)
    finally:
        if engine is None:
            eng.close()


def shown_results(study: StudyStore, engine: Engine) -> dict[str, dict[str, Any]]:
    """The manifest's result entries as the engine shows them: a stored run chosen with ``--run`` replaces the
    latest entries of its tables (rows, when written, its summary as the tables' meta)."""
    m = study.manifest()
    out = m.results()
    for rid in engine.runs.values():
        run = m.run(rid)
        if run is None:
            continue
        for name, entry in (run.get("tables") or {}).items():
            out[name] = {**entry, "written_at": run.get("written_at"), "generation": run.get("generation"),
                         "meta": {"summary": run.get("summary") or {}}, "analysis": run.get("analysis"), "run": rid}
    return out


def shown_runs(study: StudyStore, engine: Engine) -> list[dict[str, Any]]:
    """The stored runs the report reads, one per analysis with a run id: ``analysis``, ``run_id``, ``latest``
    (False when ``--run`` chose an earlier one), ``written_at``."""
    from ..findings import run_info

    out = []
    for analysis in ("coordination", "accounts"):
        info = run_info(engine, analysis)
        if info and info.get("run_id"):
            out.append({"analysis": analysis, "run_id": info["run_id"], "latest": bool(info.get("latest")),
                        "written_at": info.get("written_at")})
    return out


def target_table(targets: list[dict[str, Any]]) -> pa.Table:
    """Per-target rows (as in a gathered document's ``targets``) as Arrow (exported as ``report_targets``)."""
    rows = [{c: t.get(c) for c, _ in TARGET_EXPORT_COLUMNS} for t in targets]
    return pa.Table.from_pylist(rows, schema=pa.schema(list(TARGET_EXPORT_COLUMNS)))


def stored_targets(study: StudyStore, engine: Engine) -> pa.Table | None:
    """The stored whole-period measures of every target (``report_targets``); None when measures have not run."""
    with engine.stage("report"):
        rows = whole_period(Ctx(engine, ReportOptions(), study.manifest().results()))
    if not rows:
        return None
    return target_table([r for r in rows if r["scope"] == "target"])


__all__ = ["ReportOptions", "TARGET_EXPORT_COLUMNS", "gather", "shown_results", "shown_runs", "stored_targets",
           "target_table"]

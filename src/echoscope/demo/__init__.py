"""``echoscope demo``: simulate a small platform, load it into a study, run every analysis with its default
parameters, write the report, and say what was found.

Why shaped so: the demo is the one place that runs the analyses one after another (the simulator runs none).
It runs them as a user would -- ``coordinate``, ``score``, then ``measure`` (which counts the engagements of
coordinated and high-risk accounts, so it comes after them) -- each storing its tables once. What it prints
is read back from those stored tables by the same code that writes the report: the findings sentences are the
report's own (:func:`echoscope.report.render_report` returns them), and the per-target table is the stored
``amplification_summary``. The console and the report cannot disagree, because nothing here computes a number.
Only the ground-truth comparisons (:mod:`.truth`) are the demo's own: no analysis may read ``truth_*``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..simulate.config import make_config
from ..simulate.platform import simulate
from ..simulate.writers import write_study
from ..store.manifest import MANIFEST
from ..study import Study, open_study
from .truth import compare_flagged, truth_figures, truth_sentence

#: size of the demo platform: small enough that simulate + load + analyses take well under a minute
DEMO_ACCOUNTS = 10_000
DEMO_ENGAGEMENTS = 100_000

#: targets listed in the demo's table: the most amplified ones with at least this many reposts, by the share
#: of reposts from later-suspended accounts
TABLE_TARGETS = 5
TABLE_MIN_REPOSTS = 50

ProgressFn = Callable[[dict[str, Any]], None]


def prepare_out(out: Path) -> None:
    """Remove ``out`` when it is a study (the demo's own, replaced on each run); refuse anything else."""
    if not out.exists():
        return
    if (out / MANIFEST).exists():
        shutil.rmtree(out)
        return
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
        return
    raise ConfigError(f"{out} exists and is not an echoscope study; choose another --out directory "
                      "(the demo only replaces a study)")


def run_analyses(study: Study, progress: ProgressFn | None = None) -> list[dict[str, Any]]:
    """Run coordinate, score and measure with their default parameters, in that order; each stores its tables.

    Returns one entry per analysis: ``analysis``, ``run_id``, ``seconds`` and the stored ``summary``.
    """
    from .. import accounts, coordination, measures

    emit = progress or (lambda e: None)
    steps: list[tuple[str, Any]] = [("coordination", coordination.run), ("accounts", accounts.run),
                                    ("measures", measures.run)]
    out = []
    for name, run in steps:
        emit({"event": "stage", "message": f"running {name}"})
        t0 = time.perf_counter()
        res = run(study, engine=study.engine, progress=progress)
        out.append({"analysis": name, "run_id": res.run_id, "seconds": round(time.perf_counter() - t0, 2),
                    "summary": res.summary})
    return out


def target_rows(study: Study, n: int = TABLE_TARGETS) -> list[dict[str, Any]]:
    """The targets with the largest share of reposts from later-suspended accounts, as the measures stored them."""
    return study.engine.rows(f"""
        SELECT handle, target, "group", reposts, reposts_suspended, share_suspended_reposts, share_within_60s
        FROM amplification_summary
        WHERE scope = 'target' AND week IS NULL AND reposts >= {int(TABLE_MIN_REPOSTS)}
        ORDER BY share_suspended_reposts DESC NULLS LAST, reposts DESC, target LIMIT {int(n)}""")


def run_demo(out_dir: str | Path = ".", *, study_dir: str | Path | None = None, seed: int = 7,
             progress: ProgressFn | None = None) -> dict[str, Any]:
    """Simulate, load, analyse, report; returns what the demo prints.

    Parameters
    ----------
    out_dir : path
        Where ``report.html`` goes (made when missing).
    study_dir : path, optional
        The study the demo makes; default ``<out_dir>/demo-study``. An existing study there is replaced;
        anything else that is not empty is refused.
    seed : int
        Seed of the simulated platform.

    Returns
    -------
    dict
        ``study``, ``seed``, ``platform`` (the simulator's counts), ``findings`` (the report's sentences),
        ``targets`` (the stored per-target rows of the table), ``truth`` (ground-truth sentences and figures),
        ``analyses`` (run ids, seconds, summaries), ``report`` (path) and ``timings``.
    """
    from ..report import render_report

    emit = progress or (lambda e: None)
    out_dir = Path(out_dir)
    out = Path(study_dir) if study_dir is not None else out_dir / "demo-study"
    prepare_out(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    emit({"event": "stage", "message": "simulating a platform"})
    platform = simulate(make_config(accounts=DEMO_ACCOUNTS, engagements=DEMO_ENGAGEMENTS, seed=seed), emit)
    timings["simulate"] = round(time.perf_counter() - t0, 2)
    t1 = time.perf_counter()
    write_study(platform, out, emit)
    timings["load"] = round(time.perf_counter() - t1, 2)
    study = open_study(out)
    t2 = time.perf_counter()
    analyses = run_analyses(study, progress)
    timings["analyses"] = round(time.perf_counter() - t2, 2)
    t3 = time.perf_counter()
    emit({"event": "stage", "message": "writing the report"})
    report_path = out_dir / "report.html"
    rep = render_report(study, report_path, engine=study.engine)
    timings["report"] = round(time.perf_counter() - t3, 2)
    truth = truth_figures(study)
    flagged = study.engine.sql("""SELECT DISTINCT m.account_id FROM coord_members m
        JOIN coord_clusters c USING (cluster_id) WHERE c.coordinated""")
    high = study.engine.sql("SELECT account_id FROM account_scores WHERE high_risk")
    checks = {"coordination": compare_flagged(study, flagged), "accounts": compare_flagged(study, high)}
    truth["sentences"] += [s for s in (truth_sentence(checks["coordination"], "coordinated clusters"),
                                       truth_sentence(checks["accounts"], "high-risk accounts")) if s]
    truth["checks"] = checks
    timings["total"] = round(time.perf_counter() - t0, 2)
    return {"study": str(out), "seed": seed, "platform": {k: v for k, v in platform.stats.items() if k != "config"},
            "findings": rep["findings"], "targets": target_rows(study), "truth": truth, "analyses": analyses,
            "report": rep["path"], "timings": timings}


__all__ = ["DEMO_ACCOUNTS", "DEMO_ENGAGEMENTS", "prepare_out", "run_analyses", "run_demo", "target_rows"]

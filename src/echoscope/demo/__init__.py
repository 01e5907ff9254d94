"""``echoscope demo``: simulate a small platform, load it into a study, run every analysis that exists, and say
what was found in plain sentences.

The demo's own findings are computed with SQL from the study's tables (the same joins a user would write),
so they show the published figures *emerging from the data*: the share of target retweets that came from
accounts later suspended, the share made by the top 1% of amplifiers, the share within 60 seconds, and how
these compare with the simulator's ground truth.

Hook for later analyses (kept deliberately simple): :data:`ANALYSIS_MODULES` lists modules; the demo imports
each one that exists and, if it defines ::

    def demo_findings(study: echoscope.Study) -> list[str]

calls it and prints the sentences it returns (it may also write result tables into the study). A module may
also define ``demo_report(study, out_dir: pathlib.Path) -> pathlib.Path`` to write a report file; the demo
prints its path. A module that is missing, or lacks the hook, is skipped silently; a hook that raises is
reported as skipped with the error, and the demo goes on.
"""

from __future__ import annotations

import importlib
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

#: modules asked for ``demo_findings(study)`` / ``demo_report(study, out_dir)``, in this order
#: coordination and account scores come before the measures, which count engagements from coordinated and
#: high-risk accounts; the report comes last and shows every result table
ANALYSIS_MODULES: tuple[str, ...] = ("echoscope.demo.coordination", "echoscope.demo.accounts",
                                     "echoscope.demo.measures", "echoscope.demo.report")

#: size of the demo platform: small enough that simulate + load + analyses take well under a minute
DEMO_ACCOUNTS = 10_000
DEMO_ENGAGEMENTS = 100_000

ProgressFn = Callable[[dict[str, Any]], None]

_SUSPENDED = "(SELECT DISTINCT account_id FROM account_status WHERE status = 'suspended')"
_TARGET_RT = """(SELECT e.*, t.handle AS target, t."group" AS grp FROM engagements e
                 JOIN targets t ON e.subject_account_id = t.account_id WHERE e.kind = 'repost')"""


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


def sql_findings(study: Study) -> dict[str, Any]:
    """The figures of the AP/OII analysis, computed with SQL from the study, plus the ground-truth check."""
    def one(q: str) -> dict[str, Any]:
        return study.sql(q).to_pylist()[0]

    overall = one(f"""
        SELECT count(*) AS retweets, count(DISTINCT actor_id) AS amplifiers,
               avg(CASE WHEN actor_id IN {_SUSPENDED} THEN 1.0 ELSE 0.0 END) AS share_suspended,
               avg(CASE WHEN latency_s <= 60 THEN 1.0 ELSE 0.0 END) AS share_within_60s
        FROM {_TARGET_RT} rt""")
    per_target = study.sql(f"""
        SELECT target, grp AS "group", count(*) AS retweets,
               avg(CASE WHEN actor_id IN {_SUSPENDED} THEN 1.0 ELSE 0.0 END) AS share_suspended,
               avg(CASE WHEN latency_s <= 60 THEN 1.0 ELSE 0.0 END) AS share_within_60s
        FROM {_TARGET_RT} rt GROUP BY 1, 2 HAVING count(*) >= 50
        ORDER BY share_suspended DESC, target""").to_pylist()
    top = one(f"""
        WITH a AS (SELECT actor_id, count(*) AS n FROM {_TARGET_RT} rt GROUP BY 1),
             r AS (SELECT n, row_number() OVER (ORDER BY n DESC, actor_id) AS k, count(*) OVER () AS m FROM a)
        SELECT sum(CASE WHEN k <= ceil(m * 0.01) THEN n ELSE 0 END) * 1.0 / sum(n) AS top1_share,
               max(CASE WHEN k <= ceil(m * 0.01) THEN k END) AS top1_accounts FROM r""")
    labels = one("""SELECT count(*) AS targets, count(label) AS labelled FROM targets""")
    truth = one(f"""
        WITH rt AS (SELECT rt.*, te.planted FROM {_TARGET_RT} rt
                    JOIN truth_engagements te ON te.engagement_id = rt.engagement_id)
        SELECT avg(CASE WHEN planted THEN 1.0 ELSE 0.0 END) AS planted_share,
               avg(CASE WHEN planted AND actor_id NOT IN {_SUSPENDED} THEN 1.0 ELSE 0.0 END) AS planted_unsuspended,
               avg(CASE WHEN NOT planted AND actor_id IN {_SUSPENDED} THEN 1.0 ELSE 0.0 END) AS organic_suspended
        FROM rt""")
    camp = one(f"""
        SELECT count(*) AS campaign_accounts,
               avg(CASE WHEN account_id IN {_SUSPENDED} THEN 1.0 ELSE 0.0 END) AS campaign_suspended
        FROM truth_accounts WHERE truth = 'campaign'""")
    return {"overall": overall, "per_target": per_target, "top1": top, "labels": labels, "truth": truth,
            "campaigns": camp}


def sentences(f: dict[str, Any]) -> list[str]:
    """Plain-language findings with their numbers."""
    o, t, top, lab, c = f["overall"], f["truth"], f["top1"], f["labels"], f["campaigns"]
    out = [f"The targets received {o['retweets']:,} retweets from {o['amplifiers']:,} accounts."]
    if f["per_target"]:
        w = f["per_target"][0]
        out.append(f"@{w['target']} ({w['group']}) got {w['share_suspended']:.0%} of its {w['retweets']:,} "
                   "retweets from accounts that were later suspended.")
    out.append(f"Across all targets, {o['share_suspended']:.1%} of retweets came from later-suspended accounts "
               "(the AP/OII study: more than one in ten).")
    out.append(f"The top 1% of amplifiers ({top['top1_accounts']:,} accounts) made {top['top1_share']:.0%} of "
               "the retweets (the study: nearly half).")
    out.append(f"{o['share_within_60s']:.0%} of retweets came within 60 seconds of the original post.")
    out.append(f"{lab['labelled']} of {lab['targets']} targets ({lab['labelled'] / max(1, lab['targets']):.0%}) "
               "carry an affiliation label (the study: 14%).")
    out.append(f"Ground truth: {t['planted_share']:.1%} of the targets' retweets were planted by campaigns; "
               f"{t['planted_unsuspended']:.1%} were planted by accounts never suspended (missed by a count of "
               f"suspended accounts) and {t['organic_suspended']:.1%} came from organic accounts suspended for "
               "other reasons.")
    out.append(f"Enforcement caught {c['campaign_suspended']:.0%} of the {c['campaign_accounts']:,} campaign "
               "accounts.")
    return out


def run_analyses(study: Study, out_dir: Path) -> list[dict[str, Any]]:
    """Call the hook of every analysis module present (see the module docstring)."""
    results = []
    for name in ANALYSIS_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for hook in ("demo_findings", "demo_report"):
            fn = getattr(module, hook, None)
            if fn is None:
                continue
            t0 = time.perf_counter()
            try:
                value = fn(study) if hook == "demo_findings" else fn(study, out_dir)
                entry: dict[str, Any] = {"module": name, "hook": hook, "status": "ok"}
                if hook == "demo_findings":
                    entry["findings"] = [str(s) for s in value or []]
                else:
                    entry["report"] = str(value)
            except Exception as exc:
                entry = {"module": name, "hook": hook, "status": "skipped",
                         "reason": f"{type(exc).__name__}: {exc}"}
            entry["seconds"] = round(time.perf_counter() - t0, 2)
            results.append(entry)
    return results


def run_demo(out_dir: str | Path = ".", *, study_dir: str | Path | None = None, seed: int = 7,
             progress: ProgressFn | None = None) -> dict[str, Any]:
    """Simulate, load, analyse; returns the findings (numbers, sentences, analyses run, timings).

    Parameters
    ----------
    out_dir : path
        Where ``report.html`` goes (made when missing).
    study_dir : path, optional
        The study the demo makes; default ``<out_dir>/demo-study``. An existing study there is replaced;
        anything else that is not empty is refused.
    seed : int
        Seed of the simulated platform.
    """
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
    emit({"event": "stage", "message": "computing findings"})
    figures = sql_findings(study)
    timings["findings"] = round(time.perf_counter() - t2, 2)
    t3 = time.perf_counter()
    analyses = run_analyses(study, out_dir)
    timings["analyses"] = round(time.perf_counter() - t3, 2)
    timings["total"] = round(time.perf_counter() - t0, 2)
    return {"study": str(out), "seed": seed, "platform": {k: v for k, v in platform.stats.items() if k != "config"},
            "figures": figures, "sentences": sentences(figures), "analyses": analyses, "timings": timings}


__all__ = ["ANALYSIS_MODULES", "prepare_out", "run_analyses", "run_demo", "sentences", "sql_findings"]

"""Report generation time and size: the demo study and a large simulated study (issue 8's targets).

    python benchmarks/bench_report.py [--sizes 10000:100000,1000000:5000000] [--seed 7] [--out DIR]
                                      [--skip-measures] [--no-write]

For each ``accounts:engagements`` size: simulate a platform (:mod:`echoscope.simulate`, defaults otherwise),
load it into a study, run the analyses the report shows -- coordination (co-retweet), account scores, then
the amplification measures unless ``--skip-measures`` (last, since they read the clusters and the scores) --
then time ``echoscope report`` and ``echoscope export --to gexf,csv`` each in a fresh process (the report's own
queries included, Python start-up excluded) and record the HTML size and peak RSS. The first size is the
demo's (``echoscope demo`` simulates 10,000 accounts and 100,000 engagements). Results go to the "## Report"
section of benchmarks/RESULTS.md, or only to stdout with ``--no-write``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from procstat import peak_rss_bytes  # noqa: E402  (this process's own peak, see procstat.py)


def child(kind: str, study: str, target: str) -> None:
    """One timed step in this (fresh) process; prints a JSON line."""
    import echoscope

    s = echoscope.open_study(study)
    t = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    if kind == "report":
        from echoscope.report.html import render_report

        res = render_report(s, target)
        extra = {"bytes": res["bytes"]}
    else:
        from echoscope.report.exports import export_study

        files = export_study(s, ["gexf", "csv"], target)
        extra = {"bytes": sum(Path(f).stat().st_size for f in files) if files else 0}
    el = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"seconds": el, "cpu": cpu, "peak_rss": peak_rss_bytes(), **extra}))


def run_child(kind: str, study: Path, target: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(study), str(target)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare(study: Path, accounts: int, engagements: int, seed: int, measures: bool) -> dict[str, float]:
    """Simulate, load and analyse; returns the seconds of each stage."""
    import echoscope
    from echoscope.accounts import score_study
    from echoscope.coordination import CoordParams, coordinate
    from echoscope.measures import measures as run_measures
    from echoscope.simulate.config import make_config
    from echoscope.simulate.platform import simulate
    from echoscope.simulate.writers import write_study

    times: dict[str, float] = {}
    t = time.perf_counter()
    platform = simulate(make_config(accounts=accounts, engagements=engagements, seed=seed), None)
    write_study(platform, study, lambda e: None)
    del platform
    times["simulate+load"] = time.perf_counter() - t
    s = echoscope.open_study(study)
    t = time.perf_counter()
    coordinate(s, CoordParams(behaviours=("co-retweet",)))  # the runs before 2026-12-06 (the default then)
    times["coordinate"] = time.perf_counter() - t
    t = time.perf_counter()
    score_study(s)
    times["score"] = time.perf_counter() - t
    if measures:  # after coordination and scores: the measures' coordinated and high-risk shares read them
        t = time.perf_counter()
        run_measures(s).write()
        times["measures"] = time.perf_counter() - t
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3)
    ap.add_argument("--sizes", default="10000:100000,1000000:5000000")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "report"))
    ap.add_argument("--skip-measures", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print the results section, leave RESULTS.md alone")
    a = ap.parse_args()
    if a.child:
        child(*a.child)
        return
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in a.sizes.split(","):
        n_acc, n_eng = (int(x) for x in spec.split(":"))
        study = out / f"study-{n_acc}"
        if study.exists():
            shutil.rmtree(study)
        load0 = os.getloadavg()[0]
        stages = prepare(study, n_acc, n_eng, a.seed, not a.skip_measures)
        rep = run_child("report", study, out / f"report-{n_acc}.html")
        exp_dir = out / f"export-{n_acc}"
        if exp_dir.exists():
            shutil.rmtree(exp_dir)
        exp = run_child("export", study, exp_dir)
        row = {"accounts": n_acc, "engagements": n_eng, "stages": stages, "report": rep, "export": exp,
               "load": (load0, os.getloadavg()[0])}
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    lines = ["## Report", "",
             f"Command: `python benchmarks/bench_report.py --sizes {a.sizes}`. Date: {time.strftime('%Y-%m-%d')}. "
             f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}. Each study is simulated (seed "
             f"{a.seed}) and analysed with defaults (coordination, account scores"
             f"{'' if a.skip_measures else ', amplification measures'}); the report and the export (GEXF + CSV "
             "of every result table) are each timed in a fresh process. Load = 1-minute load average before / "
             "after the row (the machine may be shared).", "",
             "| accounts | engagements | report time (CPU) | report size | report peak RSS | export time (CPU) | "
             "export size | analyses (s) | load |",
             "|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        st = ", ".join(f"{k} {v:.0f}" for k, v in r["stages"].items())
        lines.append(f"| {r['accounts']:,} | {r['engagements']:,} | {r['report']['seconds']:.1f} s "
                     f"({r['report']['cpu']:.1f} s) | "
                     f"{r['report']['bytes'] / 2**20:.2f} MiB | {r['report']['peak_rss'] / 2**20:,.0f} MiB | "
                     f"{r['export']['seconds']:.1f} s ({r['export']['cpu']:.1f} s) | "
                     f"{r['export']['bytes'] / 2**20:,.1f} MiB | {st} | "
                     f"{r['load'][0]:.1f} / {r['load'][1]:.1f} |")
    section = "\n".join(lines) + "\n"
    print(section)
    if a.no_write:
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from results_md import replace_section  # type: ignore[import-not-found]

    replace_section("Report", section)


if __name__ == "__main__":
    main()

"""Benchmark the simulator: generation speed and peak memory at 1M and 10M engagements.

Each size runs in a fresh subprocess so its peak RSS (``resource.getrusage``) is its own. Generation means
``simulate()`` producing the complete platform (accounts, posts with texts, status, logins, targets, ground
truth) as compact Arrow tables; converting to the canonical string schema and loading into a study are timed
separately because they are the ingest's cost, not the simulator's (``--load`` adds a study load).

    python benchmarks/bench_simulate.py                  # 1M and 10M engagements, prints a Markdown section
    python benchmarks/bench_simulate.py --sizes 1000000 --load
"""

from __future__ import annotations

import argparse
import json
import os
import platform as pyplatform
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time, tempfile, shutil
import pandas  # noqa: F401  (pyarrow imports it on first use; keep that one-off cost out of the timing)
from echoscope.simulate import make_config, simulate
from echoscope.simulate.writers import write_study
accounts, engagements, seed, load = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
simulate(make_config(accounts=2_000, engagements=10_000, seed=1))  # warm-up (imports, pools)
stages = {}
last = [time.perf_counter()]
def cb(e):
    now = time.perf_counter(); stages[e["message"]] = now; last[0] = now
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
p = simulate(make_config(accounts=accounts, engagements=engagements, seed=seed), cb)
t1 = time.perf_counter()
names = list(stages)
durations = {n: round((stages[names[i + 1]] if i + 1 < len(names) else t1) - stages[n], 2) for i, n in enumerate(names)}
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu_gen = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
sys_gen = r1.ru_stime - r0.ru_stime
rss_gen = r1.ru_maxrss / 1024
t2 = time.perf_counter()
rows = 0
for name in p.TABLES:
    for b in p.batches(name, 500_000):
        rows += b.num_rows
t3 = time.perf_counter()
out = {"accounts": accounts, "engagements": p.stats["engagements"], "posts": p.stats["posts"],
       "generate_s": round(t1 - t0, 2), "generate_cpu_s": round(cpu_gen, 2), "generate_sys_s": round(sys_gen, 2),
       "stages_s": durations, "peak_rss_mib_generate": round(rss_gen),
       "canonical_s": round(t3 - t2, 2)}
if load:
    d = tempfile.mkdtemp()
    t4 = time.perf_counter()
    try:
        write_study(p, __import__("pathlib").Path(d) / "study")
        out["study_load_s"] = round(time.perf_counter() - t4, 2)
    except Exception as exc:  # the ingest's failure is a result too (e.g. DuckDB out of memory at 10M)
        out["study_load_s"] = f"failed after {time.perf_counter() - t4:.0f} s: {type(exc).__name__}: {str(exc)[:120]}"
    shutil.rmtree(d, ignore_errors=True)
out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
"""


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "unknown"
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": mem, "python": pyplatform.python_version()}


def run(accounts: int, engagements: int, seed: int, load: bool) -> dict:
    load_before = round(os.getloadavg()[0], 1)
    r = subprocess.run([sys.executable, "-c", CHILD, str(accounts), str(engagements), str(seed), "1" if load else "0"],
                       capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONWARNINGS": "ignore"})
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["load_average_before"] = load_before
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,10000000", help="engagement counts, comma separated")
    ap.add_argument("--accounts-per-engagement", type=float, default=0.1,
                    help="accounts = this x engagements (default 0.1: 100k accounts for 1M engagements)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--load", action="store_true", help="also load each platform into a study (ingest cost)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    for e in (int(x) for x in args.sizes.split(",")):
        res = run(int(e * args.accounts_per_engagement), e, args.seed, args.load)
        res["engagements_per_s"] = round(res["engagements"] / res["generate_s"])
        res["engagements_per_cpu_s"] = round(res["engagements"] / res["generate_cpu_s"])
        res["load_average"] = round(os.getloadavg()[0], 1)
        results.append(res)
        print(json.dumps(res), file=sys.stderr)
    m = machine()
    if args.json:
        print(json.dumps({"machine": m, "results": results}, indent=2))
        return
    print(f"Machine: {m['nproc']} cores ({m['cpu']}), {m['ram']} RAM, Python {m['python']}; "
          f"{time.strftime('%Y-%m-%d')}; `python benchmarks/bench_simulate.py{' --load' if args.load else ''}`\n")
    print("| engagements | accounts | posts | generate wall (s) | generate CPU (s) (of it system) | "
          "engagements/s (wall) | engagements/CPU-s | peak RSS (MiB) | to canonical (s) | load avg before/after |"
          + (" study load (s) |" if args.load else ""))
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if args.load else ""))
    for r in results:
        print(f"| {r['engagements']:,} | {r['accounts']:,} | {r['posts']:,} | {r['generate_s']} | "
              f"{r['generate_cpu_s']} ({r['generate_sys_s']}) | {r['engagements_per_s']:,} | "
              f"{r['engagements_per_cpu_s']:,} | {r['peak_rss_mib']:,} | {r['canonical_s']} | "
              f"{r['load_average_before']} / {r['load_average']} |"
              + (f" {r.get('study_load_s')} |" if args.load else ""))
    print()
    for r in results:
        print(f"- {r['engagements']:,}: stages " + ", ".join(f"{k} {v} s" for k, v in r["stages_s"].items()))


if __name__ == "__main__":
    main()

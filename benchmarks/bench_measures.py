"""Benchmark: all amplification measures for all targets on N synthetic engagements (DuckDB, optionally Spark).

Canonical tables are generated with numpy (power-law amplifier activity, 365 targets, 60% reposts, 25% likes,
10% replies, 5% quotes, latencies log-normal with a fast bot share, half the accounts status-checked), loaded
once into a study under ``--dir`` (loading is not timed), then ``measures(...).write()`` runs in a fresh
subprocess per size so that peak RSS is that run's alone. Each result line also gives the process CPU time
(both DuckDB threads; includes interpreter start-up and imports; with ``--engine spark`` plus the local JVM's,
read from /proc, and its peak RSS added) and the 1-minute load average before and after the run, because the
machine is shared.

    python benchmarks/bench_measures.py --sizes 1000000 5000000 [--engine spark]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from procstat import peak_rss_mib


def make_tables(n: int, seed: int = 1) -> dict[str, pa.Table]:
    from echoscope import schema as S

    rng = np.random.default_rng(seed)
    n_targets, n_posts = 365, max(1000, n // 25)
    n_acc = max(1000, n // 10)
    t0 = int(dt.datetime(2020, 6, 1, tzinfo=dt.timezone.utc).timestamp() * 1e6)
    span = 270 * 86400 * 10**6
    post_author = rng.integers(0, n_targets, n_posts)
    post_time = t0 + rng.integers(0, span, n_posts)
    ts = pa.timestamp("us", tz="UTC")
    originals = {
        "platform": pa.array(["twitter"] * n_posts),
        "post_id": pa.array([f"p{i}" for i in range(n_posts)]),
        "account_id": pa.array([f"t{i}" for i in post_author]),
        "created_at": pa.array(post_time, ts),
        "kind": pa.array(["original"] * n_posts),
    }
    # engagements: which post (zipf-ish popularity), which actor (power-law activity), kind, latency
    post_of = (rng.pareto(1.2, n) * n_posts / 50).astype(np.int64) % n_posts
    actor = (rng.pareto(1.1, n) * n_acc / 100).astype(np.int64) % n_acc
    kind = rng.choice(np.array(["repost", "like", "reply", "quote"]), n, p=[0.6, 0.25, 0.1, 0.05])
    fast = actor < n_acc // 100  # the busiest 1% of accounts also react within seconds
    lat = np.where(fast, rng.uniform(1, 20, n), rng.lognormal(7, 2, n)).astype(np.int64) + 1
    when = post_time[post_of] + lat * 10**6
    is_like = kind == "like"
    sel = ~is_like
    m = int(sel.sum())
    reposts = {
        "platform": pa.array(["twitter"] * m),
        "post_id": pa.array([f"e{i}" for i in np.flatnonzero(sel)]),
        "account_id": pa.array([f"a{i}" for i in actor[sel]]),
        "created_at": pa.array(when[sel], ts),
        "kind": pa.array(kind[sel]),
        "ref_post_id": pa.array([f"p{i}" for i in post_of[sel]]),
        "ref_account_id": pa.array([f"t{i}" for i in post_author[post_of[sel]]]),
    }
    posts = pa.concat_tables([S.conform(pa.table(originals), S.POSTS), S.conform(pa.table(reposts), S.POSTS)])
    likes = pa.table({
        "platform": pa.array(["twitter"] * int(is_like.sum())),
        "account_id": pa.array([f"a{i}" for i in actor[is_like]]),
        "post_id": pa.array([f"p{i}" for i in post_of[is_like]]),
        "created_at": pa.array(when[is_like], ts),
    })
    checked = np.flatnonzero(rng.random(n_acc) < 0.5)
    status = rng.choice(np.array(["active", "suspended", "deleted"]), len(checked), p=[0.85, 0.12, 0.03])
    account_status = pa.table({
        "platform": pa.array(["twitter"] * len(checked)),
        "account_id": pa.array([f"a{i}" for i in checked]),
        "status": pa.array(status),
        "checked_at": pa.array(np.full(len(checked), t0 + 300 * 86400 * 10**6), ts),
    })
    return {"posts": posts, "likes": S.conform(likes, S.LIKES),
            "account_status": S.conform(account_status, S.ACCOUNT_STATUS)}


def build(path: Path, n: int) -> None:
    import echoscope
    from echoscope.store.targets import add_targets

    if (path / "manifest.json").exists():
        return
    s = echoscope.init_study(path)
    s.load_arrow(make_tables(n))
    add_targets(s, [(f"t{i}", None, "diplomats" if i < 189 else "state media",
                     "China government account" if i % 7 == 0 else None) for i in range(365)])


def _children_usage() -> tuple[float, float]:
    """CPU seconds and peak RSS (MiB) of this process's running descendants (Linux /proc; the Spark JVM)."""
    kids: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            kids[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])  # ppid
    mine, todo = set(), [os.getpid()]
    while todo:
        parent = todo.pop()
        for pid, ppid in kids.items():
            if ppid == parent and pid not in mine:
                mine.add(pid)
                todo.append(pid)
    tick = os.sysconf("SC_CLK_TCK")
    cpu = peak = 0.0
    for pid in mine:
        try:
            fields = (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]).split()
            cpu += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak += int(line.split()[1]) / 1024
        except OSError:
            continue
    return cpu, peak


def run_one(path: Path, engine: str) -> dict:
    import echoscope
    from echoscope.measures import measures

    s = echoscope.open_study(path)
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    m = measures(s, engine=engine, cache=os.environ.get("BENCH_CACHE") == "1" or None)
    written = m.write()
    secs = time.perf_counter() - t
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime  # all threads of this process (DuckDB uses both cores)
    peak = peak_rss_mib()  # this process's own peak (not ru_maxrss: see procstat.py)
    if engine == "spark":  # the JVM is a running child process: getrusage(RUSAGE_CHILDREN) does not see it yet
        child_cpu, child_peak = _children_usage()
        cpu += child_cpu
        peak += child_peak
    n_eng = s.sql("SELECT count(*) AS n FROM engagements")["n"][0].as_py()
    return {"engagements": n_eng, "seconds": round(secs, 2), "cpu_s": round(cpu, 1), "peak_rss_mib": round(peak),
            "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2), "rows": written}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--engine", default="duckdb")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/echoscope-bench-measures"))
    ap.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print(json.dumps(run_one(a.one, a.engine)))
        return
    print(f"# machine: {platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}")
    for n in a.sizes:
        path = a.dir / f"n{n}"
        t = time.perf_counter()
        build(path, n)
        load = time.perf_counter() - t
        out = subprocess.run([sys.executable, __file__, "--one", str(path), "--engine", a.engine],
                             capture_output=True, text=True, check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res.update(n=n, engine=a.engine, build_s=round(load, 1))
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

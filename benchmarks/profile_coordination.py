"""Where a coordination run spends its time and memory: per query, in one process.

Usage::

    python benchmarks/profile_coordination.py STUDY [--behaviour co-retweet,co-text] [--top 25]

Runs the default ``echoscope coordinate`` (or the behaviours named) on STUDY without writing results, with the
run's DuckDB connection wrapped so that every statement is timed and labelled by the echoscope function and line
that issued it. A thread samples the process's resident memory (``VmRSS``) and DuckDB's own count
(``duckdb_memory()``, from a second cursor of the same database) every 0.25 s and keeps, per label, the highest
RSS seen while that statement (or the Python after it, ``+py``) ran, with DuckDB's and Arrow's memory at that
moment. Prints the run's seconds per behaviour, the labels with the highest peaks and the slowest labels, how the
DuckDB time splits by statement length, and the DuckDB seconds per stage (each behaviour, then validation and
clusters) with the slowest statements of each.

The wrapper and the sampler cost a few percent of the run's time; the peak RSS of the CLI under
``/usr/bin/time`` is the figure to quote, this script says where it is.
"""

from __future__ import annotations

import argparse
import collections
import threading
import time
import traceback
from typing import Any

import pyarrow as pa


def _rss_gib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    return 0.0


class _Profile:
    def __init__(self) -> None:
        self.label = "start"
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.calls: dict[str, int] = collections.defaultdict(int)
        self.peak: dict[str, tuple[float, float, float]] = {}
        self.cursor: Any = None
        self.stop = False
        # the stage a statement belongs to: the behaviour being built, or "after" (validation, clusters)
        self.stage = "setup"
        self.by_stage: dict[tuple[str, str], float] = collections.defaultdict(float)
        self.durations: list[float] = []

    def progress(self, event: dict[str, Any]) -> None:
        """The run's progress events name the behaviour being built, then the clustering."""
        if event.get("event") != "stage":
            return
        msg = str(event.get("message", ""))
        if msg.startswith("clustering"):
            self.stage = "after"
        elif ":" in msg and not msg.startswith("null model"):
            self.stage = msg.split(":", 1)[0]

    def sample(self) -> None:
        while not self.stop:
            rss, label, duck = _rss_gib(), self.label, -1.0
            if self.cursor is not None:
                try:
                    duck = float(self.cursor.execute(
                        "SELECT sum(memory_usage_bytes) / 2^30 FROM duckdb_memory()").fetchone()[0])
                except Exception:  # the sampler must not stop the run
                    duck = -1.0
            if rss > self.peak.get(label, (0.0, 0.0, 0.0))[0]:
                self.peak[label] = (rss, duck, pa.total_allocated_bytes() / 2**30)
            time.sleep(0.25)


class _Connection:
    """The DuckDB connection with ``execute`` timed and labelled (everything else passed through)."""

    def __init__(self, con: Any, prof: _Profile) -> None:
        self._con, self._prof = con, prof
        if prof.cursor is None:
            prof.cursor = con.cursor()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, sql: Any, *args: Any, **kw: Any) -> Any:
        frames = [f for f in traceback.extract_stack(limit=10)[:-1]
                  if "echoscope" in f.filename and not f.filename.endswith("backends.py")]
        label = f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].name}:{frames[-1].lineno}" if frames else "?"
        self._prof.label = label
        t = time.perf_counter()
        try:
            return self._con.execute(sql, *args, **kw)
        finally:
            d = time.perf_counter() - t
            self._prof.seconds[label] += d
            self._prof.calls[label] += 1
            self._prof.by_stage[(self._prof.stage, label)] += d
            self._prof.durations.append(d)
            self._prof.label = label + "+py"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study")
    ap.add_argument("--behaviour", default=None, help="comma-separated behaviours (default: the default set)")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()

    import echoscope
    from echoscope.coordination import api
    from echoscope.coordination.params import CoordParams

    prof = _Profile()
    run_inner = api._coordinate
    api._coordinate = lambda con, *x, **k: run_inner(_Connection(con, prof), *x, **k)
    threading.Thread(target=prof.sample, daemon=True).start()
    study = echoscope.open_study(a.study)
    params = CoordParams(behaviours=a.behaviour.split(",")) if a.behaviour else CoordParams()
    t = time.perf_counter()
    res = api.run(study, params, write=False, progress=prof.progress)
    prof.stop = True
    print(f"{time.perf_counter() - t:.1f} s, {res.summary['flagged_accounts']} flagged, "
          f"peak RSS {max(v[0] for v in prof.peak.values()):.2f} GiB")
    for b, st in res.summary["behaviours"].items():
        print(f"  {b}: {st['seconds']} s")
    print("highest RSS while a statement (or the Python after it, +py) ran: RSS / DuckDB / Arrow GiB")
    for label, (rss, duck, arrow) in sorted(prof.peak.items(), key=lambda kv: -kv[1][0])[:a.top]:
        print(f"  {rss:5.2f} / {duck:5.2f} / {arrow:5.2f}  {label}")
    print("slowest statements: seconds, calls")
    for label, s in sorted(prof.seconds.items(), key=lambda kv: -kv[1])[:a.top]:
        print(f"  {s:7.2f} {prof.calls[label]:5d}  {label}")
    d = sorted(prof.durations)
    print(f"{len(d)} statements, {sum(d):.1f} s in DuckDB; by length:")
    for lo, hi in ((0, 0.01), (0.01, 0.05), (0.05, 0.2), (0.2, 1.0), (1.0, float("inf"))):
        part = [x for x in d if lo <= x < hi]
        print(f"  {lo:>5g}-{hi:<5g} s: {len(part):5d} statements, {sum(part):7.2f} s")
    stages: dict[str, float] = collections.defaultdict(float)
    for (stage, _), s in prof.by_stage.items():
        stages[stage] += s
    print("seconds in DuckDB per stage (the behaviour being built; after: validation and clusters)")
    for stage, s in stages.items():
        print(f"  {s:7.2f}  {stage}")
    funcs: dict[str, float] = collections.defaultdict(float)
    fcalls: dict[str, int] = collections.defaultdict(int)
    for label, s in prof.seconds.items():
        fn = label.rsplit(":", 1)[0].removesuffix("+py")
        funcs[fn] += s
        fcalls[fn] += prof.calls[label]
    print("seconds in DuckDB per function (every statement it issued): seconds, calls")
    for fn, s in sorted(funcs.items(), key=lambda kv: -kv[1])[:a.top]:
        print(f"  {s:7.2f} {fcalls[fn]:5d}  {fn}")
    print("slowest statements per stage: seconds")
    for (stage, label), s in sorted(prof.by_stage.items(), key=lambda kv: -kv[1])[:a.top]:
        print(f"  {s:7.2f}  {stage:14s} {label}")


if __name__ == "__main__":
    main()

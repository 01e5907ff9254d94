"""Benchmark: ``echoscope coordinate`` (co-retweet) on Spark local against DuckDB, same input, same result.

Usage::

    python benchmarks/bench_coordination_spark.py 1000000 [--reps 0] [--generator powerlaw|bursts|simulator]
        [--driver-memory 2g] [--workdir /tmp/bench-cspark]

For each size: the power-law retweets of ``bench_coordination.generate`` (or ``--generator bursts``: its
``generate_bursts``, Zipf popularity with explicit viral bursts) are loaded into a fresh study (not
timed); the Spark session is started (timed apart: a fixed cost of the JVM); then the default run without the
null model (pruning + dense-window guard + pairing + clusters; 60 s window, minimum weight 2) is timed on
DuckDB and on Spark local[2], and the two results are compared (edges, weights, clusters, members). With
``--reps N`` the run with the object-timeline null model (N shuffles, validation) is timed on both as well.
Peak memory is the peak resident set of this process plus its children (the Spark JVM), sampled every 50 ms.
Prints one JSON object per size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_coordination import GENERATORS


class PeakTreeRSS:
    """Peak resident set of this process and all its children (the Spark JVM), sampled in a thread."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> int:
        total = self.proc.memory_info().rss
        for c in self.proc.children(recursive=True):
            try:
                total += c.memory_info().rss
            except Exception:  # a child that just ended
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.05)

    def __enter__(self) -> PeakTreeRSS:
        self.peak = self._rss()
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def _equal(a, b) -> dict:
    """Whether two results agree: exact on ids, counts and judgements, 1e-9 relative on float sums."""
    import numpy as np
    import pyarrow as pa

    out = {}
    for name in ("edges", "clusters", "members", "evidence"):
        x, y = getattr(a, name), getattr(b, name)
        ok = x.num_rows == y.num_rows and x.schema == y.schema
        if ok:
            for c in x.column_names:
                if pa.types.is_floating(x.schema.field(c).type):
                    u = np.asarray(x[c].to_numpy(zero_copy_only=False), dtype=float)
                    v = np.asarray(y[c].to_numpy(zero_copy_only=False), dtype=float)
                    ok &= bool(np.allclose(u, v, rtol=1e-9, atol=1e-12, equal_nan=True))
                elif c != "evidence":
                    ok &= x[c].to_pylist() == y[c].to_pylist()
        out[name] = ok
    return out


def run_size(n: int, workdir: Path, reps: int, generator: str = "powerlaw", post_zipf: float = 1.1) -> dict:
    import echoscope
    from echoscope.coordination import CoordParams, run
    from echoscope.engine import open_engine, spark_session

    path = workdir / f"study-{n}"
    shutil.rmtree(path, ignore_errors=True)
    s = echoscope.init_study(path)
    cfg = (path / "echoscope.toml").read_text().replace('memory_limit = "1GB"', 'memory_limit = "3GB"')
    (path / "echoscope.toml").write_text(cfg)
    s.load_arrow({"posts": GENERATORS[generator](n, post_zipf)})
    res: dict = {"engagements": n, "generator": generator, "load_before": os.getloadavg()}
    params = CoordParams(behaviours=("co-retweet",), window=60, min_weight=2, min_repeat=2, null="none")
    # the same run on each backend of the engine (Engine.backend); each engine has its own DuckDB connection
    duck, spark = open_engine(s, backend="duckdb"), open_engine(s, backend="spark")
    with PeakTreeRSS() as mem:
        t = time.perf_counter()
        d = run(s, params, engine=duck, write=False)
        res["duckdb_s"] = round(time.perf_counter() - t, 2)
    res["duckdb_peak_rss_gib"] = round(mem.peak / 2**30, 2)
    res["load_after_duckdb"] = os.getloadavg()
    t = time.perf_counter()
    spark_session()
    res["spark_session_start_s"] = round(time.perf_counter() - t, 2)
    with PeakTreeRSS() as mem:
        t = time.perf_counter()
        sp = run(s, params, engine=spark, write=False)
        res["spark_s"] = round(time.perf_counter() - t, 2)
    res["spark_peak_rss_gib"] = round(mem.peak / 2**30, 2)
    res["load_after_spark"] = os.getloadavg()
    st = sp.summary["behaviours"]["co-retweet"]
    res.update({k: st.get(k) for k in ("actions_after_pruning", "actions_paired", "pairs_within_window",
                                       "pair_object_rows", "candidate_edges")})
    res["guard_dropped"] = st["guard"]["actions_dropped"]
    res["clusters"] = sp.summary["clusters"]
    res["equal"] = _equal(d, sp)
    res["stats_equal"] = {k: st.get(k) == d.summary["behaviours"]["co-retweet"].get(k) for k in st
                          if k not in ("seconds", "spark_seconds")}
    if reps > 0:
        p2 = CoordParams(behaviours=("co-retweet",), window=60, min_weight=2, min_repeat=2, null="object", reps=reps)
        t = time.perf_counter()
        d2 = run(s, p2, engine=duck, write=False)
        res["duckdb_with_null_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        s2 = run(s, p2, engine=spark, write=False)
        res["spark_with_null_s"] = round(time.perf_counter() - t, 2)
        res["with_null_equal"] = _equal(d2, s2)
        res["significant_edges"] = s2.summary["significant_edges"]
        res["coordinated_clusters"] = s2.summary["coordinated_clusters"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="+", type=int)
    ap.add_argument("--reps", type=int, default=0, help="also time the run with the object null (N shuffles)")
    ap.add_argument("--driver-memory", default="2g", help="Spark driver (JVM) heap; local mode runs in it")
    ap.add_argument("--generator", choices=tuple(GENERATORS), default="powerlaw",
                    help="input, as bench_coordination.py --generator (bursts: Zipf popularity plus viral bursts)")
    ap.add_argument("--post-zipf", type=float, default=1.1, help="Zipf exponent of post popularity")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench-cspark"))
    a = ap.parse_args()
    # the JVM's heap is fixed when it starts: set before the session exists
    os.environ.setdefault("PYSPARK_SUBMIT_ARGS", f"--driver-memory {a.driver_memory} pyspark-shell")
    a.workdir.mkdir(parents=True, exist_ok=True)
    for n in a.sizes:
        print(json.dumps(run_size(n, a.workdir, a.reps, a.generator, a.post_zipf)), flush=True)


if __name__ == "__main__":
    main()

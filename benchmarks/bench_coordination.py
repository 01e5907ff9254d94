"""Benchmark of ``echoscope coordinate`` (co-retweet) on power-law synthetic retweets.

Usage::

    python benchmarks/bench_coordination.py 1000000 5000000 [--behaviour co-retweet] [--reps 10] [--cnt] [--coortweet]
        [--cli] [--generator powerlaw|bursts|simulator] [--post-zipf 1.1] [--bursts N] [--burst-share 0.1]
        [--workdir /tmp/bench-coord]

For each size: generates retweets with numpy (post popularity and account activity Zipf-distributed, viral posts
retweeted in bursts; ``--generator bursts``: Zipf popularity over hours plus explicit viral bursts of thousands
of retweets within minutes), loads them into a fresh study (not timed), then times (1) the default run without
the null model (pruning + dense-window guard + pairing + clusters; wall and CPU seconds, seconds per stage),
optionally (2) the same as ``echoscope coordinate --null none`` in a fresh process (``--cli``: wall, CPU and the
peak memory a user sees, without the input table this process holds), (3) the null-model repetitions alone,
(4) the coordination-network-toolkit on the same input (``--cnt``; needs the ``bench`` extra; wall, CPU of
its processes) and (5) CooRTweet on the same input (``--coortweet``: R with CooRTweet 2.1.3 installed by
``../shared/peers/install-coortweet.sh``; its ``run_coortweet.R`` runs detect_groups with time_window 60 and
min_participation 2 and builds its network), with echoscope's own ``--semantics coortweet`` run timed beside it.
Peak memory of the in-process runs is the peak resident set of this process (DuckDB runs in-process, and the
generated input is held too) sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


def generate(n: int, seed: int = 0, post_zipf: float = 1.1) -> pa.Table:
    """``n`` retweets: Zipf post popularity (exponent ``post_zipf``) and account activity; bursty latencies for
    viral posts (at 1.1 the most popular post of 100k retweets has 16,045 of them within minutes)."""
    rng = np.random.default_rng(seed)
    n_posts = max(n // 20, 10)
    n_accounts = max(n // 10, 10)
    post_w = 1.0 / np.arange(1, n_posts + 1) ** post_zipf
    acc_w = 1.0 / np.arange(1, n_accounts + 1) ** 0.9
    post = rng.choice(n_posts, size=n, p=post_w / post_w.sum())
    acc = rng.choice(n_accounts, size=n, p=acc_w / acc_w.sum())
    t_post = rng.uniform(0, 30 * 86400, size=n_posts)
    lat = rng.exponential(3600.0, size=n)
    viral = post < max(n_posts // 1000, 1)
    lat[viral] = rng.exponential(120.0, size=int(viral.sum()))  # viral posts: a burst within minutes
    ts = t_post[post] + lat
    base = 1_600_000_000
    return pa.table({
        "post_id": pa.array(np.char.add("r", np.arange(n).astype(str))),
        "account_id": pa.array(np.char.add("a", acc.astype(str))),
        "ref_post_id": pa.array(np.char.add("p", post.astype(str))),
        "created_at": pa.array(((base + ts) * 1e6).astype("int64")).cast(pa.timestamp("us", tz="UTC")),
        "kind": pa.array(np.full(n, "repost")),
    })


def generate_bursts(n: int, seed: int = 0, post_zipf: float = 1.1, burst_share: float = 0.1,
                    n_bursts: int | None = None, burst_scale: tuple[float, float] = (60.0, 300.0)) -> pa.Table:
    """``n`` retweets with explicit viral bursts (``--generator bursts``) on top of Zipf popularity.

    ``1 - burst_share`` of the retweets go to Zipf-popular posts (exponent ``post_zipf``) with latencies of an
    hour on average (no post is special: the most popular ones are dense for hours, not minutes); the rest
    are ``n_bursts`` posts (default one per 50,000 retweets, at least 4) each retweeted thousands of times
    within minutes (exponential latencies with a scale drawn from ``burst_scale`` seconds per post). Account
    activity is Zipf (exponent 0.9) everywhere, so the busiest accounts take part in many bursts.
    """
    rng = np.random.default_rng(seed)
    n_posts = max(n // 20, 10)
    n_accounts = max(n // 10, 10)
    nb = n_bursts or max(n // 50_000, 4)
    n_b = int(n * burst_share)
    n_z = n - n_b
    post_w = 1.0 / np.arange(1, n_posts + 1) ** post_zipf
    acc_w = 1.0 / np.arange(1, n_accounts + 1) ** 0.9
    post = rng.choice(n_posts, size=n_z, p=post_w / post_w.sum()) + nb
    t_post = rng.uniform(0, 30 * 86400, size=n_posts + nb)
    lat = rng.exponential(3600.0, size=n_z)
    bpost = rng.integers(0, nb, size=n_b)
    scale = rng.uniform(*burst_scale, size=nb)
    post = np.concatenate([post, bpost])
    lat = np.concatenate([lat, rng.exponential(scale[bpost])])
    acc = rng.choice(n_accounts, size=n, p=acc_w / acc_w.sum())
    perm = rng.permutation(n)
    ts = t_post[post[perm]] + lat[perm]
    base = 1_600_000_000
    return pa.table({
        "post_id": pa.array(np.char.add("r", np.arange(n).astype(str))),
        "account_id": pa.array(np.char.add("a", acc.astype(str))),
        "ref_post_id": pa.array(np.char.add("p", post[perm].astype(str))),
        "created_at": pa.array(((base + ts) * 1e6).astype("int64")).cast(pa.timestamp("us", tz="UTC")),
        "kind": pa.array(np.full(n, "repost")),
    })


def simulated(n: int, seed: int = 7) -> pa.Table:
    """The reposts of a simulated platform with ``n`` engagements (``--generator simulator``): campaigns,
    communities, viral moments and sleep cycles instead of the power-law generator's extreme bursts (on
    which CooRTweet 2.1.3 stops with "negative length vectors are not allowed" at 100k)."""
    import pyarrow.compute as pc

    from echoscope.simulate import make_config, simulate

    plat = simulate(make_config(accounts=max(n // 5, 2000), engagements=n, seed=seed))
    posts = plat.posts
    posts = posts.filter(pc.equal(posts["kind"].cast(pa.string()), "repost"))
    return pa.table({"post_id": posts["post_id"].cast(pa.string()), "account_id": posts["account_id"].cast(pa.string()),
                     "ref_post_id": posts["ref_post_id"].cast(pa.string()),
                     "created_at": posts["created_at"].cast(pa.timestamp("us", tz="UTC")),
                     "kind": posts["kind"].cast(pa.string())})


#: --bursts and --burst-share of the bursts generator (set by main)
BURSTS: dict = {}

#: --generator name -> (size, post Zipf exponent) -> retweets
GENERATORS = {
    "powerlaw": lambda n, z: generate(n, post_zipf=z),
    "bursts": lambda n, z: generate_bursts(n, post_zipf=z, **BURSTS),
    "simulator": lambda n, z: simulated(n),
}


def cpu_seconds(children: bool = False) -> float:
    """User + system CPU seconds of this process (DuckDB's threads included) so far; ``children``: of the
    finished child processes instead (the toolkit's)."""
    import resource

    u = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def _children_maxrss() -> int:
    """Largest peak resident set (bytes) of the finished child processes so far (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def stage_seconds(summary: dict, timings: list[dict]) -> dict:
    """Seconds per stage of a run: the data-sized stages of each behaviour (its ``timing`` progress events:
    actions, ids, guard, pruning, pairing), its judging (the rest of the behaviour's time: candidate edges,
    null model, evidence) and what follows (validation, clustering, summaries: the run's time less the
    behaviours')."""
    out: dict = {}
    for b, st in summary["behaviours"].items():
        stages = {e["stage"]: e["seconds"] for e in timings if e.get("behaviour") == b}
        stages["judge"] = round(st["seconds"] - sum(stages.values()), 2)
        out[b] = stages
    out["validation_clustering"] = round(summary["seconds"] - sum(st["seconds"] for st in
                                                                  summary["behaviours"].values()), 2)
    return out


class PeakRSS:
    """Samples this process's resident set size in a thread."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.05)

    def __enter__(self) -> PeakRSS:
        self.peak = self.proc.memory_info().rss
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def run_size(n: int, workdir: Path, reps: int, cnt: bool, coortweet: bool = False,
             generator: str = "powerlaw", post_zipf: float = 1.1,
             behaviours: tuple[str, ...] = ("co-retweet",), cli: bool = False) -> dict:
    import echoscope
    from echoscope.coordination import CoordParams, run
    from echoscope.engine import Engine

    path = workdir / f"study-{n}"
    shutil.rmtree(path, ignore_errors=True)
    s = echoscope.init_study(path)
    cfg = (path / "echoscope.toml").read_text().replace('memory_limit = "1GB"', 'memory_limit = "3GB"')
    (path / "echoscope.toml").write_text(cfg)
    data = GENERATORS[generator](n, post_zipf)
    s.load_arrow({"posts": data})
    res: dict = {"engagements": n, "generator": generator, "reposts": data.num_rows, "behaviours": list(behaviours),
                 "load_before": os.getloadavg()}
    # opening the study's query connection imports the query layer (Ibis, ~0.5 s once per process): timed apart,
    # as R's loading of CooRTweet is outside its own timings
    t = time.perf_counter()
    eng = Engine(s)
    assert eng.raw is not None
    res["open_s"] = round(time.perf_counter() - t, 2)
    if generator != "simulator":
        res["post_zipf"] = post_zipf
    if generator == "bursts":
        res["bursts"] = dict(BURSTS)
    with PeakRSS() as mem:
        t, c = time.perf_counter(), cpu_seconds()
        timings: list[dict] = []
        r = run(s, CoordParams(behaviours=behaviours, window=60, min_weight=2, min_repeat=2, null="none"),
                engine=eng, write=True, progress=lambda e: timings.append(e) if e.get("event") == "timing" else None)
        res["default_s"] = round(time.perf_counter() - t, 2)
        res["default_cpu_s"] = round(cpu_seconds() - c, 2)
    res["default_peak_rss_gib"] = round(mem.peak / 2**30, 2)
    res["stage_seconds"] = stage_seconds(r.summary, timings)
    st = r.summary["behaviours"][r.summary["parameters"]["behaviours"][0]]
    res.update({k: st[k] for k in ("accounts", "accounts_after_pruning", "actions_after_pruning",
                                   "pairs_within_window", "pair_object_rows", "candidate_edges")})
    res["guard"] = st["guard"]
    res["clusters"] = r.summary["clusters"]
    res["actions_paired"] = st.get("actions_paired")
    res["pair_ranges"] = st.get("pair_ranges")
    res["load_after_default"] = os.getloadavg()
    if cli:
        res["cli"] = run_cli(path, behaviours)
    if cnt:
        t, c = time.perf_counter(), cpu_seconds(children=True)
        res["cnt"] = run_cnt(data, workdir / f"cnt-{n}")
        res["cnt"]["cpu_s"] = round(cpu_seconds(children=True) - c, 1)
        res["cnt"]["wall_s"] = round(time.perf_counter() - t, 1)
        res["cnt"]["peak_rss_gib_max_child"] = round(_children_maxrss() / 2**30, 3)
        res["cnt"]["speedup"] = round((res["cnt"]["preprocess_s"] + res["cnt"]["compute_s"]) / res["default_s"], 1)
        res["load_after_cnt"] = os.getloadavg()
    if coortweet:
        t = time.perf_counter()
        rc = run(s, CoordParams(behaviours=("co-retweet",), window=60, min_repeat=2, semantics="coortweet"),
                 engine=eng, write=False)
        res["coortweet_semantics_s"] = round(time.perf_counter() - t, 2)
        res["coortweet_semantics_edges"] = int(rc.edges.num_rows)
        res["coortweet"] = run_coortweet(data, workdir / f"coortweet-{n}")
        if res["coortweet"].get("wall_s") is not None:
            res["coortweet"]["speedup_vs_default"] = round(res["coortweet"]["wall_s"] / res["default_s"], 1)
            tot = [x for x in res["coortweet"]["output"] if x.startswith("time_s:")]
            if tot:  # its own timing (read, detect_groups, network), without R's start and package loading
                res["coortweet"]["total_s"] = float(tot[0].rsplit("total=", 1)[1])
                res["coortweet"]["speedup_own_total_vs_default"] = round(
                    res["coortweet"]["total_s"] / res["default_s"], 1)
            res["coortweet"]["speedup_vs_coortweet_semantics"] = round(
                res["coortweet"]["wall_s"] / res["coortweet_semantics_s"], 1)
        res["load_after_coortweet"] = os.getloadavg()
    if reps <= 0:
        return res
    with PeakRSS() as mem:
        t, c = time.perf_counter(), cpu_seconds()
        r2 = run(s, CoordParams(behaviours=behaviours, window=60, min_weight=2, min_repeat=2, null="object",
                                reps=reps), engine=eng, write=False)
        res["with_null_s"] = round(time.perf_counter() - t, 2)
        # CPU seconds are less sensitive than wall time to other jobs on a shared machine
        res["with_null_cpu_s"] = round(cpu_seconds() - c, 2)
    res["null_only_s"] = round(res["with_null_s"] - res["default_s"], 2)
    res["null_reps"] = reps
    res["null_peak_rss_gib"] = round(mem.peak / 2**30, 2)
    res["significant_edges"] = r2.summary["significant_edges"]
    res["expected_false_edges"] = r2.summary["expected_false_edges"]
    res["coordinated_clusters"] = r2.summary["coordinated_clusters"]
    return res


def run_cli(study: Path, behaviours: tuple[str, ...]) -> dict:
    """``echoscope coordinate STUDY --behaviour B --null none --json`` in a fresh process (as a user runs it; the
    input table this process holds is not in it): wall and CPU seconds and its peak resident set. Run before
    the peers, whose peak would otherwise be the largest child's."""
    exe = str(Path(sys.executable).parent / "echoscope")
    t, c = time.perf_counter(), cpu_seconds(children=True)
    p = subprocess.run([exe, "coordinate", str(study), "--behaviour", ",".join(behaviours), "--null", "none",
                        "--json"], capture_output=True, text=True)
    out = {"wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(cpu_seconds(children=True) - c, 2),
           "peak_rss_gib": round(_children_maxrss() / 2**30, 3), "exit_code": p.returncode}
    if p.returncode:
        out["error"] = p.stderr.strip().splitlines()[-1:]
    else:
        out["flagged_accounts"] = json.loads(p.stdout)["summary"]["flagged_accounts"]
    return out


def run_cnt(data: pa.Table, where: Path) -> dict:
    """coordination-network-toolkit on the same retweets (CSV, 2 processes, 60 s window, weight 2)."""
    import csv

    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    f = where / "in.csv"
    ts = data["created_at"].cast(pa.int64()).to_numpy() / 1e6
    with open(f, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["message_id", "user_id", "username", "repost_id", "reply_id", "message", "timestamp", "urls"])
        for mid, uid, rid, t in zip(data["post_id"].to_pylist(), data["account_id"].to_pylist(),
                                    data["ref_post_id"].to_pylist(), ts):
            w.writerow([mid, uid, uid, rid, "", "", f"{t:.0f}", ""])
    exe = str(Path(sys.executable).parent / "compute_networks")
    t = time.perf_counter()
    subprocess.run([exe, str(where / "db"), "preprocess", "--format", "csv", str(f)], check=True,
                   capture_output=True)
    t_pre = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([exe, str(where / "db"), "compute", "co_retweet", "--time_window", "60", "--min_edge_weight", "2",
                    "--n_cpus", "2"], check=True, capture_output=True)
    t_comp = time.perf_counter() - t
    import sqlite3

    edges = sqlite3.connect(where / "db").execute(
        "select count(*) from co_retweet_network where user_1 < user_2").fetchone()[0]
    return {"preprocess_s": round(t_pre, 1), "compute_s": round(t_comp, 1), "undirected_edges": edges}


def run_coortweet(data: pa.Table, where: Path, timeout: float = 900.0) -> dict:
    """CooRTweet 2.1.3 (R) on the same retweets: object = the retweeted post, content = the retweet."""
    import pyarrow.csv as pcsv

    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    f = where / "events.csv"
    pcsv.write_csv(pa.table({"object_id": data["ref_post_id"], "account_id": data["account_id"],
                             "content_id": data["post_id"],
                             "timestamp_share": pa.array(data["created_at"].cast(pa.int64()).to_numpy() // 10**6)}), f)
    script = Path(__file__).resolve().parents[2] / "shared" / "peers" / "run_coortweet.R"
    t = time.perf_counter()
    try:
        p = subprocess.run(["Rscript", str(script), str(f), str(where / "pairs.csv"), "60", "2", "0.5"],
                           capture_output=True, text=True, timeout=timeout, env={**os.environ, "TZ": "UTC"})
    except subprocess.TimeoutExpired:
        return {"wall_s": None, "timeout_s": timeout}
    wall = time.perf_counter() - t
    if p.returncode:
        return {"wall_s": None, "error": p.stderr.strip().splitlines()[-1:] }
    return {"wall_s": round(wall, 1), "output": p.stdout.strip().splitlines()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[1_000_000, 5_000_000])
    ap.add_argument("--behaviour", default="co-retweet",
                    help="comma-separated behaviours (as echoscope coordinate --behaviour; the generator makes reposts "
                         "only, so co-retweet is the one with data)")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--cnt", action="store_true", help="also time the coordination-network-toolkit")
    ap.add_argument("--cli", action="store_true",
                    help="also time `echoscope coordinate --null none` in a fresh process (wall, CPU, peak memory)")
    ap.add_argument("--coortweet", action="store_true", help="also time CooRTweet (R) on the same input")
    ap.add_argument("--generator", choices=tuple(GENERATORS), default="powerlaw",
                    help="input: the power-law retweets of generate(), those of generate_bursts() (Zipf "
                         "popularity over hours plus explicit viral bursts within minutes), or the reposts of a "
                         "simulated platform with that many engagements")
    ap.add_argument("--post-zipf", type=float, default=1.1,
                    help="power-law generator: Zipf exponent of post popularity (lower: milder viral bursts)")
    ap.add_argument("--bursts", type=int, default=None,
                    help="bursts generator: number of viral bursts (default one per 50,000 retweets, at least 4)")
    ap.add_argument("--burst-share", type=float, default=0.1,
                    help="bursts generator: share of the retweets that go to the bursts (default 0.1)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench-coord"))
    a = ap.parse_args()
    BURSTS.update(n_bursts=a.bursts, burst_share=a.burst_share)
    a.workdir.mkdir(parents=True, exist_ok=True)
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()}
    for n in a.sizes:
        behaviours = tuple(b.strip() for b in a.behaviour.split(",") if b.strip())
        print(json.dumps({"machine": machine, **run_size(n, a.workdir, a.reps, a.cnt, a.coortweet, a.generator,
                                                         a.post_zipf, behaviours, a.cli)}), flush=True)


if __name__ == "__main__":
    main()

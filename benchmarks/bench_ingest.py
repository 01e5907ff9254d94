"""Ingest speed and memory per format, on generated files of a chosen size (default 2 GiB uncompressed).

    python benchmarks/bench_ingest.py [--size-gb 2] [--formats twarc2,io-archive] [--cnt-mb 200] [--out DIR]
                                      [--no-results]

Each measurement runs in a fresh child process (``init`` + ``ingest`` of one file) that reports its wall time
and its own peak RSS (DuckDB's memory included, since it runs in-process). Throughput is in *uncompressed
input bytes* per second, end to end: detection, parsing, staging, dedup, hashing and the atomic commit.

twarc2 input is made by replicating the real twarc2 sample pages of ../shared/data/twarc2-samples with every
id rewritten per replica (so posts and accounts stay distinct and dedup has real work). The
information-operations CSV comes from benchmarks/gen_io_archive.py. The comparison with the
coordination-network-toolkit times its ``preprocess --format twitter_json`` on the same twarc2 file (a
smaller one, --cnt-mb, because it is much slower) against ``echoscope ingest`` on that file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from procstat import peak_rss_bytes  # this process's own peak (see procstat.py)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SAMPLES = ["noflat.jsonl", "2sets.jsonl", "entities_test.jsonl", "withheld.jsonl", "media_policy_violation_on.jsonl"]
ID = re.compile(rb'"(\d{10,20})"')


def gen_twarc2(path: Path, size: int) -> int:
    """Write twarc2 response pages until ``size`` bytes; returns the number of tweets written."""
    pages = []
    for name in SAMPLES:
        for line in (SHARED / "twarc2-samples" / name).read_bytes().splitlines():
            if line.strip().startswith(b'{"data": ['):
                pages.append(line)
    per_round = sum(line.count(b'"author_id"') for line in pages)  # rough: data + includes tweets
    written = 0
    k = 0
    tweets = 0
    with open(path, "wb", buffering=1 << 22) as fh:
        while written < size:
            suffix = b"%06d" % k
            for line in pages:
                out = ID.sub(rb'"\g<1>' + suffix + rb'"', line) + b"\n"
                fh.write(out)
                written += len(out)
            tweets += per_round
            k += 1
    return tweets


def gen_io(path: Path, size: int) -> None:
    """A tweets CSV: a 256 MB base from gen_io_archive.py, replicated with the tweet-id prefix changed per copy
    (every id column shares the prefix, so references stay consistent and no copy duplicates another)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gen_io_archive  # type: ignore[import-not-found]

    base = path.with_suffix(".base.csv")
    if not base.exists():
        gen_io_archive.generate(base, min(size, 256 * 2**20) / 1e6)
    data = base.read_bytes()
    header, body = data.split(b"\n", 1)
    written = 0
    k = 0
    with open(path, "wb") as fh:
        fh.write(header + b"\n")
        while written < size:
            fh.write(body.replace(b"70000000000", b"7%02d00000000" % k) if k else body)
            written += len(body)
            k += 1


def child(fmt: str, file: str, study: str) -> None:
    import echoscope

    if Path(study).exists():
        shutil.rmtree(study)
    s = echoscope.init_study(study)
    t = time.perf_counter()
    rep = s.ingest([file], format=fmt)
    el = time.perf_counter() - t
    rss = peak_rss_bytes()  # this process's own peak (not ru_maxrss: see procstat.py)
    print(json.dumps({"elapsed": el, "peak_rss": rss, "report": rep[0], "posts": s.rows("posts")}))


def run_child(fmt: str, file: Path, study: Path) -> dict:
    """Run one measurement in a fresh process; adds the process tree's peak RSS (sampled every 50 ms with
    psutil, the reader's worker processes included), its CPU seconds and the load average before/after."""
    import psutil

    load0 = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, __file__, "--child", fmt, str(file), str(study)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    tree_peak = 0
    while proc.poll() is None:
        try:
            procs = [root, *root.children(recursive=True)]
            tree_peak = max(tree_peak, sum(p.memory_info().rss for p in procs if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"child failed ({proc.returncode}): {stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = json.loads(stdout.strip().splitlines()[-1])
    res["tree_peak_rss"] = max(tree_peak, res["peak_rss"])
    res["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    res["load"] = (load0, os.getloadavg()[0])
    return res


def run_cnt(file: Path, work: Path) -> float:
    exe = shutil.which("compute_networks") or str(Path(sys.executable).parent / "compute_networks")
    db = work / "cnt.db"
    if db.exists():
        db.unlink()
    t = time.perf_counter()
    subprocess.run([exe, str(db), "preprocess", "--format", "twitter_json", str(file)], check=True,
                   capture_output=True)
    return time.perf_counter() - t


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=3)
    ap.add_argument("--size-gb", type=float, default=2.0)
    ap.add_argument("--formats", default="twarc2,io-archive")
    ap.add_argument("--cnt-mb", type=float, default=200)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "out"))
    ap.add_argument("--no-results", action="store_true",
                    help="print the Ingest section but leave benchmarks/RESULTS.md as it is (checks on a shared "
                         "machine, whose times are not the published ones)")
    a = ap.parse_args()
    if a.child:
        child(*a.child)
        return
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    size = int(a.size_gb * 2**30)
    rows = []
    for fmt in a.formats.split(","):
        f = out / ("big.twarc2.jsonl" if fmt == "twarc2" else "big.io_tweets.csv")
        if not f.exists() or f.stat().st_size < size:
            t = time.perf_counter()
            (gen_twarc2 if fmt == "twarc2" else gen_io)(f, size)
            print(f"generated {f} ({f.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.0f} s",
                  file=sys.stderr)
        res = run_child(fmt, f, out / f"study-{fmt}")
        mb = f.stat().st_size / 1e6
        rep = res["report"]
        rows.append((fmt, f.stat().st_size, res["elapsed"], mb / res["elapsed"], rep["read"] / res["elapsed"],
                     res["tree_peak_rss"], rep, res["cpu_s"], res["load"]))
        print(json.dumps({"format": fmt, "MB": mb, "s": res["elapsed"], "MB/s": mb / res["elapsed"],
                          "rows/s": rep["read"] / res["elapsed"], "tree_peak_rss_MiB": res["tree_peak_rss"] / 2**20,
                          "cpu_s": res["cpu_s"], "load_before_after": res["load"],
                          "read": rep["read"], "loaded": rep["loaded"], "dup": rep["duplicates"],
                          "quarantined": rep["quarantined"]}), file=sys.stderr)
    cnt = None
    if a.cnt_mb and "twarc2" in a.formats:
        small = out / "cnt.twarc2.jsonl"
        if not small.exists():
            gen_twarc2(small, int(a.cnt_mb * 2**20))
        ours = run_child("twarc2", small, out / "study-cnt")
        theirs = run_cnt(small, out)
        cnt = (small.stat().st_size, ours["elapsed"], theirs)
        print(json.dumps({"cnt_MB": small.stat().st_size / 1e6, "echoscope_s": ours["elapsed"],
                          "cnt_preprocess_s": theirs, "ratio": theirs / ours["elapsed"]}), file=sys.stderr)
    lines = ["## Ingest", "", f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. "
             "Command: `python benchmarks/bench_ingest.py --size-gb "
             f"{a.size_gb:g}`. Each run is a fresh process: init + ingest of one uncompressed file, end to end.",
             "Peak RSS is the whole process tree's (worker processes included), sampled every 50 ms; CPU is user +",
             "system seconds of the tree; load is the 1-minute load average before / after (the machine may be",
             "shared: wall time is only meaningful at a low load).",
             "", "| format | input | time | MB/s | primary records/s | CPU s | peak RSS | load | "
             "read / loaded / duplicates |",
             "|---|---|---|---|---|---|---|---|---|"]
    for fmt, size_b, el, mbs, rps, rss, rep, cpu, load in rows:
        lines.append(f"| {fmt} | {size_b / 2**30:.2f} GiB | {el:.1f} s | {mbs:.1f} | {rps:,.0f} | {cpu:.1f} | "
                     f"{rss / 2**20:,.0f} MiB | {load[0]:.1f} / {load[1]:.1f} | "
                     f"{rep['read']:,} / {rep['loaded']:,} / {rep['duplicates']:,} |")
    if cnt:
        size_b, ours, theirs = cnt
        lines += ["", f"coordination-network-toolkit `preprocess --format twitter_json` on the same twarc2 input "
                  f"({size_b / 2**20:,.0f} MiB): {theirs:.1f} s, echoscope ingest {ours:.1f} s: "
                  f"echoscope is {theirs / ours:.1f}x faster."]
    section = "\n".join(lines) + "\n"
    print(section)
    if a.no_results:
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from results_md import replace_section  # type: ignore[import-not-found]

    replace_section("Ingest", section)


if __name__ == "__main__":
    main()

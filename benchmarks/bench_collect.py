"""Live-collection benchmark: events per second and memory over a long Jetstream replay.

A replay server (:mod:`echoscope.collect.replay`, 127.0.0.1 only) runs in its own process and serves simulated
Jetstream traffic as fast as the collector takes it; the collector runs in this process into a fresh study
with the default batch settings (10,000 events or 2 s), commits, compaction and cursor saves included.
Every second the collector's resident memory (RSS) and event count are sampled.

    python benchmarks/bench_collect.py --events 3000000 [--mode all|targets] [--json out.json]

``--mode all`` stores every event (the worst case: every event becomes a row); ``--mode targets`` keeps the
events that touch three target accounts (a realistic study). Results are written to stdout as a table and
optionally as JSON; benchmarks/RESULTS.md ("Live collection") records a run.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import orjson


def _server(path: str, port: int, seconds: float) -> None:
    from echoscope.collect.replay import serve_forever

    serve_forever(path, port, seconds)


FIRST: dict[str, float] = {}


def _progress(event: dict) -> None:
    if event.get("event") == "connected":
        FIRST.setdefault("t", time.perf_counter())
    if event.get("event") in ("reconnect", "stalled", "connected", "compact"):
        print("  ", {k: v for k, v in event.items() if k != "url"}, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=3_000_000)
    ap.add_argument("--mode", choices=("all", "targets"), default="all")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: pick a free one)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--batch-events", type=int, default=25_000)
    ap.add_argument("--batch-seconds", type=float, default=5.0)
    args = ap.parse_args()

    import psutil

    from echoscope.collect.bluesky import BlueskyCollector
    from echoscope.collect.replay import simulate_events
    from echoscope.study import init_study

    work = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    frames = work / "events.jsonl"
    t0 = time.perf_counter()
    last = 0
    with open(frames, "wb") as fh:  # generated in slices so the generator's memory stays small too
        step = 500_000
        start = 1_725_000_000_000_000
        for off in range(0, args.events, step):
            evs = simulate_events(min(step, args.events - off), seed=off + 1, start_us=start)
            start = evs[-1]["time_us"] + 1
            last = evs[-1]["time_us"]
            fh.write(b"\n".join(orjson.dumps(e) for e in evs) + b"\n")
            del evs
    gen_s = time.perf_counter() - t0
    port = args.port
    if port == 0:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    proc = mp.get_context("spawn").Process(target=_server, args=(str(frames), port, 3600.0), daemon=True)
    proc.start()
    import socket

    for _ in range(600):  # the server reads the whole file before it listens
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    study = init_study(work / "study")
    targets = None if args.mode == "all" else ["did:plc:target0", "did:plc:target1", "did:plc:target2"]
    me = psutil.Process(os.getpid())
    samples: list[dict[str, float]] = []
    col = BlueskyCollector(study, targets=targets, endpoint=f"ws://127.0.0.1:{port}/subscribe", cursor=0,
                           until_us=last, batch_events=args.batch_events, batch_seconds=args.batch_seconds,
                           backoff_base=0.5, max_retries=20,
                           progress=_progress)
    done = threading.Event()
    t_start = time.perf_counter()

    def sample() -> None:
        while not done.wait(1.0):
            samples.append({"t": round(time.perf_counter() - t_start, 1), "events": col.received,
                            "rss_mb": round(me.memory_info().rss / 2**20, 1)})

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    stats = col.run()
    elapsed = time.perf_counter() - FIRST.get("t", t_start)
    done.set()
    th.join()
    proc.terminate()
    proc.join(10)
    rows = study.info()["tables"]
    rss = [s["rss_mb"] for s in samples]
    n = len(rss)
    result = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"), "mode": args.mode, "events": args.events,
        "seconds": round(elapsed, 1), "events_per_s": round(stats["received"] / elapsed),
        "commits": stats["commits"], "reconnects": stats["reconnects"],
        "rows": {k: v["rows"] for k, v in rows.items() if v["rows"]},
        "parts": {k: len(study.parts(k)) for k in ("posts", "likes", "account_status", "accounts")},
        "rss_mb": {"first_10pct": max(rss[: max(1, n // 10)]) if rss else None,
                   "middle": rss[n // 2] if rss else None, "last_10pct": max(rss[-max(1, n // 10):]) if rss else None,
                   "max": max(rss) if rss else None},
        "generate_s": round(gen_s, 1),
        "samples": samples[:: max(1, len(samples) // 40)],
    }
    print(f"{result['events']:,} events in {result['seconds']} s = {result['events_per_s']:,} events/s "
          f"({args.mode}); {result['commits']} commits; parts {result['parts']}")
    print(f"RSS MB: first 10% max {result['rss_mb']['first_10pct']}, middle {result['rss_mb']['middle']}, "
          f"last 10% max {result['rss_mb']['last_10pct']}, max {result['rss_mb']['max']}")
    print("rows:", result["rows"])
    if args.json:
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    import shutil

    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

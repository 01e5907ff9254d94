"""Explorer page times (``echoscope serve``) on a large simulated study and on the demo study.

    python benchmarks/bench_explorer.py [--accounts 1000000] [--engagements 5000000] [--out DIR]
                                        [--study DIR] [--behaviour co-retweet] [--repeat 5] [--json]

Without ``--study``: simulate a platform (``echoscope simulate OUT/study --accounts A --engagements E``; reused
when it exists), run ``echoscope coordinate --behaviour B`` and ``echoscope score`` on it unless their results
are there, each timed. Then start the explorer in this process (uvicorn on a free loopback port, as ``serve``
does) and time every page and the JSON the cluster page fetches, over HTTP: the first request (cold: DuckDB
opens the Parquet files) and the median of ``--repeat`` more. Pages: the overview, the first and second page of
the cluster list, the largest cluster (its members, edges, evidence and timeline), its network JSON, the
account page of that cluster's strongest member and of the study's most active account, a handle search.
The issue's target: every page under 1 s on the demo study. Results go to stdout (and JSON with ``--json``);
RESULTS.md is left to whoever reruns this on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ECHOSCOPE = [sys.executable, "-m", "echoscope.cli"] if not (Path(sys.executable).parent / "echoscope").exists() \
    else [str(Path(sys.executable).parent / "echoscope")]


def step(args: list[str]) -> float:
    """Run one echoscope command; its wall time in seconds."""
    t = time.perf_counter()
    subprocess.run(ECHOSCOPE + args, check=True, stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - t, 1)


def prepare(out: Path, accounts: int, engagements: int, behaviour: str) -> tuple[Path, dict[str, float]]:
    """The simulated study with coordination and score results; the time of each step that ran."""
    study = out / "study"
    times: dict[str, float] = {}
    if not (study / "manifest.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        times["simulate"] = step(["simulate", str(study), "--accounts", str(accounts), "--engagements",
                                  str(engagements), "-q"])
    results = json.loads((study / "manifest.json").read_text())["results"]
    if "coord_clusters" not in results:
        times["coordinate"] = step(["coordinate", str(study), "--behaviour", behaviour, "-q"])
    if "account_scores" not in results:
        times["score"] = step(["score", str(study), "-q"])
    return study, times


def pages(study: Path) -> list[tuple[str, str]]:
    """The pages to time, named; ids picked with one query each."""
    from echoscope.engine import Engine
    from echoscope.store.study import open_store

    e = Engine(open_store(study))
    cid = e.scalar('SELECT cluster_id FROM coord_clusters WHERE "coordinated" ORDER BY size DESC, cluster_id LIMIT 1')
    member = e.scalar("SELECT account_id FROM coord_members WHERE cluster_id = ? ORDER BY strength DESC LIMIT 1",
                      [cid]) if cid is not None else None
    active = e.scalar("SELECT account_id FROM posts GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
    handle = e.scalar("SELECT handle FROM accounts WHERE handle IS NOT NULL ORDER BY account_id LIMIT 1") or "a"
    e.close()
    out = [("overview", "/"), ("clusters", "/clusters"), ("clusters page 2", "/clusters?offset=30")]
    if cid is not None:
        out += [(f"cluster {cid}", f"/clusters/{cid}"), ("cluster graph JSON", f"/api/clusters/{cid}/graph"),
                ("cluster evidence page 2", f"/clusters/{cid}?evidence=50")]
    if member is not None:
        out.append(("account: strongest member", "/account?ref=" + urllib.parse.quote(str(member), safe="")))
    if active is not None:
        out.append(("account: most active", "/account?ref=" + urllib.parse.quote(str(active), safe="")))
    out.append(("search by handle prefix", "/search?q=" + urllib.parse.quote(str(handle)[:3], safe="")))
    return out


def time_pages(study: Path, repeat: int) -> tuple[float, list[dict[str, object]]]:
    """Start the explorer and time each page: (start-up seconds, rows)."""
    import uvicorn

    from echoscope.explorer.server import free_port, make_app
    from echoscope.store.study import open_store

    t = time.perf_counter()
    app = make_app(open_store(study))
    startup = round(time.perf_counter() - t, 2)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.02)
    rows: list[dict[str, object]] = []
    opener = urllib.request.build_opener(urllib.request.HTTPRedirectHandler())
    try:
        for name, path in pages(study):
            times = []
            size = 0
            status = 0
            for _ in range(repeat + 1):
                t = time.perf_counter()
                with opener.open(f"http://127.0.0.1:{port}{path}") as r:
                    size = len(r.read())
                    status = r.status
                times.append(time.perf_counter() - t)
            rows.append({"page": name, "path": path, "status": status, "bytes": size,
                         "first_s": round(times[0], 3), "median_s": round(statistics.median(times[1:]), 3)})
    finally:
        server.should_exit = True
        th.join(10)
    return startup, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--engagements", type=int, default=5_000_000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-explorer"))
    ap.add_argument("--study", type=Path, help="time this existing study instead (e.g. the demo's)")
    ap.add_argument("--behaviour", default="co-retweet", help="coordinate's --behaviour for the simulated study")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    prep: dict[str, float] = {}
    if a.study:
        study = a.study
    else:
        study, prep = prepare(a.out / f"n{a.accounts}", a.accounts, a.engagements, a.behaviour)
    m = json.loads((study / "manifest.json").read_text())
    size = {t: m["tables"].get(t, {}).get("rows", 0) for t in ("accounts", "posts")}
    size.update({t: m["results"].get(t, {}).get("rows", 0) for t in ("coord_clusters", "coord_members",
                                                                      "coord_edges", "coord_evidence")})
    startup, rows = time_pages(study, a.repeat)
    load = os.getloadavg()[0]
    if a.json:
        print(json.dumps({"study": str(study), "size": size, "prepare_s": prep, "startup_s": startup,
                          "load": load, "pages": rows}, indent=2))
        return
    print(f"study {study}: " + ", ".join(f"{k} {v:,}" for k, v in size.items()))
    if prep:
        print("prepared: " + ", ".join(f"{k} {v} s" for k, v in prep.items()))
    print(f"explorer start-up (views, first overview): {startup} s; load average {load:.1f}")
    print(f"{'page':32} {'first (s)':>10} {'median (s)':>11} {'bytes':>9}")
    for r in rows:
        print(f"{r['page']:32} {r['first_s']:>10} {r['median_s']:>11} {r['bytes']:>9,}")


if __name__ == "__main__":
    main()

"""Accuracy of ``echoscope coordinate`` on the simulator's labelled platforms (issue 6's accuracy table).

Usage::

    python benchmarks/bench_coordination_accuracy.py [--difficulty default hard] [--workdir /tmp/bench-coord-acc]
        [--runs co-retweet co-reply ... "co-retweet,co-reply,co-quote"] [--json out.json] [--seed 7]
        [--param early_seconds=300 ...]

For each difficulty it simulates the platform with the simulator's defaults (20,000 accounts, 200,000
engagements, seed 7; the difficulty settings were fixed before the detector was tuned), writes the study (not
timed), then runs the detector with its defaults for each behaviour (and the fused networks) and compares the
flagged accounts with ``truth_accounts``:

- *acting together* (the recall denominator): a campaign account that reposted, replied to or quoted the
  same post within 60 s of an account of its own campaign on two or more posts, computed from the raw posts,
  independently of the detector;
- precision = flagged campaign accounts / flagged accounts; organic = flagged non-campaign accounts / all
  non-campaign accounts; per campaign: flagged of acting together.

Prints a Markdown table (and writes JSON with ``--json``). ``--seed`` simulates another platform (same
settings) for a confirmation run; ``--param`` overrides detector parameters for experiments (the table's
runs use none).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

DEFAULT_RUNS = ["default", "co-retweet", "co-reply", "co-quote", "co-text", "rapid-fire", "early-amplify", "co-latency",
                "co-retweet,rapid-fire", "co-retweet,co-reply,co-quote", "co-retweet,co-reply,co-quote,co-text",
                "co-retweet,co-reply,co-quote,co-text,rapid-fire",
                "co-retweet,co-reply,co-quote,early-amplify,co-latency",
                "co-retweet,co-reply,co-quote,co-text,rapid-fire,early-amplify,co-latency"]
CAMPAIGNS = ("superspreaders", "impersonation", "hijacked", "copypaste")


def platform_study(difficulty: str, workdir: Path, seed: int = 7) -> tuple[Any, Path]:
    """The simulated study for ``difficulty`` (made once per work directory) and its truth table's path."""
    import pyarrow.parquet as pq

    from echoscope.simulate import make_config, simulate, write
    from echoscope.study import open_study

    root = workdir / (difficulty if seed == 7 else f"{difficulty}-seed{seed}")
    truth = root / "truth.parquet"
    if not truth.exists():
        platform = simulate(make_config(difficulty=difficulty, seed=seed))
        write(platform, root / "study", "study")
        pq.write_table(platform.truth_accounts, truth)
    return open_study(root / "study"), truth


def together(study: Any, truth: Path) -> Any:
    """DuckDB connection holding ``t`` (account, campaign) and ``tog`` (accounts acting together)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT CAST(account_id AS VARCHAR) AS a, campaign FROM '{truth}'")
    con.register("p", study.to_arrow("posts").select(["account_id", "ref_post_id", "kind", "created_at"]))
    con.execute("""CREATE TABLE tog AS WITH x AS (
            SELECT CAST(p.account_id AS VARCHAR) AS a, p.ref_post_id AS o, epoch(p.created_at) AS ts, t.campaign
            FROM p JOIN t ON t.a = CAST(p.account_id AS VARCHAR)
            WHERE p.kind IN ('repost', 'reply', 'quote') AND t.campaign IS NOT NULL)
        SELECT x.a FROM x JOIN x y ON x.o = y.o AND x.campaign = y.campaign AND x.a <> y.a AND abs(x.ts - y.ts) <= 60
        GROUP BY x.a HAVING count(DISTINCT x.o) >= 2""")
    return con


def score(con: Any, flagged: set[str]) -> dict[str, Any]:
    """Precision, recall, organic share and per-campaign cells for one run's flagged accounts."""
    import pyarrow as pa

    con.register("f", pa.table({"a": pa.array(sorted(flagged), pa.string())}))
    rows = con.execute("""SELECT coalesce(t.campaign, 'organic') AS c, count(*) AS n,
            count(*) FILTER (WHERE g.a IS NOT NULL) AS tog, count(*) FILTER (WHERE f.a IS NOT NULL) AS flagged,
            count(*) FILTER (WHERE f.a IS NOT NULL AND g.a IS NOT NULL) AS hit
        FROM t LEFT JOIN tog g ON g.a = t.a LEFT JOIN f ON f.a = t.a GROUP BY 1""").fetchall()
    con.unregister("f")
    by = {r[0]: {"accounts": r[1], "together": r[2], "flagged": r[3], "found": r[4]} for r in rows}
    org = by.pop("organic", {"accounts": 0, "flagged": 0})
    tp = sum(v["flagged"] for v in by.values())
    tog = sum(v["together"] for v in by.values())
    found = sum(v["found"] for v in by.values())
    prec = tp / len(flagged) if flagged else None
    rec = found / tog if tog else None
    f1 = 2 * prec * rec / (prec + rec) if prec is not None and rec is not None and prec + rec > 0 else None
    return {"flagged": len(flagged), "precision": prec, "recall": rec, "f1": f1, "found": found, "together": tog,
            "organic_flagged": org["flagged"], "organic_share": org["flagged"] / max(org["accounts"], 1),
            "campaigns": by}


HEADER = ("| difficulty | behaviours | flagged | precision | recall | F1 | organic flagged | " + " | ".join(CAMPAIGNS)
          + " | seconds |\n|---|---|---:|---:|---:|---:|---:|" + "---|" * len(CAMPAIGNS) + "---:|")


def row_md(s: dict[str, Any]) -> str:
    """One Markdown table row of a run's scores."""
    cells = " | ".join(f"{s['campaigns'].get(c, {}).get('found', 0)}/{s['campaigns'].get(c, {}).get('together', 0)}"
                       for c in CAMPAIGNS)
    prec = "-" if s["precision"] is None else f"{s['precision']:.2f}"
    rec = "-" if s["recall"] is None else f"{s['recall']:.2f} ({s['found']}/{s['together']})"
    f1 = "-" if s.get("f1") is None else f"{s['f1']:.2f}"
    return (f"| {s['difficulty']} | {s['behaviours']} | {s['flagged']} | {prec} | {rec} | {f1} | {s['organic_flagged']} "
            f"| {cells} | {s['seconds']:.1f} |")


def _value(text: str) -> Any:
    """A ``--param`` value: int, float, or the string itself."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--difficulty", nargs="+", default=["default", "hard"])
    ap.add_argument("--runs", nargs="+", default=DEFAULT_RUNS)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench-coord-acc"))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--seed", type=int, default=7, help="simulator seed (the table's platforms: 7)")
    ap.add_argument("--param", nargs="*", default=[], metavar="KEY=VALUE",
                    help="detector parameters other than the defaults (CoordParams fields), for experiments")
    args = ap.parse_args()

    from echoscope.coordination import CoordParams, coordinate

    overrides = {k: _value(v) for k, v in (x.split("=", 1) for x in args.param)}
    out: list[dict[str, Any]] = []
    print(HEADER)
    for diff in args.difficulty:
        study, truth = platform_study(diff, args.workdir, args.seed)
        con = together(study, truth)
        for run in args.runs:
            t0 = time.perf_counter()
            res = coordinate(study, CoordParams(behaviours=tuple(run.split(",")), **overrides), write=False)
            s = score(con, res.flagged_accounts())
            s.update({"difficulty": diff if args.seed == 7 else f"{diff} (seed {args.seed})", "behaviours": run, "seconds": round(time.perf_counter() - t0, 1)})
            out.append(s)
            print(row_md(s), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

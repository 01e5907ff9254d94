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
  non-campaign accounts; per campaign: flagged of acting together;
- *identifiable* (a second denominator, :func:`identifiable`): the campaign accounts an oracle that is told
  every campaign's members finds significant, each account's co-actions with its own campaign tested
  against the object-timeline null. "Acting together" counts coincidences too: an account of a slow
  campaign meets its fellows within 60 s about as often as the crowd would make it (the hard setting's
  hijacked accounts); "recall of identifiable" is the share of the accounts the data can show to
  be coordinated (what a detector could find without knowing the campaigns is at most about that).

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


#: the oracle's co-action definitions: (name, condition on two engagements x, y of one post)
ORACLE_TESTS = (("60 s", "abs(x.ts - y.ts) <= 60"), ("early 600 s", "x.lat <= 600 AND y.lat <= 600"))


def identifiable(con: Any, study: Any, alpha: float = 0.01) -> dict[str, int]:
    """Campaign accounts whose co-actions with their *own campaign* beat the null, the campaigns known.

    An oracle ceiling for a co-action detector: it is told every campaign's accounts, so it needs no
    grouping. For account ``m`` of campaign ``C`` and each post ``o`` it engaged with (repost, reply, quote),
    a hit is another account of ``C`` engaging ``o`` within 60 s of it (or both within the post's first
    600 s); the null (the object timeline of :mod:`echoscope.coordination.network`) keeps the post's
    engagement times and the other members' slots, and gives ``m`` a random slot among the post's
    non-campaign engagements and its own: ``q`` = share of those slots that would be a hit. The account's
    hits against ``sum q`` is a Poisson test; the two definitions' smaller p-value times 2, Benjamini-
    Hochberg at ``alpha`` over the campaign accounts (a lenient correction: a detector tests thousands). Leaves
    table ``ident(a)`` on ``con``; returns identifiable accounts per campaign.
    """
    import numpy as np
    import pyarrow as pa

    from echoscope.coordination.network import benjamini_hochberg, poisson_sf

    con.register("_e0", study.to_arrow("engagements").select(["actor_id", "subject_post_id", "kind", "created_at",
                                                              "latency_s"]))
    con.execute("""CREATE OR REPLACE TABLE oe AS SELECT actor_id AS a, subject_post_id AS o, epoch(created_at) AS ts,
        latency_s AS lat FROM _e0 WHERE kind IN ('repost', 'reply', 'quote') AND subject_post_id IS NOT NULL""")
    con.unregister("_e0")
    ps = []
    names = None
    for _, cond in ORACLE_TESTS:
        r = con.execute(f"""
            WITH ge AS (SELECT oe.*, t.campaign AS c FROM oe JOIN t USING (a) WHERE t.campaign IS NOT NULL),
            mo AS (SELECT DISTINCT a AS m, c, o FROM ge),
            hit AS (SELECT DISTINCT x.a AS m, x.o FROM ge x JOIN ge y ON y.o = x.o AND y.c = x.c AND y.a <> x.a
                    AND {cond}),
            slots AS (SELECT mo.m, mo.c, mo.o, x.ts, x.lat FROM mo JOIN oe x ON x.o = mo.o
                      LEFT JOIN t tx ON tx.a = x.a WHERE x.a = mo.m OR tx.campaign IS DISTINCT FROM mo.c),
            sq AS (SELECT x.m, x.o, x.ts, x.lat, bool_or(y.a IS NOT NULL) AS co FROM slots x
                   LEFT JOIN ge y ON y.o = x.o AND y.c = x.c AND y.a <> x.m AND {cond} GROUP BY ALL),
            q AS (SELECT m, o, avg(co::INT) AS q FROM sq GROUP BY 1, 2)
            SELECT q.m, sum(q.q) AS lam, count(h.m) AS w FROM q LEFT JOIN hit h USING (m, o)
            GROUP BY 1 ORDER BY 1""").fetchnumpy()
        names = r["m"] if names is None else names
        assert (names == r["m"]).all()
        ps.append(poisson_sf(r["w"].astype(float), np.maximum(r["lam"].astype(float), 1e-9)))
    p = np.minimum(1.0, len(ps) * np.minimum.reduce(ps))
    keep = names[benjamini_hochberg(p, alpha)] if names is not None and len(names) else np.array([], dtype=object)
    con.register("_id", pa.table({"a": pa.array([str(x) for x in keep], pa.string())}))
    con.execute("CREATE OR REPLACE TABLE ident AS SELECT a FROM _id")
    con.unregister("_id")
    return dict(con.execute("SELECT t.campaign, count(*) FROM ident JOIN t USING (a) GROUP BY 1").fetchall())


def score(con: Any, flagged: set[str]) -> dict[str, Any]:
    """Precision, recall, organic share and per-campaign cells for one run's flagged accounts."""
    import pyarrow as pa

    con.register("f", pa.table({"a": pa.array(sorted(flagged), pa.string())}))
    rows = con.execute("""SELECT coalesce(t.campaign, 'organic') AS c, count(*) AS n,
            count(*) FILTER (WHERE g.a IS NOT NULL) AS tog, count(*) FILTER (WHERE f.a IS NOT NULL) AS flagged,
            count(*) FILTER (WHERE f.a IS NOT NULL AND g.a IS NOT NULL) AS hit,
            count(*) FILTER (WHERE i.a IS NOT NULL) AS ident,
            count(*) FILTER (WHERE f.a IS NOT NULL AND i.a IS NOT NULL) AS ident_found
        FROM t LEFT JOIN tog g ON g.a = t.a LEFT JOIN f ON f.a = t.a
        LEFT JOIN (SELECT a FROM ident) i ON i.a = t.a GROUP BY 1""").fetchall()
    con.unregister("f")
    by = {r[0]: {"accounts": r[1], "together": r[2], "flagged": r[3], "found": r[4], "identifiable": r[5],
                 "identifiable_found": r[6]} for r in rows}
    org = by.pop("organic", {"accounts": 0, "flagged": 0})
    tp = sum(v["flagged"] for v in by.values())
    tog = sum(v["together"] for v in by.values())
    found = sum(v["found"] for v in by.values())
    prec = tp / len(flagged) if flagged else None
    rec = found / tog if tog else None
    f1 = 2 * prec * rec / (prec + rec) if prec is not None and rec is not None and prec + rec > 0 else None
    ident = sum(v["identifiable"] for v in by.values())
    ident_found = sum(v["identifiable_found"] for v in by.values())
    return {"flagged": len(flagged), "precision": prec, "recall": rec, "f1": f1, "found": found, "together": tog,
            "identifiable": ident, "identifiable_found": ident_found,
            "recall_identifiable": ident_found / ident if ident else None,
            "organic_flagged": org["flagged"], "organic_share": org["flagged"] / max(org["accounts"], 1),
            "campaigns": by}


HEADER = ("| difficulty | behaviours | flagged | precision | recall | F1 | organic flagged | " + " | ".join(CAMPAIGNS)
          + " | recall of identifiable | seconds |\n|---|---|---:|---:|---:|---:|---:|" + "---|" * len(CAMPAIGNS)
          + "---:|---:|")


def row_md(s: dict[str, Any]) -> str:
    """One Markdown table row of a run's scores."""
    cells = " | ".join(f"{s['campaigns'].get(c, {}).get('found', 0)}/{s['campaigns'].get(c, {}).get('together', 0)}"
                       for c in CAMPAIGNS)
    prec = "-" if s["precision"] is None else f"{s['precision']:.2f}"
    rec = "-" if s["recall"] is None else f"{s['recall']:.2f} ({s['found']}/{s['together']})"
    f1 = "-" if s.get("f1") is None else f"{s['f1']:.2f}"
    idr = "-" if s.get("recall_identifiable") is None else \
        f"{s['recall_identifiable']:.2f} ({s['identifiable_found']}/{s['identifiable']})"
    return (f"| {s['difficulty']} | {s['behaviours']} | {s['flagged']} | {prec} | {rec} | {f1} "
            f"| {s['organic_flagged']} | {cells} | {idr} | {s['seconds']:.1f} |")


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
        ident = identifiable(con, study)
        print(f"<!-- {diff}: identifiable by the oracle (own campaign known, 60 s or early 600 s, BH 0.01): "
              f"{json.dumps(ident, sort_keys=True)} -->", flush=True)
        for run in args.runs:
            t0 = time.perf_counter()
            res = coordinate(study, CoordParams(behaviours=tuple(run.split(",")), **overrides), write=False)
            s = score(con, res.flagged_accounts())
            label = diff if args.seed == 7 else f"{diff} (seed {args.seed})"
            s.update({"difficulty": label, "behaviours": run, "seconds": round(time.perf_counter() - t0, 1)})
            out.append(s)
            print(row_md(s), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

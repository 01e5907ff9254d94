"""Recall per campaign type and false positives per confounder type on the simulator's realistic scenario.

Usage::

    python benchmarks/bench_confounders.py [--seeds 1 2 3] [--accounts 42000 --engagements 480000]
        [--behaviour default] [--param window=120 ...] [--no-score] [--no-coordinate]
        [--workdir /tmp/bench-confounders] [--md table.md] [--json out.json] [--rates-out rates.json]

Why this benchmark: the simulator's default platform was written together with the detector, so it is a
witness, not a referee (issue 16). The realistic scenario (``make_config(scenario="realistic")``: eight weeks,
42,000 accounts and 480,000 engagements by default, every campaign and every confounder) adds what real
platforms have and co-action tools mistake for coordination -- fans bursting on their idols' posts, independent
news aggregators, interest communities sharing their hubs, breaking-news surges -- and campaigns that do not
act within a minute (a scheduled shift, a ring, slow templated praise, state-media links).

For each seed it simulates the platform (once per work directory; not timed), runs
``coordinate(study, CoordParams(behaviours=...))`` with the detector's defaults unless ``--param`` says
otherwise (nothing is tuned here: this only measures) and, unless ``--no-score``, the account score
(``score_study``), then counts against ``truth_accounts``:

- **recall per campaign type**: campaign accounts in clusters judged coordinated / the campaign's accounts;
- **false positives per confounder type**: accounts of the type in clusters judged coordinated / accounts of
  the type -- ordinary users (role ``organic``), fans, aggregators, and (for reference) idols, news outlets,
  community hubs, the ordinary users who took part in a breaking-news surge, and the study's targets (a target
  in a cluster is a member of the group amplifying it, e.g. a state-media outlet whose links a campaign shares);
- **aggregator clusters**: coordinated clusters whose members are mostly aggregators (and their label, when
  the clusters table carries one);
- **account score**: the share of each group at or above the score's high-risk line (``account_scores.high_risk``
  when the table has it, else ``score >= 0.7``) -- campaign recall at that line, false positives of the
  confounders and ordinary users -- and the AUC of the score, campaign accounts against ordinary users;
- **score calibration** (the error rates the high-risk line is published with): for score bins, the accounts in
  the bin and the share that are campaign accounts, ordinary users, fans, aggregators and others (targets, idols,
  news outlets); and for candidate lines (:data:`LINES`), the share of each group that would be high risk at that
  line (``score >= line`` and a kind that is not kept off the list, :func:`echoscope.accounts.risk.exempt_kinds`),
  pooled and per seed. ``--rates-out FILE`` writes those rates in the shape of
  ``echoscope.accounts.risk.EXPECTED_ERROR_RATES`` (with the date, seeds, size and this command), ready to store
  beside the line.

Counts are pooled over the seeds; the per-seed shares follow in brackets. Prints Markdown (``--md`` writes it
to a file too) and ``--json`` writes every number, the coordination summary and the timings. ``--no-coordinate``
skips ``coordinate`` (the score alone; its creation bursts then see no clusters).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

CAMPAIGN_ORDER = ("superspreaders", "impersonation", "hijacked", "copypaste", "scheduled", "ring", "slowtext",
                  "links")
#: (row label, SQL condition on truth_accounts t / surge participants s)
CONFOUNDER_GROUPS = (
    ("ordinary users", "t.role = 'organic'"),
    ("fans", "t.role = 'fan'"),
    ("aggregators", "t.role = 'aggregator'"),
    ("surge participants (ordinary users and fans)", "s.a IS NOT NULL"),
    ("community hubs", "t.hub"),
    ("idols", "t.role = 'idol'"),
    ("news outlets", "t.role = 'news-outlet'"),
    ("study targets", "t.role = 'target'"),
)
HIGH_RISK_DEFAULT = 0.7


def _not_campaign(cond: str) -> str:
    """SQL condition of a confounder group: not a campaign account, ``cond``, and (except the targets' own row)
    not a study target (a target is counted in its own row only)."""
    own = "" if cond == "t.role = 'target'" else " AND t.role <> 'target'"
    return f"t.campaign IS NULL{own} AND ({cond})"


#: candidate lines for the score's calibration
LINES = (0.5, 0.55, 0.6, 0.62, 0.65, 0.68, 0.7, 0.75, 0.8)
#: score bins of the calibration table (left-closed; the last bin holds 1.0)
BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 1.0)
#: classes of the calibration table: (name, SQL condition on truth_accounts t)
CLASSES = (("campaign", "t.campaign IS NOT NULL"), ("ordinary", "t.role = 'organic'"), ("fan", "t.role = 'fan'"),
           ("aggregator", "t.role = 'aggregator'"), ("other", "t.campaign IS NULL AND t.role NOT IN ('organic', "
                                                              "'fan', 'aggregator')"))


def platform_study(workdir: Path, seed: int, accounts: int | None, engagements: int | None) -> Any:
    """The realistic platform for ``seed`` as a study (simulated once per work directory)."""
    from echoscope.simulate import make_config, simulate, write
    from echoscope.study import open_study

    cfg = make_config(scenario="realistic", accounts=accounts, engagements=engagements, seed=seed)
    root = workdir / f"realistic-{cfg.accounts}-{cfg.engagements}-seed{seed}"
    if not (root / "done").exists():
        write(simulate(cfg), root / "study", "study")
        (root / "done").write_text("ok")
    return open_study(root / "study")


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def measure(study: Any, behaviour: str, overrides: dict[str, Any], score: bool,
            coordinate_first: bool = True) -> dict[str, Any]:
    """Run the detector (and the score) on ``study`` and count flagged accounts per truth group."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.register("truth", study.to_arrow("truth_accounts"))
    te = study.to_arrow("truth_engagements").select(["actor_id", "purpose"])
    con.register("te", te)
    con.execute("CREATE TABLE s AS SELECT DISTINCT CAST(actor_id AS VARCHAR) AS a FROM te WHERE purpose = 'surge'")
    con.execute("""CREATE TABLE t AS SELECT CAST(account_id AS VARCHAR) AS a, campaign, role,
                   coalesce(hub, false) AS hub FROM truth""")
    out: dict[str, Any] = {}
    res = None
    if coordinate_first:
        from echoscope.coordination import CoordParams, coordinate

        t0 = time.perf_counter()
        res = coordinate(study, CoordParams(behaviours=tuple(behaviour.split(",")), **overrides), write=True)
        t_coord = time.perf_counter() - t0
        clusters = res.coordinated_clusters()
        members = [(str(a), int(c["cluster_id"])) for c in clusters for a in c["accounts"]]
        out.update({"coordinate_s": round(t_coord, 1), "clusters": len(clusters),
                    "flagged": len({a for a, _ in members}), "summary": _jsonable(res.summary)})
    else:
        members = []
        out.update({"coordinate_s": None, "clusters": None, "flagged": None})
    con.register("m", pa.table({"a": pa.array([a for a, _ in members], pa.string()),
                                "cid": pa.array([c for _, c in members], pa.int64())}))
    con.execute("CREATE TABLE f AS SELECT DISTINCT a FROM m")
    line = None
    if score:
        from echoscope.accounts import score_study
        from echoscope.accounts.risk import exempt_kinds

        t1 = time.perf_counter()
        sres = score_study(study, write=False)
        out["score_s"] = round(time.perf_counter() - t1, 1)
        sc = sres.scores
        has_line = "high_risk" in sc.column_names
        line = (sres.summary.get("high_risk_threshold") if hasattr(sres, "summary") else None) or HIGH_RISK_DEFAULT
        cols = ["account_id", "score"] + (["high_risk"] if has_line else []) + (["kind"] if "kind" in
                                                                                sc.column_names else [])
        con.register("sc0", sc.select(cols))
        flag = "high_risk" if has_line else f"score >= {HIGH_RISK_DEFAULT}"
        kind = "kind" if "kind" in sc.column_names else "NULL::VARCHAR"
        con.execute(f"""CREATE TABLE sc AS SELECT CAST(account_id AS VARCHAR) AS a, score, ({flag}) AS hr,
                        {kind} AS kind FROM sc0""")
        out["score_line"] = {"line": line, "source": "account_scores.high_risk" if has_line else "score >= 0.7"}
        out["score_auc_campaign_vs_ordinary"] = _auc(con)
        out["score_summary"] = _jsonable({k: v for k, v in sres.summary.items() if k not in ("parameters", "weights")})
        exempt = ", ".join(f"'{k}'" for k in exempt_kinds(True))
        out["calibration"] = calibration(con, exempt)
    hr = "count(*) FILTER (WHERE sc.hr)" if score else "NULL"
    join_sc = "LEFT JOIN sc USING (a)" if score else ""
    groups: dict[str, Any] = {}
    for name in CAMPAIGN_ORDER:
        r = con.execute(f"""SELECT count(*), count(f.a), {hr} FROM t LEFT JOIN f USING (a) {join_sc}
                            WHERE t.campaign = '{name}'""").fetchone()
        groups[f"campaign:{name}"] = {"accounts": r[0], "coordinated": r[1], "high_risk": r[2]}
    for label, cond in CONFOUNDER_GROUPS:
        r = con.execute(f"""SELECT count(*), count(f.a), {hr} FROM t LEFT JOIN f USING (a) LEFT JOIN s USING (a)
                            {join_sc} WHERE {_not_campaign(cond)}""").fetchone()
        groups[label] = {"accounts": r[0], "coordinated": r[1], "high_risk": r[2]}
    out["groups"] = groups
    # clusters made mostly of aggregators: how many, how big, and what the detector calls them
    agg = con.execute("""SELECT cid, count(*) n, count(*) FILTER (WHERE t.role = 'aggregator') k
                         FROM m JOIN t USING (a) GROUP BY 1 HAVING k * 2 > n ORDER BY k DESC""").fetchall()
    labels = {}
    if res is not None:
        label_cols = [c for c in ("label", "kind", "amplifies_targets", "target_share")
                      if c in res.clusters.column_names]
        if label_cols and agg:
            rows = res.clusters.select(["cluster_id", *label_cols]).to_pylist()
            labels = {r["cluster_id"]: {c: r[c] for c in label_cols} for r in rows}
    out["aggregator_clusters"] = [{"cluster_id": c, "members": n, "aggregators": k, **labels.get(c, {})}
                                  for c, n, k in agg]
    return out


def calibration(con: Any, exempt: str) -> dict[str, Any]:
    """Score bins x classes (account counts) and, per candidate line and group, the accounts that would be high
    risk at that line (``score >= line`` and a kind not in ``exempt``), from the tables ``t``, ``s`` and ``sc``."""
    classes = ", ".join(f"count(*) FILTER (WHERE {cond}) AS \"{name}\"" for name, cond in CLASSES)
    lo = "CASE " + " ".join(f"WHEN score >= {b!r} THEN {b!r}::DOUBLE" for b in reversed(BINS[1:-1])) + " ELSE 0.0 END"
    bins = con.execute(f"""WITH x AS (SELECT t.*, coalesce(sc.score, 0) AS score FROM t LEFT JOIN sc USING (a)),
        b AS (SELECT *, {lo} AS lo FROM x)
        SELECT t.lo, count(*) AS n, {classes} FROM b t GROUP BY t.lo ORDER BY t.lo""").fetchall()
    names = [n for n, _ in CLASSES]
    out: dict[str, Any] = {"bins": [{"lo": r[0], "accounts": r[1], **dict(zip(names, r[2:]))} for r in bins],
                           "lines": {}}
    groups = [(f"campaign:{c}", f"t.campaign = '{c}'") for c in CAMPAIGN_ORDER]
    groups += [("campaign (all)", "t.campaign IS NOT NULL")]
    groups += [(label, _not_campaign(cond)) for label, cond in CONFOUNDER_GROUPS]
    for line in LINES:
        hit = f"coalesce(sc.score, 0) >= {line!r} AND coalesce(sc.kind, '') NOT IN ({exempt})"
        row = {}
        for label, cond in groups:
            n, k = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE {hit}) FROM t LEFT JOIN s USING (a)
                                   LEFT JOIN sc USING (a) WHERE {cond}""").fetchone()
            row[label] = {"accounts": n, "high_risk": k}
        out["lines"][f"{line:g}"] = row
    return out


def _auc(con: Any) -> float | None:
    """AUC of the score: campaign accounts against ordinary users (Mann-Whitney, ties counted half)."""
    r = con.execute("""WITH x AS (SELECT coalesce(sc.score, 0) AS s, t.campaign IS NOT NULL AS pos FROM t
                          LEFT JOIN sc USING (a) WHERE t.campaign IS NOT NULL OR t.role = 'organic'),
        r AS (SELECT pos, avg(rk) OVER (PARTITION BY s) AS rk
              FROM (SELECT *, row_number() OVER (ORDER BY s) rk FROM x))
        SELECT sum(rk) FILTER (WHERE pos), count(*) FILTER (WHERE pos), count(*) FILTER (WHERE NOT pos)
        FROM r""").fetchone()
    if not r[1] or not r[2]:
        return None
    return round((r[0] - r[1] * (r[1] + 1) / 2) / (r[1] * r[2]), 4)


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v)
        return v
    except TypeError:
        if isinstance(v, dict):
            return {str(k): _jsonable(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [_jsonable(x) for x in v]
        return str(v)


def _pct(x: float) -> str:
    return f"{x:.2%}" if 0 < x < 0.01 else f"{x:.1%}"  # the 0.5% targets need the second decimal


def _cell(runs: list[dict[str, Any]], group: str, key: str) -> str:
    vals = [r["groups"][group] for r in runs]
    total = sum(v["accounts"] for v in vals)
    hit = sum(v[key] or 0 for v in vals)
    if not total:
        return "-"
    per = " / ".join(_pct((v[key] or 0) / v["accounts"]) if v["accounts"] else "-" for v in vals)
    return f"{_pct(hit / total)} ({hit}/{total})" + (f" [{per}]" if len(vals) > 1 else "")


def table_md(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """The Markdown section: one row per campaign type and per confounder type."""
    score = "score_line" in runs[0]
    line = runs[0].get("score_line", {})
    coord = f"`coordinate --behaviour {meta['behaviour']}`" if meta.get("coordinate", True) else "no coordinate"
    head = (f"Realistic scenario, {meta['accounts']:,} accounts / {meta['engagements']:,} engagements, seeds "
            f"{', '.join(str(s) for s in meta['seeds'])}; {coord}"
            + (f" with {meta['params']}" if meta["params"] else "") + "; "
            + (f"score line: {line.get('source')} (line {line.get('line')})" if score else "no score") + ".\n")
    cols = "| group | in coordinated clusters |" + (" at/above the high-risk line |" if score else "")
    sep = "|---|---:|" + ("---:|" if score else "")
    lines = [head, cols, sep]
    for g in runs[0]["groups"]:
        name = g.replace("campaign:", "campaign `") + ("` (recall)" if g.startswith("campaign:") else
                                                        " (false positives)")
        coord_cell = _cell(runs, g, "coordinated") if meta.get("coordinate", True) else "-"
        lines.append(f"| {name} | {coord_cell} |" + (f" {_cell(runs, g, 'high_risk')} |" if score else ""))
    base_keys = ("cluster_id", "members", "aggregators")

    def labels(c: dict[str, Any]) -> str:
        extra = [f"{k}={v}" for k, v in c.items() if k not in base_keys]
        return f" ({', '.join(extra)})" if extra else ""

    agg = [f"seed {m}: {len(r['aggregator_clusters'])} cluster(s), "
           f"{sum(c['aggregators'] for c in r['aggregator_clusters'])} aggregators in "
           f"{sum(c['members'] for c in r['aggregator_clusters'])} members"
           + "".join(labels(c) for c in r["aggregator_clusters"])
           for m, r in zip(meta["seeds"], runs)]
    lines.append("")
    if meta.get("coordinate", True):
        lines.append("Aggregator clusters (coordinated clusters with a majority of aggregators): " + "; ".join(agg)
                     + ".")
    if score:
        lines.append("Score AUC, campaign accounts against ordinary users: "
                     + ", ".join(f"{r.get('score_auc_campaign_vs_ordinary')}" for r in runs) + ".")
        auto = [r.get("score_summary", {}).get("kinds", {}) for r in runs]
        lines.append("Accounts named automated (automated reposting, no target / automated, amplifies the targets): "
                     + ", ".join(f"{k.get('automated reposting, no target', 0) + k.get('automated, no target', 0)}"
                                 f" / {k.get('automated, amplifies the targets', 0)}" for k in auto) + ".")
    lines.append("Seconds (coordinate" + (" / score" if score else "") + "): "
                 + ", ".join(f"{r['coordinate_s']}" + (f" / {r.get('score_s')}" if score else "") for r in runs)
                 + ".")
    return "\n".join(lines) + "\n"


def _pool(runs: list[dict[str, Any]], line: str, group: str) -> tuple[int, int, list[float]]:
    """Accounts, high-risk accounts pooled over the seeds, and the per-seed shares, of ``group`` at ``line``."""
    cells = [r["calibration"]["lines"][line][group] for r in runs]
    n = sum(c["accounts"] for c in cells)
    k = sum(c["high_risk"] for c in cells)
    return n, k, [c["high_risk"] / c["accounts"] if c["accounts"] else 0.0 for c in cells]


#: the false-positive groups of the line table, and the recall groups
FP_GROUPS = ("ordinary users", "fans", "aggregators", "surge participants (ordinary users and fans)", "community hubs",
             "idols", "news outlets")
RECALL_GROUPS = tuple(f"campaign:{c}" for c in CAMPAIGN_ORDER) + ("campaign (all)",)


def calibration_md(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    """Markdown: the calibration table (score bins -> classes) and the rates at each candidate line."""
    if not runs or "calibration" not in runs[0]:
        return ""
    seeds = ", ".join(str(x) for x in meta["seeds"])
    lines = [f"Score calibration, realistic scenario, {meta['accounts']:,} accounts / {meta['engagements']:,} "
             f"engagements, seeds {seeds} (pooled): accounts per score bin and what they are.", "",
             "| score | accounts | campaign | ordinary | fans | aggregators | other (targets, idols, outlets) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    pooled: dict[float, dict[str, int]] = {}
    for r in runs:
        for b in r["calibration"]["bins"]:
            acc = pooled.setdefault(b["lo"], {})
            for k, v in b.items():
                if k != "lo":
                    acc[k] = acc.get(k, 0) + v
    for i, lo in enumerate(BINS[:-1]):
        b = pooled.get(lo, {"accounts": 0})
        n = b.get("accounts", 0)
        hi = BINS[i + 1]
        label = f"[{lo:g}, {hi:g})" if hi < 1 else f"[{lo:g}, 1]"
        cells = [f"{_pct(b.get(c, 0) / n)} ({b.get(c, 0)})" if n else "-" for c, _ in CLASSES]
        lines.append(f"| {label} | {n:,} | " + " | ".join(cells) + " |")
    lines += ["", "False positives at candidate lines (share of each group at or above the line and not kept off "
              "the list; pooled, the largest seed's share in brackets):", "",
              "| line | " + " | ".join(FP_GROUPS) + " |", "|---:|" + "---:|" * len(FP_GROUPS)]
    for line in runs[0]["calibration"]["lines"]:
        cells = []
        for g in FP_GROUPS:
            n, k, per = _pool(runs, line, g)
            cells.append(f"{_pct(k / n)} ({k}/{n}) [{_pct(max(per))}]" if n else "-")
        lines.append(f"| {line} | " + " | ".join(cells) + " |")
    names = [g.replace("campaign:", "") for g in RECALL_GROUPS]
    lines += ["", "Campaign recall at candidate lines (pooled; the smallest seed's share in brackets):", "",
              "| line | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for line in runs[0]["calibration"]["lines"]:
        cells = []
        for g in RECALL_GROUPS:
            n, k, per = _pool(runs, line, g)
            cells.append(f"{_pct(k / n)} [{_pct(min(per))}]" if n else "-")
        lines.append(f"| {line} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def rates_json(runs: list[dict[str, Any]], meta: dict[str, Any], command: str) -> dict[str, Any]:
    """The measured rates in the shape of ``echoscope.accounts.risk.EXPECTED_ERROR_RATES``."""
    out: dict[str, Any] = {"source": {"simulator": "echoscope.simulate, scenario 'realistic'",
                                      "accounts": meta["accounts"], "engagements": meta["engagements"],
                                      "seeds": list(meta["seeds"]), "date": dt.date.today().isoformat(),
                                      "coordinate_first": meta.get("coordinate", True), "script": command},
                           "lines": {}}
    for line in runs[0]["calibration"]["lines"]:
        row: dict[str, Any] = {}
        for key, g in (("ordinary", "ordinary users"), ("fans", "fans"), ("aggregators", "aggregators")):
            n, k, per = _pool(runs, line, g)
            row[key] = round(k / n, 5) if n else None
            row.setdefault("largest_seed", {})[key] = round(max(per), 5) if n else None
        row["campaign_recall"] = {}
        for g in RECALL_GROUPS:
            n, k, per = _pool(runs, line, g)
            row["campaign_recall"][g.replace("campaign:", "")] = round(k / n, 4) if n else None
        out["lines"][line] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--accounts", type=int, help="default: the scenario's 42,000")
    ap.add_argument("--engagements", type=int, help="default: the scenario's 480,000")
    ap.add_argument("--behaviour", default="default", help="coordinate behaviours, comma separated (default: default)")
    ap.add_argument("--param", nargs="*", default=[], metavar="KEY=VALUE", help="other CoordParams fields")
    ap.add_argument("--no-score", action="store_true", help="skip the account score")
    ap.add_argument("--no-coordinate", action="store_true", help="skip coordinate (score only)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench-confounders"))
    ap.add_argument("--md", type=Path, help="also write the Markdown tables here")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--rates-out", type=Path, help="write the score's rates per line (EXPECTED_ERROR_RATES shape)")
    args = ap.parse_args()
    overrides = {k: _value(v) for k, v in (x.split("=", 1) for x in args.param)}
    runs = []
    for seed in args.seeds:
        study = platform_study(args.workdir, seed, args.accounts, args.engagements)
        r = measure(study, args.behaviour, overrides, not args.no_score, not args.no_coordinate)
        r["seed"] = seed
        runs.append(r)
        print(f"<!-- seed {seed}: coordinate {r['coordinate_s']} s, {r['clusters']} coordinated clusters, "
              f"{r['flagged']} accounts; score {r.get('score_s')} s -->", flush=True)
    from echoscope.simulate import make_config

    cfg = make_config(scenario="realistic", accounts=args.accounts, engagements=args.engagements)
    meta = {"accounts": cfg.accounts, "engagements": cfg.engagements, "seeds": args.seeds,
            "behaviour": args.behaviour, "params": overrides, "coordinate": not args.no_coordinate}
    md = table_md(runs, meta) + ("\n" + calibration_md(runs, meta) if not args.no_score else "")
    print(md)
    if args.md:
        args.md.write_text(md)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1, default=str))
    if args.rates_out and not args.no_score:
        # the command that reproduces the rates, without the options that only say where files go
        argv, kept, skip = sys.argv[1:], [], False
        for a in argv:
            if skip:
                skip = False
                continue
            if a.split("=", 1)[0] in ("--rates-out", "--json", "--md", "--workdir"):
                skip = "=" not in a
                continue
            kept.append(a)
        command = "python benchmarks/bench_confounders.py " + " ".join(kept)
        args.rates_out.write_text(json.dumps(rates_json(runs, meta, command.strip()), indent=1))


if __name__ == "__main__":
    main()

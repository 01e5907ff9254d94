"""``echoscope coordinate`` and ``echoscope explain``: a thin layer over :mod:`echoscope.coordination`."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..coordination.coactions import COACTIONS
from ..coordination.network import BEHAVIOUR_SETS, NULL_MODELS, SEMANTICS, CoordParams
from ..errors import ConfigError
from ..study import open_study
from .util import byte_progress, emit_json, handle_errors, out

BEHAVIOUR_HELP = ("comma-separated behaviours: " + "; ".join(f"{k} ({v.description})" for k, v in COACTIONS.items())
                  + "; or a named set: " + "; ".join(f"{k} = {','.join(v)}" for k, v in BEHAVIOUR_SETS.items())
                  + "; default = amplification,shared-ip under echoscope semantics (co-retweet under cnt and "
                  "coortweet). Several behaviours also give a fused network: more behaviours find more of a "
                  "campaign and cost more time (the default finds ~0.97 of the simulator's co-acting campaign "
                  "accounts, co-retweet alone ~0.68, at ~4-5x its time; -b co-retweet for the fastest run)")
WINDOW_HELP = ("seconds within which two accounts' actions on the same object count as acting together. A long "
               "window admits coincidence (everyone who reposts a popular post in the same hour) and costs more "
               "pairs; a short one misses loosely scheduled campaigns")
MIN_REPEAT_HELP = ("minimum actions (distinct objects) an account needs to be considered; accounts below it are "
                   "pruned before pairing. A low minimum admits one-off coincidences and costs time")
MIN_WEIGHT_HELP = ("minimum number of distinct objects two accounts acted on together for an edge. 1 or 2 admit "
                   "coincidence, not coordination; the null model then has to reject most edges")
ALPHA_HELP = ("significance level: an edge is judged coordinated when its Benjamini-Hochberg-adjusted p-value "
              "under the null model is below it, a cluster when its internal weight's p-value is. Larger values "
              "flag more honest accounts")
SEM_HELP = "; ".join(f"{k}: {v}" for k, v in SEMANTICS.items())


def _buckets(text: str) -> tuple[float, ...]:
    """``--latency-buckets`` as a tuple of seconds (validated by :class:`CoordParams`)."""
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ConfigError(f"--latency-buckets must be comma-separated seconds like 10,60,300,1800, not '{text}'") from None


def register(app: typer.Typer) -> None:
    """Add ``coordinate`` and ``explain`` to the main app."""

    @app.command()
    @handle_errors
    def coordinate(
        study: Annotated[Path, typer.Argument(help="study directory")],
        behaviour: Annotated[str, typer.Option("--behaviour", "-b", help=BEHAVIOUR_HELP)] = "default",
        window: Annotated[float, typer.Option(help=WINDOW_HELP)] = 60.0,
        min_repeat: Annotated[int, typer.Option(help=MIN_REPEAT_HELP)] = 2,
        min_weight: Annotated[int, typer.Option(help=MIN_WEIGHT_HELP)] = 2,
        alpha: Annotated[float, typer.Option(help=ALPHA_HELP)] = 0.01,
        semantics: Annotated[str, typer.Option(help=SEM_HELP)] = "echoscope",
        null: Annotated[str, typer.Option(help="null model: " + "; ".join(f"{k}: {v}" for k, v in
                                                                        NULL_MODELS.items()))] = "object",
        reps: Annotated[int, typer.Option(help="null-model repetitions; each costs about one more pairing run; "
                                               "few repetitions make small p-values coarse")] = 20,
        max_window_actions: Annotated[int, typer.Option(
            help="dense-window guard: actions with more than this many others on the same object within "
                 "+/- window are dropped before pairing and reported (0 = no guard, exact but quadratic on "
                 "viral posts; a high value costs time quadratically on viral posts, a low one drops "
                 "small bursts)")] = 200,
        max_shared_accounts: Annotated[int, typer.Option(
            help="shared-ip: an address or device used by more than this many other accounts (carrier NAT, "
                 "VPN exits) is dropped before pairing and reported (0 = no cap: crowded addresses then pair "
                 "their users, and two NAT addresses in common can look like an operator's pool)")] = 50,
        cluster_p: Annotated[float, typer.Option(
            help="held-out validation: pairs with a p-value at most this on one half of the objects form the "
                 "groups tested on the other half; higher admits more candidates (more time), not more "
                 "false accounts")] = 0.2,
        group_resolution: Annotated[float, typer.Option(
            help="held-out validation: Leiden resolution for the groups found on one half (1 = modularity); "
                 "lower keeps a large campaign in one group, higher splits it (a split campaign's parts mask "
                 "each other and lose accounts)")] = 0.75,
        min_lift: Annotated[float, typer.Option(
            help="held-out validation: an account must co-act with its group at least this many times as often "
                 "as the null expects, besides being significant (1 = significance only; lower admits active "
                 "organic accounts whose small timing edge becomes significant on large counts)")] = 1.5,
        near_duplicate: Annotated[float, typer.Option(
            help="co-text: Jaccard similarity (word 3-shingles, MinHash LSH) at which texts count as the same; "
                 "1 = identical normalised text only. Low values merge different messages")] = 0.8,
        rapid_seconds: Annotated[float, typer.Option(
            help="rapid-fire: amplification within this many seconds of the original post")] = 10.0,
        early_seconds: Annotated[float, typer.Option(
            help="early-amplify: engagements within this many seconds of the post, any two of which co-act "
                 "(its own window). Longer admits the organic crowd of the first hour (the null discounts it, "
                 "with less power); shorter misses slower campaigns")] = 600.0,
        latency_buckets: Annotated[str, typer.Option(
            help="co-latency: upper edges (seconds) of the delay buckets after the post, comma-separated; two "
                 "engagements of the post in the same bucket co-act (the last edge is the window). Wide "
                 "buckets admit the organic crowd; narrow ones split a campaign's wave")] = "10,60,300,1800",
        edge_weight_quantile: Annotated[float, typer.Option(
            help="coortweet semantics: edges above this quantile of edge weights are coordinated")] = 0.5,
        seed: Annotated[int, typer.Option(help="seed of the null model and of Leiden")] = 0,
        engine: Annotated[str, typer.Option(
            help="where pruning, the guard and pairing run: duckdb (embedded) or spark (the same results; "
                 "master ECHOSCOPE_SPARK_MASTER or [spark] master in echoscope.toml, else local[2], whose session "
                 "costs ~30 s to start; echoscope semantics, every behaviour)")] = "duckdb",
        edges: Annotated[Path | None, typer.Option(
            "--edges", help="write the judged edges as a Gephi CSV (Source,Target,Weight,Type)")] = None,
        json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress")] = False,
    ) -> None:
        """Find accounts that act together again and again, judge them against a null model, cluster them."""
        from ..coordination.api import coordinate as run

        params = CoordParams(
            behaviours=tuple(b.strip() for b in behaviour.split(",") if b.strip()), window=window,
            min_repeat=min_repeat, min_weight=min_weight, alpha=alpha, semantics=semantics, null=null, reps=reps,
            max_window_actions=max_window_actions or None, max_shared_accounts=max_shared_accounts or None,
            near_duplicate=None if near_duplicate >= 1 else near_duplicate, rapid_seconds=rapid_seconds,
            early_seconds=early_seconds, latency_buckets=_buckets(latency_buckets),
            edge_weight_quantile=edge_weight_quantile, seed=seed, cluster_p=cluster_p, group_resolution=group_resolution, min_lift=min_lift,
            evidence_per_edge=None if semantics != "echoscope" else 20)
        s = open_study(study)
        with byte_progress("coordinate", quiet=quiet or json) as cb:
            res = run(s, params, progress=cb, engine=engine)
        if edges is not None:
            write_gephi_csv(res.edges, res.summary["network"], edges)
        clusters = res.coordinated_clusters()
        if json:
            emit_json({"summary": res.summary, "clusters": clusters})
            return
        sm = res.summary
        out.print(f"[bold]{sm['network']}[/] network ({sm['semantics']} semantics): {sm['significant_edges']:,} "
                  f"judged edges of {sm['edges']:,}; {sm['coordinated_clusters']} coordinated cluster(s), "
                  f"{sm['flagged_accounts']:,} account(s)")
        if sm.get("expected_false_edges") is not None:
            out.print(f"expected false edges among those judged: {sm['expected_false_edges']:.3g}")
        for b, g in (sm.get("capped") or {}).items():
            if g and g.get("actions_dropped"):
                if COACTIONS[b].timed:
                    out.print(f"[yellow]{b}: dense-window guard dropped {g['actions_dropped']:,} action(s) on "
                              f"{g['objects_affected']:,} object(s) (more than {g['max_window_actions']} others "
                              f"within the window); --max-window-actions 0 for an exact run[/]")
                else:
                    out.print(f"[yellow]{b}: {g['objects_affected']:,} address(es) or device(s) used by more than "
                              f"{g['max_window_actions']} other accounts left out ({g['actions_dropped']:,} "
                              f"action(s)); --max-shared-accounts 0 to pair them too[/]")
        for b, why in (sm.get("skipped_behaviours") or {}).items():
            out.print(f"[yellow]{b} (of the default behaviours) left out: {why}[/]")
        t = Table(title="coordinated clusters")
        for c in ("cluster", "size", "p-value", "behaviours", "median followers", "suspended", "targets", "accounts"):
            t.add_column(c)
        for c in clusters[:30]:
            t.add_row(str(c["cluster_id"]), str(c["size"]), _fmt(c.get("p_value")), str(c.get("behaviours") or ""),
                      _fmt(c.get("median_followers")), _fmt(c.get("share_suspended")), str(c.get("targets") or "-"),
                      ", ".join(c["accounts"][:5]) + (" ..." if len(c["accounts"]) > 5 else ""))
        out.print(t)

    @app.command()
    @handle_errors
    def explain(
        study: Annotated[Path, typer.Argument(help="study directory")],
        account_a: Annotated[str, typer.Argument(help="@handle or account id")],
        account_b: Annotated[str, typer.Argument(help="@handle or account id")],
        limit: Annotated[int, typer.Option(help="evidence rows to show")] = 20,
        json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")] = False,
    ) -> None:
        """Show the evidence for an edge: the objects two accounts acted on together and the time gaps."""
        from ..coordination.api import explain as run

        doc = run(open_study(study), account_a, account_b)
        if json:
            emit_json(doc)
            return
        a, b = doc["account_a"], doc["account_b"]
        if not doc["edges"]:
            out.print(f"no edge between {a} and {b} in the last coordination run", markup=False)
            return
        for e in doc["edges"]:
            verdict = "judged coordinated" if e["significant"] else "not judged coordinated"
            out.print(f"{e['behaviour']}: {e['account_a']} - {e['account_b']}: {e['n_objects']} object(s) together, "
                      f"weight {e['weight']:g}, p = {_fmt(e.get('p_value'))}, {verdict}", markup=False)
        if doc["cluster"] is not None:
            out.print(f"both in cluster {doc['cluster']}")
        t = Table(title=f"evidence ({len(doc['evidence'])} row(s))")
        for c in ("behaviour", "object", "action a", "time a", "action b", "time b", "gap s"):
            t.add_column(c)
        for r in doc["evidence"][:limit]:
            t.add_row(r["behaviour"], str(r["object_id"]), str(r["action_a"]), _when(r["ts_a"]), str(r["action_b"]),
                      _when(r["ts_b"]), f"{r['gap_s']:g}")
        out.print(t)


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def write_gephi_csv(edges: Any, network: str, path: Path) -> int:
    """Write the judged edges of ``network`` as Gephi's CSV edge list; return rows written."""
    rows = [e for e in edges.to_pylist() if e["behaviour"] == network and e["significant"]]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Source", "Target", "Weight", "Type"])
        for e in rows:
            w.writerow([e["account_a"], e["account_b"], e["weight_idf"] if e["weight_idf"] is not None else e["weight"],
                        "Directed" if e["directed"] else "Undirected"])
    return len(rows)

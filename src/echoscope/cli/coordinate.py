"""``echoscope coordinate`` and ``echoscope explain``: thin layers over :mod:`echoscope.coordination` (the run)
and :mod:`echoscope.findings` (reading it: handles where a person reads, ids beside them in ``--json``)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import pyarrow.compute as pc
import typer
from rich.table import Table
from rich.text import Text

from ..coordination.coactions import COACTIONS
from ..coordination.params import BEHAVIOUR_SETS, NULL_MODELS, SEMANTICS, CoordParams
from ..errors import ConfigError
from ..findings.wording import format_p, percent
from ..report.fmt import show
from ..settings import STAGE_MEMORY
from .util import byte_progress, emit_json, handle_errors, out

BEHAVIOUR_HELP = ("comma-separated behaviours: " + "; ".join(f"{k} ({v.description})" for k, v in COACTIONS.items())
                  + "; or a named set: " + "; ".join(f"{k} = {','.join(v)}" for k, v in BEHAVIOUR_SETS.items())
                  + "; default = amplification,shared-ip under echoscope semantics (co-retweet under cnt and "
                  "coortweet). Several behaviours also give a fused network: more behaviours find more of a "
                  "campaign and cost more time (the default finds ~0.97 of the simulator's co-acting campaign "
                  "accounts, co-retweet alone ~0.68, at ~4-5x its time; -b co-retweet for the fastest run). Under "
                  "--semantics coortweet, co-retweet, co-link, co-hashtag, co-domain and co-media, alone or "
                  "combined: several are pooled into one network as CooRTweet's vignette does (docs/peers.md)")
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
        raise ConfigError(f"--latency-buckets must be comma-separated seconds like 10,60,300,1800, not '{text}'") \
            from None


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
        reps: Annotated[int, typer.Option(help="null-model repetitions (shuffles); each costs about one more "
                                               "pairing run; few repetitions make small p-values coarse; under "
                                               "the object null fewer (at least 5) when reps x slot pairs would "
                                               "pass the shuffle budget (summary: null.reps)")] = 20,
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
            help="co-text: Jaccard similarity (word 3-shingles, an exact similarity join) at which texts count "
                 "as the same; 1 = identical normalised text only. Low values merge different messages")] = 0.8,
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
            help="coortweet semantics: edges above this quantile of edge weights are coordinated (with several "
                 "behaviours: of the pooled network's weights, as CooRTweet's vignette)")] = 0.5,
        seed: Annotated[int, typer.Option(help="seed of the null model and of Leiden")] = 0,
        target_originals: Annotated[bool, typer.Option(
            "--target-originals", help="count a target's own first share of a link, text, hashtag set, mention, "
            "domain or image as a co-action (by default it is the original the others amplify: a state-media "
            "account is not put in the cluster of the campaign sharing its links)")] = False,
        engine: Annotated[str | None, typer.Option(
            help="where each behaviour's actions, pruning, the guard and pairing run: duckdb (embedded) or spark "
                 "(the same stage code and the same results; a local session costs ~30 s to start; echoscope "
                 "semantics, every behaviour); default: ECHOSCOPE_ENGINE, then [engine] backend in the study's "
                 "echoscope.toml, then duckdb")] = None,
        spark_master: Annotated[str | None, typer.Option(
            "--spark-master", help="with --engine spark: master URL (local[2], spark://host:7077, yarn, k8s://...); "
            "default: ECHOSCOPE_SPARK_MASTER, then [spark] master in the study's echoscope.toml, then local[2]"
        )] = None,
        spark_data_root: Annotated[str | None, typer.Option(
            "--spark-data-root", help="with --engine spark: URI where the executors find a copy of the study "
            "directory, e.g. s3a://bucket/studies/mystudy (see docs/scale-out.md)")] = None,
        spark_conf: Annotated[list[str] | None, typer.Option(
            "--spark-conf", help="with --engine spark: a Spark setting KEY=VALUE (repeatable), e.g. "
            "spark.executor.memory=8g")] = None,
        memory_limit: Annotated[str | None, typer.Option(
            "--memory-limit", help="DuckDB memory limit of the run, e.g. 6GB (work beyond it spills to the study's "
            ".duckdb-tmp); default: ECHOSCOPE_MEMORY_LIMIT, then [engine] memory_limit in the study's "
            f"echoscope.toml, then {STAGE_MEMORY['coordination']} for coordination")] = None,
        edges: Annotated[Path | None, typer.Option(
            "--edges", help="write the network's judged edges as a Gephi CSV (Source,Target,Weight,Type); under "
            "--semantics coortweet every edge of the network (with several behaviours CooRTweet's pooled network), "
            "with weight = share pairs and the extra columns weight_threshold (1 above --edge-weight-quantile), "
            "avg_time_delta, n_objects, to compare with CooRTweet's generate_coordinated_network")] = None,
        json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress")] = False,
    ) -> None:
        """Find accounts that act together again and again, judge them against a null model, cluster them."""
        from ..coordination.api import run
        from ..engine import open_engine
        from ..store.study import open_store

        params = CoordParams(
            behaviours=tuple(b.strip() for b in behaviour.split(",") if b.strip()), window=window,
            min_repeat=min_repeat, min_weight=min_weight, alpha=alpha, semantics=semantics, null=null, reps=reps,
            max_window_actions=max_window_actions or None, max_shared_accounts=max_shared_accounts or None,
            near_duplicate=None if near_duplicate >= 1 else near_duplicate, rapid_seconds=rapid_seconds,
            early_seconds=early_seconds, latency_buckets=_buckets(latency_buckets),
            edge_weight_quantile=edge_weight_quantile, seed=seed, cluster_p=cluster_p,
            group_resolution=group_resolution, min_lift=min_lift, target_originals=target_originals,
            evidence_per_edge=None if semantics != "echoscope" else 20)
        s = open_store(study)
        eng = open_engine(s, backend=engine, memory_limit=memory_limit, spark_master=spark_master,
                          spark_data_root=spark_data_root, spark_conf=spark_conf)
        with eng, byte_progress("coordinate", quiet=quiet or json) as cb:
            res = run(s, params, engine=eng, progress=cb)
        if edges is not None:
            write_gephi_csv(res.edges, res.summary["network"], edges, params.semantics)
        clusters = _with_handles(res)
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
        for b, n in (sm.get("target_originals") or {}).items():
            out.print(f"{b}: {n:,} first share(s) by the study's targets of what they published not counted as "
                      "co-actions (the others amplify them; --target-originals counts them)")
        for b, why in (sm.get("skipped_behaviours") or {}).items():
            out.print(f"[yellow]{b} (of the default behaviours) left out: {why}[/]")
        t = Table(title="coordinated clusters")
        for c in ("cluster", "size", "p-value", "behaviours", "median followers", "suspended", "targets", "members"):
            t.add_column(c, no_wrap=c in ("cluster", "size", "p-value"))
        for c in clusters[:30]:
            t.add_row(str(c["cluster_id"]), f"{c['size']:,}", c["p_value_text"], str(c.get("behaviours") or ""),
                      _fmt(c.get("median_followers")), percent(c.get("share_suspended")),
                      Text(show(c.get("targets") or "-", 200)), Text(show(_member_names(c), 400)))
        out.print(t)
        if len(clusters) > 30:
            out.print(f"{len(clusters) - 30:,} more: echoscope clusters {study} --offset 30")
        if clusters:
            out.print("members by handle, strongest first; 'echoscope explain STUDY @a @b' shows why two of them "
                      "are in one cluster", markup=False)

    app.command("explain")(handle_errors(explain))


def explain(
    study: Annotated[Path, typer.Argument(help="study directory")],
    account_a: Annotated[str, typer.Argument(help="@handle or account id")],
    account_b: Annotated[str, typer.Argument(help="@handle or account id")],
    limit: Annotated[int, typer.Option(
        help="co-actions shown per pair of accounts (the two given, and each hop of the path), closest in time "
        "first")] = 20,
    json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout (ids beside "
                                       "handles)")] = False,
    run: Annotated[str | None, typer.Option(
        "--run", metavar="ID", help="explain with a stored run of 'coordinate' instead of the latest (its run "
        "id; 'echoscope runs STUDY' lists them)")] = None,
) -> None:
    """Why two accounts are in one cluster: their direct edges, or the path of the cluster's edges that joins
    them, with the co-actions behind each tie (posts, authors, both times, the gap)."""
    from ..findings import explain as find_explain
    from .explore import _engine

    # on a terminal one event seen by several behaviours is one line: fetch enough rows for ``limit`` events
    doc = find_explain(_engine(study, run), account_a, account_b, evidence_limit=limit if json else limit * 6)
    if json:
        emit_json(doc)
        return
    show_explanation(doc, limit)


def show_explanation(doc: dict[str, Any], limit: int) -> None:
    """``echoscope explain`` on a terminal: handles only, evidence in words (ids are in ``--json``)."""
    from ..findings import group_events
    from .explore import _at, _line

    a, b = _at(doc["handle_a"], doc["account_a"]), _at(doc["handle_b"], doc["account_b"])
    out.print(_line(doc["summary_text"]), style="bold")
    c = doc.get("cluster_summary")
    if c:
        out.print(_line(f"cluster {c['cluster_id']}: {c.get('size') or 0:,} accounts"
                        f"{', judged coordinated' if c.get('coordinated') else ', not judged coordinated'}; "
                        f"behaviours {', '.join(c.get('behaviours') or []) or '-'}; p-value {c['p_value_text']}"))
    if doc["edges"]:
        out.print(_line(f"direct edges between {a} and {b}:"))
        for e in doc["edges"]:
            out.print(_line("  " + _edge_text(e)))
    elif doc["cluster"] is None or doc["path"] is None:
        out.print(_line(f"no direct edge between {a} and {b} in this coordination run"))
    if doc["edges"] or doc["evidence_total"]:
        _show_evidence(doc["evidence"], doc["evidence_total"], limit, group_events,
                       note=None if doc["evidence_total"] else "no stored evidence for this pair")
    hops = doc.get("hops") or []
    if hops and len(doc["path"]) > 2:  # no direct edge, or one without evidence: the path's hops
        out.print(_line(f"path over cluster {doc['cluster']}'s {doc.get('network') or ''} edges "
                        f"({len(hops)} hops): " + " -> ".join(_at(p["handle"], p["account_id"])
                                                             for p in doc["path"])))
        for k, h in enumerate(hops, 1):
            ha, hb = _at(h["handle_a"], h["account_a"]), _at(h["handle_b"], h["account_b"])
            edge = h.get("edge")
            what = _edge_text(edge, names=False) if edge else "no stored edge"
            beh = f"; behaviours {', '.join(h['behaviours'])}" if h["behaviours"] else ""
            out.print(_line(f"hop {k} of {len(hops)}: {ha} - {hb}: {what}{beh}"), style="bold")
            _show_evidence(h["evidence"], h["evidence_total"], limit, group_events, note=h.get("note"))
    run_info = doc.get("run") or {}
    if run_info.get("run_id"):
        out.print(_line(f"coordination run {run_info['run_id']} ({run_info.get('written_at') or 'time unknown'})"),
                  style="dim")


def _edge_text(e: dict[str, Any], names: bool = True) -> str:
    from .explore import _at

    verdict = "judged coordinated" if e.get("significant") else "not judged coordinated"
    who = f" {_at(e.get('handle_a'), e['account_a'])} - {_at(e.get('handle_b'), e['account_b'])}" if names else ""
    return (f"{e.get('behaviour') or '?'}{':' if names else ''}{who}{':' if names else ','} "
            f"{int(e.get('n_objects') or 0):,} object(s) together, weight {float(e.get('weight') or 0):g}, "
            f"p = {e['p_value_text']}, {verdict}")


def _show_evidence(rows: list[dict[str, Any]], total: int, limit: int, group: Any, note: str | None = None) -> None:
    from .explore import _line

    if not rows:
        out.print(_line("  " + (note or "no stored evidence for this pair")))
        return
    events = group(rows)[:limit]
    out.print(_line(f"  {len(events)} co-action(s), closest in time first, of {total:,} stored row(s) (one line "
                    "per pair of actions, with every behaviour that counted it):"))
    for e in events:
        out.print(_line("  \u2022 " + e["summary_text"]))


def _with_handles(res: Any) -> list[dict[str, Any]]:
    """The run's coordinated clusters (ids in ``accounts``, as before) with ``members`` (``account_id`` and
    ``handle``, strongest first, as ``coord_members`` stores them) and ``p_value_text``."""
    clusters = res.coordinated_clusters()
    if not clusters:
        return clusters
    by: dict[Any, list[dict[str, Any]]] = {}
    cols = [c for c in ("cluster_id", "account_id", "handle") if c in res.members.column_names]
    for m in res.members.select(cols).to_pylist():  # ordered by cluster, strength (the stored order)
        by.setdefault(m["cluster_id"], []).append({"account_id": m["account_id"], "handle": m.get("handle")})
    for c in clusters:
        c["members"] = by.get(c["cluster_id"], [])
        c["p_value_text"] = format_p(c.get("p_value"))
    return clusters


def _member_names(c: dict[str, Any], n: int = 5) -> str:
    ms = c.get("members") or [{"account_id": a, "handle": None} for a in c.get("accounts", [])]
    names = ", ".join(("@" + str(m["handle"]).lstrip("@")) if m.get("handle") else str(m["account_id"])
                      for m in ms[:n])
    return names + (f" and {len(ms) - n:,} more" if len(ms) > n else "")


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if isinstance(x, float) else str(x)


#: ``--edges`` columns after Gephi's four, per semantics (CSV column -> ``coord_edges`` column or a callable).
#: Under coortweet semantics every edge of the network is written, as CooRTweet's ``generate_coordinated_network``
#: returns its full graph: ``weight_threshold`` is its attribute of that name (1 when the weight is above the
#: ``--edge-weight-quantile`` quantile), ``avg_time_delta`` its mean gap of the account pair's share pairs
EDGE_EXTRA: dict[str, dict[str, str]] = {
    "coortweet": {"weight_threshold": "significant", "avg_time_delta": "mean_gap_s", "n_objects": "n_objects"},
}


def write_gephi_csv(edges: Any, network: str, path: Path, semantics: str = "echoscope") -> int:
    """Write the edges of ``network`` as Gephi's CSV edge list; return rows written.

    Columns ``Source,Target,Weight,Type`` (Weight: the TF-IDF weight where there is one, else the weight), then
    the columns of :data:`EDGE_EXTRA` for ``semantics`` (Gephi reads them as edge attributes). Under echoscope
    and cnt semantics the judged edges only; under coortweet every edge (the ``weight_threshold`` column says
    which are above the quantile), ordered by Source and Target.
    """
    extra = EDGE_EXTRA.get(semantics, {})
    net = edges.filter(pc.equal(edges["behaviour"], network))
    if not extra:
        net = net.filter(net["significant"])
    rows = net.sort_by([("account_a", "ascending"), ("account_b", "ascending")]).to_pylist()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Source", "Target", "Weight", "Type", *extra])
        for e in rows:
            more = [_cell(e[c]) for c in extra.values()]
            w.writerow([e["account_a"], e["account_b"], _cell(e["weight_idf"] if e["weight_idf"] is not None
                                                              else e["weight"]),
                        "Directed" if e["directed"] else "Undirected", *more])
    return len(rows)


def _cell(v: Any) -> Any:
    """A CSV cell: booleans as 1/0 (CooRTweet's ``weight_threshold``), whole floats without ``.0``."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return "" if v is None else v

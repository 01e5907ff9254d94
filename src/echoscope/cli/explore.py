"""``echoscope clusters``, ``echoscope account`` and ``echoscope serve``: the stored findings for people.

A thin layer over :mod:`echoscope.findings` (and :mod:`echoscope.explorer` for ``serve``): each command reads
the stored result tables of one run (``--run ID``, the latest by default), shows them as rich tables on a
terminal (handles where a person reads) or as JSON with ``--json`` (ids and handles side by side), and turns
a missing analysis or an unknown account into one line on stderr that names the command that fixes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ..report.fmt import show
from ..settings import EXPLORER_PORT
from .util import emit_json, err, handle_errors, out

StudyArg = Annotated[Path, typer.Argument(help="study directory (made by 'echoscope init')")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout (ids and handles)")]
RunOpt = Annotated[str | None, typer.Option(
    "--run", metavar="ID", help="show a stored run of 'coordinate' or 'score' instead of the latest (its run "
    "id; several comma-separated; an unknown id lists the stored ones; default: latest)")]

#: the caveat printed under every cluster table
CAVEAT = ("Coordination is not proof of inauthenticity: read each cluster's evidence before saying why its "
          "accounts acted together (echoscope account STUDY @handle, or echoscope serve STUDY).")


def _engine(study: Path, run: str | None) -> Any:
    from ..engine import Engine
    from ..findings import run_selection
    from ..study import open_study

    s = open_study(study)
    return Engine(s, runs=run_selection(s, run))


def _t(value: Any, limit: int = 80) -> Text:
    """Data text for a table cell: invisible characters shown, cut, never read as rich markup."""
    return Text(show(value, limit))


def _line(text: Any, limit: int = 2000) -> Text:
    """One printed line of data text (handles, posts): invisible characters shown, never read as rich markup."""
    return Text(show(text, limit))


def _at(handle: Any, account_id: Any = None) -> str:
    return ("@" + str(handle).lstrip("@")) if handle else (str(account_id) if account_id else "-")


def _members(c: dict[str, Any], n: int = 5) -> str:
    names = ", ".join(_at(m.get("handle"), m.get("account_id")) for m in c.get("members", [])[:n])
    more = int(c.get("members_more") or 0) + max(0, len(c.get("members", [])) - n)
    return names + (f" and {more:,} more" if more else "")


def _targets(c: dict[str, Any], n: int = 3) -> str:
    ts = c.get("targets") or []
    text = ", ".join(f"{_at(t.get('handle'), t.get('account_id'))} ({t['engagements']:,})" for t in ts[:n])
    return text + (f" +{len(ts) - n}" if len(ts) > n else "") if text else "-"


def clusters(
    study: StudyArg,
    json: JsonOpt = False,
    limit: Annotated[int, typer.Option("--limit", help="clusters shown (largest first; at most 500)")] = 30,
    offset: Annotated[int, typer.Option("--offset", help="skip this many clusters (paging)")] = 0,
    all_clusters: Annotated[bool, typer.Option(
        "--all", help="also list clusters not judged coordinated")] = False,
    members: Annotated[int | None, typer.Option(
        "--members", help="members listed per cluster, strongest first (default: 5 in the table, every member "
        "with --json)")] = None,
    run: RunOpt = None,
) -> None:
    """List the stored coordinated clusters: size, behaviours, p-value, targets amplified, share suspended,
    activity and members by handle."""
    from ..findings import list_clusters

    shown = members if members is not None else (None if json else 5)
    res = list_clusters(_engine(study, run), limit=limit, offset=offset, coordinated_only=not all_clusters,
                        members_shown=shown)
    if json:
        emit_json(res)
        return
    what = "clusters" if all_clusters else "coordinated clusters"
    if not res["clusters"]:
        out.print(f"no {what} in {study}" + (f" at offset {offset}" if offset else "")
                  + (" (echoscope clusters --all lists the others)" if not all_clusters and res["total"] == 0 else ""))
        return
    t = Table(title=f"{what} ({res['offset'] + 1}-{res['offset'] + len(res['clusters'])} of {res['total']:,})")
    for name in ("cluster", "size", "behaviours", "p-value", "targets amplified", "suspended", "active", "members"):
        t.add_column(name, no_wrap=name in ("cluster", "size", "p-value", "suspended"))
    for c in res["clusters"]:
        label = str(c["cluster_id"]) + ("" if c.get("coordinated") is not False else " (not coordinated)")
        active = f"{str(c.get('first_activity') or '-')[:10]} - {str(c.get('last_activity') or '-')[:10]}"
        t.add_row(label, f"{c.get('size') or 0:,}", ", ".join(c["behaviours"]) or "-", c["p_value_text"],
                  _t(_targets(c), 200), c["share_suspended_text"], active, _t(_members(c, shown or 5), 2000))
    out.print(t)
    if res["offset"] + len(res["clusters"]) < res["total"]:
        out.print(f"more: echoscope clusters {study} --offset {res['offset'] + len(res['clusters'])}")
    run_info = res.get("run") or {}
    if run_info.get("run_id"):
        out.print(f"coordination run {run_info['run_id']} ({run_info.get('written_at') or 'time unknown'})")
    out.print(CAVEAT)


def account(
    study: StudyArg,
    who: Annotated[str, typer.Argument(metavar="ACCOUNT", help="@handle or account id")],
    json: JsonOpt = False,
    coactions: Annotated[int, typer.Option("--coactions", help="example co-actions shown (closest first)")] = 8,
    posts: Annotated[int, typer.Option("--posts", help="recent posts shown")] = 8,
    run: RunOpt = None,
) -> None:
    """One account: score and reasons, status, cluster, strongest partners, example co-actions (post text,
    author, both times, the gap), the targets it amplified and its recent posts."""
    from ..findings import account as find_account
    from ..findings import group_events

    # on a terminal one event seen by several behaviours is one line: fetch enough rows for ``coactions`` events
    a = find_account(_engine(study, run), who, coactions=coactions if json else coactions * 6, posts=posts)
    if json:
        emit_json(a)
        return
    p = a.get("profile") or {}
    head = Text(_at(a.get("handle"), a["account_id"]), style="bold")
    head.append(f"  (id {show(a['account_id'], 80)})", style="dim")
    if p.get("display_name"):
        head.append("  " + show(p["display_name"], 80))
    out.print(head)
    facts = [f"status {(a.get('status') or {}).get('status') or 'never checked'}"]
    if p.get("created_at"):
        facts.append(f"created {str(p['created_at'])[:10]}")
    for k, word in (("followers_count", "followers"), ("posts_count", "posts")):
        if p.get(k) is not None:
            facts.append(f"{int(p[k]):,} {word}")
    out.print(Text(" · ".join(facts)))
    if p.get("description"):
        out.print(Text("bio: " + show(p["description"], 200), style="dim"))
    for analysis, cmd in (a.get("missing") or {}).items():
        err.print(Text(f"no {analysis} results yet: '{cmd}' fills them", style="yellow"))
    sc = a.get("score")
    if sc and sc.get("scored"):
        risk = " HIGH RISK" if sc.get("high_risk") else ""
        out.print(Text(f"score {sc['score']:.2f}{risk} (rank {sc.get('rank') or '-'} of {sc['accounts_scored']:,}; "
                       f"high-risk line {sc['high_risk_threshold']:g}; {sc.get('mode') or 'rules'} score)"))
        for r in sc.get("reasons") or []:
            out.print(Text("  • " + show(r.get("text"), 300)))
    elif sc:
        out.print("score: not scored in this run")
    c = a.get("cluster")
    if c:
        out.print(Text(f"cluster {c['cluster_id']}: {c.get('size') or 0:,} accounts"
                       f"{', judged coordinated' if c.get('coordinated') else ''}; behaviours "
                       f"{', '.join(c.get('behaviours') or []) or '-'}; p-value {c['p_value_text']}; this account's "
                       f"degree {c.get('degree') if c.get('degree') is not None else '-'}"))
    elif "coordination" not in (a.get("missing") or {}):
        out.print("cluster: none (no coordinated cluster holds this account)")
    if a.get("partners"):
        t = Table(title="strongest partners")
        for name in ("partner", "weight", "objects", "p-value", "behaviours", "cluster"):
            t.add_column(name)
        for r in a["partners"]:
            t.add_row(_t(_at(r.get("handle"), r["account_id"]), 60), f"{r.get('weight') or 0:,.1f}",
                      f"{r.get('n_objects') or 0:,}", r["p_value_text"], ", ".join(r.get("behaviours") or []) or "-",
                      str(r.get("cluster_id") if r.get("cluster_id") is not None else "-"))
        out.print(t)
    ev = a.get("coactions") or {}
    if ev.get("evidence"):
        events = group_events(ev["evidence"])[:coactions]
        out.print(Text(f"example co-actions ({len(events)} closest in time of {ev['total']:,} stored co-action rows; "
                       "one line per pair of actions, with every behaviour that counted it):", style="bold"))
        for e in events:
            out.print(Text("  • " + show(e["summary_text"], 600)))
    if a.get("targets"):
        t = Table(title="targets it amplified")
        for name in ("target", "group", "engagements", "how", "first - last"):
            t.add_column(name)
        for r in a["targets"]:
            t.add_row(_t(_at(r.get("handle"), r.get("account_id")), 60), _t(r.get("group"), 40),
                      f"{r['engagements']:,}", ", ".join(r.get("kinds") or []),
                      f"{str(r.get('first') or '-')[:10]} - {str(r.get('last') or '-')[:10]}")
        out.print(t)
    if a.get("posts"):
        t = Table(title="recent posts")
        for name in ("when", "kind", "text", "answering"):
            t.add_column(name)
        for r in a["posts"]:
            answering = "-"
            if r.get("ref_account_id") or r.get("ref_post_id"):
                answering = _at(r.get("ref_handle"), r.get("ref_account_id") or "an unknown account")
                answering += f': "{r["ref_text"]}"' if r.get("ref_text") else ""
            t.add_row(str(r.get("created_at") or "-").replace("T", " ").replace("Z", ""), str(r.get("kind") or "-"),
                      _t(r.get("text"), 200), _t(answering, 160))
        out.print(t)


def serve(
    study: StudyArg,
    port: Annotated[int, typer.Option("--port", help="port to listen on (0: any free port)")] = EXPLORER_PORT,
    host: Annotated[str, typer.Option(
        "--host", help="loopback address to listen on (127.0.0.1 or ::1); other addresses are refused: the "
        "explorer has no login")] = "127.0.0.1",
    pseudonymise: Annotated[bool, typer.Option(
        "--pseudonymise", help="show keyed pseudonyms instead of handles, ids and names (the same as the "
        "report's and the exports' with the same key)")] = False,
    key_env: Annotated[str | None, typer.Option(
        "--key-env", metavar="VAR", help="environment variable holding the pseudonymisation key (at least 16 "
        "characters); default: the study's pseudonym.key, as for 'echoscope report'")] = None,
    run: RunOpt = None,
    log: Annotated[bool, typer.Option("--log", help="log every request on stderr")] = False,
) -> None:
    """Open a read-only explorer of the findings in your browser, on this computer only (127.0.0.1): overview,
    clusters with their network, members and evidence, accounts, search by handle. Ctrl-C stops it."""
    from ..explorer.server import serve as run_server
    from ..findings import run_selection
    from ..study import open_study

    s = open_study(study)
    runs = run_selection(s, run)

    def ready(url: str) -> None:
        err.print(Text(f"echoscope explorer of {study} at {url} (read-only, this computer only; Ctrl-C stops it)"))

    try:
        run_server(s, host=host, port=port, runs=runs, pseudonymise=pseudonymise, key_env=key_env, log=log,
                   on_ready=ready)
    except ImportError as exc:
        from ..errors import ConfigError

        raise ConfigError(f"the explorer needs the 'explore' extra ({exc.name} is missing): "
                          "pip install 'echoscope[explore]'") from None


def register(app: typer.Typer) -> None:
    """Add ``clusters``, ``account`` and ``serve`` to the main app."""
    app.command("clusters")(handle_errors(clusters))
    app.command("account")(handle_errors(account))
    app.command("serve")(handle_errors(serve))


__all__ = ["account", "clusters", "register", "serve"]

"""``echoscope collect bluesky|mastodon`` and ``echoscope watch``: thin Typer commands over the collectors.

Messages (connected, reconnecting, stalled, committed) go to stderr; the final statistics go to stdout (a
line, or JSON with ``--json``). Ctrl-C ends collection cleanly: what was received is committed, the cursor
saved, and the command exits 0 saying where it stopped.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import ConfigError
from .util import emit_json, emit_jsonl, err, handle_errors, out

collect_app = typer.Typer(help="Collect live engagement data into a study (Bluesky Jetstream, Mastodon).",
                          no_args_is_help=True)

StudyArg = Annotated[Path, typer.Argument(help="study directory (made by 'echoscope init')")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress messages on stderr")]


def _split(values: list[str] | None) -> list[str]:
    items: list[str] = []
    for v in values or []:
        items.extend(x.strip() for x in v.split(",") if x.strip())
    return items


def parse_cursor(value: str | None) -> int | None:
    """``--cursor``: Jetstream ``time_us`` (integer microseconds) or an ISO 8601 time (UTC when no zone)."""
    if value is None:
        return None
    v = value.strip()
    if v.isdigit():
        return int(v)
    try:
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--cursor '{value}' is neither microseconds since 1970 (Jetstream time_us) nor an "
                          "ISO 8601 time such as 2024-09-01T12:00:00Z") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp() * 1_000_000)


def _reporter(quiet: bool) -> Any:
    def report(event: dict[str, Any]) -> None:
        if quiet:
            return
        kind = event.get("event")
        if kind == "connected":
            err.print(f"connected: {event['url']}", markup=False)
        elif kind == "reconnect":
            err.print(f"connection lost ({event['reason']}); reconnecting in {event['delay']} s "
                      f"(attempt {event['attempt']}, cursor {event.get('cursor')})", markup=False)
        elif kind == "stalled":
            err.print(f"no data for {event['seconds']} s; reconnecting", markup=False)
        elif kind == "commit" and event.get("commits", 0) % 30 == 1:
            err.print(f"{event['received']:,} events received, {event['commits']} commits, "
                      f"cursor {event['cursor']}", markup=False)
        elif kind == "poll":
            err.print(f"polled: {event.get('message', '')}", markup=False)
    return report


def resolve_bluesky_targets(study: Any, items: list[str], *, offline: bool, api: str) -> list[tuple[str, str | None]]:
    """``(did, handle)`` for each target named (or, with none named, the study's targets)."""
    from ..store.targets import parse_target

    if not items:
        rows = study.sql("SELECT account_id, handle FROM targets").to_pylist()
        items = [r["account_id"] if r["account_id"] else "@" + str(r["handle"]) for r in rows]
        if not items:
            raise ConfigError("no targets: name them with --targets @handle.bsky.social,did:plc:... or add them "
                              "with 'echoscope targets add', or collect everything with --all")
    out_: list[tuple[str, str | None]] = []
    for item in items:
        aid, handle = parse_target(item)
        if aid is not None:
            if not aid.startswith("did:"):
                raise ConfigError(f"Bluesky target '{item}' is not a DID or a handle; use did:plc:... or "
                                  "@name.bsky.social")
            out_.append((aid, handle))
            continue
        assert handle is not None
        known = study.sql("SELECT account_id FROM accounts WHERE platform = 'bluesky' AND lower(handle) = "
                          f"lower('{handle.replace(chr(39), chr(39) * 2)}') AND account_id LIKE 'did:%' "
                          "ORDER BY observed_at DESC NULLS LAST LIMIT 1").to_pylist()
        if known:
            out_.append((known[0]["account_id"], handle))
        elif offline:
            raise ConfigError(f"cannot resolve @{handle} to a DID offline; give its DID (did:plc:...) or run "
                              "without --offline")
        else:
            from ..collect.profiles import resolve_handle

            try:
                out_.append((resolve_handle(handle, api), handle))
            except Exception as exc:
                raise ConfigError(f"cannot resolve @{handle} through {api} ({type(exc).__name__}: {exc}); "
                                  "check the handle, or give its DID") from exc
    return out_


@collect_app.command("bluesky")
@handle_errors
def collect_bluesky(
    study: StudyArg,
    targets: Annotated[list[str] | None, typer.Option(
        "--targets", "-t", help="comma-separated @handle.bsky.social or did:plc:... (repeatable); default: the "
        "study's targets")] = None,
    all_: Annotated[bool, typer.Option("--all", help="keep every event, not only those touching targets "
                                       "(the firehose is millions of events an hour)")] = False,
    endpoint: Annotated[str, typer.Option(help="Jetstream /subscribe URL (ws:// or wss://)")] =
        "wss://jetstream2.us-east.bsky.network/subscribe",
    cursor: Annotated[str | None, typer.Option(
        help="start at this Jetstream time_us (microseconds) or ISO time; default: the saved cursor, else now"
    )] = None,
    rewind: Annotated[float, typer.Option(
        help="seconds to rewind the saved cursor when the endpoint differs from the last run's (each "
        "instance stamps its own time_us; duplicates are dropped by key)")] = 5.0,
    offline: Annotated[bool, typer.Option("--offline", help="do not resolve handles or profiles through the "
                                          "public API")] = False,
    api: Annotated[str, typer.Option(help="Bluesky public API (XRPC) for handles and profiles")] =
        "https://public.api.bsky.app/xrpc",
    batch_events: Annotated[int, typer.Option(help="commit after this many events")] = 25_000,
    batch_seconds: Annotated[float, typer.Option(help="commit at least this often (seconds); a crash replays "
                                                  "at most this much")] = 5.0,
    idle_timeout: Annotated[float, typer.Option(help="seconds without any frame before reconnecting")] = 30.0,
    max_retries: Annotated[int | None, typer.Option(
        help="give up after this many failed connection attempts in a row (default: keep trying)")] = None,
    until: Annotated[str | None, typer.Option(help="stop at this time_us or ISO time")] = None,
    max_events: Annotated[int | None, typer.Option(help="stop after this many events")] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Collect Bluesky posts, reposts, likes, replies, quotes and follows that touch the targets (Jetstream)."""
    from ..collect.bluesky import BlueskyCollector
    from ..collect.profiles import ProfileResolver
    from ..collect.store import CollectStore
    from ..store.targets import add_targets
    from ..study import open_study

    s = open_study(study)
    names = _split(targets)
    dids: list[str] | None = None
    if not all_:
        resolved = resolve_bluesky_targets(s, names, offline=offline, api=api)
        if names:
            add_targets(s, [(d, h, None, None) for d, h in resolved])
        dids = [d for d, _ in resolved]
    report = _reporter(quiet or json)
    store = CollectStore(s, "bluesky", platform="bluesky", progress=report)
    start = parse_cursor(cursor)
    if start is None and store.cursor is not None:
        start = store.cursor
        if store.state.get("endpoint") and store.state["endpoint"] != endpoint:
            start -= int(rewind * 1_000_000)
    resolver = None
    if not offline:
        from ..collect.profiles import atproto_fetch

        resolver = ProfileResolver(s, atproto_fetch(api), on_error=lambda e: report(
            {"event": "poll", "message": f"profile lookup failed: {e}"}))
    col = BlueskyCollector(s, targets=dids, endpoint=endpoint, cursor=start, batch_events=batch_events,
                           batch_seconds=batch_seconds, idle_timeout=idle_timeout, max_retries=max_retries,
                           until_us=parse_cursor(until), max_events=max_events, resolver=resolver, store=store,
                           progress=report)
    stats = col.run()
    _finish(stats, json, "bluesky")


def _finish(stats: dict[str, Any], as_json: bool, name: str) -> None:
    if as_json:
        emit_json(stats)
        return
    how = "interrupted" if stats.get("interrupted") else "stopped"
    out.print(f"{name}: {how}; {stats['received']:,} events received, {stats['loaded']:,} rows loaded, "
              f"{stats['duplicates']:,} duplicates dropped, {stats['quarantined']:,} quarantined, "
              f"{stats['reconnects']} reconnects; cursor saved: {stats['cursor']}", markup=False)


@collect_app.command("mastodon")
@handle_errors
def collect_mastodon(
    study: StudyArg,
    instance: Annotated[str, typer.Option(help="instance base URL, e.g. https://mastodon.social")],
    targets: Annotated[list[str] | None, typer.Option(
        "--targets", "-t", help="comma-separated @user@instance or account ids (repeatable); default: the "
        "study's targets")] = None,
    token_env: Annotated[str | None, typer.Option(
        help="environment variable holding an access token (needed for streaming on most instances)")] = None,
    stream: Annotated[bool, typer.Option(help="also listen to the public streaming API for boosts and replies "
                                         "as they happen")] = True,
    poll: Annotated[float, typer.Option(help="seconds between REST polls of the targets' statuses")] = 60.0,
    statuses: Annotated[int, typer.Option(help="recent statuses per target whose boosts, favourites and replies "
                                          "are polled")] = 20,
    rounds: Annotated[int | None, typer.Option(help="stop after this many polls (default: until Ctrl-C)")] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Collect boosts, replies and favourites of the targets' Mastodon statuses (REST polling + streaming)."""
    import os

    from ..collect.mastodon import MastodonCollector
    from ..study import open_study

    s = open_study(study)
    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ConfigError(f"--token-env {token_env}: that environment variable is not set")
    names = _split(targets)
    if not names:
        rows = s.sql("SELECT account_id, handle FROM targets").to_pylist()
        names = [r["account_id"] or "@" + str(r["handle"]) for r in rows]
    if not names:
        raise ConfigError("no targets: name them with --targets @user@instance or add them with "
                          "'echoscope targets add'")
    col = MastodonCollector(s, instance=instance, targets=names, token=token, stream=stream, poll_s=poll,
                            statuses=statuses, max_rounds=rounds, progress=_reporter(quiet or json))
    stats = col.run()
    _finish(stats, json, "mastodon")


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def _who(row: dict[str, Any]) -> str:
    return f"@{row['handle']}" if row.get("handle") else str(row.get("target"))


def _name(handle: Any, account_id: Any) -> str:
    """An account as a person reads it: ``@handle``, the id only when the study holds no handle for it."""
    return "@" + str(handle).lstrip("@") if handle else str(account_id)


def _show_alert(alert: dict[str, Any]) -> None:
    """An alert on a terminal: target and accounts by handle (the JSON Lines keep ids beside them)."""
    ev = alert["evidence"]
    actors = ", ".join(f"{_name(a.get('handle'), a['actor_id'])} x{a['engagements']}"
                       for a in ev["rapid_fire_actors"][:5]) or "none"
    pairs = ", ".join(f"{_name(p.get('handle_a'), p['a'])} + {_name(p.get('handle_b'), p['b'])} ({p['posts']} posts)"
                      for p in ev["clustered_pairs"][:5]) or "none"
    out.print(f"ALERT {alert['alert']} {_who(alert)}: {_pct(alert['share'])} of "
              f"{alert['engagements']:,} engagements ({alert['count']:,}) in {alert['window']['start']} .. "
              f"{alert['window']['end']} (threshold {100 * alert['threshold']:.0f}%); top rapid actors: {actors}; "
              f"pairs: {pairs}", markup=False)


def _show_watching(w: dict[str, Any]) -> None:
    p = w["parameters"]
    every = "once" if w["every_s"] is None else f"every {w['every_s']:g} s"
    err.print(f"watching {w['study']}: {w['targets']:,} target(s), window {w['window_s']:g} s, evaluated {every}; "
              f"alert at {_pct(w['threshold'])} rapid-fire (<= {p['rapid_s']:g} s) or clustered "
              f"({p['min_cluster_weight']}+ posts within {p['cluster_window_s']:g} s) with >= "
              f"{p['min_engagements']} engagements; a status line after every evaluation", markup=False)


def _show_status(st: dict[str, Any]) -> None:
    new = "" if st["new_events"] is None else f" (+{st['new_events']:,})"
    hi = st["highest"]
    highest = f"; highest: {_who(hi)} {hi['measure']} {_pct(hi['share'])} of {hi['engagements']:,}" if hi else ""
    last = st["last_alert"]
    alerts = f"; alerts: {st['alerts']}" + (f" (last: {last['alert']} {_who(last)} at {last['raised_at']})"
                                            if last else "")
    err.print(f"[{st['at']}] seen {st['events_seen']:,} events{new}; {st['engagements_in_window']:,} engagements on "
              f"{st['targets_in_window']} target(s) in the window ending {st['window']['end']}{highest}{alerts}",
              markup=False)


def watch(
    study: StudyArg,
    window: Annotated[str, typer.Option(help="rolling window (90m, 6h, 2d or seconds)")] = "1h",
    every: Annotated[str, typer.Option(help="seconds (or 30s, 5m) between evaluations; each evaluation prints "
                                       "a status line")] = "60",
    threshold: Annotated[float, typer.Option(
        help="alert when a target's share of rapid-fire or clustered amplification reaches this (0-1); low "
        "values alert on ordinary fandoms")] = 0.3,
    rapid: Annotated[float, typer.Option(help="rapid-fire: engaged within this many seconds of the post")] = 10.0,
    min_engagements: Annotated[int, typer.Option(help="no alert for a target with fewer engagements in the "
                                                 "window (small counts give noisy shares)")] = 20,
    cluster_window: Annotated[float, typer.Option(
        help="seconds within which two accounts engaging with the same post co-act; long windows admit "
        "coincidence")] = 60.0,
    min_cluster_weight: Annotated[int, typer.Option(
        help="distinct posts a pair must co-engage with to count as clustered (1 admits coincidence)")] = 2,
    webhook: Annotated[str | None, typer.Option(help="POST each alert as JSON to this URL")] = None,
    jsonl: Annotated[Path | None, typer.Option(help="append each alert as a JSON line to this file")] = None,
    once: Annotated[bool, typer.Option("--once", help="evaluate once and exit (exit code 3 when alerting)")] = False,
    ticks: Annotated[int | None, typer.Option(help="stop after this many evaluations")] = None,
    json: Annotated[bool, typer.Option("--json", help="JSON Lines on stdout, one compact object per line: first "
                                       "{\"event\": \"watching\"} (study, window, thresholds), then each "
                                       "{\"event\": \"alert\"} and a {\"event\": \"status\"} after every "
                                       "evaluation (events seen, engagements in the window, last alert)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="without --json: alerts only, no 'watching' and "
                                        "status lines on stderr")] = False,
) -> None:
    """Watch a study: rerun rapid-fire and clustered shares on a rolling window, alert on crossings.

    Alerts go to stdout (and --jsonl, --webhook). It says what it watches when it starts and, after every
    evaluation, how much it has seen (events stored, new since the last evaluation, engagements in the window,
    the highest share, the last alert): on stderr, or as JSON Lines on stdout with --json.
    """
    from ..collect.watch import Watcher, WatchParams, jsonl_sink, parse_duration, webhook_sink
    from ..study import open_study

    s = open_study(study)
    params = WatchParams(window_s=parse_duration(window), threshold=threshold, rapid_s=rapid,
                         min_engagements=min_engagements, cluster_window_s=cluster_window,
                         min_cluster_weight=min_cluster_weight)
    every_s = parse_duration(every)
    sinks = [emit_jsonl if json else _show_alert]
    if jsonl is not None:
        sinks.append(jsonl_sink(jsonl))
    if webhook is not None:
        sinks.append(webhook_sink(webhook))
    w = Watcher(s, params, sinks, on_error=lambda e: err.print(f"alert delivery failed: {e}", markup=False))

    def report(doc: dict[str, Any], human: Any) -> None:
        if json:
            emit_jsonl(doc)
        elif not quiet:
            human(doc)

    report(w.watching(None if once else every_s), _show_watching)
    if once:
        ev, alerts = w.tick()
        report(w.status(ev), _show_status)
        if alerts:
            raise typer.Exit(3)
        if not json:
            out.print("no alert", markup=False)
        return
    try:
        w.run(every_s, max_ticks=ticks, on_tick=lambda ev, _alerts: report(w.status(ev), _show_status))
    except KeyboardInterrupt:
        if json:
            emit_jsonl({"event": "stopped", "reason": "interrupted", "ticks": w.ticks, "alerts": w.raised})
        else:
            err.print(f"watch stopped after {w.ticks} evaluation(s), {w.raised} alert(s)", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``collect`` (bluesky, mastodon) and ``watch`` to the main app."""
    app.add_typer(collect_app, name="collect")
    app.command("watch")(handle_errors(watch))

"""Watch mode: rerun rapid-fire and clustered-amplification shares on a rolling window and alert on crossings.

Why its own small SQL rather than :func:`echoscope.measures.measures` and
:func:`echoscope.coordination.coordinate`: those run over whole calendar days (``since``/``until`` are dates)
and the whole study, and ``coordinate`` writes result tables (taking the study's write lock, which a running
collector needs every few seconds). A watch tick must cost little, see only the last ``window`` of engagements
and never write to the study, so it reads the ``engagements`` and ``targets`` views of the current manifest
snapshot (consistent while collection runs) with two queries:

* **rapid-fire share** of a target: engagements within ``rapid_s`` seconds of the engaged post (``latency_s``,
  known when the subject post is in the study) over all of the target's engagements in the window. Same
  definition as the measures' ``rapid_latency_s`` (default 10 s), restricted to the window.
* **clustered share**: engagements made by accounts that, inside the window, engaged with the same post as
  another account within ``cluster_window_s`` seconds on at least ``min_cluster_weight`` distinct posts (a
  co-engagement pair repeated is what coordination looks like; once is coincidence). The self-join only sees
  the window's engagements of targets; posts with more than ``max_post_engagements`` engagements in the
  window are left out of the pairing (viral posts make pairs quadratic) and counted in the evidence.

What a watcher has seen is reported whether or not anything alerts: :meth:`Watcher.watching` describes what is
watched (study, window, thresholds) and :meth:`Watcher.status` sums up each evaluation (events stored, new
since the last evaluation, engagements in the window, the highest share and the last alert), so a quiet
watch is visibly alive; the event counts come from the manifest (no scan).

"Incremental": each tick only scans the window (Parquet row groups outside it are skipped by min/max
statistics) and alerts only on a crossing -- a target/measure whose share goes from below to at least the
threshold -- so a target that stays high does not alert every tick. The window ends at ``now`` (default: the
newest engagement in the study, so replays and archives work like live data).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ..engine import Engine
from ..errors import ConfigError
from ..store.study import StudyStore as Study

MEASURES = ("rapid_fire", "clustered")


@dataclasses.dataclass
class WatchParams:
    """Parameters of watch mode (see ``echoscope watch --help`` for units and costs)."""

    window_s: float = 3600.0
    threshold: float = 0.3
    rapid_s: float = 10.0
    min_engagements: int = 20
    cluster_window_s: float = 60.0
    min_cluster_weight: int = 2
    max_post_engagements: int = 5000
    evidence: int = 10

    def validate(self) -> None:
        if not self.window_s > 0:
            raise ConfigError("--window must be positive (seconds, or with a unit: 90m, 6h, 2d)")
        if not 0 < self.threshold <= 1:
            raise ConfigError("--threshold is a share in (0, 1], e.g. 0.3 for 30%")
        if self.min_cluster_weight < 1:
            raise ConfigError("--min-cluster-weight must be at least 1 (2 or more: 1 admits coincidence)")


def parse_duration(value: str) -> float:
    """``90``, ``90s``, ``15m``, ``6h``, ``2d`` -> seconds."""
    v = value.strip().lower()
    mult = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if v and v[-1] in mult:
            return float(v[:-1]) * mult[v[-1]]
        return float(v)
    except ValueError:
        raise ConfigError(f"duration '{value}' not understood; use seconds or 90s, 15m, 6h, 2d") from None


def _lit(ts: dt.datetime) -> str:
    return f"TIMESTAMPTZ '{ts.astimezone(dt.timezone.utc).isoformat()}'"


def evaluate(study: Study, params: WatchParams, now: dt.datetime | None = None,
             engine: Engine | None = None) -> dict[str, Any]:
    """Shares per target over the window ending at ``now``, with evidence.

    Returns
    -------
    dict
        ``window`` (start, end) and ``targets``: one entry per target with engagements in the window:
        ``target``, ``handle``, ``engagements``, ``with_latency``, ``rapid_fire`` (count), ``rapid_fire_share``,
        ``clustered`` (count), ``clustered_share``, ``evidence`` (top rapid-fire actors, clustered pairs; each
        account by id with its ``handle``, pairs with ``handle_a`` and ``handle_b``).
    """
    params.validate()
    engine = engine or Engine(study)
    con = engine.raw
    if now is None:
        row = con.execute("SELECT max(e.created_at) FROM engagements e JOIN targets t "
                          "ON e.subject_account_id = t.account_id").fetchone()
        now = row[0] if row and row[0] is not None else dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.timezone.utc)
    start = now - dt.timedelta(seconds=params.window_s)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _w AS
        SELECT e.engagement_id, e.actor_id, e.kind, e.subject_post_id, e.subject_account_id AS target,
               e.created_at, e.latency_s
        FROM engagements e
        WHERE e.subject_account_id IN (SELECT account_id FROM targets WHERE account_id IS NOT NULL)
          AND e.created_at > {_lit(start)} AND e.created_at <= {_lit(now)}""")
    base = {r[0]: {"target": r[0], "handle": r[1], "engagements": int(r[2]), "with_latency": int(r[3]),
                   "rapid_fire": int(r[4])}
            for r in con.execute(f"""SELECT w.target, any_value(t.handle), count(*), count(w.latency_s),
                       count(*) FILTER (WHERE w.latency_s IS NOT NULL AND w.latency_s >= 0
                                        AND w.latency_s <= {float(params.rapid_s)})
                FROM _w w LEFT JOIN targets t ON t.account_id = w.target GROUP BY w.target""").fetchall()}
    # posts too busy to pair (guard against quadratic pairs on viral posts)
    busy = con.execute(f"""SELECT subject_post_id, count(*) FROM _w WHERE subject_post_id IS NOT NULL
                           GROUP BY 1 HAVING count(*) > {int(params.max_post_engagements)}""").fetchall()
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _pairs AS
        WITH w AS (SELECT * FROM _w WHERE subject_post_id IS NOT NULL AND subject_post_id NOT IN
                   (SELECT subject_post_id FROM _w GROUP BY 1 HAVING count(*) > {int(params.max_post_engagements)}))
        SELECT a.actor_id AS a, b.actor_id AS b, count(DISTINCT a.subject_post_id) AS posts,
               min(abs(epoch(a.created_at) - epoch(b.created_at))) AS min_gap_s
        FROM w a JOIN w b ON a.subject_post_id = b.subject_post_id AND a.actor_id < b.actor_id
             AND b.created_at BETWEEN a.created_at - to_microseconds({int(params.cluster_window_s * 1e6)})
                                  AND a.created_at + to_microseconds({int(params.cluster_window_s * 1e6)})
        GROUP BY 1, 2 HAVING count(DISTINCT a.subject_post_id) >= {int(params.min_cluster_weight)}""")
    clustered = {r[0]: int(r[1]) for r in con.execute("""
        WITH c AS (SELECT a AS actor FROM _pairs UNION SELECT b FROM _pairs)
        SELECT w.target, count(*) FROM _w w JOIN c ON w.actor_id = c.actor GROUP BY 1""").fetchall()}
    out = []
    k = int(params.evidence)
    for target, row in sorted(base.items()):
        n = row["engagements"]
        row["rapid_fire_share"] = row["rapid_fire"] / n if n else 0.0
        row["clustered"] = clustered.get(target, 0)
        row["clustered_share"] = row["clustered"] / n if n else 0.0
        tq = target.replace("'", "''")
        rapid_actors = con.execute(f"""SELECT actor_id, count(*) AS n, round(median(latency_s), 2) AS median_s
            FROM _w WHERE target = '{tq}' AND latency_s IS NOT NULL AND latency_s >= 0
              AND latency_s <= {float(params.rapid_s)}
            GROUP BY 1 ORDER BY n DESC, actor_id LIMIT {k}""").fetchall()
        pairs = con.execute(f"""SELECT p.a, p.b, p.posts, round(p.min_gap_s, 2) FROM _pairs p
            WHERE EXISTS (SELECT 1 FROM _w w WHERE w.target = '{tq}' AND w.actor_id = p.a)
            ORDER BY p.posts DESC, p.a, p.b LIMIT {k}""").fetchall()
        examples = con.execute(f"""SELECT engagement_id, actor_id, kind, subject_post_id,
                strftime(created_at, '%Y-%m-%dT%H:%M:%S.%fZ'), latency_s
            FROM _w WHERE target = '{tq}' AND latency_s IS NOT NULL AND latency_s >= 0
              AND latency_s <= {float(params.rapid_s)}
            ORDER BY latency_s, engagement_id LIMIT {k}""").fetchall()
        row["evidence"] = {
            "rapid_fire_actors": [{"actor_id": a, "engagements": int(c), "median_latency_s": m}
                                  for a, c, m in rapid_actors],
            "rapid_fire_examples": [{"engagement_id": e, "actor_id": a, "kind": kd, "subject_post_id": s,
                                     "created_at": t, "latency_s": lat} for e, a, kd, s, t, lat in examples],
            "clustered_pairs": [{"a": a, "b": b, "posts": int(p), "min_gap_s": g} for a, b, p, g in pairs],
            "busy_posts_skipped": len(busy),
        }
        out.append(row)
    con.execute("DROP TABLE IF EXISTS _w; DROP TABLE IF EXISTS _pairs")
    _add_handles(engine, out)
    return {"window": {"start": start.isoformat(), "end": now.isoformat(), "seconds": params.window_s},
            "parameters": dataclasses.asdict(params), "targets": out}


def _add_handles(engine: Engine, targets: list[dict[str, Any]]) -> None:
    """Name the accounts of each target's evidence by handle (the latest one the study holds), ids beside them:
    ``handle`` on rapid-fire actors and examples, ``handle_a``/``handle_b`` on clustered pairs (None when the
    study has no profile for the account). One bounded query over the few accounts an evaluation shows."""
    ids = sorted({str(x) for row in targets for ev in (row["evidence"],)
                  for x in ([a["actor_id"] for a in ev["rapid_fire_actors"]]
                            + [e["actor_id"] for e in ev["rapid_fire_examples"]]
                            + [p[k] for p in ev["clustered_pairs"] for k in ("a", "b")]) if x is not None})
    names: dict[str, Any] = {}
    has = engine.raw.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'accounts'").fetchone()
    if ids and has and has[0]:
        marks = ", ".join(["?"] * len(ids))
        names = {r["account_id"]: r["handle"] for r in engine.rows(f"""SELECT account_id,
                first(handle ORDER BY (handle IS NULL), observed_at DESC NULLS LAST) AS handle
            FROM accounts WHERE account_id IN ({marks}) GROUP BY account_id""", ids)}
    for row in targets:
        ev = row["evidence"]
        for a in ev["rapid_fire_actors"] + ev["rapid_fire_examples"]:
            a["handle"] = names.get(a["actor_id"])
        for p in ev["clustered_pairs"]:
            p["handle_a"], p["handle_b"] = names.get(p["a"]), names.get(p["b"])


AlertSink = Callable[[dict[str, Any]], None]


def jsonl_sink(path: str | Path) -> AlertSink:
    """Append each alert as one JSON line to ``path``."""
    p = Path(path)

    def write(alert: dict[str, Any]) -> None:
        with open(p, "ab") as fh:
            fh.write(orjson.dumps(alert) + b"\n")

    return write


def webhook_sink(url: str, timeout: float = 10.0) -> AlertSink:
    """POST each alert as JSON to ``url`` (errors are reported, never fatal)."""
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--webhook '{url}' must be an http:// or https:// URL")

    def post(alert: dict[str, Any]) -> None:
        req = urllib.request.Request(url, data=orjson.dumps(alert), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()

    return post


class Watcher:
    """Evaluate the window every tick; call every sink with each new alert (crossings only)."""

    def __init__(self, study: Study, params: WatchParams, sinks: list[AlertSink] | None = None,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        params.validate()
        self.study = study
        self.engine = Engine(study)
        self.params = params
        self.sinks = sinks or []
        self.on_error = on_error
        self.above: set[tuple[str, str]] = set()
        self.ticks = 0
        self.raised = 0
        self.last_alert: dict[str, Any] | None = None
        self._events_seen: int | None = None

    def tick(self, now: dt.datetime | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One evaluation; returns (the evaluation, the alerts raised now)."""
        ev = evaluate(self.study, self.params, now, self.engine)
        self.ticks += 1
        alerts = []
        for row in ev["targets"]:
            for m in MEASURES:
                share = row[f"{m}_share"]
                key = (row["target"], m)
                hot = row["engagements"] >= self.params.min_engagements and share >= self.params.threshold
                if hot and key not in self.above:
                    alerts.append({
                        "event": "alert", "alert": f"{m}_share", "target": row["target"], "handle": row["handle"],
                        "share": round(share, 4), "threshold": self.params.threshold,
                        "count": row[m], "engagements": row["engagements"], "window": ev["window"],
                        "evidence": row["evidence"],
                        "raised_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    })
                    self.above.add(key)
                elif not hot:
                    self.above.discard(key)
        present = {row["target"] for row in ev["targets"]}
        self.above = {k for k in self.above if k[0] in present}  # no engagements in the window: below
        self.raised += len(alerts)
        if alerts:
            self.last_alert = {k: alerts[-1][k] for k in ("alert", "target", "handle", "share", "raised_at")}
        for a in alerts:
            for sink in self.sinks:
                try:
                    sink(a)
                except Exception as exc:  # a broken webhook must not stop watching
                    if self.on_error is not None:
                        self.on_error(exc)
        return ev, alerts

    def watching(self, every_s: float | None = None) -> dict[str, Any]:
        """What this watcher watches: ``event: "watching"``, the study, its targets, window and thresholds."""
        targets = self.engine.raw.execute("SELECT count(*) FROM targets WHERE account_id IS NOT NULL").fetchone()
        return {"event": "watching", "study": str(self.study.path), "targets": int(targets[0]) if targets else 0,
                "window_s": self.params.window_s, "every_s": every_s, "threshold": self.params.threshold,
                "parameters": dataclasses.asdict(self.params), "status": "after every evaluation"}

    def status(self, ev: dict[str, Any]) -> dict[str, Any]:
        """A summary of the evaluation ``ev`` (``event: "status"``), alerting or not.

        ``events_seen`` counts the study's stored posts and likes (from the manifest, no scan) and
        ``new_events`` the change since the previous status; ``engagements_in_window`` the targets' engagements
        in the window; ``highest`` the target and measure nearest to (or over) the threshold among targets
        with at least ``min_engagements``; ``alerts`` the alerts raised so far and ``last_alert`` the latest.
        """
        m = self.study.manifest()
        seen = m.table_rows("posts") + m.table_rows("likes")
        new = None if self._events_seen is None else seen - self._events_seen
        self._events_seen = seen
        rows = ev["targets"]
        candidates = [(r[f"{k}_share"], r["engagements"], r["target"], r["handle"], k) for r in rows for k in MEASURES
                      if r["engagements"] >= self.params.min_engagements]
        highest = None
        if candidates:
            share, n, target, handle, k = max(candidates, key=lambda c: (c[0], c[1], c[2]))
            highest = {"target": target, "handle": handle, "measure": f"{k}_share", "share": round(share, 4),
                       "engagements": n}
        return {"event": "status", "tick": self.ticks,
                "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "window": ev["window"],
                "events_seen": seen, "new_events": new,
                "engagements_in_window": sum(r["engagements"] for r in rows), "targets_in_window": len(rows),
                "highest": highest, "alerts": self.raised, "last_alert": self.last_alert}

    def run(self, every_s: float, *, max_ticks: int | None = None,
            on_tick: Callable[[dict[str, Any], list[dict[str, Any]]], None] | None = None) -> int:
        """Tick every ``every_s`` seconds until interrupted or ``max_ticks``; returns alerts raised."""
        raised = 0
        while max_ticks is None or self.ticks < max_ticks:
            t0 = time.monotonic()
            ev, alerts = self.tick()
            raised += len(alerts)
            if on_tick is not None:
                on_tick(ev, alerts)
            if max_ticks is not None and self.ticks >= max_ticks:
                break
            time.sleep(max(0.0, every_s - (time.monotonic() - t0)))
        return raised


__all__ = ["WatchParams", "Watcher", "evaluate", "jsonl_sink", "webhook_sink", "parse_duration"]

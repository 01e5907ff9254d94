"""Live collection from a Mastodon instance: boosts, replies and favourites of the targets' statuses.

Two channels, both through Mastodon.py:

* **REST polling** every ``poll_s`` seconds: each target's recent statuses (``/api/v1/accounts/:id/statuses``),
  then per status who boosted it (``reblogged_by``), who favourited it (``favourited_by``) and the replies in
  its thread (``context``). Boosts and favourites found this way have no time (the API does not say when);
  replies do.
* **Streaming** (``/api/v1/streaming/public``, optional): statuses as the instance sees them; boosts of, replies
  to and quotes of a target's status are kept with their time.

The rows go through :class:`~echoscope.sources.mastodon.MastodonParser` (the ``mastodon`` file format's parser),
so a boost has the same key (``reblog:<account>:<status>``) whichever channel saw it, and a repeated poll adds
nothing. Each poll round is committed with :class:`~echoscope.collect.store.CollectStore` (no stream cursor:
polling is idempotent; the state file records the last round). Ctrl-C commits what was received and stops.
Limits: an instance only knows the boosts and replies that reached it; ``reblogged_by`` and
``favourited_by`` list at most the accounts the instance knows, and Mastodon.py fetches only their first page
(40 accounts by default): for heavily boosted statuses the stream is the complete channel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError, SourceError
from ..sources.mastodon import MastodonParser
from ..store.study import StudyStore as Study
from .store import CollectStore

ProgressFn = Callable[[dict[str, Any]], None]


class MastodonCollector:
    """Poll (and optionally stream) a Mastodon instance for engagements with ``targets``.

    Parameters
    ----------
    instance
        Base URL, e.g. ``https://mastodon.social``.
    targets
        ``@user@instance``, ``@user`` (local) or numeric account ids.
    token
        Access token (most instances require one for streaming and some for REST).
    stream
        Listen to the public stream between polls.
    poll_s
        Seconds between REST polls.
    statuses
        Recent statuses per target to poll (more costs more requests per round: 3 per status).
    max_rounds
        Stop after this many polls (``None``: until interrupted).
    """

    def __init__(self, study: Study, *, instance: str, targets: list[str], token: str | None = None,
                 stream: bool = True, poll_s: float = 60.0, statuses: int = 20, max_rounds: int | None = None,
                 progress: ProgressFn | None = None, request_timeout: float = 30.0) -> None:
        if not instance.startswith(("http://", "https://")):
            raise ConfigError(f"--instance '{instance}' must be a URL such as https://mastodon.social")
        try:
            from mastodon import Mastodon
        except ImportError as exc:  # pragma: no cover - optional extra
            raise ConfigError("Mastodon collection needs the 'live' extra: pip install 'echoscope[live]'") from exc
        self.study = study
        self.instance = instance.rstrip("/")
        self.names = targets
        self.stream = stream
        self.poll_s = poll_s
        self.statuses = statuses
        self.max_rounds = max_rounds
        self.progress = progress
        self.api = Mastodon(api_base_url=self.instance, access_token=token, version_check_mode="none",
                            request_timeout=request_timeout, ratelimit_method="wait")
        self.store = CollectStore(study, "mastodon", platform="mastodon")
        self.parser = MastodonParser()
        self.lock = threading.Lock()
        self.targets: dict[str, str] = {}
        self.rounds = 0
        self.streamed = 0
        self.received = 0
        self.interrupted = False
        self._stop = threading.Event()
        self._handle: Any = None

    # ----------------------------------------------------------------------------------------- targets
    def resolve_targets(self) -> dict[str, str]:
        """Account id for each target name (``@user@instance`` looked up on the instance)."""
        out: dict[str, str] = {}
        for name in self.names:
            n = name.strip()
            if n.startswith("id:"):
                n = n[3:]
            if n.isdigit():
                out[n] = n
                continue
            acct = n.lstrip("@")
            try:
                acc = self.api.account_lookup(acct)
            except Exception as exc:
                raise SourceError(f"cannot look up @{acct} on {self.instance} ({type(exc).__name__}: {exc}); "
                                  "check the name and the instance, or give the numeric account id") from exc
            out[str(acc["id"])] = acct
        self.targets = out
        return out

    # ----------------------------------------------------------------------------------------- channels
    def poll(self) -> int:
        """One REST round; returns the number of API objects received."""
        n = 0
        for tid in self.targets:
            statuses = self.api.account_statuses(tid, limit=self.statuses)
            with self.lock:
                for s in statuses:
                    self.parser.status(s)
            n += len(statuses)
            for s in statuses:
                if s.get("reblog"):
                    continue  # the target's own boost: engagements belong to the boosted status
                sid = str(s["id"])
                # Mastodon.py does not paginate these two: the instance's first page (40 accounts by default)
                boosters = list(self.api.status_reblogged_by(sid))
                fans = list(self.api.status_favourited_by(sid))
                ctx = self.api.status_context(sid)
                with self.lock:
                    for a in boosters:
                        self.parser.boost(a, sid, tid)
                    for a in fans:
                        self.parser.like(a, sid)
                    for r in ctx.get("descendants", []):
                        self.parser.status(r)
                n += len(boosters) + len(fans) + len(ctx.get("descendants", []))
        self.received += n
        return n

    def on_update(self, status: Any) -> None:
        """Stream listener: keep boosts of, replies to and quotes of a target's status."""
        self.streamed += 1
        reblog = status.get("reblog")
        quote = status.get("quote")
        quoted = quote.get("quoted_status") if isinstance(quote, dict) else None
        keep = (isinstance(reblog, dict) and str((reblog.get("account") or {}).get("id")) in self.targets) or \
            str(status.get("in_reply_to_account_id")) in self.targets or \
            str((status.get("account") or {}).get("id")) in self.targets or \
            (isinstance(quoted, dict) and str((quoted.get("account") or {}).get("id")) in self.targets)
        if keep:
            with self.lock:
                self.parser.status(status)
            self.received += 1

    def _start_stream(self) -> None:
        from mastodon import StreamListener

        collector = self

        class Listener(StreamListener):  # type: ignore[misc]
            def on_update(self, status: Any) -> None:
                collector.on_update(status)

            def handle_heartbeat(self) -> None:
                pass

        self._handle = self.api.stream_public(Listener(), run_async=True, reconnect_async=True,
                                              reconnect_async_wait_sec=5)

    def commit(self) -> None:
        with self.lock:
            drained = self.parser.drain()
        tables = {}
        import pyarrow as pa

        for name, pair in drained.items():
            parts = [t for t in pair if t is not None and t.num_rows]
            if parts:
                tables[name] = pa.concat_tables(parts)
        self.store.commit(tables, None, extra={"instance": self.instance, "targets": self.targets,
                                               "rounds": self.rounds}, force_accounts=True)

    # ----------------------------------------------------------------------------------------- run
    def run(self) -> dict[str, Any]:
        """Resolve targets, then poll (and stream) until stopped; returns statistics."""
        started = time.monotonic()
        self.resolve_targets()
        try:
            if self.stream:
                try:
                    self._start_stream()
                except Exception as exc:
                    self._emit({"event": "poll", "message": f"streaming unavailable ({type(exc).__name__}: "
                                f"{exc}); polling only"})
            while not self._stop.is_set():
                n = self.poll()
                self.rounds += 1
                self.commit()
                self._emit({"event": "poll", "message": f"round {self.rounds}: {n} objects"})
                if self.max_rounds is not None and self.rounds >= self.max_rounds:
                    break
                self._stop.wait(self.poll_s)
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            if self._handle is not None:
                try:
                    self._handle.close()
                except Exception:
                    pass
            self.commit()
        return {"received": self.received, "streamed": self.streamed, "rounds": self.rounds,
                "targets": self.targets, "loaded": self.store.loaded, "duplicates": self.store.duplicates,
                "quarantined": self.store.quarantined, "rows": dict(self.store.rows), "reconnects": 0,
                "cursor": None, "interrupted": self.interrupted,
                "seconds": round(time.monotonic() - started, 2)}

    def stop(self) -> None:
        self._stop.set()

    def _emit(self, event: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress(event)


__all__ = ["MastodonCollector"]

"""Profiles of the accounts that engage, resolved through Bluesky's public API (``atproto``), cached.

Jetstream carries what accounts do, not who they are; a study needs handles, creation dates and follower
counts of the engaging accounts for the account signals. A resolver thread gathers the DIDs seen in each batch
as it is handed to the writer, drops those already known (a bounded in-memory set, then the study's own
``accounts`` table, which is the durable cache: a DID with a handle there is never asked again, across runs),
and asks ``app.bsky.actor.getProfiles`` (25 actors a call) every ``interval`` seconds. Profiles go to the collector's
writer queue as a side commit (not tied to the cursor: they can be resolved again at any time).

The fetch function is injectable (``fetch=``); the default talks to ``base_url`` with the ``atproto``
package. ``--offline`` means no resolver at all; tests never reach the internet (they use a local server).
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

from .. import schema as S
from ..store.study import StudyStore as Study

PUBLIC_API = "https://public.api.bsky.app/xrpc"
#: getProfiles takes at most this many actors
CHUNK = 25
KNOWN_MAX = 1_000_000

FetchFn = Callable[[list[str]], list[dict[str, Any]]]


def atproto_fetch(base_url: str = PUBLIC_API, timeout: float = 20.0) -> FetchFn:
    """A fetch function over ``app.bsky.actor.getProfiles`` with the ``atproto`` client."""
    from atproto import Client

    client = Client(base_url=base_url)
    with_timeout = getattr(client, "request", None)
    if with_timeout is not None and hasattr(with_timeout, "_client"):
        with_timeout._client.timeout = timeout  # type: ignore[attr-defined]

    def fetch(dids: list[str]) -> list[dict[str, Any]]:
        resp = client.app.bsky.actor.get_profiles({"actors": dids})
        out = []
        for p in resp.profiles:
            out.append({
                "account_id": p.did, "handle": p.handle, "display_name": p.display_name,
                "description": p.description, "followers_count": p.followers_count,
                "following_count": p.follows_count, "posts_count": p.posts_count,
                "created_at": p.created_at, "profile_image_url": p.avatar,
                "default_profile_image": p.avatar is None,
                "labels": [lab.val for lab in (p.labels or [])],
            })
        return out

    return fetch


def resolve_handle(handle: str, base_url: str = PUBLIC_API) -> str:
    """The DID of a Bluesky handle (``com.atproto.identity.resolveHandle``)."""
    from atproto import Client

    client = Client(base_url=base_url)
    return str(client.com.atproto.identity.resolve_handle({"handle": handle.lstrip("@")}).did)


def profiles_table(rows: list[dict[str, Any]], *, observed_at: dt.datetime, source: str) -> pa.Table:
    """Canonical ``accounts`` rows from fetched profiles."""
    def ts(v: Any) -> dt.datetime | None:
        if not v:
            return None
        try:
            return dt.datetime.fromisoformat(str(v).replace("Z", "+00:00")).astimezone(dt.timezone.utc)
        except ValueError:
            return None

    recs = []
    for r in rows:
        labels = r.get("labels") or []
        recs.append({
            "platform": "bluesky", "account_id": r["account_id"], "handle": r.get("handle"),
            "display_name": r.get("display_name"), "description": r.get("description"),
            "created_at": ts(r.get("created_at")), "followers_count": r.get("followers_count"),
            "following_count": r.get("following_count"), "posts_count": r.get("posts_count"),
            "profile_image_url": r.get("profile_image_url"),
            "default_profile_image": r.get("default_profile_image"),
            "affiliation_label": ",".join(labels) if labels else None,
            "observed_at": observed_at, "source": source,
        })
    return pa.Table.from_pylist(recs, schema=S.ACCOUNTS)


class ProfileResolver:
    """Resolve engaging accounts' profiles in a background thread (see the module docstring)."""

    def __init__(self, study: Study, fetch: FetchFn | None = None, *, interval: float = 30.0,
                 max_pending: int = 50_000, on_error: Callable[[Exception], None] | None = None) -> None:
        self.study = study
        self.fetch = fetch
        self.interval = interval
        self.max_pending = max_pending
        self.on_error = on_error
        self.known: set[str] = set()
        self.pending: set[str] = set()
        self.resolved = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._q: queue.Queue[Any] | None = None

    def want(self, dids: Iterable[str]) -> None:
        """Queue DIDs for resolution (known ones and overflow beyond ``max_pending`` are ignored)."""
        with self._lock:
            for d in dids:
                if d and d not in self.known and len(self.pending) < self.max_pending:
                    self.pending.add(d)

    def want_tables(self, tables: dict[str, pa.Table], extra: Iterable[str] = ()) -> None:
        import pyarrow.compute as pc

        for name in ("posts", "likes"):
            t = tables.get(name)
            if t is not None and t.num_rows:
                self.want(pc.unique(t.column("account_id")).to_pylist())
        self.want(extra)

    def start(self, q: queue.Queue[Any]) -> None:
        self._q = q
        if self.fetch is None:
            self.fetch = atproto_fetch()
        self._thread = threading.Thread(target=self._loop, name="profile-resolver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.round()  # what is still pending, once more

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.round()

    def round(self) -> int:
        """Resolve what is pending now; returns the number of profiles fetched."""
        if self.fetch is None or self._q is None:
            return 0
        with self._lock:
            # DIDs are marked known as they are taken, so a DID wanted again while this round fetches it (its
            # profile not yet committed) is not fetched twice
            if len(self.known) > KNOWN_MAX:
                self.known.clear()
            batch = sorted(self.pending - self.known)
            self.pending.clear()
            self.known.update(batch)
        if not batch:
            return 0
        batch = self._unknown(batch)
        rows: list[dict[str, Any]] = []
        for i in range(0, len(batch), CHUNK):
            chunk = batch[i:i + CHUNK]
            try:
                rows.extend(self.fetch(chunk))
            except Exception as exc:  # network trouble must not stop collection
                self.failed += len(chunk)
                if self.on_error is not None:
                    self.on_error(exc)
        if rows:
            now = dt.datetime.now(dt.timezone.utc)
            self._q.put(("side", {"accounts": profiles_table(rows, observed_at=now,
                                                             source="collect:bluesky:profiles")}))
            self.resolved += len(rows)
        return len(rows)

    def _unknown(self, dids: list[str]) -> list[str]:
        """Drop DIDs that already have a handle in the study's accounts table (the durable cache)."""
        if not self.study.parts("accounts"):
            return dids
        import duckdb

        from ..store.parts import parquet_select

        con = duckdb.connect()
        try:
            con.register("wanted", pa.table({"account_id": dids}))
            have = {r[0] for r in con.execute(
                f"SELECT a.account_id FROM ({parquet_select(self.study.parts('accounts'), S.ACCOUNTS)}) a "
                "JOIN wanted w USING (account_id) WHERE a.handle IS NOT NULL").fetchall()}
        finally:
            con.close()
        with self._lock:
            self.known.update(have)
        return [d for d in dids if d not in have]


__all__ = ["ProfileResolver", "atproto_fetch", "resolve_handle", "profiles_table", "PUBLIC_API"]

"""A local Jetstream replay server and a Jetstream traffic simulator, for tests and benchmarks.

The live collector's guarantees (no gap, no duplicate across drops, restarts, stalls and malformed frames)
can only be shown against a server that misbehaves on purpose and knows exactly what it served, so this
module ships one: :class:`ReplayServer` speaks Jetstream's ``/subscribe`` protocol (text frames, one JSON event
each; ``cursor`` and ``wantedCollections`` query parameters) from a finite list of events, and injects the
faults of a :class:`FaultPlan`. It listens on 127.0.0.1 only, and stops by itself after ``max_seconds``: no
test can leave it running or point it anywhere else.

:func:`simulate_events` makes Jetstream traffic with the shape of the public firehose (likes dominate, then
posts, reposts, follows; profile, identity and account events; deletes; a share of 2024 field spellings)
around a few target accounts, deterministically from a seed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import threading
import time
import urllib.parse
from collections.abc import Iterable
from typing import Any

import orjson

from ..sources.jetstream import FOLLOW, LIKE, POST, PROFILE, REPOST

HOST = "127.0.0.1"


@dataclasses.dataclass
class FaultPlan:
    """Faults a :class:`ReplayServer` injects, each at most once, by absolute event index.

    ``drop_at``: close the connection (abruptly, without a close frame when ``abrupt``) just before sending
    that event. ``stall_at``: stop sending for ``stall_s`` seconds before that event, connection open.
    ``malformed_at``: send this raw text frame before that event (the frame is not an event).
    """

    drop_at: set[int] = dataclasses.field(default_factory=set)
    stall_at: set[int] = dataclasses.field(default_factory=set)
    stall_s: float = 3.0
    malformed_at: dict[int, str] = dataclasses.field(default_factory=dict)
    abrupt: bool = True
    refuse_first: int = 0  # reject this many connection attempts with HTTP 503 first


class ReplayServer:
    """Serve ``events`` (dicts with ``time_us``, ascending) as a Jetstream endpoint on 127.0.0.1.

    Use as a context manager; ``url`` is the ``ws://`` address of ``/subscribe``. Runs its own event loop in a
    thread. ``sent`` counts event frames sent (including replays after a reconnect), ``connections`` the
    accepted connections, ``cursors`` the ``cursor`` each connection asked for.
    """

    def __init__(self, events: Iterable[dict[str, Any]] | list[str], *, faults: FaultPlan | None = None,
                 port: int = 0, max_seconds: float = 120.0, pace: float | None = None) -> None:
        frames = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in events]
        self.frames = frames
        self.times = [orjson.loads(f)["time_us"] for f in frames]
        self.collections = [(_coll(f)) for f in frames]
        self.faults = faults or FaultPlan()
        self.port = port
        self.max_seconds = max_seconds
        self.pace = pace  # events per second, None = as fast as possible
        self.sent = 0
        self.connections = 0
        self.refused = 0
        self.cursors: list[int | None] = []
        self._done: set[tuple[str, int]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}/subscribe"

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="jetstream-replay", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("replay server did not start")

    def stop(self) -> None:
        """Stop serving and close every connection (a 'restart' is stop() then start() on the same port)."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop ended meanwhile (max_seconds passed): nothing left to stop
                pass
        if self._thread is not None:
            self._thread.join(10)
        self._thread = None

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve
        from websockets.datastructures import Headers
        from websockets.http11 import Response

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        def process_request(conn: Any, request: Any) -> Any:
            if self.refused < self.faults.refuse_first:
                self.refused += 1
                return Response(503, "Service Unavailable", Headers(), b"try later\n")
            return None

        async with serve(self._handler, HOST, self.port, process_request=process_request,
                         max_size=2 ** 22, ping_interval=None, compression=None) as server:
            sock = next(iter(server.sockets))
            self.port = sock.getsockname()[1]
            self._ready.set()
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.max_seconds)
            except TimeoutError:
                pass
            server.close()
            await server.wait_closed()

    async def _handler(self, ws: Any) -> None:
        self.connections += 1
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(ws.request.path).query)
        cursor = int(q["cursor"][0]) if "cursor" in q else None
        wanted = set(q.get("wantedCollections", []))
        self.cursors.append(cursor)
        import bisect

        start = bisect.bisect_left(self.times, cursor) if cursor is not None else 0
        f = self.faults
        try:
            i = start
            n = len(self.frames)
            while i < n:
                if i in f.drop_at and ("drop", i) not in self._done:
                    self._done.add(("drop", i))
                    if f.abrupt:
                        ws.transport.abort()
                    else:
                        await ws.close(1011, "replay: planned drop")
                    return
                if i in f.stall_at and ("stall", i) not in self._done:
                    self._done.add(("stall", i))
                    await asyncio.sleep(f.stall_s)
                if i in f.malformed_at and ("bad", i) not in self._done:
                    self._done.add(("bad", i))
                    await ws.send(f.malformed_at[i])
                if self.pace:
                    if not wanted or self.collections[i] is None or self.collections[i] in wanted:
                        await ws.send(self.frames[i])
                        self.sent += 1
                    i += 1
                    await asyncio.sleep(1.0 / self.pace)
                    continue
                # fast path: up to 512 events written to the socket as ready-made text frames at once (the
                # server's own per-frame cost would otherwise dominate a benchmark on a small machine)
                j = i + 1
                while j < n and j - i < 512 and j not in f.drop_at and j not in f.stall_at \
                        and j not in f.malformed_at:
                    j += 1
                chunk = [_text_frame(self.frames[k]) for k in range(i, j)
                         if not wanted or self.collections[k] is None or self.collections[k] in wanted]
                ws.transport.write(b"".join(chunk))
                self.sent += len(chunk)
                i = j
                while ws.transport.get_write_buffer_size() > (1 << 20):
                    await asyncio.sleep(0.001)
                if ws.transport.is_closing():
                    return
                await asyncio.sleep(0)
            await ws.wait_closed()  # like a live server with nothing new: keep the connection open
        except Exception:  # the client went away; nothing to clean up
            return


def _text_frame(payload: str) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 section 5.2) holding ``payload``."""
    data = payload.encode("utf-8")
    n = len(data)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + data


def _coll(frame: str) -> str | None:
    ev = orjson.loads(frame)
    c = ev.get("commit")
    return c.get("collection") if isinstance(c, dict) else None


# --------------------------------------------------------------------------------------------- simulator
def _tid(rng: random.Random) -> str:
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    return "3l" + "".join(rng.choice(alphabet) for _ in range(11))


def simulate_events(n: int, *, targets: int = 3, accounts: int = 2_000, seed: int = 1,
                    start_us: int = 1_725_000_000_000_000, old_spelling: float = 0.05,
                    step_us: int = 200) -> list[dict[str, Any]]:
    """``n`` Jetstream events around ``targets`` target accounts (``did:plc:target0``, ...).

    Mix (roughly the public firehose's): 55% likes, 15% posts (originals, replies, quotes), 12% reposts, 8%
    follows, 2% profile updates, 2% identity and account events, 6% deletes. About a third of the
    engagements touch a target. ``old_spelling`` is the share of events written in the 2024 spellings.
    """
    rng = random.Random(seed)
    tdids = [f"did:plc:target{i}" for i in range(targets)]
    users = [f"did:plc:user{i:06d}" for i in range(accounts)]
    posts: list[str] = []
    tposts: list[str] = []
    out: list[dict[str, Any]] = []
    t = start_us
    for _ in range(n):
        t += rng.randint(1, 2 * step_us)
        r = rng.random()
        actor = rng.choice(users)
        ev: dict[str, Any]
        if r < 0.04 or not posts:
            author = rng.choice(tdids) if rng.random() < 0.5 or not posts else actor
            rkey = _tid(rng)
            uri = f"at://{author}/{POST}/{rkey}"
            (tposts if author in tdids else posts).append(uri)
            posts.append(uri)
            ev = _commit(author, t, POST, rkey, {"$type": POST, "text": f"post {rkey} #tag{rkey[-1]}",
                                                  "createdAt": "2024-09-01T00:00:00Z", "langs": ["en"],
                                                  "facets": [{"index": {"byteStart": 5, "byteEnd": 6},
                                                              "features": [{"$type": "app.bsky.richtext.facet#tag",
                                                                            "tag": f"tag{rkey[-1]}"}]}]})
        elif r < 0.59:
            subj = rng.choice(tposts) if tposts and rng.random() < 0.35 else rng.choice(posts)
            ev = _commit(actor, t, LIKE, _tid(rng), {"$type": LIKE, "subject": {"uri": subj, "cid": "bafy"},
                                                      "createdAt": "2024-09-01T00:00:00Z"})
        elif r < 0.71:
            subj = rng.choice(tposts) if tposts and rng.random() < 0.35 else rng.choice(posts)
            ev = _commit(actor, t, REPOST, _tid(rng), {"$type": REPOST, "subject": {"uri": subj, "cid": "bafy"},
                                                        "createdAt": "2024-09-01T00:00:00Z"})
        elif r < 0.77:
            subj = rng.choice(tposts) if tposts and rng.random() < 0.35 else rng.choice(posts)
            rk = _tid(rng)
            if rng.random() < 0.5:
                rec = {"$type": POST, "text": "reply", "createdAt": "2024-09-01T00:00:00Z",
                       "reply": {"root": {"uri": subj, "cid": "bafy"}, "parent": {"uri": subj, "cid": "bafy"}}}
            else:
                rec = {"$type": POST, "text": "quote", "createdAt": "2024-09-01T00:00:00Z",
                       "embed": {"$type": "app.bsky.embed.record", "record": {"uri": subj, "cid": "bafy"}}}
            posts.append(f"at://{actor}/{POST}/{rk}")
            ev = _commit(actor, t, POST, rk, rec)
        elif r < 0.85:
            subj = rng.choice(tdids) if rng.random() < 0.3 else rng.choice(users)
            ev = _commit(actor, t, FOLLOW, _tid(rng), {"$type": FOLLOW, "subject": subj,
                                                        "createdAt": "2024-09-01T00:00:00Z"})
        elif r < 0.87:
            ev = _commit(actor, t, PROFILE, "self", {"$type": PROFILE, "displayName": f"name {actor[-4:]}",
                                                      "description": "bio"}, op="update")
        elif r < 0.88:
            ev = {"did": actor, "time_us": t, "kind": "identity",
                  "identity": {"did": actor, "handle": f"{actor[-6:]}.bsky.social", "seq": t, "time": ""}}
        elif r < 0.89:
            st = rng.choice([None, "takendown", "deleted", "deactivated"])
            ev = {"did": actor, "time_us": t, "kind": "account",
                  "account": {"did": actor, "active": st is None, **({"status": st} if st else {}),
                              "seq": t, "time": ""}}
        else:
            ev = _commit(actor, t, rng.choice([LIKE, REPOST, POST]), _tid(rng), None, op="delete")
        if rng.random() < old_spelling:
            ev = to_old_spelling(ev)
        out.append(ev)
    return out


def _commit(did: str, t: int, coll: str, rkey: str, rec: dict[str, Any] | None, op: str = "create"
            ) -> dict[str, Any]:
    c: dict[str, Any] = {"rev": "3l" + str(t)[-11:], "operation": op, "collection": coll, "rkey": rkey}
    if rec is not None:
        c["record"] = rec
        c["cid"] = "bafyrei" + rkey
    return {"did": did, "time_us": t, "kind": "commit", "commit": c}


def to_old_spelling(ev: dict[str, Any]) -> dict[str, Any]:
    """The same event in the 2024 spellings (``type: com|id|acc``, ``commit.type: c|u|d``)."""
    ev = dict(ev)
    kind = ev.pop("kind")
    ev["type"] = {"commit": "com", "identity": "id", "account": "acc"}[kind]
    if "commit" in ev:
        c = dict(ev["commit"])
        c["type"] = c.pop("operation")[0]
        ev["commit"] = c
    return ev


def serve_forever(frames_path: str, port: int, max_seconds: float = 600.0) -> None:  # pragma: no cover
    """Serve a JSONL file of events until ``max_seconds`` pass (for a benchmark's server process)."""
    with open(frames_path, encoding="utf-8") as fh:
        frames = [ln.rstrip("\n") for ln in fh if ln.strip()]
    srv = ReplayServer(frames, port=port, max_seconds=max_seconds)
    srv.start()
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline and srv._thread is not None and srv._thread.is_alive():
        time.sleep(0.5)
    srv.stop()


__all__ = ["ReplayServer", "FaultPlan", "simulate_events", "to_old_spelling", "serve_forever"]

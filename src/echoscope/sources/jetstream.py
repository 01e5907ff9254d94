"""Bluesky Jetstream JSON events (recorded JSONL files and the live stream).

One parser, :class:`JetstreamParser`, serves both the file reader (``format=jetstream``) and the live collector
(:mod:`echoscope.collect.bluesky`), so a recorded stream and a collected one give identical tables. It is
shaped for the live rate (thousands of events a second on one core): each event is one ``orjson`` decode and a
few dictionary lookups appended to per-column Python lists; Arrow arrays are built only when a batch is
drained. Nothing is kept between batches except the optional target filter and a bounded set of accounts
already seen engaging (so their account-status events are kept).

Mapping (platform ``bluesky``; ids are AT URIs ``at://DID/COLLECTION/RKEY``, so the idempotent key of an
event is did + collection + rkey):

* ``app.bsky.feed.post`` create -> ``posts``: ``reply`` when ``record.reply`` is present (ref = parent URI),
  ``quote`` when ``record.embed`` is ``app.bsky.embed.record`` or ``...recordWithMedia`` (ref = embedded
  record URI), else ``original``. Links, tags and mentions come from ``record.facets`` (mentions as the handle
  written in the text, or the DID when the text slice is not an ``@handle``), external embeds add a URL,
  ``lang`` is the first of ``record.langs``; ``media_hashes`` are the blob CIDs of its images or video.
* ``app.bsky.feed.repost`` create -> ``posts`` of kind ``repost`` with ``ref_post_id = record.subject.uri``.
* ``app.bsky.feed.like`` create -> ``likes`` (``post_id = record.subject.uri``).
* ``app.bsky.actor.profile`` create/update -> ``accounts`` (display name, description).
* ``identity`` events -> ``accounts`` (handle); ``account`` events -> ``account_status`` (``takendown`` and
  ``suspended`` -> suspended, ``deleted`` -> deleted, active -> active, anything else -> unknown).
* ``app.bsky.graph.follow`` create -> ``follows`` (``account_id`` follows ``followed_id = record.subject``), kept
  when either side is a target; also counted in ``stats['follows']``. Follows are related records, not
  primary ones: they do not enter the file's ``read`` count. Deletes and updates of posts, reposts, likes and
  follows are counted and not applied: the study records that the amplification happened.

Times: ``created_at`` is the event's ``time_us`` (when Jetstream saw the commit), not ``record.createdAt``,
which the posting client sets freely (backdated and future dates occur); Jetstream's clock is the one that
cannot be faked by an account and it only increases within one Jetstream instance.

Field spellings accepted: the current ``kind`` (``commit|identity|account``) with ``commit.operation``
(``create|update|delete``), and the 2024 spellings ``type`` (``com|id|acc``) with ``commit.type`` or
``commit.opType`` (``c|u|d``, or the long words); ``record`` may be an object or a JSON-encoded string.

Primary records (the counted ones, see :mod:`echoscope.sources.base`) are creates of posts, reposts and likes
that pass the filter; a line that is not JSON or a create that lacks its DID, time or subject is quarantined.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa

from .base import IngestSink, SourceFile, truncate
from .jsonl import iter_lines, json_problem

PLATFORM = "bluesky"
POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
LIKE = "app.bsky.feed.like"
FOLLOW = "app.bsky.graph.follow"
PROFILE = "app.bsky.actor.profile"
#: collections the collector asks Jetstream for (``wantedCollections``)
COLLECTIONS: tuple[str, ...] = (POST, REPOST, LIKE, FOLLOW, PROFILE)

#: event kind spellings: current -> itself, 2024 -> current
KINDS: dict[str, str] = {"commit": "commit", "com": "commit", "identity": "identity", "id": "identity",
                         "account": "account", "acc": "account"}
#: commit operation spellings
OPERATIONS: dict[str, str] = {"create": "create", "c": "create", "update": "update", "u": "update",
                              "delete": "delete", "d": "delete"}
#: Jetstream account status -> canonical account status
ACCOUNT_STATUS: dict[str, str] = {"takendown": "suspended", "suspended": "suspended", "deleted": "deleted"}
QUOTE_EMBEDS = ("app.bsky.embed.record", "app.bsky.embed.recordWithMedia")
FACET_LINK = "app.bsky.richtext.facet#link"
FACET_TAG = "app.bsky.richtext.facet#tag"
FACET_MENTION = "app.bsky.richtext.facet#mention"

TS = pa.timestamp("us", tz="UTC")
STR = pa.string()
LIST_STR = pa.list_(pa.string())
POST_COLS: tuple[tuple[str, pa.DataType], ...] = (
    ("post_id", STR), ("account_id", STR), ("created_at", TS), ("kind", STR), ("ref_post_id", STR),
    ("ref_account_id", STR), ("text", STR), ("lang", STR), ("urls", LIST_STR), ("hashtags", LIST_STR),
    ("mentions", LIST_STR), ("media_hashes", LIST_STR))
LIKE_COLS: tuple[tuple[str, pa.DataType], ...] = (("account_id", STR), ("post_id", STR), ("created_at", TS))
ACCOUNT_COLS: tuple[tuple[str, pa.DataType], ...] = (
    ("account_id", STR), ("handle", STR), ("display_name", STR), ("description", STR), ("observed_at", TS))
STATUS_COLS: tuple[tuple[str, pa.DataType], ...] = (("account_id", STR), ("status", STR), ("checked_at", TS))
FOLLOW_COLS: tuple[tuple[str, pa.DataType], ...] = (("account_id", STR), ("followed_id", STR), ("created_at", TS))
#: bound on the remembered engaging accounts (for keeping their account events); cleared when full
SEEN_MAX = 2_000_000


def did_of(uri: Any) -> str | None:
    """The DID (authority) of an AT URI ``at://did:plc:x/collection/rkey``; ``None`` when it is not one."""
    if not isinstance(uri, str) or not uri.startswith("at://"):
        return None
    end = uri.find("/", 5)
    return uri[5:end] if end > 5 else (uri[5:] or None)


class BadEvent(ValueError):
    """An event that cannot be loaded: ``field`` names what was wrong."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class JetstreamParser:
    """Turn Jetstream events into column lists of the canonical tables.

    Parameters
    ----------
    targets
        Account DIDs to keep: events by a target (posts, reposts, profile, identity and account events) and
        events whose subject belongs to a target (replies, quotes, reposts, likes, follows). ``None`` keeps
        every event.
    """

    def __init__(self, targets: Iterable[str] | None = None) -> None:
        self.targets: set[str] | None = set(targets) if targets is not None else None
        self.seen: set[str] = set()
        self.stats: dict[str, int] = {"events": 0, "kept": 0, "filtered": 0, "follows": 0, "deletes": 0,
                                      "updates": 0, "other": 0, "bad": 0}
        self._reset()

    def _reset(self) -> None:
        self.posts: dict[str, list[Any]] = {c: [] for c, _ in POST_COLS}
        self.likes: dict[str, list[Any]] = {c: [] for c, _ in LIKE_COLS}
        self.accounts: dict[str, list[Any]] = {c: [] for c, _ in ACCOUNT_COLS}
        self.status: dict[str, list[Any]] = {c: [] for c, _ in STATUS_COLS}
        self.follow_rows: dict[str, list[Any]] = {c: [] for c, _ in FOLLOW_COLS}
        self.follows: list[str] = []  # follower DIDs of targets (for profile resolution)
        self.primary = 0

    # ---------------------------------------------------------------------------------------------- events
    def feed_bytes(self, raw: bytes | str) -> int:
        """Parse one raw frame or line; returns its ``time_us`` (raises :class:`BadEvent` when unusable)."""
        try:
            ev = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadEvent(None, f"{json_problem(raw, exc)}; expected one Jetstream event object per line") from None
        if not isinstance(ev, dict):
            raise BadEvent(None, f"expected a JSON object (a Jetstream event), got {type(ev).__name__}")
        return self.feed(ev)

    def feed(self, ev: dict[str, Any]) -> int:
        """Parse one decoded event into the buffers; returns its ``time_us``."""
        self.stats["events"] += 1
        did = ev.get("did")
        t = ev.get("time_us")
        if not isinstance(did, str) or not did.startswith("did:"):
            self.stats["bad"] += 1
            raise BadEvent("did", f"missing or invalid 'did' ({did!r}); expected a DID such as did:plc:...")
        if type(t) is not int:
            self.stats["bad"] += 1
            raise BadEvent("time_us", f"missing or invalid 'time_us' ({t!r}); expected integer microseconds")
        kind = KINDS.get(ev.get("kind") or ev.get("type"))  # type: ignore[arg-type]
        if kind == "commit":
            self._commit(did, t, ev.get("commit"))
        elif kind == "identity":
            self._identity(did, t, ev.get("identity") or {})
        elif kind == "account":
            self._account(did, t, ev.get("account") or {})
        else:
            self.stats["other"] += 1
        return t

    def _commit(self, did: str, t: int, c: Any) -> None:
        if not isinstance(c, dict):
            self.stats["bad"] += 1
            raise BadEvent("commit", "commit event without a 'commit' object")
        op = OPERATIONS.get(c.get("operation") or c.get("type") or c.get("opType"))  # type: ignore[arg-type]
        coll = c.get("collection")
        if op is None:
            self.stats["bad"] += 1
            raise BadEvent("commit.operation", f"unknown operation {c.get('operation') or c.get('type')!r}; "
                           "expected create|update|delete (or c|u|d)")
        if op == "delete":
            self.stats["deletes"] += 1
            return
        if coll == PROFILE:
            self._profile(did, t, c)
            return
        if op == "update":
            self.stats["updates"] += 1
            return
        rec = c.get("record")
        if isinstance(rec, str):
            try:
                rec = orjson.loads(rec)
            except orjson.JSONDecodeError:
                rec = None
        rkey = c.get("rkey")
        if coll not in (POST, REPOST, LIKE, FOLLOW):
            self.stats["other"] += 1
            return
        if not isinstance(rec, dict) or not isinstance(rkey, str) or not rkey:
            self.stats["bad"] += 1
            raise BadEvent("commit.record" if not isinstance(rec, dict) else "commit.rkey",
                           f"{coll} create without a record object or rkey")
        targets = self.targets
        if coll == POST:
            ref = ref_did = None
            kind = "original"
            reply = rec.get("reply")
            embed = rec.get("embed")
            if isinstance(reply, dict):
                parent = reply.get("parent") or {}
                root = reply.get("root") or {}
                ref = parent.get("uri") if isinstance(parent, dict) else None
                if not isinstance(ref, str):
                    self.stats["bad"] += 1
                    raise BadEvent("commit.record.reply.parent.uri", "reply without the parent's URI")
                kind = "reply"
                ref_did = did_of(ref)
                root_did = did_of(root.get("uri")) if isinstance(root, dict) else None
                if targets is not None and did not in targets and ref_did not in targets \
                        and root_did not in targets:
                    self.stats["filtered"] += 1
                    return
            elif isinstance(embed, dict) and embed.get("$type") in QUOTE_EMBEDS:
                inner = embed.get("record") or {}
                if isinstance(inner, dict) and isinstance(inner.get("record"), dict):  # recordWithMedia
                    inner = inner["record"]
                ref = inner.get("uri") if isinstance(inner, dict) else None
                if isinstance(ref, str):
                    kind = "quote"
                    ref_did = did_of(ref)
                if targets is not None and did not in targets and ref_did not in targets:
                    self.stats["filtered"] += 1
                    return
            elif targets is not None and did not in targets:
                self.stats["filtered"] += 1
                return
            text = rec.get("text")
            urls, tags, mentions = _facets(rec, text if isinstance(text, str) else "")
            langs = rec.get("langs")
            p = self.posts
            p["post_id"].append(f"at://{did}/{POST}/{rkey}")
            p["account_id"].append(did)
            p["created_at"].append(t)
            p["kind"].append(kind)
            p["ref_post_id"].append(ref)
            p["ref_account_id"].append(ref_did)
            p["text"].append(text if isinstance(text, str) else None)
            p["lang"].append(langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str)
                             else None)
            p["urls"].append(urls)
            p["hashtags"].append(tags)
            p["mentions"].append(mentions)
            p["media_hashes"].append(media_cids(rec.get("embed")))
        else:
            subj = rec.get("subject")
            uri = subj.get("uri") if isinstance(subj, dict) else (subj if coll == FOLLOW else None)
            if not isinstance(uri, str):
                self.stats["bad"] += 1
                raise BadEvent("commit.record.subject", f"{coll} without a subject "
                               f"({'DID' if coll == FOLLOW else 'URI'}); expected record.subject"
                               f"{'' if coll == FOLLOW else '.uri'}")
            subj_did = uri if coll == FOLLOW else did_of(uri)
            if targets is not None and subj_did not in targets and (coll == LIKE or did not in targets):
                self.stats["filtered"] += 1
                return
            if coll == FOLLOW:
                self.stats["follows"] += 1
                self.follows.append(did)
                fr = self.follow_rows
                fr["account_id"].append(did)
                fr["followed_id"].append(uri)
                fr["created_at"].append(t)
                self._remember(did)
                return
            if coll == REPOST:
                p = self.posts
                p["post_id"].append(f"at://{did}/{REPOST}/{rkey}")
                p["account_id"].append(did)
                p["created_at"].append(t)
                p["kind"].append("repost")
                p["ref_post_id"].append(uri)
                p["ref_account_id"].append(subj_did)
                for col in ("text", "lang", "urls", "hashtags", "mentions", "media_hashes"):
                    p[col].append(None)
            else:
                lk = self.likes
                lk["account_id"].append(did)
                lk["post_id"].append(uri)
                lk["created_at"].append(t)
        self._remember(did)
        self.primary += 1
        self.stats["kept"] += 1

    def _remember(self, did: str) -> None:
        if self.targets is None:
            return
        if len(self.seen) >= SEEN_MAX:
            self.seen.clear()
        self.seen.add(did)

    def _relevant(self, did: str) -> bool:
        return self.targets is None or did in self.targets or did in self.seen

    def _profile(self, did: str, t: int, c: dict[str, Any]) -> None:
        rec = c.get("record")
        if not isinstance(rec, dict) or not self._relevant(did):
            self.stats["filtered"] += 1
            return
        a = self.accounts
        a["account_id"].append(did)
        a["handle"].append(None)
        name = rec.get("displayName")
        desc = rec.get("description")
        a["display_name"].append(name if isinstance(name, str) else None)
        a["description"].append(desc if isinstance(desc, str) else None)
        a["observed_at"].append(t)

    def _identity(self, did: str, t: int, ident: dict[str, Any]) -> None:
        handle = ident.get("handle") if isinstance(ident, dict) else None
        if not isinstance(handle, str) or not self._relevant(did):
            self.stats["filtered"] += 1
            return
        a = self.accounts
        a["account_id"].append(did)
        a["handle"].append(handle)
        a["display_name"].append(None)
        a["description"].append(None)
        a["observed_at"].append(t)

    def _account(self, did: str, t: int, acc: dict[str, Any]) -> None:
        if not isinstance(acc, dict) or not self._relevant(did):
            self.stats["filtered"] += 1
            return
        if acc.get("active") is True:
            status = "active"
        else:
            status = ACCOUNT_STATUS.get(str(acc.get("status")), "unknown")
        s = self.status
        s["account_id"].append(did)
        s["status"].append(status)
        s["checked_at"].append(t)

    # ---------------------------------------------------------------------------------------------- batches
    def pending(self) -> int:
        """Rows buffered since the last :meth:`drain`."""
        return (len(self.posts["post_id"]) + len(self.likes["post_id"]) + len(self.accounts["account_id"])
                + len(self.status["account_id"]) + len(self.follow_rows["account_id"]))

    def drain(self) -> dict[str, pa.Table]:
        """The buffered rows as Arrow tables (only non-empty ones), and empty buffers."""
        out: dict[str, pa.Table] = {}
        for name, cols, spec in (("posts", self.posts, POST_COLS), ("likes", self.likes, LIKE_COLS),
                                 ("accounts", self.accounts, ACCOUNT_COLS),
                                 ("account_status", self.status, STATUS_COLS),
                                 ("follows", self.follow_rows, FOLLOW_COLS)):
            if cols[spec[0][0]]:
                arrays = [pa.array(cols[c], type=pa.int64()).cast(typ) if typ == TS else pa.array(cols[c], typ)
                          for c, typ in spec]
                t = pa.Table.from_arrays(arrays, names=[c for c, _ in spec])
                out[name] = t.append_column("platform", pa.array([PLATFORM] * t.num_rows, STR))
        self._reset()
        return out


def _facets(rec: dict[str, Any], text: str) -> tuple[list[str] | None, list[str] | None, list[str] | None]:
    facets = rec.get("facets")
    urls: list[str] = []
    tags: list[str] = []
    mentions: list[str] = []
    if isinstance(facets, list):
        encoded: bytes | None = None
        for f in facets:
            if not isinstance(f, dict):
                continue
            for feat in f.get("features") or ():
                if not isinstance(feat, dict):
                    continue
                ftype = feat.get("$type")
                if ftype == FACET_LINK and isinstance(feat.get("uri"), str):
                    urls.append(feat["uri"])
                elif ftype == FACET_TAG and isinstance(feat.get("tag"), str):
                    tags.append(feat["tag"].lstrip("#"))
                elif ftype == FACET_MENTION and isinstance(feat.get("did"), str):
                    idx = f.get("index") or {}
                    name = None
                    if isinstance(idx, dict) and isinstance(idx.get("byteStart"), int) \
                            and isinstance(idx.get("byteEnd"), int):
                        if encoded is None:
                            encoded = text.encode("utf-8")
                        piece = encoded[idx["byteStart"]:idx["byteEnd"]].decode("utf-8", errors="replace")
                        if piece.startswith("@") and len(piece) > 1:
                            name = piece[1:]
                    mentions.append(name or feat["did"])
    embed = rec.get("embed")
    if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.external":
        ext = embed.get("external")
        if isinstance(ext, dict) and isinstance(ext.get("uri"), str) and ext["uri"] not in urls:
            urls.append(ext["uri"])
    return urls or None, tags or None, mentions or None


def _blob_cid(blob: Any) -> str | None:
    """The CID of a blob reference: ``{"$type": "blob", "ref": {"$link": CID}}`` or the legacy ``{"cid": CID}``."""
    if not isinstance(blob, dict):
        return None
    ref = blob.get("ref")
    cid = ref.get("$link") if isinstance(ref, dict) else blob.get("cid")
    return cid if isinstance(cid, str) and cid else None


def media_cids(embed: Any) -> list[str] | None:
    """The blob CIDs of a post's images and video (``app.bsky.embed.images``, ``...video``, and the media part of
    ``...recordWithMedia``); None without media. A CID is a hash of the uploaded bytes: the same file uploaded
    by two accounts has one CID, a re-encoded or cropped copy another. Link-card thumbnails are left out (the
    link itself is in ``urls``)."""
    if not isinstance(embed, dict):
        return None
    if embed.get("$type") == "app.bsky.embed.recordWithMedia":
        embed = embed.get("media")
        if not isinstance(embed, dict):
            return None
    out: list[str] = []
    kind = embed.get("$type")
    if kind == "app.bsky.embed.images":
        for img in embed.get("images") or ():
            cid = _blob_cid(img.get("image")) if isinstance(img, dict) else None
            if cid is not None:
                out.append(cid)
    elif kind == "app.bsky.embed.video":
        cid = _blob_cid(embed.get("video"))
        if cid is not None:
            out.append(cid)
    return out or None


# ------------------------------------------------------------------------------------------------- reader
BATCH_ROWS = 50_000


def read_jetstream(src: SourceFile, sink: IngestSink) -> None:
    """Read recorded Jetstream JSONL (one event per line) into posts, likes, follows, accounts, account_status.

    ``sink.options['targets']`` (DIDs, optional) keeps only events that touch those accounts, as the live
    collector does.
    """
    targets = sink.options.get("targets")
    parser = JetstreamParser(targets=targets)
    for lineno, raw in iter_lines(src, sink):
        try:
            parser.feed_bytes(raw)
        except BadEvent as exc:
            sink.quarantine(line=lineno, field=exc.field, reason=exc.reason, raw=truncate(raw))
        if parser.pending() >= BATCH_ROWS:
            _flush(parser, sink)
    _flush(parser, sink)


def _flush(parser: JetstreamParser, sink: IngestSink) -> None:
    for name, table in parser.drain().items():
        sink.add(name, table, primary=name in ("posts", "likes"))


def sniff(head: bytes, name: str) -> float:
    """Sure when the first JSON line has ``did`` and ``time_us`` and a Jetstream kind."""
    line = head.lstrip().split(b"\n", 1)[0]
    if not line.startswith(b"{"):
        return 0.0
    try:
        ev = orjson.loads(line)
    except orjson.JSONDecodeError:
        return 0.3 if b'"time_us"' in line and b'"did"' in line else 0.0
    if isinstance(ev, dict) and "did" in ev and "time_us" in ev:
        return 0.95 if (ev.get("kind") or ev.get("type")) in KINDS else 0.6
    return 0.0


__all__ = ["JetstreamParser", "BadEvent", "read_jetstream", "sniff", "did_of", "COLLECTIONS", "PLATFORM"]

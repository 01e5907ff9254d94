"""Telegram Desktop channel exports (``result.json``): posts, with forwards as amplification.

Telegram Desktop's "Export chat history" (JSON) writes one object: ``name``, ``type``, ``id`` and ``messages``;
a full-account export nests chats under ``chats.list``. Both are accepted. Each message has ``id``, ``type``
(``message`` or ``service``), ``date`` (local time of the exporting machine) and ``date_unixtime`` (UTC
seconds, newer exports), ``from``/``from_id`` (``channel123``, ``user456``), ``forwarded_from`` (a display name)
and, in newer exports, ``forwarded_from_id``, ``reply_to_message_id``, and ``text`` as a string or a list of
strings and entities (``{"type": "link"|"text_link"|"hashtag"|"mention"|..., "text", "href"}``).

Mapping (platform ``telegram``): ``post_id`` = ``<chat id>:<message id>``; a forward is a ``repost`` of the
forwarded-from channel (``ref_account_id`` = ``forwarded_from_id``, or ``name:<forwarded_from>`` when the export
has only the name; the original message id is not exported, so ``ref_post_id`` is null); a message with
``reply_to_message_id`` is a ``reply`` to ``<chat id>:<that id>``; everything else is ``original``. Authors and
forwarded-from channels become ``accounts`` (id and display name). Times come from ``date_unixtime``; when
only ``date`` exists it is read as UTC (the export does not record the exporter's zone; say so in results).

Primary records are the ``message`` entries; ``service`` entries (joins, pins) are not counted. A whole export
is one JSON document, so it is parsed at once (exports of a few hundred MB need that much memory).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pyarrow as pa

from ..errors import SourceError
from .base import IngestSink, SourceFile, truncate

PLATFORM = "telegram"
BATCH = 50_000
TS = pa.timestamp("us", tz="UTC")
POST_COLS = ("post_id", "account_id", "created_at", "kind", "ref_post_id", "ref_account_id", "text", "urls",
             "hashtags", "mentions")
POST_TYPES = {"post_id": pa.string(), "account_id": pa.string(), "created_at": TS, "kind": pa.string(),
              "ref_post_id": pa.string(), "ref_account_id": pa.string(), "text": pa.string(),
              "urls": pa.list_(pa.string()), "hashtags": pa.list_(pa.string()),
              "mentions": pa.list_(pa.string())}


def _time(m: dict[str, Any]) -> dt.datetime | None:
    u = m.get("date_unixtime")
    if u is not None:
        try:
            return dt.datetime.fromtimestamp(int(u), dt.timezone.utc)
        except (TypeError, ValueError, OverflowError):
            pass
    d = m.get("date")
    if isinstance(d, str):
        try:
            t = dt.datetime.fromisoformat(d)
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    return None


def _text(value: Any) -> tuple[str | None, list[str], list[str], list[str]]:
    """Plain text plus links, hashtags and mentions from a string or a list of entities."""
    if isinstance(value, str):
        return value, [], [], []
    if not isinstance(value, list):
        return None, [], [], []
    parts: list[str] = []
    urls: list[str] = []
    tags: list[str] = []
    mentions: list[str] = []
    for piece in value:
        if isinstance(piece, str):
            parts.append(piece)
            continue
        if not isinstance(piece, dict):
            continue
        txt = piece.get("text") if isinstance(piece.get("text"), str) else ""
        parts.append(txt)
        kind = piece.get("type")
        if kind == "link" and txt:
            urls.append(txt)
        elif kind == "text_link" and isinstance(piece.get("href"), str):
            urls.append(piece["href"])
        elif kind == "hashtag" and txt:
            tags.append(txt.lstrip("#"))
        elif kind == "mention" and txt:
            mentions.append(txt.lstrip("@"))
        elif kind == "mention_name" and txt:
            mentions.append(txt)
    return "".join(parts), urls, tags, mentions


def _account_id(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)


def _chats(doc: Any, path: str) -> list[dict[str, Any]]:
    if isinstance(doc, dict) and isinstance(doc.get("messages"), list):
        return [doc]
    if isinstance(doc, dict) and isinstance(doc.get("chats"), dict) and isinstance(doc["chats"].get("list"), list):
        return [c for c in doc["chats"]["list"] if isinstance(c, dict) and isinstance(c.get("messages"), list)]
    raise SourceError("not a Telegram Desktop export: expected an object with 'messages' (one chat) or "
                      "'chats.list' (full export); export the channel with Telegram Desktop as JSON", file=path)


def read_telegram(src: SourceFile, sink: IngestSink) -> None:
    """Read a Telegram Desktop JSON export into posts (forwards as reposts) and accounts."""
    with src.open() as fh:
        data = fh.read()
    sink.progress(len(data))
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SourceError(f"not valid JSON ({exc}); a Telegram export is one JSON document (result.json)",
                          file=src.path) from None
    del data
    accounts: dict[str, dict[str, Any]] = {}
    for chat in _chats(doc, src.path):
        chat_id = str(chat.get("id", "")) or "chat"
        chat_account = f"channel{chat_id}" if chat.get("type") in ("public_channel", "private_channel") else None
        if chat_account:
            accounts[chat_account] = {"account_id": chat_account, "display_name": chat.get("name")}
        cols: dict[str, list[Any]] = {c: [] for c in POST_COLS}
        for idx, m in enumerate(chat["messages"]):
            if not isinstance(m, dict):
                sink.quarantine(line=None, field="messages", reason=f"message {idx} is not an object",
                                raw=truncate(orjson.dumps(m)))
                continue
            if m.get("type") != "message":
                continue
            mid = m.get("id")
            created = _time(m)
            author = _account_id(m.get("from_id")) or chat_account
            if mid is None or created is None or author is None:
                missing = "id" if mid is None else "date_unixtime" if created is None else "from_id"
                sink.quarantine(line=None, field=missing,
                                reason=f"message {idx} (id {mid}) lacks '{missing}'; expected id, date_unixtime "
                                "(or date) and from_id (or a channel export)", raw=truncate(orjson.dumps(m)))
                continue
            if m.get("from") and author not in accounts:
                accounts[author] = {"account_id": author, "display_name": m.get("from")}
            text, urls, tags, mentions = _text(m.get("text"))
            kind, ref_post, ref_acc = "original", None, None
            fwd = m.get("forwarded_from")
            fwd_id = m.get("forwarded_from_id")
            if fwd is not None or fwd_id is not None:
                kind = "repost"
                ref_acc = _account_id(fwd_id) or f"name:{fwd}"
                if ref_acc not in accounts:
                    accounts[ref_acc] = {"account_id": ref_acc, "display_name": fwd}
            elif m.get("reply_to_message_id") is not None:
                kind = "reply"
                ref_post = f"{chat_id}:{m['reply_to_message_id']}"
            cols["post_id"].append(f"{chat_id}:{mid}")
            cols["account_id"].append(author)
            cols["created_at"].append(created)
            cols["kind"].append(kind)
            cols["ref_post_id"].append(ref_post)
            cols["ref_account_id"].append(ref_acc)
            cols["text"].append(text)
            cols["urls"].append(urls or None)
            cols["hashtags"].append(tags or None)
            cols["mentions"].append(mentions or None)
            if len(cols["post_id"]) >= BATCH:
                _flush(cols, sink)
        _flush(cols, sink)
    if accounts:
        t = pa.Table.from_pylist(list(accounts.values()),
                                 schema=pa.schema([("account_id", pa.string()), ("display_name", pa.string())]))
        sink.add("accounts", t.append_column("platform", pa.array([PLATFORM] * t.num_rows)), primary=False)


def _flush(cols: dict[str, list[Any]], sink: IngestSink) -> None:
    if not cols["post_id"]:
        return
    t = pa.table({c: pa.array(cols[c], POST_TYPES[c]) for c in POST_COLS})
    t = t.append_column("platform", pa.array([PLATFORM] * t.num_rows, pa.string()))
    sink.add("posts", t, primary=True)
    for c in cols.values():
        c.clear()


def sniff(head: bytes, name: str) -> float:
    """Sure when the head looks like a Telegram export (``messages`` with ``date_unixtime``/``from_id``)."""
    h = head.lstrip()
    if not h.startswith(b"{"):
        return 0.0
    if b'"messages"' in h and (b'"date_unixtime"' in h or b'"from_id"' in h or b'"forwarded_from"' in h):
        return 0.9
    if name.endswith("result.json") and b'"messages"' in h:
        return 0.7
    return 0.0


__all__ = ["read_telegram", "sniff", "PLATFORM"]

"""Mastodon statuses (REST/streaming API JSON, notifications, or an account export's ``outbox.json``).

One parser, :class:`MastodonParser`, serves the file reader (``format=mastodon``) and the live collector
(:mod:`echoscope.collect.mastodon`), so files and collection give the same rows. Accepted inputs:

* a JSON array of statuses (what ``/api/v1/accounts/:id/statuses`` or a timeline returns), one status per line
  (JSONL), or one array per line (saved pages);
* notifications (``type`` = ``favourite`` | ``reblog`` | ``mention`` | ``status`` | ``quote``, with ``account``
  and ``status``): a favourite becomes a like *with its time*, which no other API exposes;
* an account export's ``outbox.json`` (ActivityPub ``OrderedCollection`` of ``Create`` and ``Announce``).

Mapping (platform ``mastodon``): ``post_id``/``account_id`` are the instance's ids (API data comes from one
instance; ids of different instances do not mix) -- for ``outbox.json`` the ActivityPub URIs. A boost is a
``repost`` whose ``post_id`` is ``reblog:<account id>:<status id>``: an account can boost a status once, so this
key is the same whether the boost was seen in a timeline, the stream, a notification or
``reblogged_by`` (which gives no time). ``in_reply_to_id`` makes a ``reply``; ``quote.quoted_status`` (Mastodon
4.4+) a ``quote``. HTML content is reduced to text; tags, mentions (``acct``) and the preview card's URL are
kept, and each media attachment's blurhash as ``media_hashes`` (:func:`blurhashes`); counts come from
``favourites_count``, ``reblogs_count``, ``replies_count``, ``quotes_count``. Statuses embedded in boosts and
notifications are stored as non-primary rows; their authors become ``accounts``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa

from ..errors import SourceError
from .base import IngestSink, SourceFile, truncate
from .jsonl import iter_lines, json_problem

PLATFORM = "mastodon"
BATCH = 50_000
TS = pa.timestamp("us", tz="UTC")
S_ = pa.string()
I_ = pa.int64()
L_ = pa.list_(pa.string())
POST_SPEC = (("post_id", S_), ("account_id", S_), ("created_at", TS), ("kind", S_), ("ref_post_id", S_),
             ("ref_account_id", S_), ("text", S_), ("lang", S_), ("client", S_), ("urls", L_), ("hashtags", L_),
             ("mentions", L_), ("like_count", I_), ("repost_count", I_), ("reply_count", I_),
             ("quote_count", I_), ("media_hashes", L_))
LIKE_SPEC = (("account_id", S_), ("post_id", S_), ("created_at", TS))
ACCOUNT_SPEC = (("account_id", S_), ("handle", S_), ("display_name", S_), ("description", S_),
                ("created_at", TS), ("followers_count", I_), ("following_count", I_), ("posts_count", I_),
                ("profile_image_url", S_), ("default_profile_image", pa.bool_()), ("observed_at", TS))
NOTIFICATION_TYPES = ("favourite", "reblog", "mention", "status", "quote", "update", "follow", "poll")
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.I)


def strip_html(s: Any) -> str | None:
    """Mastodon's HTML content as plain text (paragraphs and line breaks become newlines)."""
    if not isinstance(s, str):
        return None
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", s))).strip()


def _ts(v: Any) -> dt.datetime | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=dt.timezone.utc)
    if isinstance(v, str):
        try:
            t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    return None


def blurhashes(attachments: Any) -> list[str] | None:
    """``blurhash:<hash>`` of each media attachment that has one (API ``media_attachments``, ActivityPub
    ``attachment``); None without any.

    Why the blurhash and not the attachment id: an id names one upload on one server, and an account can attach
    only its own uploads, so two accounts never share one (a boost is a repost, not a second attachment). The
    blurhash is computed by the server from the image's pixels (Mastodon: 4x4 components), so the same image
    uploaded by two accounts gets the same blurhash; a crop or recolouring does not, and unrelated images of
    nearly one flat colour can collide.
    """
    if not isinstance(attachments, list):
        return None
    out = [f"blurhash:{a['blurhash']}" for a in attachments
           if isinstance(a, dict) and isinstance(a.get("blurhash"), str) and a["blurhash"]]
    return out or None


def _int(v: Any) -> int | None:
    return v if type(v) is int else None


def _id(v: Any) -> str | None:
    return None if v is None else str(v)


def boost_id(actor_id: str, status_id: str) -> str:
    """The key of a boost: the same whichever API it was seen through."""
    return f"reblog:{actor_id}:{status_id}"


class BadRecord(ValueError):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


class MastodonParser:
    """Collect rows of posts, likes and accounts from Mastodon API objects (dicts or Mastodon.py objects)."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.posts: dict[str, list[Any]] = {c: [] for c, _ in POST_SPEC}
        self.posts_primary: list[bool] = []
        self.likes: dict[str, list[Any]] = {c: [] for c, _ in LIKE_SPEC}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.primary = 0

    # ---------------------------------------------------------------------------------------- objects
    def account(self, a: Any) -> str:
        if not isinstance(a, dict) or a.get("id") is None:
            raise BadRecord("account.id", "status without account.id; expected a Mastodon Account object")
        aid = str(a["id"])
        avatar = a.get("avatar")
        new = {
            "account_id": aid, "handle": a.get("acct") or a.get("username"), "display_name": a.get("display_name"),
            "description": strip_html(a.get("note")), "created_at": _ts(a.get("created_at")),
            "followers_count": _int(a.get("followers_count")), "following_count": _int(a.get("following_count")),
            "posts_count": _int(a.get("statuses_count")), "profile_image_url": avatar,
            "default_profile_image": ("missing.png" in avatar) if isinstance(avatar, str) else None,
            "observed_at": None,
        }
        old = self.accounts.get(aid)
        if old is not None:  # embedded accounts are often partial: never let a null replace a value
            new = {k: (v if v is not None else old.get(k)) for k, v in new.items()}
        self.accounts[aid] = new
        return aid

    def status(self, s: Any, *, primary: bool = True) -> str:
        """Add one status (and the status it boosts or quotes); returns its post id."""
        if not isinstance(s, dict) or s.get("id") is None:
            raise BadRecord("id", "not a Mastodon status (no 'id'); expected Status objects from the API")
        created = _ts(s.get("created_at"))
        if created is None:
            raise BadRecord("created_at", f"status {s.get('id')} has no valid created_at (ISO 8601 expected)")
        aid = self.account(s.get("account"))
        reblog = s.get("reblog")
        if isinstance(reblog, dict):
            sid = self.status(reblog, primary=False)
            subj_acc = _id((reblog.get("account") or {}).get("id"))
            self._post(boost_id(aid, sid), aid, created, "repost", sid, subj_acc, None, None, None, None, None,
                       None, None, None, None, None, None, primary)
            return boost_id(aid, sid)
        kind, ref, ref_acc = "original", None, None
        quote = s.get("quote")
        quoted = quote.get("quoted_status") if isinstance(quote, dict) else None
        if s.get("in_reply_to_id") is not None:
            kind, ref, ref_acc = "reply", str(s["in_reply_to_id"]), _id(s.get("in_reply_to_account_id"))
        elif isinstance(quoted, dict) and quoted.get("id") is not None:
            ref = self.status(quoted, primary=False)
            kind, ref_acc = "quote", _id((quoted.get("account") or {}).get("id"))
        card = s.get("card")
        urls = [card["url"]] if isinstance(card, dict) and isinstance(card.get("url"), str) else None
        tags = [t["name"] for t in s.get("tags") or () if isinstance(t, dict) and isinstance(t.get("name"), str)]
        mentions = [m["acct"] for m in s.get("mentions") or () if isinstance(m, dict)
                    and isinstance(m.get("acct"), str)]
        app = s.get("application")
        client = app.get("name") if isinstance(app, dict) else None
        pid = str(s["id"])
        self._post(pid, aid, created, kind, ref, ref_acc, strip_html(s.get("content")), s.get("language"),
                   client, urls, tags or None, mentions or None, _int(s.get("favourites_count")),
                   _int(s.get("reblogs_count")), _int(s.get("replies_count")), _int(s.get("quotes_count")),
                   blurhashes(s.get("media_attachments")), primary)
        return pid

    def boost(self, actor: Any, status_id: str, subject_account: str | None, created: Any = None,
              primary: bool = True) -> None:
        """A boost known only from ``reblogged_by`` or a notification (time when the source has one)."""
        aid = self.account(actor)
        self._post(boost_id(aid, status_id), aid, _ts(created), "repost", status_id, subject_account, None, None,
                   None, None, None, None, None, None, None, None, None, primary)

    def like(self, actor: Any, status_id: str, created: Any = None) -> None:
        aid = self.account(actor)
        self.likes["account_id"].append(aid)
        self.likes["post_id"].append(status_id)
        self.likes["created_at"].append(_ts(created))
        self.primary += 1

    def notification(self, n: dict[str, Any]) -> None:
        kind = n.get("type")
        st = n.get("status")
        if kind == "favourite" and isinstance(st, dict):
            sid = self.status(st, primary=False)
            self.like(n.get("account"), sid, n.get("created_at"))
        elif kind == "reblog" and isinstance(st, dict):
            sid = self.status(st, primary=False)
            self.boost(n.get("account"), sid, _id((st.get("account") or {}).get("id")), n.get("created_at"))
        elif isinstance(st, dict):
            self.status(st)
        else:
            self.account(n.get("account"))

    def _post(self, pid: str, aid: str, created: Any, kind: str, ref: Any, ref_acc: Any, text: Any, lang: Any,
              client: Any, urls: Any, tags: Any, mentions: Any, likes: Any, reposts: Any, replies: Any,
              quotes: Any, media: Any, primary: bool) -> None:
        vals = (pid, aid, created, kind, ref, ref_acc, text, lang, client, urls, tags, mentions, likes, reposts,
                replies, quotes, media)
        for (col, _), v in zip(POST_SPEC, vals):
            self.posts[col].append(v)
        self.posts_primary.append(primary)
        if primary:
            self.primary += 1

    def feed(self, obj: Any) -> None:
        """One decoded API object: status, notification, or a list of them."""
        if isinstance(obj, list):
            for o in obj:
                self.feed(o)
            return
        if not isinstance(obj, dict):
            raise BadRecord(None, f"expected a status or notification object, got {type(obj).__name__}")
        if obj.get("type") in NOTIFICATION_TYPES and "account" in obj and "content" not in obj:
            self.notification(obj)
        else:
            self.status(obj)

    def pending(self) -> int:
        return len(self.posts["post_id"]) + len(self.likes["post_id"])

    def drain(self) -> dict[str, tuple[pa.Table, pa.Table | None]]:
        """``{table: (primary rows, other rows)}`` as Arrow; buffers are emptied."""
        out: dict[str, tuple[pa.Table, pa.Table | None]] = {}
        if self.posts["post_id"]:
            t = _table(self.posts, POST_SPEC)
            mask = pa.array(self.posts_primary)
            import pyarrow.compute as pc

            out["posts"] = (t.filter(mask), t.filter(pc.invert(mask)))
        if self.likes["post_id"]:
            out["likes"] = (_table(self.likes, LIKE_SPEC), None)
        if self.accounts:
            rows = list(self.accounts.values())
            out["accounts"] = (None, _table({c: [r[c] for r in rows] for c, _ in ACCOUNT_SPEC}, ACCOUNT_SPEC))  # type: ignore[assignment]
        self._reset()
        return out


def _table(cols: dict[str, list[Any]], spec: tuple[tuple[str, pa.DataType], ...]) -> pa.Table:
    t = pa.table({c: pa.array(cols[c], typ) for c, typ in spec})
    return t.append_column("platform", pa.array([PLATFORM] * t.num_rows, pa.string()))


# ------------------------------------------------------------------------------------------------ outbox
def _outbox_items(doc: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, item in enumerate(doc.get("orderedItems") or []):
        if isinstance(item, dict):
            yield i, item


def _read_outbox(doc: dict[str, Any], src: SourceFile, sink: IngestSink) -> None:
    actor_id = doc.get("actor") if isinstance(doc.get("actor"), str) else None
    cols: dict[str, list[Any]] = {c: [] for c, _ in POST_SPEC}
    for i, item in _outbox_items(doc):
        actor = item.get("actor") if isinstance(item.get("actor"), str) else actor_id
        created = _ts(item.get("published"))
        obj = item.get("object")
        if item.get("type") == "Announce" and isinstance(obj, str) and actor:
            row = (boost_id(actor, obj), actor, created, "repost", obj, None, None, None, None, None, None, None,
                   None, None, None, None, None)
        elif item.get("type") == "Create" and isinstance(obj, dict) and isinstance(obj.get("id"), str):
            tags = [t.get("name", "").lstrip("#") for t in obj.get("tag") or () if isinstance(t, dict)
                    and t.get("type") == "Hashtag"]
            mentions = [t.get("name", "").lstrip("@") for t in obj.get("tag") or () if isinstance(t, dict)
                        and t.get("type") == "Mention"]
            reply = obj.get("inReplyTo") if isinstance(obj.get("inReplyTo"), str) else None
            row = (obj["id"], actor or obj.get("attributedTo"), _ts(obj.get("published")) or created,
                   "reply" if reply else "original", reply, None, strip_html(obj.get("content")), None, None, None,
                   tags or None, mentions or None, None, None, None, None, blurhashes(obj.get("attachment")))
        else:
            sink.quarantine(line=None, field="orderedItems", raw=truncate(orjson.dumps(item)),
                            reason=f"item {i} is neither a Create with a Note nor an Announce with an object URI")
            continue
        if row[1] is None or row[2] is None:
            sink.quarantine(line=None, field="published" if row[2] is None else "actor",
                            raw=truncate(orjson.dumps(item)), reason=f"item {i} lacks its actor or publication time")
            continue
        for (c, _), v in zip(POST_SPEC, row):
            cols[c].append(v)
    if cols["post_id"]:
        sink.add("posts", _table(cols, POST_SPEC), primary=True)


# ------------------------------------------------------------------------------------------------ reader
def read_mastodon(src: SourceFile, sink: IngestSink) -> None:
    """Read Mastodon statuses or notifications (JSON array, JSONL, pages) or an ``outbox.json`` export."""
    head = src.head(4096).lstrip()
    parser = MastodonParser()
    if head.startswith(b"[") or (head.startswith(b"{") and b'"orderedItems"' in src.head(1 << 20)):
        with src.open() as fh:
            data = fh.read()
        sink.progress(len(data))
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            doc = None  # may be JSONL whose first line is an array page
        if isinstance(doc, dict) and "orderedItems" in doc:
            _read_outbox(doc, src, sink)
            return
        if isinstance(doc, list):
            for i, obj in enumerate(doc):
                _feed(parser, obj, sink, None, i)
                if parser.pending() >= BATCH:
                    _flush(parser, sink)
            _flush(parser, sink)
            return
    for lineno, raw in iter_lines(src, sink):
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            sink.quarantine(line=lineno, field=None, raw=truncate(raw),
                            reason=f"{json_problem(raw, exc)}; expected a status, notification or array per line")
            continue
        _feed(parser, obj, sink, lineno, None)
        if parser.pending() >= BATCH:
            _flush(parser, sink)
    _flush(parser, sink)


def _feed(parser: MastodonParser, obj: Any, sink: IngestSink, line: int | None, index: int | None) -> None:
    try:
        parser.feed(obj)
    except BadRecord as exc:
        where = "" if index is None else f"element {index}: "
        sink.quarantine(line=line, field=exc.field, reason=where + exc.reason, raw=truncate(orjson.dumps(obj)))


def _flush(parser: MastodonParser, sink: IngestSink) -> None:
    for name, (prim, other) in parser.drain().items():
        if prim is not None and prim.num_rows:
            sink.add(name, prim, primary=True)
        if other is not None and other.num_rows:
            sink.add(name, other, primary=False)


def sniff(head: bytes, name: str) -> float:
    """Sure for statuses (``account`` + ``reblog``/``favourites_count``), notifications, or an outbox."""
    h = head.lstrip()[:65536]
    if h[:1] not in (b"[", b"{"):
        return 0.0
    if b'"orderedItems"' in h and (b'"Announce"' in h or b'"Create"' in h):
        return 0.85
    if b'"account"' in h and (b'"reblogs_count"' in h or b'"favourites_count"' in h or b'"in_reply_to_id"' in h):
        return 0.9
    if b'"account"' in h and b'"type"' in h and (b'"favourite"' in h or b'"reblog"' in h):
        return 0.8
    return 0.0


def records_to_tables(objs: list[Any]) -> dict[str, pa.Table]:
    """Canonical tables from API objects (for the collector): every row, primary or not, per table."""
    p = MastodonParser()
    for o in objs:
        p.feed(o)
    return {k: pa.concat_tables([t for t in pair if t is not None]) for k, pair in p.drain().items()}


__all__ = ["MastodonParser", "read_mastodon", "sniff", "strip_html", "boost_id", "records_to_tables", "SourceError"]

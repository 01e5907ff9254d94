"""Twitter API v2 JSONL as written by twarc2.

Shaped for speed, because twarc2 collections run to hundreds of gigabytes: every line is parsed once with
orjson, each tweet is turned into one flat tuple (no dict of dicts), tuples are gathered for about 50,000 rows
and only then turned into Arrow columns, so the per-row Python work is a handful of dictionary lookups. Dates
are validated per row with :func:`datetime.datetime.fromisoformat` (a C call) and converted to timestamps by
Arrow for the whole batch. Values of unexpected types never crash a batch: the column is rebuilt value by
value and what cannot be a string or a number becomes null. With files of more than a few megabytes the
lines are parsed by a pool of worker processes (one per core) in chunks of whole lines, in order, so line
numbers in the quarantine and the order of rows are the same as a single-process run.

Three line shapes are accepted and may be mixed in one file:

* a response page: ``{"data": [tweets], "includes": {"users", "tweets", ...}, "errors", "meta", "__twarc"}``;
* a stream response: ``{"data": {tweet}, "includes": ..., "matching_rules": [...], "__twarc"}``;
* a flattened tweet (``twarc2 flatten``): the tweet itself with ``author`` and full ``referenced_tweets``.

The helpers at the bottom (line classification, JSON sniffing, the column batcher) are shared with
:mod:`echoscope.sources.twitter_v1` and :mod:`echoscope.sources.status`. The field mapping is documented in
``docs/sources-json.md``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import os
import pickle
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec
import orjson
import pyarrow as pa
from msgspec import Struct

from ..errors import SourceError
from .base import IngestSink, SourceFile

#: rows gathered before a batch is handed to the sink
BATCH_ROWS = 50_000
#: bytes of whole lines handed to one worker process at a time
CHUNK_BYTES = 4 << 20
#: a line longer than this is refused rather than held in memory (a whole JSON array on one line, ...)
MAX_LINE_BYTES = 256 << 20
#: below this many decompressed bytes (judged from the first chunk) no worker pool is started
PARALLEL_MIN_BYTES = 16 << 20

UTC = dt.UTC
TS = pa.timestamp("us", tz="UTC")
STR = pa.string()
I64 = pa.int64()
BOOL = pa.bool_()
LIST_STR = pa.list_(pa.string())

#: posts columns, in the order of the row tuples built below
POST_SPEC: tuple[tuple[str, pa.DataType], ...] = (
    ("post_id", STR), ("account_id", STR), ("created_at", TS), ("kind", STR), ("ref_post_id", STR),
    ("ref_account_id", STR), ("text", STR), ("lang", STR), ("client", STR), ("urls", LIST_STR),
    ("hashtags", LIST_STR), ("mentions", LIST_STR), ("like_count", I64), ("repost_count", I64),
    ("reply_count", I64), ("quote_count", I64),
)
#: accounts columns, in the order of the row tuples built below
ACCOUNT_SPEC: tuple[tuple[str, pa.DataType], ...] = (
    ("account_id", STR), ("handle", STR), ("display_name", STR), ("description", STR), ("location", STR),
    ("created_at", TS), ("followers_count", I64), ("following_count", I64), ("posts_count", I64),
    ("verified", BOOL), ("profile_image_url", STR), ("default_profile_image", BOOL), ("language", STR),
    ("observed_at", TS), ("time_zone", STR),
)

#: account_status columns, in the order of the row tuples built by the status reader
STATUS_SPEC: tuple[tuple[str, pa.DataType], ...] = (("account_id", STR), ("status", STR), ("checked_at", TS))

#: what a non-tweet twarc2 file is, recognised from its first record, and what reads it instead
NOT_TWEETS: dict[str, str] = {
    "users": "a twarc2 user page (from 'twarc2 users', 'followers', 'following', ...), not tweets; read it "
             "with 'echoscope status STUDY FILE --format twarc2-users' (account status) or "
             "ingest --format twarc2-users",
    "counts": "twarc2 tweet counts ('twarc2 counts'): numbers of tweets per time bucket, not tweets; "
              "echoscope has no reader for counts, ingest the tweets themselves ('twarc2 search')",
    "lists": "a twarc2 list page ('twarc2 lists ...'): Twitter lists, not tweets; echoscope does not read lists",
    "compliance": "twarc2 compliance events ('twarc2 compliance-job download'): delete/protect notices, not "
                  "tweets; echoscope does not read them (account status comes from 'twarc2 users' lookups, "
                  "--format twarc2-users)",
    "v1": "Twitter API v1.1 JSON (statuses with id_str/user), not twarc2; use --format twitter-v1",
}


# ============================================================================================ the reader
def read_twarc2(src: SourceFile, sink: IngestSink) -> None:
    """Read a twarc2 JSONL file (pages, stream responses or flattened tweets) into ``sink``.

    Tweets of ``data`` are the file's primary records (``posts``, counted); referenced tweets found in
    ``includes.tweets`` or embedded in flattened ``referenced_tweets`` are stored as non-primary posts; authors
    and other users in ``includes.users`` (or embedded ``author``) become non-primary ``accounts`` observed at
    ``__twarc.retrieved_at``. Bad lines and tweets missing ``id``, ``author_id`` or a valid ``created_at`` are
    quarantined; the run goes on.

    Parameters
    ----------
    src : SourceFile
        The input (plain, gzip or zip member; decompressed by ``src.open()``).
    sink : IngestSink
        Where batches and quarantined records go.

    Raises
    ------
    SourceError
        When the file is empty, is not JSON at all, or is another kind of twarc2 output (users, counts,
        lists, compliance events), with the format or command that reads it.
    """
    run_lines(src, sink, parse_twarc2_chunk, "twarc2")


def sniff(head: bytes, name: str) -> float:
    """How sure we are that ``head`` (the first decompressed bytes) starts a twarc2 tweet file (0..1).

    Non-tweet twarc2 output (counts, lists, compliance events) gets a low but positive score so that, when
    nothing else claims it, the twarc2 reader explains what the file is; user pages are left to
    ``twarc2-users``.
    """
    kind = classify_head(head)
    return {"twarc2": 0.95, "twarc2-flat": 0.9, "counts": 0.2, "lists": 0.2, "compliance": 0.2,
            "twarc2-users": 0.1}.get(kind or "", 0.0)


# ============================================================================================ typed decoding
# Only the fields echoscope maps are declared; msgspec skips the rest (context annotations, media, ...)
# without building Python objects for them, which is most of a twarc2 page. Ids are declared str | int
# because some tools write numeric ids; they are normalised to str below.
Id = str | int | None


class _Url(Struct):
    url: str | None = None
    expanded_url: str | None = None
    unwound_url: str | None = None


class _Tag(Struct):
    tag: str | None = None


class _UserMetrics(Struct):
    followers_count: int | None = None
    following_count: int | None = None
    tweet_count: int | None = None


class _User(Struct):
    id: Id = None
    username: str | None = None
    name: str | None = None
    description: str | None = None
    location: str | None = None
    created_at: str | None = None
    public_metrics: _UserMetrics | None = None
    verified: bool | None = None
    profile_image_url: str | None = None
    protected: bool | None = None


class _Mention(_User):
    start: int | None = None


class _Entities(Struct):
    urls: list[_Url] | None = None
    hashtags: list[_Tag] | None = None
    mentions: list[_Mention] | None = None


class _TweetMetrics(Struct):
    like_count: int | None = None
    retweet_count: int | None = None
    reply_count: int | None = None
    quote_count: int | None = None


class _Tweet(Struct):
    id: Id = None
    author_id: Id = None
    created_at: str | None = None
    text: str | None = None
    lang: str | None = None
    source: str | None = None
    in_reply_to_user_id: Id = None
    referenced_tweets: list[_Tweet] | None = None
    entities: _Entities | None = None
    public_metrics: _TweetMetrics | None = None
    type: str | None = None  # only in referenced_tweets entries
    author: _User | None = None  # flattened files
    in_reply_to_user: _User | None = None  # flattened files
    # keys that give away a data item that is not a tweet
    username: str | None = None
    tweet_count: int | None = None
    owner_id: Id = None


class _Includes(Struct):
    users: list[_User] | None = None
    tweets: list[_Tweet] | None = None


class _Twarc(Struct):
    retrieved_at: str | None = None


class _Line(_Tweet):
    """A page, a stream response or a flattened tweet: their keys do not collide."""

    data: list[_Tweet] | _Tweet | None = None
    includes: _Includes | None = None
    twarc: _Twarc | None = msgspec.field(name="__twarc", default=None)
    # presence flags, kept as unparsed bytes (empty when the key is absent)
    errors: msgspec.Raw = msgspec.Raw()
    meta: msgspec.Raw = msgspec.Raw()
    action: msgspec.Raw = msgspec.Raw()  # compliance event
    id_str: msgspec.Raw = msgspec.Raw()  # v1.1 status
    delete: msgspec.Raw = msgspec.Raw()  # v1.1 stream notice


_FLAGS = ("errors", "meta", "action", "id_str", "delete")
_PRESENT = msgspec.Raw(b"1")


_DECODER = msgspec.json.Decoder(_Line)


# ============================================================================================ one chunk
def parse_twarc2_chunk(lines: list[tuple[int, bytes]], last_lineno: int | None) -> ChunkResult:
    """Parse whole lines into row tuples (runs in a worker process for large files)."""
    out = ChunkResult()
    decode = _DECODER.decode
    for lineno, ln in lines:
        try:
            obj = decode(ln)
        except msgspec.ValidationError:
            _fallback(ln, lineno, out)
            continue
        except (msgspec.DecodeError, ValueError, RecursionError):  # ValueError: invalid UTF-8
            load_line(ln, lineno, last_lineno, out)  # quarantines with the reason (UTF-8, truncated, ...)
            continue
        out.seen_json = True
        _line(obj, ln, lineno, out)
    return out


def _line(obj: _Line, ln: Any, lineno: int, out: ChunkResult) -> None:
    data = obj.data
    if data is not None:
        if type(data) is list:
            other = _other_kind_of_item(data[0]) if data else None
            if other:
                out.other_kind(other, lineno, ln)
                return
            _page(obj, data, lineno, out)
        else:
            _page(obj, (data,), lineno, out)
        return
    if obj.author_id is not None or obj.text is not None:
        _flat(obj, lineno, out)
        return
    other = _other_kind_of_object(obj)
    if other:
        out.other_kind(other, lineno, ln)
        return
    if obj.errors or obj.meta:
        # a page whose every tweet failed, or an empty result page: nothing to read, nothing lost
        return
    out.bad(lineno, None, "not a twarc2 page, stream response or flattened tweet", ln)


def _fallback(ln: bytes, lineno: int, out: ChunkResult) -> None:
    """A line whose JSON is fine but some value has an unexpected type: convert it piece by piece, so that
    only the tweet (or user) holding the bad value is lost, and the quarantine says which value it was."""
    try:
        raw = orjson.loads(ln)
    except orjson.JSONDecodeError:
        load_line(ln, lineno, None, out)
        return
    out.seen_json = True
    if type(raw) is not dict:
        out.bad(lineno, None, "line is JSON but not an object; expected a twarc2 page or tweet", ln)
        return
    data = raw.get("data")
    items = data if type(data) is list else [data] if type(data) is dict else None
    if items is not None:
        page = _Line(twarc=_convert(raw.get("__twarc"), _Twarc, lineno, out, False))
        good: list[_Tweet] = []
        for it in items:
            t = _convert(it, _Tweet, lineno, out, True)
            if t is not None:
                good.append(t)
        inc = raw.get("includes")
        if type(inc) is dict:
            page.includes = _Includes(
                users=[u for u in (_convert(x, _User, lineno, out, False) for x in inc.get("users") or ())
                       if u is not None],
                tweets=[t for t in (_convert(x, _Tweet, lineno, out, False) for x in inc.get("tweets") or ())
                        if t is not None])
        page.data = good
        if good and _other_kind_of_item(good[0]):
            out.other_kind(_other_kind_of_item(good[0]) or "", lineno, ln)
            return
        _page(page, good, lineno, out)
        return
    flags = {k: _PRESENT for k in _FLAGS if k in raw}
    obj = _convert({k: v for k, v in raw.items() if k not in flags}, _Line, lineno, out, True)
    if obj is not None:
        for k, v in flags.items():
            setattr(obj, k, v)
        _line(obj, ln, lineno, out)


def _convert(value: Any, typ: Any, lineno: int, out: ChunkResult, primary: bool) -> Any:
    if value is None:
        return None
    try:
        return msgspec.convert(value, typ, strict=False)
    except msgspec.ValidationError as exc:
        what = "tweet" if typ in (_Tweet, _Line) else "user" if typ is _User else "value"
        out.bad(lineno, None, f"{what} has a value of an unexpected type ({exc}); it was left out", value,
                primary=primary)
        return None


def _observed(obj: _Line) -> str | None:
    tw = obj.twarc
    return iso_or_none(tw.retrieved_at) if tw is not None else None


def _page(obj: _Line, data: Iterable[Any], lineno: int, out: ChunkResult) -> None:
    observed = _observed(obj)
    inc = obj.includes
    itweets: list[_Tweet] = []
    users: list[_User] = []
    if inc is not None:
        itweets = inc.tweets or []
        users = inc.users or []
    authors = {t.id: t.author_id for t in itweets}
    handles = {u.username: u.id for u in users}
    out.seen(lineno)
    posts = out.posts
    for t in data:
        row = tweet_row(t, authors, lineno, out, True, handles)
        if row is not None:
            posts.append(row)
    refs = out.refs
    for t in itweets:
        if t.id not in refs:
            row = tweet_row(t, authors, lineno, out, False)
            if row is not None:
                refs[t.id] = row
    accounts = out.accounts
    for u in users:
        row = user_row_s(u, observed)
        if row is not None:
            accounts[(row[0], observed)] = row


def _flat(t: _Line, lineno: int, out: ChunkResult) -> None:
    observed = _observed(t)
    out.seen(lineno)
    authors: dict[Any, Any] = {}
    embedded: list[_Tweet] = []
    for r in t.referenced_tweets or ():
        if r.author_id is not None:
            authors[r.id] = r.author_id
            embedded.append(r)
    row = tweet_row(t, authors, lineno, out, True)
    if row is not None:
        out.posts.append(row)
    users: list[_User | None] = [t.author, t.in_reply_to_user]
    for r in embedded:
        if r.id not in out.refs:
            rrow = tweet_row(r, {}, lineno, out, False)
            if rrow is not None:
                out.refs[r.id] = rrow
        users.append(r.author)
    if t.entities is not None and t.entities.mentions:
        # flatten enriches mentions with the full user object (as includes.users holds them in pages)
        users.extend(m for m in t.entities.mentions if m.created_at is not None)
    accounts = out.accounts
    for u in users:
        if u is not None:
            urow = user_row_s(u, observed)
            if urow is not None:
                accounts[(urow[0], observed)] = urow


def tweet_row(t: _Tweet, authors: dict[Any, Any], lineno: int, out: ChunkResult,
              primary: bool, handles: dict[Any, Any] | None = None) -> tuple[Any, ...] | None:
    """One v2 tweet as a posts row tuple (``POST_SPEC`` order), or None when it was quarantined.

    ``authors`` maps referenced tweet ids to their authors; ``handles`` maps the page's usernames to ids
    (used when a retweeted tweet is missing from the page and only "RT @handle:" names its author).
    """
    tid = t.id
    aid = t.author_id
    created = t.created_at
    if tid is None or aid is None or not created:
        missing = "id" if tid is None else "author_id" if aid is None else "created_at"
        out.bad(lineno, missing, f"tweet {tid or '?'} has no '{missing}'; every tweet needs id, author_id and "
                "created_at (request them with tweet.fields / expansions=author_id)", _raw(t), primary=primary)
        return None
    if type(tid) is not str:
        tid = str(tid)
    if type(aid) is not str:
        aid = str(aid)
    try:
        created = iso(created)
    except ValueError:
        out.bad(lineno, "created_at", f"tweet {tid}: created_at {created!r} is not an ISO 8601 date "
                "(expected e.g. 2021-09-22T16:38:35.000Z)", _raw(t), primary=primary)
        return None
    kind = "original"
    ref_id = ref_acc = None
    refs = t.referenced_tweets
    if refs:
        chosen = None
        for r in refs:
            rt = r.type
            if rt == "retweeted":
                chosen, kind = r, "repost"
                break
            if rt == "quoted":
                chosen, kind = r, "quote"
            elif rt == "replied_to" and kind != "quote":
                chosen, kind = r, "reply"
        if chosen is not None:
            ref_id = chosen.id
            if ref_id is not None and type(ref_id) is not str:
                ref_id = str(ref_id)
            ref_acc = authors.get(ref_id) or chosen.author_id
    ent = t.entities
    urls: list[Any] = []
    tags: list[Any] = []
    ments: list[Any] = []
    if ent is not None:
        if ent.urls:
            urls = [u.expanded_url or u.unwound_url or u.url for u in ent.urls]
        if ent.hashtags:
            tags = [h.tag for h in ent.hashtags]
        ms = ent.mentions
        if ms:
            ments = [m.username for m in ms]
            if ref_acc is None and kind == "repost" and ms[0].start == 3 and (t.text or "").startswith("RT @"):
                # the retweeted tweet was deleted or withheld: "RT @x:" names its author as the first mention
                ref_acc = ms[0].id
                if ref_acc is None and handles:
                    ref_acc = handles.get(ms[0].username)
    if ref_acc is None and kind == "reply":
        ref_acc = t.in_reply_to_user_id
    if ref_acc is not None and type(ref_acc) is not str:
        ref_acc = str(ref_acc)
    pm = t.public_metrics
    if pm is not None:
        return (tid, aid, created, kind, ref_id, ref_acc, t.text, t.lang, t.source, urls, tags, ments,
                pm.like_count, pm.retweet_count, pm.reply_count, pm.quote_count)
    return (tid, aid, created, kind, ref_id, ref_acc, t.text, t.lang, t.source, urls, tags, ments,
            None, None, None, None)


def user_row_s(u: _User, observed: str | None) -> tuple[Any, ...] | None:
    """One v2 user (decoded) as an accounts row tuple (``ACCOUNT_SPEC`` order); None without an id."""
    uid = u.id
    if uid is None:
        return None
    if type(uid) is not str:
        uid = str(uid)
    pm = u.public_metrics
    img = u.profile_image_url
    created = u.created_at
    if created is not None:
        created = iso_or_none(created)
    default_img = None if img is None else "default_profile_images" in img
    if pm is not None:
        return (uid, u.username, u.name, u.description, u.location, created, pm.followers_count,
                pm.following_count, pm.tweet_count, u.verified, img, default_img, None, observed, None)
    return (uid, u.username, u.name, u.description, u.location, created, None, None, None, u.verified, img,
            default_img, None, observed, None)


def user_row(u: dict[str, Any], observed: str | None) -> tuple[Any, ...] | None:
    """One v2 user given as a dict (see :func:`user_row_s`); used by the user-lookup reader."""
    try:
        obj = msgspec.convert(u, _User, strict=False)
    except msgspec.ValidationError:
        return None
    return user_row_s(obj, observed)


def _raw(t: Any) -> str:
    try:
        return msgspec.json.encode(t).decode()
    except (TypeError, msgspec.EncodeError):  # pragma: no cover - decoded structs always encode
        return repr(t)


def _other_kind_of_item(first: _Tweet) -> str | None:
    """What a page whose ``data`` items are not tweets holds (None for tweets)."""
    if first.text is not None or first.author_id is not None:
        return None
    if first.username is not None:
        return "users"
    if first.tweet_count is not None:
        return "counts"
    if first.owner_id is not None:
        return "lists"
    return None


def _other_kind_of_object(obj: _Line) -> str | None:
    if obj.action and obj.id is not None:
        return "compliance"
    if obj.username is not None and obj.id is not None:
        return "users"
    if obj.id_str or obj.delete:
        return "v1"
    return None


# ============================================================================================ shared helpers
def iso(value: Any) -> str:
    """Validate an ISO 8601 time and return a string Arrow casts to a UTC timestamp.

    Twitter's own form (``2021-09-22T16:38:35.000Z``) is only validated and returned as is; other forms are
    parsed, converted to UTC (a time without offset is taken as UTC) and written back. Raises ValueError or
    TypeError for anything else.
    """
    d = dt.datetime.fromisoformat(value)
    if value[-1] == "Z" and len(value) <= 27:
        return value
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_or_none(value: Any) -> str | None:
    """:func:`iso`, or None when ``value`` is missing or not a valid time (for non-primary fields)."""
    if not value:
        return None
    try:
        return iso(value)
    except (ValueError, TypeError):
        return None


class ChunkResult:
    """What parsing a run of lines produced: row tuples per table and quarantined records.

    It is small and picklable so that worker processes can send it back; ``refs`` and ``accounts`` are
    dicts so that the many repeats of one referenced tweet or one author within a chunk are staged once.
    """

    __slots__ = ("accounts", "first_ok", "other", "posts", "quarantine", "refs", "seen_json", "status", "tables")

    def __init__(self) -> None:
        self.posts: list[tuple[Any, ...]] = []
        self.refs: dict[Any, tuple[Any, ...]] = {}
        self.accounts: dict[Any, tuple[Any, ...]] = {}
        self.status: list[tuple[Any, ...]] = []
        self.quarantine: list[tuple[int | None, str | None, str, str | None, bool]] = []
        self.first_ok: int | None = None  # line of the first record of the expected kind
        self.other: tuple[str, int] | None = None  # (kind, line) of the first record of another kind
        self.seen_json = False  # at least one line parsed as JSON
        self.tables: list[tuple[str, bool, pa.Table]] = []  # (table, primary, rows) once converted

    def to_arrow(self) -> None:
        """Turn the row tuples into Arrow tables (in the worker, so only Arrow buffers cross the pipe)."""
        if self.status:
            self.tables.append(("account_status", True, to_table(self.status, STATUS_SPEC)))
        if self.posts:
            self.tables.append(("posts", True, to_table(self.posts, POST_SPEC)))
        if self.refs:
            self.tables.append(("posts", False, to_table(list(self.refs.values()), POST_SPEC)))
        if self.accounts:
            self.tables.append(("accounts", False, to_table(list(self.accounts.values()), ACCOUNT_SPEC)))
        self.posts, self.refs, self.accounts, self.status = [], {}, {}, []

    def bad(self, line: int | None, field: str | None, reason: str, raw: Any, *, primary: bool = True) -> None:
        if not isinstance(raw, (str, bytes)) and raw is not None:
            try:
                raw = orjson.dumps(raw).decode()
            except (TypeError, orjson.JSONEncodeError):
                raw = repr(raw)
        if isinstance(raw, bytes):
            raw = raw[:8000].decode("utf-8", errors="replace")
        elif raw is not None and len(raw) > 8000:
            raw = raw[:8000]
        self.quarantine.append((line, field, reason, raw, primary))

    def seen(self, line: int) -> None:
        """A record of the expected kind was read on ``line``."""
        if self.first_ok is None:
            self.first_ok = line

    def other_kind(self, kind: str, line: int, raw: bytes) -> None:
        """A record of another kind (see ``NOT_TWEETS``): the whole file is refused when it comes first,
        otherwise the line is quarantined."""
        if self.other is None:
            self.other = (kind, line)
        self.bad(line, None, f"this line is {NOT_TWEETS.get(kind, kind)}", raw)


def load_line(ln: bytes, lineno: int, last_lineno: int | None, out: ChunkResult) -> Any:
    """Parse one line; on failure quarantine it with the reason (bad UTF-8, truncated, invalid) and return None."""
    try:
        obj = orjson.loads(ln)
    except orjson.JSONDecodeError as exc:
        try:
            ln.decode("utf-8")
        except UnicodeDecodeError as uexc:
            out.bad(lineno, None, f"line is not valid UTF-8 (byte 0x{ln[uexc.start]:02x} at offset {uexc.start}); "
                    "JSON must be UTF-8, re-encode the file (e.g. iconv -t UTF-8)", ln)
            return None
        msg = str(exc)
        if "unexpected end of data" in msg or "EOF" in msg:
            where = "the last line" if lineno == last_lineno else "the line"
            out.bad(lineno, None, f"truncated line: {where} ends before its JSON does ({msg}); the file was "
                    "probably cut off while being written", ln)
        else:
            out.bad(lineno, None, f"invalid JSON ({msg})", ln)
        return None
    out.seen_json = True
    return obj


# ------------------------------------------------------------------------------------------ the run
ChunkParser = Callable[[list[tuple[int, bytes]], "int | None"], ChunkResult]


def run_lines(src: SourceFile, sink: IngestSink, parser: ChunkParser, fmt: str,
              not_expected: dict[str, str] | None = None) -> None:
    """Stream ``src`` in blocks of whole lines through ``parser`` into ``sink``, in file order.

    ``parser`` turns a list of ``(line number, bytes)`` into a :class:`ChunkResult`; it must be a module-level
    function so that worker processes can import it. Files larger than ``PARALLEL_MIN_BYTES`` are parsed by
    one worker process per core (see :class:`_Workers`); ``ECHOSCOPE_READER_WORKERS=1`` forces one process.

    Raises
    ------
    SourceError
        For an empty file, a file whose first line is not JSON at all, and a file whose first record is of
        another kind (``not_expected`` maps the kind to what the file is and what reads it).
    """
    explain = NOT_TWEETS if not_expected is None else not_expected
    stager = Stager(sink)
    state = {"ok": False}

    def consume(res: ChunkResult) -> None:
        if res.other is not None and not state["ok"]:
            kind, line = res.other
            if res.first_ok is None or line < res.first_ok:
                raise SourceError(f"this is {explain.get(kind, kind)}", file=src.path, line=line)
        if res.first_ok is not None:
            state["ok"] = True
        stager.take(res)

    blocks = _blocks(src, sink)
    first = next(blocks, None)
    if first is None or not first[1].strip():
        raise SourceError("file is empty (no lines); nothing to ingest, remove it from the command line",
                          file=src.path)
    _check_first_line(first, src, fmt)
    second = next(blocks, None)
    size = os.path.getsize(src.local_path) if src.local_path and not src.compression else None
    nworkers = _workers()
    if second is None or nworkers <= 1 or (size is not None and size < PARALLEL_MIN_BYTES):
        consume(parse_block(parser, *first))
        if second is not None:
            consume(parse_block(parser, *second))
            for blk in blocks:
                consume(parse_block(parser, *blk))
    else:
        with _Workers(nworkers, parser) as pool:
            for res in pool.map(itertools.chain((first, second), blocks)):
                consume(res)
    stager.flush()


def _check_first_line(block: tuple[int, bytes, bool], src: SourceFile, fmt: str) -> None:
    lineno, data, _ = block
    for ln in data.split(b"\n", 64):
        if ln.strip():
            head = ln.lstrip()
            if head[:1] not in (b"{", b"["):
                raise SourceError(f"line {lineno} is not JSON (starts with {head[:20]!r}); this reader takes "
                                  f"{fmt} JSON lines; see docs/sources-json.md, or name another --format",
                                  file=src.path, line=lineno)
            return
        lineno += 1


def parse_block(parser: ChunkParser, first_lineno: int, block: bytes, is_last: bool) -> ChunkResult:
    """Split a block of whole lines (numbered from ``first_lineno``) and parse it with ``parser``.

    The cyclic garbage collector is paused meanwhile: parsing makes hundreds of thousands of containers and
    no cycles, and the collections it would trigger cost about a third of the time.
    """
    lines = []
    n = first_lineno
    for ln in block.split(b"\n"):
        if ln.strip():
            lines.append((n, ln))
        n += 1
    last = (lines[-1][0] if lines else None) if is_last else None
    was = gc.isenabled()
    gc.disable()
    try:
        res = parser(lines, last)
        res.to_arrow()
        return res
    finally:
        if was:
            gc.enable()


def _blocks(src: SourceFile, sink: IngestSink) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(first line number, block of whole lines, is last block)`` of about ``CHUNK_BYTES`` each."""
    lineno = 1
    rest = b""
    pending: tuple[int, bytes] | None = None
    with src.open() as fh:
        while True:
            buf = fh.read(CHUNK_BYTES)
            if not buf:
                break
            sink.progress(len(buf))
            buf = rest + buf
            cut = buf.rfind(b"\n")
            if cut < 0:
                rest = buf
                if len(rest) > MAX_LINE_BYTES:
                    raise SourceError(f"line {lineno} is longer than {MAX_LINE_BYTES >> 20} MB; echoscope reads "
                                      "JSON lines (one record per line): split the file, e.g. with "
                                      "jq -c '.[]' for a JSON array", file=src.path, line=lineno)
                continue
            block, rest = buf[:cut + 1], buf[cut + 1:]
            if pending is not None:
                yield pending[0], pending[1], False
            pending = (lineno, block)
            lineno += block.count(b"\n")
    if rest:
        if pending is not None:
            yield pending[0], pending[1], False
        yield lineno, rest, True
    elif pending is not None:
        yield pending[0], pending[1], True


def _workers() -> int:
    env = os.environ.get("ECHOSCOPE_READER_WORKERS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            return 1
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(n, 4)


#: what a worker process runs: read (parser module, parser name) once, then blocks until EOF
_WORKER_MAIN = """
import pickle, sys
sys.path[:0] = pickle.load(sys.stdin.buffer)
from echoscope.sources.twarc2 import worker_loop
worker_loop(sys.stdin.buffer, sys.stdout.buffer)
"""


def worker_loop(fin: Any, fout: Any) -> None:
    """Body of a worker process: parse the blocks read from ``fin``, write each result to ``fout``."""
    import importlib

    mod, name = pickle.load(fin)
    parser = getattr(importlib.import_module(mod), name)
    while True:
        try:
            job = pickle.load(fin)
        except EOFError:
            return
        pickle.dump(parse_block(parser, *job), fout, protocol=pickle.HIGHEST_PROTOCOL)
        fout.flush()


class _Workers:
    """A few ``python -c`` worker processes fed over pipes, one block in flight each, results in order.

    Plain subprocesses rather than :mod:`multiprocessing`: ``fork`` is unsafe in a process that already runs
    DuckDB or Arrow threads, and ``spawn``/``forkserver`` re-import the caller's ``__main__``, which breaks
    scripts and notebooks that call ``study.ingest`` without an ``if __name__ == "__main__"`` guard. A worker
    whose parent dies sees end-of-file on its input and exits.
    """

    def __init__(self, n: int, parser: ChunkParser) -> None:
        self.n = n
        self.parser = (parser.__module__, parser.__name__)
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> _Workers:
        for _ in range(self.n):
            p = subprocess.Popen([sys.executable, "-c", _WORKER_MAIN], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
            self.procs.append(p)
            assert p.stdin is not None
            pickle.dump(list(sys.path), p.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(self.parser, p.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            p.stdin.flush()
        return self

    def map(self, blocks: Iterable[tuple[int, bytes, bool]]) -> Iterator[ChunkResult]:
        """Parse ``blocks`` round-robin; yield results in the order of ``blocks``."""
        busy: list[subprocess.Popen[bytes]] = []
        it = iter(blocks)
        for p in self.procs:
            blk = next(it, None)
            if blk is None:
                break
            self._send(p, blk)
            busy.append(p)
        while busy:
            p = busy.pop(0)
            res = self._recv(p)
            blk = next(it, None)
            if blk is not None:
                self._send(p, blk)
                busy.append(p)
            yield res

    def _send(self, p: subprocess.Popen[bytes], blk: tuple[int, bytes, bool]) -> None:
        assert p.stdin is not None
        try:
            pickle.dump(blk, p.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            p.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise self._died(p) from exc

    def _recv(self, p: subprocess.Popen[bytes]) -> ChunkResult:
        try:
            res = pickle.load(p.stdout)  # type: ignore[arg-type]
        except (EOFError, pickle.UnpicklingError, OSError) as exc:
            raise self._died(p) from exc
        return res  # type: ignore[no-any-return]

    def _died(self, p: subprocess.Popen[bytes]) -> SourceError:
        code = p.poll()
        return SourceError(f"a reader worker process stopped (exit code {code}); set ECHOSCOPE_READER_WORKERS=1 "
                           "to read in one process and see the underlying error")

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            # results may be left unread (a worker blocked writing one would never exit): stop them now
            for p in self.procs:
                with contextlib.suppress(OSError):
                    p.kill()
        for p in self.procs:
            with contextlib.suppress(OSError):
                p.stdin.close()  # type: ignore[union-attr]
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            with contextlib.suppress(OSError):
                p.stdout.close()  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------ staging
class Stager:
    """Gathers the Arrow tables of parsed chunks and hands them to the sink every ``BATCH_ROWS`` rows.

    Primary rows, referenced posts and accounts are staged separately (``primary`` differs); repeats of one
    referenced tweet or author across chunks are left to the commit, which keeps one row per key.
    """

    def __init__(self, sink: IngestSink) -> None:
        self.sink = sink
        self.pending: dict[tuple[str, bool], list[pa.Table]] = {}
        self.rows = 0
        self.quarantined = 0

    def take(self, res: ChunkResult) -> None:
        for line, field, reason, raw, primary in res.quarantine:
            self.sink.quarantine(line=line, field=field, reason=reason, raw=raw, primary=primary)
            self.quarantined += primary
        for table, primary, t in res.tables:
            self.pending.setdefault((table, primary), []).append(t)
            self.rows += t.num_rows
        if self.rows >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        # primary batches first: within a file, a tweet seen in data wins over its copy in includes
        for (table, primary), parts in sorted(self.pending.items(), key=lambda kv: not kv[0][1]):
            self.sink.add(table, pa.concat_tables(parts) if len(parts) > 1 else parts[0], primary=primary)
        self.pending = {}
        self.rows = 0


def to_table(rows: list[tuple[Any, ...]], spec: tuple[tuple[str, pa.DataType], ...]) -> pa.Table:
    """Row tuples -> an Arrow table with ``spec``'s columns; values of a wrong type become null."""
    cols = list(zip(*rows))
    arrays = []
    for (name, typ), col in zip(spec, cols):
        arrays.append(_column(col, typ))
    return pa.Table.from_arrays(arrays, names=[n for n, _ in spec])


def _column(col: tuple[Any, ...], typ: pa.DataType) -> pa.Array:
    build = STR if typ == TS else typ
    try:
        arr = pa.array(col, type=build)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        arr = pa.array([_coerce(v, build) for v in col], type=build)
    if typ == TS:
        try:
            arr = arr.cast(TS)
        except (pa.ArrowInvalid, ValueError):
            arr = pa.array([_ts(v) for v in arr.to_pylist()], type=TS)
    return arr


def _ts(v: str | None) -> dt.datetime | None:
    if v is None:
        return None
    try:
        d = dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _coerce(v: Any, typ: pa.DataType) -> Any:
    """A value Arrow accepts for ``typ``, or None (the slow path after a batch failed to convert)."""
    if v is None:
        return None
    if typ == STR:
        if isinstance(v, str):
            return v
        if isinstance(v, (int, float, bool)):
            return str(v)
        return None
    if typ == I64:
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, int):
            return v if -(1 << 63) <= v < (1 << 63) else None
        if isinstance(v, str):
            try:
                return int(v)
            except ValueError:
                return None
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return None
    if typ == BOOL:
        return v if isinstance(v, bool) else None
    if typ == LIST_STR:
        if not isinstance(v, list):
            return None
        return [x if isinstance(x, str) else None for x in v]
    return None


# ------------------------------------------------------------------------------------------ sniffing
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]')


def first_line(head: bytes) -> bytes:
    """The first line of ``head`` with content (a lone ``[`` opening a JSON array is skipped)."""
    for ln in head.split(b"\n"):
        ln = ln.strip()
        if ln and ln != b"[":
            return ln
    return b""


def first_object(head: bytes) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The first JSON object of ``head`` and the first item of its ``data`` list, as far as they parse.

    A twarc2 page is often longer than the 64 KiB head, so when the first line does not parse whole, the
    first element of ``data`` is cut out by matching brackets (strings skipped) and parsed alone; the
    top-level object is then returned with only the keys seen before the cut.
    """
    ln = first_line(head)
    if ln.startswith(b"["):
        ln = ln[1:].lstrip()
    if not ln.startswith(b"{"):
        return None, None
    try:
        obj = orjson.loads(ln.rstrip(b","))
    except orjson.JSONDecodeError:
        obj = None
    if type(obj) is dict:
        data = obj.get("data")
        if type(data) is list:
            return obj, data[0] if data and type(data[0]) is dict else None
        if type(data) is dict:
            return obj, data
        return obj, None
    # partial: collect top-level keys and cut out data[0]
    keys: dict[str, Any] = {}
    depth = 0
    data_start = -1
    item: dict[str, Any] | None = None
    item_start: int | None = None
    last_key = None
    for m in _TOKEN.finditer(ln):
        tok = m.group()
        c = tok[:1]
        if c == b'"':
            if depth == 1:
                # at depth 1 a string followed by ':' is a key
                rest = ln[m.end():m.end() + 4].lstrip()
                if rest.startswith(b":"):
                    last_key = tok[1:-1].decode("utf-8", "replace")
                    keys[last_key] = True
            continue
        if c in (b"{", b"["):
            depth += 1
            if depth == 2 and last_key == "data" and data_start < 0:
                data_start = m.start()
                if c == b"{":  # data is a single tweet object
                    item_start = m.start()
            elif depth == 3 and data_start >= 0 and item_start is None and c == b"{":
                item_start = m.start()
        else:
            depth -= 1
            if item_start is not None and item is None and (
                    (depth == 2 and ln[data_start:data_start + 1] == b"[")
                    or (depth == 1 and ln[data_start:data_start + 1] == b"{")):
                try:
                    got = orjson.loads(ln[item_start:m.end()])
                    item = got if type(got) is dict else None
                except orjson.JSONDecodeError:
                    item = None
                break
    return keys, item


def classify_head(head: bytes) -> str | None:
    """Name what the first record of ``head`` is: twarc2, twarc2-flat, twarc2-users, counts, lists,
    compliance, v1, v1-notice or None."""
    obj, item = first_object(head)
    if obj is None:
        return None
    if "data" in obj or "includes" in obj:
        if item is not None:
            if "text" in item or "author_id" in item:
                return "twarc2"
            if "username" in item:
                return "twarc2-users"
            if "tweet_count" in item:
                return "counts"
            if "owner_id" in item or "member_count" in item:
                return "lists"
            return None
        if "__twarc" in obj or "meta" in obj:
            return "twarc2"
        return None
    errors = obj.get("errors")
    if type(errors) is list and errors and type(errors[0]) is dict:
        # a lookup page in which every account failed
        return "twarc2-users" if errors[0].get("resource_type") == "user" else None
    if "id_str" in obj and ("user" in obj or "retweeted_status" in obj or "text" in obj or "full_text" in obj):
        return "v1"
    if len(obj) <= 2 and any(k in obj for k in ("delete", "limit", "scrub_geo", "status_withheld",
                                                   "user_withheld", "disconnect", "warning")):
        return "v1-notice"
    if "author_id" in obj and "id" in obj:
        return "twarc2-flat"
    if "username" in obj and "id" in obj and "text" not in obj:
        return "twarc2-users"
    if "action" in obj and "id" in obj:
        return "compliance"
    return None

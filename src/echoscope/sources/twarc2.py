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

import orjson
import pyarrow as pa

from ..errors import SourceError
from .base import IngestSink, SourceFile

#: rows gathered before a batch is handed to the sink
BATCH_ROWS = 50_000
#: bytes of whole lines handed to one worker process at a time
CHUNK_BYTES = 4 << 20
#: below this many decompressed bytes (judged from the first chunk) no worker pool is started
PARALLEL_MIN_BYTES = 16 << 20

UTC = dt.timezone.utc
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
    ("observed_at", TS),
)

#: account_status columns, in the order of the row tuples built by the status reader
STATUS_SPEC: tuple[tuple[str, pa.DataType], ...] = (("account_id", STR), ("status", STR), ("checked_at", TS))

#: v2 referenced_tweets type -> post kind, in order of precedence when a tweet carries several
REF_KINDS: tuple[tuple[str, str], ...] = (("retweeted", "repost"), ("quoted", "quote"), ("replied_to", "reply"))

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
            "twarc2-users": 0.1}.get(kind, 0.0)


# ============================================================================================ one chunk
def parse_twarc2_chunk(lines: list[tuple[int, bytes]], last_lineno: int | None) -> ChunkResult:
    """Parse whole lines into row tuples (runs in a worker process for large files)."""
    out = ChunkResult()
    for lineno, ln in lines:
        obj = load_line(ln, lineno, last_lineno, out)
        if obj is None:
            continue
        if type(obj) is not dict:
            out.bad(lineno, None, "line is JSON but not an object; expected a twarc2 page or tweet", ln)
            continue
        data = obj.get("data")
        if data is not None:
            if type(data) is list:
                other = _other_kind_of_items(data) if data else None
                if other:
                    out.other_kind(other, lineno, ln)
                    continue
                _page(obj, data, lineno, out)
            elif type(data) is dict:
                _page(obj, (data,), lineno, out)
            else:
                out.bad(lineno, "data", "'data' is neither a list of tweets nor a tweet object", ln)
            continue
        if "author_id" in obj or "text" in obj:
            _flat(obj, lineno, out)
            continue
        other = _other_kind_of_object(obj)
        if other:
            out.other_kind(other, lineno, ln)
            continue
        if "errors" in obj or "meta" in obj:
            # a page whose every tweet failed, or an empty result page: nothing to read, nothing lost
            continue
        out.bad(lineno, None, "not a twarc2 page, stream response or flattened tweet "
                f"(top-level keys: {', '.join(list(obj)[:8])})", ln)
    return out


def _observed(obj: dict[str, Any]) -> str | None:
    tw = obj.get("__twarc")
    if type(tw) is dict:
        return iso_or_none(tw.get("retrieved_at"))
    return None


def _page(obj: dict[str, Any], data: Iterable[Any], lineno: int, out: ChunkResult) -> None:
    observed = _observed(obj)
    inc = obj.get("includes")
    itweets: Any = ()
    users: Any = ()
    if type(inc) is dict:
        itweets = inc.get("tweets") or ()
        users = inc.get("users") or ()
    authors = {t["id"]: t.get("author_id") for t in itweets if type(t) is dict and type(t.get("id")) is str}
    out.seen(lineno)
    posts = out.posts
    for t in data:
        if type(t) is not dict:
            out.bad(lineno, None, "tweet in 'data' is not an object", t)
            continue
        try:
            row = tweet_row(t, authors, lineno, out, primary=True)
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            out.bad(lineno, None, f"malformed tweet object ({type(exc).__name__}: {exc})", t)
            continue
        if row is not None:
            posts.append(row)
    refs = out.refs
    for t in itweets:
        if type(t) is dict and type(t.get("id")) is str and t["id"] not in refs:
            try:
                row = tweet_row(t, authors, lineno, out, primary=False)
            except (AttributeError, TypeError, KeyError, IndexError) as exc:
                out.bad(lineno, None, f"malformed referenced tweet in includes ({type(exc).__name__}: {exc})",
                        t, primary=False)
                continue
            if row is not None:
                refs[row[0]] = row
    accounts = out.accounts
    for u in users:
        if type(u) is dict:
            row = user_row(u, observed)
            if row is not None:
                accounts[(row[0], observed)] = row


def _flat(t: dict[str, Any], lineno: int, out: ChunkResult) -> None:
    observed = _observed(t)
    out.seen(lineno)
    authors: dict[Any, Any] = {}
    embedded: list[dict[str, Any]] = []
    refs = t.get("referenced_tweets")
    if type(refs) is list:
        for r in refs:
            if type(r) is dict and "author_id" in r and type(r.get("id")) is str:
                authors[r["id"]] = r.get("author_id")
                embedded.append(r)
    try:
        row = tweet_row(t, authors, lineno, out, primary=True)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        out.bad(lineno, None, f"malformed flattened tweet ({type(exc).__name__}: {exc})", t)
        return
    if row is not None:
        out.posts.append(row)
    users: list[Any] = [t.get("author"), t.get("in_reply_to_user")]
    for r in embedded:
        if r["id"] not in out.refs:
            try:
                rrow = tweet_row(r, {}, lineno, out, primary=False)
            except (AttributeError, TypeError, KeyError, IndexError) as exc:
                out.bad(lineno, None, f"malformed embedded referenced tweet ({type(exc).__name__}: {exc})",
                        r, primary=False)
                rrow = None
            if rrow is not None:
                out.refs[rrow[0]] = rrow
        users.append(r.get("author"))
    ent = t.get("entities")
    if type(ent) is dict and type(ent.get("mentions")) is list:
        # flatten enriches mentions with the full user object (as includes.users holds them in pages)
        users.extend(m for m in ent["mentions"] if type(m) is dict and "created_at" in m)
    accounts = out.accounts
    for u in users:
        if type(u) is dict:
            urow = user_row(u, observed)
            if urow is not None:
                accounts[(urow[0], observed)] = urow


def tweet_row(t: dict[str, Any], authors: dict[Any, Any], lineno: int, out: ChunkResult, *,
              primary: bool) -> tuple[Any, ...] | None:
    """One v2 tweet as a posts row tuple (``POST_SPEC`` order), or None when it was quarantined."""
    tid = t.get("id")
    aid = t.get("author_id")
    created = t.get("created_at")
    if not tid or not aid or not created:
        missing = "id" if not tid else "author_id" if not aid else "created_at"
        out.bad(lineno, missing, f"tweet {tid or '?'} has no '{missing}'; every tweet needs id, author_id and "
                "created_at (request them with tweet.fields / expansions=author_id)", t, primary=primary)
        return None
    if type(tid) is not str:
        tid = str(tid)
    if type(aid) is not str:
        aid = str(aid)
    try:
        created = iso(created)
    except (ValueError, TypeError):
        out.bad(lineno, "created_at", f"tweet {tid}: created_at {created!r} is not an ISO 8601 date "
                "(expected e.g. 2021-09-22T16:38:35.000Z)", t, primary=primary)
        return None
    kind = "original"
    ref_id = ref_acc = None
    refs = t.get("referenced_tweets")
    if refs:
        types = {r.get("type"): r for r in refs}
        for rtype, k in REF_KINDS:
            r = types.get(rtype)
            if r is not None:
                kind = k
                ref_id = r.get("id")
                if ref_id is not None and type(ref_id) is not str:
                    ref_id = str(ref_id)
                ref_acc = authors.get(ref_id) or r.get("author_id")
                break
    ent = t.get("entities")
    urls: list[Any] = []
    tags: list[Any] = []
    ments: list[Any] = []
    if ent:
        for u in ent.get("urls") or ():
            urls.append(u.get("expanded_url") or u.get("unwound_url") or u.get("url"))
        for h in ent.get("hashtags") or ():
            tags.append(h.get("tag"))
        ms = ent.get("mentions")
        if ms:
            for m in ms:
                ments.append(m.get("username"))
            if ref_acc is None and kind == "repost":
                # the referenced tweet was deleted or withheld; "RT @x:" names its author as the first mention
                m0 = ms[0]
                if m0.get("start") == 3 and str(t.get("text", "")).startswith("RT @"):
                    ref_acc = m0.get("id")
    if ref_acc is None and kind == "reply":
        ref_acc = t.get("in_reply_to_user_id")
    pm = t.get("public_metrics")
    if pm:
        counts = (pm.get("like_count"), pm.get("retweet_count"), pm.get("reply_count"), pm.get("quote_count"))
    else:
        counts = (None, None, None, None)
    return (tid, aid, created, kind, ref_id, ref_acc, t.get("text"), t.get("lang"), t.get("source"),
            urls, tags, ments) + counts


def user_row(u: dict[str, Any], observed: str | None) -> tuple[Any, ...] | None:
    """One v2 user object as an accounts row tuple (``ACCOUNT_SPEC`` order); None without an id."""
    uid = u.get("id")
    if not uid:
        return None
    if type(uid) is not str:
        uid = str(uid)
    pm = u.get("public_metrics")
    if type(pm) is not dict:
        pm = {}
    img = u.get("profile_image_url")
    return (uid, u.get("username"), u.get("name"), u.get("description"), u.get("location"),
            iso_or_none(u.get("created_at")), pm.get("followers_count"), pm.get("following_count"),
            pm.get("tweet_count"), u.get("verified"), img,
            ("default_profile_images" in img) if type(img) is str else None, None, observed)


def _other_kind_of_items(items: list[Any]) -> str | None:
    """What a page whose ``data`` items are not tweets holds (None for tweets)."""
    first = items[0]
    if type(first) is not dict:
        return None
    if "text" in first or "author_id" in first:
        return None
    if "username" in first:
        return "users"
    if "tweet_count" in first and "start" in first:
        return "counts"
    if "owner_id" in first or "member_count" in first:
        return "lists"
    return None


def _other_kind_of_object(obj: dict[str, Any]) -> str | None:
    if "action" in obj and "id" in obj and "text" not in obj:
        return "compliance"
    if "username" in obj and "id" in obj:
        return "users"
    if "id_str" in obj or "delete" in obj:
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

    __slots__ = ("posts", "refs", "accounts", "status", "quarantine", "first_ok", "other", "seen_json", "tables")

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
    if block.endswith(b"\n"):
        n -= 1
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
            pickle.dump(list(sys.path), p.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump(self.parser, p.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            p.stdin.flush()  # type: ignore[union-attr]
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
        try:
            pickle.dump(blk, p.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            p.stdin.flush()  # type: ignore[union-attr]
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

    def __exit__(self, *exc: Any) -> None:
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
    for ln in head.split(b"\n"):
        if ln.strip():
            return ln.strip()
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
    data_start: int | None = None
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
            if depth == 2 and last_key == "data" and data_start is None:
                data_start = m.start()
                if c == b"{":  # data is a single tweet object
                    item_start = m.start()
            elif depth == 3 and data_start is not None and item_start is None and c == b"{":
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
        errors = obj.get("errors") if type(obj.get("errors")) is list else None
        if errors and type(errors[0]) is dict and errors[0].get("resource_type") == "user" and "data" not in obj:
            return "twarc2-users"
        if "__twarc" in obj or "meta" in obj:
            return "twarc2"
        return None
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

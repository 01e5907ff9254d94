"""The JSON-lines machinery every line-oriented JSON reader shares: blocks of whole lines, a pool of worker
processes, per-line error handling, row tuples to Arrow, staging.

Why the module is shaped so: twarc2 and v1.1 collections run to hundreds of gigabytes, so a reader's own code
is only a *chunk parser* -- a module-level function that turns a list of ``(line number, bytes)`` into a
:class:`ChunkResult` of row tuples -- and :func:`run_lines` does the rest, the same way for every format:

* the file is read in blocks of whole lines of about :data:`CHUNK_BYTES` (a line longer than
  :data:`MAX_LINE_BYTES` refuses the file: a whole JSON array on one line);
* files above :data:`PARALLEL_MIN_BYTES` are parsed by one worker process per core (up to 4), results taken in
  file order, so tables and quarantine line numbers are those of a single-process run;
* every chunk turns its row tuples into Arrow tables in the worker (:meth:`ChunkResult.to_arrow`; values of a
  wrong type become null), so only Arrow buffers cross the pipe, and :class:`Stager` hands them to the sink
  every :data:`BATCH_ROWS` rows;
* a line that is not JSON is quarantined with the reason in words (:func:`json_problem`: not UTF-8, cut
  off, or invalid) and the run goes on; a first line that is not JSON at all, or a first record of another
  kind, refuses the file with one line.

Readers that parse event by event (Bluesky Jetstream, Mastodon) use :func:`iter_lines` -- the same block
reading, one line at a time -- and :func:`json_problem` for their bad lines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
import pyarrow as pa

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
    ("reply_count", I64), ("quote_count", I64), ("media_hashes", LIST_STR),
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


# ============================================================================================ values
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
    ``explain`` maps a kind of record the reader does not read (see :meth:`other_kind`) to what it is and
    what reads it instead.
    """

    __slots__ = ("accounts", "explain", "first_ok", "other", "posts", "quarantine", "refs", "status", "tables")

    def __init__(self, explain: Mapping[str, str] | None = None) -> None:
        self.explain: Mapping[str, str] = explain or {}
        self.posts: list[tuple[Any, ...]] = []
        self.refs: dict[Any, tuple[Any, ...]] = {}
        self.accounts: dict[Any, tuple[Any, ...]] = {}
        self.status: list[tuple[Any, ...]] = []
        self.quarantine: list[tuple[int | None, str | None, str, str | None, bool]] = []
        self.first_ok: int | None = None  # line of the first record of the expected kind
        self.other: tuple[str, int] | None = None  # (kind, line) of the first record of another kind
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
        """A record of another kind (see ``explain``): the whole file is refused when it comes first,
        otherwise the line is quarantined."""
        if self.other is None:
            self.other = (kind, line)
        self.bad(line, None, f"this line is {self.explain.get(kind, kind)}", raw)


def json_problem(ln: bytes | str, error: Exception, *, last: bool = False) -> str:
    """Why a line did not parse as JSON, in words: not UTF-8 (which byte, where), cut off, or invalid.

    ``error`` is the decoder's exception; ``last`` says the line is the file's last (a collection killed while
    it was written leaves exactly that line cut off).
    """
    if isinstance(ln, bytes):
        try:
            ln.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return (f"line is not valid UTF-8 (byte 0x{ln[uexc.start]:02x} at offset {uexc.start}); JSON must be "
                    "UTF-8, re-encode the file (e.g. iconv -t UTF-8)")
    msg = str(error)
    if "unexpected end of data" in msg or "EOF" in msg:
        where = "the last line" if last else "the line"
        return f"truncated line: {where} ends before its JSON does ({msg}); the file was probably cut off while " \
               "being written"
    return f"invalid JSON ({msg})"


def load_line(ln: bytes, lineno: int, last_lineno: int | None, out: ChunkResult) -> Any:
    """Parse one line; on failure quarantine it with the reason (:func:`json_problem`) and return None."""
    try:
        obj = orjson.loads(ln)
    except orjson.JSONDecodeError as exc:
        out.bad(lineno, None, json_problem(ln, exc, last=lineno == last_lineno), ln)
        return None
    return obj


# ------------------------------------------------------------------------------------------ the run
ChunkParser = Callable[[list[tuple[int, bytes]], "int | None"], ChunkResult]


def run_lines(src: SourceFile, sink: IngestSink, parser: ChunkParser, fmt: str,
              not_expected: Mapping[str, str]) -> None:
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
    stager = Stager(sink)
    state = {"ok": False}

    def consume(res: ChunkResult) -> None:
        if res.other is not None and not state["ok"]:
            kind, line = res.other
            if res.first_ok is None or line < res.first_ok:
                raise SourceError(f"this is {not_expected.get(kind, kind)}", file=src.path, line=line)
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


def _blocks(src: SourceFile, sink: IngestSink | None) -> Iterator[tuple[int, bytes, bool]]:
    """Yield ``(first line number, block of whole lines, is last block)`` of about ``CHUNK_BYTES`` each."""
    lineno = 1
    rest = b""
    pending: tuple[int, bytes] | None = None
    with src.open() as fh:
        while True:
            buf = fh.read(CHUNK_BYTES)
            if not buf:
                break
            if sink is not None:
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


def iter_lines(src: SourceFile, sink: IngestSink | None = None) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line number, bytes)`` for each non-empty line, read in the blocks :func:`run_lines` uses.

    For readers that parse event by event; line numbers are 1-based and count every line (blank ones too),
    so they match what an editor shows.
    """
    for first, block, _ in _blocks(src, sink):
        n = first
        for ln in block.split(b"\n"):
            if ln.strip():
                yield n, ln
            n += 1


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
from echoscope.sources.jsonl import worker_loop
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
    for (_, typ), col in zip(spec, cols):
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


__all__ = [
    "ACCOUNT_SPEC",
    "POST_SPEC",
    "STATUS_SPEC",
    "ChunkParser",
    "ChunkResult",
    "Stager",
    "iso",
    "iso_or_none",
    "iter_lines",
    "json_problem",
    "load_line",
    "parse_block",
    "run_lines",
    "to_table",
    "worker_loop",
]

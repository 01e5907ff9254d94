"""Run a :class:`~echoscope.sources.tabular_plan.Plan` over a CSV or Parquet file with DuckDB.

Why the module is shaped so:

* **Everything heavy runs in DuckDB.** The file is read with ``read_csv``/``read_parquet`` and converted by
  the plan's SQL; Python only sees Arrow record batches on their way to the sink, fetched by a second thread
  so that DuckDB parses the next batch while this one is staged.
* **Bad rows never stop the run.** DuckDB's reject store catches rows it cannot split (wrong column count,
  invalid UTF-8, unterminated quotes); the plan's checks catch rows whose required values do not convert.
  Both go to quarantine with the *physical* line number an editor shows (header = line 1). DuckDB numbers
  neither good rows nor quoted newlines, so the engine counts good rows in file order and, only when
  something was quarantined, maps those counts to lines with one vectorised pass over the bytes
  (:func:`_locate_lines`). Bad rows spill to Parquet beyond :data:`SPILL_ROWS`, so memory stays bounded.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import struct
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import SourceError
from . import values as V
from .base import MAX_RAW, IngestSink, SourceFile
from .tabular_plan import Extra, Plan

#: rows per Arrow batch handed to the sink (one staged Parquet file each)
BATCH_ROWS = 250_000
#: bad rows kept in memory before they are spilled to a temporary Parquet file
SPILL_ROWS = 50_000
#: longest CSV record DuckDB accepts (bytes); longer ones are quarantined
MAX_LINE_SIZE = 8 << 20

REJECT_HINTS: dict[str, str] = {
    "MISSING COLUMNS": "row is shorter than the header (a truncated or short row)",
    "TOO MANY COLUMNS": "row has more fields than the header (an unquoted delimiter in a value?)",
    "INVALID ENCODING": ("bytes that are not UTF-8; if the file is Latin-1 give encoding 'latin-1' "
                         "(--encoding latin-1) or convert it with 'iconv -f latin1 -t utf-8'"),
    "UNQUOTED VALUE": ("a quote is never closed (a truncated file?); the rest of the file was read as this "
                       "one value"),
    "LINE SIZE OVER MAXIMUM": f"record longer than {MAX_LINE_SIZE >> 20} MiB (a quote never closed?)",
    "CAST": "value could not be converted",
}



def local_path(src: SourceFile) -> tuple[str, str]:
    """A path DuckDB can read and its compression (``gzip`` or ``none``)."""
    if src.local_path is not None and src.compression in (None, "gzip"):
        return src.local_path, "gzip" if src.compression == "gzip" else "none"
    if src.materialise is None:
        raise SourceError("input cannot be read from a path (no local copy available)", file=src.path)
    return src.materialise(), "none"


def csv_source_sql(path: str, ncols: int, *, delim: str, compression: str, encoding: str | None,
                   rejects: str) -> str:
    cols = "{" + ", ".join(f"'_s{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    enc = (encoding or "utf-8").lower().replace("_", "-")
    if enc in ("latin1", "iso-8859-1"):
        enc = "latin-1"
    return (f"read_csv({V.lit(path)}, columns={cols}, header=true, auto_detect=false, delim={V.lit(delim)}, "
            f"quote='\"', escape='\"', compression={V.lit(compression)}, encoding={V.lit(enc)}, "
            f"store_rejects=true, rejects_table={V.lit(rejects + '_e')}, rejects_scan={V.lit(rejects + '_s')}, "
            f"max_line_size={MAX_LINE_SIZE}, buffer_size={MAX_LINE_SIZE * 2}, strict_mode=true, "
            "null_padding=false)")


class _BadRows:
    """Quarantined rows collected while streaming, spilled to Parquet when many (memory stays bounded)."""

    def __init__(self, tmpdir: str) -> None:
        self.tmpdir = tmpdir
        self.parts: list[pa.Table | str] = []
        self.pending: list[pa.Table] = []
        self.npending = 0
        self.n = 0

    def add(self, t: pa.Table) -> None:
        if t.num_rows == 0:
            return
        self.pending.append(t)
        self.npending += t.num_rows
        self.n += t.num_rows
        if self.npending >= SPILL_ROWS:
            self._spill()

    def _spill(self) -> None:
        if not self.pending:
            return
        t = pa.concat_tables(self.pending)
        self.pending, self.npending = [], 0
        path = os.path.join(self.tmpdir, f"bad-{len(self.parts):06d}.parquet")
        pq.write_table(t, path, compression="lz4")
        self.parts.append(path)

    def tables(self) -> Iterator[pa.Table]:
        for p in self.parts:
            yield pq.read_table(p) if isinstance(p, str) else p
        if self.pending:
            yield pa.concat_tables(self.pending)

    def ords(self) -> np.ndarray:
        arrs = [t.column("ord").to_numpy() for t in self.tables()]
        return np.concatenate(arrs) if arrs else np.zeros(0, np.int64)


def _locate_lines(opener: Callable[[], Any], rejected: np.ndarray, want_ord: np.ndarray,
                  want_rec: np.ndarray, chunk: int = 1 << 24) -> tuple[np.ndarray, np.ndarray]:
    """Physical start lines of CSV records, found with one vectorised pass over the bytes.

    Records are split at newlines outside double quotes (the way DuckDB splits them); record 1 is the header.
    ``want_rec`` are record numbers (DuckDB's reject ``line``), ``want_ord`` are 1-based positions among the
    *data* records DuckDB returned (records after the header that are neither blank nor in ``rejected``).
    Both inputs must be sorted; returns the start lines in the same order (0 where not found).
    """
    out_ord = np.zeros(len(want_ord), np.int64)
    out_rec = np.zeros(len(want_rec), np.int64)
    rec = 1  # number of the record being read
    start_line = 1  # its first physical line
    carry = 0  # bytes of it seen in earlier chunks
    parity = 0
    nl_total = 0
    data_seen = 0
    with opener() as fh:
        while True:
            buf = fh.read(chunk)
            last = not buf
            if last:
                if carry == 0:
                    break
                # a final record without a trailing newline
                starts_line = np.array([start_line], np.int64)
                blank = np.array([False])
                T = 1
            else:
                a = np.frombuffer(buf, np.uint8)
                qpos = np.flatnonzero(a == 34)
                npos = np.flatnonzero(a == 10)
                par = (parity + np.searchsorted(qpos, npos)) & 1
                term_idx = np.flatnonzero(par == 0)
                term = npos[term_idx]
                parity = (parity + len(qpos)) & 1
                T = len(term)
                if T:
                    starts_line = np.empty(T, np.int64)
                    starts_line[0] = start_line
                    starts_line[1:] = nl_total + term_idx[:-1] + 2
                    begin = np.empty(T, np.int64)
                    begin[0] = 0
                    begin[1:] = term[:-1] + 1
                    length = term - begin
                    length[0] += carry
                    cr_only = (length == 1) & (a[np.maximum(term - 1, 0)] == 13)
                    if carry:
                        cr_only[0] = False
                    blank = (length == 0) | cr_only
                    new_start_line = nl_total + term_idx[-1] + 2
                    carry = len(buf) - (int(term[-1]) + 1)
                nl_total += len(npos)
                if not T:
                    carry += len(buf)
                    continue
            recs = np.arange(rec, rec + T, dtype=np.int64)
            # record numbers wanted in this span
            lo, hi = np.searchsorted(want_rec, [rec, rec + T])
            if hi > lo:
                out_rec[lo:hi] = starts_line[want_rec[lo:hi] - rec]
            data = (recs >= 2) & ~blank
            if len(rejected):
                data &= ~np.isin(recs, rejected)
            cum = np.cumsum(data) + data_seen
            n_data = int(cum[-1]) - data_seen if T else 0
            lo, hi = np.searchsorted(want_ord, [data_seen + 1, data_seen + n_data + 1])
            if hi > lo:
                pos = np.searchsorted(cum, want_ord[lo:hi])  # first record reaching that ordinal
                out_ord[lo:hi] = starts_line[pos]
            data_seen += n_data
            rec += T
            if last:
                break
            start_line = new_start_line
    return out_ord, out_rec


def _reject_reason(error_type: str, message: str) -> str:
    hint = REJECT_HINTS.get(error_type, "")
    return f"{error_type.lower()}: {message.strip()}" + (f"; {hint}" if hint else "")


def _snapshot(batch: pa.RecordBatch, ex: Extra, prefix: str) -> pa.Table:
    """The newest row per ``ex.key`` among the batch's rows (integer sort keys: no string sorting)."""
    cols = {f: batch.column(prefix + f) for f in ex.fields}
    cols.update({f: batch.column("o_" + src) for f, src in ex.reuse.items()})
    t = pa.table(cols)
    t = t.filter(pc.is_valid(t.column(ex.required)))
    if t.num_rows <= 1:
        return t
    codes = pc.dictionary_encode(t.column(ex.key).combine_chunks()).indices.to_numpy(zero_copy_only=False)
    order_col = t.column(ex.order).combine_chunks()
    if pa.types.is_timestamp(order_col.type):
        order_col = order_col.cast(pa.int64())
    when = pc.fill_null(order_col, np.iinfo(np.int64).min).to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.lexsort((-when, codes))  # by key, newest first
    sorted_codes = codes[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    return t.take(pa.array(np.sort(order[first])))


@contextlib.contextmanager
def _file_order(con: Any) -> Iterator[None]:
    """Make DuckDB return rows in file order (good rows are counted to find their lines), then restore."""
    old = str(con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]).lower()
    con.execute("SET preserve_insertion_order=true")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order={'true' if old == 'true' else 'false'}")


def _scratch_dir(con: Any) -> str:
    """A temporary directory next to DuckDB's spill directory (the study's staging area) when it has one."""
    parent = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0] or None
    return tempfile.mkdtemp(prefix="echoscope-bad-", dir=parent if parent and os.path.isdir(parent) else None)


def _split_batch(batch: pa.RecordBatch, ords: pa.Array, primary: bool, bad: _BadRows) -> pa.RecordBatch:
    """Move the batch's failed rows (and notes on loaded rows) to ``bad``; return the rows to load."""
    n = batch.num_rows
    err = batch.column("_err_field")
    note = batch.column("_note")
    good = batch
    ok_mask = None
    if err.null_count != n:
        ok_mask = pc.is_null(err)
        good = batch.filter(ok_mask)
        failed = pc.invert(ok_mask)
        k = n - good.num_rows
        bad.add(pa.table({"ord": ords.filter(failed), "field": err.filter(failed),
                          "reason": batch.column("_err_reason").filter(failed),
                          "raw": batch.column("_raw").filter(failed),
                          "primary": pa.array([primary] * k, pa.bool_())}))
    if note.null_count != n:
        noted = pc.is_valid(note) if ok_mask is None else pc.and_(pc.is_valid(note), ok_mask)
        fields = note.filter(noted)
        if len(fields):
            reasons = pc.binary_join_element_wise(
                "value of ", fields, " could not be read and was stored as null (the row was loaded)", "")
            bad.add(pa.table({"ord": ords.filter(noted), "field": fields, "reason": reasons,
                              "raw": batch.column("_raw").filter(noted),
                              "primary": pa.array([False] * len(fields), pa.bool_())}))
    return good


def _prefetched(con: Any, sql: str, depth: int = 2) -> Iterator[pa.RecordBatch]:
    """Batches of ``sql``, fetched by a second thread so that DuckDB parses the next batch while this thread
    stages the last one (both release the GIL); at most ``depth`` batches wait in memory.

    DuckDB errors are raised here, in the caller's thread. Leaving the loop early interrupts the query.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for b in con.execute(sql).to_arrow_reader(BATCH_ROWS):
                if not put(b):
                    return
            put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    worker = threading.Thread(target=produce, name="echoscope-tabular-fetch", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        if worker.is_alive():
            stop.set()
            with contextlib.suppress(Exception):
                con.interrupt()
            while worker.is_alive():
                with contextlib.suppress(queue.Empty):
                    q.get(timeout=0.1)
        worker.join()


def run_plan(src: SourceFile, sink: IngestSink, plan: Plan, *, kind: str = "csv", delim: str = ",",
             encoding: str | None = None) -> int:
    """Read ``src`` with DuckDB, convert it by ``plan``, hand good rows and bad rows to ``sink``.

    ``kind`` is ``csv`` or ``parquet``. Returns the number of records DuckDB returned (rejected CSV records
    not included).
    """
    con = sink.duckdb()
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")  # library code never prints; progress goes to the sink
    path, compression = local_path(src)
    tag = "echoscope_rj_" + uuid.uuid4().hex[:12]
    if kind == "csv":
        source = csv_source_sql(path, len(plan.columns), delim=delim, compression=compression,
                                encoding=encoding, rejects=tag)
        row_expr = None
    else:
        cols = ", ".join(f"CAST({V.ident(c)} AS VARCHAR) AS _s{i}" for i, c in enumerate(plan.columns))
        source = f"(SELECT {cols}, file_row_number FROM read_parquet({V.lit(path)}, file_row_number=true))"
        row_expr = "file_row_number + 1"
    sql = plan.sql(source, row_expr)
    out_cols = list(plan.fields)
    total_bytes = _progress_total(src, path)
    est_rows = max(1.0, _estimate_rows(src, total_bytes))
    reported = 0
    rows = 0
    tmpdir = _scratch_dir(con)
    bad = _BadRows(tmpdir)
    try:
        with _file_order(con):
            try:
                for batch in _prefetched(con, sql):
                    n = batch.num_rows
                    if n == 0:
                        continue
                    ords = (pa.array(np.arange(rows + 1, rows + n + 1, dtype=np.int64)) if kind == "csv"
                            else batch.column("_row").cast(pa.int64()))
                    rows += n
                    good = _split_batch(batch, ords, plan.primary, bad)
                    if good.num_rows:
                        sink.add(plan.table, pa.table({f: good.column("o_" + f) for f in out_cols}),
                                 primary=plan.primary)
                        for i, ex in enumerate(plan.extras):
                            snap = _snapshot(good, ex, f"x{i}_")
                            if snap.num_rows:
                                sink.add(ex.table, snap, primary=False)
                    target = int(total_bytes * min(0.99, rows / est_rows))
                    if target > reported:
                        sink.progress(target - reported)
                        reported = target
            except duckdb.Error as exc:
                raise _duck_error(exc, src) from exc
        rejects = _fetch_rejects(con, tag) if kind == "csv" else None
        if bad.n or (rejects is not None and rejects.num_rows):
            _flush_bad(src, sink, bad, rejects, kind, plan.primary, plan.columns)
    finally:
        if kind == "csv":
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DROP TABLE IF EXISTS {tag}_e; DROP TABLE IF EXISTS {tag}_s")
        shutil.rmtree(tmpdir, ignore_errors=True)
    if total_bytes > reported:
        sink.progress(total_bytes - reported)
    return rows


def _progress_total(src: SourceFile, path: str) -> int:
    try:
        if src.local_path is not None:
            return os.path.getsize(src.local_path)
        return os.path.getsize(path)
    except OSError:  # pragma: no cover
        return 0


def _estimate_rows(src: SourceFile, total_bytes: int) -> float:
    """A rough row count for the progress bar (bytes per row of the first 64 KiB; gzip size from its trailer)."""
    head = src.head(1 << 16)
    per_row = len(head) / max(1, head.count(b"\n"))
    size = float(total_bytes)
    if src.compression == "gzip" and src.local_path:
        try:
            with open(src.local_path, "rb") as fh:
                fh.seek(-4, os.SEEK_END)
                isize = struct.unpack("<I", fh.read(4))[0]
            size = float(isize) if isize >= total_bytes else total_bytes * 4.0
        except OSError:  # pragma: no cover
            pass
    return size / max(per_row, 1.0)


def _duck_error(exc: Exception, src: SourceFile) -> SourceError:
    msg = str(exc).split("\n")[0]
    return SourceError(f"cannot read the file ({msg}); check that it is complete and in the format named "
                       "(a damaged .gz gives this too)", file=src.path)


def _fetch_rejects(con: Any, tag: str) -> pa.Table | None:
    try:
        return con.execute(
            f"SELECT line::BIGINT AS line, error_type::VARCHAR AS error_type, column_name, error_message, "
            f"left(trim(csv_line, chr(10) || chr(13)), {MAX_RAW}) AS raw FROM {tag}_e ORDER BY line").to_arrow_table()
    except duckdb.CatalogException:  # no rejects table: nothing was rejected
        return None


def _flush_bad(src: SourceFile, sink: IngestSink, bad: _BadRows, rejects: pa.Table | None, kind: str,
               primary: bool, columns: list[str]) -> None:
    rej_rec = (np.unique(rejects.column("line").to_numpy()) if rejects is not None and rejects.num_rows
               else np.zeros(0, np.int64))
    ords = bad.ords()
    if kind == "csv":
        order = np.argsort(ords, kind="stable")
        lines_sorted, rej_lines = _locate_lines(src.open, rej_rec, ords[order], rej_rec)
        lines = np.empty_like(lines_sorted)
        lines[order] = lines_sorted
    else:
        lines = ords
        rej_lines = rej_rec
    pos = 0
    for t in bad.tables():
        n = t.num_rows
        ln = pa.array(lines[pos:pos + n])
        pos += n
        q = pa.table({"line": ln, "field": t.column("field"), "reason": t.column("reason"),
                      "raw": t.column("raw")})
        flags = t.column("primary")
        for flag in (True, False):
            sel = pc.equal(flags, flag)
            part = q.filter(sel)
            if part.num_rows:
                sink.quarantine_batch(part, primary=flag)
    if rejects is not None and rejects.num_rows:
        rec = rejects.column("line").to_numpy()
        idx = np.searchsorted(rej_rec, rec)
        phys = rej_lines[idx]
        phys = np.where(phys > 0, phys, rec)
        reasons = [_reject_reason(e or "", m or "") for e, m in zip(
            rejects.column("error_type").to_pylist(), rejects.column("error_message").to_pylist())]
        names = [None if c is None or not c.startswith("_s") or not c[2:].isdigit() or int(c[2:]) >= len(columns)
                 else columns[int(c[2:])] for c in rejects.column("column_name").to_pylist()]
        q = pa.table({"line": pa.array(phys, pa.int64()), "field": pa.array(names, pa.string()),
                      "reason": pa.array(reasons, pa.string()), "raw": rejects.column("raw")})
        # one record can fail several ways; it is one quarantined record
        _, first = np.unique(rec, return_index=True)
        sink.quarantine_batch(q.take(pa.array(np.sort(first))), primary=primary)


__all__ = ["BATCH_ROWS", "MAX_LINE_SIZE", "SPILL_ROWS", "csv_source_sql", "local_path", "run_plan"]

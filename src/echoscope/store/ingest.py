"""One ingest run: expand inputs, detect formats, run readers into a staging area, then commit atomically.

The run is a small transaction:

1. every input is expanded into :class:`~echoscope.sources.base.SourceFile` objects (directories recursively,
   zip members one by one, stdin spooled to the staging area so it can be hashed and re-read);
2. files whose content hash is already in the manifest are skipped (re-ingesting is a no-op);
3. each reader stages Arrow batches as Parquet under ``.staging/<run>/`` with three bookkeeping columns:
   ``_file`` (input index), ``_seq`` (order within the file) and ``_primary`` (counted record or not); on
   the way every batch has its over-long free-text values cut to the documented limits
   (:func:`~echoscope.sources.textcap.cap_text`), each cut noted in quarantine;
4. the commit deduplicates in DuckDB, out of core: a row is loaded when its key is neither in the study nor
   earlier in this run (primary records win over rows seen only as references, earlier files over later);
   accounts are merged (newest snapshot wins, column by column, nulls never overwrite values);
5. new Parquet parts are written, then the manifest is swapped in one rename. A run killed before the swap
   leaves the study exactly as it was; the orphaned files are swept by the next run.

Per file, ``read = loaded + quarantined + duplicates`` holds by construction: ``read`` is the number of
primary records staged or quarantined, ``loaded`` the primary records the commit kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import os
import shutil
import sys
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema as S
from ..errors import ConfigError, EchoscopeError, SourceError
from ..settings import configure_duckdb, resolve_settings
from ..sources import detect, get_reader
from ..sources.base import SourceFile, truncate
from ..sources.textcap import cap_text
from .manifest import Manifest
from .parts import parquet_select, sql_literal
from .study import StudyStore, file_sha256

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"


# ---------------------------------------------------------------------------------------------- inputs
def _magic(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(4)


class Digest:
    """A file's SHA-256, computed in a background thread while the file is parsed.

    Hashing a 2 GB file costs ~3 s of one core; a file can only repeat an ingested one when its size does
    too, so :func:`_run` asks for the value up front only then, and otherwise after the reader is done.
    """

    _pool: ThreadPoolExecutor | None = None

    def __init__(self, path: str, suffix: str = "") -> None:
        if Digest._pool is None:
            Digest._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="echoscope-sha256")
        self._future = Digest._pool.submit(file_sha256, path)
        self._suffix = suffix

    def member(self, name: str) -> Digest:
        """The digest of a member of this (zip) file: the file's digest and the member name."""
        d = object.__new__(Digest)
        d._future = self._future
        d._suffix = f"{self._suffix}:{name}"
        return d

    @property
    def value(self) -> str:
        return self._future.result() + self._suffix


def expand_inputs(inputs: list[str], staging: Path) -> list[tuple[SourceFile, Digest, int]]:
    """Turn command-line inputs into (source, content hash, size) triples, in a stable order."""
    out: list[tuple[SourceFile, Digest, int]] = []
    for raw in inputs:
        if raw == "-":
            staging.mkdir(parents=True, exist_ok=True)
            spooled = staging / f"stdin-{uuid.uuid4().hex}"
            with open(spooled, "wb") as fh:
                shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 22)
            out.extend(_expand_file(str(spooled), display="-", staging=staging))
            continue
        p = Path(raw)
        if not p.exists():
            raise SourceError("no such file or directory; check the path", file=raw)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and not any(
                part.startswith(".") for part in f.relative_to(p).parts))
            if not files:
                raise SourceError("directory holds no files to ingest", file=raw)
            for f in files:
                out.extend(_expand_file(str(f), display=str(f), staging=staging))
        else:
            out.extend(_expand_file(str(p), display=raw, staging=staging))
    return out


def _expand_file(path: str, *, display: str, staging: Path) -> list[tuple[SourceFile, Digest, int]]:
    size = os.path.getsize(path)
    digest = Digest(path)
    magic = _magic(path)
    if magic[:2] == GZIP_MAGIC:
        src = SourceFile(path=display, opener=lambda p=path: gzip.open(p, "rb"),  # noqa: SIM115 - an opener
                         local_path=path, compression="gzip")
        src.materialise = _materialiser(src, staging)
        return [(src, digest, size)]
    if magic == ZIP_MAGIC:
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise SourceError(f"damaged zip archive ({exc})", file=display) from exc
        members = [i for i in zf.infolist() if not i.is_dir() and not Path(i.filename).name.startswith(".")
                   and "__MACOSX" not in i.filename]
        if not members:
            raise SourceError("zip archive holds no files", file=display)
        res = []
        for info in members:
            src = SourceFile(path=f"{display}!{info.filename}",
                             opener=lambda p=path, m=info.filename: zipfile.ZipFile(p).open(m),  # noqa: SIM115
                             compression="zip", member=info.filename)
            src.materialise = _materialiser(src, staging)
            res.append((src, digest.member(info.filename), info.file_size))
        return res
    src = SourceFile(path=display, opener=lambda p=path: open(p, "rb"), local_path=path)  # noqa: SIM115
    src.materialise = lambda p=path: p
    return [(src, digest, size)]


def _materialiser(src: SourceFile, staging: Path) -> Callable[[], str]:
    """Decompress ``src`` to a plain file in the staging area once, on demand (for engines that need a path)."""
    cache: dict[str, str] = {}

    def run() -> str:
        if "p" not in cache:
            staging.mkdir(parents=True, exist_ok=True)
            suffix = Path(src.name).suffix if src.compression == "zip" else Path(src.path).with_suffix("").suffix
            dest = staging / f"plain-{uuid.uuid4().hex}{suffix}"
            with src.open() as fin, open(dest, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 22)
            cache["p"] = str(dest)
        return cache["p"]

    return run


# ---------------------------------------------------------------------------------------------- the sink
class FileSink:
    """The :class:`~echoscope.sources.base.IngestSink` one reader writes into."""

    def __init__(self, run: IngestRun, index: int, src: SourceFile, fmt: str, platform: str,
                 options: dict[str, Any]) -> None:
        self.run = run
        self.index = index
        self.src = src
        self.format = fmt
        self.platform = platform
        self.options = options
        self.seq = 0
        self.nbatch = 0
        self.primary_tables: set[str] = set()
        self.staged_primary = 0
        self.quarantined = 0
        self._qrows: list[dict[str, Any]] = []

    def add(self, table: str, batch: pa.Table, *, primary: bool) -> None:
        if table not in S.TABLES:
            raise ConfigError(f"reader produced unknown table '{table}'")
        n = batch.num_rows
        if n == 0:
            return
        if isinstance(batch, pa.RecordBatch):
            batch = pa.Table.from_batches([batch])
        schema = S.TABLES[table]
        if "platform" not in batch.column_names or batch.column("platform").null_count == n:
            batch = _set_col(batch, "platform", pa.repeat(pa.scalar(self.platform, pa.string()), n))
        elif batch.column("platform").null_count:
            import pyarrow.compute as pc

            batch = _set_col(batch, "platform", pc.fill_null(batch.column("platform"), self.platform))
        if "source" in schema.names and ("source" not in batch.column_names
                                         or batch.column("source").null_count == n):
            batch = _set_col(batch, "source", pa.repeat(pa.scalar(self.src.path, pa.string()), n))
        data, cuts = cap_text(table, S.conform(batch, schema))
        if cuts is not None:  # the row is kept: a note, not a counted quarantined record (docs/sources.md)
            self.quarantine_batch(cuts, primary=False)
        data = data.append_column("_file", pa.repeat(pa.scalar(self.index, pa.int32()), n))
        data = data.append_column("_seq", pa.array(np.arange(self.seq, self.seq + n, dtype=np.int64)))
        data = data.append_column("_primary", pa.repeat(pa.scalar(primary, pa.bool_()), n))
        self.seq += n
        if primary:
            self.primary_tables.add(table)
            self.staged_primary += n
        self.nbatch += 1
        out = self.run.staging / table / f"f{self.index:06d}-{self.nbatch:06d}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, out, compression="none", use_dictionary=False, write_statistics=False)

    def quarantine(self, *, line: int | None, field: str | None, reason: str, raw: str | None,
                   primary: bool = True) -> None:
        self._qrows.append({"line": line, "field": field, "reason": reason, "raw": truncate(raw),
                            "_primary": primary})
        if len(self._qrows) >= 10_000:
            self._flush_quarantine()

    def quarantine_batch(self, batch: pa.Table, *, primary: bool = True) -> None:
        n = batch.num_rows
        if n == 0:
            return
        cols = {c: batch.column(c) if c in batch.column_names else pa.nulls(n, pa.string())
                for c in ("line", "field", "reason", "raw")}
        t = pa.table({
            "source": pa.array([self.src.path] * n, pa.string()),
            "line": cols["line"].cast(pa.int64()),
            "field": cols["field"].cast(pa.string()),
            "reason": cols["reason"].cast(pa.string()),
            "raw": cols["raw"].cast(pa.string()),
            "ingest_id": pa.array([self.run.run_id] * n, pa.string()),
            "_file": pa.array([self.index] * n, pa.int32()),
            "_primary": pa.array([primary] * n, pa.bool_()),
        })
        if primary:
            self.quarantined += n
        self.nbatch += 1
        out = self.run.staging / "quarantine" / f"f{self.index:06d}-{self.nbatch:06d}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(t, out, compression="lz4")

    def _flush_quarantine(self) -> None:
        if not self._qrows:
            return
        rows = self._qrows
        self._qrows = []
        prim = [r.pop("_primary") for r in rows]
        t = pa.Table.from_pylist(rows, schema=pa.schema([("line", pa.int64()), ("field", pa.string()),
                                                         ("reason", pa.string()), ("raw", pa.string())]))
        for flag in (True, False):
            idx = [i for i, p in enumerate(prim) if p is flag]
            if idx:
                self.quarantine_batch(t.take(idx), primary=flag)

    def duckdb(self) -> Any:
        return self.run.duckdb()

    def progress(self, advance_bytes: int) -> None:
        self.run.emit({"event": "advance", "bytes": advance_bytes})

    def close(self) -> None:
        self._flush_quarantine()


def _set_col(t: pa.Table, name: str, arr: pa.Array) -> pa.Table:
    if name in t.column_names:
        return t.set_column(t.column_names.index(name), name, arr)
    return t.append_column(name, arr)


# ---------------------------------------------------------------------------------------------- the run
class IngestRun:
    def __init__(self, study: StudyStore, progress: Callable[[dict[str, Any]], None] | None) -> None:
        self.study = study
        self.run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        self.staging = study.path / ".staging" / self.run_id
        self._progress = progress
        self._con: Any = None

    def emit(self, event: dict[str, Any]) -> None:
        if self._progress is not None:
            self._progress(event)

    def duckdb(self) -> Any:
        if self._con is None:
            import duckdb

            self._con = duckdb.connect()
            tmp = self.staging / "duckdb-tmp"
            tmp.mkdir(parents=True, exist_ok=True)
            configure_duckdb(self._con, resolve_settings(self.study.config), stage="ingest", temp_directory=tmp)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            with contextlib.suppress(Exception):
                self._con.close()
            self._con = None


def run_ingest(study: StudyStore, inputs: list[str], *, format: str | None, table: str | None,
               mapping: dict[str, str], platform: str, options: dict[str, Any],
               progress: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    if not inputs:
        raise ConfigError("no input files given")
    if format is not None:
        get_reader(format)  # validates the name before any work
    if table is not None and table not in S.TABLES:
        raise ConfigError(f"--table '{table}' is not a table an ingest can fill; use one of "
                          f"{'|'.join(S.TABLES)}")
    keep_going = bool(options.pop("keep_going", False))
    with study.lock():
        study.sweep()
        run = IngestRun(study, progress)
        try:
            return _run(study, run, inputs, format=format, table=table, mapping=mapping, platform=platform,
                        options=options, keep_going=keep_going)
        finally:
            run.close()
            shutil.rmtree(run.staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                (study.path / ".staging").rmdir()


def _run(study: StudyStore, run: IngestRun, inputs: list[str], *, format: str | None, table: str | None,
         mapping: dict[str, str], platform: str, options: dict[str, Any], keep_going: bool
         ) -> list[dict[str, Any]]:
    run.staging.mkdir(parents=True, exist_ok=True)
    sources = expand_inputs(inputs, run.staging / "inputs")
    manifest = study.manifest()
    known = manifest.known_hashes()
    # a file repeats an ingested one only if its size does too (sizes of zip members are their own)
    known_sizes = manifest.known_sizes()
    reports: list[dict[str, Any]] = []
    sinks: list[FileSink] = []
    seen_now: set[str] = set()
    run.emit({"event": "start", "files": len(sources), "bytes": sum(s for _, _, s in sources)})
    for index, (src, lazy, size) in enumerate(sources):
        if size in known_sizes:
            digest = lazy.value  # may repeat an ingested file: decide before any work
        else:
            digest = None
        known_sizes.add(size)
        if digest is not None and (digest in known or digest in seen_now):
            prev = known.get(digest, {})
            reports.append({"path": src.path, "format": prev.get("format", format), "status": "skipped",
                            "reason": "already ingested" + (f" as {prev['path']}" if prev else " in this run"),
                            "read": 0, "loaded": 0, "quarantined": 0, "duplicates": 0})
            run.emit({"event": "advance", "bytes": size})
            continue
        if digest is not None:
            seen_now.add(digest)
        run.emit({"event": "file", "path": src.path, "bytes": size})
        try:
            if not src.head(4096).strip():
                raise SourceError("file is empty; nothing to ingest (remove it from the command line)",
                                  file=src.path)
            fmt = format or detect(src)
            opts = dict(options)
            opts["mapping"] = mapping
            opts["table"] = table
            sink = FileSink(run, index, src, fmt, platform, opts)
            get_reader(fmt)(src, sink)
            sink.close()
        except EchoscopeError as exc:
            if not keep_going:
                raise
            # discard what this file staged so far
            for f in run.staging.glob(f"*/f{index:06d}-*.parquet"):
                f.unlink()
            reports.append({"path": src.path, "format": format, "status": "failed", "reason": str(exc),
                            "read": 0, "loaded": 0, "quarantined": 0, "duplicates": 0})
            continue
        except (UnicodeDecodeError, OSError, EOFError, zipfile.BadZipFile) as exc:
            err = SourceError(f"cannot read the file ({type(exc).__name__}: {exc}); check that it is "
                              "complete and in the format named", file=src.path)
            if not keep_going:
                raise err from exc
            reports.append({"path": src.path, "format": format, "status": "failed", "reason": str(err),
                            "read": 0, "loaded": 0, "quarantined": 0, "duplicates": 0})
            continue
        if digest is None:  # a size never seen before, so bytes never seen before
            digest = lazy.value  # hashed in the background while the reader ran
            seen_now.add(digest)
        sinks.append(sink)
        reports.append({"path": src.path, "format": fmt, "status": "ok", "sha256": digest, "size": size,
                        "_sink": sink})
    run.emit({"event": "commit"})
    if sinks:
        _commit(study, run, manifest, sinks, reports)
    for r in reports:
        r.pop("_sink", None)
    return reports


def _fault(point: str) -> None:
    """Crash here when ``ECHOSCOPE_FAULT`` names ``point`` (the atomicity tests kill runs at each stage)."""
    if os.environ.get("ECHOSCOPE_FAULT") == point:
        os._exit(137)


def _key_cond(key: tuple[str, ...], a: str, b: str) -> str:
    return " AND ".join(f'{a}."{k}" IS NOT DISTINCT FROM {b}."{k}"' for k in key)


def _commit(study: StudyStore, run: IngestRun, manifest: Manifest, sinks: list[FileSink],
            reports: list[dict[str, Any]], existing_filter: str | None = None) -> None:
    _fault("before-commit")
    con = run.duckdb()
    loaded: dict[int, int] = {}
    new_parts: dict[str, list[str]] = {}
    replaced: dict[str, list[str]] = {}
    rows_added: dict[str, int] = {}
    primary_files = {s.index for s in sinks}
    for table, schema in S.TABLES.items():
        staged = sorted(str(p) for p in (run.staging / table).glob("*.parquet")) if (
            run.staging / table).exists() else []
        if not staged:
            continue
        key = S.KEYS[table]
        cols = ", ".join(f'"{f.name}"' for f in schema)
        keycols = ", ".join(f'"{k}"' for k in key)
        existing = [str(study.path / p) for p in manifest.table_parts(table)]
        staged_sql = "read_parquet([" + ", ".join(sql_literal(p) for p in staged) + "])"
        # one sortable number per staged row: primary records first, then file order, then order in file
        con.execute(f"""CREATE OR REPLACE TEMP VIEW staged AS
            SELECT *, ((CASE WHEN _primary THEN 0 ELSE 1 END)::BIGINT << 62)
                      | (_file::BIGINT << 40) | _seq AS _ord
            FROM {staged_sql}""")
        existing_sql = parquet_select(existing, schema)
        if existing_filter and table not in S.MERGED_TABLES and existing:
            existing_sql = f"SELECT * FROM ({existing_sql}) WHERE {existing_filter}"
        con.execute(f"CREATE OR REPLACE TEMP VIEW existing AS {existing_sql}")
        # keys staged more than once, with the row that wins (a hash aggregate over the key columns only:
        # far cheaper than ranking every staged row when, as usual, most keys are unique)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE repeated AS
            SELECT {keycols}, min(_ord) AS _ord FROM staged GROUP BY {keycols} HAVING count(*) > 1""")
        # rows this run drops (usually few): beaten by another row of their key, or already in the study.
        # Found once with joins on the key columns only; everything else joins on the integer _ord.
        dup = f"SELECT s._ord, s._file, s._primary FROM staged s JOIN repeated d ON {_key_cond(key, 'd', 's')} " \
              "WHERE d._ord <> s._ord"
        if existing:
            dup += (f" UNION SELECT s._ord, s._file, s._primary FROM staged s "
                    f"WHERE EXISTS (SELECT 1 FROM existing e WHERE {_key_cond(key, 'e', 's')})")
        con.execute(f"CREATE OR REPLACE TEMP TABLE dropped AS {dup}")
        dropped = dict(con.execute("SELECT _file, count(*) FROM dropped WHERE _primary GROUP BY _file").fetchall())
        for f, n in con.execute("SELECT _file, count(*) FROM staged WHERE _primary GROUP BY _file").fetchall():
            loaded[f] = loaded.get(f, 0) + n - dropped.get(f, 0)
        keep = "s._ord NOT IN (SELECT _ord FROM dropped)" if sum(dropped.values()) or con.execute(
            "SELECT count(*) FROM dropped").fetchone()[0] else "true"
        part_rel = f"tables/{table}/part-{run.run_id}.parquet"
        out = study.path / part_rel
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name("." + out.name + ".tmp")
        if table in S.MERGED_TABLES:
            # newest snapshot wins column by column; existing rows rank below this run's at equal times
            order = ("{'t': COALESCE(observed_at, TIMESTAMPTZ '0001-01-01 00:00:00+00'), "
                     "'g': _g, 'f': _file, 's': _seq}")
            aggs = ", ".join(
                f'"{f.name}"' if f.name in key else
                f'arg_max("{f.name}", {order}) FILTER (WHERE "{f.name}" IS NOT NULL) AS "{f.name}"'
                for f in schema)
            union = (f"SELECT {cols}, 0 AS _g, 0 AS _file, 0::BIGINT AS _seq FROM existing UNION ALL "
                     f"SELECT {cols}, 1 AS _g, _file, _seq FROM staged")
            con.execute(f"CREATE OR REPLACE TEMP VIEW merged_in AS {union}")
            # only keys seen more than once need the column-by-column merge: DuckDB cannot spill arg_max with a
            # struct key, so the aggregate runs over those rows alone (usually few; a key-only count spills)
            con.execute(f"""CREATE OR REPLACE TEMP TABLE merged_keys AS
                SELECT {keycols} FROM merged_in GROUP BY {keycols} HAVING count(*) > 1""")
            sql = (f"SELECT {cols} FROM merged_in ANTI JOIN merged_keys USING ({keycols}) UNION ALL "
                   f"SELECT {aggs} FROM (SELECT * FROM merged_in SEMI JOIN merged_keys USING ({keycols})) "
                   f"GROUP BY {keycols}")
            replaced[table] = manifest.table_parts(table)
        else:
            sql = f"SELECT {cols} FROM staged s WHERE {keep}"
        con.execute(f"COPY ({sql}) TO {sql_literal(tmp)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 122880)")
        n = pq.ParquetFile(tmp).metadata.num_rows
        if n == 0 and table not in S.MERGED_TABLES:
            tmp.unlink()
            continue
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        new_parts[table] = [part_rel]
        rows_added[table] = n
        _fault("mid-commit")
        con.execute("DROP TABLE IF EXISTS repeated; DROP TABLE IF EXISTS dropped; DROP TABLE IF EXISTS merged_keys")
    # quarantine
    qdir = run.staging / "quarantine"
    qfiles = sorted(str(p) for p in qdir.glob("*.parquet")) if qdir.exists() else []
    if qfiles:
        qsql = "read_parquet([" + ", ".join(sql_literal(p) for p in qfiles) + "])"
        qcols = ", ".join(f'"{f.name}"' for f in S.QUARANTINE)
        part_rel = f"tables/quarantine/part-{run.run_id}.parquet"
        out = study.path / part_rel
        out.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT {qcols} FROM {qsql} ORDER BY _file, line) TO {sql_literal(out)} "
                    "(FORMAT parquet, COMPRESSION zstd)")
        new_parts["quarantine"] = [part_rel]
        rows_added["quarantine"] = pq.ParquetFile(out).metadata.num_rows
    _fault("before-manifest")
    # manifest
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    for r in reports:
        sink = r.get("_sink")
        if sink is None or sink.index not in primary_files:
            continue
        read = sink.staged_primary + sink.quarantined
        ld = loaded.get(sink.index, 0)
        r.update({"read": read, "loaded": ld, "quarantined": sink.quarantined,
                  "duplicates": sink.staged_primary - ld,
                  "table": ",".join(sorted(sink.primary_tables)) or None})
        manifest.add_file({
            "path": r["path"], "format": r["format"], "sha256": r["sha256"], "size": r["size"],
            "table": r["table"], "read": read, "loaded": ld, "quarantined": sink.quarantined,
            "duplicates": r["duplicates"], "ingest_id": run.run_id, "ingested_at": now,
        })
    for table, parts in new_parts.items():
        if table in replaced:
            manifest.set_table(table, parts, rows_added[table])
        else:
            manifest.append_parts(table, parts, rows_added[table])
    study.commit(manifest)
    _fault("after-manifest")
    for parts in replaced.values():
        for p in parts:
            with contextlib.suppress(FileNotFoundError):
                (study.path / p).unlink()


def run_load_arrow(study: StudyStore, tables: dict[str, pa.Table], *, name: str, platform: str,
                   progress: Callable[[dict[str, Any]], None] | None = None,
                   existing_filter: str | None = None, sweep: bool = True) -> dict[str, Any]:
    """Load canonical Arrow tables (e.g. from the simulator) through the same dedup + atomic commit.

    Every row counts as a primary record of the pseudo-file ``name``; large tables are staged in slices so
    memory stays bounded by the caller's tables, not multiplied. ``existing_filter`` (a SQL predicate on the
    stored rows, e.g. ``created_at >= TIMESTAMPTZ '...'``) limits the duplicate check of appended tables to
    the rows that can collide -- the live collector's append path, where a replay can only repeat events
    after the saved cursor. A ``quarantine`` table (columns line, field, reason, raw) may be passed too.
    """
    tables = dict(tables)
    quarantine = tables.pop("quarantine", None)
    unknown = set(tables) - set(S.TABLES)
    if unknown:
        raise ConfigError(f"cannot load tables {sorted(unknown)}; loadable: {', '.join(S.TABLES)}")
    with study.lock():
        if sweep:
            study.sweep()
        run = IngestRun(study, progress)
        try:
            run.staging.mkdir(parents=True, exist_ok=True)
            src = SourceFile(path=name, opener=lambda: open(os.devnull, "rb"))  # noqa: SIM115 - an opener
            sink = FileSink(run, 0, src, "arrow", platform, {})
            for tname, t in tables.items():
                for off in range(0, t.num_rows, 500_000):
                    sink.add(tname, t.slice(off, 500_000), primary=True)
            if quarantine is not None:
                sink.quarantine_batch(quarantine, primary=True)
            sink.close()
            manifest = study.manifest()
            digest = "arrow:" + uuid.uuid4().hex
            report = {"path": name, "format": "arrow", "status": "ok", "sha256": digest, "size": 0, "_sink": sink}
            _commit(study, run, manifest, [sink], [report], existing_filter=existing_filter)
            report.pop("_sink")
            return report
        finally:
            run.close()
            shutil.rmtree(run.staging, ignore_errors=True)

"""Generic CSV and Parquet readers: any table of posts, accounts, statuses, likes, logins or follows, mapped by name.

Why the readers are shaped so: a tabular file is read in three steps, each in its own module --

* here, the **header** (column names, delimiter, encoding; JSON given as CSV is refused) and the sniffers;
* :mod:`.tabular_plan`, the **plan**: which SQL fills each canonical field and which failures quarantine a
  row, built from the header and the ``--map``/``--set`` flags (the information-operations archive reader,
  :mod:`.io_archive`, builds fixed plans instead);
* :mod:`.tabular_engine`, the **run**: DuckDB parses and converts the whole file (80+ MB/s with bounded
  memory on a small machine), good rows reach the sink as Arrow batches, bad rows reach quarantine with their
  physical line numbers.

Mapping syntax (the CLI's repeated ``--map`` flags arrive as ``sink.options["mapping"]``, key -> value):

* ``SOURCE_COLUMN=field`` renames a column to a canonical field;
* ``field:SOURCE_VALUE=NEW_VALUE`` translates whole values of a field (after renaming, before parsing); an
  empty ``NEW_VALUE`` turns the value into null;
* ``field==VALUE`` (the value starts with ``=``) gives every row the constant ``VALUE``; the same as
  ``--set field=VALUE``, which arrives as ``sink.options["set"]``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import duckdb

from ..errors import ConfigError, SourceError
from . import values as V
from .base import IngestSink, SourceFile
from .tabular_engine import local_path, run_plan
from .tabular_plan import (
    TABLE_CHOICES,
    TABLE_FIELDS,
    ColumnMap,
    Plan,
    build_plan,
    infer_table,
    parse_column_map,
    resolve_columns,
)


# ---------------------------------------------------------------------------------------------- CSV header
def decode_head(head: bytes, encoding: str | None = None) -> str:
    enc = (encoding or "utf-8").lower().replace("_", "-")
    if enc in ("latin-1", "latin1", "iso-8859-1"):
        return head.decode("latin-1")
    if enc.startswith("utf-16"):
        return head.decode("utf-16", errors="replace")
    return head.decode("utf-8", errors="replace")


def looks_like_json(head: bytes) -> bool:
    s = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return s[:1] == b"{" or (s[:1] == b"[" and s[1:2] in (b"{", b"[", b"\n", b"\r", b" ", b"]", b"\""))


def sniff_delimiter(line: str) -> str:
    """The delimiter of a CSV header line: the most frequent of , ; tab | outside quotes (comma on a tie)."""
    counts = {d: 0 for d in (",", "\t", ";", "|")}
    inq = False
    for ch in line:
        if ch == '"':
            inq = not inq
        elif not inq and ch in counts:
            counts[ch] += 1
    best = max(counts.items(), key=lambda kv: (kv[1], kv[0] == ","))
    return best[0] if best[1] else ","


def read_header(src: SourceFile, encoding: str | None = None, *, json_hint: str = "") -> tuple[list[str], str]:
    """The header of a CSV file (column names, delimiter).

    Raises
    ------
    SourceError
        When the file is empty or holds JSON rather than CSV.
    """
    head = src.head(1 << 20)
    if not head.strip():
        raise SourceError("file is empty; nothing to ingest (remove it from the command line)", file=src.path)
    if looks_like_json(head):
        raise SourceError(
            "this file holds JSON, not CSV (it starts with '" + head.lstrip()[:1].decode("latin-1") + "'); "
            "give its format with --format twarc2|twitter-v1|twarc2-users, or leave --format out to detect it"
            + json_hint, file=src.path, line=1)
    text = decode_head(head, encoding).lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delim = sniff_delimiter(first)
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delim, quotechar='"'))
    except (StopIteration, csv.Error) as exc:
        raise SourceError(f"cannot read the CSV header ({exc}); line 1 must hold the column names",
                          file=src.path, line=1) from exc
    header = [h.strip() for h in header]
    if not any(header) or any("\x00" in h for h in header):
        raise SourceError("line 1 does not look like a CSV header of column names; check the file and its "
                          "--format", file=src.path, line=1)
    return header, delim


def sniff_csv(head: bytes, name: str) -> float:
    """How sure it is that ``head`` starts a CSV file: a header line of delimited names.

    The score stays modest (at most 0.4) so that the JSON readers and the information-operations archive
    (which knows its columns) win whenever they recognise a file; JSON never scores here.
    """
    if head[:4] == b"PAR1" or not head.strip() or looks_like_json(head) or b"\x00" in head[:4096]:
        return 0.0
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff").strip("\r")
    delim = sniff_delimiter(first)
    try:
        names = next(csv.reader([first], delimiter=delim))
    except (StopIteration, csv.Error):
        return 0.0
    csv_name = name.lower().removesuffix(".gz").endswith((".csv", ".tsv", ".txt"))
    if len(names) < 2 or not all(0 < len(n.strip()) <= 100 for n in names):
        return 0.05 if csv_name else 0.0
    wordy = sum(1 for n in names if n.strip().replace("_", "").replace(" ", "").replace(".", "").isalnum())
    return 0.3 * wordy / len(names) + (0.1 if csv_name else 0.0)


def sniff_parquet(head: bytes, name: str) -> float:
    """Parquet files start with the magic bytes ``PAR1``."""
    return 0.95 if head[:4] == b"PAR1" else 0.0


def sniff(head: bytes, name: str) -> float:
    """Either tabular format (the registry asks :func:`sniff_csv` and :func:`sniff_parquet` per format)."""
    return max(sniff_parquet(head, name), sniff_csv(head, name))


# ---------------------------------------------------------------------------------------------- readers
def _options(sink: IngestSink) -> tuple[ColumnMap, str | None, str | None]:
    opts = sink.options or {}
    cm = parse_column_map(opts.get("mapping") or {}, opts.get("set") or {})
    table = opts.get("table")
    if table is not None and table not in TABLE_FIELDS:
        raise ConfigError(f"--table '{table}' is not a table a file can fill; use one of {TABLE_CHOICES}")
    return cm, table, opts.get("encoding")


def plan_for_header(header: list[str], sink: IngestSink, file: str) -> Plan:
    cm, table, _ = _options(sink)
    where = resolve_columns(header, cm, file)
    present = set(where) | set(cm.constants)
    table = table or infer_table(present, header, file, cm)
    return build_plan(header, table, where, cm, sink.platform, file)


def read_csv(src: SourceFile, sink: IngestSink) -> None:
    """Read a CSV file (plain, gzip or a zip member) into the table its header or ``--table`` names.

    Parameters
    ----------
    src
        The file; its first line must hold column names.
    sink
        Where rows go. ``sink.options`` may hold ``mapping`` (the ``--map`` flags), ``set`` (``--set``),
        ``table`` (``--table``) and ``encoding`` (``utf-8`` default, ``latin-1``, ``utf-16``).

    Raises
    ------
    SourceError
        Empty file, JSON given as CSV, unreadable file.
    SchemaError
        Required columns missing, or the table cannot be inferred.
    ConfigError
        A ``--map``/``--set`` names a field the target table does not have.
    """
    _, _, encoding = _options(sink)
    header, delim = read_header(src, encoding)
    plan = plan_for_header(header, sink, src.path)
    run_plan(src, sink, plan, kind="csv", delim=delim, encoding=encoding)


def parquet_columns(con: Any, path: str, file: str) -> list[str]:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({V.lit(path)})").fetchall()
    except duckdb.Error as exc:
        raise SourceError(f"not a readable Parquet file ({str(exc).splitlines()[0]}); check the file and its "
                          "--format", file=file) from exc
    return [r[0] for r in rows]


def read_parquet(src: SourceFile, sink: IngestSink) -> None:
    """Read a Parquet file like :func:`read_csv` (``line`` in quarantine is the 1-based row number).

    Columns of any type are accepted: values are read as text and converted like CSV values (list columns
    become ``[a, b]`` text first, timestamps their ISO text, epoch numbers stay numbers).
    """
    if src.head(4) != b"PAR1":
        raise SourceError("not a Parquet file (it does not start with 'PAR1'); give the right --format "
                          "(csv for text tables)", file=src.path)
    path, _ = local_path(src)
    header = parquet_columns(sink.duckdb(), path, src.path)
    plan = plan_for_header(header, sink, src.path)
    run_plan(src, sink, plan, kind="parquet")


__all__ = [
    "decode_head",
    "looks_like_json",
    "parquet_columns",
    "plan_for_header",
    "read_csv",
    "read_header",
    "read_parquet",
    "sniff",
    "sniff_csv",
    "sniff_delimiter",
    "sniff_parquet",
]

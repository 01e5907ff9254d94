"""Generic CSV and Parquet readers: any table of posts, accounts, statuses, likes, logins or follows, mapped by name.

Why the module is shaped so:

* **Everything heavy runs in DuckDB.** A file is read with ``read_csv``/``read_parquet`` and every column is
  converted by SQL built from :mod:`echoscope.sources.values`; Python only sees Arrow record batches on their
  way to the sink. That is what makes 80+ MB/s with bounded memory possible on a small machine.
* **One engine, many plans.** :class:`Plan` says, per canonical field, which SQL fills it and which failures
  send a row to quarantine. The generic readers build a plan from the header and the ``--map``/``--set``
  flags; the information-operations archive reader (:mod:`.io_archive`) builds fixed plans and reuses
  :func:`run_plan` unchanged.
* **Bad rows never stop the run.** DuckDB's reject store catches rows it cannot split (wrong column count,
  invalid UTF-8, unterminated quotes); the plan's checks catch rows whose required values do not convert.
  Both go to quarantine with the *physical* line number an editor shows (header = line 1). DuckDB numbers
  neither good rows nor quoted newlines, so the reader counts good rows in file order and, only when
  something was quarantined, maps those counts to lines with one vectorised pass over the bytes
  (:func:`_locate_lines`).

Mapping syntax (the CLI's repeated ``--map`` flags arrive as ``sink.options["mapping"]``, key -> value):

* ``SOURCE_COLUMN=field`` renames a column to a canonical field;
* ``field:SOURCE_VALUE=NEW_VALUE`` translates whole values of a field (after renaming, before parsing); an
  empty ``NEW_VALUE`` turns the value into null;
* ``field==VALUE`` (the value starts with ``=``) gives every row the constant ``VALUE``; the same as
  ``--set field=VALUE``, which arrives as ``sink.options["set"]``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import os
import queue
import shutil
import struct
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import schema as S
from ..errors import ConfigError, SchemaError, SourceError
from . import values as V
from .base import MAX_RAW, IngestSink, SourceFile

#: rows per Arrow batch handed to the sink (one staged Parquet file each)
BATCH_ROWS = 250_000
#: bad rows kept in memory before they are spilled to a temporary Parquet file
SPILL_ROWS = 50_000
#: longest CSV record DuckDB accepts (bytes); longer ones are quarantined
MAX_LINE_SIZE = 8 << 20

#: canonical fields a file may fill, per table (``source`` is always set by echoscope)
TABLE_FIELDS: dict[str, tuple[str, ...]] = {
    t: tuple(f.name for f in schema if f.name != "source") for t, schema in S.TABLES.items()
}
ALL_FIELDS: frozenset[str] = frozenset(f for fs in TABLE_FIELDS.values() for f in fs)

#: fields that must hold a value in every row (a tuple inside means "one of these")
REQUIRED: dict[str, tuple[str, ...]] = {
    "posts": ("post_id", "account_id", "created_at"),
    "accounts": ("account_id",),  # filled from handle when the file has no ids
    "account_status": ("account_id", "status"),
    "likes": ("account_id", "post_id"),
    "logins": ("account_id",),
    "follows": ("account_id", "followed_id"),
}

#: fields only posts have: a header holding one of them (and no post_id/status) is a posts file
POST_ONLY = frozenset(TABLE_FIELDS["posts"]) - frozenset(
    f for t, fs in TABLE_FIELDS.items() if t != "posts" for f in fs)

#: what to name in --table, in the order inference tries them
TABLE_CHOICES = "posts|accounts|account_status|likes|logins|follows"

TS_EXPECTED = ("expected ISO 8601 (2020-01-31T13:45:00Z, offsets allowed), 'YYYY-MM-DD HH:MM[:SS]', "
               "'M/D/YYYY H:MM', Twitter's 'Wed Jan 07 04:38:02 +0000 2009' or epoch seconds/milliseconds")

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


# ---------------------------------------------------------------------------------------------- plan
@dataclasses.dataclass
class Check:
    """A reason to quarantine (``fatal``) or annotate (not fatal: the field is stored as null) a row."""

    field: str
    condition: str  # SQL over the plan's layer-2 columns; true means the row fails
    reason: str  # SQL string expression (may quote the value)
    fatal: bool = True


@dataclasses.dataclass
class Extra:
    """Rows of another table taken from the same records (e.g. author snapshots from a tweets file).

    ``key``/``order`` reduce each batch to the newest row per key before it is staged (``order`` sorted
    descending), so a snapshot per tweet does not become a staged row per tweet.
    """

    table: str
    fields: dict[str, str]  # canonical field -> SQL over layer-2 columns
    key: str
    order: str
    required: str  # rows where this field is null are dropped (not counted: these rows are not primary)
    reuse: dict[str, str] = dataclasses.field(default_factory=dict)  # field -> output field of the plan


@dataclasses.dataclass
class Plan:
    """How one file becomes rows of one canonical table.

    The SQL is built in three layers over the source (whose columns are named ``_s0``, ``_s1``, ... as
    VARCHAR): layer 1 computes ``raw`` (named inputs), layer 2 ``parsed`` (typed values, may use raw names),
    layer 3 the output ``fields`` plus the checks. Names in ``raw`` and ``parsed`` must not collide.
    """

    table: str
    columns: list[str]  # source column names (for messages and the raw record)
    raw: dict[str, str]
    parsed: dict[str, str]
    fields: dict[str, str]
    checks: list[Check]
    extras: list[Extra] = dataclasses.field(default_factory=list)
    primary: bool = True

    def sql(self, source: str, row_expr: str | None = None) -> str:
        """The SELECT that reads ``source`` and yields output, extra, check and ``_raw`` columns."""
        scols = [f"_s{i}" for i in range(len(self.columns))]
        l1 = scols + [f"{sql} AS {V.ident(n)}" for n, sql in self.raw.items()]
        if row_expr:
            l1.append(f"{row_expr} AS _row")
        l2 = ["*"] + [f"{sql} AS {V.ident(n)}" for n, sql in self.parsed.items()]
        fatal = [c for c in self.checks if c.fatal]
        notes = [c for c in self.checks if not c.fatal]
        err_field = ("CASE " + " ".join(f"WHEN {c.condition} THEN {V.lit(c.field)}" for c in fatal) + " END"
                     if fatal else "NULL::VARCHAR")
        err_reason = ("CASE " + " ".join(f"WHEN {c.condition} THEN {c.reason}" for c in fatal) + " END"
                      if fatal else "NULL::VARCHAR")
        # built only for rows that need it: a string per row would cost more than all the checks
        note = ("CASE WHEN " + " OR ".join(f"({c.condition})" for c in notes) + " THEN concat_ws(', ', "
                + ", ".join(f"CASE WHEN {c.condition} THEN {V.lit(c.field)} END" for c in notes) + ") END"
                if notes else "NULL::VARCHAR")
        l3 = [f"{sql} AS {V.ident('o_' + n)}" for n, sql in self.fields.items()]
        for i, ex in enumerate(self.extras):
            l3 += [f"{sql} AS {V.ident(f'x{i}_' + n)}" for n, sql in ex.fields.items()]
        l3 += [f"{err_field} AS _err_field", f"{err_reason} AS _err_reason", f"{note} AS _note"]
        if row_expr:
            l3.append("_row")
        l3 += scols
        l4 = ["* EXCLUDE (" + ", ".join(scols) + ")"] if scols else ["*"]
        l4.append(f"CASE WHEN _err_field IS NOT NULL OR _note IS NOT NULL THEN {raw_record_sql(scols)} END AS _raw")
        return (f"SELECT {', '.join(l4)} FROM (SELECT {', '.join(l3)} FROM "
                f"(SELECT {', '.join(l2)} FROM (SELECT {', '.join(l1)} FROM {source})))")


def raw_record_sql(cols: list[str]) -> str:
    """SQL that writes a record back as one CSV line (for the quarantine's ``raw``)."""
    if not cols:
        return "NULL"
    parts = [f"CASE WHEN {c} IS NULL THEN '' WHEN regexp_matches({c}, '[,\"\\n\\r]') "
             f"THEN '\"' || replace({c}, '\"', '\"\"') || '\"' ELSE {c} END" for c in cols]
    return f"left(concat_ws(',', {', '.join(parts)}), {MAX_RAW})"


# ---------------------------------------------------------------------------------------------- mapping
@dataclasses.dataclass
class ColumnMap:
    """The ``--map`` and ``--set`` flags, parsed."""

    renames: dict[str, str]  # source column -> canonical field
    translations: dict[str, dict[str, str | None]]  # field -> {source value: new value}
    constants: dict[str, str]  # field -> constant value

    @property
    def fields(self) -> set[str]:
        return set(self.renames.values()) | set(self.translations) | set(self.constants)


def _fields_by_table() -> str:
    return "; ".join(f"{t}: {', '.join(fs)}" for t, fs in TABLE_FIELDS.items())


def parse_column_map(mapping: Mapping[str, str] | None, constants: Mapping[str, str] | None = None) -> ColumnMap:
    """Parse ``--map`` entries (``key -> value`` as split on the first '=') and ``--set`` entries.

    Raises
    ------
    ConfigError
        When an entry names a field no table has (the message lists the valid fields of every table).
    """
    cm = ColumnMap({}, {}, {})
    for key, value in (mapping or {}).items():
        key = key.strip()
        if value.startswith("="):  # field==VALUE: a constant
            cm.constants[key] = value[1:]
            continue
        head, sep, src_value = key.partition(":")
        if sep and head.strip() in ALL_FIELDS and key not in ALL_FIELDS:
            cm.translations.setdefault(head.strip(), {})[src_value.strip()] = value
            continue
        target = value.strip()
        if target not in ALL_FIELDS:
            raise ConfigError(
                f"--map {key}={value}: '{target}' is not a canonical field; write --map SOURCE_COLUMN=field "
                f"with a field of the target table ({_fields_by_table()}), or field:VALUE=NEW to translate "
                "values, see docs/sources-tabular.md")
        cm.renames[key] = target
    for key, value in (constants or {}).items():
        cm.constants[key.strip()] = value
    for f in cm.constants:
        if f not in ALL_FIELDS:
            raise ConfigError(f"--set {f}=...: '{f}' is not a canonical field; valid fields: {_fields_by_table()}")
    return cm


def resolve_columns(header: list[str], cm: ColumnMap, file: str) -> dict[str, int]:
    """Canonical field -> index of the source column that fills it (after renaming)."""
    by_name: dict[str, int] = {}
    lower: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        by_name.setdefault(h, i)
        lower.setdefault(h.lower(), []).append(i)
    out: dict[str, int] = {}
    renamed_from: set[int] = set()
    for srccol, field in cm.renames.items():
        idx = by_name.get(srccol)
        if idx is None and len(lower.get(srccol.lower(), [])) == 1:
            idx = lower[srccol.lower()][0]
        if idx is None:
            raise SchemaError(
                f"column '{srccol}' named in --map {srccol}={field} is not in the header (line 1: "
                f"{', '.join(header)}); check the spelling or remove that --map", file=file, line=1)
        if field in out:
            raise ConfigError(f"{file}: field '{field}' is mapped from two columns ('{header[out[field]]}' "
                              f"and '{srccol}'); keep one --map for it")
        out[field] = idx
        renamed_from.add(idx)
    for i, h in enumerate(header):
        if i in renamed_from or h not in ALL_FIELDS or h in out:
            continue
        out[h] = i
    for f in cm.constants:
        if f in out and f in cm.renames.values():
            raise ConfigError(f"{file}: field '{f}' is both mapped from column '{header[out[f]]}' and set to a "
                              "constant; keep one of them")
    return out


def infer_table(present: Iterable[str], header: list[str], file: str, cm: ColumnMap) -> str:
    """The table a file fills, from the canonical fields its header holds after mapping.

    ``post_id`` -> posts; ``status`` -> account_status; a posts-only field (text, kind, ref_post_id, counts...)
    -> posts; ``handle`` or ``followers_count`` -> accounts. ``likes``, ``logins`` and ``follows`` are never guessed.
    """
    p = set(present)
    if "post_id" in p:
        return "posts"
    if "status" in p:
        return "account_status"
    if p & POST_ONLY:
        return "posts"
    if "handle" in p or "followers_count" in p:
        return "accounts"
    flags = " ".join(f"--map {k}={v}" for k, v in cm.renames.items())
    raise SchemaError(
        f"cannot tell which table this file fills from its header (line 1: {', '.join(header)}"
        f"{'; after ' + flags if flags else ''}); canonical fields found: {', '.join(sorted(p)) or 'none'}. "
        f"Name the table with --table {TABLE_CHOICES}, or map columns to canonical names "
        "(post_id or text/kind -> posts, status -> account_status, handle or followers_count -> accounts), "
        "e.g. --map id=post_id --map user=account_id --map time=created_at; see docs/sources-tabular.md",
        file=file, line=1)


# ---------------------------------------------------------------------------------------------- plan building
def _typed(field: str, table: str, raw: str) -> str:
    """SQL converting raw text ``raw`` into ``field``'s canonical type."""
    typ = S.TABLES[table].field(field).type
    if field == "kind":
        return V.kind_sql(raw)
    if field == "status":
        return V.status_sql(raw)
    if pa.types.is_timestamp(typ):
        return V.timestamp_sql(raw)
    if pa.types.is_integer(typ):
        return V.int_sql(raw)
    if pa.types.is_boolean(typ):
        return V.bool_sql(raw)
    if pa.types.is_list(typ):
        return V.list_sql(raw, {"hashtags": "#", "mentions": "@"}.get(field, ""))
    if field == "handle":
        return V.handle_sql(raw)
    return raw


def _expected(field: str, table: str) -> str:
    typ = S.TABLES[table].field(field).type
    if field == "kind":
        return ("expected original|repost|reply|quote (or a synonym: " + V.describe_kinds()
                + "); translate other values with --map kind:VALUE=repost")
    if field == "status":
        return ("expected active|suspended|deleted|protected|unknown (or a synonym: " + V.describe_statuses()
                + "); translate other values with --map status:VALUE=suspended")
    if pa.types.is_timestamp(typ):
        return TS_EXPECTED
    if pa.types.is_integer(typ):
        return "expected a whole number"
    if pa.types.is_boolean(typ):
        return "expected true/false, 1/0 or yes/no"
    return "expected a value"


def _bad_value_reason(field: str, table: str, raw_name: str) -> str:
    return (f"{V.lit(field + ' ' + chr(39))} || left({V.ident(raw_name)}, 200) || "
            f"{V.lit(chr(39) + ' cannot be read; ' + _expected(field, table))}")


def build_plan(header: list[str], table: str, where: dict[str, int], cm: ColumnMap, platform: str,
               file: str) -> Plan:
    """The plan for a generic tabular file whose canonical fields sit at ``where`` (field -> column index)."""
    valid = TABLE_FIELDS[table]
    for f in sorted(cm.fields):
        if f not in valid:
            raise ConfigError(f"{file}: field '{f}' (from --map/--set) does not belong to table {table}; "
                              f"valid fields of {table}: {', '.join(valid)}")
    raw: dict[str, str] = {}
    for f in valid:
        if f in cm.constants:
            src = V.lit(cm.constants[f])
        elif f in where:
            src = f"_s{where[f]}"
        else:
            continue
        src = V.translate_sql(src, cm.translations.get(f, {}))
        keep_blank = f in ("text", "description", "display_name")
        raw["r_" + f] = src if keep_blank else V.blank_to_null(src)
    have = {n[2:] for n in raw}
    def missing_msg(f: str) -> str:
        return (f"(line 1 holds: {', '.join(header)}); map the column that holds it with "
                f"--map SOURCE_COLUMN={f} or give every row a value with --set {f}=VALUE, "
                "see docs/sources-tabular.md")

    if table == "accounts" and not have & {"account_id", "handle"}:
        raise SchemaError(f"an accounts file needs a column account_id or handle {missing_msg('account_id')}",
                          file=file, line=1)
    for f in REQUIRED[table]:
        if f in have or (table == "posts" and f == "post_id") or table == "accounts":
            continue
        raise SchemaError(f"column '{f}' missing; table {table} needs {', '.join(REQUIRED[table])} "
                          f"{missing_msg(f)}", file=file, field=f, line=1)
    if table == "posts" and "r_ref_post_id" in raw and "r_kind" not in raw:
        raise SchemaError(
            "the file gives ref_post_id but no kind, so reposts cannot be told from replies and quotes; "
            "map a kind column (--map COLUMN=kind) or say what every row is with --set kind=repost",
            file=file, field="kind", line=1)

    parsed: dict[str, str] = {}
    for f in valid:
        if "r_" + f in raw:
            parsed["p_" + f] = _typed(f, table, V.ident("r_" + f))
    fields: dict[str, str] = {f: V.ident("p_" + f) for f in valid if "p_" + f in parsed}
    checks: list[Check] = []
    key = set(S.KEYS[table])
    required = set(REQUIRED[table])

    if table == "accounts":
        if "p_account_id" in parsed and "p_handle" in parsed:
            fields["account_id"] = "COALESCE(p_account_id, p_handle)"
        elif "p_handle" in parsed:
            fields["account_id"] = "p_handle"
        checks.append(Check("account_id", f"({fields['account_id']}) IS NULL",
                            V.lit("neither account_id nor handle has a value; every account row needs one")))
    if table == "posts":
        plat = f"COALESCE(p_platform, {V.lit(platform)})" if "p_platform" in parsed else V.lit(platform)
        if "p_post_id" not in parsed:
            # no post id at all (e.g. the IRA tweets): a stable id from what identifies the post
            fields["post_id"] = (f"'md5:' || md5({plat} || '|' || COALESCE(p_account_id, '') || '|' || "
                                 "COALESCE(epoch_us(p_created_at)::VARCHAR, '') || '|' || "
                                 f"COALESCE({'r_text' if 'r_text' in raw else 'NULL'}, ''))")
        if "p_kind" in parsed:
            ref = "p_ref_post_id" if "p_ref_post_id" in parsed else "NULL"
            fields["kind"] = f"COALESCE(p_kind, CASE WHEN r_kind IS NULL AND {ref} IS NULL THEN 'original' END)"
        else:
            fields["kind"] = "'original'"
    for f in valid:
        rname = "r_" + f
        if rname not in raw:
            continue
        if table == "accounts" and f in ("account_id", "handle"):
            continue
        if table == "posts" and f == "kind":
            checks.append(Check("kind", "r_kind IS NOT NULL AND p_kind IS NULL",
                                _bad_value_reason("kind", table, rname)))
            checks.append(Check("kind", "r_kind IS NULL AND p_kind IS NULL AND (" + (
                "p_ref_post_id IS NOT NULL" if "p_ref_post_id" in parsed else "false") + ")",
                V.lit("kind is empty but ref_post_id is set; give the kind (repost|reply|quote)")))
            continue
        typed = parsed["p_" + f] != V.ident(rname)
        if f in required:
            checks.append(Check(f, f"{V.ident(rname)} IS NULL",
                                V.lit(f"{f} is empty; every {table} row needs it")))
            if typed:
                checks.append(Check(f, f"p_{f} IS NULL", _bad_value_reason(f, table, rname)))
        elif typed:
            checks.append(Check(f, f"{V.ident(rname)} IS NOT NULL AND p_{f} IS NULL",
                                _bad_value_reason(f, table, rname), fatal=f in key))
    # fatal checks first so that the reported field is the one that made the row fail
    checks.sort(key=lambda c: not c.fatal)
    return Plan(table=table, columns=header, raw=raw, parsed=parsed, fields=fields, checks=checks)


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


# ---------------------------------------------------------------------------------------------- engine
def _local_path(src: SourceFile) -> tuple[str, str]:
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

    SCHEMA = pa.schema([("ord", pa.int64()), ("field", pa.string()), ("reason", pa.string()),
                        ("raw", pa.string()), ("primary", pa.bool_())])

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
    path, compression = _local_path(src)
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
    path, _ = _local_path(src)
    header = parquet_columns(sink.duckdb(), path, src.path)
    plan = plan_for_header(header, sink, src.path)
    run_plan(src, sink, plan, kind="parquet")


__all__ = [
    "REQUIRED",
    "TABLE_FIELDS",
    "Check",
    "Extra",
    "Plan",
    "build_plan",
    "infer_table",
    "parse_column_map",
    "read_csv",
    "read_header",
    "read_parquet",
    "resolve_columns",
    "run_plan",
    "sniff",
    "sniff_csv",
    "sniff_parquet",
]

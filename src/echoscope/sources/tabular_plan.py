"""How a table file becomes canonical rows: the :class:`Plan`, the ``--map``/``--set`` column map, and the plans
of the generic CSV/Parquet readers.

Why a separate module: a plan is pure data plus SQL text -- which SQL fills each canonical field and which
failures send a row to quarantine -- and building one needs nothing but a header and the flags. It is what a
reader decides; :mod:`.tabular_engine` is how any plan is run (DuckDB, batches, quarantine with line numbers).
The information-operations archive reader (:mod:`.io_archive`) builds its fixed plans from the same pieces.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

import pyarrow as pa

from .. import schema as S
from ..errors import ConfigError, SchemaError
from . import values as V
from .base import MAX_RAW

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
                f"column '{srccol}' named in --map {srccol}={field} is not in the header ({header_phrase(header)}); "
                "check the spelling or remove that --map", file=file, line=1)
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
        f"cannot tell which table this file fills from its header ({header_phrase(header)}"
        f"{'; after ' + flags if flags else ''}); canonical fields found: {', '.join(sorted(p)) or 'none'}. "
        f"Name the table with --table {TABLE_CHOICES}, or map columns to canonical names "
        "(post_id or text/kind -> posts, status -> account_status, handle or followers_count -> accounts), "
        "e.g. --map id=post_id --map user=account_id --map time=created_at; see docs/sources-tabular.md",
        file=file, line=1)


# ---------------------------------------------------------------------------------------------- messages
#: characters of a header quoted in an error message before it is cut with "..."
HEADER_CHARS = 60


def header_phrase(header: list[str]) -> str:
    """What a header holds, in one short phrase for an error message: ``found 3 columns: a, b, c``.

    Long headers are cut after about :data:`HEADER_CHARS` characters: the message names what is missing, the
    header is only a reminder of which file it is.
    """
    shown = ""
    for i, h in enumerate(header):
        part = h if i == 0 else ", " + h
        if len(shown) + len(part) > HEADER_CHARS and i > 0:
            shown += ", ..."
            break
        shown += part
    return f"found {len(header)} column{'s' if len(header) != 1 else ''}: {shown}"


def _columns(names: list[str]) -> str:
    """``column a`` or ``columns a, b``."""
    return f"column{'s' if len(names) > 1 else ''} {', '.join(names)}"


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
    fix = "see docs/sources-tabular.md#fields-requirements-and-types"
    if table == "accounts" and not have & {"account_id", "handle"}:
        raise SchemaError(f"column account_id or handle missing: an accounts file needs one ({header_phrase(header)}); "
                          f"add --map COLUMN=account_id or --map COLUMN=handle, {fix}", file=file, line=1)
    missing = [f for f in REQUIRED[table] if f not in have and not (table == "posts" and f == "post_id")
               and table != "accounts"]
    if missing:
        raise SchemaError(
            f"{_columns(missing)} missing: a {table} file needs {', '.join(REQUIRED[table])} "
            f"({header_phrase(header)}); add --map COLUMN={missing[0]} or --set {missing[0]}=VALUE, {fix}",
            file=file, line=1)
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


__all__ = [
    "ALL_FIELDS",
    "REQUIRED",
    "TABLE_CHOICES",
    "TABLE_FIELDS",
    "Check",
    "ColumnMap",
    "Extra",
    "Plan",
    "build_plan",
    "infer_table",
    "parse_column_map",
    "raw_record_sql",
    "resolve_columns",
]

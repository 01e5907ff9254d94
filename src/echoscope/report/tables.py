"""Exports of the ingested tables (posts, accounts, likes, status checks, targets), streamed by DuckDB.

Why ``COPY ... TO`` and SQL, not Arrow tables in Python: the posts of a real study run to millions of rows;
DuckDB writes them to CSV or Parquet chunk by chunk, so no table is ever held whole in Python. What the other
exports do in Python is done here in SQL:

- spreadsheet safety (CSV only): a text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading ``'`` (:data:`~echoscope.report.exports.FORMULA_PREFIXES`, the same rule as every CSV
  export); list and struct cells are written as JSON; times as ISO 8601 UTC;
- pseudonymisation: the very :class:`~echoscope.report.pseudonymise.Pseudonymiser` of the report, registered
  as vectorised DuckDB functions (one call per chunk, distinct values hashed once) and applied by column
  name with the same rules (:func:`~echoscope.report.pseudonymise.column_kind`); ``mentions`` (handles without
  ``@``) get handle pseudonyms.

The table names a ``twarc2 csv`` user knows are accepted as aliases: ``tweets`` for ``posts`` and ``users``
for ``accounts`` (``twarc2 csv --input-data-type users``). The posts file carries the author's latest
``handle`` beside ``account_id`` (twarc2 csv's ``author.username`` beside ``author_id``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError
from .pseudonymise import Pseudonymiser, column_kind

if TYPE_CHECKING:
    from ..engine import Engine

#: ingested tables ``--tables`` can export, each with the SQL that reads it (posts get the author's handle)
INGESTED: dict[str, str] = {
    "posts": """SELECT p.*, h.handle FROM posts p LEFT JOIN (
                    SELECT account_id, first(handle ORDER BY (handle IS NULL), observed_at DESC NULLS LAST) AS handle
                    FROM accounts GROUP BY account_id) h ON h.account_id = p.account_id""",
    "accounts": "SELECT * FROM accounts",
    "likes": "SELECT * FROM likes",
    "account_status": "SELECT * FROM account_status",
    "targets": "SELECT * FROM targets",
}
#: names a twarc2 user types -> the canonical table
ALIASES: dict[str, str] = {"tweets": "posts", "users": "accounts"}
#: ``--tables`` value meaning every result table (the default)
RESULTS = "results"
#: column kinds that differ from the report's rules for the ingested tables
KIND_OVERRIDES: dict[str, str] = {"mentions": "handle"}

_UDF = {"id": "_echoscope_ps_account", "post": "_echoscope_ps_post", "handle": "_echoscope_ps_handle",
        "name": "_echoscope_ps_name", "text": "_echoscope_ps_text"}


def parse_tables(value: str | list[str] | None) -> list[str]:
    """``--tables`` as canonical names (``results`` first when asked); aliases resolved, duplicates dropped.

    Raises
    ------
    ConfigError
        When a name is neither ``results`` nor an ingested table or alias.
    """
    raw = value.split(",") if isinstance(value, str) else list(value or [RESULTS])
    out: list[str] = []
    for name in (n.strip().lower() for n in raw if n and n.strip()):
        name = ALIASES.get(name, name)
        if name != RESULTS and name not in INGESTED:
            raise ConfigError(f"--tables {name}: not a table the export writes; use {RESULTS} (every result table) "
                              f"and/or {', '.join(INGESTED)} (aliases: "
                              f"{', '.join(f'{a}={t}' for a, t in ALIASES.items())}), comma-separated")
        if name not in out:
            out.append(name)
    return out or [RESULTS]


def _mapper(p: Pseudonymiser, kind: str) -> Callable[[Any], pa.Array]:
    def fn(arr: Any) -> pa.Array:
        a = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        a = a.cast(pa.string())
        uniq = pc.unique(a)
        mapped = pa.array([p.value(kind, v) for v in uniq.to_pylist()], type=pa.string())
        return pc.take(mapped, pc.index_in(a, value_set=uniq))

    return fn


def register_pseudonymiser(con: Any, p: Pseudonymiser) -> None:
    """Make ``p`` callable from SQL on ``con`` (``_echoscope_ps_<kind>(text)``), replacing earlier ones."""
    for kind, name in _UDF.items():
        try:
            con.remove_function(name)
        except Exception:  # not registered yet
            pass
        con.create_function(name, _mapper(p, kind), ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)


def _expr(name: str, typ: str, *, csv: bool, pseudo: bool) -> str | None:
    """The SELECT expression writing column ``name`` of DuckDB type ``typ`` (None: the column is dropped)."""
    col = '"' + name.replace('"', '""') + '"'
    kind = KIND_OVERRIDES.get(name) or column_kind(name)
    if pseudo and kind == "drop":
        return None
    t = typ.upper()
    is_text, is_text_list = t == "VARCHAR", t == "VARCHAR[]"
    expr = col
    if pseudo and kind in _UDF:
        if is_text:
            expr = f"{_UDF[kind]}({col})"
        elif is_text_list:
            expr = f"list_transform({col}, x -> {_UDF[kind]}(x))"
    if not csv:
        return f"{expr} AS {col}"
    if t.startswith("TIMESTAMP"):
        expr = f"strftime(timezone('UTC', {expr}), '%Y-%m-%dT%H:%M:%S.%gZ')"
    elif t.endswith("[]") or t.startswith("STRUCT") or t.startswith("MAP"):
        expr = f"CAST(to_json({expr}) AS VARCHAR)"
    elif not is_text:
        return f"{expr} AS {col}"
    # text (and JSON of lists, which begins with [ or {): made inert for spreadsheets
    return (f"CASE WHEN regexp_matches({expr}, '^[=+\\-@\\t\\r]') THEN '''' || {expr} ELSE {expr} END AS {col}")


def copy_table(engine: Engine, table: str, path: Path, *, fmt: str,
               pseudonymiser: Pseudonymiser | None = None) -> Path:
    """Stream ingested ``table`` (a key of :data:`INGESTED`) to ``path`` as ``csv`` or ``parquet``."""
    con = engine.raw
    src = INGESTED[table]
    desc = con.execute(f"DESCRIBE ({src})").fetchall()
    if pseudonymiser is not None:
        register_pseudonymiser(con, pseudonymiser)
    exprs = [e for e in (_expr(str(r[0]), str(r[1]), csv=fmt == "csv", pseudo=pseudonymiser is not None)
                         for r in desc) if e is not None]
    target = str(path).replace("'", "''")
    opts = "FORMAT csv, HEADER true" if fmt == "csv" else "FORMAT parquet, COMPRESSION zstd"
    con.execute(f"COPY (SELECT {', '.join(exprs)} FROM ({src})) TO '{target}' ({opts})")
    return path


__all__ = ["ALIASES", "INGESTED", "RESULTS", "copy_table", "parse_tables", "register_pseudonymiser"]

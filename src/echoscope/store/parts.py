"""SQL that reads a study's Parquet parts in DuckDB: a table's parts as a ``SELECT`` with its canonical columns.

Shared by the ingest commit (which deduplicates against the stored parts) and the engine (which registers a
view per table), so both read the same columns in the same types; a table without parts reads as an empty
``SELECT`` of those columns, so queries over it still compile.
"""

from __future__ import annotations

from typing import Any


def duckdb_type(t: Any) -> str:
    """DuckDB type name of an Arrow type of the canonical schemas."""
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_list(t):
        return duckdb_type(t.value_type) + "[]"
    return {"string": "VARCHAR", "int64": "BIGINT", "bool": "BOOLEAN", "double": "DOUBLE"}[str(t)]


def sql_literal(value: Any) -> str:
    """A value (a path) as a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def empty_select(schema: Any) -> str:
    """A ``SELECT`` of no rows with ``schema``'s columns and types."""
    cols = ", ".join(f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"' for f in schema)
    return f"SELECT {cols} WHERE false"


def parquet_select(parts: list[str], schema: Any) -> str:
    """A ``SELECT`` over Parquet ``parts`` (absolute paths): ``schema``'s columns, or every column when None.

    A column of ``schema`` that no part has (a column added to the canonical schema after the parts were
    written, e.g. ``posts.media_hashes``) reads as NULL of its type; when only some parts have it, DuckDB's
    ``union_by_name`` gives NULL for the others. Which columns the parts have is read from their footers only.
    """
    if not parts:
        if schema is None:
            raise ValueError("parquet_select needs a schema for a table without parts")
        return empty_select(schema)
    files = ", ".join(sql_literal(p) for p in parts)
    if schema is None:
        return f"SELECT * FROM read_parquet([{files}])"
    import pyarrow.parquet as pq

    names = [set(pq.read_schema(p).names) for p in parts]
    present = set().union(*names)
    cols = ", ".join(f'"{f.name}"' if f.name in present else f'CAST(NULL AS {duckdb_type(f.type)}) AS "{f.name}"'
                     for f in schema)
    by_name = ", union_by_name = true" if any(n != names[0] for n in names) else ""
    return f"SELECT {cols} FROM read_parquet([{files}]{by_name})"


__all__ = ["duckdb_type", "empty_select", "parquet_select", "sql_literal"]

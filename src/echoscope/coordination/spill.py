"""A run's edges, evidence and candidate co-actions on disk while the run goes on, read back by DuckDB.

Why: every behaviour's candidate edges (5.5M rows at 10M engagements, ~150 bytes each with their string ids)
and evidence used to stay in Python as Arrow until the run ended, so they sat beside DuckDB's own memory in
the run's most memory-hungry steps (the held-out test, the members' evidence): 1 GiB of a 6.5 GiB peak; and
the co-actions of every candidate edge (11M rows at 10M) were a DuckDB table held through the held-out test.
Now each behaviour's tables go to a Parquet file in a scratch directory as soon as it is judged, and the steps
after read them through DuckDB (``read_parquet``): fusion writes the fused network to a file of its own, the
clusters read the network's edges among the validated accounts, the members' evidence and the summaries only
the members' rows. The whole edges table comes back into Python once, at the end, when the result is written.

The files are Snappy-compressed (temporary: writing and reading them fast matters more than their size; the
stored result is written with zstd). Each file keeps its rows in the order they were written
(``file_row_number``), so what is read back is what was written, in the same order.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .params import EDGE_SCHEMA, EVIDENCE_SCHEMA

#: the schema of each kind of table a run spills (``candidates``: the co-actions of every candidate edge,
#: :func:`.clusters.keep_candidate_evidence`)
SCHEMAS: dict[str, pa.Schema] = {"edges": EDGE_SCHEMA, "evidence": EVIDENCE_SCHEMA, "candidates": EVIDENCE_SCHEMA}


class Spill:
    """Parquet files of a run's ``edges``, ``evidence`` and ``candidates``, in the order added, under ``directory``.

    ``directory`` is created (a fresh temporary directory inside it: two runs never share one) and removed
    by :meth:`close`.
    """

    def __init__(self, con: Any, directory: str | Path | None = None) -> None:
        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)
        self.con = con
        self.dir = Path(tempfile.mkdtemp(prefix="coord-", dir=directory))
        self.files: dict[str, list[Path]] = {k: [] for k in SCHEMAS}
        self.names: dict[str, list[str]] = {k: [] for k in SCHEMAS}
        self.rows: dict[str, int] = {k: 0 for k in SCHEMAS}

    def _next(self, kind: str, name: str) -> Path:
        path = self.dir / f"{kind}-{len(self.files[kind]):03d}.parquet"
        self.files[kind].append(path)
        self.names[kind].append(name)
        return path

    def add(self, kind: str, name: str, table: pa.Table) -> None:
        """Write ``table`` (cast to the kind's schema) as the next file of ``kind``, named ``name``."""
        table = table.cast(SCHEMAS[kind])
        pq.write_table(table, self._next(kind, name), compression="snappy")
        self.rows[kind] += table.num_rows

    def add_sql(self, kind: str, name: str, sql: str) -> None:
        """Write the rows of the DuckDB query ``sql`` (the kind's columns, in order) as the next file."""
        path = self._next(kind, name)
        self.con.execute(f"COPY ({sql}) TO '{_quote(path)}' (FORMAT parquet, COMPRESSION snappy)")
        self.rows[kind] += int(self.con.execute(f"SELECT count(*) FROM read_parquet('{_quote(path)}')").fetchone()[0])

    def source(self, kind: str, name: str | None = None) -> str:
        """A DuckDB table expression of the rows of ``kind`` (of the file named ``name``: e.g. the network's
        edges), with ``filename`` and ``file_row_number`` (the files' names sort in the order written); an
        empty relation with the kind's columns when there are none."""
        paths = [p for p, n in zip(self.files[kind], self.names[kind]) if name is None or n == name]
        if not paths:
            cols = ", ".join(f"CAST(NULL AS {_duck_type(f.type)}) AS \"{f.name}\"" for f in SCHEMAS[kind])
            return f"(SELECT {cols}, ''::VARCHAR AS filename, 0::BIGINT AS file_row_number LIMIT 0)"
        files = ", ".join(f"'{_quote(p)}'" for p in paths)
        return f"read_parquet([{files}], filename = true, file_row_number = true)"

    def to_arrow(self, kind: str) -> pa.Table:
        """Every row of ``kind``, in the order written, as one Arrow table of the kind's schema."""
        tabs = [pq.read_table(p, columns=SCHEMAS[kind].names) for p in self.files[kind]]
        return pa.concat_tables([t.cast(SCHEMAS[kind]) for t in tabs]) if tabs else SCHEMAS[kind].empty_table()

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "BIGINT"
    return "DOUBLE"


__all__ = ["SCHEMAS", "Spill"]

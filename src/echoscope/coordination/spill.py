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

import os
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

    A fresh temporary directory is made inside ``directory`` (two runs never share one), with a file naming
    the process that owns it, and removed by :meth:`close`; making one first removes those of killed runs
    (:func:`sweep_stale`).
    """

    def __init__(self, con: Any, directory: str | Path | None = None) -> None:
        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)
            sweep_stale(directory)
        self.con = con
        self.dir = Path(tempfile.mkdtemp(prefix=PREFIX, dir=directory))
        # who owns it: a later run removes it if this process is gone without removing it (killed)
        (self.dir / OWNER).write_text(f"{os.getpid()} {_started(os.getpid())}")
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


#: the scratch directories' name prefix, and the file naming the process that owns one
PREFIX, OWNER = "coord-", "owner"


def _started(pid: int) -> str:
    """The process's start time (field 22 of /proc/PID/stat; '' where there is no /proc): a pid can be reused."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(owner: str) -> bool:
    pid, _, started = owner.partition(" ")
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True  # another user's live process, or an owner file we cannot read: leave it
    return not started or _started(int(pid)) == started


def sweep_stale(directory: str | Path) -> list[str]:
    """Remove the scratch directories under ``directory`` whose run's process is gone (a killed run); returns
    their names. A directory whose owner is alive, or that has no owner file yet, is left alone."""
    removed = []
    for d in Path(directory).glob(f"{PREFIX}*"):
        try:
            owner = (d / OWNER).read_text()
        except OSError:
            continue
        if not _alive(owner):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d.name)
    return removed


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


__all__ = ["OWNER", "PREFIX", "SCHEMAS", "Spill", "sweep_stale"]

"""Where a stage's tables live: the stage code names tables and gives DuckDB SQL; a backend makes them.

Why: the data-sized stages of a coordination run (:mod:`.stages`) are written once, as DuckDB SQL over named
tables (``_ca_raw``, ``_ca_act``, ...). :class:`DuckTables` creates them as temporary tables on the study's
DuckDB connection; ``SparkTables`` (:mod:`.spark`) as Spark views, the SQL transpiled with DuckDB's semantics
(:mod:`.dialect`). The backends differ only in what genuinely differs between the engines:

* numbering actions (:meth:`StageTables.actions`): DuckDB's action id is a row's place in its table
  (``rowid``, kept from an ``ORDER BY`` with insertion order on, or the table scan's order); Spark has no row
  order, so it ranks the rows by the same columns (or by part and row index of the scanned Parquet parts);
* :meth:`StageTables.duckdb`: a DuckDB connection holding some tables, for steps that need DuckDB's own
  functions (``hash()`` in co-text's near-duplicate join): the study's own connection, or on Spark a side
  connection (with the settings' memory limit) that the tables are copied into as Arrow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol

import pyarrow as pa

#: the columns of an action table (``_ca_raw``), besides its row order (the action id)
ACTION_COLUMNS = ("account_id", "object_id", "action_id", "ts")

#: DuckDB memory one pair within the window may take in the pairing aggregates of :func:`.stages.pair`:
#: measured 75-86 bytes per account pair in the per-pair pass (power-law studies of 1M retweets, 4.7M and 22.7M
#: account pairs), rounded up for the per-(pair, object) pass, whose entries are wider
PAIR_BYTES = 128

#: share of the DuckDB memory limit one pairing aggregate may take (the stage's tables hold the rest)
PAIR_MEMORY_SHARE = 0.5


class StageTables(Protocol):
    """The tables of one stage run on one engine (see the module docstring)."""

    #: appended to progress messages (``" (Spark)"``)
    label: str

    def make(self, name: str, sql: str, keep: bool = True) -> None:
        """Table ``name`` from the DuckDB query ``sql`` (``keep``: materialise it where the engine can choose)."""

    def actions(self, name: str, sql: str, order: str | None, *, pushdown: bool = True) -> None:
        """Action table ``name`` (:data:`ACTION_COLUMNS`) from ``sql``, numbered in ``order`` (None: scan order);
        ``pushdown=False``: the engine must not push filters down into the scan (``CoAction.pushdown``)."""

    def scalar(self, sql: str) -> Any:
        """The first value of the query's first row."""

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The query's rows (small results only)."""

    def count(self, name: str) -> int:
        """Rows of table ``name``."""

    def arrow(self, sql: str) -> pa.Table:
        """The query's result as Arrow."""

    def put(self, name: str, table: pa.Table) -> None:
        """Table ``name`` from an Arrow table (small: a mapping computed in Python)."""

    def append(self, name: str, sql: str) -> None:
        """Append the rows of ``sql`` to table ``name`` (made by :meth:`make`)."""

    def pair_budget(self) -> int | None:
        """Pairs within the window that one aggregation may hold (:func:`.stages.pair`); None: no limit (the
        engine spreads its aggregates over partitions itself)."""

    def drop(self, *names: str) -> None:
        """Forget the tables."""

    def duckdb(self, *names: str) -> contextlib.AbstractContextManager[Any]:
        """A raw DuckDB connection on which the tables ``names`` exist (for the length of the block)."""


@contextlib.contextmanager
def insertion_order(con: Any) -> Iterator[None]:
    """DuckDB's ``preserve_insertion_order`` on for the block, then as it was: a table created in it keeps the
    order of its query's ORDER BY (or its source's rows), so its ``rowid`` can be an action id that both
    engines give alike (the study connection turns the setting off for speed)."""
    keep = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order=true")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order={'true' if keep else 'false'}")


@contextlib.contextmanager
def _no_pushdown(con: Any, on: bool) -> Iterator[None]:
    """DuckDB's filter pushdown off for the block when ``on`` (``CoAction.pushdown``), then as it was."""
    if not on:
        yield
        return
    keep = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] or ""
    names = [n for n in (x.strip() for x in keep.split(",")) if n]
    con.execute(f"SET disabled_optimizers='{','.join([*names, 'filter_pushdown'])}'")
    try:
        yield
    finally:
        con.execute(f"SET disabled_optimizers='{','.join(names)}'")


class DuckTables:
    """Stage tables as temporary tables of a raw DuckDB connection (the study's engine connection)."""

    label = ""

    def __init__(self, con: Any) -> None:
        from .coactions import install_macros

        self.con = con
        install_macros(con)

    def make(self, name: str, sql: str, keep: bool = True) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def actions(self, name: str, sql: str, order: str | None, *, pushdown: bool = True) -> None:
        query = f"SELECT {', '.join(ACTION_COLUMNS)} FROM ({sql})"
        # the rows' order is their action ids (rowid): kept from the ORDER BY, or from the scan of the parts
        # in manifest order, only with insertion order on (without it a parallel scan's order varies from run
        # to run, and so did the evidence chosen among equally close pairs)
        with insertion_order(self.con), _no_pushdown(self.con, not pushdown):
            self.make(name, f"{query} ORDER BY {order}" if order else query)

    def scalar(self, sql: str) -> Any:
        return self.con.execute(sql).fetchone()[0]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.con.execute(sql).fetchall()]

    def count(self, name: str) -> int:
        return int(self.scalar(f"SELECT count(*) FROM {name}"))

    def arrow(self, sql: str) -> pa.Table:
        return self.con.execute(sql).fetch_arrow_table()

    def put(self, name: str, table: pa.Table) -> None:
        # registered Arrow tables carry no statistics and join slowly: copied into a temp table
        self.con.register(f"{name}_in", table)
        try:
            self.make(name, f"SELECT * FROM {name}_in")
        finally:
            self.con.unregister(f"{name}_in")

    def drop(self, *names: str) -> None:
        for n in names:
            self.con.execute(f"DROP TABLE IF EXISTS {n}")

    def append(self, name: str, sql: str) -> None:
        self.con.execute(f"INSERT INTO {name} {sql}")

    def pair_budget(self) -> int:
        from ..settings import parse_size

        limit = parse_size(str(self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))
        return max(int(limit * PAIR_MEMORY_SHARE) // PAIR_BYTES, 1)

    @contextlib.contextmanager
    def duckdb(self, *names: str) -> Iterator[Any]:
        yield self.con


__all__ = ["ACTION_COLUMNS", "PAIR_BYTES", "PAIR_MEMORY_SHARE", "DuckTables", "StageTables", "insertion_order"]

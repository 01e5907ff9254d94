"""Coordination on Spark: the same stage code as on DuckDB, run as Spark views; what follows them on DuckDB.

Why shaped so: of a coordination run only the first stages grow with the data -- reading the actions,
pruning accounts and objects, the dense-window guard, pairing each action with those inside its window and
aggregating the pairs per (account pair, object). They are written once (:mod:`.stages`, DuckDB SQL over named
tables); here :class:`SparkTables` makes those tables as Spark views, the SQL transpiled with DuckDB's semantics
(:mod:`.dialect`). Their results (:data:`.stages.HANDOVER`) are handed to the study's DuckDB connection under
the same names, and the same downstream code runs there as after a DuckDB run: candidate edges, the null
model, p-values, evidence, held-out validation, fusion and clustering. What is Spark's own here is only what
genuinely differs: the session, reading the study's Parquet parts with their row positions (an action's id on
DuckDB is its row, see below), and the hand-over.

Identical results need identical integer ids. Account and object ids are ranks of the string ids on both
engines (both order strings by their UTF-8 bytes). An action's id ``eid`` is its row in DuckDB's ``_ca_raw``
(its ``rowid``): for a behaviour whose query is a plain scan (co-retweet, co-reply, co-quote, co-text) its
position in the order of the table's Parquet parts (manifest order) and rows; for the others (a join, an
unnest, a grouping: no scan order) its rank in the behaviour's ``CoAction.order``, by which DuckDB sorts them
too. On Spark the rank is a ``rowid`` column, so the stages' ``r.rowid`` reads the same number on both. The
null model's shuffles and the object halves use DuckDB's ``hash()``, which Spark does not have: they run in
DuckDB, on the tables handed over, so p-values, cut-offs and validation are the same. Only floating-point sums
(``weight_idf``, ``mean_gap_s``, null means and what follows from them, as between two DuckDB runs) may differ
in the last bits (summation order).

Supported: ``--semantics echoscope`` with every behaviour and every null model. The peers' semantics run on
DuckDB only (:func:`check_supported`; docs/coordination.md, "Spark").
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from ..errors import ConfigError
from ..settings import EngineSettings, duckdb_connection
from .backends import ACTION_COLUMNS, insertion_order
from .coactions import COACTIONS
from .dialect import to_spark
from .judge import echoscope_judge
from .params import BehaviourResult, CoordParams, ProgressFn
from .stages import HANDOVER, candidates, handover_arrow

#: every behaviour the Spark engine runs with results identical to DuckDB's (all of them: one definition each,
#: transpiled); a behaviour left out here would be left out of a default set with a note and refused when named
SPARK_BEHAVIOURS: tuple[str, ...] = tuple(COACTIONS)

#: Spark SQL settings for the run (restored afterwards): the engine's session turns whole-stage code
#: generation off for small measure queries; the pairing join over millions of rows needs it
RUN_CONF: dict[str, str] = {"spark.sql.codegen.wholeStage": "true"}


def check_supported(params: CoordParams) -> None:
    """Raise ConfigError when ``params`` asks for something the Spark engine does not run."""
    if params.semantics != "echoscope":
        raise ConfigError(f"--engine spark runs --semantics echoscope only; --semantics {params.semantics} "
                          "(the peers' conformance semantics) runs on DuckDB: use --engine duckdb")
    bad = [b for b in params.behaviours if b not in SPARK_BEHAVIOURS]
    if bad:
        raise ConfigError(f"--engine spark does not run behaviour(s) {', '.join(bad)} yet (supported: "
                          f"{', '.join(SPARK_BEHAVIOURS)}); use --engine duckdb for them")


def spark_default(params: CoordParams) -> tuple[CoordParams, dict[str, str]]:
    """``params`` for the Spark engine: of a default behaviour set, the behaviours Spark runs; and the others.

    A behaviour the user named and Spark does not run is refused (:func:`check_supported`); one that only
    came with ``default`` is left out with a note (``summary["skipped_behaviours"]``), so that ``--engine
    spark`` without ``--behaviour`` runs instead of refusing what nobody asked for.
    """
    if not params.default_behaviours or params.semantics != "echoscope":
        return params, {}
    keep = tuple(b for b in params.behaviours if b in SPARK_BEHAVIOURS)
    skipped = {b: "not on the Spark engine yet (run it with --engine duckdb)"
               for b in params.behaviours if b not in SPARK_BEHAVIOURS}
    if not skipped:
        return params, {}
    return dataclasses.replace(params, behaviours=keep), skipped


@dataclasses.dataclass(frozen=True)
class SparkRun:
    """A Spark session and where it reads the study (``echoscope.engine.SparkTarget``), with the engine's
    settings (the memory limit of the DuckDB side connection)."""

    session: Any
    target: Any
    settings: EngineSettings | None = None


@contextlib.contextmanager
def _conf(spark: Any, conf: dict[str, str]) -> Iterator[None]:
    old = {k: spark.conf.get(k, None) for k in conf}
    for k, v in conf.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


def _source(select: Any) -> Any:
    """What a select reads (sqlglot names the argument ``from_`` or ``from`` by version)."""
    frm = select.args.get("from_") or select.args.get("from")
    return frm.this if frm is not None else None


def _scan_position(select: Any) -> None:
    """Carry ``_part, _ri`` (a canonical table's scan position) up a chain of selects over one table scan."""
    node = select
    while True:
        if not isinstance(node, exp.Select) or node.args.get("joins"):
            raise ConfigError(f"a behaviour numbered in scan order must read one table: {select.sql('duckdb')[:200]}")
        node.select("_part", "_ri", copy=False)
        src = _source(node)
        if isinstance(src, exp.Table):
            return
        if not isinstance(src, exp.Subquery):
            raise ConfigError(f"no scan order in {select.sql('duckdb')[:200]}")
        node = src.this


class SparkTables:
    """Stage tables as Spark views (the backend of :mod:`.stages` on Spark; see :mod:`.backends`).

    A table is a temporary view named with this run's prefix; a materialised one (``keep``) is an eager local
    checkpoint, which cuts the lineage (lazy caching does not: the pruning rounds' plans then explode); cheap
    steps read once stay plain views. ``seconds`` holds the time of each step (``stats["spark_seconds"]``).
    """

    label = " (Spark)"

    def __init__(self, run: SparkRun, study: Any, sources: tuple[str, ...]) -> None:
        self.spark = run.session
        self.run = run
        self.study = study
        self.prefix = f"_cs{threading.get_ident() % 100000}_"
        self.names: dict[str, str] = {}
        self.frames: dict[str, Any] = {}
        self.stale: list[Any] = []
        self.seconds: dict[str, float] = {}
        for table in sources:
            self._view(table, _table_frame(self.spark, study, run.target, table))
        if {"posts", "likes"} <= set(sources):
            self._view("engagements", self.spark.sql(_rename(_engagements_sql(), self.names)))

    def _view(self, name: str, df: Any) -> Any:
        view = self.prefix + name.lstrip("_")
        old = self.frames.pop(name, None)
        df.createOrReplaceTempView(view)
        self.names[name] = view
        self.frames[name] = df
        if old is not None:
            self.stale.append(old)
        return df

    def _sql(self, sql: str, edit: Callable[[Any], None] | None = None) -> Any:
        return self.spark.sql(to_spark(sql, self.names, edit=edit))

    def make(self, name: str, sql: str, keep: bool = True, edit: Callable[[Any], None] | None = None) -> None:
        t = time.perf_counter()
        df = self._sql(sql, edit)
        self._view(name, df.localCheckpoint(eager=True) if keep else df)
        step = name.lstrip("_").removeprefix("ca_")
        self.seconds[step] = round(self.seconds.get(step, 0.0) + time.perf_counter() - t, 3)

    def actions(self, name: str, sql: str, order: str | None, *, pushdown: bool = True) -> None:
        # Spark has no row order: the action id is a rank (DuckDB's rowid, see the module docstring); pushdown
        # is DuckDB's concern (CoAction.pushdown)
        query = (f"SELECT {', '.join(ACTION_COLUMNS)}, CAST(row_number() OVER (ORDER BY {order or '_part, _ri'}) - 1 "
                 f"AS BIGINT) AS rowid FROM ({sql})")
        self.make(name, query, edit=None if order else lambda tree: _scan_position(_source(tree).this))

    def scalar(self, sql: str) -> Any:
        return self.rows(sql)[0][0]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._sql(sql).collect()]

    def count(self, name: str) -> int:
        return int(self.frames[name].count())

    def arrow(self, sql: str) -> pa.Table:
        return self._sql(sql).toArrow()

    def put(self, name: str, table: pa.Table) -> None:
        self._view(name, self.spark.createDataFrame(table))

    def append(self, name: str, sql: str) -> None:
        self.make(name, f"SELECT * FROM {name} UNION ALL {sql}")

    def pair_budget(self) -> None:
        return None  # Spark's aggregates spill by partition themselves

    def drop(self, *names: str) -> None:
        for n in names:
            if n in self.frames:
                self.spark.catalog.dropTempView(self.names.pop(n))
                self.frames.pop(n).unpersist()

    @contextlib.contextmanager
    def duckdb(self, *names: str) -> Iterator[Any]:
        con = duckdb_connection(self.run.settings, stage="coordination",
                                temp_directory=self.study.path / ".duckdb-tmp")
        try:
            for n in names:
                con.register(f"{n}_in", self.frames[n].toArrow())
                con.execute(f"CREATE TEMP TABLE {n} AS SELECT * FROM {n}_in")
                con.unregister(f"{n}_in")
            yield con
        finally:
            con.close()

    def close(self) -> None:
        for n in list(self.frames):
            self.drop(n)
        for df in self.stale:
            df.unpersist()
        self.stale.clear()


def _engagements_sql() -> str:
    from ..engine import ENGAGEMENTS_SQL, spark_sql

    return str(spark_sql(ENGAGEMENTS_SQL))


def _rename(spark_sql: str, names: dict[str, str]) -> str:
    """Spark SQL with its table names replaced (the run's own views)."""
    tree = sqlglot.parse_one(spark_sql, read="spark")
    for t in tree.find_all(exp.Table):
        if t.name in names and not t.args.get("db"):
            t.set("this", exp.to_identifier(names[t.name]))
    return str(tree.sql(dialect="spark"))


def _table_frame(spark: Any, study: Any, target: Any, table: str) -> Any:
    """A canonical table with its place in DuckDB's scan order: ``_part`` (manifest part) and ``_ri`` (its row).

    The parts are read where ``target`` says (the study directory, or a copy of it at ``data_root`` on an
    object store; see docs/scale-out.md). A table without parts is an empty frame of the canonical types (a
    study without logins finds no shared-ip actions, as on DuckDB).
    """
    from pyspark.sql import functions as F

    from .. import schema as S
    from ..engine import spark_read_parts

    cols = [f"`{f.name}`" for f in S.ALL_TABLES[table]]
    parts = study.manifest().table_parts(table)
    if not parts:
        empty = spark.createDataFrame(S.ALL_TABLES[table].empty_table())
        return empty.withColumn("_ri", F.lit(None).cast("bigint")).withColumn("_part", F.lit(None).cast("int"))
    frames = [spark_read_parts(spark, study, target, table, [p], S.ALL_TABLES[table])
              .select(*cols, F.col("_metadata.row_index").alias("_ri"))
              .withColumn("_part", F.lit(i)) for i, p in enumerate(parts)]
    return functools.reduce(lambda a, b: a.unionByName(b), frames)


def spark_candidates(spark: Any, study: Any, behaviour: str, params: CoordParams,
                     progress: ProgressFn) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """The data-sized stages of ``behaviour`` (:func:`.stages.candidates`) on Spark; the hand-over tables and stats.

    Parameters
    ----------
    spark : SparkRun or pyspark.sql.SparkSession
        The session and where it reads the study (a bare session reads where ``echoscope.engine.spark_target``
        resolves for the study).
    study : StudyStore
        Its Parquet parts are read directly (with their row positions, for the action ids).
    behaviour : str
        One of :data:`SPARK_BEHAVIOURS`.
    params : CoordParams
        With the behaviour's own window (``params.behaviour_params``).
    progress : callable
        Receives ``{"event": "stage", "message": ...}``.

    Returns
    -------
    tables : dict of str to pyarrow.Table
        The tables of :data:`.stages.HANDOVER` (``_ca_raw`` in action-id order) with DuckDB's column types.
    stats : dict
        As the DuckDB builder reports them, and ``spark_seconds`` per step.
    """
    from ..engine import spark_target

    check_supported(dataclasses.replace(params, behaviours=(behaviour,)))
    run = spark if isinstance(spark, SparkRun) else SparkRun(spark, spark_target(study))
    t = SparkTables(run, study, COACTIONS[behaviour].tables)
    try:
        with _conf(run.session, RUN_CONF):
            stats = candidates(t, behaviour, params, progress)
            t0 = time.perf_counter()
            tables = handover_arrow(t)
            t.seconds["to_arrow"] = round(time.perf_counter() - t0, 3)
            stats["spark_seconds"] = dict(t.seconds)
        return tables, stats
    finally:
        t.close()


def load_handover(con: Any, tables: dict[str, pa.Table]) -> None:
    """Write the hand-over tables into DuckDB temp tables of the same names (``_ca_raw`` in row order)."""
    with insertion_order(con):  # _ca_raw.rowid must be the action id
        for name in HANDOVER:
            con.register("_cs_in", tables[name])
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _cs_in")
            con.unregister("_cs_in")


def spark_edges(spark: Any, study: Any, con: Any, behaviour: str, params: CoordParams,
                progress: ProgressFn) -> BehaviourResult:
    """A ``network.BUILDERS``-style builder: the stages on Spark, hand-over into ``con``, the shared tail."""
    tables, stats = spark_candidates(spark, study, behaviour, params, progress)
    t = time.perf_counter()
    load_handover(con, tables)
    stats.setdefault("spark_seconds", {})["handover"] = round(time.perf_counter() - t, 3)
    del tables
    return echoscope_judge(con, behaviour, params, progress, stats)


def spark_builder(study: Any, params: CoordParams, target: Any = None,
                  settings: EngineSettings | None = None) -> Callable[..., BehaviourResult]:
    """The builder a run on the Spark backend uses in place of ``network.BUILDERS[params.semantics]``.

    ``target``: an ``echoscope.engine.SparkTarget``, a master URL, or None (``ECHOSCOPE_SPARK_MASTER``, the
    study's ``[spark]`` configuration, else ``local[2]``). Raises ConfigError (before any Spark session
    starts) for what the Spark engine does not run.
    """
    from ..engine import SparkTarget, spark_session, spark_target

    check_supported(params)
    if not isinstance(target, SparkTarget):
        target = spark_target(study, master=target)
    return functools.partial(spark_edges, SparkRun(spark_session(target), target, settings), study)


__all__ = ["HANDOVER", "RUN_CONF", "SPARK_BEHAVIOURS", "SparkRun", "SparkTables", "check_supported",
           "load_handover", "spark_builder", "spark_candidates", "spark_default", "spark_edges"]

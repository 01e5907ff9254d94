"""The query engine: one connection to a study's tables, on embedded DuckDB or on Spark, configured in one place.

Every analysis is an Ibis expression or SQL over the study's views: the canonical tables (views over their
Parquet parts: nothing is loaded into memory), the derived ``engagements`` and ``targets`` views
(:mod:`.views`) and the result tables. An :class:`Engine` holds that connection for one study:

* ``engine.ibis`` / ``engine.raw``: the Ibis DuckDB backend and its raw DuckDB connection. DuckDB is always
  there, also when the backend is Spark: the stages after the data-sized ones (null models on integer
  tables, clusters, the report's aggregates) run in it.
* ``engine.spark()``: the Ibis PySpark backend with the same views (``spark`` extra), when
  ``settings.backend == "spark"`` or asked for.
* ``with engine.stage("coordination"): ...`` applies that stage's memory limit (:mod:`echoscope.settings`,
  the only place that sets DuckDB's memory and threads) and restores the previous one after.

Views follow the manifest: when a write changes the study's generation, the next use re-registers them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ..errors import ConfigError
from ..settings import EngineSettings, configure_duckdb, memory_hint, resolve_settings, set_memory_limit
from ..store.study import StudyStore
from .spark import (
    SPARK_ENV,
    SparkTarget,
    connect_spark,
    parse_spark_conf,
    spark_read_parts,
    spark_session,
    spark_sql,
    spark_target,
)
from .views import ENGAGEMENTS_SQL, TARGETS_SQL, engagements_by, register_views


class Engine:
    """A study's query connection (see the module docstring).

    Parameters
    ----------
    study : StudyStore
        The study.
    settings : EngineSettings, optional
        Backend, memory and threads; default: resolved from the study's ``echoscope.toml`` and the environment.
    runs : dict, optional
        Analysis -> stored run id whose result tables the views show instead of the latest (``--run ID``).
    spark : dict, optional
        ``master``, ``data_root``, ``conf`` for the Spark backend (:func:`echoscope.engine.spark.spark_target`).
    """

    def __init__(self, study: StudyStore, settings: EngineSettings | None = None, *,
                 runs: dict[str, str] | None = None, spark: dict[str, Any] | None = None) -> None:
        self.study = study
        self.settings = settings or resolve_settings(study.config)
        self.runs = dict(runs or {})
        self.spark_options = dict(spark or {})
        self._ibis: Any = None
        self._generation: int | None = None
        self._stage = "query"

    @property
    def backend(self) -> str:
        return self.settings.backend

    # ------------------------------------------------------------------ DuckDB
    @property
    def ibis(self) -> Any:
        """The Ibis DuckDB backend with every view of the current manifest registered."""
        gen = self.study.manifest().generation
        if self._ibis is None:
            import ibis

            self._ibis = ibis.duckdb.connect()
            configure_duckdb(self._ibis.con, self.settings, stage=self._stage,
                             temp_directory=self.study.path / ".duckdb-tmp")
        if self._generation != gen:
            register_views(self._ibis.con, self.study, self.runs)
            self._generation = gen
        return self._ibis

    @property
    def raw(self) -> Any:
        """The raw DuckDB connection (views registered)."""
        return self.ibis.con

    def refresh(self) -> None:
        """Re-register the views now (after a write in this process)."""
        self._generation = None

    def use_runs(self, runs: dict[str, str]) -> None:
        """Show these stored runs' tables in the views instead of the latest."""
        self.runs.update(runs)
        self.refresh()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[Engine]:
        """Run a stage with its memory limit (restored after); out-of-memory becomes a one-line ConfigError."""
        import duckdb

        raw = self.raw
        before = self._stage
        self._stage = name
        set_memory_limit(raw, self.settings.memory_for(name))
        try:
            yield self
        except duckdb.OutOfMemoryException as exc:
            hint = memory_hint(name, self.settings.memory_for(name))
            raise ConfigError(f"{hint} ({str(exc).splitlines()[0][:160]})") from exc
        finally:
            self._stage = before
            with contextlib.suppress(Exception):
                set_memory_limit(raw, self.settings.memory_for(before))

    def sql(self, query: str, params: list[Any] | None = None) -> pa.Table:
        """Run SQL against the study's views; returns Arrow."""
        return self.raw.execute(query, params or []).fetch_arrow_table()

    def rows(self, query: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Run SQL and return small results as Python rows."""
        return self.sql(query, params).to_pylist()

    def scalar(self, query: str, params: list[Any] | None = None) -> Any:
        row = self.raw.execute(query, params or []).fetchone()
        return row[0] if row else None

    def has_table(self, name: str) -> bool:
        """Is ``name`` a table or view of this connection (a result table that was written, say)?"""
        return name in self.ibis.list_tables()

    def table(self, name: str) -> Any:
        """Ibis table expression of a canonical table, a derived view or a result table."""
        con = self.ibis
        if name not in con.list_tables():
            known = sorted(con.list_tables())
            raise ConfigError(f"no table '{name}' in {self.study.path}; tables: {', '.join(known)}")
        return con.table(name)

    def columns(self, name: str) -> list[str]:
        """Column names of a table or view ([] when it is absent)."""
        if not self.has_table(name):
            return []
        return [r[0] for r in self.raw.execute(f'DESCRIBE "{name}"').fetchall()]

    # ------------------------------------------------------------------ Spark
    def spark(self) -> Any:
        """The Ibis PySpark backend with the same views (needs the ``spark`` extra)."""
        opts = self.spark_options
        return connect_spark(self.study, opts.get("master"), data_root=opts.get("data_root"), conf=opts.get("conf"))

    def spark_target(self) -> SparkTarget:
        opts = self.spark_options
        return spark_target(self.study, master=opts.get("master"), data_root=opts.get("data_root"),
                            conf=opts.get("conf"))

    def close(self) -> None:
        if self._ibis is not None:
            with contextlib.suppress(Exception):
                self._ibis.disconnect()
            self._ibis = None
            self._generation = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Engine({self.study!r}, backend={self.backend!r})"


def open_engine(study: StudyStore, *, backend: str | None = None, memory_limit: str | None = None,
                threads: int | None = None, runs: dict[str, str] | None = None,
                spark_master: str | None = None, spark_data_root: str | None = None,
                spark_conf: Any = None) -> Engine:
    """An :class:`Engine` for ``study`` with settings resolved from explicit values, environment and config."""
    settings = resolve_settings(study.config, backend=backend, memory_limit=memory_limit, threads=threads)
    spark = {k: v for k, v in (("master", spark_master), ("data_root", spark_data_root), ("conf", spark_conf)) if v}
    if spark and settings.backend != "spark":
        raise ConfigError(f"--spark-{next(iter(spark)).replace('_', '-')} needs --engine spark")
    return Engine(study, settings, runs=runs, spark=spark)


def connect_study(study: StudyStore) -> Any:
    """An Ibis DuckDB connection with the study's tables, views and results registered (a new one)."""
    return Engine(study).ibis


__all__ = ["ENGAGEMENTS_SQL", "SPARK_ENV", "TARGETS_SQL", "Engine", "SparkTarget", "connect_spark", "connect_study",
           "engagements_by", "open_engine", "parse_spark_conf", "register_views", "spark_read_parts", "spark_session",
           "spark_sql", "spark_target"]

"""Connections the measures run on: a registry from engine name to a function giving an Ibis backend.

Both engines see the same names (``engagements``, ``targets``, ``posts``, ``account_status``, ``accounts`` and
every result table), so :mod:`echoscope.measures.core` builds one set of expressions for both.

The Spark connection is built here rather than with :func:`echoscope.engine.connect_spark` because that
helper (a) registers tables without columns when a table has no parts, (b) does not register result tables
(``coord_members``, ``account_scores``) and (c) runs ``ENGAGEMENTS_SQL`` as written, whose
``EXTRACT(EPOCH FROM ...)`` Spark SQL rejects. This module reuses the same SQL texts and rewrites only that
function with sqlglot (``unix_micros(x) / 1e6``, exact to the microsecond as in DuckDB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .. import schema as S
from ..engine import ENGAGEMENTS_SQL, TARGETS_SQL
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..study import Study

_SPARK_SESSIONS: dict[str, Any] = {}


def connect_duckdb(study: Study, **options: Any) -> Any:
    """The study's own Ibis DuckDB connection (views over its Parquet parts)."""
    return study.con()


def _spark_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    if pa.types.is_list(t):
        return f"ARRAY<{_spark_type(t.value_type)}>"
    return {"string": "STRING", "int64": "BIGINT", "bool": "BOOLEAN", "double": "DOUBLE"}[str(t)]


def spark_sql(sql: str) -> str:
    """Transpile one of the engine's DuckDB SQL texts to Spark SQL (sqlglot), fixing ``EXTRACT(EPOCH ...)``."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")

    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Extract) and node.this.name.upper() == "EPOCH":
            micros = exp.Anonymous(this="unix_micros", expressions=[node.expression])
            return exp.Div(this=micros, expression=exp.Literal.number("1e6"))
        return node

    return tree.transform(fix).sql(dialect="spark")


def spark_session(master: str = "local[2]") -> Any:
    """A Spark session (one per master URL per process; a local one takes ~30 s to start)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ConfigError("--engine spark needs the optional extra: pip install 'echoscope[spark]'") from exc
    if master not in _SPARK_SESSIONS:
        _SPARK_SESSIONS[master] = (
            SparkSession.builder.master(master).appName("echoscope")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # small local data: compiling generated code per stage costs more than it saves
            .config("spark.sql.codegen.wholeStage", "false")
            .config("spark.sql.adaptive.enabled", "false")
            .getOrCreate())
        _SPARK_SESSIONS[master].sparkContext.setLogLevel("ERROR")
    return _SPARK_SESSIONS[master]


def connect_spark(study: Study, master: str = "local[2]", **options: Any) -> Any:
    """An Ibis PySpark connection with the study's tables, views and result tables registered."""
    import ibis

    spark = spark_session(master)
    m = study.manifest()
    for name, schema in S.ALL_TABLES.items():
        parts = [str(study.path / p) for p in m["tables"].get(name, {}).get("parts", [])]
        view = "targets_raw" if name == "targets" else name
        if parts:
            df = spark.read.parquet(*parts).select(*[f"`{f.name}`" for f in schema])
        else:
            ddl = ", ".join(f"`{f.name}` {_spark_type(f.type)}" for f in schema)
            df = spark.createDataFrame([], ddl)
        df.createOrReplaceTempView(view)
    spark.sql(spark_sql(TARGETS_SQL)).createOrReplaceTempView("targets")
    spark.sql(spark_sql(ENGAGEMENTS_SQL)).createOrReplaceTempView("engagements")
    for name, r in m.get("results", {}).items():
        parts = [str(study.path / p) for p in r.get("parts", [])]
        if parts:
            spark.read.parquet(*parts).createOrReplaceTempView(name)
        else:
            spark.catalog.dropTempView(name)
    return ibis.pyspark.connect(spark)


#: engine name -> connection factory
ENGINES: dict[str, Callable[..., Any]] = {"duckdb": connect_duckdb, "spark": connect_spark}


def connect(study: Study, engine: str = "duckdb", **options: Any) -> Any:
    """Connect ``study`` on ``engine`` (a key of :data:`ENGINES`)."""
    try:
        factory = ENGINES[engine]
    except KeyError:
        raise ConfigError(f"engine '{engine}' is not known; use one of: {', '.join(ENGINES)}") from None
    return factory(study, **options)

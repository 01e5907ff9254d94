"""Backend selection: every analysis is an Ibis expression, run on embedded DuckDB by default.

The study's canonical tables are registered as DuckDB views over their Parquet parts (nothing is loaded into
memory), plus the derived ``engagements`` view. A Spark backend (``pyspark`` extra) registers the same views
from the same Parquet parts; see :func:`connect_spark`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import schema as S
from .errors import ConfigError

if TYPE_CHECKING:
    from .study import Study

#: the engagements view, written once in SQL that both DuckDB and Spark SQL accept
ENGAGEMENTS_SQL = """
SELECT p.platform,
       p.post_id AS engagement_id,
       p.account_id AS actor_id,
       p.kind,
       p.ref_post_id AS subject_post_id,
       COALESCE(p.ref_account_id, s.account_id) AS subject_account_id,
       p.created_at,
       CAST(EXTRACT(EPOCH FROM p.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE) AS latency_s
FROM posts p
LEFT JOIN posts s ON s.platform = p.platform AND s.post_id = p.ref_post_id
WHERE p.kind IN ('repost', 'reply', 'quote')
UNION ALL
SELECT l.platform,
       l.account_id || ':' || l.post_id AS engagement_id,
       l.account_id AS actor_id,
       'like' AS kind,
       l.post_id AS subject_post_id,
       s.account_id AS subject_account_id,
       l.created_at,
       CAST(EXTRACT(EPOCH FROM l.created_at) - EXTRACT(EPOCH FROM s.created_at) AS DOUBLE) AS latency_s
FROM likes l
LEFT JOIN posts s ON s.platform = l.platform AND s.post_id = l.post_id
"""

#: targets with handles resolved against the accounts table (case-insensitive)
TARGETS_SQL = """
SELECT COALESCE(t.account_id, a.account_id) AS account_id,
       COALESCE(t.handle, a.handle) AS handle,
       t."group" AS "group",
       COALESCE(t.label, a.affiliation_label) AS label
FROM targets_raw t
LEFT JOIN (SELECT account_id, handle, affiliation_label,
                  row_number() OVER (PARTITION BY lower(handle) ORDER BY observed_at DESC NULLS LAST) AS rn
           FROM accounts WHERE handle IS NOT NULL) a
  ON t.account_id IS NULL AND lower(t.handle) = lower(a.handle) AND a.rn = 1
"""


def _duckdb_type(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_list(t):
        return _duckdb_type(t.value_type) + "[]"
    return {"string": "VARCHAR", "int64": "BIGINT", "bool": "BOOLEAN", "double": "DOUBLE"}[str(t)]


def empty_select(schema: Any) -> str:
    cols = ", ".join(f'CAST(NULL AS {_duckdb_type(f.type)}) AS "{f.name}"' for f in schema)
    return f"SELECT {cols} WHERE false"


def parquet_select(parts: list[str], schema: Any) -> str:
    if not parts:
        return empty_select(schema)
    files = ", ".join("'" + p.replace("'", "''") + "'" for p in parts)
    cols = ", ".join(f'"{f.name}"' for f in schema) if schema is not None else "*"
    return f"SELECT {cols} FROM read_parquet([{files}])"


def configure_duckdb(raw: Any, *, memory_limit: str = "1GB", temp_directory: str | None = None,
                     threads: int | None = None) -> None:
    raw.execute("SET TimeZone='UTC'")
    raw.execute(f"SET memory_limit='{memory_limit}'")
    if temp_directory:
        raw.execute("SET temp_directory=" + "'" + str(temp_directory).replace("'", "''") + "'")
    if threads:
        raw.execute(f"SET threads={int(threads)}")
    raw.execute("SET preserve_insertion_order=false")
    raw.execute("SET enable_progress_bar=false")


def connect_study(study: Study) -> Any:
    """An Ibis DuckDB connection with the study's tables, views and results registered."""
    import ibis

    cfg = study.config.get("engine", {})
    backend = cfg.get("backend", "duckdb")
    if backend not in ("duckdb", "spark"):
        raise ConfigError(f"engine backend '{backend}' in echoscope.toml is not known; use duckdb or spark")
    con = ibis.duckdb.connect()
    raw = con.con
    configure_duckdb(raw, memory_limit=str(cfg.get("memory_limit", "1GB")),
                     temp_directory=str(study.path / ".duckdb-tmp"))
    register_views(raw, study)
    return con


def register_views(raw: Any, study: Study) -> None:
    """Create (or replace) the study's views on a raw DuckDB connection."""
    m = study.manifest()
    for name, schema in S.ALL_TABLES.items():
        parts = [str(study.path / p) for p in m["tables"].get(name, {}).get("parts", [])]
        view = "targets_raw" if name == "targets" else name
        raw.execute(f'CREATE OR REPLACE VIEW "{view}" AS {parquet_select(parts, schema)}')
    raw.execute(f"CREATE OR REPLACE VIEW targets AS {TARGETS_SQL}")
    raw.execute(f"CREATE OR REPLACE VIEW engagements AS {ENGAGEMENTS_SQL}")
    for name, r in m.get("results", {}).items():
        parts = [str(study.path / p) for p in r.get("parts", [])]
        if parts:
            raw.execute(f'CREATE OR REPLACE VIEW "{name}" AS {parquet_select(parts, None)}')


_SPARK_SESSIONS: dict[str, Any] = {}


def _spark_type(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    if pa.types.is_list(t):
        return f"ARRAY<{_spark_type(t.value_type)}>"
    return {"string": "STRING", "int64": "BIGINT", "bool": "BOOLEAN", "double": "DOUBLE"}[str(t)]


def spark_sql(sql: str) -> str:
    """Transpile one of the engine's DuckDB SQL texts to Spark SQL (sqlglot), fixing ``EXTRACT(EPOCH ...)``.

    Spark SQL has no ``EXTRACT(EPOCH FROM ts)``; it becomes ``unix_micros(ts) / 1e6``, exact to the
    microsecond as in DuckDB.
    """
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
        raise ConfigError("the Spark engine needs the optional extra: pip install 'echoscope[spark]'") from exc
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
    """An Ibis PySpark connection with the study's tables, views and result tables registered.

    The same names as :func:`connect_study` (``engagements``, ``targets``, every canonical and result table);
    a table with no parts is registered empty with its canonical columns, so queries still compile.
    """
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

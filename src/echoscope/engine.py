"""Backend selection: every analysis is an Ibis expression, run on embedded DuckDB by default.

The study's canonical tables are registered as DuckDB views over their Parquet parts (nothing is loaded into
memory), plus the derived ``engagements`` view. A Spark backend (``pyspark`` extra) registers the same views
from the same Parquet parts; see :func:`connect_spark`.
"""

from __future__ import annotations

import dataclasses
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


#: environment variables read by :func:`spark_target` (after explicit arguments, before the study's config)
SPARK_ENV = {"master": "ECHOSCOPE_SPARK_MASTER", "data_root": "ECHOSCOPE_SPARK_DATA_ROOT"}


@dataclasses.dataclass(frozen=True)
class SparkTarget:
    """Where a Spark run goes: the master URL, where the executors read the study's Parquet parts, extra conf.

    Attributes
    ----------
    master : str
        Spark master URL: ``local[2]`` (this machine, two cores), ``spark://host:7077``, ``yarn``,
        ``k8s://https://host:443``.
    data_root : str or None
        URI under which the study directory's files are found by the executors, e.g.
        ``s3a://bucket/studies/mystudy`` after ``aws s3 sync mystudy s3://bucket/studies/mystudy``. A part
        ``tables/posts/part-1.parquet`` of the manifest is read as ``<data_root>/tables/posts/part-1.parquet``.
        None: the study directory itself (a local master, or a filesystem every executor mounts).
    conf : tuple of (str, str)
        Extra Spark settings (``spark.hadoop.fs.s3a.endpoint``, ``spark.executor.memory``, ...), applied when
        the session is created.
    """

    master: str = "local[2]"
    data_root: str | None = None
    conf: tuple[tuple[str, str], ...] = ()

    @property
    def local(self) -> bool:
        return self.master.startswith("local")

    def part_uri(self, study: Study, part: str) -> str:
        """Where the executors read the manifest path ``part`` (relative to the study directory)."""
        if self.data_root is None:
            return str(study.path / part)
        return f"{self.data_root.rstrip('/')}/{part}"


def parse_spark_conf(items: Any) -> tuple[tuple[str, str], ...]:
    """``["k=v", ...]`` or a mapping to ``((k, v), ...)``; a ConfigError names an item without ``=``."""
    if not items:
        return ()
    if isinstance(items, dict):
        return tuple((str(k), str(v)) for k, v in items.items())
    out = []
    for item in items:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            out.append((str(item[0]), str(item[1])))
            continue
        key, sep, value = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--spark-conf '{item}' is not KEY=VALUE, e.g. spark.executor.memory=8g")
        out.append((key.strip(), value.strip()))
    return tuple(out)


def spark_target(study: Study | None = None, *, master: str | None = None, data_root: str | None = None,
                 conf: Any = None) -> SparkTarget:
    """Resolve a :class:`SparkTarget`: explicit arguments, then ``ECHOSCOPE_SPARK_MASTER`` /
    ``ECHOSCOPE_SPARK_DATA_ROOT``, then the study's ``[spark]`` section of ``echoscope.toml`` (``master``,
    ``data_root``, a ``[spark.conf]`` table), then ``local[2]`` reading the study directory.

    Explicit ``conf`` items are added to (and override) the config file's.
    """
    import os

    cfg = study.config.get("spark", {}) if study is not None else {}
    if not isinstance(cfg, dict):
        raise ConfigError("[spark] in echoscope.toml must be a table (master, data_root, [spark.conf])")
    m = master or os.environ.get(SPARK_ENV["master"]) or cfg.get("master") or "local[2]"
    root = data_root or os.environ.get(SPARK_ENV["data_root"]) or cfg.get("data_root") or None
    merged = dict(parse_spark_conf(cfg.get("conf")))
    merged.update(dict(parse_spark_conf(conf)))
    return SparkTarget(master=str(m), data_root=str(root) if root else None, conf=tuple(merged.items()))


def spark_session(master: str | SparkTarget = "local[2]") -> Any:
    """A Spark session (one per master URL per process; a local one takes ~30 s to start).

    Every session works in UTC. A local master gets settings for small data on few cores (two shuffle
    partitions, no whole-stage code generation, no adaptive execution); a cluster keeps Spark's defaults,
    plus the target's ``conf``. Spark allows one running context per process: a second master URL in the same
    process gets the first session (its settings as they were).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ConfigError("the Spark engine needs the optional extra: pip install 'echoscope[spark]'") from exc
    target = master if isinstance(master, SparkTarget) else SparkTarget(master=master)
    if target.master not in _SPARK_SESSIONS:
        b = (SparkSession.builder.master(target.master).appName("echoscope")
             .config("spark.sql.session.timeZone", "UTC"))
        if target.local:
            b = (b.config("spark.sql.shuffle.partitions", "2")
                 .config("spark.default.parallelism", "2")
                 .config("spark.ui.enabled", "false")
                 .config("spark.ui.showConsoleProgress", "false")
                 # small local data: compiling generated code per stage costs more than it saves
                 .config("spark.sql.codegen.wholeStage", "false")
                 .config("spark.sql.adaptive.enabled", "false"))
        for k, v in target.conf:
            b = b.config(k, v)
        _SPARK_SESSIONS[target.master] = b.getOrCreate()
        _SPARK_SESSIONS[target.master].sparkContext.setLogLevel("ERROR")
    return _SPARK_SESSIONS[target.master]


def spark_read_parts(spark: Any, study: Study, target: SparkTarget, table: str, parts: list[str]) -> Any:
    """A DataFrame over the study's Parquet ``parts`` of ``table`` at the target's ``data_root``.

    A part missing there (the study not synced, or synced before its last change) is a ConfigError that says
    which and how to fix it, instead of Spark's stack trace.
    """
    uris = [target.part_uri(study, p) for p in parts]
    try:
        return spark.read.parquet(*uris)
    except Exception as exc:
        if "PATH_NOT_FOUND" not in str(exc) and "Path does not exist" not in str(exc):
            raise
        where = target.data_root or str(study.path)
        raise ConfigError(
            f"{table}: a Parquet part of {study.path} is missing under {where} ({str(exc).splitlines()[0][:200]}); "
            "copy the study directory there again (e.g. aws s3 sync STUDY s3://bucket/path) so that it holds "
            "every part the manifest names") from None


def connect_spark(study: Study, master: str | None = None, *, data_root: str | None = None, conf: Any = None,
                  **options: Any) -> Any:
    """An Ibis PySpark connection with the study's tables, views and result tables registered.

    The same names as :func:`connect_study` (``engagements``, ``targets``, every canonical and result table);
    a table with no parts is registered empty with its canonical columns, so queries still compile. ``master``,
    ``data_root`` and ``conf`` are resolved by :func:`spark_target` (a cluster reads the parts from
    ``data_root``, e.g. an object store; results come back to this process and are written into the study).
    """
    import ibis

    target = spark_target(study, master=master, data_root=data_root, conf=conf)
    spark = spark_session(target)
    m = study.manifest()
    for name, schema in S.ALL_TABLES.items():
        parts = m["tables"].get(name, {}).get("parts", [])
        view = "targets_raw" if name == "targets" else name
        if parts:
            df = spark_read_parts(spark, study, target, name, parts).select(*[f"`{f.name}`" for f in schema])
        else:
            ddl = ", ".join(f"`{f.name}` {_spark_type(f.type)}" for f in schema)
            df = spark.createDataFrame([], ddl)
        df.createOrReplaceTempView(view)
    spark.sql(spark_sql(TARGETS_SQL)).createOrReplaceTempView("targets")
    spark.sql(spark_sql(ENGAGEMENTS_SQL)).createOrReplaceTempView("engagements")
    for name, r in m.get("results", {}).items():
        parts = r.get("parts", [])
        if parts:
            spark_read_parts(spark, study, target, name, parts).createOrReplaceTempView(name)
        else:
            spark.catalog.dropTempView(name)
    return ibis.pyspark.connect(spark)

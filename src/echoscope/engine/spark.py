"""The Spark backend: sessions, where a cluster finds the study's parts, and the same views as on DuckDB.

A Spark backend (``pyspark`` extra) registers the study's tables and the derived ``engagements`` and
``targets`` views from the same Parquet parts and the same SQL texts (transpiled by sqlglot), so one set of
expressions runs on both engines; see :func:`connect_spark`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import schema as S
from ..errors import ConfigError
from .views import ENGAGEMENTS_SQL, TARGETS_SQL

if TYPE_CHECKING:
    from ..store.study import StudyStore as Study

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
            # absolute: the Spark JVM keeps the working directory it started in, which need not be ours
            return str((Path(study.path) / part).resolve())
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


def spark_read_parts(spark: Any, study: Study, target: SparkTarget, table: str, parts: list[str],
                     schema: Any = None) -> Any:
    """A DataFrame over the study's Parquet ``parts`` of ``table`` at the target's ``data_root``.

    With ``schema`` (a canonical Arrow schema) the parts are read with it: a column the older parts lack (added
    to the schema after they were written, e.g. ``posts.media_hashes``) reads as null. A part missing there (the
    study not synced, or synced before its last change) is a ConfigError that says which and how to fix it,
    instead of Spark's stack trace.
    """
    uris = [target.part_uri(study, p) for p in parts]
    try:
        if schema is not None:
            return spark.read.schema(", ".join(f"`{f.name}` {_spark_type(f.type)}" for f in schema)).parquet(*uris)
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
        parts = m.table_parts(name)
        view = "targets_raw" if name == "targets" else name
        if parts:
            df = spark_read_parts(spark, study, target, name, parts, schema).select(*[f"`{f.name}`" for f in schema])
        else:
            ddl = ", ".join(f"`{f.name}` {_spark_type(f.type)}" for f in schema)
            df = spark.createDataFrame([], ddl)
        df.createOrReplaceTempView(view)
    spark.sql(spark_sql(TARGETS_SQL)).createOrReplaceTempView("targets")
    spark.sql(spark_sql(ENGAGEMENTS_SQL)).createOrReplaceTempView("engagements")
    for name in m.result_names():
        parts = m.result_parts(name)
        if parts:
            spark_read_parts(spark, study, target, name, parts).createOrReplaceTempView(name)
        else:
            spark.catalog.dropTempView(name)
    return ibis.pyspark.connect(spark)

"""Co-action networks on Spark: the data-sized stages in Spark SQL, everything after them unchanged.

Why shaped so: of a coordination run only the first stages grow with the data -- reading the actions,
pruning accounts and objects, the dense-window guard, pairing each action with those inside its window and
aggregating the pairs per (account pair, object). What follows works on what they leave: the per-object
and per-pair tables, the candidate edges, the null model, Leiden clusters and the summaries. So this module
runs exactly those stages of :func:`echoscope.coordination.network.echoscope_edges` in Spark SQL, writes
their results into the study's DuckDB connection as the temporary tables the DuckDB builder would have left
at that point (``_ca_raw``, ``_ca_acc``, ``_ca_obj``, ``_ca_idf``, ``_ca_act``, ``_ca_pin``, ``_ca_abo``),
and hands over to the same downstream code: candidate edges, null model (:func:`network._null_model`),
p-values, evidence, held-out validation, fusion and clustering (:mod:`.api`).

Identical results need identical integer ids. Account and object ids are ranks of the string ids on both
engines (both order strings by their UTF-8 bytes); an action's id ``eid`` is its position among the
behaviour's actions in the order of the posts' Parquet parts (manifest order) and rows, which is the order
DuckDB's scan gives ``_ca_raw`` (its ``rowid``). The null model's shuffles and the object halves use
DuckDB's ``hash()``, which Spark does not have: they run in DuckDB, on the tables handed over, so p-values,
cut-offs and validation are the same. Only floating-point sums (``weight_idf``, ``mean_gap_s``, null means
and what follows from them, as between two DuckDB runs) may differ in the last bits (summation order). The evidence action of a (pair, object) with several
equally close action pairs is the smallest action pair on Spark; DuckDB's ``arg_min`` picks any of them.

Supported now: ``--semantics echoscope`` with the behaviours in :data:`SPARK_BEHAVIOURS` (co-retweet,
co-reply, co-quote over the posts; rapid-fire, early-amplify, co-latency over the engagements), every null
model. Anything else raises :class:`~echoscope.errors.ConfigError`
naming what is missing (see docs/coordination.md, "Spark").
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

from ..errors import ConfigError
from . import coactions as C
from . import network as N
from .network import BehaviourResult, CoordParams

ProgressFn = Callable[[dict[str, Any]], None]

#: behaviour -> the posts.kind whose ref_post_id is the object (coactions._ref_kind, in Spark SQL)
POST_BEHAVIOURS: dict[str, str] = {"co-retweet": "repost", "co-reply": "reply", "co-quote": "quote"}

#: behaviours over the engagements view (their actions are posts answering a post, with the latency after it):
#: behaviour -> (engagement kinds, latency cap: None or a function of the parameters)
ENGAGEMENT_BEHAVIOURS: dict[str, tuple[str, Callable[[CoordParams], float | None]]] = {
    "rapid-fire": (C.AMPLIFY_KINDS, lambda p: float(p.rapid_seconds)),
    "early-amplify": (C.ENGAGE_KINDS, lambda p: float(p.early_seconds)),
    "co-latency": (C.ENGAGE_KINDS, lambda p: sorted(float(x) for x in p.latency_buckets)[-1]),
}

#: every behaviour the Spark engine runs
SPARK_BEHAVIOURS: tuple[str, ...] = tuple(POST_BEHAVIOURS) + tuple(ENGAGEMENT_BEHAVIOURS)

#: Spark SQL settings for the run (restored afterwards): the engine's session turns whole-stage code
#: generation off for small measure queries; the pairing join over millions of rows needs it
RUN_CONF: dict[str, str] = {"spark.sql.codegen.wholeStage": "true"}

#: what the DuckDB builder leaves at the hand-over point, in the order it is written
HANDOVER = ("_ca_raw", "_ca_acc", "_ca_obj", "_ca_idf", "_ca_act", "_ca_pin", "_ca_abo")



def check_supported(params: CoordParams) -> None:
    """Raise ConfigError when ``params`` asks for something the Spark engine does not run yet."""
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


# ---------------------------------------------------------------------------------------------- Spark
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


class _Views:
    """Materialised Spark temp views of one run (cached, dropped at the end)."""

    def __init__(self, spark: Any, prefix: str) -> None:
        self.spark = spark
        self.prefix = prefix
        self.frames: dict[str, Any] = {}
        self.stale: list[Any] = []
        #: seconds per materialised step (reported as stats["spark_seconds"])
        self.seconds: dict[str, float] = {}

    def name(self, n: str) -> str:
        return f"{self.prefix}{n}"

    def sql(self, sql: str) -> Any:
        return self.spark.sql(sql.replace("{P}", self.prefix))

    def make(self, n: str, sql: str, keep: bool = True) -> Any:
        """Run ``sql`` (``{P}`` stands for this run's view prefix) as view ``n``, materialised when ``keep``.

        Materialising is an eager local checkpoint (one Spark job): it cuts the lineage, which lazy caching
        does not (the pruning rounds' plans then explode); cheap steps read once stay plain views.
        """
        t = time.perf_counter()
        df = self.sql(sql).localCheckpoint(eager=True) if keep else self.sql(sql)
        self.seconds[n] = round(self.seconds.get(n, 0.0) + time.perf_counter() - t, 3)
        old = self.frames.pop(n, None)
        df.createOrReplaceTempView(self.name(n))
        self.frames[n] = df
        if old is not None:
            self.stale.append(old)
        return df

    def count(self, n: str) -> int:
        return int(self.frames[n].count())

    def scalar(self, sql: str) -> Any:
        return self.sql(sql).collect()[0][0]

    def close(self) -> None:
        for n, df in self.frames.items():
            self.spark.catalog.dropTempView(self.name(n))
            df.unpersist()
        for df in self.stale:
            df.unpersist()
        self.frames.clear()
        self.stale.clear()


def _posts_frame(spark: Any, study: Any) -> Any:
    """The study's posts with their place in DuckDB's scan order: (manifest part, row in the part).

    The parts are read where :func:`echoscope.engine.spark_target` says (the study directory, or a copy of it
    at ``data_root`` on an object store; see docs/scale-out.md).
    """
    from pyspark.sql import functions as F

    from .. import schema as S
    from ..engine import spark_read_parts, spark_target

    parts = study.manifest()["tables"].get("posts", {}).get("parts", [])
    cols = ["platform", "account_id", "post_id", "ref_post_id", "kind", "created_at"]
    if not parts:
        ddl = ", ".join(f"`{f.name}` {_spark_type(f.type)}" for f in S.ALL_TABLES["posts"] if f.name in cols)
        return spark.createDataFrame([], ddl + ", _part INT, _ri BIGINT")
    target = spark_target(study)
    frames = [spark_read_parts(spark, study, target, "posts", [p])
              .select(*cols, F.col("_metadata.row_index").alias("_ri"))
              .withColumn("_part", F.lit(i)) for i, p in enumerate(parts)]
    return functools.reduce(lambda a, b: a.unionByName(b), frames)


def _spark_type(t: Any) -> str:
    from ..engine import _spark_type as st

    return str(st(t))


def _lit(x: float) -> str:
    """A double literal in Spark SQL (``60.0`` alone is a decimal there)."""
    return f"CAST({float(x)!r} AS DOUBLE)"


def spark_candidates(spark: Any, study: Any, behaviour: str, params: CoordParams,
                     progress: ProgressFn) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """The data-sized stages of ``echoscope_edges`` in Spark; returns the hand-over tables and their stats.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session (``echoscope.engine.spark_session()``).
    study : echoscope.Study
        Its posts' Parquet parts are read directly (with their row positions, for the action ids).
    behaviour : str
        One of :data:`SPARK_BEHAVIOURS`.
    params : CoordParams
        ``window``, ``min_repeat``, ``min_weight``, ``max_window_actions`` are used here.
    progress : callable
        Receives ``{"event": "stage", "message": ...}``.

    Returns
    -------
    tables : dict of str to pyarrow.Table
        ``_ca_raw`` (in action-id order), ``_ca_acc``, ``_ca_obj``, ``_ca_idf``, ``_ca_act``, ``_ca_pin``,
        ``_ca_abo``: the columns and types of the DuckDB builder's temp tables of those names.
    stats : dict
        ``actions``, ``accounts``, ``accounts_after_pruning``, ``actions_after_pruning``, ``guard``,
        ``actions_paired``, ``pairs_within_window``, ``pair_object_rows``, as the DuckDB builder reports them.
    """
    check_supported(CoordParams(behaviours=(behaviour,), semantics=params.semantics))
    w = float(params.window)
    W = _lit(w)
    k = max(int(params.min_repeat), int(params.min_weight))
    v = _Views(spark, f"_cs{threading.get_ident() % 100000}_")
    stats: dict[str, Any] = {"behaviour": behaviour, "timed": True}
    try:
        with _conf(spark, RUN_CONF):
            _posts_frame(spark, study).createOrReplaceTempView(v.name("posts"))
            progress({"event": "stage", "message": f"{behaviour}: reading actions (Spark)"})
            v.make("raw", _raw_sql(behaviour, params))
            spark.catalog.dropTempView(v.name("posts"))
            stats["actions"] = v.count("raw")
            v.make("acc", """SELECT account_id, CAST(row_number() OVER (ORDER BY account_id) AS INT) AS aid
                FROM (SELECT DISTINCT account_id FROM {P}raw)""")
            v.make("obj0", """SELECT object_id, CAST(row_number() OVER (ORDER BY object_id) AS INT) AS oid0
                FROM (SELECT DISTINCT object_id FROM {P}raw)""")
            v.make("i", """SELECT a.aid, o.oid0, r.eid, r.ts FROM {P}raw r
                JOIN {P}acc a ON a.account_id = r.account_id JOIN {P}obj0 o ON o.object_id = r.object_id""")
            v.make("ao0", "SELECT DISTINCT aid, oid0 FROM {P}i", keep=False)
            v.make("keep", f"SELECT aid FROM {{P}}ao0 GROUP BY aid HAVING count(*) >= {k}")
            v.make("df", """SELECT x.oid0, count(*) AS df, count(k.aid) AS dk FROM {P}ao0 x
                LEFT JOIN {P}keep k ON k.aid = x.aid GROUP BY x.oid0""", keep=False)
            v.make("obj", """SELECT o.object_id, o.oid0, CAST(row_number() OVER (ORDER BY o.oid0) AS INT) AS oid,
                    d.df FROM {P}df d JOIN {P}obj0 o ON o.oid0 = d.oid0 WHERE d.dk >= 2""")
            stats["accounts"] = v.count("acc")
            # DuckDB reads 1.0 as a decimal and divides decimals in double: the same double division here
            v.make("idf", f"""SELECT oid, ln((CAST(1 AS DOUBLE) + {stats['accounts']})
                / (CAST(1 AS DOUBLE) + df)) AS idf FROM {{P}}obj""", keep=False)
            v.make("act", f"""SELECT x.aid, o.oid, x.eid, x.ts, CAST(floor(x.ts / {W}) AS BIGINT) AS bk
                FROM {{P}}i x LEFT SEMI JOIN {{P}}keep k ON k.aid = x.aid JOIN {{P}}obj o ON o.oid0 = x.oid0""")
            stats["accounts_after_pruning"] = int(v.scalar("SELECT count(DISTINCT aid) FROM {P}act"))
            stats["actions_after_pruning"] = v.count("act")
            cap = params.max_window_actions
            stats["guard"] = {"max_window_actions": cap, "actions_dropped": 0, "objects_affected": 0,
                              "top_objects": []}
            if cap is not None:
                _guard(v, int(cap), w, stats["guard"])
            _exact_prune(v, w, k)
            stats["actions_paired"] = v.count("pin")
            progress({"event": "stage", "message": f"{behaviour}: pairing {stats['actions_paired']:,} actions (Spark)"})
            _pairs(v, w, int(params.min_weight), stats)
            t0 = time.perf_counter()
            tables = {t: _arrow(v.frames[s], t) for t, s in (
                ("_ca_raw", "raw"), ("_ca_acc", "acc"), ("_ca_obj", "obj"), ("_ca_idf", "idf"),
                ("_ca_act", "act"), ("_ca_pin", "pin"), ("_ca_abo", "abo"))}
            v.seconds["to_arrow"] = round(time.perf_counter() - t0, 3)
            stats["spark_seconds"] = dict(v.seconds)
        return tables, stats
    finally:
        v.close()


def _raw_sql(behaviour: str, params: CoordParams) -> str:
    """Spark SQL of a behaviour's actions with their ids ``eid`` in DuckDB's ``_ca_raw`` row order.

    The reposts, replies and quotes of posts are numbered in the scan order of the posts' parts (DuckDB's
    scan); the behaviours over the engagements view in :data:`echoscope.coordination.coactions.ENGAGEMENT_ORDER`
    (DuckDB sorts them so, as a join has no scan order). Their latency is the engagements view's
    (:data:`echoscope.engine.ENGAGEMENTS_SQL`): seconds from the answered post, on the same platform.
    """
    if behaviour in POST_BEHAVIOURS:
        return f"""SELECT account_id, object_id, action_id, ts,
                CAST(row_number() OVER (ORDER BY _part, _ri) - 1 AS BIGINT) AS eid FROM
            (SELECT CAST(account_id AS STRING) AS account_id, CAST(ref_post_id AS STRING) AS object_id,
                    CAST(post_id AS STRING) AS action_id, CAST(unix_micros(created_at) / 1e6 AS DOUBLE) AS ts,
                    _part, _ri
             FROM {{P}}posts WHERE kind = '{POST_BEHAVIOURS[behaviour]}' AND ref_post_id IS NOT NULL
               AND created_at IS NOT NULL)
            WHERE object_id IS NOT NULL AND object_id <> ''"""
    kinds, cap_of = ENGAGEMENT_BEHAVIOURS[behaviour]
    cap = cap_of(params)
    if behaviour == "co-latency":
        edges = sorted(float(x) for x in params.latency_buckets)
        bucket = "CASE " + " ".join(f"WHEN latency_s <= {_lit(e)} THEN {i}" for i, e in enumerate(edges)) + " END"
        obj = f"concat(subject_post_id, '@', CAST({bucket} AS STRING))"
    else:
        obj = "subject_post_id"
    capped = "" if cap is None else f" AND latency_s <= {_lit(cap)}"
    return f"""SELECT account_id, object_id, action_id, ts,
            CAST(row_number() OVER (ORDER BY {C.ENGAGEMENT_ORDER}) - 1 AS BIGINT) AS eid FROM
        (SELECT account_id, {obj} AS object_id, action_id, ts FROM
            (SELECT CAST(p.account_id AS STRING) AS account_id, CAST(p.ref_post_id AS STRING) AS subject_post_id,
                    CAST(p.post_id AS STRING) AS action_id, CAST(unix_micros(p.created_at) / 1e6 AS DOUBLE) AS ts,
                    CAST(unix_micros(p.created_at) / 1e6 - unix_micros(s.created_at) / 1e6 AS DOUBLE) AS latency_s
             FROM {{P}}posts p LEFT JOIN {{P}}posts s ON s.platform = p.platform AND s.post_id = p.ref_post_id
             WHERE p.kind IN {kinds} AND p.ref_post_id IS NOT NULL)
         WHERE latency_s IS NOT NULL AND latency_s >= 0{capped})
        WHERE object_id IS NOT NULL AND object_id <> ''"""


def _guard(v: _Views, cap: int, w: float, report: dict[str, Any]) -> None:
    """``network._dense_window_guard`` in Spark SQL (bucket bounds, exact counts for ambiguous buckets)."""
    W = _lit(w)
    v.make("bc", """SELECT oid, bk, c,
            c + CASE WHEN lag(bk) OVER w = bk - 1 THEN lag(c) OVER w ELSE 0 END
              + CASE WHEN lead(bk) OVER w = bk + 1 THEN lead(c) OVER w ELSE 0 END AS cu
        FROM (SELECT oid, bk, count(*) AS c FROM {P}act GROUP BY oid, bk) WINDOW w AS (PARTITION BY oid ORDER BY bk)""")
    v.make("amb", f"SELECT oid, bk FROM {{P}}bc WHERE c - 1 <= {cap} AND cu - 1 > {cap}", keep=False)
    ctx = " UNION ALL ".join(
        f"SELECT x.eid, x.oid, x.ts, x.bk, e.bk AS centre FROM {{P}}act x JOIN {{P}}amb e "
        f"ON x.oid = e.oid AND x.bk = e.bk + ({d})" for d in (-1, 0, 1))
    v.make("nb", f"""SELECT eid, oid, nb FROM
        (SELECT eid, oid, bk, centre, count(*) OVER (PARTITION BY oid, centre ORDER BY ts
                RANGE BETWEEN {W} PRECEDING AND {W} FOLLOWING) - 1 AS nb FROM ({ctx})) WHERE bk = centre""")
    v.make("drop", f"""SELECT oid, count(*) AS dropped FROM (
            SELECT x.oid FROM {{P}}act x LEFT SEMI JOIN (SELECT oid, bk FROM {{P}}bc WHERE c - 1 > {cap}) d
                ON d.oid = x.oid AND d.bk = x.bk
            UNION ALL SELECT oid FROM {{P}}nb WHERE nb > {cap}) GROUP BY oid""")
    dropped = int(v.scalar("SELECT coalesce(sum(dropped), 0) FROM {P}drop"))
    if dropped:
        v.make("top", "SELECT oid, dropped FROM {P}drop ORDER BY dropped DESC, oid LIMIT 10")
        v.make("lb", """SELECT b.oid, max(b.c) - 1 AS lb FROM {P}bc b LEFT SEMI JOIN {P}top t ON t.oid = b.oid
            GROUP BY b.oid""")
        v.make("cand", "SELECT b.oid, b.bk FROM {P}bc b JOIN {P}lb l ON l.oid = b.oid WHERE b.cu - 1 > l.lb")
        dens = _densest(v, w)
        top = v.sql("""SELECT o.object_id, t.dropped, l.lb, t.oid FROM {P}top t JOIN {P}lb l ON l.oid = t.oid
            JOIN {P}obj o ON o.oid = t.oid ORDER BY t.dropped DESC, o.object_id""").collect()
        report.update({
            "actions_dropped": dropped,
            "objects_affected": v.count("drop"),
            "top_objects": [{"object_id": o, "actions_dropped": int(d),
                             "max_neighbours": max(int(lb), dens.get(int(oid), 0))} for o, d, lb, oid in top]})
        v.make("act", f"""SELECT x.* FROM {{P}}act x
            LEFT ANTI JOIN (SELECT oid, bk FROM {{P}}bc WHERE c - 1 > {cap}) d ON d.oid = x.oid AND d.bk = x.bk
            LEFT ANTI JOIN (SELECT eid FROM {{P}}nb WHERE nb > {cap}) n ON n.eid = x.eid""")


def _densest(v: _Views, w: float) -> dict[int, int]:
    """``network._densest`` on the candidate buckets' actions, fetched from Spark (a few objects)."""
    import duckdb

    rows = v.sql("""SELECT x.oid, x.ts, x.bk FROM {P}act x LEFT SEMI JOIN
            (SELECT oid, bk + d AS bk FROM {P}cand LATERAL VIEW explode(array(-1, 0, 1)) t AS d) e
            ON e.oid = x.oid AND e.bk = x.bk""").toArrow()
    cand = v.frames["cand"].toArrow()
    con = duckdb.connect()
    con.register("_ca_act", rows)
    con.register("_ca_cand", cand)
    return N._densest(con, w)


def _exact_prune(v: _Views, w: float, k: int) -> None:
    """The pairing input ``_ca_pin``: two rounds of dropping actions, accounts and objects that pair nothing."""
    W = _lit(w)
    v.make("pin", "SELECT aid, oid, eid, ts, bk FROM {P}act")
    for _ in range(2):
        v.make("pin", f"""SELECT aid, oid, eid, ts, bk FROM
            (SELECT *, count(*) OVER (PARTITION BY oid ORDER BY ts RANGE BETWEEN {W} PRECEDING
                                      AND {W} FOLLOWING) AS c FROM {{P}}pin) WHERE c > 1""", keep=False)
        v.make("pin", f"""SELECT p.* FROM {{P}}pin p LEFT SEMI JOIN
            (SELECT aid FROM {{P}}pin GROUP BY aid HAVING count(DISTINCT oid) >= {k}) s ON s.aid = p.aid""", keep=False)
        v.make("pin", """SELECT p.* FROM {P}pin p LEFT SEMI JOIN
            (SELECT oid FROM {P}pin GROUP BY oid HAVING count(DISTINCT aid) >= 2) s ON s.oid = p.oid""")


def _pairs(v: _Views, w: float, min_weight: int, stats: dict[str, Any]) -> None:
    """Pairs within the window aggregated per (account pair, object) into ``abo`` (``network._ca_abo``).

    The pairs are those of ``network._pair_sql`` (bucket and next bucket, ``a.aid < b.aid`` orientation).
    One aggregation per (pair, object) over all pairs, then the pairs meeting on two or more objects (when
    ``min_weight >= 2``): the same rows and counts as DuckDB's two passes.
    """
    from ..engine import spark_sql

    pairs = spark_sql(N._pair_sql(v.name("pin"), w, True, False))
    v.make("abo", f"""SELECT a, b, oid, count(*) AS n, min(gap) AS gap,
            min(named_struct('g', gap, 'e', ea * 4294967296 + eb)).e AS ev,
            min(least(ta, tb)) AS t0, max(greatest(ta, tb)) AS t1 FROM ({pairs}) GROUP BY a, b, oid""")
    stats["pairs_within_window"] = int(v.scalar("SELECT coalesce(sum(n), 0) FROM {P}abo"))
    stats["pair_object_rows"] = v.count("abo")
    if min_weight >= 2:
        v.make("abo", """SELECT x.* FROM {P}abo x LEFT SEMI JOIN
            (SELECT a, b FROM {P}abo GROUP BY a, b HAVING count(*) >= 2) m ON m.a = x.a AND m.b = x.b""")


#: DuckDB column types of the hand-over tables (Spark's ints and longs map onto them)
_TYPES: dict[str, dict[str, pa.DataType]] = {
    "_ca_raw": {"account_id": pa.string(), "object_id": pa.string(), "action_id": pa.string(), "ts": pa.float64()},
    "_ca_acc": {"account_id": pa.string(), "aid": pa.int32()},
    "_ca_obj": {"object_id": pa.string(), "oid0": pa.int32(), "oid": pa.int32(), "df": pa.int64()},
    "_ca_idf": {"oid": pa.int32(), "idf": pa.float64()},
    "_ca_act": {"aid": pa.int32(), "oid": pa.int32(), "eid": pa.int64(), "ts": pa.float64(), "bk": pa.int64()},
    "_ca_pin": {"aid": pa.int32(), "oid": pa.int32(), "eid": pa.int64(), "ts": pa.float64(), "bk": pa.int64()},
    "_ca_abo": {"a": pa.int32(), "b": pa.int32(), "oid": pa.int32(), "n": pa.int64(), "gap": pa.float64(),
                "ev": pa.int64(), "t0": pa.float64(), "t1": pa.float64()},
}


def _arrow(df: Any, table: str) -> pa.Table:
    cols = _TYPES[table]
    if table == "_ca_raw":
        df = df.orderBy("eid")  # DuckDB's rowid of _ca_raw is the action id
    t = df.select(*cols).toArrow()
    return t.cast(pa.schema([(c, typ) for c, typ in cols.items()]))


# ---------------------------------------------------------------------------------------------- hand-over
def load_handover(con: Any, tables: dict[str, pa.Table]) -> None:
    """Write the hand-over tables into DuckDB temp tables of the same names (``_ca_raw`` in row order)."""
    keep = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order=true")  # _ca_raw.rowid must be the action id
    try:
        for name in HANDOVER:
            con.register("_cs_in", tables[name])
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _cs_in")
            con.unregister("_cs_in")
    finally:
        con.execute(f"SET preserve_insertion_order={'true' if keep else 'false'}")


def spark_edges(spark: Any, study: Any, con: Any, behaviour: str, params: CoordParams,
                progress: ProgressFn) -> BehaviourResult:
    """A ``network.BUILDERS``-style builder: Spark stages, hand-over into ``con``, the shared tail."""
    tables, stats = spark_candidates(spark, study, behaviour, params, progress)
    t = time.perf_counter()
    load_handover(con, tables)
    stats["spark_seconds"]["handover"] = round(time.perf_counter() - t, 3)
    del tables
    return N.echoscope_judge(con, behaviour, params, progress, stats)


def spark_builder(study: Any, params: CoordParams, master: str | None = None) -> Callable[..., BehaviourResult]:
    """The builder ``api.coordinate(..., engine="spark")`` uses in place of ``BUILDERS[params.semantics]``.

    ``master`` None: ``ECHOSCOPE_SPARK_MASTER``, the study's ``[spark]`` configuration, else ``local[2]``
    (:func:`echoscope.engine.spark_target`). Raises ConfigError (before any Spark session starts) for what the
    Spark engine does not run yet.
    """
    from ..engine import spark_session, spark_target

    check_supported(params)
    return functools.partial(spark_edges, spark_session(spark_target(study, master=master)), study)


def coordinate_spark(study: Any, params: CoordParams | None = None, *, write: bool = True,
                     progress: Any = None, master: str | None = None, **kw: Any) -> Any:
    """:func:`echoscope.coordination.coordinate` with the data-sized stages on Spark; the same result.

    Parameters
    ----------
    study : echoscope.Study
        The study.
    params : CoordParams, optional
        As for ``coordinate``; keyword arguments ``**kw`` build one when it is not given
        (``coordinate_spark(study, window=60, min_weight=2)``).
    write : bool
        Store the four result tables in the study.
    progress : callable, optional
        Receives ``{"event": "stage", "message": ...}`` dicts.
    master : str, optional
        Spark master URL (``local[2]``: this machine, two cores); default as in :func:`spark_builder`.

    Returns
    -------
    CoordinationResult

    Raises
    ------
    ConfigError
        For semantics or behaviours the Spark engine does not run yet (:func:`check_supported`).
    """
    from . import api

    params = params or CoordParams(**kw)
    params.validate()
    return api.coordinate(study, params, write=write, progress=progress, engine="spark", spark_master=master)

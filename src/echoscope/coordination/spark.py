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
engines (both order strings by their UTF-8 bytes). An action's id ``eid`` is its row in DuckDB's ``_ca_raw``
(its ``rowid``): for a behaviour whose query is a plain scan (co-retweet, co-reply, co-quote) its position
in the order of the table's Parquet parts (manifest order) and rows; for the others (a join, an unnest, a
grouping: no scan order) its rank in the behaviour's ``CoAction.order``, by which DuckDB sorts them too.
The null model's shuffles and the object halves use DuckDB's ``hash()``, which Spark does not have: they
run in DuckDB, on the tables handed over, so p-values, cut-offs and validation are the same. Only
floating-point sums (``weight_idf``, ``mean_gap_s``, null means and what follows from them, as between two
DuckDB runs) may differ in the last bits (summation order). The evidence action of a (pair, object) with
several equally close action pairs is the smallest action pair on both engines.

The behaviours' action queries are written again in Spark SQL (:data:`SPARK_ACTIONS`), with the URL and
text normalisation of :mod:`.coactions` reproduced exactly: Java's regular expressions and case mapping
differ from DuckDB's (RE2, utf8proc), so lower-casing, trimming and the Unicode character classes use
tables read from DuckDB itself (:func:`duckdb_unicode`); every code point normalises alike.

Supported now: ``--semantics echoscope`` with the behaviours in :data:`SPARK_BEHAVIOURS` (co-retweet,
co-reply, co-quote, co-link, co-hashtag, co-mention over the posts; rapid-fire, early-amplify, co-latency
over the engagements; co-text over the posts, near-duplicates merged as on DuckDB; shared-ip over the
logins), every null model: every behaviour. Anything else raises
:class:`~echoscope.errors.ConfigError` naming what is missing (see docs/coordination.md, "Spark").
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

#: every behaviour the Spark engine runs with results identical to DuckDB's (see :data:`SPARK_ACTIONS` for
#: how it reads their actions)
SPARK_BEHAVIOURS: tuple[str, ...] = (*POST_BEHAVIOURS, "co-link", "co-hashtag", "co-mention", "co-text",
                                     *ENGAGEMENT_BEHAVIOURS, "shared-ip")

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


def _table_frame(spark: Any, study: Any, table: str, cols: tuple[str, ...]) -> Any:
    """A canonical table's ``cols`` with their place in DuckDB's scan order: (manifest part, row in the part).

    The parts are read where :func:`echoscope.engine.spark_target` says (the study directory, or a copy of it
    at ``data_root`` on an object store; see docs/scale-out.md). A table without parts is an empty frame of
    the canonical types (a study without logins finds no shared-ip actions, as on DuckDB).
    """
    from pyspark.sql import functions as F

    from .. import schema as S
    from ..engine import spark_read_parts, spark_target

    parts = study.manifest().table_parts(table)
    if not parts:
        ddl = ", ".join(f"`{f.name}` {_spark_type(f.type)}" for f in S.ALL_TABLES[table] if f.name in cols)
        return spark.createDataFrame([], ddl + ", _part INT, _ri BIGINT")
    target = spark_target(study)
    frames = [spark_read_parts(spark, study, target, table, [p])
              .select(*cols, F.col("_metadata.row_index").alias("_ri"))
              .withColumn("_part", F.lit(i)) for i, p in enumerate(parts)]
    return functools.reduce(lambda a, b: a.unionByName(b), frames)


def _spark_type(t: Any) -> str:
    from ..engine.spark import _spark_type as st

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
        Its posts' or logins' Parquet parts are read directly (with their row positions, for the action ids).
    behaviour : str
        One of :data:`SPARK_BEHAVIOURS`.
    params : CoordParams
        ``window``, ``min_repeat``, ``min_weight``, ``max_window_actions`` (``max_shared_accounts`` without a
        window), ``near_duplicate`` and ``seed`` (co-text), the behaviours' own parameters are used here.
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
    if params.semantics != "echoscope" or behaviour not in SPARK_ACTIONS:
        check_supported(CoordParams(behaviours=(behaviour,), semantics=params.semantics))
    w = float(params.window)
    W = _lit(w)
    k = max(int(params.min_repeat), int(params.min_weight))
    v = _Views(spark, f"_cs{threading.get_ident() % 100000}_")
    timed = C.COACTIONS[behaviour].timed
    src = SPARK_ACTIONS[behaviour]
    stats: dict[str, Any] = {"behaviour": behaviour, "timed": timed}
    try:
        with _conf(spark, RUN_CONF):
            _table_frame(spark, study, src.table, src.cols).createOrReplaceTempView(v.name(src.table))
            progress({"event": "stage", "message": f"{behaviour}: reading actions (Spark)"})
            v.make("raw", _raw_sql(behaviour, params))
            spark.catalog.dropTempView(v.name(src.table))
            if behaviour == "co-text" and params.near_duplicate is not None and params.near_duplicate < 1:
                _merge_texts(v, params, progress)
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
            # without a window (shared-ip) every action is in bucket 0: the guard's counts are per object
            bucket = f"CAST(floor(x.ts / {W}) AS BIGINT)" if timed else "CAST(0 AS BIGINT)"
            v.make("act", f"""SELECT x.aid, o.oid, x.eid, x.ts, {bucket} AS bk
                FROM {{P}}i x LEFT SEMI JOIN {{P}}keep k ON k.aid = x.aid JOIN {{P}}obj o ON o.oid0 = x.oid0""")
            stats["accounts_after_pruning"] = int(v.scalar("SELECT count(DISTINCT aid) FROM {P}act"))
            stats["actions_after_pruning"] = v.count("act")
            # untimed: the cap is on the accounts sharing an address (network.echoscope_edges)
            cap = params.max_window_actions if timed else params.max_shared_accounts
            stats["guard"] = {"max_window_actions": cap, "actions_dropped": 0, "objects_affected": 0,
                              "top_objects": []}
            if cap is not None:
                _guard(v, int(cap), w, stats["guard"])
            if timed:
                _exact_prune(v, w, k)
            else:
                v.make("pin", "SELECT aid, oid, eid, ts, bk FROM {P}act", keep=False)
            stats["actions_paired"] = v.count("pin")
            progress({"event": "stage", "message": f"{behaviour}: pairing {stats['actions_paired']:,} actions (Spark)"})
            _pairs(v, w, timed, int(params.min_weight), stats)
            t0 = time.perf_counter()
            tables = {t: _arrow(v.frames[s], t) for t, s in (
                ("_ca_raw", "raw"), ("_ca_acc", "acc"), ("_ca_obj", "obj"), ("_ca_idf", "idf"),
                ("_ca_act", "act"), ("_ca_pin", "pin"), ("_ca_abo", "abo"))}
            v.seconds["to_arrow"] = round(time.perf_counter() - t0, 3)
            stats["spark_seconds"] = dict(v.seconds)
        return tables, stats
    finally:
        v.close()


#: epoch seconds of a timestamp column, as DuckDB's ``epoch_us(col) / 1e6`` (coactions.EPOCH)
_EPOCH = "CAST(unix_micros({col}) / 1e6 AS DOUBLE)"


#: character classes of :data:`echoscope.coordination.coactions.TEXT_MACRO` (RE2 syntax), as Java classes in Spark
_TEXT_CLASSES = {"ps": r"[\pP\pS]", "cjk": r"[\p{Han}\p{Hiragana}\p{Katakana}]"}


@functools.lru_cache(maxsize=1)
def duckdb_unicode() -> dict[str, str]:
    r"""DuckDB's own Unicode tables, read from DuckDB, for Spark SQL that must give DuckDB's results.

    Java (Spark's ``lower`` and regular expressions) and DuckDB (utf8proc, RE2) disagree on some characters:
    Java's full case mapping turns a word-final capital sigma into final sigma and dotted capital I into
    two characters, and the JDK's Unicode tables are older than RE2's (emoji of Unicode 14 and later, e.g.
    U+1FAE0, are symbols to RE2 and unassigned to Java 17, so ``\pS`` misses them). So the tables are taken
    from the installed DuckDB (one query over all code points, ~1 s, once per process): ``lower_from`` /
    ``lower_to``, the characters DuckDB's ``lower`` changes and what it makes of each (one code point each,
    for ``translate``), ``ps`` / ``cjk``, the code points of :data:`_TEXT_CLASSES`, and ``space``, those
    DuckDB's ``trim`` removes (Unicode space separators; Spark's removes the ASCII space only), as explicit
    Java character classes.
    """
    import duckdb

    con = duckdb.connect()
    # every code point but the surrogates (no characters of their own)
    cps = ("(SELECT i, chr(i::INTEGER) AS c FROM (SELECT range AS i FROM range(1, 55296) UNION ALL "
           "SELECT range FROM range(57344, 1114112)))")
    pairs = con.execute(f"SELECT c, lower(c) FROM {cps} WHERE lower(c) <> c ORDER BY i").fetchall()
    if any(len(lo) != 1 for _, lo in pairs):  # pragma: no cover - utf8proc's simple mapping is one to one
        raise RuntimeError("DuckDB's lower maps a character to several: translate cannot reproduce it")
    out = {"lower_from": "".join(c for c, _ in pairs), "lower_to": "".join(lo for _, lo in pairs)}
    # the characters DuckDB's trim() removes (the space separators, not tabs or line breaks)
    tests = {**{n: f"regexp_matches(c, '{cls}')" for n, cls in _TEXT_CLASSES.items()}, "space": "trim(c) = ''"}
    for name, test in tests.items():
        ranges = con.execute(f"""SELECT min(i), max(i) FROM (SELECT i, i - row_number() OVER (ORDER BY i) AS g
            FROM {cps} WHERE {test}) GROUP BY g ORDER BY 1""").fetchall()
        out[name] = _java_class([(int(lo), int(hi)) for lo, hi in ranges])
    con.close()
    return out


def _java_class(ranges: list[tuple[int, int]]) -> str:
    """A Java regex class of the sorted, disjoint code point ``ranges``, tested in O(log n).

    Java tests a class of ranges one range after the other (a union of hundreds: ~10x slower than the
    built-in ``\\pP``); so the ranges are split in halves at a code point, each half intersected with its side
    (``[[[lo-side]&&[..]][[hi-side]&&[..]]]``, Java stops at the first failing side), a search tree.
    """
    def one(lo: int, hi: int) -> str:
        return f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}"

    if len(ranges) <= 8:
        return "[" + "".join(one(lo, hi) for lo, hi in ranges) + "]"
    m = ranges[len(ranges) // 2][0]
    return (f"[[[{one(0, m - 1)}]&&{_java_class(ranges[:len(ranges) // 2])}]"
            f"[[{one(m, 0x10FFFF)}]&&{_java_class(ranges[len(ranges) // 2:])}]]")


def _trim(x: str) -> str:
    """DuckDB's ``trim`` in Spark SQL (:func:`duckdb_unicode`: it removes every space separator)."""
    sp = duckdb_unicode()["space"]
    return rf"regexp_replace({x}, r'^{sp}+|{sp}+\z', '')"


def _lower(x: str) -> str:
    """DuckDB's ``lower`` in Spark SQL: its own mapping, character by character (:func:`duckdb_unicode`)."""
    u = duckdb_unicode()
    return f"translate({x}, r'{u['lower_from']}', r'{u['lower_to']}')"


def url_sql(u: str) -> str:
    r"""Spark SQL of :data:`echoscope.coordination.coactions.URL_MACRO` (``echo_norm_url``) over column ``u``.

    The same steps as the DuckDB macro, with DuckDB's ``trim`` and ``lower`` (:func:`_trim`, :func:`_lower`);
    the regular expressions are RE2's semantics written for Java: ``$`` (end of text in RE2) is ``\z``
    (Java's ``$`` also matches before a final line break), ``.`` (anything but a newline in RE2) gets the
    ``(?d)`` flag (Java's ``.`` also stops at ``\r``, U+0085, U+2028 and U+2029), and DuckDB's
    ``regexp_replace`` replaces the first match only where Spark's replaces all (the patterns here are
    anchored or reach the end of the text: one match at most either way).
    """
    params = "|".join(C.TRACKING_PARAMS)
    v = rf"regexp_replace(regexp_replace({_trim(u)}, r'^[A-Za-z][A-Za-z0-9+.-]*://', ''), r'(?d)#.*\z', '')"
    host = rf"regexp_replace({_lower(f'regexp_extract({v}, {chr(39)}^[^/?]*{chr(39)}, 0)')}, r'^www\.', '')"
    path = rf"regexp_replace(regexp_extract({v}, r'^[^/?]*([^?]*)', 1), r'/+\z', '')"
    q = (rf"array_join(filter(split(regexp_extract({v}, r'(?d)\?(.*)\z', 1), '&'), "
         rf"x -> x <> '' AND NOT {_lower('x')} rlike r'^({params})(=|\z)'), '&')")
    return f"concat({host}, {path}, CASE WHEN {q} = '' THEN '' ELSE concat('?', {q}) END)"


def text_sql(t: str) -> str:
    r"""Spark SQL of :data:`echoscope.coordination.coactions.TEXT_MACRO` (``echo_norm_text``) over column ``t``.

    The same replacements in the same order (all matches, as the macro's ``'g'``), with RE2's classes made
    explicit for Java: ``\s`` is ``[\t\n\f\r ]`` in RE2 (Java's adds the vertical tab), the punctuation and
    symbol class and the Han, Hiragana and Katakana class are DuckDB's own code points
    (:func:`duckdb_unicode`), and lower-casing and trimming are DuckDB's (:func:`_lower`, :func:`_trim`).
    """
    u = duckdb_unicode()
    sp, ns = r"[\t\n\f\r ]", r"[^\t\n\f\r ]"
    x = _lower(t)
    for pat, rep in ((rf"https?://{ns}+", " "), (rf"(^|{sp})rt{sp}+@{ns}+:?", " "), (rf"@{ns}+", " "),
                     (u["ps"] + "+", " "), ("(" + u["cjk"] + ")", " $1 "), (rf"{sp}+", " ")):
        x = f"regexp_replace({x}, r'{pat}', '{rep}')"
    return _trim(x)


def _ts_text(col: str) -> str:
    """DuckDB's ``CAST(col AS VARCHAR)`` of a TIMESTAMPTZ in UTC: ``2020-01-01 12:00:00.25+00`` (the fraction
    without trailing zeros, none when whole seconds; years 1-9999)."""
    us = f"pmod(unix_micros({col}), 1000000)"
    return (f"concat(date_format({col}, 'yyyy-MM-dd HH:mm:ss'), CASE WHEN {us} = 0 THEN '' ELSE "
            f"concat('.', regexp_replace(lpad(CAST({us} AS STRING), 6, '0'), '0+$', '')) END, '+00')")


def _post_actions(behaviour: str, params: CoordParams) -> str:
    # coactions._ref_kind: the referenced post is the object
    return f"""SELECT account_id, ref_post_id AS object_id, post_id AS action_id,
            {_EPOCH.format(col='created_at')} AS ts, _part, _ri FROM {{P}}posts
        WHERE kind = '{POST_BEHAVIOURS[behaviour]}' AND ref_post_id IS NOT NULL AND created_at IS NOT NULL"""


def _engagement_actions(behaviour: str, params: CoordParams) -> str:
    # coactions._answers over the engagements view (engine.ENGAGEMENTS_SQL: the answered post joined for the
    # latency, on the same platform)
    kinds, cap_of = ENGAGEMENT_BEHAVIOURS[behaviour]
    cap = cap_of(params)
    if behaviour == "co-latency":
        edges = sorted(float(x) for x in params.latency_buckets)
        bucket = "CASE " + " ".join(f"WHEN latency_s <= {_lit(e)} THEN {i}" for i, e in enumerate(edges)) + " END"
        obj = f"concat(subject_post_id, '@', CAST({bucket} AS STRING))"
    else:
        obj = "subject_post_id"
    capped = "" if cap is None else f" AND latency_s <= {_lit(cap)}"
    return f"""SELECT account_id, {obj} AS object_id, action_id, ts FROM
            (SELECT p.account_id, p.ref_post_id AS subject_post_id, p.post_id AS action_id,
                    {_EPOCH.format(col='p.created_at')} AS ts,
                    CAST(unix_micros(p.created_at) / 1e6 - unix_micros(s.created_at) / 1e6 AS DOUBLE) AS latency_s
             FROM {{P}}posts p LEFT JOIN {{P}}posts s ON s.platform = p.platform AND s.post_id = p.ref_post_id
             WHERE p.kind IN {kinds} AND p.ref_post_id IS NOT NULL)
        WHERE latency_s IS NOT NULL AND latency_s >= 0{capped}"""


def _link_actions(behaviour: str, params: CoordParams) -> str:
    # coactions._links: one action per URL of a post that is not a repost, the URL normalised
    return f"""SELECT account_id, {url_sql('u')} AS object_id, post_id AS action_id, ts FROM
            (SELECT account_id, post_id, {_EPOCH.format(col='created_at')} AS ts, explode(urls) AS u FROM {{P}}posts
             WHERE kind <> 'repost' AND created_at IS NOT NULL AND size(urls) > 0)
        WHERE u IS NOT NULL AND u <> ''"""


def _hashtag_actions(behaviour: str, params: CoordParams) -> str:
    # coactions._hashtags: the sorted set of lower-cased hashtags (DuckDB's list_distinct drops NULLs)
    k = int(N.sql_params(params).get("min_hashtags", 2))
    return f"""SELECT account_id, array_join(array_sort(h), ' ') AS object_id, post_id AS action_id, ts FROM
            (SELECT account_id, post_id, {_EPOCH.format(col='created_at')} AS ts,
                    array_distinct(filter(transform(hashtags, x -> {_lower('x')}), x -> x IS NOT NULL)) AS h
             FROM {{P}}posts WHERE kind <> 'repost' AND created_at IS NOT NULL)
        WHERE size(h) >= {k}"""


def _mention_actions(behaviour: str, params: CoordParams) -> str:
    # coactions._mentions: each distinct mention of a post (distinct before lower-casing, as there)
    return f"""SELECT account_id, {_lower('m')} AS object_id, post_id AS action_id, ts FROM
            (SELECT account_id, post_id, {_EPOCH.format(col='created_at')} AS ts, explode(array_distinct(mentions)) AS m
             FROM {{P}}posts WHERE kind <> 'repost' AND created_at IS NOT NULL AND size(mentions) > 0)
        WHERE m IS NOT NULL"""


def _text_actions(behaviour: str, params: CoordParams) -> str:
    # coactions._text: the normalised text of posts that are not reposts, at least min_text_tokens words
    k = int(N.sql_params(params).get("min_text_tokens", 4))
    return f"""SELECT account_id, norm AS object_id, post_id AS action_id, ts, _part, _ri FROM
            (SELECT account_id, post_id, {_EPOCH.format(col='created_at')} AS ts, {text_sql('text')} AS norm, _part, _ri
             FROM {{P}}posts WHERE kind <> 'repost' AND text IS NOT NULL AND created_at IS NOT NULL)
        WHERE size(split(norm, ' ')) >= {k}"""


def _merge_texts(v: _Views, params: CoordParams, progress: ProgressFn) -> None:
    """``text.merge_near_duplicates`` on Spark: each text of ``raw`` replaced by its near-duplicate group's.

    As on DuckDB, the distinct normalised texts (sorted, so both engines get the same groups) travel to
    Python in Arrow for MinHash LSH (:func:`echoscope.coordination.text.near_duplicate_groups`), the posts do
    not; only the texts that change go back to Spark. The actions keep their ids.
    """
    from .text import near_duplicate_groups

    texts = v.sql("SELECT DISTINCT object_id FROM {P}raw ORDER BY object_id").toArrow().column(0).to_pylist()
    if not texts:
        return
    progress({"event": "stage", "message": f"co-text: MinHash LSH over {len(texts):,} distinct texts (Spark)"})
    groups = near_duplicate_groups(texts, float(params.near_duplicate), seed=int(params.seed) + 1)
    moved = [i for i, g in enumerate(groups) if g != i]
    if not moved:
        return
    mapping = pa.table({"object_id": [texts[i] for i in moved], "rep": [texts[groups[i]] for i in moved]})
    v.spark.createDataFrame(mapping).createOrReplaceTempView(v.name("textmap"))
    v.make("raw", """SELECT r.account_id, coalesce(m.rep, r.object_id) AS object_id, r.action_id, r.ts, r.eid
        FROM {P}raw r LEFT JOIN {P}textmap m ON m.object_id = r.object_id""")
    v.spark.catalog.dropTempView(v.name("textmap"))


def _shared_ip_actions(behaviour: str, params: CoordParams) -> str:
    # coactions._shared_ip: one action per (account, address or device), its first login (the action id is
    # the smallest 'account@time' text, DuckDB's text of the login time)
    one = """SELECT account_id, concat('{kind}:', {col}) AS object_id, concat(account_id, '@', {txt}) AS action_id,
                {ts} AS ts FROM {{P}}logins WHERE {col} IS NOT NULL AND ts IS NOT NULL"""
    both = " UNION ALL ".join(one.format(kind=k, col=c, txt=_ts_text("ts"), ts=_EPOCH.format(col="ts"))
                              for k, c in (("ip", "ip_hash"), ("device", "device_hash")))
    return f"""SELECT account_id, object_id, min(action_id) AS action_id, min(ts) AS ts FROM ({both})
        GROUP BY account_id, object_id"""


@dataclasses.dataclass(frozen=True)
class SparkActions:
    """How the Spark engine reads a behaviour's actions (its ``coactions.COACTIONS`` query in Spark SQL).

    Attributes
    ----------
    table : str
        The canonical table read (as view ``{P}<table>``, with ``_part`` and ``_ri``: its scan position).
    cols : tuple of str
        Its columns the query needs.
    sql : callable
        ``sql(behaviour, params) -> str``: Spark SQL returning ``account_id, object_id, action_id, ts`` (and
        ``_part, _ri`` when the behaviour's actions are numbered in scan order, ``CoAction.order`` None).
    """

    table: str
    cols: tuple[str, ...]
    sql: Callable[[str, CoordParams], str]


_POST_COLS = ("platform", "account_id", "post_id", "ref_post_id", "kind", "created_at")

#: behaviour -> how Spark reads its actions (the behaviours of :data:`SPARK_BEHAVIOURS`)
SPARK_ACTIONS: dict[str, SparkActions] = {
    **{b: SparkActions("posts", _POST_COLS, _post_actions) for b in POST_BEHAVIOURS},
    "co-link": SparkActions("posts", ("account_id", "post_id", "kind", "created_at", "urls"), _link_actions),
    "co-hashtag": SparkActions("posts", ("account_id", "post_id", "kind", "created_at", "hashtags"), _hashtag_actions),
    "co-mention": SparkActions("posts", ("account_id", "post_id", "kind", "created_at", "mentions"), _mention_actions),
    "co-text": SparkActions("posts", ("account_id", "post_id", "kind", "created_at", "text"), _text_actions),
    **{b: SparkActions("posts", _POST_COLS, _engagement_actions) for b in ENGAGEMENT_BEHAVIOURS},
    "shared-ip": SparkActions("logins", ("account_id", "ts", "ip_hash", "device_hash"), _shared_ip_actions),
}


def _raw_sql(behaviour: str, params: CoordParams) -> str:
    """Spark SQL of a behaviour's actions with their ids ``eid`` in DuckDB's ``_ca_raw`` row order.

    Behaviours whose DuckDB query is a plain scan (co-retweet, co-reply, co-quote) are numbered in the scan
    order of the table's parts (DuckDB's rowid); the others by their ``CoAction.order`` (DuckDB sorts their
    rows so: a join, an unnest or a grouping has no scan order of its own). The outer casts and the filter on
    ``object_id`` are those of ``network.load_actions``.
    """
    order = C.COACTIONS[behaviour].order or "_part, _ri"
    return f"""SELECT account_id, object_id, action_id, ts,
            CAST(row_number() OVER (ORDER BY {order}) - 1 AS BIGINT) AS eid FROM
        (SELECT CAST(account_id AS STRING) AS account_id, CAST(object_id AS STRING) AS object_id,
                CAST(action_id AS STRING) AS action_id, CAST(ts AS DOUBLE) AS ts{', _part, _ri' if order == '_part, _ri' else ''}
         FROM ({SPARK_ACTIONS[behaviour].sql(behaviour, params)}))
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


def _pairs(v: _Views, w: float, timed: bool, min_weight: int, stats: dict[str, Any]) -> None:
    """Pairs within the window aggregated per (account pair, object) into ``abo`` (``network._ca_abo``).

    The pairs are those of ``network._pair_sql`` (bucket and next bucket, ``a.aid < b.aid`` orientation;
    without a window every two accounts of an object).
    One aggregation per (pair, object) over all pairs, then the pairs meeting on two or more objects (when
    ``min_weight >= 2``): the same rows and counts as DuckDB's two passes.
    """
    from ..engine import spark_sql

    pairs = spark_sql(N._pair_sql(v.name("pin"), w, timed, False))
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
    with N.insertion_order(con):  # _ca_raw.rowid must be the action id
        for name in HANDOVER:
            con.register("_cs_in", tables[name])
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _cs_in")
            con.unregister("_cs_in")


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

"""One windowed co-action mechanism in DuckDB SQL, under three semantics, with a null model.

Why shaped so: a naive self-join of actions on their object is quadratic in an object's popularity (a viral
post with 10,000 reposts in a minute makes 50 million pairs). So, in the default ``echoscope`` semantics:

1. accounts that cannot reach the minimum edge weight are pruned before pairing (an account acting on fewer
   than ``max(min_repeat, min_weight)`` distinct objects can have no edge of that weight), then objects left
   with a single account;
2. the self-join is bucketed by time window: an action is joined only with actions on the same object in its
   own window bucket and the next one (``floor(ts / window)``), so the engine never forms pairs more than two
   windows apart;
3. an optional, reported guard drops actions sitting in *dense windows* (more than ``max_window_actions``
   other actions on the same object within +/- window): acting among a thousand others on a viral post says
   nothing about coordination, and pairing them is what costs. The dropped counts and the most affected
   objects go into the result's metadata and the CLI output. It is decided per (object, time bucket) from
   bucket counts, with an exact windowed count only for ambiguous buckets (a windowed count over a viral
   object's whole timeline runs in one partition and was the slowest step);
4. pairs are aggregated inside the engine per (account pair, object) -- the smallest time gap and its two
   action ids are kept as evidence -- and then per account pair; a cheap pass per account pair first keeps
   only the pairs that meet on two or more objects, so the full aggregate sees a fraction of the pairs.

Ids are integers from the start (ranks of the string ids, so ``a < b`` and every order is that of the
strings; an action's id is its row in ``_ca_raw``): string keys are joined once, not at every step.

The ``cnt`` and ``coortweet`` semantics are exact re-implementations of the peers' definitions (no pruning
beyond theirs, no guard) used for conformance; they are written as plain joins and are quadratic like the
peers.

Significance: an edge's weight (distinct objects acted on together) is compared with the weights the same
pair gets when timestamps are shuffled within each account (keeping each account's activity profile and
objects) or within each object (keeping each object's timeline), ``reps`` times, all repetitions in one
vectorised query. The null mean ``lambda`` gives a Poisson p-value and a z-score per edge; edges are judged
with Benjamini-Hochberg at ``alpha`` over all candidate edges of the behaviour.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import ConfigError
from .coactions import COACTIONS, install_macros

ProgressFn = Callable[[dict[str, Any]], None]

SEMANTICS: dict[str, str] = {
    "echoscope": "undirected pairs of distinct accounts; weight = distinct objects acted on together within "
                 "the window; pruning, dense-window guard, TF-IDF weight, null-model significance",
    "cnt": "coordination-network-toolkit: directed, one row per direction, weight = distinct messages of the "
           "source matched by the target within +/- window, self-loops kept, raw URLs",
    "coortweet": "CooRTweet: share-level pairs within the window (inclusive), min_participation before and "
                 "after pairing, weight = number of share pairs, coordinated = weight above the quantile",
}

NULL_MODELS: dict[str, str] = {
    "account": "timestamps shuffled among each account's own actions (keeps its activity profile)",
    "object": "object timeline: each object keeps its timestamps, each account its objects, which account made "
              "which action is random (exact null means; accounts validated on held-out objects)",
    "none": "no null model (no p-values; every candidate edge counts)",
}


#: named sets of behaviours that ``--behaviour`` accepts beside single names (expanded in place, in this order).
#: ``amplification``: every behaviour about amplifying posts; on the simulator it finds 0.95 of the campaign
#: accounts that act together against 0.69 for co-retweet alone, at about 2.5x the time (benchmarks/RESULTS.md).
#: ``all``: every behaviour (those whose tables a study lacks find nothing and cost little)
BEHAVIOUR_SETS: dict[str, tuple[str, ...]] = {
    "amplification": ("co-retweet", "co-reply", "co-quote", "co-text", "rapid-fire", "early-amplify", "co-latency"),
    "all": tuple(COACTIONS),
}

#: what ``default`` (the ``--behaviour`` default) means under each semantics. echoscope: the amplification set
#: and shared-ip (a study without a logins table pays nothing for it): on the simulator it finds 0.96-0.98 of
#: the campaign accounts that act together against 0.67-0.69 for co-retweet alone (precision 1.00 both), at
#: about 4-5x the time of co-retweet alone (1M simulated engagements: 71 s against 15 s; benchmarks/RESULTS.md,
#: "Coordination accuracy"). The peers' semantics define single networks: their default is co-retweet
DEFAULT_BEHAVIOURS: dict[str, tuple[str, ...]] = {
    "echoscope": ("amplification", "shared-ip"),
    "cnt": ("co-retweet",),
    "coortweet": ("co-retweet",),
}


def expand_default(names: tuple[str, ...] | list[str], semantics: str) -> tuple[tuple[str, ...], bool]:
    """``names`` with ``default`` replaced by :data:`DEFAULT_BEHAVIOURS` of ``semantics``; and whether it was."""
    if "default" not in names:
        return tuple(names), False
    dflt = DEFAULT_BEHAVIOURS.get(semantics, ("co-retweet",))
    out: list[str] = []
    for n in names:
        out.extend(dflt if n == "default" else (n,))
    return tuple(out), True


def expand_behaviours(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Behaviour names with sets of :data:`BEHAVIOUR_SETS` expanded, first occurrence kept.

    Examples
    --------
    >>> expand_behaviours(["co-link", "amplification", "co-retweet"])[:3]
    ('co-link', 'co-retweet', 'co-reply')
    """
    out: list[str] = []
    for name in names:
        for b in BEHAVIOUR_SETS.get(name, (name,)):
            if b not in out:
                out.append(b)
    return tuple(out)


@dataclass
class CoordParams:
    """Parameters of a coordination run (see ``echoscope coordinate --help`` for units and costs)."""

    #: ``("default",)``: :data:`DEFAULT_BEHAVIOURS` of the semantics (echoscope: amplification and shared-ip)
    behaviours: tuple[str, ...] = ("default",)
    window: float = 60.0
    min_repeat: int = 2
    min_weight: int = 2
    alpha: float = 0.01
    semantics: str = "echoscope"
    null: str = "object"
    reps: int = 20
    max_window_actions: int | None = 200
    #: behaviours without a window (shared-ip): an address or device used by more than this many other
    #: accounts (carrier NAT, VPN exits, cloud egress) is dropped before pairing and reported
    max_shared_accounts: int | None = 50
    near_duplicate: float | None = 0.8
    rapid_seconds: float = 10.0
    #: early-amplify: engagements within this many seconds of the post
    early_seconds: float = 600.0
    #: co-latency: upper edges (seconds) of the delay buckets after the post
    latency_buckets: tuple[float, ...] = (10.0, 60.0, 300.0, 1800.0)
    edge_weight_quantile: float = 0.5
    evidence_per_edge: int | None = 20
    min_cluster_size: int = 2
    cluster_p: float = 0.2
    #: resolution of the Leiden (RB-configuration) grouping on the selection half of the held-out test; 1 is
    #: plain modularity, lower keeps large campaigns in one group (see api.validate_accounts)
    group_resolution: float = 0.75
    #: held-out validation: an account's co-actions with its group must be at least this multiple of the null
    #: mean (a guard against small biases of the null that large counts make significant)
    min_lift: float = 1.5
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: set when ``behaviours`` came from ``default`` (the Spark engine then runs the part of the default set it
    #: supports, with a note, instead of refusing behaviours the user did not ask for)
    default_behaviours: bool = False

    def __post_init__(self) -> None:
        names, dflt = expand_default(self.behaviours, self.semantics)
        self.behaviours = expand_behaviours(names)
        self.default_behaviours = self.default_behaviours or dflt

    def validate(self) -> None:
        unknown = [b for b in self.behaviours if b not in COACTIONS]
        if unknown:
            raise ConfigError(f"--behaviour: unknown behaviour(s) {', '.join(unknown)}; known: {', '.join(COACTIONS)}, "
                              f"or a set: {', '.join(BEHAVIOUR_SETS)}, default")
        if not self.behaviours:
            raise ConfigError("--behaviour: name at least one behaviour, e.g. co-retweet")
        if self.semantics not in SEMANTICS:
            raise ConfigError(f"--semantics must be one of {', '.join(SEMANTICS)}, not '{self.semantics}'")
        if self.null not in NULL_MODELS:
            raise ConfigError(f"--null must be one of {', '.join(NULL_MODELS)}, not '{self.null}'")
        if not self.window > 0:
            raise ConfigError(f"--window must be a positive number of seconds, not {self.window}")
        if self.max_shared_accounts is not None and self.max_shared_accounts < 1:
            raise ConfigError(f"--max-shared-accounts must be at least 1 (0 on the command line: no cap), not "
                              f"{self.max_shared_accounts}")
        if self.min_weight < 1 or self.min_repeat < 1:
            raise ConfigError("--min-weight and --min-repeat must be at least 1")
        if not 0 < self.cluster_p <= 1:
            raise ConfigError(f"--cluster-p must be a p-value in (0, 1], not {self.cluster_p}")
        if not self.min_lift >= 1:
            raise ConfigError(f"--min-lift must be at least 1 (1 = significance only), not {self.min_lift}")
        if not self.group_resolution > 0:
            raise ConfigError(f"--group-resolution must be a positive number (e.g. 0.5), not {self.group_resolution}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"--alpha must be between 0 and 1 (e.g. 0.01), not {self.alpha}")
        if not self.early_seconds > 0:
            raise ConfigError(f"--early-seconds must be a positive number of seconds, not {self.early_seconds}")
        if not self.latency_buckets or any(not b > 0 for b in self.latency_buckets) \
                or list(self.latency_buckets) != sorted(set(self.latency_buckets)):
            raise ConfigError("--latency-buckets must be increasing positive seconds like 10,60,300,1800, not "
                              f"{','.join(f'{b:g}' for b in self.latency_buckets) or 'nothing'}")
        if self.near_duplicate is not None and not 0 < self.near_duplicate <= 1:
            raise ConfigError(f"--near-duplicate must be a Jaccard similarity in (0, 1], not {self.near_duplicate}")
        if self.semantics != "echoscope":
            bad = [b for b in self.behaviours if b not in ("co-retweet", "co-reply", "co-link", "co-text")] \
                if self.semantics == "cnt" else [b for b in self.behaviours if b != "co-retweet"]
            if bad:
                raise ConfigError(f"--semantics {self.semantics} covers only the peer's own networks; "
                                  f"{', '.join(bad)} has no peer definition: use --semantics echoscope")


EDGE_SCHEMA = pa.schema([
    ("behaviour", pa.string()), ("account_a", pa.string()), ("account_b", pa.string()), ("directed", pa.bool_()),
    ("weight", pa.float64()), ("n_objects", pa.int64()), ("n_pairs", pa.int64()), ("weight_idf", pa.float64()),
    ("min_gap_s", pa.float64()), ("mean_gap_s", pa.float64()), ("first_ts", pa.float64()), ("last_ts", pa.float64()),
    ("null_mean", pa.float64()), ("z", pa.float64()), ("p_value", pa.float64()), ("significant", pa.bool_()),
])

EVIDENCE_SCHEMA = pa.schema([
    ("behaviour", pa.string()), ("account_a", pa.string()), ("account_b", pa.string()), ("object_id", pa.string()),
    ("action_a", pa.string()), ("action_b", pa.string()), ("ts_a", pa.float64()), ("ts_b", pa.float64()),
    ("gap_s", pa.float64()),
])


@dataclass
class BehaviourResult:
    """Edges and evidence of one behaviour, with what the run did to get them."""

    behaviour: str
    edges: pa.Table
    evidence: pa.Table
    stats: dict[str, Any]
    pairs: pa.Table | None = None  # share-level pairs (coortweet semantics only)
    #: per candidate edge, weight and null mean on each half of the objects (sample splitting, see api.py)
    halves: pa.Table | None = None


#: which half of the objects an object falls in: a fixed hash of its unit (``CoAction.unit``: the object id, or
#: the post of co-latency's (post, delay bucket) objects), kept in ``_ca_half(oid, half)``; selection on one
#: half, validation on the other (see ``api.validate_accounts``). Hashing the id string, not a behaviour's own
#: integer numbering, puts one post in the same half in every behaviour, so a fused run does not select a
#: group on a post's co-retweets and test it on the same post's replies
HALF_SQL = "(hash({unit}, 7) % 2)"


def _q(con: Any, sql: str) -> Any:
    return con.execute(sql)


def _scalar(con: Any, sql: str) -> Any:
    return con.execute(sql).fetchone()[0]


def sql_params(params: CoordParams) -> dict[str, Any]:
    """The parameters a behaviour's SQL (``CoAction.sql``, ``reference``, ``window``) may read."""
    return {"window": params.window, "rapid_seconds": params.rapid_seconds, "early_seconds": params.early_seconds,
            "latency_buckets": tuple(params.latency_buckets), **params.extra}


def behaviour_params(behaviour: str, params: CoordParams) -> CoordParams:
    """``params`` with the behaviour's own pairing window when it has one (``CoAction.window``)."""
    spec = COACTIONS[behaviour]
    if spec.window is None or params.semantics != "echoscope":
        return params
    return dataclasses.replace(params, window=float(spec.window(sql_params(params))))


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


def load_actions(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn) -> int:
    """Create temp table ``_ca_raw(account_id, object_id, action_id, ts)`` for ``behaviour``; return its rows."""
    install_macros(con)
    spec = COACTIONS[behaviour]
    p = {"raw_urls": params.semantics != "echoscope", **sql_params(params)}
    sql = (f"CREATE OR REPLACE TEMP TABLE _ca_raw AS SELECT CAST(account_id AS VARCHAR) AS account_id, "
           f"CAST(object_id AS VARCHAR) AS object_id, CAST(action_id AS VARCHAR) AS action_id, "
           f"CAST(ts AS DOUBLE) AS ts FROM ({spec.sql(p)}) WHERE object_id IS NOT NULL AND object_id <> ''")
    if spec.order:
        # the rows' order is their action ids (rowid): kept from the ORDER BY only with insertion order on
        with insertion_order(con):
            _q(con, f"{sql} ORDER BY {spec.order}")
    else:
        _q(con, sql)
    if behaviour == "co-text" and params.near_duplicate is not None and params.near_duplicate < 1:
        from .text import merge_near_duplicates

        merge_near_duplicates(con, params, progress)
    return int(_scalar(con, "SELECT count(*) FROM _ca_raw"))


# ---------------------------------------------------------------------------------------------- echoscope
def _pair_sql(src: str, window: float, timed: bool, rep: bool) -> str:
    """Pairs of actions on one object within the window, a.aid < b.aid orientation, one row per pair."""
    r = "a.rep = b.rep AND " if rep else ""
    sel = ("a.rep, " if rep else "") + (
        "least(a.aid, b.aid) AS a, greatest(a.aid, b.aid) AS b, a.oid, abs(b.ts - a.ts) AS gap, "
        "CASE WHEN a.aid < b.aid THEN a.eid ELSE b.eid END AS ea, CASE WHEN a.aid < b.aid THEN b.eid ELSE a.eid END AS eb, "
        "CASE WHEN a.aid < b.aid THEN a.ts ELSE b.ts END AS ta, CASE WHEN a.aid < b.aid THEN b.ts ELSE a.ts END AS tb")
    if not timed:
        return (f"SELECT {sel} FROM {src} a JOIN {src} b ON {r}a.oid = b.oid AND a.aid < b.aid")
    same = (f"SELECT {sel} FROM {src} a JOIN {src} b ON {r}a.oid = b.oid AND b.bk = a.bk "
            f"AND (b.ts > a.ts OR (b.ts = a.ts AND b.eid > a.eid)) WHERE a.aid <> b.aid AND b.ts - a.ts <= {window!r}")
    nxt = (f"SELECT {sel} FROM {src} a JOIN {src} b ON {r}a.oid = b.oid AND b.bk = a.bk + 1 "
           f"WHERE a.aid <> b.aid AND b.ts - a.ts <= {window!r}")
    return f"{same} UNION ALL {nxt}"


def _exact_neighbours(con: Any, buckets: str, w: float, out: str) -> None:
    """Exact ``nb`` (other actions on the object within +/- window) for the actions of ``buckets(oid, bk)``.

    Every neighbour of an action in bucket ``b`` lies in buckets ``b - 1 .. b + 1``, so the windowed count
    runs per (object, bucket) partition over those three buckets only: small partitions in parallel instead
    of one window over a viral object's whole timeline.
    """
    ctx = " UNION ALL ".join(
        f"SELECT x.eid, x.oid, x.ts, x.bk, e.bk AS centre FROM _ca_act x JOIN {buckets} e "
        f"ON x.oid = e.oid AND x.bk = e.bk + {d}" for d in (-1, 0, 1))
    _q(con, f"""CREATE OR REPLACE TEMP TABLE {out} AS SELECT eid, oid, nb FROM
        (SELECT eid, oid, bk, centre, count(*) OVER (PARTITION BY oid, centre ORDER BY ts
                RANGE BETWEEN {w!r} PRECEDING AND {w!r} FOLLOWING) - 1 AS nb FROM ({ctx})) WHERE bk = centre""")


def _densest(con: Any, w: float) -> dict[int, int]:
    """Exact largest ``nb`` per object over the candidate buckets ``_ca_cand(oid, bk)`` (report only).

    The candidates are a viral object's peak minutes, hundreds of thousands of actions in one bucket: a
    windowed count over them runs in one partition, so the few objects of the report are counted with a
    sort and two binary searches (numpy; the same double arithmetic, ``ts - w <= t' <= ts + w``).
    """
    rows = con.execute("""SELECT x.oid, x.ts, (c.oid IS NOT NULL) AS cand FROM _ca_act x
        SEMI JOIN (SELECT oid, bk + d AS bk FROM _ca_cand, (VALUES (-1), (0), (1)) v(d)) e
             ON e.oid = x.oid AND e.bk = x.bk
        LEFT JOIN _ca_cand c ON c.oid = x.oid AND c.bk = x.bk""").fetch_arrow_table()
    if rows.num_rows == 0:
        return {}
    oid = rows["oid"].to_numpy(zero_copy_only=False)
    ts = rows["ts"].to_numpy(zero_copy_only=False)
    cand = rows["cand"].to_numpy(zero_copy_only=False)
    out: dict[int, int] = {}
    for o in np.unique(oid):
        m = oid == o
        t = np.sort(ts[m])
        tc = ts[m & cand]
        nb = np.searchsorted(t, tc + w, side="right") - np.searchsorted(t, tc - w, side="left") - 1
        out[int(o)] = int(nb.max()) if len(nb) else 0
    return out


def _dense_window_guard(con: Any, cap: int, w: float, timed: bool, report: dict[str, Any]) -> None:
    """Drop from ``_ca_act`` the actions with more than ``cap`` others on their object within +/- window.

    Decided per (object, time bucket) from bucket counts: an action in bucket ``b`` (width = window) has at
    least ``c_b - 1`` neighbours (its whole bucket is within the window) and at most
    ``c_{b-1} + c_b + c_{b+1} - 1``. Buckets whose lower bound exceeds ``cap`` are dropped whole, buckets
    whose upper bound does not are kept whole; only the ambiguous ones get the exact windowed count
    (:func:`_exact_neighbours`). The same holds for the report's densest count of each top object: only
    buckets whose upper bound exceeds the best lower bound of the object are counted exactly. Without a
    time window (shared-ip) an object's count is exact: ``c - 1``.
    """
    # per (object, bucket): count c and the count of the bucket with its two neighbours cu
    _q(con, """CREATE OR REPLACE TEMP TABLE _ca_bc AS SELECT oid, bk, c,
            c + CASE WHEN lag(bk) OVER w = bk - 1 THEN lag(c) OVER w ELSE 0 END
              + CASE WHEN lead(bk) OVER w = bk + 1 THEN lead(c) OVER w ELSE 0 END AS cu
        FROM (SELECT oid, bk, count(*) AS c FROM _ca_act GROUP BY oid, bk) WINDOW w AS (PARTITION BY oid ORDER BY bk)""")
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_amb AS SELECT oid, bk FROM _ca_bc
        WHERE c - 1 <= {cap} AND cu - 1 > {cap}""")
    _exact_neighbours(con, "_ca_amb", w, "_ca_nb")
    # dropped actions: whole buckets over the cap, and ambiguous-bucket actions whose exact count is
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_drop AS
        SELECT oid, count(*) AS dropped FROM (
            SELECT x.oid FROM _ca_act x SEMI JOIN (SELECT oid, bk FROM _ca_bc WHERE c - 1 > {cap}) d
                ON d.oid = x.oid AND d.bk = x.bk
            UNION ALL SELECT oid FROM _ca_nb WHERE nb > {cap}) GROUP BY oid""")
    dropped = int(_scalar(con, "SELECT coalesce(sum(dropped), 0) FROM _ca_drop"))
    if dropped:
        _q(con, "CREATE OR REPLACE TEMP TABLE _ca_top AS SELECT oid, dropped FROM _ca_drop "
                "ORDER BY dropped DESC, oid LIMIT 10")
        # densest action of each top object: the best lower bound, raised by exact counts where needed
        _q(con, """CREATE OR REPLACE TEMP TABLE _ca_lb AS SELECT b.oid, max(b.c) - 1 AS lb FROM _ca_bc b
            SEMI JOIN _ca_top t ON t.oid = b.oid GROUP BY b.oid""")
        _q(con, """CREATE OR REPLACE TEMP TABLE _ca_cand AS SELECT b.oid, b.bk FROM _ca_bc b JOIN _ca_lb l USING (oid)
            WHERE b.cu - 1 > l.lb""")
        dens = _densest(con, w)
        top = con.execute("""SELECT o.object_id, t.dropped, l.lb, t.oid FROM _ca_top t JOIN _ca_lb l USING (oid)
            JOIN _ca_obj o USING (oid) ORDER BY t.dropped DESC, o.object_id""").fetchall()
        top = [(o, d, max(int(lb), dens.get(int(oid), 0))) for o, d, lb, oid in top]
        report.update({
            "actions_dropped": dropped,
            "objects_affected": int(_scalar(con, "SELECT count(*) FROM _ca_drop")),
            "top_objects": [{"object_id": o, "actions_dropped": int(d), "max_neighbours": int(m)} for o, d, m in top]})
        _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_act AS SELECT x.* FROM _ca_act x
            ANTI JOIN (SELECT oid, bk FROM _ca_bc WHERE c - 1 > {cap}) d ON d.oid = x.oid AND d.bk = x.bk
            ANTI JOIN (SELECT eid FROM _ca_nb WHERE nb > {cap}) n ON n.eid = x.eid""")
    for t in ("_ca_bc", "_ca_amb", "_ca_nb", "_ca_drop", "_ca_top", "_ca_lb", "_ca_cand"):
        _q(con, f"DROP TABLE IF EXISTS {t}")


def echoscope_edges(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn) -> BehaviourResult:
    """Edges of one behaviour under echoscope semantics (pruned, bucketed, guarded; significance)."""
    spec = COACTIONS[behaviour]
    w = float(params.window)
    timed = spec.timed
    stats: dict[str, Any] = {"behaviour": behaviour, "timed": timed}
    stats["actions"] = load_actions(con, behaviour, params, progress)
    k = max(params.min_repeat, params.min_weight)
    # integer ids first, everything after works on integers. Account and object ids are ranks of the string
    # ids (so a < b on integers is a < b on strings, and output order does not change); an action's id is
    # its row in _ca_raw, which also finds its action_id and ts again for the evidence.
    _q(con, "CREATE OR REPLACE TEMP TABLE _ca_acc AS SELECT account_id, CAST(row_number() OVER (ORDER BY account_id) "
            "AS INTEGER) AS aid FROM (SELECT DISTINCT account_id FROM _ca_raw)")
    _q(con, "CREATE OR REPLACE TEMP TABLE _ca_obj0 AS SELECT object_id, CAST(row_number() OVER (ORDER BY object_id) "
            "AS INTEGER) AS oid0 FROM (SELECT DISTINCT object_id FROM _ca_raw)")
    _q(con, """CREATE OR REPLACE TEMP TABLE _ca_i AS SELECT a.aid, o.oid0, r.rowid AS eid, r.ts
        FROM _ca_raw r JOIN _ca_acc a USING (account_id) JOIN _ca_obj0 o USING (object_id)""")
    # distinct (account, object) over all actions: objects per account (pruning), accounts per object (idf)
    _q(con, "CREATE OR REPLACE TEMP TABLE _ca_ao0 AS SELECT DISTINCT aid, oid0 FROM _ca_i")
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_keep AS SELECT aid FROM _ca_ao0 GROUP BY aid HAVING count(*) >= {k}""")
    # prune accounts on fewer than k distinct objects, then objects with a single account left; objects
    # are numbered by rank among the kept ones (the hash of that number splits objects in halves)
    _q(con, """CREATE OR REPLACE TEMP TABLE _ca_df AS SELECT oid0, count(*) AS df,
            count(*) FILTER (WHERE aid IN (SELECT aid FROM _ca_keep)) AS dk FROM _ca_ao0 GROUP BY oid0""")
    _q(con, """CREATE OR REPLACE TEMP TABLE _ca_obj AS SELECT o.object_id, o.oid0,
            CAST(row_number() OVER (ORDER BY o.oid0) AS INTEGER) AS oid, d.df
        FROM _ca_df d JOIN _ca_obj0 o USING (oid0) WHERE d.dk >= 2""")
    stats["accounts"] = int(_scalar(con, "SELECT count(*) FROM _ca_acc"))
    # idf of each object over all accounts acting in this behaviour (Pacheco et al. 2021 style down-weighting)
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_idf AS SELECT oid, ln((1.0 + {stats['accounts']}) / (1.0 + df)) AS idf
        FROM _ca_obj""")
    bucket = f"CAST(floor(ts / {w!r}) AS BIGINT)" if timed else "CAST(0 AS BIGINT)"
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_act AS
        SELECT x.aid, o.oid, x.eid, x.ts, {bucket} AS bk
        FROM _ca_i x SEMI JOIN _ca_keep k ON k.aid = x.aid JOIN _ca_obj o ON o.oid0 = x.oid0""")
    stats["accounts_after_pruning"] = int(_scalar(con, "SELECT count(DISTINCT aid) FROM _ca_act"))
    stats["actions_after_pruning"] = int(_scalar(con, "SELECT count(*) FROM _ca_act"))
    for t in ("_ca_i", "_ca_ao0", "_ca_df", "_ca_obj0"):
        _q(con, f"DROP TABLE IF EXISTS {t}")
    # dense-window guard (reported): drop actions with more than `cap` others on the object within +/- window
    # (without a window every action of an object is within it: the cap is on the accounts sharing an address)
    cap = params.max_window_actions if timed else params.max_shared_accounts
    stats["guard"] = {"max_window_actions": cap, "actions_dropped": 0, "objects_affected": 0, "top_objects": []}
    if cap is not None:
        _dense_window_guard(con, int(cap), w, timed, stats["guard"])
    # exact pruning for the pairing input only (the null model keeps every action): an action with no other
    # action on its object within +/- window pairs with nothing; an account left with fewer than k objects
    # that have such neighbours cannot reach the minimum weight; an object left with one account pairs
    # nothing. Two rounds remove nearly all of it on sparse data.
    _q(con, "CREATE OR REPLACE TEMP TABLE _ca_pin AS SELECT aid, oid, eid, ts, bk FROM _ca_act")
    if timed:
        for _ in range(2):
            _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_pin AS SELECT aid, oid, eid, ts, bk FROM
                (SELECT *, count(*) OVER (PARTITION BY oid ORDER BY ts RANGE BETWEEN {w!r} PRECEDING
                                          AND {w!r} FOLLOWING) AS c FROM _ca_pin) WHERE c > 1""")
            _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_pin AS SELECT p.* FROM _ca_pin p SEMI JOIN
                (SELECT aid FROM _ca_pin GROUP BY aid HAVING count(DISTINCT oid) >= {k}) USING (aid)""")
            _q(con, """CREATE OR REPLACE TEMP TABLE _ca_pin AS SELECT p.* FROM _ca_pin p SEMI JOIN
                (SELECT oid FROM _ca_pin GROUP BY oid HAVING count(DISTINCT aid) >= 2) USING (oid)""")
    stats["actions_paired"] = int(_scalar(con, "SELECT count(*) FROM _ca_pin"))
    progress({"event": "stage", "message": f"{behaviour}: pairing {stats['actions_paired']:,} actions"})
    pairs = _pair_sql("_ca_pin", w, timed, False)
    # ties on the gap: the smallest action pair (deterministic, and what the Spark engine keeps)
    agg = """SELECT a, b, oid, count(*) AS n, min(gap) AS gap,
               arg_min(ea * 4294967296 + eb, (gap, ea * 4294967296 + eb)) AS ev,
               min(least(ta, tb)) AS t0, max(greatest(ta, tb)) AS t1 FROM ({src}) GROUP BY a, b, oid"""
    if int(params.min_weight) >= 2:
        # most account pairs meet on one object only and can be no edge: a cheap per-pair pass (count and
        # smallest / largest object) finds the pairs with two or more objects, and only their pairs are
        # aggregated per (pair, object) with the evidence; the others add one (pair, object) row each
        _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_abk AS SELECT a, b, count(*) AS n, min(oid) < max(oid) AS multi
            FROM ({pairs}) GROUP BY a, b""")
        n_pairs, single = con.execute("SELECT coalesce(sum(n), 0), count(*) FILTER (WHERE NOT multi) "
                                      "FROM _ca_abk").fetchone()
        _q(con, "CREATE OR REPLACE TEMP TABLE _ca_abo AS " + agg.format(
            src=f"SELECT p.* FROM ({pairs}) p SEMI JOIN (SELECT a, b FROM _ca_abk WHERE multi) k "
                "ON k.a = p.a AND k.b = p.b"))
        _q(con, "DROP TABLE IF EXISTS _ca_abk")
        stats["pairs_within_window"] = int(n_pairs)
        stats["pair_object_rows"] = int(single) + int(_scalar(con, "SELECT count(*) FROM _ca_abo"))
    else:
        _q(con, "CREATE OR REPLACE TEMP TABLE _ca_abo AS " + agg.format(src=pairs))
        stats["pairs_within_window"] = int(_scalar(con, "SELECT coalesce(sum(n), 0) FROM _ca_abo"))
        stats["pair_object_rows"] = int(_scalar(con, "SELECT count(*) FROM _ca_abo"))
    return echoscope_judge(con, behaviour, params, progress, stats)


def echoscope_judge(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn,
                    stats: dict[str, Any]) -> BehaviourResult:
    """Candidate edges, null model, p-values, evidence and validation inputs from the per-pair tables.

    Reads ``_ca_raw``, ``_ca_acc``, ``_ca_obj``, ``_ca_idf``, ``_ca_act``, ``_ca_pin`` and ``_ca_abo`` (left
    by :func:`echoscope_edges` or handed over by the Spark engine, :mod:`.spark`).
    """
    w = float(params.window)
    timed = COACTIONS[behaviour].timed
    unit = COACTIONS[behaviour].unit
    _q(con, f"CREATE OR REPLACE TEMP TABLE _ca_half AS SELECT oid, {HALF_SQL.format(unit=unit)} AS half FROM _ca_obj")
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_edges AS
        SELECT a, b, count(*) AS n_objects, sum(n) AS n_pairs, sum(i.idf) AS weight_idf, min(gap) AS min_gap,
               avg(gap) AS mean_gap, min(t0) AS first_ts, max(t1) AS last_ts,
               count(*) FILTER (WHERE hf.half = 0) AS w0, count(*) FILTER (WHERE hf.half = 1) AS w1
        FROM _ca_abo JOIN _ca_idf i USING (oid) JOIN _ca_half hf USING (oid) GROUP BY a, b HAVING count(*) >= {int(params.min_weight)}""")
    stats["candidate_edges"] = int(_scalar(con, "SELECT count(*) FROM _ca_edges"))
    spec = COACTIONS[behaviour]
    ref_sql = spec.reference(sql_params(params)) if spec.reference else None
    null_stats = _null_model(con, params, timed, progress, ref_sql) if params.null != "none" else {}
    stats["null"] = null_stats
    edges = con.execute("""SELECT e.a, e.b, aa.account_id AS account_a, ab.account_id AS account_b, e.n_objects,
            e.n_pairs, e.weight_idf, e.min_gap, e.mean_gap, e.first_ts, e.last_ts, coalesce(nl.lam, 0.0) AS lam
        FROM _ca_edges e JOIN _ca_acc aa ON aa.aid = e.a JOIN _ca_acc ab ON ab.aid = e.b
        LEFT JOIN _ca_nulllam nl ON nl.a = e.a AND nl.b = e.b ORDER BY e.a, e.b""" if null_stats else
                        """SELECT e.a, e.b, aa.account_id AS account_a, ab.account_id AS account_b, e.n_objects,
            e.n_pairs, e.weight_idf, e.min_gap, e.mean_gap, e.first_ts, e.last_ts, 0.0 AS lam
        FROM _ca_edges e JOIN _ca_acc aa ON aa.aid = e.a JOIN _ca_acc ab ON ab.aid = e.b ORDER BY e.a, e.b"""
                        ).fetch_arrow_table()
    n = edges.num_rows
    wts = np.asarray(edges["n_objects"].to_numpy(zero_copy_only=False), dtype=float)
    if null_stats:
        lam_raw = np.asarray(edges["lam"].to_numpy(zero_copy_only=False), dtype=float)
        floor = 1e-9 if null_stats.get("analytic") else 0.5 / max(params.reps, 1)
        # a pair never seen together in R shuffles still gets a small mean, so p never collapses to 0
        lam = np.maximum(lam_raw, floor)
        p = poisson_sf(wts, lam)
        z = (wts - lam) / np.sqrt(lam)
        # Per-pair p-values ignore that only pairs seen together are tested. The shuffled networks give the
        # same test to every pair that co-acts by chance: judge edges at the largest p-value cut-off c whose
        # empirical false-discovery rate (mean shuffled edges with p <= c) / (observed edges with p <= c) is
        # at most alpha, and with a Benjamini-Hochberg-significant p-value over the candidate edges.
        c, expected = p_threshold(p, np.asarray(null_stats.pop("_null_p", [])), params.alpha,
                                  max(params.reps, 1)) if "_null_p" in null_stats else (params.alpha, None)
        sig = benjamini_hochberg(p, params.alpha) & (p <= c)
        stats["p_threshold"] = c
        stats["expected_false_edges"] = expected
        null_mean = lam_raw
    else:
        p = np.full(n, np.nan)
        z = np.full(n, np.nan)
        sig = np.ones(n, dtype=bool)
        null_mean = np.full(n, np.nan)
        stats["expected_false_edges"] = None
    stats["significant_edges"] = int(sig.sum())
    out = pa.table({
        "behaviour": pa.array([behaviour] * n, pa.string()), "account_a": edges["account_a"],
        "account_b": edges["account_b"], "directed": pa.array([False] * n), "weight": pa.array(wts),
        "n_objects": edges["n_objects"].cast(pa.int64()), "n_pairs": edges["n_pairs"].cast(pa.int64()),
        "weight_idf": edges["weight_idf"].cast(pa.float64()), "min_gap_s": edges["min_gap"].cast(pa.float64()),
        "mean_gap_s": edges["mean_gap"].cast(pa.float64()), "first_ts": edges["first_ts"].cast(pa.float64()),
        "last_ts": edges["last_ts"].cast(pa.float64()), "null_mean": pa.array(null_mean),
        "z": pa.array(z), "p_value": pa.array(p), "significant": pa.array(sig)}, schema=EDGE_SCHEMA)
    # evidence for judged edges: per object the closest pair of actions
    con.register("_ca_sig", pa.table({"a": edges["a"].filter(pa.array(sig)), "b": edges["b"].filter(pa.array(sig))}))
    lim = "" if params.evidence_per_edge is None else f"QUALIFY row_number() OVER (PARTITION BY x.a, x.b ORDER BY x.gap, x.oid) <= {int(params.evidence_per_edge)}"
    evidence = con.execute(f"""SELECT '{behaviour}' AS behaviour, aa.account_id AS account_a, ab.account_id AS account_b,
            o.object_id, ea.action_id AS action_a, eb.action_id AS action_b, ea.ts AS ts_a, eb.ts AS ts_b,
            x.gap AS gap_s
        FROM (SELECT x.* FROM _ca_abo x SEMI JOIN _ca_sig s ON s.a = x.a AND s.b = x.b {lim}) x
        JOIN _ca_acc aa ON aa.aid = x.a JOIN _ca_acc ab ON ab.aid = x.b JOIN _ca_obj o ON o.oid = x.oid
        JOIN _ca_raw ea ON ea.rowid = x.ev // 4294967296 JOIN _ca_raw eb ON eb.rowid = x.ev % 4294967296
        ORDER BY account_a, account_b, gap_s""").fetch_arrow_table().cast(EVIDENCE_SCHEMA)
    con.unregister("_ca_sig")
    halves = None
    if null_stats.get("analytic") and timed:
        # kept for validate_accounts (api.py): within-window pairs and account-object rows with q and half
        t = behaviour.replace("-", "_")
        _q(con, f"""CREATE OR REPLACE TEMP TABLE _cv_abo_{t} AS
            SELECT aa.account_id AS x, ab.account_id AS y, '{behaviour}' AS beh, x.oid, hf.half
            FROM (SELECT DISTINCT a, b, oid FROM ({_pair_sql('_ca_pin', w, timed, False)})) x
            JOIN _ca_acc aa ON aa.aid = x.a JOIN _ca_acc ab ON ab.aid = x.b JOIN _ca_half hf ON hf.oid = x.oid""")
        _q(con, f"""CREATE OR REPLACE TEMP TABLE _cv_ao_{t} AS
            SELECT a.account_id AS acc, '{behaviour}' AS beh, x.oid, hf.half, q.q,
                   q.n, q.s, nr.k, nr.nb, q.na
            FROM _ca_ao x JOIN _ca_acc a ON a.aid = x.aid JOIN _ca_q q ON q.oid = x.oid JOIN _ca_half hf ON hf.oid = x.oid
            LEFT JOIN (SELECT account_id, oid, count(*) AS k, sum(nb)::DOUBLE AS nb FROM _ca_nbr GROUP BY 1, 2) nr
              ON nr.account_id = a.account_id AND nr.oid = x.oid""")
        if spec.reference is not None:
            # a behaviour with a reference keeps only some of an object's actions (the first seconds or
            # minutes) and its window spans them all: every two of its accounts on the object co-act. The
            # held-out test counts co-acting non-group accounts from all of them, pruned accounts included,
            # as the null's slots (every account of the reference) include them
            _q(con, f"""CREATE OR REPLACE TEMP TABLE _cv_act_{t} AS
                SELECT DISTINCT r.account_id AS acc, '{behaviour}' AS beh, o.oid, hf.half
                FROM _ca_raw r JOIN _ca_obj o USING (object_id) JOIN _ca_half hf ON hf.oid = o.oid""")
        halves = con.execute("""SELECT aa.account_id AS account_a, ab.account_id AS account_b,
                e.w0::DOUBLE AS w0, coalesce(l.l0, 0.0) AS l0, e.w1::DOUBLE AS w1, coalesce(l.l1, 0.0) AS l1
            FROM _ca_edges e JOIN _ca_acc aa ON aa.aid = e.a JOIN _ca_acc ab ON ab.aid = e.b
            LEFT JOIN _ca_nulllam l ON l.a = e.a AND l.b = e.b""").fetch_arrow_table()
    return BehaviourResult(behaviour, out, evidence, stats, halves=halves)


def _null_model(con: Any, params: CoordParams, timed: bool, progress: ProgressFn,
                ref_sql: str | None = None) -> dict[str, Any]:
    """Null means of the candidate edges in ``_ca_nulllam(a, b, lam)``; dispatches on ``params.null``."""
    if params.null == "object":
        return _object_null(con, params, timed, progress, ref_sql)
    return _sampled_null(con, params, timed, progress)


def _object_null(con: Any, params: CoordParams, timed: bool, progress: ProgressFn,
                 ref_sql: str | None = None) -> dict[str, Any]:
    """Object-timeline null, exact in expectation, calibrated by ``reps`` shuffles.

    Under the null each object keeps its timestamps (its burst after publication) and each account keeps the
    objects it acted on, but which account made which of an object's actions is random. Two accounts that
    both acted on object ``o`` then land within the window with probability ``q_o`` = (ordered pairs of the
    object's actions within the window) / (n_o (n_o - 1)): close to 1 on a viral post everyone shared in the
    same minute (co-acting there is no evidence; this is the down-weighting of popular objects), small on a
    post shared over days. A pair's null weight is a sum of such Bernoullis over the objects both acted on,
    so ``lambda = sum q_o`` and ``p = P(Poisson(lambda) >= weight)``. ``q_o`` is computed on all actions
    (before pruning) with one window count; lambda needs a join of each candidate edge with its shared
    objects. For behaviours without a time window (shared-ip) every shared object counts, so the null is the
    bipartite configuration model: ``lambda = deg_a deg_b sum_o df_o (df_o - 1) / (sum_o df_o)^2``.

    The shuffles (all ``reps`` in one query) apply the same test to every pair that co-acts by chance, which
    gives the empirical false-discovery cut-off and the expected number of false edges.
    """
    w = float(params.window)
    _q(con, "CREATE OR REPLACE TEMP TABLE _ca_ao AS SELECT DISTINCT aid, oid FROM _ca_act")
    if timed:
        # nb = other actions on the same object within +/- window, per action (kept per account for
        # validate_accounts, which re-estimates q_o without a group's own actions)
        _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_nbr AS SELECT o.oid, r.account_id,
                count(*) OVER (PARTITION BY o.oid ORDER BY r.ts RANGE BETWEEN {w!r} PRECEDING AND {w!r} FOLLOWING) - 1 AS nb
            FROM _ca_raw r JOIN _ca_obj o USING (object_id)""")
        # with a reference (rapid-fire: every amplification of the post), the object's slots are all of its
        # actions: q_o = (ordered pairs of the behaviour's actions within the window) / (n_ref (n_ref - 1))
        if ref_sql:
            _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_refr AS SELECT o.oid, CAST(r.account_id AS VARCHAR) AS account_id
                FROM ({ref_sql}) r JOIN _ca_obj o ON o.object_id = CAST(r.object_id AS VARCHAR)""")
            _q(con, """CREATE OR REPLACE TEMP TABLE _ca_ref AS SELECT oid, count(*) AS n_ref,
                count(DISTINCT account_id) AS a_ref FROM _ca_refr GROUP BY oid""")
            # an account is a candidate for every object it acted on in the reference, not only those where
            # its action made the behaviour (a rapid repost): the null's question is how often both of two
            # accounts' slots on an object they both acted on are among the behaviour's, and summing q_o over
            # the objects where they both already did would leave out the objects where they did not
            # (lambda far too small: every active account "significant")
            _q(con, """CREATE OR REPLACE TEMP TABLE _ca_ao AS SELECT aid, oid FROM _ca_ao UNION
                SELECT a.aid, r.oid FROM _ca_refr r JOIN _ca_acc a USING (account_id)
                SEMI JOIN (SELECT DISTINCT aid FROM _ca_act) k ON k.aid = a.aid""")
            _q(con, "DROP TABLE IF EXISTS _ca_refr")
        else:
            _q(con, "CREATE OR REPLACE TEMP TABLE _ca_ref (oid INTEGER, n_ref BIGINT, a_ref BIGINT)")
        _q(con, """CREATE OR REPLACE TEMP TABLE _ca_q AS
            SELECT oid, n, s, CASE WHEN n > 1 THEN least(1.0, s / (n::DOUBLE * (n - 1))) ELSE 1.0 END AS q, na
            FROM (SELECT b.oid, greatest(count(*), coalesce(any_value(r.n_ref), 0)) AS n, sum(b.nb)::DOUBLE AS s,
                         any_value(r.a_ref) AS na
                  FROM _ca_nbr b LEFT JOIN _ca_ref r USING (oid) GROUP BY b.oid)""")
        # the objects two accounts share are found from the one with fewer objects (s), probing the other's
        # (t): on power-law data a busy account has edges to thousands of others, and expanding every edge
        # by the first account's objects filled the disk at 10M engagements
        _q(con, "CREATE OR REPLACE TEMP TABLE _ca_aod AS SELECT aid, count(*) AS d FROM _ca_ao GROUP BY aid")
        lam_sql = """SELECT e.a, e.b, sum(q.q) AS lam, count(*) AS n_shared,
                   coalesce(sum(q.q) FILTER (WHERE hf.half = 0), 0.0) AS l0,
                   coalesce(sum(q.q) FILTER (WHERE hf.half = 1), 0.0) AS l1 FROM
              (SELECT e.a, e.b, CASE WHEN coalesce(da.d, 0) <= coalesce(db.d, 0) THEN e.a ELSE e.b END AS s,
                      CASE WHEN coalesce(da.d, 0) <= coalesce(db.d, 0) THEN e.b ELSE e.a END AS t
               FROM {src} e LEFT JOIN _ca_aod da ON da.aid = e.a LEFT JOIN _ca_aod db ON db.aid = e.b) e
            JOIN _ca_ao x ON x.aid = e.s JOIN _ca_ao y ON y.aid = e.t AND y.oid = x.oid
            JOIN _ca_q q ON q.oid = x.oid JOIN _ca_half hf ON hf.oid = x.oid GROUP BY e.a, e.b"""
    else:
        # over every (account, object) of the behaviour, before pruning and the guard: an account's degree
        # counts the addresses only it used, and a crowded address (a carrier NAT) raises everyone's mean
        _q(con, "CREATE OR REPLACE TEMP TABLE _ca_rao AS SELECT DISTINCT account_id, object_id FROM _ca_raw")
        k = _scalar(con, """SELECT sum(df * (df - 1))::DOUBLE / greatest(1, sum(df))::DOUBLE ^ 2
            FROM (SELECT object_id, count(*) AS df FROM _ca_rao GROUP BY object_id)""") or 0.0
        _q(con, """CREATE OR REPLACE TEMP TABLE _ca_deg AS SELECT a.aid, count(*) AS d
            FROM _ca_rao r JOIN _ca_acc a USING (account_id) GROUP BY a.aid""")
        _q(con, "DROP TABLE IF EXISTS _ca_rao")
        lam_sql = f"""SELECT e.a, e.b, da.d * db.d * {float(k)!r} AS lam, 0 AS n_shared,
                   da.d * db.d * {float(k) / 2!r} AS l0, da.d * db.d * {float(k) / 2!r} AS l1 FROM {{src}} e
            JOIN _ca_deg da ON da.aid = e.a JOIN _ca_deg db ON db.aid = e.b"""
    _q(con, "CREATE OR REPLACE TEMP TABLE _ca_nulllam AS " + lam_sql.format(src="_ca_edges"))
    out: dict[str, Any] = {"model": "object", "analytic": True, "reps": int(params.reps), "seed": int(params.seed)}
    if ref_sql:
        # the shuffles permute accounts among the behaviour's own actions; with a reference the null's slots
        # are all of the object's actions, which the shuffles do not have: no empirical cut-off (BH only)
        out["reps"] = 0
        out["reference"] = True
    elif not timed:
        # the shuffles move accounts among an object's timestamps; without a window every two accounts of an
        # object co-act whatever their times, so each shuffled network is the observed one and its "false"
        # edges would be every candidate edge (no edge ever judged). The analytic configuration-model means
        # above are the null: BH only
        out["reps"] = 0
    elif params.reps > 0:
        _shuffled_networks(con, params, timed, progress)
        mw = int(params.min_weight)
        _q(con, f"CREATE OR REPLACE TEMP TABLE _ca_nwe AS SELECT rep, a, b, w FROM _ca_nw WHERE w >= {mw}")
        _q(con, "CREATE OR REPLACE TEMP TABLE _ca_nwl AS " + lam_sql.format(
            src="(SELECT DISTINCT a, b FROM _ca_nwe)"))
        nul = con.execute("""SELECT n.w, coalesce(l.lam, 0.0) AS lam FROM _ca_nwe n
            LEFT JOIN _ca_nwl l ON l.a = n.a AND l.b = n.b""").fetch_arrow_table()
        nw = np.asarray(nul["w"].to_numpy(zero_copy_only=False), dtype=float)
        nl = np.maximum(np.asarray(nul["lam"].to_numpy(zero_copy_only=False), dtype=float), 1e-9)
        out["_null_p"] = poisson_sf(nw, nl)
        out["null_edges_at_min_weight"] = float(len(nw)) / params.reps
        out["null_pairs_per_rep"] = float(_scalar(con, "SELECT coalesce(sum(w), 0) FROM _ca_nw")) / params.reps
        for t in ("_ca_nw", "_ca_nwe", "_ca_nwl"):
            _q(con, f"DROP TABLE IF EXISTS {t}")
    return out


def _shuffled_networks(con: Any, params: CoordParams, timed: bool, progress: ProgressFn) -> None:
    """All ``reps`` shuffles in one query; leaves ``_ca_nw(rep, a, b, w)`` (distinct objects per null pair).

    Under the object-timeline null an object keeps its timestamps and only which account holds which of its
    action slots changes, so the pairs of slots within the window are the same in every shuffle: they are
    found once (one windowed self-join instead of ``reps``), and each shuffle only looks up the accounts of
    both slots. When no account holds two slots of one object (one repost per post, the usual case) a pair of
    accounts meets at most once per object and ``count(*)`` is the number of objects, at half the cost of
    ``count(DISTINCT oid)`` over tens of millions of null pairs (measured at 5M engagements: 48.8 -> ~26 s).
    """
    reps = int(params.reps)
    seed = int(params.seed)
    w = float(params.window)
    progress({"event": "stage", "message": f"null model: {reps} shuffles ({params.null})"})
    multi = _scalar(con, "SELECT count(*) FROM (SELECT aid, oid FROM _ca_act GROUP BY aid, oid HAVING count(*) > 1)")
    wsql = "count(DISTINCT oid)" if multi else "count(*)"
    bucket = f"CAST(floor(ts / {w!r}) AS BIGINT)" if timed else "CAST(0 AS BIGINT)"
    if params.null == "account":
        shuffled = f"""
            SELECT p.rep, p.aid, p.oid, p.eid, s.ts FROM
              (SELECT r.rep, x.aid, x.oid, x.eid, row_number() OVER (PARTITION BY r.rep, x.aid
                      ORDER BY hash(x.eid, r.rep, {seed})) AS k FROM _ca_act x, range({reps}) r(rep)) p
            JOIN (SELECT aid, ts, row_number() OVER (PARTITION BY aid ORDER BY ts, eid) AS k FROM _ca_act) s
              USING (aid, k)"""
        _q(con, f"CREATE OR REPLACE TEMP TABLE _ca_nact AS SELECT *, {bucket} AS bk FROM ({shuffled})")
        _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_nw AS SELECT rep, a, b, {wsql} AS w
            FROM ({_pair_sql('_ca_nact', w, timed, True)}) GROUP BY rep, a, b""")
        _q(con, "DROP TABLE IF EXISTS _ca_nact")
        return
    # the slot pairs (the pairs _pair_sql would give on any shuffle, before the accounts are known)
    if timed:
        _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_sp AS
            SELECT a.oid, a.eid AS ea, b.eid AS eb FROM _ca_act a JOIN _ca_act b ON a.oid = b.oid AND b.bk = a.bk
              AND (b.ts > a.ts OR (b.ts = a.ts AND b.eid > a.eid)) WHERE b.ts - a.ts <= {w!r}
            UNION ALL SELECT a.oid, a.eid, b.eid FROM _ca_act a JOIN _ca_act b ON a.oid = b.oid AND b.bk = a.bk + 1
              WHERE b.ts - a.ts <= {w!r}""")
    else:
        _q(con, """CREATE OR REPLACE TEMP TABLE _ca_sp AS SELECT a.oid, a.eid AS ea, b.eid AS eb
            FROM _ca_act a JOIN _ca_act b ON a.oid = b.oid AND a.eid < b.eid""")
    # shuffle r: the action of rank k (by hash) on an object gets the account of the object's k-th action
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_perm AS
        SELECT p.rep, p.eid, s.aid FROM
          (SELECT r.rep, x.oid, x.eid, row_number() OVER (PARTITION BY r.rep, x.oid
                  ORDER BY hash(x.eid, r.rep, {seed})) AS k
           FROM _ca_act x SEMI JOIN (SELECT DISTINCT oid FROM _ca_sp) o ON o.oid = x.oid, range({reps}) r(rep)) p
        JOIN (SELECT oid, aid, row_number() OVER (PARTITION BY oid ORDER BY eid) AS k FROM _ca_act) s USING (oid, k)""")
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_nw AS
        SELECT p1.rep, least(p1.aid, p2.aid) AS a, greatest(p1.aid, p2.aid) AS b, {wsql.replace('oid', 'sp.oid')} AS w
        FROM _ca_sp sp JOIN _ca_perm p1 ON p1.eid = sp.ea JOIN _ca_perm p2 ON p2.eid = sp.eb AND p2.rep = p1.rep
        WHERE p1.aid <> p2.aid GROUP BY 1, 2, 3""")
    for t in ("_ca_sp", "_ca_perm"):
        _q(con, f"DROP TABLE IF EXISTS {t}")


def _sampled_null(con: Any, params: CoordParams, timed: bool, progress: ProgressFn) -> dict[str, Any]:
    """Null means estimated from ``reps`` shuffles (the ``account`` model); leaves ``_ca_nulllam``."""
    reps = max(int(params.reps), 1)
    _shuffled_networks(con, params, timed, progress)
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_nulllam AS SELECT n.a, n.b, sum(n.w)::DOUBLE / {reps} AS lam
        FROM _ca_nw n SEMI JOIN _ca_edges e ON e.a = n.a AND e.b = n.b GROUP BY n.a, n.b""")
    mw = int(params.min_weight)
    by_w = dict(con.execute(f"SELECT w, count(*) FROM _ca_nw WHERE w >= {mw} GROUP BY w").fetchall())
    out = {"model": params.null, "reps": reps, "seed": int(params.seed),
           "null_edges_by_weight": {str(int(k)): float(v) / reps for k, v in sorted(by_w.items())},
           "null_edges_at_min_weight": float(sum(by_w.values())) / reps,
           "null_pairs_per_rep": float(_scalar(con, "SELECT coalesce(sum(w), 0) FROM _ca_nw")) / reps}
    # the same per-pair test applied to the shuffled networks' own edges calibrates the cut-off
    nul = con.execute(f"""SELECT n.w, coalesce(l.lam, 0.0) AS lam FROM _ca_nw n LEFT JOIN
        (SELECT a, b, sum(w)::DOUBLE / {reps} AS lam FROM _ca_nw GROUP BY a, b) l ON l.a = n.a AND l.b = n.b
        WHERE n.w >= {mw}""").fetch_arrow_table()
    out["_null_p"] = poisson_sf(np.asarray(nul["w"].to_numpy(zero_copy_only=False), dtype=float),
                                np.maximum(np.asarray(nul["lam"].to_numpy(zero_copy_only=False), dtype=float),
                                           0.5 / reps))
    _q(con, "DROP TABLE IF EXISTS _ca_nw")
    return out


def p_threshold(p_obs: np.ndarray, p_null: np.ndarray, alpha: float, reps: int) -> tuple[float, float]:
    """Largest cut-off ``c`` with (mean shuffled edges with p <= c) <= alpha * (observed edges with p <= c).

    ``p_null`` holds the p-values of the edges of all ``reps`` shuffled networks. Returns ``c`` and the
    expected number of false edges at it; ``(0, 0)`` when no observed p-value qualifies.
    """
    if len(p_obs) == 0:
        return 0.0, 0.0
    cand = np.unique(p_obs)
    n_obs = np.searchsorted(np.sort(p_obs), cand, side="right").astype(float)
    n_null = np.searchsorted(np.sort(p_null), cand, side="right").astype(float) / reps
    ok = np.nonzero(n_null <= alpha * n_obs)[0]
    if len(ok) == 0:
        return 0.0, 0.0
    i = int(ok.max())
    return float(cand[i]), float(n_null[i])


def weight_threshold(weights: np.ndarray, null_by_weight: dict[str, float], alpha: float) -> tuple[float, float]:
    """Smallest weight ``t`` with (mean null edges of weight >= t) <= alpha * (observed edges >= t).

    Returns ``t`` and the expected number of false edges at it (the mean null edge count); ``inf`` and 0 when
    no level qualifies.
    """
    levels = sorted({int(x) for x in weights})
    for t in levels:
        n_obs = float((weights >= t).sum())
        n_null = float(sum(v for k, v in null_by_weight.items() if int(k) >= t))
        if n_obs > 0 and n_null <= alpha * n_obs:
            return float(t), n_null
    return math.inf, 0.0


def poisson_sf(k: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """P(X >= k) for X ~ Poisson(lam), elementwise."""
    from scipy.stats import poisson

    return np.asarray(poisson.sf(np.asarray(k) - 1, lam), dtype=float)


def benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    """Boolean mask of the p-values rejected by Benjamini-Hochberg at false discovery rate ``alpha``."""
    m = len(p)
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    thresh = alpha * np.arange(1, m + 1) / m
    ok = p[order] <= thresh
    out = np.zeros(m, dtype=bool)
    if ok.any():
        kmax = int(np.nonzero(ok)[0].max())
        out[order[: kmax + 1]] = True
    return out


# ---------------------------------------------------------------------------------------------- cnt
def cnt_edges(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn) -> BehaviourResult:
    """coordination-network-toolkit semantics: directed rows, weight = count(distinct source message).

    A message is matched by every *other* message on the same object within +/- window (inclusive), so an
    account acting twice on one object inside the window gets a self-loop, as the toolkit's test expects.
    """
    stats: dict[str, Any] = {"behaviour": behaviour, "actions": load_actions(con, behaviour, params, progress)}
    w = float(params.window)
    mw = int(params.min_weight)
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_cp AS
        SELECT e1.account_id AS account_a, e2.account_id AS account_b, e1.object_id, e1.action_id AS action_a,
               e2.action_id AS action_b, e1.ts AS ts_a, e2.ts AS ts_b
        FROM _ca_raw e1 JOIN _ca_raw e2 ON e1.object_id = e2.object_id AND e2.ts BETWEEN e1.ts - {w!r} AND e1.ts + {w!r}
             AND e1.action_id <> e2.action_id
        WHERE e1.account_id IN (SELECT account_id FROM _ca_raw GROUP BY account_id HAVING count(*) >= {mw})""")
    stats["pairs_within_window"] = int(_scalar(con, "SELECT count(*) FROM _ca_cp"))
    e = con.execute(f"""SELECT '{behaviour}' AS behaviour, account_a, account_b, true AS directed,
            CAST(count(DISTINCT action_a) AS DOUBLE) AS weight, count(DISTINCT object_id) AS n_objects,
            count(*) AS n_pairs, CAST(NULL AS DOUBLE) AS weight_idf, min(abs(ts_b - ts_a)) AS min_gap_s,
            avg(abs(ts_b - ts_a)) AS mean_gap_s, min(least(ts_a, ts_b)) AS first_ts, max(greatest(ts_a, ts_b)) AS last_ts,
            CAST(NULL AS DOUBLE) AS null_mean, CAST(NULL AS DOUBLE) AS z, CAST(NULL AS DOUBLE) AS p_value,
            true AS significant
        FROM _ca_cp GROUP BY account_a, account_b HAVING count(DISTINCT action_a) >= {mw}
        ORDER BY account_a, account_b""").fetch_arrow_table().cast(EDGE_SCHEMA)
    lim = "" if params.evidence_per_edge is None else \
        f"QUALIFY row_number() OVER (PARTITION BY p.account_a, p.account_b ORDER BY abs(p.ts_b - p.ts_a), p.action_a) <= {int(params.evidence_per_edge)}"
    ev = con.execute(f"""SELECT '{behaviour}' AS behaviour, p.account_a, p.account_b, p.object_id, p.action_a, p.action_b,
            p.ts_a, p.ts_b, abs(p.ts_b - p.ts_a) AS gap_s FROM _ca_cp p
        SEMI JOIN (SELECT account_a, account_b FROM _ca_cp GROUP BY ALL HAVING count(DISTINCT action_a) >= {mw}) k
             ON k.account_a = p.account_a AND k.account_b = p.account_b
        {lim} ORDER BY 2, 3, 9""").fetch_arrow_table().cast(EVIDENCE_SCHEMA)
    stats["candidate_edges"] = stats["significant_edges"] = e.num_rows
    stats["self_loops"] = int(pa.compute.sum(pa.compute.equal(e["account_a"], e["account_b"])).as_py() or 0)
    stats["expected_false_edges"] = None
    return BehaviourResult(behaviour, e, ev, stats)


# ---------------------------------------------------------------------------------------------- CooRTweet
def coortweet_edges(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn) -> BehaviourResult:
    """CooRTweet 2.1.3 semantics (detect_groups + generate_coordinated_network).

    ``min_repeat`` is its ``min_participation`` (rows per account, before pairing and again on the accounts'
    paired shares), the window is inclusive, self and same-account pairs are removed, the edge weight is the
    number of share pairs, and an edge is judged coordinated when its weight is strictly above the R type-7
    quantile ``edge_weight_quantile`` of all edge weights.
    """
    stats: dict[str, Any] = {"behaviour": behaviour, "actions": load_actions(con, behaviour, params, progress)}
    w = float(params.window)
    mp = int(params.min_repeat)
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_x AS SELECT *, row_number() OVER () AS rid FROM _ca_raw
        WHERE account_id IN (SELECT account_id FROM _ca_raw GROUP BY account_id HAVING count(*) >= {mp})""")
    _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_sp AS
        SELECT a.object_id, a.action_id AS content_id, b.action_id AS content_id_y, a.ts - b.ts AS time_delta,
               a.account_id, b.account_id AS account_id_y
        FROM _ca_x a JOIN _ca_x b ON a.object_id = b.object_id AND a.rid < b.rid AND abs(a.ts - b.ts) <= {w!r}
        WHERE a.object_id <> a.action_id AND a.object_id <> b.action_id AND a.action_id <> b.action_id
              AND a.account_id <> b.account_id""")
    if mp >= 1:
        _q(con, f"""CREATE OR REPLACE TEMP TABLE _ca_filt AS SELECT action_id FROM _ca_x
            WHERE account_id IN (SELECT account_id FROM _ca_x WHERE action_id IN
                  (SELECT content_id FROM _ca_sp UNION SELECT content_id_y FROM _ca_sp)
                  GROUP BY account_id HAVING count(*) >= {mp})""")
        _q(con, """CREATE OR REPLACE TEMP TABLE _ca_sp AS SELECT * FROM _ca_sp
            WHERE content_id IN (SELECT action_id FROM _ca_filt) OR content_id_y IN (SELECT action_id FROM _ca_filt)""")
    # orientation as CooRTweet: content_id is the older share, time_delta its absolute value
    pairs = con.execute("""SELECT object_id,
            CASE WHEN time_delta > 0 THEN content_id_y ELSE content_id END AS content_id,
            CASE WHEN time_delta > 0 THEN content_id ELSE content_id_y END AS content_id_y,
            abs(time_delta) AS time_delta,
            CASE WHEN time_delta > 0 THEN account_id_y ELSE account_id END AS account_id,
            CASE WHEN time_delta > 0 THEN account_id ELSE account_id_y END AS account_id_y
        FROM _ca_sp ORDER BY object_id, content_id, content_id_y""").fetch_arrow_table()
    con.register("_ca_spo", pairs)
    e = con.execute(f"""SELECT '{behaviour}' AS behaviour, least(account_id, account_id_y) AS account_a,
            greatest(account_id, account_id_y) AS account_b, false AS directed, CAST(count(*) AS DOUBLE) AS weight,
            count(DISTINCT object_id) AS n_objects, count(*) AS n_pairs, CAST(NULL AS DOUBLE) AS weight_idf,
            min(time_delta) AS min_gap_s, avg(time_delta) AS mean_gap_s, CAST(NULL AS DOUBLE) AS first_ts,
            CAST(NULL AS DOUBLE) AS last_ts, CAST(NULL AS DOUBLE) AS null_mean, CAST(NULL AS DOUBLE) AS z,
            CAST(NULL AS DOUBLE) AS p_value, false AS significant
        FROM _ca_spo GROUP BY 2, 3 ORDER BY 2, 3""").fetch_arrow_table()
    wts = np.asarray(e["weight"].to_numpy(zero_copy_only=False), dtype=float)
    q = float(np.quantile(wts, params.edge_weight_quantile)) if len(wts) else math.nan  # numpy 'linear' == R type 7
    e = e.set_column(e.schema.get_field_index("significant"), "significant", pa.array(wts > q))
    ev = con.execute(f"""SELECT '{behaviour}' AS behaviour, account_id AS account_a, account_id_y AS account_b,
            object_id, content_id AS action_a, content_id_y AS action_b, CAST(NULL AS DOUBLE) AS ts_a,
            CAST(NULL AS DOUBLE) AS ts_b, time_delta AS gap_s FROM _ca_spo""").fetch_arrow_table()
    con.unregister("_ca_spo")
    stats.update({"share_pairs": pairs.num_rows, "candidate_edges": e.num_rows, "weight_quantile": q,
                  "edge_weight_quantile": params.edge_weight_quantile,
                  "significant_edges": int((wts > q).sum()), "expected_false_edges": None})
    return BehaviourResult(behaviour, e.cast(EDGE_SCHEMA), ev.cast(EVIDENCE_SCHEMA), stats, pairs=pairs)


#: semantics name -> edge builder
BUILDERS: dict[str, Callable[[Any, str, CoordParams, ProgressFn], BehaviourResult]] = {
    "echoscope": echoscope_edges,
    "cnt": cnt_edges,
    "coortweet": coortweet_edges,
}

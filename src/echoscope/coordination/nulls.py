"""Null models of a behaviour's candidate edges: how often two accounts would co-act if nobody coordinated.

Why on DuckDB for both engines: the shuffles and the object halves use DuckDB's ``hash()`` (Spark has no
function with the same values), and they work on the integer tables the data-sized stages leave
(:data:`.stages.HANDOVER`), a fraction of the data. Both engines then give the same null means, p-values and
cut-offs.

Two models (``--null``): the object timeline (:func:`_object_null`, exact null means, calibrated by shuffles)
and the account timeline (:func:`_sampled_null`, means estimated from shuffles). Each leaves
``_ca_nulllam(a, b, lam, ...)`` for the candidate edges ``_ca_edges`` and returns its statistics.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa

from ..settings import lend_memory
from .params import CoordParams, ProgressFn
from .stages import pair_sql
from .stats import poisson_sf


def _scalar(con: Any, sql: str) -> Any:
    return con.execute(sql).fetchone()[0]


def null_model(con: Any, params: CoordParams, timed: bool, progress: ProgressFn,
                ref_sql: str | None = None, unit: str = "object_id") -> dict[str, Any]:
    """Null means of the candidate edges in ``_ca_nulllam(a, b, lam)``; dispatches on ``params.null``.
    ``unit``: the behaviour's ``CoAction.unit`` (co-latency's objects are a post's delay buckets)."""
    if params.null == "object":
        return _object_null(con, params, timed, progress, ref_sql, unit)
    return _sampled_null(con, params, timed, progress)


def _object_null(con: Any, params: CoordParams, timed: bool, progress: ProgressFn,
                 ref_sql: str | None = None, unit: str = "object_id") -> dict[str, Any]:
    """Object-timeline null, exact in expectation, calibrated by ``reps`` shuffles.

    Under the null each object keeps its timestamps (its burst after publication) and each account keeps the
    objects it acted on, but which account made which of an object's actions is random. Two accounts that
    both acted on object ``o`` then land within the window with probability ``q_o`` = (ordered pairs of the
    object's actions within the window) / (n_o (n_o - 1)): close to 1 on a viral post everyone shared in the
    same minute (co-acting there is no evidence; this is the down-weighting of popular objects), small on a
    post shared over days. A pair's null weight is a sum of such Bernoullis over the objects both acted on,
    so ``lambda = sum q_o`` and ``p = P(Poisson(lambda) >= weight)``; an account with ``k`` actions on ``o``
    holds ``k`` of its slots, and the term is then ``min(1, k_a k_b q_o)``
    (tests/test_coordination_hyperactive.py). ``q_o`` is computed on all actions (before pruning) with one
    window count; lambda needs a join of each candidate edge with its shared objects. For behaviours without a
    time window (shared-ip) every shared object counts, so the null is the
    bipartite configuration model: ``lambda = deg_a deg_b sum_o df_o (df_o - 1) / (sum_o df_o)^2``.

    The shuffles (:func:`object_shuffles`, one at a time in numpy) apply the same test to every pair that
    co-acts by chance, which gives the empirical false-discovery cut-off and the expected number of false edges.
    """
    w = float(params.window)
    # an account's slots on each object (k): a reply-guy answering one post thirty times, or an account that
    # mentions one handle all day, holds many of the object's slots
    con.execute("CREATE OR REPLACE TEMP TABLE _ca_ao AS SELECT aid, oid, count(*) AS k FROM _ca_act GROUP BY aid, oid")
    if timed:
        # nb = other actions on the same object within +/- window, per action (kept per account for
        # validate_accounts, which re-estimates q_o without a group's own actions)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_nbr AS SELECT o.oid, r.account_id,
                count(*) OVER (PARTITION BY o.oid ORDER BY r.ts
                               RANGE BETWEEN {w!r} PRECEDING AND {w!r} FOLLOWING) - 1 AS nb
            FROM _ca_raw r JOIN _ca_obj o USING (object_id)""")
        # with a reference (rapid-fire: every amplification of the post), the object's slots are all of its
        # actions: q_o = (ordered pairs of the behaviour's actions within the window) / (n_ref (n_ref - 1))
        if ref_sql:
            # a reference row names the object's unit (CoAction.reference): a slot of each of the unit's objects
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_refr AS
                SELECT o.oid, CAST(r.account_id AS VARCHAR) AS account_id
                FROM ({ref_sql}) r JOIN (SELECT oid, {unit} AS unit FROM _ca_obj) o
                  ON o.unit = CAST(r.object_id AS VARCHAR)""")
            con.execute("""CREATE OR REPLACE TEMP TABLE _ca_ref AS SELECT oid, count(*) AS n_ref,
                count(DISTINCT account_id) AS a_ref FROM _ca_refr GROUP BY oid""")
            # an account is a candidate for every object it acted on in the reference, not only those where
            # its action made the behaviour (a rapid repost): the null's question is how often both of two
            # accounts' slots on an object they both acted on are among the behaviour's, and summing q_o over
            # the objects where they both already did would leave out the objects where they did not
            # (lambda far too small: every active account "significant")
            con.execute("""CREATE OR REPLACE TEMP TABLE _ca_ao AS SELECT aid, oid, max(k) AS k FROM (
                SELECT aid, oid, k FROM _ca_ao UNION ALL
                SELECT a.aid, r.oid, 1 AS k FROM _ca_refr r JOIN _ca_acc a USING (account_id)
                SEMI JOIN (SELECT DISTINCT aid FROM _ca_act) k ON k.aid = a.aid) GROUP BY aid, oid""")
            con.execute("DROP TABLE IF EXISTS _ca_refr")
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE _ca_ref (oid INTEGER, n_ref BIGINT, a_ref BIGINT)")
        con.execute("""CREATE OR REPLACE TEMP TABLE _ca_q AS
            SELECT oid, n, s, CASE WHEN n > 1 THEN least(1.0, s / (n::DOUBLE * (n - 1))) ELSE 1.0 END AS q, na
            FROM (SELECT b.oid, greatest(count(*), coalesce(any_value(r.n_ref), 0)) AS n, sum(b.nb)::DOUBLE AS s,
                         any_value(r.a_ref) AS na
                  FROM _ca_nbr b LEFT JOIN _ca_ref r USING (oid) GROUP BY b.oid)""")
        # the objects two accounts share are found from the one with fewer objects (s), probing the other's
        # (t): on power-law data a busy account has edges to thousands of others, and expanding every edge
        # by the first account's objects filled the disk at 10M engagements
        con.execute("CREATE OR REPLACE TEMP TABLE _ca_aod AS SELECT aid, count(*) AS d FROM _ca_ao GROUP BY aid")
        # an object's term is P(some slot of a's within the window of some slot of b's): q_o for one slot each;
        # with k_a and k_b slots the expected number of such slot pairs is k_a k_b q_o, which bounds it (the
        # weight counts objects, not slot pairs; min(1, k_a k_b q_o) is exact when k_a = k_b = 1, conservative
        # otherwise)
        shared = """(SELECT e.a, e.b, CASE WHEN coalesce(da.d, 0) <= coalesce(db.d, 0) THEN e.a ELSE e.b END AS s,
                      CASE WHEN coalesce(da.d, 0) <= coalesce(db.d, 0) THEN e.b ELSE e.a END AS t
               FROM {src} e LEFT JOIN _ca_aod da ON da.aid = e.a LEFT JOIN _ca_aod db ON db.aid = e.b) e
            JOIN _ca_ao x ON x.aid = e.s JOIN _ca_ao y ON y.aid = e.t AND y.oid = x.oid
            JOIN _ca_q q ON q.oid = x.oid"""
        term = "least(1.0, x.k * y.k * q.q)"
        lam_sql = f"""SELECT a, b, sum(m) AS lam, count(*) AS n_shared,
                   coalesce(sum(m) FILTER (WHERE half = 0), 0.0) AS l0,
                   coalesce(sum(m) FILTER (WHERE half = 1), 0.0) AS l1 FROM
            (SELECT e.a, e.b, {term} AS m, hf.half FROM {shared}
             JOIN _ca_half hf ON hf.oid = x.oid) GROUP BY a, b"""
        # the shuffled pairs need only lambda: neither the halves nor the shared objects' count
        lam_only = f"SELECT e.a, e.b, sum({term}) AS lam FROM {shared} GROUP BY e.a, e.b"
    else:
        # over every (account, object) of the behaviour, before pruning and the guard: an account's degree
        # counts the addresses only it used, and a crowded address (a carrier NAT) raises everyone's mean
        con.execute("CREATE OR REPLACE TEMP TABLE _ca_rao AS SELECT DISTINCT account_id, object_id FROM _ca_raw")
        k = _scalar(con, """SELECT sum(df * (df - 1))::DOUBLE / greatest(1, sum(df))::DOUBLE ^ 2
            FROM (SELECT object_id, count(*) AS df FROM _ca_rao GROUP BY object_id)""") or 0.0
        con.execute("""CREATE OR REPLACE TEMP TABLE _ca_deg AS SELECT a.aid, count(*) AS d
            FROM _ca_rao r JOIN _ca_acc a USING (account_id) GROUP BY a.aid""")
        con.execute("DROP TABLE IF EXISTS _ca_rao")
        lam_sql = f"""SELECT e.a, e.b, da.d * db.d * {float(k)!r} AS lam, 0 AS n_shared,
                   da.d * db.d * {float(k) / 2!r} AS l0, da.d * db.d * {float(k) / 2!r} AS l1 FROM {{src}} e
            JOIN _ca_deg da ON da.aid = e.a JOIN _ca_deg db ON db.aid = e.b"""
        lam_only = lam_sql
    if timed and ref_sql and unit != "object_id":
        _unit_lambda(con, unit)
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE _ca_nulllam AS " + lam_sql.format(src="_ca_edges"))
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
        progress({"event": "stage", "message": f"null model: up to {int(params.reps)} shuffles ({params.null})"})
        nwe, total, reps = object_shuffles(con, int(params.reps), int(params.seed), w, int(params.min_weight))
        out["reps"] = reps
        if reps < params.reps:
            out["reps_asked"] = int(params.reps)
        # the null mean of every distinct shuffled pair, then of each shuffled edge. The distinct pairs are found
        # here and handed over as a table: written as SELECT DISTINCT over the shuffled edges inside the query,
        # DuckDB planned the joins on a wrong estimate of their number and took 65 s instead of 5 s for the
        # 2.7M pairs of power-law retweets with viral bursts (benchmarks/results/coordination_speed.md)
        # Only each shuffled edge's weight and its pair's number are kept while DuckDB works (the shuffled
        # edges were 15M rows on 10M power-law retweets with bursts)
        key = nwe["a"].to_numpy().astype(np.int64) << 32 | nwe["b"].to_numpy().astype(np.int64)
        nw = np.asarray(nwe["w"].to_numpy(), dtype=float)
        del nwe
        uk, inv = np.unique(key, return_inverse=True)
        del key
        nwp = pa.table({"a": pa.array((uk >> 32).astype(np.int32)), "b": pa.array((uk & 0xFFFFFFFF).astype(np.int32)),
                        "i": pa.array(np.arange(len(uk), dtype=np.int64))})
        del uk
        con.register("_ca_nwp", nwp)
        try:
            lam_u = con.execute("SELECT p.i, coalesce(l.lam, 0.0) AS lam FROM _ca_nwp p LEFT JOIN ("
                                + lam_only.format(src="_ca_nwp") + ") l ON l.a = p.a AND l.b = p.b ORDER BY p.i"
                                ).fetch_arrow_table()["lam"].to_numpy()
        finally:
            con.unregister("_ca_nwp")
        del nwp
        out["_null_p"] = poisson_sf(nw, np.maximum(np.asarray(lam_u, dtype=float)[inv], 1e-9))
        out["null_edges_at_min_weight"] = float(len(nw)) / max(reps, 1)
        out["null_pairs_per_rep"] = float(total) / max(reps, 1)
    return out


def _unit_lambda(con: Any, unit: str) -> None:
    """``_ca_nulllam`` of :func:`_object_null` summed per unit where it can be: the same means, less work.

    co-latency's objects are a post's delay buckets, and with its reference every account that engaged the post
    holds a slot in each of them (``_ca_ao``: one row per bucket). A pair's mean then sums the same buckets'
    ``q`` for every post the two share: probed per bucket, the candidate edges' join was 51.7M rows at 1M
    engagements (22 of co-latency's 72 s at 10M). An account is *whole* on a unit (post) when it holds every
    object of the unit with one slot each; where both accounts of an edge are whole on a unit, its term is the
    unit's ``Q = sum of min(1, q_o)`` over its objects, found with one probe per unit. The rest is summed per
    object as in :func:`_object_null`: the units where the account with fewer objects (``s``) is not whole, and
    those where ``s`` is whole and the other (``t``) is not. The three parts are disjoint and cover every shared
    object, so ``lam``, ``l0`` and ``l1`` are those of the per-object sum (up to the order of the additions).
    """
    # each object's unit number, each unit's objects, its Q per half (a unit's objects share its half)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_ou AS SELECT o.oid,
            dense_rank() OVER (ORDER BY {unit.replace("object_id", "o.object_id")}) AS uid FROM _ca_obj o""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _ca_un AS SELECT u.uid, count(*) AS nobj,
            sum(least(1.0, q.q)) FILTER (WHERE hf.half = 0) AS q0, sum(least(1.0, q.q)) FILTER (WHERE hf.half = 1) AS q1
        FROM _ca_ou u JOIN _ca_q q USING (oid) JOIN _ca_half hf USING (oid) GROUP BY u.uid""")
    # per account and unit: whether it holds every object of the unit with one slot each
    con.execute("""CREATE OR REPLACE TEMP TABLE _ca_au AS SELECT x.aid, u.uid,
            (count(*) = any_value(n.nobj) AND max(x.k) = 1) AS whole
        FROM _ca_ao x JOIN _ca_ou u USING (oid) JOIN _ca_un n USING (uid) GROUP BY x.aid, u.uid""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _ca_aop AS SELECT x.aid, x.oid, x.k, u.uid, au.whole
        FROM _ca_ao x JOIN _ca_ou u USING (oid) JOIN _ca_au au ON au.aid = x.aid AND au.uid = u.uid""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _ca_nulllam AS
        WITH e AS (SELECT e.a, e.b, CASE WHEN coalesce(da.d, 0) <= coalesce(db.d, 0) THEN e.a ELSE e.b END AS s,
                          CASE WHEN coalesce(da.d, 0) <= coalesce(db.d, 0) THEN e.b ELSE e.a END AS t
                   FROM _ca_edges e LEFT JOIN _ca_aod da ON da.aid = e.a LEFT JOIN _ca_aod db ON db.aid = e.b),
        -- units where both are whole: the unit's Q
        ff AS (SELECT e.a, e.b, coalesce(n.q0, 0.0) AS m0, coalesce(n.q1, 0.0) AS m1 FROM e
               JOIN _ca_au x ON x.aid = e.s AND x.whole JOIN _ca_au y ON y.aid = e.t AND y.uid = x.uid AND y.whole
               JOIN _ca_un n ON n.uid = x.uid),
        -- objects of the units where s is not whole, held by t too
        sn AS (SELECT e.a, e.b, least(1.0, x.k * y.k * q.q) AS m, hf.half FROM e
               JOIN _ca_aop x ON x.aid = e.s AND NOT x.whole JOIN _ca_ao y ON y.aid = e.t AND y.oid = x.oid
               JOIN _ca_q q ON q.oid = x.oid JOIN _ca_half hf ON hf.oid = x.oid),
        -- objects of the units where s is whole (so holds each object once) and t is not
        tn AS (SELECT e.a, e.b, least(1.0, y.k * q.q) AS m, hf.half FROM e
               JOIN _ca_aop y ON y.aid = e.t AND NOT y.whole JOIN _ca_au x ON x.aid = e.s AND x.uid = y.uid AND x.whole
               JOIN _ca_q q ON q.oid = y.oid JOIN _ca_half hf ON hf.oid = y.oid),
        allm AS (SELECT a, b, m0, m1 FROM ff
                 UNION ALL SELECT a, b, CASE WHEN half = 0 THEN m ELSE 0.0 END, CASE WHEN half = 1 THEN m ELSE 0.0 END
                           FROM (SELECT * FROM sn UNION ALL SELECT * FROM tn))
        SELECT a, b, sum(m0) + sum(m1) AS lam, sum(m0) AS l0, sum(m1) AS l1 FROM allm GROUP BY a, b""")
    for name in ("_ca_ou", "_ca_un", "_ca_au", "_ca_aop"):
        con.execute(f"DROP TABLE IF EXISTS {name}")


def object_shuffles(con: Any, reps: int, seed: int, w: float, min_weight: int,
                    budget: int | None = None) -> tuple[pa.Table, int, int]:
    """The shuffled networks of the object-timeline null: their edges of weight ``>= min_weight`` and all pairs.

    Returns ``(rep, a, b, w)`` for the account pairs of each shuffle that co-act on ``min_weight`` or more
    distinct objects, the sum of ``w`` over every pair of every shuffle (``null_pairs_per_rep`` times
    ``reps``), and the number of shuffles made: ``reps``, or fewer (never below :data:`MIN_SHUFFLES`) when
    ``reps`` times the slot pairs would exceed ``budget`` (default :data:`SHUFFLE_BUDGET`).

    Shuffle ``r`` gives the action of rank ``k`` on an object (ranked by ``hash(eid, r, seed)``, the
    DuckDB hash of the action id, shuffle and seed) the account of the object's ``k``-th action by action id;
    an object keeps its timestamps, so the pairs of slots within the window (:func:`_slot_pairs`) are the same
    in every shuffle and are found once.

    Why numpy: the permutation is a sort per shuffle and the shuffled pairs are counted with a sort of one
    64-bit key per slot pair, shuffle by shuffle. The same in SQL (one ``row_number()`` over all shuffles'
    actions, then two joins of every slot pair with it and a three-column aggregate over ``reps`` times the
    slot pairs: 20 x 8.6M rows on the power-law bursts of benchmarks/bench_coordination.py) was most of the
    null's time (48 of 69 s for co-retweet at 1M simulated engagements; benchmarks/results/coordination_speed.md).
    Memory: ~40 bytes per action, 8 per slot pair (positions as int32) and ~11-18 per slot pair for each
    shuffle in flight (its pair keys, sorted in place, and flags; as many shuffles at once as DuckDB has threads
    and :data:`SHUFFLE_MEMORY` holds), the other temporaries in chunks of :data:`SHUFFLE_CHUNK` slot pairs or
    the size of the kept pairs; the dense-window guard bounds the slot pairs at ``max_window_actions / 2`` per
    action.
    """
    sp = _slot_pairs(con, w)
    if sp is None:
        return _NWE.empty_table(), 0, reps
    oid, eid, aid_by_eid, ea, eb = sp
    budget = SHUFFLE_BUDGET if budget is None else budget
    if len(ea) * reps > budget:
        reps = min(reps, max(MIN_SHUFFLES, budget // max(len(ea), 1)))
    n_acc = int(aid_by_eid.max()) + 1 if len(aid_by_eid) else 1
    n_obj = int(oid.max()) + 1 if len(oid) else 1
    multi = _scalar(con, "SELECT count(*) FROM (SELECT aid, oid FROM _ca_act GROUP BY aid, oid HAVING count(*) > 1)")
    # an account holding two slots of one object: the weight counts distinct objects, so each slot pair's key
    # carries its object too (pair * n_obj + oid, one 64-bit sort) when that fits in 63 bits, else a second sort
    # key (np.lexsort, three more arrays the size of the slot pairs)
    packed = bool(multi) and n_acc * n_acc * n_obj < PACK_LIMIT
    threads = max(1, int(_scalar(con, "SELECT current_setting('threads')") or 1))
    # shuffles in flight: DuckDB's threads, as many as SHUFFLE_MEMORY holds (each holds its keys and a few
    # arrays of flags the size of the slot pairs; on 10M power-law retweets with bursts, 55M slot pairs, two at
    # once with the older temporaries took the process from 3.3 to 9.1 GiB)
    per_shuffle = len(ea) * (18 if multi else 11) + len(aid_by_eid) * 16
    threads = max(1, min(threads, SHUFFLE_MEMORY // max(per_shuffle, 1)))
    okey = oid.astype(np.uint64) << np.uint64(32)
    diag = n_acc + 1  # min(a, b) * n_acc + max(a, b) of a slot pair whose two slots went to one account

    def shuffle(r: int, h: np.ndarray) -> tuple[pa.Table, int]:
        # per object, its actions by hash: the k-th of them gets the k-th account. One sort of the object number
        # and the hash's top 32 bits in one key (two keys in np.lexsort took 5 of the null's 7 s at 1M)
        order = np.argsort(okey | (h >> np.uint64(32)))
        del h
        perm = np.empty(len(order), dtype=np.int64)
        perm[order] = aid_by_eid
        del order
        # one key per slot pair, min(a, b) * n_acc + max(a, b) = min(a * n_acc + b, b * n_acc + a), built in
        # place chunk by chunk; a slot pair whose two slots went to one account gets the key a * (n_acc + 1)
        # and is dropped after the sort (cheaper than a filter over every slot pair)
        key = np.empty(len(ea), dtype=np.int64)
        objs = np.empty(len(ea), dtype=np.int32) if multi and not packed else None
        selfs = 0
        for i in range(0, len(ea), SHUFFLE_CHUNK):  # the temporaries of a chunk of slot pairs at a time
            xa, xb = ea[i:i + SHUFFLE_CHUNK], eb[i:i + SHUFFLE_CHUNK]
            x, y = perm[xa], perm[xb]
            if not multi:
                selfs += int(np.count_nonzero(x == y))
            k = x * n_acc
            k += y
            y *= n_acc
            y += x
            out = key[i:i + len(xa)]
            np.minimum(k, y, out=out)
            if packed:
                out *= n_obj
                out += oid[xa]
            elif objs is not None:
                objs[i:i + len(xa)] = oid[xa]
        del perm
        if packed:  # distinct (pair, object), then the pair alone
            key.sort()
            key = _distinct_sorted(key)
            key //= n_obj
        elif objs is not None:
            key, _ = _unique_rows(key, objs)
            del objs
        else:
            key.sort()
        if multi:
            selfs = _count_multiples(key, diag)
        # account pairs with min_weight or more slot pairs (distinct objects): the starts of runs of equal keys
        # whose (min_weight - 1)-th successor is the same key, the run's end found by binary search; self pairs
        # (multiples of n_acc + 1) left out
        m = max(int(min_weight), 1)
        if len(key) >= m:
            same = key[m - 1:] == key[:len(key) - m + 1]
            if len(same) > 1:
                same[1:] &= key[1:len(key) - m + 1] != key[:len(key) - m]
            starts = np.flatnonzero(same)
            del same
        else:
            starts = np.empty(0, dtype=np.int64)
        k = key[starts]
        keep = (k % diag) != 0
        k, starts = k[keep], starts[keep]
        c = np.searchsorted(key, k, side="right") - starts
        n_pairs = len(key) - selfs
        del key
        return pa.table({"rep": pa.array(np.full(len(k), r, dtype=np.int64)),
                         "a": pa.array((k // n_acc).astype(np.int32)), "b": pa.array((k % n_acc).astype(np.int32)),
                         "w": pa.array(c.astype(np.int64))}, schema=_NWE), n_pairs

    # numpy's sorts release the GIL: up to `threads` shuffles at once (see above), each holding its own
    # temporaries; the hashes come from the connection one shuffle at a time. DuckDB's limit does not count
    # these arrays: it is lowered by their size while they are held (settings.lend_memory), so DuckDB moves what
    # it holds beyond that to its spill directory instead of the process holding both (10M power-law retweets
    # with bursts: 55M slot pairs, ~1.2 GiB of arrays beside DuckDB's tables)
    held = len(ea) * 8 + len(aid_by_eid) * 28 + per_shuffle * threads
    done: list[tuple[pa.Table, int]] = []
    with lend_memory(con, held), ThreadPoolExecutor(max_workers=threads) as pool:
        running: list[Future[tuple[pa.Table, int]]] = []
        for r in range(reps):
            if len(running) >= threads:
                done.append(running.pop(0).result())
            # the hash of (eid, rep, seed) exactly as SQL gives it, for the actions in (oid, eid) order
            h = con.execute(f"SELECT hash(eid, CAST({r} AS BIGINT), {seed}) AS h FROM _ca_spa ORDER BY i"
                            ).fetch_arrow_table()["h"].to_numpy()
            running.append(pool.submit(shuffle, r, h))
            del h
        done.extend(f.result() for f in running)
    con.execute("DROP TABLE IF EXISTS _ca_spa")
    outs = [t for t, _ in done]
    return pa.concat_tables(outs) if outs else _NWE.empty_table(), sum(n for _, n in done), reps


#: the most slot pairs all shuffles of one behaviour count together (shuffles times slot pairs; ~50 ns each).
#: Each shuffle sorts one 64-bit key per slot pair, and the null's cost grows with both: on power-law retweets
#: with viral bursts (8.6M slot pairs at 1M retweets) 20 shuffles took 33-40 s of a run's time. The cut-off
#: needs the mean number of shuffled edges at each p-value, and with hundreds of thousands of chance edges per
#: shuffle a few shuffles estimate it as well as twenty: above the budget fewer shuffles are made, never fewer
#: than :data:`MIN_SHUFFLES`, and the summary says how many (``reps``, with ``reps_asked``). The simulator's
#: 1M engagements (about 1M slot pairs for co-retweet) keep all 20
SHUFFLE_BUDGET = 48_000_000

#: the fewest shuffles the budget leaves
MIN_SHUFFLES = 5

#: slot pairs whose shuffled accounts :func:`object_shuffles` looks up at once (bounds its temporaries)
SHUFFLE_CHUNK = 2_000_000

#: the largest (account pairs x objects) whose keys :func:`object_shuffles` packs into one int64 (a test lowers it
#: to check the two-key sort it falls back to)
PACK_LIMIT = 2**63

#: bytes the shuffles in flight may hold together (their keys and flags, ~11 bytes per slot pair, ~18 when an
#: account holds two slots of one object): fewer shuffles run at once above it, never fewer than one
SHUFFLE_MEMORY = 1 << 30

_NWE = pa.schema([("rep", pa.int64()), ("a", pa.int32()), ("b", pa.int32()), ("w", pa.int64())])


def _distinct_sorted(key: np.ndarray) -> np.ndarray:
    """The distinct values of the sorted ``key`` (one array of flags and the kept values)."""
    if len(key) < 2:
        return key
    first = np.empty(len(key), dtype=bool)
    first[0] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    return key[first]


def _count_multiples(key: np.ndarray, d: int) -> int:
    """How many values of ``key`` are multiples of ``d``, counted a chunk at a time."""
    return sum(int(np.count_nonzero(key[i:i + SHUFFLE_CHUNK] % d == 0)) for i in range(0, len(key), SHUFFLE_CHUNK))


def _unique_rows(key: np.ndarray, obj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (key, obj) rows."""
    o = np.lexsort((obj, key))
    key, obj = key[o], obj[o]
    first = np.ones(len(key), dtype=bool)
    first[1:] = (key[1:] != key[:-1]) | (obj[1:] != obj[:-1])
    return key[first], obj[first]


def _slot_pairs(con: Any, w: float) -> tuple[np.ndarray, ...] | None:
    """The actions and the slot pairs within the window (as positions in the actions' (oid, eid) order).

    Leaves ``_ca_spa(i, oid, eid, ...)`` (the actions in (oid, eid) order, ``i`` their position) and returns their
    ``oid``, ``eid`` and the account of each (in that order), and the positions ``ea``, ``eb`` of the two
    actions of each slot pair (the pairs of :func:`.stages.pair_sql`: ``b`` after ``a`` within the window).
    """
    con.execute("""CREATE OR REPLACE TEMP TABLE _ca_spa AS
        SELECT row_number() OVER (ORDER BY oid, eid) - 1 AS i, oid, eid, aid, ts, bk FROM _ca_act""")
    act = con.execute("SELECT oid, eid, aid FROM _ca_spa ORDER BY i").fetch_arrow_table()
    if act.num_rows == 0:
        con.execute("DROP TABLE IF EXISTS _ca_spa")
        return None
    # the pairs in the same window bucket, then those in the next one: two queries, not one UNION ALL. DuckDB
    # 1.5 never returned the UNION ALL of these two joins fetched into Arrow with one thread (at 1M power-law
    # retweets) or at 10M engagements with two: its executor waited for a task that never came
    parts = [con.execute(f"""SELECT CAST(a.i AS INTEGER) AS ea, CAST(b.i AS INTEGER) AS eb
            FROM _ca_spa a JOIN _ca_spa b ON a.oid = b.oid AND b.bk = a.bk
              AND (b.ts > a.ts OR (b.ts = a.ts AND b.eid > a.eid)) WHERE b.ts - a.ts <= {w!r}""").fetch_arrow_table(),
             con.execute(f"""SELECT CAST(a.i AS INTEGER) AS ea, CAST(b.i AS INTEGER) AS eb
            FROM _ca_spa a JOIN _ca_spa b ON a.oid = b.oid AND b.bk = a.bk + 1
            WHERE b.ts - a.ts <= {w!r}""").fetch_arrow_table()]
    # copied into arrays of the final size part by part, each part let go once copied (a concatenate held both
    # parts and both results: 16 bytes per slot pair, 0.9 GB at 55M)
    n = sum(t.num_rows for t in parts)
    ea, eb = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32)
    i = 0
    while parts:
        t = parts.pop(0)
        ea[i:i + t.num_rows] = t["ea"].to_numpy()
        eb[i:i + t.num_rows] = t["eb"].to_numpy()
        i += t.num_rows
        del t
    return (act["oid"].to_numpy(), act["eid"].to_numpy(), act["aid"].to_numpy().astype(np.int64), ea, eb)


def _shuffled_networks(con: Any, params: CoordParams, timed: bool, progress: ProgressFn) -> None:
    """The account-timeline null's ``reps`` shuffles in one query; leaves ``_ca_nw(rep, a, b, w)`` (distinct
    objects per null pair). Shuffle ``r`` gives each account's actions its own timestamps in an order drawn by
    ``hash(eid, r, seed)``. When no account holds two slots of one object a pair of accounts meets at most once
    per object and ``count(*)`` is the number of objects, at half the cost of ``count(DISTINCT oid)``. (The
    object-timeline null's shuffles: :func:`object_shuffles`.)
    """
    reps = int(params.reps)
    seed = int(params.seed)
    w = float(params.window)
    progress({"event": "stage", "message": f"null model: {reps} shuffles ({params.null})"})
    multi = _scalar(con, "SELECT count(*) FROM (SELECT aid, oid FROM _ca_act GROUP BY aid, oid HAVING count(*) > 1)")
    wsql = "count(DISTINCT oid)" if multi else "count(*)"
    bucket = f"CAST(floor(ts / {w!r}) AS BIGINT)" if timed else "CAST(0 AS BIGINT)"
    shuffled = f"""
        SELECT p.rep, p.aid, p.oid, p.eid, s.ts FROM
          (SELECT r.rep, x.aid, x.oid, x.eid, row_number() OVER (PARTITION BY r.rep, x.aid
                  ORDER BY hash(x.eid, r.rep, {seed})) AS k FROM _ca_act x, range({reps}) r(rep)) p
        JOIN (SELECT aid, ts, row_number() OVER (PARTITION BY aid ORDER BY ts, eid) AS k FROM _ca_act) s
          USING (aid, k)"""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ca_nact AS SELECT *, {bucket} AS bk FROM ({shuffled})")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_nw AS SELECT rep, a, b, {wsql} AS w
        FROM ({pair_sql('_ca_nact', w, timed, True)}) GROUP BY rep, a, b""")
    con.execute("DROP TABLE IF EXISTS _ca_nact")


def _sampled_null(con: Any, params: CoordParams, timed: bool, progress: ProgressFn) -> dict[str, Any]:
    """Null means estimated from ``reps`` shuffles (the ``account`` model); leaves ``_ca_nulllam``."""
    reps = max(int(params.reps), 1)
    _shuffled_networks(con, params, timed, progress)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_nulllam AS SELECT n.a, n.b, sum(n.w)::DOUBLE / {reps} AS lam
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
    con.execute("DROP TABLE IF EXISTS _ca_nw")
    return out



__all__ = ["null_model"]

"""The data-sized stages of a behaviour's network, written once in DuckDB SQL, run on DuckDB or Spark.

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

Each stage is DuckDB SQL over named tables, made by a backend (:mod:`.backends`): temporary tables of the
study's DuckDB connection, or Spark views of the same SQL transpiled with DuckDB's semantics (:mod:`.spark`,
:mod:`.dialect`). What the stages leave (:data:`HANDOVER`) is what the judging stages (:mod:`.judge`) read on
DuckDB.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa

from .backends import StageTables
from .coactions import COACTIONS
from .params import CoordParams, ProgressFn, sql_params
from .text import merge_near_duplicates

#: the tables the data-sized stages leave for the judging stages, in the order they are made
HANDOVER = ("_ca_raw", "_ca_acc", "_ca_obj", "_ca_idf", "_ca_act", "_ca_pin", "_ca_abo")


def load_actions(t: StageTables, behaviour: str, params: CoordParams, progress: ProgressFn) -> int:
    """Table ``_ca_raw(account_id, object_id, action_id, ts)`` of ``behaviour``, rows in action-id order."""
    spec = COACTIONS[behaviour]
    p = {"raw_urls": params.semantics != "echoscope", **sql_params(params)}
    t.actions("_ca_raw", f"""SELECT CAST(account_id AS VARCHAR) AS account_id, CAST(object_id AS VARCHAR) AS object_id,
            CAST(action_id AS VARCHAR) AS action_id, CAST(ts AS DOUBLE) AS ts FROM ({spec.sql(p)})
        WHERE object_id IS NOT NULL AND object_id <> ''""", spec.order, pushdown=spec.pushdown)
    if behaviour == "co-text" and params.near_duplicate is not None and params.near_duplicate < 1:
        merge_near_duplicates(t, params, progress)
    return t.count("_ca_raw")


def drop_target_originals(t: StageTables, targets: tuple[str, ...]) -> int:
    """Drop from ``_ca_raw`` each study target's first action on an object (its publication); return how many.

    For a behaviour whose objects accounts publish (``CoAction.published``: links, texts, hashtag sets, ...), an
    object's earliest action is its publication. When a target made it -- a state-media outlet posting its own
    article's link, a diplomat's statement that others copy -- the others amplify the target; the target is not
    one of its amplifiers, and pairing it with them put it in its own amplifiers' cluster (7 of 385 targets on
    the simulator's realistic platform, issue 16). A target's later shares of an object someone else published
    first stay co-actions (targets amplifying each other are what the AP/OII study found). Ties at the earliest
    time all count as the publication. The actions keep their order (their ids are renumbered in it).
    """
    if not targets:
        return 0
    t.put("_ca_tg", pa.table({"account_id": pa.array(sorted(set(targets)), pa.string())}))
    t.make("_ca_tgo", """SELECT r.rowid AS _o FROM _ca_raw r SEMI JOIN _ca_tg g ON g.account_id = r.account_id
        JOIN (SELECT x.object_id, min(x.ts) AS t0 FROM _ca_raw x
              SEMI JOIN (SELECT DISTINCT y.object_id FROM _ca_raw y SEMI JOIN _ca_tg g ON g.account_id = y.account_id) o
                   ON o.object_id = x.object_id GROUP BY x.object_id) f
          ON f.object_id = r.object_id AND r.ts = f.t0""")
    n = t.count("_ca_tgo")
    if n:
        t.actions("_ca_raw", """SELECT r.account_id, r.object_id, r.action_id, r.ts, r.rowid AS _o FROM _ca_raw r
            ANTI JOIN _ca_tgo d ON d._o = r.rowid""", order="_o")
    t.drop("_ca_tgo", "_ca_tg")
    return n


def integer_ids(t: StageTables, params: CoordParams, timed: bool, stats: dict[str, Any]) -> None:
    """Integer ids, pruning and idf: ``_ca_acc``, ``_ca_obj``, ``_ca_idf``, ``_ca_act(aid, oid, eid, ts, bk)``.

    Account and object ids are ranks of the string ids (so a < b on integers is a < b on strings, and output
    order does not change); an action's id is its row in ``_ca_raw``, which also finds its action_id and ts
    again for the evidence. Accounts on fewer than ``max(min_repeat, min_weight)`` distinct objects are
    pruned, then objects with a single account left; objects are numbered by rank among the kept ones.
    """
    w = float(params.window)
    k = max(params.min_repeat, params.min_weight)
    t.make("_ca_acc", "SELECT account_id, CAST(row_number() OVER (ORDER BY account_id) AS INTEGER) AS aid "
                      "FROM (SELECT DISTINCT account_id FROM _ca_raw)")
    t.make("_ca_obj0", "SELECT object_id, CAST(row_number() OVER (ORDER BY object_id) AS INTEGER) AS oid0 "
                       "FROM (SELECT DISTINCT object_id FROM _ca_raw)")
    t.make("_ca_i", """SELECT a.aid, o.oid0, r.rowid AS eid, r.ts
        FROM _ca_raw r JOIN _ca_acc a USING (account_id) JOIN _ca_obj0 o USING (object_id)""")
    # distinct (account, object) over all actions: objects per account (pruning), accounts per object (idf)
    t.make("_ca_ao0", "SELECT DISTINCT aid, oid0 FROM _ca_i", keep=False)
    t.make("_ca_keep", f"SELECT aid FROM _ca_ao0 GROUP BY aid HAVING count(*) >= {k}")
    t.make("_ca_df", """SELECT x.oid0, count(*) AS df, count(k.aid) AS dk FROM _ca_ao0 x
        LEFT JOIN _ca_keep k ON k.aid = x.aid GROUP BY x.oid0""", keep=False)
    t.make("_ca_obj", """SELECT o.object_id, o.oid0, CAST(row_number() OVER (ORDER BY o.oid0) AS INTEGER) AS oid, d.df
        FROM _ca_df d JOIN _ca_obj0 o USING (oid0) WHERE d.dk >= 2""")
    stats["accounts"] = t.count("_ca_acc")
    # idf of each object over all accounts acting in this behaviour (Pacheco et al. 2021 style down-weighting)
    t.make("_ca_idf", f"SELECT oid, ln((1.0 + {stats['accounts']}) / (1.0 + df)) AS idf FROM _ca_obj", keep=False)
    # without a window (shared-ip) every action is in bucket 0: the guard's counts are per object
    bucket = f"CAST(floor(ts / {w!r}) AS BIGINT)" if timed else "CAST(0 AS BIGINT)"
    t.make("_ca_act", f"""SELECT x.aid, o.oid, x.eid, x.ts, {bucket} AS bk
        FROM _ca_i x SEMI JOIN _ca_keep k ON k.aid = x.aid JOIN _ca_obj o ON o.oid0 = x.oid0""")
    stats["accounts_after_pruning"] = int(t.scalar("SELECT count(DISTINCT aid) FROM _ca_act"))
    stats["actions_after_pruning"] = t.count("_ca_act")
    t.drop("_ca_i", "_ca_ao0", "_ca_df", "_ca_obj0", "_ca_keep")


def _exact_neighbours(t: StageTables, buckets: str, w: float, out: str) -> None:
    """Exact ``nb`` (other actions on the object within +/- window) for the actions of ``buckets(oid, bk)``.

    Every neighbour of an action in bucket ``b`` lies in buckets ``b - 1 .. b + 1``, so the windowed count
    runs per (object, bucket) partition over those three buckets only: small partitions in parallel instead
    of one window over a viral object's whole timeline.
    """
    ctx = " UNION ALL ".join(
        f"SELECT x.eid, x.oid, x.ts, x.bk, e.bk AS centre FROM _ca_act x JOIN {buckets} e "
        f"ON x.oid = e.oid AND x.bk = e.bk + ({d})" for d in (-1, 0, 1))
    t.make(out, f"""SELECT eid, oid, nb FROM
        (SELECT eid, oid, bk, centre, count(*) OVER (PARTITION BY oid, centre ORDER BY ts
                RANGE BETWEEN {w!r} PRECEDING AND {w!r} FOLLOWING) - 1 AS nb FROM ({ctx})) WHERE bk = centre""")


def _densest(t: StageTables, w: float) -> dict[int, int]:
    """Exact largest ``nb`` per object over the candidate buckets ``_ca_cand(oid, bk)`` (report only).

    The candidates are a viral object's peak minutes, hundreds of thousands of actions in one bucket: a
    windowed count over them runs in one partition, so the few objects of the report are counted with a
    sort and two binary searches (numpy; the same double arithmetic, ``ts - w <= t' <= ts + w``).
    """
    rows = t.arrow("""SELECT x.oid, x.ts, (c.oid IS NOT NULL) AS cand FROM _ca_act x
        SEMI JOIN (SELECT b.oid, b.bk + v.d AS bk FROM _ca_cand b CROSS JOIN (SELECT unnest([-1, 0, 1]) AS d) v) e
             ON e.oid = x.oid AND e.bk = x.bk
        LEFT JOIN _ca_cand c ON c.oid = x.oid AND c.bk = x.bk""")
    if rows.num_rows == 0:
        return {}
    oid = rows["oid"].to_numpy(zero_copy_only=False)
    ts = rows["ts"].to_numpy(zero_copy_only=False)
    cand = rows["cand"].to_numpy(zero_copy_only=False)
    out: dict[int, int] = {}
    for o in np.unique(oid):
        m = oid == o
        s = np.sort(ts[m])
        tc = ts[m & cand]
        nb = np.searchsorted(s, tc + w, side="right") - np.searchsorted(s, tc - w, side="left") - 1
        out[int(o)] = int(nb.max()) if len(nb) else 0
    return out


def dense_window_guard(t: StageTables, cap: int, w: float, report: dict[str, Any]) -> None:
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
    t.make("_ca_bc", """SELECT oid, bk, c,
            c + CASE WHEN lag(bk) OVER w = bk - 1 THEN lag(c) OVER w ELSE 0 END
              + CASE WHEN lead(bk) OVER w = bk + 1 THEN lead(c) OVER w ELSE 0 END AS cu
        FROM (SELECT oid, bk, count(*) AS c FROM _ca_act GROUP BY oid, bk)
        WINDOW w AS (PARTITION BY oid ORDER BY bk)""")
    t.make("_ca_amb", f"SELECT oid, bk FROM _ca_bc WHERE c - 1 <= {cap} AND cu - 1 > {cap}", keep=False)
    _exact_neighbours(t, "_ca_amb", w, "_ca_nb")
    # dropped actions: whole buckets over the cap, and ambiguous-bucket actions whose exact count is
    t.make("_ca_drop", f"""SELECT oid, count(*) AS dropped FROM (
            SELECT x.oid FROM _ca_act x SEMI JOIN (SELECT oid, bk FROM _ca_bc WHERE c - 1 > {cap}) d
                ON d.oid = x.oid AND d.bk = x.bk
            UNION ALL SELECT oid FROM _ca_nb WHERE nb > {cap}) GROUP BY oid""")
    dropped = int(t.scalar("SELECT coalesce(sum(dropped), 0) FROM _ca_drop"))
    if dropped:
        t.make("_ca_top", "SELECT oid, dropped FROM _ca_drop ORDER BY dropped DESC, oid LIMIT 10")
        # densest action of each top object: the best lower bound, raised by exact counts where needed
        t.make("_ca_lb", """SELECT b.oid, max(b.c) - 1 AS lb FROM _ca_bc b
            SEMI JOIN _ca_top t ON t.oid = b.oid GROUP BY b.oid""")
        t.make("_ca_cand", "SELECT b.oid, b.bk FROM _ca_bc b JOIN _ca_lb l USING (oid) WHERE b.cu - 1 > l.lb")
        dens = _densest(t, w)
        top = t.rows("""SELECT o.object_id, t.dropped, l.lb, t.oid FROM _ca_top t JOIN _ca_lb l USING (oid)
            JOIN _ca_obj o USING (oid) ORDER BY t.dropped DESC, o.object_id""")
        report.update({
            "actions_dropped": dropped,
            "objects_affected": t.count("_ca_drop"),
            "top_objects": [{"object_id": o, "actions_dropped": int(d),
                             "max_neighbours": max(int(lb), dens.get(int(i), 0))} for o, d, lb, i in top]})
        t.make("_ca_act", f"""SELECT x.* FROM _ca_act x
            ANTI JOIN (SELECT oid, bk FROM _ca_bc WHERE c - 1 > {cap}) d ON d.oid = x.oid AND d.bk = x.bk
            ANTI JOIN (SELECT eid FROM _ca_nb WHERE nb > {cap}) n ON n.eid = x.eid""")
    t.drop("_ca_bc", "_ca_amb", "_ca_nb", "_ca_drop", "_ca_top", "_ca_lb", "_ca_cand")


def exact_prune(t: StageTables, w: float, k: int, timed: bool) -> None:
    """The pairing input ``_ca_pin``: ``_ca_act`` without what provably pairs nothing (the null keeps all).

    An action with no other action on its object within +/- window pairs with nothing; an account left with
    fewer than ``k`` objects that have such neighbours cannot reach the minimum weight; an object left with
    one account pairs nothing. Two rounds remove nearly all of it on sparse data. Without a window every
    action of an object is within it: nothing to drop.
    """
    if not timed:
        t.make("_ca_pin", "SELECT aid, oid, eid, ts, bk FROM _ca_act", keep=False)
        return
    t.make("_ca_pin", "SELECT aid, oid, eid, ts, bk FROM _ca_act")
    for _ in range(2):
        t.make("_ca_pin", f"""SELECT aid, oid, eid, ts, bk FROM
            (SELECT *, count(*) OVER (PARTITION BY oid ORDER BY ts RANGE BETWEEN {w!r} PRECEDING
                                      AND {w!r} FOLLOWING) AS c FROM _ca_pin) WHERE c > 1""", keep=False)
        t.make("_ca_pin", f"""SELECT p.* FROM _ca_pin p SEMI JOIN
            (SELECT aid FROM _ca_pin GROUP BY aid HAVING count(DISTINCT oid) >= {k}) s ON s.aid = p.aid""",
               keep=False)
        t.make("_ca_pin", """SELECT p.* FROM _ca_pin p SEMI JOIN
            (SELECT oid FROM _ca_pin GROUP BY oid HAVING count(DISTINCT aid) >= 2) s ON s.oid = p.oid""")


def pair_sql(src: str, window: float, timed: bool, rep: bool) -> str:
    """Pairs of actions on one object within the window, a.aid < b.aid orientation, one row per pair."""
    r = "a.rep = b.rep AND " if rep else ""
    sel = ("a.rep, " if rep else "") + (
        "least(a.aid, b.aid) AS a, greatest(a.aid, b.aid) AS b, a.oid, abs(b.ts - a.ts) AS gap, "
        "CASE WHEN a.aid < b.aid THEN a.eid ELSE b.eid END AS ea, "
        "CASE WHEN a.aid < b.aid THEN b.eid ELSE a.eid END AS eb, "
        "CASE WHEN a.aid < b.aid THEN a.ts ELSE b.ts END AS ta, CASE WHEN a.aid < b.aid THEN b.ts ELSE a.ts END AS tb")
    if not timed:
        return (f"SELECT {sel} FROM {src} a JOIN {src} b ON {r}a.oid = b.oid AND a.aid < b.aid")
    same = (f"SELECT {sel} FROM {src} a JOIN {src} b ON {r}a.oid = b.oid AND b.bk = a.bk "
            f"AND (b.ts > a.ts OR (b.ts = a.ts AND b.eid > a.eid)) WHERE a.aid <> b.aid AND b.ts - a.ts <= {window!r}")
    nxt = (f"SELECT {sel} FROM {src} a JOIN {src} b ON {r}a.oid = b.oid AND b.bk = a.bk + 1 "
           f"WHERE a.aid <> b.aid AND b.ts - a.ts <= {window!r}")
    return f"{same} UNION ALL {nxt}"


def pair_sql_lower(src: str, window: float, timed: bool, lo: int, hi: int) -> str:
    """The pairs of :func:`pair_sql` whose lower account ``a`` is in ``lo .. hi``, each once, same columns.

    Each action of an account in the range is joined with the actions of higher accounts on its object in its
    own window bucket and the two next to it (every action within the window is there), so the pairs of one
    range of accounts are found without forming the others': the ranges of :func:`pair_ranges` together
    cost one pass over the pairs, not one per range.
    """
    x = f"(SELECT aid, oid, eid, ts, bk FROM {src} WHERE aid BETWEEN {int(lo)} AND {int(hi)})"
    sel = ("x.aid AS a, y.aid AS b, x.oid, abs(y.ts - x.ts) AS gap, x.eid AS ea, y.eid AS eb, x.ts AS ta, "
           "y.ts AS tb")
    if not timed:
        return f"SELECT {sel} FROM {x} x JOIN {src} y ON y.oid = x.oid AND y.aid > x.aid"
    return " UNION ALL ".join(
        f"SELECT {sel} FROM {x} x JOIN {src} y ON y.oid = x.oid AND y.bk = x.bk + ({d}) "
        f"WHERE y.aid > x.aid AND abs(y.ts - x.ts) <= {window!r}" for d in (-1, 0, 1))


def pair_ranges(t: StageTables, budget: int | None, w: float, timed: bool) -> list[tuple[int, int]] | None:
    """Ranges of account ids whose pairs (as the lower account) each fit ``budget`` pairs; None: all fit at once.

    An action in window bucket ``b`` of its object has at most ``c_{b-1} + c_b + c_{b+1} - 1`` others within
    the window (the guard's bound); when those bounds give more pairs than the budget, the exact counts
    (one windowed count) are taken instead. An account is the lower account of at most the sum of its
    actions' counts (its *load*); ranges of consecutive ids are cut where the running load passes a multiple
    of the budget, so a range holds at most ``budget`` pairs plus the load of its last account.
    """
    if budget is None:
        return None
    t.make("_ca_pnb", """SELECT p.aid, b.nb FROM _ca_pin p JOIN (SELECT oid, bk,
            c + CASE WHEN lag(bk) OVER w = bk - 1 THEN lag(c) OVER w ELSE 0 END
              + CASE WHEN lead(bk) OVER w = bk + 1 THEN lead(c) OVER w ELSE 0 END - 1 AS nb
        FROM (SELECT oid, bk, count(*) AS c FROM _ca_pin GROUP BY oid, bk)
        WINDOW w AS (PARTITION BY oid ORDER BY bk)) b ON b.oid = p.oid AND b.bk = p.bk""")
    # each unordered pair is counted from both of its actions
    if timed and int(t.scalar("SELECT coalesce(sum(nb), 0) FROM _ca_pnb")) // 2 > budget:
        t.make("_ca_pnb", f"""SELECT aid, count(*) OVER (PARTITION BY oid ORDER BY ts
            RANGE BETWEEN {w!r} PRECEDING AND {w!r} FOLLOWING) - 1 AS nb FROM _ca_pin""")
    if int(t.scalar("SELECT coalesce(sum(nb), 0) FROM _ca_pnb")) // 2 <= budget:
        t.drop("_ca_pnb")
        return None
    rows = t.rows(f"""SELECT min(aid), max(aid) FROM (
            SELECT aid, CAST(floor((sum(load) OVER (ORDER BY aid) - load) / {int(budget)}) AS BIGINT) AS part
            FROM (SELECT aid, sum(nb) AS load FROM _ca_pnb GROUP BY aid)) GROUP BY part ORDER BY 1""")
    t.drop("_ca_pnb")
    return [(int(lo), int(hi)) for lo, hi in rows]


def pair(t: StageTables, w: float, timed: bool, min_weight: int, stats: dict[str, Any]) -> None:
    """Pairs within the window aggregated per (account pair, object): ``_ca_abo(a, b, oid, n, gap, ev, t0, t1)``.

    ``ev`` is the closest pair of actions (``ea * 2^32 + eb``; ties on the gap: the smallest action pair).
    With ``min_weight >= 2``, most account pairs meet on one object only and can be no edge: a cheap per-pair
    pass (count and smallest / largest object) finds the pairs with two or more objects, and only their pairs
    are aggregated per (pair, object) with the evidence; the others add one (pair, object) row each to
    ``pair_object_rows``. The pairs themselves are never stored: both passes aggregate them as the join makes
    them.

    Bounded memory: the per-pair pass holds one entry per account pair, up to one per pair within the window
    (the dense-window guard bounds those at ``max_window_actions / 2`` per action, which is still ~100 per
    action). When the backend gives a memory budget (:meth:`.backends.StageTables.pair_budget`) and the pairs
    may exceed it, the account pairs are made range by range of the lower account (:func:`pair_ranges`), each
    range complete in itself, and their aggregates appended; ``stats["pair_ranges"]`` says how many.
    """
    # a backend without a budget (Spark's, or one written before it) pairs in one pass
    ranges = pair_ranges(t, getattr(t, "pair_budget", lambda: None)(), w, timed)
    parts = [pair_sql("_ca_pin", w, timed, False)] if ranges is None else [
        pair_sql_lower("_ca_pin", w, timed, lo, hi) for lo, hi in ranges]
    stats["pair_ranges"] = len(parts)
    agg = """SELECT a, b, oid, count(*) AS n, min(gap) AS gap,
               arg_min(ea * 4294967296 + eb, (gap, ea * 4294967296 + eb)) AS ev,
               min(least(ta, tb)) AS t0, max(greatest(ta, tb)) AS t1 FROM ({src}) GROUP BY a, b, oid"""
    n_pairs = single = 0
    for i, pairs in enumerate(parts):
        add = t.append if i else t.make
        if int(min_weight) >= 2:
            t.make("_ca_abk", f"SELECT a, b, count(*) AS n, min(oid) < max(oid) AS multi FROM ({pairs}) GROUP BY a, b")
            n, s1 = t.rows("SELECT coalesce(sum(n), 0), count(*) FILTER (WHERE NOT multi) FROM _ca_abk")[0]
            n_pairs, single = n_pairs + int(n), single + int(s1)
            multi = (f"SELECT p.* FROM ({pairs}) p SEMI JOIN (SELECT a, b FROM _ca_abk WHERE multi) k "
                     "ON k.a = p.a AND k.b = p.b")
            add("_ca_abo", agg.format(src=multi))
            t.drop("_ca_abk")
        else:
            add("_ca_abo", agg.format(src=pairs))
    if int(min_weight) >= 2:
        stats["pairs_within_window"] = n_pairs
        stats["pair_object_rows"] = single + t.count("_ca_abo")
    else:
        stats["pairs_within_window"] = int(t.scalar("SELECT coalesce(sum(n), 0) FROM _ca_abo"))
        stats["pair_object_rows"] = t.count("_ca_abo")


def candidates(t: StageTables, behaviour: str, params: CoordParams, progress: ProgressFn) -> dict[str, Any]:
    """Every data-sized stage of ``behaviour`` under echoscope semantics; leaves :data:`HANDOVER`, returns stats.

    ``params`` carries the behaviour's own window (``params.behaviour_params``). The wall time of each stage
    goes to ``progress`` as ``{"event": "timing", "behaviour", "stage", "seconds"}`` (the statistics stay
    free of timings, so two runs compare equal): ``actions`` (reading them), ``ids`` (integer ids, pruning,
    idf), ``guard``, ``pruning`` (the exact rounds) and ``pairing`` (pairs within the window aggregated per
    account pair and per (account pair, object)).
    """
    timed = COACTIONS[behaviour].timed
    w = float(params.window)
    stats: dict[str, Any] = {"behaviour": behaviour, "timed": timed}
    clock = _Clock(behaviour, progress)
    progress({"event": "stage", "message": f"{behaviour}: reading actions{t.label}"})
    stats["actions"] = load_actions(t, behaviour, params, progress)
    if COACTIONS[behaviour].published and params.semantics == "echoscope" and not params.target_originals:
        # a target's publication of what the others share is not an amplification (drop_target_originals)
        stats["target_originals_dropped"] = drop_target_originals(t, params.target_ids)
    clock("actions")
    integer_ids(t, params, timed, stats)
    clock("ids")
    # dense-window guard (reported): drop actions with more than `cap` others on the object within +/- window
    # (without a window every action of an object is within it: the cap is on the accounts sharing an address)
    cap = params.max_window_actions if timed else params.max_shared_accounts
    stats["guard"] = {"max_window_actions": cap, "actions_dropped": 0, "objects_affected": 0, "top_objects": []}
    if cap is not None:
        dense_window_guard(t, int(cap), w, stats["guard"])
    clock("guard")
    exact_prune(t, w, max(params.min_repeat, params.min_weight), timed)
    stats["actions_paired"] = t.count("_ca_pin")
    clock("pruning")
    progress({"event": "stage", "message": f"{behaviour}: pairing {stats['actions_paired']:,} actions{t.label}"})
    pair(t, w, timed, int(params.min_weight), stats)
    clock("pairing")
    return stats


class _Clock:
    """Reports the wall seconds since the last call as a ``timing`` progress event of a stage."""

    def __init__(self, behaviour: str, progress: ProgressFn) -> None:
        self.behaviour = behaviour
        self.progress = progress
        self.t = time.perf_counter()

    def __call__(self, stage: str) -> None:
        now = time.perf_counter()
        self.progress({"event": "timing", "behaviour": self.behaviour, "stage": stage,
                       "seconds": round(now - self.t, 3)})
        self.t = now


def handover_arrow(t: StageTables) -> dict[str, pa.Table]:
    """The :data:`HANDOVER` tables as Arrow (``_ca_raw`` in action-id order), as :mod:`.judge` reads them."""
    return {name: t.arrow(HANDOVER_SQL[name]).cast(HANDOVER_TYPES[name]) for name in HANDOVER}


#: DuckDB column types of the hand-over tables (another engine's ints and longs map onto them)
HANDOVER_TYPES: dict[str, pa.Schema] = {
    "_ca_raw": pa.schema([("account_id", pa.string()), ("object_id", pa.string()), ("action_id", pa.string()),
                          ("ts", pa.float64())]),
    "_ca_acc": pa.schema([("account_id", pa.string()), ("aid", pa.int32())]),
    "_ca_obj": pa.schema([("object_id", pa.string()), ("oid0", pa.int32()), ("oid", pa.int32()), ("df", pa.int64())]),
    "_ca_idf": pa.schema([("oid", pa.int32()), ("idf", pa.float64())]),
    "_ca_act": pa.schema([("aid", pa.int32()), ("oid", pa.int32()), ("eid", pa.int64()), ("ts", pa.float64()),
                          ("bk", pa.int64())]),
    "_ca_pin": pa.schema([("aid", pa.int32()), ("oid", pa.int32()), ("eid", pa.int64()), ("ts", pa.float64()),
                          ("bk", pa.int64())]),
    "_ca_abo": pa.schema([("a", pa.int32()), ("b", pa.int32()), ("oid", pa.int32()), ("n", pa.int64()),
                          ("gap", pa.float64()), ("ev", pa.int64()), ("t0", pa.float64()), ("t1", pa.float64())]),
}

#: the query reading each hand-over table (``_ca_raw`` in action-id order: its row order is the action id)
HANDOVER_SQL: dict[str, str] = {
    name: f"SELECT {', '.join(s.names)} FROM {name}" + (" ORDER BY rowid" if name == "_ca_raw" else "")
    for name, s in HANDOVER_TYPES.items()
}


__all__ = ["HANDOVER", "HANDOVER_TYPES", "candidates", "dense_window_guard", "exact_prune", "handover_arrow",
           "integer_ids", "load_actions", "pair", "pair_ranges", "pair_sql", "pair_sql_lower"]

"""Held-out validation: accounts whose co-actions with their group exceed the null on objects not used to find it.

Why: pairs that each share only a few objects cannot pass a per-pair test, yet a group of such pairs is strong
evidence; testing a group found on the same data is biased. :func:`validate_accounts` cross-fits on two halves
of the objects (its docstring has the scheme); :func:`validated_accounts` applies it to a run's behaviours. It
runs on DuckDB whichever engine ran the data-sized stages: it reads the tables the judging stages leave
(``_cv_abo_*``, ``_cv_ao_*``, ``_cv_act_*``, ``_cv_h_*``, :mod:`.judge`) and its groups come from Leiden in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .audience import audience_rows_sql, author_posts, author_rows_sql
from .coactions import COACTIONS
from .cosharing import cosharing_rows_sql
from .ids import account_ids, has_targets
from .judge import VALIDATION_INPUTS
from .params import BehaviourResult, CoordParams, ProgressFn, judged_by_cosharing
from .stats import benjamini_hochberg, poisson_sf


def validated_accounts(con: Any, per: list[BehaviourResult], params: CoordParams,
                       progress: ProgressFn) -> tuple[set[str] | None, dict[str, Any] | None]:
    """The accounts kept by the held-out test of a run's behaviours, and the test's report (folds).

    Only under echoscope semantics with the object null (the test needs its exact null means); otherwise
    ``(None, None)``: clusters are then drawn from the judged edges. A behaviour without a time window
    (shared-ip) has no held-out test: its edges are judged by the exact configuration-model null (BH at
    alpha), and the accounts of its judged edges join the validated.
    """
    halves = [r.halves for r in per if r.halves is not None]
    if not (params.semantics == "echoscope" and params.null == "object" and halves):
        return None, None
    progress({"event": "stage", "message": "validating accounts on held-out objects"})
    validated, vstats = validate_accounts(con, halves, list(params.behaviours), params)
    # judged by a configuration null (shared-ip; the object behaviours' co-sharing test): no held-out test, the
    # accounts of their judged edges join
    untimed = [r for r in per if r.halves is None and not COACTIONS[r.behaviour].timed]
    who = [r for r in per if judged_by_cosharing(r.behaviour, params)]
    for r in untimed + who:
        sig = r.edges.filter(r.edges["significant"])
        validated |= set(pc.unique(pa.concat_arrays([sig["account_a"].combine_chunks(),
                                                      sig["account_b"].combine_chunks()])).to_pylist())
    if untimed:
        vstats["untimed_significant_edges"] = {r.behaviour: int(pc.sum(r.edges["significant"]).as_py() or 0)
                                               for r in untimed}
    if who:
        vstats["cosharing_significant_edges"] = {r.behaviour: int(pc.sum(r.edges["significant"]).as_py() or 0)
                                                 for r in who}
    return validated, vstats


def validate_accounts(con: Any, halves: list[str], behaviours: list[str],
                      params: CoordParams) -> tuple[set[str], dict[str, Any]]:
    """Accounts whose co-actions with their group exceed the null on objects not used to find the group.

    Pairs that each share only a few objects cannot pass a per-pair test, yet a group of such pairs is
    strong evidence; testing a group found on the same data is biased (its edges were picked for being
    high). So the objects are split in two halves by a fixed hash of their unit (``CoAction.unit``: one post is in
    the same half in every behaviour), and for each half ``s`` (selection) with
    the other half ``t`` (test), a cross-fitting scheme:

    1. Leiden groups the accounts joined by pairs with weight ``>= min_weight`` and ``p <= cluster_p`` on
       half ``s`` alone (RB-configuration modularity at ``group_resolution``: below 1 it keeps a campaign's
       less active members, which link to its core about as densely as to each other, in one group
       instead of splitting them off -- a split group's members count as outsiders of each other's group
       and the halves then hide each other);
    2. on half ``t``, an account ``m``'s weight to group ``G`` is the number of (member, object) co-actions
       within the window (one burst counts once), and its null mean a sum of per-object probabilities. On
       posts (``group_null="audience"``, :mod:`.audience`) the post's author's whole audience is the reference:
       ``m``'s engagement with a post of author ``X`` is a random slot among all engagement slots of ``X``'s
       posts, and co-acts with ``G`` as often as those slots do (fans bursting on their idol are most of its
       audience; a campaign on a diplomat whose other amplifiers are slow a small part of it). On other timed
       objects the group's times are fixed and ``m`` takes a random slot among the object's non-group accounts
       (the object-timeline null of :mod:`.nulls`; for a member of ``G``, the group without it, its own slot
       counted among the slots). For behaviours with a reference (rapid-fire, early-amplify, co-latency:
       ``CoAction.reference``) the account's rows are every object it engaged with, the object's accounts
       every account that engaged with it, and the co-acting accounts every account with one of the
       behaviour's actions on the object (all of which are within the behaviour's window of each other),
       pruned accounts included. The co-sharing behaviours (:mod:`.cosharing`) use the configuration null;
    3. an account grouped on half ``s`` is tested against *its own group* only -- a hypothesis fixed before
       half ``t`` is looked at, so it needs no correction for the choice among groups; an account in no
       group is tested against every group it co-acts with on half ``t`` (smallest p-value times the number of
       groups; with no co-action its p-value is 1 and it names no group);
    4. the author on whose posts ``m`` co-acts with ``G`` most beyond chance -- its usual subject -- is left
       out (``leave_out_top_author``): a fan's bursts on its one idol are one habit, not many pieces of evidence;
       then the two folds are combined: an account grouped in either fold gets one Poisson test of its weights
       summed over the folds where it is grouped against the sum of their null means (each fold's count is
       on objects its group was not chosen on); an account grouped in neither gets twice its smaller
       fold p-value. Benjamini-Hochberg at ``alpha`` over every tested account; a kept account must share a
       group (in some fold) with another kept account.
    5. an account must also co-act with its group at least ``min_lift`` times as often as the null expects
       (weight >= min_lift x null mean). The null is exact only if the account is exchangeable with the other
       accounts on the same objects; an active account that reacts a little faster than most (lift ~1.3)
       becomes "significant" on counts in the hundreds. Found campaign accounts have lifts of 1.8 (hard
       setting) to 4+ (default).
    """
    tabs = [t for t in (b.replace("-", "_") for b in behaviours)
            if _exists(con, f"_cv_ao_{t}") or _exists(con, f"_cv_cs_{t}")]
    if not tabs:
        return set(), {"folds": [], "accounts": 0}
    # the per-behaviour inputs carry the run's account and post numbers (ids.py): the unions below, the joins and
    # groupings of the test run on integers; a behaviour is a small integer too
    code = {t: i for i, t in enumerate(tabs)}

    def union(name: str, cols: str, parts: list[str], empty: str) -> None:
        _drop(con, name)
        con.execute(f"CREATE TEMP TABLE {name} AS " + (" UNION ALL ".join(
            f"SELECT {cols.format(beh=f'{code[t]}::UTINYINT AS beh')} FROM {name}_{t}" for t in parts)
            if parts else f"SELECT {empty} LIMIT 0"))

    pairs = [t for t in tabs if _exists(con, f"_cv_abo_{t}")]
    # each within-window pair once per direction (the per-behaviour tables hold each pair once): a view, not a
    # copy (at 10M engagements the copy of both directions, 94M rows, took most of the 28 s before the folds
    # and sat in DuckDB's memory beside the per-behaviour tables). No CTE in it: DuckDB materialises a CTE read
    # twice. The other inputs are copied: a few rows per account, and the test's plan over views of them ran
    # out of memory at 1M
    _drop(con, "_cv_abo")
    con.execute("CREATE TEMP VIEW _cv_abo AS " + (" UNION ALL ".join(
        f"SELECT {x}, {y}, {code[t]}::UTINYINT AS beh, oid, half::UTINYINT AS half FROM _cv_abo_{t}"
        for x, y in (("x", "y"), ("y AS x", "x AS y")) for t in pairs) if pairs else
        "SELECT 0::INTEGER AS x, 0::INTEGER AS y, 0::UTINYINT AS beh, 0::INTEGER AS oid, 0::UTINYINT AS half "
        "LIMIT 0"))
    union("_cv_ao", "acc, {beh}, oid, half::UTINYINT AS half, q, n, s, k, nb, na",
          [t for t in tabs if _exists(con, f"_cv_ao_{t}")],
          "0::INTEGER AS acc, 0::UTINYINT AS beh, 0::INTEGER AS oid, 0::UTINYINT AS half, 0.0 AS q, "
          "0::BIGINT AS n, 0.0 AS s, 0::BIGINT AS k, 0.0 AS nb, 0::BIGINT AS na")
    shares = [t for t in tabs if _exists(con, f"_cv_cs_{t}")]
    if shares:
        union("_cv_cs", "acc, {beh}, oid, half::UTINYINT AS half, df", shares, "")
        union("_cv_csd", "acc, {beh}, half::UTINYINT AS half, d", shares, "")
        union("_cv_csm", "{beh}, half::UTINYINT AS half, m", shares, "")
    else:
        for name in ("_cv_cs", "_cv_csd", "_cv_csm"):
            _drop(con, name)
    pps = [t for t in tabs if _exists(con, f"_cv_pp_{t}")]
    if pps and params.group_null in ("author", "audience"):
        union("_cv_pp", "acc, {beh}, oid, half::UTINYINT AS half, x, post, key, lat, bk", pps, "")
        author_posts(con)
    else:
        _drop(con, "_cv_pp")
    union("_cv_act", "acc, {beh}, oid, half::UTINYINT AS half",
          [t for t in tabs if _exists(con, f"_cv_act_{t}")],
          "0::INTEGER AS acc, 0::UTINYINT AS beh, 0::INTEGER AS oid, 0::UTINYINT AS half")
    # the per-behaviour inputs copied above are read: they need not stay in memory for the clusters
    for t in tabs:
        for k in VALIDATION_INPUTS:
            if k not in ("_cv_h", "_cv_abo"):  # read below
                con.execute(f"DROP TABLE IF EXISTS {k}_{t}")
    # only pairs with min_weight objects on a half can join a fold's graph (_selected): most candidate pairs
    # (5.5M at 10M engagements) meet once or twice by chance and stay in DuckDB
    h = con.execute(f"""SELECT a, b, sum(w0) AS w0, sum(l0) AS l0, sum(w1) AS w1, sum(l1) AS l1
        FROM ({" UNION ALL ".join(f"SELECT * FROM {x}" for x in halves)}) WHERE a <> b GROUP BY 1, 2
        HAVING sum(w0) >= {int(params.min_weight)} OR sum(w1) >= {int(params.min_weight)}
        ORDER BY 1, 2""").fetch_arrow_table()
    for x in halves:
        con.execute(f"DROP TABLE IF EXISTS {x}")
    col = {k: np.asarray(h[k].to_numpy(zero_copy_only=False), dtype=float) for k in ("w0", "l0", "w1", "l1")}
    # only the pairs a fold's Leiden graph can use go on (most candidate pairs meet once or twice by chance)
    use = np.zeros(h.num_rows, dtype=bool)
    for x in ("0", "1"):
        use |= _selected(col[f"w{x}"], col[f"l{x}"], params)
    col = {k: v[use] for k, v in col.items()}
    a = np.asarray(h["a"].to_numpy(zero_copy_only=False), dtype=np.int64)[use]
    b = np.asarray(h["b"].to_numpy(zero_copy_only=False), dtype=np.int64)[use]
    folds, tests = _held_out_folds(con, a, b, col, params)
    keep = _combine_folds(tests, params.alpha, params.min_lift)
    kept = account_ids(con, sorted(keep))
    for t in ("_cv_abo", "_cv_ao", "_cv_act", "_cv_g", "_cv_n", "_cv_pp", "_cv_pop", "_cv_tot", "_cv_cs", "_cv_csd",
              "_cv_csm"):
        _drop(con, t)
    for t in tabs:  # what the view _cv_abo read
        con.execute(f"DROP TABLE IF EXISTS _cv_abo_{t}")
    return kept, {"folds": folds, "accounts": len(kept)}


def _selected(w: np.ndarray, lam: np.ndarray, params: CoordParams) -> np.ndarray:
    """Pairs joining a fold's Leiden graph: weight >= min_weight on the selection half, p <= cluster_p there."""
    return (w >= params.min_weight) & (poisson_sf(w, np.maximum(lam, 1e-9)) <= params.cluster_p)


def _held_out_folds(con: Any, a: np.ndarray, b: np.ndarray, col: dict[str, np.ndarray],
                    params: CoordParams) -> tuple[list[dict[str, Any]], list[_FoldTest]]:
    """Steps 1-3 of :func:`validate_accounts` for both folds."""
    import igraph as ig
    import leidenalg

    folds: list[dict[str, Any]] = []
    tests: list[_FoldTest] = []
    for s_, t_ in ((0, 1), (1, 0)):
        ws, ls = col[f"w{s_}"], np.maximum(col[f"l{s_}"], 1e-9)
        sel = _selected(col[f"w{s_}"], col[f"l{s_}"], params)
        names = np.unique(np.concatenate([a[sel], b[sel]]))
        fold: dict[str, Any] = {"selection_half": s_, "graph_edges": int(sel.sum()), "groups": 0,
                                "coordinated_groups": 0, "accounts_tested": len(names), "accounts_kept": 0}
        folds.append(fold)
        if not len(names):
            continue
        ends = np.column_stack([np.searchsorted(names, a[sel]), np.searchsorted(names, b[sel])])
        g = ig.Graph(n=len(names), edges=ends.tolist(), directed=False)
        g.es["weight"] = np.maximum(ws[sel] - ls[sel], 1e-6).tolist()
        part = leidenalg.find_partition(g, leidenalg.RBConfigurationVertexPartition, weights="weight",
                                        resolution_parameter=params.group_resolution, seed=params.seed)
        memb = np.asarray(part.membership)
        sizes = np.bincount(memb)
        big = sizes[memb] >= 2
        fold["groups"] = int((sizes >= 2).sum())
        grouped = dict(zip(names[big].tolist(), memb[big].tolist()))
        con.register("_cv_g_in", pa.table({"acc": pa.array(names[big], pa.int32()),
                                           "g": pa.array(memb[big], pa.int64())}))
        con.execute("CREATE OR REPLACE TEMP TABLE _cv_g AS SELECT * FROM _cv_g_in")
        con.unregister("_cv_g_in")
        # accounts tested: every account with a co-action on the selection half (chosen without half t)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _cv_n AS SELECT DISTINCT x AS acc FROM _cv_abo WHERE half = {s_}")
        tested = con.execute("SELECT acc FROM _cv_n ORDER BY acc").fetch_arrow_table()["acc"].to_numpy()
        fold["accounts_tested"] = len(tested)
        res = _group_weights(con, f"= {t_}", params.group_null, params.leave_out_top_author,
                             params.leave_out_targets)
        tests.append(_FoldTest.build(fold, tested, grouped, sizes, res, params.min_lift))
    return folds, tests


def _group_weights(con: Any, hx: str, null: str = "audience", leave_out: bool = False,
                   targets_too: bool = False) -> pa.Table:
    """Per tested account (``_cv_n``) and group (``_cv_g``): co-actions and their null mean on objects ``half hx``.

    Steps 2 and 4 of :func:`validate_accounts`; ``hx`` selects the fold's test half (``= 1``). ``null``
    (``CoordParams.group_null``) for behaviours on posts: ``audience``, the author's audience
    (:func:`.audience.audience_rows_sql`); ``author``, which of the author's posts
    (:func:`.audience.author_rows_sql`); ``outside``, as for every other timed behaviour: the group's times
    are fixed and the account takes a random slot among the object's non-group accounts. The co-sharing
    behaviours use the configuration null (:func:`.cosharing.cosharing_rows_sql`). ``leave_out``: the author on
    whose posts the account co-acts with the group most beyond chance does not count; never a study target unless
    ``targets_too`` (``CoordParams.leave_out_targets``).
    """
    posts = null in ("author", "audience") and _exists(con, "_cv_pp")
    skip = "AND ao.beh NOT IN (SELECT DISTINCT beh FROM _cv_pp)" if posts else ""
    parts = []
    rows = ["SELECT acc, g, -1 AS x, count(*) FILTER (WHERE hit)::DOUBLE AS w, sum(least(1.0, e)) AS lam "
            "FROM l GROUP BY ALL"]
    if posts:
        parts.append(author_rows_sql(hx) if null == "author" else audience_rows_sql(hx))
        rows.append("SELECT acc, g, x, w, lam FROM " + ("la" if null == "author" else "lp"))
    if _exists(con, "_cv_cs"):
        parts.append(cosharing_rows_sql(hx))
        rows.append("SELECT acc, g, x, w, lam FROM lc")
    extra = "".join(f"{p}," for p in parts)
    # the account's slots on the object: only where a behaviour reads this null (with posts only, reading the
    # column anyway changed DuckDB's plan and doubled the process's peak on 1M power-law retweets with bursts)
    outside = con.execute("SELECT count(*) FROM (SELECT DISTINCT beh FROM _cv_ao"
                          + (" EXCEPT SELECT DISTINCT beh FROM _cv_pp)" if posts else ")")).fetchone()[0]
    slots = "greatest(1, coalesce(ao.k, 1)) *" if outside else ""
    not_target = "TRUE" if targets_too else _not_target("x", con)
    return con.execute(f"""
            WITH ab AS (SELECT * FROM _cv_abo WHERE half {hx} AND beh NOT IN (SELECT DISTINCT beh FROM _cv_act)),
                 -- behaviours with a reference (_cv_act): every two of their accounts on an object co-act
                 ac AS (SELECT acc, beh, oid FROM _cv_act WHERE half {hx}),
                 gca AS (SELECT ac.beh, ac.oid, g.g, count(*) AS c FROM ac JOIN _cv_g g USING (acc) GROUP BY 1, 2, 3),
                 -- each account co-acting with a member of a group on an object, once: the within-window pairs
                 -- are read once here (mo, nz and nza below each read them when they were written on ab)
                 abg AS MATERIALIZED (SELECT DISTINCT a.x, a.beh, a.oid, g.g FROM ab a JOIN _cv_g g ON g.acc = a.y),
                 mo AS (SELECT x AS acc, beh, oid, g FROM abg WHERE x IN (SELECT acc FROM _cv_n)
                        UNION SELECT ac.acc, ac.beh, ac.oid, gc.g FROM ac JOIN gca gc USING (beh, oid)
                        LEFT JOIN _cv_g gx ON gx.acc = ac.acc WHERE ac.acc IN (SELECT acc FROM _cv_n)
                        AND (gx.g IS DISTINCT FROM gc.g OR gc.c > 1)),
                 -- the (account, group) rows the test reads (_FoldTest.build): a grouped account's own group; an
                 -- account in no group, the groups it co-acted with here (with no co-action its p-value is 1)
                 pairs AS (SELECT g.acc, g.g FROM _cv_g g SEMI JOIN _cv_n n USING (acc)
                           UNION SELECT DISTINCT mo.acc, mo.g FROM mo ANTI JOIN _cv_g USING (acc)),
                 -- per object and group: the non-group accounts co-acting with a member (nz), and every account
                 -- co-acting with a member other than itself, members included (nza; with a reference every
                 -- two of the behaviour's accounts on the object co-act, a lone member with none)
                 nz AS (SELECT b.beh, b.oid, b.g, count(*) AS h FROM abg b
                        LEFT JOIN _cv_g gx ON gx.acc = b.x WHERE gx.g IS DISTINCT FROM b.g GROUP BY 1, 2, 3
                        UNION ALL SELECT ac.beh, ac.oid, gc.g, count(DISTINCT ac.acc) AS h
                        FROM ac JOIN gca gc USING (beh, oid)
                        LEFT JOIN _cv_g gx ON gx.acc = ac.acc WHERE gx.g IS DISTINCT FROM gc.g GROUP BY 1, 2, 3),
                 nza AS (SELECT beh, oid, g, count(*) AS h FROM abg GROUP BY 1, 2, 3
                         UNION ALL SELECT ac.beh, ac.oid, gc.g, count(DISTINCT ac.acc) - (gc.c = 1)::INT AS h
                         FROM ac JOIN gca gc USING (beh, oid) GROUP BY ac.beh, ac.oid, gc.g, gc.c),
                 -- accounts on the object: those acting in the behaviour, or all of its reference accounts (rapid-fire)
                 no AS (SELECT beh, oid, greatest(count(*), coalesce(max(na), 0)) AS n FROM _cv_ao
                        WHERE half {hx} GROUP BY 1, 2),
                 c AS (SELECT ao.beh, ao.oid, g.g, count(*) AS c FROM _cv_ao ao JOIN _cv_g g USING (acc)
                       WHERE ao.half {hx} GROUP BY 1, 2, 3),
                 -- the group's times are fixed and m takes a random slot among the object's non-group accounts:
                 -- P(m co-acts with the group) = (non-group accounts with a group member within the window) /
                 -- (non-group accounts); for a member, the group without m (m's own slot counted as a hit when it
                 -- is one, and non-members whose only neighbour is m kept: both conservative). An account
                 -- with k actions on the object holds k slots: k times the chance, at most 1 (k = 1: unchanged)
                 l AS (SELECT ao.acc, c.g, mo.acc IS NOT NULL AS hit, {slots}
                              CASE WHEN gm.g = c.g
                                   THEN (coalesce(nz.h, 0) + (mo.acc IS NOT NULL)::INT) / greatest(1, no.n - c.c + 1)
                                   ELSE coalesce(nz.h, 0) / greatest(1, no.n - c.c) END AS e
                       FROM _cv_ao ao JOIN c USING (beh, oid) JOIN pairs pr ON pr.acc = ao.acc AND pr.g = c.g
                       JOIN no USING (beh, oid)
                       LEFT JOIN _cv_g gm ON gm.acc = ao.acc
                       LEFT JOIN nz ON nz.beh = c.beh AND nz.oid = c.oid AND nz.g = c.g
                       LEFT JOIN mo ON mo.acc = ao.acc AND mo.beh = c.beh AND mo.oid = c.oid AND mo.g = c.g
                       WHERE ao.half {hx}
                             AND (gm.g IS DISTINCT FROM c.g OR c.c > 1) {skip}),
                 {extra}
                 x AS ({" UNION ALL ".join(rows)}),
                 y AS (SELECT acc, g, x, sum(w) AS w, sum(lam) AS lam FROM x GROUP BY 1, 2, 3),
                 -- the author the account co-acts on most beyond chance (its usual subject), left out when asked
                 -- (never a study target: a group that only amplifies one target is what the study looks for)
                 top AS (SELECT acc, g, x FROM y WHERE x >= 0 AND {bool(leave_out)} AND {not_target}
                         QUALIFY row_number() OVER (PARTITION BY acc, g ORDER BY w - lam DESC, x) = 1)
            -- weight = objects on which m co-acted with the group (one burst is one event)
            SELECT y.acc, y.g, coalesce(sum(y.w) FILTER (WHERE t.x IS NULL), 0.0) AS w,
                   coalesce(sum(y.lam) FILTER (WHERE t.x IS NULL), 0.0) AS lam
            FROM y LEFT JOIN top t ON t.acc = y.acc AND t.g = y.g AND t.x = y.x GROUP BY 1, 2
            ORDER BY 1, 2""").fetch_arrow_table()


def _not_target(col: str, con: Any) -> str:
    """SQL condition: ``col`` (an author's account id) is not one of the study's targets (TRUE without targets)."""
    if not has_targets(con):
        return "TRUE"
    return (f"{col} NOT IN (SELECT i FROM _cr_acc WHERE account_id IN "
            "(SELECT CAST(account_id AS VARCHAR) FROM targets WHERE account_id IS NOT NULL))")


def _exists(con: Any, name: str) -> bool:
    """A temporary table or view ``name`` exists (``_cv_abo`` is a view over the behaviours' tables)."""
    return bool(con.execute("SELECT (SELECT count(*) FROM duckdb_tables() WHERE table_name = $n) + "
                            "(SELECT count(*) FROM duckdb_views() WHERE view_name = $n)", {"n": name}).fetchone()[0])


def _drop(con: Any, name: str) -> None:
    """Drop ``name``, a view or a table, if it exists."""
    if con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]).fetchone()[0]:
        con.execute(f"DROP VIEW {name}")
    con.execute(f"DROP TABLE IF EXISTS {name}")


@dataclass
class _FoldTest:
    """One fold's held-out test: per account, its own group's weight and null mean, or its best group."""

    fold: dict[str, Any]
    tested: Any  # account numbers (an array of the run's, ids.py; a list of any sortable ids in tests)
    group: dict[Any, int]  # account -> its group on the selection half (groups of two or more)
    own: dict[Any, tuple[float, float]]  # grouped account -> (weight, null mean) against its own group
    best: dict[Any, tuple[float, int]]  # ungrouped account -> (p-value times groups, group)

    @classmethod
    def build(cls, fold: dict[str, Any], tested: list[Any], group: dict[Any, int], sizes: np.ndarray,
              res: pa.Table, min_lift: float = 1.0) -> _FoldTest:
        acc = np.asarray(res["acc"].to_numpy(zero_copy_only=False), dtype=np.int64)
        gg = res["g"].to_numpy(zero_copy_only=False).astype(np.int64)
        ww = np.asarray(res["w"].to_numpy(zero_copy_only=False), dtype=float)
        ll = np.maximum(np.asarray(res["lam"].to_numpy(zero_copy_only=False), dtype=float), 1e-9)
        n_groups = max(int((sizes >= 2).sum()), 1)
        pm = np.where(ww >= min_lift * ll, poisson_sf(ww, ll) * n_groups, 1.0)
        # vectorised over the rows (one per tested account and group, in (account, group) order): an account's
        # own group's row; for an account in no group, its first row with the smallest p-value below 2
        mine = np.fromiter((group.get(a, -1) for a in acc), dtype=np.int64, count=len(acc))
        own_rows = np.flatnonzero((mine >= 0) & (mine == gg))
        own = {int(acc[i]): (float(ww[i]), float(ll[i])) for i in own_rows}
        cand = np.flatnonzero((mine < 0) & (pm < 2.0))
        best: dict[Any, tuple[float, int]] = {}
        if len(cand):
            new_acc = np.ones(len(acc), dtype=bool)
            new_acc[1:] = acc[1:] != acc[:-1]
            code = np.cumsum(new_acc)
            order = cand[np.lexsort((cand, pm[cand], code[cand]))]
            first = np.ones(len(order), dtype=bool)
            first[1:] = code[order[1:]] != code[order[:-1]]
            best = {int(acc[i]): (float(pm[i]), int(gg[i])) for i in order[first]}
        return cls(fold, tested, group, own, best)


def _combine_folds(tests: list[_FoldTest], alpha: float, min_lift: float = 1.0) -> set[Any]:
    """Accounts kept by the cross-fitted test (steps 3-5 of :func:`validate_accounts`).

    Per fold, ``coordinated_groups`` (groups with two or more kept accounts) and ``accounts_kept`` (kept
    accounts that are grouped or were tested against a group in that fold) are written into its report.
    Vectorised over the tested accounts (sorted; 240,000 a fold at 10M engagements): an account is a
    position in ``names``, each fold's groups, own weights and best p-values arrays over those positions.
    """
    if not tests:
        return set()
    names = np.unique(np.concatenate([np.asarray(t.tested) for t in tests]))
    n = len(names)
    if n == 0:
        for t in tests:
            t.fold.update(coordinated_groups=0, accounts_kept=0)
        return set()

    def where(keys: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``names`` of the keys that are tested, and which keys those are."""
        if not keys:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
        k = np.asarray(keys)
        pos = np.minimum(np.searchsorted(names, k), n - 1)
        return pos, names[pos] == k

    grouped = np.zeros(n, dtype=bool)
    w_sum, lam_sum = np.zeros(n), np.zeros(n)
    best_p = np.ones(n)
    folds: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per fold: group, best group, has a best row
    for t in tests:
        gid = np.full(n, -1, dtype=np.int64)
        pos, ok = where(list(t.group))
        gid[pos[ok]] = np.fromiter(t.group.values(), dtype=np.int64, count=len(t.group))[ok]
        grouped |= gid >= 0
        # a grouped account without a row of its own group: (0, 0), as an absent entry
        pos, ok = where(list(t.own))
        own = np.asarray(list(t.own.values()), dtype=float).reshape(-1, 2)[ok]
        pos = pos[ok]
        in_group = gid[pos] >= 0
        # summed in the order of the folds, as a Python sum would
        np.add.at(w_sum, pos[in_group], own[in_group, 0])
        np.add.at(lam_sum, pos[in_group], own[in_group, 1])
        bg = np.full(n, -1, dtype=np.int64)
        bp = np.ones(n)
        has_best = np.zeros(n, dtype=bool)
        pos, ok = where(list(t.best))
        vals = list(t.best.values())
        bp[pos[ok]] = np.asarray([v[0] for v in vals], dtype=float)[ok]
        bg[pos[ok]] = np.asarray([v[1] for v in vals], dtype=np.int64)[ok]
        has_best[pos[ok]] = True
        best_p = np.minimum(best_p, bp)
        folds.append((gid, bg, has_best))
    pv = np.ones(n)
    lam = np.maximum(lam_sum, 1e-9)
    test = grouped & (w_sum > 0) & (w_sum >= min_lift * lam)
    pv[test] = poisson_sf(w_sum[test], lam[test])
    pv[~grouped] = np.minimum(1.0, len(tests) * best_p[~grouped])
    ok = benjamini_hochberg(pv, alpha)
    # a kept account must share a group with another kept account: its own group in some fold, or (in no
    # group there) the group it was tested against, which then needs one kept member besides it
    keep = np.zeros(n, dtype=bool)
    for t, (gid, bg, _) in zip(tests, folds):
        mine = ok & (gid >= 0)
        # kept grouped accounts of this fold per group id (groups are numbered from 0; the last slot, read for
        # -1, stays 0)
        counts = np.bincount(gid[mine], minlength=int(max(gid.max(), bg.max())) + 2)
        keep |= mine & (counts[gid] >= 2)
        keep |= ok & (gid < 0) & (bg >= 0) & (counts[bg] >= 1)
        t.fold["coordinated_groups"] = int((counts >= 2).sum())
    for t, (gid, _, has_best) in zip(tests, folds):
        t.fold["accounts_kept"] = int((keep & ((gid >= 0) | has_best)).sum())
    return set(names[keep].tolist())


__all__ = ["validate_accounts", "validated_accounts"]

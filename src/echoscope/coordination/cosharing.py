"""Who shares, not only when: the co-sharing test of the object behaviours (a bipartite configuration null).

Why a test of its own: the object-timeline null (:mod:`.nulls`) asks whether two accounts acted on an object
closer in time than the object's other actions make likely. On an object nobody else shares -- a campaign's
own link, its templated text -- the two accounts *are* the object's timeline, so that null reproduces what was
observed and the pair is never judged, however often the same few accounts, and only they, share the same
objects. This module asks the other question: do two accounts share more objects than their activity and the
objects' popularity predict?

The null is the bipartite configuration model: each account keeps the number of distinct objects it shared
(its degree ``d``), each object the number of accounts that shared it (``df``), and which account holds which
of an object's places is random. Given the objects account ``s`` shared, the other account ``t`` holds one of
the other ``df_o - 1`` places of object ``o`` with probability ``min(1, (df_o - 1) d_t / (M - d_s))`` (``M``:
all (account, object) incidences of the behaviour), so the expected number of objects the two share is

    lambda = sum over the objects o of s of  min(1, (df_o - 1) * d_t / (M - d_s))

and ``p = P(Poisson(lambda) >= w)``, ``w`` the objects they shared *within the behaviour's window*. ``s`` is
the account with fewer objects (the cheaper side; the model is symmetric in expectation). Degrees and
popularity are counted over every action of the behaviour, before pruning and the dense-window guard (an
object only one account shared still counts in that account's degree; a campaign's own sharing raises its
objects' popularity, which is conservative).

Time enters only through the count: ``w`` counts the objects shared within the window, while ``lambda``
counts any shared object whatever the times. This is conservative (a subset of the shared objects against the
expectation of all of them) and it is what keeps the test's known weakness small: accounts of one interest
community share the community's items far more often than global popularity predicts (``lambda`` is too
small for them), but their reactions are spread over hours and days, so only part of their shared objects
fall within the window, while a campaign's fall within it nearly all (docs/coordination.md, "Who shares").

Assumptions, stated: accounts choose objects independently of each other in proportion to the objects'
popularity on the whole platform (no community structure), and an object's popularity is its number of
distinct sharers in the study. The test is meant for objects that name one specific thing (a URL, a
near-duplicate text, a set of hashtags, an image); it is not applied to posts (reposts and replies follow
the authors one follows, which is community structure through and through) nor to domains or mentions
(sources, not items).
"""

from __future__ import annotations

from typing import Any

from .params import CoordParams

#: which half of the objects an object falls in (the same expression as :data:`.judge.HALF_SQL` on the object id)
_HALF = "(hash({col}, 7) % 2)"


def _scalar(con: Any, sql: str) -> Any:
    return con.execute(sql).fetchone()[0]


def configuration_null(con: Any, params: CoordParams, unit: str = "object_id") -> dict[str, Any]:
    """Configuration-model null means of the candidate edges ``_ca_edges``: leaves ``_ca_nulllam(a, b, lam, l0, l1)``.

    Reads the behaviour's actions ``_ca_raw`` (all of them), its account ids ``_ca_acc`` and the candidate edges.
    ``l0``/``l1``: the part of ``lam`` on each half of the objects (by ``unit``, as the held-out validation
    splits them). Returns the null's statistics (``model``, ``incidences``, ``analytic``).
    """
    con.execute("""CREATE OR REPLACE TEMP TABLE _cs_ao AS
        SELECT DISTINCT a.aid, r.object_id FROM _ca_raw r JOIN _ca_acc a USING (account_id)""")
    m = int(_scalar(con, "SELECT count(*) FROM _cs_ao") or 0)
    con.execute("CREATE OR REPLACE TEMP TABLE _cs_deg AS SELECT aid, count(*) AS d FROM _cs_ao GROUP BY aid")
    # objects two or more accounts shared: only they can be shared by a pair (df - 1 = 0 otherwise)
    half = _HALF.format(col=unit.replace("object_id", "x.object_id"))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cs_obj AS SELECT x.object_id, x.df, {half} AS half
        FROM (SELECT object_id, count(*) AS df FROM _cs_ao GROUP BY object_id HAVING count(*) >= 2) x""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _cs_aoq AS SELECT x.aid, o.df, o.half
        FROM _cs_ao x JOIN _cs_obj o USING (object_id)""")
    # for each candidate edge, the objects of the account with fewer objects (s), the other's degree (t)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ca_nulllam AS
        WITH e AS (SELECT e.a, e.b, CASE WHEN da.d <= db.d THEN e.a ELSE e.b END AS s,
                          CASE WHEN da.d <= db.d THEN da.d ELSE db.d END AS ds,
                          CASE WHEN da.d <= db.d THEN db.d ELSE da.d END AS dt
                   FROM _ca_edges e JOIN _cs_deg da ON da.aid = e.a JOIN _cs_deg db ON db.aid = e.b),
             p AS (SELECT e.a, e.b, x.half, least(1.0, (x.df - 1) * e.dt::DOUBLE / greatest(1, {m} - e.ds)) AS p
                   FROM e JOIN _cs_aoq x ON x.aid = e.s)
        SELECT a, b, sum(p) AS lam, coalesce(sum(p) FILTER (WHERE half = 0), 0.0) AS l0,
               coalesce(sum(p) FILTER (WHERE half = 1), 0.0) AS l1, count(*) AS n_shared
        FROM p GROUP BY a, b""")
    for t in ("_cs_ao", "_cs_deg", "_cs_obj", "_cs_aoq"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return {"model": "configuration", "analytic": True, "incidences": m, "reps": 0, "seed": int(params.seed)}




def held_out_rows(con: Any, behaviour: str, unit: str = "object_id") -> None:
    """The co-sharing test's inputs to the held-out validation (:mod:`.validation`), per half of the objects.

    ``_cv_cs_<b>(acc, oid, half, df)`` (``acc``: the run's account number, ``_ca_gid``): every object an
    account shared that someone else shared too (``oid`` null when the object was pruned before pairing);
    ``_cv_csd_<b>(acc, half, d)``: each account's distinct objects; ``_cv_csm_<b>(half, m)``: all
    incidences. Under the configuration null an account ``m`` that shared object ``o`` finds a member of group
    ``G`` among its ``df_o - 1`` other sharers with probability about ``min(1, (df_o - 1) D_G / M)`` (``D_G``: the
    other members' objects on that half), whatever the times.
    """
    t = behaviour.replace("-", "_")
    half = _HALF.format(col=unit.replace("object_id", "x.object_id"))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cs_all AS SELECT g.i AS acc, x.object_id, ({half})::UTINYINT AS half
        FROM (SELECT DISTINCT account_id, object_id FROM _ca_raw) x JOIN _ca_acc a USING (account_id)
        JOIN _ca_gid g USING (aid)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cv_cs_{t} AS
        SELECT x.acc, o.oid, x.half, d.df FROM _cs_all x
        JOIN (SELECT object_id, count(*) AS df FROM _cs_all GROUP BY 1 HAVING count(*) >= 2) d USING (object_id)
        LEFT JOIN _ca_obj o USING (object_id)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cv_csd_{t} AS
        SELECT acc, half, count(*) AS d FROM _cs_all GROUP BY acc, half""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cv_csm_{t} AS
        SELECT half, count(*) AS m FROM _cs_all GROUP BY half""")
    con.execute("DROP TABLE IF EXISTS _cs_all")


def cosharing_rows_sql(hx: str) -> str:
    """CTEs ending in ``lc(acc, g, x, w, lam)``: the tested accounts' rows of the co-sharing behaviours.

    Needs the caller's CTEs ``mo(acc, beh, oid, g)`` and ``pairs(acc, g)`` (the tested accounts' rows the test
    reads) and the tables ``_cv_cs``, ``_cv_csd``, ``_cv_csm`` (unions of
    :func:`held_out_rows`), ``_cv_g`` and ``_cv_n``; ``hx`` selects the test half (``= 1``).
    """
    return f"""cs AS (SELECT * FROM _cv_cs WHERE half {hx} AND acc IN (SELECT acc FROM _cv_n)),
        gdg AS (SELECT d.beh, g.g, sum(d.d) AS dg FROM _cv_csd d JOIN _cv_g g USING (acc)
                WHERE d.half {hx} GROUP BY 1, 2),
        -- each tested (account, group) row with the group's objects per behaviour, joined with the account's
        -- objects on both keys: joined on the behaviour alone first, every object of every tested account met
        -- every group (122M rows, 28 s and most of 4 GiB on 1M posts that all carry one hashtag)
        pg AS (SELECT pr.acc, pr.g, gd.beh, gd.dg FROM pairs pr JOIN gdg gd USING (g)),
        lc0 AS (SELECT cs.acc, gd.g, mo.acc IS NOT NULL AS hit,
                      least(1.0, (cs.df - 1) * (gd.dg - CASE WHEN gm.g = gd.g THEN coalesce(dm.d, 0) ELSE 0 END)::DOUBLE
                                 / greatest(1, mm.m)) AS e
               FROM cs JOIN pg gd ON gd.acc = cs.acc AND gd.beh = cs.beh
               JOIN _cv_csm mm ON mm.beh = cs.beh AND mm.half {hx}
               LEFT JOIN _cv_csd dm ON dm.acc = cs.acc AND dm.beh = cs.beh AND dm.half {hx}
               LEFT JOIN _cv_g gm ON gm.acc = cs.acc
               LEFT JOIN mo ON mo.acc = cs.acc AND mo.beh = cs.beh AND mo.oid = cs.oid AND mo.g = gd.g),
        lc AS (SELECT acc, g, -1 AS x, count(*) FILTER (WHERE hit)::DOUBLE AS w, sum(least(1.0, e)) AS lam FROM lc0
               GROUP BY ALL)"""


__all__ = ["configuration_null", "cosharing_rows_sql", "held_out_rows"]

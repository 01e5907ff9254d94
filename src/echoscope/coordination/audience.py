"""Timing judged against the author's own audience: the held-out test's null for behaviours on posts.

Why: the held-out validation (:mod:`.validation`) asks whether an account co-acts with its group more often
than chance. Its older null held the group's times fixed on each post and gave the account a random slot
among the post's other engagers: on an idol's post, where the fans burst within a minute and the public
trails in over hours, a fan is then "far faster than chance" -- and so is a fan's every early repost of its
idol, so whole fandoms passed (306 of 719 fans on the realistic platform, issue 16). Fans are always early on
their idol's posts, as aggregators are on their outlets' and notified followers on the accounts they follow:
early engagement with an author one follows closely is an account's own habit, not evidence of coordination.

The null here keeps each account's habit and asks *which* posts: an engagement of account ``m`` with a post
of author ``X`` keeps its delay after the post (fans and bots stay fast), but which of ``X``'s posts it went
to is random. ``m`` co-acts with its group ``G`` on the post it engaged when another member of ``G`` acted on
it in the same way (the behaviour's window around ``m``'s delay; for behaviours with a reference, any action
of the behaviour on the post; for co-latency in the same delay bucket), and under the null with probability

    e = (posts of X on which another member of G acted so) / (posts of X anyone engaged with)

on the same half of the objects. Fans of an idol burst on every one of its posts: ``e`` is close to one and
their bursts are no evidence. A campaign amplifies the posts its operators pick -- a diplomat's posts whose
other amplifiers are slow get a wave now and then --: ``e`` is the share of the diplomat's posts with a wave,
and being in the waves again and again is evidence. Independent aggregators reposting every post of their
outlets within seconds have ``e = 1`` and are not coordinated by this test (they are labelled as automated
where their evidence elsewhere puts them in a cluster, :mod:`.kinds`).

Delays within the window are matched on bins of the window's width (posts with a member action in the
account's bin or the two next to it, counted per bin and capped by the posts with any member action): a
little more than the window, so ``e`` is a little too large (conservative). A campaign that amplifies *every*
post of its targets looks to this test like a fandom of them; the co-sharing test (:mod:`.cosharing`) and the
pairwise timing tests still see it, the held-out test does not.
"""

from __future__ import annotations

from typing import Any

from .ids import post_numbers

#: behaviours whose objects are posts (or, for co-latency, a post and a delay bucket), which the author's
#: audience null applies to; other timed behaviours keep the older null (``group_null="outside"``)
POST_BEHAVIOURS: tuple[str, ...] = ("co-retweet", "co-reply", "co-quote", "rapid-fire", "early-amplify", "co-latency")


def audience_rows(con: Any, behaviour: str, unit: str, window: float | None) -> None:
    """``_cv_pp_<b>``: each action of ``behaviour`` with its post's author, the post, its delay and delay bin.

    Accounts (``acc``, the author ``x``) and posts carry the run's numbers (:mod:`.ids`).

    ``unit`` (``CoAction.unit``) names the post of an object; the rest of the object id is the ``key`` two
    actions must share (co-latency's delay bucket). ``window``: the behaviour's window, or None when every two
    of its actions on a post co-act (behaviours with a reference). Reads ``_ca_raw`` (every action of the
    behaviour), ``_ca_obj``, ``_ca_acc``, ``_ca_gid`` and the study's ``posts``.
    """
    t = behaviour.replace("-", "_")
    bk = "NULL::BIGINT" if window is None else f"CAST(floor(greatest(lat, 0) / {float(window)!r}) AS BIGINT)"
    # each post's number, author and time, once per run (ids.py; api.py drops the table when a run starts)
    post_numbers(con)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _cv_pp_{t} AS
        SELECT acc, oid, half, x, post, key, lat, {bk} AS bk FROM (
            SELECT g.i AS acc, o.oid, (hash(r.post, 7) % 2)::UTINYINT AS half, p.x,
                   p.pid AS post, substr(r.object_id, length(r.post) + 1) AS key,
                   min(r.ts - epoch_us(p.created_at) / 1e6) AS lat
            FROM (SELECT account_id, object_id, ts, {unit} AS post FROM _ca_raw) r
            JOIN _cv_posts p ON p.post_id = r.post
            JOIN _ca_acc a ON a.account_id = r.account_id JOIN _ca_gid g ON g.aid = a.aid
            LEFT JOIN _ca_obj o ON o.object_id = r.object_id
            WHERE p.created_at IS NOT NULL GROUP BY ALL)""")


def author_posts(con: Any) -> None:
    """``_cv_pop(post, x, half, n)``: each post of the authors of ``_cv_pp`` that anyone engaged with (repost,
    reply or quote), with its number of engagements; ``_cv_tot(x, half, tot)``: their sum per author and half
    (each post counted at least once). Posts and authors by their run numbers (``_cv_posts``, :mod:`.ids`)."""
    con.execute("""CREATE OR REPLACE TEMP TABLE _cv_pop AS
        SELECT p.pid AS post, p.x, (hash(p.post_id, 7) % 2)::UTINYINT AS half, p.n
        FROM _cv_posts p SEMI JOIN (SELECT DISTINCT x FROM _cv_pp) a ON a.x = p.x""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _cv_tot AS
        SELECT x, half, sum(greatest(1, n))::DOUBLE AS tot FROM _cv_pop GROUP BY 1, 2""")


def author_rows_sql(hx: str) -> str:
    """CTEs ending in ``la(acc, g, x, w, lam)``: the tested accounts' rows under the author's audience null.

    Needs the CTEs ``mo(acc, beh, oid, g)`` (an account co-acted with a group on an object) and ``pairs(acc, g)``
    (the tested accounts' rows the test reads) of the caller and the
    tables ``_cv_pp`` (:func:`audience_rows`, all behaviours), ``_cv_pop`` and ``_cv_tot`` (:func:`author_posts`),
    ``_cv_g`` (the fold's groups) and ``_cv_n`` (the tested accounts); ``hx`` selects the test half (``= 1``).
    A post weighs its engagements by accounts outside the group (at least 1): the account's engagement goes to
    one of the author's posts in proportion to how many others engaged with it.
    """
    return f"""pp AS (SELECT * FROM _cv_pp WHERE half {hx}),
        gp AS (SELECT pp.acc, pp.beh, pp.x, pp.key, pp.bk, pp.post, g.g FROM pp JOIN _cv_g g USING (acc)),
        -- a post's weight for a group: its engagements by accounts outside the group, at least 1
        gw AS (SELECT gp.beh, gp.x, gp.g, gp.post, greatest(1, coalesce(any_value(pop.n), 0) - count(DISTINCT gp.acc))
                      AS wt, greatest(1, coalesce(any_value(pop.n), 0)) AS w1
               FROM gp LEFT JOIN _cv_pop pop USING (post) GROUP BY gp.beh, gp.x, gp.g, gp.post),
        -- the author's posts weighed for the group (the null's denominator)
        gd AS (SELECT gw.beh, gw.x, gw.g, coalesce(any_value(t.tot), 0) + sum(gw.wt - gw.w1) AS d
               FROM gw LEFT JOIN _cv_tot t ON t.x = gw.x AND t.half {hx} GROUP BY gw.beh, gw.x, gw.g),
        gpk AS (SELECT DISTINCT beh, x, g, key, post FROM gp),
        gpb AS (SELECT DISTINCT beh, x, g, key, bk, post FROM gp WHERE bk IS NOT NULL),
        -- the author's posts with a member action (p1), per delay bin (cb), weighed; and the posts where one
        -- member is the group's only one (so, sb), taken off for that member (its own actions are not its group's)
        gk AS (SELECT beh, x, g, key, sum(wt) AS p1 FROM gpk JOIN gw USING (beh, x, g, post) GROUP BY ALL),
        gb AS (SELECT beh, x, g, key, bk, sum(wt) AS cb FROM gpb JOIN gw USING (beh, x, g, post) GROUP BY ALL),
        one AS (SELECT beh, x, g, key, post, min(acc) AS acc FROM gp GROUP BY beh, x, g, key, post
                HAVING count(DISTINCT acc) = 1),
        so AS (SELECT one.acc, beh, x, g, key, sum(gw.wt) AS s FROM one JOIN gw USING (beh, x, g, post) GROUP BY ALL),
        onb AS (SELECT beh, x, g, key, bk, post, min(acc) AS acc FROM gp WHERE bk IS NOT NULL
                GROUP BY beh, x, g, key, bk, post HAVING count(DISTINCT acc) = 1),
        sb AS (SELECT onb.acc, beh, x, g, key, bk, sum(gw.wt) AS s FROM onb JOIN gw USING (beh, x, g, post)
               GROUP BY ALL),
        -- the tested accounts' actions, with every group acting on the same author's posts
        r AS (SELECT m.acc, m.beh, m.oid, m.post, m.key, m.x, m.bk, k.g, k.p1 - coalesce(so.s, 0) AS k1
              FROM pp m JOIN gk k ON k.beh = m.beh AND k.x = m.x AND k.key = m.key
              JOIN pairs pr ON pr.acc = m.acc AND pr.g = k.g
              LEFT JOIN so ON so.acc = m.acc AND so.beh = m.beh AND so.x = m.x AND so.g = k.g AND so.key = m.key
              WHERE m.acc IN (SELECT acc FROM _cv_n)),
        rb AS (SELECT r.acc, r.beh, r.post, r.key, r.g, sum(gb.cb - coalesce(sb.s, 0)) AS kb
               FROM r JOIN gb ON gb.beh = r.beh AND gb.x = r.x AND gb.g = r.g AND gb.key = r.key
                    AND gb.bk BETWEEN r.bk - 1 AND r.bk + 1
               LEFT JOIN sb ON sb.acc = r.acc AND sb.beh = gb.beh AND sb.x = gb.x AND sb.g = gb.g
                    AND sb.key = gb.key AND sb.bk = gb.bk
               WHERE r.bk IS NOT NULL GROUP BY ALL),
        la0 AS (SELECT r.acc, r.g, r.x, mo.acc IS NOT NULL AS hit,
                      (CASE WHEN r.bk IS NULL THEN r.k1 ELSE least(r.k1, coalesce(rb.kb, 0)) END)::DOUBLE
                      / greatest(1, coalesce(gd.d, 1)) AS e
               FROM r LEFT JOIN rb ON rb.acc = r.acc AND rb.beh = r.beh AND rb.post = r.post AND rb.key = r.key
                    AND rb.g = r.g
               LEFT JOIN gd ON gd.beh = r.beh AND gd.x = r.x AND gd.g = r.g
               LEFT JOIN mo ON mo.acc = r.acc AND mo.beh = r.beh AND mo.oid = r.oid AND mo.g = r.g),
        la AS (SELECT acc, g, x, count(*) FILTER (WHERE hit)::DOUBLE AS w, sum(least(1.0, e)) AS lam FROM la0
               GROUP BY ALL)"""




def audience_rows_sql(hx: str) -> str:
    """CTEs ending in ``lp(acc, g, x, w, lam)``: the tested accounts' weights under the pooled audience null.

    Each engagement of account ``m`` with a post of author ``X`` is a random slot among *all* engagement slots
    of ``X``'s posts (by accounts other than ``m``): its chance to co-act with group ``g`` is ``e`` = (slots of
    ``X``'s posts that co-act with a member of ``g`` other than their own account) / (slots of ``X``'s posts),
    ``m``'s own slots and hits taken off; ``lam`` = ``m``'s slots on ``X``'s posts times ``e``, ``w`` = its hits
    there. Needs the caller's CTEs ``nza(beh, oid, g, h)`` (per object, the accounts co-acting with a member of
    ``g`` other than themselves), ``no(beh, oid, n)`` (accounts on the object), ``mo(acc, beh, oid, g)`` and
    ``pairs(acc, g)`` (the tested accounts' rows the test reads); the
    tables ``_cv_pp``, ``_cv_ao``, ``_cv_n``.
    """
    return f"""ox AS (SELECT DISTINCT beh, oid, x FROM _cv_pp WHERE half {hx} AND oid IS NOT NULL),
        hxg AS (SELECT ox.beh, ox.x, nza.g, sum(nza.h) AS h FROM nza JOIN ox USING (beh, oid) GROUP BY ALL),
        nx AS (SELECT ox.beh, ox.x, sum(no.n) AS n FROM no JOIN ox USING (beh, oid) GROUP BY ALL),
        ms AS (SELECT ao.acc, ao.beh, ox.x, count(*) AS slots FROM _cv_ao ao JOIN ox USING (beh, oid)
               WHERE ao.half {hx} AND ao.acc IN (SELECT acc FROM _cv_n) GROUP BY ALL),
        mh AS (SELECT mo.acc, mo.beh, ox.x, mo.g, count(*) AS hits FROM mo JOIN ox USING (beh, oid) GROUP BY ALL),
        lp AS (SELECT ms.acc, h.g, ms.x, coalesce(mh.hits, 0)::DOUBLE AS w,
                      ms.slots * least(1.0, greatest(0, h.h - coalesce(mh.hits, 0))::DOUBLE
                                            / greatest(1, nx.n - ms.slots)) AS lam
               FROM ms JOIN hxg h USING (beh, x) JOIN pairs pr ON pr.acc = ms.acc AND pr.g = h.g
               JOIN nx USING (beh, x)
               LEFT JOIN mh ON mh.acc = ms.acc AND mh.beh = ms.beh AND mh.x = ms.x AND mh.g = h.g)"""


__all__ = ["POST_BEHAVIOURS", "audience_rows", "audience_rows_sql", "author_posts", "author_rows_sql"]

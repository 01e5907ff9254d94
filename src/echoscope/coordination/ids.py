"""The run's account numbering: one integer per account, shared by every behaviour and the held-out validation.

Why: each behaviour numbers its own accounts (``_ca_acc``: ranks of the string ids among the behaviour's
accounts, :func:`.stages.integer_ids`), so the tables it hands to the held-out validation (:mod:`.validation`)
carried string ids, and the validation joined and grouped on strings -- at 10M engagements it renumbered
tens of millions of rows from strings (about 50 s) and its group weights ran out of the stage's memory.
``_cr_acc(account_id, i)`` numbers the study's accounts once per run, in the order of their ids (so ordering
by number is ordering by id); ``_ca_gid(aid, i)`` maps the current behaviour's numbers to the run's, a join
over its accounts, not its actions.
"""

from __future__ import annotations

from typing import Any

#: tables of one run, dropped when a run starts (``api._coordinate``): never read from an earlier run
RUN_TABLES: tuple[str, ...] = ("_cr_acc", "_cv_posts")


def has_targets(con: Any) -> bool:
    """Whether the connection has the study's ``targets`` view (a bare connection in a test has none)."""
    return bool(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'targets'").fetchone()[0])


def target_ids(con: Any) -> tuple[str, ...]:
    """The study's target account ids (the ``targets`` view; none on a connection without it), sorted."""
    if not has_targets(con):
        return ()
    rows = con.execute("SELECT DISTINCT CAST(account_id AS VARCHAR) FROM targets WHERE account_id IS NOT NULL "
                       "ORDER BY 1").fetchall()
    return tuple(r[0] for r in rows)


def behaviour_numbers(con: Any) -> None:
    """``_ca_gid(aid, i)``: the run's number of each account of the current behaviour (``_ca_acc``).

    The run's numbering (``_cr_acc``) is made from the study's posts the first time; an account a behaviour has
    that no post has (a login table's) gets a new number after the others.
    """
    con.execute("""CREATE TEMP TABLE IF NOT EXISTS _cr_acc AS
        SELECT account_id, (row_number() OVER (ORDER BY account_id))::INTEGER - 1 AS i
        FROM (SELECT DISTINCT CAST(account_id AS VARCHAR) AS account_id FROM posts WHERE account_id IS NOT NULL)""")
    con.execute("""INSERT INTO _cr_acc SELECT n.account_id,
            ((SELECT coalesce(max(i), -1) FROM _cr_acc) + row_number() OVER (ORDER BY n.account_id))::INTEGER
        FROM (SELECT account_id FROM _ca_acc ANTI JOIN _cr_acc USING (account_id)) n""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _ca_gid AS
        SELECT a.aid, r.i FROM _ca_acc a JOIN _cr_acc r USING (account_id)""")


def post_numbers(con: Any) -> None:
    """``_cv_posts(post_id, pid, x, created_at, n)``: each post someone engaged with (reposted, quoted, replied
    to), once per run, numbered, with its author's number and its number of engagements ``n``.

    Only engaged posts: the held-out test's posts are those a behaviour's actions engaged with, and its author
    null weighs an author's posts by their engagements (:mod:`.audience`); at 10M engagements most posts have
    none.
    """
    con.execute("""CREATE TEMP TABLE IF NOT EXISTS _cv_posts AS
        SELECT p.post_id, (row_number() OVER ())::INTEGER - 1 AS pid, r.i AS x, p.created_at, p.n
        FROM (SELECT CAST(p.post_id AS VARCHAR) AS post_id, CAST(any_value(p.account_id) AS VARCHAR) AS account_id,
                     any_value(p.created_at) AS created_at, any_value(e.n) AS n
              FROM posts p JOIN (SELECT ref_post_id, count(*) AS n FROM posts WHERE ref_post_id IS NOT NULL
                                 GROUP BY 1) e ON e.ref_post_id = p.post_id
              GROUP BY 1) p
        LEFT JOIN _cr_acc r USING (account_id)""")


def account_ids(con: Any, numbers: list[int]) -> set[str]:
    """The account ids of run numbers ``numbers``."""
    import pyarrow as pa

    if not numbers:
        return set()
    con.register("_cr_in", pa.table({"i": pa.array(numbers, pa.int32())}))
    try:
        return {r[0] for r in con.execute("SELECT account_id FROM _cr_acc SEMI JOIN _cr_in USING (i)").fetchall()}
    finally:
        con.unregister("_cr_in")


__all__ = ["RUN_TABLES", "account_ids", "behaviour_numbers", "post_numbers"]

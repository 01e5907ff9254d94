"""The run's account numbering (coordination/ids.py) and the held-out test reading only the rows it uses."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from echoscope.coordination.ids import account_ids, behaviour_numbers, post_numbers


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("_posts_in", pa.table({
        "post_id": ["p1", "p2", "p3", "r1", "r2", "r3"],
        "account_id": ["carol", "alice", "bob", "dave", "erin", "erin"],
        "created_at": pa.array([0, 10, 20, 30, 40, 50], pa.timestamp("s", tz="UTC")),
        "ref_post_id": [None, None, None, "p1", "p1", "p2"],
    }))
    con.execute("CREATE TABLE posts AS SELECT * FROM _posts_in")
    return con


def test_run_numbers_follow_the_id_order_and_map_each_behaviour_through_its_accounts():
    con = _con()
    # a behaviour's own numbering (ranks among its accounts) and one account no post has (a login table's)
    con.execute("CREATE TABLE _ca_acc AS SELECT * FROM (VALUES ('bob', 1), ('erin', 2), ('zed', 3)) t(account_id, aid)")
    behaviour_numbers(con)
    run = dict(con.execute("SELECT account_id, i FROM _cr_acc").fetchall())
    # the study's accounts in id order, then the new one after them
    assert [a for a, _ in sorted(run.items(), key=lambda x: x[1])] == ["alice", "bob", "carol", "dave", "erin", "zed"]
    gid = dict(con.execute("SELECT aid, i FROM _ca_gid").fetchall())
    assert gid == {1: run["bob"], 2: run["erin"], 3: run["zed"]}
    # a second behaviour with the same accounts adds nothing; its numbers map to the same run numbers
    con.execute("CREATE OR REPLACE TABLE _ca_acc AS SELECT * FROM (VALUES ('zed', 1), ('alice', 2)) t(account_id, aid)")
    behaviour_numbers(con)
    assert con.execute("SELECT count(*) FROM _cr_acc").fetchone()[0] == 6
    assert dict(con.execute("SELECT aid, i FROM _ca_gid").fetchall()) == {1: run["zed"], 2: run["alice"]}
    assert account_ids(con, [run["bob"], run["zed"]]) == {"bob", "zed"}
    assert account_ids(con, []) == set()


def test_post_numbers_keep_engaged_posts_with_their_engagements_and_author():
    con = _con()
    con.execute("CREATE TABLE _ca_acc AS SELECT * FROM (VALUES ('bob', 1)) t(account_id, aid)")
    behaviour_numbers(con)
    post_numbers(con)
    rows = con.execute("SELECT post_id, x, n FROM _cv_posts ORDER BY post_id").fetchall()
    run = dict(con.execute("SELECT account_id, i FROM _cr_acc").fetchall())
    # p3 and the reposts themselves have no engagements: not needed by the held-out test
    assert rows == [("p1", run["carol"], 2), ("p2", run["alice"], 1)]
    pids = [r[0] for r in con.execute("SELECT pid FROM _cv_posts").fetchall()]
    assert sorted(pids) == [0, 1]


def test_the_group_weights_have_rows_only_for_groups_an_ungrouped_account_co_acts_with():
    # accounts 0, 1 form group 1 and 2, 3 group 2; account 4 is in no group. On object 10 it acts within the
    # window of group 1's members; on object 11 it acts too, but apart from group 2's. It is tested against
    # group 1 only (before 2026-12-07 it also got a row for group 2 with weight 0, which could name group 2 as
    # the group it was "tested against" in a fold without evidence); each grouped account gets its own group
    from echoscope.coordination.validation import _group_weights

    con = duckdb.connect()
    con.execute("""CREATE TABLE _cv_abo AS SELECT x::INTEGER AS x, y::INTEGER AS y, 0::UTINYINT AS beh,
            oid::INTEGER AS oid, 1::UTINYINT AS half
        FROM (VALUES (0, 1, 10), (1, 0, 10), (0, 4, 10), (4, 0, 10), (1, 4, 10), (4, 1, 10),
                     (2, 3, 11), (3, 2, 11)) t(x, y, oid)""")
    con.execute("""CREATE TABLE _cv_ao AS SELECT acc::INTEGER AS acc, 0::UTINYINT AS beh, oid::INTEGER AS oid,
            1::UTINYINT AS half, 0.5 AS q, 3::BIGINT AS n, 1.0 AS s, NULL::BIGINT AS k, NULL::DOUBLE AS nb,
            NULL::BIGINT AS na
        FROM (VALUES (0, 10), (1, 10), (4, 10), (2, 11), (3, 11), (4, 11)) t(acc, oid)""")
    con.execute("CREATE TABLE _cv_act (acc INTEGER, beh UTINYINT, oid INTEGER, half UTINYINT)")
    con.execute("CREATE TABLE _cv_g AS SELECT * FROM (VALUES (0, 1), (1, 1), (2, 2), (3, 2)) t(acc, g)")
    con.execute("CREATE TABLE _cv_n AS SELECT range::INTEGER AS acc FROM range(5)")
    rows = _group_weights(con, "= 1", "outside").to_pylist()
    got = {(r["acc"], r["g"]): r["w"] for r in rows}
    assert got == {(0, 1): 1.0, (1, 1): 1.0, (2, 2): 1.0, (3, 2): 1.0, (4, 1): 1.0}
    assert all(r["lam"] > 0 for r in rows)


@pytest.mark.parametrize("actors", [["a1"], ["a2", "a3", "a6"], ["a4", "nobody"], []])
def test_engagements_by_is_the_view_for_those_actors(tmp_path, actors):
    """engine.engagements_by (the members' engagements in kinds.py and the cluster summaries) gives exactly the
    engagements view's rows of the actors named -- reposts, replies, quotes and likes, multiplicities included
    -- without joining every post with its subject first."""
    from echoscope.engine import engagements_by
    from tests.measures_fixture import make_study

    study = make_study(tmp_path / "s")
    con = study.engine.raw
    con.execute("CREATE OR REPLACE TEMP TABLE _eb_a (account_id VARCHAR)")
    for a in actors:
        con.execute("INSERT INTO _eb_a VALUES (?)", [a])
    cols = "platform, engagement_id, actor_id, kind, subject_post_id, subject_account_id, created_at, latency_s"
    order = "ORDER BY ALL"
    got = con.execute(f"SELECT {cols} FROM ({engagements_by('_eb_a')}) {order}").fetchall()
    want = con.execute(f"SELECT {cols} FROM engagements WHERE CAST(actor_id AS VARCHAR) IN "
                       f"(SELECT account_id FROM _eb_a) {order}").fetchall()
    assert got == want
    assert bool(got) == bool(set(actors) - {"nobody"})
    if "a6" in actors:
        assert any(r[3] == "like" for r in got)

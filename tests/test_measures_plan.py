"""The DuckDB SQL plan (``measures/duckdb_plan.py:run_duckdb``) gives exactly the tables of the Ibis expressions.

The Spark tests compare the two on the small hand-built fixture; this module runs both on DuckDB over a
generated, tie-heavy study that reaches every shortcut of the SQL plan:

* the read's subject-post join against the targets' posts only, with the fallback for rows whose reference is
  no target's post: reposts whose ``ref_account_id`` names a target but whose referenced post is some other
  account's (latency from that post) or absent (dangling: no latency), and reposts without ``ref_account_id``
  of non-targets' posts (not a target's engagement);
* rapid-fire order without engagement ids, with its re-read when a rapid and a non-rapid engagement of one
  amplifier share a second (times on a 30 s grid, latencies of whole seconds);
* integer amplifier keys in actor_id order (ids of mixed case and length, so numeric and string order differ;
  many equal counts, so rank ties are broken by actor_id);
* distinct subject posts of rapid-fire sequences counted from post numbers plus, for references outside the
  targets' posts, their ids;
* targets without a group (their super-spreaders), engagements without a time, several status checks per
  account, flagged accounts (``coord_members``, ``account_scores``), likes.

Expected values are the Ibis expressions' own results (``summary`` in expressions.py, the definitions the docs give),
computed on the same DuckDB connection; the tables must be equal value by value.
"""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
import pytest

import echoscope
from echoscope import schema as S
from echoscope.measures import Measures, measures
from echoscope.store.targets import add_targets

UTC = dt.timezone.utc
T0 = dt.datetime(2021, 1, 1, tzinfo=UTC)


def _tables(seed: int, n_eng: int, n_act: int) -> dict[str, pa.Table]:
    rnd = random.Random(seed)
    posts: list[dict] = []
    authors = [f"t{i}" for i in range(7)] + ["x1", "x2"]  # x*: not targets
    for i in range(150):
        posts.append({"platform": "twitter", "post_id": f"p{i:03d}", "account_id": rnd.choice(authors),
                      "created_at": T0 + dt.timedelta(seconds=rnd.randrange(0, 40 * 86400, 30)), "kind": "original"})
    by_id = {p["post_id"]: p for p in posts}
    ids = list(by_id)
    actors = sorted({rnd.choice(["a", "A", "b", "zz", "a1"]) + str(rnd.randrange(n_act * 3)) for _ in range(n_act)})
    rows, likes = [], []
    for i in range(n_eng):
        pid = rnd.choice(ids)
        p = by_id[pid]
        actor = rnd.choice(actors[: max(3, len(actors) // (1 + rnd.randrange(4)))])  # skewed activity
        when = p["created_at"] + dt.timedelta(seconds=rnd.choice(
            [0, 1, 1, 2, 3, 5, 5, 8, 10, 11, 60, 61, 300, 4000, -5, 86400 * 8]))
        if rnd.random() < 0.03:
            when = None
        r = rnd.random()
        if r < 0.2:
            likes.append({"platform": "twitter", "account_id": actor, "post_id": pid, "created_at": when})
            continue
        ref_acc, ref_post = p["account_id"], pid
        if r < 0.25:
            ref_acc = None  # subject from the referenced post's author
        elif r < 0.28:
            ref_post = f"gone{i % 5}"  # dangling reference
        elif r < 0.32:
            ref_acc = rnd.choice(authors)  # may disagree with the referenced post's author
        rows.append({"platform": "twitter", "post_id": f"e{rnd.randrange(10**6)}x{i}", "account_id": actor,
                     "created_at": when, "kind": rnd.choice(["repost", "repost", "quote", "reply"]),
                     "ref_post_id": ref_post, "ref_account_id": ref_acc})
    status = []
    for a in actors:
        if rnd.random() < 0.6:
            for _ in range(rnd.choice([1, 1, 2])):
                status.append({"platform": "twitter", "account_id": a, "status": rnd.choice(S.ACCOUNT_STATUSES),
                               "checked_at": rnd.choice([None, dt.datetime(2021, 3, 1, tzinfo=UTC),
                                                         dt.datetime(2021, 3, 5, tzinfo=UTC)])})
    accounts = [{"platform": "twitter", "account_id": a, "handle": f"h_{a}"} for a in actors if rnd.random() < 0.7]
    return {"posts": pa.Table.from_pylist(posts + rows, schema=S.POSTS),
            "likes": pa.Table.from_pylist(likes, schema=S.LIKES),
            "account_status": pa.Table.from_pylist(status, schema=S.ACCOUNT_STATUS),
            "accounts": pa.Table.from_pylist(accounts, schema=S.ACCOUNTS)}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> echoscope.Study:
    s = echoscope.init_study(tmp_path_factory.mktemp("plan") / "s")
    s.load_arrow(_tables(2, 6000, 300))
    # t2 and t5 have no group; t0, t3, t6 in g1, t1, t4 in g2
    add_targets(s, [(f"t{i}", None, ["g1", "g2", None][i % 3], "lab" if i % 2 else None) for i in range(7)])
    acc = s.sql("SELECT DISTINCT actor_id FROM engagements ORDER BY actor_id").column("actor_id").to_pylist()
    rnd = random.Random(5)
    s.write_result("coord_members", pa.table({"account_id": [a for a in acc if rnd.random() < 0.2]}))
    s.write_result("account_scores", pa.table({"account_id": acc, "score": [rnd.random() for _ in acc]}))
    return s


def test_study_reaches_the_shortcuts(study: echoscope.Study) -> None:
    # the generated data holds every case the module docstring lists (else the comparison below proves less)
    n = study.sql("""
        SELECT count(*) FILTER (WHERE s.post_id IS NULL) AS dangling,
               count(*) FILTER (WHERE s.post_id IS NOT NULL AND p.ref_account_id <> s.account_id
                                AND p.ref_account_id LIKE 't%' AND s.account_id LIKE 'x%') AS other_author,
               count(*) FILTER (WHERE p.ref_account_id IS NULL AND s.account_id LIKE 'x%') AS null_ref_non_target
        FROM posts p LEFT JOIN posts s ON s.platform = p.platform AND s.post_id = p.ref_post_id
        WHERE p.kind <> 'original'""").to_pylist()[0]
    assert n["dangling"] > 0 and n["other_author"] > 0 and n["null_ref_non_target"] > 0
    mixed = study.sql("""
        SELECT count(*) AS n FROM (SELECT actor_id FROM (
          SELECT actor_id, created_at, coalesce(latency_s BETWEEN 0 AND 10, false) AS rapid
          FROM engagements WHERE created_at IS NOT NULL)
        GROUP BY actor_id, created_at HAVING bool_or(rapid) AND bool_or(NOT rapid))""")
    assert mixed["n"][0].as_py() > 0


@pytest.mark.parametrize("params", [
    {},
    {"rapid_latency_s": 5, "rapid_min_posts": 2, "top": 0.1},
    {"group": "g1", "since": "2021-01-10", "until": "2021-02-01", "top": "5%"},
])
def test_sql_plan_equals_reference_expressions(study: echoscope.Study, params: dict) -> None:
    m = measures(study, **params)
    plan = m.tables()
    # the same expressions run by Ibis on the same connection (any engine name but "duckdb" takes that path)
    ref = Measures(m.study, m.con, m.params, "ibis-duckdb", m._exprs).tables()
    for name, t in plan.items():
        assert t.num_rows > 0, name
        assert t.schema == ref[name].schema, name
        assert t.equals(ref[name]), name
    # ungrouped targets get super-spreaders too (the SQL plan once dropped them)
    ss = plan["superspreaders"]
    if params.get("group") is None:
        assert any(r["scope"] == "target" and r["group"] is None for r in ss.to_pylist())

"""Evidence for every member (issue 15 item 1): every account of a cluster judged coordinated carries the
co-actions that put it there, with at least one partner in its own cluster, and says its behaviours.

Why these studies: the held-out validation keeps accounts on group tests, while evidence used to be written for
judged pair edges only; a member whose pairs were each too weak to be judged alone then had no evidence row
with anyone in its cluster, and a cluster whose members shared no judged edge had an empty ``behaviours``
column. Before the fix, on the demo study 8 of the 148 members (4 in each of its two largest clusters) had no
evidence row with a partner in their cluster; on the twarc2 study of ten days of real IRA tweets below (four
co-text clusters of 27-52 accounts), one member of the fourth cluster had none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import SHARED

#: real tweets of the Internet Research Agency (Linvill & Warren), see ../shared/data/README.md
IRA = SHARED / "ira-troll-tweets" / "ira_tweets_troll_categories.csv.gz"
#: ten days of IRA tweets (about 25,000) written as twarc2 API v2 pages: trolls posting the same texts
IRA_DAYS = ("2016-10-01", "2016-10-11")


def _check_members(res: Any) -> dict[str, Any]:
    """Assert the evidence contract on a CoordinationResult; return counts for the callers' own assertions."""
    con = duckdb.connect()
    con.register("m", res.members)
    con.register("c", res.clusters)
    con.register("e", res.evidence)
    coordinated = con.execute("SELECT count(*) FROM c WHERE coordinated").fetchone()[0]
    # the cluster's behaviours column is never empty
    assert con.execute("SELECT count(*) FROM c WHERE behaviours IS NULL OR behaviours = ''").fetchone()[0] == 0
    # per member: evidence rows with a partner in its own cluster, those partners, those behaviours
    rows = con.execute("""WITH x AS (
            SELECT m.cluster_id, m.account_id, e.behaviour, CASE WHEN e.account_a = m.account_id
                   THEN e.account_b ELSE e.account_a END AS partner
            FROM m JOIN e ON m.account_id IN (e.account_a, e.account_b)),
        y AS (SELECT x.* FROM x JOIN m p ON p.account_id = x.partner AND p.cluster_id = x.cluster_id
              WHERE x.partner <> x.account_id)
        SELECT m.cluster_id, m.account_id, m.coordinated, m.behaviours, m.partners, c.coordinated AS c_coord,
               c.behaviours AS c_beh, count(y.partner) AS n_rows, count(DISTINCT y.partner) AS n_partners,
               string_agg(DISTINCT y.behaviour, ',' ORDER BY y.behaviour) AS seen
        FROM m JOIN c USING (cluster_id)
        LEFT JOIN y ON y.account_id = m.account_id AND y.cluster_id = m.cluster_id
        GROUP BY ALL""").fetchall()
    for cid, acc, coord, beh, partners, c_coord, c_beh, n_rows, n_partners, seen in rows:
        where = f"member {acc} of cluster {cid}"
        assert coord is c_coord, f"{where}: coordinated {coord} but its cluster {c_coord}"
        if not c_coord:
            continue
        assert n_rows >= 1, f"{where}: no evidence row with a partner in its own cluster"
        assert beh, f"{where}: empty behaviours"
        # every behaviour it is said to have is shown by at least one evidence row with a partner of its cluster
        assert seen == beh, f"{where}: behaviours {beh!r}, evidence shows {seen!r}"
        assert set(beh.split(",")) <= set(c_beh.split(","))
        # partners counts every member it co-acted with; the evidence shown names at least one, at most that many
        assert 1 <= n_partners <= partners, f"{where}: {n_partners} partners in the evidence, {partners} said"
    members = sum(1 for r in rows if r[5])
    return {"clusters": coordinated, "members": members}


@pytest.fixture(scope="module")
def demo_result(tmp_path_factory):
    """The demo's platform (``echoscope demo``: 10,000 accounts, 100,000 engagements, seed 7), default run."""
    from echoscope.coordination import CoordParams, coordinate
    from echoscope.demo import DEMO_ACCOUNTS, DEMO_ENGAGEMENTS
    from echoscope.simulate.config import make_config
    from echoscope.simulate.platform import simulate
    from echoscope.simulate.writers import write_study
    from echoscope.study import open_study

    root = tmp_path_factory.mktemp("demo") / "study"
    write_study(simulate(make_config(accounts=DEMO_ACCOUNTS, engagements=DEMO_ENGAGEMENTS, seed=7)), root)
    study = open_study(root)
    return study, coordinate(study, CoordParams(), write=True)


@pytest.mark.slow
def test_every_member_of_the_demo_clusters_has_evidence_with_its_cluster(demo_result):
    study, res = demo_result
    got = _check_members(res)
    # the demo plants campaigns: several coordinated clusters (5 on seed 7 today), all with evidence
    assert got["clusters"] >= 3 and got["members"] >= 100
    # what is stored is what was returned: the members table carries the flag measures reads
    stored = study.engine.sql("SELECT count(*) AS n, count(*) FILTER (WHERE coordinated) AS c, "
                              "count(*) FILTER (WHERE behaviours IS NULL) AS nb FROM coord_members").to_pylist()[0]
    assert stored == {"n": res.members.num_rows, "c": got["members"], "nb": 0}


@pytest.mark.slow
def test_member_evidence_is_bounded(demo_result):
    """Each member names at most MEMBER_PARTNERS partners (plus one per behaviour) in the evidence written."""
    from echoscope.coordination.clusters import MEMBER_PARTNERS

    _, res = demo_result
    con = duckdb.connect()
    con.register("e", res.evidence)
    con.register("m", res.members)
    # every evidence row of two members of one cluster belongs to a pair chosen by one of its two ends; an
    # account then appears with at most its own picks plus the picks of others (bounded by the cluster size)
    worst = con.execute("""SELECT max(n) FROM (SELECT account_a, account_b, behaviour, count(*) AS n FROM e
                           GROUP BY ALL)""").fetchone()[0]
    assert worst <= 20  # evidence_per_edge: at most 20 objects per pair and behaviour
    per = con.execute("""WITH p AS (SELECT DISTINCT least(account_a, account_b) AS x, greatest(account_a, account_b)
                            AS y FROM e JOIN m ma ON ma.account_id = e.account_a JOIN m mb ON mb.account_id =
                            e.account_b AND mb.cluster_id = ma.cluster_id)
                         SELECT count(*) FROM p""").fetchone()[0]
    n_beh = len(set(",".join(res.members["behaviours"].to_pylist()).split(",")))
    assert per <= res.members.num_rows * (MEMBER_PARTNERS + n_beh)


def _ira_twarc2(out: Path) -> Path:
    """Ten days of real IRA tweets as twarc2 response pages (one JSON object per line, 500 tweets a page)."""
    con = duckdb.connect()
    rows = con.execute(f"""SELECT author_id, content, strftime(publish_date::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.000Z')
            AS created_at, hash(author_id || publish_date || content) % 1000000000000000 AS id
        FROM read_csv('{IRA}', header = true, all_varchar = true)
        WHERE publish_date >= '{IRA_DAYS[0]}' AND publish_date < '{IRA_DAYS[1]}'
        ORDER BY publish_date, author_id, id""").fetchall()
    with out.open("w") as f:
        for i in range(0, len(rows), 500):
            page = rows[i:i + 500]
            users = sorted({r[0] for r in page})
            f.write(json.dumps({
                "data": [{"id": str(r[3]), "author_id": r[0], "text": r[1], "created_at": r[2]} for r in page],
                "includes": {"users": [{"id": u, "username": u, "name": u} for u in users]}}) + "\n")
    return out


@pytest.mark.slow
def test_every_member_of_a_twarc2_study_of_real_tweets_has_evidence(tmp_path):
    import echoscope
    from echoscope.coordination import CoordParams, coordinate

    src = _ira_twarc2(tmp_path / "ira.jsonl")
    study = echoscope.init_study(tmp_path / "s")
    (rep,) = study.ingest([str(src)], format="twarc2")
    assert rep["status"] == "ok" and rep["loaded"] > 10_000
    res = coordinate(study, CoordParams(), write=False)
    got = _check_members(res)
    # IRA trolls post the same texts: four co-text clusters of 27-52 accounts today
    assert got["clusters"] >= 2 and got["members"] >= 50

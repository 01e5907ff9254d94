"""Complete exports: every member of every cluster is a node of the GEXF, the GraphML and the Gephi CSV; the
ingested posts and accounts export streamed, spreadsheet-safe and pseudonymised; ``--run`` on export.

Studies:

- ``members``: the report fixture (tests/test_report_fixtures.py: coordinated cluster 1 = c0..c5 with 15
  judged edges and 2 evidence rows per pair; cluster 2 = o0, o1 with one edge) plus o5 and o12 put in cluster 1
  with no edge of their own -- the case of a member kept by the group validation, which the edge-only export
  left out;
- ``planted`` (tests/test_findings.py): six bots repost every statement of a target seconds apart; the real
  ``coordinate`` finds them;
- the demo study (slow: ``echoscope demo`` takes ~45 s).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import networkx as nx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from echoscope.errors import ConfigError
from echoscope.report.exports import export_study
from echoscope.report.pseudonymise import Pseudonymiser, resolve_key

from .test_report_fixtures import PAYLOADS, build_study

GRAPHS = "gexf,graphml,gephi-csv"


def add_edgeless_members(study, extra: tuple[str, ...] = ("o5", "o12")) -> None:
    """Put ``extra`` accounts into cluster 1 without any edge (coord_members rewritten, cluster size 6 -> 8)."""
    m = study.engine.sql("SELECT * FROM coord_members").to_pylist()
    m += [{"cluster_id": 1, "account_id": a, "handle": None, "degree": 0, "strength": 0.0} for a in extra]
    c = study.engine.sql("SELECT * FROM coord_clusters").to_pylist()
    for r in c:
        if r["cluster_id"] == 1:
            r["size"] = 6 + len(extra)
    meta = study.manifest().result_meta("coord_members")
    study.write_result("coord_members", pa.Table.from_pylist(m), meta=meta)
    study.write_result("coord_clusters", pa.Table.from_pylist(c), meta=meta)


def node_ids(out: Path) -> dict[str, set[str]]:
    """Node ids of each graph file in ``out``."""
    with open(out / "nodes.csv", encoding="utf-8", newline="") as fh:
        gephi = {r["Id"] for r in csv.DictReader(fh)}
    return {"gexf": set(nx.read_gexf(out / "coordination.gexf").nodes),
            "graphml": set(nx.read_graphml(out / "coordination.graphml").nodes), "gephi-csv": gephi}


def cluster_members(cli, study_path, *extra: str) -> dict[str, set[str]]:
    """``clusters --json --all``: cluster id -> member ids (every member: --json lists all)."""
    r = cli("clusters", study_path, "--json", "--all", "--limit", "500", *extra)
    assert r.exit_code == 0, r.stderr
    return {str(c["cluster_id"]): {m["account_id"] for m in c["members"]} for c in json.loads(r.stdout)["clusters"]}


@pytest.fixture(scope="module")
def members(tmp_path_factory):
    s = build_study(tmp_path_factory.mktemp("members") / "study", hostile=False)
    add_edgeless_members(s)
    return s


@pytest.fixture(scope="module")
def graphs(members, tmp_path_factory):
    out = tmp_path_factory.mktemp("graphs")
    export_study(members, GRAPHS, out)
    return out


def test_every_member_is_a_node_in_every_format(members, graphs, cli):
    clusters = cluster_members(cli, members.path)
    assert clusters == {"1": {f"c{i}" for i in range(6)} | {"o5", "o12"}, "2": {"o0", "o1"}}
    every = set().union(*clusters.values())
    for fmt, ids in node_ids(graphs).items():
        # 8 members of cluster 1 + 2 of cluster 2; no other account has a judged edge
        assert ids == every, fmt
    # the edges are still only the judged ones: 15 campaign pairs + o0-o1 (o5, o12 have none)
    g = nx.read_gexf(graphs / "coordination.gexf")
    assert g.number_of_edges() == 16 and g.degree("o5") == 0


def test_node_attributes(graphs):
    g = nx.read_gexf(graphs / "coordination.gexf")
    c0, o5, o0 = g.nodes["c0"], g.nodes["o5"], g.nodes["o0"]
    # c0: cluster 1 (coordinated), score 0.9 and high risk as account_scores stores them, later suspended
    assert (c0["cluster"], c0["coordinated"], c0["score"], c0["high_risk"], c0["status"], c0["handle"]) == \
        ("1", True, 0.9, True, "suspended", "campaign0")
    # o5: a member with no edge still carries its cluster, handle and status (never scored: no score)
    assert (o5["cluster"], o5["coordinated"], o5["handle"], o5["status"], o5["label"]) == \
        ("1", True, "organic5", "active", "organic5")
    assert "score" not in o5 and o5["start"] == o5["created"]
    # o0: cluster 2, judged not coordinated; scored 0.2, not high risk
    assert (o0["cluster"], o0["coordinated"], o0["score"], o0["high_risk"]) == ("2", False, 0.2, False)
    h = nx.read_graphml(graphs / "coordination.graphml")
    assert h.nodes["o12"]["cluster"] == "1" and h.nodes["o12"]["status"] == "unchecked"  # o12: never checked


def test_edge_attributes_carry_evidence_counts(graphs):
    g = nx.read_gexf(graphs / "coordination.gexf")
    e = g.edges["c0", "c1"]
    # the fixture stores 2 co-retweet evidence rows per campaign pair; the edge's weight and p-value as stored
    assert (e["behaviour"], e["weight"], e["p_value"], e["evidence_count"], e["behaviours"]) == \
        ("co-retweet", 10.0, 1e-6, 2, "co-retweet")
    # o0-o1: a co-retweet edge whose only evidence row is co-text: 0 rows of the edge's behaviour
    assert g.edges["o0", "o1"]["evidence_count"] == 0
    with open(graphs / "edges.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:4] == ["Source", "Target", "Weight", "Type"]
    assert {"behaviour", "p_value", "evidence_count"} <= set(rows[0])
    assert {int(r["evidence_count"]) for r in rows if r["Source"].startswith("c")} == {2}
    with open(graphs / "nodes.csv", encoding="utf-8", newline="") as fh:
        nodes = {r["Id"]: r for r in csv.DictReader(fh)}
    assert list(next(iter(nodes.values())))[:2] == ["Id", "Label"]
    assert nodes["o5"]["cluster"] == "1" and nodes["o5"]["Label"] == "organic5" and nodes["c3"]["score"] == "0.9"


def test_pseudonymised_graphs_keep_every_member(members, tmp_path):
    out = tmp_path / "p"
    export_study(members, GRAPHS, out, pseudonymise=True)
    p = Pseudonymiser(resolve_key(members.path))
    want = {p.account(a) for a in [f"c{i}" for i in range(6)] + ["o5", "o12", "o0", "o1"]}
    for fmt, ids in node_ids(out).items():
        assert ids == want, fmt
    g = nx.read_gexf(out / "coordination.gexf")
    assert g.nodes[p.account("o5")]["handle"] == p.handle("organic5")
    text = "".join(f.read_text(encoding="utf-8") for f in out.iterdir())
    assert "organic5" not in text and "campaign0" not in text


def test_export_run_reads_an_earlier_run(tmp_path, cli):
    # two stored coordination runs: the first clusters c0, c1, o7; the second (the latest) the fixture's
    s = build_study(tmp_path / "runs", hostile=False, measures=False)
    latest = {n: s.engine.sql(f"SELECT * FROM {n}") for n in ("coord_edges", "coord_clusters", "coord_members",
                                                               "coord_evidence")}
    first = dict(latest, coord_members=pa.table({"cluster_id": [1, 1, 1], "account_id": ["c0", "c1", "o7"]}),
                 coord_clusters=pa.table({"cluster_id": [1], "size": [3], "coordinated": [True]}))
    s.write_results(first, meta={}, analysis="coordination", run_id="c-first", summary={})
    s.write_results(latest, meta={}, analysis="coordination", run_id="c-second", summary={})
    r = cli("export", s.path, "--to", "gephi-csv", "-o", tmp_path / "old", "--run", "c-first", "--json")
    assert r.exit_code == 0, r.stderr
    with open(tmp_path / "old" / "nodes.csv", encoding="utf-8", newline="") as fh:
        nodes = {row["Id"]: row for row in csv.DictReader(fh)}
    assert nodes["o7"]["cluster"] == "1" and "o5" not in nodes  # o7: only in the first run
    r = cli("export", s.path, "--to", "gephi-csv", "-o", tmp_path / "new")
    with open(tmp_path / "new" / "nodes.csv", encoding="utf-8", newline="") as fh:
        assert "o7" not in {row["Id"] for row in csv.DictReader(fh)}
    r = cli("export", s.path, "--to", "gephi-csv", "-o", tmp_path / "x", "--run", "c-nope")
    assert r.exit_code == 2 and "no stored run" in r.stderr and "c-first" in r.stderr


def test_planted_study_every_member_in_every_format(tmp_path, cli):
    import echoscope
    from echoscope.coordination import CoordParams, coordinate

    from .test_findings import planted_tables

    s = echoscope.init_study(tmp_path / "planted")
    s.load_arrow(planted_tables())
    s.set_targets(pa.table({"account_id": ["target"], "handle": ["ambassador"], "group": ["diplomats"]}))
    coordinate(s, CoordParams(behaviours=("co-retweet",), window=60, reps=20))
    clusters = cluster_members(cli, s.path)
    # the six planted bots are one coordinated cluster (tests/test_findings.py)
    assert {f"bot{b}" for b in range(6)} <= set().union(*clusters.values())
    r = cli("export", s.path, "--to", GRAPHS, "-o", tmp_path / "out", "--json")
    assert r.exit_code == 0, r.stderr
    for fmt, ids in node_ids(tmp_path / "out").items():
        for cid, mem in clusters.items():
            assert mem <= ids, (fmt, cid, mem - ids)


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_demo_study_every_member_in_every_format(tmp_path, cli, demo_run):
    study = demo_run[0] / "demo-study"
    clusters = cluster_members(cli, study)
    every = set().union(*clusters.values())
    assert len(every) > 50  # the demo plants several campaigns
    r = cli("export", study, "--to", GRAPHS, "-o", tmp_path / "out")
    assert r.exit_code == 0, r.stderr
    for fmt, ids in node_ids(tmp_path / "out").items():
        assert every <= ids, (fmt, len(every - ids))


# ------------------------------------------------------------------------------------------ ingested tables
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Three accounts and four posts with formula-like texts, a mention and a hostile display name."""
    import datetime as dt

    import echoscope
    from echoscope import schema as S

    t0 = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    s = echoscope.init_study(tmp_path_factory.mktemp("tiny") / "study")
    acc = [{"platform": "twitter", "account_id": "u1", "handle": "alice", "display_name": PAYLOADS["formula"],
            "created_at": t0, "followers_count": 5},
           {"platform": "twitter", "account_id": "u2", "handle": "bob", "display_name": "Bob", "created_at": t0},
           {"platform": "twitter", "account_id": "u3", "handle": "carol", "display_name": "-Carol", "created_at": t0}]
    posts = [{"platform": "twitter", "post_id": "p1", "account_id": "u1", "kind": "original", "created_at": t0,
              "text": "=1+1 hello @bob", "mentions": ["bob"], "urls": ["https://x.com/bob/status/9"]},
             {"platform": "twitter", "post_id": "p2", "account_id": "u2", "kind": "repost", "ref_post_id": "p1",
              "ref_account_id": "u1", "created_at": t0 + dt.timedelta(seconds=5), "text": "+cmd"},
             {"platform": "twitter", "post_id": "p3", "account_id": "u3", "kind": "reply", "ref_post_id": "p1",
              "ref_account_id": "u1", "created_at": t0 + dt.timedelta(seconds=9), "text": "@alice plain"},
             {"platform": "twitter", "post_id": "p4", "account_id": "u3", "kind": "original",
              "created_at": t0 + dt.timedelta(days=1), "text": "just text", "like_count": 3}]
    s.load_arrow({"accounts": pa.Table.from_pylist(acc, schema=S.ACCOUNTS),
                  "posts": pa.Table.from_pylist(posts, schema=S.POSTS)})
    return s


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_posts_and_accounts_csv_are_spreadsheet_safe(tiny, tmp_path):
    files = export_study(tiny, "csv", tmp_path, tables="tweets,users")  # twarc2's names for posts and accounts
    assert sorted(f.name for f in files) == ["accounts.csv", "posts.csv"]  # no result table was asked for
    posts = {r["post_id"]: r for r in _read(tmp_path / "posts.csv")}
    assert len(posts) == 4
    # text cells that a spreadsheet would run get a leading quote; plain text and numbers are as stored
    assert posts["p1"]["text"] == "'=1+1 hello @bob" and posts["p2"]["text"] == "'+cmd"
    assert posts["p3"]["text"] == "'@alice plain" and posts["p4"]["text"] == "just text"
    assert posts["p4"]["like_count"] == "3" and posts["p1"]["mentions"] == '["bob"]'
    # the author's handle beside the id (twarc2 csv's author.username), times as ISO 8601 UTC
    assert posts["p2"]["handle"] == "bob" and posts["p2"]["created_at"] == "2021-01-01T00:00:05.000Z"
    acc = {r["account_id"]: r for r in _read(tmp_path / "accounts.csv")}
    assert acc["u1"]["display_name"] == "'" + PAYLOADS["formula"] and acc["u3"]["display_name"] == "'-Carol"


def test_posts_and_accounts_parquet_equal_the_study(tiny, tmp_path):
    export_study(tiny, "parquet", tmp_path, tables="results,posts,accounts")
    got = pq.read_table(tmp_path / "posts.parquet")
    want = tiny.engine.sql("SELECT * FROM posts")
    assert got.num_rows == 4 and got.drop_columns(["handle"]).sort_by("post_id").equals(want.sort_by("post_id"))
    assert pq.read_table(tmp_path / "accounts.parquet").num_rows == 3


def test_pseudonymised_posts_and_accounts(tiny, tmp_path):
    export_study(tiny, "csv,parquet", tmp_path, tables="posts,accounts", pseudonymise=True)
    p = Pseudonymiser(resolve_key(tiny.path))
    posts = {r["post_id"]: r for r in _read(tmp_path / "posts.csv")}
    assert set(posts) == {p.post(f"p{i}") for i in range(1, 5)}
    p1 = posts[p.post("p1")]
    assert p1["account_id"] == p.account("u1") and p1["handle"] == p.handle("alice")
    # mentions in text and in the mentions list get the handle's pseudonym; platform links are removed
    assert p1["text"] == "'=1+1 hello @" + p.handle("bob") and p1["mentions"] == json.dumps([p.handle("bob")])
    assert "[platform link removed]" in p1["urls"]
    text = (tmp_path / "posts.csv").read_text() + (tmp_path / "accounts.csv").read_text()
    for raw in ("alice", "bob", "carol", "u1", "HYPERLINK"):
        assert raw not in text, raw
    pp = pq.read_table(tmp_path / "posts.parquet").to_pylist()
    assert {r["ref_account_id"] for r in pp} == {None, p.account("u1")}


def test_bad_table_name(tiny, tmp_path, cli):
    with pytest.raises(ConfigError, match="--tables retweets: not a table"):
        export_study(tiny, "csv", tmp_path, tables="retweets")
    r = cli("export", tiny.path, "--to", "csv", "--tables", "posts", "-o", tmp_path / "c", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["files"] == [str(tmp_path / "c" / "posts.csv")]

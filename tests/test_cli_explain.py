"""``echoscope explain`` on two members of one cluster, with and without a direct edge, through the CLI.

The planted study is tests/test_findings.py's (the target @ambassador posts 12 statements two hours apart; 40
organic accounts repost at random), with the six bots' timing changed so that the cluster is not a clique:
bot ``b`` reposts every statement ``30 + OFFSETS[b]`` seconds after it. With ``--window 60`` two bots co-act
when their offsets differ by at most 60 s: every pair but (bot0, bot5), whose offsets differ by 70 s. So
``coordinate --behaviour co-retweet --window 60`` finds one cluster of the six bots (a clique minus one edge),
and @Bot_0 and @Bot_5 share no direct edge: the shortest path between them has two hops through one of bots
1-4, and each hop's 12 co-actions are that pair's reposts of the 12 statements, ``|offset_u - offset_v|``
seconds apart. A second run with ``--window 90`` ties every pair (the clique), so the two runs side by side
answer differently.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pytest

from .test_findings import N_BOTS, N_STATEMENTS, T0, planted_tables

#: seconds after 30 s at which bot b reposts each statement (bot0 and bot5: 70 s apart, beyond a 60 s window)
OFFSETS = [0, 20, 25, 30, 35, 70]
HANDLES = {f"bot{b}": f"Bot_{b}" for b in range(N_BOTS)}
#: ids that must never reach a terminal: account ids, post ids, co-latency object ids
RAW_ID = re.compile(r"\b(bot\d|org\d+|rb\d+_\d|ro\d+_\d+|p\d+@\d+|p\d+)\b")


def chain_tables() -> dict[str, pa.Table]:
    tables = planted_tables()
    posts = tables["posts"].to_pylist()
    for p in posts:
        if p["post_id"].startswith("rb"):
            i, b = (int(x) for x in p["post_id"][2:].split("_"))
            p["created_at"] = T0 + dt.timedelta(seconds=i * 7200 + 30 + OFFSETS[b])
    tables["posts"] = pa.Table.from_pylist(posts, schema=tables["posts"].schema)
    return tables


def _coordinate(cli, path, window: int) -> str:
    r = cli("coordinate", path, "--behaviour", "co-retweet", "--window", str(window), "--reps", "20", "--quiet")
    assert r.exit_code == 0, r.stderr
    import echoscope

    return echoscope.open_study(path).manifest().runs("coordination")[-1]["id"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """The chain study with two coordination runs: ``first`` (window 60, no bot0-bot5 edge) and the latest
    (window 90, every pair tied)."""
    from typer.testing import CliRunner

    import echoscope
    from echoscope.cli import app

    s = echoscope.init_study(tmp_path_factory.mktemp("cli-explain") / "study")
    s.load_arrow(chain_tables())
    s.set_targets(pa.table({"account_id": ["target"], "handle": ["ambassador"], "group": ["diplomats"],
                            "label": pa.array([None], pa.string())}))
    runner = CliRunner()

    def cli(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    first = _coordinate(cli, s.path, 60)
    latest = _coordinate(cli, s.path, 90)
    return {"study": s, "first": first, "latest": latest}


def test_explain_two_members_without_a_direct_edge_gives_the_path_and_its_evidence(cli, chain):
    r = cli("explain", chain["study"].path, "@Bot_0", "@bot_5", "--run", chain["first"], "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    # the kept keys, ids as before, handles beside them
    assert {"account_a", "account_b", "edges", "evidence", "cluster"} <= set(doc)
    assert (doc["account_a"], doc["account_b"], doc["handle_a"], doc["handle_b"]) == ("bot0", "bot5", "Bot_0", "Bot_5")
    assert doc["cluster"] == 1 and doc["cluster_summary"]["size"] == N_BOTS
    # 70 s apart with a 60 s window: no co-action, no edge, no evidence of their own
    assert doc["edges"] == [] and doc["evidence"] == [] and doc["direct"] is False
    path = [p["account_id"] for p in doc["path"]]
    assert len(path) == 3 and path[0] == "bot0" and path[-1] == "bot5" and path[1] in {"bot1", "bot2", "bot3", "bot4"}
    assert [p["handle"] for p in doc["path"]] == [HANDLES[a] for a in path]
    assert len(doc["hops"]) == 2
    for hop in doc["hops"]:
        u, v = int(hop["account_a"][3:]), int(hop["account_b"][3:])
        assert hop["edge"]["behaviour"] == "co-retweet" and hop["edge"]["significant"] is True
        assert hop["edge"]["n_objects"] == N_STATEMENTS
        assert hop["evidence_total"] == N_STATEMENTS and hop["note"] is None
        # every co-action: both reposted one of the target's statements, |offset_u - offset_v| seconds apart
        assert {e["gap_s"] for e in hop["evidence"]} == {float(abs(OFFSETS[u] - OFFSETS[v]))}
        assert {e["post_author_handle"] for e in hop["evidence"]} == {"ambassador"}
        assert all(e["post_text"].startswith("statement ") for e in hop["evidence"])
        e = hop["evidence"][0]
        assert e["time_a"] and e["time_b"] and e["handle_a"] in HANDLES.values()
        assert re.fullmatch(r"\d\.\de[-+]\d+|< 1e-300", hop["edge"]["p_value_text"])


def test_explain_terminal_reads_handles_words_and_no_raw_ids(cli, chain):
    r = cli("explain", chain["study"].path, "@Bot_0", "@Bot_5", "--run", chain["first"], "--limit", "2")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "share no direct edge" in out and "2 hops" in out
    assert re.search(r"@Bot_0 -> @Bot_[1-4] -> @Bot_5", out)
    assert "hop 1 of 2" in out and "hop 2 of 2" in out and "judged coordinated" in out
    # evidence in words: the post, its author, both times, the gap in seconds
    assert 'reposted a post by @ambassador ("statement' in out and "UTC" in out
    assert re.search(r"\b(20|25|30|35|45|50) s apart\b", out)
    assert not RAW_ID.search(out), RAW_ID.search(out)
    # p-values in scientific notation, never a bare 0
    assert not re.search(r"p(-value)? =? ?0(\.0+)?[,; \n]", out)
    assert re.search(r"p = (\d\.\de[-+]\d+|< 1e-300)", out)


def test_explain_direct_edge_and_runs_side_by_side(cli, chain):
    # the latest run (window 90) ties bot0 and bot5 directly: 12 co-reposts 70 s apart
    r = cli("explain", chain["study"].path, "@Bot_0", "@Bot_5", "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["run"]["run_id"] == chain["latest"] and doc["direct"] is True
    assert [e["behaviour"] for e in doc["edges"]] == ["co-retweet"] and doc["evidence_total"] == N_STATEMENTS
    assert {e["gap_s"] for e in doc["evidence"]} == {70.0}
    assert [p["account_id"] for p in doc["path"]] == ["bot0", "bot5"]
    r = cli("explain", chain["study"].path, "@Bot_0", "@Bot_5", "--limit", "1")
    assert r.exit_code == 0 and "share a direct edge" in r.stdout and "70 s apart" in r.stdout
    assert "co-retweet: @Bot_0 - @Bot_5: 12 object(s) together" in r.stdout
    assert not RAW_ID.search(r.stdout)


def test_explain_errors_are_one_line(cli, chain):
    r = cli("explain", chain["study"].path, "@nobody", "@Bot_1")
    assert r.exit_code != 0 and "no account with handle '@nobody'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = cli("explain", chain["study"].path, "@Bot_0", "bot0")
    assert r.exit_code != 0 and "the same account" in r.stderr
    r = cli("explain", chain["study"].path, "@Bot_0", "@Bot_1", "--run", "c-nope")
    assert r.exit_code != 0 and "no stored run" in r.stderr and chain["first"] in r.stderr


def test_explain_accounts_in_no_shared_cluster(cli, chain):
    # an organic account is in no cluster: said in words, no path, exit 0
    r = cli("explain", chain["study"].path, "@Bot_0", "@org_1", "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["cluster"] is None and doc["path"] is None and doc["hops"] == []
    assert doc["clusters"] == {"bot0": [1], "org1": []}
    r = cli("explain", chain["study"].path, "@Bot_0", "@org_1")
    assert r.exit_code == 0 and "not in one cluster" in r.stdout and "@Bot_0 in cluster 1" in r.stdout


def test_hop_without_stored_evidence_says_so(chain, tmp_path):
    # a member without stored evidence (the coordination stage kept none for it, as older runs did for some
    # members): the path still joins it, and its hop says so instead of failing. A copy of the study gets the
    # first run's tables again without any evidence row of bot0; the path then goes over edges without evidence
    # (bot0 - bot1, the smallest id among equally heavy judged ties) and on from bot1 with evidence.
    import shutil

    import pyarrow.compute as pc

    import echoscope
    from echoscope import findings as F
    from echoscope.engine import Engine
    from echoscope.findings.explain import NO_EVIDENCE

    shutil.copytree(chain["study"].path, tmp_path / "copy")
    s = echoscope.open_study(tmp_path / "copy")
    e = Engine(s, runs=F.run_selection(s, chain["first"]))
    tables = {t: e.sql(f"SELECT * FROM {t}") for t in ("coord_edges", "coord_clusters", "coord_members",
                                                       "coord_evidence")}
    ev = tables["coord_evidence"]
    tables["coord_evidence"] = ev.filter(pc.invert(pc.or_(pc.equal(ev["account_a"], "bot0"),
                                                          pc.equal(ev["account_b"], "bot0"))))
    s.write_results(tables, meta={"summary": {"network": "co-retweet"}}, analysis="coordination", run_id="c-no-ev")
    doc = F.explain(Engine(s), "@Bot_0", "@Bot_5")
    assert [p["account_id"] for p in doc["path"]] == ["bot0", "bot1", "bot5"]
    assert doc["hops"][0]["evidence_total"] == 0 and doc["hops"][0]["note"] == NO_EVIDENCE
    assert doc["hops"][1]["evidence_total"] == N_STATEMENTS
    from typer.testing import CliRunner

    from echoscope.cli import app

    r = CliRunner().invoke(app, ["explain", str(s.path), "@Bot_0", "@Bot_5"], catch_exceptions=False)
    assert r.exit_code == 0 and "no stored evidence for this pair" in r.stdout


def test_coordinate_table_lists_member_handles_and_p_values_in_words(cli, chain, tmp_path):
    import shutil

    shutil.copytree(chain["study"].path, tmp_path / "copy")
    r = cli("coordinate", tmp_path / "copy", "--behaviour", "co-retweet", "--window", "60", "--reps", "20", "--quiet")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    # the five strongest members by handle (bots 1-4 have degree 5, bots 0 and 5 degree 4), "and 1 more"
    # (the table may wrap the cell at the terminal's width)
    assert len(set(re.findall(r"@Bot_\d", out))) == 5 and "1 more" in out
    assert "@ambassador (72)" in out and "50%" in out
    assert not RAW_ID.search(out), RAW_ID.search(out)
    assert re.search(r"\b\d\.\de-\d+\b|< 1e-300", out)
    # --json keeps the ids (accounts) and adds members with handles and the p-value as text
    r = cli("coordinate", tmp_path / "copy", "--behaviour", "co-retweet", "--window", "60", "--reps", "20", "--json")
    c = json.loads(r.stdout)["clusters"][0]
    assert c["accounts"] == sorted(HANDLES) and {m["handle"] for m in c["members"]} == set(HANDLES.values())
    assert c["p_value_text"] != "0" and re.fullmatch(r"\d\.\de-\d+|< 1e-300", c["p_value_text"])


def test_format_p_and_gap_never_zero_or_hours():
    from echoscope.findings import format_gap, format_p

    assert format_p(0.0) == "< 1e-300" and format_p(5.5e-210) == "5.5e-210" and format_p(0.301) == "3.0e-01"
    # gaps always in seconds (a shared-ip "gap" of 43.5 hours read "43.5 h")
    assert format_gap(3) == "3 s" and format_gap(156600) == "156,600 s" and format_gap(-4.4) == "4 s"


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_demo_study_explain_two_untied_members_and_list_runs(cli, demo_run):
    # the demo study (simulated: 10,000 accounts, campaigns with shared infrastructure; ~40-60 s to build): its
    # largest coordinated cluster is a community, not a clique, so two of its members are found that share no
    # edge on the clustered network; explain joins them by a path of the cluster's edges, in handles
    import echoscope
    from echoscope.engine import Engine

    out, _ = demo_run
    path = out / "demo-study"
    e = Engine(echoscope.open_study(path))
    net = e.scalar("SELECT behaviour FROM coord_edges WHERE behaviour = 'fused' LIMIT 1") or "co-retweet"
    pair = e.rows("""WITH c AS (SELECT cluster_id FROM coord_clusters WHERE coordinated
                                ORDER BY size DESC, cluster_id LIMIT 1),
            m AS (SELECT account_id FROM coord_members WHERE cluster_id IN (SELECT cluster_id FROM c))
        SELECT a.account_id AS a, b.account_id AS b FROM m a, m b WHERE a.account_id < b.account_id
          AND NOT EXISTS (SELECT 1 FROM coord_edges x WHERE x.behaviour = ?
              AND ((x.account_a = a.account_id AND x.account_b = b.account_id)
                OR (x.account_a = b.account_id AND x.account_b = a.account_id)))
        ORDER BY 1, 2 LIMIT 1""", [net])
    assert pair, "the largest demo cluster is a clique: no untied pair to explain"
    a, b = pair[0]["a"], pair[0]["b"]
    doc = json.loads(cli("explain", path, a, b, "--json").stdout)
    assert doc["direct"] is False and doc["cluster"] is not None and doc["path"] is not None
    ids = [p["account_id"] for p in doc["path"]]
    assert len(ids) >= 3 and ids[0] == a and ids[-1] == b
    assert all(h["edge"] is not None for h in doc["hops"])
    handles = [p["handle"] for p in doc["path"]]
    assert all(handles)
    r = cli("explain", path, "@" + handles[0], "@" + handles[-1], "--limit", "3")
    assert r.exit_code == 0, r.stderr
    assert "share no direct edge" in r.stdout and f"@{handles[1]}" in r.stdout
    assert not any(re.search(rf"\b{re.escape(i)}\b", r.stdout) for i in ids)  # handles, never the ids
    assert not re.search(r"p = 0[,; ]|p-value 0\b", r.stdout) and not re.search(r"\d h\b", r.stdout)
    # the demo's runs side by side: one coordinate, one score and one measure run, each the latest
    runs = json.loads(cli("runs", path, "--json").stdout)
    assert {x["analysis"] for x in runs["runs"]} >= {"coordination", "accounts", "measures"}
    assert set(runs["latest"]) >= {"coordination", "accounts", "measures"}
    assert all(x["latest"] == (x["run_id"] in runs["latest"].values()) for x in runs["runs"])

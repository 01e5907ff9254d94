"""``echoscope runs``: stored runs side by side, ``--run ID`` on the findings commands, and pruning.

The study is tests/test_cli_explain.py's chain study (six bots repost @ambassador's 12 statements 30 +
OFFSETS[b] seconds after each, bot0 and bot5 70 s apart; 40 organic accounts). Three ``coordinate --behaviour
co-retweet`` runs with windows 60, 90 and 120 s: each finds one coordinated cluster of the six bots; with 60 s
@Bot_0 and @Bot_5 share no edge (two hops apart), with 90 and 120 s they do. Two hand-made score runs
(``store_result`` of an ``accounts`` result) show that pruning keeps N per analysis.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from .test_cli_explain import chain_tables
from .test_findings import N_BOTS

WINDOWS = (60, 90, 120)


def _score_run(study, high: int) -> str:
    from echoscope.engine.analysis import AnalysisResult, store_result

    scores = pa.table({"account_id": [f"bot{b}" for b in range(N_BOTS)], "score": [0.9] * N_BOTS,
                       "high_risk": [b < high for b in range(N_BOTS)]})
    signals = pa.table({"account_id": ["bot0"], "signal": ["followers"], "value": [3.0], "text": ["3 followers"]})
    summary = {"accounts": N_BOTS, "high_risk": high, "high_risk_threshold": 0.7, "mode": "rules",
               "parameters": {"mode": "rules", "high_risk_threshold": 0.7}}
    return store_result(study, AnalysisResult("accounts", {"account_signals": signals, "account_scores": scores},
                                              summary))


@pytest.fixture
def study(tmp_path, cli):
    import echoscope

    s = echoscope.init_study(tmp_path / "study")
    s.load_arrow(chain_tables())
    s.set_targets(pa.table({"account_id": ["target"], "handle": ["ambassador"], "group": ["diplomats"],
                            "label": pa.array([None], pa.string())}))
    ids = []
    for w in WINDOWS:
        r = cli("coordinate", s.path, "--behaviour", "co-retweet", "--window", str(w), "--reps", "20", "--quiet")
        assert r.exit_code == 0, r.stderr
        ids.append(s.manifest().runs("coordination")[-1]["id"])
    scores = [_score_run(s, 2), _score_run(s, 4)]
    return {"study": s, "coord": ids, "scores": scores}


def test_runs_lists_every_run_newest_first_with_parameters_counts_and_latest(cli, study):
    r = cli("runs", study["study"].path, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    ids = [x["run_id"] for x in doc["runs"]]
    assert ids == (study["coord"] + study["scores"])[::-1]  # newest first
    assert doc["latest"] == {"coordination": study["coord"][-1], "accounts": study["scores"][-1]}
    by = {x["run_id"]: x for x in doc["runs"]}
    assert [by[i]["latest"] for i in study["coord"]] == [False, False, True]
    assert [by[i]["parameters"]["window"] for i in study["coord"]] == list(map(float, WINDOWS))
    first = by[study["coord"][0]]
    # the six bots: one coordinated cluster of 6 accounts (co-retweet network) in the 60 s run
    assert first["counts"]["coordinated_clusters"] == 1 and first["counts"]["flagged_accounts"] == N_BOTS
    assert first["headline"].startswith("1 coordinated cluster(s), 6 account(s)")
    assert "window 60" in first["parameters_text"] and first["tables"]["coord_members"] == N_BOTS
    assert by[study["scores"][0]]["headline"] == "2 of 6 accounts at high risk (score >= 0.7)"
    r = cli("runs", study["study"].path)
    assert r.exit_code == 0 and study["coord"][0] in r.stdout and "window 90" in r.stdout
    assert "latest" in r.stdout and "4 of 6 accounts at high risk" in r.stdout


def test_earlier_runs_stay_readable_with_run(cli, study):
    s, (w60, w90, w120) = study["study"].path, study["coord"]
    # the 60 s run: bot0 and bot5 (70 s apart) are two hops apart, through one of bots 1-4
    r = cli("explain", s, "@Bot_0", "@Bot_5", "--run", w60, "--json")
    doc = json.loads(r.stdout)
    assert r.exit_code == 0 and doc["run"]["run_id"] == w60 and doc["direct"] is False
    assert len(doc["path"]) == 3 and doc["path"][1]["handle"] in {"Bot_1", "Bot_2", "Bot_3", "Bot_4"}
    # the latest (120 s) and the 90 s run tie them directly
    doc = json.loads(cli("explain", s, "@Bot_0", "@Bot_5", "--json").stdout)
    assert doc["run"]["run_id"] == w120 and doc["direct"] is True
    assert json.loads(cli("explain", s, "@Bot_0", "@Bot_5", "--run", w90, "--json").stdout)["direct"] is True
    for args in (("clusters", s, "--json"), ("account", s, "@Bot_0", "--json")):
        r = cli(*args, "--run", w60)
        assert r.exit_code == 0, r.stderr
        doc = json.loads(r.stdout)
        run = doc.get("run") or doc.get("runs", {}).get("coordination")
        assert w60 in json.dumps(run)


def test_prune_keeps_n_per_analysis_never_the_latest_and_deletes_only_unreferenced_parts(cli, study):
    s = study["study"]
    before = s.manifest()
    parts = {r["id"]: [p for t in r["tables"].values() for p in t["parts"]] for r in before.runs()}
    # the default keeps 5 per analysis: 3 coordination runs and 2 score runs all stay
    r = cli("runs", s.path, "--prune", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["pruned"] == [] and len(s.manifest().runs()) == 5
    # keep 2: the oldest coordination run goes (3 > 2), both score runs stay
    r = cli("runs", s.path, "--prune", "--keep", "2", "--dry-run", "--json")
    assert json.loads(r.stdout)["pruned"] == study["coord"][:1]
    r = cli("runs", s.path, "--prune", "--keep", "1", "--dry-run", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["pruned"] == study["coord"][:2] + study["scores"][:1]
    assert s.manifest().generation == before.generation  # a dry run changes nothing
    assert all((s.path / p).exists() for ps in parts.values() for p in ps)
    r = cli("runs", s.path, "--prune", "--keep", "1")
    assert r.exit_code == 0, r.stderr
    assert "pruned 3 run(s)" in r.stdout
    after = s.manifest()
    assert [x["id"] for x in after.runs()] == [study["coord"][-1], study["scores"][-1]]
    for rid, ps in parts.items():
        kept = rid in (study["coord"][-1], study["scores"][-1])
        # a pruned run's parts are gone; the kept runs' (also the latest tables) are all still there
        assert all((s.path / p).exists() == kept for p in ps), rid
    assert all((s.path / p).exists() for p in after.live_parts())
    # the latest still reads; a pruned run is an error listing the stored ones
    assert cli("clusters", s.path, "--json").exit_code == 0
    r = cli("clusters", s.path, "--run", study["coord"][0])
    assert r.exit_code != 0 and "no stored run" in r.stderr and study["coord"][-1] in r.stderr
    # --keep 0 still keeps the latest of each analysis
    r = cli("runs", s.path, "--prune", "--keep", "0")
    assert r.exit_code == 0 and "nothing to prune" in r.stdout
    assert len(s.manifest().runs()) == 2


def test_prune_leaves_parts_a_kept_table_still_uses(cli, study):
    # a part that a pruned run shares with a latest table (a result written by hand from an earlier run's
    # files) stays: only parts no kept run, latest table or canonical table refers to are deleted
    from echoscope.store import manifest as M

    s = study["study"]
    first = study["coord"][0]
    with s.lock():
        m = s.manifest()
        shared = m.run(first)["tables"]["coord_clusters"]["parts"]
        m.set_result("extra_clusters", shared, 1, analysis="extra")
        M.commit(s.path, m)
    r = cli("runs", s.path, "--prune", "--keep", "1", "--analysis", "coordination", "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["pruned"] == study["coord"][:2] and not set(shared) & set(res["deleted_parts"])
    assert all((s.path / p).exists() for p in shared)
    # the score runs were not asked about: both stay
    assert [x["id"] for x in s.manifest().runs("accounts")] == study["scores"]

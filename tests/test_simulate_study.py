"""The simulator written into a study: calibration figures computed with SQL from the study's tables, the
ground-truth result tables, and the ``simulate`` / ``demo`` commands.

Calibration targets (AP/OII figures, docs/simulator.md): with the defaults one target gets more than half of
its retweets from later-suspended accounts, about one target retweet in ten comes from such accounts, and
the top 1% of amplifiers make roughly half of the retweets. They must emerge from the data; nothing in the
simulator writes them in.
"""

from __future__ import annotations

import json

import pytest

import echoscope
from echoscope.simulate import make_config, simulate, write

SUSPENDED = "(SELECT DISTINCT account_id FROM account_status WHERE status = 'suspended')"
TARGET_RT = ("(SELECT e.* FROM engagements e JOIN targets t ON e.subject_account_id = t.account_id "
             "WHERE e.kind = 'repost')")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "study"
    write(simulate(make_config(accounts=20_000, engagements=200_000, seed=4)), out, "study")
    return echoscope.open_study(out)


def val(study, sql):
    return study.sql(sql).to_pylist()[0]


@pytest.mark.slow
def test_calibration_emerges_from_the_data(study):
    overall = val(study, f"SELECT avg(CASE WHEN actor_id IN {SUSPENDED} THEN 1.0 ELSE 0 END) AS s FROM {TARGET_RT}")
    assert 0.07 <= overall["s"] <= 0.14  # "more than one in ten" retweets of the diplomats
    best = val(study, f"""SELECT subject_account_id, count(*) n,
        avg(CASE WHEN actor_id IN {SUSPENDED} THEN 1.0 ELSE 0 END) AS s FROM {TARGET_RT}
        GROUP BY 1 HAVING count(*) >= 100 ORDER BY s DESC LIMIT 1""")
    assert best["s"] > 0.5  # the ambassador to the UK: more than half
    handle = val(study, f"SELECT handle FROM targets WHERE account_id = '{best['subject_account_id']}'")
    assert handle["handle"] == "AmbassadorUK"
    top = val(study, f"""WITH a AS (SELECT actor_id, count(*) n FROM {TARGET_RT} GROUP BY 1),
        r AS (SELECT n, row_number() OVER (ORDER BY n DESC) k, count(*) OVER () m FROM a)
        SELECT sum(CASE WHEN k <= ceil(m * 0.01) THEN n ELSE 0 END) * 1.0 / sum(n) AS s FROM r""")
    assert 0.35 <= top["s"] <= 0.65  # "the top 1% made nearly half of all retweets"


@pytest.mark.slow
def test_study_tables_targets_and_truth(study):
    info = study.info()
    assert info["tables"]["engagements"]["rows"] == 200_000
    assert info["tables"]["truth_engagements"]["rows"] == 200_000
    assert info["tables"]["truth_accounts"]["rows"] == 20_000
    assert info["reconciled"]
    groups = {r["group"] for r in study.sql('SELECT DISTINCT "group" FROM targets').to_pylist()}
    assert groups == {"diplomats", "state media"}
    # every target resolves to an account, every engagement has its truth row
    assert val(study, "SELECT count(*) n FROM targets WHERE account_id IS NULL")["n"] == 0
    assert val(study, """SELECT count(*) n FROM engagements e LEFT JOIN truth_engagements t USING (engagement_id)
                         WHERE t.engagement_id IS NULL""")["n"] == 0
    meta = study.manifest().results()["truth_accounts"]["meta"]
    assert meta["config"]["seed"] == 4 and meta["generator"] == "echoscope.simulate"


def test_cli_simulate_csv_json(cli, tmp_path):
    out = tmp_path / "files"
    r = cli("simulate", out, "--accounts", "3000", "--engagements", "15000", "--seed", "3", "--format", "csv",
            "--campaign", "superspreaders", "--campaign", "copypaste", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["campaigns"] == ["superspreaders", "copypaste"]
    assert doc["stats"]["engagements"] == 15_000
    names = {p.name for p in out.iterdir()}
    assert {"posts.csv", "accounts.csv", "account_status.csv", "logins.csv", "truth_accounts.csv",
            "truth_engagements.csv", "targets.csv"} <= names


def test_cli_simulate_errors(cli, tmp_path):
    r = cli("simulate", tmp_path / "x", "--campaign", "nope")
    assert r.exit_code == 2 and "unknown campaign" in r.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    r = cli("simulate", tmp_path / "full", "--accounts", "2000", "--engagements", "10000", "--format", "csv")
    assert r.exit_code != 0 and "not empty" in r.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_cli_demo(cli, tmp_path):
    out = tmp_path / "demo-study"  # the default study directory under --out
    echoscope.init_study(out)  # an existing study is replaced by the demo's
    r = cli("demo", "--out", tmp_path, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    # the per-target table is the stored amplification_summary: @AmbassadorUK first, with more than half of its
    # reposts from later-suspended accounts (the calibration above)
    assert doc["targets"][0]["handle"] == "AmbassadorUK"
    assert doc["targets"][0]["share_suspended_reposts"] > 0.5
    assert any("later-suspended" in s for s in doc["findings"])
    assert doc["timings"]["total"] < 120  # < 1 min on an idle machine; the suite shares two cores
    s = echoscope.open_study(out)
    assert s.rows("truth_accounts") == 10_000
    # every analysis ran with its defaults and stored its results under a run id; the report is next to the study
    assert [a["analysis"] for a in doc["analyses"]] == ["coordination", "accounts", "measures"]
    assert all(a["run_id"] for a in doc["analyses"])
    assert {a["run_id"] for a in doc["analyses"]} == {r["id"] for r in s.manifest().runs()}
    tables = set(s.info()["tables"])
    assert {"coord_edges", "account_scores", "amplification_summary", "amplification_latency"} <= tables
    assert (tmp_path / "report.html").stat().st_size > 10_000
    # the stored results are compared with the planted campaigns (precision and recall)
    assert any(t.startswith("Ground truth, coordinated clusters:") for t in doc["truth"]["sentences"])
    assert doc["truth"]["checks"]["coordination"]["precision"] > 0.9


def test_demo_refuses_a_directory_that_is_not_a_study(cli, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    r = cli("demo", "--out", tmp_path, "--study", other)
    assert r.exit_code == 2 and "not an echoscope study" in r.stderr
    assert (other / "notes.txt").read_text() == "x"

"""The account score as an analysis: one shape (run -> ScoreResult), one commit with a run id, one high-risk line.

The scenario is tests/test_accounts.py's: 19 accounts, the six campaign accounts c0..c5 score above 0.95, dorm1
0.6, tz1 and the target 0.5 and every other account below 0.2 (worked out there), so any line between 0.6 and 0.95
puts exactly 6 at high risk.
"""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from echoscope.accounts import (
    FLAG_THRESHOLD,
    HIGH_RISK_THRESHOLD,
    ScoreParams,
    ScoreResult,
    headline,
    run,
    score_study,
    stored_summary,
)
from echoscope.accounts.risk import exempt_kinds
from echoscope.engine import Engine
from echoscope.engine.analysis import AnalysisResult
from echoscope.errors import ConfigError
from echoscope.settings import STAGE_MEMORY
from echoscope.store.study import open_store

from .test_accounts import CAMPAIGN, build


@pytest.fixture
def scenario(study):
    build(study)
    return study


def test_one_line_one_constant():
    # the line every output uses; the old name is the same line (old imports keep working). 0.65 since issue 16:
    # chosen from the rates measured on the realistic simulator (echoscope.accounts.risk.EXPECTED_ERROR_RATES)
    assert HIGH_RISK_THRESHOLD == 0.65 and FLAG_THRESHOLD == HIGH_RISK_THRESHOLD
    from echoscope.accounts.score import FLAG_THRESHOLD as old_name

    assert old_name == HIGH_RISK_THRESHOLD


def test_headline_wording():
    assert headline({"accounts": 10_000, "high_risk": 148, "high_risk_threshold": 0.7}) == \
        "148 of 10,000 accounts at high risk (score >= 0.7)"
    assert headline({"accounts": 1, "high_risk": 0, "high_risk_threshold": 0.65}) == \
        "0 of 1 account at high risk (score >= 0.65)"
    with pytest.raises(ConfigError, match="rerun 'echoscope score'"):
        headline({"accounts": 3})  # a summary from before the line


def test_run_has_the_analysis_shape_and_stores_one_run(scenario):
    gen = scenario.manifest().generation
    res = run(scenario)
    assert isinstance(res, ScoreResult) and isinstance(res, AnalysisResult)
    assert res.analysis == "accounts" and set(res.tables) == {"account_signals", "account_scores"}
    # the old attributes are the same tables
    assert res.scores is res.tables["account_scores"] and res.signals is res.tables["account_signals"]
    s = res.summary
    assert s["mode"] == "rules" and s["accounts"] == 19 and s["high_risk"] == 6
    assert s["high_risk_threshold"] == HIGH_RISK_THRESHOLD
    assert s["parameters"]["high_risk_threshold"] == HIGH_RISK_THRESHOLD and s["parameters"]["mode"] == "rules"
    # one atomic commit: the generation moves by one, one run is recorded with both tables
    m = scenario.manifest()
    assert m.generation == gen + 1
    runs = m.runs("accounts")
    assert len(runs) == 1 and runs[0]["id"] == res.run_id and res.run_id.startswith("s-")
    assert set(runs[0]["tables"]) == {"account_signals", "account_scores"}
    assert runs[0]["summary"]["high_risk"] == 6 and runs[0]["parameters"]["high_risk_threshold"] == 0.65
    assert m.result("account_scores")["run"] == m.result("account_signals")["run"] == res.run_id
    # the stored summary is what the demo and the report word with headline()
    assert headline(stored_summary(scenario)) == res.headline() == "6 of 19 accounts at high risk (score >= 0.65)"
    # a second run is a second run id
    res2 = run(scenario)
    assert [r["id"] for r in scenario.manifest().runs("accounts")] == [res.run_id, res2.run_id]


def test_high_risk_column_is_score_at_or_above_the_line(scenario):
    # high risk = score at or above the line, except the kinds kept off the list: here the target itself (the
    # study's own subject, never its own amplifier), so a line of 0 lists 18 of the 19 accounts
    for line, expected in ((HIGH_RISK_THRESHOLD, 6), (0.0, 18), (1.0, 0)):
        res = run(scenario, ScoreParams(high_risk_threshold=line))
        sc = res.scores
        kept_off = [k in exempt_kinds(True) for k in sc.column("kind").to_pylist()]
        assert sc.column("kind").to_pylist().count("target") == 1
        assert sc.column("high_risk").to_pylist() == [
            s and not off for s, off in zip(pc.greater_equal(sc["score"], line).to_pylist(), kept_off)]
        assert res.summary["high_risk"] == expected and res.summary["high_risk_threshold"] == line
        # the stored table carries the same column
        stored = scenario.engine.rows("SELECT count(*) FILTER (WHERE high_risk) AS k, "
                                      "count(*) FILTER (WHERE high_risk <> (score >= $1 AND kind <> 'target')) AS bad "
                                      "FROM account_scores", [line])[0]
        assert stored == {"k": expected, "bad": 0}
    assert {r["account_id"] for r in run(scenario).scores.filter(pc.field("high_risk")).to_pylist()} == set(CAMPAIGN)
    with pytest.raises(ConfigError, match="outside \\[0, 1\\]"):
        run(scenario, ScoreParams(high_risk_threshold=1.5))


def test_cli_high_risk_threshold_is_stored_with_the_run(scenario, cli):
    r = cli("score", scenario.path, "--high-risk-threshold", "0.1", "--top", "3")
    assert r.exit_code == 0, r.stderr
    # the count printed is the stored summary's, which is the stored column's (organic accounts between 0.1 and
    # 0.2 join the six campaign accounts)
    summary = stored_summary(scenario)
    assert summary is not None and summary["high_risk_threshold"] == 0.1
    k = scenario.engine.scalar("SELECT count(*) FROM account_scores WHERE high_risk")
    assert summary["high_risk"] == k >= 6
    assert r.stdout.startswith(f"{k} of 19 accounts at high risk (score >= 0.1)")
    assert scenario.manifest().runs("accounts")[-1]["parameters"]["high_risk_threshold"] == 0.1
    bad = cli("score", scenario.path, "--high-risk-threshold", "2")
    assert bad.exit_code == 2 and "--high-risk-threshold 2.0 is outside [0, 1]" in bad.stderr


def test_run_on_the_store_alone_with_its_engine_and_the_accounts_memory_limit(scenario):
    # library code takes a StudyStore and an Engine: no facade method is needed
    store = open_store(scenario.path)
    eng = Engine(store)
    seen: dict[str, str] = {}

    def progress(event: dict) -> None:
        seen[event["message"]] = eng.scalar("SELECT current_setting('memory_limit')")

    res = run(store, engine=eng, progress=progress)
    assert res.summary["high_risk"] == 6
    probe = Engine(store)
    probe.raw.execute(f"SET memory_limit='{STAGE_MEMORY['accounts']}'")
    accounts_limit = probe.scalar("SELECT current_setting('memory_limit')")
    probe.close()
    # while it computes, the engine's connection carries the accounts stage's memory limit; the query limit is
    # back when the tables are written
    writing = seen.pop("writing results")
    assert len(seen) > 20 and set(seen.values()) == {accounts_limit} and writing != accounts_limit
    # the given engine is left open and sees the new tables; the temporary tables are gone
    assert eng.scalar("SELECT count(*) FROM account_scores WHERE high_risk") == 6
    assert not eng.rows("SELECT table_name FROM information_schema.tables WHERE table_name LIKE '\\_es\\_%' "
                        "ESCAPE '\\'")
    eng.close()


def test_score_study_is_a_thin_wrapper(scenario):
    res = score_study(scenario, write=False, high_risk_threshold=0.9)
    assert res.run_id is None and res.summary["high_risk_threshold"] == 0.9 and res.summary["high_risk"] == 6
    assert scenario.manifest().runs("accounts") == []  # write=False stores nothing
    assert res.meta is res.summary  # the older name

"""The measures' shared analysis shape and the columns the console, demo and report read instead of recomputing.

Hand-computed on the fixture of ``measures_fixture.py`` (timeline in its docstring; per-amplifier figures in
test_measures.py's docstring). The amplifiers, with their latest status and engagements::

    amplifier  status (latest)   engagements                              reposts among them
    a1         suspended         5: p1 +5, p2 +3, p3 +2, p4 +4, p5 +6     5
    a2         suspended         3: p1 +8, p2 +9, p3 quote +70            2
    a3         active            2: p1 +100, p4 like +50                  1
    a4         active            1: p2 reply +30                          0
    a5         deleted           1: p3 +20                                1
    a6         never checked     1: p1 like +400                          0
    a7         'unknown'         1: p5 +1000                              1

Week 2021-01-04 holds p1, p2, p4 (9 engagements); week 2021-01-11 holds p3, p5 (5 engagements).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from measures_fixture import make_study

import echoscope
from echoscope import schema as S
from echoscope.engine import Engine
from echoscope.engine.analysis import AnalysisResult
from echoscope.errors import ConfigError
from echoscope.measures import (
    LATENCY_EDGES,
    RESULT_TABLES,
    MeasuresResult,
    Params,
    headline,
    measures,
    run,
)
from echoscope.settings import resolve_settings
from echoscope.store.targets import add_targets

W1, W2 = dt.date(2021, 1, 4), dt.date(2021, 1, 11)


def row(rows: list[dict], scope: str, target: str | None = None, group: str | None = None,
        week: dt.date | None = None) -> dict:
    found = [r for r in rows if r["scope"] == scope and r["target"] == target and r["group"] == group
             and r["week"] == week]
    assert len(found) == 1, (scope, target, group, week, found)
    return found[0]


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> echoscope.Study:
    """The fixture without coordination or score results."""
    return make_study(tmp_path_factory.mktemp("run") / "plain")


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> echoscope.Study:
    """The fixture with a1 and a3 coordinated, and a score whose own high-risk line marks a4, a5 and a6.

    a5's score (0.2) is below any usual threshold and a3's (0.95) above it: the stored ``high_risk`` column,
    not the score, decides unless --risk-threshold is given. a6 has a null high_risk (counts as false) in one
    row and true in another (any true row marks the account).
    """
    s = make_study(tmp_path_factory.mktemp("run") / "flagged")
    s.write_result("coord_members", pa.table({"cluster_id": ["c1", "c1"], "account_id": ["a1", "a3"]}))
    s.write_result("account_scores", pa.table({
        "account_id": ["a3", "a4", "a5", "a6", "a6"],
        "score": [0.95, 0.5, 0.2, 0.6, 0.6],
        "high_risk": pa.array([False, True, True, None, True], pa.bool_())}))
    return s


# ------------------------------------------------------------------------------------------ the new columns
def test_class_counts_without_flag_results(plain: echoscope.Study) -> None:
    rows = run(plain, write=False).to_arrow("summary").to_pylist()
    r = row(rows, "study")
    # later suspended (suspended or deleted): a1 5 + a2 3 + a5 1 = 9 of 14 (the numerator of share_suspended)
    assert r["engagements_suspended"] == 9 and r["share_suspended"] == pytest.approx(9 / 14)
    # reposts of later-suspended amplifiers: a1 5 + a2 2 (its p3 engagement is a quote) + a5 1 = 8 of 10 reposts
    assert r["reposts_suspended"] == 8 and r["reposts"] == 10
    assert r["share_suspended_reposts"] == pytest.approx(8 / 10)
    # no coord_members / account_scores: flagged is unknown (null, like share_coordinated), organic = the rest
    assert r["engagements_flagged"] is None
    assert r["engagements_organic"] == 14 - 9
    # top 1% of 7 amplifiers = 1 account, a1 with 5 (the numerator of top_share)
    assert r["top_amplifiers"] == 1 and r["top_engagements"] == 5
    assert r["top_share"] == pytest.approx(5 / 14)
    silent = row(rows, "target", "t4", "state media")  # no engagements: counts are 0, never null
    assert (silent["engagements_suspended"], silent["reposts_suspended"], silent["engagements_organic"],
            silent["top_engagements"]) == (0, 0, 0, 0)


def test_class_counts_with_flag_results(flagged: echoscope.Study) -> None:
    rows = run(flagged, write=False).to_arrow("summary").to_pylist()
    r = row(rows, "study")
    # suspended class: a1 5 (coordinated, but suspended first), a2 3, a5 1 (high risk, but deleted) = 9;
    # flagged class: a3 2 (coordinated), a4 1 and a6 1 (high risk; a6 never checked) = 4; organic: a7's 1
    assert (r["engagements_suspended"], r["engagements_flagged"], r["engagements_organic"]) == (9, 4, 1)
    assert r["share_coordinated"] == pytest.approx(7 / 14)  # a1 5 + a3 2
    assert r["share_high_risk"] == pytest.approx(3 / 14)  # a4 1 + a5 1 + a6 1 (the high_risk column)
    t1 = row(rows, "target", "t1", "diplomats")
    # t1 (p1, p2, p3): a1 3 + a2 3 + a5 1 suspended; a3 1 + a4 1 + a6 1 flagged; nothing organic
    assert (t1["engagements"], t1["engagements_suspended"], t1["engagements_flagged"],
            t1["engagements_organic"]) == (10, 7, 3, 0)
    # t1's reposts: a1 3, a2 2, a3 1, a5 1 = 7, of which 6 from later-suspended accounts
    assert (t1["reposts"], t1["reposts_suspended"]) == (7, 6)
    # week 1 (p1, p2, p4): a1 3 + a2 2 suspended, a3 2 + a4 1 + a6 1 flagged; week 2 (p3, p5): a1 2 + a2 1 + a5 1
    # suspended, a7 1 organic. The top 1% is one account: a1 with 3 in week 1 and 2 in week 2
    w1, w2 = row(rows, "study", week=W1), row(rows, "study", week=W2)
    assert (w1["engagements_suspended"], w1["engagements_flagged"], w1["engagements_organic"]) == (5, 4, 0)
    assert (w2["engagements_suspended"], w2["engagements_flagged"], w2["engagements_organic"]) == (4, 0, 1)
    assert (w1["top_engagements"], w2["top_engagements"]) == (3, 2)
    # on every row the classes add up and the counts are the shares' numerators
    for x in rows:
        assert x["engagements_suspended"] + x["engagements_flagged"] + x["engagements_organic"] == x["engagements"]
        if x["engagements"]:
            assert x["engagements_suspended"] / x["engagements"] == pytest.approx(x["share_suspended"])
            assert x["top_engagements"] / x["engagements"] == pytest.approx(x["top_share"])
        if x["reposts"]:
            assert x["reposts_suspended"] / x["reposts"] == pytest.approx(x["share_suspended_reposts"])


# ------------------------------------------------------------------------------------------ high risk
def test_high_risk_reads_the_scores_own_line(flagged: echoscope.Study) -> None:
    res = run(flagged, Params(top=1.0), write=False)
    r = row(res.to_arrow().to_pylist(), "study")
    assert r["share_high_risk"] == pytest.approx(3 / 14)  # a4, a5, a6 by the column; a3's 0.95 does not count
    assert res.summary["high_risk_rule"] == "account_scores.high_risk (the score's own high-risk line)"
    ss = {x["actor_id"]: x["high_risk"] for x in res.to_arrow("superspreaders").to_pylist() if x["scope"] == "study"}
    assert ss == {"a1": False, "a2": False, "a3": False, "a4": True, "a5": True, "a6": True, "a7": False}


def test_risk_threshold_overrides_the_scores_line(flagged: echoscope.Study) -> None:
    res = run(flagged, Params(risk_threshold=0.9), write=False)
    r = row(res.to_arrow().to_pylist(), "study")
    # score >= 0.9: only a3 (2 engagements, active: flagged like before, as it is also coordinated)
    assert r["share_high_risk"] == pytest.approx(2 / 14)
    # flagged: a3 2 (coordinated and now high risk); a4, a6 are no longer high risk; a5 is suspended anyway
    assert r["engagements_flagged"] == 2 and r["engagements_organic"] == 14 - 9 - 2
    assert res.summary["high_risk_rule"] == "account_scores.score >= 0.9 (--risk-threshold)"
    assert res.summary["parameters"]["risk_threshold"] == 0.9


def test_scores_without_high_risk_column_fall_back_to_07(tmp_path: Path) -> None:
    s = make_study(tmp_path / "s")
    s.write_result("account_scores", pa.table({"account_id": ["a3", "a4", "a5"], "score": [0.7, 0.69, 0.9]}))
    res = run(s, write=False)
    # score >= 0.7: a3 (2, active -> flagged) and a5 (1, deleted -> suspended class); a4 at 0.69 is not
    r = row(res.to_arrow().to_pylist(), "study")
    assert r["share_high_risk"] == pytest.approx(3 / 14)
    assert r["engagements_flagged"] == 2
    assert res.summary["high_risk_rule"] == \
        "account_scores.score >= 0.7 (account_scores stored without a high_risk column)"
    # the explicit threshold still overrides: score >= 0.5 adds a4
    assert row(run(s, Params(risk_threshold=0.5), write=False).to_arrow().to_pylist(),
               "study")["share_high_risk"] == pytest.approx(4 / 14)


def test_risk_threshold_without_a_score_column_is_an_error(tmp_path: Path) -> None:
    s = make_study(tmp_path / "s")
    s.write_result("account_scores", pa.table({"account_id": ["a3"], "high_risk": [True]}))
    assert row(run(s, write=False).to_arrow().to_pylist(), "study")["share_high_risk"] == pytest.approx(2 / 14)
    with pytest.raises(ConfigError, match="--risk-threshold 0.5 needs a 'score' column"):
        run(s, Params(risk_threshold=0.5), write=False)


def test_cli_risk_threshold_default_reads_the_column(flagged: echoscope.Study) -> None:
    from echoscope.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["measure", str(flagged.path), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["parameters"]["risk_threshold"] is None
    study = [x for x in doc["rows"] if x["scope"] == "study" and x["week"] is None][0]
    assert study["share_high_risk"] == pytest.approx(3 / 14)
    res = runner.invoke(app, ["measure", str(flagged.path), "--json", "--risk-threshold", "0.9"])
    study = [x for x in json.loads(res.stdout)["rows"] if x["scope"] == "study" and x["week"] is None][0]
    assert study["share_high_risk"] == pytest.approx(2 / 14)


# ------------------------------------------------------------------------------------------ latency histogram
def test_latency_histogram_on_the_fixture(plain: echoscope.Study) -> None:
    t = run(plain, write=False).table("amplification_latency")
    assert t.column_names == ["scope", "target", "handle", "group", "bin", "bin_start_s", "bin_end_s",
                              "engagements"]
    # every bin of every whole-period scope: study, 2 groups, 4 targets (t4 silent) x 17 bins
    assert t.num_rows == 7 * len(LATENCY_EDGES) == 7 * 17
    rows = t.to_pylist()
    study = [r for r in rows if r["scope"] == "study"]
    assert [r["bin"] for r in study] == list(range(17))
    assert [r["bin_start_s"] for r in study] == [float(e) for e in LATENCY_EDGES]
    assert [r["bin_end_s"] for r in study] == [float(e) for e in LATENCY_EDGES[1:]] + [None]
    # latencies 2,3,4,5 | 6,8,9 | 20,30 | 50 | 70,100 | 400 | 1000: bins closed on the right, so 5 s is in
    # (1, 5] and 30 s in (10, 30]
    assert [r["engagements"] for r in study] == [0, 4, 3, 2, 1, 2, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    # the bins up to 10 s, 60 s and 300 s are exactly the share_within bands' numerators: 7, 10, 12 of 14
    assert sum(r["engagements"] for r in study[:3]) == 7
    assert sum(r["engagements"] for r in study[:5]) == 10
    assert sum(r["engagements"] for r in study[:7]) == 12
    sm = [r for r in rows if r["scope"] == "group" and r["group"] == "state media"]
    # p5: a1 +6 s (5, 10] and a7 +1000 s (600, 1800]
    assert {r["bin"]: r["engagements"] for r in sm if r["engagements"]} == {2: 1, 8: 1}
    t4 = [r for r in rows if r["target"] == "t4"]
    assert len(t4) == 17 and all(r["engagements"] == 0 and r["handle"] == "xinhua" for r in t4)
    assert all(r["handle"] is None for r in rows if r["scope"] != "target")


def test_latency_bins_at_the_edges(tmp_path: Path) -> None:
    """Latency 0 and 1 s -> bin 0 ([0, 1]); 1.5 s -> bin 1; exactly 7 days -> bin 15 ((2 d, 7 d]); 7 days + 1 s
    -> the open bin 16; -5 s (clock skew) and a repost without a time have no known latency: not counted."""
    t0 = dt.datetime(2021, 1, 4, 12, tzinfo=dt.timezone.utc)
    posts = [{"platform": "twitter", "post_id": "p1", "account_id": "t1", "created_at": t0, "kind": "original"}]
    offsets = [0, 1, 1.5, 7 * 86400, 7 * 86400 + 1, -5, None]
    posts += [{"platform": "twitter", "post_id": f"e{i}", "account_id": f"a{i}", "kind": "repost",
               "created_at": None if off is None else t0 + dt.timedelta(seconds=off), "ref_post_id": "p1",
               "ref_account_id": "t1"} for i, off in enumerate(offsets)]
    s = echoscope.init_study(tmp_path / "s")
    s.load_arrow({"posts": pa.Table.from_pylist(posts, schema=S.POSTS)})
    add_targets(s, [("t1", None, None, None)])
    res = run(s, write=False)
    study = [r for r in res.table("latency").to_pylist() if r["scope"] == "study"]
    assert {r["bin"]: r["engagements"] for r in study if r["engagements"]} == {0: 2, 1: 1, 15: 1, 16: 1}
    assert row(res.to_arrow().to_pylist(), "study")["latency_known"] == 5
    # a target without a group: no group rows, so study + target only
    assert {r["scope"] for r in res.table("latency").to_pylist()} == {"study", "target"}


# ------------------------------------------------------------------------------------------ the run shape
def test_run_stores_every_table_in_one_commit_with_a_run_id(tmp_path: Path) -> None:
    s = make_study(tmp_path / "s")
    before = s.manifest()
    events: list[dict] = []
    res = run(s, Params.parse(top="30%"), progress=events.append)
    after = s.manifest()
    assert isinstance(res, MeasuresResult) and isinstance(res, AnalysisResult)
    assert res.analysis == "measures" and res.run_id and res.run_id.startswith("m-")
    assert after.generation == before.generation + 1  # one atomic commit for the five tables
    runs = after.runs("measures")
    assert [r["id"] for r in runs] == [res.run_id]
    assert set(runs[0]["tables"]) == set(RESULT_TABLES.values()) == set(res.tables)
    assert runs[0]["parameters"]["top"] == 0.3
    assert runs[0]["summary"]["counts"]["engagements"] == 14
    for name, t in res.tables.items():
        entry = after.result(name)
        assert entry is not None and entry["run"] == res.run_id and entry["rows"] == t.num_rows
        assert entry["meta"]["parameters"]["top"] == 0.3  # the summary is every table's meta
        assert entry["meta"]["status_checked_first"].startswith("2021-02-10")
        stored = pa.concat_tables([pq.read_table(s.path / p) for p in entry["parts"]])
        assert stored.equals(t), name  # what the result holds is exactly what was stored
    assert any("amplification_latency" in e.get("message", "") for e in events)
    # the summary: parameters and the study row's headline counts
    st = res.summary["counts"]
    assert (st["engagements"], st["reposts"], st["reposts_suspended"], st["top_amplifiers"],
            st["top_engagements"]) == (14, 10, 8, 3, 10)  # top 30% of 7 = 3 accounts: a1 5, a2 3, a3 2
    assert res.summary["headline"] == headline(res.study_row)
    assert res.summary["tables"] == {n: t.num_rows for n, t in res.tables.items()}
    # a second run keeps the first readable
    res2 = run(s)
    assert [r["id"] for r in s.manifest().runs("measures")] == [res.run_id, res2.run_id]


def test_run_without_write_stores_nothing(plain: echoscope.Study) -> None:
    gen = plain.manifest().generation
    res = run(plain, write=False)
    assert res.run_id is None and plain.manifest().generation == gen


def test_result_keeps_the_measures_reading_api(plain: echoscope.Study) -> None:
    res = run(plain, write=False)
    short = res.tables()  # the older Measures.tables(): short names
    assert set(short) == set(RESULT_TABLES)
    for name, stored in RESULT_TABLES.items():
        assert res.to_arrow(name) is res.tables[stored] is short[name] is res.table(stored)
    assert res.to_pandas().shape[0] == res.tables["amplification_summary"].num_rows
    assert "engagements_flagged" in res.to_ibis("summary").columns
    assert res.meta()["parameters"]["top"] == 0.01
    with pytest.raises(ConfigError, match="no measures table 'nope'"):
        res.to_arrow("nope")


def test_lazy_measures_and_write_are_thin_wrappers(tmp_path: Path) -> None:
    s = make_study(tmp_path / "s")
    m = measures(s, top="30%")
    direct = run(s, Params.parse(top="30%"), write=False)
    for name, t in m.tables().items():
        assert t.equals(direct.tables[RESULT_TABLES[name]]), name
    written = m.write()
    assert written == {n: t.num_rows for n, t in direct.tables.items()}
    assert [r["id"] for r in s.manifest().runs("measures")] == [m.run_id]


class _RecordingEngine(Engine):
    """An Engine that records its stages and stands in for Spark with its own DuckDB Ibis backend (the
    expressions then run through Ibis, the path Spark takes, without starting a JVM)."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.stages: list[tuple[str, str]] = []
        self.spark_calls = 0

    def stage(self, name: str):  # type: ignore[override]
        mem = self.settings.memory_for(name)
        self.stages.append((name, mem))
        return super().stage(name)

    def spark(self):  # type: ignore[override]
        self.spark_calls += 1
        return self.ibis


def test_run_uses_the_engine_and_its_measures_stage(plain: echoscope.Study) -> None:
    eng = _RecordingEngine(plain)
    res = run(plain, engine=eng, write=False)
    assert res.engine == "duckdb" and eng.spark_calls == 0
    assert eng.stages == [("measures", "2GB")]  # STAGE_MEMORY["measures"], applied by the engine
    # the plan's temporary tables live on the engine's connection and are dropped after
    left = eng.sql("SELECT table_name FROM information_schema.tables WHERE table_name LIKE '_am_%'")
    assert left.num_rows == 0


def test_configured_spark_backend_selects_the_expressions(tmp_path: Path) -> None:
    s = make_study(tmp_path / "s")
    cfg = s.path / "echoscope.toml"
    cfg.write_text(cfg.read_text().replace('backend = "duckdb"', 'backend = "spark"'))
    duck = run(s, Params(top=0.3), engine=Engine(s, resolve_settings({})), write=False)  # DuckDB
    eng = _RecordingEngine(s)  # settings from the study's echoscope.toml: [engine] backend = "spark"
    assert eng.backend == "spark"
    res = run(s, Params(top=0.3), engine=eng, write=False)
    assert eng.spark_calls == 1 and res.engine == "spark" and res.summary["engine"] == "spark"
    for name, t in duck.tables.items():
        assert res.tables[name].equals(t), name


# ------------------------------------------------------------------------------------------ headline
def test_headline_text(plain: echoscope.Study) -> None:
    res = run(plain, write=False)
    assert res.headline() == ("80.0% of reposts (8 of 10) came from later-suspended accounts; the top 1% of "
                              "amplifiers (1 account) made 35.7% of engagements (5 of 14)")
    r = dict(res.study_row)
    assert headline({**r, "engagements": 0}) == "no engagements with the targets in this period"
    assert headline({**r, "reposts": 0}).startswith(
        "64.3% of engagements (9 of 14; no reposts) came from later-suspended accounts; ")
    assert headline({**r, "unchecked_amplifiers": 7}).startswith("no amplifier has a known account status")
    assert headline({**r, "top_k": 0.05, "top_amplifiers": 2, "top_engagements": 8, "top_share": 8 / 14}
                    ).endswith("the top 5% of amplifiers (2 accounts) made 57.1% of engagements (8 of 14)")
    old = {k: v for k, v in r.items() if k != "top_engagements"}  # a table stored by an older echoscope
    assert "run 'echoscope measure' again" in headline(old)


def test_cli_prints_the_headline_from_the_stored_tables(plain: echoscope.Study) -> None:
    from echoscope.cli import app

    res = CliRunner().invoke(app, ["measure", str(plain.path)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert ("80.0% of reposts (8 of 10) came from later-suspended accounts; the top 1% of amplifiers (1 account) "
            "made 35.7% of engagements (5 of 14).") in text
    run_id = plain.manifest().runs("measures")[-1]["id"]
    assert f"run {run_id}" in text
    doc = json.loads(CliRunner().invoke(app, ["measure", str(plain.path), "--json"]).stdout)
    assert doc["study"] == str(plain.path) and doc["counts"]["reposts_suspended"] == 8
    assert doc["run_id"] == plain.manifest().runs("measures")[-1]["id"]
    assert doc["headline"].startswith("80.0% of reposts (8 of 10)")
    assert len(doc["latency"]) == 7 * 17 and doc["tables"]["amplification_latency"] == 7 * 17
    # --json rows are the stored table's rows
    stored = plain.manifest().result("amplification_summary")
    t = pa.concat_tables([pq.read_table(plain.path / p) for p in stored["parts"]])
    assert len(doc["rows"]) == t.num_rows


def test_params_from_another_dataclass_of_the_same_fields(plain: echoscope.Study) -> None:
    import dataclasses

    @dataclasses.dataclass
    class Mine:  # e.g. a notebook's own settings object
        top: float = 0.3
        rapid_min_posts: int = 2

    res = run(plain, Mine(), write=False)
    assert res.params == Params(top=0.3, rapid_min_posts=2)
    # with a 2-post minimum a2's fast run (p1 +8, p2 +9) is a sequence too (test_measures.py)
    assert res.table("rapidfire").num_rows == 2
    with pytest.raises(ConfigError, match="must be echoscope.measures.Params"):
        run(plain, {"top": 0.3}, write=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rapid_min_posts must be at least 2"):
        run(plain, Params(rapid_min_posts=1), write=False)

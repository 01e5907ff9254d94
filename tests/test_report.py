"""The evidence report: numbers, sentences, escaping, degradation, pseudonymisation, the CLI.

Expected values come from the fixture study in tests/test_report_fixtures.py (see its docstring): target
@ambassador gets 100 reposts, 50 of them from later-suspended or deleted accounts (c0..c4, 10 each). The
fixture runs the real ``echoscope measure``; the report must show the numbers it stored, unchanged.
"""

from __future__ import annotations

import re

import pytest

from echoscope.report import build_document, render_report
from echoscope.report.charts import sanitise_svg
from echoscope.report.html import show
from echoscope.report.pseudonymise import Pseudonymiser, resolve_key

from .test_report_fixtures import PAYLOADS, build_study


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return build_study(tmp_path_factory.mktemp("rep") / "study", hostile=True)


@pytest.fixture(scope="module")
def doc(hostile):
    return build_document(hostile)


@pytest.fixture(scope="module")
def html(hostile, tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "report.html"
    res = render_report(hostile, out)
    return out.read_text(encoding="utf-8"), res


def _stored(study, where: str) -> list[dict]:
    from echoscope.engine import Engine

    with Engine(study) as eng:
        return eng.rows(f"SELECT * FROM amplification_summary WHERE week IS NULL AND {where}")


def test_every_number_is_the_stored_measure(hostile, doc):
    # one source: each per-target, per-group and study number is the row `echoscope measure` stored, unchanged
    from echoscope.report.amplification import SUMMARY_COLUMNS

    stored = {r["target"]: r for r in _stored(hostile, "scope = 'target'")}
    assert {t["account_id"] for t in doc["targets"]} == set(stored) == {"t1", "t2"}
    for t in doc["targets"]:
        for c in SUMMARY_COLUMNS:
            if c in stored[t["account_id"]] and not c.startswith("status_checked"):
                assert t[c] == stored[t["account_id"]][c], (t["account_id"], c)
    study_row = _stored(hostile, "scope = 'study'")[0]
    for c in ("engagements", "reposts", "amplifiers", "share_suspended_reposts", "reposts_suspended", "top_share",
              "top_amplifiers", "top_engagements", "gini", "share_coordinated", "share_high_risk"):
        assert doc["overall"][c] == study_row[c], c
    groups = {r["group"]: r for r in _stored(hostile, "scope = 'group'")}
    assert {g["group"]: g["engagements"] for g in doc["groups"]} == {k: v["engagements"] for k, v in groups.items()}


def test_per_target_numbers(doc):
    t = {x["handle"]: x for x in doc["targets"]}
    amb, sm = t["ambassador"], t["statemedia"]
    assert amb["engagements"] == 100 and amb["reposts"] == 100 and amb["amplifiers"] == 26
    assert amb["share_suspended_reposts"] == pytest.approx(0.5) and amb["reposts_suspended"] == 50  # c0..c4
    assert amb["share_unchecked"] == pytest.approx(0.2)               # o10..o19: 20 of 100
    assert amb["share_within_60s"] == pytest.approx(0.6)              # the 60 campaign reposts, 5-10 s after
    assert amb["share_high_risk"] == pytest.approx(0.6)               # c0..c5 are high risk
    assert amb["label"] == "China government account"
    assert sm["engagements"] == 30 and sm["share_suspended"] == 0.0   # 20 reposts + 10 likes, all organic
    assert sm["latency_p50"] == pytest.approx(86400.0)                # 20 reposts a day after, 10 likes 30 min after
    ov = doc["overall"]
    assert ov["engagements"] == 130 and ov["engagements_suspended"] == 50
    assert ov["labelled_targets"] == 1 and ov["targets"] == 2
    # top 1% of 26 amplifiers is 1 account; the busiest made 10 engagements of 130
    assert ov["top_amplifiers"] == 1 and ov["top_share"] == pytest.approx(10 / 130)


def test_weekly_classes_latency_and_lorenz_are_stored_rows(doc):
    # every engagement with a target is in exactly one (week, class) cell of the stored weekly rows
    assert sum(r["n"] for r in doc["weekly"]["all"]) == 130
    by_class: dict[str, int] = {}
    for r in doc["weekly"]["all"]:
        by_class[r["class"]] = by_class.get(r["class"], 0) + r["n"]
    assert set(by_class) == {"later suspended", "flagged", "organic (not flagged)"}
    assert by_class["later suspended"] == 50
    assert by_class["flagged"] + by_class["organic (not flagged)"] == 80
    # the stored latency histogram holds the 130 engagements with a known latency; bins in time order
    assert sum(r["n"] for r in doc["latency"]["all"]) == 130
    assert doc["latency"]["bins"][:3] == ["0s-1s", "1s-5s", "5s-10s"] and doc["latency"]["bins"][-1] == ">7d"
    # the Lorenz curve starts at (0, 0) and ends at (1, 1)
    first, last = doc["lorenz"]["all"][0], doc["lorenz"]["all"][-1]
    assert first["population_share"] == 0.0 and first["engagement_share"] == 0.0
    assert last["population_share"] == pytest.approx(1.0) and last["engagement_share"] == pytest.approx(1.0)


def test_coverage_and_quarantine(doc):
    cov = doc["coverage"]
    assert cov["reconciled"] is True
    # the unreadable created_at, and the 20,000-character bio cut at ingest (the cut is recorded there)
    assert cov["quarantine"]["rows"] == 2
    assert cov["totals"]["read"] == cov["totals"]["loaded"] + cov["totals"]["quarantined"] + cov["totals"]["duplicates"]


def test_findings_use_the_stored_wording(hostile, doc):
    from echoscope.accounts import headline as risk_headline
    from echoscope.measures import headline

    text = " ".join(doc["findings"])
    # the measures' own sentence of the stored study row, and of the worst target (@ambassador: 50 of 100)
    assert headline(_stored(hostile, "scope = 'study'")[0]) in text
    assert "50.0% of reposts (50 of 100) came from later-suspended accounts" in text
    assert "For @ambassador, the target with the largest share" in text
    assert "account status checked up to 2021-03-01" in text
    assert "1 cluster(s) with 6 accounts were judged coordinated" in text
    assert "0.4 of the judged edges" in text                          # expected_false_edges 0.37 in the meta
    # the accounts' own sentence of the stored summary: 6 of 7 scored accounts at or above the run's line 0.7
    assert risk_headline({"accounts": 7, "high_risk": 6, "high_risk_threshold": 0.7}) == \
        "6 of 7 accounts at high risk (score >= 0.7)"
    assert "6 of 7 accounts at high risk (score >= 0.7)" in text
    assert "1 of 2 target(s) (50%) carry a government" in text
    assert not [m for m in doc["missing"] if m["command"].startswith(("echoscope measure", "echoscope coordinate",
                                                                        "echoscope score"))]


def test_coordination_and_accounts(doc):
    co = doc["coordination"]
    assert co["ran"] and co["totals"]["clusters"] == 2 and co["totals"]["coordinated_clusters"] == 1
    assert co["totals"]["coordinated_accounts"] == 6
    c1 = next(c for c in co["clusters"] if c["cluster_id"] == "1")
    # as coord_clusters stored them
    assert c1["size"] == 6 and c1["share_suspended"] == pytest.approx(5 / 6) and c1["targets"] == "@ambassador (60)"
    assert c1["median_followers"] == 2.5 and c1["created_spread_days"] == pytest.approx(5 / 24)
    assert co["clusters"][0]["cluster_id"] == "1"                    # coordinated first
    ev = co["evidence"]["1"]
    assert len(ev) == 5 and all(e["gap_s"] == 1.0 for e in ev)          # closest pairs first (gap 1 s)
    assert len(co["network"]["nodes"]) == 8 and len(co["network"]["edges"]) == 16
    acc = doc["accounts"]
    assert acc["mode"] == "scores" and acc["high_risk"] == 6 and acc["scored"] == 7 and acc["threshold"] == 0.7
    top = acc["rows"][0]
    assert top["account_id"] == "c0" and top["status"] == "suspended" and top["reasons"]
    # its amplification facts are the stored super-spreader row (10 engagements of 130)
    assert top["engagements"] == 10 and top["engagement_share"] == pytest.approx(10 / 130)


def test_html_escapes_every_payload(html):
    page, res = html
    assert res["bytes"] < 2_000_000
    # no executable markup from the data survives; the only <style> and no <script> at all
    assert "<script" not in page.lower()
    assert page.lower().count("<style") == 1
    assert "<img" not in page.lower() and "<iframe" not in page.lower()
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", page, flags=re.IGNORECASE), \
        "an event-handler attribute survived"
    assert "&lt;script&gt;window.__pwned=1" in page
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=4" in page
    assert "\u202e" not in page and "[U+202E]" in page
    assert "A" * 400 not in page
    # the page forbids scripts and network by policy too
    assert "Content-Security-Policy" in page and "script-src &#39;none&#39;" in page


def test_report_of_ingested_data_only(tmp_path):
    from echoscope.report import build_document

    study = build_study(tmp_path / "plain", hostile=False, results=False)
    out = tmp_path / "r.html"
    res = render_report(study, out)
    page = out.read_text(encoding="utf-8")
    assert "Coordination was not analysed" in page and "Accounts were not scored" in page
    assert "not run: run <code>echoscope coordinate STUDY</code>" in page
    # no per-target number of the report's own: it says which command gives them
    assert res["charts"] == [] and "This report computes none of them itself" in page
    assert "run <code>echoscope measure STUDY</code>" in page and "@ambassador" in page
    doc = build_document(study)
    assert doc["targets"] == [] and doc["overall"] == {} and doc["measured"] is False
    assert {m["command"] for m in res["missing"]} >= {"echoscope measure STUDY", "echoscope coordinate STUDY",
                                                       "echoscope score STUDY"}


def test_report_of_measures_only(tmp_path):
    study = build_study(tmp_path / "m", hostile=False, results=False, measures=True)
    out = tmp_path / "r.html"
    res = render_report(study, out)
    page = out.read_text(encoding="utf-8")
    assert {"weekly_all", "weekly_targets", "weekly_groups", "lorenz", "latency_all"} <= set(res["charts"])
    assert "50.0% of reposts (50 of 100) came from later-suspended accounts" in " ".join(res["findings"])
    # without scores the accounts section lists the stored top amplifiers instead
    assert "engaged most with the targets (stored super-spreaders)" in page


def test_scores_of_an_older_echoscope(tmp_path):
    from echoscope.report import build_document

    study = build_study(tmp_path / "o", hostile=False, old_scores=True)
    doc = build_document(study)
    assert doc["accounts"]["high_risk"] is None                      # no guessing from the score
    assert any("no high_risk column" in m["what"] and m["command"] == "echoscope score STUDY"
               for m in doc["missing"])
    assert "older echoscope that marked no account high risk" in " ".join(doc["findings"])


def test_measures_of_an_older_echoscope(tmp_path):
    # a study measured before the per-row counts and the latency table existed: the report names what is
    # missing with the command that adds it, draws the weekly series unclassified, and guesses nothing
    from echoscope.engine import Engine
    from echoscope.report import build_document
    from echoscope.report.amplification import UNCLASSIFIED

    study = build_study(tmp_path / "old", hostile=False)
    gone = ["reposts_suspended", "engagements_suspended", "engagements_flagged", "engagements_organic",
            "top_engagements"]
    with Engine(study) as eng:
        old = eng.table("amplification_summary").to_pyarrow().drop_columns(gone)
    study.write_result("amplification_summary", old, meta=study.manifest().result_meta("amplification_summary"))
    study.drop_results(["amplification_latency"])
    doc = build_document(study)
    lacks = [m for m in doc["missing"] if m["what"].startswith("amplification_summary lacks column(s)")]
    assert len(lacks) == 1 and lacks[0]["command"] == "echoscope measure STUDY"
    assert all(c in lacks[0]["what"] for c in gone)
    assert any(m["what"].startswith("amplification_latency") for m in doc["missing"])
    assert doc["weekly"]["classes"] == [UNCLASSIFIED] and sum(r["n"] for r in doc["weekly"]["all"]) == 130
    t = next(x for x in doc["targets"] if x["handle"] == "ambassador")
    assert t["engagements"] == 100 and t["reposts_suspended"] is None     # shown as "-", not derived
    assert "run 'echoscope measure' again" in " ".join(doc["findings"])
    res = render_report(study, tmp_path / "r.html")
    assert "weekly_all" in res["charts"] and "latency_all" not in res["charts"]


def test_weekly_bars_are_readable():
    # a year of weeks used to draw bars 0.48 px wide on a temporal axis; on the ordinal week axis each bar
    # is a band of at least 4 px
    import xml.etree.ElementTree as ET

    from echoscope.report import charts as C

    weeks = C.all_weeks(["2020-01-06", "2020-12-28"])
    assert len(weeks) == 52
    rows = [{"week": w, "class": c, "n": 3 + i % 5} for i, w in enumerate(weeks) for c in C.CLASS_COLOURS]
    for facet in (None, "target"):
        data = rows if facet is None else [{**r, "target": t} for r in rows for t in ("@a", "@b", "@c")]
        chart = C.weekly_chart(data, list(C.CLASS_COLOURS), facet=facet, facet_order=["@c", "@a", "@b"])
        svg = str(C.render(chart, "w", "weekly"))
        if facet:
            # panels in the order given (the targets' order by engagements), not by name
            assert re.findall(r">(@[abc])<", svg) == ["@c", "@a", "@b"]
        bars = [el for el in ET.fromstring(svg).iter(f"{{{C.SVG_NS}}}path")
                if el.get("aria-roledescription") == "bar"]
        assert len(bars) == len(data)
        widths = [float(re.match(r"M[-\d.e]+,[-\d.e]+h([\d.e]+)", b.get("d")).group(1)) for b in bars]
        assert min(widths) >= 4.0, (facet, min(widths))


def test_report_code_reads_through_the_engine():
    # no facade calls below the facade, and every report module stays under ~600 lines
    from pathlib import Path

    import echoscope.report as R

    for f in Path(R.__file__).parent.glob("*.py"):
        code = f.read_text(encoding="utf-8")
        assert not re.search(r"\bstudy\.(sql|con|to_arrow|info|table|rows)\(", code), f.name
        assert len(code.splitlines()) <= 600, f.name


def test_pseudonymised_report_hides_handles_and_ids(hostile, tmp_path):
    out = tmp_path / "p.html"
    render_report(hostile, out, pseudonymise=True)
    page = out.read_text(encoding="utf-8")
    p = Pseudonymiser(resolve_key(hostile.path))
    for handle in ("ambassador", "statemedia", "campaign0", "organic3"):
        assert handle not in page, handle
    assert p.handle("ambassador") in page                          # same key, same pseudonym
    assert ">c0<" not in page and "c0 &amp; c1" not in page
    assert "twitter.com/ambassador" not in page
    assert (hostile.path / "pseudonym.key").exists()
    assert oct((hostile.path / "pseudonym.key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.slow
def test_key_from_environment(hostile, tmp_path, monkeypatch):
    monkeypatch.setenv("ECHO_TEST_KEY", "k" * 32)
    a = build_document(hostile, pseudonymise=True, key_env="ECHO_TEST_KEY")
    b = build_document(hostile, pseudonymise=True)
    ha = {t["handle"] for t in a["targets"]}
    hb = {t["handle"] for t in b["targets"]}
    assert ha.isdisjoint(hb)                                         # a different key gives different pseudonyms
    assert Pseudonymiser(b"k" * 32).handle("ambassador") in ha
    monkeypatch.setenv("ECHO_SHORT", "short")
    from echoscope.errors import ConfigError
    with pytest.raises(ConfigError, match="at least 16"):
        build_document(hostile, pseudonymise=True, key_env="ECHO_SHORT")
    with pytest.raises(ConfigError, match="not set"):
        build_document(hostile, pseudonymise=True, key_env="ECHO_UNSET_VAR_XYZ")


def test_pseudonymiser_rules():
    p = Pseudonymiser(b"x" * 32)
    assert p.handle("Ambassador") == p.handle("ambassador") == p.handle("@ambassador")[1:]
    assert p.account("123") != p.account("124") and p.account("123") == p.account("123")
    assert p.text("hi @Ambassador see https://x.com/ambassador/status/1") == \
        f"hi @{p.handle('ambassador')} see [platform link removed]"
    q = Pseudonymiser(b"x" * 32, known_ids={"c0"})
    assert q.text("co-retweet p1: c0 & c1") == f"co-retweet p1: {q.account('c0')} & c1"


def test_svg_sanitiser_drops_active_content():
    dirty = ('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="x()">'
             '<script>alert(1)</script><foreignObject><div>x</div></foreignObject>'
             '<a href="javascript:alert(1)"><text>t</text></a>'
             '<rect width="5" height="5" fill="url(http://evil/x)" onclick="y()"/>'
             '<text x="1">&lt;b&gt;</text></svg>')
    clean = str(sanitise_svg(dirty))
    assert "script" not in clean and "foreignObject" not in clean and "onload" not in clean
    assert "onclick" not in clean and "javascript" not in clean and "evil" not in clean
    assert "&lt;b&gt;" in clean                                      # text stays escaped


def test_show_filter():
    assert show("a\u202eb\u200bc") == "a[U+202E]b[U+200B]c"
    assert show("x" * 500, 10).startswith("x" * 10 + "\u2026 [490 more characters]")
    assert show(None) == ""


@pytest.mark.slow
def test_cli_report_and_json(cli, hostile, tmp_path):
    out = tmp_path / "cli.html"
    r = cli("report", hostile.path, "-o", out, "--json")
    assert r.exit_code == 0, r.stderr
    import json

    res = json.loads(r.stdout)
    assert res["path"] == str(out) and out.exists() and res["findings"]
    r = cli("report", hostile.path, "-o", tmp_path / "x.html", "--pseudonymise", "--key-env", "ECHO_UNSET_VAR_XYZ")
    assert r.exit_code != 0 and "ECHO_UNSET_VAR_XYZ" in r.stderr
    r = cli("report", tmp_path / "nostudy", "-o", tmp_path / "y.html")
    assert r.exit_code != 0 and "not an echoscope study" in r.stderr


def test_payload_fixture_is_hostile():
    assert PAYLOADS["rtl"].count("\u202e") == 1

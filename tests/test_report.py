"""The evidence report: numbers, sentences, escaping, degradation, pseudonymisation, the CLI.

Expected values come from the fixture study in tests/test_report_fixtures.py (see its docstring): target
@ambassador gets 100 reposts, 50 of them from later-suspended or deleted accounts (c0..c4, 10 each).
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


def test_per_target_numbers(doc):
    t = {x["handle"]: x for x in doc["targets"]}
    amb, sm = t["ambassador"], t["statemedia"]
    assert amb["engagements"] == 100 and amb["reposts"] == 100 and amb["amplifiers"] == 26
    assert amb["share_suspended_reposts"] == pytest.approx(0.5)       # c0..c4: 50 of 100
    assert amb["share_flagged"] == pytest.approx(0.1)                 # c5 (active, in the cluster): 10 of 100
    assert amb["share_unchecked"] == pytest.approx(0.2)               # o10..o19: 20 of 100
    assert amb["share_within_60s"] == pytest.approx(0.6)              # the 60 campaign reposts, 5-10 s after
    assert amb["label"] == "China government account"
    assert sm["engagements"] == 30 and sm["share_suspended"] == 0.0   # 20 reposts + 10 likes, all organic
    assert sm["latency_median_s"] == pytest.approx(86400.0)           # 20 reposts a day after, 10 likes 30 min after
    ov = doc["overall"]
    assert ov["engagements"] == 130 and ov["engagements_suspended"] == 50
    assert ov["labelled"] == 1 and ov["targets"] == 2
    # top 1% of 26 amplifiers is 1 account; the busiest made 10 engagements of 130
    assert ov["top1_amplifiers"] == 1 and ov["top1_share"] == pytest.approx(10 / 130)


def test_weekly_split_adds_up(doc):
    # every engagement with a target is in exactly one (week, class) cell
    assert sum(r["n"] for r in doc["weekly"]["all"]) == 130
    by_class = {}
    for r in doc["weekly"]["all"]:
        by_class[r["class"]] = by_class.get(r["class"], 0) + r["n"]
    assert by_class == {"later suspended": 50, "flagged": 10, "organic (not flagged)": 70}
    # the latency histogram holds the 130 engagements with a known latency
    assert sum(r["n"] for r in doc["latency"]["all"]) == 130
    # the Lorenz curve ends at (1, 1)
    last = doc["lorenz"]["all"][-1]
    assert last["population_share"] == pytest.approx(1.0) and last["engagement_share"] == pytest.approx(1.0)


def test_coverage_and_quarantine(doc):
    cov = doc["coverage"]
    assert cov["reconciled"] is True
    assert cov["quarantine"]["rows"] == 1                               # the unreadable created_at
    assert cov["totals"]["read"] == cov["totals"]["loaded"] + cov["totals"]["quarantined"] + cov["totals"]["duplicates"]


def test_findings_are_sentences_with_numbers(doc):
    text = " ".join(doc["findings"])
    assert "50% of @ambassador's reposts (50 of 100) came from accounts later suspended or deleted" in text
    assert "status checked up to 2021-03-01" in text
    assert "1 cluster(s) were judged coordinated" in text
    assert "0.4 of the judged edges" in text                          # expected_false_edges 0.37 in the meta
    assert "1 of 2 target(s) (50%) carry a government" in text


def test_coordination_and_accounts(doc):
    co = doc["coordination"]
    assert co["ran"] and co["totals"]["clusters"] == 2 and co["totals"]["coordinated_clusters"] == 1
    c1 = next(c for c in co["clusters"] if c["cluster_id"] == "1")
    assert c1["size"] == 6 and c1["share_suspended"] == pytest.approx(5 / 6)
    assert c1["top_targets"][0]["handle"] == "ambassador" and c1["top_targets"][0]["n"] == 60
    ev = co["evidence"]["1"]
    assert len(ev) == 5 and all(e["gap_s"] == 1.0 for e in ev)          # closest pairs first (gap 1 s)
    assert len(co["network"]["nodes"]) == 8 and len(co["network"]["edges"]) == 16
    acc = doc["accounts"]
    assert acc["mode"] == "scores" and acc["high_risk"] == 6 and acc["scored"] == 7
    top = acc["rows"][0]
    assert top["account_id"] == "c0" and top["status"] == "suspended" and top["reasons"]


def test_html_escapes_every_payload(html):
    page, res = html
    assert res["bytes"] < 2_000_000
    # no executable markup from the data survives; the only <style> and no <script> at all
    assert "<script" not in page.lower()
    assert page.lower().count("<style") == 1
    assert "<img" not in page.lower() and "<iframe" not in page.lower()
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", page, flags=re.IGNORECASE), "an event-handler attribute survived"
    assert "&lt;script&gt;window.__pwned=1" in page
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned=4" in page
    assert "\u202e" not in page and "[U+202E]" in page
    assert "A" * 400 not in page
    # the page forbids scripts and network by policy too
    assert "Content-Security-Policy" in page and "script-src &#39;none&#39;" in page


def test_report_of_ingested_data_only(tmp_path):
    study = build_study(tmp_path / "plain", hostile=False, results=False)
    out = tmp_path / "r.html"
    res = render_report(study, out)
    page = out.read_text(encoding="utf-8")
    assert "Coordination was not analysed" in page and "Accounts were not scored" in page
    assert "not run: run <code>echoscope coordinate STUDY</code>" in page
    assert "weekly_all" in res["charts"] and "network" not in res["charts"]
    # per-target statistics still come straight from engagements and targets
    assert "50% of @ambassador&#39;s reposts (50 of 100)" in page
    # without scores the accounts section lists the top amplifiers instead
    assert "engaged most with the targets" in page


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

"""One finding, one number: the demo study through every output states the same figures the same way.

The demo runs coordinate, score and measure, then writes the report; its console prints the report's own
findings. This test reads the same facts back through every other door -- ``measure --json``, ``score``,
``clusters --json``, ``runs``/manifest summaries, ``info --json``, the HTML report and the CSV export -- and
asserts they agree: the share of reposts from later-suspended accounts with its numerator and denominator, the
top-1% share and its account count, the clusters judged coordinated and their members, and the high-risk count
at the score's one line.
"""

from __future__ import annotations

import csv
import html
import json
import re

import pytest

import echoscope


def _plain(text: str) -> str:
    """Console or HTML text with tags dropped, entities decoded and white space folded."""
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(html.unescape(text).split())


@pytest.mark.slow
@pytest.mark.xdist_group("demo")
def test_the_demo_study_says_the_same_numbers_everywhere(cli, demo_run, tmp_path):
    demo, r = demo_run
    console = _plain(r.stdout)
    report = _plain((demo / "report.html").read_text())
    study = echoscope.open_study(demo / "demo-study")
    m = study.manifest()

    # 1. the measures' headline: stored once, worded once; the console, the report and measure --json agree
    from echoscope.measures import headline

    row = study.engine.rows("SELECT * FROM amplification_summary WHERE scope = 'study' AND week IS NULL")[0]
    said = headline(row)
    assert re.search(r"\d+\.\d% of reposts \([\d,]+ of [\d,]+\) came from later-suspended accounts", said)
    assert f"{row['reposts_suspended']:,} of {row['reposts']:,}" in said
    assert said in console and said in report
    mj = json.loads(cli("measure", study.path, "--json").stdout)
    assert mj["headline"] == said  # a second run of the same measures states the same
    # the top-1% account count and share are the stored ones (not a recount over reposts only)
    assert f"the top 1% of amplifiers ({row['top_amplifiers']:,} accounts)" in said
    assert f"({row['top_engagements']:,} of {row['engagements']:,})" in said

    # 2. coordination: clusters judged coordinated and their members, from coord_clusters / coord_members
    coord = study.engine.rows("""SELECT count(DISTINCT c.cluster_id) AS clusters, count(DISTINCT m.account_id) AS acc
        FROM coord_clusters c JOIN coord_members m USING (cluster_id) WHERE c.coordinated""")[0]
    phrase = f"{coord['clusters']:,} cluster(s) with {coord['acc']:,} accounts were judged coordinated"
    assert phrase in console and phrase in report
    cj = json.loads(cli("clusters", study.path, "--json", "--all").stdout)
    assert cj["total"] == coord["clusters"]
    assert len({a["account_id"] for c in cj["clusters"] for a in c["members"]}) == coord["acc"]
    assert m.runs("coordination")[-1]["summary"]["flagged_accounts"] == coord["acc"]

    # 3. the account score: one line, one count (score console, demo console, report, stored summary)
    from echoscope.accounts import headline as risk_headline

    summary = m.runs("accounts")[-1]["summary"]
    stored_high = study.engine.scalar("SELECT count(*) FROM account_scores WHERE high_risk")
    assert summary["high_risk"] == stored_high
    said = risk_headline(summary)
    assert f"{stored_high:,} of " in said and f">= {summary['high_risk_threshold']:g}" in said
    assert said in console and said.capitalize()[:40] in report.capitalize()
    score_out = _plain(cli("score", study.path).stdout)
    assert risk_headline(m.runs("accounts")[-1]["summary"]) in score_out

    # 4. the export of the measures is the stored table, row for row
    out = tmp_path / "exports"
    assert cli("export", study.path, "--to", "csv", "-o", out).exit_code == 0
    rows = list(csv.DictReader((out / "amplification_summary.csv").open()))
    srow = next(x for x in rows if x["scope"] == "study" and not x["week"])
    latest = study.engine.rows("SELECT * FROM amplification_summary WHERE scope = 'study' AND week IS NULL")[0]
    assert int(srow["reposts_suspended"]) == latest["reposts_suspended"]
    assert int(srow["reposts"]) == latest["reposts"]

    # 5. info counts the stored tables as the manifest records them
    info = json.loads(cli("info", study.path, "--json").stdout)
    assert info["tables"]["coord_members"]["rows"] == study.rows("coord_members")
    assert info["reconciled"] is True

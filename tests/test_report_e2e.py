"""End to end: simulate a small platform, run every analysis that exists, render the report and export.

This uses the real simulator, measures, coordination and account modules, so it checks that the report reads
the columns they actually write (and degrades, rather than fails, where one changes).
"""

from __future__ import annotations

import time

import networkx as nx
import pytest


@pytest.mark.slow
def test_simulated_study_report_and_exports(tmp_path):
    from echoscope.report import export_study, render_report
    from echoscope.simulate import make_config, simulate, write
    from echoscope.study import open_study

    platform = simulate(make_config(accounts=3_000, engagements=30_000, seed=3))
    write(platform, tmp_path / "sim", "study")
    study = open_study(tmp_path / "sim")
    from echoscope.accounts.score import score_study
    from echoscope.coordination.api import coordinate
    from echoscope.measures import measures

    # in the order that leaves nothing stale: the measures read the clusters and the scores
    coordinate(study)
    score_study(study)
    measures(study).write()
    out = tmp_path / "report.html"
    t0 = time.perf_counter()
    res = render_report(study, out)
    seconds = time.perf_counter() - t0
    page = out.read_text(encoding="utf-8")
    assert res["bytes"] < 20_000_000 and seconds < 60
    assert {"weekly_all", "weekly_groups", "weekly_targets", "lorenz", "latency_all"} <= set(res["charts"])
    text = " ".join(res["findings"])
    # the simulator's calibration: a target gets a large share of reposts from later-suspended accounts
    assert "came from later-suspended accounts" in text
    # one number, one sentence: the headline `echoscope measure` stored and printed is the report's
    assert study.manifest().result_meta("amplification_summary")["headline"] in text
    # the newer analyses' columns are all there: nothing missing, nothing stale
    assert res["missing"] == [], res["missing"]
    assert "simulator" in page                                           # ground truth is said on the page
    assert "network" in res["charts"] and "Coordination was not analysed" not in page
    assert "Accounts were not scored" not in page and "id=\"measures\"" in page
    files = export_study(study, "gexf,graphml,gephi-csv,parquet,csv,json", tmp_path / "exp")
    names = {f.name for f in files}
    assert "summary.json" in names and "nodes.csv" in names
    gexf = next(f for f in files if f.suffix == ".gexf")
    g = nx.read_gexf(gexf)
    assert g.number_of_nodes() > 0
    for name in study.manifest().results():
        assert f"{name}.parquet" in names and f"{name}.csv" in names

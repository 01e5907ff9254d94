"""Exports: graphs round-trip through networkx/igraph, CSVs are spreadsheet-safe, tables equal the study's."""

from __future__ import annotations

import csv
import json

import networkx as nx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from echoscope.errors import ConfigError
from echoscope.report.exports import export_study, neutralise, write_csv
from echoscope.report.pseudonymise import Pseudonymiser, resolve_key

from .test_report_fixtures import build_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return build_study(tmp_path_factory.mktemp("exp") / "study", hostile=True)


@pytest.fixture(scope="module")
def exported(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    files = export_study(study, "gexf,graphml,gephi-csv,parquet,csv,json", out)
    return out, files


def _judged_pairs(study) -> set[frozenset]:
    e = study.to_arrow("coord_edges").to_pylist()
    return {frozenset((r["account_a"], r["account_b"])) for r in e if r["significant"]}


def test_gexf_round_trip_with_time_attributes(study, exported):
    out, _ = exported
    g = nx.read_gexf(out / "coordination.gexf")
    # 15 campaign pairs + the o0-o1 pair, all judged significant in the fixture
    assert {frozenset(e) for e in g.edges()} == _judged_pairs(study) and g.number_of_edges() == 16
    d = g.edges["c0", "c1"]
    assert d["weight"] == 10.0 and d["start"] == "2020-06-01" and d["end"] == "2020-06-10"
    n = g.nodes["c0"]
    assert n["label"] == "campaign0" and n["status"] == "suspended" and n["cluster"] == "1" and n["start"]
    assert "timeformat=\"date\"" in (out / "coordination.gexf").read_text() and "mode=\"dynamic\"" in \
        (out / "coordination.gexf").read_text()


def test_graphml_round_trip_networkx_and_igraph(study, exported):
    out, _ = exported
    g = nx.read_graphml(out / "coordination.graphml")
    assert {frozenset(e) for e in g.edges()} == _judged_pairs(study)
    assert g.nodes["c4"]["status"] == "deleted"
    import igraph as ig

    h = ig.Graph.Read_GraphML(str(out / "coordination.graphml"))
    assert h.vcount() == 8 and h.ecount() == 16


def test_gephi_csv_columns(exported):
    out, _ = exported
    with open(out / "nodes.csv", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:2] == ["Id", "Label"] and len(rows) == 9
    with open(out / "edges.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:4] == ["Source", "Target", "Weight", "Type"]
    assert len(rows) == 16 and {r["Type"] for r in rows} == {"Undirected"}
    assert float(next(r for r in rows if {r["Source"], r["Target"]} == {"c0", "c1"})["Weight"]) == 10.0


def test_parquet_equals_result_tables(study, exported):
    out, _ = exported
    for name in study.manifest().results():
        got = pq.read_table(out / f"{name}.parquet")
        assert got.equals(study.to_arrow(name)), name
    t = pq.read_table(out / "report_targets.parquet").to_pylist()
    amb = next(r for r in t if r["handle"] == "ambassador")
    assert amb["engagements"] == 100 and amb["share_suspended"] == pytest.approx(0.5)
    # report_targets is the stored whole-period target rows of amplification_summary, not a recomputation
    stored = {r["target"]: r for r in study.sql("SELECT * FROM amplification_summary "
                                                "WHERE scope = 'target' AND week IS NULL").to_pylist()}
    for r in t:
        for c in ("engagements", "reposts_suspended", "engagements_flagged", "top1_share", "gini", "latency_p50"):
            assert r[c] == stored[r["account_id"]][c], (r["account_id"], c)


def test_csv_neutralises_formulas_and_keeps_numbers(tmp_path):
    t = pa.table({"text": ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "plain", None],
                  "n": [1, -2, 3, 4, 5, 6, 7, 8], "x": [-1.5, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, None],
                  "tags": [["=a"], [], None, ["b"], [], [], [], []]})
    p = tmp_path / "t.csv"
    write_csv(t, p)
    with open(p, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+cmd", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "plain", ""]
    assert [r[1] for r in rows[1:]] == ["1", "-2", "3", "4", "5", "6", "7", "8"]     # negative numbers stay numbers
    assert rows[1][2] == "-1.5"
    assert rows[1][3] == '["=a"]'                                                     # JSON, begins with [
    assert neutralise("=x") == "'=x" and neutralise("x=") == "x="


def test_csv_export_of_hostile_study(study, exported):
    out, _ = exported
    with open(out / "coord_evidence.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert any(r["object_id"].startswith("<script>") for r in rows)                  # text kept, not a formula
    with open(out / "report_targets.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert float(next(r for r in rows if r["handle"] == "ambassador")["share_suspended"]) == 0.5


def test_json_summary(study, exported):
    from echoscope.report import build_document

    out, _ = exported
    doc = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert doc["overall"]["engagements"] == 130 and doc["findings"]
    assert doc["coordination"]["totals"]["coordinated_clusters"] == 1
    # the same sentences as the report's
    assert doc["findings"] == build_document(study)["findings"] and doc["missing"] == []


def test_exports_without_measures(tmp_path):
    # no measures: every result table is exported, report_targets is not (the report computes no numbers)
    s = build_study(tmp_path / "s", hostile=False, measures=False)
    files = export_study(s, "parquet,json", tmp_path / "o")
    names = {f.name for f in files}
    assert "coord_edges.parquet" in names and "report_targets.parquet" not in names
    doc = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert doc["targets"] == [] and any(m["command"] == "echoscope measure STUDY" for m in doc["missing"])


def test_pseudonymised_exports_match_report(study, tmp_path):
    from echoscope.report import build_document

    out = tmp_path / "p"
    export_study(study, "gexf,gephi-csv,csv,json", out, pseudonymise=True)
    p = Pseudonymiser(resolve_key(study.path))
    g = nx.read_gexf(out / "coordination.gexf")
    assert p.account("c0") in g.nodes and "c0" not in g.nodes
    assert g.nodes[p.account("c0")]["label"] == p.handle("campaign0")
    text = "".join(f.read_text(encoding="utf-8") for f in out.iterdir())
    for raw in ("campaign0", "ambassador", "organic3"):
        assert raw not in text, raw
    # the report uses the very same pseudonyms
    doc = build_document(study, pseudonymise=True)
    assert p.handle("ambassador") in {t["handle"] for t in doc["targets"]}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert {t["handle"] for t in summary["targets"]} == {t["handle"] for t in doc["targets"]}


def test_amplification_network_without_coordination(tmp_path):
    s = build_study(tmp_path / "plain", hostile=False, results=False)
    export_study(s, "gexf,gephi-csv", tmp_path / "o")
    g = nx.read_gexf(tmp_path / "o" / "amplification.gexf")
    assert g.is_directed()
    # 26 amplifiers -> ambassador (100 engagements); 20 -> statemedia (30)
    assert sum(d["weight"] for _, t, d in g.edges(data=True) if t == "t1") == 100
    assert sum(d["weight"] for _, t, d in g.edges(data=True) if t == "t2") == 30


def test_bad_format_and_cli(study, tmp_path, cli):
    with pytest.raises(ConfigError, match="unknown export format"):
        export_study(study, "xlsx", tmp_path / "x")
    r = cli("export", study.path, "--to", "gephi-csv", "-o", tmp_path / "c", "--json")
    assert r.exit_code == 0, r.stderr
    assert sorted(json.loads(r.stdout)["files"]) == sorted([str(tmp_path / "c" / "edges.csv"),
                                                           str(tmp_path / "c" / "nodes.csv")])
    r = cli("export", study.path, "--to", "pdf", "-o", tmp_path / "d")
    assert r.exit_code == 2 and "unknown export format" in r.stderr

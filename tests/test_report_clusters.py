"""The report's clusters: labelled network picture, member lists, explorer links, evidence for every
coordinated cluster, clusters that amplify the targets first, hostile text escaped, pseudonyms, ``--run``.

The study is the hostile report fixture (tests/test_report_fixtures.py) with the cluster table of a run that
says what each cluster is (``amplifies_targets``, ``kind``, ``label``):

- cluster 1: c0..c5 (15 judged edges, 2 evidence rows per pair) plus x9, an account whose handle is a
  ``<script>`` payload, kept without an edge; amplifies the targets; its label is an ``<img onerror>`` payload;
- cluster 3: o2, o3, judged coordinated, does not amplify the targets ("fan community"), and coord_evidence
  holds no row for it;
- cluster 2: o0, o1, not judged coordinated.
"""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pytest

from echoscope.report import build_document, render_report
from echoscope.report.base import ReportOptions
from echoscope.report.pseudonymise import Pseudonymiser, resolve_key

from .test_report_fixtures import PAYLOADS, build_study


def relabel(study) -> None:
    """Rewrite coord_members and coord_clusters as the module docstring says."""
    from echoscope import schema as S

    study.load_arrow({"accounts": pa.Table.from_pylist(
        [{"platform": "twitter", "account_id": "x9", "handle": PAYLOADS["script"]}], schema=S.ACCOUNTS)})
    meta = study.manifest().result_meta("coord_members")
    m = study.engine.sql("SELECT * FROM coord_members").to_pylist()
    m += [{"cluster_id": 1, "account_id": "x9", "handle": None, "degree": 0, "strength": 0.0}]
    m += [{"cluster_id": 3, "account_id": a, "handle": None, "degree": 1, "strength": 1.0} for a in ("o2", "o3")]
    c = study.engine.sql("SELECT * FROM coord_clusters").to_pylist()
    c.append({**c[1], "cluster_id": 3, "coordinated": True, "p_value": 1e-4, "targets": None})
    kinds = {1: (True, "targets", PAYLOADS["img"], 0.9), 2: (None, None, None, None),
             3: (False, "fans", "fan community", 0.05)}
    for r in c:
        r["amplifies_targets"], r["kind"], r["label"], r["target_share"] = kinds[r["cluster_id"]]
        if r["cluster_id"] == 1:
            r["size"] = 7
    study.write_result("coord_members", pa.Table.from_pylist(m), meta=meta)
    study.write_result("coord_clusters", pa.Table.from_pylist(c), meta=meta)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    s = build_study(tmp_path_factory.mktemp("rc") / "study", hostile=True, measures=False)
    relabel(s)
    return s


@pytest.fixture(scope="module")
def page(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("rc-out") / "report.html"
    render_report(study, out, options=ReportOptions(evidence_clusters=0))
    return out.read_text(encoding="utf-8")


def _section(page: str, start: str, end: str) -> str:
    i = page.index(start)
    return page[i: page.index(end, i)]


def test_clusters_that_amplify_the_targets_lead(study):
    co = build_document(study)["coordination"]
    # amplifies the targets first, then the other coordinated cluster, then the one not judged coordinated
    assert [c["cluster_id"] for c in co["clusters"]] == ["1", "3", "2"]
    c1 = co["clusters"][0]
    # members strongest first (strength 50 for c0..c5, by id; x9 has 0), with handle, score and status
    assert [m["account_id"] for m in c1["members"]] == ["c0", "c1", "c2", "c3", "c4", "c5", "x9"]
    c0 = c1["members"][0]
    assert (c0["handle"], c0["score"], c0["high_risk"], c0["status"]) == ("campaign0", 0.9, True, "suspended")
    assert c1["members"][-1]["handle"] == PAYLOADS["script"] and c1["members"][-1]["score"] is None
    assert [m["handle"] for m in c1["top_members"]] == ["campaign0", "campaign1", "campaign2"]
    assert c1["explorer_url"] == "http://127.0.0.1:8765/clusters/1" and c1["members_more"] == 0


def test_evidence_for_every_coordinated_cluster(study, page):
    co = build_document(study, options=ReportOptions(evidence_clusters=0))["coordination"]
    # evidence_clusters=0 asks for no other cluster: the two coordinated ones are still covered
    assert co["evidence_clusters"] == ["1", "3"] and len(co["evidence"]["1"]) == 5 and "3" not in co["evidence"]
    ev = _section(page, 'id="evidence"', 'id="accounts"')
    assert 'id="evidence-1"' in ev and 'id="evidence-3"' in ev and 'id="evidence-2"' not in ev
    # the evidence in words, as the console and the explorer say it: the object post p1_0 is @ambassador's
    # first statement (a <svg onload> payload in the hostile fixture), shown as text
    first = co["evidence"]["1"][0]
    assert first["object_words_text"].startswith("a post by @ambassador (") and first["object_post_id"] == "p1_0"
    assert 'a post by @ambassador ("<svg onload=' in _plain(ev) and "<svg onload" not in ev
    # cluster 3 has no evidence row: said, not left out
    assert re.search(r"No stored evidence for cluster 3:.*coord_evidence.*holds no row", _plain(ev))


def _plain(html: str) -> str:
    import html as h

    return " ".join(h.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def test_member_lists_links_and_caveat(page):
    amp = _section(page, 'id="clusters-amplifying"', 'id="clusters-other"')
    other = _section(page, 'id="clusters-other"', "<h3>Clusters</h3>")
    assert 'id="cluster-1"' in amp and 'id="cluster-3"' not in amp
    assert 'id="cluster-3"' in other and "Coordination is not proof of inauthenticity" in other
    assert "fan community" in other
    # one item per member: handle, id, score, high risk, status
    items = re.findall(r"<li>(.*?)</li>", _section(amp, 'id="cluster-1"', "</ul>"), flags=re.S)
    assert len(items) == 7
    assert _plain(items[0]) == "@campaign0 c0 score 0.90, high risk; suspended"
    assert _plain(items[-1]) == "@" + PAYLOADS["script"] + " x9 score -; never checked"
    # links into the local explorer, and the note that they work only while it runs
    assert 'href="http://127.0.0.1:8765/clusters/1"' in amp and 'href="http://127.0.0.1:8765/clusters/3"' in other
    note = _plain(_section(page, 'id="explorer-note"', "</p>"))
    assert "echoscope serve STUDY" in note and "work only while" in note and "--pseudonymise" not in note
    # the cluster not judged coordinated is listed apart
    assert 'id="cluster-2"' in _section(page, 'id="clusters-not-coordinated"', 'id="evidence"')


def test_network_picture_labels_clusters_with_top_members(page):
    svg = _section(page, 'data-chart="network"', "</svg>")
    plain = _plain(svg)
    assert "cluster 1 \u00b7 7 accounts" in plain and "@campaign0, @campaign1, @campaign2" in plain
    assert "cluster 3 \u00b7 2 accounts" in plain and "fan community" in plain
    assert "not judged coordinated" in plain                      # cluster 2's header
    # clusters apart: three cells, the not-amplifying and not-coordinated ones dashed
    assert svg.count('rx="6"') == 3 and svg.count('stroke-dasharray="4 3"') == 2


def test_hostile_labels_and_handles_stay_escaped(page):
    low = page.lower()
    assert "<script" not in low and "<img" not in low
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", page, flags=re.IGNORECASE)
    # the hostile handle (member list) and label (card, SVG header) are shown as text
    assert "@&lt;script&gt;window.__pwned=1" in page
    assert page.count("&lt;img src=x onerror=") >= 2


def test_pseudonymised_member_lists_and_labels(study, tmp_path):
    out = tmp_path / "p.html"
    render_report(study, out, pseudonymise=True)
    page = out.read_text(encoding="utf-8")
    p = Pseudonymiser(resolve_key(study.path))
    for raw in ("campaign0", "campaign5", "organic2"):
        assert raw not in page, raw
    amp = _section(page, 'id="clusters-amplifying"', 'id="clusters-other"')
    assert "@" + p.handle("campaign0") in amp and p.account("c0") in amp
    assert "@" + p.handle("campaign0") in _plain(_section(page, 'data-chart="network"', "</svg>"))
    assert "--pseudonymise" in _plain(_section(page, 'id="explorer-note"', "</p>"))


def test_report_run_reads_an_earlier_run(tmp_path, cli):
    s = build_study(tmp_path / "runs", hostile=False, measures=False)
    latest = {n: s.engine.sql(f"SELECT * FROM {n}") for n in ("coord_edges", "coord_clusters", "coord_members",
                                                               "coord_evidence")}
    first = dict(latest, coord_members=pa.table({"cluster_id": [1, 1, 1], "account_id": ["c0", "c1", "o7"]}),
                 coord_clusters=pa.table({"cluster_id": [1], "size": [3], "coordinated": [True]}))
    s.write_results(first, meta={}, analysis="coordination", run_id="c-first", summary={})
    s.write_results(latest, meta={}, analysis="coordination", run_id="c-second", summary={})
    r = cli("report", s.path, "-o", tmp_path / "old.html", "--run", "c-first", "--json")
    assert r.exit_code == 0, r.stderr
    assert set(json.loads(r.stdout)) >= {"path", "bytes", "seconds", "charts", "findings", "missing", "pseudonymised"}
    old = (tmp_path / "old.html").read_text(encoding="utf-8")
    assert "organic7" in old and "an earlier run, chosen with --run" in old and "--run c-first" in old
    r = cli("report", s.path, "-o", tmp_path / "new.html", "-q")
    new = (tmp_path / "new.html").read_text(encoding="utf-8")
    assert r.exit_code == 0 and "organic7" not in new and "chosen with --run" not in new
    r = cli("report", s.path, "-o", tmp_path / "x.html", "--run", "c-nope")
    assert r.exit_code == 2 and "no stored run" in r.stderr

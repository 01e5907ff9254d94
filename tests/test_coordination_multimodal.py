"""Multimodal objects: co-domain and co-media, and CooRTweet's pooled network of several object types.

The conformance fixture (tests/data/coortweet_multimodal/) holds 156 posts of 37 accounts with links, hashtags
and image hashes, and CooRTweet 2.1.3's own output on them (``expected_edges.csv``, made by its
``run_coortweet.R`` from ``long.csv``; see ``make_fixture.py`` for the data and how the files were made). The
tests need no R: echoscope's ``--semantics coortweet`` must give exactly CooRTweet's account pairs, weights,
mean time gaps and thresholds, for each object type alone and pooled.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import echoscope
from echoscope.coordination import CoordParams, coordinate
from echoscope.coordination.coactions import COACTIONS, normalise_domain
from echoscope.coordination.peers import POOLED
from echoscope.errors import ConfigError

FIX = Path(__file__).resolve().parent / "data" / "coortweet_multimodal"
#: run_coortweet.R's parameters
WINDOW, MIN_PARTICIPATION, QUANTILE = 60, 2, 0.5
ALL4 = ("co-link", "co-hashtag", "co-domain", "co-media")


def _fixture_module():
    spec = importlib.util.spec_from_file_location("make_fixture", FIX / "make_fixture.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def expected() -> dict[str, dict[tuple[str, str], tuple[float, float, int]]]:
    """CooRTweet's edges per network: (account_id, account_id_y) -> (weight, avg_time_delta, weight_threshold)."""
    out: dict[str, dict[tuple[str, str], tuple[float, float, int]]] = defaultdict(dict)
    with open(FIX / "expected_edges.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            out[r["network"]][(r["account_id"], r["account_id_y"])] = (
                float(r["weight"]), round(float(r["avg_time_delta"]), 6), int(r["weight_threshold"]))
    return dict(out)


@pytest.fixture(scope="module")
def mm(tmp_path_factory):
    """The fixture's posts ingested through the command line, with the phash column mapped to media_hashes."""
    from typer.testing import CliRunner

    from echoscope.cli import app

    root = tmp_path_factory.mktemp("multimodal") / "study"
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(root)]).exit_code == 0
    r = runner.invoke(app, ["ingest", str(root), str(FIX / "posts.csv"), "--format", "csv", "--map",
                            "phash=media_hashes"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return echoscope.open_study(root)


def _network(res) -> dict[tuple[str, str], tuple[float, float, int]]:
    e = res.edges.filter(pc.equal(res.edges["behaviour"], res.summary["network"]))
    return {(r["account_a"], r["account_b"]): (r["weight"], round(r["mean_gap_s"], 6), int(r["significant"]))
            for r in e.to_pylist()}


def test_fixture_is_read_as_written(mm):
    # 156 posts, all loaded; Unix seconds with halves kept; JSON-array lists of image hashes as given
    n, halves = mm.sql("SELECT count(*) AS n, count(*) FILTER (WHERE epoch_us(created_at) % 1000000 = 500000) AS h "
                       "FROM posts").to_pylist()[0].values()
    assert n == 156 and halves == 4  # the fourth account of each of campaign A's four operations
    p = mm.sql("SELECT * FROM posts WHERE post_id = 'p0001'").to_pylist()[0]
    assert p["created_at"] == dt.datetime.fromtimestamp(1_700_000_000, dt.UTC)
    assert p["media_hashes"] == ["bff9d7e0d877099a"] and p["hashtags"] == ["vote", "op0"]


@pytest.mark.parametrize("network", sorted(expected()))
def test_coortweet_conformance_per_type_and_pooled(mm, network):
    """CooRTweet's network on the same posts: every account pair, its weight (share pairs), mean gap and
    whether it is above the edge-weight quantile, for one object type or several pooled."""
    want = expected()[network]
    behaviours = tuple(network.split("+"))
    res = coordinate(mm, CoordParams(behaviours=behaviours, window=WINDOW, min_repeat=MIN_PARTICIPATION,
                                     semantics="coortweet", edge_weight_quantile=QUANTILE), write=False)
    assert res.summary["network"] == (POOLED if len(behaviours) > 1 else behaviours[0])
    assert _network(res) == want
    # the fixture's ordinary accounts co-share by chance in every network but co-media (their meme is never
    # posted twice within a minute); the loner (one post, below min_participation) never
    accounts = {a for k in want for a in k}
    assert "loner" not in accounts
    assert any(a.startswith("o") for a in accounts) == (network != "co-media")


def test_pooled_weights_add_up_and_the_threshold_is_the_pooled_quantile(mm):
    res = coordinate(mm, CoordParams(behaviours=ALL4, window=WINDOW, min_repeat=MIN_PARTICIPATION,
                                     semantics="coortweet"), write=False)
    e = res.edges.to_pylist()
    per: dict[tuple[str, str], float] = defaultdict(float)
    for r in e:
        if r["behaviour"] != POOLED:
            per[(r["account_a"], r["account_b"])] += r["weight"]
    pooled = {(r["account_a"], r["account_b"]): r["weight"] for r in e if r["behaviour"] == POOLED}
    # a pair's pooled weight is the sum of its share pairs over the object types (rbindlist, then .N)
    assert pooled == dict(per)
    st = res.summary["pooled"]
    # the threshold is the type-7 median of the pooled weights, not of any one type's
    assert st["weight_quantile"] == float(np.quantile(list(pooled.values()), QUANTILE))
    assert st["share_pairs"] == sum(res.summary["behaviours"][b]["share_pairs"] for b in ALL4) == 315
    assert res.summary["significant_edges"] == st["significant_edges"] == 23  # CooRTweet: 23 above the threshold
    assert res.coordinated_clusters()  # clusters are drawn from the pooled network's edges above the threshold


def test_coortweet_objects_window_duplicates_and_reposts(mm):
    """The edge cases the fixture puts in: a window is inclusive, a post's duplicate objects are one share,
    hashtags compare as written, reposts count under CooRTweet's semantics."""
    res = coordinate(mm, CoordParams(behaviours=ALL4, window=WINDOW, min_repeat=MIN_PARTICIPATION,
                                     semantics="coortweet"), write=False)
    ev = res.evidence.to_pylist()

    def pairs(behaviour: str, obj: str) -> set[frozenset]:
        return {frozenset((r["account_a"], r["account_b"])) for r in ev
                if r["behaviour"] == behaviour and r["object_id"] == obj}

    # a01 and a02 post alice's blog exactly 60 s apart: a pair; a03 and a04 bob's 61 s apart: none
    assert pairs("co-link", "https://alice.blogspot.com/2024/01/post.html") == {frozenset(("a01", "a02"))}
    assert pairs("co-link", "https://bob.blogspot.com/2024/01/post.html") == set()
    assert [r["gap_s"] for r in ev if r["object_id"] == "https://alice.blogspot.com/2024/01/post.html"] == [60.0]
    # the reposts of a07 and a08 (5 s apart) share their link
    assert frozenset(("a07", "a08")) in pairs("co-link", "https://www.truth-daily.co.uk/story/1?utm_source=tw")
    # Vote and vote are two hashtags (CooRTweet compares strings), each a single-hashtag object
    tags = {r["object_id"] for r in ev if r["behaviour"] == "co-hashtag"}
    assert {"Vote", "vote", "op0"} <= tags
    # a05's post carrying link, hashtag and image twice is one share of each: no pair of a post with itself, and
    # its content id is paired once per other share on each object
    a05 = [r for r in ev if "p0029" in (r["action_a"], r["action_b"])]
    assert a05 and all(r["action_a"] != r["action_b"] for r in a05)
    keys = [(r["behaviour"], r["object_id"], r["action_a"], r["action_b"]) for r in a05]
    assert len(keys) == len(set(keys))
    # domains: the four spellings of the campaign's site are one object
    assert "truth-daily.co.uk" in {r["object_id"] for r in ev if r["behaviour"] == "co-domain"}


def test_edges_cli_writes_the_pooled_network(mm, tmp_path, cli):
    out = tmp_path / "edges.csv"
    r = cli("coordinate", mm.path, "--semantics", "coortweet", "-b", ",".join(ALL4), "--window", WINDOW,
            "--min-repeat", MIN_PARTICIPATION, "--edges", out, "--json", "--quiet")
    assert r.exit_code == 0, r.output
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # Gephi's four columns, then CooRTweet's edge attributes; every edge of the pooled network (CooRTweet's
    # full graph, subgraph = 0), not only those above the threshold
    assert list(rows[0]) == ["Source", "Target", "Weight", "Type", "weight_threshold", "avg_time_delta",
                             "n_objects"]
    got = {(x["Source"], x["Target"]): (float(x["Weight"]), round(float(x["avg_time_delta"]), 6),
                                        int(x["weight_threshold"])) for x in rows}
    assert got == expected()["+".join(ALL4)]
    assert all(x["Type"] == "Undirected" for x in rows)


def test_edges_cli_under_echoscope_semantics_writes_judged_edges(mm, tmp_path, cli):
    out = tmp_path / "edges.csv"
    r = cli("coordinate", mm.path, "-b", "co-media", "--null", "none", "--edges", out, "--quiet")
    assert r.exit_code == 0, r.output
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["Source", "Target", "Weight", "Type"]
    # campaign B shares three images in two waves: its six accounts are pairs on two or more images
    assert {("b01", "b02"), ("b01", "b04")} <= {(x["Source"], x["Target"]) for x in rows}


# ------------------------------------------------------------------------------------------ co-domain
DOMAIN_CASES = [
    ("https://www.Example.com/a/?utm_source=x", "example.com"),  # the URL normalisation first: www., case
    ("http://news.bbc.co.uk/x", "bbc.co.uk"),  # a country second level keeps three labels
    ("https://abc.net.au/news", "abc.net.au"),
    ("https://gov.example.go.jp/notice", "example.go.jp"),
    ("https://www.gov.uk/guidance", "gov.uk"),  # the second level itself: two labels
    ("https://m.facebook.com/story.php?id=1", "facebook.com"),  # other subdomains: the last two labels
    ("https://edition.bigpaper.com/politics", "bigpaper.com"),
    ("https://user@WWW2.example.org:8080/a", "example.org"),  # user, port, www2
    ("https://EXAMPLE.com./x", "example.com"),  # a trailing dot
    ("https://alice.blogspot.com/p", "alice.blogspot.com"),  # a blog host: each user's subdomain is a site
    ("https://bob.github.io/", "bob.github.io"),
    ("https://blogspot.com/", "blogspot.com"),
    ("http://203.0.113.7:80/leak.pdf", "203.0.113.7"),  # an address as it is
    ("https://[2001:db8::1]/x", "[2001:db8::1]"),
    ("localhost/x", "localhost"),
    ("https://youtu.be/abc", "youtu.be"),  # shorteners are sites of their own
    ("https://t.co/xyz", "t.co"),
    ("https://ΣΑΣ.gr/", "σασ.gr"),
    ("", None),
]


@pytest.mark.parametrize(("url", "domain"), DOMAIN_CASES)
def test_co_domain_normalisation(url, domain):
    assert normalise_domain(url) == domain


def test_co_domain_agrees_with_the_fixture_sites():
    # make_fixture.py names the site of every link by hand (CooRTweet's domain column): the macro agrees
    mod = _fixture_module()
    assert {u: normalise_domain(u) for u in mod.SITES} == mod.SITES


# ------------------------------------------------------------------------------------------ co-media, co-domain
def _posts(rows: list[tuple]) -> pa.Table:
    """(post_id, account_id, seconds, kind, urls, media_hashes) rows as canonical posts."""
    t0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    return pa.table({
        "post_id": [r[0] for r in rows], "account_id": [r[1] for r in rows],
        "created_at": pa.array([t0 + dt.timedelta(seconds=r[2]) for r in rows], pa.timestamp("us", tz="UTC")),
        "kind": [r[3] for r in rows], "urls": pa.array([r[4] for r in rows], pa.list_(pa.string())),
        "media_hashes": pa.array([r[5] for r in rows], pa.list_(pa.string()))})


@pytest.fixture
def shared_media(tmp_path):
    """c1-c4 post the same image (and links to one site, each to another page) on three occasions within
    seconds; n1-n4 post their own images and sites; c1 reposts an image of n1 twice (reposts: not co-media);
    ``AB12`` and ``ab12`` are two hashes (hashes are compared as written)."""
    rows = []
    for k in range(3):
        for j, a in enumerate(("c1", "c2", "c3", "c4")):
            h = ["img0", "img1", "AB12"][k] if j < 2 or k < 2 else "ab12"
            rows.append((f"{a}-{k}", a, 3600 * k + 5 * j, "original", [f"https://www.site{k}.com/page/{a}"], [h, h]))
    for i in range(4):
        for k in range(3):
            rows.append((f"n{i}-{k}", f"n{i}", 3600 * k + 900 + 7 * i, "original", [f"https://own{i}.org/{k}"],
                         [f"own{i}-{k}"]))
    rows += [("r1", "c1", 902, "repost", None, ["own0-0"]), ("r2", "c1", 4502, "repost", None, ["own0-1"])]
    s = echoscope.init_study(tmp_path / "media")
    s.load_arrow({"posts": _posts(rows)})
    return s


def test_co_media_pairs_accounts_sharing_images(shared_media):
    res = coordinate(shared_media, CoordParams(behaviours=("co-media",), null="none"), write=False)
    e = {(r["account_a"], r["account_b"]): r for r in res.edges.to_pylist()}
    # c1-c2 share three images (img0, img1, AB12); c3-c4 img0, img1, ab12; across the halves two (img0, img1)
    assert e[("c1", "c2")]["n_objects"] == 3 and e[("c3", "c4")]["n_objects"] == 3
    assert e[("c1", "c3")]["n_objects"] == 2
    # a post's repeated hash is one action; n0's images reposted by c1 are not co-media (reposts are
    # co-retweets): no n-account has an edge
    assert not any(a.startswith("n") or b.startswith("n") for a, b in e)
    assert set(res.evidence["object_id"].to_pylist()) == {"img0", "img1", "AB12", "ab12"}
    assert res.summary["behaviours"]["co-media"]["actions"] == 12 + 12  # 24 posts with one distinct hash each


def test_co_domain_pairs_accounts_linking_to_one_site(shared_media):
    res = coordinate(shared_media, CoordParams(behaviours=("co-domain", "co-link"), null="none"), write=False)
    dom = res.edges.filter(pc.equal(res.edges["behaviour"], "co-domain"))
    # every c-account links to its own page of site0/1/2.com: no co-link, but the same three sites
    assert res.edges.filter(pc.equal(res.edges["behaviour"], "co-link")).num_rows == 0
    assert {(r["account_a"], r["account_b"]): r["n_objects"] for r in dom.to_pylist()} == {
        (a, b): 3 for a in ("c1", "c2", "c3", "c4") for b in ("c1", "c2", "c3", "c4") if a < b}
    assert set(res.evidence.filter(pc.equal(res.evidence["behaviour"], "co-domain"))["object_id"].to_pylist()) \
        == {"site0.com", "site1.com", "site2.com"}


def test_registry_and_peer_definitions():
    for b in ("co-domain", "co-media"):
        assert COACTIONS[b].timed and COACTIONS[b].peers == frozenset({"coortweet"})
    # the peers define what they compute, nothing else
    with pytest.raises(ConfigError, match="co-mention"):
        CoordParams(behaviours=("co-mention",), semantics="coortweet").validate()
    with pytest.raises(ConfigError, match="co-domain"):
        CoordParams(behaviours=("co-domain",), semantics="cnt").validate()
    CoordParams(behaviours=ALL4 + ("co-retweet",), semantics="coortweet").validate()
    assert {"co-domain", "co-media"} <= set(CoordParams(behaviours=("all",)).behaviours)


def test_coortweet_single_hashtags_against_echoscope_sets(mm):
    # echoscope's co-hashtag object is the set of two or more hashtags, CooRTweet's one hashtag
    echo = coordinate(mm, CoordParams(behaviours=("co-hashtag",), null="none"), write=False)
    peer = coordinate(mm, CoordParams(behaviours=("co-hashtag",), semantics="coortweet"), write=False)
    assert "op0 vote" in set(echo.evidence["object_id"].to_pylist())
    assert {"op0", "vote"} <= set(peer.evidence["object_id"].to_pylist())


# ------------------------------------------------------------------------------------------ older studies
def test_studies_written_before_media_hashes_keep_working(shared_media, tmp_path):
    """Parts written before the column existed read it as null; a new ingest next to them adds parts with it."""
    import pyarrow.parquet as pq

    parts = [shared_media.path / p for p in shared_media.manifest().table_parts("posts")]
    for p in parts:  # as an older echoscope wrote them: no media_hashes column
        t = pq.read_table(p)
        pq.write_table(t.drop_columns(["media_hashes"]), p)
    old = echoscope.open_study(shared_media.path)
    assert old.sql("SELECT count(*) AS n, count(media_hashes) AS m FROM posts").to_pylist() == [{"n": 26, "m": 0}]
    res = coordinate(old, CoordParams(behaviours=("co-media", "co-domain"), null="none"), write=False)
    assert res.summary["behaviours"]["co-media"]["actions"] == 0
    assert res.summary["behaviours"]["co-domain"]["candidate_edges"] == 6
    # a newer file beside the old parts: both read, the new one's hashes kept
    csv_file = tmp_path / "new.csv"
    csv_file.write_text("post_id,account_id,created_at,phash\nz1,c1,1709251200,\"[img9, img8]\"\n", encoding="utf-8")
    old.ingest([str(csv_file)], format="csv", mapping={"phash": "media_hashes"})
    new = echoscope.open_study(shared_media.path)
    assert new.sql("SELECT media_hashes FROM posts WHERE post_id = 'z1'").to_pylist() == [
        {"media_hashes": ["img9", "img8"]}]
    assert new.sql("SELECT count(*) AS n FROM posts WHERE media_hashes IS NULL").to_pylist() == [{"n": 26}]


# ------------------------------------------------------------------------------------------ Spark
@pytest.mark.slow
def test_co_domain_and_co_media_equal_on_spark(mm, shared_media):
    """co-domain and co-media on the Spark engine: the same SQL transpiled, the same results as DuckDB (the
    domain macro on every URL case above and on the fixture's links; edges and evidence of both behaviours on
    the multimodal fixture and on the image study, fused, without a null so every candidate edge is judged)."""
    pytest.importorskip("pyspark", reason="the spark extra is not installed (pip install 'echoscope[spark]')")
    import duckdb

    from echoscope.coordination import coactions as C
    from echoscope.coordination.api import coordinate_spark
    from echoscope.coordination.dialect import to_spark
    from echoscope.engine import spark_session, spark_target

    from .test_coordination_spark import _same_table

    urls = [u for u, _ in DOMAIN_CASES] + list(_fixture_module().SITES) + [
        "HTTP://WWW.EXAMPLE.COM/A//", "https://x.org/a\n", "https://sub.x.org\u3000", "https://a.b.c.d.e.co.uk/"]
    con = duckdb.connect()
    C.install_macros(con)
    con.register("_u", pa.table({"u": urls}))
    spark = spark_session(spark_target())
    spark.createDataFrame(pa.table({"u": urls})).createOrReplaceTempView("_t_dom")
    try:
        d = [r[0] for r in con.execute("SELECT echo_norm_domain(u) FROM _u").fetchall()]
        s = [r[0] for r in spark.sql(f"SELECT {to_spark('echo_norm_domain(u)')} FROM _t_dom").collect()]
        assert [(u, x, y) for u, x, y in zip(urls, d, s) if x != y] == []
    finally:
        spark.catalog.dropTempView("_t_dom")
    params = CoordParams(behaviours=("co-domain", "co-media"), null="none")
    key = [(c, "ascending") for c in ("behaviour", "account_a", "account_b", "gap_s", "object_id", "action_a",
                                      "action_b")]
    for study in (mm, shared_media):
        duck = coordinate(study, params, write=False)
        spk = coordinate_spark(study, params, write=False)
        _same_table(duck.edges, spk.edges, "edges")
        _same_table(duck.evidence.sort_by(key), spk.evidence.sort_by(key), "evidence")
        for b in params.behaviours:
            assert duck.summary["behaviours"][b]["candidate_edges"] > 0, b
            assert spk.summary["behaviours"][b]["actions"] == duck.summary["behaviours"][b]["actions"], b


@pytest.mark.slow
def test_spark_reads_parts_written_before_media_hashes(shared_media):
    pytest.importorskip("pyspark", reason="the spark extra is not installed (pip install 'echoscope[spark]')")
    import pyarrow.parquet as pq

    from echoscope.coordination.api import coordinate_spark

    from .test_coordination_spark import _same_table

    for p in shared_media.manifest().table_parts("posts"):
        f = shared_media.path / p
        pq.write_table(pq.read_table(f).drop_columns(["media_hashes"]), f)
    old = echoscope.open_study(shared_media.path)
    params = CoordParams(behaviours=("co-media", "co-domain"), null="none")
    duck = coordinate(old, params, write=False)
    spk = coordinate_spark(old, params, write=False)
    # the missing column is null on both engines: no co-media action, co-domain as before
    assert spk.summary["behaviours"]["co-media"]["actions"] == duck.summary["behaviours"]["co-media"]["actions"] == 0
    _same_table(duck.edges, spk.edges, "edges")
    assert duck.edges.num_rows == 12  # the six pairs of c1-c4 on three sites, as co-domain and fused

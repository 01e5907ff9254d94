"""Coordination networks on small planted studies: behaviours, significance, guard, clusters, CLI."""

from __future__ import annotations

import csv
import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest

from echoscope.coordination import COACTIONS, CoordParams, coordinate, normalise_text, normalise_url
from echoscope.engine import Engine
from echoscope.errors import ConfigError
from echoscope.findings import explain

from .conftest import ROOT

T0 = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
TS = pa.timestamp("us", tz="UTC")


def _t(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=float(seconds))


#: the planted targets' account ids and handles: the bots amplify the posts of several accounts (a fan's
#: bursts on its one idol are its habit, not evidence: the held-out test leaves each account's most amplified
#: author out, CoordParams.leave_out_top_author)
TARGETS = (("target", "ambassador"), ("embassy", "embassy"), ("consul", "consul"))


def planted(n_bots: int = 6, n_org: int = 100, n_targets: int = 24, seed: int = 1,
            n_authors: int = 3, per_org: int = 12) -> dict[str, pa.Table]:
    """Six bots repost each of 24 target posts (of three target accounts, in turn) within 20 s of each other;
    100 organic accounts repost 12 each of the same posts and 40 others at random times over the following 2
    days (the bots are about a quarter of the targets' reposters)."""
    rng = np.random.default_rng(seed)
    posts = []
    for i in range(n_targets + 40):
        posts.append(dict(post_id=f"p{i}", account_id=TARGETS[i % n_authors][0] if i < n_targets else f"author{i}",
                          kind="original", created_at=_t(i * 7200), text=f"post {i}"))
    k = 0
    for i in range(n_targets):
        for b in range(n_bots):
            posts.append(dict(post_id=f"rb{k}", account_id=f"bot{b}", kind="repost", ref_post_id=f"p{i}",
                              created_at=_t(i * 7200 + 30 + rng.uniform(0, 20))))
            k += 1
    for a in range(n_org):
        for i in rng.choice(n_targets + 40, size=per_org, replace=False):
            posts.append(dict(post_id=f"ro{k}", account_id=f"org{a}", kind="repost", ref_post_id=f"p{i}",
                              created_at=_t(i * 7200 + rng.uniform(0, 2 * 86400))))
            k += 1
    accounts = [dict(account_id=f"bot{b}", handle=f"Bot_{b}", followers_count=3,
                     created_at=_t(-86400 * (10 + b))) for b in range(n_bots)]
    accounts += [dict(account_id=f"org{a}", handle=f"org_{a}", followers_count=200 + a,
                      created_at=_t(-86400 * 900)) for a in range(n_org)]
    accounts += [dict(account_id=a, handle=h, followers_count=100000, created_at=_t(-86400 * 400))
                 for a, h in TARGETS[:n_authors]]
    status = [dict(account_id=f"bot{b}", status="suspended" if b % 2 == 0 else "active", checked_at=_t(86400 * 60))
              for b in range(n_bots)]
    return {"posts": _table(posts, {"created_at": TS}), "accounts": _table(accounts, {"created_at": TS}),
            "account_status": _table(status, {"checked_at": TS})}


def _table(rows: list[dict], types: dict) -> pa.Table:
    cols = sorted({k for r in rows for k in r})
    return pa.table({c: pa.array([r.get(c) for r in rows], types.get(c)) for c in cols})


@pytest.fixture(scope="module")
def bots(tmp_path_factory):
    import echoscope

    s = echoscope.init_study(tmp_path_factory.mktemp("bots") / "study")
    s.load_arrow(planted())
    s.set_targets(pa.table({"account_id": [a for a, _ in TARGETS], "handle": [h for _, h in TARGETS],
                            "group": ["diplomats"] * len(TARGETS), "label": [None] * len(TARGETS)},
                           schema=pa.schema([("account_id", pa.string()), ("handle", pa.string()),
                                             ("group", pa.string()), ("label", pa.string())])))
    return s


def test_planted_bots_form_the_only_coordinated_cluster(bots):
    res = coordinate(bots, CoordParams(window=60, reps=20))
    clusters = res.coordinated_clusters()
    # the six bots co-repost 24 posts within 20 s: one cluster, exactly them; organic accounts repost at random
    # times over two days, so the object-shuffle null explains their rare coincidences
    assert [sorted(c["accounts"]) for c in clusters] == [[f"bot{b}" for b in range(6)]]
    c = clusters[0]
    assert c["size"] == 6 and c["p_value"] < 1e-6
    assert c["median_followers"] == 3 and c["share_suspended"] == pytest.approx(0.5)
    # 6 bots x 8 reposts of each target's posts
    assert c["targets"] == "@ambassador (48), @consul (48), @embassy (48)"
    assert c["created_spread_days"] == pytest.approx(5.0)
    assert "co-retweet" in c["evidence"] and "s apart" in c["evidence"]
    # the default behaviours (amplification, shared-ip) fused: 15 bot pairs, each 24 posts co-reposted;
    # every judged edge of every behaviour is a bot pair
    assert res.summary["network"] == "fused" and res.summary["significant_edges"] == 15
    sig = res.edges.filter(res.edges["significant"]).to_pylist()
    co = [e for e in sig if e["behaviour"] == "co-retweet"]
    assert len(co) == 15 and all(e["n_objects"] == 24 for e in co)
    assert all(e["account_a"].startswith("bot") and e["account_b"].startswith("bot") for e in sig)
    assert res.summary["expected_false_edges"] < 0.01
    # results are stored in the study under the fixed names, with the parameters in their metadata
    m = bots.manifest().results()
    assert {"coord_edges", "coord_clusters", "coord_members", "coord_evidence"} <= set(m)
    assert m["coord_edges"]["meta"]["summary"]["parameters"]["window"] == 60


def test_low_minimum_weight_without_significance_admits_coincidence(bots):
    # with no null model every candidate edge counts: organic accounts sharing 2 posts by chance get edges
    res = coordinate(bots, CoordParams(window=86400 * 2, null="none"), write=False)
    flagged = res.flagged_accounts()
    assert any(a.startswith("org") for a in flagged)


def test_explain_by_handle_and_id(bots, cli):
    coordinate(bots, CoordParams(window=60, reps=10))
    # handles are case-insensitive; ids accepted as they are
    doc = explain(Engine(bots), "@bot_0", "bot1", evidence_limit=100)
    assert doc["account_a"] == "bot0" and doc["account_b"] == "bot1"
    assert doc["edges"][0]["significant"] and doc["cluster"] is not None
    # evidence per behaviour of the default set: the 24 co-reposts within 20 s (20 kept per edge,
    # evidence_per_edge), as early-amplify (the same posts, early) and co-latency (the same posts, in one delay
    # bucket)
    by: dict[str, list] = {}
    for r in doc["evidence"]:
        by.setdefault(r["behaviour"], []).append(r)
    assert len(by["co-retweet"]) == 20 and all(r["gap_s"] <= 20 for r in doc["evidence"])
    assert {r["object_id"] for r in by["early-amplify"]} == {r["object_id"] for r in by["co-retweet"]}
    r = cli("explain", bots.path, "@Bot_0", "@Bot_1")
    assert r.exit_code == 0 and "judged coordinated" in r.stdout
    r = cli("explain", bots.path, "@nobody", "@Bot_1")
    assert r.exit_code != 0 and "no account with handle '@nobody'" in r.stderr


def test_cli_json_edges_file_and_errors(bots, cli, tmp_path):
    out = tmp_path / "edges.csv"
    r = cli("coordinate", bots.path, "--behaviour", "co-retweet", "--window", "60", "--reps", "10", "--json",
            "--edges", out)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == {"summary", "clusters"}
    assert [sorted(c["accounts"]) for c in doc["clusters"]] == [[f"bot{b}" for b in range(6)]]
    assert doc["summary"]["parameters"]["alpha"] == 0.01 and "capped" in doc["summary"]
    assert doc["summary"]["expected_false_edges"] is not None
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15 and set(rows[0]) == {"Source", "Target", "Weight", "Type"}
    r = cli("coordinate", bots.path, "--behaviour", "co-nothing")
    assert r.exit_code == 2 and "unknown behaviour(s) co-nothing" in r.stderr
    r = cli("coordinate", bots.path, "--semantics", "coortweet", "--behaviour", "co-quote")
    assert r.exit_code == 2 and "no peer definition" in r.stderr
    r = cli("coordinate", bots.path, "--behaviour", "co-latency", "--latency-buckets", "60,ten")
    assert r.exit_code == 2 and "--latency-buckets must be comma-separated seconds" in r.stderr
    r = cli("coordinate", bots.path, "--behaviour", "early-amplify", "--early-seconds", "300", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["summary"]["parameters"]["early_seconds"] == 300.0
    assert doc["summary"]["behaviours"]["early-amplify"]["window"] == 300.0
    # without --behaviour: the default set, fused (co-retweet under the peers' semantics)
    from echoscope.coordination.params import BEHAVIOUR_SETS

    for extra, want in (((), (*BEHAVIOUR_SETS["amplification"], "co-link", "shared-ip")),
                        (("--semantics", "cnt"), ("co-retweet",))):
        r = cli("coordinate", bots.path, "--json", "--reps", "0", *extra)
        assert r.exit_code == 0, r.stderr
        doc = json.loads(r.stdout)
        assert tuple(doc["summary"]["parameters"]["behaviours"]) == want
        assert doc["summary"]["network"] == ("fused" if len(want) > 1 else "co-retweet")


def test_dense_window_guard_is_reported(tmp_path):
    import echoscope

    # 40 accounts repost one viral post within 10 s, and 2 of them also two other posts together
    posts = [dict(post_id=f"v{i}", account_id=f"a{i}", kind="repost", ref_post_id="viral", created_at=_t(i * 0.25))
             for i in range(40)]
    posts += [dict(post_id=f"x{i}{j}", account_id=f"a{i}", kind="repost", ref_post_id=f"q{j}",
                   created_at=_t(1000 * (j + 1) + i)) for i in range(2) for j in range(2)]
    # everyone also reposts one post of their own, so no account is pruned for acting on too few objects
    posts += [dict(post_id=f"o{i}", account_id=f"a{i}", kind="repost", ref_post_id=f"own{i}", created_at=_t(5000))
              for i in range(40)]
    s = echoscope.init_study(tmp_path / "s")
    s.load_arrow({"posts": _table(posts, {"created_at": TS})})
    res = coordinate(s, CoordParams(behaviours=("co-retweet",), window=60, max_window_actions=10, null="none"),
                     write=False)
    g = res.summary["capped"]["co-retweet"]
    # every one of the 40 has 39 others within 60 s (> 10): all dropped, the object named
    assert g["actions_dropped"] == 40 and g["objects_affected"] == 1 and g["top_objects"][0]["object_id"] == "viral"
    # a0 and a1 still share q0 and q1: an edge of weight 2 survives outside the dense window
    e = res.edges.to_pylist()
    assert [(x["account_a"], x["account_b"], x["n_objects"]) for x in e] == [("a0", "a1", 2)]
    exact = coordinate(s, CoordParams(behaviours=("co-retweet",), window=60, max_window_actions=None, null="none"),
                       write=False)
    assert exact.summary["capped"]["co-retweet"]["actions_dropped"] == 0
    # exact mode keeps the viral post; a2..a39 have no other co-action (their own posts have no neighbour
    # within the window), so they cannot reach weight 2 and are pruned before pairing: only a0-a1 are
    # paired, on viral, q0 and q1 (3 pairs), and they now share 3 objects
    st = exact.summary["behaviours"]["co-retweet"]
    assert st["actions_after_pruning"] == 44 and st["actions_paired"] == 6  # 40 viral + 4 on q0, q1
    assert st["pairs_within_window"] == 3
    assert [(x["account_a"], x["account_b"], x["n_objects"]) for x in exact.edges.to_pylist()] == [("a0", "a1", 3)]


def test_url_and_text_normalisation():
    assert normalise_url("https://www.Example.com/a/?utm_source=x&id=3#top") == "example.com/a?id=3"
    assert normalise_url("http://example.com/a?fbclid=abc") == "example.com/a"
    assert normalise_url("example.com/a/") == "example.com/a"
    assert normalise_url("https://EXAMPLE.com/Path/?b=2&utm_medium=y&a=1") == "example.com/Path?b=2&a=1"
    assert normalise_text("RT @bob: Hello, World!! https://t.co/x  @alice") == "hello world"
    # scripts without spaces between words: each Han / kana character is a token (punctuation and the
    # spacing between characters no longer matter); Latin words stay words
    assert normalise_text("支持大使，说得好！") == "支 持 大 使 说 得 好"
    assert normalise_text("支持 大使 说得好 #xinjiang") == "支 持 大 使 说 得 好 xinjiang"


def test_co_text_on_chinese_posts(tmp_path):
    # two accounts post the same Chinese sentences seconds apart three times: a co-text edge of weight 3
    # (before, a Chinese post was a single whitespace token, under co-text's minimum of 4, and had no action)
    texts = ["西方媒体的谎言不攻自破", "新疆是个好地方，欢迎来看看", "感谢大使分享事实"]
    posts = [dict(post_id=f"{a}{j}", account_id=a, kind="original", created_at=_t(j * 7200 + (0 if a == "A" else 20)),
                  text=t + ("！" if a == "B" else "")) for j, t in enumerate(texts) for a in "AB"]
    s = _study_with(tmp_path, posts=posts)
    r = coordinate(s, CoordParams(behaviours=("co-text",), null="none", near_duplicate=None), write=False)
    assert [(e["account_a"], e["account_b"], e["n_objects"]) for e in r.edges.to_pylist()] == [("A", "B", 3)]


def _study_with(tmp_path, **tables):
    import echoscope

    s = echoscope.init_study(tmp_path / "s")
    s.load_arrow({k: _table(v, {"created_at": TS, "ts": TS}) for k, v in tables.items()})
    return s


def test_co_link_matches_normalised_urls_but_cnt_does_not(tmp_path):
    posts = []
    for j in range(3):
        posts.append(dict(post_id=f"a{j}", account_id="A", kind="original", created_at=_t(j * 5000),
                          urls=[f"https://www.news.example/story{j}?utm_source=tw"]))
        posts.append(dict(post_id=f"b{j}", account_id="B", kind="original", created_at=_t(j * 5000 + 5),
                          urls=[f"http://news.example/story{j}/"]))
    s = _study_with(tmp_path, posts=posts)
    res = coordinate(s, CoordParams(behaviours=("co-link",), null="none"), write=False)
    assert [(e["account_a"], e["account_b"], e["n_objects"]) for e in res.edges.to_pylist()] == [("A", "B", 3)]
    raw = coordinate(s, CoordParams(behaviours=("co-link",), semantics="cnt"), write=False)
    assert raw.edges.num_rows == 0  # the toolkit compares URLs as given


def test_near_duplicate_groups_equal_the_exact_jaccard_components(monkeypatch):
    # the prefix-filter similarity join (in DuckDB) against the brute force: every pair's exact Jaccard of word
    # 3-shingles, pairs at >= 0.8 joined into components; the join is exact, so the groups must be exactly the
    # components (each named by its smallest index)
    import random

    from echoscope.coordination.text import near_duplicate_groups

    rng = random.Random(5)
    words = [f"w{i}" for i in range(60)]
    templates = [[rng.choice(words) for _ in range(rng.randint(12, 50))] for _ in range(6)]
    texts = set()
    for _ in range(120):
        t = list(rng.choice(templates))
        for _ in range(rng.choice([0, 0, 1, 2, 6])):  # mostly copies or one or two edits
            t[rng.randrange(len(t))] = rng.choice(words)
        texts.add(" ".join(t))
    texts.add("")  # no words: its own group
    texts.add("two words")
    texts = sorted(texts)

    def sh(t):
        w = t.split()
        return {" ".join(w[i:i + 3]) for i in range(len(w) - 2)} if len(w) >= 3 else set(w)

    sets = [sh(t) for t in texts]
    parent = list(range(len(texts)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(texts)):
        for j in range(i):
            if sets[i] and len(sets[i] & sets[j]) >= 0.8 * len(sets[i] | sets[j]):
                a, b = find(i), find(j)
                parent[max(a, b)] = min(a, b)
    expected = [find(i) for i in range(len(texts))]
    got = near_duplicate_groups(texts, 0.8)
    assert got == expected
    # keys above the cap propose linear candidates (each text with the key's first and its predecessor):
    # with a cap of 2 most keys of this test take that path. Verified pairs only: no group ever joins two
    # components; a family can fall apart where its members meet only through a pair the cap dropped
    monkeypatch.setattr("echoscope.coordination.text.BUCKET_CAP", 2)
    capped = near_duplicate_groups(texts, 0.8)
    assert all(expected[g] == expected[i] for i, g in enumerate(capped))
    apart = sum(1 for i, g in enumerate(capped) if g != expected[i])
    assert apart <= len(texts) // 10  # measured: 2 of 75 texts (the default cap, 256, is above 1M's keys)
    # the test has real groups: 75 distinct texts in 59 groups (copies are one text; one edit in a long
    # template stays above 0.8, in a short one or several edits fall below it)
    assert len(set(expected)) <= len(texts) - 10


def test_co_text_near_duplicates_and_fused_network(tmp_path):
    base = ["the ambassador gave a truly great speech today about trade and friendship",
            "our nation stands with the embassy against all the lies of the western media",
            "join us in thanking the consul for the generous gift of vaccines to the city"]
    posts = []
    for j, t in enumerate(base):
        posts.append(dict(post_id=f"a{j}", account_id="A", kind="original", created_at=_t(j * 9000), text=t))
        # B changes one word at the end: near-identical, not identical
        posts.append(dict(post_id=f"b{j}", account_id="B", kind="original", created_at=_t(j * 9000 + 30),
                          text=t.rsplit(" ", 1)[0] + " indeed", hashtags=["x", "y", f"t{j}"]))
        posts.append(dict(post_id=f"c{j}", account_id="A", kind="original", created_at=_t(j * 9000 + 40),
                          text="unrelated words here now " + str(j), hashtags=["Y", f"T{j}", "X"]))
    s = _study_with(tmp_path, posts=posts)
    exact = coordinate(s, CoordParams(behaviours=("co-text",), null="none", near_duplicate=None), write=False)
    assert exact.edges.num_rows == 0
    near = coordinate(s, CoordParams(behaviours=("co-text", "co-hashtag"), null="none", near_duplicate=0.7),
                      write=False)
    by = {(e["behaviour"], e["account_a"], e["account_b"]): e for e in near.edges.to_pylist()}
    assert by[("co-text", "A", "B")]["n_objects"] == 3
    assert by[("co-hashtag", "A", "B")]["n_objects"] == 3  # {x, y, tj} = {Y, Tj, X}
    fused = by[("fused", "A", "B")]
    assert fused["n_objects"] == 6 and near.summary["network"] == "fused"


def test_shared_ip_and_rapid_fire(tmp_path):
    logins = [dict(account_id=a, ts=_t(d * 86400), ip_hash=f"ip{d % 2}", device_hash=None)
              for a in ("A", "B") for d in range(4)] + [dict(account_id="C", ts=_t(0), ip_hash="ip9")]
    posts = [dict(post_id=f"p{i}", account_id="T", kind="original", created_at=_t(i * 3600)) for i in range(3)]
    posts += [dict(post_id=f"r{a}{i}", account_id=a, kind="repost", ref_post_id=f"p{i}",
                   created_at=_t(i * 3600 + (3 if a == "A" else 8 if a == "B" else 40))) for a in "ABC"
              for i in range(3)]
    s = _study_with(tmp_path, posts=posts, logins=logins)
    ip = coordinate(s, CoordParams(behaviours=("shared-ip",), null="none"), write=False)
    # A and B share ip0 and ip1 (on different days: shared infrastructure has no window); C shares nothing
    assert [(e["account_a"], e["account_b"], e["n_objects"]) for e in ip.edges.to_pylist()] == [("A", "B", 2)]
    rf = coordinate(s, CoordParams(behaviours=("rapid-fire",), null="none", rapid_seconds=10), write=False)
    # A (3 s) and B (8 s) amplify all three posts within 10 s of publication; C (40 s) is not rapid
    assert [(e["account_a"], e["account_b"], e["n_objects"]) for e in rf.edges.to_pylist()] == [("A", "B", 3)]
    co = coordinate(s, CoordParams(behaviours=("co-retweet",), null="none"), write=False)
    assert co.edges.num_rows == 3  # within 60 s all three co-retweet
    # rapid-fire's null assigns accounts to *all* of a post's amplification slots (A, B and C), not only the
    # rapid ones: per post, 2 ordered pairs of rapid actions are within the window out of 3 x 2 ordered slot
    # pairs, so q = 1/3 and the A-B null mean is 3 x 1/3 = 1.0 (with only the rapid slots it would be 3.0:
    # every rapid pair is within the window, and rapid-fire could never be significant)
    rfn = coordinate(s, CoordParams(behaviours=("rapid-fire",), reps=0, rapid_seconds=10), write=False)
    e = rfn.edges.to_pylist()
    assert [(x["account_a"], x["account_b"]) for x in e] == [("A", "B")]
    assert e[0]["null_mean"] == pytest.approx(1.0)
    assert rfn.summary["behaviours"]["rapid-fire"]["null"]["reference"] is True



def test_reference_null_counts_every_object_an_account_acted_on(tmp_path):
    """rapid-fire's null sums q_o over *every* post both accounts amplified, not only those where they were rapid.

    Posts p0-p2: A (3 s) and B (8 s) are rapid, C (40 s) is not: 2 ordered rapid pairs of 3 x 2 slot pairs,
    q = 1/3. Posts p3-p5: C (2 s) and D (5 s) are rapid, A (100 s) and B (200 s) amplify them too: 2 of 4 x 3,
    q = 1/6. A and B could have been the rapid pair on p3-p5 as well, so their null mean is
    3 x 1/3 + 3 x 1/6 = 1.5 (summing over the posts where they were rapid only gave 1.0: the null then never
    asks how often two accounts are rapid together *given* how often they amplify together, and every
    active account looked coordinated). C and D share only p3-p5 (D did not amplify p0-p2): 3 x 1/6 = 0.5.
    """
    posts = [dict(post_id=f"p{i}", account_id="T", kind="original", created_at=_t(i * 3600)) for i in range(6)]
    lat = {"A": (3, 100), "B": (8, 200), "C": (40, 2), "D": (None, 5)}
    for a, (first, second) in lat.items():
        for i in range(6):
            d = first if i < 3 else second
            if d is not None:
                posts.append(dict(post_id=f"r{a}{i}", account_id=a, kind="repost", ref_post_id=f"p{i}",
                                  created_at=_t(i * 3600 + d)))
    s = _study_with(tmp_path, posts=posts)
    res = coordinate(s, CoordParams(behaviours=("rapid-fire",), reps=0, rapid_seconds=10), write=False)
    lam = {(e["account_a"], e["account_b"]): e["null_mean"] for e in res.edges.to_pylist()}
    assert lam == {("A", "B"): pytest.approx(1.5), ("C", "D"): pytest.approx(0.5)}


def test_early_amplify_and_co_latency_pair_by_delay_after_the_post(tmp_path):
    """early-amplify: any two engagements within --early-seconds of the post co-act, however far apart;
    co-latency: two engagements in the same delay bucket co-act.

    On each of three posts A answers after 20 s, B after 250 s and C after 500 s (D after 2 hours, the
    organic crowd). Within 60 s of each other: nobody (co-retweet has no edge). Within 600 s of the post: A,
    B and C, every pair. Delay buckets (10-60], (60-300], (300-1800]: each of A, B, C alone in its bucket, so
    with the 300 s edge moved to 600 s, B and C share a bucket and only they co-act.
    """
    posts = [dict(post_id=f"p{i}", account_id="T", kind="original", created_at=_t(i * 86400)) for i in range(3)]
    for a, d in (("A", 20), ("B", 250), ("C", 500), ("D", 7200)):
        for i in range(3):
            posts.append(dict(post_id=f"r{a}{i}", account_id=a, kind="repost" if a != "C" else "reply",
                              ref_post_id=f"p{i}", created_at=_t(i * 86400 + d)))
    s = _study_with(tmp_path, posts=posts)
    co = coordinate(s, CoordParams(behaviours=("co-retweet",), null="none"), write=False)
    assert co.edges.num_rows == 0
    early = coordinate(s, CoordParams(behaviours=("early-amplify",), null="none", early_seconds=600), write=False)
    assert {(e["account_a"], e["account_b"], e["n_objects"]) for e in early.edges.to_pylist()} == {
        ("A", "B", 3), ("A", "C", 3), ("B", "C", 3)}
    # the behaviour's own window (early_seconds), reported per behaviour; --window stays 60 s for the others
    assert early.summary["behaviours"]["early-amplify"]["window"] == 600.0
    assert early.summary["parameters"]["window"] == 60.0
    lat = coordinate(s, CoordParams(behaviours=("co-latency",), null="none"), write=False)
    assert lat.edges.num_rows == 0
    lat = coordinate(s, CoordParams(behaviours=("co-latency",), null="none", latency_buckets=(10, 60, 600, 1800)),
                     write=False)
    assert [(e["account_a"], e["account_b"], e["n_objects"]) for e in lat.edges.to_pylist()] == [("B", "C", 3)]
    # the null: per post, 4 engagements (slots); early-amplify has 3 early ones, 3 x 2 ordered pairs of 4 x 3
    # slot pairs: q = 1/2, and a pair that shares three posts has a null mean of 1.5
    en = coordinate(s, CoordParams(behaviours=("early-amplify",), reps=0), write=False)
    assert {round(e["null_mean"], 9) for e in en.edges.to_pylist()} == {1.5}


def test_parameters_are_validated():
    with pytest.raises(ConfigError, match="--window must be a positive"):
        CoordParams(window=0).validate()
    with pytest.raises(ConfigError, match="--alpha"):
        CoordParams(alpha=2).validate()
    with pytest.raises(ConfigError, match="--semantics must be one of"):
        CoordParams(semantics="x").validate()
    with pytest.raises(ConfigError, match="--early-seconds"):
        CoordParams(early_seconds=0).validate()
    with pytest.raises(ConfigError, match="--latency-buckets must be increasing"):
        CoordParams(latency_buckets=(60, 10)).validate()
    with pytest.raises(ConfigError, match="--semantics cnt covers only"):
        CoordParams(behaviours=("early-amplify",), semantics="cnt").validate()


def test_docs_cover_commands_and_behaviours():
    doc = (ROOT / "docs" / "coordination.md").read_text()
    for word in ["echoscope coordinate", "echoscope explain", "--semantics", "--min-repeat", "--alpha", *COACTIONS]:
        assert word in doc, word


def test_cross_fitted_validation_sums_own_group_evidence_over_folds():
    """The held-out test of each account against its own group, summed over the two folds.

    Account ``m`` (in group 1 in both folds) co-acts with its group on 3 held-out objects in each fold with a
    null mean of 0.5 each: alone, a fold gives P(Poisson(0.5) >= 3) = 0.0144, which does not pass
    Benjamini-Hochberg at 0.01; summed, P(Poisson(1.0) >= 6) = 0.00059 passes. ``n`` (same group, strong)
    passes either way. ``u`` is in no group: its best p-value (already times the number of groups) is doubled
    for the two folds: 2 * 0.004 = 0.008, and with three of 40 accounts kept the BH cut-off is
    0.01 * 3 / 40 = 0.00075, so it is not kept. ``lone`` passes but is the only kept member of group 7, so
    it is dropped (a group needs two kept accounts).
    """
    from echoscope.coordination.validation import _combine_folds, _FoldTest

    others = [f"o{i}" for i in range(36)]
    tested = ["m", "n", "u", "lone", *others]
    group = {"m": 1, "n": 1, "lone": 7}
    folds = []
    for _ in range(2):
        own = {"m": (3.0, 0.5), "n": (12.0, 1.0), "lone": (10.0, 0.5)}
        best = {"u": (0.004, 1)}
        folds.append(_FoldTest({}, tested, dict(group), own, best))
    kept = _combine_folds(folds, 0.01)
    assert kept == {"m", "n"}
    # one fold's evidence for m is not enough (0.0144 > 0.01 * 2 / 40); n then passes alone, and a group of
    # one kept account is no group: nothing is kept
    one = _combine_folds([_FoldTest({}, tested, dict(group), {"m": (3.0, 0.5), "n": (12.0, 1.0)}, {})], 0.01)
    assert one == set()


def test_validation_lift_floor_drops_large_but_weak_excess():
    """``min_lift``: 200 co-actions against a null mean of 150 are significant (z = 4.1, p ~ 1e-4) but only
    1.33 times the null: an active account slightly faster than most, not a campaign member (lift 1.8 to
    4+ on the simulator). With the floor at 1.5 it is dropped; ``b`` (30 vs 10, lift 3) stays."""
    from echoscope.coordination.validation import _combine_folds, _FoldTest

    tested = ["a", "b", "c", *[f"o{i}" for i in range(7)]]
    own = {"a": (200.0, 150.0), "b": (30.0, 10.0), "c": (40.0, 12.0)}
    group = {"a": 1, "b": 1, "c": 1}
    assert _combine_folds([_FoldTest({}, tested, group, own, {})], 0.01, 1.0) == {"a", "b", "c"}
    assert _combine_folds([_FoldTest({}, tested, group, own, {})], 0.01, 1.5) == {"b", "c"}


def test_behaviour_sets_expand_in_place():
    # a named set expands where it stands, duplicates keep their first place; unknown names list the sets
    from echoscope.coordination.params import BEHAVIOUR_SETS

    p = CoordParams(behaviours=("co-link", "amplification", "co-retweet"))
    assert p.behaviours == ("co-link",) + BEHAVIOUR_SETS["amplification"]
    assert "early-amplify" in p.behaviours and "co-latency" in p.behaviours
    p.validate()
    with pytest.raises(ConfigError, match="or a set: amplification"):
        CoordParams(behaviours=("co-retweets",)).validate()


def test_shared_ip_judged_by_the_configuration_null(tmp_path):
    # A and B log in from the same four addresses (on different days), each also from one of its own; 30 other
    # accounts use one address of their own, and 5 of them one shared household address. Under the bipartite
    # configuration null (degrees kept, which account sits on which address random) the A-B mean is
    # d_A d_B sum df(df-1) / (sum df)^2 = 5 * 5 * (4 * 2 + 5 * 4) / 70^2 = 0.143, so sharing 4 addresses has
    # p ~ 2e-5: judged coordinated. The timestamp shuffles (the timed behaviours' calibration) would give back
    # the observed network itself here, so they are not used (before, no shared-ip edge was ever judged)
    logins = [dict(account_id=a, ts=_t(d * 86400), ip_hash=f"shared{d}", device_hash=None)
              for a in ("A", "B") for d in range(4)]
    logins += [dict(account_id=a, ts=_t(5 * 86400), ip_hash=f"own{a}", device_hash=None) for a in ("A", "B")]
    logins += [dict(account_id=f"U{i}", ts=_t(i * 600), ip_hash=f"ownU{i}", device_hash=None) for i in range(30)]
    logins += [dict(account_id=f"U{i}", ts=_t(i * 600 + 60), ip_hash="household" if i < 5 else f"ownV{i}",
                    device_hash=None) for i in range(30)]
    s = _study_with(tmp_path, logins=logins)
    r = coordinate(s, CoordParams(behaviours=("shared-ip",)), write=False)
    e = r.edges.to_pylist()
    assert [(x["account_a"], x["account_b"], x["n_objects"]) for x in e] == [("A", "B", 4)]
    assert e[0]["null_mean"] == pytest.approx(25 * 28 / 70**2)
    assert e[0]["significant"] and e[0]["p_value"] < 1e-4
    assert r.summary["behaviours"]["shared-ip"]["null"]["reps"] == 0


def test_shared_ip_cap_is_reported(tmp_path, cli):
    # 60 accounts behind one carrier-NAT address (more than the default 50 others): left out and reported;
    # A and B still share two addresses of their own
    logins = [dict(account_id=f"U{i}", ts=_t(i * 60), ip_hash="nat", device_hash=f"d{i}") for i in range(60)]
    logins += [dict(account_id=a, ts=_t(d * 86400), ip_hash=f"shared{d}", device_hash=None)
               for a in ("A", "B") for d in range(2)]
    s = _study_with(tmp_path, logins=logins)
    r = cli("coordinate", s.path, "--behaviour", "shared-ip")
    assert r.exit_code == 0, r.output
    assert "1 address(es) or device(s) used by more than 50 other accounts left out (60 action(s))" in r.stdout
    res = coordinate(s, CoordParams(behaviours=("shared-ip",)), write=False)
    assert [(e["account_a"], e["account_b"]) for e in res.edges.to_pylist()] == [("A", "B")]

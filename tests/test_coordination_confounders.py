"""Issue 16 on a small planted platform: who shares (the co-sharing test), authentic bursts judged against the
author's own audience, and what kind of cluster it is.

The platform (:func:`platform`): 200 ordinary accounts reposting and replying at ordinary delays (an hour or so,
long tailed) and posting links of their own, with the study's three targets, an idol and two news outlets among
the authors they engage; 30 fans of the idol who repost half of its posts within a minute; 8 bots that repost
the targets' posts in waves within seconds (a wave on three posts in five); 4 independent news bots that
repost every post of the two outlets within seconds; 6 accounts posting the same private links about an hour
apart (three of them per link, 24 links); and 40 ordinary accounts sharing one popular link.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from echoscope.coordination import CoordParams, coordinate
from echoscope.coordination.cosharing import configuration_null
from echoscope.coordination.kinds import KIND_RULES, word_cluster
from echoscope.coordination.params import COSHARING_WINDOWS, behaviour_params, judged_by_cosharing

from .test_coordination import TS, _t, _table

TARGETS = ("t1", "t2", "t3")
DAY = 86400.0


def platform(seed: int = 3) -> dict[str, pa.Table]:
    """The planted platform of the module docstring, as canonical tables."""
    rng = np.random.default_rng(seed)
    posts: list[dict] = []
    authors = {**{t: 16 for t in TARGETS}, "idol": 40, "n1": 40, "n2": 40, **{f"au{i}": 8 for i in range(20)}}
    by: dict[str, list[tuple[str, float]]] = {}
    k = 0
    for a, n in authors.items():
        for j in range(n):
            ts = float(rng.uniform(0, 30 * DAY))
            # the news outlets post their articles' links
            urls = [f"https://{a}.example/article/{j}"] if a in ("n1", "n2") else None
            posts.append(dict(post_id=f"{a}_p{j}", account_id=a, kind="original", created_at=_t(ts), text=f"{a} {j}",
                              urls=urls))
            by.setdefault(a, []).append((f"{a}_p{j}", ts))

    def act(acc: str, post: tuple[str, float], delay: float, kind: str = "repost") -> None:
        nonlocal k
        posts.append(dict(post_id=f"e{k}", account_id=acc, kind=kind, ref_post_id=post[0],
                          created_at=_t(post[1] + delay)))
        k += 1

    every = [p for a in authors for p in by[a]]
    for i in range(200):  # ordinary users: 25 engagements each, delays of about an hour (log-sd 2)
        for j in rng.choice(len(every), 25, replace=False):
            act(f"org{i}", every[j], float(rng.lognormal(np.log(3600), 2.0)), "reply" if j % 5 == 0 else "repost")
    for f in range(30):  # fans: half of the idol's posts within a minute, and ordinary sharing besides
        for p in by["idol"]:
            if rng.random() < 0.5:
                act(f"fan{f}", p, float(min(55.0, rng.lognormal(np.log(15), 0.8))))
        for j in rng.choice(len(every), 10, replace=False):
            act(f"fan{f}", every[j], float(rng.lognormal(np.log(3600), 2.0)))
    for t in TARGETS:  # bots: waves of five on three target posts in five, within seconds
        for p in by[t]:
            if rng.random() < 0.6:
                for b in rng.choice(8, 5, replace=False):
                    act(f"bot{b}", p, float(rng.lognormal(np.log(9), 0.8)))
    for g in range(4):  # independent news bots: every post of both outlets within seconds
        for p in by["n1"] + by["n2"]:
            act(f"agg{g}", p, float(rng.lognormal(np.log(6), 0.5)))
    for i in range(200):  # ordinary users' own posts with links of their own (5 each)
        for j in range(5):
            posts.append(dict(post_id=f"u{i}_{j}", account_id=f"org{i}", kind="original", text=f"news {i} {j}",
                              created_at=_t(rng.uniform(0, 30 * DAY)), urls=[f"https://site{i % 17}.example/{i}/{j}"]))
    for j in range(24):  # six accounts posting the same private links, three per link, hours apart
        t0 = float(rng.uniform(0, 29 * DAY))
        for n, s in enumerate(rng.choice(6, 3, replace=False)):
            posts.append(dict(post_id=f"l{j}_{s}", account_id=f"linker{s}", kind="original",
                              created_at=_t(t0 + n * 3000 + rng.uniform(0, 600)), text=f"read this {j}",
                              urls=[f"https://news.example.cn/a/{j}.html?utm_source=x{n}"]))
    for i in range(40):  # a popular link shared by 40 ordinary users over two days
        posts.append(dict(post_id=f"pop{i}", account_id=f"org{i}", kind="original",
                          created_at=_t(5 * DAY + rng.uniform(0, 2 * DAY)), text="look", urls=["https://popular.example/x"]))
    names = sorted({p["account_id"] for p in posts})
    accounts = [dict(account_id=a, handle=a, followers_count=100, created_at=_t(-400 * DAY)) for a in names]
    return {"posts": _table(posts, {"created_at": TS}), "accounts": _table(accounts, {"created_at": TS})}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import echoscope

    s = echoscope.init_study(tmp_path_factory.mktemp("confounders") / "study")
    s.load_arrow(platform())
    s.set_targets(pa.table({"account_id": list(TARGETS), "handle": list(TARGETS), "group": ["diplomats"] * 3,
                            "label": [None] * 3},
                           schema=pa.schema([("account_id", pa.string()), ("handle", pa.string()),
                                             ("group", pa.string()), ("label", pa.string())])))
    return s


@pytest.fixture(scope="module")
def default_run(study):
    return coordinate(study, CoordParams(behaviours=("default",), reps=5), write=False)


def _members(res, prefix: str) -> set[str]:
    return {a for a in res.flagged_accounts() if a.startswith(prefix)}


def test_windows_of_the_object_behaviours():
    p = CoordParams()
    # judged by who shares, each at its own window (hours: a news cycle for links, a day for texts)
    assert judged_by_cosharing("co-link", p) and behaviour_params("co-link", p).window == COSHARING_WINDOWS["co-link"]
    assert behaviour_params("co-text", p).window == 86400.0 and behaviour_params("co-retweet", p).window == 60.0
    assert behaviour_params("co-link", CoordParams(object_window=600)).window == 600.0
    # the peers' semantics and cosharing=False keep the timing null at --window
    assert not judged_by_cosharing("co-link", CoordParams(cosharing=False))
    assert behaviour_params("co-link", CoordParams(cosharing=False)).window == 60.0
    assert not judged_by_cosharing("co-link", CoordParams(behaviours=("co-retweet",), semantics="cnt"))


def test_configuration_null_by_hand():
    """lambda = sum over the objects of s of min(1, (df_o - 1) d_t / (M - d_s)), s the account with fewer objects."""
    import duckdb

    con = duckdb.connect()
    # a: o1 o2 o3; b: o1 o2 o4 o5; c: o1 o6 -> M = 9; degrees a 3, b 4, c 2; df o1 3, o2 2, others 1
    rows = [("a", "o1"), ("a", "o2"), ("a", "o3"), ("b", "o1"), ("b", "o2"), ("b", "o4"), ("b", "o5"), ("c", "o1"),
            ("c", "o6")]
    con.register("_r", pa.table({"account_id": [r[0] for r in rows], "object_id": [r[1] for r in rows]}))
    con.execute("CREATE TEMP TABLE _ca_raw AS SELECT account_id, object_id, 'x' AS action_id, 0.0 AS ts FROM _r")
    con.execute("CREATE TEMP TABLE _ca_acc AS SELECT * FROM (VALUES ('a', 1), ('b', 2), ('c', 3)) t(account_id, aid)")
    con.execute("CREATE TEMP TABLE _ca_edges AS SELECT * FROM (VALUES (1, 2), (1, 3)) t(a, b)")
    stats = configuration_null(con, CoordParams())
    lam = dict(((a, b), x) for a, b, x in con.execute("SELECT a, b, lam FROM _ca_nulllam").fetchall())
    assert stats["incidences"] == 9
    # a-b: s = a (3 objects), t = b (4): o1 (df 3) 2*4/6, o2 (df 2) 1*4/6, o3 (df 1) 0 -> 12/6 = 2, capped per
    # object at 1: min(1, 8/6) + 4/6 = 1 + 2/3
    assert lam[(1, 2)] == pytest.approx(1 + 2 / 3)
    # a-c: s = c (2 objects), t = a (3): o1 2*3/7, o6 0
    assert lam[(1, 3)] == pytest.approx(6 / 7)


def test_private_links_shared_hours_apart_are_found_by_who_shares(study, default_run):
    # six accounts, three per private link, about an hour apart: no timing evidence (nobody else shares the
    # links), yet the same few accounts share the same links again and again
    assert _members(default_run, "linker") == {f"linker{i}" for i in range(6)}
    edges = default_run.edges.filter(pa.compute.equal(default_run.edges["behaviour"], "co-link")).to_pylist()
    sig = [e for e in edges if e["significant"]]
    assert sig and all(e["account_a"].startswith("linker") and e["account_b"].startswith("linker") for e in sig)
    assert all(e["weight"] > 10 * e["null_mean"] for e in sig)
    # the 40 accounts sharing one popular link: one object in common, no edge (and none flagged for it)
    assert not _members(default_run, "org")
    # the timing null at 60 s (as before issue 16) finds no linker: nobody else's times to compare with
    timing = coordinate(study, CoordParams(behaviours=("co-link",), cosharing=False, reps=5), write=False)
    assert not _members(timing, "linker")


def test_fans_bursting_on_their_idol_are_not_coordinated(study, default_run):
    """Fans repost half of the idol's posts within a minute, the public hours later: judged against the idol's
    own audience (mostly the fans), with the idol -- their usual subject -- left out, they are no evidence;
    the bots amplifying three targets whose other amplifiers are slow are."""
    assert _members(default_run, "bot") == {f"bot{i}" for i in range(8)}
    assert not _members(default_run, "fan")
    assert not _members(default_run, "org")
    # the older null (group's slots fixed, the fan a random slot among the others: the slow public) passes them
    old = coordinate(study, CoordParams(behaviours=("default",), reps=5, group_null="outside",
                                        leave_out_top_author=False), write=False)
    assert len(_members(old, "fan")) >= 10


def test_cluster_kinds_and_order(default_run):
    rows = default_run.clusters.to_pylist()
    by = {frozenset(c["accounts"]): c for c in default_run.coordinated_clusters()}
    bots = next(c for k, c in by.items() if "bot0" in k)
    news = next(c for k, c in by.items() if "agg0" in k)
    links = next(c for k, c in by.items() if "linker0" in k)
    # every bot action amplifies a target; the clusters that amplify the targets come first
    assert bots["kind"] == "targets" and bots["label"] == "amplifies the targets" and bots["target_share"] == 1.0
    assert bots["cluster_id"] == 1 and [r["amplifies_targets"] for r in rows] == sorted(
        (r["amplifies_targets"] for r in rows), reverse=True)
    # the news bots: reposts only, of two accounts, within seconds: two automation signs
    assert news["kind"] == "automated" and news["repost_share"] == 1.0 and news["top_sources_share"] == 1.0
    assert "near-constant delay" in news["automation"] and news["label"].startswith("automated reposting")
    # the linkers share links nobody else shares and amplify no target
    assert links["kind"] == "content" and links["target_share"] == 0.0
    # every post they repost carries a link: news accounts
    assert news["source_link_share"] == 1.0 and news["label"] == "automated reposting of news accounts, no target"
    text = word_cluster(news)
    assert text.startswith("automated reposting of news accounts, no target: 4 accounts")
    assert text.endswith("Coordination is not proof of inauthenticity.")
    assert [r.kind for r in KIND_RULES][0] == "targets" and KIND_RULES[-1].test({})


def test_automated_label_names_news_accounts_only_when_their_posts_carry_links():
    # two automation signs and only reposts: "news accounts" when most posts engaged with carry a link
    row = {"automation": "near-constant delay after the post, engages a few accounts only", "repost_share": 1.0,
           "target_share": 0.0}
    first = next(r for r in KIND_RULES if r.test({**row, "source_link_share": 0.9}))
    other = next(r for r in KIND_RULES if r.test({**row, "source_link_share": 0.1}))
    assert (first.kind, first.label) == ("automated", "automated reposting of news accounts, no target")
    assert (other.kind, other.label) == ("automated", "automated reposting of a few accounts, no target")


@pytest.fixture(scope="module")
def outlet_study(tmp_path_factory):
    """The platform with the private links published first by the target t1 (a state-media outlet posting its
    own articles' links, which the six linkers then share), and t1 also sharing, later, a link someone else
    published."""
    import echoscope

    tabs = platform()
    posts = tabs["posts"].to_pylist()
    first = {}
    for p in posts:
        if p["post_id"].startswith("l") and "_" in p["post_id"] and p["urls"]:
            j = p["post_id"][1:].split("_")[0]
            first[j] = min(first.get(j, p["created_at"]), p["created_at"])
    extra = [dict(post_id=f"t1_l{j}", account_id="t1", kind="original", created_at=t0 - dt.timedelta(minutes=30),
                  text=f"our article {j}", urls=[f"https://news.example.cn/a/{j}.html"]) for j, t0 in first.items()]
    # t1 shares, an hour after an ordinary user, a link that user published
    u = next(p for p in posts if p["post_id"] == "u0_0")
    extra.append(dict(post_id="t1_share", account_id="t1", kind="original", text="worth reading",
                      created_at=u["created_at"] + dt.timedelta(hours=1), urls=list(u["urls"])))
    rows = [{k: p.get(k) for k in ("post_id", "account_id", "kind", "ref_post_id", "created_at", "text", "urls")}
            for p in posts + extra]
    s = echoscope.init_study(tmp_path_factory.mktemp("outlet") / "study")
    s.load_arrow({"posts": _table(rows, {"created_at": TS}), "accounts": tabs["accounts"]})
    s.set_targets(pa.table({"account_id": list(TARGETS), "handle": list(TARGETS), "group": ["diplomats"] * 3,
                            "label": [None] * 3},
                           schema=pa.schema([("account_id", pa.string()), ("handle", pa.string()),
                                             ("group", pa.string()), ("label", pa.string())])))
    return s


def test_a_target_publishing_the_links_its_amplifiers_share_is_not_one_of_them(outlet_study):
    """A target's own first share of a link is the original the others amplify (stages.drop_target_originals):
    the linkers are found, the outlet is not in their cluster; counted as a co-action (--target-originals) it is."""
    res = coordinate(outlet_study, CoordParams(behaviours=("co-link",), reps=5), write=False)
    stats = res.summary["behaviours"]["co-link"]
    # its 24 publications are dropped; its later share of an ordinary user's link is not a publication
    assert stats["target_originals_dropped"] == 24
    assert _members(res, "linker") == {f"linker{i}" for i in range(6)}
    assert "t1" not in res.flagged_accounts()
    edges = res.edges.to_pylist()
    assert not [e for e in edges if "t1" in (e["account_a"], e["account_b"]) and e["significant"]]
    assert "target_ids" not in res.summary["parameters"] and res.summary["parameters"]["target_originals"] is False
    counted = coordinate(outlet_study, CoordParams(behaviours=("co-link",), reps=5, target_originals=True),
                         write=False)
    assert "target_originals_dropped" not in counted.summary["behaviours"]["co-link"]
    assert "t1" in counted.flagged_accounts()
    assert _members(counted, "linker") == {f"linker{i}" for i in range(6)}


def test_the_targets_publications_left_out_are_one_number_in_the_console_and_the_report(outlet_study, tmp_path):
    """The count of the targets' own first shares not counted is computed once (the run's summary,
    ``target_originals``) and read by the console and the report."""
    import re

    from echoscope.report import render_report

    from .conftest import _invoke

    r = _invoke("coordinate", outlet_study.path, "-b", "co-link", "--reps", "5")
    assert r.exit_code == 0, r.stderr
    assert "co-link: 24 first share(s) by the study's targets" in " ".join(r.stdout.split())
    render_report(outlet_study, tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    span = re.search(r'<span id="target-originals">(.*?)</span>', html, re.S)
    assert span and re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", span.group(1))).endswith("co-link 24.")

"""Findings queries (echoscope.findings) on a small planted study whose expected rows are known by construction.

The study (``planted``): the target @ambassador posts 12 statements two hours apart; six bots (@Bot_0 ..
@Bot_5) repost every statement, bot ``b`` exactly ``30 + 3 b`` seconds after it; 40 organic accounts each
repost 6 of the 32 posts at random times over two days. ``echoscope coordinate --behaviour co-retweet`` then
finds one coordinated cluster: the six bots. So:

- 15 bot pairs x 12 statements = 180 co-actions between members, each gap ``3 |b - c|`` seconds;
- the bots amplified the target 6 x 12 = 72 times; bots 0, 2, 4 are later suspended (share 50%);
- bot 0 co-acts with each of the five other bots on the 12 statements (60 rows).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pytest

from echoscope import findings as F
from echoscope.engine import Engine
from echoscope.errors import ConfigError, StudyError

T0 = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
TS = pa.timestamp("us", tz="UTC")
N_BOTS, N_ORG, N_STATEMENTS = 6, 40, 12


def _t(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=float(seconds))


def _table(rows: list[dict], types: dict | None = None) -> pa.Table:
    types = types or {}
    cols = sorted({k for r in rows for k in r})
    return pa.table({c: pa.array([r.get(c) for r in rows], types.get(c)) for c in cols})


def planted_tables(seed: int = 3) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    posts = [dict(post_id=f"p{i}", account_id="target", kind="original", created_at=_t(i * 7200),
                  text=f"statement {i}") for i in range(N_STATEMENTS)]
    posts += [dict(post_id=f"q{j}", account_id=f"author{j}", kind="original", created_at=_t(j * 5000 + 300),
                   text=f"other {j}") for j in range(20)]
    for i in range(N_STATEMENTS):
        for b in range(N_BOTS):
            posts.append(dict(post_id=f"rb{i}_{b}", account_id=f"bot{b}", kind="repost", ref_post_id=f"p{i}",
                              ref_account_id="target", created_at=_t(i * 7200 + 30 + 3 * b)))
    every = [(f"p{i}", i * 7200, "target") for i in range(N_STATEMENTS)] + \
        [(f"q{j}", j * 5000 + 300, f"author{j}") for j in range(20)]
    for a in range(N_ORG):
        for k in rng.choice(len(every), size=6, replace=False):
            pid, t, author = every[int(k)]
            posts.append(dict(post_id=f"ro{a}_{k}", account_id=f"org{a}", kind="repost", ref_post_id=pid,
                              ref_account_id=author, created_at=_t(t + rng.uniform(0, 2 * 86400))))
    accounts = [dict(account_id=f"bot{b}", handle=f"Bot_{b}", display_name=f"Bot {b}", followers_count=3,
                     created_at=_t(-86400 * (10 + b))) for b in range(N_BOTS)]
    accounts += [dict(account_id=f"org{a}", handle=f"org_{a}", followers_count=200 + a, created_at=_t(-86400 * 900))
                 for a in range(N_ORG)]
    accounts += [dict(account_id=f"author{j}", handle=f"author_{j}", created_at=_t(-86400 * 500)) for j in range(20)]
    accounts.append(dict(account_id="target", handle="ambassador", followers_count=100000, created_at=_t(-86400 * 400)))
    status = [dict(account_id=f"bot{b}", status="suspended" if b % 2 == 0 else "active", checked_at=_t(86400 * 60))
              for b in range(N_BOTS)]
    return {"posts": _table(posts, {"created_at": TS}), "accounts": _table(accounts, {"created_at": TS}),
            "account_status": _table(status, {"checked_at": TS})}


def write_scores(study) -> None:
    """Hand-written account results in the score stage's shape: bots 0.9 (high risk), org_0 0.1."""
    reason = pa.struct([("signal", pa.string()), ("value", pa.float64()), ("text", pa.string())])
    rows = [{"account_id": f"bot{b}", "handle": f"Bot_{b}", "score": 0.9, "rank": b + 1, "high_risk": True,
             "mode": "rules", "n_signals": 1, "reasons": [{"signal": "followers", "value": 3.0,
                                                           "text": "3 followers"}], "reasons_text": "3 followers"}
            for b in range(N_BOTS)]
    rows.append({"account_id": "org0", "handle": "org_0", "score": 0.1, "rank": 7, "high_risk": False,
                 "mode": "rules", "n_signals": 0, "reasons": [], "reasons_text": ""})
    schema = pa.schema([("account_id", pa.string()), ("handle", pa.string()), ("score", pa.float64()),
                        ("rank", pa.int64()), ("high_risk", pa.bool_()), ("mode", pa.string()),
                        ("n_signals", pa.int64()), ("reasons", pa.list_(reason)), ("reasons_text", pa.string())])
    signals = pa.table({"account_id": [f"bot{b}" for b in range(N_BOTS)], "signal": ["followers"] * N_BOTS,
                        "value": [3.0] * N_BOTS, "strength": [1.0] * N_BOTS, "text": ["3 followers"] * N_BOTS})
    summary = {"mode": "rules", "accounts": 7, "high_risk": 6, "high_risk_threshold": 0.7}
    study.write_results({"account_signals": signals, "account_scores": pa.Table.from_pylist(rows, schema=schema)},
                        meta={"summary": summary}, analysis="accounts")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    import echoscope
    from echoscope.coordination import CoordParams, coordinate

    s = echoscope.init_study(tmp_path_factory.mktemp("findings") / "study")
    s.load_arrow(planted_tables())
    s.set_targets(pa.table({"account_id": ["target"], "handle": ["ambassador"], "group": ["diplomats"],
                            "label": [None]}).cast(pa.schema([("account_id", pa.string()), ("handle", pa.string()),
                                                              ("group", pa.string()), ("label", pa.string())])))
    coordinate(s, CoordParams(behaviours=("co-retweet",), window=60, reps=20))
    write_scores(s)
    return s


@pytest.fixture(scope="module")
def engine(planted):
    return Engine(planted)


BOTS = [f"bot{b}" for b in range(N_BOTS)]


def test_cluster_list_is_the_planted_bots_by_handle(engine):
    res = F.list_clusters(engine)
    assert res["total"] == 1 and res["offset"] == 0
    c = res["clusters"][0]
    assert c["size"] == N_BOTS and c["coordinated"] is True and c["behaviours"] == ["co-retweet"]
    assert sorted(m["account_id"] for m in c["members"]) == BOTS
    assert sorted(m["handle"] for m in c["members"]) == [f"Bot_{b}" for b in range(N_BOTS)]
    assert c["members_more"] == 0
    # 6 bots x 12 reposts of the target's statements; bots 0, 2, 4 suspended
    assert c["targets"] == [{"handle": "ambassador", "account_id": None, "engagements": 72}]
    assert c["share_suspended"] == pytest.approx(0.5) and c["share_suspended_text"] == "50%"
    assert re.fullmatch(r"\d\.\de-\d+|< 1e-300", c["p_value_text"]), c["p_value_text"]
    # first and last co-action: bot 0 on statement 0 (30 s) and bot 5 on statement 11
    assert c["first_activity"] == "2021-01-01T00:00:30Z"
    assert c["last_activity"] == F.wording.iso(11 * 7200 + 45 + T0.timestamp())
    # a page of members is bounded: 2 shown, 4 more
    assert F.list_clusters(engine, members_shown=2)["clusters"][0]["members_more"] == 4


def test_cluster_members_edges_and_paging(engine):
    first = F.cluster_members(engine, 1, limit=4)
    rest = F.cluster_members(engine, 1, limit=4, offset=4)
    assert first["total"] == rest["total"] == N_BOTS
    assert len(first["members"]) == 4 and len(rest["members"]) == 2
    assert sorted(m["account_id"] for m in first["members"] + rest["members"]) == BOTS
    m = {r["account_id"]: r for r in first["members"] + rest["members"]}
    assert m["bot0"]["handle"] == "Bot_0" and m["bot0"]["status"] == "suspended" and m["bot1"]["status"] == "active"
    assert m["bot0"]["score"] == 0.9 and m["bot0"]["high_risk"] is True
    assert all(r["degree"] == 5 for r in m.values())  # every bot is tied to the five others
    edges = F.cluster_edges(engine, 1, limit=100)
    assert edges["network"] == "co-retweet" and edges["total"] == 15  # 6 choose 2
    assert all(e["n_objects"] == N_STATEMENTS for e in edges["edges"])
    assert {e["handle_a"] for e in edges["edges"]} <= {f"Bot_{b}" for b in range(N_BOTS)}


def test_cluster_evidence_reads_as_words_in_time_order(engine):
    ev = F.cluster_evidence(engine, 1, limit=20)
    assert ev["total"] == 15 * N_STATEMENTS  # every bot pair on every statement
    rows = ev["evidence"]
    first = rows[0]
    # statement 0: bot 0 at 30 s and bot 1 at 33 s after it come first (time order, then account ids)
    assert (first["account_a"], first["account_b"]) in (("bot0", "bot1"), ("bot1", "bot0"))
    assert {first["handle_a"], first["handle_b"]} == {"Bot_0", "Bot_1"}
    assert first["object_kind"] == "post" and first["post_id"] == "p0"
    assert first["post_author_handle"] == "ambassador" and first["post_text"] == "statement 0"
    assert first["gap_s"] == 3.0 and first["gap_text"] == "3 s"
    assert sorted([first["delay_a_s"], first["delay_b_s"]]) == [30.0, 33.0]
    assert first["kind_a"] == first["kind_b"] == "repost"
    s = first["summary_text"]
    assert "@Bot_0" in s and "@Bot_1" in s and 'both reposted a post by @ambassador ("statement 0"), 3 s apart' in s
    assert "2021-01-01 00:00:30 UTC" in s and "co-retweet: within the 60 s window" in s
    times = [min(r["time_a"], r["time_b"]) for r in rows]
    assert times == sorted(times)
    # the next page continues where this one ended
    nxt = F.cluster_evidence(engine, 1, limit=20, offset=20)["evidence"]
    assert min(nxt[0]["time_a"], nxt[0]["time_b"]) >= times[-1]
    # per day: 12 statements two hours apart all fall on 2021-01-01 (180 co-actions)
    assert F.cluster_timeline(engine, 1) == [{"day": "2021-01-01", "behaviour": "co-retweet", "n": 180}]


def test_cluster_graph_and_composite(engine):
    g = F.cluster_graph(engine, 1)
    assert len(g["nodes"]) == N_BOTS and len(g["edges"]) == 15 and not g["truncated"]
    small = F.cluster_graph(engine, 1, max_nodes=3, max_edges=2)
    assert len(small["nodes"]) == 3 and len(small["edges"]) == 2 and small["truncated"]
    one = F.cluster(engine, 1, evidence_limit=5)
    assert one["cluster"]["cluster_id"] == 1 and len(one["evidence"]["evidence"]) == 5
    with pytest.raises(ConfigError, match="no cluster 99"):
        F.cluster(engine, 99)


def test_account_of_a_bot(engine):
    a = F.account(engine, "@bot_0")  # handles are case-insensitive
    assert a["account_id"] == "bot0" and a["handle"] == "Bot_0"
    assert a["status"]["status"] == "suspended"
    assert a["score"]["score"] == 0.9 and a["score"]["high_risk"] is True
    assert a["score"]["reasons"] == [{"signal": "followers", "value": 3.0, "text": "3 followers"}]
    assert a["cluster"]["cluster_id"] == 1 and a["cluster"]["degree"] == 5
    # its partners: the five other bots, each on all 12 statements
    assert sorted(p["account_id"] for p in a["partners"]) == BOTS[1:]
    assert all(p["n_objects"] == N_STATEMENTS and p["behaviours"] == ["co-retweet"] and p["cluster_id"] == 1
               for p in a["partners"])
    # co-actions closest in time first: bot 1 reposts 3 s after bot 0
    co = a["coactions"]
    assert co["total"] >= 5 * N_STATEMENTS
    top = co["evidence"][0]
    assert top["gap_s"] == 3.0 and "Bot_1" in {top["handle_a"], top["handle_b"]}
    assert a["targets"][0]["handle"] == "ambassador" and a["targets"][0]["engagements"] == N_STATEMENTS
    assert a["targets"][0]["kinds"] == ["repost"]
    # recent posts: its last reposts, newest first, with the statement they repost
    assert [p["ref_text"] for p in a["posts"][:2]] == ["statement 11", "statement 10"]
    assert a["posts"][0]["ref_handle"] == "ambassador"
    assert a["missing"] == {}


def test_account_outside_any_cluster_and_by_id(engine):
    a = F.account(engine, "org0")
    assert a["handle"] == "org_0" and a["cluster"] is None
    assert a["score"]["score"] == 0.1 and a["score"]["high_risk"] is False
    assert len(a["posts"]) == 6  # each organic account reposted 6 posts
    assert F.resolve(engine, "target") == "target" and F.resolve(engine, "@AMBASSADOR") == "target"


def test_unknown_accounts_are_one_line_errors(engine):
    with pytest.raises(ConfigError, match=r"no handle '@nobody' in .*study"):
        F.resolve(engine, "@nobody")
    with pytest.raises(ConfigError, match="no account 'zzz'"):
        F.account(engine, "zzz")


def test_search_by_handle_prefix(engine):
    hits = F.search_accounts(engine, "bot")
    assert [h["handle"] for h in hits] == [f"Bot_{b}" for b in range(N_BOTS)]
    assert all(h["in_cluster"] for h in hits)
    # an exact handle first, then longer ones with the same prefix (org_1, then org_10 ... org_19)
    hits = F.search_accounts(engine, "@org_1", limit=5)
    assert hits[0]["handle"] == "org_1" and len(hits) == 5
    assert F.search_accounts(engine, "target")[0]["account_id"] == "target"  # an id matches too
    assert F.search_accounts(engine, "  ") == []


def test_overview_counts_what_the_runs_stored(engine):
    ov = F.overview(engine)
    assert ov["coordination"]["coordinated_clusters"] == 1 and ov["coordination"]["flagged_accounts"] == N_BOTS
    assert ov["coordination"]["largest"] == {"cluster_id": 1, "size": N_BOTS,
                                             "p_value_text": ov["coordination"]["largest"]["p_value_text"]}
    assert ov["accounts"]["headline"] == "6 of 7 accounts at high risk (score >= 0.7)"
    assert ov["missing"] == {"measures": f"echoscope measure {engine.study.path}"}
    assert any("not proof of inauthenticity" in c for c in ov["caveats"])
    assert ov["data"]["accounts"] == N_BOTS + N_ORG + 20 + 1


@pytest.mark.parametrize(("p", "text"), [(0.0, "< 1e-300"), (1e-320, "< 1e-300"), (5.5e-210, "5.5e-210"),
                                         (0.301, "3.0e-01"), (None, "-"), (float("nan"), "-")])
def test_p_values_are_scientific_and_never_zero(p, text):
    assert F.format_p(p) == text


def test_every_object_kind_reads_as_words(engine):
    # hand-made evidence rows on the planted posts: the object of each behaviour in words
    base = {"account_a": "bot0", "account_b": "bot1", "ts_a": T0.timestamp() + 40, "ts_b": T0.timestamp() + 52,
            "gap_s": 12.0}
    rows = [
        {**base, "behaviour": "co-latency", "object_id": "p0@1", "action_a": "rb0_0", "action_b": "rb0_1"},
        {**base, "behaviour": "co-link", "object_id": "example.org/a?id=3", "action_a": "x", "action_b": "y"},
        {**base, "behaviour": "co-text", "object_id": "other one", "action_a": "q1", "action_b": "q2"},
        {**base, "behaviour": "co-hashtag", "object_id": "a b", "action_a": None, "action_b": None},
        {**base, "behaviour": "co-mention", "object_id": "someone", "action_a": None, "action_b": None},
        {**base, "behaviour": "shared-ip", "object_id": "ip:abc123", "action_a": "bot0@t", "action_b": "bot1@t",
         "gap_s": 150000.0},
        {**base, "behaviour": "co-future", "object_id": "p3", "action_a": None, "action_b": None},
    ]
    w = {r["behaviour"]: r for r in F.describe(engine, rows, {"latency_buckets": [10, 60, 300, 1800]})}
    # co-latency bucket 1 of 10,60,300,1800 is 10-60 s; the action rb0_0 is a repost
    assert w["co-latency"]["object"] == 'a post by @ambassador ("statement 0"), reposted 10-60 s after the post'
    assert "co-latency: both in the 10-60 s delay bucket" in w["co-latency"]["summary_text"]
    assert w["co-link"]["object"] == "the link example.org/a?id=3"
    # a near-duplicate family is shown by the first account's own text
    assert w["co-text"]["object"] == 'near-identical texts, e.g. ("other 1")'
    assert w["co-hashtag"]["object"] == "the hashtags #a #b"
    assert w["co-mention"]["object"] == "mentions of @someone"
    # shared infrastructure has no window: no co-action "gap" is claimed for it, but the time between the two
    # uses is given, in seconds (150,000 s; it read "41.7 h")
    assert w["shared-ip"]["object"] == "the same IP address (hash abc123)"
    assert w["shared-ip"]["gap_text"].startswith("no time window") and "apart" not in w["shared-ip"]["summary_text"]
    assert "150,000 s between the two uses" in w["shared-ip"]["summary_text"]
    assert " h)" not in w["shared-ip"]["summary_text"] and " h " not in w["shared-ip"]["gap_text"]
    # a behaviour this version does not know: its object is a stored post, so it reads as one
    assert w["co-future"]["object"] == 'a post by @ambassador ("statement 3")'
    # one event seen by several behaviours groups into one row
    same = [{**rows[0], "behaviour": b, "object_id": "p0"} for b in ("co-retweet", "rapid-fire")]
    grouped = F.group_events(F.describe(engine, same, {}))
    assert len(grouped) == 1 and grouped[0]["behaviours"] == ["co-retweet", "rapid-fire"]
    text = grouped[0]["summary_text"]
    assert "co-retweet: within" in text and "rapid-fire: both within 10 s" in text


def test_study_without_coordination_says_which_command_fills_it(tmp_path):
    import echoscope

    s = echoscope.init_study(tmp_path / "bare")
    s.load_arrow(planted_tables())
    e = Engine(s)
    with pytest.raises(StudyError, match=r"no coordination results yet .* 'echoscope coordinate .*bare' fills them"):
        F.list_clusters(e)
    a = F.account(e, "@Bot_0")  # an account page still works: profile, posts, targets; missing analyses named
    assert a["cluster"] is None and a["score"] is None and set(a["missing"]) == {"coordination", "accounts"}
    assert F.overview(e)["coordination"] is None


def test_older_and_newer_tables_read_by_column_name(tmp_path):
    # the report's fixture writes cluster tables with fewer columns; a later run may add some (a label)
    from .test_report_fixtures import build_study

    s = build_study(tmp_path / "fx", hostile=False)
    clusters = Engine(s).sql("SELECT * FROM coord_clusters ORDER BY cluster_id")
    clusters = clusters.drop_columns([c for c in ("first_activity", "share_suspended") if c in clusters.column_names])
    s.write_result("coord_clusters", clusters.append_column("label", pa.array(["amplifies the targets", "other"])),
                   meta=s.manifest().result_meta("coord_clusters"))
    res = F.list_clusters(Engine(s), coordinated_only=False)
    assert [c["cluster_id"] for c in res["clusters"]] == [1, 2]
    assert res["clusters"][0]["label"] == "amplifies the targets"  # passed through
    assert res["clusters"][0]["first_activity"] is None  # absent columns read as None
    assert res["clusters"][0]["share_suspended"] is None and res["clusters"][0]["share_suspended_text"] == "-"
    assert res["clusters"][0]["targets"] == [{"handle": "ambassador", "account_id": None, "engagements": 60}]
    assert F.list_clusters(Engine(s))["total"] == 1  # only the coordinated one by default


def test_runs_side_by_side(planted, tmp_path):
    # an earlier run kept in the manifest stays readable through Engine(runs=...)
    assert F.run_selection(planted, None) == {} and F.run_selection(planted, "latest") == {}
    with pytest.raises(ConfigError, match="--run c-nope: no stored run"):
        F.run_selection(planted, "c-nope")
    import echoscope

    s = echoscope.init_study(tmp_path / "runs")
    s.load_arrow(planted_tables())
    members = pa.table({"cluster_id": pa.array([1, 1], pa.int64()), "account_id": ["bot0", "bot1"],
                        "handle": ["Bot_0", "Bot_1"], "degree": pa.array([1, 1], pa.int64()),
                        "strength": [1.0, 1.0]})
    clusters = pa.table({"cluster_id": pa.array([1], pa.int64()), "size": pa.array([2], pa.int64()),
                         "coordinated": [True], "p_value": [0.001], "behaviours": ["co-retweet"]})
    empty_edges = pa.table({"behaviour": pa.array([], pa.string()), "account_a": pa.array([], pa.string()),
                            "account_b": pa.array([], pa.string())})
    tables = {"coord_edges": empty_edges, "coord_clusters": clusters, "coord_members": members,
              "coord_evidence": empty_edges}
    s.write_results(tables, meta={"summary": {"parameters": {"window": 60}}}, analysis="coordination",
                    run_id="c-first", parameters={"window": 60}, summary={"parameters": {"window": 60}})
    bigger = dict(tables, coord_clusters=clusters.set_column(1, "size", pa.array([3], pa.int64())))
    s.write_results(bigger, meta={"summary": {"parameters": {"window": 30}}}, analysis="coordination",
                    run_id="c-second", parameters={"window": 30}, summary={"parameters": {"window": 30}})
    assert F.list_clusters(Engine(s))["clusters"][0]["size"] == 3  # the latest run
    runs = F.run_selection(s, "c-first")
    assert runs == {"coordination": "c-first"}
    old = F.list_clusters(Engine(s, runs=runs))
    assert old["clusters"][0]["size"] == 2 and old["run"]["run_id"] == "c-first" and old["run"]["latest"] is False
    assert old["run"]["parameters"] == {"window": 60}


def test_the_lookup_cache_changes_no_answer(planted):
    # the explorer warms a lookup cache (findings.base.warm); every answer must be the one without it
    cold, hot = Engine(planted), Engine(planted)
    assert F.warm(hot) is True and F.cached(hot) and not F.cached(cold)
    assert F.warm(hot) is False  # kept while the study is unchanged
    for fn, args in ((F.list_clusters, ()), (F.cluster, (1,)), (F.cluster_graph, (1,)), (F.account, ("@Bot_2",)),
                     (F.account, ("org3",)), (F.search_accounts, ("org_1",)), (F.overview, ())):
        assert fn(hot, *args) == fn(cold, *args), fn.__name__

"""Signals judged against what an account amplifies and against the study's own population, the automation
assessment, the kinds of accounts and the published high-risk line with its measured error rates.

The scenario (expected values worked out in the comments of each test):

- ``tgt`` (@diplomat, a target) posts 20 originals, about one every 6 h from T0 (0-4 h later each time, so that
  nobody who reposts it keeps a clock);
- ``idol`` (not a target) posts 20 originals, about one every 6 h from T0 + 3 h;
- fans ``f0..f19`` repost two idol posts in three, 5-54 s after them (the idol's amplifiers are fast: fans), and
  post 3 originals each;
- ordinary users ``o0..o29`` repost 10 of the diplomat's posts each, 30 minutes to 2.5 hours after them, and
  ``o0..o4`` 4 idol posts each an hour after them (the public's trail);
- campaign accounts ``c0..c5``, created within 100 minutes of each other in August 2020, repost three diplomat
  posts in four, 3-30 s after them;
- news outlets ``n1``, ``n2`` post 24 originals each, around the clock; the aggregator ``agg`` reposts every one of
  them 4-6 s later from the client ``dlvr.it``;
- ``bot`` reposts every diplomat post 3 s after it from ``IFTTT``: automated, and it amplifies the target.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from echoscope.accounts import HIGH_RISK_THRESHOLD, ScoreParams, SignalParams, compute_signals, run
from echoscope.accounts.risk import (
    EXPECTED_ERROR_RATES,
    KINDS,
    error_rate_sentence,
    exempt_kinds,
    expected_error_rates,
)
from echoscope.accounts.scorers import RULE_GROUP_CAPS, RulesScorer

from .test_accounts import _acc, _by_id, _posts

UTC = dt.UTC
T0 = dt.datetime(2020, 9, 7, 12, 0, tzinfo=UTC)
FANS = [f"f{k}" for k in range(20)]
ORDINARY = [f"o{k}" for k in range(30)]
CAMPAIGN = [f"c{k}" for k in range(6)]


def build(study) -> None:
    """The scenario of the module docstring."""
    accounts = [dict(account_id="tgt", handle="diplomat", display_name="The Diplomat", followers_count=100000,
                     following_count=300, created_at=dt.datetime(2015, 1, 1, tzinfo=UTC)),
                dict(account_id="idol", handle="popstar", display_name="Pop Star", followers_count=900000,
                     following_count=100, created_at=dt.datetime(2012, 1, 1, tzinfo=UTC))]
    # everyone else has an ordinary profile (created years apart, 500 followers), so only behaviour speaks
    others = FANS + ORDINARY + ["n1", "n2", "agg", "bot"]
    for k, a in enumerate(others):
        accounts.append(dict(account_id=a, handle=f"user_{a}", display_name=f"User {a}", followers_count=500,
                             following_count=300,
                             created_at=dt.datetime(2009, 1, 1, tzinfo=UTC) + dt.timedelta(days=29 * k)))
    for k, a in enumerate(CAMPAIGN):
        accounts.append(dict(account_id=a, handle=f"user_{a}", display_name=f"User {a}", followers_count=500,
                             following_count=300,
                             created_at=dt.datetime(2020, 8, 3, 9, tzinfo=UTC) + dt.timedelta(minutes=20 * k)))
    posts: list[tuple] = []
    for i in range(20):
        t_tgt, t_idol = T0 + dt.timedelta(hours=6 * i + (i * i) % 5), T0 + dt.timedelta(hours=6 * i + 3 + (7 * i) % 4)
        posts.append((f"t{i}", "tgt", t_tgt, "original", None, "en", "Twitter Web App"))
        posts.append((f"i{i}", "idol", t_idol, "original", None, "en", "Twitter for iPhone"))
        for k, a in enumerate(FANS):
            if (i + k) % 3:
                posts.append((f"{a}r{i}", a, t_idol + dt.timedelta(seconds=5 + (7 * k + 13 * i) % 50), "repost",
                              f"i{i}", "en", "Twitter for Android"))
        for k, a in enumerate(CAMPAIGN):
            if (i + k) % 4:
                posts.append((f"{a}r{i}", a, t_tgt + dt.timedelta(seconds=3 + (7 * k + 11 * i) % 28), "repost",
                              f"t{i}", "en", "Twitter for Android"))
        posts.append((f"botr{i}", "bot", t_tgt + dt.timedelta(seconds=3), "repost", f"t{i}", "en", "IFTTT"))
    for k, a in enumerate(FANS):
        for j in range(3):
            posts.append((f"{a}p{j}", a, T0 + dt.timedelta(days=j, hours=k % 12, minutes=7 * k), "original", None,
                          "en", "Twitter for Android"))
    for k, a in enumerate(ORDINARY):
        for j in range(10):
            i = (k + 2 * j) % 20
            posts.append((f"{a}r{i}", a, T0 + dt.timedelta(hours=6 * i + (i * i) % 5,
                                                            seconds=1800 + (131 * k + 977 * j) % 7200),
                          "repost", f"t{i}", "en", "Twitter for iPhone"))
        if k < 5:
            for j in range(4):
                i = (k + 5 * j) % 20
                posts.append((f"{a}ri{i}", a, T0 + dt.timedelta(hours=6 * i + 4 + (7 * i) % 4), "repost", f"i{i}",
                              "en", "Twitter for iPhone"))
    for n, off in (("n1", 0), ("n2", 1)):
        for j in range(24):  # one post every 7 h: around the clock over a week
            t = T0 + dt.timedelta(hours=7 * j + off)
            posts.append((f"{n}p{j}", n, t, "original", None, "en", "TweetDeck"))
            posts.append((f"agg{n}{j}", "agg", t + dt.timedelta(seconds=4 + j % 3), "repost", f"{n}p{j}", "en",
                          "dlvr.it"))
    study.load_arrow({"accounts": _acc(accounts), "posts": _posts(posts)})
    study.set_targets(pa.table({"account_id": ["tgt"], "handle": ["diplomat"], "group": ["diplomats"],
                                "label": [None]}))


@pytest.fixture
def scenario(study):
    build(study)
    return study


def test_speed_is_judged_against_the_same_authors_other_amplifiers(scenario):
    t = compute_signals(scenario, names=["relative_latency", "repost_latency"])
    rel, fact = _by_id(t["relative_latency"]), _by_id(t["repost_latency"])
    # as a plain fact, fans and campaign accounts are both fast: median 8-32 s and 5-8 s
    assert all(fact[a]["strength"] > 0.8 for a in FANS + CAMPAIGN)
    # the idol's reposts: 400 by fans within 8-32 s and 20 by o0..o4 an hour later; their median is a fan's, so a
    # fan reposts about as soon as the idol's reposts usually come (factor near 1): no speed signal
    for a in FANS:
        assert 0.5 < rel[a]["value"] < 2.0
        assert rel[a]["strength"] == 0 and rel[a]["text"] is None
    # the diplomat's 410 reposts: 300 ordinary ones 30 min-2.5 h after, 90 campaign ones (15 each) and the bot's 20
    # within 3-30 s; the median is an ordinary repost about an hour after the post, so c0..c5 repost ~150x sooner
    # (ln(10 + 17 s) against ln(10 + ~66 min)), far beyond the study's spread: full strength
    for a in CAMPAIGN:
        assert rel[a]["value"] > 50
        assert rel[a]["strength"] == pytest.approx(1.0)
        assert rel[a]["text"].startswith("its 15 reposts and link shares came a median ")
        assert "sooner than the reposts of the same authors usually do (its median " in rel[a]["text"]
        assert ", theirs " in rel[a]["text"] and "min;" in rel[a]["text"]
    # ordinary users repost at the diplomat's usual pace
    assert all(rel[a]["strength"] == 0 for a in ORDINARY)


def test_fans_are_not_high_risk_campaign_accounts_are(scenario):
    res = run(scenario)
    sc = _by_id(res.scores)
    # fans: no signal at all (ordinary profiles; fast only as their idol's other amplifiers are)
    assert max(sc[a]["score"] for a in FANS) == 0
    assert not any(sc[a]["high_risk"] for a in FANS)
    # campaign accounts: relative_latency 0.5 at full strength; all 15 of their actions aim at the target against
    # the study's pooled 47%: shrunk by 10 pseudo-actions (15 + 4.7) / 25 = 0.79, excess (0.79 - 0.47) / 0.53 = 0.6
    # -> strength 0.25 x 0.4 = 0.1; created within 3 h of 5 others -> creation_burst 0.5 x 0.6 = 0.3:
    # 1 - 0.5 x 0.9 x 0.7 = 0.685 >= 0.65. Speed and focus alone (0.55) would not do: a second strong sign is needed
    for a in CAMPAIGN:
        assert sc[a]["score"] >= HIGH_RISK_THRESHOLD and sc[a]["high_risk"]
        assert sc[a]["kind"] == "amplifies the targets" and not sc[a]["automated"]
        assert [r["signal"] for r in sc[a]["reasons"]][:1] == ["relative_latency"]


def test_aggregator_is_named_automated_and_kept_off_the_list(scenario):
    auto = _by_id(compute_signals(scenario, names=["automation"])["automation"])
    # agg: 100% dlvr.it (an automation client: automated by itself), 100% of its 48 posts are reposts of 2 accounts,
    # it reposted every post n1 and n2 made while it was active, and half its latencies lie within 4-6 s
    assert auto["agg"]["strength"] == 1.0
    assert auto["agg"]["text"].startswith("automated: 100% of its posts from automation client 'dlvr.it'; 100% of "
                                          "its 48 posts are reposts of 2 accounts; reposted 100% of the ")
    assert "near-constant repost latency" in auto["agg"]["text"]
    # a fan reposts one account within seconds too, but only 20 times in 20 posts... and with latencies spread over
    # 8-32 s (interquartile range of ln(10 + latency) above 0.4): at most one sign, not automated
    assert all(auto[a]["strength"] == 0 for a in FANS if a in auto)
    # even a line of 0 (everyone with any score) leaves the aggregator off the list: it never touches the target
    res = run(scenario, ScoreParams(high_risk_threshold=0.0))
    sc = _by_id(res.scores)
    assert sc["agg"]["automated"] and sc["agg"]["kind"] == "automated reposting, no target"
    assert sc["agg"]["high_risk"] is False
    # the automated account that amplifies the target stays on it, named for what it is
    assert sc["bot"]["automated"] and sc["bot"]["kind"] == "automated, amplifies the targets" and sc["bot"]["high_risk"]
    # the target itself is never on the list of its amplifiers; fans are (at line 0, everyone else is)
    assert sc["tgt"]["kind"] == "target" and sc["tgt"]["high_risk"] is False
    assert all(sc[a]["high_risk"] for a in FANS)
    assert res.summary["kinds"]["automated reposting, no target"] == 1
    assert res.summary["kinds"]["automated, amplifies the targets"] == 1
    assert res.summary["automated"] == 2
    assert res.summary["high_risk_exempt_kinds"] == list(exempt_kinds(True))


def test_without_targets_automated_accounts_are_not_set_apart(scenario):
    scenario.set_targets(pa.table({"account_id": pa.array([], pa.string()), "handle": pa.array([], pa.string()),
                                   "group": pa.array([], pa.string()), "label": pa.array([], pa.string())}))
    res = run(scenario, ScoreParams(high_risk_threshold=0.0), write=False)
    sc = _by_id(res.scores)
    # nothing separates independent automation from amplification without targets: the aggregator is named
    # automated but listed by its score
    assert sc["agg"]["kind"] == "automated reposting, no target" and sc["agg"]["high_risk"]
    assert "no targets" in res.summary["high_risk_rule"]


def test_actions_aimed_at_targets_count_mentions_and_their_links(study):
    art = "https://www.globaldaily.example.cn/world/{}.html"
    posts = []
    for i in range(6):
        t = T0 + dt.timedelta(hours=6 * i)
        posts.append((f"t{i}", "tgt", t, "original", None, "en", "Web"))
        # l0 posts the target's article link (tracking parameters added, scheme and www dropped) 3 minutes later
        posts.append((f"l{i}", "l0", t + dt.timedelta(minutes=3), "original", None, "en", "Web"))
        # m0 mentions the target (case differs); x0 links another page of the same site and mentions nobody
        posts.append((f"m{i}", "m0", t + dt.timedelta(hours=1), "original", None, "en", "Web"))
        posts.append((f"x{i}", "x0", t + dt.timedelta(hours=1), "original", None, "en", "Web"))
    tab = _posts(posts)
    urls = []
    mentions = []
    for pid in tab["post_id"].to_pylist():
        i = pid[1:]
        urls.append({"t": [art.format(i)], "l": [f"http://globaldaily.example.cn/world/{i}.html?utm_source=twitter&s=21"],
                     "m": [], "x": [art.format(f"other{i}")]}[pid[0]])
        mentions.append(["Diplomat"] if pid[0] == "m" else [])
    tab = tab.append_column("urls", pa.array(urls, pa.list_(pa.string())))
    tab = tab.append_column("mentions", pa.array(mentions, pa.list_(pa.string())))
    study.load_arrow({"posts": tab})
    study.set_targets(pa.table({"account_id": ["tgt"], "handle": ["diplomat"], "group": ["d"], "label": [None]}))
    amp = _by_id(compute_signals(study, names=["amplification_role"])["amplification_role"])
    # l0 and m0: 6 of 6 actions aimed at the target (its links, its handle); x0: none (another page)
    assert amp["l0"]["value"] == 1.0 and amp["m0"]["value"] == 1.0 and amp["x0"]["value"] == 0.0
    # fewer than 10 actions: not judged (strength 0) however focused
    assert amp["l0"]["strength"] == 0


def test_duplicate_texts_shared_by_few_accounts(study):
    templates = ["Thank you @{} for telling the truth. 🙏", "@{} nails it again - Facts over propaganda!!",
                 "So refreshing to read this from @{}. Respect."]
    posts = []
    for k in range(4):
        for j in range(6):
            posts.append((f"s{k}p{j}", f"s{k}", T0 + dt.timedelta(minutes=10 * j + k), "original", None, "en", "Web"))
    for k in range(3):  # ordinary users with texts of their own, and one short reply everybody writes
        for j in range(6):
            posts.append((f"u{k}p{j}", f"u{k}", T0 + dt.timedelta(minutes=10 * j), "original", None, "en", "Web"))
    names, topics = ["anna", "bert", "cleo"], ["gardening", "trains", "cakes", "birds", "rivers", "tea"]
    tab = _posts(posts)
    texts = []
    for pid in tab["post_id"].to_pylist():
        k, j = int(pid[1]), int(pid[3:])
        if pid[0] == "s":
            texts.append(templates[j % 3].format(["diplomat", "AmbUK"][(j + k) % 2]))
        else:
            texts.append("Thanks!" if j == 0 else f"{names[k]} thinks about {topics[j]} today")
    tab = tab.append_column("text", pa.array(texts, pa.string()))
    study.load_arrow({"posts": tab})
    dup = _by_id(compute_signals(study, names=["duplicate_text"])["duplicate_text"])
    # s0..s3: each of their 6 texts, once mentions, emoji and punctuation are removed, is posted by the 3 others:
    # share 1, strength 1; the example names one of the texts
    for k in range(4):
        r = dup[f"s{k}"]
        assert r["value"] == 1.0 and r["strength"] == 1.0
        assert r["text"].startswith("6 of its 6 texts repeat word for word what other accounts posted (up to 3 others")
    # 'Thanks!' is too short to count (7 letters < 12 bytes); the users' own texts differ: nothing
    assert all(dup[f"u{k}"]["strength"] == 0 for k in range(3))


def test_profile_look_alone_never_reaches_the_line():
    import pandas as pd

    # an honest account that looks like a fake: 2 followers, ratio 0, name + 8 digits, default image, 3 days old,
    # display name unlike the handle. Uncapped: 1 - .7 x .8 x .7 x .8 x .85 x .85 = 0.774; capped at 0.5
    cols = {"followers": 1.0, "follower_ratio": 1.0, "templated_handle": 1.0, "default_image": 1.0,
            "account_age": 1.0, "name_mismatch": 1.0}
    X = pd.DataFrame({**{k: [0.0] for k in cols}, **{f"{k}__strength": [v] for k, v in cols.items()},
                      "relative_latency": [50.0], "relative_latency__strength": [0.0]})
    assert RulesScorer().fit(X).predict_proba(X)[0, 1] == pytest.approx(0.5)
    assert RulesScorer(group_caps={}).fit(X).predict_proba(X)[0, 1] == pytest.approx(1 - .7 * .8 * .7 * .8 * .85 * .85)
    # with one behavioural sign at full strength (relative_latency 0.5): 1 - 0.5 x 0.5 = 0.75
    X["relative_latency__strength"] = 1.0
    assert RulesScorer().fit(X).predict_proba(X)[0, 1] == pytest.approx(0.75)
    assert HIGH_RISK_THRESHOLD > 0.5 and set(RULE_GROUP_CAPS["profile look"][0]) == set(cols)


def test_the_line_is_published_with_its_measured_error_rates(scenario, cli):
    rates = expected_error_rates()
    # the line in use was measured: its rates, their source and the rule are stored beside it
    assert rates is not None and rates["line"] == HIGH_RISK_THRESHOLD
    assert rates["ordinary"] <= 0.01 and rates["fans"] <= 0.01  # the target the line was chosen for
    src = rates["source"]
    assert src["simulator"].startswith("echoscope.simulate") and len(src["seeds"]) >= 3
    assert src["script"].startswith("python benchmarks/bench_confounders.py") and src["date"]
    assert set(rates["campaign_recall"]) >= {"superspreaders", "ring", "slowtext", "links"}
    assert expected_error_rates(0.123) is None and f"{HIGH_RISK_THRESHOLD:g}" in EXPECTED_ERROR_RATES["lines"]
    res = run(scenario)
    s = res.summary
    assert s["high_risk_threshold"] == HIGH_RISK_THRESHOLD and s["expected_error_rates"] == rates
    assert s["high_risk_rule"].startswith("score at or above the line, except the study's own targets")
    n = len(src["seeds"])

    def pct(x: float) -> str:
        return f"{100 * x:.2f}%" if 0 < x < 0.01 else f"{100 * x:.1f}%"

    sentence = (f"expected false positives at this line: {pct(rates['ordinary'])} of ordinary accounts, "
                f"{pct(rates['fans'])} of fans (simulator, {n} seeds)")
    assert res.error_rates() == error_rate_sentence(s) == sentence
    # the stored high_risk column carries the line, its rule and its rates in its field metadata
    part = scenario.path / scenario.manifest().result("account_scores")["parts"][0]
    meta = pq.read_schema(part).field("high_risk").metadata
    assert meta[b"line"] == f"{HIGH_RISK_THRESHOLD:g}".encode() and meta[b"rule"].decode() == s["high_risk_rule"]
    assert json.loads(meta[b"expected_error_rates"]) == rates
    # the CLI says it under the headline, names the automated accounts kept off, and --json carries it per row
    r = cli("score", scenario.path, "--top", "3")
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    # c0..c5 and bot (see the tests above)
    assert lines[0].startswith(f"7 of {res.scores.num_rows} accounts at high risk (score >= {HIGH_RISK_THRESHOLD:g})")
    assert lines[1] == sentence
    assert lines[2] == ("2 accounts named automated (1 automated, amplifies the targets; 1 automated reposting, no "
                        "target): automated reposting, no target kept off the high-risk list")
    top = json.loads(cli("score", scenario.path, "--json", "--top", "2").stdout)
    assert top[0]["expected_false_positives"] == sentence and top[0]["kind"] in KINDS
    # a line that was not measured says so instead of borrowing another line's rates
    other = run(scenario, ScoreParams(high_risk_threshold=0.123), write=False)
    assert other.summary["expected_error_rates"] is None
    assert other.error_rates().startswith("expected false positives at this line: not measured")


def test_relative_latency_thresholds_are_parameters(scenario):
    # with a peer factor of at least 1,000x nobody is fast enough: the threshold is the documented parameter
    p = SignalParams(peer_factor_lo=1000.0, peer_factor_hi=2000.0)
    rel = _by_id(compute_signals(scenario, names=["relative_latency"], params=p)["relative_latency"])
    assert all(rel[a]["strength"] == 0 for a in CAMPAIGN)

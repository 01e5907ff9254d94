"""The realistic scenario: confounders (fans, news aggregators, community hubs, breaking-news surges) and the
added campaigns (scheduled shift, ring, slow templated praise, state-media links), each with its ground truth.

Every check is SQL over the platform's canonical tables (as a detector sees them) joined to the truth; the
expected values come from the defaults in echoscope/simulate/config.py and what each one models
(docs/simulator.md, "Scenarios", "Confounders", "Campaigns added with the confounders").
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from echoscope.errors import ConfigError
from echoscope.simulate import make_config, simulate, write
from echoscope.simulate.names import PRAISE_SLOTS, PRAISE_TEMPLATES

from .test_simulate import _con, one

SIZE = {"accounts": 6_000, "engagements": 60_000}


@pytest.fixture(scope="module")
def platform():
    return simulate(make_config(scenario="realistic", **SIZE, seed=3))


@pytest.fixture(scope="module")
def con(platform):
    c = _con(platform)
    # engagements with their truth and the roles of actor and subject
    c.execute("""CREATE TABLE ee AS SELECT e.*, t.purpose, t.campaign, a.role, a.community AS c_actor,
        s.role AS subject_role, s.community AS c_subject, s.hub AS subject_hub
        FROM engagements e JOIN truth_engagements t USING (engagement_id)
        JOIN truth_accounts a ON a.account_id = e.actor_id
        JOIN truth_accounts s ON s.account_id = e.subject_account_id""")
    c.execute("""CREATE TABLE pp AS SELECT p.*, t.role, t.campaign FROM posts p
        JOIN truth_accounts t USING (account_id)""")
    return c


def test_scenario_presets():
    real = make_config(scenario="realistic")
    assert (real.accounts, real.engagements) == (42_000, 480_000)
    assert (real.end - real.start).days == 56  # eight weeks
    assert all(c.enabled for c in real.campaigns().values())
    assert all(c.enabled for c in real.confounders().values())
    # the default scenario is the calibrated one: four campaigns, no confounders, no added campaign
    d = make_config()
    assert (d.accounts, d.engagements) == (20_000, 200_000)
    assert [n for n, c in d.campaigns().items() if c.enabled] == ["superspreaders", "impersonation", "hijacked",
                                                                    "copypaste"]
    assert not any(c.enabled for c in d.confounders().values())
    # the caller's size and switches win over the scenario's; nested overrides update fields
    c = make_config(scenario="realistic", accounts=5_000, engagements=40_000, campaigns=["ring"],
                    confounders=["fandoms"], fandoms={"fan_share": 0.05})
    assert c.accounts == 5_000 and c.ring.enabled and not c.links.enabled
    assert c.fandoms.enabled and c.fandoms.fan_share == 0.05 and not c.aggregators.enabled
    with pytest.raises(ConfigError, match="unknown confounder"):
        make_config(confounders=["bots"])
    with pytest.raises(ConfigError, match="unknown scenario"):
        make_config(scenario="wild")
    with pytest.raises(ConfigError, match="shorter than three weeks"):
        make_config(end=d.start + dt.timedelta(days=10))


def test_every_confounder_and_campaign_has_its_truth(con):
    roles = dict(con.execute("SELECT role, count(*) FROM truth_accounts GROUP BY 1").fetchall())
    for role in ("fan", "idol", "news-outlet", "aggregator", "shift-worker", "ring-member", "praiser", "link-sharer"):
        assert roles.get(role, 0) > 0, role
    assert roles["ring-member"] == 6
    assert roles["aggregator"] == 4  # the minimum at 6,000 accounts (20 at 42,000)
    # fans are about 3.5% of the organic users
    assert 0.03 < roles["fan"] / (roles["fan"] + roles["organic"]) < 0.04
    conf = dict(con.execute("SELECT role, any_value(confounder) FROM truth_accounts GROUP BY 1").fetchall())
    assert conf["fan"] == "fandom" and conf["aggregator"] == "aggregator" and conf["organic"] == "community"
    assert conf["praiser"] is None and conf["target"] is None
    # campaigns are campaigns in the truth; the confounders' accounts are not (aggregators are automated)
    camps = {r[0] for r in con.execute("SELECT DISTINCT campaign FROM truth_accounts WHERE truth='campaign'")
             .fetchall()}
    assert camps == {"superspreaders", "impersonation", "hijacked", "copypaste", "scheduled", "ring", "slowtext",
                     "links"}
    assert one(con, """SELECT count(*) FROM truth_accounts WHERE role IN ('fan','aggregator','idol','news-outlet')
                       AND (truth <> 'organic' OR campaign IS NOT NULL)""")[0] == 0
    assert one(con, "SELECT bool_and(automated = (role = 'aggregator')) FROM truth_accounts")[0]
    purposes = dict(con.execute("SELECT purpose, bool_or(planted) FROM truth_engagements GROUP BY 1").fetchall())
    assert purposes["fandom"] is False and purposes["aggregation"] is False and purposes["surge"] is False
    assert purposes["exchange"] is True and purposes["amplify"] is True
    # engagements by campaign accounts are exactly the planted ones, in the new campaigns too
    assert one(con, """SELECT count(*) FROM truth_engagements e JOIN truth_accounts a ON a.account_id = e.actor_id
                       WHERE e.planted <> (a.truth = 'campaign')""")[0] == 0


def test_fans_repost_their_idol_within_a_minute_irregularly(con):
    r = one(con, """SELECT count(*), max(latency_s), count(DISTINCT actor_id) FROM ee
                    WHERE purpose = 'fandom' AND kind = 'repost'""")
    assert r[0] > 1000 and r[1] <= 60  # every burst repost within a minute of the idol's post
    assert one(con, "SELECT bool_and(subject_role = 'idol') FROM ee WHERE purpose = 'fandom'")[0]
    # most of an idol's reposts are its fans' bursts; the public's share trails over hours
    share = one(con, """SELECT avg((purpose = 'fandom')::INT), median(latency_s) FILTER (WHERE purpose = 'organic')
                        FROM ee WHERE subject_role = 'idol' AND kind = 'repost'""")
    assert share[0] > 0.5 and share[1] > 3_600
    # bursts: an idol's post draws many fans at once
    burst = one(con, """SELECT median(n), max(n) FROM (SELECT subject_post_id, count(*) n FROM ee
                        WHERE purpose = 'fandom' AND kind = 'repost' GROUP BY 1)""")
    assert burst[0] >= 4 and burst[1] >= 20
    # irregular presence: fans repost different shares of their idol's posts, few nearly all
    pres = one(con, """WITH f AS (SELECT actor_id, subject_account_id, count(*) n FROM ee
                                  WHERE purpose = 'fandom' AND kind = 'repost' GROUP BY 1, 2),
        p AS (SELECT account_id, count(*) m FROM posts WHERE kind = 'original' GROUP BY 1)
        SELECT stddev(n / m), avg((n / m > 0.9)::INT) FROM f JOIN p ON p.account_id = f.subject_account_id""")
    assert pres[0] > 0.1 and pres[1] < 0.1
    # fans share other things too: on average under 70% of a fan's engagements are its idol's posts
    share = one(con, """SELECT avg(f) FROM (SELECT actor_id, avg((purpose = 'fandom')::INT) f FROM ee
                        WHERE role = 'fan' GROUP BY 1)""")[0]
    assert share < 0.7


def test_aggregators_repost_every_post_of_their_outlets_within_seconds(con):
    # each bot reposts every post of every outlet it follows (the outlets it reposts at all)
    r = one(con, """WITH f AS (SELECT DISTINCT actor_id, subject_account_id FROM ee WHERE role = 'aggregator'),
        np AS (SELECT account_id, post_id FROM pp WHERE role = 'news-outlet' AND kind = 'original'),
        want AS (SELECT f.actor_id, np.post_id FROM f JOIN np ON np.account_id = f.subject_account_id)
        SELECT count(*), count(e.engagement_id) FROM want
        LEFT JOIN ee e ON e.actor_id = want.actor_id AND e.subject_post_id = want.post_id""")
    assert r[0] > 500 and r[0] == r[1]
    lat = one(con, """SELECT quantile_cont(latency_s, 0.99), max(latency_s), count(DISTINCT hour(created_at)),
        bool_and(subject_role = 'news-outlet'), bool_and(kind = 'repost') FROM ee WHERE role = 'aggregator'""")
    assert lat[0] <= 30 and lat[1] < 120  # within seconds (median 6 s)
    assert lat[2] == 24                    # around the clock
    assert lat[3] and lat[4]               # only reposts of news outlets: no link to the targets
    # independent: outlet lists overlap but differ
    sets = con.execute("""SELECT actor_id, list(DISTINCT subject_account_id ORDER BY subject_account_id) FROM ee
                          WHERE role = 'aggregator' GROUP BY 1""").fetchall()
    assert len({tuple(s) for _, s in sets}) >= 2
    shared = one(con, """SELECT max(n) FROM (SELECT subject_account_id, count(DISTINCT actor_id) n FROM ee
                         WHERE role = 'aggregator' GROUP BY 1)""")[0]
    assert shared >= 2


def test_breaking_news_surge(con):
    r = one(con, """SELECT max(n) FROM (SELECT subject_post_id, count(*) n FROM ee
                    WHERE purpose = 'surge' AND latency_s <= 600 GROUP BY 1)""")[0]
    assert r >= 30  # many ordinary users repost one news post within ten minutes (at least 50 drawn, some asleep)
    assert one(con, "SELECT avg((latency_s <= 300)::INT) FROM ee WHERE purpose = 'surge'")[0] > 0.7
    assert one(con, "SELECT bool_and(role IN ('organic', 'fan')) FROM ee WHERE purpose = 'surge'")[0]


def test_community_hubs_and_slow_sharing(con):
    r = one(con, """SELECT avg(subject_hub::INT), median(latency_s) FROM ee
                    WHERE purpose = 'organic' AND c_actor = c_subject AND subject_role IN ('organic', 'fan')""")
    assert 0.25 < r[0] < 0.5      # hubs draw about 35% of their community's internal sharing
    assert r[1] > 2_400           # reactions take hours (median ~1.5 h after people sleep), not seconds
    hubs = one(con, """SELECT count(*), min(followers_count) FROM accounts JOIN truth_accounts t USING (account_id)
                       WHERE t.hub""")
    assert hubs[0] >= 3 * 4 and hubs[1] >= 5_000  # three per community, well followed


def test_scheduled_shift_reposts_on_the_quarter_hour(con):
    r = one(con, """SELECT count(*), avg((epoch(created_at)::BIGINT % 900 < 30)::INT), min(latency_s) FROM ee
                    WHERE campaign = 'scheduled'""")
    assert r[0] > 200 and r[1] > 0.99 and r[2] >= 120  # on the :00/:15/:30/:45 slot, minutes after the post
    spread = one(con, """SELECT median(s) FROM (SELECT subject_post_id,
                         max(epoch(created_at)) - min(epoch(created_at)) s FROM ee WHERE campaign = 'scheduled'
                         GROUP BY 1 HAVING count(*) >= 3)""")[0]
    assert spread <= 15  # within seconds of each other


def test_ring_reposts_each_other_and_the_targets(con):
    r = con.execute("SELECT purpose, subject_role, count(*) FROM ee WHERE campaign = 'ring' GROUP BY 1, 2").fetchall()
    got = {(p, s): n for p, s, n in r}
    assert got.get(("exchange", "ring-member"), 0) > 50 and got.get(("amplify", "target"), 0) > 50
    assert set(got) == {("exchange", "ring-member"), ("amplify", "target")}


def _praise_regex() -> re.Pattern[str]:
    def part(p: str) -> str:
        if p == "{H}":
            return r"@\w+"
        if p.startswith("{"):
            return "(?:" + "|".join(re.escape(x) for x in PRAISE_SLOTS[p[1]]) + ")"
        return re.escape(p)

    return re.compile("^(?:@\\w+ )?(?:" + "|".join("".join(part(p) for p in t) for t in PRAISE_TEMPLATES) + ")$")


def test_slowtext_templated_praise_over_two_hours(con):
    rx = _praise_regex()
    posts = con.execute("SELECT kind, text, role FROM pp WHERE text IS NOT NULL").fetchall()
    praise = [(k, t) for k, t, r in posts if r == "praiser"]
    assert len(praise) > 200
    # every praiser post is one of a few templates with slot fillers: near-duplicates...
    assert all(rx.match(t) for _, t in praise)
    assert {k for k, _ in praise} == {"reply", "original"}
    words = [frozenset(re.sub(r"@\w+", "", t).lower().split()) for _, t in praise]
    assert len(set(words)) > 2 * len(PRAISE_TEMPLATES)  # slot fillers vary the texts...

    def nearest(i: int) -> float:
        return max(len(words[i] & w) / len(words[i] | w) for j, w in enumerate(words) if j != i)

    near = sorted(nearest(i) for i in range(0, len(words), 3))
    # ... but nearly every one has a near-duplicate (most an exact one, once mentions are removed)
    assert near[len(near) // 2] == 1.0 and near[len(near) // 10] >= 0.6 and near[0] >= 0.3
    # ... that nobody else posts
    assert not any(rx.match(t) for _, t, r in posts if r != "praiser")
    # replies spread over the two hours after the target's post; originals mention the praised target
    lat = one(con, "SELECT min(latency_s), max(latency_s), median(latency_s) FROM ee WHERE campaign = 'slowtext'")
    assert lat[0] >= 60 and lat[1] <= 7_200 and 2_000 < lat[2] < 5_200
    assert one(con, """SELECT bool_and(len(mentions) = 1 AND mentions[1] IN (SELECT handle FROM targets))
                       FROM pp WHERE role = 'praiser' AND kind = 'original'""")[0]


def test_links_campaign_urls_appear_only_in_campaign_posts(con):
    con.execute("""CREATE TEMP TABLE lu AS SELECT p.post_id, p.account_id, p.role, p.created_at,
        unnest(p.urls) AS url FROM pp p WHERE len(p.urls) > 0""")
    con.execute("CREATE TEMP TABLE lb AS SELECT *, regexp_replace(url, '\\?.*$', '') AS base FROM lu")
    r = one(con, """WITH camp AS (SELECT DISTINCT base FROM lb WHERE role = 'link-sharer')
        SELECT count(DISTINCT base), count(*) FILTER (WHERE role NOT IN ('link-sharer', 'target')),
               count(DISTINCT lb.account_id) FILTER (WHERE role = 'target') FROM lb JOIN camp USING (base)""")
    assert r[0] > 20 and r[1] == 0  # shared by nobody but the campaign and the article's own account
    # each link is a state-media target's article, posted minutes before the campaign shares it
    g = one(con, """WITH art AS (SELECT lb.base, lb.created_at FROM lb JOIN targets t ON t.account_id = lb.account_id
                                 WHERE t."group" = 'state media')
        SELECT count(*), count(art.base), median(epoch(l.created_at) - epoch(art.created_at)),
               avg((l.url LIKE '%?%')::INT)
        FROM lb l LEFT JOIN art USING (base) WHERE l.role = 'link-sharer'""")
    assert g[0] == g[1]
    assert 60 < g[2] < 900    # minutes after the article (median 4 min)
    assert 0.4 < g[3] < 0.8   # often with tracking parameters (60%)
    # a new URL per article: state-media articles never repeat a URL
    assert one(con, """SELECT count(*) - count(DISTINCT base) FROM lb JOIN targets t ON t.account_id = lb.account_id
                       WHERE t."group" = 'state media'""")[0] == 0


def test_added_campaign_accounts_look_ordinary(con):
    r = one(con, """SELECT count(*), avg(regexp_matches(a.handle, '^[A-Za-z]+[0-9]{8}$')::INT),
        count(DISTINCT year(a.created_at)), avg((year(a.created_at) < 2015)::INT), median(a.followers_count)
        FROM accounts a JOIN truth_accounts t USING (account_id)
        WHERE t.campaign IN ('scheduled', 'ring', 'slowtext', 'links')""")
    n, templated, years, old, followers = r
    assert n >= 60
    assert templated < 0.3            # not all name + 8 digits (10% drawn)
    assert years >= 6 and old > 0.1  # creation spread over the years, some old accounts (25%)
    assert followers >= 20           # ordinary audiences, not a handful
    # and they log in through residential proxies: no IP shared within a campaign (shared_ip_share 0)
    shared = one(con, """SELECT count(*) FROM (SELECT l.ip_hash FROM logins l JOIN truth_accounts t USING (account_id)
        WHERE t.campaign IN ('scheduled', 'ring', 'slowtext', 'links')
        GROUP BY l.ip_hash, t.campaign HAVING count(DISTINCT l.account_id) > 1)""")[0]
    assert shared == 0


def test_realistic_is_deterministic_and_writes_every_format(tmp_path):
    kw = {"scenario": "realistic", "accounts": 3_000, "engagements": 20_000}
    a = simulate(make_config(**kw, seed=5))
    b = simulate(make_config(**kw, seed=5))
    for name in ("posts", "accounts", "account_status", "logins", "truth_accounts", "truth_engagements"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.posts.equals(simulate(make_config(**kw, seed=6)).posts)
    assert a.truth_engagements.num_rows == 20_000
    for fmt in ("twarc2", "io-archive"):
        write(a, tmp_path / fmt, fmt)
        assert (tmp_path / fmt / "truth_accounts.csv").stat().st_size > 0


def test_switches_on_the_default_scenario():
    p = simulate(make_config(accounts=3_000, engagements=20_000, seed=2, campaigns=["slowtext"],
                             confounders=["aggregators"]))
    roles = set(p.truth_accounts.column("role").to_pylist())
    assert {"praiser", "aggregator", "news-outlet"} <= roles
    assert not roles & {"fan", "idol", "super-spreader", "shift-worker"}
    purposes = set(p.truth_engagements.column("purpose").cast("string").to_pylist())
    assert "aggregation" in purposes and "fandom" not in purposes and "surge" not in purposes


def test_cli_realistic_json(cli, tmp_path):
    r = cli("simulate", tmp_path / "f", "--scenario", "realistic", "--accounts", "3000", "--engagements", "15000",
            "--confounder", "fandoms", "--format", "csv", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["scenario"] == "realistic" and doc["confounders"] == ["fandoms"]
    assert len(doc["campaigns"]) == 8 and doc["stats"]["fans"] > 50
    r = cli("simulate", tmp_path / "g", "--scenario", "nope")
    assert r.exit_code == 2 and "unknown scenario" in r.stderr

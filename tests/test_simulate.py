"""The simulator: determinism, completeness of the ground truth, and each campaign's signature in the data.

Signatures are checked with SQL over the platform's canonical tables (DuckDB on Arrow), the way a detector
would see them; the expected values come from the defaults in echoscope/simulate/config.py and the figures
they stand for (docs/simulator.md).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from echoscope.errors import ConfigError
from echoscope.simulate import make_config, simulate
from echoscope.simulate.writers import stringify

SIZE = {"accounts": 20_000, "engagements": 200_000}


def _con(p) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    for name in p.TABLES:
        con.register(name, p.canonical(name))
    con.register("truth_accounts", stringify(p.truth_accounts))
    con.register("truth_engagements", stringify(p.truth_engagements))
    con.register("targets", p.targets_table())
    # the engagements view of the study, written the same way (engine.ENGAGEMENTS_SQL without likes)
    con.execute("""CREATE VIEW engagements AS SELECT p.post_id AS engagement_id, p.account_id AS actor_id, p.kind,
        p.ref_post_id AS subject_post_id, p.ref_account_id AS subject_account_id, p.created_at,
        epoch(p.created_at) - epoch(s.created_at) AS latency_s
        FROM posts p LEFT JOIN posts s ON s.post_id = p.ref_post_id WHERE p.kind <> 'original'""")
    return con


@pytest.fixture(scope="module")
def platform():
    return simulate(make_config(**SIZE, seed=11))


@pytest.fixture(scope="module")
def con(platform):
    return _con(platform)


def one(con, sql):
    return con.execute(sql).fetchone()


def test_same_seed_same_output_and_other_seed_differs():
    a = simulate(make_config(accounts=3_000, engagements=20_000, seed=5))
    b = simulate(make_config(accounts=3_000, engagements=20_000, seed=5))
    c = simulate(make_config(accounts=3_000, engagements=20_000, seed=6))
    for name in ("posts", "accounts", "account_status", "logins", "truth_accounts", "truth_engagements"):
        assert getattr(a, name).equals(getattr(b, name)), name
    assert not a.posts.equals(c.posts)


def test_sizes_and_ids(platform, con):
    # the engagements asked for, exactly (repeated reposts are dropped and topped up with organic activity)
    assert one(con, "SELECT count(*) FROM engagements")[0] == SIZE["engagements"]
    assert platform.accounts.num_rows == SIZE["accounts"]
    # ids are unique, every reference resolves, engagements come after what they engage with
    assert one(con, "SELECT count(*) - count(DISTINCT post_id) FROM posts")[0] == 0
    assert one(con, "SELECT count(*) - count(DISTINCT account_id) FROM accounts")[0] == 0
    assert one(con, "SELECT count(*) FROM engagements WHERE latency_s IS NULL OR latency_s < 1")[0] == 0
    assert one(con, "SELECT count(*) FROM posts p LEFT JOIN accounts a USING (account_id) "
                    "WHERE a.account_id IS NULL")[0] == 0
    # nobody acts before their account exists
    assert one(con, "SELECT count(*) FROM posts p JOIN accounts a USING (account_id) "
                    "WHERE p.created_at <= a.created_at")[0] == 0
    # nobody reposts the same post twice or engages with their own post
    assert one(con, "SELECT count(*) FROM (SELECT actor_id, subject_post_id FROM engagements WHERE kind='repost' "
                    "GROUP BY 1, 2 HAVING count(*) > 1)")[0] == 0
    assert one(con, "SELECT count(*) FROM engagements WHERE actor_id = subject_account_id")[0] == 0


def test_ground_truth_is_complete(con):
    # one truth row per account and per engagement, with matching ids
    assert one(con, "SELECT count(*) FROM accounts a FULL JOIN truth_accounts t USING (account_id) "
                    "WHERE a.account_id IS NULL OR t.account_id IS NULL")[0] == 0
    assert one(con, "SELECT count(*) FROM engagements e FULL JOIN truth_engagements t USING (engagement_id) "
                    "WHERE e.engagement_id IS NULL OR t.engagement_id IS NULL OR e.actor_id <> t.actor_id")[0] == 0
    # planted engagements are exactly those by campaign accounts (amplifying or camouflage)
    bad = one(con, """SELECT count(*) FROM truth_engagements e JOIN truth_accounts a ON a.account_id = e.actor_id
                      WHERE e.planted <> (a.truth = 'campaign')""")[0]
    assert bad == 0
    camps = {r[0] for r in con.execute("SELECT DISTINCT campaign FROM truth_accounts WHERE truth='campaign'")
             .fetchall()}
    assert camps == {"superspreaders", "impersonation", "hijacked", "copypaste"}


def test_targets_groups_and_labels(platform):
    t = platform.targets_table().to_pylist()
    groups = {r["group"] for r in t}
    assert groups == {"diplomats", "state media"}
    share = sum(r["label"] is not None for r in t) / len(t)
    assert abs(share - 0.14) < 0.03  # AP/OII: 14% of the diplomats were labelled


def test_superspreader_signature(con):
    acc = one(con, """SELECT count(*), count(DISTINCT created_at::DATE),
        avg((followers_count <= 10)::INT), avg(regexp_matches(accounts.handle, '^[A-Za-z]+[0-9]{8}$')::INT),
        avg((default_profile_image OR profile_image_url LIKE 'sim://gan/%'
             OR profile_image_url LIKE 'sim://stock/%')::INT)
        FROM accounts JOIN truth_accounts USING (account_id) WHERE role = 'super-spreader'""")
    n, days, few_followers, templated, fake_image = acc
    assert n >= 100
    assert days <= 12            # created in bursts on a handful of days (6 burst days, spread over hours)
    assert few_followers >= 0.9  # "rarely more than ten followers"
    assert templated == 1.0      # name + 8 digits
    assert fake_image == 1.0     # default, GAN or reused stock photo
    lat = one(con, """SELECT median(latency_s), avg((latency_s <= 60)::INT) FROM engagements e
        JOIN truth_engagements t USING (engagement_id) JOIN targets g ON g.account_id = e.subject_account_id
        WHERE t.campaign = 'superspreaders' AND t.purpose = 'amplify'""")
    assert lat[0] < 30 and lat[1] > 0.85  # rapid-fire: within seconds


def test_organic_behaviour_long_delays_diurnal_and_viral(con):
    lat = one(con, """SELECT median(latency_s), quantile_cont(latency_s, 0.9) FROM engagements e
        JOIN truth_engagements t USING (engagement_id) WHERE NOT t.planted""")
    assert lat[0] > 600 and lat[1] > 6 * 3600  # minutes to days, long tailed
    # most organic activity avoids the actor's local night (00-07), computed from the claimed location's zone
    night = one(con, """SELECT avg(CASE WHEN ((hour(e.created_at) + t.operating_utc_offset_h + 24) % 24) < 6
                                   THEN 1.0 ELSE 0 END)
        FROM engagements e JOIN truth_engagements te USING (engagement_id)
        JOIN truth_accounts t ON t.account_id = e.actor_id WHERE NOT te.planted""")[0]
    assert night < 0.12  # a flat day would put 25% in those 6 hours
    # viral moments: an organic post reposted by 40+ honest accounts within 10 minutes
    viral = one(con, """SELECT max(n) FROM (SELECT e.subject_post_id, count(*) n FROM engagements e
        JOIN truth_engagements t USING (engagement_id)
        WHERE NOT t.planted AND e.kind = 'repost' AND latency_s <= 600 GROUP BY 1)""")[0]
    assert viral >= 40


def test_impersonation_signature(con):
    r = one(con, """SELECT count(DISTINCT a.account_id),
        avg((a.location IN ('London', 'Manchester, England', 'Leeds', 'Bristol, UK', 'Glasgow, Scotland',
             'Birmingham, UK', 'Cardiff', 'Liverpool', 'England', 'United Kingdom', 'Sheffield, England',
             'Nottingham', 'Oxford, UK'))::INT)
        FROM accounts a JOIN truth_accounts t USING (account_id) WHERE t.role = 'persona'""")
    assert r[0] == 62 and r[1] == 1.0  # 62 accounts, all claiming UK locations
    # activity in UTC+8 office hours on weekdays (Beijing 09-18 = 01-10 UTC), not UK hours
    office = one(con, """SELECT avg(CASE WHEN hour(created_at + INTERVAL 8 HOUR) BETWEEN 9 AND 19
                                   AND isodow(created_at + INTERVAL 8 HOUR) <= 5 THEN 1.0 ELSE 0 END)
        FROM engagements e JOIN truth_engagements t USING (engagement_id) WHERE t.campaign='impersonation'""")[0]
    assert office > 0.95
    # often within 60 s of another account of the network on the same post
    close = one(con, """WITH e AS (SELECT e.* FROM engagements e JOIN truth_engagements t USING (engagement_id)
                                   WHERE t.campaign = 'impersonation')
        SELECT avg(CASE WHEN EXISTS (SELECT 1 FROM e f WHERE f.subject_post_id = e.subject_post_id
              AND f.actor_id <> e.actor_id AND abs(epoch(f.created_at) - epoch(e.created_at)) <= 60)
              THEN 1.0 ELSE 0 END) FROM e""")[0]
    assert close > 0.6
    # focus: the cluster makes more than 4 in 10 of the ambassador's retweets
    amb = one(con, """SELECT avg((t.campaign = 'impersonation')::INT) FROM engagements e
        JOIN truth_engagements t USING (engagement_id) JOIN accounts a ON a.account_id = e.subject_account_id
        WHERE a.handle = 'AmbassadorUK' AND e.kind = 'repost'""")[0]
    assert amb > 0.4


def test_hijacked_signature(con):
    # old life, months of silence, then amplification in another language with another client
    r = con.execute("""WITH h AS (SELECT account_id, hijacked_at FROM truth_accounts WHERE role = 'hijacked'),
        p AS (SELECT p.*, h.hijacked_at, a.created_at AS account_created FROM posts p JOIN h USING (account_id)
              JOIN accounts a USING (account_id))
        SELECT account_id,
               (epoch(any_value(hijacked_at)) - epoch(max(CASE WHEN created_at < hijacked_at THEN created_at END)))
                   / 86400 AS silent_days,
               count(*) FILTER (WHERE created_at >= hijacked_at) AS new_posts,
               avg(CASE WHEN created_at >= hijacked_at AND kind IN ('reply','quote') THEN (lang='zh')::INT END),
               avg(CASE WHEN created_at >= hijacked_at THEN (client='Twitter Web App')::INT END),
               year(min(account_created))
        FROM p GROUP BY account_id""").fetchall()
    assert len(r) >= 20
    active = [x for x in r if x[2] > 0]
    assert len(active) >= 0.7 * len(r)
    for _, silent_days, _, zh, web, created_year in active:
        assert silent_days >= 8 * 30  # dormant for at least 8 months before the takeover
        assert zh in (None, 1.0) and web == 1.0
        assert created_year <= 2016  # real-looking old accounts


def test_copy_paste_signature(con):
    r = one(con, """WITH c AS (SELECT p.* FROM posts p JOIN truth_accounts t USING (account_id)
                                WHERE t.role = 'copy-paster' AND p.kind = 'reply')
        SELECT count(*), count(DISTINCT regexp_replace(text, '^@\\S+ ', '')) FROM c""")
    n, distinct = r
    assert n > 500 and distinct < 200  # a few templates with small edits: near-duplicates
    links = one(con, """SELECT count(*), count(DISTINCT regexp_replace(u, '\\?.*$', ''))
        FROM (SELECT unnest(urls) u FROM posts p JOIN truth_accounts t USING (account_id)
              WHERE t.role = 'copy-paster')""")
    assert links[0] > 100 and links[1] <= 4  # the same links (tracking parameters vary)
    seqs = con.execute("""SELECT hashtags FROM posts p JOIN truth_accounts t USING (account_id)
        WHERE t.role = 'copy-paster' AND len(hashtags) = 3""").fetchall()
    assert len({tuple(s[0]) for s in seqs}) == 3 and len(seqs) > 100  # hashtag sequences, always in order


def test_enforcement_waves(con):
    # a share of campaign accounts suspended, in waves, weeks or months after they began to act
    r = one(con, """WITH s AS (SELECT account_id, min(checked_at) first_seen FROM account_status
                               WHERE status = 'suspended' GROUP BY 1),
        c AS (SELECT t.account_id, t.truth, s.first_seen FROM truth_accounts t LEFT JOIN s USING (account_id))
        SELECT avg(CASE WHEN truth='campaign' THEN (first_seen IS NOT NULL)::INT END),
               avg(CASE WHEN truth='organic' THEN (first_seen IS NOT NULL)::INT END),
               count(DISTINCT first_seen::DATE) FILTER (WHERE truth='campaign') FROM c""")
    camp, org, days = r
    assert 0.6 < camp < 0.95
    assert 0.0005 < org < 0.01  # a few organic accounts too
    assert days >= 5            # waves, not one day
    gap = one(con, """WITH f AS (SELECT actor_id, min(created_at) first_act FROM engagements GROUP BY 1),
        s AS (SELECT account_id, min(checked_at) t FROM account_status WHERE status='suspended' GROUP BY 1)
        SELECT median(epoch(s.t) - epoch(f.first_act)) / 86400 FROM s JOIN f ON f.actor_id = s.account_id
        JOIN truth_accounts t ON t.account_id = s.account_id WHERE t.truth = 'campaign'""")[0]
    assert gap > 21  # weeks or months after the activity
    # no suspended account acts after the check that saw it suspended
    late = one(con, """WITH s AS (SELECT account_id, min(checked_at) t FROM account_status
                                  WHERE status='suspended' GROUP BY 1)
        SELECT count(*) FROM posts p JOIN s USING (account_id) WHERE p.created_at > s.t""")[0]
    assert late == 0


def test_shared_ips(con):
    # operator IPs: campaign accounts log in from IPs shared with many other campaign accounts
    r = one(con, """WITH ip AS (SELECT ip_hash, count(DISTINCT account_id) n FROM logins GROUP BY 1),
        a AS (SELECT l.account_id, max(ip.n) biggest FROM logins l JOIN ip USING (ip_hash) GROUP BY 1)
        SELECT avg(CASE WHEN t.truth='campaign' THEN (biggest >= 5)::INT END),
               avg(CASE WHEN t.truth='organic' THEN (biggest >= 5)::INT END)
        FROM a JOIN truth_accounts t USING (account_id)""")
    assert r[0] > 0.5
    assert 0.01 < r[1] < 0.4  # some organic accounts share an IP too (carrier NAT), so an IP alone is weak


def test_campaigns_switch_and_difficulty():
    organic = simulate(make_config(accounts=3_000, engagements=20_000, seed=2, campaigns=["none"]))
    assert organic.truth_engagements.column("planted").to_numpy().sum() == 0
    only = simulate(make_config(accounts=3_000, engagements=20_000, seed=2, campaigns=["hijacked"]))
    camps = set(only.truth_accounts.column("campaign").drop_null().to_pylist())
    assert camps == {"hijacked"}
    # hard: the same campaigns, slower and noisier
    con_d = _con(simulate(make_config(accounts=5_000, engagements=50_000, seed=3)))
    con_h = _con(simulate(make_config(accounts=5_000, engagements=50_000, seed=3, difficulty="hard")))
    q = """SELECT median(latency_s) FROM engagements e JOIN truth_engagements t USING (engagement_id)
           WHERE t.campaign = 'superspreaders' AND t.purpose = 'amplify'"""
    assert one(con_h, q)[0] > 3 * one(con_d, q)[0]
    q2 = "SELECT avg((purpose = 'camouflage')::INT) FROM truth_engagements WHERE campaign = 'superspreaders'"
    assert one(con_h, q2)[0] > one(con_d, q2)[0] + 0.15


@pytest.mark.parametrize("kw,match", [
    ({"accounts": 100}, "too small"),
    ({"campaigns": ["bogus"]}, "unknown campaign"),
    ({"difficulty": "extreme"}, "unknown difficulty"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ConfigError, match=match):
        make_config(**kw)


def test_compact_tables_conform_to_canonical(platform):
    from echoscope import schema as S

    for name in platform.TABLES:
        t = platform.canonical(name, 0, 1000)
        assert t.schema.equals(S.TABLES[name]), name
    assert isinstance(platform.posts.column("post_id").type, pa.DataType)


def test_fast_helpers_match_their_slow_definitions():
    """The vectorised helpers introduced for speed keep the semantics of what they replaced."""
    import numpy as np
    import pandas as pd

    from echoscope.simulate.platform import _repeated
    from echoscope.simulate.util import allocator_tuned, counts_to_rows, lognormal_s

    rng = np.random.default_rng(3)
    # _repeated == pandas' duplicated(keep="first"), including long runs and unsorted input
    for n in (0, 1, 2, 50, 20_000):
        key = rng.integers(0, max(1, n // 4), n)
        assert (_repeated(key) == pd.Series(key).duplicated(keep="first").to_numpy()).all()
    # counts_to_rows: same distribution as weighted draws (counts within 5 binomial sds), grouped in `order`
    w = np.array([1.0, 0.0, 3.0, 6.0])
    order = np.array([2, 0, 3, 1])
    rows = counts_to_rows(rng, w, 100_000, order)
    assert len(rows) == 100_000
    counts = np.bincount(rows, minlength=4)
    expected = 100_000 * w / w.sum()
    assert (np.abs(counts - expected) <= 5 * np.sqrt(expected * (1 - w / w.sum())) + 1e-9).all()
    runs = rows[np.r_[True, rows[1:] != rows[:-1]]]
    assert list(runs) == [2, 0, 3]  # grouped, in the given order; zero weight never drawn
    # lognormal_s: median as asked (log-sd 0.8: sample median within 2%), at least one second
    with allocator_tuned():  # a no-op off glibc; must not break anything inside or after
        d = lognormal_s(rng, 30.0, 0.8, 200_000)
    assert abs(np.median(d) / 1e6 / 30.0 - 1) < 0.02
    assert d.min() >= 1_000_000

"""Labelled check on the simulator's platforms: flagged accounts against truth_accounts at detector defaults.

Measured (simulator defaults: 20,000 accounts, 200,000 engagements, seed 7; detector defaults: object-timeline
null, cross-fitted held-out validation, window 60 s), 2026-12-06:

- co-retweet alone, default difficulty: 167 accounts flagged, all from campaigns (precision 1.00), no organic
  account; super-spreaders 106 of 120, personas 61 of 62, hijacked 0 of 30 (recall 0.79 of the 212 campaign
  accounts that co-retweet the same post within 60 s of an account of their own campaign on two or more
  posts).
- the seven behaviours fused (co-retweet, co-reply, co-quote, co-text, rapid-fire, early-amplify,
  co-latency), default difficulty: 230 flagged, precision 1.00, no organic account; of the 242 campaign
  accounts acting together (reposts, replies or quotes), 230 (recall 0.95): super-spreaders 118/120,
  personas 61/62, hijacked 25/30, copy-pasters 26/30. Without early-amplify and co-latency: 199 (0.82),
  hijacked 0/30. Seed 3: 228 of 239 (0.95), precision 1.00, no organic account.
- the same on the hard setting: 158 flagged, precision 1.00, no organic account, 158 of 235 (0.67):
  super-spreaders 77/114, personas 56/62, hijacked 0/30, copy-pasters 25/29 (five behaviours: 109, 0.46).
  Seed 3: 182 of 236 (0.77).

The issue's recall target (0.90) is met on the default difficulty with the seven behaviours fused, not on
the hard one (its hijacked accounts answer with the organic crowd's own delays; benchmarks/RESULTS.md and
notes/results-coord-recall.md). The thresholds below are those measurements with margins, so the test fails
when the detector gets worse, not when it stays as measured. A platform without campaigns must give no
flagged account at all, for co-retweet and for the fused run.
"""

from __future__ import annotations

import pytest

#: the fused run of the accuracy table (benchmarks/bench_coordination_accuracy.py), the default behaviours: the
#: seven behaviours of the ``amplification`` set (co-retweet, co-reply, co-quote, co-text, rapid-fire,
#: early-amplify, co-latency), co-link and shared-ip (the simulator's logins: operators' address pools,
#: households and carrier NAT for organic users)
FUSED = ("amplification", "co-link", "shared-ip")


def _platform(tmp_path_factory, name: str, **config):
    from echoscope.simulate import make_config, simulate, write
    from echoscope.study import open_study

    platform = simulate(make_config(**config))  # the simulator's settings, untouched
    root = tmp_path_factory.mktemp(name)
    write(platform, root / "study", "study")
    return platform, open_study(root / "study")


@pytest.fixture(scope="module")
def default_platform(tmp_path_factory):
    return _platform(tmp_path_factory, "default")


def _score(platform, study, flagged, kinds=("repost", "reply", "quote")):
    """Precision, organic share, recall and per-campaign recall of ``flagged`` against the simulator's truth.

    Acting together: >= 2 posts answered (``kinds``) within 60 s of an account of the same campaign,
    computed from the raw posts, independently of the detector.
    """
    import duckdb

    truth = platform.truth_accounts.to_pandas()
    truth["account_id"] = truth["account_id"].astype(str)
    camp = truth["campaign"].notna()
    is_flag = truth["account_id"].isin(flagged)
    precision = int((is_flag & camp).sum()) / max(len(flagged), 1)
    organic = float((is_flag & ~camp).sum()) / float((~camp).sum())
    con = duckdb.connect()
    con.register("t", truth[["account_id", "campaign"]])
    con.register("p", study.to_arrow("posts").select(["account_id", "ref_post_id", "kind", "created_at"]))
    together = {r[0] for r in con.execute(f"""
        WITH x AS (SELECT CAST(p.account_id AS VARCHAR) AS a, p.ref_post_id AS o, epoch(p.created_at) AS ts, t.campaign
                   FROM p JOIN t ON t.account_id = CAST(p.account_id AS VARCHAR)
                   WHERE p.kind IN {tuple(kinds) if len(kinds) > 1 else f"('{kinds[0]}')"} AND t.campaign IS NOT NULL)
        SELECT x.a FROM x JOIN x y ON x.o = y.o AND x.campaign = y.campaign AND x.a <> y.a AND abs(x.ts - y.ts) <= 60
        GROUP BY x.a HAVING count(DISTINCT x.o) >= 2""").fetchall()}
    truth["together"] = truth["account_id"].isin(together)
    recall = float((is_flag & truth["together"]).sum()) / max(int(truth["together"].sum()), 1)
    per = truth[truth["together"]].groupby("campaign")["account_id"].apply(lambda s: s.isin(flagged).mean())
    return precision, organic, recall, per


@pytest.mark.slow
def test_flagged_accounts_against_simulator_truth(default_platform):
    from echoscope.coordination import CoordParams, coordinate

    platform, study = default_platform
    res = coordinate(study, CoordParams(behaviours=("co-retweet",)), write=False)
    precision, organic, recall, per = _score(platform, study, res.flagged_accounts(), kinds=("repost",))
    assert precision >= 0.95  # issue target; measured 1.00
    assert organic < 0.005  # issue target; measured 0.0
    # measured 0.72 (co-retweet alone; 0.79 before issue 16). The held-out test judges an account against its
    # authors' whole audience and leaves out the author it co-acts on most (a fan's idol): the personas put 63%
    # of their waves on the ambassador and make nearly half of his reposts, so co-retweet alone keeps 41 of them
    # (61 before) on their other targets; the default behaviours fused keep 61 (test below)
    assert recall >= 0.65
    assert per["superspreaders"] >= 0.85  # measured 106 / 120 = 0.88
    assert per["impersonation"] >= 0.55  # measured 41 / 62 = 0.66


@pytest.mark.slow
def test_fused_behaviours_reach_the_recall_target_on_the_default_platform(default_platform):
    """The eight behaviours fused: the issue's targets (precision >= 0.95, recall >= 0.90, < 0.5% organic)."""
    from echoscope.coordination import CoordParams, coordinate

    platform, study = default_platform
    res = coordinate(study, CoordParams(), write=False)  # the default behaviours are FUSED
    assert res.summary["parameters"]["behaviours"] == CoordParams(behaviours=FUSED).behaviours
    precision, organic, recall, per = _score(platform, study, res.flagged_accounts())
    assert precision >= 0.95  # measured 1.00 (seed 3: 1.00)
    assert organic < 0.005  # measured 0 of 19,758 (seed 3: 0)
    assert recall >= 0.90  # issue target; measured 235 / 242 = 0.97 (seed 3: 0.98; the seven alone 0.95)
    assert per["superspreaders"] >= 0.9  # measured 119 / 120
    assert per["impersonation"] >= 0.9  # measured 62 / 62
    # early-amplify and co-latency: the hijacked (latency median 120 s) answer the targets early, not within
    # 60 s of each other; co-retweet and rapid-fire found none of them
    assert per["hijacked"] >= 0.7  # measured 27 / 30
    assert per["copypaste"] >= 0.7  # measured 27 / 30


@pytest.mark.slow
def test_fused_behaviours_on_the_hard_platform(tmp_path_factory):
    """Hard setting: slower, noisier campaigns. Precision and the organic share hold; recall 0.73, not 0.90."""
    from echoscope.coordination import CoordParams, coordinate

    platform, study = _platform(tmp_path_factory, "hard", difficulty="hard")
    res = coordinate(study, CoordParams(behaviours=FUSED), write=False)
    precision, organic, recall, per = _score(platform, study, res.flagged_accounts())
    assert precision >= 0.95  # measured 1.00
    assert organic < 0.005  # measured 0
    assert recall >= 0.65  # measured 171 / 235 = 0.73 (seed 3: 0.80; the seven alone 0.67, the five 0.46)
    assert per["superspreaders"] >= 0.65  # measured 86 / 114 = 0.75 (77 without shared-ip)
    assert per["impersonation"] >= 0.8  # measured 56 / 62
    assert per["copypaste"] >= 0.7  # measured 25 / 29 (co-latency: replies in the same delay bucket; 0 before)


@pytest.mark.slow
def test_no_campaigns_no_flagged_accounts(tmp_path_factory):
    """Calibration: 20,000 organic accounts (communities, viral moments, sleep cycles) and no campaign.

    Every account the validation keeps is then a false discovery; with Benjamini-Hochberg at alpha = 0.01
    the chance of any is about 1%, and this seed gives none (measured: 0 of 20,000; co-retweet 1,971 and
    2,125 accounts tested in the two folds, the seven behaviours fused 4,253 and 4,365; on the hard
    setting's organic platform the fused run also flags none of 5,207 and 5,275 tested). The fused run
    includes shared-ip: organic households and carrier-NAT addresses must not make anyone coordinated.
    """
    from echoscope.coordination import CoordParams, coordinate

    _, study = _platform(tmp_path_factory, "organic", campaigns=[])
    res = coordinate(study, CoordParams(behaviours=("co-retweet",)), write=False)
    assert res.summary["validation"]["folds"][0]["accounts_tested"] > 1000  # the test did run on many accounts
    assert res.flagged_accounts() == set()
    fused = coordinate(study, CoordParams(behaviours=FUSED), write=False)
    assert fused.summary["validation"]["folds"][0]["accounts_tested"] > 3000
    assert fused.flagged_accounts() == set()


def test_shared_ip_carrier_nat_is_capped(tmp_path_factory):
    """The simulator gives 5% of organic logins a carrier-NAT address (10 addresses at 10,000 accounts, ~125
    accounts each): under the configuration null two users who share two such addresses look like an
    operator's pool. The default --max-shared-accounts (50) drops crowded addresses before pairing and reports
    them; without the cap this organic platform had 32 judged edges and 40 flagged accounts."""
    from echoscope.coordination import CoordParams, coordinate

    _, study = _platform(tmp_path_factory, "nat", accounts=10_000, engagements=100_000, campaigns=[])
    r = coordinate(study, CoordParams(behaviours=("shared-ip",)), write=False)
    guard = r.summary["behaviours"]["shared-ip"]["guard"]
    assert guard["objects_affected"] == 10 and guard["max_window_actions"] == 50
    assert r.flagged_accounts() == set()
    uncapped = coordinate(study, CoordParams(behaviours=("shared-ip",), max_shared_accounts=None), write=False)
    assert len(uncapped.flagged_accounts()) > 10  # what the cap prevents (measured 40)

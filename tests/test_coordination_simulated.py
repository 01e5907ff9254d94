"""Labelled check on the simulator's default platform: flagged accounts against truth_accounts at defaults.

Measured (simulator defaults: 20,000 accounts, 200,000 engagements, seed 7; co-retweet; detector defaults:
object-timeline null, cross-fitted held-out validation, window 60 s), 2026-12-02 after the validation
change (groups at Leiden resolution 0.5, each account tested against its own group, both folds summed): 169
accounts flagged, all from campaigns (precision 1.00), no organic account flagged. Of the 212 campaign
accounts that co-retweet the same post within 60 s of an account of their own campaign on two or more
posts, 169 are found (recall 0.80; before the change 132, 0.62): super-spreaders 109 of 120 (the 11 missed
made 2-10 reposts in all), personas 60 of 62, hijacked 0 of 30 (their latencies, median 120 s with log-sd
1.5, put them within a window of each other no more often than the target posts' early organic
accounts: the timing null sees nothing; the account signals find them). The issue's recall target (0.90)
is NOT met; the precision and organic-share targets are. The thresholds below are those measurements with
margins, so the test fails when the detector gets worse, not when it stays as measured (see
benchmarks/RESULTS.md). A platform without campaigns must give no flagged account at all.
"""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_flagged_accounts_against_simulator_truth(tmp_path):
    import duckdb

    from echoscope.coordination import CoordParams, coordinate
    from echoscope.simulate import make_config, simulate, write
    from echoscope.study import open_study

    platform = simulate(make_config())  # the simulator's defaults, untouched
    write(platform, tmp_path / "study", "study")
    study = open_study(tmp_path / "study")
    res = coordinate(study, CoordParams(), write=False)
    flagged = res.flagged_accounts()
    truth = platform.truth_accounts.to_pandas()
    truth["account_id"] = truth["account_id"].astype(str)
    camp = truth["campaign"].notna()
    is_flag = truth["account_id"].isin(flagged)
    tp = int((is_flag & camp).sum())
    precision = tp / max(len(flagged), 1)
    organic_share = float((is_flag & ~camp).sum()) / float((~camp).sum())
    assert precision >= 0.95  # issue target; measured 1.00
    assert organic_share < 0.005  # issue target; measured 0.0

    # campaign accounts that act together in co-retweet: >= 2 posts reposted within 60 s of an account of
    # their own campaign (computed from the raw reposts, independent of the detector)
    con = duckdb.connect()
    con.register("t", truth[["account_id", "campaign"]])
    con.register("p", study.to_arrow("posts").select(["account_id", "ref_post_id", "kind", "created_at"]))
    together = {r[0] for r in con.execute("""
        WITH x AS (SELECT CAST(p.account_id AS VARCHAR) AS a, p.ref_post_id AS o, epoch(p.created_at) AS ts, t.campaign
                   FROM p JOIN t ON t.account_id = CAST(p.account_id AS VARCHAR)
                   WHERE p.kind = 'repost' AND t.campaign IS NOT NULL)
        SELECT x.a FROM x JOIN x y ON x.o = y.o AND x.campaign = y.campaign AND x.a <> y.a AND abs(x.ts - y.ts) <= 60
        GROUP BY x.a HAVING count(DISTINCT x.o) >= 2""").fetchall()}
    truth["together"] = truth["account_id"].isin(together)
    recall = float((is_flag & truth["together"]).sum()) / max(int(truth["together"].sum()), 1)
    assert recall >= 0.75  # measured 169 / 212 = 0.80; the target of 0.90 is not reached (see module docstring)
    per = truth[truth["together"]].groupby("campaign")["account_id"].apply(lambda s: s.isin(flagged).mean())
    assert per["superspreaders"] >= 0.85  # measured 109 / 120 = 0.91
    assert per["impersonation"] >= 0.9  # measured 60 / 62 = 0.97


@pytest.mark.slow
def test_no_campaigns_no_flagged_accounts(tmp_path):
    """Calibration: 20,000 organic accounts (communities, viral moments, sleep cycles) and no campaign.

    Every account the validation keeps is then a false discovery; with Benjamini-Hochberg at alpha = 0.01
    the chance of any is about 1%, and this seed gives none (measured: 0 of 20,000, 2,026 and 2,107
    accounts tested in the two folds).
    """
    from echoscope.coordination import CoordParams, coordinate
    from echoscope.simulate import make_config, simulate, write
    from echoscope.study import open_study

    platform = simulate(make_config(campaigns=[]))
    write(platform, tmp_path / "study", "study")
    res = coordinate(open_study(tmp_path / "study"), CoordParams(), write=False)
    assert res.summary["validation"]["folds"][0]["accounts_tested"] > 1000  # the test did run on many accounts
    assert res.flagged_accounts() == set()

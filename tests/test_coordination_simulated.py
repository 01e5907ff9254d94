"""Labelled check on the simulator's default platform: flagged accounts against truth_accounts at defaults.

Measured (simulator defaults: 20,000 accounts, 200,000 engagements, seed 7; co-retweet; detector defaults:
object-timeline null, held-out validation, window 60 s), re-measured 2026-12-02 on the current simulator: 132
accounts flagged, all from campaigns (precision 1.00), no organic account flagged. Of the 212 campaign
accounts that co-retweet the same post within 60 s of an account of their own campaign on two or more
posts, 132 are found (recall 0.62): super-spreaders 77 of 120, personas 55 of 62, hijacked 0 of 30 (their
latencies, median 120 s with log-sd 1.5, rarely fall inside one 60 s window of each other). The earlier
figures (155 flagged, recall 0.74, super-spreaders 97 of 119) were made on an older simulator output; the
code before the co-retweet speed-up gives exactly the same 132 / 0.62 on today's output, so the drift is
the simulator's, not the detector's. The issue's recall target (0.90) is NOT met; the precision and
organic-share targets are. The thresholds below are those measurements with margins, so the test fails
when the detector gets worse, not when it stays as measured (see benchmarks/RESULTS.md).
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
    assert recall >= 0.58  # measured 132 / 212 = 0.62; the target of 0.90 is not reached (see module docstring)
    per = truth[truth["together"]].groupby("campaign")["account_id"].apply(lambda s: s.isin(flagged).mean())
    assert per["superspreaders"] >= 0.58  # measured 77 / 120 = 0.64
    assert per["impersonation"] >= 0.82  # measured 55 / 62 = 0.89

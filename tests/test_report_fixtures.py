"""Small studies for the report and export tests, built from Arrow (no other capability needed).

``build_study(path, hostile=True)`` makes a study with two targets in two groups, 40 amplifiers with known
classes, account status checks, likes, a quarantined row, and -- unless ``results=False`` -- result tables in
the shape the coordination and account stages write (``coord_*``, ``account_*``) followed by a real run of
``echoscope measure`` (``amplification_*``). The numbers below are chosen so the tests can state expected
values:

- target ``t1`` (@ambassador, group diplomats, labelled) gets 100 reposts: 60 from the 6 campaign accounts
  c0..c5 (10 each, 5 s after the post), 40 from organic accounts o0..o19 (2 each, one hour after);
- target ``t2`` (@statemedia, group "state media", unlabelled) gets 20 reposts from o0..o19 (1 each, one day
  after) and 10 likes from o0..o9;
- c0..c3 are later suspended, c4 deleted (both count as "later suspended"), c5 active; o0..o9 active;
  o10..o19 never checked;
- coordination: one coordinated cluster {c0..c5} (cluster 1) and one not-coordinated cluster {o0, o1}
  (cluster 2); account scores: c0..c5 score 0.9, o0 0.2.

So ``t1``: share later suspended = 50/100 (c0..c4, 10 each); ``t2``: 0; all targets: 50/130.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from echoscope import schema as S

#: hostile strings fed through names, bios, posts and URLs
PAYLOADS = {
    "script": "<script>window.__pwned=1;document.title='PWNED'</script>",
    "img": "<img src=x onerror=\"window.__pwned=2;document.title='PWNED'\">",
    "svg": "<svg onload=\"window.__pwned=3\"></svg>",
    "close": "</script><script>window.__pwned=4</script>",
    "js_url": "javascript:window.__pwned=5//",
    "attr": "\" onmouseover=\"window.__pwned=6\" x=\"",
    "rtl": "evil\u202egnp.exe",
    "zw": "ad\u200bmin\u200d\ufeff",
    "long": "A" * 20000,
    "style": "<style>body{display:none}</style>",
    "iframe": "<iframe src=\"javascript:parent.__pwned=7\"></iframe>",
    "formula": "=HYPERLINK(\"http://evil.example\",\"x\")",
}

T0 = dt.datetime(2020, 6, 1, 12, 0, tzinfo=dt.UTC)


def _accounts(hostile: bool) -> pa.Table:
    rows = []
    for i in range(6):
        rows.append({"platform": "twitter", "account_id": f"c{i}", "handle": f"campaign{i}",
                     "display_name": PAYLOADS["img"] if (hostile and i == 0) else f"Campaign {i}",
                     "description": (PAYLOADS["script"] if i == 0 else PAYLOADS["close"] if i == 1 else "proud citizen")
                     if hostile else "proud citizen",
                     "location": PAYLOADS["rtl"] if hostile and i == 1 else "London",
                     "created_at": T0 - dt.timedelta(days=30, hours=i), "followers_count": i,
                     "following_count": 100, "posts_count": 50,
                     "profile_image_url": PAYLOADS["js_url"] if hostile and i == 0 else None,
                     "default_profile_image": True})
    for i in range(20):
        rows.append({"platform": "twitter", "account_id": f"o{i}", "handle": f"organic{i}",
                     "display_name": PAYLOADS["zw"] if (hostile and i == 0) else f"Person {i}",
                     "description": PAYLOADS["long"] if (hostile and i == 1) else "just me",
                     "created_at": T0 - dt.timedelta(days=1000 + 37 * i), "followers_count": 100 + i,
                     "following_count": 80, "posts_count": 1000})
    rows.append({"platform": "twitter", "account_id": "t1", "handle": "ambassador", "display_name": "Ambassador",
                 "created_at": T0 - dt.timedelta(days=300), "followers_count": 119000})
    rows.append({"platform": "twitter", "account_id": "t2", "handle": "statemedia",
                 "display_name": PAYLOADS["close"] if hostile else "State Media",
                 "created_at": T0 - dt.timedelta(days=3000), "followers_count": 500000})
    return pa.Table.from_pylist(rows, schema=S.ACCOUNTS)


def _posts(hostile: bool) -> pa.Table:
    rows = []
    # targets' originals: t1 posts p1_0..p1_9 daily, t2 posts p2_0..p2_19 every 12 h
    for k in range(10):
        rows.append({"platform": "twitter", "post_id": f"p1_{k}", "account_id": "t1", "kind": "original",
                     "created_at": T0 + dt.timedelta(days=k),
                     "text": PAYLOADS["svg"] if hostile and k == 0 else f"statement {k}",
                     "urls": [PAYLOADS["js_url"]] if hostile and k == 0 else ["https://example.org/a"]})
    for k in range(20):
        rows.append({"platform": "twitter", "post_id": f"p2_{k}", "account_id": "t2", "kind": "original",
                     "created_at": T0 + dt.timedelta(hours=12 * k), "text": f"news {k}"})
    n = 0
    for i in range(6):  # campaign: every post of t1, 5 s after it
        for k in range(10):
            n += 1
            rows.append({"platform": "twitter", "post_id": f"r{n}", "account_id": f"c{i}", "kind": "repost",
                         "ref_post_id": f"p1_{k}", "ref_account_id": "t1",
                         "created_at": T0 + dt.timedelta(days=k, seconds=5 + i),
                         "text": (PAYLOADS["close"] + PAYLOADS["iframe"]) if hostile and n == 1
                         else f"RT statement {k}"})
    for i in range(20):  # organic: two posts of t1 an hour later, one post of t2 a day later
        for k in (i % 10, (i + 5) % 10):
            n += 1
            rows.append({"platform": "twitter", "post_id": f"r{n}", "account_id": f"o{i}", "kind": "repost",
                         "ref_post_id": f"p1_{k}", "ref_account_id": "t1",
                         "created_at": T0 + dt.timedelta(days=k, hours=1, seconds=i)})
        n += 1
        rows.append({"platform": "twitter", "post_id": f"r{n}", "account_id": f"o{i}", "kind": "repost",
                     "ref_post_id": f"p2_{i}", "ref_account_id": "t2",
                     "created_at": T0 + dt.timedelta(hours=12 * i, days=1)})
    # an original post by a campaign account carrying hostile text
    rows.append({"platform": "twitter", "post_id": "x1", "account_id": "c0", "kind": "original",
                 "created_at": T0 + dt.timedelta(days=2),
                 "text": (PAYLOADS["img"] + " " + PAYLOADS["attr"] + " " + PAYLOADS["style"] + " @organic3")
                 if hostile else "hello @organic3",
                 "urls": [PAYLOADS["js_url"], "https://twitter.com/ambassador/status/123"]})
    return pa.Table.from_pylist(rows, schema=S.POSTS)


def _likes() -> pa.Table:
    return pa.Table.from_pylist([{"platform": "twitter", "account_id": f"o{i}", "post_id": f"p2_{i}",
                                  "created_at": T0 + dt.timedelta(hours=12 * i, minutes=30)} for i in range(10)],
                                schema=S.LIKES)


def _status() -> pa.Table:
    rows = [{"platform": "twitter", "account_id": f"c{i}", "status": "suspended",
             "checked_at": dt.datetime(2021, 3, 1, tzinfo=dt.UTC)} for i in range(4)]
    rows.append({"platform": "twitter", "account_id": "c4", "status": "deleted",
                 "checked_at": dt.datetime(2021, 3, 1, tzinfo=dt.UTC)})
    rows.append({"platform": "twitter", "account_id": "c5", "status": "active",
                 "checked_at": dt.datetime(2021, 3, 1, tzinfo=dt.UTC)})
    rows += [{"platform": "twitter", "account_id": f"o{i}", "status": "active",
              "checked_at": dt.datetime(2021, 3, 1, tzinfo=dt.UTC)} for i in range(10)]
    return pa.Table.from_pylist(rows, schema=S.ACCOUNT_STATUS)


def write_results(study, hostile: bool = True, old_scores: bool = False) -> None:
    """Result tables shaped like the coordination and account stages' (see the module docstring)."""
    camp = [f"c{i}" for i in range(6)]
    edges = []
    evidence = []
    for x in range(6):
        for y in range(x + 1, 6):
            a, b = camp[x], camp[y]
            edges.append({"behaviour": "co-retweet", "account_a": a, "account_b": b, "directed": False,
                          "weight": 10.0, "n_objects": 10, "min_gap_s": float(y - x), "p_value": 1e-6,
                          "z": 12.0, "significant": True,
                          "first_ts": T0.timestamp() + 5, "last_ts": T0.timestamp() + 9 * 86400 + 10})
            for k in range(2):
                evidence.append({"behaviour": "co-retweet", "account_a": a, "account_b": b, "object_id": f"p1_{k}",
                                 "action_a": "r1", "action_b": "r2",
                                 "ts_a": T0.timestamp() + k * 86400 + 5 + x,
                                 "ts_b": T0.timestamp() + k * 86400 + 5 + y, "gap_s": float(y - x)})
    edges.append({"behaviour": "co-retweet", "account_a": "o0", "account_b": "o1", "directed": False,
                  "weight": 2.0, "n_objects": 2, "min_gap_s": 1.0, "p_value": 0.2, "z": 0.5, "significant": True,
                  "first_ts": T0.timestamp() + 3600, "last_ts": T0.timestamp() + 5 * 86400 + 3600})
    evidence.append({"behaviour": "co-text", "account_a": "o0", "account_b": "o1",
                     "object_id": PAYLOADS["script"] if hostile else "some text", "action_a": "r61",
                     "action_b": "r64", "ts_a": T0.timestamp() + 3600, "ts_b": T0.timestamp() + 3601, "gap_s": 1.0})
    meta = {"summary": {"network": "co-retweet", "semantics": "echoscope", "edges": len(edges),
                        "significant_edges": len(edges), "expected_false_edges": 0.37, "clusters": 2,
                        "coordinated_clusters": 1, "flagged_accounts": 6,
                        "parameters": {"behaviours": ["co-retweet"], "window": 60.0, "min_weight": 2,
                                       "alpha": 0.01, "reps": 20}}}
    study.write_result("coord_edges", pa.Table.from_pylist(edges), meta=meta)
    study.write_result("coord_evidence", pa.Table.from_pylist(evidence), meta=meta)
    members = [{"cluster_id": 1, "account_id": a, "handle": None, "degree": 5, "strength": 50.0} for a in camp]
    members += [{"cluster_id": 2, "account_id": a, "handle": None, "degree": 1, "strength": 2.0} for a in ("o0", "o1")]
    study.write_result("coord_members", pa.Table.from_pylist(members), meta=meta)
    # the cluster table as `echoscope coordinate` stores it (its numbers are the coordination's, the report
    # shows them as stored): cluster 1 = c0..c5 (created 0-5 h apart, followers 0..5, five of six later
    # suspended or deleted), cluster 2 = o0, o1
    clusters = [{"cluster_id": 1, "size": 6, "n_edges": 15, "weight": 150.0, "z": 30.0, "p_value": 1e-9,
                 "coordinated": True, "behaviours": "co-retweet",
                 "created_first": T0 - dt.timedelta(days=30, hours=5), "created_last": T0 - dt.timedelta(days=30),
                 "created_spread_days": 5 / 24, "median_followers": 2.5, "share_suspended": 5 / 6,
                 "first_activity": T0 + dt.timedelta(seconds=5), "last_activity": T0 + dt.timedelta(days=9, seconds=10),
                 "evidence": "co-retweet p1_0: c0 & c1 1.0 s apart", "targets": "@ambassador (60)"},
                {"cluster_id": 2, "size": 2, "n_edges": 1, "weight": 2.0, "z": 0.5, "p_value": 0.3,
                 "coordinated": False, "behaviours": "co-retweet",
                 "created_first": T0 - dt.timedelta(days=1037), "created_last": T0 - dt.timedelta(days=1000),
                 "created_spread_days": 37.0, "median_followers": 100.5, "share_suspended": 0.0,
                 "first_activity": T0 + dt.timedelta(hours=1), "last_activity": T0 + dt.timedelta(days=6, hours=1),
                 "evidence": "co-text: o0 & o1", "targets": "@ambassador (4), @statemedia (4)"}]
    study.write_result("coord_clusters", pa.Table.from_pylist(clusters), meta=meta)
    reason_t = pa.struct([("signal", pa.string()), ("value", pa.float64()), ("text", pa.string())])
    # account scores as `echoscope score` stores them: c0..c5 high risk (0.9 >= the run's line 0.7), o0 not;
    # ``old_scores`` leaves out the high_risk column and the summary (a study scored by an older echoscope)
    scores = [{"account_id": a, "handle": f"campaign{i}", "score": 0.9, "high_risk": True, "rank": i + 1,
               "mode": "rules",
               "n_signals": 2,
               "reasons": [{"signal": "followers", "value": float(i), "text": f"{i} followers"},
                           {"signal": "creation_burst", "value": 6.0,
                            "text": PAYLOADS["img"] if hostile and i == 0 else "created within 6 h of 5 others"}],
               "reasons_text": f"{i} followers"} for i, a in enumerate(camp)]
    scores.append({"account_id": "o0", "handle": "organic0", "score": 0.2, "high_risk": False, "rank": 7,
                   "mode": "rules", "n_signals": 0, "reasons": [], "reasons_text": ""})
    schema = pa.schema([("account_id", pa.string()), ("handle", pa.string()), ("score", pa.float64()),
                        ("high_risk", pa.bool_()), ("rank", pa.int64()), ("mode", pa.string()),
                        ("n_signals", pa.int64()), ("reasons", pa.list_(reason_t)), ("reasons_text", pa.string())])
    table = pa.Table.from_pylist(scores, schema=schema)
    meta = {"summary": {"mode": "rules", "accounts": 7, "high_risk": 6, "high_risk_threshold": 0.7}}
    if old_scores:
        table, meta = table.drop_columns(["high_risk"]), {"mode": "rules"}
    study.write_result("account_scores", table, meta=meta)
    sig = [{"account_id": a, "signal": "followers", "value": float(i), "strength": 1.0, "text": f"{i} followers"}
           for i, a in enumerate(camp)]
    study.write_result("account_signals", pa.Table.from_pylist(sig), meta={})


def build_study(path: Path, *, hostile: bool = True, results: bool = True, measures: bool | None = None,
                old_scores: bool = False):
    """A small study (see the module docstring); returns the :class:`echoscope.Study`.

    ``results`` writes the coordination and account results; ``measures`` (default: as ``results``) then runs
    the real ``echoscope measure``, so the stored measures read those results.
    """
    import echoscope
    from echoscope.store.targets import add_targets

    study = echoscope.init_study(path)
    study.load_arrow({"accounts": _accounts(hostile), "posts": _posts(hostile), "likes": _likes(),
                      "account_status": _status()})
    # one good and one bad row through the real ingest path, so the quarantine is not empty
    csv = Path(path).parent / "extra_posts.csv"
    csv.write_text("post_id,account_id,created_at,kind,text\n"
                   "e1,o2,2020-06-05T10:00:00Z,original,fine\n"
                   "e2,o3,not-a-time,original," + ("<b>bold</b>" if hostile else "x") + "\n", encoding="utf-8")
    study.ingest([str(csv)], format="csv", table="posts")
    add_targets(study, [("t1", "ambassador", "diplomats", "China government account"),
                        ("t2", "statemedia", "state media", None)])
    if results:
        write_results(study, hostile, old_scores=old_scores)
    if results if measures is None else measures:
        from echoscope.measures import measures as run_measures

        run_measures(study).write()
    return study

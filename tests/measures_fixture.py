"""A hand-built study for the amplification-measure tests (expected values are worked out in test_measures.py).

Timeline (UTC; weeks start on Monday 2021-01-04 and 2021-01-11)::

    post  author  posted               engagements (actor kind +latency seconds)
    p1    t1      2021-01-04 10:00:00  a1 repost +5, a2 repost +8, a3 repost +100, a6 like +400
    p2    t1      2021-01-05 12:00:00  a1 repost +3, a2 repost +9, a4 reply +30
    p3    t1      2021-01-11 09:00:00  a1 repost +2, a2 quote +70, a5 repost +20
    p4    t2      2021-01-06 08:00:00  a1 repost +4, a3 like +50
    p5    t3      2021-01-12 15:00:00  a1 repost +6, a7 repost +1000
    (t4 = @xinhua, named by handle only, posts nothing)

Targets: t1 diplomats (label given), t2 diplomats (no label), t3 "state media" (label given),
@xinhua "state media" (no label given; the accounts table carries an affiliation label).

Latest status per amplifier: a1 suspended, a2 suspended (earlier check said active), a3 active, a4 active
(earlier check said suspended), a5 deleted (2021-02-10), a6 never checked, a7 "unknown" (2021-02-20).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

import echoscope
from echoscope import schema as S
from echoscope.store.targets import add_targets

UTC = dt.timezone.utc


def T(day: int, h: int, m: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(2021, 1, day, h, m, s, tzinfo=UTC)


ORIGINALS = {"p1": ("t1", T(4, 10)), "p2": ("t1", T(5, 12)), "p3": ("t1", T(11, 9)),
             "p4": ("t2", T(6, 8)), "p5": ("t3", T(12, 15))}
ENGAGEMENTS = [  # (actor, kind, post, latency seconds)
    ("a1", "repost", "p1", 5), ("a2", "repost", "p1", 8), ("a3", "repost", "p1", 100), ("a6", "like", "p1", 400),
    ("a1", "repost", "p2", 3), ("a2", "repost", "p2", 9), ("a4", "reply", "p2", 30),
    ("a1", "repost", "p3", 2), ("a2", "quote", "p3", 70), ("a5", "repost", "p3", 20),
    ("a1", "repost", "p4", 4), ("a3", "like", "p4", 50),
    ("a1", "repost", "p5", 6), ("a7", "repost", "p5", 1000),
]
STATUS = [  # (account, status, checked_at)
    ("a1", "suspended", dt.datetime(2021, 3, 1, tzinfo=UTC)),
    ("a2", "active", dt.datetime(2021, 2, 1, tzinfo=UTC)),
    ("a2", "suspended", dt.datetime(2021, 3, 1, tzinfo=UTC)),
    ("a3", "active", dt.datetime(2021, 3, 1, tzinfo=UTC)),
    ("a4", "suspended", dt.datetime(2021, 2, 15, tzinfo=UTC)),
    ("a4", "active", dt.datetime(2021, 3, 1, tzinfo=UTC)),
    ("a5", "deleted", dt.datetime(2021, 2, 10, tzinfo=UTC)),
    ("a7", "unknown", dt.datetime(2021, 2, 20, tzinfo=UTC)),
]


def tables() -> dict[str, pa.Table]:
    posts, likes = [], []
    for pid, (author, at) in ORIGINALS.items():
        posts.append({"platform": "twitter", "post_id": pid, "account_id": author, "created_at": at,
                      "kind": "original", "text": f"post {pid}"})
    for i, (actor, kind, pid, lat) in enumerate(ENGAGEMENTS):
        author, at = ORIGINALS[pid]
        when = at + dt.timedelta(seconds=lat)
        if kind == "like":
            likes.append({"platform": "twitter", "account_id": actor, "post_id": pid, "created_at": when})
        else:
            posts.append({"platform": "twitter", "post_id": f"e{i}", "account_id": actor, "created_at": when,
                          "kind": kind, "ref_post_id": pid, "ref_account_id": author})
    accounts = [{"platform": "twitter", "account_id": a, "handle": f"user_{a}"} for a in
                ("a1", "a2", "a3", "a4", "a5", "a6", "a7")]
    accounts += [{"platform": "twitter", "account_id": "t1", "handle": "amb_uk"},
                 {"platform": "twitter", "account_id": "t2", "handle": "embassy"},
                 {"platform": "twitter", "account_id": "t3", "handle": "cgtn"},
                 {"platform": "twitter", "account_id": "t4", "handle": "XinHua",
                  "affiliation_label": "China state-affiliated media"}]
    status = [{"platform": "twitter", "account_id": a, "status": s, "checked_at": c} for a, s, c in STATUS]
    return {"posts": pa.Table.from_pylist(posts, schema=S.POSTS),
            "likes": pa.Table.from_pylist(likes, schema=S.LIKES),
            "accounts": pa.Table.from_pylist(accounts, schema=S.ACCOUNTS),
            "account_status": pa.Table.from_pylist(status, schema=S.ACCOUNT_STATUS)}


def make_study(path: Path) -> echoscope.Study:
    study = echoscope.init_study(path)
    study.load_arrow(tables())
    add_targets(study, [("t1", "amb_uk", "diplomats", "China government account"),
                        ("t2", "embassy", "diplomats", None),
                        ("t3", "cgtn", "state media", "China state-affiliated media"),
                        (None, "xinhua", "state media", None)])
    return study

"""The mastodon reader: API statuses, notifications (favourites with time) and an account export outbox."""

from __future__ import annotations

from pathlib import Path

import echoscope.sources as sources
from echoscope.sources import mastodon

sources.SOURCES.setdefault("mastodon", "mastodon:read_mastodon")

DATA = Path(__file__).resolve().parent / "data"


def test_statuses(study):
    [rep] = study.ingest([str(DATA / "mastodon_statuses.json")], format="mastodon")
    # 6 elements: original, boost, reply, quote loaded; one without created_at, one without account quarantined
    assert (rep["read"], rep["loaded"], rep["quarantined"]) == (6, 4, 2)
    posts = {r["post_id"]: r for r in study.sql("SELECT * FROM posts").to_pylist()}
    orig = posts["1100"]
    assert orig["kind"] == "original" and orig["account_id"] == "10"
    assert orig["text"] == "Our position, stated #diplomacy & peace\nsecond paragraph"  # HTML to text
    assert orig["hashtags"] == ["diplomacy"] and orig["mentions"] == ["press@news.example"]
    assert orig["urls"] == ["https://example.org/statement"] and orig["client"] == "Web"
    assert (orig["like_count"], orig["repost_count"], orig["reply_count"], orig["quote_count"]) == (5, 2, 1, 1)
    boost = posts["reblog:21:1100"]  # the boost key is account + boosted status, whatever the channel
    assert (boost["kind"], boost["ref_post_id"], boost["ref_account_id"]) == ("repost", "1100", "10")
    assert (posts["1102"]["kind"], posts["1102"]["ref_post_id"]) == ("reply", "1100")
    assert (posts["1103"]["kind"], posts["1103"]["ref_post_id"], posts["1103"]["ref_account_id"]) == (
        "quote", "1100", "10")
    lat = dict(study.sql("SELECT engagement_id, latency_s FROM engagements").to_pylist()[i].values()
               for i in range(3))
    assert lat == {"reblog:21:1100": 4.0, "1102": 30.0, "1103": 60.0}
    acc = {r["account_id"]: r for r in study.sql("SELECT * FROM accounts").to_pylist()}
    assert acc["21"]["handle"] == "amp1@far.example" and acc["21"]["default_profile_image"] is True
    assert acc["10"]["followers_count"] == 119000 and acc["10"]["description"] == "Official"


def test_notifications_give_favourites_with_time(study):
    [rep] = study.ingest([str(DATA / "mastodon_notifications.jsonl")], format="mastodon")
    # primary: the favourite (a like) and the reblog; the follow adds only an account; line 4 is not JSON
    assert (rep["loaded"], rep["quarantined"]) == (2, 1)
    like = study.sql("SELECT account_id, post_id, created_at FROM likes").to_pylist()
    assert [(r["account_id"], r["post_id"], r["created_at"].isoformat()) for r in like] == [
        ("31", "1100", "2024-10-01T12:00:02+00:00")]
    eng = study.sql("SELECT engagement_id, kind, latency_s FROM engagements ORDER BY kind").to_pylist()
    assert eng == [{"engagement_id": "31:1100", "kind": "like", "latency_s": 2.0},
                   {"engagement_id": "reblog:21:1100", "kind": "repost", "latency_s": 3.0}]


def test_same_boost_from_two_channels_is_one_row(study):
    study.ingest([str(DATA / "mastodon_statuses.json")], format="mastodon")
    [rep] = study.ingest([str(DATA / "mastodon_notifications.jsonl")], format="mastodon")
    assert rep["duplicates"] == 1  # amp1's boost of 1100 was already stored from the timeline
    assert study.sql("SELECT count(*) n FROM posts WHERE kind = 'repost'").to_pylist()[0]["n"] == 1


def test_outbox(study):
    [rep] = study.ingest([str(DATA / "mastodon_outbox.json")], format="mastodon")
    assert (rep["loaded"], rep["quarantined"]) == (2, 1)  # Create, Announce; the Like item is quarantined
    posts = {r["kind"]: r for r in study.sql("SELECT * FROM posts").to_pylist()}
    assert posts["original"]["hashtags"] == ["diplomacy"]
    assert posts["repost"]["ref_post_id"] == "https://state.example/users/tv/statuses/777"


def test_sniff():
    assert mastodon.sniff((DATA / "mastodon_statuses.json").read_bytes()[:65536], "s.json") >= 0.9
    assert mastodon.sniff((DATA / "mastodon_outbox.json").read_bytes(), "outbox.json") >= 0.8
    assert mastodon.sniff(b'{"did": "x", "time_us": 1}', "x") == 0.0

"""The jetstream reader on a hand-made sample written from the Jetstream protocol documentation.

tests/data/jetstream_sample.jsonl, line by line (T = did:plc:target0..., P = T's post 3l3qo2vuowo2b):
 1 T posts P (tag, link, mention facets)      9 account event: amp2 takendown
 2 amp1 reposts P                             10 delete of amp2's like (counted, not applied)
 3 amp2 likes P                               11 like of someone else's post (kept without a target filter)
 4 amp3 replies to P                          12 amp6 reposts P, 2024 spelling (type com, commit.type c)
 5 amp4 quotes P (recordWithMedia)            13 amp7 likes P, 2024 spelling with opType and record as string
 6 amp5 follows T -> follows (not primary)    14 repost without subject -> quarantined
 7 amp1 profile update -> accounts            15 event without time_us -> quarantined
 8 identity: amp1's handle -> accounts        16 truncated JSON -> quarantined
"""

from __future__ import annotations

from pathlib import Path

import pytest

import echoscope.sources as sources
from echoscope.sources import jetstream

sources.SOURCES.setdefault("jetstream", "jetstream:read_jetstream")

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "jetstream_sample.jsonl"
T = "did:plc:target0000000000000000"
P = f"at://{T}/app.bsky.feed.post/3l3qo2vuowo2b"


def test_reader_maps_every_event_kind(study):
    [rep] = study.ingest([str(SAMPLE)], format="jetstream")
    # primary records: creates of posts/reposts/likes = lines 1-5, 11-13 (8) + 3 quarantined (14, 15, 16)
    assert rep["quarantined"] == 3
    assert rep["loaded"] == 8
    assert rep["read"] == rep["loaded"] + rep["quarantined"] + rep["duplicates"]
    posts = {r["post_id"]: r for r in study.sql("SELECT * FROM posts").to_pylist()}
    assert posts[P]["kind"] == "original"
    assert posts[P]["hashtags"] == ["diplomacy"]
    assert posts[P]["urls"] == ["https://example.org/statement"]
    assert posts[P]["mentions"] == ["alice.bsky.social"]  # the handle as written, not the DID
    assert posts[P]["lang"] == "en"
    # created_at is Jetstream's time_us (1725911162329308 us), not the client's createdAt
    assert posts[P]["created_at"].isoformat() == "2024-09-09T19:46:02.329308+00:00"
    kinds = {pid.split("/")[2]: (r["kind"], r["ref_post_id"], r["ref_account_id"]) for pid, r in posts.items()}
    assert kinds["did:plc:amp1000000000000000000"] == ("repost", P, T)
    assert kinds["did:plc:amp3000000000000000000"] == ("reply", P, T)
    assert kinds["did:plc:amp4000000000000000000"] == ("quote", P, T)
    assert kinds["did:plc:amp6000000000000000000"] == ("repost", P, T)  # 2024 spelling
    assert len(posts) == 5
    likes = study.sql("SELECT account_id, post_id FROM likes ORDER BY account_id").to_pylist()
    assert [r["account_id"] for r in likes] == ["did:plc:amp2000000000000000000", "did:plc:amp7000000000000000000",
                                                "did:plc:other00000000000000000"]
    # engagements: repost, reply, quote, repost + 3 likes; latency from P (2024-09-09T19:46:02.329308)
    eng = study.sql("SELECT kind, latency_s FROM engagements WHERE subject_account_id = "
                    f"'{T}' ORDER BY created_at").to_pylist()
    assert [e["kind"] for e in eng] == ["repost", "like", "reply", "quote", "repost", "like"]
    assert eng[0]["latency_s"] == pytest.approx(1.670692)
    acc = {r["account_id"]: r for r in study.sql("SELECT * FROM accounts").to_pylist()}
    assert acc["did:plc:amp1000000000000000000"]["handle"] == "amp1.bsky.social"
    assert acc["did:plc:amp1000000000000000000"]["display_name"] == "Patriot Amplifier"
    # line 6: amp5 follows T, at Jetstream's time 1725911176000000 us
    fol = study.sql("SELECT account_id, followed_id, created_at FROM follows").to_pylist()
    assert [(r["account_id"], r["followed_id"]) for r in fol] == [("did:plc:amp5000000000000000000", T)]
    assert fol[0]["created_at"].isoformat() == "2024-09-09T19:46:16+00:00"
    st = study.sql("SELECT account_id, status FROM account_status").to_pylist()
    assert st == [{"account_id": "did:plc:amp2000000000000000000", "status": "suspended"}]
    q = study.sql("SELECT line, field FROM quarantine ORDER BY line").to_pylist()
    assert [(r["line"], r["field"]) for r in q] == [(14, "commit.record.subject"), (15, "time_us"), (16, None)]


def test_target_filter_keeps_only_what_touches_targets(tmp_path):
    import echoscope

    s = echoscope.init_study(tmp_path / "s")
    s.ingest([str(SAMPLE)], format="jetstream", options={"targets": [T]})
    # line 11 (a like of someone else's post) is the only create that does not touch T
    assert s.rows("likes") == 2
    assert s.rows("posts") == 5


def test_parser_counts_and_old_spellings():
    from echoscope.collect.replay import to_old_spelling

    p = jetstream.JetstreamParser()
    new = {"did": "did:plc:a", "time_us": 5, "kind": "commit",
           "commit": {"operation": "create", "collection": jetstream.LIKE, "rkey": "r",
                      "record": {"subject": {"uri": P}}}}
    assert p.feed(new) == 5
    assert p.feed(to_old_spelling(new)) == 5
    t = p.drain()["likes"]
    assert t.num_rows == 2 and t.column("post_id").to_pylist() == [P, P]
    with pytest.raises(jetstream.BadEvent):
        p.feed_bytes(b"[1, 2]")


def test_sniff():
    head = SAMPLE.read_bytes()[:4096]
    assert jetstream.sniff(head, "x.jsonl") >= 0.9
    assert jetstream.sniff(b'{"data": [{"id": "1"}]}', "x.jsonl") == 0.0
    assert jetstream.did_of(P) == T
    assert jetstream.did_of("https://x") is None

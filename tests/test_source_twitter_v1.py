"""The Twitter API v1.1 reader on hand-made fixtures that follow the v1.1 status shapes.

tests/data/v1_stream.jsonl (7 lines) holds, in order: an extended original by @newsdesk (line 1), a delete
notice, a retweet of it by @erik 7 s later, a quote of it by @fay, a limit notice, a reply by @fay written
with a +0200 offset, and @erik's retweet of @fay's quote (which also carries the quoted original).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import echoscope
from echoscope.errors import SourceError
from echoscope.sources.twitter_v1 import client_name, v1_time

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SAMPLES = HERE.parent.parent / "shared" / "data" / "twarc2-samples"
UTC = dt.UTC
ORIG, RT, QUOTE, REPLY, RT_OF_QUOTE = (f"150000000000000000{i}" for i in range(1, 6))


@pytest.fixture
def study(tmp_path: Path) -> echoscope.Study:
    return echoscope.init_study(tmp_path / "s")


def ingest(study: echoscope.Study, *paths: Path, fmt: str | None = "twitter-v1") -> list[dict[str, Any]]:
    reports = study.ingest([str(p) for p in paths], format=fmt)
    for r in reports:
        assert r["read"] == r["loaded"] + r["quarantined"] + r["duplicates"], r
    return reports


def posts(study: echoscope.Study) -> dict[str, dict[str, Any]]:
    return {p["post_id"]: p for p in study.sql("SELECT * FROM posts").to_pylist()}


def test_stream_counts_statuses_not_notices(study: echoscope.Study) -> None:
    (r,) = ingest(study, DATA / "v1_stream.jsonl")
    # 5 statuses; the delete and limit notices are skipped, neither read nor quarantined
    assert (r["read"], r["loaded"], r["quarantined"], r["duplicates"]) == (5, 5, 0, 0)
    kinds = {x["kind"]: x["n"] for x in study.sql("SELECT kind, count(*) AS n FROM posts GROUP BY kind").to_pylist()}
    assert kinds == {"original": 1, "repost": 2, "quote": 1, "reply": 1}
    assert study.rows("quarantine") == 0


def test_status_fields(study: echoscope.Study) -> None:
    ingest(study, DATA / "v1_stream.jsonl")
    p = posts(study)
    o = p[ORIG]
    # extended_tweet wins over the truncated text and entities
    assert o["text"].endswith("a long tail #More") and o["hashtags"] == ["Breaking", "More"]
    assert o["urls"] == ["https://news.example/a"]
    assert o["client"] == "Twitter for iPhone"  # the HTML anchor is stripped
    assert (o["like_count"], o["repost_count"], o["reply_count"], o["quote_count"]) == (3, 2, 1, 0)
    assert o["created_at"] == dt.datetime(2021, 3, 1, 12, 0, tzinfo=UTC) and o["account_id"] == "783214"
    rt = p[RT]
    assert (rt["kind"], rt["ref_post_id"], rt["ref_account_id"]) == ("repost", ORIG, "783214")
    assert rt["text"].startswith("RT @newsdesk:") and rt["mentions"] == ["newsdesk"]
    assert rt["client"] == "Twitter Web App & Co"  # entities unescaped
    q = p[QUOTE]
    assert (q["kind"], q["ref_post_id"], q["ref_account_id"]) == ("quote", ORIG, "783214")
    rp = p[REPLY]
    assert (rp["kind"], rp["ref_post_id"], rp["ref_account_id"]) == ("reply", ORIG, "783214")
    assert rp["created_at"] == dt.datetime(2021, 3, 1, 10, 6, tzinfo=UTC)  # 12:06 +0200 in UTC
    rq = p[RT_OF_QUOTE]
    # a retweet of a quote is a repost of the quote (v1.1 also copies the quoted status to the top level)
    assert (rq["kind"], rq["ref_post_id"], rq["ref_account_id"]) == ("repost", QUOTE, "1002")


def test_engagements_and_latency(study: echoscope.Study) -> None:
    ingest(study, DATA / "v1_stream.jsonl")
    e = {x["engagement_id"]: x for x in study.sql("SELECT * FROM engagements").to_pylist()}
    assert {k: v["kind"] for k, v in e.items()} == {RT: "repost", QUOTE: "quote", REPLY: "reply",
                                                     RT_OF_QUOTE: "repost"}
    assert e[RT]["latency_s"] == 7.0  # 12:00:07 - 12:00:00
    assert e[RT]["subject_account_id"] == "783214"


def test_accounts(study: echoscope.Study) -> None:
    ingest(study, DATA / "v1_stream.jsonl")
    acc = {a["handle"]: a for a in study.sql("SELECT * FROM accounts").to_pylist()}
    assert set(acc) == {"newsdesk", "erik", "fay"}
    n = acc["newsdesk"]
    assert (n["account_id"], n["display_name"], n["followers_count"], n["following_count"], n["posts_count"]) == (
        "783214", "Newsdesk", 50000, 80, 4321)
    assert n["verified"] is True and n["language"] == "en" and n["location"] == "Oslo"
    assert n["created_at"] == dt.datetime(2009, 1, 7, 4, 38, 2, tzinfo=UTC)
    assert n["profile_image_url"].startswith("https://")  # profile_image_url_https preferred
    e = acc["erik"]
    assert e["default_profile_image"] is True and e["language"] is None
    # snapshots are observed at the time of the status that carried them; the newest wins (12:07)
    assert e["observed_at"] == dt.datetime(2021, 3, 1, 12, 7, tzinfo=UTC)


def test_bad_records(study: echoscope.Study) -> None:
    # line 1: month "Foo"; line 2: no user; line 3: good
    (r,) = ingest(study, DATA / "v1_bad_records.jsonl")
    assert (r["read"], r["loaded"], r["quarantined"]) == (3, 1, 2)
    q = study.sql("SELECT line, field FROM quarantine ORDER BY line").to_pylist()
    assert q == [{"line": 1, "field": "created_at"}, {"line": 2, "field": "user.id_str"}]


def test_json_array_file_and_detection(study: echoscope.Study) -> None:
    # a JSON array written one element per line: "[", "{...},", "{...}", "]"
    (r,) = ingest(study, DATA / "v1_array.json", fmt=None)
    assert (r["format"], r["read"], r["loaded"]) == ("twitter-v1", 2, 2)
    (r,) = ingest(study, DATA / "v1_stream.jsonl", fmt=None)
    assert r["format"] == "twitter-v1" and r["read"] == 5 and r["duplicates"] == 2  # ORIG and RT seen before


def test_v2_file_given_as_v1(study: echoscope.Study) -> None:
    with pytest.raises(SourceError, match="--format twarc2"):
        study.ingest([str(SAMPLES / "flat.jsonl")], format="twitter-v1")
    with pytest.raises(SourceError, match="--format twarc2"):
        study.ingest([str(SAMPLES / "2sets.jsonl")], format="twitter-v1")


def test_helpers() -> None:
    assert v1_time("Wed Jan 07 04:38:02 +0000 2009") == "2009-01-07T04:38:02Z"
    assert v1_time("Mon Mar 01 12:06:00 +0200 2021") == "2021-03-01T10:06:00.000000Z"
    with pytest.raises(ValueError):
        v1_time("Mon Foo 01 12:00:00 +0000 2021")
    assert client_name('<a href="x" rel="nofollow">Tweetbot for iΟS</a>') == "Tweetbot for iΟS"
    assert client_name("web") == "web" and client_name(None) is None


def test_a_v2_line_among_statuses_is_quarantined_saying_what_reads_it(study: echoscope.Study, tmp_path: Path) -> None:
    # a v1.1 file with one twarc2 page on line 2: the page is quarantined with the v1.1 reader's explanation
    # (it used to borrow the twarc2 reader's table and say only "this line is twarc2")
    f = tmp_path / "mixed.jsonl"
    first = (DATA / "v1_stream.jsonl").read_text().splitlines()[0]
    f.write_text(first + '\n{"data": [{"id": "1", "author_id": "2", "text": "v2"}]}\n')
    (r,) = ingest(study, f)
    assert (r["read"], r["loaded"], r["quarantined"]) == (2, 1, 1)
    (q,) = study.sql("SELECT line, reason FROM quarantine").to_pylist()
    assert q == {"line": 2, "reason": "this line is Twitter API v2 output (twarc2), not v1.1; ingest it with "
                                      "--format twarc2"}

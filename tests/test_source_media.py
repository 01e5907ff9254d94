"""``posts.media_hashes`` from every reader that sees media, and Unix-second times in CSV and Parquet.

What each source's key is (docs/sources.md): a CSV/Parquet column mapped with ``--map COLUMN=media_hashes``
(perceptual hashes, as CooRTweet's data has them), X media keys (one upload each: ``3_`` photo, ``7_`` video,
``16_`` GIF; v1.1 ids are written as v2 keys), Bluesky blob CIDs (hashes of the uploaded bytes), Mastodon
blurhashes (computed from the pixels), and in the X information-operations archive the media links among
``urls``. Fixtures: tests/data/media_* and io_tweets_media.csv / io_tweets_phash.csv (hand-made from each
platform's documented format); twarc2 from the real samples in ../shared/data/twarc2-samples.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import echoscope.sources as sources
from echoscope import schema as S

from .conftest import shared

sources.SOURCES.setdefault("jetstream", "jetstream:read_jetstream")

DATA = Path(__file__).resolve().parent / "data"
UTC = dt.UTC


def media(study, order: str = "post_id") -> dict[str, list[str] | None]:
    return {r["post_id"]: r["media_hashes"] for r in
            study.sql(f"SELECT post_id, media_hashes FROM posts ORDER BY {order}").to_pylist()}


def test_schema_documents_the_column():
    f = S.POSTS.field("media_hashes")
    assert f.type == pa.list_(pa.string()) and f.nullable
    assert b"upload" in f.metadata[b"doc"] and "media_hashes" in S.TEXT_LIMITS["posts"]
    assert "`media_hashes`" in S.markdown()


def test_twarc2_media_keys_of_attachments(study):
    study.ingest([str(shared("twarc2-samples", "media_tweet.jsonl")),
                  str(shared("twarc2-samples", "media_policy_violation_on.jsonl"))], format="twarc2")
    m = media(study)
    # the tweet's attachments.media_keys, as written (7_ = video)
    assert m["1558553189766631429"] == ["7_1558552952549277696"]
    # two photos of one tweet, in order
    assert m["1392093222600589315"] == ["3_1392093133555515394", "3_1392093133547229185"]
    # a retweet carries the original's attachments (the same upload: the same key)
    assert m["1391772854639894529"] == ["7_1391634485289132032"]
    assert sum(v is None for v in m.values()) > 0  # tweets without media stay null


def test_twitter_v1_media_as_v2_keys(study):
    study.ingest([str(DATA / "media_v1.jsonl")], format="twitter-v1")
    m = media(study)
    # extended_entities (all photos; entities.media holds only the first) -> 3_<id>; extended_tweet's video 7_,
    # a GIF 16_; a retweet without media of its own and a status without media stay null
    assert m == {"101": ["3_5001", "3_5002"], "102": ["7_6001"], "103": ["16_7001"], "104": None, "105": None}


def test_jetstream_blob_cids(study):
    study.ingest([str(DATA / "media_jetstream.jsonl")], format="jetstream")
    m = {k.rsplit("/", 1)[1]: v for k, v in media(study).items()}
    assert m == {
        "m1": ["bafkreiaaa", "bafkreibbb"],  # two images
        "m2": ["bafkreivid"],  # a video
        "m3": ["bafkreiaaa"],  # a quote with media: the media part; the same bytes as m1's first image
        "m4": None,  # a link card's thumbnail is not the post's media (the link is in urls)
        "m5": ["bafkreilegacy"],  # the legacy blob form {"cid": ...}
        "m6": None,
    }


def test_mastodon_blurhashes(study):
    study.ingest([str(DATA / "media_mastodon.json")], format="mastodon")
    study.ingest([str(DATA / "media_mastodon_outbox.json")], format="mastodon")
    m = media(study)
    same = "blurhash:LEHV6nWB2yk8pyo0adR*.7kCMdnj"
    # two attachments; another account's upload of the same image has the same blurhash (its id differs);
    # an attachment without a blurhash is left out; a boost and a status without media: null
    assert m["201"] == [same, "blurhash:L6PZfSi_.AyE_3t7t7R**0o#DgR4"]
    assert m["202"] == [same]
    assert m["reblog:2:201"] is None and m["204"] is None
    assert m["https://m.example/users/ann/statuses/1"] == [same]  # the ActivityPub export's attachment


def test_io_archive_media_links_and_a_hash_column(study):
    study.ingest([str(DATA / "io_tweets_media.csv")], format="io-archive")
    m = media(study)
    # photo links of one tweet (any host spelling, case) are one key; pbs.twimg.com files keep their name's case
    assert m["901"] == ["tweet:123/photo/1"]
    assert m["902"] == ["tweet:123/photo/1", "twimg:AbC-d_1"]
    assert m["903"] is None and m["904"] == ["tweet:123/video/2"]
    # the links stay in urls too
    assert study.sql("SELECT urls FROM posts WHERE post_id = '901'").to_pylist()[0]["urls"][0].endswith("photo/1")
    study.ingest([str(DATA / "io_tweets_phash.csv")], format="io-archive")
    m = media(study)
    # a media_hashes column (hashes a study computed) is read instead of the links, also where it is empty
    assert m["911"] == ["ff00aa", "00ffbb"] and m["912"] is None and m["913"] == ["FF00AA"]


@pytest.mark.parametrize(("cell", "want"), [
    ('"[""a1"", ""b2""]"', ["a1", "b2"]),  # a JSON array
    ('"[a1, b2]"', ["a1", "b2"]),  # the archive's list spelling
    ("a1", ["a1"]),  # a single value
    ("AbC", ["AbC"]),  # hashes keep their case
    ("", None),  # empty: null
    ("[]", []),
])
def test_csv_map_phash(study, tmp_path, cell, want):
    f = tmp_path / "p.csv"
    f.write_text(f"id,user,time,phash\n1,a,1700000000,{cell}\n", encoding="utf-8")
    [rep] = study.ingest([str(f)], format="csv", mapping={"id": "post_id", "user": "account_id",
                                                            "time": "created_at", "phash": "media_hashes"})
    assert rep["loaded"] == 1
    assert media(study) == {"1": want}


def test_csv_unix_seconds(study, tmp_path):
    f = tmp_path / "t.csv"
    # integer and decimal seconds, milliseconds (13 digits: 1e11 <= x < 1e14), an ISO time for comparison
    f.write_text("post_id,account_id,created_at\ns,a,1700000000\nf,a,1700000000.25\nms,a,1700000000500\n"
                 "iso,a,2023-11-14T22:13:20Z\n", encoding="utf-8")
    [rep] = study.ingest([str(f)], format="csv")
    assert rep["loaded"] == 4 and rep["quarantined"] == 0
    t = {r["post_id"]: r["created_at"] for r in study.sql("SELECT post_id, created_at FROM posts").to_pylist()}
    base = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # 1700000000
    assert t == {"s": base, "f": base + dt.timedelta(microseconds=250000),
                 "ms": base + dt.timedelta(microseconds=500000), "iso": base}


def test_parquet_unix_seconds_and_a_list_column(study, tmp_path):
    a = tmp_path / "int.parquet"
    pq.write_table(pa.table({"post_id": ["p1", "p2"], "account_id": ["a", "b"],
                             "timestamp_share": pa.array([1700000000, 1700000060], pa.int64()),
                             "phash": pa.array([["h1", "h2"], None], pa.list_(pa.string()))}), a)
    b = tmp_path / "float.parquet"
    pq.write_table(pa.table({"post_id": ["q1"], "account_id": ["c"], "timestamp_share": pa.array([1700000000.5]),
                             "phash": ["h9"]}), b)
    reps = study.ingest([str(a), str(b)], format="parquet",
                        mapping={"timestamp_share": "created_at", "phash": "media_hashes"})
    assert [r["loaded"] for r in reps] == [2, 1]
    rows = {r["post_id"]: r for r in study.sql("SELECT * FROM posts").to_pylist()}
    base = dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert rows["p1"]["created_at"] == base and rows["p2"]["created_at"] == base + dt.timedelta(seconds=60)
    assert rows["q1"]["created_at"] == base + dt.timedelta(microseconds=500000)
    # a Parquet list column as it is, a string column as a one-item list
    assert rows["p1"]["media_hashes"] == ["h1", "h2"] and rows["p2"]["media_hashes"] is None
    assert rows["q1"]["media_hashes"] == ["h9"]

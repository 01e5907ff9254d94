"""Over-long free-text values are cut at documented lengths in one place (the ingest sink), for every reader.

The limits are the constants of :mod:`echoscope.schema` (``TEXT_LIMITS``). A cut value keeps its row: the row
is loaded (or counted as a duplicate) as usual, and the cut goes to ``quarantine`` as a note that is not
counted, like the tabular readers' "stored as null" notes, so ``read = loaded + quarantined + duplicates``
still holds. Every input here is generated in ``tmp_path``: the values are too big for fixtures.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import echoscope
from echoscope import schema as S
from echoscope.sources.base import MAX_RAW
from echoscope.sources.textcap import cap_text

TEXT = S.TEXT_LIMITS["posts"]["text"]
BIO = S.TEXT_LIMITS["accounts"]["description"]
NAME = S.TEXT_LIMITS["accounts"]["display_name"]
URL = S.TEXT_LIMITS["posts"]["urls"]
MB30 = 30 * 2**20  # 31,457,280 characters: the post text of the report


@pytest.fixture
def study(tmp_path: Path) -> echoscope.Study:
    return echoscope.init_study(tmp_path / "s")


def reconciles(rep: dict[str, Any]) -> tuple[int, int, int, int]:
    assert rep["read"] == rep["loaded"] + rep["quarantined"] + rep["duplicates"], rep
    return rep["read"], rep["loaded"], rep["quarantined"], rep["duplicates"]


def cuts(study: echoscope.Study) -> list[dict[str, Any]]:
    return study.sql("SELECT line, field, reason, raw FROM quarantine ORDER BY field, reason").to_pylist()


def lengths(study: echoscope.Study, table: str, *fields: str) -> dict[str, int | None]:
    cols = ", ".join(f"max(length({f})) AS {f}" for f in fields)
    return study.sql(f"SELECT {cols} FROM {table}").to_pylist()[0]


def test_limits_are_documented_constants() -> None:
    # far above any platform's post (X long posts: 25,000 as X counts them) and bio (X 160, Mastodon 500)
    assert TEXT == S.MAX_TEXT_CHARS == 100_000 and BIO == S.MAX_BIO_CHARS == 10_000
    assert NAME == S.MAX_SHORT_CHARS == 1_000 and URL == S.MAX_URL_CHARS == 10_000
    # ids are never cut: a cut id would be another record's id
    for table, fields in S.TEXT_LIMITS.items():
        assert not set(fields) & set(S.KEYS[table]) and "account_id" not in fields


def test_a_30_mb_post_text_is_cut_and_the_cut_recorded(study, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ECHOSCOPE_READER_WORKERS", "1")  # one process: the test stays fast
    f = tmp_path / "big.jsonl"
    tweet = {"id": "1", "author_id": "9", "created_at": "2021-09-22T16:38:35.000Z", "text": "a" * MB30}
    f.write_text(json.dumps({"data": [tweet], "includes": {"users": [
        {"id": "9", "username": "u9", "name": "N" * 1_500, "description": "short"}]}}) + "\n")
    (rep,) = study.ingest([str(f)], format="twarc2")
    # the tweet is read and loaded; the cut is a note, not a quarantined record
    assert reconciles(rep) == (1, 1, 0, 0)
    assert lengths(study, "posts", "text") == {"text": TEXT}
    assert lengths(study, "accounts", "display_name", "description") == {"display_name": NAME, "description": 5}
    q = cuts(study)
    assert [(r["field"], r["line"]) for r in q] == [("display_name", None), ("text", None)]
    assert q[1]["reason"] == ("text longer than 100,000 characters: cut to 100,000 (original 31,457,280); "
                              "post_id 1, the rest of the row is kept")
    assert q[0]["reason"] == ("display_name longer than 1,000 characters: cut to 1,000 (original 1,500); "
                              "account_id 9, the rest of the row is kept")
    # raw: the original value, truncated as every quarantined raw value is (a short one whole)
    assert q[1]["raw"] == "a" * MAX_RAW + "…" and q[0]["raw"] == "N" * 1_500


def _io_header() -> list[str]:
    from echoscope.sources.io_archive import TWEET_COLUMNS

    return list(TWEET_COLUMNS)


def _write_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    """One file per reader, each holding a post text of TEXT + 5 characters (and a long bio where the
    format carries one); returns format -> (file, table with the long value)."""
    long_text = "x" * (TEXT + 5)
    out: dict[str, tuple[Path, str]] = {}
    v1 = tmp / "v1.jsonl"
    v1.write_text(json.dumps({"id_str": "5", "created_at": "Mon Mar 01 12:00:00 +0000 2021", "text": long_text,
                              "user": {"id_str": "7", "screen_name": "s", "description": "d" * (BIO + 1)}}) + "\n")
    out["twitter-v1"] = (v1, "posts")
    js = tmp / "jet.jsonl"
    js.write_text(json.dumps({"did": "did:plc:a", "time_us": 1725911162329308, "kind": "commit", "commit": {
        "operation": "create", "collection": "app.bsky.feed.post", "rkey": "r1",
        "record": {"text": long_text, "createdAt": "2024-09-09T19:46:02.102Z"}}}) + "\n")
    out["jetstream"] = (js, "posts")
    ma = tmp / "masto.jsonl"
    ma.write_text(json.dumps({"id": "1100", "created_at": "2024-10-01T12:00:00.000Z", "content": long_text,
                              "account": {"id": "10", "username": "e", "acct": "e"}, "reblogs_count": 0}) + "\n")
    out["mastodon"] = (ma, "posts")
    cs = tmp / "posts.csv"
    with open(cs, "w", newline="") as fh:
        csv.writer(fh).writerows([["post_id", "account_id", "created_at", "text"],
                                  ["p1", "a1", "2021-01-01T00:00:00Z", long_text]])
    out["csv"] = (cs, "posts")
    pqf = tmp / "accounts.parquet"
    pq.write_table(pa.table({"account_id": ["a1"], "handle": ["h"], "description": ["d" * (BIO + 1)]}), pqf)
    out["parquet"] = (pqf, "accounts")
    io = tmp / "io_tweets.csv"
    header = _io_header()
    row = {c: "" for c in header} | {"tweetid": "11", "userid": "u1", "tweet_time": "2019-05-01 10:00",
                                     "tweet_text": long_text, "user_profile_description": "d" * (BIO + 1)}
    with open(io, "w", newline="") as fh:
        csv.writer(fh).writerows([header, [row[c] for c in header]])
    out["io-archive"] = (io, "posts")
    return out


@pytest.mark.parametrize("fmt", ["twitter-v1", "jetstream", "mastodon", "csv", "parquet", "io-archive"])
def test_every_reader_gets_the_same_cut(study, tmp_path, fmt) -> None:
    path, table = _write_inputs(tmp_path)[fmt]
    (rep,) = study.ingest([str(path)], format=fmt)
    assert reconciles(rep) == (1, 1, 0, 0)
    field = "text" if table == "posts" else "description"
    cap = S.TEXT_LIMITS[table][field]
    assert lengths(study, table, field) == {field: cap}
    q = [r for r in cuts(study) if r["field"] == field]
    assert len(q) == 1 and f"(original {cap + (5 if field == 'text' else 1):,})" in q[0]["reason"]
    if fmt in ("twitter-v1", "io-archive"):
        # the author's long bio arrives with the post: its account row is cut too (not counted either)
        assert lengths(study, "accounts", "description") == {"description": BIO}


def test_load_arrow_the_collectors_path_is_cut_too(study) -> None:
    rep = study.load_arrow({"posts": pa.table({
        "post_id": ["p1", "p2"], "account_id": ["a", "a"],
        "created_at": pa.array([0, 1], pa.timestamp("us", tz="UTC")), "kind": ["original", "original"],
        "text": ["y" * (TEXT + 1), "fine"]})}, name="collect:test")
    assert (rep["read"], rep["loaded"], rep["quarantined"]) == (2, 2, 0)
    assert study.sql("SELECT post_id, length(text) n FROM posts ORDER BY 1").to_pylist() == [
        {"post_id": "p1", "n": TEXT}, {"post_id": "p2", "n": 4}]
    assert [r["field"] for r in cuts(study)] == ["text"]


# ------------------------------------------------------------------------------------------ the cut itself
def _posts(**cols: Any) -> pa.Table:
    n = len(next(iter(cols.values())))
    base = {"platform": ["twitter"] * n, "post_id": [str(i) for i in range(n)], "account_id": ["a"] * n}
    return S.conform(pa.table(base | cols), S.POSTS)


def test_nothing_long_returns_the_batch_itself() -> None:
    t = _posts(text=["short", None, "é" * TEXT])  # exactly at the limit: kept
    out, notes = cap_text("posts", t)
    assert out is t and notes is None
    out, notes = cap_text("likes", S.conform(pa.table({"platform": ["x"], "account_id": ["a"], "post_id": ["p"]}),
                                             S.LIKES))
    assert notes is None


def test_characters_are_counted_not_bytes() -> None:
    # 'é' is 2 bytes: TEXT of them are 2 * TEXT bytes but only TEXT characters, so nothing is cut; one more
    # character is cut back to TEXT characters, on a character boundary (valid UTF-8)
    t = _posts(text=["é" * TEXT, "é" * (TEXT + 1), None, "ok"])
    out, notes = cap_text("posts", t)
    texts = out.column("text").to_pylist()
    assert texts[0] == "é" * TEXT and texts[1] == "é" * TEXT and texts[2:] == [None, "ok"]
    assert notes is not None and notes.column("field").to_pylist() == ["text"]
    assert "(original 100,001); post_id 1," in notes.column("reason")[0].as_py()
    assert out.schema == S.POSTS  # the stored types are unchanged


def test_list_items_and_several_fields_of_a_row() -> None:
    long_url = "https://example.com/" + "q" * URL
    t = _posts(urls=[["https://a.example", long_url], None, []], hashtags=[["x" * (NAME + 2)], ["ok"], None],
               client=["c" * (NAME + 1), "web", None])
    t = pa.Table.from_batches(t.to_batches(max_chunksize=1))  # several chunks, as staged batches may be
    out, notes = cap_text("posts", t)
    assert out.column("urls").to_pylist() == [["https://a.example", long_url[:URL]], None, []]
    assert out.column("hashtags").to_pylist() == [["x" * NAME], ["ok"], None]
    assert out.column("client").to_pylist() == ["c" * NAME, "web", None]
    assert notes is not None
    got = sorted(zip(notes.column("field").to_pylist(), notes.column("reason").to_pylist()))
    assert [f for f, _ in got] == ["client", "hashtags", "urls"]
    assert got[2][1].startswith(f"an item of urls longer than 10,000 characters: cut to 10,000 (original "
                                f"{len(long_url):,}); post_id 0")
    assert out.schema == S.POSTS

"""The twarc2 reader on real twarc2 output (../shared/data/twarc2-samples) and one fixture per edge case.

Expected counts come from the samples' PROVENANCE.md (tweets in ``data`` and retweets among them) and from
reading the fixtures in tests/data (each fixture's construction is described next to its test).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import echoscope
from echoscope.errors import SourceError
from echoscope.sources import jsonl, status, twarc2, twitter_v1

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SAMPLES = HERE.parent.parent / "shared" / "data" / "twarc2-samples"
UTC = dt.UTC


@pytest.fixture
def study(tmp_path: Path) -> echoscope.Study:
    return echoscope.init_study(tmp_path / "s")


def ingest(study: echoscope.Study, *paths: Path, fmt: str | None = "twarc2") -> list[dict[str, Any]]:
    reports = study.ingest([str(p) for p in paths], format=fmt)
    for r in reports:
        assert r["read"] == r["loaded"] + r["quarantined"] + r["duplicates"], r
    return reports


def rows(study: echoscope.Study, sql: str) -> list[dict[str, Any]]:
    return study.sql(sql).to_pylist()


def quarantine(study: echoscope.Study) -> list[dict[str, Any]]:
    return rows(study, "SELECT line, field, reason FROM quarantine ORDER BY line, field")


# ------------------------------------------------------------------------------------------ real samples
@pytest.mark.parametrize("name, tweets, retweets", [
    ("2sets.jsonl", 200, 145),
    ("entities_test.jsonl", 474, 314),
    ("withheld.jsonl", 215, 83),
    ("media_policy_violation_on.jsonl", 100, 42),
])
def test_real_pages_counts_and_kinds(study: echoscope.Study, name: str, tweets: int, retweets: int) -> None:
    (r,) = ingest(study, SAMPLES / name)
    # every tweet in data is read and loaded once; the pages have no bad tweets
    assert (r["format"], r["read"], r["loaded"], r["quarantined"], r["duplicates"]) == ("twarc2", tweets, tweets, 0, 0)
    # referenced tweets from includes are stored too (not counted), so posts > tweets; retweets are only ever
    # primary (a retweet cannot be referenced), so the repost count is the provenance figure
    assert study.rows("posts") > tweets
    (n,) = study.sql("SELECT count(*) AS n FROM engagements WHERE kind = 'repost'").column("n").to_pylist()
    assert n == retweets
    # every repost, quote and reply names the post it refers to; wherever that post is in the file (data or
    # includes), the engagement also knows its author (the rest were deleted or withheld before collection)
    assert rows(study, "SELECT post_id FROM posts WHERE kind <> 'original' AND ref_post_id IS NULL") == []
    assert rows(study, "SELECT e.engagement_id FROM engagements e JOIN posts s ON s.post_id = e.subject_post_id "
                       "WHERE e.subject_account_id IS NULL") == []
    assert study.info()["reconciled"]


def test_field_mapping_of_a_real_retweet(study: echoscope.Study) -> None:
    ingest(study, SAMPLES / "2sets.jsonl")
    (p,) = rows(study, "SELECT * FROM posts WHERE post_id = '1440717170493689866'")
    # the first tweet of 2sets.jsonl: a retweet of @ChartsEcuador (see the file)
    assert p["account_id"] == "1433267766912557062"
    assert p["kind"] == "repost" and p["ref_post_id"] == "1440691114135080963"
    assert p["text"].startswith("RT @ChartsEcuador: #TopKPopEcuador")  # v2 keeps the truncated RT text
    assert (p["lang"], p["client"]) == ("es", "Twitter Web App")
    assert p["hashtags"] == ["TopKPopEcuador", "Butter", "Lisa", "charts", "kpop"]
    assert p["mentions"] == ["ChartsEcuador", "BTS_twt"]
    assert p["urls"] == ["http://www.chartsecuador.biz"]  # expanded_url wins over unwound_url
    assert (p["like_count"], p["repost_count"], p["reply_count"], p["quote_count"]) == (0, 20, 0, 0)
    assert p["created_at"] == dt.datetime(2021, 9, 22, 16, 38, 35, tzinfo=UTC)
    # the retweeted tweet came from includes.tweets and is stored with its author
    (ref,) = rows(study, "SELECT account_id FROM posts WHERE post_id = '1440691114135080963'")
    assert ref["account_id"] == p["ref_account_id"] == "902035056"  # @ChartsEcuador's id in includes.users
    (e,) = rows(study, "SELECT * FROM engagements WHERE engagement_id = '1440717170493689866'")
    assert e["subject_account_id"] == "902035056" and e["latency_s"] > 0


def test_account_fields_and_observed_at(study: echoscope.Study) -> None:
    ingest(study, SAMPLES / "2sets.jsonl")
    (a,) = rows(study, "SELECT * FROM accounts WHERE account_id = '1433267766912557062'")
    # includes.users entry of the first tweet's author (see 2sets.jsonl)
    assert (a["handle"], a["display_name"]) == ("ximerios12_", "Ximena Ríos")
    assert (a["followers_count"], a["following_count"], a["posts_count"]) == (4, 90, 67)
    assert a["created_at"] == dt.datetime(2021, 9, 2, 3, 17, 52, tzinfo=UTC)
    assert a["verified"] is False and a["default_profile_image"] is False and a["language"] is None
    assert a["profile_image_url"].endswith("0PVEtYxj_normal.jpg")
    assert a["observed_at"] == dt.datetime(2021, 9, 22, 16, 39, 0, tzinfo=UTC)  # __twarc.retrieved_at of page 1
    # the schema keeps times as UTC timestamps
    assert study.to_arrow("posts").schema.field("created_at").type == pa.timestamp("us", tz="UTC")


def test_flat_and_noflat_carry_the_same_tweets(tmp_path: Path) -> None:
    both = echoscope.init_study(tmp_path / "both")
    flat, noflat = ingest(both, SAMPLES / "flat.jsonl", SAMPLES / "noflat.jsonl")
    assert (flat["read"], flat["loaded"], flat["duplicates"]) == (100, 100, 0)
    assert (noflat["read"], noflat["loaded"], noflat["duplicates"]) == (100, 0, 100)
    # read separately, the two shapes give identical posts and accounts tables (sources aside)
    tables = []
    for name in ("flat.jsonl", "noflat.jsonl"):
        s = echoscope.init_study(tmp_path / name)
        ingest(s, SAMPLES / name)
        tables.append([s.sql(f"SELECT * EXCLUDE (source) FROM {t} ORDER BY 2").to_pylist()
                       for t in ("posts", "accounts")])
    assert tables[0] == tables[1]
    assert len(tables[0][0]) > 100  # the referenced tweets embedded in flat.jsonl are stored too
    # an author with Twitter's default image (flat.jsonl line 1)
    (a,) = rows(both, "SELECT default_profile_image FROM accounts WHERE handle = 'Alexandravm12'")
    assert a["default_profile_image"] is True


def test_gzip_input(study: echoscope.Study, tmp_path: Path) -> None:
    import gzip

    gz = tmp_path / "2sets.jsonl.gz"
    gz.write_bytes(gzip.compress((SAMPLES / "2sets.jsonl").read_bytes()))
    (r,) = ingest(study, gz, fmt=None)  # detected from the decompressed content
    assert (r["format"], r["read"], r["loaded"]) == ("twarc2", 200, 200)


def test_stream_with_a_malformed_line(study: echoscope.Study) -> None:
    (r,) = ingest(study, SAMPLES / "streaming_output_with_error.jsonl")
    # 7 stream responses and a last line cut after 44 characters
    assert (r["read"], r["loaded"], r["quarantined"]) == (8, 7, 1)
    (q,) = quarantine(study)
    assert q["line"] == 8 and q["reason"].startswith("truncated line")
    # a stream response's reply keeps its reply target
    (p,) = rows(study, "SELECT kind, ref_post_id, ref_account_id FROM posts WHERE post_id = '1377650093109743620'")
    assert p == {"kind": "reply", "ref_post_id": "1377266697850257410", "ref_account_id": "601852746"}


def test_empty_file_is_a_clear_error(study: echoscope.Study) -> None:
    with pytest.raises(SourceError, match="empty"):
        study.ingest([str(SAMPLES / "empty.json")], format="twarc2")
    with pytest.raises(SourceError, match="empty"):
        study.ingest([str(SAMPLES / "empty.json")])  # detection says so too
    assert study.rows("posts") == 0


@pytest.mark.parametrize("name, says", [
    ("users.jsonl", "--format twarc2-users"),
    ("counts.jsonl", "tweet counts"),
    ("lists.jsonl", "list page"),
    ("tweets_compliance.jsonl", "compliance events"),
    ("users_compliance.jsonl", "compliance events"),
])
def test_other_twarc2_output_is_refused_with_what_reads_it(study: echoscope.Study, name: str, says: str) -> None:
    with pytest.raises(SourceError, match=re.escape(says)) as err:
        study.ingest([str(SAMPLES / name)], format="twarc2")
    assert str(err.value).startswith(str(SAMPLES / name)) and "\n" not in str(err.value)
    assert study.manifest().files() == []  # nothing was committed


@pytest.mark.parametrize("name, fmt", [
    ("2sets.jsonl", "twarc2"), ("flat.jsonl", "twarc2"), ("streaming_output_with_error.jsonl", "twarc2"),
    ("users.jsonl", "twarc2-users"),
])
def test_detection(study: echoscope.Study, name: str, fmt: str) -> None:
    (r,) = ingest(study, SAMPLES / name, fmt=None)
    assert r["format"] == fmt and r["read"] > 0


def test_detection_of_counts_explains_the_file(study: echoscope.Study) -> None:
    # counts are twarc2 output: detection hands them to the twarc2 reader, which says what they are
    with pytest.raises(SourceError, match="tweet counts"):
        study.ingest([str(DATA / "twarc2_counts.jsonl")])


def test_sniffers_tell_the_json_formats_apart() -> None:
    def head(p: Path) -> bytes:
        return p.read_bytes()[:65536]

    big = head(SAMPLES / "2sets.jsonl")  # a page longer than the head: detection must parse a partial line
    assert b"\n" not in big and twarc2.sniff(big, "x") >= 0.9
    assert twitter_v1.sniff(big, "x") == 0 and status.sniff(big, "x") == 0
    users = head(SAMPLES / "users.jsonl")
    assert status.sniff(users, "x") > twarc2.sniff(users, "x")
    v1 = head(DATA / "v1_stream.jsonl")
    assert twitter_v1.sniff(v1, "x") > 0.9 and twarc2.sniff(v1, "x") == 0
    assert twarc2.sniff(head(SAMPLES / "flat.jsonl"), "x") >= 0.9


# ------------------------------------------------------------------------------------------ edge cases
def test_truncated_last_line(study: echoscope.Study) -> None:
    # two good pages (2 + 1 tweets), then a third page cut after 80 bytes
    (r,) = ingest(study, DATA / "twarc2_truncated.jsonl")
    assert (r["read"], r["loaded"], r["quarantined"]) == (4, 3, 1)
    (q,) = quarantine(study)
    assert q["line"] == 3 and "truncated" in q["reason"]


def test_invalid_utf8_line_is_quarantined(study: echoscope.Study) -> None:
    # line 2 holds the Latin-1 bytes e9 and ff inside a tweet's text; lines 1 and 3 are good
    (r,) = ingest(study, DATA / "twarc2_invalid_utf8.jsonl")
    assert (r["read"], r["loaded"], r["quarantined"]) == (4, 3, 1)
    (q,) = quarantine(study)
    assert q["line"] == 2 and "UTF-8" in q["reason"]
    (raw,) = rows(study, "SELECT raw FROM quarantine")
    assert "caf" in raw["raw"]  # the raw line is kept (undecodable bytes replaced)


def test_missing_author_id_and_id(study: echoscope.Study) -> None:
    # one page: a good tweet, one without author_id, one without id
    (r,) = ingest(study, DATA / "twarc2_missing_author.jsonl")
    assert (r["read"], r["loaded"], r["quarantined"]) == (3, 1, 2)
    assert [(q["line"], q["field"]) for q in quarantine(study)] == [(1, "author_id"), (1, "id")]


def test_bad_dates_and_offsets(study: echoscope.Study) -> None:
    # "yesterday" and 30 February are quarantined; "+02:00" is converted to UTC
    (r,) = ingest(study, DATA / "twarc2_bad_date.jsonl")
    assert (r["read"], r["loaded"], r["quarantined"]) == (3, 1, 2)
    assert {q["field"] for q in quarantine(study)} == {"created_at"}
    (p,) = rows(study, "SELECT post_id, created_at FROM posts")
    assert p == {"post_id": "109", "created_at": dt.datetime(2021, 6, 1, 10, 0, tzinfo=UTC)}


def test_compliance_fixture_is_refused(study: echoscope.Study) -> None:
    with pytest.raises(SourceError, match="compliance"):
        study.ingest([str(DATA / "twarc2_compliance.jsonl")], format="twarc2")


def test_counts_fixture_is_refused(study: echoscope.Study) -> None:
    with pytest.raises(SourceError, match="counts"):
        study.ingest([str(DATA / "twarc2_counts.jsonl")], format="twarc2")


def test_csv_given_as_twarc2(study: echoscope.Study) -> None:
    with pytest.raises(SourceError, match="not JSON"):
        study.ingest([str(DATA / "twarc2_not_json.csv")], format="twarc2")


def test_reply_that_quotes_and_retweet_of_a_deleted_tweet(study: echoscope.Study) -> None:
    # 201 replies to 100 and quotes 200: the quote wins (docs/sources-json.md); 202 retweets 299, which the
    # page's errors say is gone: its author comes from "RT @bob:" (mention id 2); the error is not counted
    (r,) = ingest(study, DATA / "twarc2_kinds.jsonl")
    assert (r["read"], r["loaded"]) == (2, 2)
    got = {p["post_id"]: p for p in rows(study, "SELECT * FROM posts")}
    assert (got["201"]["kind"], got["201"]["ref_post_id"], got["201"]["ref_account_id"]) == ("quote", "200", "2")
    assert (got["202"]["kind"], got["202"]["ref_post_id"], got["202"]["ref_account_id"]) == ("repost", "299", "2")
    assert "299" not in got and {"100", "200"} <= set(got)  # includes.tweets are stored
    assert got["100"]["urls"] == ["https://example.org/a"] and got["100"]["hashtags"] == ["alpha"]


def test_values_of_unexpected_types(study: echoscope.Study) -> None:
    # 300 has numeric ids (accepted as strings); 301 has "entities": "oops" (that tweet alone is quarantined);
    # 302 has like_count "7" (converted)
    (r,) = ingest(study, DATA / "twarc2_wrong_types.jsonl")
    assert (r["read"], r["loaded"], r["quarantined"]) == (3, 2, 1)
    got = {p["post_id"]: p for p in rows(study, "SELECT post_id, account_id, like_count FROM posts")}
    assert got["300"]["account_id"] == "1" and got["302"]["like_count"] == 7
    (q,) = quarantine(study)
    assert "entities" in q["reason"]


@pytest.mark.slow
def test_parallel_workers_give_the_same_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large files are parsed by worker processes; order, line numbers and rows must not change."""
    pages = [ln for ln in (SAMPLES / "2sets.jsonl").read_bytes().split(b"\n") if ln.strip()]
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as fh:
        for k in range(6):  # 12 pages with distinct ids, an invalid line in the middle, a cut last line
            fh.writelines(re.sub(rb'"(\d{6,20})"', lambda m, k=k: b'"' + m.group(1) + b"%02d" % k + b'"', p) + b"\n"
                          for p in pages)
            if k == 2:
                fh.write(b'{"data": [}\n')
        fh.write(pages[0][:1000])
    monkeypatch.setattr(jsonl, "CHUNK_BYTES", 300_000)  # several blocks per worker
    monkeypatch.setattr(jsonl, "PARALLEL_MIN_BYTES", 0)
    results = []
    for workers in ("1", "2"):
        monkeypatch.setenv("ECHOSCOPE_READER_WORKERS", workers)
        s = echoscope.init_study(tmp_path / f"w{workers}")
        (r,) = ingest(s, big)
        results.append((r["read"], r["loaded"], r["quarantined"],
                        s.sql("SELECT * EXCLUDE (source) FROM posts ORDER BY post_id").to_pylist(),
                        s.sql("SELECT * EXCLUDE (source) FROM accounts ORDER BY account_id").to_pylist(),
                        s.sql("SELECT line, reason FROM quarantine ORDER BY line").to_pylist()))
    assert results[0] == results[1]
    read, loaded, quarantined, _, _, q = results[0]
    # a file refused mid-way stops the workers and leaves nothing behind
    monkeypatch.setenv("ECHOSCOPE_READER_WORKERS", "2")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_bytes((SAMPLES / "counts.jsonl").read_bytes() + big.read_bytes())
    s = echoscope.init_study(tmp_path / "mixed")
    with pytest.raises(SourceError, match="tweet counts"):
        s.ingest([str(mixed)], format="twarc2")
    assert s.rows("posts") == 0
    assert (read, loaded, quarantined) == (1202, 1200, 2)  # 6 x 200 tweets + 2 bad lines
    assert [x["line"] for x in q] == [7, 14]  # after the 6 pages of copies 0-2; the 14th line is the cut one


def test_reconciles_in_info(study: echoscope.Study) -> None:
    ingest(study, DATA / "twarc2_missing_author.jsonl", DATA / "twarc2_truncated.jsonl")
    info = study.info()
    assert info["reconciled"]
    assert {f["path"].rsplit("/", 1)[1]: f["quarantined"] for f in info["files"]} == {
        "twarc2_missing_author.jsonl": 2, "twarc2_truncated.jsonl": 1}
    assert json.loads(json.dumps(info, default=str))["tables"]["quarantine"]["rows"] == 3

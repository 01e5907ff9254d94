"""X/Twitter information-operations archive reader (``--format io-archive``).

Fixtures (tests/data/io_*) are made by hand in the archive's layout: the official 30 tweet columns, hashed
user ids (64 hex characters) next to numeric ones, list columns written as "[a, b]", times as
'YYYY-MM-DD HH:MM', one tweet text over two lines, a bad tweet_time, a short row; users files in both
column spellings; the same files gzipped and zipped together.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
from pathlib import Path

import pytest

from echoscope.errors import SchemaError, SourceError
from echoscope.sources import io_archive as IO
from echoscope.study import init_study

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
UTC = dt.UTC
U1 = hashlib.sha256(b"io-user-1").hexdigest()  # hashed ids of small accounts, kept as strings
U2 = hashlib.sha256(b"io-user-2").hexdigest()
U3 = "123456789"  # a large account keeps its numeric id
T = "11200000000000000"  # tweet id prefix: tweet n is T + "0n"


@pytest.fixture()
def study(tmp_path):
    return init_study(tmp_path / "study")


def counts(r: dict) -> tuple[int, int, int, int]:
    return r["read"], r["loaded"], r["quarantined"], r["duplicates"]


def posts(study) -> dict[str, dict]:
    return {r["post_id"]: r for r in study.sql("SELECT * FROM posts").to_pylist()}


def accounts(study) -> dict[str, dict]:
    return {r["account_id"]: r for r in study.sql("SELECT * FROM accounts").to_pylist()}


def quarantine(study) -> list[dict]:
    return study.sql("SELECT source, line, field, reason, raw FROM quarantine ORDER BY source, line").to_pylist()


def check_tweets(study, rep: dict) -> None:
    # 9 tweet rows: the one with tweet_time 2019-13-45 and the short row are quarantined
    assert counts(rep) == (9, 7, 2, 0)
    assert rep["table"] == "posts"
    p = posts(study)
    assert set(p) == {T + n for n in ("01", "02", "03", "04", "05", "08", "09")}
    # kind precedence: is_retweet -> repost (retweet_tweetid/userid), quoted_tweet_tweetid -> quote,
    # in_reply_to_tweetid -> reply
    assert (p[T + "01"]["kind"], p[T + "01"]["ref_post_id"]) == ("original", None)
    assert (p[T + "02"]["kind"], p[T + "02"]["ref_post_id"], p[T + "02"]["ref_account_id"]) == (
        "repost", T + "01", U1)
    assert (p[T + "03"]["kind"], p[T + "03"]["ref_post_id"], p[T + "03"]["account_id"]) == ("quote", T + "01", U3)
    assert (p[T + "04"]["kind"], p[T + "04"]["ref_post_id"], p[T + "04"]["ref_account_id"]) == (
        "reply", T + "03", U3)
    # is_retweet 'true' without a retweet id: a repost whose source is unknown keeps a null ref_post_id
    assert (p[T + "08"]["kind"], p[T + "08"]["ref_post_id"]) == ("repost", None)
    # times 'YYYY-MM-DD HH:MM' are UTC; the text over two lines is kept whole
    assert p[T + "01"]["created_at"] == dt.datetime(2019, 5, 1, 10, 0, tzinfo=UTC)
    assert p[T + "05"]["text"] == 'Two lines,\nwith "quotes" and a comma'
    # list columns "[a, b]"; user_mentions hold user ids in this archive
    assert p[T + "01"]["hashtags"] == ["news", "politics"] and p[T + "01"]["urls"] == ["https://example.com/a"]
    assert p[T + "03"]["urls"] == ["https://example.com/a", "https://example.com/b"]
    assert p[T + "02"]["mentions"] == [U1] and p[T + "01"]["mentions"] == []
    assert (p[T + "01"]["like_count"], p[T + "01"]["repost_count"], p[T + "01"]["reply_count"],
            p[T + "01"]["quote_count"]) == (12, 2, 1, 1)
    assert p[T + "01"]["client"] == "Twitter Web Client" and p[T + "01"]["lang"] == "en"
    assert p[T + "01"]["account_id"] == U1 and len(U1) == 64
    # author snapshots: the newest tweet (2019-05-03) carries 120 followers and the longer bio
    a = accounts(study)
    assert a[U1]["followers_count"] == 120 and a[U1]["description"] == "news, truth, more"
    assert a[U1]["observed_at"] == dt.datetime(2019, 5, 3, 8, 30, tzinfo=UTC)
    assert a[U1]["created_at"] == dt.datetime(2016, 4, 1, tzinfo=UTC)  # account_creation_date is a date
    assert a[U3]["handle"] == "bigoutlet" and a[U3]["location"] == "Moscow"
    # the engagements view sees the two reposts, the quote and the reply
    kinds = {r["kind"]: r["n"] for r in study.sql(
        "SELECT kind, count(*) AS n FROM engagements GROUP BY kind").to_pylist()}
    assert kinds == {"repost": 2, "quote": 1, "reply": 1}


def test_tweets_file(study):
    (rep,) = study.ingest([str(DATA / "io_tweets.csv")], format="io-archive")
    check_tweets(study, rep)
    q = quarantine(study)
    # header is line 1, tweets 1-4 lines 2-5, tweet 5 spans lines 6-7: the bad time is line 8, the short row 9
    assert [(x["line"], x["field"]) for x in q] == [(8, "created_at"), (9, "user_profile_description")]
    assert "'2019-13-45 25:61' cannot be read" in q[0]["reason"]
    assert "missing columns" in q[1]["reason"] and q[1]["raw"].startswith(T + "07,")


def test_tweets_file_is_detected(study):
    (rep,) = study.ingest([str(DATA / "io_tweets.csv")])
    assert rep["format"] == "io-archive"
    check_tweets(study, rep)


def test_gzipped_tweets(study):
    (rep,) = study.ingest([str(DATA / "io_tweets.csv.gz")], format="io-archive")
    check_tweets(study, rep)
    assert [x["line"] for x in quarantine(study)] == [8, 9]


def test_zip_with_both_files(study):
    reps = study.ingest([str(DATA / "io_archive.zip")], format="io-archive")
    by = {r["path"].split("!")[1]: r for r in reps}
    check_tweets(study, by["net_2019_tweets_csv_hashed.csv"])
    users = by["net_2019_users_csv_hashed.csv"]
    # 5 user rows: the one without userid is quarantined; the other 4 are accounts (3 of them were already
    # known from the tweets of the same run, so they count as duplicates that update the snapshot)
    assert users["table"] == "accounts" and users["read"] == 5 and users["quarantined"] == 1
    assert users["loaded"] + users["duplicates"] == 4
    assert len(accounts(study)) == 4


def test_users_file_with_user_prefix(study):
    (rep,) = study.ingest([str(DATA / "io_users.csv")])
    assert rep["format"] == "io-archive" and rep["table"] == "accounts"
    assert counts(rep) == (5, 4, 1, 0)
    a = accounts(study)
    assert a[U3]["handle"] == "bigoutlet" and a[U3]["followers_count"] == 25_000
    assert a[U3]["created_at"] == dt.datetime(2010, 9, 9, tzinfo=UTC) and a[U3]["language"] == "en"
    assert a[U1]["display_name"] == "Patriot Anna" and a[U1]["description"] == "news, truth"
    q = quarantine(study)
    # line 5: no userid (never keyed by its screen name); line 6: 'not a date' is stored as null with a note
    assert [(x["line"], x["field"]) for x in q] == [(5, "userid"), (6, "created_at")]
    assert "userid is empty" in q[0]["reason"] and "stored as null" in q[1]["reason"]
    dormant = hashlib.sha256(b"io-user-4").hexdigest()
    assert a[dormant]["created_at"] is None


def test_users_file_without_prefix(study):
    (rep,) = study.ingest([str(DATA / "io_users_noprefix.csv")], format="io-archive")
    assert counts(rep) == (2, 2, 0, 0)
    a = accounts(study)
    assert a["987654321"]["handle"] == "outlettwo" and a["987654321"]["display_name"] == "Outlet Two"
    assert a["987654321"]["location"] == "Kyiv" and a["987654321"]["followers_count"] == 5000


def test_users_snapshot_and_tweet_snapshots_merge(study):
    study.ingest([str(DATA / "io_tweets.csv"), str(DATA / "io_users.csv")], format="io-archive")
    a = accounts(study)
    # the users file has no observation time, the tweets do: tweet snapshots win where both hold a value,
    # the users file fills the rest
    assert a[U1]["followers_count"] == 120 and a[U1]["following_count"] == 50
    assert len(a) == 4


def test_missing_tweet_columns_is_a_schema_error(study):
    with pytest.raises(SchemaError) as e:
        study.ingest([str(DATA / "io_tweets_missing_columns.csv")], format="io-archive")
    msg = str(e.value)
    # header: tweetid, userid, tweet_text -- 3 columns, all of them archive tweet columns
    assert msg == (f"{DATA / 'io_tweets_missing_columns.csv'}:1: column tweet_time missing from the X "
                   "information-operations tweets header (it has 3 columns, 3 of the 30 expected); see "
                   "docs/sources-tabular.md#io-archive, or read another layout with --format csv --map")


def test_missing_tweet_columns_message_is_one_short_line(study):
    # the official 30 columns without userid and tweet_time: the message used to list all 58 names (1,124
    # characters); now it names the two missing ones and says what was found in a phrase
    with pytest.raises(SchemaError) as e:
        study.ingest([str(DATA / "io_tweets_missing_two_columns.csv")], format="io-archive")
    detail = e.value.detail
    assert len(detail) <= 300, detail
    assert detail.startswith("columns userid, tweet_time missing from the X information-operations tweets header")
    assert "(it has 28 columns, 28 of the 30 expected)" in detail and "docs/sources-tabular.md#io-archive" in detail
    assert not {c for c in IO.TWEET_COLUMNS if c in detail} - {"userid", "tweet_time"}  # no column listed again


def test_unknown_layout_is_a_schema_error(study):
    with pytest.raises(SchemaError, match="neither column 'tweetid' .* nor 'userid'"):
        study.ingest([str(DATA / "io_users_unknown_layout.csv")], format="io-archive")


def test_json_given_as_io_archive(study):
    with pytest.raises(SourceError, match="holds JSON, not CSV"):
        study.ingest([str(DATA / "csv_json_given_as_csv.csv")], format="io-archive")


def test_sniff():
    assert IO.sniff((DATA / "io_tweets.csv").read_bytes(), "x.csv") == 0.9
    assert IO.sniff((DATA / "io_users.csv").read_bytes(), "x.csv") == 0.85
    assert IO.sniff((DATA / "io_users_noprefix.csv").read_bytes(), "x.csv") == 0.85
    assert IO.sniff((DATA / "csv_posts_canonical.csv").read_bytes(), "x.csv") == 0
    assert IO.sniff(b'{"tweetid": 1, "userid": 2}', "x.json") == 0


def test_generated_archive_round_trip(study, tmp_path):
    # the benchmark generator: every row loads, kinds follow the generator's shares, embedded newlines are
    # handled (every 97th text has one)
    spec = importlib.util.spec_from_file_location("gen_io_archive", ROOT / "benchmarks" / "gen_io_archive.py")
    gen = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(gen)
    path = tmp_path / "tweets.csv"
    n = gen.generate(path, 2.0, seed=3, users_out=tmp_path / "users.csv", n_users=300)
    reps = study.ingest([str(path), str(tmp_path / "users.csv")], format="io-archive")
    assert counts(reps[0]) == (n, n, 0, 0)
    assert reps[1]["read"] == 300 and reps[1]["quarantined"] == 0
    share = {r["kind"]: r["n"] / n for r in study.sql(
        "SELECT kind, count(*) AS n FROM posts GROUP BY kind").to_pylist()}
    # generator: 45% retweets, 10% quotes, 10% replies, 35% originals
    assert abs(share["repost"] - 0.45) < 0.03 and abs(share["original"] - 0.35) < 0.03
    multi = study.sql("SELECT count(*) AS n FROM posts WHERE contains(text, chr(10))").column("n")[0].as_py()
    assert multi == len(range(0, n, 97))

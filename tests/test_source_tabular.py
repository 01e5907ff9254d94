"""Generic CSV/Parquet readers (``--format csv|parquet``): mapping, inference, values, quarantine, real data.

Every fixture in tests/data/csv_*, parquet_* and status_* is one edge case; expected values are explained
next to each assertion. Real-data tests read ../shared/data (relative to the repository root).
"""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from echoscope.errors import ConfigError, SchemaError, SourceError
from echoscope.sources import tabular as T
from echoscope.sources import tabular_engine as E
from echoscope.sources import values as V
from echoscope.study import init_study

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
UTC = dt.UTC


@pytest.fixture()
def study(tmp_path):
    return init_study(tmp_path / "study")


def counts(report: dict) -> tuple[int, int, int, int]:
    return report["read"], report["loaded"], report["quarantined"], report["duplicates"]


def rows(study, table: str, order: str) -> list[dict]:
    return study.sql(f"SELECT * FROM {table} ORDER BY {order}").to_pylist()


def quarantine(study) -> list[dict]:
    return study.sql("SELECT line, field, reason, raw FROM quarantine ORDER BY source, line").to_pylist()


# ------------------------------------------------------------------------------------------ values
def test_canonical_posts_need_no_map_and_every_value_spelling_is_read(study):
    (rep,) = study.ingest([str(DATA / "csv_posts_canonical.csv")], format="csv")
    assert counts(rep) == (7, 7, 0, 0)
    assert rep["table"] == "posts"  # inferred from post_id
    p = {r["post_id"]: r for r in rows(study, "posts", "post_id")}
    # ISO with Z, naive 'YYYY-MM-DD HH:MM:SS', +02:00 offset, epoch seconds, M/D/YYYY H:MM, Twitter's format,
    # epoch milliseconds: all UTC
    assert p["p1"]["created_at"] == dt.datetime(2021, 3, 1, 10, 0, 0, tzinfo=UTC)
    assert p["p2"]["created_at"] == dt.datetime(2021, 3, 1, 10, 0, 30, tzinfo=UTC)
    assert p["p3"]["created_at"] == dt.datetime(2021, 3, 1, 10, 0, 45, tzinfo=UTC)  # 12:00:45+02:00
    assert p["p4"]["created_at"] == dt.datetime(2021, 3, 1, 10, 1, 0, tzinfo=UTC)  # 1614592860
    assert p["p5"]["created_at"] == dt.datetime(2021, 3, 1, 10, 2, 0, tzinfo=UTC)
    assert p["p6"]["created_at"] == dt.datetime(2021, 3, 1, 10, 3, 0, tzinfo=UTC)
    assert p["p7"]["created_at"] == dt.datetime(2021, 3, 1, 10, 3, 0, tzinfo=UTC)  # 1614592980000 ms
    # kinds: retweet and RT -> repost, quote_tweet -> quote
    assert [p[k]["kind"] for k in sorted(p)] == ["original", "repost", "repost", "quote", "reply", "repost",
                                                 "original"]
    # a repost whose source post nobody collected keeps a null ref_post_id (and is still a repost)
    assert p["p6"]["ref_post_id"] is None and p["p6"]["kind"] == "repost"
    assert p["p2"]["ref_post_id"] == "p1" and p["p2"]["ref_account_id"] == "a1"
    # lists: "[a, b]", "['a', 'b']", a JSON array whose item holds a comma, space separated with # and @
    assert p["p1"]["urls"] == ["https://example.org/a", "https://example.org/b"]
    assert p["p1"]["hashtags"] == ["news", "world"]
    assert p["p1"]["mentions"] == []
    assert p["p5"]["urls"] == ["https://x.org/?a=1,2"]
    assert p["p4"]["hashtags"] == ["news", "world"] and p["p4"]["mentions"] == ["a1", "a2"]
    assert p["p1"]["text"] == "Hello, world" and p["p1"]["like_count"] == 5
    # engagements: the reposts, the quote and the reply (never originals)
    assert study.sql("SELECT count(*) AS n FROM engagements").column("n")[0].as_py() == 5


def test_map_renames_and_translates_values(study):
    mapping = {"id": "post_id", "user": "account_id", "time": "created_at", "retweet": "kind", "body": "text",
               "kind:1": "repost", "kind:0": "original"}
    (rep,) = study.ingest([str(DATA / "csv_posts_mapped.csv")], format="csv", mapping=mapping)
    # row 12 carries retweet flag 2, which no --map translates: quarantined on line 4 (header = line 1)
    assert counts(rep) == (4, 3, 1, 0)
    p = {r["post_id"]: r["kind"] for r in rows(study, "posts", "post_id")}
    assert p == {"10": "original", "11": "repost", "13": "original"}
    (q,) = quarantine(study)
    assert q["line"] == 4 and q["field"] == "kind" and "'2'" in q["reason"]
    assert "--map kind:VALUE=repost" in q["reason"]
    assert q["raw"] == "12,u3,2020-05-01 08:02,2,a flag nobody translated,US"


def test_unknown_field_in_map_is_a_config_error_listing_fields(study):
    with pytest.raises(ConfigError, match="'author' is not a canonical field.*posts: platform, post_id"):
        study.ingest([str(DATA / "csv_posts_mapped.csv")], format="csv", mapping={"user": "author"})
    # a canonical field of another table than the one the file fills: the error lists the table's fields
    with pytest.raises(ConfigError, match="does not belong to table posts; valid fields of posts: platform"):
        study.ingest([str(DATA / "csv_posts_mapped.csv")], format="csv", table="posts",
                     mapping={"id": "post_id", "user": "account_id", "time": "created_at",
                              "region": "followers_count"})
    # nothing was committed by the failed runs
    assert study.info()["files"] == []


def test_set_gives_a_constant_and_map_double_equals_is_the_same(study, tmp_path):
    src = DATA / "csv_posts_mapped.csv"
    mapping = {"id": "post_id", "user": "account_id", "time": "created_at", "body": "text"}
    (rep,) = study.ingest([str(src)], format="csv", mapping=mapping, options={"set": {"kind": "repost"}})
    assert counts(rep) == (4, 4, 0, 0)
    assert {r["kind"] for r in rows(study, "posts", "post_id")} == {"repost"}
    other = init_study(tmp_path / "other")
    (rep2,) = other.ingest([str(src)], format="csv", mapping={**mapping, "kind": "=quote"})
    assert counts(rep2) == (4, 4, 0, 0)
    assert {r["kind"] for r in rows(other, "posts", "post_id")} == {"quote"}


# ------------------------------------------------------------------------------------------ inference
def test_table_inferred_from_header(study):
    (a,) = study.ingest([str(DATA / "csv_accounts.csv")], format="csv")
    assert a["table"] == "accounts" and counts(a) == (3, 3, 0, 0)
    acc = {r["account_id"]: r for r in rows(study, "accounts", "account_id")}
    assert acc["1"]["handle"] == "alice"  # leading @ dropped
    assert acc["1"]["verified"] is True and acc["2"]["verified"] is False
    assert acc["1"]["created_at"] == dt.datetime(2019, 1, 1, tzinfo=UTC)
    # 'lots' is no number: the account is loaded with a null count and a note in quarantine that is not
    # counted as a quarantined record (the record itself was loaded)
    assert acc["2"]["followers_count"] is None
    (note,) = quarantine(study)
    assert note["line"] == 3 and note["field"] == "followers_count" and "stored as null" in note["reason"]
    (s,) = study.ingest([str(DATA / "status_accounts.csv")], format="csv")
    assert s["table"] == "account_status"  # inferred from status


def test_accounts_without_ids_use_the_handle(study):
    (rep,) = study.ingest([str(DATA / "csv_accounts_handles_only.csv")], format="csv")
    assert counts(rep) == (2, 2, 0, 0)
    assert [(r["account_id"], r["handle"]) for r in rows(study, "accounts", "account_id")] == [
        ("carol", "carol"), ("dave", "dave")]


def test_unclear_header_is_a_schema_error_naming_the_fix(study):
    with pytest.raises(SchemaError) as e:
        study.ingest([str(DATA / "csv_renamed_columns.csv")], format="csv")
    msg = str(e.value)
    assert msg.startswith(str(DATA / "csv_renamed_columns.csv") + ":1: ")
    assert "tweet_id, user_id, timestamp, body" in msg and "--table posts|accounts" in msg and "--map" in msg


def test_missing_required_column_is_a_schema_error(study):
    with pytest.raises(SchemaError) as e:
        study.ingest([str(DATA / "csv_missing_column.csv")], format="csv")
    # header post_id, account_id, text: a posts file (post_id) without its time
    assert str(e.value) == (
        f"{DATA / 'csv_missing_column.csv'}:1: column created_at missing: a posts file needs post_id, "
        "account_id, created_at (found 3 columns: post_id, account_id, text); add --map COLUMN=created_at or "
        "--set created_at=VALUE, see docs/sources-tabular.md#fields-requirements-and-types")
    with pytest.raises(SchemaError, match="column 'nope' named in --map nope=post_id is not in the header"):
        study.ingest([str(DATA / "csv_missing_column.csv")], format="csv", mapping={"nope": "post_id"})


def test_missing_columns_of_a_wide_file_in_one_short_line(study, tmp_path):
    # 40 columns, none of them a likes field: both required columns are named once, the header is not
    # repeated in full
    f = tmp_path / "wide.csv"
    f.write_text(",".join(f"column_{i:02d}" for i in range(40)) + "\n" + ",".join("x" * 40) + "\n")
    with pytest.raises(SchemaError) as e:
        study.ingest([str(f)], format="csv", table="likes")
    detail = e.value.detail
    assert len(detail) <= 300, detail
    assert detail.startswith("columns account_id, post_id missing: a likes file needs account_id, post_id "
                             "(found 40 columns: column_00, ")
    assert "column_39" not in detail and "--map COLUMN=account_id" in detail


def test_likes_and_logins_only_when_named(study):
    (likes,) = study.ingest([str(DATA / "csv_likes.csv")], format="csv", table="likes")
    # u3 likes no post: quarantined; u2's like has no time, which likes allow
    assert counts(likes) == (3, 2, 1, 0) and likes["table"] == "likes"
    (logins,) = study.ingest([str(DATA / "csv_logins.csv")], format="csv", table="logins")
    # ts is part of the logins key: an unreadable one quarantines the row (line 4)
    assert counts(logins) == (3, 2, 1, 0)
    assert [q["line"] for q in quarantine(study)] == [4, 4]
    assert study.sql("SELECT count(*) AS n FROM engagements WHERE kind = 'like'").column("n")[0].as_py() == 2


def test_follows_csv(study):
    (rep,) = study.ingest([str(DATA / "csv_follows.csv")], format="csv", table="follows")
    # line 4 repeats line 2's follow (same follower and followed): a duplicate; a follow without a time is kept
    assert counts(rep) == (3, 2, 0, 1) and rep["table"] == "follows"
    got = study.sql("SELECT account_id, followed_id, created_at IS NULL AS no_time FROM follows "
                    "ORDER BY account_id").to_pylist()
    assert got == [{"account_id": "a1", "followed_id": "t1", "no_time": False},
                   {"account_id": "a2", "followed_id": "t1", "no_time": True}]


def test_status_csv_through_table_account_status(study):
    (rep,) = study.ingest([str(DATA / "status_accounts.csv")], format="csv", table="account_status")
    # 'banned' is no status and row 7 has none: 2 quarantined; the others through their synonyms
    assert counts(rep) == (8, 6, 2, 0)
    st = {r["account_id"]: (r["status"], r["checked_at"]) for r in rows(study, "account_status", "account_id")}
    day = dt.datetime(2021, 3, 1, tzinfo=UTC)
    assert st == {"1": ("suspended", day), "2": ("deleted", day), "3": ("active", day), "4": ("deleted", day),
                  "5": ("protected", day), "8": ("unknown", None)}
    q = quarantine(study)
    assert [(x["line"], x["field"]) for x in q] == [(7, "status"), (8, "status")]
    assert "'banned' cannot be read; expected active|suspended|deleted|protected|unknown" in q[0]["reason"]


def test_semicolon_delimiter_is_detected(study):
    (rep,) = study.ingest([str(DATA / "csv_semicolon.csv")], format="csv")
    assert counts(rep) == (2, 2, 0, 0)
    assert rows(study, "posts", "post_id")[0]["text"] == "one, with comma"


# ------------------------------------------------------------------------------------------ bad input
def test_line_numbers_count_quoted_newlines_and_blank_lines(study):
    # line 1 header; q1 spans lines 2-3, q2 lines 4-6, line 7 is blank; q3 (bad date) is on line 8; q4 line 9;
    # q5 (five fields) line 10; q6 spans 11-12; q7 (bad date) line 13
    for name in ("csv_quoted_newlines.csv", "csv_quoted_newlines_crlf.csv"):
        s = init_study(study.path.parent / name)
        (rep,) = s.ingest([str(DATA / name)], format="csv")
        assert counts(rep) == (7, 4, 3, 0)
        q = quarantine(s)
        assert [(x["line"], x["field"]) for x in q] == [(8, "created_at"), (10, None), (13, "created_at")]
        assert "too many columns" in q[1]["reason"] and q[1]["raw"].startswith("q5,a,")
        texts = {r["post_id"]: r["text"] for r in rows(s, "posts", "post_id")}
        nl = "\r\n" if "crlf" in name else "\n"
        assert texts["q2"] == f"three{nl}{nl}lines"


@pytest.mark.slow
def test_line_numbers_in_a_large_file_with_many_bad_rows(study, tmp_path):
    # 300,000 rows (several DuckDB batches and threads); every 7,919th row has a bad date, every 10,007th a
    # missing field, and every 50th text holds a newline, so physical lines drift from row numbers
    path = tmp_path / "big.csv"
    expected_bad: list[tuple[int, str | None]] = []
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("post_id,account_id,created_at,text\n")
        line = 2
        for i in range(300_000):
            when = "bad-date" if i % 7919 == 7918 else "2020-01-01 00:00"
            text = f'"t{i}\nsecond"' if i % 50 == 0 else f"t{i}"
            if i % 10007 == 10006:
                fh.write(f"b{i},a{i % 97},{when}\n")
                expected_bad.append((line, "text"))
            else:
                fh.write(f"b{i},a{i % 97},{when},{text}\n")
                if when == "bad-date":
                    expected_bad.append((line, "created_at"))
            line += 2 if i % 50 == 0 and i % 10007 != 10006 else 1
    (rep,) = study.ingest([str(path)], format="csv")
    assert rep["read"] == 300_000 and rep["quarantined"] == len(expected_bad)
    got = [(q["line"], q["field"]) for q in quarantine(study)]
    assert got == sorted(expected_bad)
    for q in quarantine(study):
        if q["field"] == "created_at":
            assert "'bad-date'" in q["reason"]


def test_truncated_file_quarantines_the_cut_record(study):
    (rep,) = study.ingest([str(DATA / "csv_truncated.csv")], format="csv")
    assert counts(rep) == (3, 2, 1, 0)
    (q,) = quarantine(study)
    assert q["line"] == 4 and "unterminated quote" in q["reason"] and "truncated" in q["reason"]


def test_short_row_is_quarantined(study):
    (rep,) = study.ingest([str(DATA / "csv_short_row.csv")], format="csv")
    assert counts(rep) == (3, 2, 1, 0)
    (q,) = quarantine(study)
    assert q["line"] == 3 and "missing columns" in q["reason"] and q["raw"] == "s2,a,2020-01-01"


def test_wrong_encoding_quarantines_the_row_and_encoding_option_reads_it(study, tmp_path):
    (rep,) = study.ingest([str(DATA / "csv_latin1.csv")], format="csv")
    assert counts(rep) == (3, 2, 1, 0)
    (q,) = quarantine(study)
    assert q["line"] == 3 and "not utf-8" in q["reason"].lower() and "latin-1" in q["reason"]
    other = init_study(tmp_path / "latin")
    (rep2,) = other.ingest([str(DATA / "csv_latin1.csv")], format="csv", options={"encoding": "latin-1"})
    assert counts(rep2) == (3, 3, 0, 0)
    assert rows(other, "posts", "post_id")[1]["text"] == "café crème"


def test_unparseable_dates_are_quarantined_with_reason(study):
    (rep,) = study.ingest([str(DATA / "csv_bad_dates.csv")], format="csv")
    # Feb 30, a day-first date, an empty time and 'soon' fail; only d4 loads
    assert counts(rep) == (5, 1, 4, 0)
    q = quarantine(study)
    assert [x["line"] for x in q] == [2, 3, 4, 6]
    assert "'2020-02-30 10:00' cannot be read; expected ISO 8601" in q[0]["reason"]
    assert q[2]["reason"] == "created_at is empty; every posts row needs it"


def test_mixed_timezones_become_one_utc_instant(study):
    (rep,) = study.ingest([str(DATA / "csv_mixed_timezones.csv")], format="csv")
    assert counts(rep) == (7, 7, 0, 0)
    # Z, +02:00, -0500, naive (taken as UTC), .000+00:00, -07:00, naive without seconds: all 12:00 UTC
    assert {r["created_at"] for r in rows(study, "posts", "post_id")} == {dt.datetime(2021, 6, 1, 12, tzinfo=UTC)}


def test_empty_file_is_one_clear_error(study):
    with pytest.raises(SourceError, match=r"csv_empty.csv: file is empty"):
        study.ingest([str(DATA / "csv_empty.csv")], format="csv")


def test_header_only_file_reads_nothing(study):
    (rep,) = study.ingest([str(DATA / "csv_header_only.csv")], format="csv")
    assert counts(rep) == (0, 0, 0, 0)


def test_duplicate_ids_are_counted_not_stored_twice(study):
    (rep,) = study.ingest([str(DATA / "csv_duplicate_ids.csv")], format="csv")
    # x1 and x2 appear twice: the first occurrence is kept
    assert counts(rep) == (5, 3, 0, 2)
    assert {r["post_id"]: r["text"] for r in rows(study, "posts", "post_id")} == {
        "x1": "one", "x2": "two", "x3": "three"}


def test_json_given_as_csv_is_one_clear_error(study):
    with pytest.raises(SourceError) as e:
        study.ingest([str(DATA / "csv_json_given_as_csv.csv")], format="csv")
    assert "holds JSON, not CSV" in str(e.value) and "--format twarc2" in str(e.value)
    assert study.info()["tables"]["posts"]["rows"] == 0


def test_gzip_and_zip_and_stdin_inputs(study, tmp_path, monkeypatch):
    gz = tmp_path / "posts.csv.gz"
    gz.write_bytes(gzip.compress((DATA / "csv_quoted_newlines.csv").read_bytes()))
    (rep,) = study.ingest([str(gz)], format="csv")
    # same counts and line numbers as the plain file: the line scan reads the decompressed bytes
    assert counts(rep) == (7, 4, 3, 0)
    assert [q["line"] for q in quarantine(study)] == [8, 10, 13]
    import io
    import sys
    import zipfile

    zp = tmp_path / "posts.zip"
    with zipfile.ZipFile(zp, "w") as z:
        z.write(DATA / "csv_duplicate_ids.csv", "inner/dups.csv")
    (rz,) = study.ingest([str(zp)], format="csv")
    assert counts(rz) == (5, 3, 0, 2) and rz["path"].endswith("!inner/dups.csv")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((DATA / "csv_mixed_timezones.csv").read_bytes())))
    (rs,) = study.ingest(["-"], format="csv")
    assert rs["path"] == "-" and counts(rs) == (7, 7, 0, 0)


# ------------------------------------------------------------------------------------------ parquet
def test_parquet_with_map_and_constant(study):
    mapping = {"content_id": "post_id", "object_id": "ref_post_id", "timestamp_share": "created_at"}
    (rep,) = study.ingest([str(DATA / "parquet_coortweet_like.parquet")], format="parquet", mapping=mapping,
                          options={"set": {"kind": "repost"}})
    # the 5th row has no account: quarantined, line = its 1-based row number in the Parquet file
    assert counts(rep) == (5, 4, 1, 0)
    p = {r["post_id"]: r for r in rows(study, "posts", "post_id")}
    assert p["c1"]["created_at"] == dt.datetime.fromtimestamp(1623881091, UTC)
    assert p["c1"]["kind"] == "repost" and p["c1"]["ref_post_id"] == "o1"
    (q,) = quarantine(study)
    assert q["line"] == 5 and q["field"] == "account_id"


def test_parquet_typed_columns(study):
    (rep,) = study.ingest([str(DATA / "parquet_posts_typed.parquet")])  # detected from PAR1
    assert rep["format"] == "parquet"
    assert counts(rep) == (3, 2, 1, 0)  # post 103 has no time
    p = {r["post_id"]: r for r in rows(study, "posts", "post_id")}
    assert p["101"]["created_at"] == dt.datetime(2022, 1, 1, 9, tzinfo=UTC)  # int64 id kept as a string
    assert p["101"]["hashtags"] == ["a", "b"] and p["102"]["hashtags"] == []
    assert p["101"]["like_count"] == 3 and p["102"]["like_count"] is None


# ------------------------------------------------------------------------------------------ sniffing
def test_sniff_scores():
    csv_head = (DATA / "csv_posts_canonical.csv").read_bytes()
    assert 0 < T.sniff_csv(csv_head, "x.csv") <= 0.4  # modest: JSON and io-archive sniffers win their files
    assert T.sniff_csv((DATA / "csv_json_given_as_csv.csv").read_bytes(), "x.csv") == 0
    assert T.sniff_csv(b'[{"a": 1}]', "x.json") == 0
    assert T.sniff_parquet((DATA / "parquet_posts_typed.parquet").read_bytes()[:100], "x") == 0.95
    assert T.sniff_csv((DATA / "parquet_posts_typed.parquet").read_bytes()[:100], "x.parquet") == 0


def test_detection_without_format(study):
    (rep,) = study.ingest([str(DATA / "csv_duplicate_ids.csv")])
    assert rep["format"] == "csv" and counts(rep) == (5, 3, 0, 2)


def test_csv_given_as_parquet_is_one_clear_error(study):
    with pytest.raises(SourceError, match="not a Parquet file"):
        study.ingest([str(DATA / "csv_duplicate_ids.csv")], format="parquet")


def test_value_helpers_sql():
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")

    def one(expr: str, value: str | None):
        return con.execute(f"SELECT {expr} AS x FROM (SELECT ?::VARCHAR AS v)", [value]).to_arrow_table() \
            .column("x")[0].as_py()

    assert one(V.bool_sql("v"), "Yes") is True and one(V.bool_sql("v"), " 0 ") is False
    assert one(V.bool_sql("v"), "maybe") is None
    assert one(V.int_sql("v"), "1,234") == 1234 and one(V.int_sql("v"), "7.0") == 7
    assert one(V.kind_sql("v"), "Quote_Tweet") == "quote" and one(V.kind_sql("v"), "zzz") is None
    assert one(V.status_sql("v"), " Not Found ") == "deleted"
    assert one(V.list_sql("v"), "a, b c") == ["a", "b", "c"]
    assert one(V.timestamp_sql("v"), "2009-01-07T04:38:02.250-03:00") == dt.datetime(
        2009, 1, 7, 7, 38, 2, 250000, tzinfo=UTC)


# ------------------------------------------------------------------------------------------ real data
IRA = SHARED / "ira-troll-tweets" / "ira_tweets_troll_categories.csv.gz"
PROFILES = SHARED / "ira-account-profiles" / "users.csv"
COORTWEET = SHARED / "coortweet" / "russian_coord_tweets.parquet"


@pytest.mark.slow
def test_real_ira_tweets_through_the_generic_reader(study):
    mapping = {"author_id": "account_id", "content": "text", "publish_date": "created_at", "retweet": "kind",
               "kind:1": "repost", "kind:0": "original", "language": "lang"}
    (rep,) = study.ingest([str(IRA)], format="csv", mapping=mapping)
    assert rep["table"] == "posts"  # inferred from text/kind, the file has no tweet id
    # 1,280,253 rows (PROVENANCE.md); every one is accounted for
    assert rep["read"] == 1_280_253
    assert rep["read"] == rep["loaded"] + rep["quarantined"] + rep["duplicates"]
    # posts have no id in this archive: the derived id hashes platform|account|time|text, so a tweet repeated
    # by the same account in the same minute with the same text is one post (the archive's times are to the
    # minute and its harvest repeated some tweets)
    assert rep["quarantined"] == 0
    assert rep["duplicates"] == 7_898  # 1,280,253 rows - 1,272,355 distinct (author, minute, text)
    n_accounts = study.sql("SELECT count(DISTINCT account_id) AS n FROM posts").column("n")[0].as_py()
    assert n_accounts == 1_102  # 1,102 authors (PROVENANCE.md)
    lo, hi = study.sql("SELECT min(created_at) AS lo, max(created_at) AS hi FROM posts").to_pylist()[0].values()
    assert lo.date() == dt.date(2012, 2, 6) and hi.date() == dt.date(2018, 5, 30)


def test_real_ira_profiles_inferred_as_accounts(study):
    mapping = {"id": "account_id", "screen_name": "handle", "friends_count": "following_count",
               "statuses_count": "posts_count", "name": "display_name", "lang": "language"}
    (rep,) = study.ingest([str(PROFILES)], format="csv", mapping=mapping)
    assert rep["table"] == "accounts"  # inferred from handle / followers_count
    assert counts(rep) == (454, 454, 0, 0)  # 454 profiles (PROVENANCE.md)
    a = study.sql("SELECT * FROM accounts WHERE account_id = '18710816'").to_pylist()[0]
    # first data row of users.csv: created_at in Twitter's format
    assert a["handle"] == "RobbyDelaware" and a["following_count"] == 670 and a["followers_count"] == 304
    assert a["created_at"] == dt.datetime(2009, 1, 7, 4, 38, 2, tzinfo=UTC)
    assert a["verified"] is False and a["posts_count"] == 11484


def test_real_coortweet_parquet_as_reposts(study):
    mapping = {"content_id": "post_id", "object_id": "ref_post_id", "timestamp_share": "created_at"}
    (rep,) = study.ingest([str(COORTWEET)], format="parquet", mapping=mapping, options={"set": {"kind": "repost"}})
    # 35,125 retweets (PROVENANCE.md), but 40 retweet ids (content_id) occur twice in the file -- one row is an
    # exact copy, the others repeat a retweet id with another object -- so 40 rows are duplicates of a post
    # already read (the first occurrence is kept)
    assert counts(rep) == (35_125, 35_085, 0, 40)
    agg = study.sql("SELECT count(DISTINCT ref_post_id) AS objects, count(DISTINCT account_id) AS accounts, "
                    "min(created_at) AS lo, max(created_at) AS hi FROM posts").to_pylist()[0]
    # 9,509 accounts as in PROVENANCE.md; 7,285 objects there, 30 of which appear only in the dropped repeats
    # (checked with DuckDB on the raw file: first row per content_id, 7,255 distinct object_id)
    assert agg["accounts"] == 9_509 and agg["objects"] == 7_255
    assert agg["lo"].date() == dt.date(2021, 1, 17) and agg["hi"].date() == dt.date(2021, 8, 30)
    # PROVENANCE.md: 3,627 rows retweet something that is itself in the file (cascades); 3,620 of them
    # survive the de-duplication (same raw-file check); for those the engagement latency is known
    e = study.sql("SELECT count(*) AS n FROM engagements WHERE latency_s IS NOT NULL").column("n")[0].as_py()
    assert e == 3_620


def test_damaged_gzip_is_one_clear_error(study, tmp_path):
    gz = tmp_path / "cut.csv.gz"
    whole = gzip.compress((DATA / "csv_duplicate_ids.csv").read_bytes() * 50)
    gz.write_bytes(whole[: len(whole) // 2])  # a download cut in half
    with pytest.raises(SourceError, match=r"cut.csv.gz: cannot read the file"):
        study.ingest([str(gz)], format="csv")
    assert study.info()["files"] == []


def test_bad_rows_spilled_to_disk_keep_their_lines(study, monkeypatch):
    # with a spill threshold of 1 row every bad row goes through a temporary Parquet file
    monkeypatch.setattr(E, "SPILL_ROWS", 1)
    (rep,) = study.ingest([str(DATA / "csv_bad_dates.csv")], format="csv")
    assert counts(rep) == (5, 1, 4, 0)
    assert [x["line"] for x in quarantine(study)] == [2, 3, 4, 6]


def test_progress_adds_up_to_the_file_size(study):
    events: list[dict] = []
    path = DATA / "csv_quoted_newlines.csv"
    study.ingest([str(path)], format="csv", progress=events.append)
    advanced = sum(e["bytes"] for e in events if e.get("event") == "advance")
    assert advanced == path.stat().st_size


class _FailingSink:
    """A sink that fails on its second batch, to check that an aborted read leaves DuckDB usable."""

    platform = "twitter"

    def __init__(self, con) -> None:
        self.options = {"mapping": {}, "table": None}
        self.con = con
        self.batches = 0

    def add(self, table, batch, *, primary):
        self.batches += 1
        if self.batches == 2:
            raise RuntimeError("disk full")

    def quarantine_batch(self, batch, *, primary=True):
        pass

    def duckdb(self):
        return self.con

    def progress(self, advance_bytes):
        pass


def test_aborted_read_stops_the_fetch_thread(tmp_path, monkeypatch):
    import duckdb

    from echoscope.sources.base import SourceFile

    monkeypatch.setattr(E, "BATCH_ROWS", 1000)
    path = tmp_path / "many.csv"
    path.write_text("post_id,account_id,created_at\n" + "".join(
        f"p{i},a,2020-01-01 00:00\n" for i in range(20_000)))
    con = duckdb.connect()
    src = SourceFile(path=str(path), opener=lambda: open(path, "rb"), local_path=str(path))  # noqa: SIM115
    with pytest.raises(RuntimeError, match="disk full"):
        T.read_csv(src, _FailingSink(con))
    import threading

    assert not any(t.name == "echoscope-tabular-fetch" for t in threading.enumerate())
    assert con.execute("SELECT 41 + 1").fetchall() == [(42,)]


def test_cli_status_csv_and_ingest_with_map_and_set(tmp_path):
    import json

    from typer.testing import CliRunner

    from echoscope.cli import app

    runner = CliRunner()
    study = tmp_path / "cli"
    assert runner.invoke(app, ["init", str(study)]).exit_code == 0
    r = runner.invoke(app, ["status", str(study), str(DATA / "status_accounts.csv"), "--format", "csv", "--json"])
    assert r.exit_code == 0, r.output
    (f,) = json.loads(r.stdout)["files"]
    assert (f["table"], f["read"], f["loaded"], f["quarantined"]) == ("account_status", 8, 6, 2)
    r = runner.invoke(app, ["ingest", str(study), str(DATA / "parquet_coortweet_like.parquet"), "--json",
                            "--map", "content_id=post_id", "--map", "object_id=ref_post_id",
                            "--map", "timestamp_share=created_at", "--set", "kind=repost"])
    assert r.exit_code == 0, r.output
    (f,) = json.loads(r.stdout)["files"]
    assert (f["format"], f["table"], f["loaded"]) == ("parquet", "posts", 4)
    r = runner.invoke(app, ["ingest", str(study), str(DATA / "csv_json_given_as_csv.csv"), "--format", "csv"])
    assert r.exit_code != 0 and "holds JSON, not CSV" in r.output

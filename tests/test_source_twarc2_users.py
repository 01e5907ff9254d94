"""The twarc2 user-lookup reader (account status) on real lookup output and hand-made error pages.

users.jsonl (real, see PROVENANCE.md) is one page: 96 users (91 distinct ids, one protected), 8 errors of
which one is about a user (id 93071130, "Could not find user") and 7 about pinned tweets.
tests/data/users_lookup_errors.jsonl follows the v2 error shapes: users 1, 2 (protected), 3 (default image);
errors: 4 suspended ("Forbidden"), 5 not found, 6 not authorised, @ghosthandle suspended but looked up by
username, and a pinned tweet 999 not found.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import echoscope
from echoscope.errors import SourceError
from echoscope.sources.status import error_status

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SAMPLES = HERE.parent.parent / "shared" / "data" / "twarc2-samples"
UTC = dt.UTC


@pytest.fixture
def study(tmp_path: Path) -> echoscope.Study:
    return echoscope.init_study(tmp_path / "s")


def ingest(study: echoscope.Study, *paths: Path, fmt: str | None = "twarc2-users") -> list[dict[str, Any]]:
    reports = study.ingest([str(p) for p in paths], format=fmt)
    for r in reports:
        assert r["read"] == r["loaded"] + r["quarantined"] + r["duplicates"], r
    return reports


def statuses(study: echoscope.Study) -> dict[str, dict[str, Any]]:
    return {s["account_id"]: s for s in study.sql("SELECT * FROM account_status").to_pylist()}


def test_real_lookup_page(study: echoscope.Study) -> None:
    (r,) = ingest(study, SAMPLES / "users.jsonl")
    # 96 users + 1 user error read; 5 users were asked for twice in the same lookup (duplicates)
    assert (r["table"], r["read"], r["loaded"], r["quarantined"], r["duplicates"]) == (
        "account_status", 97, 92, 0, 5)
    st = statuses(study)
    counts: dict[str, int] = {}
    for s in st.values():
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    assert counts == {"active": 90, "protected": 1, "deleted": 1}
    assert st["93071130"]["status"] == "deleted"
    checked = dt.datetime(2021, 10, 23, 19, 36, 18, tzinfo=UTC)  # __twarc.retrieved_at
    assert {s["checked_at"] for s in st.values()} == {checked}
    # the users are stored as account snapshots observed at the lookup (not counted)
    assert study.rows("accounts") == 91
    (a,) = study.sql("SELECT * FROM accounts WHERE account_id = '119369819'").to_pylist()
    assert (a["handle"], a["followers_count"], a["observed_at"]) == ("DoDirty78", 580, checked)


def test_lookup_errors(study: echoscope.Study) -> None:
    (r,) = ingest(study, DATA / "users_lookup_errors.jsonl")
    # 3 users + 3 id errors loaded; the username error is quarantined; the pinned-tweet error is not about an
    # account and is ignored
    assert (r["read"], r["loaded"], r["quarantined"]) == (7, 6, 1)
    assert {k: v["status"] for k, v in statuses(study).items()} == {
        "1": "active", "2": "protected", "3": "active", "4": "suspended", "5": "deleted", "6": "unknown"}
    (q,) = study.sql("SELECT field, reason FROM quarantine").to_pylist()
    assert q["field"] == "parameter" and "@ghosthandle" in q["reason"]
    acc = {a["account_id"]: a for a in study.sql("SELECT * FROM accounts").to_pylist()}
    assert set(acc) == {"1", "2", "3"} and acc["3"]["default_profile_image"] is True
    assert statuses(study)["4"]["checked_at"] == dt.datetime(2023, 3, 2, 8, 30, tzinfo=UTC)


def test_error_page_without_twarc_metadata(study: echoscope.Study) -> None:
    # {"errors": [suspended 4, not found 5]}, no __twarc: the check time is unknown and stays null
    (r,) = ingest(study, DATA / "users_only_errors_no_twarc.jsonl", fmt=None)
    assert (r["format"], r["read"], r["loaded"]) == ("twarc2-users", 2, 2)
    st = statuses(study)
    assert {k: (v["status"], v["checked_at"]) for k, v in st.items()} == {"4": ("suspended", None),
                                                                         "5": ("deleted", None)}


def test_flattened_users(study: echoscope.Study) -> None:
    (r,) = ingest(study, DATA / "users_flat.jsonl", fmt=None)
    assert (r["format"], r["read"], r["loaded"]) == ("twarc2-users", 2, 2)
    assert {k: v["status"] for k, v in statuses(study).items()} == {"7": "active", "8": "protected"}
    assert study.rows("accounts") == 2


def test_tweets_given_as_users(study: echoscope.Study) -> None:
    with pytest.raises(SourceError, match="--format twarc2"):
        study.ingest([str(SAMPLES / "2sets.jsonl")], format="twarc2-users")
    with pytest.raises(SourceError, match="compliance"):
        study.ingest([str(SAMPLES / "users_compliance.jsonl")], format="twarc2-users")


def test_error_status_rules() -> None:
    assert error_status({"detail": "User has been suspended: [x].", "title": "Forbidden",
                         "type": "https://api.twitter.com/2/problems/resource-not-found"}) == "suspended"
    assert error_status({"detail": "Could not find user with ids: [5].", "title": "Not Found Error",
                         "type": "https://api.twitter.com/2/problems/resource-not-found"}) == "deleted"
    assert error_status({"title": "Authorization Error",
                         "type": "https://api.twitter.com/2/problems/not-authorized-for-resource"}) == "unknown"


def test_a_tweet_page_among_lookups_is_quarantined_saying_what_reads_it(study: echoscope.Study,
                                                                        tmp_path: Path) -> None:
    # a lookup page, then a tweet page on line 2: quarantined with the lookup reader's own explanation
    # (it used to borrow the twarc2 reader's table and say only "this line is tweets")
    f = tmp_path / "mixed.jsonl"
    f.write_text('{"data": [{"id": "1", "username": "a"}]}\n{"data": [{"id": "9", "author_id": "1", "text": "t"}]}\n')
    (r,) = ingest(study, f)
    assert (r["read"], r["loaded"], r["quarantined"]) == (2, 1, 1)
    (q,) = study.sql("SELECT line, reason FROM quarantine").to_pylist()
    assert q == {"line": 2, "reason": "this line is a twarc2 tweet file, not a user lookup; ingest it with "
                                      "--format twarc2"}

"""The telegram reader on a small Telegram Desktop channel export (tests/data/telegram_result.json).

Messages: 1 service (not counted), 2 original with entities, 3 forward with forwarded_from_id, 4 forward with
only a name, 5 reply with only 'date' (read as UTC), 6 without any date (quarantined).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import echoscope.sources as sources
from echoscope.errors import SourceError
from echoscope.sources import telegram

sources.SOURCES.setdefault("telegram", "telegram:read_telegram")

DATA = Path(__file__).resolve().parent / "data"


def test_channel_export(study):
    [rep] = study.ingest([str(DATA / "telegram_result.json")], format="telegram")
    assert (rep["read"], rep["loaded"], rep["quarantined"]) == (5, 4, 1)
    posts = {r["post_id"]: r for r in study.sql("SELECT * FROM posts").to_pylist()}
    p2 = posts["1234567890:2"]
    assert p2["text"] == "Our position #diplomacy see statement @pressroom"
    assert (p2["hashtags"], p2["urls"], p2["mentions"]) == (["diplomacy"], ["https://example.org/statement"],
                                                            ["pressroom"])
    assert p2["created_at"].isoformat() == "2024-10-01T12:00:00+00:00"  # date_unixtime 1727784000
    assert (posts["1234567890:3"]["kind"], posts["1234567890:3"]["ref_account_id"]) == ("repost", "channel555")
    assert posts["1234567890:4"]["ref_account_id"] == "name:Some Blogger"  # the export names no id
    assert (posts["1234567890:5"]["kind"], posts["1234567890:5"]["ref_post_id"]) == ("reply", "1234567890:2")
    # forwards are amplification of the forwarded-from channel: they appear as its engagements
    eng = study.sql("SELECT subject_account_id, kind FROM engagements WHERE kind = 'repost' "
                    "ORDER BY subject_account_id").to_pylist()
    assert [e["subject_account_id"] for e in eng] == ["channel555", "name:Some Blogger"]
    acc = {r["account_id"]: r["display_name"] for r in study.sql("SELECT * FROM accounts").to_pylist()}
    assert acc["channel555"] == "State TV" and acc["channel1234567890"] == "Embassy Channel"


def test_not_an_export(tmp_path, study):
    f = tmp_path / "result.json"
    f.write_text('{"about": "something else"}')
    with pytest.raises(SourceError, match="not a Telegram Desktop export"):
        study.ingest([str(f)], format="telegram")


def test_sniff():
    assert telegram.sniff((DATA / "telegram_result.json").read_bytes()[:65536], "result.json") >= 0.9
    assert telegram.sniff(b'[{"id": 1}]', "x.json") == 0.0

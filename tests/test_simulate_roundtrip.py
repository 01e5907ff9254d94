"""Round trip: a simulated platform written in each input format and ingested again equals the study made
directly from the simulator, in everything the format can carry.

What a format cannot carry is named in each test: the IO archive has minute resolution and lists mentions as
user ids; twarc2 search output has no logins and no profile for an account that never posts and was
suspended or deleted (a user lookup returns an error, not a profile); no format stores repost text the way
the canonical table does (the simulator leaves it null; files carry ``RT @handle: ...``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import echoscope
from echoscope.simulate import make_config, simulate, write

POST_KEY = "post_id, account_id, kind, ref_post_id"
ENG_KEY = "engagement_id, actor_id, kind, subject_post_id, subject_account_id"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    base = tmp_path_factory.mktemp("roundtrip")
    p = simulate(make_config(accounts=3_000, engagements=15_000, seed=2))
    write(p, base / "direct", "study")
    return p, base, echoscope.open_study(base / "direct")


def _ingest(base: Path, fmt: str, p) -> echoscope.Study:
    files = base / fmt
    write(p, files, fmt)
    s = echoscope.init_study(base / f"study-{fmt}")
    data = sorted(str(f) for f in files.iterdir()
                  if not f.name.startswith(("truth_", "targets", "simulation", "logins")))
    reports = s.ingest(data)
    assert all(r["status"] == "ok" and r["quarantined"] == 0 for r in reports), reports
    if (files / "logins.csv").exists():
        # the tabular reader does not infer the logins table from its header: name it
        s.ingest([str(files / "logins.csv")], table="logins")
    return s


def _attach(s: echoscope.Study, direct: echoscope.Study) -> object:
    con = s.con().con
    for name in ("posts", "accounts", "account_status", "logins"):
        parts = ", ".join(f"'{x}'" for x in direct.parts(name))
        con.execute(f"CREATE OR REPLACE TEMP VIEW d_{name} AS SELECT * FROM read_parquet([{parts}])")
    return con


def _diff(con, a: str, b: str) -> tuple[int, int]:
    ab = con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0]
    ba = con.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchone()[0]
    return ab, ba


def _common_posts(con, minute: bool = False) -> None:
    t = "date_trunc('minute', created_at)" if minute else "created_at"
    assert _diff(con, f"SELECT {POST_KEY}, {t} FROM posts", f"SELECT {POST_KEY}, {t} FROM d_posts") == (0, 0)
    assert _diff(con, "SELECT post_id, text FROM posts WHERE kind <> 'repost'",
                 "SELECT post_id, text FROM d_posts WHERE kind <> 'repost'") == (0, 0)
    assert _diff(con, "SELECT post_id, hashtags, urls FROM posts",
                 "SELECT post_id, hashtags, urls FROM d_posts") == (0, 0)
    assert _diff(con, "SELECT post_id, lang, client, repost_count, reply_count, quote_count FROM posts",
                 "SELECT post_id, lang, client, repost_count, reply_count, quote_count FROM d_posts") == (0, 0)
    # the engagements view (the IO archive has no quoted author column: the view finds it through the post)
    for name, parts in (("d_engagements", "d_posts"),):
        con.execute(f"""CREATE OR REPLACE TEMP VIEW {name} AS SELECT p.post_id AS engagement_id,
            p.account_id AS actor_id, p.kind, p.ref_post_id AS subject_post_id,
            COALESCE(p.ref_account_id, x.account_id) AS subject_account_id
            FROM {parts} p LEFT JOIN {parts} x ON x.post_id = p.ref_post_id WHERE p.kind <> 'original'""")
    assert _diff(con, f"SELECT {ENG_KEY} FROM engagements", f"SELECT {ENG_KEY} FROM d_engagements") == (0, 0)
    assert con.execute("SELECT count(*) FROM engagements").fetchone()[0] == 15_000


@pytest.mark.slow
def test_generic_csv_roundtrip(sim):
    p, base, direct = sim
    s = _ingest(base, "csv", p)
    con = _attach(s, direct)
    _common_posts(con)
    assert _diff(con, "SELECT post_id, ref_account_id, mentions, like_count, text FROM posts",
                 "SELECT post_id, ref_account_id, mentions, like_count, text FROM d_posts") == (0, 0)
    # CSV cannot tell an empty bio from none: compare them as ''
    cols = ("account_id, handle, display_name, coalesce(description, ''), location, created_at, followers_count, "
            "following_count, posts_count, verified, profile_image_url, default_profile_image, language, "
            "affiliation_label, observed_at")
    assert _diff(con, f"SELECT {cols} FROM accounts", f"SELECT {cols} FROM d_accounts") == (0, 0)
    assert _diff(con, "SELECT account_id, status, checked_at FROM account_status",
                 "SELECT account_id, status, checked_at FROM d_account_status") == (0, 0)
    assert _diff(con, "SELECT account_id, ts, ip_hash, device_hash FROM logins",
                 "SELECT account_id, ts, ip_hash, device_hash FROM d_logins") == (0, 0)


@pytest.mark.slow
def test_twarc2_roundtrip(sim):
    p, base, direct = sim
    s = _ingest(base, "twarc2", p)
    con = _attach(s, direct)
    _common_posts(con)
    assert _diff(con, "SELECT post_id, ref_account_id, mentions, like_count FROM posts",
                 "SELECT post_id, ref_account_id, mentions, like_count FROM d_posts") == (0, 0)
    cols = ("account_id, handle, display_name, description, location, created_at, followers_count, "
            "following_count, posts_count, verified, profile_image_url, default_profile_image")
    # every account that posted, or that a status lookup returned as active, keeps its profile
    assert _diff(con, f"SELECT {cols} FROM accounts",
                 f"""SELECT {cols} FROM d_accounts WHERE account_id IN (SELECT account_id FROM d_posts)
                     OR account_id IN (SELECT account_id FROM d_account_status WHERE status = 'active')""") == (0, 0)
    assert _diff(con, "SELECT account_id, status, checked_at FROM account_status",
                 "SELECT account_id, status, checked_at FROM d_account_status") == (0, 0)


@pytest.mark.slow
def test_io_archive_roundtrip(sim):
    p, base, direct = sim
    s = _ingest(base, "io-archive", p)
    con = _attach(s, direct)
    _common_posts(con, minute=True)  # tweet_time has minute resolution
    # user_mentions are user ids in the archive: the replied-to author's id
    assert _diff(con, "SELECT post_id, mentions FROM posts WHERE kind = 'reply'",
                 "SELECT post_id, [ref_account_id] FROM d_posts WHERE kind = 'reply'") == (0, 0)
    cols = ("account_id, handle, display_name, coalesce(description, ''), location, followers_count, "
            "following_count, language")
    assert _diff(con, f"SELECT {cols}, created_at::DATE FROM accounts",
                 f"SELECT {cols}, created_at::DATE FROM d_accounts") == (0, 0)
    assert _diff(con, "SELECT account_id, status, checked_at FROM account_status",
                 "SELECT account_id, status, checked_at FROM d_account_status") == (0, 0)
    assert _diff(con, "SELECT account_id, ts, ip_hash, device_hash FROM logins",
                 "SELECT account_id, ts, ip_hash, device_hash FROM d_logins") == (0, 0)

"""Generate a synthetic X/Twitter information-operations archive (tweets CSV, optionally users CSV).

The file has the official 30 columns in the official order, hashed ids for small accounts and numeric ids for
large ones, list columns written as ``"[a, b]"``, times as ``YYYY-MM-DD HH:MM``, a share of retweets,
quotes and replies, and tweet texts with commas, doubled quotes and (rarely) embedded newlines -- the things
that make the real archive slow or awkward to parse. It is meant for ingest benchmarks (``--size-mb``) and
for tests that need many rows; it is deterministic for a given ``--seed``.

Usage::

    python benchmarks/gen_io_archive.py OUT.csv --size-mb 500 [--users OUT_users.csv] [--seed 1]
    python benchmarks/gen_io_archive.py OUT.csv --size-mb 500 --bench     # generate (if missing) and time

``--bench`` times the io-archive reader alone (into a sink that only counts what it is given, so parsing,
conversion and Arrow hand-over are measured) and the full ``Study.ingest`` (reader + staging + dedup + commit),
and reports MB/s of uncompressed input and the peak resident memory of this process (including DuckDB).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import os
import random
import sys
from pathlib import Path

TWEET_COLUMNS = (
    "tweetid", "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count",
    "account_creation_date", "account_language", "tweet_language", "tweet_text", "tweet_time",
    "tweet_client_name", "in_reply_to_userid", "in_reply_to_tweetid", "quoted_tweet_tweetid", "is_retweet",
    "retweet_userid", "retweet_tweetid", "latitude", "longitude", "quote_count", "reply_count", "like_count",
    "retweet_count", "hashtags", "urls", "user_mentions",
)
USER_COLUMNS = (
    "userid", "user_display_name", "user_screen_name", "user_reported_location", "user_profile_description",
    "user_profile_url", "follower_count", "following_count", "account_creation_date", "account_language",
)

WORDS = ("the", "people", "truth", "news", "media", "vote", "today", "west", "lies", "friends", "great",
         "country", "watch", "now", "shocking", "video", "must", "see", "share", "why", "they", "hide")
TAGS = ("news", "politics", "MH17", "Ukraine", "USA", "election", "breaking", "world", "truth")
CLIENTS = ("Twitter Web Client", "Twitter for Android", "Twitter for iPhone", "TweetDeck", "IFTTT")
LOCS = ("", "Moscow", "USA", "New York, NY", "Berlin", "", "Kyiv")


def _uid(rng: random.Random, i: int) -> str:
    # small accounts are hashed (64 hex chars) in the archive; larger ones keep numeric ids
    if i % 5 == 0:
        return str(100_000_000 + i * 7919)
    return hashlib.sha256(f"user{i}".encode()).hexdigest()


def generate(out: Path, size_mb: float, *, seed: int = 1, users_out: Path | None = None,
             n_users: int = 5000) -> int:
    """Write a tweets CSV of about ``size_mb`` megabytes (10^6 bytes); returns the number of tweet rows."""
    rng = random.Random(seed)
    users = []
    for i in range(n_users):
        created = dt.date(2009, 1, 1) + dt.timedelta(days=rng.randrange(3000))
        users.append((_uid(rng, i), f"Name {i}", f"user_{i}", rng.choice(LOCS),
                      f"bio of user {i}, \"patriot\"" if i % 3 else "", "" if i % 4 else f"https://u{i}.example",
                      str(rng.randrange(0, 20000)), str(rng.randrange(0, 5000)), created.isoformat(),
                      rng.choice(("en", "ru", "de"))))
    if users_out is not None:
        with open(users_out, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(USER_COLUMNS)
            w.writerows(users)
    target = int(size_mb * 1_000_000)
    start = dt.datetime(2016, 1, 1)
    rows = 0
    recent: list[tuple[str, str]] = [("700000000000000000", users[0][0])]
    with open(out, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(TWEET_COLUMNS)
        written = fh.tell()
        buf: list[tuple[str, ...]] = []
        while written < target:
            for _ in range(2000):
                u = users[rng.randrange(n_users)]
                tid = str(700_000_000_000_000_000 + rows)
                t = start + dt.timedelta(seconds=rows * 7 + rng.randrange(60))
                r = rng.random()
                words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 22)))
                tags = rng.sample(TAGS, rng.randrange(0, 3))
                text = words + "".join(f" #{h}" for h in tags)
                if rows % 11 == 0:
                    text += ', "quoted" words'
                if rows % 97 == 0:
                    text += "\nsecond line"
                reply_u = reply_t = quoted = rt_u = rt_t = ""
                is_rt = "false"
                if r < 0.45:
                    rt_t, rt_u = rng.choice(recent)
                    is_rt = "true"
                    text = "RT @x: " + text
                elif r < 0.55:
                    quoted = rng.choice(recent)[0]
                elif r < 0.65:
                    reply_t, reply_u = rng.choice(recent)
                else:
                    recent.append((tid, u[0]))
                    if len(recent) > 500:
                        recent.pop(0)
                urls = f"[https://t.co/{rows:x}]" if rows % 3 == 0 else "[]"
                ments = f"[{rng.choice(users)[0]}]" if rows % 4 == 0 else "[]"
                buf.append((tid, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
                            rng.choice(("en", "ru", "und")), text, t.strftime("%Y-%m-%d %H:%M"),
                            rng.choice(CLIENTS), reply_u, reply_t, quoted, is_rt, rt_u, rt_t, "absent", "absent",
                            str(rng.randrange(5)), str(rng.randrange(5)), str(rng.randrange(50)),
                            str(rng.randrange(50)), "[" + ", ".join(tags) + "]", urls, ments))
                rows += 1
            w.writerows(buf)
            buf.clear()
            written = fh.tell()
    return rows


class _CountingSink:
    """An IngestSink that only counts rows: measures the reader without staging or commit."""

    def __init__(self, con: object) -> None:
        self.platform = "twitter"
        self.options: dict[str, object] = {}
        self.rows: dict[str, int] = {}
        self.quarantined = 0
        self._con = con

    def add(self, table: str, batch: object, *, primary: bool) -> None:
        self.rows[table] = self.rows.get(table, 0) + batch.num_rows  # type: ignore[attr-defined]

    def quarantine(self, **kw: object) -> None:
        self.quarantined += 1

    def quarantine_batch(self, batch: object, *, primary: bool = True) -> None:
        self.quarantined += batch.num_rows  # type: ignore[attr-defined]

    def duckdb(self) -> object:
        return self._con

    def progress(self, advance_bytes: int) -> None:
        pass


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench(path: Path) -> dict[str, float]:
    """Time the reader alone and the full ingest on ``path``; returns the figures."""
    import tempfile
    import time

    import duckdb

    from echoscope.settings import configure_duckdb
    from echoscope.sources.base import SourceFile
    from echoscope.sources.io_archive import read_io_archive
    from echoscope.study import init_study

    size = path.stat().st_size
    out: dict[str, float] = {"mb": size / 1e6}
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect()
        configure_duckdb(con, stage="ingest", temp_directory=tmp)
        sink = _CountingSink(con)
        src = SourceFile(path=str(path), opener=lambda: open(path, "rb"), local_path=str(path))  # noqa: SIM115
        src.materialise = lambda: str(path)
        t = time.perf_counter()
        c = time.process_time()
        read_io_archive(src, sink)  # type: ignore[arg-type]
        dt_read = time.perf_counter() - t
        out["reader_cpu_s"] = time.process_time() - c
        con.close()
        out.update(reader_s=dt_read, reader_mb_s=size / 1e6 / dt_read, rows=sink.rows.get("posts", 0),
                   reader_peak_rss_mb=_peak_rss_mb())
        study = init_study(Path(tmp) / "study")
        t = time.perf_counter()
        c = time.process_time()
        rep = study.ingest([str(path)], format="io-archive")
        dt_ingest = time.perf_counter() - t
        out["ingest_cpu_s"] = time.process_time() - c
        out.update(ingest_s=dt_ingest, ingest_mb_s=size / 1e6 / dt_ingest, loaded=rep[0]["loaded"],
                   ingest_peak_rss_mb=_peak_rss_mb())
    out["load_average_1min"] = os.getloadavg()[0]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size-mb", type=float, default=500.0)
    ap.add_argument("--users", type=Path, default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bench", action="store_true", help="time the reader and the full ingest on OUT")
    a = ap.parse_args(argv)
    if not (a.bench and a.out.exists()):
        n = generate(a.out, a.size_mb, seed=a.seed, users_out=a.users)
        sys.stderr.write(f"{a.out}: {n:,} tweets, {a.out.stat().st_size / 1e6:.1f} MB\n")
    if a.bench:
        import json

        print(json.dumps(bench(a.out), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Live Bluesky collection against the local replay server (127.0.0.1 only, bounded, stops by itself).

The reference for "the collected study equals the served events" is a second study that ingests the same
events from a recorded JSONL file with the jetstream reader: both must hold exactly the same rows.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

import echoscope
import echoscope.sources as sources
from echoscope.collect.bluesky import BlueskyCollector, backoff_delay, subscribe_url
from echoscope.collect.profiles import ProfileResolver
from echoscope.collect.replay import FaultPlan, ReplayServer, simulate_events
from echoscope.collect.store import CollectStore
from echoscope.errors import ConfigError, SourceError

sources.SOURCES.setdefault("jetstream", "jetstream:read_jetstream")

TARGETS = ["did:plc:target0", "did:plc:target1", "did:plc:target2"]
TABLES = {"posts": "post_id", "likes": "account_id, post_id", "accounts": "account_id",
          "account_status": "account_id, checked_at, status"}


def reference(tmp_path: Path, events: list[dict], targets: list[str] | None) -> echoscope.Study:
    """A study made by ingesting ``events`` as a recorded file (the expected result)."""
    f = tmp_path / "served.jsonl"
    f.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    ref = echoscope.init_study(tmp_path / "reference")
    ref.ingest([str(f)], format="jetstream", options={"targets": targets})
    return ref


def rows(study: echoscope.Study, table: str, upto: int | None = None) -> list[dict]:
    cols = {"posts": "platform, post_id, account_id, created_at, kind, ref_post_id, ref_account_id, text, lang, "
                     "urls, hashtags, mentions",
            "likes": "platform, account_id, post_id, created_at",
            "accounts": "platform, account_id, handle, display_name, description",
            "account_status": "platform, account_id, status, checked_at"}[table]
    tcol = {"accounts": "observed_at", "account_status": "checked_at"}.get(table, "created_at")
    where = "" if upto is None else f" WHERE epoch_us({tcol}) <= {upto}"
    return study.sql(f"SELECT {cols} FROM {table}{where} ORDER BY {TABLES[table]}").to_pylist()


def assert_same(collected: echoscope.Study, ref: echoscope.Study, upto: int | None = None) -> None:
    for table in TABLES:
        got, want = rows(collected, table, upto), rows(ref, table, upto)
        assert len(got) == len(want), f"{table}: {len(got)} rows collected, {len(want)} served"
        assert got == want, f"{table} differs"
    # no duplicate keys can hide behind equal counts: keys are unique in the collected study
    n, k = collected.sql("SELECT count(*) n, count(DISTINCT post_id) k FROM posts").to_pylist()[0].values()
    assert n == k


@pytest.mark.slow
def test_faults_no_loss_no_duplicates(tmp_path):
    events = simulate_events(6_000, seed=7, step_us=300)
    plan = FaultPlan(drop_at={1_000}, stall_at={3_500}, stall_s=1.5,
                     malformed_at={500: "this is not json", 4_000: '{"did": 1, "time_us": "x"}'},
                     refuse_first=1)
    study = echoscope.init_study(tmp_path / "live")
    srv = ReplayServer(events, faults=plan, max_seconds=90, pace=3_000)  # paced: the restart lands mid-stream
    srv.start()
    port = srv.port
    col = BlueskyCollector(study, targets=TARGETS, endpoint=srv.url, cursor=0, until_us=events[-1]["time_us"],
                           batch_events=700, batch_seconds=0.3, idle_timeout=0.8, backoff_base=0.05,
                           backoff_cap=0.5, max_retries=30, compact_every=4)
    import threading

    result: dict = {}
    th = threading.Thread(target=lambda: result.update(col.run()))
    th.start()
    # restart the server (same port) once it has sent about 4,600 frames: in-flight frames are lost on the wire
    deadline = time.monotonic() + 60
    while srv.sent < 4_600 and time.monotonic() < deadline and th.is_alive():
        time.sleep(0.01)
    srv.stop()
    srv2 = ReplayServer(events, port=port, max_seconds=60)
    srv2.start()
    th.join(90)
    srv2.stop()
    assert not th.is_alive()
    # refused once, dropped once, stalled once (idle timeout), restarted once: >= 4 reconnects
    assert result["reconnects"] >= 4
    assert result["quarantined"] == 2  # both malformed frames, each kept with its reason
    assert len((study.path / "collect" / "bluesky-quarantine.jsonl").read_text().splitlines()) == 2
    assert study.manifest().files()[-1]["path"] == "collect:bluesky"
    assert_same(study, reference(tmp_path, events, TARGETS))
    assert study.info()["reconciled"]
    assert result["cursor"] == events[-1]["time_us"]


class CrashingStore(CollectStore):
    """Dies right after the 3rd batch is committed, before its cursor is saved (the worst moment)."""

    def _save_state(self, cursor, extra):
        if self.commits == 2 and cursor is not None and not getattr(self, "_crashed", False):
            self._crashed = True
            raise RuntimeError("simulated crash between commit and cursor save")
        super()._save_state(cursor, extra)


@pytest.mark.slow
def test_crash_between_commit_and_cursor_save_resumes_without_gap_or_duplicate(tmp_path):
    events = simulate_events(4_000, seed=11)
    study = echoscope.init_study(tmp_path / "live")
    with ReplayServer(events, max_seconds=60) as srv:
        store = CrashingStore(study, "bluesky", platform="bluesky")
        col = BlueskyCollector(study, targets=None, endpoint=srv.url, cursor=0, store=store, batch_events=500,
                               batch_seconds=10, until_us=events[-1]["time_us"], backoff_base=0.05)
        with pytest.raises(RuntimeError, match="simulated crash"):
            col.run()
        saved = CollectStore(study, "bluesky", platform="bluesky").cursor
        committed = study.sql("SELECT max(epoch_us(created_at)) m FROM posts").to_pylist()[0]["m"]
        assert saved is not None and committed > saved  # rows of the 3rd batch are in, its cursor is not
        col2 = BlueskyCollector(study, targets=None, endpoint=srv.url, batch_events=500, batch_seconds=10,
                                until_us=events[-1]["time_us"], backoff_base=0.05)
        assert col2.cursor == saved  # resumes from the saved cursor
        stats = col2.run()
    assert stats["duplicates"] > 0  # the 3rd batch was received again and dropped by key
    assert_same(study, reference(tmp_path, events, None))


#: the collect commands alone (the full CLI imports every capability; this test is about collection only)
APP = ("import typer; from echoscope.cli.collect import register; app = typer.Typer(); register(app); "
       "app.command('noop')(lambda: None); app()")


@pytest.mark.slow
def test_ctrl_c_commits_and_saves_cursor(tmp_path):
    events = simulate_events(15_000, seed=3)
    study = echoscope.init_study(tmp_path / "live")
    with ReplayServer(events, max_seconds=60, pace=3_000) as srv:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-c", APP, "collect", "bluesky",
             str(study.path), "--all", "--offline", "--endpoint", srv.url, "--cursor", "0",
             "--batch-seconds", "0.5", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        while srv.sent < 2_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the writer process gets it too
        out, errs = proc.communicate(timeout=60)
    assert proc.returncode == 0, errs.decode()
    stats = orjson.loads(out)
    assert stats["interrupted"] is True
    cursor = CollectStore(study, "bluesky", platform="bluesky").cursor
    assert cursor == stats["cursor"]
    assert events[0]["time_us"] < cursor < events[-1]["time_us"]
    # the study holds exactly the served events up to the saved cursor: nothing received was lost
    prefix = [e for e in events if e["time_us"] <= cursor]
    ref = reference(tmp_path, prefix, None)
    assert_same(study, ref)


def test_unreachable_endpoint_gives_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    study = echoscope.init_study(tmp_path / "s")
    col = BlueskyCollector(study, targets=None, endpoint=f"ws://127.0.0.1:{port}/subscribe", max_retries=2,
                           backoff_base=0.01, writer="thread")
    with pytest.raises(SourceError, match="unreachable or refusing after 2 attempts"):
        col.run()


def test_cli_refusing_endpoint_exits_with_one_line(tmp_path, cli):
    study = echoscope.init_study(tmp_path / "s")
    with ReplayServer([], faults=FaultPlan(refuse_first=100), max_seconds=20) as srv:
        res = cli("collect", "bluesky", study.path, "--all", "--offline", "--endpoint", srv.url,
                  "--max-retries", "1", "--quiet")
    assert res.exit_code == 1
    assert "InvalidStatus" in res.stderr and "503" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_targets_need_dids_offline(tmp_path, cli):
    study = echoscope.init_study(tmp_path / "s")
    res = cli("collect", "bluesky", study.path, "--targets", "@someone.bsky.social", "--offline",
              "--endpoint", "ws://127.0.0.1:9/subscribe")
    assert res.exit_code == 2 and "cannot resolve @someone.bsky.social" in res.stderr
    res = cli("collect", "bluesky", study.path, "--offline", "--endpoint", "http://x")
    assert res.exit_code == 2  # no targets at all


def test_profiles_resolved_once_and_cached_in_accounts(tmp_path):
    events = simulate_events(1_500, seed=5, accounts=50)
    asked: list[str] = []

    def fake_fetch(dids: list[str]) -> list[dict]:
        assert len(dids) <= 25  # getProfiles takes at most 25 actors
        asked.extend(dids)
        return [{"account_id": d, "handle": d.split(":")[-1] + ".test", "followers_count": 3,
                 "created_at": "2024-08-01T00:00:00Z", "labels": []} for d in dids]

    study = echoscope.init_study(tmp_path / "s")
    with ReplayServer(events, max_seconds=60) as srv:
        for run in range(2):
            res = ProfileResolver(study, fake_fetch, interval=0.2)
            col = BlueskyCollector(study, targets=TARGETS, endpoint=srv.url, cursor=0, resolver=res,
                                   until_us=events[-1]["time_us"], batch_events=300, writer="thread")
            col.run()
            if run == 0:  # the final batch's accounts are resolved in the run that saw them, not the next
                first = set(asked)
                seen = {r["a"] for r in study.sql("SELECT DISTINCT account_id a FROM posts UNION "
                                                  "SELECT DISTINCT account_id FROM likes").to_pylist()}
                assert seen <= first
    engagers = {r["a"] for r in study.sql("SELECT DISTINCT account_id a FROM posts UNION "
                                          "SELECT DISTINCT account_id FROM likes").to_pylist()}
    # every engaging account was asked for exactly once across both runs (the second run found them all in
    # the study's accounts table); follows add followers who did nothing else
    assert engagers <= set(asked)
    assert len(asked) == len(set(asked))
    got = study.sql("SELECT account_id, handle, followers_count FROM accounts WHERE handle LIKE '%.test'").to_pylist()
    assert {r["account_id"] for r in got} == set(asked)


def test_profile_wanted_again_while_fetched_is_not_fetched_twice(tmp_path):
    # the writer wants a batch's DIDs while a round is fetching them and before their profiles are committed:
    # the next round must not ask for them again
    import queue

    asked: list[str] = []
    res: ProfileResolver

    def fetch(dids: list[str]) -> list[dict]:
        asked.extend(dids)
        res.want(dids + ["did:plc:new"])  # concurrently wanted again, plus one new account
        return [{"account_id": d, "handle": "h.test", "followers_count": 1, "created_at": None, "labels": []}
                for d in dids]

    res = ProfileResolver(echoscope.init_study(tmp_path / "s"), fetch, interval=3600)
    res._q = queue.Queue()  # nothing drains it: the profiles are never committed, as in the race
    res.want(["did:plc:a", "did:plc:b"])
    assert res.round() == 2
    assert res.round() == 1 and asked == ["did:plc:a", "did:plc:b", "did:plc:new"]
    assert res.round() == 0


def test_compaction_keeps_rows_and_folds_manifest(tmp_path):
    import pyarrow as pa

    study = echoscope.init_study(tmp_path / "s")
    store = CollectStore(study, "bluesky", platform="bluesky", compact_every=0)
    for i in range(12):
        t = pa.table({"post_id": [f"p{i}-{j}" for j in range(5)], "account_id": ["a"] * 5,
                      "created_at": pa.array([i * 10 + j for j in range(5)], pa.int64()).cast(
                          pa.timestamp("us", "UTC"))})
        store.commit({"posts": t}, cursor=i)
    assert len(study.parts("posts")) == 12
    merged = store.compact()
    assert merged == {"posts": 12}
    assert len(study.parts("posts")) == 1 and "part-c1-" in study.parts("posts")[0]
    assert study.rows("posts") == 60 and study.sql("SELECT count(*) n FROM posts").to_pylist()[0]["n"] == 60
    files = [f for f in study.manifest().files() if f["path"] == "collect:bluesky"]
    assert len(files) == 1 and files[0]["loaded"] == 60 and files[0]["commits"] == 12
    assert study.info()["reconciled"]
    assert store.cursor == 11


def test_url_and_backoff():
    u = subscribe_url("ws://127.0.0.1:1/subscribe?cursor=5", cursor=7, collections=["a.b"])
    assert u == "ws://127.0.0.1:1/subscribe?wantedCollections=a.b&cursor=7"
    with pytest.raises(ConfigError):
        subscribe_url("http://x", cursor=None)
    rng = random.Random(0)
    delays = [backoff_delay(a, base=0.5, cap=60, rng=rng) for a in range(12)]
    assert 0.25 <= delays[0] <= 0.5 and 0.5 <= delays[1] <= 1.0  # half to all of base * 2**attempt
    assert max(delays) <= 60 and delays[-1] >= 30  # capped

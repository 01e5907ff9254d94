"""Every ``echoscope ...`` command shown in README.md and docs/*.md runs, as written, against a small study.

A command in the docs that cannot run as written is a docs bug. This module reads every fenced code block of
README.md and docs/*.md (not docs/cli.md: that is ``--help`` output, checked by test_docs.py), takes each line
that starts with ``echoscope`` (continued by a trailing ``\\`` or by indented lines), and runs it in-process
through the CLI in a fresh copy of a working directory that holds what the docs name:

* ``mystudy`` (also written ``STUDY`` or ``s``): a small study built once per module (:func:`build_study`),
  with targets in two groups, coordinated accounts ``@account_a`` and ``@account_b``, account status, likes
  and logins, on which measure, coordinate and score have already run (so explain, report and export find
  results); ``init`` gets a directory where no study is yet;
* the input files under the names the docs use (``users.csv``, ``export.csv``, ``lookups.jsonl``, ...),
  copied from tests/data (:data:`INPUTS`), or excerpts of ../shared/data for the recipes of the real datasets
  (those cases need the real data, like every real-data test);
* placeholders of a synopsis get values (:data:`PLACEHOLDERS`); ``[optional]`` parts are run both without
  and with, and ``a|b`` alternatives each once;
* what must differ from the text is listed, with its reason: simulator sizes shrink to the simulator's
  minimum (:data:`SMALLER`), network addresses point to local servers (the collect tests' Jetstream replay
  server, a local Bluesky XRPC and Mastodon API, a local webhook), and commands that run until stopped get
  the documented option that stops them (:data:`STOP`).

Every command must exit 0 (or the code in :data:`EXPECTED_EXIT`). :data:`EXCEPTIONS` lists the commands that
cannot run as written yet, each with its reason -- only documentation pages of other owners waiting for a fix.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import gzip
import json
import random
import re
import shlex
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pytest

import echoscope
from echoscope import schema as S

from .conftest import FIXTURES, ROOT, shared

pytestmark = pytest.mark.xdist_group("docs_commands")  # one worker builds the study once

PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md")]

#: synopsis placeholders -> values (by the option before them when the same word means different things)
PLACEHOLDERS: dict[str, str] = {
    "STUDY": "mystudy", "s": "mystudy", "OUT": "out", "FILE": "labels.csv", "G": "diplomats",
    "NAME": "superspreaders", "VAR": "ECHOSCOPE_DOCS_KEY", "S": "7", "N": "5", "M": "10000",
    "@handle": "@account_a", "ID": "{run}",  # {run}: the prepared study's coordination run
}
PLACEHOLDERS_AFTER: dict[tuple[str, str], str] = {
    ("--images", "DIR"): "images", ("-o", "DIR"): "exports", ("--out", "DIR"): "demo-out",
    ("--since", "YYYY-MM-DD"): "2020-06-01", ("--until", "YYYY-MM-DD"): "2020-06-30",
    ("--confounder", "NAME"): "fandoms", ("--risk-threshold", "SCORE"): "0.7", ("--high-risk-threshold", "X"): "0.7",
}
#: the docs show realistic sizes (or leave the defaults: 20,000 accounts, 200,000 engagements); the test runs
#: the simulator's minimum (it refuses less), adding the option when the command leaves it out
SMALLER: dict[str, dict[str, str]] = {"simulate": {"--accounts": "2000", "--engagements": "10000"}}
#: commands that run until stopped get the documented option that stops them
STOP: dict[str, list[str]] = {"watch": ["--ticks", "1"], "collect mastodon": ["--rounds", "1"]}
#: addresses of machines the test does not have -> local stand-ins (a Spark cluster -> local Spark, an S3
#: bucket -> a synced copy of the study on disk, the Mastodon instance and webhook -> local servers)
LOCAL: dict[str, str] = {"spark://head-node:7077": "local[2]", "s3a://my-bucket/studies/mystudy": "{bucket}",
                         "https://mastodon.social": "{mastodon}", "https://...": "{webhook}"}
#: commands that serve until Ctrl-C, with the tests that run them instead (the listed exception the brief allows)
UNTIL_CTRL_C: dict[str, str] = {"serve": "a web server that runs until Ctrl-C; tests/test_explorer.py and "
                                         "tests/test_explorer_browser.py start it and browse it"}
#: commands whose variants run once, with every option (the reason: each run is long)
ONCE: dict[str, str] = {"demo": "simulates 10,000 accounts and 100,000 engagements (~30-60 s a run); the run "
                                "with every option covers the one without"}
#: slow cases (> 10 s on 2 cores), marked so but still run (the Spark commands: test_docs_spark_commands_run)
SLOW = ("demo",)
#: documented exit codes other than 0
EXPECTED_EXIT: dict[str, int] = {}
#: commands (page:line) that cannot run as written, with the reason; only other owners' pages, until fixed
EXCEPTIONS: dict[str, str] = {}

#: input files the docs name -> fixture to copy (``.gz`` names are gzipped copies); page-specific first
INPUTS: dict[str, Path] = {
    "data/*.jsonl.gz": FIXTURES / "twarc2_kinds.jsonl",
    "users.csv": FIXTURES / "io_users.csv",
    "tweets.csv": FIXTURES / "io_tweets.csv",
    "export.csv": FIXTURES / "csv_posts_mapped.csv",  # columns id,user,time,... as the README's --map names
    "lookups.jsonl": FIXTURES / "users_flat.jsonl",
    "lookups.csv": FIXTURES / "status_accounts.csv",
    "firehose-2024-09.jsonl": FIXTURES / "jetstream_sample.jsonl",
    "result.json": FIXTURES / "telegram_result.json",
    "posts.csv": FIXTURES / "coortweet_multimodal" / "posts.csv",  # the gathered multimodal posts (phash column)
}
#: excerpts of the real datasets for the recipes of docs/sources-tabular.md: (file in ../shared/data, lines)
REAL_INPUTS: dict[str, dict[str, tuple[str, int]]] = {
    "sources-tabular.md": {
        "ira_tweets_troll_categories.csv.gz": ("ira-troll-tweets/ira_tweets_troll_categories.csv.gz", 300),
        "users.csv": ("ira-account-profiles/users.csv", 50),
        "russian_coord_tweets.parquet": ("coortweet/russian_coord_tweets.parquet", 500),
    },
}


# ------------------------------------------------------------------------------------------ the docs' commands
@dataclasses.dataclass(frozen=True)
class DocCommand:
    page: str  # README.md, docs/live.md ...
    line: int
    text: str  # as written, continuation lines joined, comment removed
    variant: str  # "as written", "without [optional]", "with [optional], alternative 2" ...
    args: tuple[str, ...]  # after placeholders (still with globs, before local addresses)

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}:{self.variant}"


def _commands_of(page: Path) -> Iterator[tuple[int, str]]:
    """``(line, command)`` for every ``echoscope`` line of the page's fenced code blocks."""
    lines = page.read_text(encoding="utf-8").splitlines()
    fenced = False
    i = 0
    while i < len(lines):
        raw = lines[i]
        if raw.lstrip().startswith("```"):
            fenced = not fenced
            i += 1
            continue
        if fenced and raw.strip().startswith("echoscope "):
            start, text = i + 1, _uncomment(raw.strip())
            indent = len(raw) - len(raw.lstrip())
            while i + 1 < len(lines) and _continues(text, indent, lines[i + 1]):
                text = text.rstrip("\\").rstrip() + " " + _uncomment(lines[i + 1].strip())
                i += 1
            # a shell pipeline: the echoscope part runs (its stdout is what the next program reads)
            yield start, re.split(r"\s\|\s", text.rstrip("\\").strip())[0].strip()
        i += 1


def _continues(text: str, indent: int, nxt: str) -> bool:
    """Does ``nxt`` continue the command ``text``: after a trailing backslash, or indented further (a synopsis
    wrapped by hand)?"""
    return text.endswith("\\") or (len(nxt) - len(nxt.lstrip()) > indent and nxt.strip() != ""
                                    and not nxt.strip().startswith(("#", "```", "echoscope ")))


def _uncomment(line: str) -> str:
    """The line without a trailing ``# comment`` (a ``#`` after whitespace, outside quotes)."""
    quote = None
    for k, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and k and line[k - 1].isspace():
            return line[:k].rstrip()
    return line


def _variants(text: str) -> list[tuple[str, str]]:
    """``(variant name, command)``: without the ``[optional]`` parts, and with them once per ``a|b``
    alternative (each alternative of every choice is run once)."""
    bare = re.sub(r"\s*\[[^\]]*\]", "", text)
    full = re.sub(r"\[([^\]]*)\]", r"\1", text)
    alts = max([len(t.split("|")) for t in full.split() if "|" in t] or [1])

    def pick(cmd: str, k: int) -> str:
        return " ".join(t.split("|")[k % len(t.split("|"))] if "|" in t else t for t in cmd.split())

    out = []
    if bare != text:
        out.append(("without [optional]", pick(bare, 0)))
    for k in range(alts):
        name = ("as written" if bare == text else "with [optional]") + (f", alternative {k + 1}" if alts > 1 else "")
        out.append((name, pick(full, k)))
    return out


def _substitute(tokens: list[str]) -> list[str]:
    out: list[str] = []
    smaller = SMALLER.get(tokens[0], {})
    for t in tokens:
        prev = out[-1] if out else ""
        if t == "...":
            continue
        if prev in smaller:
            t = smaller[prev]
        elif (prev, t) in PLACEHOLDERS_AFTER:
            t = PLACEHOLDERS_AFTER[(prev, t)]
        elif t in PLACEHOLDERS:
            t = PLACEHOLDERS[t]
        out.append(t)
    for option, value in smaller.items():
        if option not in out:
            out += [option, value]
    return out


def doc_commands() -> list[DocCommand]:
    found = []
    for page in PAGES:
        rel = str(page.relative_to(ROOT))
        for line, text in _commands_of(page):
            variants = _variants(text)
            if text.split()[1] in ONCE:
                variants = variants[-1:]
            for variant, cmd in variants:
                tokens = shlex.split(cmd)
                assert tokens[0] == "echoscope"
                found.append(DocCommand(rel, line, text, variant, tuple(_substitute(tokens[1:]))))
    return found


COMMANDS = doc_commands()


def test_the_docs_show_commands_of_every_kind():
    # the extraction itself: the README's whole tour and every page's examples are found (a parser that
    # found nothing would make the test below pass vacuously)
    pages = {c.page for c in COMMANDS}
    assert {"README.md", "docs/live.md", "docs/coordination.md", "docs/report.md", "docs/simulator.md",
            "docs/accounts.md", "docs/measures.md", "docs/sources-tabular.md"} <= pages
    firsts = {c.args[0] for c in COMMANDS}
    assert {"init", "ingest", "targets", "status", "info", "measure", "coordinate", "explain", "score", "report",
            "export", "collect", "watch", "simulate", "demo", "clusters", "account", "runs", "serve"} <= firsts
    readme = [c for c in COMMANDS if c.page == "README.md"]
    assert len({c.line for c in readme}) == 21
    # a synopsis gives a run without its optional parts and one per alternative
    export = [c.args for c in COMMANDS if c.page == "docs/report.md" and c.args[0] == "export"]
    assert {a[a.index("--to") + 1] for a in export} == {"gexf", "graphml", "gephi-csv", "parquet", "csv", "json"}


# ------------------------------------------------------------------------------------------ the small study
T0 = dt.datetime(2020, 6, 1, 8, 0, tzinfo=dt.timezone.utc)
TARGETS = {"1": ("handle1", "diplomats"), "2": ("handle2", "diplomats"), "3": ("media1", "state media")}
COORDINATED = {"101": "account_a", "102": "account_b", "103": "account_c", "104": "account_d"}
FANS = {str(200 + i): f"fan{i}" for i in range(30)}


def build_study(path: Path) -> echoscope.Study:
    """Three targets in two groups post 8 times each over four weeks. Four coordinated accounts
    (``account_a``..``d``, created the same day, default images, shared IP) repost every post 2-9 s after it
    and reply with the same text, link and hashtags; 30 organic fans repost, reply and like some posts minutes
    to hours later. account_c is later suspended, account_d deleted. About 500 engagements."""
    rng = random.Random(5)
    acc = {**{k: v[0] for k, v in TARGETS.items()}, **COORDINATED, **FANS}
    accounts = pa.table({
        "platform": ["twitter"] * len(acc), "account_id": list(acc), "handle": list(acc.values()),
        "created_at": pa.array([dt.datetime(2020, 5, 20, tzinfo=dt.timezone.utc) if k in COORDINATED
                                else dt.datetime(2012 + int(k) % 7, 3, 1, tzinfo=dt.timezone.utc) for k in acc], S.TS),
        "followers_count": [3 if k in COORDINATED else 50 + 7 * int(k) for k in acc],
        "following_count": [900 if k in COORDINATED else 80 for k in acc],
        "default_profile_image": [k in COORDINATED for k in acc],
    })
    posts: list[dict] = []
    likes: list[dict] = []

    def post(pid: str, aid: str, t: dt.datetime, kind: str, ref: str | None = None, text: str | None = None,
             urls: list[str] | None = None, tags: list[str] | None = None) -> None:
        posts.append({"platform": "twitter", "post_id": pid, "account_id": aid, "created_at": t, "kind": kind,
                      "ref_post_id": ref, "text": text, "urls": urls or [], "hashtags": tags or []})

    for tid in TARGETS:
        for k in range(8):
            t = T0 + dt.timedelta(days=3.5 * k, hours=int(tid))
            pid = f"p{tid}-{k}"
            post(pid, tid, t, "original", text=f"statement {k} of {tid}")
            for j, aid in enumerate(COORDINATED):
                post(f"rt{aid}-{pid}", aid, t + dt.timedelta(seconds=2 + 2 * j + rng.random()), "repost", pid)
                post(f"re{aid}-{pid}", aid, t + dt.timedelta(seconds=30 + j), "reply", pid,
                     text="The truth about the embassy! Read it here #friendship #truth",
                     urls=["https://example.org/story"], tags=["friendship", "truth"])
            for fid in rng.sample(sorted(FANS), 8):
                late = t + dt.timedelta(minutes=rng.randint(5, 600))
                if rng.random() < 0.5:
                    post(f"rt{fid}-{pid}", fid, late, "repost", pid)
                else:
                    likes.append({"platform": "twitter", "account_id": fid, "post_id": pid, "created_at": late})
            post(f"re-fan-{pid}", rng.choice(sorted(FANS)), t + dt.timedelta(hours=2), "reply", pid,
                 text=f"my own view on {k}")
    status = pa.table({"platform": ["twitter"] * 3, "account_id": ["103", "104", "101"],
                       "status": ["suspended", "deleted", "active"],
                       "checked_at": pa.array([dt.datetime(2021, 3, 1, tzinfo=dt.timezone.utc)] * 3, S.TS)})
    logins = pa.table({"platform": ["twitter"] * 4, "account_id": ["101", "102", "101", "102"],
                       "ts": pa.array([T0, T0, T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=1)], S.TS),
                       "ip_hash": ["ip1", "ip1", "ip2", "ip2"], "device_hash": ["d1", "d2", "d3", "d4"]})
    study = echoscope.init_study(path)
    study.load_arrow({"accounts": accounts, "posts": pa.Table.from_pylist(posts),
                      "likes": pa.Table.from_pylist(likes), "account_status": status, "logins": logins},
                     name="docs-study", platform="twitter")
    from echoscope.store.targets import add_targets

    add_targets(study, [(tid, None, group, None) for tid, (_, group) in TARGETS.items()])
    return study


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The working directory every command starts from: ``mystudy`` analysed, plus labels and an image folder."""
    from typer.testing import CliRunner

    from echoscope.cli import app

    root = tmp_path_factory.mktemp("docs-commands")
    study = build_study(root / "mystudy")
    runner = CliRunner()
    # coordinate and score first: measure's coordinated and high-risk shares read their results
    for args in (["coordinate", study.path], ["score", study.path], ["measure", study.path]):
        res = runner.invoke(app, [str(a) for a in args])
        assert res.exit_code == 0, f"preparing the study: {args[0]}: {res.stderr}"
    # labels for --mode supervised: the coordinated accounts are campaign accounts, the fans organic
    (root / "labels.csv").write_text("account_id,label\n" + "".join(
        f"{k},{1 if k in COORDINATED else 0}\n" for k in [*COORDINATED, *FANS]))
    (root / "images").mkdir()  # --images: a folder of profile images (none downloaded)
    (root / "targets.csv").write_text("handle,group\nhandle1,diplomats\nmedia1,state media\n")
    return root


# ------------------------------------------------------------------------------------------ local servers
class _Xrpc(BaseHTTPRequestHandler):
    """Bluesky's public API as far as collect needs it: resolveHandle and getProfiles."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path.endswith("/com.atproto.identity.resolveHandle"):
            body = {"did": {"a.bsky.social": "did:plc:target0", "embassy.bsky.social": "did:plc:target1"}.get(
                q["handle"][0], "did:plc:target2")}
        elif url.path.endswith("/app.bsky.actor.getProfiles"):
            body = {"profiles": [{"did": d, "handle": d.rsplit(":", 1)[-1] + ".bsky.social"}
                                 for d in q.get("actors", [])]}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Webhook(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()


class _QuietServer(ThreadingHTTPServer):
    """The local stand-in servers: a client that hung up (a timeout and retry on a loaded machine) is not an
    error of the command under test; socketserver would print its traceback into the command's stderr."""

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    """Local stand-ins for every address the docs name (127.0.0.1 only, stopped with the module)."""
    from echoscope.collect.replay import ReplayServer, simulate_events

    from .test_collect_mastodon import ROUTES, Api

    events = simulate_events(400, seed=3, accounts=60)
    replay = ReplayServer(events, max_seconds=3600)
    replay.start()
    https = [_QuietServer(("127.0.0.1", 0), h) for h in (_Xrpc, Api, _Webhook)]
    for srv in https:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    xrpc, mastodon, hook = (f"http://127.0.0.1:{s.server_port}" for s in https)
    ROUTES["/api/v1/instance"]["urls"]["streaming_api"] = mastodon
    yield {"jetstream": replay.url, "until": str(events[-1]["time_us"]), "xrpc": xrpc + "/xrpc",
           "mastodon": mastodon, "webhook": hook + "/hook"}
    replay.stop()
    for srv in https:
        srv.shutdown()
        srv.server_close()


def localise(args: list[str], srv: dict[str, str]) -> list[str]:
    """Point addresses at local stand-ins (:data:`LOCAL`) and stop what runs until stopped (:data:`STOP`);
    everything else stays as written."""
    args = [LOCAL[a].format(**srv) if a in LOCAL else a.format(**srv) if a.startswith("{") else a for a in args]
    key = " ".join(args[:2]) if args[0] == "collect" else args[0]
    if key == "collect bluesky":
        args += ["--endpoint", srv["jetstream"], "--api", srv["xrpc"], "--cursor", "0", "--until", srv["until"]]
    return args + STOP.get(key, [])


# ------------------------------------------------------------------------------------------ running them
def _inputs_for(cmd: DocCommand, work: Path) -> None:
    """Put the files the command reads into ``work`` under the names the docs use."""
    page = Path(cmd.page).name
    for arg in cmd.args:
        if page in REAL_INPUTS and arg in REAL_INPUTS[page]:
            rel, n = REAL_INPUTS[page][arg]
            _excerpt(shared(*rel.split("/")), work / arg, n)
        elif arg in INPUTS:
            src, dst = INPUTS[arg], work / arg.replace("*", "sample")
            dst.parent.mkdir(parents=True, exist_ok=True)
            if dst.suffix == ".gz":
                dst.write_bytes(gzip.compress(src.read_bytes()))
            else:
                shutil.copy(src, dst)


def _excerpt(src: Path, dst: Path, n: int) -> None:
    """The first ``n`` records of a real dataset (never the whole file: the test stays fast)."""
    if src.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(pq.read_table(src).slice(0, n), dst)
        return
    import csv
    import io

    opener = gzip.open if src.suffix == ".gz" else open
    buf = io.StringIO()
    with opener(src, "rt", encoding="utf-8", newline="") as fh:  # whole records: texts may hold newlines
        csv.writer(buf, lineterminator="\n").writerows(row for _, row in zip(range(n + 1), csv.reader(fh)))
    data = buf.getvalue().encode()
    dst.write_bytes(gzip.compress(data) if dst.suffix == ".gz" else data)


def _spark(cmd: DocCommand) -> bool:
    return "--engine spark" in " ".join(cmd.args)


SPARK_COMMANDS = [c for c in COMMANDS if _spark(c)]
OTHER_COMMANDS = [c for c in COMMANDS if not _spark(c)]


def _param(cmd: DocCommand) -> object:
    return pytest.param(cmd, marks=pytest.mark.slow) if any(m in " ".join(cmd.args) for m in SLOW) else cmd


def run_doc_command(cmd: DocCommand, template: Path, servers: dict[str, str], work: Path,
                    monkeypatch: pytest.MonkeyPatch, cli) -> None:
    """Run ``cmd`` in ``work`` (a fresh copy of ``template``) and check its exit code and output."""
    where = f"{cmd.page}:{cmd.line}"
    if where in EXCEPTIONS:
        pytest.skip(f"known docs bug, listed with its reason: {EXCEPTIONS[where]}")
    if cmd.args[0] in UNTIL_CTRL_C:
        pytest.skip(f"runs until stopped: {UNTIL_CTRL_C[cmd.args[0]]}")
    shutil.copytree(template, work)
    if cmd.args[0] == "init":
        shutil.rmtree(work / "mystudy")  # init makes the study
    _inputs_for(cmd, work)
    if any("s3a://" in a for a in cmd.args):  # the study synced to the "bucket" (parts are immutable)
        shutil.copytree(work / "mystudy", work / "bucket" / "studies" / "mystudy")
    monkeypatch.chdir(work)
    monkeypatch.setenv("ECHOSCOPE_DOCS_KEY", "a documentation key of 32 chars!")
    monkeypatch.setenv("MASTODON_TOKEN", "local-test-token")
    args: list[str] = []
    run = echoscope.open_study(work / "mystudy").manifest().runs("coordination")[-1]["id"] \
        if (work / "mystudy").exists() else None
    local = {**servers, "bucket": (work / "bucket/studies/mystudy").as_uri(), "run": run}
    for a in localise(list(cmd.args), local):
        args += sorted(glob.glob(a)) if any(ch in a for ch in "*?") else [a]  # the shell's glob
    res = cli(*args)
    expected = EXPECTED_EXIT.get(cmd.args[0], 0)
    assert res.exit_code == expected, (f"{where} ({cmd.variant}): `echoscope {' '.join(args)}` exited "
                                       f"{res.exit_code}, expected {expected}: {res.stderr.strip()[-800:]}")
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr
    if "--json" in args and cmd.args[0] not in ("watch",):
        json.loads(res.stdout)  # --json means JSON on stdout
    elif "--json" in args:
        [json.loads(x) for x in res.stdout.splitlines()]  # watch: JSON Lines


@pytest.mark.parametrize("cmd", [_param(c) for c in OTHER_COMMANDS], ids=[c.id for c in OTHER_COMMANDS])
def test_docs_command_runs(cmd: DocCommand, template: Path, servers: dict[str, str], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch, cli) -> None:
    run_doc_command(cmd, template, servers, tmp_path / "work", monkeypatch, cli)


@pytest.mark.slow
def test_docs_spark_commands_run(template: Path, servers: dict[str, str], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch, cli) -> None:
    """The Spark commands in one test, so that one process (one JVM, started once) runs them all: a local
    Spark session takes ~30-80 s to start on 2 cores and each command ~20-150 s more (Spark's per-stage
    overhead on a small study; the busier the machine, the longer)."""
    assert {c.page for c in SPARK_COMMANDS} >= {"docs/measures.md", "docs/scale-out.md"}
    for k, cmd in enumerate(SPARK_COMMANDS):
        with monkeypatch.context() as mp:
            run_doc_command(cmd, template, servers, tmp_path / f"work{k}", mp, cli)


def test_real_data_excerpts_exist_for_every_recipe():
    # the recipes' files are excerpts of ../shared/data; each one the docs name is there (else the recipes
    # would silently run on nothing)
    names = {a for c in COMMANDS if Path(c.page).name in REAL_INPUTS for a in c.args}
    for page, files in REAL_INPUTS.items():
        assert set(files) <= names, f"{page} no longer names {set(files) - names}"

"""``echoscope clusters``, ``echoscope account`` and ``echoscope serve`` through Typer's CliRunner, on the planted
study of tests/test_findings.py (six bots reposting @ambassador's 12 statements 3 s apart: one cluster)."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from .test_findings import N_BOTS, N_STATEMENTS, planted_tables, write_scores


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import echoscope
    from echoscope.coordination import CoordParams, coordinate

    s = echoscope.init_study(tmp_path_factory.mktemp("cli-explore") / "study")
    s.load_arrow(planted_tables())
    s.set_targets(pa.table({"account_id": ["target"], "handle": ["ambassador"], "group": ["diplomats"],
                            "label": pa.array([None], pa.string())}))
    coordinate(s, CoordParams(behaviours=("co-retweet",), window=60, reps=20))
    write_scores(s)
    return s


def test_clusters_json_has_ids_and_handles(cli, study):
    r = cli("clusters", study.path, "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"total", "offset", "limit", "run", "clusters"} <= set(doc) and doc["total"] == 1
    c = doc["clusters"][0]
    assert {"cluster_id", "size", "behaviours", "p_value", "p_value_text", "targets", "share_suspended",
            "first_activity", "last_activity", "members", "members_more"} <= set(c)
    # machine output: every member by id and handle, all of them (6 of 6)
    assert sorted((m["account_id"], m["handle"]) for m in c["members"]) == \
        [(f"bot{b}", f"Bot_{b}") for b in range(N_BOTS)]
    assert c["targets"] == [{"handle": "ambassador", "account_id": None, "engagements": 72}]
    assert c["p_value"] is not None and c["p_value_text"] != "0"


def test_clusters_table_reads_handles_not_ids(cli, study):
    r = cli("clusters", study.path)
    assert r.exit_code == 0, r.stderr
    assert "coordinated clusters (1-1 of 1)" in r.stdout
    assert "@Bot_0" in r.stdout and "@ambassador (72)" in r.stdout and "50%" in r.stdout
    assert "bot0" not in r.stdout  # people read handles
    assert "not proof of inauthenticity" in r.stdout
    # paging past the end says so instead of printing an empty table
    r = cli("clusters", study.path, "--offset", "5")
    assert r.exit_code == 0 and "no coordinated clusters" in r.stdout


def test_account_json_shape(cli, study):
    r = cli("account", study.path, "@Bot_0", "--json")
    assert r.exit_code == 0, r.stderr
    a = json.loads(r.stdout)
    assert a["account_id"] == "bot0" and a["handle"] == "Bot_0"
    assert {"profile", "status", "score", "cluster", "partners", "coactions", "targets", "posts", "runs",
            "missing"} <= set(a)
    assert a["cluster"]["cluster_id"] == 1 and len(a["partners"]) == N_BOTS - 1
    ev = a["coactions"]["evidence"][0]
    assert {"account_a", "handle_a", "account_b", "handle_b", "post_id", "post_author_handle", "post_text",
            "time_a", "time_b", "gap_s", "summary_text"} <= set(ev)
    assert ev["post_author_handle"] == "ambassador" and ev["gap_s"] == 3.0
    assert a["targets"][0]["engagements"] == N_STATEMENTS


def test_account_terminal_output_in_words(cli, study):
    r = cli("account", study.path, "@bot_1", "--coactions", "2")
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert "@Bot_1" in out and "(id bot1)" in out and "status active" in out
    assert "score 0.90 HIGH RISK" in out and "3 followers" in out
    assert "cluster 1: 6 accounts, judged coordinated" in out
    # the closest co-actions: bot 1 reposts 3 s after bot 0 and 3 s before bot 2 on each statement
    assert 'reposted a post by @ambassador ("statement' in out and "3 s apart" in out
    assert "targets it amplified" in out and "recent posts" in out


def test_unknown_handle_is_a_one_line_error(cli, study):
    r = cli("account", study.path, "@nobody")
    assert r.exit_code == 2
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "no handle '@nobody'" in r.stderr


def test_no_coordination_results_name_the_command(cli, tmp_path):
    import echoscope

    s = echoscope.init_study(tmp_path / "bare")
    r = cli("clusters", s.path)
    assert r.exit_code == 1 and len(r.stderr.strip().splitlines()) == 1
    assert "no coordination results yet" in r.stderr and "echoscope coordinate" in r.stderr


def test_run_option(cli, study):
    assert cli("clusters", study.path, "--run", "latest", "--json").exit_code == 0
    r = cli("account", study.path, "@Bot_0", "--run", "c-19990101-nothing")
    assert r.exit_code == 2 and "no stored run with that id" in r.stderr


def test_serve_refuses_other_hosts(cli, study):
    r = cli("serve", study.path, "--host", "0.0.0.0")
    assert r.exit_code == 2 and "not a loopback address" in r.stderr
    r = cli("serve", study.path, "--host", "example.org")
    assert r.exit_code == 2 and "serves only on loopback" in r.stderr


def test_serve_command_serves_until_interrupted(study):
    # the real command in a subprocess: it says where it listens, answers, and stops on Ctrl-C (SIGINT)
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-c", "from echoscope.cli import main; main()", "serve",
                             str(study.path), "--port", "0"], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stderr.readline()  # printed once the server listens
        m = re.search(r"at (http://127\.0\.0\.1:\d+/) \(read-only", line)
        assert m, line
        with urllib.request.urlopen(m.group(1) + "clusters") as r:
            body = r.read().decode()
        assert r.status == 200 and "@Bot_0" in body
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    assert proc.returncode in (0, 130)

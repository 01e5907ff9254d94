"""The command line, through Typer's CliRunner: contracts of --json outputs, exit codes, stderr messages."""

from __future__ import annotations

import json

import pyarrow as pa

import echoscope
from echoscope import schema as S

from .test_study import posts


def test_init_info_json_contract_on_an_empty_study(cli, tmp_path):
    r = cli("init", tmp_path / "s")
    assert r.exit_code == 0, r.output
    r = cli("info", tmp_path / "s", "--json")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    # the documented, stable keys
    for t in ("posts", "accounts", "engagements", "account_status", "likes", "targets", "quarantine"):
        assert doc["tables"][t]["rows"] == 0
    assert doc["files"] == [] and doc["reconciled"] is True


def test_info_json_counts_files_and_engagements(cli, study):
    study.load_arrow({"posts": posts([("1", "a", 0, "original", None), ("2", "b", 5, "repost", "1"),
                                      ("2", "b", 5, "repost", "1")])}, name="sim.jsonl")
    doc = json.loads(cli("info", study.path, "--json").stdout)
    assert doc["tables"]["posts"]["rows"] == 2
    assert doc["tables"]["engagements"]["rows"] == 1  # the repost; never the original
    f = doc["files"][0]
    assert (f["path"], f["read"], f["loaded"], f["quarantined"], f["duplicates"]) == ("sim.jsonl", 3, 2, 0, 1)
    human = cli("info", study.path)
    assert human.exit_code == 0 and "counts reconcile" in human.stdout


def test_errors_are_one_line_on_stderr_with_nonzero_exit(cli, tmp_path):
    r = cli("info", tmp_path / "missing")
    assert r.exit_code == 1
    assert r.stdout == "" and len(r.stderr.strip().splitlines()) == 1 and "not an echoscope study" in r.stderr
    cli("init", tmp_path / "s")
    r = cli("ingest", tmp_path / "s", tmp_path / "nope.jsonl")
    assert r.exit_code == 1 and "nope.jsonl" in r.stderr and "no such file" in r.stderr
    r = cli("ingest", tmp_path / "s", tmp_path / "nope.jsonl", "--format", "excel")
    assert r.exit_code == 2 and "unknown format 'excel'" in r.stderr and "twarc2" in r.stderr
    r = cli("ingest", tmp_path / "s", tmp_path / "nope.jsonl", "--format", "csv", "--table", "tweets")
    assert r.exit_code == 2 and "--table 'tweets'" in r.stderr
    r = cli("targets", "add", tmp_path / "s")
    assert r.exit_code == 2 and "--from-file" in r.stderr


def test_targets_add_list_remove_and_from_file(cli, study, tmp_path):
    r = cli("targets", "add", study.path, "@AmbLiu", "@ChinaDaily", "--group", "diplomats")
    assert r.exit_code == 0
    f = tmp_path / "targets.csv"
    f.write_text("handle,group,label\n@XHNews,state media,China state-affiliated media\nChinaDaily,state media,\n")
    assert cli("targets", "add", study.path, "--from-file", f).exit_code == 0
    rows = json.loads(cli("targets", "list", study.path, "--json").stdout)["targets"]
    by = {r["handle"]: r for r in rows}
    assert set(by) == {"AmbLiu", "ChinaDaily", "XHNews"}
    assert by["ChinaDaily"]["group"] == "state media"  # updated by the file, not duplicated
    assert by["XHNews"]["label"] == "China state-affiliated media"
    assert json.loads(cli("targets", "remove", study.path, "@amblIU", "--json").stdout) == {"removed": 1}
    bad = tmp_path / "bad.csv"
    bad.write_text("name,group\nx,y\n")
    r = cli("targets", "add", study.path, "--from-file", bad)
    assert r.exit_code == 1 and "bad.csv:1" in r.stderr and "'account_id' or 'handle'" in r.stderr


def test_ingest_reads_stdin_and_reports_json(cli, study):
    data = "post_id,account_id,created_at,kind\n1,a,2020-01-01T00:00:00Z,original\n2,b,2020-01-01T00:00:09Z,repost\n"
    r = cli("ingest", study.path, "-", "--format", "csv", "--json", input=data)
    assert r.exit_code == 0, r.stderr
    files = json.loads(r.stdout)["files"]
    assert files[0]["path"] == "-" and files[0]["loaded"] == 2
    assert echoscope.open_study(study.path).rows("posts") == 2


def test_status_command_fills_account_status(cli, study, tmp_path):
    f = tmp_path / "status.csv"
    f.write_text("account_id,status,checked_at\n1,suspended,2021-03-01T00:00:00Z\n2,active,2021-03-01T00:00:00Z\n")
    r = cli("status", study.path, f, "--format", "csv", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["files"][0]["loaded"] == 2
    rows = echoscope.open_study(study.path).to_arrow("account_status").to_pylist()
    assert sorted((r["account_id"], r["status"]) for r in rows) == [("1", "suspended"), ("2", "active")]


def test_formats_lists_every_registered_reader(cli):
    from echoscope.sources import SOURCES

    names = {f["name"] for f in json.loads(cli("formats", "--json").stdout)["formats"]}
    assert names == set(SOURCES)


def test_load_arrow_rejects_nothing_silently(study):
    # a table with an extra column and a missing one: extra dropped, missing null, row kept
    t = pa.table({"post_id": ["9"], "account_id": ["z"], "bogus": [1],
                  "created_at": pa.array([None], S.TS)})
    study.load_arrow({"posts": t})
    row = study.to_arrow("posts").to_pylist()[0]
    assert row["post_id"] == "9" and row["kind"] is None and "bogus" not in row

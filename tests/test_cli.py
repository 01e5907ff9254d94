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


# ------------------------------------------------------------------------------- targets: one per account
def fourteen_accounts(study) -> None:
    """14 accounts t1..t14 (ids 101..114) with 2 posts each; account e{j} reposts every post of t{j} and the
    one after it (so each target gets 2 posts x 2 reposters = 4 engagements, 56 in all)."""
    acc = pa.table({"account_id": [str(100 + i) for i in range(1, 15)], "handle": [f"t{i}" for i in range(1, 15)]})
    rows = []
    for i in range(1, 15):
        for k in range(2):
            rows.append((f"p{i}-{k}", str(100 + i), 1000 * i + k, "original", None))
            for j in (i, i % 14 + 1):
                rows.append((f"r{i}-{k}-{j}", f"e{j}", 1000 * i + k + 5, "repost", f"p{i}-{k}"))
    study.load_arrow({"accounts": acc, "posts": posts(rows)}, name="fourteen")


def test_targets_added_by_handle_then_by_id_from_a_file_are_one_target_each(cli, study, tmp_path):
    # the reported bug: 7 targets added by handle, then all 14 accounts by id from a CSV gave 21 (or, with the
    # accounts ingested in between, 16 for 14) targets and doubled every per-target count
    fourteen_accounts(study)
    assert cli("targets", "add", study.path, *[f"@t{i}" for i in range(1, 8)], "--group", "diplomats").exit_code == 0
    f = tmp_path / "targets.csv"
    f.write_text("account_id,group\n" + "".join(f"{100 + i},diplomats\n" for i in range(1, 15)))
    r = cli("targets", "add", study.path, "--from-file", f, "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == {"added": 14, "targets": 14}  # 14 rows stored, not 21
    rows = json.loads(cli("targets", "list", study.path, "--json").stdout)["targets"]
    assert len(rows) == 14
    assert sorted((r["account_id"], r["handle"]) for r in rows) == sorted(
        (str(100 + i), f"t{i}") for i in range(1, 15))  # each with both its id and its handle
    # the study-wide and group rows count each engagement once: 14 targets x 4 engagements = 56
    doc = json.loads(cli("measure", study.path, "--json").stdout)
    whole = {r["scope"]: r for r in doc["rows"] if r["week"] is None and r["scope"] in ("study", "group")}
    assert whole["study"]["targets"] == 14 and whole["study"]["engagements"] == 56
    assert whole["group"]["engagements"] == 56
    per_target = [r for r in doc["rows"] if r["week"] is None and r["scope"] == "target"]
    assert len(per_target) == 14 and {r["engagements"] for r in per_target} == {4}


def test_a_handle_target_named_before_its_account_is_ingested_counts_once(cli, study, tmp_path):
    # @t1 is added while the study has not seen the account, then by id; the ingest that follows tells the
    # view that both rows are the same account (the stored rows cannot know it yet)
    assert cli("targets", "add", study.path, "@t1").exit_code == 0
    assert cli("targets", "add", study.path, "101", "--group", "diplomats").exit_code == 0
    fourteen_accounts(study)
    rows = json.loads(cli("targets", "list", study.path, "--json").stdout)["targets"]
    assert rows == [{"account_id": "101", "handle": "t1", "group": "diplomats", "label": None}]
    doc = json.loads(cli("measure", study.path, "--json").stdout)
    study_row = next(r for r in doc["rows"] if r["week"] is None and r["scope"] == "study")
    assert study_row["targets"] == 1 and study_row["engagements"] == 4


def test_targets_remove_by_the_other_name_and_unknown_names(cli, study, tmp_path):
    fourteen_accounts(study)
    cli("targets", "add", study.path, "@t1", "102", "@t3")
    # t1 was added by handle and goes by id; 102 was added by id and goes by handle (case-insensitive)
    r = cli("targets", "remove", study.path, "101", "@T2", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == {"removed": 2}
    rows = json.loads(cli("targets", "list", study.path, "--json").stdout)["targets"]
    assert [(x["account_id"], x["handle"]) for x in rows] == [("103", "t3")]
    # the reported bug: a name that matches no target removed nothing and exited 0; now it is a one-line
    # usage error (exit 2, like every other name that matches nothing) and nothing is removed, even the
    # names that did match
    r = cli("targets", "remove", study.path, "@t3", "@nobody")
    assert r.exit_code == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "no target named @nobody" in r.stderr
    assert len(json.loads(cli("targets", "list", study.path, "--json").stdout)["targets"]) == 1


def test_targets_take_the_study_before_or_after_the_subcommand(cli, study):
    # the README wrote `echoscope targets mystudy add @h --group g`; the CLI wanted `targets add mystudy`
    r = cli("targets", study.path, "add", "@h1", "@h2", "--group", "diplomats")
    assert r.exit_code == 0, r.stderr
    assert cli("targets", "add", study.path, "@h3").exit_code == 0
    listed = [json.loads(cli("targets", *order, "--json").stdout)["targets"]
              for order in ((study.path, "list"), ("list", study.path))]
    assert listed[0] == listed[1] and [x["handle"] for x in listed[0]] == ["h1", "h2", "h3"]  # by group, then handle
    assert json.loads(cli("targets", study.path, "remove", "@h3", "--json").stdout) == {"removed": 1}
    # a study with neither order's subcommand is a one-line usage error naming both orders
    r = cli("targets", study.path)
    assert r.exit_code == 2 and "targets add|list|remove STUDY" in r.stderr and "targets STUDY add" in r.stderr
    helptext = cli("targets", "--help").stdout
    assert "echoscope targets COMMAND STUDY" in helptext and "echoscope targets STUDY COMMAND" in helptext


# ------------------------------------------------------------------------------- progress when not a terminal
def test_progress_is_plain_stage_lines_on_stderr_when_not_a_terminal(cli, study, tmp_path, monkeypatch):
    from echoscope.cli import util

    f = tmp_path / "p.csv"
    f.write_text("post_id,account_id,created_at,kind\n1,a,2020-01-01T00:00:00Z,original\n"
                 "2,b,2020-01-01T00:00:09Z,repost\n")
    # a quick command prints no progress at all: its stderr stays empty (or one error line)
    r = cli("ingest", study.path, f, "--format", "csv")
    assert r.exit_code == 0 and r.stderr == ""
    # long work (here: every command, with the delay set to 0) prints one plain line per stage, on stderr only
    # (CliRunner's stderr is not a terminal; before, nothing at all was shown there)
    monkeypatch.setattr(util, "PLAIN_AFTER_S", 0.0)
    g = tmp_path / "q.csv"
    g.write_text(f.read_text().replace("1,a,", "3,c,").replace("2,b,", "4,d,"))
    r = cli("ingest", study.path, g, "--format", "csv")
    assert r.exit_code == 0
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"ingest: reading {g} [") and lines[-1].startswith("ingest: done [")
    assert any(x.startswith("ingest: committing [") for x in lines) and "\x1b" not in r.stderr
    assert "loaded 2" in r.stdout
    cli("targets", "add", study.path, "id:a")
    r = cli("measure", study.path, "--quiet")
    assert r.exit_code == 0 and r.stderr == ""
    r = cli("measure", study.path)
    assert r.exit_code == 0 and r.stderr.startswith("measure: measuring on duckdb [")
    # --json keeps stderr quiet and stdout pure JSON
    r = cli("measure", study.path, "--json")
    assert r.exit_code == 0 and r.stderr == "" and json.loads(r.stdout)["rows"]

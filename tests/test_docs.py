"""The reference docs are generated from the code; they must be current and cover every command. And the
README's test command works in a clone without the real data (and CI's requires it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from echoscope import docgen, schema

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_cli_command_is_in_the_docs():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [" ".join(p) for p in docgen.cli_commands() if f"## `echoscope {' '.join(p)}`" not in text]
    assert not missing, f"commands missing from docs/cli.md (run python -m echoscope.docgen): {missing}"


def test_command_groups_are_in_the_docs_with_how_to_call_them():
    # `targets` takes the study on either side of its command: the reference says so for the group and for
    # each of its commands (the README once showed the order the CLI refused)
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert [" ".join(p) for p in docgen.cli_groups()] == ["collect", "targets"]
    group = text.split("## `echoscope targets`", 1)[1].split("## ", 1)[0]
    assert "Usage: echoscope targets COMMAND STUDY [ARGS]..." in group
    assert "or: echoscope targets STUDY COMMAND [ARGS]..." in group
    for sub in ("add", "list", "remove"):
        section = text.split(f"## `echoscope targets {sub}`", 1)[1].split("## ", 1)[0]
        assert f"The study may come first: echoscope targets STUDY {sub}" in " ".join(section.split())


def test_cli_reference_is_current():
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == docgen.cli_markdown(), \
        "docs/cli.md is stale: run python -m echoscope.docgen"


def test_data_model_is_generated_from_schema():
    assert (DOCS / "data-model.md").read_text(encoding="utf-8") == schema.markdown() + "\n", \
        "docs/data-model.md is stale: run python -m echoscope.docgen"


@pytest.mark.slow  # two pytest runs in subprocesses (one with two xdist workers): ~5-15 s
def test_make_test_without_the_real_data_skips_with_one_summary_line(tmp_path):
    """`make test` in a clone without ../shared/data: the real-data tests are skipped (not failed) and one line
    says how many, what is missing and where it comes from; with ECHOSCOPE_REQUIRE_DATA=1 (CI) they fail."""
    import os
    import shutil
    import subprocess
    import sys

    here = Path(__file__).resolve().parent
    shutil.copy(here / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_real.py").write_text(
        "from conftest import SHARED, shared\n"
        "TWEETS = SHARED / 'ira' / 'tweets.csv'  # a module-level path, used through a helper\n"
        "def rows():\n    return TWEETS.read_text().splitlines()\n"
        "def test_module_path():\n    assert rows()\n"
        "def test_shared_call():\n    assert shared('coortweet', 'x.parquet').stat().st_size\n"
        "def test_no_data_needed():\n    assert 1 + 1 == 2\n")
    env = {k: v for k, v in os.environ.items() if k not in ("ECHOSCOPE_REQUIRE_DATA", "PYTEST_XDIST_WORKER")}
    env["ECHOSCOPE_TEST_DATA"] = str(tmp_path / "absent")

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, str(tmp_path)],
                              cwd=tmp_path, env={**env, **extra}, capture_output=True, text=True, timeout=120)

    # as `make test` runs it: two workers; the skips are reported by the workers, summed up once
    res = run("-n", "2", "--dist", "loadgroup")
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [x for x in res.stdout.splitlines() if "real-data tests skipped" in x]
    assert len(lines) == 1 and lines[0].startswith("2 real-data tests skipped: ")
    assert lines[0].endswith("absent not found (the real datasets beside the repository; CI provides them and sets "
                             "ECHOSCOPE_REQUIRE_DATA=1 to require them; see README.md, Development, and "
                             "../shared/data/README.md)")
    assert "1 passed, 2 skipped" in res.stdout and "tweets.csv" not in res.stdout  # no line per skipped test
    # CI: required data that is missing fails the run, naming the file
    res = run("-q", ECHOSCOPE_REQUIRE_DATA="1")
    assert res.returncode == 1 and "real-data tests skipped" not in res.stdout
    assert "absent/ira/tweets.csv not found, and ECHOSCOPE_REQUIRE_DATA is set" in res.stdout
    assert "absent/coortweet/x.parquet not found" in res.stdout and "1 passed" in res.stdout


def test_ci_requires_the_real_data_and_runs_the_readme_test_command():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    commands = [x.strip() for x in ci.splitlines() if x.strip() and not x.strip().startswith("#")]
    assert commands[-1] == "make test"  # the README's test command, exactly
    assert "export ECHOSCOPE_REQUIRE_DATA=1" in commands[:-1]


def test_docgen_check_flag_compares_without_writing(tmp_path, capsys):
    # --check is a flag, not a directory: it writes nothing and exits 1 naming what is stale
    assert docgen.main(["--check", str(tmp_path)]) == 1
    assert "stale:" in capsys.readouterr().err and not any(tmp_path.iterdir())
    assert docgen.main([str(tmp_path)]) == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["cli.md",
                                                                                               "data-model.md"]
    assert docgen.main(["--check", str(tmp_path)]) == 0
    (tmp_path / "cli.md").write_text("old\n", encoding="utf-8")
    assert docgen.main(["--check", str(tmp_path)]) == 1
    assert docgen.main(["--bogus"]) == 2 and not (tmp_path.parent / "--bogus").exists()

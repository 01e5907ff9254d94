"""Shared test fixtures: where the real data lives, fresh studies, a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: real datasets (read-only), one level above the repository: ../shared/data
SHARED = ROOT.parent / "shared" / "data"
#: small fixtures made for these tests
FIXTURES = Path(__file__).resolve().parent / "data"

os.environ.setdefault("COLUMNS", "120")


@pytest.fixture
def study(tmp_path):
    """A fresh, empty study."""
    import echoscope

    return echoscope.init_study(tmp_path / "study")


@pytest.fixture
def cli():
    """Invoke the CLI in-process: ``cli("info", path, "--json")`` -> click Result (stdout and stderr apart)."""
    from typer.testing import CliRunner

    from echoscope.cli import app

    runner = CliRunner()

    def run(*args: str, input: str | bytes | None = None):
        return runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


def shared(*parts: str) -> Path:
    """Path to a file of the shared real data; fails loudly when the data is not where CI puts it."""
    p = SHARED.joinpath(*parts)
    assert p.exists(), f"real test data missing: {p} (CI has ../shared/data beside the repository)"
    return p

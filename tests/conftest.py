"""Shared test fixtures: where the real data lives, fresh studies, a CLI runner; and what happens without the
real data.

The real datasets live outside the repository (``../shared/data``, see its README.md). A clone without them
still runs every other test: a test that needs a missing file is skipped -- whether it calls :func:`shared`
or names a module-level path under :data:`SHARED` -- and the run ends with ONE line saying how many were
skipped, which data is missing and where it comes from. CI sets ``ECHOSCOPE_REQUIRE_DATA=1`` (``.ci/run``):
then a missing file fails its test instead. ``ECHOSCOPE_TEST_DATA`` points the tests at another copy.
"""

from __future__ import annotations

import os
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: real datasets (read-only), one level above the repository: ../shared/data (or $ECHOSCOPE_TEST_DATA)
SHARED = Path(os.environ.get("ECHOSCOPE_TEST_DATA") or ROOT.parent / "shared" / "data").resolve()
#: small fixtures made for these tests
FIXTURES = Path(__file__).resolve().parent / "data"
#: set to 1 (CI does, in .ci/run) and a missing real-data file fails its test instead of skipping it
REQUIRE_ENV = "ECHOSCOPE_REQUIRE_DATA"
#: every skip for missing real data says this first (the terminal summary counts them)
MISSING = "real data missing:"

os.environ.setdefault("COLUMNS", "120")


#: Debian's chromium (installed by .ci/run), driven by Playwright with ``executable_path`` in the browser tests
#: (tests/test_report_browser.py, tests/test_explorer_browser.py): Playwright's own browser download is unavailable
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module that asks for it."""
    from playwright import sync_api  # in the test extra

    assert Path(CHROMIUM).exists(), "Debian chromium missing: apt-get install -y chromium (.ci/run does it)"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def study(tmp_path):
    """A fresh, empty study."""
    import echoscope

    return echoscope.init_study(tmp_path / "study")


def _invoke(*args: Any, input: str | bytes | None = None):
    """The CLI run in-process with ``args`` -> click Result (stdout and stderr apart)."""
    from typer.testing import CliRunner

    from echoscope.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture
def cli():
    """Invoke the CLI in-process: ``cli("info", path, "--json")`` -> click Result (stdout and stderr apart)."""
    return _invoke


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """One ``echoscope demo --out DIR`` (~30-60 s) for the tests that read what it made -> (DIR, its click
    Result: the console output). Those tests carry ``@pytest.mark.xdist_group("demo")``, so one worker makes it
    once (one of them stores another score run, which the others do not read); tests of the command itself
    (flags, replacing a study) run it on their own."""
    out = tmp_path_factory.mktemp("demo-run")
    r = _invoke("demo", "--out", out)
    assert r.exit_code == 0, r.stderr
    return out, r


def data_required() -> bool:
    """Must the real data be there (``ECHOSCOPE_REQUIRE_DATA`` set and not 0)?"""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


def _shown(p: Path) -> str:
    """``p`` as seen from the repository (``../shared/data/...``)."""
    return os.path.relpath(p, ROOT)


def missing_data(paths: list[Path]) -> None:
    """Skip the running test because ``paths`` are missing (or fail it when the data is required)."""
    names = ", ".join(_shown(p) for p in paths)
    if data_required():
        pytest.fail(f"{names} not found, and {REQUIRE_ENV} is set: the real data must be at {SHARED} "
                    "(see its README.md)", pytrace=False)
    pytest.skip(f"{MISSING} {names}")


def shared(*parts: str) -> Path:
    """Path to a file of the shared real data.

    Inside a test, a missing file skips the test (fails it with ``ECHOSCOPE_REQUIRE_DATA=1``). At module level
    the path is returned unchecked, so the module still imports; its tests that use the path are then skipped
    by :func:`pytest_runtest_setup`.
    """
    p = SHARED.joinpath(*parts)
    caller = sys._getframe(1)
    if not p.exists() and caller.f_code.co_name != "<module>":
        missing_data([p])
    return p


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _missing_paths_named_by(func: object, seen: set[int] | None = None) -> list[Path]:
    """Module-level paths under :data:`SHARED` that ``func`` (or a helper of its module it calls) names and
    that do not exist."""
    code = getattr(func, "__code__", None)
    glb = getattr(func, "__globals__", None)
    if code is None or glb is None:
        return []
    seen = set() if seen is None else seen
    seen.add(id(code))
    found: list[Path] = []
    for name in sorted(_code_names(code)):
        v = glb.get(name)
        if isinstance(v, Path) and v.is_relative_to(SHARED) and not v.exists():
            found.append(v)
        elif (isinstance(v, types.FunctionType) and v.__module__ == getattr(func, "__module__", None)
              and id(v.__code__) not in seen):
            found += [p for p in _missing_paths_named_by(v, seen) if p not in found]
    return found


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test (or one of its fixtures) that names a module-level real-data path that is missing."""
    funcs = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info is not None else []):
        funcs += [d.func for d in defs]
    missing: list[Path] = []
    for f in funcs:
        missing += [p for p in _missing_paths_named_by(f) if p not in missing]
    if missing:
        missing_data(missing)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """One line for all the tests skipped for missing real data (pytest itself lists skips only with -rs)."""
    skipped = 0
    datasets: set[str] = set()
    for rep in terminalreporter.stats.get("skipped", []):
        longrepr = rep.longrepr
        reason = longrepr[2] if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3 else str(longrepr)
        if MISSING not in reason:
            continue
        skipped += 1
        for shown in reason.split(MISSING, 1)[1].split(","):
            rel = Path(os.path.relpath(ROOT / shown.strip(), SHARED))
            datasets.add(rel.parts[0] if rel.parts and rel.parts[0] != ".." else shown.strip())
    if not skipped:
        return
    where = (f"{_shown(SHARED)} not found" if not SHARED.exists()
             else f"missing from {_shown(SHARED)}: {', '.join(sorted(datasets))}")
    terminalreporter.write_line(
        f"{skipped} real-data tests skipped: {where} (the real datasets beside the repository; CI provides them "
        f"and sets {REQUIRE_ENV}=1 to require them; see README.md, Development, and ../shared/data/README.md)",
        yellow=True)

"""Generate reference docs from the code: the data model from schema.py, the CLI reference from the Typer app.

``python -m echoscope.docgen`` rewrites docs/data-model.md and docs/cli.md; ``--check`` only compares them and
exits 1 naming the stale ones; a test fails when either is stale, so the docs can never drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from . import schema


def cli_commands() -> list[list[str]]:
    """Every leaf command of the CLI as a path, e.g. ``["targets", "add"]``."""
    from .cli import app

    found: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name in sorted(subs):
                walk(subs[name], path + [name])
        else:
            found.append(path)

    walk(typer.main.get_command(app), [])
    return found


def cli_groups() -> list[list[str]]:
    """Every command group below the top, e.g. ``["targets"]`` (their help says how their commands are called)."""
    from .cli import app

    found: list[list[str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            if path:
                found.append(path)
            for name in sorted(subs):
                walk(subs[name], path + [name])

    walk(typer.main.get_command(app), [])
    return found


def cli_markdown() -> str:
    from typer.testing import CliRunner

    from .cli import app

    runner = CliRunner()
    lines = ["# CLI reference", "",
             "Generated from the command definitions by `python -m echoscope.docgen`; do not edit by hand.",
             "Every command that reports something takes `--json`; errors go to stderr as one line with a "
             "non-zero exit (1 for data and study errors, 2 for usage and configuration errors).", ""]
    for path in sorted(cli_commands() + cli_groups()):
        res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"})
        lines += [f"## `echoscope {' '.join(path)}`", "", "```", res.output.rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def generated() -> dict[str, str]:
    """The generated documents: file name -> text."""
    return {"data-model.md": schema.markdown() + "\n", "cli.md": cli_markdown()}


def write(docs: Path) -> list[Path]:
    docs.mkdir(parents=True, exist_ok=True)
    out = []
    for name, text in generated().items():
        p = docs / name
        p.write_text(text, encoding="utf-8")
        out.append(p)
    return out


def stale(docs: Path) -> list[Path]:
    """The generated documents under ``docs`` that differ from what the code gives (or are missing)."""
    return [docs / name for name, text in generated().items()
            if not (docs / name).is_file() or (docs / name).read_text(encoding="utf-8") != text]


def main(argv: list[str]) -> int:
    """``python -m echoscope.docgen [--check] [DOCS_DIR]``: rewrite (or with ``--check`` compare) the documents."""
    check = "--check" in argv
    rest = [a for a in argv if a != "--check"]
    unknown = [a for a in rest if a.startswith("-")]
    if unknown or len(rest) > 1:
        print(f"usage: python -m echoscope.docgen [--check] [DOCS_DIR] (not {' '.join(unknown or rest)})",
              file=sys.stderr)
        return 2
    root = Path(rest[0]) if rest else Path(__file__).resolve().parents[2] / "docs"
    if check:
        bad = stale(root)
        for p in bad:
            print(f"stale: {p} (run python -m echoscope.docgen)", file=sys.stderr)
        return 1 if bad else 0
    for p in write(root):
        print(p)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))

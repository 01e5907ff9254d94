"""The reference docs are generated from the code; they must be current and cover every command."""

from __future__ import annotations

from pathlib import Path

from echoscope import docgen, schema

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_cli_command_is_in_the_docs():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    missing = [" ".join(p) for p in docgen.cli_commands() if f"## `echoscope {' '.join(p)}`" not in text]
    assert not missing, f"commands missing from docs/cli.md (run python -m echoscope.docgen): {missing}"


def test_cli_reference_is_current():
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == docgen.cli_markdown(), \
        "docs/cli.md is stale: run python -m echoscope.docgen"


def test_data_model_is_generated_from_schema():
    assert (DOCS / "data-model.md").read_text(encoding="utf-8") == schema.markdown() + "\n", \
        "docs/data-model.md is stale: run python -m echoscope.docgen"

"""Shared by the benchmark scripts: replace one ``## Section`` of benchmarks/RESULTS.md with a new text."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(title: str, section: str, path: Path = RESULTS) -> None:
    """Replace the ``## {title}`` section (up to the next ``## `` heading) with ``section``, appended last."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    text = re.sub(rf"## {re.escape(title)}\n.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip()
    path.write_text(text + "\n\n" + section)

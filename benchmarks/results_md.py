"""Shared by the benchmark scripts: put a new run's text at the top of one ``## Section`` of RESULTS.md.

The earlier text of the section is kept below the new one (it holds hand-written analysis, corrections and
numbers of other sizes that one run of a script does not reproduce); replacing it wholesale lost such text
once (2026-12-06).
"""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def replace_section(title: str, section: str, path: Path = RESULTS) -> None:
    """Write ``section`` (which starts with ``## {title}``) as the section, the earlier body kept under it.

    The section stays where it was in the file (appended last when new).
    """
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    m = re.search(rf"## {re.escape(title)}\n(.*?)(?=\n## |\Z)", text, flags=re.S)
    if m is None:
        path.write_text(text.rstrip() + "\n\n" + section)
        return
    earlier = m.group(1).strip()
    new = section.rstrip() + ("\n\n### Earlier runs\n\n" + earlier if earlier else "") + "\n"
    path.write_text(text[:m.start()] + new + text[m.end():])

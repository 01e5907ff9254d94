"""The report step of ``echoscope demo`` (see :mod:`echoscope.demo` for the hook contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..report.html import render_report


def demo_report(study: Any, out_dir: Path) -> Path:
    """Write ``report.html`` into ``out_dir`` from every result table the demo made."""
    path = Path(out_dir) / "report.html"
    render_report(study, path)
    return path

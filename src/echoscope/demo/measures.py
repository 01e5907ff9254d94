"""The amplification-measures step of ``echoscope demo`` (see :mod:`echoscope.demo`).

Runs after coordination and account scoring so that ``share_coordinated`` and ``share_high_risk`` are filled.
"""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc

from ..measures import measures


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def demo_findings(study: Any) -> list[str]:
    """Compute and store the ``amplification_*`` tables and describe the study-wide row."""
    m = measures(study)
    m.write()
    s = m.to_arrow("summary")
    rows = s.filter(pc.and_(pc.equal(s["scope"], "study"), pc.is_null(s["week"]))).to_pylist()
    if not rows:
        return ["Amplification measures: no engagements with the targets."]
    r = rows[0]
    out = [f"Amplification measures over {r['engagements']:,} engagements by {r['amplifiers']:,} accounts: "
           f"{_pct(r['share_suspended_reposts'])} of reposts from later-suspended accounts, top 1% of "
           f"amplifiers {_pct(r['top1_share'])}, {_pct(r['share_within_60s'])} within 60 s, Gini "
           f"{r['gini']:.2f}."]
    out.append(f"Engagements from coordinated accounts: {_pct(r['share_coordinated'])}; from high-risk accounts: "
               f"{_pct(r['share_high_risk'])} (amplification_summary has every target and week).")
    return out

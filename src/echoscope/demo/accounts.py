"""The account-scoring step of ``echoscope demo`` (see :mod:`echoscope.demo` for the hook contract)."""

from __future__ import annotations

from typing import Any

import pyarrow.compute as pc

from ..accounts.score import FLAG_THRESHOLD, score_study
from .truth import compare_flagged, truth_sentence


def demo_findings(study: Any) -> list[str]:
    """Score every account with the rule-based score and describe the high-risk ones."""
    res = score_study(study)
    sc = res.scores
    high = sc.filter(pc.greater_equal(sc["score"], FLAG_THRESHOLD))
    out = [f"Account signals: {sc.num_rows:,} accounts scored; {high.num_rows:,} at or above "
           f"{FLAG_THRESHOLD:g} (rule-based score, every point explained by named signals)."]
    if high.num_rows:
        top = high.slice(0, 1).to_pylist()[0]
        who = "@" + top["handle"] if top.get("handle") else top["account_id"]
        out.append(f"Highest risk: {who} (score {top['score']:.2f}): {top['reasons_text']}.")
    s = truth_sentence(compare_flagged(study, high.select(["account_id"])))
    if s:
        out.append(s)
    return out

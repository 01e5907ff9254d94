"""Ground-truth comparisons the demo prints after each analysis (the simulator knows every account's truth).

Kept apart from the analyses themselves: a detector never reads ``truth_*`` tables; only the demo and the
benchmarks compare its output with them.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa


def has_truth(study: Any) -> bool:
    """True when the study carries the simulator's ``truth_accounts`` table."""
    return "truth_accounts" in study.info()["tables"]


def compare_flagged(study: Any, flagged: pa.Table) -> dict[str, Any] | None:
    """Precision/recall of a set of flagged accounts (one ``account_id`` column) against the simulator's truth.

    Returns ``None`` when the study has no ground truth.
    """
    if not has_truth(study):
        return None
    con = study.con().con
    name = "_es_flagged_cmp"
    con.register(name, flagged.select(["account_id"]))
    try:
        row = con.execute(f"""
            SELECT count(*) FILTER (WHERE t.truth = 'campaign') AS true_pos,
                   count(*) AS flagged,
                   (SELECT count(*) FROM truth_accounts WHERE truth = 'campaign') AS campaign,
                   count(*) FILTER (WHERE t.truth = 'organic') AS organic_flagged,
                   (SELECT count(*) FROM truth_accounts WHERE truth = 'organic') AS organic
            FROM (SELECT DISTINCT account_id FROM {name}) f
            LEFT JOIN truth_accounts t ON t.account_id = f.account_id""").fetchone()
    finally:
        con.unregister(name)
    tp, n, camp, org_f, org = (int(v or 0) for v in row)
    return {"flagged": n, "true_positives": tp, "campaign_accounts": camp, "organic_flagged": org_f,
            "organic_accounts": org, "precision": tp / n if n else None, "recall": tp / camp if camp else None}


def truth_sentence(c: dict[str, Any] | None) -> str | None:
    """One plain sentence for :func:`compare_flagged`'s result."""
    if not c or not c["flagged"]:
        return None
    return (f"Ground truth: {c['true_positives']:,} of the {c['flagged']:,} flagged accounts are planted campaign "
            f"accounts (precision {c['precision']:.0%}), {c['recall']:.0%} of the {c['campaign_accounts']:,} "
            f"campaign accounts; {c['organic_flagged']:,} of {c['organic_accounts']:,} organic accounts flagged.")

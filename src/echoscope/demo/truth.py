"""Ground-truth comparisons the demo prints beside the findings (the simulator knows every account's truth).

Kept apart from the analyses: a detector never reads ``truth_*`` tables; only the demo and the benchmarks
compare its output with them. What is compared is read from the stored result tables (accounts in clusters
judged coordinated, accounts marked high risk), the same rows every other output reads.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..study import Study

#: the simulator's later-suspended rule is the measures' own: suspended or deleted at the latest check
_SUSPENDED = """(SELECT account_id FROM account_status GROUP BY account_id
                 HAVING arg_max(status, checked_at) IN ('suspended', 'deleted'))"""


def has_truth(study: Study) -> bool:
    """True when the study carries the simulator's ``truth_accounts`` table."""
    return study.manifest().has_result("truth_accounts")


def compare_flagged(study: Study, flagged: pa.Table) -> dict[str, Any] | None:
    """Precision/recall of a set of flagged accounts (one ``account_id`` column) against the simulator's truth.

    Returns ``None`` when the study has no ground truth.
    """
    if not has_truth(study):
        return None
    con = study.engine.raw
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


def truth_sentence(c: dict[str, Any] | None, what: str = "flagged accounts") -> str | None:
    """One plain sentence for :func:`compare_flagged`'s result (``what`` names the flagged set)."""
    if not c or not c["flagged"]:
        return None
    return (f"Ground truth, {what}: {c['true_positives']:,} of {c['flagged']:,} are planted campaign accounts "
            f"(precision {c['precision']:.0%}), {c['recall']:.0%} of the {c['campaign_accounts']:,} campaign "
            f"accounts; {c['organic_flagged']:,} of {c['organic_accounts']:,} organic accounts.")


def truth_figures(study: Study) -> dict[str, Any]:
    """What the simulator planted in the targets' reposts and what enforcement caught (ground truth only)."""
    if not has_truth(study):
        return {"sentences": []}
    eng = study.engine
    t = eng.rows(f"""
        WITH rt AS (SELECT e.actor_id, te.planted FROM engagements e
                    JOIN targets tg ON e.subject_account_id = tg.account_id
                    JOIN truth_engagements te ON te.engagement_id = e.engagement_id WHERE e.kind = 'repost')
        SELECT count(*) AS reposts,
               avg(CASE WHEN planted THEN 1.0 ELSE 0.0 END) AS planted_share,
               avg(CASE WHEN planted AND actor_id NOT IN {_SUSPENDED} THEN 1.0 ELSE 0.0 END) AS planted_unsuspended,
               avg(CASE WHEN NOT planted AND actor_id IN {_SUSPENDED} THEN 1.0 ELSE 0.0 END) AS organic_suspended
        FROM rt""")[0]
    c = eng.rows(f"""SELECT count(*) AS campaign_accounts,
               avg(CASE WHEN account_id IN {_SUSPENDED} THEN 1.0 ELSE 0.0 END) AS campaign_suspended
        FROM truth_accounts WHERE truth = 'campaign'""")[0]
    out: dict[str, Any] = {"reposts": t, "campaigns": c, "sentences": []}
    if t["reposts"]:
        out["sentences"].append(
            f"Ground truth: {t['planted_share']:.1%} of the targets' reposts were planted by campaigns; "
            f"{t['planted_unsuspended']:.1%} by campaign accounts never suspended (missed by a count of suspended "
            f"accounts) and {t['organic_suspended']:.1%} came from organic accounts suspended for other reasons.")
    if c["campaign_accounts"]:
        out["sentences"].append(f"Enforcement caught {c['campaign_suspended']:.0%} of the "
                                f"{c['campaign_accounts']:,} campaign accounts by the final status check.")
    return out


__all__ = ["compare_flagged", "has_truth", "truth_figures", "truth_sentence"]

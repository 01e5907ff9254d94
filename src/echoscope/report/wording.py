"""Every sentence of the report that states a headline number, each made by one function.

Why one module: a journalist quotes these sentences, so each fact must be worded once, from the stored row or
summary that holds it, and read the same in the HTML, ``--json``, the exports' ``summary.json``, the console
and the demo. The share from later-suspended accounts and the top-1% share are worded by
:func:`echoscope.measures.headline` (from one ``amplification_summary`` row), the high-risk count by
:func:`echoscope.accounts.headline` (from the score run's stored summary); this module only frames them and
words what no analysis words yet (coordinated clusters and accounts, latency, labels, what is missing).
"""

from __future__ import annotations

from typing import Any

from ..accounts.risk import headline as risk_headline
from ..errors import ConfigError
from ..measures.headline import headline as measures_headline
from .base import ReportOptions
from .fmt import day, pct, who


def _n(v: Any) -> int:
    return int(v or 0)


def _stored(row: dict[str, Any], missing: list[str]) -> dict[str, Any]:
    """The row as stored: without the columns an older measures run did not write (the report reads them as
    null), so the measures' headline says which are missing instead of wording a null."""
    return {k: v for k, v in row.items() if k not in missing}


def amplification(row: dict[str, Any], checked: str | None, missing: list[str]) -> str:
    """The measures' headline of the study row: share from later-suspended accounts and the top-k share."""
    when = f" (account status checked up to {day(checked)})" if checked else ""
    return f"Across all targets{when}: {measures_headline(_stored(row, missing))}."


def worst_target(row: dict[str, Any], missing: list[str]) -> str:
    """The measures' headline of the target with the largest share from later-suspended accounts."""
    return (f"For {who(row)}, the target with the largest share from later-suspended accounts: "
            f"{measures_headline(_stored(row, missing))}.")


def concentration(row: dict[str, Any]) -> str | None:
    """The Gini coefficient of engagements per amplifier."""
    if row.get("gini") is None:
        return None
    return (f"Engagements per amplifier have a Gini coefficient of {float(row['gini']):.2f} (0 when every amplifier "
            "engaged equally, towards 1 when a few did it all).")


def latency(row: dict[str, Any]) -> str | None:
    """Share of engagements with a known time that came within 60 s (and 10 s) of the post."""
    if not row.get("latency_known") or row.get("share_within_60s") is None:
        return None
    return (f"{pct(row['share_within_60s'])} of engagements with a known time came within 60 seconds of the post "
            f"({pct(row.get('share_within_10s'))} within 10 seconds).")


def peak_week(weeks: list[dict[str, Any]], targets: list[dict[str, Any]], opt: ReportOptions) -> str | None:
    """The charted target-week with the highest stored share from later-suspended accounts."""
    cand = [w for w in weeks if _n(w.get("engagements")) >= opt.min_engagements and w.get("share_suspended")]
    if not cand:
        return None
    w = max(cand, key=lambda r: (r["share_suspended"], _n(r["engagements"]), str(r["week"])))
    t = next((x for x in targets if x.get("account_id") == w["account_id"]), {"account_id": w["account_id"]})
    part = w.get("engagements_suspended")
    counts = f" ({_n(part):,} of {_n(w['engagements']):,})" if part is not None else ""
    return (f"In the week of {w['week']}, {pct(w['share_suspended'])} of {who(t)}'s engagements{counts} came from "
            "later-suspended accounts, the highest weekly share among the charted targets.")


def coordinated(coord: dict[str, Any], overall: dict[str, Any], stale: str | None) -> str:
    """Clusters judged coordinated, their members, and the share of engagements those members made."""
    if not coord.get("ran"):
        return "Coordination was not analysed (run 'echoscope coordinate STUDY')."
    tot = coord.get("totals", {})
    if tot.get("coordinated_clusters") is None:
        return (f"{_n(tot.get('clusters')):,} cluster(s) were found, but none is marked coordinated (rerun "
                "'echoscope coordinate STUDY').")
    n, members = _n(tot.get("coordinated_clusters")), _n(tot.get("coordinated_accounts"))
    out = f"{n:,} cluster(s) with {members:,} accounts were judged coordinated"
    if stale:
        out += f"; the measures' coordinated share: {stale}"
    elif overall.get("share_coordinated") is not None:
        out += f"; their members made {pct(overall['share_coordinated'], 1)} of all engagements with the targets"
    fe = coord.get("summary", {}).get("expected_false_edges")
    out += f"; the null model expects {float(fe):.1f} of the judged edges to be coincidence." if fe is not None else "."
    return out


def high_risk(acc: dict[str, Any], overall: dict[str, Any], stale: str | None) -> str:
    """How many scored accounts are high risk (worded by :func:`echoscope.accounts.headline` from the score
    run's stored summary) and the share of engagements they made (from the measures)."""
    if acc.get("mode") != "scores":
        return "Accounts were not scored (run 'echoscope score STUDY')."
    try:
        out = risk_headline(acc.get("summary") or {})
    except ConfigError:
        return (f"{_n(acc.get('scored')):,} accounts were scored by an older echoscope that marked no account high "
                "risk (rerun 'echoscope score STUDY').")
    if stale:
        out += f"; the measures' high-risk share: {stale}"
    elif overall.get("share_high_risk") is not None:
        out += f"; they made {pct(overall['share_high_risk'], 1)} of all engagements with the targets"
    return out[0].upper() + out[1:] + "."


def labels(row: dict[str, Any]) -> str | None:
    """How many targets carry a government or state-affiliation label."""
    if row.get("targets") is None or row.get("labelled_targets") is None:
        return None
    return (f"{_n(row['labelled_targets']):,} of {_n(row['targets']):,} target(s) ({pct(row.get('label_coverage'))}) "
            "carry a government or state-affiliation label.")


def _stale(doc: dict[str, Any], source: str) -> str | None:
    for s in doc.get("stages", []):
        if s["stage"] == "measures":
            for x in s.get("stale", []):
                if x["source"] == source:
                    return (f"it predates the {source} run, so it is not shown; rerun 'echoscope measure STUDY' to "
                            "refresh it")
    return None


def findings(doc: dict[str, Any], opt: ReportOptions | None = None) -> list[str]:
    """Headline findings in plain sentences with their numbers (shown first in the report and in the JSON)."""
    opt = opt or ReportOptions()
    cov = doc.get("coverage", {})
    named = doc.get("named_targets", {})
    out: list[str] = []
    if not cov.get("tables", {}).get("engagements"):
        out.append("The study holds no engagement (repost, quote, reply or like) yet, so no amplification can be "
                   "measured; add data with 'echoscope ingest STUDY FILE...'.")
    if not named.get("named"):
        out.append("No target accounts are named in this study, so no amplification can be measured; name them "
                   "with 'echoscope targets add STUDY @handle --group NAME'.")
    ov = doc.get("overall") or {}
    if not doc.get("measured"):
        if named.get("named"):
            out.append(f"{_n(named['named']):,} target account(s) are named in {_n(named.get('groups')):,} group(s); "
                       "their amplification was not measured (run 'echoscope measure STUDY').")
    else:
        span = cov.get("time_span", {}).get("engagements", {})
        out.append(f"The {_n(ov.get('targets')):,} target account(s) received {_n(ov.get('engagements')):,} "
                   f"engagements (reposts, quotes, replies and likes) from {_n(ov.get('amplifiers')):,} accounts"
                   + (f" (the data runs from {day(span.get('first'))} to {day(span.get('last'))})." if span.get("first")
                      else "."))
        if _n(ov.get("engagements")):
            gone = doc.get("amplification", {}).get("missing_columns", [])
            out.append(amplification(ov, ov.get("status_checked_last"), gone))
            eligible = [t for t in doc.get("targets", []) if _n(t.get("engagements")) >= opt.min_engagements
                        and t.get("status_checked_last")]
            if eligible and len(doc.get("targets", [])) > 1:
                t = max(eligible, key=lambda r: (float((r.get("share_suspended_reposts") if r.get("reposts") else
                                                        r.get("share_suspended")) or 0), _n(r.get("engagements"))))
                out.append(worst_target(t, gone))
            out.append(concentration(ov) or "")
            out.append(latency(ov) or "")
            out.append(peak_week(doc.get("weekly", {}).get("target_weeks", []), doc.get("targets", []), opt) or "")
        else:
            out.append("No account engaged with the targets in the measured period (no engagement is stored).")
    said = section_sentences(doc)
    out += [said["coordination"], said["accounts"]]
    if doc.get("measured"):
        out.append(said["labels"] or "")
    return [s for s in out if s]


def section_sentences(doc: dict[str, Any]) -> dict[str, str | None]:
    """The sentences the report's sections repeat from the findings (the same function, the same words):
    ``coordination`` (clusters and accounts judged coordinated), ``accounts`` (high-risk count), ``labels``."""
    ov = doc.get("overall") or {}
    return {"coordination": coordinated(doc.get("coordination", {}), ov, _stale(doc, "coordination")),
            "accounts": high_risk(doc.get("accounts", {}), ov, _stale(doc, "accounts")),
            "labels": labels(ov) if doc.get("measured") else None}

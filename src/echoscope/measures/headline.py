"""The study-wide headline in words: one template for the console, the demo and the report.

Why one function: the same fact quoted twice must read the same, with the same numerator and denominator. The
sentence is built only from stored columns of one ``amplification_summary`` row (shares, counts and the top
share's k), so whoever calls :func:`headline` -- ``echoscope measure``, the demo, the HTML report -- prints
what ``measure`` stored and computes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: columns of an ``amplification_summary`` row the headline reads
HEADLINE_COLUMNS: tuple[str, ...] = (
    "engagements", "reposts", "amplifiers", "unchecked_amplifiers", "share_suspended", "share_suspended_reposts",
    "engagements_suspended", "reposts_suspended", "top_k", "top_amplifiers", "top_share", "top_engagements")


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%"


def _accounts(n: int) -> str:
    return f"{n:,} account" + ("" if n == 1 else "s")


def headline(row: Mapping[str, Any]) -> str:
    """The headline of one ``amplification_summary`` row (usually the study scope's whole-period row).

    Example: ``10.1% of reposts (4,705 of 46,778) came from later-suspended accounts; the top 1% of amplifiers
    (63 accounts) made 45.8% of engagements (30,979 of 67,665)``.

    Parameters
    ----------
    row : mapping
        A row of ``amplification_summary`` (a dict from ``to_pylist()``, or any mapping with
        :data:`HEADLINE_COLUMNS`).

    Returns
    -------
    str
        One sentence without a final full stop. A row without engagements, without reposts (the suspended share
        is then given over all engagements) or none of whose amplifiers has a known status says so; a row stored
        by an older echoscope (without the count columns) asks to run ``echoscope measure`` again.
    """
    missing = [c for c in HEADLINE_COLUMNS if c not in row]
    if missing:
        return (f"the stored amplification_summary lacks {', '.join(missing)}; run 'echoscope measure' again to "
                "store them")
    n = int(row["engagements"] or 0)
    if n == 0:
        return "no engagements with the targets in this period"
    if int(row["unchecked_amplifiers"] or 0) >= int(row["amplifiers"] or 0):
        first = ("no amplifier has a known account status, so the share from later-suspended accounts is "
                 "unknown (load status checks with 'echoscope status STUDY FILE')")
    elif int(row["reposts"] or 0) > 0:
        first = (f"{_pct(row['share_suspended_reposts'])} of reposts ({int(row['reposts_suspended']):,} of "
                 f"{int(row['reposts']):,}) came from later-suspended accounts")
    else:
        first = (f"{_pct(row['share_suspended'])} of engagements ({int(row['engagements_suspended']):,} of "
                 f"{n:,}; no reposts) came from later-suspended accounts")
    top = (f"the top {100 * float(row['top_k']):g}% of amplifiers ({_accounts(int(row['top_amplifiers']))}) made "
           f"{_pct(row['top_share'])} of engagements ({int(row['top_engagements']):,} of {n:,})")
    return f"{first}; {top}"


__all__ = ["HEADLINE_COLUMNS", "headline"]

"""How findings read: p-values, gaps, times, shortened texts, the caveats, and what an evidence object is in words.

Why one module: the console (``clusters``, ``account``), their ``--json`` and the explorer show the same
values; written once here, a p-value reads ``5.5e-210`` everywhere (never ``0``: below the smallest number a
float can tell apart from zero it reads ``< 1e-300``), a gap ``14 s`` (always seconds), and a co-latency object
``reposted 10-60 s after the post``, not ``1895377829625856480@1``. Nothing here reads a table.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ..coordination.coactions import COACTIONS

#: the smallest p-value written as a number; anything at or below reads "< 1e-300" (a float cannot tell
#: smaller values from zero reliably, and the Poisson tail underflows to 0 long before)
P_FLOOR = 1e-300

#: characters of a post's text shown in an evidence sentence or a table cell
SHORT_TEXT = 140

#: what every page and command says before its numbers (the explorer's overview lists them all)
CAVEATS: tuple[str, ...] = (
    "Coordination is not proof of inauthenticity: fans, newsrooms, activists and aggregators also act "
    "together. A cluster says these accounts acted on the same objects, close in time, far more often than "
    "chance gives; read its evidence before saying why.",
    "A cluster's p-value is the full-data Poisson test of its internal weight, shown for reference: its edges "
    "were found on the same data, so it is biased low. Accounts are judged by the held-out validation "
    "(docs/coordination.md).",
    "An account score is a line for review, not a verdict: its reasons say what to check. High risk means at or "
    "above the run's line (see the score run's parameters).",
    "'Suspended' is the latest account status check the study holds; an account never checked counts as not "
    "suspended.",
    "Evidence lists up to 20 co-actions per pair of accounts, closest in time first; the exports hold every "
    "stored row.",
)

#: verbs for an engagement kind (latency and early-amplify objects say how the account answered)
KIND_VERBS: dict[str, str] = {"repost": "reposted", "quote": "quoted", "reply": "replied to", "like": "liked",
                              "original": "posted"}


def format_p(p: Any) -> str:
    """A p-value in scientific notation, two significant digits; ``< 1e-300`` at or below :data:`P_FLOOR`.

    Examples
    --------
    >>> format_p(5.5e-210), format_p(0.0), format_p(0.301), format_p(None)
    ('5.5e-210', '< 1e-300', '3.0e-01', '-')
    """
    if p is None:
        return "-"
    try:
        v = float(p)
    except (TypeError, ValueError):
        return "-"
    if math.isnan(v):
        return "-"
    if v <= P_FLOOR:
        return "< 1e-300"
    return f"{v:.1e}"


def format_gap(seconds: Any) -> str:
    """A gap (or delay) between two actions, always in seconds: ``14 s``, ``156,600 s`` (never ``43.5 h``: a
    reader compares gaps with the run's window, which is in seconds).

    Examples
    --------
    >>> format_gap(3), format_gap(156600), format_gap(None)
    ('3 s', '156,600 s', '-')
    """
    if seconds is None:
        return "-"
    return f"{abs(float(seconds)):,.0f} s"


def iso(value: Any) -> str | None:
    """A time as ISO 8601 UTC (``2020-06-02T06:39:44Z``): datetimes, epoch seconds, or None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        t = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(f):
        return None
    return dt.datetime.fromtimestamp(f, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(value: Any) -> str:
    """A time for a sentence: ``2020-06-02 06:39:44 UTC`` ("an unknown time" when missing)."""
    s = iso(value)
    return s.replace("T", " ").replace("Z", " UTC") if s else "an unknown time"


def shorten(text: Any, limit: int = SHORT_TEXT) -> str | None:
    """``text`` on one line, cut at ``limit`` characters with an ellipsis (None stays None)."""
    if text is None:
        return None
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "\u2026"


def at(handle: Any, account_id: Any = None) -> str:
    """``@handle`` when known, else the account id (else ``an unknown account``)."""
    if handle:
        return "@" + str(handle).lstrip("@")
    return str(account_id) if account_id else "an unknown account"


def percent(share: Any) -> str:
    """A share in [0, 1] as ``45%`` (``-`` when unknown)."""
    if share is None:
        return "-"
    try:
        v = float(share)
    except (TypeError, ValueError):
        return "-"
    return "-" if math.isnan(v) else f"{100 * v:.0f}%"


def behaviour_text(behaviour: str | None) -> str:
    """What a behaviour means in words (``co-retweet`` -> ``reposts of the same post``)."""
    if not behaviour:
        return "unknown behaviour"
    spec = COACTIONS.get(behaviour)
    return spec.description if spec else behaviour


def latency_buckets(parameters: dict[str, Any] | None) -> list[float]:
    """co-latency's bucket edges (seconds) of the run, default ``10, 60, 300, 1800``."""
    raw = (parameters or {}).get("latency_buckets") or (10.0, 60.0, 300.0, 1800.0)
    try:
        return sorted(float(x) for x in raw)
    except (TypeError, ValueError):
        return [10.0, 60.0, 300.0, 1800.0]


def _secs(x: float) -> str:
    return f"{x:g} s" if x < 120 else (f"{x / 60:g} min" if x < 7200 else f"{x / 3600:g} h")


def bucket_words(index: int | None, parameters: dict[str, Any] | None) -> str:
    """A co-latency delay bucket in words: ``10-60 s`` (bucket 1 of the default edges)."""
    edges = latency_buckets(parameters)
    if index is None or not 0 <= index < len(edges):
        return "at a similar delay"
    lo = 0.0 if index == 0 else edges[index - 1]
    hi = edges[index]
    lo_s, hi_s = _secs(lo), _secs(hi)
    if lo_s.split()[-1] == hi_s.split()[-1]:
        lo_s = lo_s.split()[0]
    return f"{lo_s}-{hi_s}"


__all__ = ["CAVEATS", "KIND_VERBS", "P_FLOOR", "SHORT_TEXT", "at", "behaviour_text", "bucket_words", "format_gap",
           "format_p", "iso", "latency_buckets", "percent", "shorten", "when"]

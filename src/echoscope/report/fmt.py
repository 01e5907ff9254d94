"""How values are written in the report: percentages, counts, durations, account names, data text.

Why one module: the template's filters and the headline sentences (:mod:`.wording`) format the same numbers,
so a share reads the same in a sentence and in a table. :func:`show` is the one way data text reaches the
page: it returns a plain ``str`` (Jinja2 escapes it) with invisible and direction-changing characters made
visible and long texts cut, saying how much was left out.
"""

from __future__ import annotations

import re
from typing import Any

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad\u061c]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def show(value: Any, limit: int = 300) -> str:
    """Data text as shown: invisible and direction-changing characters made visible as ``[U+XXXX]``,
    control characters as ``[U+XX]``, cut at ``limit`` characters with the number left out said.
    Returns a plain ``str`` so Jinja2 escapes it."""
    if value is None:
        return ""
    s = str(value)
    cut = ""
    if len(s) > limit:
        cut = f"\u2026 [{len(s) - limit:,} more characters]"
        s = s[:limit]
    s = _INVISIBLE.sub(lambda m: f"[U+{ord(m.group(0)):04X}]", s)
    s = _CONTROL.sub(lambda m: f"[U+{ord(m.group(0)):02X}]", s)
    return s + cut


def pct(value: Any, digits: int = 0) -> str:
    """A share in [0, 1] as a percentage (``-`` when unknown)."""
    if value is None:
        return "-"
    return f"{100 * float(value):.{digits}f}%"


def num(value: Any, digits: int = 0) -> str:
    """A count with thousands separators, or a float with ``digits`` decimals (``-`` when unknown)."""
    if value is None:
        return "-"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    try:
        return f"{int(round(float(value))):,}"
    except (TypeError, ValueError):
        return show(value, 40)


def duration(seconds: Any) -> str:
    """Seconds as ``12 s``, ``5 min``, ``3.2 h`` or ``1.5 days`` (``-`` when unknown)."""
    if seconds is None:
        return "-"
    s = float(seconds)
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 172800:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} days"


def who(row: dict[str, Any] | None, id_key: str = "account_id", handle_key: str = "handle") -> str:
    """``@handle`` when known, else the account id."""
    if not row:
        return "-"
    h = row.get(handle_key)
    if h:
        return "@" + str(h).lstrip("@")
    return str(row.get(id_key) or "-")


def day(value: Any) -> str:
    """The ``YYYY-MM-DD`` part of an ISO time ("" when unknown)."""
    return str(value)[:10] if value else ""


def _short(s: float) -> str:
    if s < 60:
        return f"{s:g}s"
    if s < 3600:
        return f"{s / 60:g}min"
    if s < 86400:
        return f"{s / 3600:g}h"
    return f"{s / 86400:g}d"


def bin_label(start: Any, end: Any) -> str:
    """A latency bin as ``5s-10s``, ``1h-3h`` or ``>7d`` (the last bin has no end)."""
    lo = float(start or 0)
    if end is None or float(end) == float("inf"):
        return f">{_short(lo)}"
    return f"{_short(lo)}-{_short(float(end))}"

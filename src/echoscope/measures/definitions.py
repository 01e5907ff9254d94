"""The definitions every measure shares: parameters, named constants, and how accounts are classed.

Why a module of its own: the Ibis expressions (:mod:`.expressions`, run on Spark and used as the reference) and
the DuckDB SQL plan (:mod:`.duckdb_plan`) must count the same things. Everything both read -- which statuses
make an amplifier "later suspended", the latency bands and histogram edges, which column of an optional result
table marks an account as coordinated or high risk -- is named once here, so the two paths (and the docs in
``docs/measures.md``) cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ..errors import ConfigError

#: engagement kinds counted apart (columns ``reposts``, ``quotes``, ``replies``, ``likes``)
KIND_COLUMNS: dict[str, str] = {"repost": "reposts", "quote": "quotes", "reply": "replies", "like": "likes"}

#: "Later suspended": an amplifier whose latest status check (``account_status``, latest ``checked_at``; equal
#: times broken by status name) says one of these. Deleted accounts count with suspended ones, as in the
#: published figures. Columns ``share_suspended``, ``share_suspended_reposts``, ``suspended_amplifiers``,
#: ``engagements_suspended``, ``reposts_suspended`` and the super-spreaders' ``status`` all use it.
SUSPENDED_STATUSES: tuple[str, ...] = ("suspended", "deleted")

#: The three amplifier classes of ``engagements_suspended`` / ``engagements_flagged`` / ``engagements_organic``
#: (they add up to ``engagements`` on every row; an engagement is in exactly one class, first match wins).
AMPLIFIER_CLASSES: dict[str, str] = {
    "suspended": "the amplifier is later suspended (SUSPENDED_STATUSES at its latest status check)",
    "flagged": "not later suspended, and in a coordinated cluster (coord_members) or high risk (account_scores)",
    "organic": "every other engagement (never-checked accounts included: unchecked is not evidence either way)",
}

#: latency bands reported as ``share_within_<name>``: name -> seconds (a latency x is within when 0 <= x <= s)
LATENCY_BANDS: dict[str, int] = {"10s": 10, "60s": 60, "5min": 300}

#: latency quantiles reported as ``latency_p<NN>`` (seconds)
LATENCY_QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)

#: Bin edges (seconds) of the ``amplification_latency`` histogram. Bin i holds latencies x with
#: ``LATENCY_EDGES[i] < x <= LATENCY_EDGES[i + 1]`` (bin 0 also holds x = 0); the last bin is open (x above 7
#: days). Bins are closed on the right like the ``share_within_*`` bands, so the engagements of the bins up to
#: the one ending at 10 s (60 s, 300 s) are exactly ``share_within_10s`` (60s, 5min) x ``latency_known``.
LATENCY_EDGES: tuple[int, ...] = (0, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600,
                                  86400, 2 * 86400, 7 * 86400)

#: columns of ``coord_members`` that, when present and boolean, say a member's cluster was judged coordinated
#: (the first one present is used; without one, every member counts)
COORD_FLAG_COLUMNS: tuple[str, ...] = ("coordinated", "flagged", "significant")

#: the boolean column of ``account_scores`` that marks a high-risk account (the score's own high-risk line)
RISK_FLAG_COLUMN = "high_risk"

#: ``account_scores.score`` at or above which an account counts as high risk when ``account_scores`` has no
#: ``high_risk`` column (scores stored before the score kept its own line) and no ``--risk-threshold`` is given
DEFAULT_RISK_THRESHOLD = 0.7

#: scope kinds, in the order result rows are sorted
SCOPES: tuple[str, ...] = ("study", "group", "target")


def latency_column(q: float) -> str:
    """Column name of a latency quantile: 0.1 -> ``latency_p10``."""
    return f"latency_p{int(round(q * 100)):02d}"


def parse_top(value: str | float) -> float:
    """Parse ``--top``: ``1%`` or ``0.01`` (a fraction in (0, 1])."""
    if isinstance(value, (int, float)):
        k = float(value)
        text = str(value)
    else:
        text = value.strip()
        try:
            k = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ConfigError(f"--top '{value}' is not a share; give a percentage like 1% or a fraction like "
                              "0.01") from None
    if not 0.0 < k <= 1.0:
        raise ConfigError(f"--top '{text}' must be above 0 and at most 100% (e.g. 1% or 0.01)")
    return k


def parse_date(value: str | dt.date | None, flag: str) -> dt.date | None:
    """Parse ``YYYY-MM-DD`` (a UTC calendar day)."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{flag} '{value}' is not a date; use YYYY-MM-DD (UTC), e.g. 2020-06-01") from None


@dataclasses.dataclass(frozen=True)
class Params:
    """Parameters of one measurement run (see docs/measures.md for each one's meaning and cost).

    Attributes
    ----------
    group : str or None
        Only targets of this group.
    since, until : date or None
        First and last UTC day (inclusive) of engagements and posts counted.
    top : float
        Share of amplifiers counted as "top" (``top_share``, super-spreaders), in (0, 1].
    rapid_latency_s : float
        An engagement is rapid when it comes at most this many seconds after its post.
    rapid_min_posts : int
        Distinct posts a rapid-fire sequence needs (at least 2).
    risk_threshold : float or None
        None: an account is high risk when ``account_scores.high_risk`` says so (the score's own line; for
        scores stored without that column, ``score >= DEFAULT_RISK_THRESHOLD``). A number overrides the score's
        own high-risk line for this run: ``score >= risk_threshold``.
    lorenz_points : int
        Resolution of the stored Lorenz curve (points per scope).
    """

    group: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    top: float = 0.01
    rapid_latency_s: float = 10.0
    rapid_min_posts: int = 3
    risk_threshold: float | None = None
    lorenz_points: int = 100

    @classmethod
    def parse(cls, *, group: str | None = None, since: str | dt.date | None = None,
              until: str | dt.date | None = None, top: str | float = 0.01, rapid_latency_s: float = 10.0,
              rapid_min_posts: int = 3, risk_threshold: float | None = None, lorenz_points: int = 100) -> Params:
        """Parameters from user input (``--top 1%``, dates as ``YYYY-MM-DD``), checked."""
        p = cls(group=group, since=parse_date(since, "--since"), until=parse_date(until, "--until"),
                top=parse_top(top), rapid_latency_s=float(rapid_latency_s), rapid_min_posts=int(rapid_min_posts),
                risk_threshold=None if risk_threshold is None else float(risk_threshold),
                lorenz_points=int(lorenz_points))
        p.check()
        return p

    def check(self) -> None:
        """Raise ConfigError for parameters no run can use."""
        parse_top(self.top)
        if self.since and self.until and self.since > self.until:
            raise ConfigError(f"--since {self.since} is after --until {self.until}; swap them")
        if self.rapid_min_posts < 2:
            raise ConfigError("rapid_min_posts must be at least 2 (one fast engagement is not a sequence)")
        if self.lorenz_points < 1:
            raise ConfigError(f"lorenz_points must be at least 1, not {self.lorenz_points}")

    def as_meta(self) -> dict[str, Any]:
        """The parameters as plain data (stored with the result tables and the run)."""
        return {"group": self.group, "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None, "top": self.top,
                "rapid_latency_s": self.rapid_latency_s, "rapid_min_posts": self.rapid_min_posts,
                "risk_threshold": self.risk_threshold, "lorenz_points": self.lorenz_points}


@dataclasses.dataclass(frozen=True)
class FlagRule:
    """How an optional result table marks accounts (coordinated or high risk), decided once for both engines.

    Attributes
    ----------
    table : str
        ``coord_members`` or ``account_scores``.
    column : str or None
        A boolean column: an account is marked when it is true for one of its rows.
    threshold : float or None
        Else ``score >= threshold``; with neither, every account of the table is marked.
    why : str
        Where the rule comes from, for the stored summary (``high_risk_rule``, ``coordinated_rule``).
    """

    table: str
    column: str | None = None
    threshold: float | None = None
    why: str = ""

    def describe(self) -> str:
        if self.column is not None:
            what = f"{self.table}.{self.column}"
        elif self.threshold is not None:
            what = f"{self.table}.score >= {self.threshold:g}"
        else:
            what = f"every account in {self.table}"
        return f"{what} ({self.why})" if self.why else what


def table_columns(con: Any, name: str) -> dict[str, bool] | None:
    """Columns of table ``name`` of an Ibis connection as name -> is boolean; None when there is no such table."""
    if name not in con.list_tables():
        return None
    schema = con.table(name).schema()
    return {c: schema[c].is_boolean() for c in schema.names}


def coord_rule(columns: dict[str, bool] | None) -> FlagRule | None:
    """Which accounts of ``coord_members`` count as coordinated (None: no such result, share stays null)."""
    if columns is None or "account_id" not in columns:
        return None
    col = next((c for c in COORD_FLAG_COLUMNS if columns.get(c)), None)
    return FlagRule("coord_members", column=col, why="coordinate's flag" if col else "every cluster member")


def risk_rule(columns: dict[str, bool] | None, p: Params) -> FlagRule | None:
    """Which accounts of ``account_scores`` count as high risk (None: no such result, share stays null).

    An explicit ``risk_threshold`` overrides the score's own high-risk line (``score >= threshold``); else the
    stored ``high_risk`` column; else, for scores stored before that column, ``score >= DEFAULT_RISK_THRESHOLD``.

    Raises
    ------
    ConfigError
        ``risk_threshold`` given while ``account_scores`` has no ``score`` column.
    """
    if columns is None or "account_id" not in columns:
        return None
    if p.risk_threshold is not None:
        if "score" not in columns:
            raise ConfigError(f"--risk-threshold {p.risk_threshold:g} needs a 'score' column in account_scores, "
                              f"which has {', '.join(sorted(columns))}; run 'echoscope score' again or leave out "
                              "--risk-threshold")
        return FlagRule("account_scores", threshold=float(p.risk_threshold), why="--risk-threshold")
    if columns.get(RISK_FLAG_COLUMN):
        return FlagRule("account_scores", column=RISK_FLAG_COLUMN, why="the score's own high-risk line")
    if "score" in columns:
        return FlagRule("account_scores", threshold=DEFAULT_RISK_THRESHOLD,
                        why="account_scores stored without a high_risk column")
    return None


def flag_rules(con: Any, p: Params) -> dict[str, FlagRule | None]:
    """The coordinated and high-risk rules for the tables of an Ibis connection (DuckDB or Spark)."""
    return {"coordinated": coord_rule(table_columns(con, "coord_members")),
            "high_risk": risk_rule(table_columns(con, "account_scores"), p)}


__all__ = ["AMPLIFIER_CLASSES", "COORD_FLAG_COLUMNS", "DEFAULT_RISK_THRESHOLD", "FlagRule", "KIND_COLUMNS",
           "LATENCY_BANDS", "LATENCY_EDGES", "LATENCY_QUANTILES", "Params", "RISK_FLAG_COLUMN", "SCOPES",
           "SUSPENDED_STATUSES", "coord_rule", "flag_rules", "latency_column", "parse_date", "parse_top",
           "risk_rule", "table_columns"]

"""What every part of the report's gathering shares: its options, the query context, value conversions.

Why a context object: the parts (:mod:`.stages`, :mod:`.amplification`, :mod:`.coordination`,
:mod:`.accounts`) each read some tables of one study through one :class:`~echoscope.engine.Engine`, and each
may find a table or column missing. :class:`Ctx` carries the engine, the manifest's result entries, the
options and the two lists where a part says what it could not show -- ``notes`` (limits, shown under *Method
and caveats*) and ``missing`` (what is missing and the command that fills it, shown first in the summary) --
so no part fails because another's input is absent.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine import Engine

ProgressFn = Callable[[dict[str, Any]], None]

#: statuses that make an account "later suspended" in the network picture and the account cards (the same
#: two the measures count: deleted accounts count with suspended ones)
SUSPENDED_STATUSES: tuple[str, ...] = ("suspended", "deleted")

#: the latest status check of every account that has one (status and time)
STATUS_SQL = """SELECT account_id, arg_max(status, coalesce(checked_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'))
    AS status, max(checked_at) AS checked_at FROM account_status GROUP BY account_id"""


@dataclass
class ReportOptions:
    """Size limits of a report (top-N sampling keeps big studies' reports small; the exports hold every row).

    Attributes
    ----------
    top_targets : int
        Targets drawn in the per-target charts (by engagements received).
    max_table_rows : int
        Rows of any table in the HTML.
    clusters : int
        Clusters listed; ``evidence_per_cluster`` strongest evidence rows each for every coordinated cluster
        listed and the first ``evidence_clusters`` others.
    members_per_cluster : int
        Members listed under each cluster (strongest first; the exports and the explorer hold every member).
    network_nodes, network_edges : int
        Accounts and edges drawn in the network picture (largest clusters first).
    accounts : int
        Highest-risk accounts shown with profile facts and example posts.
    example_posts : int
        Example posts per account card.
    min_engagements : int
        A target (or a target's week) needs at least this many engagements to be named in a headline sentence.
    result_preview_rows : int
        Rows previewed of every result table.
    superspreaders : int
        Top amplifiers of all targets listed from ``amplification_superspreaders``.
    """

    top_targets: int = 8
    max_table_rows: int = 200
    clusters: int = 30
    evidence_clusters: int = 12
    evidence_per_cluster: int = 5
    members_per_cluster: int = 40
    network_nodes: int = 300
    network_edges: int = 3000
    accounts: int = 25
    example_posts: int = 2
    min_engagements: int = 20
    result_preview_rows: int = 8
    superspreaders: int = 25


@dataclass
class Ctx:
    """One report's query context (see the module docstring)."""

    engine: Engine
    opt: ReportOptions
    results: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    _cols: dict[str, list[str]] = field(default_factory=dict)

    @property
    def con(self) -> Any:
        return self.engine.raw

    def cols(self, name: str) -> list[str]:
        """Columns of a result table or view ([] when it is absent), looked up once."""
        if name not in self._cols:
            self._cols[name] = self.engine.columns(name)
        return self._cols[name]

    def has(self, name: str) -> bool:
        """Is result table ``name`` in the study (with columns a query can read)?"""
        return name in self.results and bool(self.cols(name))

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Small query results as Python rows (through Arrow; sums of BIGINT come back as numbers)."""
        out = self.con.execute(sql, params or []).fetch_arrow_table().to_pylist()
        for r in out:
            for k, v in r.items():
                if isinstance(v, decimal.Decimal):
                    r[k] = int(v) if v == v.to_integral_value() else float(v)
        return out

    def one(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.rows(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def need(self, what: str, command: str, *, stale: bool = False) -> None:
        """Record something missing from the report and the command that fills it (said once)."""
        if not any(m["what"] == what for m in self.missing):
            self.missing.append({"what": what, "command": command, "stale": stale})

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def num(v: Any) -> float | None:
    """A float, or None for null, NaN and what is not a number."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def iso(v: Any) -> str | None:
    """A time as ``YYYY-MM-DD HH:MM:SSZ`` (UTC); epoch seconds accepted; dates as ``YYYY-MM-DD``."""
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=dt.UTC)
        return v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if math.isnan(float(v)):
            return None
        return dt.datetime.fromtimestamp(float(v), dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return str(v)


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def clean(v: Any) -> Any:
    """Make a DuckDB value JSON-friendly (datetimes to ISO text, NaN to None, decimals to numbers)."""
    if isinstance(v, (dt.datetime, dt.date)):
        return iso(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    if hasattr(v, "as_py"):
        return clean(v.as_py())
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if v is not None and not isinstance(v, (str, int, float, bool)):
        return str(v)
    return v


def meta_find(meta: Any, key: str) -> Any:
    """First value of ``key`` anywhere in a nested meta dict (None when absent)."""
    if isinstance(meta, dict):
        if key in meta:
            return meta[key]
        for v in meta.values():
            hit = meta_find(v, key)
            if hit is not None:
                return hit
    return None

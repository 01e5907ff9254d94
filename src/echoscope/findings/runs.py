"""The stored analysis runs of a study, side by side: id, analysis, time, parameters, headline counts, latest.

Every ``coordinate``, ``score`` and ``measure`` run stores its tables with a run id, its parameters and its
summary in the manifest (:func:`echoscope.engine.analysis.store_result`); ``--run ID`` reads an earlier one.
This module lists them for ``echoscope runs`` and the explorer. It reads only the manifest (no table is
scanned), and words each run's headline from the counts the run stored, with one function per analysis
(:data:`HEADLINES`), so the numbers are the ones the run itself reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..accounts.risk import headline as risk_headline
from ..engine.analysis import ANALYSIS_COMMANDS, KEEP_RUNS
from ..errors import ConfigError
from ..store.study import StudyStore

#: parameters shown in a run's one-line summary, per analysis (the rest stay in ``parameters``)
KEY_PARAMETERS: dict[str, tuple[str, ...]] = {
    "coordination": ("behaviours", "window", "min_weight", "alpha", "null", "semantics"),
    "accounts": ("mode", "high_risk_threshold"),
    "measures": ("group", "since", "until", "top", "rapid_latency_s"),
}

#: summary counts kept as a run's headline numbers, per analysis
HEADLINE_COUNTS: dict[str, tuple[str, ...]] = {
    "coordination": ("coordinated_clusters", "flagged_accounts", "significant_edges", "edges", "clusters",
                     "expected_false_edges", "network"),
    "accounts": ("accounts", "high_risk", "high_risk_threshold", "mode"),
    "measures": ("headline",),
}


def _n(x: Any) -> str:
    return f"{int(x):,}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "?"


def _coordination(s: dict[str, Any]) -> str:
    return (f"{_n(s.get('coordinated_clusters'))} coordinated cluster(s), {_n(s.get('flagged_accounts'))} "
            f"account(s); {_n(s.get('significant_edges'))} judged edges of {_n(s.get('edges'))} "
            f"({s.get('network') or '?'} network)")


def _accounts(s: dict[str, Any]) -> str:
    try:
        return risk_headline(s)
    except ConfigError:  # a summary written before the high-risk line
        return "scores stored"


def _measures(s: dict[str, Any]) -> str:
    return str(s.get("headline") or "measures stored")


#: analysis -> its headline sentence from the run's stored summary
HEADLINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "coordination": _coordination, "accounts": _accounts, "measures": _measures,
}


def parameters_text(analysis: str, parameters: dict[str, Any]) -> str:
    """The run's key parameters in one line: ``behaviours co-retweet,rapid-fire; window 60; alpha 0.01``."""
    parts = []
    for k in KEY_PARAMETERS.get(analysis, ()):
        v = parameters.get(k)
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            v = ",".join(str(x) for x in v)
        elif isinstance(v, float):
            v = f"{v:g}"
        parts.append(f"{k} {v}")
    return "; ".join(parts) or "defaults"


def list_runs(study: StudyStore, analysis: str | None = None) -> dict[str, Any]:
    """Every stored run (of ``analysis`` when given), newest first.

    Returns
    -------
    dict
        ``study`` (path), ``latest`` (``{analysis: run id}``), ``keep_default`` (runs ``--prune`` keeps per
        analysis) and ``runs``: per run ``run_id``, ``analysis``, ``command`` (what made it), ``written_at``,
        ``latest`` (its tables are the default view), ``parameters``, ``parameters_text``, ``counts`` (the
        headline counts it stored), ``headline`` (in words), ``tables`` (rows per stored table) and
        ``parts`` (its Parquet files, relative to the study).
    """
    m = study.manifest()
    latest = m.latest_runs()
    current = set(latest.values())
    out = []
    for r in reversed(m.runs(analysis)):
        name = str(r.get("analysis"))
        summary = r.get("summary") if isinstance(r.get("summary"), dict) else {}
        params = r.get("parameters") if isinstance(r.get("parameters"), dict) else {}
        tables = r.get("tables") or {}
        words = HEADLINES.get(name)
        out.append({
            "run_id": r.get("id"), "analysis": name, "command": ANALYSIS_COMMANDS.get(name),
            "written_at": r.get("written_at"), "latest": r.get("id") in current, "parameters": params,
            "parameters_text": parameters_text(name, params),
            "counts": {k: summary[k] for k in HEADLINE_COUNTS.get(name, ()) if k in summary},
            "headline": words(summary) if words else "",
            "tables": {t: int(v.get("rows", 0)) for t, v in tables.items()},
            "parts": sorted(p for v in tables.values() for p in v.get("parts", [])),
        })
    return {"study": str(study.path), "latest": latest, "keep_default": KEEP_RUNS, "runs": out}


__all__ = ["HEADLINES", "HEADLINE_COUNTS", "KEY_PARAMETERS", "list_runs", "parameters_text"]

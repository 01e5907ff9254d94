"""The findings of a study at a glance: what data it holds, which analyses ran (which run is shown, with its
parameters), the headline counts those runs stored, and the caveats that go with them.

Counts of rows come from the manifest (no table is scanned); the coordination and score headlines are the
numbers each run stored in its summary; the cluster counts are ``count(*)`` over the small cluster table.
"""

from __future__ import annotations

from typing import Any

from ..accounts.risk import HIGH_RISK_THRESHOLD, headline
from ..engine import Engine
from ..engine.analysis import ANALYSIS_COMMANDS
from .base import columns, has_results, run_info
from .wording import CAVEATS, format_p

#: canonical tables counted on the overview
DATA_TABLES: tuple[str, ...] = ("accounts", "posts", "likes", "account_status", "targets", "logins")

#: parameters of a coordination run shown on the overview (others stay in ``parameters``)
KEY_PARAMETERS: tuple[str, ...] = ("behaviours", "window", "min_weight", "alpha", "null", "semantics")


def overview(engine: Engine) -> dict[str, Any]:
    """What the study holds and what its stored results say (see the module docstring).

    Returns
    -------
    dict
        ``study`` (name, path), ``data`` (rows per canonical table), ``coordination`` (None when not run, else
        ``run``, ``parameters``, ``clusters``, ``coordinated_clusters``, ``flagged_accounts``, ``network``,
        ``significant_edges``, ``expected_false_edges``, ``largest``), ``accounts`` (None when not run, else
        ``run``, ``scored``, ``high_risk``, ``high_risk_threshold``, ``headline``, ``mode``), ``missing``
        (analysis -> the command that runs it) and ``caveats``.
    """
    study = engine.study
    m = study.manifest()
    data = {t: m.table_rows(t) for t in DATA_TABLES}
    out: dict[str, Any] = {"study": {"name": study.name, "path": str(study.path)}, "data": data,
                           "coordination": None, "accounts": None, "missing": {}, "caveats": list(CAVEATS)}
    if has_results(engine, "coordination"):
        info = run_info(engine, "coordination") or {}
        s = info.get("summary") or {}
        have = columns(engine, "coord_clusters")
        coord = '"coordinated"' if "coordinated" in have else "true"
        counts = engine.rows(f"""SELECT count(*) AS clusters, count(*) FILTER (WHERE {coord}) AS coordinated
            FROM coord_clusters""")[0]
        flagged = engine.scalar(f"""SELECT count(DISTINCT CAST(m.account_id AS VARCHAR)) FROM coord_members m
            JOIN coord_clusters c ON CAST(c.cluster_id AS VARCHAR) = CAST(m.cluster_id AS VARCHAR)
            WHERE {coord.replace('"coordinated"', 'c."coordinated"')}""")
        size = '"size"' if "size" in have else "NULL"
        pv = '"p_value"' if "p_value" in have else "NULL"
        largest = engine.rows(f"""SELECT cluster_id, {size} AS size, {pv} AS p_value FROM coord_clusters
            WHERE {coord} ORDER BY {size} DESC NULLS LAST, cluster_id LIMIT 1""")
        params = info.get("parameters") or {}
        out["coordination"] = {
            "run": {k: info.get(k) for k in ("run_id", "written_at", "latest")},
            "parameters": {k: params[k] for k in KEY_PARAMETERS if k in params},
            "clusters": int(counts["clusters"] or 0), "coordinated_clusters": int(counts["coordinated"] or 0),
            "flagged_accounts": int(flagged or 0), "network": s.get("network"),
            "candidate_edges": s.get("edges"), "significant_edges": s.get("significant_edges"),
            "expected_false_edges": s.get("expected_false_edges"),
            "largest": ({"cluster_id": largest[0]["cluster_id"], "size": largest[0]["size"],
                         "p_value_text": format_p(largest[0]["p_value"])} if largest else None),
        }
    else:
        out["missing"]["coordination"] = f"{ANALYSIS_COMMANDS['coordination']} {study.path}"
    if has_results(engine, "accounts"):
        info = run_info(engine, "accounts") or {}
        s = dict(info.get("summary") or {})
        sc = columns(engine, "account_scores")
        line = float(s.get("high_risk_threshold", HIGH_RISK_THRESHOLD))
        high = '"high_risk"' if "high_risk" in sc else f"score >= {line!r}"
        counts = engine.rows(f"SELECT count(*) AS n, count(*) FILTER (WHERE {high}) AS high FROM account_scores")[0]
        s.setdefault("accounts", int(counts["n"] or 0))
        s.setdefault("high_risk", int(counts["high"] or 0))
        s.setdefault("high_risk_threshold", line)
        out["accounts"] = {"run": {k: info.get(k) for k in ("run_id", "written_at", "latest")},
                           "scored": int(s["accounts"]), "high_risk": int(s["high_risk"]),
                           "high_risk_threshold": float(s["high_risk_threshold"]), "mode": s.get("mode"),
                           "headline": headline(s)}
    else:
        out["missing"]["accounts"] = f"{ANALYSIS_COMMANDS['accounts']} {study.path}"
    if not has_results(engine, "measures"):
        out["missing"]["measures"] = f"{ANALYSIS_COMMANDS['measures']} {study.path}"
    return out


__all__ = ["DATA_TABLES", "KEY_PARAMETERS", "overview"]

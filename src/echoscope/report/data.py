"""Gather what the report and the JSON summary show, as plain, size-bounded Python data.

Why a separate gathering step: the HTML template, the charts, the JSON summary and pseudonymisation all work
on the same small document, so they cannot disagree, and the template never touches the study. Every number
is computed in DuckDB over the study's views (``engagements``, ``targets``, ``accounts``, ``account_status``,
result tables); Python only receives aggregates and top-N rows, so a report of a 1M-account study stays small
(the full data is in the exports).

The per-target statistics are computed here directly from ``engagements`` and ``targets`` -- not read from
``amplification_*`` -- so a study with only ingested data still gets them. Result tables of the analysis
stages are used when present and looked up by column name; a missing column degrades that part of the report
(with a note) instead of failing. The columns relied on are listed in :data:`COLUMNS_USED`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from ..store.study import StudyStore as Study

ProgressFn = Callable[[dict[str, Any]], None]

#: statuses that make an amplifier "later suspended" (deleted accounts count with suspended ones, as in
#: the measures)
SUSPENDED_STATUSES: tuple[str, ...] = ("suspended", "deleted")

#: amplifier classes of the weekly charts, in stacking order
CLASSES: tuple[str, ...] = ("later suspended", "flagged", "organic (not flagged)")

#: latency histogram bin edges in seconds (the last bin is open)
LATENCY_EDGES: tuple[float, ...] = (0, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600,
                                    12 * 3600, 86400, 2 * 86400, 7 * 86400)

#: boolean columns of ``coord_clusters`` / ``coord_members`` that mark a cluster judged coordinated
COORD_FLAG_COLUMNS: tuple[str, ...] = ("coordinated", "flagged", "significant")

#: boolean columns of ``account_scores`` that mark a high-risk account (else ``score >= risk_threshold``)
RISK_FLAG_COLUMNS: tuple[str, ...] = ("high_risk", "flagged")

#: the result-table columns this module reads, when present (documented in docs/report.md)
COLUMNS_USED: dict[str, tuple[str, ...]] = {
    "coord_members": ("cluster_id", "account_id", "degree", "strength"),
    "coord_clusters": ("cluster_id", "coordinated", "p_value", "z", "behaviours", "n_edges", "weight"),
    "coord_edges": ("account_a", "account_b", "behaviour", "weight", "significant", "p_value", "first_ts",
                    "last_ts", "min_gap_s"),
    "coord_evidence": ("account_a", "account_b", "behaviour", "object_id", "ts_a", "ts_b", "gap_s"),
    "account_scores": ("account_id", "score", "reasons", "reasons_text", "high_risk"),
    "account_signals": ("account_id", "signal", "value", "strength", "text"),
    "amplification_*": ("any: shown as stored, with their meta"),
    "truth_accounts": ("account_id", "campaign", "role"),
}

#: what each analysis stage writes and the command that runs it
STAGES: dict[str, dict[str, Any]] = {
    "measures": {"tables": ("amplification_summary",), "prefix": "amplification_", "command": "echoscope measure",
                 "what": "amplification measures (shares, concentration, speed, weekly series)"},
    "coordination": {"tables": ("coord_edges", "coord_clusters", "coord_members", "coord_evidence"),
                     "prefix": "coord_", "command": "echoscope coordinate",
                     "what": "coordination networks, clusters and their evidence"},
    "accounts": {"tables": ("account_signals", "account_scores"), "prefix": "account_",
                 "command": "echoscope score", "what": "account signals and risk scores"},
}


@dataclass
class ReportOptions:
    """Size limits and thresholds of a report (top-N sampling keeps big studies' reports small).

    Attributes
    ----------
    top_targets : int
        Targets drawn in the per-target charts (by engagements received); the table lists up to
        ``max_table_rows`` targets.
    max_table_rows : int
        Rows of any table in the HTML (the exports hold every row).
    clusters : int
        Clusters listed; ``evidence_per_cluster`` strongest evidence rows each for the first ``evidence_clusters``.
    network_nodes : int
        Accounts drawn in the network picture (largest clusters first).
    accounts : int
        Highest-risk accounts shown with profile facts and example posts.
    risk_threshold : float
        Score at or above which an account counts as high risk when ``account_scores`` has no flag column.
    min_engagements : int
        Targets with fewer engagements than this are not used for the per-target headline sentence.
    """

    top_targets: int = 8
    max_table_rows: int = 200
    clusters: int = 30
    evidence_clusters: int = 12
    evidence_per_cluster: int = 5
    network_nodes: int = 300
    network_edges: int = 3000
    accounts: int = 25
    example_posts: int = 2
    risk_threshold: float = 0.7
    min_engagements: int = 20
    result_preview_rows: int = 8


def _cols(con: Any, name: str) -> list[str]:
    try:
        return [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
    except Exception:
        return []


def _rows(con: Any, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    # through Arrow: DuckDB's own conversion of TIMESTAMPTZ to Python needs pytz
    rows = con.execute(sql, params or []).fetch_arrow_table().to_pylist()
    for r in rows:  # sums of BIGINT come back as HUGEINT/DECIMAL
        for k, v in r.items():
            if isinstance(v, decimal.Decimal):
                r[k] = int(v) if v == v.to_integral_value() else float(v)
    return rows


def _one(con: Any, sql: str) -> Any:
    rows = _rows(con, sql)
    return next(iter(rows[0].values())) if rows else None


def _num(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if math.isnan(float(v)):
            return None
        return dt.datetime.fromtimestamp(float(v), dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return str(v)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _clean(v: Any) -> Any:
    """Make a DuckDB value JSON-friendly (datetimes to ISO text, NaN to None)."""
    if isinstance(v, (dt.datetime, dt.date)):
        return _iso(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "as_py"):
        return _clean(v.as_py())
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, decimal.Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if v is not None and not isinstance(v, (str, int, float, bool)):
        return str(v)
    return v


def gather(study: Study, options: ReportOptions | None = None, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Collect the report document of ``study`` (see the module docstring).

    Returns
    -------
    dict
        Keys: ``study``, ``coverage``, ``stages``, ``targets``, ``groups``, ``overall``, ``weekly``, ``lorenz``,
        ``latency``, ``coordination``, ``accounts``, ``results``, ``truth``, ``notes``. Every value is plain
        JSON-friendly data (strings, numbers, lists, dicts).
    """
    from ..engine import Engine

    opt = options or ReportOptions()
    say = progress or (lambda e: None)
    eng = Engine(study)
    con = eng.raw
    con.execute(f"SET memory_limit='{eng.settings.memory_for('report')}'")
    try:
        doc: dict[str, Any] = {"notes": []}
        say({"event": "stage", "message": "report: data covered"})
        from ..engine.info import study_info

        info = study_info(study, eng)
        results = study.manifest().results()
        doc["study"] = {"title": info.get("name"), "path": str(study.path), "platforms": info.get("platforms", []),
                        "generated_at": _iso(dt.datetime.now(dt.UTC)),
                        "generation": info.get("generation")}
        doc["coverage"] = _coverage(info)
        doc["stages"] = _stages(results)
        avail = {n for n in results if _cols(con, n)}

        say({"event": "stage", "message": "report: amplifier classes"})
        flags = _prepare(con, avail, opt, doc["notes"])
        doc["flags"] = flags
        say({"event": "stage", "message": "report: per-target statistics"})
        doc["targets"], doc["groups"], doc["overall"] = _target_stats(con, opt)
        doc["targets_unresolved"] = _rows(con, 'SELECT handle, "group" FROM targets WHERE account_id IS NULL '
                                          'ORDER BY handle LIMIT 50')
        doc["weekly"] = _weekly(con, doc["targets"], opt)
        doc["lorenz"] = _lorenz(con, doc["targets"], opt)
        doc["latency"] = _latency(con, doc["targets"], opt)
        say({"event": "stage", "message": "report: coordination"})
        doc["coordination"] = _coordination(con, avail, results, opt, doc["notes"])
        say({"event": "stage", "message": "report: accounts"})
        doc["accounts"] = _accounts(con, avail, opt, doc["notes"])
        doc["amplification"] = _amplification(con, avail, results, opt)
        doc["results"] = _results(con, avail, results, opt)
        doc["truth"] = _truth(con, avail)
        return _clean(doc)
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------- coverage
def _coverage(info: dict[str, Any]) -> dict[str, Any]:
    tables = info.get("tables", {})
    files = info.get("files", [])
    q = info.get("quarantine", {})
    tot = {k: sum(int(f.get(k) or 0) for f in files) for k in ("read", "loaded", "quarantined", "duplicates")}
    return {
        "tables": {k: int(v.get("rows", 0)) for k, v in tables.items()},
        "engagements_by_kind": tables.get("engagements", {}).get("by_kind", {}),
        "time_span": info.get("time_span", {}),
        "files": [{k: f.get(k) for k in ("path", "format", "table", "read", "loaded", "quarantined", "duplicates",
                                         "ingested_at")} for f in files[:200]],
        "files_total": len(files),
        "totals": tot,
        "reconciled": bool(info.get("reconciled", True)),
        "quarantine": {"rows": int(q.get("rows", 0)), "by_reason": q.get("by_reason", [])[:10],
                       "by_file": q.get("by_file", [])[:10]},
    }


def _stages(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, st in STAGES.items():
        present = sorted(n for n in results if n.startswith(st["prefix"]))
        need = [t for t in st["tables"] if t not in results]
        written = [results[n].get("written_at") for n in present]
        out.append({"stage": name, "what": st["what"], "command": st["command"], "ran": not need,
                    "tables": present, "missing": need, "written_at": max(written) if written else None})
    return out


# ---------------------------------------------------------------------------------------------- classes
def _flag_sources(con: Any, avail: set[str], opt: ReportOptions, notes: list[str]) -> tuple[list[str], dict[str, Any]]:
    """SQL selects of flagged account ids (coordinated clusters, high risk) and a description of each."""
    parts: list[str] = []
    desc: dict[str, Any] = {"coordinated": None, "high_risk": None}
    if "coord_members" in avail:
        mc = _cols(con, "coord_members")
        if "account_id" in mc:
            cond = ""
            flag = next((c for c in COORD_FLAG_COLUMNS if c in mc), None)
            cc = _cols(con, "coord_clusters") if "coord_clusters" in avail else []
            cflag = next((c for c in COORD_FLAG_COLUMNS if c in cc), None)
            if flag:
                cond = f" WHERE m.{_q(flag)}"
                desc["coordinated"] = f"members of coord_members with {flag} = true"
            elif cflag and "cluster_id" in mc and "cluster_id" in cc:
                cond = (f" WHERE m.cluster_id IN (SELECT cluster_id FROM coord_clusters WHERE {_q(cflag)})")
                desc["coordinated"] = f"members of clusters with coord_clusters.{cflag} = true"
            else:
                desc["coordinated"] = "every member of coord_members (no coordinated flag column found)"
                notes.append("coord_members/coord_clusters have no 'coordinated' column: every cluster member "
                             "counts as flagged")
            parts.append(f"SELECT DISTINCT CAST(m.account_id AS VARCHAR) AS account_id, 'coordinated' AS why "
                         f"FROM coord_members m{cond}")
        else:
            notes.append("coord_members has no account_id column; coordination flags not used")
    if "account_scores" in avail:
        sc = _cols(con, "account_scores")
        flag = next((c for c in RISK_FLAG_COLUMNS if c in sc), None)
        if "account_id" in sc and flag:
            parts.append(f"SELECT CAST(account_id AS VARCHAR), 'high risk' FROM account_scores WHERE {_q(flag)}")
            desc["high_risk"] = f"account_scores.{flag} = true"
        elif "account_id" in sc and "score" in sc:
            parts.append(f"SELECT CAST(account_id AS VARCHAR), 'high risk' FROM account_scores "
                         f"WHERE score >= {float(opt.risk_threshold)}")
            desc["high_risk"] = f"account_scores.score >= {opt.risk_threshold:g}"
        else:
            notes.append("account_scores has neither a high_risk flag nor a score column; risk flags not used")
    return parts, desc


def _prepare(con: Any, avail: set[str], opt: ReportOptions, notes: list[str]) -> dict[str, Any]:
    """Temp tables: resolved targets, amplifier classes, per (target, amplifier) counts."""
    parts, desc = _flag_sources(con, avail, opt, notes)
    flagged = " UNION ALL ".join(parts) if parts else "SELECT CAST(NULL AS VARCHAR) AS account_id, '' AS why WHERE false"
    susp = ", ".join(f"'{s}'" for s in SUSPENDED_STATUSES)
    con.execute("""CREATE TEMP TABLE _r_tg AS
        SELECT account_id, max(handle) AS handle, min("group") AS grp, max(label) AS label
        FROM targets WHERE account_id IS NOT NULL GROUP BY account_id""")
    con.execute(f"""CREATE TEMP TABLE _r_flag AS
        SELECT account_id, string_agg(DISTINCT why, ', ' ORDER BY why) AS why FROM ({flagged}) f
        WHERE account_id IS NOT NULL GROUP BY account_id""")
    con.execute("""CREATE TEMP TABLE _r_status AS
        SELECT account_id, arg_max(status, coalesce(checked_at, TIMESTAMPTZ '1970-01-01 00:00:00+00')) AS status,
               max(checked_at) AS checked_at FROM account_status GROUP BY account_id""")
    # the engagements with targets, read once (the view joins posts to posts; every later query uses this)
    con.execute("""CREATE TEMP TABLE _r_te AS
        SELECT t.account_id AS target, t.grp, e.actor_id AS actor, e.kind, e.created_at, e.latency_s
        FROM engagements e JOIN _r_tg t ON e.subject_account_id = t.account_id""")
    # one row per (target, amplifier): the base of every per-target number
    con.execute("""CREATE TEMP TABLE _r_ta AS
        SELECT e.target, e.actor, count(*) AS n,
               count(*) FILTER (WHERE e.kind = 'repost') AS n_reposts,
               count(e.latency_s) FILTER (WHERE e.latency_s >= 0) AS n_lat,
               count(*) FILTER (WHERE e.latency_s >= 0 AND e.latency_s <= 10) AS n_10s,
               count(*) FILTER (WHERE e.latency_s >= 0 AND e.latency_s <= 60) AS n_60s,
               min(e.created_at) AS first_at, max(e.created_at) AS last_at
        FROM _r_te e GROUP BY e.target, e.actor""")
    con.execute(f"""CREATE TEMP TABLE _r_cls AS
        SELECT a.actor, s.status, s.checked_at, f.why AS flagged_by,
               CASE WHEN s.status IN ({susp}) THEN 'later suspended'
                    WHEN f.account_id IS NOT NULL THEN 'flagged' ELSE 'organic (not flagged)' END AS cls,
               (s.status IS NULL OR s.status = 'unknown') AS unchecked
        FROM (SELECT DISTINCT actor FROM _r_ta) a
        LEFT JOIN _r_status s ON s.account_id = a.actor LEFT JOIN _r_flag f ON f.account_id = a.actor""")
    n_flag = int(_one(con, "SELECT count(*) FROM _r_flag") or 0)
    return {"sources": desc, "flagged_accounts": n_flag, "any": bool(parts),
            "suspended_statuses": list(SUSPENDED_STATUSES)}


def _scope_stats(con: Any, key_sql: str, where: str = "") -> list[dict[str, Any]]:
    """Per-scope statistics from per-(scope, amplifier) counts. ``key_sql`` names the scope key column."""
    return _rows(con, f"""
        WITH x AS (
            SELECT {key_sql} AS k, ta.actor, sum(ta.n) AS n, sum(ta.n_reposts) AS n_reposts, sum(ta.n_lat) AS n_lat,
                   sum(ta.n_10s) AS n_10s, sum(ta.n_60s) AS n_60s, min(ta.first_at) AS first_at,
                   max(ta.last_at) AS last_at
            FROM _r_ta ta JOIN _r_tg t ON t.account_id = ta.target {where} GROUP BY 1, 2),
        r AS (
            SELECT x.*, c.cls, c.unchecked, c.checked_at,
                   row_number() OVER (PARTITION BY k ORDER BY x.n DESC, x.actor) AS rnk,
                   row_number() OVER (PARTITION BY k ORDER BY x.n ASC, x.actor DESC) AS asc_rank,
                   count(*) OVER (PARTITION BY k) AS n_amp
            FROM x JOIN _r_cls c ON c.actor = x.actor)
        SELECT k, sum(n) AS engagements, sum(n_reposts) AS reposts, count(*) AS amplifiers,
               sum(n) FILTER (WHERE cls = 'later suspended') AS e_suspended,
               sum(n_reposts) FILTER (WHERE cls = 'later suspended') AS r_suspended,
               sum(n) FILTER (WHERE cls = 'flagged') AS e_flagged,
               sum(n) FILTER (WHERE unchecked) AS e_unchecked,
               count(*) FILTER (WHERE cls = 'later suspended') AS suspended_amplifiers,
               sum(n) FILTER (WHERE rnk <= greatest(1, ceil(n_amp * 0.01 - 1e-9))) AS e_top1,
               max(CASE WHEN rnk <= greatest(1, ceil(n_amp * 0.01 - 1e-9)) THEN rnk END) AS top1_amplifiers,
               sum(asc_rank * n) AS sum_ix,
               sum(n_lat) AS latency_known, sum(n_10s) AS e_10s, sum(n_60s) AS e_60s,
               min(first_at) AS first_at, max(last_at) AS last_at,
               min(checked_at) AS status_checked_first, max(checked_at) AS status_checked_last
        FROM r GROUP BY k""")


def _finish(r: dict[str, Any]) -> dict[str, Any]:
    n = int(r.get("engagements") or 0)
    amp = int(r.get("amplifiers") or 0)
    reps = int(r.get("reposts") or 0)
    lat = int(r.get("latency_known") or 0)
    share = lambda a, b: (float(a or 0) / b) if b else None
    gini = None
    if n and amp:
        gini = 2.0 * float(r.get("sum_ix") or 0) / (amp * n) - (amp + 1.0) / amp
    return {
        "engagements": n, "reposts": reps, "amplifiers": amp,
        "share_suspended": share(r.get("e_suspended"), n),
        "share_suspended_reposts": share(r.get("r_suspended"), reps),
        "reposts_suspended": int(r.get("r_suspended") or 0),
        "engagements_suspended": int(r.get("e_suspended") or 0),
        "suspended_amplifiers": int(r.get("suspended_amplifiers") or 0),
        "share_flagged": share(r.get("e_flagged"), n),
        "share_unchecked": share(r.get("e_unchecked"), n),
        "top1_share": share(r.get("e_top1"), n), "top1_amplifiers": int(r.get("top1_amplifiers") or 0),
        "gini": gini, "latency_known": lat, "share_within_10s": share(r.get("e_10s"), lat),
        "share_within_60s": share(r.get("e_60s"), lat),
        "first_at": _iso(r.get("first_at")), "last_at": _iso(r.get("last_at")),
        "status_checked_first": _iso(r.get("status_checked_first")),
        "status_checked_last": _iso(r.get("status_checked_last")),
    }


def _target_stats(con: Any, opt: ReportOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    per = {r["k"]: _finish(r) for r in _scope_stats(con, "ta.target")}
    med = {r["target"]: r for r in _rows(con, """
        SELECT target, quantile_cont(latency_s, 0.5) AS latency_median FROM _r_te
        WHERE latency_s >= 0 GROUP BY 1""")}
    posts = {r["account_id"]: r["posts"] for r in _rows(con, """
        SELECT p.account_id, count(*) AS posts FROM posts p JOIN _r_tg t ON t.account_id = p.account_id
        WHERE p.kind = 'original' GROUP BY 1""")}
    targets = []
    for t in _rows(con, "SELECT account_id, handle, grp, label FROM _r_tg"):
        s = per.get(t["account_id"]) or _finish({})
        s.update({"account_id": t["account_id"], "handle": t["handle"], "group": t["grp"], "label": t["label"],
                  "posts": int(posts.get(t["account_id"]) or 0),
                  "latency_median_s": _num((med.get(t["account_id"]) or {}).get("latency_median"))})
        targets.append(s)
    targets.sort(key=lambda r: (-r["engagements"], str(r["handle"] or r["account_id"])))
    groups = []
    gstats = {r["k"]: _finish(r) for r in _scope_stats(con, "coalesce(t.grp, '(no group)')")}
    for g, s in sorted(gstats.items(), key=lambda kv: -kv[1]["engagements"]):
        members = [t for t in targets if (t["group"] or "(no group)") == g]
        s.update({"group": g, "targets": len(members), "labelled": sum(1 for t in members if t["label"])})
        groups.append(s)
    allk = _scope_stats(con, "'all'")
    overall = _finish(allk[0]) if allk else _finish({})
    overall["targets"] = len(targets)
    overall["labelled"] = sum(1 for t in targets if t["label"])
    overall["labels"] = sorted({t["label"] for t in targets if t["label"]})
    for why, key in (("coordinated", "coordinated"), ("high risk", "high_risk")):
        r = _rows(con, f"""SELECT sum(ta.n) AS n, count(DISTINCT ta.actor) AS accounts FROM _r_ta ta
            JOIN _r_flag f ON f.account_id = ta.actor WHERE f.why LIKE '%{why}%'""")[0]
        overall[f"engagements_{key}"] = int(r["n"] or 0)
        overall[f"amplifiers_{key}"] = int(r["accounts"] or 0)
        overall[f"share_{key}"] = (int(r["n"] or 0) / overall["engagements"]) if overall["engagements"] else None
    return targets, groups, overall


def _chart_targets(targets: list[dict[str, Any]], opt: ReportOptions) -> list[dict[str, Any]]:
    return [t for t in targets if t["engagements"] > 0][: opt.top_targets]


def _weekly(con: Any, targets: list[dict[str, Any]], opt: ReportOptions) -> dict[str, Any]:
    """Weekly engagements by amplifier class, for all targets together, each group, and the top targets."""
    base = """SELECT {key} AS k, CAST(date_trunc('week', e.created_at) AS DATE) AS week, c.cls, count(*) AS n
        FROM _r_te e JOIN _r_cls c ON c.actor = e.actor WHERE e.created_at IS NOT NULL {where}
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
    out: dict[str, Any] = {"all": [], "groups": [], "targets": []}
    out["all"] = [{"week": _iso(r["week"]), "class": r["cls"], "n": int(r["n"])}
                  for r in _rows(con, base.format(key="'all'", where=""))]
    out["groups"] = [{"group": r["k"], "week": _iso(r["week"]), "class": r["cls"], "n": int(r["n"])}
                     for r in _rows(con, base.format(key="coalesce(e.grp, '(no group)')", where=""))]
    top = [t["account_id"] for t in _chart_targets(targets, opt)]
    if top:
        con.execute("CREATE OR REPLACE TEMP TABLE _r_top AS SELECT unnest(?) AS account_id", [top])
        out["targets"] = [{"account_id": r["k"], "week": _iso(r["week"]), "class": r["cls"], "n": int(r["n"])}
                          for r in _rows(con, base.format(
                              key="e.target", where="AND e.target IN (SELECT account_id FROM _r_top)"))]
    return out


def _lorenz(con: Any, targets: list[dict[str, Any]], opt: ReportOptions, points: int = 50) -> dict[str, Any]:
    """Lorenz curves (share of amplifiers, poorest first, against share of engagements), down-sampled."""
    def curve(key_sql: str, where: str = "") -> list[dict[str, Any]]:
        return _rows(con, f"""
            WITH x AS (SELECT {key_sql} AS k, ta.actor, sum(ta.n) AS n FROM _r_ta ta JOIN _r_tg t ON t.account_id = ta.target
                       {where} GROUP BY 1, 2),
            r AS (SELECT k, n, row_number() OVER (PARTITION BY k ORDER BY n, actor) AS i, count(*) OVER (PARTITION BY k) AS m,
                         sum(n) OVER (PARTITION BY k ORDER BY n, actor ROWS UNBOUNDED PRECEDING) AS cum,
                         sum(n) OVER (PARTITION BY k) AS tot FROM x),
            b AS (SELECT *, ceil(i * {points}.0 / m) AS bucket FROM r)
            SELECT k, i::DOUBLE / m AS population_share, cum::DOUBLE / tot AS engagement_share FROM b
            QUALIFY i = max(i) OVER (PARTITION BY k, bucket) ORDER BY k, i""")
    out: dict[str, Any] = {"all": [], "targets": []}
    out["all"] = [{"population_share": 0.0, "engagement_share": 0.0}] + [
        {"population_share": r["population_share"], "engagement_share": r["engagement_share"]}
        for r in curve("'all'")]
    top = [t["account_id"] for t in _chart_targets(targets, opt)]
    if top:
        rows = curve("t.account_id", "WHERE t.account_id IN (SELECT account_id FROM _r_top)")
        for aid in top:
            out["targets"].append({"account_id": aid, "population_share": 0.0, "engagement_share": 0.0})
        out["targets"] += [{"account_id": r["k"], "population_share": r["population_share"],
                            "engagement_share": r["engagement_share"]} for r in rows]
    return out


def _bin_label(i: int) -> str:
    def fmt(s: float) -> str:
        if s < 60:
            return f"{s:g}s"
        if s < 3600:
            return f"{s / 60:g}min"
        if s < 86400:
            return f"{s / 3600:g}h"
        return f"{s / 86400:g}d"
    lo = LATENCY_EDGES[i]
    if i + 1 < len(LATENCY_EDGES):
        return f"{fmt(lo)}-{fmt(LATENCY_EDGES[i + 1])}"
    return f">{fmt(lo)}"


def _latency(con: Any, targets: list[dict[str, Any]], opt: ReportOptions) -> dict[str, Any]:
    """Latency histogram (engagement time minus post time) on fixed, roughly logarithmic bins."""
    edges = list(LATENCY_EDGES)
    case = " ".join(f"WHEN e.latency_s < {edges[i + 1]} THEN {i}" for i in range(len(edges) - 1))
    binx = f"CASE {case} ELSE {len(edges) - 1} END"
    sql = """SELECT {key} AS k, {binx} AS bin, c.cls, count(*) AS n FROM _r_te e
        JOIN _r_cls c ON c.actor = e.actor WHERE e.latency_s >= 0 {where} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
    out: dict[str, Any] = {"bins": [_bin_label(i) for i in range(len(edges))], "all": [], "targets": []}
    out["all"] = [{"bin": _bin_label(int(r["bin"])), "order": int(r["bin"]), "class": r["cls"], "n": int(r["n"])}
                  for r in _rows(con, sql.format(key="'all'", binx=binx, where=""))]
    if _chart_targets(targets, opt):
        out["targets"] = [{"account_id": r["k"], "bin": _bin_label(int(r["bin"])), "order": int(r["bin"]),
                           "class": r["cls"], "n": int(r["n"])}
                          for r in _rows(con, sql.format(key="e.target", binx=binx,
                                                         where="AND e.target IN (SELECT account_id FROM _r_top)"))]
    return out


# ---------------------------------------------------------------------------------------------- coordination
def _meta_find(meta: Any, key: str) -> Any:
    """First value of ``key`` anywhere in a nested meta dict."""
    if isinstance(meta, dict):
        if key in meta:
            return meta[key]
        for v in meta.values():
            hit = _meta_find(v, key)
            if hit is not None:
                return hit
    return None


def _coordination(con: Any, avail: set[str], results: dict[str, Any], opt: ReportOptions,
                  notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"ran": False, "clusters": [], "evidence": {}, "network": None, "summary": {}}
    if "coord_members" not in avail:
        return out
    mc = _cols(con, "coord_members")
    if not {"cluster_id", "account_id"} <= set(mc):
        notes.append("coord_members lacks cluster_id/account_id; coordination section left out")
        return out
    out["ran"] = True
    meta = {}
    for n in ("coord_clusters", "coord_edges", "coord_members"):
        meta = results.get(n, {}).get("meta") or meta
        if meta:
            break
    summ = _meta_find(meta, "summary") if isinstance(meta, dict) else None
    summ = summ if isinstance(summ, dict) else (meta if isinstance(meta, dict) else {})
    out["summary"] = {k: summ.get(k) for k in ("network", "semantics", "edges", "significant_edges",
                                               "expected_false_edges", "clusters", "coordinated_clusters",
                                               "flagged_accounts", "capped") if k in summ}
    out["parameters"] = summ.get("parameters") if isinstance(summ.get("parameters"), dict) else {}
    cc = _cols(con, "coord_clusters") if "coord_clusters" in avail else []
    cflag = next((c for c in COORD_FLAG_COLUMNS if c in cc), None)
    extra = [c for c in ("coordinated", "p_value", "z", "behaviours", "n_edges", "weight") if c in cc]
    sel_extra = ", ".join(f"k.{_q(c)} AS {_q('c_' + c)}" for c in extra)
    join = "LEFT JOIN coord_clusters k ON k.cluster_id = m.cluster_id" if "cluster_id" in cc else ""
    if not join:
        sel_extra = ""
    susp = ", ".join(f"'{s}'" for s in SUSPENDED_STATUSES)
    rows = _rows(con, f"""
        WITH m AS (SELECT DISTINCT CAST(cluster_id AS VARCHAR) AS cluster_id, CAST(account_id AS VARCHAR) AS account_id
                   FROM coord_members),
        a AS (SELECT account_id, any_value(created_at) AS created_at, any_value(followers_count) AS followers
              FROM accounts GROUP BY 1),
        per AS (SELECT m.cluster_id, count(*) AS size, min(a.created_at) AS created_first,
                       max(a.created_at) AS created_last,
                       quantile_cont(epoch(a.created_at), 0.75) - quantile_cont(epoch(a.created_at), 0.25) AS created_iqr_s,
                       median(a.followers) AS median_followers,
                       avg(CASE WHEN s.status IN ({susp}) THEN 1.0 ELSE 0.0 END) AS share_suspended,
                       count(s.status) AS status_known
                FROM m LEFT JOIN a USING (account_id) LEFT JOIN _r_status s USING (account_id) GROUP BY 1),
        tgt AS (SELECT m.cluster_id, ta.target, sum(ta.n) AS n, min(ta.first_at) AS first_at, max(ta.last_at) AS last_at
                FROM m JOIN _r_ta ta ON ta.actor = m.account_id GROUP BY 1, 2),
        tg2 AS (SELECT g.cluster_id, sum(g.n) AS target_engagements, min(g.first_at) AS first_at, max(g.last_at) AS last_at,
                       list(struct_pack(account_id := g.target, handle := t.handle, n := CAST(g.n AS BIGINT)) ORDER BY g.n DESC, g.target)[1:3]
                         AS top_targets
                FROM tgt g JOIN _r_tg t ON t.account_id = g.target GROUP BY 1)
        SELECT per.*, tg2.target_engagements, tg2.first_at, tg2.last_at, tg2.top_targets {(', ' + sel_extra) if sel_extra else ''}
        FROM per LEFT JOIN tg2 USING (cluster_id)
        {join.replace('m.cluster_id', 'per.cluster_id').replace('k.cluster_id', 'CAST(k.cluster_id AS VARCHAR)')}
        ORDER BY {('k.' + _q(cflag) + ' DESC NULLS LAST, ') if (cflag and join) else ''}per.size DESC, per.cluster_id
        LIMIT {int(opt.clusters)}""")
    total = _rows(con, """SELECT count(DISTINCT cluster_id) AS clusters, count(DISTINCT account_id) AS accounts
        FROM coord_members""")[0]
    if cflag and join:
        total.update(_rows(con, f"""SELECT count(*) AS coordinated_clusters FROM coord_clusters WHERE {_q(cflag)}""")[0])
    out["totals"] = total
    clusters = []
    for r in rows:
        c = {k: v for k, v in r.items() if not k.startswith("c_")}
        for k, v in r.items():
            if k.startswith("c_"):
                c[k[2:]] = v
        c["created_spread_days"] = ((r["created_last"] - r["created_first"]).total_seconds() / 86400
                                    if r.get("created_last") and r.get("created_first") else None)
        c["created_iqr_days"] = _num(r.get("created_iqr_s")) / 86400 if _num(r.get("created_iqr_s")) is not None else None
        c.pop("created_iqr_s", None)
        c["top_targets"] = [dict(x) for x in (r.get("top_targets") or [])]
        clusters.append(c)
    out["clusters"] = clusters
    ids = [c["cluster_id"] for c in clusters[: opt.evidence_clusters]]
    out["evidence"] = _evidence(con, avail, ids, opt, notes) if ids else {}
    out["network"] = _network_data(con, avail, [c["cluster_id"] for c in clusters], opt, notes)
    return out


def _evidence(con: Any, avail: set[str], ids: list[str], opt: ReportOptions, notes: list[str]) -> dict[str, list]:
    """Strongest evidence per cluster: pairs of members acting on the same object with the smallest gaps."""
    if "coord_evidence" not in avail:
        notes.append("no coord_evidence table: clusters are shown without their evidence")
        return {}
    ec = set(_cols(con, "coord_evidence"))
    if not {"account_a", "account_b"} <= ec:
        notes.append("coord_evidence lacks account_a/account_b; evidence not shown")
        return {}
    col = lambda c, alt="NULL": f"e.{_q(c)}" if c in ec else alt
    gap = col("gap_s", "abs(" + col("ts_b") + " - " + col("ts_a") + ")" if {"ts_a", "ts_b"} <= ec else "NULL")
    con.execute("CREATE OR REPLACE TEMP TABLE _r_evc AS SELECT unnest(?) AS cluster_id", [ids])
    rows = _rows(con, f"""
        WITH m AS (SELECT DISTINCT CAST(cluster_id AS VARCHAR) AS cluster_id, CAST(account_id AS VARCHAR) AS account_id
                   FROM coord_members WHERE CAST(cluster_id AS VARCHAR) IN (SELECT cluster_id FROM _r_evc)),
        h AS (SELECT account_id, any_value(handle) AS handle FROM accounts GROUP BY 1),
        x AS (SELECT ma.cluster_id, CAST(e.account_a AS VARCHAR) AS account_a, CAST(e.account_b AS VARCHAR) AS account_b,
                     {col('behaviour')} AS behaviour, CAST({col('object_id')} AS VARCHAR) AS object_id,
                     {col('ts_a')} AS ts_a, {col('ts_b')} AS ts_b, {gap} AS gap_s
              FROM coord_evidence e JOIN m ma ON ma.account_id = e.account_a JOIN m mb ON mb.account_id = e.account_b
              WHERE ma.cluster_id = mb.cluster_id
              QUALIFY row_number() OVER (PARTITION BY ma.cluster_id ORDER BY {gap} NULLS LAST, object_id, account_a,
                                         account_b) <= {int(opt.evidence_per_cluster)})
        SELECT x.*, ha.handle AS handle_a, hb.handle AS handle_b, p.text AS object_text, p.created_at AS object_created_at,
               p.account_id AS object_account_id
        FROM x LEFT JOIN h ha ON ha.account_id = x.account_a LEFT JOIN h hb ON hb.account_id = x.account_b
        LEFT JOIN (SELECT post_id, any_value(text) AS text, any_value(created_at) AS created_at,
                          any_value(account_id) AS account_id FROM posts GROUP BY 1) p ON p.post_id = x.object_id
        ORDER BY x.cluster_id, x.gap_s NULLS LAST, x.object_id""")
    out: dict[str, list] = {}
    for r in rows:
        r["ts_a"] = _iso(r["ts_a"])
        r["ts_b"] = _iso(r["ts_b"])
        r["object_post_id"] = r["object_id"] if r.get("object_text") is not None or r.get("object_created_at") else None
        if r["object_post_id"] is not None:
            r["object_id"] = None  # an id: shown (and pseudonymised) as a post id
        out.setdefault(r["cluster_id"], []).append(r)
    return out


def _network_data(con: Any, avail: set[str], cluster_ids: list[str], opt: ReportOptions,
                  notes: list[str]) -> dict[str, Any] | None:
    """Nodes (largest clusters first, up to ``network_nodes``) and their strongest edges for the picture."""
    if not cluster_ids:
        return None
    con.execute("CREATE OR REPLACE TEMP TABLE _r_netc AS SELECT unnest(?) AS cluster_id, "
                "generate_subscripts(?, 1) AS pos", [cluster_ids, cluster_ids])
    mc = set(_cols(con, "coord_members"))
    order = "m.strength DESC NULLS LAST, " if "strength" in mc else ("m.degree DESC NULLS LAST, " if "degree" in mc else "")
    nodes = _rows(con, f"""
        SELECT CAST(m.cluster_id AS VARCHAR) AS cluster_id, CAST(m.account_id AS VARCHAR) AS account_id,
               a.handle, s.status, c.pos
        FROM coord_members m JOIN _r_netc c ON c.cluster_id = CAST(m.cluster_id AS VARCHAR)
        LEFT JOIN (SELECT account_id, any_value(handle) AS handle FROM accounts GROUP BY 1) a
          ON a.account_id = m.account_id
        LEFT JOIN _r_status s ON s.account_id = m.account_id
        ORDER BY c.pos, {order}m.account_id LIMIT {int(opt.network_nodes)}""")
    edges: list[dict[str, Any]] = []
    if "coord_edges" in avail and nodes:
        ec = set(_cols(con, "coord_edges"))
        if {"account_a", "account_b"} <= ec:
            w = "e.weight" if "weight" in ec else "1.0"
            conds = ["e.account_a <> e.account_b"]
            if "significant" in ec:
                conds.append("e.significant")
            net = None
            if "behaviour" in ec:
                # draw one network: the fused one when it exists, else the behaviour with most judged edges
                net = _one(con, f"""SELECT behaviour FROM coord_edges e WHERE {' AND '.join(conds)}
                                   GROUP BY 1 ORDER BY (behaviour = 'fused') DESC, count(*) DESC LIMIT 1""")
                if net is not None:
                    conds.append("e.behaviour = " + "'" + str(net).replace("'", "''") + "'")
            con.execute("CREATE OR REPLACE TEMP TABLE _r_netn AS SELECT unnest(?) AS account_id",
                        [[n["account_id"] for n in nodes]])
            edges = _rows(con, f"""SELECT CAST(e.account_a AS VARCHAR) AS account_a, CAST(e.account_b AS VARCHAR) AS account_b,
                    {w} AS weight FROM coord_edges e
                    WHERE {' AND '.join(conds)} AND e.account_a IN (SELECT account_id FROM _r_netn)
                      AND e.account_b IN (SELECT account_id FROM _r_netn)
                    ORDER BY weight DESC, account_a, account_b LIMIT {int(opt.network_edges)}""")
        else:
            notes.append("coord_edges lacks account_a/account_b; the network picture shows clusters without edges")
    total_nodes = int(_one(con, "SELECT count(DISTINCT account_id) FROM coord_members") or 0)
    return {"nodes": nodes, "edges": edges, "total_nodes": total_nodes}


# ---------------------------------------------------------------------------------------------- accounts
def _accounts(con: Any, avail: set[str], opt: ReportOptions, notes: list[str]) -> dict[str, Any]:
    """The highest-risk accounts with reasons, profile facts and example posts (or the top amplifiers)."""
    out: dict[str, Any] = {"mode": None, "rows": [], "scored": 0, "high_risk": 0}
    sc = _cols(con, "account_scores") if "account_scores" in avail else []
    if {"account_id", "score"} <= set(sc):
        out["mode"] = "scores"
        flag = next((c for c in RISK_FLAG_COLUMNS if c in sc), None)
        cond = _q(flag) if flag else f"score >= {float(opt.risk_threshold)}"
        out["scored"] = int(_one(con, "SELECT count(*) FROM account_scores") or 0)
        out["high_risk"] = int(_one(con, f"SELECT count(*) FROM account_scores WHERE {cond}") or 0)
        out["threshold"] = None if flag else opt.risk_threshold
        out["score_mode"] = _one(con, "SELECT any_value(mode) FROM account_scores") if "mode" in sc else None
        reasons = "s.reasons" if "reasons" in sc else "NULL"
        rtext = "s.reasons_text" if "reasons_text" in sc else "NULL"
        base = _rows(con, f"""SELECT CAST(s.account_id AS VARCHAR) AS account_id, s.score, {reasons} AS reasons,
                {rtext} AS reasons_text FROM account_scores s ORDER BY s.score DESC NULLS LAST, s.account_id
                LIMIT {int(opt.accounts)}""")
    else:
        out["mode"] = "amplifiers"
        base = _rows(con, f"""SELECT actor AS account_id, sum(n) AS engagements FROM _r_ta GROUP BY 1
                ORDER BY engagements DESC, account_id LIMIT {int(opt.accounts)}""")
    if not base:
        return out
    ids = [b["account_id"] for b in base]
    con.execute("CREATE OR REPLACE TEMP TABLE _r_acc AS SELECT unnest(?) AS account_id", [ids])
    sig: dict[str, list] = {}
    if "account_signals" in avail and {"account_id", "signal", "text"} <= set(_cols(con, "account_signals")):
        scol = set(_cols(con, "account_signals"))
        order = "strength DESC NULLS LAST, " if "strength" in scol else ""
        val = "value" if "value" in scol else "NULL"
        for r in _rows(con, f"""SELECT CAST(account_id AS VARCHAR) AS account_id, signal, {val} AS value, text
                FROM account_signals WHERE CAST(account_id AS VARCHAR) IN (SELECT account_id FROM _r_acc)
                QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY {order}signal) <= 5
                ORDER BY account_id, {order}signal"""):
            sig.setdefault(r["account_id"], []).append({"signal": r["signal"], "value": r["value"], "text": r["text"]})
    prof = {r["account_id"]: r for r in _rows(con, """
        SELECT account_id, handle, display_name, description, location, created_at, followers_count,
               following_count, posts_count, verified, default_profile_image, language, affiliation_label
        FROM accounts WHERE account_id IN (SELECT account_id FROM _r_acc)""")}
    status = {r["account_id"]: r for r in _rows(con, """SELECT account_id, status, checked_at FROM _r_status
        WHERE account_id IN (SELECT account_id FROM _r_acc)""")}
    amp = {r["actor"]: r for r in _rows(con, """SELECT actor, sum(n) AS engagements, count(*) AS targets,
        sum(n_60s) AS within_60s, sum(n_lat) AS latency_known FROM _r_ta
        WHERE actor IN (SELECT account_id FROM _r_acc) GROUP BY 1""")}
    posts: dict[str, list] = {}
    for r in _rows(con, f"""SELECT account_id, post_id, created_at, kind, text, urls FROM posts
            WHERE account_id IN (SELECT account_id FROM _r_acc) AND text IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY (kind = 'repost'), created_at DESC NULLS LAST,
                                       post_id) <= {int(opt.example_posts)}"""):
        posts.setdefault(r["account_id"], []).append({"post_id": r["post_id"], "created_at": _iso(r["created_at"]),
                                                      "kind": r["kind"], "text": r["text"],
                                                      "urls": list(r["urls"] or [])[:5]})
    for b in base:
        aid = b["account_id"]
        p = prof.get(aid, {})
        reasons: list[dict[str, Any]] = []
        raw = b.get("reasons")
        if isinstance(raw, list):
            for x in raw[:5]:
                if isinstance(x, dict):
                    reasons.append({"signal": x.get("signal"), "value": x.get("value"), "text": x.get("text")})
                elif x is not None:
                    reasons.append({"signal": None, "value": None, "text": str(x)})
        if not reasons and b.get("reasons_text"):
            reasons = [{"signal": None, "value": None, "text": str(b["reasons_text"])}]
        if not reasons:
            reasons = sig.get(aid, [])
        st = status.get(aid, {})
        a = amp.get(aid, {})
        out["rows"].append({
            "account_id": aid, "score": _num(b.get("score")), "reasons": reasons,
            "handle": p.get("handle"), "display_name": p.get("display_name"), "description": p.get("description"),
            "location": p.get("location"), "created_at": _iso(p.get("created_at")),
            "followers_count": p.get("followers_count"), "following_count": p.get("following_count"),
            "posts_count": p.get("posts_count"), "default_profile_image": p.get("default_profile_image"),
            "language": p.get("language"), "status": st.get("status"), "checked_at": _iso(st.get("checked_at")),
            "engagements": int(a.get("engagements") or 0), "targets_amplified": int(a.get("targets") or 0),
            "share_within_60s": (float(a["within_60s"]) / a["latency_known"]) if a.get("latency_known") else None,
            "posts": posts.get(aid, []),
        })
    return out


# ---------------------------------------------------------------------------------------------- results
def _amplification(con: Any, avail: set[str], results: dict[str, Any], opt: ReportOptions) -> dict[str, Any]:
    """The stored measures (whole-period rows), when ``echoscope measure`` ran."""
    out: dict[str, Any] = {"ran": "amplification_summary" in avail, "rows": [], "meta": {}, "superspreaders": []}
    if not out["ran"]:
        return out
    out["meta"] = results.get("amplification_summary", {}).get("meta") or {}
    cols = _cols(con, "amplification_summary")
    want = [c for c in ("scope", "target", "handle", "group", "engagements", "amplifiers", "share_suspended",
                        "share_unchecked", "top_share", "top1_share", "gini", "share_within_60s",
                        "share_rapid_fire", "share_coordinated", "share_high_risk", "label_coverage") if c in cols]
    if want:
        where = "WHERE week IS NULL" if "week" in cols else ""
        order = "ORDER BY " + ", ".join(x for x in (
            "CASE scope WHEN 'study' THEN 0 WHEN 'group' THEN 1 ELSE 2 END" if "scope" in cols else "",
            "engagements DESC NULLS LAST" if "engagements" in cols else "") if x) if ("scope" in cols or
                                                                                      "engagements" in cols) else ""
        out["columns"] = want
        out["rows"] = _rows(con, f"SELECT {', '.join(_q(c) for c in want)} FROM amplification_summary {where} {order} "
                                 f"LIMIT {int(opt.max_table_rows)}")
    if "amplification_superspreaders" in avail:
        sc = _cols(con, "amplification_superspreaders")
        want = [c for c in ("scope", "target", "group", "rank", "actor_id", "actor_handle", "engagements", "share",
                            "status", "coordinated", "high_risk", "share_within_60s") if c in sc]
        if want:
            where = "WHERE scope = 'study'" if "scope" in sc else ""
            order = "ORDER BY rank" if "rank" in sc else ""
            out["ss_columns"] = want
            out["superspreaders"] = _rows(con, f"SELECT {', '.join(_q(c) for c in want)} FROM "
                                               f"amplification_superspreaders {where} {order} LIMIT 25")
    return out


def _results(con: Any, avail: set[str], results: dict[str, Any], opt: ReportOptions) -> list[dict[str, Any]]:
    """Every result table: rows, when written, its parameters (meta) and a short preview."""
    out = []
    for name in sorted(results):
        r = results[name]
        cols = _cols(con, name) if name in avail else []
        preview: list[dict[str, Any]] = []
        if cols and opt.result_preview_rows > 0:
            simple = [c for c in cols][:12]
            preview = _rows(con, f"SELECT {', '.join(_q(c) for c in simple)} FROM {_q(name)} "
                                 f"LIMIT {int(opt.result_preview_rows)}")
        out.append({"name": name, "rows": int(r.get("rows", 0)), "written_at": r.get("written_at"),
                    "meta": r.get("meta") or {}, "columns": cols, "preview": preview})
    return out


def _truth(con: Any, avail: set[str]) -> dict[str, Any] | None:
    """Simulator ground truth, when the study was made by ``echoscope simulate``: it is said on the report."""
    if "truth_accounts" not in avail:
        return None
    cols = _cols(con, "truth_accounts")
    out: dict[str, Any] = {"accounts": int(_one(con, "SELECT count(*) FROM truth_accounts") or 0)}
    cat = next((c for c in ("campaign", "role", "kind", "label", "class") if c in cols), None)
    if cat:
        out["by"] = cat
        out["counts"] = _rows(con, f"SELECT CAST({_q(cat)} AS VARCHAR) AS value, count(*) AS n FROM truth_accounts "
                                   f"GROUP BY 1 ORDER BY n DESC LIMIT 12")
    return out


def as_arrow_targets(doc: dict[str, Any]) -> pa.Table:
    """The per-target statistics of a gathered document as an Arrow table (exported as ``report_targets``)."""
    cols = ("account_id", "handle", "group", "label", "posts", "engagements", "reposts", "amplifiers",
            "share_suspended", "share_suspended_reposts", "share_flagged", "share_unchecked", "top1_share", "gini",
            "share_within_10s", "share_within_60s", "latency_median_s", "first_at", "last_at")
    rows = [{c: t.get(c) for c in cols} for t in doc.get("targets", [])]
    schema = pa.schema([(c, pa.string() if c in ("account_id", "handle", "group", "label", "first_at", "last_at")
                         else (pa.int64() if c in ("posts", "engagements", "reposts", "amplifiers") else pa.float64()))
                        for c in cols])
    return pa.Table.from_pylist(rows, schema=schema)

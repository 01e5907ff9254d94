"""What a study holds and what it lacks: data covered, the analyses run (and whether one predates another it
reads), the named targets, every result table, the simulator's ground truth.

Why a module of its own: this is the part of the report every study has, whatever its shape -- an empty study
gets a report made of this alone, saying what is missing and which command fills it (the analyses and their
commands come from :data:`echoscope.engine.analysis.ANALYSIS_TABLES` / ``ANALYSIS_COMMANDS``, the same list
``info`` uses).
"""

from __future__ import annotations

from typing import Any

from ..engine.analysis import ANALYSIS_COMMANDS, ANALYSIS_TABLES
from .base import Ctx, q

#: what each analysis gives, as the report's "analyses run" table says it
STAGE_WHAT: dict[str, str] = {
    "measures": "amplification measures (shares, concentration, speed, weekly series)",
    "coordination": "coordination networks, clusters and their evidence",
    "accounts": "account signals and risk scores",
}

#: (analysis, analysis whose results it reads) -> what of the first goes stale when the second ran after it
READS: dict[tuple[str, str], str] = {
    ("measures", "coordination"): "the measures' coordinated share (share_coordinated) and the flagged "
                                  "amplifier class",
    ("measures", "accounts"): "the measures' high-risk share (share_high_risk) and the flagged amplifier class",
    ("accounts", "coordination"): "the account scores' group signals that use coordination clusters",
}

#: commands that fill the study's data (shown with what is missing)
DATA_COMMANDS: dict[str, str] = {
    "ingest": "echoscope ingest STUDY FILE...",
    "targets": "echoscope targets add STUDY @handle --group NAME",
    "status": "echoscope status STUDY FILE",
}


def coverage(info: dict[str, Any]) -> dict[str, Any]:
    """Tables and rows, engagements by kind, time span, source files and quarantine (from ``study_info``)."""
    tables = info.get("tables", {})
    files = info.get("files", [])
    qu = info.get("quarantine", {})
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
        "quarantine": {"rows": int(qu.get("rows", 0)), "by_reason": qu.get("by_reason", [])[:10],
                       "by_file": qu.get("by_file", [])[:10]},
    }


def _order(entry: dict[str, Any]) -> tuple[Any, ...]:
    """When a result was written: its manifest generation when the entry carries one, then ``written_at``."""
    return (int(entry.get("generation") or 0), entry.get("written_at") or "")


def _written(ctx: Ctx, analysis: str) -> dict[str, Any] | None:
    """The latest-written entry among ``analysis``'s result tables in the study."""
    entries = [ctx.results[n] for n in ANALYSIS_TABLES[analysis] if n in ctx.results]
    return max(entries, key=_order) if entries else None


def _before(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Was result entry ``a`` written before ``b``? By manifest generation when both entries carry one, else by
    ``written_at`` -- stored to the second, so two results written within one second count as simultaneous."""
    if a.get("generation") is not None and b.get("generation") is not None:
        return int(a["generation"]) < int(b["generation"])
    return (a.get("written_at") or "") < (b.get("written_at") or "")


def stages(ctx: Ctx) -> list[dict[str, Any]]:
    """Each analysis: ran / incomplete / not run, its tables, when written, and what predates a later run."""
    out = []
    for name, tables in ANALYSIS_TABLES.items():
        present = [t for t in tables if t in ctx.results]
        missing = [t for t in tables if t not in ctx.results]
        status = "not run" if not present else ("incomplete" if missing else "ran")
        last = _written(ctx, name)
        out.append({"stage": name, "what": STAGE_WHAT.get(name, name), "command": ANALYSIS_COMMANDS[name],
                    "status": status, "ran": status != "not run", "tables": present, "missing": missing,
                    "written_at": (last or {}).get("written_at"), "stale": []})
        cmd = f"{ANALYSIS_COMMANDS[name]} STUDY"
        if status == "not run":
            ctx.need(f"{STAGE_WHAT.get(name, name)}: not run", cmd)
        elif status == "incomplete":
            ctx.need(f"{name}: the study lacks {', '.join(missing)} (its {name} were written before echoscope "
                     "added them)", cmd)
    by = {s["stage"]: s for s in out}
    for (reader, source), what in READS.items():
        r, s = _written(ctx, reader), _written(ctx, source)
        if r is None or s is None or not _before(r, s):
            continue
        text = (f"{what} predate the {source} run ({reader} written {str(r.get('written_at'))[:19]}, {source} "
                f"{str(s.get('written_at'))[:19]}); rerunning '{ANALYSIS_COMMANDS[reader]}' refreshes them")
        by[reader]["stale"].append({"source": source, "text": text})
        ctx.need(text, f"{ANALYSIS_COMMANDS[reader]} STUDY", stale=True)
    return out


def data_needs(ctx: Ctx, cov: dict[str, Any], named: dict[str, Any]) -> None:
    """Record what data is missing (no posts, no targets, no status checks, no likes) and how to add it."""
    tables = cov.get("tables", {})
    if not tables.get("posts") and not tables.get("likes"):
        ctx.need("no posts or likes are in the study, so nothing can be measured", DATA_COMMANDS["ingest"])
    if not named.get("named"):
        ctx.need("no target accounts are named, so no amplification can be measured", DATA_COMMANDS["targets"])
    elif named.get("unresolved"):
        ctx.need(f"{named['unresolved']:,} named target handle(s) match no account in the data; ingest their "
                 "accounts (or name them by id)", DATA_COMMANDS["ingest"])
    if tables.get("posts") and not tables.get("account_status"):
        ctx.need("no account status checks are in the study, so the share from later-suspended accounts cannot "
                 "be measured", DATA_COMMANDS["status"])
    if tables.get("posts") and not cov.get("engagements_by_kind", {}).get("like"):
        ctx.note("No likes are in the data (the source may not expose them): engagement counts cover reposts, "
                 "quotes and replies only.")


def named_targets(ctx: Ctx) -> dict[str, Any]:
    """The targets as named (raw data, no measure): how many, how many resolved, groups, unresolved handles."""
    r = ctx.rows("""SELECT count(*) AS named, count(account_id) AS resolved, count(DISTINCT "group") AS groups,
                           count(label) AS labelled FROM targets""")[0]
    r["unresolved"] = int(r["named"] - r["resolved"])
    r["unresolved_handles"] = ctx.rows('SELECT handle, "group" FROM targets WHERE account_id IS NULL '
                                       'ORDER BY handle LIMIT 50')
    r["rows"] = ctx.rows(f"""SELECT account_id, handle, "group", label FROM targets WHERE account_id IS NOT NULL
                             ORDER BY "group" NULLS LAST, handle, account_id LIMIT {int(ctx.opt.max_table_rows)}""")
    return r


def results(ctx: Ctx) -> list[dict[str, Any]]:
    """Every result table: rows, when written, its parameters (meta) and a short preview."""
    out = []
    for name in sorted(ctx.results):
        r = ctx.results[name]
        cols = ctx.cols(name)
        preview: list[dict[str, Any]] = []
        if cols and ctx.opt.result_preview_rows > 0:
            preview = ctx.rows(f"SELECT {', '.join(q(c) for c in cols[:12])} FROM {q(name)} "
                               f"LIMIT {int(ctx.opt.result_preview_rows)}")
        out.append({"name": name, "rows": int(r.get("rows", 0)), "written_at": r.get("written_at"),
                    "meta": r.get("meta") or {}, "columns": cols, "preview": preview})
    return out


def truth(ctx: Ctx) -> dict[str, Any] | None:
    """Simulator ground truth, when the study was made by ``echoscope simulate``: it is said on the report."""
    if not ctx.has("truth_accounts"):
        return None
    cols = ctx.cols("truth_accounts")
    out: dict[str, Any] = {"accounts": int(ctx.one("SELECT count(*) FROM truth_accounts") or 0), "by": None,
                           "counts": []}
    cat = next((c for c in ("campaign", "role", "kind", "label", "class") if c in cols), None)
    if cat:
        out["by"] = cat
        out["counts"] = ctx.rows(f"SELECT CAST({q(cat)} AS VARCHAR) AS value, count(*) AS n FROM truth_accounts "
                                 f"GROUP BY 1 ORDER BY n DESC, value LIMIT 12")
    return out

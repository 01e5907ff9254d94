"""The targets and their amplifiers, as ``echoscope measure`` stored them.

Why this reads and never computes: every per-target number (shares, top-1% share, Gini, latency, weekly
amplifier classes, Lorenz curves, latency histograms) is defined once, in :mod:`echoscope.measures`, and stored
in the ``amplification_*`` tables; the console, ``--json``, the demo, this report and the exports all read those
rows, so they cannot disagree. Without a measures run the report shows no per-target numbers at all (it says
which command gives them); a study measured by an older echoscope lacks some columns, and each one missing is
named with the command that adds it (:data:`SUMMARY_COLUMNS`).
"""

from __future__ import annotations

from typing import Any

from ..measures.headline import HEADLINE_COLUMNS
from .base import Ctx, iso, lit, q
from .fmt import bin_label

_READ: tuple[str, ...] = (
    "scope", "target", "handle", "group", "week", "posts", "engagements", "reposts", "likes", "amplifiers",
    "share_suspended", "share_suspended_reposts", "share_unchecked", "suspended_amplifiers",
    "status_checked_first", "status_checked_last", "top_k", "top_share", "top1_share", "top_amplifiers", "gini",
    "latency_known", "share_within_10s", "share_within_60s", "latency_p50", "share_coordinated", "share_high_risk",
    "targets", "labelled_targets", "label_coverage",
    # per-row counts behind the shares and the weekly amplifier classes
    "reposts_suspended", "engagements_suspended", "engagements_flagged", "engagements_organic", "top_engagements",
)

#: columns of ``amplification_summary`` the report reads, the measures' headline's among them (a missing one is
#: shown as "-" and named, with the command that adds it)
SUMMARY_COLUMNS: tuple[str, ...] = (*_READ, *(c for c in HEADLINE_COLUMNS if c not in _READ))

#: amplifier class (stacking order of the weekly charts) -> the ``amplification_summary`` count column
CLASS_COLUMNS: dict[str, str] = {
    "later suspended": "engagements_suspended",
    "flagged": "engagements_flagged",
    "organic (not flagged)": "engagements_organic",
}

#: the weekly series' single class when the stored measures carry no class counts
UNCLASSIFIED = "all engagements (classes not stored)"

#: columns of ``amplification_superspreaders`` shown (whole-study rows)
SUPERSPREADER_COLUMNS: tuple[str, ...] = ("rank", "actor_id", "actor_handle", "engagements", "share", "status",
                                          "coordinated", "high_risk", "share_within_60s", "rapid_fire_engagements")

_MEASURE = "echoscope measure STUDY"


def _select(ctx: Ctx, table: str, wanted: tuple[str, ...], alias: str = "") -> str:
    """``col, ...`` for the wanted columns, ``NULL AS col`` for those the stored table lacks."""
    have = set(ctx.cols(table))
    pre = f"{alias}." if alias else ""
    return ", ".join(f"{pre}{q(c)}" if c in have else f"NULL AS {q(c)}" for c in wanted)


def _missing_columns(ctx: Ctx, table: str, wanted: tuple[str, ...]) -> list[str]:
    have = set(ctx.cols(table))
    gone = [c for c in wanted if c not in have]
    if gone:
        ctx.need(f"{table} lacks column(s) {', '.join(gone)} (measured by an older echoscope); the report "
                 "leaves out what they give", _MEASURE)
    return gone


def measures(ctx: Ctx, named: dict[str, Any]) -> dict[str, Any]:
    """The stored measures: per target, group and study (whole period), weekly classes, Lorenz curves, latency
    histograms and super-spreaders; empty lists when ``echoscope measure`` has not run."""
    out: dict[str, Any] = {"ran": False, "targets": [], "groups": [], "overall": {}, "missing_columns": [],
                           "weekly": {"all": [], "groups": [], "targets": [], "target_weeks": [], "classes": []},
                           "lorenz": {"all": [], "targets": []}, "latency": {"bins": [], "all": [], "targets": []},
                           "superspreaders": [], "ss_columns": [], "parameters": {}}
    if not ctx.has("amplification_summary"):
        return out
    cols = set(ctx.cols("amplification_summary"))
    if not {"scope", "engagements"} <= cols:
        ctx.need("amplification_summary lacks its scope/engagements columns", _MEASURE)
        return out
    out["ran"] = True
    meta = ctx.results["amplification_summary"].get("meta") or {}
    out["parameters"] = meta.get("parameters") or {}
    out["missing_columns"] = _missing_columns(ctx, "amplification_summary", SUMMARY_COLUMNS)
    rows = whole_period(ctx)
    out["overall"] = next((r for r in rows if r["scope"] == "study"), {})
    out["groups"] = [r for r in rows if r["scope"] == "group"]
    targets = out["targets"] = [r for r in rows if r["scope"] == "target"]
    if named.get("resolved", 0) > len(targets) and not out["parameters"].get("group"):
        ctx.need(f"{named['resolved'] - len(targets):,} target(s) named since the last measures run have no "
                 "measures", _MEASURE)
    if out["parameters"].get("group"):
        ctx.note(f"The stored measures cover only the targets of group '{out['parameters']['group']}' "
                 "(echoscope measure --group).")
    top = [t["target"] for t in targets if t["target"] is not None and (t["engagements"] or 0) > 0]
    top = top[: ctx.opt.top_targets]
    if "week" in cols:
        out["weekly"] = _weekly(ctx, top, out["missing_columns"])
    out["lorenz"] = _lorenz(ctx, top)
    out["latency"] = _latency(ctx, top)
    out["superspreaders"], out["ss_columns"] = _superspreaders(ctx)
    return out


def whole_period(ctx: Ctx) -> list[dict[str, Any]]:
    """The stored whole-period rows (study, then groups, then targets by engagements), each target with its
    label from the targets table; [] without a usable ``amplification_summary``."""
    cols = set(ctx.cols("amplification_summary")) if ctx.has("amplification_summary") else set()
    if not {"scope", "engagements"} <= cols:
        return []
    sel = _select(ctx, "amplification_summary", SUMMARY_COLUMNS, "s")
    whole = "s.week IS NULL" if "week" in cols else "true"
    rows = ctx.rows(f"""SELECT {sel}, t.label AS label FROM amplification_summary s
        LEFT JOIN (SELECT account_id, any_value(label) AS label FROM targets WHERE account_id IS NOT NULL GROUP BY 1) t
          ON s.scope = 'target' AND t.account_id = s.target
        WHERE {whole} ORDER BY CASE s.scope WHEN 'study' THEN 0 WHEN 'group' THEN 1 ELSE 2 END,
                               s.engagements DESC NULLS LAST, s.handle, s.target""")
    for r in rows:
        r["account_id"] = r.get("target")
    return rows


def _in_top(top: list[str]) -> str:
    return "(" + ", ".join(lit(t) for t in top) + ")" if top else "(NULL)"


def _weekly(ctx: Ctx, top: list[str], gone: list[str]) -> dict[str, Any]:
    """Weekly engagements by amplifier class for the study, each group and the charted targets (long rows)."""
    classed = not any(c in gone for c in CLASS_COLUMNS.values())
    sel = _select(ctx, "amplification_summary", ("scope", "target", "group", "week", "engagements", "share_suspended",
                                                 *CLASS_COLUMNS.values()))
    rows = ctx.rows(f"""SELECT {sel} FROM amplification_summary
        WHERE week IS NOT NULL AND (scope IN ('study', 'group') OR (scope = 'target' AND target IN {_in_top(top)}))
        ORDER BY scope, "group", target, week""")
    out: dict[str, Any] = {"all": [], "groups": [], "targets": [], "target_weeks": [],
                           "classes": list(CLASS_COLUMNS) if classed else [UNCLASSIFIED]}
    for r in rows:
        week = (iso(r["week"]) or "")[:10]
        key = {"study": "all", "group": "groups", "target": "targets"}.get(r["scope"])
        if key is None:
            continue
        if key == "targets":
            out["target_weeks"].append({"account_id": r["target"], "week": week, "engagements": r["engagements"],
                                        "engagements_suspended": r["engagements_suspended"],
                                        "share_suspended": r["share_suspended"]})
        pairs = [(k, r[c]) for k, c in CLASS_COLUMNS.items()] if classed else [(UNCLASSIFIED, r["engagements"])]
        for cls, n in pairs:
            item: dict[str, Any] = {"week": week, "class": cls, "n": int(n or 0)}
            if key == "groups":
                item["group"] = r["group"] if r["group"] is not None else "(no group)"
            elif key == "targets":
                item["account_id"] = r["target"]
            out[key].append(item)
    return out


def _lorenz(ctx: Ctx, top: list[str]) -> dict[str, Any]:
    """Stored Lorenz curves of the study and the charted targets, each starting at (0, 0)."""
    out: dict[str, Any] = {"all": [], "targets": []}
    if not ctx.has("amplification_lorenz"):
        return out
    need = ("scope", "target", "amplifiers_rank", "population_share", "engagement_share")
    if _missing_columns(ctx, "amplification_lorenz", need):
        return out
    rows = ctx.rows(f"""SELECT scope, target, population_share, engagement_share FROM amplification_lorenz
        WHERE scope = 'study' OR (scope = 'target' AND target IN {_in_top(top)})
        ORDER BY scope, target, amplifiers_rank""")
    start: set[Any] = set()
    for r in rows:
        key = "all" if r["scope"] == "study" else "targets"
        if (key, r["target"]) not in start:
            start.add((key, r["target"]))
            out[key].append({"account_id": r["target"], "population_share": 0.0, "engagement_share": 0.0})
        out[key].append({"account_id": r["target"], "population_share": r["population_share"],
                         "engagement_share": r["engagement_share"]})
    return out


def _latency(ctx: Ctx, top: list[str]) -> dict[str, Any]:
    """Stored latency histograms (``amplification_latency``) of the study and the charted targets."""
    out: dict[str, Any] = {"bins": [], "all": [], "targets": []}
    if not ctx.has("amplification_latency"):
        if ctx.has("amplification_summary"):
            ctx.need("amplification_latency (the latency histograms) is missing (measured by an older echoscope)",
                     _MEASURE)
        return out
    need = ("scope", "target", "bin_start_s", "bin_end_s", "engagements")
    if _missing_columns(ctx, "amplification_latency", need):
        return out
    rows = ctx.rows(f"""SELECT scope, target, bin_start_s, bin_end_s, engagements FROM amplification_latency
        WHERE scope = 'study' OR (scope = 'target' AND target IN {_in_top(top)})
        ORDER BY scope, target, bin_start_s""")
    bins: dict[str, float] = {}
    for r in rows:
        b = bin_label(r["bin_start_s"], r["bin_end_s"])
        bins.setdefault(b, float(r["bin_start_s"] or 0))
        item = {"bin": b, "n": int(r["engagements"] or 0)}
        if r["scope"] == "study":
            out["all"].append(item)
        else:
            out["targets"].append({**item, "account_id": r["target"]})
    out["bins"] = sorted(bins, key=lambda k: bins[k])
    return out


def _superspreaders(ctx: Ctx) -> tuple[list[dict[str, Any]], list[str]]:
    """The top amplifiers of all targets (whole-study rows of ``amplification_superspreaders``)."""
    if not ctx.has("amplification_superspreaders"):
        return [], []
    have = set(ctx.cols("amplification_superspreaders"))
    want = [c for c in SUPERSPREADER_COLUMNS if c in have]
    if "scope" not in have or "actor_id" not in want:
        return [], []
    order = "ORDER BY rank" if "rank" in have else "ORDER BY engagements DESC, actor_id"
    rows = ctx.rows(f"SELECT {', '.join(q(c) for c in want)} FROM amplification_superspreaders "
                    f"WHERE scope = 'study' {order} LIMIT {int(ctx.opt.superspreaders)}")
    return rows, want


def amplifier_facts(ctx: Ctx, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Stored whole-study super-spreader rows of these accounts (rank, engagements, share within 60 s)."""
    if not ids or not ctx.has("amplification_superspreaders"):
        return {}
    have = set(ctx.cols("amplification_superspreaders"))
    if not {"scope", "actor_id"} <= have:
        return {}
    want = [c for c in ("rank", "engagements", "share", "share_within_60s") if c in have]
    sel = ", ".join(q(c) for c in want)
    rows = ctx.rows(f"""SELECT CAST(actor_id AS VARCHAR) AS actor_id{', ' + sel if sel else ''}
        FROM amplification_superspreaders WHERE scope = 'study' AND CAST(actor_id AS VARCHAR) IN
        (SELECT unnest(?::VARCHAR[]))""", [ids])
    return {r["actor_id"]: r for r in rows}

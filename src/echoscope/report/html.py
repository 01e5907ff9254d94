"""The evidence report: one self-contained HTML file that opens offline, prints, and is safe with hostile data.

Why it is shaped so: :func:`echoscope.report.data.gather` reduces the study to a small document; this module
optionally pseudonymises that document, turns it into plain sentences (:func:`findings`) and static SVG
charts (:mod:`echoscope.report.charts`), and renders one Jinja2 template with autoescaping on. Data is never
marked safe: the only :class:`~markupsafe.Markup` objects are the sanitised SVGs. The page carries no
JavaScript and a Content-Security-Policy that forbids scripts, network fetches and frames, so a payload that
slipped through escaping would still not run (the browser test checks escaping with CSP bypassed).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from . import charts as C
from .data import ReportOptions, gather
from .pseudonymise import Pseudonymiser, known_account_ids, resolve_key

if TYPE_CHECKING:
    from ..store.study import StudyStore as Study

ProgressFn = Callable[[dict[str, Any]], None]

#: the page's Content-Security-Policy: no script, no network, no frames; inline styles and data: images only
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; script-src 'none'; "
       "object-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'none'")

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad\u061c]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# ---------------------------------------------------------------------------------------------- filters
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
    if value is None:
        return "-"
    return f"{100 * float(value):.{digits}f}%"


def num(value: Any, digits: int = 0) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and digits:
        return f"{value:,.{digits}f}"
    try:
        return f"{int(round(float(value))):,}"
    except (TypeError, ValueError):
        return show(value, 40)


def duration(seconds: Any) -> str:
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


# ---------------------------------------------------------------------------------------------- sentences
def findings(doc: dict[str, Any], opt: ReportOptions | None = None) -> list[str]:
    """Headline findings in plain sentences with their numbers (shown first in the report and in the JSON)."""
    opt = opt or ReportOptions()
    out: list[str] = []
    ov = doc.get("overall", {})
    cov = doc.get("coverage", {})
    n = int(ov.get("engagements") or 0)
    tgts = doc.get("targets", [])
    if not tgts:
        out.append("No target accounts are named in this study, so no amplification can be measured; name them "
                   "with 'echoscope targets STUDY add @handle --group NAME'.")
        return out
    span = cov.get("time_span", {}).get("engagements", {})
    out.append(f"The {len(tgts):,} target account(s) received {n:,} engagements (reposts, quotes, replies and likes) "
               f"from {int(ov.get('amplifiers') or 0):,} accounts"
               + (f" between {str(span.get('first'))[:10]} and {str(span.get('last'))[:10]}." if span.get("first")
                  else "."))
    if n == 0:
        return out
    checked = ov.get("status_checked_last")
    when = f" (status checked up to {str(checked)[:10]})" if checked else ""
    eligible = [t for t in tgts if t["engagements"] >= opt.min_engagements and t.get("share_suspended") is not None]
    if eligible and checked:
        t = max(eligible, key=lambda r: ((r.get("share_suspended_reposts") if r.get("reposts") else
                                          r.get("share_suspended")) or 0, r["engagements"]))
        if t.get("reposts"):
            out.append(f"{pct(t['share_suspended_reposts'])} of {who(t)}'s reposts ({t['reposts_suspended']:,} of "
                       f"{t['reposts']:,}) came from accounts later suspended or deleted{when}.")
        else:
            out.append(f"{pct(t['share_suspended'])} of {who(t)}'s engagements ({t['engagements_suspended']:,} of "
                       f"{t['engagements']:,}) came from accounts later suspended or deleted{when}.")
    if checked:
        if ov.get("reposts"):
            out.append(f"Across all targets, {pct(ov.get('share_suspended_reposts'), 1)} of reposts "
                       f"({ov.get('reposts_suspended', 0):,} of {ov['reposts']:,}) came from later-suspended "
                       f"or deleted accounts; {pct(ov.get('share_unchecked'), 1)} of engagements came from accounts "
                       "whose status was never checked (not counted as active).")
    else:
        out.append("No account status checks are in the study, so the share from later-suspended accounts cannot "
                   "be measured; add them with 'echoscope status STUDY FILE'.")
    if ov.get("top1_share") is not None:
        out.append(f"The top 1% of amplifiers ({ov.get('top1_amplifiers', 0):,} account(s)) made "
                   f"{pct(ov['top1_share'])} of all engagements with the targets (Gini {ov.get('gini') or 0:.2f}).")
    if ov.get("latency_known"):
        out.append(f"{pct(ov.get('share_within_60s'))} of engagements with a known time came within 60 seconds of "
                   f"the post ({pct(ov.get('share_within_10s'))} within 10 seconds).")
    peak = _peak_week(doc, opt)
    if peak:
        out.append(peak)
    coord = doc.get("coordination", {})
    if coord.get("ran"):
        tot = coord.get("totals", {})
        nc = tot.get("coordinated_clusters", tot.get("clusters", 0))
        fe = coord.get("summary", {}).get("expected_false_edges")
        out.append(f"{nc:,} cluster(s) were judged coordinated"
                   + (f" ({ov.get('amplifiers_coordinated', 0):,} of their members amplified the targets and made "
                      f"{pct(ov.get('share_coordinated'), 1)} of all engagements with them)"
                      if ov.get("share_coordinated") is not None else "")
                   + (f"; the null model expects {float(fe):.1f} of the judged edges to be coincidence." if fe is not None
                      else "."))
    else:
        out.append("Coordination was not analysed (run 'echoscope coordinate STUDY').")
    acc = doc.get("accounts", {})
    if acc.get("mode") == "scores":
        out.append(f"{acc.get('high_risk', 0):,} of {acc.get('scored', 0):,} scored accounts are high risk"
                   + (f" (score at least {acc['threshold']:g})" if acc.get("threshold") is not None else "") + ".")
    else:
        out.append("Accounts were not scored (run 'echoscope score STUDY').")
    out.append(f"{ov.get('labelled', 0):,} of {ov.get('targets', 0):,} target(s) "
               f"({pct((ov.get('labelled', 0) / ov['targets']) if ov.get('targets') else None)}) carry a government "
               "or state-affiliation label.")
    return out


def _peak_week(doc: dict[str, Any], opt: ReportOptions) -> str | None:
    rows = doc.get("weekly", {}).get("targets", [])
    if not rows:
        return None
    tot: dict[tuple[str, str], int] = {}
    sus: dict[tuple[str, str], int] = {}
    for r in rows:
        k = (r["account_id"], r["week"])
        tot[k] = tot.get(k, 0) + r["n"]
        if r["class"] == "later suspended":
            sus[k] = sus.get(k, 0) + r["n"]
    cand = [(sus.get(k, 0) / v, v, k) for k, v in tot.items() if v >= opt.min_engagements and sus.get(k)]
    if not cand:
        return None
    share, v, (aid, week) = max(cand)
    t = next((x for x in doc.get("targets", []) if x["account_id"] == aid), {"account_id": aid})
    return (f"In the week of {week}, {pct(share)} of {who(t)}'s engagements ({sus[(aid, week)]:,} of {v:,}) came "
            "from later-suspended accounts, the highest weekly share among the charted targets.")


# ---------------------------------------------------------------------------------------------- rendering
def _names(doc: dict[str, Any]) -> dict[str, str]:
    return {t["account_id"]: C.label(who(t), 36) for t in doc.get("targets", [])}


def build_charts(doc: dict[str, Any]) -> dict[str, Markup]:
    """Every chart of the report as sanitised SVG, keyed by section."""
    out: dict[str, Markup] = {}
    names = _names(doc)
    w = doc.get("weekly", {})
    if w.get("all"):
        out["weekly_all"] = C.render(C.weekly_chart(w["all"]), "weekly_all",
                                     "Weekly engagements with all targets by amplifier class")
    if len({r["group"] for r in w.get("groups", [])}) > 1:
        rows = [{**r, "group": C.label(r["group"])} for r in w["groups"]]
        out["weekly_groups"] = C.render(C.weekly_chart(rows, facet="group"), "weekly_groups",
                                        "Weekly engagements by group and amplifier class")
    if w.get("targets"):
        rows = [{**r, "target": names.get(r["account_id"], C.label(r["account_id"]))} for r in w["targets"]]
        out["weekly_targets"] = C.render(C.weekly_chart(rows, facet="target"), "weekly_targets",
                                         "Weekly engagements per target by amplifier class")
    lz = doc.get("lorenz", {})
    if len(lz.get("all", [])) > 1:
        rows = [{**r, "curve": "all targets"} for r in lz["all"]]
        rows += [{**r, "curve": names.get(r["account_id"], C.label(r["account_id"]))} for r in lz.get("targets", [])]
        out["lorenz"] = C.render(C.lorenz_chart(rows, colour="curve"), "lorenz", "Lorenz curves of amplifiers")
    lat = doc.get("latency", {})
    if lat.get("all"):
        out["latency_all"] = C.render(C.latency_chart(lat["all"], lat["bins"]), "latency_all",
                                      "Latency of engagements with all targets")
    if lat.get("targets"):
        rows = [{**r, "target": names.get(r["account_id"], C.label(r["account_id"]))} for r in lat["targets"]]
        out["latency_targets"] = C.render(C.latency_chart(rows, lat["bins"], facet="target"), "latency_targets",
                                          "Latency per target")
    net = (doc.get("coordination") or {}).get("network")
    if net and net.get("nodes"):
        out["network"] = C.network_svg(net["nodes"], net["edges"])
    return out


def _env() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("echoscope.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update({"t": show, "pct": pct, "num": num, "duration": duration})
    env.globals.update({"who": who, "class_colours": C.CLASS_COLOURS})
    return env


def pseudonymise_doc(doc: dict[str, Any], p: Pseudonymiser) -> dict[str, Any]:
    """The document with every id, handle, name and free text pseudonymised by field name."""
    out = p.record(doc)
    # keys that hold account ids as dict keys (evidence per cluster is keyed by cluster id: left alone)
    return out


def render_report(study: Study, out: str | os.PathLike[str], *, pseudonymise: bool = False,
                  key_env: str | None = None, options: ReportOptions | None = None,
                  progress: ProgressFn | None = None) -> dict[str, Any]:
    """Write the HTML report of ``study`` to ``out`` (``-`` is not accepted: the report is a file).

    Parameters
    ----------
    study : Study
        The study.
    out : path
        Output file; written atomically.
    pseudonymise : bool
        Replace handles, ids and names with keyed pseudonyms (see :mod:`echoscope.report.pseudonymise`).
    key_env : str, optional
        Environment variable holding the pseudonymisation key; default: the study's ``pseudonym.key``.
    options : ReportOptions, optional
        Size limits (top-N) and thresholds.
    progress : callable, optional
        Receives ``{"event": "stage", "message": ...}``.

    Returns
    -------
    dict
        ``path``, ``bytes``, ``seconds``, ``charts`` (names), ``findings`` (sentences), ``pseudonymised``.
    """
    from ..store.manifest import atomic_write_bytes

    t0 = time.perf_counter()
    opt = options or ReportOptions()
    doc = build_document(study, pseudonymise=pseudonymise, key_env=key_env, options=opt, progress=progress)
    if progress:
        progress({"event": "stage", "message": "report: charts"})
    charts = build_charts(doc)
    html = _env().get_template("report.html.j2").render(doc=doc, charts=charts, csp=CSP, opt=opt)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = html.encode("utf-8")
    atomic_write_bytes(path, data)
    return {"path": str(path), "bytes": len(data), "seconds": round(time.perf_counter() - t0, 3),
            "charts": sorted(charts), "findings": doc["findings"], "pseudonymised": pseudonymise}


def build_document(study: Study, *, pseudonymise: bool = False, key_env: str | None = None,
                   options: ReportOptions | None = None, progress: ProgressFn | None = None) -> dict[str, Any]:
    """The gathered document, pseudonymised when asked, with its ``findings`` sentences (the JSON summary)."""
    opt = options or ReportOptions()
    key = resolve_key(study.path, key_env) if pseudonymise else None  # fail before the work on a bad key
    doc = gather(study, opt, progress)
    doc["pseudonymised"] = bool(pseudonymise)
    if key is not None:
        p = Pseudonymiser(key, known_ids=known_account_ids(study))
        doc = pseudonymise_doc(doc, p)
        doc["pseudonymised"] = True
        doc["study"]["path"] = "(withheld)"
    doc["findings"] = findings(doc, opt)
    doc["generated_by"] = "echoscope report"
    doc["generated_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return doc

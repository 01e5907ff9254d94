"""The evidence report: one self-contained HTML file that opens offline, prints, and is safe with hostile data.

Why it is shaped so: :func:`echoscope.report.data.gather` reduces the study to a small document of stored
results; this module optionally pseudonymises that document, adds its headline sentences
(:func:`echoscope.report.wording.findings`) and static SVG charts (:mod:`echoscope.report.charts`), and renders
one Jinja2 template with autoescaping on and :class:`~jinja2.StrictUndefined` (a key the template expects but the
document lacks fails loudly in the tests, instead of rendering as nothing). Data is never marked safe: the only
:class:`~markupsafe.Markup` objects are the sanitised SVGs. The page carries no JavaScript and a
Content-Security-Policy that forbids scripts, network fetches and frames, so a payload that slipped through
escaping would still not run (the browser test checks escaping with CSP bypassed).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ..findings.wording import format_p
from . import charts as C
from .base import ProgressFn, ReportOptions
from .data import gather
from .fmt import duration, num, pct, show, who
from .pseudonymise import Pseudonymiser, known_account_ids, resolve_key
from .wording import findings, section_sentences

if TYPE_CHECKING:
    from ..engine import Engine
    from ..store.study import StudyStore

#: the page's Content-Security-Policy: no script, no network, no frames; inline styles and data: images only
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src 'none'; script-src 'none'; "
       "object-src 'none'; frame-src 'none'; base-uri 'none'; form-action 'none'")

#: every chart the template can show (a chart the document has no data for is None)
CHART_KEYS: tuple[str, ...] = ("weekly_all", "weekly_groups", "weekly_targets", "lorenz", "latency_all",
                               "latency_targets", "network")


# ---------------------------------------------------------------------------------------------- rendering
def _names(doc: dict[str, Any]) -> dict[str, str]:
    return {t["account_id"]: C.label(who(t), 36) for t in doc.get("targets", [])}


def build_charts(doc: dict[str, Any]) -> dict[str, Markup | None]:
    """Every chart of the report as sanitised SVG, keyed by :data:`CHART_KEYS` (None where there is no data)."""
    out: dict[str, Markup | None] = dict.fromkeys(CHART_KEYS)
    names = _names(doc)
    # per-target panels in the order of the targets' engagements (most first), as the table lists them
    order = [names[t["account_id"]] for t in doc.get("targets", []) if t.get("account_id") in names]
    w = doc.get("weekly", {})
    classes = w.get("classes") or list(C.CLASS_COLOURS)
    if any(r["n"] for r in w.get("all", [])):
        out["weekly_all"] = C.render(C.weekly_chart(w["all"], classes), "weekly_all",
                                     "Weekly engagements with all targets by amplifier class")
    if len({r["group"] for r in w.get("groups", [])}) > 1:
        rows = [{**r, "group": C.label(r["group"])} for r in w["groups"]]
        groups = [C.label(g["group"] if g["group"] is not None else "(no group)") for g in doc.get("groups", [])]
        out["weekly_groups"] = C.render(C.weekly_chart(rows, classes, facet="group", facet_order=groups),
                                        "weekly_groups", "Weekly engagements by group and amplifier class")
    if any(r["n"] for r in w.get("targets", [])):
        rows = [{**r, "target": names.get(r["account_id"], C.label(r["account_id"]))} for r in w["targets"]]
        chart = C.weekly_chart(rows, classes, facet="target", facet_order=order)
        out["weekly_targets"] = C.render(chart, "weekly_targets", "Weekly engagements per target by amplifier class")
    lz = doc.get("lorenz", {})
    if len(lz.get("all", [])) > 1:
        rows = [{**r, "curve": "all targets"} for r in lz["all"]]
        rows += [{**r, "curve": names.get(r["account_id"], C.label(r["account_id"]))} for r in lz.get("targets", [])]
        out["lorenz"] = C.render(C.lorenz_chart(rows, colour="curve"), "lorenz", "Lorenz curves of amplifiers")
    lat = doc.get("latency", {})
    if any(r["n"] for r in lat.get("all", [])):
        out["latency_all"] = C.render(C.latency_chart(lat["all"], lat["bins"]), "latency_all",
                                      "Latency of engagements with all targets")
    if any(r["n"] for r in lat.get("targets", [])):
        rows = [{**r, "target": names.get(r["account_id"], C.label(r["account_id"]))} for r in lat["targets"]]
        chart = C.latency_chart(rows, lat["bins"], facet="target", facet_order=order)
        out["latency_targets"] = C.render(chart, "latency_targets", "Latency per target")
    net = (doc.get("coordination") or {}).get("network")
    if net and net.get("nodes"):
        out["network"] = C.network_svg(net["nodes"], net["edges"], clusters=doc["coordination"].get("clusters"))
    return out


def _env() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("echoscope.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update({"t": show, "pct": pct, "num": num, "duration": duration, "p_text": format_p})
    env.globals.update({"who": who, "class_colours": C.CLASS_COLOURS})
    return env


def render_html(doc: dict[str, Any], charts: dict[str, Markup | None], opt: ReportOptions) -> str:
    """The report page of a built document (see :func:`build_document`) and its charts."""
    return str(_env().get_template("report.html.j2").render(doc=doc, charts=charts, csp=CSP, opt=opt))


def render_report(study: StudyStore, out: str | os.PathLike[str], *, pseudonymise: bool = False,
                  key_env: str | None = None, options: ReportOptions | None = None,
                  progress: ProgressFn | None = None, engine: Engine | None = None) -> dict[str, Any]:
    """Write the HTML report of ``study`` to ``out`` (``-`` is not accepted: the report is a file).

    Parameters
    ----------
    study : StudyStore
        The study.
    out : path
        Output file; written atomically.
    pseudonymise : bool
        Replace handles, ids and names with keyed pseudonyms (see :mod:`echoscope.report.pseudonymise`).
    key_env : str, optional
        Environment variable holding the pseudonymisation key; default: the study's ``pseudonym.key``.
    options : ReportOptions, optional
        Size limits (top-N).
    progress : callable, optional
        Receives ``{"event": "stage", "message": ...}``.
    engine : Engine, optional
        The study's engine (default: a new one for this report).

    Returns
    -------
    dict
        ``path``, ``bytes``, ``seconds``, ``charts`` (names of the charts drawn), ``findings`` (sentences),
        ``missing`` (what is missing and the command that fills it), ``pseudonymised``.
    """
    from ..store.manifest import atomic_write_bytes

    t0 = time.perf_counter()
    opt = options or ReportOptions()
    doc = build_document(study, pseudonymise=pseudonymise, key_env=key_env, options=opt, progress=progress,
                         engine=engine)
    if progress:
        progress({"event": "stage", "message": "report: charts"})
    charts = build_charts(doc)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = render_html(doc, charts, opt).encode("utf-8")
    atomic_write_bytes(path, data)
    return {"path": str(path), "bytes": len(data), "seconds": round(time.perf_counter() - t0, 3),
            "charts": sorted(k for k, v in charts.items() if v is not None), "findings": doc["findings"],
            "missing": doc["missing"], "pseudonymised": pseudonymise}


def build_document(study: StudyStore, *, pseudonymise: bool = False, key_env: str | None = None,
                   options: ReportOptions | None = None, progress: ProgressFn | None = None,
                   engine: Engine | None = None) -> dict[str, Any]:
    """The gathered document, pseudonymised when asked, with its ``findings`` sentences (the JSON summary)."""
    from ..engine import Engine

    opt = options or ReportOptions()
    key = resolve_key(study.path, key_env) if pseudonymise else None  # fail before the work on a bad key
    eng = engine or Engine(study)
    try:
        doc = gather(study, opt, progress, engine=eng)
        if key is not None:
            doc = pseudonymise_doc(doc, Pseudonymiser(key, known_ids=known_account_ids(eng)))
    finally:
        if engine is None:
            eng.close()
    doc["pseudonymised"] = key is not None
    doc["findings"] = findings(doc, opt)
    doc["said"] = section_sentences(doc)
    doc["generated_by"] = "echoscope report"
    doc["generated_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return doc


def pseudonymise_doc(doc: dict[str, Any], p: Pseudonymiser) -> dict[str, Any]:
    """The document with every id, handle, name and free text pseudonymised by field name."""
    out = p.record(doc)
    out["pseudonymised"] = True
    out["study"]["path"] = "(withheld)"
    return out

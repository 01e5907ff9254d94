"""Charts as static, sanitised SVG: Altair specs rendered offline by vl-convert, and a network picture.

Why static SVG and not an interactive Vega view: the report must open offline, print, and stay safe with
hostile data. vl-convert renders the Vega-Lite spec in-process (no browser, no network), so the report needs
no JavaScript at all -- it carries a Content-Security-Policy that forbids scripts -- and no JSON data is
embedded for a runtime to parse, so there is nothing for a ``</script>`` in the data to break out of.

Every SVG is parsed and re-serialised through :func:`sanitise_svg` with an allow-list of elements and
attributes (no ``<script>``, ``<foreignObject>``, event handlers, external links or ``url()`` to anything but
local ids); ElementTree escapes every text and attribute on the way out. Only the output of this module is
marked safe for the template (:class:`markupsafe.Markup`); data itself never is.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

from markupsafe import Markup

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

#: SVG elements kept by the sanitiser (anything else is dropped with its children)
ALLOWED_ELEMENTS: frozenset[str] = frozenset({
    "svg", "g", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan", "title",
    "desc", "defs", "clipPath", "linearGradient", "radialGradient", "stop",
})
#: attributes kept (event handlers, href and style never are)
ALLOWED_ATTRIBUTES: frozenset[str] = frozenset({
    "class", "width", "height", "viewBox", "version", "transform", "d", "x", "y", "x1", "x2", "y1", "y2", "cx",
    "cy", "r", "rx", "ry", "points", "fill", "fill-opacity", "stroke", "stroke-width", "stroke-opacity",
    "stroke-dasharray", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit", "opacity", "font-family",
    "font-size", "font-weight", "font-style", "text-anchor", "dominant-baseline", "alignment-baseline", "dx", "dy",
    "clip-path", "id", "role", "aria-label", "aria-hidden", "aria-roledescription", "pointer-events", "display",
    "offset", "stop-color", "stop-opacity", "gradientUnits", "clipPathUnits", "preserveAspectRatio", "fill-rule",
    "paint-order", "shape-rendering", "letter-spacing", "text-decoration", "visibility", "data-chart",
})
_URL = re.compile(r"url\(\s*([^)]*)\)", re.IGNORECASE)

#: colours of the amplifier classes (colour-blind safe; later suspended in red-orange); a series of engagements
#: the stored measures did not split by class is grey
CLASS_COLOURS: dict[str, str] = {"later suspended": "#d55e00", "flagged": "#e69f00", "organic (not flagged)": "#56b4e9"}
UNCLASSIFIED_COLOUR = "#999999"
_PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#999999", "#000000",
            "#8c510a", "#01665e", "#762a83")

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")


def label(text: Any, limit: int = 40) -> str:
    """A data string made fit for a chart label: invisible and direction-changing characters shown as
    ``[U+XXXX]``, control characters removed, length capped."""
    s = "" if text is None else str(text)
    s = _INVISIBLE.sub(lambda m: f"[U+{ord(m.group(0)):04X}]", s)
    s = "".join(ch for ch in s if ch >= " " or ch == "\t")
    return s if len(s) <= limit else s[: limit - 1] + "\u2026"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def _safe_value(name: str, value: str) -> str | None:
    v = value.strip()
    low = v.lower()
    if "javascript:" in low or "data:" in low or "expression(" in low:
        return None
    for m in _URL.finditer(v):
        ref = m.group(1).strip("'\" ")
        if not ref.startswith("#"):
            return None
    return v


def _clean(el: ET.Element) -> ET.Element | None:
    tag = _local(el.tag)
    if tag not in ALLOWED_ELEMENTS:
        return None
    out = ET.Element(tag)
    for k, v in el.attrib.items():
        name = _local(k)
        if name not in ALLOWED_ATTRIBUTES or name.lower().startswith("on"):
            continue
        sv = _safe_value(name, v)
        if sv is not None:
            out.set(name, sv)
    out.text = el.text
    for child in el:
        c = _clean(child)
        if c is not None:
            out.append(c)
            c.tail = child.tail
    if tag == "svg":
        out.set("xmlns", SVG_NS)
    return out


def sanitise_svg(svg: str, *, chart_id: str | None = None, title: str | None = None) -> Markup:
    """Parse ``svg`` and re-serialise it with only allow-listed elements and attributes.

    Raises
    ------
    ValueError
        When ``svg`` is not well-formed XML with an ``<svg>`` root.
    """
    root = ET.fromstring(svg)
    if _local(root.tag) != "svg":
        raise ValueError("not an SVG document")
    clean = _clean(root)
    assert clean is not None
    clean.set("role", "img")
    if chart_id:
        clean.set("data-chart", chart_id)
    if title:
        t = ET.Element("title")
        t.text = title
        clean.insert(0, t)
    w, h = clean.get("width"), clean.get("height")
    if w and h and not clean.get("viewBox"):
        clean.set("viewBox", f"0 0 {w} {h}")
    clean.set("class", "chart")
    return Markup(ET.tostring(clean, encoding="unicode", method="xml"))


def _svg(spec: dict[str, Any]) -> str:
    import vl_convert as vlc

    return vlc.vegalite_to_svg(spec)


def render(chart: Any, chart_id: str, title: str) -> Markup:
    """Render an Altair chart offline to sanitised inline SVG."""
    spec = chart.to_dict(validate=False) if hasattr(chart, "to_dict") else chart
    return sanitise_svg(_svg(spec), chart_id=chart_id, title=title)


def _class_scale(classes: list[str]) -> Any:
    import altair as alt

    return alt.Scale(domain=list(classes), range=[CLASS_COLOURS.get(c, UNCLASSIFIED_COLOUR) for c in classes])


def _panels(df: Any, facet: str | None, order: list[str] | None) -> Any:
    """``df`` with a ``_panel`` position column: facet panels go in ``order`` (others after, by name). The
    facet sorts by that field because vl-convert's Vega-Lite ignores an explicit list of facet values."""
    if facet:
        pos = {v: i for i, v in enumerate(order or sorted(set(df[facet])))}
        df["_panel"] = [pos.get(v, len(pos)) for v in df[facet]]
    return df


def _facet(facet: str) -> Any:
    import altair as alt

    return alt.Facet(f"{facet}:N", title=None, sort=alt.EncodingSortField(field="_panel", op="min"))


def all_weeks(weeks: list[str]) -> list[str]:
    """Every Monday (``YYYY-MM-DD``) from the first to the last of ``weeks``, so an empty week shows as a gap."""
    days = sorted({dt.date.fromisoformat(w[:10]) for w in weeks if w})
    if not days:
        return []
    out, d = [], days[0]
    while d <= days[-1]:
        out.append(d.isoformat())
        d += dt.timedelta(days=7)
    return out


def weekly_chart(rows: list[dict[str, Any]], classes: list[str], facet: str | None = None, *,
                 facet_order: list[str] | None = None, width: int = 560) -> Any:
    """Stacked weekly engagements by amplifier class (faceted by ``facet`` when given).

    The week axis is ordinal -- one band per Monday from the first week to the last, empty weeks included --
    and each band is at least 4 px wide (the chart widens past ``width`` for very long studies): on a temporal
    axis a bar is one day wide, which over a year of weeks drew bars half a pixel wide.
    """
    import altair as alt
    import pandas as pd

    weeks = all_weeks([r["week"] for r in rows])
    panel = width // 2 if facet else width
    step = max(4, min(40, panel // max(1, len(weeks))))
    df = _panels(pd.DataFrame(rows), facet, facet_order)
    df["order"] = df["class"].map({c: i for i, c in enumerate(classes)})
    base = alt.Chart(df).mark_bar().encode(
        x=alt.X("week:O", title="week (UTC, Monday)", sort=weeks, scale=alt.Scale(domain=weeks),
                axis=alt.Axis(labelOverlap=True, labelAngle=-45)),
        y=alt.Y("n:Q", title="engagements", stack="zero"),
        color=alt.Color("class:N", scale=_class_scale(classes), title="amplifier class", sort=list(classes)),
        order=alt.Order("order:Q"))
    if facet:
        return base.properties(width=alt.Step(step), height=120).facet(
            facet=_facet(facet), columns=2).resolve_scale(y="independent")
    return base.properties(width=alt.Step(step), height=200)


def lorenz_chart(rows: list[dict[str, Any]], colour: str | None = None, *, width: int = 300) -> Any:
    """Lorenz curve(s) with the line of equality."""
    import altair as alt
    import pandas as pd

    df = pd.DataFrame(rows)
    enc: dict[str, Any] = {
        "x": alt.X("population_share:Q", title="share of amplifiers (fewest engagements first)",
                   scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        "y": alt.Y("engagement_share:Q", title="share of engagements", scale=alt.Scale(domain=[0, 1]),
                   axis=alt.Axis(format="%"))}
    if colour:
        enc["color"] = alt.Color(f"{colour}:N", title=None, scale=alt.Scale(range=list(_PALETTE)))
    line = alt.Chart(df).mark_line().encode(**enc)
    eq = alt.Chart(pd.DataFrame({"population_share": [0, 1], "engagement_share": [0, 1]})).mark_line(
        strokeDash=[4, 4], color="#888").encode(x="population_share:Q", y="engagement_share:Q")
    return (eq + line).properties(width=width, height=width)


def latency_chart(rows: list[dict[str, Any]], bins: list[str], facet: str | None = None, *,
                  facet_order: list[str] | None = None, width: int = 560) -> Any:
    """Histogram of engagement latency on the stored, roughly logarithmic bins."""
    import altair as alt
    import pandas as pd

    df = _panels(pd.DataFrame(rows), facet, facet_order)
    base = alt.Chart(df).mark_bar(color=_PALETTE[0]).encode(
        x=alt.X("bin:N", sort=bins, scale=alt.Scale(domain=bins), title="time from post to engagement"),
        y=alt.Y("n:Q", title="engagements"))
    if facet:
        return base.properties(width=width // 2, height=120).facet(
            facet=_facet(facet), columns=2).resolve_scale(y="independent")
    return base.properties(width=width, height=200)


def _cell_title(c: str, n: int, info: dict[str, Any], chars: int) -> tuple[str, str, str]:
    """The three header lines of a cluster's cell: ``cluster 3 · 24 accounts``, its label (or judgement) and
    its top members' handles."""
    size = info.get("size") if info.get("size") is not None else n
    kind = info.get("label") or ("not judged coordinated" if info.get("coordinated") is False else "")
    names = ", ".join("@" + str(m["handle"]).lstrip("@") if m.get("handle") else str(m.get("account_id"))
                      for m in info.get("top_members") or [])
    return label(f"cluster {c} \u00b7 {int(size):,} accounts", chars), label(kind, chars), label(names, chars)


def _cluster_layout(sub: Any) -> dict[str, tuple[float, float]]:
    """Positions in [0, 1]^2 for one cluster: its largest connected part by a spring layout (fixed seed,
    unweighted so a few heavy edges do not collapse it); every other member -- smaller parts, members without
    a drawn edge -- on a ring around it, the members of one small part next to each other."""
    import networkx as nx

    parts = sorted((sorted(p) for p in nx.connected_components(sub)), key=lambda p: (-len(p), p[0]))
    core = parts[0] if parts and len(parts[0]) > 1 else []
    ring = [k for p in parts for k in p if k not in set(core)]
    pos: dict[str, tuple[float, float]] = {}
    if core:
        lay = nx.spring_layout(sub.subgraph(core), seed=7, iterations=80, weight=None)
        pos = {k: (float(x), float(y)) for k, (x, y) in lay.items()}
    if ring:
        if not pos:
            r = 1.0 if len(ring) > 1 else 0.0
        else:
            r = 1.25 * max(max(abs(x), abs(y)) for x, y in pos.values()) or 1.0
        for i, k in enumerate(ring):
            a = 2 * math.pi * i / len(ring)
            pos[k] = (r * math.cos(a), r * math.sin(a))
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
    if span < 1e-6:
        return {k: (0.5, 0.5) for k in pos}
    ox, oy = (1 - (max(xs) - min(xs)) / span) / 2, (1 - (max(ys) - min(ys)) / span) / 2
    return {k: (ox + (x - min(xs)) / span, oy + (y - min(ys)) / span) for k, (x, y) in pos.items()}


def network_svg(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], *, width: int = 900,
                title: str = "coordination network", clusters: list[dict[str, Any]] | None = None) -> Markup:
    """The clusters drawn as a static picture: each cluster laid out apart (spring layout, fixed seed) in its
    own grid cell sized by its membership (members outside its largest connected part on a ring around it; only edges
    inside a cluster are drawn), headed by its id, size, label and top members' handles (from
    ``clusters``: ``cluster_id``, ``size``, ``label``, ``coordinated``, ``amplifies_targets``, ``top_members``
    with ``account_id`` and ``handle``); clusters that do not amplify the targets (when the run says so) or
    were not judged coordinated get a dashed cell. Later-suspended members are drawn with a dark ring. Written
    with ElementTree (every text escaped) and passed through :func:`sanitise_svg`."""
    import networkx as nx

    info = {str(c["cluster_id"]): c for c in (clusters or [])}
    groups: dict[str, list[dict[str, Any]]] = {}
    for n in nodes:
        groups.setdefault(str(n["cluster_id"]), []).append(n)
    order = list(groups)
    colour = {c: _PALETTE[i % len(_PALETTE)] for i, c in enumerate(order)}
    # grid cells: rows filled left to right; a cell's side grows with sqrt(members), wide enough for its header
    unit, pad, head = 34.0, 16.0, 44.0
    x = y = pad
    row_h = 0.0
    pos_cell: dict[str, tuple[float, float, float]] = {}
    for c in order:
        side = min(width - 2 * pad, max(220.0, unit * math.sqrt(len(groups[c])) + 30))
        if x + side > width - pad and x > pad:
            x = pad
            y += row_h + pad
            row_h = 0.0
        pos_cell[c] = (x, y, side)
        x += side + pad
        row_h = max(row_h, side + head)
    height = int(y + row_h + pad + 10)
    # only edges inside a cluster are drawn: a line between two boxes would tie apart what the clusters keep apart
    cluster_of = {str(n["account_id"]): str(n["cluster_id"]) for n in nodes}
    g = nx.Graph()
    for n in nodes:
        g.add_node(str(n["account_id"]))
    for e in edges:
        a, b = str(e["account_a"]), str(e["account_b"])
        if a != b and a in cluster_of and cluster_of.get(b) == cluster_of[a]:
            g.add_edge(a, b, weight=float(e.get("weight") or 1.0))
    pos: dict[str, tuple[float, float]] = {}
    for c in order:
        cx, cy, side = pos_cell[c]
        lay = _cluster_layout(g.subgraph([str(n["account_id"]) for n in groups[c]]))
        for k, (px, py) in lay.items():
            pos[k] = (cx + 14 + px * (side - 28), cy + head + 8 + py * (side - 24))
    svg = ET.Element("svg", {"width": str(width), "height": str(height), "viewBox": f"0 0 {width} {height}"})
    ET.SubElement(svg, "rect", {"width": str(width), "height": str(height), "fill": "white"})
    for c in order:
        cx, cy, side = pos_cell[c]
        meta = info.get(c, {})
        apart = meta.get("amplifies_targets") is False or meta.get("coordinated") is False
        cell = {"x": f"{cx:.1f}", "y": f"{cy:.1f}", "width": f"{side:.1f}", "height": f"{side + head:.1f}",
                "fill": "none", "stroke": "#bbb" if apart else "#888", "rx": "6"}
        if apart:
            cell["stroke-dasharray"] = "4 3"
        ET.SubElement(svg, "rect", cell)
        for k, text in enumerate(_cell_title(c, len(groups[c]), meta, int((side - 12) / 5.6))):
            t = ET.SubElement(svg, "text", {"x": f"{cx + 6:.1f}", "y": f"{cy + 13 + 13 * k:.1f}",
                                            "font-size": "10.5px", "font-family": "sans-serif",
                                            "font-weight": "600" if k == 0 else "400",
                                            "fill": "#777" if apart else "#222"})
            t.text = text
    eg = ET.SubElement(svg, "g", {"stroke": "#999", "stroke-opacity": "0.5"})
    wmax = max((d["weight"] for _, _, d in g.edges(data=True)), default=1.0) or 1.0
    for a, b, d in g.edges(data=True):
        (x1, y1), (x2, y2) = pos[a], pos[b]
        ET.SubElement(eg, "line", {"x1": f"{x1:.1f}", "y1": f"{y1:.1f}", "x2": f"{x2:.1f}", "y2": f"{y2:.1f}",
                                   "stroke-width": f"{0.5 + 2.0 * d['weight'] / wmax:.2f}"})
    ng = ET.SubElement(svg, "g")
    for n in nodes:
        k = str(n["account_id"])
        px, py = pos[k]
        susp = n.get("status") in ("suspended", "deleted")
        circ = ET.SubElement(ng, "circle", {"cx": f"{px:.1f}", "cy": f"{py:.1f}",
                                            "r": f"{3.0 + min(g.degree(k), 20) * 0.25:.1f}",
                                            "fill": colour[str(n["cluster_id"])],
                                            "stroke": "#222" if susp else "white",
                                            "stroke-width": "2" if susp else "1"})
        tt = ET.SubElement(circ, "title")
        who = ("@" + str(n["handle"])) if n.get("handle") else str(k)
        tt.text = label(f"{who} (cluster {n['cluster_id']}{', ' + str(n['status']) if n.get('status') else ''})", 80)
    return sanitise_svg(ET.tostring(svg, encoding="unicode"), chart_id="network", title=title)

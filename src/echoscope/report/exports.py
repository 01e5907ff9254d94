"""Exports for Gephi, igraph/networkx, spreadsheets, pandas and notebooks.

Why a registry of exporters: every format is one function ``(ctx) -> list[Path]`` in :data:`EXPORTERS`,
so ``echoscope export --to FORMAT`` and the docs list the same names, and adding a format is one entry.

- ``gexf`` / ``graphml``: the coordination network (:mod:`.graph`: judged edges of the fused network or the
  behaviour with most judged edges, and every member of every cluster as a node, edge or not) with account
  attributes (handle, cluster, coordinated, cluster kind and label, score, high risk, status, followers,
  created), edge attributes (behaviour, weight, p-value, evidence count) and time attributes (node start =
  first co-action or account creation; edge start/end = first and last co-action, as dates) -- written by
  networkx. A study without coordination results exports the
  amplification network instead (amplifier -> target, weighted by engagements), and says so in the file name.
- ``gephi-csv``: ``nodes.csv`` (``Id,Label`` + attributes) and ``edges.csv`` (``Source,Target,Weight,Type``).
- ``parquet`` / ``csv``: every result table of the study, plus ``report_targets`` (the stored whole-period
  measures of each target with its label, as the report shows them; only when ``echoscope measure`` ran).
  CSV cells that are text and begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return get a leading
  single quote so a spreadsheet runs nothing (OWASP CSV injection); numeric columns stay numbers, list and
  struct cells are written as JSON. ``tables`` adds the ingested posts, accounts, likes, status checks or
  targets, streamed by DuckDB (:mod:`.tables`).
- ``json``: the report's summary document (findings, what is missing, coverage, per-target measures, clusters).

With ``pseudonymise`` every table goes through the same :class:`Pseudonymiser` as the report. Everything is
read through one :class:`~echoscope.engine.Engine` (the report stage's memory limit).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConfigError
from .graph import EDGE_ATTRIBUTES, NODE_ATTRIBUTES, network
from .pseudonymise import Pseudonymiser, known_account_ids, resolve_key
from .tables import RESULTS, copy_table, parse_tables

if TYPE_CHECKING:
    from ..engine import Engine
    from ..store.study import StudyStore as Study

ProgressFn = Callable[[dict[str, Any]], None]

#: keys of the report document written to ``summary.json``
SUMMARY_KEYS: tuple[str, ...] = ("study", "findings", "missing", "coverage", "stages", "named_targets", "measured",
                                 "overall", "groups", "targets", "coordination", "accounts", "notes",
                                 "pseudonymised", "generated_at")

#: characters that make a spreadsheet treat a cell as a formula (or smuggle one after a tab / CR)
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ExportContext:
    """What an exporter needs: the study, its engine, the output directory and an optional pseudonymiser."""

    study: Study
    engine: Engine
    out: Path
    pseudonymiser: Pseudonymiser | None = None
    progress: ProgressFn = field(default=lambda e: None)
    #: what ``parquet``/``csv`` write: ``results`` and/or ingested tables (:data:`.tables.INGESTED`)
    tables: list[str] = field(default_factory=lambda: [RESULTS])

    def p(self, table: pa.Table) -> pa.Table:
        return self.pseudonymiser.table(table) if self.pseudonymiser else table


def neutralise(value: str) -> str:
    """A text cell made inert for spreadsheets: a leading ``'`` when it starts with = + - @ tab or CR."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (list, tuple, dict)):
        return neutralise(orjson.dumps(v, default=str).decode())
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, float) and math.isnan(v):
        return ""
    return v


def write_csv(table: pa.Table, path: Path) -> None:
    """Write ``table`` as UTF-8 CSV with formula neutralisation of text cells (numbers are left as numbers)."""
    text_cols = {i for i, f in enumerate(table.schema)
                 if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([neutralise(c) for c in table.column_names])
        for batch in table.to_batches(max_chunksize=50_000):
            cols = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for row in zip(*cols):
                w.writerow([neutralise(v) if (i in text_cols and isinstance(v, str)) else _cell(v)
                            for i, v in enumerate(row)])


def _tables(ctx: ExportContext) -> dict[str, pa.Table]:
    from .data import stored_targets

    out = {}
    for name in ctx.study.manifest().result_names():
        ctx.progress({"event": "stage", "message": f"export {name}"})
        out[name] = ctx.p(ctx.engine.table(name).to_pyarrow())
    targets = stored_targets(ctx.study, ctx.engine)
    if targets is not None:
        out["report_targets"] = ctx.p(targets)
    return out


def _ingested(ctx: ExportContext, fmt: str) -> list[Path]:
    """The ingested tables asked for with ``--tables``, streamed by DuckDB (:mod:`.tables`)."""
    paths = []
    for name in ctx.tables:
        if name == RESULTS:
            continue
        ctx.progress({"event": "stage", "message": f"export {name}"})
        paths.append(copy_table(ctx.engine, name, ctx.out / f"{name}.{fmt}", fmt=fmt, pseudonymiser=ctx.pseudonymiser))
    return paths


def export_parquet(ctx: ExportContext) -> list[Path]:
    """Every result table (and ``report_targets``) as Parquet; ingested tables when asked (``--tables``)."""
    paths = []
    if RESULTS in ctx.tables:
        for name, t in _tables(ctx).items():
            p = ctx.out / f"{name}.parquet"
            pq.write_table(t, p, compression="zstd")
            paths.append(p)
    return paths + _ingested(ctx, "parquet")


def export_csv(ctx: ExportContext) -> list[Path]:
    """Every result table (and ``report_targets``) as spreadsheet-safe CSV; ingested tables when asked."""
    paths = []
    if RESULTS in ctx.tables:
        for name, t in _tables(ctx).items():
            p = ctx.out / f"{name}.csv"
            write_csv(t, p)
            paths.append(p)
    return paths + _ingested(ctx, "csv")


def export_json(ctx: ExportContext) -> list[Path]:
    """The summary document (findings, coverage, what is missing, per-target measures, clusters) as
    ``summary.json``."""
    from .html import build_document, pseudonymise_doc
    from .wording import findings

    doc = build_document(ctx.study, engine=ctx.engine)
    if ctx.pseudonymiser:
        doc = pseudonymise_doc(doc, ctx.pseudonymiser)
        doc["findings"] = findings(doc)
    summary = {k: doc.get(k) for k in SUMMARY_KEYS}
    if summary.get("coordination"):
        summary["coordination"] = {k: v for k, v in summary["coordination"].items() if k != "network"}
    p = ctx.out / "summary.json"
    p.write_bytes(orjson.dumps(summary, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    return [p]


# ---------------------------------------------------------------------------------------------- graphs
def _pseudonymise_graph(g: Any, p: Pseudonymiser) -> Any:
    import networkx as nx

    mapping = {n: p.account(n) for n in g.nodes}
    h = nx.relabel_nodes(g, mapping, copy=True)
    for n, d in h.nodes(data=True):
        if d.get("handle"):
            d["handle"] = p.handle(d["handle"])
        d["label"] = d.get("handle") or n
    return h


def _graph(ctx: ExportContext) -> tuple[Any, str]:
    g, kind = network(ctx.study, ctx.engine)
    if ctx.pseudonymiser:
        g = _pseudonymise_graph(g, ctx.pseudonymiser)
    return g, kind


def export_gexf(ctx: ExportContext) -> list[Path]:
    """The network as GEXF 1.2 with time attributes (dates) for Gephi's timeline."""
    import networkx as nx

    g, kind = _graph(ctx)
    p = ctx.out / f"{kind}.gexf"
    nx.write_gexf(g, p)
    return [p]


def export_graphml(ctx: ExportContext) -> list[Path]:
    """The network as GraphML (igraph, networkx, Gephi, Cytoscape); times as date strings."""
    import networkx as nx

    g, kind = _graph(ctx)
    h = g.copy()
    h.graph = {"name": str(g.graph.get("name", ""))}
    p = ctx.out / f"{kind}.graphml"
    nx.write_graphml(h, p)
    return [p]


def export_gephi_csv(ctx: ExportContext) -> list[Path]:
    """Gephi's spreadsheet import: ``nodes.csv`` (Id, Label, ...) and ``edges.csv`` (Source, Target, Weight, Type)."""
    g, kind = _graph(ctx)
    ncols = NODE_ATTRIBUTES
    nodes = pa.table({"Id": pa.array([str(n) for n in g.nodes], pa.string()),
                      "Label": pa.array([str(d.get("label", n)) for n, d in g.nodes(data=True)], pa.string()),
                      **{c: pa.array([d.get(c) for _, d in g.nodes(data=True)]) for c in ncols}})
    typ = "Directed" if g.is_directed() else "Undirected"
    ecols = EDGE_ATTRIBUTES
    el = list(g.edges(data=True))
    edges = pa.table({"Source": pa.array([str(a) for a, _, _ in el], pa.string()),
                      "Target": pa.array([str(b) for _, b, _ in el], pa.string()),
                      "Weight": pa.array([float(d.get("weight", 1.0)) for _, _, d in el], pa.float64()),
                      "Type": pa.array([typ] * len(el), pa.string()),
                      **{c: pa.array([d.get(c) for _, _, d in el]) for c in ecols}})
    pn, pe = ctx.out / "nodes.csv", ctx.out / "edges.csv"
    write_csv(nodes, pn)
    write_csv(edges, pe)
    return [pn, pe]


#: format name -> exporter
EXPORTERS: dict[str, Callable[[ExportContext], list[Path]]] = {
    "gexf": export_gexf,
    "graphml": export_graphml,
    "gephi-csv": export_gephi_csv,
    "parquet": export_parquet,
    "csv": export_csv,
    "json": export_json,
}


def export_study(study: Study, to: str | list[str], out: str | Path, *, pseudonymise: bool = False,
                 key_env: str | None = None, progress: ProgressFn | None = None,
                 engine: Engine | None = None, tables: str | list[str] | None = None,
                 runs: dict[str, str] | None = None) -> list[Path]:
    """Export ``study`` in the format(s) ``to`` into directory ``out``; returns the files written.

    ``engine`` is the study's engine (default: a new one, closed after; ``runs`` chooses the stored runs it
    shows, as :func:`echoscope.findings.run_selection` returns them for ``--run ID``). ``tables`` says what
    ``parquet``/``csv`` write: ``results`` (default: every result table and ``report_targets``) and/or the
    ingested ``posts``, ``accounts``, ``likes``, ``account_status``, ``targets`` (``tweets`` and ``users``
    accepted, as twarc2 names them), comma-separated.

    Raises
    ------
    ConfigError
        When a format is not one of :data:`EXPORTERS`, a table is not one ``tables`` accepts, or ``out``
        exists and is not a directory.
    """
    formats = [f.strip() for f in (to.split(",") if isinstance(to, str) else to) if f.strip()]
    bad = [f for f in formats if f not in EXPORTERS]
    if bad or not formats:
        raise ConfigError(f"--to {','.join(bad) or '(empty)'}: unknown export format; use one of "
                          f"{', '.join(EXPORTERS)} (comma-separated for several)")
    chosen = parse_tables(tables)
    outp = Path(out)
    if outp.exists() and not outp.is_dir():
        raise ConfigError(f"-o {outp}: exists and is not a directory; give a directory for the exported files")
    outp.mkdir(parents=True, exist_ok=True)
    from ..engine import Engine

    key = resolve_key(study.path, key_env) if pseudonymise else None  # fail before the work on a bad key
    eng = engine or Engine(study, runs=runs)
    try:
        with eng.stage("report"):
            p = Pseudonymiser(key, known_ids=known_account_ids(eng)) if key is not None else None
            ctx = ExportContext(study, eng, outp, p, progress or (lambda e: None), chosen)
            written: list[Path] = []
            for f in formats:
                ctx.progress({"event": "stage", "message": f"export {f}"})
                written += EXPORTERS[f](ctx)
    finally:
        if engine is None:
            eng.close()
    return written


__all__ = ["EXPORTERS", "FORMULA_PREFIXES", "export_study", "network", "neutralise", "write_csv"]

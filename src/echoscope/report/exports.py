"""Exports for Gephi, igraph/networkx, spreadsheets, pandas and notebooks.

Why a registry of exporters: every format is one function ``(ctx) -> list[Path]`` in :data:`EXPORTERS`,
so ``echoscope export --to FORMAT`` and the docs list the same names, and adding a format is one entry.

- ``gexf`` / ``graphml``: the coordination network (``coord_edges``, judged edges of the fused network or
  the behaviour with most judged edges) with account attributes (handle, cluster, followers, created, status)
  and time attributes (node start = first co-action or account creation; edge start/end = first and last
  co-action, as dates) -- written by networkx. A study without coordination results exports the
  amplification network instead (amplifier -> target, weighted by engagements), and says so in the file name.
- ``gephi-csv``: ``nodes.csv`` (``Id,Label`` + attributes) and ``edges.csv`` (``Source,Target,Weight,Type``).
- ``parquet`` / ``csv``: every result table of the study, plus ``report_targets`` (the report's per-target
  statistics). CSV cells that are text and begin with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  get a leading single quote so a spreadsheet runs nothing (OWASP CSV injection); numeric columns stay numbers,
  list and struct cells are written as JSON.
- ``json``: the report's summary document (findings, coverage, per-target statistics, clusters).

With ``pseudonymise`` every table goes through the same :class:`Pseudonymiser` as the report.
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
from .pseudonymise import Pseudonymiser, known_account_ids, resolve_key

if TYPE_CHECKING:
    from ..store.study import StudyStore as Study

ProgressFn = Callable[[dict[str, Any]], None]

#: characters that make a spreadsheet treat a cell as a formula (or smuggle one after a tab / CR)
FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ExportContext:
    """What an exporter needs: the study, the output directory and an optional pseudonymiser."""

    study: Study
    out: Path
    pseudonymiser: Pseudonymiser | None = None
    progress: ProgressFn = field(default=lambda e: None)

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
    text_cols = {i for i, f in enumerate(table.schema) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([neutralise(c) for c in table.column_names])
        for batch in table.to_batches(max_chunksize=50_000):
            cols = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
            for row in zip(*cols):
                w.writerow([neutralise(v) if (i in text_cols and isinstance(v, str)) else _cell(v)
                            for i, v in enumerate(row)])


def _result_tables(study: Study) -> list[str]:
    return study.manifest().result_names()


def _report_targets(ctx: ExportContext) -> pa.Table:
    from .data import ReportOptions, as_arrow_targets, gather

    doc = gather(ctx.study, ReportOptions(result_preview_rows=0, max_table_rows=10**9))
    return as_arrow_targets(doc)


def _tables(ctx: ExportContext) -> dict[str, pa.Table]:
    out = {}
    for name in _result_tables(ctx.study):
        ctx.progress({"event": "stage", "message": f"export {name}"})
        out[name] = ctx.p(ctx.study.to_arrow(name))
    out["report_targets"] = ctx.p(_report_targets(ctx))
    return out


def export_parquet(ctx: ExportContext) -> list[Path]:
    """Every result table (and ``report_targets``) as Parquet."""
    paths = []
    for name, t in _tables(ctx).items():
        p = ctx.out / f"{name}.parquet"
        pq.write_table(t, p, compression="zstd")
        paths.append(p)
    return paths


def export_csv(ctx: ExportContext) -> list[Path]:
    """Every result table (and ``report_targets``) as spreadsheet-safe CSV."""
    paths = []
    for name, t in _tables(ctx).items():
        p = ctx.out / f"{name}.csv"
        write_csv(t, p)
        paths.append(p)
    return paths


def export_json(ctx: ExportContext) -> list[Path]:
    """The summary document (findings, coverage, per-target statistics, clusters) as ``summary.json``."""
    from .html import build_document

    doc = build_document(ctx.study, pseudonymise=False)
    if ctx.pseudonymiser:
        from .html import findings

        doc = ctx.pseudonymiser.record(doc)
        doc["study"]["path"] = "(withheld)"
        doc["pseudonymised"] = True
        doc["findings"] = findings(doc)
    keep = ("study", "findings", "coverage", "stages", "overall", "groups", "targets", "coordination", "accounts",
            "flags", "notes", "pseudonymised", "generated_at")
    summary = {k: doc.get(k) for k in keep}
    if summary.get("coordination"):
        summary["coordination"] = {k: v for k, v in summary["coordination"].items() if k != "network"}
    p = ctx.out / "summary.json"
    p.write_bytes(orjson.dumps(summary, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    return [p]


# ---------------------------------------------------------------------------------------------- graphs
def _date(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return None
        return dt.datetime.fromtimestamp(float(v), dt.UTC).date().isoformat()
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC).date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)[:10]


def network(study: Study) -> tuple[Any, str]:
    """The network to export as a networkx graph, and its name (``coordination`` or ``amplification``)."""
    import networkx as nx

    con = study.con().con
    results = set(study.manifest().result_names())
    acc = """(SELECT account_id, any_value(handle) AS handle, any_value(followers_count) AS followers,
                     any_value(created_at) AS created_at FROM accounts GROUP BY 1)"""
    status = """(SELECT account_id, arg_max(status, checked_at) AS status FROM account_status GROUP BY 1)"""
    if "coord_edges" in results:
        cols = {r[0] for r in con.execute('DESCRIBE "coord_edges"').fetchall()}
        if not {"account_a", "account_b"} <= cols:
            raise ConfigError("coord_edges has no account_a/account_b columns; re-run 'echoscope coordinate'")
        cond = ["account_a <> account_b"]
        if "significant" in cols:
            cond.append("significant")
        if "behaviour" in cols:
            net = con.execute(f"""SELECT behaviour FROM coord_edges WHERE {' AND '.join(cond)} GROUP BY 1
                                  ORDER BY (behaviour = 'fused') DESC, count(*) DESC LIMIT 1""").fetchone()
            if net:
                cond.append("behaviour = '" + str(net[0]).replace("'", "''") + "'")
        sel = ", ".join(f"{c}" if c in cols else f"NULL AS {c}" for c in
                        ("weight", "behaviour", "first_ts", "last_ts", "p_value", "n_objects", "min_gap_s"))
        edges = con.execute(f"SELECT CAST(account_a AS VARCHAR) AS a, CAST(account_b AS VARCHAR) AS b, {sel} "
                            f"FROM coord_edges WHERE {' AND '.join(cond)}").fetch_arrow_table()
        g = nx.Graph(mode="dynamic", name="echoscope coordination network")
        kind = "coordination"
        for r in edges.to_pylist():
            attrs = {"weight": float(r["weight"] if r["weight"] is not None else 1.0),
                     "behaviour": r["behaviour"], "p_value": r["p_value"], "n_objects": r["n_objects"],
                     "min_gap_s": r["min_gap_s"], "start": _date(r["first_ts"]), "end": _date(r["last_ts"])}
            g.add_edge(r["a"], r["b"], **{k: v for k, v in attrs.items() if v is not None})
        members = {}
        if "coord_members" in results:
            members = {str(a): str(c) for a, c in con.execute(
                "SELECT CAST(account_id AS VARCHAR), CAST(cluster_id AS VARCHAR) FROM coord_members").fetchall()}
    else:
        kind = "amplification"
        g = nx.DiGraph(mode="dynamic", name="echoscope amplification network (amplifier -> target)")
        edges = con.execute("""SELECT e.actor_id AS a, t.account_id AS b, count(*) AS weight,
                strftime(min(e.created_at), '%Y-%m-%d') AS first_d, strftime(max(e.created_at), '%Y-%m-%d') AS last_d
            FROM engagements e JOIN (SELECT DISTINCT account_id FROM targets WHERE account_id IS NOT NULL) t
              ON t.account_id = e.subject_account_id GROUP BY 1, 2""").fetch_arrow_table()
        for r in edges.to_pylist():
            g.add_edge(r["a"], r["b"], weight=float(r["weight"]), start=r["first_d"], end=r["last_d"],
                       behaviour="engagement")
        members = {}
    if g.number_of_nodes():
        con.execute("CREATE OR REPLACE TEMP TABLE _x_nodes AS SELECT unnest(?) AS account_id", [list(g.nodes)])
        rows = con.execute(f"""SELECT n.account_id, a.handle, a.followers, strftime(a.created_at, '%Y-%m-%d') AS created,
                s.status FROM _x_nodes n LEFT JOIN {acc} a USING (account_id) LEFT JOIN {status} s USING (account_id)
            """).fetch_arrow_table().to_pylist()
        con.execute("DROP TABLE IF EXISTS _x_nodes")
        for r in rows:
            n = r["account_id"]
            starts = [d.get("start") for _, _, d in g.edges(n, data=True) if d.get("start")]
            if g.is_directed():
                starts += [d.get("start") for _, _, d in g.in_edges(n, data=True) if d.get("start")]
            attrs = {"label": r["handle"] or n, "handle": r["handle"], "followers": r["followers"],
                     "created": r["created"], "status": r["status"] or "unchecked",
                     "cluster": members.get(n), "start": min(starts) if starts else r["created"]}
            g.nodes[n].update({k: v for k, v in attrs.items() if v is not None})
    return g, kind


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
    g, kind = network(ctx.study)
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
    ncols = ("handle", "cluster", "followers", "created", "status", "start")
    nodes = pa.table({"Id": pa.array([str(n) for n in g.nodes], pa.string()),
                      "Label": pa.array([str(d.get("label", n)) for n, d in g.nodes(data=True)], pa.string()),
                      **{c: pa.array([d.get(c) for _, d in g.nodes(data=True)]) for c in ncols}})
    typ = "Directed" if g.is_directed() else "Undirected"
    ecols = ("behaviour", "p_value", "n_objects", "min_gap_s", "start", "end")
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
                 key_env: str | None = None, progress: ProgressFn | None = None) -> list[Path]:
    """Export ``study`` in the format(s) ``to`` into directory ``out``; returns the files written.

    Raises
    ------
    ConfigError
        When a format is not one of :data:`EXPORTERS`, or ``out`` exists and is not a directory.
    """
    formats = [f.strip() for f in (to.split(",") if isinstance(to, str) else to) if f.strip()]
    bad = [f for f in formats if f not in EXPORTERS]
    if bad or not formats:
        raise ConfigError(f"--to {','.join(bad) or '(empty)'}: unknown export format; use one of "
                          f"{', '.join(EXPORTERS)} (comma-separated for several)")
    outp = Path(out)
    if outp.exists() and not outp.is_dir():
        raise ConfigError(f"-o {outp}: exists and is not a directory; give a directory for the exported files")
    outp.mkdir(parents=True, exist_ok=True)
    p = None
    if pseudonymise:
        p = Pseudonymiser(resolve_key(study.path, key_env), known_ids=known_account_ids(study))
    ctx = ExportContext(study, outp, p, progress or (lambda e: None))
    written: list[Path] = []
    for f in formats:
        ctx.progress({"event": "stage", "message": f"export {f}"})
        written += EXPORTERS[f](ctx)
    return written


def is_numeric_column(table: pa.Table, name: str) -> bool:
    """True when column ``name`` of ``table`` is integer or floating point (exports keep these as numbers)."""
    t = table.schema.field(name).type
    return pa.types.is_integer(t) or pa.types.is_floating(t)


__all__ = ["EXPORTERS", "FORMULA_PREFIXES", "export_study", "network", "neutralise", "write_csv"]

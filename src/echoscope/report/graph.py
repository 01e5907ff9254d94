"""The network the graph exports write (GEXF, GraphML, Gephi CSV): judged edges and every cluster member.

Why the nodes are not just the edges' ends: a coordinated cluster can keep members that have no judged pair
edge of their own (the group validation keeps accounts whose co-actions with the group as a whole beat the
null model), and an analyst who opens the export in Gephi must find every flagged account there. So the nodes
are the union of the judged edges' ends and every member of every cluster in ``coord_members``; each node
carries its cluster (and whether that cluster was judged coordinated, its ``kind`` and ``label`` when the
cluster table has them), its latest handle and status check, and its stored risk score. Each edge carries its
behaviour, weight, p-value and the number of stored evidence rows (``coord_evidence``) behind it.

Everything is joined in DuckDB over the engine's views (the run ``--run`` chose); networkx only receives the
final edge and node rows, which is the graph the file holds anyway.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..engine import Engine
    from ..store.study import StudyStore as Study

#: node attributes written by every graph export (in the Gephi nodes.csv order, after Id and Label)
NODE_ATTRIBUTES: tuple[str, ...] = ("handle", "cluster", "coordinated", "cluster_kind", "cluster_label", "score",
                                    "high_risk", "status", "followers", "created", "start")
#: edge attributes written by every graph export (in the Gephi edges.csv order, after Source..Type)
EDGE_ATTRIBUTES: tuple[str, ...] = ("behaviour", "behaviours", "p_value", "evidence_count", "n_objects",
                                    "min_gap_s", "start", "end")


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


def _lit(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _cols(con: Any, name: str) -> set[str]:
    try:
        return {r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()}
    except Exception:  # an absent view reads as no columns
        return set()


def _coordination_edges(con: Any) -> tuple[Any, str | None]:
    """Judged edges of the clustered network (``fused`` when stored, else the behaviour with most judged
    edges) with their evidence counts; returns the Arrow table and the network's behaviour."""
    cols = _cols(con, "coord_edges")
    if not {"account_a", "account_b"} <= cols:
        raise ConfigError("coord_edges has no account_a/account_b columns; re-run 'echoscope coordinate'")
    cond = ["account_a <> account_b"]
    if "significant" in cols:
        cond.append("significant")
    net = None
    if "behaviour" in cols:
        row = con.execute(f"""SELECT behaviour FROM coord_edges WHERE {' AND '.join(cond)} GROUP BY 1
                              ORDER BY (behaviour = 'fused') DESC, count(*) DESC, behaviour LIMIT 1""").fetchone()
        if row:
            net = str(row[0])
            cond.append(f"behaviour = {_lit(net)}")
    sel = ", ".join(f"e.{c}" if c in cols else f"NULL AS {c}" for c in
                    ("weight", "behaviour", "first_ts", "last_ts", "p_value", "n_objects", "min_gap_s"))
    ev_cols = _cols(con, "coord_evidence")
    if {"account_a", "account_b"} <= ev_cols:
        beh = "behaviour" if "behaviour" in ev_cols else "NULL"
        # a fused edge stands for every behaviour of the pair: its evidence is every row of the pair
        match = "" if net in (None, "fused") or "behaviour" not in ev_cols else f"WHERE behaviour = {_lit(net)}"
        ev = f"""SELECT least(CAST(account_a AS VARCHAR), CAST(account_b AS VARCHAR)) AS x,
                        greatest(CAST(account_a AS VARCHAR), CAST(account_b AS VARCHAR)) AS y,
                        count(*) AS evidence_count, string_agg(DISTINCT {beh}, ',' ORDER BY {beh}) AS behaviours
                 FROM coord_evidence {match} GROUP BY 1, 2"""
    else:
        ev = "SELECT NULL::VARCHAR AS x, NULL::VARCHAR AS y, 0 AS evidence_count, NULL::VARCHAR AS behaviours LIMIT 0"
    edges = con.execute(f"""WITH e AS (SELECT CAST(account_a AS VARCHAR) AS a, CAST(account_b AS VARCHAR) AS b, {sel}
                                       FROM coord_edges e WHERE {' AND '.join(cond)}),
        ev AS ({ev})
        SELECT e.*, coalesce(ev.evidence_count, 0) AS evidence_count, ev.behaviours
        FROM e LEFT JOIN ev ON ev.x = least(e.a, e.b) AND ev.y = greatest(e.a, e.b)
        ORDER BY e.a, e.b""").fetch_arrow_table()
    return edges, net


def _nodes(con: Any, *, members: bool) -> list[dict[str, Any]]:
    """Node rows for the ends of ``_x_edges`` (a registered Arrow table with ``a``, ``b``, ``first_ts``) and,
    when ``members``, every account of ``coord_members``."""
    mc, cc = _cols(con, "coord_members"), _cols(con, "coord_clusters")
    if members and {"account_id", "cluster_id"} <= mc:
        coord = 'c."coordinated"' if "coordinated" in cc else "NULL"
        kind = 'c."kind"' if "kind" in cc else "NULL"
        label = 'c."label"' if "label" in cc else "NULL"
        join = ("LEFT JOIN coord_clusters c ON CAST(c.cluster_id AS VARCHAR) = CAST(m.cluster_id AS VARCHAR)"
                if "cluster_id" in cc else "")
        if not join:
            coord = kind = label = "NULL"
        # an account in two clusters (not expected) shows its coordinated cluster
        mem = f"""SELECT CAST(m.account_id AS VARCHAR) AS account_id, CAST(m.cluster_id AS VARCHAR) AS cluster,
                         CAST({coord} AS BOOLEAN) AS coordinated, CAST({kind} AS VARCHAR) AS cluster_kind,
                         CAST({label} AS VARCHAR) AS cluster_label
                  FROM coord_members m {join}
                  QUALIFY row_number() OVER (PARTITION BY CAST(m.account_id AS VARCHAR)
                                             ORDER BY {coord} DESC NULLS LAST, CAST(m.cluster_id AS VARCHAR)) = 1"""
    else:
        mem = """SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS cluster, NULL::BOOLEAN AS coordinated,
                        NULL::VARCHAR AS cluster_kind, NULL::VARCHAR AS cluster_label LIMIT 0"""
    sc = _cols(con, "account_scores")
    if {"account_id", "score"} <= sc:
        hr = '"high_risk"' if "high_risk" in sc else "NULL"
        scores = f"""SELECT CAST(account_id AS VARCHAR) AS account_id, any_value(score) AS score,
                            CAST(any_value({hr}) AS BOOLEAN) AS high_risk FROM account_scores GROUP BY 1"""
    else:
        scores = "SELECT NULL::VARCHAR AS account_id, NULL::DOUBLE AS score, NULL::BOOLEAN AS high_risk LIMIT 0"
    rows = con.execute(f"""WITH m AS ({mem}),
        ends AS (SELECT a AS account_id, first_ts FROM _x_edges UNION ALL SELECT b, first_ts FROM _x_edges),
        n AS (SELECT account_id, min(first_ts) AS first_ts FROM
                (SELECT account_id, first_ts FROM ends UNION ALL SELECT account_id, NULL FROM m) GROUP BY 1),
        acc AS (SELECT account_id, first(handle ORDER BY (handle IS NULL), observed_at DESC NULLS LAST) AS handle,
                       first(followers_count ORDER BY observed_at DESC NULLS LAST) AS followers,
                       min(created_at) AS created_at
                FROM accounts WHERE account_id IN (SELECT account_id FROM n) GROUP BY 1),
        st AS (SELECT account_id, arg_max(status, coalesce(checked_at, TIMESTAMPTZ '1970-01-01 00:00:00+00')) AS status
               FROM account_status WHERE account_id IN (SELECT account_id FROM n) GROUP BY 1),
        sc AS ({scores})
        SELECT n.account_id, n.first_ts, acc.handle, acc.followers, strftime(acc.created_at, '%Y-%m-%d') AS created,
               st.status, sc.score, sc.high_risk, m.cluster, m.coordinated, m.cluster_kind, m.cluster_label
        FROM n LEFT JOIN acc USING (account_id) LEFT JOIN st USING (account_id) LEFT JOIN m USING (account_id)
        LEFT JOIN sc USING (account_id) ORDER BY (m.cluster IS NULL), m.cluster, n.account_id""").fetch_arrow_table()
    return rows.to_pylist()


def network(study: Study, engine: Engine | None = None) -> tuple[Any, str]:
    """The network to export as a networkx graph, and its name (``coordination`` or ``amplification``).

    Coordination: undirected, the judged edges of the clustered network plus every cluster member as a node
    (see the module docstring; node attributes :data:`NODE_ATTRIBUTES`, edge attributes
    :data:`EDGE_ATTRIBUTES`). Without coordination results: the amplification network, amplifier -> target,
    weighted by engagements.
    """
    import networkx as nx
    import pyarrow as pa

    from ..engine import Engine

    con = (engine or Engine(study)).raw
    if "coord_edges" in set(study.manifest().result_names()):
        edges, _ = _coordination_edges(con)
        g = nx.Graph(mode="dynamic", name="echoscope coordination network")
        kind = "coordination"
        for r in edges.to_pylist():
            attrs = {"weight": float(r["weight"] if r["weight"] is not None else 1.0),
                     "behaviour": r["behaviour"], "behaviours": r["behaviours"], "p_value": r["p_value"],
                     "evidence_count": int(r["evidence_count"] or 0), "n_objects": r["n_objects"],
                     "min_gap_s": r["min_gap_s"], "start": _date(r["first_ts"]), "end": _date(r["last_ts"])}
            g.add_edge(r["a"], r["b"], **{k: v for k, v in attrs.items() if v is not None})
        ends = edges.select(["a", "b", "first_ts"]).cast(pa.schema([("a", pa.string()), ("b", pa.string()),
                                                                     ("first_ts", pa.float64())]))
        members = True
    else:
        kind = "amplification"
        g = nx.DiGraph(mode="dynamic", name="echoscope amplification network (amplifier -> target)")
        edges = con.execute("""SELECT e.actor_id AS a, t.account_id AS b, count(*) AS weight,
                strftime(min(e.created_at), '%Y-%m-%d') AS first_d, strftime(max(e.created_at), '%Y-%m-%d') AS last_d,
                epoch(min(e.created_at)) AS first_ts
            FROM engagements e JOIN (SELECT DISTINCT account_id FROM targets WHERE account_id IS NOT NULL) t
              ON t.account_id = e.subject_account_id GROUP BY 1, 2""").fetch_arrow_table()
        for r in edges.to_pylist():
            g.add_edge(r["a"], r["b"], weight=float(r["weight"]), start=r["first_d"], end=r["last_d"],
                       behaviour="engagement")
        ends = edges.select(["a", "b", "first_ts"]).cast(pa.schema([("a", pa.string()), ("b", pa.string()),
                                                                     ("first_ts", pa.float64())]))
        members = False
    con.register("_x_edges", ends)
    try:
        rows = _nodes(con, members=members)
    finally:
        con.unregister("_x_edges")
    for r in rows:
        n = r["account_id"]
        attrs = {"label": r["handle"] or n, "handle": r["handle"], "cluster": r["cluster"],
                 "coordinated": r["coordinated"], "cluster_kind": r["cluster_kind"],
                 "cluster_label": r["cluster_label"], "score": r["score"], "high_risk": r["high_risk"],
                 "status": r["status"] or "unchecked", "followers": r["followers"], "created": r["created"],
                 "start": _date(r["first_ts"]) or r["created"]}
        if n not in g:
            g.add_node(n)
        g.nodes[n].update({k: v for k, v in attrs.items() if v is not None})
    return g, kind


__all__ = ["EDGE_ATTRIBUTES", "NODE_ATTRIBUTES", "network"]

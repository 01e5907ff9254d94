"""Coordinated clusters as stored by ``echoscope coordinate``, read a page at a time.

Every query here is bounded in DuckDB (``LIMIT``/``OFFSET`` over one cluster or one page of clusters): a study
of a million accounts with thousands of clusters never becomes Python objects. The cluster table's numbers
(size, p-value, share suspended, targets amplified, first and last activity) are the ones the coordination
stage stored; nothing is recomputed. A column a table lacks reads as None, and columns added later (a cluster
``label`` or ``kind``, say) are passed through as they are.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from ..engine import Engine
from ..errors import ConfigError
from .base import (
    cached,
    columns,
    handles,
    network_behaviour,
    page,
    placeholders,
    require_coordination,
    run_info,
    statuses,
)
from .evidence import describe
from .wording import format_p, iso, percent

#: columns of ``coord_clusters`` given their own shape below; every other column is passed through
KNOWN_COLUMNS: frozenset[str] = frozenset({
    "cluster_id", "size", "coordinated", "p_value", "z", "behaviours", "n_edges", "weight", "null_weight",
    "created_first", "created_last", "created_spread_days", "median_followers", "share_suspended", "targets",
    "first_activity", "last_activity", "evidence"})

#: columns that, when a later coordination run stores them, put clusters that amplify the targets first
LEAD_COLUMNS: tuple[str, ...] = ("amplifies_targets",)

_TARGET = re.compile(r"\s*(.+?) \((\d+)\)\s*(?:,|$)")


def parse_targets(text: str | None) -> list[dict[str, Any]]:
    """The stored ``targets`` string (``@a (12), @b (3)``) as ``[{"handle", "account_id", "engagements"}]``."""
    out: list[dict[str, Any]] = []
    for name, n in _TARGET.findall(text or ""):
        is_handle = name.startswith("@")
        out.append({"handle": name[1:] if is_handle else None, "account_id": None if is_handle else name,
                    "engagements": int(n)})
    return out


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (dt.datetime, dt.date)):
        return iso(v)
    return v


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    """A stored cluster row for people and machines: behaviours as a list, p-value as text, targets parsed."""
    beh = row.get("behaviours")
    out: dict[str, Any] = {
        "cluster_id": row.get("cluster_id"), "size": row.get("size"), "coordinated": row.get("coordinated"),
        "behaviours": [b for b in str(beh).split(",") if b] if beh else [],
        "p_value": _json_value(row.get("p_value")), "p_value_text": format_p(row.get("p_value")),
        "z": _json_value(row.get("z")), "n_edges": row.get("n_edges"), "weight": _json_value(row.get("weight")),
        "targets": parse_targets(row.get("targets")), "targets_text": row.get("targets"),
        "share_suspended": _json_value(row.get("share_suspended")),
        "share_suspended_text": percent(row.get("share_suspended")),
        "first_activity": iso(row.get("first_activity")), "last_activity": iso(row.get("last_activity")),
        "created_first": iso(row.get("created_first")), "created_last": iso(row.get("created_last")),
        "created_spread_days": _json_value(row.get("created_spread_days")),
        "median_followers": _json_value(row.get("median_followers")),
    }
    for k, v in row.items():
        if k not in KNOWN_COLUMNS and not isinstance(v, (list, dict)):
            out[k] = _json_value(v)
    return out


def _order(have: set[str], coordinated_only: bool) -> str:
    keys = [f'"{c}" DESC NULLS LAST' for c in LEAD_COLUMNS if c in have]
    if not coordinated_only and "coordinated" in have:
        keys.append('"coordinated" DESC NULLS LAST')
    if "size" in have:
        keys.append('"size" DESC NULLS LAST')
    keys.append("cluster_id")
    return ", ".join(keys)


def _where(have: set[str], coordinated_only: bool) -> str:
    return 'WHERE "coordinated"' if coordinated_only and "coordinated" in have else ""


def list_clusters(engine: Engine, *, limit: int | None = 30, offset: int | None = 0, coordinated_only: bool = True,
                  members_shown: int | None = 8) -> dict[str, Any]:
    """A page of clusters, coordinated ones only by default, largest first.

    Returns
    -------
    dict
        ``total`` (clusters matching), ``offset``, ``limit``, ``run`` (which coordination run),
        ``clusters``: per cluster its stored fields (:func:`_shape`) plus ``members`` (the ``members_shown``
        strongest, every member when None; ``account_id`` and ``handle``) and ``members_more`` (how many are
        not listed).
    """
    require_coordination(engine)
    lim, off = page(limit, offset, 30)
    have = columns(engine, "coord_clusters")
    where = _where(have, coordinated_only)
    total = int(engine.scalar(f"SELECT count(*) FROM coord_clusters {where}") or 0)
    rows = engine.rows(f"SELECT * FROM coord_clusters {where} ORDER BY {_order(have, coordinated_only)} "
                       f"LIMIT {lim} OFFSET {off}")
    clusters = [_shape(r) for r in rows]
    ids = [str(c["cluster_id"]) for c in clusters]
    members = _top_members(engine, ids, None if members_shown is None else max(0, int(members_shown)))
    for c in clusters:
        shown = members.get(str(c["cluster_id"]), [])
        c["members"] = shown
        size = c.get("size") if c.get("size") is not None else len(shown)
        c["members_more"] = max(0, int(size) - len(shown))
    return {"total": total, "offset": off, "limit": lim, "coordinated_only": coordinated_only,
            "run": _run(engine), "clusters": clusters}


def _run(engine: Engine) -> dict[str, Any] | None:
    info = run_info(engine, "coordination")
    if info is None:
        return None
    return {k: info[k] for k in ("run_id", "written_at", "latest")} | {"parameters": info["parameters"]}


def _top_members(engine: Engine, cluster_ids: list[str], n: int | None) -> dict[str, list[dict[str, Any]]]:
    """The ``n`` strongest members (all when None) of each listed cluster with their handles (one query over
    the page's clusters)."""
    if not cluster_ids or (n is not None and n <= 0):
        return {}
    mc = columns(engine, "coord_members")
    order = "strength DESC NULLS LAST, " if "strength" in mc else ("degree DESC NULLS LAST, " if "degree" in mc else "")
    mh = "handle" if "handle" in mc else "NULL"
    people = ("SELECT account_id, handle FROM _findings_people WHERE account_id IN (SELECT account_id FROM m)"
              if cached(engine) else """SELECT account_id,
                  first(handle ORDER BY (handle IS NULL), observed_at DESC NULLS LAST) AS handle
              FROM accounts WHERE account_id IN (SELECT account_id FROM m) GROUP BY 1""")
    rows = engine.rows(f"""WITH m AS (
            SELECT CAST(cluster_id AS VARCHAR) AS cluster_id, CAST(account_id AS VARCHAR) AS account_id,
                   CAST({mh} AS VARCHAR) AS handle,
                   row_number() OVER (PARTITION BY cluster_id ORDER BY {order}account_id) AS rk
            FROM coord_members WHERE CAST(cluster_id AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))
            QUALIFY {"true" if n is None else f"rk <= {int(n)}"}),
        h AS ({people})
        SELECT m.cluster_id, m.account_id, coalesce(h.handle, m.handle) AS handle FROM m
        LEFT JOIN h USING (account_id) ORDER BY m.cluster_id, m.rk""", [cluster_ids])
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["cluster_id"], []).append({"account_id": r["account_id"], "handle": r["handle"]})
    return out


def _cluster_row(engine: Engine, cluster_id: Any) -> dict[str, Any]:
    row = engine.rows("SELECT * FROM coord_clusters WHERE CAST(cluster_id AS VARCHAR) = ? LIMIT 1", [str(cluster_id)])
    if not row:
        n = engine.scalar("SELECT count(*) FROM coord_clusters")
        raise ConfigError(f"no cluster {cluster_id} in {engine.study.path} (coord_clusters holds {n} cluster(s) "
                          f"numbered from 1); 'echoscope clusters {engine.study.path}' lists them")
    return _shape(row[0])


def cluster_members(engine: Engine, cluster_id: Any, *, limit: int | None = 50,
                    offset: int | None = 0) -> dict[str, Any]:
    """A page of one cluster's members, strongest first: handle, id, score, high risk, status, degree, strength."""
    require_coordination(engine)
    lim, off = page(limit, offset)
    mc = columns(engine, "coord_members")
    order = "strength DESC NULLS LAST, " if "strength" in mc else ("degree DESC NULLS LAST, " if "degree" in mc else "")
    sel = ", ".join(f'"{c}"' if c in mc else f'NULL AS "{c}"' for c in ("degree", "strength"))
    cid = str(cluster_id)
    total = int(engine.scalar("SELECT count(*) FROM coord_members WHERE CAST(cluster_id AS VARCHAR) = ?", [cid]) or 0)
    rows = engine.rows(f"""SELECT CAST(account_id AS VARCHAR) AS account_id, {sel} FROM coord_members
        WHERE CAST(cluster_id AS VARCHAR) = ? ORDER BY {order}account_id LIMIT {lim} OFFSET {off}""", [cid])
    _annotate_accounts(engine, rows)
    return {"cluster_id": cluster_id, "total": total, "offset": off, "limit": lim, "members": rows}


def _annotate_accounts(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Add handle, display name, status, score and high risk to rows with ``account_id`` (one query each)."""
    ids = [r["account_id"] for r in rows if r.get("account_id") is not None]
    if not ids:
        return
    src = "SELECT account_id, handle, display_name FROM _findings_people" if cached(engine) else """SELECT account_id,
            first(handle ORDER BY (handle IS NULL), observed_at DESC NULLS LAST) AS handle,
            first(display_name ORDER BY (display_name IS NULL), observed_at DESC NULLS LAST) AS display_name
        FROM accounts GROUP BY 1"""
    prof = {r["account_id"]: r for r in engine.rows(
        f"SELECT * FROM ({src}) WHERE account_id IN {placeholders(ids)}", ids)}
    status = {k: v["status"] for k, v in statuses(engine, ids).items()}
    scores: dict[str, dict[str, Any]] = {}
    sc = columns(engine, "account_scores")
    if {"account_id", "score"} <= sc:
        hr = '"high_risk"' if "high_risk" in sc else "NULL"
        scores = {r["account_id"]: r for r in engine.rows(f"""SELECT CAST(account_id AS VARCHAR) AS account_id,
                score, {hr} AS high_risk FROM account_scores WHERE account_id IN {placeholders(ids)}""", ids)}
    for r in rows:
        p = prof.get(r["account_id"], {})
        s = scores.get(r["account_id"], {})
        r["handle"] = p.get("handle") or r.get("handle")
        r["display_name"] = p.get("display_name")
        r["status"] = status.get(r["account_id"])
        r["score"] = _json_value(s.get("score"))
        r["high_risk"] = s.get("high_risk")


def cluster_edges(engine: Engine, cluster_id: Any, *, limit: int | None = 50,
                  offset: int | None = 0) -> dict[str, Any]:
    """A page of the edges among one cluster's members on the clustered network, heaviest first."""
    require_coordination(engine)
    lim, off = page(limit, offset)
    ec = columns(engine, "coord_edges")
    net = network_behaviour(engine, (run_info(engine, "coordination") or {}).get("summary"))
    cond = "e.behaviour = ?" if "behaviour" in ec and net else "true"
    args: list[Any] = [str(cluster_id)] + ([net] if "behaviour" in ec and net else [])
    w = "e.weight" if "weight" in ec else "1.0"
    sel = ", ".join(f'e."{c}"' if c in ec else f'NULL AS "{c}"'
                    for c in ("n_objects", "p_value", "significant", "min_gap_s", "first_ts", "last_ts"))
    base = f"""WITH m AS (SELECT DISTINCT CAST(account_id AS VARCHAR) AS account_id FROM coord_members
                          WHERE CAST(cluster_id AS VARCHAR) = ?)
        SELECT CAST(e.account_a AS VARCHAR) AS account_a, CAST(e.account_b AS VARCHAR) AS account_b,
               {w} AS weight, {sel}
        FROM coord_edges e WHERE {cond} AND e.account_a <> e.account_b
          AND CAST(e.account_a AS VARCHAR) IN (SELECT account_id FROM m)
          AND CAST(e.account_b AS VARCHAR) IN (SELECT account_id FROM m)"""
    total = int(engine.scalar(f"SELECT count(*) FROM ({base})", args) or 0)
    rows = engine.rows(f"{base} ORDER BY weight DESC NULLS LAST, account_a, account_b LIMIT {lim} OFFSET {off}", args)
    names = handles(engine, [r["account_a"] for r in rows] + [r["account_b"] for r in rows])
    for r in rows:
        r["handle_a"], r["handle_b"] = names.get(r["account_a"]), names.get(r["account_b"])
        r["p_value_text"] = format_p(r["p_value"])
        r["weight"] = _json_value(r["weight"])
        r["first_activity"], r["last_activity"] = iso(r.pop("first_ts")), iso(r.pop("last_ts"))
    return {"cluster_id": cluster_id, "network": net, "total": total, "offset": off, "limit": lim, "edges": rows}


def _evidence_base(engine: Engine) -> tuple[str, set[str]]:
    ev = columns(engine, "coord_evidence")
    sel = ", ".join(f'e."{c}"' if c in ev else f'NULL AS "{c}"'
                    for c in ("behaviour", "object_id", "action_a", "action_b", "ts_a", "ts_b", "gap_s"))
    base = f"""WITH m AS (SELECT DISTINCT CAST(account_id AS VARCHAR) AS account_id FROM coord_members
                          WHERE CAST(cluster_id AS VARCHAR) = ?)
        SELECT CAST(e.account_a AS VARCHAR) AS account_a, CAST(e.account_b AS VARCHAR) AS account_b, {sel}
        FROM coord_evidence e WHERE CAST(e.account_a AS VARCHAR) IN (SELECT account_id FROM m)
          AND CAST(e.account_b AS VARCHAR) IN (SELECT account_id FROM m)"""
    return base, ev


def cluster_evidence(engine: Engine, cluster_id: Any, *, limit: int | None = 50,
                     offset: int | None = 0) -> dict[str, Any]:
    """A page of the co-actions between members of one cluster, in time order, in words (:func:`describe`)."""
    require_coordination(engine)
    lim, off = page(limit, offset)
    base, _ = _evidence_base(engine)
    args = [str(cluster_id)]
    total = int(engine.scalar(f"SELECT count(*) FROM ({base})", args) or 0)
    # one event seen by several behaviours (the same two actions) stays together: behaviour sorts last
    rows = engine.rows(f"""{base} ORDER BY least(e.ts_a, e.ts_b) NULLS LAST, e.account_a, e.account_b, e.action_a,
        e.action_b, e.behaviour, e.object_id LIMIT {lim} OFFSET {off}""", args) if total else []
    params = (run_info(engine, "coordination") or {}).get("parameters") or {}
    return {"cluster_id": cluster_id, "total": total, "offset": off, "limit": lim,
            "evidence": describe(engine, rows, params)}


def cluster_timeline(engine: Engine, cluster_id: Any, *, max_days: int = 400) -> list[dict[str, Any]]:
    """Co-actions of one cluster per day (``day``, ``behaviour``, ``n``), at most ``max_days`` days."""
    require_coordination(engine)
    base, ev = _evidence_base(engine)
    if not {"ts_a", "ts_b"} <= ev:
        return []
    rows = engine.rows(f"""SELECT CAST(to_timestamp(floor(least(ts_a, ts_b) / 86400) * 86400) AS DATE) AS day,
            coalesce(behaviour, '?') AS behaviour, count(*) AS n FROM ({base}) x
        WHERE least(ts_a, ts_b) IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2 LIMIT {int(max_days) * 12}""",
                       [str(cluster_id)])
    for r in rows:
        r["day"] = iso(r["day"])
    return rows


def cluster_graph(engine: Engine, cluster_id: Any, *, max_nodes: int = 300, max_edges: int = 3000) -> dict[str, Any]:
    """The network of one cluster for drawing: its strongest ``max_nodes`` members and the heaviest
    ``max_edges`` edges among them (``truncated`` says when either cap cut something)."""
    members = cluster_members(engine, cluster_id, limit=min(max_nodes, 500), offset=0)
    nodes = members["members"]
    ids = [n["account_id"] for n in nodes]
    ec = columns(engine, "coord_edges")
    net = network_behaviour(engine, (run_info(engine, "coordination") or {}).get("summary"))
    edges: list[dict[str, Any]] = []
    if ids and {"account_a", "account_b"} <= ec:
        cond = "behaviour = ? AND " if "behaviour" in ec and net else ""
        args: list[Any] = ([net] if cond else []) + ids + ids
        w = "weight" if "weight" in ec else "1.0"
        sig = '"significant"' if "significant" in ec else "NULL"
        edges = engine.rows(f"""SELECT CAST(account_a AS VARCHAR) AS account_a, CAST(account_b AS VARCHAR) AS account_b,
                {w} AS weight, {sig} AS significant FROM coord_edges
            WHERE {cond}account_a <> account_b AND account_a IN {placeholders(ids)}
              AND account_b IN {placeholders(ids)}
            ORDER BY weight DESC NULLS LAST, account_a, account_b LIMIT {int(max_edges) + 1}""", args)
    truncated = members["total"] > len(nodes) or len(edges) > max_edges
    return {"cluster_id": cluster_id, "network": net, "nodes": nodes, "edges": edges[:max_edges],
            "members_total": members["total"], "truncated": truncated}


def cluster(engine: Engine, cluster_id: Any, *, members_limit: int = 50, members_offset: int = 0,
            evidence_limit: int = 50, evidence_offset: int = 0, edges_limit: int = 20) -> dict[str, Any]:
    """One cluster: its stored summary, a page of members, its heaviest edges and a page of its evidence."""
    require_coordination(engine)
    row = _cluster_row(engine, cluster_id)
    cid = row["cluster_id"]
    return {"cluster": row, "run": _run(engine),
            "members": cluster_members(engine, cid, limit=members_limit, offset=members_offset),
            "edges": cluster_edges(engine, cid, limit=edges_limit),
            "evidence": cluster_evidence(engine, cid, limit=evidence_limit, offset=evidence_offset)}


__all__ = ["KNOWN_COLUMNS", "LEAD_COLUMNS", "cluster", "cluster_edges", "cluster_evidence", "cluster_graph",
           "cluster_members", "cluster_timeline", "list_clusters", "parse_targets"]

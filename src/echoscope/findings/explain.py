"""Why two accounts are in one cluster: the edges between them, or the path that joins them, with evidence.

``echoscope explain S @a @b`` used to show only a direct edge and its raw evidence rows; two members of one
Leiden cluster are often not tied directly (the cluster is a community of the network, not a clique), and
then it showed nothing. Here the answer is always a chain of ties a reader can check:

* the two accounts' clusters (``coord_members``), and their direct edges in every behaviour with the stored
  p-values and verdicts (as :mod:`echoscope.coordination` wrote them);
* when both are in one cluster: the shortest path between them over that cluster's edges on the clustered
  network (a direct edge is a path of one hop), over judged edges with stored evidence when such a path
  exists, then edges with evidence, then any edge of the cluster; per hop the edges that join the two
  accounts and their co-actions in words (:func:`echoscope.findings.evidence.describe`), closest in time first;
* a hop without stored evidence says so (``evidence_total`` 0, ``note``) instead of failing: the coordination
  stage caps evidence per pair and an older run may lack rows for some members.

Why breadth-first search in DuckDB, one frontier per query: the cluster's edges live in a temp table of the
engine's own connection (never Python lists) and each step reads only the frontier's neighbours, so a
cluster of thousands of accounts costs a handful of small queries (the path is short: a community's diameter).
"""

from __future__ import annotations

from typing import Any

from ..engine import Engine
from ..errors import ConfigError
from .accounts import resolve
from .base import columns, handles, network_behaviour, page, require_coordination, run_info
from .clusters import _cluster_row, _json_value, _run
from .evidence import describe
from .wording import format_p

#: the longest path searched (a Leiden community's diameter is far smaller; the cap bounds the queries)
MAX_HOPS = 30

#: what a hop without stored evidence says
NO_EVIDENCE = ("no stored evidence for this pair in this coordination run (evidence is capped per pair; an older "
               "run may lack rows for some members)")


def _resolve(engine: Engine, ref: str) -> str:
    try:
        return resolve(engine, ref)
    except ConfigError:
        raw = str(ref).strip()
        what = f"with handle '{raw}'" if raw.startswith("@") else f"'{raw}' (as id or handle)"
        raise ConfigError(f"no account {what} in {engine.study.path} (accounts and posts tables); check the "
                          f"spelling, or list the clusters' members with 'echoscope clusters {engine.study.path}'"
                          ) from None


def _clusters_of(engine: Engine, ids: list[str]) -> dict[str, list[int]]:
    rows = engine.rows("""SELECT CAST(account_id AS VARCHAR) AS account_id,
            list(DISTINCT cluster_id ORDER BY cluster_id) AS c FROM coord_members
        WHERE CAST(account_id AS VARCHAR) IN (?, ?) GROUP BY 1""", ids[:2])
    return {r["account_id"]: [int(x) for x in (r["c"] or [])] for r in rows}


def pair_edges(engine: Engine, u: str, v: str, names: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
    """Every stored edge between ``u`` and ``v`` (each behaviour, either order), fused first, with handles and
    the p-value as text (``names``: handles already looked up, by id)."""
    ec = columns(engine, "coord_edges")
    sel = ", ".join(f'"{c}"' if c in ec else f'NULL AS "{c}"'
                    for c in ("behaviour", "weight", "n_objects", "p_value", "significant", "min_gap_s", "directed"))
    rows = engine.rows(f"""SELECT CAST(account_a AS VARCHAR) AS account_a, CAST(account_b AS VARCHAR) AS account_b,
            {sel} FROM coord_edges
        WHERE (CAST(account_a AS VARCHAR) = ? AND CAST(account_b AS VARCHAR) = ?)
           OR (CAST(account_a AS VARCHAR) = ? AND CAST(account_b AS VARCHAR) = ?)
        ORDER BY (behaviour = 'fused') DESC, behaviour, account_a LIMIT 200""", [u, v, v, u])
    if names is None or u not in names or v not in names:
        names = {**(names or {}), **handles(engine, [u, v])}
    for r in rows:
        r["handle_a"], r["handle_b"] = names.get(r["account_a"]), names.get(r["account_b"])
        r["weight"] = _json_value(r["weight"])
        r["p_value"] = _json_value(r["p_value"])
        r["p_value_text"] = format_p(r["p_value"])
        r["min_gap_s"] = _json_value(r["min_gap_s"])
    return rows


def pair_evidence(engine: Engine, u: str, v: str, *, limit: int = 20,
                  parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored co-actions of ``u`` and ``v`` (either order), timed ones closest in time first, in words.

    Returns ``total`` (rows stored for the pair), ``limit`` and ``evidence`` (:func:`describe` rows, in an
    order that keeps one event seen by several behaviours together for
    :func:`~echoscope.findings.evidence.group_events`).
    """
    lim, _ = page(limit, 0, 20)
    ev = columns(engine, "coord_evidence")
    if not {"account_a", "account_b"} <= ev:
        return {"total": 0, "limit": lim, "evidence": []}
    sel = ", ".join(f'"{c}"' if c in ev else f'NULL AS "{c}"'
                    for c in ("behaviour", "object_id", "action_a", "action_b", "ts_a", "ts_b", "gap_s"))
    where = """(CAST(account_a AS VARCHAR) = ? AND CAST(account_b AS VARCHAR) = ?)
        OR (CAST(account_a AS VARCHAR) = ? AND CAST(account_b AS VARCHAR) = ?)"""
    args = [u, v, v, u]
    total = int(engine.scalar(f"SELECT count(*) FROM coord_evidence WHERE {where}", args) or 0)
    shared = "(behaviour = 'shared-ip')" if "behaviour" in ev else "false"
    rows = engine.rows(f"""SELECT CAST(account_a AS VARCHAR) AS account_a, CAST(account_b AS VARCHAR) AS account_b,
            {sel} FROM coord_evidence WHERE {where}
        ORDER BY {shared}, gap_s NULLS LAST, least(ts_a, ts_b), account_a, account_b, action_a, action_b, behaviour,
                 object_id LIMIT {lim}""", args) if total else []
    return {"total": total, "limit": lim, "evidence": describe(engine, rows, parameters or {})}


def cluster_path(engine: Engine, cluster_id: Any, source: str, target: str, *,
                 network: str | None = None, max_hops: int = MAX_HOPS) -> list[str] | None:
    """The shortest path from ``source`` to ``target`` over the edges among ``cluster_id``'s members on the
    clustered ``network`` (ids, both ends included; None when none within ``max_hops``).

    The path a reader can check best wins: first over judged edges whose pair has stored evidence, then over
    any edge with stored evidence, then over every edge of the cluster. Among equally short paths each step
    prefers a judged edge, then a heavier one, then the smaller id, so the answer is the same every time.
    """
    if source == target:
        return [source]
    ec = columns(engine, "coord_edges")
    if not {"account_a", "account_b"} <= ec:
        return None
    cond = "behaviour = ? AND " if "behaviour" in ec and network else ""
    sig = 'coalesce(CAST("significant" AS INTEGER), 0)' if "significant" in ec else "0"
    w = "coalesce(weight, 0)" if "weight" in ec else "1.0"
    has_ev = {"account_a", "account_b"} <= columns(engine, "coord_evidence")
    ev = """EXISTS (SELECT 1 FROM _explain_evp p WHERE p.a = least(e.a, e.b) AND p.b = greatest(e.a, e.b))""" \
        if has_ev else "false"
    con = engine.raw
    members = """SELECT DISTINCT CAST(account_id AS VARCHAR) AS id FROM coord_members
                 WHERE CAST(cluster_id AS VARCHAR) = ?"""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _explain_evp AS
        WITH m AS ({members})
        SELECT DISTINCT least(CAST(account_a AS VARCHAR), CAST(account_b AS VARCHAR)) AS a,
               greatest(CAST(account_a AS VARCHAR), CAST(account_b AS VARCHAR)) AS b
        FROM {"coord_evidence" if has_ev else "coord_edges"}
        WHERE {"true" if has_ev else "false"} AND CAST(account_a AS VARCHAR) IN (SELECT id FROM m)
          AND CAST(account_b AS VARCHAR) IN (SELECT id FROM m)""", [str(cluster_id)])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _explain_adj AS
        WITH m AS ({members}),
        e AS (SELECT CAST(account_a AS VARCHAR) AS a, CAST(account_b AS VARCHAR) AS b, {sig} AS sig, {w} AS w
              FROM coord_edges WHERE {cond}account_a <> account_b
                AND CAST(account_a AS VARCHAR) IN (SELECT id FROM m)
                AND CAST(account_b AS VARCHAR) IN (SELECT id FROM m)),
        x AS (SELECT a, b, sig, w, {ev} AS ev FROM e e)
        SELECT a AS u, b AS v, sig, w, ev FROM x UNION ALL SELECT b AS u, a AS v, sig, w, ev FROM x""",
                [str(cluster_id), *([network] if cond else [])])
    try:
        for tier in ("sig = 1 AND ev", "ev", "true"):
            path = _bfs(con, source, target, tier, max_hops)
            if path is not None:
                return path
        return None
    finally:
        con.execute("DROP TABLE IF EXISTS _explain_adj; DROP TABLE IF EXISTS _explain_seen; "
                    "DROP TABLE IF EXISTS _explain_evp")


def _bfs(con: Any, source: str, target: str, where: str, max_hops: int) -> list[str] | None:
    """Breadth-first search over the rows of ``_explain_adj`` that satisfy ``where``, one frontier per query."""
    con.execute("CREATE OR REPLACE TEMP TABLE _explain_seen AS SELECT ?::VARCHAR AS id, NULL::VARCHAR AS parent, "
                "0 AS depth", [source])
    found = False
    for depth in range(max_hops):
        con.execute(f"""INSERT INTO _explain_seen
            SELECT x.v, first(x.u ORDER BY x.sig DESC, x.w DESC, x.u), ? FROM _explain_adj x
            JOIN _explain_seen s ON s.id = x.u AND s.depth = ?
            WHERE ({where}) AND x.v NOT IN (SELECT id FROM _explain_seen) GROUP BY x.v""", [depth + 1, depth])
        added = con.execute("SELECT count(*), count(*) FILTER (WHERE id = ?) FROM _explain_seen WHERE depth = ?",
                            [target, depth + 1]).fetchone()
        if added is None or not added[0]:
            break
        if added[1]:
            found = True
            break
    if not found:
        return None
    path = [target]
    while path[-1] != source:
        row = con.execute("SELECT parent FROM _explain_seen WHERE id = ?", [path[-1]]).fetchone()
        if row is None or row[0] is None:
            return None
        path.append(str(row[0]))
    return path[::-1]


def explain(engine: Engine, a: str, b: str, *, evidence_limit: int = 20, max_hops: int = MAX_HOPS) -> dict[str, Any]:
    """Why ``a`` and ``b`` (``@handle`` or id) are in one cluster: direct edges, the path, evidence per hop.

    Parameters
    ----------
    engine : Engine
        The study's engine (``runs`` picks the coordination run shown).
    a, b : str
        ``@handle`` (case-insensitive) or account id of each account.
    evidence_limit : int
        Co-action rows per pair (the direct pair and each hop), closest in time first (at most
        :data:`~echoscope.findings.base.MAX_PAGE`).
    max_hops : int
        The longest path searched.

    Returns
    -------
    dict
        ``account_a``, ``account_b`` (ids), ``handle_a``, ``handle_b``; ``cluster`` (the cluster both are in,
        or None) with its stored summary in ``cluster_summary``, and ``clusters`` (each account's clusters);
        ``edges`` (their direct edges in every behaviour, :func:`pair_edges`), ``evidence`` (their own
        co-actions in words) and ``evidence_total``; ``direct`` (a direct edge on the clustered network);
        ``path`` (``[{"account_id", "handle"}]`` from a to b over the cluster's edges, None when not in one
        cluster or not joined) and ``hops`` (per step: both accounts, ``edges``, ``behaviours``,
        ``evidence_total``, ``evidence``, ``note`` when no evidence is stored); ``network``, ``run``,
        ``parameters`` and ``summary_text`` (one sentence).

    Raises
    ------
    StudyError
        No coordination results in the study.
    ConfigError
        An account that the study does not hold.
    """
    require_coordination(engine)
    ida, idb = _resolve(engine, a), _resolve(engine, b)
    if ida == idb:
        raise ConfigError(f"'{a}' and '{b}' are the same account ({ida}); give two accounts, e.g. two members "
                          f"that 'echoscope clusters {engine.study.path}' lists")
    info = run_info(engine, "coordination") or {}
    params = info.get("parameters") or {}
    net = network_behaviour(engine, info.get("summary"))
    names = {ida: None, idb: None} | handles(engine, [ida, idb])
    of = _clusters_of(engine, [ida, idb])
    shared = sorted(set(of.get(ida, [])) & set(of.get(idb, [])))
    cid = shared[0] if shared else None
    edges = pair_edges(engine, ida, idb, names)
    direct = any(e["behaviour"] == net for e in edges) if net else bool(edges)
    own = pair_evidence(engine, ida, idb, limit=evidence_limit, parameters=params)
    out: dict[str, Any] = {
        "account_a": ida, "account_b": idb, "handle_a": names.get(ida), "handle_b": names.get(idb),
        "cluster": cid, "cluster_summary": _summary_row(engine, cid),
        "clusters": {ida: of.get(ida, []), idb: of.get(idb, [])}, "network": net, "run": _run(engine),
        "parameters": params, "edges": edges, "direct": direct, "evidence": own["evidence"],
        "evidence_total": own["total"], "path": None, "hops": [],
    }
    if cid is not None:
        ids = cluster_path(engine, cid, ida, idb, network=net, max_hops=max_hops)
        if ids is not None:
            path_names = {i: None for i in ids} | handles(engine, ids)
            out["path"] = [{"account_id": i, "handle": path_names.get(i)} for i in ids]
            out["hops"] = [_hop(engine, u, v, net, evidence_limit, params, path_names,
                                own if {u, v} == {ida, idb} else None) for u, v in zip(ids, ids[1:])]
    out["summary_text"] = _summary(out)
    return out


def _summary_row(engine: Engine, cluster_id: Any) -> dict[str, Any] | None:
    """The stored summary of ``cluster_id`` (None when there is none, or the cluster table lacks it)."""
    if cluster_id is None:
        return None
    try:
        return _cluster_row(engine, cluster_id)
    except ConfigError:
        return None


def _hop(engine: Engine, u: str, v: str, net: str | None, limit: int, params: dict[str, Any],
         names: dict[str, str | None], known: dict[str, Any] | None) -> dict[str, Any]:
    edges = pair_edges(engine, u, v, names)
    ev = known if known is not None else pair_evidence(engine, u, v, limit=limit, parameters=params)
    net_edge = next((e for e in edges if e["behaviour"] == net), None)
    hop = {"account_a": u, "handle_a": names.get(u), "account_b": v, "handle_b": names.get(v),
           "edge": net_edge, "edges": edges,
           "behaviours": sorted({str(e["behaviour"]) for e in edges if e["behaviour"] not in (None, "fused")}),
           "evidence_total": ev["total"], "evidence": ev["evidence"], "note": None}
    if not ev["total"]:
        hop["note"] = NO_EVIDENCE
    return hop


def _at(handle: Any, account_id: Any) -> str:
    return "@" + str(handle).lstrip("@") if handle else str(account_id)


def _summary(d: dict[str, Any]) -> str:
    a, b = _at(d["handle_a"], d["account_a"]), _at(d["handle_b"], d["account_b"])
    if d["cluster"] is None:
        where = {k: v for k, v in d["clusters"].items() if v}
        if not where:
            return f"{a} and {b} are in no cluster of this coordination run"
        parts = [f"{_at(d['handle_a'] if k == d['account_a'] else d['handle_b'], k)} in cluster "
                 f"{', '.join(str(c) for c in v)}" for k, v in where.items()]
        return f"{a} and {b} are not in one cluster ({'; '.join(parts)})"
    if d["path"] is None:
        return f"{a} and {b} are both in cluster {d['cluster']}, but no path of the cluster's edges joins them"
    hops = len(d["path"]) - 1
    chain = " - ".join(_at(p["handle"], p["account_id"]) for p in d["path"])
    if d["direct"] and hops == 1:
        return f"{a} and {b} are both in cluster {d['cluster']} and share a direct edge"
    if d["direct"]:  # the direct edge is neither judged nor backed by stored evidence; a checkable path is
        return (f"{a} and {b} are both in cluster {d['cluster']} and share a direct edge without stored evidence; "
                f"judged edges with evidence join them in {hops} hops: {chain}")
    return (f"{a} and {b} are both in cluster {d['cluster']} but share no direct edge; the cluster's edges join "
            f"them in {hops} hops: {chain}")


__all__ = ["MAX_HOPS", "NO_EVIDENCE", "cluster_path", "explain", "pair_edges", "pair_evidence"]

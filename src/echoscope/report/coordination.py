"""The coordination section: clusters as ``echoscope coordinate`` stored them, their strongest evidence, and the
accounts and edges of the network picture.

Why it reads the cluster table as stored: cluster size, creation dates and spread, median followers, share
later suspended and the targets a cluster amplified are computed once, by the coordination stage, into
``coord_clusters``; the report only selects the clusters to list and joins the evidence to the posts' texts.
"Coordinated" means a member of a cluster with ``coord_clusters.coordinated = true`` (the same rule the
measures apply). A cluster table written by an older echoscope lacks some columns: each one is named, with the
command that adds it.
"""

from __future__ import annotations

from typing import Any

from ..settings import EXPLORER_PORT
from .base import STATUS_SQL, Ctx, iso, lit, meta_find, num, q

#: columns of ``coord_clusters`` shown in the cluster table
CLUSTER_COLUMNS: tuple[str, ...] = ("size", "coordinated", "p_value", "z", "behaviours", "n_edges", "weight",
                                    "created_first", "created_last", "created_spread_days", "median_followers",
                                    "share_suspended", "targets", "first_activity", "last_activity")

#: columns a later coordination run adds to ``coord_clusters`` (what kind of cluster it is); shown when stored,
#: never reported missing (the cluster list is then ordered by judgement and size alone)
KIND_COLUMNS: tuple[str, ...] = ("amplifies_targets", "target_share", "kind", "label")

#: the local explorer's address (``echoscope serve STUDY``, default port) and its cluster page
EXPLORER_URL = f"http://127.0.0.1:{EXPLORER_PORT}"
EXPLORER_CLUSTER = EXPLORER_URL + "/clusters/{cluster_id}"

#: keys of the coordination summary (the result tables' meta) shown in the report
SUMMARY_KEYS: tuple[str, ...] = ("network", "semantics", "edges", "significant_edges", "expected_false_edges",
                                 "clusters", "coordinated_clusters", "flagged_accounts", "capped",
                                 "target_originals")

_COORDINATE = "echoscope coordinate STUDY"


def coordination(ctx: Ctx) -> dict[str, Any]:
    """Clusters (coordinated first, then largest), totals, the run's summary, evidence and network picture."""
    out: dict[str, Any] = {"ran": False, "clusters": [], "evidence": {}, "evidence_clusters": [],
                           "evidence_table": False, "network": None, "summary": {}, "parameters": {}, "totals": {},
                           "kinds": False, "explorer": EXPLORER_URL}
    if not ctx.has("coord_clusters") or not ctx.has("coord_members"):
        return out
    if not {"cluster_id", "account_id"} <= set(ctx.cols("coord_members")) or \
            "cluster_id" not in ctx.cols("coord_clusters"):
        ctx.need("coord_members/coord_clusters lack cluster_id/account_id; the coordination section is left out",
                 _COORDINATE)
        return out
    out["ran"] = True
    meta = ctx.results["coord_clusters"].get("meta") or ctx.results["coord_members"].get("meta") or {}
    summ = meta_find(meta, "summary")
    summ = summ if isinstance(summ, dict) else meta
    out["summary"] = {k: summ.get(k) for k in SUMMARY_KEYS}  # a key the run did not store reads as None
    out["parameters"] = summ.get("parameters") if isinstance(summ.get("parameters"), dict) else {}
    have = set(ctx.cols("coord_clusters"))
    gone = [c for c in CLUSTER_COLUMNS if c not in have]
    if gone:
        ctx.need(f"coord_clusters lacks column(s) {', '.join(gone)} (written by an older echoscope); the cluster "
                 "table shows '-' for them", _COORDINATE)
    sel = ", ".join(f"{q(c)}" if c in have else f"NULL AS {q(c)}" for c in CLUSTER_COLUMNS + KIND_COLUMNS)
    coord = "coordinated" if "coordinated" in have else "NULL"
    size = "size DESC NULLS LAST, " if "size" in have else ""
    # clusters that amplify the targets lead (when the run stored what each cluster amplifies), then the
    # coordinated ones, then the largest
    lead = '"amplifies_targets" DESC NULLS LAST, ' if "amplifies_targets" in have else ""
    rows = ctx.rows(f"""SELECT CAST(cluster_id AS VARCHAR) AS cluster_id, {sel} FROM coord_clusters
        ORDER BY {coord} DESC NULLS LAST, {lead}{size}TRY_CAST(cluster_id AS BIGINT) NULLS LAST, cluster_id
        LIMIT {int(ctx.opt.clusters)}""")
    for r in rows:
        for k in ("created_first", "created_last", "first_activity", "last_activity"):
            r[k] = iso(r[k])
        r["created_spread_days"] = num(r.get("created_spread_days"))
        r["target_share"] = num(r.get("target_share"))
        r["explorer_url"] = EXPLORER_CLUSTER.format(cluster_id=r["cluster_id"])
    members = _members(ctx, [r["cluster_id"] for r in rows])
    for r in rows:
        shown = members.get(r["cluster_id"], [])
        r["members"] = shown
        r["top_members"] = [{"account_id": m["account_id"], "handle": m["handle"]} for m in shown[:3]]
        total = int(r["size"]) if r.get("size") is not None else len(shown)
        r["members_more"] = max(0, total - len(shown))
    out["clusters"] = rows
    out["kinds"] = "amplifies_targets" in have
    member_of_coordinated = (f"""SELECT DISTINCT CAST(m.account_id AS VARCHAR) FROM coord_members m
        JOIN coord_clusters c ON CAST(c.cluster_id AS VARCHAR) = CAST(m.cluster_id AS VARCHAR)
        WHERE c.{q("coordinated")}""" if "coordinated" in have else None)
    totals = ctx.rows("""SELECT count(DISTINCT cluster_id) AS clusters, count(DISTINCT account_id) AS accounts
        FROM coord_members""")[0]
    totals["clusters"] = int(ctx.one("SELECT count(*) FROM coord_clusters") or 0)
    if member_of_coordinated:
        totals["coordinated_clusters"] = int(ctx.one('SELECT count(*) FROM coord_clusters WHERE "coordinated"') or 0)
        totals["coordinated_accounts"] = int(ctx.one(f"SELECT count(*) FROM ({member_of_coordinated})") or 0)
    else:
        totals["coordinated_clusters"] = None
        totals["coordinated_accounts"] = None
        ctx.need("coord_clusters has no 'coordinated' column, so no cluster is judged coordinated",
                 _COORDINATE)
    out["totals"] = totals
    # every coordinated cluster listed gets its evidence (or says it has none); others up to evidence_clusters
    ids = [c["cluster_id"] for c in rows if c.get("coordinated")]
    ids += [c["cluster_id"] for c in rows[: ctx.opt.evidence_clusters] if c["cluster_id"] not in ids]
    out["evidence_clusters"] = [c["cluster_id"] for c in rows if c["cluster_id"] in ids]
    out["evidence"] = _evidence(ctx, ids) if ids else {}
    out["evidence_table"] = ctx.has("coord_evidence")
    out["network"] = _network(ctx, [c["cluster_id"] for c in rows])
    return out


def _members(ctx: Ctx, cluster_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The ``members_per_cluster`` strongest members of each listed cluster: id, handle, latest status, score
    and high risk (one query; the exports and the explorer hold every member)."""
    if not cluster_ids or ctx.opt.members_per_cluster <= 0:
        return {}
    mc = set(ctx.cols("coord_members"))
    order = "strength DESC NULLS LAST, " if "strength" in mc else ("degree DESC NULLS LAST, " if "degree" in mc else "")
    sc = set(ctx.cols("account_scores")) if ctx.has("account_scores") else set()
    if {"account_id", "score"} <= sc:
        hr = q("high_risk") if "high_risk" in sc else "NULL"
        scores = f"""SELECT CAST(account_id AS VARCHAR) AS account_id, any_value(score) AS score,
                            CAST(any_value({hr}) AS BOOLEAN) AS high_risk FROM account_scores
                     WHERE CAST(account_id AS VARCHAR) IN (SELECT account_id FROM m) GROUP BY 1"""
    else:
        scores = "SELECT NULL::VARCHAR AS account_id, NULL::DOUBLE AS score, NULL::BOOLEAN AS high_risk LIMIT 0"
    rows = ctx.rows(f"""
        WITH m AS (SELECT CAST(cluster_id AS VARCHAR) AS cluster_id, CAST(account_id AS VARCHAR) AS account_id,
                          row_number() OVER (PARTITION BY cluster_id ORDER BY {order}account_id) AS rk
                   FROM coord_members WHERE CAST(cluster_id AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))
                   QUALIFY rk <= {int(ctx.opt.members_per_cluster)}),
        h AS (SELECT account_id, first(handle ORDER BY (handle IS NULL), observed_at DESC NULLS LAST) AS handle
              FROM accounts WHERE account_id IN (SELECT account_id FROM m) GROUP BY 1),
        s AS (SELECT * FROM ({STATUS_SQL}) WHERE account_id IN (SELECT account_id FROM m)),
        sc AS ({scores})
        SELECT m.cluster_id, m.account_id, h.handle, s.status, sc.score, sc.high_risk FROM m
        LEFT JOIN h USING (account_id) LEFT JOIN s USING (account_id) LEFT JOIN sc USING (account_id)
        ORDER BY m.cluster_id, m.rk""", [cluster_ids])
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        cid = r.pop("cluster_id")
        r["score"] = num(r.get("score"))
        out.setdefault(cid, []).append(r)
    return out


def _evidence(ctx: Ctx, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Strongest evidence per cluster: pairs of members acting on the same object with the smallest gaps."""
    if not ctx.has("coord_evidence"):
        ctx.note("No coord_evidence table: clusters are shown without their evidence.")
        return {}
    ec = set(ctx.cols("coord_evidence"))
    if not {"account_a", "account_b"} <= ec:
        ctx.need("coord_evidence lacks account_a/account_b; evidence is not shown", _COORDINATE)
        return {}

    def col(c: str, alt: str = "NULL") -> str:
        return f"e.{q(c)}" if c in ec else alt

    gap = col("gap_s", f"abs({col('ts_b')} - {col('ts_a')})" if {"ts_a", "ts_b"} <= ec else "NULL")
    rows = ctx.rows(f"""
        WITH m AS (SELECT DISTINCT CAST(cluster_id AS VARCHAR) AS cluster_id, CAST(account_id AS VARCHAR) AS account_id
                   FROM coord_members WHERE CAST(cluster_id AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))),
        x AS (SELECT ma.cluster_id, CAST(e.account_a AS VARCHAR) AS account_a,
                     CAST(e.account_b AS VARCHAR) AS account_b,
                     {col('behaviour')} AS behaviour, CAST({col('object_id')} AS VARCHAR) AS object_id,
                     {col('ts_a')} AS ts_a, {col('ts_b')} AS ts_b, {gap} AS gap_s,
                     CAST({col('action_a')} AS VARCHAR) AS action_a, CAST({col('action_b')} AS VARCHAR) AS action_b
              FROM coord_evidence e JOIN m ma ON ma.account_id = CAST(e.account_a AS VARCHAR)
              JOIN m mb ON mb.account_id = CAST(e.account_b AS VARCHAR)
              WHERE ma.cluster_id = mb.cluster_id
              QUALIFY row_number() OVER (PARTITION BY ma.cluster_id ORDER BY {gap} NULLS LAST, object_id, account_a,
                                         account_b) <= {int(ctx.opt.evidence_per_cluster)}),
        h AS (SELECT account_id, any_value(handle) AS handle FROM accounts
              WHERE account_id IN (SELECT account_a FROM x UNION SELECT account_b FROM x) GROUP BY 1),
        p AS (SELECT post_id, any_value(text) AS text, any_value(created_at) AS created_at FROM posts
              WHERE post_id IN (SELECT object_id FROM x) GROUP BY 1)
        SELECT x.*, ha.handle AS handle_a, hb.handle AS handle_b, p.text AS object_text,
               p.created_at AS object_created_at, p.post_id IS NOT NULL AS is_post
        FROM x LEFT JOIN h ha ON ha.account_id = x.account_a LEFT JOIN h hb ON hb.account_id = x.account_b
        LEFT JOIN p ON p.post_id = x.object_id
        ORDER BY x.cluster_id, x.gap_s NULLS LAST, x.object_id""", [ids])
    _words(ctx, rows)
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        r["ts_a"] = iso(r["ts_a"])
        r["ts_b"] = iso(r["ts_b"])
        r["object_created_at"] = iso(r["object_created_at"])
        # a post id is shown (and pseudonymised) as a post id; any other object as text
        r["object_post_id"] = r["object_id"] if r.pop("is_post") else None
        if r["object_post_id"] is not None:
            r["object_id"] = None
        out.setdefault(r["cluster_id"], []).append(r)
    return out


def _words(ctx: Ctx, rows: list[dict[str, Any]]) -> None:
    """Add the evidence in words, as the console and the explorer say it (:func:`echoscope.findings.describe`):
    ``object_words_text`` (what the object is: a post and its author, a near-duplicate text family, a delay
    bucket, ...) and ``why_text`` (why the pair counts for the behaviour). The action ids are dropped after."""
    from ..findings import describe, run_info

    keys = ("behaviour", "account_a", "account_b", "object_id", "action_a", "action_b", "ts_a", "ts_b", "gap_s")
    if rows:
        params = (run_info(ctx.engine, "coordination") or {}).get("parameters") or {}
        said = describe(ctx.engine, [{k: r.get(k) for k in keys} for r in rows], params)
        if len(said) == len(rows):
            for r, d in zip(rows, said):
                r["object_words_text"] = d.get("object")
                r["why_text"] = d.get("why_text")
    for r in rows:
        r.pop("action_a", None)
        r.pop("action_b", None)
        r.setdefault("object_words_text", None)
        r.setdefault("why_text", None)


def _network(ctx: Ctx, cluster_ids: list[str]) -> dict[str, Any] | None:
    """Nodes (largest clusters first, up to ``network_nodes``) and their strongest edges for the picture."""
    if not cluster_ids:
        return None
    mc = set(ctx.cols("coord_members"))
    order = "m.strength DESC NULLS LAST, " if "strength" in mc else ("m.degree DESC NULLS LAST, " if "degree" in mc
                                                                     else "")
    nodes = ctx.rows(f"""
        WITH c AS (SELECT unnest(?::VARCHAR[]) AS cluster_id, generate_subscripts(?::VARCHAR[], 1) AS pos),
        n AS (SELECT CAST(m.cluster_id AS VARCHAR) AS cluster_id, CAST(m.account_id AS VARCHAR) AS account_id, c.pos
              FROM coord_members m JOIN c ON c.cluster_id = CAST(m.cluster_id AS VARCHAR)
              ORDER BY c.pos, {order}m.account_id LIMIT {int(ctx.opt.network_nodes)})
        SELECT n.cluster_id, n.account_id, a.handle, s.status, n.pos FROM n
        LEFT JOIN (SELECT account_id, any_value(handle) AS handle FROM accounts GROUP BY 1) a
          ON a.account_id = n.account_id
        LEFT JOIN ({STATUS_SQL}) s ON s.account_id = n.account_id
        ORDER BY n.pos, n.account_id""", [cluster_ids, cluster_ids])
    edges: list[dict[str, Any]] = []
    if ctx.has("coord_edges") and nodes:
        ec = set(ctx.cols("coord_edges"))
        if {"account_a", "account_b"} <= ec:
            w = "e.weight" if "weight" in ec else "1.0"
            conds = ["e.account_a <> e.account_b"]
            if "significant" in ec:
                conds.append("e.significant")
            if "behaviour" in ec:
                # draw one network: the fused one when it exists, else the behaviour with most judged edges
                net = ctx.one(f"""SELECT behaviour FROM coord_edges e WHERE {' AND '.join(conds)}
                                  GROUP BY 1 ORDER BY (behaviour = 'fused') DESC, count(*) DESC, behaviour LIMIT 1""")
                if net is not None:
                    conds.append(f"e.behaviour = {lit(net)}")
            edges = ctx.rows(f"""WITH n AS (SELECT unnest(?::VARCHAR[]) AS account_id)
                SELECT CAST(e.account_a AS VARCHAR) AS account_a, CAST(e.account_b AS VARCHAR) AS account_b,
                       {w} AS weight FROM coord_edges e
                WHERE {' AND '.join(conds)} AND CAST(e.account_a AS VARCHAR) IN (SELECT account_id FROM n)
                  AND CAST(e.account_b AS VARCHAR) IN (SELECT account_id FROM n)
                ORDER BY weight DESC, account_a, account_b LIMIT {int(ctx.opt.network_edges)}""",
                             [[n["account_id"] for n in nodes]])
        else:
            ctx.need("coord_edges lacks account_a/account_b; the network picture shows clusters without edges",
                     _COORDINATE)
    total = int(ctx.one("SELECT count(DISTINCT account_id) FROM coord_members") or 0)
    return {"nodes": nodes, "edges": edges, "total_nodes": total}

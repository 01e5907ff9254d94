"""From judged edges to clusters: the fused network, Leiden communities, and each cluster's summary and test.

Why shaped so: fusing behaviours (Luceri et al. 2024) is a join on account pairs, so an edge seen in several
behaviours adds up its TF-IDF weights and keeps its smallest Bonferroni-corrected p-value. Clusters are Leiden
communities (python-igraph + leidenalg) of the fused network of judged (or validated) edges; a cluster is
judged coordinated when its internal weight is unlikely under the null model (Poisson with the sum of its
edges' null means), or, with held-out validation, when its members passed it. Summaries are SQL joins on the
study's canonical tables (accounts, account_status, engagements, targets), so every number is traceable.

Every member carries its evidence (issue 15): the held-out validation keeps accounts on group tests, whose
pairs need not be judged edges, so the co-actions of every candidate edge are kept while each behaviour's
tables exist (:func:`keep_candidate_evidence`) and each member's co-actions with its own cluster are written
with the judged edges' evidence (:func:`member_evidence`); a member without any is not a member.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..engine import engagements_by
from .judge import evidence_sql
from .kinds import KIND_SCHEMA, characterise
from .params import EDGE_SCHEMA, EVIDENCE_SCHEMA, CoordParams
from .spill import Spill
from .stats import poisson_sf


def fuse_sql(source: str, n_behaviours: int) -> str:
    """The fused multi-behaviour network of the edges in ``source`` (a DuckDB table expression), as SQL.

    One undirected edge per account pair seen in any behaviour: weights add up over behaviours (distinct
    objects and TF-IDF weights); the p-value is the smallest behaviour p-value times the number of behaviours
    (Bonferroni), the null mean the sum of null means; judged when judged in any behaviour.
    """
    return f"""SELECT 'fused' AS behaviour, account_a, account_b, false AS directed,
            sum(weight)::DOUBLE AS weight, sum(n_objects)::BIGINT AS n_objects, sum(n_pairs)::BIGINT AS n_pairs,
            sum(weight_idf)::DOUBLE AS weight_idf, min(min_gap_s)::DOUBLE AS min_gap_s,
            avg(mean_gap_s)::DOUBLE AS mean_gap_s, min(first_ts)::DOUBLE AS first_ts, max(last_ts)::DOUBLE AS last_ts,
            sum(null_mean)::DOUBLE AS null_mean, max(z)::DOUBLE AS z,
            least(1.0, min(p_value) * {int(n_behaviours)})::DOUBLE AS p_value, bool_or(significant) AS significant
        FROM {source} GROUP BY account_a, account_b ORDER BY account_a, account_b"""


def fuse(edges: pa.Table, n_behaviours: int, con: Any = None) -> pa.Table:
    """The fused multi-behaviour network (:func:`fuse_sql`) of Arrow ``edges``.

    ``con``: the DuckDB connection to run on (default a new one configured by :mod:`echoscope.settings`).
    """
    from ..settings import duckdb_connection

    own = con is None
    con = duckdb_connection(stage="coordination") if own else con
    con.register("_cf_edges", edges)
    try:
        return con.execute(fuse_sql("_cf_edges", n_behaviours)).fetch_arrow_table().cast(EDGE_SCHEMA)
    finally:
        con.unregister("_cf_edges")
        if own:
            con.close()


CLUSTER_SCHEMA = pa.schema([
    ("cluster_id", pa.int64()), ("size", pa.int64()), ("n_edges", pa.int64()), ("weight", pa.float64()),
    ("null_weight", pa.float64()), ("z", pa.float64()), ("p_value", pa.float64()), ("coordinated", pa.bool_()),
    ("behaviours", pa.string()), ("created_first", pa.timestamp("us", tz="UTC")),
    ("created_last", pa.timestamp("us", tz="UTC")), ("created_spread_days", pa.float64()),
    ("median_followers", pa.float64()), ("share_suspended", pa.float64()), ("targets", pa.string()),
    ("first_activity", pa.timestamp("us", tz="UTC")), ("last_activity", pa.timestamp("us", tz="UTC")),
    ("evidence", pa.string()), *KIND_SCHEMA,
])
MEMBER_SCHEMA = pa.schema([("cluster_id", pa.int64()), ("account_id", pa.string()), ("handle", pa.string()),
                           ("degree", pa.int64()), ("strength", pa.float64()), ("coordinated", pa.bool_()),
                           ("behaviours", pa.string()), ("partners", pa.int64())])

#: a member's evidence names at most this many of its partners in its cluster (strongest first, and for each
#: behaviour of the member its strongest partner in that behaviour), each with up to ``evidence_per_edge``
#: co-actions per behaviour: a 500-account campaign would otherwise write every pair of its members
MEMBER_PARTNERS = 5

def keep_candidate_evidence(con: Any, behaviour: str, params: CoordParams, spill: Spill) -> int:
    """Keep the co-actions of every candidate edge of ``behaviour`` (not only the judged ones); rows kept.

    Runs right after the behaviour's judging stage, while its tables are on ``con`` (:data:`.stages.HANDOVER`
    and ``_ca_edges``, pairs with ``min_weight`` objects or more): per account pair its closest pair of actions
    on each object (the pair's evidence, as for judged edges), up to ``evidence_per_edge`` objects, closest
    first. The held-out validation keeps accounts on group tests, whose pairs need not be judged edges; every
    member of a cluster drawn from validated accounts has a candidate edge to a partner in its cluster (Leiden
    communities are connected), and its evidence comes from these rows (:func:`member_evidence`). They go to
    ``spill`` (kind ``candidates``; 11M rows at 10M engagements, which held a GiB of DuckDB's memory through
    the held-out test when they were a table).
    """
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name IN "
                                      "('_ca_abo', '_ca_edges', '_ca_acc', '_ca_obj', '_ca_raw')").fetchall()}
    if len(have) < 5:
        return 0
    before = spill.rows["candidates"]
    try:
        spill.add_sql("candidates", behaviour, evidence_sql(con, behaviour, "_ca_edges", params.evidence_per_edge,
                                                            "_ca_cev"))
    finally:
        con.execute("DROP TABLE IF EXISTS _ca_cev")
    return spill.rows["candidates"] - before


def member_evidence(con: Any, members: pa.Table, evidence: str, params: CoordParams,
                    drop_unsupported: bool, edges: str | None = None,
                    candidates: str | None = None) -> tuple[pa.Table, pa.Table]:
    """Each member's evidence with partners in its own cluster, its behaviours and partners; the evidence table.

    The evidence of a member is every co-action (object, both actions, times, gap) with an account of its own
    cluster that its cluster's test counted: the judged edges' evidence and, with held-out validation, the
    candidate co-actions of :func:`keep_candidate_evidence`. ``members`` gets ``behaviours`` (the behaviours of
    that evidence, comma-separated) and ``partners`` (members of its cluster it co-acted with); the evidence
    table gets, per member, the co-actions with its :data:`MEMBER_PARTNERS` strongest partners and with its
    strongest partner in each of its behaviours. ``drop_unsupported``: a member without such evidence is not a
    member (then neither is a cluster left with fewer than ``min_cluster_size`` members). ``evidence`` and
    ``edges`` are DuckDB table expressions of the run's evidence and edges (:meth:`.spill.Spill.source`),
    ``candidates`` of the candidate co-actions (:func:`keep_candidate_evidence`; None: there are none).
    """
    con.register("_cme_m", members.select(["cluster_id", "account_id"]))
    cols = ", ".join(EVIDENCE_SCHEMA.names)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _cme_j AS SELECT {cols} FROM {evidence}")
    # the candidates' rows with both ends in one cluster only, before the UNION's DISTINCT (11M candidate rows
    # at 10M engagements, a few thousand of them inside clusters): each source is narrowed on its own
    cand = f"UNION {_inside_clusters(candidates, cols)}" if candidates is not None else ""
    if not cand:
        # no candidate co-actions (no held-out validation: --null none/account, peer semantics): the members'
        # evidence is the judged edges' own, already in ``evidence``; each member's behaviours and partners are
        # those of its judged edges inside its cluster, read from the edges (one row per edge) rather than from
        # their evidence (up to evidence_per_edge rows each: with every edge judged, as under --null none on
        # power-law bursts, aggregating and re-sorting the evidence took minutes and ran out of memory)
        src = "_cme_j"
        if edges is not None:
            con.execute(f"""CREATE OR REPLACE TEMP VIEW _cme_e AS SELECT behaviour, account_a, account_b
                FROM {edges} WHERE significant AND behaviour NOT IN ('fused', 'pooled')""")
            src = "_cme_e"
        try:
            # each end's cluster looked up in turn (a materialised step): written as two joins with the
            # members and a filter on equal clusters, DuckDB joined the members with themselves on the cluster
            # first, which for one cluster of 31k accounts (--null none on power-law bursts) took 186 s
            stats = con.execute(f"""WITH m AS (SELECT * FROM _cme_m),
                    ea AS MATERIALIZED (SELECT e.account_a, e.account_b, e.behaviour, ma.cluster_id AS ca
                          FROM {src} e JOIN m ma ON ma.account_id = e.account_a
                          WHERE e.account_a <> e.account_b),
                    e AS (SELECT e.account_a, e.account_b, e.behaviour FROM ea e
                          JOIN m mb ON mb.account_id = e.account_b AND mb.cluster_id = e.ca),
                    mp AS (SELECT DISTINCT acc, partner, behaviour FROM (
                        SELECT account_a AS acc, account_b AS partner, behaviour FROM e
                        UNION ALL SELECT account_b, account_a, behaviour FROM e))
                SELECT acc AS account_id, string_agg(DISTINCT behaviour, ',' ORDER BY behaviour) AS behaviours,
                       count(DISTINCT partner) AS partners FROM mp GROUP BY 1""").fetch_arrow_table()
            ev = con.execute(f"SELECT {cols} FROM {evidence} ORDER BY filename, file_row_number").fetch_arrow_table()
        finally:
            con.unregister("_cme_m")
            con.execute("DROP VIEW IF EXISTS _cme_j")
            con.execute("DROP VIEW IF EXISTS _cme_e")
        return _with_member_stats(con, members, stats, ev, params, drop_unsupported)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _cme_all AS {_inside_clusters('_cme_j', cols)} {cand}")
        # per member (both ends of each row) and partner: objects acted on together, per behaviour
        con.execute("""CREATE OR REPLACE TEMP TABLE _cme_mp AS
            SELECT cluster_id, acc, partner, behaviour, count(DISTINCT object_id) AS n FROM (
                SELECT cluster_id, account_a AS acc, account_b AS partner, behaviour, object_id FROM _cme_all
                UNION ALL SELECT cluster_id, account_b, account_a, behaviour, object_id FROM _cme_all)
            GROUP BY ALL""")
        stats = con.execute("""SELECT acc AS account_id, string_agg(DISTINCT behaviour, ',' ORDER BY behaviour)
                AS behaviours, count(DISTINCT partner) AS partners FROM _cme_mp GROUP BY 1""").fetch_arrow_table()
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _cme_r AS
            WITH p AS (SELECT acc, partner, sum(n) AS n FROM _cme_mp GROUP BY 1, 2),
                top AS (SELECT acc, partner FROM p QUALIFY row_number() OVER (PARTITION BY acc
                                                       ORDER BY n DESC, partner) <= {int(MEMBER_PARTNERS)}
                        UNION SELECT acc, partner FROM _cme_mp QUALIFY row_number() OVER (
                            PARTITION BY acc, behaviour ORDER BY n DESC, partner) = 1),
                pairs AS (SELECT least(acc, partner) AS x, greatest(acc, partner) AS y FROM top)
            SELECT DISTINCT behaviour, account_a, account_b, object_id, action_a, action_b, ts_a, ts_b, gap_s
            FROM _cme_all e SEMI JOIN pairs p ON p.x = least(e.account_a, e.account_b)
                                          AND p.y = greatest(e.account_a, e.account_b)""")
        # the run's evidence with the members' rows added
        ev = con.execute("""SELECT * FROM (SELECT * FROM _cme_j UNION SELECT * FROM _cme_r)
            ORDER BY behaviour, account_a, account_b, gap_s, object_id, action_a, action_b""").fetch_arrow_table()
    finally:
        con.unregister("_cme_m")
        con.execute("DROP VIEW IF EXISTS _cme_j")
        for t in ("_cme_all", "_cme_mp", "_cme_r"):
            con.execute(f"DROP TABLE IF EXISTS {t}")
    return _with_member_stats(con, members, stats, ev, params, drop_unsupported)


def _inside_clusters(src: str, cols: str) -> str:
    """A SELECT of the evidence rows (columns ``cols``) of ``src`` whose two accounts are members of one cluster
    (``_cme_m``), the cluster first. Each end's cluster is looked up in turn (a materialised step): written as
    two joins with the members and a filter on equal clusters, DuckDB joined the members with themselves on
    the cluster first."""
    return f"""SELECT * FROM (WITH ea AS MATERIALIZED (SELECT ma.cluster_id, {cols} FROM {src} e
            JOIN _cme_m ma ON ma.account_id = e.account_a WHERE e.account_a <> e.account_b)
        SELECT e.* FROM ea e JOIN _cme_m mb ON mb.account_id = e.account_b AND mb.cluster_id = e.cluster_id)"""


def _with_member_stats(con: Any, members: pa.Table, stats: pa.Table, evidence: pa.Table,
                       params: CoordParams, drop_unsupported: bool) -> tuple[pa.Table, pa.Table]:
    """``members`` with their behaviours and partners (``stats``), and the run's ``evidence``; members without
    evidence dropped when ``drop_unsupported``."""
    con.register("_cme_a", members)
    con.register("_cme_s", stats)
    try:
        members = con.execute(f"""SELECT m.cluster_id, m.account_id, m.handle, m.degree, m.strength,
                NULL::BOOLEAN AS coordinated, s.behaviours, coalesce(s.partners, 0)::BIGINT AS partners
            FROM _cme_a m LEFT JOIN _cme_s s USING (account_id)
            {"WHERE s.partners > 0" if drop_unsupported else ""}""").fetch_arrow_table()
    finally:
        con.unregister("_cme_a")
        con.unregister("_cme_s")
    if drop_unsupported and members.num_rows:
        cid = members["cluster_id"]
        big = pa.array([c["values"] for c in pc.value_counts(cid).to_pylist()
                        if c["counts"] >= params.min_cluster_size], pa.int64())
        members = members.filter(pc.is_in(cid, big))
    return members, evidence



def cluster(con: Any, spill: Spill, params: CoordParams, network: str,
            validated: set[str] | None = None) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Leiden clusters of the judged edges of ``network``: per-cluster summary, members, and the evidence.

    ``spill`` holds the run's edges and evidence (:mod:`.spill`). The evidence returned is the run's (the
    judged edges') with every member's evidence added (:func:`member_evidence`); under echoscope semantics a
    member without evidence with a partner in its own cluster is not a member.
    """
    import igraph as ig
    import leidenalg

    src = spill.source("edges", network)
    # the network's edges in the order written (the graph's edge order, which Leiden's result depends on)
    if validated is not None:
        # accounts validated on held-out objects (validate_accounts); every candidate edge among them is
        # drawn, so a validated account joins the group it co-acts with most
        con.register("_cl_va", pa.table({"account_id": pa.array(sorted(validated), pa.string())}))
        among = ("SEMI JOIN _cl_va va ON va.account_id = e.account_a "
                 "SEMI JOIN _cl_va vb ON vb.account_id = e.account_b")
        judged = ""
    else:
        among, judged = "", "AND e.significant"
    try:
        net = con.execute(f"""SELECT e.account_a, e.account_b, e.weight, e.weight_idf FROM {src} e {among}
            WHERE e.behaviour = '{network}' AND e.account_a <> e.account_b {judged}
            ORDER BY e.filename, e.file_row_number""").fetch_arrow_table()
    finally:
        if validated is not None:
            con.unregister("_cl_va")
    if net.num_rows == 0:
        return (CLUSTER_SCHEMA.empty_table(), MEMBER_SCHEMA.empty_table(),
                con.execute(f"SELECT {', '.join(EVIDENCE_SCHEMA.names)} FROM {spill.source('evidence')} "
                            "ORDER BY filename, file_row_number").fetch_arrow_table().cast(EVIDENCE_SCHEMA))
    # integer vertex ids with Arrow compute (no Python loop over edges): dictionary-encode both ends at once
    both = pc.dictionary_encode(pa.concat_arrays([net["account_a"].combine_chunks(),
                                                   net["account_b"].combine_chunks()]))
    uniq = both.dictionary
    order = np.asarray(pc.sort_indices(uniq).to_numpy(zero_copy_only=False))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[np.asarray(both.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]
    ia, ib = codes[: net.num_rows], codes[net.num_rows:]
    names = uniq.take(pa.array(order)).to_pylist()
    use_idf = params.semantics == "echoscope" and net["weight_idf"].null_count == 0
    wcol = net["weight_idf"] if use_idf else net["weight"]
    wts = np.maximum(np.asarray(wcol.to_numpy(zero_copy_only=False), dtype=float), 1e-9)
    g = ig.Graph(n=len(names), edges=np.column_stack([ia, ib]).tolist(), directed=False)
    g.es["weight"] = wts.tolist()
    g = g.simplify(combine_edges="sum")  # cnt semantics: both directions become one undirected edge
    part = leidenalg.find_partition(g, leidenalg.ModularityVertexPartition, weights="weight", seed=params.seed)
    memb = np.asarray(part.membership)
    sizes = np.bincount(memb)
    # cluster ids ordered by size (largest first), stable on the smallest member name
    order = sorted(range(len(sizes)), key=lambda c: (-sizes[c], names[int(np.nonzero(memb == c)[0][0])]))
    remap = {c: i + 1 for i, c in enumerate(order)}
    deg = g.degree()
    strength = g.strength(weights="weight")
    keep = [i for i in range(len(names)) if sizes[memb[i]] >= params.min_cluster_size]
    members = pa.table({"cluster_id": pa.array([remap[int(memb[i])] for i in keep], pa.int64()),
                        "account_id": pa.array([names[i] for i in keep], pa.string()),
                        "handle": pa.nulls(len(keep), pa.string()),
                        "degree": pa.array([deg[i] for i in keep], pa.int64()),
                        "strength": pa.array([float(strength[i]) for i in keep], pa.float64())})
    members, evidence = member_evidence(con, members, spill.source("evidence"), params,
                                        params.semantics == "echoscope", spill.source("edges"),
                                        spill.source("candidates") if spill.files["candidates"] else None)
    clusters, members = summarise(con, src, evidence, members, params, network, validated is not None)
    return clusters, members, evidence


def summarise(con: Any, edges: str, evidence: pa.Table, members: pa.Table, params: CoordParams,
              network: str, validated: bool = False) -> tuple[pa.Table, pa.Table]:
    """Per-cluster summary from the study's tables; significance of each cluster's internal weight.

    ``edges``: a DuckDB table expression of the run's edges (the network's among them are read).
    """
    # registered Arrow tables carry no statistics and join slowly: copy them into temp tables first; the edges
    # and evidence only where the queries below can use them: edges with both ends members, evidence with a
    # member first (the whole fused network is millions of pairs at 10M engagements, its members' part a few
    # thousand)
    first = "SEMI JOIN _cm ma ON ma.account_id = x.account_a"
    con.register("_cm_in", members)
    con.execute("CREATE OR REPLACE TEMP TABLE _cm AS SELECT * FROM _cm_in")
    con.unregister("_cm_in")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ce AS SELECT {', '.join(EDGE_SCHEMA.names)} FROM {edges} x {first}
        SEMI JOIN _cm mb ON mb.account_id = x.account_b WHERE x.behaviour = '{network}'""")
    con.register("_cev_in", evidence)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _cev AS SELECT x.* FROM _cev_in x {first}")
    con.unregister("_cev_in")
    members = con.execute("""SELECT m.cluster_id, m.account_id, a.handle, m.degree, m.strength, m.coordinated,
            m.behaviours, m.partners FROM _cm m
        LEFT JOIN (SELECT account_id, any_value(handle) AS handle FROM accounts GROUP BY account_id) a
             USING (account_id)
        ORDER BY m.cluster_id, m.strength DESC, m.account_id""").fetch_arrow_table().cast(MEMBER_SCHEMA)
    internal = con.execute("""SELECT ma.cluster_id, count(*) AS n_edges, sum(e.weight) AS weight,
            sum(e.null_mean) AS null_weight, count(e.null_mean) AS n_null
        FROM _ce e JOIN _cm ma ON ma.account_id = e.account_a JOIN _cm mb ON mb.account_id = e.account_b
        WHERE ma.cluster_id = mb.cluster_id AND e.account_a <> e.account_b
        GROUP BY ma.cluster_id""").fetch_arrow_table()
    beh = dict(con.execute("""SELECT ma.cluster_id, string_agg(DISTINCT e.behaviour, ',' ORDER BY e.behaviour)
        FROM _cev e JOIN _cm ma ON ma.account_id = e.account_a JOIN _cm mb ON mb.account_id = e.account_b
        WHERE ma.cluster_id = mb.cluster_id GROUP BY 1""").fetchall())
    prof = {r[0]: r[1:] for r in con.execute("""SELECT m.cluster_id, epoch(min(a.created_at)),
            epoch(max(a.created_at)), median(a.followers_count),
            avg(CASE WHEN s.status = 'suspended' THEN 1.0 ELSE 0.0 END)
        FROM _cm m LEFT JOIN (SELECT account_id, any_value(created_at) AS created_at,
                                     any_value(followers_count) AS followers_count FROM accounts GROUP BY 1) a
             USING (account_id)
        LEFT JOIN (SELECT account_id, arg_max(status, checked_at) AS status FROM account_status GROUP BY 1) s
             USING (account_id)
        GROUP BY m.cluster_id""").fetchall()}
    act = {r[0]: r[1:] for r in con.execute("""SELECT m.cluster_id, min(least(e.ts_a, e.ts_b)),
            max(greatest(e.ts_a, e.ts_b))
        FROM _cev e JOIN _cm m ON m.account_id = e.account_a GROUP BY 1""").fetchall()}
    # the members' engagements only (engine.engagements_by: over the whole view DuckDB joined every post first)
    targets = dict(con.execute(f"""WITH t AS (SELECT m.cluster_id, coalesce('@' || t.handle, t.account_id) AS target,
                count(*) AS n FROM _cm m JOIN ({engagements_by('_cm')}) g ON g.actor_id = m.account_id
                JOIN targets t ON t.account_id = g.subject_account_id GROUP BY 1, 2)
        SELECT cluster_id, string_agg(target || ' (' || n || ')', ', ' ORDER BY n DESC, target) FROM
            (SELECT * FROM t QUALIFY row_number() OVER (PARTITION BY cluster_id ORDER BY n DESC, target) <= 5)
        GROUP BY 1""").fetchall())
    strongest = dict(con.execute("""WITH x AS (SELECT ma.cluster_id, e.* FROM _cev e
                JOIN _cm ma ON ma.account_id = e.account_a
                JOIN _cm mb ON mb.account_id = e.account_b WHERE ma.cluster_id = mb.cluster_id)
        SELECT cluster_id, string_agg(behaviour || ' ' || object_id || ': ' || account_a || ' & ' || account_b ||
               ' ' || CAST(round(gap_s, 1) AS VARCHAR) || ' s apart', '; '
               ORDER BY gap_s, object_id, account_a, account_b, behaviour)
        FROM (SELECT * FROM x QUALIFY row_number() OVER (
                  PARTITION BY cluster_id ORDER BY gap_s, object_id, account_a, account_b, behaviour) <= 3)
        GROUP BY 1""").fetchall())
    # what kind of cluster it is (kinds.py): target share, automation signs, label
    kinds = characterise(con, "_cm", "_cev")
    for t in ("_cm", "_ce", "_cev"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    sizes = dict(zip(*np.unique(members["cluster_id"].to_numpy(), return_counts=True)))
    rows = []
    for r in internal.to_pylist():
        cid = int(r["cluster_id"])
        w = float(r["weight"] or 0.0)
        if params.semantics == "echoscope" and params.null != "none" and r["n_null"]:
            lam = max(float(r["null_weight"] or 0.0), 0.5 / max(params.reps, 1))
            p = float(poisson_sf(np.array([w]), np.array([lam]))[0])
            z = (w - lam) / np.sqrt(lam)
            # with validation every member already passed a held-out test; the full-data p-value is shown
            # for reference (it is biased low: the edges were found on the same data)
            coord = True if validated else p <= params.alpha
        else:
            lam, p, z, coord = None, None, None, True  # peers: every cluster of judged edges counts
        cf, cl, medf, susp = prof.get(cid, (None, None, None, None))
        fa, la = act.get(cid, (None, None))
        rows.append({
            "cluster_id": cid, "size": int(sizes.get(cid, 0)), "n_edges": int(r["n_edges"]), "weight": w,
            "null_weight": lam, "z": z, "p_value": p, "coordinated": bool(coord), "behaviours": beh.get(cid),
            "created_first": _ts(cf), "created_last": _ts(cl),
            "created_spread_days": (cl - cf) / 86400 if cf is not None and cl is not None else None,
            "median_followers": float(medf) if medf is not None else None,
            "share_suspended": float(susp) if susp is not None else None, "targets": targets.get(cid),
            "first_activity": _ts(fa), "last_activity": _ts(la), "evidence": strongest.get(cid),
            **kinds.get(cid, {})})
    # clusters that amplify the study's targets come first, then the rest; each part largest first
    rows.sort(key=lambda x: (not x.get("amplifies_targets"), -x["size"], x["cluster_id"]))
    remap = {r["cluster_id"]: i + 1 for i, r in enumerate(rows)}
    for r in rows:
        r["cluster_id"] = remap[r["cluster_id"]]
    coord = {r["cluster_id"]: r["coordinated"] for r in rows}
    if remap:
        cid = members["cluster_id"].to_pylist()
        members = members.set_column(0, "cluster_id", pa.array([remap.get(c, c) for c in cid], pa.int64()))
        members = members.set_column(members.schema.get_field_index("coordinated"), "coordinated",
                                     pa.array([bool(coord.get(remap.get(c, c), False)) for c in cid],
                                              pa.bool_()))
        members = members.sort_by([("cluster_id", "ascending"), ("strength", "descending"),
                                   ("account_id", "ascending")])
    clusters = pa.Table.from_pylist(rows, schema=CLUSTER_SCHEMA) if rows else CLUSTER_SCHEMA.empty_table()
    return clusters, members


def _ts(x: float | None) -> Any:
    if x is None:
        return None
    return dt.datetime.fromtimestamp(float(x), tz=dt.timezone.utc)


__all__ = ["CLUSTER_SCHEMA", "MEMBER_PARTNERS", "MEMBER_SCHEMA", "cluster", "fuse", "keep_candidate_evidence",
           "member_evidence", "summarise"]

"""One account as the stored results see it: profile, status, score and reasons, cluster, partners, co-actions,
targets amplified and recent posts; and finding an account by ``@handle``, id or handle prefix.

Each part is one bounded query filtered on the account (``LIMIT`` on every list), so an account page costs the
same in a study of ten thousand accounts or a million. A part whose analysis has not run is None, and
``missing`` names the command that fills it.
"""

from __future__ import annotations

from typing import Any

from ..accounts.risk import HIGH_RISK_THRESHOLD
from ..engine import Engine
from ..engine.analysis import ANALYSIS_COMMANDS
from ..errors import ConfigError
from .base import (
    cached,
    columns,
    handles,
    has_results,
    has_table,
    network_behaviour,
    page,
    placeholders,
    posts_by_id,
    run_info,
    statuses,
    targets_table,
)
from .clusters import _json_value, _shape
from .evidence import describe
from .wording import format_p, iso, shorten

#: profile fields shown for an account (those the accounts table has)
PROFILE_FIELDS: tuple[str, ...] = ("handle", "display_name", "description", "location", "created_at",
                                   "followers_count", "following_count", "posts_count", "verified",
                                   "affiliation_label", "platform", "observed_at")


def resolve(engine: Engine, ref: str) -> str:
    """The account id for ``@handle``, a bare handle or an account id (an id wins when both match).

    Raises
    ------
    ConfigError
        One line naming the study when no account matches.
    """
    raw = str(ref).strip()
    if not raw:
        raise ConfigError("give an account as @handle or account id")
    people = "_findings_people" if cached(engine) else "accounts"
    if not raw.startswith("@"):
        hit = engine.scalar(f"SELECT 1 FROM {people} WHERE account_id = ? LIMIT 1", [raw])
        if hit is None:
            hit = engine.scalar("SELECT 1 FROM posts WHERE account_id = ? LIMIT 1", [raw])
        if hit is None and has_table(engine, "coord_members"):
            hit = engine.scalar("SELECT 1 FROM coord_members WHERE CAST(account_id AS VARCHAR) = ? LIMIT 1", [raw])
        if hit is not None:
            return raw
    handle = raw.lstrip("@").lower()
    if people == "accounts":
        row = engine.scalar("""SELECT account_id FROM accounts WHERE lower(handle) = ?
            ORDER BY observed_at DESC NULLS LAST LIMIT 1""", [handle])
    else:
        row = engine.scalar("SELECT account_id FROM _findings_people WHERE lower(handle) = ? ORDER BY account_id "
                            "LIMIT 1", [handle])
    if row is not None:
        return str(row)
    what = f"handle '@{raw.lstrip('@')}'" if raw.startswith("@") else f"account '{raw}' (as id or handle)"
    raise ConfigError(f"no {what} in {engine.study.path} (accounts and posts tables); check the spelling, "
                      f"or search by prefix in 'echoscope serve {engine.study.path}'")


def search_accounts(engine: Engine, query: str, *, limit: int | None = 20) -> list[dict[str, Any]]:
    """Accounts whose handle starts with ``query`` (case-insensitive; a leading ``@`` ignored) or whose id is
    ``query``: exact matches first, then cluster members, then shorter handles."""
    lim, _ = page(limit, 0, 20)
    q = str(query or "").strip().lstrip("@").lower()
    if not q:
        return []
    member = ("EXISTS (SELECT 1 FROM coord_members m WHERE CAST(m.account_id AS VARCHAR) = a.account_id)"
              if has_table(engine, "coord_members") else "false")
    src = ("SELECT account_id, handle, display_name FROM _findings_people WHERE starts_with(lower(handle), ?) "
           "OR account_id = ?") if cached(engine) else """SELECT account_id,
                   first(handle ORDER BY (handle IS NULL), observed_at DESC NULLS LAST) AS handle,
                   first(display_name ORDER BY (display_name IS NULL), observed_at DESC NULLS LAST) AS display_name
            FROM accounts WHERE starts_with(lower(handle), ?) OR account_id = ? GROUP BY account_id"""
    rows = engine.rows(f"""WITH a AS ({src})
        SELECT a.account_id, a.handle, a.display_name, {member} AS in_cluster FROM a
        ORDER BY (lower(a.handle) = ? OR a.account_id = ?) DESC, in_cluster DESC, length(a.handle), a.handle,
                 a.account_id LIMIT {lim}""", [q, query.strip(), q, query.strip()])
    return rows


def account(engine: Engine, ref: str, *, partners: int = 10, coactions: int = 10, coactions_offset: int = 0,
            targets: int = 10, posts: int = 10) -> dict[str, Any]:
    """Everything the stored results say about one account (see the module docstring).

    Parameters
    ----------
    engine : Engine
        The study's engine (``runs`` picks the coordination and score runs shown).
    ref : str
        ``@handle`` or account id.
    partners, coactions, targets, posts : int
        How many strongest partners, example co-actions (closest in time first), amplified targets and recent
        posts to list (each at most :data:`~echoscope.findings.base.MAX_PAGE`).

    Returns
    -------
    dict
        ``account_id``, ``handle``, ``profile``, ``status``, ``score``, ``cluster``, ``partners``,
        ``coactions`` (``total`` and a page of worded ``evidence``), ``targets``, ``posts``, ``runs`` and
        ``missing`` (analyses not run, with the command that runs each).
    """
    aid = resolve(engine, ref)
    profile = _profile(engine, aid)
    missing: dict[str, str] = {}
    out: dict[str, Any] = {"account_id": aid, "handle": profile.get("handle"), "profile": profile,
                           "status": _status(engine, aid)}
    out["score"] = _score(engine, aid) if has_results(engine, "accounts") else None
    if out["score"] is None and not has_results(engine, "accounts"):
        missing["accounts"] = f"{ANALYSIS_COMMANDS['accounts']} {engine.study.path}"
    if has_results(engine, "coordination"):
        out["cluster"] = _cluster(engine, aid)
        out["partners"] = _partners(engine, aid, page(partners, 0, 10)[0])
        out["coactions"] = _coactions(engine, aid, coactions, coactions_offset)
    else:
        out["cluster"], out["partners"], out["coactions"] = None, [], {"total": 0, "evidence": []}
        missing["coordination"] = f"{ANALYSIS_COMMANDS['coordination']} {engine.study.path}"
    _own_posts(engine, aid)
    out["targets"] = _targets(engine, aid, page(targets, 0, 10)[0])
    out["posts"] = _posts(engine, aid, page(posts, 0, 10)[0])
    out["runs"] = {a: ({k: v for k, v in info.items() if k != "summary"} if info else None)
                   for a, info in (("coordination", run_info(engine, "coordination")),
                                   ("accounts", run_info(engine, "accounts")))}
    out["missing"] = missing
    return out


def _profile(engine: Engine, aid: str) -> dict[str, Any]:
    have = columns(engine, "accounts")
    sel = ", ".join(f'"{c}"' for c in PROFILE_FIELDS if c in have)
    if not sel:
        return {}
    rows = engine.rows(f"""SELECT {sel} FROM accounts WHERE account_id = ?
        ORDER BY observed_at DESC NULLS LAST LIMIT 1""" if "observed_at" in have else
                       f"SELECT {sel} FROM accounts WHERE account_id = ? LIMIT 1", [aid])
    if not rows:
        return {}
    return {k: (iso(v) if k in ("created_at", "observed_at") else _json_value(v)) for k, v in rows[0].items()}


def _status(engine: Engine, aid: str) -> dict[str, Any] | None:
    row = statuses(engine, [aid]).get(aid)
    if not row:
        return None
    return {"status": row["status"], "checked_at": iso(row["checked_at"])}


def _score(engine: Engine, aid: str) -> dict[str, Any] | None:
    sc = columns(engine, "account_scores")
    if not {"account_id", "score"} <= sc:
        return None
    sel = ", ".join(f'"{c}"' if c in sc else f'NULL AS "{c}"'
                    for c in ("score", "rank", "high_risk", "mode", "reasons", "reasons_text"))
    rows = engine.rows(f"SELECT {sel} FROM account_scores WHERE CAST(account_id AS VARCHAR) = ? LIMIT 1", [aid])
    info = run_info(engine, "accounts") or {}
    line = (info.get("summary") or {}).get("high_risk_threshold", HIGH_RISK_THRESHOLD)
    total = int(engine.scalar("SELECT count(*) FROM account_scores") or 0)
    if not rows:
        return {"scored": False, "accounts_scored": total, "high_risk_threshold": line}
    r = rows[0]
    reasons = r.get("reasons") or []
    if not reasons and r.get("reasons_text"):
        reasons = [{"signal": None, "value": None, "text": t.strip()} for t in str(r["reasons_text"]).split(";")
                   if t.strip()]
    high = r.get("high_risk")
    if high is None and r.get("score") is not None:
        high = float(r["score"]) >= float(line)
    return {"scored": True, "score": _json_value(r.get("score")), "rank": r.get("rank"), "high_risk": high,
            "high_risk_threshold": line, "mode": r.get("mode"), "accounts_scored": total,
            "reasons": [{"signal": x.get("signal"), "value": _json_value(x.get("value")), "text": x.get("text")}
                        for x in reasons]}


def _cluster(engine: Engine, aid: str) -> dict[str, Any] | None:
    mc = columns(engine, "coord_members")
    sel = ", ".join(f'"{c}"' if c in mc else f'NULL AS "{c}"' for c in ("degree", "strength"))
    rows = engine.rows(f"""SELECT cluster_id, {sel} FROM coord_members WHERE CAST(account_id AS VARCHAR) = ?
        ORDER BY cluster_id LIMIT 1""", [aid])
    if not rows:
        return None
    cl = engine.rows("SELECT * FROM coord_clusters WHERE CAST(cluster_id AS VARCHAR) = ? LIMIT 1",
                     [str(rows[0]["cluster_id"])])
    shaped = _shape(cl[0]) if cl else {"cluster_id": rows[0]["cluster_id"]}
    shaped.update({"degree": rows[0]["degree"], "strength": _json_value(rows[0]["strength"])})
    return shaped


def _partners(engine: Engine, aid: str, n: int) -> list[dict[str, Any]]:
    """The accounts ``aid`` shares its heaviest edges with on the clustered network, with every behaviour
    that joins them."""
    ec = columns(engine, "coord_edges")
    if not {"account_a", "account_b"} <= ec:
        return []
    net = network_behaviour(engine, (run_info(engine, "coordination") or {}).get("summary"))
    cond = "behaviour = ? AND " if "behaviour" in ec and net else ""
    args: list[Any] = ([net] if cond else []) + [aid, aid]
    sel = ", ".join(f'"{c}"' if c in ec else f'NULL AS "{c}"' for c in ("weight", "n_objects", "p_value",
                                                                         "significant", "min_gap_s"))
    rows = engine.rows(f"""SELECT CASE WHEN CAST(account_a AS VARCHAR) = ? THEN CAST(account_b AS VARCHAR)
                ELSE CAST(account_a AS VARCHAR) END AS account_id, {sel}
        FROM coord_edges WHERE {cond}(CAST(account_a AS VARCHAR) = ? OR CAST(account_b AS VARCHAR) = ?)
          AND account_a <> account_b
        ORDER BY weight DESC NULLS LAST, account_id LIMIT {int(n)}""", [aid, *args])
    if not rows:
        return []
    ids = [r["account_id"] for r in rows]
    behs: dict[str, list[str]] = {}
    if "behaviour" in ec:
        for r in engine.rows(f"""SELECT CASE WHEN CAST(account_a AS VARCHAR) = ? THEN CAST(account_b AS VARCHAR)
                    ELSE CAST(account_a AS VARCHAR) END AS partner, list(DISTINCT behaviour ORDER BY behaviour) AS b
                FROM coord_edges WHERE behaviour <> 'fused' AND (
                    (CAST(account_a AS VARCHAR) = ? AND CAST(account_b AS VARCHAR) IN {placeholders(ids)})
                 OR (CAST(account_b AS VARCHAR) = ? AND CAST(account_a AS VARCHAR) IN {placeholders(ids)}))
                GROUP BY 1""", [aid, aid, *ids, aid, *ids]):
            behs[r["partner"]] = list(r["b"] or [])
    same = {}
    if has_table(engine, "coord_members"):
        same = {r["account_id"]: r["cluster_id"] for r in engine.rows(f"""SELECT
                CAST(account_id AS VARCHAR) AS account_id, min(cluster_id) AS cluster_id FROM coord_members
            WHERE CAST(account_id AS VARCHAR) IN {placeholders(ids)} GROUP BY 1""", ids)}
    names = handles(engine, ids)
    for r in rows:
        r["handle"] = names.get(r["account_id"])
        r["weight"] = _json_value(r["weight"])
        r["p_value"] = _json_value(r["p_value"])
        r["p_value_text"] = format_p(r["p_value"])
        r["behaviours"] = behs.get(r["account_id"], [])
        r["cluster_id"] = same.get(r["account_id"])
    return rows


def _coactions(engine: Engine, aid: str, limit: int, offset: int) -> dict[str, Any]:
    lim, off = page(limit, offset, 10)
    ev = columns(engine, "coord_evidence")
    if not {"account_a", "account_b"} <= ev:
        return {"total": 0, "offset": off, "limit": lim, "evidence": []}
    sel = ", ".join(f'"{c}"' if c in ev else f'NULL AS "{c}"'
                    for c in ("behaviour", "object_id", "action_a", "action_b", "ts_a", "ts_b", "gap_s"))
    where = "CAST(account_a AS VARCHAR) = ? OR CAST(account_b AS VARCHAR) = ?"
    total = int(engine.scalar(f"SELECT count(*) FROM coord_evidence WHERE {where}", [aid, aid]) or 0)
    # timed co-actions closest in time first; shared infrastructure (no window) after them
    shared = "(behaviour = 'shared-ip')" if "behaviour" in ev else "false"
    rows = engine.rows(f"""SELECT CAST(account_a AS VARCHAR) AS account_a,
            CAST(account_b AS VARCHAR) AS account_b, {sel} FROM coord_evidence WHERE {where}
        ORDER BY {shared}, gap_s NULLS LAST, least(ts_a, ts_b), account_a, account_b, action_a, action_b, behaviour,
                 object_id LIMIT {lim} OFFSET {off}""",
                       [aid, aid]) if total else []
    params = (run_info(engine, "coordination") or {}).get("parameters") or {}
    return {"total": total, "offset": off, "limit": lim, "evidence": describe(engine, rows, params)}


def _own_posts(engine: Engine, aid: str) -> None:
    """Copy the account's posts and likes into the connection's temp table ``_findings_own`` (one scan of
    each table for the whole account page; the recent posts and the targets are read from it).

    Why a temp table: every filter on ``account_id`` is a full scan of a Parquet column; one scan instead of
    three keeps an account page well under a second at millions of posts. It lives in the engine's own
    in-memory DuckDB (never in the study) and is replaced by the next account page; callers that share an
    engine between threads serialise findings calls (the explorer holds a lock).
    """
    engine.raw.execute("""CREATE OR REPLACE TEMP TABLE _findings_own AS
        SELECT post_id, kind, created_at, text, ref_post_id, ref_account_id FROM posts WHERE account_id = ?
        UNION ALL SELECT NULL, 'like', created_at, NULL, post_id, NULL FROM likes WHERE account_id = ?""", [aid, aid])


def _targets(engine: Engine, aid: str, n: int) -> list[dict[str, Any]]:
    """The study's targets this account engaged with, most engagements first.

    The engagements are the ``engagements`` view's rows of this actor (its reposts, replies and quotes, and its
    likes; the subject's author is ``ref_account_id``, else the author of the subject post), read from the
    account's own rows (:func:`_own_posts`) rather than through the view, which joins every post with its
    subject before it can filter on the actor.
    """
    need = engine.scalar("""SELECT count(*) FROM _findings_own WHERE kind IN ('repost', 'reply', 'quote', 'like')
        AND ref_account_id IS NULL AND ref_post_id IS NOT NULL""")
    subj = "SELECT NULL::VARCHAR AS post_id, NULL::VARCHAR AS account_id LIMIT 0"
    if need:
        subj = """SELECT post_id, any_value(account_id) AS account_id FROM posts
            WHERE post_id IN (SELECT ref_post_id FROM _findings_own WHERE ref_account_id IS NULL) GROUP BY 1"""
    rows = engine.rows(f"""WITH subj AS ({subj}),
        g AS (SELECT m.kind, m.created_at, coalesce(m.ref_account_id, s.account_id) AS subject
              FROM _findings_own m LEFT JOIN subj s ON s.post_id = m.ref_post_id
              WHERE m.kind IN ('repost', 'reply', 'quote', 'like'))
        SELECT t.account_id, any_value(t.handle) AS handle, any_value(t."group") AS "group",
            count(*) AS engagements, list(DISTINCT g.kind ORDER BY g.kind) AS kinds,
            min(g.created_at) AS first, max(g.created_at) AS last
        FROM g JOIN {targets_table(engine)} t ON t.account_id = g.subject
        GROUP BY t.account_id ORDER BY engagements DESC, t.account_id LIMIT {int(n)}""")
    for r in rows:
        r["first"], r["last"] = iso(r["first"]), iso(r["last"])
        r["kinds"] = list(r["kinds"] or [])
    return rows


def _posts(engine: Engine, aid: str, n: int) -> list[dict[str, Any]]:
    """The account's most recent posts (:func:`_own_posts`), with the post each one answers (author, text)."""
    rows = engine.rows(f"""SELECT post_id, created_at, kind, text, ref_post_id, ref_account_id FROM _findings_own
        WHERE kind <> 'like' ORDER BY created_at DESC NULLS LAST, post_id LIMIT {int(n)}""")
    refs = sorted({r["ref_post_id"] for r in rows if r["ref_post_id"]})
    # the answered posts: from the lookup cache when warm (the targets' posts, the evidence's), the posts table
    # for the others
    ref_posts = posts_by_id(engine, refs)
    for r in rows:
        ref = ref_posts.get(r["ref_post_id"]) or {}
        r["ref_account_id"] = r["ref_account_id"] or ref.get("account_id")
        r["ref_text"] = ref.get("text")
    names = handles(engine, [r["ref_account_id"] for r in rows if r["ref_account_id"]])
    return [{"post_id": r["post_id"], "created_at": iso(r["created_at"]), "kind": r["kind"],
             "text": shorten(r["text"], 280), "ref_post_id": r["ref_post_id"], "ref_account_id": r["ref_account_id"],
             "ref_handle": names.get(r["ref_account_id"]) if r["ref_account_id"] else None,
             "ref_text": shorten(r["ref_text"], 200)} for r in rows]


__all__ = ["PROFILE_FIELDS", "account", "resolve", "search_accounts"]

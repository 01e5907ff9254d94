"""The accounts section: the highest-risk accounts with the reasons behind their score, profile facts, latest
status and example posts -- or, without scores, the top amplifiers the measures stored.

Why it reads ``account_scores.high_risk`` and the run's summary and nothing else for "high risk": the line
between high and low risk is drawn once, by ``echoscope score``, which stores the count and the line in its
result's summary and marks every account; guessing it here from the score would let the report and the console
disagree. A study scored by an older echoscope has no such column: the report then counts no high-risk accounts
and says which command adds them.
"""

from __future__ import annotations

from typing import Any

from .amplification import amplifier_facts
from .base import STATUS_SQL, Ctx, iso, num

#: keys of the score run's stored summary the report reads (the words come from ``echoscope.accounts.headline``)
SUMMARY_KEYS: tuple[str, ...] = ("accounts", "high_risk", "high_risk_threshold", "mode")

_SCORE = "echoscope score STUDY"


def accounts(ctx: Ctx, superspreaders: list[dict[str, Any]]) -> dict[str, Any]:
    """Account cards: by score when ``echoscope score`` ran, else the stored top amplifiers."""
    out: dict[str, Any] = {"mode": None, "rows": [], "scored": 0, "high_risk": None, "threshold": None,
                           "score_mode": None, "summary": {}}
    sc = set(ctx.cols("account_scores")) if ctx.has("account_scores") else set()
    if {"account_id", "score"} <= sc:
        out["mode"] = "scores"
        meta = ctx.results["account_scores"].get("meta") or {}
        summary = meta.get("summary") if isinstance(meta.get("summary"), dict) else {}
        out["summary"] = {k: summary[k] for k in SUMMARY_KEYS if k in summary}
        out["scored"] = int(summary.get("accounts") or ctx.one("SELECT count(*) FROM account_scores") or 0)
        if "high_risk" in sc:
            # the count and the line the score run stored with its result (the same rows as the column)
            out["high_risk"] = (int(summary["high_risk"]) if summary.get("high_risk") is not None else
                                int(ctx.one("SELECT count(*) FROM account_scores WHERE high_risk") or 0))
            out["threshold"] = num(summary.get("high_risk_threshold"))
        else:
            ctx.need("account_scores has no high_risk column (scored by an older echoscope), so no account is "
                     "counted as high risk", _SCORE)
        out["score_mode"] = ctx.one("SELECT any_value(mode) FROM account_scores") if "mode" in sc else None
        reasons = "s.reasons" if "reasons" in sc else "NULL"
        rtext = "s.reasons_text" if "reasons_text" in sc else "NULL"
        base = ctx.rows(f"""SELECT CAST(s.account_id AS VARCHAR) AS account_id, s.score, {reasons} AS reasons,
                {rtext} AS reasons_text FROM account_scores s ORDER BY s.score DESC NULLS LAST, s.account_id
                LIMIT {int(ctx.opt.accounts)}""")
    elif superspreaders:
        out["mode"] = "amplifiers"
        base = [{"account_id": str(r["actor_id"])} for r in superspreaders[: ctx.opt.accounts]]
    else:
        out["mode"] = "none"
        return out
    if not base:
        return out
    ids = [b["account_id"] for b in base]
    sig = _signals(ctx, ids)
    prof = {r["account_id"]: r for r in ctx.rows("""
        SELECT account_id, any_value(handle) AS handle, any_value(display_name) AS display_name,
               any_value(description) AS description, any_value(location) AS location,
               any_value(created_at) AS created_at, any_value(followers_count) AS followers_count,
               any_value(following_count) AS following_count, any_value(posts_count) AS posts_count,
               any_value(default_profile_image) AS default_profile_image, any_value(language) AS language
        FROM accounts WHERE account_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY account_id""", [ids])}
    status = {r["account_id"]: r for r in ctx.rows(f"""SELECT * FROM ({STATUS_SQL}) s
        WHERE account_id IN (SELECT unnest(?::VARCHAR[]))""", [ids])}
    amp = amplifier_facts(ctx, ids)
    posts: dict[str, list[dict[str, Any]]] = {}
    for r in ctx.rows(f"""SELECT account_id, post_id, created_at, kind, text, urls FROM posts
            WHERE account_id IN (SELECT unnest(?::VARCHAR[])) AND text IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY (kind = 'repost'), created_at DESC NULLS LAST,
                                       post_id) <= {int(ctx.opt.example_posts)}
            ORDER BY account_id, (kind = 'repost'), created_at DESC NULLS LAST, post_id""", [ids]):
        posts.setdefault(r["account_id"], []).append({"post_id": r["post_id"], "created_at": iso(r["created_at"]),
                                                      "kind": r["kind"], "text": r["text"],
                                                      "urls": list(r["urls"] or [])[:5]})
    for b in base:
        aid = b["account_id"]
        p = prof.get(aid, {})
        st = status.get(aid, {})
        a = amp.get(aid, {})
        out["rows"].append({
            "account_id": aid, "score": num(b.get("score")), "reasons": _reasons(b) or sig.get(aid, []),
            "handle": p.get("handle"), "display_name": p.get("display_name"), "description": p.get("description"),
            "location": p.get("location"), "created_at": iso(p.get("created_at")),
            "followers_count": p.get("followers_count"), "following_count": p.get("following_count"),
            "posts_count": p.get("posts_count"), "default_profile_image": p.get("default_profile_image"),
            "language": p.get("language"), "status": st.get("status"), "checked_at": iso(st.get("checked_at")),
            "amplifier_rank": a.get("rank"), "engagements": a.get("engagements"),
            "engagement_share": num(a.get("share")), "share_within_60s": num(a.get("share_within_60s")),
            "posts": posts.get(aid, []),
        })
    return out


def _reasons(b: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored reasons of a score (a list of {signal, value, text}, else the reasons text)."""
    out: list[dict[str, Any]] = []
    raw = b.get("reasons")
    if isinstance(raw, list):
        for x in raw[:5]:
            if isinstance(x, dict):
                out.append({"signal": x.get("signal"), "value": x.get("value"), "text": x.get("text")})
            elif x is not None:
                out.append({"signal": None, "value": None, "text": str(x)})
    if not out and b.get("reasons_text"):
        out = [{"signal": None, "value": None, "text": str(b["reasons_text"])}]
    return out


def _signals(ctx: Ctx, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Up to five stored signals per account (the reasons when a score carries none)."""
    if not ctx.has("account_signals") or not {"account_id", "signal", "text"} <= set(ctx.cols("account_signals")):
        return {}
    scol = set(ctx.cols("account_signals"))
    order = "strength DESC NULLS LAST, " if "strength" in scol else ""
    val = "value" if "value" in scol else "NULL"
    out: dict[str, list[dict[str, Any]]] = {}
    for r in ctx.rows(f"""SELECT CAST(account_id AS VARCHAR) AS account_id, signal, {val} AS value, text
            FROM account_signals WHERE CAST(account_id AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))
            QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY {order}signal) <= 5
            ORDER BY account_id, {order}signal""", [ids]):
        out.setdefault(r["account_id"], []).append({"signal": r["signal"], "value": r["value"], "text": r["text"]})
    return out

"""Evidence rows in words: what two accounts acted on, when, and how far apart.

``coord_evidence`` stores one row per co-action: ``behaviour, account_a, account_b, object_id, action_a,
action_b, ts_a, ts_b, gap_s``. Ids mean nothing to a reader, so a page of rows (never more than
:data:`~echoscope.findings.base.MAX_PAGE`) is joined, in two bounded queries, to the accounts' handles and to
the posts behind the object and both actions, and each row gets its object in words:

* a post (co-retweet, co-reply, co-quote, rapid-fire, early-amplify, and any object id that is a stored post):
  its author's handle and its text shortened;
* a (post, delay bucket) of co-latency: the post, and the delay in words (``reposted 10-60 s after the post``);
* a URL, a near-duplicate text family (one example: the first account's own post), a set of hashtags, a
  mentioned handle;
* an IP address or device (shared-ip): shared infrastructure at any time, so no window is claimed; the time
  between the two uses is given in seconds (``156,600 s between the two uses``), never as a
  co-action gap.

Why a registry of describers by object kind (:data:`OBJECT_KINDS`): a new behaviour names its kind once and
every output words it the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..engine import Engine
from .base import handles, posts_by_id
from .wording import (
    KIND_VERBS,
    at,
    behaviour_text,
    bucket_words,
    format_gap,
    iso,
    shorten,
    when,
)

#: what the object of each behaviour is; a behaviour not named here is a post when its object id is a stored
#: post, else a plain object
OBJECT_KINDS: dict[str, str] = {
    "co-retweet": "post", "co-reply": "post", "co-quote": "post", "rapid-fire": "post", "early-amplify": "post",
    "co-latency": "latency", "co-link": "url", "co-domain": "domain", "co-hashtag": "hashtags",
    "co-mention": "mention", "co-text": "text", "co-media": "media", "shared-ip": "infrastructure",
}

#: how an account acted on a post object, when its action's kind is not stored
DEFAULT_VERBS: dict[str, str] = {"co-retweet": "reposted", "co-reply": "replied to", "co-quote": "quoted",
                                 "rapid-fire": "amplified", "early-amplify": "answered", "co-latency": "answered"}

_BUCKET = re.compile(r"^(.*)@(\d+)$")


def _post_key(behaviour: str, object_id: str) -> tuple[str, int | None]:
    """The post id inside an object id (``post@bucket`` for co-latency) and the bucket index."""
    if OBJECT_KINDS.get(behaviour) == "latency":
        m = _BUCKET.match(object_id)
        if m:
            return m.group(1), int(m.group(2))
    return object_id, None


def describe(engine: Engine, rows: list[dict[str, Any]],
             parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Word a page of ``coord_evidence`` rows (see the module docstring).

    Parameters
    ----------
    engine : Engine
        The study's engine.
    rows : list of dict
        At most a page of evidence rows (``behaviour``, ``account_a``, ``account_b``, ``object_id``,
        ``action_a``, ``action_b``, ``ts_a``, ``ts_b``, ``gap_s``; missing keys read as unknown).
    parameters : dict, optional
        The coordination run's parameters (co-latency's ``latency_buckets``, ``rapid_seconds``, ...).

    Returns
    -------
    list of dict
        Per row: ``behaviour``, ``behaviour_text``, ``object_kind``, ``object`` (words), ``object_id`` (as
        stored), the object post's ``post_id``, ``post_author_account_id``, ``post_author_handle``,
        ``post_text``, ``post_created_at``; ``account_a``, ``handle_a``, ``account_b``, ``handle_b``,
        ``post_id_a``, ``post_id_b``, ``kind_a``, ``kind_b``, ``text_a``, ``text_b``, ``time_a``, ``time_b``,
        ``delay_a_s``, ``delay_b_s`` (after the object post), ``gap_s``, ``gap_text``, ``event_text`` (who did
        what, when), ``why_text`` (why it counts for the behaviour) and ``summary_text`` (both, one sentence).
    """
    if not rows:
        return []
    post_ids: set[str] = set()
    for r in rows:
        beh, oid = str(r.get("behaviour") or ""), r.get("object_id")
        if oid is not None and OBJECT_KINDS.get(beh) not in ("url", "hashtags", "mention", "infrastructure",
                                                            "domain", "media"):
            post_ids.add(_post_key(beh, str(oid))[0])
        if OBJECT_KINDS.get(beh) != "infrastructure":
            post_ids.update(str(r[k]) for k in ("action_a", "action_b") if r.get(k) is not None)
    posts = posts_by_id(engine, sorted(post_ids))
    ids = {str(r[k]) for r in rows for k in ("account_a", "account_b") if r.get(k) is not None}
    for r in rows:
        for k in ("action_a", "action_b"):
            p = posts.get(str(r.get(k)))
            if p and p.get("ref_account_id"):
                ids.add(p["ref_account_id"])
    ids |= {p["account_id"] for p in posts.values() if p.get("account_id")}
    names = handles(engine, sorted(ids))
    return [_word(r, posts, names, parameters or {}) for r in rows]


def _word(r: dict[str, Any], posts: dict[str, dict[str, Any]], names: dict[str, str | None],
          params: dict[str, Any]) -> dict[str, Any]:
    beh = str(r.get("behaviour") or "")
    oid = None if r.get("object_id") is None else str(r["object_id"])
    a, b = r.get("account_a"), r.get("account_b")
    pa_, pb_ = posts.get(str(r.get("action_a"))), posts.get(str(r.get("action_b")))
    kind = OBJECT_KINDS.get(beh)
    key, bucket = _post_key(beh, oid) if oid is not None else (None, None)
    obj_post = posts.get(key) if key is not None else None
    if kind is None:
        kind = "post" if obj_post else "object"
    if kind not in ("post", "latency"):
        obj_post = None
    author = obj_post.get("account_id") if obj_post else None
    if author is None and kind in ("post", "latency"):
        author = next((p.get("ref_account_id") for p in (pa_, pb_) if p and p.get("ref_account_id")), None)
    ts_a, ts_b = r.get("ts_a"), r.get("ts_b")
    gap = r.get("gap_s")
    if gap is None and ts_a is not None and ts_b is not None:
        gap = abs(float(ts_b) - float(ts_a))
    created = obj_post.get("created_at") if obj_post else None
    delay_a = _delay(ts_a, created)
    delay_b = _delay(ts_b, created)
    out: dict[str, Any] = {
        "behaviour": beh, "behaviour_text": behaviour_text(beh), "object_kind": kind,
        "object_id": oid, "post_id": key if kind in ("post", "latency") else None,
        "post_author_account_id": author, "post_author_handle": names.get(author) if author else None,
        "post_text": shorten(obj_post.get("text")) if obj_post else None, "post_created_at": iso(created),
        "account_a": a, "handle_a": names.get(a) if a else None,
        "account_b": b, "handle_b": names.get(b) if b else None,
        "post_id_a": r.get("action_a") if pa_ else None, "post_id_b": r.get("action_b") if pb_ else None,
        "kind_a": pa_.get("kind") if pa_ else None, "kind_b": pb_.get("kind") if pb_ else None,
        "text_a": shorten(pa_.get("text")) if pa_ else None, "text_b": shorten(pb_.get("text")) if pb_ else None,
        "time_a": iso(ts_a), "time_b": iso(ts_b), "delay_a_s": delay_a, "delay_b_s": delay_b,
        "gap_s": None if gap is None else float(gap),
        "gap_text": format_gap(gap) if kind != "infrastructure" else (
            "no time window (shared at any time)" if gap is None
            else f"no time window (shared at any time; the two uses {format_gap(gap)} apart)"),
        "bucket": bucket,
    }
    out["object"] = DESCRIBERS.get(kind, _describe_object)(out, params)
    out["event_text"] = _sentence(out, params)
    why = WHY.get(beh)
    out["why_text"] = why(out, params) if why else None
    out["summary_text"] = out["event_text"] + (f"; {out['why_text']}" if out["why_text"] else "")
    return out


def group_events(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge adjacent worded rows that are one event seen by several behaviours (the same two actions: a
    repost 5 s after the post is a co-retweet, a rapid-fire, an early-amplify and a co-latency co-action).

    Each merged row keeps the first row's fields, with ``behaviours`` (every behaviour, in order) and a
    ``summary_text`` naming why each counts. Rows without both actions are never merged.
    """
    out: list[dict[str, Any]] = []
    for r in rows:
        key = (r.get("account_a"), r.get("account_b"), r.get("post_id_a"), r.get("post_id_b"))
        prev = out[-1] if out else None
        if (prev is not None and None not in key[2:] and prev["_key"] == key
                and r["behaviour"] not in prev["behaviours"]):
            prev["behaviours"].append(r["behaviour"])
            if r.get("why_text"):
                prev["_whys"].append(r["why_text"])
            continue
        g = dict(r)
        g["_key"] = key
        g["behaviours"] = [r["behaviour"]]
        g["_whys"] = [r["why_text"]] if r.get("why_text") else []
        out.append(g)
    for g in out:
        g.pop("_key")
        whys = g.pop("_whys")
        g["summary_text"] = g["event_text"] + (f"; {'; '.join(whys)}" if whys else "")
    return out


def _delay(ts: Any, created: Any) -> float | None:
    if ts is None or created is None:
        return None
    try:
        return float(ts) - created.timestamp()
    except (AttributeError, TypeError, ValueError):
        return None


def _quote(text: str | None) -> str:
    return f' ("{text}")' if text else ""


def _describe_post(r: dict[str, Any], params: dict[str, Any]) -> str:
    who = at(r["post_author_handle"], r["post_author_account_id"]) if r["post_author_account_id"] else None
    base = f"a post by {who}" if who else "a post by an unknown account"
    return base + _quote(r["post_text"])


def _describe_latency(r: dict[str, Any], params: dict[str, Any]) -> str:
    verb = KIND_VERBS.get(str(r["kind_a"]), "answered") if r["kind_a"] else "answered"
    return f"{_describe_post(r, params)}, {verb} {bucket_words(r['bucket'], params)} after the post"


def _describe_url(r: dict[str, Any], params: dict[str, Any]) -> str:
    return f"the link {shorten(r['object_id'], 200)}"


def _describe_domain(r: dict[str, Any], params: dict[str, Any]) -> str:
    return f"links to the domain {shorten(r['object_id'], 120)}"


def _describe_text(r: dict[str, Any], params: dict[str, Any]) -> str:
    example = r["text_a"] or r["text_b"] or shorten(r["object_id"])
    same = r["text_a"] is not None and r["text_a"] == r["text_b"]
    return ("the same text" if same else "near-identical texts, e.g.") + _quote(example)


def _describe_hashtags(r: dict[str, Any], params: dict[str, Any]) -> str:
    tags = " ".join("#" + t.lstrip("#") for t in str(r["object_id"] or "").split())
    return f"the hashtags {shorten(tags, 160)}"


def _describe_mention(r: dict[str, Any], params: dict[str, Any]) -> str:
    return f"mentions of @{str(r['object_id'] or '').lstrip('@')}"


def _describe_media(r: dict[str, Any], params: dict[str, Any]) -> str:
    return f"the same image or media (hash {shorten(r['object_id'], 40)})"


def _describe_infrastructure(r: dict[str, Any], params: dict[str, Any]) -> str:
    oid = str(r["object_id"] or "")
    what, _, h = oid.partition(":")
    name = {"ip": "IP address", "device": "device"}.get(what, "address or device")
    return f"the same {name} (hash {shorten(h or oid, 24)})"


def _describe_object(r: dict[str, Any], params: dict[str, Any]) -> str:
    return f'the object "{shorten(r["object_id"], 120)}"'


#: object kind -> how it reads
DESCRIBERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "post": _describe_post, "latency": _describe_latency, "url": _describe_url, "domain": _describe_domain,
    "text": _describe_text, "hashtags": _describe_hashtags, "mention": _describe_mention, "media": _describe_media,
    "infrastructure": _describe_infrastructure, "object": _describe_object,
}

#: verbs for objects that are not posts
_OBJECT_VERBS = {"url": "posted", "domain": "posted", "text": "posted", "hashtags": "posted",
                 "mention": "posted", "media": "posted", "object": "acted on", "infrastructure": "logged in from"}


def _sentence(r: dict[str, Any], params: dict[str, Any]) -> str:
    """The row as one sentence: who did what to which object, when, and how far apart."""
    a = at(r["handle_a"], r["account_a"])
    b = at(r["handle_b"], r["account_b"])
    kind = r["object_kind"]
    if kind in ("post", "latency"):
        default = DEFAULT_VERBS.get(r["behaviour"], "answered")
        va = KIND_VERBS.get(str(r["kind_a"]), default) if r["kind_a"] else default
        vb = KIND_VERBS.get(str(r["kind_b"]), default) if r["kind_b"] else default
        obj = _describe_post(r, params)
    else:
        va = vb = _OBJECT_VERBS.get(kind, "acted on")
        obj = r["object"]
    who = f"{a} and {b} both {va}" if va == vb else f"{a} {va} and {b} {vb}"
    times = f"at {when(r['time_a'])} and {when(r['time_b'])}"
    if kind == "infrastructure":
        gap = "" if r["gap_s"] is None else f", {format_gap(r['gap_s'])} between the two uses"
        return f"{who} {obj} ({times}{gap}; shared infrastructure counts at any time, no window)"
    delays = ""
    if r["delay_a_s"] is not None and r["delay_b_s"] is not None:
        delays = f"; {format_gap(r['delay_a_s'])} and {format_gap(r['delay_b_s'])} after the post"
    return f"{who} {obj}, {r['gap_text']} apart ({times}{delays})"


def _window(params: dict[str, Any]) -> str:
    return f"{float(params.get('window', 60.0)):g} s"


#: why a row counts for its behaviour, in words (a clause of the sentence)
WHY: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "rapid-fire": lambda r, p: f"rapid-fire: both within {float(p.get('rapid_seconds', 10.0)):g} s of the post",
    "early-amplify": lambda r, p: f"early-amplify: both within {format_gap(p.get('early_seconds', 600.0))} "
                                  "of the post",
    "co-latency": lambda r, p: f"co-latency: both in the {bucket_words(r['bucket'], p)} delay bucket",
    "co-retweet": lambda r, p: f"co-retweet: within the {_window(p)} window",
    "co-reply": lambda r, p: f"co-reply: within the {_window(p)} window",
    "co-quote": lambda r, p: f"co-quote: within the {_window(p)} window",
    "co-link": lambda r, p: f"co-link: within the {_window(p)} window",
    "co-text": lambda r, p: f"co-text: within the {_window(p)} window",
    "co-hashtag": lambda r, p: f"co-hashtag: within the {_window(p)} window",
    "co-mention": lambda r, p: f"co-mention: within the {_window(p)} window",
}


__all__ = ["DESCRIBERS", "OBJECT_KINDS", "WHY", "describe", "group_events"]

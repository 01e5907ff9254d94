"""Twitter API v1.1 statuses, one JSON object per line (twarc 1, tweepy dumps, the streaming API).

A v1.1 status carries everything inline: its author in ``user``, the retweeted and the quoted status whole
(each with its own ``user``), and, in extended mode, the full text in ``extended_tweet``. So one line gives a
primary post, up to two referenced posts and up to three account snapshots; the nested statuses are read by
the same function as the top-level one. Stream notices (``delete``, ``limit``, ...) are not statuses and
are skipped without being counted. A JSON array file (``[{...}, {...}]``, one element per line or all on one
line) is accepted too.

It shares the streaming, the worker pool and the staging of :mod:`echoscope.sources.jsonl`. The mapping is
documented in ``docs/sources-json.md``.
"""

from __future__ import annotations

import html
import re
from typing import Any

import orjson

from .base import IngestSink, SourceFile
from .jsonl import ChunkResult, iso, load_line, run_lines
from .twitter_sniff import classify_head

#: top-level keys of stream messages that are not statuses (skipped, not counted)
NOTICES = frozenset({"delete", "limit", "scrub_geo", "status_withheld", "user_withheld", "disconnect",
                     "warning", "event", "friends", "friends_str", "control", "for_user"})

#: what a file that is not v1.1 is, and what reads it instead
NOT_V1: dict[str, str] = {
    "twarc2": "Twitter API v2 output (twarc2), not v1.1; ingest it with --format twarc2",
    "users": "a twarc2 user page, not v1.1 statuses; read it with --format twarc2-users",
}

_MONTHS = {m: f"{i:02d}" for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)}
_TAGS = re.compile(r"<[^>]*>")


def read_twitter_v1(src: SourceFile, sink: IngestSink) -> None:
    """Read Twitter API v1.1 JSON lines (or a JSON array of statuses) into ``sink``.

    Top-level statuses are the primary records (``posts``, counted). ``retweeted_status`` and
    ``quoted_status`` become non-primary posts, and every ``user`` object a non-primary ``accounts`` snapshot
    observed at the top-level status's ``created_at``.

    Parameters
    ----------
    src : SourceFile
        The input (plain, gzip or zip member).
    sink : IngestSink
        Where batches and quarantined records go.

    Raises
    ------
    SourceError
        When the file is empty, not JSON, or twarc2 (v2) output.
    """
    run_lines(src, sink, parse_v1_chunk, "twitter-v1", NOT_V1)


def sniff(head: bytes, name: str) -> float:
    """How sure we are that ``head`` starts a v1.1 status file (0..1)."""
    return {"v1": 0.95, "v1-notice": 0.6}.get(classify_head(head) or "", 0.0)


def v1_time(value: Any) -> str:
    """``Wed Jan 07 04:38:02 +0000 2009`` (or ISO 8601) -> an ISO string; ValueError/TypeError otherwise."""
    p = value.split(" ")
    if len(p) == 6:
        mon = _MONTHS.get(p[1])
        off = p[4]
        if mon is None or len(off) != 5 or len(p[2]) > 2:
            raise ValueError(value)
        zone = "Z" if off == "+0000" else f"{off[:3]}:{off[3:]}"
        return iso(f"{p[5]}-{mon}-{p[2]:0>2}T{p[3]}{zone}")
    return iso(value)


def client_name(source: Any) -> str | None:
    """The client name of a v1.1 ``source`` (an HTML anchor such as ``<a href=..>Twitter for iPhone</a>``)."""
    if not isinstance(source, str):
        return None
    if "<" in source:
        source = _TAGS.sub("", source)
    return html.unescape(source).strip() or None


def parse_v1_chunk(lines: list[tuple[int, bytes]], last_lineno: int | None) -> ChunkResult:
    """Parse whole lines of v1.1 statuses into row tuples (runs in a worker for big files)."""
    out = ChunkResult(NOT_V1)
    for lineno, ln in lines:
        obj = _load(ln, lineno, last_lineno, out)
        if obj is None:
            continue
        for st in obj if type(obj) is list else (obj,):
            if type(st) is not dict:
                out.bad(lineno, None, "record is not a JSON object; expected a v1.1 status", st)
                continue
            _record(st, ln, lineno, out)
    return out


def _load(ln: bytes, lineno: int, last_lineno: int | None, out: ChunkResult) -> Any:
    """Parse a line; lines of a JSON array written one element per line (``[``, ``{..},``, ``]``) are
    unwrapped."""
    try:
        return orjson.loads(ln)
    except orjson.JSONDecodeError:
        pass
    s = ln.strip()
    if s.startswith(b"["):
        s = s[1:].lstrip()
    if s.endswith(b"]") and not s.endswith(b"}]"):
        s = s[:-1].rstrip()
    elif s.endswith(b"}]"):
        s = s[:-1]
    if s.endswith(b","):
        s = s[:-1]
    if not s:
        return None
    if s != ln:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            pass
    return load_line(ln, lineno, last_lineno, out)  # quarantines with the reason


def _record(st: dict[str, Any], ln: bytes, lineno: int, out: ChunkResult) -> None:
    if "id_str" not in st and "id" not in st:
        if NOTICES.intersection(st):
            out.seen(lineno)  # a stream notice: a v1.1 file, but nothing to count
            return
        if "data" in st or "author_id" in st:
            out.other_kind("twarc2", lineno, ln)
            return
        out.bad(lineno, "id_str", "not a v1.1 status (no id_str or id) nor a stream notice "
                f"(top-level keys: {', '.join(list(st)[:8])})", st)
        return
    if "author_id" in st and "user" not in st:
        out.other_kind("twarc2", lineno, ln)
        return
    if "username" in st and "user" not in st:
        out.other_kind("users", lineno, ln)
        return
    try:
        observed = v1_time(st.get("created_at"))
    except (ValueError, TypeError, AttributeError):
        observed = None
    try:
        row = status_row(st, lineno, out, True, observed)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        out.bad(lineno, None, f"malformed v1.1 status ({type(exc).__name__}: {exc})", st)
        return
    if row is not None:
        out.seen(lineno)
        out.posts.append(row)


def _id(obj: dict[str, Any]) -> str | None:
    v = obj.get("id_str") or obj.get("id")
    return None if v is None or v == "" else str(v)


def status_row(st: dict[str, Any], lineno: int, out: ChunkResult, primary: bool,
               observed: str | None) -> tuple[Any, ...] | None:
    """One v1.1 status as a posts row tuple (``POST_SPEC`` order); nested statuses and users are added to
    ``out`` as non-primary rows. Returns None when the status was quarantined."""
    tid = _id(st)
    user = st.get("user")
    aid = _id(user) if type(user) is dict else None
    if tid is None or aid is None or not st.get("created_at"):
        missing = "id_str" if tid is None else "user.id_str" if aid is None else "created_at"
        out.bad(lineno, missing, f"status {tid or '?'} has no '{missing}'; every status needs id_str, user and "
                "created_at", st, primary=primary)
        return None
    try:
        created = v1_time(st["created_at"])
    except (ValueError, TypeError, AttributeError):
        out.bad(lineno, "created_at", f"status {tid}: created_at {st['created_at']!r} is not a Twitter date "
                "(expected e.g. 'Wed Jan 07 04:38:02 +0000 2009')", st, primary=primary)
        return None
    if type(user) is dict:
        _account(user, observed, out)
    kind = "original"
    ref_id = ref_acc = None
    rs = st.get("retweeted_status")
    qs = st.get("quoted_status")
    if type(qs) is dict:
        # the quoted status (of this status, or of the status it retweets) is a post in its own right
        _nested(qs, lineno, out, observed)
    if type(rs) is dict:
        kind = "repost"
        ref_id = _id(rs)
        ru = rs.get("user")
        ref_acc = _id(ru) if type(ru) is dict else None
        _nested(rs, lineno, out, observed)
    elif type(qs) is dict or st.get("quoted_status_id_str") or st.get("quoted_status_id"):
        kind = "quote"
        if type(qs) is dict:
            ref_id = _id(qs)
            qu = qs.get("user")
            ref_acc = _id(qu) if type(qu) is dict else None
        else:
            ref_id = str(st.get("quoted_status_id_str") or st.get("quoted_status_id"))
    elif st.get("in_reply_to_status_id_str") or st.get("in_reply_to_status_id"):
        kind = "reply"
        ref_id = str(st.get("in_reply_to_status_id_str") or st.get("in_reply_to_status_id"))
        rp = st.get("in_reply_to_user_id_str") or st.get("in_reply_to_user_id")
        ref_acc = None if rp is None else str(rp)
    ext = st.get("extended_tweet")
    if type(ext) is not dict:
        ext = {}
    text = ext.get("full_text") or st.get("full_text") or st.get("text")
    ent = ext.get("entities") or st.get("entities") or {}
    urls = [u.get("expanded_url") or u.get("url") for u in ent.get("urls") or ()]
    tags = [h.get("text") for h in ent.get("hashtags") or ()]
    ments = [m.get("screen_name") for m in ent.get("user_mentions") or ()]
    xent = ext.get("extended_entities") or st.get("extended_entities") or ent
    return (tid, aid, created, kind, ref_id, ref_acc, text, st.get("lang"), client_name(st.get("source")),
            urls, tags, ments, st.get("favorite_count"), st.get("retweet_count"), st.get("reply_count"),
            st.get("quote_count"), media_keys_v1(xent.get("media") if type(xent) is dict else None))


#: v1.1 media types -> the type number of an API v2 media key (``3_<id>`` a photo, ``7_`` a video, ``16_`` a GIF)
MEDIA_KEY_TYPES: dict[str, str] = {"photo": "3", "video": "7", "animated_gif": "16"}


def media_keys_v1(media: Any) -> list[str] | None:
    """The media of a v1.1 status as API v2 media keys (``3_1234...``), so that v1.1 and v2 collections of the
    same tweets give the same ``media_hashes``. A key names one upload (reused when a tweet embeds another
    tweet's photo or an uploader shares the upload), not the image content; None without media."""
    if type(media) is not list:
        return None
    keys = []
    for m in media:
        if type(m) is not dict:
            continue
        mid = m.get("id_str") or m.get("id")
        if mid is not None and mid != "":
            keys.append(f"{MEDIA_KEY_TYPES.get(str(m.get('type')), '3')}_{mid}")
    return keys or None


def _nested(st: dict[str, Any], lineno: int, out: ChunkResult, observed: str | None) -> None:
    tid = _id(st)
    if tid is None or tid in out.refs:
        return
    try:
        row = status_row(st, lineno, out, False, observed)
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        out.bad(lineno, None, f"malformed nested status ({type(exc).__name__}: {exc})", st, primary=False)
        return
    if row is not None:
        out.refs[tid] = row


def _account(u: dict[str, Any], observed: str | None, out: ChunkResult) -> None:
    uid = _id(u)
    if uid is None:
        return
    try:
        created = v1_time(u.get("created_at")) if u.get("created_at") else None
    except (ValueError, TypeError, AttributeError):
        created = None
    img = u.get("profile_image_url_https") or u.get("profile_image_url")
    default = u.get("default_profile_image")
    if default is None and isinstance(img, str):
        default = "default_profile_images" in img
    out.accounts[(uid, observed)] = (
        uid, u.get("screen_name"), u.get("name"), u.get("description"), u.get("location"), created,
        u.get("followers_count"), u.get("friends_count"), u.get("statuses_count"), u.get("verified"), img,
        default, u.get("lang"), observed, u.get("time_zone") if isinstance(u.get("time_zone"), str) else None)

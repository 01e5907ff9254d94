"""Account status from twarc2 user lookups (``twarc2 users``), the ``twarc2-users`` format.

"Later suspended" is the most asked question of an amplification study, and the only honest answer is a
lookup made after the fact: every account the lookup returns is active (or protected), and every lookup
error names an account that is suspended or gone. This reader turns both into ``account_status`` rows (its
primary records, counted) stamped with the time of the lookup, and stores the returned user objects as
``accounts`` snapshots (not counted).

It shares the streaming, the worker pool and the staging of :mod:`echoscope.sources.jsonl`; lookup files
are small, so the per-row code favours clarity over speed. The mapping is documented in
``docs/sources-json.md``.
"""

from __future__ import annotations

from typing import Any

from .base import IngestSink, SourceFile
from .jsonl import ChunkResult, iso_or_none, load_line, run_lines
from .twarc2 import user_row
from .twitter_sniff import classify_head

#: what a file that is not a user lookup is, and what reads it instead
NOT_USERS: dict[str, str] = {
    "tweets": "a twarc2 tweet file, not a user lookup; ingest it with --format twarc2",
    "counts": "twarc2 tweet counts ('twarc2 counts'), not a user lookup; echoscope has no reader for counts",
    "lists": "a twarc2 list page ('twarc2 lists ...'), not a user lookup; echoscope does not read lists",
    "compliance": "twarc2 compliance events ('twarc2 compliance-job download'), not a user lookup; look the "
                  "accounts up with 'twarc2 users --ids' and read that file with --format twarc2-users",
    "v1": "Twitter API v1.1 JSON, not a twarc2 user lookup; ingest it with --format twitter-v1",
}

#: lookup-error parameters whose resource_id is an account id (username lookups only name a handle)
ID_PARAMETERS = frozenset({"ids", "id", "user_id", "author_id", "in_reply_to_user_id"})


def read_twarc2_users(src: SourceFile, sink: IngestSink) -> None:
    """Read twarc2 user-lookup output into ``account_status`` (primary) and ``accounts`` (not counted).

    Parameters
    ----------
    src : SourceFile
        Pages of ``twarc2 users`` output (``data`` = users, ``errors`` = lookup errors) or flattened user lines.
    sink : IngestSink
        Where batches and quarantined records go.

    Raises
    ------
    SourceError
        When the file is empty, not JSON, or another kind of output (tweets, counts, lists, compliance).

    Notes
    -----
    Each returned user gives status ``active`` (``protected`` when ``protected`` is true); each lookup error
    about a user gives ``suspended`` (detail or title says so), ``deleted`` (resource-not-found) or
    ``unknown`` (any other error, e.g. not authorised). ``checked_at`` is the page's
    ``__twarc.retrieved_at``, or null when the file does not carry it.
    """
    run_lines(src, sink, parse_users_chunk, "twarc2-users", NOT_USERS)


def sniff(head: bytes, name: str) -> float:
    """How sure we are that ``head`` starts a twarc2 user-lookup file (0..1)."""
    return {"twarc2-users": 0.95}.get(classify_head(head) or "", 0.0)


def error_status(err: dict[str, Any]) -> str:
    """The account status a v2 lookup error stands for: suspended, deleted or unknown."""
    text = f"{err.get('detail') or ''} {err.get('title') or ''}".lower()
    if "suspended" in text:
        return "suspended"
    kind = str(err.get("type") or "")
    if kind.endswith("resource-not-found") or "not found" in text or "could not find" in text:
        return "deleted"
    return "unknown"


def parse_users_chunk(lines: list[tuple[int, bytes]], last_lineno: int | None) -> ChunkResult:
    """Parse whole lines of a user lookup into status and account rows (runs in a worker for big files)."""
    out = ChunkResult(NOT_USERS)
    for lineno, ln in lines:
        obj = load_line(ln, lineno, last_lineno, out)
        if obj is None:
            continue
        if type(obj) is not dict:
            out.bad(lineno, None, "line is JSON but not an object; expected a twarc2 user page or user", ln)
            continue
        try:
            _line(obj, ln, lineno, out)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            out.bad(lineno, None, f"malformed user lookup record ({type(exc).__name__}: {exc})", ln)
    return out


def _line(obj: dict[str, Any], ln: bytes, lineno: int, out: ChunkResult) -> None:
    tw = obj.get("__twarc")
    checked = iso_or_none(tw.get("retrieved_at")) if type(tw) is dict else None
    data = obj.get("data")
    errors = obj.get("errors")
    if data is None and errors is None:
        if "username" in obj and "id" in obj and "text" not in obj:
            _user(obj, checked, lineno, out)  # a flattened user line
            return
        other = _other_kind(obj)
        if other:
            out.other_kind(other, lineno, ln)
            return
        if "meta" in obj:
            return  # an empty result page
        out.bad(lineno, None, "not a twarc2 user page or user object "
                f"(top-level keys: {', '.join(list(obj)[:8])})", ln)
        return
    items = data if type(data) is list else [data] if type(data) is dict else []
    if items and type(items[0]) is dict and "username" not in items[0] and (
            "text" in items[0] or "author_id" in items[0] or "tweet_count" in items[0] or "owner_id" in items[0]):
        first = items[0]
        out.other_kind("tweets" if "text" in first or "author_id" in first
                       else "counts" if "tweet_count" in first else "lists", lineno, ln)
        return
    for u in items:
        if type(u) is not dict:
            out.bad(lineno, None, "user in 'data' is not an object", u)
            continue
        _user(u, checked, lineno, out)
    if type(errors) is list:
        for err in errors:
            if type(err) is dict and err.get("resource_type") == "user":
                _error(err, checked, lineno, out)
    # errors about other resources (e.g. a pinned tweet that is gone) say nothing about the account: ignored


def _user(u: dict[str, Any], checked: str | None, lineno: int, out: ChunkResult) -> None:
    uid = u.get("id")
    if not uid or type(uid) not in (str, int):
        out.bad(lineno, "id", "user has no 'id'; a status row needs the account id (request user.fields=id)", u)
        return
    uid = str(uid)
    out.seen(lineno)
    out.status.append((uid, "protected" if u.get("protected") is True else "active", checked))
    row = user_row(u, checked)
    if row is not None:
        out.accounts[(uid, checked)] = row


def _error(err: dict[str, Any], checked: str | None, lineno: int, out: ChunkResult) -> None:
    rid = err.get("resource_id") or err.get("value")
    param = str(err.get("parameter") or "ids")
    if not rid:
        out.bad(lineno, "resource_id", "lookup error names no account (no resource_id or value)", err)
        return
    if param not in ID_PARAMETERS and not str(rid).isdigit():
        out.bad(lineno, "parameter", f"lookup error about @{rid} names a handle ('{param}'), not an account id; "
                "status rows need ids: look the accounts up with 'twarc2 users' on ids", err)
        return
    out.seen(lineno)
    out.status.append((str(rid), error_status(err), checked))


def _other_kind(obj: dict[str, Any]) -> str | None:
    if "action" in obj and "id" in obj:
        return "compliance"
    if "author_id" in obj or "text" in obj:
        return "tweets"
    if "id_str" in obj or "delete" in obj:
        return "v1"
    return None

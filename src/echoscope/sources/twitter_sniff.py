"""What a Twitter JSON file is, from its first bytes: the sniffing the twarc2, v1.1 and user-lookup readers share.

Why separate: detection sees only the first 64 KiB of a file, and a twarc2 page is often longer than that, so
the first record may be cut; :func:`first_object` recovers its top-level keys and the first item of ``data``
by matching brackets, and :func:`classify_head` names the kind of record (tweets, users, counts, lists,
compliance events, v1.1 statuses) so that each reader can claim its files and explain the others.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]')


def first_line(head: bytes) -> bytes:
    """The first line of ``head`` with content (a lone ``[`` opening a JSON array is skipped)."""
    for ln in head.split(b"\n"):
        ln = ln.strip()
        if ln and ln != b"[":
            return ln
    return b""


def first_object(head: bytes) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The first JSON object of ``head`` and the first item of its ``data`` list, as far as they parse.

    A twarc2 page is often longer than the 64 KiB head, so when the first line does not parse whole, the
    first element of ``data`` is cut out by matching brackets (strings skipped) and parsed alone; the
    top-level object is then returned with only the keys seen before the cut.
    """
    ln = first_line(head)
    if ln.startswith(b"["):
        ln = ln[1:].lstrip()
    if not ln.startswith(b"{"):
        return None, None
    try:
        obj = orjson.loads(ln.rstrip(b","))
    except orjson.JSONDecodeError:
        obj = None
    if type(obj) is dict:
        data = obj.get("data")
        if type(data) is list:
            return obj, data[0] if data and type(data[0]) is dict else None
        if type(data) is dict:
            return obj, data
        return obj, None
    # partial: collect top-level keys and cut out data[0]
    keys: dict[str, Any] = {}
    depth = 0
    data_start = -1
    item: dict[str, Any] | None = None
    item_start: int | None = None
    last_key = None
    for m in _TOKEN.finditer(ln):
        tok = m.group()
        c = tok[:1]
        if c == b'"':
            if depth == 1:
                # at depth 1 a string followed by ':' is a key
                rest = ln[m.end():m.end() + 4].lstrip()
                if rest.startswith(b":"):
                    last_key = tok[1:-1].decode("utf-8", "replace")
                    keys[last_key] = True
            continue
        if c in (b"{", b"["):
            depth += 1
            if depth == 2 and last_key == "data" and data_start < 0:
                data_start = m.start()
                if c == b"{":  # data is a single tweet object
                    item_start = m.start()
            elif depth == 3 and data_start >= 0 and item_start is None and c == b"{":
                item_start = m.start()
        else:
            depth -= 1
            if item_start is not None and item is None and (
                    (depth == 2 and ln[data_start:data_start + 1] == b"[")
                    or (depth == 1 and ln[data_start:data_start + 1] == b"{")):
                try:
                    got = orjson.loads(ln[item_start:m.end()])
                    item = got if type(got) is dict else None
                except orjson.JSONDecodeError:
                    item = None
                break
    return keys, item


def classify_head(head: bytes) -> str | None:
    """Name what the first record of ``head`` is: twarc2, twarc2-flat, twarc2-users, counts, lists,
    compliance, v1, v1-notice or None."""
    obj, item = first_object(head)
    if obj is None:
        return None
    if "data" in obj or "includes" in obj:
        if item is not None:
            if "text" in item or "author_id" in item:
                return "twarc2"
            if "username" in item:
                return "twarc2-users"
            if "tweet_count" in item:
                return "counts"
            if "owner_id" in item or "member_count" in item:
                return "lists"
            return None
        if "__twarc" in obj or "meta" in obj:
            return "twarc2"
        return None
    errors = obj.get("errors")
    if type(errors) is list and errors and type(errors[0]) is dict:
        # a lookup page in which every account failed
        return "twarc2-users" if errors[0].get("resource_type") == "user" else None
    if "id_str" in obj and ("user" in obj or "retweeted_status" in obj or "text" in obj or "full_text" in obj):
        return "v1"
    if len(obj) <= 2 and any(k in obj for k in ("delete", "limit", "scrub_geo", "status_withheld",
                                                   "user_withheld", "disconnect", "warning")):
        return "v1-notice"
    if "author_id" in obj and "id" in obj:
        return "twarc2-flat"
    if "username" in obj and "id" in obj and "text" not in obj:
        return "twarc2-users"
    if "action" in obj and "id" in obj:
        return "compliance"
    return None


__all__ = ["classify_head", "first_line", "first_object"]

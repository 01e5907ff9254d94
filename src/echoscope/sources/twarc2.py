"""Twitter API v2 JSONL as written by twarc2.

Shaped for speed, because twarc2 collections run to hundreds of gigabytes: each line is decoded once with msgspec
into typed structs that declare only the fields echoscope maps (the rest of a page -- context annotations, the
media details of includes.media, edit history -- is skipped without building Python objects), each tweet becomes
one flat tuple, and the shared JSON-lines machinery (:mod:`.jsonl`: blocks of whole lines, worker processes, Arrow
conversion, staging) does everything else. Values of unexpected types never crash a page: the line is converted
piece by piece so that only the tweet holding the bad value is lost, with the reason.

Three line shapes are accepted and may be mixed in one file:

* a response page: ``{"data": [tweets], "includes": {"users", "tweets", ...}, "errors", "meta", "__twarc"}``;
* a stream response: ``{"data": {tweet}, "includes": ..., "matching_rules": [...], "__twarc"}``;
* a flattened tweet (``twarc2 flatten``): the tweet itself with ``author`` and full ``referenced_tweets``.

:func:`user_row` is shared with the user-lookup reader (:mod:`.status`). The field mapping is documented in
``docs/sources-json.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
import orjson
from msgspec import Struct

from .base import IngestSink, SourceFile
from .jsonl import ChunkResult, iso, iso_or_none, load_line, run_lines
from .twitter_sniff import classify_head

#: what a non-tweet twarc2 file is, recognised from its first record, and what reads it instead
NOT_TWEETS: dict[str, str] = {
    "users": "a twarc2 user page (from 'twarc2 users', 'followers', 'following', ...), not tweets; read it "
             "with 'echoscope status STUDY FILE --format twarc2-users' (account status) or "
             "ingest --format twarc2-users",
    "counts": "twarc2 tweet counts ('twarc2 counts'): numbers of tweets per time bucket, not tweets; "
              "echoscope has no reader for counts, ingest the tweets themselves ('twarc2 search')",
    "lists": "a twarc2 list page ('twarc2 lists ...'): Twitter lists, not tweets; echoscope does not read lists",
    "compliance": "twarc2 compliance events ('twarc2 compliance-job download'): delete/protect notices, not "
                  "tweets; echoscope does not read them (account status comes from 'twarc2 users' lookups, "
                  "--format twarc2-users)",
    "v1": "Twitter API v1.1 JSON (statuses with id_str/user), not twarc2; use --format twitter-v1",
}


# ============================================================================================ the reader
def read_twarc2(src: SourceFile, sink: IngestSink) -> None:
    """Read a twarc2 JSONL file (pages, stream responses or flattened tweets) into ``sink``.

    Tweets of ``data`` are the file's primary records (``posts``, counted); referenced tweets found in
    ``includes.tweets`` or embedded in flattened ``referenced_tweets`` are stored as non-primary posts; authors
    and other users in ``includes.users`` (or embedded ``author``) become non-primary ``accounts`` observed at
    ``__twarc.retrieved_at``. Bad lines and tweets missing ``id``, ``author_id`` or a valid ``created_at`` are
    quarantined; the run goes on.

    Parameters
    ----------
    src : SourceFile
        The input (plain, gzip or zip member; decompressed by ``src.open()``).
    sink : IngestSink
        Where batches and quarantined records go.

    Raises
    ------
    SourceError
        When the file is empty, is not JSON at all, or is another kind of twarc2 output (users, counts,
        lists, compliance events), with the format or command that reads it.
    """
    run_lines(src, sink, parse_twarc2_chunk, "twarc2", NOT_TWEETS)


def sniff(head: bytes, name: str) -> float:
    """How sure we are that ``head`` (the first decompressed bytes) starts a twarc2 tweet file (0..1).

    Non-tweet twarc2 output (counts, lists, compliance events) gets a low but positive score so that, when
    nothing else claims it, the twarc2 reader explains what the file is; user pages are left to
    ``twarc2-users``.
    """
    kind = classify_head(head)
    return {"twarc2": 0.95, "twarc2-flat": 0.9, "counts": 0.2, "lists": 0.2, "compliance": 0.2,
            "twarc2-users": 0.1}.get(kind or "", 0.0)


# ============================================================================================ typed decoding
# Only the fields echoscope maps are declared; msgspec skips the rest (context annotations, includes.media, ...)
# without building Python objects for them, which is most of a twarc2 page. Ids are declared str | int
# because some tools write numeric ids; they are normalised to str below.
Id = str | int | None


class _Url(Struct):
    url: str | None = None
    expanded_url: str | None = None
    unwound_url: str | None = None


class _Tag(Struct):
    tag: str | None = None


class _UserMetrics(Struct):
    followers_count: int | None = None
    following_count: int | None = None
    tweet_count: int | None = None


class _User(Struct):
    id: Id = None
    username: str | None = None
    name: str | None = None
    description: str | None = None
    location: str | None = None
    created_at: str | None = None
    public_metrics: _UserMetrics | None = None
    verified: bool | None = None
    profile_image_url: str | None = None


class _Mention(_User):
    start: int | None = None


class _Entities(Struct):
    urls: list[_Url] | None = None
    hashtags: list[_Tag] | None = None
    mentions: list[_Mention] | None = None


class _Attachments(Struct):
    # media keys (``3_<id>`` photo, ``7_`` video, ``16_`` GIF): one upload each, not the image content
    media_keys: list[str | int | None] | None = None


class _TweetMetrics(Struct):
    like_count: int | None = None
    retweet_count: int | None = None
    reply_count: int | None = None
    quote_count: int | None = None


class _Tweet(Struct):
    id: Id = None
    author_id: Id = None
    created_at: str | None = None
    text: str | None = None
    lang: str | None = None
    source: str | None = None
    in_reply_to_user_id: Id = None
    referenced_tweets: list[_Tweet] | None = None
    entities: _Entities | None = None
    public_metrics: _TweetMetrics | None = None
    attachments: _Attachments | None = None
    type: str | None = None  # only in referenced_tweets entries
    author: _User | None = None  # flattened files
    in_reply_to_user: _User | None = None  # flattened files
    # keys that give away a data item that is not a tweet
    username: str | None = None
    tweet_count: int | None = None
    owner_id: Id = None


class _Includes(Struct):
    users: list[_User] | None = None
    tweets: list[_Tweet] | None = None


class _Twarc(Struct):
    retrieved_at: str | None = None


class _Line(_Tweet):
    """A page, a stream response or a flattened tweet: their keys do not collide."""

    data: list[_Tweet] | _Tweet | None = None
    includes: _Includes | None = None
    twarc: _Twarc | None = msgspec.field(name="__twarc", default=None)
    # presence flags, kept as unparsed bytes (empty when the key is absent)
    errors: msgspec.Raw = msgspec.Raw()
    meta: msgspec.Raw = msgspec.Raw()
    action: msgspec.Raw = msgspec.Raw()  # compliance event
    id_str: msgspec.Raw = msgspec.Raw()  # v1.1 status
    delete: msgspec.Raw = msgspec.Raw()  # v1.1 stream notice


_FLAGS = ("errors", "meta", "action", "id_str", "delete")
_PRESENT = msgspec.Raw(b"1")


_DECODER = msgspec.json.Decoder(_Line)


# ============================================================================================ one chunk
def parse_twarc2_chunk(lines: list[tuple[int, bytes]], last_lineno: int | None) -> ChunkResult:
    """Parse whole lines into row tuples (runs in a worker process for large files)."""
    out = ChunkResult(NOT_TWEETS)
    decode = _DECODER.decode
    for lineno, ln in lines:
        try:
            obj = decode(ln)
        except msgspec.ValidationError:
            _fallback(ln, lineno, out)
            continue
        except (msgspec.DecodeError, ValueError, RecursionError):  # ValueError: invalid UTF-8
            load_line(ln, lineno, last_lineno, out)  # quarantines with the reason (UTF-8, truncated, ...)
            continue
        _line(obj, ln, lineno, out)
    return out


def _line(obj: _Line, ln: Any, lineno: int, out: ChunkResult) -> None:
    data = obj.data
    if data is not None:
        if type(data) is list:
            other = _other_kind_of_item(data[0]) if data else None
            if other:
                out.other_kind(other, lineno, ln)
                return
            _page(obj, data, lineno, out)
        else:
            _page(obj, (data,), lineno, out)
        return
    if obj.author_id is not None or obj.text is not None:
        _flat(obj, lineno, out)
        return
    other = _other_kind_of_object(obj)
    if other:
        out.other_kind(other, lineno, ln)
        return
    if obj.errors or obj.meta:
        # a page whose every tweet failed, or an empty result page: nothing to read, nothing lost
        return
    out.bad(lineno, None, "not a twarc2 page, stream response or flattened tweet", ln)


def _fallback(ln: bytes, lineno: int, out: ChunkResult) -> None:
    """A line whose JSON is fine but some value has an unexpected type: convert it piece by piece, so that
    only the tweet (or user) holding the bad value is lost, and the quarantine says which value it was."""
    try:
        raw = orjson.loads(ln)
    except orjson.JSONDecodeError:
        load_line(ln, lineno, None, out)
        return
    if type(raw) is not dict:
        out.bad(lineno, None, "line is JSON but not an object; expected a twarc2 page or tweet", ln)
        return
    data = raw.get("data")
    items = data if type(data) is list else [data] if type(data) is dict else None
    if items is not None:
        page = _Line(twarc=_convert(raw.get("__twarc"), _Twarc, lineno, out, False))
        good: list[_Tweet] = []
        for it in items:
            t = _convert(it, _Tweet, lineno, out, True)
            if t is not None:
                good.append(t)
        inc = raw.get("includes")
        if type(inc) is dict:
            page.includes = _Includes(
                users=[u for u in (_convert(x, _User, lineno, out, False) for x in inc.get("users") or ())
                       if u is not None],
                tweets=[t for t in (_convert(x, _Tweet, lineno, out, False) for x in inc.get("tweets") or ())
                        if t is not None])
        page.data = good
        if good and _other_kind_of_item(good[0]):
            out.other_kind(_other_kind_of_item(good[0]) or "", lineno, ln)
            return
        _page(page, good, lineno, out)
        return
    flags = {k: _PRESENT for k in _FLAGS if k in raw}
    obj = _convert({k: v for k, v in raw.items() if k not in flags}, _Line, lineno, out, True)
    if obj is not None:
        for k, v in flags.items():
            setattr(obj, k, v)
        _line(obj, ln, lineno, out)


def _convert(value: Any, typ: Any, lineno: int, out: ChunkResult, primary: bool) -> Any:
    if value is None:
        return None
    try:
        return msgspec.convert(value, typ, strict=False)
    except msgspec.ValidationError as exc:
        what = "tweet" if typ in (_Tweet, _Line) else "user" if typ is _User else "value"
        out.bad(lineno, None, f"{what} has a value of an unexpected type ({exc}); it was left out", value,
                primary=primary)
        return None


def _observed(obj: _Line) -> str | None:
    tw = obj.twarc
    return iso_or_none(tw.retrieved_at) if tw is not None else None


def _page(obj: _Line, data: Iterable[Any], lineno: int, out: ChunkResult) -> None:
    observed = _observed(obj)
    inc = obj.includes
    itweets: list[_Tweet] = []
    users: list[_User] = []
    if inc is not None:
        itweets = inc.tweets or []
        users = inc.users or []
    authors = {t.id: t.author_id for t in itweets}
    handles = {u.username: u.id for u in users}
    out.seen(lineno)
    posts = out.posts
    for t in data:
        row = tweet_row(t, authors, lineno, out, True, handles)
        if row is not None:
            posts.append(row)
    refs = out.refs
    for t in itweets:
        if t.id not in refs:
            row = tweet_row(t, authors, lineno, out, False)
            if row is not None:
                refs[t.id] = row
    accounts = out.accounts
    for u in users:
        row = user_row_s(u, observed)
        if row is not None:
            accounts[(row[0], observed)] = row


def _flat(t: _Line, lineno: int, out: ChunkResult) -> None:
    observed = _observed(t)
    out.seen(lineno)
    authors: dict[Any, Any] = {}
    embedded: list[_Tweet] = []
    for r in t.referenced_tweets or ():
        if r.author_id is not None:
            authors[r.id] = r.author_id
            embedded.append(r)
    row = tweet_row(t, authors, lineno, out, True)
    if row is not None:
        out.posts.append(row)
    users: list[_User | None] = [t.author, t.in_reply_to_user]
    for r in embedded:
        if r.id not in out.refs:
            rrow = tweet_row(r, {}, lineno, out, False)
            if rrow is not None:
                out.refs[r.id] = rrow
        users.append(r.author)
    if t.entities is not None and t.entities.mentions:
        # flatten enriches mentions with the full user object (as includes.users holds them in pages)
        users.extend(m for m in t.entities.mentions if m.created_at is not None)
    accounts = out.accounts
    for u in users:
        if u is not None:
            urow = user_row_s(u, observed)
            if urow is not None:
                accounts[(urow[0], observed)] = urow


def tweet_row(t: _Tweet, authors: dict[Any, Any], lineno: int, out: ChunkResult,
              primary: bool, handles: dict[Any, Any] | None = None) -> tuple[Any, ...] | None:
    """One v2 tweet as a posts row tuple (``POST_SPEC`` order), or None when it was quarantined.

    ``authors`` maps referenced tweet ids to their authors; ``handles`` maps the page's usernames to ids
    (used when a retweeted tweet is missing from the page and only "RT @handle:" names its author).
    """
    tid = t.id
    aid = t.author_id
    created = t.created_at
    if tid is None or aid is None or not created:
        missing = "id" if tid is None else "author_id" if aid is None else "created_at"
        out.bad(lineno, missing, f"tweet {tid or '?'} has no '{missing}'; every tweet needs id, author_id and "
                "created_at (request them with tweet.fields / expansions=author_id)", _raw(t), primary=primary)
        return None
    if type(tid) is not str:
        tid = str(tid)
    if type(aid) is not str:
        aid = str(aid)
    try:
        created = iso(created)
    except ValueError:
        out.bad(lineno, "created_at", f"tweet {tid}: created_at {created!r} is not an ISO 8601 date "
                "(expected e.g. 2021-09-22T16:38:35.000Z)", _raw(t), primary=primary)
        return None
    kind = "original"
    ref_id = ref_acc = None
    refs = t.referenced_tweets
    if refs:
        chosen = None
        for r in refs:
            rt = r.type
            if rt == "retweeted":
                chosen, kind = r, "repost"
                break
            if rt == "quoted":
                chosen, kind = r, "quote"
            elif rt == "replied_to" and kind != "quote":
                chosen, kind = r, "reply"
        if chosen is not None:
            ref_id = chosen.id
            if ref_id is not None and type(ref_id) is not str:
                ref_id = str(ref_id)
            ref_acc = authors.get(ref_id) or chosen.author_id
    ent = t.entities
    urls: list[Any] = []
    tags: list[Any] = []
    ments: list[Any] = []
    if ent is not None:
        if ent.urls:
            urls = [u.expanded_url or u.unwound_url or u.url for u in ent.urls]
        if ent.hashtags:
            tags = [h.tag for h in ent.hashtags]
        ms = ent.mentions
        if ms:
            ments = [m.username for m in ms]
            if ref_acc is None and kind == "repost" and ms[0].start == 3 and (t.text or "").startswith("RT @"):
                # the retweeted tweet was deleted or withheld: "RT @x:" names its author as the first mention
                ref_acc = ms[0].id
                if ref_acc is None and handles:
                    ref_acc = handles.get(ms[0].username)
    if ref_acc is None and kind == "reply":
        ref_acc = t.in_reply_to_user_id
    if ref_acc is not None and type(ref_acc) is not str:
        ref_acc = str(ref_acc)
    media = None
    att = t.attachments
    if att is not None and att.media_keys:
        media = [k if type(k) is str else str(k) for k in att.media_keys if k is not None and k != ""] or None
    pm = t.public_metrics
    if pm is not None:
        return (tid, aid, created, kind, ref_id, ref_acc, t.text, t.lang, t.source, urls, tags, ments,
                pm.like_count, pm.retweet_count, pm.reply_count, pm.quote_count, media)
    return (tid, aid, created, kind, ref_id, ref_acc, t.text, t.lang, t.source, urls, tags, ments,
            None, None, None, None, media)


def user_row_s(u: _User, observed: str | None) -> tuple[Any, ...] | None:
    """One v2 user (decoded) as an accounts row tuple (``ACCOUNT_SPEC`` order); None without an id."""
    uid = u.id
    if uid is None:
        return None
    if type(uid) is not str:
        uid = str(uid)
    pm = u.public_metrics
    img = u.profile_image_url
    created = u.created_at
    if created is not None:
        created = iso_or_none(created)
    default_img = None if img is None else "default_profile_images" in img
    if pm is not None:
        return (uid, u.username, u.name, u.description, u.location, created, pm.followers_count,
                pm.following_count, pm.tweet_count, u.verified, img, default_img, None, observed, None)
    return (uid, u.username, u.name, u.description, u.location, created, None, None, None, u.verified, img,
            default_img, None, observed, None)


def user_row(u: dict[str, Any], observed: str | None) -> tuple[Any, ...] | None:
    """One v2 user given as a dict (see :func:`user_row_s`); used by the user-lookup reader."""
    try:
        obj = msgspec.convert(u, _User, strict=False)
    except msgspec.ValidationError:
        return None
    return user_row_s(obj, observed)


def _raw(t: Any) -> str:
    try:
        return msgspec.json.encode(t).decode()
    except (TypeError, msgspec.EncodeError):  # pragma: no cover - decoded structs always encode
        return repr(t)


def _other_kind_of_item(first: _Tweet) -> str | None:
    """What a page whose ``data`` items are not tweets holds (None for tweets)."""
    if first.text is not None or first.author_id is not None:
        return None
    if first.username is not None:
        return "users"
    if first.tweet_count is not None:
        return "counts"
    if first.owner_id is not None:
        return "lists"
    return None


def _other_kind_of_object(obj: _Line) -> str | None:
    if obj.action and obj.id is not None:
        return "compliance"
    if obj.username is not None and obj.id is not None:
        return "users"
    if obj.id_str or obj.delete:
        return "v1"
    return None

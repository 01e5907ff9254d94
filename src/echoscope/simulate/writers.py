"""Write a simulated platform as a study or as files in each input format echoscope reads.

One writer per format, registered in :data:`FORMATS` (name -> function), all with the same signature
``writer(platform, out_dir, progress) -> dict`` returning what was written. File writers stream the platform's
canonical tables in slices, so memory stays bounded by a slice, and always put the ground truth
(``truth_accounts.csv``, ``truth_engagements.csv``) and the targets (``targets.csv``) next to the data.

Formats follow the published layouts, not echoscope's readers: twarc2 JSONL is one API response page per
line (``data``, ``includes.users``, ``includes.tweets``, ``meta``, ``__twarc``) plus user-lookup pages for
account status; the information-operations archive is the 30-column tweets CSV (``tweet_time`` to the
minute, list columns as ``[a, b]``) and the users CSV; generic CSV uses the canonical column names with list
columns as JSON arrays and times in ISO 8601.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import ConfigError
from .config import config_dict
from .platform import Platform

ProgressFn = Callable[[dict[str, Any]], None]
Writer = Callable[[Platform, Path, ProgressFn], dict[str, Any]]

#: id columns of the truth tables (kept as int64 in memory, written as strings)
_ID_COLS = ("account_id", "engagement_id", "actor_id", "subject_post_id", "subject_account_id")


def _noop(event: dict[str, Any]) -> None:
    return None


def stringify(table: pa.Table) -> pa.Table:
    """Truth tables as written: ids as strings, dictionaries decoded."""
    cols = []
    for name, col in zip(table.column_names, table.columns):
        if name in _ID_COLS and pa.types.is_integer(col.type):
            col = pc.cast(col, pa.string())
        elif pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def _meta(platform: Platform) -> dict[str, Any]:
    return {"generator": "echoscope.simulate", "config": config_dict(platform.config),
            "stats": {k: v for k, v in platform.stats.items() if k != "config"}}


# ------------------------------------------------------------------------------------------------ study
def write_study(platform: Platform, out: Path, progress: ProgressFn = _noop) -> dict[str, Any]:
    """Make ``out`` a study: canonical tables through the atomic load, targets, and the ground truth."""
    from ..store.ingest import run_load_arrow
    from ..store.study import init_store
    from ..store.targets import add_targets

    study = init_store(out)
    progress({"event": "stage", "message": "loading tables into the study"})
    report = run_load_arrow(study, platform.compact(), name="simulator", platform=platform.config.platform,
                            progress=progress)
    add_targets(study, platform.targets)
    progress({"event": "stage", "message": "writing ground truth"})
    meta = _meta(platform)
    study.write_results({"truth_accounts": stringify(platform.truth_accounts),
                         "truth_engagements": stringify(platform.truth_engagements)}, meta=meta,
                        analysis="simulator")
    return {"format": "study", "study": str(out), "loaded": report.get("loaded"), "files": [str(out)]}


# ------------------------------------------------------------------------------------------------ helpers
def _open_dir(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a directory; name a new or empty directory")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} is not empty; name a new or empty directory (files are never overwritten)")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _iso(col: pa.ChunkedArray | pa.Array, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> pa.Array:
    """Timestamps as text (whole seconds: the simulator's times are whole seconds)."""
    sec = pc.cast(col, pa.timestamp("s", tz="UTC"), safe=False)
    return pc.strftime(sec, format=fmt)


def _json_lists(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """list<string> -> JSON array text (values escaped)."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    flat = pc.list_flatten(col)
    flat = pc.replace_substring(pc.replace_substring(flat, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', flat, '"', "")
    lists = pa.ListArray.from_arrays(pc.subtract(col.offsets, col.offsets[0]), quoted)
    return pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")


def _bracket_lists(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """list<string> -> the archive's ``[a, b]`` text (``[]`` when empty)."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return pc.binary_join_element_wise("[", pc.binary_join(col, ", "), "]", "")


def _csv_table(t: pa.Table) -> pa.Table:
    """Canonical table -> CSV-ready columns (lists as JSON, times ISO 8601)."""
    cols = []
    for f, col in zip(t.schema, t.columns):
        if pa.types.is_list(f.type):
            col = _json_lists(col)
        elif pa.types.is_timestamp(f.type):
            col = _iso(col)
        cols.append(col)
    return pa.table(cols, names=t.column_names)


def _write_csv(path: Path, batches: Iterator[pa.Table]) -> int:
    rows = 0
    writer = None
    try:
        for b in batches:
            if writer is None:
                writer = pacsv.CSVWriter(str(path), b.schema)
            writer.write_table(b)
            rows += b.num_rows
    finally:
        if writer is not None:
            writer.close()
    return rows


def _write_truth(platform: Platform, out: Path) -> list[str]:
    files = []
    for name in ("truth_accounts", "truth_engagements"):
        t = stringify(getattr(platform, name))
        p = out / f"{name}.csv"
        _write_csv(p, (_csv_table(t.slice(o, 500_000)) for o in range(0, max(1, t.num_rows), 500_000)))
        files.append(str(p))
    p = out / "targets.csv"
    pacsv.write_csv(platform.targets_table(), str(p))
    files.append(str(p))
    meta = out / "simulation.json"
    meta.write_bytes(orjson.dumps(_meta(platform), option=orjson.OPT_INDENT_2))
    files.append(str(meta))
    return files


# ------------------------------------------------------------------------------------------------ generic CSV
def write_csv(platform: Platform, out: Path, progress: ProgressFn = _noop) -> dict[str, Any]:
    """Generic CSV: ``posts.csv``, ``accounts.csv``, ``account_status.csv``, ``logins.csv`` (canonical names)."""
    out = _open_dir(out)
    files = []
    for name in platform.TABLES:
        p = out / f"{name}.csv"
        progress({"event": "stage", "message": f"writing {p.name}"})
        _write_csv(p, (_csv_table(b) for b in platform.batches(name)))
        files.append(str(p))
    files += _write_truth(platform, out)
    return {"format": "csv", "files": files}


# ------------------------------------------------------------------------------------------------ IO archive
#: the X/Twitter information-operations archive tweet columns, in the published order
IO_TWEET_COLUMNS: tuple[str, ...] = (
    "tweetid", "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count", "account_creation_date",
    "account_language", "tweet_language", "tweet_text", "tweet_time", "tweet_client_name", "in_reply_to_userid",
    "in_reply_to_tweetid", "quoted_tweet_tweetid", "is_retweet", "retweet_userid", "retweet_tweetid", "latitude",
    "longitude", "quote_count", "reply_count", "like_count", "retweet_count", "hashtags", "urls", "user_mentions",
)
IO_USER_COLUMNS: tuple[str, ...] = (
    "userid", "user_display_name", "user_screen_name", "user_reported_location", "user_profile_description",
    "user_profile_url", "follower_count", "following_count", "account_creation_date", "account_language",
)


def _io_users(acc: pa.Table) -> pa.Table:
    return pa.table({
        "userid": acc["account_id"], "user_display_name": acc["display_name"], "user_screen_name": acc["handle"],
        "user_reported_location": acc["location"], "user_profile_description": acc["description"],
        "user_profile_url": acc["profile_image_url"], "follower_count": acc["followers_count"],
        "following_count": acc["following_count"],
        "account_creation_date": _iso(acc["created_at"], "%Y-%m-%d"), "account_language": acc["language"],
    })


def write_io_archive(platform: Platform, out: Path, progress: ProgressFn = _noop) -> dict[str, Any]:
    """``sim_tweets_csv_unhashed.csv`` (30 columns) + ``sim_users_csv_unhashed.csv``; status and logins, which
    the archive format has no place for, as generic ``account_status.csv`` and ``logins.csv``."""
    out = _open_dir(out)
    acc = platform.canonical("accounts")
    users = _io_users(acc)
    upath = out / "sim_users_csv_unhashed.csv"
    pacsv.write_csv(users, str(upath))
    # author profile columns are joined onto each tweet, as in the archive
    ids = acc["account_id"].combine_chunks()
    # original texts for "RT @handle: text" of retweets
    posts_all = platform.canonical("posts").select(["post_id", "account_id", "text", "kind"])
    orig = posts_all.filter(pc.equal(posts_all["kind"], "original"))
    handle_of = dict(zip(ids.to_pylist(), acc["handle"].to_pylist()))
    del posts_all

    def batches() -> Iterator[pa.Table]:
        for b in platform.batches("posts"):
            ai = pc.index_in(b["account_id"], value_set=ids)
            u = users.take(ai)
            kind = b["kind"]
            is_rt = pc.equal(kind, "repost")
            ref_text = pc.index_in(b["ref_post_id"], value_set=orig["post_id"].combine_chunks())
            rtext = orig["text"].take(ref_text)
            ref_handle = pa.array([handle_of.get(x) for x in b["ref_account_id"].to_pylist()], pa.string())
            rt_text = pc.binary_join_element_wise("RT @", ref_handle, ": ", pc.fill_null(rtext, ""), "")
            text = pc.if_else(is_rt, rt_text, b["text"])
            reply = pc.equal(kind, "reply")
            quote = pc.equal(kind, "quote")
            null_s = pa.nulls(b.num_rows, pa.string())
            mentions_ids = pc.if_else(reply, pc.binary_join_element_wise("[", b["ref_account_id"], "]", ""),
                                      pa.repeat(pa.scalar("[]"), b.num_rows))
            yield pa.table({
                "tweetid": b["post_id"], "userid": b["account_id"],
                "user_display_name": u["user_display_name"], "user_screen_name": u["user_screen_name"],
                "user_reported_location": u["user_reported_location"],
                "user_profile_description": u["user_profile_description"],
                "user_profile_url": u["user_profile_url"], "follower_count": u["follower_count"],
                "following_count": u["following_count"], "account_creation_date": u["account_creation_date"],
                "account_language": u["account_language"], "tweet_language": b["lang"], "tweet_text": text,
                "tweet_time": _iso(b["created_at"], "%Y-%m-%d %H:%M"), "tweet_client_name": b["client"],
                "in_reply_to_userid": pc.if_else(reply, b["ref_account_id"], null_s),
                "in_reply_to_tweetid": pc.if_else(reply, b["ref_post_id"], null_s),
                "quoted_tweet_tweetid": pc.if_else(quote, b["ref_post_id"], null_s),
                "is_retweet": pc.if_else(is_rt, pa.scalar("True"), pa.scalar("False")),
                "retweet_userid": pc.if_else(is_rt, b["ref_account_id"], null_s),
                "retweet_tweetid": pc.if_else(is_rt, b["ref_post_id"], null_s),
                "latitude": null_s, "longitude": null_s,
                "quote_count": b["quote_count"], "reply_count": b["reply_count"], "like_count": b["like_count"],
                "retweet_count": b["repost_count"],
                "hashtags": _bracket_lists(b["hashtags"]), "urls": _bracket_lists(b["urls"]),
                "user_mentions": mentions_ids,
            })

    tpath = out / "sim_tweets_csv_unhashed.csv"
    progress({"event": "stage", "message": f"writing {tpath.name}"})
    _write_csv(tpath, batches())
    files = [str(tpath), str(upath)]
    for name in ("account_status", "logins"):
        p = out / f"{name}.csv"
        _write_csv(p, (_csv_table(b) for b in platform.batches(name)))
        files.append(str(p))
    files += _write_truth(platform, out)
    return {"format": "io-archive", "files": files}


# ------------------------------------------------------------------------------------------------ twarc2
TWARC_VERSION = "2.14.0"
SEARCH_URL = ("https://api.twitter.com/2/tweets/search/all?expansions=author_id%2Creferenced_tweets.id%2C"
              "referenced_tweets.id.author_id%2Centities.mentions.username&tweet.fields=author_id%2C"
              "conversation_id%2Ccreated_at%2Centities%2Cid%2Cin_reply_to_user_id%2Clang%2Cpublic_metrics%2C"
              "text%2Creferenced_tweets%2Csource&user.fields=created_at%2Cdescription%2Cid%2Clocation%2Cname%2C"
              "profile_image_url%2Cprotected%2Cpublic_metrics%2Cusername%2Cverified&max_results=100")
LOOKUP_URL = ("https://api.twitter.com/2/users?user.fields=created_at%2Cdescription%2Cid%2Clocation%2Cname%2C"
              "profile_image_url%2Cprotected%2Cpublic_metrics%2Cusername%2Cverified")
REF_TYPES = {"repost": "retweeted", "quote": "quoted", "reply": "replied_to"}


def _ms(t: dt.datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _user_obj(a: dict[str, Any]) -> dict[str, Any]:
    u: dict[str, Any] = {
        "id": a["account_id"], "username": a["handle"], "name": a["display_name"],
        "description": a["description"] or "", "created_at": _ms(a["created_at"]),
        "public_metrics": {"followers_count": a["followers_count"], "following_count": a["following_count"],
                           "tweet_count": a["posts_count"], "listed_count": 0},
        "verified": bool(a["verified"]), "protected": False, "profile_image_url": a["profile_image_url"],
    }
    if a["location"]:
        u["location"] = a["location"]
    return u


def _entities(text: str, p: dict[str, Any]) -> dict[str, Any]:
    ent: dict[str, Any] = {}
    pos = 0
    tags = []
    for tag in p["hashtags"] or []:
        i = text.find("#" + tag, pos)
        if i >= 0:
            pos = i + len(tag) + 1
        tags.append({"start": max(i, 0), "end": max(i, 0) + len(tag) + 1, "tag": tag})
    if tags:
        ent["hashtags"] = tags
    ments = []
    for m in p["mentions"] or []:
        i = max(text.find("@" + m), 0)
        ments.append({"start": i, "end": i + len(m) + 1, "username": m})
    if ments:
        ent["mentions"] = ments
    if p["urls"]:
        n = len(text)
        ent["urls"] = [{"start": n, "end": n, "url": u, "expanded_url": u, "display_url": u.split("://", 1)[-1][:40]}
                       for u in p["urls"]]
    return ent


def _tweet_obj(p: dict[str, Any], text: str) -> dict[str, Any]:
    t: dict[str, Any] = {
        "id": p["post_id"], "author_id": p["account_id"], "created_at": _ms(p["created_at"]), "text": text,
        "lang": p["lang"], "source": p["client"], "conversation_id": p["post_id"],
        "public_metrics": {"retweet_count": p["repost_count"], "reply_count": p["reply_count"],
                           "like_count": p["like_count"], "quote_count": p["quote_count"]},
        "reply_settings": "everyone", "possibly_sensitive": False,
    }
    ent = _entities(text, p)
    if ent:
        t["entities"] = ent
    if p["kind"] in REF_TYPES:
        t["referenced_tweets"] = [{"type": REF_TYPES[p["kind"]], "id": p["ref_post_id"]}]
        if p["kind"] == "reply":
            t["in_reply_to_user_id"] = p["ref_account_id"]
            t["conversation_id"] = p["ref_post_id"]
    return t


def write_twarc2(platform: Platform, out: Path, progress: ProgressFn = _noop, page_size: int = 100
                 ) -> dict[str, Any]:
    """twarc2 search output (``tweets.jsonl``, gzip) and user lookups per status check (``users-DATE.jsonl``)."""
    out = _open_dir(out)
    cfg = platform.config
    retrieved = cfg.final_check.isoformat()
    acc = platform.canonical("accounts").to_pylist()
    users = {a["account_id"]: a for a in acc}
    posts = platform.canonical("posts")
    originals = {}
    for b in posts.filter(pc.equal(posts["kind"], "original")).to_batches(100_000):
        for p in b.to_pylist():
            originals[p["post_id"]] = p
    tpath = out / "tweets.jsonl.gz"
    progress({"event": "stage", "message": f"writing {tpath.name}"})
    with gzip.open(tpath, "wb", compresslevel=3) as fh:
        for batch in posts.to_batches(page_size * 50):
            rows = batch.to_pylist()
            for k in range(0, len(rows), page_size):
                page = rows[k:k + page_size]
                data: list[dict[str, Any]] = []
                inc_users: dict[str, Any] = {}
                inc_tweets: dict[str, Any] = {}
                for p in page:
                    text = p["text"] or ""
                    if p["kind"] == "repost":
                        ref = originals.get(p["ref_post_id"])
                        text = f"RT @{users[p['ref_account_id']]['handle']}: {(ref or {}).get('text') or ''}"
                    data.append(_tweet_obj(p, text))
                    inc_users.setdefault(p["account_id"], _user_obj(users[p["account_id"]]))
                    if p["kind"] != "original":
                        ra = p["ref_account_id"]
                        inc_users.setdefault(ra, _user_obj(users[ra]))
                        ref = originals.get(p["ref_post_id"])
                        if ref is not None:
                            inc_tweets.setdefault(ref["post_id"], _tweet_obj(ref, ref["text"] or ""))
                ids = sorted((d["id"] for d in data), key=int)
                doc = {"data": data, "includes": {"users": list(inc_users.values()),
                                                  "tweets": list(inc_tweets.values())},
                       "meta": {"newest_id": ids[-1], "oldest_id": ids[0], "result_count": len(data)},
                       "__twarc": {"url": SEARCH_URL, "version": TWARC_VERSION, "retrieved_at": retrieved}}
                fh.write(orjson.dumps(doc) + b"\n")
    files = [str(tpath)]
    files += _write_lookups(platform, out, users)
    files += _write_truth(platform, out)
    return {"format": "twarc2", "files": files}


def _write_lookups(platform: Platform, out: Path, users: dict[str, dict[str, Any]]) -> list[str]:
    """One twarc2 user-lookup file per status check date: active users as data, others as errors."""
    st = platform.canonical("account_status")
    files = []
    checked = st["checked_at"].combine_chunks()
    for when in sorted(set(checked.to_pylist())):
        rows = st.filter(pc.equal(checked, pa.scalar(when, checked.type))).to_pylist()
        path = out / f"users-{when.strftime('%Y%m%dT%H%M%S')}.jsonl"
        with open(path, "wb") as fh:
            for k in range(0, len(rows), 100):
                data, errors = [], []
                for r in rows[k:k + 100]:
                    aid = r["account_id"]
                    if r["status"] == "active":
                        data.append(_user_obj(users[aid]))
                    elif r["status"] == "suspended":
                        errors.append({"value": aid, "detail": f"User has been suspended: [{aid}].",
                                       "title": "Forbidden", "resource_type": "user", "parameter": "ids",
                                       "resource_id": aid,
                                       "type": "https://api.twitter.com/2/problems/resource-not-found"})
                    else:
                        errors.append({"value": aid, "detail": f"Could not find user with ids: [{aid}].",
                                       "title": "Not Found Error", "resource_type": "user", "parameter": "ids",
                                       "resource_id": aid,
                                       "type": "https://api.twitter.com/2/problems/resource-not-found"})
                doc: dict[str, Any] = {}
                if data:
                    doc["data"] = data
                if errors:
                    doc["errors"] = errors
                doc["__twarc"] = {"url": LOOKUP_URL, "version": TWARC_VERSION, "retrieved_at": when.isoformat()}
                fh.write(orjson.dumps(doc) + b"\n")
        files.append(str(path))
    return files


#: output format name -> writer
FORMATS: dict[str, Writer] = {
    "study": write_study,
    "twarc2": write_twarc2,
    "io-archive": write_io_archive,
    "csv": write_csv,
}


def write(platform: Platform, out: str | os.PathLike[str], format: str = "study",
          progress: ProgressFn | None = None) -> dict[str, Any]:
    """Write ``platform`` to ``out`` in ``format`` (see :data:`FORMATS`); returns what was written.

    Raises
    ------
    ConfigError
        On an unknown format or an output directory that is not new/empty.
    StudyError
        When ``format='study'`` and ``out`` already holds something other than an empty directory.
    """
    if format not in FORMATS:
        raise ConfigError(f"unknown output format '{format}'; use one of {', '.join(FORMATS)}")
    return FORMATS[format](platform, Path(out), progress or _noop)


__all__ = ["FORMATS", "IO_TWEET_COLUMNS", "IO_USER_COLUMNS", "stringify", "write"]

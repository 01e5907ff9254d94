"""Canonical tables as pyarrow schemas.

Every stage of echoscope reads and writes these tables and nothing else, so the schemas live here as module
constants and the data-model documentation (``docs/data-model.md``) is generated from them
(``python -m echoscope.schema``). All ids are strings; all times are UTC timestamps with microsecond
resolution. Field-level descriptions are stored in the Arrow field metadata so they travel with every
Parquet file a study writes.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
STR = pa.string()
I64 = pa.int64()
LIST_STR = pa.list_(pa.string())


def _f(name: str, typ: pa.DataType, doc: str, nullable: bool = True) -> pa.Field:
    return pa.field(name, typ, nullable=nullable, metadata={"doc": doc})


POST_KINDS = ("original", "repost", "reply", "quote")
ENGAGEMENT_KINDS = ("repost", "reply", "quote", "like")
ACCOUNT_STATUSES = ("active", "suspended", "deleted", "protected", "unknown")

ACCOUNTS = pa.schema(
    [
        _f("platform", STR, "platform name, e.g. twitter, bluesky, mastodon", False),
        _f("account_id", STR, "platform account id (hashed in some archives)", False),
        _f("handle", STR, "screen name / username without the leading @"),
        _f("display_name", STR, "display name as shown on the profile"),
        _f("description", STR, "profile bio"),
        _f("location", STR, "self-declared location"),
        _f("created_at", TS, "account creation time (UTC)"),
        _f("followers_count", I64, "followers when observed"),
        _f("following_count", I64, "accounts followed when observed"),
        _f("posts_count", I64, "posts made when observed"),
        _f("verified", pa.bool_(), "platform verification flag"),
        _f("profile_image_url", STR, "profile image URL or local path"),
        _f("default_profile_image", pa.bool_(), "true when the platform's default image is shown"),
        _f("language", STR, "account language (declared or inferred)"),
        _f("time_zone", STR, "profile time-zone setting, e.g. 'Eastern Time (US & Canada)' or 'Volgograd' "
           "(Twitter profiles carried one until 2018)"),
        _f("affiliation_label", STR, "platform label such as 'China state-affiliated media'"),
        _f("observed_at", TS, "when this profile snapshot was taken (latest snapshot is kept)"),
        _f("source", STR, "file (or collector) the newest snapshot came from"),
    ]
)

POSTS = pa.schema(
    [
        _f("platform", STR, "platform name", False),
        _f("post_id", STR, "platform post id; derived from a content hash when the source has none", False),
        _f("account_id", STR, "author account id", False),
        _f("created_at", TS, "post time (UTC)"),
        _f("kind", STR, "original | repost | reply | quote"),
        _f("ref_post_id", STR, "reposted / replied-to / quoted post id; null when the source does not say"),
        _f("ref_account_id", STR, "author of the referenced post, when known"),
        _f("text", STR, "full text"),
        _f("lang", STR, "language code"),
        _f("client", STR, "client or source application"),
        _f("urls", LIST_STR, "expanded URLs"),
        _f("hashtags", LIST_STR, "hashtags without '#', in order of appearance"),
        _f("mentions", LIST_STR, "mentioned handles without '@', in order of appearance"),
        _f("media_hashes", LIST_STR, "images or other media attached, one key each, as the source identifies "
           "them: a perceptual or content hash (CSV/Parquet `--map phash=media_hashes`; Bluesky blob CIDs), "
           "Mastodon's blurhash (`blurhash:...`) or an upload key (X media keys `3_...`: the same only where one "
           "upload is reused); null without media and in studies ingested before the column existed "
           "(docs/sources-json.md#media-hashes)"),
        _f("like_count", I64, "likes when observed"),
        _f("repost_count", I64, "reposts when observed"),
        _f("reply_count", I64, "replies when observed"),
        _f("quote_count", I64, "quotes when observed"),
        _f("source", STR, "file (or collector) the post was read from"),
    ]
)

LIKES = pa.schema(
    [
        _f("platform", STR, "platform name", False),
        _f("account_id", STR, "account that liked", False),
        _f("post_id", STR, "post liked", False),
        _f("created_at", TS, "like time, when the platform exposes it"),
        _f("source", STR, "file the like was read from"),
    ]
)

ACCOUNT_STATUS = pa.schema(
    [
        _f("platform", STR, "platform name", False),
        _f("account_id", STR, "account checked", False),
        _f("status", STR, "active | suspended | deleted | protected | unknown", False),
        _f("checked_at", TS, "when the status was observed"),
        _f("source", STR, "file the status came from"),
    ]
)

TARGETS = pa.schema(
    [
        _f("account_id", STR, "target account id; null until the handle is resolved against accounts"),
        _f("handle", STR, "target handle without '@'"),
        _f("group", STR, "group name, e.g. 'diplomats', 'state media'"),
        _f("label", STR, "platform affiliation label, when the target carries one"),
    ]
)

FOLLOWS = pa.schema(
    [
        _f("platform", STR, "platform name", False),
        _f("account_id", STR, "account that follows", False),
        _f("followed_id", STR, "account followed", False),
        _f("created_at", TS, "when the follow was made (or first seen)"),
        _f("source", STR, "file the follow was read from"),
    ]
)

LOGINS = pa.schema(
    [
        _f("platform", STR, "platform name", False),
        _f("account_id", STR, "account", False),
        _f("ts", TS, "login time"),
        _f("ip_hash", STR, "hashed IP address"),
        _f("device_hash", STR, "hashed device fingerprint"),
        _f("source", STR, "file the row came from"),
    ]
)

QUARANTINE = pa.schema(
    [
        _f("source", STR, "file the bad record came from", False),
        _f("line", I64, "1-based line (JSON) or row (CSV, header = line 1) of the record"),
        _f("field", STR, "field that failed, when one did"),
        _f("reason", STR, "what was wrong and what was expected", False),
        _f("raw", STR, "the record as read, truncated to 2,000 characters"),
        _f("ingest_id", STR, "ingest run that quarantined it"),
    ]
)

ENGAGEMENTS = pa.schema(
    [
        _f("platform", STR, "platform name", False),
        _f("engagement_id", STR, "post id of the repost/reply/quote, or account:post for a like", False),
        _f("actor_id", STR, "account that engaged", False),
        _f("kind", STR, "repost | reply | quote | like", False),
        _f("subject_post_id", STR, "post engaged with (null when the source does not say)"),
        _f("subject_account_id", STR, "author of that post"),
        _f("created_at", TS, "engagement time"),
        _f("latency_s", pa.float64(), "seconds from the subject post to the engagement, when both are known"),
    ]
)

#: tables an ingest can fill, with their schema and the key that makes a row unique
TABLES: dict[str, pa.Schema] = {
    "posts": POSTS,
    "accounts": ACCOUNTS,
    "likes": LIKES,
    "account_status": ACCOUNT_STATUS,
    "logins": LOGINS,
    "follows": FOLLOWS,
}

KEYS: dict[str, tuple[str, ...]] = {
    "posts": ("platform", "post_id"),
    "accounts": ("platform", "account_id"),
    "likes": ("platform", "account_id", "post_id"),
    "account_status": ("platform", "account_id", "checked_at", "status"),
    "logins": ("platform", "account_id", "ts", "ip_hash", "device_hash"),
    "follows": ("platform", "account_id", "followed_id"),
}

# Longest values kept, in characters (Unicode code points). Longer values are cut at ingest, in one place
# (the ingest sink), and each cut is recorded in ``quarantine``; the row itself is kept. The limits are far
# above what any platform lets a user write, so they only ever cut damaged or hostile input (a 30 MB "post"),
# which would otherwise be stored, scanned and copied into every report and export whole.

#: post text: X long posts hold 25,000 characters *as X counts them* (an emoji sequence of several code points
#: counts as 2), Telegram 4,096, Mastodon 500 by default (some servers allow more), Bluesky 300
MAX_TEXT_CHARS = 100_000
#: profile bios: X 160, Bluesky 256, Mastodon 500 by default, Telegram channel descriptions 255
MAX_BIO_CHARS = 10_000
#: URLs: browsers and servers accept about 8,000 characters
MAX_URL_CHARS = 10_000
#: names, handles, locations, clients, languages, time zones, labels, hashtags, mentions: platforms allow 15 to
#: 100 characters (Bluesky handles and Mastodon accounts with their domain up to about 250)
MAX_SHORT_CHARS = 1_000

#: free-text fields and the longest value each keeps (list fields: each item); ids, kinds and statuses are never
#: cut: a cut id would be another record's id
TEXT_LIMITS: dict[str, dict[str, int]] = {
    "posts": {"text": MAX_TEXT_CHARS, "lang": MAX_SHORT_CHARS, "client": MAX_SHORT_CHARS, "urls": MAX_URL_CHARS,
              "hashtags": MAX_SHORT_CHARS, "mentions": MAX_SHORT_CHARS, "media_hashes": MAX_SHORT_CHARS},
    "accounts": {"handle": MAX_SHORT_CHARS, "display_name": MAX_SHORT_CHARS, "description": MAX_BIO_CHARS,
                 "location": MAX_SHORT_CHARS, "profile_image_url": MAX_URL_CHARS, "language": MAX_SHORT_CHARS,
                 "time_zone": MAX_SHORT_CHARS, "affiliation_label": MAX_SHORT_CHARS},
}

#: tables replaced as a whole (one row per key, the newest wins) instead of appended
MERGED_TABLES = frozenset({"accounts"})

#: every stored table, including the ones not filled by ingest
ALL_TABLES: dict[str, pa.Schema] = {**TABLES, "targets": TARGETS, "quarantine": QUARANTINE}

#: derived views (not stored)
VIEWS: dict[str, pa.Schema] = {"engagements": ENGAGEMENTS}


def empty(schema: pa.Schema) -> pa.Table:
    """An empty table with ``schema``."""
    return schema.empty_table()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Return ``table`` with exactly the columns of ``schema``, in order, cast to its types.

    Missing columns are added as nulls; extra columns are dropped.
    """
    n = table.num_rows
    cols = []
    for field in schema:
        if field.name in table.column_names:
            col = table.column(field.name)
            if not col.type.equals(field.type):
                col = col.cast(field.type)
        else:
            col = pa.nulls(n, type=field.type)
        cols.append(col)
    return pa.Table.from_arrays(cols, schema=schema)


def markdown() -> str:
    """The data-model reference, generated from the schemas above."""
    out = [
        "# Data model",
        "",
        "Generated from `src/echoscope/schema.py` by `python -m echoscope.schema`; do not edit by hand.",
        "All ids are strings; all times are UTC timestamps (microseconds).",
        "Free-text values longer than the limit a column names are cut to it at ingest; each cut is recorded in",
        "`quarantine` (field, original length) and the row is kept (see docs/sources.md).",
        "",
    ]
    for name, schema in {**ALL_TABLES, **VIEWS}.items():
        out.append(f"## `{name}`")
        key = KEYS.get(name)
        if key:
            how = "one row per key, newest snapshot wins" if name in MERGED_TABLES else "a row is stored once"
            out.append(f"Key: `{', '.join(key)}` ({how}).")
        if name in VIEWS:
            out.append("A view over `posts` and `likes`: reposts, quotes, replies and likes, never originals.")
        out.append("")
        out.append("| column | type | meaning |")
        out.append("|---|---|---|")
        for f in schema:
            doc = (f.metadata or {}).get(b"doc", b"").decode()
            req = "" if f.nullable else " (required)"
            cap = TEXT_LIMITS.get(name, {}).get(f.name)
            if cap is not None:
                what = "items at most" if pa.types.is_list(f.type) else "at most"
                req += f" ({what} {cap:,} characters)"
            out.append(f"| `{f.name}` | {f.type} | {doc}{req} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(markdown())

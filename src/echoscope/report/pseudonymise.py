"""Stable keyed pseudonyms for sharing a report or an export outside a newsroom.

Why keyed hashes (HMAC-SHA256) and not plain hashes: account ids and handles come from a small, guessable
space (anyone can hash every handle of a platform), so an unkeyed hash would be reversible by a dictionary.
With a secret key the pseudonyms are stable -- the same account gets the same pseudonym in the report, in
every export and in every later run with the same key, so readers can follow an account across files -- but
cannot be reversed without the key.

The key comes from an environment variable the user names (``--key-env VAR``), or else from a random key
created once and kept in the study directory (``pseudonym.key``, mode 0600; never share it). One
:class:`Pseudonymiser` is applied to everything the report and the exports show:

- id columns (account ids, post ids, cluster member lists) and handle columns are replaced by pseudonyms
  with a namespace prefix (``acct-``, ``post-``, ``@user-``); handles are case-insensitive, so they are
  lower-cased before hashing;
- display names are replaced by the pseudonym of the account's handle (a name identifies as well as a handle);
- ``@mentions`` inside free text (posts, bios, evidence) are replaced by the mentioned handle's pseudonym;
- links to profiles and posts on the platforms (``twitter.com/<handle>/status/<id>`` and the like) are
  replaced by ``[platform link removed]``, and profile image URLs are dropped.

Which columns hold what is decided by name (:data:`ID_COLUMNS`, :data:`POST_COLUMNS`, ...), the same rules for
the report and the exports, so the two always agree.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..engine import Engine

#: file in the study directory that keeps the random key when no ``--key-env`` is given
KEY_FILE = "pseudonym.key"

#: columns holding account ids (exact names), plus any name ending in ``account_id`` / ``account_ids``
ID_COLUMNS: frozenset[str] = frozenset({
    "account_id", "actor_id", "target", "target_id", "subject_account_id", "ref_account_id", "account_a",
    "account_b", "a", "b", "u", "v", "src", "dst", "account", "accounts", "members", "member", "member_ids",
    "user_id", "userid", "retweet_userid", "id", "Id", "Source", "Target", "source_id", "target_account",
    "actor", "amplifier", "amplifier_id", "account_1", "account_2", "account_id_a", "account_id_b",
})
#: columns holding post ids, plus any name ending in ``post_id`` / ``post_ids``
POST_COLUMNS: frozenset[str] = frozenset({"post_id", "post_ids", "object_post_id", "engagement_id",
                                          "tweetid", "action_id", "action_id_a", "action_id_b"})
#: columns holding handles, plus any name ending in ``handle`` / ``handles``
HANDLE_COLUMNS: frozenset[str] = frozenset({"handle", "handles", "screen_name", "user_screen_name", "Label",
                                            "label_handle", "handle_a", "handle_b"})
#: columns holding display names (replaced by a pseudonym)
NAME_COLUMNS: frozenset[str] = frozenset({"display_name", "name", "user_display_name", "display_name_a",
                                          "display_name_b"})
#: free-text columns (``@mentions`` and platform links inside are replaced)
TEXT_COLUMNS: frozenset[str] = frozenset({"text", "description", "bio", "reason", "reasons", "evidence",
                                          "raw", "text_a", "text_b", "object_id", "object", "urls",
                                          "mentions", "example", "examples", "targets", "path"})
#: columns dropped outright (they point straight at the account)
DROP_COLUMNS: frozenset[str] = frozenset({"profile_image_url", "profile_url", "url_profile"})

_MENTION = re.compile(r"@([A-Za-z0-9_][A-Za-z0-9_.\-]{0,63})")
_PLATFORM_LINK = re.compile(
    r"(?:https?://)?(?:www\.|mobile\.)?(?:twitter\.com|x\.com|bsky\.app|t\.me|facebook\.com|instagram\.com|"
    r"tiktok\.com|youtube\.com/@|threads\.net|mastodon\.[a-z.]+|weibo\.com)/\S*", re.IGNORECASE)
_WORD = re.compile(r"(?<![@\w-])[A-Za-z0-9_][A-Za-z0-9_:.\-]*(?<![.:])")
_DID = re.compile(r"did:(?:plc|web):[A-Za-z0-9._:%-]+")


def column_kind(name: str) -> str | None:
    """What a column holds for pseudonymisation: ``id``, ``post``, ``handle``, ``name``, ``text``, ``drop``
    or None (left as it is)."""
    low = name.lower()
    if name in DROP_COLUMNS or low in DROP_COLUMNS:
        return "drop"
    if name in POST_COLUMNS or low.endswith("post_id") or low.endswith("post_ids"):
        return "post"
    if name in ID_COLUMNS or low.endswith("account_id") or low.endswith("account_ids") or low.endswith("actor_id"):
        return "id"
    if name in HANDLE_COLUMNS or low.endswith("handle") or low.endswith("handles"):
        return "handle"
    if name in NAME_COLUMNS:
        return "name"
    if name in TEXT_COLUMNS or low.startswith("text") or low.endswith("_text"):
        return "text"
    return None


def known_account_ids(engine: Engine, limit: int = 2_000_000) -> set[str]:
    """Account ids of the study (accounts, targets, cluster members), so free text naming them can be
    pseudonymised too. Capped at ``limit`` ids (the rarest texts name only these)."""
    parts = ["SELECT account_id FROM accounts", "SELECT account_id FROM targets WHERE account_id IS NOT NULL"]
    if engine.has_table("coord_members") and "account_id" in engine.columns("coord_members"):
        parts.append("SELECT CAST(account_id AS VARCHAR) FROM coord_members")
    tab = engine.sql(f"SELECT DISTINCT * FROM ({' UNION ALL '.join(parts)}) LIMIT {int(limit)}")
    return {v for v in tab.column(0).to_pylist() if v}


def resolve_key(study_path: str | os.PathLike[str] | None, key_env: str | None = None) -> bytes:
    """The pseudonymisation key: from environment variable ``key_env``, or the study's ``pseudonym.key``.

    Raises
    ------
    ConfigError
        When ``key_env`` names a variable that is unset or shorter than 16 characters.
    """
    if key_env:
        value = os.environ.get(key_env)
        if not value:
            raise ConfigError(f"--key-env {key_env}: the environment variable {key_env} is not set or empty; "
                              f"export {key_env}=<a secret of at least 16 characters> or leave --key-env out "
                              "to use the random key kept in the study")
        if len(value) < 16:
            raise ConfigError(f"--key-env {key_env}: the key has {len(value)} characters; use at least 16 so the "
                              "pseudonyms cannot be reversed by guessing the key")
        return value.encode("utf-8")
    if study_path is None:
        raise ConfigError("pseudonymisation needs a key: give --key-env VAR or a study directory to keep one in")
    path = Path(study_path) / KEY_FILE
    if path.exists():
        data = path.read_text(encoding="ascii").strip()
        if len(data) < 32:
            raise ConfigError(f"{path}: the stored pseudonymisation key is damaged (too short); delete the file to "
                              "make a new one (pseudonyms will change)")
        return data.encode("ascii")
    key = secrets.token_hex(32)
    tmp = path.with_name(f".{KEY_FILE}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    try:
        os.link(tmp, path)  # fails if another process created the key first; then use theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text(encoding="ascii").strip().encode("ascii")


class Pseudonymiser:
    """Replace ids and handles by stable keyed hashes (HMAC-SHA256, 12 hex characters = 48 bits).

    Parameters
    ----------
    key : bytes
        Secret key (see :func:`resolve_key`).
    length : int
        Hex characters kept of each digest; 12 keeps collisions unlikely below about ten million accounts.
    """

    def __init__(self, key: bytes, length: int = 12, known_ids: set[str] | None = None) -> None:
        if not key:
            raise ConfigError("empty pseudonymisation key")
        self.key = key
        self.length = length
        #: account ids replaced wherever they stand as a word in free text (e.g. evidence strings)
        self.known_ids: set[str] = set(known_ids or ())
        self._cache: dict[tuple[str, str], str] = {}

    def _digest(self, ns: str, value: str) -> str:
        k = (ns, value)
        hit = self._cache.get(k)
        if hit is None:
            hit = hmac.new(self.key, f"{ns}\x00{value}".encode(), hashlib.sha256).hexdigest()[: self.length]
            if len(self._cache) < 1_000_000:
                self._cache[k] = hit
        return hit

    def account(self, value: str | None) -> str | None:
        """Pseudonym of an account id (``acct-<hex>``)."""
        if value is None:
            return None
        return "acct-" + self._digest("account", str(value))

    def post(self, value: str | None) -> str | None:
        """Pseudonym of a post id (``post-<hex>``)."""
        if value is None:
            return None
        return "post-" + self._digest("post", str(value))

    def handle(self, value: str | None) -> str | None:
        """Pseudonym of a handle (``user-<hex>``; case-insensitive, a leading ``@`` is kept)."""
        if value is None:
            return None
        s = str(value)
        at = s.startswith("@")
        h = "user-" + self._digest("handle", s.lstrip("@").lower())
        return "@" + h if at else h

    def name(self, value: str | None) -> str | None:
        """A display name is replaced by a neutral pseudonym (names identify people as well as handles)."""
        if value is None:
            return None
        return "name-" + self._digest("name", str(value))

    def text(self, value: str | None) -> str | None:
        """Free text with ``@mentions`` pseudonymised, platform links removed and DIDs replaced."""
        if value is None:
            return None
        s = _PLATFORM_LINK.sub("[platform link removed]", str(value))
        s = _DID.sub(lambda m: self.account(m.group(0)) or "", s)
        s = _MENTION.sub(lambda m: "@" + (self.handle(m.group(1)) or ""), s)
        if self.known_ids:
            s = _WORD.sub(lambda m: (self.account(m.group(0)) or "") if m.group(0) in self.known_ids
                          else m.group(0), s)
        return s

    def value(self, kind: str | None, value: Any) -> Any:
        """Apply the rule for column kind ``kind`` to one value (lists element-wise)."""
        if kind is None or value is None:
            return value
        if isinstance(value, (list, tuple)):
            return [self.value(kind, v) for v in value]
        if isinstance(value, dict):
            return self.record(value)
        fn = {"id": self.account, "post": self.post, "handle": self.handle, "name": self.name,
              "text": self.text}.get(kind)
        if fn is None or not isinstance(value, str):
            return value
        return fn(value)

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        """A dict with every field pseudonymised by its name (nested dicts and lists too)."""
        out: dict[str, Any] = {}
        for k, v in row.items():
            kind = column_kind(k)
            if kind == "drop":
                continue
            if isinstance(v, dict):
                out[k] = self.record(v)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                out[k] = [self.record(x) for x in v]
            else:
                out[k] = self.value(kind, v)
        return out

    def table(self, table: pa.Table) -> pa.Table:
        """An Arrow table with its id, handle, name and text columns pseudonymised (others untouched)."""
        cols: list[pa.ChunkedArray] = []
        names: list[str] = []
        for name in table.column_names:
            kind = column_kind(name)
            col = table.column(name)
            if kind == "drop":
                continue
            if kind is not None and _is_text(col.type):
                col = self._column(kind, col)
            elif _is_nested(col.type):
                rows = [self.record(v) if isinstance(v, dict) else
                        ([self.record(x) if isinstance(x, dict) else x for x in v] if isinstance(v, list) else v)
                        for v in col.to_pylist()]
                col = pa.chunked_array([pa.array(rows)]) if rows else col
            cols.append(col)
            names.append(name)
        return pa.Table.from_arrays(cols, names=names)

    def _column(self, kind: str, col: pa.ChunkedArray) -> pa.ChunkedArray:
        """Map a string (or list-of-string) column through its distinct values (a dictionary), not row by row."""
        typ = col.type
        if pa.types.is_list(typ) or pa.types.is_large_list(typ):
            chunks = []
            for chunk in col.chunks:
                flat = pc.list_flatten(chunk)
                mapped = self._column(kind, pa.chunked_array([flat], type=flat.type)).combine_chunks()
                offsets = chunk.offsets
                chunks.append(type(chunk).from_arrays(offsets, mapped, mask=chunk.is_null()))
            return pa.chunked_array(chunks, type=pa.list_(pa.string())) if chunks else col
        col = col.cast(pa.string())
        uniq = pc.unique(col)
        mapped = pa.array([self.value(kind, v) for v in uniq.to_pylist()], type=pa.string())
        idx = pc.index_in(col, value_set=uniq)
        return pa.chunked_array([pc.take(mapped, c) for c in idx.chunks], type=pa.string())


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return True
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)
    return False


def _is_nested(t: pa.DataType) -> bool:
    if pa.types.is_struct(t):
        return True
    return (pa.types.is_list(t) or pa.types.is_large_list(t)) and pa.types.is_struct(t.value_type)

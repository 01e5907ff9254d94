"""Value parsing written as DuckDB SQL expressions, shared by every reader that parses with SQL.

Why SQL and not Python: the tabular readers parse hundreds of megabytes a second, which only works when the
conversion runs inside DuckDB, vectorised and in parallel, never row by row in Python. Each helper here takes
the SQL of a VARCHAR expression (usually a quoted column name) and returns the SQL of the converted value, or
NULL when the text cannot be converted, so a reader can both keep the value and tell *why* a row failed.

Accepted spellings (documented for users in docs/sources-tabular.md):

* timestamps -- ISO 8601 with or without offset, ``Z`` or fractional seconds (``2020-01-01T12:00:00.5+02:00``),
  ``YYYY-MM-DD HH:MM[:SS]``, ``M/D/YYYY H:MM[:SS]``, Twitter's ``Wed Jan 07 04:38:02 +0000 2009``, and epoch
  seconds, milliseconds or microseconds (told apart by magnitude). Offsets are converted to UTC; times without
  an offset are taken as UTC.
* lists -- ``[a, b]``, ``['a', 'b']``, JSON arrays, or plain space/comma separated words.
* booleans -- true/false, t/f, 1/0, yes/no, y/n (any case).
* post kinds and account statuses -- the synonyms in :data:`KIND_SYNONYMS` and :data:`STATUS_SYNONYMS`.
"""

from __future__ import annotations

from collections.abc import Mapping

#: post kind spellings seen in exports -> canonical kind (compared lower-cased and trimmed)
KIND_SYNONYMS: dict[str, str] = {
    "original": "original", "post": "original", "tweet": "original", "status": "original", "note": "original",
    "repost": "repost", "retweet": "repost", "retweeted": "repost", "rt": "repost", "reblog": "repost",
    "boost": "repost", "share": "repost", "reshare": "repost",
    "reply": "reply", "replied_to": "reply", "comment": "reply", "in_reply_to": "reply",
    "quote": "quote", "quoted": "quote", "quote_tweet": "quote", "quote_post": "quote", "quotetweet": "quote",
}

#: account status spellings -> canonical status (compared lower-cased and trimmed)
STATUS_SYNONYMS: dict[str, str] = {
    "active": "active", "ok": "active", "exists": "active",
    "suspended": "suspended",
    "deleted": "deleted", "not found": "deleted", "not_found": "deleted", "notfound": "deleted",
    "deactivated": "deleted",
    "protected": "protected", "private": "protected",
    "unknown": "unknown",
}

TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")

#: strptime formats tried after DuckDB's own ISO 8601 cast, in order
TIMESTAMP_FORMATS: tuple[str, ...] = (
    "%a %b %d %H:%M:%S %z %Y",  # Twitter API v1.1 / profile exports: Wed Jan 07 04:38:02 +0000 2009
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d %b %Y %H:%M:%S",
)


def lit(value: str | None) -> str:
    """A SQL string literal (or NULL)."""
    if value is None:
        return "NULL"
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def blank_to_null(expr: str) -> str:
    """``expr`` with empty or all-blank text turned into NULL."""
    return f"NULLIF(trim({expr}), '')"


def timestamp_sql(expr: str) -> str:
    """SQL converting VARCHAR ``expr`` to TIMESTAMPTZ (UTC), NULL when no accepted spelling matches."""
    t = f"trim({expr})"
    fmts = "[" + ", ".join(lit(f) for f in TIMESTAMP_FORMATS) + "]"
    # epoch numbers: seconds below 1e11 (year 5138), milliseconds below 1e14, microseconds above
    epoch = (f"CASE WHEN regexp_full_match({t}, '-?[0-9]+(\\.[0-9]*)?') THEN "
             f"(CASE WHEN abs(try_cast({t} AS DOUBLE)) < 1e11 THEN to_timestamp(try_cast({t} AS DOUBLE)) "
             f"WHEN abs(try_cast({t} AS DOUBLE)) < 1e14 THEN to_timestamp(try_cast({t} AS DOUBLE) / 1e3) "
             f"ELSE to_timestamp(try_cast({t} AS DOUBLE) / 1e6) END) END")
    return (f"COALESCE(try_cast({t} AS TIMESTAMPTZ), {epoch}, "
            f"try_strptime({t}, {fmts})::TIMESTAMPTZ)")


def date_sql(expr: str) -> str:
    """SQL converting a date (or timestamp) written as text to TIMESTAMPTZ at midnight UTC."""
    return timestamp_sql(expr)


def list_sql(expr: str, strip: str = "") -> str:
    """SQL converting VARCHAR ``expr`` to VARCHAR[].

    ``[a, b]``, ``['a', 'b']`` and JSON arrays go through DuckDB's list cast (quoted items may hold commas);
    anything else is split on commas and white space. Empty items are dropped; ``strip`` names leading
    characters to remove from each item (``'#'`` for hashtags, ``'@'`` for mentions). Empty text is NULL,
    ``[]`` an empty list.
    """
    t = f"trim({expr})"
    parsed = (f"CASE WHEN {t} = '' THEN NULL WHEN starts_with({t}, '[') THEN try_cast({t} AS VARCHAR[]) "
              f"ELSE regexp_split_to_array({t}, '[,\\s]+') END")
    item = "trim(x, ' \"''')"
    if strip:
        item = f"ltrim({item}, {lit(strip)})"
    return f"list_filter(list_transform({parsed}, x -> {item}), x -> x <> '')"


def bool_sql(expr: str) -> str:
    """SQL converting VARCHAR ``expr`` to BOOLEAN (NULL when it is not one of the accepted words)."""
    t = f"lower(trim({expr}))"
    return (f"CASE WHEN {t} IN ({', '.join(lit(w) for w in TRUE_WORDS)}) THEN true "
            f"WHEN {t} IN ({', '.join(lit(w) for w in FALSE_WORDS)}) THEN false END")


def int_sql(expr: str) -> str:
    """SQL converting VARCHAR ``expr`` to BIGINT; accepts ``1234``, ``1,234`` and ``1234.0``."""
    t = f"trim({expr})"
    return (f"COALESCE(try_cast({t} AS BIGINT), "
            f"try_cast(try_cast(replace({t}, ',', '') AS DOUBLE) AS BIGINT))")


def id_sql(expr: str) -> str:
    """SQL for an id column: trimmed text, NULL when empty (ids are strings everywhere in echoscope)."""
    return blank_to_null(expr)


def synonym_sql(expr: str, synonyms: Mapping[str, str]) -> str:
    """SQL mapping VARCHAR ``expr`` (lower-cased, trimmed) through ``synonyms``; NULL when not listed."""
    t = f"lower(trim({expr}))"
    cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in synonyms.items())
    return f"CASE {t} {cases} END"


def kind_sql(expr: str) -> str:
    """SQL normalising a post kind (``retweet``/``rt`` -> ``repost``, ``quote_tweet`` -> ``quote``...)."""
    return synonym_sql(expr, KIND_SYNONYMS)


def status_sql(expr: str) -> str:
    """SQL normalising an account status (``not found``/``deactivated`` -> ``deleted``...)."""
    return synonym_sql(expr, STATUS_SYNONYMS)


def translate_sql(expr: str, table: Mapping[str, str | None]) -> str:
    """SQL replacing whole values of ``expr`` (compared after trimming) by ``table``; others pass unchanged.

    A ``None`` (or empty) replacement turns the value into NULL.
    """
    if not table:
        return expr
    cases = " ".join(f"WHEN {lit(k)} THEN {lit(v if v else None)}" for k, v in table.items())
    return f"(CASE trim({expr}) {cases} ELSE {expr} END)"


def describe_kinds() -> str:
    """One line listing the accepted post-kind spellings (for error messages and docs)."""
    by: dict[str, list[str]] = {}
    for k, v in KIND_SYNONYMS.items():
        by.setdefault(v, []).append(k)
    return "; ".join(f"{v}: {', '.join(ks)}" for v, ks in by.items())


def describe_statuses() -> str:
    """One line listing the accepted account-status spellings."""
    by: dict[str, list[str]] = {}
    for k, v in STATUS_SYNONYMS.items():
        by.setdefault(v, []).append(k)
    return "; ".join(f"{v}: {', '.join(ks)}" for v, ks in by.items())


__all__ = ["KIND_SYNONYMS", "STATUS_SYNONYMS", "TIMESTAMP_FORMATS", "lit", "ident", "blank_to_null",
           "timestamp_sql", "date_sql", "list_sql", "bool_sql", "int_sql", "id_sql", "kind_sql", "status_sql",
           "translate_sql", "synonym_sql", "describe_kinds", "describe_statuses"]

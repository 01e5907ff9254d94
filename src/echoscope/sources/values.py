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

from collections.abc import Callable, Mapping

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
    """``expr`` with empty text turned into NULL.

    Values are not trimmed: on a small machine every string DuckDB builds costs a few hundred nanoseconds a
    row, and CSV writers do not pad values. The parsers below trim where it matters (as a slow fallback).
    """
    return f"NULLIF({expr}, '')"


def _first_non_null(*alternatives: str) -> str:
    """Like COALESCE, but lazy: DuckDB evaluates every COALESCE argument, a CASE only what it needs."""
    *head, last = alternatives
    return "CASE " + " ".join(f"WHEN ({a}) IS NOT NULL THEN ({a})" for a in head) + f" ELSE ({last}) END"


def timestamp_sql(expr: str) -> str:
    """SQL converting VARCHAR ``expr`` to TIMESTAMPTZ (UTC), NULL when no accepted spelling matches.

    DuckDB's own cast reads ISO 8601 with or without offset, ``Z``, fractional seconds and
    ``YYYY-MM-DD HH:MM[:SS]``; only values it rejects go on to the epoch and ``strptime`` fallbacks.
    """
    t = f"trim({expr})"
    fmts = "[" + ", ".join(lit(f) for f in TIMESTAMP_FORMATS) + "]"
    # epoch numbers: seconds below 1e11 (year 5138), milliseconds below 1e14, microseconds above
    num = f"try_cast({t} AS DOUBLE)"
    epoch = (f"CASE WHEN regexp_full_match({t}, '-?[0-9]+(\\.[0-9]*)?') THEN "
             f"(CASE WHEN abs({num}) < 1e11 THEN to_timestamp({num}) "
             f"WHEN abs({num}) < 1e14 THEN to_timestamp({num} / 1e3) "
             f"ELSE to_timestamp({num} / 1e6) END) END")
    return (f"CASE WHEN {expr} IS NULL THEN NULL::TIMESTAMPTZ ELSE "
            + _first_non_null(f"try_cast({expr} AS TIMESTAMPTZ)", f"try_cast({t} AS TIMESTAMPTZ)", epoch,
                              f"try_strptime({t}, {fmts})::TIMESTAMPTZ") + " END")


def date_sql(expr: str) -> str:
    """SQL converting a date (``YYYY-MM-DD``; any timestamp spelling as a fallback) to a naive UTC TIMESTAMP.

    Dates carry no offset, so the cheap DATE cast is exact; the result is naive (UTC) and becomes a UTC
    timestamp when the sink conforms it to the schema.
    """
    return (f"CASE WHEN {expr} IS NULL THEN NULL::TIMESTAMP ELSE "
            + _first_non_null(f"try_cast({expr} AS DATE)::TIMESTAMP",
                              f"timezone('UTC', {timestamp_sql(expr)})") + " END")


def list_sql(expr: str, strip: str = "") -> str:
    """SQL converting VARCHAR ``expr`` to VARCHAR[].

    ``[a, b]``, ``['a', 'b']`` and JSON arrays go through DuckDB's list cast (quoted items may hold commas);
    anything else is split on commas and white space. Empty items are dropped; ``strip`` names leading
    characters to remove from each item (``'#'`` for hashtags, ``'@'`` for mentions). Empty text is NULL,
    ``[]`` an empty list.
    """
    t = f"trim({expr})"
    parsed = (f"CASE WHEN {expr} IS NULL OR {expr} = '' THEN NULL::VARCHAR[] "
              f"WHEN {expr} = '[]' THEN []::VARCHAR[] "
              f"WHEN starts_with({expr}, '[') THEN try_cast({expr} AS VARCHAR[]) "
              f"ELSE list_filter(regexp_split_to_array({t}, '[,\\s]+'), x -> x <> '') END")
    if not strip:
        return parsed
    cond = " OR ".join(f"contains({expr}, {lit(c)})" for c in strip)
    return (f"CASE WHEN {cond} THEN list_filter(list_transform({parsed}, x -> ltrim(x, {lit(strip)})), "
            f"x -> x <> '') ELSE {parsed} END")


def _word_case(expr: str, table: Mapping[str, str], out_type: str, render: Callable[[str], str]) -> str:
    """CASE over exact spellings (no string is built), falling back to lower(trim()) for the rest."""
    exact: dict[str, str] = {}
    for k, v in table.items():
        for spelling in (k, k.upper(), k.capitalize()):
            exact.setdefault(spelling, v)
    first = " ".join(f"WHEN {lit(k)} THEN {render(v)}" for k, v in exact.items())
    slow = " ".join(f"WHEN {lit(k)} THEN {render(v)}" for k, v in table.items())
    return (f"CASE {expr} {first} ELSE (CASE lower(trim({expr})) {slow} ELSE NULL::{out_type} END) END")


def bool_sql(expr: str) -> str:
    """SQL converting VARCHAR ``expr`` to BOOLEAN (NULL when it is not one of the accepted words)."""
    words = {w: "true" for w in TRUE_WORDS} | {w: "false" for w in FALSE_WORDS}
    return _word_case(expr, words, "BOOLEAN", lambda v: v)


def int_sql(expr: str) -> str:
    """SQL converting VARCHAR ``expr`` to BIGINT; accepts ``1234``, ``1,234`` and ``1234.0``."""
    return _first_non_null(f"try_cast({expr} AS BIGINT)",
                           f"try_cast(try_cast(replace(trim({expr}), ',', '') AS DOUBLE) AS BIGINT)")


def id_sql(expr: str) -> str:
    """SQL for an id column: text, NULL when empty (ids are strings everywhere in echoscope)."""
    return blank_to_null(expr)


def handle_sql(expr: str) -> str:
    """SQL for a handle: without the leading ``@`` (the string is rebuilt only when there is one)."""
    return f"CASE WHEN starts_with({expr}, '@') THEN NULLIF(ltrim({expr}, '@'), '') ELSE NULLIF({expr}, '') END"


def synonym_sql(expr: str, synonyms: Mapping[str, str]) -> str:
    """SQL mapping VARCHAR ``expr`` (any case, trimmed) through ``synonyms``; NULL when not listed."""
    return _word_case(expr, synonyms, "VARCHAR", lit)


def kind_sql(expr: str) -> str:
    """SQL normalising a post kind (``retweet``/``rt`` -> ``repost``, ``quote_tweet`` -> ``quote``...)."""
    return synonym_sql(expr, KIND_SYNONYMS)


def status_sql(expr: str) -> str:
    """SQL normalising an account status (``not found``/``deactivated`` -> ``deleted``...)."""
    return synonym_sql(expr, STATUS_SYNONYMS)


def translate_sql(expr: str, table: Mapping[str, str | None]) -> str:
    """SQL replacing whole values of ``expr`` (compared exactly) by ``table``; other values pass unchanged.

    A ``None`` (or empty) replacement turns the value into NULL.
    """
    if not table:
        return expr
    cases = " ".join(f"WHEN {lit(k)} THEN {lit(v if v else None)}" for k, v in table.items())
    return f"(CASE {expr} {cases} ELSE {expr} END)"


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


__all__ = [
    "KIND_SYNONYMS",
    "STATUS_SYNONYMS",
    "TIMESTAMP_FORMATS",
    "blank_to_null",
    "bool_sql",
    "date_sql",
    "describe_kinds",
    "describe_statuses",
    "handle_sql",
    "id_sql",
    "ident",
    "int_sql",
    "kind_sql",
    "list_sql",
    "lit",
    "status_sql",
    "synonym_sql",
    "timestamp_sql",
    "translate_sql",
]

r"""DuckDB SQL run on Spark with DuckDB's results: sqlglot plus the few hooks where the engines' semantics differ.

Why: every data-sized coordination stage (a behaviour's actions, integer ids, pruning, the dense-window guard,
pairing) is written once, in DuckDB SQL (:mod:`.coactions`, :mod:`.stages`). On the Spark engine the same text
is transpiled here. sqlglot maps names and syntax (``unnest`` -> ``explode``, ``list_filter`` -> ``filter``,
``SEMI JOIN``, ``arg_min`` -> ``min_by``, DuckDB's default ``NULLS LAST``); what it cannot know is where the
two engines give different *values* for the same function, which is what the hooks below fix:

* regular expressions: RE2 (DuckDB) and Java (Spark) disagree on ``$`` (RE2: end of text; Java: also before a
  final line break), ``.`` (Java's also stops at ``\r``, U+0085, U+2028, U+2029), ``\s`` (Java's includes the
  vertical tab), Unicode classes (the JDK's tables are older than RE2's: emoji of Unicode 14 and later, e.g.
  U+1FAE0, are symbols to RE2 and unassigned to Java 17) and replacement syntax (``\1`` against ``$1``); and
  DuckDB's ``regexp_replace`` without ``'g'`` replaces the first match only, Spark's every match.
  :func:`java_regex` rewrites a pattern so that Java matches what RE2 matches; a bracket class with escapes
  is replaced by the code points DuckDB itself puts in it (:func:`duckdb_class`);
* ``lower`` and ``trim``: Java's full case mapping turns a word-final capital sigma into final sigma and
  dotted capital I into two characters, and Spark's ``trim`` removes the ASCII space only; both are replaced
  by DuckDB's own tables (``translate`` with every character DuckDB's ``lower`` changes, a class of the
  characters its ``trim`` removes);
* ``list_distinct`` drops NULLs in DuckDB, ``array_distinct`` keeps one; ``len`` of a list is ``size``;
* decimal literals (``60.0`` is a decimal in Spark SQL) become doubles, as a window's ``RANGE`` bound needs;
* ``epoch_us`` is ``unix_micros``; DuckDB's text of a timestamp (``echo_ts_text``) is written out;
* the normalisation macros (:data:`.coactions.MACROS`) are expanded in place.

DuckDB's ``hash()`` has no Spark equivalent with the same values: stages that use it (the null model's
shuffles, the object halves) run on DuckDB for both engines, and :func:`to_spark` refuses it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import sqlglot
from sqlglot import exp

from ..errors import ConfigError
from .coactions import MACROS

#: RE2's ``\s`` and ``\S`` (Java's ``\s`` adds the vertical tab)
_SPACE, _NON_SPACE = r"[\t\n\f\r ]", r"[^\t\n\f\r ]"

#: every code point but the surrogates (no characters of their own), as a DuckDB relation (i, c)
_CODEPOINTS = ("(SELECT i, chr(i::INTEGER) AS c FROM (SELECT range AS i FROM range(1, 55296) UNION ALL "
               "SELECT range FROM range(57344, 1114112)))")


@functools.lru_cache(maxsize=1)
def _unicode_con() -> Any:
    from ..settings import duckdb_connection

    return duckdb_connection()


@functools.lru_cache(maxsize=64)
def duckdb_set(test: str) -> str:
    """A Java character class of the code points ``c`` for which DuckDB's SQL ``test`` holds (one query)."""
    ranges = _unicode_con().execute(f"""SELECT min(i), max(i) FROM (SELECT i, i - row_number() OVER (ORDER BY i) AS g
        FROM {_CODEPOINTS} WHERE {test}) GROUP BY g ORDER BY 1""").fetchall()
    if not ranges:
        raise ConfigError(f"no character satisfies {test} in DuckDB: a class that matches nothing")
    return _java_class([(int(lo), int(hi)) for lo, hi in ranges])


def duckdb_class(cls: str) -> str:
    """The Java class of the code points RE2 (DuckDB) matches with the bracket class ``cls`` (e.g. ``[\\pP\\pS]``)."""
    return duckdb_set("regexp_matches(c, '" + cls.replace("'", "''") + "')")


@functools.lru_cache(maxsize=1)
def duckdb_lower() -> tuple[str, str]:
    """Every character DuckDB's ``lower`` changes and what it makes of each (one code point each), for
    ``translate``."""
    pairs = _unicode_con().execute(f"SELECT c, lower(c) FROM {_CODEPOINTS} WHERE lower(c) <> c ORDER BY i").fetchall()
    if any(len(lo) != 1 for _, lo in pairs):  # pragma: no cover - utf8proc's simple mapping is one to one
        raise ConfigError("DuckDB's lower maps a character to several: translate cannot reproduce it")
    return "".join(c for c, _ in pairs), "".join(lo for _, lo in pairs)


def _java_class(ranges: list[tuple[int, int]]) -> str:
    """A Java regex class of the sorted, disjoint code point ``ranges``, tested in O(log n).

    Java tests a class of ranges one range after the other (a union of hundreds: ~10x slower than the
    built-in ``\\pP``); so the ranges are split in halves at a code point, each half intersected with its side
    (``[[[lo-side]&&[..]][[hi-side]&&[..]]]``, Java stops at the first failing side), a search tree.
    """
    def one(lo: int, hi: int) -> str:
        return f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}"

    if len(ranges) <= 8:
        return "[" + "".join(one(lo, hi) for lo, hi in ranges) + "]"
    m = ranges[len(ranges) // 2][0]
    return (f"[[[{one(0, m - 1)}]&&{_java_class(ranges[:len(ranges) // 2])}]"
            f"[[{one(m, 0x10FFFF)}]&&{_java_class(ranges[len(ranges) // 2:])}]]")


def _class_end(p: str, i: int) -> int:
    """Index of the ``]`` closing the RE2 bracket class that starts at ``p[i] == '['``."""
    j = i + 1
    if p[j:j + 1] == "^":
        j += 1
    if p[j:j + 1] == "]":  # a leading ] is a literal
        j += 1
    while j < len(p):
        if p[j] == "\\":
            j += 2
            continue
        if p[j:j + 2] == "[:":  # [:alpha:]
            j = p.index(":]", j + 2) + 2
            continue
        if p[j] == "]":
            return j
        j += 1
    raise ConfigError(f"regular expression '{p}': unclosed character class")


def java_regex(p: str) -> str:
    r"""A Java pattern that matches exactly what RE2 (DuckDB) matches with pattern ``p``.

    ``$`` becomes ``\z``, ``.`` gets Java's ``(?d)`` flag (only ``\n`` ends it, as in RE2), ``\s``/``\S`` are
    written out, a ``\p`` class or a bracket class with escapes, non-ASCII or nested brackets becomes the code
    points DuckDB puts in it. Constructs whose meaning differs and that the coordination SQL does not use
    (inline flags, word boundaries, Unicode-aware ``\w``) are refused rather than translated loosely.
    """
    out: list[str] = []
    dot = False
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            n = p[i + 1:i + 2]
            if n == "s":
                out.append(_SPACE)
            elif n == "S":
                out.append(_NON_SPACE)
            elif n in ("p", "P"):
                m = re.match(r"\\[pP](\{[^}]*\}|.)", p[i:])
                if not m:
                    raise ConfigError(f"regular expression '{p}': bad \\p escape")
                out.append(duckdb_class(f"[{m.group(0)}]"))
                i += len(m.group(0))
                continue
            elif n.isalnum() and n not in "dDtnrf":
                raise ConfigError(f"regular expression '{p}': \\{n} has no translation for Spark (dialect.java_regex)")
            else:
                out.append(p[i:i + 2])
            i += 2
        elif c == "[":
            j = _class_end(p, i)
            body = p[i:j + 1]
            plain = body.isascii() and "\\" not in body and "[" not in body[1:] and "&&" not in body
            out.append(body if plain else duckdb_class(body))
            i = j + 1
        else:
            if c == "(" and p[i + 1:i + 2] == "?" and p[i + 2:i + 3] != ":":
                raise ConfigError(f"regular expression '{p}': inline flags have no exact translation for Spark")
            dot = dot or c == "."
            out.append("\\z" if c == "$" else c)
            i += 1
    return ("(?d)" if dot else "") + "".join(out)


def java_replacement(r: str, shift: int = 0) -> str:
    r"""RE2's replacement ``r`` (``\1`` a group, ``\\`` a backslash) in Java's syntax (``$1``, ``\$``), groups
    numbered ``shift`` higher."""
    out: list[str] = []
    i = 0
    while i < len(r):
        c = r[i]
        if c == "\\" and r[i + 1:i + 2].isdigit():
            out.append(f"${int(r[i + 1]) + shift}")
            i += 2
        elif c == "\\" and r[i + 1:i + 2] == "\\":
            out.append("\\\\")
            i += 2
        else:
            out.append("\\$" if c == "$" else c)
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------- the hooks
def _template(spark_sql: str, **nodes: Any) -> Any:
    """A Spark SQL expression with the placeholders ``__name`` replaced by the given nodes."""
    tree = sqlglot.parse_one(spark_sql, read="spark")
    return tree.transform(lambda n: nodes[n.name[2:]].copy()
                          if isinstance(n, exp.Column) and n.name.startswith("__") else n)


def _literal(node: Any, what: str) -> str:
    if not isinstance(node, exp.Literal) or not node.is_string:
        raise ConfigError(f"{what} must be a string literal to run on Spark, not {node.sql('duckdb')}")
    return str(node.this)


def _regexp_replace(node: Any) -> Any:
    pat = _literal(node.expression, "a regexp_replace pattern")
    rep = _literal(node.args.get("replacement"), "a regexp_replace replacement")
    mods = node.args.get("modifiers")
    mods = _literal(mods, "regexp_replace options") if mods is not None else ""
    if set(mods) - {"g"}:
        raise ConfigError(f"regexp_replace options '{mods}': only 'g' has a translation for Spark")
    java = java_regex(pat)
    if "g" in mods or pat.startswith("^"):
        # every match (Spark's own behaviour); a pattern anchored at the start matches once at most
        java_rep = java_replacement(rep)
    else:
        # DuckDB without 'g': the first match only. The lazy prefix finds the leftmost match, \A stops there
        flag, body = ("(?d)", java[4:]) if java.startswith("(?d)") else ("", java)
        java = f"{flag}\\A([\\s\\S]*?)(?:{body})"
        java_rep = "$1" + java_replacement(rep, shift=1)
    return exp.RegexpReplace(this=node.this, expression=exp.Literal.string(java),
                             replacement=exp.Literal.string(java_rep))


def _regexp(node: Any) -> Any:
    java = java_regex(_literal(node.expression, "a regular expression"))
    if isinstance(node, exp.RegexpLike) and node.args.get("flag") is not None:
        raise ConfigError("regexp_matches options have no translation for Spark")
    node.set("expression", exp.Literal.string(java))
    return node


def lower_node(x: Any) -> Any:
    """DuckDB's ``lower`` of ``x`` as a Spark expression (its own mapping, character by character)."""
    frm, to = duckdb_lower()
    return _template("translate(__x, __f, __t)", x=x, f=exp.Literal.string(frm), t=exp.Literal.string(to))


def trim_node(x: Any) -> Any:
    """DuckDB's ``trim`` of ``x`` as a Spark expression (it removes every Unicode space separator)."""
    sp = duckdb_set("trim(c) = ''")
    return exp.RegexpReplace(this=x, expression=exp.Literal.string(f"^{sp}+|{sp}+\\z"),
                             replacement=exp.Literal.string(""))


def ts_text_node(x: Any) -> Any:
    """DuckDB's ``CAST(x AS VARCHAR)`` of a TIMESTAMPTZ in UTC: ``2020-01-01 12:00:00.25+00`` (the fraction
    without trailing zeros, none when whole seconds; years 1-9999)."""
    return _template("concat(date_format(__x, 'yyyy-MM-dd HH:mm:ss'), CASE WHEN pmod(unix_micros(__x), 1000000) = 0 "
                     "THEN '' ELSE concat('.', regexp_replace(lpad(CAST(pmod(unix_micros(__x), 1000000) AS STRING), "
                     "6, '0'), '0+$', '')) END, '+00')", x=x)


def _anonymous(node: Any) -> Any:
    name = node.name.lower()
    if name == "epoch_us":
        return exp.Anonymous(this="unix_micros", expressions=node.expressions)
    if name == "echo_ts_text":
        return ts_text_node(node.expressions[0])
    if name == "hash":
        raise ConfigError("DuckDB's hash() has no Spark equivalent with the same values; the stage that uses it "
                          "runs on DuckDB (see echoscope.coordination.dialect)")
    return node


def _trim(node: Any) -> Any:
    if node.args.get("expression") is not None or node.args.get("position") not in (None, "BOTH"):
        raise ConfigError("only trim(x) without characters has a translation for Spark")
    return trim_node(node.this)


def _number(node: Any) -> Any:
    if node.is_string or node.is_int:
        return node
    return exp.Cast(this=node, to=exp.DataType.build("DOUBLE"))


def _hooks() -> dict[type, Callable[[Any], Any]]:
    return {
        exp.Literal: _number,
        exp.Anonymous: _anonymous,
        exp.Lower: lambda n: lower_node(n.this),
        exp.Trim: _trim,
        exp.Length: lambda n: exp.ArraySize(this=n.this),  # len() of a list (the only len in the stages)
        exp.ArrayDistinct: lambda n: exp.ArrayDistinct(this=_template("filter(__x, _e -> _e IS NOT NULL)", x=n.this)),
        exp.RegexpReplace: _regexp_replace,
        exp.RegexpLike: _regexp,
        exp.RegexpExtract: _regexp,
    }


def _expand_macros(node: Any) -> Any:
    """``node`` with every call of a macro of :data:`.coactions.MACROS` replaced by its body (recursively)."""

    def visit(n: Any) -> Any:
        if not isinstance(n, exp.Anonymous) or n.name.lower() not in MACROS or n.name.lower() == "echo_ts_text":
            return n
        params, body = MACROS[n.name.lower()]
        args = {p: _expand_macros(a) for p, a in zip(params, n.expressions)}
        tree = _expand_macros(sqlglot.parse_one(body, read="duckdb"))
        tree = tree.transform(lambda c: args[c.name].copy() if isinstance(c, exp.Column) and not c.table
                              and c.name in args else c)
        return exp.Paren(this=tree)

    return node.transform(visit)


def _rewrite(node: Any, hooks: dict[type, Callable[[Any], Any]], tables: Mapping[str, str]) -> Any:
    """Post-order: the children first (a hook sees Spark children), then the node's own hook."""
    for key, value in list(node.args.items()):
        if isinstance(value, exp.Expression):
            node.set(key, _rewrite(value, hooks, tables))
        elif isinstance(value, list):
            node.set(key, [_rewrite(v, hooks, tables) if isinstance(v, exp.Expression) else v for v in value])
    if isinstance(node, exp.Table) and not node.args.get("db") and node.name in tables:
        node.set("this", exp.to_identifier(tables[node.name]))
        return node
    hook = hooks.get(type(node))
    return hook(node) if hook else node


def to_spark(sql: str, tables: Mapping[str, str] | None = None, *,
             edit: Callable[[exp.Expression], None] | None = None) -> str:
    """Spark SQL giving DuckDB's results for the DuckDB query ``sql`` (see the module docstring).

    Parameters
    ----------
    sql : str
        A DuckDB query or expression.
    tables : mapping, optional
        Table names to replace (a run's own view names on Spark).
    edit : callable, optional
        Called with the parsed query (macros expanded) before it is translated, to change it in place.
    """
    tree = _expand_macros(sqlglot.parse_one(sql, read="duckdb"))
    if edit is not None:
        edit(tree)
    return str(_rewrite(tree, _hooks(), tables or {}).sql(dialect="spark"))


def url_sql(col: str) -> str:
    """Spark SQL of ``echo_norm_url(col)`` (co-link's URL normalisation; :data:`.coactions.MACROS`)."""
    return to_spark(f"echo_norm_url({col})")


def text_sql(col: str) -> str:
    """Spark SQL of ``echo_norm_text(col)`` (co-text's text normalisation; :data:`.coactions.MACROS`)."""
    return to_spark(f"echo_norm_text({col})")


def lower_sql(col: str) -> str:
    """Spark SQL of DuckDB's ``lower(col)``."""
    return to_spark(f"lower({col})")


__all__ = ["duckdb_class", "duckdb_lower", "duckdb_set", "java_regex", "java_replacement", "lower_sql", "text_sql",
           "to_spark", "url_sql"]

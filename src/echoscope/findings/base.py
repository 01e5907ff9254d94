"""What every findings query needs: which run is shown, its parameters, the columns a stored table has, and
the one-line errors that say which command fills a missing table.

Why shaped so: the analyses are being extended while their tables keep their names; a findings query reads
columns by name and selects ``NULL`` for one a table lacks, so an older or newer table still reads. Runs:
``Engine(study, runs={"coordination": ID})`` shows a stored run's tables under the usual names, and
:func:`run_selection` turns ``--run ID`` into that mapping.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from ..engine import Engine
from ..engine.analysis import ANALYSIS_COMMANDS, ANALYSIS_TABLES
from ..errors import ConfigError, StudyError
from ..store.study import StudyStore

#: the largest page any findings query returns (a request for more is cut to this)
MAX_PAGE = 500

#: latest account handle per account id (a handle can change; the newest observation wins); ``{ids}`` is an
#: ``IN`` list of placeholders (:func:`placeholders`): a constant list is pushed into the Parquet scan, which a
#: semi-join on an unnested array is not
HANDLE_SQL = """SELECT account_id, first(handle ORDER BY (handle IS NULL), observed_at DESC NULLS LAST) AS handle
    FROM accounts WHERE account_id IN {ids} GROUP BY account_id"""

#: latest status check per account id (``{ids}`` as for :data:`HANDLE_SQL`)
STATUS_SQL = """SELECT account_id, arg_max(status, coalesce(checked_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'))
    AS status, max(checked_at) AS checked_at FROM account_status WHERE account_id IN {ids} GROUP BY account_id"""


def placeholders(values: list[Any]) -> str:
    """``(?, ?, ?)`` for an ``IN`` list of ``values`` (``(NULL)`` when empty: matches nothing)."""
    return "(" + ", ".join(["?"] * len(values)) + ")" if values else "(NULL)"


def page(limit: int | None, offset: int | None, default: int = 50) -> tuple[int, int]:
    """A bounded ``(limit, offset)``: limit in 1..:data:`MAX_PAGE`, offset >= 0."""
    lim = default if limit is None else int(limit)
    return max(1, min(lim, MAX_PAGE)), max(0, int(offset or 0))


_SCHEMAS: weakref.WeakKeyDictionary[Engine, tuple[Any, dict[str, set[str]]]] = weakref.WeakKeyDictionary()
_SCHEMA_LOCK = threading.Lock()


def _schema(engine: Engine) -> dict[str, set[str]]:
    """Every table and view of ``engine`` with its columns, read in one query and kept until the study's
    manifest generation or the shown runs change (a page asks for a dozen tables' columns)."""
    raw = engine.raw  # registers the views of the current generation first
    key = (engine.study.manifest().generation, tuple(sorted(engine.runs.items())))
    with _SCHEMA_LOCK:
        hit = _SCHEMAS.get(engine)
        if hit is not None and hit[0] == key:
            return hit[1]
    out: dict[str, set[str]] = {}
    for table, column in raw.execute("SELECT table_name, column_name FROM duckdb_columns() "
                                     "WHERE NOT internal").fetchall():
        out.setdefault(str(table), set()).add(str(column))
    with _SCHEMA_LOCK:
        _SCHEMAS[engine] = (key, out)
    return out


def targets_table(engine: Engine) -> str:
    """The ``targets`` view copied into a temp table of the engine's connection, once per manifest generation.

    The view resolves handles against every account (window functions over the accounts table): a second or
    more at a million accounts, for a result of a few rows, on every account page. The copy lives in the
    engine's in-memory DuckDB, never in the study.
    """
    _schema(engine)
    key = (engine.study.manifest().generation, tuple(sorted(engine.runs.items())))
    with _SCHEMA_LOCK:
        if _TARGETS.get(engine) == key:
            return "_findings_targets"
    engine.raw.execute(f"CREATE OR REPLACE TEMP TABLE _findings_targets AS {_targets_sql()}")
    with _SCHEMA_LOCK:
        _TARGETS[engine] = key
    return "_findings_targets"


_TARGETS: weakref.WeakKeyDictionary[Engine, Any] = weakref.WeakKeyDictionary()


def _targets_sql() -> str:
    """The engine's targets view (it reads only the accounts the targets name; engine/views.py)."""
    return "SELECT * FROM targets"


def columns(engine: Engine, table: str) -> set[str]:
    """Column names of a stored table or view (empty when it is absent)."""
    return set(_schema(engine).get(table, ()))


def has_table(engine: Engine, table: str) -> bool:
    """Is ``table`` a stored table or view of ``engine``?"""
    return table in _schema(engine)


def col(name: str, have: set[str], alias: str | None = None, prefix: str = "", cast: str | None = None) -> str:
    """``prefix."name"`` when the table has it, else ``NULL``; ``AS alias`` (default the name)."""
    expr = f'{prefix}"{name}"' if name in have else "NULL"
    if cast:
        expr = f"CAST({expr} AS {cast})"
    return f'{expr} AS "{alias or name}"'


def has_results(engine: Engine, analysis: str) -> bool:
    """Are all of ``analysis``'s tables stored (``coordination``, ``accounts``, ``measures``)?"""
    return all(has_table(engine, t) for t in ANALYSIS_TABLES[analysis])


def require_coordination(engine: Engine) -> None:
    """Raise a one-line StudyError naming ``echoscope coordinate`` when the study has no coordination results."""
    missing = [t for t in ANALYSIS_TABLES["coordination"] if not has_table(engine, t)]
    if missing:
        path = engine.study.path
        raise StudyError(f"{path} has no coordination results yet ({', '.join(missing)} missing); "
                         f"'{ANALYSIS_COMMANDS['coordination']} {path}' fills them")


def run_selection(study: StudyStore, run: str | None) -> dict[str, str]:
    """``--run ID`` as the ``runs`` mapping of :class:`~echoscope.engine.Engine`.

    ``None`` or ``latest`` shows the latest tables (``{}``); a stored run id (of ``coordinate`` or ``score``;
    several comma-separated) shows that run's tables. Raises ConfigError naming the stored runs otherwise.
    """
    if run is None or run.strip() in ("", "latest"):
        return {}
    m = study.manifest()
    chosen: dict[str, str] = {}
    for rid in (r.strip() for r in run.split(",") if r.strip()):
        if rid == "latest":
            continue
        entry = m.run(rid)
        if entry is None:
            stored = [r.get("id") for a in ("coordination", "accounts") for r in m.runs(a) if r.get("id")]
            listing = ", ".join(str(s) for s in stored[-8:]) if stored else "none stored yet"
            raise ConfigError(f"--run {rid}: no stored run with that id in {study.path}; give 'latest' or one "
                              f"of the stored runs ({listing})")
        chosen[str(entry.get("analysis"))] = rid
    return chosen


def run_info(engine: Engine, analysis: str) -> dict[str, Any] | None:
    """The run whose tables ``engine`` shows for ``analysis``: ``run_id``, ``written_at``, ``parameters``,
    ``summary``, ``latest`` (None when the analysis has no stored tables)."""
    m = engine.study.manifest()
    rid = engine.runs.get(analysis)
    if rid:
        r = m.run(rid)
        if r is not None:
            return {"run_id": rid, "written_at": r.get("written_at"), "parameters": r.get("parameters") or {},
                    "summary": r.get("summary") or {}, "latest": False}
    first = ANALYSIS_TABLES[analysis][0]
    entry = m.result(first)
    if entry is None:
        # a table of the analysis other than the first (an older run may lack one)
        entry = next((m.result(t) for t in ANALYSIS_TABLES[analysis] if m.result(t) is not None), None)
    if entry is None:
        return None
    meta = entry.get("meta") or {}
    summary = meta.get("summary") if isinstance(meta.get("summary"), dict) else meta
    params = summary.get("parameters") if isinstance(summary.get("parameters"), dict) else {}
    return {"run_id": entry.get("run"), "written_at": entry.get("written_at"), "parameters": params,
            "summary": summary, "latest": True}


def network_behaviour(engine: Engine, summary: dict[str, Any] | None) -> str | None:
    """The behaviour whose edges form the clusters: the run's ``network`` (``fused`` with several behaviours),
    else ``fused`` when stored, else the behaviour with most judged edges."""
    if summary and summary.get("network"):
        return str(summary["network"])
    have = columns(engine, "coord_edges")
    if "behaviour" not in have:
        return None
    sig = 'WHERE "significant"' if "significant" in have else ""
    return engine.scalar(f"""SELECT behaviour FROM coord_edges {sig} GROUP BY 1
        ORDER BY (behaviour = 'fused') DESC, count(*) DESC, behaviour LIMIT 1""")


def handles(engine: Engine, ids: list[str]) -> dict[str, str | None]:
    """Latest handle of each account id (ids without an account row are absent)."""
    if not ids or not has_table(engine, "accounts"):
        return {}
    uniq = sorted({str(i) for i in ids if i is not None})
    if cached(engine):
        return {r["account_id"]: r["handle"] for r in engine.rows(
            f"SELECT account_id, handle FROM _findings_people WHERE account_id IN {placeholders(uniq)}", uniq)}
    return {r["account_id"]: r["handle"] for r in engine.rows(HANDLE_SQL.format(ids=placeholders(uniq)), uniq)}


def statuses(engine: Engine, ids: list[str]) -> dict[str, dict[str, Any]]:
    """Latest status check (``status``, ``checked_at``) of each account id that has one."""
    uniq = sorted({str(i) for i in ids if i is not None})
    if not uniq:
        return {}
    if cached(engine):
        return {r["account_id"]: r for r in engine.rows(f"""SELECT account_id, status, checked_at FROM _findings_people
            WHERE account_id IN {placeholders(uniq)} AND checked_at IS NOT NULL""", uniq)}
    return {r["account_id"]: r for r in engine.rows(STATUS_SQL.format(ids=placeholders(uniq)), uniq)}


# ---------------------------------------------------------------------------------------------------- the cache
_CACHED: weakref.WeakKeyDictionary[Engine, Any] = weakref.WeakKeyDictionary()

#: the posts a findings page looks up by id: every object and action of the stored evidence, and the targets'
#: posts (what amplifiers answer); ``{ev}`` is the evidence table's name
_CACHE_POSTS_SQL = """CREATE OR REPLACE TEMP TABLE _findings_posts AS
    WITH ids AS (
        SELECT DISTINCT CAST(object_id AS VARCHAR) AS id FROM {ev}
        UNION SELECT regexp_replace(CAST(object_id AS VARCHAR), '@[0-9]+$', '') FROM {ev}
        UNION SELECT CAST(action_a AS VARCHAR) FROM {ev} UNION SELECT CAST(action_b AS VARCHAR) FROM {ev}),
    p AS (SELECT post_id, account_id, created_at, kind, text, ref_post_id, ref_account_id FROM posts
          WHERE post_id IN (SELECT id FROM ids)
          UNION ALL
          SELECT post_id, account_id, created_at, kind, text, ref_post_id, ref_account_id FROM posts
          WHERE account_id IN (SELECT account_id FROM {targets} WHERE account_id IS NOT NULL))
    SELECT post_id, any_value(account_id) AS account_id, any_value(created_at) AS created_at, any_value(kind) AS kind,
           any_value(text) AS text, any_value(ref_post_id) AS ref_post_id, any_value(ref_account_id) AS ref_account_id
    FROM p GROUP BY post_id ORDER BY post_id"""

_CACHE_PEOPLE_SQL = """CREATE OR REPLACE TEMP TABLE _findings_people AS
    WITH a AS (SELECT account_id,
                      first(handle ORDER BY (handle IS NULL), observed_at DESC NULLS LAST) AS handle,
                      first(display_name ORDER BY (display_name IS NULL), observed_at DESC NULLS LAST) AS display_name
               FROM accounts GROUP BY account_id),
         s AS (SELECT account_id, arg_max(status, coalesce(checked_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'))
                      AS status, max(checked_at) AS checked_at FROM account_status GROUP BY account_id)
    SELECT coalesce(a.account_id, s.account_id) AS account_id, a.handle, a.display_name, s.status, s.checked_at
    FROM a FULL OUTER JOIN s ON s.account_id = a.account_id
    ORDER BY 1"""


def warm(engine: Engine) -> bool:
    """Build (or keep) the lookup cache of a long-lived engine; True when it was (re)built.

    Why: a page looks up a few dozen posts, handles and statuses by id, and each lookup in a Parquet table not
    sorted by id is a full column scan (about a second per lookup at six million posts). The explorer calls
    this once at start (and again whenever the study's manifest changes): two temp tables in the engine's
    in-memory DuckDB -- every account's latest handle, display name and status (``_findings_people``), and the
    posts the stored evidence and the targets point to (``_findings_posts``), each sorted by id so that a
    lookup skips all but a few row groups -- after which lookups read them. Nothing is written to the study.
    One-shot callers (the CLI) skip it: building costs more than the few lookups of one command.
    """
    key = (engine.study.manifest().generation, tuple(sorted(engine.runs.items())))
    with _SCHEMA_LOCK:
        if _CACHED.get(engine) == key:
            return False
        _CACHED.pop(engine, None)
    engine.raw.execute(_CACHE_PEOPLE_SQL)
    # the targets view resolves handles over every account: evaluated once (targets_table), not per post
    targets = targets_table(engine)
    ev = "coord_evidence"
    if not (has_table(engine, ev) and {"object_id", "action_a", "action_b"} <= columns(engine, ev)):
        ev = "(SELECT NULL::VARCHAR AS object_id, NULL::VARCHAR AS action_a, NULL::VARCHAR AS action_b LIMIT 0)"
    engine.raw.execute(_CACHE_POSTS_SQL.format(ev=ev, targets=targets))
    with _SCHEMA_LOCK:
        _CACHED[engine] = key
    return True


#: columns of a post as the findings read it
POST_COLUMNS = ("post_id", "account_id", "created_at", "kind", "text", "ref_post_id", "ref_account_id")


def posts_by_id(engine: Engine, ids: list[str], *, fallback: bool = True) -> dict[str, dict[str, Any]]:
    """Posts by id (:data:`POST_COLUMNS`): from the cache of :func:`warm` when current, and from the posts
    table for ids the cache lacks (all of them without a cache) unless ``fallback`` is False."""
    wanted = sorted({str(i) for i in ids if i is not None})
    if not wanted:
        return {}
    cols = ", ".join(POST_COLUMNS)
    out: dict[str, dict[str, Any]] = {}
    if cached(engine):
        out = {r["post_id"]: r for r in engine.rows(
            f"SELECT {cols} FROM _findings_posts WHERE post_id IN {placeholders(wanted)}", wanted)}
        wanted = [i for i in wanted if i not in out]
        if not wanted or not fallback:
            return out
    agg = ", ".join(f"any_value({c}) AS {c}" for c in POST_COLUMNS[1:])
    out.update({r["post_id"]: r for r in engine.rows(
        f"SELECT post_id, {agg} FROM posts WHERE post_id IN {placeholders(wanted)} GROUP BY post_id", wanted)})
    return out


def cached(engine: Engine) -> bool:
    """Is the lookup cache of :func:`warm` current for ``engine``?"""
    key = (engine.study.manifest().generation, tuple(sorted(engine.runs.items())))
    with _SCHEMA_LOCK:
        return _CACHED.get(engine) == key


__all__ = ["HANDLE_SQL", "MAX_PAGE", "STATUS_SQL", "col", "columns", "handles", "has_results", "has_table",
           "network_behaviour", "page", "placeholders", "require_coordination", "run_info", "run_selection",
           "cached", "posts_by_id", "statuses", "targets_table", "warm"]

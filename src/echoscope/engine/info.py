"""What a study holds: tables and row counts, time span, ingested files, quarantine (``echoscope info``)."""

from __future__ import annotations

from typing import Any

from .. import schema as S
from ..store.study import StudyStore
from . import Engine


def study_info(study: StudyStore, engine: Engine | None = None) -> dict[str, Any]:
    """The ``echoscope info --json`` document (documented in docs/cli.md; keys are a stable contract)."""
    eng = engine or Engine(study)
    m = study.manifest()
    con = eng.raw
    tables: dict[str, dict[str, Any]] = {}
    for name in S.ALL_TABLES:
        rows = m.table_rows(name)
        tables[name] = {"rows": rows}
    tables["engagements"] = {"rows": int(con.execute("SELECT count(*) FROM engagements").fetchone()[0])}
    by_kind = dict(con.execute("SELECT kind, count(*) FROM engagements GROUP BY kind ORDER BY kind").fetchall())
    tables["engagements"]["by_kind"] = {k: int(v) for k, v in by_kind.items()}
    span = {}
    for name, col in (("posts", "created_at"), ("engagements", "created_at")):
        lo, hi = con.execute(f"SELECT strftime(min({col}), '%Y-%m-%dT%H:%M:%SZ'), "
                             f"strftime(max({col}), '%Y-%m-%dT%H:%M:%SZ') FROM {name}").fetchone()
        span[name] = {"first": lo, "last": hi}
    for name in m.result_names():
        tables[name] = {"rows": m.result_rows(name)}
    q = {"rows": tables["quarantine"]["rows"], "by_reason": [], "by_file": []}
    if q["rows"]:
        q["by_reason"] = [{"reason": r, "rows": int(n)} for r, n in con.execute(
            "SELECT regexp_replace(reason, '[0-9]+', 'N', 'g') AS r, count(*) n FROM quarantine "
            "GROUP BY r ORDER BY n DESC, r LIMIT 10").fetchall()]
        q["by_file"] = [{"path": p, "rows": int(n)} for p, n in con.execute(
            "SELECT source, count(*) n FROM quarantine GROUP BY source ORDER BY n DESC, source").fetchall()]
    files = [{k: f.get(k) for k in ("path", "format", "table", "read", "loaded", "quarantined", "duplicates",
                                    "size", "sha256", "ingested_at")} for f in m.files()]
    platforms = [p for (p,) in con.execute(
        "SELECT DISTINCT platform FROM posts UNION SELECT DISTINCT platform FROM accounts ORDER BY 1").fetchall()]
    return {
        "study": str(study.path),
        "name": study.name,
        "generation": m.generation,
        "platforms": platforms,
        "tables": tables,
        "time_span": span,
        "files": files,
        "quarantine": q,
        "reconciled": all(f["read"] == f["loaded"] + f["quarantined"] + f["duplicates"] for f in files),
    }


__all__ = ["study_info"]

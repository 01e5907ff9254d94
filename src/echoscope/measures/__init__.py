"""Amplification measures: who amplifies each target, how much, how fast, and from which kind of account.

The public entry is :func:`measures`; it returns a :class:`Measures` holding lazy Ibis expressions (one set,
run on DuckDB or Spark) with ``to_ibis()``, ``to_arrow()``, ``to_pandas()`` and :meth:`Measures.write` that
stores the ``amplification_*`` result tables in the study. Definitions of every column: ``docs/measures.md``.

>>> from echoscope.measures import measures
>>> m = measures(study, group="diplomats", top="1%")          # doctest: +SKIP
>>> m.to_pandas().query("scope == 'target'")                  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError
from .core import Params, run_duckdb, summary
from .engines import ENGINES, connect

if TYPE_CHECKING:
    from ..store.study import StudyStore as Study

#: result tables written into the study: expression name -> result table name
RESULT_TABLES: dict[str, str] = {
    "summary": "amplification_summary",
    "superspreaders": "amplification_superspreaders",
    "lorenz": "amplification_lorenz",
    "rapidfire": "amplification_rapidfire",
}

_SCOPE_ORDER = {"study": 0, "group": 1, "target": 2}

#: sort keys of each result table (applied in Arrow, so both engines give rows in the same order)
_SORT: dict[str, list[str]] = {
    "summary": ["_scope", "group", "target", "week"],
    "superspreaders": ["_scope", "group", "target", "rank"],
    "lorenz": ["_scope", "group", "target", "amplifiers_rank"],
    "rapidfire": ["actor_id", "start"],
}


def parse_top(value: str | float) -> float:
    """Parse ``--top``: ``1%`` or ``0.01`` (a fraction in (0, 1])."""
    if isinstance(value, (int, float)):
        k = float(value)
        text = str(value)
    else:
        text = value.strip()
        try:
            k = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ConfigError(f"--top '{value}' is not a share; give a percentage like 1% or a fraction like "
                              "0.01") from None
    if not 0.0 < k <= 1.0:
        raise ConfigError(f"--top '{text}' must be above 0 and at most 100% (e.g. 1% or 0.01)")
    return k


def parse_date(value: str | dt.date | None, flag: str) -> dt.date | None:
    """Parse ``YYYY-MM-DD`` (a UTC calendar day)."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{flag} '{value}' is not a date; use YYYY-MM-DD (UTC), e.g. 2020-06-01") from None


class Measures:
    """The measures of one study and parameter set: lazy Ibis expressions plus helpers to run and store them.

    Attributes
    ----------
    params : Params
        The parameters used.
    engine : str
        ``duckdb`` or ``spark``.
    """

    def __init__(self, study: Study, con: Any, params: Params, engine: str, exprs: dict[str, Any]) -> None:
        self.study = study
        self.con = con
        self.params = params
        self.engine = engine
        self._exprs = exprs
        self._cache: dict[str, pa.Table] = {}
        self._raw: dict[str, pa.Table] | None = None

    # ---------------------------------------------------------------- access
    def to_ibis(self, table: str = "summary") -> Any:
        """The Ibis expression of ``table`` (summary, superspreaders, lorenz, rapidfire).

        On DuckDB ``to_arrow`` does not run this expression but the equivalent, faster SQL plan; the expression
        stays available for inspection and for other backends.
        """
        if table not in self._exprs:
            raise ConfigError(f"no measures table '{table}'; tables: {', '.join(self._exprs)}")
        return self._exprs[table]

    def to_arrow(self, table: str = "summary") -> pa.Table:
        """Run ``table`` and return it as Arrow, sorted by scope (study, group, target), group, target, week."""
        if table not in self._cache:
            if self.engine == "duckdb":
                t = self._duckdb_tables()[table]
            else:
                t = self.to_ibis(table).to_pyarrow()
            if "top_k" in t.column_names:  # the parameter itself, not an engine's reading of a literal
                i = t.column_names.index("top_k")
                t = t.set_column(i, "top_k", pa.array([self.params.top] * t.num_rows, pa.float64()))
            self._cache[table] = _sorted(_utc(t), table)
        return self._cache[table]

    def _duckdb_tables(self) -> dict[str, pa.Table]:
        """All four tables at once from the DuckDB SQL plan (:func:`echoscope.measures.core.run_duckdb`)."""
        if self._raw is None:
            schemas = {name: e.schema().to_pyarrow() for name, e in self._exprs.items()}
            self._raw = run_duckdb(self.con, self.params, schemas)
        return self._raw

    def to_pandas(self, table: str = "summary") -> Any:
        return self.to_arrow(table).to_pandas()

    def tables(self) -> dict[str, pa.Table]:
        """Every measures table as Arrow."""
        return {name: self.to_arrow(name) for name in self._exprs}

    def meta(self) -> dict[str, Any]:
        """Parameters, engine and the status-check date range, stored with every result table."""
        s = self.to_arrow("summary")
        study_rows = s.filter(pc.and_(pc.equal(s["scope"], "study"), pc.is_null(s["week"])))
        first = study_rows["status_checked_first"].to_pylist()
        last = study_rows["status_checked_last"].to_pylist()
        return {"parameters": self.params.as_meta(), "engine": self.engine,
                "status_checked_first": first[0].isoformat() if first and first[0] else None,
                "status_checked_last": last[0].isoformat() if last and last[0] else None}

    def write(self, progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, int]:
        """Store every table in the study as ``amplification_*``; returns rows written per result table."""
        meta = self.meta()
        written: dict[str, int] = {}
        for name, result in RESULT_TABLES.items():
            if progress:
                progress({"event": "stage", "message": f"writing {result}"})
            t = self.to_arrow(name)
            self.study.write_result(result, t, meta=meta)
            written[result] = t.num_rows
        return written

    def _repr_html_(self) -> str:
        return self.to_pandas()._repr_html_()

    def __repr__(self) -> str:
        return f"Measures({self.study!r}, engine={self.engine!r}, params={self.params.as_meta()!r})"


def _utc(t: pa.Table) -> pa.Table:
    """Label naive timestamps as UTC (Spark returns session-time-zone values, and its session zone is UTC)."""
    fields = []
    for f in t.schema:
        if pa.types.is_timestamp(f.type):
            f = f.with_type(pa.timestamp("us", tz="UTC"))
        fields.append(f)
    return t.cast(pa.schema(fields))


def _sorted(t: pa.Table, name: str) -> pa.Table:
    keys = _SORT[name]
    if "_scope" in keys:
        order = pa.array([_SCOPE_ORDER.get(v, 9) for v in t["scope"].to_pylist()], pa.int8())
        t2 = t.append_column("_scope", order)
    else:
        t2 = t
    idx = pc.sort_indices(t2, sort_keys=[(k, "ascending", "at_start") for k in keys])
    return t.take(idx)


def _duckdb_connection(study: Study) -> Any:
    """A connection of the measures' own with the measures stage's memory limit (:mod:`echoscope.settings`:
    2 GB by default, so the 10M-engagement reduction does not spill and the process peaks under 3 GiB)."""
    from ..engine import Engine

    eng = Engine(study)
    eng.raw.execute(f"SET memory_limit='{eng.settings.memory_for('measures')}'")
    return eng.ibis


def measures(study: Study, *, group: str | None = None, since: str | dt.date | None = None,
             until: str | dt.date | None = None, top: str | float = 0.01, engine: str = "duckdb",
             rapid_latency_s: float = 10.0, rapid_min_posts: int = 3, risk_threshold: float = 0.7,
             lorenz_points: int = 100, cache: bool | None = None, **engine_options: Any) -> Measures:
    """Amplification measures of ``study``'s targets, per study, group, target, and ISO week.

    Parameters
    ----------
    study : Study
        The study (targets named with ``echoscope targets add``).
    group : str, optional
        Only targets of this group.
    since, until : str or date, optional
        First and last UTC day (inclusive) of engagements and posts counted; ``YYYY-MM-DD``.
    top : str or float
        Share of amplifiers counted as "top" for ``top_share`` and super-spreaders: ``"1%"`` or ``0.01``.
    engine : str
        ``duckdb`` (default) or ``spark`` (needs the ``spark`` extra).
    rapid_latency_s : float
        An engagement is rapid when it comes at most this many seconds after its post. Too long a window
        admits ordinary fast fans; too short misses scheduled bots.
    rapid_min_posts : int
        A rapid-fire sequence needs at least this many distinct posts amplified back to back, each rapidly.
    risk_threshold : float
        ``account_scores.score`` at or above which an account counts as high risk (when the table has no
        boolean ``high_risk`` column).
    lorenz_points : int
        Resolution of the stored Lorenz curve (points per scope).
    cache : bool, optional
        Materialise intermediate tables of the Ibis expressions (default: on for Spark). On DuckDB the tables
        come from the SQL plan of :func:`echoscope.measures.core.run_duckdb`, which materialises its own.

    Returns
    -------
    Measures
        Lazy; nothing runs until ``to_arrow()``/``to_pandas()``/``write()``.

    Raises
    ------
    ConfigError
        Bad parameters, an unknown engine, or a study without targets (or none in ``group``).
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine '{engine}' is not known; use one of: {', '.join(ENGINES)}")
    p = Params(group=group, since=parse_date(since, "--since"), until=parse_date(until, "--until"),
               top=parse_top(top), rapid_latency_s=float(rapid_latency_s), rapid_min_posts=int(rapid_min_posts),
               risk_threshold=float(risk_threshold), lorenz_points=int(lorenz_points))
    if p.since and p.until and p.since > p.until:
        raise ConfigError(f"--since {p.since} is after --until {p.until}; swap them")
    if p.rapid_min_posts < 2:
        raise ConfigError("rapid_min_posts must be at least 2 (one fast engagement is not a sequence)")
    n_targets = study.sql("SELECT count(*) AS n FROM targets WHERE account_id IS NOT NULL")
    if n_targets["n"][0].as_py() == 0:
        raw = study.rows("targets")
        hint = (f"; {raw} target(s) are named by handle but none matches an account in the study"
                if raw else "; add them with 'echoscope targets add STUDY @handle --group NAME'")
        raise ConfigError(f"{study.path} has no target accounts to measure{hint}")
    if group is not None:
        groups = [r["group"] for r in study.sql('SELECT DISTINCT "group" FROM targets').to_pylist()]
        if group not in groups:
            raise ConfigError(f"--group '{group}' names no target group; groups: "
                              f"{', '.join(sorted(g for g in groups if g is not None)) or '(none)'}")
    con = _duckdb_connection(study) if engine == "duckdb" else connect(study, engine, **engine_options)
    exprs = summary(con, p, cache=(engine != "duckdb") if cache is None else cache)
    return Measures(study, con, p, engine, exprs)


__all__ = ["measures", "Measures", "Params", "RESULT_TABLES", "parse_top", "parse_date"]

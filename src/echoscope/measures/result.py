"""What the measures return: the lazy :class:`Measures` and the computed, storable :class:`MeasuresResult`.

Why two objects: ``measures(study, ...)`` has always been lazy (a notebook inspects ``to_ibis()`` without
running anything), while ``run(...)`` -- the shape every analysis shares (:mod:`echoscope.engine.analysis`) --
computes and stores. :meth:`Measures.result` turns the first into the second; :class:`MeasuresResult` is an
:class:`~echoscope.engine.analysis.AnalysisResult` whose ``.tables`` are exactly the tables stored, and it keeps
the older ``Measures`` reading API (``to_arrow``, ``to_pandas``, ``to_ibis``, ``tables()``, ``meta()``), so the
console, ``--json``, the demo and the report read one set of stored tables.

Rows come back sorted in Arrow (scope: study, group, target; then group, target, week), so both engines give
the same rows in the same order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ..engine.analysis import AnalysisResult, ProgressFn, store_result
from ..errors import ConfigError
from .definitions import SCOPES, FlagRule, Params, flag_rules
from .duckdb_plan import run_duckdb
from .headline import headline

if TYPE_CHECKING:
    from ..engine import Engine
    from ..store.study import StudyStore

#: result tables written into the study: expression name -> stored result table name
RESULT_TABLES: dict[str, str] = {
    "summary": "amplification_summary",
    "superspreaders": "amplification_superspreaders",
    "lorenz": "amplification_lorenz",
    "rapidfire": "amplification_rapidfire",
    "latency": "amplification_latency",
}

#: columns of the study scope's whole-period row kept in the run's summary (``MeasuresResult.summary["counts"]``)
SUMMARY_COLUMNS: tuple[str, ...] = (
    "engagements", "reposts", "amplifiers", "targets", "engagements_suspended", "reposts_suspended",
    "engagements_flagged", "engagements_organic", "share_suspended", "share_suspended_reposts", "top_k",
    "top_amplifiers", "top_engagements", "top_share", "top1_share", "gini", "latency_known", "share_within_60s",
    "share_coordinated", "share_high_risk")

#: sort keys of each result table (applied in Arrow, so both engines give rows in the same order)
_SORT: dict[str, list[str]] = {
    "summary": ["_scope", "group", "target", "week"],
    "superspreaders": ["_scope", "group", "target", "rank"],
    "lorenz": ["_scope", "group", "target", "amplifiers_rank"],
    "rapidfire": ["actor_id", "start"],
    "latency": ["_scope", "group", "target", "bin"],
}


def short_name(table: str) -> str:
    """``summary`` for ``summary`` or ``amplification_summary``; a ConfigError names the tables otherwise."""
    if table in RESULT_TABLES:
        return table
    for short, stored in RESULT_TABLES.items():
        if stored == table:
            return short
    raise ConfigError(f"no measures table '{table}'; tables: {', '.join(RESULT_TABLES)} "
                      f"(stored as {', '.join(RESULT_TABLES.values())})")


def _utc(t: pa.Table) -> pa.Table:
    """Label naive timestamps as UTC (Spark returns session-time-zone values, and its session zone is UTC)."""
    fields = [f.with_type(pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) else f for f in t.schema]
    return t.cast(pa.schema(fields))


def _sorted(t: pa.Table, name: str) -> pa.Table:
    keys = _SORT[name]
    t2 = t
    if "_scope" in keys:
        order = pc.fill_null(pc.index_in(t["scope"], value_set=pa.array(SCOPES)), len(SCOPES))
        t2 = t.append_column("_scope", order)
    idx = pc.sort_indices(t2, sort_keys=[(k, "ascending", "at_start") for k in keys])
    return t.take(idx)


def _study_row(summary: pa.Table) -> dict[str, Any] | None:
    """The study scope's whole-period row of ``amplification_summary`` (None for an empty table)."""
    rows = summary.filter(pc.and_(pc.equal(summary["scope"], "study"), pc.is_null(summary["week"]))).to_pylist()
    return rows[0] if rows else None


def _iso(v: Any) -> str | None:
    return v.isoformat() if v is not None else None


def build_summary(tables: Mapping[str, pa.Table], params: Params, engine: str,
                  rules: Mapping[str, FlagRule | None]) -> dict[str, Any]:
    """The run's summary (stored as the tables' ``meta`` and the run's ``summary``): parameters, engine, the
    status-check range, the coordinated / high-risk rules used, rows per stored table (``tables``) and the study
    scope's whole-period counts (``counts``) with their :func:`~.headline.headline`. Read off the result tables,
    never recomputed."""
    row = _study_row(tables["summary"])
    rule = {k: (r.describe() if r is not None else None) for k, r in rules.items()}
    return {"parameters": params.as_meta(), "engine": engine,
            "status_checked_first": _iso(row and row["status_checked_first"]),
            "status_checked_last": _iso(row and row["status_checked_last"]),
            "coordinated_rule": rule.get("coordinated"), "high_risk_rule": rule.get("high_risk"),
            "tables": {RESULT_TABLES[k]: t.num_rows for k, t in tables.items()},
            "counts": {c: row[c] for c in SUMMARY_COLUMNS} if row else {},
            "headline": headline(row) if row else None}


class TableSet(dict[str, pa.Table]):
    """Stored table name -> Arrow table; calling it gives the tables by short name (``summary``, ...), as the
    older ``Measures.tables()`` did."""

    def __call__(self) -> dict[str, pa.Table]:
        return {short: self[stored] for short, stored in RESULT_TABLES.items() if stored in self}


@dataclasses.dataclass
class MeasuresResult(AnalysisResult):
    """The computed measures: ``.tables`` (stored name -> Arrow, exactly what is stored), ``.summary``
    (parameters and headline counts), ``.run_id`` once stored; plus the older reading API.

    Attributes
    ----------
    params : Params
        The parameters used.
    engine : str
        ``duckdb`` or ``spark``.
    lazy : Measures or None
        The lazy measures this came from (for :meth:`to_ibis`).
    """

    analysis: str = "measures"
    tables: dict[str, pa.Table] = dataclasses.field(default_factory=TableSet)
    summary: dict[str, Any] = dataclasses.field(default_factory=dict)
    run_id: str | None = None
    params: Params = dataclasses.field(default_factory=Params)
    engine: str = "duckdb"
    lazy: Measures | None = dataclasses.field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tables, TableSet):
            self.tables = TableSet(self.tables)

    def table(self, name: str) -> pa.Table:
        """A result table by stored (``amplification_summary``) or short (``summary``) name."""
        return self.tables[RESULT_TABLES[short_name(name)]]

    def to_arrow(self, table: str = "summary") -> pa.Table:
        return self.table(table)

    def to_pandas(self, table: str = "summary") -> Any:  # type: ignore[override]
        return self.table(table).to_pandas()

    def to_ibis(self, table: str = "summary") -> Any:
        """The Ibis expression behind ``table`` (see :meth:`Measures.to_ibis`)."""
        if self.lazy is None:
            raise ConfigError("this result has no expressions (it was not computed in this process)")
        return self.lazy.to_ibis(short_name(table))

    def meta(self) -> dict[str, Any]:
        """The summary (stored with every result table as its ``meta``)."""
        return dict(self.summary)

    @property
    def study_row(self) -> dict[str, Any] | None:
        """The study scope's whole-period row of ``amplification_summary``."""
        return _study_row(self.table("summary"))

    def headline(self) -> str:
        """:func:`~echoscope.measures.headline.headline` of :attr:`study_row`."""
        row = self.study_row
        return headline(row) if row else "no measures"

    def _repr_html_(self) -> str:
        return self.to_pandas()._repr_html_()


class Measures:
    """The measures of one study and parameter set: lazy Ibis expressions plus helpers to run and store them.

    Attributes
    ----------
    study : StudyStore
        The study.
    con : Ibis backend
        The connection the expressions are built on (DuckDB or PySpark).
    params : Params
        The parameters used.
    engine : str
        ``duckdb`` (runs the SQL plan of :mod:`.duckdb_plan`) or any other name (runs the Ibis expressions:
        ``spark``).
    runner : Engine or None
        The study's :class:`~echoscope.engine.Engine`; the DuckDB plan runs on it inside
        ``stage("measures")``.
    rules : dict
        The coordinated / high-risk rules (:func:`~.definitions.flag_rules`), read from ``con`` when not given.
    run_id : str or None
        Set by :meth:`write`.
    """

    def __init__(self, study: StudyStore, con: Any, params: Params, engine: str, exprs: dict[str, Any], *,
                 runner: Engine | None = None, rules: dict[str, FlagRule | None] | None = None) -> None:
        self.study = study
        self.con = con
        self.params = params
        self.engine = engine
        self.runner = runner
        self.rules = flag_rules(con, params) if rules is None else rules
        self.run_id: str | None = None
        self._exprs = exprs
        self._cache: dict[str, pa.Table] = {}
        self._raw: dict[str, pa.Table] | None = None

    # ---------------------------------------------------------------- access
    def to_ibis(self, table: str = "summary") -> Any:
        """The Ibis expression of ``table`` (summary, superspreaders, lorenz, rapidfire, latency).

        On DuckDB ``to_arrow`` does not run this expression but the equivalent, faster SQL plan; the expression
        stays available for inspection and for other backends.
        """
        table = short_name(table)
        if table not in self._exprs:
            raise ConfigError(f"no measures table '{table}'; tables: {', '.join(self._exprs)}")
        return self._exprs[table]

    def to_arrow(self, table: str = "summary") -> pa.Table:
        """Run ``table`` and return it as Arrow, sorted by scope (study, group, target), group, target, week."""
        table = short_name(table)
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
        """Every table at once from the DuckDB SQL plan, in the engine's ``measures`` stage."""
        if self._raw is None:
            schemas = {name: e.schema().to_pyarrow() for name, e in self._exprs.items()}
            if self.runner is None:
                self._raw = run_duckdb(self.con.con, self.params, schemas, self.rules)
            else:
                with self.runner.stage("measures") as eng:
                    self._raw = run_duckdb(eng.raw, self.params, schemas, self.rules)
        return self._raw

    def to_pandas(self, table: str = "summary") -> Any:
        return self.to_arrow(table).to_pandas()

    def tables(self) -> dict[str, pa.Table]:
        """Every measures table as Arrow, by short name."""
        return {name: self.to_arrow(name) for name in self._exprs}

    def meta(self) -> dict[str, Any]:
        """The run's summary (:func:`build_summary`): parameters, engine, status-check range, rules, counts."""
        return build_summary(self.tables(), self.params, self.engine, self.rules)

    def result(self, progress: ProgressFn | None = None) -> MeasuresResult:
        """Compute every table; returns a :class:`MeasuresResult` (not stored: see :meth:`write`)."""
        tables = TableSet()
        for name, stored in RESULT_TABLES.items():
            if progress:
                progress({"event": "stage", "message": f"computing {stored}"})
            tables[stored] = self.to_arrow(name)
        return MeasuresResult(tables=tables, summary=self.meta(), params=self.params, engine=self.engine,
                              lazy=self)

    def write(self, progress: ProgressFn | None = None) -> dict[str, int]:
        """Compute and store every table as ``amplification_*`` (one commit, a run id in :attr:`run_id`);
        returns rows written per result table. A thin wrapper of :func:`store_measures`."""
        res = store_measures(self.study, self.result(progress), progress)
        self.run_id = res.run_id
        return {name: t.num_rows for name, t in res.tables.items()}

    def _repr_html_(self) -> str:
        return self.to_pandas()._repr_html_()

    def __repr__(self) -> str:
        return f"Measures({self.study!r}, engine={self.engine!r}, params={self.params.as_meta()!r})"


def store_measures(study: StudyStore, result: MeasuresResult, progress: ProgressFn | None = None) -> MeasuresResult:
    """Store ``result``'s tables in one atomic commit with a run id (its summary as every table's ``meta``)."""
    if progress:
        progress({"event": "stage", "message": f"writing {', '.join(result.tables)}"})
    store_result(study, result, meta=result.summary)
    return result


__all__ = ["Measures", "MeasuresResult", "RESULT_TABLES", "SUMMARY_COLUMNS", "TableSet", "build_summary",
           "short_name", "store_measures"]

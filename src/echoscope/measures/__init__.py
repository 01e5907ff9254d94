"""Amplification measures: who amplifies each target, how much, how fast, and from which kind of account.

The entry every analysis shares is :func:`run`: ``run(study, params, engine=..., write=True)`` computes the
``amplification_*`` tables on the study's engine (DuckDB, or Spark when ``engine.backend == "spark"``: the
``--engine`` flag or ``[engine] backend`` in ``echoscope.toml``), stores them in one commit with a run id and
returns a :class:`MeasuresResult`. :func:`measures` is the older, lazy entry: it returns a :class:`Measures`
holding the Ibis expressions, run on demand by ``to_arrow()`` / ``to_pandas()`` and stored by
:meth:`Measures.write`. Definitions of every column: ``docs/measures.md``.

The package, by layer: :mod:`.definitions` (parameters and the named definitions both engines share),
:mod:`.expressions` (every measure as Ibis: Spark runs it, DuckDB is tested against it), :mod:`.duckdb_sql`,
:mod:`.duckdb_plan` and :mod:`.duckdb_tables` (the fast DuckDB plan), :mod:`.result` (the two result objects)
and :mod:`.headline` (the study-wide sentence every output prints).

>>> from echoscope.measures import Params, run
>>> res = run(study, Params.parse(group="diplomats", top="1%"))      # doctest: +SKIP
>>> res.tables["amplification_summary"]                              # doctest: +SKIP
>>> res.headline()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

from ..engine import Engine, open_engine
from ..engine.analysis import ProgressFn
from ..errors import ConfigError
from .definitions import (
    AMPLIFIER_CLASSES,
    DEFAULT_RISK_THRESHOLD,
    LATENCY_BANDS,
    LATENCY_EDGES,
    LATENCY_QUANTILES,
    SUSPENDED_STATUSES,
    Params,
    flag_rules,
    parse_date,
    parse_top,
)
from .expressions import summary
from .headline import headline
from .result import RESULT_TABLES, Measures, MeasuresResult, store_measures

if TYPE_CHECKING:
    from ..store.study import StudyStore


def _check_targets(study: StudyStore, engine: Engine, p: Params) -> None:
    """A ConfigError unless the study has target accounts (in ``p.group``, when given)."""
    n = engine.scalar("SELECT count(*) FROM targets WHERE account_id IS NOT NULL")
    if not n:
        named = study.manifest().table_rows("targets")
        hint = (f"; {named} target(s) are named by handle but none matches an account in the study"
                if named else "; add them with 'echoscope targets add STUDY @handle --group NAME'")
        raise ConfigError(f"{study.path} has no target accounts to measure{hint}")
    if p.group is not None:
        groups = [g for g in engine.sql('SELECT DISTINCT "group" FROM targets')["group"].to_pylist()
                  if g is not None]
        if p.group not in groups:
            raise ConfigError(f"--group '{p.group}' names no target group; groups: "
                              f"{', '.join(sorted(groups)) or '(none)'}")


def _as_params(params: Any) -> Params:
    """``params`` as :class:`Params`: None gives the defaults; another dataclass with the same fields is copied."""
    if params is None:
        return Params()
    if isinstance(params, Params):
        return params
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        names = {f.name for f in dataclasses.fields(Params)}
        given = {f.name: getattr(params, f.name) for f in dataclasses.fields(params) if f.name in names}
        return Params(**given)
    raise ConfigError(f"measures parameters must be echoscope.measures.Params, not {type(params).__name__}")


def prepare(study: StudyStore, params: Params | None = None, *, engine: Engine | None = None,
            cache: bool | None = None) -> Measures:
    """Check ``params`` and the study's targets and build the expressions on ``engine``; nothing runs yet.

    On Spark (``engine.backend == "spark"``) the expressions are built on the engine's PySpark connection and
    ``cache`` (default on there) materialises their intermediate tables.
    """
    p = _as_params(params)
    p.check()
    eng = engine if engine is not None else Engine(study)
    _check_targets(study, eng, p)
    con = eng.spark() if eng.backend == "spark" else eng.ibis
    rules = flag_rules(con, p)
    exprs = summary(con, p, rules=rules, cache=(eng.backend != "duckdb") if cache is None else cache)
    return Measures(study, con, p, eng.backend, exprs, runner=eng, rules=rules)


def run(study: StudyStore, params: Params | None = None, *, engine: Engine | None = None, write: bool = True,
        progress: ProgressFn | None = None) -> MeasuresResult:
    """Compute (and store) the amplification measures of ``study``'s targets, per study, group, target and week.

    Parameters
    ----------
    study : StudyStore
        The study (targets named with ``echoscope targets add``).
    params : Params, optional
        The parameters (:meth:`Params.parse` reads user input such as ``top="1%"``; a dataclass with the same
        fields is accepted too); default ``Params()``.
    engine : Engine, optional
        Where to run: default ``Engine(study)`` (backend from ``ECHOSCOPE_ENGINE`` or ``[engine] backend`` in
        the study's ``echoscope.toml``, else DuckDB). DuckDB runs in the engine's ``measures`` stage (memory
        limit of :data:`echoscope.settings.STAGE_MEMORY`).
    write : bool
        Store the ``amplification_*`` tables (one atomic commit with a run id, see
        ``study.manifest().runs("measures")``).
    progress : callable, optional
        Receives ``{"event": "stage", "message": ...}`` dicts.

    Returns
    -------
    MeasuresResult
        ``.tables`` (stored name -> Arrow), ``.summary`` (parameters and the study's headline counts),
        ``.run_id`` (when written).

    Raises
    ------
    ConfigError
        Bad parameters, a study without targets (or none in ``params.group``), or ``risk_threshold`` given
        while ``account_scores`` has no score.
    """
    m = prepare(study, params, engine=engine)
    if progress:
        progress({"event": "stage", "message": f"measuring on {m.engine}"})
    result = m.result(progress)
    if write:
        store_measures(study, result, progress)
        m.run_id = result.run_id
    return result


def measures(study: StudyStore, *, group: str | None = None, since: str | dt.date | None = None,
             until: str | dt.date | None = None, top: str | float = 0.01, engine: str | Engine | None = None,
             rapid_latency_s: float = 10.0, rapid_min_posts: int = 3, risk_threshold: float | None = None,
             lorenz_points: int = 100, cache: bool | None = None, **spark_options: Any) -> Measures:
    """Amplification measures of ``study``'s targets, lazily (the older entry; :func:`run` computes and stores).

    Parameters
    ----------
    study : StudyStore
        The study (targets named with ``echoscope targets add``).
    group : str, optional
        Only targets of this group.
    since, until : str or date, optional
        First and last UTC day (inclusive) of engagements and posts counted; ``YYYY-MM-DD``.
    top : str or float
        Share of amplifiers counted as "top" for ``top_share`` and super-spreaders: ``"1%"`` or ``0.01``.
    engine : str or Engine, optional
        ``duckdb`` or ``spark`` (needs the ``spark`` extra), or an :class:`~echoscope.engine.Engine`; default:
        the study's configured backend (``[engine] backend`` in ``echoscope.toml``), else DuckDB.
    rapid_latency_s : float
        An engagement is rapid when it comes at most this many seconds after its post. Too long a window
        admits ordinary fast fans; too short misses scheduled bots.
    rapid_min_posts : int
        A rapid-fire sequence needs at least this many distinct posts amplified back to back, each rapidly.
    risk_threshold : float, optional
        Override the score's own high-risk line for this run: ``account_scores.score`` at or above this counts
        as high risk. Default: the stored ``account_scores.high_risk`` column (for scores stored without it,
        ``score >= 0.7``).
    lorenz_points : int
        Resolution of the stored Lorenz curve (points per scope).
    cache : bool, optional
        Materialise intermediate tables of the Ibis expressions (default: on for Spark).
    **spark_options
        ``master``, ``data_root``, ``conf`` for the Spark engine (see docs/scale-out.md).

    Returns
    -------
    Measures
        Lazy; nothing runs until ``to_arrow()``/``to_pandas()``/``write()``.

    Raises
    ------
    ConfigError
        Bad parameters, an unknown engine, Spark options without Spark, or a study without targets.
    """
    p = Params.parse(group=group, since=since, until=until, top=top, rapid_latency_s=rapid_latency_s,
                     rapid_min_posts=rapid_min_posts, risk_threshold=risk_threshold, lorenz_points=lorenz_points)
    unknown = sorted(set(spark_options) - {"master", "data_root", "conf"})
    if unknown:
        raise ConfigError(f"measures() got unknown option(s) {', '.join(unknown)}; Spark options are master, "
                          "data_root and conf")
    if isinstance(engine, Engine):
        if spark_options:
            raise ConfigError("give Spark options to the Engine (echoscope.engine.open_engine), not measures()")
        eng = engine
    else:
        eng = open_engine(study, backend=engine, spark_master=spark_options.get("master"),
                          spark_data_root=spark_options.get("data_root"), spark_conf=spark_options.get("conf"))
    return prepare(study, p, engine=eng, cache=cache)


__all__ = ["AMPLIFIER_CLASSES", "DEFAULT_RISK_THRESHOLD", "LATENCY_BANDS", "LATENCY_EDGES", "LATENCY_QUANTILES",
           "RESULT_TABLES", "SUSPENDED_STATUSES", "Measures", "MeasuresResult", "Params", "headline", "measures",
           "parse_date", "parse_top", "prepare", "run", "store_measures"]

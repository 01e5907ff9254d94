"""Connections the measures run on: a registry from engine name to a function giving an Ibis backend.

Both engines see the same names (``engagements``, ``targets``, ``posts``, ``account_status``, ``accounts`` and
every result table), so :mod:`echoscope.measures.core` builds one set of expressions for both.

The Spark connection is :func:`echoscope.engine.connect_spark`: typed empty tables for tables without parts,
result tables (``coord_members``, ``account_scores``) registered, and the engine's SQL texts transpiled with
sqlglot (``EXTRACT(EPOCH ...)`` becomes ``unix_micros(x) / 1e6``, exact to the microsecond as in DuckDB).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engine import connect_spark, spark_session, spark_sql
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..store.study import StudyStore as Study

__all__ = ["ENGINES", "connect", "connect_duckdb", "connect_spark", "spark_session", "spark_sql"]


def connect_duckdb(study: Study, **options: Any) -> Any:
    """An Ibis DuckDB connection to the study (views over its Parquet parts)."""
    from ..engine import Engine

    return Engine(study).ibis


#: engine name -> connection factory
ENGINES: dict[str, Callable[..., Any]] = {"duckdb": connect_duckdb, "spark": connect_spark}


def connect(study: Study, engine: str = "duckdb", **options: Any) -> Any:
    """Connect ``study`` on ``engine`` (a key of :data:`ENGINES`)."""
    try:
        factory = ENGINES[engine]
    except KeyError:
        raise ConfigError(f"engine '{engine}' is not known; use one of: {', '.join(ENGINES)}") from None
    return factory(study, **options)

"""One behaviour's network on DuckDB, under each semantics: the edge builders.

Why a registry: a coordination run builds each behaviour's edges and evidence with the builder of its
semantics (:data:`BUILDERS`); every builder takes the study's raw DuckDB connection and returns a
:class:`~.params.BehaviourResult`. echoscope's own builder is the data-sized stages (:mod:`.stages`, written once
for both engines) followed by the judging stages (:mod:`.judge`); the Spark engine's builder
(:func:`.spark.spark_edges`) runs the same stages on Spark and the same judging on DuckDB. The peers' semantics
(:mod:`.peers`) run on DuckDB only.

The names below :data:`BUILDERS` are kept here for the code that imported them from this module before the
package was split (``from echoscope.coordination.network import CoordParams``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .backends import DuckTables
from .judge import echoscope_judge
from .params import (
    BEHAVIOUR_SETS,
    DEFAULT_BEHAVIOURS,
    EDGE_SCHEMA,
    EVIDENCE_SCHEMA,
    NULL_MODELS,
    SEMANTICS,
    BehaviourResult,
    CoordParams,
    ProgressFn,
    behaviour_params,
)
from .peers import cnt_edges, coortweet_edges
from .stages import candidates
from .stats import benjamini_hochberg, p_threshold, poisson_sf


def echoscope_edges(con: Any, behaviour: str, params: CoordParams, progress: ProgressFn) -> BehaviourResult:
    """Edges of one behaviour under echoscope semantics on the DuckDB connection ``con`` (pruned, bucketed,
    guarded; significance). Leaves the stages' tables (:data:`.stages.HANDOVER`) on ``con``."""
    stats = candidates(DuckTables(con), behaviour, params, progress)
    return echoscope_judge(con, behaviour, params, progress, stats)


Builder = Callable[[Any, str, CoordParams, ProgressFn], BehaviourResult]

#: semantics name -> edge builder on DuckDB
BUILDERS: dict[str, Builder] = {
    "echoscope": echoscope_edges,
    "cnt": cnt_edges,
    "coortweet": coortweet_edges,
}


__all__ = ["BEHAVIOUR_SETS", "BUILDERS", "DEFAULT_BEHAVIOURS", "EDGE_SCHEMA", "EVIDENCE_SCHEMA", "NULL_MODELS",
           "SEMANTICS", "BehaviourResult", "Builder", "CoordParams", "behaviour_params", "benjamini_hochberg",
           "echoscope_edges", "p_threshold", "poisson_sf"]

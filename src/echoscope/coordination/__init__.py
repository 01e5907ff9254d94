"""Coordination: who acts together, how surely, and the evidence for every edge.

One analysis (:func:`run`, the shape of every echoscope analysis) in modules along its seams:

* :mod:`.coactions` names the behaviours (one DuckDB query each) and the normalisation macros;
  :mod:`.params` the parameters, semantics and schemas;
* :mod:`.stages` the data-sized stages (actions, integer ids, pruning, the dense-window guard, pairing),
  written once and run on DuckDB (:mod:`.backends`) or Spark (:mod:`.spark`, SQL transpiled by
  :mod:`.dialect`); :mod:`.text` co-text's near-duplicate merge;
* :mod:`.judge` candidate edges, p-values and evidence, with the null models of :mod:`.nulls` and the
  statistics of :mod:`.stats`; :mod:`.peers` the peer tools' semantics; :mod:`.network` the builders;
* :mod:`.validation` the held-out test of accounts; :mod:`.clusters` fusion, Leiden clusters, summaries;
* :mod:`.api` the run and its result (``coord_edges``, ``coord_clusters``, ``coord_members``,
  ``coord_evidence``); the evidence between two accounts: :func:`echoscope.findings.explain`.

>>> from echoscope.coordination import run, CoordParams   # doctest: +SKIP
>>> res = run(study, CoordParams(behaviours=("co-retweet", "co-link"), window=60))  # doctest: +SKIP
"""

from .api import RESULT_TABLES, CoordinationResult, coordinate, run
from .clusters import fuse
from .coactions import COACTIONS, normalise_text, normalise_url
from .params import BEHAVIOUR_SETS, NULL_MODELS, SEMANTICS, CoordParams

__all__ = ["BEHAVIOUR_SETS", "COACTIONS", "NULL_MODELS", "RESULT_TABLES", "SEMANTICS", "CoordParams",
           "CoordinationResult", "coordinate", "fuse", "normalise_text", "normalise_url",
           "run"]

"""Coordination: who acts together, how surely, and the evidence for every edge.

``coactions`` names the behaviours (one SQL producer each), ``network`` is the one windowed co-action
mechanism with its null model and the peers' semantics, ``text`` merges near-duplicate texts, ``api`` fuses
behaviours, clusters with Leiden and writes the result tables ``coord_edges``, ``coord_clusters``,
``coord_members`` and ``coord_evidence``.

>>> from echoscope.coordination import coordinate, CoordParams   # doctest: +SKIP
>>> res = coordinate(study, CoordParams(behaviours=("co-retweet", "co-link"), window=60))  # doctest: +SKIP
"""

from .api import RESULT_TABLES, CoordinationResult, coordinate, explain, fuse, resolve_account
from .coactions import COACTIONS, normalise_text, normalise_url
from .network import NULL_MODELS, SEMANTICS, CoordParams

__all__ = ["COACTIONS", "SEMANTICS", "NULL_MODELS", "CoordParams", "CoordinationResult", "coordinate", "explain",
           "fuse", "resolve_account", "normalise_url", "normalise_text", "RESULT_TABLES"]

"""Findings: what the stored result tables say, read for people (the console, the report, the explorer, the
demo). Nothing here computes a measure: it reads the tables the analyses stored and words them, so every
output states the same number the same way.

Every function takes an :class:`echoscope.engine.Engine` (``Engine(study)``, or ``Engine(study, runs={...})``
to read a stored run) and returns plain JSON-friendly dicts and lists: ids and handles side by side, times as
ISO 8601 UTC, p-values also as text (:func:`format_p`). Lists are pages bounded in DuckDB (``limit`` at most
:data:`MAX_PAGE`), never whole tables.

>>> from echoscope.engine import Engine                          # doctest: +SKIP
>>> from echoscope.findings import list_clusters, account
>>> list_clusters(Engine(study), limit=10)["clusters"][0]["members"]
>>> account(Engine(study), "@handle")["coactions"]["evidence"][0]["summary_text"]
>>> explain(Engine(study), "@a", "@b")["path"]                  # the chain of ties joining two members
"""

from .accounts import account, resolve, search_accounts
from .base import MAX_PAGE, cached, require_coordination, run_info, run_selection, warm
from .clusters import (
    cluster,
    cluster_edges,
    cluster_evidence,
    cluster_graph,
    cluster_members,
    cluster_timeline,
    list_clusters,
)
from .evidence import describe, group_events
from .explain import cluster_path, explain, pair_edges, pair_evidence
from .overview import overview
from .wording import CAVEATS, format_gap, format_p

__all__ = ["CAVEATS", "MAX_PAGE", "account", "cached", "cluster", "cluster_edges", "cluster_evidence", "cluster_graph",
           "cluster_members", "cluster_path", "cluster_timeline", "describe", "explain", "format_gap", "format_p",
           "group_events", "list_clusters", "overview", "pair_edges", "pair_evidence", "require_coordination",
           "resolve", "run_info", "run_selection", "search_accounts", "warm"]

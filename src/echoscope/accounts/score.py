"""The account score's public names in one place: ``from echoscope.accounts.score import score_study, ...``.

Why a module of re-exports: ``echoscope.accounts.score`` is the import path the documentation, notebooks and
benchmarks have used since the score existed. Its parts now live by what they do -- the scorers
(:mod:`.scorers`), the run and its result (:mod:`.api`), the high-risk line (:mod:`.risk`), labels
(:mod:`.labels`) and the CSV (:mod:`.export`) -- and this module keeps the old path working.
"""

from __future__ import annotations

from .api import SCORES_SCHEMA, ScoreParams, ScoreResult, feature_frame, run, score_study
from .export import CSV_COLUMNS, write_scores_csv
from .labels import NEGATIVE_LABELS, POSITIVE_LABELS, read_labels
from .risk import FLAG_THRESHOLD, HIGH_RISK_THRESHOLD, headline, stored_summary
from .scorers import RULE_WEIGHTS, SCORERS, RulesScorer, SupervisedScorer, strength_columns

__all__ = ["CSV_COLUMNS", "FLAG_THRESHOLD", "HIGH_RISK_THRESHOLD", "NEGATIVE_LABELS", "POSITIVE_LABELS", "RULE_WEIGHTS",
           "SCORERS", "SCORES_SCHEMA", "RulesScorer", "ScoreParams", "ScoreResult", "SupervisedScorer",
           "feature_frame", "headline", "read_labels", "run", "score_study", "stored_summary", "strength_columns",
           "write_scores_csv"]

"""Per-account signals with evidence, the GAN-face check and an explainable risk score with one high-risk line.

Modules: ``signals`` (the registry and entry points; the signals themselves in ``profile_signals``,
``behaviour_signals`` and ``amplification_signals`` -- the last judged against what an account amplifies and
against the study's own population, with the automation assessment --, their shared tables in ``context``,
reference data in ``reference``), ``faces`` (local profile images), ``scorers`` (rule-based and supervised),
``api`` (:func:`run`: the analysis, its result and its storage), ``risk`` (:data:`HIGH_RISK_THRESHOLD`, its
measured error rates :func:`expected_error_rates`, the kinds of accounts and :func:`headline`), ``labels``,
``export`` (CSV) and ``score`` (the older import path of all of these). The CLI command is
``echoscope.cli.score``.

For others: call :func:`run` (or :func:`score_study`), read ``account_scores.high_risk`` for the high-risk
accounts and ``account_scores.kind`` for what each account does, word the count with :func:`headline`
(``headline(stored_summary(study))`` for a stored run) and its expected error with :func:`error_rate_sentence`.
"""

from __future__ import annotations

from .risk import (
    EXPECTED_ERROR_RATES,
    FLAG_THRESHOLD,
    HIGH_RISK_THRESHOLD,
    KINDS,
    check_threshold,
    error_rate_sentence,
    expected_error_rates,
    headline,
    stored_summary,
)
from .signals import SIGNALS, SignalContext, SignalParams, compute_signals, signals_long

__all__ = [
    "EXPECTED_ERROR_RATES",
    "FLAG_THRESHOLD",
    "HIGH_RISK_THRESHOLD",
    "KINDS",
    "RULE_WEIGHTS",
    "SIGNALS",
    "RulesScorer",
    "ScoreParams",
    "ScoreResult",
    "SignalContext",
    "SignalParams",
    "SupervisedScorer",
    "check_threshold",
    "compute_signals",
    "error_rate_sentence",
    "expected_error_rates",
    "headline",
    "read_labels",
    "run",
    "score_study",
    "signals_long",
    "stored_summary",
    "write_scores_csv",
]

#: names served lazily from these modules: scikit-learn is imported only when a scorer is asked for (keeps
#: ``import echoscope`` light)
_LAZY = {"run": "api", "score_study": "api", "ScoreParams": "api", "ScoreResult": "api",
         "RulesScorer": "scorers", "SupervisedScorer": "scorers", "RULE_WEIGHTS": "scorers",
         "read_labels": "labels", "write_scores_csv": "export"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)

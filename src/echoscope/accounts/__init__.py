"""Per-account signals with evidence, the GAN-face check and an explainable risk score.

``signals`` computes one measured signal per function (value, strength, words), ``faces`` reads local profile
images, ``score`` combines signals into a score in [0, 1] (rule-based or supervised) whose reasons are the
signals' own words, and ``cli`` adds ``echoscope score``.
"""

from __future__ import annotations

from .signals import SIGNALS, SignalContext, SignalParams, compute_signals, signals_long

__all__ = [
    "RULE_WEIGHTS",
    "SIGNALS",
    "RulesScorer",
    "SignalContext",
    "SignalParams",
    "SupervisedScorer",
    "compute_signals",
    "score_study",
    "signals_long",
]


def __getattr__(name: str) -> object:
    # scikit-learn is imported only when a scorer is asked for (keeps `import echoscope` light)
    if name in ("score_study", "RulesScorer", "SupervisedScorer", "RULE_WEIGHTS"):
        from . import score

        return getattr(score, name)
    raise AttributeError(name)

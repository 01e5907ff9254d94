"""The small statistics of a coordination run: Poisson tail, Benjamini-Hochberg, the empirical p-value cut-off.

Why apart: the per-edge judgement (:mod:`.judge`), the held-out validation (:mod:`.validation`) and the cluster
test (:mod:`.clusters`) all use them, and benchmarks import them to score the simulator's truth.
"""

from __future__ import annotations

import numpy as np


def p_threshold(p_obs: np.ndarray, p_null: np.ndarray, alpha: float, reps: int) -> tuple[float, float]:
    """Largest cut-off ``c`` with (mean shuffled edges with p <= c) <= alpha * (observed edges with p <= c).

    ``p_null`` holds the p-values of the edges of all ``reps`` shuffled networks. Returns ``c`` and the
    expected number of false edges at it; ``(0, 0)`` when no observed p-value qualifies.
    """
    if len(p_obs) == 0:
        return 0.0, 0.0
    cand = np.unique(p_obs)
    n_obs = np.searchsorted(np.sort(p_obs), cand, side="right").astype(float)
    n_null = np.searchsorted(np.sort(p_null), cand, side="right").astype(float) / reps
    ok = np.nonzero(n_null <= alpha * n_obs)[0]
    if len(ok) == 0:
        return 0.0, 0.0
    i = int(ok.max())
    return float(cand[i]), float(n_null[i])


def poisson_sf(k: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """P(X >= k) for X ~ Poisson(lam), elementwise (``k`` is floored, as ``scipy.stats.poisson.sf(k - 1, lam)``).

    Computed with the regularised incomplete gamma function (``scipy.special.pdtrc``), the same numbers as
    ``scipy.stats.poisson.sf`` without its per-call argument checking (a run calls it thousands of times, once
    per shuffled network and cluster) nor the import of ``scipy.stats`` (over a second); ``k <= 0`` gives 1.
    """
    from scipy.special import pdtrc

    k = np.asarray(k, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(k <= 0, 1.0, pdtrc(k - 1, lam)).astype(float)


def benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    """Boolean mask of the p-values rejected by Benjamini-Hochberg at false discovery rate ``alpha``."""
    m = len(p)
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    thresh = alpha * np.arange(1, m + 1) / m
    ok = p[order] <= thresh
    out = np.zeros(m, dtype=bool)
    if ok.any():
        kmax = int(np.nonzero(ok)[0].max())
        out[order[: kmax + 1]] = True
    return out


__all__ = ["benjamini_hochberg", "p_threshold", "poisson_sf"]

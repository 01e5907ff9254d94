"""The two scorers that combine account signals into a score in [0, 1] that carries its reasons.

Why the module is shaped so: bot scores are unstable and fixed thresholds produce false positives (Rauchfleisch
& Kaiser 2020), so a score is useless unless a person can see why it is high. Both scorers therefore work on
the same feature frame -- one ``<signal>`` (value) and one ``<signal>__strength`` column per signal of
:mod:`echoscope.accounts.signals` -- and the reasons printed beside a score are always the signal texts, ranked by
how much each signal contributes:

* :class:`RulesScorer` (default, no training): a noisy-OR of documented weights,
  ``score = 1 - prod_s (1 - weight_s * strength_s)``, so one strong signal gives at most its weight and
  independent signals add up; a signal's contribution is ``weight * strength``. The signals that only describe
  how a profile looks (few followers, a templated handle, the default image...) are one group whose noisy-OR is
  capped (:data:`RULE_GROUP_CAPS`): honest accounts look like that too, so together they corroborate but never
  make an account high risk without evidence of another kind.
* :class:`SupervisedScorer`: a scikit-learn classifier (histogram gradient boosting from 200 labels) with
  calibrated probabilities, trained on labels the user provides; contributions are ``importance * strength``
  with the permutation importance of each signal measured at fit time.

Both follow scikit-learn conventions (``__init__`` stores parameters, ``fit`` returns ``self``, learned state
ends in ``_``, ``predict_proba`` returns two columns), so they can be cross-validated with scikit-learn's tools.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from ..errors import ConfigError
from .risk import HIGH_RISK_THRESHOLD

if TYPE_CHECKING:
    import pandas as pd

#: weight of each signal in the rule-based score (the most a signal alone can add). Documented in
#: docs/accounts.md; a signal missing here has weight 0 (a feature for the supervised model only).
RULE_WEIGHTS: dict[str, float] = {
    "creation_burst": 0.6,
    "followers": 0.3,
    "follower_ratio": 0.2,
    "posts_per_day": 0.4,
    "account_age": 0.15,
    "templated_handle": 0.3,
    "name_mismatch": 0.15,
    "persona_duplicate": 0.6,
    "default_image": 0.2,
    "image_duplicate": 0.6,
    "gan_face": 0.7,
    "dormancy_hijack": 0.6,
    "timezone_mismatch": 0.5,
    "profile_mismatch": 0.4,
    "automation_client": 0.4,
    "regular_intervals": 0.5,
    "repost_share": 0.2,
    "relative_latency": 0.5,
    "amplification_role": 0.4,
    "duplicate_text": 0.5,
}

#: groups of signals whose joint noisy-OR is capped in the rule score: name -> (signals, cap). "profile look": how a
#: profile looks says little on its own -- 8% of the realistic simulator's ordinary users keep a name + 8-digit
#: handle, 5% the default image, and many real people have fewer than ten followers -- so together these signals
#: add at most 0.5, below the high-risk line: an account needs evidence of another kind (behaviour, accounts made
#: or acting together, duplicated personas or texts) to reach it.
RULE_GROUP_CAPS: dict[str, tuple[tuple[str, ...], float]] = {
    "profile look": (("followers", "follower_ratio", "templated_handle", "default_image", "account_age",
                      "name_mismatch"), 0.5),
}

#: labelled accounts from which :class:`SupervisedScorer` fits gradient boosting (a logistic regression below)
BOOSTING_FROM_LABELS = 200
#: labelled accounts from which its calibration is isotonic (sigmoid below: isotonic overfits small sets)
ISOTONIC_FROM_LABELS = 1000


def strength_columns(X: pd.DataFrame) -> list[str]:
    """Names of the strength columns of a feature frame."""
    return [c for c in X.columns if c.endswith("__strength")]


class RulesScorer(ClassifierMixin, BaseEstimator):
    """Rule-based score: noisy-OR of signal strengths with documented weights, with capped groups.

    Parameters
    ----------
    weights
        Signal -> weight in [0, 1]; default :data:`RULE_WEIGHTS`.
    threshold
        Score at or above which :meth:`predict` says 1 (default: the high-risk line).
    group_caps
        Group name -> (signals, cap): the noisy-OR of the group's signals counts at most ``cap``; default
        :data:`RULE_GROUP_CAPS` (``{}`` for none).
    """

    def __init__(self, weights: Mapping[str, float] | None = None, threshold: float = HIGH_RISK_THRESHOLD,
                 group_caps: Mapping[str, tuple[tuple[str, ...], float]] | None = None) -> None:
        self.weights = weights
        self.threshold = threshold
        self.group_caps = group_caps

    def fit(self, X: pd.DataFrame, y: Any = None) -> RulesScorer:
        """Check the weights and caps (nothing is learned); returns self."""
        w = dict(RULE_WEIGHTS if self.weights is None else self.weights)
        bad = {k: v for k, v in w.items() if not 0.0 <= float(v) <= 1.0}
        if bad:
            raise ConfigError(f"rule weights must lie in [0, 1]; got {bad}")
        caps = dict(RULE_GROUP_CAPS if self.group_caps is None else self.group_caps)
        bad_caps = {k: v[1] for k, v in caps.items() if not 0.0 <= float(v[1]) <= 1.0}
        if bad_caps:
            raise ConfigError(f"rule group caps must lie in [0, 1]; got {bad_caps}")
        self.weights_ = w
        self.group_caps_ = {k: (tuple(v[0]), float(v[1])) for k, v in caps.items()}
        self.classes_ = np.array([0, 1])
        return self

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """``weight * strength`` per account and signal (columns in the order of the strength columns)."""
        cols = strength_columns(X)
        w = np.array([self.weights_.get(c[: -len("__strength")], 0.0) for c in cols], dtype=np.float64)
        s = np.nan_to_num(X[cols].to_numpy(dtype=np.float64), nan=0.0)
        return np.clip(s, 0.0, 1.0) * w

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Two columns: 1 - score, score (noisy-OR, each capped group counted as one term of at most its cap)."""
        c = np.clip(self.contributions(X), 0.0, 1.0)
        names = [col[: -len("__strength")] for col in strength_columns(X)]
        free = np.ones(len(names), dtype=bool)
        keep = np.ones(c.shape[0])
        for members, cap in self.group_caps_.values():
            idx = [i for i, n in enumerate(names) if n in members]
            if idx:
                free[idx] = False
                keep *= 1.0 - np.minimum(1.0 - np.prod(1.0 - c[:, idx], axis=1), cap)
        score = 1.0 - keep * np.prod(1.0 - c[:, free], axis=1)
        return np.column_stack([1.0 - score, score])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= self.threshold).astype(int)

    def signal_weights(self) -> dict[str, float]:
        """Weight per signal used to rank reasons."""
        return dict(self.weights_)


class _DropEmptyColumns(TransformerMixin, BaseEstimator):
    """Drop the columns that hold no value at all in the rows it is fitted on (keeps a DataFrame a DataFrame).

    Histogram gradient boosting (scikit-learn 1.9) cannot bin a column without any value (``ValueError: window
    shape cannot be larger than input array shape``), and a study always has such columns: ``gan_face`` and
    ``image_duplicate`` without local images, every posting-behaviour signal in a study of profiles only. A
    column can also be empty in one calibration fold only, so the check runs in each fit, not once.
    """

    def fit(self, X: Any, y: Any = None) -> _DropEmptyColumns:
        arr = np.asarray(X, dtype=np.float64)
        self.keep_ = ~np.all(np.isnan(arr), axis=0) if arr.size else np.ones(arr.shape[1], dtype=bool)
        if not self.keep_.any():
            raise ConfigError("no feature has any value among the labelled accounts; the supervised score needs "
                              "signals that can be measured on them")
        return self

    def transform(self, X: Any) -> Any:
        if hasattr(X, "iloc"):
            return X.iloc[:, np.flatnonzero(self.keep_)]
        return np.asarray(X)[:, self.keep_]


class SupervisedScorer(ClassifierMixin, BaseEstimator):
    """Supervised score: a calibrated scikit-learn classifier on the signal feature frame.

    Parameters
    ----------
    estimator
        Any scikit-learn classifier; default ``HistGradientBoostingClassifier`` (handles missing values; columns
        without any value are dropped before it) from :data:`BOOSTING_FROM_LABELS` labelled accounts, and a
        logistic regression on imputed, standardised features below that.
    calibration
        'isotonic', 'sigmoid' or 'auto' (isotonic from :data:`ISOTONIC_FROM_LABELS` labels, sigmoid below:
        isotonic overfits small sets).
    cv
        Folds of the calibration.
    importance_rows
        Rows sampled to measure permutation importances for ranking reasons (0: skip, rank by rule weights).
    random_state
        Seed.

    Attributes
    ----------
    model_ : CalibratedClassifierCV
        The fitted, calibrated model.
    model_kind_ : str
        'gradient boosting', 'logistic regression' or 'given estimator'.
    calibration_ : str
        The calibration used ('isotonic' or 'sigmoid').
    signal_importances_ : dict
        Normalised permutation importance per signal (max 1).
    """

    def __init__(self, estimator: Any = None, calibration: str = "auto", cv: int = 3,
                 importance_rows: int = 5000, random_state: int = 0) -> None:
        self.estimator = estimator
        self.calibration = calibration
        self.cv = cv
        self.importance_rows = importance_rows
        self.random_state = random_state

    def _base(self, n_labels: int) -> tuple[Any, str]:
        """The classifier to calibrate and its kind."""
        from sklearn.pipeline import make_pipeline

        if self.estimator is not None:
            return self.estimator, "given estimator"
        if n_labels >= BOOSTING_FROM_LABELS:
            from sklearn.ensemble import HistGradientBoostingClassifier

            return make_pipeline(_DropEmptyColumns(), HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.08, min_samples_leaf=10, random_state=self.random_state)), \
                "gradient boosting"
        # too few labels for trees: a regularised linear model on imputed, scaled features
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                             LogisticRegression(C=1.0, max_iter=1000)), "logistic regression"

    def fit(self, X: pd.DataFrame, y: Any) -> SupervisedScorer:
        """Fit the calibrated classifier and measure signal importances; returns self.

        Raises
        ------
        ConfigError
            Labels of one class only, or fewer than 2 of either class.
        """
        from threadpoolctl import threadpool_limits

        y = np.asarray(y).astype(int)
        classes = np.unique(y)
        if len(classes) != 2:
            only = ", ".join(str(c) for c in classes.tolist()) or "none"
            raise ConfigError(f"the supervised score needs labels of both classes (1 = campaign/bot, 0 = "
                              f"organic/human); the {len(y):,} labelled accounts have label {only} only")
        counts = np.bincount(y)
        folds = int(min(self.cv, counts.min()))
        if folds < 2:
            raise ConfigError(f"the supervised score needs at least 2 labelled accounts of each class; got "
                              f"{counts[1]:,} labelled 1 (campaign/bot) and {counts[0]:,} labelled 0 (organic/human)")
        # labels are few (hundreds to thousands): one OpenMP thread. With more, each of the ~50,000 tree
        # predictions of the permutation test waits for the other threads, and on a loaded 2-core machine 300
        # labels took 70-130 s instead of 11 s.
        with threadpool_limits(limits=1, user_api="openmp"):
            return self._fit(X, y, folds)

    def _fit(self, X: pd.DataFrame, y: np.ndarray, folds: int) -> SupervisedScorer:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.inspection import permutation_importance

        base, self.model_kind_ = self._base(len(y))
        method = self.calibration
        if method == "auto":
            method = "isotonic" if len(y) >= ISOTONIC_FROM_LABELS else "sigmoid"
        self.calibration_ = method
        self.feature_names_in_ = np.array(list(X.columns), dtype=object)
        self.model_ = CalibratedClassifierCV(base, method=method, cv=folds).fit(X, y)
        self.classes_ = self.model_.classes_
        if self.importance_rows <= 0:  # skipped (e.g. inside a cross-validation): reasons rank by rule weight
            self.signal_importances_ = {c.split("__", 1)[0]: 0.0 for c in X.columns}
            return self
        rng = np.random.default_rng(self.random_state)
        idx = rng.choice(len(y), size=min(len(y), self.importance_rows), replace=False)
        imp = permutation_importance(self.model_, X.iloc[idx], y[idx], scoring="roc_auc", n_repeats=2,
                                     random_state=self.random_state)
        sig: dict[str, float] = {}
        for col, v in zip(X.columns, np.clip(imp.importances_mean, 0.0, None)):
            name = col.split("__", 1)[0]
            sig[name] = sig.get(name, 0.0) + float(v)
        top = max(sig.values()) if sig and max(sig.values()) > 0 else 1.0
        self.signal_importances_ = {k: v / top for k, v in sig.items()}
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(X[list(self.feature_names_in_)])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(X[list(self.feature_names_in_)])

    def signal_weights(self) -> dict[str, float]:
        """Normalised importance per signal (max 1), used to rank reasons.

        A small share of the rule weight is added so that signals the permutation test found redundant (zero
        importance, common when signals agree) still rank by the documented rules instead of vanishing.
        """
        return {k: v + 0.01 * RULE_WEIGHTS.get(k, 0.05) for k, v in self.signal_importances_.items()}


#: scorers by mode name
SCORERS: dict[str, Callable[..., Any]] = {"rules": RulesScorer, "supervised": SupervisedScorer}


__all__ = ["BOOSTING_FROM_LABELS", "ISOTONIC_FROM_LABELS", "RULE_GROUP_CAPS", "RULE_WEIGHTS", "SCORERS", "RulesScorer",
           "SupervisedScorer", "strength_columns"]

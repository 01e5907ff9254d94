"""Combine account signals into a risk score in [0, 1] that carries its reasons.

Why the module is shaped so: bot scores are unstable and fixed thresholds produce false positives (Rauchfleisch
& Kaiser 2020), so a score is useless unless a person can see why it is high. Both scorers therefore work on
the same feature frame -- one ``<signal>`` (value) and one ``<signal>__strength`` column per signal of
:mod:`echoscope.accounts.signals` -- and the reasons printed beside a score are always the signal texts, ranked by
how much each signal contributes:

* :class:`RulesScorer` (default, no training): a noisy-OR of documented weights,
  ``score = 1 - prod_s (1 - weight_s * strength_s)``, so one strong signal gives at most its weight and
  independent signals add up; a signal's contribution is ``weight * strength``.
* :class:`SupervisedScorer`: a scikit-learn classifier (histogram gradient boosting by default) with calibrated
  probabilities, trained on labels the user provides; contributions are ``importance * strength`` with the
  permutation importance of each signal measured at fit time.

Both follow scikit-learn conventions (``__init__`` stores parameters, ``fit`` returns ``self``, learned state
ends in ``_``, ``predict_proba`` returns two columns). :func:`score_study` runs signals and a scorer on a study
and writes the ``account_signals`` and ``account_scores`` result tables; ranking reasons is done in DuckDB so
a million accounts never become Python objects.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from sklearn.base import BaseEstimator, ClassifierMixin

from ..errors import ConfigError, SourceError
from .signals import SIGNALS, SignalContext, SignalParams, run_signals, signals_long

if TYPE_CHECKING:
    import pandas as pd

    from ..store.study import StudyStore as Study

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
    "repost_latency": 0.5,
    "amplification_role": 0.4,
}

#: score at or above which an account counts as flagged in summaries and evaluations
FLAG_THRESHOLD = 0.5

#: label spellings accepted in a labels file
POSITIVE_LABELS = frozenset({"1", "true", "yes", "bot", "fake", "campaign", "inauthentic", "coordinated", "troll"})
NEGATIVE_LABELS = frozenset({"0", "false", "no", "human", "real", "organic", "authentic", "genuine"})

SCORES_SCHEMA = pa.schema([
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("handle", pa.string()),
    pa.field("score", pa.float64(), nullable=False),
    pa.field("rank", pa.int64(), nullable=False),
    pa.field("mode", pa.string(), nullable=False),
    pa.field("n_signals", pa.int64(), nullable=False),
    pa.field("reasons", pa.list_(pa.struct([("signal", pa.string()), ("value", pa.float64()),
                                            ("text", pa.string())]))),
    pa.field("reasons_text", pa.string()),
])


def strength_columns(X: pd.DataFrame) -> list[str]:
    """Names of the strength columns of a feature frame."""
    return [c for c in X.columns if c.endswith("__strength")]


class RulesScorer(ClassifierMixin, BaseEstimator):
    """Rule-based score: noisy-OR of signal strengths with documented weights.

    Parameters
    ----------
    weights
        Signal -> weight in [0, 1]; default :data:`RULE_WEIGHTS`.
    threshold
        Score at or above which :meth:`predict` says 1.
    """

    def __init__(self, weights: Mapping[str, float] | None = None, threshold: float = FLAG_THRESHOLD) -> None:
        self.weights = weights
        self.threshold = threshold

    def fit(self, X: pd.DataFrame, y: Any = None) -> RulesScorer:
        """Check the weights (nothing is learned); returns self."""
        w = dict(RULE_WEIGHTS if self.weights is None else self.weights)
        bad = {k: v for k, v in w.items() if not 0.0 <= float(v) <= 1.0}
        if bad:
            raise ConfigError(f"rule weights must lie in [0, 1]; got {bad}")
        self.weights_ = w
        self.classes_ = np.array([0, 1])
        return self

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """``weight * strength`` per account and signal (columns in the order of the strength columns)."""
        cols = strength_columns(X)
        w = np.array([self.weights_.get(c[: -len("__strength")], 0.0) for c in cols], dtype=np.float64)
        s = np.nan_to_num(X[cols].to_numpy(dtype=np.float64), nan=0.0)
        return np.clip(s, 0.0, 1.0) * w

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Two columns: 1 - score, score."""
        c = np.clip(self.contributions(X), 0.0, 1.0)
        score = 1.0 - np.prod(1.0 - c, axis=1)
        return np.column_stack([1.0 - score, score])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= self.threshold).astype(int)

    def signal_weights(self) -> dict[str, float]:
        """Weight per signal used to rank reasons."""
        return dict(self.weights_)


class SupervisedScorer(ClassifierMixin, BaseEstimator):
    """Supervised score: a calibrated scikit-learn classifier on the signal feature frame.

    Parameters
    ----------
    estimator
        Any scikit-learn classifier; default ``HistGradientBoostingClassifier`` (handles missing values) from
        200 labelled accounts, and a logistic regression on imputed, standardised features below that.
    calibration
        'isotonic', 'sigmoid' or 'auto' (isotonic from 1,000 labels, sigmoid below: isotonic overfits small sets).
    cv
        Folds of the calibration.
    importance_rows
        Rows sampled to measure permutation importances for ranking reasons (0: skip, rank by rule weights).
    random_state
        Seed.
    """

    def __init__(self, estimator: Any = None, calibration: str = "auto", cv: int = 3,
                 importance_rows: int = 5000, random_state: int = 0) -> None:
        self.estimator = estimator
        self.calibration = calibration
        self.cv = cv
        self.importance_rows = importance_rows
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any) -> SupervisedScorer:
        """Fit the calibrated classifier and measure signal importances; returns self."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.inspection import permutation_importance

        y = np.asarray(y).astype(int)
        classes = np.unique(y)
        if len(classes) != 2:
            raise ConfigError(f"the supervised score needs labels of both classes; got only {classes.tolist()}")
        counts = np.bincount(y)
        folds = int(min(self.cv, counts.min()))
        if folds < 2:
            raise ConfigError("the supervised score needs at least 2 labelled accounts of each class")
        if self.estimator is not None:
            base = self.estimator
        elif len(y) >= 200:
            base = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.08, min_samples_leaf=10,
                                                  random_state=self.random_state)
        else:  # too few labels for trees: a regularised linear model on imputed, scaled features
            from sklearn.impute import SimpleImputer
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            base = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                                 LogisticRegression(C=1.0, max_iter=1000))
        method = self.calibration
        if method == "auto":
            method = "isotonic" if len(y) >= 1000 else "sigmoid"
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
        per_col = dict(zip(X.columns, np.clip(imp.importances_mean, 0.0, None)))
        sig: dict[str, float] = {}
        for col, v in per_col.items():
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


# ------------------------------------------------------------------------------------------- assembly
@dataclasses.dataclass
class ScoreResult:
    """What :func:`score_study` produced.

    Attributes
    ----------
    scores
        ``account_scores`` table (:data:`SCORES_SCHEMA`), highest score first.
    signals
        ``account_signals`` table (flagged evidence only).
    scorer
        The fitted scorer.
    meta
        Mode, parameters, counts and notes (also stored with the result tables).
    """

    scores: pa.Table
    signals: pa.Table
    scorer: Any
    meta: dict[str, Any]

    def top(self, n: int = 20) -> list[dict[str, Any]]:
        """The ``--json`` contract: ``[{"account_id", "score", "reasons": [{"signal", "value", "text"}]}]``."""
        head = self.scores.slice(0, n).select(["account_id", "score", "reasons"]).to_pylist()
        return [{"account_id": r["account_id"], "score": round(float(r["score"]), 4),
                 "reasons": [{"signal": x["signal"], "value": x["value"], "text": x["text"]}
                             for x in (r["reasons"] or [])]} for r in head]


def feature_frame(con: Any, ids_table: str, tables: Mapping[str, str]) -> pd.DataFrame:
    """Wide feature frame (index account_id): ``<signal>`` and ``<signal>__strength`` per signal, built in DuckDB.

    ``tables`` maps signal names to DuckDB tables with :data:`signals.SIGNAL_SCHEMA`.
    """
    cols, joins = ["i.account_id"], []
    for k, (name, tab) in enumerate(tables.items()):
        joins.append(f"LEFT JOIN {tab} s{k} ON s{k}.account_id = i.account_id")
        cols.append(f'CAST(s{k}.value AS FLOAT) AS "{name}"')
        cols.append(f'CAST(COALESCE(s{k}.strength, 0) AS FLOAT) AS "{name}__strength"')
    q = f"SELECT {', '.join(cols)} FROM {ids_table} i {' '.join(joins)} ORDER BY i.account_id"
    df = con.execute(q).to_arrow_table().to_pandas()
    return df.set_index("account_id")


def read_labels(path: str | os.PathLike[str]) -> pa.Table:
    """Read a labels file: CSV with ``account_id`` and ``label`` columns (1/0, bot/human, campaign/organic, ...).

    Raises
    ------
    SourceError
        Naming the file, line and field of the first bad row.
    """
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"labels file {p} not found; give a CSV with columns account_id,label")
    ids: list[str] = []
    ys: list[int] = []
    with open(p, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        if "account_id" not in fields or "label" not in fields:
            raise SourceError(f"columns {fields} lack account_id and/or label; expected a header "
                              "'account_id,label'", file=str(p), line=1)
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip(): v for k, v in row.items()}
            raw = (row.get("label") or "").strip().lower()
            if raw in POSITIVE_LABELS:
                ys.append(1)
            elif raw in NEGATIVE_LABELS:
                ys.append(0)
            else:
                raise SourceError(f"label '{raw}' is not known; use 1/0, true/false, bot/human or "
                                  "campaign/organic", file=str(p), line=line, field="label")
            aid = (row.get("account_id") or "").strip()
            if not aid:
                raise SourceError("empty account_id", file=str(p), line=line, field="account_id")
            ids.append(aid)
    return pa.table({"account_id": pa.array(ids, pa.string()), "label": pa.array(ys, pa.int64())})


def score_study(study: Study, *, mode: str = "rules", labels: pa.Table | None = None,
                images: pa.Table | None = None, params: SignalParams | None = None,
                weights: Mapping[str, float] | None = None, top_reasons: int = 3, write: bool = True,
                profile_extra: pa.Table | None = None, progress: Callable[[dict[str, Any]], None] | None = None) -> ScoreResult:
    """Compute signals and scores for every account of ``study`` and write the result tables.

    Parameters
    ----------
    study
        The study.
    mode
        'rules' (default, no training) or 'supervised' (needs ``labels``).
    labels
        ``account_id, label`` (1 = campaign/bot, 0 = organic/human) for the supervised mode.
    images
        Local image checks from :func:`echoscope.accounts.faces.scan_images`.
    params
        Signal thresholds.
    weights
        Rule weights (default :data:`RULE_WEIGHTS`).
    top_reasons
        Reasons kept per account.
    write
        Write ``account_signals`` and ``account_scores`` with ``study.write_result``.
    profile_extra
        ``account_id, time_zone`` profile settings held apart from the study (see
        :class:`~echoscope.accounts.signals.SignalContext`).
    progress
        Progress callback (``{"event": "stage", "message": ...}``).

    Returns
    -------
    ScoreResult
    """
    if mode not in SCORERS:
        raise ConfigError(f"--mode '{mode}' is not known; use {' or '.join(SCORERS)}")
    if mode == "supervised" and labels is None:
        raise ConfigError("--mode supervised needs --labels FILE (CSV with account_id,label)")
    if progress:
        progress({"event": "stage", "message": "per-account aggregates"})
    ctx = SignalContext(study, params, images, profile_extra)
    con = ctx.con
    pre = "_es_sc_" + uuid.uuid4().hex[:8] + "_"
    registered: list[str] = []
    try:
        tables = run_signals(ctx, progress=progress)
        names: dict[str, str] = {}
        for name, tab in tables.items():
            con.register(pre + name, tab)
            registered.append(pre + name)
            names[name] = pre + name
        if progress:
            progress({"event": "stage", "message": "features"})
        X = feature_frame(con, ctx.t("ids"), names)
        if progress:
            progress({"event": "stage", "message": f"{mode} score"})
        meta: dict[str, Any] = {"mode": mode, "params": dataclasses.asdict(ctx.params), "accounts": len(X)}
        if mode == "rules":
            scorer = RulesScorer(weights=weights).fit(X)
        else:
            assert labels is not None
            lab = labels.to_pandas().drop_duplicates("account_id", keep="last").set_index("account_id")["label"]
            common = X.index.intersection(lab.index)
            if len(common) == 0:
                raise ConfigError("none of the labelled account_ids occur in the study; check the labels file")
            scorer = SupervisedScorer().fit(X.loc[common], lab.loc[common].to_numpy())
            meta["labelled"] = len(common)
            meta["labels_missing_from_study"] = int(len(lab) - len(common))
        score = scorer.predict_proba(X)[:, 1].astype(np.float64)
        meta["flagged"] = int((score >= FLAG_THRESHOLD).sum())
        meta["weights"] = scorer.signal_weights()
        sc = pa.table({"account_id": pa.array(X.index.to_numpy(dtype=object), pa.string()),
                       "score": pa.array(score, pa.float64())})
        del X
        if progress:
            progress({"event": "stage", "message": "reasons"})
        w = scorer.signal_weights()
        # reasons rank by contribution (weight x strength), ties by signal name: the key orders the name's
        # alphabetical position descending so that max_by's top-k keeps the earlier name first
        order = {k: i for i, k in enumerate(sorted(w))}
        wt = pa.table({"signal": list(w), "weight": [float(v) for v in w.values()],
                       "o": [order[k] for k in w]})
        long = signals_long(tables)
        for n, t in (("sc", sc), ("wt", wt), ("long", long)):
            con.register(pre + n, t)
            registered.append(pre + n)
        k = int(top_reasons)
        # only the top-k reasons per account are kept (max_by with a count), never a sorted list of them all
        out = con.execute(f"""
            WITH r AS (SELECT l.account_id, count(*) AS n_signals,
                          max_by(struct_pack(signal := l.signal, value := l.value, text := l.text),
                                 struct_pack(c := l.strength * w.weight, o := -w.o), {max(k, 1)})
                            FILTER (WHERE w.weight > 0) AS reasons
                       FROM {pre}long l JOIN {pre}wt w USING (signal) GROUP BY l.account_id)
            SELECT sc.account_id, a.handle, sc.score, '{mode}' AS mode, COALESCE(r.n_signals, 0) AS n_signals,
                   r.reasons[1:{k}] AS reasons,
                   array_to_string(list_transform(r.reasons[1:{k}], x -> x.text), '; ') AS reasons_text
            FROM {pre}sc sc LEFT JOIN r USING (account_id)
            LEFT JOIN (SELECT account_id, handle FROM {ctx.t('acc')}) a USING (account_id)
            ORDER BY sc.score DESC, sc.account_id""").to_arrow_table()
        out = out.add_column(3, "rank", pa.array(np.arange(1, out.num_rows + 1, dtype=np.int64))).cast(SCORES_SCHEMA)
    finally:
        for r in registered:
            con.unregister(r)
        ctx.close()
    result = ScoreResult(scores=out, signals=long, scorer=scorer, meta=meta)
    if write:
        if progress:
            progress({"event": "stage", "message": "writing results"})
        study.write_result("account_signals", long, meta={"signals": list(SIGNALS), **{
            k: v for k, v in meta.items() if k != "weights"}})
        study.write_result("account_scores", out, meta=meta)
    return result


#: characters that make a spreadsheet read a cell as a formula (OWASP CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_sql(col: str) -> str:
    """SQL expression that prefixes a text cell starting with = + - @ tab or CR with a single quote."""
    return f"""CASE WHEN regexp_matches({col}, '^[=+\\-@\\t\\r]') THEN '''' || {col} ELSE {col} END"""


def write_scores_csv(scores: pa.Table, path: str | os.PathLike[str] | None, *, con: Any = None) -> bytes | None:
    """Write every account's score as a spreadsheet-safe CSV (``path`` None: return the bytes).

    Columns: account_id, handle, score, rank, mode, n_signals, reasons. Text cells that begin with = + - @
    tab or CR are prefixed with ``'`` so spreadsheets show them as text instead of running them.
    """
    import io

    import duckdb
    import pyarrow.csv as pacsv

    c = con if con is not None else duckdb.connect()
    name = "_es_csv_" + uuid.uuid4().hex[:8]
    c.register(name, scores.select(["account_id", "handle", "score", "rank", "mode", "n_signals", "reasons_text"]))
    try:
        safe = c.execute(f"""SELECT {neutralise_sql('account_id')} AS account_id, {neutralise_sql('handle')} AS handle,
                 round(score, 6) AS score, rank, mode, n_signals, {neutralise_sql('reasons_text')} AS reasons
                 FROM {name} ORDER BY rank""").to_arrow_table()
    finally:
        c.unregister(name)
    if path is None:
        buf = io.BytesIO()
        pacsv.write_csv(safe, buf)
        return buf.getvalue()
    pacsv.write_csv(safe, str(path))
    return None

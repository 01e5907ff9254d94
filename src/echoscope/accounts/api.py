"""The account-score analysis: signals, a scorer and the high-risk line, run on an engine and stored as one run.

Why shaped so: every analysis has one shape (:mod:`echoscope.engine.analysis`)::

    result = run(study, ScoreParams(mode="rules"), engine=engine)    # ScoreResult, an AnalysisResult

:func:`run` computes the signals on the engine's DuckDB connection under the ``accounts`` memory limit
(:mod:`echoscope.settings`), builds the feature frame, fits and applies the scorer, ranks each account's
reasons in DuckDB (a million accounts never become Python objects), says what kind of account each is
(``automated``, ``kind``: :data:`~echoscope.accounts.risk.KINDS`), draws the high-risk line once
(``account_scores.high_risk``, :data:`~echoscope.accounts.risk.HIGH_RISK_THRESHOLD` unless the run says
otherwise, with the kinds of :func:`~echoscope.accounts.risk.exempt_kinds` kept off; the column's field metadata
and the summary carry the line, its rule and its measured error rates) and stores ``account_signals`` and
``account_scores`` with their summary in one atomic commit with a run id. Console summaries, ``--json``, the CSV,
the demo and the report read those tables and that summary.
:func:`score_study` is the older keyword entry point, now a thin wrapper.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..engine import Engine
from ..engine.analysis import AnalysisResult, ProgressFn, store_result
from ..errors import ConfigError
from .context import SignalContext, SignalParams
from .labels import CLASS_NAMES
from .risk import (
    HIGH_RISK_THRESHOLD,
    KINDS,
    check_threshold,
    error_rate_sentence,
    exempt_kinds,
    expected_error_rates,
    headline,
    high_risk_rule,
    kind_sql,
)
from .scorers import SCORERS
from .signals import run_signals, signals_long

if TYPE_CHECKING:
    import pandas as pd

    from ..store.study import StudyStore

#: columns of the ``account_scores`` result table (highest score first)
SCORES_SCHEMA = pa.schema([
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("handle", pa.string()),
    pa.field("score", pa.float64(), nullable=False),
    pa.field("rank", pa.int64(), nullable=False),
    pa.field("high_risk", pa.bool_(), nullable=False),
    pa.field("automated", pa.bool_(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("mode", pa.string(), nullable=False),
    pa.field("n_signals", pa.int64(), nullable=False),
    pa.field("reasons", pa.list_(pa.struct([("signal", pa.string()), ("value", pa.float64()),
                                            ("text", pa.string())]))),
    pa.field("reasons_text", pa.string()),
])


@dataclasses.dataclass
class ScoreParams:
    """What one score run is asked to do.

    Attributes
    ----------
    mode
        'rules' (default, no training) or 'supervised' (needs ``labels``); the keys of
        :data:`~echoscope.accounts.scorers.SCORERS`.
    labels
        ``account_id, label`` (1 = campaign/bot, 0 = organic/human) for the supervised mode
        (:func:`~echoscope.accounts.labels.read_labels`).
    images
        Local image checks from :func:`echoscope.accounts.faces.scan_images`.
    profile_extra
        ``account_id, time_zone`` profile settings held apart from the study (see
        :class:`~echoscope.accounts.context.SignalContext`).
    signals
        Signal thresholds.
    weights
        Rule weights (default :data:`~echoscope.accounts.scorers.RULE_WEIGHTS`).
    top_reasons
        Reasons kept per account.
    high_risk_threshold
        The high-risk line of this run (default :data:`~echoscope.accounts.risk.HIGH_RISK_THRESHOLD`).
    """

    mode: str = "rules"
    labels: pa.Table | None = None
    images: pa.Table | None = None
    profile_extra: pa.Table | None = None
    signals: SignalParams = dataclasses.field(default_factory=SignalParams)
    weights: Mapping[str, float] | None = None
    top_reasons: int = 3
    high_risk_threshold: float = HIGH_RISK_THRESHOLD

    def check(self) -> None:
        """Raise a ConfigError for an impossible request (unknown mode, no labels, a line outside [0, 1])."""
        if self.mode not in SCORERS:
            raise ConfigError(f"--mode '{self.mode}' is not known; use {' or '.join(SCORERS)}")
        if self.mode == "supervised" and self.labels is None:
            raise ConfigError("--mode supervised needs --labels FILE (CSV with account_id,label)")
        self.high_risk_threshold = check_threshold(self.high_risk_threshold)
        if int(self.top_reasons) < 0:
            raise ConfigError(f"top_reasons must be 0 or more, not {self.top_reasons}")

    def describe(self) -> dict[str, Any]:
        """The parameters as plain data (stored with the run; input tables as their row counts)."""
        return {"mode": self.mode, "high_risk_threshold": float(self.high_risk_threshold),
                "top_reasons": int(self.top_reasons), "signals": dataclasses.asdict(self.signals),
                "weights": None if self.weights is None else {k: float(v) for k, v in self.weights.items()},
                "labels": None if self.labels is None else self.labels.num_rows,
                "images": None if self.images is None else self.images.num_rows,
                "profile_extra": None if self.profile_extra is None else self.profile_extra.num_rows}


@dataclasses.dataclass
class ScoreResult(AnalysisResult):
    """What :func:`run` returns: the stored tables, the summary and the fitted scorer.

    Attributes
    ----------
    tables
        ``account_signals`` (evidence of every signal that fired) and ``account_scores``
        (:data:`SCORES_SCHEMA`, highest score first).
    summary
        ``mode``, ``parameters``, ``accounts`` (scored), ``high_risk`` (count), ``high_risk_threshold`` (the
        line used), ``high_risk_rule`` and ``high_risk_exempt_kinds`` (the kinds kept off the list),
        ``expected_error_rates`` (measured at that line, :func:`~echoscope.accounts.risk.expected_error_rates`; None
        for a line not measured and for the supervised mode), ``automated`` (count), ``kinds`` (count per kind),
        ``weights`` (used to rank reasons), ``group_caps`` (rules), ``signal_rows``, ``notes``; in the supervised
        mode also ``labelled``, ``labels_missing_from_study``, ``model`` and ``calibration``.
    scorer
        The fitted scorer.
    """

    scorer: Any = None

    @property
    def scores(self) -> pa.Table:
        """The ``account_scores`` table."""
        return self.tables["account_scores"]

    @property
    def signals(self) -> pa.Table:
        """The ``account_signals`` table."""
        return self.tables["account_signals"]

    @property
    def meta(self) -> dict[str, Any]:
        """Older name of :attr:`summary`."""
        return self.summary

    def headline(self) -> str:
        """``148 of 10,000 accounts at high risk (score >= 0.65)`` (:func:`~echoscope.accounts.risk.headline`)."""
        return headline(self.summary)

    def error_rates(self) -> str:
        """``expected false positives at this line: ...`` (:func:`~echoscope.accounts.risk.error_rate_sentence`)."""
        return error_rate_sentence(self.summary)

    def top(self, n: int = 20) -> list[dict[str, Any]]:
        """The ``n`` highest scores: ``[{"account_id", "handle", "score", "high_risk", "automated", "kind", "reasons":
        [{"signal", "value", "text"}]}]``."""
        head = self.scores.slice(0, n).select(["account_id", "handle", "score", "high_risk", "automated", "kind",
                                               "reasons"]).to_pylist()
        return [{"account_id": r["account_id"], "handle": r["handle"], "score": round(float(r["score"]), 4),
                 "high_risk": bool(r["high_risk"]), "automated": bool(r["automated"]), "kind": r["kind"],
                 "reasons": [{"signal": x["signal"], "value": x["value"], "text": x["text"]}
                             for x in (r["reasons"] or [])]} for r in head]

    def to_json(self, n: int = 20) -> list[dict[str, Any]]:
        """The ``score --json`` document (issue 7's contract): a list of the top ``n`` accounts, each
        ``{"account_id", "score", "reasons": [{"signal", "value", "text"}]}`` plus ``handle``, ``high_risk``,
        ``automated``, ``kind`` and the run's ``high_risk_threshold``, ``expected_false_positives`` (the sentence of
        :func:`~echoscope.accounts.risk.error_rate_sentence`) and ``run_id``. The run's counts and measured rates
        are in its stored summary (``echoscope runs STUDY --json``)."""
        s = self.summary
        fp = error_rate_sentence(s)
        return [{**row, "high_risk_threshold": s["high_risk_threshold"], "expected_false_positives": fp,
                 "run_id": self.run_id} for row in self.top(n)]


def feature_frame(con: Any, ids_table: str, tables: Mapping[str, str]) -> pd.DataFrame:
    """Wide feature frame (index account_id): ``<signal>`` and ``<signal>__strength`` per signal, built in DuckDB.

    ``tables`` maps signal names to DuckDB tables with :data:`~echoscope.accounts.context.SIGNAL_SCHEMA`.
    """
    cols, joins = ["i.account_id"], []
    for k, (name, tab) in enumerate(tables.items()):
        joins.append(f"LEFT JOIN {tab} s{k} ON s{k}.account_id = i.account_id")
        cols.append(f'CAST(s{k}.value AS FLOAT) AS "{name}"')
        cols.append(f'CAST(COALESCE(s{k}.strength, 0) AS FLOAT) AS "{name}__strength"')
    q = f"SELECT {', '.join(cols)} FROM {ids_table} i {' '.join(joins)} ORDER BY i.account_id"
    df = con.execute(q).to_arrow_table().to_pandas()
    return df.set_index("account_id")


def _with_line(schema: pa.Schema, line: float, rule: str, rates: Mapping[str, Any] | None) -> pa.Schema:
    """``schema`` whose ``high_risk`` field carries the line, its rule and its measured error rates as metadata
    (kept in the stored Parquet file's schema, so the column says where it was drawn)."""
    import json

    i = schema.get_field_index("high_risk")
    meta = {"line": f"{line:g}", "rule": rule, "expected_error_rates": json.dumps(rates)}
    return schema.set(i, schema.field(i).with_metadata(meta))


def _fit(p: ScoreParams, X: pd.DataFrame, summary: dict[str, Any]) -> Any:
    """The fitted scorer of ``p.mode`` (supervised: on the labelled accounts found in ``X``)."""
    if p.mode == "rules":
        return SCORERS["rules"](weights=p.weights).fit(X)
    assert p.labels is not None
    lab = p.labels.to_pandas().drop_duplicates("account_id", keep="last").set_index("account_id")["label"]
    common = X.index.intersection(lab.index)
    missing = int(len(lab) - len(common))
    if len(common) == 0:
        raise ConfigError(f"none of the {len(lab):,} labelled account_ids occur in the study; check that the "
                          "labels file uses the study's account ids (see account_scores or 'echoscope info')")
    y = lab.loc[common].to_numpy().astype(int)
    if len(np.unique(y)) < 2:
        c = int(y[0])
        more = f" ({missing:,} other labels name accounts not in the study)" if missing else ""
        raise ConfigError(f"--mode supervised needs labelled accounts of both classes; the {len(common):,} "
                          f"labelled accounts found in the study are all {c} ({CLASS_NAMES[c]}){more}; add "
                          f"accounts with label {1 - c} ({CLASS_NAMES[1 - c]}) to the labels file")
    scorer = SCORERS["supervised"]().fit(X.loc[common], y)
    summary.update({"labelled": int(len(common)), "labels_missing_from_study": missing,
                    "model": scorer.model_kind_, "calibration": scorer.calibration_})
    return scorer


def _score(study: StudyStore, p: ScoreParams, eng: Engine, progress: ProgressFn | None) -> ScoreResult:
    """Signals, scorer, reasons and the high-risk line on ``eng`` (inside its ``accounts`` stage)."""
    def say(msg: str) -> None:
        if progress:
            progress({"event": "stage", "message": msg})

    say("per-account aggregates")
    con = eng.raw
    pre = "_es_sc_" + uuid.uuid4().hex[:8] + "_"
    registered: list[str] = []

    def register(name: str, tab: pa.Table) -> str:
        con.register(pre + name, tab)
        registered.append(pre + name)
        return pre + name

    line = float(p.high_risk_threshold)
    summary: dict[str, Any] = {"mode": p.mode, "parameters": p.describe()}
    try:
        with SignalContext(study, p.signals, p.images, p.profile_extra, engine=eng) as ctx:
            tables = run_signals(ctx, progress=progress)
            names = {name: register(name, tab) for name, tab in tables.items()}
            say("features")
            X = feature_frame(con, ctx.t("ids"), names)
            say(f"{p.mode} score")
            scorer = _fit(p, X, summary)
            score = scorer.predict_proba(X)[:, 1].astype(np.float64)
            sc = pa.table({"account_id": pa.array(X.index.to_numpy(dtype=object), pa.string()),
                           "score": pa.array(score, pa.float64())})
            n_accounts = len(X)
            del X
            say("reasons")
            w = scorer.signal_weights()
            # reasons rank by contribution (weight x strength), ties by signal name: the key orders the name's
            # alphabetical position descending so that max_by's top-k keeps the earlier name first
            order = {k: i for i, k in enumerate(sorted(w))}
            wt = pa.table({"signal": list(w), "weight": [float(v) for v in w.values()],
                           "o": [order[k] for k in w]})
            long = signals_long(tables)
            t_sc, t_wt, t_long = register("sc", sc), register("wt", wt), register("long", long)
            k = int(p.top_reasons)
            auto = names.get("automation")
            auto_sql = f"(SELECT account_id FROM {auto} WHERE strength >= 1)" if auto else "(SELECT NULL AS account_id)"
            exempt = ", ".join(f"'{x}'" for x in exempt_kinds(ctx.has_targets))
            # only the top-k reasons per account are kept (max_by with a count), never a sorted list of them all;
            # the kind of each account and the high-risk line are decided here, once, and stored as columns
            out = con.execute(f"""
                WITH r AS (SELECT l.account_id, count(*) AS n_signals,
                              max_by(struct_pack(signal := l.signal, value := l.value, text := l.text),
                                     struct_pack(c := l.strength * w.weight, o := -w.o), {max(k, 1)})
                                FILTER (WHERE w.weight > 0) AS reasons
                           FROM {t_long} l JOIN {t_wt} w USING (signal) GROUP BY l.account_id),
                kd AS ({kind_sql(ctx, auto_sql)})
                SELECT sc.account_id, a.handle, sc.score,
                       sc.score >= CAST({line!r} AS DOUBLE) AND kd.kind NOT IN ({exempt}) AS high_risk,
                       kd.automated, kd.kind,
                       $mode AS mode, COALESCE(r.n_signals, 0) AS n_signals, r.reasons[1:{k}] AS reasons,
                       array_to_string(list_transform(r.reasons[1:{k}], x -> x.text), '; ') AS reasons_text
                FROM {t_sc} sc LEFT JOIN r USING (account_id) JOIN kd USING (account_id)
                LEFT JOIN (SELECT account_id, handle FROM {ctx.t('acc')}) a USING (account_id)
                ORDER BY sc.score DESC, sc.account_id""", {"mode": p.mode}).to_arrow_table()
            has_targets = ctx.has_targets
            summary["notes"] = list(ctx.notes)
    finally:
        for r in registered:
            con.unregister(r)
    rates = expected_error_rates(line) if p.mode == "rules" else None
    out = out.add_column(3, "rank", pa.array(np.arange(1, out.num_rows + 1, dtype=np.int64))).cast(
        _with_line(SCORES_SCHEMA, line, high_risk_rule(has_targets), rates))
    kinds = {r["values"]: int(r["counts"]) for r in pc.value_counts(out["kind"]).to_pylist()}
    summary.update({"accounts": n_accounts, "high_risk": int(pc.sum(out["high_risk"]).as_py() or 0),
                    "high_risk_threshold": line, "high_risk_rule": high_risk_rule(has_targets),
                    "high_risk_exempt_kinds": list(exempt_kinds(has_targets)),
                    "expected_error_rates": rates,
                    "automated": int(pc.sum(out["automated"]).as_py() or 0),
                    "kinds": {k: int(kinds.get(k, 0)) for k in KINDS},
                    "signal_rows": long.num_rows, "weights": {s: float(v) for s, v in w.items()}})
    if hasattr(scorer, "group_caps_"):
        summary["group_caps"] = {k: {"signals": list(v[0]), "cap": v[1]} for k, v in scorer.group_caps_.items()}
    return ScoreResult("accounts", {"account_signals": long, "account_scores": out}, summary, scorer=scorer)


def run(study: StudyStore, params: ScoreParams | None = None, *, engine: Engine | None = None, write: bool = True,
        progress: ProgressFn | None = None) -> ScoreResult:
    """Score every account of ``study`` from 0 to 1 with its reasons, draw the high-risk line, store the result.

    Parameters
    ----------
    study
        The study.
    params
        Mode, labels, images, thresholds, the high-risk line (default :class:`ScoreParams`).
    engine
        The study's engine (default: a new ``Engine(study)``, closed after); the work runs under its ``accounts``
        memory limit.
    write
        Store ``account_signals`` and ``account_scores`` in one atomic commit with a run id
        (:func:`~echoscope.engine.analysis.store_result`).
    progress
        Called with ``{"event": "stage", "message": ...}`` as the work goes on.

    Returns
    -------
    ScoreResult
        ``.tables``, ``.summary`` (see :class:`ScoreResult`), ``.run_id`` when written.

    Raises
    ------
    ConfigError
        An unknown mode, a supervised run without labels or with labels of one class only, a line outside
        [0, 1], or DuckDB out of memory (the message names the setting that fixes it).
    """
    p = params if params is not None else ScoreParams()
    p.check()
    eng = engine if engine is not None else Engine(study)
    try:
        with eng.stage("accounts"):
            result = _score(study, p, eng, progress)
    finally:
        if engine is None:
            eng.close()
    if write:
        if progress:
            progress({"event": "stage", "message": "writing results"})
        store_result(study, result)
    return result


def score_study(study: StudyStore, *, mode: str = "rules", labels: pa.Table | None = None,
                images: pa.Table | None = None, params: SignalParams | None = None,
                weights: Mapping[str, float] | None = None, top_reasons: int = 3, write: bool = True,
                profile_extra: pa.Table | None = None, high_risk_threshold: float = HIGH_RISK_THRESHOLD,
                engine: Engine | None = None, progress: ProgressFn | None = None) -> ScoreResult:
    """Compute signals and scores for every account of ``study`` and write the result tables.

    The older keyword form of :func:`run` (``params`` here are the signal thresholds); same result.
    """
    return run(study, ScoreParams(mode=mode, labels=labels, images=images, profile_extra=profile_extra,
                                  signals=params or SignalParams(), weights=weights, top_reasons=top_reasons,
                                  high_risk_threshold=high_risk_threshold),
               engine=engine, write=write, progress=progress)


__all__ = ["SCORES_SCHEMA", "ScoreParams", "ScoreResult", "feature_frame", "run", "score_study"]

"""The one high-risk line of the account score, its measured error rates, the kinds of accounts, and the one
sentence that says how many accounts are above the line.

Why a module of its own: the console of ``echoscope score``, the demo and the report used to draw their own
lines (0.5 in two places, 0.7 in the third) and to word them their own way, so one study gave two counts. Now
:func:`echoscope.accounts.run` draws the line once, stores a boolean ``high_risk`` column in ``account_scores``
and the line and the count in the run's summary; everything that shows a count reads those and words it with
:func:`headline`. A line is only publishable with its error rate (Rauchfleisch & Kaiser 2020: fixed thresholds
produce false positives), so the rates measured at the line live here beside it (:data:`EXPECTED_ERROR_RATES`,
:func:`expected_error_rates`, :func:`error_rate_sentence`), as do the kinds of accounts (:data:`KINDS`) that
keep independent automated accounts off the list. This module imports nothing heavy, so the report and the demo
can use it freely.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..store.study import StudyStore
    from .context import SignalContext

#: The high-risk line of the account score: an account whose score is at or above it is *high risk* (unless its
#: kind keeps it off the list: :func:`exempt_kinds`).
#:
#: What it means: the account shows enough independent warning signs (by the rule weights, or the supervised
#: model's calibrated probability) that a person should read its reasons before anything is said about it. It
#: is a line for review, not a verdict, published with its measured error rate (:data:`EXPECTED_ERROR_RATES`).
#:
#: How it was chosen (rule score): above every single signal's weight but the GAN-face check's (0.6 for
#: ``creation_burst``, ``persona_duplicate``, ``image_duplicate``, ``dormancy_hijack``), so one warning sign never
#: suffices and a second one of some strength is needed; at or below 0.7, so two strong behavioural signs reach
#: it (``relative_latency`` 0.5 and ``amplification_role`` 0.4 at full strength give 0.7); and, among the lines
#: measured on the simulator's realistic scenario (benchmarks/bench_confounders.py, several seeds), the lowest
#: whose false positives stay at or below half the target of 1% -- for ordinary accounts and for fans, on every
#: seed, not only pooled. 0.65 met that on every seed measured (see :data:`EXPECTED_ERROR_RATES`); 0.6 and 0.62
#: did not for fans on every seed, and 0.6 lets one signal alone reach the line.
#:
#: Where it is used: :func:`echoscope.accounts.run` stores ``account_scores.high_risk`` and the line, the rule and
#: the count in the run's summary (``high_risk_threshold``, ``high_risk_rule``, ``high_risk``); the ``score``
#: command, its ``--json`` and CSV, the demo, the report and the measures read that column and that summary. A run
#: may draw another line (``score --high-risk-threshold``); the line it used is stored with it, and its error
#: rates when that line was measured. Keep it this one named constant.
HIGH_RISK_THRESHOLD: float = 0.65

#: Older name of :data:`HIGH_RISK_THRESHOLD` (it was 0.5, the line of the ``score`` console and the demo);
#: kept for old imports and now the same line.
FLAG_THRESHOLD: float = HIGH_RISK_THRESHOLD


#: What the high-risk line is expected to catch and to get wrong, measured on the simulator's realistic scenario
#: (issue 16: interest communities, fans bursting on their idols' posts, independent news aggregators, breaking-news
#: surges, eight campaign types) and stored beside the line so every output can state it. Rates are shares of the
#: accounts of each kind at or above the line (``account_scores.high_risk``), pooled over the seeds, with the
#: default ``coordinate`` run first (the score reads its clusters; without them scores can only be lower). Keyed by
#: the line as text; reproduce with the ``script`` of ``source``.
EXPECTED_ERROR_RATES: dict[str, Any] = {
    "source": {
        "simulator": "echoscope.simulate, scenario 'realistic'",
        "accounts": 42000,
        "engagements": 480000,
        "seeds": [1, 2, 3, 4, 5],
        "date": "2026-12-06",
        "coordinate_first": True,
        "script": "python benchmarks/bench_confounders.py --seeds 1 2 3 4 5",
    },
    "lines": {
        "0.5": {
            "ordinary": 0.02108, "fans": 0.0272, "aggregators": 0.0,
            "largest_seed": {"ordinary": 0.02291, "fans": 0.0347, "aggregators": 0.0},
            "campaign_recall": {"superspreaders": 1.0, "impersonation": 1.0, "hijacked": 0.981, "copypaste": 1.0,
                                "scheduled": 0.9947, "ring": 1.0, "slowtext": 0.9793, "links": 0.9655,
                                "campaign (all)": 0.9945}},
        "0.55": {
            "ordinary": 0.00108, "fans": 0.00402, "aggregators": 0.0,
            "largest_seed": {"ordinary": 0.00133, "fans": 0.00625, "aggregators": 0.0},
            "campaign_recall": {"superspreaders": 1.0, "impersonation": 1.0, "hijacked": 0.9492, "copypaste": 0.9968,
                                "scheduled": 0.9842, "ring": 0.9667, "slowtext": 0.9655, "links": 0.9448,
                                "campaign (all)": 0.9875}},
        "0.6": {
            "ordinary": 0.00039, "fans": 0.0018, "aggregators": 0.0,
            "largest_seed": {"ordinary": 0.00055, "fans": 0.00486, "aggregators": 0.0},
            "campaign_recall": {"superspreaders": 1.0, "impersonation": 1.0, "hijacked": 0.9397, "copypaste": 0.9968,
                                "scheduled": 0.9737, "ring": 0.7667, "slowtext": 0.869, "links": 0.9379,
                                "campaign (all)": 0.9779}},
        "0.62": {
            "ordinary": 0.00026, "fans": 0.00083, "aggregators": 0.0,
            "largest_seed": {"ordinary": 0.00033, "fans": 0.00278, "aggregators": 0.0},
            "campaign_recall": {"superspreaders": 1.0, "impersonation": 1.0, "hijacked": 0.927, "copypaste": 0.9968,
                                "scheduled": 0.9684, "ring": 0.7, "slowtext": 0.8276, "links": 0.931,
                                "campaign (all)": 0.9727}},
        "0.65": {
            "ordinary": 0.00018, "fans": 0.00083, "aggregators": 0.0,
            "largest_seed": {"ordinary": 0.00023, "fans": 0.00278, "aggregators": 0.0},
            "campaign_recall": {"superspreaders": 0.9992, "impersonation": 1.0, "hijacked": 0.9016, "copypaste": 0.9968,
                                "scheduled": 0.9526, "ring": 0.6, "slowtext": 0.731, "links": 0.8966,
                                "campaign (all)": 0.9601}},
        "0.68": {
            "ordinary": 0.0001, "fans": 0.00056, "aggregators": 0.0,
            "largest_seed": {"ordinary": 0.00015, "fans": 0.00208, "aggregators": 0.0},
            "campaign_recall": {"superspreaders": 0.9992, "impersonation": 1.0, "hijacked": 0.8571, "copypaste": 0.9968,
                                "scheduled": 0.9158, "ring": 0.5, "slowtext": 0.6621, "links": 0.7517,
                                "campaign (all)": 0.9399}},
        "0.7": {
            "ordinary": 8e-05, "fans": 0.00042, "aggregators": 0.0,
            "largest_seed": {"ordinary": 0.00013, "fans": 0.00139, "aggregators": 0.0},
            "campaign_recall": {"superspreaders": 0.9984, "impersonation": 1.0, "hijacked": 0.819, "copypaste": 0.9968,
                                "scheduled": 0.8737, "ring": 0.4667, "slowtext": 0.6, "links": 0.6897,
                                "campaign (all)": 0.9251}},
        "0.75": {
            "ordinary": 3e-05, "fans": 0.0, "aggregators": 0.0,
            "largest_seed": {"ordinary": 0.0001, "fans": 0.0, "aggregators": 0.0},
            "campaign_recall": {"superspreaders": 0.996, "impersonation": 1.0, "hijacked": 0.7302, "copypaste": 0.9968,
                                "scheduled": 0.7474, "ring": 0.4, "slowtext": 0.4897, "links": 0.4828,
                                "campaign (all)": 0.8871}},
        "0.8": {
            "ordinary": 0.0, "fans": 0.0, "aggregators": 0.0,
            "largest_seed": {"ordinary": 0.0, "fans": 0.0, "aggregators": 0.0},
            "campaign_recall": {"superspreaders": 0.9937, "impersonation": 1.0, "hijacked": 0.6032, "copypaste": 0.9968,
                                "scheduled": 0.5105, "ring": 0.3667, "slowtext": 0.3103, "links": 0.3241,
                                "campaign (all)": 0.8362}},
    },
}


def expected_error_rates(line: float = HIGH_RISK_THRESHOLD) -> dict[str, Any] | None:
    """The measured false-positive rates and campaign recall at ``line`` (None when ``line`` was not measured).

    Returns
    -------
    dict or None
        ``{"line", "ordinary", "fans", "aggregators", "campaign_recall": {campaign type: share}, "source":
        {"simulator", "accounts", "engagements", "seeds", "date", "script"}}``; rates are shares in [0, 1].
    """
    for key, rates in EXPECTED_ERROR_RATES["lines"].items():
        if abs(float(key) - float(line)) < 1e-9:
            return {"line": float(key), **rates, "source": dict(EXPECTED_ERROR_RATES["source"])}
    return None


def error_rate_sentence(summary: Mapping[str, Any]) -> str:
    """``expected false positives at this line: 0.02% of ordinary accounts, 0.3% of fans (simulator, 5 seeds)``, or
    why there is no such figure (a line that was not measured, a supervised score)."""
    rates = summary.get("expected_error_rates")
    if not rates:
        why = ("a supervised score's line depends on its labels" if summary.get("mode") == "supervised" else
               f"no measured error rate at this line; the measured line is {HIGH_RISK_THRESHOLD:g}")
        return f"expected false positives at this line: not measured ({why})"
    n = len(rates["source"]["seeds"])

    def pct(x: float) -> str:
        return f"{100 * x:.2f}%" if 0 < x < 0.01 else f"{100 * x:.1f}%"

    return (f"expected false positives at this line: {pct(rates['ordinary'])} of ordinary accounts, "
            f"{pct(rates['fans'])} of fans (simulator, {n} seed{'s' if n != 1 else ''})")


#: what ``account_scores.kind`` says of an account, in the order summaries list them. Behaviour, not risk: the score
#: and ``high_risk`` say how strong the warning signs are; the kind says what the account does.
KINDS: dict[str, str] = {
    "amplifies the targets": "not automated; at least amplifies_min_actions of its actions, and at least "
                             "amplifies_min_share of them, aim at the study's targets",
    "automated, amplifies the targets": "named automated by the automation assessment, and amplifies the targets",
    "automated reposting, no target": "named automated, mostly reposts (80% or more of its posts), does not amplify "
                                      "the targets",
    "automated, no target": "named automated, posts more than reposts, does not amplify the targets",
    "target": "one of the study's targets",
    "ordinary": "neither automated nor amplifying the targets",
}


def exempt_kinds(has_targets: bool) -> tuple[str, ...]:
    """The kinds kept off the high-risk list whatever their score: the study's own targets and, in a study with
    targets, automated accounts that do not amplify them (automation is not inauthentic amplification)."""
    return ("target", "automated reposting, no target", "automated, no target") if has_targets else ("target",)


def kind_sql(ctx: SignalContext, automated_ids: str) -> str:
    """SQL: one row per account of ``ctx`` with ``automated`` and ``kind`` (:data:`KINDS`; the kinds of
    :func:`exempt_kinds` are kept off the high-risk list).

    ``automated_ids`` is a query returning the ``account_id`` of every account the automation assessment named.
    """
    t, p = ctx.t, ctx.params
    has = "true" if ctx.has_targets else "false"
    return f"""
        WITH b AS (
          SELECT i.account_id, au.account_id IS NOT NULL AS automated, tg.account_id IS NOT NULL AS is_target,
                 {has} AND COALESCE(am.n_aim >= {int(p.amplifies_min_actions)}
                                    AND am.n_aim >= {float(p.amplifies_min_share)!r} * am.n_act, false) AS amplifies,
                 COALESCE(g.n_repost >= 0.8 * g.n, false) AS reposter
          FROM {t('ids')} i LEFT JOIN {t('aim')} am USING (account_id)
          LEFT JOIN (SELECT DISTINCT account_id FROM {automated_ids}) au USING (account_id)
          LEFT JOIN (SELECT DISTINCT account_id FROM {t('tgt')}) tg USING (account_id)
          LEFT JOIN {t('pagg')} g USING (account_id))
        SELECT account_id, automated,
               CASE WHEN is_target THEN 'target'
                    WHEN amplifies AND automated THEN 'automated, amplifies the targets'
                    WHEN amplifies THEN 'amplifies the targets'
                    WHEN automated AND reposter THEN 'automated reposting, no target'
                    WHEN automated THEN 'automated, no target'
                    ELSE 'ordinary' END AS kind
        FROM b"""


def high_risk_rule(has_targets: bool) -> str:
    """The rule ``account_scores.high_risk`` follows, in words (stored with the run's summary)."""
    if has_targets:
        return ("score at or above the line, except the study's own targets and accounts named automated that do "
                "not amplify the targets (automation is not inauthentic amplification; their kind says so)")
    return ("score at or above the line (the study has no targets, so automated accounts are not set apart: their "
            "kind says they are automated)")


def check_threshold(value: float, what: str = "--high-risk-threshold") -> float:
    """``value`` as a float in [0, 1]; a ConfigError that names ``what`` otherwise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} '{value}' is not a number; give a score between 0 and 1, e.g. "
                          f"{HIGH_RISK_THRESHOLD:g}") from None
    if math.isnan(v) or not 0.0 <= v <= 1.0:
        raise ConfigError(f"{what} {value} is outside [0, 1]; scores lie between 0 and 1 (default "
                          f"{HIGH_RISK_THRESHOLD:g})")
    return v


def headline(summary: Mapping[str, Any]) -> str:
    """The sentence every output uses for the high-risk count, e.g. ``148 of 10,000 accounts at high risk
    (score >= 0.65)``; :func:`error_rate_sentence` says what the line is expected to get wrong.

    Parameters
    ----------
    summary
        The summary of an ``accounts`` run: ``ScoreResult.summary``, or :func:`stored_summary` of a study (the
        keys ``accounts``, ``high_risk`` and ``high_risk_threshold`` are read).

    Raises
    ------
    ConfigError
        When the summary lacks those keys (a result written by an echoscope before the high-risk line).
    """
    try:
        n, k, line = int(summary["accounts"]), int(summary["high_risk"]), float(summary["high_risk_threshold"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError("the account scores carry no high-risk count (written by an older echoscope); rerun "
                          "'echoscope score' on the study") from None
    return f"{k:,} of {n:,} account{'' if n == 1 else 's'} at high risk (score >= {line:g})"


def automated_sentence(summary: Mapping[str, Any]) -> str | None:
    """``20 accounts named automated (20 automated reposting, no target: kept off the high-risk list)``, or None
    when the run named none (or predates the automation assessment)."""
    kinds = summary.get("kinds") or {}
    n = int(summary.get("automated") or 0)
    if not n:
        return None
    exempt = [k for k in summary.get("high_risk_exempt_kinds", ()) if k.startswith("automated") and kinds.get(k)]
    parts = [f"{int(kinds[k]):,} {k}" for k in KINDS if k.startswith("automated") and kinds.get(k)]
    off = f": {' and '.join(exempt)} kept off the high-risk list" if exempt else ""
    return f"{n:,} account{'' if n == 1 else 's'} named automated ({'; '.join(parts)}){off}"


def stored_summary(study: StudyStore) -> dict[str, Any] | None:
    """The summary stored with the study's latest ``account_scores`` (None when ``score`` has not run).

    For the report, the demo and ``info``: ``headline(stored_summary(study))`` words the stored count without
    reading the table.
    """
    m = study.manifest()
    if not m.has_result("account_scores"):
        return None
    summary = m.result_meta("account_scores").get("summary")
    return dict(summary) if isinstance(summary, Mapping) else None


__all__ = ["EXPECTED_ERROR_RATES", "FLAG_THRESHOLD", "HIGH_RISK_THRESHOLD", "KINDS", "automated_sentence",
           "check_threshold",
           "error_rate_sentence", "exempt_kinds", "expected_error_rates", "headline", "high_risk_rule", "kind_sql",
           "stored_summary"]

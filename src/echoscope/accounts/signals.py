"""Per-account signals: one function per signal, each returning a value and the evidence behind it.

Why the package is shaped so: a score is only as trustworthy as the person checking it can make it, so every
signal is a small, separately testable function that returns, for every account it can judge, the measured
``value`` (a number in the signal's own unit), a ``strength`` in [0, 1] (how far the value is into suspicious
territory, by documented thresholds in :class:`SignalParams`) and a ``text`` that says the value in words
("created within 3 h of 41 other amplifiers of @x"). Scorers (:mod:`echoscope.accounts.scorers`) only combine
strengths and copy texts; they never invent a reason.

This module is the registry (:data:`SIGNALS`) and the entry points; the signals live by what they read:

* :mod:`.context` -- :class:`SignalParams`, :class:`SignalContext` (the per-run DuckDB tables every signal
  reads) and the output schema;
* :mod:`.profile_signals` -- who an account says it is and when it was made (no posts needed);
* :mod:`.behaviour_signals` -- what it does (posts, reposts, clocks, automation clients, dormancy);
* :mod:`.amplification_signals` -- what it does judged against what it amplifies and against the study's own
  population (speed relative to the same authors' other amplifiers, the share aimed at the targets, texts
  repeated by other accounts) and the automation assessment;
* :mod:`.reference` -- the places, time zones and automation clients the signals join on.

Image signals (``image_duplicate``, ``gan_face``) read only local files the user names, scanned by
:mod:`echoscope.accounts.faces`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..errors import ConfigError
from .amplification_signals import amplification_role, automation, duplicate_text, relative_latency
from .behaviour_signals import (
    automation_client,
    dormancy_hijack,
    profile_mismatch,
    regular_intervals,
    repost_latency,
    repost_share,
    timezone_mismatch,
)
from .context import SIGNAL_SCHEMA, SignalContext, SignalParams
from .profile_signals import (
    account_age,
    creation_burst,
    default_image,
    follower_ratio,
    followers,
    gan_face,
    image_duplicate,
    name_mismatch,
    persona_duplicate,
    posts_per_day,
    templated_handle,
)
from .reference import AUTOMATION_CLIENTS, PLACE_LANGUAGES, PLACE_OFFSETS, TZ_NAME_OFFSETS

if TYPE_CHECKING:
    from ..engine import Engine
    from ..store.study import StudyStore

SignalFn = Callable[[SignalContext], pa.Table]
ProgressFn = Callable[[dict[str, Any]], None]

#: every signal by name, in the order reports list them
SIGNALS: dict[str, SignalFn] = {
    "creation_burst": creation_burst,
    "followers": followers,
    "follower_ratio": follower_ratio,
    "posts_per_day": posts_per_day,
    "account_age": account_age,
    "templated_handle": templated_handle,
    "name_mismatch": name_mismatch,
    "persona_duplicate": persona_duplicate,
    "default_image": default_image,
    "image_duplicate": image_duplicate,
    "gan_face": gan_face,
    "dormancy_hijack": dormancy_hijack,
    "timezone_mismatch": timezone_mismatch,
    "profile_mismatch": profile_mismatch,
    "automation_client": automation_client,
    "regular_intervals": regular_intervals,
    "repost_share": repost_share,
    "repost_latency": repost_latency,
    "relative_latency": relative_latency,
    "amplification_role": amplification_role,
    "duplicate_text": duplicate_text,
    "automation": automation,
}

#: columns of the ``account_signals`` result table
LONG_SCHEMA = pa.schema([
    pa.field("account_id", pa.string(), nullable=False),
    pa.field("signal", pa.string(), nullable=False),
    pa.field("value", pa.float64()),
    pa.field("strength", pa.float64()),
    pa.field("text", pa.string()),
])


def compute_signals(study: StudyStore, *, names: list[str] | None = None, params: SignalParams | None = None,
                    images: pa.Table | None = None, profile_extra: pa.Table | None = None,
                    engine: Engine | None = None, progress: ProgressFn | None = None) -> dict[str, pa.Table]:
    """Compute signals for every account of ``study``.

    Parameters
    ----------
    study
        The study.
    names
        Signals to compute (default: all of :data:`SIGNALS`).
    params
        Thresholds (default :class:`SignalParams`).
    images
        Local image checks from :func:`echoscope.accounts.faces.scan_images`.
    profile_extra
        ``account_id, time_zone`` profile settings held apart from the study (see :class:`SignalContext`).
    engine
        The study's engine (default: a new one); the work runs under its ``accounts`` memory limit.
    progress
        Called with ``{"event": "stage", "message": ...}`` before each signal.

    Returns
    -------
    dict of str to pyarrow.Table
        Signal name -> table with :data:`SIGNAL_SCHEMA` (one row per account the signal can judge).
    """
    from ..engine import Engine

    wanted = list(SIGNALS) if names is None else names
    unknown = [n for n in wanted if n not in SIGNALS]
    if unknown:
        raise ConfigError(f"unknown signal(s) {', '.join(unknown)}; known: {', '.join(SIGNALS)}")
    eng = engine if engine is not None else Engine(study)
    try:
        with eng.stage("accounts"):
            if progress:
                progress({"event": "stage", "message": "per-account aggregates"})
            with SignalContext(study, params, images, profile_extra, engine=eng) as ctx:
                return run_signals(ctx, wanted, progress=progress)
    finally:
        if engine is None:
            eng.close()


def run_signals(ctx: SignalContext, names: list[str] | None = None,
                progress: ProgressFn | None = None) -> dict[str, pa.Table]:
    """Run signals on a prepared :class:`SignalContext` (which the caller closes); see :func:`compute_signals`."""
    out: dict[str, pa.Table] = {}
    for n in (list(SIGNALS) if names is None else names):
        if progress:
            progress({"event": "stage", "message": f"signal {n}"})
        out[n] = SIGNALS[n](ctx)
    return out


def signals_long(tables: Mapping[str, pa.Table]) -> pa.Table:
    """Stack the rows of signal tables with a strength above 0 into the ``account_signals`` table
    (``account_id, signal, value, strength, text``).

    Those rows are the evidence a person reads; the values of every account stay in the feature frame of the
    score.
    """
    import pyarrow.compute as pc

    parts = []
    for name, tab in tables.items():
        tab = tab.filter(pc.greater(pc.fill_null(tab["strength"], 0.0), 0.0))
        sig = pa.nulls(tab.num_rows, pa.string()).fill_null(name)
        parts.append(pa.table({"account_id": tab["account_id"], "signal": sig, "value": tab["value"],
                               "strength": tab["strength"], "text": tab["text"]}, schema=LONG_SCHEMA))
    if not parts:
        return LONG_SCHEMA.empty_table()
    return pa.concat_tables(parts)


__all__ = ["AUTOMATION_CLIENTS", "LONG_SCHEMA", "PLACE_LANGUAGES", "PLACE_OFFSETS", "SIGNALS", "SIGNAL_SCHEMA",
           "TZ_NAME_OFFSETS", "SignalContext", "SignalFn", "SignalParams", "compute_signals", "run_signals",
           "signals_long"]

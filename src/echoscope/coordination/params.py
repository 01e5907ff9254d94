"""What a coordination run is asked for: its parameters, behaviour sets and semantics, and the shape of its edges.

Why a module of its own: every stage (actions, pairing, null models, validation, clusters), both engines and
the command line read the same :class:`CoordParams` and write the same :data:`EDGE_SCHEMA` and
:data:`EVIDENCE_SCHEMA`; keeping them apart from the stages lets each stage module import only what it uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..errors import ConfigError
from .coactions import COACTIONS

ProgressFn = Callable[[dict[str, Any]], None]

SEMANTICS: dict[str, str] = {
    "echoscope": "undirected pairs of distinct accounts; weight = distinct objects acted on together within "
                 "the window; pruning, dense-window guard, TF-IDF weight, null-model significance",
    "cnt": "coordination-network-toolkit: directed, one row per direction, weight = distinct messages of the "
           "source matched by the target within +/- window, self-loops kept, raw URLs",
    "coortweet": "CooRTweet: share-level pairs within the window (inclusive), min_participation before and "
                 "after pairing, weight = number of share pairs, coordinated = weight above the quantile; "
                 "several object types pooled into one network (its vignette)",
}

NULL_MODELS: dict[str, str] = {
    "account": "timestamps shuffled among each account's own actions (keeps its activity profile)",
    "object": "object timeline: each object keeps its timestamps, each account its objects, which account made "
              "which action is random (exact null means; accounts validated on held-out objects)",
    "none": "no null model (no p-values; every candidate edge counts)",
}


#: named sets of behaviours that ``--behaviour`` accepts beside single names (expanded in place, in this order).
#: ``amplification``: every behaviour about amplifying posts; on the simulator it finds 0.95 of the campaign
#: accounts that act together against 0.69 for co-retweet alone, at about 2.5x the time (benchmarks/RESULTS.md).
#: ``all``: every behaviour (those whose tables a study lacks find nothing and cost little)
BEHAVIOUR_SETS: dict[str, tuple[str, ...]] = {
    "amplification": ("co-retweet", "co-reply", "co-quote", "co-text", "rapid-fire", "early-amplify", "co-latency"),
    "all": tuple(COACTIONS),
}

#: what ``default`` (the ``--behaviour`` default) means under each semantics. echoscope: the amplification set,
#: co-link and shared-ip (a study without a logins table or URLs pays little for them). On the realistic
#: simulator (issue 16; benchmarks/RESULTS.md, "Coordination on the realistic platform") co-link and co-text,
#: judged by who shares (:data:`COSHARING_WINDOWS`), find the link and slow-text campaigns the timing tests
#: cannot see (0 -> 100%) with no ordinary account, fan or hub among their accounts; co-hashtag, co-mention,
#: co-domain and co-media found nothing more there (co-media: the simulator has no images) and are left to
#: ``--behaviour``. The peers' semantics define single networks: their default is co-retweet
DEFAULT_BEHAVIOURS: dict[str, tuple[str, ...]] = {
    "echoscope": ("amplification", "co-link", "shared-ip"),
    "cnt": ("co-retweet",),
    "coortweet": ("co-retweet",),
}


#: the object behaviours judged by *who* shares (the co-sharing test, :mod:`.cosharing`), each with the window
#: (seconds) within which two accounts' shares of one object count as acting together. Hours, not a minute: the
#: test's expectation counts every object two accounts share whatever the times, so a longer window only adds
#: co-shares to the count (no false positive through timing; the known weakness, interest communities, is
#: about who, not when: docs/coordination.md, "Who shares"). For rare objects chance gives almost no second
#: sharer at any time, and the sharers a link does draw by chance come as reactions to one piece of news,
#: spread like reactions are (half within an hour, nine in ten within 18 hours on the realistic platform): a
#: link or a hashtag set is judged over 6 hours (a news cycle; a campaign posting an article's link minutes or
#: hours after it), a text or an image over a day (a template is copied again on the next target's post, not
#: only on the same one). Objects shared on other days are reuse, not acting together. co-domain and co-mention
#: name sources, not items (every reader of a site or replier to an account shares them): they keep the timing
#: null
COSHARING_WINDOWS: dict[str, float] = {
    "co-link": 21600.0, "co-hashtag": 21600.0, "co-text": 86400.0, "co-media": 86400.0,
}


def expand_default(names: tuple[str, ...] | list[str], semantics: str) -> tuple[tuple[str, ...], bool]:
    """``names`` with ``default`` replaced by :data:`DEFAULT_BEHAVIOURS` of ``semantics``; and whether it was."""
    if "default" not in names:
        return tuple(names), False
    dflt = DEFAULT_BEHAVIOURS.get(semantics, ("co-retweet",))
    out: list[str] = []
    for n in names:
        out.extend(dflt if n == "default" else (n,))
    return tuple(out), True


def expand_behaviours(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Behaviour names with sets of :data:`BEHAVIOUR_SETS` expanded, first occurrence kept.

    Examples
    --------
    >>> expand_behaviours(["co-link", "amplification", "co-retweet"])[:3]
    ('co-link', 'co-retweet', 'co-reply')
    """
    out: list[str] = []
    for name in names:
        for b in BEHAVIOUR_SETS.get(name, (name,)):
            if b not in out:
                out.append(b)
    return tuple(out)


@dataclass
class CoordParams:
    """Parameters of a coordination run (see ``echoscope coordinate --help`` for units and costs)."""

    #: ``("default",)``: :data:`DEFAULT_BEHAVIOURS` of the semantics (echoscope: amplification, co-link, shared-ip)
    behaviours: tuple[str, ...] = ("default",)
    window: float = 60.0
    min_repeat: int = 2
    min_weight: int = 2
    alpha: float = 0.01
    semantics: str = "echoscope"
    null: str = "object"
    reps: int = 20
    max_window_actions: int | None = 200
    #: behaviours without a window (shared-ip): an address or device used by more than this many other
    #: accounts (carrier NAT, VPN exits, cloud egress) is dropped before pairing and reported
    max_shared_accounts: int | None = 50
    near_duplicate: float | None = 0.8
    rapid_seconds: float = 10.0
    #: early-amplify: engagements within this many seconds of the post
    early_seconds: float = 600.0
    #: co-latency: upper edges (seconds) of the delay buckets after the post
    latency_buckets: tuple[float, ...] = (10.0, 60.0, 300.0, 1800.0)
    edge_weight_quantile: float = 0.5
    evidence_per_edge: int | None = 20
    min_cluster_size: int = 2
    cluster_p: float = 0.2
    #: resolution of the Leiden (RB-configuration) grouping on the selection half of the held-out test; 1 is
    #: plain modularity, lower keeps large campaigns in one group (see validation.validate_accounts)
    group_resolution: float = 0.75
    #: held-out validation: an account's co-actions with its group must be at least this multiple of the null
    #: mean (a guard against small biases of the null that large counts make significant)
    min_lift: float = 1.5
    #: held-out validation's null per object on posts (:mod:`.audience`): ``audience`` -- an engagement with a post
    #: of author X is a random slot among all engagement slots of X's posts (judged against the author's own
    #: audience: fans bursting on their idol are most of its audience, a campaign on a diplomat whose other
    #: amplifiers are slow a small part of it); ``author`` -- an engagement keeps its delay, which of X's posts it
    #: went to is random (misses a group that amplifies every post of its targets); ``outside`` -- the account
    #: takes a random slot among the object's non-group accounts, the group's slots held fixed (the older test:
    #: any consistently early audience, fans, passes)
    group_null: str = "audience"
    #: held-out validation: an account's evidence must hold without the author (the posts' account) it co-acts
    #: on most beyond chance -- its usual subject: a fan's bursts on its one idol, however many, are one habit
    leave_out_top_author: bool = True
    #: the study's targets may be that usual subject too (before 2026-12-06; then a ring amplifying only one target
    #: was not found by the timing tests). False: a target is never left out (kept for measuring the difference)
    leave_out_targets: bool = False
    #: judge the object behaviours of :data:`COSHARING_WINDOWS` by who shares (the configuration null of
    #: :mod:`.cosharing`, each at its own window); False: by the object-timeline null at ``window``, as before
    cosharing: bool = True
    #: the co-sharing test's window (seconds) for every object behaviour; None: :data:`COSHARING_WINDOWS`
    object_window: float | None = None
    #: count a study target's own first share of an object it publishes (``CoAction.published``: its article's
    #: link, its headline's text) as a co-action. False (default): the target published what the others
    #: amplify, and is not an amplifier of it (:func:`.stages.drop_target_originals`); otherwise a state-media
    #: account landed in the cluster of the campaign sharing its links (7 of 385 targets, issue 16)
    target_originals: bool = False
    #: the study's target account ids, filled by the run (``api``) from the ``targets`` view; not a setting
    target_ids: tuple[str, ...] = ()
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: set when ``behaviours`` came from ``default`` (the Spark engine then runs the part of the default set it
    #: supports, with a note, instead of refusing behaviours the user did not ask for)
    default_behaviours: bool = False

    def __post_init__(self) -> None:
        names, dflt = expand_default(self.behaviours, self.semantics)
        self.behaviours = expand_behaviours(names)
        self.default_behaviours = self.default_behaviours or dflt

    def validate(self) -> None:
        """Raise ConfigError naming the flag of the first parameter out of its range."""
        unknown = [b for b in self.behaviours if b not in COACTIONS]
        if unknown:
            raise ConfigError(f"--behaviour: unknown behaviour(s) {', '.join(unknown)}; known: {', '.join(COACTIONS)}, "
                              f"or a set: {', '.join(BEHAVIOUR_SETS)}, default")
        if not self.behaviours:
            raise ConfigError("--behaviour: name at least one behaviour, e.g. co-retweet")
        if self.semantics not in SEMANTICS:
            raise ConfigError(f"--semantics must be one of {', '.join(SEMANTICS)}, not '{self.semantics}'")
        if self.null not in NULL_MODELS:
            raise ConfigError(f"--null must be one of {', '.join(NULL_MODELS)}, not '{self.null}'")
        if not self.window > 0:
            raise ConfigError(f"--window must be a positive number of seconds, not {self.window}")
        if self.max_shared_accounts is not None and self.max_shared_accounts < 1:
            raise ConfigError(f"--max-shared-accounts must be at least 1 (0 on the command line: no cap), not "
                              f"{self.max_shared_accounts}")
        if self.min_weight < 1 or self.min_repeat < 1:
            raise ConfigError("--min-weight and --min-repeat must be at least 1")
        if not 0 < self.cluster_p <= 1:
            raise ConfigError(f"--cluster-p must be a p-value in (0, 1], not {self.cluster_p}")
        if not self.min_lift >= 1:
            raise ConfigError(f"--min-lift must be at least 1 (1 = significance only), not {self.min_lift}")
        if self.object_window is not None and not self.object_window > 0:
            raise ConfigError(f"--object-window must be a positive number of seconds, not {self.object_window}")
        if self.group_null not in ("audience", "author", "outside"):
            raise ConfigError(f"group_null must be 'audience', 'author' or 'outside', not '{self.group_null}'")
        if not self.group_resolution > 0:
            raise ConfigError(f"--group-resolution must be a positive number (e.g. 0.5), not {self.group_resolution}")
        if not 0 < self.alpha < 1:
            raise ConfigError(f"--alpha must be between 0 and 1 (e.g. 0.01), not {self.alpha}")
        if not self.early_seconds > 0:
            raise ConfigError(f"--early-seconds must be a positive number of seconds, not {self.early_seconds}")
        if not self.latency_buckets or any(not b > 0 for b in self.latency_buckets) \
                or list(self.latency_buckets) != sorted(set(self.latency_buckets)):
            raise ConfigError("--latency-buckets must be increasing positive seconds like 10,60,300,1800, not "
                              f"{','.join(f'{b:g}' for b in self.latency_buckets) or 'nothing'}")
        if self.near_duplicate is not None and not 0 < self.near_duplicate <= 1:
            raise ConfigError(f"--near-duplicate must be a Jaccard similarity in (0, 1], not {self.near_duplicate}")
        if self.semantics != "echoscope":
            # CoAction.peers: the peers that define the behaviour at all
            bad = [b for b in self.behaviours if self.semantics not in getattr(COACTIONS[b], "peers", ())]
            if bad:
                raise ConfigError(f"--semantics {self.semantics} covers only the peer's own networks; "
                                  f"{', '.join(bad)} has no peer definition: use --semantics echoscope")

    def describe(self) -> dict[str, Any]:
        """The parameters as plain data (the summary's ``parameters``; ``extra`` and ``target_ids`` left out)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("extra", "target_ids")}


def sql_params(params: CoordParams) -> dict[str, Any]:
    """The parameters a behaviour's SQL (``CoAction.sql``, ``reference``, ``window``) may read."""
    return {"window": params.window, "rapid_seconds": params.rapid_seconds, "early_seconds": params.early_seconds,
            "latency_buckets": tuple(params.latency_buckets), **params.extra}


def judged_by_cosharing(behaviour: str, params: CoordParams) -> bool:
    """Whether ``behaviour``'s edges are judged by the co-sharing test (:mod:`.cosharing`) in this run."""
    return (params.cosharing and behaviour in COSHARING_WINDOWS and params.semantics == "echoscope"
            and params.null == "object")


def behaviour_params(behaviour: str, params: CoordParams) -> CoordParams:
    """``params`` with the behaviour's own pairing window when it has one (``CoAction.window``, or the co-sharing
    window of an object behaviour, :data:`COSHARING_WINDOWS`)."""
    spec = COACTIONS[behaviour]
    if judged_by_cosharing(behaviour, params):
        w = params.object_window if params.object_window is not None else COSHARING_WINDOWS[behaviour]
        return dataclasses.replace(params, window=float(w))
    if spec.window is None or params.semantics != "echoscope":
        return params
    return dataclasses.replace(params, window=float(spec.window(sql_params(params))))


EDGE_SCHEMA = pa.schema([
    ("behaviour", pa.string()), ("account_a", pa.string()), ("account_b", pa.string()), ("directed", pa.bool_()),
    ("weight", pa.float64()), ("n_objects", pa.int64()), ("n_pairs", pa.int64()), ("weight_idf", pa.float64()),
    ("min_gap_s", pa.float64()), ("mean_gap_s", pa.float64()), ("first_ts", pa.float64()), ("last_ts", pa.float64()),
    ("null_mean", pa.float64()), ("z", pa.float64()), ("p_value", pa.float64()), ("significant", pa.bool_()),
])

EVIDENCE_SCHEMA = pa.schema([
    ("behaviour", pa.string()), ("account_a", pa.string()), ("account_b", pa.string()), ("object_id", pa.string()),
    ("action_a", pa.string()), ("action_b", pa.string()), ("ts_a", pa.float64()), ("ts_b", pa.float64()),
    ("gap_s", pa.float64()),
])


@dataclass
class BehaviourResult:
    """Edges and evidence of one behaviour, with what the run did to get them.

    Once a run has written them to its spill files (:mod:`.spill`), ``edges`` holds only the judged edges and
    ``evidence`` is empty: the rest is read from the files."""

    behaviour: str
    edges: pa.Table
    evidence: pa.Table
    stats: dict[str, Any]
    #: the DuckDB table (``_cv_h_<b>``) of its candidate edges' weights and null means on each half of the objects
    #: (sample splitting, see :mod:`.validation`); kept on the connection, not in Python (5.5M rows at 10M)
    halves: str | None = None


__all__ = ["BEHAVIOUR_SETS", "COSHARING_WINDOWS", "DEFAULT_BEHAVIOURS", "EDGE_SCHEMA", "EVIDENCE_SCHEMA",
           "NULL_MODELS", "SEMANTICS", "BehaviourResult", "CoordParams", "ProgressFn", "behaviour_params",
           "expand_behaviours", "expand_default", "judged_by_cosharing", "sql_params"]

"""Parameters of the simulated platform, with the published figure each one defaults to.

All knobs live here as frozen dataclasses so that a whole run is described by one value that can be printed,
stored next to the ground truth (``truth_accounts`` meta) and compared. Scenarios and difficulties are
registries of overrides applied on top of the defaults (scenario first, then difficulty, then the caller's own
overrides); they were fixed before any detector was tuned and must not be changed to suit a detector (see
docs/simulator.md). The campaigns added with the confounders (``scheduled``, ``ring``, ``slowtext``,
``links``) and the confounders themselves (:data:`CONFOUNDERS`) are off in the ``default`` scenario, so its
calibrated platform stays exactly as it was; the ``realistic`` scenario turns everything on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ..errors import ConfigError

UTC = dt.UTC


@dataclasses.dataclass(frozen=True)
class SuperSpreaders:
    """A network of freshly made accounts that retweets the targets within seconds (AP/OII "super-spreaders")."""

    enabled: bool = True
    #: share of all engagements the network makes (sets, with the other campaigns, the ~1 in 10 figure)
    engagement_share: float = 0.065
    #: accounts per 1,000 platform accounts (Twitter removed ~150,000 amplifiers of a 2020 PRC network)
    accounts_per_1000: float = 6.0
    min_accounts: int = 40
    #: Zipf exponent of activity inside the network: a few accounts do most retweets (top 1% ~ half)
    activity_zipf: float = 1.1
    #: days on which the accounts were created (creation bursts), and spread within a day (hours)
    burst_days: int = 6
    burst_hours: float = 6.0
    #: median and log-sd of the retweet latency in seconds ("rapid-fire", often within seconds)
    latency_median_s: float = 9.0
    latency_sigma: float = 0.8
    #: accounts per amplified post (lognormal median), so the network co-retweets
    per_post_median: float = 9.0
    #: share of accounts whose image is the platform default / a GAN face / a reused stock photo
    default_image_share: float = 0.5
    gan_image_share: float = 0.4
    #: followers are Poisson(mean) with a small tail ("rarely more than ten followers")
    followers_mean: float = 3.0
    #: share of the network's activity aimed at the focus target (the ambassador to the UK)
    focus_share: float = 0.15
    #: probability of being suspended (in waves) by the final check; Twitter removed most of such networks
    suspended_share: float = 0.8
    #: follows a diurnal schedule like a person (harder) instead of posting around the clock
    diurnal: bool = False
    #: share of the network's engagements spent on popular organic posts to look normal (camouflage)
    camouflage_share: float = 0.05
    #: share of the network's engagements that are replies/quotes with copy-paste text (rest are retweets)
    reply_share: float = 0.04


@dataclasses.dataclass(frozen=True)
class Impersonation:
    """Personas claiming to be UK citizens, run in UTC+8 office hours (DemTech working papers 2021.1/2021.2)."""

    enabled: bool = True
    engagement_share: float = 0.03
    #: the UK network had 62 coordinated accounts
    accounts: int = 62
    #: operators' UTC offset (hours) and office hours (local), weekdays only
    utc_offset_h: float = 8.0
    office_start_h: float = 9.0
    office_end_h: float = 18.0
    #: share of the cluster's engagements on the focus targets (ambassador, embassy); "more than 4 in 10 of
    #: the ambassador's retweets"
    focus_share: float = 0.9
    #: replies (persona talk) versus retweets
    reply_share: float = 0.25
    #: seconds between members acting on one post (exponential mean): "often within 60 seconds"
    spread_s: float = 25.0
    #: 31 of 62 suspended by March 2021 and 29 more after the researchers reported them
    suspended_share: float = 0.5
    reported_share: float = 0.47


@dataclasses.dataclass(frozen=True)
class Hijacked:
    """Old, real-looking accounts silent for months that switch language and topic and start amplifying (CIR)."""

    enabled: bool = True
    engagement_share: float = 0.008
    accounts_per_1000: float = 1.5
    min_accounts: int = 10
    #: months of silence before the takeover (minimum)
    dormant_months: float = 8.0
    #: language the hijacked accounts switch to, and the client they then use
    new_lang: str = "zh"
    new_client: str = "Twitter Web App"
    latency_median_s: float = 120.0
    latency_sigma: float = 1.5
    suspended_share: float = 0.35
    #: takeovers happen between these many days after the start and that plus ``takeover_days``
    takeover_after_days: float = 10.0
    takeover_days: float = 110.0


@dataclasses.dataclass(frozen=True)
class CopyPaste:
    """Reply brigades posting copy-paste / near-duplicate text, co-posted links and hashtag sequences."""

    enabled: bool = True
    engagement_share: float = 0.007
    accounts_per_1000: float = 1.5
    min_accounts: int = 15
    #: share of posts that add a small edit to the template (near-duplicates rather than copies)
    mutate_share: float = 0.5
    #: accounts per reply wave (lognormal median) and spread of a wave (seconds, exponential mean)
    per_post_median: float = 6.0
    spread_s: float = 90.0
    #: own original posts carrying the shared link + hashtag sequence, per account
    link_posts_per_account: float = 4.0
    suspended_share: float = 0.55


@dataclasses.dataclass(frozen=True)
class Scheduled:
    """A shift of accounts that reposts the targets together at a scheduled time minutes after the post."""

    enabled: bool = True
    engagement_share: float = 0.012
    accounts_per_1000: float = 0.9
    min_accounts: int = 20
    #: reposts land on the next clock slot (:00, :15, :30, :45) at least ``min_lead_s`` after the post
    slot_minutes: int = 15
    min_lead_s: float = 120.0
    #: members fire within seconds of the slot (exponential mean, seconds)
    spread_s: float = 3.0
    per_post_median: float = 12.0
    #: the shift works these local hours (UTC offset, start, end), every day; later posts wait for it
    utc_offset_h: float = 8.0
    shift_start_h: float = 8.0
    shift_end_h: float = 23.0
    suspended_share: float = 0.3
    #: share of logins from shared operator IPs: 0, they log in through residential proxies (cf. SimConfig)
    shared_ip_share: float = 0.0


@dataclasses.dataclass(frozen=True)
class Ring:
    """A small ring that reposts the targets and each other's posts."""

    enabled: bool = True
    engagement_share: float = 0.004
    accounts: int = 6
    #: share of the ring's engagements spent on its members' own posts (the rest amplifies the targets)
    exchange_share: float = 0.4
    #: probability that a member reposts another member's post, and the delay (lognormal median, log-sd)
    exchange_p: float = 0.8
    latency_median_s: float = 240.0
    latency_sigma: float = 1.0
    #: members joining a target wave (probability each) and their spread after the first (seconds)
    join_p: float = 0.75
    spread_s: float = 45.0
    suspended_share: float = 0.0
    #: share of logins from shared operator IPs: 0, they log in through residential proxies (cf. SimConfig)
    shared_ip_share: float = 0.0


@dataclasses.dataclass(frozen=True)
class SlowText:
    """Accounts posting templated praise of a target (replies and original posts) over two hours."""

    enabled: bool = True
    #: replies to the targets (engagements); ``original_share`` of the campaign's posts are originals instead
    engagement_share: float = 0.003
    original_share: float = 0.4
    accounts_per_1000: float = 0.7
    min_accounts: int = 20
    per_post_median: float = 8.0
    #: posts spread uniformly over this many seconds after the target's post
    window_s: float = 7200.0
    suspended_share: float = 0.2
    #: share of logins from shared operator IPs: 0, they log in through residential proxies (cf. SimConfig)
    shared_ip_share: float = 0.0


@dataclasses.dataclass(frozen=True)
class Links:
    """Accounts posting the state-media targets' article links minutes after the article is posted."""

    enabled: bool = True
    #: link posts (originals, not engagements) as a share of the platform's engagements
    posts_share: float = 0.004
    accounts_per_1000: float = 0.7
    min_accounts: int = 20
    per_post_median: float = 5.0
    latency_median_s: float = 240.0
    latency_sigma: float = 0.9
    #: share of link posts carrying tracking parameters (utm_*, share ids)
    tracking_share: float = 0.6
    suspended_share: float = 0.2
    #: share of logins from shared operator IPs: 0, they log in through residential proxies (cf. SimConfig)
    shared_ip_share: float = 0.0


@dataclasses.dataclass(frozen=True)
class Communities:
    """Interest-community hubs: a few accounts per community whose posts draw much of its internal sharing."""

    enabled: bool = True
    hubs_per_community: int = 3
    #: share of a community's internal sharing weight on its hubs' posts
    hub_share: float = 0.35
    #: hubs have at least this many followers
    hub_min_followers: int = 5_000


@dataclasses.dataclass(frozen=True)
class Fandoms:
    """Popular non-target idols (artists, athletes) whose fans repost each post within a minute."""

    enabled: bool = True
    engagement_share: float = 0.05
    idols_per_1000: float = 0.3
    min_idols: int = 4
    #: fans as a share of organic users, and the share of an idol's fans drawn from its home community
    fan_share: float = 0.035
    home_share: float = 0.7
    #: mean chance that a fan (awake) reposts a given post of its idol; fans differ (Beta-distributed)
    participation: float = 0.25
    #: repost delay: lognormal median and log-sd (seconds), folded inside a minute
    delay_median_s: float = 15.0
    delay_sigma: float = 0.8
    #: share of fan engagements that are replies (later, minutes) instead of reposts
    reply_share: float = 0.1


@dataclasses.dataclass(frozen=True)
class Aggregators:
    """Independent automated news aggregators, each reposting every post of a few news accounts in seconds."""

    enabled: bool = True
    engagement_share: float = 0.04
    bots_per_1000: float = 0.48
    min_bots: int = 4
    outlets_per_1000: float = 0.3
    min_outlets: int = 3
    #: each bot follows between these many outlets (inclusive), chosen by the outlets' reach
    follows: tuple[int, int] = (2, 4)
    latency_median_s: float = 6.0
    latency_sigma: float = 0.5


@dataclasses.dataclass(frozen=True)
class Surges:
    """Breaking news: many ordinary users repost one news post within minutes."""

    enabled: bool = True
    engagement_share: float = 0.004
    size_median: float = 150.0
    delay_median_s: float = 120.0
    delay_sigma: float = 0.8


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """One simulated platform. ``accounts`` and ``engagements`` set the size; everything else its shape."""

    accounts: int = 20_000
    engagements: int = 200_000
    seed: int = 7
    platform: str = "twitter"
    difficulty: str = "default"
    #: the AP/OII study window: June 2020 - February 2021
    start: dt.datetime = dt.datetime(2020, 6, 1, tzinfo=UTC)
    end: dt.datetime = dt.datetime(2021, 3, 1, tzinfo=UTC)
    #: targets: 189 diplomats and 176 state-media accounts in the study, scaled down for small platforms
    diplomats: int | None = None
    state_media: int | None = None
    #: only 14% of the diplomat accounts carried a government-affiliation label on 1 March 2021
    label_share: float = 0.14
    #: share of engagements aimed at the targets' posts (the rest is the organic platform around them)
    target_share: float = 0.45
    #: the focus target's (ambassador to the UK) share of the targets' organic attention: about 43,000 of
    #: 1.3 million diplomat retweets (3%), of which under half organic
    focus_organic_share: float = 0.015
    #: engagement kinds of organic users (retweets dominate on Twitter: 1.3M retweets vs 1M comments)
    organic_kinds: tuple[float, float, float] = (0.72, 0.18, 0.10)  # repost, reply, quote
    #: posts per engagement: originals are made so that posts get ~4 engagements on average (heavy tailed)
    engagements_per_original: float = 4.0
    #: Pareto exponent of organic activity (smaller = heavier tail); power users do much of the sharing
    activity_alpha: float = 0.9
    #: Pareto exponent of post popularity; smaller makes bigger viral moments
    popularity_alpha: float = 1.0
    #: organic retweet delay: lognormal median (s) and log-sd: minutes to days, long tailed
    organic_delay_median_s: float = 1800.0
    organic_delay_sigma: float = 2.0
    #: share of posts that go viral (retweeted within minutes by many honest accounts) and their delay median
    viral_share: float = 0.004
    viral_delay_median_s: float = 150.0
    #: organic users asleep between these local hours move most activity to the next morning
    sleep_start_h: float = 0.0
    sleep_end_h: float = 7.0
    sleep_keep: float = 0.08
    #: organic accounts suspended or deleted for unrelated reasons (spam, churn) by the final check
    organic_suspended_share: float = 0.004
    organic_deleted_share: float = 0.01
    #: organic accounts with handles like platform defaults (name + 8 digits) and default images
    organic_templated_share: float = 0.08
    organic_default_image_share: float = 0.05
    #: organic communities (topic groups) per 1,000 accounts; cross-community sharing share
    communities_per_1000: float = 2.0
    cross_community: float = 0.1
    #: enforcement: suspension waves (days after start) and the study's status check date
    wave_days: tuple[int, ...] = (75, 150, 220)
    final_check: dt.datetime = dt.datetime(2021, 3, 1, tzinfo=UTC)
    #: the extra wave after researchers reported the network (29 more UK accounts)
    report_wave: dt.datetime = dt.datetime(2021, 4, 15, tzinfo=UTC)
    #: share of campaign accounts that log in from an operator IP shared with others ("same IP address")
    shared_ip_share: float = 0.6
    operator_ips: int = 12
    #: weeks at the start in which the campaigns are nearly silent
    quiet_weeks: int = 2
    scenario: str = "default"
    superspreaders: SuperSpreaders = SuperSpreaders()
    impersonation: Impersonation = Impersonation()
    hijacked: Hijacked = Hijacked()
    copypaste: CopyPaste = CopyPaste()
    scheduled: Scheduled = Scheduled(enabled=False)
    ring: Ring = Ring(enabled=False)
    slowtext: SlowText = SlowText(enabled=False)
    links: Links = Links(enabled=False)
    communities: Communities = Communities(enabled=False)
    fandoms: Fandoms = Fandoms(enabled=False)
    aggregators: Aggregators = Aggregators(enabled=False)
    surges: Surges = Surges(enabled=False)

    def campaigns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CAMPAIGNS}

    def confounders(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONFOUNDERS}


#: campaign name -> SimConfig field (the first four are the default scenario's)
CAMPAIGNS: tuple[str, ...] = ("superspreaders", "impersonation", "hijacked", "copypaste", "scheduled", "ring",
                              "slowtext", "links")
#: confounders: authentic (or independent automated) behaviour that looks coordinated; SimConfig fields
CONFOUNDERS: tuple[str, ...] = ("communities", "fandoms", "aggregators", "surges")

_WEEKS8 = dt.datetime(2020, 9, 7, tzinfo=UTC)

#: scenario name -> default size, campaigns and confounders switched on, and overrides of the defaults
SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {"accounts": 20_000, "engagements": 200_000, "campaigns": CAMPAIGNS[:4], "confounders": (),
                "overrides": {}},
    # eight weeks of a platform with every confounder and every campaign (docs/simulator.md "Scenarios")
    "realistic": {"accounts": 42_000, "engagements": 480_000, "campaigns": CAMPAIGNS, "confounders": CONFOUNDERS,
                  "overrides": {
                      "start": _WEEKS8, "end": _WEEKS8 + dt.timedelta(weeks=8),
                      "final_check": _WEEKS8 + dt.timedelta(weeks=8),
                      "report_wave": _WEEKS8 + dt.timedelta(weeks=8, days=45),
                      "wave_days": (21, 42), "quiet_weeks": 1,
                      # half of all retweets within an hour, a long tail of hours and days (Kwak et al. 2010)
                      "organic_delay_median_s": 3600.0, "organic_delay_sigma": 2.3,
                      "hijacked": {"takeover_days": 25.0},
                  }},
}

#: difficulty name -> overrides on top of the defaults; "hard": slower, noisier campaigns, more look-alikes
DIFFICULTIES: dict[str, dict[str, Any]] = {
    "default": {},
    "hard": {
        "superspreaders": {"latency_median_s": 75.0, "latency_sigma": 1.3, "per_post_median": 4.0,
                           "default_image_share": 0.2, "gan_image_share": 0.3, "followers_mean": 12.0,
                           "burst_days": 20, "burst_hours": 20.0, "diurnal": True,
                           "camouflage_share": 0.3},
        "impersonation": {"spread_s": 150.0, "reply_share": 0.35},
        "hijacked": {"latency_median_s": 900.0, "latency_sigma": 2.0},
        "copypaste": {"mutate_share": 0.9, "spread_s": 600.0, "per_post_median": 3.0},
        "organic_templated_share": 0.2,
        "organic_default_image_share": 0.12,
        "viral_share": 0.01,
        "viral_delay_median_s": 60.0,
        "shared_ip_share": 0.3,
    },
}


def _names(kind: str, given: list[str] | None, known: tuple[str, ...], default: tuple[str, ...]) -> list[str]:
    if given is None:
        return list(default)
    names = [c for c in given if c != "none"]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ConfigError(f"unknown {kind}(s) {', '.join(unknown)}; known: {', '.join(known)} "
                          f"(or 'none' for {'an organic-only platform' if kind == 'campaign' else 'no ' + kind})")
    return names


def make_config(*, accounts: int | None = None, engagements: int | None = None, seed: int = 7,
                difficulty: str = "default", campaigns: list[str] | None = None, scenario: str = "default",
                confounders: list[str] | None = None, **overrides: Any) -> SimConfig:
    """Build a :class:`SimConfig` from a scenario, a size, a difficulty and the campaigns and confounders to keep.

    Parameters
    ----------
    accounts, engagements
        Platform size: accounts (all kinds) and engagements (reposts, replies, quotes; about, since an
        account reposting the same post twice is dropped). Default: the scenario's (20,000 / 200,000 for
        ``default``, 42,000 / 480,000 for ``realistic``).
    seed
        Seed of the numpy Generator; the same config gives identical output.
    difficulty
        ``default`` or ``hard`` (see :data:`DIFFICULTIES`).
    campaigns
        Campaign names to switch on (default: the scenario's); ``[]`` or ``["none"]`` makes an organic-only
        platform.
    scenario
        ``default`` (the calibrated nine-month platform with four campaigns) or ``realistic`` (eight weeks,
        all campaigns and confounders); see :data:`SCENARIOS`.
    confounders
        Confounder names to switch on (default: the scenario's); ``["none"]`` for none.
    **overrides
        Any other :class:`SimConfig` field (a dict for a nested one updates its fields).

    Raises
    ------
    ConfigError
        On an unknown scenario, difficulty, campaign or confounder name, or sizes too small to hold targets
        and campaigns.
    """
    if scenario not in SCENARIOS:
        raise ConfigError(f"unknown scenario '{scenario}'; use one of {', '.join(SCENARIOS)}")
    if difficulty not in DIFFICULTIES:
        raise ConfigError(f"unknown difficulty '{difficulty}'; use one of {', '.join(DIFFICULTIES)}")
    sc = SCENARIOS[scenario]
    accounts = sc["accounts"] if accounts is None else accounts
    engagements = sc["engagements"] if engagements is None else engagements
    if accounts < 2_000:
        raise ConfigError(f"--accounts {accounts} is too small; use at least 2000 so targets, campaigns and "
                          "organic communities fit")
    if engagements < 10_000:
        raise ConfigError(f"--engagements {engagements} is too small; use at least 10000")
    names = _names("campaign", campaigns, CAMPAIGNS, sc["campaigns"])
    conf = _names("confounder", confounders, CONFOUNDERS, sc["confounders"])
    base = SimConfig()
    kw: dict[str, Any] = {}
    for layer in (sc["overrides"], DIFFICULTIES[difficulty], overrides):
        for key, value in layer.items():
            if not hasattr(base, key) or key in ("accounts", "engagements", "seed", "difficulty", "scenario"):
                raise ConfigError(f"unknown simulator parameter '{key}'")
            current = kw.get(key, getattr(base, key))
            if isinstance(value, dict) and dataclasses.is_dataclass(current):
                try:
                    kw[key] = dataclasses.replace(current, **value)
                except TypeError as exc:
                    raise ConfigError(f"unknown parameter in '{key}': {exc}") from None
            else:
                kw[key] = value
    for name in CAMPAIGNS:
        kw[name] = dataclasses.replace(kw.get(name, getattr(base, name)), enabled=name in names)
    for name in CONFOUNDERS:
        kw[name] = dataclasses.replace(kw.get(name, getattr(base, name)), enabled=name in conf)
    cfg = dataclasses.replace(base, accounts=accounts, engagements=engagements, seed=seed,
                              difficulty=difficulty, scenario=scenario, **kw)
    if cfg.end < cfg.start + dt.timedelta(weeks=3):
        raise ConfigError(f"the study window {cfg.start:%Y-%m-%d} to {cfg.end:%Y-%m-%d} is shorter than three "
                          "weeks; give 'start' and 'end' at least three weeks apart")
    return cfg


def config_dict(cfg: SimConfig) -> dict[str, Any]:
    """The config as JSON-ready dict (datetimes as ISO strings)."""

    def conv(v: Any) -> Any:
        if isinstance(v, dt.datetime):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v

    return conv(dataclasses.asdict(cfg))

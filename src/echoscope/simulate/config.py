"""Parameters of the simulated platform, with the published figure each one defaults to.

All knobs live here as frozen dataclasses so that a whole run is described by one value that can be printed,
stored next to the ground truth (``truth_accounts`` meta) and compared. Difficulty settings are a registry of
overrides applied on top of the defaults; they were fixed before any detector was tuned and must not be
changed to suit a detector (see docs/simulator.md).
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
    superspreaders: SuperSpreaders = SuperSpreaders()
    impersonation: Impersonation = Impersonation()
    hijacked: Hijacked = Hijacked()
    copypaste: CopyPaste = CopyPaste()

    def campaigns(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CAMPAIGNS}


#: campaign name -> SimConfig field
CAMPAIGNS: tuple[str, ...] = ("superspreaders", "impersonation", "hijacked", "copypaste")

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


def make_config(*, accounts: int = 20_000, engagements: int = 200_000, seed: int = 7,
                difficulty: str = "default", campaigns: list[str] | None = None, **overrides: Any) -> SimConfig:
    """Build a :class:`SimConfig` from a size, a difficulty and an optional list of campaigns to keep.

    Parameters
    ----------
    accounts, engagements
        Platform size: accounts (all kinds) and engagements (reposts, replies, quotes; about, since an
        account reposting the same post twice is dropped).
    seed
        Seed of the numpy Generator; the same config gives identical output.
    difficulty
        ``default`` or ``hard`` (see :data:`DIFFICULTIES`).
    campaigns
        Campaign names to switch on (default all); ``[]`` or ``["none"]`` makes an organic-only platform.
    **overrides
        Any other :class:`SimConfig` field.

    Raises
    ------
    ConfigError
        On an unknown difficulty or campaign name, or sizes too small to hold targets and campaigns.
    """
    if difficulty not in DIFFICULTIES:
        raise ConfigError(f"unknown difficulty '{difficulty}'; use one of {', '.join(DIFFICULTIES)}")
    if accounts < 2_000:
        raise ConfigError(f"--accounts {accounts} is too small; use at least 2000 so targets, campaigns and "
                          "organic communities fit")
    if engagements < 10_000:
        raise ConfigError(f"--engagements {engagements} is too small; use at least 10000")
    if campaigns is not None:
        names = [c for c in campaigns if c != "none"]
        unknown = sorted(set(names) - set(CAMPAIGNS))
        if unknown:
            raise ConfigError(f"unknown campaign(s) {', '.join(unknown)}; known: {', '.join(CAMPAIGNS)} "
                              "(or 'none' for an organic-only platform)")
    else:
        names = list(CAMPAIGNS)
    base = SimConfig()
    kw: dict[str, Any] = {}
    for key, value in DIFFICULTIES[difficulty].items():
        if isinstance(value, dict):
            kw[key] = dataclasses.replace(getattr(base, key), **value)
        else:
            kw[key] = value
    for key, value in overrides.items():
        if not hasattr(base, key):
            raise ConfigError(f"unknown simulator parameter '{key}'")
        kw[key] = value
    for name in CAMPAIGNS:
        camp = kw.get(name, getattr(base, name))
        kw[name] = dataclasses.replace(camp, enabled=name in names)
    return dataclasses.replace(base, accounts=accounts, engagements=engagements, seed=seed,
                               difficulty=difficulty, **kw)


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

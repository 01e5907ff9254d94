"""Account roles, and the profiles of the accounts that came with the confounders and the newer campaigns.

The role table (:data:`ROLES`) fixes every account kind's code, name and campaign. The profiles of the
four original campaigns and of organic users are drawn in :mod:`.population`; this module draws those of the
accounts added later -- the ``scheduled``, ``ring``, ``slowtext`` and ``links`` campaigns, and the idols,
news outlets and aggregators of the confounders -- and picks fans and community hubs among organic users. It
is called at fixed points of :func:`.population.make_population` with its own random generator, and every
function returns at once when its blocks are empty, so a platform without these accounts is drawn exactly as
before they existed.

Unlike the super-spreaders (name + 8 digits, created in bursts), the newer campaigns' accounts look ordinary:
handles in the organic styles with only a few templated ones, creation dates spread over a decade with some
old accounts, ordinary photos and audiences -- what a platform's newer, better-made operations look like.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from . import names as N
from .config import SimConfig
from .util import DAY, draw, join, numstr, pick, us

#: role code -> (role name, campaign name or None). Fans are organic users (role ORGANIC while the platform is
#: built, ``Population.fandom`` names their idol); FAN is their role in the ground truth only.
ROLES: tuple[tuple[str, str | None], ...] = (
    ("organic", None),
    ("target", None),
    ("super-spreader", "superspreaders"),
    ("persona", "impersonation"),
    ("hijacked", "hijacked"),
    ("copy-paster", "copypaste"),
    ("shift-worker", "scheduled"),
    ("ring-member", "ring"),
    ("praiser", "slowtext"),
    ("link-sharer", "links"),
    ("idol", None),
    ("news-outlet", None),
    ("aggregator", None),
    ("fan", None),
)
(ORGANIC, TARGET, SPREADER, PERSONA, HIJACKED, COPYPASTER, SHIFT, RINGER, PRAISER, LINKER, IDOL, OUTLET,
 AGGREGATOR, FAN) = range(14)
ROLE_OF_CAMPAIGN = {c: r for r, (_, c) in enumerate(ROLES) if c is not None}
#: campaign roles in block order, and a lookup ``IS_CAMPAIGN[role code]``
CAMPAIGN_ROLES: tuple[int, ...] = tuple(ROLE_OF_CAMPAIGN.values())
IS_CAMPAIGN = np.array([c is not None for _, c in ROLES])
#: the newer campaigns, whose accounts look ordinary
NEW_CAMPAIGN_ROLES: tuple[int, ...] = (SHIFT, RINGER, PRAISER, LINKER)
#: confounder named in the ground truth for each role (the accounts whose own actions make the confounder)
CONFOUNDER_OF_ROLE: dict[int, str] = {ORGANIC: "community", FAN: "fandom", AGGREGATOR: "aggregator"}
#: community topics (index into names.TOPICS) where idols and news outlets have their home
FANDOM_TOPICS = (0, 5, 9)   # football, music, culture: athletes and artists
NEWS_TOPICS = (1, 2, 3, 8)  # politics, covid, business
#: handle / display-name style codes used by :func:`handle_builders` and :func:`display_builders`
H_AGGREGATOR, H_IDOL, H_OUTLET = 9, 10, 11
D_IDOL, D_ACCOUNT = 4, 5


def _per_1000(n: int, rate: float, minimum: int) -> int:
    return max(minimum, round(rate * n / 1000))


def sizes(cfg: SimConfig) -> dict[int, int]:
    """Accounts per added role (0 when switched off)."""
    n = cfg.accounts
    sch, ring, st, li, fan, agg = cfg.scheduled, cfg.ring, cfg.slowtext, cfg.links, cfg.fandoms, cfg.aggregators
    return {
        SHIFT: _per_1000(n, sch.accounts_per_1000, sch.min_accounts) if sch.enabled else 0,
        RINGER: ring.accounts if ring.enabled else 0,
        PRAISER: _per_1000(n, st.accounts_per_1000, st.min_accounts) if st.enabled else 0,
        LINKER: _per_1000(n, li.accounts_per_1000, li.min_accounts) if li.enabled else 0,
        IDOL: _per_1000(n, fan.idols_per_1000, fan.min_idols) if fan.enabled else 0,
        OUTLET: _per_1000(n, agg.outlets_per_1000, agg.min_outlets) if (agg.enabled or cfg.surges.enabled) else 0,
        AGGREGATOR: _per_1000(n, agg.bots_per_1000, agg.min_bots) if agg.enabled else 0,
    }


def _span(rng: np.random.Generator, k: int, first: int, last: int, a: float = 1.0, b: float = 1.0) -> np.ndarray:
    return first + (rng.beta(a, b, k) * (last - first)).astype(np.int64)


def created(cfg: SimConfig, block: dict[int, tuple[int, int]], created: np.ndarray, rng: np.random.Generator) -> None:
    """Creation times of the added accounts (in place): spread over years, never in bursts."""
    start = us(cfg.start)
    year = {y: us(cfg.start.replace(year=y, month=1, day=1)) for y in (2009, 2011, 2014, 2016)}
    for r in NEW_CAMPAIGN_ROLES:
        lo, hi = block[r]
        if hi > lo:  # a quarter old accounts (2009-2014), the rest spread up to two weeks before the start
            old = rng.random(hi - lo) < 0.25
            created[lo:hi] = np.where(old, _span(rng, hi - lo, year[2009], year[2014]),
                                      _span(rng, hi - lo, year[2014], start - 14 * DAY, 1.6, 1.0))
    for r, first, last in ((IDOL, year[2009], year[2016]), (OUTLET, year[2009], year[2014]),
                           (AGGREGATOR, year[2011], start - 60 * DAY)):
        lo, hi = block[r]
        if hi > lo:
            created[lo:hi] = _span(rng, hi - lo, first, last)


def activity_and_audience(cfg: SimConfig, block: dict[int, tuple[int, int]], weight: np.ndarray,
                          followers: np.ndarray, following: np.ndarray, community: np.ndarray, lang: np.ndarray,
                          offset_h: np.ndarray, client: np.ndarray, rng: np.random.Generator) -> None:
    """Activity weights, audiences, languages, clients, home communities (idols, outlets) and working zones, in
    place."""
    n_comm = int(community.max()) + 1 if len(community) and community.max() >= 0 else 0
    csize = np.bincount(community[community >= 0], minlength=n_comm).astype(float)
    for r in NEW_CAMPAIGN_ROLES:
        lo, hi = block[r]
        if hi <= lo:
            continue
        weight[lo:hi] = 1.0 / (rng.permutation(hi - lo) + 1) ** 0.6
        followers[lo:hi] = rng.lognormal(4.0, 1.3, hi - lo).astype(np.int64)   # median ~55, ordinary
        following[lo:hi] = rng.lognormal(5.4, 0.8, hi - lo).astype(np.int64)
        lang[lo:hi] = 0  # they post in English
        offset_h[lo:hi] = cfg.scheduled.utc_offset_h  # run by the same operators' zone (ground truth)
    for r, mu, topics in ((IDOL, 13.0, FANDOM_TOPICS), (OUTLET, 11.5, NEWS_TOPICS), (AGGREGATOR, 5.5, ())):
        lo, hi = block[r]
        if hi <= lo:
            continue
        followers[lo:hi] = rng.lognormal(mu, 1.0, hi - lo).astype(np.int64)
        following[lo:hi] = rng.lognormal(4.0, 1.0, hi - lo).astype(np.int64)
        lang[lo:hi] = 0
        if r == OUTLET:  # newsrooms post through a desk tool
            client[lo:hi] = N.CLIENTS.index("TweetDeck")
        if topics and n_comm:
            ok = np.isin(np.arange(n_comm) % len(N.TOPICS), topics)
            w = np.where(ok, csize, 0.0) if ok.any() else csize
            community[lo:hi] = draw(rng, w, hi - lo)


def fans_and_hubs(cfg: SimConfig, block: dict[int, tuple[int, int]], community: np.ndarray, weight: np.ndarray,
                  followers: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Fans (``fandom``: idol index per organic fan, -1 otherwise) and community hubs (bool), drawn among organic
    users. An idol's fandom size follows Zipf's law over the idols; ``home_share`` of its fans come from its
    home community (a music, culture or football community), the rest from anywhere."""
    n = len(community)
    fandom = np.full(n, -1, np.int32)
    hub = np.zeros(n, bool)
    olo, ohi = block[ORGANIC]
    fd = cfg.fandoms
    ilo, ihi = block[IDOL]
    if fd.enabled and ihi > ilo and ohi > olo:
        n_idols = ihi - ilo
        total = round(fd.fan_share * (ohi - olo))
        z = 1.0 / np.arange(1, n_idols + 1)
        size = np.floor(total * z / z.sum()).astype(np.int64)
        # fans are engaged users: drawn without replacement in proportion to activity^0.7 (Efraimidis-Spirakis
        # keys), so a fan's burst reposts are a part of a busy account's sharing, not all of it
        keys = np.log(rng.random(ohi - olo)) / np.maximum(weight[olo:ohi], 1e-9) ** 0.7
        perm = olo + np.argsort(-keys, kind="stable")
        by_comm = perm[np.argsort(community[perm], kind="stable")]  # each community's members in random order
        bounds = np.searchsorted(community[by_comm], np.arange(int(community[olo:ohi].max()) + 2))
        pos = 0
        for i in range(n_idols):
            c = int(community[ilo + i])
            home = by_comm[bounds[c]:bounds[c + 1]] if 0 <= c < len(bounds) - 1 else by_comm[:0]
            home = home[fandom[home] < 0][:round(fd.home_share * size[i])]
            fandom[home] = i
            need = int(size[i] - len(home))
            while need > 0 and pos < len(perm):
                cand = perm[pos:pos + 2 * need + 16]
                pos += len(cand)
                cand = cand[fandom[cand] < 0][:need]
                fandom[cand] = i
                need -= len(cand)
    cm = cfg.communities
    if cm.enabled and cm.hubs_per_community > 0 and ohi > olo:
        idx = np.arange(olo, ohi)
        order = idx[np.lexsort((-weight[olo:ohi], community[olo:ohi]))]
        comm = community[order]
        first = np.r_[True, comm[1:] != comm[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        top = order[(np.arange(len(order)) - start) < cm.hubs_per_community]
        hub[top] = True
        followers[top] = np.maximum(followers[top], (cm.hub_min_followers * (1.0 + rng.pareto(1.5, len(top))))
                                    .astype(np.int64))
    return fandom, hub


def handle_styles(block: dict[int, tuple[int, int]], hstyle: np.ndarray, rng: np.random.Generator) -> None:
    """Handle styles of the added accounts: organic styles (a tenth templated) for the newer campaigns."""
    for r in NEW_CAMPAIGN_ROLES:
        lo, hi = block[r]
        if hi > lo:
            hstyle[lo:hi] = draw(rng, np.array([0.2, 0.2, 0.15, 0.2, 0.15, 0.1]), hi - lo)
    for r, code in ((AGGREGATOR, H_AGGREGATOR), (IDOL, H_IDOL), (OUTLET, H_OUTLET)):
        lo, hi = block[r]
        hstyle[lo:hi] = code


AGG_PREFIX = ("World", "Daily", "Breaking", "Global", "Top", "Latest", "Headline", "Metro", "Tech", "Market")
AGG_SUFFIX = ("NewsBot", "_feed", "Headlines", "NewsNow", "_bot", "Updates", "Alerts", "Digest")
IDOL_SUFFIX = ("Official", "Music", "", "TV", "_official", "Live")
OUTLET_PREFIX = ("Metro", "City", "National", "Evening", "Morning", "Coast", "Valley", "Capital", "Northern",
                 "Western")
OUTLET_SUFFIX = ("Herald", "Tribune", "Post", "Gazette", "Chronicle", "Courier", "Wire", "Times", "Observer",
                 "Dispatch")


def _within(block: dict[int, tuple[int, int]], role: int, i: np.ndarray) -> np.ndarray:
    return i - block[role][0]


def handle_builders(block: dict[int, tuple[int, int]], afirst: tuple[str, ...], alast: tuple[str, ...],
                    fi: np.ndarray, la: np.ndarray, rng: np.random.Generator
                    ) -> dict[int, Callable[[np.ndarray], pa.Array]]:
    """Builders of the added handle styles (for :func:`.util.compose`): aggregator, idol and outlet handles."""

    def agg(i: np.ndarray) -> pa.Array:
        k = _within(block, AGGREGATOR, i)
        suffix = pick(AGG_SUFFIX, (k // len(AGG_PREFIX) + k) % len(AGG_SUFFIX))
        return join(pick(AGG_PREFIX, k % len(AGG_PREFIX)), suffix, numstr(rng.integers(1, 100, len(i))))

    def outlet(i: np.ndarray) -> pa.Array:
        k = _within(block, OUTLET, i)
        base = join(pick(OUTLET_PREFIX, k % 10), pick(OUTLET_SUFFIX, (k // 10 + k) % 10))
        return join(base, numstr(k // 100)) if (k >= 100).any() else base

    return {
        H_AGGREGATOR: agg,
        H_IDOL: lambda i: join(pick(afirst, fi[i]), pick(alast, la[i]), pick(IDOL_SUFFIX, rng.integers(0, 6, len(i)))),
        H_OUTLET: outlet,
    }


def display_styles(block: dict[int, tuple[int, int]], dstyle: np.ndarray, hstyle: np.ndarray) -> None:
    lo, hi = block[IDOL]
    dstyle[lo:hi] = D_IDOL
    for r in (OUTLET, AGGREGATOR):
        lo, hi = block[r]
        dstyle[lo:hi] = D_ACCOUNT


def display_builders(block: dict[int, tuple[int, int]], handle: pa.Array, fi: np.ndarray, la: np.ndarray
                     ) -> dict[int, Callable[[np.ndarray], pa.Array]]:
    """Display names: idols by their name, outlets and aggregators by their handle."""
    return {
        D_IDOL: lambda i: join(pick(N.FIRST, fi[i]), " ", pick(N.LAST, la[i])),
        D_ACCOUNT: lambda i: handle.take(pa.array(i)),
    }


IDOL_BIOS = ("Singer. New album out now.", "Footballer. Official account.", "Actor and producer.",
             "Official account. Management enquiries via website.", "Musician | tour dates below")
OUTLET_BIOS = ("Local and national news, around the clock.", "Independent news. Tips: see website.",
               "Breaking news and analysis.")
AGG_BIOS = ("Automated feed of headlines. Not monitored.", "Bot: reposts news as it breaks.",
            "Automated account. Headlines from trusted outlets.")


def bios(block: dict[int, tuple[int, int]], pool: tuple[str, ...], bi: np.ndarray, rng: np.random.Generator
         ) -> tuple[tuple[str, ...], np.ndarray]:
    """Bio pool extended with idols', outlets' and aggregators' bios, and their picks (unchanged otherwise)."""
    if all(block[r][1] <= block[r][0] for r in (IDOL, OUTLET, AGGREGATOR)):
        return pool, bi
    bi = bi.copy()
    extended = pool
    for r, extra in ((IDOL, IDOL_BIOS), (OUTLET, OUTLET_BIOS), (AGGREGATOR, AGG_BIOS)):
        lo, hi = block[r]
        bi[lo:hi] = len(extended) + rng.integers(0, len(extra), hi - lo)
        extended = extended + extra
    return extended, bi


def images(block: dict[int, tuple[int, int]], img: np.ndarray, rng: np.random.Generator) -> None:
    """Profile images (0 photo, 1 GAN, 2 stock, 3 default): the newer campaigns mostly use ordinary photos."""
    for r in NEW_CAMPAIGN_ROLES:
        lo, hi = block[r]
        if hi > lo:
            img[lo:hi] = draw(rng, np.array([0.6, 0.15, 0.2, 0.05]), hi - lo)
    for r in (IDOL, OUTLET):
        lo, hi = block[r]
        img[lo:hi] = 0
    lo, hi = block[AGGREGATOR]
    if hi > lo:
        img[lo:hi] = np.where(rng.random(hi - lo) < 0.2, 3, 0)

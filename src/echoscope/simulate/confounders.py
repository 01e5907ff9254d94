"""Confounders: authentic (or independent automated) behaviour that looks coordinated to a co-action detector.

A detector graded only against planted campaigns and a background of independent users learns nothing about
what it must *not* flag. Real platforms are full of synchronised honest behaviour; this module adds the
kinds that co-sharing tools are known to mistake for coordination, each switchable and labelled in the ground
truth (``truth_accounts.role`` / ``confounder``, ``truth_engagements.purpose``):

- **communities**: a few hubs per interest community whose posts draw much of the community's (slow) sharing,
  so the same members keep sharing the same accounts' posts, hours apart;
- **fandoms**: idols (artists, athletes; not targets) whose fans -- organic users who also share other things
  -- repost each post within a minute, each fan present irregularly: authentic bursts, the classic false
  positive of co-retweet networks;
- **aggregators**: independent bots that each repost every post of a few news outlets within seconds, around
  the clock, with no link to the targets or to each other (their outlet lists overlap);
- **surges**: breaking news, many ordinary users reposting one news post within minutes.

Volumes are shares of the platform's engagements (so the mix is the same at any size); posting rates follow
from them. Everything draws from the generator it is given, in a fixed order.
"""

from __future__ import annotations

import numpy as np

from .activity import (
    P_AGGREGATION,
    P_FANDOM,
    P_OWNPOST,
    P_SURGE,
    REPLY,
    REPOST,
    T_IDOL,
    T_NEWS,
    T_NONE,
    T_REPLY,
    Originals,
    Rows,
    _diurnal_times,
    insert_organic,
)
from .config import SimConfig
from .population import AGGREGATOR, IDOL, ORGANIC, OUTLET, Population
from .util import DAY, S, draw, local_hour, lognormal_s, us

#: share of fans awake at a random hour of an idol's day (fans sleep; the participation budget allows for it)
AWAKE = 0.75


def boost_hubs(cfg: SimConfig, pop: Population, orig: Originals) -> None:
    """Raise the popularity of community hubs' posts (in place) to ``hub_share`` of their community's weight."""
    cm = cfg.communities
    if not cm.enabled or pop.hub is None or not pop.hub.any():
        return
    lo, hi = orig.organic_lo, orig.organic_hi
    author = orig.rows.author[lo:hi]
    is_hub = pop.hub[author]
    comm = pop.community[author]
    n_comm = len(orig.comm_lo)
    w = orig.popularity[lo:hi]
    hub_mass = np.bincount(comm, weights=np.where(is_hub, w, 0.0), minlength=n_comm)
    rest = np.bincount(comm, weights=np.where(is_hub, 0.0, w), minlength=n_comm)
    factor = np.where(hub_mass > 0, cm.hub_share / (1 - cm.hub_share) * rest / np.maximum(hub_mass, 1e-12), 1.0)
    w[is_hub] *= np.maximum(factor[comm[is_hub]], 1.0)


def _outlet_follows(cfg: SimConfig, pop: Population, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Outlets' relative posting rates and the bots x outlets follow matrix (each bot follows a few outlets)."""
    olo, ohi = pop.block[OUTLET]
    alo, ahi = pop.block[AGGREGATOR]
    rate = rng.lognormal(0.0, 0.7, ohi - olo)
    follows = np.zeros((ahi - alo, ohi - olo), bool)
    a, b = cfg.aggregators.follows
    for j in range(ahi - alo):
        k = min(ohi - olo, int(rng.integers(a, b + 1)))
        follows[j, rng.choice(ohi - olo, k, replace=False, p=rate / rate.sum())] = True
    return rate, follows


def add_originals(cfg: SimConfig, pop: Population, orig: Originals, rng: np.random.Generator) -> Originals:
    """Hubs' popularity, then the idols' and news outlets' posts among their home community's originals."""
    boost_hubs(cfg, pop, orig)
    start, end = us(cfg.start), us(cfg.end)
    E = cfg.engagements
    lo, hi = orig.organic_lo, orig.organic_hi
    base = orig.popularity[lo:hi]
    parts: list[tuple[Rows, np.ndarray]] = []
    fd = cfg.fandoms
    ilo, ihi = pop.block[IDOL]
    if fd.enabled and ihi > ilo and pop.fandom is not None:
        fans = np.bincount(pop.fandom[pop.fandom >= 0], minlength=ihi - ilo)
        # every idol posts about as often; expected fan engagements per post = fans x participation x awake
        per_idol = max(1, round(fd.engagement_share * E / (fd.participation * AWAKE * max(1, fans.sum()))))
        author = np.repeat(np.arange(ilo, ihi), per_idol)
        t = _diurnal_times(rng, len(author), pop.offset_h[author], start, end)
        # popular with the public too (a slow tail of hours), but most of an idol's reposts are its fans' bursts
        p = np.quantile(base, 0.9) * (1.0 + rng.pareto(2.0, len(author)))
        parts.append((Rows.make(author, t, 0, -1, P_OWNPOST, T_IDOL), p))
    olo, ohi = pop.block[OUTLET]
    if ohi > olo:
        agg = cfg.aggregators
        rate, follows = _outlet_follows(cfg, pop, rng)
        orig.aux["outlet_follows"] = follows
        reach = follows.sum(axis=0)
        if agg.enabled and reach.sum() > 0:  # posts per outlet so that the bots' reposts meet their budget
            total = agg.engagement_share * E * rate.sum() / max(float((rate * reach).sum()), 1e-9)
        else:  # news for the surges only: about four posts a day per outlet
            total = 4.0 * (ohi - olo) * (end - start) / DAY
        count = np.maximum(1, np.round(total * rate / rate.sum()).astype(np.int64))
        author = np.repeat(np.arange(olo, ohi), count)
        t = _diurnal_times(rng, len(author), pop.offset_h[author], start, end)
        p = np.quantile(base, 0.9) * (1.0 + rng.pareto(1.5, len(author)))
        parts.append((Rows.make(author, t, 0, -1, P_OWNPOST, T_NEWS), p))
    if not parts:
        return orig
    rows = Rows.concat([r for r, _ in parts])
    popularity = np.concatenate([p for _, p in parts])
    order = np.argsort(rows.t, kind="stable")
    rows, popularity = rows.take(order), popularity[order]
    return insert_organic(orig, rows, popularity, pop.community[rows.author])


def _posts_by(pop: Population, orig: Originals, role: int) -> np.ndarray:
    """Indices of the originals posted by accounts of ``role`` (they sit in the organic block)."""
    lo, hi = orig.organic_lo, orig.organic_hi
    return lo + np.flatnonzero(pop.role[orig.rows.author[lo:hi]] == role)


def _awake(cfg: SimConfig, t: np.ndarray, offset_h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h = local_hour(t, offset_h)
    return ~((h >= cfg.sleep_start_h) & (h < cfg.sleep_end_h)) | (rng.random(len(t)) < cfg.sleep_keep)


def fan_engagements(cfg: SimConfig, pop: Population, orig: Originals, rng: np.random.Generator) -> Rows | None:
    """Each fan, when awake, reposts a post of its idol with its own propensity, within a minute."""
    fd = cfg.fandoms
    ilo, ihi = pop.block[IDOL]
    if not fd.enabled or ihi <= ilo or pop.fandom is None:
        return None
    posts = _posts_by(pop, orig, IDOL)
    idol_of_post = orig.rows.author[posts] - ilo
    fan_idx = np.flatnonzero(pop.fandom >= 0)
    fan_idol = pop.fandom[fan_idx]
    # propensity per fan: Beta with mean ``participation`` (some fans are nearly always there, most rarely)
    a = 0.8
    q = rng.beta(a, a * (1 - fd.participation) / fd.participation, len(fan_idx))
    by_idol = np.argsort(fan_idol, kind="stable")
    fb = np.searchsorted(fan_idol[by_idol], np.arange(ihi - ilo + 1))
    pb = np.argsort(idol_of_post, kind="stable")
    pbounds = np.searchsorted(idol_of_post[pb], np.arange(ihi - ilo + 1))
    pp, ff = [], []
    for i in range(ihi - ilo):
        ps = posts[pb[pbounds[i]:pbounds[i + 1]]]
        fs = by_idol[fb[i]:fb[i + 1]]
        if len(ps) and len(fs):
            pp.append(np.repeat(ps, len(fs)))
            ff.append(np.tile(fs, len(ps)))
    if not pp:
        return None
    p, f = np.concatenate(pp), np.concatenate(ff)
    actor = fan_idx[f]
    pt = orig.rows.t[p]
    act = (rng.random(len(p)) < q[f]) & _awake(cfg, pt, pop.offset_h[actor], rng)
    p, actor, pt = p[act], actor[act], pt[act]
    n = len(p)
    reply = rng.random(n) < fd.reply_share
    d = lognormal_s(rng, fd.delay_median_s, fd.delay_sigma, n)
    late = d > 59 * S  # folded back inside the minute: a fan who is there reposts at once
    d[late] = (5 + rng.random(int(late.sum())) * 54).astype(np.int64) * S
    d[reply] = lognormal_s(rng, 600.0, 1.0, int(reply.sum()))
    return Rows.make(actor, pt + d, np.where(reply, REPLY, REPOST), p, P_FANDOM, np.where(reply, T_REPLY, T_NONE))


def aggregator_engagements(cfg: SimConfig, pop: Population, orig: Originals, rng: np.random.Generator
                           ) -> Rows | None:
    """Every post of a followed outlet, reposted by each following bot within seconds, day and night."""
    agg = cfg.aggregators
    alo, ahi = pop.block[AGGREGATOR]
    olo, ohi = pop.block[OUTLET]
    follows = orig.aux.get("outlet_follows")
    if not agg.enabled or ahi <= alo or follows is None:
        return None
    posts = _posts_by(pop, orig, OUTLET)
    outlet = orig.rows.author[posts] - olo
    pp, bb = [], []
    for o in range(ohi - olo):
        bots = alo + np.flatnonzero(follows[:, o])
        ps = posts[outlet == o]
        if len(bots) and len(ps):
            pp.append(np.repeat(ps, len(bots)))
            bb.append(np.tile(bots, len(ps)))
    if not pp:
        return None
    p, actor = np.concatenate(pp), np.concatenate(bb)
    t = orig.rows.t[p] + lognormal_s(rng, agg.latency_median_s, agg.latency_sigma, len(p))
    return Rows.make(actor, t, REPOST, p, P_AGGREGATION, T_NONE)


def surge_engagements(cfg: SimConfig, pop: Population, orig: Originals, rng: np.random.Generator) -> Rows | None:
    """Breaking news: a few news posts each reposted by many ordinary users within minutes."""
    sg = cfg.surges
    if not sg.enabled:
        return None
    posts = _posts_by(pop, orig, OUTLET)
    if not len(posts):
        return None
    mean = sg.size_median * np.exp(0.5 ** 2 / 2)
    n = max(1, round(sg.engagement_share * cfg.engagements / mean))
    chosen = rng.choice(posts, min(n, len(posts)), replace=False)
    k = np.maximum(50, rng.lognormal(np.log(sg.size_median), 0.5, len(chosen)).astype(np.int64))
    p = np.repeat(chosen, k)
    olo, ohi = pop.block[ORGANIC]
    actor = olo + draw(rng, pop.weight[olo:ohi] ** 0.5, len(p))
    t = orig.rows.t[p] + lognormal_s(rng, sg.delay_median_s, sg.delay_sigma, len(p))
    ok = _awake(cfg, t, pop.offset_h[actor], rng)
    return Rows.make(actor[ok], t[ok], REPOST, p[ok], P_SURGE, T_NONE)


def engagements(cfg: SimConfig, pop: Population, orig: Originals, rng: np.random.Generator) -> list[Rows]:
    """The confounders' engagements (authentic: never planted)."""
    out = [fan_engagements(cfg, pop, orig, rng), aggregator_engagements(cfg, pop, orig, rng),
           surge_engagements(cfg, pop, orig, rng)]
    return [r for r in out if r is not None and len(r)]


__all__ = ["add_originals", "engagements"]

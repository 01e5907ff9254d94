"""Who posts and who engages with what, when: organic behaviour and the campaigns' planted activity.

Posts and engagements are generated as parallel numpy columns (author index, time, kind, referenced post
index, purpose) in blocks: originals first, then organic engagements, then one block per campaign. Each
block draws all its rows at once (weighted draws by cumulative-sum search, lognormal delays, vectorised
diurnal shifts), so cost is linear in the number of rows and independent of Python loops. Campaign
behaviour is written as "waves": a campaign picks a post, a handful of its accounts act on it close in time,
which is what co-action detectors look for; organic viral posts create the same closeness by coincidence.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .config import SimConfig
from .population import (
    COPYPASTER,
    HIJACKED,
    ORGANIC,
    PERSONA,
    SPREADER,
    TARGET,
    Population,
)
from .util import DAY, HOUR, MIN, S, Sampler, counts_to_rows, draw, local_hour, lognormal_s, us

# kinds and purposes (codes in the columns below)
ORIGINAL, REPOST, REPLY, QUOTE = 0, 1, 2, 3
KIND_NAMES = ("original", "repost", "reply", "quote")
(P_ORGANIC, P_AMPLIFY, P_CAMOUFLAGE, P_HISTORY, P_LINKPOST, P_EXCHANGE, P_FANDOM, P_AGGREGATION, P_SURGE,
 P_OWNPOST) = range(10)
PURPOSES = ("organic", "amplify", "camouflage", "history", "link-post", "exchange", "fandom", "aggregation", "surge",
            "own-post")
#: purposes of planted (campaign) engagements; fandom, aggregation and surge are authentic confounders
PLANTED_PURPOSES = (P_AMPLIFY, P_CAMOUFLAGE, P_EXCHANGE)
# text codes
(T_NONE, T_ORGANIC, T_TARGET, T_OLD, T_LINK, T_REPLY, T_QUOTE, T_COPY, T_ZH, T_PERSONA, T_IDOL, T_NEWS, T_PRAISE,
 T_ARTICLE, T_LINKSHARE) = range(15)
N_TEXT_CODES = 15

#: relative posting intensity by local hour (low at night, peaks late morning and evening)
HOUR_PROFILE = np.array([0.25, 0.12, 0.06, 0.04, 0.04, 0.08, 0.25, 0.6, 0.9, 1.0, 1.05, 1.05, 1.0, 0.95, 0.9,
                         0.9, 0.9, 0.95, 1.0, 1.1, 1.15, 1.1, 0.9, 0.55])


@dataclasses.dataclass
class Rows:
    """A block of posts as columns."""

    author: np.ndarray   # int32 account index
    t: np.ndarray        # int64 us
    kind: np.ndarray     # int8
    ref: np.ndarray      # int32 post index or -1
    purpose: np.ndarray  # int8
    text: np.ndarray     # int8 text code
    tmpl: np.ndarray     # int16 template / link / sequence id (campaign texts), -1 otherwise

    @staticmethod
    def make(author: np.ndarray, t: np.ndarray, kind: np.ndarray | int, ref: np.ndarray | int,
             purpose: int, text: np.ndarray | int, tmpl: np.ndarray | int = -1) -> Rows:
        n = len(author)

        def col(v: np.ndarray | int, dtype: type) -> np.ndarray:
            return np.full(n, v, dtype) if np.isscalar(v) else np.asarray(v, dtype)

        return Rows(np.asarray(author, np.int32), np.asarray(t, np.int64), col(kind, np.int8), col(ref, np.int32),
                    np.full(n, purpose, np.int8), col(text, np.int8), col(tmpl, np.int16))

    def __len__(self) -> int:
        return len(self.author)

    @staticmethod
    def concat(blocks: list[Rows]) -> Rows:
        return Rows(*(np.concatenate([getattr(b, f.name) for b in blocks]) for f in dataclasses.fields(Rows)))

    def take(self, idx: np.ndarray | slice) -> Rows:
        return Rows(*(getattr(self, f.name)[idx] for f in dataclasses.fields(Rows)))


@dataclasses.dataclass
class Originals:
    rows: Rows
    popularity: np.ndarray   # engagement weight of each original
    viral: np.ndarray        # bool
    is_target: np.ndarray    # bool
    n_target: int            # target originals come first, sorted by time
    organic_lo: int          # organic originals [organic_lo, organic_hi), sorted by community
    organic_hi: int
    comm_lo: np.ndarray      # per community: first organic original (absolute index)
    comm_hi: np.ndarray
    hijack_t: np.ndarray     # per hijacked account (block order): takeover time
    #: what later steps need from the added campaigns and confounders (post indices, follow lists, rows)
    aux: dict[str, Any] = dataclasses.field(default_factory=dict)


def _diurnal_times(rng: np.random.Generator, n: int, offset_h: np.ndarray, start: int, end: int) -> np.ndarray:
    """Times in [start, end) whose local hour follows :data:`HOUR_PROFILE`."""
    days = rng.integers(0, max(1, (end - start) // DAY), n)
    hour = draw(rng, HOUR_PROFILE, n) + rng.random(n)
    t = start + days * DAY + ((hour - offset_h) * HOUR).astype(np.int64)
    return np.clip(t, start, end - 1)


def sleep_shift(rng: np.random.Generator, t: np.ndarray, offset_h: np.ndarray, cfg: SimConfig) -> np.ndarray:
    """Move most activity that falls in the actor's local night to the next morning (people sleep)."""
    h = local_hour(t, offset_h)
    asleep = np.flatnonzero((h >= cfg.sleep_start_h) & (h < cfg.sleep_end_h) & (rng.random(len(t)) >= cfg.sleep_keep))
    out = t.copy()
    # only the sleepers' wake-up times are drawn (a minority of rows)
    out[asleep] += ((cfg.sleep_end_h - h[asleep]) * HOUR).astype(np.int64) + rng.exponential(
        1.5 * HOUR, len(asleep)).astype(np.int64)
    return out


def make_originals(cfg: SimConfig, pop: Population, rng: np.random.Generator) -> Originals:
    """Original posts of targets, organic users, hijacked accounts' old lives and the link-posting brigade."""
    start, end = us(cfg.start), us(cfg.end)
    E = cfg.engagements
    blocks: list[Rows] = []
    # --- targets: posts per target in proportion to its popularity; state media louder than diplomats
    tlo, thi = pop.block[TARGET]
    nt = thi - tlo
    tpop = rng.lognormal(0.0, 0.9, nt) * np.where(pop.group[tlo:thi] == 1, 1.6, 1.0)
    if nt > 1:  # the focus target's share of the targets' organic attention
        rest = tpop[1:].sum()
        tpop[0] = cfg.focus_organic_share * rest / (1 - cfg.focus_organic_share)
    n_tp = max(nt * 20, int(cfg.target_share * E / 8.0))
    # posting counts follow popularity loosely (a quiet account posts less, but every target posts)
    t_author = tlo + draw(rng, 0.5 + tpop / tpop.mean(), n_tp)
    t_t = _diurnal_times(rng, n_tp, pop.offset_h[t_author], start, end)
    order = np.argsort(t_t, kind="stable")
    t_author, t_t = t_author[order], t_t[order]
    t_popularity = (np.minimum(rng.pareto(1.6, n_tp) + 1.0, 300.0) * tpop[t_author - tlo]
                    / (0.5 + tpop[t_author - tlo] / tpop.mean()))
    blocks.append(Rows.make(t_author, t_t, ORIGINAL, -1, P_ORGANIC, T_TARGET))

    # --- organic originals, grouped by community so that a community's posts are one contiguous range
    olo, ohi = pop.block[ORGANIC]
    n_op = max(1000, int((1 - cfg.target_share) * E / cfg.engagements_per_original))
    o_author = olo + draw(rng, pop.weight[olo:ohi] ** 0.7, n_op)
    o_comm = pop.community[o_author]
    order = np.argsort(o_comm, kind="stable")
    o_author, o_comm = o_author[order], o_comm[order]
    o_t = _diurnal_times(rng, n_op, pop.offset_h[o_author], start, end)
    o_t = np.maximum(o_t, pop.created[o_author] + HOUR)
    o_pop = np.minimum(rng.pareto(cfg.popularity_alpha, n_op) + 1.0, 1e4) * (pop.followers[o_author] + 10.0) ** 0.25
    n_comm = int(pop.community.max()) + 1
    comm_lo = nt + np.searchsorted(o_comm, np.arange(n_comm), side="left")
    comm_hi = nt + np.searchsorted(o_comm, np.arange(n_comm), side="right")
    blocks.append(Rows.make(o_author, o_t, ORIGINAL, -1, P_ORGANIC, T_ORGANIC))

    # --- hijacked accounts: an old life (posts in another language), months of silence, then the takeover
    hlo, hhi = pop.block[HIJACKED]
    nh = hhi - hlo
    hij = cfg.hijacked
    hijack_t = start + int(hij.takeover_after_days * DAY) + (rng.random(nh) * hij.takeover_days * DAY).astype(np.int64)
    if nh:
        k = rng.integers(5, 30, nh)
        h_author = np.repeat(np.arange(hlo, hhi), k)
        last = hijack_t - int(hij.dormant_months * 30 * DAY)
        first = np.maximum(last - 2 * 365 * DAY, pop.created[hlo:hhi] + DAY)
        span = np.maximum(last - first, DAY)
        h_t = np.repeat(first, k) + (rng.random(k.sum()) * np.repeat(span, k)).astype(np.int64)
        blocks.append(Rows.make(h_author, h_t, ORIGINAL, -1, P_HISTORY, T_OLD))

    # --- copy-paste brigade: the same link and hashtag sequence posted by several accounts within minutes
    clo, chi = pop.block[COPYPASTER]
    cp = cfg.copypaste
    if chi > clo:
        n_waves = max(3, int((chi - clo) * cp.link_posts_per_account / cp.per_post_median))
        k = np.maximum(2, rng.lognormal(np.log(cp.per_post_median), 0.5, n_waves).astype(np.int64))
        wave_t = start + (rng.random(n_waves) * (end - start - DAY)).astype(np.int64)
        wave_link = rng.integers(0, 1 << 14, n_waves)
        w = np.repeat(np.arange(n_waves), k)
        l_author = clo + draw(rng, pop.weight[clo:chi], len(w))
        l_t = wave_t[w] + rng.exponential(cp.spread_s * S, len(w)).astype(np.int64)
        blocks.append(Rows.make(l_author, l_t, ORIGINAL, -1, P_LINKPOST, T_LINK, wave_link[w]))

    rows = Rows.concat(blocks)
    n_extra = len(rows) - n_tp - n_op
    popularity = np.concatenate([t_popularity, o_pop, np.zeros(n_extra)])
    is_target = np.zeros(len(rows), bool)
    is_target[:n_tp] = True
    thr = np.quantile(o_pop, 1 - cfg.viral_share) if n_op else np.inf
    viral = np.zeros(len(rows), bool)
    viral[n_tp:n_tp + n_op] = o_pop >= thr
    return Originals(rows, popularity, viral, is_target, n_tp, n_tp, n_tp + n_op, comm_lo, comm_hi, hijack_t)


def _kinds(rng: np.random.Generator, n: int, probs: tuple[float, float, float]) -> np.ndarray:
    p = np.asarray(probs, float) / sum(probs)
    return (draw(rng, p, n) + 1).astype(np.int8)  # 1 repost, 2 reply, 3 quote


def _organic_delay(rng: np.random.Generator, viral: np.ndarray, cfg: SimConfig) -> np.ndarray:
    n = len(viral)
    d = lognormal_s(rng, cfg.organic_delay_median_s, cfg.organic_delay_sigma, n)
    # on a viral post most (not all) sharing happens within minutes
    fast = np.flatnonzero(viral)
    fast = fast[rng.random(len(fast)) < 0.8]
    d[fast] = lognormal_s(rng, cfg.viral_delay_median_s, 1.2, len(fast))
    return d


def organic_engagements(cfg: SimConfig, pop: Population, orig: Originals, rng: np.random.Generator,
                        n_target: int, n_other: int) -> Rows:
    """Honest sharing: power users, communities, viral posts, people who sleep."""
    olo, ohi = pop.block[ORGANIC]
    w = pop.weight[olo:ohi]
    # affinity of each community for the targets' posts (many communities hardly care)
    n_comm = len(orig.comm_lo)
    aff = rng.lognormal(0.0, 1.0, n_comm) * np.where(rng.random(n_comm) < 0.35, 0.05, 1.0)
    # actors are drawn as counts per account and come out grouped by community (util.counts_to_rows): the
    # same distribution as independent draws, but each later lookup by actor (community, its range of
    # posts, timezone) walks memory in order instead of jumping; every other column of a row is drawn
    # independently of its position, so the grouping carries no information
    comm_of = pop.community[olo:ohi]
    by_comm = np.argsort(comm_of, kind="stable")
    # --- on targets
    actors = olo + counts_to_rows(rng, w * aff[comm_of], n_target, by_comm)
    posts = draw(rng, orig.popularity[:orig.n_target], n_target)
    # --- elsewhere: mostly inside the actor's community
    actors2 = olo + counts_to_rows(rng, w, n_other, by_comm)
    comm = pop.community[actors2]
    lo, hi = orig.comm_lo[comm], orig.comm_hi[comm]
    empty = hi <= lo
    cross = (rng.random(n_other) < cfg.cross_community) | empty
    lo = np.where(cross, orig.organic_lo, lo)
    hi = np.where(cross, orig.organic_hi, hi)
    posts2 = Sampler(orig.popularity).draw_within(rng, lo, hi)
    actors = np.concatenate([actors, actors2])
    posts = np.concatenate([posts, posts2])
    n = len(actors)
    t = orig.rows.t[posts] + _organic_delay(rng, orig.viral[posts], cfg)
    t = sleep_shift(rng, t, pop.offset_h[actors], cfg)
    kind = _kinds(rng, n, cfg.organic_kinds)
    text = np.where(kind == REPLY, T_REPLY, np.where(kind == QUOTE, T_QUOTE, T_NONE))
    return Rows.make(actors, t, kind, posts, P_ORGANIC, text)


def _week_intensity(rng: np.random.Generator, cfg: SimConfig, t: np.ndarray, quiet_weeks: int = 2) -> np.ndarray:
    """Campaign intensity per week: off at first, then bursty (some weeks far busier than others)."""
    start = us(cfg.start)
    n_weeks = int((us(cfg.end) - start) // (7 * DAY)) + 2
    mult = rng.lognormal(0.0, 0.9, n_weeks)
    mult[:quiet_weeks] = 0.02
    wk = np.clip((t - start) // (7 * DAY), 0, n_weeks - 1)
    return mult[wk]


def _waves(rng: np.random.Generator, post_weight: np.ndarray, budget: int, median_k: float, cap: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """Pick posts for a campaign's waves and the wave index of each participation (about ``budget`` rows)."""
    mean_k = median_k * np.exp(0.6 ** 2 / 2)
    n_waves = max(1, int(budget / mean_k))
    posts = draw(rng, post_weight, n_waves)
    k = np.clip(rng.lognormal(np.log(median_k), 0.6, n_waves).astype(np.int64), 1, max(1, cap))
    wave = np.repeat(np.arange(n_waves), k)
    return posts, wave


def _target_weights(cfg: SimConfig, orig: Originals, focus: dict[int, float], rng: np.random.Generator,
                    pop: Population) -> np.ndarray:
    """Weights over target posts: ``focus`` maps target index -> share of the waves it gets."""
    nt = orig.n_target
    author = orig.rows.author[:nt] - pop.block[TARGET][0]
    base = orig.popularity[:nt] ** 0.5 * _week_intensity(rng, cfg, orig.rows.t[:nt], cfg.quiet_weeks)
    w = base.copy()
    rest = 1.0 - sum(focus.values())
    is_focus = np.isin(author, list(focus))
    w[~is_focus] *= rest / max(base[~is_focus].sum(), 1e-12)
    for a, share in focus.items():
        m = author == a
        if m.any():
            w[m] = base[m] * share / max(base[m].sum(), 1e-12)
    return w


def campaign_engagements(cfg: SimConfig, pop: Population, orig: Originals, rng: np.random.Generator
                         ) -> list[Rows]:
    """Planted activity of every enabled campaign (see docs/simulator.md for each campaign's model)."""
    E = cfg.engagements
    out: list[Rows] = []
    nt = orig.n_target
    n_targets = pop.block[TARGET][1] - pop.block[TARGET][0]
    focus_two = {0: 0.7, 1: 0.3} if n_targets > 1 else {0: 1.0}

    ss = cfg.superspreaders
    lo, hi = pop.block[SPREADER]
    if ss.enabled and hi > lo:
        budget = int(ss.engagement_share * E)
        n_cam = int(budget * ss.camouflage_share)
        pw = _target_weights(cfg, orig, {0: ss.focus_share}, rng, pop)
        posts, wave = _waves(rng, pw, budget - n_cam, ss.per_post_median, hi - lo)
        actors = lo + draw(rng, pop.weight[lo:hi], len(wave))
        p = posts[wave]
        t = orig.rows.t[p] + lognormal_s(rng, ss.latency_median_s, ss.latency_sigma, len(wave))
        if ss.diurnal:
            t = sleep_shift(rng, t, pop.offset_h[actors], cfg)
        kind = np.where(rng.random(len(wave)) < ss.reply_share, np.where(rng.random(len(wave)) < 0.6, REPLY, QUOTE),
                        REPOST)
        text = np.where(kind == REPOST, T_NONE, T_COPY)
        tmpl = rng.integers(0, 1 << 14, len(posts))[wave]
        out.append(Rows.make(actors, t, kind, p, P_AMPLIFY, text, tmpl))
        if n_cam:  # camouflage: retweet popular organic posts like everyone else
            cp_posts = orig.organic_lo + draw(rng, orig.popularity[orig.organic_lo:orig.organic_hi] ** 1.5, n_cam)
            a = lo + draw(rng, pop.weight[lo:hi], n_cam)
            t = orig.rows.t[cp_posts] + _organic_delay(rng, orig.viral[cp_posts], cfg)
            out.append(Rows.make(a, t, REPOST, cp_posts, P_CAMOUFLAGE, T_NONE))

    imp = cfg.impersonation
    lo, hi = pop.block[PERSONA]
    if imp.enabled and hi > lo:
        budget = int(imp.engagement_share * E)
        shares = {k: v * imp.focus_share for k, v in focus_two.items()}
        pw = _target_weights(cfg, orig, shares, rng, pop)
        posts, wave = _waves(rng, pw, budget, 8.0, hi - lo)
        # the operators pick a post up in their office hours (UTC+8, weekdays) and the personas act together
        seen = orig.rows.t[posts] + rng.exponential(10 * MIN, len(posts)).astype(np.int64)
        handled = office_hours(seen, imp.utc_offset_h, imp.office_start_h, imp.office_end_h, rng)
        actors = lo + draw(rng, pop.weight[lo:hi], len(wave))
        t = handled[wave] + rng.exponential(imp.spread_s * S, len(wave)).astype(np.int64)
        kind = np.where(rng.random(len(wave)) < imp.reply_share, REPLY, REPOST)
        text = np.where(kind == REPLY, np.where(rng.random(len(wave)) < 0.5, T_PERSONA, T_COPY), T_NONE)
        tmpl = rng.integers(0, 1 << 14, len(posts))[wave]
        out.append(Rows.make(actors, t, kind, posts[wave], P_AMPLIFY, text, tmpl))

    hij = cfg.hijacked
    lo, hi = pop.block[HIJACKED]
    if hij.enabled and hi > lo:
        budget = int(hij.engagement_share * E)
        order = np.argsort(orig.hijack_t)
        h_sorted = orig.hijack_t[order]
        pw = _target_weights(cfg, orig, {0: 0.15}, rng, pop)
        pw = np.where(orig.rows.t[:nt] > h_sorted[0] + HOUR, pw, 0.0)
        posts, wave = _waves(rng, pw, budget, 3.0, hi - lo)
        p = posts[wave]
        pt = orig.rows.t[p]
        avail = np.searchsorted(h_sorted, pt, side="left")  # accounts taken over before the post
        ok = avail > 0
        p, pt, avail = p[ok], pt[ok], avail[ok]
        pick_ = (rng.random(len(p)) ** 1.5 * avail).astype(np.int64)  # earlier takeovers act more
        actors = lo + order[np.minimum(pick_, avail - 1)]
        t = pt + lognormal_s(rng, hij.latency_median_s, hij.latency_sigma, len(p))
        kind = _kinds(rng, len(p), (0.6, 0.25, 0.15))
        text = np.where(kind == REPOST, T_NONE, T_ZH)
        out.append(Rows.make(actors, t, kind, p, P_AMPLIFY, text))

    cp = cfg.copypaste
    lo, hi = pop.block[COPYPASTER]
    if cp.enabled and hi > lo:
        budget = int(cp.engagement_share * E)
        pw = _target_weights(cfg, orig, {0: 0.25}, rng, pop)
        posts, wave = _waves(rng, pw, budget, cp.per_post_median, hi - lo)
        actors = lo + draw(rng, pop.weight[lo:hi], len(wave))
        t0 = orig.rows.t[posts] + lognormal_s(rng, 300.0, 1.0, len(posts))
        t = t0[wave] + rng.exponential(cp.spread_s * S, len(wave)).astype(np.int64)
        kind = np.where(rng.random(len(wave)) < 0.8, REPLY, QUOTE)
        tmpl = rng.integers(0, 1 << 14, len(posts))[wave]
        out.append(Rows.make(actors, t, kind, posts[wave], P_AMPLIFY, T_COPY, tmpl))
    return out


def office_hours(t: np.ndarray, offset_h: float, start_h: float, end_h: float, rng: np.random.Generator
                 ) -> np.ndarray:
    """Move times to the next weekday office period at UTC ``offset_h`` (with a short pick-up delay)."""
    local = t + int(offset_h * HOUR)
    day = local // DAY
    h = (local - day * DAY) / HOUR
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday (3)
    inside = (h >= start_h) & (h < end_h) & (weekday < 5)
    nxt = np.where(h < start_h, day, day + 1)
    nwd = (nxt + 3) % 7
    nxt = nxt + np.where(nwd == 5, 2, np.where(nwd == 6, 1, 0))
    moved = nxt * DAY + int(start_h * HOUR) + rng.exponential(40 * MIN, len(t)).astype(np.int64)
    return np.where(inside, local, moved) - int(offset_h * HOUR)


def insert_organic(orig: Originals, rows: Rows, popularity: np.ndarray, comm: np.ndarray) -> Originals:
    """Originals with ``rows`` (of community ``comm``) placed among the organic originals, which stay grouped by
    community; nothing may reference an original yet (indices after the organic block move)."""
    if not len(rows):
        return orig
    lo, hi = orig.organic_lo, orig.organic_hi
    ncomm = len(orig.comm_lo)
    old_comm = np.repeat(np.arange(ncomm), orig.comm_hi - orig.comm_lo)
    organic = Rows.concat([orig.rows.take(slice(lo, hi)), rows])
    keys = np.concatenate([old_comm, comm])
    order = np.argsort(keys, kind="stable")
    pop_ = np.concatenate([orig.popularity[lo:hi], popularity])[order]
    viral = np.concatenate([orig.viral[lo:hi], np.zeros(len(rows), bool)])[order]
    new_hi = hi + len(rows)
    all_rows = Rows.concat([orig.rows.take(slice(0, lo)), organic.take(order), orig.rows.take(slice(hi, None))])
    comm_lo = lo + np.searchsorted(keys[order], np.arange(ncomm), side="left")
    comm_hi = lo + np.searchsorted(keys[order], np.arange(ncomm), side="right")
    return dataclasses.replace(
        orig, rows=all_rows,
        popularity=np.concatenate([orig.popularity[:lo], pop_, orig.popularity[hi:]]),
        viral=np.concatenate([orig.viral[:lo], viral, orig.viral[hi:]]),
        is_target=np.concatenate([orig.is_target[:lo], np.zeros(new_hi - lo, bool), orig.is_target[hi:]]),
        organic_hi=new_hi, comm_lo=comm_lo, comm_hi=comm_hi)


def append_originals(orig: Originals, rows: Rows) -> tuple[Originals, int]:
    """Originals with ``rows`` appended (never drawn by organic sharing); returns them and the first new index."""
    first = len(orig.rows)
    if not len(rows):
        return orig, first
    n = len(rows)
    return dataclasses.replace(orig, rows=Rows.concat([orig.rows, rows]),
                               popularity=np.concatenate([orig.popularity, np.zeros(n)]),
                               viral=np.concatenate([orig.viral, np.zeros(n, bool)]),
                               is_target=np.concatenate([orig.is_target, np.zeros(n, bool)])), first


__all__ = [
    "KIND_NAMES",
    "PURPOSES",
    "Originals",
    "Rows",
    "campaign_engagements",
    "make_originals",
    "organic_engagements",
]

"""The campaigns added with the confounders: a scheduled shift, a small ring, slow templated praise, and
state-media links.

The four original campaigns (:mod:`.activity`) all act within seconds or a minute of a target's post, which
is what a co-action detector with a 60 s window sees. Real operations also work in ways that window misses
or that look like something else; each campaign here is one such way, written as in
:mod:`.activity` (waves of a campaign's accounts acting on a post), and each is switchable with
``--campaign``:

- ``scheduled``: a shift of accounts that reposts a target's post together at the next quarter-hour slot
  minutes after it (a scheduling tool or a shift's routine), within seconds of each other, only in shift hours;
- ``ring``: six accounts that repost the targets and, above all, each other's posts;
- ``slowtext``: accounts posting templated praise of a target (replies and original posts) spread over the
  two hours after its post -- near-duplicate texts from a few templates with slot fillers, which nobody else
  posts; never within seconds of each other;
- ``links``: accounts posting the state-media targets' article links (a new URL per article, often with
  tracking parameters) minutes after the article is posted; links nobody else shares.

``slowtext`` and ``links`` make original posts, which must exist before any engagement is drawn, so
:func:`add_originals` runs with the originals and :func:`engagements` with the other campaigns.
"""

from __future__ import annotations

import numpy as np

from .activity import (
    ORIGINAL,
    P_AMPLIFY,
    P_EXCHANGE,
    P_LINKPOST,
    P_OWNPOST,
    REPLY,
    REPOST,
    T_ARTICLE,
    T_LINKSHARE,
    T_NONE,
    T_PRAISE,
    T_TARGET,
    Originals,
    Rows,
    _diurnal_times,
    _target_weights,
    _waves,
    append_originals,
)
from .config import SimConfig
from .names import PRAISE_TEMPLATES
from .population import LINKER, PRAISER, RINGER, SHIFT, Population
from .util import DAY, HOUR, S, draw, lognormal_s, us


def _block(pop: Population, role: int) -> tuple[int, int]:
    return pop.block.get(role, (0, 0))


def add_originals(cfg: SimConfig, pop: Population, orig: Originals, rng: np.random.Generator) -> Originals:
    """State-media article posts, the ring's own posts, praise posts and link posts (with the praise replies
    kept in ``orig.aux["pending"]`` for :func:`engagements`)."""
    start, end = us(cfg.start), us(cfg.end)
    E = cfg.engagements
    nt = orig.n_target
    state_media = pop.group[orig.rows.author[:nt]] == 1
    blocks: list[Rows] = []
    li = cfg.links
    if li.enabled:  # state media post their own articles: a new article URL per post
        orig.rows.text[:nt] = np.where(state_media, T_ARTICLE, orig.rows.text[:nt])

    ring = cfg.ring
    lo, hi = _block(pop, RINGER)
    if ring.enabled and hi - lo > 1:
        budget = ring.engagement_share * E * ring.exchange_share
        n_posts = max(1, round(budget / ((hi - lo - 1) * ring.exchange_p)))
        author = lo + rng.integers(0, hi - lo, n_posts)
        t = np.sort(_diurnal_times(rng, n_posts, pop.offset_h[author], start + 7 * DAY, end))
        blocks.append(Rows.make(author, t, ORIGINAL, -1, P_OWNPOST, T_TARGET))

    st = cfg.slowtext
    lo, hi = _block(pop, PRAISER)
    pending: list[Rows] = []
    if st.enabled and hi > lo:
        total = st.engagement_share * E / max(1e-9, 1 - st.original_share)
        pw = _target_weights(cfg, orig, {}, rng, pop)
        posts, wave = _waves(rng, pw, int(total), st.per_post_median, hi - lo)
        p = posts[wave]
        actor = lo + draw(rng, pop.weight[lo:hi], len(p))
        t = orig.rows.t[p] + ((60 + rng.random(len(p)) * (st.window_s - 60)) * S).astype(np.int64)
        tmpl = rng.integers(0, len(PRAISE_TEMPLATES), len(p))
        own = rng.random(len(p)) < st.original_share
        # an original praise post keeps ``ref`` = the target's post it praises (for its mention; not exported)
        blocks.append(Rows.make(actor[own], t[own], ORIGINAL, p[own], P_OWNPOST, T_PRAISE, tmpl[own]))
        pending.append(Rows.make(actor[~own], t[~own], REPLY, p[~own], P_AMPLIFY, T_PRAISE, tmpl[~own]))

    lo, hi = _block(pop, LINKER)
    if li.enabled and hi > lo and state_media.any():
        sm = np.flatnonzero(state_media)
        w = _target_weights(cfg, orig, {}, rng, pop)[sm]
        k_mean = li.per_post_median * np.exp(0.6 ** 2 / 2)
        n_waves = min(len(sm), max(1, round(li.posts_share * E / k_mean)))
        posts = rng.choice(sm, n_waves, replace=False, p=w / w.sum())
        k = np.clip(rng.lognormal(np.log(li.per_post_median), 0.6, n_waves).astype(np.int64), 1, hi - lo)
        p = np.repeat(posts, k)
        actor = lo + draw(rng, pop.weight[lo:hi], len(p))
        t = orig.rows.t[p] + lognormal_s(rng, li.latency_median_s, li.latency_sigma, len(p))
        # ``ref`` = the article post (its URL is rebuilt from it); tmpl 1 = with tracking parameters
        blocks.append(Rows.make(actor, t, ORIGINAL, p, P_LINKPOST, T_LINKSHARE,
                                (rng.random(len(p)) < li.tracking_share).astype(np.int16)))
    first = len(orig.rows)
    if blocks:
        orig, first = append_originals(orig, Rows.concat(blocks))
    if ring.enabled:
        lo, hi = _block(pop, RINGER)
        new = np.arange(first, len(orig.rows))
        orig.aux["ring_posts"] = new[(orig.rows.author[new] >= lo) & (orig.rows.author[new] < hi)]
    orig.aux["pending"] = pending
    return orig


def next_slot(t: np.ndarray, slot_s: int, offset_h: float, start_h: float, end_h: float) -> np.ndarray:
    """The first clock slot (multiple of ``slot_s`` seconds) at or after ``t`` inside the daily shift
    ``[start_h, end_h)`` at UTC ``offset_h``; outside it, the shift's next start."""
    step = slot_s * S
    slot = -(-t // step) * step
    local = slot + int(offset_h * HOUR)
    day = local // DAY
    h = (local - day * DAY) / HOUR
    start_next = np.where(h < start_h, day, day + 1) * DAY + int(start_h * HOUR)
    inside = (h >= start_h) & (h < end_h)
    return np.where(inside, local, start_next) - int(offset_h * HOUR)


def engagements(cfg: SimConfig, pop: Population, orig: Originals, rng: np.random.Generator) -> list[Rows]:
    """Planted engagements of the added campaigns."""
    E = cfg.engagements
    out: list[Rows] = list(orig.aux.get("pending", []))
    sch = cfg.scheduled
    lo, hi = _block(pop, SHIFT)
    if sch.enabled and hi > lo:
        pw = _target_weights(cfg, orig, {}, rng, pop)
        posts, wave = _waves(rng, pw, int(sch.engagement_share * E), sch.per_post_median, hi - lo)
        slot = next_slot(orig.rows.t[posts] + int(sch.min_lead_s * S), int(sch.slot_minutes * 60),
                         sch.utc_offset_h, sch.shift_start_h, sch.shift_end_h)
        actor = lo + draw(rng, pop.weight[lo:hi], len(wave))
        t = slot[wave] + rng.exponential(sch.spread_s * S, len(wave)).astype(np.int64)
        out.append(Rows.make(actor, t, REPOST, posts[wave], P_AMPLIFY, T_NONE))

    ring = cfg.ring
    lo, hi = _block(pop, RINGER)
    if ring.enabled and hi > lo:
        m = hi - lo
        budget = ring.engagement_share * E * (1 - ring.exchange_share)
        n_waves = max(1, round(budget / (m * ring.join_p)))
        posts = draw(rng, _target_weights(cfg, orig, {}, rng, pop), n_waves)
        member = np.tile(np.arange(lo, hi), n_waves)
        wave = np.repeat(np.arange(n_waves), m)
        join = rng.random(len(member)) < ring.join_p
        t0 = orig.rows.t[posts] + lognormal_s(rng, ring.latency_median_s, ring.latency_sigma, n_waves)
        t = t0[wave] + rng.exponential(ring.spread_s * S, len(wave)).astype(np.int64)
        out.append(Rows.make(member[join], t[join], REPOST, posts[wave][join], P_AMPLIFY, T_NONE))
        own = orig.aux.get("ring_posts", np.zeros(0, np.int64))
        if len(own):  # each member reposts the others' posts
            p = np.repeat(own, m)
            member = np.tile(np.arange(lo, hi), len(own))
            ok = (member != orig.rows.author[p]) & (rng.random(len(p)) < ring.exchange_p)
            p, member = p[ok], member[ok]
            t = orig.rows.t[p] + lognormal_s(rng, ring.latency_median_s, ring.latency_sigma, len(p))
            out.append(Rows.make(member, t, REPOST, p, P_EXCHANGE, T_NONE))
    return [r for r in out if len(r)]


__all__ = ["add_originals", "engagements", "next_slot"]

"""Platform enforcement and platform-side data: suspension waves, status checks, logins.

Enforcement is slow and comes in waves: a share of each campaign's accounts is suspended at one of a few
wave dates (weeks or months after it started acting) or found suspended at the study's final check; the UK
network loses more accounts after the researchers' report. A suspended account cannot act afterwards, so
its later planted activity passes to a surviving account of the same campaign (operators replace banned
accounts), which keeps the campaign's volume while the ban wave stays visible per account. A few organic
accounts are suspended or deleted too, for unrelated reasons.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa

from .activity import Rows
from .config import SimConfig
from .population import (
    CAMPAIGN_ROLES,
    HIJACKED,
    IS_CAMPAIGN,
    ORGANIC,
    PERSONA,
    ROLE_OF_CAMPAIGN,
    ROLES,
    Population,
)
from .util import DAY, HOUR, const, ts_array, us

#: campaigns whose configuration carries its own ``shared_ip_share``
NEW_CAMPAIGNS = ("scheduled", "ring", "slowtext", "links")

NEVER = np.iinfo(np.int64).max


@dataclasses.dataclass
class Enforcement:
    suspended_at: np.ndarray   # int64 us per account (NEVER when not suspended)
    deleted: np.ndarray        # bool per account, deleted by the final check


def plan_enforcement(cfg: SimConfig, pop: Population, rng: np.random.Generator) -> Enforcement:
    n = pop.n
    susp = np.full(n, NEVER, np.int64)
    start = us(cfg.start)
    waves = np.array([start + d * DAY for d in cfg.wave_days] + [us(cfg.final_check) - 2 * DAY], np.int64)
    for name, camp in cfg.campaigns().items():
        lo, hi = pop.block[ROLE_OF_CAMPAIGN[name]]
        if not camp.enabled or hi <= lo:
            continue
        k = hi - lo
        # platforms catch the loudest accounts first: the most active fifth is suspended with probability
        # 0.95, the rest so that the campaign's overall share is ``suspended_share``
        share = camp.suspended_share
        loud = pop.weight[lo:hi] >= np.quantile(pop.weight[lo:hi], 0.8)
        p_loud = max(share, 0.95) if share > 0 else 0.0
        p_rest = max(0.0, (share * k - p_loud * loud.sum()) / max(1, k - loud.sum()))
        hit = rng.random(k) < np.where(loud, p_loud, p_rest)
        if ROLE_OF_CAMPAIGN[name] == HIJACKED:  # taken over accounts are caught at the final check
            when = np.full(k, waves[-1])
        else:
            when = waves[rng.integers(0, len(waves), k)]
        when = when + (rng.random(k) * 2 * DAY).astype(np.int64)
        susp[lo:hi] = np.where(hit, when, NEVER)
        if ROLE_OF_CAMPAIGN[name] == PERSONA:  # after the researchers reported the network
            late = (~hit) & (rng.random(k) < cfg.impersonation.reported_share / max(1e-9, 1 - camp.suspended_share))
            susp[lo:hi] = np.where(late, us(cfg.report_wave), susp[lo:hi])
    lo, hi = pop.block[ORGANIC]
    u = rng.random(hi - lo)
    org_susp = u < cfg.organic_suspended_share
    susp[lo:hi] = np.where(org_susp, us(cfg.final_check) - (rng.random(hi - lo) * 20 * DAY).astype(np.int64), NEVER)
    deleted = np.zeros(n, bool)
    deleted[lo:hi] = (u >= cfg.organic_suspended_share) & (u < cfg.organic_suspended_share + cfg.organic_deleted_share)
    return Enforcement(susp, deleted)


def apply_enforcement(rows: Rows, pop: Population, enf: Enforcement, rng: np.random.Generator
                      ) -> tuple[Rows, np.ndarray]:
    """Hand planted activity after an account's suspension to a surviving account; drop organic engagements
    after the suspension of their (organic) author. Returns the rows (same length) and a mask of rows kept."""
    late = rows.t >= enf.suspended_at[rows.author]
    keep = np.ones(len(rows), bool)
    if not late.any():
        return rows, keep
    author = rows.author.copy()
    for role in CAMPAIGN_ROLES:
        lo, hi = pop.block[role]
        if hi <= lo:
            continue
        m = late & (rows.author >= lo) & (rows.author < hi)
        if not m.any():
            continue
        order = np.argsort(enf.suspended_at[lo:hi], kind="stable")
        s_sorted = enf.suspended_at[lo:hi][order]
        t = rows.t[m]
        pos = np.searchsorted(s_sorted, t, side="right")  # accounts still active at t: order[pos:]
        alive = pos < (hi - lo)
        j = pos + (rng.random(len(t)) * ((hi - lo) - pos)).astype(np.int64)
        idx = np.flatnonzero(m)
        author[idx[alive]] = lo + order[np.minimum(j[alive], hi - lo - 1)]
        keep[idx[~alive]] = False
    # (organic accounts act only for themselves, the confounders included: fans' bursts go too)
    organic_late = late & (pop.role[rows.author] == ORGANIC)
    # an organic account's own posts stay (moved before its suspension, so indices of originals never change);
    # its engagements after the suspension are dropped
    t = rows.t
    orig_late = organic_late & (rows.kind == 0)
    if orig_late.any():
        t = t.copy()
        back = enf.suspended_at[rows.author[orig_late]] - HOUR - (rng.random(orig_late.sum()) * 10 * DAY)
        t[orig_late] = np.minimum(t[orig_late], back.astype(np.int64))
    keep &= ~(organic_late & (rows.kind != 0))
    return dataclasses.replace(rows, author=author, t=t), keep


def status_table(cfg: SimConfig, pop: Population, enf: Enforcement) -> pa.Table:
    """``account_status``: every account at the final check, plus a row per suspension wave observation."""
    n = pop.n
    final = us(cfg.final_check)
    status = np.where(enf.suspended_at <= final, 1, np.where(enf.deleted, 2, 0))
    names = pa.array(["active", "suspended", "deleted"], pa.string())
    wave_rows = np.flatnonzero(enf.suspended_at != NEVER)
    acct = np.concatenate([np.arange(n), wave_rows])
    st = np.concatenate([status, np.ones(len(wave_rows), np.int64)])
    # a suspension is seen at the next daily check
    checked = np.concatenate([np.full(n, final, np.int64), (enf.suspended_at[wave_rows] // DAY + 1) * DAY])
    return pa.table({
        "account_id": pa.array(pop.ids[acct]),
        "status": pa.DictionaryArray.from_arrays(pa.array(st.astype(np.int32)), names),
        "checked_at": ts_array(checked),
        "source": const("simulator", len(acct)),
    })


def logins_table(cfg: SimConfig, pop: Population, rng: np.random.Generator) -> pa.Table:
    """``logins``: a few logins per account; some campaign accounts share operator IPs and devices, and some
    organic accounts share an IP (households, carrier-grade NAT), so a shared IP alone proves little."""
    n = pop.n
    k = 1 + rng.poisson(1.5, n)
    acct = np.repeat(np.arange(n), k)
    m = len(acct)
    start, end = us(cfg.start), us(cfg.end)
    t = start + (rng.random(m) * (end - start)).astype(np.int64)
    ip = pop.ids[acct] * 2654435761 % (1 << 61)
    dev = pop.ids[acct] * 40503 % (1 << 59) + 7
    role = pop.role[acct]
    organic = role == ORGANIC
    nat = organic & (rng.random(m) < 0.05)
    ip = np.where(nat, (1 << 61) + rng.integers(0, max(10, n // 2000), m), ip)
    # the newer campaigns have their own share (0 by default: residential proxies)
    share = np.array([getattr(cfg, c).shared_ip_share if c in NEW_CAMPAIGNS else cfg.shared_ip_share
                      for _, c in ROLES])
    operator = IS_CAMPAIGN[role] & (rng.random(m) < share[role])
    pool = (1 << 62) + role.astype(np.int64) * 1000 + rng.integers(0, cfg.operator_ips, m)
    ip = np.where(operator, pool, ip)
    dev = np.where(operator & (rng.random(m) < 0.5), (1 << 60) + role.astype(np.int64) * 100 + rng.integers(0, 8, m),
                   dev)
    persona = role == PERSONA  # personas log in during UTC+8 office hours
    t = np.where(persona, (t // DAY) * DAY + ((1 + rng.random(m) * 9) * HOUR).astype(np.int64), t)
    return pa.table({
        "account_id": pa.array(pop.ids[acct]),
        "ts": ts_array(t // 1_000_000 * 1_000_000),
        "ip_hash": pa.array(ip),
        "device_hash": pa.array(dev),
        "source": const("simulator", m),
    })


__all__ = ["Enforcement", "apply_enforcement", "logins_table", "plan_enforcement", "status_table"]

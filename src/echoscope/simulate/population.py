"""The accounts of the simulated platform: targets, organic users and the campaigns' accounts.

Accounts are held as columns (numpy arrays for numbers, Arrow arrays for strings) in one fixed index order --
targets, organic users, one block per campaign, then the idols, news outlets and aggregators of the
confounders (:mod:`.roles` holds the role table and those accounts' profiles) -- so that every later step
addresses an account by its integer index and string work happens once, in Arrow. Profiles are drawn so
that each campaign leaves the signature the field describes (creation bursts, templated handles, few
followers, default or GAN images, UK personas) while organic users also produce look-alikes (some templated
handles and default images).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import names as N
from . import roles as R
from .config import SimConfig
from .roles import (  # noqa: F401  (re-exported: the role table is part of the population's interface)
    AGGREGATOR,
    CAMPAIGN_ROLES,
    CONFOUNDER_OF_ROLE,
    COPYPASTER,
    FAN,
    HIJACKED,
    IDOL,
    IS_CAMPAIGN,
    LINKER,
    ORGANIC,
    OUTLET,
    PERSONA,
    PRAISER,
    RINGER,
    ROLE_OF_CAMPAIGN,
    ROLES,
    SHIFT,
    SPREADER,
    TARGET,
)
from .util import (
    DAY,
    HOUR,
    ID_EPOCH_US,
    S,
    compose,
    draw,
    join,
    numstr,
    pick,
    snowflake,
    us,
)


@dataclasses.dataclass
class Population:
    """Column store of all accounts (index = position)."""

    role: np.ndarray            # int8 role code
    ids: np.ndarray             # int64 account id
    created: np.ndarray         # int64 us
    offset_h: np.ndarray        # float: UTC offset the account actually lives/works in
    region: np.ndarray          # int16 index into names.REGIONS (claimed)
    community: np.ndarray       # int32 (organic only; -1 otherwise)
    weight: np.ndarray          # activity weight
    followers: np.ndarray       # int64
    following: np.ndarray       # int64
    lang: np.ndarray            # int16 index into LANGS
    client: np.ndarray          # int16 index into names.CLIENTS
    default_image: np.ndarray   # bool
    handle: pa.Array
    display_name: pa.Array
    description: pa.Array
    location: pa.Array
    image_url: pa.Array
    label: pa.Array
    verified: np.ndarray
    group: np.ndarray           # targets: 0 diplomats, 1 state media; -1 otherwise
    block: dict[int, tuple[int, int]]  # role -> [lo, hi)
    fandom: np.ndarray | None = None   # int32: organic fans -> idol index (block order), -1 otherwise
    hub: np.ndarray | None = None      # bool: organic community hubs

    @property
    def n(self) -> int:
        return len(self.role)

    def index(self, role: int) -> np.ndarray:
        lo, hi = self.block.get(role, (0, 0))
        return np.arange(lo, hi, dtype=np.int64)


LANGS: tuple[str, ...] = ("en", "zh", "de", "pt", "es")
GROUPS: tuple[str, ...] = ("diplomats", "state media")
LABELS: tuple[str, ...] = ("China government official", "China state-affiliated media")
COUNTRY_CODES = ("UK", "FR", "PK", "NG", "BR", "DE", "ES", "IN", "ZA", "KE", "CA", "IT", "JP", "PE", "CL",
                 "EG", "IR", "MX", "TR", "GR", "AR", "NL", "SE", "PL", "TH", "VN", "MY", "ID", "PH", "NZ")


TARGET_BIOS = ("Official account of a diplomatic mission (simulated). Retweets are not endorsements.",
               "State media news account (simulated)")


def _ascii(pool: tuple[str, ...]) -> tuple[str, ...]:
    """Names as handle-safe ASCII (accents dropped), computed on the small pool rather than per account."""
    import unicodedata

    return tuple("".join(c for c in unicodedata.normalize("NFKD", p) if c.isascii() and c.isalpha()) for p in pool)


def _target_names(t_idx: np.ndarray, is_dip: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Invented diplomat / state-media handles; the first two are the focus targets (UK ambassador, embassy)."""
    handles, disp = [], []
    for k, dip in zip(t_idx.tolist(), is_dip.tolist()):
        cc = COUNTRY_CODES[k % len(COUNTRY_CODES)]
        if dip:
            r = ("Amb", "Emb", "Consul", "Spox", "Cnslr")[(k // len(COUNTRY_CODES)) % 5]
            handles.append(f"{r}{cc}_{k:03d}")
            disp.append(f"{r} to {cc} (simulated)")
        else:
            a, b = N.STATE_MEDIA_NAMES[k % 8], N.STATE_MEDIA_NAMES[(k // 8 + 3) % 8]
            handles.append(f"{a}{b}{k:03d}")
            disp.append(f"{a} {b} (simulated)")
    if len(handles) > 0:
        handles[0], disp[0] = "AmbassadorUK", "Ambassador to the UK (simulated)"
    if len(handles) > 1 and bool(is_dip[1]):
        handles[1], disp[1] = "EmbassyUK", "Embassy in the UK (simulated)"
    return pa.array(handles, pa.string()), pa.array(disp, pa.string())


def _sizes(cfg: SimConfig) -> dict[int, int]:
    n = cfg.accounts
    dip = cfg.diplomats if cfg.diplomats is not None else int(np.clip(round(189 * n / 200_000), 8, 189))
    sm = cfg.state_media if cfg.state_media is not None else int(np.clip(round(176 * n / 200_000), 6, 176))
    ss, imp, hij, cp = cfg.superspreaders, cfg.impersonation, cfg.hijacked, cfg.copypaste
    sizes = {
        TARGET: dip + sm,
        SPREADER: max(ss.min_accounts, round(ss.accounts_per_1000 * n / 1000)) if ss.enabled else 0,
        PERSONA: imp.accounts if imp.enabled else 0,
        HIJACKED: max(hij.min_accounts, round(hij.accounts_per_1000 * n / 1000)) if hij.enabled else 0,
        COPYPASTER: max(cp.min_accounts, round(cp.accounts_per_1000 * n / 1000)) if cp.enabled else 0,
    }
    sizes.update(R.sizes(cfg))
    sizes[ORGANIC] = n - sum(sizes.values())
    return sizes


def make_population(cfg: SimConfig, rng: np.random.Generator) -> Population:
    """Draw every account's profile. See the module docstring for the layout."""
    sizes = _sizes(cfg)
    order = (TARGET, ORGANIC, SPREADER, PERSONA, HIJACKED, COPYPASTER, SHIFT, RINGER, PRAISER, LINKER, IDOL, OUTLET,
             AGGREGATOR)
    block: dict[int, tuple[int, int]] = {}
    pos = 0
    for r in order:
        block[r] = (pos, pos + sizes[r])
        pos += sizes[r]
    n = pos
    start, end = us(cfg.start), us(cfg.end)
    role = np.empty(n, np.int8)
    for r, (lo, hi) in block.items():
        role[lo:hi] = r
    n_dip = cfg.diplomats if cfg.diplomats is not None else int(np.clip(round(189 * cfg.accounts / 200_000), 8, 189))

    # --- claimed region / timezone / language (organic: consistent; personas: claim UK, live in UTC+8)
    region = draw(rng, np.array(N.REGION_WEIGHTS), n).astype(np.int16)
    offsets = np.array([r[1] for r in N.REGIONS])
    reg_lang = np.array([LANGS.index(r[2]) for r in N.REGIONS], np.int16)
    lo, hi = block[PERSONA]
    region[lo:hi] = 0  # uk
    offset_h = offsets[region].astype(np.float64)
    offset_h[lo:hi] = cfg.impersonation.utc_offset_h
    lang = reg_lang[region]
    lo, hi = block[TARGET]
    region[lo:hi] = rng.integers(0, len(N.REGIONS), hi - lo)
    offset_h[lo:hi] = offsets[region[lo:hi]]
    lang[lo:hi] = 0
    lo, hi = block[SPREADER]
    lang[lo:hi] = np.where(rng.random(hi - lo) < 0.7, 0, 1)
    lo, hi = block[HIJACKED]  # their old life was in another language than the one they switch to
    lang[lo:hi] = np.where(lang[lo:hi] == LANGS.index("zh"), 0, lang[lo:hi])

    # --- creation dates
    created = np.empty(n, np.int64)
    t2008, t2020 = us(cfg.start.replace(year=2008)), us(cfg.start.replace(year=2020))
    # organic: growth over the years (more recent accounts more common), a few created during the study
    lo, hi = block[ORGANIC]
    frac = rng.beta(1.6, 1.0, hi - lo)
    created[lo:hi] = t2008 + (frac * (start - t2008)).astype(np.int64)
    recent = rng.random(hi - lo) < 0.03
    created[lo:hi][recent] = start + (rng.random(recent.sum()) * (end - start - 30 * DAY)).astype(np.int64)
    lo, hi = block[TARGET]
    tg = rng.random(hi - lo)
    created[lo:hi] = np.where(tg < 0.6, t2020 - (tg / 0.6 * 300 * DAY).astype(np.int64),
                              t2008 + (rng.random(hi - lo) * (t2020 - t2008)).astype(np.int64))
    created[lo] = us(cfg.start.replace(year=2019, month=10, day=14))  # the ambassador joined in October 2019
    # super-spreaders: bursts on a few days before and during the campaign, within a few hours each
    ss = cfg.superspreaders
    lo, hi = block[SPREADER]
    if hi > lo:
        days = start - (rng.integers(10, 240, ss.burst_days) * DAY)
        which = rng.integers(0, ss.burst_days, hi - lo)
        created[lo:hi] = days[which] + (rng.random(hi - lo) * ss.burst_hours * HOUR).astype(np.int64)
    lo, hi = block[PERSONA]
    if hi > lo:  # personas: two bursts a few months before the study
        d = start - np.array([95, 40]) * DAY
        created[lo:hi] = d[rng.integers(0, 2, hi - lo)] + (rng.random(hi - lo) * 10 * HOUR).astype(np.int64)
    lo, hi = block[HIJACKED]
    created[lo:hi] = t2008 + 2 * 365 * DAY + (rng.random(hi - lo) * 6 * 365 * DAY).astype(np.int64)
    lo, hi = block[COPYPASTER]
    if hi > lo:
        d = start - rng.integers(5, 120, 3) * DAY
        created[lo:hi] = d[rng.integers(0, 3, hi - lo)] + (rng.random(hi - lo) * 12 * HOUR).astype(np.int64)
    # the accounts added with the confounders draw from their own generator, so that the default scenario's
    # platform (where they do not exist) is exactly what it was before they were added
    rng2 = np.random.default_rng([cfg.seed, 1601])
    R.created(cfg, block, created, rng2)
    created = np.maximum(created, ID_EPOCH_US + DAY) // S * S

    ids = snowflake(created, np.arange(n))

    # --- activity weight: heavy tailed (Pareto) for organic users
    weight = np.zeros(n)
    lo, hi = block[ORGANIC]
    weight[lo:hi] = (rng.pareto(cfg.activity_alpha, hi - lo) + 1.0)
    weight[lo:hi] = np.minimum(weight[lo:hi], 5_000.0)
    lo, hi = block[HIJACKED]
    weight[lo:hi] = rng.pareto(1.5, hi - lo) + 1.0
    for r in (SPREADER, PERSONA, COPYPASTER):
        lo, hi = block[r]
        if hi > lo:
            z = rng.permutation(hi - lo) + 1
            weight[lo:hi] = 1.0 / z ** (ss.activity_zipf if r == SPREADER else 0.6)

    # --- communities (organic)
    community = np.full(n, -1, np.int32)
    lo, hi = block[ORGANIC]
    n_comm = max(4, round(cfg.communities_per_1000 * cfg.accounts / 1000))
    csize = 1.0 / np.arange(1, n_comm + 1) ** 0.9
    community[lo:hi] = draw(rng, csize, hi - lo)

    # --- audience
    followers = np.zeros(n, np.int64)
    following = np.zeros(n, np.int64)
    lo, hi = block[ORGANIC]
    followers[lo:hi] = np.minimum(rng.lognormal(4.6, 1.9, hi - lo), 3e7).astype(np.int64)
    following[lo:hi] = rng.lognormal(5.3, 1.1, hi - lo).astype(np.int64)
    lo, hi = block[TARGET]
    followers[lo:hi] = rng.lognormal(9.5, 1.4, hi - lo).astype(np.int64)
    followers[lo] = 119_000
    following[lo:hi] = rng.lognormal(4.5, 1.0, hi - lo).astype(np.int64)
    lo, hi = block[SPREADER]
    if hi > lo:
        f = rng.poisson(ss.followers_mean, hi - lo)
        tail = rng.random(hi - lo) < 0.04
        f[tail] = rng.integers(11, 40, tail.sum())
        followers[lo:hi] = f
        following[lo:hi] = rng.integers(0, 60, hi - lo)
    lo, hi = block[PERSONA]
    followers[lo:hi] = rng.poisson(6, hi - lo)
    following[lo:hi] = rng.integers(20, 200, hi - lo)
    lo, hi = block[HIJACKED]
    followers[lo:hi] = rng.lognormal(5.0, 1.2, hi - lo).astype(np.int64)
    following[lo:hi] = rng.lognormal(5.5, 0.8, hi - lo).astype(np.int64)
    lo, hi = block[COPYPASTER]
    followers[lo:hi] = rng.poisson(4, hi - lo)
    following[lo:hi] = rng.integers(5, 120, hi - lo)

    client = draw(rng, np.array(N.CLIENT_WEIGHTS), n).astype(np.int16)
    lo, hi = block[SPREADER]
    client[lo:hi] = np.where(rng.random(hi - lo) < 0.8, 1, 2)
    R.activity_and_audience(cfg, block, weight, followers, following, community, lang, offset_h, client, rng2)
    fandom, hub = R.fans_and_hubs(cfg, block, community, weight, followers, rng2)

    # --- handles and names (each string column is built once per row, group by group: see util.compose)
    fi = rng.integers(0, len(N.FIRST), n)
    la = rng.integers(0, len(N.LAST), n)
    ufi = rng.integers(0, len(N.UK_FIRST), n)
    ula = rng.integers(0, len(N.UK_LAST), n)
    afirst, alast = _ascii(N.FIRST), _ascii(N.LAST)
    hstyle = rng.integers(0, 5, n).astype(np.int8)
    lo, hi = block[ORGANIC]
    hstyle[lo:hi][rng.random(hi - lo) < cfg.organic_templated_share] = 5
    hstyle[role == SPREADER] = 5
    hstyle[role == COPYPASTER] = 5
    hstyle[role == PERSONA] = np.where(rng.random(int((role == PERSONA).sum())) < 0.5, 6, 7)
    hstyle[role == TARGET] = 8
    R.handle_styles(block, hstyle, rng2)
    tlo, thi = block[TARGET]
    t_idx = np.arange(thi - tlo)
    is_dip = t_idx < n_dip
    t_handle, t_disp = _target_names(t_idx, is_dip)

    def digits(k: int, width: int, idx: np.ndarray) -> pa.Array:
        return numstr(rng.integers(0, 10**k, len(idx)), width)

    handle = compose(hstyle, {
        0: lambda i: join(pick(afirst, fi[i]), pick(alast, la[i]), digits(2, 2, i)),
        1: lambda i: join(pick(afirst, fi[i]), "_", pick(alast, la[i])),
        2: lambda i: join(pick(N.WORDS, la[i] % len(N.WORDS)), pick(afirst, fi[i]), digits(2, 2, i)),
        3: lambda i: pc.utf8_lower(join(pick(afirst, fi[i]), pick(alast, la[i]))),
        4: lambda i: join(pick(afirst, fi[i]).cast(pa.string()), pick(alast, la[i]), digits(3, 0, i)),
        # platform-default-like handles: name + 8 digits (campaign accounts, and some organic users)
        5: lambda i: join(pick(afirst, fi[i]), digits(8, 8, i)),
        # personas: UK persona handles (JamesWilson_UK, Oliver_Smith1987)
        6: lambda i: join(pick(_ascii(N.UK_FIRST), ufi[i]), pick(_ascii(N.UK_LAST), ula[i]), "_UK"),
        7: lambda i: join(pick(_ascii(N.UK_FIRST), ufi[i]), "_", pick(_ascii(N.UK_LAST), ula[i]),
                          numstr(rng.integers(1960, 2000, len(i)))),
        8: lambda i: t_handle.take(pa.array(i - tlo)),
        **R.handle_builders(block, afirst, alast, fi, la, rng2),
    })
    dstyle = np.zeros(n, np.int8)
    dstyle[role == PERSONA] = 1
    dstyle[(role == SPREADER) & (rng.random(n) < 0.6)] = 2  # display name unrelated to the handle
    dstyle[role == TARGET] = 3
    R.display_styles(block, dstyle, hstyle)
    display = compose(dstyle, {
        0: lambda i: join(pick(N.FIRST, fi[i]), " ", pick(N.LAST, la[i])),
        1: lambda i: join(pick(N.UK_FIRST, ufi[i]), " ", pick(N.UK_LAST, ula[i])),
        2: lambda i: join(pick(N.FIRST, (fi[i] + 7) % len(N.FIRST)), " ", pick(N.LAST, (la[i] + 5) % len(N.LAST))),
        3: lambda i: t_disp.take(pa.array(i - tlo)),
        **R.display_builders(block, handle, fi, la),
    })
    group = np.full(n, -1, np.int8)
    group[tlo:thi] = np.where(is_dip, 0, 1)
    # only 14% of targets carry an affiliation label
    labelled = np.zeros(n, bool)
    n_lab = round(cfg.label_share * (thi - tlo))
    labelled[tlo + rng.permutation(thi - tlo)[:n_lab]] = True
    label = pick(LABELS, np.maximum(group, 0), mask=~labelled)

    # --- descriptions and locations: one pick from a combined pool each
    bios = N.BIOS + N.UK_BIOS + N.SPREADER_BIOS + TARGET_BIOS
    o1, o2, o3 = len(N.BIOS), len(N.BIOS) + len(N.UK_BIOS), len(N.BIOS) + len(N.UK_BIOS) + len(N.SPREADER_BIOS)
    bi = rng.integers(0, len(N.BIOS), n)
    bi = np.where(role == PERSONA, o1 + bi % len(N.UK_BIOS), bi)
    bi = np.where((role == SPREADER) | (role == COPYPASTER), o2 + bi % len(N.SPREADER_BIOS), bi)
    bi = np.where(role == TARGET, o3 + np.maximum(group, 0), bi)
    bios, bi = R.bios(block, bios, bi, rng2)
    desc = pick(bios, bi)
    loc_pool: list[str] = []
    loc_start = []
    for reg in N.REGIONS:
        loc_start.append(len(loc_pool))
        loc_pool.extend(reg[3])
    uk0 = len(loc_pool)
    loc_pool.extend(N.UK_LOCATIONS)
    loc_len = np.array([len(reg[3]) for reg in N.REGIONS])
    li = np.array(loc_start)[region] + (rng.integers(0, 1 << 30, n) % loc_len[region])
    li = np.where(role == PERSONA, uk0 + rng.integers(0, len(N.UK_LOCATIONS), n), li)
    no_loc = ((rng.random(n) < 0.3) & (role != PERSONA)) | (role == SPREADER)
    location = pick(loc_pool, li, mask=no_loc)

    # --- profile images: ordinary photo, GAN face (sim://gan/N.png), reused stock photo, or the default
    u = rng.random(n)
    img = np.zeros(n, np.int8)  # 0 photo, 1 gan, 2 stock, 3 default
    img[(role == ORGANIC) & (u < cfg.organic_default_image_share)] = 3
    sp = role == SPREADER
    img[sp & (u < ss.default_image_share)] = 3
    img[sp & (u >= ss.default_image_share) & (u < ss.default_image_share + ss.gan_image_share)] = 1
    img[sp & (u >= ss.default_image_share + ss.gan_image_share)] = 2
    img[(role == PERSONA) & (u < 0.85)] = 1
    img[(role == PERSONA) & (u >= 0.85)] = 2
    cpr = role == COPYPASTER
    img[cpr & (u < 0.4)] = 3
    img[cpr & (u >= 0.4) & (u < 0.8)] = 1
    img[cpr & (u >= 0.8)] = 2
    R.images(block, img, rng2)
    stock = tuple(f"sim://stock/{k}.jpg" for k in range(12))
    image_url = compose(img, {
        0: lambda i: join("sim://photo/", numstr(ids[i]), ".jpg"),
        1: lambda i: join("sim://gan/", numstr(i), ".png"),
        2: lambda i: pick(stock, rng.integers(0, len(stock), len(i))),
        3: lambda i: pick((N.DEFAULT_IMAGE,), np.zeros(len(i), np.int64)),
    })
    default = img == 3
    verified = np.zeros(n, bool)
    lo, hi = block[TARGET]
    verified[lo:hi] = rng.random(hi - lo) < 0.3
    lo, hi = block[ORGANIC]
    verified[lo:hi] = followers[lo:hi] > 200_000
    for r in (IDOL, OUTLET):
        lo, hi = block[r]
        verified[lo:hi] = followers[lo:hi] > 100_000

    return Population(role=role, ids=ids, created=created, offset_h=offset_h, region=region, community=community,
                      weight=weight, followers=followers, following=following, lang=lang, client=client,
                      default_image=default, handle=handle, display_name=display, description=desc,
                      location=location, image_url=image_url, label=label, verified=verified, group=group, block=block,
                      fandom=fandom, hub=hub)


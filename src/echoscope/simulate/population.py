"""The accounts of the simulated platform: targets, organic users and the campaigns' accounts.

Accounts are held as columns (numpy arrays for numbers, Arrow arrays for strings) in one fixed index order --
targets, organic users, then one block per campaign -- so that every later step addresses an account by its
integer index and string work happens once, in Arrow. Profiles are drawn so that each campaign leaves the
signature the field describes (creation bursts, templated handles, few followers, default or GAN images,
UK personas) while organic users also produce look-alikes (some templated handles and default images).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import names as N
from .config import SimConfig
from .util import DAY, HOUR, ID_EPOCH_US, draw, join, numstr, pick, snowflake, us

#: role code -> (role name, campaign name or None)
ROLES: tuple[tuple[str, str | None], ...] = (
    ("organic", None),
    ("target", None),
    ("super-spreader", "superspreaders"),
    ("persona", "impersonation"),
    ("hijacked", "hijacked"),
    ("copy-paster", "copypaste"),
)
ORGANIC, TARGET, SPREADER, PERSONA, HIJACKED, COPYPASTER = range(6)
ROLE_OF_CAMPAIGN = {"superspreaders": SPREADER, "impersonation": PERSONA, "hijacked": HIJACKED,
                    "copypaste": COPYPASTER}


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
    sizes[ORGANIC] = n - sum(sizes.values())
    return sizes


def make_population(cfg: SimConfig, rng: np.random.Generator) -> Population:
    """Draw every account's profile. See the module docstring for the layout."""
    sizes = _sizes(cfg)
    order = (TARGET, ORGANIC, SPREADER, PERSONA, HIJACKED, COPYPASTER)
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
    created = np.maximum(created, ID_EPOCH_US + DAY)

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

    # --- handles and names
    fi = rng.integers(0, len(N.FIRST), n)
    la = rng.integers(0, len(N.LAST), n)
    first, last = pick(N.FIRST, fi), pick(N.LAST, la)
    style = rng.integers(0, 5, n)
    templated = np.zeros(n, bool)
    lo, hi = block[ORGANIC]
    templated[lo:hi] = rng.random(hi - lo) < cfg.organic_templated_share
    for r in (SPREADER, COPYPASTER):
        lo, hi = block[r]
        templated[lo:hi] = True
    digits8 = numstr(rng.integers(0, 100_000_000, n), 8)
    digits2 = numstr(rng.integers(0, 100, n), 2)
    ascii_first = pc.utf8_normalize(first, "NFKD")
    ascii_first = pc.replace_substring_regex(ascii_first, r"[^A-Za-z]", "")
    ascii_last = pc.replace_substring_regex(pc.utf8_normalize(last, "NFKD"), r"[^A-Za-z]", "")
    w1 = pick(N.WORDS, rng.integers(0, len(N.WORDS), n))
    styles = [
        join(ascii_first, ascii_last, digits2),
        join(ascii_first, "_", ascii_last),
        join(w1, ascii_first, digits2),
        join(pc.utf8_lower(ascii_first), pc.utf8_lower(ascii_last)),
        join(pc.utf8_slice_codeunits(ascii_first, 0, 1), ascii_last, pc.utf8_slice_codeunits(digits8, 0, 3)),
    ]
    handle = styles[0]
    for k in range(1, len(styles)):
        handle = pc.if_else(pa.array(style == k), styles[k], handle)
    handle = pc.if_else(pa.array(templated), join(ascii_first, digits8), handle)
    # personas: persona-style UK handles (e.g. JamesWilson_UK, Oliver_Smith1987)
    lo, hi = block[PERSONA]
    uk_first = pick(N.UK_FIRST, rng.integers(0, len(N.UK_FIRST), n))
    uk_last = pick(N.UK_LAST, rng.integers(0, len(N.UK_LAST), n))
    year = numstr(rng.integers(1960, 2000, n))
    persona_handle = pc.if_else(pa.array(rng.random(n) < 0.5), join(uk_first, uk_last, "_UK"),
                                join(uk_first, "_", uk_last, year))
    is_persona = role == PERSONA
    handle = pc.if_else(pa.array(is_persona), persona_handle, handle)
    display = join(first, last, sep=" ")
    display = pc.if_else(pa.array(is_persona), join(uk_first, uk_last, sep=" "), display)
    # spreaders: display name often unrelated to the handle
    other = join(pick(N.FIRST, rng.integers(0, len(N.FIRST), n)), pick(N.LAST, rng.integers(0, len(N.LAST), n)),
                 sep=" ")
    display = pc.if_else(pa.array((role == SPREADER) & (rng.random(n) < 0.6)), other, display)
    # targets: diplomat and state-media handles
    lo, hi = block[TARGET]
    t_idx = np.arange(hi - lo)
    is_dip = t_idx < n_dip
    cc = pick(COUNTRY_CODES, t_idx % len(COUNTRY_CODES))
    roles_ = pick(("Amb", "Emb", "Consul", "Spox", "Cnslr"), (t_idx // len(COUNTRY_CODES)) % 5)
    dip_handle = join(roles_, cc, "_", numstr(t_idx, 3))
    sm_handle = join(pick(N.STATE_MEDIA_NAMES, t_idx % 8), pick(N.STATE_MEDIA_NAMES, (t_idx // 8 + 3) % 8),
                     numstr(t_idx, 3))
    t_handle = pc.if_else(pa.array(is_dip), dip_handle, sm_handle).to_pylist()
    t_disp = pc.if_else(pa.array(is_dip), join(roles_, " to ", cc, " (simulated)"),
                        join(pick(N.STATE_MEDIA_NAMES, t_idx % 8), " (simulated)")).to_pylist()
    if hi > lo:
        t_handle[0], t_disp[0] = "AmbassadorUK", "Ambassador to the UK (simulated)"
    if hi - lo > 1 and n_dip > 1:
        t_handle[1], t_disp[1] = "EmbassyUK", "Embassy in the UK (simulated)"
    handle = pa.concat_arrays([pa.array(t_handle, pa.string()), handle.slice(hi)]) if lo == 0 else handle
    display = pa.concat_arrays([pa.array(t_disp, pa.string()), display.slice(hi)]) if lo == 0 else display
    group = np.full(n, -1, np.int8)
    group[lo:hi] = np.where(is_dip, 0, 1)
    # only 14% of targets carry an affiliation label
    labelled = np.zeros(n, bool)
    labelled[lo:hi] = rng.random(hi - lo) < cfg.label_share
    label = pc.if_else(pa.array(labelled), pick(LABELS, np.maximum(group, 0)), pa.nulls(n, pa.string()))

    # --- descriptions and locations
    desc = pick(N.BIOS, rng.integers(0, len(N.BIOS), n))
    desc = pc.if_else(pa.array(is_persona), pick(N.UK_BIOS, rng.integers(0, len(N.UK_BIOS), n)), desc)
    desc = pc.if_else(pa.array((role == SPREADER) | (role == COPYPASTER)),
                      pick(N.SPREADER_BIOS, rng.integers(0, len(N.SPREADER_BIOS), n)), desc)
    loc_pool: list[str] = []
    loc_start = []
    for r in N.REGIONS:
        loc_start.append(len(loc_pool))
        loc_pool.extend(r[3])
    loc_len = np.array([len(r[3]) for r in N.REGIONS])
    li = np.array(loc_start)[region] + (rng.integers(0, 1 << 30, n) % loc_len[region])
    location = pick(loc_pool, li)
    location = pc.if_else(pa.array(is_persona), pick(N.UK_LOCATIONS, rng.integers(0, len(N.UK_LOCATIONS), n)),
                          location)
    no_loc = (rng.random(n) < 0.3) & ~is_persona
    no_loc |= role == SPREADER
    location = pc.if_else(pa.array(no_loc), pa.nulls(n, pa.string()), location)

    # --- profile images: default, GAN (sim://gan/N.png), reused stock photos, or an ordinary photo
    u = rng.random(n)
    default = np.zeros(n, bool)
    gan = np.zeros(n, bool)
    stock = np.zeros(n, bool)
    default |= (role == ORGANIC) & (u < cfg.organic_default_image_share)
    sp = role == SPREADER
    default |= sp & (u < ss.default_image_share)
    gan |= sp & (u >= ss.default_image_share) & (u < ss.default_image_share + ss.gan_image_share)
    stock |= sp & (u >= ss.default_image_share + ss.gan_image_share)
    gan |= is_persona & (u < 0.85)
    stock |= is_persona & (u >= 0.85)
    cpr = role == COPYPASTER
    default |= cpr & (u < 0.4)
    gan |= cpr & (u >= 0.4) & (u < 0.8)
    stock |= cpr & (u >= 0.8)
    img = join("sim://photo/", numstr(ids), ".jpg")
    img = pc.if_else(pa.array(gan), join("sim://gan/", numstr(np.arange(n)), ".png"), img)
    img = pc.if_else(pa.array(stock), join("sim://stock/", numstr(rng.integers(0, 12, n)), ".jpg"), img)
    img = pc.if_else(pa.array(default), pa.array(np.full(n, N.DEFAULT_IMAGE, dtype=object), pa.string()), img)
    verified = np.zeros(n, bool)
    lo, hi = block[TARGET]
    verified[lo:hi] = rng.random(hi - lo) < 0.3
    lo, hi = block[ORGANIC]
    verified[lo:hi] = followers[lo:hi] > 200_000

    return Population(role=role, ids=ids, created=created, offset_h=offset_h, region=region, community=community,
                      weight=weight, followers=followers, following=following, lang=lang, client=client,
                      default_image=default, handle=handle, display_name=display, description=desc,
                      location=location, image_url=img, label=label, verified=verified, group=group, block=block)


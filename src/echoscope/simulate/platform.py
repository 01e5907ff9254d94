"""Assemble a simulated platform: accounts, posts, status, logins, targets and the ground truth.

:func:`simulate` runs the model steps in a fixed order from one numpy Generator, so the same
:class:`~echoscope.simulate.config.SimConfig` always gives byte-identical tables. The result keeps the
canonical tables in a *compact* form -- ids as int64, repeated strings as dictionaries, ``platform`` and
``source`` left out -- because that is what makes 10 million engagements fit in a few GiB;
:meth:`Platform.canonical` (or loading through :meth:`echoscope.Study.load_arrow`, which conforms each slice)
turns them into the exact schemas of :mod:`echoscope.schema`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import schema as SCH
from . import campaigns as K
from . import confounders as C
from . import names as N
from .activity import (
    KIND_NAMES,
    ORIGINAL,
    P_AMPLIFY,
    PLANTED_PURPOSES,
    PURPOSES,
    REPOST,
    T_ZH,
    Rows,
    campaign_engagements,
    make_originals,
    organic_engagements,
)
from .config import SimConfig, config_dict
from .enforcement import (
    NEVER,
    apply_enforcement,
    logins_table,
    plan_enforcement,
    status_table,
)
from .population import (
    AGGREGATOR,
    CONFOUNDER_OF_ROLE,
    FAN,
    GROUPS,
    HIJACKED,
    IDOL,
    IS_CAMPAIGN,
    LANGS,
    ORGANIC,
    OUTLET,
    PERSONA,
    ROLES,
    TARGET,
    Population,
    make_population,
)
from .texts import hashtags, mentions, texts, urls
from .util import DAY, S, allocator_tuned, const, snowflake, ts_array, us

ProgressFn = Callable[[dict[str, Any]], None]


@dataclasses.dataclass
class Platform:
    """A simulated platform: compact canonical tables, targets and ground truth."""

    config: SimConfig
    posts: pa.Table
    accounts: pa.Table
    account_status: pa.Table
    logins: pa.Table
    targets: list[tuple[str, str, str, str | None]]
    truth_accounts: pa.Table
    truth_engagements: pa.Table
    stats: dict[str, Any]

    #: canonical tables held by the platform (likes: Twitter exposes none in the archives the model follows)
    TABLES: ClassVar[tuple[str, ...]] = ("posts", "accounts", "account_status", "logins")

    def compact(self) -> dict[str, pa.Table]:
        """The tables as held (for :meth:`echoscope.Study.load_arrow`, which conforms them slice by slice)."""
        return {name: getattr(self, name) for name in self.TABLES}

    def canonical(self, name: str, offset: int = 0, length: int | None = None) -> pa.Table:
        """Rows ``[offset, offset+length)`` of table ``name`` in its exact canonical schema."""
        t = getattr(self, name)
        t = t.slice(offset, length) if (offset or length is not None) else t
        n = t.num_rows
        t = t.append_column("platform", pa.repeat(pa.scalar(self.config.platform), n))
        if "source" not in t.column_names:
            t = t.append_column("source", pa.repeat(pa.scalar("simulator"), n))
        return SCH.conform(t, SCH.TABLES[name])

    def batches(self, name: str, size: int = 250_000) -> Iterator[pa.Table]:
        """The canonical table in slices (bounded memory for writers)."""
        total = getattr(self, name).num_rows
        for off in range(0, total, size):
            yield self.canonical(name, off, size)

    def targets_table(self) -> pa.Table:
        return pa.table({"account_id": [t[0] for t in self.targets], "handle": [t[1] for t in self.targets],
                         "group": [t[2] for t in self.targets], "label": [t[3] for t in self.targets]})


def simulate(cfg: SimConfig, progress: ProgressFn | None = None) -> Platform:
    """Simulate a platform described by ``cfg``.

    Parameters
    ----------
    cfg
        The platform's parameters (see :func:`echoscope.simulate.config.make_config`).
    progress
        Optional callback receiving ``{"event": "stage", "message": ...}`` dicts.

    Returns
    -------
    Platform
        Compact canonical tables, targets and ground truth; deterministic in ``cfg``.
    """
    with allocator_tuned():
        return _simulate(cfg, progress)


def _simulate(cfg: SimConfig, progress: ProgressFn | None) -> Platform:
    emit = progress or (lambda e: None)
    rng = np.random.default_rng(cfg.seed)
    emit({"event": "stage", "message": "accounts"})
    pop = make_population(cfg, rng)
    emit({"event": "stage", "message": "posts"})
    orig = make_originals(cfg, pop, rng)
    # the confounders and the added campaigns draw from generators of their own (the default scenario, where
    # they are off, stays exactly as it was)
    rng_c, rng_k = np.random.default_rng([cfg.seed, 1602]), np.random.default_rng([cfg.seed, 1603])
    orig = C.add_originals(cfg, pop, orig, rng_c)
    orig = K.add_originals(cfg, pop, orig, rng_k)
    n_orig = len(orig.rows)
    emit({"event": "stage", "message": "engagements"})
    planted = campaign_engagements(cfg, pop, orig, rng) + K.engagements(cfg, pop, orig, rng_k)
    authentic = C.engagements(cfg, pop, orig, rng_c)
    fixed = authentic + planted
    n_planted = sum(len(b) for b in fixed)
    n_planted_targets = sum(int((b.ref < orig.n_target).sum()) for b in fixed)
    n_target = max(0, int(cfg.target_share * cfg.engagements) - n_planted_targets)
    n_other = max(0, cfg.engagements - n_planted - n_target)
    # draw a little more organic activity than needed: repeated reposts of a post by one account are dropped
    # below, and a random surplus is trimmed afterwards (cheaper than topping up in several rounds)
    over = 1.18
    organic = organic_engagements(cfg, pop, orig, rng, int(n_target * over), int(n_other * over))
    # the confounders' rows come before the organic ones: where a fan's burst repost and its own later organic
    # repost of the same post collide, the burst is the one kept
    rows = Rows.concat([orig.rows, *authentic, organic, *planted])
    del organic, planted, authentic, fixed
    emit({"event": "stage", "message": "enforcement"})
    enf = plan_enforcement(cfg, pop, rng)
    rows, keep = apply_enforcement(rows, pop, enf, rng)
    keep &= _clean(rows, n_orig, pop.created)
    # top up: repeated reposts and post-suspension activity were dropped; add organic activity until the
    # platform has the engagements asked for, then drop a random surplus of organic rows
    share_t = n_target / max(1, n_target + n_other)
    for _ in range(4):
        have = int(keep[n_orig:].sum())
        deficit = cfg.engagements - have
        if deficit <= 0:
            break
        rate = max(0.2, have / max(1, len(rows) - n_orig))
        # overshoot generously: the surplus is trimmed below, and every extra round re-cleans all rows
        want = int(deficit / rate * 1.5) + 200
        extra = organic_engagements(cfg, pop, orig, rng, int(want * share_t), want - int(want * share_t))
        extra, k2 = apply_enforcement(extra, pop, enf, rng)
        rows = Rows.concat([rows, extra])
        keep = np.concatenate([keep, k2])
        keep &= _clean(rows, n_orig, pop.created)
    surplus = int(keep[n_orig:].sum()) - cfg.engagements
    if surplus > 0:
        cand = np.flatnonzero(keep & (rows.purpose == 0) & (rows.kind != ORIGINAL))
        keep[rng.choice(cand, surplus, replace=False)] = False
    rows.t = rows.t // S * S  # whole seconds, as the platforms' APIs report them
    emit({"event": "stage", "message": "tables"})
    made = np.bincount(rows.author[keep], minlength=pop.n)
    hijack_t = orig.hijack_t
    del orig  # free the originals' helper arrays before the tables are built
    holder = [rows]
    del rows
    posts, truth_eng = _posts_table(cfg, pop, holder, keep, rng)
    del keep
    accounts = _accounts_table(cfg, pop, made)
    status = status_table(cfg, pop, enf)
    logins = logins_table(cfg, pop, rng)
    truth_acc = _truth_accounts(cfg, pop, enf, hijack_t)
    tlo, thi = pop.block[TARGET]
    labels = pop.label.to_pylist()[tlo:thi] if thi > tlo else []
    handles = pop.handle.slice(tlo, thi - tlo).to_pylist()
    targets = [(str(pop.ids[tlo + i]), handles[i], GROUPS[int(pop.group[tlo + i])], labels[i])
               for i in range(thi - tlo)]
    stats = {"accounts": pop.n, "posts": posts.num_rows, "originals": n_orig,
             "engagements": truth_eng.num_rows, "planted": int(truth_eng.column("planted").to_numpy().sum()),
             "targets": len(targets), "campaign_accounts": int(IS_CAMPAIGN[pop.role].sum()),
             "config": config_dict(cfg)}
    roles = _truth_roles(pop)
    extra = {name: int((roles == code).sum()) for code, name in ((FAN, "fans"), (AGGREGATOR, "aggregators"))}
    stats.update({k: v for k, v in extra.items() if v})
    return Platform(cfg, posts, accounts, status, logins, targets, truth_acc, truth_eng, stats)


def _clean(rows: Rows, n_orig: int, created: np.ndarray) -> np.ndarray:
    """Mask dropping self-engagements, engagements before the actor's account existed, and repeated reposts of
    one post by one account (a platform allows one)."""
    keep = np.ones(len(rows), bool)
    ref_author = rows.author[np.maximum(rows.ref, 0)]
    keep[n_orig:] = (rows.author[n_orig:] != ref_author[n_orig:]) & (rows.t[n_orig:] > created[rows.author[n_orig:]])
    rep = np.flatnonzero((rows.kind == REPOST) & keep)
    key = rows.author[rep] * np.int64(n_orig + 1) + rows.ref[rep]
    keep[rep[_repeated(key)]] = False
    return keep


def _repeated(key: np.ndarray) -> np.ndarray:
    """Mask of entries whose key occurred at an earlier position (``keep="first"`` duplicates).

    Sort based: the organic rows arrive grouped by actor, so the keys are nearly sorted and an (unstable,
    SIMD) argsort of them costs a fraction of a hash table's random probes. Ties are resolved by position
    afterwards (the first occurrence is the smallest index of its run), so the result does not depend on how
    the sort orders equal keys.
    """
    n = len(key)
    if n < 2:
        return np.zeros(n, bool)
    order = np.argsort(key)
    sk = key[order]
    new_run = np.empty(n, bool)
    new_run[0] = True
    np.not_equal(sk[1:], sk[:-1], out=new_run[1:])
    del sk
    starts = np.flatnonzero(new_run)
    if len(starts) == n:
        return np.zeros(n, bool)
    first = np.minimum.reduceat(order, starts)
    run = np.cumsum(new_run) - 1
    dup = np.empty(n, bool)
    dup[order] = order != first[run]
    return dup


#: rows per chunk when building the posts table (each chunk has its own seeded Generator, so the output does
#: not depend on how many threads build the chunks)
CHUNK = 500_000
THREADS = 2


def _dict(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int8)), values)


def _posts_table(cfg: SimConfig, pop: Population, holder: list[Rows], keep: np.ndarray, rng: np.random.Generator
                 ) -> tuple[pa.Table, pa.Table]:
    """Build ``posts`` and ``truth_engagements``. Takes the rows out of ``holder`` so that each intermediate
    array can be freed as soon as it has been reordered (this step sets the simulator's peak memory)."""
    rows = holder.pop()
    n = len(rows)
    pid = snowflake(rows.t, np.arange(n))
    ref = np.maximum(rows.ref, 0)
    ref_author = rows.author[ref]
    ref_pid = pid[ref]
    # counts on originals (likes: about five per retweet, as 7M likes vs 1.3M retweets of the diplomats)
    counts = [np.bincount(rows.ref[keep & (rows.kind == k)], minlength=n)[:n].astype(np.int32) for k in (1, 2, 3)]
    likes = np.zeros(n, np.int32)
    o = np.flatnonzero(rows.kind == ORIGINAL)  # only originals carry counts: draw their factors only
    likes[o] = (counts[0][o] * rng.lognormal(1.5, 0.6, len(o))).astype(np.int32)
    del o
    # language: the account's; reposts take the original's; hijacked activity switches language
    lang = pop.lang[rows.author].astype(np.int8)
    zh = LANGS.index(cfg.hijacked.new_lang) if cfg.hijacked.new_lang in LANGS else 1
    lang[rows.text == T_ZH] = zh
    lang = np.where(rows.kind == REPOST, lang[ref], lang)
    del ref
    # from here on the row order is free (references are resolved to ids): keep the rows kept, grouped by
    # text code so that texts are built segment by segment without scattering strings
    sel = np.flatnonzero(keep)
    order = sel[np.argsort(rows.text[sel], kind="stable")]
    del sel
    for f in dataclasses.fields(Rows):  # one column at a time: the old one is freed at once
        setattr(rows, f.name, getattr(rows, f.name)[order])
    pid, ref_pid, ref_author, lang, likes = pid[order], ref_pid[order], ref_author[order], lang[order], likes[order]
    counts = [c[order] for c in counts]
    del order
    n = len(rows)
    is_eng = rows.kind != ORIGINAL
    clients = N.CLIENTS + ((cfg.hijacked.new_client,) if cfg.hijacked.new_client not in N.CLIENTS else ())
    client = pop.client[rows.author].astype(np.int8)
    hij = (pop.role[rows.author] == HIJACKED) & (rows.purpose == P_AMPLIFY)
    client[hij] = clients.index(cfg.hijacked.new_client)
    del hij
    bot = np.flatnonzero(pop.role[rows.author] == AGGREGATOR)
    if len(bot):  # aggregators post through automation services, one each
        client[bot] = len(clients) + (rows.author[bot] % len(N.BOT_CLIENTS))
        clients = clients + N.BOT_CLIENTS
    comm = pop.community[rows.author]
    topic = np.where(comm >= 0, comm % len(N.TOPICS), -1).astype(np.int16)
    del comm
    kind_dict, lang_dict, client_dict = pa.array(KIND_NAMES), pa.array(LANGS), pa.array(clients)
    # per-row columns the chunks read; cleared once the posts table is built
    col: dict[str, Any] = {"topic": topic, "lang": lang, "client": client, "likes": likes, "counts": counts}
    del topic, lang, client, likes, counts

    def chunk(c: int) -> pa.Table:
        lo, hi = c * CHUNK, min(n, (c + 1) * CHUNK)
        crng = np.random.default_rng([cfg.seed, 7_000 + c])
        sl = slice(lo, hi)
        part = rows.take(sl)
        tags = hashtags(part, col["topic"][sl], crng)
        text = texts(part, tags, pop.handle, ref_author[sl], crng, cfg.copypaste.mutate_share)
        eng = is_eng[sl]
        return pa.table({
            "post_id": pa.array(pid[sl]),
            "account_id": pa.array(pop.ids[part.author]),
            "created_at": ts_array(part.t),
            "kind": _dict(part.kind, kind_dict),
            "ref_post_id": pa.array(ref_pid[sl], mask=~eng),
            "ref_account_id": pa.array(pop.ids[ref_author[sl]], mask=~eng),
            "text": text,
            "lang": _dict(col["lang"][sl], lang_dict),
            "client": _dict(col["client"][sl], client_dict),
            "urls": urls(part, crng, pid[sl], ref_pid[sl], ref_author[sl], pop.handle),
            "hashtags": tags,
            "mentions": mentions(part, pop.handle, ref_author[sl]),
            "like_count": pa.array(col["likes"][sl]),
            "repost_count": pa.array(col["counts"][0][sl]),
            "reply_count": pa.array(col["counts"][1][sl]),
            "quote_count": pa.array(col["counts"][2][sl]),
        })

    n_chunks = max(1, -(-n // CHUNK))
    if n_chunks == 1:
        parts = [chunk(0)]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(THREADS) as pool:
            parts = list(pool.map(chunk, range(n_chunks)))
    posts = pa.concat_tables(parts)
    del parts
    col.clear()
    e = np.flatnonzero(is_eng)
    author_e = rows.author[e]
    role = pop.role[author_e]
    camp_names = pa.array([c or "" for _, c in ROLES])
    planted = np.isin(rows.purpose[e], PLANTED_PURPOSES)
    truth = pa.table({
        "engagement_id": pa.array(pid[e]),
        "actor_id": pa.array(pop.ids[author_e]),
        "subject_post_id": pa.array(ref_pid[e]),
        "subject_account_id": pa.array(pop.ids[ref_author[e]]),
        "kind": _dict(rows.kind[e], kind_dict),
        "planted": pa.array(planted),
        "campaign": pa.DictionaryArray.from_arrays(pa.array(role.astype(np.int8), mask=~planted), camp_names),
        "purpose": _dict(rows.purpose[e], pa.array(PURPOSES)),
        "subject_is_target": pa.array(pop.role[ref_author[e]] == TARGET),
    })
    return posts, truth


def _accounts_table(cfg: SimConfig, pop: Population, made: np.ndarray) -> pa.Table:
    n = pop.n
    age_days = np.maximum(1, (us(cfg.final_check) - pop.created) // DAY)
    earlier = np.where(pop.role == ORGANIC, (age_days * pop.weight * 0.05).astype(np.int64), 0)
    for role, per_day in ((IDOL, 1.5), (OUTLET, 8.0), (AGGREGATOR, 15.0)):  # their years before the study
        earlier = np.where(pop.role == role, (age_days * per_day).astype(np.int64), earlier)
    return pa.table({
        "account_id": pa.array(pop.ids),
        "handle": pop.handle,
        "display_name": pop.display_name,
        "description": pop.description,
        "location": pop.location,
        "created_at": ts_array(pop.created),
        "followers_count": pa.array(pop.followers),
        "following_count": pa.array(pop.following),
        "posts_count": pa.array(made + earlier),
        "verified": pa.array(pop.verified),
        "profile_image_url": pop.image_url,
        "default_profile_image": pa.array(pop.default_image),
        "language": pa.DictionaryArray.from_arrays(pa.array(pop.lang.astype(np.int32)), pa.array(LANGS)),
        "affiliation_label": pop.label,
        "observed_at": ts_array(np.full(n, us(cfg.final_check))),
        "source": const("simulator", n),
    })


def _truth_roles(pop: Population) -> np.ndarray:
    """Role codes as the ground truth states them (fans, organic users while the platform is built)."""
    if pop.fandom is None:
        return pop.role
    return np.where(pop.fandom >= 0, FAN, pop.role).astype(np.int8)


def _truth_accounts(cfg: SimConfig, pop: Population, enf: Any, hijack_t: np.ndarray) -> pa.Table:
    n = pop.n
    role_names = pa.array([r for r, _ in ROLES])
    camp_names = pa.array([c for _, c in ROLES], pa.string())
    kind = np.where(IS_CAMPAIGN[pop.role], 2, np.where(pop.role == TARGET, 1, 0)).astype(np.int32)
    roles = _truth_roles(pop)
    conf_names = pa.array([CONFOUNDER_OF_ROLE.get(r) for r in range(len(ROLES))], pa.string())
    hij = np.full(n, 0, np.int64)
    lo, hi = pop.block[HIJACKED]
    hij[lo:hi] = hijack_t
    susp = enf.suspended_at
    return pa.table({
        "account_id": pa.array(pop.ids),
        "handle": pop.handle,
        "truth": pa.DictionaryArray.from_arrays(pa.array(kind), pa.array(["organic", "target", "campaign"])),
        "campaign": camp_names.take(pa.array(pop.role.astype(np.int64))),
        "role": role_names.take(pa.array(roles.astype(np.int64))),
        "group": pc.if_else(pa.array(pop.group >= 0), pa.array(GROUPS).take(pa.array(np.maximum(pop.group, 0))),
                            pa.nulls(n, pa.string())),
        "operating_utc_offset_h": pa.array(pop.offset_h),
        "claims_uk": pa.array(pop.role == PERSONA),
        "hijacked_at": pa.array(hij, pa.timestamp("us", tz="UTC"), mask=hij == 0),
        "suspended_at": pa.array(np.where(susp == NEVER, 0, susp), pa.timestamp("us", tz="UTC"), mask=susp == NEVER),
        "deleted": pa.array(enf.deleted),
        # the confounder whose behaviour the account shows (ordinary users: community; fans; aggregators)
        "confounder": conf_names.take(pa.array(roles.astype(np.int64))),
        "automated": pa.array(pop.role == AGGREGATOR),
        # interest community (organic users; idols' and outlets' home) and its hubs
        "community": pa.array(pop.community, pa.int32(), mask=pop.community < 0),
        "hub": pa.array(pop.hub if pop.hub is not None else np.zeros(n, bool)),
    })


__all__ = ["Platform", "simulate"]

"""Text, hashtags, links and mentions of simulated posts, built column-wise in Arrow.

Organic texts combine phrases with random pseudo-words so that two honest posts rarely share a text by
chance; campaign texts come from a few templates, copied verbatim or with a small edit (near-duplicates),
with the same links (tracking parameters varied) and hashtags in the same order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import names as N
from .activity import (
    N_TEXT_CODES,
    ORIGINAL,
    REPLY,
    T_ARTICLE,
    T_COPY,
    T_IDOL,
    T_LINK,
    T_LINKSHARE,
    T_NEWS,
    T_OLD,
    T_ORGANIC,
    T_PERSONA,
    T_PRAISE,
    T_QUOTE,
    T_REPLY,
    T_TARGET,
    T_ZH,
    Rows,
)
from .util import compose, join, list_array, numstr, pick, words

ZH_TEXTS = ("中国加油，真相在这里", "西方媒体的谎言不攻自破", "支持大使，说得好", "新疆是个好地方", "感谢分享事实")
PERSONA_TEXTS = ("As a Brit I have to say the Ambassador makes a fair point",
                 "Speaking as someone from England, the BBC does not tell the whole story",
                 "Most people here in the UK agree with this, the media just won't say it",
                 "Fair play to the Ambassador, we need more dialogue not less",
                 "Lived in Britain all my life and never seen such biased coverage")

#: phrase + object combinations as single pools (one pick instead of a three-part join per row)
PHRASE_OBJECT = tuple(f"{p} {o}" for p in N.PHRASES for o in N.OBJECTS)
TARGET_PHRASE_OBJECT = tuple(f"{p} {o}." for p in N.TARGET_PHRASES for o in N.TARGET_OBJECTS)
REPLY_OBJECT = tuple(f"{p}: {o}" for p in N.REPLY_PHRASES for o in N.OBJECTS)

#: one pool for every hashtag the simulator uses: topic tags, target tags, campaign sequences
TAG_POOL: tuple[str, ...] = (tuple(t for _, tags in N.TOPICS for t in tags) + N.TARGET_TAGS
                             + tuple(t for seq in N.HASHTAG_SEQUENCES for t in seq))
_TOPIC0 = 0
_TARGET0 = sum(len(tags) for _, tags in N.TOPICS)
_SEQ0 = _TARGET0 + len(N.TARGET_TAGS)


def _first_text_row(rows: Rows) -> int:
    """Rows are sorted by text code; reposts (code 0, no text, tags or links) form the prefix."""
    return int(np.searchsorted(rows.text, 1))


def hashtags(rows: Rows, topic: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """list<string> of hashtags per row (``topic``: community topic of the author, -1 when none)."""
    s0 = _first_text_row(rows)
    n = len(rows) - s0
    tags = np.full((n, 3), -1, np.int32)
    code = rows.text[s0:]
    topic = topic[s0:]
    u = rng.random(n)
    m = ((code == T_ORGANIC) | (code == T_IDOL)) & (u < 0.4) & (topic >= 0)
    tags[m, 0] = _TOPIC0 + topic[m] * 3 + rng.integers(0, 3, m.sum())
    m = ((code == T_TARGET) | (code == T_ARTICLE)) & (u < 0.5)
    tags[m, 0] = _TARGET0 + rng.integers(0, len(N.TARGET_TAGS), m.sum())
    m2 = m & (u < 0.2)
    tags[m2, 1] = _TARGET0 + rng.integers(0, len(N.TARGET_TAGS), m2.sum())
    m = (code == T_LINK) | ((code == T_COPY) & (u < 0.5))
    seq = rows.tmpl[s0:][m].astype(np.int64) % len(N.HASHTAG_SEQUENCES)
    for j in range(3):
        tags[m, j] = _SEQ0 + seq * 3 + j
    valid = tags >= 0
    counts = valid.sum(axis=1)
    offsets = np.zeros(s0 + n + 1, np.int64)
    np.cumsum(counts, out=offsets[s0 + 1:])
    values = pick(TAG_POOL, tags[valid])
    return list_array(offsets, values)


def article_url(target: np.ndarray, post_id: np.ndarray) -> pa.Array:
    """A state-media target's article URL: the target's domain, a section and the article post's id."""
    t = np.asarray(target, np.int64)
    pid = np.asarray(post_id, np.int64)
    return join(pick(N.STATE_MEDIA_DOMAINS, t % len(N.STATE_MEDIA_DOMAINS)),
                pick(N.ARTICLE_SECTIONS, pid % len(N.ARTICLE_SECTIONS)), "/", numstr(pid), ".html")


def urls(rows: Rows, rng: np.random.Generator, pid: np.ndarray | None = None, ref_pid: np.ndarray | None = None,
         ref_author: np.ndarray | None = None, handles: pa.Array | None = None) -> pa.Array:
    """list<string> of (expanded) URLs: news links in some organic posts, the campaign's links in its posts,
    state-media articles (in the article post and, with tracking parameters, in the link campaign's posts) and
    the news outlets' own links. ``pid``, ``ref_pid``, ``ref_author`` (per row) and ``handles`` (per account)
    are needed only when the rows hold the last three kinds."""
    s0 = _first_text_row(rows)
    n = len(rows) - s0
    code = rows.text[s0:]
    u = rng.random(n)
    news = ((code == T_ORGANIC) & (u < 0.15)) | ((code == T_TARGET) & (u < 0.3)) | ((code == T_REPLY) & (u < 0.03))
    camp = (code == T_LINK) | ((code == T_COPY) & (u < 0.3))
    own = (code == T_ARTICLE) | (code == T_LINKSHARE) | (code == T_NEWS)
    has = news | camp | own
    idx = np.flatnonzero(has)
    k = len(idx)
    tm = rows.tmpl[s0:][idx].astype(np.int64)
    news_url = join(pick(N.NEWS_DOMAINS, rng.integers(0, len(N.NEWS_DOMAINS), k)), words(rng, k), "-",
                    numstr(rng.integers(0, 10**6, k)))
    camp_url = join(pick(N.CAMPAIGN_LINKS, tm % len(N.CAMPAIGN_LINKS)),
                    pick(N.TRACKING, rng.integers(0, len(N.TRACKING), k)))
    values = pc.if_else(pa.array(camp[idx]), camp_url, news_url)
    if own.any():
        if pid is None or ref_pid is None or ref_author is None or handles is None:
            raise ValueError("urls() needs pid, ref_pid, ref_author and handles for article and news rows")
        oi = np.flatnonzero(own[idx])          # positions among the rows with URLs
        rows_o = s0 + idx[oi]                  # positions among all rows
        c = rows.text[rows_o]
        kinds = np.where(c == T_ARTICLE, 0, np.where(c == T_LINKSHARE, 1, 2)).astype(np.int8)

        def shared(i: np.ndarray) -> pa.Array:
            r = rows_o[i]
            tracked = rows.tmpl[r] > 0
            track = pick(N.SM_TRACKING, rng.integers(0, len(N.SM_TRACKING), len(r)), mask=~tracked)
            return join(article_url(ref_author[r], ref_pid[r]), pc.fill_null(track, ""))

        def outlet(i: np.ndarray) -> pa.Array:
            r = rows_o[i]
            return join("https://www.", pc.utf8_lower(handles.take(pa.array(rows.author[r]))), ".example/news/",
                        words(rng, len(r)), "-", numstr(pid[r]))

        own_vals = compose(kinds, {0: lambda i: article_url(rows.author[rows_o[i]], pid[rows_o[i]]),
                                   1: shared, 2: outlet})
        pos = np.arange(k)
        pos[oi] = k + np.arange(len(oi))
        values = pa.concat_arrays([values.cast(pa.string()), own_vals]).take(pa.array(pos))
    offsets = np.zeros(s0 + n + 1, np.int64)
    np.cumsum(has, out=offsets[s0 + 1:])
    return list_array(offsets, values)


def mentions(rows: Rows, handles: pa.Array, ref_author: np.ndarray) -> pa.Array:
    """Replies mention the author they reply to; original praise posts the target they praise."""
    n = len(rows)
    has = (rows.kind == REPLY) | ((rows.kind == ORIGINAL) & (rows.text == T_PRAISE))
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(has, out=offsets[1:])
    values = handles.take(pa.array(ref_author[has]))
    return list_array(offsets, values)


def texts(rows: Rows, tags: pa.Array, handles: pa.Array, ref_author: np.ndarray, rng: np.random.Generator,
          mutate_share: float = 0.5) -> pa.ChunkedArray:
    """Text per row; ``rows`` must be sorted by text code (segments are built in order, no scatter).

    Reposts get null: a repost carries no text of its own (writers render ``RT @x: ...`` where a format has it).
    Returned as one chunk per text code (no final copy into a single array).
    """
    n = len(rows)
    code = rows.text
    if n and (np.diff(code) < 0).any():
        raise ValueError("texts() needs rows sorted by text code")

    def r(pool: tuple[str, ...], k: int) -> pa.Array:
        return pick(pool, rng.integers(0, len(pool), k))

    def first_mention(idx: np.ndarray) -> pa.Array:
        return join("@", handles.take(pa.array(ref_author[idx])), " ")

    def maybe_mention(idx: np.ndarray, k: int) -> pa.Array:
        return pc.if_else(pa.array(rows.kind[idx] == REPLY), first_mention(idx), pa.repeat(pa.scalar(""), k))

    def copy_text(idx: np.ndarray, k: int) -> pa.Array:
        tm = rows.tmpl[idx].astype(np.int64)
        base = pick(N.COPY_TEMPLATES, tm % len(N.COPY_TEMPLATES))
        edit = pick(N.COPY_EDITS, rng.integers(0, len(N.COPY_EDITS), k))
        mutated = pc.if_else(pa.array(rng.random(k) < mutate_share), join(base, edit), base)
        return join(maybe_mention(idx, k), mutated)

    def praise(idx: np.ndarray, k: int) -> pa.Array:
        at = join("@", handles.take(pa.array(ref_author[idx])))
        slots = {name: pick(pool, rng.integers(0, len(pool), k)) for name, pool in N.PRAISE_SLOTS.items()}
        slots["H"] = at

        def build(template: tuple[str, ...]) -> Callable[[np.ndarray], pa.Array]:
            return lambda j: join(*[slots[p[1]].take(pa.array(j)) if p.startswith("{") else p for p in template])

        body = compose(rows.tmpl[idx].astype(np.int64) % len(N.PRAISE_TEMPLATES),
                       {c: build(t) for c, t in enumerate(N.PRAISE_TEMPLATES)})
        return join(maybe_mention(idx, k), body)

    builders: dict[int, Callable[[np.ndarray, int], pa.Array]] = {
        T_ORGANIC: lambda i, k: join(r(PHRASE_OBJECT, k), " ", words(rng, k), " ", words(rng, k)),
        T_TARGET: lambda i, k: join(r(TARGET_PHRASE_OBJECT, k), " ", words(rng, k)),
        T_OLD: lambda i, k: join(r(PHRASE_OBJECT, k), " ", words(rng, k), "!"),
        T_LINK: copy_text,
        T_REPLY: lambda i, k: join(first_mention(i), r(N.REPLY_PHRASES, k), " ", words(rng, k), " ", words(rng, k)),
        T_QUOTE: lambda i, k: join(r(REPLY_OBJECT, k), " ", words(rng, k), " ", words(rng, k)),
        T_COPY: copy_text,
        T_ZH: lambda i, k: join(maybe_mention(i, k), r(ZH_TEXTS, k)),
        T_PERSONA: lambda i, k: join(first_mention(i), r(PERSONA_TEXTS, k)),
        T_IDOL: lambda i, k: join(r(N.IDOL_TEXTS, k), " ", words(rng, k)),
        T_NEWS: lambda i, k: join(r(N.HEADLINES, k), " ", r(PHRASE_OBJECT, k), " ", words(rng, k), " ", words(rng, k)),
        T_PRAISE: praise,
        T_ARTICLE: lambda i, k: join(r(TARGET_PHRASE_OBJECT, k), " ", words(rng, k)),
        T_LINKSHARE: lambda i, k: join(r(N.LINK_INTROS, k), " ", words(rng, k), " ", words(rng, k)),
    }
    parts: list[pa.Array] = []
    bounds = np.searchsorted(code, np.arange(N_TEXT_CODES + 1))
    for c in range(N_TEXT_CODES):
        lo, hi = int(bounds[c]), int(bounds[c + 1])
        if hi <= lo:
            continue
        if c not in builders:
            parts.append(pa.nulls(hi - lo, pa.string()))
            continue
        base = builders[c](np.arange(lo, hi), hi - lo)
        # hashtags appear at the end of the text too, in order
        seg_tags = tags.slice(lo, hi - lo)
        flat_tags = pc.list_flatten(seg_tags)
        if len(flat_tags):
            hashed = pc.binary_join(pa.ListArray.from_arrays(
                pc.subtract(seg_tags.offsets, seg_tags.offsets[0]), join("#", flat_tags)), " ")
            base = pc.if_else(pc.greater(pc.list_value_length(seg_tags), 0), join(base, " ", hashed), base)
        parts.append(base)
    # one chunk per text code: concatenating them would copy every string once more for nothing
    return pa.chunked_array(parts, pa.string()) if parts else pa.chunked_array([pa.nulls(n, pa.string())])


__all__ = ["TAG_POOL", "hashtags", "mentions", "texts", "urls"]

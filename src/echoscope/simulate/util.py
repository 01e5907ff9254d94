"""Small vectorised helpers shared by the simulator modules (times, ids, weighted draws, Arrow strings).

The simulator's cost at 10 million engagements is dominated by memory traffic rather than arithmetic: every
step makes arrays of tens of megabytes, and on a small VM a page fault costs microseconds. Hence the helpers
here avoid temporaries (in-place arithmetic, scalar arguments instead of repeated constant columns), draw
counts instead of indices where the order of rows does not matter (:func:`counts_to_rows`), and
:func:`allocator_tuned` keeps freed memory inside the process while a platform is built.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime as dt
import sys
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

S = 1_000_000  # microseconds per second
MIN = 60 * S
HOUR = 3600 * S
DAY = 86400 * S
#: epoch of the snowflake-like ids (Twitter's founding month), so every id is positive
ID_EPOCH_US = int(dt.datetime(2006, 3, 1, tzinfo=dt.UTC).timestamp() * S)
LOW_BITS = 22


def us(t: dt.datetime) -> int:
    """A datetime as integer microseconds since the Unix epoch."""
    return int(t.timestamp() * S)


def snowflake(t_us: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Twitter-like ids: milliseconds since :data:`ID_EPOCH_US` shifted left, low bits from ``index``.

    Two ids can only collide when they share a millisecond *and* their indices agree modulo 2**22, i.e. never
    below 4,194,304 items, and with negligible probability above.
    """
    ms = (np.asarray(t_us, dtype=np.int64) - ID_EPOCH_US) // 1000
    return (np.maximum(ms, 0) << LOW_BITS) | (np.asarray(index, dtype=np.int64) & ((1 << LOW_BITS) - 1))


class Sampler:
    """Inverse-CDF sampling with a guide table: O(1) expected work per draw instead of a binary search.

    ``np.searchsorted`` with random queries is dominated by cache misses (0.6-0.8 s per million draws on a
    small VM); a guide table of ``factor * len(weights)`` buckets points each query next to its answer, and a
    few vectorised correction steps finish the job.
    """

    def __init__(self, weights: np.ndarray, factor: float = 2.0) -> None:
        self.cum = np.cumsum(np.asarray(weights, dtype=np.float64))
        self.total = float(self.cum[-1]) if len(self.cum) else 0.0
        self.k = max(16, int(len(self.cum) * factor))
        scale = self.total / self.k if self.total > 0 else 1.0
        self.guide = np.searchsorted(self.cum, np.arange(self.k) * scale, side="right")
        self.inv = self.k / self.total if self.total > 0 else 0.0

    def search(self, u: np.ndarray) -> np.ndarray:
        """Smallest index i with ``cum[i] > u`` (u in [0, total))."""
        b = (u * self.inv).astype(np.int64)
        np.clip(b, 0, self.k - 1, out=b)
        idx = self.guide[b]
        last = len(self.cum) - 1
        np.minimum(idx, last, out=idx)
        act = np.flatnonzero(self.cum[idx] <= u)
        while len(act):
            idx[act] += 1
            np.minimum(idx, last, out=idx)
            act = act[(self.cum[idx[act]] <= u[act]) & (idx[act] < last)]
        return idx

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if n == 0 or self.total <= 0:
            return np.zeros(n, dtype=np.int64)
        return self.search(rng.random(n) * self.total)

    def draw_within(self, rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """For each row an index in ``[lo, hi)`` in proportion to the weights (ranges must be non-empty)."""
        cum = self.cum
        base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
        u = base + rng.random(len(lo)) * (cum[hi - 1] - base)
        return np.clip(self.search(u), lo, hi - 1)


def draw(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with replacement in proportion to ``weights`` (non-negative)."""
    if len(weights) <= 64:  # small pools: a plain search is cheapest
        cum = np.cumsum(weights, dtype=np.float64)
        if n == 0 or cum[-1] <= 0:
            return np.zeros(n, dtype=np.int64)
        return np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(weights) - 1)
    return Sampler(weights).draw(rng, n)


def lognormal_s(rng: np.random.Generator, median_s: float, sigma: float, n: int) -> np.ndarray:
    """Delays in microseconds, lognormal with the given median (seconds) and log-sd, at least one second.

    Same distribution as ``rng.lognormal``, computed in place (one normal draw and a vectorised ``exp``
    instead of a scalar ``exp`` per draw and three temporaries).
    """
    d = rng.standard_normal(n)
    d *= sigma
    d += np.log(median_s * S)
    np.exp(d, out=d)
    np.maximum(d, S, out=d)
    return d.astype(np.int64)


def counts_to_rows(rng: np.random.Generator, weights: np.ndarray, n: int, order: np.ndarray | None = None
                   ) -> np.ndarray:
    """``n`` indices drawn with replacement in proportion to ``weights``, returned *grouped* (not shuffled).

    The multiset of indices has the same distribution as ``n`` independent weighted draws (the counts per
    index are multinomial), but drawing the counts costs one binomial per index instead of a random memory
    access per row, and the grouped result makes every later lookup by index sequential. Use it only where
    each row's other columns are drawn independently of the row's position (never pair two grouped
    columns). ``order`` (a permutation of the indices) sets the grouping order (default: ascending).
    """
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum()
    if n == 0 or total <= 0:
        return np.zeros(n, dtype=np.int64)
    # a hair below 1 in total: numpy rejects pvals whose rounding makes them sum above 1 (the last index
    # absorbs the 1e-12 remainder)
    p = w * ((1.0 - 1e-12) / total)
    if order is not None:
        p = p[order]
    counts = rng.multinomial(n, p)
    idx = np.arange(len(w), dtype=np.int64) if order is None else np.asarray(order, dtype=np.int64)
    return np.repeat(idx, counts)


#: glibc ``mallopt`` parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


@contextlib.contextmanager
def allocator_tuned() -> Iterator[None]:
    """Keep freed memory in the process while a platform is built (glibc only; a no-op elsewhere).

    By default glibc serves every allocation above 32 MiB with a fresh ``mmap`` and returns it on ``free``,
    so each of the simulator's many large temporaries is faulted in page by page again; on the benchmark VM
    that was half of the CPU time at 10M engagements (system time). Inside the block large blocks come from
    the heap and stay there; on exit the thresholds return to glibc's usual steady state (32 MiB mmap
    threshold, trimming above 64 MiB) and the free heap is handed back with ``malloc_trim``.
    """
    libc = None
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            ok = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(2**31 - 1)) and libc.mallopt(
                _M_TRIM_THRESHOLD, ctypes.c_int(2**31 - 1))
            if not ok:
                libc = None
        except (OSError, AttributeError):
            libc = None
    try:
        yield
    finally:
        if libc is not None:
            libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(32 << 20))
            libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(64 << 20))
            libc.malloc_trim(ctypes.c_size_t(0))


def pick(pool: tuple[str, ...] | list[str], idx: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Strings from ``pool`` at ``idx`` (null where ``mask``), as an Arrow array (built in C++, no Python loop)."""
    return pa.array(list(pool), pa.string()).take(pa.array(np.asarray(idx, np.int64), pa.int64(), mask=mask))


def compose(code: np.ndarray, builders: dict[int, Callable[[np.ndarray], pa.Array]]) -> pa.Array:
    """A string column built per group: rows with ``code == v`` get ``builders[v](their indices)``; rows whose
    code has no builder are null. Each row is built once (no compute-everything-then-``if_else``)."""
    n = len(code)
    order = np.argsort(code, kind="stable")
    sorted_code = code[order]
    parts: list[pa.Array] = []
    placed: list[np.ndarray] = []
    for v, build in builders.items():
        lo, hi = np.searchsorted(sorted_code, [v, v + 1] if np.issubdtype(code.dtype, np.integer) else [v, v])
        if hi > lo:
            idx = order[lo:hi]
            parts.append(build(idx).cast(pa.string()))
            placed.append(idx)
    if not parts:
        return pa.nulls(n, pa.string())
    pos = np.concatenate(placed)
    flat = pa.concat_arrays(parts)
    inv = np.full(n, -1, np.int64)
    inv[pos] = np.arange(len(pos))
    return flat.take(pa.array(inv, mask=inv < 0))


def join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    """Element-wise concatenation of Arrow string arrays (and constant strings, passed as scalars: no
    constant column is materialised)."""
    arrays = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*arrays, sep)


def const(value: str, n: int) -> pa.Array:
    """A constant string column, stored as a dictionary (cheap at any size; cast to string on load)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string()))


def numstr(values: np.ndarray, width: int = 0) -> pa.Array:
    """Integers as decimal strings (zero-padded to ``width``)."""
    s = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    if width:
        s = pc.utf8_lpad(s, width, "0")
    return s


SYLLABLES = ("ka", "lo", "mi", "ra", "te", "no", "vi", "sa", "du", "be", "po", "ri", "ga", "fe", "zu", "ta",
             "me", "lu", "si", "ko", "ne", "da", "pi", "ho", "ru", "ve", "mo", "li", "sha", "qi", "xa", "yo")


_WORDS: list[pa.Array] = []


def words(rng: np.random.Generator, n: int) -> pa.Array:
    """Random pseudo-words (32**3 distinct ones), so organic texts rarely repeat by chance."""
    if not _WORDS:
        k = len(SYLLABLES)
        i = np.arange(k ** 3)
        _WORDS.append(join(pick(SYLLABLES, i // (k * k)), pick(SYLLABLES, (i // k) % k), pick(SYLLABLES, i % k)))
    return _WORDS[0].take(pa.array(rng.integers(0, len(_WORDS[0]), n)))


def ts_array(t_us: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(t_us, dtype=np.int64), pa.timestamp("us", tz="UTC"))


def list_array(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    """A list<string> array from int32 offsets (len n+1) and flat values; empty lists where offsets repeat."""
    return pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32)), values)


def local_hour(t_us: np.ndarray, offset_h: np.ndarray) -> np.ndarray:
    """Hour of day (float) at UTC offset ``offset_h`` for UTC times ``t_us``."""
    return np.mod(t_us / HOUR + offset_h, 24.0)

"""Small vectorised helpers shared by the simulator modules (times, ids, weighted draws, Arrow strings)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

S = 1_000_000  # microseconds per second
MIN = 60 * S
HOUR = 3600 * S
DAY = 86400 * S
#: epoch of the snowflake-like ids (Twitter's founding month), so every id is positive
ID_EPOCH_US = int(dt.datetime(2006, 3, 1, tzinfo=dt.timezone.utc).timestamp() * S)
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


def draw(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn with replacement in proportion to ``weights`` (float64, non-negative)."""
    cum = np.cumsum(weights, dtype=np.float64)
    if n == 0 or cum[-1] <= 0:
        return np.zeros(n, dtype=np.int64)
    idx = np.searchsorted(cum, rng.random(n) * cum[-1], side="right")
    return np.minimum(idx, len(weights) - 1).astype(np.int64)


def draw_within(rng: np.random.Generator, cum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """For each row, an index in ``[lo, hi)`` drawn in proportion to the weights whose cumsum is ``cum``.

    ``cum`` is the inclusive cumulative sum of the weights (``cum[i] = w[0] + ... + w[i]``); ranges must be
    non-empty.
    """
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    top = cum[hi - 1]
    u = base + rng.random(len(lo)) * (top - base)
    idx = np.searchsorted(cum, u, side="right")
    return np.clip(idx, lo, hi - 1)


def zipf_weights(n: int, s: float) -> np.ndarray:
    return 1.0 / np.arange(1, n + 1, dtype=np.float64) ** s


def lognormal_s(rng: np.random.Generator, median_s: float, sigma: float, n: int) -> np.ndarray:
    """Delays in microseconds, lognormal with the given median (seconds) and log-sd, at least one second."""
    d = rng.lognormal(np.log(median_s), sigma, n) * S
    return np.maximum(d, S).astype(np.int64)


def pick(pool: tuple[str, ...] | list[str], idx: np.ndarray) -> pa.Array:
    """Strings from ``pool`` at ``idx``, as an Arrow array (built in C++, no Python loop)."""
    return pa.array(list(pool), pa.string()).take(pa.array(idx, pa.int64()))


def join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    """Element-wise concatenation of Arrow string arrays (and constant strings)."""
    n = next(len(p) for p in parts if not isinstance(p, str))
    arrays = [pa.array(np.full(n, p, dtype=object), pa.string()) if isinstance(p, str) else p for p in parts]
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


def words(rng: np.random.Generator, n: int, syllables: int = 3) -> pa.Array:
    """Random pseudo-words (32**syllables distinct ones), so organic texts rarely repeat by chance."""
    parts = [pick(SYLLABLES, rng.integers(0, len(SYLLABLES), n)) for _ in range(syllables)]
    return join(*parts)


def ts_array(t_us: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(t_us, dtype=np.int64), pa.timestamp("us", tz="UTC"))


def list_array(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    """A list<string> array from int32 offsets (len n+1) and flat values; empty lists where offsets repeat."""
    return pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32)), values)


def local_hour(t_us: np.ndarray, offset_h: np.ndarray) -> np.ndarray:
    """Hour of day (float) at UTC offset ``offset_h`` for UTC times ``t_us``."""
    return np.mod(t_us / HOUR + offset_h, 24.0)

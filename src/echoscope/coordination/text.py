"""Near-duplicate text for co-text: MinHash LSH over the distinct normalised texts, in DuckDB.

Why: identical text is a plain SQL equality, but campaigns vary their copy a little ("Great speech by the
ambassador!" / "great speech by our ambassador"). Each distinct normalised text gets a MinHash signature of
its word 3-shingles (words when shorter); LSH proposes candidate pairs (banding tuned below the Jaccard
threshold), which are verified on the exact shingle sets and merged into connected components; every text is
then replaced by its component's representative (its smallest text), so the generic windowed mechanism sees
near-duplicates as the same object.

Why in SQL: the signatures were computed with ``datasketch.MinHash`` objects, one Python object per text --
26 of the 74 s of the default coordination run at 1M engagements (426,574 distinct texts), and the texts,
their shingle sets and signatures all in Python memory. Here the shingles, the 128 min-hashes per text
(``min(hash(shingle, permutation))``: DuckDB's hash seeded per permutation is the hash family; one
aggregation per band), the bands,
the candidate pairs and their exact Jaccard similarity are DuckDB queries over the study's own connection
(out of core); only the verified pairs go to Python, for the connected components (python-igraph).
datasketch still chooses the banding (``MinHashLSH``'s optimal bands and rows for the threshold).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from .backends import StageTables

#: MinHash permutations per text (as datasketch's default)
NUM_PERM = 128

#: LSH buckets with more texts than this propose linear candidates, not every pair (see :func:`_components`);
#: the largest bucket at 1M simulated engagements holds 248 texts, at 10M thousands
BUCKET_CAP = 256


def _bands(threshold: float, num_perm: int) -> list[tuple[int, int]]:
    """(first, last) permutation of each LSH band: datasketch's optimal banding for a threshold tuned below
    ``threshold`` (two texts at the threshold are then candidates with probability ~1)."""
    from datasketch import MinHashLSH

    return [(int(lo), int(hi)) for lo, hi in
            MinHashLSH(threshold=max(threshold * 0.75, 0.05), num_perm=num_perm).hashranges]


def _components(con: Any, threshold: float, num_perm: int, seed: int) -> np.ndarray:
    """Representative index of every text of ``_nd_t(i, t)`` (``i`` = 0..n-1): the smallest ``i`` of the texts
    linked to it by verified near-duplicate pairs (Jaccard of shingle sets >= ``threshold``)."""
    import igraph as ig

    n = int(con.execute("SELECT count(*) FROM _nd_t").fetchone()[0])
    # word 3-shingles of each text (its words when it has fewer than 3), as 64-bit hashes
    con.execute("""CREATE OR REPLACE TEMP TABLE _nd_sh AS SELECT DISTINCT i, hash(s) AS h FROM (
        SELECT i, unnest(CASE WHEN len(w) < 3 THEN w
                              ELSE list_transform(range(1, len(w) - 1), k -> array_to_string(w[k:k + 2], ' ')) END) AS s
        FROM (SELECT i, list_filter(string_split(t, ' '), x -> x <> '') AS w FROM _nd_t))""")
    # each band's bucket key: its permutations' min-hashes hashed together, one pass over the shingles per band
    # (one min() per permutation, grouped by text; all 128 in one pass held 4.2M texts x 128 states in memory).
    # A bucket of c texts proposes c(c-1)/2 pairs; text families that differ in a word or two (a template with
    # a varying word) fill buckets of thousands at 10M engagements (hundreds of millions of candidates, the
    # disk full). A bucket of more than BUCKET_CAP texts proposes each text with the bucket's first text and
    # with its predecessor in text order instead (linear; a near-duplicate family still links up through
    # them and through the other bands)
    con.execute("CREATE OR REPLACE TEMP TABLE _nd_cand (i BIGINT, j BIGINT)")
    for lo, hi in _bands(threshold, num_perm):
        mins = ", ".join(f"min(hash(h, {p}, {int(seed)}))" for p in range(lo, hi))
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _nd_bk AS SELECT * FROM (
                SELECT i, key, count(*) OVER w AS c, min(i) OVER w AS r,
                       lag(i) OVER (PARTITION BY key ORDER BY i) AS prev
                FROM (SELECT i, hash({mins}) AS key FROM _nd_sh GROUP BY i) WINDOW w AS (PARTITION BY key))
            WHERE c > 1""")
        con.execute(f"""INSERT INTO _nd_cand
            SELECT x.i, y.i FROM _nd_bk x JOIN _nd_bk y ON x.key = y.key AND x.i > y.i WHERE x.c <= {BUCKET_CAP}
            UNION ALL SELECT i, r FROM _nd_bk WHERE c > {BUCKET_CAP} AND i > r
            UNION ALL SELECT i, prev FROM _nd_bk WHERE c > {BUCKET_CAP} AND prev > r""")
    # verified on the exact shingle sets: |A & B| >= threshold * |A | B|. The candidate's shingles are
    # listed first, then looked up in the other text's (two keys): joining the shingle table with itself on
    # the shingle alone would pair every two texts sharing a common 3-gram
    con.execute("""CREATE OR REPLACE TEMP TABLE _nd_ch AS SELECT c.i, c.j, a.h
        FROM (SELECT DISTINCT i, j FROM _nd_cand) c JOIN _nd_sh a ON a.i = c.i""")
    pairs = con.execute(f"""WITH n AS (SELECT i, count(*) AS n FROM _nd_sh GROUP BY i),
            x AS (SELECT x.i, x.j, count(*) AS inter FROM _nd_ch x JOIN _nd_sh b ON b.i = x.j AND b.h = x.h
                  GROUP BY x.i, x.j)
        SELECT x.i, x.j FROM x JOIN n na ON na.i = x.i JOIN n nb ON nb.i = x.j
        WHERE x.inter >= {float(threshold)!r} * (na.n + nb.n - x.inter)""").fetchnumpy()
    for t in ("_nd_sh", "_nd_cand", "_nd_bk", "_nd_ch"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    rep = np.arange(n, dtype=np.int64)
    if len(pairs["i"]):
        g = ig.Graph(n=n, edges=np.column_stack([pairs["i"], pairs["j"]]).astype(np.int64).tolist())
        memb = np.asarray(g.connected_components().membership, dtype=np.int64)
        low = np.full(int(memb.max()) + 1, n, dtype=np.int64)
        np.minimum.at(low, memb, np.arange(n, dtype=np.int64))
        rep = low[memb]
    return rep


def near_duplicate_groups(texts: list[str], threshold: float, num_perm: int = NUM_PERM, seed: int = 1, *,
                          settings: Any = None) -> list[int]:
    """Group index (the smallest member index) of every text; texts at Jaccard >= ``threshold`` share a group.

    Parameters
    ----------
    texts : list of str
        Distinct normalised texts.
    threshold : float
        Jaccard similarity of word 3-shingles at which two texts count as the same.
    num_perm, seed
        MinHash permutations and the seed of their hash family.
    settings : echoscope.settings.EngineSettings, optional
        The DuckDB memory limit and threads (default: the coordination stage's defaults).
    """
    from ..settings import duckdb_connection

    if not texts:
        return []
    con = duckdb_connection(settings, stage="coordination")  # out of core, like the study's connection
    try:
        con.register("_nd_in", pa.table({"t": pa.array(texts, pa.string()),
                                         "i": pa.array(np.arange(len(texts), dtype=np.int64))}))
        con.execute("CREATE TEMP TABLE _nd_t AS SELECT i, t FROM _nd_in")
        return _components(con, threshold, num_perm, seed).tolist()
    finally:
        con.close()


def merge_near_duplicates(t: StageTables, params: Any, progress: Callable[[dict[str, Any]], None]) -> int:
    """Replace ``_ca_raw.object_id`` (normalised text) by its near-duplicate group's text; return texts merged.

    The distinct texts are numbered in text order (``_nd_t``), so a group's representative is its smallest
    text. The MinHash LSH runs in DuckDB (its ``hash()`` is the hash family): on the study's connection, or on
    Spark on a side connection that the distinct texts are copied into (``t.duckdb``); the posts stay where
    they are and only the texts that change come back. The actions keep their ids (their order).
    """
    t.make("_nd_t", "SELECT CAST(row_number() OVER (ORDER BY t) AS BIGINT) - 1 AS i, t "
                    "FROM (SELECT DISTINCT object_id AS t FROM _ca_raw)")
    n = t.count("_nd_t")
    if not n:
        t.drop("_nd_t")
        return 0
    progress({"event": "stage", "message": f"co-text: MinHash LSH over {n:,} distinct texts{t.label}"})
    with t.duckdb("_nd_t") as con:
        rep = _components(con, float(params.near_duplicate), NUM_PERM, int(params.seed) + 1)
    moved = np.flatnonzero(rep != np.arange(n))
    if len(moved):
        t.put("_nd_mv", pa.table({"i": pa.array(moved.astype(np.int64)), "r": pa.array(rep[moved])}))
        t.make("_nd_map", "SELECT a.t AS object_id, b.t AS rep FROM _nd_mv m JOIN _nd_t a ON a.i = m.i "
                          "JOIN _nd_t b ON b.i = m.r")
        t.actions("_ca_raw", """SELECT r.account_id, coalesce(m.rep, r.object_id) AS object_id, r.action_id, r.ts,
                r.rowid AS _o FROM _ca_raw r LEFT JOIN _nd_map m USING (object_id)""", order="_o")
        t.drop("_nd_map", "_nd_mv")
    t.drop("_nd_t")
    return int(len(moved))

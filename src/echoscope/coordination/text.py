"""Near-duplicate text for co-text: MinHash LSH (``datasketch``) over the distinct normalised texts.

Why: identical text is a plain SQL equality, but campaigns vary their copy a little ("Great speech by the
ambassador!" / "great speech by our ambassador"). Each distinct normalised text gets a MinHash signature of
its word 3-shingles (words when shorter); LSH proposes candidate pairs (tuned below the Jaccard threshold), which are
verified on the exact shingle sets and merged with union-find; every text is then replaced by its group's
representative, so the generic windowed mechanism sees near-duplicates as the same object. Only distinct
texts travel to Python, in Arrow batches, never the posts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa


def _shingles(text: str) -> set[bytes]:
    words = text.split()
    if len(words) < 3:
        return {w.encode() for w in words}
    return {" ".join(words[i:i + 3]).encode() for i in range(len(words) - 2)}


def near_duplicate_groups(texts: list[str], threshold: float, num_perm: int = 128, seed: int = 1) -> list[int]:
    """Group index (the smallest member index) of every text; texts at Jaccard >= ``threshold`` share a group.

    Parameters
    ----------
    texts : list of str
        Distinct normalised texts.
    threshold : float
        Jaccard similarity of word 3-shingles at which two texts count as the same.
    """
    import duckdb
    import numpy as np
    from datasketch import MinHash, MinHashLSH

    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Signatures: datasketch MinHash, one set of permutations for all texts (MinHash.generator; building them
    # per text was most of the cost). Banding: datasketch's own optimal (bands, rows) for a threshold tuned
    # below ours (recall), but the buckets are found with numpy and the candidate pairs with one DuckDB
    # self-join instead of datasketch's Python hash tables (two texts are candidates when all rows of one
    # band are equal: the same rule, at ~30x less cost). Candidates are verified on the exact shingle sets.
    sets = [_shingles(t) for t in texts]
    sig = np.vstack([m.hashvalues for m in MinHash.generator((list(sh) for sh in sets), num_perm=num_perm,
                                                               seed=seed)])
    lsh = MinHashLSH(threshold=max(threshold * 0.75, 0.05), num_perm=num_perm)
    bands = []
    for k, (lo, hi) in enumerate(lsh.hashranges):
        band = np.ascontiguousarray(sig[:, lo:hi]).view(np.dtype((np.void, sig.dtype.itemsize * (hi - lo))))[:, 0]
        _, bucket = np.unique(band, return_inverse=True)
        bands.append(pa.table({"k": pa.array(np.full(len(texts), k, dtype=np.int32)),
                               "bucket": pa.array(bucket.astype(np.int64)),
                               "i": pa.array(np.arange(len(texts), dtype=np.int64))}))
    con = duckdb.connect()
    con.register("_b", pa.concat_tables(bands))
    cand = con.execute("""SELECT DISTINCT x.i, y.i FROM _b x JOIN _b y ON x.k = y.k AND x.bucket = y.bucket AND x.i > y.i
        ORDER BY 1, 2""").fetchall()
    con.close()
    for i, j in cand:
        if len(sets[i] & sets[j]) >= threshold * len(sets[i] | sets[j]):
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(len(texts))]


def merge_near_duplicates(con: Any, params: Any, progress: Callable[[dict[str, Any]], None]) -> int:
    """Replace ``_ca_raw.object_id`` (normalised text) by its near-duplicate group's text; return groups merged."""
    texts = [t for t in con.execute("SELECT DISTINCT object_id FROM _ca_raw ORDER BY object_id")
             .fetch_arrow_table().column(0).to_pylist()]
    if not texts:
        return 0
    progress({"event": "stage", "message": f"co-text: MinHash LSH over {len(texts):,} distinct texts"})
    groups = near_duplicate_groups(texts, float(params.near_duplicate), seed=int(params.seed) + 1)
    mapping = pa.table({"object_id": texts, "rep": [texts[g] for g in groups]})
    con.register("_ca_textmap", mapping)
    con.execute("""CREATE OR REPLACE TEMP TABLE _ca_raw AS SELECT r.account_id, m.rep AS object_id, r.action_id, r.ts
        FROM _ca_raw r JOIN _ca_textmap m USING (object_id)""")
    con.unregister("_ca_textmap")
    return sum(1 for i, g in enumerate(groups) if g != i)

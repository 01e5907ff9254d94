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
    from datasketch import MinHash, MinHashLSH

    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # LSH tuned below the threshold for recall; candidates are verified on the exact shingle sets
    lsh = MinHashLSH(threshold=max(threshold * 0.75, 0.05), num_perm=num_perm)
    sets = []
    for i, t in enumerate(texts):
        sh = _shingles(t)
        sets.append(sh)
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch(list(sh))
        for j in lsh.query(m):
            if len(sh & sets[j]) >= threshold * len(sh | sets[j]):
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
        lsh.insert(i, m)
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

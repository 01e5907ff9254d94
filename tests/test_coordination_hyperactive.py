"""Hyperactive accounts that act on one object many times: the timing null counts their slots.

A reply-guy answering the same account thirty times a day, or an account that mentions one handle all day,
holds many of the object's slots. Under the object-timeline null (:mod:`echoscope.coordination.nulls`) the
chance that two accounts co-act on an object grows with the product of their slots; the null counted each
account once per object, so two hyperactive accounts acting at random became "coordinated" (found with
``benchmarks/bench_shapes.py --shapes reply-pile``: the six busiest accounts of 1M random replies in two
clusters, p < 1e-100). Here: random mentions with two hyperactive accounts, and a planted pair of bots.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from echoscope.coordination import CoordParams, coordinate

from .test_coordination import TS

SPAN = 2 * 86400.0


def _posts(seed: int = 5, bots: bool = False) -> pa.Table:
    """Mentions of 150 handles over two days: two hyperactive accounts mention each handle 12 times at random
    times (30 with ``bots``), 1,500 ordinary accounts 25 times in all; with ``bots``, two bots mention every
    handle three times, each time within 20 s of each other."""
    rng = np.random.default_rng(seed)
    acc: list[str] = []
    men: list[str] = []
    ts: list[float] = []
    for h in range(150):
        for a in ("hyper1", "hyper2"):
            for _ in range(30 if bots else 12):
                acc.append(a), men.append(f"h{h}"), ts.append(float(rng.uniform(0, SPAN)))
    for i in range(1500):
        for h in rng.integers(0, 150, size=25):
            acc.append(f"u{i}"), men.append(f"h{int(h)}"), ts.append(float(rng.uniform(0, SPAN)))
    if bots:
        for h in range(150):
            for t in rng.uniform(0, SPAN, size=3):
                for a, d in (("bot1", 0.0), ("bot2", float(rng.uniform(1, 20)))):
                    acc.append(a), men.append(f"h{h}"), ts.append(float(t) + d)
    n = len(acc)
    return pa.table({"post_id": [f"p{i}" for i in range(n)], "account_id": acc,
                     "created_at": pa.array(((np.array(ts) + 1.6e9) * 1e6).astype(np.int64)).cast(TS),
                     "kind": ["original"] * n, "mentions": [[m] for m in men]})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import echoscope

    out = {}
    for bots in (False, True):
        s = echoscope.init_study(tmp_path_factory.mktemp("hyper") / "study")
        s.load_arrow({"posts": _posts(bots=bots)})
        out[bots] = coordinate(s, CoordParams(behaviours=("co-mention",), window=60, reps=20), write=False)
    return out


def _edge(res, a: str, b: str) -> dict:
    e = res.edges.to_pylist()
    return next(r for r in e if {r["account_a"], r["account_b"]} == {a, b} and r["behaviour"] == "co-mention")


def test_hyperactive_accounts_at_random_are_not_coordinated(runs):
    res = runs[False]
    e = _edge(res, "hyper1", "hyper2")
    # they co-act within a minute on many of the 150 handles by chance (144 slot pairs each), and the null says so:
    # the null mean is the expected count, not the one-slot-each mean of ~0.5
    assert e["weight"] >= 10
    assert e["null_mean"] >= 0.8 * e["weight"], e
    assert not e["significant"]
    assert res.summary["flagged_accounts"] == 0


def test_planted_bots_are_still_found_beside_hyperactive_accounts(runs):
    # the hyperactive accounts (30 slots on every handle) meet the bots' bursts by chance on several handles
    # of the held-out half: the held-out test's null counts their slots too, so they do not join the bots
    res = runs[True]
    assert _edge(res, "bot1", "bot2")["significant"]
    assert not _edge(res, "hyper1", "hyper2")["significant"]
    flagged = {a for c in res.coordinated_clusters() for a in c["accounts"]}
    assert flagged == {"bot1", "bot2"}


def test_held_out_null_counts_the_slots_of_hyperactive_accounts(tmp_path, monkeypatch):
    """The held-out test's null mean for a hyperactive account against a group is its expected count: an
    account with 30 slots on each handle meets the bots' bursts about 30 times as often as one slot would (with
    one slot each, hyper2 had 11 co-actions against a null mean of 2.0 in a fold)."""
    import echoscope
    from echoscope.coordination import validation

    rows: list[dict] = []
    real = validation._group_weights

    def spy(con, *a, **k):
        out = real(con, *a, **k)
        ids = dict(con.execute("SELECT i, account_id FROM _cr_acc").fetchall())
        rows.extend({**r, "account": ids[r["acc"]]} for r in out.to_pylist())
        return out

    monkeypatch.setattr(validation, "_group_weights", spy)
    s = echoscope.init_study(tmp_path / "study")
    s.load_arrow({"posts": _posts(bots=True)})
    coordinate(s, CoordParams(behaviours=("co-mention",), window=60, reps=20), write=False)
    hyper = [r for r in rows if r["account"].startswith("hyper") and r["w"] >= 3]
    assert rows and all(r["lam"] >= 0.4 * r["w"] for r in hyper), hyper
    bots = [r for r in rows if r["account"].startswith("bot")]
    assert bots and all(r["w"] >= 20 * r["lam"] for r in bots), bots


def _replies(seed: int = 11) -> pa.Table:
    """A target's 100 posts over 20 days; three reply-guys answer each post 40 times within three hours of it;
    600 ordinary accounts reply to 10 posts each within a day; six bots reply together (within 20 s) to 40 of
    the posts, at a random time in the post's first three hours."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, float]] = []  # (account, kind, ref, ts)
    post_t = rng.uniform(0, 20 * 86400.0, size=100)
    for i, t in enumerate(post_t):
        rows.append(("target", "original", "", float(t)))
        for g in range(3):
            rows.extend((f"guy{g}", "reply", f"p{i}", float(t + x)) for x in rng.uniform(0, 10800, size=40))
    for u in range(600):
        for i in rng.choice(100, size=10, replace=False):
            rows.append((f"u{u}", "reply", f"p{i}", float(post_t[i] + rng.exponential(20000))))
    for i in rng.choice(100, size=40, replace=False):
        t = float(post_t[i] + rng.uniform(0, 10800))
        rows.extend((f"bot{b}", "reply", f"p{i}", t + float(rng.uniform(0, 20))) for b in range(6))
    ids = [f"p{i}" for i in range(100)] + [f"r{i}" for i in range(len(rows) - 100)]
    ordered = [r for r in rows if r[1] == "original"] + [r for r in rows if r[1] != "original"]
    return pa.table({"post_id": ids, "account_id": [r[0] for r in ordered], "kind": [r[1] for r in ordered],
                     "ref_post_id": [r[2] or None for r in ordered],
                     "created_at": pa.array(((np.array([r[3] for r in ordered]) + 1.6e9) * 1e6).astype(np.int64)
                                            ).cast(TS)})


def test_reply_guys_answering_each_post_forty_times_are_not_coordinated(tmp_path):
    """Three reply-guys (40 replies to each post) co-reply within a minute on nearly every post, and with the bots
    on many: with one slot each per post the pair null made their pairs significant and the three joined the
    bots' cluster; counting their slots, only the bots are found (co-reply is a default behaviour)."""
    import echoscope

    s = echoscope.init_study(tmp_path / "study")
    s.load_arrow({"posts": _replies()})
    s.set_targets(pa.table({"account_id": ["target"], "handle": ["target"], "group": ["diplomats"],
                            "label": pa.array([None], pa.string())}))
    res = coordinate(s, CoordParams(behaviours=("co-reply",), window=60, reps=20), write=False)
    flagged = {a for c in res.coordinated_clusters() for a in c["accounts"]}
    assert flagged == {f"bot{b}" for b in range(6)}, flagged


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_co_latency_means_summed_per_post_equal_the_per_object_sum(seed):
    """nulls._unit_lambda (a pair's mean summed per post where both accounts hold every delay bucket once) gives
    each candidate edge the mean of the per-object sum: ``sum over shared objects of min(1, k_a k_b q_o)``, with
    its two halves. Accounts hold whole posts, parts of posts and several slots of a bucket."""
    import duckdb

    from echoscope.coordination.nulls import _unit_lambda

    rng = np.random.default_rng(seed)
    posts, accounts = 40, 60
    objs = [(f"p{u}@{k}", u) for u in range(posts) for k in range(int(rng.integers(1, 5)))]
    q = rng.uniform(0, 1.2, len(objs))  # some q above 1 (capped by min(1, .))
    half = {u: int(rng.integers(0, 2)) for u in range(posts)}
    ao: dict[tuple[int, int], int] = {}
    for a in range(accounts):
        for u in rng.choice(posts, int(rng.integers(3, 15)), replace=False):
            mine = [i for i, (_, pu) in enumerate(objs) if pu == u]
            if rng.random() < 0.3:  # a part of the post's buckets
                mine = list(rng.choice(mine, int(rng.integers(1, len(mine) + 1)), replace=False))
            for i in mine:
                ao[(a, int(i))] = 1 if rng.random() < 0.85 else int(rng.integers(2, 4))
    edges = sorted({(int(a), int(b)) for a, b in rng.integers(0, accounts, (400, 2)) if a < b})
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE _ca_obj AS SELECT * FROM (VALUES " + ", ".join(
        f"('{o}', {i})" for i, (o, _) in enumerate(objs)) + ") t(object_id, oid)")
    con.execute("CREATE TEMP TABLE _ca_q AS SELECT * FROM (VALUES " + ", ".join(
        f"({i}, {float(x)!r}::DOUBLE)" for i, x in enumerate(q)) + ") t(oid, q)")
    con.execute("CREATE TEMP TABLE _ca_half AS SELECT * FROM (VALUES " + ", ".join(
        f"({i}, {half[u]}::UTINYINT)" for i, (_, u) in enumerate(objs)) + ") t(oid, half)")
    con.execute("CREATE TEMP TABLE _ca_ao AS SELECT * FROM (VALUES " + ", ".join(
        f"({a}, {i}, {k})" for (a, i), k in ao.items()) + ") t(aid, oid, k)")
    con.execute("CREATE TEMP TABLE _ca_aod AS SELECT aid, count(*) AS d FROM _ca_ao GROUP BY aid")
    con.execute("CREATE TEMP TABLE _ca_edges AS SELECT * FROM (VALUES " + ", ".join(
        f"({a}, {b})" for a, b in edges) + ") t(a, b)")
    _unit_lambda(con, "regexp_replace(object_id, '@[0-9]+$', '')")
    got = {(a, b): (lam, l0, l1) for a, b, lam, l0, l1 in
           con.execute("SELECT a, b, lam, l0, l1 FROM _ca_nulllam").fetchall()}
    want = {}
    for a, b in edges:
        parts = [0.0, 0.0]
        shared = False
        for (x, i), k in ao.items():
            if x == a and (b, i) in ao:
                shared = True
                parts[half[objs[i][1]]] += min(1.0, k * ao[(b, i)] * q[i])
        if shared:
            want[(a, b)] = (parts[0] + parts[1], parts[0], parts[1])
    assert set(got) == set(want) and len(want) > 100
    for e, w in want.items():
        assert got[e] == pytest.approx(w, rel=1e-12, abs=1e-12)
    # the test covers every part: whole posts on both sides, a part on either side, several slots
    whole = con.execute("SELECT count(*) FILTER (WHERE NOT whole), count(*) FROM (SELECT x.aid, u.uid, "
                        "count(*) = any_value(n) AND max(x.k) = 1 AS whole FROM _ca_ao x JOIN (SELECT oid, "
                        "regexp_replace(object_id, '@[0-9]+$', '') AS uid FROM _ca_obj) u USING (oid) JOIN "
                        "(SELECT regexp_replace(object_id, '@[0-9]+$', '') AS uid, count(*) AS n FROM _ca_obj "
                        "GROUP BY 1) USING (uid) GROUP BY 1, 2)").fetchone()
    assert 0 < whole[0] < whole[1]

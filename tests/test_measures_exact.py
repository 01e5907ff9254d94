"""Exactness of the shortcuts in the DuckDB plan (``measures/duckdb_plan.py:run_duckdb``).

Two shortcuts must give exactly what the plain definitions give:

* group and study latency quantiles come from counts of distinct latency values
  (:func:`echoscope.measures.duckdb_sql.quantiles_from_counts`) instead of ``quantile_cont`` over every row;
* the slim engagement table keeps ``engagement_id`` only on rapid rows, so the rapid-fire order
  (created_at, engagement_id) needs a fallback when a non-rapid and a rapid engagement of one amplifier share
  a timestamp.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pyarrow as pa

import echoscope
from echoscope import schema as S
from echoscope.measures import measures
from echoscope.measures.definitions import LATENCY_QUANTILES
from echoscope.measures.duckdb_sql import quantiles_from_counts as _quantiles_from_counts
from echoscope.store.targets import add_targets


def test_quantiles_from_counts_bit_identical_to_quantile_cont() -> None:
    # half whole seconds (many repeated values), half fractional: every scope's five quantiles must equal
    # DuckDB's quantile_cont over the raw rows to the last bit (no rounding here)
    rng = np.random.default_rng(3)
    n = 50_000
    lat = rng.lognormal(3, 2, n)
    lat = np.where(rng.random(n) < 0.5, np.round(lat), lat)
    gi = [None if x < 0.1 else int(x * 3) + 1 for x in rng.random(n)]
    e = pa.table({"gi": pa.array(gi, pa.int32()), "wk": pa.array(rng.integers(0, 20, n).astype(np.int32)),
                  "lat": lat})
    con = duckdb.connect()
    con.register("e", e)
    lv = con.execute("""
        SELECT CAST(GROUPING(gi) AS TINYINT) AS sk, gi, wk, lat, sum(c)::BIGINT AS c
        FROM (SELECT gi, wk, lat, count(*) AS c FROM e GROUP BY gi, wk, lat)
        GROUP BY GROUPING SETS ((gi, wk, lat), (gi, lat), (wk, lat), (lat))
        HAVING NOT (GROUPING(gi) = 0 AND gi IS NULL)
        ORDER BY sk, gi NULLS LAST, wk NULLS LAST, lat""").to_arrow_table()
    names = [f"q{i}" for i in range(len(LATENCY_QUANTILES))]
    con.register("mine", _quantiles_from_counts(lv, LATENCY_QUANTILES, names))
    qs = ", ".join(repr(q) for q in LATENCY_QUANTILES)
    same = " AND ".join(f"m.{c} = r.q[{i + 1}]" for i, c in enumerate(names))
    total, matched, equal = con.execute(f"""
        SELECT count(*), count(m.sk), count(*) FILTER (WHERE {same})
        FROM (SELECT CAST(GROUPING(gi) AS TINYINT) AS sk, gi, wk, quantile_cont(lat, [{qs}]) AS q FROM e
              GROUP BY GROUPING SETS ((gi, wk), (gi), (wk), ()) HAVING NOT (GROUPING(gi) = 0 AND gi IS NULL)) r
        LEFT JOIN mine m ON m.sk = r.sk AND m.gi IS NOT DISTINCT FROM r.gi AND m.wk IS NOT DISTINCT FROM r.wk
    """).fetchone()
    # 3 groups x 20 weeks + 3 groups + 20 study weeks + 1 study row
    assert total == 84
    assert matched == total and equal == total


def test_rapid_fire_order_with_a_non_rapid_tie(tmp_path) -> None:
    """Amplifier a1 engages target t1's posts at T, T+1, T+2 (twice), T+3, T+4 (seconds):

        time  id   post  latency  rapid
        T     e1   p1    2 s      yes
        T+1   e2   p2    2 s      yes
        T+2   e3   p0    1 h      no     <- same time as e4, and 'e3' < 'e4': it comes first
        T+2   e4   p3    2 s      yes
        T+3   e6   p4    2 s      yes
        T+4   e7   p5    2 s      yes

    In (created_at, engagement_id) order e3 separates {e1, e2} (2 posts: no sequence) from {e4, e6, e7}
    (3 posts: one sequence, start T+2, end T+4). Ordering the non-rapid row after the rapid one of the same
    time (what a missing engagement_id would do) would give the sequence {e1, e2, e4} starting at T instead.
    """
    t = dt.datetime(2021, 1, 4, 12, tzinfo=dt.timezone.utc)
    sec = lambda k: t + dt.timedelta(seconds=k)
    orig = [("p0", sec(2) - dt.timedelta(hours=1))] + [(f"p{i}", sec(k - 2)) for i, k in
                                                         ((1, 0), (2, 1), (3, 2), (4, 3), (5, 4))]
    posts = [{"platform": "twitter", "post_id": pid, "account_id": "t1", "created_at": when, "kind": "original"}
             for pid, when in orig]
    eng = [("e1", "p1", 0), ("e2", "p2", 1), ("e3", "p0", 2), ("e4", "p3", 2), ("e6", "p4", 3), ("e7", "p5", 4)]
    posts += [{"platform": "twitter", "post_id": eid, "account_id": "a1", "created_at": sec(k), "kind": "repost",
               "ref_post_id": ref, "ref_account_id": "t1"} for eid, ref, k in eng]
    s = echoscope.init_study(tmp_path / "s")
    s.load_arrow({"posts": pa.Table.from_pylist(posts, schema=S.POSTS)})
    add_targets(s, [("t1", None, "g1", None)])
    m = measures(s)
    rf = m.to_arrow("rapidfire").to_pylist()
    assert [(r["actor_id"], r["start"], r["end"], r["posts"], r["engagements"]) for r in rf] == \
        [("a1", sec(2), sec(4), 3, 3)]
    study = next(r for r in m.to_arrow().to_pylist() if r["scope"] == "study" and r["week"] is None)
    assert study["rapid_fire_engagements"] == 3  # e4, e6, e7
    assert study["engagements"] == 6

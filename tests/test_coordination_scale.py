"""Coordination at scale: pairing in bounded memory gives the same results; out of memory is a one-line error.

The pairing stage (:func:`echoscope.coordination.stages.pair`) makes the account pairs range by range of the
lower account when the pairs within the window may not fit the memory budget. These tests force many ranges
with a tiny budget on a small study shaped like the power-law data that used to exhaust memory (Zipf
popularity and activity, a few posts reposted hundreds of times within two minutes) and check that every
stage table and every result is the one a single pass gives.
The null model's shuffles are counted in numpy (:func:`echoscope.coordination.nulls.object_shuffles`); a test
checks that they give exactly the shuffled networks of the SQL formulation they replaced. Two more tests check
that ``--null none`` finds the default's candidate network, and that the default runs on the bursts shape in a
small memory limit.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from echoscope.coordination import CoordParams, coordinate
from echoscope.coordination.backends import DuckTables
from echoscope.coordination.params import behaviour_params
from echoscope.coordination.stages import candidates
from echoscope.settings import ENV, MEMORY_FLAGS, STAGE_MEMORY, memory_hint

TS = pa.timestamp("us", tz="UTC")
T0 = 1_600_000_000


def bursty(n: int = 8000, seed: int = 3) -> dict[str, pa.Table]:
    """``n`` reposts: 85% on 300 Zipf-popular posts over hours, 15% on 3 posts reposted within ~2 minutes;
    400 accounts with Zipf activity; and logins of 300 accounts over 40 addresses (a few crowded)."""
    rng = np.random.default_rng(seed)
    n_acc, n_posts, n_burst = 400, 300, int(n * 0.15)
    acc_w = 1.0 / np.arange(1, n_acc + 1) ** 0.9
    post_w = 1.0 / np.arange(1, n_posts + 1) ** 1.1
    post = np.concatenate([rng.choice(n_posts, size=n - n_burst, p=post_w / post_w.sum()) + 3,
                           rng.integers(0, 3, size=n_burst)])
    lat = np.concatenate([rng.exponential(3600.0, size=n - n_burst), rng.exponential(40.0, size=n_burst)])
    t_post = rng.uniform(0, 5 * 86400, size=n_posts + 3)
    ts = np.round(T0 + t_post[post] + lat, 1)  # tenths of seconds: some actions share a timestamp
    acc = rng.choice(n_acc, size=n, p=acc_w / acc_w.sum())
    posts = pa.table({
        "post_id": [f"r{i}" for i in range(n)], "account_id": [f"a{a:03d}" for a in acc],
        "ref_post_id": [f"p{p}" for p in post], "kind": ["repost"] * n,
        "created_at": pa.array((ts * 1e6).astype("int64")).cast(TS)})
    la = rng.integers(0, 300, size=900)
    ip = np.minimum(rng.geometric(0.08, size=900), 40)
    logins = pa.table({"account_id": [f"a{a:03d}" for a in la], "ip_hash": [f"ip{i}" for i in ip],
                       "device_hash": pa.array([None] * 900, pa.string()),
                       "ts": pa.array(((T0 + rng.uniform(0, 5 * 86400, size=900)) * 1e6).astype("int64")).cast(TS)})
    return {"posts": posts, "logins": logins}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import echoscope

    s = echoscope.init_study(tmp_path_factory.mktemp("scale") / "study")
    s.load_arrow(bursty())
    return s


def _stage_tables(con, behaviour: str, budget: int | None, monkeypatch) -> tuple[dict, dict]:
    """The stages' statistics and their (pair, object) aggregate, action ids as the source's ids."""
    monkeypatch.setattr(DuckTables, "pair_budget", lambda self: budget)
    params = behaviour_params(behaviour, CoordParams(behaviours=(behaviour,), null="none", max_shared_accounts=None))
    stats = candidates(DuckTables(con), behaviour, params, lambda e: None)
    rows = con.execute("""SELECT x.a, x.b, x.oid, x.n, x.gap, x.t0, x.t1, ra.action_id, rb.action_id
        FROM _ca_abo x JOIN _ca_raw ra ON ra.rowid = x.ev // 4294967296 JOIN _ca_raw rb ON rb.rowid = x.ev % 4294967296
        ORDER BY ALL""").fetchall()
    return stats, {"abo": rows, "pin": con.execute("SELECT * FROM _ca_pin ORDER BY ALL").fetchall()}


@pytest.mark.parametrize("behaviour", ["co-retweet", "shared-ip"])
def test_pairing_by_account_ranges_equals_one_pass(study, behaviour, monkeypatch):
    from echoscope.engine import Engine

    with Engine(study) as eng, eng.stage("coordination"):
        one_stats, one = _stage_tables(eng.raw, behaviour, None, monkeypatch)
        # a budget of 300 pairs: the pairs (tens of thousands) are made in many ranges of lower accounts
        many_stats, many = _stage_tables(eng.raw, behaviour, 300, monkeypatch)
    assert one_stats["pair_ranges"] == 1
    assert many_stats["pair_ranges"] >= 10
    if behaviour == "co-retweet":  # the bursts are over the dense-window guard's cap
        assert one_stats["guard"]["actions_dropped"] > 0
    # dense enough that many pairs meet on one object only (the cheap per-pair pass drops those)
    assert one_stats["pairs_within_window"] > 2 * len(one["abo"]) > 2000
    for k in ("pairs_within_window", "pair_object_rows", "actions_paired", "guard", "accounts_after_pruning"):
        assert many_stats[k] == one_stats[k], k
    assert many == one


def test_whole_run_equal_with_pairing_in_ranges(study, monkeypatch):
    # the default null (object timeline with shuffles) and held-out validation read the pairing's tables
    params = CoordParams(behaviours=("co-retweet", "shared-ip"), reps=5, max_shared_accounts=None)
    one = coordinate(study, params, write=False)
    monkeypatch.setattr(DuckTables, "pair_budget", lambda self: 300)
    many = coordinate(study, params, write=False)
    assert many.summary["behaviours"]["co-retweet"]["pair_ranges"] >= 10
    assert one.summary["behaviours"]["co-retweet"]["pair_ranges"] == 1
    assert one.edges.num_rows > 100
    for name in ("coord_edges", "coord_evidence", "coord_clusters", "coord_members"):
        a, b = one.tables[name], many.tables[name]
        assert a.num_rows == b.num_rows, name
        for col in a.column_names:
            x, y = a[col].to_pylist(), b[col].to_pylist()
            if a.schema.field(col).type == pa.float64():
                # floating sums (weight_idf, null means) may differ in the last bits with the summation order
                assert np.allclose(np.array(x, dtype=float), np.array(y, dtype=float), rtol=1e-9,
                                   equal_nan=True), (name, col)
            else:
                assert x == y, (name, col)


def test_action_ids_follow_the_scan_order_on_every_run(study, monkeypatch):
    """An action's id is its row in the posts' parts: the same on every run (before, a parallel scan's order
    changed between runs, and with it the evidence chosen among equally close pairs)."""
    from echoscope.engine import Engine

    with Engine(study) as eng, eng.stage("coordination"):
        eng.raw.execute("SET threads=4")
        _stage_tables(eng.raw, "co-retweet", None, monkeypatch)
        first = eng.raw.execute("SELECT rowid, action_id FROM _ca_raw ORDER BY rowid").fetchall()
        _stage_tables(eng.raw, "co-retweet", None, monkeypatch)
        second = eng.raw.execute("SELECT rowid, action_id FROM _ca_raw ORDER BY rowid").fetchall()
        scan = eng.raw.execute("SELECT post_id FROM posts").fetchall()
    assert first == second
    # the generator numbers its reposts r0, r1, ... in row order
    assert [a for _, a in first] == [p for (p,) in scan] == [f"r{i}" for i in range(len(scan))]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_out_of_memory_is_a_one_line_error_naming_the_setting(study, cli, monkeypatch, how):
    args = ["coordinate", study.path, "--behaviour", "co-retweet", "--null", "none"]
    if how == "flag":
        args += ["--memory-limit", "8MB"]
    else:
        monkeypatch.setenv(ENV["memory_limit"], "8MB")
    r = cli(*args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    # one line, the settings that raise the limit, DuckDB's own reason; no traceback, no "internal error"
    assert len(lines) == 1, lines
    assert "ran out of memory in the coordination stage" in lines[0]
    assert "ECHOSCOPE_MEMORY_LIMIT" in lines[0] and "--memory-limit" in lines[0]
    # the limit in force, not the stage's default
    assert "(memory limit 8MB)" in lines[0] and "default memory limit" not in lines[0]
    assert "Traceback" not in r.output and "internal error" not in r.output


def test_memory_hint_names_settings_that_exist(cli):
    """The hint names the environment variable and echoscope.toml key every command reads, and a command-line
    flag only for the stage whose command has one."""
    import echoscope.settings as S

    for stage in STAGE_MEMORY:
        hint = memory_hint(stage)
        assert S.ENV["memory_limit"] in hint and "memory_limit = " in hint and "[engine]" in hint, stage
        assert ("--memory-limit" in hint) == (stage in MEMORY_FLAGS), stage
        assert STAGE_MEMORY[stage] in hint
    assert "memory limit 500MB" in memory_hint("coordination", "500MB")
    for stage, flag in MEMORY_FLAGS.items():
        command, option = flag.split()[1], flag.split()[2]
        assert option in cli(command, "--help").output, (stage, flag)


def test_every_connection_hands_freed_memory_back_sooner():
    """configure_duckdb sets the allocator's purging (settings.ALLOCATOR_SETTINGS) on every connection it makes:
    the memory limit does not count what DuckDB's allocator keeps of freed memory."""
    from echoscope.settings import ALLOCATOR_SETTINGS, duckdb_connection

    con = duckdb_connection()
    got = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name LIKE 'allocator%'").fetchall())
    assert got["allocator_background_threads"] == "true"
    assert got["allocator_flush_threshold"] == got["allocator_bulk_deallocation_flush_threshold"] == "32.0 MiB"
    assert set(ALLOCATOR_SETTINGS) <= set(got)


def test_duckdb_makes_room_for_the_arrays_python_holds_beside_it(tmp_path):
    """settings.lend_memory lowers DuckDB's limit while the null's numpy arrays are held (DuckDB moves its
    temporary tables beyond it to the spill directory and still reads them), and restores the limit as it was
    set, also after an error; a connection whose limit echoscope did not set is left alone."""
    import duckdb

    from echoscope.settings import duckdb_connection, lend_memory, memory_limit_of, set_memory_limit

    con = duckdb_connection(temp_directory=tmp_path)
    set_memory_limit(con, "600MiB")
    con.execute("CREATE TEMP TABLE big AS SELECT range AS i, range * 2 AS j FROM range(20000000)")

    def used() -> float:
        return con.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] / 2**20

    def limit() -> str:
        return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]

    assert used() > 300
    with lend_memory(con, 500 * 2**20, floor="64MiB") as lent:
        assert lent == 500 * 2**20
        assert limit() == "100.0 MiB" and used() <= 100
        assert con.execute("SELECT sum(j) FROM big").fetchone()[0] == 19999999 * 20000000
    assert limit() == "600.0 MiB" and memory_limit_of(con) == "600MiB"
    with pytest.raises(RuntimeError), lend_memory(con, 500 * 2**20, floor="64MiB"):
        raise RuntimeError("the shuffles failed")
    assert limit() == "600.0 MiB"
    # never below the floor; too little to matter: nothing lent
    with lend_memory(con, 590 * 2**20, floor="200MiB") as lent:
        assert lent == 400 * 2**20 and limit() == "200.0 MiB"
    with lend_memory(con, 2**20) as lent:
        assert lent == 0 and limit() == "600.0 MiB"
    other = duckdb.connect()
    other.execute("SET memory_limit='600MiB'")
    with lend_memory(other, 500 * 2**20, floor="64MiB") as lent:
        assert lent == 0
    assert other.execute("SELECT current_setting('memory_limit')").fetchone()[0] == "600.0 MiB"


def test_no_pair_of_a_range_is_lost_at_the_range_edges():
    """Two accounts in different ranges still pair (the lower one's range finds it), in and across buckets."""
    import duckdb

    from echoscope.coordination.stages import pair_sql, pair_sql_lower

    con = duckdb.connect()
    # accounts 1..4 on one object: within 60 s of each other across a bucket edge (59.5 | 60.0 | 119.9)
    con.execute("""CREATE TABLE pin AS SELECT * FROM (VALUES
        (1, 7, 0, 59.5, 0), (2, 7, 1, 60.0, 1), (3, 7, 2, 119.5, 1), (4, 7, 3, 119.5, 1), (4, 7, 4, 200.0, 3))
        t(aid, oid, eid, ts, bk)""")
    one = sorted(con.execute(pair_sql("pin", 60.0, True, False)).fetchall())
    ranges = sorted(r for lo, hi in ((1, 1), (2, 3), (4, 4))
                    for r in con.execute(pair_sql_lower("pin", 60.0, True, lo, hi)).fetchall())
    assert ranges == one
    # 1-2 (0.5 s), 1-3 and 1-4 (60.0 s: inclusive), 2-3, 2-4 (59.5 s), 3-4 (0 s); 200.0 is alone
    assert [(a, b) for a, b, *_ in one] == [(1, 2), (1, 3), (1, 4), (2, 3), (2, 4), (3, 4)]


def _sql_shuffles(con, reps: int, seed: int, w: float, min_weight: int) -> tuple[list, int]:
    """The object-timeline shuffles as one SQL query (the formulation before numpy): shuffle r gives the action
    of rank k on an object, ranked by hash(eid, r, seed), the account of the object's k-th action by eid."""
    multi = con.execute("SELECT count(*) FROM (SELECT aid, oid FROM _ca_act GROUP BY aid, oid "
                        "HAVING count(*) > 1)").fetchone()[0]
    wsql = "count(DISTINCT sp.oid)" if multi else "count(*)"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _t_sp AS
        SELECT a.oid, a.eid AS ea, b.eid AS eb FROM _ca_act a JOIN _ca_act b ON a.oid = b.oid AND b.bk = a.bk
          AND (b.ts > a.ts OR (b.ts = a.ts AND b.eid > a.eid)) WHERE b.ts - a.ts <= {w!r}
        UNION ALL SELECT a.oid, a.eid, b.eid FROM _ca_act a JOIN _ca_act b ON a.oid = b.oid AND b.bk = a.bk + 1
          WHERE b.ts - a.ts <= {w!r}""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _t_perm AS SELECT p.rep, p.eid, s.aid FROM
          (SELECT r.rep, x.oid, x.eid, row_number() OVER (PARTITION BY r.rep, x.oid
                  ORDER BY hash(x.eid, r.rep, {seed})) AS k FROM _ca_act x, range({reps}) r(rep)) p
        JOIN (SELECT oid, aid, row_number() OVER (PARTITION BY oid ORDER BY eid) AS k FROM _ca_act) s USING (oid, k)""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _t_nw AS
        SELECT p1.rep, least(p1.aid, p2.aid) AS a, greatest(p1.aid, p2.aid) AS b, {wsql} AS w
        FROM _t_sp sp JOIN _t_perm p1 ON p1.eid = sp.ea JOIN _t_perm p2 ON p2.eid = sp.eb AND p2.rep = p1.rep
        WHERE p1.aid <> p2.aid GROUP BY 1, 2, 3""")
    rows = con.execute(f"SELECT rep, a, b, w FROM _t_nw WHERE w >= {min_weight} ORDER BY ALL").fetchall()
    total = con.execute("SELECT coalesce(sum(w), 0) FROM _t_nw").fetchone()[0]
    con.execute("DROP TABLE _t_sp; DROP TABLE _t_perm; DROP TABLE _t_nw")
    return rows, int(total)


@pytest.mark.parametrize("multi,packed,min_weight,memory", [
    (False, True, 2, None), (True, True, 2, None), (True, False, 2, None), (True, True, 3, 1), (False, True, 1, 1)])
def test_object_shuffles_equal_the_sql_shuffles(study, multi, packed, min_weight, memory, monkeypatch):
    """The null's shuffles counted in numpy (nulls.object_shuffles) give exactly the shuffled networks of the
    SQL formulation: the same DuckDB hash orders each object's actions, the same accounts fill them. With an
    account holding two slots of one object: keys packed with the object, or the two-key sort; other minimum
    weights; one shuffle at a time (a memory budget of one byte)."""
    from echoscope.coordination import nulls
    from echoscope.coordination.nulls import object_shuffles
    from echoscope.engine import Engine

    if not packed:
        monkeypatch.setattr(nulls, "PACK_LIMIT", 0)
    if memory is not None:  # one shuffle at a time
        monkeypatch.setattr(nulls, "SHUFFLE_MEMORY", memory)
    with Engine(study) as eng, eng.stage("coordination"):
        con = eng.raw
        _stage_tables(con, "co-retweet", None, monkeypatch)
        if multi:  # an account holding two slots of one object: weights count distinct objects
            con.execute("""INSERT INTO _ca_act SELECT aid, oid, eid + 10000000, ts + 1, CAST(floor((ts + 1) / 60.0)
                AS BIGINT) FROM _ca_act WHERE eid % 7 = 0""")
        want, want_total = _sql_shuffles(con, 5, 3, 60.0, min_weight)
        got, total, made = object_shuffles(con, 5, 3, 60.0, min_weight)
        assert made == 5  # far below the budget: every shuffle asked for
    got_rows = sorted(zip(*(got[c].to_pylist() for c in ("rep", "a", "b", "w"))))
    assert len(want) > 100  # the shuffles give many chance edges of weight 2 or more on this study
    assert got_rows == want
    assert total == want_total


def test_the_shuffles_lower_duckdb_s_limit_while_they_hold_their_arrays(study, monkeypatch):
    """object_shuffles lends DuckDB the size of its numpy arrays (settings.lend_memory) while the shuffles run:
    the limit is lower then and as set afterwards. (This study's arrays are far below the 16 MiB that lending
    starts at: the spy adds 64 MiB to what the shuffles ask for.)"""
    import contextlib

    from echoscope.coordination import nulls
    from echoscope.engine import Engine

    real, seen = nulls.lend_memory, []

    @contextlib.contextmanager
    def spy(con, nbytes, floor="1GiB"):
        with real(con, nbytes + 64 * 2**20, floor="64MiB") as lent:
            seen.append((nbytes, lent, con.execute("SELECT current_setting('memory_limit')").fetchone()[0]))
            yield lent

    monkeypatch.setattr(nulls, "lend_memory", spy)
    with Engine(study) as eng, eng.stage("coordination"):
        con = eng.raw
        limit = lambda: con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        _stage_tables(con, "co-retweet", None, monkeypatch)
        before = limit()
        got, _, made = nulls.object_shuffles(con, 5, 3, 60.0, 2)
        assert limit() == before
    assert made == 5 and got.num_rows > 0
    assert len(seen) == 1
    asked, lent, during = seen[0]
    assert asked > 0 and lent == asked + 64 * 2**20 and during != before


def test_shuffle_budget_makes_fewer_shuffles_never_below_the_floor(study, monkeypatch):
    """Above the budget (shuffles x slot pairs) fewer shuffles run, never fewer than MIN_SHUFFLES; the first
    ones are the same shuffles as without the budget (shuffle r is seeded by r)."""
    from echoscope.coordination.nulls import MIN_SHUFFLES, object_shuffles
    from echoscope.engine import Engine

    with Engine(study) as eng, eng.stage("coordination"):
        con = eng.raw
        _stage_tables(con, "co-retweet", None, monkeypatch)
        full, _, made_full = object_shuffles(con, 12, 3, 60.0, 2)
        small, _, made = object_shuffles(con, 12, 3, 60.0, 2, budget=1)
    assert made_full == 12
    assert made == MIN_SHUFFLES
    assert set(small["rep"].to_pylist()) == set(range(MIN_SHUFFLES))
    rows = lambda t: sorted(zip(*(t[c].to_pylist() for c in ("rep", "a", "b", "w"))))
    assert rows(small) == [r for r in rows(full) if r[0] < MIN_SHUFFLES]


def test_evidence_budget_keeps_at_least_one_row_per_judged_edge():
    """Judged edges share the evidence budget; each keeps at least its closest co-action."""
    from echoscope.coordination.judge import evidence_rows_per_edge

    assert evidence_rows_per_edge(20, 1_000, budget=2_000_000) == 20
    assert evidence_rows_per_edge(20, 1_000_000, budget=2_000_000) == 2
    assert evidence_rows_per_edge(20, 10**8, budget=2_000_000) == 1
    assert evidence_rows_per_edge(None, 1_000, budget=2_000_000) is None
    assert evidence_rows_per_edge(None, 1_000_000, budget=2_000_000) == 2
    assert evidence_rows_per_edge(20, 0) == 20


def test_null_none_network_is_the_default_candidate_network(study):
    """`--null none` judges nothing but finds the same candidate edges (pairs, weights, gaps) as the default."""
    cols = ["account_a", "account_b", "n_objects", "n_pairs", "min_gap_s", "first_ts", "last_ts"]
    params = dict(behaviours=("co-retweet",), max_shared_accounts=None)
    default = coordinate(study, CoordParams(**params, reps=5), write=False).edges
    none = coordinate(study, CoordParams(**params, null="none"), write=False).edges
    assert default.num_rows > 100
    assert none.select(cols).to_pylist() == default.select(cols).to_pylist()
    # nothing judged under none: every candidate edge counts; the default's null rejects the chance edges of
    # this study (random reposts, nothing planted)
    assert all(none["significant"].to_pylist())
    assert sum(default["significant"].to_pylist()) < default.num_rows / 10


def test_bursts_run_in_a_small_memory_limit_without_internal_error(tmp_path):
    """Power-law reposts with viral bursts (the shape that stopped the default with DuckDB's out-of-memory
    error) under a 256 MB limit: the default behaviours with the null and validation finish."""
    import echoscope
    from echoscope.coordination import run
    from echoscope.engine import Engine
    from echoscope.settings import EngineSettings

    s = echoscope.init_study(tmp_path / "bursts")
    s.load_arrow(bursty(20000, seed=5))
    with Engine(s, settings=EngineSettings(memory_limit="256MB")) as eng:
        res = run(s, CoordParams(), engine=eng, write=False)
    st = res.summary["behaviours"]["co-retweet"]
    # the bursts are over the dense-window guard's cap, and the rest still pairs into candidate edges
    assert st["guard"]["actions_dropped"] > 0 and st["candidate_edges"] > 0
    assert res.summary["validation"] is not None  # the default's held-out validation ran

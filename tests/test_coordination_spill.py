"""A run's edges and evidence on disk while it goes on (coordination/spill.py): what is read back is what was
written, in order; the fused network read from disk is the one fused in memory; the scratch files go away."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from echoscope.coordination.params import EDGE_SCHEMA, EVIDENCE_SCHEMA
from echoscope.coordination.spill import Spill


def _edges(behaviour: str, pairs: list[tuple[str, str]], sig: list[bool]) -> pa.Table:
    n = len(pairs)
    return pa.table({
        "behaviour": [behaviour] * n, "account_a": [a for a, _ in pairs], "account_b": [b for _, b in pairs],
        "directed": [False] * n, "weight": [float(i + 2) for i in range(n)], "n_objects": list(range(2, n + 2)),
        "n_pairs": list(range(3, n + 3)), "weight_idf": [0.5 * (i + 1) for i in range(n)],
        "min_gap_s": [1.0] * n, "mean_gap_s": [2.0 + i for i in range(n)], "first_ts": [10.0] * n,
        "last_ts": [20.0 + i for i in range(n)], "null_mean": [0.1] * n, "z": [3.0 + i for i in range(n)],
        "p_value": [0.001 * (i + 1) for i in range(n)], "significant": sig}, schema=EDGE_SCHEMA)


def test_what_is_read_back_is_what_was_written_in_order(tmp_path):
    con = duckdb.connect()
    spill = Spill(con, tmp_path / "scratch")
    try:
        # rows not in any sorted order: the order written must come back, file by file
        one = _edges("co-retweet", [("zed", "amy"), ("bob", "cat"), ("amy", "bob")], [True, False, True])
        two = _edges("co-reply", [("cat", "dan")], [False])
        spill.add("edges", "co-retweet", one)
        spill.add("edges", "co-reply", two)
        spill.add_sql("edges", "fused", f"SELECT * EXCLUDE (filename, file_row_number) REPLACE ('fused' AS behaviour) "
                                        f"FROM {spill.source('edges')} "
                                        "ORDER BY account_a, account_b")
        assert spill.rows["edges"] == 8
        back = spill.to_arrow("edges")
        assert back.schema == EDGE_SCHEMA
        assert back.slice(0, 4).equals(pa.concat_tables([one, two]))
        assert back["behaviour"].to_pylist()[4:] == ["fused"] * 4
        # one file by its name, in the order written
        src = spill.source("edges", "co-retweet")
        assert con.execute(f"SELECT account_a FROM {src} ORDER BY filename, file_row_number").fetchall() == \
            [("zed",), ("bob",), ("amy",)]
        # a kind with nothing written is an empty relation with its columns
        empty = con.execute(f"SELECT * EXCLUDE (filename, file_row_number) FROM {spill.source('evidence')}"
                            ).fetch_arrow_table()
        assert empty.num_rows == 0 and empty.column_names == EVIDENCE_SCHEMA.names
        assert spill.to_arrow("evidence").schema == EVIDENCE_SCHEMA
        where = spill.dir
        assert where.parent == tmp_path / "scratch" and where.exists()
    finally:
        spill.close()
    assert not where.exists()


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    from echoscope.simulate.config import make_config
    from echoscope.simulate.platform import simulate
    from echoscope.simulate.writers import write_study
    from echoscope.study import open_study

    root = tmp_path_factory.mktemp("spill") / "study"
    write_study(simulate(make_config(accounts=3000, engagements=30000, seed=3)), root)
    return open_study(root)


def _scratch(study) -> list:
    tmp = study.path / ".duckdb-tmp"
    return sorted(p.name for p in tmp.glob("coord-*")) if tmp.exists() else []


def test_the_fused_network_from_disk_is_the_one_fused_in_memory_and_no_scratch_is_left(small_study):
    from echoscope.coordination import CoordParams, coordinate, fuse

    res = coordinate(small_study, CoordParams(), write=False)
    edges = res.edges
    per = edges.filter(pa.compute.not_equal(edges["behaviour"], "fused"))
    fused = edges.filter(pa.compute.equal(edges["behaviour"], "fused"))
    assert fused.num_rows > 0 and per.num_rows > fused.num_rows
    # the per-behaviour rows come first, in behaviour order, then the fused network: as written
    assert edges.slice(per.num_rows).equals(fused)
    # the same rows as fusing in memory (sums of floats to 1e-9: DuckDB adds them in parallel)
    mem = fuse(per, len(res.summary["parameters"]["behaviours"]))
    assert fused.num_rows == mem.num_rows
    for col in EDGE_SCHEMA.names:
        got, want = fused[col].to_pylist(), mem[col].to_pylist()
        if pa.types.is_floating(EDGE_SCHEMA.field(col).type):
            assert got == pytest.approx(want, rel=1e-9, nan_ok=True), col
        else:
            assert got == want, col
    assert res.summary["edges"] == edges.num_rows
    assert res.summary["significant_edges"] == sum(fused["significant"].to_pylist())
    assert _scratch(small_study) == []


def test_a_run_that_fails_leaves_no_scratch(small_study, monkeypatch):
    from echoscope.coordination import CoordParams, api, coordinate

    def broken(*a, **k):
        raise RuntimeError("clustering failed")

    monkeypatch.setattr(api, "cluster", broken)
    with pytest.raises(RuntimeError, match="clustering failed"):
        coordinate(small_study, CoordParams(behaviours=("co-retweet", "co-reply")), write=False)
    assert _scratch(small_study) == []


def test_scratch_of_a_killed_run_is_removed_by_the_next_and_a_live_one_is_not(tmp_path):
    import os
    import subprocess

    from echoscope.coordination.spill import OWNER, _started, sweep_stale

    gone = subprocess.Popen(["true"])
    gone.wait()
    for name, owner in (("coord-killed", f"{gone.pid} 1"), ("coord-reused-pid", f"{os.getpid()} 0"),
                        ("coord-live", f"{os.getpid()} {_started(os.getpid())}"), ("coord-starting", None)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "edges-000.parquet").write_bytes(b"x")
        if owner is not None:
            (tmp_path / name / OWNER).write_text(owner)
    # a pid that no longer runs, or that runs but started at another time (reused), is a killed run
    assert sorted(sweep_stale(tmp_path)) == ["coord-killed", "coord-reused-pid"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coord-live", "coord-starting"]
    # a new run's spill sweeps too, and names itself
    spill = Spill(duckdb.connect(), tmp_path)
    assert (spill.dir / OWNER).read_text().split()[0] == str(os.getpid())
    spill.close()

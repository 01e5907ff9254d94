"""The study store: manifest, dedup, merge, views, atomicity, locking, targets."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pytest

import echoscope
from echoscope import schema as S
from echoscope.errors import ConfigError, StudyError

T0 = dt.datetime(2020, 6, 1, 12, 0, tzinfo=dt.timezone.utc)


def ts(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def posts(rows: list[tuple]) -> pa.Table:
    """rows: (post_id, account_id, seconds, kind, ref_post_id)"""
    return pa.table({
        "post_id": [r[0] for r in rows],
        "account_id": [r[1] for r in rows],
        "created_at": pa.array([ts(r[2]) for r in rows], S.TS),
        "kind": [r[3] for r in rows],
        "ref_post_id": [r[4] for r in rows],
    })


def snapshot(study: echoscope.Study) -> dict[str, list[dict]]:
    """Every stored table, sorted, as Python rows (small test studies only)."""
    out = {}
    for name in S.ALL_TABLES:
        t = study.to_arrow(name if name != "targets" else "targets_raw")
        cols = [c for c in t.column_names if c not in ("source", "ingest_id")]
        out[name] = sorted(tuple(str(r[c]) for c in cols) for r in t.select(cols).to_pylist())
    return out


def test_init_creates_layout_and_refuses_to_clobber(tmp_path):
    s = echoscope.init_study(tmp_path / "st", name="trial")
    assert (s.path / "echoscope.toml").exists() and (s.path / "manifest.json").exists()
    assert s.config["study"]["name"] == "trial"
    with pytest.raises(StudyError, match="already holds a study"):
        echoscope.init_study(tmp_path / "st")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    with pytest.raises(StudyError, match="non-empty directory"):
        echoscope.init_study(tmp_path / "other")
    with pytest.raises(StudyError, match="not an echoscope study"):
        echoscope.open_study(tmp_path / "other")


def test_same_post_twice_is_stored_once_and_counts_reconcile(study):
    # file 1: posts 1, 2 and a duplicate of 2 -> 2 loaded, 1 duplicate
    r1 = study.load_arrow({"posts": posts([("1", "a", 0, "original", None), ("2", "b", 5, "repost", "1"),
                                           ("2", "b", 5, "repost", "1")])}, name="one")
    assert (r1["read"], r1["loaded"], r1["duplicates"]) == (3, 2, 1)
    # file 2: post 2 again (already stored) and a new post 3 -> 1 loaded, 1 duplicate
    r2 = study.load_arrow({"posts": posts([("2", "b", 5, "repost", "1"), ("3", "c", 70, "reply", "1")])},
                          name="two")
    assert (r2["read"], r2["loaded"], r2["duplicates"]) == (2, 1, 1)
    assert study.rows("posts") == 3
    info = study.info()
    assert info["tables"]["posts"]["rows"] == 3
    assert all(f["read"] == f["loaded"] + f["quarantined"] + f["duplicates"] for f in info["files"])
    assert info["reconciled"] is True


def test_engagements_view_excludes_originals_and_computes_latency(study):
    study.load_arrow({
        "posts": posts([("1", "target", 0, "original", None), ("2", "b", 5, "repost", "1"),
                        ("3", "c", 70, "reply", "1"), ("4", "d", 10, "repost", None)]),
        "likes": pa.table({"account_id": ["e"], "post_id": ["1"], "created_at": pa.array([ts(3)], S.TS)}),
    })
    e = {r["engagement_id"]: r for r in study.to_arrow("engagements").to_pylist()}
    # the original (post 1) is not an engagement; the repost of an unknown post keeps a null subject
    assert set(e) == {"2", "3", "4", "e:1"}
    assert e["2"]["latency_s"] == 5.0 and e["2"]["subject_account_id"] == "target"
    assert e["3"]["kind"] == "reply" and e["3"]["latency_s"] == 70.0
    assert e["4"]["subject_post_id"] is None and e["4"]["latency_s"] is None
    assert e["e:1"]["kind"] == "like" and e["e:1"]["latency_s"] == 3.0
    assert study.info()["tables"]["engagements"]["rows"] == 4


def test_accounts_merge_newest_snapshot_wins_and_nulls_never_overwrite(study):
    acc = lambda fol, desc, seen: pa.table({
        "account_id": ["a"], "handle": ["alice"], "followers_count": pa.array([fol], pa.int64()),
        "description": [desc], "observed_at": pa.array([seen], S.TS)})
    study.load_arrow({"accounts": acc(5, "old bio", ts(0))}, name="a1")
    study.load_arrow({"accounts": acc(9, None, ts(100))}, name="a2")  # newer, but without a bio
    rows = study.to_arrow("accounts").to_pylist()
    # followers from the newest snapshot (t=100); its empty bio does not erase the older one
    assert rows[0]["followers_count"] == 9 and rows[0]["description"] == "old bio"
    late = pa.table({"account_id": ["a"], "followers_count": pa.array([7], pa.int64()), "description": ["stale"],
                     "location": ["Leeds"], "observed_at": pa.array([ts(50)], S.TS)})
    study.load_arrow({"accounts": late}, name="a3")  # an older snapshot arrives late
    rows = study.to_arrow("accounts").to_pylist()
    assert len(rows) == 1
    # the stored row counts as observed at t=100: the late snapshot only fills what is still empty
    assert (rows[0]["followers_count"], rows[0]["description"], rows[0]["location"]) == (9, "old bio", "Leeds")
    # the merged table replaced the old parts: exactly one part on disk and in the manifest
    parts = study.manifest().as_dict()["tables"]["accounts"]["parts"]
    assert len(parts) == 1 and len(list((study.path / "tables" / "accounts").glob("*.parquet"))) == 1


def _run_with_fault(study_path: Path, fault: str) -> int:
    code = textwrap.dedent(f"""
        import datetime as dt, pyarrow as pa, echoscope
        from echoscope import schema as S
        t = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
        s = echoscope.open_study({str(study_path)!r})
        s.load_arrow({{"posts": pa.table({{"post_id": ["10", "11"], "account_id": ["x", "y"],
                       "created_at": pa.array([t, t], S.TS), "kind": ["original", "repost"],
                       "ref_post_id": [None, "10"]}}),
                      "accounts": pa.table({{"account_id": ["x"], "handle": ["changed"]}})}}, name="faulty")
    """)
    env = dict(os.environ, ECHOSCOPE_FAULT=fault)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True).returncode


@pytest.mark.parametrize("fault", ["before-commit", "mid-commit", "before-manifest"])
def test_a_run_killed_before_the_manifest_swap_leaves_the_study_as_it_was(study, fault):
    study.load_arrow({"posts": posts([("1", "a", 0, "original", None)]),
                      "accounts": pa.table({"account_id": ["x"], "handle": ["orig"]})}, name="base")
    before_manifest = (study.path / "manifest.json").read_bytes()
    before = snapshot(study)
    assert _run_with_fault(study.path, fault) == 137
    assert (study.path / "manifest.json").read_bytes() == before_manifest
    assert snapshot(echoscope.open_study(study.path)) == before
    # the next run sweeps the orphans and gives the same tables as an uninterrupted run
    assert _run_with_fault(study.path, "none") == 0
    after = echoscope.open_study(study.path)
    on_disk = {p.relative_to(after.path).as_posix() for p in (after.path / "tables").rglob("*.parquet")}
    listed = {p for t in after.manifest().as_dict()["tables"].values() for p in t["parts"]}
    assert on_disk == listed
    assert after.rows("posts") == 3
    assert [r["handle"] for r in after.to_arrow("accounts").to_pylist()] == ["changed"]


def test_a_run_killed_after_the_manifest_swap_is_complete(study):
    assert _run_with_fault(study.path, "after-manifest") == 137
    s = echoscope.open_study(study.path)
    assert s.rows("posts") == 2 and s.info()["tables"]["engagements"]["rows"] == 1


def test_second_writer_is_refused_while_the_lock_is_held(study):
    with study.lock(), pytest.raises(StudyError, match="another echoscope process"):
        study.load_arrow({"posts": posts([("1", "a", 0, "original", None)])})


def test_results_are_replaced_atomically(study):
    study.write_result("amplification_test", pa.table({"x": [1, 2]}), meta={"p": 1})
    study.write_result("amplification_test", pa.table({"x": [3]}))
    assert study.to_arrow("amplification_test").column("x").to_pylist() == [3]
    assert len(list((study.path / "results" / "amplification_test").glob("*.parquet"))) == 1
    with pytest.raises(ConfigError):
        study.write_result("bad name!", pa.table({"x": [1]}))


def test_targets_resolve_handles_against_accounts(study):
    from echoscope.store.targets import add_targets, parse_target, remove_targets

    assert parse_target("@AmbLiuXiaoMing") == (None, "AmbLiuXiaoMing")
    assert parse_target("id:42") == ("42", None) and parse_target("123") == ("123", None)
    assert parse_target("did:plc:abc") == ("did:plc:abc", None)
    add_targets(study, [(None, "AmbX", "diplomats", None), ("99", None, "state media", "state-affiliated")])
    study.load_arrow({"accounts": pa.table({"account_id": ["7"], "handle": ["ambx"],
                                            "affiliation_label": ["China government official"]})})
    rows = {r["handle"]: r for r in study.sql('SELECT * FROM targets').to_pylist() if r["handle"]}
    # the handle matches case-insensitively and picks up the account's id and platform label
    assert rows["AmbX"]["account_id"] == "7" and rows["AmbX"]["label"] == "China government official"
    add_targets(study, [(None, "ambx", "ambassadors", None)])  # same target, new group
    groups = study.sql('SELECT "group" FROM targets WHERE account_id = \'7\'').column(0).to_pylist()
    assert groups == ["ambassadors"]
    assert remove_targets(study, ["@AMBX"]) == 1
    assert study.sql("SELECT count(*) FROM targets").column(0)[0].as_py() == 1


def test_table_names_are_checked(study):
    with pytest.raises(ConfigError, match="no table 'nope'"):
        study.table("nope")
    with pytest.raises(ConfigError, match="cannot load"):
        study.load_arrow({"nope": pa.table({"x": [1]})})


def test_manifest_lists_content_hashes(study, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("post_id,account_id,created_at,kind\n1,a,2020-01-01T00:00:00Z,original\n")
    rep = study.ingest([str(f)], format="csv")
    assert rep[0]["loaded"] == 1
    entry = study.manifest().files()[0]
    assert entry["sha256"] == hashlib.sha256(f.read_bytes()).hexdigest()
    # same content again, under another name: a no-op
    g = tmp_path / "copy.csv"
    g.write_bytes(f.read_bytes())
    again = study.ingest([str(g)], format="csv")
    assert again[0]["status"] == "skipped" and study.rows("posts") == 1


def test_spark_target_resolution(tmp_path, monkeypatch):
    # explicit arguments > ECHOSCOPE_SPARK_* > [spark] in echoscope.toml > local[2] on the study directory
    from echoscope.engine import parse_spark_conf, spark_target

    s = echoscope.init_study(tmp_path / "s")
    monkeypatch.delenv("ECHOSCOPE_SPARK_MASTER", raising=False)
    monkeypatch.delenv("ECHOSCOPE_SPARK_DATA_ROOT", raising=False)
    t = spark_target(s)
    assert (t.master, t.data_root, t.conf, t.local) == ("local[2]", None, (), True)
    assert t.part_uri(s, "tables/posts/part-1.parquet") == str(s.path / "tables/posts/part-1.parquet")
    with open(s.path / "echoscope.toml", "a") as fh:
        fh.write('\n[spark]\nmaster = "spark://head:7077"\ndata_root = "s3a://b/studies/s/"\n'
                 '[spark.conf]\n"spark.executor.memory" = "8g"\n')
    t = spark_target(s)
    assert (t.master, t.local) == ("spark://head:7077", False)
    assert t.part_uri(s, "tables/posts/part-1.parquet") == "s3a://b/studies/s/tables/posts/part-1.parquet"
    assert t.conf == (("spark.executor.memory", "8g"),)
    monkeypatch.setenv("ECHOSCOPE_SPARK_MASTER", "yarn")
    assert spark_target(s).master == "yarn"
    t = spark_target(s, master="local[4]", conf=["spark.executor.memory=16g", "spark.a=b"])
    assert t.master == "local[4]" and dict(t.conf) == {"spark.executor.memory": "16g", "spark.a": "b"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_spark_conf(["spark.executor.memory"])

"""The same measure expressions on Spark and on DuckDB give identical tables (one Spark session per module).

Spark is the optional ``spark`` extra; a local session takes ~30-80 s to start on 2 cores, so this module is
marked slow and uses one small study. Identical means: same columns, same types, same rows in the same order,
equal values (ratios are formed from integer sums the same way on both engines; latency quantiles and means
are rounded to microseconds in the expressions, see docs/measures.md).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from measures_fixture import make_study

from echoscope.measures import measures

pytest.importorskip("pyspark", reason="the spark extra is not installed (pip install 'echoscope[spark]')")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pa.Table], dict[str, pa.Table]]:
    study = make_study(tmp_path_factory.mktemp("spark") / "study")
    # flagged-accounts results, so the optional joins run on both engines too
    _flag(study)
    duck = measures(study, top="30%").tables()
    spark = measures(study, top="30%", engine="spark").tables()
    return duck, spark


def _flag(study: Any) -> None:
    """a1, a2 coordinated; a3 and a6 high risk by the score's own line (a4 not, though its score is higher)."""
    study.write_result("coord_members", pa.table({"cluster_id": ["c1", "c1"], "account_id": ["a1", "a2"]}))
    study.write_result("account_scores", pa.table({"account_id": ["a3", "a4", "a6"], "score": [0.1, 0.9, 0.2],
                                                   "high_risk": [True, False, True]}))


@pytest.mark.parametrize("name", ["summary", "superspreaders", "lorenz", "rapidfire", "latency"])
def test_spark_equals_duckdb(both: tuple[dict[str, pa.Table], dict[str, pa.Table]], name: str) -> None:
    duck, spark = both[0][name], both[1][name]
    assert duck.num_rows > 0
    assert spark.schema.names == duck.schema.names
    for f in duck.schema:
        assert spark.schema.field(f.name).type == f.type, f.name
    assert spark.to_pylist() == duck.to_pylist()


def test_spark_hand_values(both: tuple[dict[str, pa.Table], dict[str, pa.Table]]) -> None:
    rows = both[1]["summary"].to_pylist()
    study = [r for r in rows if r["scope"] == "study" and r["week"] is None][0]
    # the fixture's hand-computed figures (see test_measures.py): 9 of 14 engagements from later-suspended
    # accounts, the top 30% (3 accounts: a1 5, a2 3, a3 2) hold 10 of 14, a1+a2 coordinated hold 8 of 14
    assert study["engagements"] == 14
    assert study["share_suspended"] == pytest.approx(9 / 14)
    assert study["top_share"] == pytest.approx(10 / 14)
    assert study["share_coordinated"] == pytest.approx(8 / 14)
    # the count columns (see test_measures_run.py): 9 engagements and 8 of 10 reposts from later-suspended
    # accounts; flagged (not suspended, coordinated or high risk): a3 2 + a6 1 (a1, a2 are suspended first);
    # organic: a4 1 + a7 1; the top 30% hold a1 5 + a2 3 + a3 2 = 10
    assert (study["engagements_suspended"], study["reposts_suspended"], study["engagements_flagged"],
            study["engagements_organic"], study["top_engagements"]) == (9, 8, 3, 2, 10)
    assert study["share_high_risk"] == pytest.approx(3 / 14)  # the high_risk column, not score >= 0.7
    lat = [r for r in both[1]["latency"].to_pylist() if r["scope"] == "study"]
    assert [r["engagements"] for r in lat] == [0, 4, 3, 2, 1, 2, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_spark_reads_a_copy_of_the_study_at_data_root(tmp_path: Path,
                                                      both: tuple[dict[str, pa.Table], dict[str, pa.Table]]) -> None:
    # production layout: the study directory synced to an object store, executors read it there
    # (file:// stands in for s3a:// here); the results equal DuckDB's on the local study
    import shutil

    from echoscope.errors import ConfigError

    study = make_study(tmp_path / "study")
    _flag(study)
    mirror = tmp_path / "bucket" / "studies" / "mystudy"
    shutil.copytree(study.path, mirror)
    got = measures(study, top="30%", engine="spark", data_root=mirror.as_uri()).to_arrow("summary")
    assert got.to_pylist() == both[0]["summary"].to_pylist()
    # a copy that misses parts (not synced) is a one-line error naming the table and the fix
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"missing under .*empty.*sync"):
        measures(study, engine="spark", data_root=(tmp_path / "empty").as_uri())

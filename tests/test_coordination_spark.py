"""Coordination on Spark equals coordination on DuckDB (one Spark session for the module).

The Spark engine runs the data-sized stages (actions, pruning, dense-window guard, pairing within the window,
per-pair aggregates) in Spark SQL and hands the same tables to the shared downstream code (see
src/echoscope/coordination/spark.py). So the tests compare, on a simulated study and on the real
``russian_coord_tweets`` data of the conformance tests: the hand-over tables themselves (stage level), and the
whole result -- edges with weights and p-values, clusters, members, evidence, the run's counts. A local
Spark session takes ~20-40 s to start on 2 cores: the module is marked slow and makes one Spark run per
study (the hand-over tables are read back from the DuckDB connection the Spark run wrote them into).
"""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import echoscope
from echoscope.coordination import CoordParams, coordinate
from echoscope.errors import ConfigError

from .conftest import shared

pytest.importorskip("pyspark", reason="the spark extra is not installed (pip install 'echoscope[spark]')")

pytestmark = pytest.mark.slow

#: floating-point sums (weight_idf, mean gaps, null means) may differ in the last bits (summation order)
REL = 1e-9


def _same_table(a: pa.Table, b: pa.Table, what: str) -> None:
    assert a.schema == b.schema, what
    assert a.num_rows == b.num_rows, what
    for name in a.column_names:
        x, y = a[name].to_pylist(), b[name].to_pylist()
        if pa.types.is_floating(a.schema.field(name).type):
            for i, (u, v) in enumerate(zip(x, y)):
                if u is None or v is None or (math.isnan(u) and math.isnan(v)):
                    assert (u is None) == (v is None), (what, name, i, u, v)
                else:
                    assert v == pytest.approx(u, rel=REL, abs=1e-12), (what, name, i)
        else:
            assert x == y, (what, name)


def _same_value(x, y, what: str) -> None:
    """Equal, floats to REL (the p-value cut-off is taken from null means that are float sums)."""
    if isinstance(x, dict) and isinstance(y, dict):
        assert x.keys() == y.keys(), what
        for k in x:
            _same_value(x[k], y[k], f"{what}.{k}")
    elif isinstance(x, float) and isinstance(y, float):
        assert x == pytest.approx(y, rel=REL, abs=1e-15), what
    else:
        assert x == y, what


def _sim_study(root):
    from echoscope.simulate import make_config, simulate, write

    # 2,000 accounts, 20,000 engagements: ~13,500 reposts, ~750 candidate edges, campaign clusters found
    write(simulate(make_config(accounts=2000, engagements=20000, seed=3)), root / "sim", "study")
    return echoscope.open_study(root / "sim")


def _russian_study(root):
    # as in test_coordination_conformance: object:content keeps every share a distinct post
    x = pq.read_table(shared("coortweet", "russian_coord_tweets.parquet"))
    x = pa.table({c: x[c].cast(pa.string()) if c != "timestamp_share" else x[c] for c in x.column_names})
    s = echoscope.init_study(root / "rus")
    s.load_arrow({"posts": pa.table({
        "post_id": pc.binary_join_element_wise(x["object_id"], x["content_id"], ":"),
        "account_id": x["account_id"], "ref_post_id": x["object_id"],
        "created_at": pc.cast(pc.cast(pc.multiply(x["timestamp_share"], 1e6), pa.int64()),
                              pa.timestamp("us", tz="UTC")),
        "kind": pa.array(["repost"] * x.num_rows)})})
    return s


#: study -> parameters run on both engines. The simulated study runs co-retweet with the default parameters
#: (object-timeline null with 20 shuffles, held-out validation, clusters). The real data runs a dense-window cap of 3 so the guard
#: drops actions (whole buckets and exact counts in ambiguous ones; measured on DuckDB: 305 actions) and
#: reports its top objects, with the account-shuffle null (27 candidate edges, 19 judged, 15 clusters).
CASES = {
    "sim": (_sim_study, CoordParams(behaviours=("co-retweet",))),
    "russian": (_russian_study, CoordParams(behaviours=("co-retweet",), window=60, min_weight=2, min_repeat=2, max_window_actions=3,
                                            null="account", reps=10)),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    from echoscope.coordination.network import echoscope_edges
    from echoscope.coordination.spark import HANDOVER, coordinate_spark

    root = tmp_path_factory.mktemp("cspark")
    keys = {"_ca_acc": "aid", "_ca_obj": "oid", "_ca_idf": "oid", "_ca_act": "eid", "_ca_pin": "eid",
            "_ca_abo": "a, b, oid", "_ca_raw": "rowid"}
    out = {}
    for name, (make, params) in CASES.items():
        study = make(root)
        con = study.con().con
        duck = coordinate(study, params, write=False)
        # the DuckDB builder's temp tables at the hand-over point, left on the study's connection
        built = echoscope_edges(con, "co-retweet", CoordParams(**{**params.__dict__, "null": "none"}), lambda e: None)
        dtabs = {t: con.execute(f"SELECT * FROM {t} ORDER BY {keys[t]}").fetch_arrow_table() for t in HANDOVER}
        # the Spark run writes its hand-over tables into the same connection under the same names
        spark = coordinate_spark(study, params, write=False)
        stabs = {t: con.execute(f"SELECT * FROM {t} ORDER BY {keys[t]}").fetch_arrow_table() for t in HANDOVER}
        out[name] = (duck, spark, dtabs, stabs, built.stats, spark.summary["behaviours"]["co-retweet"])
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_handover_tables_equal(runs, case):
    duck, spark, dtabs, stabs, dstats, sstats = runs[case]
    for t, d in dtabs.items():
        assert d.num_rows > 0, t
        _same_table(d, stabs[t], t)
    for k in ("actions", "accounts", "accounts_after_pruning", "actions_after_pruning", "guard", "actions_paired",
              "pairs_within_window", "pair_object_rows"):
        assert sstats[k] == dstats[k], k


def test_guard_ran_on_real_data(runs):
    # the cap of 3 drops actions on the real data (and nothing is dropped at the default cap of 200, see
    # test_coordination_conformance): the Spark guard reports the same drops and top objects as DuckDB
    g = runs["russian"][1].summary["behaviours"]["co-retweet"]["guard"]
    assert g["actions_dropped"] > 0 and len(g["top_objects"]) == 10
    assert g == runs["russian"][0].summary["behaviours"]["co-retweet"]["guard"]


@pytest.mark.parametrize("case", list(CASES))
def test_results_equal(runs, case):
    duck, spark = runs[case][:2]
    assert duck.edges.num_rows > 0 and duck.summary["significant_edges"] > 0
    _same_table(duck.edges, spark.edges, "edges")  # weights, p-values and judgements included
    # evidence rows come ordered by (account_a, account_b, gap_s); rows with equal gaps come in any order
    # on DuckDB itself, so both are put in one full order first
    key = [(c, "ascending") for c in ("account_a", "account_b", "gap_s", "object_id", "action_a", "action_b")]
    _same_table(duck.evidence.sort_by(key), spark.evidence.sort_by(key), "evidence")
    _same_table(duck.clusters, spark.clusters, "clusters")
    _same_table(duck.members, spark.members, "members")
    assert [(c["cluster_id"], c["accounts"]) for c in spark.coordinated_clusters()] == \
        [(c["cluster_id"], c["accounts"]) for c in duck.coordinated_clusters()]
    db, sb = duck.summary["behaviours"]["co-retweet"], spark.summary["behaviours"]["co-retweet"]
    for k in ("candidate_edges", "significant_edges", "expected_false_edges", "p_threshold", "null", "guard"):
        _same_value(sb.get(k), db.get(k), k)
    assert spark.summary["validation"] == duck.summary["validation"]


def test_sim_finds_coordinated_clusters(runs):
    # the defaults find the simulated campaigns' clusters on both engines (a non-trivial comparison)
    assert runs["sim"][1].summary["coordinated_clusters"] >= 1
    assert runs["sim"][1].flagged_accounts() == runs["sim"][0].flagged_accounts() != set()


@pytest.mark.parametrize("kw, needle", [
    ({"behaviours": ("co-link",)}, "co-link"),
    ({"semantics": "cnt"}, "--semantics cnt"),
])
def test_unsupported_on_spark_is_a_config_error(kw, needle):
    from echoscope.coordination.spark import check_supported

    with pytest.raises(ConfigError, match=needle):
        check_supported(CoordParams(**kw))


def test_engagement_behaviours_equal(tmp_path_factory):
    """rapid-fire, early-amplify and co-latency (actions over the engagements view: a post joined with the post
    it answers, for the latency) fused on both engines: the same edges, evidence, clusters and validation."""
    from echoscope.coordination.spark import coordinate_spark

    study = _sim_study(tmp_path_factory.mktemp("cspark_eng"))
    params = CoordParams(behaviours=("rapid-fire", "early-amplify", "co-latency"))
    duck = coordinate(study, params, write=False)
    spark = coordinate_spark(study, params, write=False)
    assert duck.summary["significant_edges"] > 0 and duck.flagged_accounts()
    for b in params.behaviours:
        db, sb = duck.summary["behaviours"][b], spark.summary["behaviours"][b]
        for k in ("actions", "accounts", "accounts_after_pruning", "actions_after_pruning", "guard",
                  "actions_paired", "pairs_within_window", "pair_object_rows", "candidate_edges",
                  "significant_edges", "null"):
            _same_value(sb.get(k), db.get(k), f"{b}.{k}")
        assert db["actions"] > 0 and db["candidate_edges"] > 0, b
    assert sum(duck.summary["behaviours"][b]["significant_edges"] for b in params.behaviours) > 0
    _same_table(duck.edges, spark.edges, "edges")
    # the action ids are numbered by action id on both engines: the evidence (closest action pairs, ties to
    # the smallest ids) is the same rows; rows with equal gaps come in any order, so both are put in one order
    key = [(c, "ascending") for c in ("behaviour", "account_a", "account_b", "gap_s", "object_id")]
    _same_table(duck.evidence.sort_by(key), spark.evidence.sort_by(key), "evidence")
    _same_table(duck.clusters, spark.clusters, "clusters")
    _same_table(duck.members, spark.members, "members")
    assert spark.summary["validation"] == duck.summary["validation"]
    assert spark.flagged_accounts() == duck.flagged_accounts()


def test_spark_default_runs_the_supported_part_of_the_default_set():
    # a default set is cut to what Spark runs, the rest named; a named behaviour Spark lacks is refused
    from echoscope.coordination.spark import SPARK_BEHAVIOURS, check_supported, spark_default

    dflt = CoordParams()
    assert dflt.default_behaviours and "shared-ip" in dflt.behaviours
    params, skipped = spark_default(dflt)
    assert params.behaviours == tuple(b for b in dflt.behaviours if b in SPARK_BEHAVIOURS) != ()
    assert set(skipped) == set(dflt.behaviours) - set(SPARK_BEHAVIOURS) != set()
    check_supported(params)  # no error
    named = CoordParams(behaviours=("co-retweet", "co-text"))
    assert spark_default(named) == (named, {})
    with pytest.raises(ConfigError, match="co-text"):
        check_supported(named)

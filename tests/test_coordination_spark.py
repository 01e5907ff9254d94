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


def _duck_handover(con) -> dict[str, pa.Table]:
    """The hand-over tables on a DuckDB connection, each in the order of its key."""
    from echoscope.coordination.spark import HANDOVER

    return {t: con.execute(f"SELECT * FROM {t} ORDER BY {KEYS[t]}").fetch_arrow_table() for t in HANDOVER}


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
#: (object-timeline null with 20 shuffles, held-out validation, clusters). The real data runs a dense-window cap of 3
#: so the guard drops actions (whole buckets and exact counts in ambiguous ones; measured on DuckDB: 305 actions) and
#: reports its top objects, with the account-shuffle null (27 candidate edges, 19 judged, 15 clusters).
CASES = {
    "sim": (_sim_study, CoordParams(behaviours=("co-retweet",))),
    "russian": (_russian_study, CoordParams(behaviours=("co-retweet",), window=60, min_weight=2, min_repeat=2,
                                            max_window_actions=3, null="account", reps=10)),
}


#: the hand-over tables' keys: both engines' tables are compared in this order (``_ca_raw`` in action-id order)
KEYS = {"_ca_acc": "aid", "_ca_obj": "oid", "_ca_idf": "oid", "_ca_act": "eid", "_ca_pin": "eid",
        "_ca_abo": "a, b, oid", "_ca_raw": "rowid"}


@pytest.fixture(scope="module")
def sim_study(tmp_path_factory: pytest.TempPathFactory):
    """The simulated study, written once for the module's tests (none of them writes into it)."""
    return _sim_study(tmp_path_factory.mktemp("cspark_sim"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, sim_study) -> dict[str, tuple]:
    from echoscope.coordination.api import coordinate_spark
    from echoscope.coordination.network import echoscope_edges

    root = tmp_path_factory.mktemp("cspark")
    out = {}
    for name, (make, params) in CASES.items():
        study = sim_study if name == "sim" else make(root)
        con = study.con().con
        duck = coordinate(study, params, write=False)
        # the DuckDB builder's temp tables at the hand-over point, left on the study's connection
        built = echoscope_edges(con, "co-retweet", CoordParams(**{**params.__dict__, "null": "none"}), lambda e: None)
        dtabs = _duck_handover(con)
        # the Spark run writes its hand-over tables into the same connection under the same names
        spark = coordinate_spark(study, params, write=False)
        stabs = _duck_handover(con)
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
    ({"semantics": "cnt"}, "--semantics cnt"),
    ({"semantics": "coortweet"}, "--semantics coortweet"),
])
def test_unsupported_on_spark_is_a_config_error(kw, needle):
    from echoscope.coordination.spark import check_supported

    with pytest.raises(ConfigError, match=needle):
        check_supported(CoordParams(**kw))


def test_engagement_behaviours_equal(sim_study):
    """rapid-fire, early-amplify and co-latency (actions over the engagements view: a post joined with the post
    it answers, for the latency) fused on both engines: the same edges, evidence, clusters and validation."""
    from echoscope.coordination.api import coordinate_spark

    study = sim_study
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


def test_spark_default_runs_the_whole_default_set():
    # every behaviour runs on Spark now: the default set is not cut (a future behaviour that Spark lacks would
    # be left out of a default set with a note, and refused when named)
    from echoscope.coordination import spark as sp

    dflt = CoordParams()
    assert dflt.default_behaviours and {"co-text", "shared-ip"} <= set(dflt.behaviours)
    assert set(CoordParams(behaviours=("all",)).behaviours) <= set(sp.SPARK_BEHAVIOURS)
    assert sp.spark_default(dflt) == (dflt, {})
    sp.check_supported(dflt)  # no error


def test_spark_default_cuts_what_spark_lacks(monkeypatch):
    from echoscope.coordination import spark as sp

    monkeypatch.setattr(sp, "SPARK_BEHAVIOURS", tuple(b for b in sp.SPARK_BEHAVIOURS if b != "co-text"))
    dflt = CoordParams()
    params, skipped = sp.spark_default(dflt)
    assert params.behaviours == tuple(b for b in dflt.behaviours if b != "co-text") and set(skipped) == {"co-text"}
    sp.check_supported(params)
    named = CoordParams(behaviours=("co-retweet", "co-text"))
    assert sp.spark_default(named) == (named, {})
    with pytest.raises(ConfigError, match="co-text"):
        sp.check_supported(named)


def test_normalisation_equal_to_duckdb():
    """URL and text normalisation (and the lower-casing of hashtags and mentions) give DuckDB's results.

    Java's regular expressions and case mapping differ from DuckDB's RE2 and utf8proc (see
    spark.duckdb_unicode): the URLs below hit each step of the URL macro (scheme, www., upper-case host,
    fragment, tracking parameters, trailing slashes, spaces around, line breaks that Java's ``$`` and ``.``
    treat differently), the texts each step of the text macro; and every Unicode code point is lower-cased
    and text-normalised between letters (a code point Java and RE2 class differently would change the
    text: e.g. the emoji U+1FAE0, a symbol to RE2 and unassigned to Java 17).
    """
    import duckdb

    from echoscope.coordination import coactions as C
    from echoscope.coordination.dialect import lower_sql as _lower
    from echoscope.coordination.dialect import text_sql, url_sql
    from echoscope.engine import spark_session, spark_target

    urls = ["https://www.Example.com/a/?utm_source=x&id=3#top", "HTTP://WWW.EXAMPLE.COM/A//", "example.com",
            "www.x.org/?", "https://x.org/?utm_medium=1&UTM_Campaign=2&fbclid=3&s=4&si=&sid=5&a=&&b=1#f#g",
            "  https://x.org/p?q=1  ", "\u00a0https://x.org/p\u3000", "\thttps://x.org/a\t", "ftp+x.y-z://h/p/",
            "https://x.org/p?a=1\n#frag", "https://x.org/p\r?a=1#x\u2028y", "https://x.org/p?a=1\u0085b",
            "https://x.org/a#b\n", "https://x.org/a/\n/", "mailto:bob@x.org", "https://www.www.x.org",
            "https://x.org/p?ref_src=a&ref_url=u&_ga=1&spm=2&cmpid=3&__twitter_impression=true&keep=1",
            "https://x.org:8080/a/b/?", "//x.org/a", "https://İSTANBUL.com/ΟΔΟΣ/?utm_x=1", "https://x.org/?UTM_İ=1&z",
            "https://x.org/#", "#", "?", "/", "https://x.org/a?b=c?d=e#f?g", "https://user@WWW.x.org/a",
            "https://x.org/a?s", "https://x.org/a?s=", "https://x.org/a?ss=1", "https://ΣΑΣ.gr/"]
    texts = ["RT @bob: Hello https://x.org/a WORLD!!", "x rt @a: hi", "rt  @b: z", "e-mail me@x.org now",
             "中文测试，你好！ ひらがな カタカナ ｶﾀｶﾅ", "a\u000bb\u00a0c\u2003d", "emoji 🫠🙂 ok 🫶🏽", "  ΟΔΟΣ  İ ",
             "\u3000x\u00a0", "http://a\u000bb c", "𐐀𐐁 ΣΑΣ."]
    # every code point (no surrogates) between letters, 2,000 to a string
    cps = [chr(i) for i in range(1, 0x110000) if not 0xD800 <= i < 0xE000]
    every = ["".join(f"a{c}" for c in cps[j:j + 2000]) + "a" for j in range(0, len(cps), 2000)]
    con = duckdb.connect()
    C.install_macros(con)
    con.register("_u", pa.table({"u": urls}))
    con.register("_t", pa.table({"t": texts + every}))
    spark = spark_session(spark_target())
    spark.createDataFrame(pa.table({"u": urls})).createOrReplaceTempView("_t_urls")
    spark.createDataFrame(pa.table({"t": texts + every})).createOrReplaceTempView("_t_texts")
    try:
        d_urls = [r[0] for r in con.execute("SELECT echo_norm_url(u) FROM _u").fetchall()]
        s_urls = [r[0] for r in spark.sql(f"SELECT {url_sql('u')} FROM _t_urls").collect()]
        assert d_urls[:2] == ["example.com/a?id=3", "example.com/A"]  # the macro's own examples
        assert [(u, s) for u, d, s in zip(urls, d_urls, s_urls) if d != s] == []
        d_txt = con.execute("SELECT echo_norm_text(t), lower(t) FROM _t").fetchall()
        s_txt = spark.sql(f"SELECT {text_sql('t')}, {_lower('t')} FROM _t_texts").collect()
        assert d_txt[0][0] == "hello world"
        assert [(i, d, tuple(s)) for i, (d, s) in enumerate(zip(d_txt, s_txt)) if d != tuple(s)] == []
    finally:
        spark.catalog.dropTempView("_t_urls")
        spark.catalog.dropTempView("_t_texts")


def _tricky_study(root):
    """A small study where four accounts share links, hashtags, mentions, texts and logins written differently.

    c1..c4 post on four stories K, each account a variant of the same URL (scheme and www. or not, upper-case
    host, fragment, utm/fbclid/s parameters, trailing slashes, spaces around; each normalises to
    ``siteK.com/story/K?id=K``), the same hashtags in other case and order (one list with a null), the same
    account mentioned in other case, near-identical texts (English with emoji, Chinese, Japanese), within
    seconds of each other; they log in from one IP and one device (times with microseconds, several logins
    each). n1..n6 post and log in alone. One c1 post carries its URL twice (two equal actions).
    """
    import datetime as dt

    t0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    accounts = ["c1", "c2", "c3", "c4"]

    def url(j: int, k: int) -> str:
        return [f"https://www.site{k}.com/story/{k}?utm_source=tw&id={k}#top",
                f"HTTP://WWW.SITE{k}.COM/story/{k}/?id={k}&fbclid=abc",
                f"site{k}.com/story/{k}//?id={k}&utm_medium=x",
                f" https://Site{k}.com/story/{k}?id={k}&s=1 "][j]

    def tags(j: int, k: int) -> list:
        return [["Vote", f"TOPIC{k}", "vote"], [f"topic{k}", "VOTE"], [f"Topic{k}", None, "vote"],
                ["VOTE", f"topic{k}", f"Topic{k}"]][j]

    def mentions(j: int, k: int) -> list[str]:
        return [[f"Rep{k}", f"rep{k}"], [f"REP{k}"], [f"rep{k}", "Alice"], [f"Rep{k}"]][j]

    # the second English text has one word more: a near-duplicate (Jaccard 0.9 of the 3-shingles), merged
    texts = [["Great speech by the ambassador today, everyone should watch it 🫠",
              "great speech by the ambassador today everyone should watch it now!",
              "Great speech by the ambassador today - everyone should watch it 🫠🫠",
              "GREAT speech by the ambassador today, everyone should watch it"],
             ["大使今天的演讲很精彩，大家都应该看！", "大使今天的演讲很精彩 大家都应该看",
              "大使今天的演讲很精彩，大家都应该看。", "大使今天的演讲很精彩！大家都应该看！"],
             ["今日の大使のスピーチは素晴らしかった。みんな見るべきです",
              "今日の大使のスピーチは素晴らしかった！みんな見るべきです",
              "今日の大使のスピーチは素晴らしかった みんな見るべきです",
              "今日の大使のスピーチは素晴らしかった。みんな見るべきです！"],
             ["Vote for the new park at the council meeting tonight",
              "vote for the new park at the council meeting tonight!",
              "Vote for the new park at the council meeting tonight ✊",
              "VOTE for the new park at the council meeting tonight"]]
    rows = []
    for k in range(4):
        for j, a in enumerate(accounts):
            ts = t0 + dt.timedelta(hours=6 * k, seconds=7 * j + k)
            urls = [url(j, k)] + ([url(j, k).replace("#top", "#other")] if (j, k) == (0, 1) else [])
            rows.append({"post_id": f"{a}-{k}", "account_id": a, "created_at": ts, "kind": "original",
                         "text": texts[k][j], "urls": urls, "hashtags": tags(j, k), "mentions": mentions(j, k)})
    for i in range(6):
        a = f"n{i + 1}"
        for k in range(3):
            ts = t0 + dt.timedelta(hours=5 * k + i, seconds=13 * i)
            rows.append({"post_id": f"{a}-{k}", "account_id": a, "created_at": ts, "kind": "original",
                         "text": f"my own words number {k} from {a} today", "urls": [f"https://n.org/{a}/{k}"],
                         "hashtags": ["Solo", f"t{k}"], "mentions": ["bob"] if k == 0 else []})
    posts = pa.Table.from_pylist(rows)
    # login times differ by distinct gaps between the campaign accounts (equal gaps would leave the cluster
    # summary's choice of its closest pairs to the order rows come in, on either engine)
    logins = [{"account_id": a, "ts": t0 + dt.timedelta(days=d, microseconds=123450 * (j + 1) ** 2 + d),
               "ip_hash": "ip-shared" if a.startswith("c") else f"ip-{a}",
               "device_hash": "dev-shared" if a.startswith("c") else f"dev-{a}-{d}"}
              for j, a in enumerate(accounts + [f"n{i + 1}" for i in range(6)]) for d in range(3)]
    s = echoscope.init_study(root / "tricky")
    s.load_arrow({"posts": posts, "logins": pa.Table.from_pylist(logins)})
    return s


#: the behaviours added to the Spark engine after the reposts and engagements: lists, texts and logins
LIST_BEHAVIOURS = ("co-link", "co-hashtag", "co-mention", "co-text", "shared-ip")


@pytest.mark.parametrize("case", ["sim", "tricky"])
def test_list_text_login_behaviours_equal(case, sim_study, tmp_path_factory, monkeypatch):
    """co-link, co-hashtag, co-mention and shared-ip fused on both engines: the hand-over tables of each
    behaviour (actions numbered alike, the same objects after normalisation) and the whole result. The
    tricky study (every variant above normalises to one object) runs them all without a null, so every
    candidate edge is judged and has evidence; the simulated one runs those where it has significant edges,
    co-mention (4,231 actions) and shared-ip (4,428; 102 judged edges), with the defaults (object null, 20
    shuffles); its few links and hashtag sets (1,026 and 376 actions) judge no edge and cost Spark time."""
    from echoscope.coordination import spark as sp
    from echoscope.coordination.api import coordinate_spark
    from echoscope.coordination.network import behaviour_params, echoscope_edges

    if case == "sim":
        study, params = sim_study, CoordParams(behaviours=("co-mention", "shared-ip"))
    else:
        study = _tricky_study(tmp_path_factory.mktemp("cspark_tricky"))
        params = CoordParams(behaviours=LIST_BEHAVIOURS, null="none")
    got: dict[str, dict[str, pa.Table]] = {}
    run = sp.spark_candidates

    def record(spark, study_, behaviour, params_, progress):
        tables, stats = run(spark, study_, behaviour, params_, progress)
        got[behaviour] = tables
        return tables, stats

    monkeypatch.setattr(sp, "spark_candidates", record)
    duck = coordinate(study, params, write=False)
    spark = coordinate_spark(study, params, write=False)
    con = study.con().con
    for b in params.behaviours:
        bp = behaviour_params(b, CoordParams(**{**params.__dict__, "null": "none"}))
        echoscope_edges(con, b, bp, lambda e: None)
        for t, d in _duck_handover(con).items():
            s = got[b][t]  # _ca_raw comes in action-id order, the others are put in their key's
            if t != "_ca_raw":
                s = s.sort_by([(c.strip(), "ascending") for c in KEYS[t].split(",")])
            _same_table(d, s, f"{b}.{t}")
        db, sb = duck.summary["behaviours"][b], spark.summary["behaviours"][b]
        for k in ("actions", "accounts", "accounts_after_pruning", "actions_after_pruning", "guard",
                  "actions_paired", "pairs_within_window", "pair_object_rows", "candidate_edges",
                  "significant_edges", "null", "p_threshold", "expected_false_edges"):
            _same_value(sb.get(k), db.get(k), f"{b}.{k}")
        assert db["candidate_edges"] > 0, b
    _same_table(duck.edges, spark.edges, "edges")
    # actions are numbered alike, so the evidence is the same rows (put in one order: equal gaps come in any)
    key = [(c, "ascending") for c in ("behaviour", "account_a", "account_b", "gap_s", "object_id", "action_a",
                                      "action_b")]
    _same_table(duck.evidence.sort_by(key), spark.evidence.sort_by(key), "evidence")
    _same_table(duck.clusters, spark.clusters, "clusters")
    _same_table(duck.members, spark.members, "members")
    assert spark.summary["validation"] == duck.summary["validation"]
    assert spark.flagged_accounts() == duck.flagged_accounts()
    if case == "tricky":
        # each kind of variant met: the four campaign accounts pair on every behaviour, the URL variants are
        # one object per story, the shared-ip evidence names the first login with its microseconds
        ev = duck.evidence
        for b in LIST_BEHAVIOURS:
            pairs = {(a, c) for a, c, x in zip(ev["account_a"].to_pylist(), ev["account_b"].to_pylist(),
                                               ev["behaviour"].to_pylist()) if x == b}
            assert pairs == {(a, c) for a in ("c1", "c2", "c3", "c4") for c in ("c1", "c2", "c3", "c4") if a < c}, b
        objs = set(ev.filter(pc.equal(ev["behaviour"], "co-link"))["object_id"].to_pylist())
        assert objs == {f"site{k}.com/story/{k}?id={k}" for k in range(4)}
        assert set(ev.filter(pc.equal(ev["behaviour"], "co-hashtag"))["object_id"].to_pylist()) == \
            {f"topic{k} vote" for k in range(4)}
        assert set(ev.filter(pc.equal(ev["behaviour"], "co-mention"))["object_id"].to_pylist()) == \
            {f"rep{k}" for k in range(4)}
        # the near-duplicate texts of a story are one object
        assert len(set(ev.filter(pc.equal(ev["behaviour"], "co-text"))["object_id"].to_pylist())) == 4
        ip = ev.filter(pc.and_(pc.equal(ev["behaviour"], "shared-ip"), pc.equal(ev["account_a"], "c1")))
        assert "c1@2024-03-01 12:00:00.12345+00" in ip["action_a"].to_pylist()
    else:
        assert duck.summary["significant_edges"] > 0 and duck.flagged_accounts()

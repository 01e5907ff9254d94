"""Coordination's one shape and one place per rule: run() on an Engine, results with a run id, the backend and
memory limit from the engine's settings, every data-sized stage written once and transpilable to Spark SQL.

None of these start Spark: the Spark backend's dispatch is checked with a recording builder, and the stages'
SQL is transpiled (tests/test_coordination_spark.py runs it on Spark and compares the results).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pyarrow as pa
import pytest

import echoscope
from echoscope.coordination import CoordParams, coordinate, run
from echoscope.coordination import api as coord_api
from echoscope.engine import Engine, open_engine
from echoscope.engine.analysis import AnalysisResult
from echoscope.errors import ConfigError
from echoscope.store.study import open_store

from .test_coordination import _t, _table, planted

SRC = Path(__file__).resolve().parents[1] / "src" / "echoscope" / "coordination"


@pytest.fixture(scope="module")
def bots(tmp_path_factory):
    """The planted study of test_coordination (six bots co-reposting twelve posts within 20 s)."""
    s = echoscope.init_study(tmp_path_factory.mktemp("engine_bots") / "study")
    s.load_arrow(planted())
    return s


def test_run_returns_an_analysis_result_stored_with_a_run_id(bots):
    store = open_store(bots.path)  # the store alone (no facade): run opens and closes its own engine
    res = run(store, CoordParams(behaviours=("co-retweet",), window=60, reps=10))
    assert isinstance(res, AnalysisResult) and res.analysis == "coordination"
    # .tables are the four stored tables by name; the attributes are the same tables
    assert list(res.tables) == ["coord_edges", "coord_clusters", "coord_members", "coord_evidence"]
    assert res.edges is res.tables["coord_edges"] and res.members is res.tables["coord_members"]
    assert res.summary["parameters"]["window"] == 60 and res.summary["backend"] == "duckdb"
    # the six bots are the one coordinated cluster (as in test_coordination)
    assert res.flagged_accounts() == {f"bot{b}" for b in range(6)}
    # one commit with a run id: the run is in the manifest with its parameters and table rows, and it is the
    # latest coordination result
    m = store.manifest()
    assert res.run_id and res.run_id.startswith("c-") and res.summary["run_id"] == res.run_id
    rec = m.run(res.run_id)
    assert rec["analysis"] == "coordination" and rec["parameters"]["behaviours"] == ["co-retweet"]
    assert {n: t["rows"] for n, t in rec["tables"].items()} == {n: t.num_rows for n, t in res.tables.items()}
    assert m.result_meta("coord_clusters")["summary"]["run_id"] == res.run_id
    # a second run keeps the first readable (runs side by side) and replaces the latest tables
    again = coordinate(bots, CoordParams(behaviours=("co-retweet",), window=60, reps=10))
    runs = [r["id"] for r in bots.manifest().runs("coordination")]
    assert runs[-2:] == [res.run_id, again.run_id] and again.run_id != res.run_id
    # write=False stores nothing and has no run id
    before = len(bots.manifest().runs())
    dry = run(bots, CoordParams(behaviours=("co-retweet",), window=60, reps=0), write=False)
    assert dry.run_id is None and len(bots.manifest().runs()) == before


def test_backend_comes_from_the_engine_settings(bots, monkeypatch, cli):
    # [engine] backend = "spark" in echoscope.toml selects the Spark builder for run(), and --engine overrides
    # it; the builder is replaced by a recorder so that no Spark session starts
    seen: list[str] = []

    def spark_stub(study, eng, params, master):
        seen.append(eng.backend if master is None else master)
        return coord_api.ENGINE_BUILDERS["duckdb"](study, eng, params, master)

    monkeypatch.setitem(coord_api.ENGINE_BUILDERS, "spark", spark_stub)
    monkeypatch.setenv("ECHOSCOPE_ENGINE", "spark")  # the environment stands for the study's [engine] backend
    p = CoordParams(behaviours=("co-retweet",), window=60, null="none")
    eng = Engine(bots)
    assert eng.backend == "spark"
    res = run(bots, p, engine=eng, write=False)
    assert seen == ["spark"] and res.summary["backend"] == "spark"
    r = cli("coordinate", bots.path, "-b", "co-retweet", "--null", "none", "--json")
    assert r.exit_code == 0, r.stderr
    assert seen == ["spark", "spark"]
    r = cli("coordinate", bots.path, "-b", "co-retweet", "--null", "none", "--json", "--engine", "duckdb")
    assert r.exit_code == 0 and seen == ["spark", "spark"]
    # the older entry point names its backend itself (duckdb unless asked) and passes the master through
    coordinate(bots, p, write=False)
    coordinate(bots, p, write=False, engine="spark", spark_master="local[1]")
    assert seen == ["spark", "spark", "local[1]"]
    with pytest.raises(ConfigError, match="--engine must be one of duckdb, spark"):
        coordinate(bots, p, engine="flink")


def test_memory_limit_comes_from_the_settings(bots, monkeypatch):
    # the coordination stage runs with its memory limit from echoscope.settings (2.5 GiB by default, 1 GB for
    # ad-hoc queries outside it, restored after the run), or the limit the settings were given (--memory-limit)
    seen: list[str] = []
    builder = coord_api.BUILDERS["echoscope"]

    def recording(con, behaviour, params, progress):
        seen.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
        return builder(con, behaviour, params, progress)

    monkeypatch.setitem(coord_api.BUILDERS, "echoscope", recording)
    p = CoordParams(behaviours=("co-retweet",), null="none")
    for eng, inside, outside in ((open_engine(bots), "2.5 GiB", "953.6 MiB"),
                                 (open_engine(bots, memory_limit="321MB"), "306.1 MiB", "306.1 MiB")):
        with eng:
            run(bots, p, engine=eng, write=False)
            assert seen.pop() == inside  # as DuckDB prints 2.5GiB, 1GB and 321MB
            assert eng.raw.execute("SELECT current_setting('memory_limit')").fetchone()[0] == outside


class TranspilingTables:
    """The DuckDB backend that also transpiles every statement to Spark SQL (no Spark needed): a stage that
    used a DuckDB-only function (hash()) or SQL the transpiler cannot translate fails here."""

    def __init__(self, con) -> None:
        from echoscope.coordination.backends import DuckTables

        self.duck = DuckTables(con)
        self.label = ""
        self.spark_sql: list[str] = []

    def _check(self, sql: str) -> None:
        from echoscope.coordination.dialect import to_spark

        self.spark_sql.append(to_spark(sql, {"_ca_raw": "_cs_ca_raw"}))

    def make(self, name, sql, keep=True):
        self._check(sql)
        self.duck.make(name, sql, keep)

    def actions(self, name, sql, order, *, pushdown=True):
        self._check(sql)
        self.duck.actions(name, sql, order, pushdown=pushdown)

    def scalar(self, sql):
        self._check(sql)
        return self.duck.scalar(sql)

    def rows(self, sql):
        self._check(sql)
        return self.duck.rows(sql)

    def arrow(self, sql):
        self._check(sql)
        return self.duck.arrow(sql)

    def count(self, name):
        return self.duck.count(name)

    def put(self, name, table):
        self.duck.put(name, table)

    def drop(self, *names):
        self.duck.drop(*names)

    def duckdb(self, *names):
        return self.duck.duckdb(*names)


def test_every_stage_transpiles_to_spark_sql(tmp_path):
    """Every behaviour's data-sized stages (actions with normalisation, integer ids, guard with its report,
    pruning, pairing, co-text's merge) go through one backend interface, and every statement they issue
    transpiles to Spark SQL; the tables they leave are the DuckDB builder's (the same code)."""
    from echoscope.coordination.coactions import COACTIONS
    from echoscope.coordination.network import echoscope_edges
    from echoscope.coordination.params import behaviour_params
    from echoscope.coordination.stages import HANDOVER, candidates

    posts = [dict(post_id=f"p{i}", account_id="T", kind="original", created_at=_t(i * 3600),
                  text=f"Great speech by the ambassador number {i} today!", urls=[f"https://www.x.org/{i}?utm_a=1"],
                  hashtags=["A", "b"], mentions=["@M"], media_hashes=[f"img{i}"]) for i in range(4)]
    posts += [dict(post_id=f"r{a}{i}", account_id=a, kind=k, ref_post_id=f"p{i}", created_at=_t(i * 3600 + d),
                   text=f"great speech by the ambassador number {i} today", urls=[f"http://x.org/{i}/"],
                   hashtags=["B", "a"], mentions=["@m"], media_hashes=[f"img{i}"])
              for a, k, d in (("A", "repost", 3), ("B", "reply", 5), ("C", "quote", 8)) for i in range(4)]
    # a viral minute on p0 (the guard drops it with a cap of 5 and reports the object)
    posts += [dict(post_id=f"v{j}", account_id=f"V{j}", kind="repost", ref_post_id="p0", created_at=_t(10 + j))
              for j in range(12)] + [dict(post_id=f"w{j}", account_id=f"V{j}", kind="repost", ref_post_id="p1",
                                          created_at=_t(3600 + 100 + j)) for j in range(12)]
    logins = [dict(account_id=a, ts=_t(d * 86400), ip_hash=f"ip{d}", device_hash=None) for a in "AB" for d in range(3)]
    s = echoscope.init_study(tmp_path / "s")
    s.load_arrow({"posts": _table(posts, {"created_at": pa.timestamp("us", tz="UTC")}),
                  "logins": _table(logins, {"ts": pa.timestamp("us", tz="UTC")})})
    con = Engine(s).raw
    params = CoordParams(behaviours=("all",), null="none", max_window_actions=5, near_duplicate=0.7)
    for b in COACTIONS:
        bp = behaviour_params(b, params)
        t = TranspilingTables(con)
        stats = candidates(t, b, bp, lambda e: None)
        assert stats["actions"] > 0, b
        assert not any("hash(" in q.lower() for q in t.spark_sql), b
        order = {n: "rowid" if n == "_ca_raw" else "ALL" for n in HANDOVER}
        got = {n: con.execute(f"SELECT * FROM {n} ORDER BY {order[n]}").fetch_arrow_table() for n in HANDOVER}
        # the DuckDB builder runs the very same stage code
        built = echoscope_edges(con, b, bp, lambda e: None)
        assert {k: v for k, v in built.stats.items() if k in stats} == stats, b
        for n in HANDOVER:
            assert con.execute(f"SELECT * FROM {n} ORDER BY {order[n]}").fetch_arrow_table().equals(got[n]), (b, n)
        if b == "co-retweet":
            assert stats["guard"]["actions_dropped"] > 0 and stats["guard"]["top_objects"][0]["object_id"] == "p0"


def test_regular_expressions_keep_duckdb_semantics_on_spark():
    from echoscope.coordination.dialect import java_regex, java_replacement, to_spark

    # RE2's end of text, dot and \s in Java's terms
    assert java_regex("/+$") == r"/+\z"
    assert java_regex("#.*$") == r"(?d)#.*\z"
    assert java_regex(r"a\sb\S") == r"a[\t\n\f\r ]b[^\t\n\f\r ]"
    # a class with Unicode properties: the code points DuckDB puts in it (a Java class, no \p left)
    assert r"\p" not in java_regex(r"[\pP\pS]+") and java_regex(r"[\pP\pS]+").endswith("+")
    assert java_regex("[^/?]*") == "[^/?]*"  # plain ASCII classes are the same in both
    assert java_replacement(r" \1 ") == " $1 " and java_replacement("$x") == r"\$x"
    with pytest.raises(ConfigError, match="inline flags"):
        java_regex("(?i)abc")
    # DuckDB without 'g' replaces the first match only: anchored to the leftmost match on Spark
    first = to_spark("regexp_replace(x, 'a(b)', '<\\1>')")
    assert first == "REGEXP_REPLACE(x, '\\\\A([\\\\s\\\\S]*?)(?:a(b))', '$1<$2>')"
    assert to_spark("regexp_replace(x, 'a', 'b', 'g')") == "REGEXP_REPLACE(x, 'a', 'b')"
    assert to_spark("regexp_replace(x, '^www\\.', '')") == "REGEXP_REPLACE(x, '^www\\\\.', '')"
    with pytest.raises(ConfigError, match="no Spark equivalent"):
        to_spark("SELECT hash(x) FROM t")


def test_one_definition_per_rule_in_the_coordination_package():
    """The refactoring's rules, checked on the source: no module over ~600 lines; no bare duckdb.connect()
    (side connections come from echoscope.settings); no facade calls (study.con(), study.sql()); the Spark
    module holds no stage SQL of its own (no JOIN or GROUP BY: the stages are in stages.py)."""
    for f in SRC.glob("*.py"):
        text = f.read_text()
        assert len(text.splitlines()) <= 600, f.name
        assert "duckdb.connect(" not in text, f.name
        assert not re.search(r"study\.(con|sql|table|to_arrow|info)\(", text), f.name
    spark = ast.parse((SRC / "spark.py").read_text())
    strings = [n.value for n in ast.walk(spark) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not [s for s in strings if re.search(r"\b(GROUP BY|JOIN)\b", s)], "stage SQL in spark.py"


def test_actions_without_filter_pushdown_are_the_same_rows_in_the_same_order():
    # co-text reads its actions with DuckDB's filter pushdown off (CoAction.pushdown): the same rows and ids as
    # with it on, and the connection's optimizer settings as they were afterwards
    import duckdb

    from echoscope.coordination.backends import DuckTables
    from echoscope.coordination.coactions import COACTIONS, install_macros

    con = duckdb.connect()
    install_macros(con)
    texts = ["Great speech by the ambassador!", "great speech by our ambassador", "too short", "RT @x: a b c d e",
             "https://t.co/x visit the site now please", None, "one two three four five"] * 3
    con.execute("""CREATE TABLE posts AS SELECT 'a' || (i % 4) AS account_id, 'p' || i AS post_id, 'post' AS kind,
            TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds(i) AS created_at, t AS text
        FROM (SELECT unnest(range(?)) AS i, unnest(?::VARCHAR[]) AS t)""", [len(texts), texts])
    con.execute("SET disabled_optimizers='join_order'")
    tables = DuckTables(con)
    sql = f"SELECT * FROM ({COACTIONS['co-text'].sql({})}) WHERE object_id <> ''"
    tables.actions("_on", sql, None)
    tables.actions("_off", sql, None, pushdown=False)
    on = con.execute("SELECT rowid, * FROM _on ORDER BY rowid").fetchall()
    assert on == con.execute("SELECT rowid, * FROM _off ORDER BY rowid").fetchall()
    assert len(on) == 15 and {r[2] for r in on} == {"great speech by the ambassador", "great speech by our ambassador",
                                                    "a b c d e", "visit the site now please", "one two three four five"}
    assert con.execute("SELECT current_setting('disabled_optimizers')").fetchone()[0] == "join_order"

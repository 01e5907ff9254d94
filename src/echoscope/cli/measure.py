"""``echoscope measure``: the amplification measures of a study's targets, as a rich table or JSON.

A thin layer over :func:`echoscope.measures.run`; it parses options, opens the study's engine (``--engine``, or
``[engine] backend`` in ``echoscope.toml``), runs and stores the ``amplification_*`` result tables and prints
the whole-period rows of the stored ``amplification_summary`` with the study-wide headline
(:func:`echoscope.measures.headline`), or, with ``--json``, every row of every stored table. Nothing here
computes a measure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .util import byte_progress, emit_json, handle_errors, out


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:,}"


def _print_summary(res: Any, path: Path) -> None:
    """The whole-period rows of the stored summary, the headline and where the rest is."""
    import pyarrow.compute as pc

    from ..measures import headline

    s = res.to_arrow("summary")
    rows = s.filter(pc.is_null(s["week"])).to_pylist()
    meta = res.meta()
    title = f"amplification of {path} ({res.engine})"
    t = Table(title=title)
    cols = ("scope", "target / group", "posts", "engagements", "amplifiers", "suspended", "unchecked",
            f"top {100 * res.params.top:g}%", "gini", "<=60 s", "rapid", "coord.", "risk", "labels")
    for c in cols:
        t.add_column(c, justify="left" if c in ("scope", "target / group") else "right")
    for r in rows:
        who = r["handle"] and f"@{r['handle']}" or r["target"] or r["group"] or "all targets"
        if r["scope"] == "target" and r["group"]:
            who += f" ({r['group']})"
        t.add_row(r["scope"], who, _num(r["posts"]), _num(r["engagements"]), _num(r["amplifiers"]),
                  _pct(r["share_suspended"]), _pct(r["share_unchecked"]), _pct(r["top_share"]),
                  "-" if r["gini"] is None else f"{r['gini']:.3f}", _pct(r["share_within_60s"]),
                  _pct(r["share_rapid_fire"]), _pct(r["share_coordinated"]), _pct(r["share_high_risk"]),
                  f"{r['labelled_targets']}/{r['targets']}")
    # a terminal keeps its width; in a pipe (or a narrow terminal) the table may run wider than 80 columns
    wide = out if out.is_terminal and out.width >= 150 else Console(highlight=False, width=160)
    wide.print(t)
    study = res.study_row
    if study is not None:
        out.print(headline(study) + ".")
    first, last = meta["status_checked_first"], meta["status_checked_last"]
    out.print(f"account status checks used: {first[:10] if first else '-'} .. {last[:10] if last else '-'} "
              "(suspended = suspended or deleted at the latest check; never-checked accounts are 'unchecked')")
    if meta.get("high_risk_rule"):
        out.print(f"high risk: {meta['high_risk_rule']}")
    out.print(f"run {res.run_id}; weekly rows and all tables: "
              + ", ".join(f"{k} ({t.num_rows:,} rows)" for k, t in res.tables.items()))


def measure(
    study: Annotated[Path, typer.Argument(help="study directory (made by 'echoscope init')")],
    group: Annotated[str | None, typer.Option("--group", "-g", help="only targets of this group")] = None,
    since: Annotated[str | None, typer.Option(help="first UTC day counted, YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="last UTC day counted (inclusive), YYYY-MM-DD")] = None,
    top: Annotated[str, typer.Option(
        help="share of amplifiers counted as top / super-spreaders: 1% or 0.01 (too large a share hides "
        "the few accounts doing most of the work)")] = "1%",
    engine: Annotated[str | None, typer.Option(
        help="duckdb (embedded) | spark (needs the spark extra); default: ECHOSCOPE_ENGINE, then [engine] "
        "backend in the study's echoscope.toml, then duckdb")] = None,
    spark_master: Annotated[str | None, typer.Option(
        "--spark-master", help="with --engine spark: master URL (local[2], spark://host:7077, yarn, k8s://...); "
        "default: ECHOSCOPE_SPARK_MASTER, then [spark] master in the study's echoscope.toml, then local[2]")] = None,
    spark_data_root: Annotated[str | None, typer.Option(
        "--spark-data-root", help="with --engine spark: URI where the executors find a copy of the study "
        "directory, e.g. s3a://bucket/studies/mystudy (see docs/scale-out.md)")] = None,
    spark_conf: Annotated[list[str] | None, typer.Option(
        "--spark-conf", help="with --engine spark: a Spark setting KEY=VALUE (repeatable), e.g. "
        "spark.executor.memory=8g")] = None,
    rapid_seconds: Annotated[float, typer.Option(
        "--rapid-seconds", help="an engagement within this many seconds of its post is rapid (seconds); a long "
        "window admits fast human fans")] = 10.0,
    rapid_min_posts: Annotated[int, typer.Option(
        "--rapid-min-posts", help="distinct posts a rapid-fire sequence needs (>= 2); a low value flags "
        "chance runs of two quick retweets")] = 3,
    risk_threshold: Annotated[float | None, typer.Option(
        "--risk-threshold", help="override the score's own high-risk line for this run: account_scores.score at "
        "or above this counts as high risk (0-1); default: account_scores.high_risk as 'echoscope score' stored "
        "it (score >= 0.7 for scores stored without that column)")] = None,
    json: Annotated[bool, typer.Option("--json", help="print every row of the results as JSON on stdout")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Measure who amplifies each target: volume, later-suspended share, concentration, speed, by week."""
    from ..engine import open_engine
    from ..measures import Params, run
    from ..store.study import open_store

    s = open_store(study)
    params = Params.parse(group=group, since=since, until=until, top=top, rapid_latency_s=rapid_seconds,
                          rapid_min_posts=rapid_min_posts, risk_threshold=risk_threshold)
    eng = open_engine(s, backend=engine, spark_master=spark_master, spark_data_root=spark_data_root,
                      spark_conf=spark_conf)
    with eng, byte_progress("measure", quiet=quiet or json) as cb:
        res = run(s, params, engine=eng, progress=cb)
    if json:
        tables = res.tables()  # by short name: what was stored, as the result holds it
        emit_json({"study": str(s.path), **res.meta(), "run_id": res.run_id,
                   "rows": tables["summary"].to_pylist(),
                   "superspreaders": tables["superspreaders"].to_pylist(),
                   "rapid_fire": tables["rapidfire"].to_pylist(),
                   "lorenz": tables["lorenz"].to_pylist(),
                   "latency": tables["latency"].to_pylist()})
    else:
        _print_summary(res, s.path)


def register(app: typer.Typer) -> None:
    """Add ``echoscope measure`` to the main app."""
    app.command("measure")(handle_errors(measure))

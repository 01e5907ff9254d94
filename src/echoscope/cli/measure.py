"""``echoscope measure``: the amplification measures of a study's targets, as a rich table or JSON.

A thin layer over :func:`echoscope.measures.measures`; it parses options, runs the measures on the chosen
engine, stores the ``amplification_*`` result tables and prints the whole-period rows (or, with ``--json``,
every row of every result table).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from .util import byte_progress, emit_json, handle_errors, out


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: Any) -> str:
    return "-" if v is None else f"{v:,}"


def _print_summary(m: Any, written: dict[str, int]) -> None:
    rows = [r for r in m.to_arrow("summary").to_pylist() if r["week"] is None]
    meta = m.meta()
    title = f"amplification of {m.study.path} ({m.engine})"
    t = Table(title=title)
    cols = ("scope", "target / group", "posts", "engagements", "amplifiers", "suspended", "unchecked",
            f"top {100 * m.params.top:g}%", "gini", "<=60 s", "rapid", "coord.", "risk", "labels")
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
    first, last = meta["status_checked_first"], meta["status_checked_last"]
    out.print(f"account status checks used: {first[:10] if first else '-'} .. {last[:10] if last else '-'} "
              "(suspended = suspended or deleted at the latest check; never-checked accounts are 'unchecked')")
    out.print("weekly rows and all tables: " + ", ".join(f"{k} ({v:,} rows)" for k, v in written.items()))


def measure(
    study: Annotated[Path, typer.Argument(help="study directory (made by 'echoscope init')")],
    group: Annotated[str | None, typer.Option("--group", "-g", help="only targets of this group")] = None,
    since: Annotated[str | None, typer.Option(help="first UTC day counted, YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="last UTC day counted (inclusive), YYYY-MM-DD")] = None,
    top: Annotated[str, typer.Option(
        help="share of amplifiers counted as top / super-spreaders: 1% or 0.01 (too large a share hides "
        "the few accounts doing most of the work)")] = "1%",
    engine: Annotated[str, typer.Option(help="duckdb (embedded, default) | spark (needs the spark extra)")]
    = "duckdb",
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
    risk_threshold: Annotated[float, typer.Option(
        "--risk-threshold", help="account_scores.score counted as high risk (0-1)")] = 0.7,
    json: Annotated[bool, typer.Option("--json", help="print every row of the results as JSON on stdout")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Measure who amplifies each target: volume, later-suspended share, concentration, speed, by week."""
    from ..measures import measures
    from ..study import open_study

    s = open_study(study)
    spark = {k: v for k, v in (("master", spark_master), ("data_root", spark_data_root), ("conf", spark_conf)) if v}
    if spark and engine != "spark":
        raise ConfigError(f"--spark-{next(iter(spark)).replace('_', '-')} needs --engine spark")
    with byte_progress("measure", quiet=quiet or json) as cb:
        cb({"event": "stage", "message": f"measuring on {engine}"})
        m = measures(s, group=group, since=since, until=until, top=top, engine=engine,
                     rapid_latency_s=rapid_seconds, rapid_min_posts=rapid_min_posts, risk_threshold=risk_threshold,
                     **spark)
        written = m.write(progress=cb)
    if json:
        tables = m.tables()
        emit_json({"study": str(s.path), **m.meta(), "tables": written,
                   "rows": tables["summary"].to_pylist(),
                   "superspreaders": tables["superspreaders"].to_pylist(),
                   "rapid_fire": tables["rapidfire"].to_pylist(),
                   "lorenz": tables["lorenz"].to_pylist()})
    else:
        _print_summary(m, written)


def register(app: typer.Typer) -> None:
    """Add ``echoscope measure`` to the main app."""
    app.command("measure")(handle_errors(measure))

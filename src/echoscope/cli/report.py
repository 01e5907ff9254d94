"""``echoscope report`` and ``echoscope export``: thin commands over :mod:`echoscope.report`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .util import byte_progress, emit_json, handle_errors, out

PseudoOpt = Annotated[bool, typer.Option(
    "--pseudonymise", help="replace handles, account and post ids and display names with stable keyed pseudonyms "
    "(HMAC-SHA256) for sharing outside a newsroom; the same account gets the same pseudonym in the report and "
    "every export made with the same key")]
KeyEnvOpt = Annotated[str | None, typer.Option(
    "--key-env", metavar="VAR", help="environment variable holding the pseudonymisation key (at least 16 "
    "characters); default: a random key created once and kept in the study as pseudonym.key (never share it)")]
RunOpt = Annotated[str | None, typer.Option(
    "--run", metavar="ID", help="read a stored run of 'coordinate' or 'score' instead of the latest (its run id; "
    "several comma-separated; an unknown id lists the stored ones; default: latest)")]


def _engine(study: Path, run: str | None) -> tuple[Any, Any, dict[str, str]]:
    """The study, an engine showing the runs ``--run`` names (the latest tables without it) and that choice."""
    from ..engine import Engine
    from ..findings import run_selection
    from ..study import open_study

    s = open_study(study)
    runs = run_selection(s, run)
    return s, Engine(s, runs=runs), runs


def register(app: typer.Typer) -> None:
    """Add the ``report`` and ``export`` commands to the main app."""

    @app.command("report")
    @handle_errors
    def report_cmd(
        study: Annotated[Path, typer.Argument(help="study directory")],
        output: Annotated[Path, typer.Option("-o", "--output", help="HTML file to write")] = Path("report.html"),
        pseudonymise: PseudoOpt = False,
        key_env: KeyEnvOpt = None,
        top_targets: Annotated[int, typer.Option(help="targets drawn in the per-target charts (by engagements)")] = 8,
        accounts: Annotated[int, typer.Option(help="highest-risk accounts shown with reasons and example posts")] = 25,
        run: RunOpt = None,
        json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    ) -> None:
        """Write the self-contained HTML evidence report (offline, printable; no script, no network)."""
        from ..report.data import ReportOptions
        from ..report.html import render_report

        s, eng, _ = _engine(study, run)
        opt = ReportOptions(top_targets=top_targets, accounts=accounts)
        try:
            with byte_progress("report", quiet=quiet or json) as cb:
                res = render_report(s, output, pseudonymise=pseudonymise, key_env=key_env, options=opt, progress=cb,
                                    engine=eng)
        finally:
            eng.close()
        if json:
            emit_json(res)
            return
        out.print(f"wrote {res['path']} ({res['bytes'] / 1e6:.2f} MB, {len(res['charts'])} charts, "
                  f"{res['seconds']:.1f} s){' pseudonymised' if pseudonymise else ''}", markup=False)
        for f in res["findings"]:
            out.print(f"- {f}", markup=False)
        for m in res["missing"]:
            out.print(f"missing: {m['what']} (run: {m['command']})", markup=False)

    @app.command("export")
    @handle_errors
    def export_cmd(
        study: Annotated[Path, typer.Argument(help="study directory")],
        to: Annotated[str, typer.Option("--to", help="gexf | graphml | gephi-csv | parquet | csv | json "
                                        "(comma-separated for several)")],
        output: Annotated[Path, typer.Option("-o", "--output", help="directory for the exported files")],
        pseudonymise: PseudoOpt = False,
        key_env: KeyEnvOpt = None,
        tables: Annotated[str, typer.Option(
            "--tables", metavar="NAMES", help="what --to parquet|csv writes, comma-separated: results (every result "
            "table), posts (alias tweets), accounts (alias users), likes, account_status, targets; the ingested "
            "tables are streamed by DuckDB (any size)")] = "results",
        run: RunOpt = None,
        json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    ) -> None:
        """Export the network (GEXF with time attributes, GraphML, Gephi CSV: every cluster member a node), every
        result table or the ingested posts and accounts (Parquet, spreadsheet-safe CSV), or the JSON summary."""
        from ..report.exports import export_study

        s, eng, _ = _engine(study, run)
        try:
            with byte_progress("export", quiet=quiet or json) as cb:
                files = export_study(s, to, output, pseudonymise=pseudonymise, key_env=key_env, progress=cb,
                                     engine=eng, tables=tables)
        finally:
            eng.close()
        if json:
            emit_json({"files": [str(f) for f in files], "pseudonymised": pseudonymise})
            return
        for f in files:
            out.print(f"wrote {f}", markup=False)

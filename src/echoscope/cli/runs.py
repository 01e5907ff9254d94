"""``echoscope runs``: the stored runs of ``coordinate``, ``score`` and ``measure`` side by side, and pruning.

A thin layer over :func:`echoscope.findings.runs.list_runs` (the manifest in words) and
:func:`echoscope.engine.analysis.prune_runs` (one atomic manifest commit, then the unreferenced parts go).
Every run listed here can be read with ``--run ID`` on ``clusters``, ``account``, ``explain`` and ``serve``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from ..report.fmt import show
from .util import emit_json, handle_errors, out

ANALYSES = ("coordination", "accounts", "measures")


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def runs(
    study: Annotated[Path, typer.Argument(help="study directory (made by 'echoscope init')")],
    json: Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")] = False,
    analysis: Annotated[str | None, typer.Option(
        "--analysis", help="only the runs of this analysis: coordination (echoscope coordinate), accounts "
        "(echoscope score) or measures (echoscope measure)")] = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="forget all but the --keep newest runs of each analysis and delete their Parquet parts "
        "that no kept run or latest table uses; the latest run of each analysis always stays")] = False,
    keep: Annotated[int, typer.Option(
        "--keep", help="with --prune: runs kept per analysis, newest first (the latest always stays)")] = 5,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="with --prune: say what would go, change "
                                          "nothing")] = False,
) -> None:
    """List the stored analysis runs (id, analysis, time, parameters, headline counts, which is latest), or
    prune old ones. Read any listed run with --run ID on clusters, account, explain and serve."""
    from ..engine.analysis import prune_runs
    from ..errors import ConfigError
    from ..findings.runs import list_runs
    from ..study import open_study

    if analysis is not None and analysis not in ANALYSES:
        raise ConfigError(f"--analysis {analysis}: one of {', '.join(ANALYSES)}")
    s = open_study(study)
    if prune:
        res = prune_runs(s, keep=keep, analysis=analysis, dry_run=dry_run)
        if json:
            emit_json(res)
            return
        verb = "would prune" if dry_run else "pruned"
        if not res["pruned"]:
            out.print(f"nothing to prune in {study}: at most {keep} run(s) of each analysis besides the latest",
                      markup=False)
            return
        out.print(Text(show(f"{verb} {len(res['pruned'])} run(s): {', '.join(res['pruned'])}", 4000)))
        out.print(f"{'would delete' if dry_run else 'deleted'} {len(res['deleted_parts']):,} Parquet part(s) "
                  f"({_size(res['bytes'])}) no kept run or latest table uses; {len(res['kept'])} run(s) kept",
                  markup=False)
        return
    doc = list_runs(s, analysis)
    if json:
        emit_json(doc)
        return
    if not doc["runs"]:
        out.print(f"no stored runs in {study}: 'echoscope coordinate {study}', 'echoscope score {study}' and "
                  f"'echoscope measure {study}' store one each time they run", markup=False)
        return
    out.print(f"stored runs of {study}, newest first (latest: the run commands show by default)", markup=False)
    for r in doc["runs"]:
        head = Text(show(r["run_id"], 80), style="bold")
        head.append(f"  {r['analysis']} ({r.get('command') or '-'})  "
                    f"{str(r.get('written_at') or '-').replace('T', ' ')[:19]} UTC")
        if r["latest"]:
            head.append("  latest", style="green")
        out.print(head)
        out.print(Text("    " + show(r["headline"], 400)))
        out.print(Text("    parameters: " + show(r["parameters_text"], 400), style="dim"))
    out.print(f"read a run with --run ID on clusters, account, explain and serve; prune old ones with "
              f"'echoscope runs {study} --prune --keep {doc['keep_default']}'", markup=False)


def _registered(app: typer.Typer) -> Any:
    return {c.name for c in app.registered_commands}


def register(app: typer.Typer) -> None:
    """Add ``runs`` to the main app."""
    if "runs" not in _registered(app):
        app.command("runs")(handle_errors(runs))


__all__ = ["register", "runs"]

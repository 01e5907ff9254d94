"""The ``echoscope`` command: a thin Typer layer over the library, and the study commands (init, ingest,
status, targets, info, formats).

Each command parses options, calls one library function, and renders its result (rich on a terminal, JSON
with ``--json``). The analyses' commands live in their own modules of this package (``echoscope.cli.measure``
...) and are registered through :data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from .. import __version__
from ..errors import ConfigError
from ..sources import DESCRIPTIONS, SOURCES
from ..study import init_study, open_study
from .util import byte_progress, emit_json, err, fail, handle_errors, out, parse_pairs

app = typer.Typer(
    name="echoscope",
    help="Find and measure coordinated inauthentic amplification on social media. "
    "echoscope detects and measures; it never creates, operates or hides accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class StudyEitherSideGroup(TyperGroup):
    """A command group whose subcommands all take the study first, accepting it on either side of the
    subcommand: ``targets STUDY add @h`` is read as ``targets add STUDY @h``.

    People write the study where they think of it (the README once showed ``targets mystudy add``); both
    orders are one parse away, so both are accepted rather than one being an error. A first word that is a
    subcommand is always taken as the subcommand (a study named ``list`` needs the ``targets list list`` order).
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            if len(args) >= 2 and args[1] in self.commands:
                args = [args[1], args[0], *args[2:]]
            else:
                names = "|".join(sorted(self.commands))
                fail(f"'{args[0]}' is not a {ctx.info_name} command; use 'echoscope {ctx.info_name} {names} STUDY "
                     f"...' or 'echoscope {ctx.info_name} STUDY {names} ...'", 2)
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: typer.Context, formatter: Any) -> None:
        formatter.write_usage(ctx.command_path, "COMMAND STUDY [ARGS]...")
        formatter.write_usage(ctx.command_path, "STUDY COMMAND [ARGS]...", prefix="   or: ")


targets_app = typer.Typer(
    cls=StudyEitherSideGroup, no_args_is_help=True,
    help="Name the accounts whose amplification the study measures. The study goes before or after the "
    "command: 'echoscope targets add mystudy @h --group g' and 'echoscope targets mystudy add @h --group g' "
    "are the same.")
app.add_typer(targets_app, name="targets")

#: modules that add commands (each has ``register(app)``), in the order ``echoscope --help`` lists them
COMMAND_MODULES: tuple[str, ...] = (
    "echoscope.cli.simulate",
    "echoscope.cli.measure",
    "echoscope.cli.coordinate",
    "echoscope.cli.score",
    "echoscope.cli.report",
    "echoscope.cli.explore",
    "echoscope.cli.runs",
    "echoscope.cli.collect",
)

StudyArg = Annotated[Path, typer.Argument(help="study directory (made by 'echoscope init')")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")]


def _version(value: bool) -> None:
    if value:
        out.print(f"echoscope {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool | None, typer.Option("--version", callback=_version, is_eager=True,
                                                            help="print the version and exit")] = None) -> None:
    """echoscope command line."""


@app.command()
@handle_errors
def init(study: StudyArg,
         name: Annotated[str | None, typer.Option(help="study name (default: the directory name)")] = None,
         json: JsonOpt = False) -> None:
    """Create a study directory with echoscope.toml, an empty manifest and table folders."""
    s = init_study(study, name=name)
    if json:
        emit_json({"study": str(s.path), "created": True})
    else:
        out.print(f"created study {s.path} (configuration in {s.path / 'echoscope.toml'})")


FORMAT_HELP = "input format; detected from the content when left out. " + "; ".join(
    f"{k}: {v}" for k, v in DESCRIPTIONS.items())


@app.command()
@handle_errors
def ingest(
    study: StudyArg,
    inputs: Annotated[list[str], typer.Argument(help="files or directories (plain, .gz or .zip); - for stdin")],
    format: Annotated[str | None, typer.Option("--format", "-f", help=FORMAT_HELP)] = None,
    table: Annotated[str | None, typer.Option(
        help="for csv/parquet: the table the file fills (posts|accounts|account_status|likes|logins|follows); "
        "inferred from the header when left out")] = None,
    map: Annotated[list[str] | None, typer.Option(
        "--map", help="for csv/parquet: SOURCE_COLUMN=canonical_field renames a column; "
        "canonical_field:VALUE=NEW translates a value (e.g. --map retweet=kind --map kind:1=repost); repeatable")
    ] = None,
    set_: Annotated[list[str] | None, typer.Option(
        "--set", help="for csv/parquet: field=VALUE gives every row a constant (e.g. --set kind=repost)")] = None,
    platform: Annotated[str | None, typer.Option(
        help="platform of the data when the format does not say (default from echoscope.toml: twitter)")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="for csv/io-archive: text encoding of the file (default utf-8; e.g. latin-1, utf-16)")] = None,
    keep_going: Annotated[bool, typer.Option(
        "--keep-going", help="skip files that cannot be read at all (reported, exit code 1) instead of "
        "stopping the whole run")] = False,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Read engagement data into the study (all files of one run are committed together, atomically)."""
    s = open_study(study)
    options: dict[str, Any] = {"keep_going": keep_going, "set": parse_pairs(set_, "--set")}
    if encoding:
        options["encoding"] = encoding
    with byte_progress("ingest", quiet=quiet or json) as cb:
        reports = s.ingest(inputs, format=format, table=table, mapping=parse_pairs(map, "--map"),
                           platform=platform, options=options, progress=cb)
    _print_ingest(reports, json)


@app.command()
@handle_errors
def status(
    study: StudyArg,
    inputs: Annotated[list[str], typer.Argument(help="account status files; - for stdin")],
    format: Annotated[str, typer.Option("--format", "-f", help="twarc2-users (twarc2 user lookups) | csv "
                                        "(account_id, status, checked_at)")] = "twarc2-users",
    map: Annotated[list[str] | None, typer.Option("--map", help="for csv: SOURCE_COLUMN=canonical_field")] = None,
    platform: Annotated[str | None, typer.Option(help="platform of the accounts")] = None,
    encoding: Annotated[str | None, typer.Option(help="for csv: text encoding (default utf-8)")] = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Record account status (active / suspended / deleted / protected) with the time it was checked."""
    if format not in ("twarc2-users", "csv", "parquet"):
        raise ConfigError(f"status --format must be twarc2-users, csv or parquet, not '{format}'")
    s = open_study(study)
    table = None if format == "twarc2-users" else "account_status"
    with byte_progress("status", quiet=quiet or json) as cb:
        reports = s.ingest(inputs, format=format, table=table, mapping=parse_pairs(map, "--map"),
                           platform=platform, options={"encoding": encoding} if encoding else None,
                           progress=cb)
    _print_ingest(reports, json)


def _print_ingest(reports: list[dict[str, Any]], as_json: bool) -> None:
    failed = [r for r in reports if r.get("status") == "failed"]
    if as_json:
        emit_json({"files": reports})
    else:
        t = Table(title="ingested", show_lines=False)
        for col in ("file", "format", "table", "read", "loaded", "quarantined", "duplicates", "status"):
            t.add_column(col, justify="right" if col in ("read", "loaded", "quarantined", "duplicates") else "left")
        for r in reports:
            t.add_row(str(r["path"]), str(r.get("format") or ""), str(r.get("table") or ""),
                      f"{r['read']:,}", f"{r['loaded']:,}", f"{r['quarantined']:,}", f"{r['duplicates']:,}",
                      r.get("status", "") if r.get("status") == "ok" else f"{r.get('status')}: {r.get('reason')}")
        out.print(t)
        tot = {k: sum(r[k] for r in reports) for k in ("read", "loaded", "quarantined", "duplicates")}
        out.print(f"{len(reports)} file(s): read {tot['read']:,} = loaded {tot['loaded']:,} + quarantined "
                  f"{tot['quarantined']:,} + duplicates {tot['duplicates']:,}")
        if tot["quarantined"]:
            out.print("quarantined rows: see 'echoscope info' or the quarantine table")
    if failed:
        for r in failed:
            err.print(f"error: {r['reason']}", markup=False)
        raise typer.Exit(1)


@targets_app.command("add")
@handle_errors
def targets_add(
    study: StudyArg,
    names: Annotated[list[str] | None, typer.Argument(
        help="@handle, id:123, a numeric id or a DID; bare words are handles")] = None,
    group: Annotated[str | None, typer.Option(help="group name, e.g. diplomats, 'state media'")] = None,
    label: Annotated[str | None, typer.Option(
        help="platform affiliation label the targets carry (e.g. 'China government account')")] = None,
    from_file: Annotated[Path | None, typer.Option(
        "--from-file", help="CSV with account_id and/or handle, optional group and label columns")] = None,
    json: JsonOpt = False,
) -> None:
    """Add (or update) target accounts.

    One account is one target however it is named: adding it again (by handle, id or from a file) updates its
    group and label. The study may come first: echoscope targets STUDY add @handle --group diplomats.
    """
    from ..store.targets import add_targets, parse_target, read_targets_file

    items = []
    for n in names or []:
        aid, handle = parse_target(n)
        items.append((aid, handle, group, label))
    if from_file is not None:
        for aid, handle, g, lab in read_targets_file(str(from_file)):
            items.append((aid, handle, g if g is not None else group, lab if lab is not None else label))
    if not items:
        raise ConfigError("name targets (e.g. @handle) or give --from-file targets.csv")
    s = open_study(study)
    total = add_targets(s, items)
    if json:
        emit_json({"added": len(items), "targets": total})
    else:
        out.print(f"{len(items)} target(s) added or updated; the study has {total} target(s)")


@targets_app.command("list")
@handle_errors
def targets_list(study: StudyArg, json: JsonOpt = False) -> None:
    """List targets, with handles resolved to account ids where the study has seen them.

    One row per account. The study may come first: echoscope targets STUDY list.
    """
    s = open_study(study)
    rows = s.sql('SELECT account_id, handle, "group", label FROM targets ORDER BY "group", handle').to_pylist()
    if json:
        emit_json({"targets": rows})
        return
    t = Table(title=f"targets of {s.path}")
    for c in ("account_id", "handle", "group", "label"):
        t.add_column(c)
    for r in rows:
        t.add_row(*(str(r[c]) if r[c] is not None else "-" for c in ("account_id", "handle", "group", "label")))
    out.print(t)


@targets_app.command("remove")
@handle_errors
def targets_remove(study: StudyArg, names: Annotated[list[str], typer.Argument(help="targets to remove")],
                   json: JsonOpt = False) -> None:
    """Remove targets (by @handle or id, whichever way they were added).

    A name that matches no target is an error (exit 1) and nothing is removed. The study may come first:
    echoscope targets STUDY remove @handle.
    """
    from ..store.targets import remove_targets

    n = remove_targets(open_study(study), names)
    if json:
        emit_json({"removed": n})
    else:
        out.print(f"{n} target(s) removed")


@app.command()
@handle_errors
def info(study: StudyArg, json: JsonOpt = False) -> None:
    """Tables, row counts, time span, sources and quarantine summary of a study."""
    s = open_study(study)
    doc = s.info()
    if json:
        emit_json(doc)
        return
    out.print(f"[bold]study[/] {doc['study']} ({doc['name']}), platforms: {', '.join(doc['platforms']) or '-'}")
    t = Table(title="tables")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, v in doc["tables"].items():
        extra = ""
        if name == "engagements" and v.get("by_kind"):
            extra = "  (" + ", ".join(f"{k} {n:,}" for k, n in v["by_kind"].items()) + ")"
        t.add_row(name, f"{v['rows']:,}{extra}")
    out.print(t)
    for name, span in doc["time_span"].items():
        out.print(f"{name}: {span['first'] or '-'} .. {span['last'] or '-'}")
    if doc["files"]:
        f = Table(title="sources")
        for c in ("file", "format", "read", "loaded", "quarantined", "duplicates"):
            f.add_column(c, justify="left" if c in ("file", "format") else "right")
        for r in doc["files"]:
            f.add_row(str(r["path"]), str(r["format"]), *(f"{r[k]:,}" for k in
                                                          ("read", "loaded", "quarantined", "duplicates")))
        out.print(f)
    q = doc["quarantine"]
    if q["rows"]:
        out.print(f"quarantine: {q['rows']:,} row(s); most common reasons:")
        for r in q["by_reason"][:5]:
            out.print(f"  {r['rows']:,}  {r['reason']}", markup=False)
    out.print("counts reconcile (read = loaded + quarantined + duplicates)" if doc["reconciled"]
              else "[red]counts do not reconcile for some file[/]")


@app.command()
@handle_errors
def formats(json: JsonOpt = False) -> None:
    """List the input formats echoscope reads."""
    if json:
        emit_json({"formats": [{"name": k, "description": DESCRIPTIONS.get(k, "")} for k in SOURCES]})
        return
    for k in SOURCES:
        out.print(f"[bold]{k}[/]: {DESCRIPTIONS.get(k, '')}")


def _register_modules() -> None:
    for mod in COMMAND_MODULES:
        importlib.import_module(mod).register(app)


_register_modules()


def main() -> None:
    """Entry point of the ``echoscope`` script."""
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        fail("interrupted", 130)


if __name__ == "__main__":  # pragma: no cover
    main()

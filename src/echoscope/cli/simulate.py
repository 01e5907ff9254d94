"""Commands ``echoscope simulate`` and ``echoscope demo`` (registered by the main CLI through ``register``).

Thin: parse options, call :func:`echoscope.simulate.simulate` / :func:`echoscope.simulate.writers.write` or
:func:`echoscope.simulate.demo.run_demo`, render the result (rich sentences, or JSON with ``--json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ..simulate.config import CAMPAIGNS, CONFOUNDERS, DIFFICULTIES, SCENARIOS, make_config
from ..simulate.writers import FORMATS
from .util import byte_progress, emit_json, handle_errors, out

JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")]


def simulate_cmd(
    out_dir: Annotated[Path, typer.Argument(help="output: a new study directory (--format study) or a new/empty "
                                            "directory for the files")],
    accounts: Annotated[int | None, typer.Option(help="accounts on the platform (targets, organic users, "
                                                 "campaigns); at least 2000; default: the scenario's (20000 "
                                                 "default, 42000 realistic)")] = None,
    engagements: Annotated[int | None, typer.Option(help="engagements (retweets, replies, quotes) to generate; at "
                                                    "least 10000; default: the scenario's (200000 default, 480000 "
                                                    "realistic)")] = None,
    seed: Annotated[int, typer.Option(help="random seed; the same seed and options give identical output")] = 7,
    scenario: Annotated[str, typer.Option(
        help=f"{'|'.join(SCENARIOS)}: 'default' is the calibrated nine-month platform with four campaigns; "
        "'realistic' is eight weeks with every campaign and every confounder (fans, news aggregators, "
        "community hubs, breaking-news surges; docs/simulator.md)")] = "default",
    campaign: Annotated[list[str] | None, typer.Option(
        "--campaign", help=f"campaign to plant (repeatable): {', '.join(CAMPAIGNS)}, or 'none' for an organic "
        "platform; default: the scenario's")] = None,
    confounder: Annotated[list[str] | None, typer.Option(
        "--confounder", help=f"confounder to add (repeatable): {', '.join(CONFOUNDERS)}, or 'none'; default: the "
        "scenario's (none in 'default', all in 'realistic')")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help=f"output format: {'|'.join(FORMATS)}")] = "study",
    difficulty: Annotated[str, typer.Option(help=f"{'|'.join(DIFFICULTIES)}: 'hard' makes campaigns slower and "
                                            "noisier and adds organic look-alikes (docs/simulator.md)")] = "default",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Simulate a platform with planted amplification campaigns and ground truth (synthetic data for testing
    detectors; nothing is posted anywhere)."""
    from ..simulate.platform import simulate
    from ..simulate.writers import write

    cfg = make_config(accounts=accounts, engagements=engagements, seed=seed, difficulty=difficulty,
                      campaigns=campaign, scenario=scenario, confounders=confounder)
    if format not in FORMATS:
        from ..errors import ConfigError

        raise ConfigError(f"--format '{format}' is not known; use one of {', '.join(FORMATS)}")
    with byte_progress("simulate", quiet=quiet or json) as cb:
        platform = simulate(cfg, cb)
        written = write(platform, out_dir, format, cb)
    stats = {k: v for k, v in platform.stats.items() if k != "config"}
    if json:
        emit_json({"out": str(out_dir), "format": format, "seed": seed, "difficulty": difficulty,
                   "scenario": scenario, "campaigns": [c for c in CAMPAIGNS if getattr(cfg, c).enabled],
                   "confounders": [c for c in CONFOUNDERS if getattr(cfg, c).enabled], "stats": stats,
                   "files": written.get("files", [])})
        return
    out.print(f"simulated {stats['accounts']:,} accounts ({stats['campaign_accounts']:,} in campaigns, "
              f"{stats['targets']} targets), {stats['originals']:,} original posts and "
              f"{stats['engagements']:,} engagements ({stats['planted']:,} planted)")
    conf = [c for c in CONFOUNDERS if getattr(cfg, c).enabled]
    if conf:
        out.print(f"confounders: {', '.join(conf)}" + "".join(
            f"; {stats[k]:,} {k}" for k in ("fans", "aggregators") if k in stats))
    out.print(f"wrote {format} to {out_dir}" + ("" if format == "study" else
                                                " (with truth_accounts.csv, truth_engagements.csv, targets.csv)"))


def demo_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="directory for report.html and, unless --study says "
                                          "otherwise, the study demo-study/")] = Path("."),
    study_dir: Annotated[Path | None, typer.Option("--study", help="study directory the demo makes (replaced "
                                                      "when it is already a study); default <out>/demo-study")] = None,
    seed: Annotated[int, typer.Option(help="random seed of the simulated platform")] = 7,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Simulate a small platform, load it into a study, run every analysis available, and print the findings."""
    from ..demo import run_demo

    with byte_progress("demo", quiet=quiet or json) as cb:
        result = run_demo(out_dir, study_dir=study_dir, seed=seed, progress=cb)
    if json:
        emit_json(result)
        return
    p = result["platform"]
    out.print(f"[bold]echoscope demo[/]: a simulated platform of {p['accounts']:,} accounts and "
              f"{p['engagements']:,} engagements, with planted campaigns, loaded into {result['study']}")
    out.print()
    # the report's own findings: the same sentences, from the same stored tables, as report.html
    for s in result["findings"]:
        out.print(f"  • {s}", markup=False)
    rows = result["targets"]
    if rows:
        t = Table(title="targets with the largest share of reposts from later-suspended accounts "
                        "(amplification_summary)")
        for c in ("target", "group", "reposts", "from later-suspended", "within 60 s"):
            t.add_column(c, justify="right" if c not in ("target", "group") else "left")
        for r in rows:
            share = r["share_suspended_reposts"]
            t.add_row(Text(f"@{r['handle']}" if r["handle"] else r["target"]), Text(r["group"] or "-"),
                      f"{r['reposts']:,}",
                      "-" if share is None else f"{share:.1%} ({r['reposts_suspended']:,})",
                      "-" if r["share_within_60s"] is None else f"{r['share_within_60s']:.0%}")
        out.print(t)
    for s in result["truth"]["sentences"]:
        out.print(f"  • {s}", markup=False)
    runs = ", ".join(f"{a['analysis']} {a['seconds']:.1f} s (run {a['run_id']})" for a in result["analyses"])
    out.print(f"analyses: {runs}", markup=False)
    out.print(f"report written to {result['report']}", markup=False)
    tm = result["timings"]
    out.print(f"\ndone in {tm['total']:.1f} s (simulate {tm['simulate']:.1f} s, load {tm['load']:.1f} s, analyses "
              f"{tm['analyses']:.1f} s, report {tm['report']:.1f} s); explore with: echoscope serve {result['study']}",
              markup=False)


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and ``demo`` to the main app."""
    app.command("simulate")(handle_errors(simulate_cmd))
    app.command("demo")(handle_errors(demo_cmd))

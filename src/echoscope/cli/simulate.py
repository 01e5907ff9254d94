"""Commands ``echoscope simulate`` and ``echoscope demo`` (registered by the main CLI through ``register``).

Thin: parse options, call :func:`echoscope.simulate.simulate` / :func:`echoscope.simulate.writers.write` or
:func:`echoscope.simulate.demo.run_demo`, render the result (rich sentences, or JSON with ``--json``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..simulate.config import CAMPAIGNS, DIFFICULTIES, make_config
from ..simulate.writers import FORMATS
from .util import byte_progress, emit_json, handle_errors, out

JsonOpt = Annotated[bool, typer.Option("--json", help="print machine-readable JSON on stdout")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress display")]


def simulate_cmd(
    out_dir: Annotated[Path, typer.Argument(help="output: a new study directory (--format study) or a new/empty "
                                            "directory for the files")],
    accounts: Annotated[int, typer.Option(help="accounts on the platform (targets, organic users, campaigns); "
                                          "at least 2000")] = 20_000,
    engagements: Annotated[int, typer.Option(help="engagements (retweets, replies, quotes) to generate; at least "
                                             "10000")] = 200_000,
    seed: Annotated[int, typer.Option(help="random seed; the same seed and options give identical output")] = 7,
    campaign: Annotated[list[str] | None, typer.Option(
        "--campaign", help=f"campaign to plant (repeatable): {', '.join(CAMPAIGNS)}, or 'none' for an organic "
        "platform; default: all")] = None,
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
                      campaigns=campaign)
    if format not in FORMATS:
        from ..errors import ConfigError

        raise ConfigError(f"--format '{format}' is not known; use one of {', '.join(FORMATS)}")
    with byte_progress("simulate", quiet=quiet or json) as cb:
        platform = simulate(cfg, cb)
        written = write(platform, out_dir, format, cb)
    stats = {k: v for k, v in platform.stats.items() if k != "config"}
    if json:
        emit_json({"out": str(out_dir), "format": format, "seed": seed, "difficulty": difficulty,
                   "campaigns": [c for c in CAMPAIGNS if getattr(cfg, c).enabled], "stats": stats,
                   "files": written.get("files", [])})
        return
    out.print(f"simulated {stats['accounts']:,} accounts ({stats['campaign_accounts']:,} in campaigns, "
              f"{stats['targets']} targets), {stats['originals']:,} original posts and "
              f"{stats['engagements']:,} engagements ({stats['planted']:,} planted)")
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
    for s in result["sentences"]:
        out.print(f"  • {s}", markup=False)
    rows = result["figures"]["per_target"][:5]
    if rows:
        t = Table(title="targets with the largest share of retweets from later-suspended accounts")
        for c in ("target", "group", "retweets", "from later-suspended", "within 60 s"):
            t.add_column(c, justify="right" if c not in ("target", "group") else "left")
        for r in rows:
            t.add_row("@" + r["target"], r["group"] or "-", f"{r['retweets']:,}", f"{r['share_suspended']:.0%}",
                      f"{r['share_within_60s']:.0%}")
        out.print(t)
    for a in result["analyses"]:
        if a["status"] == "ok":
            for s in a.get("findings", []):
                out.print(f"  • {s}", markup=False)
            if a.get("report"):
                out.print(f"report written to {a['report']}")
        else:
            out.print(f"  ({a['module']}.{a['hook']} skipped: {a['reason']})", markup=False)
    tm = result["timings"]
    out.print(f"\ndone in {tm['total']:.1f} s (simulate {tm['simulate']:.1f} s, load {tm['load']:.1f} s); "
              f"explore with: echoscope info {result['study']}")


def register(app: typer.Typer) -> None:
    """Add ``simulate`` and ``demo`` to the main app."""
    app.command("simulate")(handle_errors(simulate_cmd))
    app.command("demo")(handle_errors(demo_cmd))

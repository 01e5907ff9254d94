"""``echoscope score``: account signals and the explainable risk score, as a thin layer over
:func:`echoscope.accounts.run` (registered into the main app by ``register``).

Everything it prints comes from the run's stored tables and summary: the headline sentence
(:func:`echoscope.accounts.headline`), the line's expected false positives
(:func:`echoscope.accounts.risk.error_rate_sentence`), the automated accounts kept off the list, the top accounts
by handle with their kind, ``--json`` and the CSV; nothing is counted again here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..accounts.risk import HIGH_RISK_THRESHOLD, automated_sentence, error_rate_sentence
from .util import byte_progress, emit_json, err, handle_errors, out


def register(app: typer.Typer) -> None:
    """Add the ``score`` command to ``app``."""
    app.command("score")(handle_errors(score))


def score(
    study: Annotated[Path, typer.Argument(help="study directory (made by 'echoscope init')")],
    mode: Annotated[str, typer.Option(
        "--mode", help="rules: transparent weighted signals (default, no training); supervised: a calibrated "
        "classifier trained on --labels (only as good as the labels)")] = "rules",
    labels: Annotated[Path | None, typer.Option(
        "--labels", help="CSV with account_id,label (1/0, bot/human, campaign/organic) for --mode supervised")] = None,
    images: Annotated[Path | None, typer.Option(
        "--images", help="folder of profile images you downloaded, named <account_id>.jpg or <handle>.jpg; "
        "enables the duplicate-image and GAN-face checks (needs the faces extra). Nothing is fetched")] = None,
    high_risk_threshold: Annotated[float, typer.Option(
        "--high-risk-threshold", help="score (0-1) at or above which an account is high risk, for this run only "
        "(stored with it). A lower line lists more ordinary accounts, a higher one misses more campaign "
        "accounts")] = HIGH_RISK_THRESHOLD,
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="write a spreadsheet-safe CSV of every account's score and reasons (- for "
        "stdout)")] = None,
    top: Annotated[int, typer.Option("--top", help="accounts shown / printed with --json")] = 20,
    json: Annotated[bool, typer.Option("--json", help="print the top accounts as a JSON list on stdout: "
                                                      "account_id, handle, score, high_risk, automated, kind, "
                                                      "reasons, the line and its expected false positives")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress")] = False,
) -> None:
    """Score every account from 0 to 1 with the reasons behind it (writes account_signals, account_scores)."""
    from ..accounts import ScoreParams, headline, read_labels, run, write_scores_csv
    from ..study import open_study

    s = open_study(study)
    params = ScoreParams(mode=mode, labels=read_labels(labels) if labels is not None else None,
                         high_risk_threshold=high_risk_threshold)
    params.check()  # a usage error before any image is scanned
    with byte_progress("score", quiet=quiet or json or output == "-") as cb:
        imgs = None
        if images is not None:
            from ..accounts.faces import find_images, scan_images

            mapping = find_images(images, s.engine.sql("SELECT account_id, handle FROM accounts"))
            cb({"event": "total", "bytes": mapping.num_rows})
            imgs = scan_images(mapping, progress=cb)
            params.images = imgs
        res = run(s, params, engine=s.engine, progress=cb)
    if output is not None:
        if output == "-":
            data = write_scores_csv(res.scores, None)
            assert data is not None
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            write_scores_csv(res.scores, output)
    if json:
        emit_json(res.to_json(top))
        return
    if output == "-":
        return
    from rich.table import Table
    from rich.text import Text

    # the headline first, as a plain line (greppable, never cut by the terminal's width), then what the line is
    # expected to get wrong and the automated accounts kept off it
    out.print(Text(headline(res.summary) + f"; {mode} score, run {res.run_id}"))
    out.print(Text(error_rate_sentence(res.summary)))
    auto = automated_sentence(res.summary)
    if auto:
        out.print(Text(auto))
    if top <= 0 or res.scores.num_rows == 0:
        return
    t = Table(title=f"the {min(top, res.scores.num_rows):,} highest scores")
    for c in ("rank", "account", "score", "high risk", "kind", "reasons"):
        t.add_column(c, justify="right" if c in ("rank", "score") else "left")
    for r in res.scores.slice(0, top).to_pylist():
        # account names and reasons are data: shown as plain text, never as rich markup
        t.add_row(str(r["rank"]), Text(f"@{r['handle']}" if r["handle"] else r["account_id"]), f"{r['score']:.2f}",
                  "yes" if r["high_risk"] else "", r["kind"], Text(r["reasons_text"] or "-"))
    out.print(t)
    if output not in (None, "-"):
        err.print(f"wrote {res.scores.num_rows:,} accounts to {output}")
    if images is not None and imgs is not None:
        err.print(f"checked {imgs.num_rows:,} local image(s)")

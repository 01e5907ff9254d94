"""``echoscope score``: account signals and the explainable risk score, as a thin layer over
:func:`echoscope.accounts.score.score_study` (registered into the main app by ``register``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

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
    output: Annotated[str | None, typer.Option(
        "-o", "--output", help="write a spreadsheet-safe CSV of every account's score and reasons (- for "
        "stdout)")] = None,
    top: Annotated[int, typer.Option("--top", help="accounts shown / printed with --json")] = 20,
    json: Annotated[bool, typer.Option("--json", help="print the top accounts as JSON on stdout")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress")] = False,
) -> None:
    """Score every account from 0 to 1 with the reasons behind it (writes account_signals, account_scores)."""
    from ..accounts.score import FLAG_THRESHOLD, read_labels, score_study, write_scores_csv
    from ..study import open_study

    s = open_study(study)
    lab = read_labels(labels) if labels is not None else None
    with byte_progress("score", quiet=quiet or json or output == "-") as cb:
        imgs = None
        if images is not None:
            from ..accounts.faces import find_images, scan_images

            mapping = find_images(images, s.sql("SELECT account_id, handle FROM accounts"))
            cb({"event": "total", "bytes": mapping.num_rows})
            imgs = scan_images(mapping, progress=cb)
        res = score_study(s, mode=mode, labels=lab, images=imgs, progress=cb)
    if output is not None:
        if output == "-":
            data = write_scores_csv(res.scores, None)
            assert data is not None
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        else:
            write_scores_csv(res.scores, output)
    if json:
        emit_json(res.top(top))
        return
    if output == "-":
        return
    from rich.table import Table
    from rich.text import Text

    t = Table(title=f"account scores ({mode}; {res.meta['flagged']:,} of {res.meta['accounts']:,} at or above "
                    f"{FLAG_THRESHOLD})")
    for c in ("rank", "account", "score", "reasons"):
        t.add_column(c, justify="right" if c in ("rank", "score") else "left")
    for r in res.scores.slice(0, top).to_pylist():
        # account names and reasons are data: shown as plain text, never as rich markup
        t.add_row(str(r["rank"]), Text(f"@{r['handle']}" if r["handle"] else r["account_id"]), f"{r['score']:.2f}",
                  Text(r["reasons_text"] or "-"))
    out.print(t)
    if output not in (None, "-"):
        err.print(f"wrote {res.scores.num_rows:,} accounts to {output}")
    if images is not None and imgs is not None:
        err.print(f"checked {imgs.num_rows:,} local image(s)")

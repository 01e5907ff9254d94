"""Labels for the supervised account score: a CSV of ``account_id,label`` read into an Arrow table.

Why a module of its own: the labels file is user input with its own errors (unknown spellings, empty ids,
missing columns), each reported with file, line and field, and reading it needs no scikit-learn.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pyarrow as pa

from ..errors import SourceError

#: label spellings accepted in a labels file (case-insensitive)
POSITIVE_LABELS = frozenset({"1", "true", "yes", "bot", "fake", "campaign", "inauthentic", "coordinated", "troll"})
NEGATIVE_LABELS = frozenset({"0", "false", "no", "human", "real", "organic", "authentic", "genuine"})

#: the words for each class in messages
CLASS_NAMES = {1: "campaign/bot", 0: "organic/human"}


def read_labels(path: str | os.PathLike[str]) -> pa.Table:
    """Read a labels file: CSV with ``account_id`` and ``label`` columns (1/0, bot/human, campaign/organic, ...).

    Returns
    -------
    pyarrow.Table
        ``account_id`` (string), ``label`` (int64: 1 campaign/bot, 0 organic/human), in file order.

    Raises
    ------
    SourceError
        Naming the file, line and field of the first bad row.
    """
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"labels file {p} not found; give a CSV with columns account_id,label")
    ids: list[str] = []
    ys: list[int] = []
    with open(p, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in (reader.fieldnames or [])]
        if "account_id" not in fields or "label" not in fields:
            raise SourceError(f"columns {fields} lack account_id and/or label; expected a header "
                              "'account_id,label'", file=str(p), line=1)
        for line, row in enumerate(reader, start=2):
            row = {(k or "").strip(): v for k, v in row.items()}
            raw = (row.get("label") or "").strip().lower()
            if raw in POSITIVE_LABELS:
                ys.append(1)
            elif raw in NEGATIVE_LABELS:
                ys.append(0)
            else:
                raise SourceError(f"label '{raw}' is not known; use 1/0, true/false, bot/human or "
                                  "campaign/organic", file=str(p), line=line, field="label")
            aid = (row.get("account_id") or "").strip()
            if not aid:
                raise SourceError("empty account_id", file=str(p), line=line, field="account_id")
            ids.append(aid)
    return pa.table({"account_id": pa.array(ids, pa.string()), "label": pa.array(ys, pa.int64())})


__all__ = ["CLASS_NAMES", "NEGATIVE_LABELS", "POSITIVE_LABELS", "read_labels"]

"""Every account's score as a spreadsheet-safe CSV (``echoscope score -o FILE``).

Why a module of its own: a CSV of scores is opened in spreadsheets by people who did not make it, and a cell
that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return is run there as a formula (OWASP "CSV
injection"); handles, ids and reasons are data written by the accounts themselves. The file is written from
the stored ``account_scores`` table (its ``high_risk`` column included) with Arrow, no recomputation.
"""

from __future__ import annotations

import io
import os

import pyarrow as pa
import pyarrow.compute as pc

from ..errors import ConfigError

#: columns of the CSV, in order (``reasons`` is ``account_scores.reasons_text``)
CSV_COLUMNS: tuple[str, ...] = ("account_id", "handle", "score", "rank", "high_risk", "automated", "kind", "mode",
                                "n_signals", "reasons")

#: a text cell matching this makes a spreadsheet read it as a formula: = + - @ tab CR at its start
FORMULA_START = r"^[=+\-@\t\r]"


def neutralise(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Prefix every text cell that begins with = + - @ tab or CR with a single quote (nulls stay null)."""
    risky = pc.match_substring_regex(col, FORMULA_START)
    return pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)


def _round6(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Scores (>= 0) to 6 decimals as ``floor(x * 1e6 + 0.5) / 1e6``: the same doubles as DuckDB's ``round(x, 6)``
    that wrote these files before (Arrow's own rounding differs in the last bit on 1 score in 100,000)."""
    return pc.divide(pc.floor(pc.add(pc.multiply(col, 1e6), 0.5)), 1e6)


def write_scores_csv(scores: pa.Table, path: str | os.PathLike[str] | None) -> bytes | None:
    """Write every account's score as a spreadsheet-safe CSV (``path`` None: return the bytes).

    Parameters
    ----------
    scores
        The ``account_scores`` table (``ScoreResult.scores``).
    path
        Output file; None returns the CSV as bytes.

    Columns: :data:`CSV_COLUMNS`, by rank; scores rounded to 6 decimals; ``high_risk`` and ``automated`` are true
    or false; ``kind`` is one of :data:`echoscope.accounts.risk.KINDS`.
    """
    import pyarrow.csv as pacsv

    need = ["account_id", "handle", "score", "rank", "high_risk", "automated", "kind", "mode", "n_signals",
            "reasons_text"]
    missing = [c for c in need if c not in scores.column_names]
    if missing:
        raise ConfigError(f"account_scores lacks column(s) {', '.join(missing)} (written by an older echoscope); "
                          "rerun 'echoscope score' on the study")
    t = scores.take(pc.sort_indices(scores, [("rank", "ascending")]))
    safe = pa.table({
        "account_id": neutralise(t["account_id"]), "handle": neutralise(t["handle"]),
        "score": _round6(t["score"]), "rank": t["rank"],
        "high_risk": t["high_risk"], "automated": t["automated"], "kind": neutralise(t["kind"]), "mode": t["mode"],
        "n_signals": t["n_signals"],
        "reasons": neutralise(t["reasons_text"])}).select(list(CSV_COLUMNS))
    if path is None:
        buf = io.BytesIO()
        pacsv.write_csv(safe, buf)
        return buf.getvalue()
    pacsv.write_csv(safe, str(path))
    return None


__all__ = ["CSV_COLUMNS", "FORMULA_START", "neutralise", "write_scores_csv"]

"""Compare every table of two studies: the same rows, whatever their order (a refactoring's identity check).

    python benchmarks/compare_studies.py BEFORE_STUDY AFTER_STUDY [--digits 9] [--ignore-columns source,ingest_id]

Each canonical table and each result table present in either study is read with DuckDB straight from the
Parquet parts its manifest names (no echoscope code involved, so the check does not depend on the code under
test), floats are rounded to ``--digits`` significant digits, timestamps compared as UTC, list columns as
text, and the two multisets of rows compared with EXCEPT ALL both ways. Prints one line per table and exits 1
when any table differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb

#: columns that legitimately differ between two runs (file names, run ids, wall-clock times)
DEFAULT_IGNORE = ("source", "ingest_id", "observed_at_run", "run_id", "written_at", "seconds")


def parts(study: Path) -> dict[str, list[str]]:
    m = json.loads((study / "manifest.json").read_text())
    out = {name: [str(study / p) for p in t.get("parts", [])] for name, t in m.get("tables", {}).items()}
    for name, r in m.get("results", {}).items():
        out[name] = [str(study / p) for p in r.get("parts", [])]
    return {k: v for k, v in out.items() if v}


def normalised(con: duckdb.DuckDBPyConnection, files: list[str], digits: int, ignore: set[str]) -> str:
    lit = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    desc = con.execute(f"DESCRIBE SELECT * FROM read_parquet([{lit}], union_by_name=true)").fetchall()
    cols = []
    for name, typ, *_ in desc:
        if name in ignore:
            continue
        q = '"' + name.replace('"', '""') + '"'
        t = typ.upper()
        if t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("DECIMAL"):
            # significant digits, so values of any size compare alike
            cols.append(f"CASE WHEN {q} IS NULL OR isnan({q}) OR {q} = 0 THEN {q} ELSE "
                        f"round({q}, {digits} - 1 - CAST(floor(log10(abs({q}))) AS INTEGER)) END AS {q}")
        elif "[]" in t or t.startswith(("STRUCT", "MAP", "LIST")):
            cols.append(f"CAST({q} AS VARCHAR) AS {q}")
        else:
            cols.append(q)
    return f"SELECT {', '.join(cols)} FROM read_parquet([{lit}], union_by_name=true)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--digits", type=int, default=9, help="significant digits of floats compared (default 9)")
    ap.add_argument("--ignore-columns", default=",".join(DEFAULT_IGNORE))
    ap.add_argument("--tables", default="", help="comma-separated tables to compare (default: all)")
    a = ap.parse_args()
    ignore = {c for c in a.ignore_columns.split(",") if c}
    pa_, pb = parts(a.before), parts(a.after)
    names = sorted(set(pa_) | set(pb))
    if a.tables:
        names = [n for n in names if n in set(a.tables.split(","))]
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    bad = 0
    for name in names:
        if name not in pa_ or name not in pb:
            print(f"{name:32s} only in {'after' if name in pb else 'before'}")
            bad += 1
            continue
        qa, qb = normalised(con, pa_[name], a.digits, ignore), normalised(con, pb[name], a.digits, ignore)
        try:
            na = con.execute(f"SELECT count(*) FROM ({qa})").fetchone()[0]
            nb = con.execute(f"SELECT count(*) FROM ({qb})").fetchone()[0]
            only_a = con.execute(f"SELECT count(*) FROM ({qa} EXCEPT ALL {qb})").fetchone()[0]
            only_b = con.execute(f"SELECT count(*) FROM ({qb} EXCEPT ALL {qa})").fetchone()[0]
        except duckdb.Error as exc:
            print(f"{name:32s} cannot compare: {str(exc).splitlines()[0]}")
            bad += 1
            continue
        same = only_a == 0 and only_b == 0
        bad += not same
        print(f"{name:32s} {'same' if same else 'DIFFERENT'}: {na:,} / {nb:,} rows"
              + ("" if same else f"; {only_a:,} only before, {only_b:,} only after"))
    print(f"{len(names) - bad} of {len(names)} tables the same")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

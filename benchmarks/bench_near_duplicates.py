"""co-text's near-duplicate step (a prefix-filter similarity join in DuckDB) on a study's distinct texts.

Usage::

    python benchmarks/bench_near_duplicates.py STUDY [STUDY ...] [--threshold 0.8]

For each study (e.g. one made by ``echoscope simulate DIR --accounts 200000 --engagements 1000000``), reads the
distinct normalised texts co-text would see (not timed) and times
:func:`echoscope.coordination.text.near_duplicate_groups` on them; prints one JSON line per study with the
texts, seconds, texts merged into another's group, and the process's peak memory (VmHWM, which includes the
texts held in Python).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import peak_rss_mib


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("studies", nargs="+", type=Path)
    ap.add_argument("--threshold", type=float, default=0.8)
    a = ap.parse_args()

    from echoscope.coordination.coactions import COACTIONS, install_macros
    from echoscope.coordination.text import near_duplicate_groups
    from echoscope.engine import Engine
    from echoscope.store.study import open_store

    for path in a.studies:
        eng = Engine(open_store(path))
        con = eng.raw
        install_macros(con)
        texts = con.execute(f"SELECT DISTINCT object_id FROM ({COACTIONS['co-text'].sql({})}) ORDER BY 1"
                            ).to_arrow_table().column(0).to_pylist()
        t = time.perf_counter()
        groups = near_duplicate_groups(texts, a.threshold, settings=eng.settings)
        sec = time.perf_counter() - t
        print(json.dumps({"study": str(path), "texts": len(texts), "seconds": round(sec, 1),
                          "merged": sum(1 for i, g in enumerate(groups) if g != i),
                          "peak_rss_mib": round(peak_rss_mib()), "load": os.getloadavg()}), flush=True)


if __name__ == "__main__":
    main()

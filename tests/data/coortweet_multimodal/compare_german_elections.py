"""Compare echoscope's ``--semantics coortweet`` with CooRTweet on CooRTweet's real multimodal data set.

Usage (needs R with CooRTweet 2.1.3: ``bash ../shared/peers/install-coortweet.sh``)::

    python tests/data/coortweet_multimodal/compare_german_elections.py [WORKDIR]

``german_elections`` (shipped in CooRTweet, MIT; Righetti et al. 2022: 218,971 rows of Facebook and Twitter
posts with anonymised URL, hashtag, domain and pHash ids) is written out by ``german_elections.R``, which also
runs CooRTweet's vignette on it. The posts are gathered into one row each (lists of their ids; URLs as
``https://d<domain_id>.example/u<url_id>``, so that co-domain finds the data set's domain of each URL), ingested
with ``echoscope ingest --format csv --map phash=media_hashes`` and run with ``echoscope coordinate --semantics
coortweet --window 30 --edges``; the two edge lists are compared pair by pair (weight, mean gap, threshold).
Prints the counts, the differences (none expected) and both tools' times. Not a test: CI has no R.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NETWORKS = {"a": "co-link,co-hashtag,co-media", "b": "co-link,co-domain,co-hashtag,co-media"}


def edges(path: Path, a: str, b: str, w: str, flag: str) -> dict[tuple[str, str], tuple[float, float, int]]:
    with open(path, encoding="utf-8") as fh:
        return {tuple(sorted((r[a], r[b]))): (float(r[w]), round(float(r["avg_time_delta"]), 6), int(float(r[flag])))
                for r in csv.DictReader(fh)}


def main(work: Path) -> int:
    import duckdb

    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run(["Rscript", str(HERE / "german_elections.R"), str(work)], check=True,
                   env={**os.environ, "TZ": "UTC"})
    print(f"CooRTweet (export, four detect_groups, two networks): {time.perf_counter() - t0:.1f} s")
    duckdb.connect().execute(f"""COPY (SELECT post_id, any_value(account_id) AS account_id,
            any_value(timestamp) AS created_at,
            to_json(list(DISTINCT 'https://d' || domain_id || '.example/u' || url_id)
                    FILTER (WHERE url_id IS NOT NULL)) AS urls,
            to_json(list(DISTINCT hashtag_id) FILTER (WHERE hashtag_id IS NOT NULL)) AS hashtags,
            to_json(list(DISTINCT phash_id) FILTER (WHERE phash_id IS NOT NULL)) AS phash
        FROM read_csv('{work / "german_elections.csv"}') WHERE post_id IS NOT NULL GROUP BY post_id ORDER BY post_id)
        TO '{work / "posts.csv"}' (HEADER)""")
    exe = Path(sys.executable).with_name("echoscope")
    cli = [str(exe) if exe.exists() else (shutil.which("echoscope") or "echoscope")]
    study = work / "study"
    subprocess.run([*cli, "init", str(study)], check=True, stdout=subprocess.DEVNULL)
    t0 = time.perf_counter()
    subprocess.run([*cli, "ingest", str(study), str(work / "posts.csv"), "--format", "csv", "--map",
                    "phash=media_hashes", "--quiet"], check=True, stdout=subprocess.DEVNULL)
    print(f"echoscope ingest: {time.perf_counter() - t0:.1f} s")
    bad = 0
    for name, behaviours in NETWORKS.items():
        t0 = time.perf_counter()
        subprocess.run([*cli, "coordinate", str(study), "--semantics", "coortweet", "-b", behaviours, "--window", "30",
                        "--min-repeat", "2", "--edges", str(work / f"echoscope_{name}.csv"), "--json", "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        secs = time.perf_counter() - t0
        want = edges(work / f"coortweet_{name}.csv", "account_id", "account_id_y", "weight", "weight_threshold")
        got = edges(work / f"echoscope_{name}.csv", "Source", "Target", "Weight", "weight_threshold")
        diff = {k for k in want.keys() | got.keys() if want.get(k) != got.get(k)}
        bad += len(diff)
        print(f"{behaviours}: CooRTweet {len(want):,} edges ({sum(v[2] for v in want.values()):,} above the "
              f"threshold), echoscope {len(got):,} in {secs:.1f} s; {len(diff)} differ")
        for k in sorted(diff)[:10]:
            print("  ", k, want.get(k), got.get(k))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="coortweet_ge_"))))

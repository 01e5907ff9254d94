"""Adversarial data shapes for ``echoscope coordinate --behaviour all``: does any of them crash it or run it out
of memory? (issue 16 item 5: "memory must be bounded whatever the data's shape ... never an internal error").

Usage::

    python benchmarks/bench_shapes.py [--rows 1000000] [--shapes hashtag-storm,copypasta,...]
        [--behaviour all] [--memory-limit 3GiB] [--workdir /tmp/shapes]

Each shape is a study of ``--rows`` posts (or logins) built to be the worst case of one behaviour, the kind of
data a user brings without knowing it is hard:

* ``hashtag-storm``: every post carries one hashtag (``#breaking``) and a Zipf-popular second one; a fifth of
  the posts fall in one hour (co-hashtag, co-text).
* ``copypasta``: 40 % of the posts are one text (with a counter in a third of them), the rest random words,
  half of the copies within a day (co-text's near-duplicate merge and its one giant object).
* ``one-domain``: every post links to one site (different paths), a fifth to the same article (co-link,
  co-domain).
* ``carrier-nat``: logins, half of the accounts behind one address (shared-ip's configuration null).
* ``same-second``: reposts, ten posts each reposted by a tenth of the rows within one second (co-retweet's
  dense windows, early-amplify, co-latency, rapid-fire).
* ``reply-pile``: half the rows are replies to one post, all mentioning its author and one more handle
  (co-reply, co-mention).
* ``media-meme``: every post carries an image hash, a third of them the same image (co-media).

Runs ``echoscope coordinate STUDY --behaviour B --json`` in a fresh process under ``/usr/bin/time -v`` (as a
user does), and prints one JSON line per shape: exit code, wall seconds, peak RSS, the last stderr line (the
error, if any), flagged accounts and clusters. Results: benchmarks/RESULTS.md ("Adversarial shapes").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

BASE = 1_600_000_000
TS = pa.timestamp("us", tz="UTC")
WORDS = np.array([f"w{i}" for i in range(5000)])


def _ts(sec: np.ndarray) -> pa.Array:
    return pa.array(((BASE + sec) * 1e6).astype("int64")).cast(TS)


def _accounts(rng: np.random.Generator, n: int, n_acc: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n_acc + 1) ** 0.9
    return rng.choice(n_acc, size=n, p=w / w.sum())


def _texts(rng: np.random.Generator, n: int, k: int = 9) -> np.ndarray:
    idx = rng.integers(0, len(WORDS), size=(n, k))
    out = WORDS[idx[:, 0]].astype(object)
    for j in range(1, k):
        out = out + " " + WORDS[idx[:, j]]
    return out.astype(str)


def _posts(n: int, acc: np.ndarray, sec: np.ndarray, **cols: pa.Array) -> pa.Table:
    base = {"post_id": pa.array(np.char.add("p", np.arange(n).astype(str))),
            "account_id": pa.array(np.char.add("a", acc.astype(str))),
            "created_at": _ts(sec)}
    if "kind" not in cols:
        cols["kind"] = pa.array(np.full(n, "original"))
    return pa.table({**base, **cols})


def _lists(first: np.ndarray, second: np.ndarray | None = None) -> pa.Array:
    if second is None:
        return pa.array([[x] for x in first.tolist()], type=pa.list_(pa.string()))
    return pa.array([[x, y] for x, y in zip(first.tolist(), second.tolist())], type=pa.list_(pa.string()))


def _spread(rng: np.random.Generator, n: int, burst_share: float, burst_len: float) -> np.ndarray:
    sec = rng.uniform(0, 30 * 86400, size=n)
    nb = int(n * burst_share)
    sec[:nb] = 10 * 86400 + rng.uniform(0, burst_len, size=nb)
    return sec[rng.permutation(n)]


def hashtag_storm(n: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    acc = _accounts(rng, n, n // 10)
    zipf = 1.0 / np.arange(1, 20001) ** 1.1
    tag2 = np.char.add("t", rng.choice(20000, size=n, p=zipf / zipf.sum()).astype(str))
    return {"posts": _posts(n, acc, _spread(rng, n, 0.2, 3600.0), text=pa.array(_texts(rng, n)),
                            hashtags=_lists(np.full(n, "breaking"), tag2))}


def copypasta(n: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    acc = _accounts(rng, n, n // 10)
    text = _texts(rng, n)
    nc = int(n * 0.4)
    pasta = "this is the one true story that they do not want you to read share it before it is gone"
    copies = np.full(nc, pasta, dtype=object)
    third = rng.random(nc) < 1 / 3
    copies[third] = pasta + " " + np.char.mod("%d", rng.integers(0, 1000, size=int(third.sum()))).astype(object)
    text = text.astype(object)
    text[:nc] = copies
    sec = rng.uniform(0, 30 * 86400, size=n)
    sec[: nc // 2] = 5 * 86400 + rng.uniform(0, 86400, size=nc // 2)
    perm = rng.permutation(n)
    return {"posts": _posts(n, acc, sec[perm], text=pa.array(text[perm].astype(str)))}


def one_domain(n: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    acc = _accounts(rng, n, n // 10)
    paths = np.char.add("https://www.example-news.com/story/", rng.integers(0, n // 5, size=n).astype(str))
    same = rng.random(n) < 0.2
    paths[same] = "https://www.example-news.com/story/the-one"
    return {"posts": _posts(n, acc, _spread(rng, n, 0.2, 7200.0), urls=_lists(paths))}


def carrier_nat(n: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    n_acc = n // 5
    acc = _accounts(rng, n, n_acc)
    zipf = 1.0 / np.arange(1, n // 4 + 1) ** 1.0
    ip = np.char.add("ip", rng.choice(n // 4, size=n, p=zipf / zipf.sum()).astype(str))
    nat = (acc % 2) == 0
    ip[nat] = "ip-carrier-nat"
    logins = pa.table({"account_id": pa.array(np.char.add("a", acc.astype(str))),
                       "ts": _ts(rng.uniform(0, 30 * 86400, size=n)), "ip_hash": pa.array(ip)})
    posts = _posts(1000, np.arange(1000), rng.uniform(0, 30 * 86400, size=1000))
    return {"posts": posts, "logins": logins}


def same_second(n: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    acc = _accounts(rng, n, n // 10)
    n_src = max(n // 20, 10)
    zipf = 1.0 / np.arange(1, n_src + 1) ** 1.1
    ref = rng.choice(n_src, size=n, p=zipf / zipf.sum()) + 10
    t_post = rng.uniform(0, 30 * 86400, size=n_src + 10)
    sec = t_post[ref] + rng.exponential(3600.0, size=n)
    hot = rng.random(n) < 0.5
    ref[hot] = rng.integers(0, 10, size=int(hot.sum()))
    sec[hot] = t_post[ref[hot]] + rng.random(int(hot.sum()))  # within the same second
    return {"posts": _posts(n, acc, sec, kind=pa.array(np.full(n, "repost")),
                            ref_post_id=pa.array(np.char.add("src", ref.astype(str))),
                            ref_account_id=pa.array(np.char.add("author", (ref % 50).astype(str))))}


def reply_pile(n: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    acc = _accounts(rng, n, n // 10)
    ref = rng.integers(0, n // 20, size=n) + 1
    pile = rng.random(n) < 0.5
    ref[pile] = 0
    sec = rng.uniform(0, 30 * 86400, size=n)
    sec[pile] = 12 * 86400 + rng.exponential(600.0, size=int(pile.sum()))
    m1 = np.where(pile, "author0", np.char.add("author", (ref % 500).astype(str)))
    return {"posts": _posts(n, acc, sec, kind=pa.array(np.full(n, "reply")),
                            ref_post_id=pa.array(np.char.add("src", ref.astype(str))),
                            text=pa.array(_texts(rng, n)), mentions=_lists(m1, np.full(n, "everyone")))}


def media_meme(n: int, rng: np.random.Generator) -> dict[str, pa.Table]:
    acc = _accounts(rng, n, n // 10)
    h = np.char.add("img", rng.integers(0, n // 3, size=n).astype(str))
    h[rng.random(n) < 1 / 3] = "img-the-meme"
    return {"posts": _posts(n, acc, _spread(rng, n, 0.2, 3600.0), media_hashes=_lists(h))}


SHAPES = {"hashtag-storm": hashtag_storm, "copypasta": copypasta, "one-domain": one_domain,
          "carrier-nat": carrier_nat, "same-second": same_second, "reply-pile": reply_pile,
          "media-meme": media_meme}


def build(shape: str, rows: int, where: Path, seed: int = 0) -> Path:
    import echoscope

    path = where / shape
    shutil.rmtree(path, ignore_errors=True)
    s = echoscope.init_study(path)
    s.load_arrow(SHAPES[shape](rows, np.random.default_rng(seed)))
    return path


def run(study: Path, behaviour: str, memory_limit: str | None) -> dict:
    exe = str(Path(sys.executable).parent / "echoscope")
    cmd = ["/usr/bin/time", "-v", exe, "coordinate", str(study), "--behaviour", behaviour, "--json"]
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    out: dict = {"exit_code": p.returncode, "wall_s": round(time.perf_counter() - t, 1)}
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    out["peak_rss_gib"] = round(int(m.group(1)) / 2**20, 2) if m else None
    err = [x for x in p.stderr.splitlines() if x.strip() and not x.startswith(("\t", "Command being"))]
    if p.returncode:
        out["error"] = err[-1:] if err else []
    else:
        sm = json.loads(p.stdout)["summary"]
        out["flagged_accounts"] = sm.get("flagged_accounts")
        out["coordinated_clusters"] = sm.get("coordinated_clusters")
        out["behaviour_seconds"] = {b: round(v.get("seconds") or 0, 1) for b, v in sm.get("behaviours", {}).items()
                                    if (v.get("seconds") or 0) >= 0.5}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--behaviour", default="all")
    ap.add_argument("--memory-limit", default=None, help="passed to coordinate (default: the stage's own)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/echoscope-shapes"))
    ap.add_argument("--keep", action="store_true", help="keep the studies")
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    for shape in a.shapes.split(","):
        t = time.perf_counter()
        study = build(shape, a.rows, a.workdir)
        res = {"shape": shape, "rows": a.rows, "build_s": round(time.perf_counter() - t, 1),
               "load": os.getloadavg()[0], **run(study, a.behaviour, a.memory_limit)}
        print(json.dumps(res), flush=True)
        if not a.keep:
            shutil.rmtree(study, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Make the multimodal CooRTweet conformance fixture: posts with URLs, hashtags and image hashes of 36 accounts.

Run from anywhere: ``python tests/data/coortweet_multimodal/make_fixture.py`` writes, next to this file,

* ``posts.csv``: the posts as echoscope reads them (``--format csv --map phash=media_hashes``): post_id,
  account_id, created_at (Unix seconds, integers and some halves), kind, urls, hashtags and phash (JSON arrays);
* ``long.csv``: the same posts in the layout of CooRTweet's own multimodal data set (``german_elections``):
  one row per object a post carries, columns account_id, post_id, url, hashtag, domain, phash, timestamp. The
  ``domain`` of each URL is written here from the table below (what a reader would call the site), not by
  echoscope's normalisation, so that the comparison also checks co-domain's normalisation.

Then ``TZ=UTC Rscript tests/data/coortweet_multimodal/run_coortweet.R`` (CooRTweet 2.1.3, installed by
``../shared/peers/install-coortweet.sh``) runs CooRTweet's vignette on ``long.csv`` and writes
``expected_edges.csv``: CooRTweet's network for each object type alone and for pooled combinations. The tests
(``tests/test_coordination_multimodal.py``) need neither R nor this script: they read the three CSV files.

The data (seeded, so the files are the same on every run): campaign A (a01-a08) posts the same link, the same
hashtags and the same image within seconds, four times, in three rotating subgroups, with URL spellings that
differ (tracking parameters, ``www.``, ``m.``, a port) but name one site; campaign B (b01-b06) posts the same
images and a hashtag in two waves; 22 ordinary accounts (o01-o22) post links to a few popular sites, popular
hashtags and a popular meme image at random times over two days, so that some of them co-share by chance. The
edge cases the semantics turn on are put in on purpose: two shares exactly ``WINDOW`` seconds apart (inside:
CooRTweet's window is inclusive) and two ``WINDOW + 1`` apart (outside); a post carrying one URL, hashtag and
image twice (one share: CooRTweet's ``unique()``); hashtags ``Vote`` and ``vote`` (two objects: CooRTweet
compares strings); reposts carrying a link (counted: CooRTweet takes every row); an account with a single post
(below ``min_participation``); subdomains of a blog host (two sites) and of a news site (one site).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: CooRTweet's parameters for the fixture (run_coortweet.R reads the same values)
WINDOW = 60
T0 = 1_700_000_000

#: link spelling -> the site a reader names (its registrable domain)
SITES: dict[str, str] = {
    "https://www.truth-daily.co.uk/story/1?utm_source=tw": "truth-daily.co.uk",
    "http://m.truth-daily.co.uk/story/1": "truth-daily.co.uk",
    "https://truth-daily.co.uk:443/story/2/": "truth-daily.co.uk",
    "https://news.truth-daily.co.uk/live": "truth-daily.co.uk",
    "https://alice.blogspot.com/2024/01/post.html": "alice.blogspot.com",
    "https://bob.blogspot.com/2024/01/post.html": "bob.blogspot.com",
    "https://WWW.Example-Shop.com/item?id=9": "example-shop.com",
    "https://www2.example-shop.com/item?id=9&fbclid=x": "example-shop.com",
    "https://bigpaper.com/politics/a": "bigpaper.com",
    "https://edition.bigpaper.com/politics/b": "bigpaper.com",
    "https://video.site.tv/watch?v=1": "site.tv",
    "https://www.site.tv/watch?v=2": "site.tv",
    "http://203.0.113.7/leak.pdf": "203.0.113.7",
    "https://gov.example.go.jp/notice": "example.go.jp",
    "https://abc.net.au/news/1": "abc.net.au",
}
CAMPAIGN_LINKS = ["https://www.truth-daily.co.uk/story/1?utm_source=tw", "http://m.truth-daily.co.uk/story/1",
                  "https://truth-daily.co.uk:443/story/2/", "https://news.truth-daily.co.uk/live"]
POPULAR_LINKS = [u for u in SITES if u not in CAMPAIGN_LINKS]
POPULAR_TAGS = ["news", "politics", "Vote", "vote", "weather", "football"]
MEME = "f0e1d2c3b4a59687"


def _hash(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(16))


def make_posts(seed: int = 16) -> list[dict]:
    """The fixture's posts (dicts with lists), in post-id order."""
    rng = random.Random(seed)
    posts: list[dict] = []

    def post(account: str, t: float, urls=(), tags=(), media=(), kind: str = "original") -> None:
        posts.append({"post_id": f"p{len(posts) + 1:04d}", "account_id": account, "created_at": t, "kind": kind,
                      "urls": list(urls), "hashtags": list(tags), "phash": list(media)})

    campaign_a = [f"a{i:02d}" for i in range(1, 9)]
    images_a = [_hash(rng) for _ in range(4)]
    for k in range(4):  # four operations, six hours apart, each by six of the eight accounts
        t = T0 + 6 * 3600 * k
        members = campaign_a[k % 3:] + campaign_a[:k % 3]
        for j, a in enumerate(members[:6]):
            post(a, t + 7 * j + (0.5 if j == 3 else 0), urls=[CAMPAIGN_LINKS[(j + k) % 4]],
                 tags=["Vote", f"op{k}"] if j % 2 else ["vote", f"op{k}"], media=[images_a[k]])
    # the window's edge: a01 and a02 exactly WINDOW apart (pair), a03 and a04 WINDOW + 1 apart (no pair)
    t = T0 + 30 * 3600
    post("a01", t, urls=["https://alice.blogspot.com/2024/01/post.html"], tags=["edge"])
    post("a02", t + WINDOW, urls=["https://alice.blogspot.com/2024/01/post.html"], tags=["edge"])
    post("a03", t + 1000, urls=["https://bob.blogspot.com/2024/01/post.html"], tags=["edge2"])
    post("a04", t + 1000 + WINDOW + 1, urls=["https://bob.blogspot.com/2024/01/post.html"], tags=["edge2"])
    # one post carrying its link, hashtag and image twice (CooRTweet's unique(): one share each)
    post("a05", T0 + 18 * 3600 + 3, urls=[CAMPAIGN_LINKS[2]] * 2, tags=["op3", "op3"], media=[images_a[3]] * 2)
    # reposts carrying a link: CooRTweet takes every row, so they count under its semantics
    post("a07", T0 + 12 * 3600 + 20, urls=[CAMPAIGN_LINKS[0]], kind="repost")
    post("a08", T0 + 12 * 3600 + 25, urls=[CAMPAIGN_LINKS[0]], kind="repost")

    campaign_b = [f"b{i:02d}" for i in range(1, 7)]
    images_b = [_hash(rng) for _ in range(3)]
    for wave in range(2):
        t = T0 + 3600 * (40 + 5 * wave)
        for j, b in enumerate(campaign_b):
            post(b, t + 11 * j, tags=["stopit"], media=[images_b[(j + wave) % 3], images_b[(j + wave + 1) % 3]])

    ordinary = [f"o{i:02d}" for i in range(1, 23)]
    for o in ordinary:
        for _ in range(rng.randint(3, 7)):
            t = T0 + rng.randint(0, 48 * 3600)
            if rng.random() < 0.3:  # the organic crowd also bunches around the same times
                t = T0 + 3600 * rng.choice([9, 21, 33]) + rng.randint(0, 240)
            urls = [rng.choice(POPULAR_LINKS)] if rng.random() < 0.6 else []
            tags = rng.sample(POPULAR_TAGS, rng.randint(0, 2))
            media = [MEME] if rng.random() < 0.2 else ([_hash(rng)] if rng.random() < 0.2 else [])
            post(o, t, urls=urls, tags=tags, media=media)
    post("loner", T0 + 9 * 3600 + 5, urls=[POPULAR_LINKS[0]], tags=["news"], media=[MEME])  # one post only
    return posts


def write(posts: list[dict]) -> None:
    """Write posts.csv (echoscope) and long.csv (CooRTweet) next to this file."""
    with open(HERE / "posts.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["post_id", "account_id", "created_at", "kind", "urls", "hashtags", "phash"])
        for p in posts:
            t = p["created_at"]
            w.writerow([p["post_id"], p["account_id"], int(t) if float(t).is_integer() else t, p["kind"],
                        json.dumps(p["urls"]) if p["urls"] else "", json.dumps(p["hashtags"]) if p["hashtags"] else "",
                        json.dumps(p["phash"]) if p["phash"] else ""])
    with open(HERE / "long.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["account_id", "post_id", "url", "hashtag", "domain", "phash", "timestamp"])
        for p in posts:
            rows = ([[u, "", SITES[u], ""] for u in p["urls"]] + [["", h, "", ""] for h in p["hashtags"]]
                    + [["", "", "", m] for m in p["phash"]]) or [["", "", "", ""]]
            for url, tag, dom, img in rows:
                w.writerow([p["account_id"], p["post_id"], url, tag, dom, img, p["created_at"]])


if __name__ == "__main__":
    write(make_posts())

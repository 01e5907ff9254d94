"""Readers, one module per input format, registered by name.

``SOURCES`` maps a format name to ``"module:function"``; modules are imported on first use so that a format's
optional dependencies cost nothing until it is read. Each module also exposes ``sniff_<format>`` (or, when it
reads one format, ``sniff``) with the signature ``(head: bytes, name: str) -> float``: how sure it is (0..1)
that a file whose first decompressed bytes are ``head`` is its format. :func:`detect` asks every sniffer and
takes the surest.

Besides the readers the package holds what they share: :mod:`.base` (what a reader is and gets),
:mod:`.jsonl` (JSON lines: blocks, worker processes, staging), :mod:`.twitter_sniff`, :mod:`.values` and
:mod:`.tabular_plan`/:mod:`.tabular_engine` (tables parsed with DuckDB), and :mod:`.textcap` (the length
limits the ingest sink applies to every batch).
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import ConfigError, SourceError
from .base import IngestSink, Reader, SourceFile

#: format name -> "module:reader function"
SOURCES: dict[str, str] = {
    "twarc2": "twarc2:read_twarc2",
    "twitter-v1": "twitter_v1:read_twitter_v1",
    "io-archive": "io_archive:read_io_archive",
    "csv": "tabular:read_csv",
    "parquet": "tabular:read_parquet",
    "twarc2-users": "status:read_twarc2_users",
    "jetstream": "jetstream:read_jetstream",
    "mastodon": "mastodon:read_mastodon",
    "telegram": "telegram:read_telegram",
}

#: formats whose sniffers take part in detection, in order of preference on a tie
DETECTABLE: tuple[str, ...] = ("twarc2", "twitter-v1", "twarc2-users", "jetstream", "mastodon", "telegram",
                               "io-archive", "parquet", "csv")

#: what each format is, for help texts and docs
DESCRIPTIONS: dict[str, str] = {
    "twarc2": "Twitter API v2 JSONL as written by twarc2: response pages (data/includes/meta) or flattened tweets",
    "twitter-v1": "Twitter API v1.1 JSON lines (statuses with user, retweeted_status, quoted_status)",
    "io-archive": "X/Twitter information-operations archive CSVs (tweets and users; plain, .gz or .zip)",
    "csv": "any CSV with canonical column names, or mapped with --map; --table says which table it fills",
    "parquet": "any Parquet file, like csv",
    "twarc2-users": "twarc2 user lookups: users become accounts + 'active', errors mark suspended/deleted",
    "jetstream": ("Bluesky Jetstream JSONL (current and 2024 spellings): posts, reposts, likes, profiles, "
                  "account status"),
    "mastodon": "Mastodon statuses or notifications (API JSON/JSONL) or an account export outbox.json",
    "telegram": "Telegram Desktop export result.json; forwards are reposts of the forwarded-from channel",
}


def get_reader(name: str) -> Reader:
    if name not in SOURCES:
        raise ConfigError(f"unknown format '{name}'; known formats: {', '.join(sorted(SOURCES))}")
    mod, fn = SOURCES[name].split(":")
    module = importlib.import_module(f"{__name__}.{mod}")
    return getattr(module, fn)


def _sniffer(name: str) -> Any:
    mod = SOURCES[name].split(":")[0]
    module = importlib.import_module(f"{__name__}.{mod}")
    return getattr(module, f"sniff_{name.replace('-', '_')}", None) or getattr(module, "sniff", None)


def detect(src: SourceFile) -> str:
    """Guess the format of ``src`` from its name and first bytes.

    Raises
    ------
    SourceError
        When no reader recognises the file (with the formats tried and how to name one with ``--format``).
    """
    head = src.head()
    if not head.strip():
        raise SourceError("file is empty; nothing to ingest (remove it from the command line)", file=src.path)
    scores: list[tuple[float, int, str]] = []
    for i, name in enumerate(DETECTABLE):
        sniff = _sniffer(name)
        if sniff is None:
            continue
        score = float(sniff(head, src.name))
        if score > 0:
            scores.append((score, -i, name))
    if not scores:
        raise SourceError(
            "format not recognised from the file's first bytes; name it with --format "
            f"({'|'.join(sorted(SOURCES))}), see docs/sources.md",
            file=src.path,
        )
    return max(scores)[2]


__all__ = ["SOURCES", "DESCRIPTIONS", "detect", "get_reader", "SourceFile", "IngestSink", "Reader"]

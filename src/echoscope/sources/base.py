"""What a reader is and what it gets.

A reader turns one input file into rows of the canonical tables (see :mod:`echoscope.schema`). It never writes
to the study itself: it hands Arrow batches to an :class:`IngestSink`, which stages them, and the study then
deduplicates, merges and commits everything atomically. That split keeps readers small, pure and testable,
and keeps the guarantees (atomicity, idempotence, counts that reconcile) in one place.

Counting rule (the ``echoscope info`` contract): a file's *primary records* are the things the file is a list
of -- tweets for a tweet file, user rows for a users file, status rows for a status file. A reader passes
``primary=True`` with the batch of the file's primary table and calls :meth:`IngestSink.quarantine` (or
:meth:`IngestSink.quarantine_batch`) with ``primary=True`` for each primary record it could not load. Rows of
other tables (authors found in ``includes``, quoted posts) are passed with ``primary=False``: they are stored
but not counted. ``read = loaded + quarantined + duplicates`` then holds by construction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import IO, Any, Protocol

import pyarrow as pa

MAX_RAW = 2000


@dataclasses.dataclass
class SourceFile:
    """One input to read.

    ``path`` is the name shown in messages and stored in the manifest (``-`` for stdin); ``open()`` returns
    a binary stream of the *decompressed* bytes; ``local_path`` is a real file a library such as DuckDB may
    read directly (``None`` for stdin or a member of a zip archive, in which case the reader must stream
    ``open()`` or ask :meth:`materialise`).
    """

    path: str
    opener: Callable[[], IO[bytes]]
    local_path: str | None = None
    compression: str | None = None  # None | "gzip" | "zip"
    member: str | None = None  # zip member name
    materialise: Callable[[], str] | None = None  # returns a plain local copy, made on demand

    def open(self) -> IO[bytes]:
        return self.opener()

    def head(self, n: int = 65536) -> bytes:
        """The first ``n`` decompressed bytes (for format detection)."""
        with self.open() as fh:
            return fh.read(n)

    @property
    def name(self) -> str:
        return self.member or self.path


class IngestSink(Protocol):
    """Where a reader puts what it read. Implemented by :class:`echoscope.study.Ingest`."""

    platform: str
    options: dict[str, Any]

    def add(self, table: str, batch: pa.Table, *, primary: bool) -> None:
        """Stage rows for canonical ``table``; columns are conformed to the schema (missing -> null)."""

    def quarantine(self, *, line: int | None, field: str | None, reason: str, raw: str | None,
                   primary: bool = True) -> None:
        """Put one bad record aside with the reason."""

    def quarantine_batch(self, batch: pa.Table, *, primary: bool = True) -> None:
        """Put many bad records aside: a table with columns line, field, reason, raw."""

    def duckdb(self) -> Any:
        """A DuckDB connection for readers that parse with SQL (scratch space, not the study)."""

    def progress(self, advance_bytes: int) -> None:
        """Report bytes consumed (for the progress bar)."""


#: a reader: reads ``src`` into ``sink``; raises SourceError/SchemaError when the file cannot be read at all
Reader = Callable[[SourceFile, IngestSink], None]


def truncate(raw: Any) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    s = str(raw)
    return s if len(s) <= MAX_RAW else s[:MAX_RAW] + "…"

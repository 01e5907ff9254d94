"""Durable, resumable appends of collected events to a study.

A collector hands :class:`CollectStore` a batch (canonical Arrow tables) together with the stream cursor of
the last event in it. The store

1. commits the batch through :meth:`echoscope.study.Study.load_arrow` -- the study's own atomic commit: new
   Parquet parts, then one manifest rename; rows whose key is already stored are dropped;
2. only then writes the cursor file ``collect/<name>.json`` with
   :func:`echoscope.study.atomic_write_bytes`.

A crash before step 1's rename leaves neither the rows nor the cursor: the collector resumes from the older
cursor and receives the batch again. A crash between 1 and 2 leaves the rows with the older cursor: the batch
is received again and dropped as duplicates by the key (did + collection + rkey for Bluesky). Hence no gap
and no duplicate, whatever the moment of the crash. The cursor is never ahead of what is committed.

Account snapshots are held back and committed at most every ``accounts_every`` seconds, because each commit
of ``accounts`` rewrites that (merged) table. While rows are held back, the saved cursor is the time of the
first held-back event, so a crash replays them (and nothing is lost).

Compaction: every commit adds small Parquet parts and a manifest entry. After every ``compact_every``
commits, the store merges the commit parts (level 0) of each append-only table into one level-1 part, ten
level-1 parts into a level-2 part, and so on (a log-structured merge: each row is rewritten about
log10(rows) times, never once per commit; keys are unique across parts, so a merge is a plain union), folds
the collector's manifest entries into one cumulative entry, and swaps the manifest under the study lock.
Readers keep seeing a consistent snapshot: the merged part holds exactly the rows of the parts it replaces.

Frames that are not events go to ``collect/<name>-quarantine.jsonl`` (the study's quarantine table is filled
only by file ingests).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from .. import schema as S
from ..errors import StudyError
from ..store.ingest import run_load_arrow
from ..store.manifest import Manifest, atomic_write_bytes
from ..store.study import StudyStore as Study

#: tables whose parts may be merged (accounts is rewritten whole on every commit anyway)
APPENDED = ("posts", "likes", "account_status", "logins")
#: parts at least this large are never merged again
BIG_PART_BYTES = 256 << 20
#: parts of one compaction level merged together into the next level (level 0: every commit's parts)
FANOUT = 10


class CollectStore:
    """Append batches of a named collection to ``study``, with its cursor saved after each commit.

    Parameters
    ----------
    study
        The study to append to.
    name
        Collection name (``bluesky``, ``mastodon``); names the cursor and quarantine files.
    platform
        Platform written on rows that do not carry one.
    compact_every
        Merge small parts after this many commits (0 turns compaction off).
    accounts_every
        Seconds between commits of held-back account snapshots.
    """

    def __init__(self, study: Study, name: str, *, platform: str, compact_every: int = 20,
                 accounts_every: float = 30.0, lock_wait: float = 60.0,
                 progress: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.study = study
        self.name = name
        self.platform = platform
        self.compact_every = compact_every
        self.accounts_every = accounts_every
        self.lock_wait = lock_wait
        self.progress = progress
        self.dir = study.path / "collect"
        self.dir.mkdir(exist_ok=True)
        self.state_path = self.dir / f"{name}.json"
        self.quarantine_path = self.dir / f"{name}-quarantine.jsonl"
        self.commits = 0
        self.rows: dict[str, int] = {}
        self.loaded = 0
        self.duplicates = 0
        self.quarantined = 0
        self._held: list[pa.Table] = []
        self._held_first: int | None = None
        self._held_since = time.monotonic()
        self.state = self.load_state()

    # ------------------------------------------------------------------------------------------ the cursor
    def load_state(self) -> dict[str, Any]:
        """The saved state (``cursor`` and bookkeeping), or an empty one."""
        try:
            return orjson.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return {}
        except orjson.JSONDecodeError as exc:
            raise StudyError(f"{self.state_path} is damaged ({exc}); delete it and pass --cursor to resume "
                             "from a known time") from exc

    @property
    def cursor(self) -> int | None:
        c = self.state.get("cursor")
        return int(c) if c is not None else None

    def _save_state(self, cursor: int | None, extra: dict[str, Any]) -> None:
        self.state.update(extra)
        if cursor is not None:
            self.state["cursor"] = int(cursor)
        self.state["updated_at"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.state["commits"] = int(self.state.get("commits", 0)) + 1
        atomic_write_bytes(self.state_path, orjson.dumps(self.state, option=orjson.OPT_INDENT_2))

    # ------------------------------------------------------------------------------------------ commits
    def commit(self, tables: dict[str, pa.Table], cursor: int | None, *, first_cursor: int | None = None,
               extra: dict[str, Any] | None = None, force_accounts: bool = False) -> dict[str, Any]:
        """Commit one batch, then save ``cursor`` (the stream position of its last event).

        ``first_cursor`` is the position of the batch's first event (used when account rows are held back).
        Returns the commit's report (rows loaded and duplicates).
        """
        tables = {k: v for k, v in tables.items() if v.num_rows}
        acc = tables.pop("accounts", None)
        if acc is not None:
            if not self._held:
                self._held_first = first_cursor if first_cursor is not None else cursor
                self._held_since = time.monotonic()
            self._held.append(acc)
        if self._held and (force_accounts or time.monotonic() - self._held_since >= self.accounts_every):
            tables["accounts"] = pa.concat_tables([S.conform(t, S.ACCOUNTS) for t in self._held])
            self._held = []
            self._held_first = None
        report: dict[str, Any] = {"loaded": 0, "duplicates": 0}
        if tables:
            report = self._load(tables)
        save = cursor
        if self._held_first is not None and cursor is not None:
            save = min(cursor, self._held_first)
        self._save_state(save, extra or {})
        self.commits += 1
        if self.compact_every and self.commits % self.compact_every == 0:
            self.compact()
        return report

    def commit_side(self, tables: dict[str, pa.Table]) -> dict[str, Any]:
        """Commit rows that are not tied to the stream position (resolved profiles); the cursor is unchanged."""
        tables = {k: v for k, v in tables.items() if v.num_rows}
        return self._load(tables) if tables else {"loaded": 0, "duplicates": 0}

    def _load(self, tables: dict[str, pa.Table]) -> dict[str, Any]:
        deadline = time.monotonic() + self.lock_wait
        while True:
            try:
                rep = run_load_arrow(self.study, tables, name=f"collect:{self.name}", platform=self.platform)
                break
            except StudyError as exc:
                if "being written" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        for k, v in tables.items():
            self.rows[k] = self.rows.get(k, 0) + v.num_rows
        self.loaded += int(rep.get("loaded", 0))
        self.duplicates += int(rep.get("duplicates", 0))
        return rep

    def flush(self, cursor: int | None = None) -> None:
        """Commit held-back account rows now and save ``cursor`` (at shutdown)."""
        self.commit({}, cursor if cursor is not None else self.cursor, force_accounts=True)

    def quarantine(self, raw: bytes | str | None, *, field: str | None, reason: str) -> None:
        """Keep a frame that is not an event, with the reason, in ``collect/<name>-quarantine.jsonl``."""
        from ..sources.base import truncate

        rec = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "field": field,
               "reason": reason, "raw": truncate(raw)}
        with open(self.quarantine_path, "ab") as fh:
            fh.write(orjson.dumps(rec) + b"\n")
        self.quarantined += 1

    # ------------------------------------------------------------------------------------------ compaction
    def compact(self) -> dict[str, int]:
        """Merge the small parts of each appended table into one; fold this collector's manifest entries.

        Returns the number of parts merged per table.
        """
        deadline = time.monotonic() + self.lock_wait
        while True:
            try:
                with self.study.lock():  # held throughout: another writer's sweep must not see our new part
                    merged = self._compact_locked()
                break
            except StudyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        if self.progress is not None:
            self.progress({"event": "compact", "merged": merged})
        return merged

    def _compact_locked(self) -> dict[str, int]:
        import duckdb

        merged: dict[str, int] = {}
        m = self.study.manifest()
        con = duckdb.connect()
        con.execute("SET TimeZone='UTC'")
        drop: list[str] = []
        try:
            for table in APPENDED:
                parts = m.table_parts(table)
                rows = m.table_rows(table)
                levels: dict[int, list[str]] = {}
                for p in parts:
                    if _size(self.study.path / p) < BIG_PART_BYTES:
                        levels.setdefault(_level(p), []).append(p)
                level = 0
                while level in levels:
                    group = levels[level]
                    if len(group) < (2 if level == 0 else FANOUT):
                        level += 1
                        continue
                    rel = self._merge(con, table, group, level + 1)
                    group_set = set(group)
                    parts = [p for p in parts if p not in group_set] + [rel]
                    m.set_table(table, parts, rows)
                    levels.setdefault(level + 1, []).append(rel)
                    drop.extend(group)
                    merged[table] = merged.get(table, 0) + len(group)
                    level += 1
        finally:
            con.close()
        self._fold_files(m)
        if merged or len(m.files()) != len(self.study.manifest().files()):
            self.study.commit(m)
        for p in drop:
            with contextlib.suppress(FileNotFoundError):
                (self.study.path / p).unlink()
        return merged

    def _merge(self, con: Any, table: str, parts: list[str], level: int) -> str:
        rel = f"tables/{table}/part-c{level}-{uuid.uuid4().hex[:12]}.parquet"
        out = self.study.path / rel
        tmp = out.with_name("." + out.name + ".tmp")
        files = ", ".join("'" + str(self.study.path / p).replace("'", "''") + "'" for p in parts)
        cols = ", ".join(f'"{f.name}"' for f in S.TABLES[table])
        keys = ", ".join(f'"{k}"' for k in S.KEYS[table])
        con.execute(f"COPY (SELECT {cols} FROM read_parquet([{files}]) ORDER BY {keys}) TO '{tmp}' "
                    "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
        return rel

    def _fold_files(self, m: Manifest) -> None:
        """Fold this collector's manifest entries (one per commit) into one cumulative entry."""
        name = f"collect:{self.name}"
        files = m.files()
        mine = [f for f in files if f.get("path") == name]
        if len(mine) < 2:
            return
        total = dict(mine[0])
        for k in ("read", "loaded", "quarantined", "duplicates"):
            total[k] = sum(int(f.get(k) or 0) for f in mine)
        total["ingested_at"] = mine[-1].get("ingested_at")
        total["format"] = self.name
        total["commits"] = sum(int(f.get("commits", 1)) for f in mine)
        others = [f for f in files if f.get("path") != name]
        m.replace_files(others + [total])


def _level(rel: str) -> int:
    """Compaction level of a part: 0 for a commit's part, n for ``part-c<n>-*`` (made by compaction)."""
    name = Path(rel).name
    if name.startswith("part-c") and name[6:7].isdigit():
        return int(name[6:].split("-", 1)[0])
    return 0


def _size(p: Path) -> int:
    try:
        return p.stat().st_size
    except FileNotFoundError:
        return 0


__all__ = ["CollectStore"]

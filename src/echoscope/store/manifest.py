"""The study manifest: the one module that reads ``manifest.json`` and commits a new one.

Why one owner: the manifest is the study's only source of truth (which files were ingested with their counts,
which Parquet parts make each table, which parts hold each analysis's results and with which parameters). A
change becomes visible in one atomic rename, so every writer must go through the same commit: a fresh copy
is read under the study's lock, changed through the methods below, and :func:`commit` writes it with the next
generation number (write to a temporary name, fsync, rename, fsync the directory). Readers use the typed
accessors and never index the raw JSON.

Layout of ``manifest.json`` (format 1, extended compatibly)::

    {"version": 1, "generation": 7,
     "files":   [{"path", "format", "sha256", "size", "table", "read", "loaded", "quarantined",
                  "duplicates", "ingest_id", "ingested_at"}, ...],
     "tables":  {"posts": {"parts": ["tables/posts/part-....parquet"], "rows": 123}, ...},
     "results": {"coord_edges": {"parts": [...], "rows": 9, "written_at": "...", "meta": {...},
                                 "analysis": "coordination", "run": "c-20261206-..."}, ...},
     "runs":    [{"id", "analysis", "written_at", "parameters", "summary", "tables": {name: {"parts",
                  "rows"}}}, ...]}

``results`` always names the latest run's tables (what views, the report and the exports read by default);
``runs`` keeps every analysis run that stores its tables per run, so an earlier run stays readable.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import StudyError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def now_iso() -> str:
    """The current UTC time as ISO 8601 (seconds)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new content, never a mix."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # persist the rename itself
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_parquet(data: pa.Table, path: Path) -> None:
    """Write a Parquet file atomically (temporary name, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(data, tmp, compression="zstd")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Manifest:
    """One snapshot of a study's manifest, read from disk; change it, then :func:`commit` it.

    Accessors return copies or plain values, so a reader cannot change the snapshot by accident.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        self._d = data
        self._d.setdefault("files", [])
        self._d.setdefault("tables", {})
        self._d.setdefault("results", {})
        self._d.setdefault("runs", [])

    @classmethod
    def empty(cls) -> Manifest:
        return cls({"version": FORMAT_VERSION, "generation": 0, "files": [], "tables": {}, "results": {},
                    "runs": []})

    # ------------------------------------------------------------------ reading
    @property
    def generation(self) -> int:
        return int(self._d.get("generation", 0))

    @property
    def version(self) -> int:
        return int(self._d.get("version", FORMAT_VERSION))

    def files(self) -> list[dict[str, Any]]:
        """Every ingested file with its counts (copies)."""
        return [dict(f) for f in self._d["files"]]

    def known_hashes(self) -> dict[str, dict[str, Any]]:
        """Ingested files by content hash."""
        return {f["sha256"]: dict(f) for f in self._d["files"] if f.get("sha256")}

    def known_sizes(self) -> set[Any]:
        return {f.get("size") for f in self._d["files"]}

    def table_names(self) -> list[str]:
        return list(self._d["tables"])

    def table_parts(self, name: str) -> list[str]:
        """Parts of a canonical table, relative to the study directory."""
        return list(self._d["tables"].get(name, {}).get("parts", []))

    def table_rows(self, name: str) -> int:
        return int(self._d["tables"].get(name, {}).get("rows", 0))

    def result_names(self) -> list[str]:
        return sorted(self._d["results"])

    def has_result(self, name: str) -> bool:
        return name in self._d["results"]

    def result(self, name: str) -> dict[str, Any] | None:
        """The latest result table ``name``: ``parts``, ``rows``, ``written_at``, ``meta``, ``analysis``, ``run``."""
        r = self._d["results"].get(name)
        return copy.deepcopy(r) if r is not None else None

    def result_parts(self, name: str) -> list[str]:
        return list(self._d["results"].get(name, {}).get("parts", []))

    def result_rows(self, name: str) -> int:
        return int(self._d["results"].get(name, {}).get("rows", 0))

    def result_meta(self, name: str) -> dict[str, Any]:
        return copy.deepcopy(self._d["results"].get(name, {}).get("meta") or {})

    def results(self) -> dict[str, dict[str, Any]]:
        """Every latest result table (copies)."""
        return copy.deepcopy(self._d["results"])

    def runs(self, analysis: str | None = None) -> list[dict[str, Any]]:
        """Stored runs, oldest first (optionally of one analysis)."""
        return [copy.deepcopy(r) for r in self._d["runs"] if analysis is None or r.get("analysis") == analysis]

    def run(self, run_id: str) -> dict[str, Any] | None:
        for r in self._d["runs"]:
            if r.get("id") == run_id:
                return copy.deepcopy(r)
        return None

    def latest_runs(self) -> dict[str, str]:
        """The run each analysis's latest result tables come from (``{analysis: run id}``): those runs are the
        default view and are never pruned."""
        out: dict[str, str] = {}
        for r in self._d["results"].values():
            if r.get("run") and r.get("analysis"):
                out.setdefault(str(r["analysis"]), str(r["run"]))
        return out

    def prunable_runs(self, keep: int, analysis: str | None = None) -> list[str]:
        """Ids of the runs beyond the ``keep`` newest of each analysis (of ``analysis`` only when given),
        oldest first; a run whose tables are the latest results is never among them."""
        latest = {r.get("run") for r in self._d["results"].values() if r.get("run")}
        by: dict[str, list[dict[str, Any]]] = {}
        for r in self._d["runs"]:  # appended in commit order: oldest first
            by.setdefault(str(r.get("analysis")), []).append(r)
        out: list[str] = []
        for name, runs in by.items():
            if analysis is not None and name != analysis:
                continue
            newest = {r.get("id") for r in runs[max(0, len(runs) - keep):]} if keep > 0 else set()
            out += [str(r["id"]) for r in runs if r.get("id") not in newest and r.get("id") not in latest]
        return out

    def live_parts(self) -> set[str]:
        """Every file the manifest refers to (anything else under tables/ and results/ is garbage)."""
        live = {p for t in self._d["tables"].values() for p in t.get("parts", [])}
        live |= {p for r in self._d["results"].values() for p in r.get("parts", [])}
        live |= {p for run in self._d["runs"] for t in run.get("tables", {}).values() for p in t.get("parts", [])}
        return live

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of the whole document (for ``info --json`` and tests)."""
        return copy.deepcopy(self._d)

    # ------------------------------------------------------------------ changing (then commit)
    def add_file(self, entry: dict[str, Any]) -> None:
        self._d["files"].append(dict(entry))

    def replace_files(self, entries: Iterable[dict[str, Any]]) -> None:
        self._d["files"] = [dict(e) for e in entries]

    def append_parts(self, name: str, parts: list[str], rows: int) -> None:
        """Add new parts (and their rows) to a canonical table."""
        entry = self._d["tables"].setdefault(name, {"parts": [], "rows": 0})
        entry["parts"] = list(entry.get("parts", [])) + list(parts)
        entry["rows"] = int(entry.get("rows", 0)) + int(rows)

    def set_table(self, name: str, parts: list[str], rows: int) -> list[str]:
        """Make ``parts`` the whole table ``name``; returns the parts it replaces (to delete after commit)."""
        old = self.table_parts(name)
        self._d["tables"][name] = {"parts": list(parts), "rows": int(rows)}
        return [p for p in old if p not in parts]

    def set_result(self, name: str, parts: list[str], rows: int, *, meta: dict[str, Any] | None = None,
                   analysis: str | None = None, run: str | None = None) -> list[str]:
        """Make ``parts`` the latest result table ``name``; returns replaced parts no run keeps."""
        old = self.result_parts(name)
        # the generation this write commits: orders runs written within the same second
        entry: dict[str, Any] = {"parts": list(parts), "rows": int(rows), "written_at": now_iso(),
                                 "generation": self.generation + 1, "meta": meta or {}}
        if analysis:
            entry["analysis"] = analysis
        if run:
            entry["run"] = run
        self._d["results"][name] = entry
        kept = {p for r in self._d["runs"] for t in r.get("tables", {}).values() for p in t.get("parts", [])}
        return [p for p in old if p not in parts and p not in kept]

    def drop_result(self, name: str) -> list[str]:
        """Forget the latest result table ``name``; returns its parts no run keeps."""
        old = self.result_parts(name)
        self._d["results"].pop(name, None)
        kept = {p for r in self._d["runs"] for t in r.get("tables", {}).values() for p in t.get("parts", [])}
        return [p for p in old if p not in kept]

    def add_run(self, run: dict[str, Any]) -> None:
        """Record an analysis run (``id``, ``analysis``, ``parameters``, ``summary``, ``tables``)."""
        if any(r.get("id") == run.get("id") for r in self._d["runs"]):
            raise StudyError(f"a run with id {run.get('id')} is already stored")
        entry = copy.deepcopy(run)
        entry.setdefault("generation", self.generation + 1)
        self._d["runs"].append(entry)

    def drop_runs(self, run_ids: Iterable[str]) -> list[str]:
        """Forget runs; returns their parts that nothing else refers to (to delete after commit)."""
        ids = set(run_ids)
        gone = [r for r in self._d["runs"] if r.get("id") in ids]
        self._d["runs"] = [r for r in self._d["runs"] if r.get("id") not in ids]
        live = self.live_parts()
        return sorted({p for r in gone for t in r.get("tables", {}).values() for p in t.get("parts", [])} - live)


def read_manifest(study_dir: Path) -> Manifest:
    """Read the manifest of the study at ``study_dir``.

    Raises
    ------
    StudyError
        When the file is missing or damaged.
    """
    path = Path(study_dir) / MANIFEST
    try:
        return Manifest(orjson.loads(path.read_bytes()))
    except FileNotFoundError:
        raise StudyError(f"{study_dir} is not an echoscope study (no {MANIFEST}); create one with "
                         f"'echoscope init {study_dir}'") from None
    except orjson.JSONDecodeError as exc:
        raise StudyError(f"{path} is damaged ({exc}); restore it from a backup") from exc


def commit(study_dir: Path, manifest: Manifest) -> int:
    """Write ``manifest`` as the study's new manifest, atomically, with the next generation; returns it.

    Call with the study's write lock held, on a snapshot read under that lock.
    """
    manifest._d["generation"] = manifest.generation + 1
    manifest._d["version"] = FORMAT_VERSION
    atomic_write_bytes(Path(study_dir) / MANIFEST, orjson.dumps(manifest._d, option=orjson.OPT_INDENT_2))
    return manifest.generation


def create(study_dir: Path) -> None:
    """Write the empty manifest of a new study."""
    atomic_write_bytes(Path(study_dir) / MANIFEST, orjson.dumps(Manifest.empty()._d, option=orjson.OPT_INDENT_2))


__all__ = ["FORMAT_VERSION", "MANIFEST", "Manifest", "atomic_write_bytes", "commit", "create", "now_iso",
           "read_manifest", "write_parquet"]

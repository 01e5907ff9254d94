"""A study directory: canonical tables as Parquet parts, a manifest, and result tables.

Layout::

    mystudy/
      echoscope.toml           configuration (name, default platform, [engine] settings)
      manifest.json            the only source of truth (see :mod:`echoscope.store.manifest`)
      tables/<table>/*.parquet canonical tables (parts are immutable; a part not in the manifest is garbage)
      results/<name>/*.parquet result tables written by the analyses
      .staging/<run>/          a run's scratch space (deleted on success, swept on the next run after a crash)

Why a manifest of immutable parts: a run writes new parts next to the old ones and then swaps the manifest,
so a run killed at any moment leaves the previous manifest -- and so the previous study -- intact; readers
(``info``, ``measure``, a notebook) always see one consistent snapshot; and running the same ingest again gives
the same tables as an uninterrupted run because nothing of the killed run was ever visible.

This layer stores and knows no analysis and no query engine: :class:`StudyStore` reads and commits files.
Queries go through :mod:`echoscope.engine`; the user-facing :class:`echoscope.Study` adds them on top.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
import shutil
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from .. import schema as S
from ..errors import ConfigError, StudyError
from . import manifest as M
from .manifest import MANIFEST, Manifest, atomic_write_bytes, write_parquet

CONFIG = "echoscope.toml"

ProgressFn = Callable[[dict[str, Any]], None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def default_config(name: str) -> str:
    """The ``echoscope.toml`` of a new study."""
    return (
        "# echoscope study configuration\n"
        "[study]\n"
        f'name = "{name}"\n'
        f'created = "{_now().isoformat(timespec="seconds")}"\n'
        'platform = "twitter"   # platform assumed for sources that do not say\n'
        "\n"
        "[engine]\n"
        'backend = "duckdb"     # duckdb (embedded) | spark: where measure, coordinate and score run by default\n'
        '# memory_limit = "4GB" # DuckDB memory limit of every stage (default: per stage, docs/scale-out.md);\n'
        "                       # larger work spills to the study's .duckdb-tmp\n"
        "# threads = 2          # DuckDB threads (default: every core)\n"
    )


def init_store(path: str | os.PathLike[str], *, name: str | None = None, exist_ok: bool = False,
               cls: type[StudyStore] | None = None) -> StudyStore:
    """Create a study directory and return it (as ``cls``, default :class:`StudyStore`).

    Raises
    ------
    StudyError
        When ``path`` already holds a study (unless ``exist_ok``) or is a non-empty directory of other files.
    """
    klass = cls or StudyStore
    p = Path(path)
    if (p / MANIFEST).exists():
        if exist_ok:
            return klass(p)
        raise StudyError(f"{p} already holds a study; use it as it is, or choose another directory")
    if p.exists() and not p.is_dir():
        raise StudyError(f"{p} exists and is not a directory")
    if p.exists() and any(p.iterdir()):
        raise StudyError(f"{p} is a non-empty directory that is not a study; choose an empty or new directory")
    p.mkdir(parents=True, exist_ok=True)
    (p / "tables").mkdir(exist_ok=True)
    (p / "results").mkdir(exist_ok=True)
    atomic_write_bytes(p / CONFIG, default_config(name or p.resolve().name).encode())
    M.create(p)
    return klass(p)


def open_store(path: str | os.PathLike[str]) -> StudyStore:
    """Open an existing study directory for storage work (no query engine)."""
    return StudyStore(Path(path))


class StudyStore:
    """A study directory: configuration, manifest, lock, and the atomic writes of tables and results."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not (self.path / MANIFEST).exists():
            raise StudyError(
                f"{self.path} is not an echoscope study (no {MANIFEST}); create one with 'echoscope init {self.path}'"
            )

    # ------------------------------------------------------------------ configuration and manifest
    @property
    def config(self) -> dict[str, Any]:
        try:
            with open(self.path / CONFIG, "rb") as fh:
                return tomllib.load(fh)
        except FileNotFoundError:
            return {}
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{self.path / CONFIG}: {exc}; fix the TOML syntax") from exc

    @property
    def platform(self) -> str:
        return str(self.config.get("study", {}).get("platform", "twitter"))

    @property
    def name(self) -> str | None:
        n = self.config.get("study", {}).get("name")
        return str(n) if n is not None else None

    def manifest(self) -> Manifest:
        """The current manifest (a snapshot; see :mod:`echoscope.store.manifest`)."""
        return M.read_manifest(self.path)

    def commit(self, manifest: Manifest) -> int:
        """Make ``manifest`` the study's manifest (call with :meth:`lock` held); returns its generation."""
        gen = M.commit(self.path, manifest)
        self._changed()
        return gen

    def _changed(self) -> None:
        """Hook for subclasses that cache views of the manifest."""

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the study's write lock (one writer at a time; readers never wait)."""
        fh = open(self.path / ".lock", "a+")  # noqa: SIM115 - held for the duration of the context
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise StudyError(f"{self.path} is being written by another echoscope process; wait for it") from exc
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()

    def sweep(self) -> list[str]:
        """Delete files no manifest refers to (left by a killed run). Call with the lock held."""
        live = self.manifest().live_parts()
        removed: list[str] = []
        for sub in ("tables", "results"):
            base = self.path / sub
            if not base.exists():
                continue
            for f in base.rglob("*"):
                if f.is_file():
                    rel = f.relative_to(self.path).as_posix()
                    if rel not in live:
                        f.unlink()
                        removed.append(rel)
        staging = self.path / ".staging"
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        return removed

    # ------------------------------------------------------------------ reading
    def parts(self, table: str) -> list[str]:
        """Absolute paths of a canonical table's parts."""
        return [str(self.path / p) for p in self.manifest().table_parts(table)]

    def result_parts(self, name: str) -> list[str]:
        """Absolute paths of the latest result table ``name``'s parts."""
        return [str(self.path / p) for p in self.manifest().result_parts(name)]

    def rows(self, name: str) -> int:
        """Rows of a canonical or result table as the manifest records them (0 when absent)."""
        m = self.manifest()
        if m.has_result(name):
            return m.result_rows(name)
        return m.table_rows(name)

    # ------------------------------------------------------------------ writing
    def write_results(self, tables: dict[str, pa.Table], *, meta: dict[str, Any] | None = None,
                      analysis: str | None = None, run_id: str | None = None,
                      parameters: dict[str, Any] | None = None, summary: dict[str, Any] | None = None) -> None:
        """Store several result tables of one analysis in one atomic commit.

        With ``run_id`` the tables are also recorded as a run (kept readable after later runs replace the
        latest tables); without it, the tables they replace are deleted.
        """
        for name in tables:
            if not name.replace("_", "").isalnum():
                raise ConfigError(f"result name '{name}' must be letters, digits and underscores")
        with self.lock():
            written: dict[str, list[str]] = {}
            for name, data in tables.items():
                rel = f"results/{name}/part-{uuid.uuid4().hex}.parquet"
                out = self.path / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                write_parquet(data, out)
                written[name] = [rel]
            m = self.manifest()
            if run_id is not None:
                m.add_run({"id": run_id, "analysis": analysis, "written_at": M.now_iso(),
                           "parameters": parameters or {}, "summary": summary or {},
                           "tables": {n: {"parts": written[n], "rows": t.num_rows} for n, t in tables.items()}})
            drop: list[str] = []
            for name, data in tables.items():
                drop += m.set_result(name, written[name], data.num_rows, meta=meta, analysis=analysis, run=run_id)
            self.commit(m)
            for p in drop:
                with contextlib.suppress(FileNotFoundError):
                    (self.path / p).unlink()

    def write_result(self, name: str, data: pa.Table, *, meta: dict[str, Any] | None = None) -> None:
        """Store one result table (replacing an earlier one of that name) atomically."""
        self.write_results({name: data}, meta=meta)

    def drop_results(self, names: list[str]) -> None:
        """Forget result tables (e.g. an analysis's tables that a newer run does not write)."""
        with self.lock():
            m = self.manifest()
            drop: list[str] = []
            for n in names:
                drop += m.drop_result(n)
            self.commit(m)
            for p in drop:
                with contextlib.suppress(FileNotFoundError):
                    (self.path / p).unlink()

    def set_targets(self, data: pa.Table) -> None:
        """Replace the targets table."""
        self.replace_table("targets", S.conform(data, S.TARGETS))

    def replace_table(self, name: str, data: pa.Table) -> None:
        """Replace a whole canonical table with ``data`` atomically."""
        with self.lock():
            rel = f"tables/{name}/part-{uuid.uuid4().hex}.parquet"
            (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
            write_parquet(data, self.path / rel)
            m = self.manifest()
            old = m.set_table(name, [rel], data.num_rows)
            self.commit(m)
            for p in old:
                with contextlib.suppress(FileNotFoundError):
                    (self.path / p).unlink()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"


def file_sha256(path: str, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


__all__ = ["CONFIG", "MANIFEST", "StudyStore", "atomic_write_bytes", "default_config", "file_sha256", "init_store",
           "open_store", "write_parquet"]

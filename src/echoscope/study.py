"""A study: a directory holding canonical tables as Parquet parts, a manifest, and results.

Layout::

    mystudy/
      echoscope.toml           configuration (name, default platform, engine)
      manifest.json            the only source of truth: ingested files with their counts, the Parquet parts
                               of every table, result tables. Replaced atomically (write + fsync + rename).
      tables/<table>/*.parquet canonical tables (parts are immutable; a part not in the manifest is garbage)
      results/<name>/*.parquet result tables written by later stages
      .staging/<run>/          a run's scratch space (deleted on success, swept on the next run after a crash)

Why a manifest of immutable parts: a run writes new parts next to the old ones and then swaps the manifest,
so a run killed at any moment leaves the previous manifest -- and so the previous study -- intact; readers
(``info``, ``measure``, a notebook) always see one consistent snapshot; and running the same ingest again gives
the same tables as an uninterrupted run because nothing of the killed run was ever visible. Deduplication and
merging happen in DuckDB on the staged Parquet, out of core, never in Python lists.
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
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from . import schema as S
from .errors import ConfigError, EchoscopeError, SourceError, StudyError

MANIFEST = "manifest.json"
CONFIG = "echoscope.toml"
FORMAT_VERSION = 1

ProgressFn = Callable[[dict[str, Any]], None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new content, never a mix."""
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


def _default_config(name: str) -> str:
    return (
        "# echoscope study configuration\n"
        "[study]\n"
        f'name = "{name}"\n'
        f'created = "{_now().isoformat(timespec="seconds")}"\n'
        'platform = "twitter"   # platform assumed for sources that do not say\n'
        "\n"
        "[engine]\n"
        'backend = "duckdb"     # duckdb (embedded) | spark\n'
        'memory_limit = "1GB"   # DuckDB memory limit; larger work spills to the study\'s .staging\n'
    )


def init_study(path: str | os.PathLike[str], *, name: str | None = None, exist_ok: bool = False) -> Study:
    """Create a study directory and return it.

    Raises
    ------
    StudyError
        When ``path`` already holds a study (unless ``exist_ok``) or is a non-empty directory of other files.
    """
    p = Path(path)
    if (p / MANIFEST).exists():
        if exist_ok:
            return Study(p)
        raise StudyError(f"{p} already holds a study; use it as it is, or choose another directory")
    if p.exists() and not p.is_dir():
        raise StudyError(f"{p} exists and is not a directory")
    if p.exists() and any(p.iterdir()):
        raise StudyError(f"{p} is a non-empty directory that is not a study; choose an empty or new directory")
    p.mkdir(parents=True, exist_ok=True)
    (p / "tables").mkdir(exist_ok=True)
    (p / "results").mkdir(exist_ok=True)
    atomic_write_bytes(p / CONFIG, _default_config(name or p.resolve().name).encode())
    manifest = {"version": FORMAT_VERSION, "generation": 0, "files": [], "tables": {}, "results": {}}
    atomic_write_bytes(p / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return Study(p)


def open_study(path: str | os.PathLike[str]) -> Study:
    """Open an existing study directory."""
    return Study(Path(path))


class Study:
    """A study directory. See the module docstring for the layout and guarantees.

    Tables are available as Ibis expressions (:meth:`table`), Arrow (:meth:`to_arrow`) or pandas
    (:meth:`to_pandas`); ``engagements`` is a view over ``posts`` and ``likes``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not (self.path / MANIFEST).exists():
            raise StudyError(
                f"{self.path} is not an echoscope study (no {MANIFEST}); create one with 'echoscope init {self.path}'"
            )
        self._con: Any = None
        self._con_generation: int | None = None

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

    def manifest(self) -> dict[str, Any]:
        try:
            return orjson.loads((self.path / MANIFEST).read_bytes())
        except orjson.JSONDecodeError as exc:
            raise StudyError(f"{self.path / MANIFEST} is damaged ({exc}); restore it from a backup") from exc

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        manifest["generation"] = int(manifest.get("generation", 0)) + 1
        atomic_write_bytes(self.path / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        self._con_generation = None  # views must be rebuilt

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the study's write lock (one writer at a time; readers never wait)."""
        fh = open(self.path / ".lock", "a+")
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
        m = self.manifest()
        live = {p for t in m["tables"].values() for p in t.get("parts", [])}
        live |= {p for r in m.get("results", {}).values() for p in r.get("parts", [])}
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
        return [str(self.path / p) for p in self.manifest()["tables"].get(table, {}).get("parts", [])]

    def con(self) -> Any:
        """An Ibis DuckDB connection with every table and view of the current manifest registered."""
        from .engine import connect_study

        gen = self.manifest().get("generation", 0)
        if self._con is None or self._con_generation != gen:
            self._con = connect_study(self)
            self._con_generation = gen
        return self._con

    def table(self, name: str) -> Any:
        """Ibis table expression for a canonical table, a view (``engagements``) or a result table."""
        con = self.con()
        if name not in con.list_tables():
            known = sorted(con.list_tables())
            raise ConfigError(f"no table '{name}' in {self.path}; tables: {', '.join(known)}")
        return con.table(name)

    def to_arrow(self, name: str) -> pa.Table:
        return self.table(name).to_pyarrow()

    def to_pandas(self, name: str) -> Any:
        return self.table(name).to_pandas()

    def sql(self, query: str) -> pa.Table:
        """Run SQL against the study's tables and views; returns Arrow."""
        return self.con().raw_sql(query).to_arrow_table()

    # ------------------------------------------------------------------ analyses
    def measures(self, **params: Any) -> Any:
        """Amplification measures of this study (:func:`echoscope.measures.measures`; same keywords)."""
        from .measures import measures

        return measures(self, **params)

    def coordinate(self, params: Any = None, **kw: Any) -> Any:
        """Coordination networks of this study (:func:`echoscope.coordination.coordinate`)."""
        from .coordination import coordinate

        return coordinate(self, params, **kw)

    def score(self, **kw: Any) -> Any:
        """Per-account signals and risk scores (:func:`echoscope.accounts.score_study`)."""
        from .accounts import score_study

        return score_study(self, **kw)

    def spark(self, master: str | None = None, **options: Any) -> Any:
        """An Ibis PySpark connection with the same tables and views (needs the ``spark`` extra).

        ``master``, ``data_root`` and ``conf`` as for :func:`echoscope.engine.spark_target` (default: the
        study's ``[spark]`` configuration, else ``local[2]``).
        """
        from .engine import connect_spark

        return connect_spark(self, master, **options)

    def rows(self, name: str) -> int:
        m = self.manifest()
        if name in m["tables"]:
            return int(m["tables"][name].get("rows", 0))
        if name in m.get("results", {}):
            return int(m["results"][name].get("rows", 0))
        return int(self.con().table(name).count().execute())

    # ------------------------------------------------------------------ writing
    def ingest(self, inputs: Iterable[str], *, format: str | None = None, table: str | None = None,
               mapping: dict[str, str] | None = None, platform: str | None = None,
               options: dict[str, Any] | None = None, progress: ProgressFn | None = None) -> list[dict[str, Any]]:
        """Read ``inputs`` (files, directories, ``-`` for stdin; plain, gzip or zip) into the study.

        All files of one call are committed together: either every one of them is in the study afterwards
        or none is. Files already in the manifest (same content hash) are skipped.

        Returns
        -------
        list of dict
            One entry per input file: path, format, read, loaded, quarantined, duplicates, status.
        """
        from .ingest import run_ingest

        return run_ingest(self, list(inputs), format=format, table=table, mapping=mapping or {},
                          platform=platform or self.platform, options=options or {}, progress=progress)

    def load_arrow(self, tables: dict[str, pa.Table], *, name: str = "arrow", platform: str | None = None,
                   progress: ProgressFn | None = None, existing_filter: str | None = None,
                   sweep: bool = True) -> dict[str, Any]:
        """Load canonical tables given as Arrow (columns as in :mod:`echoscope.schema`; missing ones null).

        Goes through the same deduplication and atomic commit as :meth:`ingest`; returns the file report.
        ``existing_filter`` narrows the duplicate check to stored rows matching a SQL predicate (the live
        collector's append path); ``sweep=False`` leaves unreferenced files alone (for a concurrent compactor).
        """
        from .ingest import run_load_arrow

        return run_load_arrow(self, tables, name=name, platform=platform or self.platform, progress=progress,
                              existing_filter=existing_filter, sweep=sweep)

    def write_result(self, name: str, data: pa.Table, *, meta: dict[str, Any] | None = None) -> None:
        """Store a result table (replacing an earlier one of that name) atomically."""
        if not name.replace("_", "").isalnum():
            raise ConfigError(f"result name '{name}' must be letters, digits and underscores")
        with self.lock():
            rel = f"results/{name}/part-{uuid.uuid4().hex}.parquet"
            out = self.path / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            write_parquet(data, out)
            m = self.manifest()
            old = m.setdefault("results", {}).get(name, {}).get("parts", [])
            m["results"][name] = {"parts": [rel], "rows": data.num_rows, "written_at": _now().isoformat(),
                                  "meta": meta or {}}
            self._write_manifest(m)
            for p in old:
                with contextlib.suppress(FileNotFoundError):
                    (self.path / p).unlink()

    def set_targets(self, data: pa.Table) -> None:
        """Replace the targets table."""
        self._replace_table("targets", S.conform(data, S.TARGETS))

    def _replace_table(self, name: str, data: pa.Table) -> None:
        with self.lock():
            rel = f"tables/{name}/part-{uuid.uuid4().hex}.parquet"
            (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
            write_parquet(data, self.path / rel)
            m = self.manifest()
            old = m["tables"].get(name, {}).get("parts", [])
            m["tables"][name] = {"parts": [rel], "rows": data.num_rows}
            self._write_manifest(m)
            for p in old:
                with contextlib.suppress(FileNotFoundError):
                    (self.path / p).unlink()

    def __repr__(self) -> str:
        return f"Study({str(self.path)!r})"

    def _repr_html_(self) -> str:
        from html import escape

        info = self.info()
        rows = "".join(f"<tr><td>{escape(k)}</td><td>{v['rows']:,}</td></tr>" for k, v in info["tables"].items())
        return f"<b>echoscope study</b> {escape(str(self.path))}<table>{rows}</table>"

    def info(self) -> dict[str, Any]:
        """Tables, row counts, time span, sources and quarantine summary (the ``info --json`` contract)."""
        from .ingest import study_info

        return study_info(self)


def write_parquet(data: pa.Table, path: Path) -> None:
    """Write a Parquet file atomically (temp name, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(data, tmp, compression="zstd")
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def file_sha256(path: str, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


__all__ = ["Study", "init_study", "open_study", "atomic_write_bytes", "write_parquet", "EchoscopeError",
           "SourceError"]

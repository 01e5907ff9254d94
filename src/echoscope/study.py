"""The user-facing study: the store (:mod:`echoscope.store`) with its query engine and the analyses at hand.

Why a separate class at the top: the store knows no analysis and no query engine (layers: sources -> store ->
engine -> analyses -> report / explorer / demo / CLI). A person in a notebook still wants one object::

    study = echoscope.open_study("mystudy")
    study.table("engagements")            # Ibis expression (DuckDB)
    study.sql("SELECT count(*) FROM posts")
    study.measures(group="diplomats")     # the analyses, as echoscope.measure(...) etc.

so :class:`Study` extends :class:`~echoscope.store.study.StudyStore` with those conveniences. Library code
takes a ``StudyStore`` and an :class:`~echoscope.engine.Engine`; a ``Study`` is both at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from .engine import Engine
from .store.study import ProgressFn, StudyStore, init_store


class Study(StudyStore):
    """A study directory with its query engine (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._engine: Engine | None = None

    # ------------------------------------------------------------------ queries
    @property
    def engine(self) -> Engine:
        """This study's DuckDB engine (views follow the manifest)."""
        if self._engine is None:
            self._engine = Engine(self)
        return self._engine

    def _changed(self) -> None:
        if self._engine is not None:
            self._engine.refresh()

    def con(self) -> Any:
        """An Ibis DuckDB connection with every table and view of the current manifest registered."""
        return self.engine.ibis

    def table(self, name: str) -> Any:
        """Ibis table expression for a canonical table, a view (``engagements``) or a result table."""
        return self.engine.table(name)

    def to_arrow(self, name: str) -> pa.Table:
        return self.table(name).to_pyarrow()

    def to_pandas(self, name: str) -> Any:
        return self.table(name).to_pandas()

    def sql(self, query: str) -> pa.Table:
        """Run SQL against the study's tables and views; returns Arrow."""
        return self.engine.sql(query)

    def rows(self, name: str) -> int:
        m = self.manifest()
        if m.has_result(name):
            return m.result_rows(name)
        if name in m.table_names():
            return m.table_rows(name)
        return int(self.engine.scalar(f'SELECT count(*) FROM "{name}"') or 0)

    def spark(self, master: str | None = None, **options: Any) -> Any:
        """An Ibis PySpark connection with the same tables and views (needs the ``spark`` extra)."""
        from .engine import connect_spark

        return connect_spark(self, master, **options)

    def info(self) -> dict[str, Any]:
        """Tables, row counts, time span, sources and quarantine summary (the ``info --json`` contract)."""
        from .engine.info import study_info

        return study_info(self, self.engine)

    # ------------------------------------------------------------------ writing
    def ingest(self, inputs: Iterable[str], *, format: str | None = None, table: str | None = None,
               mapping: dict[str, str] | None = None, platform: str | None = None,
               options: dict[str, Any] | None = None, progress: ProgressFn | None = None) -> list[dict[str, Any]]:
        """Read ``inputs`` (files, directories, ``-`` for stdin; plain, gzip or zip) into the study.

        All files of one call are committed together; files already in the manifest are skipped. Returns one
        report per input file: path, format, read, loaded, quarantined, duplicates, status.
        """
        from .store.ingest import run_ingest

        return run_ingest(self, list(inputs), format=format, table=table, mapping=mapping or {},
                          platform=platform or self.platform, options=options or {}, progress=progress)

    def load_arrow(self, tables: dict[str, pa.Table], *, name: str = "arrow", platform: str | None = None,
                   progress: ProgressFn | None = None, existing_filter: str | None = None,
                   sweep: bool = True) -> dict[str, Any]:
        """Load canonical tables given as Arrow through the same deduplication and atomic commit as ingest."""
        from .store.ingest import run_load_arrow

        return run_load_arrow(self, tables, name=name, platform=platform or self.platform, progress=progress,
                              existing_filter=existing_filter, sweep=sweep)

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

    def _repr_html_(self) -> str:
        from html import escape

        info = self.info()
        rows = "".join(f"<tr><td>{escape(k)}</td><td>{v['rows']:,}</td></tr>" for k, v in info["tables"].items())
        return f"<b>echoscope study</b> {escape(str(self.path))}<table>{rows}</table>"


def init_study(path: str | os.PathLike[str], *, name: str | None = None, exist_ok: bool = False) -> Study:
    """Create a study directory and return it (see :func:`echoscope.store.study.init_store`)."""
    s = init_store(path, name=name, exist_ok=exist_ok, cls=Study)
    assert isinstance(s, Study)
    return s


def open_study(path: str | os.PathLike[str]) -> Study:
    """Open an existing study directory."""
    return Study(Path(path))


__all__ = ["Study", "init_study", "open_study"]

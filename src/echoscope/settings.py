"""Engine settings: the one place that decides which backend runs the analyses and how much memory, how many
threads and which spill directory DuckDB gets.

Why one module: the stages used to set these each on their own (the measures opened a 2 GB connection, the
coordination raised the shared one to 3 GiB, the report opened another at 1 GB, ``[engine] backend`` in
``echoscope.toml`` selected nothing). Every DuckDB connection echoscope opens is now configured by
:func:`configure_duckdb` from an :class:`EngineSettings`, resolved in this order for each field:

1. an explicit argument (a command-line flag such as ``--engine`` or ``--memory-limit``);
2. the environment: ``ECHOSCOPE_ENGINE``, ``ECHOSCOPE_MEMORY_LIMIT``, ``ECHOSCOPE_THREADS``;
3. the study's ``[engine]`` table in ``echoscope.toml`` (``backend``, ``memory_limit``, ``threads``);
4. the defaults here: DuckDB, all cores, and a memory limit per stage (:data:`STAGE_MEMORY`).

A memory limit is a cap on DuckDB's own buffers: work beyond it spills to the study's ``.duckdb-tmp``
directory. Python's share of a process (Arrow tables handed over, igraph, scikit-learn) comes on top, which
is why the stage defaults are below the 4 GiB the stages are measured against (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Iterator
from typing import Any

from .errors import ConfigError

#: the local explorer's port (``echoscope serve``'s default); the report links to the explorer's pages there
EXPLORER_PORT = 8765

#: analysis backends; DuckDB is embedded, Spark needs the ``spark`` extra
BACKENDS: tuple[str, ...] = ("duckdb", "spark")

#: DuckDB memory limit of each stage when neither a flag, the environment nor echoscope.toml sets one.
#: ingest/query: staging, deduplication and ad-hoc queries spill early and need little; measures: the 10M-
#: engagement reduction runs without spilling at 2 GB (peak process 2.5 GiB); coordination: 2.5 GiB keeps the
#: process under 4 GiB with a margin at 10 million engagements: the simulator's 3.55 GiB in 255 s (3.80 GiB in
#: 256 s at 2.75 GiB) and power-law retweets with bursts 3.63 GiB in 182 s (3.92 GiB in 169 s at 2.75 GiB), the
#: same results (benchmarks/RESULTS.md, "eighth pass"); before co-latency's reference was read once, 2.5 GiB ran
#: out in co-latency at 10M.
STAGE_MEMORY: dict[str, str] = {
    "query": "1GB",
    "ingest": "1GB",
    "measures": "2GB",
    "coordination": "2.5GiB",
    "accounts": "2GB",
    "report": "1GB",
    "explorer": "1GB",
}

#: environment variables read by :func:`resolve_settings`
ENV = {"backend": "ECHOSCOPE_ENGINE", "memory_limit": "ECHOSCOPE_MEMORY_LIMIT", "threads": "ECHOSCOPE_THREADS"}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|bytes|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "kib": 2**10, "mib": 2**20,
          "gib": 2**30, "tib": 2**40}


def parse_size(value: str, what: str = "memory_limit") -> int:
    """Bytes in a size such as ``3GiB``, ``2GB`` or ``512MB``; a ConfigError names ``what`` otherwise."""
    m = _SIZE.match(str(value))
    if not m:
        raise ConfigError(f"{what} '{value}' is not a size; use e.g. 2GB, 3GiB or 512MB")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()])


@dataclasses.dataclass(frozen=True)
class EngineSettings:
    """Where and with what resources the analyses run.

    Attributes
    ----------
    backend : str
        ``duckdb`` (embedded, default) or ``spark``.
    memory_limit : str or None
        DuckDB memory limit for every stage (e.g. ``4GB``); None: each stage's default from
        :data:`STAGE_MEMORY`.
    threads : int or None
        DuckDB threads; None: every core.
    source : dict
        Where each field came from (``flag``, ``env``, ``config``, ``default``), for ``echoscope info``.
    """

    backend: str = "duckdb"
    memory_limit: str | None = None
    threads: int | None = None
    source: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def memory_for(self, stage: str) -> str:
        """The DuckDB memory limit of ``stage`` (a key of :data:`STAGE_MEMORY`)."""
        if self.memory_limit:
            return self.memory_limit
        return STAGE_MEMORY.get(stage, STAGE_MEMORY["query"])

    def describe(self) -> dict[str, Any]:
        """The settings as plain data (``--json`` outputs and result metadata)."""
        return {"backend": self.backend, "memory_limit": self.memory_limit, "threads": self.threads,
                "stage_memory": {k: self.memory_for(k) for k in STAGE_MEMORY}, "source": dict(self.source)}


def resolve_settings(config: dict[str, Any] | None = None, *, backend: str | None = None,
                     memory_limit: str | None = None, threads: int | None = None) -> EngineSettings:
    """Resolve :class:`EngineSettings` from flags, environment, a study's ``echoscope.toml`` and defaults.

    Parameters
    ----------
    config : dict, optional
        The parsed ``echoscope.toml`` of a study (its ``[engine]`` table is read).
    backend, memory_limit, threads :
        Explicit values (command-line flags); None: not given.

    Raises
    ------
    ConfigError
        An unknown backend, a memory limit that is not a size, or a thread count below 1.
    """
    cfg = (config or {}).get("engine", {})
    if not isinstance(cfg, dict):
        raise ConfigError("[engine] in echoscope.toml must be a table (backend, memory_limit, threads)")
    source: dict[str, str] = {}

    def pick(name: str, flag: Any) -> Any:
        if flag is not None:
            source[name] = "flag"
            return flag
        env = os.environ.get(ENV[name])
        if env:
            source[name] = "env"
            return env
        if cfg.get(name) is not None:
            source[name] = "config"
            return cfg[name]
        source[name] = "default"
        return None

    b = str(pick("backend", backend) or "duckdb").lower()
    if b not in BACKENDS:
        raise ConfigError(f"engine backend '{b}' is not known ({source['backend']}); use one of: "
                          f"{', '.join(BACKENDS)}")
    mem = pick("memory_limit", memory_limit)
    if mem is not None:
        parse_size(str(mem), "memory_limit")
        mem = str(mem).replace(" ", "")
    thr = pick("threads", threads)
    if thr is not None:
        try:
            thr = int(thr)
        except (TypeError, ValueError):
            raise ConfigError(f"threads '{thr}' is not a whole number") from None
        if thr < 1:
            raise ConfigError(f"threads must be at least 1, not {thr}")
    return EngineSettings(backend=b, memory_limit=mem, threads=thr, source=source)


#: DuckDB's allocator: hand freed memory back to the operating system sooner (background purging, flushing a
#: thread's cache above 32 MiB instead of 128 MiB, and after a bulk free above 32 MiB instead of 512 MiB). Its memory
#: limit counts the memory its operators hold, not what the allocator keeps of freed memory: at 10M engagements
#: the coordination run peaked at 4.37-4.68 GiB of RSS with the limit at 3 GiB, and at 4.20 GiB with these
#: (benchmarks/RESULTS.md, "Coordination memory, sixth pass")
ALLOCATOR_SETTINGS: dict[str, str] = {
    "allocator_background_threads": "true",
    "allocator_flush_threshold": "'32MiB'",
    "allocator_bulk_deallocation_flush_threshold": "'32MiB'",
}


def configure_duckdb(raw: Any, settings: EngineSettings | None = None, *, stage: str = "query",
                     temp_directory: str | os.PathLike[str] | None = None) -> None:
    """Apply ``settings`` for ``stage`` to a raw DuckDB connection: UTC, memory limit, threads, spill directory.

    Every DuckDB connection echoscope opens goes through here (the only place that sets these).
    """
    s = settings or EngineSettings()
    raw.execute("SET TimeZone='UTC'")
    set_memory_limit(raw, s.memory_for(stage))
    if temp_directory:
        raw.execute("SET temp_directory=" + "'" + str(temp_directory).replace("'", "''") + "'")
    if s.threads:
        raw.execute(f"SET threads={int(s.threads)}")
    raw.execute("SET preserve_insertion_order=false")
    raw.execute("SET enable_progress_bar=false")
    for name, value in ALLOCATOR_SETTINGS.items():
        raw.execute(f"SET {name}={value}")


#: the DuckDB variable holding the memory limit :func:`set_memory_limit` set, as given: DuckDB's own
#: ``current_setting('memory_limit')`` rounds it for display (2.75GiB reads "2.7 GiB"), so it cannot be restored
#: from there
LIMIT_VARIABLE = "echoscope_memory_limit"


def set_memory_limit(raw: Any, limit: str) -> None:
    """Set DuckDB's memory limit of ``raw`` to ``limit`` (a size, e.g. ``2.75GiB``) and remember it exactly."""
    parse_size(limit)
    raw.execute(f"SET memory_limit='{limit}'")
    raw.execute(f"SET VARIABLE {LIMIT_VARIABLE} = '{limit}'")


def memory_limit_of(raw: Any) -> str | None:
    """The memory limit :func:`set_memory_limit` last set on ``raw``, as given; None when it set none."""
    v = raw.execute(f"SELECT getvariable('{LIMIT_VARIABLE}')").fetchone()[0]
    return str(v) if v else None


@contextlib.contextmanager
def lend_memory(raw: Any, nbytes: int, floor: str = "1GiB") -> Iterator[int]:
    """Lower DuckDB's memory limit by ``nbytes`` (never below ``floor``) while Python holds that much; yields the
    bytes lent (0: nothing changed).

    DuckDB's limit counts only its own memory: a step that holds large numpy arrays beside DuckDB's tables adds
    them on top of it. With the limit lowered DuckDB writes what it holds beyond it to its spill directory (its
    temporary tables are evictable) and reads it back when a later query needs it; the limit set by
    :func:`set_memory_limit` is restored afterwards, even on an error. Nothing is lent when the connection's limit
    was not set there, when ``nbytes`` is below 16 MiB, or when DuckDB cannot free enough for the lower limit.
    """
    limit = memory_limit_of(raw)
    lent = 0
    if limit is not None and nbytes >= 16 * 2**20:
        full = parse_size(limit)
        lower = max(full - int(nbytes), parse_size(floor))
        if lower < full:
            try:
                raw.execute(f"SET memory_limit='{lower}B'")
                lent = full - lower
            except Exception:  # DuckDB could not free enough: run with the limit as it was
                lent = 0
    try:
        yield lent
    finally:
        if lent:
            set_memory_limit(raw, limit)  # type: ignore[arg-type]


def duckdb_connection(settings: EngineSettings | None = None, *, stage: str = "query",
                      temp_directory: str | os.PathLike[str] | None = None) -> Any:
    """A new in-memory DuckDB connection configured by :func:`configure_duckdb`."""
    import duckdb

    con = duckdb.connect()
    configure_duckdb(con, settings, stage=stage, temp_directory=temp_directory)
    return con


#: stage -> the command-line flag that sets its memory limit, where its command has one (the other commands
#: take the environment and echoscope.toml only)
MEMORY_FLAGS: dict[str, str] = {"coordination": "echoscope coordinate --memory-limit"}

#: stages whose data-sized work the Spark backend can take over (``[engine] backend``)
SPARK_STAGES: frozenset[str] = frozenset({"measures", "coordination", "accounts"})


def memory_hint(stage: str, limit: str | None = None) -> str:
    """The one-line advice shown when DuckDB runs out of memory in ``stage`` (``limit``: the limit in force,
    named as the stage's default when it is that).

    It names settings every command reads (``ECHOSCOPE_MEMORY_LIMIT``, ``[engine] memory_limit``), and the
    command-line flag only for the stage whose command has one (:data:`MEMORY_FLAGS`).
    """
    default = STAGE_MEMORY.get(stage, STAGE_MEMORY["query"])
    now = f"memory limit {limit}" if limit and limit != default else f"its default memory limit is {default}"
    flag = f" (or {MEMORY_FLAGS[stage]} 8GB)" if stage in MEMORY_FLAGS else ""
    spark = (f", or run on Spark ({ENV['backend']}=spark or backend = \"spark\" under [engine])"
             if stage in SPARK_STAGES else "")
    return (f"DuckDB ran out of memory in the {stage} stage ({now}); raise the limit, e.g. "
            f"{ENV['memory_limit']}=8GB or memory_limit = \"8GB\" under [engine] in the study's echoscope.toml"
            f"{flag}{spark}")


__all__ = ["BACKENDS", "ENV", "MEMORY_FLAGS", "SPARK_STAGES", "STAGE_MEMORY", "EngineSettings", "configure_duckdb",
           "duckdb_connection", "LIMIT_VARIABLE", "lend_memory", "memory_hint", "memory_limit_of", "parse_size",
           "resolve_settings", "set_memory_limit"]

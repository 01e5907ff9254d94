"""Shared pieces of the command line: one place turns errors into one-line messages, JSON output, progress.

Every command module of this package uses these so that all commands behave alike in pipes: results on
stdout (a rich table, or JSON with ``--json``), messages and progress on stderr, and a non-zero exit with one
line on stderr on failure. Progress is a bar on a terminal; elsewhere (a pipe, a log, CI) a bar would be
control characters, so long work prints one plain line per stage instead -- only once it has run for
:data:`PLAIN_AFTER_S` seconds, so quick commands (and their one-line errors) stay one line -- and nothing with
``--quiet`` or ``--json``.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from ..errors import EchoscopeError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> None:
    """Print ``message`` as one line on stderr and exit with ``code``."""
    err.print(f"[bold red]error:[/] {_one_line(message)}", markup=True, highlight=False)
    raise typer.Exit(code)


def _one_line(message: str) -> str:
    from rich.markup import escape

    return escape(" ".join(str(message).split()))


def handle_errors(fn: F) -> F:
    """Decorator for commands: EchoscopeError -> one line on stderr and its exit code; bugs keep a traceback
    only with ``ECHOSCOPE_DEBUG=1``, otherwise one line naming the exception."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except EchoscopeError as exc:
            fail(str(exc), getattr(exc, "exit_code", 1))
        except KeyboardInterrupt:
            fail("interrupted; the study is unchanged by the interrupted step", 130)
        except Exception as exc:  # a bug: say so plainly, keep details for the debug mode
            import os

            if os.environ.get("ECHOSCOPE_DEBUG"):
                traceback.print_exc()
            fail(f"internal error ({type(exc).__name__}: {exc}); rerun with ECHOSCOPE_DEBUG=1 and report it", 70)

    return wrapper  # type: ignore[return-value]


def emit_json(obj: Any) -> None:
    """Write ``obj`` as JSON to stdout (datetimes as ISO 8601, numpy scalars as numbers)."""
    data = orjson.dumps(obj, default=_json_default,
                        option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.flush()


def emit_jsonl(obj: Any) -> None:
    """Write ``obj`` as one compact JSON line to stdout and flush (JSON Lines, for streams such as watch)."""
    data = orjson.dumps(obj, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    import datetime as dt
    import math

    if isinstance(o, (dt.datetime, dt.date)):
        return o.isoformat()
    if hasattr(o, "item"):
        v = o.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    if hasattr(o, "as_py"):
        return o.as_py()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


#: plain progress lines (stderr not a terminal) start once a command has worked this long (seconds)
PLAIN_AFTER_S = 2.0
#: at most one plain line about bytes read per this many seconds within one stage
PLAIN_ADVANCE_EVERY_S = 10.0


def progress_enabled(quiet: bool = False) -> bool:
    """Is a progress bar shown (not quiet, and stderr is a terminal)?"""
    return not quiet and err.is_terminal


class PlainProgress:
    """Progress as plain lines on stderr, for when it is not a terminal: one line per stage, file or commit
    (``"<command>: <stage> [12.3 s]"``), and about the bytes read at most every
    :data:`PLAIN_ADVANCE_EVERY_S` seconds. Nothing is printed during the first :data:`PLAIN_AFTER_S` seconds;
    the stage running at that moment is printed then (by a timer), so a long first stage is still announced.
    """

    def __init__(self, description: str) -> None:
        self.description = description
        self.t0 = time.monotonic()
        self.total: int | None = None
        self.done = 0
        self.pending: str | None = None  # latest stage not printed yet (before PLAIN_AFTER_S)
        self.last_advance = self.t0
        self.lock = threading.Lock()
        self.timer = threading.Timer(PLAIN_AFTER_S, self.flush)
        self.timer.daemon = True
        self.timer.start()

    def close(self, finished: bool = False) -> None:
        """Stop the timer; a finished long run says so (``"<command>: done [s]"``), a quick one says nothing."""
        self.timer.cancel()
        if finished:
            self._say("done")

    def _line(self, message: str) -> str:
        prefix = f"{self.description}:"
        text = message if message.startswith(prefix) else f"{prefix} {message}"
        return f"{text} [{time.monotonic() - self.t0:.1f} s]"

    def _say(self, message: str) -> None:
        """Print ``message`` now when past the delay, else keep it as the pending stage."""
        with self.lock:
            if time.monotonic() - self.t0 >= PLAIN_AFTER_S:
                self.pending = None
                err.print(self._line(message), markup=False, highlight=False)
            else:
                self.pending = message

    def flush(self) -> None:
        with self.lock:
            if self.pending is not None:
                err.print(self._line(self.pending), markup=False, highlight=False)
                self.pending = None

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind in ("start", "total"):
            self.total = event.get("bytes") or None
        elif kind == "file":
            self._say(f"reading {event.get('path', '')}")
        elif kind in ("commit", "stage"):
            self._say(str(event.get("message", "committing")))
        elif kind in ("advance", "step"):
            self.done += int(event.get("bytes", 0) if kind == "advance" else event.get("n", 1))
            now = time.monotonic()
            if now - self.last_advance >= PLAIN_ADVANCE_EVERY_S and now - self.t0 >= PLAIN_AFTER_S:
                self.last_advance = now
                of = f" of {self.total:,}" if self.total else ""
                self._say(f"{self.done:,}{of} {'bytes' if kind == 'advance' else 'steps'} done")


@contextlib.contextmanager
def byte_progress(description: str, *, quiet: bool = False) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A progress callback for library code that emits ``{"event": ..., "bytes": ...}`` dicts.

    Events: ``start`` (total bytes), ``file`` (path), ``advance`` (bytes), ``commit``, ``stage`` (a message),
    ``total`` (set a new total), ``step`` (advance by ``n`` units). A bar on a terminal; plain lines on stderr
    otherwise (:class:`PlainProgress`); nothing when ``quiet`` (commands pass ``quiet or json``).
    """
    if quiet:
        yield lambda event: None
        return
    if not err.is_terminal:
        plain = PlainProgress(description)
        try:
            yield plain
        except BaseException:
            plain.close()
            raise
        plain.close(finished=True)
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def cb(event: dict[str, Any]) -> None:
            kind = event.get("event")
            if kind == "start" or kind == "total":
                bar.update(task, total=event.get("bytes") or None)
            elif kind == "file":
                bar.update(task, description=f"{description} {event.get('path', '')}"[-60:])
            elif kind == "advance":
                bar.advance(task, event.get("bytes", 0))
            elif kind == "step":
                bar.advance(task, event.get("n", 1))
            elif kind in ("commit", "stage"):
                bar.update(task, description=str(event.get("message", "committing")))

        yield cb


def parse_pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    """Parse repeated ``KEY=VALUE`` flags into a dict (split on the first '=')."""
    result: dict[str, str] = {}
    for v in values or []:
        if "=" not in v:
            raise EchoscopeError(f"{flag} '{v}' must look like KEY=VALUE")
        k, val = v.split("=", 1)
        result[k.strip()] = val.strip()
    return result

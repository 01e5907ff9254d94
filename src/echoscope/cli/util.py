"""Shared pieces of the command line: one place turns errors into one-line messages, JSON output, progress.

Every command module (``echoscope/<package>/cli.py``) uses these so that all commands behave alike in pipes:
results on stdout (a rich table, or JSON with ``--json``), messages and progress on stderr, progress hidden
when stderr is not a terminal, and a non-zero exit with one line on stderr on failure.
"""

from __future__ import annotations

import contextlib
import functools
import sys
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


def progress_enabled(quiet: bool = False) -> bool:
    return not quiet and err.is_terminal


@contextlib.contextmanager
def byte_progress(description: str, *, quiet: bool = False) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A progress callback for library code that emits ``{"event": ..., "bytes": ...}`` dicts.

    Events: ``start`` (total bytes), ``file`` (path), ``advance`` (bytes), ``commit``, ``stage`` (a message),
    ``total`` (set a new total), ``step`` (advance by ``n`` units).
    """
    if not progress_enabled(quiet):
        yield lambda event: None
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

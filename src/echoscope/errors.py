"""Errors echoscope raises on purpose.

Every error carries a message that says what was wrong, what is accepted and how to fix it; the CLI prints
``str(error)`` as one line on stderr and exits non-zero. Where a file is involved the message starts with
``file:line: field:`` so editors and grep can jump to it.
"""

from __future__ import annotations


class EchoscopeError(Exception):
    """Base class: an error the user can act on (as opposed to a bug)."""

    exit_code = 1

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        if self.field:
            where += f"field '{self.field}': "
        return (where + self.detail).replace("\n", " ")


class ConfigError(EchoscopeError):
    """A study, its configuration or a command-line option is wrong."""

    exit_code = 2


class StudyError(EchoscopeError):
    """The study directory is missing, locked, or damaged."""


class SourceError(EchoscopeError):
    """An input file cannot be read at all (as opposed to bad rows, which are quarantined)."""


class SchemaError(SourceError):
    """An input file's columns or fields do not match what its format needs."""

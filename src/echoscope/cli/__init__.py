"""The command line: the top layer, over the library (``echoscope --help``).

``echoscope.cli.core`` makes the Typer app and the study commands; the other modules of this package add the
commands of each capability; :mod:`.util` holds what they share (one-line errors, JSON, progress).
"""

from .core import COMMAND_MODULES, app, main

__all__ = ["COMMAND_MODULES", "app", "main"]

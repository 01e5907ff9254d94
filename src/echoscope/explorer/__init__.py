"""The local explorer (``echoscope serve``): a read-only web app over a study's findings on 127.0.0.1.

Pages (an overview with the caveats, the cluster list, a cluster with its network, members and evidence
timeline, an account, search by handle) and the JSON they use are built from :mod:`echoscope.findings`, so
they state the same numbers as ``echoscope clusters`` and ``echoscope account``. Starlette and uvicorn (the
``explore`` extra) are imported only when the explorer runs. See docs/explorer.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_app", "make_app", "serve"]


def __getattr__(name: str) -> Any:
    # the web stack loads on first use, so 'import echoscope.explorer' costs nothing without the extra
    if name == "build_app":
        from .app import build_app

        return build_app
    if name in ("make_app", "serve"):
        from . import server

        return getattr(server, name)
    raise AttributeError(name)

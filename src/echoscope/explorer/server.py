"""Start the explorer: check the address is loopback, prepare pseudonyms, run uvicorn.

Why loopback only: the explorer shows a study's raw findings (handles, posts, scores) and has no login; on
127.0.0.1 only this computer's user can open it. Sharing findings is what the pseudonymised report and the
exports are for. An address that is not loopback is refused with a one-line error.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from ..engine import Engine
from ..errors import ConfigError
from ..settings import EXPLORER_PORT
from ..store.study import StudyStore
from .app import build_app
from .privacy import ReversiblePseudonymiser, prime

DEFAULT_PORT = EXPLORER_PORT


def check_host(host: str) -> str:
    """``host`` when it is a loopback address or ``localhost``; a ConfigError otherwise."""
    h = host.strip().strip("[]")
    if h == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        raise ConfigError(f"--host '{host}' is not an IP address; the explorer serves only on loopback "
                          "(127.0.0.1, ::1 or localhost)") from None
    if not ip.is_loopback:
        raise ConfigError(f"--host {host} is not a loopback address; the explorer has no login and serves only on "
                          "this computer (127.0.0.1 or ::1); share findings with 'echoscope report --pseudonymise'")
    return h


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the OS picks it)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _check_free(host: str, port: int) -> None:
    """A one-line error now, rather than uvicorn's log and exit later, when ``port`` is taken."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port, or "
                              "--port 0 for a free one") from None


def make_app(study: StudyStore, *, runs: dict[str, str] | None = None, pseudonymise: bool = False,
             key_env: str | None = None) -> Any:
    """The explorer app for ``study`` (see :func:`echoscope.explorer.app.build_app`).

    With ``pseudonymise`` every handle, id and name is replaced by the report's keyed pseudonym (the key from
    ``key_env`` or the study's ``pseudonym.key``, as for ``echoscope report``).
    """
    engine = Engine(study, runs=runs)
    from ..findings import overview, warm

    warm(engine)  # the lookup cache (findings.base.warm): built now, not on the first page
    overview(engine)
    pseudo = None
    if pseudonymise:
        from ..report.pseudonymise import resolve_key

        pseudo = ReversiblePseudonymiser(resolve_key(study.path, key_env))
        prime(pseudo, engine)
    return build_app(study, engine, pseudonymiser=pseudo)


def serve(study: StudyStore, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT, runs: dict[str, str] | None = None,
          pseudonymise: bool = False, key_env: str | None = None, log: bool = False,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the explorer until interrupted (Ctrl-C).

    Parameters
    ----------
    study : StudyStore
        The study (read only).
    host, port : str, int
        A loopback address (:func:`check_host`) and a port (0: any free port).
    runs : dict, optional
        Stored runs to show instead of the latest (``{"coordination": ID}``).
    pseudonymise, key_env : bool, str
        Keyed pseudonyms, as ``echoscope report --pseudonymise [--key-env VAR]``.
    log : bool
        Log each request (uvicorn's access log) on stderr.
    on_ready : callable, optional
        Called with the URL once the server listens.
    """
    import uvicorn

    h = check_host(host)
    if not 0 <= int(port) <= 65535:
        raise ConfigError(f"--port {port} is not a port number (0-65535; 0 picks a free one)")
    p = int(port) or free_port(h)
    _check_free(h, p)
    app = make_app(study, runs=runs, pseudonymise=pseudonymise, key_env=key_env)
    config = uvicorn.Config(app, host=h, port=p, log_level="warning", access_log=log, server_header=False,
                            lifespan="off")
    server = uvicorn.Server(config)
    url = f"http://{'[' + h + ']' if ':' in h else h}:{p}/"
    if on_ready is not None:
        orig = server.startup

        async def startup(sockets: Any = None) -> None:
            await orig(sockets=sockets)
            if server.started:
                on_ready(url)

        server.startup = startup  # type: ignore[method-assign]
    try:
        server.run()
    except (OSError, SystemExit) as exc:  # uvicorn exits when it cannot bind
        raise ConfigError(f"cannot listen on {h}:{p} ({exc}); choose another --port, or --port 0 for a free "
                          "one") from None
    if not server.started:
        raise ConfigError(f"cannot listen on {h}:{p} (in use?); choose another --port, or --port 0 for a free one")


__all__ = ["DEFAULT_PORT", "check_host", "free_port", "make_app", "serve"]

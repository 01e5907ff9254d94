"""The explorer's web app: Starlette routes over :mod:`echoscope.findings`, HTML from Jinja2 templates, JSON for
the network view.

Why shaped so: every page is one or a few findings calls (each a bounded DuckDB query), rendered on the
server with autoescaping, so a page works without JavaScript; only the cluster network is drawn in the
browser (sigma.js + graphology, vendored in ``static/vendor``) from a JSON endpoint. The app only reads:
every route is ``GET``, the study is opened read-only through its :class:`~echoscope.engine.Engine`, and one
lock serialises the queries (one DuckDB connection, one user at a time is what a local explorer has).

Security (docs/explorer.md): a Content-Security-Policy of ``'self'`` only (no inline script or style, no
request to another host), a host check against DNS rebinding (only loopback names), ``nosniff``, no
referrer, no framing; data text is escaped by Jinja2 and never marked safe; JSON escapes ``<``, ``>`` and
``&`` so a ``</script>`` in a post stays text wherever the JSON goes.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import findings as F
from ..engine import Engine
from ..errors import ConfigError, EchoscopeError, StudyError
from ..report.fmt import show
from ..store.study import StudyStore
from .privacy import ReversiblePseudonymiser

HERE = Path(__file__).resolve().parent

#: the Content-Security-Policy of every answer: this origin only, no inline script or style, no frames
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

#: headers on every answer
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)

#: host names the app answers to (a page of another site resolving its name to 127.0.0.1 is refused)
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

#: page sizes
CLUSTERS_PAGE = 30
MEMBERS_PAGE = 50
EVIDENCE_PAGE = 50


class SecurityMiddleware:
    """Refuse requests whose ``Host`` is not a loopback name, and add :data:`SECURITY_HEADERS` to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.explorer: Explorer | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() not in LOOPBACK_NAMES:
            resp = Response("the echoscope explorer answers only on 127.0.0.1 or localhost\n", status_code=421,
                            media_type="text/plain")
            await self._with_headers(resp)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in dict(SECURITY_HEADERS)]
                message["headers"] = headers + list(SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _with_headers(resp: Response) -> Response:
        for k, v in SECURITY_HEADERS:
            resp.headers[k.decode()] = v.decode()
        return resp


def _json_default(o: Any) -> Any:
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if hasattr(o, "item"):
        return o.item()
    return str(o)


def json_response(obj: Any, status: int = 200) -> Response:
    """JSON with ``<``, ``>`` and ``&`` escaped (``\\u003c``...): inert even if pasted into HTML."""
    body = orjson.dumps(obj, default=_json_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    body = body.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")
    return Response(body, status_code=status, media_type="application/json")


def _q(value: Any) -> str:
    """A value for a URL query (every reserved character encoded)."""
    return urllib.parse.quote(str(value), safe="")


def template_env() -> jinja2.Environment:
    """The templates with autoescaping on (every ``{{ }}`` is escaped; nothing is marked safe)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update({
        "show": show, "q": _q, "p": F.format_p, "gap": F.format_gap,
        "pct": lambda v: "-" if v is None else f"{100 * float(v):.0f}%",
        "num": lambda v, d=0: "-" if v is None else (f"{float(v):,.{d}f}" if d else f"{round(float(v)):,}"),
        "day": lambda v: str(v)[:10] if v else "-",
        "at": lambda h, i=None: ("@" + str(h).lstrip("@")) if h else (str(i) if i else "-"),
        "when": lambda v: str(v).replace("T", " ").replace("Z", " UTC") if v else "-",
    })
    return env


class Explorer:
    """The app's state: the study, its engine (one lock), the templates, the optional pseudonymiser."""

    def __init__(self, study: StudyStore, engine: Engine, pseudonymiser: ReversiblePseudonymiser | None) -> None:
        self.study = study
        self.engine = engine
        self.pseudo = pseudonymiser
        self.lock = threading.Lock()
        self.env = template_env()

    # ------------------------------------------------------------------ helpers
    def query(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a findings call under the lock; pseudonymise its answer when asked."""
        with self.lock:
            F.warm(self.engine)  # no-op while the study is unchanged; rebuilt after a new analysis run
            out = fn(self.engine, *args, **kwargs)
        return self.pseudo.apply(out) if self.pseudo is not None else out

    def real_ref(self, ref: str) -> str:
        """The account a link's ``ref`` names (a pseudonym is turned back into the account it stands for)."""
        if self.pseudo is None:
            return ref
        orig = self.pseudo.original(ref)
        if orig is None:
            raise ConfigError(f"unknown account '{ref}': the pseudonymised explorer knows the accounts it has shown; "
                              "open it from a cluster or a search")
        return orig

    def page(self, name: str, request: Request, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("title", "echoscope explorer")
        html = self.env.get_template(name).render(
            study_name=self.study.name or self.study.path.name, pseudonymised=self.pseudo is not None,
            q=request.query_params.get("q", ""), **ctx)
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, exc: EchoscopeError, api: bool) -> Response:
        status = 409 if isinstance(exc, StudyError) else 404
        if api:
            return json_response({"error": str(exc)}, status)
        return self.page("error.html", request, status=status, title="nothing to show", message=str(exc))

    @staticmethod
    def offset(request: Request, name: str = "offset") -> int:
        try:
            return max(0, int(request.query_params.get(name, "0")))
        except ValueError:
            return 0

    # ------------------------------------------------------------------ pages
    def overview(self, request: Request) -> Response:
        ov = self.query(F.overview)
        top = self.query(F.list_clusters, limit=5, members_shown=5) if ov["coordination"] else None
        return self.page("overview.html", request, title="overview", ov=ov, top=top)

    def clusters(self, request: Request) -> Response:
        show_all = request.query_params.get("all") == "1"
        res = self.query(F.list_clusters, limit=CLUSTERS_PAGE, offset=self.offset(request),
                         coordinated_only=not show_all, members_shown=8)
        return self.page("clusters.html", request, title="clusters", res=res, show_all=show_all)

    def cluster(self, request: Request) -> Response:
        cid = request.path_params["cluster_id"]
        res = self.query(F.cluster, cid, members_limit=MEMBERS_PAGE, members_offset=self.offset(request, "members"),
                         evidence_limit=EVIDENCE_PAGE, evidence_offset=self.offset(request, "evidence"))
        res["evidence"]["evidence"] = F.group_events(res["evidence"]["evidence"])
        timeline = self.query(F.cluster_timeline, cid)
        return self.page("cluster.html", request, title=f"cluster {cid}", res=res, c=res["cluster"],
                         timeline=_timeline_bars(timeline), graph=True)

    def account(self, request: Request) -> Response:
        ref = request.query_params.get("ref", "")
        res = self.query(F.account, self.real_ref(ref), coactions=20,
                         coactions_offset=self.offset(request, "coactions"))
        res["coactions"]["evidence"] = F.group_events(res["coactions"]["evidence"])
        name = res.get("handle") or res.get("account_id")
        return self.page("account.html", request, title=f"@{name}" if res.get("handle") else str(name), a=res)

    def search(self, request: Request) -> Response:
        q = request.query_params.get("q", "").strip()
        hits = self._search(q) if q else []
        if len(hits) == 1 or (hits and q.lstrip("@").lower() == str(hits[0].get("handle") or "").lower()):
            return RedirectResponse(f"/account?ref={_q(hits[0]['account_id'])}", status_code=303)
        return self.page("search.html", request, title="search", hits=hits)

    def _search(self, q: str) -> list[dict[str, Any]]:
        if self.pseudo is None:
            return self.query(F.search_accounts, q, limit=30)
        out = []
        for ref in self.pseudo.search(q, 30):
            orig = self.pseudo.original(ref)
            if orig is None:
                continue
            with self.lock:
                try:
                    F.warm(self.engine)
                    aid = F.resolve(self.engine, orig)
                except ConfigError:
                    continue
            out.append(self.pseudo.apply({"account_id": aid, "handle": orig.lstrip("@") if orig.startswith("@")
                                          else None, "display_name": None, "in_cluster": None}))
        return out

    # ------------------------------------------------------------------ JSON
    def api_overview(self, request: Request) -> Response:
        return json_response(self.query(F.overview))

    def api_clusters(self, request: Request) -> Response:
        lim = int(request.query_params.get("limit", CLUSTERS_PAGE) or CLUSTERS_PAGE)
        return json_response(self.query(F.list_clusters, limit=lim, offset=self.offset(request),
                                        coordinated_only=request.query_params.get("all") != "1"))

    def api_cluster(self, request: Request) -> Response:
        return json_response(self.query(F.cluster, request.path_params["cluster_id"]))

    def api_graph(self, request: Request) -> Response:
        return json_response(self.query(F.cluster_graph, request.path_params["cluster_id"]))

    def api_members(self, request: Request) -> Response:
        return json_response(self.query(F.cluster_members, request.path_params["cluster_id"],
                                        limit=MEMBERS_PAGE, offset=self.offset(request)))

    def api_evidence(self, request: Request) -> Response:
        return json_response(self.query(F.cluster_evidence, request.path_params["cluster_id"],
                                        limit=EVIDENCE_PAGE, offset=self.offset(request)))

    def api_timeline(self, request: Request) -> Response:
        return json_response(self.query(F.cluster_timeline, request.path_params["cluster_id"]))

    def api_account(self, request: Request) -> Response:
        ref = request.query_params.get("ref", "")
        return json_response(self.query(F.account, self.real_ref(ref)))

    def api_search(self, request: Request) -> Response:
        return json_response(self._search(request.query_params.get("q", "")))


def _timeline_bars(rows: list[dict[str, Any]], width: int = 900, height: int = 60) -> dict[str, Any]:
    """Per-day co-action counts as SVG bar geometry (numbers only; drawn by the template as attributes)."""
    if not rows:
        return {"bars": [], "width": width, "height": height}
    days: dict[str, int] = {}
    for r in rows:
        days[str(r["day"])] = days.get(str(r["day"]), 0) + int(r["n"])
    import datetime as dt

    keys = sorted(days)
    d0 = dt.date.fromisoformat(keys[0][:10])
    d1 = dt.date.fromisoformat(keys[-1][:10])
    span = max((d1 - d0).days + 1, 1)
    top = max(days.values())
    bw = max(width / span, 1.0)
    bars = []
    for k in keys:
        i = (dt.date.fromisoformat(k[:10]) - d0).days
        h = max(1.0, height * days[k] / top)
        bars.append({"x": round(i * width / span, 2), "y": round(height - h, 2), "w": round(max(bw - 0.5, 0.8), 2),
                     "h": round(h, 2), "day": k[:10], "n": days[k]})
    return {"bars": bars, "width": width, "height": height, "first": keys[0][:10], "last": keys[-1][:10],
            "max": top}


def build_app(study: StudyStore, engine: Engine | None = None, *,
              pseudonymiser: ReversiblePseudonymiser | None = None) -> SecurityMiddleware:
    """The explorer as an ASGI app (run it with uvicorn; :func:`echoscope.explorer.server.serve` does).

    The Starlette app is wrapped in :class:`SecurityMiddleware` as the outermost layer, so even its error
    answers carry the security headers; ``.explorer`` is the :class:`Explorer` behind it.
    """
    ex = Explorer(study, engine or Engine(study), pseudonymiser)

    def wrap(fn: Callable[[Request], Response], api: bool) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                return fn(request)
            except EchoscopeError as exc:
                return ex.error(request, exc, api)
        return endpoint

    pages: list[tuple[str, Callable[[Request], Response]]] = [
        ("/", ex.overview), ("/clusters", ex.clusters), ("/clusters/{cluster_id:int}", ex.cluster),
        ("/account", ex.account), ("/search", ex.search)]
    apis: list[tuple[str, Callable[[Request], Response]]] = [
        ("/api/overview", ex.api_overview), ("/api/clusters", ex.api_clusters),
        ("/api/clusters/{cluster_id:int}", ex.api_cluster), ("/api/clusters/{cluster_id:int}/graph", ex.api_graph),
        ("/api/clusters/{cluster_id:int}/members", ex.api_members),
        ("/api/clusters/{cluster_id:int}/evidence", ex.api_evidence),
        ("/api/clusters/{cluster_id:int}/timeline", ex.api_timeline),
        ("/api/account", ex.api_account), ("/api/search", ex.api_search)]
    routes: list[Any] = [Route(p, wrap(fn, False), methods=["GET", "HEAD"]) for p, fn in pages]
    routes += [Route(p, wrap(fn, True), methods=["GET", "HEAD"]) for p, fn in apis]
    routes.append(Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"))
    wrapped = SecurityMiddleware(Starlette(routes=routes))
    wrapped.explorer = ex
    return wrapped


__all__ = ["CSP", "LOOPBACK_NAMES", "SECURITY_HEADERS", "Explorer", "build_app", "json_response", "template_env"]

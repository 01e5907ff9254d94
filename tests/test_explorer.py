"""The explorer over HTTP: pages and JSON, security headers, loopback-only host check, read-only, hostile strings
escaped, pseudonymised mode. The study is the report's hostile fixture (tests/test_report_fixtures.py): its
names, bios, posts, URLs, reasons and evidence objects carry <script>, onerror=, javascript: URLs and
"</script>". The same pages in a real browser: tests/test_explorer_browser.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from .test_report_fixtures import PAYLOADS, build_study

#: the raw markup of the payloads: none may reach a page unescaped
RAW = ("<script>window.__pwned", "<img src=x onerror", "<svg onload", "</script><script>", "<iframe",
       "<style>body")


@contextlib.contextmanager
def serving(app) -> Iterator[str]:
    """Run an ASGI app with uvicorn in a thread on a free loopback port; yields its base URL."""
    import uvicorn

    from echoscope.explorer.server import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the explorer did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(10)


def get(base: str, path: str, *, method: str = "GET", host: str | None = None) -> tuple[int, dict[str, str], str]:
    """One request; returns status, headers (lower-case names) and body text (no redirects followed)."""
    u = urllib.parse.urlsplit(base)
    con = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    headers = {"Host": host} if host else {}
    con.request(method, path, headers=headers)
    r = con.getresponse()
    body = r.read().decode("utf-8")
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    con.close()
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return build_study(tmp_path_factory.mktemp("explorer") / "study", hostile=True)


@pytest.fixture(scope="module")
def base(study):
    from echoscope.explorer.server import make_app

    with serving(make_app(study)) as url:
        yield url


PAGES = ["/", "/clusters", "/clusters?all=1", "/clusters/1", "/clusters/2", "/account?ref=c0", "/account?ref=o0",
         "/account?ref=%40campaign1", "/search?q=organic"]
APIS = ["/api/overview", "/api/clusters", "/api/clusters/1", "/api/clusters/1/graph", "/api/clusters/1/members",
        "/api/clusters/1/evidence", "/api/clusters/1/timeline", "/api/account?ref=c0", "/api/search?q=camp"]


def test_every_page_and_endpoint_answers_with_the_security_headers(base):
    for path in PAGES + APIS:
        status, headers, body = get(base, path)
        assert status == 200, (path, body[:300])
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
        if path.startswith("/api/"):
            assert headers["content-type"].startswith("application/json")
            json.loads(body)
        else:
            assert headers["content-type"].startswith("text/html")


class _Tags(HTMLParser):
    """Every element with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(body: str) -> list[tuple[str, dict[str, str | None]]]:
    p = _Tags()
    p.feed(body)
    return p.tags


def test_pages_load_nothing_from_other_hosts_and_run_only_their_own_script(base):
    for path in PAGES:
        _, _, body = get(base, path)
        for tag, attrs in tags(body):
            for name in ("src", "href", "action"):
                if attrs.get(name) is not None:
                    # only this server's own paths (pages, /static) -- never another host or a javascript: URL
                    target = str(attrs[name])
                    assert target.startswith("/") and not target.startswith("//"), (path, tag, target)
            assert not any(a.startswith("on") for a in attrs), (path, tag, attrs)  # no event handler attributes
            assert "style" not in attrs, (path, tag)  # the CSP allows no inline style
            if tag == "script":
                assert attrs.get("src") in ("/static/app.js", "/static/vendor/graph.min.js"), (path, attrs)
            assert tag not in ("iframe", "object", "embed", "img", "style"), (path, tag)


def test_only_loopback_host_names_and_only_reads(base):
    status, headers, _ = get(base, "/", host="evil.example")  # a DNS-rebinding page would send its own name
    assert status == 421 and "content-security-policy" in headers
    assert get(base, "/", host="localhost:1234")[0] == 200
    assert get(base, "/api/overview", method="POST")[0] == 405
    assert get(base, "/clusters/1", method="DELETE")[0] == 405


def test_hostile_strings_are_escaped_in_pages(base):
    for path in PAGES + ["/search?q=" + urllib.parse.quote(PAYLOADS["script"]), "/account?ref=x1",
                         "/account?ref=" + urllib.parse.quote(PAYLOADS["close"])]:
        status, _, body = get(base, path)
        for raw in RAW:
            assert raw not in body, (path, raw)
        assert "javascript:window" not in body.split("<body>")[0]  # never inside the head
        assert ' href="javascript:' not in body and ' src="javascript:' not in body
    # and shown as text where the data put them: the bio of @campaign0, the evidence object of o0 & o1
    _, _, body = get(base, "/account?ref=c0")
    assert "&lt;script&gt;window.__pwned=1" in body
    _, _, body = get(base, "/account?ref=o0")
    assert "&lt;script&gt;window.__pwned=1" in body  # the co-text object shown as an example text


def test_json_escapes_markup_so_script_cannot_close(base):
    for path in APIS + ["/api/account?ref=o0", "/api/clusters/2/evidence"]:
        _, _, body = get(base, path)
        assert "<" not in body and ">" not in body, path
    doc = json.loads(get(base, "/api/account?ref=o0")[2])
    objects = [e["object"] for e in doc["coactions"]["evidence"]]
    assert any(PAYLOADS["script"] in o for o in objects)  # the data survive, escaped only in transport


def test_unknown_things_are_404_with_a_message(base):
    status, _, body = get(base, "/clusters/99")
    assert status == 404 and "no cluster 99" in body
    status, _, body = get(base, "/api/account?ref=%40nobody")
    assert status == 404 and "no handle '@nobody'" in json.loads(body)["error"]
    assert get(base, "/search?q=campaign0")[0] == 303  # one match: straight to the account


def test_browsing_changes_nothing_in_the_study(base, study):
    before = (study.path / "manifest.json").read_bytes()
    for path in PAGES + APIS:
        get(base, path)
    assert (study.path / "manifest.json").read_bytes() == before


def test_pseudonymised_explorer_shows_no_handle_or_id(study, monkeypatch):
    from echoscope.explorer.server import make_app
    from echoscope.report.pseudonymise import Pseudonymiser

    monkeypatch.setenv("EXPLORER_TEST_KEY", "k" * 24)
    p = Pseudonymiser(b"k" * 24)
    with serving(make_app(study, pseudonymise=True, key_env="EXPLORER_TEST_KEY")) as url:
        bodies = {path: get(url, path)[2] for path in ["/", "/clusters", "/clusters/1", "/api/clusters/1/graph"]}
        for path, body in bodies.items():
            for real in ("campaign0", "campaign5", "ambassador", "organic3"):
                assert real not in body.lower(), (path, real)
        # the same keyed pseudonyms as the report's
        assert p.handle("@campaign0") in bodies["/clusters/1"]
        graph = json.loads(bodies["/api/clusters/1/graph"])
        assert {n["account_id"] for n in graph["nodes"]} == {p.account(f"c{i}") for i in range(6)}
        # a pseudonym in a link opens its account; a real id does not
        status, _, page = get(url, "/account?ref=" + urllib.parse.quote(p.account("c0")))
        assert status == 200 and p.handle("@campaign0") in page and "campaign0" not in page
        assert get(url, "/account?ref=c0")[0] == 404
        # search looks among pseudonyms only
        assert get(url, "/search?q=campaign")[2].count('class="acct"') == 0
        status, headers, _ = get(url, "/search?q=" + urllib.parse.quote(p.handle("@campaign1")))
        assert status == 303 and headers["location"] == "/account?ref=" + urllib.parse.quote(p.account("c1"), safe="")


def test_a_study_without_results_says_which_command_fills_them(tmp_path):
    from echoscope.explorer.server import make_app

    bare = build_study(tmp_path / "bare", hostile=False, results=False)
    with serving(make_app(bare)) as url:
        status, _, body = get(url, "/")
        assert status == 200 and "echoscope coordinate" in body and "echoscope score" in body
        status, _, body = get(url, "/clusters")
        assert status == 409 and "no coordination results yet" in body
        status, _, body = get(url, "/account?ref=%40campaign0")  # an account page still shows data and posts
        assert status == 200 and "@campaign0" in body and "No coordination results" in body

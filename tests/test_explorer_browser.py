"""The explorer end to end in headless Chromium (Playwright driving Debian's chromium, as
tests/test_report_browser.py does): overview -> cluster -> click a node in the network -> account -> its
evidence, with no console error, no request to any host but 127.0.0.1, and the report's hostile payloads inert.

The walk runs with the Content-Security-Policy in force (as a user gets it, so the vendored sigma.js must work
under it); the hostile pages are opened again with the CSP bypassed, so the escaping itself is tested.
"""

from __future__ import annotations

import urllib.parse

import pytest

from .test_explorer import serving
from .test_report_fixtures import PAYLOADS, build_study


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from echoscope.explorer.server import make_app

    study = build_study(tmp_path_factory.mktemp("explorer-browser") / "study", hostile=True)
    with serving(make_app(study)) as url:
        yield url


def _page(browser, base: str, *, bypass_csp: bool):
    ctx = browser.new_context(bypass_csp=bypass_csp, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    ev: dict[str, list[str]] = {"dialogs": [], "outside": [], "errors": []}
    page.on("dialog", lambda d: (ev["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: None if r.url.startswith(base + "/") else ev["outside"].append(r.url))
    page.on("pageerror", lambda e: ev["errors"].append(str(e)))
    page.on("console", lambda m: ev["errors"].append(m.text) if m.type == "error" else None)
    page.add_init_script("window.__pwned = 0;")  # any payload that ran would change it
    return ctx, page, ev


@pytest.mark.slow
def test_overview_cluster_node_account_evidence(browser, base):
    ctx, page, ev = _page(browser, base, bypass_csp=False)
    try:
        page.goto(base + "/")
        assert "Findings of" in page.inner_text("h1")
        assert "not proof of inauthenticity" in page.inner_text("body")
        page.click("a[href='/clusters/1']")
        page.wait_for_url("**/clusters/1")
        # the network is drawn from /api/clusters/1/graph: six campaign accounts
        page.wait_for_selector("#graph[data-ready='1']", timeout=15000)
        assert "drawn: 6 of 6 members" in page.inner_text("#graph-status")
        assert page.locator("#graph canvas").count() >= 2
        page.click("#zoom-in")  # the zoom buttons work without an error
        page.wait_for_timeout(400)
        page.click("#zoom-reset")
        page.wait_for_timeout(400)
        # click a node where sigma drew it (its viewport position, from the renderer itself)
        spot = page.evaluate("""() => { const g = window.echoscopeGraph; const n = g.graph.nodes()[0];
            const v = g.renderer.framedGraphToViewport(g.renderer.getNodeDisplayData(n));
            const r = document.getElementById('graph').getBoundingClientRect();
            return {node: n, x: v.x + r.left, y: v.y + r.top}; }""")
        page.mouse.move(spot["x"], spot["y"])
        page.mouse.click(spot["x"], spot["y"])
        page.wait_for_url("**/account?ref=*", timeout=10000)
        assert urllib.parse.unquote(page.url.split("ref=")[1]) == spot["node"]
        # the account page shows its evidence: co-actions with the other campaign accounts, in words
        assert page.locator("#coactions tr.ev").count() >= 1
        text = page.inner_text("#coactions")
        assert "reposted" in text or "acted on" in text
        assert "@ambassador" in text  # the posts the campaign reposted, by their author's handle
        # a cluster member's page links back to its cluster
        assert page.locator("a[href='/clusters/1']").count() >= 1
        # the search box finds an account by handle prefix
        page.fill("#q", "@organic1")
        page.press("#q", "Enter")
        page.wait_for_load_state("load")
        assert page.locator("ul.hits a.acct").count() >= 1 or "/account?ref=" in page.url
        assert ev["outside"] == [], ev["outside"]
        assert ev["errors"] == [], ev["errors"]
        assert ev["dialogs"] == []
    finally:
        ctx.close()


@pytest.mark.slow
def test_hostile_payloads_are_inert(browser, base):
    ctx, page, ev = _page(browser, base, bypass_csp=True)
    try:
        for path in ("/clusters?all=1", "/clusters/1", "/clusters/2", "/account?ref=c0", "/account?ref=c1",
                     "/account?ref=o0", "/account?ref=o1", "/search?q=" + urllib.parse.quote(PAYLOADS["script"])):
            page.goto(base + path)
            page.wait_for_load_state("load")
            if path == "/clusters/1":
                page.wait_for_selector("#graph[data-ready='1']", timeout=15000)
            page.wait_for_timeout(150)  # onerror/onload handlers would have fired by now
            assert page.evaluate("window.__pwned") == 0, path
            assert "PWNED" not in page.title(), path
            # only the explorer's own scripts; no element made from data
            srcs = page.evaluate("[...document.querySelectorAll('script')].map(s => s.getAttribute('src'))")
            assert set(srcs) <= {"/static/app.js", "/static/vendor/graph.min.js"}, (path, srcs)
            assert page.evaluate("document.querySelectorAll('iframe, img, object, embed, style').length") == 0
            assert page.evaluate("""[...document.querySelectorAll('*')].filter(e =>
                [...e.attributes].some(a => a.name.startsWith('on'))).length""") == 0, path
            assert page.evaluate("document.querySelectorAll('a[href^=\"javascript\"]').length") == 0, path
        # the payloads are shown as text: @campaign0's bio and the co-text object of organic0 and organic1
        page.goto(base + "/account?ref=c0")
        assert "<script>window.__pwned=1" in page.inner_text("body")
        page.goto(base + "/account?ref=o0")
        assert "<script>window.__pwned=1" in page.inner_text("#coactions")
        assert ev["dialogs"] == [] and ev["outside"] == [], ev
        assert ev["errors"] == [], ev["errors"]
    finally:
        ctx.close()

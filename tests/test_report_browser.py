"""The report in a real headless Chromium: hostile data runs no script, every section renders, charts drew.

Debian's ``chromium`` (installed by .ci/run) is driven by Playwright with ``executable_path`` because
Playwright's own browser download is unavailable here. The page is opened with ``bypass_csp=True`` so the
test checks the escaping itself, not the Content-Security-Policy that would also stop scripts; a second
check opens it with CSP in force.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_report_fixtures import PAYLOADS, build_study

SECTIONS = ("summary", "targets", "coordination", "accounts", "method", "results")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    from echoscope.report.html import render_report

    base = tmp_path_factory.mktemp("browser")
    study = build_study(base / "study", hostile=True)
    out = base / "report.html"
    render_report(study, out)
    return out


def _open(browser, path: Path, *, bypass_csp: bool):
    ctx = browser.new_context(bypass_csp=bypass_csp, viewport={"width": 1200, "height": 900}, java_script_enabled=True)
    page = ctx.new_page()
    events = {"dialogs": [], "requests": [], "errors": []}
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("request", lambda r: events["requests"].append(r.url))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    # any script the page runs would see these traps
    page.add_init_script("window.__pwned = 0;")
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    # give onerror/onload handlers (broken <img src=x>, <svg onload>) time to fire if they exist
    page.wait_for_timeout(300)
    return ctx, page, events


@pytest.mark.slow
def test_hostile_payloads_run_nothing_and_page_renders(browser, report, tmp_path):
    ctx, page, ev = _open(browser, report, bypass_csp=True)
    try:
        assert page.evaluate("window.__pwned") == 0, "a payload in the data ran as script"
        assert "PWNED" not in page.title()
        assert ev["dialogs"] == []
        # no element created from data: the page has no script, iframe, img, style-from-data or handler attributes
        assert page.evaluate("document.querySelectorAll('script').length") == 0
        assert page.evaluate(
            "document.querySelectorAll('iframe, img, object, embed, a[href^=\"javascript\"]').length") == 0
        assert page.evaluate("""[...document.querySelectorAll('*')].filter(e =>
            [...e.attributes].some(a => a.name.startsWith('on'))).length""") == 0
        assert page.evaluate("document.querySelectorAll('style').length") == 1  # only the report's own
        # the payloads are shown as text, not swallowed
        body = page.inner_text("body")
        assert "<script>window.__pwned=1" in body
        assert "<img src=x onerror=" in body
        assert "javascript:window.__pwned=5//" in body
        assert "</script><script>window.__pwned=4</script>" in body
        # the RTL override and zero-width characters are made visible, not applied
        assert "[U+202E]" in body and "[U+200B]" in body
        assert "\u202e" not in body
        # the 20,000-character bio is cut, with the rest counted
        assert "more characters]" in body and "A" * 400 not in body
        # only the file itself was requested: no CDN, no network
        assert all(u.startswith("file://") for u in ev["requests"]), ev["requests"]
        assert ev["errors"] == []
        # every section renders with a visible size, and gets a screenshot
        for sec in SECTIONS:
            loc = page.locator(f"section#{sec}")
            assert loc.count() == 1, sec
            box = loc.bounding_box()
            assert box and box["height"] > 50 and box["width"] > 300, (sec, box)
            shot = tmp_path / f"{sec}.png"
            loc.screenshot(path=str(shot))
            assert shot.stat().st_size > 2000, sec
        # charts drew: every chart is an inline SVG with marks and a real size
        charts = page.evaluate("""[...document.querySelectorAll('svg.chart')].map(s => ({
            id: s.getAttribute('data-chart'), w: s.getBoundingClientRect().width, h: s.getBoundingClientRect().height,
            marks: s.querySelectorAll('path, rect, circle, line').length}))""")
        ids = {c["id"] for c in charts}
        assert {"weekly_all", "lorenz", "latency_all", "network", "weekly_targets", "latency_targets"} <= ids, ids
        for c in charts:
            assert c["w"] > 100 and c["h"] > 50 and c["marks"] > 5, c
        # the network picture has one circle per drawn account (8 cluster members in the fixture)
        assert page.evaluate("document.querySelectorAll('svg[data-chart=network] circle').length") == 8
    finally:
        ctx.close()


@pytest.mark.slow
def test_page_is_safe_with_csp_in_force_too(browser, report):
    ctx, page, ev = _open(browser, report, bypass_csp=False)
    try:
        assert page.evaluate("window.__pwned") == 0
        assert ev["dialogs"] == []
        assert page.locator("section#summary li").count() >= 5
    finally:
        ctx.close()


def test_payloads_cover_names_bios_posts_and_urls():
    # the fixture must keep feeding each kind of payload through each kind of field
    assert {"script", "img", "close", "js_url", "rtl", "zw", "long"} <= set(PAYLOADS)

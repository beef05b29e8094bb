"""The documentation site in Chromium with the network off: saved widgets, figures and search work from the site alone.

The site is the ``docs_html`` fixture (tests/conftest.py): the one ``make docs`` built, when ``make test`` runs this,
or one built into a temporary folder. The pages are served from 127.0.0.1; every request for anything else is
aborted and fails the test.
"""
from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlparse

import pytest
from _browser import free_port, launch_chromium, require_browser, stop, wait_http

QUICKSTART = "gallery/01_quickstart.html"
MONITORING = "gallery/06_monitoring.html"
API_PAGE = "api/generated/objects/rnnscope.analysis.heat_map.html"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="session")
def browser_available():
    require_browser()  # before the site is built: a machine without a browser skips at once


@pytest.fixture(scope="session")
def site(browser_available, docs_html, tmp_path_factory):
    """The built site served by a static file server on 127.0.0.1; yields its URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("docs-server") / "server.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                                 "--directory", str(docs_html)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/index.html", proc, log_path)
        yield url
    finally:
        stop(proc)


@pytest.fixture
def page(site):
    """A Chromium page on which every request that does not go to the site is aborted and recorded."""
    from playwright.sync_api import sync_playwright

    site_host = urlparse(site).netloc
    outside: list[str] = []

    def route(r):
        parsed = urlparse(r.request.url)
        if parsed.scheme in ("data", "blob") or (parsed.scheme == "http" and parsed.netloc == site_host):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, service_workers="block")
        context.route("**/*", route)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.outside, pg.errors = outside, errors
        yield pg
        browser.close()
    assert outside == [], f"requests left the site: {outside}"


def _visible_area(locator) -> float:
    box = locator.bounding_box()
    return 0.0 if box is None else box["width"] * box["height"]


def test_quickstart_page_draws_the_explorer_and_figures_without_a_kernel(site, page):
    page.goto(f"{site}/{QUICKSTART}", wait_until="load")
    # the Explorer from its saved state: the heatmap is a PNG drawn by a bqplot Image mark
    heat = page.locator(".rnnscope-explorer .rnnscope-heatmap image").first
    heat.wait_for(state="visible", timeout=60_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('.rnnscope-explorer .rnnscope-heatmap image');"
        " const h = i && (i.getAttribute('href') || i.getAttribute('xlink:href'));"
        " return h && (h.startsWith('blob:') || h.startsWith('data:image/png')); }", timeout=60_000)
    assert _visible_area(heat) > 100 * 50
    explorer = page.locator(".rnnscope-explorer").first
    assert explorer.locator(".bqplot").count() >= 5  # waveform, spectrogram, probabilities, heatmap, lines
    lines = explorer.locator(".rnnscope-lines path.line")
    assert lines.count() >= 5 and _visible_area(explorer.locator(".rnnscope-lines").first) > 0
    assert _visible_area(explorer.locator(".bqplot").first) > 100 * 50
    # a matplotlib figure of the notebook, loaded from the site
    figure = page.locator(".cell_output img[src$='.png']").first
    figure.wait_for(state="visible", timeout=30_000)
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 100", figure.element_handle())
    assert "Error displaying widget" not in page.content()
    assert not [e for e in page.errors if "widget" in e.lower()], page.errors


def test_the_detection_table_is_drawn_without_a_kernel(site, page):
    """ipydatagrid's canvas grid, from its saved state, under the Explorer of a monitored span."""
    page.goto(f"{site}/{MONITORING}", wait_until="load")
    table = page.locator(".rnnscope-explorer .rnnscope-detections").first
    table.wait_for(state="visible", timeout=60_000)
    grid = table.locator("canvas").first
    grid.wait_for(state="visible", timeout=60_000)
    assert _visible_area(grid) > 300 * 100
    assert "detections" in table.inner_text()  # the count above the grid, e.g. "25 of 25 detections"
    page.locator(".rnnscope-explorer .rnnscope-heatmap image").first.wait_for(state="visible", timeout=60_000)
    assert "Error displaying widget" not in page.content()


def test_api_page_and_search_work_offline(site, page):
    page.goto(f"{site}/{API_PAGE}", wait_until="load")
    signature = page.locator("dt#rnnscope\\.analysis\\.heat_map")
    signature.wait_for(state="visible", timeout=30_000)
    assert "heat_map" in signature.inner_text()
    assert page.locator("section h1").first.inner_text().startswith("rnnscope.analysis.heat_map")

    page.goto(f"{site}/search.html?q=heat_map", wait_until="load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#search-results a')]"
        ".some(a => a.href.includes('rnnscope.analysis.heat_map'))", timeout=60_000)

"""The Explorer in a real browser: JupyterLab + headless Chromium driven by Playwright.

The test starts its own JupyterLab on 127.0.0.1 (a free port, a token, a temporary root directory), writes a small
saved run and a notebook that displays an Explorer on it, runs all cells in Chromium, and checks that every bqplot
figure rendered, that a click on a heatmap row adds a line, that a zoom in one view re-renders the others and that
changing the record updates the views. It saves the summary widgets' screenshots (``classheatmap.png``,
``histograms.png``) in its temporary folder, or with ``RNNSCOPE_SCREENSHOTS=docs/images`` (``make screenshots``)
as the README's images; the Explorer's (``explorer.png``, a day-long monitor run) comes from
``test_monitor_browser.py``.

Skipped when /usr/bin/chromium is missing, unless RNNSCOPE_REQUIRE_BROWSER=1 (CI): then it fails.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import _browser
import pytest
from _browser import jupyterlab, launch_chromium, require_browser, screenshot_path

pytestmark = pytest.mark.browser

TOKEN = "rnnscope-browser-test"


def _make_run(path: Path) -> None:
    """A small real run: a few synthetic records, a briefly trained LSTM, every state captured."""
    import rnnscope

    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=6, seed=1))
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=32, num_classes=5)
    rnnscope.train.fit(model, frames, epochs=4, progress=False)
    rnnscope.capture(model, frames, progress=False, store=path)


NOTEBOOK_CELLS = [
    "import logging\nlogging.basicConfig(filename='widgets.log', level=logging.DEBUG)\n"
    "logging.getLogger('rnnscope.widgets').setLevel(logging.DEBUG)\n"
    "import rnnscope, rnnscope.widgets as rw\n"
    "run = rnnscope.open_run('run.zarr')\n"
    "ex = rw.Explorer(run, event=EVENT)\n"
    "ex",
    "import sys\nprint('torch imported:', 'torch' in sys.modules)",
    "chm = rw.ClassHeatMap(run, explorer=ex)\nchm",
    "rw.Histograms(run)",
]


def _write_notebook(path: Path, event: int) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src.replace("EVENT", str(event))) for src in NOTEBOOK_CELLS]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    require_browser()
    root = tmp_path_factory.mktemp("lab")
    _make_run(root / "run.zarr")
    _write_notebook(root / "explore.ipynb", event=1)
    with jupyterlab(root, TOKEN) as url:
        yield {"url": url, "root": root}


def _heat_href(page):
    return page.locator(".rnnscope-explorer .rnnscope-heatmap image").first.get_attribute("href")


HEAT_HREF_CHANGED = ("(h) => document.querySelector('.rnnscope-explorer .rnnscope-heatmap image')"
                     ".getAttribute('href') !== h")


def test_explorer_renders_and_responds_in_chromium(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            try:
                _drive(page, lab)
            except Exception:
                failure = lab["root"] / "failure.png"
                page.screenshot(path=str(failure))
                print(f"browser test failed; page screenshot: {failure}\n{page.inner_text('body')[-2000:]}")
                raise
        finally:
            browser.close()


def _drive(page, lab) -> None:
    """Open the notebook, run it, and check the Explorer in the page."""
    page.goto(f"{lab['url']}/lab/tree/explore.ipynb?token={TOKEN}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    _settle(page)
    # run all cells (Run menu -> Run All Cells)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_selector(".rnnscope-explorer", timeout=90_000)
    page.wait_for_function("document.querySelectorAll('.rnnscope-explorer .bqplot').length >= 5",
                           timeout=60_000)
    page.wait_for_function(
        "document.querySelectorAll('.rnnscope-explorer .rnnscope-view image[href^=\"blob:\"]').length >= 3",
        timeout=60_000)
    page.wait_for_selector("text=torch imported: False", timeout=60_000)
    explorer = page.locator(".rnnscope-explorer")
    assert "Error displaying widget" not in page.content()
    # waveform, spectrogram and its colour bar, probabilities, heatmap and its colour bar, unit lines
    assert explorer.locator(".bqplot").count() == 7
    views = explorer.locator(".rnnscope-view")
    assert views.count() == 5
    assert explorer.locator(".rnnscope-waveform path.line").count() >= 1  # the waveform
    lines = explorer.locator(".rnnscope-lines path.line")
    n_lines = lines.count()
    assert n_lines >= 5  # the five preselected units (+ the zero line)

    # a click on a heatmap row adds a line to the time series
    heat = explorer.locator(".rnnscope-heatmap image").first
    box = heat.bounding_box()
    heat.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.97})
    page.wait_for_function(
        f"document.querySelectorAll('.rnnscope-explorer .rnnscope-lines path.line').length > {n_lines}",
        timeout=30_000)
    assert "unit" in explorer.locator(".rnnscope-readout").inner_text()

    # zoom with the mouse wheel on the waveform: the shared time scale moves, the heatmap re-renders
    href = _heat_href(page)
    explorer.locator(".rnnscope-waveform").hover(position={"x": 500, "y": 80})
    page.mouse.wheel(0, -600)
    page.wait_for_function(HEAT_HREF_CHANGED, arg=href, timeout=30_000)

    # change the record: every view updates
    href = _heat_href(page)
    wave_d = explorer.locator(".rnnscope-waveform path.line").first.get_attribute("d")
    explorer.locator("select").first.select_option(index=0)
    page.wait_for_function(HEAT_HREF_CHANGED, arg=href, timeout=30_000)
    page.wait_for_function(
        "(d) => document.querySelector('.rnnscope-explorer .rnnscope-waveform path.line').getAttribute('d') !== d",
        arg=wave_d, timeout=30_000)
    explorer.locator("select").first.select_option(index=1)
    page.wait_for_timeout(1500)

    # the summary widgets rendered; a click on a class heat-map cell adds that unit to the Explorer
    page.wait_for_selector(".rnnscope-classheatmap .rnnscope-colorbar", timeout=60_000)
    page.wait_for_selector(".rnnscope-histograms .bqplot", timeout=60_000)
    chm = page.locator(".rnnscope-classheatmap")
    assert chm.locator(".bqplot").count() == 4  # heat map, correlation matrix and their colour bars
    cell = chm.locator(".bqplot").first.locator("image").first
    box = cell.bounding_box()
    cell.click(position={"x": box["width"] * 0.93, "y": box["height"] * 0.5})
    page.wait_for_selector(".rnnscope-classheatmap >> text=shown in the Explorer", timeout=30_000)
    unit = re.search(r"unit (\d+)", chm.inner_text()).group(1)
    page.wait_for_function(
        "(u) => document.querySelector('.rnnscope-explorer .rnnscope-unit-legend').textContent"
        ".includes('unit ' + u)", arg=unit, timeout=30_000)
    assert "Error displaying widget" not in page.content()

    page.mouse.move(0, 0)
    page.wait_for_timeout(500)
    chm.screenshot(path=str(screenshot_path(lab["root"], "classheatmap.png")))
    page.locator(".rnnscope-histograms").screenshot(path=str(screenshot_path(lab["root"], "histograms.png")))


def _settle(page, seconds: float = 8.0) -> None:
    """Accept a kernel dialog if one appears (it should not: the notebook names its kernelspec), dismiss the news
    toast, and wait for the kernel to be idle."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count() and accept.first.is_visible():
            accept.first.click()
        page.wait_for_timeout(250)
    toast = page.locator(".jp-toast-button", has_text="No")
    if toast.count() and toast.first.is_visible():
        toast.first.click()
    _wait_kernel_idle(page)


def _wait_kernel_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until the notebook's kernel reports idle (the toolbar's kernel status)."""
    page.wait_for_function(
        "() => { const s = document.querySelector('.jp-Notebook-ExecutionIndicator');"
        " return !s || s.getAttribute('data-status') === 'idle' || s.title?.includes('Idle') ||"
        " (s.getAttribute('aria-label') || '').includes('Idle') ; }", timeout=timeout_ms)


def test_browser_skip_message_names_the_missing_browser(monkeypatch):
    """Without Chromium the test skips with a clear message (and fails under RNNSCOPE_REQUIRE_BROWSER=1)."""
    monkeypatch.setattr(_browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.delenv("RNNSCOPE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is missing"):
        require_browser()
    monkeypatch.setenv("RNNSCOPE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="RNNSCOPE_REQUIRE_BROWSER=1"):
        require_browser()


def test_browsers_and_servers_write_into_the_tests_folder_not_the_home(contained_environment, tmp_path):
    """Every browser test module runs contained (conftest.py): HOME, the XDG folders, TMPDIR and the Jupyter folders
    point into its temporary folder, so Chromium's crash-report settings (~/.config/chromium) and dconf cache
    (~/.cache/dconf) land there, as do a server's files (``_browser.environment``)."""
    require_browser()
    import os
    import pwd
    import tempfile

    from playwright.sync_api import sync_playwright

    home = Path(pwd.getpwuid(os.getuid()).pw_dir)  # the user's, whatever HOME says
    for name in _browser.CONTAINED:
        assert Path(os.environ[name]).is_relative_to(contained_environment), (name, os.environ[name])
    assert Path(tempfile.gettempdir()).is_relative_to(contained_environment)
    assert not Path(os.environ["RNNSCOPE_NATIVE_DIR"]).is_relative_to(contained_environment)  # compiled once
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.set_content("<p>contained</p>")
        assert page.inner_text("p") == "contained"
        browser.close()
    written = {str(f.relative_to(contained_environment)) for f in contained_environment.rglob("*")}
    assert any(f.startswith(".home/.config/chromium") for f in written), sorted(written)
    env = _browser.environment(tmp_path)  # a server's: its own root
    assert all(Path(env[name]).is_relative_to(tmp_path) for name in _browser.CONTAINED)
    assert not Path(env["HOME"]).is_relative_to(home)

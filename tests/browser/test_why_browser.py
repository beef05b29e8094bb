"""The Explorer's attribution row in a real browser (JupyterLab + headless Chromium): a click on a heatmap unit, and
a click on a unit's trace, shows the attribution image (time x band) under the spectrogram, on the same time axis,
ending at the clicked time, with its card; the model's side (torch) runs in the kernel through the callable handed
to the Explorer.

Skipped when /usr/bin/chromium is missing, unless RNNSCOPE_REQUIRE_BROWSER=1 (CI): then it fails.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from _browser import jupyterlab, launch_chromium, require_browser, screenshot_path

pytestmark = pytest.mark.browser

TOKEN = "rnnscope-why-browser"
EX = ".rnnscope-explorer"
AXIS_SPANS = """() => Object.fromEntries([...document.querySelectorAll('.rnnscope-explorer .rnnscope-view')]
 .map(fig => {
  const css = (fig.getAttribute('class') || '').split(' ')
    .find(c => c.startsWith('rnnscope-') && c !== 'rnnscope-view');
  const domains = [...fig.querySelectorAll('g.axis path.domain')].map(d => d.getBoundingClientRect())
    .filter(b => b.width > b.height);
  return [css, domains.length ? [domains[0].left, domains[0].right] : null];
}))"""
#: screen points of the unit lines drawn in the traces figure, at the plot area's fraction ``frac`` across: one
#: {x, y} per line, in the order of the lines (the legend's); the marker and the zero line have a few points only
LINES_AT = """(frac) => {
  const fig = document.querySelector('.rnnscope-explorer .rnnscope-lines');
  const area = fig.querySelector('.plotarea_background').getBoundingClientRect();
  const x = area.left + frac * area.width;
  const paths = [...fig.querySelectorAll('g.curve path.line')]
    .filter(p => (p.getAttribute('d') || '').split('L').length > 20 && p.getBoundingClientRect().width > 0);
  return paths.map(p => {
    const n = p.getTotalLength(), m = p.getScreenCTM();
    let best = null;
    for (let i = 0; i <= 4000; i++) {
      const s = p.getPointAtLength(n * i / 4000).matrixTransform(m);
      if (!best || Math.abs(s.x - x) < Math.abs(best.x - x)) best = {x: s.x, y: s.y};
    }
    return best;
  });
}"""


def _prepare(root: Path) -> None:
    import torch

    import rnnscope

    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=4, seed=3))
    torch.manual_seed(0)
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=16, num_classes=5)
    rnnscope.train.fit(model, frames, epochs=2, progress=False, seed=0)
    model.save(root / "model.safetensors")
    rnnscope.capture(model, frames, progress=False, store=root / "run.zarr")


def _notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = ["import rnnscope, rnnscope.widgets as rw\n"
             "model = rnnscope.models.load('model.safetensors')\n"
             "run = rnnscope.open_run('run.zarr')\n"
             "print('frames', int(run.length[0]))\n"
             "ex = rw.Explorer(run, event=0, attribute=rnnscope.experiments.attributor(model, run, steps=8, "
             "max_lag=40))\nex"]
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


def test_click_a_unit_shows_its_attribution_under_the_spectrogram(tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    _prepare(tmp_path)
    _notebook(tmp_path / "why.ipynb")
    with jupyterlab(tmp_path, TOKEN) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        try:
            _drive(page, url, tmp_path)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            print(f"failure screenshot: {tmp_path / 'failure.png'}\n{page.inner_text('body')[-2000:]}")
            raise
        finally:
            browser.close()


def _drive(page, url, root) -> None:
    page.goto(f"{url}/lab/tree/why.ipynb?token={TOKEN}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_timeout(3000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_selector(f"{EX} .rnnscope-attribution", timeout=120_000)
    page.wait_for_function(
        "document.querySelectorAll('.rnnscope-explorer .rnnscope-heatmap image[href^=\"blob:\"]').length >= 1",
        timeout=60_000)
    n_frames = int(re.search(r"frames (\d+)", page.inner_text(".jp-Notebook")).group(1))
    card = page.locator(f"{EX} .rnnscope-why-card")
    assert "Click a unit" in card.inner_text()

    # click a unit in the middle of the record: the attribution image appears, with the card
    heat = page.locator(f"{EX} .rnnscope-heatmap image").first
    box = heat.bounding_box()
    heat.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.3})
    page.wait_for_function(
        "document.querySelectorAll('.rnnscope-explorer .rnnscope-attribution image[href^=\"blob:\"]').length >= 1",
        timeout=120_000)
    page.wait_for_selector(f"{EX} .rnnscope-why-card >> text=listens most to", timeout=60_000)
    text = card.inner_text()
    assert "memory" in text and "Hz" in text and "forget_gate" in text

    # on the same time axis as the spectrogram (and every view), right under it
    spans = page.evaluate(AXIS_SPANS)
    spec, attr = spans["rnnscope-spectrogram"], spans["rnnscope-attribution"]
    assert abs(spec[0] - attr[0]) <= 0.5 and abs(spec[1] - attr[1]) <= 0.5, spans
    spec_box = page.locator(f"{EX} .rnnscope-spectrogram").bounding_box()
    attr_box = page.locator(f"{EX} .rnnscope-attribution").bounding_box()
    assert 0 <= attr_box["y"] - (spec_box["y"] + spec_box["height"]) <= 10

    # the image ends on the explained frame: the clicked time, within one frame
    image = page.locator(f"{EX} .rnnscope-attribution image").first.bounding_box()
    spectrogram = page.locator(f"{EX} .rnnscope-spectrogram image").first.bounding_box()
    frame_px = spectrogram["width"] / n_frames  # the whole record is shown
    click_px = box["x"] + box["width"] * 0.5
    right = image["x"] + image["width"]
    assert click_px - 1 <= right <= click_px + frame_px + 1, (click_px, right, frame_px)
    assert image["width"] == pytest.approx(41 * frame_px, abs=2)  # max_lag=40: 41 frames
    page.locator(EX).screenshot(path=str(screenshot_path(root, "explorer_why.png")))
    _click_a_trace(page, spectrogram, frame_px, right)


def _click_a_trace(page, spectrogram, frame_px, previous_right) -> None:
    """A real click on a unit's line (the one farthest from the others there) opens its attribution like a heatmap
    click: the image under the spectrogram ends on the clicked frame, and the card names that unit."""
    page.wait_for_function(f"({LINES_AT})(0.7).length >= 2", timeout=60_000)
    points = page.evaluate(LINES_AT, 0.7)
    legend = page.locator(f"{EX} .rnnscope-unit-legend").inner_text()
    units = [int(u) for u in re.findall(r"unit (\d+)", legend)]
    assert len(units) == len(points), (legend, points)
    ys = [p["y"] for p in points]
    k = max(range(len(ys)), key=lambda i: min(abs(ys[i] - y) for j, y in enumerate(ys) if j != i))
    x, y = points[k]["x"], points[k]["y"]
    page.mouse.click(x, y)
    page.wait_for_selector(f"{EX} .rnnscope-why-card >> text=unit {units[k]} (", timeout=120_000)
    page.wait_for_function(
        """([prev]) => { const im = document.querySelector('.rnnscope-explorer .rnnscope-attribution image');
                         const b = im && im.getBoundingClientRect(); return b && Math.abs(b.right - prev) > 2; }""",
        arg=[previous_right], timeout=120_000)
    image = page.locator(f"{EX} .rnnscope-attribution image").first.bounding_box()
    right = image["x"] + image["width"]
    assert x - 1 <= right <= x + frame_px + 1, (x, right, frame_px)  # ends on the clicked frame
    spans = page.evaluate(AXIS_SPANS)  # still on the spectrogram's time axis
    assert abs(spans["rnnscope-spectrogram"][0] - spans["rnnscope-attribution"][0]) <= 0.5
    assert abs(spans["rnnscope-spectrogram"][1] - spans["rnnscope-attribution"][1]) <= 0.5
    assert abs(spectrogram["x"] - page.locator(f"{EX} .rnnscope-spectrogram image").first.bounding_box()["x"]) <= 1
    assert "listens most to" in page.locator(f"{EX} .rnnscope-why-card").inner_text()

"""The built documentation site: every public object has a page, the notebooks ran with their widgets saved, and no
page loads anything from elsewhere. (The site is the ``docs_html`` fixture of tests/conftest.py.)"""
from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

pytestmark = pytest.mark.slow


class _Resources(HTMLParser):
    """Every URL a page loads by itself (scripts, stylesheets, images, frames, media), not the links it shows."""

    LOADS = {"script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src", "audio": "src",
             "embed": "src", "object": "data"}

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.LOADS and attrs.get(self.LOADS[tag]):
            self.urls.append(attrs[self.LOADS[tag]])
        if (
            tag == "link"
            and attrs.get("href")
            and not {"canonical", "alternate"} & set((attrs.get("rel") or "").split())
        ):
            self.urls.append(attrs["href"])


def _remote(url: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:)?//", url, re.I)) and not url.startswith(("data:", "blob:"))


def test_no_page_loads_anything_from_elsewhere(docs_html):
    pages = sorted(docs_html.rglob("*.html"))
    assert len(pages) > 100
    remote = {}
    for page in pages:
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        found = [u for u in parser.urls if _remote(u)]
        if found:
            remote[str(page.relative_to(docs_html))] = found
    assert remote == {}
    for css in docs_html.rglob("*.css"):
        assert not re.search(r"@import\s+(url\()?['\"]?(https?:)?//", css.read_text(errors="ignore")), css


def test_every_public_object_has_an_api_page(docs_html):
    from public_api import public_modules, public_names

    missing = []
    for module in public_modules():
        if not (docs_html / "api" / "generated" / f"{module}.html").is_file():
            missing.append(module)
        for entry in public_names(module):
            page = docs_html / "api" / "generated" / "objects" / f"{entry.qualname}.html"
            if entry.kind != "module" and not page.is_file():
                missing.append(entry.qualname)
    assert missing == []


def _saved_widgets(html: str) -> dict:
    state = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', html, re.S)
    assert state, "the page carries no saved widget state"
    return json.loads(state.group(1))["state"]


def test_the_quickstart_ran_and_saved_its_widgets(docs_html):
    html = (docs_html / "gallery" / "01_quickstart.html").read_text(encoding="utf-8")
    models = _saved_widgets(html)
    modules = {m["model_module"] for m in models.values()}
    assert {"bqplot", "bqscales", "anywidget", "@jupyter-widgets/controls"} <= modules
    assert any("rnnscope-explorer" in m["state"].get("_dom_classes", []) for m in models.values())
    assert re.search(r'src="\.\./_static/widgets/html-manager/embed-amd\.js(\?[^"]*)?"', html)
    for name in ("bqplot", "bqscales", "ipydatagrid", "anywidget"):
        assert (docs_html / "_static" / "widgets" / name / "index.js").is_file()
    assert re.search(r'<img[^>]+src="[^"]+\.png"', html), "no matplotlib figure in the quickstart page"


def test_the_monitoring_page_saved_its_detection_table(docs_html):
    models = _saved_widgets((docs_html / "gallery" / "06_monitoring.html").read_text(encoding="utf-8"))
    grids = [m for m in models.values() if m["model_module"] == "ipydatagrid" and m["model_name"] == "DataGridModel"]
    assert len(grids) == 1


def test_types_link_to_the_projects_docs_through_the_cached_inventories(docs_html):
    html = (docs_html / "api" / "generated" / "objects" / "rnnscope.capture.html").read_text(encoding="utf-8")
    assert 'href="https://docs.xarray.dev/en/stable/generated/xarray.Dataset.html#xarray.Dataset"' in html
    assert 'href="https://docs.pytorch.org/docs/stable/generated/torch.nn.Module.html#torch.nn.Module"' in html

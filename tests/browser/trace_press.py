"""Where the browser's time goes after a press in the Explorer (issue 28): a measurement, not a check.

Not collected with the other tests (the name does not start with ``test_``); run it by name, on a quiet machine::

    RNNSCOPE_REQUIRE_BROWSER=1 .venv/bin/python -m pytest -s tests/browser/trace_press.py

It opens the day-long monitor capture in JupyterLab as ``test_monitor_browser.py`` does, filters the table to one
class and presses next, next, previous, next, each inside a Chromium trace (``RNNSCOPE_TRACE_DIR``, default the
test's temporary folder: ``press<i>.json`` for Chrome's trace viewer or Perfetto). Per press it prints the views'
last new data after the press (ms), the widget update messages the page received and their bytes, and the
renderer's main thread from the press to the last view's new data: wall time in tasks and their CPU time (compare
CPU, not wall, between variants on a shared machine; tracing itself inflates both).
"""
from __future__ import annotations

import collections
import json
import os
import re
import struct
from pathlib import Path

import pytest
from _browser import jupyterlab, launch_chromium
from test_monitor_browser import (
    HEAT,
    TOKEN,
    WATCH_HEAT,
    _class_to_filter,
    _explorer_cells,
    _heat_href,
    _notebook,
    _start_interaction,
    _wait_heat_change,
)

pytestmark = pytest.mark.browser

CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8", "blink", "toplevel"]


def widget_updates(payload) -> int | None:
    """Bytes of a websocket frame when it carries a widget update (Jupyter's v1 binary protocol), else None."""
    if isinstance(payload, str):
        return None
    n = struct.unpack_from("<Q", payload, 0)[0]
    offsets = struct.unpack_from(f"<{n}Q", payload, 8)
    header, content = (payload[offsets[i]:offsets[i + 1]] for i in (1, 4))
    if json.loads(header)["msg_type"] != "comm_msg":
        return None
    return len(payload) if json.loads(content).get("data", {}).get("method") == "update" else None


def main_thread(trace: Path, last_ms: float) -> tuple[float, float]:
    """(wall, CPU) ms of the renderer main thread's tasks from the mousedown to ``last_ms`` after it."""
    events = json.loads(trace.read_text())
    events = events["traceEvents"] if isinstance(events, dict) else events
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"]["name"] == "CrRendererMain"}
    busiest = collections.Counter((e["pid"], e["tid"]) for e in events if (e["pid"], e["tid"]) in mains)
    main = busiest.most_common(1)[0][0]
    spans = sorted((e for e in events if (e["pid"], e["tid"]) == main and e.get("ph") == "X"), key=lambda e: e["ts"])
    t0 = next(e["ts"] for e in spans
              if e["name"] == "EventDispatch" and e["args"].get("data", {}).get("type") == "mousedown")
    wall = cpu = 0.0
    end = -1.0
    for e in spans:  # the outermost tasks only
        if e["name"] == "ThreadControllerImpl::RunTask" and e["ts"] >= end:
            end = e["ts"] + e.get("dur", 0)
            if t0 - 5_000 <= e["ts"] <= t0 + last_ms * 1000:
                wall, cpu = wall + e.get("dur", 0) / 1000, cpu + e.get("tdur", 0) / 1000
    return wall, cpu


def test_trace_presses(day_output, tmp_path):
    from playwright.sync_api import sync_playwright

    out = Path(os.environ.get("RNNSCOPE_TRACE_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    _notebook(tmp_path / "day.ipynb", _explorer_cells(day_output))
    with jupyterlab(tmp_path, TOKEN) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        updates: list[int] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda data: updates.append(widget_updates(data))))
        page.goto(f"{url}/lab/tree/day.ipynb?token={TOKEN}", wait_until="domcontentloaded")
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
        page.wait_for_timeout(3000)
        if not page.locator(".jp-FileBrowser").is_visible():
            page.locator(".jp-SideBar .lm-TabBar-tab[data-id='filebrowser']").click()
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(f"document.querySelectorAll('{HEAT} image[href^=\"blob:\"]').length >= 1",
                               timeout=180_000)
        page.wait_for_timeout(4000)
        page.evaluate(WATCH_HEAT)
        table = page.locator(".rnnscope-explorer .rnnscope-detections")
        total = re.search(r"of (\d+) detections", table.locator(".widget-html").last.inner_text()).group(1)
        table.locator("select").first.select_option(label=_class_to_filter(day_output["detections"]))
        page.wait_for_function("(t) => !document.querySelector('.rnnscope-detections').innerText.includes(t + ' of ')",
                               arg=total, timeout=30_000)
        table.locator("button", has_text="next ▶").scroll_into_view_if_needed()
        page.wait_for_timeout(800)
        for i, button in enumerate(("next ▶", "next ▶", "◀ previous", "next ▶")):
            href = _heat_href(page)
            _start_interaction(page)
            browser.start_tracing(page=page, path=str(out / f"press{i}.json"), categories=CATEGORIES)
            start = len(updates)
            table.locator("button", has_text=button).click()
            _wait_heat_change(page, href)
            page.wait_for_timeout(700)
            browser.stop_tracing()
            views = page.evaluate("() => { const a = window.__action; return Object.fromEntries(Object.entries("
                                  "window.__viewChanges).map(([k, t]) => [k.replace('rnnscope-', ''), "
                                  "Math.round(t - a)])); }")
            mine = [n for n in updates[start:] if n is not None]
            wall, cpu = main_thread(out / f"press{i}.json", max(views.values()))
            print(f"press {i} ({button}): views {dict(sorted(views.items(), key=lambda kv: kv[1]))}; "
                  f"{len(mine)} update messages, {sum(mine) / 1000:.1f} kB; main thread to the last view: "
                  f"{wall:.0f} ms in tasks, {cpu:.0f} ms CPU")
            assert views and mine  # every press updated views through widget messages
            page.wait_for_timeout(800)
        browser.close()

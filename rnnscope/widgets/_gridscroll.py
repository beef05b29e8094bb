"""Scroll a detection table's grid to a row: a tiny anywidget beside the grid (ipydatagrid has no scroll call).

The grid (a Lumino DataGrid in the browser) scrolls on wheel events over its cells. To show row ``row`` (of the
rows the grid shows, 0 = first), the browser side sends the grid two wheel events: one that scrolls to the top
(the grid clamps it), then one of ``row`` rows less a third of the visible height, so the row lands in the upper
third of the grid. Each new ``request`` scrolls once; nothing happens while the grid is hidden.
"""
from __future__ import annotations

import anywidget
import traitlets

__all__ = ["GridScroller"]

_ESM = """
function render({ model, el }) {
  el.classList.add("rnnscope-gridscroll");
  el.style.display = "none";
  const scroll = () => {
    const box = el.closest(".rnnscope-detections");
    const grid = box && box.querySelector(".lm-DataGrid, .p-DataGrid");
    if (!grid) return;
    const rect = grid.getBoundingClientRect();
    if (!rect.width || !rect.height) return;
    const rowPx = model.get("row_px"), headerPx = model.get("header_px");
    const x = rect.left + Math.min(60, rect.width / 2), y = rect.top + Math.min(rect.height - 2, headerPx + rowPx);
    const target = document.elementFromPoint(x, y);
    if (!target || !grid.contains(target)) return;
    const wheel = (dy) => target.dispatchEvent(new WheelEvent("wheel", { deltaY: dy, deltaMode: 0, bubbles: true,
                                                                           cancelable: true, clientX: x, clientY: y }));
    wheel(-1e7);
    const visible = rect.height - headerPx;
    wheel(Math.max(0, model.get("row") * rowPx - visible / 3));
  };
  model.on("change:request", () => requestAnimationFrame(scroll));
}
export default { render };
"""


class GridScroller(anywidget.AnyWidget):
    """Scrolls the grid of the :class:`~rnnscope.widgets._table.DetectionTable` it sits in to a row.

    Examples
    --------
    >>> s = GridScroller(row_px=22)
    >>> s.show(40); (s.row, s.request)
    (40, 1)
    """

    _esm = _ESM
    #: the row to show (position among the rows the grid shows)
    row = traitlets.Int(0).tag(sync=True)
    #: incremented by each :meth:`show` (the browser scrolls once per change)
    request = traitlets.Int(0).tag(sync=True)
    #: the grid's row height and column-header height (px)
    row_px = traitlets.Int(22).tag(sync=True)
    header_px = traitlets.Int(20).tag(sync=True)

    def show(self, row: int) -> None:
        """Scroll the grid so that ``row`` is in view (in its upper third)."""
        with self.hold_sync():
            self.row = int(row)
            self.request += 1

"""Clicks on a figure whose interaction takes the mouse (the Explorer's unit traces zoom with a brush): a tiny
anywidget without a view of its own that reports where a click without drag landed in the figure's plot area.

bqplot gives a figure one interaction. The traces' brush covers the plot area with its overlay, so their line marks
never receive a click, and a brush that ends without a selection tells Python nothing about where it started. The
probe listens, in the capture phase, for ``click`` events inside its Explorer (``scope``) whose target is in a figure
matching ``target``; d3's brush swallows the click that ends a drag, so only a press and release without a drag
arrives. It sends ``{"event": "click", "x": fx, "y": fy}``: the position as fractions of the figure's plot area
(``.plotarea_background``), 0..1 from the left and from the top, which Python maps to time and value on the
figure's scales (:meth:`rnnscope.widgets._units.TracesView.pick`).
"""
from __future__ import annotations

from collections.abc import Callable

import anywidget
import traitlets

__all__ = ["PlotClicks"]

_ESM = """
function render({ model, el }) {
  el.classList.add("rnnscope-plot-clicks");
  el.style.height = "0px";
  el.style.overflow = "hidden";
  let scoped = null, frame = null;
  const onClick = (event) => {
    const fig = event.target && event.target.closest ? event.target.closest(model.get("target")) : null;
    if (!fig || !scoped || !scoped.contains(fig)) return;
    const area = fig.querySelector(".plotarea_background");
    if (!area) return;
    const box = area.getBoundingClientRect();
    if (!(box.width > 0 && box.height > 0)) return;
    const x = (event.clientX - box.left) / box.width, y = (event.clientY - box.top) / box.height;
    if (x < 0 || x > 1 || y < 0 || y > 1) return;
    model.send({ event: "click", x: x, y: y });
  };
  const start = () => {
    const s = el.closest(model.get("scope"));
    if (!s) { frame = requestAnimationFrame(start); return; }
    scoped = s;
    s.addEventListener("click", onClick, true);
  };
  start();
  return () => {
    if (frame) cancelAnimationFrame(frame);
    if (scoped) scoped.removeEventListener("click", onClick, true);
  };
}
export default { render };
"""


class PlotClicks(anywidget.AnyWidget):
    """Reports clicks without drag on the figures matching ``target`` inside the element matching ``scope``.

    Parameters
    ----------
    scope : str
        CSS selector of the probe's container (its closest ancestor matching it), e.g. ``".rnnscope-explorer"``.
    target : str
        CSS selector of the figures whose clicks are reported, e.g. ``".rnnscope-lines"``.

    Examples
    --------
    >>> seen = []
    >>> probe = PlotClicks(".rnnscope-explorer", ".rnnscope-lines")
    >>> probe.on_click(lambda x, y: seen.append((x, y)))
    >>> probe._handle_custom_msg({"event": "click", "x": 0.25, "y": 0.5}, [])  # what the browser sends
    >>> seen
    [(0.25, 0.5)]
    """

    _esm = _ESM
    scope = traitlets.Unicode(".rnnscope-explorer").tag(sync=True)
    target = traitlets.Unicode("").tag(sync=True)

    def __init__(self, scope: str, target: str):
        super().__init__(scope=scope, target=target)
        self._callbacks: list[Callable[[float, float], None]] = []
        self.on_msg(self._on_message)

    def on_click(self, callback: Callable[[float, float], None]) -> None:
        """Call ``callback(x, y)`` on every click (fractions of the plot area from its left and top edges)."""
        self._callbacks.append(callback)

    def _on_message(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict) or content.get("event") != "click":
            return
        try:
            x, y = float(content["x"]), float(content["y"])
        except (KeyError, TypeError, ValueError):
            return
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            return
        for callback in self._callbacks:
            callback(x, y)

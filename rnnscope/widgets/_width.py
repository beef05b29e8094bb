"""The width the Explorer takes on the page, reported by the browser: a tiny anywidget without a view of its own.

An Explorer without a fixed ``width`` follows the page, but the kernel does not know how wide the page is: it
rendered for a 1600 px figure, so on a laptop with JupyterLab's file browser open (figures about 900 px wide) the
images carried about four columns per screen pixel and the traces two points per pixel, and the browser spent its
time on data it could not show. The probe watches the Explorer's element with a ``ResizeObserver`` and reports its
width in CSS pixels (after the layout settles, and again when the page or the side panels change it); the Explorer
then renders for that width (never for more than 1600 px). Without a browser (scripts, tests, a static HTML export)
nothing is reported and the Explorer keeps rendering for 1600 px.
"""
from __future__ import annotations

import anywidget
import traitlets

__all__ = ["WidthProbe"]

_ESM = """
function render({ model, el }) {
  el.classList.add("rnnscope-width-probe");
  el.style.height = "0px";
  el.style.overflow = "hidden";
  const scope = () => el.closest(model.get("scope"));
  let timer = null;
  const report = () => {
    const s = scope();
    if (!s) return;
    const width = Math.round(s.getBoundingClientRect().width);
    if (width > 0 && Math.abs(width - (model.get("width_px") || 0)) >= model.get("step_px")) {
      model.set("width_px", width);
      model.save_changes();
    }
  };
  const observer = new ResizeObserver(() => { clearTimeout(timer); timer = setTimeout(report, 120); });
  let frame = null;
  const start = () => { const s = scope(); if (s) observer.observe(s); else frame = requestAnimationFrame(start); };
  start();
  return () => { observer.disconnect(); clearTimeout(timer); if (frame) cancelAnimationFrame(frame); };
}
export default { render };
"""


class WidthProbe(anywidget.AnyWidget):
    """Reports the width (CSS px) of the element around it that matches ``scope`` as :attr:`width_px`.

    Examples
    --------
    >>> probe = WidthProbe(".rnnscope-explorer")
    >>> seen = []
    >>> probe.observe(lambda change: seen.append(change["new"]), names="width_px")
    >>> probe.width_px = 912  # what the browser sends once the page is laid out
    >>> seen
    [912]
    """

    _esm = _ESM
    #: CSS selector of the element whose width is reported (the closest ancestor that matches)
    scope = traitlets.Unicode(".rnnscope-explorer").tag(sync=True)
    #: smallest change (px) reported again
    step_px = traitlets.Int(8).tag(sync=True)
    #: the reported width in CSS pixels; 0 until a browser reports it
    width_px = traitlets.Int(0).tag(sync=True)

    def __init__(self, scope: str = ".rnnscope-explorer", **kwargs):
        super().__init__(scope=scope, **kwargs)

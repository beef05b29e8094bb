"""The width the Explorer takes on the page, reported by the browser: a tiny anywidget without a view of its own.

An Explorer without a fixed ``width`` follows the page, but the kernel does not know how wide the page is: it
rendered for a 1600 px figure, so on a laptop with JupyterLab's file browser open (figures about 900 px wide) the
images carried about four columns per screen pixel and the traces two points per pixel, and the browser spent its
time on data it could not show. The probe watches the Explorer's element with a ``ResizeObserver`` and reports its
width in CSS pixels (after the layout settles, and again when the page or the side panels change it); the Explorer
then renders for that width (never for more than 1600 px). Without a browser (scripts, tests, a static HTML export)
nothing is reported and the Explorer keeps rendering for 1600 px.

The probe also keeps mouse presses and focus inside the Explorer from bubbling out of it: the views receive them
first, and JupyterLab's notebook, which activates a cell on a press or on focus inside it (a restyle and repaint of
the whole notebook, 40-60 ms measured on the first press into the Explorer's cell, before the press reached the
views), no longer does for presses in the Explorer.
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
  // presses and focus inside the Explorer stay in it (its views got them already): JupyterLab would otherwise
  // activate the Explorer's cell on the first press, a restyle and repaint of the notebook before the press reaches
  // the views
  const keep = (event) => { if (model.get("contain_events")) event.stopPropagation(); };
  let frame = null, scoped = null;
  const start = () => {
    const s = scope();
    if (!s) { frame = requestAnimationFrame(start); return; }
    observer.observe(s);
    scoped = s;
    s.addEventListener("mousedown", keep);
    s.addEventListener("focusin", keep);
  };
  start();
  return () => {
    observer.disconnect(); clearTimeout(timer); if (frame) cancelAnimationFrame(frame);
    if (scoped) { scoped.removeEventListener("mousedown", keep); scoped.removeEventListener("focusin", keep); }
  };
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
    #: keep mouse presses and focus inside the scope from reaching the page around it (JupyterLab's notebook
    #: activates a cell on them: a restyle and repaint of the notebook, 40-60 ms on the first press into the cell)
    contain_events = traitlets.Bool(True).tag(sync=True)

    def __init__(self, scope: str = ".rnnscope-explorer", **kwargs):
        super().__init__(scope=scope, **kwargs)

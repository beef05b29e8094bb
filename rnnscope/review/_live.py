"""The review page's link to its server: a heartbeat that brings other pages' decisions and notices a lost server.

The browser side sends ``{"ping": n}`` every ``interval_ms`` (400 ms); Python answers each with ``{"pong": n}``
after calling ``on_beat`` (the page reads the decisions file again when it changed: decisions made in other tabs
appear within a second). When no answer has come for ``timeout_ms`` (the server stopped, was restarted, or the
kernel is gone), the browser covers the review page with a notice and takes no input (clicks land on the notice,
keys are dropped) until answers come again. Nothing is sent per ping but the ping and the pong.
"""
from __future__ import annotations

import logging

import anywidget
import traitlets

__all__ = ["Heartbeat", "OFFLINE_TEXT"]

log = logging.getLogger("rnnscope.review")

#: the notice on a page whose server does not answer ({s}: seconds without an answer)
OFFLINE_TEXT = ("Disconnected: the review server has not answered for {s} s (it stopped, or is busy). Nothing "
                "done on this page is saved now, and it takes no input. If the server stopped, start "
                "`rnnscope review` again and reload this page.")

_ESM = """
function render({ model, el }) {
  el.classList.add("rnnscope-heartbeat");
  el.style.display = "none";
  let n = 0, last = Date.now(), overlay = null;
  const scope = () => el.closest(".rnnscope-review") || document.body;
  const offline = () => overlay !== null;
  const show = (seconds) => {
    const s = scope();
    if (!overlay) {
      overlay = document.createElement("div");
      overlay.className = "rnnscope-offline-notice";
      overlay.setAttribute("role", "alert");
      overlay.style.cssText = "position:absolute;inset:0;z-index:10000;background:rgba(255,255,255,0.78);" +
                              "cursor:not-allowed";
      const box = document.createElement("div");
      box.style.cssText = "position:sticky;top:12px;margin:12px auto;max-width:720px;padding:12px 16px;" +
                          "background:#fff3f3;border:2px solid #b00020;color:#5f0010;font:14px sans-serif";
      overlay.appendChild(box);
      if (getComputedStyle(s).position === "static") s.style.position = "relative";
      s.appendChild(overlay);
      s.classList.add("rnnscope-offline");
      if (document.activeElement && s.contains(document.activeElement)) document.activeElement.blur();
    }
    overlay.firstChild.textContent = model.get("offline_text").replace("{s}", String(seconds));
  };
  const hide = () => {
    if (overlay) { overlay.remove(); overlay = null; scope().classList.remove("rnnscope-offline"); }
  };
  const block = (e) => {
    if (offline() && (scope() === document.body || scope().contains(e.target) || e.target === document.body)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  };
  model.on("msg:custom", (msg) => {
    if (msg && msg.pong !== undefined) { last = Date.now(); hide(); }
  });
  const timer = setInterval(() => {
    n += 1;
    try { model.send({ ping: n }); } catch (err) { /* the connection is gone: the timeout says so */ }
    const silent = Date.now() - last;
    if (silent > model.get("timeout_ms")) show(Math.round(silent / 1000));
  }, model.get("interval_ms"));
  const types = ["keydown", "keypress", "keyup", "click", "mousedown", "pointerdown", "wheel"];
  for (const t of types) document.addEventListener(t, block, true);
  return () => {
    clearInterval(timer);
    for (const t of types) document.removeEventListener(t, block, true);
    hide();
  };
}
export default { render };
"""


class Heartbeat(anywidget.AnyWidget):
    """Pings from the browser, answered after ``on_beat()``; a notice over the page when answers stop.

    Examples
    --------
    >>> beats = []
    >>> hb = Heartbeat(lambda: beats.append(1))
    >>> hb._on_ping(None, {"ping": 7}, None); hb._on_ping(None, {"other": 1}, None); len(beats), hb.pongs
    (1, 1)
    """

    _esm = _ESM
    #: milliseconds between two pings
    interval_ms = traitlets.Int(400).tag(sync=True)
    #: milliseconds without an answer after which the page says it is disconnected and takes no input
    timeout_ms = traitlets.Int(3000).tag(sync=True)
    #: the notice shown then
    offline_text = traitlets.Unicode(OFFLINE_TEXT).tag(sync=True)

    def __init__(self, on_beat, **kwargs):
        super().__init__(**kwargs)
        self.on_beat = on_beat
        self.pongs = 0  #: pings answered (for tests)
        self.on_msg(self._on_ping)

    def _on_ping(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict) or "ping" not in content:
            return
        try:
            self.on_beat()
        except Exception:  # a failing refresh must not look like a lost server
            log.exception("review page: refreshing from the decisions file failed")
        finally:
            self.pongs += 1
            self.send({"pong": content["ping"]})

"""Keyboard shortcuts for a page (the review page): a tiny anywidget that reports the keys it watches.

The browser side listens to ``keydown`` on the document and sends ``{"key": ...}`` for a watched key, unless the
key is typed into a text field or a drop-down, or a modifier (Ctrl, Alt, Meta) is held. Inside JupyterLab it only
reacts when the focus or the pointer is inside the widget's page (``.rnnscope-review``): Lab's own single-key
shortcuts (a, b, j, k in command mode) keep working elsewhere. In Voila (no notebook around) every watched key
counts.
"""
from __future__ import annotations

import anywidget
import traitlets

__all__ = ["KeyBindings"]

_ESM = """
function render({ model, el }) {
  el.classList.add("rnnscope-keys");
  let hovered = false;
  const scope = () => el.closest(".rnnscope-review") || el.parentElement;
  const onMove = (e) => { const s = scope(); hovered = !!(s && s.contains(e.target)); };
  const onKey = (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    const t = e.target;
    const tag = (t && t.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || (t && t.isContentEditable)) return;
    const keys = model.get("watched_keys") || [];
    if (!keys.includes(e.key)) return;
    const inLab = !!document.querySelector(".jp-Notebook");
    const s = scope();
    if (inLab && !(hovered || (s && s.contains(document.activeElement)))) return;
    e.preventDefault();
    e.stopPropagation();
    model.send({ key: e.key });
  };
  document.addEventListener("mousemove", onMove, true);
  document.addEventListener("keydown", onKey, true);
  return () => {
    document.removeEventListener("mousemove", onMove, true);
    document.removeEventListener("keydown", onKey, true);
  };
}
export default { render };
"""


class KeyBindings(anywidget.AnyWidget):
    """Calls ``handler(key)`` in Python when one of ``keys`` is pressed on the page.

    Examples
    --------
    >>> pressed = []
    >>> kb = KeyBindings(["a", "r"], pressed.append)
    >>> kb._handle_key(None, {"key": "a"}, None); kb._handle_key(None, {"key": "x"}, None); pressed
    ['a']
    """

    _esm = _ESM
    #: the keys reported (``KeyboardEvent.key`` values such as "a", "ArrowDown", "Enter")
    watched_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)

    def __init__(self, keys, handler, **kwargs):
        super().__init__(watched_keys=list(keys), **kwargs)
        self.handler = handler
        self.on_msg(self._handle_key)

    def _handle_key(self, _widget, content, _buffers) -> None:
        key = content.get("key") if isinstance(content, dict) else None
        if key in self.watched_keys:
            self.handler(key)

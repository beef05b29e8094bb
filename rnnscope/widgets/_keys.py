"""Keyboard shortcuts for a page (the review page): a tiny anywidget that reports the keys it watches.

The browser side listens to ``keydown`` on the document and sends ``{"key": ...}`` for a watched key, unless the
key is typed into a text field or a drop-down, a modifier (Ctrl, Alt, Meta) is held, or the page is offline (its
server does not answer: ``.rnnscope-offline``, see :mod:`rnnscope.review._live`). Inside a notebook editor
(JupyterLab, Notebook 7, the classic notebook: a page with code editors) it only reacts when
the focus or the pointer is inside the widget's page (``.rnnscope-review``): the editor's own single-key shortcuts
(a, b, j, k in command mode) keep working elsewhere. In Voila every watched key counts wherever the pointer is
(Voila's ``<body>`` has the class ``jp-Notebook`` too, which once made the keys count only over the widget).
"""
from __future__ import annotations

import anywidget
import traitlets

__all__ = ["KeyBindings"]

#: what only a page with a notebook editor has: code editors (JupyterLab, Notebook 7: CodeMirror 6; the classic
#: notebook: its container and CodeMirror 5). Voila's page has neither (its body is a .jp-Notebook, it even has a
#: .jp-LabShell and a .jp-InputArea, but no editor)
EDITOR = ".jp-InputArea-editor, .cm-editor, .CodeMirror, #notebook-container"

_ESM = """
const EDITOR = "__EDITOR__";
function render({ model, el }) {
  el.classList.add("rnnscope-keys");
  let hovered = false;
  const scope = () => el.closest(".rnnscope-review") || el.parentElement;
  // a notebook editor around the page (not Voila, whose body is a .jp-Notebook without editor or inputs)
  const inEditor = () => !!document.querySelector(EDITOR);
  const onMove = (e) => { const s = scope(); hovered = !!(s && s.contains(e.target)); };
  const onKey = (e) => {
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    const s = scope();
    if (s && s.classList.contains("rnnscope-offline")) return;
    const t = e.target;
    const tag = (t && t.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || (t && t.isContentEditable)) return;
    const keys = model.get("watched_keys") || [];
    if (!keys.includes(e.key)) return;
    if (inEditor() && !(hovered || (s && s.contains(document.activeElement)))) return;
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
""".replace("__EDITOR__", EDITOR)


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

"""The review page: an analyst accepts, rejects or relabels the monitor's detections and draws missed ones.

Built from the Explorer (same views, same detection table) on the capture runs of a monitor output folder; every
decision is saved at once by :class:`~rnnscope.review.ReviewStore`. Keys (on the page; in JupyterLab while the
pointer is over it): ``a`` accept, ``r`` reject, ``1`` ... ``9`` relabel to the n-th class, ``n`` / ``p`` next /
previous detection, ``d`` draw mode (then drag on the unit-lines view to add a missed event of the chosen class).
After a decision the next detection of the table (as filtered) is shown.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from ..widgets import Explorer
from ..widgets._keys import KeyBindings
from ._store import ReviewStore

__all__ = ["ReviewPage", "find_runs"]


def find_runs(folder, capture=None) -> list[Path]:
    """The capture runs (``*.zarr``) of a monitor output folder: in ``capture`` when given, else where
    ``monitor.json`` (written by ``rnnscope monitor --capture``) says, else in ``folder/capture`` or ``folder``."""
    folder = Path(folder)
    places = []
    if capture is not None:
        places.append(Path(capture))
    manifest = folder / "monitor.json"
    if manifest.exists():
        info = json.loads(manifest.read_text())
        places += [Path(p) for p in info.get("capture_store") or []]
    places += [folder / "capture", folder]
    for place in places:
        if place.suffix == ".zarr" and place.is_dir():
            return [place]
        runs = sorted(p for p in place.glob("*.zarr") if p.is_dir()) if place.is_dir() else []
        if runs:
            return runs
    return []


class ReviewPage(widgets.VBox):
    """An analyst's page on a monitor output folder: the Explorer, its detection table and decision buttons.

    Parameters
    ----------
    folder : path
        Output folder of ``rnnscope monitor`` (``detections.csv``; decisions and the reviewed catalog go there).
    capture : path, optional
        Folder of the capture runs (default: see :func:`find_runs`).
    width : int, optional
        Fixed width in pixels (default: the page's).

    Examples
    --------
    >>> page = ReviewPage.__new__(ReviewPage)  # built on a real folder in tests/test_widgets.py
    >>> sorted(ReviewPage.KEYS)[:3]
    ['1', '2', '3']
    """

    #: the keys the page reacts to
    KEYS = ("a", "r", "n", "p", "d") + tuple(str(i) for i in range(1, 10))

    def __init__(self, folder, capture=None, *, width: int | None = None):
        from ..io import open_run

        self.folder = Path(folder)
        self.runs = find_runs(self.folder, capture)
        if not self.runs:
            raise FileNotFoundError(f"ReviewPage: no capture runs (*.zarr) for {self.folder}; run `rnnscope monitor "
                                    "... --capture DIR` and pass capture=DIR (or `rnnscope review OUT --capture DIR`).")
        self.width = width
        first = open_run(self.runs[0])
        self.store = ReviewStore(self.folder, class_names=list(first.attrs["class_names"]))
        self.class_names = self.store.class_names
        self.w_run = widgets.Dropdown(options=[(p.stem, i) for i, p in enumerate(self.runs)], value=0,
                                      description="day", style={"description_width": "32px"},
                                      layout=widgets.Layout(width="330px", display="" if len(self.runs) > 1 else "none"))
        self.w_run.observe(lambda c: self.show_run(c["new"]), names="value")
        self.w_accept = widgets.Button(description="accept (a)", button_style="success",
                                       layout=widgets.Layout(width="100px"))
        self.w_reject = widgets.Button(description="reject (r)", button_style="danger",
                                       layout=widgets.Layout(width="100px"))
        self.w_class = widgets.Dropdown(options=self.class_names, value=self.class_names[0], description="class",
                                        style={"description_width": "38px"}, layout=widgets.Layout(width="130px"))
        self.w_relabel = widgets.Button(description="relabel (1-9)", layout=widgets.Layout(width="110px"))
        self.w_draw = widgets.ToggleButton(value=False, description="draw missed (d)",
                                           tooltip="drag on the unit-lines view to add a missed event of the class",
                                           layout=widgets.Layout(width="130px"))
        self.w_accept.on_click(lambda _: self.accept())
        self.w_reject.on_click(lambda _: self.reject())
        self.w_relabel.on_click(lambda _: self.relabel(self.w_class.value))
        self.w_draw.observe(lambda c: self._set_draw(c["new"]), names="value")
        self.w_status = widgets.HTML()
        self.key_bindings = KeyBindings(self.KEYS, self.on_key)
        help_text = ("keys: <b>a</b> accept · <b>r</b> reject · <b>1</b>-<b>9</b> relabel to "
                     + ", ".join(f"<b>{i + 1}</b> {html.escape(c)}" for i, c in enumerate(self.class_names[:9]))
                     + " · <b>n</b>/<b>p</b> next/previous · <b>d</b> draw a missed event")
        self._bar = widgets.HBox([self.w_run, self.w_accept, self.w_reject, self.w_class, self.w_relabel, self.w_draw,
                                  self.key_bindings], layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        self._help = widgets.HTML(f'<div style="font-size:12px;color:#444">{help_text}</div>')
        super().__init__(layout=widgets.Layout(width="100%"))
        self.add_class("rnnscope-review")
        self.explorer = None
        self.show_run(0, run=first)

    # ------------------------------------------------------------------------------------------- opening
    def _catalog(self) -> pd.DataFrame:
        """The detections with their id and decision, and the added events, as the Explorer's catalog."""
        d = self.store.detections.copy()
        d["key"] = self.store.keys()
        d["review"] = self.store.status()
        added = self.store.added()
        if len(added):
            added = added.assign(review="added", p_mean=float("nan"))
            d = pd.concat([d, added], ignore_index=True)
        return d

    def show_run(self, index: int, run=None) -> None:
        """Show capture run ``index`` (a day) with its detections."""
        from ..io import open_run

        run = run if run is not None else open_run(self.runs[index])
        self.explorer = Explorer(run, catalog=self._catalog(), width=self.width)
        self.explorer.table.grid.layout.height = "260px"
        self._set_draw(self.w_draw.value)
        self.children = [self._bar, self._help, self.w_status, self.explorer]
        self._show_status("")
        if len(self.explorer.detections):
            first = self.explorer.table.visible_rows()
            pending = [int(i) for i in first if not self.explorer.detections["review"].iloc[int(i)]]
            self.explorer.table.pick(pending[0] if pending else int(first[0]))

    # ------------------------------------------------------------------------------------------- decisions
    def _current(self):
        ex = self.explorer
        if ex.picked < 0:
            return None
        return ex.detections.iloc[ex.picked]

    def _decide(self, action: str, class_name: str | None = None) -> dict | None:
        det = self._current()
        if det is None:
            self._show_status("pick a detection in the table first")
            return None
        key = str(det["key"])
        if key.startswith("added|"):
            self._show_status("an added event: draw it again to change it")
            return None
        entry = self.store.decide(key, action, class_name=class_name)
        text = {"accept": "accepted", "reject": "rejected"}.get(action, f"relabelled → {class_name}")
        self.explorer.table.set_review(self.explorer.picked, text)
        self._show_status(f"saved: {html.escape(det['class_name'])} at {html.escape(det['start_text'])} {text}")
        self.explorer.table.next()
        return entry

    def accept(self) -> dict | None:
        """Accept the picked detection (saved at once); then show the next one."""
        return self._decide("accept")

    def reject(self) -> dict | None:
        """Reject the picked detection (saved at once); then show the next one."""
        return self._decide("reject")

    def relabel(self, class_name: str) -> dict | None:
        """Relabel the picked detection to ``class_name`` (saved at once); then show the next one."""
        return self._decide("relabel", class_name=class_name)

    def add(self, t0: float, t1: float, class_name: str | None = None) -> dict:
        """Add a missed event from ``t0`` to ``t1`` (s on the shown record's axis) of ``class_name`` (default the
        class chosen in the page), saved at once and listed in the table."""
        ex = self.explorer
        cls = class_name or self.w_class.value
        start = ex.reader.starttimes[ex.event] if ex.reader.starttimes is not None else None
        if start is None:
            raise ValueError("ReviewPage.add needs a run with a UTC 'starttime' (a monitor capture run).")
        seed = ex.reader.trace_ids[ex.event] if ex.reader.trace_ids else ""
        utc = [pd.Timestamp(start).tz_localize("UTC") + pd.Timedelta(seconds=float(t)) for t in (t0, t1)]
        entry = self.store.decide("", "add", class_name=cls, start=utc[0], end=utc[1], seed_id=seed)
        row = pd.DataFrame({"seed_id": [seed], "class_name": [cls], "start": [utc[0]], "end": [utc[1]],
                            "p_mean": [float("nan")], "key": [entry["key"]], "review": ["added"]})
        positions = ex.add_detections(row)
        if positions:
            ex.table.mark(positions[0])
            ex.show_detection(positions[0])
        self._show_status(f"saved: added {html.escape(cls)} at {html.escape(str(utc[0]))[:22]}")
        self.w_draw.value = False
        return entry

    def _set_draw(self, on: bool) -> None:
        if self.explorer is not None:
            self.explorer.on_brush_interval = (lambda a, b: self.add(a, b)) if on else None

    def on_key(self, key: str) -> None:
        """What a key does (see the module docstring)."""
        if key == "a":
            self.accept()
        elif key == "r":
            self.reject()
        elif key == "n":
            self.explorer.table.next()
        elif key == "p":
            self.explorer.table.previous()
        elif key == "d":
            self.w_draw.value = not self.w_draw.value
        elif key.isdigit() and 1 <= int(key) <= len(self.class_names):
            self.relabel(self.class_names[int(key) - 1])

    def _show_status(self, message: str) -> None:
        status = self.store.status()
        done = sum(1 for s in status if s)
        self.w_status.value = (f'<div class="rnnscope-review-status" style="font-size:12px">{done} of {len(status)} '
                               f"detections reviewed, {len(self.store.added())} added · saved to "
                               f"{html.escape(str(self.store.reviewed_csv))}"
                               + (f" · <b>{message}</b>" if message else "") + "</div>")

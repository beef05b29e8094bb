"""The review page: an analyst accepts, rejects or relabels the monitor's detections and draws missed ones.

Built from the Explorer (same views, same detection table) on the capture runs of a monitor output folder; every
decision is saved at once by :class:`~rnnscope.review.ReviewStore`. Keys (anywhere on the page in Voila; in
JupyterLab while the pointer is over it): ``a`` accept, ``r`` reject (remove, for a drawn event), ``1`` ... ``9``
relabel to the n-th class, ``n`` / ``p`` next / previous detection, ``d`` draw mode (then drag on the unit-lines
view to add a missed event of the class chosen in the "class" menu, never the background class). After a decision
the next detection of the table (as filtered) is shown, and the table scrolls to it.

Beside the buttons: the current detection's class, UTC time, probability, channel and decision. The table sits
beside the views when the page is wide enough (1920 px screens), under them otherwise; it lists every detection of
the folder, also those whose channel or day has no capture run (picking one opens the run that holds it, if any,
else nothing moves: it can still be decided). Decisions made in other tabs appear within a second (the page polls
the decisions file through its heartbeat, :mod:`rnnscope.review._live`); a decision made on a state another tab has
changed is refused with a message naming the other tab's decision. A page whose server stopped says so and takes no
input. Errors never show a traceback in the page: a plain message there, the traceback in the server's log.
"""
from __future__ import annotations

import functools
import html
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np
import pandas as pd

from .._validation import stored_background
from ..errors import ReviewConflictError
from ..widgets import Explorer
from ..widgets._keys import KeyBindings
from ._live import Heartbeat
from ._store import ReviewStore, describe, entry_id

if TYPE_CHECKING:
    from ..widgets._table import DetectionTable

__all__ = ["ReviewPage", "find_runs", "open_page"]

log = logging.getLogger("rnnscope.review")
_TABLE_WIDTH = 700  # px of the table column beside the views (its columns at their widths)
_VIEWS_MIN = 760  # px the views need beside it (else the table goes under them)


def find_runs(folder, *, capture_store=None) -> list[Path]:
    """The capture runs (``*.zarr``) of a monitor output folder: in ``capture_store`` when given, else every run
    ``monitor.json`` (written by ``rnnscope monitor --capture``) lists that exists, else those in ``folder/capture``
    or ``folder``. (A monitor capture is a run per UTC day and stretch of data, per station: all of them are
    reviewed, not only the first one listed.)

    Parameters
    ----------
    folder : str or os.PathLike
        A monitor's output folder (``rnnscope monitor ... --out folder``).
    capture_store : str or os.PathLike, optional
        A run, or a folder of runs, to use instead.

    Returns
    -------
    list of pathlib.Path
        The runs of the first place that holds any, sorted by name within a folder; empty when there is none.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("XX.EAST..HHZ_2024-03-02.zarr", "XX.DEMO..HHZ_2024-03-01.zarr"):
    ...     (folder / "capture" / name).mkdir(parents=True)
    >>> [run.name for run in find_runs(folder)]
    ['XX.DEMO..HHZ_2024-03-01.zarr', 'XX.EAST..HHZ_2024-03-02.zarr']
    >>> one = folder / "capture" / "XX.EAST..HHZ_2024-03-02.zarr"
    >>> [run.name for run in find_runs(folder, capture_store=one)]
    ['XX.EAST..HHZ_2024-03-02.zarr']
    >>> find_runs(tempfile.mkdtemp())  # no run anywhere
    []
    """
    folder = Path(folder)
    places: list[list[Path]] = []
    if capture_store is not None:
        places.append([Path(capture_store)])
    manifest = folder / "monitor.json"
    if manifest.exists():
        info = json.loads(manifest.read_text())
        stores = info.get("capture_store") or []
        places.append([Path(p) for p in ([stores] if isinstance(stores, str) else stores)])
    places += [[folder / "capture"], [folder]]
    for paths in places:
        runs = []
        for place in paths:
            if place.suffix == ".zarr" and place.is_dir():
                runs.append(place)
            elif place.is_dir():
                runs += sorted(p for p in place.glob("*.zarr") if p.is_dir())
        if runs:
            return runs
    return []


def open_page(folder, *, capture_store=None, **kwargs) -> widgets.Widget:
    """The :class:`ReviewPage` of ``folder``, or when it cannot open a plain message saying why and what to do (the
    traceback goes to the ``rnnscope.review`` log: the server's terminal under ``rnnscope review``). What the served
    page shows: never a traceback.

    Parameters
    ----------
    folder : str or os.PathLike
        A monitor's output folder (``rnnscope monitor ... --out folder``).
    capture_store : str or os.PathLike, optional
        Where the monitor wrote its capture runs (``--capture``); default: found in ``folder``.
    **kwargs
        Passed to :class:`ReviewPage` (e.g. ``width``).

    Returns
    -------
    ipywidgets.Widget
        The review page, or an HTML widget with the message.

    Examples
    --------
    >>> import tempfile
    >>> print(open_page(tempfile.mkdtemp()).value)  # doctest: +ELLIPSIS
    <div class="rnnscope-review-error" ...>The review page cannot open: The review folder ... has no detections.csv; ...
    """
    try:
        return ReviewPage(folder, capture_store=capture_store, **kwargs)
    except Exception as err:  # noqa: BLE001 - shown as a message, logged with its traceback
        log.exception("review page for %s could not open", folder)
        text = str(err) if isinstance(err, (FileNotFoundError, ValueError, OSError)) else (
            f"{type(err).__name__}: {err}")
        return widgets.HTML(f'<div class="rnnscope-review-error" style="font-size:14px;max-width:900px;'
                            f'padding:12px;border:1px solid #b00020;background:#fff3f3">The review page cannot '
                            f"open: {html.escape(text)}</div>")


def _guarded(method):
    """Run a page action; an error becomes a plain message on the page and a traceback in the log."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except ReviewConflictError as err:
            self.sync(force=True)
            self._show_status(html.escape(str(err)), error=True)
        except Exception as err:  # noqa: BLE001 - the page must stay usable; the log has the traceback
            log.exception("review page: %s failed", method.__name__)
            self._show_status(f"{html.escape(type(err).__name__)}: {html.escape(str(err))} (nothing was saved; "
                              "the server's log has the details)", error=True)
        return None
    return run


class ReviewPage(widgets.VBox):
    """An analyst's page on a monitor output folder: the Explorer, its detection table and decision buttons.

    Parameters
    ----------
    folder : path
        Output folder of ``rnnscope monitor`` (``detections.csv``; decisions and the reviewed catalog go there).
    capture_store : path, optional
        Folder of the capture runs (default: see :func:`find_runs`).
    width : int, optional
        Fixed width of the views in pixels (default: the page's).

    Raises
    ------
    FileNotFoundError
        The folder has no ``detections.csv``, or no capture run (:func:`open_page` shows a plain message instead).

    Examples
    --------
    >>> page = ReviewPage.__new__(ReviewPage)  # built on a real folder in tests/test_widgets.py
    >>> sorted(ReviewPage.KEYS)[:3]
    ['1', '2', '3']
    """

    #: the keys the page reacts to
    KEYS = ("a", "r", "n", "p", "d") + tuple(str(i) for i in range(1, 10))

    def __init__(self, folder, *, capture_store=None, width: int | None = None):
        from ..io import open_run

        self.folder = Path(folder)
        if not (self.folder / "detections.csv").exists():
            raise FileNotFoundError(f"The review folder {self.folder} has no detections.csv; pass the --out folder of "
                                    "`rnnscope monitor`.")
        self.runs = find_runs(self.folder, capture_store=capture_store)
        if not self.runs:
            raise FileNotFoundError(
                f"The review folder {self.folder} has no capture runs (*.zarr): `rnnscope monitor` writes them only "
                "with --capture DIR. Run `rnnscope monitor MODEL ARCHIVE --out OUT --capture OUT/capture` (or pass "
                "the runs' folder: `rnnscope review OUT --capture DIR`).")
        self.width = width
        first = open_run(self.runs[0])
        self.store = ReviewStore(self.folder, class_names=list(first.attrs["class_names"]))
        self.class_names = self.store.class_names
        #: the run's background class (never the default class of a drawn event)
        self.background = stored_background(first.attrs)
        self._seen: dict[str, str | None] = {}  # detection id -> the decision id this page shows (None: none)
        self._stamp: tuple | None = None  # the decisions file's stamp last read
        # (run index, seed id, UTC start, UTC end) of every record, when needed
        self._spans: list[tuple[int, str, pd.Timestamp, pd.Timestamp]] | None = None
        self._build_controls()
        super().__init__(layout=widgets.Layout(width="100%"))
        self.add_class("rnnscope-review")
        self.explorer: Explorer | None = None
        self.run_index = 0
        self.show_run(0, run=first)

    @property
    def _shown(self) -> Explorer:
        """The Explorer of the run shown (``show_run`` sets it; ``__init__`` shows the first run)."""
        assert self.explorer is not None  # set by __init__'s show_run
        return self.explorer

    @property
    def _table(self) -> DetectionTable:
        """The shown Explorer's detection table (there is one: the page always gives it a catalog)."""
        table = self._shown.table
        assert table is not None  # Explorer(catalog=...) always builds its table
        return table

    # ------------------------------------------------------------------------------------------- layout
    def _build_controls(self) -> None:
        self.w_run = widgets.Dropdown(
            options=[(p.stem, i) for i, p in enumerate(self.runs)],
            value=0,
            description="day",
            style={"description_width": "32px"},
            layout=widgets.Layout(width="330px", display="" if len(self.runs) > 1 else "none"),
        )
        self.w_run.observe(lambda c: self.show_run(c["new"]) if c["new"] != self.run_index else None, names="value")
        #: the current detection: class, UTC time, probability, channel, decision
        self.w_current = widgets.HTML(layout=widgets.Layout(min_width="360px"))
        self.w_accept = widgets.Button(description="accept (a)", button_style="success",
                                       layout=widgets.Layout(width="100px"))
        self.w_reject = widgets.Button(description="reject (r)", button_style="danger",
                                       layout=widgets.Layout(width="100px"))
        events = [c for c in self.class_names if c != self.background] or list(self.class_names)
        #: the class of a relabel and of a drawn event (the page's one "class" menu)
        self.w_class = widgets.Dropdown(options=self.class_names, value=events[0], description="class",
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
        self.heartbeat = Heartbeat(self.sync)
        keys = ", ".join(f"<b>{i + 1}</b> {html.escape(c)}" for i, c in enumerate(self.class_names[:9]))
        self._help = widgets.HTML(f'<div style="font-size:12px;color:#444">keys: <b>a</b> accept · <b>r</b> reject '
                                  f"(remove a drawn event) · <b>1</b>-<b>9</b> relabel to {keys} · <b>n</b>/<b>p</b> "
                                  "next/previous · <b>d</b> draw a missed event of the chosen class</div>")
        self._bar = widgets.HBox([self.w_run, self.w_current, self.w_accept, self.w_reject, self.w_class,
                                  self.w_relabel, self.w_draw, self.key_bindings, self.heartbeat],
                                 layout=widgets.Layout(flex_flow="row wrap", align_items="center"))

    def _arrange(self) -> None:
        """The views, and beside them (when there is room) the table column."""
        ex = self._shown
        ex.children = tuple(c for c in ex.children if c is not ex.table)
        # side by side when both fit (the views take most of the room left), else the table under the views
        ex.layout = widgets.Layout(flex=f"10 1 {_VIEWS_MIN}px", min_width=f"{_VIEWS_MIN}px", width="auto"
                                   if self.width is None else f"{self.width + 10}px")
        self._table.grid.layout.height = "640px"
        self._table.layout = widgets.Layout(flex=f"1 1 {_TABLE_WIDTH}px", min_width="420px", margin="0 0 0 8px")
        self._main = widgets.HBox([ex, self._table], layout=widgets.Layout(flex_flow="row wrap",
                                                                         align_items="flex-start", width="100%"))
        self._main.add_class("rnnscope-review-main")
        self.children = [self._bar, self._help, self.w_status, self._main]

    # ------------------------------------------------------------------------------------------- opening
    def _catalog(self) -> pd.DataFrame:
        """The detections with their id and decision, and the added events, as the Explorer's catalog."""
        d = self.store.detections.copy()
        d["key"] = self.store.keys()
        latest = self.store.decisions()
        d["review"] = [describe(latest.get(k)) for k in d["key"]]
        added = self.store.added()
        if len(added):
            added = added.assign(review=[describe(latest.get(k)) for k in added["key"]], p_mean=float("nan"))
            d = pd.concat([d, added], ignore_index=True)
        self._seen = {k: (None if latest.get(k) is None else entry_id(latest[k])) for k in d["key"]}
        self._stamp = self.store.stamp()
        return d

    def show_run(self, index: int, run=None) -> None:
        """Show capture run ``index`` (a day) with every detection of the folder in the table."""
        from ..io import open_run

        run = run if run is not None else open_run(self.runs[index])
        self.run_index = int(index)
        self.w_run.value = int(index)
        picked = self.explorer.picked if self.explorer is not None else -1
        self.explorer = Explorer(run, catalog=self._catalog(), width=self.width, unplaced="list")
        self._table.observe(lambda _: self._show_current(), names="picked")
        self._table.on_pick = self._picked
        self._set_draw(self.w_draw.value)
        self._arrange()
        self._show_status("")
        if picked >= 0:
            self._picked(picked, switch=False)
        elif len(self._shown.detections):
            rows = self._table.visible_rows()
            review = self._shown.detections["review"].to_numpy()
            pending = [int(i) for i in rows if not review[int(i)]]
            self._table.pick(pending[0] if pending else int(rows[0]))
        self._show_current()

    def _picked(self, row: int, switch: bool = True) -> None:
        """A detection was picked (table, previous / next, after a decision): show it, opening its run when it is
        on another one."""
        ex = self._shown
        det = ex.detections.iloc[row]
        if int(det["event"]) < 0 and switch:
            index = self._run_of(det)
            if index is not None and index != self.run_index:
                self._shown.picked = int(row)
                self.show_run(index)
                return
        ex.show_detection(int(row))
        if det["class_name"] in self.class_names and det["class_name"] != self.background:
            self.w_class.value = det["class_name"]  # relabel starts from the detection's class
        self._show_current()

    def _run_of(self, det) -> int | None:
        """The capture run holding a detection listed on no record of the shown run (None: no run holds it)."""
        if len(self.runs) < 2:
            return None
        if self._spans is None:
            from ..io import open_run

            spans = []
            for i, path in enumerate(self.runs):
                run = open_run(path)
                if "starttime" not in run.coords:
                    continue
                dt = float(run["time"].values[1] - run["time"].values[0]) if run.sizes["time"] > 1 else 1.0
                for t, n, seed in zip(
                    run["starttime"].values,
                    run["length"].values,
                    run["trace_id"].values if "trace_id" in run.coords else [""] * run.sizes["event"],
                    strict=True,
                ):
                    t0 = pd.Timestamp(str(t)).tz_localize(None)
                    spans.append((i, str(seed), t0, t0 + pd.Timedelta(seconds=float(n) * dt)))
            self._spans = spans
        key = str(det.get("key", ""))
        row = self.store.detections[pd.Series(self.store.keys()) == key]
        if not len(row):
            return None
        start, seed = row["start"].iloc[0].tz_convert("UTC").tz_localize(None), str(row["seed_id"].iloc[0])
        return next((i for i, s, a, b in self._spans if s in ("", seed) and a <= start < b), None)

    # ------------------------------------------------------------------------------------------- decisions
    def _current(self):
        ex = self._shown
        if ex.picked < 0:
            return None
        return ex.detections.iloc[ex.picked]

    def _decide(self, action: str, class_name: str | None = None) -> dict | None:
        det = self._current()
        if det is None:
            self._show_status("pick a detection in the table first", error=True)
            return None
        key = str(det["key"])
        if key.startswith("added|") and action in ("accept", "reject"):
            if action == "accept":
                self._show_status("a drawn event is kept as drawn: relabel it, or reject (r) to remove it")
                return None
            action = "remove"
        entry = self.store.decide(key, action, class_name=class_name, basis=self._seen.get(key))
        self._seen[key] = entry_id(entry)
        self._stamp = None  # read the file again at the next beat (it changed)
        text = describe(entry)
        self._table.set_review(self._shown.picked, text)
        self._show_status(f"saved: {html.escape(det['class_name'])} at {html.escape(det['start_text'])} {text}")
        self._table.next()
        self._show_current()
        return entry

    @_guarded
    def accept(self) -> dict | None:
        """Accept the picked detection (saved at once); then show the next one."""
        return self._decide("accept")

    @_guarded
    def reject(self) -> dict | None:
        """Reject the picked detection, or remove the picked drawn event (saved at once); then show the next one."""
        return self._decide("reject")

    @_guarded
    def relabel(self, class_name: str) -> dict | None:
        """Relabel the picked detection (or drawn event) to ``class_name`` (saved at once); then show the next
        one."""
        return self._decide("relabel", class_name=class_name)

    def add(self, t0: float, t1: float, *, class_name: str | None = None) -> dict:
        """Add a missed event from ``t0`` to ``t1`` (s on the shown record's axis) of ``class_name`` (default the
        class chosen in the page; never the background class), saved at once and listed in the table."""
        ex = self._shown
        cls = class_name or self.w_class.value
        if cls == self.background:
            raise ValueError(f"ReviewPage.add: a missed event of the background class {cls!r} is no event; choose "
                             f"its class in the 'class' menu (one of {[c for c in self.class_names if c != cls]}).")
        start = ex.reader.starttimes[ex.event] if ex.reader.starttimes is not None else None
        if start is None:
            raise ValueError("ReviewPage.add needs a run with a UTC 'starttime' (a monitor capture run).")
        seed = ex.reader.trace_ids[ex.event] if ex.reader.trace_ids else ""
        utc = [pd.Timestamp(start).tz_localize("UTC") + pd.Timedelta(seconds=float(t)) for t in (t0, t1)]
        entry = self.store.decide("", "add", class_name=cls, start=utc[0], end=utc[1], seed_id=seed)
        self._seen[entry["key"]] = entry_id(entry)
        self._stamp = None
        self._place_added(entry)
        self._show_status(f"saved: added {html.escape(cls)} at {html.escape(str(utc[0]))[:22]}")
        self.w_draw.value = False
        return entry

    def _place_added(self, entry: dict) -> None:
        ex = self._shown
        row = pd.DataFrame({"seed_id": [entry.get("seed_id", "")], "class_name": [entry["class_name"]],
                            "start": [pd.Timestamp(entry["start"])], "end": [pd.Timestamp(entry["end"])],
                            "p_mean": [float("nan")], "key": [entry["key"]], "review": ["added"]})
        positions = ex.add_detections(row)
        if positions:
            self._table.mark(positions[0])
            ex.show_detection(positions[0])
            self._show_current()

    @_guarded
    def _draw(self, t0: float, t1: float) -> dict | None:
        return self.add(t0, t1)

    def _set_draw(self, on: bool) -> None:
        if self.explorer is not None:
            self._shown.on_brush_interval = self._draw if on else None
        if on and self.w_class.value == self.background:
            self._show_status(f"choose the class of the missed event in the 'class' menu first (not "
                              f"{html.escape(str(self.background))}, the background class)", error=True)

    @_guarded
    def on_key(self, key: str) -> None:
        """What a key does (see the module docstring)."""
        if key == "a":
            self.accept()
        elif key == "r":
            self.reject()
        elif key == "n":
            self._table.next()
        elif key == "p":
            self._table.previous()
        elif key == "d":
            self.w_draw.value = not self.w_draw.value
        elif key.isdigit() and 1 <= int(key) <= len(self.class_names):
            self.relabel(self.class_names[int(key) - 1])

    # ------------------------------------------------------------------------------------------- other pages
    def sync(self, force: bool = False) -> int:
        """Show the decisions other pages saved since this page last looked (when the decisions file changed, or
        ``force``); returns how many rows changed. Called at every heartbeat (about every 0.4 s)."""
        stamp = self.store.stamp()
        if not force and stamp == self._stamp:
            return 0
        self._stamp = stamp
        entries = self.store.log()
        latest = self.store.decisions(entries)
        ex = self._shown
        positions = {k: i for i, k in enumerate(ex.detections["key"].astype(str))} if "key" in ex.detections else {}
        changed = 0
        for key, entry in latest.items():
            ident = entry_id(entry)
            if self._seen.get(key, "?") == ident:
                continue
            self._seen[key] = ident
            if key in positions:
                self._table.set_review(positions[key], describe(entry))
                changed += 1
            elif entry["action"] == "add":
                self._place_added(entry)
                changed += 1
        if "added|" in "".join(positions):  # drawn events relabelled elsewhere: their class too
            classes = self.store.added(entries).set_index("key")["class_name"]
            for key, pos in positions.items():
                if key in classes.index and ex.detections.at[pos, "class_name"] != classes[key]:
                    ex.detections.at[pos, "class_name"] = classes[key]
        if changed:
            self._show_status(f"{changed} decision(s) from another page shown")
            self._show_current()
        return changed

    # ------------------------------------------------------------------------------------------- status
    def _show_current(self) -> None:
        """The current detection beside the buttons: class, UTC time, probability, channel and decision."""
        det = self._current()
        if det is None:
            self.w_current.value = '<span class="rnnscope-review-current">no detection picked</span>'
            return
        p = float(det["probability"])
        where = "" if int(det["event"]) >= 0 else " · <i>no capture run holds it: decide from the table</i>"
        review = str(det.get("review", "") or "undecided")
        is_added = str(det.get("key", "")).startswith("added|")
        self.w_reject.description = "remove (r)" if is_added else "reject (r)"
        self.w_current.value = (
            f'<span class="rnnscope-review-current" style="font-size:13px">#{int(self._shown.picked)} '
            f"<b>{html.escape(str(det['class_name']))}</b> · {html.escape(str(det['start_text']))}"
            f"{' UTC' if bool(det.get('utc', False)) else ''} · "
            + (f"p {p:.2f}" if np.isfinite(p) else "drawn") + f" · {html.escape(str(det['station']))} · "
            f"<b>{html.escape(review)}</b>{where}</span>")

    def _show_status(self, message: str, error: bool = False) -> None:
        status = self.store.status()
        done = sum(1 for s in status if s)
        color = "#b00020" if error else "#222"
        self.w_status.value = (f'<div class="rnnscope-review-status" style="font-size:12px">{done} of {len(status)} '
                               f"detections reviewed, {len(self.store.added())} added · saved to "
                               f"{html.escape(str(self.store.reviewed_csv))} (rejections: "
                               f"{html.escape(self.store.rejected_csv.name)})"
                               + (f' · <b class="rnnscope-review-message" style="color:{color}">{message}</b>'
                                  if message else "") + "</div>")

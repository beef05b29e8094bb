"""The detection table: a sortable grid (ipydatagrid) with filters and previous / next, for the Explorer.

Rows are the placed detections (:func:`rnnscope.widgets._detections.place_detections`): class, station, UTC start
(seconds when the run has no ``starttime``), duration, probability and, on the review page, the analyst's
decision. Filters: class ("show"), station, probability range and "in view" (only detections overlapping the shown
time range). A click on a row picks it (also a second click on the same row), the arrow keys move the grid's selection
and pick the row under it, and "previous" / "next" step through the filtered rows in time order and scroll the grid
to the row they pick (as does a row picked elsewhere: :meth:`DetectionTable.mark`). Picking calls
``on_pick(position)`` (the Explorer zooms to it and marks it on every view).
"""
from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets

from .._validation import require
from ._gridscroll import GridScroller

__all__ = ["DetectionTable", "COLUMNS"]

#: columns shown, in order (``review`` only when the detections carry it)
COLUMNS = ("class", "station", "start (UTC)", "duration (s)", "probability", "review")  # "start" in s without UTC


class DetectionTable(widgets.VBox):
    """A filterable, sortable list of detections with previous / next.

    Parameters
    ----------
    detections : pandas.DataFrame
        Placed detections: ``class_name``, ``station``, ``start_text``, ``duration_s``, ``probability``, ``event``,
        ``t0``, ``t1`` and optionally ``review``; row positions are their ids.
    on_pick : callable
        Called with the position of the picked detection.
    view_range : callable, optional
        Returns ``(event, t0, t1)`` of the shown view (for the "in view" filter).

    Examples
    --------
    >>> d = pd.DataFrame({"class_name": ["LP", "VTE", "LP"], "station": ["A", "A", "B"], "event": [0, 0, 0],
    ...                   "start_text": ["00:00:10", "00:01:00", "00:02:00"], "t0": [10.0, 60.0, 120.0],
    ...                   "t1": [20.0, 62.0, 130.0], "duration_s": [10.0, 2.0, 10.0], "probability": [0.9, 0.6, 0.8]})
    >>> picked = []
    >>> table = DetectionTable(d, on_pick=picked.append)
    >>> table.w_class.value = "LP"; table.visible_rows().tolist()
    [0, 2]
    >>> table.next(); table.next(); table.previous(); picked
    [0, 2, 0]
    """

    #: position (in the detections) of the picked row; -1 before any pick
    picked = traitlets.Int(-1)

    def __init__(self, detections: pd.DataFrame, on_pick, view_range=None, height: int = 230):
        super().__init__()
        self.detections = detections.reset_index(drop=True)
        self.on_pick = on_pick
        self.view_range = view_range
        self._frame = self._display_frame(self.detections)
        classes = sorted(set(self.detections["class_name"])) if len(self.detections) else []
        stations = sorted(set(self.detections["station"])) if len(self.detections) else []
        short = widgets.Layout(width="auto")
        self.w_class = widgets.Dropdown(options=[("all classes", "")] + [(c, c) for c in classes], value="",
                                        description="show", style={"description_width": "38px"},
                                        layout=widgets.Layout(width="150px"))
        self.w_station = widgets.Dropdown(options=[("all stations", "")] + [(s, s) for s in stations], value="",
                                          description="station", style={"description_width": "48px"},
                                          layout=widgets.Layout(width="170px"))
        self.w_prob = widgets.FloatRangeSlider(value=(0.0, 1.0), min=0.0, max=1.0, step=0.05,
                                               description="probability", readout_format=".2f",
                                               continuous_update=False, style={"description_width": "72px"},
                                               layout=widgets.Layout(width="290px"))
        self.w_in_view = widgets.Checkbox(value=False, description="in view only", indent=False, layout=short)
        self.w_prev = widgets.Button(description="◀ previous", tooltip="previous detection (time order)",
                                     layout=widgets.Layout(width="95px"))
        self.w_next = widgets.Button(description="next ▶", tooltip="next detection (time order)",
                                     layout=widgets.Layout(width="80px"))
        self.w_count = widgets.HTML()
        self.w_prev.on_click(lambda _: self.previous())
        self.w_next.on_click(lambda _: self.next())
        for w in (self.w_class, self.w_station, self.w_prob, self.w_in_view):
            w.observe(lambda _: self.refresh(), names="value")
        self.grid = self._make_grid(height)
        #: scrolls the grid to the row picked by previous / next (the browser does not follow a selection)
        self.scroller = GridScroller(row_px=22)
        self.children = [widgets.HBox([self.w_class, self.w_station, self.w_prob, self.w_in_view, self.w_prev,
                                       self.w_next, self.w_count],
                                      layout=widgets.Layout(flex_flow="row wrap", align_items="center")),
                         self.grid, self.scroller]
        self.add_class("rnnscope-detections")
        self._rows = np.arange(len(self.detections))
        self._rank = time_rank(self.detections)
        self._syncing = False
        self.refresh()

    # ------------------------------------------------------------------------------------------- content
    @staticmethod
    def _display_frame(d: pd.DataFrame) -> pd.DataFrame:
        frame = pd.DataFrame({
            "class": d["class_name"].astype(str).to_numpy(),
            "station": d["station"].astype(str).to_numpy(),
            _start_column(d): d["start_text"].astype(str).to_numpy(),
            "duration (s)": np.round(d["duration_s"].to_numpy(dtype=float), 1),
            "probability": np.round(d["probability"].to_numpy(dtype=float), 3),
        }, index=pd.RangeIndex(len(d), name="#"))
        if "review" in d.columns:
            frame["review"] = d["review"].astype(str).to_numpy()
        return frame

    def _make_grid(self, height):
        DataGrid = require("ipydatagrid", extra="review", what="The Explorer's detection table (catalog=)").DataGrid

        grid = DataGrid(self._frame, selection_mode="row", editable=False, base_row_size=22,
                        base_column_size=90, column_widths={"#": 50, "class": 64, "station": 80,
                                                            _start_column(self.detections): 180, "review": 130},
                        layout=widgets.Layout(height=f"{height}px", width="100%"))
        grid.on_cell_click(self._on_click)
        grid.observe(self._on_selection, names="selections")
        return grid

    def set_review(self, position: int, text: str) -> None:
        """Show the analyst's decision on detection ``position`` (one cell is sent, not the table)."""
        if "review" not in self.detections.columns:
            self.detections["review"] = ""
            self._frame = self._display_frame(self.detections)
            self.refresh()
        self.detections.loc[position, "review"] = text
        self._frame.loc[position, "review"] = text
        if position in set(self._rows.tolist()):
            self.grid.set_cell_value("review", position, text)

    def append(self, placed: pd.DataFrame) -> list[int]:
        """Add placed detections (e.g. a missed event the analyst drew); returns their positions."""
        start = len(self.detections)
        self.detections = pd.concat([self.detections, placed], ignore_index=True)
        self._frame = self._display_frame(self.detections)
        self._rank = time_rank(self.detections)
        self.refresh()
        return list(range(start, len(self.detections)))

    def visible_rows(self) -> np.ndarray:
        """Positions of the detections that pass the filters, in time order."""
        d = self.detections
        keep = np.ones(len(d), bool)
        if self.w_class.value:
            keep &= (d["class_name"] == self.w_class.value).to_numpy()
        if self.w_station.value:
            keep &= (d["station"] == self.w_station.value).to_numpy()
        lo, hi = self.w_prob.value
        if (lo, hi) != (0.0, 1.0):
            p = d["probability"].to_numpy(dtype=float)
            keep &= np.isnan(p) | ((p >= lo - 1e-9) & (p <= hi + 1e-9))
        if self.w_in_view.value and self.view_range is not None:
            event, t0, t1 = self.view_range()
            keep &= ((d["event"] == event) & (d["t1"] > t0) & (d["t0"] < t1)).to_numpy()
        rows = np.flatnonzero(keep)
        return rows[np.argsort(self._rank[rows], kind="stable")]

    def refresh(self) -> None:
        """Apply the filters to the grid."""
        self._rows = self.visible_rows()
        self._syncing = True
        try:
            self.grid.data = self._frame.iloc[self._rows]
            self.grid.clear_selection()
            self._select_picked()
        finally:
            self._syncing = False
        self.w_count.value = (f'<span style="font-size:12px;color:#444">{len(self._rows)} of '
                              f"{len(self.detections)} detections</span>")
        if self.on_rows is not None:
            self.on_rows()

    #: called after the filters changed the rows (the Explorer reads ahead what previous / next lead to)
    on_rows: Callable[[], None] | None = None

    # ------------------------------------------------------------------------------------------- picking
    def mark(self, position: int) -> None:
        """Select detection ``position`` in the grid and scroll to it, without calling ``on_pick`` (it was picked
        elsewhere)."""
        self.picked = int(position)
        self._syncing = True
        try:
            self._select_picked()
        finally:
            self._syncing = False
        self.scroll_to_picked()

    def scroll_to_picked(self) -> None:
        """Scroll the grid to the picked row (when the filters show it)."""
        where = np.flatnonzero(self._rows == self.picked)
        if where.size:
            self.scroller.show(int(where[0]))

    def pick(self, position: int, *, scroll: bool = False) -> None:
        """Pick detection ``position`` (always calls ``on_pick``, also for the row already picked); ``scroll``:
        scroll the grid to it first (the browser scrolls the grid, a forced layout and a repaint of its canvas,
        while the kernel renders the views, instead of in the frame that shows them)."""
        self.picked = int(position)
        self._syncing = True
        try:
            self._select_picked()
        finally:
            self._syncing = False
        if scroll:
            self.scroll_to_picked()
        self.on_pick(int(position))

    def _select_picked(self) -> None:
        where = np.flatnonzero(self._rows == self.picked)
        if where.size:
            self.grid.select(int(where[0]), 0, int(where[0]), len(self._frame.columns) - 1, clear_mode="all")

    def step(self, by: int) -> None:
        """Pick the filtered row ``by`` rows after (before, when negative) the picked one, in time order."""
        row = self.target(by)
        if row is not None:
            self.pick(row, scroll=True)

    def target(self, by: int) -> int | None:
        """The detection :meth:`step` (``by``) would pick (None when the filters show none)."""
        rows = self._rows
        if not rows.size:
            return None
        where = np.flatnonzero(rows == self.picked)
        if where.size:
            i = int(np.clip(where[0] + by, 0, rows.size - 1))
        else:  # the picked row is filtered out (or none yet): the first row after (before) it in time
            ranks = self._rank[rows]
            if self.picked < 0:
                i = 0 if by > 0 else rows.size - 1
            elif by > 0:
                after = np.flatnonzero(ranks > self._rank[self.picked])
                i = int(after[0]) if after.size else rows.size - 1
            else:
                before = np.flatnonzero(ranks < self._rank[self.picked])
                i = int(before[-1]) if before.size else 0
        return int(rows[i])

    def next(self) -> None:
        """Pick the next filtered detection."""
        self.step(1)

    def previous(self) -> None:
        """Pick the previous filtered detection."""
        self.step(-1)

    def _on_click(self, info) -> None:
        if info.get("region") != "body":
            return
        key = info.get("primary_key_row")
        row = int(key) if key is not None else int(info.get("row", -1))
        if 0 <= row < len(self._rows):
            self.pick(int(self._rows[row]))

    def _on_selection(self, change) -> None:
        """The grid's selection moved in the browser (arrow keys): pick its first row."""
        if self._syncing or not change["new"]:
            return
        row = int(change["new"][0].get("r1", -1))
        if 0 <= row < len(self._rows) and int(self._rows[row]) != self.picked:
            self.pick(int(self._rows[row]))


def _start_column(d: pd.DataFrame) -> str:
    """The start column's title: ``start (UTC)`` when every start is a UTC time, else ``start`` (times in s say so)."""
    utc = d["utc"].to_numpy(dtype=bool) if "utc" in d.columns else np.zeros(0, bool)
    return "start (UTC)" if utc.size and utc.all() else "start"


def time_rank(d: pd.DataFrame) -> np.ndarray:
    """Each detection's place in time order: by UTC start (``when``) when every row has one (also rows on no
    record of the run), else by record and start (s).

    Examples
    --------
    >>> time_rank(pd.DataFrame({"event": [1, 0, 0], "t0": [5.0, 9.0, 2.0]})).tolist()
    [2, 1, 0]
    """
    when = d["when"].to_numpy(dtype=float) if "when" in d.columns else np.full(len(d), np.nan)
    if len(d) and np.isfinite(when).all():
        order = np.argsort(when, kind="stable")
    else:
        order = np.lexsort((d["t0"].to_numpy(dtype=float), d["event"].to_numpy()))
    rank = np.empty(len(d), dtype=np.int64)
    rank[order] = np.arange(len(d))
    return rank


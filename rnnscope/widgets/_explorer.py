"""The Explorer: waveform, spectrogram, class probabilities, activation heatmap and unit time series of one
record, on one time axis, with a table of detections.

Linking: the figures share ONE :class:`bqplot.LinearScale` for time (``Explorer.time_scale``), in seconds from
the record start. Panning or zooming the waveform, the spectrogram or the probabilities (a :class:`bqplot.PanZoom`
restricted to that scale) or brushing an interval in the time-series view moves all of them at once in the
browser, and the new range comes back to Python as the ``time_range`` traitlet. The heatmap figure has no
interaction of its own, so that a click on a unit row reaches its image mark. When the run knows its records'
UTC start (``starttime``), every axis, readout and list shows UTC (``time_format="seconds"`` switches to seconds
from the record start).

Rendering: nothing is sent per frame (see :mod:`rnnscope.widgets._views`). A change of ``time_range`` from the
browser renders at once when the views are idle and at most once per ``debounce`` seconds during a drag or a run
of wheel steps, the last range always rendered (:class:`~rnnscope.widgets._debounce.Debouncer`);
:meth:`Explorer.render_now` renders at once.
"""
from __future__ import annotations

import logging
import warnings

import ipywidgets as widgets
import numpy as np
import traitlets

from ..errors import AttributionError, NoBackgroundWarning
from . import _summaries as summaries
from ._debounce import Debouncer
from ._detections import place_detections
from ._drawing import _readout_html
from ._figures import MARGIN, SIDE_WIDTH, UNIT_COLORS, _FigureBuilder
from ._source import RunReader
from ._views import _Views
from ._width import WidthProbe

__all__ = ["Explorer", "UNIT_COLORS"]

log = logging.getLogger("rnnscope.widgets")
_DEFAULT_WIDTH = 1600  # px of a figure rendered for until the browser reports the page's width (and at most)


def _plot_px(views_px: int) -> int:
    """Width of a figure's plot area: the views' width less the side column and the figure's margins."""
    return views_px - SIDE_WIDTH - MARGIN["left"] - MARGIN["right"]


class Explorer(_FigureBuilder, _Views, widgets.VBox):
    """Linked views of one record of a run: waveform with class bands and P/S arrivals, spectrogram, class
    probabilities, activation heatmap (units x time) and time series of selected units; with a catalog, a table
    of its detections.

    Parameters
    ----------
    run : xarray.Dataset
        A run, in memory or opened lazily with :func:`rnnscope.open_run` (only what is shown is read).
    event : int
        Record shown first (position along ``event``).
    var : str
        State variable of the heatmap and the lines (``h``, ``c``, a gate, ...).
    layer : int
        Layer shown.
    unit_order : {"index", "activity", "specialisation"}
        Row order of the heatmap.
    width : int, optional
        Width of the views in pixels (each figure and the colour bar or blank column to its right); None (default)
        follows the page. Images are rendered with two columns
        per pixel of the plot area and lines with one point per pixel: of ``width``, or when None of the width
        the browser reports for the Explorer (1600 px until it reports, and at most that).
    debounce : float
        Smallest interval (s) between two renders during a pan, zoom or drag (0 renders on every message); a
        single interaction after a pause renders at once.
    initial_frames : int, optional
        Open records on a window of this many frames around their main segment. Default: the whole record (for
        a day-long monitor run: the day).
    prefetch : bool
        For a record too long to read whole at every zoom, build its overview (min/max per block of frames) in a
        background thread as soon as it opens, so that zooming out later reads nothing.
    catalog : pandas.DataFrame, optional
        A detection catalog (e.g. ``rnnscope.monitor(...).detections``, ``pandas.read_csv("detections.csv")``, or
        rows with ``event``/``event_id`` and ``start``/``end`` in s): shown as a filterable table under the
        views (:attr:`table`); picking a row shows its record zoomed on it, marked on every view
        (:meth:`show_detection`). The class is read from ``class_name`` (or ``class``, as
        :func:`rnnscope.data.read_quakeml_catalog` returns it).
    unplaced : {"drop", "list"}
        Catalog rows on no record of the run (another channel, another day): left out of the table ("drop",
        default) or listed without a record ("list": picking one marks it in the table and moves no view; the
        review page lists every detection so that all can be decided).
    waveform_source : path, optional
        For a run without waveform: an SDS root or waveform file to read the shown window from (default: the
        archive a monitor run records in ``attrs["waveform_source"]``).
    time_format : {"auto", "utc", "seconds"}
        Time labels: clock time (UTC) or seconds from the record start; ``"auto"`` (default): UTC when the run has
        ``starttime``, else seconds.
    attribute : callable, optional
        ``attribute(event_id, time, unit, layer, var) -> attribution Dataset``, e.g.
        ``rnnscope.experiments.attributor(model, run)``: a click on the heatmap then shows, under the spectrogram
        on the same time axis, the input attribution of that unit at that time (time x band) with the unit's band
        profile, memory length and gate time constant (:mod:`rnnscope.widgets._why`). Computed on demand; the
        widgets never import torch (the model's side is in the callable).
    attributions : xarray.Dataset, optional
        Saved attributions to read instead (default: the run's own ``attribution`` when it holds one; no torch).

    Examples
    --------
    >>> from rnnscope.examples import toy_long_run
    >>> ex = Explorer(toy_long_run(), width=600)  # in a notebook: rnnscope.open_run(path); ex (last line) shows it
    >>> ex.order_class, len(ex.selected_units)  # the 5 units of highest LP heat (record 0's main segment is LP)
    ('LP', 5)
    >>> ex.var = "c"; ex.unit_order = "index"
    >>> ex.heat_image._handle_custom_msgs(None, {"event": "element_click",  # what a click on row 2 sends
    ...                                          "data": {"click_x": 10.0, "click_y": 2.5}})
    >>> ex.pointer["unit"], 2 in ex.selected_units
    (2, True)
    >>> ex.time_range = (10.0, 30.0); ex.render_now()  # zoom: every view shows 10-30 s
    >>> [ex.bottom_axis.tick_labels[k] for k in ("10", "15", "20", "25")]
    ['10', '15', '20', '25']
    """

    #: position (0-based, along ``event``) of the record shown
    event = traitlets.Int(0)
    #: state variable shown in the heatmap and the unit lines, e.g. "h", "c", "forget_gate"
    var = traitlets.Unicode("h")
    #: layer shown (0-based)
    layer = traitlets.Int(0)
    #: heatmap row order: "index" (unit id), "activity" (mean |h|, descending), "specialisation" (for order_class)
    unit_order = traitlets.Enum(summaries.UNIT_ORDERS, default_value="activity")
    #: class whose specialisation orders the rows when unit_order == "specialisation"
    order_class = traitlets.Unicode("")
    #: unit ids (0-based) drawn in the time-series view, in the order they were added
    selected_units = traitlets.List(traitlets.Int())
    #: visible time range (s from the record start), shared by all views
    time_range = traitlets.Tuple(traitlets.Float(), traitlets.Float(), default_value=(0.0, 1.0))
    #: what the last click on the heatmap hit: {"unit", "rank", "time", "value"} (empty before any click)
    pointer = traitlets.Dict()
    #: time labels: "utc" (clock time, when the run has ``starttime``) or "seconds" (from the record start)
    time_format = traitlets.Enum(["utc", "seconds"], default_value="seconds")
    #: position (in :attr:`detections`) of the picked detection, marked on every view; -1 when none
    picked = traitlets.Int(-1)

    def __init__(self, run, *, event: int = 0, var: str = "h", layer: int = 0, unit_order: str = "activity",
                 width: int | None = None, debounce: float = 0.1, initial_frames: int | None = None,
                 prefetch: bool = True, catalog=None, waveform_source=None, time_format: str = "auto",
                 unplaced: str = "drop", attribute=None, attributions=None):
        self.reader = reader = RunReader(run, waveform_source=waveform_source)
        if reader.class_names and reader.background is None:
            warnings.warn(f"Explorer: the run names no background class (its attrs have no 'background' among "
                          f"{reader.class_names}), so records open on their longest segment of any class and the "
                          f"probabilities are stacked without a background band. Declare it before opening: "
                          f"run.attrs['background'] = {reader.class_names[0]!r} (or pass background= to the "
                          f"rnnscope.data reader).", NoBackgroundWarning, stacklevel=2)
        if unplaced not in ("drop", "list"):
            raise ValueError(f"The 'unplaced' of Explorer must be 'drop' or 'list'. Got {unplaced!r} instead.")
        self.run = run
        self.catalog = catalog
        self.unplaced = unplaced
        self._detections = (place_detections(catalog, reader, unplaced=unplaced) if catalog is not None
                            else None)
        self.fixed_width = None if width is None else int(width)
        self._set_plot_width(_plot_px(self.fixed_width or _DEFAULT_WIDTH))
        self.initial_frames = None if initial_frames is None else int(initial_frames)
        self.prefetch = bool(prefetch)
        self._debouncer = Debouncer(debounce, self._render_views)
        self._quiet = 0  # > 0 while observers must not render (initialisation, batched changes)
        self._robust: dict = {}
        self._trace_ranges: dict = {}  # per long trace: the (time, value) ranges its view coordinates span
        self._cols_range = (0.0, 1.0)  # the time range the state columns in self._cols were read for
        self._spec_range: dict = {}
        self._cols = None  # state columns of the current view
        self._rendered = None  # (event, time_range) the views show
        self.render_count = 0  #: renders of the views (for tests and benchmarks)
        has_utc = reader.starttimes is not None and any(t is not None for t in reader.starttimes)
        self._quiet += 1
        if time_format not in ("auto", "utc", "seconds"):
            raise ValueError(f"The 'time_format' of Explorer must be 'auto', 'utc' or 'seconds'. Got {time_format!r} "
                             "instead.")
        self.time_format = ("utc" if has_utc else "seconds") if time_format == "auto" else time_format
        self._quiet -= 1

        self._build_figures()
        self._build_controls()
        #: the attribution row under the spectrogram (a click on the heatmap explains the unit), or None
        self.why = None
        if attribute is not None or attributions is not None or "attribution" in run.data_vars:
            from ._why import WhyPanel

            self.why = WhyPanel(self, attribute=attribute, attributions=attributions)
        self.table = None
        if self.detections is not None:
            from ._table import DetectionTable

            self.table = DetectionTable(self._detections, on_pick=self._table_picked,
                                        view_range=lambda: (self.event, *self.time_range))
        views = [self._controls, self._legend_row, self._wave_row, self._spec_row]
        views += [self.why.box] if self.why is not None else []
        views += [self._prob_row] if self.fig_prob is not None else []
        views += [self._heat_row, self.w_unit_legend, self._lines_row]
        views += [self.table] if self.table is not None else []
        self._width_probe = None
        if self.fixed_width is None:  # render for the width the page gives (the browser reports it)
            self._width_probe = WidthProbe(".rnnscope-explorer")
            self._width_probe.observe(self._on_page_width, names="width_px")
            views.append(self._width_probe)
        width_css = "100%" if self.fixed_width is None else f"{self.fixed_width + 10}px"
        super().__init__(children=views, layout=widgets.Layout(width=width_css, max_width="100%"))
        self.add_class("rnnscope-explorer")

        self._quiet += 1
        self.var = self._check_variable(var)
        self.layer = layer
        self.unit_order = unit_order
        self.event = event
        self.order_class = reader.main_class(self.event)
        self.selected_units = self.preselect(self.event)
        self.time_range = self.initial_range(self.event)
        self._quiet -= 1
        self.time_scale.observe(self._on_scale, names=["min", "max"])
        self._sync_controls()
        self.render_now()

    # ------------------------------------------------------------------------------------------- width
    def _set_plot_width(self, plot_width: int) -> None:
        #: pixels of the plot area rendered for (the lines get one point per pixel)
        self.plot_width = int(plot_width)
        #: image columns rendered for the visible range (two per pixel of the plot area)
        self.n_cols = 2 * self.plot_width
        self.n_ticks = int(np.clip(self.plot_width // 130, 4, 10))

    def _on_page_width(self, change) -> None:
        """The browser reported the Explorer's width (CSS px): render for it, at most for the default 1600 px."""
        if not change["new"]:
            return
        plot = int(np.clip(_plot_px(int(change["new"])), 200, _plot_px(_DEFAULT_WIDTH)))
        if abs(plot - self.plot_width) <= 0.03 * self.plot_width:
            return
        log.debug("page width %s px: rendering for a plot of %s px", change["new"], plot)
        self._set_plot_width(plot)
        self._rendered = None
        self.render_now()

    # ------------------------------------------------------------------------------------------- public
    def preselect(self, event: int, n: int = 5) -> list[int]:
        """The ``n`` units of highest heat for the class of ``event``'s main segment (its longest segment not of the
        run's background class, else its longest segment) in the current layer."""
        cls = self.reader.main_class(event)
        units = summaries.top_units(self.reader.summary, self.layer, n=n).get(cls, []) if cls else []
        if not units:  # a class without segments in the summaries: the most active units
            units = summaries.unit_order(self.reader.summary, self.layer, "activity")[:n].tolist()
        return [int(u) for u in units]

    def initial_range(self, event: int) -> tuple[float, float]:
        """Time range shown when ``event`` opens: the whole record, or with ``initial_frames`` a window of that
        many frames around its main segment."""
        lo, hi = self.reader.record_span(event)
        if self.initial_frames is None:
            return (lo, hi)
        span = self.initial_frames * self.reader.dt
        if hi - lo <= span:
            return (lo, hi)
        seg = self.reader.main_segment(event)
        centre = lo + span / 2 if seg is None else float(seg["start"] + seg["end"]) / 2
        start = float(np.clip(centre - span / 2, lo, hi - span))
        return (start, start + span)

    def show_detection(self, row: int, pad_s: float | None = None) -> None:
        """Show detection ``row`` (position in :attr:`detections`): its record, zoomed to it with ``pad_s`` on
        each side (default: as long as the detection, at least 10 s), and mark it on every view. Always moves
        the views, also when ``row`` is already the picked one."""
        if self.detections is None or not 0 <= row < len(self.detections):
            n = 0 if self.detections is None else len(self.detections)
            raise ValueError(f"The 'row' of Explorer.show_detection must be in 0..{n - 1} (the placed detections). "
                             f"Got {row} instead.")
        det = self.detections.iloc[row]
        t0, t1 = float(det["t0"]), float(det["t1"])
        pad = max(10.0, t1 - t0) if pad_s is None else float(pad_s)
        self.picked = int(row)
        if self.table is not None and self.table.picked != row:
            self.table.mark(int(row))
        if int(det["event"]) < 0:  # listed, on no record of this run: nothing to show
            self._render_marker()
            return
        lo, hi = self.reader.record_span(int(det["event"]))
        self._quiet += 1
        try:
            self.event = int(det["event"])
            self.time_range = (max(lo, t0 - pad), min(hi, t1 + pad))
        finally:
            self._quiet -= 1
        self._sync_controls()
        self._render_marker()
        self.render_now()

    def _table_picked(self, row: int) -> None:
        self.show_detection(row)

    @property
    def detections(self):
        """The catalog's rows placed on the run's records (``event``, ``t0``, ``t1`` in s, ``class_name``, ...; None
        without a catalog); positions are the ids :meth:`show_detection` and the table use."""
        return self.table.detections if self.table is not None else self._detections

    def add_detections(self, catalog) -> list[int]:
        """Place more catalog rows (same columns as ``catalog``) and add them to the table; returns their
        positions (rows off the run's records are left out)."""
        if self.table is None:
            raise ValueError("Explorer.add_detections needs an Explorer opened with a catalog (catalog=...).")
        return self.table.append(place_detections(catalog, self.reader, unplaced=self.unplaced))

    def show_whole_record(self) -> None:
        """Zoom out to the whole record."""
        self.time_range = self.reader.record_span(self.event)

    def toggle_unit(self, unit: int) -> None:
        """Add ``unit`` to the time-series view, or remove it when it is there."""
        unit = int(unit)
        units = list(self.selected_units)
        self.selected_units = [u for u in units if u != unit] if unit in units else units + [unit]

    def show_unit(self, unit: int, *, class_name: str | None = None, layer: int | None = None) -> None:
        """Add ``unit`` to the lines; with ``class_name``, order rows by that class's specialisation and, unless
        the record shown already has that main class, open the record with the longest segment of that class."""
        with self.hold_trait_notifications():
            if layer is not None:
                self.layer = layer
            if class_name is not None:
                self.order_class = class_name
                if self.reader.main_class(self.event) != class_name:
                    event = self.reader.event_of_class(class_name)
                    if event is not None:
                        self.event = event
            if int(unit) not in self.selected_units:
                self.selected_units = list(self.selected_units) + [int(unit)]

    def render_now(self) -> None:
        """Render every view for the current state now, skipping the debounce (nothing to do when the views
        already show the current state)."""
        if self._debouncer.pending or self._rendered != self._view_key():
            self._debouncer.flush()

    def _view_key(self):
        return (self.event, tuple(self.time_range))

    @property
    def order(self) -> np.ndarray:
        """Unit ids in heatmap row order (first row at the top)."""
        return summaries.unit_order(self.reader.summary, self.layer, self.unit_order, self.order_class or None)

    @property
    def figures(self) -> list:
        """The bqplot figures on the time axis, top to bottom (the probabilities only when the run has them)."""
        prob = [self.fig_prob] if self.fig_prob is not None else []
        return [self.fig_waveform, self.fig_spectrogram] + prob + [self.fig_heatmap, self.fig_lines]

    # ------------------------------------------------------------------------------------------- validation
    def _check_variable(self, name):
        if name not in self.reader.variables:
            raise traitlets.TraitError(
                f"The 'var' of Explorer must be one of {self.reader.variables} (the state variables of this "
                f"run). Got {name!r} instead.")
        return name

    @traitlets.validate("var")
    def _valid_variable(self, proposal):
        return self._check_variable(proposal["value"])

    @traitlets.validate("event")
    def _valid_event(self, proposal):
        n = len(self.reader.lengths)
        if not 0 <= proposal["value"] < n:
            raise traitlets.TraitError(f"The 'event' of Explorer must be in 0..{n - 1}. Got {proposal['value']}.")
        return proposal["value"]

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        n = self.reader.n_layers
        if not 0 <= proposal["value"] < n:
            raise traitlets.TraitError(f"The 'layer' of Explorer must be in 0..{n - 1}. Got {proposal['value']}.")
        return proposal["value"]

    @traitlets.validate("order_class")
    def _valid_class(self, proposal):
        if proposal["value"] == "" and not self.reader.class_names:
            return ""  # a run without labels has no class to order by
        if proposal["value"] not in self.reader.class_names:
            raise traitlets.TraitError(f"The 'order_class' of Explorer must be one of {self.reader.class_names}. "
                                       f"Got {proposal['value']!r} instead.")
        return proposal["value"]

    @traitlets.validate("selected_units")
    def _valid_units(self, proposal):
        units = [int(u) for u in proposal["value"]]
        bad = [u for u in units if not 0 <= u < self.reader.n_units]
        if bad:
            raise traitlets.TraitError(f"The 'selected_units' of Explorer must be unit ids in 0..{self.reader.n_units - 1}."
                                       f" Got {bad}.")
        return list(dict.fromkeys(units))

    @traitlets.validate("time_range")
    def _valid_range(self, proposal):
        t0, t1 = (float(x) for x in proposal["value"])
        if not t1 > t0:
            raise traitlets.TraitError(f"The 'time_range' of Explorer must be (start, end) with end > start (s). "
                                       f"Got {(t0, t1)}.")
        return (t0, t1)

    # ------------------------------------------------------------------------------------------- observers
    @traitlets.observe("event")
    def _on_event(self, change):
        if self._quiet:
            return
        self._quiet += 1
        try:
            self.time_range = self.initial_range(self.event)
        finally:
            self._quiet -= 1
        self._sync_controls()
        self._render_marker()
        self.render_now()

    @traitlets.observe("time_format")
    def _on_time_axis(self, change):
        if self._quiet:
            return
        self.w_time_format.value = self.time_format
        self._render_time_axes()

    @traitlets.observe("var", "layer")
    def _on_variable(self, change):
        if self._quiet:
            return
        self._sync_controls()
        self._cols = None
        self._render_states()
        self._prefetch()

    @traitlets.observe("unit_order", "order_class")
    def _on_order(self, change):
        if self._quiet:
            return
        self._sync_controls()
        self._render_states(reread=False)

    @traitlets.observe("selected_units")
    def _on_selection(self, change):
        if self._quiet:
            return
        self._render_states(reread=False, heat=False)

    @traitlets.observe("time_range")
    def _on_time_range(self, change):
        t0, t1 = self.time_range
        if (self.time_scale.min, self.time_scale.max) != (t0, t1):
            self._from_scale = True
            with self.time_scale.hold_sync():
                self.time_scale.min, self.time_scale.max = t0, t1
            self._from_scale = False
        if not self._quiet:
            self._debouncer()
            if self.table is not None and self.table.w_in_view.value:
                self.table.refresh()

    _from_scale = False
    #: called with (t0, t1) when a brush ends, instead of zooming (the review page draws missed events with it)
    on_brush_interval = None

    def _on_scale(self, change):
        """The browser panned or zoomed: the shared scale's min/max changed."""
        if self._from_scale:
            return
        lo, hi = self.time_scale.min, self.time_scale.max
        log.debug("time scale moved in the browser: %s .. %s", lo, hi)
        if lo is None or hi is None or not hi > lo:
            return
        self.time_range = (float(lo), float(hi))

    def _on_brush(self, change):
        """A brush in the time-series view ended: zoom every view to the brushed interval."""
        if change["new"]:
            return
        sel = self.brush.selected
        if sel is not None and len(sel) == 2 and float(sel[1]) != float(sel[0]):
            self.brush.selected = None
            interval = (float(min(sel)), float(max(sel)))
            if self.on_brush_interval is not None:
                self.on_brush_interval(*interval)
            else:
                self.time_range = interval

    def _on_heat_click(self, mark, content):
        """A click on the heatmap image: toggle the unit of that row, update the readout."""
        data = content.get("data", {})
        x, y = data.get("click_x"), data.get("click_y")
        if x is None or y is None:
            return
        order = self.order
        rank = int(np.clip(np.floor(float(y)), 0, len(order) - 1))
        unit = int(order[rank])
        value = self._value_at(unit, float(x))
        self.pointer = {"unit": unit, "rank": rank, "time": float(x), "value": value}
        self.w_readout.value = _readout_html(self.pointer, self.var, self.layer,
                                             self._starttime() if self.time_format == "utc" else None)
        self.toggle_unit(unit)
        if self.why is not None:
            self.explain(unit, float(x))

    def explain(self, unit: int, time: float) -> None:
        """Show why ``unit`` (current layer and variable) takes its value at ``time`` in the attribution row.

        What a click on the heatmap does: the attribution image (time x band) under the spectrogram and the card with
        the unit's band profile, memory length and gate time constant.

        Parameters
        ----------
        unit : int
            Unit id in the Explorer's current layer (its variable is the one shown).
        time : float
            Time in s from the record start; the frame whose centre is nearest is explained (halfway: the later).

        Raises
        ------
        rnnscope.errors.AttributionError
            When the Explorer has no attributions (neither ``attribute=`` nor saved ones); the message says how to
            attach a model.
        """
        if self.why is None:
            raise AttributionError("Explorer.explain needs attributions: open the Explorer with attribute="
                                   "rnnscope.experiments.attributor(model, run), or on a run holding 'attribution' "
                                   "(run.merge(rnnscope.experiments.attribution(...))) or pass attributions=.")
        self.why.show(int(unit), float(time))

    def _value_at(self, unit: int, t: float) -> float:
        """Value of ``unit`` at time ``t`` in the current event, variable and layer (one frame read)."""
        i = int(np.floor((t - self.reader.times[0]) / self.reader.dt + 0.5))
        if not 0 <= i < int(self.reader.lengths[self.event]):
            return float("nan")
        return float(self.reader.state(self.event, self.var, self.layer, i, i + 1)[0, unit])

"""The Explorer: waveform, spectrogram, class probabilities, activation heatmap and unit time series of one
record, on one time axis, with a table of detections.

Linking: the figures share ONE :class:`bqplot.LinearScale` for time (``Explorer.time_scale``), in seconds from
the record start. Panning or zooming the waveform, the spectrogram or the probabilities (a :class:`bqplot.PanZoom`
restricted to that scale) or brushing an interval in the time-series view moves all of them at once in the
browser, and the new range comes back to Python as the ``time_range`` traitlet. The heatmap figure has no
interaction of its own, so that a click on a unit row reaches its image mark; a click without drag on the
time-series view points at the unit line nearest it (:class:`~rnnscope.widgets._clicks.PlotClicks`). When the run
knows its records' UTC start (``starttime``), every axis, readout and list shows UTC (``time_format="seconds"``
switches to seconds from the record start).

Composition: the Explorer is its own state (:class:`~rnnscope.widgets._state.ExplorerState`: the public
traitlets below, validated, with the run's reader) and composes one component per view, each owning its figure
and marks and typed against that state only: :class:`~rnnscope.widgets._views.WaveformView`,
:class:`~rnnscope.widgets._views.SpectrogramView`, the attribution row (:class:`~rnnscope.widgets._why.WhyPanel`),
:class:`~rnnscope.widgets._views.ProbabilityView`, :class:`~rnnscope.widgets._units.HeatmapView` and
:class:`~rnnscope.widgets._units.TracesView` (sharing one read of the state columns,
:class:`~rnnscope.widgets._units.UnitColumns`), the controls and readout (:mod:`rnnscope.widgets._controls`) and the
detection table (:class:`~rnnscope.widgets._table.DetectionTable`). They share the scales and layout of a
:class:`~rnnscope.widgets._figures.FigureKit`; the Explorer wires their events to the state and decides what
redraws when the state changes.

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
from ._controls import Controls, Readout
from ._dask import local_dask
from ._debounce import Debouncer
from ._detections import place_detections
from ._figures import MARGIN, SIDE_WIDTH, UNIT_COLORS, FigureKit
from ._source import RAW_FRAMES_PER_COLUMN, Columns, RunReader
from ._state import ExplorerState
from ._units import HeatmapView, TracesView, UnitColumns
from ._views import ProbabilityView, SpectrogramView, WaveformView
from ._width import WidthProbe

__all__ = ["Explorer", "UNIT_COLORS"]

log = logging.getLogger("rnnscope.widgets")
_DEFAULT_WIDTH = 1600  # px of a figure rendered for until the browser reports the page's width (and at most)


def _plot_px(views_px: int) -> int:
    """Width of a figure's plot area: the views' width less the side column and the figure's margins."""
    return views_px - SIDE_WIDTH - MARGIN["left"] - MARGIN["right"]



class Explorer(ExplorerState, widgets.VBox):
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
        background thread as soon as it opens, so that zooming out later reads nothing, and then read one frame of
        each variable a zoom reads frame by frame (the first read of an array costs more than the later ones), so
        that the first zoom after opening costs what the later ones do; with a catalog, also read ahead (in the
        background, after opening, each pick and each filter change) the chunks of the detections the table's
        previous / next lead to, so that a press on them reads nothing. Chunks read are kept (64 MB per run): a
        view inside them reads nothing either.
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
        self.set_plot_width(_plot_px(self.fixed_width or _DEFAULT_WIDTH))
        self.initial_frames = None if initial_frames is None else int(initial_frames)
        self.prefetch = bool(prefetch)
        self._debouncer = Debouncer(debounce, self._render_views)
        self._quiet = 0  # > 0 while observers must not render (initialisation, batched changes)
        self._rendered: tuple | None = None  # (event, time_range) the views show
        self.render_count = 0  #: renders of the views (for tests and benchmarks)
        has_utc = reader.starttimes is not None and any(t is not None for t in reader.starttimes)
        self._quiet += 1
        if time_format not in ("auto", "utc", "seconds"):
            raise ValueError(f"The 'time_format' of Explorer must be 'auto', 'utc' or 'seconds'. Got {time_format!r} "
                             "instead.")
        self.time_format = ("utc" if has_utc else "seconds") if time_format == "auto" else time_format
        self._quiet -= 1

        self._compose(attribute, attributions)
        self.table = None
        if self._detections is not None:
            from ._table import DetectionTable

            self.table = DetectionTable(self._detections, on_pick=self._table_picked,
                                        view_range=lambda: (self.event, *self.time_range))
            self.table.on_rows = self._read_ahead
        views = [self.controls.box, self.readout.box, self.waveform.row, self.spectrogram.row]
        views += [self.why.box] if self.why is not None else []
        views += [self.probabilities.row] if self.probabilities is not None else []
        views += [self.heatmap.row, self.traces.legend, self.traces.row, self.traces.clicks]
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
        self.controls.sync()
        self.render_now()
        self._read_ahead()

    # ------------------------------------------------------------------------------------------- composition
    def _compose(self, attribute, attributions) -> None:
        """Build the view components on one :class:`FigureKit`, top to bottom, and wire their events."""
        self.kit = kit = FigureKit(self.reader, self.fixed_width)
        #: the waveform, class bands and arrivals
        self.waveform = WaveformView(self, kit)
        #: the spectrogram
        self.spectrogram = SpectrogramView(self, kit)
        #: the stacked class probabilities (None when the run has none)
        self.probabilities = ProbabilityView(self, kit) if self.reader.has_prob else None
        #: the state columns the heatmap and the traces draw
        self.columns = UnitColumns(self)
        #: the activation heatmap (a click on a row points at its unit and adds or removes its line)
        self.heatmap = HeatmapView(self, kit, on_pick=self._point_at)
        #: the selected units' time series (a brush zooms, a click points at the nearest line)
        self.traces = TracesView(self, kit, on_pick=self._point_at, on_interval=self._brushed)
        #: the controls above the views
        self.controls = Controls(self, on_whole=self.show_whole_record)
        #: the legend and the readout of the last pointed unit
        self.readout = Readout(self, self.waveform.band_rows)
        #: the attribution row under the spectrogram (a click on a unit explains it), or None
        self.why = None
        if attribute is not None or attributions is not None or "attribution" in self.run.data_vars:
            from ._why import WhyPanel

            self.why = WhyPanel(self, kit, attribute=attribute, attributions=attributions)
        self._expose_parts()

    def _expose_parts(self) -> None:
        """The components' scales, marks, figures and controls under the Explorer's names of before the components
        (``ex.heat_image``, ``ex.lines``, ``ex.time_scale``, ...), kept for code that reaches them."""
        kit, w, s, h, t, c = self.kit, self.waveform, self.spectrogram, self.heatmap, self.traces, self.controls
        self.time_scale, self.time_axes, self.markers = kit.time_scale, kit.time_axes, kit.markers
        self.highlight, self.unit_colors, self.trace_x, self.trace_y = (kit.highlight, kit.unit_colors, kit.trace_x,
                                                                        kit.trace_y)
        self.fig_waveform, self.wave, self.band_image, self.band_labels = w.figure, w.wave, w.band_image, w.band_labels
        self.p_lines, self.s_lines, self.amp_axis, self.amp_scale = w.p_lines, w.s_lines, w.amp_axis, w.amp_scale
        self.band_rows, self._wave_row = w.band_rows, w.row
        self.fig_spectrogram, self.spec_image, self.spec_colorbar = s.figure, s.image, s.colorbar
        self.freq_scale, self.n_freq, self._spec_row = s.freq_scale, s.n_freq, s.row
        p = self.probabilities
        self.fig_prob = p.figure if p is not None else None
        if p is not None:
            self.prob_image, self._prob_row = p.image, p.row
        self.fig_heatmap, self.heat_image, self.unit_labels, self.unit_axis = h.figure, h.image, h.unit_labels, \
            h.unit_axis
        self.unit_scale, self.colorbar, self.fig_colorbar, self.heat_height = h.unit_scale, h.colorbar, \
            h.colorbar.figure, h.height
        self._heat_row = h.row
        self.fig_lines, self.lines, self.envelopes, self.zero_line, self.brush = t.figure, t.lines, t.envelopes, \
            t.zero_line, t.brush
        self.value_axis, self.value_scale, self.bottom_axis = t.value_axis, t.value_scale, t.bottom_axis
        self.w_unit_legend, self._lines_row = t.legend, t.row
        self.w_event, self.w_var, self.w_layer, self.w_order, self.w_class = c.w_event, c.w_var, c.w_layer, \
            c.w_order, c.w_class
        self.w_whole, self.w_time_format, self._controls = c.w_whole, c.w_time_format, c.box
        self.w_legend, self.w_readout, self._legend_row = self.readout.w_legend, self.readout.w_readout, \
            self.readout.box

    @property
    def _cols(self) -> Columns | None:
        """The state columns of the current view (:attr:`columns`)."""
        return self.columns.cols

    # ------------------------------------------------------------------------------------------- width
    def _on_page_width(self, change) -> None:
        """The browser reported the Explorer's width (CSS px): render for it, at most for the default 1600 px."""
        if not change["new"]:
            return
        plot = int(np.clip(_plot_px(int(change["new"])), 200, _plot_px(_DEFAULT_WIDTH)))
        if abs(plot - self.plot_width) <= 0.03 * self.plot_width:
            return
        log.debug("page width %s px: rendering for a plot of %s px", change["new"], plot)
        self.set_plot_width(plot)
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
        view = self._detection_view(row, pad_s)
        self.picked = int(row)
        if self.table is not None and self.table.picked != row:
            self.table.mark(int(row))
        if view is None:  # listed, on no record of this run: nothing to show
            self._render_marker()
            return
        self._quiet += 1
        try:
            self.event, self.time_range = view
        finally:
            self._quiet -= 1
        self.controls.sync()
        self._render_marker()
        self.render_now()
        self._read_ahead()

    def _detection_view(self, row: int, pad_s: float | None = None) -> tuple[int, tuple[float, float]] | None:
        """(record, time range) :meth:`show_detection` shows for detection ``row`` (None: on no record)."""
        det = self.detections.iloc[row]
        if int(det["event"]) < 0:
            return None
        t0, t1 = float(det["t0"]), float(det["t1"])
        pad = max(10.0, t1 - t0) if pad_s is None else float(pad_s)
        lo, hi = self.reader.record_span(int(det["event"]))
        t0, t1 = min(max(t0, lo), hi), max(min(t1, hi), lo)  # the part on the record (placed rows meet it)
        return int(det["event"]), (max(lo, t0 - pad), min(hi, t1 + pad))

    def _read_ahead(self) -> None:
        """With ``prefetch``: read, in the background, the chunks of the detections the table's previous / next lead
        to (:meth:`RunReader.read_ahead`), so that a press on them reads nothing, the first one included."""
        if not self.prefetch or self.table is None:
            return
        requests = []
        for by in (1, -1):
            row = self.table.target(by)
            view = None if row is None or row == self.picked else self._detection_view(row)
            requests += [] if view is None else self._requests(*view)
        self.reader.read_ahead(requests)

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
    def figures(self) -> list:
        """The bqplot figures on the time axis, top to bottom (the probabilities only when the run has them)."""
        prob = [self.fig_prob] if self.fig_prob is not None else []
        return [self.fig_waveform, self.fig_spectrogram] + prob + [self.fig_heatmap, self.fig_lines]

    def trace_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The drawn trace ``name`` in data units: times (s from the record start) and values (one row per unit
        for ``"lines"`` and ``"envelopes"``; counts for ``"wave"``). The marks hold the traces in view coordinates
        (0..1 across the rendered range), so that zooming does not make the browser redraw them twice.

        Examples
        --------
        >>> from rnnscope.examples import toy_long_run
        >>> from rnnscope.widgets import Explorer
        >>> ex = Explorer(toy_long_run(), width=600)
        >>> ex.time_range = (10.0, 12.0); ex.render_now()
        >>> t, values = ex.trace_data("lines")
        >>> values.shape == (len(ex.selected_units), t.size), bool(10.0 <= t.min() < t.max() <= 12.0)
        (True, True)
        >>> bool(ex.lines.x.min() >= 0.0 and ex.lines.x.max() <= 1.0)  # what the mark holds
        True
        """
        marks = {"wave": self.wave, "lines": self.lines, "envelopes": self.envelopes}
        if name not in marks:
            raise ValueError(f"The 'name' of Explorer.trace_data must be one of {sorted(marks)}. Got {name!r} "
                             f"instead.")
        return self.kit.trace_data(name, marks[name])

    # ------------------------------------------------------------------------------------------- wiring
    @traitlets.observe("event")
    def _on_event(self, change) -> None:
        if self._quiet:
            return
        self._quiet += 1
        try:
            self.time_range = self.initial_range(self.event)
        finally:
            self._quiet -= 1
        self.controls.sync()
        self._render_marker()
        self.render_now()

    @traitlets.observe("time_format")
    def _on_time_axis(self, change) -> None:
        if self._quiet:
            return
        self.w_time_format.value = self.time_format
        self.kit.render_time_axes(self)

    @traitlets.observe("var", "layer")
    def _on_variable(self, change) -> None:
        if self._quiet:
            return
        self.controls.sync()
        self.columns.clear()
        self._render_states()
        self._prefetch()

    @traitlets.observe("unit_order", "order_class")
    def _on_order(self, change) -> None:
        if self._quiet:
            return
        self.controls.sync()
        self._render_states(reread=False)

    @traitlets.observe("selected_units")
    def _on_selection(self, change) -> None:
        if self._quiet:
            return
        self._render_states(reread=False, heat=False)

    @traitlets.observe("time_range")
    def _on_time_range(self, change) -> None:
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

    def _on_scale(self, change) -> None:
        """The browser panned or zoomed: the shared scale's min/max changed."""
        if self._from_scale:
            return
        lo, hi = self.time_scale.min, self.time_scale.max
        log.debug("time scale moved in the browser: %s .. %s", lo, hi)
        if lo is None or hi is None or not hi > lo:
            return
        self.time_range = (float(lo), float(hi))

    def _brushed(self, t0: float, t1: float) -> None:
        """A brush in the time-series view ended on [t0, t1]: zoom every view to it (or hand it to
        :attr:`on_brush_interval`)."""
        if self.on_brush_interval is not None:
            self.on_brush_interval(t0, t1)
        else:
            self.time_range = (t0, t1)

    def _point_at(self, unit: int, time: float, *, toggle: bool = False) -> None:
        """Point at ``unit`` at ``time`` (s), as a click on the heatmap or on the unit's trace does: the readout
        shows its value there (:attr:`pointer`) and, with attributions, the row under the spectrogram shows why
        (:meth:`explain`); ``toggle`` (a heatmap click) also adds or removes its line."""
        unit, time = int(unit), float(time)
        order = self.order
        rank = int(np.flatnonzero(order == unit)[0]) if unit in order else -1
        self.pointer = {"unit": unit, "rank": rank, "time": time, "value": self.value_at(unit, time)}
        self.readout.show()
        if toggle:
            self.toggle_unit(unit)
        if self.why is not None:
            self.explain(unit, time)

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

    # ------------------------------------------------------------------------------------------- rendering
    def _render_views(self) -> None:
        with local_dask():
            self._render_all()

    def _render_all(self) -> None:
        log.debug("render event %s, %s s", self.event, self.time_range)
        self.render_count += 1
        self._rendered = self._view_key()
        self._preload()
        self.columns.clear()
        self._render_states()  # the heatmap first: the view users watch while zooming
        self.kit.render_time_axes(self)
        if self.probabilities is not None:
            self.probabilities.render()
        self.spectrogram.render()
        self.waveform.render()
        self._prefetch()

    def _render_states(self, reread: bool = True, heat: bool = True) -> None:
        """Heatmap and unit lines; ``reread=False`` reuses the columns read for the current view."""
        cols = self.columns.read(reread)
        cmap = self.columns.colormap(cols)
        order = self.order
        if heat:
            self.heatmap.render(cols, cmap, order)
        self.heatmap.render_labels(order)
        self.traces.render(cols, cmap, self.columns.cols_range)

    def _render_marker(self) -> None:
        """Mark the picked detection's interval on every view (hidden when it is on another record)."""
        det = None if self.detections is None or self.picked < 0 else self.detections.iloc[self.picked]
        on_view = det is not None and int(det["event"]) == self.event
        self.kit.show_marker((float(det["t0"]), float(det["t1"])) if det is not None and on_view else None)

    def _preload(self) -> None:
        """Read every slice the views need (a level of the run's overview, or the frames) in one dask computation
        (decompressed in parallel)."""
        self.reader.preload(self._requests(self.event, self.time_range))

    def _requests(self, ev: int, time_range: tuple[float, float]) -> list[tuple]:
        """The slices the views of record ``ev`` over ``time_range`` read (:meth:`RunReader.requests`)."""
        r, n_freq = self.reader, self.spectrogram.n_freq
        i0, i1 = r.frame_range(ev, *time_range)
        keys = [("state", ev, self.var, self.layer), ("prob", ev) if r.has_prob else None,
                ("spectrogram", ev, n_freq) if r.has_spectrogram and n_freq else None]
        keys += [(name, ev) for name in ("label", "pred") if name in self.run]
        requests = [req for key in keys if key is not None for req in r.requests(key, i0, i1, self.n_cols)]
        if r.waveform_origin == "run":
            s0, s1 = r.sample_range(ev, *time_range)
            requests += r.requests(("waveform", ev), s0, s1, self.plot_width)
        return requests

    def _prefetch(self) -> None:
        """For a record longer than the views show frame by frame: its overview built in the background (runs
        without a stored one), then the variables a zoom reads frame by frame warmed (:meth:`RunReader.warm`), so
        that the first zoom (a detection picked, a wheel step) costs what the later ones do."""
        if self.prefetch and self.reader.lengths[self.event] > RAW_FRAMES_PER_COLUMN * self.n_cols:
            self.reader.prefetch(self.event, self.var, self.layer, self.spectrogram.n_freq)
            self.reader.warm(self.event, self.var, self.layer, self.spectrogram.n_freq)

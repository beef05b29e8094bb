"""The Explorer: waveform, spectrogram, activation heatmap and unit time series of one record, on one time axis.

Linking: the four figures share ONE :class:`bqplot.LinearScale` for time (``Explorer.time_scale``). Panning or
zooming the waveform or the spectrogram (a :class:`bqplot.PanZoom` restricted to that scale) or brushing an
interval in the time-series view moves all four at once in the browser, and the new range comes back to Python
as the ``time_range`` traitlet. The heatmap figure has no interaction of its own, so that a click on a unit row
reaches its image mark.

Rendering: nothing is sent per frame. For the visible range, :class:`~rnnscope.widgets._source.RunReader` reads
only the shown event and frames (or an overview of them for long ranges) and folds them into about two columns
per screen pixel, keeping extremes; the heatmap and the spectrogram are sent as 8-bit palette PNGs, the waveform
and unit lines as min/max envelopes. A change of ``time_range`` from the browser re-renders after a debounce
(``debounce`` seconds, 0.15 by default) on the kernel's event loop; :meth:`Explorer.render_now` renders at once.
"""
from __future__ import annotations

import logging

import ipywidgets as widgets
import numpy as np
import traitlets
from bqplot import Axis, Figure, Label, LinearScale, Lines
from bqplot.interacts import BrushIntervalSelector, PanZoom

from . import _summaries as summaries
from ._colorbar import ColorBar
from ._debounce import Debouncer
from ._detections import place_detections
from ._drawing import (
    _P_COLOR,
    _S_COLOR,
    _band_colors,
    _envelope,
    _legend_html,
    _readout_html,
)
from ._render import (
    colormap_for,
    encode_png,
    encode_rgb_png,
    pick_extreme,
    png_mark,
    set_png,
)
from ._source import RunReader

__all__ = ["Explorer", "UNIT_COLORS"]

log = logging.getLogger("rnnscope.widgets")

#: colours of the unit lines (and of their labels on the heatmap); distinct from the class colours
UNIT_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#882255",
               "#44AA99", "#999933"]
_MARGIN = {"top": 8, "bottom": 34, "left": 72, "right": 96}

_SPEC_FMAX = 25.0  # Hz shown in the spectrogram (as rnnscope.plots.record_overview)


class Explorer(widgets.VBox):
    """Linked views of one record of a run: waveform with class bands and P/S arrivals, spectrogram, activation
    heatmap (units x time) and time series of selected units.

    Parameters
    ----------
    run : xarray.Dataset
        A run, in memory or opened lazily with :func:`rnnscope.open_run` (only what is shown is read).
    event : int
        Record shown first (position along ``event``).
    variable : str
        State variable of the heatmap and the lines (``h``, ``c``, a gate, ...).
    layer : int
        Layer shown.
    unit_order : {"index", "activity", "specialisation"}
        Row order of the heatmap.
    width : int
        Width of the figures in pixels; images are rendered with two columns per pixel of the plot area.
    debounce : float
        Seconds to wait after the last pan/zoom message before re-rendering (0 renders on every message).
    initial_frames : int, optional
        Longest range shown when a record opens (default: two frames per image column); a longer record opens
        on a window around its main segment and "whole record" shows all of it.
    prefetch : bool
        For a record too long to read whole at every zoom, build its overview (min/max per block of frames) in a
        background thread as soon as it opens, so that zooming out later reads nothing.
    catalog : pandas.DataFrame, optional
        A detection catalog (e.g. ``rnnscope.monitor(...).detections``, or rows with ``event``/``event_id`` and
        ``start``/``end`` in s): listed under the controls; picking a row shows its record zoomed on it
        (:meth:`show_detection`).

    Examples
    --------
    >>> from rnnscope.widgets._examples import example_run
    >>> ex = Explorer(example_run())  # in a notebook: rnnscope.open_run(path); ex (last line) shows it
    >>> ex.order_class, len(ex.selected_units)  # the 5 units of highest LP heat (record 0's main segment is LP)
    ('LP', 5)
    >>> ex.variable = "c"; ex.unit_order = "index"
    >>> ex.heat_image._handle_custom_msgs(None, {"event": "element_click",  # what a click on row 2 sends
    ...                                          "data": {"click_x": 10.0, "click_y": 2.5}})
    >>> ex.pointer["unit"], 2 in ex.selected_units
    (2, True)
    >>> ex.time_range = (10.0, 30.0); ex.render_now()  # zoom: every view shows 10-30 s
    """

    #: position (0-based, along ``event``) of the record shown
    event = traitlets.Int(0)
    #: state variable shown in the heatmap and the unit lines, e.g. "h", "c", "forget_gate"
    variable = traitlets.Unicode("h")
    #: layer shown (0-based)
    layer = traitlets.Int(0)
    #: heatmap row order: "index" (unit id), "activity" (mean |h|, descending), "specialisation" (for order_class)
    unit_order = traitlets.Enum(summaries.UNIT_ORDERS, default_value="activity")
    #: class whose specialisation orders the rows when unit_order == "specialisation"
    order_class = traitlets.Unicode("")
    #: unit ids (0-based) drawn in the time-series view, in the order they were added
    selected_units = traitlets.List(traitlets.Int())
    #: visible time range (s from the record start), shared by all four views
    time_range = traitlets.Tuple(traitlets.Float(), traitlets.Float(), default_value=(0.0, 1.0))
    #: what the last click on the heatmap hit: {"unit", "rank", "time", "value"} (empty before any click)
    pointer = traitlets.Dict()

    def __init__(self, run, event: int = 0, variable: str = "h", layer: int = 0, unit_order: str = "activity",
                 *, width: int = 1000, debounce: float = 0.15, initial_frames: int | None = None, prefetch: bool = True,
                 catalog=None):
        self.reader = reader = RunReader(run)
        self.run = run
        self.catalog = catalog
        self.detections = place_detections(catalog, reader) if catalog is not None else None
        self.plot_width = int(width) - _MARGIN["left"] - _MARGIN["right"]
        #: image columns rendered for the visible range (two per pixel of the plot area)
        self.n_cols = 2 * self.plot_width
        self.initial_frames = int(initial_frames or 2 * self.n_cols)
        self.prefetch = bool(prefetch)
        self._debouncer = Debouncer(debounce, self._render_views)
        self._quiet = 0  # > 0 while observers must not render (initialisation, batched changes)
        self._robust: dict = {}
        self._spec_range: dict = {}
        self._cols = None  # state columns of the current view
        self._rendered = None  # (event, time_range) the views show
        self.render_count = 0  #: renders of the views (for tests and benchmarks)

        self._build_figures(int(width))
        self._build_controls()
        super().__init__(children=[self._controls, self._legend_row, self.fig_waveform, self.fig_spectrogram,
                                   self._heat_row, self.fig_lines],
                         layout=widgets.Layout(width=f"{int(width) + 10}px"))
        self.add_class("rnnscope-explorer")

        self._quiet += 1
        self.variable = self._check_variable(variable)
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
        """Time range shown when ``event`` opens: the whole record, or ``initial_frames`` around its main segment."""
        lo, hi = self.reader.record_span(event)
        span = self.initial_frames * self.reader.dt
        if hi - lo <= span:
            return (lo, hi)
        seg = self.reader.main_segment(event)
        centre = lo + span / 2 if seg is None else float(seg["start"] + seg["end"]) / 2
        start = float(np.clip(centre - span / 2, lo, hi - span))
        return (start, start + span)

    def show_detection(self, row: int, pad_s: float = 10.0) -> None:
        """Show detection ``row`` (position in :attr:`detections`): its record, zoomed to it +- ``pad_s``."""
        if self.detections is None or not 0 <= row < len(self.detections):
            n = 0 if self.detections is None else len(self.detections)
            raise ValueError(f"Explorer has {n} placed detection(s); got row {row}.")
        det = self.detections.iloc[row]
        lo, hi = self.reader.record_span(int(det["event"]))
        with self.hold_trait_notifications():
            self.event = int(det["event"])
        self.time_range = (max(lo, float(det["t0"]) - pad_s), min(hi, float(det["t1"]) + pad_s))

    def show_whole_record(self) -> None:
        """Zoom out to the whole record."""
        self.time_range = self.reader.record_span(self.event)

    def toggle_unit(self, unit: int) -> None:
        """Add ``unit`` to the time-series view, or remove it when it is there."""
        unit = int(unit)
        units = list(self.selected_units)
        self.selected_units = [u for u in units if u != unit] if unit in units else units + [unit]

    def show_unit(self, unit: int, class_name: str | None = None, layer: int | None = None) -> None:
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
        """The four bqplot figures, top to bottom."""
        return [self.fig_waveform, self.fig_spectrogram, self.fig_heatmap, self.fig_lines]

    # ------------------------------------------------------------------------------------------- building
    def _build_figures(self, width: int) -> None:
        r = self.reader
        self.time_scale = LinearScale(min=0.0, max=1.0, allow_padding=False)
        tscale = self.time_scale
        layout = lambda h: widgets.Layout(width=f"{width}px", height=f"{h}px")  # noqa: E731
        common = dict(fig_margin=dict(_MARGIN), padding_x=0.0, padding_y=0.0, animation_duration=0,
                      min_aspect_ratio=0.01, max_aspect_ratio=100.0)

        # 1. waveform, class bands (true above predicted), P and S arrivals
        self.amp_scale = LinearScale(min=-1.0, max=1.0, allow_padding=False)
        band = LinearScale(min=0.0, max=1.0, allow_padding=False)
        unit_x = LinearScale(min=0.0, max=1.0, allow_padding=False)
        self.wave = Lines(x=np.zeros(2), y=np.zeros(2), scales={"x": tscale, "y": self.amp_scale},
                          colors=["#3a3a3a"], stroke_width=0.8)
        self.band_image = png_mark(x=(0.0, 1.0),
                                y=(0.845, 1.0), scales={"x": tscale, "y": band}, pixelated=True)
        self.band_labels = Label(x=[0.004, 0.004], y=[0.96, 0.88], text=["true", "pred"], default_size=10,
                                 colors=["#222222"], scales={"x": unit_x, "y": band}, font_weight="normal",
                                 align="start")
        self.p_lines = Lines(x=np.zeros((1, 2)), y=np.zeros((1, 2)), scales={"x": tscale, "y": band},
                             colors=[_P_COLOR], stroke_width=1.2, visible=False)
        self.s_lines = Lines(x=np.zeros((1, 2)), y=np.zeros((1, 2)), scales={"x": tscale, "y": band},
                             colors=[_S_COLOR], stroke_width=1.2, line_style="dashed", visible=False)
        self.fig_waveform = Figure(
            marks=[self.band_image, self.wave, self.p_lines, self.s_lines, self.band_labels],
            axes=[Axis(scale=tscale, num_ticks=10), Axis(scale=self.amp_scale, side="left",
                                                         label="amplitude", num_ticks=4, tick_format=".2~s",
                                                         label_offset="55px")],
            interaction=PanZoom(scales={"x": [tscale]}), layout=layout(170), **common)

        # 2. spectrogram
        fmax = min(_SPEC_FMAX, float(r.freqs.max())) if r.freqs.size else 1.0
        self.n_freq = int(np.searchsorted(r.freqs, fmax, side="right")) if r.freqs.size else 0
        df = float(r.freqs[1] - r.freqs[0]) if r.freqs.size > 1 else 1.0
        self.freq_scale = LinearScale(min=0.0, max=float(fmax), allow_padding=False)
        self.spec_image = png_mark(x=(0.0, 1.0),
                                y=(float(r.freqs[0]) - df / 2 if r.freqs.size else 0.0, fmax + df / 2),
                                scales={"x": tscale, "y": self.freq_scale}, pixelated=True)
        self.fig_spectrogram = Figure(
            marks=[self.spec_image],
            axes=[Axis(scale=tscale, num_ticks=10), Axis(scale=self.freq_scale, side="left",
                                                         label="frequency (Hz)", num_ticks=5,
                                                         label_offset="55px")],
            interaction=PanZoom(scales={"x": [tscale]}), layout=layout(160), **common)

        # 3. activation heatmap: units x time, an Image mark (clicks arrive as element_click)
        n = r.n_units
        self.unit_scale = LinearScale(min=0.0, max=float(n), reverse=True, allow_padding=False)
        self.heat_image = png_mark(x=(0.0, 1.0), y=(float(n), 0.0), scales={"x": tscale, "y": self.unit_scale},
                                   pixelated=True)
        self.heat_image.on_element_click(self._on_heat_click)
        self.unit_labels = Label(x=[], y=[], text=[], colors=UNIT_COLORS, default_size=11, font_weight="bold",
                                 scales={"x": unit_x, "y": self.unit_scale}, align="end", x_offset=-3,
                                 y_offset=4)
        self.unit_axis = Axis(scale=self.unit_scale, side="left", label="unit", num_ticks=6,
                              tick_format="d", label_offset="55px")
        heat_h = int(np.clip(2 * n + 60, 200, 420))
        bar_w = _MARGIN["right"] - 6
        self.fig_heatmap = Figure(marks=[self.heat_image, self.unit_labels],
                                  axes=[Axis(scale=tscale, num_ticks=10), self.unit_axis],
                                  layout=widgets.Layout(width=f"{width - bar_w}px", height=f"{heat_h}px"),
                                  **{**common, "fig_margin": {**_MARGIN, "right": 6}})
        # its colour bar: a gradient image on the value scale, in a narrow figure beside it
        self.colorbar = ColorBar(bar_w, heat_h, top=_MARGIN["top"], bottom=_MARGIN["bottom"], label="h")
        self.fig_colorbar = self.colorbar.figure
        self._heat_row = widgets.HBox([self.fig_heatmap, self.fig_colorbar],
                                      layout=widgets.Layout(overflow="visible"))

        # 4. time series of the selected units
        self.value_scale = LinearScale(min=-1.0, max=1.0, allow_padding=False)
        self.lines = Lines(x=np.zeros(2), y=np.zeros((1, 2)), scales={"x": tscale, "y": self.value_scale},
                           colors=UNIT_COLORS, stroke_width=1.3, display_legend=True, labels=[], visible=False)
        self.zero_line = Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales={"x": unit_x, "y": self.value_scale},
                               colors=["#bbbbbb"], stroke_width=0.8)
        self.brush = BrushIntervalSelector(scale=tscale, color="#888888")
        self.brush.observe(self._on_brush, names=["brushing"])
        self.value_axis = Axis(scale=self.value_scale, side="left", label="h", num_ticks=5,
                               label_offset="55px")
        self.fig_lines = Figure(marks=[self.zero_line, self.lines],
                                axes=[Axis(scale=tscale, label="time (s)", num_ticks=10), self.value_axis],
                                interaction=self.brush, legend_location="top-right",
                                legend_style={"fill": "white", "fill-opacity": 0.8, "stroke": "#cccccc"},
                                layout=layout(200), **common)
        for fig in self.figures:
            fig.add_class("rnnscope-view")

    def _build_controls(self) -> None:
        r = self.reader
        options = [(f"{i}: {r.event_ids[i]} · {r.main_class(i)} · {r.duration(i):.0f} s", i)
                   for i in range(len(r.lengths))]
        def style(w):
            return {"description_width": f"{w}px"}

        self.w_event = widgets.Dropdown(options=options, description="record", style=style(46),
                                        layout=widgets.Layout(width="285px"))
        self.w_variable = widgets.Dropdown(options=r.variables, description="variable", style=style(54),
                                           layout=widgets.Layout(width="165px"))
        wide = max(len(label) for label in r.layer_labels)  # "encoder.lstm[0] backward" for any nn.Module
        self.w_layer = widgets.Dropdown(options=[(label, i) for i, label in enumerate(r.layer_labels)],
                                        description="layer", style=style(36),
                                        layout=widgets.Layout(width=f"{max(90, 50 + 7 * wide)}px"))
        orders = [("unit id", "index"), ("activity", "activity")]
        orders += [("specialisation", "specialisation")] if r.class_names else []  # it needs labels
        self.w_order = widgets.Dropdown(options=orders,
                                        description="order", style=style(38), layout=widgets.Layout(width="160px"))
        self.w_class = widgets.Dropdown(options=r.class_names, description="class", style=style(36),
                                        layout=widgets.Layout(width="110px"))
        self.w_whole = widgets.Button(description="whole record", tooltip="zoom out to the whole record",
                                      layout=widgets.Layout(width="105px"))
        self.w_whole.on_click(lambda _: self.show_whole_record())
        for w, name in [(self.w_event, "event"), (self.w_variable, "variable"), (self.w_layer, "layer"),
                        (self.w_order, "unit_order"), (self.w_class, "order_class")]:
            w.observe(self._control_changed(name), names="value")
        controls = [self.w_event, self.w_variable, self.w_layer, self.w_order, self.w_class, self.w_whole]
        if self.detections is not None:
            self.w_detections = widgets.Dropdown(
                options=[("detections...", -1)] + [(label, i) for i, label in enumerate(self.detections["label"])],
                description="", layout=widgets.Layout(width="260px"))
            self.w_detections.observe(lambda c: c["new"] >= 0 and self.show_detection(c["new"]), names="value")
            controls.append(self.w_detections)
        self._controls = widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap"))
        self.w_legend = widgets.HTML(_legend_html(r.class_names))
        self.w_readout = widgets.HTML(_readout_html(None))
        self._legend_row = widgets.VBox([self.w_legend, self.w_readout], layout=widgets.Layout(padding="0 8px"))

    def _control_changed(self, name):
        def handler(change):
            if getattr(self, name) != change["new"]:
                setattr(self, name, change["new"])
        return handler

    def _sync_controls(self) -> None:
        self.w_event.value = self.event
        self.w_variable.value = self.variable
        self.w_layer.value = self.layer
        self.w_order.value = self.unit_order
        if self.reader.class_names:
            self.w_class.value = self.order_class
        self.w_class.disabled = self.unit_order != "specialisation" or not self.reader.class_names

    # ------------------------------------------------------------------------------------------- validation
    def _check_variable(self, name):
        if name not in self.reader.variables:
            raise traitlets.TraitError(
                f"The 'variable' of Explorer must be one of {self.reader.variables} (the state variables of this "
                f"run). Got {name!r} instead.")
        return name

    @traitlets.validate("variable")
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
        self.render_now()

    @traitlets.observe("variable", "layer")
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

    _from_scale = False

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
        if sel is not None and len(sel) == 2 and float(sel[1]) > float(sel[0]):
            self.brush.selected = None
            self.time_range = (float(min(sel)), float(max(sel)))

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
        self.w_readout.value = _readout_html(self.pointer, self.variable, self.layer)
        self.toggle_unit(unit)

    def _value_at(self, unit: int, t: float) -> float:
        """Value of ``unit`` at time ``t`` in the current event, variable and layer (one frame read)."""
        i = int(np.floor((t - self.reader.times[0]) / self.reader.dt + 0.5))
        if not 0 <= i < int(self.reader.lengths[self.event]):
            return float("nan")
        return float(self.reader.state(self.event, self.variable, self.layer, i, i + 1)[0, unit])

    # ------------------------------------------------------------------------------------------- rendering
    def _render_views(self) -> None:
        log.debug("render event %s, %s s", self.event, self.time_range)
        self.render_count += 1
        self._rendered = self._view_key()
        self._preload()
        self._render_waveform()
        self._render_spectrogram()
        self._cols = None
        self._render_states()
        self._prefetch()

    def _preload(self) -> None:
        """Read every raw slice the views need in one dask computation (decompressed in parallel)."""
        r, ev = self.reader, self.event
        i0, i1 = self._view_frames()
        requests = []
        if not r.labels_cached(ev):
            requests += ([("label", ev, i0, i1, {})] if "label" in self.run else []) + \
                ([("pred", ev, i0, i1, {})] if "pred" in self.run else [])
        if r.use_raw(("state", ev, self.variable, self.layer), i1 - i0, self.n_cols):
            requests.append((self.variable, ev, i0, i1, {"layer": self.layer}))
        if r.has_spectrogram and self.n_freq and r.use_raw(("spectrogram", ev, self.n_freq), i1 - i0, self.n_cols):
            requests.append(("spectrogram", ev, i0, i1, {"freq": slice(0, self.n_freq)}))
        if r.has_waveform:
            s0, s1 = r.sample_range(ev, *self.time_range)
            if r.use_raw(("waveform", ev), s1 - s0, self.n_cols):
                requests.append(("waveform", ev, s0, s1, {}))
        r.preload(requests)

    def _prefetch(self) -> None:
        from ._source import RAW_FRAMES_PER_COLUMN

        if self.prefetch and self.reader.lengths[self.event] > RAW_FRAMES_PER_COLUMN * self.n_cols:
            self.reader.prefetch(self.event, self.variable, self.layer, self.n_freq)

    def _view_frames(self):
        t0, t1 = self.time_range
        return self.reader.frame_range(self.event, t0, t1)

    def _image_x(self, cols) -> tuple[float, float]:
        r = self.reader
        return (float(r.frame_time(cols.start) - r.dt / 2), float(r.frame_time(cols.start + cols.n * cols.step)
                                                                   - r.dt / 2))

    def _render_waveform(self) -> None:
        r, ev = self.reader, self.event
        i0, i1 = self._view_frames()
        # class bands: true (top) and predicted, one pixel column per image column
        label, pred = r.labels(ev, i0, i1)
        rows = [label, label, None, pred, pred] if pred is not None else [label, label]
        k = max(1, -(-(i1 - i0) // self.n_cols))
        rgba = np.stack([_band_colors(x, k, r.class_names, r.background) if x is not None else
                         np.zeros((max(1, -(-(i1 - i0) // k)), 4), np.uint8) for x in rows])
        with self.band_image.hold_sync():
            set_png(self.band_image, encode_rgb_png(rgba))
            x0 = float(r.frame_time(i0) - r.dt / 2)
            self.band_image.x = (x0, x0 + rgba.shape[1] * k * r.dt)
        # P and S arrivals of the record's segments
        segs = r.event_segments(ev)
        for mark, col in ((self.p_lines, "p"), (self.s_lines, "s")):
            t = segs[col].to_numpy(dtype=float) if col in segs else np.zeros(0)
            t = t[np.isfinite(t)]
            with mark.hold_sync():
                if t.size:
                    mark.x = np.repeat(t[:, None], 2, axis=1)
                    mark.y = np.tile([0.0, 0.835], (t.size, 1))
                mark.visible = bool(t.size)
        if not r.has_waveform:
            return
        t0, t1 = self.time_range
        s0, s1 = r.sample_range(ev, t0, t1)
        cols = r.waveform_columns(ev, s0, s1, self.n_cols)
        x, y = _envelope(cols, lambda i: r.sample_t0 + np.asarray(i, dtype=np.float64) / r.sampling_rate)
        amp = float(np.nanmax(np.abs(y))) if y.size and np.isfinite(y).any() else 1.0
        amp = amp or 1.0
        with self.wave.hold_sync():
            self.wave.x, self.wave.y = x, y.astype(np.float32)
        with self.amp_scale.hold_sync():
            self.amp_scale.min, self.amp_scale.max = -1.05 * amp, -1.05 * amp + 2.1 * amp / 0.83

    def _render_spectrogram(self) -> None:
        r, ev = self.reader, self.event
        if not r.has_spectrogram or not self.n_freq:
            return
        i0, i1 = self._view_frames()
        cols = r.spectrogram_columns(ev, i0, i1, self.n_cols, self.n_freq)
        values = cols.hi[:, : self.n_freq]  # loudest frame of each column
        if ev not in self._spec_range and values.size:
            finite = values[np.isfinite(values)]
            self._spec_range[ev] = tuple(np.percentile(finite, [5, 99.5])) if finite.size else (0.0, 1.0)
        vmin, vmax = self._spec_range.get(ev, (0.0, 1.0))
        from ._render import ColorMap

        cmap = ColorMap("magma", float(vmin), float(vmax) if vmax > vmin else float(vmin) + 1.0)
        index = cmap.indices(values.T[::-1]) if values.size else np.full((1, 1), 255, np.uint8)
        with self.spec_image.hold_sync():
            set_png(self.spec_image, encode_png(index, cmap.palette()))
            if cols.n:
                self.spec_image.x = self._image_x(cols)

    def _colormap(self, ext=None):
        var, layer = self.variable, self.layer
        key = (self.event, var, layer)
        if var == "c" and key not in self._robust and ext is not None and ext.size:
            finite = np.abs(ext[np.isfinite(ext)])
            self._robust[key] = float(np.percentile(finite, 99)) if finite.size else 1.0
        lo, hi = summaries.value_range(self.reader.summary, var, layer) if var not in ("h", "c") else (-1.0, 1.0)
        return colormap_for(var, robust_max=self._robust.get(key), vmin=lo, vmax=hi)

    def _render_states(self, reread: bool = True, heat: bool = True) -> None:
        """Heatmap and unit lines; ``reread=False`` reuses the columns read for the current view."""
        r = self.reader
        if self._cols is None or reread:
            i0, i1 = self._view_frames()
            self._cols = r.state_columns(self.event, self.variable, self.layer, i0, i1, self.n_cols)
        cols = self._cols
        cmap = self._colormap(pick_extreme(cols.lo, cols.hi, 0.0) if self.variable == "c" else None)
        order = self.order
        if heat:
            ext = pick_extreme(cols.lo, cols.hi, cmap.center)
            index = cmap.indices(ext[:, order].T) if cols.n else np.full((1, 1), 255, np.uint8)
            with self.heat_image.hold_sync():
                set_png(self.heat_image, encode_png(index, cmap.palette()))
                if cols.n:
                    self.heat_image.x = self._image_x(cols)
            label = f"{self.variable} ({self.reader.layer_labels[self.layer]})" if "module" in self.run.coords \
                else f"{self.variable} (layer {self.layer})"
            self.colorbar.show(cmap, label)
            self.value_axis.label = label
            self.unit_axis.label = {"index": "unit", "activity": "rank by activity",
                                    "specialisation": f"rank by {self.order_class} specialisation"}[self.unit_order]
        # labels of the selected units on their heatmap rows
        units = list(self.selected_units)
        rank = np.empty(len(order), dtype=int)
        rank[order] = np.arange(len(order))
        with self.unit_labels.hold_sync():
            self.unit_labels.x = np.full(len(units), 1.0)
            self.unit_labels.y = rank[units] + 0.5 if units else np.zeros(0)
            self.unit_labels.text = [str(u) for u in units]
            self.unit_labels.colors = [UNIT_COLORS[i % len(UNIT_COLORS)] for i in range(len(units))] or UNIT_COLORS
        # unit lines
        with self.value_scale.hold_sync():
            pad = 0.04 * (cmap.vmax - cmap.vmin)
            self.value_scale.min, self.value_scale.max = cmap.vmin - pad, cmap.vmax + pad
        with self.lines.hold_sync():
            if units and cols.n:
                x, y = _envelope(cols, self.reader.frame_time, units)
                self.lines.x, self.lines.y = x, y.astype(np.float32)
                self.lines.labels = [f"unit {u}" for u in units]
                self.lines.colors = [UNIT_COLORS[i % len(UNIT_COLORS)] for i in range(len(units))]
                self.lines.visible = True
            else:
                self.lines.visible = False
                self.lines.labels = []

"""The Explorer's figures and controls (built once; :mod:`._views` draws into them).

Top to bottom, all on the one shared time scale: the waveform with the class bands (true, when the run has
labels, and predicted) and P/S arrivals (when the segments have any); the spectrogram; the class probabilities
(``prob``, when the run has them) as a stacked band; the activation heatmap with its colour bar; the time series
of the selected units with their legend above it. What a run does not hold is not drawn: a run without waveform
and without archive shows only the class bands in the top figure. Figures take the page's width (``width=None``)
or a fixed width in pixels; bqplot's hover toolbar is off (it covered the heatmap's labels).

Every figure sits in a row with a column of :data:`SIDE_WIDTH` pixels to its right (the colour bars of the
spectrogram and of the heatmap, an empty box beside the others): all figures have the same width and margins, so
their time axes line up to the pixel (a colour bar inside the heatmap's row once made its time axis narrower than
the others'). The highlight of the picked detection and the unit lines have colours apart from every class colour
of the run (:mod:`rnnscope.widgets._palette`).

The long traces (the waveform, the unit lines and their envelopes) are drawn in view coordinates: 0..1 across the
rendered time range and 0..1 up the figure, on fixed scales (``trace_x``, ``trace_y``); the axes beside them show
the real time and value scales. bqplot redraws (and interpolates, in a zero-length transition) every path of a mark
whenever one of its scales changes, so on the shared time scale each zoom made the browser rebuild these paths of
thousands of points once for the new range with the old data and again for the new data; in view coordinates a
render rebuilds them once. A pan or zoom in the browser moves the images at once and the traces with the next
render.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, Figure, Label, LinearScale, Lines
from bqplot.interacts import BrushIntervalSelector, PanZoom

from .._colors import CLASS_COLORS
from ._colorbar import ColorBar
from ._drawing import _P_COLOR, _S_COLOR, _legend_html, _readout_html
from ._palette import highlight_color, trace_colors
from ._render import png_mark
from ._timeaxis import js_number, nice_ticks

__all__ = ["MARGIN", "UNIT_COLORS", "SPEC_FMAX", "SIDE_WIDTH", "rank_ticks"]

#: colours of the unit lines (and of their labels on the heatmap) of a run of the default classes; other runs get
#: theirs from :func:`rnnscope.widgets._palette.trace_colors` (``Explorer.unit_colors``)
UNIT_COLORS = trace_colors(list(CLASS_COLORS))
#: figure margins (px); the right margin leaves room for the last time tick's label
MARGIN = {"top": 8, "bottom": 34, "left": 72, "right": 40}
#: width (px) of the column to the right of every figure (colour bars, or empty)
SIDE_WIDTH = 86
SPEC_FMAX = 25.0  # Hz shown in the spectrogram (as rnnscope.plots.record_overview)
_MARKER_OPACITY = 0.25


def rank_ticks(n: int, n_ticks: int = 6) -> tuple[np.ndarray, dict[str, str]]:
    """Tick values and labels of a heatmap's row axis (``n`` rows, row ``r`` from r to r + 1): round row numbers
    at the middle of their rows, at least three when there are three rows.

    Examples
    --------
    >>> values, labels = rank_ticks(16)
    >>> [labels[js_number(v)] for v in values]
    ['0', '5', '10', '15']
    >>> values, labels = rank_ticks(3)
    >>> [labels[js_number(v)] for v in values], values.tolist()
    (['0', '1', '2'], [0.5, 1.5, 2.5])
    """
    n = max(int(n), 1)
    ranks = nice_ticks(0, n - 1, n_ticks) if n > 1 else np.zeros(1)
    if ranks.size < 2 or float(ranks[1] - ranks[0]) < 1:
        ranks = np.arange(n, dtype=float)[:: max(1, n // n_ticks)]
    values = ranks + 0.5
    return values, {js_number(v): str(int(r)) for v, r in zip(values, ranks)}


class _FigureBuilder:
    """Mixin of :class:`~rnnscope.widgets.Explorer`: builds its figures, marks and controls."""

    def _layout(self, height: int) -> widgets.Layout:
        if self.fixed_width is None:
            # "auto" (stretched by the flex row), not "100%": bqplot's figure adds its own border box
            return widgets.Layout(width="auto", height=f"{height}px", flex="1 1 auto", min_width="0")
        return widgets.Layout(width=f"{self.fixed_width - SIDE_WIDTH}px", height=f"{height}px")

    def _figure(self, marks, axes, height, css, **kwargs) -> Figure:
        fig = Figure(marks=marks, axes=axes, fig_margin=dict(MARGIN), padding_x=0.0, padding_y=0.0,
                     animation_duration=0, min_aspect_ratio=0.001, max_aspect_ratio=1000.0, display_toolbar=False,
                     layout=self._layout(height), **kwargs)
        fig.add_class("rnnscope-view")
        fig.add_class(css)
        return fig

    def _row(self, figure: Figure, side: Figure | None = None) -> widgets.HBox:
        """``figure`` with its side column: a box of :data:`SIDE_WIDTH` pixels, empty or filled by ``side`` (a
        colour bar's figure; a figure is wider than its layout width by its border, a box is not)."""
        if side is not None:
            side.layout.width, side.layout.flex, side.layout.min_width = "auto", "1 1 auto", "0"
        box = widgets.Box([side] if side is not None else [],
                          layout=widgets.Layout(width=f"{SIDE_WIDTH}px", min_width=f"{SIDE_WIDTH}px",
                                                flex="0 0 auto", overflow="hidden"))
        return widgets.HBox([figure, box], layout=widgets.Layout(width="100%" if self.fixed_width is None
                                                                 else "auto"))

    def _time_axis(self, label: str = "") -> Axis:
        axis = Axis(scale=self.time_scale, label=label, tick_values=np.array([0.0]), tick_labels={"0": ""})
        self.time_axes.append(axis)
        return axis

    def _marker(self, filled: bool) -> Lines:
        """The picked detection's interval: a light band (line views) or an outline (image views)."""
        mark = Lines(x=np.zeros(5), y=np.array([0.0, 1.0, 1.0, 0.0, 0.0]),
                     scales={"x": self.time_scale, "y": self._unit_y}, colors=[self.highlight],
                     stroke_width=1.5 if filled else 2.5, fill="inside" if filled else "none",
                     fill_colors=[self.highlight], fill_opacities=[_MARKER_OPACITY], visible=False)
        self.markers.append(mark)
        return mark

    def _build_figures(self) -> None:  # long: one block per figure, top to bottom
        r = self.reader
        #: colour of the picked detection's highlight and of the unit lines: apart from the run's class colours
        self.highlight = highlight_color(r.class_names)
        self.unit_colors = trace_colors(r.class_names)
        self.time_scale = LinearScale(min=0.0, max=1.0, allow_padding=False)
        tscale = self.time_scale
        self._unit_y = LinearScale(min=0.0, max=1.0, allow_padding=False)
        unit_x = LinearScale(min=0.0, max=1.0, allow_padding=False)
        # the long traces' fixed view coordinates (see the module docstring)
        self.trace_x = LinearScale(min=0.0, max=1.0, allow_padding=False)
        self.trace_y = LinearScale(min=0.0, max=1.0, allow_padding=False)
        self.time_axes, self.markers = [], []

        # 1. waveform (when there is one), class bands (true above predicted), P and S arrivals
        self.amp_scale = LinearScale(min=-1.0, max=1.0, allow_padding=False)
        band = LinearScale(min=0.0, max=1.0, allow_padding=False)
        rows = (["true"] if r.has_labels else []) + (["pred"] if "pred" in self.run else [])
        self.band_rows = rows
        wave_h = 170 if r.has_waveform else 40 + 20 * max(1, len(rows))
        self._band_bottom = 0.845 if r.has_waveform else 0.0
        self.wave = Lines(x=np.zeros(2), y=np.zeros(2), scales={"x": self.trace_x, "y": self.trace_y},
                          colors=["#3a3a3a"], stroke_width=0.8, visible=r.has_waveform)
        self.band_image = png_mark(x=(0.0, 1.0), y=(self._band_bottom, 1.0), scales={"x": tscale, "y": band},
                                   pixelated=True)
        n_rows = max(1, len(rows))
        ys = [1.0 - (1.0 - self._band_bottom) * (i + 0.72) / n_rows for i in range(n_rows)]
        self.band_labels = Label(x=[0.004] * len(rows), y=ys[: len(rows)], text=rows, default_size=10,
                                 colors=["#222222"], scales={"x": unit_x, "y": band}, font_weight="normal",
                                 align="start")
        self.p_lines = Lines(x=np.zeros((1, 2)), y=np.zeros((1, 2)), scales={"x": tscale, "y": band},
                             colors=[_P_COLOR], stroke_width=1.2, visible=False)
        self.s_lines = Lines(x=np.zeros((1, 2)), y=np.zeros((1, 2)), scales={"x": tscale, "y": band},
                             colors=[_S_COLOR], stroke_width=1.2, line_style="dashed", visible=False)
        self.amp_axis = Axis(scale=self.amp_scale, side="left", label="counts", tick_format=".3~s",
                             label_offset="55px", visible=r.has_waveform)
        self.fig_waveform = self._figure(
            [self._marker(True), self.band_image, self.wave, self.p_lines, self.s_lines, self.band_labels],
            [self._time_axis(), self.amp_axis], wave_h, "rnnscope-waveform",
            interaction=PanZoom(scales={"x": [tscale]}))
        self._wave_row = self._row(self.fig_waveform)

        # 2. spectrogram
        fmax = min(SPEC_FMAX, float(r.freqs.max())) if r.freqs.size else 1.0
        self.n_freq = int(np.searchsorted(r.freqs, fmax, side="right")) if r.freqs.size else 0
        df = float(r.freqs[1] - r.freqs[0]) if r.freqs.size > 1 else 1.0
        self.freq_scale = LinearScale(min=0.0, max=float(fmax), allow_padding=False)
        self.spec_image = png_mark(x=(0.0, 1.0), y=(float(r.freqs[0]) - df / 2 if r.freqs.size else 0.0,
                                                   fmax + df / 2),
                                   scales={"x": tscale, "y": self.freq_scale}, pixelated=True)
        self.fig_spectrogram = self._figure(
            [self.spec_image, self._marker(False)],
            [self._time_axis(), Axis(scale=self.freq_scale, side="left", label="frequency (Hz)",
                                     tick_values=nice_ticks(0.0, float(fmax), 5), label_offset="55px")],
            150, "rnnscope-spectrogram", interaction=PanZoom(scales={"x": [tscale]}))
        #: the spectrogram's colour scale (log power)
        self.spec_colorbar = ColorBar(SIDE_WIDTH, 150, top=MARGIN["top"], bottom=MARGIN["bottom"],
                                      label="log power")
        self._spec_row = self._row(self.fig_spectrogram, self.spec_colorbar.figure)

        # 3. class probabilities (stacked), when the run has them
        self.fig_prob = None
        if r.has_prob:
            prob_y = LinearScale(min=0.0, max=1.0, allow_padding=False)
            self.prob_image = png_mark(x=(0.0, 1.0), y=(0.0, 1.0), scales={"x": tscale, "y": prob_y},
                                       pixelated=True)
            self.fig_prob = self._figure(
                [self.prob_image, self._marker(False)],
                [self._time_axis(), Axis(scale=prob_y, side="left", label="probability", label_offset="55px",
                                         tick_values=np.array([0.0, 0.5, 1.0]), tick_format=".1f")],
                96, "rnnscope-prob", interaction=PanZoom(scales={"x": [tscale]}))
            self._prob_row = self._row(self.fig_prob)

        # 4. activation heatmap: units x time, an Image mark (clicks arrive as element_click)
        n = r.n_units
        self.unit_scale = LinearScale(min=0.0, max=float(n), reverse=True, allow_padding=False)
        self.heat_image = png_mark(x=(0.0, 1.0), y=(float(n), 0.0), scales={"x": tscale, "y": self.unit_scale},
                                   pixelated=True)
        self.heat_image.on_element_click(self._on_heat_click)
        # labels of the selected units in the right margin, beside their rows (not over the image)
        self.unit_labels = Label(x=[], y=[], text=[], colors=self.unit_colors, default_size=11, font_weight="bold",
                                 scales={"x": unit_x, "y": self.unit_scale}, align="start", x_offset=4,
                                 y_offset=4, apply_clip=False)
        unit_ticks, unit_labels = rank_ticks(n)
        self.unit_axis = Axis(scale=self.unit_scale, side="left", label="unit", tick_values=unit_ticks,
                              tick_labels=unit_labels, label_offset="55px")
        self.heat_height = int(np.clip(2 * n + 60, 200, 420))
        self.fig_heatmap = self._figure([self.heat_image, self.unit_labels, self._marker(False)],
                                        [self._time_axis(), self.unit_axis], self.heat_height, "rnnscope-heatmap")
        self.colorbar = ColorBar(SIDE_WIDTH, self.heat_height, top=MARGIN["top"], bottom=MARGIN["bottom"],
                                 label="h")
        self.fig_colorbar = self.colorbar.figure
        self._heat_row = self._row(self.fig_heatmap, self.fig_colorbar)

        # 5. time series of the selected units: a light min/max envelope and a middle line per unit
        self.value_scale = LinearScale(min=-1.0, max=1.0, allow_padding=False)
        self.envelopes = Lines(x=np.zeros((1, 2)), y=np.zeros((1, 2)),
                               scales={"x": self.trace_x, "y": self.trace_y},
                               colors=self.unit_colors, fill="inside", fill_colors=self.unit_colors,
                               fill_opacities=[0.18],
                               stroke_width=0.0, opacities=[0.0], visible=False)
        self.lines = Lines(x=np.zeros(2), y=np.zeros((1, 2)), scales={"x": self.trace_x, "y": self.trace_y},
                           colors=self.unit_colors, stroke_width=1.3, labels=[], visible=False)
        self.zero_line = Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales={"x": unit_x, "y": self.value_scale},
                               colors=["#bbbbbb"], stroke_width=0.8)
        self.brush = BrushIntervalSelector(scale=tscale, color="#888888")
        self.brush.observe(self._on_brush, names=["brushing"])
        self.value_axis = Axis(scale=self.value_scale, side="left", label="h", label_offset="55px",
                               tick_values=np.array([-1.0, -0.5, 0.0, 0.5, 1.0]))
        self.bottom_axis = self._time_axis("time")
        self.fig_lines = self._figure([self._marker(True), self.zero_line, self.envelopes, self.lines],
                                      [self.bottom_axis, self.value_axis], 200, "rnnscope-lines",
                                      interaction=self.brush)
        self._lines_row = self._row(self.fig_lines)
        self.w_unit_legend = widgets.HTML(layout=widgets.Layout(padding="0 8px"))

    def _build_controls(self) -> None:
        r = self.reader
        options = [(f"{i}: {r.event_ids[i]} · {cls} · {r.duration(i):.0f} s", i)
                   for i, cls in enumerate(r.main_classes())]

        def style(w):
            return {"description_width": f"{w}px"}

        self.w_event = widgets.Dropdown(options=options, description="record", style=style(46),
                                        layout=widgets.Layout(width="300px"))
        self.w_var = widgets.Dropdown(options=r.variables, description="variable", style=style(54),
                                      layout=widgets.Layout(width="165px"))
        # "encoder.lstm[0] backward" for runs of any nn.Module (rnnscope.schema.layer_labels), else the layer id
        self.w_layer = widgets.Dropdown(options=[(label, i) for i, label in enumerate(r.layer_labels)],
                                        description="layer", style=style(36), layout=widgets.Layout(width="auto"))
        orders = [("unit id", "index"), ("activity", "activity")]
        orders += [("specialisation", "specialisation")] if r.class_names else []  # it needs labels
        self.w_order = widgets.Dropdown(options=orders, description="order", style=style(38),
                                        layout=widgets.Layout(width="160px"))
        # "of": the class whose specialisation orders the rows (the review page's "class" is the decision's)
        self.w_class = widgets.Dropdown(options=r.class_names, description="of", style=style(20),
                                        layout=widgets.Layout(width="100px"))
        self.w_whole = widgets.Button(description="whole record", tooltip="zoom out to the whole record",
                                      layout=widgets.Layout(width="105px"))
        self.w_whole.on_click(lambda _: self.show_whole_record())
        self.w_time_format = widgets.ToggleButtons(options=[("UTC", "utc"), ("s", "seconds")],
                                                   value=self.time_format,
                                                   tooltips=["UTC clock time", "seconds from the record start"],
                                                   style={"button_width": "54px"},
                                                   layout=widgets.Layout(width="auto"))
        self.w_time_format.observe(self._control_changed("time_format"), names="value")
        for w, name in [(self.w_event, "event"), (self.w_var, "var"), (self.w_layer, "layer"),
                        (self.w_order, "unit_order"), (self.w_class, "order_class")]:
            w.observe(self._control_changed(name), names="value")
        controls = ([self.w_event] if len(options) > 1 else []) + [
            self.w_var, self.w_layer, self.w_order, self.w_class, self.w_whole]
        if r.starttimes is not None and any(t is not None for t in r.starttimes):
            controls.append(self.w_time_format)
        self._controls = widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap"))
        has_ps = bool(len(r.segments)) and bool(np.isfinite(r.segments[["p", "s"]].to_numpy(dtype=float)).any())
        self.w_legend = widgets.HTML(_legend_html(r.class_names, self.band_rows, has_ps, r.has_prob))
        self.w_readout = widgets.HTML(_readout_html(None))
        self._legend_row = widgets.VBox([self.w_legend, self.w_readout], layout=widgets.Layout(padding="0 8px"))

    def _control_changed(self, name):
        def handler(change):
            if getattr(self, name) != change["new"]:
                setattr(self, name, change["new"])
        return handler

    def _sync_controls(self) -> None:
        self.w_event.value = self.event
        self.w_var.value = self.var
        self.w_layer.value = self.layer
        self.w_order.value = self.unit_order
        if self.reader.class_names:
            self.w_class.value = self.order_class
        self.w_class.disabled = self.unit_order != "specialisation" or not self.reader.class_names
        self.w_time_format.value = self.time_format

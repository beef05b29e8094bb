"""What the Explorer's figures share: the time scale, the layout of a figure and its row, the time axes, the picked
detection's markers and the long traces' view coordinates (:class:`FigureKit`). Each view component builds its own
figure with the kit (:mod:`._views`, :mod:`._units`, :mod:`._why`), as bqplot composes scales, marks and axes.

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

from typing import TYPE_CHECKING

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, Figure, LinearScale, Lines

from .._colors import CLASS_COLORS
from ._palette import highlight_color, trace_colors
from ._timeaxis import js_number, nice_ticks, time_ticks

if TYPE_CHECKING:
    from ._source import RunReader
    from ._state import ExplorerState

__all__ = ["FigureKit", "MARGIN", "UNIT_COLORS", "SPEC_FMAX", "SIDE_WIDTH", "rank_ticks", "to_view", "from_view"]

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
    return values, {js_number(v): str(int(r)) for v, r in zip(values, ranks, strict=True)}


class FigureKit:
    """The shared parts of the Explorer's figures: one time scale for all of them, the layout every figure and its
    side column take, the time axes (rendered together), the picked detection's markers and the long traces sent
    in view coordinates.

    Parameters
    ----------
    reader : RunReader
        The run's reader (its class names choose the highlight and unit colours).
    fixed_width : int, optional
        Width of the views in pixels; None follows the page.
    """

    def __init__(self, reader: RunReader, fixed_width: int | None = None):
        self.fixed_width = fixed_width
        #: colour of the picked detection's highlight and of the unit lines: apart from the run's class colours
        self.highlight = highlight_color(reader.class_names)
        self.unit_colors: list[str] = trace_colors(reader.class_names)
        #: the one time scale (s from the record start) every figure's marks and axes use
        self.time_scale = LinearScale(min=0.0, max=1.0, allow_padding=False)
        #: 0..1 up a figure (markers)
        self.unit_y = LinearScale(min=0.0, max=1.0, allow_padding=False)
        #: 0..1 across a figure (labels placed in the plot area)
        self.unit_x = LinearScale(min=0.0, max=1.0, allow_padding=False)
        #: the long traces' fixed view coordinates (see the module docstring)
        self.trace_x = LinearScale(min=0.0, max=1.0, allow_padding=False)
        self.trace_y = LinearScale(min=0.0, max=1.0, allow_padding=False)
        #: the time axes' widgets (the unlabelled one is shared by the figures that show one, see time_axis)
        self.time_axes: list[Axis] = []
        self._plain_axis: Axis | None = None
        #: the picked detection's marks: one filled, one outlined, each shared by the figures that show it
        self.markers: list[Lines] = []
        #: the time axis at the bottom of the views (its label names the time)
        self.bottom_axis: Axis | None = None
        self._trace_ranges: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}

    # ------------------------------------------------------------------------------------------- building
    def layout(self, height: int) -> widgets.Layout:
        """Layout of a figure ``height`` pixels high: the page's width less the side column, or the fixed one."""
        if self.fixed_width is None:
            # "auto" (stretched by the flex row), not "100%": bqplot's figure adds its own border box
            return widgets.Layout(width="auto", height=f"{height}px", flex="1 1 auto", min_width="0")
        return widgets.Layout(width=f"{self.fixed_width - SIDE_WIDTH}px", height=f"{height}px")

    def figure(self, marks: list, axes: list, height: int, css: str, **kwargs) -> Figure:
        """A figure of the views: shared margins, no padding, no toolbar, CSS classes ``rnnscope-view`` and ``css``."""
        fig = Figure(marks=marks, axes=axes, fig_margin=dict(MARGIN), padding_x=0.0, padding_y=0.0,
                     animation_duration=0, min_aspect_ratio=0.001, max_aspect_ratio=1000.0, display_toolbar=False,
                     layout=self.layout(height), **kwargs)
        fig.add_class("rnnscope-view")
        fig.add_class(css)
        return fig

    def row(self, figure: Figure, side: Figure | None = None) -> widgets.HBox:
        """``figure`` with its side column: a box of :data:`SIDE_WIDTH` pixels, empty or filled by ``side`` (a
        colour bar's figure; a figure is wider than its layout width by its border, a box is not)."""
        if side is not None:
            side.layout.width, side.layout.flex, side.layout.min_width = "auto", "1 1 auto", "0"
        box = widgets.Box([side] if side is not None else [],
                          layout=widgets.Layout(width=f"{SIDE_WIDTH}px", min_width=f"{SIDE_WIDTH}px",
                                                flex="0 0 auto", overflow="hidden"))
        return widgets.HBox([figure, box], layout=widgets.Layout(width="100%" if self.fixed_width is None
                                                                 else "auto"))

    def time_axis(self, label: str = "", *, bottom: bool = False) -> Axis:
        """A time axis on the shared scale, rendered with the others (:meth:`render_time_axes`); ``bottom``: the
        one whose label names the time. The axes without a label are one widget shown in every figure that asks
        for one (each figure draws its own view of it): a render sends their ticks once, not once per figure."""
        shared = not label and not bottom
        if shared and self._plain_axis is not None:
            return self._plain_axis
        axis = Axis(scale=self.time_scale, label=label, tick_values=np.array([0.0]), tick_labels={"0": ""})
        self.time_axes.append(axis)
        if shared:
            self._plain_axis = axis
        if bottom:
            self.bottom_axis = axis
        return axis

    def marker(self, filled: bool) -> Lines:
        """The picked detection's interval: a light band (line views) or an outline (image views). One mark of
        each kind, shown in every figure that asks for it: a pick sends the interval once per kind."""
        made = next((m for m in self.markers if (m.fill == "inside") == filled), None)
        if made is not None:
            return made
        mark = Lines(x=np.zeros(5), y=np.array([0.0, 1.0, 1.0, 0.0, 0.0]),
                     scales={"x": self.time_scale, "y": self.unit_y}, colors=[self.highlight],
                     stroke_width=1.5 if filled else 2.5, fill="inside" if filled else "none",
                     fill_colors=[self.highlight], fill_opacities=[_MARKER_OPACITY], visible=False)
        self.markers.append(mark)
        return mark

    # ------------------------------------------------------------------------------------------- drawing
    def render_time_axes(self, state: ExplorerState) -> None:
        """Ticks of every time axis for the state's visible range, in its time format."""
        t0, t1 = state.time_range
        # no tick in the last 2 % of the view: the label of a tick at the right edge would stick out
        values, labels, title = time_ticks(t0, t1 - 0.02 * (t1 - t0), state.starttime(), n=state.n_ticks,
                                           relative=state.time_format == "seconds")
        for axis in self.time_axes:
            # labels first, in a message of their own: bqplot redraws new tick values in a transition that keeps
            # the formatter of that moment, so labels arriving with the values would be overwritten by old ones.
            # Unchanged ticks (a small pan) send nothing.
            if axis.tick_labels != labels:
                axis.tick_labels = labels
            if axis.tick_values is None or not np.array_equal(axis.tick_values, values):
                axis.tick_values = values
        if self.bottom_axis is not None:
            self.bottom_axis.label = title

    def show_marker(self, interval: tuple[float, float] | None) -> None:
        """Mark ``interval`` (s) on every view, or hide the markers (None)."""
        for mark in self.markers:
            with mark.hold_sync():
                if interval is not None:
                    t0, t1 = interval
                    mark.x = np.array([t0, t0, t1, t1, t0])
                mark.visible = interval is not None

    def set_trace(self, mark: Lines, name: str, x, y, time_range, value_range) -> None:
        """Send a long trace in view coordinates: ``x`` in s, ``y`` in data units, mapped to 0..1 across
        ``time_range`` and ``value_range`` (kept under ``name`` for :meth:`trace_data`)."""
        mark.x = to_view(x, *time_range)
        mark.y = to_view(y, *value_range)
        self._trace_ranges[name] = ((float(time_range[0]), float(time_range[1])),
                                    (float(value_range[0]), float(value_range[1])))

    def trace_data(self, name: str, mark: Lines) -> tuple[np.ndarray, np.ndarray]:
        """The trace ``name`` that ``mark`` holds, in data units (empty before it was drawn)."""
        if name not in self._trace_ranges:
            return np.zeros(0), np.zeros(0)
        (t0, t1), (v0, v1) = self._trace_ranges[name]
        return from_view(mark.x, t0, t1), from_view(mark.y, v0, v1)

    def trace_ranges(self, name: str) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The (time, value) ranges the view coordinates of trace ``name`` span (None before it was drawn)."""
        return self._trace_ranges.get(name)


def to_view(values, lo: float, hi: float) -> np.ndarray:
    """``values`` mapped to 0..1 across ``lo``..``hi`` (float32; NaN stays NaN): how long traces are sent.

    >>> to_view([10.0, 15.0, 20.0, np.nan], 10.0, 20.0).tolist()[:3]
    [0.0, 0.5, 1.0]
    """
    span = float(hi) - float(lo)
    return ((np.asarray(values, dtype=np.float64) - float(lo)) / (span if span > 0 else 1.0)).astype(np.float32)


def from_view(values, lo: float, hi: float) -> np.ndarray:
    """The inverse of :func:`to_view` (float64).

    >>> from_view(to_view([2.5, 7.5], 0.0, 10.0), 0.0, 10.0).tolist()
    [2.5, 7.5]
    """
    span = float(hi) - float(lo)
    return float(lo) + np.asarray(values, dtype=np.float64) * (span if span > 0 else 1.0)

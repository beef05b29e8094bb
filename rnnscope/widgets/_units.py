"""The Explorer's unit views, one component each, reading one set of state columns (:class:`UnitColumns`): the
activation heatmap, units x time (:class:`HeatmapView`), and the time series of the selected units
(:class:`TracesView`).

A click on a heatmap row points at that unit at that time (and adds or removes its line); a click without drag on
the traces points at the displayed unit line nearest the click at that time (the brush keeps zooming on a drag):
either calls the Explorer's ``on_pick(unit, time, toggle)``, which updates the readout and, with attributions, shows
why the unit takes its value there.

At coarse zoom (several frames per column) each unit's trace is a light min/max envelope with its middle line, so
every unit stays visible where envelopes overlap. The lines get one point per pixel of the plot area (the images
two columns per pixel).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, Label, LinearScale, Lines
from bqplot.interacts import BrushIntervalSelector

from . import _summaries as summaries
from ._clicks import PlotClicks
from ._colorbar import ColorBar
from ._drawing import _envelope, _unit_legend_html
from ._figures import MARGIN, SIDE_WIDTH, FigureKit, rank_ticks
from ._render import ColorMap, colormap_for, encode_png, fold_minmax, pick_extreme, png_mark, set_png
from ._source import Columns
from ._state import ExplorerState
from ._timeaxis import nice_ticks

__all__ = ["UnitColumns", "HeatmapView", "TracesView", "spread_labels"]

class OnPick(Protocol):
    """``on_pick(unit, time, toggle=...)``: a view pointed at ``unit`` at ``time`` (s); ``toggle``: add or remove its
    line too."""

    def __call__(self, unit: int, time: float, *, toggle: bool = False) -> None: ...


class UnitColumns:
    """The state columns of the visible range (the selected variable and layer, folded to the image columns), read
    once per render and shared by the heatmap and the traces, with their colour map.

    Parameters
    ----------
    state : ExplorerState
    """

    def __init__(self, state: ExplorerState):
        self.state = state
        #: the columns read for the current view (None: read at the next render)
        self.cols: Columns | None = None
        #: the time range ``cols`` were read for
        self.cols_range: tuple[float, float] = (0.0, 1.0)
        self._robust: dict[tuple[int, str, int], float] = {}
        self._ranges: dict[tuple[str, int], tuple[float, float]] = {}

    def clear(self) -> None:
        """Forget the columns: the next :meth:`read` reads the state again."""
        self.cols = None

    def read(self, reread: bool = True) -> Columns:
        """The columns of the visible range (read now, unless ``reread`` is False and some are read)."""
        state = self.state
        if self.cols is None or reread:
            i0, i1 = state.view_frames()
            self.cols = state.reader.state_columns(state.event, state.var, state.layer, i0, i1, state.n_cols)
            t0, t1 = state.time_range
            self.cols_range = (float(t0), float(t1))
        return self.cols

    def colormap(self, cols: Columns) -> ColorMap:
        """Colours of the variable shown: its stored value range (never an assumed [-1, 1]); for ``c``, a robust
        range (99th percentile of |c|) read from the record's first view."""
        state = self.state
        var, layer = state.var, state.layer
        key = (state.event, var, layer)
        if var == "c" and key not in self._robust and cols.n:
            ext = pick_extreme(cols.lo, cols.hi, 0.0)
            finite = np.abs(ext[np.isfinite(ext)])
            self._robust[key] = float(np.percentile(finite, 99)) if finite.size else 1.0
        if (var, layer) not in self._ranges:  # the summaries do not change: read once per variable and layer
            self._ranges[var, layer] = summaries.value_range(state.reader.summary, var, layer)
        lo, hi = self._ranges[var, layer]
        return colormap_for(var, robust_max=self._robust.get(key), vmin=lo, vmax=hi)


class HeatmapView:
    """The activation heatmap: one row per unit (in the state's order), one image column per two pixels, its colour
    bar, and the selected units' labels at their rows. The figure has no interaction of its own, so that a click on
    a row reaches the image (``element_click``).

    Parameters
    ----------
    state : ExplorerState
    kit : FigureKit
    on_pick : callable
        ``on_pick(unit, time, toggle=True)``, called on a click on a row.
    """

    def __init__(self, state: ExplorerState, kit: FigureKit, on_pick: OnPick):
        self.state, self.kit, self.on_pick = state, kit, on_pick
        n = state.reader.n_units
        self.unit_scale = LinearScale(min=0.0, max=float(n), reverse=True, allow_padding=False)
        self.image = png_mark(x=(0.0, 1.0), y=(float(n), 0.0), scales={"x": kit.time_scale, "y": self.unit_scale},
                              pixelated=True)
        self.image.on_element_click(self._clicked)
        # labels of the selected units in the right margin, beside their rows (not over the image)
        self.unit_labels = Label(x=[], y=[], text=[], colors=kit.unit_colors, default_size=11, font_weight="bold",
                                 scales={"x": kit.unit_x, "y": self.unit_scale}, align="start", x_offset=4,
                                 y_offset=4, apply_clip=False)
        unit_ticks, unit_labels = rank_ticks(n)
        self.unit_axis = Axis(scale=self.unit_scale, side="left", label="unit", tick_values=unit_ticks,
                              tick_labels=unit_labels, label_offset="55px")
        self.height = int(np.clip(2 * n + 60, 200, 420))
        self.figure = kit.figure([self.image, self.unit_labels, kit.marker(False)],
                                 [kit.time_axis(), self.unit_axis], self.height, "rnnscope-heatmap")
        self.colorbar = ColorBar(SIDE_WIDTH, self.height, top=MARGIN["top"], bottom=MARGIN["bottom"], label="h")
        self.row = kit.row(self.figure, self.colorbar.figure)

    def _clicked(self, _mark, content) -> None:
        data = content.get("data", {})
        x, y = data.get("click_x"), data.get("click_y")
        if x is None or y is None:
            return
        order = self.state.order
        rank = int(np.clip(np.floor(float(y)), 0, len(order) - 1))
        self.on_pick(int(order[rank]), float(x), toggle=True)

    def render(self, cols: Columns, cmap: ColorMap, order: np.ndarray) -> None:
        """The image of ``cols`` in row ``order``, its colour bar and axis names."""
        state = self.state
        ext = pick_extreme(cols.lo, cols.hi, cmap.center)
        index = cmap.indices(ext[:, order].T) if cols.n else np.full((1, 1), 255, np.uint8)
        with self.image.hold_sync():
            set_png(self.image, encode_png(index, cmap.palette()))
            if cols.n:
                self.image.x = state.image_x(cols)
        self.colorbar.show(cmap, state.layer_label())
        self.unit_axis.label = {"index": "unit", "activity": "rank by activity",
                                "specialisation": f"rank by {state.order_class} specialisation"}[state.unit_order]

    def render_labels(self, order: np.ndarray) -> None:
        """Labels of the selected units at their heatmap rows, pushed apart so that they never overlap."""
        units = list(self.state.selected_units)
        rank = np.empty(len(order), dtype=int)
        rank[order] = np.arange(len(order))
        plot_px = max(1.0, self.height - MARGIN["top"] - MARGIN["bottom"])
        y = spread_labels(rank[units] + 0.5 if units else np.zeros(0), gap=13.0 * len(order) / plot_px,
                          lo=0.0, hi=float(len(order)))
        with self.unit_labels.hold_sync():
            self.unit_labels.x = np.full(len(units), 1.0)
            self.unit_labels.y = y
            self.unit_labels.text = [str(u) for u in units]
            self.unit_labels.colors = unit_colors(self.kit, len(units)) or self.kit.unit_colors


class TracesView:
    """The time series of the selected units (a middle line per unit, with a light min/max envelope at coarse
    zoom), their legend above the figure, and the bottom time axis. A brush zooms every view (``on_interval``); a
    click without drag points at the displayed line nearest the click (:class:`~rnnscope.widgets._clicks.PlotClicks`,
    :meth:`pick`).

    Parameters
    ----------
    state : ExplorerState
    kit : FigureKit
    on_pick : callable
        ``on_pick(unit, time, toggle=False)``, called on a click on a trace.
    on_interval : callable
        ``on_interval(t0, t1)``, called when a brush ends on an interval.
    """

    HEIGHT = 200

    def __init__(self, state: ExplorerState, kit: FigureKit, on_pick: OnPick,
                 on_interval: Callable[[float, float], None]):
        self.state, self.kit, self.on_pick, self.on_interval = state, kit, on_pick, on_interval
        self.value_scale = LinearScale(min=-1.0, max=1.0, allow_padding=False)
        colors = kit.unit_colors
        self.envelopes = Lines(x=np.zeros((1, 2)), y=np.zeros((1, 2)), scales={"x": kit.trace_x, "y": kit.trace_y},
                               colors=colors, fill="inside", fill_colors=colors, fill_opacities=[0.18],
                               stroke_width=0.0, opacities=[0.0], visible=False)
        self.lines = Lines(x=np.zeros(2), y=np.zeros((1, 2)), scales={"x": kit.trace_x, "y": kit.trace_y},
                           colors=colors, stroke_width=1.3, labels=[], visible=False)
        self.zero_line = Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales={"x": kit.unit_x, "y": self.value_scale},
                               colors=["#bbbbbb"], stroke_width=0.8)
        self.brush = BrushIntervalSelector(scale=kit.time_scale, color="#888888")
        self.brush.observe(self._brushed, names=["brushing"])
        self.value_axis = Axis(scale=self.value_scale, side="left", label="h", label_offset="55px",
                               tick_values=np.array([-1.0, -0.5, 0.0, 0.5, 1.0]))
        self.bottom_axis = kit.time_axis("time", bottom=True)
        self.figure = kit.figure([kit.marker(True), self.zero_line, self.envelopes, self.lines],
                                 [self.bottom_axis, self.value_axis], self.HEIGHT, "rnnscope-lines",
                                 interaction=self.brush)
        self.row = kit.row(self.figure)
        #: the legend of the lines, above the figure
        self.legend = widgets.HTML(layout=widgets.Layout(padding="0 8px"))
        #: clicks without drag on the figure (the brush takes the mouse from the line marks)
        self.clicks = PlotClicks(".rnnscope-explorer", ".rnnscope-lines")
        self.clicks.on_click(self._clicked)

    # ------------------------------------------------------------------------------------------- interaction
    def _brushed(self, change) -> None:
        """A brush ended: hand its interval on (and clear it)."""
        if change["new"]:
            return
        sel = self.brush.selected
        if sel is not None and len(sel) == 2 and float(sel[1]) != float(sel[0]):
            self.brush.selected = None
            self.on_interval(float(min(sel)), float(max(sel)))

    def _clicked(self, x: float, y: float) -> None:
        """A click without drag at (``x``, ``y``), fractions of the plot area from its left and top edges."""
        t0, t1 = self.state.time_range
        v0, v1 = float(self.value_scale.min), float(self.value_scale.max)
        time = t0 + x * (t1 - t0)
        unit = self.pick(time, v1 - y * (v1 - v0))
        if unit is not None:
            self.on_pick(unit, time, toggle=False)

    def pick(self, time: float, value: float) -> int | None:
        """The displayed unit whose line (or, at coarse zoom, min/max envelope) passes nearest ``value`` at the
        drawn point nearest ``time`` (s); None when no line is drawn or ``time`` is off the drawn range."""
        units = list(self.state.selected_units)
        if not (units and self.lines.visible):
            return None
        t, middle = self.kit.trace_data("lines", self.lines)
        middle = np.atleast_2d(middle)
        if t.size == 0 or middle.shape[0] != len(units) or not t[0] - self._gap(t) <= time <= t[-1] + self._gap(t):
            return None
        i = int(np.argmin(np.abs(t - time)))
        lo = hi = middle[:, i]
        if self.envelopes.visible:
            ring_t, ring = self.kit.trace_data("envelopes", self.envelopes)
            n = ring_t.size // 2
            if n and ring.shape == (len(units), 2 * n):
                j = int(np.argmin(np.abs(ring_t[:n] - time)))
                lo, hi = ring[:, j], ring[:, 2 * n - 1 - j]
        lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
        outside = np.where(value < lo, lo - value, np.where(value > hi, value - hi, 0.0))
        distance = np.nan_to_num(outside, nan=np.inf) + 1e-6 * np.nan_to_num(np.abs(middle[:, i] - value), nan=1.0)
        if not np.isfinite(distance).any():
            return None
        return int(units[int(np.argmin(distance))])

    @staticmethod
    def _gap(t: np.ndarray) -> float:
        return float(np.median(np.diff(t))) if t.size > 1 else 0.0

    # ------------------------------------------------------------------------------------------- drawing
    def render(self, cols: Columns, cmap: ColorMap, cols_range: tuple[float, float]) -> None:
        """The selected units' lines (and envelopes) of ``cols`` on ``cmap``'s value range, and their legend."""
        state, kit = self.state, self.kit
        units = list(state.selected_units)
        colors = unit_colors(kit, len(units))
        pad = 0.04 * (cmap.vmax - cmap.vmin)
        values = (cmap.vmin - pad, cmap.vmax + pad)
        with self.value_scale.hold_sync():
            self.value_scale.min, self.value_scale.max = values
        self.value_axis.tick_values = nice_ticks(cmap.vmin, cmap.vmax, 4)
        self.value_axis.label = state.layer_label()
        self.legend.value = _unit_legend_html(units, colors, state.var, state.layer)
        if not (units and cols.n):
            self.lines.visible = self.envelopes.visible = False
            self.lines.labels = []
            return
        labels = [f"unit {u}" for u in units]
        if cols.step == 1:
            x, y = _envelope(cols, state.reader.frame_time, units)
            with self.lines.hold_sync():
                kit.set_trace(self.lines, "lines", x, y, cols_range, values)
                self.lines.labels, self.lines.colors, self.lines.visible = labels, colors, True
            self.envelopes.visible = False
            return
        # lines need one column per pixel (the images keep two for sharp high-DPI screens): half the points for
        # the browser to draw on every pan and zoom
        lo, hi, k = fold_minmax(cols.lo[:, units], cols.hi[:, units], state.plot_width)
        step = cols.step * k
        last = cols.start + cols.n * cols.step - 1  # the last frame the columns cover
        centre = state.reader.frame_time(np.minimum(cols.start + np.arange(lo.shape[0]) * step + (step - 1) / 2,
                                                    last))
        lo, hi = lo.T, hi.T  # (units, n)
        with self.lines.hold_sync():
            kit.set_trace(self.lines, "lines", centre, (lo + hi) / 2, cols_range, values)
            self.lines.labels, self.lines.colors, self.lines.visible = labels, colors, True
        ring_x = np.concatenate([centre, centre[::-1]])
        with self.envelopes.hold_sync():
            # one x for every unit's ring (bqplot broadcasts it): 1/units of the bytes
            kit.set_trace(self.envelopes, "envelopes", ring_x, np.concatenate([lo, hi[:, ::-1]], axis=1),
                          cols_range, values)
            self.envelopes.fill_colors, self.envelopes.colors = colors, colors
            self.envelopes.fill_opacities = [0.16] * len(units)
            self.envelopes.visible = True


def unit_colors(kit: FigureKit, n: int) -> list[str]:
    """Colours of ``n`` unit lines (cycling through the kit's)."""
    return [kit.unit_colors[i % len(kit.unit_colors)] for i in range(n)]


def spread_labels(y: np.ndarray, gap: float, lo: float, hi: float) -> np.ndarray:
    """Positions as close to ``y`` as possible, at least ``gap`` apart, inside [lo + gap/2, hi - gap/2].

    Examples
    --------
    >>> spread_labels(np.array([5.5, 5.5, 6.5, 20.5]), gap=2.0, lo=0.0, hi=64.0).tolist()
    [5.5, 7.5, 9.5, 20.5]
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        return y
    order = np.argsort(y, kind="stable")
    s = y[order].copy()
    half = gap / 2
    s[0] = max(s[0], lo + half)
    for i in range(1, s.size):  # push down
        s[i] = max(s[i], s[i - 1] + gap)
    s[-1] = min(s[-1], hi - half)
    for i in range(s.size - 2, -1, -1):  # then up, where the bottom was reached
        s[i] = min(s[i], s[i + 1] - gap)
    out = np.empty_like(s)
    out[order] = s
    return out

"""What the Explorer draws for the visible range: time axes, heatmap, unit lines, probabilities, spectrogram,
waveform, class bands and the picked detection's marker.

Nothing is sent per frame: every view is folded to the image columns of the plot (about two per pixel) by
:class:`~rnnscope.widgets._source.RunReader`, images go as 8-bit PNGs and lines as one point per column (or a
min/max envelope). At coarse zoom (several frames per column) each unit is drawn as a light min/max envelope with
its middle line, so every unit stays visible where envelopes overlap; the probabilities show per column the
largest probability of each event class in it, stacked, the background class filling the rest (so a short event
stays visible at day scale).
"""
from __future__ import annotations

import logging

import numpy as np

from . import _summaries as summaries
from ._drawing import _count_colors, _envelope, _unit_legend_html
from ._figures import MARGIN
from ._render import (
    ColorMap,
    colormap_for,
    encode_png,
    encode_rgb_png,
    fold_minmax,
    hex_to_rgb,
    pick_extreme,
    set_png,
)
from ._timeaxis import nice_ticks, time_ticks

__all__ = []

log = logging.getLogger("rnnscope.widgets")
_PROB_ROWS = 64  # pixel rows of the stacked probability image


class _Views:
    """Mixin of :class:`~rnnscope.widgets.Explorer`: renders its views for the current state."""

    def _render_views(self) -> None:
        from ._source import local_dask

        with local_dask():
            self._render_all()

    def _render_all(self) -> None:
        log.debug("render event %s, %s s", self.event, self.time_range)
        self.render_count += 1
        self._rendered = self._view_key()
        self._preload()
        self._cols = None
        self._render_states()  # the heatmap first: the view users watch while zooming
        self._render_time_axes()
        self._render_prob()
        self._render_spectrogram()
        self._render_waveform()
        self._prefetch()

    # ------------------------------------------------------------------------------------------- time
    def _starttime(self):
        st = self.reader.starttimes
        return None if st is None else st[self.event]

    def _render_time_axes(self) -> None:
        t0, t1 = self.time_range
        # no tick in the last 2 % of the view: the label of a tick at the right edge would stick out
        values, labels, title = time_ticks(t0, t1 - 0.02 * (t1 - t0), self._starttime(), n=self.n_ticks,
                                           relative=self.time_format == "seconds")
        for axis in self.time_axes:
            # labels first, in a message of their own: bqplot redraws new tick values in a transition that keeps
            # the formatter of that moment, so labels arriving with the values would be overwritten by old ones.
            # Unchanged ticks (a small pan) send nothing.
            if axis.tick_labels != labels:
                axis.tick_labels = labels
            if axis.tick_values is None or not np.array_equal(axis.tick_values, values):
                axis.tick_values = values
        self.bottom_axis.label = title

    # ------------------------------------------------------------------------------------------- reading
    def _preload(self) -> None:
        """Read every slice the views need (a level of the run's overview, or the frames) in one dask computation
        (decompressed in parallel)."""
        r, ev = self.reader, self.event
        i0, i1 = self._view_frames()
        keys = [("state", ev, self.var, self.layer), ("prob", ev) if r.has_prob else None,
                ("spectrogram", ev, self.n_freq) if r.has_spectrogram and self.n_freq else None]
        keys += [(name, ev) for name in ("label", "pred") if name in self.run]
        requests = [req for key in keys if key is not None for req in r.requests(key, i0, i1, self.n_cols)]
        if r.waveform_origin == "run":
            s0, s1 = r.sample_range(ev, *self.time_range)
            requests += r.requests(("waveform", ev), s0, s1, self.plot_width)
        r.preload(requests)

    def _prefetch(self) -> None:
        from ._source import RAW_FRAMES_PER_COLUMN

        if self.prefetch and self.reader.lengths[self.event] > RAW_FRAMES_PER_COLUMN * self.n_cols:
            self.reader.prefetch(self.event, self.var, self.layer, self.n_freq)

    def _view_frames(self):
        t0, t1 = self.time_range
        return self.reader.frame_range(self.event, t0, t1)

    def _image_x(self, cols) -> tuple[float, float]:
        r = self.reader
        return (float(r.frame_time(cols.start) - r.dt / 2),
                float(r.frame_time(cols.start + cols.n * cols.step) - r.dt / 2))

    # ------------------------------------------------------------------------------------------- waveform
    def _render_waveform(self) -> None:
        r, ev = self.reader, self.event
        i0, i1 = self._view_frames()
        # class bands: true (top, when the run has labels) and predicted, one pixel column per image column
        rows, cols = [], None
        for name in self.band_rows:
            if name == "pred" and "pred" not in self.run:
                continue
            cols = r.class_columns(ev, "label" if name == "true" else "pred", i0, i1, self.n_cols)
            colors = _count_colors(cols.hi, r.class_names, r.background)
            rows += [colors, colors, None]
        if cols is not None and cols.n:
            blank = np.zeros((cols.n, 4), np.uint8)
            rgba = np.stack([blank if x is None else x for x in rows[:-1]])
            with self.band_image.hold_sync():
                set_png(self.band_image, encode_rgb_png(rgba))
                self.band_image.x = self._image_x(cols)
        self._render_arrivals()
        self._render_wave()

    def _render_wave(self) -> None:
        """The waveform line. From an archive (a monitor run), a view that needs the levels of a record not read
        yet is drawn once a background thread has read the record (the other views do not wait for it)."""
        r, ev = self.reader, self.event
        if not r.has_waveform or not r.waveform_available(ev):
            self.wave.visible = False
            self.amp_axis.visible = False
            return
        t0, t1 = self.time_range
        s0, s1 = r.sample_range(ev, t0, t1)
        if (r.waveform_origin == "archive" and r.needs_build(("waveform", ev), s0, s1, self.plot_width)
                and _in_background(lambda: r.build(("waveform", ev)), self._render_wave)):
            return
        cols = r.waveform_columns(ev, s0, s1, self.plot_width)  # a line: one (min, max) column per pixel
        x, y = _envelope(cols, lambda i: r.sample_time(ev, i))
        finite = y[np.isfinite(y)] if y.size else y
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        span = hi - lo
        amp = (lo - 0.03 * span, lo - 0.03 * span + 1.06 * span / (self._band_bottom - 0.01))  # below the bands
        with self.wave.hold_sync():
            self._set_trace(self.wave, "wave", x, y, (t0, t1), amp)
            self.wave.visible = True
        self.amp_axis.visible = True
        self.amp_axis.tick_values = nice_ticks(lo, hi, 3)
        with self.amp_scale.hold_sync():
            self.amp_scale.min, self.amp_scale.max = amp

    def _render_arrivals(self) -> None:
        segs = self.reader.event_segments(self.event)
        for mark, col in ((self.p_lines, "p"), (self.s_lines, "s")):
            t = segs[col].to_numpy(dtype=float) if col in segs else np.zeros(0)
            t = t[np.isfinite(t)]
            with mark.hold_sync():
                if t.size:
                    mark.x = np.repeat(t[:, None], 2, axis=1)
                    mark.y = np.tile([0.0, self._band_bottom - 0.01 if self._band_bottom else 1.0], (t.size, 1))
                mark.visible = bool(t.size)

    # ------------------------------------------------------------------------------------------- spectrogram
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
        cmap = ColorMap("magma", float(vmin), float(vmax) if vmax > vmin else float(vmin) + 1.0)
        index = cmap.indices(values.T[::-1]) if values.size else np.full((1, 1), 255, np.uint8)
        with self.spec_image.hold_sync():
            set_png(self.spec_image, encode_png(index, cmap.palette()))
            if cols.n:
                self.spec_image.x = self._image_x(cols)
        self.spec_colorbar.show(cmap)

    # ------------------------------------------------------------------------------------------- probabilities
    def _render_prob(self) -> None:
        if self.fig_prob is None:
            return
        r = self.reader
        i0, i1 = self._view_frames()
        cols = r.prob_columns(self.event, i0, i1, self.n_cols)
        if not cols.n:
            return
        peak = np.nan_to_num(cols.hi, nan=0.0)  # the largest probability of each class in each column
        shares = stacked_shares(peak, r.class_names.index(r.background) if r.background in r.class_names else None)
        levels = (np.arange(_PROB_ROWS)[::-1] + 0.5) / _PROB_ROWS  # top row first
        cls = (levels[None, :, None] > np.cumsum(shares, axis=1)[:, None, :]).sum(-1)  # (n_cols, rows)
        from .._colors import class_color

        table = np.array([hex_to_rgb(class_color(c, r.class_names)) + (255,) for c in r.class_names]
                         + [(255, 255, 255, 0)], np.uint8)
        rgba = table[np.minimum(cls, len(r.class_names))].transpose(1, 0, 2)
        with self.prob_image.hold_sync():
            set_png(self.prob_image, encode_rgb_png(rgba))
            self.prob_image.x = self._image_x(cols)

    # ------------------------------------------------------------------------------------------- states
    def _colormap(self, ext=None):
        var, layer = self.var, self.layer
        key = (self.event, var, layer)
        if var == "c" and key not in self._robust and ext is not None and ext.size:
            finite = np.abs(ext[np.isfinite(ext)])
            self._robust[key] = float(np.percentile(finite, 99)) if finite.size else 1.0
        lo, hi = summaries.value_range(self.reader.summary, var, layer)  # the run's stored range: never [-1, 1] assumed
        return colormap_for(var, robust_max=self._robust.get(key), vmin=lo, vmax=hi)

    def _render_states(self, reread: bool = True, heat: bool = True) -> None:
        """Heatmap and unit lines; ``reread=False`` reuses the columns read for the current view."""
        r = self.reader
        if self._cols is None or reread:
            i0, i1 = self._view_frames()
            self._cols = r.state_columns(self.event, self.var, self.layer, i0, i1, self.n_cols)
            self._cols_range = tuple(self.time_range)
        cols = self._cols
        cmap = self._colormap(pick_extreme(cols.lo, cols.hi, 0.0) if self.var == "c" else None)
        order = self.order
        if heat:
            ext = pick_extreme(cols.lo, cols.hi, cmap.center)
            index = cmap.indices(ext[:, order].T) if cols.n else np.full((1, 1), 255, np.uint8)
            with self.heat_image.hold_sync():
                set_png(self.heat_image, encode_png(index, cmap.palette()))
                if cols.n:
                    self.heat_image.x = self._image_x(cols)
            label = f"{self.var} ({self.reader.layer_labels[self.layer]})" if "module" in self.run.coords \
                else f"{self.var} (layer {self.layer})"
            self.colorbar.show(cmap, label)
            self.value_axis.label = label
            self.unit_axis.label = {"index": "unit", "activity": "rank by activity",
                                    "specialisation": f"rank by {self.order_class} specialisation"}[self.unit_order]
        self._render_unit_labels(order)
        self._render_lines(cols, cmap)

    def _render_unit_labels(self, order) -> None:
        """Labels of the selected units at their heatmap rows, pushed apart so that they never overlap."""
        units = list(self.selected_units)
        rank = np.empty(len(order), dtype=int)
        rank[order] = np.arange(len(order))
        plot_px = max(1.0, self.heat_height - MARGIN["top"] - MARGIN["bottom"])
        y = spread_labels(rank[units] + 0.5 if units else np.zeros(0), gap=13.0 * len(order) / plot_px,
                          lo=0.0, hi=float(len(order)))
        with self.unit_labels.hold_sync():
            self.unit_labels.x = np.full(len(units), 1.0)
            self.unit_labels.y = y
            self.unit_labels.text = [str(u) for u in units]
            self.unit_labels.colors = self._unit_colors(len(units)) or self.unit_colors

    def _unit_colors(self, n: int) -> list[str]:
        return [self.unit_colors[i % len(self.unit_colors)] for i in range(n)]

    def _render_lines(self, cols, cmap) -> None:
        units = list(self.selected_units)
        colors = self._unit_colors(len(units))
        pad = 0.04 * (cmap.vmax - cmap.vmin)
        values = (cmap.vmin - pad, cmap.vmax + pad)
        with self.value_scale.hold_sync():
            self.value_scale.min, self.value_scale.max = values
        self.value_axis.tick_values = nice_ticks(cmap.vmin, cmap.vmax, 4)
        self.w_unit_legend.value = _unit_legend_html(units, colors, self.var, self.layer)
        if not (units and cols.n):
            self.lines.visible = self.envelopes.visible = False
            self.lines.labels = []
            return
        if cols.step == 1:
            x, y = _envelope(cols, self.reader.frame_time, units)
            with self.lines.hold_sync():
                self._set_trace(self.lines, "lines", x, y, self._cols_range, values)
                self.lines.labels, self.lines.colors, self.lines.visible = [f"unit {u}" for u in units], colors, True
            self.envelopes.visible = False
            return
        # lines need one column per pixel (the images keep two for sharp high-DPI screens): half the points for
        # the browser to draw on every pan and zoom
        lo, hi, k = fold_minmax(cols.lo[:, units], cols.hi[:, units], self.plot_width)
        step = cols.step * k
        last = cols.start + cols.n * cols.step - 1  # the last frame the columns cover
        centre = self.reader.frame_time(np.minimum(cols.start + np.arange(lo.shape[0]) * step + (step - 1) / 2, last))
        lo, hi = lo.T, hi.T  # (units, n)
        with self.lines.hold_sync():
            self._set_trace(self.lines, "lines", centre, (lo + hi) / 2, self._cols_range, values)
            self.lines.labels, self.lines.colors, self.lines.visible = [f"unit {u}" for u in units], colors, True
        ring_x = np.concatenate([centre, centre[::-1]])
        with self.envelopes.hold_sync():
            # one x for every unit's ring (bqplot broadcasts it): 1/units of the bytes
            self._set_trace(self.envelopes, "envelopes", ring_x, np.concatenate([lo, hi[:, ::-1]], axis=1),
                            self._cols_range, values)
            self.envelopes.fill_colors, self.envelopes.colors = colors, colors
            self.envelopes.fill_opacities = [0.16] * len(units)
            self.envelopes.visible = True

    # ------------------------------------------------------------------------------------------- traces
    def _set_trace(self, mark, name: str, x, y, time_range, value_range) -> None:
        """Send a long trace in view coordinates (:mod:`rnnscope.widgets._figures`): ``x`` in s, ``y`` in data
        units, mapped to 0..1 across ``time_range`` and ``value_range``."""
        mark.x = to_view(x, *time_range)
        mark.y = to_view(y, *value_range)
        self._trace_ranges[name] = (tuple(map(float, time_range)), tuple(map(float, value_range)))

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
        if name not in self._trace_ranges:
            return np.zeros(0), np.zeros(0)
        (t0, t1), (v0, v1) = self._trace_ranges[name]
        mark = marks[name]
        return from_view(mark.x, t0, t1), from_view(mark.y, v0, v1)

    # ------------------------------------------------------------------------------------------- marker
    def _render_marker(self) -> None:
        """Mark the picked detection's interval on every view (hidden when it is on another record)."""
        det = None if self.detections is None or self.picked < 0 else self.detections.iloc[self.picked]
        show = det is not None and int(det["event"]) == self.event
        for mark in self.markers:
            with mark.hold_sync():
                if show:
                    t0, t1 = float(det["t0"]), float(det["t1"])
                    mark.x = np.array([t0, t0, t1, t1, t0])
                mark.visible = bool(show)


def _in_background(work, then) -> bool:
    """Run ``work`` in a thread and ``then`` on the kernel's event loop when it is done; False (nothing run) where
    no event loop runs (scripts, tests: the caller does the work itself)."""
    import asyncio
    import threading

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False

    def run():
        try:
            work()
        except Exception:  # noqa: BLE001 - the view reads (and reports) it itself when it renders
            log.debug("background read failed", exc_info=True)
        loop.call_soon_threadsafe(then)

    threading.Thread(target=run, name="rnnscope-background", daemon=True).start()
    return True


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


def stacked_shares(peak: np.ndarray, background: int | None) -> np.ndarray:
    """Per column, the heights of the stacked probability bands: each event class's largest probability (scaled
    down when they add up to more than 1) and the background class the rest; without a background class, the
    probabilities normalised to sum 1.

    Examples
    --------
    >>> stacked_shares(np.array([[0.9, 0.6, 0.1], [1.0, 0.0, 0.0]]), background=0).round(2).tolist()
    [[0.3, 0.6, 0.1], [1.0, 0.0, 0.0]]
    """
    peak = np.clip(np.asarray(peak, dtype=np.float64), 0.0, None)
    if background is None:
        total = peak.sum(axis=1, keepdims=True)
        return np.divide(peak, total, out=np.zeros_like(peak), where=total > 0)
    events = peak.copy()
    events[:, background] = 0.0
    total = events.sum(axis=1, keepdims=True)
    events = np.where(total > 1.0, events / np.where(total > 0, total, 1.0), events)
    events[:, background] = 1.0 - events.sum(axis=1)
    return np.clip(events, 0.0, 1.0)


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

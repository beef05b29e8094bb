"""The Explorer's record views, one component each: the waveform with the class bands and P/S arrivals
(:class:`WaveformView`), the spectrogram (:class:`SpectrogramView`) and the class probabilities
(:class:`ProbabilityView`). Each builds its figure with the shared :class:`~rnnscope.widgets._figures.FigureKit` and
draws it for the :class:`~rnnscope.widgets._state.ExplorerState` when the Explorer asks (:meth:`render`).

Nothing is sent per frame: every view is folded to the image columns of the plot (about two per pixel) by
:class:`~rnnscope.widgets._source.RunReader`, images go as 8-bit PNGs and lines as one point per column (or a
min/max envelope). The probabilities show per column the largest probability of each event class in it, stacked,
the background class filling the rest (so a short event stays visible at day scale).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from bqplot import Axis, Label, LinearScale, Lines
from bqplot.interacts import PanZoom

from ._colorbar import ColorBar
from ._drawing import _P_COLOR, _S_COLOR, _count_colors, _envelope
from ._figures import MARGIN, SIDE_WIDTH, SPEC_FMAX, FigureKit
from ._render import ColorMap, encode_png, encode_rgb_png, hex_to_rgb, png_mark, set_png
from ._state import ExplorerState
from ._timeaxis import nice_ticks

__all__ = ["WaveformView", "SpectrogramView", "ProbabilityView", "stacked_shares"]

log = logging.getLogger("rnnscope.widgets")
_PROB_ROWS = 64  # pixel rows of the stacked probability image


class WaveformView:
    """The top figure: the waveform (from the run, or read from the archive a monitor ran on), the class bands
    (true above predicted) and the P/S arrivals; pans and zooms the shared time scale.

    Parameters
    ----------
    state : ExplorerState
        What is shown.
    kit : FigureKit
        The shared scales and layout.
    """

    def __init__(self, state: ExplorerState, kit: FigureKit):
        self.state, self.kit = state, kit
        r = state.reader
        tscale = kit.time_scale
        self.amp_scale = LinearScale(min=-1.0, max=1.0, allow_padding=False)
        band = LinearScale(min=0.0, max=1.0, allow_padding=False)
        rows = (["true"] if r.has_labels else []) + (["pred"] if "pred" in state.run else [])
        #: the class bands drawn, top first: "true" (labels) and "pred"
        self.band_rows: list[str] = rows
        height = 170 if r.has_waveform else 40 + 20 * max(1, len(rows))
        #: where the bands start (0..1 up the figure): the waveform is drawn below
        self.band_bottom = 0.845 if r.has_waveform else 0.0
        self.wave = Lines(x=np.zeros(2), y=np.zeros(2), scales={"x": kit.trace_x, "y": kit.trace_y},
                          colors=["#3a3a3a"], stroke_width=0.8, visible=r.has_waveform)
        self.band_image = png_mark(x=(0.0, 1.0), y=(self.band_bottom, 1.0), scales={"x": tscale, "y": band},
                                   pixelated=True)
        n_rows = max(1, len(rows))
        ys = [1.0 - (1.0 - self.band_bottom) * (i + 0.72) / n_rows for i in range(n_rows)]
        self.band_labels = Label(x=[0.004] * len(rows), y=ys[: len(rows)], text=rows, default_size=10,
                                 colors=["#222222"], scales={"x": kit.unit_x, "y": band}, font_weight="normal",
                                 align="start")
        self.p_lines = Lines(x=np.zeros((1, 2)), y=np.zeros((1, 2)), scales={"x": tscale, "y": band},
                             colors=[_P_COLOR], stroke_width=1.2, visible=False)
        self.s_lines = Lines(x=np.zeros((1, 2)), y=np.zeros((1, 2)), scales={"x": tscale, "y": band},
                             colors=[_S_COLOR], stroke_width=1.2, line_style="dashed", visible=False)
        self.amp_axis = Axis(scale=self.amp_scale, side="left", label="counts", tick_format=".3~s",
                             label_offset="55px", visible=r.has_waveform)
        self.figure = kit.figure(
            [kit.marker(True), self.band_image, self.wave, self.p_lines, self.s_lines, self.band_labels],
            [kit.time_axis(), self.amp_axis], height, "rnnscope-waveform",
            interaction=PanZoom(scales={"x": [tscale]}))
        self.row = kit.row(self.figure)

    def render(self) -> None:
        """Class bands, arrivals and waveform of the visible range."""
        state, r = self.state, self.state.reader
        ev = state.event
        i0, i1 = state.view_frames()
        # class bands: true (top, when the run has labels) and predicted, one pixel column per image column
        rows: list[np.ndarray | None] = []
        cols = None
        for name in self.band_rows:
            cols = r.class_columns(ev, "label" if name == "true" else "pred", i0, i1, state.n_cols)
            colors = _count_colors(cols.hi, r.class_names, r.background)
            rows += [colors, colors, None]
        if cols is not None and cols.n:
            blank = np.zeros((cols.n, 4), np.uint8)
            rgba = np.stack([blank if x is None else x for x in rows[:-1]])
            with self.band_image.hold_sync():
                set_png(self.band_image, encode_rgb_png(rgba))
                self.band_image.x = state.image_x(cols)
        self.render_arrivals()
        self.render_wave()

    def render_wave(self) -> None:
        """The waveform line. From an archive (a monitor run), a view that needs the levels of a record not read
        yet is drawn once a background thread has read the record (the other views do not wait for it)."""
        state, r = self.state, self.state.reader
        ev = state.event
        if not r.has_waveform or not r.waveform_available(ev):
            self.wave.visible = False
            self.amp_axis.visible = False
            return
        t0, t1 = state.time_range
        s0, s1 = r.sample_range(ev, t0, t1)
        if (r.waveform_origin == "archive" and r.needs_build(("waveform", ev), s0, s1, state.plot_width)
                and _in_background(lambda: r.build(("waveform", ev)), self.render_wave)):
            return
        cols = r.waveform_columns(ev, s0, s1, state.plot_width)  # a line: one (min, max) column per pixel
        x, y = _envelope(cols, lambda i: r.sample_time(ev, i))
        finite = y[np.isfinite(y)] if y.size else y
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        span = hi - lo
        amp = (lo - 0.03 * span, lo - 0.03 * span + 1.06 * span / (self.band_bottom - 0.01))  # below the bands
        with self.wave.hold_sync():
            self.kit.set_trace(self.wave, "wave", x, y, (t0, t1), amp)
            self.wave.visible = True
        self.amp_axis.visible = True
        self.amp_axis.tick_values = nice_ticks(lo, hi, 3)
        with self.amp_scale.hold_sync():
            self.amp_scale.min, self.amp_scale.max = amp

    def render_arrivals(self) -> None:
        """The P and S arrivals of the record's segments (vertical lines through the waveform)."""
        segs = self.state.reader.event_segments(self.state.event)
        for mark, col in ((self.p_lines, "p"), (self.s_lines, "s")):
            t = segs[col].to_numpy(dtype=float) if col in segs else np.zeros(0)
            t = t[np.isfinite(t)]
            with mark.hold_sync():
                if t.size:
                    mark.x = np.repeat(t[:, None], 2, axis=1)
                    mark.y = np.tile([0.0, self.band_bottom - 0.01 if self.band_bottom else 1.0], (t.size, 1))
                mark.visible = bool(t.size)


class SpectrogramView:
    """The spectrogram (log power up to :data:`~rnnscope.widgets._figures.SPEC_FMAX` Hz) with its colour bar; pans
    and zooms the shared time scale.

    Parameters
    ----------
    state : ExplorerState
    kit : FigureKit
    """

    HEIGHT = 150

    def __init__(self, state: ExplorerState, kit: FigureKit):
        self.state = state
        r = state.reader
        fmax = min(SPEC_FMAX, float(r.freqs.max())) if r.freqs.size else 1.0
        #: frequencies shown (the first n_freq of the run's)
        self.n_freq = int(np.searchsorted(r.freqs, fmax, side="right")) if r.freqs.size else 0
        df = float(r.freqs[1] - r.freqs[0]) if r.freqs.size > 1 else 1.0
        self.freq_scale = LinearScale(min=0.0, max=float(fmax), allow_padding=False)
        self.image = png_mark(x=(0.0, 1.0), y=(float(r.freqs[0]) - df / 2 if r.freqs.size else 0.0, fmax + df / 2),
                              scales={"x": kit.time_scale, "y": self.freq_scale}, pixelated=True)
        self.figure = kit.figure(
            [self.image, kit.marker(False)],
            [kit.time_axis(), Axis(scale=self.freq_scale, side="left", label="frequency (Hz)",
                                   tick_values=nice_ticks(0.0, float(fmax), 5), label_offset="55px")],
            self.HEIGHT, "rnnscope-spectrogram", interaction=PanZoom(scales={"x": [kit.time_scale]}))
        #: the spectrogram's colour scale (log power)
        self.colorbar = ColorBar(SIDE_WIDTH, self.HEIGHT, top=MARGIN["top"], bottom=MARGIN["bottom"],
                                 label="log power")
        self.row = kit.row(self.figure, self.colorbar.figure)
        self._range: dict[int, tuple[float, float]] = {}  # per record: the colour range (5th, 99.5th percentile)

    def render(self) -> None:
        """The spectrogram of the visible range, on its record's colour range."""
        state, r = self.state, self.state.reader
        ev = state.event
        if not r.has_spectrogram or not self.n_freq:
            return
        i0, i1 = state.view_frames()
        cols = r.spectrogram_columns(ev, i0, i1, state.n_cols, self.n_freq)
        values = cols.hi[:, : self.n_freq]  # loudest frame of each column
        if ev not in self._range and values.size:
            finite = values[np.isfinite(values)]
            lo, hi = np.percentile(finite, [5, 99.5]) if finite.size else (0.0, 1.0)
            self._range[ev] = (float(lo), float(hi))
        vmin, vmax = self._range.get(ev, (0.0, 1.0))
        cmap = ColorMap("magma", vmin, vmax if vmax > vmin else vmin + 1.0)
        index = cmap.indices(values.T[::-1]) if values.size else np.full((1, 1), 255, np.uint8)
        with self.image.hold_sync():
            set_png(self.image, encode_png(index, cmap.palette()))
            if cols.n:
                self.image.x = state.image_x(cols)
        self.colorbar.show(cmap)


class ProbabilityView:
    """The class probabilities (``prob``) as a stacked band, for runs that hold them; pans and zooms the shared
    time scale.

    Parameters
    ----------
    state : ExplorerState
    kit : FigureKit
    """

    def __init__(self, state: ExplorerState, kit: FigureKit):
        self.state = state
        prob_y = LinearScale(min=0.0, max=1.0, allow_padding=False)
        self.image = png_mark(x=(0.0, 1.0), y=(0.0, 1.0), scales={"x": kit.time_scale, "y": prob_y}, pixelated=True)
        self.figure = kit.figure(
            [self.image, kit.marker(False)],
            [kit.time_axis(), Axis(scale=prob_y, side="left", label="probability", label_offset="55px",
                                   tick_values=np.array([0.0, 0.5, 1.0]), tick_format=".1f")],
            96, "rnnscope-prob", interaction=PanZoom(scales={"x": [kit.time_scale]}))
        self.row = kit.row(self.figure)

    def render(self) -> None:
        """The stacked probabilities of the visible range."""
        state, r = self.state, self.state.reader
        i0, i1 = state.view_frames()
        cols = r.prob_columns(state.event, i0, i1, state.n_cols)
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
        with self.image.hold_sync():
            set_png(self.image, encode_rgb_png(rgba))
            self.image.x = state.image_x(cols)


def _in_background(work: Callable[[], object], then: Callable[[], object]) -> bool:
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

"""Streaming features: :func:`rnnscope.features.frames_of` of a long signal that arrives in chunks.

:class:`StreamingFeatures` takes the samples of one continuous signal chunk by chunk (any chunk sizes, even
smaller than a hop) and returns frame features as soon as they are final. Concatenated, its outputs equal
``frames_of`` of the whole signal, **including** the first and last frames, whose deltas use edge repetition
exactly as ``frames_of`` does at the true ends (the start is known at the first chunk, the end when
:meth:`StreamingFeatures.finish` is called).

What it keeps between chunks (memory does not grow with the signal):

- the samples from the start of the next frame on: at most ``win - hop`` samples plus whatever part of a hop has
  arrived (pre-emphasis also keeps the last sample);
- the log filter-bank energies of the last ``2 * delta_width`` frames (4 with the paper's ``delta_width=2``): a
  frame's delta needs its neighbours within +-``delta_width`` frames and its delta-delta within
  +-``2 * delta_width``, so a frame is emitted ``2 * delta_width`` frames after it is computed (2 s with a 0.5 s hop);
- the spectrogram rows of the frames not emitted yet (when ``spectrogram=True``).

The arithmetic is the one of ``frames_of`` (same window, FFT size, filter bank, floor and delta formula), so the
result agrees to float rounding (the FFT and the filter-bank product may round differently for different chunk
sizes: differences are ~1e-12 in the log energies).

Examples
--------
>>> import numpy as np
>>> from rnnscope.features import frames_of
>>> from rnnscope.features._streaming import StreamingFeatures
>>> x = np.random.default_rng(0).normal(size=3000)
>>> stream = StreamingFeatures(100.0)
>>> parts = [stream.push(chunk) for chunk in np.array_split(x, 7)] + [stream.finish()]
>>> streamed = np.concatenate(parts)
>>> whole, _ = frames_of(x, 100.0)
>>> streamed.shape == whole.shape, bool(np.allclose(streamed, whole, rtol=0, atol=1e-9))
(True, True)
"""
from __future__ import annotations

import numpy as np

from ._compute import PRESETS, FeatureConfig, _samples, band_energies, filter_bank, frame_count

__all__ = ["StreamingFeatures", "delta_span"]


def delta_span(values: np.ndarray, start: int, at_start: bool, at_end: bool, width: int) -> tuple[np.ndarray, int]:
    """Deltas of the rows of ``values`` wherever they are fully determined.

    ``values`` holds rows ``start .. start + n - 1`` of a longer sequence. Row ``t``'s delta
    ``sum_n n (v_{t+n} - v_{t-n}) / (2 sum_n n**2)`` needs rows ``t - width .. t + width``; at the true start
    (``at_start``) and end (``at_end``) of the sequence the missing rows are the first/last row repeated, as in
    :func:`rnnscope.features.delta`.

    Returns
    -------
    deltas : ndarray
        One row per determined position.
    first : int
        Index (in the long sequence) of the first returned row.

    Examples
    --------
    >>> v = np.arange(6.0)[:, None]
    >>> d, first = delta_span(v, 0, True, False, 2)   # rows 4, 5 need rows 6, 7: not yet known
    >>> first, d.ravel().tolist()
    (0, [0.5, 0.8, 1.0, 1.0])
    """
    pad_lo = np.repeat(values[:1], width, axis=0) if at_start else values[:0]
    pad_hi = np.repeat(values[-1:], width, axis=0) if at_end else values[:0]
    padded = np.concatenate([pad_lo, values, pad_hi]) if (len(pad_lo) or len(pad_hi)) else values
    n_out = padded.shape[0] - 2 * width
    first = start if at_start else start + width
    if values.shape[0] == 0 or n_out <= 0:
        return values[:0].copy(), first
    out = np.zeros((n_out,) + values.shape[1:], dtype=np.float64)
    for n in range(1, width + 1):  # the order of operations of features.delta
        out += n * (padded[width + n : width + n + n_out] - padded[width - n : width - n + n_out])
    return out / (2.0 * sum(n * n for n in range(1, width + 1))), first


class StreamingFeatures:
    """Frame features of one continuous signal fed in chunks; equal to ``frames_of`` of the whole signal.

    Parameters
    ----------
    sampling_rate : float
        Hz of the samples pushed (the rate the features are defined at, e.g. 100 Hz).
    feature_config : FeatureConfig or preset name
        The feature settings (default the ``"paper"`` preset).
    spectrogram : bool
        Also return the log power spectrogram rows (``push`` and ``finish`` then return ``(features, spec)``).

    Attributes
    ----------
    win, hop : int
        Window and hop in samples.
    n_samples : int
        Samples pushed so far.
    n_frames : int
        Frames returned so far (frame ``k`` covers samples ``[k*hop, k*hop + win)`` of the signal).

    Notes
    -----
    A frame is returned ``2 * delta_width`` frames after its window is complete (its delta-delta needs that many
    later frames); :meth:`finish` returns the last ones with the end-edge repetition of ``frames_of``. After
    ``finish`` the object starts a new signal (frame 0 again), e.g. after a gap.

    Examples
    --------
    >>> from rnnscope.features import StreamingFeatures, frames_of
    >>> x = np.random.default_rng(0).normal(size=3000)
    >>> stream = StreamingFeatures(100.0)
    >>> parts = [stream.push(x[:1234]), stream.push(x[1234:]), stream.finish()]
    >>> [p.shape[0] for p in parts], bool(np.allclose(np.concatenate(parts), frames_of(x, 100.0)[0]))
    ([13, 36, 4], True)
    """

    def __init__(self, sampling_rate: float, *, feature_config: FeatureConfig | str = "paper",
                 spectrogram: bool = False):
        self.cfg = PRESETS[feature_config] if isinstance(feature_config, str) else feature_config
        self.sampling_rate = float(sampling_rate)
        self.win, self.hop = _samples(self.cfg, self.sampling_rate)
        self.weights, _ = filter_bank(self.cfg, self.sampling_rate)
        self.taper = np.hamming(self.win) if self.cfg.window == "hamming" else np.ones(self.win)
        self.spectrogram = bool(spectrogram)
        self.width = int(self.cfg.delta_width)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample pushed is sample 0 of a new signal."""
        n_f = self.cfg.n_filters
        self._tail = np.zeros(0)  # samples from the start of frame self._computed on
        self._last: float | None = None  # last raw sample (pre-emphasis)
        self._c = np.zeros((0, n_f))  # log energies of frames self._c0 ..
        self._c0 = 0
        self._spec = np.zeros((0, self.cfg.n_fft // 2 + 1))  # spectrogram rows of frames self.n_frames ..
        self._computed = 0  # frames whose log energies are computed
        self.n_frames = 0
        self.n_samples = 0

    @property
    def n_features(self) -> int:
        return self.cfg.n_features

    @property
    def delay(self) -> int:
        """Frames computed but held back until later frames arrive (``2 * delta_width``)."""
        return 2 * self.width

    def push(self, x: np.ndarray):
        """Add samples; return the features ``(n, n_features)`` of the frames that are now final."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size:
            if self.cfg.pre_emphasis:
                prev = x[:1] if self._last is None else np.array([self._last])
                shifted = np.concatenate([prev, x[:-1]])
                y = x - self.cfg.pre_emphasis * shifted
                if self._last is None:
                    y[0] = x[0]
                self._last = float(x[-1])
                x = y
            self.n_samples += x.size
            self._tail = np.concatenate([self._tail, x]) if self._tail.size else x
            self._compute()
        return self._emit(final=False)

    def finish(self):
        """Return the last frames (end-edge repetition, as ``frames_of`` at the end of a signal) and reset."""
        out = self._emit(final=True)
        self.reset()
        return out

    # -- internals ----------------------------------------------------------------------------------------
    def _compute(self) -> None:
        n = int(frame_count(self._tail.size, win=self.win, hop=self.hop))
        if n == 0:
            return
        frames = np.lib.stride_tricks.sliding_window_view(self._tail, self.win)[:: self.hop][:n]
        power = np.abs(np.fft.rfft(frames * self.taper, n=self.cfg.n_fft, axis=1)) ** 2 / self.cfg.n_fft
        log_energy = band_energies(power, self.weights, feature_config=self.cfg)
        self._c = np.concatenate([self._c, log_energy]) if self._c.size else log_energy
        if self.spectrogram:
            spec = np.log(np.maximum(power, self.cfg.log_floor))
            self._spec = np.concatenate([self._spec, spec]) if self._spec.size else spec
        self._computed += n
        self._tail = self._tail[n * self.hop :].copy()

    def _emit(self, final: bool):
        empty = np.zeros((0, self.n_features))
        if self._c.shape[0] == 0:
            return (empty, self._spec[:0].copy()) if self.spectrogram else empty
        w = self.width
        at_start = self._c0 == 0
        d1, d1_first = delta_span(self._c, self._c0, at_start, final, w)
        d2, d2_first = delta_span(d1, d1_first, at_start, final, w)
        stop = d2_first + d2.shape[0]
        start = self.n_frames
        if stop <= start:
            return (empty, self._spec[:0].copy()) if self.spectrogram else empty
        out = np.concatenate(
            [
                self._c[start - self._c0 : stop - self._c0],
                d1[start - d1_first : stop - d1_first],
                d2[start - d2_first : stop - d2_first],
            ],
            axis=1,
        )
        self.n_frames = stop
        keep = max(0, stop - 2 * w)
        self._c = self._c[keep - self._c0 :].copy()
        self._c0 = keep
        if self.spectrogram:
            spec = self._spec[: stop - start]
            self._spec = self._spec[stop - start :].copy()
            return out, spec
        return out

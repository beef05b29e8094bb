"""Preprocessing of contiguous pieces as :func:`rnnscope.data.from_obspy` does (detrend, band-pass, resampling),
in overlapping windows so no transient falls on a block boundary.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._sources import _NS

__all__ = []


# ------------------------------------------------------------------------------------------------ preprocessing


def _ratio(rate: float, target: float) -> tuple[int, int]:
    """``(up, down)`` of the polyphase resampler from_obspy uses for ``rate -> target``; (1, 1) when equal."""
    from ..data._readers import MAX_RESAMPLE_FACTOR, RATE_RTOL

    if abs(rate - target) <= RATE_RTOL * target:
        return 1, 1
    frac = Fraction(target / rate).limit_denominator(MAX_RESAMPLE_FACTOR)
    up, down = frac.numerator, frac.denominator
    if up <= MAX_RESAMPLE_FACTOR and abs(rate * up / down - target) <= RATE_RTOL * target:
        return up, down
    return 0, 1  # Lanczos fallback: no exact grid


def _detrend_inplace(x: np.ndarray, kind: str | None, block: int = 1 << 20) -> None:
    """ObsPy's detrend types, in place and in blocks (no full-size temporaries on a day of samples).

    ``"linear"``: least-squares line (as :func:`scipy.signal.detrend`); ``"constant"``/``"demean"``: the mean;
    ``"simple"``: the line through the first and last samples (as :func:`obspy.signal.detrend.simple`).
    """
    _detrend_parts([x], kind, block)


def _detrend_parts(parts: list, kind: str | None, block: int = 1 << 20) -> None:
    """:func:`_detrend_inplace` of the concatenation of ``parts`` (1-D float64 arrays), without concatenating."""
    n = sum(p.size for p in parts)
    if kind is None or n == 0:
        return
    offsets = np.cumsum([0] + [p.size for p in parts[:-1]])

    def blocks():
        for off, p in zip(offsets, parts, strict=True):
            for i in range(0, p.size, block):
                yield p[i : i + block], np.arange(off + i, off + min(i + block, p.size), dtype=np.float64)

    if kind in ("constant", "demean"):
        mean = sum(float(p.sum()) for p in parts) / n
        for p in parts:
            p -= mean
        return
    if kind == "simple":
        first, last = float(parts[0][0]), float(parts[-1][-1])
        slope = (last - first) / (n - 1) if n > 1 else 0.0
        for x, t in blocks():
            x -= first + slope * t
        return
    # linear least squares on centred time: slope = sum((t - tm) x) / sum((t - tm)^2), intercept = mean(x)
    tm = (n - 1) / 2.0
    mean = sum(float(p.sum()) for p in parts) / n
    sxt = sum(float(np.dot(x, t - tm)) for x, t in blocks())
    stt = n * (n * n - 1) / 12.0
    slope = sxt / stt if stt else 0.0
    for x, t in blocks():
        x -= mean + slope * (t - tm)


class _Preprocessor:
    """Detrend / band-pass / resample a contiguous signal arriving in blocks, in overlapping windows.

    ``push(trace)`` returns a list of ``(start_ns, samples at the target rate)``: what is final so far. The last
    ``margin_s`` seconds of a contiguous signal are held back and processed again with the next block: each window
    processed (detrended as a whole, like one record of ``from_obspy``) reaches ``margin_s`` before the first sample
    it emits and after the last, so the transients of the filter and of the resampler stay away from block
    boundaries. Filtering and resampling run on sub-windows of ``sub_s`` seconds (with the same margins) to bound
    memory. A gap or a change of sampling rate ends the signal (``flush``). The held-back samples and a new block
    are kept as separate arrays (never concatenated), so a day is in memory once.
    """

    # set by the first push after a flush
    rate: float
    origin_ns: int
    dropped: int
    emitted: int

    def __init__(self, target_rate, detrend, band, margin_s, seed_id, func, sub_s=3600.0):
        self.target = float(target_rate)
        self.detrend = detrend
        self.band = band
        self.margin_s = float(margin_s)
        self.sub_s = float(sub_s)
        self.seed_id = seed_id
        self.func = func
        self.parts = None

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)

    def push(self, tr) -> list:
        """Add one gap-free float64 trace (its data are taken over: the trace is emptied)."""
        rate = float(tr.stats.sampling_rate)
        start = int(tr.stats.starttime.ns)
        data = np.asarray(tr.data, dtype=np.float64)
        tr.data = np.zeros(0)
        out = []
        if self.parts is not None:
            expected = self.origin_ns + int(round((self.dropped + self.size) * _NS / self.rate))
            half = 0.5 * _NS / self.rate
            if rate != self.rate or start > expected + half:
                out += self.flush()
            elif start < expected - half:  # overlap with what came before: keep the earlier samples
                data = data[int(round((expected - start) * rate / _NS)) :]
                if data.size == 0:
                    return out
        if self.parts is None:
            self.rate, self.origin_ns, self.dropped, self.emitted = rate, start, 0, 0
            self.up, self.down = _ratio(rate, self.target)
            step = max(self.down, 1) if self.up else 1
            self.margin = int(np.ceil(self.margin_s * rate / step)) * step
            self.sub = max(int(np.ceil(self.sub_s * rate / step)) * step, step)
            self.parts = []
        self.parts.append(data)
        del data
        out += self._process(final=False)
        return out

    def flush(self) -> list:
        if self.parts is None:
            return []
        out = self._process(final=True)
        self.parts = None
        return out

    def _align(self, k: int) -> int:
        return (k // self.down) * self.down if self.up else k

    def _g(self, k: int) -> int:
        """Target-rate sample index (since the signal's origin) of raw sample ``k`` (since the buffer start)."""
        return int(round((self.dropped + k) * self.target / self.rate))

    def _views(self, lo: int, hi: int) -> list:
        """``(offset, view)`` of the parts' samples ``lo .. hi-1`` (offsets since the buffer start)."""
        out, off = [], 0
        for p in self.parts:
            a, b = max(lo, off), min(hi, off + p.size)
            if b > a:
                out.append((a, p[a - off : b - off]))
            off += p.size
        return out

    @staticmethod
    def _gather(views: list, lo: int, hi: int) -> np.ndarray:
        pieces = [v[max(lo, off) - off : min(hi, off + v.size) - off] for off, v in views
                  if off < hi and off + v.size > lo]
        return pieces[0].copy() if len(pieces) == 1 else np.concatenate(pieces)

    def _process(self, final: bool) -> list:
        n = self.size
        e = self.emitted
        stop = n if final else self._align(n - self.margin)
        if stop <= e:
            return []
        p0 = self._align(max(0, e - self.margin))
        k = self._align(max(0, stop - self.margin))
        tail = None if final else self._gather(self._views(k, n), k, n)  # raw: the next window starts with it
        views = self._views(p0, n)
        self.parts = None
        _detrend_parts([v for _, v in views], self.detrend)
        out = []
        if self.band is None and self.up == 1 and self.down == 1:
            for off, v in views:
                a, b = max(e, off), min(stop, off + v.size)
                if b > a:
                    out.append((self._time(self._g(a)), v[a - off : b - off]))
        else:
            subs = [(e, stop)] if not self.up else [(s, min(s + self.sub, stop)) for s in range(e, stop, self.sub)]
            for s0, s1 in subs:
                lo = self._align(max(p0, s0 - self.margin))
                hi = min(n, s1 + self.margin)
                y = self._filter_resample(self._gather(views, lo, hi), lo)
                j0 = self._g(s0) - self._g(lo)
                j1 = y.size if (final and s1 == n) else self._g(s1) - self._g(lo)
                if j1 > j0:
                    out.append((self._time(self._g(s0)), y[j0:j1]))
        if not final:
            self.parts = [tail]
            self.dropped += k
            self.emitted = stop - k
        return out

    def _time(self, g: int) -> int:
        return self.origin_ns + int(round(g * _NS / self.target))

    def _filter_resample(self, x: np.ndarray, lo: int) -> np.ndarray:
        from obspy import Trace, UTCDateTime

        from ..data._readers import _process_piece

        net, sta, loc, cha = (self.seed_id.split(".") + ["", "", "", ""])[:4]
        start = UTCDateTime(ns=self.origin_ns + int(round((self.dropped + lo) * _NS / self.rate)))
        header = {"network": net, "station": sta, "location": loc, "channel": cha, "sampling_rate": self.rate,
                  "starttime": start}
        tr = Trace(data=x, header=header)
        _process_piece(tr, None, self.band, self.target, self.func)  # detrended already, over the whole window
        return np.asarray(tr.data, dtype=np.float64)

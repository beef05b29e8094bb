"""``rnnscope.monitor``: continuous recognition of long seismic archives -> a detection catalog.

The data flow, one block (a UTC day by default) at a time, so memory does not grow with the time range:

1. **read** the block's samples of one SEED id from the source (an ObsPy Stream, MiniSEED/SAC files, or an SDS
   archive through :class:`obspy.clients.filesystem.sds.Client`), keep samples with ``block start <= t < block
   end``, merge traces (ObsPy ``Stream.merge(method=1)``) and split them at gaps into contiguous pieces;
2. **preprocess** each contiguous piece as :func:`rnnscope.data.from_obspy` does (detrend, optional band-pass,
   resampling to the model's rate with the same anti-alias FIR, by reusing its helpers). A contiguous signal is
   processed in overlapping windows: the last ``margin_s`` seconds of a block are held back until the next block
   arrives and are processed again with it, so filter and resampling transients never fall on a block boundary;
3. **features** with :class:`rnnscope._streaming.StreamingFeatures` (equal to ``frames_of`` of the whole
   contiguous signal, the first and last frames included);
4. **inference** with the recurrent state carried from chunk to chunk (``model.forward_layers(x, states)``;
   a TCN gets its receptive field of earlier frames as context), so the probabilities equal one pass of the model
   over the whole contiguous signal;
5. **catalog**: per-frame probabilities -> smoothed -> per-class minimum durations -> detections
   (:mod:`rnnscope._detections`).

Gaps: where the data stop (a gap of more than half a sample, or the end of the range), the features are finished
with the end-edge repetition of ``frames_of``, the last frames classified, and the recurrent state reset; after the
gap, framing restarts at the first sample (frame centres ``2 s, 2.5 s, ...`` after it) from a zero state, exactly as
if the data after the gap were a new record. No frame covers a gap, so gaps never hold a detection and a detection
never spans one; the probability stream has one trace per class and contiguous piece. A change of sampling rate
with no gap (e.g. a day at 200 Hz after days at 100 Hz) does not interrupt anything: each piece is resampled to
the model's rate and the framing and state continue.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import time
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from . import _detections
from ._detections import DEFAULT_SMOOTHING, score_detections
from ._streaming import StreamingFeatures
from .features import PRESETS, FeatureConfig

__all__ = ["monitor", "MonitorResult", "score_detections"]

_NS = 1_000_000_000
#: frames fed to the model at once (1 h with the paper's 0.5 s hop)
CHUNK_FRAMES = 7200


# ------------------------------------------------------------------------------------------------------ sources


def _utc(value, name, func):
    from obspy import UTCDateTime

    if value is None:
        return None
    try:
        return UTCDateTime(value)
    except Exception:  # UTCDateTime raises TypeError/ValueError/Exception for unreadable input
        raise ValueError(
            f"The {name!r} parameter of {func} must be a UTC time (ISO 8601 string such as '2024-03-01T00:00:00', "
            f"datetime or obspy.UTCDateTime). Got {value!r} instead."
        ) from None


def _pieces(traces, seed_id: str, t0, t1) -> list:
    """The samples in ``[t0, t1)`` of every trace of ``seed_id`` among ``traces`` (see :func:`_clip`)."""
    pieces = (_clip(tr, t0.ns, t1.ns) for tr in traces if tr.id == seed_id)
    return [piece for piece in pieces if piece is not None]


def _clip(tr, t0_ns: int, t1_ns: int):
    """The samples of ``tr`` with ``t0 <= t < t1`` (a view), or None when there are none."""
    from obspy import Trace, UTCDateTime

    rate = float(tr.stats.sampling_rate)
    start = int(tr.stats.starttime.ns)
    n = int(tr.stats.npts)
    lo = max(0, int(np.ceil((t0_ns - start) * rate / _NS - 1e-6)))
    hi = min(n, int(np.ceil((t1_ns - start) * rate / _NS - 1e-6)))
    if hi <= lo:
        return None
    header = tr.stats.copy()
    header.npts = hi - lo
    header.starttime = UTCDateTime(ns=start + int(round(lo * _NS / rate)))
    return Trace(data=tr.data[lo:hi], header=header)


class _StreamSource:
    kind = "stream"

    def __init__(self, stream):
        from obspy import Stream, Trace

        self.stream = Stream([stream]) if isinstance(stream, Trace) else stream

    def ids(self):
        return sorted({tr.id for tr in self.stream})

    def extent(self, seed_id):
        traces = [tr for tr in self.stream if tr.id == seed_id and tr.stats.npts]
        if not traces:
            return None
        return min(tr.stats.starttime for tr in traces), max(tr.stats.endtime + tr.stats.delta / 2 for tr in traces)

    def read(self, seed_id, t0, t1):
        from obspy import Stream

        return Stream(_pieces(self.stream, seed_id, t0, t1))


class _FileSource:
    kind = "files"

    def __init__(self, paths, func):
        import obspy

        self.files = []  # (path, id, start, end)
        for path in paths:
            try:
                st = obspy.read(path, headonly=True)
            except Exception as err:  # ObsPy raises TypeError/Exception for unknown formats
                raise ValueError(f"{func}: ObsPy cannot read {path!r}: {err}") from err
            for tr in st:
                self.files.append((path, tr.id, tr.stats.starttime, tr.stats.endtime, tr.stats.delta))

    def ids(self):
        return sorted({f[1] for f in self.files})

    def extent(self, seed_id):
        rows = [f for f in self.files if f[1] == seed_id]
        if not rows:
            return None
        return min(r[2] for r in rows), max(r[3] + r[4] / 2 for r in rows)

    def read(self, seed_id, t0, t1):
        import obspy

        out = obspy.Stream()
        paths = sorted({p for p, i, a, b, _ in self.files if i == seed_id and a < t1 and b >= t0})
        for path in paths:
            out.extend(_pieces(obspy.read(path, starttime=t0, endtime=t1), seed_id, t0, t1))
        return out


class _SDSSource:
    kind = "sds"

    def __init__(self, root):
        from obspy.clients.filesystem.sds import Client

        self.root = os.fspath(root)
        self.client = Client(self.root)

    def ids(self):
        return [".".join(nslc) for nslc in self.client.get_all_nslc()]

    def _day_files(self, seed_id):
        net, sta, loc, cha = seed_id.split(".")
        pattern = os.path.join(self.root, "*", net, sta, f"{cha}.D", f"{net}.{sta}.{loc}.{cha}.D.*.*")
        days = []
        for path in glob.glob(pattern):
            try:
                year, doy = (int(v) for v in path.rsplit(".", 2)[-2:])
            except ValueError:
                continue
            days.append((year, doy))
        return sorted(days)

    def extent(self, seed_id):
        from obspy import UTCDateTime

        days = self._day_files(seed_id)
        if not days:
            return None
        first = UTCDateTime(year=days[0][0], julday=days[0][1])
        last = UTCDateTime(year=days[-1][0], julday=days[-1][1]) + 86400
        return first, last

    def read(self, seed_id, t0, t1):
        from obspy import Stream

        net, sta, loc, cha = seed_id.split(".")
        st = self.client.get_waveforms(net, sta, loc, cha, t0, t1, merge=None)
        return Stream(_pieces(st, seed_id, t0, t1))


def _open_source(source, func):
    import obspy

    if isinstance(source, (obspy.Stream, obspy.Trace)):
        return _StreamSource(source)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if os.path.isdir(path):
            return _SDSSource(path)
        paths = sorted(glob.glob(path)) if not os.path.exists(path) else [path]
        if not paths:
            raise FileNotFoundError(
                f"{func}: no file or SDS archive matches {path!r}; pass an SDS root folder, a file path or a glob "
                "pattern such as 'data/*.mseed'."
            )
        return _FileSource(paths, func)
    if isinstance(source, (list, tuple)) and source and all(isinstance(p, (str, os.PathLike)) for p in source):
        paths = []
        for p in source:
            p = os.fspath(p)
            found = [p] if os.path.exists(p) else sorted(glob.glob(p))
            if not found:
                raise FileNotFoundError(f"{func}: no file matches {p!r}; check the path or glob pattern.")
            paths += found
        return _FileSource(paths, func)
    raise TypeError(
        f"The 'source' parameter of {func} must be an obspy Stream or Trace, a MiniSEED/SAC file path or glob pattern, "
        f"a list of paths, or the root folder of an SDS archive. Got {type(source).__name__} instead."
    )


def _contiguous_pieces(st, func):
    """Float64 gap-free traces of one id, in time order (traces of one rate merged; gaps and NaNs split).

    Lighter than ``from_obspy``'s path (a day of samples is copied once, not three times): integer traces are
    converted straight to float64; only traces holding NaN or masked samples go through ObsPy's split.
    """
    from obspy import Stream, Trace

    by_rate: dict[float, list] = {}
    for tr in st:
        if tr.stats.npts == 0:
            continue
        if tr.data.dtype.kind not in "iuf":
            raise ValueError(
                f"{func}: trace {tr.id!r} holds no numeric samples (dtype {tr.data.dtype}); select another channel."
            )
        rate = float(tr.stats.sampling_rate)
        if not np.isfinite(rate) or rate <= 0:
            raise ValueError(f"{func}: trace {tr.id!r} has sampling rate {rate!r} Hz; fix its header.")
        masked = np.ma.isMaskedArray(tr.data) and np.ma.getmaskarray(tr.data).any()
        data = np.array(np.ma.getdata(tr.data), dtype=np.float64)  # always a copy: the caller's data stay intact
        if data.dtype.kind == "f" and (masked or not np.isfinite(data).all()):
            values = np.ma.masked_invalid(np.ma.array(data, mask=np.ma.getmaskarray(tr.data) if masked else False))
            pieces = [p for p in Trace(data=values, header=tr.stats.copy()).split() if p.stats.npts]
        else:
            pieces = [Trace(data=data, header=tr.stats.copy())]
        by_rate.setdefault(rate, []).extend(pieces)
    out = []
    for rate, group in by_rate.items():
        if len(group) == 1:
            out.extend(group)
            continue
        merged = Stream(group)
        try:
            merged.merge(method=1, fill_value=None, interpolation_samples=0)
        except Exception as err:  # ObsPy raises a bare Exception e.g. for differing calibration factors
            raise ValueError(f"{func}: cannot merge the traces of {group[0].id!r} at {rate:g} Hz: {err}") from err
        del group
        for tr in merged:
            for piece in tr.split() if np.ma.isMaskedArray(tr.data) else [tr]:
                if piece.stats.npts:
                    data = np.ascontiguousarray(np.ma.getdata(piece.data), dtype=np.float64)
                    out.append(Trace(data=data, header=piece.stats))
    out.sort(key=lambda tr: tr.stats.starttime.ns)
    return out


# ------------------------------------------------------------------------------------------------ preprocessing


def _ratio(rate: float, target: float) -> tuple[int, int]:
    """``(up, down)`` of the polyphase resampler from_obspy uses for ``rate -> target``; (1, 1) when equal."""
    from .data._readers import MAX_RESAMPLE_FACTOR, RATE_RTOL

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
        for off, p in zip(offsets, parts):
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

        from .data._readers import _process_piece

        net, sta, loc, cha = (self.seed_id.split(".") + ["", "", "", ""])[:4]
        start = UTCDateTime(ns=self.origin_ns + int(round((self.dropped + lo) * _NS / self.rate)))
        header = {"network": net, "station": sta, "location": loc, "channel": cha, "sampling_rate": self.rate,
                  "starttime": start}
        tr = Trace(data=x, header=header)
        _process_piece(tr, None, self.band, self.target, self.func)  # detrended already, over the whole window
        return np.asarray(tr.data, dtype=np.float64)


# ------------------------------------------------------------------------------------------------ classifier


@dataclasses.dataclass
class Piece:
    """One contiguous stretch of classified signal.

    ``start_ns``: UTC (ns) of its first sample at the model rate ``sampling_rate``; ``n_samples``; ``prob``
    ``(frames, classes)`` float32; ``first_frame_ns``: centre of frame 0; ``frame_period_ns``: hop.
    """

    start_ns: int
    n_samples: int
    sampling_rate: float
    first_frame_ns: int
    frame_period_ns: int
    prob: np.ndarray

    @property
    def end_ns(self) -> int:
        """Time just after the last sample (where a contiguous next sample would be)."""
        return self.start_ns + int(round(self.n_samples * _NS / self.sampling_rate))

    @property
    def frame_times_ns(self) -> np.ndarray:
        """UTC (ns) of every frame centre."""
        return self.first_frame_ns + np.arange(self.prob.shape[0], dtype=np.int64) * self.frame_period_ns


class _Engine:
    """Streaming features + model with carried state; collects the probabilities of each contiguous piece."""

    def __init__(self, model, cfg, rate, device, timings, capture=None):
        import torch

        self.torch = torch
        self.model = model
        self.cfg = cfg
        self.rate = float(rate)
        self.device = device
        self.timings = timings
        self.features = StreamingFeatures(self.rate, cfg, spectrogram=capture is not None)
        self.capture = capture
        self.recurrent = hasattr(model, "forward_layers") and hasattr(model, "initial_states")
        self.context_frames = 0 if self.recurrent else max(int(getattr(model, "receptive_field", 1)) - 1, 0)
        win, hop = self.features.win, self.features.hop
        self.first_offset_ns = int(round(win / 2 * _NS / self.rate))
        self.period_ns = int(round(hop * _NS / self.rate))
        self.pieces: list[Piece] = []
        self.gaps: list[tuple[int, int]] = []
        self.chunk_samples = CHUNK_FRAMES * hop
        self._open = False
        self.last_end_ns = None

    # -- pieces ------------------------------------------------------------------------------------------
    def _start(self, start_ns):
        if self.last_end_ns is not None:
            self.gaps.append((self.last_end_ns, start_ns))
        self.start_ns, self.n_samples, self.probs = start_ns, 0, []
        self.states, self.context = None, None
        self._open = True
        if self.capture is not None:
            self.capture.start_piece(start_ns, self.start_ns + self.first_offset_ns, self.period_ns)

    def _end(self):
        t = time.perf_counter()
        tail = self.features.finish()
        self.timings["features"] += time.perf_counter() - t
        self._infer(tail)
        prob = np.concatenate(self.probs) if self.probs else np.zeros((0, len(self.model.class_names)), np.float32)
        self.pieces.append(Piece(self.start_ns, self.n_samples, self.rate, self.start_ns + self.first_offset_ns,
                                 self.period_ns, prob))
        self.last_end_ns = self._next_ns()
        self._open = False
        if self.capture is not None:
            self.capture.end_piece()

    def _next_ns(self):
        return self.start_ns + int(round(self.n_samples * _NS / self.rate))

    def push(self, start_ns: int, y: np.ndarray) -> None:
        if self._open:
            expected = self._next_ns()
            half = 0.5 * _NS / self.rate
            if start_ns > expected + half:
                self._end()
            elif start_ns < expected - half:  # overlap: keep the earlier samples
                y = y[int(round((expected - start_ns) * self.rate / _NS)) :]
        if not self._open:
            self._start(start_ns)
        for i in range(0, y.size, self.chunk_samples):
            part = y[i : i + self.chunk_samples]
            self.n_samples += part.size
            t = time.perf_counter()
            frames = self.features.push(part)
            self.timings["features"] += time.perf_counter() - t
            self._infer(frames)

    def finish(self) -> None:
        if self._open:
            self._end()

    # -- model ---------------------------------------------------------------------------------------------
    def _infer(self, out) -> None:
        feats, spec = out if isinstance(out, tuple) else (out, None)
        if feats.shape[0] == 0:
            return
        torch = self.torch
        t = time.perf_counter()
        x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))[None].to(self.device)
        hidden = None
        with torch.inference_mode():
            if self.recurrent:
                logits, layers = self.model.forward_layers(x, self.states)
                self.states = [layer["final_state"] for layer in layers]
                if self.capture is not None:
                    hidden = [layer["h"][0].cpu().numpy() for layer in layers]
            else:
                if self.context is not None:
                    x = torch.cat([self.context, x], dim=1)
                logits = self.model(x)[:, -feats.shape[0] :]
                if self.context_frames:
                    self.context = x[:, -self.context_frames :]
            prob = torch.softmax(logits[0].float(), dim=-1).cpu().numpy().astype(np.float32)
        self.probs.append(prob)
        self.timings["inference"] += time.perf_counter() - t
        if self.capture is not None:
            self.capture.write(feats, spec, prob, hidden)


# ------------------------------------------------------------------------------------------------ result


class MonitorResult:
    """What :func:`rnnscope.monitor` returns: the detection catalog, the frame probabilities and their exports.

    Attributes
    ----------
    detections : pandas.DataFrame
        One row per detection (see :func:`rnnscope._detections.detect` for the columns): ``seed_id``,
        ``class_name``, ``start``, ``end`` (UTC Timestamps), ``duration_s``, ``n_frames``, ``p_mean``, ``p_peak``,
        ``p_mean_<class>``, ``p_peak_<class>``.
    pieces : list of Piece
        The contiguous stretches of data classified, with their frame probabilities ``(frames, classes)``.
    gaps : pandas.DataFrame
        ``start``, ``end`` (UTC), ``duration_s`` of every interruption of the data inside the range (also the
        missing stretches at its start and end).
    seed_id, class_names, starttime, endtime, feature_config, sampling_rate
        What was monitored and how.
    timings : dict
        Wall seconds per stage: ``read``, ``preprocess``, ``features``, ``inference``, ``catalog``, ``total``.
    """

    def __init__(self, *, seed_id, class_names, starttime, endtime, pieces, gaps, feature_config, sampling_rate,
                 smoothing, min_duration, background, timings, model_name=None, capture_store=None):
        self.seed_id = seed_id
        self.class_names = list(class_names)
        self.starttime, self.endtime = starttime, endtime
        self.pieces = pieces
        self.gaps = gaps
        self.feature_config = feature_config
        self.sampling_rate = sampling_rate
        self.smoothing, self.min_duration, self.background = smoothing, min_duration, background
        self.timings = timings
        self.model_name = model_name
        self.capture_store = capture_store
        self.detections = self.detect()

    # -- catalog -----------------------------------------------------------------------------------------
    def detect(self, smoothing="default", min_duration="default", background="default") -> pd.DataFrame:
        """Recompute the detection table with other post-processing settings (the model is not run again).

        Arguments left at ``"default"`` take the values given to :func:`rnnscope.monitor`; ``smoothing=None``
        turns smoothing off, ``background=None`` reports every run (SIL included).

        Examples
        --------
        >>> import numpy as np, obspy, rnnscope
        >>> trace = obspy.Trace(np.random.default_rng(1).normal(size=30_000), header={"sampling_rate": 100.0})
        >>> result = rnnscope.monitor(rnnscope.models.RNNClassifier("gru", 48, 4, 5), trace, progress=False)
        >>> runs = result.detect(smoothing=None, min_duration=1, background=None)  # every frame in one run
        >>> int(runs["n_frames"].sum()) == result.n_frames == 593
        True
        """
        smoothing = self.smoothing if isinstance(smoothing, str) and smoothing == "default" else smoothing
        min_duration = self.min_duration if isinstance(min_duration, str) and min_duration == "default" else min_duration
        background = self.background if background == "default" else background
        tables = [
            _detections.detect(p.prob, p.first_frame_ns, p.frame_period_ns, self.class_names, smoothing=smoothing,
                               min_duration=min_duration, background=background, seed_id=self.seed_id,
                               func="monitor")
            for p in self.pieces if p.prob.shape[0]
        ]
        tables = [t for t in tables if len(t)]
        if not tables:
            return _detections.empty_table(self.class_names)
        return pd.concat(tables, ignore_index=True).sort_values("start", kind="stable").reset_index(drop=True)

    def score(self, truth: pd.DataFrame, **kwargs):
        """Event-level scores of :attr:`detections` against ``truth`` (see :func:`rnnscope._detections.score_detections`)."""
        return score_detections(self.detections, truth, **kwargs)

    # -- exports -----------------------------------------------------------------------------------------
    def to_csv(self, path) -> str:
        """Write the detections as CSV (times as ISO 8601 UTC strings, ``...Z``); return the path.

        Read it back with ``pandas.read_csv(path, parse_dates=["start", "end"])``.
        """
        table = self.detections.copy()
        for col in ("start", "end"):
            table[col] = table[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        table.to_csv(path, index=False)
        return os.fspath(path)

    def to_catalog(self):
        """The detections as an :class:`obspy.core.event.Catalog` (see the QuakeML note of :func:`monitor`)."""
        return _detections.to_catalog(self.detections, model=self.model_name)

    def to_quakeml(self, path) -> str:
        """Write the detections as QuakeML (class in the event description and a comment); return the path."""
        self.to_catalog().write(os.fspath(path), format="QUAKEML")
        return os.fspath(path)

    def probabilities(self):
        """Per-class frame probabilities as an ObsPy Stream.

        One float32 trace per class and contiguous piece: channel = class name, network/station/location of the
        monitored SEED id, sampling rate = frame rate (2 Hz for the paper's features), start time = centre of the
        first frame. Gaps in the data are gaps between traces.
        """
        pieces = [(p.first_frame_ns, p.frame_period_ns, p.prob) for p in self.pieces]
        return _detections.probability_stream(pieces, self.class_names, self.seed_id)

    def to_mseed(self, path) -> str:
        """Write :meth:`probabilities` as MiniSEED (FLOAT32 encoding); return the path.

        MiniSEED channel codes hold at most 3 characters: class names longer than that cannot be written.
        """
        long = [c for c in self.class_names if len(c) > 3]
        if long:
            raise ValueError(
                f"MonitorResult.to_mseed: MiniSEED channel codes hold at most 3 characters, but the classes {long} "
                "are longer; write the Stream from .probabilities() in another format (e.g. format='SAC' per trace) "
                "or rename the classes."
            )
        st = self.probabilities()
        st.write(os.fspath(path), format="MSEED", encoding="FLOAT32")
        return os.fspath(path)

    # -- summaries ---------------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return int(sum(p.prob.shape[0] for p in self.pieces))

    @property
    def data_seconds(self) -> float:
        """Seconds of data classified (gaps excluded)."""
        return float(sum(p.n_samples for p in self.pieces) / self.sampling_rate)

    @property
    def real_time_factor(self) -> float:
        """Seconds of data per second of wall time (``timings["total"]``)."""
        total = self.timings.get("total", 0.0)
        return self.data_seconds / total if total else float("nan")

    def __repr__(self) -> str:
        counts = self.detections["class_name"].value_counts()
        per_class = ", ".join(f"{c} {int(counts.get(c, 0))}" for c in self.class_names if c != self.background)
        return (
            f"MonitorResult({self.seed_id}, {self.starttime} - {self.endtime}: {self.data_seconds / 3600:.2f} h of "
            f"data in {len(self.pieces)} contiguous piece(s), {len(self.gaps)} gap(s), {self.n_frames} frames; "
            f"{len(self.detections)} detections ({per_class}); real-time factor {self.real_time_factor:,.0f}x)"
        )


# ------------------------------------------------------------------------------------------------ monitor


def _feature_config(model, feature_config, func) -> FeatureConfig:
    if feature_config is None:
        stored = getattr(model, "info", {}).get("feature_config")
        feature_config = stored if stored is not None else "paper"
    if isinstance(feature_config, FeatureConfig):
        cfg = feature_config
    elif isinstance(feature_config, str) and feature_config in PRESETS:
        cfg = PRESETS[feature_config]
    elif isinstance(feature_config, (str, Mapping)):
        try:
            cfg = FeatureConfig.from_json(feature_config)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"The 'feature_config' parameter of {func} must be a FeatureConfig, a preset name {list(PRESETS)} or "
                f"its JSON. Got {feature_config!r} ({err})."
            ) from None
    else:
        raise ValueError(
            f"The 'feature_config' parameter of {func} must be a FeatureConfig, a preset name {list(PRESETS)} or its "
            f"JSON. Got {type(feature_config).__name__} instead."
        )
    if cfg.n_features != model.input_size:
        raise ValueError(
            f"{func}: the feature config gives {cfg.n_features} features per frame but the model expects "
            f"{model.input_size}; pass the feature_config the model was trained with."
        )
    return cfg


def _preprocessing(model, cfg, detrend, bandpass, func):
    from .data._readers import _bandpass, _detrend_type

    stored = {}
    raw = getattr(model, "info", {}).get("feature_config")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    if isinstance(raw, Mapping):
        stored.update({k: raw[k] for k in ("detrend", "bandpass") if k in raw})
    for key in ("detrend", "bandpass"):
        if hasattr(cfg, key):
            stored.setdefault(key, getattr(cfg, key))
    if detrend == "default":
        detrend = stored.get("detrend", True)
    if isinstance(bandpass, str) and bandpass == "default":
        bandpass = stored.get("bandpass")
    return _detrend_type(detrend, func), _bandpass(bandpass, func)


def _resolve_id(src, seed_id, func):
    ids = src.ids()
    if seed_id is None:
        if len(ids) == 1:
            return ids[0]
        raise ValueError(
            f"The 'seed_id' parameter of {func} must name the channel to monitor (NET.STA.LOC.CHA); the source holds "
            f"{len(ids)} ids: {ids[:10]}{' ...' if len(ids) > 10 else ''}."
        )
    if not isinstance(seed_id, str) or seed_id.count(".") != 3:
        raise ValueError(
            f"The 'seed_id' parameter of {func} must be a SEED id 'NET.STA.LOC.CHA' (e.g. 'XX.DCP..HHZ'). "
            f"Got {seed_id!r} instead."
        )
    if src.kind != "sds" and seed_id not in ids:
        raise ValueError(f"{func}: the source holds no trace {seed_id!r}; it holds {ids[:10]}.")
    return seed_id


def _blocks(t0, t1, block_s):
    """[t0, t1) cut at multiples of ``block_s`` since 1970 (UTC midnights for whole days)."""
    from obspy import UTCDateTime

    step = int(round(block_s * _NS))
    a = t0.ns
    while a < t1.ns:
        b = min((a // step + 1) * step, t1.ns)
        yield UTCDateTime(ns=a), UTCDateTime(ns=b)
        a = b


def _bar(total, enabled, desc):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="block", desc=desc, leave=False)


def monitor(
    model,
    source,
    *,
    starttime=None,
    endtime=None,
    seed_id: str | None = None,
    feature_config=None,
    device: str = "auto",
    min_duration: Mapping[str, int] | int | None = None,
    smoothing=DEFAULT_SMOOTHING,
    background: str | None = "SIL",
    detrend: bool | str = "default",
    bandpass="default",
    sampling_rate: float | None = None,
    capture_store=None,
    block_s: float = 86400.0,
    margin_s: float = 60.0,
    threads: int | None = 1,
    progress: bool = True,
) -> MonitorResult:
    """Classify a long seismic record frame by frame and turn it into a detection catalog.

    Data are read one block (a UTC day) at a time, preprocessed, featurised and classified with the recurrent
    state carried across block boundaries, so the result equals one pass of the model over the concatenated
    data while memory stays that of one day (see the module docstring for the details and the gap rules).

    Parameters
    ----------
    model : RNNClassifier, TCNClassifier or path
        A trained model, or the path of a model file (:func:`rnnscope.models.load`).
    source : obspy.Stream, path, glob pattern, list of paths, or SDS root folder
        Waveforms: a Stream; MiniSEED/SAC/... files (anything ObsPy reads); or the root of an SDS archive
        (``root/YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY``, read with
        :class:`obspy.clients.filesystem.sds.Client`).
    starttime, endtime : UTC time, optional
        Range to monitor (ISO string, datetime or UTCDateTime; end excluded). Default: the data's extent (for an
        SDS archive, the first to the last day file of ``seed_id``).
    seed_id : str, optional
        ``NET.STA.LOC.CHA`` to monitor; may be left out when the source holds one id.
    feature_config : FeatureConfig, preset name or JSON, optional
        Features the model was trained on. Default: ``model.info["feature_config"]`` when present, else ``"paper"``.
    device : str
        ``"auto"`` picks CUDA, then MPS, then the CPU.
    min_duration : dict or int, optional
        Minimum detection length in frames per class (default the authors' ``{"SIL": 2, "TRE": 40, "HYB": 14,
        "VTE": 4, "LP": 4}``; classes not named: 1 frame), or one number for every class.
    smoothing : None, int or (str, int)
        Moving mean over this many frames (default 5), ``("median", n)``, or None (off).
    background : str or None
        Class not reported as a detection (default ``"SIL"``).
    detrend : bool or {"linear", "constant", "demean", "simple"}
        Detrend of each processing window (``True`` = linear), as in :func:`rnnscope.data.from_obspy`. Default:
        the feature config's ``detrend`` when it has one, else linear.
    bandpass : (float, float) or None
        Zero-phase Butterworth band-pass corners in Hz before resampling (default: the feature config's, else
        none).
    sampling_rate : float, optional
        The model's input rate in Hz (default ``model.info["sampling_rate"]`` when present, else 100).
    capture_store : path, optional
        Also write the hidden states ``h`` of every layer and frame (with features, spectrogram, probabilities and
        the detections as segment table) into this folder: one zarr run per UTC day and contiguous piece, written
        chunk by chunk (see :mod:`rnnscope._monitor_capture`); open one with :func:`rnnscope.open_run` and explore
        it. ``result.capture_store`` lists the runs.
    block_s : float
        Seconds read at once (default a day; blocks start at UTC midnights).
    margin_s : float
        Seconds of overlap between processing windows (keeps filter/resampling transients off block edges).
    threads : int or None
        PyTorch CPU threads while monitoring (restored afterwards). Default 1: the recurrence of one channel is a
        sequence of small matrix-vector products that more threads only slow down (8x slower with 2 threads on a
        busy 2-core machine). None keeps torch's setting.
    progress : bool
        Show a progress bar over blocks.

    Returns
    -------
    MonitorResult
        ``.detections`` (DataFrame), ``.to_csv(path)``, ``.to_quakeml(path)``, ``.probabilities()`` (ObsPy Stream),
        ``.to_mseed(path)``, ``.score(truth)``, ``.gaps``, ``.pieces``, ``.timings``.

    Notes
    -----
    **Chunk boundaries.** Within a contiguous stretch of data the features are those of ``frames_of`` of the whole
    stretch and the model's state is carried from chunk to chunk: with detrending and band-pass off and data at
    the model's rate, the probabilities equal one forward pass over the whole stretch (tested to 1e-5). With
    detrending on, each processing window (a day plus ``margin_s`` seconds on each side) is detrended on its own,
    as :func:`rnnscope.data.from_obspy` detrends each record: a small offset between days is the only difference.

    **Gaps** end a stretch: its last frames use the end-edge repetition of ``frames_of``, the recurrent state is
    reset, framing restarts after the gap. Gaps hold no frame and no detection; ``result.gaps`` lists them.

    **QuakeML** has no event type for long-period events, tremor or hybrid events: VTE detections get
    ``event_type="earthquake"``, every other class ``"other event"``; the class name is stored as the text of the
    event's first description and in a comment (``rnnscope class=LP; start=...; end=...; p_mean=...``), which
    also holds the end time. Each event has one automatic pick at its start on the monitored channel and no origin.

    Examples
    --------
    >>> import numpy as np, obspy, rnnscope
    >>> trace = obspy.Trace(np.random.default_rng(0).normal(size=60_000), header={"sampling_rate": 100.0,
    ...     "network": "XX", "station": "DEMO", "channel": "HHZ", "starttime": obspy.UTCDateTime("2024-03-01T23:55")})
    >>> model = rnnscope.models.RNNClassifier("lstm", 48, 8, 5)
    >>> result = rnnscope.monitor(model, obspy.Stream([trace]), progress=False)
    >>> result.n_frames, len(result.pieces)          # 10 minutes across midnight: one piece, 1193 frames
    (1193, 1)
    >>> st = result.probabilities()
    >>> [tr.stats.channel for tr in st], st[0].stats.sampling_rate, str(st[0].stats.starttime)
    (['HYB', 'LP', 'SIL', 'TRE', 'VTE'], 2.0, '2024-03-01T23:55:02.000000Z')
    """
    func = "monitor"
    t_total = time.perf_counter()
    from ._device import resolve_device

    if isinstance(model, (str, os.PathLike)):
        from .models import load

        model_name = Path(model).name
        model = load(model)
    else:
        model_name = type(model).__name__
    if not hasattr(model, "class_names") or not hasattr(model, "input_size"):
        raise TypeError(
            f"The 'model' parameter of {func} must be an rnnscope model (RNNClassifier, TCNClassifier) or the path of "
            f"a model file. Got {type(model).__name__} instead."
        )
    cfg = _feature_config(model, feature_config, func)
    detrend_type, band = _preprocessing(model, cfg, detrend, bandpass, func)
    rate = sampling_rate if sampling_rate is not None else getattr(model, "info", {}).get("sampling_rate", 100.0)
    from ._validation import check_positive

    check_positive(rate, name="sampling_rate", func=func)
    check_positive(block_s, name="block_s", func=func)
    check_positive(margin_s, name="margin_s", func=func, allow_zero=True)
    _detections._check_smoothing(smoothing, func)
    _detections._min_frames(min_duration, model.class_names, func)
    dev = resolve_device(device, func=func)
    model = model.to(dev).eval()

    src = _open_source(source, func)
    seed_id = _resolve_id(src, seed_id, func)
    t0, t1 = _utc(starttime, "starttime", func), _utc(endtime, "endtime", func)
    if t0 is None or t1 is None:
        extent = src.extent(seed_id)
        if extent is None:
            raise ValueError(f"{func}: the source holds no data for {seed_id!r}; check the SEED id.")
        t0 = t0 if t0 is not None else extent[0]
        t1 = t1 if t1 is not None else extent[1]
    if t1 <= t0:
        raise ValueError(f"{func}: endtime {t1} is not after starttime {t0}; give a range with start < end.")

    timings = dict.fromkeys(("read", "preprocess", "features", "inference", "catalog"), 0.0)
    capture = None
    if capture_store is not None:
        from ._monitor_capture import CaptureWriter

        if not hasattr(model, "forward_layers"):
            raise ValueError(
                f"{func}: capture_store needs a recurrent model (RNNClassifier); a {type(model).__name__} has no hidden "
                "states to capture. Leave capture_store out."
            )
        capture = CaptureWriter(capture_store, model, cfg, rate, seed_id)
    engine = _Engine(model, cfg, rate, dev, timings, capture)
    pre = _Preprocessor(rate, detrend_type, band, margin_s, seed_id, func)
    blocks = list(_blocks(t0, t1, block_s))
    bar = _bar(len(blocks), progress, f"monitor {seed_id}")

    import torch

    threads_before = torch.get_num_threads()
    if threads is not None:
        check_positive(threads, name="threads", func=func, integer=True)
        torch.set_num_threads(int(threads))
    try:
        for a, b in blocks:
            t = time.perf_counter()
            st = src.read(seed_id, a, b)
            pieces = _contiguous_pieces(st, func) if len(st) else []
            del st
            timings["read"] += time.perf_counter() - t
            pieces.reverse()
            while pieces:  # pop: the preprocessor then holds the only reference to a piece's samples
                _feed(engine, pre, timings, pieces.pop())
            if bar is not None:
                bar.update(1)
        _feed(engine, pre, timings, None)
        engine.finish()
    finally:
        torch.set_num_threads(threads_before)
        if bar is not None:
            bar.close()

    gaps = _gap_table(engine, t0, t1)
    t = time.perf_counter()
    result = MonitorResult(
        seed_id=seed_id, class_names=model.class_names, starttime=t0, endtime=t1, pieces=engine.pieces, gaps=gaps,
        feature_config=cfg, sampling_rate=rate, smoothing=smoothing, min_duration=min_duration,
        background=background, timings=timings, model_name=model_name,
    )
    timings["catalog"] = time.perf_counter() - t
    if capture is not None:
        result.capture_store = capture.finish(result.detections)
    timings["total"] = time.perf_counter() - t_total
    return result


def _feed(engine, pre, timings, trace) -> None:
    """Preprocess one raw piece (``None``: flush the preprocessor) and classify what comes out."""
    t = time.perf_counter()
    outputs = pre.flush() if trace is None else pre.push(trace)
    timings["preprocess"] += time.perf_counter() - t
    while outputs:
        start_ns, y = outputs.pop(0)
        engine.push(start_ns, y)
        del y


def _gap_table(engine, t0, t1) -> pd.DataFrame:
    spans = []
    pieces = engine.pieces
    if not pieces:
        spans.append((t0.ns, t1.ns))
    else:
        if pieces[0].start_ns > t0.ns + 0.5 * _NS / engine.rate:
            spans.append((t0.ns, pieces[0].start_ns))
        spans += engine.gaps
        end = pieces[-1].end_ns
        if end < t1.ns - 0.5 * _NS / engine.rate:
            spans.append((end, t1.ns))
    a = np.array([s[0] for s in spans], dtype=np.int64)
    b = np.array([s[1] for s in spans], dtype=np.int64)
    return pd.DataFrame({
        "start": pd.to_datetime(a, unit="ns", utc=True),
        "end": pd.to_datetime(b, unit="ns", utc=True),
        "duration_s": (b - a) / _NS,
    })

"""Contiguous pieces of ObsPy traces: split at gaps, processed one by one, merged into records across small gaps.

:func:`rnnscope.data.from_obspy` works on gap-free pieces so that filters never ring across a gap and pieces of
one SEED id recorded at different rates end on one grid. The steps, in order:

1. :func:`split_pieces` — float64 copies of the gap-free pieces of every trace (masked or NaN samples split one);
2. :func:`process_piece` — detrend, band-pass and resample one piece in place;
3. :func:`merge_pieces` — the pieces of one id become records: pieces closer in time than ``max_gap_s`` are
   merged (gaps masked), a longer gap starts a new record. Only the samples of one record are ever allocated, so
   files of one id recorded months apart cost the memory of their samples, not of the months between them.

This module imports ObsPy only through the ``obspy`` argument its callers pass (ObsPy is optional).
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Literal

import numpy as np

#: two sampling rates closer than this (relative) are the same rate: no resampling
RATE_RTOL = 1e-7
#: largest up/down factor of the polyphase resampler; other ratios use the fallback (low-pass + Lanczos)
MAX_RESAMPLE_FACTOR = 1000
#: stop-band attenuation (dB) of the anti-alias filter, reached at the lower of the two Nyquist frequencies
ANTIALIAS_ATTENUATION_DB = 80.0
_NS = 1_000_000_000


def split_pieces(st, obspy, func):
    """Float64 copies of the gap-free pieces of every trace (masked or NaN samples split a trace)."""
    pieces = []
    for tr in st:
        data = tr.data
        if data.size == 0:
            continue  # empty records (e.g. a MiniSEED record with no data) carry nothing
        if data.dtype.kind not in "iuf":
            raise ValueError(
                f"{func}: trace {tr.id!r} holds no numeric samples (dtype {data.dtype}); remove it from the stream, "
                "e.g. stream.select(channel=...)."
            )
        rate = float(tr.stats.sampling_rate)
        if not np.isfinite(rate) or rate <= 0:
            raise ValueError(
                f"{func}: trace {tr.id!r} has sampling rate {rate!r} Hz; remove it from the stream or fix its header."
            )
        values = np.ma.masked_invalid(np.ma.asarray(data).astype(np.float64))
        trace = obspy.Trace(data=values, header=tr.stats.copy())
        if np.ma.getmaskarray(values).any():
            pieces.extend(p for p in trace.split().traces if p.stats.npts > 0)
        else:
            trace.data = np.ma.getdata(values)
            pieces.append(trace)
    return pieces


def process_piece(tr, detrend_type, band, sampling_rate, func) -> str:
    """Detrend, band-pass and resample one gap-free trace in place; return the resampling method used."""
    rate = float(tr.stats.sampling_rate)
    if detrend_type is not None:
        tr.detrend(type=detrend_type)
    if band is not None:
        if band[1] >= rate / 2:
            raise ValueError(
                f"{func}: trace {tr.id!r} is sampled at {rate:g} Hz (Nyquist {rate / 2:g} Hz), which does not lie "
                f"above the band-pass upper corner {band[1]:g} Hz; pass bandpass=(low, high) with high below "
                f"{rate / 2:g} Hz."
            )
        tr.filter("bandpass", freqmin=band[0], freqmax=band[1], corners=4, zerophase=True)
    return _resample(tr, sampling_rate)


def _resample(tr, sampling_rate) -> str:
    """Resample one gap-free trace in place (see from_obspy's Notes); return a description of the method."""
    rate = float(tr.stats.sampling_rate)
    if abs(rate - sampling_rate) <= RATE_RTOL * sampling_rate:
        tr.stats.sampling_rate = sampling_rate
        return "none"
    from scipy import signal

    frac = Fraction(sampling_rate / rate).limit_denominator(MAX_RESAMPLE_FACTOR)
    up, down = frac.numerator, frac.denominator
    if up <= MAX_RESAMPLE_FACTOR and abs(rate * up / down - sampling_rate) <= RATE_RTOL * sampling_rate:
        data = np.asarray(tr.data, dtype=np.float64)
        padtype: Literal["line", "edge"] = "line" if data.size >= 2 else "edge"
        # scipy-stubs: window may be the FIR filter's coefficients (array_like), as scipy documents
        out = signal.resample_poly(data, up, down, window=_antialias_fir(up, down), padtype=padtype)  # type: ignore[call-overload]
        tr.data = np.ascontiguousarray(out, dtype=np.float64)
        tr.stats.sampling_rate = sampling_rate
        return "scipy.signal.resample_poly"
    # fallback for unusual ratios: anti-alias low-pass (downsampling only), then Lanczos interpolation
    if sampling_rate < rate:
        sos = signal.cheby2(10, 80, 0.5 * sampling_rate, btype="low", fs=rate, output="sos")
        if tr.stats.npts > 3 * 2 * len(sos):
            tr.data = signal.sosfiltfilt(sos, np.asarray(tr.data, dtype=np.float64))
    tr.interpolate(sampling_rate=sampling_rate, method="lanczos", a=20)
    tr.stats.sampling_rate = sampling_rate
    return "chebyshev2 low-pass + lanczos interpolation"


def _antialias_fir(up: int, down: int) -> np.ndarray:
    """Linear-phase low-pass for ``resample_poly(up, down)``: flat to 0.8, >= 80 dB down from 1 x the lower Nyquist.

    Frequencies are relative to the Nyquist frequency of the upsampled rate (1); the lower of the input and
    output Nyquist frequencies is ``1 / max(up, down)`` there. Odd length, so the filter delay is compensated.
    """
    from scipy import signal

    nyquist = 1.0 / max(up, down)
    numtaps, beta = signal.kaiserord(ANTIALIAS_ATTENUATION_DB, 0.2 * nyquist)
    return signal.firwin(numtaps | 1, 0.9 * nyquist, window=("kaiser", beta))


def merge_pieces(pieces, max_gap_s, merge_gaps, obspy, func) -> list:
    """Processed pieces (all at one rate) -> ``(trace id, trace)`` per record, in order of id, then time.

    Pieces of one id are sorted by start time and chained while the gap from the end of the chain (one sample
    after its last sample) to the next piece's start is at most ``max_gap_s`` (``None``: no limit) or half a
    sample, whichever is larger; overlapping pieces always chain. Each chain is merged with ObsPy's
    ``Stream.merge(method=1)`` (gaps masked; the later piece wins where pieces overlap). With ``merge_gaps=False``
    only overlapping and adjacent pieces chain, and a merged chain is split again at any masked gap.
    """
    groups: dict[str, list] = {}
    for tr in pieces:
        groups.setdefault(tr.id, []).append(tr)
    out = []
    for tid, group in groups.items():
        limit = (math.inf if max_gap_s is None else float(max_gap_s)) if merge_gaps else 0.0
        for chain in _chains(group, limit):
            if len(chain) == 1:
                out.append((tid, chain[0]))
                continue
            merged = obspy.Stream(chain)
            try:
                merged.merge(method=1, fill_value=None, interpolation_samples=0)
            except Exception as err:  # ObsPy raises bare Exception on e.g. differing calibration factors
                raise ValueError(f"{func}: cannot merge the traces of {tid!r}: {err}") from err
            (tr,) = merged.traces
            if merge_gaps or not np.ma.isMaskedArray(tr.data):
                out.append((tid, tr))
            else:
                out.extend((tid, piece) for piece in tr.split().traces)
    return out


def _chains(group, max_gap_s: float) -> list[list]:
    """Split the pieces of one id (one sampling rate) into chains separated by gaps over ``max_gap_s`` (s).

    Gaps under half a sample never split a chain (ObsPy's merge puts such pieces on one grid).
    """
    rate = float(group[0].stats.sampling_rate)
    limit = max(0.5 * _NS / rate, max_gap_s * _NS)
    order = sorted(group, key=lambda tr: tr.stats.starttime.ns)
    chains, end = [], None
    for tr in order:
        start = int(tr.stats.starttime.ns)
        stop = start + round(tr.stats.npts * _NS / rate)  # one sample after the last one
        if end is None or start - end > limit:
            chains.append([tr])
            end = stop
        else:
            chains[-1].append(tr)
            end = max(end, stop)
    return chains

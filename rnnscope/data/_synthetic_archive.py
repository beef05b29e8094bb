"""A synthetic continuous archive for testing and benchmarking :func:`rnnscope.monitor`.

:func:`synthetic_signal` concatenates records of :func:`rnnscope.data.synthetic` into one continuous signal
with its true catalog; :func:`write_sds_archive` writes such a signal as day files (MiniSEED, Steim-2 integer
counts) in an SDS tree (``root/YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY``), with optional gaps and days at
another sampling rate, and returns the true catalog in UTC.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._synthetic import BACKGROUND

__all__ = ["synthetic_signal", "write_sds_archive", "sds_path"]

_NS = 1_000_000_000


def synthetic_signal(duration_s: float, *, seed: int = 0, sampling_rate: float = 100.0, **kwargs):
    """One continuous signal of at least ``duration_s`` seconds and its segment table.

    Records of :func:`rnnscope.data.synthetic` (same ``seed``, any extra keyword passed on) are concatenated in
    order until the duration is reached; the signal is then cut to ``duration_s``.

    Returns
    -------
    x : ndarray float64
    segments : pandas.DataFrame
        ``class_name``, ``start``, ``end`` in seconds from the signal start (every labelled stretch, SIL
        included; segments at a record join stay separate).

    Examples
    --------
    >>> x, seg = synthetic_signal(300.0, seed=1)
    >>> x.size, float(seg.end.max())
    (30000, 300.0)
    """
    from ._records import catalog
    from ._synthetic import synthetic

    need = int(round(duration_s * sampling_rate))
    parts, rows, total, batch, first = [], [], 0, 16, 0
    while total < need:
        ds = synthetic(n_records=first + batch, seed=seed, sampling_rate=sampling_rate, **kwargs)
        cat = catalog(ds)
        for i in range(first, first + batch):
            n = int(ds["n_samples"].values[i])
            x = np.asarray(ds["waveform"].values[i, :n], dtype=np.float64)
            for r in cat[cat["event"] == i].itertuples():
                rows.append((r.class_name, total / sampling_rate + r.start, total / sampling_rate + r.end))
            parts.append(x)
            total += n
            if total >= need:
                break
        first += batch
        batch *= 2
    x = np.concatenate(parts)[:need]
    seg = pd.DataFrame(rows, columns=["class_name", "start", "end"])
    seg = seg[seg["start"] < need / sampling_rate].copy()
    seg["end"] = seg["end"].clip(upper=need / sampling_rate)
    return x, seg.reset_index(drop=True)


def sds_path(root, seed_id: str, time) -> str:
    """Path of the SDS day file of ``seed_id`` holding ``time`` (type ``D``)."""
    net, sta, loc, cha = seed_id.split(".")
    return os.path.join(os.fspath(root), f"{time.year:04d}", net, sta, f"{cha}.D",
                        f"{net}.{sta}.{loc}.{cha}.D.{time.year:04d}.{time.julday:03d}")


def write_sds_archive(
    root,
    starttime,
    duration_s: float,
    *,
    seed: int = 0,
    seed_id: str = "XX.SYN..HHZ",
    sampling_rate: float = 100.0,
    day_rates: Mapping[int, float] | None = None,
    gaps: Sequence[tuple[float, float]] = (),
    event_at_s: float | None = None,
    **kwargs,
):
    """Write a continuous synthetic signal as an SDS archive of MiniSEED day files; return the truth.

    Parameters
    ----------
    root : path
        SDS root folder (created).
    starttime : UTC time
        Time of the first sample.
    duration_s : float
        Length of the signal.
    seed, sampling_rate, **kwargs
        Passed to :func:`synthetic_signal`.
    seed_id : str
        ``NET.STA.LOC.CHA`` of the channel.
    day_rates : dict, optional
        ``{day index (0 = the day of starttime): rate}``: those days are written at that rate (the signal is
        resampled with :func:`scipy.signal.resample_poly`).
    gaps : sequence of (float, float)
        Stretches (s from ``starttime``) left out of the archive.
    event_at_s : float, optional
        Shift the signal so that the middle of an event (not SIL) at least 10 s long falls at this time (s from
        ``starttime``), e.g. on a day boundary.

    Returns
    -------
    truth : pandas.DataFrame
        True events (SIL left out): ``seed_id``, ``class_name``, ``start``, ``end`` (UTC Timestamps), clipped at
        the gaps (an event spanning a gap becomes two).
    signal : ndarray
        The continuous signal at ``sampling_rate`` before rounding to integer counts (gaps included).
    """
    from obspy import Stream, Trace, UTCDateTime
    from scipy.signal import resample_poly

    t0 = UTCDateTime(starttime)
    fs = float(sampling_rate)
    extra = 0.0 if event_at_s is None else 900.0
    x, seg = synthetic_signal(duration_s + extra, seed=seed, sampling_rate=fs, **kwargs)
    shift = 0.0
    if event_at_s is not None:
        events = seg[(seg["class_name"] != BACKGROUND) & (seg["end"] - seg["start"] >= 10.0)]
        mids = (events["start"] + events["end"]) / 2
        ok = events[(mids >= event_at_s) & (mids <= event_at_s + extra)]
        if len(ok) == 0:
            raise RuntimeError("write_sds_archive: no event long enough to put at event_at_s; try another seed.")
        shift = float(np.floor(((ok["start"].iat[0] + ok["end"].iat[0]) / 2 - event_at_s) * fs) / fs)
    k = int(round(shift * fs))
    n = int(round(duration_s * fs))
    x = x[k : k + n]
    seg = seg.assign(start=seg["start"] - shift, end=seg["end"] - shift)
    seg = seg[(seg["end"] > 0) & (seg["start"] < duration_s)].copy()
    seg["start"] = seg["start"].clip(lower=0.0)
    seg["end"] = seg["end"].clip(upper=duration_s)

    keep = np.ones(n, dtype=bool)
    for a, b in gaps:
        keep[int(round(a * fs)) : int(round(b * fs))] = False
    net, sta, loc, cha = seed_id.split(".")
    day_rates = dict(day_rates or {})
    counts = np.rint(x).astype(np.int32)
    first_day = UTCDateTime(t0.date)
    day = 0
    while True:
        d0 = first_day + 86400 * day
        if d0 >= t0 + duration_s:
            break
        i0 = max(0, int(np.ceil((d0 - t0) * fs - 1e-6)))
        i1 = min(n, int(np.ceil((d0 + 86400 - t0) * fs - 1e-6)))
        rate = float(day_rates.get(day, fs))
        traces = []
        edges = np.flatnonzero(np.diff(np.r_[0, keep[i0:i1].astype(np.int8), 0]))
        for a, b in zip(edges[::2] + i0, edges[1::2] + i0):
            if rate == fs:
                data = counts[a:b]
            else:  # resample the continuous signal around the piece, then cut: no edge effects
                pad = int(fs * 10)
                lo, hi = max(0, a - pad), min(n, b + pad)
                from fractions import Fraction

                frac = Fraction(rate / fs).limit_denominator(1000)
                y = resample_poly(x[lo:hi], frac.numerator, frac.denominator)
                j0 = (a - lo) * frac.numerator // frac.denominator
                j1 = j0 + (b - a) * frac.numerator // frac.denominator
                data = np.rint(y[j0:j1]).astype(np.int32)
            header = {"network": net, "station": sta, "location": loc, "channel": cha, "sampling_rate": rate,
                      "starttime": t0 + a / fs}
            traces.append(Trace(data=np.ascontiguousarray(data), header=header))
        if traces:
            path = sds_path(root, seed_id, d0)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Stream(traces).write(path, format="MSEED", encoding="STEIM2", reclen=4096)
        day += 1

    rows = []
    events = seg[seg["class_name"] != BACKGROUND]
    for r in events.itertuples():
        pieces = [(r.start, r.end)]
        for a, b in gaps:
            pieces = [q for p0, p1 in pieces for q in ((p0, min(p1, a)), (max(p0, b), p1)) if q[1] > q[0]]
        rows += [(seed_id, r.class_name, p0, p1) for p0, p1 in pieces]
    truth = pd.DataFrame(rows, columns=["seed_id", "class_name", "start", "end"])
    base = pd.Timestamp(t0.ns, unit="ns", tz="UTC")
    truth["start"] = base + pd.to_timedelta(truth["start"], unit="s")
    truth["end"] = base + pd.to_timedelta(truth["end"], unit="s")
    return truth.reset_index(drop=True), x

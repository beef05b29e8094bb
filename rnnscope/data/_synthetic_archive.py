"""Synthetic archives as observatories hold them, for testing and benchmarking :func:`rnnscope.monitor`.

:func:`synthetic_archive` (public, :mod:`rnnscope.data`) writes SDS archives with the defects of real ones: gaps,
missing days, stations without data, overlapping day files, days at another sampling rate, event-cut files months
apart. :func:`synthetic_signal` concatenates records of :func:`rnnscope.data.synthetic` into one continuous signal
with its true catalog; :func:`write_sds_archive` writes one such signal as day files (MiniSEED, Steim-2 integer
counts) in an SDS tree (``root/YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY``), with optional gaps, days at
another sampling rate and an event placed on a given time, and returns the true catalog in UTC and the signal.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ._synthetic import BACKGROUND

__all__ = ["synthetic_archive", "synthetic_signal", "write_sds_archive", "sds_path"]

_NS = 1_000_000_000
_DAY_S = 86400.0


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


# ------------------------------------------------------------------------------------------------ day files


class _DayFiles:
    """The traces of one channel collected per SDS day file; each file is written once no later trace can reach it.

    A trace goes into the file of the UTC day it lies in; with ``overlap_s`` the file of the day before also holds
    its first ``overlap_s`` seconds past midnight (as digitisers that close their day files late write them).
    """

    def __init__(self, root, seed_id: str, overlap_s: float = 0.0):
        self.root, self.seed_id, self.overlap_s = root, seed_id, float(overlap_s)
        self.pending: dict[int, list] = {}  # day start (ns) -> traces

    def add(self, trace) -> None:
        from obspy import Trace, UTCDateTime

        day = UTCDateTime(trace.stats.starttime.date)
        self.pending.setdefault(day.ns, []).append(trace)
        late = int(np.ceil((day + self.overlap_s - trace.stats.starttime) * trace.stats.sampling_rate - 1e-6))
        if self.overlap_s > 0 and late > 0:  # the file of the day before runs this far into the trace's day
            header = trace.stats.copy()
            header.npts = min(late, trace.stats.npts)
            head = Trace(data=trace.data[: header.npts].copy(), header=header)
            self.pending.setdefault((day - _DAY_S).ns, []).append(head)

    def flush(self, before_ns: int | None = None) -> None:
        """Write the files of the days that end (overlap included) before ``before_ns`` (None: every file)."""
        from obspy import Stream, UTCDateTime

        span = int(round((_DAY_S + self.overlap_s) * _NS))
        for day_ns in sorted(self.pending):
            if before_ns is not None and day_ns + span > before_ns:
                continue
            traces = sorted(self.pending.pop(day_ns), key=lambda tr: tr.stats.starttime.ns)
            path = sds_path(self.root, self.seed_id, UTCDateTime(ns=day_ns))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            Stream(traces).write(path, format="MSEED", encoding="STEIM2", reclen=4096)


def _day_traces(x, t0, fs: float, keep, seed_id: str, day_rates: Mapping[int, float], first_day):
    """The kept samples of ``x`` (first sample at ``t0``, ``fs`` Hz) as integer-count traces, one per contiguous
    kept stretch and UTC day, each at the rate ``day_rates`` gives its day (index from ``first_day``): those are
    resampled from the continuous signal around them (no edge effects)."""
    from fractions import Fraction

    from obspy import Trace, UTCDateTime
    from scipy.signal import resample_poly

    net, sta, loc, cha = seed_id.split(".")
    n = x.size
    counts = np.rint(x).astype(np.int32)
    day = UTCDateTime(t0.date)
    while day < t0 + n / fs:
        i0 = max(0, int(np.ceil((day - t0) * fs - 1e-6)))
        i1 = min(n, int(np.ceil((day + _DAY_S - t0) * fs - 1e-6)))
        rate = float(day_rates.get(int(round((day - first_day) / _DAY_S)), fs))
        edges = np.flatnonzero(np.diff(np.r_[0, keep[i0:i1].astype(np.int8), 0]))
        for a, b in zip(edges[::2] + i0, edges[1::2] + i0, strict=True):
            if rate == fs:
                data = counts[a:b]
            else:
                pad = int(fs * 10)
                lo, hi = max(0, a - pad), min(n, b + pad)
                frac = Fraction(rate / fs).limit_denominator(1000)
                y = resample_poly(x[lo:hi], frac.numerator, frac.denominator)
                j0 = (a - lo) * frac.numerator // frac.denominator
                j1 = j0 + (b - a) * frac.numerator // frac.denominator
                data = np.rint(y[j0:j1]).astype(np.int32)
            header = {"network": net, "station": sta, "location": loc, "channel": cha, "sampling_rate": rate,
                      "starttime": t0 + a / fs}
            yield Trace(data=np.ascontiguousarray(data), header=header)
        day += _DAY_S


def _cut(spans, removed):
    """``spans`` [(start, end), ...] minus every stretch of ``removed``."""
    for a, b in removed:
        spans = [q for p0, p1 in spans for q in ((p0, min(p1, a)), (max(p0, b), p1)) if q[1] > q[0]]
    return spans


def _truth_table(rows, base) -> pd.DataFrame:
    """``(seed_id, class_name, start_s, end_s)`` rows (s after ``base``) -> the truth DataFrame in UTC."""
    truth = pd.DataFrame(rows, columns=["seed_id", "class_name", "start", "end"])
    stamp = pd.Timestamp(base.ns, unit="ns", tz="UTC")
    truth["start"] = stamp + pd.to_timedelta(truth["start"].astype(float), unit="s")
    truth["end"] = stamp + pd.to_timedelta(truth["end"].astype(float), unit="s")
    return truth.sort_values(["start", "seed_id"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ one signal


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
    from obspy import UTCDateTime

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
    files = _DayFiles(root, seed_id)
    for trace in _day_traces(x, t0, fs, keep, seed_id, dict(day_rates or {}), UTCDateTime(t0.date)):
        files.add(trace)
    files.flush()
    events = seg[seg["class_name"] != BACKGROUND]
    rows = [(seed_id, r.class_name, p0, p1) for r in events.itertuples() for p0, p1 in _cut([(r.start, r.end)], gaps)]
    return _truth_table(rows, t0), x


# ------------------------------------------------------------------------------------------------ archives


def synthetic_archive(
    root,
    starttime="2024-03-01T00:00:00",
    duration_s: float | None = None,
    *,
    seed_ids: str | Sequence[str] = "XX.SYN..HHZ",
    seed_id: str | None = None,
    sampling_rate: float = 100.0,
    seed: int = 0,
    gaps: Sequence[tuple[float, float]] = (),
    missing_days: Sequence[int] = (),
    without_data: Sequence[str] = (),
    overlap_s: float = 0.0,
    day_rates: Mapping[int, float] | None = None,
    event_cuts: Sequence[tuple] | None = None,
    **kwargs,
) -> pd.DataFrame:
    """Write a synthetic SDS archive with the defects of real ones, and return its true catalog.

    The signal is made of records of :func:`rnnscope.data.synthetic` (tremor, LP, VTE, hybrid events in noise)
    concatenated, written as Steim-2 MiniSEED integer counts in day files of an SDS tree
    (``root/YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY``, what :class:`obspy.clients.filesystem.sds.Client`
    and :func:`rnnscope.monitor` read). Each option adds one defect observatories know.

    Parameters
    ----------
    root : path
        SDS root folder (created; existing day files of the same channels and days are replaced).
    starttime : UTC time
        Time of the first sample (anything :class:`obspy.UTCDateTime` reads; default 2024-03-01T00:00:00).
    duration_s : float, optional
        Length of the continuous record (default 3600 s). It is generated a day at a time from ``starttime``
        (the seam between two generated days is a record boundary: no event spans it; days wholly missing are not
        generated); memory stays that of a day.
    seed_ids : str or sequence of str
        ``NET.STA.LOC.CHA`` of each channel (default one, ``"XX.SYN..HHZ"``); each gets its own signal.
    seed_id : str, optional
        One channel's id, as :func:`rnnscope.monitor` names the channel it reads (the same as
        ``seed_ids=[seed_id]``; give one of the two).
    sampling_rate : float
        Hz (default 100).
    seed : int
        Seed of the signals: channel ``k``'s day (or cut) ``j`` is drawn from ``SeedSequence([seed, k, j])``.
    gaps : sequence of (float, float)
        Stretches (s after ``starttime``) missing from every channel (telemetry outages).
    missing_days : sequence of int
        Day indices (0 = the UTC day of ``starttime``) without any day file.
    without_data : sequence of str
        SEED ids (among ``seed_ids``) of stations that recorded nothing: each of their day files is empty (0 bytes),
        as an acquisition system leaves it for a dead station.
    overlap_s : float
        Each day file also holds the first ``overlap_s`` seconds of the next day (the same samples as the next day's
        file), as digitisers that close their files late write them: files overlap.
    day_rates : dict, optional
        ``{day index: rate}``: the files of those days are written at another sampling rate (the signal resampled
        with :func:`scipy.signal.resample_poly`), as after a change of the digitiser's settings.
    event_cuts : sequence of (start, float), optional
        **Event-cut files** instead of a continuous record: only these windows ``(start, duration_s)`` hold data,
        each its own signal; ``start`` is a UTC time or seconds after ``starttime``. Give real-shaped windows (a few
        minutes, starting off any sample grid, weeks or months apart): the archive then has months of missing days
        between them. ``duration_s`` must then be left out.
    **kwargs
        Passed to :func:`rnnscope.data.synthetic` (e.g. ``class_proportions``, ``snr_db``, ``mean_gap_s``).

    Returns
    -------
    pandas.DataFrame
        The true events (background stretches left out) that the archive holds: ``seed_id``, ``class_name``,
        ``start``, ``end`` (UTC Timestamps), in time order; events are clipped at gaps and missing days (an event
        spanning a gap becomes two). Columns as :func:`rnnscope.monitoring.score_detections` and
        :func:`rnnscope.data.from_obspy`'s ``catalog`` take them.

    Raises
    ------
    ValueError
        For a ``seed_id`` that is not ``NET.STA.LOC.CHA``, ``without_data`` ids not among ``seed_ids``, a negative
        ``overlap_s``, a gap whose end is not after its start, or both ``duration_s`` and ``event_cuts``.

    Examples
    --------
    Two stations for 20 minutes across midnight, a gap on both and a second station that recorded nothing:

    >>> import os, tempfile, obspy, rnnscope
    >>> root = tempfile.mkdtemp()
    >>> truth = rnnscope.data.synthetic_archive(root, starttime="2024-03-01T23:50:00", duration_s=1200.0,
    ...                                         seed_ids=["XX.AAA..HHZ", "XX.BBB..HHZ"], gaps=[(300.0, 360.0)],
    ...                                         without_data=["XX.BBB..HHZ"])
    >>> sorted(truth["seed_id"].unique()), list(truth.columns)
    (['XX.AAA..HHZ'], ['seed_id', 'class_name', 'start', 'end'])
    >>> from obspy.clients.filesystem.sds import Client
    >>> st = Client(root).get_waveforms("XX", "AAA", "", "HHZ", obspy.UTCDateTime("2024-03-01"),
    ...                                 obspy.UTCDateTime("2024-03-03"))
    >>> len(st), sum(tr.stats.npts for tr in st)          # 19 minutes in two pieces: the gap splits them
    (2, 114000)

    Event-cut files two months apart (5 and 4 minutes, starting between samples):

    >>> cuts = [("2024-03-01T10:22:33.417", 300.0), ("2024-05-03T04:01:09.008", 240.0)]
    >>> truth = rnnscope.data.synthetic_archive(root, seed_id="XX.CUT..HHZ", event_cuts=cuts)
    >>> sorted(os.listdir(os.path.join(root, "2024", "XX", "CUT", "HHZ.D")))
    ['XX.CUT..HHZ.D.2024.061', 'XX.CUT..HHZ.D.2024.124']
    """
    from obspy import UTCDateTime

    func = "synthetic_archive"
    t0 = UTCDateTime(starttime)
    fs = float(sampling_rate)
    if seed_id is not None:
        if seed_ids != "XX.SYN..HHZ":
            raise TypeError(f"{func} got both seed_id={seed_id!r} and seed_ids={seed_ids!r}: give one channel as "
                            "seed_id, or every channel as seed_ids.")
        seed_ids = seed_id
    ids = [seed_ids] if isinstance(seed_ids, str) else list(seed_ids)
    bad = [i for i in ids if not isinstance(i, str) or i.count(".") != 3]
    if bad or not ids:
        raise ValueError(f"The 'seed_ids' parameter of {func} must be SEED ids 'NET.STA.LOC.CHA' (e.g. "
                         f"'XX.SYN..HHZ'). Got {bad[0] if bad else seed_ids!r} instead.")
    dead = [i for i in without_data if i not in ids]
    if dead:
        raise ValueError(f"The 'without_data' parameter of {func} names {dead}, which are not among seed_ids "
                         f"{ids}; give ids of seed_ids.")
    if overlap_s < 0:
        raise ValueError(f"The 'overlap_s' parameter of {func} must be >= 0. Got {overlap_s!r} instead.")
    gaps = [(float(a), float(b)) for a, b in gaps]
    if any(b <= a for a, b in gaps):
        raise ValueError(f"The 'gaps' parameter of {func} must hold (start_s, end_s) pairs with end > start. Got "
                         f"{gaps!r} instead.")
    if event_cuts is not None and duration_s is not None:
        raise ValueError(f"{func}: give duration_s (a continuous record) or event_cuts (windows of data), not both.")
    first_day = UTCDateTime(t0.date)
    removed = gaps + [((first_day - t0) + d * _DAY_S, (first_day - t0) + (d + 1) * _DAY_S) for d in missing_days]
    if event_cuts is None:
        total = 3600.0 if duration_s is None else float(duration_s)
        windows = [(a, min(_DAY_S, total - a)) for a in np.arange(0.0, total, _DAY_S)]
    else:
        windows = [(float(s) if isinstance(s, (int, float, np.number)) else UTCDateTime(s) - t0, float(d))
                   for s, d in event_cuts]
        windows.sort()
    rows = []
    for k, seed_id in enumerate(ids):
        files = _DayFiles(root, seed_id, overlap_s)
        for j, (offset, length) in enumerate(windows):
            if seed_id in without_data or not _cut([(offset, offset + length)], removed):
                continue  # a dead station, or wholly in missing days or gaps: nothing to generate
            state = np.random.SeedSequence([int(seed), k, j]).generate_state(1)[0]
            x, seg = synthetic_signal(length, seed=int(state), sampling_rate=fs, **kwargs)
            start = t0 + offset
            times = offset + np.arange(x.size) / fs
            keep = np.ones(x.size, dtype=bool)
            for a, b in removed:
                keep &= (times < a) | (times >= b)
            for trace in _day_traces(x, start, fs, keep, seed_id, dict(day_rates or {}), first_day):
                files.add(trace)
            files.flush(before_ns=start.ns + int(round(length * _NS)))
            events = seg[seg["class_name"] != BACKGROUND]
            rows += [(seed_id, r.class_name, p0, p1) for r in events.itertuples()
                     for p0, p1 in _cut([(offset + r.start, offset + r.end)], removed)]
            del x, times, keep
        files.flush()
        if seed_id in without_data:  # empty day files where the station should have recorded
            days = set()
            for offset, length in windows:
                a, b = (t0 + offset - first_day) / _DAY_S, (t0 + offset + length - first_day) / _DAY_S
                days |= set(range(int(np.floor(a)), int(np.ceil(b))))
            for d in sorted(days - set(missing_days)):
                path = sds_path(root, seed_id, first_day + d * _DAY_S)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                open(path, "wb").close()
    return _truth_table(rows, t0)

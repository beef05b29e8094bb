"""The waveform of a monitor run, read on demand from the archive the monitor ran on (the runs hold none).

:func:`rnnscope.monitor` records where it read in the capture runs' ``attrs["waveform_source"]``: an SDS root
(``{"kind": "sds", "root": ...}``) or waveform files (``{"kind": "files", "paths": [...]}``). An
:class:`ArchiveWaveform` reads the samples of one record's channel (its ``trace_id``) from there, for the window
a view shows only (ObsPy decodes only the MiniSEED records of that window), at the archive's sampling rate, as
raw counts; gaps are NaN. Sample 0 is the record start (``starttime``), so the view's seconds map to samples
without offset.
"""
from __future__ import annotations

import glob
import os
from collections import OrderedDict

import numpy as np
import pandas as pd

__all__ = ["ArchiveWaveform", "archive_waveforms"]


class ArchiveWaveform:
    """Samples of one channel from an SDS archive or waveform files, indexed from a record's start.

    Parameters
    ----------
    source : dict
        ``{"kind": "sds", "root": path}`` or ``{"kind": "files", "paths": [paths or glob patterns]}``.
    seed_id : str
        ``NET.STA.LOC.CHA`` of the channel.
    starttime : pandas.Timestamp
        UTC time of sample 0 (naive, UTC).
    duration_s : float
        Length of the record (samples past it are not read).
    cache_size : int
        Windows kept in memory (a view re-rendered on the same window reads nothing).

    Attributes
    ----------
    sampling_rate : float
        The archive's rate (Hz), found by reading the first second of data.
    n_samples : int
        Samples in the record.
    """

    def __init__(self, source: dict, seed_id: str, starttime: pd.Timestamp, duration_s: float, cache_size: int = 4):
        kind = source.get("kind") if isinstance(source, dict) else None
        if kind not in ("sds", "files"):
            raise ValueError("The 'source' of ArchiveWaveform must be {'kind': 'sds', 'root': path} or {'kind': "
                             "'files', 'paths': [...]} (as rnnscope.monitor records it). "
                             f"Got {source!r} instead.")
        self.source = source
        self.seed_id = str(seed_id)
        self.starttime = pd.Timestamp(starttime)
        self.duration_s = float(duration_s)
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = int(cache_size)
        self.reads: list[tuple[int, int]] = []  #: sample windows read from the archive, for tests
        self.sampling_rate = self._probe_rate()
        self.n_samples = int(round(self.duration_s * self.sampling_rate))

    # ------------------------------------------------------------------------------------------- reading
    def _utc(self, seconds: float):
        from obspy import UTCDateTime

        return UTCDateTime(self.starttime.value / 1e9 + float(seconds))

    def _stream(self, t0: float, t1: float):
        """ObsPy Stream of the channel's traces overlapping [t0, t1] (s from the record start)."""
        import obspy

        a, b = self._utc(t0), self._utc(t1)
        net, sta, loc, cha = self.seed_id.split(".")
        if self.source["kind"] == "sds":
            from obspy.clients.filesystem.sds import Client

            return Client(self.source["root"]).get_waveforms(net, sta, loc, cha, a, b, merge=None)
        st = obspy.Stream()
        for pattern in self.source.get("paths", []):
            for path in sorted(glob.glob(pattern)) if not os.path.exists(pattern) else [pattern]:
                try:
                    st += obspy.read(path, starttime=a, endtime=b)
                except Exception:  # noqa: BLE001 - ObsPy raises many kinds for unreadable files: skip them
                    continue
        return st.select(id=self.seed_id)

    def _probe_rate(self) -> float:
        for span in (1.0, 600.0, self.duration_s):
            st = self._stream(0.0, span)
            if len(st):
                return float(st[0].stats.sampling_rate)
        raise FileNotFoundError(f"The archive {self.source} holds no data of {self.seed_id} between "
                                f"{self.starttime} and {self.duration_s:.0f} s later; check that it was not moved "
                                "(pass waveform_source= to the Explorer to point at its new place).")

    def read(self, s0: int, s1: int) -> np.ndarray:
        """float32 samples [s0, s1) (NaN where the archive has none)."""
        s0, s1 = max(0, int(s0)), min(self.n_samples, int(s1))
        if s1 <= s0:
            return np.zeros(0, np.float32)
        for (a, b), values in self._cache.items():
            if a <= s0 and s1 <= b:
                return values[s0 - a : s1 - a]
        rate = self.sampling_rate
        out = np.full(s1 - s0, np.nan, np.float32)
        start_ns = self.starttime.value
        for tr in self._stream(s0 / rate, s1 / rate):
            if float(tr.stats.sampling_rate) != rate:
                continue  # a day at another rate: left out rather than drawn at the wrong times
            first = int(round((tr.stats.starttime.ns - start_ns) * rate / 1e9))
            lo, hi = max(first, s0), min(first + tr.stats.npts, s1)
            if hi > lo:
                out[lo - s0 : hi - s0] = tr.data[lo - first : hi - first]
        self.reads.append((s0, s1))
        self._cache[(s0, s1)] = out
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return out


def archive_waveforms(run, source: dict | str | None = None) -> dict | None:
    """``{event: ArchiveWaveform}`` factory arguments for a run without a waveform: the source recorded by the
    monitor (or ``source``: an SDS root folder, a file or glob pattern), one entry per record with a ``starttime``
    and ``trace_id``; None when the run holds its waveform, or no source is known, or ObsPy is missing.
    """
    if "waveform" in run.data_vars:
        return None
    if source is None:
        source = run.attrs.get("waveform_source")
        if isinstance(source, str):
            import json

            try:
                source = json.loads(source)
            except ValueError:
                source = None
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        source = {"kind": "sds", "root": path} if os.path.isdir(path) else {"kind": "files", "paths": [path]}
    if not source or "starttime" not in run.coords or "trace_id" not in run.coords:
        return None
    try:
        import obspy  # noqa: F401
    except ImportError:
        return None
    return {"source": source, "starttime": [str(t) for t in run["starttime"].values],
            "trace_id": [str(t) for t in run["trace_id"].values]}

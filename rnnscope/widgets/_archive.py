"""The waveform of a monitor run, read on demand from the archive the monitor ran on (the runs hold none).

:func:`rnnscope.monitor` records where it read in the capture runs' ``attrs["waveform_source"]``: an SDS root
(``{"kind": "sds", "root": ...}``) or waveform files (``{"kind": "files", "paths": [...]}``). An
:class:`ArchiveWaveform` reads the samples of one record's channel (its ``trace_id``) from there, for the window
a view shows (in aligned blocks of about an hour around it, kept for the next pans; ObsPy decodes only the
MiniSEED records of those blocks), at the archive's sampling rate, as raw counts; gaps are NaN. Sample 0 is the
record start (``starttime``), so the view's seconds map to samples without offset.
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
    cache_blocks : int
        Blocks of :attr:`BLOCK` samples kept in memory (24: 25 MB, a day at 70 Hz).

    Attributes
    ----------
    sampling_rate : float
        The archive's rate (Hz), found by reading the first second of data.
    n_samples : int
        Samples in the record.
    """

    #: samples per block read from the archive (about 87 min at 50 Hz)
    BLOCK = 2**18

    def __init__(self, source: dict, seed_id: str, starttime: pd.Timestamp, duration_s: float,
                 cache_blocks: int = 24):
        kind = source.get("kind") if isinstance(source, dict) else None
        if kind not in ("sds", "files"):
            raise ValueError("The 'source' of ArchiveWaveform must be {'kind': 'sds', 'root': path} or {'kind': "
                             "'files', 'paths': [...]} (as rnnscope.monitor records it). "
                             f"Got {source!r} instead.")
        self.source = source
        self.seed_id = str(seed_id)
        self.starttime = pd.Timestamp(starttime)
        self.duration_s = float(duration_s)
        self._cache: OrderedDict = OrderedDict()  # block -> samples
        self.cache_blocks = int(cache_blocks)
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
        """float32 samples [s0, s1) (NaN where the archive has none).

        Samples are read in aligned blocks of :attr:`BLOCK` samples (the blocks a view needs, missing ones in one
        ObsPy call) and the last :attr:`cache_blocks` blocks are kept, so panning across a view reads nothing new.
        """
        s0, s1 = max(0, int(s0)), min(self.n_samples, int(s1))
        if s1 <= s0:
            return np.zeros(0, np.float32)
        b0, b1 = s0 // self.BLOCK, (s1 - 1) // self.BLOCK + 1
        missing = [b for b in range(b0, b1) if b not in self._cache]
        if missing:
            a, b = missing[0] * self.BLOCK, min(self.n_samples, (missing[-1] + 1) * self.BLOCK)
            values = self._read_samples(a, b)
            for block in range(missing[0], missing[-1] + 1):
                self._cache[block] = values[block * self.BLOCK - a : (block + 1) * self.BLOCK - a]
        for block in range(b0, b1):
            self._cache.move_to_end(block)
        while len(self._cache) > max(self.cache_blocks, b1 - b0):
            self._cache.popitem(last=False)
        out = np.concatenate([self._cache[b] for b in range(b0, b1)])
        return out[s0 - b0 * self.BLOCK : s1 - b0 * self.BLOCK]

    def _read_samples(self, s0: int, s1: int) -> np.ndarray:
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

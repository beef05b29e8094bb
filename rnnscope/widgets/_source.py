"""Read what a view shows from a (lazy, dask-backed) run: one event, one time range, folded to screen columns.

:class:`RunReader` loads the run's small metadata once (lengths, ids, segment table, summaries) and then reads
only slices: ``run[name].isel(event=e, time=slice(i0, i1))`` followed by ``.values``. When the visible range
holds many more frames than screen columns, it reads one *level* of the run's multiscale overview instead
(:mod:`rnnscope._overview`: per record and unit, the minimum and maximum of every block of 2**k frames; the
largest spectrogram and probability; the frames of each class of ``label`` and ``pred``; the waveform's min and max
per block of 2**k samples), the level matching the view's pixel width (:func:`~rnnscope.widgets._levels.
choose_level`): about two values per pixel, whatever the record's length, so a day-long record opens like a short
one. Stores written by rnnscope hold the overview (the run writer computes it); for a run without one (captured in
memory, or a selection whose overview describes other frames) the same levels are built once per record, in a
background thread, from one pass over it, and kept in a small cache.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import xarray as xr

from .. import _overview as ov
from .._validation import stored_background
from ..schema import fit_to_frames, layer_labels, segment_frames
from ._archive import ArchiveWaveform, archive_waveforms
from ._chunks import ChunkCache
from ._dask import _sync, _threads, local_dask, metadata_in_memory
from ._drawing import class_counts
from ._levels import StoredLevels, build_levels, choose_level
from ._render import column_minmax, fold_minmax, fold_sum
from ._summaries import summaries_of_fitted

__all__ = ["RunReader", "Columns", "STATE_NAMES"]

#: state variables (event, time, unit, layer) the Explorer can show, in the schema's order
STATE_NAMES = ov.STATES
#: a view of a run without a stored overview reads raw values when the raw slice has at most RAW_ELEMENTS values
#: (about 8 MB of float32); else it builds the record's levels (once) and reads one
RAW_ELEMENTS = 2_000_000
#: frames per image column below which a view reads the frames themselves (the finest level has blocks of 8)
RAW_FRAMES_PER_COLUMN = 2 ** ov.FRAME_LEVEL // 2
#: a record's state variable (one layer) or spectrogram up to this size is kept whole in memory once prefetched
#: (runs without a stored overview)
WHOLE_BYTES = 96_000_000
#: :meth:`RunReader.warm` starts this long (s) after it is called at the end of the Explorer's first render: the
#: opening and the page's display of the Explorer go first, a user's first press comes later
WARM_AFTER_S = 0.25
#: what each kind of view reads of a variable's overview
_USED = {"state": ("min", "max"), "spectrogram": ("max",), "prob": ("max",), "waveform": ("min", "max"),
         "label": ("count",), "pred": ("count",)}


class _Plan(NamedTuple):
    """How a view reads (:meth:`RunReader._plan`): ``mode`` "stored", "built" or "raw"; ``k`` the level (0 for raw);
    ``positions`` the stored level's [p0, p1) along its overview dimension (stored only)."""
    mode: str
    k: int = 0
    positions: tuple[int, int] = (0, 0)


@dataclass
class Columns:
    """Values folded into screen columns.

    Attributes
    ----------
    lo, hi : ndarray, shape (n_cols, ...)
        Smallest and largest value per column (the same array when a column is one frame).
    start : int
        Index (frame or sample) of the first value of the first column.
    step : int
        Frames (or samples) per column.
    stop : int
        Index just past the last value covered.
    """

    lo: np.ndarray
    hi: np.ndarray
    start: int
    step: int
    stop: int

    @property
    def n(self) -> int:
        """Number of columns."""
        return int(self.lo.shape[0])


class RunReader:
    """Slices of one run for the widgets; small metadata is read once, states only where shown.

    Parameters
    ----------
    run : xarray.Dataset
        A run (in memory or opened lazily with :func:`rnnscope.open_run`).
    cache_size : int
        Levels built in memory kept, for runs without a stored overview (one per event, variable and layer; the
        waveform and spectrogram count as variables).
    waveform_source : path or dict, optional
        Where to read the waveform of a run that holds none (default: the archive a monitor run records in
        ``attrs["waveform_source"]``; see :mod:`rnnscope.widgets._archive`).
    """

    def __init__(self, run: xr.Dataset, cache_size: int = 6, waveform_source=None):
        with local_dask():
            self._setup(run, cache_size, waveform_source)

    def _setup(self, run: xr.Dataset, cache_size: int, waveform_source) -> None:
        if "h" not in run.data_vars:
            raise ValueError("The Dataset has no 'h': pass a run (rnnscope.capture or rnnscope.open_run), "
                             "not a records or features Dataset.")
        # the small variables (lengths, ids, segment table, summaries) in one read; a time selection: the lengths
        # of the frames it holds, no stale summaries (an overview of other frames: see StoredLevels)
        run = fit_to_frames(metadata_in_memory(run))
        self.run = run
        self.class_names = [str(c) for c in run["class_name"].values] if "class_name" in run.coords else list(
            run.attrs["class_names"])
        #: the background class (``attrs["background"]``), None when the run does not say
        self.background = stored_background(run.attrs) if stored_background(run.attrs) in self.class_names else None
        # at most the frames the run holds: a run sliced along time keeps its records' full lengths
        self.lengths = np.minimum(np.asarray(run["length"].values, dtype=np.int64), int(run.sizes["time"]))
        self.event_ids = ([str(x) for x in run["event_id"].values] if "event_id" in run.coords
                          else [str(i) for i in range(run.sizes["event"])])
        self.times = np.asarray(run["time"].values, dtype=np.float64)
        self.dt = float(self.times[1] - self.times[0]) if self.times.size > 1 else 1.0
        self.variables = [v for v in STATE_NAMES if v in run.data_vars]
        self.n_units = int(run.sizes["unit"])
        self.n_layers = int(run.sizes["layer"])
        #: a label per layer: "module[layer] direction" for runs of any nn.Module, else the layer id
        self.layer_labels = (layer_labels(run) if "module" in run.coords
                             else [str(v) for v in (run["layer"].values if "layer" in run.coords
                                                    else range(self.n_layers))])
        self.has_spectrogram = "spectrogram" in run.data_vars
        self.has_prob = "prob" in run.data_vars
        #: whether the true-class band has anything to show (monitor runs: every label is -1)
        self.has_labels = "label" in run.data_vars and run.attrs.get("segments") != "detections"
        self.archive_spec = archive_waveforms(run, waveform_source)
        self._archives: dict = {}
        #: "run" (the run's waveform variable), "archive" (read from the monitored archive) or "" (none)
        self.waveform_origin = "run" if "waveform" in run.data_vars else "archive" if self.archive_spec else ""
        self.has_waveform = bool(self.waveform_origin)
        if self.waveform_origin == "run":
            self.sampling_rate = float(run.attrs.get("sampling_rate", np.nan))
            self.sample_t0 = float(run["sample_time"].isel(sample=0).values) if "sample_time" in run.coords else 0.0
            self.n_samples = (np.asarray(run["n_samples"].values, dtype=np.int64) if "n_samples" in run.coords
                              else np.full(run.sizes["event"], run.sizes["sample"]))
        self.freqs = np.asarray(run["freq"].values, dtype=np.float64) if self.has_spectrogram else np.zeros(0)
        self.segments = self._segment_table(run)
        self._event_segments: dict = {}
        #: UTC start of each record (naive pandas Timestamps) and SEED ids, when the run knows them
        self.starttimes = ([pd.Timestamp(str(t)).tz_localize(None) if str(t) else None
                            for t in run["starttime"].values] if "starttime" in run.coords else None)
        self.trace_ids = [str(t) for t in run["trace_id"].values] if "trace_id" in run.coords else None
        #: the capture-time summaries (small), in memory: orders and preselections never touch the states
        self.summary = summaries_of_fitted(run)
        #: the levels the run stores, along time and (for its waveform) samples
        self.stored = {"time": StoredLevels(run, "time", self.lengths)}
        if self.waveform_origin == "run":
            self.stored["sample"] = StoredLevels(run, "sample", self.n_samples)
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._building: dict = {}
        self._labels: dict = {}  # event -> (label, pred) of the whole record, filled by prefetch
        self._main_classes: dict = {}  # event -> main_class(event)
        self._preloaded: dict = {}  # slices read together by preload(), served once by _read
        #: the chunks read for the views, kept decoded (a view inside them reads nothing)
        self.chunks = ChunkCache(run)
        self._whole: OrderedDict = OrderedDict()  # (name, event, isel) -> the whole record, for small records
        self._threads: list = []
        self._warm: set = set()  # view keys whose variables warm() has read
        self.build_seconds: dict = {}  #: seconds each record's levels took to build in memory, by key
        self.reads: list[tuple] = []  #: (name, event, start, stop) of every slice read, for tests and benchmarks

    # ----------------------------------------------------------------------------------- metadata
    def _segment_table(self, run) -> pd.DataFrame:
        """The segments of the run's records (``event`` their position), whatever records the run holds."""
        if "segment_event_id" not in run.variables:
            return pd.DataFrame(columns=["event", "class", "start", "end", "p", "s", "class_name"])
        table = segment_frames(run)[["event", "class", "start", "end", "p", "s"]].copy()
        table["class_name"] = [self.class_names[int(c)] if 0 <= int(c) < len(self.class_names) else "?"
                               for c in table["class"]]
        return table

    def event_segments(self, event: int) -> pd.DataFrame:
        """The segment rows of one record (selected once per record)."""
        if event not in self._event_segments:
            self._event_segments[event] = self.segments[self.segments["event"] == event]
        return self._event_segments[event]

    def main_segment(self, event: int) -> pd.Series | None:
        """The record's main segment: its longest segment not of the background class (when the run names one),
        else its longest segment (None if none)."""
        segs = self.event_segments(event)
        if segs.empty:
            return None
        events = segs[segs["class_name"] != self.background] if self.background is not None else segs
        pool = events if not events.empty else segs
        return pool.loc[(pool["end"] - pool["start"]).idxmax()]  # type: ignore[index]  # pandas-stubs: idxmax's label

    def main_class(self, event: int) -> str:
        """Class name of the record's main segment (the most frequent frame label when it has no segment table);
        read once per record."""
        if event not in self._main_classes:
            self._main_classes[event] = self._main_class(event)
        return self._main_classes[event]

    def main_classes(self) -> list[str]:
        """:meth:`main_class` of every record: the label counts of the records without a segment read in one
        computation (the record list names every record's class when the Explorer opens)."""
        todo = [e for e in range(len(self.lengths)) if e not in self._main_classes and self.main_segment(e) is None]
        if len(todo) > 1 and self.class_names and "label" in self.run:
            self.preload([q for e in todo for q in self.requests(("label", e), 0, int(self.lengths[e]), 2)])
        return [self.main_class(e) for e in range(len(self.lengths))]

    def _main_class(self, event: int) -> str:
        seg = self.main_segment(event)
        if seg is not None:
            return str(seg["class_name"])
        if not self.class_names or "label" not in self.run:
            return ""  # a run without labels (a model captured without labels=)
        n = int(self.lengths[event])
        counts = self.class_columns(event, "label", 0, n, 2).hi.sum(axis=0)  # a coarse level, when stored
        return self.class_names[int(counts.argmax())] if counts.sum() else self.class_names[0]

    def event_of_class(self, class_name: str) -> int | None:
        """The record holding the longest segment of ``class_name`` (None when no segment has that class)."""
        segs = self.segments[self.segments["class_name"] == class_name]
        if segs.empty:
            return None
        return int(segs.loc[(segs["end"] - segs["start"]).idxmax(), "event"])

    def duration(self, event: int) -> float:
        """Length of the record in seconds (valid frames times the frame step)."""
        return float(self.lengths[event] * self.dt)

    def frame_time(self, index) -> np.ndarray:
        """Centre time (s) of frame ``index`` (also past the stored time axis)."""
        return self.times[0] + np.asarray(index, dtype=np.float64) * self.dt

    def frame_range(self, event: int, t0: float, t1: float) -> tuple[int, int]:
        """Frames [i0, i1) whose centre lies in [t0 - dt/2, t1 + dt/2], within the record's length."""
        n = int(self.lengths[event])
        i0 = int(np.clip(np.floor((t0 - self.times[0]) / self.dt + 0.5), 0, n))
        i1 = int(np.clip(np.ceil((t1 - self.times[0]) / self.dt + 0.5), i0, n))
        return i0, i1

    def record_span(self, event: int) -> tuple[float, float]:
        """Time (s) from the start of the first frame to the end of the last valid frame."""
        n = int(self.lengths[event])
        return float(self.frame_time(0) - self.dt / 2), float(self.frame_time(max(n, 1) - 1) + self.dt / 2)

    # ----------------------------------------------------------------------------------- waveform
    def archive(self, event: int):
        """The :class:`~rnnscope.widgets._archive.ArchiveWaveform` of ``event`` (None when it cannot be read)."""
        if self.waveform_origin != "archive":
            return None
        if event not in self._archives and self.archive_spec is not None:
            spec = self.archive_spec
            start = pd.Timestamp(spec["starttime"][event]).tz_localize(None) if pd.Timestamp(
                spec["starttime"][event]).tzinfo else pd.Timestamp(spec["starttime"][event])
            try:
                self._archives[event] = ArchiveWaveform(spec["source"], spec["trace_id"][event], start,
                                                        self.record_span(event)[1])
            except (OSError, ValueError) as err:
                import logging

                logging.getLogger("rnnscope.widgets").warning("no waveform for record %s: %s", event, err)
                self._archives[event] = None
        return self._archives[event]

    def waveform_available(self, event: int) -> bool:
        """Whether record ``event`` has a waveform to draw (in the run, or readable from its archive)."""
        return self.waveform_origin == "run" or self.archive(event) is not None

    def waveform_rate(self, event: int) -> float:
        """Sampling rate (Hz) of the waveform of ``event``."""
        return self.archive(event).sampling_rate if self.waveform_origin == "archive" else self.sampling_rate

    def waveform_samples(self, event: int) -> int:
        """Number of waveform samples of ``event``."""
        return self.archive(event).n_samples if self.waveform_origin == "archive" else int(self.n_samples[event])

    def sample_time(self, event: int, index) -> np.ndarray:
        """Time (s from the record start) of waveform sample ``index`` of ``event``."""
        t0 = 0.0 if self.waveform_origin == "archive" else self.sample_t0
        return t0 + np.asarray(index, dtype=np.float64) / self.waveform_rate(event)

    # ----------------------------------------------------------------------------------- slices
    def _lazy(self, name, event, start, stop, **isel):
        return self.chunks.lazy(name, event, isel)[start:stop]  # along time, sample, or an overview dimension

    def _read(self, name, event, start, stop, keep: bool = True, **isel):
        """Frames (samples, positions) [start, stop) of ``name``; ``keep``: read the chunks they lie in whole and keep
        them (:class:`~rnnscope.widgets._chunks.ChunkCache`; False for passes over a whole record)."""
        if name in ("label", "pred") and name not in self.run:
            return np.full(max(stop - start, 0), -1, dtype=np.int16)  # no labels: every frame unknown
        whole = self._whole.get((name, event, repr(sorted(isel.items()))))
        if whole is not None:
            return whole[start:stop].astype(np.float32, copy=False)
        key = (name, event, start, stop, repr(sorted(isel.items())))
        if key in self._preloaded:
            return self._preloaded.pop(key)
        if name == "waveform" and self.waveform_origin == "archive":
            self.reads.append((name, event, start, stop))
            return self.archive(event).read(start, stop)
        kept = self.chunks.read(name, event, start, stop, isel, reads=self.reads if keep else None)
        if kept is not None:
            return kept
        self.reads.append((name, event, start, stop))
        data = self._lazy(name, event, start, stop, **isel)
        return data if isinstance(data, np.ndarray) else np.asarray(data.compute(scheduler=_sync()))

    def preload(self, requests) -> None:
        """Read several slices in one dask computation (chunks decompressed in parallel); the next matching reads
        are served from it: the chunks they lie in are kept (:class:`~rnnscope.widgets._chunks.ChunkCache`), nothing
        is read for a slice of chunks kept. ``requests``: (name, event, start, stop, isel dict) tuples, e.g. from
        :meth:`requests`."""
        lazy, keys, missing = [], [], {}
        for name, event, start, stop, isel in requests:
            if stop <= start or (name == "waveform" and self.waveform_origin == "archive"):
                continue
            if (name, event, repr(sorted(isel.items()))) in self._whole or name not in self.run:
                continue
            if self.chunks.cacheable(name, event, start, stop, isel):
                missing.update({m[0]: m for m in self.chunks.missing(name, event, start, stop, isel)})
                continue
            keys.append((name, event, start, stop, repr(sorted(isel.items()))))
            lazy.append(self._lazy(name, event, start, stop, **isel))
            self.reads.append((name, event, start, stop))
        if not lazy and not missing:
            return
        import dask

        self.reads += [(key[0], key[1], *frames) for key, _, frames in missing.values()]
        values = dask.compute(*lazy, *[block for _, block, _ in missing.values()], scheduler=_threads())
        self._preloaded = {k: np.asarray(v) for k, v in zip(keys, values[: len(lazy)], strict=True)}
        self.chunks.fill(list(missing.values()), values[len(lazy) :])

    def labels_cached(self, event: int) -> bool:
        """Whether the whole record's labels are in memory."""
        return event in self._labels

    def labels(self, event: int, i0: int, i1: int) -> tuple[np.ndarray, np.ndarray | None]:
        """True and predicted class index of frames [i0, i1) (-1 unknown); ``pred`` None when absent.

        Served from the whole record's labels when :meth:`prefetch` has read them (many small chunks on a long
        record), else read as a slice.
        """
        cached = self._labels.get(event)
        if cached is not None:
            return cached[0][i0:i1], None if cached[1] is None else cached[1][i0:i1]
        label = self._read("label", event, i0, i1)
        pred = self._read("pred", event, i0, i1) if "pred" in self.run else None
        return label, pred

    def _load_labels(self, event: int) -> None:
        n = int(self.lengths[event])
        label = self._read("label", event, 0, n, keep=False)
        pred = self._read("pred", event, 0, n, keep=False) if "pred" in self.run else None
        with self._lock:
            self._labels[event] = (label, pred)
            while len(self._labels) > 4:
                self._labels.pop(next(iter(self._labels)))

    def state(self, event: int, variable: str, layer: int, i0: int, i1: int) -> np.ndarray:
        """(i1 - i0, unit) float32 values of one state variable (raw frames)."""
        return self._read(variable, event, i0, i1, layer=layer).astype(np.float32, copy=False)

    def sample_range(self, event: int, t0: float, t1: float) -> tuple[int, int]:
        """Samples [s0, s1) inside [t0, t1] s, within the record's samples."""
        n, rate = self.waveform_samples(event), self.waveform_rate(event)
        first = float(self.sample_time(event, 0))
        s0 = int(np.clip(np.floor((t0 - first) * rate), 0, n))
        s1 = int(np.clip(np.ceil((t1 - first) * rate) + 1, s0, n))
        return s0, s1

    # ----------------------------------------------------------------------------------- columns
    def state_columns(self, event: int, variable: str, layer: int, i0: int, i1: int, n_cols: int) -> Columns:
        """Frames [i0, i1) of a state variable folded to at most ``n_cols`` columns of (min, max), shape (n, unit)."""
        return self._columns(("state", event, variable, layer), i0, i1, n_cols)

    def spectrogram_columns(self, event: int, i0: int, i1: int, n_cols: int, n_freq: int) -> Columns:
        """Frames [i0, i1) of the spectrogram (first ``n_freq`` bins) folded to screen columns (``hi``: the loudest
        frame of each column, what the view draws; ``lo`` is ``hi`` when read from the run's overview)."""
        return self._columns(("spectrogram", event, n_freq), i0, i1, n_cols)

    def prob_columns(self, event: int, i0: int, i1: int, n_cols: int) -> Columns:
        """Frames [i0, i1) of the class probabilities folded to screen columns (``hi``: the largest probability of
        each class in each column)."""
        return self._columns(("prob", event), i0, i1, n_cols)

    def waveform_columns(self, event: int, s0: int, s1: int, n_cols: int) -> Columns:
        """Samples [s0, s1) folded to at most ``n_cols`` columns of (min, max)."""
        return self._columns(("waveform", event), s0, s1, n_cols)

    def class_columns(self, event: int, name: str, i0: int, i1: int, n_cols: int) -> Columns:
        """Frames of each class of ``name`` (``"label"`` or ``"pred"``) per screen column over [i0, i1): ``hi``
        (and ``lo``) of shape (n, class), int."""
        key = (name, event)
        n_classes = len(self.class_names)
        if i1 <= i0:
            empty = np.zeros((0, n_classes), np.int64)
            return Columns(empty, empty, i0, 1, i0)
        plan = self._plan(key, i0, i1, n_cols)
        if plan.mode == "stored":
            k, (p0, p1) = plan.k, plan.positions
            b0, b1 = i0 >> k, self._blocks_end(i1, k, int(self.lengths[event]))
            counts, step = fold_sum(np.asarray(self._read(ov.overview_name(name, "count"), event, p0, p1)), n_cols)
            return Columns(counts, counts, b0 << k, step << k, min(b1 << k, int(self.lengths[event])))
        cached = self._labels.get(event)  # the whole record's labels (prefetch), else the one variable read
        values = cached[name == "pred"] if cached is not None else None
        values = self._read(name, event, i0, i1) if values is None else values[i0:i1]
        step = max(1, -(-(i1 - i0) // n_cols))
        counts = class_counts(np.asarray(values), step, n_classes)
        return Columns(counts, counts, i0, step, i1)

    def requests(self, key, i0: int, i1: int, n_cols: int) -> list[tuple]:
        """The slices the columns of a view (``key``: ``("state", event, variable, layer)``, ``("spectrogram",
        event, n_freq)``, ``("prob", event)``, ``("waveform", event)``, ``("label" | "pred", event)``) of [i0, i1)
        on ``n_cols`` columns will read, for :meth:`preload`: a level of the overview, or the frames themselves."""
        if i1 <= i0:
            return []
        name, event, isel, dim, n_total = self._series(key)
        plan = self._plan(key, i0, i1, n_cols)
        if plan.mode == "stored":
            p0, p1 = plan.positions
            return [(ov.overview_name(name, r), event, p0, p1, isel) for r in _USED[key[0]]]
        if plan.mode == "built" or (key[0] in ("label", "pred") and self.labels_cached(event)):
            return []
        return [(name, event, i0, i1, isel)]

    def _series(self, key):
        """(variable, event, isel, dimension, frames or samples of the record) of a view key."""
        kind, event = key[0], key[1]
        if kind == "state":
            return key[2], event, {"layer": key[3]}, "time", int(self.lengths[event])
        if kind == "spectrogram":  # ("spectrogram", event, n_freq); ("spectrogram", event): every frequency
            isel = {"freq": slice(0, key[2])} if len(key) > 2 else {}
            return "spectrogram", event, isel, "time", int(self.lengths[event])
        if kind == "waveform":
            return "waveform", event, {}, "sample", self.waveform_samples(event)
        return kind, event, {}, "time", int(self.lengths[event])  # prob, label, pred

    @staticmethod
    def _blocks_end(i1: int, k: int, n_total: int) -> int:
        return min(-(-i1 >> k), -(-n_total >> k))

    def _plan(self, key, i0: int, i1: int, n_cols: int) -> _Plan:
        """How a view reads: ``stored`` (level ``k`` of the run's overview, at ``positions`` along its dimension),
        ``built`` (level ``k`` of the levels built in memory for a run without one) or ``raw`` (the frames)."""
        name, event, _, dim, n_total = self._series(key)
        if self._stored_for(key):
            stored = self.stored[dim]
            k = choose_level(i0, i1, n_cols, stored.levels(event))
            positions = None if k is None else stored.positions(k, i0 >> k, self._blocks_end(i1, k, n_total))
            if k is not None and positions is not None:
                return _Plan("stored", k, positions)
            return _Plan("raw")
        if key[0] in ("label", "pred"):
            return _Plan("raw")  # the whole record's labels are small: read (and kept) instead
        k = choose_level(i0, i1, n_cols, ov.levels(n_total, ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL))
        if k is None:
            return _Plan("raw")
        if self._build_key(key) in self._cache or (i1 - i0) * int(np.prod(self._trailing(key))) > RAW_ELEMENTS:
            return _Plan("built", k)
        return _Plan("raw")

    def _columns(self, key, i0, i1, n_cols) -> Columns:
        name, event, isel, dim, n_total = self._series(key)
        if i1 <= i0:
            shape = (key[2],) if key[0] == "spectrogram" else self._trailing(key)
            empty = np.zeros((0,) + shape, dtype=np.float32)
            return Columns(empty, empty, i0, 1, i0)
        plan = self._plan(key, i0, i1, n_cols)
        k = plan.k
        if plan.mode == "raw":
            lo, hi, step = column_minmax(self._read(name, event, i0, i1, **isel).astype(np.float32, copy=False),
                                         n_cols)
            return Columns(lo, hi, i0, step, i1)
        b0, b1 = i0 >> k, self._blocks_end(i1, k, n_total)
        if plan.mode == "stored":
            p0, p1 = plan.positions
            arrays = [np.asarray(self._read(ov.overview_name(name, r), event, p0, p1, **isel), np.float32)
                      for r in _USED[key[0]]]
            lo, hi = arrays[0], arrays[-1]  # the largest only (spectrogram, probabilities): lo is hi
        else:
            lo, hi = (a[b0:b1] for a in self._built(key)[k])
            if key[0] == "spectrogram":
                lo, hi = lo[:, : key[2]], hi[:, : key[2]]
        lo, hi, step = fold_minmax(lo, hi, n_cols)
        return Columns(lo, hi, b0 << k, step << k, min(b1 << k, n_total))

    # ----------------------------------------------------------------------------------- levels built in memory
    def _build_key(self, key):
        return key[:2] if key[0] == "spectrogram" else key  # every frequency: one build serves any n_freq

    def _built(self, key):
        """The levels of ``key``'s record built in memory: from the cache, from a build running in another thread,
        or built now (one pass over the record)."""
        key = self._build_key(key)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            pending = self._building.get(key)
            if pending is None:
                pending = self._building[key] = threading.Event()
                mine = True
            else:
                mine = False
        if not mine:
            pending.wait()
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            return self._built(key)  # the other build failed: try ourselves
        try:
            t0 = time.perf_counter()
            name, event, isel, dim, n_total = self._series(key)
            out = build_levels(lambda a, b: self._read(name, event, a, b, False, **isel).astype(np.float32, copy=False),
                               n_total, ov.levels(n_total, ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL),
                               self._chunk(name, dim))
            self.build_seconds[key] = time.perf_counter() - t0
            with self._lock:
                self._cache[key] = out
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
            return out
        finally:
            with self._lock:
                self._building.pop(key, None)
            pending.set()

    def prefetch(self, event: int, variable: str, layer: int, n_freq: int | None = None) -> threading.Thread | None:
        """For a record the run stores no overview of: build its levels in a background thread (state,
        spectrogram, waveform) and keep its labels (and a small record's state and spectrogram) in memory, so that
        zooming out later costs no pass over the record. Returns the thread (None when nothing is to do)."""
        state = ("state", event, variable, layer)
        keys = [state] + ([("spectrogram", event)] if self.has_spectrogram and n_freq else [])
        if self.waveform_origin == "run" or (self.waveform_origin == "archive" and self._archives.get(event)):
            keys.append(("waveform", event))
        jobs = [k for k in keys if self._needs_build(k) and k not in self._cache and k not in self._building]
        need_labels = event not in self._labels and not self._stored_for(("label", event))
        wholes = [] if self._stored_for(state) else [(variable, {"layer": layer})] + (
            [("spectrogram", {"freq": slice(0, n_freq)})] if self.has_spectrogram and n_freq else [])
        if not jobs and not need_labels and not wholes:
            return None

        def work():
            if need_labels:
                try:
                    self._load_labels(event)
                except Exception:  # noqa: BLE001 - the views read slices instead
                    pass
            for name, isel in wholes:
                try:
                    self._load_whole(name, event, **isel)
                except Exception:  # noqa: BLE001 - the views read slices instead
                    pass
            for key in jobs:
                try:
                    if self._needs_build(key):
                        self._built(key)
                except Exception:  # noqa: BLE001 - a failed prefetch only means the view builds it when needed
                    pass

        thread = threading.Thread(target=work, name="rnnscope-overview", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def warm(self, event: int, variable: str, layer: int, n_freq: int | None = None) -> threading.Thread | None:
        """Read one frame of every variable that a view zoomed into ``event`` reads frame by frame, in a background
        thread (:data:`WARM_AFTER_S` later, after the prefetch's), once per variable and layer; nothing is kept.

        The first read of a store's array pays once what later reads do not (zarr's codec pipeline and its first
        chunk, dask's graph of that array): for a record opened on its overview, that was the first zoom's (the
        first press after the page opens). Returns the thread (None when nothing is left to warm)."""
        keys = [("state", event, variable, layer), ("prob", event), ("label", event), ("pred", event)]
        keys += [("spectrogram", event, n_freq)] if self.has_spectrogram and n_freq else []
        keys += [("waveform", event)] if self.waveform_origin == "run" else []
        # the costs are the array's, not the record's: once per variable (and layer, frequencies); a variable
        # without a stored overview is read by the prefetch itself (its levels built, or the record kept whole)
        todo = [k for k in keys if k[:1] + k[2:] not in self._warm and self._series(k)[0] in self.run.data_vars
                and self._stored_for(k)]
        if not todo:
            return None
        self._warm.update(k[:1] + k[2:] for k in todo)
        after = [t for t in self._threads if t.is_alive()]

        def work():
            time.sleep(WARM_AFTER_S)  # the page displays the Explorer first
            for thread in after:
                thread.join()
            try:
                import dask

                lazy = []
                for key in todo:
                    name, ev, isel, _, n_total = self._series(key)
                    lazy.append(self._lazy(name, ev, n_total // 2, n_total // 2 + 1, **isel))
                dask.compute(*[x for x in lazy if hasattr(x, "dask")], scheduler=_threads())  # in memory: nothing
            except Exception:  # noqa: BLE001 - only a warm-up: the views read (and report) for themselves
                pass

        thread = threading.Thread(target=work, name="rnnscope-warm", daemon=True)
        self._threads = after + [thread]
        thread.start()
        return thread

    def read_ahead(self, requests) -> threading.Thread | None:
        """Read the chunks of ``requests`` (from :meth:`requests`) not kept yet and keep them, in a background thread
        :data:`WARM_AFTER_S` later and after the other background reads
        (:meth:`~rnnscope.widgets._chunks.ChunkCache.read_ahead`): the views the detection table's buttons lead to
        then read nothing. Returns the thread (None: nothing to read)."""
        requests = [q for q in requests if q[0] in self.run and (q[0], q[1], repr(sorted(q[4].items()))) not in
                    self._whole and not (q[0] == "waveform" and self.waveform_origin == "archive")]
        after = [t for t in self._threads if t.is_alive()]
        thread = self.chunks.read_ahead(requests, after=after, delay=WARM_AFTER_S)
        self._threads = after + ([thread] if thread is not None else [])
        return thread

    def needs_build(self, key, i0: int, i1: int, n_cols: int) -> bool:
        """Whether the columns of ``key`` over [i0, i1) need levels built in memory that are not built yet (a pass
        over the record: :meth:`build`)."""
        return self._plan(key, i0, i1, n_cols).mode == "built" and self._build_key(key) not in self._cache

    def build(self, key) -> None:
        """Build the levels of ``key``'s record in memory (for a run that stores none), once."""
        self._built(key)

    def _stored_for(self, key) -> bool:
        """Whether the run stores levels of ``key``'s variable for its record (describing its frames)."""
        name, event, _, dim, _ = self._series(key)
        stored = self.stored.get(dim)
        return bool(stored is not None and stored.levels(event)
                    and all(stored.has(ov.overview_name(name, r)) for r in _USED[key[0]]))

    def _needs_build(self, key) -> bool:
        """Whether ``key``'s record has levels to build in memory (long enough, no stored overview of it)."""
        _, _, _, dim, n_total = self._series(key)
        return not self._stored_for(key) and bool(ov.levels(n_total, ov.FRAME_LEVEL if dim == "time"
                                                            else ov.SAMPLE_LEVEL))

    def _load_whole(self, name: str, event: int, **isel) -> None:
        """Keep the whole record of ``name`` in memory when it is small (at most :data:`WHOLE_BYTES`): every later
        view of it is a numpy slice, with no dask graph to build (what a pan or zoom costs on a long record). The
        spectrogram (log power, for display only) is kept as float16."""
        n = int(self.lengths[event])
        lazy = self._lazy(name, event, 0, n, **isel)
        dtype = np.float16 if name == "spectrogram" else np.float32
        nbytes = int(np.prod(lazy.shape)) * np.dtype(dtype).itemsize
        key = (name, event, repr(sorted(isel.items())))
        if nbytes > WHOLE_BYTES or key in self._whole:
            return
        values = np.asarray(lazy.compute(scheduler=_sync()) if hasattr(lazy, "compute") else lazy)
        with self._lock:
            self._whole[key] = values.astype(dtype, copy=False)
            while sum(v.nbytes for v in self._whole.values()) > 2 * WHOLE_BYTES:
                self._whole.popitem(last=False)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the background builds to finish."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _trailing(self, key):
        if key[0] == "state":
            return (self.n_units,)
        if key[0] == "spectrogram":
            return (int(self.run.sizes["freq"]),)  # a read decompresses every frequency of a chunk
        if key[0] == "prob":
            return (int(self.run.sizes.get("class_name", 1)),)
        return ()

    def _chunk(self, name: str, dim: str) -> int:
        """Read step for building levels: the store's chunk along ``dim``, a multiple of the finest block."""
        chunks = self.run[name].chunks if name in self.run.data_vars else None
        if chunks:
            size = int(chunks[1][0])
        elif name == "waveform" and self.waveform_origin == "archive":
            size = ArchiveWaveform.BLOCK
        else:
            size = 1_048_576 if dim == "sample" else 16_384
        finest = 2 ** (ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL)
        return -(-size // finest) * finest

    def overview_cached(self, key) -> bool:
        """Whether levels built in memory are in the cache (``key`` as used internally, e.g. ("state", 0, "h",
        0); ("spectrogram", 0))."""
        return key in self._cache


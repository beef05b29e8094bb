"""What :func:`rnnscope.monitor` returns: the probabilities of every piece, detections and their exports.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..data._quakeml import to_catalog
from . import _detections
from ._engine import prob_chunks
from ._runs import RunDetector
from ._scoring import score_detections

__all__ = ["MonitorResult"]


# ------------------------------------------------------------------------------------------------ result


class MonitorResult:
    """What :func:`rnnscope.monitor` returns: the detection catalog, the frame probabilities and their exports.

    Attributes
    ----------
    detections : pandas.DataFrame
        One row per detection (see :func:`rnnscope.monitoring.detect` for the columns): ``seed_id``,
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

    Parameters
    ----------
    seed_id : str
        The channel monitored (``NET.STA.LOC.CHA``).
    class_names : sequence of str
        The model's classes, in the order of the probabilities' columns.
    starttime, endtime : obspy.UTCDateTime
        The range monitored.
    pieces : list of Piece
        The contiguous stretches classified.
    gaps : pandas.DataFrame
        The interruptions of the data inside the range.
    feature_config : FeatureConfig
        How the frames were computed (:class:`rnnscope.features.FeatureConfig`).
    sampling_rate : float
        The model's sampling rate (Hz) the data were resampled to.
    smoothing, min_duration, background
        The post-processing settings :meth:`detect` uses by default (see :func:`rnnscope.monitor`).
    timings : dict
        Wall seconds per stage.
    model_name : str, optional
        The model's name, written into the catalog's comments.
    capture_store : path, optional
        The capture run written beside the probabilities, if one was asked for.

    Notes
    -----
    :func:`rnnscope.monitor` builds it; the detections are computed on construction (:meth:`detect`).

    Examples
    --------
    >>> import obspy, rnnscope
    >>> trace = obspy.Trace(np.random.default_rng(0).normal(size=12_000), header={"sampling_rate": 100.0,
    ...     "network": "XX", "station": "DEMO", "channel": "HHZ"})
    >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5)
    >>> result = rnnscope.monitor(model, trace, progress=False)  # two minutes: one piece of 233 frames
    >>> result.seed_id, result.n_frames, len(result.pieces), result.pieces[0].prob.shape, len(result.gaps)
    ('XX.DEMO..HHZ', 233, 1, (233, 5), 0)
    >>> list(result.detections.columns[:6])
    ['seed_id', 'class_name', 'start', 'end', 'duration_s', 'n_frames']
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
    def detect(self, *, smoothing="auto", min_duration="auto", background="auto") -> pd.DataFrame:
        """Recompute the detection table with other post-processing settings (the model is not run again).

        Arguments left at ``"auto"`` take the values given to :func:`rnnscope.monitor`; ``smoothing=None``
        turns smoothing off, ``background=None`` reports every run (the background class's included). The table's
        ``attrs["background"]`` says which class was left out (:func:`rnnscope.monitoring.score_detections` reads it).

        Examples
        --------
        >>> import numpy as np, obspy, rnnscope
        >>> trace = obspy.Trace(np.random.default_rng(1).normal(size=30_000), header={"sampling_rate": 100.0})
        >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5)
        >>> result = rnnscope.monitor(model, trace, progress=False)
        >>> runs = result.detect(smoothing=None, min_duration=1, background=None)  # every frame in one run
        >>> int(runs["n_frames"].sum()) == result.n_frames == 593
        True
        """
        smoothing = self.smoothing if isinstance(smoothing, str) and smoothing == "auto" else smoothing
        min_duration = self.min_duration if isinstance(min_duration, str) and min_duration == "auto" else min_duration
        background = self.background if background == "auto" else background
        method, min_frames, background = _detections.detector_settings(self.class_names, smoothing, min_duration,
                                                                       background, "monitor")
        tables = []
        for p in self.pieces:  # chunk by chunk (a month-long piece read from an output folder file by file)
            if not p.prob.shape[0]:
                continue
            detector = RunDetector(len(self.class_names), method, min_frames)
            for chunk in prob_chunks(p.prob):
                detector.push(chunk)
            tables.append(_detections.run_table(detector.finish(), p.first_frame_ns, p.frame_period_ns,
                                                self.class_names, background, self.seed_id))
        tables = [t for t in tables if len(t)]
        if not tables:
            table = _detections.empty_table(self.class_names)
        else:
            table = pd.concat(tables, ignore_index=True).sort_values("start", kind="stable").reset_index(drop=True)
        if background is not None:
            table.attrs["background"] = background
        return table

    def score(self, truth: pd.DataFrame, **kwargs):
        """Event-level scores of :attr:`detections` against ``truth`` (:func:`rnnscope.monitoring.score_detections`);
        the background class is the monitor's unless ``background=`` says otherwise."""
        kwargs.setdefault("background", self.background)
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

    def to_catalog(self, event_types=None):
        """The detections as an :class:`obspy.core.event.Catalog` (see :func:`rnnscope.monitoring.to_catalog`)."""
        return to_catalog(self.detections, event_types=event_types, model_name=self.model_name)

    def to_quakeml(self, path, event_types=None) -> str:
        """Write the detections as QuakeML (class in the event description and a comment); return the path."""
        self.to_catalog(event_types).write(os.fspath(path), format="QUAKEML")
        return os.fspath(path)

    def probabilities(self):
        """Per-class frame probabilities as an ObsPy Stream.

        One float32 trace per class and contiguous piece: channel = class code (see
        :func:`rnnscope.monitoring.channel_codes`; the name itself for up to 3 letters or digits), class name in
        ``stats.class_name``, network/station/location of the monitored SEED id, sampling rate = frame rate (2 Hz
        for the paper's features), start time = centre of the first frame. Gaps in the data are gaps between
        traces.
        """
        pieces = [(p.first_frame_ns, p.frame_period_ns, np.asarray(p.prob)) for p in self.pieces]
        return _detections.probability_stream(pieces, class_names=self.class_names, seed_id=self.seed_id)

    def _stream_parts(self):
        """:meth:`probabilities` a chunk of frames at a time (what :meth:`write_mseed` writes)."""
        for p in self.pieces:
            first = p.first_frame_ns
            for chunk in prob_chunks(p.prob):
                yield _detections.probability_stream([(first, p.frame_period_ns, chunk)], class_names=self.class_names,
                                                     seed_id=self.seed_id)
                first += chunk.shape[0] * p.frame_period_ns

    def write_mseed(self, path) -> str:
        """:meth:`to_mseed` without its warning for an empty result, chunk by chunk (memory of one chunk)."""
        return _detections.write_probabilities(self._stream_parts(), path)

    def to_mseed(self, path) -> str:
        """Write :meth:`probabilities` as MiniSEED (FLOAT32) and a JSON sidecar ``<path>.json``; return the path.

        Channel codes hold at most 3 characters: classes get codes from :func:`rnnscope.monitoring.channel_codes`,
        stored in the sidecar; read back with :func:`rnnscope.monitoring.read_probabilities`. When no frame was
        classified the file is empty (no MiniSEED record), with a warning saying so.
        """
        if not self.n_frames:
            import warnings

            from ..errors import DataSkippedWarning

            warnings.warn(f"MonitorResult.to_mseed: no frame of {self.seed_id!r} was classified between "
                          f"{self.starttime} and {self.endtime}, so there is no probability to write: "
                          f"{os.fspath(path)!r} is an empty MiniSEED file (no record).", DataSkippedWarning,
                          stacklevel=2)
        return self.write_mseed(path)

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

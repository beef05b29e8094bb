"""What :func:`rnnscope.monitor` returns for several stations: one catalog, probabilities per station.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from ..data._quakeml import to_catalog
from . import _detections
from ._result import MonitorResult
from ._scoring import score_detections

__all__ = ["NetworkResult"]


class NetworkResult:
    """The detections of a station network and, per station, a :class:`MonitorResult`.

    Attributes
    ----------
    seed_ids : list of str
        The channels monitored, in order.
    detections : pandas.DataFrame
        Every station's detections in one table (columns of :attr:`MonitorResult.detections`; ``seed_id`` names the
        channel), in time order (ties by ``seed_id``).
    gaps : pandas.DataFrame
        ``seed_id``, ``start``, ``end``, ``duration_s`` of every interruption of every channel.
    timings : dict
        Seconds per stage summed over the tasks (``read``, ``preprocess``, ``features``, ``inference``,
        ``catalog``), the wall time ``total``, and ``tasks_run`` / ``tasks_skipped`` (finished in an earlier run
        into the same output folder).
    output : Path or None
        The output folder (``monitor(..., output=...)``).
    capture_store : list of Path or None
        The capture runs of every station.
    failures : pandas.DataFrame
        ``seed_id``, ``start``, ``end`` (UTC ISO strings), ``error`` of every station-span that could not be
        classified (a task raised): those spans are missing from :attr:`detections`, every other station's
        detections are complete. Empty when everything ran. A rerun into the same output folder retries them.
    no_data : list of str
        The channels of which no frame was classified (no data in the range, or only stretches shorter than one
        analysis window): their catalogs are empty.

    Parameters
    ----------
    seed_ids : list of str
        The channels monitored, in order.
    class_names : sequence of str
        The model's classes.
    detections, gaps, timings
        As the attributes above.
    loaders : mapping str -> callable
        Per channel, a function of no argument that returns its :class:`MonitorResult` (``result[seed_id]``).
    background : str, optional
        The background class left out of the detections.
    output : path, optional
        The output folder.
    capture_store : list of path, optional
        The capture runs of every station.
    summary : dict, optional
        ``n_frames`` and ``data_seconds`` over every channel.
    failures : pandas.DataFrame, optional
        The station-spans that could not be classified (default: none).
    no_data : sequence of str
        The channels of which no frame was classified.

    Notes
    -----
    ``result[seed_id]`` is that station's :class:`MonitorResult` (probabilities, pieces, gaps, ``detect``,
    ``probabilities()``). With an output folder it is read from the task folders when asked for, so a long network
    run never holds every station's probabilities at once. :func:`rnnscope.monitor` builds it when its source
    holds several channels.

    Examples
    --------
    >>> import obspy, rnnscope
    >>> trace = obspy.Trace(np.random.default_rng(0).normal(size=12_000), header={"sampling_rate": 100.0,
    ...     "network": "XX", "station": "DEMO", "channel": "HHZ"})
    >>> other = trace.copy()
    >>> other.stats.station = "EAST"
    >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5)
    >>> network = rnnscope.monitor(model, obspy.Stream([trace, other]), seed_id="XX.*..HHZ", progress=False)
    >>> network.seed_ids, network["XX.EAST..HHZ"].n_frames, len(network.failures), network.no_data
    (['XX.DEMO..HHZ', 'XX.EAST..HHZ'], 233, 0, [])
    """

    def __init__(self, *, seed_ids, class_names, detections, gaps, timings, loaders: Mapping[str, Callable],
                 background=None, output=None, capture_store=None, summary=None, failures=None, no_data=()):
        self.seed_ids = list(seed_ids)
        self.class_names = list(class_names)
        self.detections = detections
        self.gaps = gaps
        self.timings = timings
        self.background = background
        self.output = None if output is None else Path(output)
        self.capture_store = capture_store
        self.failures = (pd.DataFrame(columns=["seed_id", "start", "end", "error"]) if failures is None
                         else failures)
        self.no_data = list(no_data)
        self._loaders = dict(loaders)
        self._summary = dict(summary or {})
        self._last: tuple | None = None  # the station read last (reading one from its task folders takes a while)

    @staticmethod
    def merge_tables(tables, *, class_names, background=None) -> pd.DataFrame:
        """Per-station detection tables -> one table in time order (ties by ``seed_id``)."""
        tables = [t for t in tables if len(t)]
        if not tables:
            table = _detections.empty_table(class_names)
        else:
            table = pd.concat(tables, ignore_index=True).sort_values(["start", "seed_id"], kind="stable")
            table = table.reset_index(drop=True)
        if background is not None:
            table.attrs["background"] = background
        return table

    # -- stations ----------------------------------------------------------------------------------------
    def __getitem__(self, seed_id: str) -> MonitorResult:
        if seed_id not in self._loaders:
            raise KeyError(f"NetworkResult: no channel {seed_id!r}; the network holds {self.seed_ids}.")
        if self._last is None or self._last[0] != seed_id:
            self._last = (seed_id, self._loaders[seed_id]())
        return self._last[1]

    def __iter__(self):
        return iter(self.seed_ids)

    def __len__(self) -> int:
        return len(self.seed_ids)

    # -- catalog -----------------------------------------------------------------------------------------
    def detect(self, *, smoothing="auto", min_duration="auto", background="auto") -> pd.DataFrame:
        """Every station's :meth:`MonitorResult.detect` with these settings, in one table (the model is not run)."""
        tables = [self[sid].detect(smoothing=smoothing, min_duration=min_duration,
                                   background=background) for sid in self.seed_ids]
        bg = self.background if background == "auto" else background
        return self.merge_tables(tables, class_names=self.class_names, background=bg)

    def score(self, truth: pd.DataFrame, **kwargs):
        """Event-level scores of :attr:`detections` against ``truth`` (matched per channel when ``truth`` has a
        ``seed_id`` column; see :func:`rnnscope.monitoring.score_detections`)."""
        kwargs.setdefault("background", self.background)
        return score_detections(self.detections, truth, **kwargs)

    def to_csv(self, path) -> str:
        """Write :attr:`detections` as CSV (times ISO 8601 UTC, ``...Z``); return the path."""
        table = self.detections.copy()
        for col in ("start", "end"):
            table[col] = table[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        table.to_csv(path, index=False)
        return os.fspath(path)

    def to_catalog(self, event_types=None):
        """The detections as an ObsPy Catalog: each event's pick is on its channel, the class in its description."""
        return to_catalog(self.detections, event_types=event_types)

    def to_quakeml(self, path, event_types=None) -> str:
        """Write the detections as QuakeML (station in each pick, class in the description); return the path."""
        self.to_catalog(event_types).write(os.fspath(path), format="QUAKEML")
        return os.fspath(path)

    def probabilities(self, seed_id: str | None = None):
        """Per-class probability traces (see :meth:`MonitorResult.probabilities`) of one channel, or of all."""
        from obspy import Stream

        out = Stream()
        for sid in [seed_id] if seed_id is not None else self.seed_ids:
            out += self[sid].probabilities()
        return out

    def to_mseed(self, folder) -> list[str]:
        """Write one probability MiniSEED per channel, ``folder/<seed id>.mseed`` (+ JSON sidecar); return the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return [self[sid].to_mseed(folder / f"{sid}.mseed") for sid in self.seed_ids]

    # -- summaries ---------------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return int(self._summary.get("n_frames", 0))

    @property
    def data_seconds(self) -> float:
        """Seconds of data classified, all channels together."""
        return float(self._summary.get("data_seconds", 0.0))

    @property
    def real_time_factor(self) -> float:
        """Seconds of data (all channels) per second of wall time."""
        total = self.timings.get("total", 0.0)
        return self.data_seconds / total if total else float("nan")

    def __repr__(self) -> str:
        counts = self.detections["class_name"].value_counts()
        per_class = ", ".join(f"{c} {int(counts.get(c, 0))}" for c in self.class_names if c != self.background)
        tasks = f"{self.timings.get('tasks_run', 0)} task(s) run, {self.timings.get('tasks_skipped', 0)} skipped"
        failed = f"; {len(self.failures)} station-span(s) FAILED (see .failures)" if len(self.failures) else ""
        return (
            f"NetworkResult({len(self.seed_ids)} channel(s): {self.data_seconds / 3600:.2f} h of data, "
            f"{len(self.gaps)} gap(s), {self.n_frames} frames; {len(self.detections)} detections ({per_class}); "
            f"{tasks}; real-time factor {self.real_time_factor:,.0f}x{failed})"
        )

"""Monitoring: continuous archives -> detections (the observatory pipeline).

:func:`rnnscope.monitor` (this package is named ``monitoring`` so that it never shadows that function) reads an
archive block by block and returns a :class:`MonitorResult`. Modules, in the order the data flow through them:

- ``_sources.py`` — an ObsPy Stream, MiniSEED/SAC files or an SDS archive, read one SEED id and block at a time;
- ``_preprocessing.py`` — detrend, band-pass and resampling of contiguous pieces, without block-edge transients;
- ``_engine.py`` — streaming features and inference with the recurrent state carried across blocks;
- ``_state.py``, ``_blocktask.py`` — that state as arrays, and one block of one channel as a task any worker runs;
- ``_network.py`` — several stations (ids, patterns, an Inventory) as chains of block tasks on any
  ``concurrent.futures.Executor`` (a Dask client's), restartable from an output folder;
- ``_writer.py`` — the hidden states of the monitored range as runs the Explorer opens;
- ``_result.py``, ``_netresult.py``, ``_detections.py`` — probabilities -> detections -> CSV, QuakeML, MiniSEED
  (:class:`MonitorResult` for one channel, :class:`NetworkResult` for several);
- ``_scoring.py`` — event-level scores against a reference catalog;
- ``_monitor.py`` — :func:`monitor`, which ties them together.
"""
from ..data._quakeml import to_catalog  # QuakeML both ways in one module
from ._detections import (
    BACKGROUND_MIN_DURATION,
    DEFAULT_MIN_DURATION,
    DEFAULT_SMOOTHING,
    channel_codes,
    detect,
    frame_runs,
    probability_stream,
    read_probabilities,
    smooth,
    write_probabilities,
)
from ._monitor import monitor
from ._netresult import NetworkResult
from ._result import MonitorResult
from ._scoring import match_detections, score_detections

__all__ = [
    "monitor",
    "MonitorResult",
    "NetworkResult",
    "detect",
    "smooth",
    "frame_runs",
    "to_catalog",
    "probability_stream",
    "channel_codes",
    "write_probabilities",
    "read_probabilities",
    "match_detections",
    "score_detections",
    "DEFAULT_MIN_DURATION",
    "BACKGROUND_MIN_DURATION",
    "DEFAULT_SMOOTHING",
]

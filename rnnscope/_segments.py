"""Which frames belong to which segment (torch-free; shared by capture and analysis).

A frame belongs to a segment when its centre time lies in ``[segment_start, segment_end)``; only frames inside the
record's ``length`` count.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["segment_frames"]


def segment_frames(ds: xr.Dataset) -> pd.DataFrame:
    """One row per segment: ``segment`` (position), ``event``, ``class``, ``frame_start``, ``frame_stop`` (exclusive).

    Segments that cover no valid frame get ``frame_start == frame_stop``.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> table = segment_frames(frames)
    >>> bool((table.frame_stop >= table.frame_start).all())
    True
    """
    if "segment_event" not in ds:
        return pd.DataFrame(columns=["segment", "event", "class", "frame_start", "frame_stop"], dtype=np.int64)
    times = np.asarray(ds["time"].values, dtype=np.float64)
    event = np.asarray(ds["segment_event"].values, dtype=np.int64)
    lengths = np.asarray(ds["length"].values, dtype=np.int64)[event]
    start = np.searchsorted(times, np.asarray(ds["segment_start"].values, dtype=np.float64), side="left")
    stop = np.searchsorted(times, np.asarray(ds["segment_end"].values, dtype=np.float64), side="left")
    start, stop = np.minimum(start, lengths), np.minimum(stop, lengths)
    return pd.DataFrame({
        "segment": np.arange(event.size),
        "event": event,
        "class": np.asarray(ds["segment_class"].values, dtype=np.int64),
        "frame_start": start,
        "frame_stop": np.maximum(stop, start),
    })

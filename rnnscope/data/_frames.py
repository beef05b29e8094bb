"""Assemble a features Dataset (frames + frame labels) from per-record arrays.

Shared by :func:`rnnscope.features.compute` and :func:`rnnscope.data.from_features`, so the layout (NaN and -1
padding past ``length``, the ``time`` coordinate in seconds) is written once.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr


def assemble_frames(
    features: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    *,
    frame_times: np.ndarray,
    feature_names: Sequence[str],
    spectrograms: Sequence[np.ndarray] | None = None,
    freqs: np.ndarray | None = None,
) -> xr.Dataset:
    """Return ``features`` (event, time, feature), ``label`` (event, time), optional ``spectrogram``.

    ``frame_times`` are the centre times (s) of frames 0..T_max-1; ``length`` (event) counts valid frames.
    Padding past ``length`` is NaN (floats) and -1 (labels).
    """
    lengths = np.array([len(f) for f in features], dtype=np.int64)
    n_events, n_time, n_feat = len(features), int(lengths.max(initial=0)), len(feature_names)
    feat = np.full((n_events, n_time, n_feat), np.nan, dtype=np.float32)
    lab = np.full((n_events, n_time), -1, dtype=np.int16)
    for i, (f, y) in enumerate(zip(features, labels, strict=True)):
        feat[i, : len(f)] = f
        lab[i, : len(y)] = y
    data_vars = {
        "features": (("event", "time", "feature"), feat),
        "label": (("event", "time"), lab),
    }
    coords = {
        "time": ("time", np.asarray(frame_times[:n_time], dtype=np.float64)),
        "feature": ("feature", np.array(feature_names, dtype=object)),
        "length": ("event", lengths),
    }
    if spectrograms is not None:
        assert freqs is not None, "spectrograms come with their frequencies (freqs=)"
        spec = np.full((n_events, n_time, len(freqs)), np.nan, dtype=np.float32)
        for i, s in enumerate(spectrograms):
            spec[i, : len(s)] = s
        data_vars["spectrogram"] = (("event", "time", "freq"), spec)
        coords["freq"] = ("freq", np.asarray(freqs, dtype=np.float64))
    ds = xr.Dataset(data_vars, coords=coords)
    ds["time"].attrs.update(units="s", long_name="frame centre time from the record start")
    ds["label"].attrs.update(long_name="class index per frame (-1 unknown or padded)")
    if "freq" in ds.coords:
        ds["freq"].attrs.update(units="Hz")
        ds["spectrogram"].attrs.update(long_name="log power per frame")
    return ds

"""The schema's check of padding: what a run or features Dataset holds past and inside each record's ``length``."""
from __future__ import annotations

import numpy as np

from ._variables import VARIABLES


def _padding_problems(ds) -> list[str]:
    """What ``ds`` holds wrongly past each record's ``length`` (anything but NaN, labels and ``pred`` not -1) and
    inside it (a frame of a variable NaN in every value, unless the record's input was missing from there on: NaN
    ``features`` make the states and ``prob`` NaN from that frame on, as in PyTorch)."""
    problems = []
    length = np.asarray(ds["length"].values)
    n_time = ds.sizes.get("time", 0)
    if np.any(length < 0) or np.any(length > n_time):
        problems.append(f"'length' must lie in [0, {n_time}] (the time dimension); got {length.min()}..{length.max()}")
        return problems
    valid = np.arange(n_time)[None, :] < length[:, None]  # (event, time)
    defined = valid  # frames inside 'length' whose input was not missing (NaN features make the states NaN after)
    if "features" in ds.data_vars and {"event", "time"} <= set(ds["features"].dims):
        features = ds["features"].transpose("event", "time", ...)
        missing = np.asarray(features.isnull().all([d for d in features.dims if d not in ("event", "time")]).values)
        defined = valid & ~np.logical_or.accumulate(missing & valid, axis=1)
    for name in ("label", "pred"):
        if name in ds:
            values = np.asarray(ds[name].values)
            if np.any(values[~valid] != -1):
                problems.append(f"variable {name!r} must be -1 past 'length'")
    for name in ds.data_vars:
        spec = VARIABLES.get(name)
        if spec is None or spec.dtype != "f" or not spec.padded or "time" not in spec.dims:
            continue
        values = ds[name]
        other = [d for d in values.dims if d not in ("event", "time")]
        nan = np.asarray(values.isnull().any(other).values) if other else np.asarray(values.isnull().values)
        if np.any(~nan[~valid]):
            problems.append(f"variable {name!r} must be NaN past 'length'")
        allnan = np.asarray(values.isnull().all(other).values) if other else nan
        if name != "features" and np.any(allnan[defined]):
            bad_event = int(np.flatnonzero((allnan & defined).any(axis=1))[0])
            problems.append(f"variable {name!r} has NaN frames inside 'length' (first in event {bad_event})")
    return problems

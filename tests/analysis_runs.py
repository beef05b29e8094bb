"""Hand-made runs for the analysis tests: a few events, frames, units and layers whose answers are known.

``make_run`` follows the run schema (rnnscope.schema) so the runs also survive ``save_run`` / ``open_run``.
Frame ``t`` is centred at ``t`` seconds, so a segment ``[start, end)`` in seconds covers frames ``start .. end-1``.
"""
from __future__ import annotations

import json

import numpy as np
import xarray as xr

from rnnscope.schema import SCHEMA_VERSION

CLASSES = ("A", "B", "C")


def make_run(states: dict, lengths, segments, *, class_names=CLASSES, cells=("lstm",), labels=None,
             n_time=None, summaries=False) -> xr.Dataset:
    """A run from per-variable arrays (event, time, unit, layer); values past ``length`` become NaN.

    ``segments``: (event, class, start s, end s[, p s, s s]). Frame labels follow the segments (-1 elsewhere)
    unless ``labels`` (event, time) is given.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    first = np.asarray(next(iter(states.values())), dtype=np.float32)
    n_events = first.shape[0]
    n_time = first.shape[1] if n_time is None else n_time
    n_units, n_layers = first.shape[2], first.shape[3]
    times = np.arange(n_time, dtype=np.float64)
    valid = np.arange(n_time)[None, :] < lengths[:, None]
    seg = [tuple(s) + (np.nan,) * (6 - len(s)) for s in segments]
    if labels is None:
        labels = np.full((n_events, n_time), -1, dtype=np.int16)
        for e, c, a, b, *_ in seg:
            labels[e, (times >= a) & (times < b) & valid[e]] = c
    labels = np.where(valid, np.asarray(labels), -1).astype(np.int16)
    data = {}
    for name, values in states.items():
        v = np.asarray(values, dtype=np.float32).copy()
        v[~valid] = np.nan
        data[name] = (("event", "time", "unit", "layer"), v)
    n_classes = len(class_names)
    prob = np.where(valid[..., None], np.full((n_events, n_time, n_classes), 1.0 / n_classes), np.nan)
    prob = prob.astype(np.float32)
    run = xr.Dataset(
        {
            "features": (("event", "time", "feature"), np.where(valid[..., None], 0.0, np.nan).astype(np.float32)),
            "label": (("event", "time"), labels),
            **data,
            "prob": (("event", "time", "class_name"), prob),
            "pred": (("event", "time"), np.where(valid, 0, -1).astype(np.int16)),
            "segment_event_id": (("segment",), np.array([f"e{s[0]}" for s in seg], dtype=str)),
            "segment_class": (("segment",), np.array([s[1] for s in seg], dtype=np.int16)),
            "segment_start": (("segment",), np.array([s[2] for s in seg], dtype=np.float64)),
            "segment_end": (("segment",), np.array([s[3] for s in seg], dtype=np.float64)),
            "segment_p": (("segment",), np.array([s[4] for s in seg], dtype=np.float64)),
            "segment_s": (("segment",), np.array([s[5] for s in seg], dtype=np.float64)),
        },
        coords={
            "event_id": ("event", np.array([f"e{i}" for i in range(n_events)], dtype=object)),
            "length": ("event", lengths),
            "time": times,
            "feature": ["f0"],
            "unit": np.arange(n_units),
            "layer": np.arange(n_layers),
            "class_name": np.array(class_names),
        },
        attrs={"schema_version": SCHEMA_VERSION, "class_names": list(class_names), "frame_rate": 1.0,
               "model_config": json.dumps({"cells": list(cells) * (n_layers if len(cells) == 1 else 1)})},
    )
    if summaries:
        from rnnscope.analysis import heat_map, unit_activity

        heat = heat_map(run, use_summary=False)
        heat_frame = heat_map(run, weighting="frame", use_summary=False)
        run["summary_heat"] = heat.astype(np.float32).variable
        run["summary_heat_frame"] = heat_frame.astype(np.float32).variable
        run["summary_activity"] = unit_activity(run)["mean_abs"].astype(np.float32).variable
        run["summary_event_id"] = ("summary_event", np.asarray(run["event_id"].values).astype(str))
    return run


def heat_run(n_time=5) -> xr.Dataset:
    """Two events (lengths 5 and 3), 2 units, 1 layer, classes A and B (C has no frames).

    unit 0: e0 [0.2, 0.4, -0.6, 0.6, 0.9], e1 [1.0, -1.0, 0.4]; unit 1: e0 [0, 0, 0.5, 0.5, 0.5], e1 [0.1] * 3.
    Segments: e0 A [0, 2), B [2, 5); e1 A [0, 3).
    """
    h = np.full((2, n_time, 2, 1), np.nan)
    h[0, :5, 0, 0] = [0.2, 0.4, -0.6, 0.6, 0.9]
    h[1, :3, 0, 0] = [1.0, -1.0, 0.4]
    h[0, :5, 1, 0] = [0.0, 0.0, 0.5, 0.5, 0.5]
    h[1, :3, 1, 0] = [0.1, 0.1, 0.1]
    return make_run({"h": h}, [5, 3], [(0, 0, 0, 2), (0, 1, 2, 5), (1, 0, 0, 3)])


def boundary_run() -> xr.Dataset:
    """One event of 30 frames: background A except a B segment [10, 20) with an S arrival at 15 s.

    unit 0: ``0.125 * (t % 2) + 0.5 * (10 <= t < 20)`` (|dh| = 0.125 except 0.375 at t=10 and 0.625 at t=20);
    unit 1: 0.
    """
    t = np.arange(30)
    h = np.zeros((1, 30, 2, 1))
    h[0, :, 0, 0] = 0.125 * (t % 2) + 0.5 * ((t >= 10) & (t < 20))
    return make_run({"h": h}, [30], [(0, 0, 0, 10), (0, 1, 10, 20, 10.0, 15.0), (0, 0, 20, 30)])


def padded_run(n_layers=2) -> xr.Dataset:
    """A run with three records of different lengths (padded), 2 layers of LSTM, ``h`` and ``c``."""
    from rnnscope.examples import toy_run

    return toy_run("lstm", hidden_size=5, num_layers=n_layers, seed=3)


_REAL = {}


def real_run() -> xr.Dataset:
    """A small real run (LSTM(8) trained 2 epochs on 6 synthetic records), captured once per test process."""
    if "run" not in _REAL:
        import torch

        import rnnscope
        from rnnscope._seed import preserved

        with preserved():
            torch.set_num_threads(1)
            frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=6, seed=0))
            torch.manual_seed(0)
            model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5)
            rnnscope.train.fit(model, frames, epochs=2, progress=False, threads=1)
            _REAL["model"], _REAL["frames"] = model, frames
            _REAL["run"] = rnnscope.capture(model, frames, progress=False, device="cpu")
    return _REAL["run"]

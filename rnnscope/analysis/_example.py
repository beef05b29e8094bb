"""A tiny, deterministic, torch-free run for examples and doctests (not a trained network)."""
from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ..schema import SCHEMA_VERSION

__all__ = ["example_run"]

_CLASSES = ["SIL", "TRE", "LP", "VTE", "HYB"]
# (event, class, start s, end s, P s, S s): frame times are 2.0, 2.5, ... (4 s windows, 0.5 s hop)
_SEGMENTS = [
    (0, 0, 0.0, 4.0, np.nan, np.nan), (0, 2, 4.0, 7.0, np.nan, np.nan), (0, 0, 7.0, 9.0, np.nan, np.nan),
    (0, 4, 9.0, 11.0, 9.2, 9.9),
    (1, 0, 0.0, 3.5, np.nan, np.nan), (1, 3, 3.5, 6.0, 3.6, 4.6), (1, 0, 6.0, 10.0, np.nan, np.nan),
    (2, 1, 0.0, 4.5, np.nan, np.nan), (2, 0, 4.5, 7.0, np.nan, np.nan),
]
_LENGTHS = [18, 16, 11]


def example_run(cell: str = "lstm", n_units: int = 6, n_layers: int = 1, seed: int = 0) -> xr.Dataset:
    """A small run laid out like :func:`rnnscope.capture`'s, built with numpy (no model, no torch).

    Three records of 18, 16 and 11 frames (padded to 18: NaN / -1 past ``length``), every class of
    ``SIL, TRE, LP, VTE, HYB`` present, a segment table with P and S arrivals, waveform and spectrogram, and the
    capture-time summaries. The states are a class-driven random walk: ``c[t] = 0.7 c[t-1] + drive[label] +
    noise`` and ``h = 0.95 tanh(c)`` (GRU and vanilla: ``h`` only). Meant for examples and doctests.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
    n_units, n_layers : int
    seed : int

    Examples
    --------
    >>> run = example_run()
    >>> run["h"].dims, run.length.values.tolist()
    (('event', 'time', 'unit', 'layer'), [18, 16, 11])
    """
    rng = np.random.default_rng(seed)
    n_events, n_time = len(_LENGTHS), max(_LENGTHS)
    lengths = np.asarray(_LENGTHS)
    times = 2.0 + 0.5 * np.arange(n_time)
    seg = np.array([s[:4] for s in _SEGMENTS], dtype=np.float64)
    labels = np.full((n_events, n_time), -1, dtype=np.int16)
    for e, c, a, b in seg:
        inside = (times >= a) & (times < b) & (np.arange(n_time) < lengths[int(e)])
        labels[int(e), inside] = int(c)
    drive = rng.normal(0.0, 0.9, size=(len(_CLASSES), n_units, n_layers))
    c = np.full((n_events, n_time, n_units, n_layers), np.nan, dtype=np.float32)
    for e in range(n_events):
        state = np.zeros((n_units, n_layers))
        for t in range(lengths[e]):
            lab = max(int(labels[e, t]), 0)
            state = 0.7 * state + drive[lab] + rng.normal(0.0, 0.3, size=state.shape)
            c[e, t] = state
    h = (0.95 * np.tanh(c)).astype(np.float32)
    valid = np.arange(n_time)[None, :] < lengths[:, None]
    feats = np.where(valid[..., None], rng.normal(size=(n_events, n_time, 3)), np.nan).astype(np.float32)
    logits = rng.normal(size=(n_events, n_time, len(_CLASSES)))
    prob = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    prob = np.where(valid[..., None], prob, np.nan).astype(np.float32)
    pred = np.where(valid, np.nanargmax(np.nan_to_num(prob, nan=0.0), -1), -1).astype(np.int16)
    fs, win, hop = 10.0, 40, 5
    n_samples = (lengths - 1) * hop + win
    wave = np.full((n_events, int(n_samples.max())), np.nan, dtype=np.float32)
    for e in range(n_events):
        wave[e, : n_samples[e]] = rng.normal(size=n_samples[e])
    spec = np.where(valid[..., None], rng.normal(size=(n_events, n_time, 5)), np.nan).astype(np.float32)
    state_vars = {"h": h}
    if cell in ("lstm", "lazy_lstm"):
        state_vars["c"] = c
    run = xr.Dataset(
        {
            "waveform": (("event", "sample"), wave),
            "features": (("event", "time", "feature"), feats),
            "spectrogram": (("event", "time", "freq"), spec),
            "label": (("event", "time"), labels),
            **{name: (("event", "time", "unit", "layer"), v) for name, v in state_vars.items()},
            "prob": (("event", "time", "class_name"), prob),
            "pred": (("event", "time"), pred),
            "segment_event_id": (("segment",), np.array([f"ex{int(e)}" for e in seg[:, 0]], dtype=str)),
            "segment_class": (("segment",), seg[:, 1].astype(np.int16)),
            "segment_start": (("segment",), seg[:, 2]),
            "segment_end": (("segment",), seg[:, 3]),
            "segment_p": (("segment",), np.array([s[4] for s in _SEGMENTS])),
            "segment_s": (("segment",), np.array([s[5] for s in _SEGMENTS])),
        },
        coords={
            "event_id": ("event", np.array([f"ex{e}" for e in range(n_events)], dtype=object)),
            "length": ("event", lengths.astype(np.int64)),
            "n_samples": ("event", n_samples.astype(np.int64)),
            "time": times,
            "sample_time": ("sample", np.arange(wave.shape[1]) / fs),
            "feature": ["f0", "f1", "f2"],
            "freq": np.linspace(0.0, 5.0, 5),
            "unit": np.arange(n_units),
            "layer": np.arange(n_layers),
            "class_name": np.array(_CLASSES),
        },
        attrs={
            "schema_version": SCHEMA_VERSION,
            "class_names": list(_CLASSES),
            "background": _CLASSES[0],
            "sampling_rate": fs,
            "frame_rate": 2.0,
            "model_config": json.dumps({"cells": [cell] * n_layers, "hidden_size": n_units,
                                        "num_layers": n_layers, "class_names": _CLASSES}),
            "feature_config": json.dumps({"window_s": 4.0, "hop_s": 0.5}),
        },
    )
    return run.merge(_summaries(run, state_vars, seg, lengths))


def _summaries(run, state_vars, seg, lengths) -> xr.Dataset:
    """The capture-time summaries, written out with plain numpy (full arrays: the run is tiny)."""
    h = np.abs(np.asarray(run["h"].values, dtype=np.float64))
    labels = np.asarray(run["label"].values)
    times = np.asarray(run["time"].values)
    n_classes = len(_CLASSES)
    valid = np.arange(h.shape[1])[None, :] < lengths[:, None]
    activity = h[valid].mean(0)
    heat_frame = np.stack([h[labels == c].mean(0) if (labels == c).any() else np.full(h.shape[2:], np.nan)
                           for c in range(n_classes)])
    per_class: dict[int, list] = {c: [] for c in range(n_classes)}
    for e, c, a, b in seg:
        start = min(int(np.searchsorted(times, a)), lengths[int(e)])
        stop = min(int(np.searchsorted(times, b)), lengths[int(e)])
        if stop > start:
            per_class[int(c)].append(h[int(e), start:stop].mean(0))
    heat = np.stack([np.mean(per_class[c], axis=0) if per_class[c] else np.full(h.shape[2:], np.nan)
                     for c in range(n_classes)])
    names = list(state_vars)
    vmin = np.stack([np.nanmin(np.asarray(state_vars[v], dtype=np.float64), axis=(0, 1, 2)) for v in names])
    vmax = np.stack([np.nanmax(np.asarray(state_vars[v], dtype=np.float64), axis=(0, 1, 2)) for v in names])
    dims3 = ("class_name", "unit", "layer")
    return xr.Dataset(
        {
            "summary_heat": (dims3, heat.astype(np.float32)),
            "summary_heat_frame": (dims3, heat_frame.astype(np.float32)),
            "summary_activity": (("unit", "layer"), activity.astype(np.float32)),
            "summary_min": (("variable", "layer"), vmin.astype(np.float32)),
            "summary_max": (("variable", "layer"), vmax.astype(np.float32)),
            "summary_event_id": (("summary_event",), np.asarray(run["event_id"].values).astype(str)),
        },
        coords={"variable": np.array(names)},
    )

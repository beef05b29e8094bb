"""A tiny, deterministic, torch-free run for the analysis examples and doctests (not a trained network)."""
from __future__ import annotations

import numpy as np
import xarray as xr

from .._validation import DEFAULT_CLASS_NAMES
from ..io import compute_summaries
from ..schema import SCHEMA_VERSION

__all__ = ["toy_run"]

_CLASSES = list(DEFAULT_CLASS_NAMES)
# (event, class, start s, end s, P s, S s): frame times are 2.0, 2.5, ... (4 s windows, 0.5 s hop)
_SEGMENTS = [
    (0, 0, 0.0, 4.0, np.nan, np.nan), (0, 2, 4.0, 7.0, np.nan, np.nan), (0, 0, 7.0, 9.0, np.nan, np.nan),
    (0, 4, 9.0, 11.0, 9.2, 9.9),
    (1, 0, 0.0, 3.5, np.nan, np.nan), (1, 3, 3.5, 6.0, 3.6, 4.6), (1, 0, 6.0, 10.0, np.nan, np.nan),
    (2, 1, 0.0, 4.5, np.nan, np.nan), (2, 0, 4.5, 7.0, np.nan, np.nan),
]
_LENGTHS = [18, 16, 11]


def toy_run(cell: str = "lstm", *, hidden_size: int = 6, num_layers: int = 1, seed: int = 0) -> xr.Dataset:
    """A small run laid out like :func:`rnnscope.capture`'s, built with numpy (no model, no torch).

    Three records of 18, 16 and 11 frames (padded to 18: NaN / -1 past ``length``), every class of
    ``SIL, TRE, LP, VTE, HYB`` present, a segment table with P and S arrivals, waveform and spectrogram, and the
    capture-time summaries. The states are a class-driven random walk: ``c[t] = 0.7 c[t-1] + drive[label] +
    noise`` and ``h = 0.95 tanh(c)`` (GRU and vanilla: ``h`` only). Meant for examples and doctests.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn"}
        The cell the run pretends to come from: LSTM runs hold ``h``, ``c`` and the gates, the others ``h`` only.
    hidden_size, num_layers : int
        Units per layer and layers (as :class:`rnnscope.models.RNNClassifier`).
    seed : int
        Seed of the class drives and the noise.

    Returns
    -------
    xarray.Dataset
        A run that :func:`rnnscope.schema.validate` accepts.

    Examples
    --------
    >>> run = toy_run()
    >>> run["h"].dims, run.length.values.tolist()
    (('event', 'time', 'unit', 'layer'), [18, 16, 11])
    >>> dict(toy_run("gru", hidden_size=3, num_layers=2).h.sizes), "c" in toy_run("gru")
    ({'event': 3, 'time': 18, 'unit': 3, 'layer': 2}, False)
    """
    n_units, n_layers = hidden_size, num_layers
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
            "model_config": {"cells": [cell] * n_layers, "hidden_size": n_units, "num_layers": n_layers,
                             "class_names": list(_CLASSES)},
            "feature_config": {"window_s": 4.0, "hop_s": 0.5},
        },
    )
    return run.merge(compute_summaries(run))


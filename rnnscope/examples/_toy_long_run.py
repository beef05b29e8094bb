"""Two long records built in memory (no torch, no model) for the widgets' docstring examples.

Examples
--------
>>> run = toy_long_run()
>>> run.sizes["unit"], [int(n) for n in run["length"].values]
(8, [120, 80])
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .._validation import DEFAULT_CLASS_NAMES
from ..io import compute_summaries
from ..schema import SCHEMA_VERSION

__all__ = ["toy_long_run"]

CLASSES = list(DEFAULT_CLASS_NAMES)


def toy_long_run(lengths=(120, 80), *, hidden_size: int = 8, seed: int = 0) -> xr.Dataset:
    """Two records of smooth random tanh states (``h``, ``c``, ``forget_gate``), a spectrogram, a waveform,
    labels, a segment table and capture-time summaries; one LP segment per record.

    Parameters
    ----------
    lengths : sequence of int
        Frames of each record (one record per entry).
    hidden_size : int
        Units (one layer).
    seed : int
        Seed of the random walk, the waveform and the spectrogram.

    Returns
    -------
    xarray.Dataset
        A run of ``len(lengths)`` records, padded to the longest.

    Examples
    --------
    >>> run = toy_long_run(hidden_size=4)
    >>> run.sizes["unit"], run.segment_class.values.tolist()
    (4, [0, 2, 0, 2])
    >>> toy_long_run([30, 50, 40]).length.values.tolist()
    [30, 50, 40]
    """
    n_units = hidden_size
    rng = np.random.default_rng(seed)
    n_ev, n_t = len(lengths), max(lengths)
    times = 2.0 + 0.5 * np.arange(n_t)
    n_samples = np.array([50 * (n - 1) + 400 for n in lengths])
    walk = np.cumsum(rng.standard_normal((n_ev, n_t, n_units, 1)), axis=1) / 4
    valid = np.arange(n_t)[None, :] < np.array(lengths)[:, None]
    mask = valid[:, :, None, None]
    h = np.where(mask, np.tanh(walk), np.nan).astype(np.float32)
    c = np.where(mask, 2 * walk, np.nan).astype(np.float32)
    f = np.where(mask, 1 / (1 + np.exp(-walk)), np.nan).astype(np.float32)
    label = np.where(valid, 0, -1).astype(np.int16)
    rows: list[tuple[float, ...]] = []
    for e, n in enumerate(lengths):
        a, b = n // 3, n // 3 + n // 4
        label[e, a:b] = 2
        rows += [(e, 0, times[0] - 0.25, times[a] - 0.25, np.nan, np.nan),
                (e, 2, times[a] - 0.25, times[b] - 0.25, times[a] + 1.0, np.nan)]
    seg = np.array(rows)
    wave = np.full((n_ev, int(n_samples.max())), np.nan, np.float32)
    for e, n in enumerate(n_samples):
        wave[e, :n] = np.sin(np.arange(n) / 7.0) * (1 + rng.random(n))
    spec = np.where(valid[:, :, None], rng.standard_normal((n_ev, n_t, 33)), np.nan).astype(np.float32)
    ds = xr.Dataset(
        {"h": (("event", "time", "unit", "layer"), h), "c": (("event", "time", "unit", "layer"), c),
         "forget_gate": (("event", "time", "unit", "layer"), f),
         "spectrogram": (("event", "time", "freq"), spec), "waveform": (("event", "sample"), wave),
         "label": (("event", "time"), label), "pred": (("event", "time"), label.copy()),
         "segment_event_id": ("segment", np.array([f"ex{int(e)}" for e in seg[:, 0]])),
         "segment_class": ("segment", seg[:, 1].astype(np.int64)),
         "segment_start": ("segment", seg[:, 2]), "segment_end": ("segment", seg[:, 3]),
         "segment_p": ("segment", seg[:, 4]), "segment_s": ("segment", seg[:, 5])},
        coords={"time": times, "unit": np.arange(n_units), "layer": [0], "class_name": CLASSES,
                "freq": np.linspace(0, 50, 33),
                "sample_time": ("sample", np.arange(wave.shape[1]) / 100.0), "length": ("event", list(lengths)),
                "n_samples": ("event", n_samples), "event_id": ("event", [f"ex{e}" for e in range(n_ev)])},
        attrs={"schema_version": SCHEMA_VERSION, "class_names": CLASSES, "background": CLASSES[0],
               "sampling_rate": 100.0})
    return ds.merge(compute_summaries(ds))

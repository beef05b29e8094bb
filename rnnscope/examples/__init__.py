"""Example runs and a model, so docstrings, notebooks and the Explorer start in seconds (e.g. on Binder).

Two kinds, named for what they are:

- **trained**: :func:`trained_model` is an LSTM(64) trained on 90 synthetic records (held-out frame accuracy about
  0.80) and :func:`trained_run` its run on 8 held-out records with every internal state, both shipped with the
  package (made by ``benchmarks/make_shipped_assets.py``, seed 0). Use them to see what a real capture looks like.
- **toy** (no model, no torch, built in memory with numpy, deterministic by ``seed``): :func:`toy_run` has three
  short records holding all five classes with class-driven states, for the analysis examples;
  :func:`toy_long_run` has two long records of smooth random states, for the widgets' examples. Their numbers
  mean nothing about any network.

Every example run carries the capture-time summaries, computed by :func:`rnnscope.io.compute_summaries` (the code
capture uses).

Examples
--------
>>> import rnnscope
>>> run = rnnscope.examples.trained_run()
>>> dict(run.h.sizes)
{'event': 8, 'time': 350, 'unit': 64, 'layer': 1}
>>> rnnscope.examples.toy_run().length.values.tolist(), rnnscope.examples.toy_long_run().length.values.tolist()
([18, 16, 11], [120, 80])
"""
from __future__ import annotations

from pathlib import Path

import xarray as xr

from ._toy_long_run import toy_long_run
from ._toy_run import toy_run

__all__ = ["trained_run", "trained_model", "toy_run", "toy_long_run", "SHIPPED"]

SHIPPED = Path(__file__).resolve().parent.parent / "_shipped"


def trained_run() -> xr.Dataset:
    """The shipped run of :func:`trained_model` on 8 held-out synthetic records (opened lazily; no torch needed).

    Returns
    -------
    xarray.Dataset
        The run (dask-backed: values are read when used), every internal state of the LSTM(64) on 8 records.

    Examples
    --------
    >>> run = trained_run()
    >>> run.attrs["class_names"]
    ['SIL', 'TRE', 'LP', 'VTE', 'HYB']
    >>> [v for v in run.data_vars if run[v].dims == ("event", "time", "unit", "layer")]
    ['h', 'c', 'input_gate', 'forget_gate', 'output_gate', 'cell_input']
    """
    from ..io import open_run

    return open_run(SHIPPED / "example_run.nc")


def trained_model():
    """The shipped LSTM(64) classifier, trained on synthetic records (imports torch).

    Returns
    -------
    rnnscope.models.RNNClassifier
        The model on the CPU, with its class names, background class and input contract (sampling rate and
        feature settings).

    Examples
    --------
    >>> model = trained_model()
    >>> model.hidden_size, list(model.class_names)
    (64, ['SIL', 'TRE', 'LP', 'VTE', 'HYB'])
    """
    from ..models import load

    return load(SHIPPED / "lstm64.safetensors", device="cpu")

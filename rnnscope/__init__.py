"""rnnscope: see what recurrent networks learned from sequential signals.

The pipeline is one xarray Dataset that grows step by step::

    records  = rnnscope.data.synthetic(n_records=20, seed=0)   # waveforms + labels + segment table
    frames   = rnnscope.features.compute(records)               # log filter bank + deltas, frame labels
    model    = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=64, num_classes=5)  # torch (on use)
    run      = rnnscope.capture(model, frames)                   # every internal state, (event, time, unit, layer)

``import rnnscope`` does not import torch: the torch-side parts (``models``, ``train``, ``capture``) are
loaded on first use (PEP 562), and ``data``, ``features``, ``schema``, ``analysis``, ``io`` and ``widgets``
never import it.
"""
from __future__ import annotations

import importlib

from ._version import __version__

#: submodules loaded on first attribute access
_SUBMODULES = {
    "data",
    "features",
    "schema",
    "plots",
    "io",
    "analysis",
    "widgets",
    "models",
    "train",
    "experiments",
    "capturing",
    "monitoring",
    "cli",
    "examples",
    "errors",
}
#: public functions living in a private module: name -> (module, attribute)
_FUNCTIONS = {
    "capture": ("rnnscope.capturing", "capture"),
    "capture_modules": ("rnnscope.capturing", "capture_modules"),
    "save_run": ("rnnscope.io", "save_run"),
    "open_run": ("rnnscope.io", "open_run"),
    "monitor": ("rnnscope.monitoring", "monitor"),
    "score_detections": ("rnnscope.monitoring", "score_detections"),
    "seed_everything": ("rnnscope._seed", "seed_everything"),
}

__all__ = ["__version__", *sorted(_SUBMODULES), *sorted(_FUNCTIONS)]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"rnnscope.{name}")
    if name in _FUNCTIONS:
        module, attribute = _FUNCTIONS[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'rnnscope' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

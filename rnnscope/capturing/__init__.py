"""Capture: a model and data -> the run, every internal state with dims (event, time, unit, layer).

The public entry points are :func:`rnnscope.capture` (one run: always an ``xarray.Dataset``) and
:func:`rnnscope.capture_modules` (any model whose recurrent modules step at several rates: a dict ``{steps: run}``);
this package is named ``capturing`` so that it never shadows them. Modules: ``_capture.py`` (the pass over the
data), ``_any_model.py`` (``capture_modules``), ``_sinks.py`` (memory or a run store), ``_store.py`` (a run store
written while capturing, resumable). Run stores and summaries are written by
:mod:`rnnscope.io` (:class:`rnnscope.io.RunWriter`, :class:`rnnscope.io.SummaryAccumulator`), the one writer of
runs.
"""
from ._any_model import capture_modules
from ._capture import capture

__all__ = ["capture", "capture_modules"]

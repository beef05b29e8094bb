"""Helpers shared by the experiments: a temporary torch thread count, a run stripped back to its data."""
from __future__ import annotations

import contextlib

import torch
import xarray as xr

from .._overview import OVERVIEW_VARIABLES
from ..schema import STATE_VARIABLES, SUMMARY_VARIABLES

__all__ = []


@contextlib.contextmanager
def _threads(threads):
    """Run with ``threads`` PyTorch CPU threads (None: leave as is), restoring the previous count afterwards."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_RUN_ONLY = (set(v for vs in STATE_VARIABLES.values() for v in vs) | set(SUMMARY_VARIABLES) | {"prob", "pred"}
             | set(OVERVIEW_VARIABLES))


def _strip_run(ds: xr.Dataset) -> xr.Dataset:
    """The data part of a run (states, outputs, summaries and overview dropped) so it can be captured again."""
    drop = [name for name in ds.variables if name in _RUN_ONLY]
    out = ds.drop_vars(drop)
    extra = [c for c in ("unit", "layer", "class_name", "variable", "clean_frame") if c in out.coords]
    return out.drop_vars(extra)

"""Small assets shipped with rnnscope, so notebooks and the Explorer start in seconds (e.g. on Binder).

Both were made by ``benchmarks/make_shipped_assets.py`` (seed 0): an LSTM(64) trained on 90 synthetic records
(held-out frame accuracy about 0.80) and its run on 8 held-out records with every internal state.

Examples
--------
>>> import rnnscope
>>> run = rnnscope.examples.example_run()
>>> dict(run.h.sizes)
{'event': 8, 'time': 350, 'unit': 64, 'layer': 1}
"""
from __future__ import annotations

from pathlib import Path

import xarray as xr

__all__ = ["example_run", "example_model", "SHIPPED"]

SHIPPED = Path(__file__).resolve().parent / "_shipped"


def example_run() -> xr.Dataset:
    """The shipped run (opened lazily; no torch needed)."""
    from .io import open_run

    return open_run(SHIPPED / "example_run.nc")


def example_model():
    """The shipped LSTM(64) classifier (imports torch)."""
    from .models import load

    return load(SHIPPED / "lstm64.safetensors")

"""dask for the widgets: its local schedulers given as functions, and a run's small variables read in one computation.

A scheduler given by name (``scheduler="threads"``) makes dask import ``distributed`` to look for a client (half a
second, once per process, on an Explorer's first read); the widgets pass the scheduler functions instead.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .. import _overview as ov

__all__ = ["local_dask", "metadata_in_memory"]

_LONG_DIMS = {"time", "sample", *ov.DIMS.values()}


def _sync():
    """dask's synchronous scheduler, as a function: a scheduler given by name makes dask import
    ``distributed`` to look for a client (half a second, once per process, on an Explorer's first read)."""
    from dask.local import get_sync

    return get_sync


def _threads():
    """dask's threaded scheduler, as a function (see :func:`_sync`)."""
    from dask.threaded import get

    return get


def local_dask():
    """A context in which dask computes with its local threads (by function: no look for a distributed client),
    for what the widgets read."""
    import dask

    return dask.config.set(scheduler=_threads())


def metadata_in_memory(run: xr.Dataset) -> xr.Dataset:
    """``run`` with every variable that has none of the long dimensions (``time``, ``sample``, the overview's)
    read into memory in one dask computation: lengths, ids, the segment table, summaries, what the widgets read
    when they open, in one read instead of one per variable. ``run`` itself is not changed.

    >>> from rnnscope.examples import toy_long_run
    >>> small = metadata_in_memory(toy_long_run().chunk())
    >>> type(small["length"].data).__name__, type(small["h"].data).__name__
    ('ndarray', 'Array')
    """
    names = [n for n, v in run.variables.items() if not set(v.dims) & _LONG_DIMS and not isinstance(v.data, np.ndarray)]
    if not names:
        return run
    import dask

    values = dask.compute(*[run.variables[n].data for n in names], scheduler=_threads())
    out = run.copy(deep=False)
    for name, value in zip(names, values, strict=True):
        out.variables[name].data = np.asarray(value)
    return out

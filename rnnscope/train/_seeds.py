"""One model per seed, so every claim about a trained network can be checked over seeds.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor

import numpy as np
import xarray as xr
from torch import nn

from .._seed import pin_threads, preserved, seeded
from .._tasks import _run_tasks
from ._fit import fit

__all__ = ["fit_many"]

#: Held while a task seeds the global RNGs and builds its model: with a thread-based Executor, tasks share
#: PyTorch's global generator, and the lock keeps every model's initial weights those of its own seed.
_INIT_LOCK = threading.Lock()


def _fit_seed_task(payload: dict) -> nn.Module:
    """Seed, build and train one model (module level so any Executor can pickle it)."""
    seed = payload["seed"]
    pin_threads(payload["threads"])  # the worker's count for the whole task (the caller restores its own)
    with _INIT_LOCK, seeded(seed):  # the initial weights of this seed; the generators restored
        model = payload["make_model"]()
    fit(model, payload["dataset"], seed=seed, device=payload["device"], progress=False, **payload["fit_kwargs"])
    return model.cpu()


def fit_many(
    make_model: Callable[[], nn.Module],
    dataset: xr.Dataset,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    executor: Executor | None = None,
    threads: int | None = 1,
    device: str = "auto",
    progress: bool = True,
    **fit_kwargs,
) -> list[nn.Module]:
    """Train one model per seed, so every claim about a trained network can be checked over seeds.

    For each seed ``s``: every generator seeded with ``s`` and ``threads`` pinned (for this task only: the caller's
    generators and thread count are restored), then ``make_model()`` (so the initial weights differ by seed), then
    :func:`fit` with ``seed=s`` (batch order, validation split, dropout).
    Analyse the models with :func:`rnnscope.capture` and summarise any number with
    :func:`rnnscope.analysis.across_seeds`.

    Parameters
    ----------
    make_model : callable
        Builds a fresh, untrained model; called once per seed after seeding. Must be picklable for process-based
        executors (a module-level function or class, not a lambda).
    dataset : xarray.Dataset
        Training records (features Dataset).
    seeds : sequence of int
        One model per seed, returned in this order.
    executor : concurrent.futures.Executor, optional
        None trains serially; any Executor (``ThreadPoolExecutor``, ``ProcessPoolExecutor``, a
        ``dask.distributed`` client's ``get_executor()``) trains seeds in parallel. Each task pins its seed and
        thread count, so the models equal the serial ones bit for bit (CPU). With a thread-based executor, models
        using dropout draw from PyTorch's global generator during training and are reproducible only serially or
        with processes; initial weights are always created under a lock.
    threads : int or None
        PyTorch CPU threads per task (default 1: reproducible and fair when tasks run side by side).
    device : str
        ``"auto"`` (default) picks CUDA, then MPS, then CPU; ``"cpu"`` gives bit-identical results.
    progress : bool
        One progress bar over the seeds.
    **fit_kwargs
        Any other :func:`fit` keyword (``epochs``, ``lr``, ``validation``...).

    Returns
    -------
    list of models
        Trained, on the CPU, in the order of ``seeds``; ``model.info["training"]["seed"]`` records the seed.

    Examples
    --------
    >>> import rnnscope
    >>> from functools import partial
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=4, seed=0))
    >>> make = partial(rnnscope.models.RNNClassifier, "gru", input_size=48, hidden_size=4, num_classes=5)
    >>> models = rnnscope.train.fit_many(make, frames, seeds=[0, 1], epochs=1, progress=False)
    >>> [m.info["training"]["seed"] for m in models]
    [0, 1]
    """
    func = "fit_many"
    if not callable(make_model):
        raise TypeError(f"The 'make_model' parameter of {func} must be a callable returning a fresh model. "
                        f"Got {type(make_model).__name__} instead.")
    if isinstance(seeds, (int, np.integer)) or not isinstance(seeds, Iterable):
        raise ValueError(f"The 'seeds' parameter of {func} must be a list of integers, e.g. (0, 1, 2, 3, 4). "
                         f"Got {seeds!r} instead.")
    seeds = list(seeds)
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, (int, np.integer))]
    if bad or not seeds:
        raise ValueError(f"The 'seeds' parameter of {func} must be a non-empty list of integers. "
                         f"Got {seeds!r} instead.")
    if len(set(int(s) for s in seeds)) != len(seeds):
        raise ValueError(f"The 'seeds' parameter of {func} holds duplicated seeds {seeds}; give each seed once.")
    for key in ("seed", "progress"):
        if key in fit_kwargs:
            raise TypeError(f"{func}: {key!r} is set by fit_many itself; pass the seeds with seeds=[...].")
    payloads = [{"make_model": make_model, "dataset": dataset, "seed": int(s), "threads": threads, "device": device,
                 "fit_kwargs": fit_kwargs} for s in seeds]
    with preserved():  # the caller's generators and thread count, whatever the tasks did in this process
        return _run_tasks(_fit_seed_task, payloads, executor, progress, func)

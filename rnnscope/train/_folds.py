"""Record-level folds, cross-validation and sweeps over model configurations (any ``concurrent.futures.Executor``).
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor

import numpy as np
import pandas as pd
import xarray as xr
from torch import nn

from .._seed import pin_threads, preserved, seeded
from .._tasks import _run_tasks
from ..data._records import select_records
from ._evaluate import evaluate
from ._fit import fit
from ._records import _records, record_folds

__all__ = ["record_folds", "cross_validate", "sweep"]


# --------------------------------------------------------------------------------------------- folds and sweeps


def cross_validate(
    make_model: Callable[[], nn.Module],
    dataset: xr.Dataset,
    *,
    folds: int = 4,
    seed: int = 0,
    threads: int | None = None,
    device: str = "auto",
    executor: Executor | None = None,
    return_models: bool = False,
    progress: bool = True,
    **fit_kwargs,
) -> pd.DataFrame:
    """Train and test on ``folds`` record partitions (the paper's Table I layout).

    Each test partition is one fold of :func:`record_folds`; the model is trained on the others (its normaliser,
    class weights and early-stopping split come from the training fold only). ``make_model`` is called once per
    fold after seeding, so folds start from the same initial weights for the same seed.

    Returns
    -------
    pandas.DataFrame
        One row per test partition (``partition`` 1..folds) and an ``average`` row; columns ``accuracy``,
        ``macro_f1``, ``detection_rate``, ``n_parameters``, ``train_time_s`` (and ``model`` with
        ``return_models=True``).
    """
    with seeded(seed):  # a prototype for the labels in the model's class order; the caller's generators kept
        proto = make_model()
    records = _records(proto, dataset, "cross_validate")
    parts = record_folds(records.y, folds, seed=seed)
    payloads = []
    for k, test_idx in enumerate(parts):
        train_idx = np.setdiff1d(np.arange(len(records)), test_idx)
        payloads.append({"make_model": make_model, "dataset": dataset, "train_idx": train_idx, "test_idx": test_idx,
                         "seed": seed, "threads": threads, "device": device, "fit_kwargs": fit_kwargs,
                         "return_model": return_models})
    with preserved():  # the caller's generators and thread count, whatever the tasks did in this process
        rows = _run_tasks(_cv_fold_task, payloads, executor, progress, "cross_validate")
    table = pd.DataFrame(rows, index=pd.Index(range(1, folds + 1), name="partition"))
    numeric = table.drop(columns=["model"], errors="ignore")
    table.loc["average"] = numeric.mean()
    return table


def _cv_fold_task(payload: dict) -> dict:
    """Train one model on one fold and score it (module level so any Executor can pickle it)."""
    return _cv_fold(payload)


def _cv_fold(payload: dict) -> dict:
    dataset, train_idx, test_idx = payload["dataset"], payload["train_idx"], payload["test_idx"]
    pin_threads(payload["threads"])  # the worker's count for the whole task (the caller restores its own)
    with seeded(payload["seed"]):  # the task's seed for the initial weights, training and scoring
        model = payload["make_model"]()
        t0 = time.perf_counter()
        fit(model, select_records(dataset, train_idx), seed=payload["seed"], device=payload["device"],
            progress=False, **payload["fit_kwargs"])
        seconds = time.perf_counter() - t0
        scores = evaluate(model, select_records(dataset, test_idx), device=payload["device"])
    row = {"accuracy": scores.accuracy, "macro_f1": scores.macro_f1,
           "detection_rate": scores.summary()["detection_rate"],
           "n_parameters": int(sum(p.numel() for p in model.parameters())), "train_time_s": seconds}
    if payload.get("return_model"):
        row["model"] = model.cpu()
    return row


_MODEL_KEYS = ("cell", "hidden_size", "num_layers", "residual", "dropout")


def _make_rnn(config: Mapping, input_size: int, class_names: list[str]):
    from ..models import RNNClassifier, TCNClassifier

    kwargs = {k: config[k] for k in _MODEL_KEYS if k in config}
    if kwargs.get("cell") == "tcn":
        return TCNClassifier(input_size, len(class_names), class_names=class_names)
    return RNNClassifier(kwargs.pop("cell", "lstm"), input_size, kwargs.pop("hidden_size", 64), len(class_names),
                         class_names=class_names, **kwargs)


class _GridModel:
    """Picklable ``make_model`` for one sweep configuration."""

    def __init__(self, config: Mapping, input_size: int, class_names: list[str]):
        self.config, self.input_size, self.class_names = dict(config), input_size, list(class_names)

    def __call__(self):
        return _make_rnn(self.config, self.input_size, self.class_names)


def sweep(
    grid: Mapping[str, Sequence],
    dataset: xr.Dataset,
    *,
    folds: int = 4,
    seed: int = 0,
    threads: int | None = 1,
    device: str = "cpu",
    executor: Executor | None = None,
    progress: bool = True,
    **fit_kwargs,
) -> pd.DataFrame:
    """Cross-validate every configuration of ``grid`` (e.g. Table III: hidden sizes x cells).

    Parameters
    ----------
    grid : mapping of lists
        Model keys ``cell`` (``"rnn"``, ``"lstm"``, ``"gru"``, ``"lazy_lstm"``, ``"tcn"``), ``hidden_size``,
        ``num_layers``, ``residual``, ``dropout``, and any :func:`fit` keyword (``epochs``, ``lr``...).
    executor : concurrent.futures.Executor, optional
        ``None`` runs serially; any Executor (a ``ProcessPoolExecutor``, a ``dask.distributed`` client's
        ``get_executor()``) runs (configuration, fold) tasks in parallel. Each task pins its seed and thread count,
        so results equal the serial ones bit for bit.

    Returns
    -------
    pandas.DataFrame
        One row per configuration and test partition: the grid keys, ``partition``, ``accuracy``, ``macro_f1``,
        ``detection_rate``, ``n_parameters``, ``train_time_s``.
    """
    keys = list(grid)
    configs = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    if not configs:
        raise ValueError("sweep: the grid is empty; give at least one value per key.")
    class_names = list(dataset.attrs["class_names"])
    input_size = dataset.sizes["feature"]
    with seeded(seed):  # a prototype for the labels in the model's class order; the caller's generators kept
        first = _GridModel(configs[0], input_size, class_names)()
    parts = record_folds(_records(first, dataset, "sweep").y, folds, seed=seed)
    payloads, meta = [], []
    for config in configs:
        model_config = {k: v for k, v in config.items() if k in _MODEL_KEYS}
        run_kwargs = {**fit_kwargs, **{k: v for k, v in config.items() if k not in _MODEL_KEYS}}
        for k, test_idx in enumerate(parts):
            train_idx = np.setdiff1d(np.arange(dataset.sizes["event"]), test_idx)
            payloads.append({"make_model": _GridModel(model_config, input_size, class_names), "dataset": dataset,
                             "train_idx": train_idx, "test_idx": test_idx, "seed": seed, "threads": threads,
                             "device": device, "fit_kwargs": run_kwargs})
            meta.append({**config, "partition": k + 1})
    with preserved():  # the caller's generators and thread count, whatever the tasks did in this process
        rows = _run_tasks(_cv_fold_task, payloads, executor, progress, "sweep")
    return pd.DataFrame([{**m, **r} for m, r in zip(meta, rows)])

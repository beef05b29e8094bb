"""Cross-validation and sweeps over model configurations (any ``concurrent.futures.Executor``): the one route to
the paper's Tables I and III.

Every row holds the scores ``benchmarks/paper_tables.py`` reports: frame accuracy, balanced accuracy and macro F1
(:func:`rnnscope.train.frame_scores`), the event scores ``detection_rate`` and ``onset_error_s``
(:meth:`rnnscope.train.Evaluation.summary`), and, with ``baselines=``, the classifiers without recurrence of
:func:`rnnscope.train.frame_baseline` on the same partitions. :func:`rnnscope.train.fold_summary` and
:func:`rnnscope.train.fold_differences` turn the rows into intervals over partitions (corrected for their overlap).
"""
from __future__ import annotations

import contextlib
import csv
import itertools
import os
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
from ._baseline import baseline_specs, frame_baseline
from ._evaluate import evaluate
from ._fit import fit
from ._intervals import corrected_interval
from ._records import _records, folds_of, record_folds
from ._scores import FRAME_SCORES

__all__ = ["record_folds", "cross_validate", "sweep"]

#: The scores of every row, in this order.
ROW_SCORES = (*FRAME_SCORES, "detection_rate", "onset_error_s")
#: What a task returns besides the scores.
_RESULT_COLUMNS = (*ROW_SCORES, "n_parameters", "train_time_s")
_COUNTS = ("n_train_records", "n_test_records")


# ------------------------------------------------------------------------------------------------ one fold


def _fold_task(payload: dict) -> dict:
    """Train and score one model or baseline on one fold (module level so any Executor can pickle it)."""
    if payload["kind"] == "baseline":
        return _baseline_fold(payload)
    return _model_fold(payload)


def _model_fold(payload: dict) -> dict:
    dataset, train_idx, test_idx = payload["dataset"], payload["train_idx"], payload["test_idx"]
    pin_threads(payload["threads"])  # the worker's count for the whole task (the caller restores its own)
    with seeded(payload["seed"]):  # the task's seed for the initial weights, training and scoring
        model = payload["make_model"]()
        t0 = time.perf_counter()
        fit(model, select_records(dataset, train_idx), seed=payload["seed"], device=payload["device"],
            progress=False, **payload["fit_kwargs"])
        seconds = time.perf_counter() - t0
        scores = evaluate(model, select_records(dataset, test_idx), device=payload["device"])
    row = {**scores.summary(), "n_parameters": int(sum(p.numel() for p in model.parameters())),
           "train_time_s": seconds}
    if payload.get("return_model"):
        row["model"] = model.cpu()
    return row


def _baseline_fold(payload: dict) -> dict:
    t0 = time.perf_counter()
    limit = contextlib.nullcontext()
    if payload["threads"]:
        from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

        limit = threadpool_limits(payload["threads"])
    with limit:
        out = frame_baseline(payload["dataset"], train_idx=payload["train_idx"], test_idx=payload["test_idx"],
                             seed=payload["seed"], **payload["spec"])
    nan = float("nan")
    return {**{k: out[k] for k in FRAME_SCORES}, "detection_rate": nan, "onset_error_s": nan, "n_parameters": nan,
            "train_time_s": time.perf_counter() - t0}


# ------------------------------------------------------------------------------------------------ the plan


def _partitions(proto, dataset, folds, seed, groups, func) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) record positions of each fold (records checked against the model first)."""
    records = _records(proto, dataset, func)
    parts = folds_of(records.y, folds, seed=seed, groups=groups, dataset=dataset, func=func)
    everything = np.arange(len(records))
    return [(np.setdiff1d(everything, test), test) for test in parts]


def _fold_payloads(parts, common: dict, meta: dict) -> tuple[list[dict], list[dict]]:
    payloads, metas = [], []
    for k, (train_idx, test_idx) in enumerate(parts):
        payloads.append({**common, "train_idx": train_idx, "test_idx": test_idx})
        metas.append({**meta, "partition": k + 1, "n_train_records": int(train_idx.size),
                      "n_test_records": int(test_idx.size)})
    return payloads, metas


def _baseline_payloads(specs, parts, dataset, seed, threads) -> tuple[list[dict], list[dict]]:
    payloads, metas = [], []
    for name, spec in specs.items():
        common = {"kind": "baseline", "dataset": dataset, "spec": spec, "seed": seed, "threads": threads}
        p, m = _fold_payloads(parts, common, {"name": name, "seed": seed})
        payloads += p
        metas += m
    return payloads, metas


def _run(payloads, metas, executor, progress, func, checkpoint=None) -> list[dict]:
    """Every task's row (meta + result), in order; with ``checkpoint``, rows saved there are kept, not rerun, and
    each new one is appended as it finishes."""
    done = _read_checkpoint(checkpoint, func) if checkpoint is not None else {}
    todo = [i for i, m in enumerate(metas) if _task_key(m) not in done]
    rows: list[dict | None] = [{**m, **done[_task_key(m)]} if _task_key(m) in done else None for m in metas]

    def save(j, result):
        i = todo[j]
        rows[i] = {**metas[i], **result}
        if checkpoint is not None:
            _append_checkpoint(checkpoint, rows[i])

    with preserved():  # the caller's generators and thread count, whatever the tasks did in this process
        _run_tasks(_fold_task, [payloads[i] for i in todo], executor, progress, func, on_result=save)
    return rows  # type: ignore[return-value]


def _task_key(meta: Mapping) -> tuple:
    return str(meta["name"]), int(meta["seed"]), int(meta["partition"])


def _read_checkpoint(path, func) -> dict[tuple, dict]:
    path = os.fspath(path)
    if not os.path.exists(path):
        return {}
    table = pd.read_csv(path)
    missing = [c for c in ("name", "seed", "partition", *_RESULT_COLUMNS) if c not in table.columns]
    if missing:
        raise ValueError(f"{func}: the checkpoint {path!r} lacks the columns {missing}: it was not written by "
                         f"{func}. Delete it or pass another checkpoint path.")
    return {(str(r["name"]), int(r["seed"]), int(r["partition"])): {c: r[c] for c in _RESULT_COLUMNS}
            for _, r in table.iterrows()}


def _append_checkpoint(path, row: dict) -> None:
    path = os.fspath(path)
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            columns = list(row)
        else:
            with open(path, newline="") as existing:
                columns = next(csv.reader(existing))
        if new:
            writer.writerow(columns)
        writer.writerow(["" if row.get(c) is None else row.get(c, "") for c in columns])
        handle.flush()
        os.fsync(handle.fileno())


def _model_name(model) -> str:
    config = getattr(model, "config", None)
    if isinstance(config, dict) and config.get("cells"):
        return f"{'/'.join(dict.fromkeys(config['cells']))} ({config.get('hidden_size')})"
    if isinstance(config, dict) and config.get("model") == "TCNClassifier":
        return "tcn"
    return type(model).__name__


def _check_callable(make_model, func):
    if not callable(make_model):
        raise TypeError(f"The 'make_model' parameter of {func} must be a callable returning a fresh model "
                        "(e.g. functools.partial(rnnscope.models.RNNClassifier, 'lstm', input_size=48, hidden_size=64, "
                        f"num_classes=5)). Got {type(make_model).__name__} instead.")


# ------------------------------------------------------------------------------------------------ cross_validate


def cross_validate(
    make_model: Callable[[], nn.Module],
    dataset: xr.Dataset,
    *,
    folds: int = 4,
    seed: int = 0,
    groups: str | Sequence | None = None,
    baselines: bool | Sequence[str] | Mapping[str, Mapping] | None = None,
    model_name: str | None = None,
    threads: int | None = 1,
    device: str = "auto",
    executor: Executor | None = None,
    return_models: bool = False,
    progress: bool = True,
    **fit_kwargs,
) -> pd.DataFrame:
    """Train and test on ``folds`` record partitions (the paper's Table I layout), with the paper tables' scores.

    Each test partition is one fold of :func:`record_folds` (``groups`` keeps a station, a day or a survey on one
    side); the model is trained on the others (its normaliser and class weights come from the training fold only;
    ``validation=`` splits the training fold). ``make_model`` is called once per fold after seeding, so folds
    start from the same initial weights for the same seed.

    Parameters
    ----------
    make_model : callable
        Builds a fresh, untrained model (picklable for process-based executors: a module-level function or a
        ``functools.partial``, not a lambda).
    dataset : xarray.Dataset
        Features Dataset.
    folds : int
        Number of test partitions.
    seed : int
        Seeds the folds, the initial weights, training and the baselines.
    groups : str or sequence, optional
        Records that stay together (:func:`record_folds`): one key per record or a variable along ``event``
        (``"station"``, ``"day"`` derived from ``trace_id`` / ``starttime``).
    baselines : True, list of names or mapping, optional
        Also score classifiers without recurrence on the same partitions (:func:`frame_baseline`): True for the
        paper tables' three (``"one-frame logistic"``, ``"one-frame boosting"``, ``"context boosting"`` with 4
        past frames), a list of those names, or a mapping name -> ``frame_baseline`` keywords (``estimator``,
        ``context``, ``class_weights``; the class weighting follows ``class_weights`` of the model by default).
    model_name : str, optional
        The model's name in a table with baselines (default: its cell and size, e.g. ``"lstm (64)"``).
    threads : int or None
        PyTorch CPU threads per task (and the baselines' BLAS/OpenMP threads); default 1, None leaves the setting.
    device : str
        ``"auto"`` (default) picks CUDA, then MPS, then CPU; ``"cpu"`` gives bit-identical results.
    executor : concurrent.futures.Executor, optional
        Runs the folds in parallel (see :func:`sweep`).
    return_models : bool
        Keep each fold's trained model in a ``model`` column.
    progress : bool
        One progress bar over the tasks.
    **fit_kwargs
        Any :func:`fit` keyword (``epochs``, ``class_weights``, ``validation``...).

    Returns
    -------
    pandas.DataFrame
        One row per test partition (``partition`` 1..folds), then ``average``, ``ci_low`` and ``ci_high`` (the
        95 % corrected resampled interval over partitions, :func:`corrected_interval`, of every score); columns
        ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``detection_rate``, ``onset_error_s``,
        ``n_parameters``, ``train_time_s``, ``n_train_records``, ``n_test_records``. With ``baselines``, the
        same block for the model and each baseline under a first index level ``name`` (baselines have no event
        scores and no parameter count: NaN). :func:`fold_summary` and :func:`fold_differences` read it.

    Examples
    --------
    >>> import rnnscope
    >>> from functools import partial
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=8, seed=0))
    >>> make = partial(rnnscope.models.RNNClassifier, "gru", input_size=48, hidden_size=4, num_classes=5)
    >>> table = rnnscope.train.cross_validate(make, frames, folds=2, epochs=1, progress=False)
    >>> list(table.index)
    [1, 2, 'average', 'ci_low', 'ci_high']
    >>> list(table.columns[:5])
    ['accuracy', 'balanced_accuracy', 'macro_f1', 'detection_rate', 'onset_error_s']
    """
    func = "cross_validate"
    _check_callable(make_model, func)
    with seeded(seed):  # a prototype for the labels in the model's class order; the caller's generators kept
        proto = make_model()
    specs = baseline_specs(baselines, fit_kwargs.get("class_weights", "balanced"), func)
    parts = _partitions(proto, dataset, folds, seed, groups, func)
    name = _model_name(proto) if model_name is None else str(model_name)
    common = {"kind": "model", "make_model": make_model, "dataset": dataset, "seed": seed, "threads": threads,
              "device": device, "fit_kwargs": fit_kwargs, "return_model": return_models}
    payloads, metas = _fold_payloads(parts, common, {"name": name, "seed": seed})
    more = _baseline_payloads(specs, parts, dataset, seed, threads)
    rows = _run(payloads + more[0], metas + more[1], executor, progress, func)
    blocks = {}
    for label in [name, *specs]:
        block = pd.DataFrame([r for r in rows if r["name"] == label]).drop(columns=["name", "seed"])
        blocks[label] = _with_summary_rows(block.set_index("partition"))
    return blocks[name] if not specs else pd.concat(blocks, names=["name"])


def _with_summary_rows(block: pd.DataFrame) -> pd.DataFrame:
    """Per-partition rows + ``average`` + the corrected interval's ``ci_low`` / ``ci_high`` of every score."""
    columns = [c for c in (*_RESULT_COLUMNS, *_COUNTS) if c in block.columns] + \
        [c for c in block.columns if c not in _RESULT_COLUMNS and c not in _COUNTS]
    block = block[columns]
    numeric = block.drop(columns=["model"], errors="ignore")
    average = numeric.mean()
    low, high = pd.Series(np.nan, index=numeric.columns), pd.Series(np.nan, index=numeric.columns)
    for score in ROW_SCORES:
        st = corrected_interval(block[score].to_numpy(float), n_train=block["n_train_records"].to_numpy(float),
                                n_test=block["n_test_records"].to_numpy(float))
        low[score], high[score] = st["ci_low"], st["ci_high"]
    block.index = block.index.astype(object)
    for label, values in (("average", average), ("ci_low", low), ("ci_high", high)):
        block.loc[label] = values
    return block


# ------------------------------------------------------------------------------------------------ sweep


_MODEL_KEYS = ("cell", "hidden_size", "num_layers", "residual", "dropout")


def _make_rnn(config: Mapping, input_size: int, class_names: list[str]):
    from ..models import RNNClassifier, TCNClassifier

    kwargs = {k: config[k] for k in _MODEL_KEYS if k in config}
    if kwargs.get("cell") == "tcn":
        return TCNClassifier(input_size=input_size, num_classes=len(class_names), class_names=class_names)
    return RNNClassifier(kwargs.pop("cell", "lstm"), input_size=input_size, hidden_size=kwargs.pop("hidden_size", 64),
                         num_classes=len(class_names), class_names=class_names, **kwargs)


class _GridModel:
    """Picklable ``make_model`` for one sweep configuration."""

    def __init__(self, config: Mapping, input_size: int, class_names: list[str]):
        self.config, self.input_size, self.class_names = dict(config), input_size, list(class_names)

    def __call__(self):
        return _make_rnn(self.config, self.input_size, self.class_names)


def _configurations(grid, func) -> list[dict]:
    """Every configuration of a grid (a mapping of lists) or of a list of grids (the union of their products, as
    scikit-learn's ParameterGrid)."""
    grids = [grid] if isinstance(grid, Mapping) else list(grid) if isinstance(grid, Sequence) else None
    if grids is None or not all(isinstance(g, Mapping) for g in grids):
        raise TypeError(f"The 'grid' parameter of {func} must be a mapping of lists (e.g. {{'cell': ['lstm', 'rnn'], "
                        f"'hidden_size': [30, 110]}}) or a list of such mappings. Got {type(grid).__name__} instead.")
    configs = []
    for g in grids:
        if "seed" in g:
            raise ValueError(f"{func}: 'seed' is not a grid key; train every configuration with several seeds with "
                             "seeds=[0, 1, 2] (the folds come from seed=).")
        values = [list(v) if isinstance(v, (list, tuple, np.ndarray, range)) else [v] for v in g.values()]
        configs += [dict(zip(g, combo, strict=True)) for combo in itertools.product(*values)]
    if not configs:
        raise ValueError(f"{func}: the grid is empty; give at least one value per key.")
    return configs


def _config_name(config: Mapping) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def sweep(
    grid: Mapping[str, Sequence] | Sequence[Mapping[str, Sequence]],
    dataset: xr.Dataset,
    *,
    folds: int = 4,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    groups: str | Sequence | None = None,
    baselines: bool | Sequence[str] | Mapping[str, Mapping] | None = None,
    threads: int | None = 1,
    device: str = "auto",
    executor: Executor | None = None,
    checkpoint: str | os.PathLike | None = None,
    progress: bool = True,
    **fit_kwargs,
) -> pd.DataFrame:
    """Cross-validate every configuration of ``grid`` (e.g. Table III: hidden sizes x cells), with the paper
    tables' scores and optionally the baselines.

    Parameters
    ----------
    grid : mapping of lists, or list of mappings
        Model keys ``cell`` (``"rnn"``, ``"lstm"``, ``"gru"``, ``"lazy_lstm"``, ``"tcn"``), ``hidden_size``,
        ``num_layers``, ``residual``, ``dropout``, and any :func:`fit` keyword (``epochs``, ``lr``...). A list of
        mappings runs the union of their products (Table I: ``[{"cell": ["rnn"], "hidden_size": [140]},
        {"cell": ["lstm"], "hidden_size": [210]}, {"cell": ["tcn"]}]``).
    dataset : xarray.Dataset
        Features Dataset.
    folds : int
        Number of test partitions.
    seed : int
        Seeds the folds (and training, without ``seeds``).
    seeds : list of int, optional
        Train every configuration with each of these seeds on the same folds (initial weights, batch order,
        validation split); default ``[seed]``.
    groups : str or sequence, optional
        Records that stay together (:func:`record_folds`).
    baselines : True, list of names or mapping, optional
        Classifiers without recurrence on the same partitions, with the first seed (see :func:`cross_validate`).
    threads : int or None
        PyTorch CPU threads per task (and the baselines' BLAS/OpenMP threads).
    device : str
        ``"auto"`` (default) picks CUDA, then MPS, then CPU; ``"cpu"`` gives bit-identical results.
    executor : concurrent.futures.Executor, optional
        ``None`` runs serially; any Executor (a ``ProcessPoolExecutor``, a ``dask.distributed`` client's
        ``get_executor()``) runs (configuration, seed, fold) tasks in parallel. Each task pins its seed and thread
        count, so results equal the serial ones bit for bit.
    checkpoint : path, optional
        A CSV file where each finished row is appended as it finishes; rows already there (same ``name``,
        ``seed`` and ``partition``) are read back instead of rerun, so an interrupted sweep resumes where it
        stopped. The file is kept; delete it to start afresh.
    progress : bool
        One progress bar over the tasks.
    **fit_kwargs
        Any other :func:`fit` keyword, for every configuration.

    Returns
    -------
    pandas.DataFrame
        One row per configuration, seed and test partition: ``name`` (``"cell=lstm, hidden_size=210"``, or the
        baseline's name), the grid keys, ``seed``, ``partition``, ``accuracy``, ``balanced_accuracy``,
        ``macro_f1``, ``detection_rate``, ``onset_error_s``, ``n_parameters``, ``train_time_s``,
        ``n_train_records``, ``n_test_records``. Summarise it with :func:`fold_summary` (intervals over
        partitions) and :func:`fold_differences` (paired comparisons, Holm-corrected).

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=8, seed=0))
    >>> table = rnnscope.train.sweep({"cell": ["gru"], "hidden_size": [3, 4]}, frames, folds=2, epochs=1,
    ...                              baselines=["one-frame logistic"], progress=False)
    >>> table["name"].unique().tolist()
    ['cell=gru, hidden_size=3', 'cell=gru, hidden_size=4', 'one-frame logistic']
    >>> rnnscope.train.fold_summary(table, scores="accuracy")["n_partitions"].tolist()
    [2, 2, 2]
    """
    func = "sweep"
    configs = _configurations(grid, func)
    seeds = [seed] if seeds is None else [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"The 'seeds' parameter of {func} must be a non-empty list of distinct integers. "
                         f"Got {seeds!r} instead.")
    class_names = list(dataset.attrs["class_names"]) if isinstance(dataset, xr.Dataset) and \
        "class_names" in dataset.attrs else None
    if class_names is None:
        raise ValueError(f"{func}: the Dataset has no attrs['class_names']; pass a features Dataset "
                         "(rnnscope.features.compute).")
    input_size = dataset.sizes["feature"]
    specs = baseline_specs(baselines, fit_kwargs.get("class_weights", "balanced"), func)
    with seeded(seed):  # a prototype for the labels in the model's class order; the caller's generators kept
        first = _GridModel(configs[0], input_size, class_names)()
    parts = _partitions(first, dataset, folds, seed, groups, func)
    payloads, metas = [], []
    for config in configs:
        model_config = {k: v for k, v in config.items() if k in _MODEL_KEYS}
        run_kwargs = {**fit_kwargs, **{k: v for k, v in config.items() if k not in _MODEL_KEYS}}
        for s in seeds:
            common = {"kind": "model", "make_model": _GridModel(model_config, input_size, class_names),
                      "dataset": dataset, "seed": s, "threads": threads, "device": device, "fit_kwargs": run_kwargs}
            p, m = _fold_payloads(parts, common, {"name": _config_name(config), **config, "seed": s})
            payloads += p
            metas += m
    more = _baseline_payloads(specs, parts, dataset, seeds[0], threads)
    rows = _run(payloads + more[0], metas + more[1], executor, progress, func, checkpoint)
    keys = list(dict.fromkeys(k for c in configs for k in c))
    columns = ["name", *keys, "seed", "partition", *_RESULT_COLUMNS, *_COUNTS]
    return pd.DataFrame(rows).reindex(columns=columns)

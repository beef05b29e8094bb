"""Training, evaluation, cross-validation and sweeps (Titos & Garcia 2022, Tables I and III).

Every function takes a features Dataset (:func:`rnnscope.features.compute`, :func:`rnnscope.data.from_features`
or a run) and a model from :mod:`rnnscope.models`. Labels are matched to the model's classes **by name**; padded
frames (past ``length``) and unknown frames (label -1) never enter the loss or the scores. The model's input
normaliser is fitted on the training records only, and so are class weights and early-stopping splits.

The steps of :func:`fit` (each overridable by passing your own objects):

1. split off validation records (``validation``), stratified by the rarest class a record holds;
2. fit the model's normaliser on the training records' valid frames;
3. class weights from the training frames (``"balanced"``: ``n_frames / (n_classes * count_c)``);
4. each epoch: shuffle records (seeded), pad a batch, cross-entropy on valid frames, Adam step;
5. validation loss/accuracy, early stopping on validation loss with the best weights restored.
"""
from __future__ import annotations

import copy
import itertools
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn
from torch.nn import functional as TF

from ._device import resolve_device
from ._seed import seed_everything
from ._validation import check_choice, check_positive
from .data._records import select_records

__all__ = [
    "fit",
    "evaluate",
    "predict",
    "Evaluation",
    "record_folds",
    "cross_validate",
    "sweep",
    "frame_baseline",
]


# --------------------------------------------------------------------------------------------- data access


@dataclass
class _Records:
    """Per-record arrays taken out of a features Dataset, labels in the model's class order."""

    x: list[np.ndarray]  # (T, F) float32
    y: list[np.ndarray]  # (T,) int64, -1 unknown
    class_names: list[str]
    event_ids: list[str] = field(default_factory=list)

    def subset(self, idx: Iterable[int]) -> _Records:
        idx = list(idx)
        return _Records([self.x[i] for i in idx], [self.y[i] for i in idx], self.class_names,
                        [self.event_ids[i] for i in idx])

    def __len__(self) -> int:
        return len(self.x)


def _records(model, dataset: xr.Dataset, func: str) -> _Records:
    if not isinstance(dataset, xr.Dataset):
        raise TypeError(f"{func}: expected a features Dataset (rnnscope.features.compute); got {type(dataset).__name__}.")
    for name in ("features", "label"):
        if name not in dataset:
            raise ValueError(
                f"{func}: the Dataset has no {name!r} variable. Compute features first: "
                "frames = rnnscope.features.compute(records)."
            )
    n_events = dataset.sizes.get("event", 0)
    if n_events == 0:
        raise ValueError(f"{func}: the Dataset holds no record (event dimension is empty).")
    n_features = dataset.sizes["feature"]
    if n_features != model.input_size:
        raise ValueError(
            f"{func}: the model expects {model.input_size} features per frame but the Dataset has {n_features}. "
            "Compute features with the preset the model was trained on, or build the model with "
            f"input_size={n_features}."
        )
    data_names = list(dataset.attrs.get("class_names", model.class_names))
    lengths = np.asarray(dataset["length"].values) if "length" in dataset.coords else None
    ids = [str(e) for e in (dataset["event_id"].values if "event_id" in dataset.coords else range(n_events))]
    xs, ys = [], []
    for i in range(n_events):
        n = int(lengths[i]) if lengths is not None else dataset.sizes["time"]
        x = np.asarray(dataset["features"][i, :n].values, dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{func}: record {ids[i]!r} has NaN or infinite features inside its length ({n} frames).")
        xs.append(x)
        ys.append(model.remap_labels(np.asarray(dataset["label"][i, :n].values, dtype=np.int64), data_names))
    return _Records(xs, ys, list(model.class_names), ids)


def _batches(records: _Records, batch_size: int, rng: np.random.Generator | None):
    """Yield (padded x (B, T, F), padded y (B, T) with -1 padding) in shuffled (or given) order."""
    order = rng.permutation(len(records)) if rng is not None else np.arange(len(records))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        t_max = max(len(records.x[i]) for i in idx)
        x = np.zeros((len(idx), t_max, records.x[idx[0]].shape[1]), dtype=np.float32)
        y = np.full((len(idx), t_max), -1, dtype=np.int64)
        for row, i in enumerate(idx):
            x[row, : len(records.x[i])] = records.x[i]
            y[row, : len(records.y[i])] = records.y[i]
        yield idx, torch.from_numpy(x), torch.from_numpy(y)


def _stratify_key(y: np.ndarray, counts: np.ndarray) -> int:
    """The rarest class (over the data set) a record holds; -1 for none."""
    present = np.unique(y[y >= 0])
    return int(present[np.argmin(counts[present])]) if present.size else -1


def record_folds(labels: Sequence[np.ndarray], folds: int, seed: int = 0) -> list[np.ndarray]:
    """Partition records into ``folds`` test sets, never splitting a record, stratified by rare classes.

    Records are grouped by the rarest class they hold and each group is dealt round-robin (after a seeded
    shuffle) over the folds, so every class present in at least ``folds`` records appears in every fold.

    Examples
    --------
    >>> labels = [np.array([0, 1]), np.array([0]), np.array([0, 1]), np.array([0])]
    >>> [sorted(f.tolist()) for f in record_folds(labels, 2, seed=0)]
    [[0, 1], [2, 3]]
    """
    check_positive(folds, name="folds", func="record_folds", integer=True)
    if folds < 2 or folds > len(labels):
        raise ValueError(
            f"The 'folds' parameter of record_folds must be between 2 and the number of records ({len(labels)}). "
            f"Got {folds} instead."
        )
    rng = np.random.default_rng(seed)
    n_classes = max((int(y.max()) for y in labels if y.size), default=0) + 1
    counts = np.bincount(np.concatenate([y[y >= 0] for y in labels]), minlength=n_classes) if labels else []
    keys = np.array([_stratify_key(np.asarray(y), counts) for y in labels])
    assignment = np.empty(len(labels), dtype=int)
    offset = 0
    for key in sorted(set(keys.tolist()), key=lambda k: (counts[k] if k >= 0 else np.inf)):
        members = rng.permutation(np.flatnonzero(keys == key))
        assignment[members] = (offset + np.arange(members.size)) % folds
        offset += members.size
    return [np.flatnonzero(assignment == f) for f in range(folds)]


# --------------------------------------------------------------------------------------------- fit


def _class_weights(records: _Records, how, n_classes: int) -> torch.Tensor | None:
    if how is None:
        return None
    if isinstance(how, str):
        check_choice(how, ("balanced",), name="class_weights", func="fit")
        counts = np.bincount(np.concatenate([y[y >= 0] for y in records.y]), minlength=n_classes).astype(float)
        total = counts.sum()
        weights = np.where(counts > 0, total / (n_classes * np.maximum(counts, 1)), 1.0)
        return torch.tensor(weights, dtype=torch.float32)
    weights = np.asarray(how, dtype=np.float32)
    if weights.shape != (n_classes,):
        raise ValueError(f"The 'class_weights' parameter of fit must be 'balanced', None or {n_classes} numbers.")
    return torch.from_numpy(weights)


def _loss_and_hits(model, x, y, weights, device):
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    logits = model(x)
    loss = TF.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), weight=weights, ignore_index=-1)
    valid = y >= 0
    hits = (logits.argmax(-1) == y)[valid].sum()
    return loss, hits, valid.sum()


def _split_validation(records: _Records, validation, seed: int):
    if validation is None or validation == 0:
        return records, None
    if isinstance(validation, xr.Dataset):
        return records, validation
    if not (isinstance(validation, float) and 0 < validation < 1):
        raise ValueError(
            "The 'validation' parameter of fit must be a fraction of the training records in (0, 1), a features "
            f"Dataset, or None. Got {validation!r} instead."
        )
    n_val = max(1, int(round(validation * len(records))))
    if n_val >= len(records):
        raise ValueError(f"fit: validation={validation} leaves no training record out of {len(records)}.")
    folds = record_folds(records.y, max(2, int(round(1 / validation))), seed=seed)
    val_idx = folds[0][:n_val] if len(folds[0]) >= n_val else folds[0]
    train_idx = np.setdiff1d(np.arange(len(records)), val_idx)
    return records.subset(train_idx), records.subset(val_idx)


def fit(
    model: nn.Module,
    dataset: xr.Dataset,
    *,
    epochs: int = 30,
    batch_size: int = 16,
    lr: float = 3e-3,
    class_weights: str | Sequence[float] | None = "balanced",
    validation: float | xr.Dataset | None = None,
    early_stopping: int | None = None,
    grad_clip: float | None = 1.0,
    seed: int = 0,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Train ``model`` on the records of ``dataset`` and return the history (one row per epoch).

    Parameters
    ----------
    model : RNNClassifier or TCNClassifier
        Trained in place; its normaliser is fitted on the training records first.
    dataset : xarray.Dataset
        Features Dataset (``features``, ``label``, ``length``, ``attrs["class_names"]``).
    epochs, batch_size, lr : int, int, float
        Passes over the training records, records per batch, Adam learning rate.
    class_weights : "balanced", None or sequence of float
        Cross-entropy weights per class (model order); ``"balanced"`` counts the training frames.
    validation : float, Dataset or None
        Fraction of records held out (stratified by record), or a separate Dataset.
    early_stopping : int or None
        Stop after this many epochs without a lower validation loss and restore the best weights.
    grad_clip : float or None
        Clip the gradient norm (recurrent nets on long records need it).
    seed : int
        Seeds batch order and dropout; on the CPU the same seed and thread count give identical weights.
    device : str
        ``"auto"`` picks CUDA, then MPS, then CPU.
    threads : int, optional
        PyTorch CPU threads (pinned for reproducibility).
    progress : bool
        Show a tqdm progress bar (a widget in Jupyter) with loss and accuracy.

    Returns
    -------
    pandas.DataFrame
        Columns ``epoch``, ``loss``, ``accuracy``, ``seconds`` and, with validation, ``val_loss``,
        ``val_accuracy``. The same summary is kept in ``model.info["training"]`` (saved with the model).

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=6, seed=0))
    >>> model = rnnscope.models.RNNClassifier("lstm", 48, 8, 5)
    >>> history = rnnscope.train.fit(model, frames, epochs=2, progress=False)
    >>> list(history.columns)
    ['epoch', 'loss', 'accuracy', 'seconds']
    """
    func = "fit"
    check_positive(epochs, name="epochs", func=func, integer=True)
    check_positive(batch_size, name="batch_size", func=func, integer=True)
    check_positive(lr, name="lr", func=func)
    if early_stopping is not None:
        check_positive(early_stopping, name="early_stopping", func=func, integer=True)
        if validation is None:
            raise ValueError("fit: early_stopping needs validation data; pass validation=0.2 (a fraction of records).")
    previous_threads = torch.get_num_threads()
    try:
        return _fit(model, dataset, epochs, batch_size, lr, class_weights, validation, early_stopping, grad_clip,
                    seed, device, threads, progress, func)
    finally:  # ``threads`` pins this call only, never the caller's session
        torch.set_num_threads(previous_threads)


def _fit(model, dataset, epochs, batch_size, lr, class_weights, validation, early_stopping, grad_clip, seed, device,
         threads, progress, func):
    rng = seed_everything(seed, threads)
    device = resolve_device(device)
    records = _records(model, dataset, func)
    train_records, val = _split_validation(records, validation, seed)
    val_records = _records(model, val, func) if isinstance(val, xr.Dataset) else val
    model.fit_normalizer(train_records.x)
    n_classes = len(model.class_names)
    weights = _class_weights(train_records, class_weights, n_classes)
    model.to(device)
    weights = weights.to(device) if weights is not None else None
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)

    rows, best, best_loss, stale = [], None, math.inf, 0
    bar = _progress(range(1, epochs + 1), progress, desc=f"fit {type(model).__name__}")
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        total_loss, total_hits, total_frames = 0.0, 0, 0
        for _, x, y in _batches(train_records, batch_size, rng):
            optimiser.zero_grad(set_to_none=True)
            loss, hits, n = _loss_and_hits(model, x, y, weights, device)
            loss.backward()
            if grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimiser.step()
            total_loss += loss.item() * int(n)
            total_hits += int(hits)
            total_frames += int(n)
        row = {"epoch": epoch, "loss": total_loss / max(total_frames, 1), "accuracy": total_hits / max(total_frames, 1)}
        if val_records is not None:
            row["val_loss"], row["val_accuracy"] = _score(model, val_records, weights, batch_size, device)
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        if hasattr(bar, "set_postfix"):
            bar.set_postfix({k: round(v, 4) for k, v in row.items() if k in ("loss", "accuracy", "val_accuracy")})
        if early_stopping is not None:
            if row["val_loss"] < best_loss - 1e-6:
                best_loss, stale, best = row["val_loss"], 0, copy.deepcopy(model.state_dict())
            else:
                stale += 1
                if stale >= early_stopping:
                    break
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    history = pd.DataFrame(rows)
    columns = ["epoch", "loss", "accuracy"] + (["val_loss", "val_accuracy"] if val_records is not None else []) + ["seconds"]
    history = history[columns]
    model.info["training"] = {
        "epochs_run": int(len(rows)),
        "best_epoch": int(history["val_loss"].idxmin() + 1) if val_records is not None else int(len(rows)),
        "final_loss": float(history["loss"].iloc[-1]),
        "final_accuracy": float(history["accuracy"].iloc[-1]),
        "train_records": len(train_records),
        "train_event_ids": train_records.event_ids,
        "seed": int(seed),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "class_weights": None if weights is None else [float(w) for w in weights.cpu()],
        "train_seconds": float(history["seconds"].sum()),
    }
    return history


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False)


@torch.no_grad()
def _score(model, records: _Records, weights, batch_size, device) -> tuple[float, float]:
    model.eval()
    total_loss, hits, frames = 0.0, 0, 0
    for _, x, y in _batches(records, batch_size, None):
        loss, h, n = _loss_and_hits(model, x, y, weights, device)
        total_loss += loss.item() * int(n)
        hits += int(h)
        frames += int(n)
    return total_loss / max(frames, 1), hits / max(frames, 1)


# --------------------------------------------------------------------------------------------- predict / evaluate


@torch.no_grad()
def predict(model: nn.Module, dataset: xr.Dataset, *, batch_size: int = 32, device: str = "auto") -> list[np.ndarray]:
    """Class probabilities ``(length, n_classes)`` per record, classes in the model's order."""
    device = resolve_device(device)
    records = _records(model, dataset, "predict")
    model.to(device).eval()
    out: list[np.ndarray] = [None] * len(records)  # type: ignore[list-item]
    for idx, x, _ in _batches(records, batch_size, None):
        prob = torch.softmax(model(x.to(device)), dim=-1).cpu().numpy()
        for row, i in enumerate(idx):
            out[i] = prob[row, : len(records.x[i])]
    return out


@dataclass
class Evaluation:
    """Scores of a model on a data set (frame level and event level)."""

    accuracy: float
    macro_f1: float
    per_class: pd.DataFrame  # index class_name; precision, recall, f1, support (frames)
    confusion: pd.DataFrame  # rows true class_name, columns predicted class_name (frame counts)
    events: pd.DataFrame  # one row per true segment: detected, onset_error_s
    event_scores: pd.DataFrame  # per class: segments, detected, detection_rate, mean |onset error| (s)

    def summary(self) -> dict:
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "detection_rate": float(self.events["detected"].mean()) if len(self.events) else float("nan")}

    def __repr__(self) -> str:
        return (f"Evaluation(accuracy={self.accuracy:.4f}, macro_f1={self.macro_f1:.4f}, "
                f"segments={len(self.events)})\n{self.per_class.round(3)}")


def evaluate(model: nn.Module, dataset: xr.Dataset, *, batch_size: int = 32, device: str = "auto") -> Evaluation:
    """Frame-level and event-level scores of ``model`` on ``dataset``.

    Frame level (valid frames with a known label): ``accuracy``, per-class precision / recall / F1 and their
    macro average, confusion matrix labelled by class names.

    Event level (the segment table): a true segment is *detected* when a predicted segment (a run of frames with
    one predicted class) of the same class overlaps it in time; its onset error is the start of the first such
    predicted segment minus the true start, in seconds (frame centre times).
    """
    probs = predict(model, dataset, batch_size=batch_size, device=device)
    records = _records(model, dataset, "evaluate")
    names = list(model.class_names)
    n_classes = len(names)
    pred = np.concatenate([p.argmax(-1) for p in probs]) if probs else np.zeros(0, int)
    true = np.concatenate(records.y)
    known = true >= 0
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (true[known], pred[known]), 1)
    tp = np.diag(confusion).astype(float)
    # scikit-learn's zero_division=0: a class never predicted has precision 0, never seen recall 0
    predicted, seen = confusion.sum(0), confusion.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    per_class = pd.DataFrame({"precision": precision, "recall": recall, "f1": f1, "support": confusion.sum(1)},
                             index=pd.Index(names, name="class_name"))
    present = confusion.sum(1) > 0
    events = _event_table(dataset, probs, names)
    grouped = events.groupby("class_name", sort=False)
    event_scores = pd.DataFrame({
        "segments": grouped.size(),
        "detected": grouped["detected"].sum(),
        "detection_rate": grouped["detected"].mean(),
        "mean_abs_onset_error_s": grouped["onset_error_s"].apply(lambda s: s.abs().mean()),
    }).reindex([n for n in names if n in set(events["class_name"])]) if len(events) else pd.DataFrame()
    return Evaluation(
        accuracy=float(tp.sum() / max(known.sum(), 1)),
        macro_f1=float(f1[present].mean()) if present.any() else float("nan"),
        per_class=per_class,
        confusion=pd.DataFrame(confusion, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted")),
        events=events,
        event_scores=event_scores,
    )


def predicted_segments(pred: np.ndarray, times: np.ndarray, frame_step: float) -> pd.DataFrame:
    """Runs of one predicted class -> segments with start/end times (s; a frame spans its centre +- step/2)."""
    if pred.size == 0:
        return pd.DataFrame(columns=["class", "start", "end"])
    change = np.flatnonzero(np.diff(pred)) + 1
    starts, ends = np.r_[0, change], np.r_[change, pred.size]
    return pd.DataFrame({"class": pred[starts], "start": times[starts] - frame_step / 2,
                         "end": times[ends - 1] + frame_step / 2})


def _event_table(dataset: xr.Dataset, probs: list[np.ndarray], names: list[str]) -> pd.DataFrame:
    if "segment_event" not in dataset:
        return pd.DataFrame(columns=["event", "class_name", "start", "end", "detected", "onset_error_s"])
    data_names = list(dataset.attrs.get("class_names", names))
    times = np.asarray(dataset["time"].values)
    step = float(times[1] - times[0]) if times.size > 1 else 0.5
    seg_event = np.asarray(dataset["segment_event"].values)
    seg_class = np.asarray(dataset["segment_class"].values)
    seg_start = np.asarray(dataset["segment_start"].values)
    seg_end = np.asarray(dataset["segment_end"].values)
    rows = []
    cache: dict[int, pd.DataFrame] = {}
    for e, c, a, b in zip(seg_event, seg_class, seg_start, seg_end):
        e = int(e)
        if e not in cache:
            p = probs[e]
            cache[e] = predicted_segments(p.argmax(-1), times[: len(p)], step)
        segs = cache[e]
        name = data_names[int(c)]
        if name not in names:
            continue
        hit = segs[(segs["class"] == names.index(name)) & (segs["start"] < b) & (segs["end"] > a)]
        rows.append({"event": e, "class_name": name, "start": float(a), "end": float(b), "detected": len(hit) > 0,
                     "onset_error_s": float(hit["start"].iloc[0] - a) if len(hit) else np.nan})
    return pd.DataFrame(rows)


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
    proto = make_model()
    records = _records(proto, dataset, "cross_validate")
    parts = record_folds(records.y, folds, seed=seed)
    payloads = []
    for k, test_idx in enumerate(parts):
        train_idx = np.setdiff1d(np.arange(len(records)), test_idx)
        payloads.append({"make_model": make_model, "dataset": dataset, "train_idx": train_idx, "test_idx": test_idx,
                         "seed": seed, "threads": threads, "device": device, "fit_kwargs": fit_kwargs,
                         "return_model": return_models})
    rows = _run_tasks(_cv_fold_task, payloads, executor, progress, "cross_validate")
    table = pd.DataFrame(rows, index=pd.Index(range(1, folds + 1), name="partition"))
    numeric = table.drop(columns=["model"], errors="ignore")
    table.loc["average"] = numeric.mean()
    return table


def _cv_fold_task(payload: dict) -> dict:
    """Train one model on one fold and score it (module level so any Executor can pickle it)."""
    previous_threads = torch.get_num_threads()
    try:
        return _cv_fold(payload)
    finally:  # serial sweeps must not leave the session on the task's thread count
        torch.set_num_threads(previous_threads)


def _cv_fold(payload: dict) -> dict:
    dataset, train_idx, test_idx = payload["dataset"], payload["train_idx"], payload["test_idx"]
    seed_everything(payload["seed"], payload["threads"])
    model = payload["make_model"]()
    t0 = time.perf_counter()
    fit(model, select_records(dataset, train_idx), seed=payload["seed"], threads=payload["threads"],
        device=payload["device"], progress=False, **payload["fit_kwargs"])
    seconds = time.perf_counter() - t0
    scores = evaluate(model, select_records(dataset, test_idx), device=payload["device"])
    row = {"accuracy": scores.accuracy, "macro_f1": scores.macro_f1,
           "detection_rate": scores.summary()["detection_rate"],
           "n_parameters": int(sum(p.numel() for p in model.parameters())), "train_time_s": seconds}
    if payload.get("return_model"):
        row["model"] = model.cpu()
    return row


def _run_tasks(task, payloads: list, executor: Executor | None, progress: bool, desc: str) -> list:
    """Run tasks serially or on ``executor``, in order, with one progress bar."""
    if executor is None:
        return [task(p) for p in _progress(payloads, progress, desc)]
    futures = [executor.submit(task, p) for p in payloads]
    return [f.result() for f in _progress(futures, progress, desc)]


_MODEL_KEYS = ("cell", "hidden_size", "num_layers", "residual", "dropout")


def _make_rnn(config: Mapping, input_size: int, class_names: list[str]):
    from .models import RNNClassifier, TCNClassifier

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
    rows = _run_tasks(_cv_fold_task, payloads, executor, progress, "sweep")
    return pd.DataFrame([{**m, **r} for m, r in zip(meta, rows)])


def frame_baseline(dataset: xr.Dataset, train_idx: np.ndarray, test_idx: np.ndarray, *, seed: int = 0) -> float:
    """Accuracy of a classifier that sees one frame at a time (no temporal context).

    A multinomial logistic regression on standardised single-frame features with balanced class weights:
    the floor that recurrent models must beat to show that temporal context matters.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def frames(idx):
        xs, ys = [], []
        for i in idx:
            n = int(dataset["length"][i])
            y = np.asarray(dataset["label"][i, :n].values)
            keep = y >= 0
            xs.append(np.asarray(dataset["features"][i, :n].values)[keep])
            ys.append(y[keep])
        return np.concatenate(xs), np.concatenate(ys)

    x_train, y_train = frames(train_idx)
    x_test, y_test = frames(test_idx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, class_weight="balanced",
                                                                 random_state=seed))
        clf.fit(x_train, y_train)
    return float((clf.predict(x_test) == y_test).mean())


# --------------------------------------------------------------------------------------------- several seeds

import threading  # noqa: E402

#: Held while a task seeds the global RNGs and builds its model: with a thread-based Executor, tasks share
#: PyTorch's global generator, and the lock keeps every model's initial weights those of its own seed.
_INIT_LOCK = threading.Lock()


def _fit_seed_task(payload: dict) -> nn.Module:
    """Seed, build and train one model (module level so any Executor can pickle it)."""
    seed, threads = payload["seed"], payload["threads"]
    with _INIT_LOCK:
        seed_everything(seed, threads)
        model = payload["make_model"]()
    fit(model, payload["dataset"], seed=seed, threads=threads, device=payload["device"], progress=False,
        **payload["fit_kwargs"])
    return model.cpu()


def fit_many(
    make_model: Callable[[], nn.Module],
    dataset: xr.Dataset,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    executor: Executor | None = None,
    threads: int | None = 1,
    device: str = "cpu",
    progress: bool = True,
    **fit_kwargs,
) -> list[nn.Module]:
    """Train one model per seed, so every claim about a trained network can be checked over seeds.

    For each seed ``s``: :func:`rnnscope.seed_everything` (``s``, ``threads``), then ``make_model()`` (so the
    initial weights differ by seed), then :func:`fit` with ``seed=s`` (batch order, validation split, dropout).
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
        Training device (default ``"cpu"``, where results are bit-identical).
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
    >>> make = partial(rnnscope.models.RNNClassifier, "gru", 48, 4, 5)
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
    return _run_tasks(_fit_seed_task, payloads, executor, progress, func)


from ._controls import compare_controls, shuffle_labels, untrained_like  # noqa: E402  (controls use fit)

__all__ += ["fit_many", "untrained_like", "shuffle_labels", "compare_controls"]

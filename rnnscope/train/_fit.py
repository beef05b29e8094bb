"""Training one model on a features Dataset: :func:`fit` and :func:`predict`.

Labels are matched to the model's classes **by name**; padded frames (past ``length``) and unknown frames
(label -1) never enter the loss. The model's input normaliser is fitted on the training records only, and so are
class weights and early-stopping splits.

The steps of :func:`fit` (each overridable by passing your own objects):

1. split off validation records (``validation``), stratified by the rarest class a record holds;
2. fit the model's normaliser on the training records' valid frames;
3. class weights from the training frames (``"balanced"``: ``n_frames / (n_classes * count_c)``);
4. each epoch: shuffle records (seeded), pad a batch, cross-entropy on valid frames, Adam step;
5. validation loss/accuracy, early stopping on validation loss with the best weights restored.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn
from torch.nn import functional as TF

from .._device import resolve_device
from .._seed import seeded
from .._tasks import _progress
from .._validation import FILL_DATASET, check_choice, check_positive, first_nan_frames, warn_nan_frames
from ..features._contract import check_contract, input_contract
from ._records import _batches, _Records, _records, _split_validation

__all__ = ["fit", "predict"]


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
    threads: int | None = 1,
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
        Cross-entropy weights per class (model order); ``"balanced"`` (default) weighs class ``c`` by
        ``n_frames / (n_classes x count_c)`` on the training frames, so every class weighs as much in the loss as
        the background. Volcano-seismic data are dominated by one class (about half the frames are SIL, a few %
        VTE or HYB): unweighted, a model can score a high frame accuracy by rarely predicting the rare classes.
        The weighting is meant to trade frame accuracy (dominated by the frequent classes) for recall on the rare
        ones (balanced accuracy); whether it pays depends on the data and the model, so measure both (on the
        synthetic data it costs the sequence models about 10 points of frame accuracy for no measurable gain in
        balanced accuracy: ``docs/results.md``). Pass None to optimise frame accuracy, e.g. to compare with the
        paper's Tables I and III, which report frame accuracy only.
    validation : float, Dataset or None
        Fraction of records held out (stratified by record), or a separate Dataset.
    early_stopping : int or None
        Stop after this many epochs without a lower validation loss and restore the best weights.
    grad_clip : float or None
        Clip the gradient norm (recurrent nets on long records need it).
    seed : int
        Seeds batch order, the validation split and dropout; on the CPU the same seed and thread count give identical
        weights. Only this call is seeded: the global Python, NumPy and PyTorch generators are restored afterwards
        (call :func:`rnnscope.seed_everything` to seed your session).
    device : str
        ``"auto"`` picks CUDA, then MPS, then CPU.
    threads : int or None
        PyTorch CPU threads during this call (default 1: the same seed gives the same weights on any machine; the
        previous count is restored); None leaves the current setting.
    progress : bool
        Show a tqdm progress bar (a widget in Jupyter) with loss and accuracy.

    Returns
    -------
    pandas.DataFrame
        Columns ``epoch``, ``loss``, ``accuracy``, ``seconds`` and, with validation, ``val_loss``,
        ``val_accuracy``. The same summary is kept in ``model.info["training"]`` (saved with the model).

    Notes
    -----
    The model remembers its input (:meth:`~rnnscope.models.ModelBase.set_input`): ``model.sampling_rate``,
    ``model.feature_config`` and ``model.preprocessing`` of ``dataset``, and its ``attrs["background"]`` as
    ``model.background``; they are saved with the model, and capture, evaluation and monitoring refuse features
    computed otherwise. A model that already holds them (trained before) refuses such features here too.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=6, seed=0))
    >>> model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5)
    >>> history = rnnscope.train.fit(model, frames, epochs=2, progress=False)
    >>> list(history.columns)
    ['epoch', 'loss', 'accuracy', 'seconds']
    >>> model.sampling_rate, model.feature_config["preset"], model.background
    (100.0, 'paper', 'SIL')
    """
    func = "fit"
    check_positive(epochs, name="epochs", func=func, integer=True)
    check_positive(batch_size, name="batch_size", func=func, integer=True)
    check_positive(lr, name="lr", func=func)
    if early_stopping is not None:
        check_positive(early_stopping, name="early_stopping", func=func, integer=True)
        if validation is None:
            raise ValueError("fit: early_stopping needs validation data; pass validation=0.2 (a fraction of records).")
    # ``seed`` and ``threads`` hold for this call only: the caller's generators and thread count are restored
    with seeded(seed, threads) as rng:
        return _fit(model, dataset, epochs, batch_size, lr, class_weights, validation, early_stopping, grad_clip,
                    seed, device, progress, func, rng)


def _fit(model, dataset, epochs, batch_size, lr, class_weights, validation, early_stopping, grad_clip, seed, device,
         progress, func, rng):
    device = resolve_device(device)
    records = _records(model, dataset, func)
    train_records, val = _split_validation(records, validation, seed)
    if isinstance(val, xr.Dataset):  # validation features must be computed as the training features are
        check_contract(input_contract(dataset.attrs), input_contract(val.attrs), func=func,
                       there="the training data are", here="the validation features were computed")
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
        loss, accuracy = _train_epoch(model, train_records, optimiser, weights, batch_size=batch_size,
                                      grad_clip=grad_clip, rng=rng, device=device)
        row = {"epoch": epoch, "loss": loss, "accuracy": accuracy}
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
    if hasattr(model, "set_input"):
        model.set_input(dataset)  # the input contract: sampling rate, feature config, background (saved with it)
    history = pd.DataFrame(rows)
    columns = (
        ["epoch", "loss", "accuracy"] + (["val_loss", "val_accuracy"] if val_records is not None else []) + ["seconds"]
    )
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


def _train_epoch(model, records: _Records, optimiser, weights, *, batch_size, grad_clip, rng,
                 device) -> tuple[float, float]:
    """One epoch of training, the loop :func:`fit` and :func:`rnnscope.train.retrain` share: the records in an
    order drawn from ``rng``, padded batches, weighted cross-entropy on valid frames, gradient clipping, one optimiser
    step per batch. Returns the mean loss and the accuracy over the epoch's valid frames."""
    model.train()
    total_loss, total_hits, total_frames = 0.0, 0, 0
    for _, x, y in _batches(records, batch_size, rng):
        optimiser.zero_grad(set_to_none=True)
        loss, hits, n = _loss_and_hits(model, x, y, weights, device)
        loss.backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimiser.step()
        total_loss += loss.item() * int(n)
        total_hits += int(hits)
        total_frames += int(n)
    return total_loss / max(total_frames, 1), total_hits / max(total_frames, 1)


@torch.no_grad()
def _score(model, records: _Records, weights, batch_size, device) -> tuple[float, float]:
    """Mean loss and accuracy over the valid frames of ``records`` (evaluation mode, no gradients)."""
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
def predict(model: nn.Module, dataset: xr.Dataset, *, batch_size: int = 32,
            device: str | torch.device = "auto") -> list[np.ndarray]:
    """Class probabilities ``(length, n_classes)`` per record, classes in the model's order.

    Features computed at another sampling rate or with other settings than the model's training features are
    refused (see :func:`fit`).

    Parameters
    ----------
    model : RNNClassifier or TCNClassifier
        The model (put in eval mode on ``device``).
    dataset : xarray.Dataset
        A features Dataset (:func:`rnnscope.features.compute`).
    batch_size : int
        Records per forward pass.
    device : str
        ``"auto"`` (a GPU when there is one), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    list of numpy.ndarray
        One ``(length, n_classes)`` float array per record, in the records' order; each row sums to 1.

    Raises
    ------
    TypeError
        When ``dataset`` is not an xarray Dataset.
    ValueError
        When it holds no record, no ``features`` or ``label``, or features that do not match the model's input
        contract (size, sampling rate, feature settings).

    Warns
    -----
    rnnscope.errors.NumericalWarning
        When records hold NaN features inside their length: their probabilities are NaN from the first such frame
        on (as PyTorch's own modules give); the warning names the records and frames and how to fill them. Padding
        past a record's length is never read.
    rnnscope.errors.ClassMismatchError
        When its class names are not the model's.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5)
    >>> probs = rnnscope.train.predict(model, frames)
    >>> [p.shape for p in probs] == [(int(n), 5) for n in frames.length.values]
    True
    >>> bool(np.allclose(probs[0].sum(axis=1), 1.0, atol=1e-5))
    True
    """
    device = resolve_device(device)
    records = _records(model, dataset, "predict", allow_nan=True)
    first = np.array([first_nan_frames(x[None])[0] for x in records.x], dtype=np.int64)
    model.to(device).eval()
    out: list[np.ndarray] = [None] * len(records)  # type: ignore[list-item]
    for idx, x, _ in _batches(records, batch_size, None):
        prob = torch.softmax(model(x.to(device)), dim=-1).cpu().numpy()
        for row, i in enumerate(idx):
            out[i] = prob[row, : len(records.x[i])]
    warn_nan_frames("predict", records.event_ids, first, fill=FILL_DATASET)
    return out





"""Records of a features Dataset as training sees them: valid frames, labels in the model's class order, batches,
record-level folds and validation splits."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import xarray as xr

from .._validation import check_positive

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
    if hasattr(model, "check_input"):
        model.check_input(dataset, func)  # sampling rate and feature configuration of the training features
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


def _split_validation(records: _Records, validation, seed: int):
    if isinstance(validation, xr.Dataset):  # first: `Dataset == 0` would be a (truthy) Dataset
        return records, validation
    if validation is None or validation == 0:
        return records, None
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

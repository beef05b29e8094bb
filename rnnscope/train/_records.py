"""Records of a features Dataset as training sees them: valid frames, labels in the model's class order, batches,
record-level folds and validation splits."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import xarray as xr

from .._validation import FILL_DATASET, check_positive

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


def _records(model, dataset: xr.Dataset, func: str, *, allow_nan: bool = False) -> _Records:
    """The records of ``dataset`` (their valid frames) for ``model``; NaN or infinite features inside a record's
    length are refused unless ``allow_nan`` (:func:`predict`: they propagate, as in PyTorch, with a warning)."""
    if not isinstance(dataset, xr.Dataset):
        raise TypeError(
            f"{func}: expected a features Dataset (rnnscope.features.compute); got {type(dataset).__name__}."
        )
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
        if not allow_nan and not np.all(np.isfinite(x)):
            frame = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            raise ValueError(
                f"{func}: record {ids[i]!r} has NaN or infinite features inside its length ({n} frames; the first "
                f"at frame {frame}). Fill them (e.g. with the training mean: {FILL_DATASET}) or cut the record.")
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
    folds = record_folds(records.y, folds=max(2, int(round(1 / validation))), seed=seed)
    val_idx = folds[0][:n_val] if len(folds[0]) >= n_val else folds[0]
    train_idx = np.setdiff1d(np.arange(len(records)), val_idx)
    return records.subset(train_idx), records.subset(val_idx)


def _stratify_key(y: np.ndarray, counts: np.ndarray) -> int:
    """The rarest class (over the data set) a record (or group of records) holds; -1 for none."""
    present = np.unique(y[y >= 0])
    return int(present[np.argmin(counts[present])]) if present.size else -1


#: Group names derived from a record's coordinates when the Dataset has no coordinate of that name.
DERIVED_GROUPS = {"station": ("trace_id", "the network and station of the SEED id (NET.STA)"),
                  "day": ("starttime", "the UTC date of the record's first sample")}


def _derived(name: str, values: np.ndarray) -> np.ndarray:
    if name == "station":
        return np.array([".".join(str(v).split(".")[:2]) if v else "" for v in values], dtype=object)
    return np.array([str(v)[:10] if v else "" for v in values], dtype=object)


def _group_keys(dataset: xr.Dataset | None, groups, n: int, func: str) -> np.ndarray:
    """One group key per record: ``groups`` itself, a coordinate of ``dataset`` or a name of :data:`DERIVED_GROUPS`."""
    if isinstance(groups, str):
        if dataset is None:
            raise ValueError(
                f"The 'groups' parameter of {func} names {groups!r}, which needs the features Dataset: pass the "
                f"Dataset instead of the labels ({func}(frames, folds, groups={groups!r})), or one key per record."
            )
        if groups in dataset.variables and dataset[groups].dims == ("event",):
            keys = np.asarray(dataset[groups].values, dtype=object)
        elif groups in DERIVED_GROUPS and DERIVED_GROUPS[groups][0] in dataset.coords:
            source = DERIVED_GROUPS[groups][0]
            keys = _derived(groups, np.asarray(dataset[source].values, dtype=object))
        else:
            along = [str(v) for v in dataset.variables if dataset[v].dims == ("event",)]
            raise ValueError(
                f"The 'groups' parameter of {func} names {groups!r}, but the Dataset has no such variable along "
                f"'event' (it has {along}); 'station' and 'day' are derived from 'trace_id' and 'starttime' (records "
                "read with rnnscope.data.from_obspy). Add a coordinate (frames.assign_coords(survey=('event', "
                "keys))) or pass one key per record."
            )
    else:
        keys = np.asarray(list(groups) if not isinstance(groups, np.ndarray) else groups, dtype=object)
        if keys.ndim != 1 or keys.size != n:
            raise ValueError(f"The 'groups' parameter of {func} must hold one key per record ({n}). Got "
                             f"{keys.size} keys instead.")
    missing = [i for i, k in enumerate(keys) if k is None or (isinstance(k, float) and np.isnan(k)) or k == ""]
    if missing:
        raise ValueError(f"{func}: {len(missing)} record(s) have no group (positions {missing[:5]}"
                         f"{' ...' if len(missing) > 5 else ''}: None, NaN or an empty string); give every record "
                         "a group key.")
    return keys


def _labels_of(dataset: xr.Dataset) -> list[np.ndarray]:
    lengths = np.asarray(dataset["length"].values) if "length" in dataset.coords else None
    return [np.asarray(dataset["label"].values[i, : (int(lengths[i]) if lengths is not None else None)])
            for i in range(dataset.sizes["event"])]


def record_folds(labels: Sequence[np.ndarray] | xr.Dataset, *, folds: int = 4, seed: int = 0,
                 groups: str | Sequence | None = None) -> list[np.ndarray]:
    """Partition records into ``folds`` test sets, never splitting a record (or a group), stratified by rare classes.

    Units (records, or groups of records with ``groups``) are sorted into strata by the rarest class they hold;
    within a stratum, after a seeded shuffle and largest units first, each unit goes to the fold with the fewest
    records of that stratum (then the fewest records overall), so every class present in at least ``folds`` units
    appears in every fold and folds hold about as many records. Without groups this is a round-robin deal of each
    stratum's shuffled records.

    Parameters
    ----------
    labels : list of arrays or xarray.Dataset
        Each record's frame labels (-1: unknown), or a features Dataset (its ``label`` within ``length``).
    folds : int
        Number of test partitions, from 2 to the number of records (or groups); default 4, as
        :func:`cross_validate`.
    seed : int
        Seeds the shuffle.
    groups : str or sequence, optional
        Records that must stay on one side of every split: one key per record (a station, a day, a survey...), or
        the name of a variable along ``event`` of the Dataset. ``"station"`` and ``"day"`` are derived from the
        ``trace_id`` and ``starttime`` coordinates (records read with :func:`rnnscope.data.from_obspy`) when the
        Dataset has no variable of that name. Records of one station or one day share noise, instrument and
        activity: split them and the test scores are optimistic.

    Returns
    -------
    list of arrays
        The record positions of each test fold (sorted); together they hold every record once.

    Raises
    ------
    ValueError
        For ``folds`` outside [2, number of records or groups], a group name the Dataset does not have, a record
        without a group, or keys of another length.

    Examples
    --------
    >>> labels = [np.array([0, 1]), np.array([0]), np.array([0, 1]), np.array([0])]
    >>> [sorted(f.tolist()) for f in record_folds(labels, folds=2, seed=0)]
    [[0, 1], [2, 3]]
    >>> [f.tolist() for f in record_folds(labels, folds=2, groups=["A", "A", "B", "B"])]  # stations A and B
    [[0, 1], [2, 3]]
    >>> len(record_folds([np.array([0, 1])] * 8))  # four folds by default
    4
    """
    dataset: xr.Dataset | None = None
    if isinstance(labels, xr.Dataset):
        dataset = labels
        if "label" not in dataset:
            raise ValueError("record_folds: the Dataset has no 'label' variable; pass a features Dataset "
                             "(rnnscope.features.compute) or the records' labels.")
        labels = _labels_of(dataset)
    return folds_of(labels, folds, seed=seed, groups=groups, dataset=dataset, func="record_folds")


def folds_of(labels: Sequence[np.ndarray], folds: int, *, seed: int, groups, dataset: xr.Dataset | None,
             func: str) -> list[np.ndarray]:
    """:func:`record_folds` of per-record labels, errors naming ``func`` (``groups`` names read from ``dataset``)."""
    labels = [np.asarray(y) for y in labels]
    check_positive(folds, name="folds", func=func, integer=True)
    if groups is None:
        keys = unit = np.arange(len(labels))
    else:  # groups numbered in order of first appearance
        keys = _group_keys(dataset, groups, len(labels), func)
        _, first, inverse = np.unique(keys.astype(str), return_index=True, return_inverse=True)
        rank = np.empty(first.size, dtype=int)
        rank[np.argsort(first)] = np.arange(first.size)
        unit = rank[inverse.ravel()]
    n_units = int(unit.max()) + 1 if len(labels) else 0
    what = "records" if groups is None else "groups"
    if folds < 2 or folds > n_units:
        extra = "" if groups is None else (f" ({n_units} groups: {sorted(set(map(str, keys)))[:8]}"
                                           f"{' ...' if n_units > 8 else ''})")
        raise ValueError(
            f"The 'folds' parameter of {func} must be between 2 and the number of {what} ({n_units}){extra}: every "
            f"test fold needs at least one whole {what[:-1]}. Got {folds} instead."
            + (" Use fewer folds or finer groups." if groups is not None else "")
        )
    rng = np.random.default_rng(seed)
    n_classes = max((int(y.max()) for y in labels if y.size), default=0) + 1
    counts = np.bincount(np.concatenate([y[y >= 0] for y in labels]), minlength=n_classes) if labels else \
        np.zeros(0, dtype=np.int64)
    unit_labels = [np.concatenate([labels[i] for i in np.flatnonzero(unit == u)]) for u in range(n_units)]
    unit_size = np.bincount(unit, minlength=n_units)
    strata = np.array([_stratify_key(y, counts) for y in unit_labels])
    unit_fold = np.empty(n_units, dtype=int)
    total = np.zeros(folds, dtype=int)
    for key in sorted(set(strata.tolist()), key=lambda k: (counts[k] if k >= 0 else np.inf)):
        members = rng.permutation(np.flatnonzero(strata == key))
        members = members[np.argsort(-unit_size[members], kind="stable")]  # largest first (no-op for records)
        in_stratum = np.zeros(folds, dtype=int)
        for u in members:
            f = int(np.lexsort((np.arange(folds), total, in_stratum))[0])
            unit_fold[u] = f
            in_stratum[f] += unit_size[u]
            total[f] += unit_size[u]
    assignment = unit_fold[unit]
    return [np.flatnonzero(assignment == f) for f in range(folds)]

"""Controls for interpretability claims: the same number on an untrained network and on one trained on shuffled labels.

A number measured on a trained network (specialisation, a probe score, a detector unit) means "learned" only when
it differs from the same number on

- an **untrained** network of the same architecture (:func:`untrained_like`): what the architecture and the input
  statistics give for free (random recurrent networks already respond to onsets and energy changes);
- a network trained on **shuffled labels** (:func:`shuffle_labels`): the classes of the labelled segments are
  permuted among segments, so the network learns the same segment structure (boundaries, durations, class
  frequencies) but no link between a signal and its class.

:func:`compare_controls` trains and captures all three over seeds and puts the numbers side by side.

torch is imported inside the functions that need it (``shuffle_labels`` works on any features Dataset).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
import xarray as xr

from ..schema import SUMMARY_VARIABLES, segment_frames

__all__ = ["untrained_like", "shuffle_labels", "compare_controls", "CONTROLS"]

#: Names of the three models :func:`compare_controls` reports, in order.
CONTROLS = ("trained", "untrained", "shuffled_labels")


def untrained_like(model, *, seed: int = 0, keep_normalizer: bool = True):
    """A freshly initialised model of the same architecture as ``model``: the "untrained" control.

    The model is rebuilt from ``model.config`` (cells, sizes, layers, shortcuts, classes, masked units) with every
    weight drawn by the architecture's default initialisation after ``torch.manual_seed(seed)``, inside
    :func:`torch.random.fork_rng` (the caller's random state is left untouched). The feature normaliser is kept by
    default: it is preprocessing fitted on the data, not learned by gradient descent, and without it the raw
    features would saturate the units. ``info["training"]`` is dropped and ``info["control"]`` set to
    ``"untrained"``.

    With the seed a model was trained with (:func:`rnnscope.train.fit_many`), the result is that model's own
    starting point, as long as ``make_model`` only built the model after seeding.

    Parameters
    ----------
    model : RNNClassifier or TCNClassifier
    seed : int
        Seed of the new weights.
    keep_normalizer : bool
        Keep ``model``'s feature normaliser (default) or reset it (mean 0, std 1).

    Returns
    -------
    model
        On the same device as ``model``, in eval mode.

    Examples
    --------
    >>> from rnnscope.models import RNNClassifier
    >>> from rnnscope.experiments import untrained_like
    >>> model = RNNClassifier("lstm", input_size=4, hidden_size=8, num_classes=5)
    >>> fresh = untrained_like(model, seed=1)
    >>> fresh.config["cells"], fresh.hidden_size, fresh.info["control"]
    (['lstm'], 8, 'untrained')
    """
    import torch

    func = "untrained_like"
    if not (hasattr(model, "config") and hasattr(type(model), "from_config")):
        raise TypeError(f"The 'model' parameter of {func} must be an rnnscope model (RNNClassifier, TCNClassifier or "
                        f"from_torch). Got {type(model).__name__} instead.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"The 'seed' parameter of {func} must be an integer. Got {seed!r} instead.")
    config = dict(model.config)
    info = {k: v for k, v in dict(config.get("info") or {}).items() if k != "training"}
    info["control"] = "untrained"
    config["info"] = info
    if not keep_normalizer:
        config.pop("normalizer", None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        fresh = type(model).from_config(config)
    return fresh.to(model.device).eval()


def _check_unshuffled(unshuffled, names: list[str], func: str) -> set[int]:
    if unshuffled is None:
        return set()
    unshuffled = [unshuffled] if isinstance(unshuffled, str) else list(unshuffled)
    unknown = [k for k in unshuffled if k not in names]
    if unknown:
        raise ValueError(f"The 'unshuffled' parameter of {func} must name classes of the data set {names}. "
                         f"Got {unknown} instead.")
    return {names.index(k) for k in unshuffled}


def shuffle_labels(dataset: xr.Dataset, *, seed: int = 0, unshuffled: str | Sequence[str] | None = None) -> xr.Dataset:
    """The same records with the classes of their labelled segments permuted among segments: the "shuffled" control.

    The segment table keeps every boundary (``segment_event_id``, ``segment_start``, ``segment_end``, P and S); only
    ``segment_class`` is permuted (seeded, across all records), so the number of segments of each class is
    unchanged. Frame labels (``label``) and sample labels (``sample_label``, when present) follow their segment's
    new class; unknown (-1) frames and frames outside segments are unchanged. A model trained on the result sees
    the same signals and segment structure but no link between a signal and its class.

    Parameters
    ----------
    dataset : xarray.Dataset
        A features Dataset (or records, or a run) with a segment table and ``label``.
    seed : int
        Seed of the permutation.
    unshuffled : str or list of str, optional
        Classes whose segments keep their class and stay out of the permutation (e.g. the background class,
        ``unshuffled=dataset.attrs["background"]``, shuffles only the event classes among event segments, a control for
        class identity beyond event detection).

    Returns
    -------
    xarray.Dataset
        A new Dataset (the input is not modified); capture-time summaries (``summary_*``) are dropped, and
        ``attrs["label_shuffle"]`` records the seed and ``unshuffled`` (a dict).

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=4, seed=0))
    >>> shuffled = rnnscope.experiments.shuffle_labels(frames, seed=1)
    >>> sorted(shuffled.segment_class.values.tolist()) == sorted(frames.segment_class.values.tolist())
    True
    >>> bool((shuffled.segment_start == frames.segment_start).all())
    True
    """
    func = "shuffle_labels"
    if not isinstance(dataset, xr.Dataset):
        raise TypeError(f"The 'dataset' parameter of {func} must be an xarray.Dataset (rnnscope.features.compute). "
                        f"Got {type(dataset).__name__} instead.")
    needed = ("segment_event_id", "segment_class", "segment_start", "segment_end", "label")
    missing = [n for n in needed if n not in dataset]
    if missing or "length" not in dataset.coords:
        raise ValueError(f"{func}: the Dataset lacks {missing or ['length']}; it needs a segment table, frame labels "
                         "and 'length' (compute features with rnnscope.features.compute).")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"The 'seed' parameter of {func} must be an integer. Got {seed!r} instead.")
    names = [str(c) for c in dataset.attrs.get("class_names", [])]
    kept = _check_unshuffled(unshuffled, names, func)
    old = np.asarray(dataset["segment_class"].values).astype(np.int64)
    movable = np.flatnonzero(~np.isin(old, list(kept)))
    new = old.copy()
    new[movable] = old[np.random.default_rng(seed).permutation(movable)]

    table = segment_frames(dataset)
    label = dataset["label"].transpose("event", "time")
    original = np.asarray(label.values)
    relabelled = original.copy()
    for seg, e, a, b in zip(
        *(table[c].to_numpy() for c in ("segment", "event", "frame_start", "frame_stop")), strict=True
    ):
        if new[seg] != old[seg]:
            rows = original[e, a:b] == old[seg]
            relabelled[e, a:b][rows] = new[seg]
    out = dataset.drop_vars([n for n in SUMMARY_VARIABLES if n in dataset])
    out["label"] = label.copy(data=relabelled.astype(original.dtype)).transpose(*dataset["label"].dims)
    out["segment_class"] = dataset["segment_class"].copy(data=new.astype(dataset["segment_class"].dtype))
    if "sample_label" in dataset and "sample_time" in dataset.coords:
        samples = dataset["sample_label"].transpose("event", "sample")
        before = np.asarray(samples.values)
        after = before.copy()
        sample_time = np.asarray(dataset["sample_time"].values, dtype=np.float64)
        starts = np.searchsorted(sample_time, table["start"].to_numpy(np.float64), "left")
        stops = np.searchsorted(sample_time, table["end"].to_numpy(np.float64), "left")
        for seg, e, a, b in zip(table["segment"].to_numpy(), table["event"].to_numpy(), starts, stops, strict=True):
            if new[seg] == old[seg]:
                continue
            rows = before[e, a:b] == old[seg]
            after[e, a:b][rows] = new[seg]
        out["sample_label"] = samples.copy(data=after).transpose(*dataset["sample_label"].dims)
    out.attrs = dict(dataset.attrs)
    out.attrs["label_shuffle"] = {"seed": int(seed), "unshuffled": [names[k] for k in sorted(kept)]}
    return out


def compare_controls(
    make_model: Callable,
    dataset: xr.Dataset,
    *,
    fn: Callable,
    test: xr.Dataset | None = None,
    seeds: Iterable[int] = (0,),
    unshuffled: str | Sequence[str] | None = None,
    executor=None,
    threads: int | None = 1,
    device: str = "auto",
    confidence: float = 0.95,
    by=None,
    capture_kwargs: Mapping | None = None,
    progress: bool = True,
    **fit_kwargs,
):
    """One number on the trained model, the untrained control and the shuffled-labels control, over seeds.

    For each seed ``s``: a model trained on ``dataset`` (:func:`rnnscope.train.fit_many`), its untrained twin
    (:func:`untrained_like` with seed ``s``: the trained model's own starting point, normaliser kept) and a model
    trained with seed ``s`` on ``shuffle_labels(dataset, seed=s, unshuffled=unshuffled)``. Each is captured on
    ``test`` (the true labels) and ``fn(run)`` computed; the values are summarised per control with
    :func:`rnnscope.analysis.across_seeds` (mean, std, sem, n, Student-t interval).

    Parameters
    ----------
    make_model : callable
        Builds a fresh model (called after seeding; picklable for process executors).
    dataset : xarray.Dataset
        Training records.
    fn : callable
        run -> number, pandas Series / DataFrame or xarray object (any :mod:`rnnscope.analysis` number).
    test : xarray.Dataset, optional
        Records the models are captured and analysed on (default: ``dataset``; prefer held-out records).
    seeds : iterable of int
    unshuffled : str or list of str, optional
        Classes left out of the label permutation (:func:`shuffle_labels`).
    executor, threads, device, progress, **fit_kwargs
        As in :func:`rnnscope.train.fit_many` (all trainings run as one batch of tasks).
    confidence, by
        As in :func:`rnnscope.analysis.across_seeds`.
    capture_kwargs : mapping, optional
        Extra :func:`rnnscope.capture` keywords (e.g. ``var=["h"]``).

    Returns
    -------
    pandas.DataFrame or xarray object
        :func:`~rnnscope.analysis.across_seeds` summaries of the three models (:data:`CONTROLS`) side by side: a
        DataFrame indexed by ``control`` (plus the result's own labels) for pandas and number results, an xarray
        object with a leading ``control`` dimension for xarray results.

    Examples
    --------
    >>> import rnnscope
    >>> from functools import partial
    >>> from rnnscope import analysis
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=4, seed=0))
    >>> make = partial(rnnscope.models.RNNClassifier, "gru", input_size=48, hidden_size=4, num_classes=5)
    >>> table = rnnscope.experiments.compare_controls(make, frames, fn=analysis.frame_accuracy, epochs=1,
    ...                                               progress=False)
    >>> list(table.index), list(table.columns[:2])
    (['trained', 'untrained', 'shuffled_labels'], ['mean', 'std'])
    """
    import pandas as pd

    from .._seed import preserved
    from .._tasks import _run_tasks
    from ..analysis import across_seeds
    from ..capturing import capture
    from ..train._seeds import _fit_seed_task

    func = "compare_controls"
    if not callable(fn):
        raise TypeError(f"The 'fn' parameter of {func} must be a callable (run -> number or labelled result). "
                        f"Got {type(fn).__name__} instead.")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError(f"The 'seeds' parameter of {func} must hold at least one seed. Got none.")
    test = dataset if test is None else test
    payloads = []
    for data in (dataset, None):
        for s in seeds:
            payloads.append({"make_model": make_model, "dataset": data if data is not None else
                             shuffle_labels(dataset, seed=s, unshuffled=unshuffled), "seed": s, "threads": threads,
                             "device": device, "fit_kwargs": fit_kwargs})
    with preserved():  # the caller's generators and thread count, whatever the tasks did in this process
        models = _run_tasks(_fit_seed_task, payloads, executor, progress, func)
    trained, shuffled = models[: len(seeds)], models[len(seeds):]
    untrained = [untrained_like(m, seed=s) for m, s in zip(trained, seeds, strict=True)]
    kwargs = {"progress": False, "device": device, **dict(capture_kwargs or {})}
    summaries = {}
    for name, group in zip(CONTROLS, (trained, untrained, shuffled), strict=True):
        values = {s: fn(capture(m, test, **kwargs)) for s, m in zip(seeds, group, strict=True)}
        summaries[name] = across_seeds(None, values, confidence=confidence, by=by)
    first = summaries[CONTROLS[0]]
    if isinstance(first, pd.Series):
        out = pd.DataFrame(summaries).T.rename_axis("control")
        out.attrs.update(first.attrs)
        return out
    if isinstance(first, pd.DataFrame):
        out = pd.concat(summaries, names=["control"])
        out.attrs.update(first.attrs)
        return out
    out = xr.concat(list(summaries.values()), dim=pd.Index(list(CONTROLS), name="control"))
    out.attrs.update(first.attrs)
    return out

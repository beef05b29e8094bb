"""Silencing units (test-time pruning, Titos & Garcia 2022 Fig. 10): :func:`silence`, :func:`silenced`,
:func:`keep_count`, :func:`kept_counts`, :func:`ablation_curve` (a fixed share of the units, or the units above an
activity threshold).

One way to name units everywhere (``silence``, ``silenced``, :func:`rnnscope.capture`'s ``silence=``): a dict
``{layer: units}``, ``layer`` the index along the ``layer`` dimension of the model's run (an rnnscope classifier's
layer; for any other ``nn.Module`` each layer and direction of each recurrent module in ``model.named_modules()``
order, as :func:`rnnscope.capture` numbers them) and ``units`` the silenced units: unit ids, or a boolean mask of
the layer's units (True = silenced). :func:`rnnscope.models._module_masks.silence_keeps` reads it.
"""
from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr

from .. import analysis, schema
from .._validation import check_choice
from ..capturing import capture, capture_modules
from ..models._module_masks import module_keeps
from ..models._module_masks import silenced as _silenced
from ._common import _strip_run, _threads

__all__ = ["silence", "silenced", "keep_count", "kept_counts", "ablation_curve"]


# --------------------------------------------------------------------------------------------- silencing units


def _is_classifier(model) -> bool:
    return hasattr(model, "trace_layers") and hasattr(model, "masked")


@contextlib.contextmanager
def silenced(model, silence):
    """Within the ``with`` block, ``model``'s recurrent modules silence the units ``silence`` names (any
    ``nn.Module``; not a copy).

    A silenced unit's output ``h`` is 0 at every step inside the recurrence (the recurrent weight columns reading
    it see 0; for a cell, the state it reads) and in everything its module passes on (next layer, the model's
    other parts). The model's weights are never modified; on leaving the block the modules run as before.

    Everything run inside the block sees the silenced model: its forward, :func:`rnnscope.train.evaluate`, and
    :func:`rnnscope.capture` (an rnnscope classifier's one pass and the recovery of any module's states alike;
    the run's ``attrs["capture_config"]`` names the silenced units, together with any ``silence=`` of the
    capture itself).

    Parameters
    ----------
    model : torch.nn.Module
        An rnnscope classifier or any module holding ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` modules or cells.
    silence : dict
        ``{layer: units}`` (see the module documentation): ``layer`` the run's layer index, ``units`` the silenced
        unit ids or a boolean mask (True = silenced).

    Yields
    ------
    torch.nn.Module
        ``model`` itself (``with silenced(model, ...) as m``), silenced inside the block; its modules are restored
        on leaving it, also when the block raises.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True))
    >>> x = torch.randn(1, 5, 3)
    >>> with torch.no_grad(), silenced(net, {1: [0, 2]}):  # layer 1: the backward direction
    ...     out, _ = net(x)
    >>> out[0, :, 4:].abs().sum(0).gt(0).tolist()  # the backward units 0 and 2 output 0
    [False, True, False, True]

    A capture inside the block records the silenced network:

    >>> import rnnscope
    >>> with silenced(net, {1: [0, 2]}):
    ...     run = rnnscope.capture(net, x, progress=False)
    >>> bool((run["h"].isel(layer=1, unit=[0, 2]) == 0).all())
    True
    """
    from ..models._module_masks import silence_keeps

    with _silenced(model, silence_keeps(model, silence, func="silenced")):
        yield model


def silence(model, silence, *, mode: str = "zero", held=None):
    """Return a copy of ``model`` whose units ``silence`` names are silenced at every step.

    Any ``torch.nn.Module``: the copy (``copy.deepcopy``) runs its recurrent modules with the units silenced
    (``mode="zero"`` only). An rnnscope classifier: per layer, as below.

    Definitions (unit ``j`` of layer ``l`` silenced):

    - ``mode="zero"``: :meth:`RNNClassifier.masked`: the unit's output ``h`` is 0 at every step inside the
      recurrence (it feeds nothing to the next step, the next layer, a shortcut or the head);
    - ``mode="mean"``: the unit's output is held at the constant ``held[l][j]`` (e.g. its mean activity) at every
      step, the initial state included: whatever reads it (recurrent weights of its layer, the next layer, the
      head, through shortcuts too) sees that constant. Implemented exactly as the masked copy plus biases: the
      held values times the outgoing weights are added to the recurrent biases of the layer (for the GRU this
      bias sits inside the reset gate's product, where ``W_hn h`` is), to the input biases of the next layer and
      to the head's bias. A run captured from the returned model shows ``h = 0`` for the held units (their
      constant enters through the biases).

    Parameters
    ----------
    model : RNNClassifier or torch.nn.Module
    silence : dict
        ``{layer: units}`` (see the module documentation): ``layer`` the run's layer index, ``units`` the silenced
        unit ids or a boolean mask (True = silenced).
    mode : {"zero", "mean"}
    held : dict, optional
        For ``mode="mean"``: ``{layer: values}``, the value of every unit of each layer with silenced units (only
        the silenced ones are used).

    Returns
    -------
    RNNClassifier or torch.nn.Module
        A deep copy; ``model`` is not modified.

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import RNNClassifier
    >>> model = RNNClassifier("gru", input_size=3, hidden_size=4, num_classes=5)
    >>> silence(model, {0: [1]}).masked_units  # unit 1 of layer 0 silenced
    [[1]]
    >>> held = silence(model, {0: [1]}, mode="mean", held={0: np.full(4, 0.3)})
    >>> held.masked_units
    [[1]]
    """
    func = "silence"
    check_choice(mode, ["zero", "mean"], name="mode", func=func)
    if not _is_classifier(model):
        from ..models._module_masks import apply_keeps, silence_keeps

        if mode != "zero":
            raise ValueError(f"The 'mode' parameter of {func} must be 'zero' for a model that is not an rnnscope "
                             f"classifier (holding a unit at a value goes through an RNNClassifier's biases). Got "
                             f"{mode!r} instead.")
        out = copy.deepcopy(model)
        apply_keeps(out, silence_keeps(out, silence, func=func))
        return out
    from ..models._module_masks import classifier_keeps

    masks = classifier_keeps(model, silence, func=func)
    return _masked_copy(model, masks, mode, held, func)


def _masked_copy(model, masks, mode, held, func):
    """An rnnscope classifier's copy with keep masks ``masks`` (one per layer, None: every unit), silenced units
    at 0 (``mode="zero"``) or held at ``held`` (``{layer: values}``) through the biases."""
    out = model.masked(masks)
    if mode == "zero":
        return out
    if not (model.bias and model.head_bias):
        raise ValueError(f"{func}: mode='mean' adds the held values through the biases; this model was built with "
                         "bias=False or head_bias=False. Use mode='zero' or a model with biases.")
    missing = [l for l, m in enumerate(masks) if m is not None and (not isinstance(held, Mapping) or l not in held)]
    if not isinstance(held, Mapping) or missing:
        raise ValueError(f"The 'held' parameter of {func} must be a dict {{layer: values}} giving "
                         f"{model.hidden_size} values for every layer with silenced units, for mode='mean'. Got "
                         f"{held!r} instead" + (f" (no values for layers {missing})." if missing else "."))
    ref = out.head.weight
    deficit = None  # what the silenced units should add to the output a layer passes on
    with torch.no_grad():
        for l, layer in enumerate(out.layers):
            if deficit is not None:
                layer.bias_ih.add_(layer.weight_ih @ deficit)
            kept = torch.zeros(model.hidden_size, dtype=ref.dtype, device=ref.device)
            if masks[l] is not None:
                v = torch.as_tensor(np.asarray(held[l], dtype=np.float64), dtype=ref.dtype, device=ref.device)
                if tuple(v.shape) != (model.hidden_size,):
                    raise ValueError(f"The 'held' parameter of {func} must hold {model.hidden_size} values per layer. "
                                     f"Got shape {tuple(v.shape)} for layer {l} instead.")
                drop = ~masks[l].to(ref.device)
                kept[drop] = v[drop]
                layer.bias_hh.add_(layer.weight_hh @ kept)
            deficit = kept + deficit if (out.shortcuts[l] and deficit is not None) else kept
        out.head.bias.add_(out.head.weight @ deficit)
    out.info = {**out.info, "silenced": {"mode": mode, "units": out.masked_units}}
    return out


def keep_count(fraction: float, hidden_size: int) -> int:
    """Units kept for a fraction: ``max(1, round(fraction x hidden_size))`` (halves round up).

    Parameters
    ----------
    fraction : float
        The share of units kept, in [0, 1].
    hidden_size : int
        Units of the layer (a whole number >= 1).

    Returns
    -------
    int
        Units kept, at least 1.

    Raises
    ------
    ValueError
        When ``hidden_size`` is not a whole number >= 1 or ``fraction`` is outside [0, 1] (the message says when
        the two look swapped).

    Examples
    --------
    >>> keep_count(0.1, 210), keep_count(0.25, 10), keep_count(0.01, 16)
    (21, 3, 1)

    The fraction comes first; swapped arguments are refused:

    >>> keep_count(32, 0.3)
    Traceback (most recent call last):
    ...
    ValueError: The 'hidden_size' parameter of keep_count must be a whole number of units >= 1. Got 0.3 instead. ...
    """
    func = "keep_count"
    whole = isinstance(hidden_size, (int, float, np.integer, np.floating)) and not isinstance(hidden_size, bool) \
        and float(hidden_size) >= 1 and float(hidden_size) == int(hidden_size)
    is_fraction = isinstance(fraction, (int, float, np.integer, np.floating)) and not isinstance(fraction, bool) \
        and 0.0 <= float(fraction) <= 1.0
    if not whole or not is_fraction:
        swapped = (isinstance(hidden_size, (int, float, np.number)) and 0.0 <= float(hidden_size) <= 1.0
                   and isinstance(fraction, (int, float, np.number)) and float(fraction) >= 1
                   and float(fraction) == int(fraction))
        hint = (f" The arguments look swapped: keep_count(fraction, hidden_size), e.g. keep_count({hidden_size!r}, "
                f"{int(fraction)})." if swapped else "")
        if not whole:
            raise ValueError(f"The 'hidden_size' parameter of {func} must be a whole number of units >= 1. Got "
                             f"{hidden_size!r} instead.{hint}")
        raise ValueError(f"The 'fraction' parameter of {func} must be the share of the {int(hidden_size)} units kept, "
                         f"in [0, 1]. Got {fraction!r} instead.{hint}")
    return max(1, int(np.floor(float(fraction) * int(hidden_size) + 0.5)))


# --------------------------------------------------------------------------------------------- ablation curve


def ablation_curve(
    model,
    dataset: xr.Dataset,
    *,
    fractions: Sequence[float] = (1, 0.8, 0.5, 0.3, 0.2, 0.1),
    ranking: str | Sequence[str] = "activity",
    rank_on: xr.Dataset | None = None,
    mode: str = "zero",
    repeats: int = 5,
    seed: int = 0,
    selection: str = "fraction",
    batch_size: int = 32,
    device: str = "auto",
    threads: int | None = 1,
    fit_kwargs: dict | None = None,
    score=None,
    capture_kwargs: dict | None = None,
) -> pd.DataFrame:
    """Frame accuracy when only some units are kept (test-time pruning, Titos & Garcia 2022, Fig. 10).

    For each level ``p`` of ``fractions``, ``n`` units of every layer are kept and the others silenced
    (:func:`silence`: ``mode="zero"`` -> output 0; ``mode="mean"`` -> held at their mean output); the model is
    scored with :func:`rnnscope.train.evaluate` on ``dataset`` (frame accuracy over valid, labelled frames).
    Nothing is retrained. Two readings of the paper's "percentile of activity" decide ``n``:

    - ``selection="fraction"`` (default): a fixed share of the units, ``n = max(1, round(p x hidden))``
      (:func:`keep_count`), the same for every architecture;
    - ``selection="threshold"``: the units whose activity reaches ``(1 - p)`` times the largest activity of their
      layer ("those neurons reaching 90 % of the maximum activation value" for ``p = 0.1``); ``n`` then differs
      between layers and architectures: when most units are about as active as the most active one (a polarised
      vanilla RNN), lowering the threshold keeps almost all of them, as the paper notes for its vanilla RNN.

    Activity is the frame-weighted mean ``|h|`` over every valid frame of ``rank_on``
    (:func:`rnnscope.analysis.unit_activity` of a capture; per layer). Rankings:

    - ``ranking="activity"``: keep the ``n`` units of highest activity (with ``selection="threshold"``: exactly the
      units above the threshold);
    - ``ranking="random"``: keep ``n`` units drawn at random, ``repeats`` times (seeded); mean and std reported;
    - ``ranking="small_model"`` (the paper's red points): a fresh model of the same cells with ``n`` units per
      layer (the largest ``n`` of the layers under ``selection="threshold"``), trained on ``rank_on`` (required:
      the training data) with :func:`rnnscope.train.fit` (``fit_kwargs``, default ``{"epochs": 10}``; seeded with
      ``seed``) and scored on ``dataset``. For ``n == hidden`` the given model itself is scored. ``mode`` is
      reported as ``"retrained"``.

    ``rank_on`` defaults to ``dataset`` itself, as the paper appears to do; pass the training data to avoid
    ranking units on the test set. The mean values of ``mode="mean"`` also come from ``rank_on``.

    Parameters
    ----------
    model : RNNClassifier
    dataset : xarray.Dataset
        Features Dataset to score on.
    fractions : sequence of float in (0, 1]
        Shares of units kept (``selection="fraction"``) or threshold levels ``p`` (``selection="threshold"``).
    ranking : "activity", "random", "small_model" or a list of them
    rank_on : xarray.Dataset, optional
    mode : {"zero", "mean"}
    repeats : int
        Random draws per fraction (``ranking="random"``).
    seed : int
    selection : {"fraction", "threshold"}
        How ``fractions`` turn into kept counts (above).
    batch_size : int
    device : str
        ``"auto"`` picks CUDA, then MPS, then CPU.
    threads : int or None
        PyTorch CPU threads for this call (default 1; restored afterwards); None leaves the setting alone.
    fit_kwargs : dict, optional
        Keywords of :func:`rnnscope.train.fit` for ``ranking="small_model"``.
    score : callable, optional
        Any ``torch.nn.Module`` (required then): ``score(model) -> float``, the number reported as ``accuracy``
        (e.g. the accuracy of the model on held-out data), called with the model's units silenced
        (:func:`silenced`). Units are ranked and kept per layer and direction of every recurrent module
        (``n = keep_count(fraction, units)`` of each); ``dataset`` and ``rank_on`` are then what the model's
        forward takes (the activity comes from :func:`rnnscope.capture` of ``rank_on``); ``mode="zero"``,
        rankings ``"activity"`` and ``"random"``.
    capture_kwargs : dict, optional
        Any ``torch.nn.Module``: keywords of :func:`rnnscope.capture` for the ranking capture (e.g. ``modules``).

    Returns
    -------
    pandas.DataFrame
        Columns ``fraction``, ``n_units`` (kept per layer: an int, or a tuple per layer when the layers' counts
        differ), ``ranking``, ``mode``, ``selection``, ``accuracy`` (mean over draws) and ``accuracy_std`` (std
        over draws for random, NaN otherwise), one row per (ranking, fraction).

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5)
    >>> table = ablation_curve(model, frames, fractions=(1, 0.5), ranking=["activity", "random"], repeats=2,
    ...                       threads=1)
    >>> table[["fraction", "n_units", "ranking"]].values.tolist()
    [[1.0, 8, 'activity'], [0.5, 4, 'activity'], [1.0, 8, 'random'], [0.5, 4, 'random']]
    >>> by_threshold = ablation_curve(model, frames, fractions=(1, 0.5), selection="threshold", threads=1)
    >>> kept = by_threshold["n_units"].tolist()
    >>> kept[0], 1 <= kept[1] <= 8
    (8, True)
    """
    with _threads(threads):
        if not _is_classifier(model):
            if selection != "fraction":
                raise ValueError("ablation_curve: selection='threshold' is available for rnnscope classifiers; for "
                                 "any other nn.Module pass selection='fraction' (a share of each layer's units).")
            return _ablation_any(model, dataset, fractions, ranking, rank_on, mode, repeats, seed, batch_size,
                                 device, score, capture_kwargs)
        return _ablation_curve(model, dataset, fractions, ranking, rank_on, mode, repeats, seed, selection,
                               batch_size, device, fit_kwargs)


def _ablation_any(model, data, fractions, ranking, rank_on, mode, repeats, seed, batch_size, device, score,
                  capture_kwargs):
    """:func:`ablation_curve` for any nn.Module: units ranked per layer and direction of its recurrent modules."""
    func = "ablation_curve"
    if not callable(score):
        raise ValueError(f"The 'score' parameter of {func} must be a function score(model) -> float for a model that "
                         f"is not an rnnscope classifier (there is no accuracy to compute for it). Got {score!r} "
                         "instead.")
    rankings = [ranking] if isinstance(ranking, str) else list(ranking)
    for r in rankings:
        check_choice(r, ["activity", "random"], name="ranking", func=func)
    check_choice(mode, ["zero"], name="mode", func=func)
    fractions = [float(f) for f in fractions]
    if not fractions or any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"The 'fractions' parameter of {func} must hold numbers in (0, 1]. Got {fractions!r} instead.")
    runs = capture_modules(model, data if rank_on is None else rank_on, var=["h"], device=device,
                           batch_size=batch_size, progress=False, **(capture_kwargs or {}))
    entries = []  # (label, h units, activity of those units)
    for run in runs.values():
        activity = np.asarray(analysis.unit_activity(run)["mean_abs"].values)  # (unit, layer)
        units = np.asarray(run["layer_h_units"].values)
        for position, label in enumerate(schema.layer_labels(run)):
            entries.append((label, int(units[position]), activity[: units[position], position]))
    rng = np.random.default_rng(seed)
    baseline = None
    rows = []
    for r in rankings:
        for f in fractions:
            counts = [keep_count(f, n) for _, n, _ in entries]
            if all(c >= n for c, (_, n, _) in zip(counts, entries, strict=True)):
                baseline = float(score(model)) if baseline is None else baseline
                accs = [baseline]
            else:
                accs = []
                for _ in range(1 if r == "activity" else repeats):
                    keep = {}  # by layer label: the entries of the ranking run (capture_kwargs may pick modules)
                    for (label, n, act), c in zip(entries, counts, strict=True):
                        chosen = (np.argsort(-np.nan_to_num(act, nan=-np.inf), kind="stable")[:c] if r == "activity"
                                  else rng.choice(n, size=c, replace=False))
                        keep[label] = np.isin(np.arange(n), chosen)
                    with _silenced(model, module_keeps(model, keep, name="silence", func=func)):
                        accs.append(float(score(model)))
            rows.append({"fraction": f, "n_units": int(sum(counts)), "ranking": r, "mode": mode,
                         "accuracy": float(np.mean(accs)),
                         "accuracy_std": float(np.std(accs)) if r == "random" else np.nan})
    return pd.DataFrame(rows)


def kept_counts(activity: np.ndarray, fraction: float, *, selection: str = "fraction") -> np.ndarray:
    """Units kept per layer for one level: ``keep_count(fraction, hidden_size)`` or the count reaching the threshold.

    ``activity`` (unit, layer); with ``selection="threshold"`` a unit is kept when its activity is at least
    ``(1 - fraction)`` times the largest activity of its layer.

    Parameters
    ----------
    activity : numpy.ndarray
        ``(unit, layer)`` activity of every unit (e.g. its heat).
    fraction : float
        The level: the share of units kept (``selection="fraction"``) or the threshold level ``p``
        (``selection="threshold"``).
    selection : {"fraction", "threshold"}
        Keep a fixed share of each layer's units, or the units reaching ``(1 - fraction)`` times the layer's top
        activity.

    Returns
    -------
    numpy.ndarray
        ``(layer,)`` int, units kept per layer (at least 1).

    Examples
    --------
    >>> activity = np.array([[1.0], [0.95], [0.5], [0.2]])
    >>> [kept_counts(activity, p, selection="threshold").tolist() for p in (0.1, 0.5)]
    [[2], [3]]
    >>> kept_counts(activity, 0.5).tolist()
    [2]
    """
    hidden, n_layers = activity.shape
    if selection == "fraction":
        return np.full(n_layers, keep_count(fraction, hidden))
    level = (1.0 - float(fraction)) * np.nanmax(activity, axis=0)
    return np.maximum((activity >= level[None, :] - 1e-12).sum(0), 1)


def _ablation_curve(model, dataset, fractions, ranking, rank_on, mode, repeats, seed, selection, batch_size, device,
                    fit_kwargs):
    from ..models import RNNClassifier
    from ..train import evaluate, fit

    func = "ablation_curve"
    rankings = [ranking] if isinstance(ranking, str) else list(ranking)
    for r in rankings:
        check_choice(r, ["activity", "random", "small_model"], name="ranking", func=func)
    if "small_model" in rankings and rank_on is None:
        raise ValueError(f"{func}: ranking='small_model' trains new models on 'rank_on'; pass rank_on=<the training "
                         "data> (never the data set it is scored on).")
    check_choice(mode, ["zero", "mean"], name="mode", func=func)
    check_choice(selection, ["fraction", "threshold"], name="selection", func=func)
    fractions = [float(f) for f in fractions]
    bad = [f for f in fractions if not 0 < f <= 1]
    if bad or not fractions:
        raise ValueError(f"The 'fractions' parameter of {func} must hold numbers in (0, 1]. Got {fractions!r} instead.")
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ValueError(f"The 'repeats' parameter of {func} must be a positive integer. Got {repeats!r} instead.")
    hidden, n_layers = model.hidden_size, model.num_layers
    rank_on = dataset if rank_on is None else rank_on
    stats = None
    if "activity" in rankings or mode == "mean" or selection == "threshold":
        ranked_run = capture(model, _strip_run(rank_on), var=["h"], device=device, progress=False)
        stats = analysis.unit_activity(ranked_run)
        activity = np.asarray(stats["mean_abs"].values)  # (unit, layer)
        means = [np.asarray(stats["mean"].values)[:, l] for l in range(n_layers)]
    else:
        activity, means = np.zeros((hidden, n_layers)), None
    baseline = None
    rng = np.random.default_rng(seed)
    rows = []

    def accuracy(m):
        with warnings.catch_warnings():  # macro F1 of classes never predicted: not used here
            warnings.simplefilter("ignore", RuntimeWarning)
            return evaluate(m, dataset, batch_size=batch_size, device=device).accuracy

    def score(masks):
        held = None if means is None else dict(enumerate(means))
        return accuracy(_masked_copy(model, [torch.from_numpy(m) for m in masks], mode, held, func))

    def keep(counts, order=None):
        """One mask per layer: the first ``counts[l]`` units of ``order[l]`` (highest activity), else at random."""
        masks = []
        for l in range(n_layers):
            chosen = order[:, l][: counts[l]] if order is not None else rng.choice(hidden, counts[l], replace=False)
            mask = np.zeros(hidden, dtype=bool)
            mask[chosen] = True
            masks.append(mask)
        return masks

    order = np.argsort(-activity, axis=0, kind="stable")
    for r in rankings:
        for f in fractions:
            counts = kept_counts(activity, f, selection=selection)
            if np.all(counts >= hidden):
                if baseline is None:
                    baseline = accuracy(model)
                accs = [baseline]
            elif r == "small_model":
                torch.manual_seed(seed)
                small = RNNClassifier(list(model.cells), input_size=model.input_size, hidden_size=int(counts.max()),
                                      num_classes=model.num_classes, num_layers=model.num_layers,
                                      residual=model.residual, class_names=model.class_names)
                fit(small, rank_on, **{"epochs": 10, "progress": False, "seed": seed, **(fit_kwargs or {})})
                accs = [accuracy(small)]
            elif r == "activity":
                accs = [score(keep(counts, order))]
            else:
                accs = [score(keep(counts)) for _ in range(repeats)]
            n_units = int(counts[0]) if np.all(counts == counts[0]) else tuple(int(n) for n in counts)
            rows.append({"fraction": f, "n_units": n_units, "ranking": r,
                         "mode": "retrained" if r == "small_model" else mode, "selection": selection,
                         "accuracy": float(np.mean(accs)),
                         "accuracy_std": float(np.std(accs)) if r == "random" else np.nan})
    return pd.DataFrame(rows)

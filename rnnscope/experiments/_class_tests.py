"""Causal tests of what units do for a class: :func:`class_silencing` (silencing the units flagged for each class
against activity-matched random units) and :func:`patch_activations` (copying chosen units' states from one record
into another and watching the class probabilities).

Both run an :class:`~rnnscope.models.RNNClassifier` with unit masks exactly as :func:`rnnscope.experiments.silence`
(``mode="zero"``: a silenced unit's ``h`` is 0 at every step inside the recurrence and in what its layer passes
on), and :func:`patch_activations` steps the patched layers with their reference step
(:meth:`~rnnscope.models.RecurrentLayer.step`) over the patched frames.
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from .. import analysis
from .._device import resolve_device
from .._validation import check_positive, plain, stored_background
from ..analysis._attribution import _null_vars
from ..capturing import capture
from ..errors import AttributionError
from ..train._records import _records
from ._common import _strip_run

__all__ = ["class_silencing", "patch_activations"]


# --------------------------------------------------------------------------------------------- silencing


def _unit_sets(model, units, data, rank_on, device, func):
    """class -> list of (layer, unit): given, or the ``units`` units of largest positive class gap per class."""
    names = list(model.class_names)
    if isinstance(units, (int, np.integer)) and not isinstance(units, bool):
        run = capture(model, _strip_run(data if rank_on is None else rank_on), var=["h"], device=device,
                      progress=False)
        gap = analysis.specialisation(run)["class_gap"]  # (class_name, unit, layer)
        background = stored_background(data.attrs) or getattr(model, "background", None)
        out = {}
        for c in names:
            if c == background or c not in gap["class_name"].values:
                continue
            values = np.nan_to_num(np.asarray(gap.sel(class_name=c).values), nan=-np.inf)  # (unit, layer)
            order = np.argsort(-values, axis=None, kind="stable")[: int(units)]
            picked = [np.unravel_index(i, values.shape) for i in order if values.flat[i] > 0]
            if picked:
                out[c] = [(int(layer), int(unit)) for unit, layer in picked]
        return out
    if not isinstance(units, dict) or not units:
        raise AttributionError(f"The 'class_units' parameter of {func} must be a number of units per class (flagged by "
                               "their class gap, analysis.specialisation) or a dict {class name: unit ids} ({layer: "
                               f"unit ids}} per class for several layers). Got {units!r} instead.")
    out = {}
    for c, chosen in units.items():
        if c not in names:
            raise AttributionError(
                f"The 'class_units' parameter of {func} names the class {c!r}, which the model does not "
                f"have: its classes are {names}."
            )
        per_layer = chosen if isinstance(chosen, dict) else {0: chosen}
        pairs = [(int(l_), int(u)) for l_, us in per_layer.items() for u in np.ravel(us)]
        bad = [p for p in pairs if not (0 <= p[0] < model.num_layers and 0 <= p[1] < model.hidden_size)]
        if bad:
            raise AttributionError(
                f"The 'class_units' parameter of {func} names (layer, unit) {bad} for class {c!r}; the "
                f"model has layers 0..{model.num_layers - 1} of {model.hidden_size} units."
            )
        out[c] = pairs
    return out


def _masks(model, pairs, device):
    masks = [torch.ones(model.hidden_size, dtype=torch.bool, device=device) for _ in range(model.num_layers)]
    for layer, unit in pairs:
        masks[layer][unit] = False
    return masks


class _Scorer:
    """Frame recall and mean logit of every class (on the frames labelled with it) under unit masks."""

    def __init__(self, model, data, batch_size, device, func):
        records = _records(model, data, func)
        self.model, self.n_classes = model, len(model.class_names)
        self.batches = []
        order = np.argsort([len(x) for x in records.x])
        for a in range(0, len(order), batch_size):
            idx = order[a: a + batch_size]
            width = max(len(records.x[i]) for i in idx)
            x = np.zeros((len(idx), width, model.input_size), np.float32)  # padding: 0, never a valid frame
            y = np.full((len(idx), width), -1, np.int64)
            for r, i in enumerate(idx):
                x[r, : len(records.x[i])], y[r, : len(records.y[i])] = records.x[i], records.y[i]
            self.batches.append((torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)))

    def __call__(self, masks) -> tuple[np.ndarray, np.ndarray]:
        hits = torch.zeros(self.n_classes, dtype=torch.float64)
        logit = torch.zeros(self.n_classes, dtype=torch.float64)
        count = torch.zeros(self.n_classes, dtype=torch.float64)
        with torch.no_grad():
            for x, y in self.batches:
                out = self.model(x, keep=masks)
                valid = y >= 0
                labels, pred = y[valid], out.argmax(-1)[valid]
                own = out[valid].gather(1, labels[:, None])[:, 0].double().cpu()
                labels = labels.cpu()
                count += torch.bincount(labels, minlength=self.n_classes).double()
                hits += torch.bincount(labels[(pred.cpu() == labels)], minlength=self.n_classes).double()
                logit.index_add_(0, labels, own)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (hits / count).numpy(), (logit / count).numpy()


def _matched(activity, flagged, rng, match, excluded=()):
    """Random units with the activity of the flagged ones: each flagged unit replaced by one of the ``match``
    other units of its layer closest in activity (no unit drawn twice, none of ``excluded``)."""
    taken = set(flagged) | set(excluded)
    out = []
    for layer, unit in flagged:
        candidates = [u for u in np.argsort(np.abs(activity[:, layer] - activity[unit, layer]), kind="stable")
                      if (layer, int(u)) not in taken][:match]
        if not candidates:
            raise AttributionError(f"class_silencing: layer {layer} has no unit left to match unit {unit} with; "
                                   "silence fewer units per class.")
        pick = (layer, int(rng.choice(candidates)))
        taken.add(pick)
        out.append(pick)
    return out


def class_silencing(model, data: xr.Dataset, *, class_units=5, null: int = 100, seed: int = 0, match: int = 10,
                    rank_on: xr.Dataset | None = None, batch_size: int = 32, device="auto",
                    progress: bool = True) -> xr.Dataset:
    """Silence the units flagged for each class and measure every class's recall and logit, against
    activity-matched random units.

    For each class ``k`` with flagged units, those units are silenced (``mode="zero"`` of
    :func:`rnnscope.experiments.silence`) and every class ``c``'s frame recall and mean logit (over the frames
    labelled ``c``) are compared with the intact model: the drops form a table ``silenced_class x class_name``. The
    null silences, ``null`` times, as many random units drawn among the units of the same layer closest in mean
    ``|h|`` (the ``match`` nearest of each flagged unit, units flagged for any class excluded), so "unit 37 is an
    LP unit" becomes a tested statement: silencing the LP units drops LP's recall beyond what silencing equally
    active units does, and not the others'.

    Parameters
    ----------
    model : RNNClassifier
    data : xarray.Dataset
        Features Dataset the scores are measured on.
    class_units : int or dict
        A number of units per class: the units of largest positive ``class_gap`` (:func:`rnnscope.analysis.
        specialisation` of a capture of ``rank_on``) of every class but the background; or a dict ``{class:
        unit ids}`` (``{class: {layer: unit ids}}`` for several layers).
    null : int
        Random draws (>= 100 advised for a p-value of 0.01).
    seed : int
    match : int
        Candidates per flagged unit for the matched draws.
    rank_on : xarray.Dataset, optional
        Data the units are flagged and their activity measured on (default ``data``; pass the training data to keep
        the test data out of the choice).
    batch_size, device, progress

    Returns
    -------
    xarray.Dataset
        ``recall_drop`` and ``logit_drop`` (silenced_class, class_name) with ``<score>_null_mean``,
        ``<score>_null_q95`` and ``<score>_p`` (one-sided: a drop at least as large as the matched units');
        ``recall`` and ``logit`` (class_name) of the intact model; ``n_silenced`` (silenced_class);
        ``attrs["units"]`` the silenced (layer, unit) pairs per class (a dict).

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0, record_duration_s=(40, 60)))
    >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=16, num_classes=5)
    >>> model = model.fit_normalizer(frames)
    >>> table = class_silencing(model, frames, progress=False)  # 5 units per class, 100 matched draws
    >>> table.recall_drop.dims, table.recall_drop_p.dims
    (('silenced_class', 'class_name'), ('silenced_class', 'class_name'))
    """
    func = "class_silencing"
    check_positive(null, name="null", func=func, integer=True)
    check_positive(match, name="match", func=func, integer=True)
    device = resolve_device(device, func=func)
    modes = {m: m.training for m in model.modules()}
    model.to(device).eval()
    try:
        sets = _unit_sets(model, class_units, data, rank_on, device, func)
        if not sets:
            raise AttributionError(f"{func}: no class has units to silence (no unit is more active for a class than "
                                   "for the others); pass class_units={class: unit ids}.")
        ranked = capture(model, _strip_run(data if rank_on is None else rank_on), var=["h"], device=device,
                         progress=False)
        activity = np.nan_to_num(np.asarray(analysis.unit_activity(ranked)["mean_abs"].values))  # (unit, layer)
        score = _Scorer(model, data, batch_size, device, func)
        base_recall, base_logit = score(None)
        rng = np.random.default_rng(seed)
        classes = list(sets)
        flagged = {pair for c in classes for pair in sets[c]}  # the null draws among units flagged for no class
        drops: dict[str, list] = {"recall_drop": [], "logit_drop": []}
        nulls: dict[str, list] = {"recall_drop": [], "logit_drop": []}
        from tqdm.auto import tqdm

        for c in tqdm(classes, desc="class silencing", leave=False, disable=not progress):
            recall, logit = score(_masks(model, sets[c], device))
            drops["recall_drop"].append(base_recall - recall)
            drops["logit_drop"].append(base_logit - logit)
            draws = [score(_masks(model, _matched(activity, sets[c], rng, match, flagged), device))
                     for _ in range(null)]
            nulls["recall_drop"].append([base_recall - r for r, _ in draws])
            nulls["logit_drop"].append([base_logit - g for _, g in draws])
    finally:
        for m, training in modes.items():
            m.train(training)
    dims = ("silenced_class", "class_name")
    data_vars: dict[str, tuple] = {"recall": (("class_name",), base_recall), "logit": (("class_name",), base_logit),
                 "n_silenced": (("silenced_class",), [len(sets[c]) for c in classes])}
    for name in drops:
        reference = np.array(drops[name])
        null_values = np.moveaxis(np.array(nulls[name]), 1, 0)  # (null, silenced, class)
        data_vars[name] = (dims, reference)
        data_vars.update(_null_vars(name, dims, reference, null_values, what="activity-matched random units"))
    return xr.Dataset(data_vars, coords={"silenced_class": classes, "class_name": list(model.class_names)},
                      attrs={"units": plain({c: sets[c] for c in classes}), "null": int(null),
                             "null_seed": int(seed), "match": int(match),
                             "definition": "drop of each class's frame recall and mean logit (on its frames) when "
                                           "the units flagged for silenced_class are silenced (h = 0 at every step)"})


# --------------------------------------------------------------------------------------------- patching


def _one_record(ds, event, name, event_name, func):
    if not isinstance(ds, xr.Dataset) or "features" not in ds.variables:
        raise AttributionError(f"The {name!r} parameter of {func} must be a features Dataset. Got "
                               f"{type(ds).__name__} instead.")
    ids = [str(v) for v in ds["event_id"].values] if "event_id" in ds.coords else []
    if event is None:
        if ds.sizes["event"] != 1:
            raise AttributionError(f"{func}: {name!r} holds {ds.sizes['event']} records; choose one with "
                                   f"{event_name}= (an event_id among {ids[:4]}... or a position).")
        event = 0
    position = ids.index(event) if isinstance(event, str) and event in ids else event
    if not isinstance(position, (int, np.integer)) or not 0 <= position < ds.sizes["event"]:
        raise AttributionError(f"The '{event_name}' parameter of {func} must be an event_id {ids[:4]}... or a position "
                               f"0..{ds.sizes['event'] - 1}. Got {event!r} instead.")
    n = int(ds["length"].values[position])
    x = np.asarray(ds["features"].isel(event=int(position), time=slice(0, n)).values, dtype=np.float32)
    return x, np.asarray(ds["time"].values[:n], dtype=np.float64), ids[position] if ids else str(position)


def _frame_span(times, span, name, func):
    start, stop = (float(v) for v in span)
    inside = np.flatnonzero((times >= start - 1e-9) & (times < stop - 1e-9))
    if inside.size == 0:
        raise AttributionError(f"The {name!r} parameter of {func} selects no frame of the record ({times[0]:g} to "
                               f"{times[-1]:g} s). Got {span!r} instead.")
    return int(inside[0]), int(inside[-1]) + 1


def _patched_logits(model, x, patches):
    """Logits of ``x`` (1, T, F) with, per layer, ``patches[l] = (a, b, unit index, h values, c values or None)``:
    the units' state replaced at frames ``a .. b - 1`` (the layer stepped there, fused elsewhere)."""
    inp = model.normalize(x)
    for l, layer in enumerate(model.layers):
        state = layer.initial_state(1, device=x.device, dtype=x.dtype)
        patch = patches.get(l)
        if patch is None:
            h, _ = layer(inp, state)
        else:
            a, b, index, h_src, c_src = patch
            head, state = layer(inp[:, :a], state)
            steps = []
            for t in range(a, b):
                h_t, state, _ = layer.step(inp[:, t], state)
                h_t = h_t.clone()
                h_t[:, index] = h_src[t - a]
                state = (h_t,) + tuple(state[1:])
                if c_src is not None:
                    c_t = state[1].clone()
                    c_t[:, index] = c_src[t - a]
                    state = (h_t, c_t)
                steps.append(h_t)
            tail, _ = layer(inp[:, b:], state)
            h = torch.cat([head, torch.stack(steps, 1), tail], dim=1)
        inp = h + inp if model.shortcuts[l] else h  # eval mode: no dropout between layers
    return model.head(inp)


def patch_activations(model, data: xr.Dataset, *, donor: xr.Dataset, units, frames, donor_start=None,
                      donor_event=None, event=None, device="auto") -> xr.Dataset:
    """Copy chosen units' states from a donor record into a record of ``data`` over chosen frames and report how
    the class probabilities change over time.

    The record of ``data`` runs through the model with, at each frame of ``frames``, the chosen units' ``h`` (and
    ``c`` for LSTM layers) replaced by their values in the donor record at the aligned frame (``donor_start``
    onwards); everything else, including the later frames, follows from the model's own equations (the patched
    layers step frame by frame over the patched frames). E.g. a VT onset's VT units copied into an LP record: does
    the model now see a VT?

    Parameters
    ----------
    model : RNNClassifier
    data : xarray.Dataset
        Features Dataset holding the record patched (one record, or pick it with ``event``).
    donor : xarray.Dataset
        Features Dataset holding the record the states are copied from (one record, or pick it with
        ``donor_event``).
    units : list of int or dict
        Unit ids (one-layer model) or ``{layer: unit ids}``.
    frames : (float, float)
        ``[start, stop)`` s of the patched record to patch.
    donor_start : float, optional
        Time (s) of the donor frame copied onto the first patched frame (default: the same time).
    donor_event, event : str or int, optional
        The donor's record and the patched record: an event_id or a position (default: the only one).
    device : str

    Returns
    -------
    xarray.Dataset
        ``prob`` (time, class_name) of the patched record, ``prob_clean`` of the intact one, ``prob_change``
        their difference; coordinate ``patched`` (time, bool); attrs naming the records, units and frames.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5)
    >>> model = model.fit_normalizer(frames)
    >>> out = patch_activations(model, frames.isel(event=[1]), donor=frames.isel(event=[0]), units=[0, 3],
    ...                         frames=(20.0, 30.0))
    >>> out.prob_change.dims, int(out.patched.sum())
    (('time', 'class_name'), 20)
    >>> float(abs(out.prob_change).where(out.time < 20.0).max()) < 1e-6  # nothing changes before the patch
    True
    """
    func = "patch_activations"
    x_src, t_src, src_id = _one_record(donor, donor_event, "donor", "donor_event", func)
    x_tgt, t_tgt, tgt_id = _one_record(data, event, "data", "event", func)
    a, b = _frame_span(t_tgt, frames, "frames", func)
    start = t_tgt[a] if donor_start is None else float(donor_start)
    s0, _ = _frame_span(t_src, (start, np.inf), "donor_start", func)
    if s0 + (b - a) > len(t_src):
        raise AttributionError(f"{func}: the donor record {src_id!r} has {len(t_src) - s0} frames from {start:g} s, "
                               f"fewer than the {b - a} patched frames; patch a shorter span or start earlier.")
    per_layer = units if isinstance(units, dict) else {0: units}
    device = resolve_device(device, func=func)
    modes = {m: m.training for m in model.modules()}
    model.to(device).eval()
    try:
        with torch.no_grad():
            _, traced = model.trace_layers(torch.from_numpy(x_src[None]).to(device))
            patches = {}
            for l, ids in per_layer.items():
                if not 0 <= int(l) < model.num_layers:
                    raise AttributionError(f"The 'units' parameter of {func} names layer {l}; the model has layers "
                                           f"0..{model.num_layers - 1}.")
                index = torch.as_tensor(np.ravel(ids), dtype=torch.long, device=device)
                if index.numel() and (int(index.min()) < 0 or int(index.max()) >= model.hidden_size):
                    raise AttributionError(f"The 'units' parameter of {func} names units {np.ravel(ids).tolist()} of "
                                           f"layer {l}, which has {model.hidden_size} units.")
                values = traced[int(l)]["variables"]
                h_src = values["h"][0, s0: s0 + b - a][:, index]
                c_src = values["c"][0, s0: s0 + b - a][:, index] if "c" in values else None
                patches[int(l)] = (a, b, index, h_src, c_src)
            x = torch.from_numpy(x_tgt[None]).to(device)
            clean = torch.softmax(model(x), -1)[0].cpu().numpy()
            patched = torch.softmax(_patched_logits(model, x, patches), -1)[0].cpu().numpy()
    finally:
        for m, training in modes.items():
            m.train(training)
    mask = np.zeros(len(t_tgt), dtype=bool)
    mask[a:b] = True
    dims = ("time", "class_name")
    return xr.Dataset({"prob": (dims, patched), "prob_clean": (dims, clean), "prob_change": (dims, patched - clean)},
                      coords={"time": t_tgt, "class_name": list(model.class_names), "patched": ("time", mask)},
                      attrs={"donor_event_id": src_id, "event_id": tgt_id, "donor_start_s": float(t_src[s0]),
                             "frames_s": [float(t_tgt[a]), float(t_tgt[b - 1])],
                             "units": plain({str(int(l)): np.ravel(u).tolist() for l, u in per_layer.items()})})

"""``rnnscope.capture``: a model and a features Dataset -> the run, every internal state with dims
(event, time, unit, layer).

The steps (one pass over the data, no per-step Python hooks):

1. check the model and the data (feature count, classes matched by name; the run uses the model's class order);
2. order records by length and group them in batches; cut long records into windows of ``time_chunk`` frames
   whose recurrent state is carried to the next window (identical to one pass, to float rounding);
3. per window, :meth:`RNNClassifier.trace_layers` runs every layer keeping every variable: on the CPU a native
   C++ step loop (:mod:`rnnscope.models._native`) writes the states straight into the run's arrays while it runs
   (capture gives each layer its destinations in the run's layout, :mod:`rnnscope.capturing._layout`);
   elsewhere the fused kernels plus a vectorised recovery (on the CPU about 2x slower: capture warns once per
   session when it falls back for a reason the user did not choose, see :func:`rnnscope.models.native_status`);
4. into a sink (:mod:`rnnscope.capturing._sinks`): numpy arrays in memory, or a zarr store written chunk by chunk
   (``store=``) as ``NAME.partial`` with a manifest and a checkpoint after every window, renamed to ``NAME`` when
   complete; an interrupted capture resumes from its checkpoint;
5. small summaries (:class:`rnnscope.io.SummaryAccumulator`: heat per class, unit and layer; activity; value
   ranges; the event_ids they describe) are accumulated on the way and stored.
"""
from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from .. import _version
from .._device import on_device, resolve_device
from .._overview import OVERVIEW_VARIABLES
from .._validation import FILL_DATASET, check_positive, first_nan_frames, stored_background, warn_nan_frames
from ..errors import InputWarning, NativeFallbackWarning
from ..io import STATE_ORDER, FrameIndex, SummaryAccumulator, window_values
from ..models._native import native_status
from ..schema import (
    SCHEMA_VERSION,
    STATE_VARIABLES,
    SUMMARY_VARIABLES,
    plain,
    segment_frames,
)
from ..schema import event_ids as record_ids  # event_ids is capture's parameter
from ._layout import with_group_sums
from ._sinks import _MemorySink
from ._store import _coords, _finish_store, _open_store

__all__ = ["capture"]  # rnnscope.capture_modules: ._any_model


# --------------------------------------------------------------------------------------------- checks


def _check_variables(model, variables) -> list[str]:
    available = [v for v in STATE_ORDER if any(v in STATE_VARIABLES[k] for k in model.cells)]
    if isinstance(variables, str):
        if variables == "all":
            return available
        variables = [variables]
    variables = list(variables)
    unknown = [v for v in variables if v not in available]
    if unknown or not variables:
        raise ValueError(
            f"The 'var' parameter of capture must be 'all' or a list drawn from {available} (the variables of "
            f"a {'/'.join(model.cells)} model). Got {variables!r} instead."
        )
    return [v for v in available if v in variables]


def _check_silence(model, silence) -> list[torch.Tensor | None] | None:
    """``silence={layer: units}`` -> keep masks (:func:`rnnscope.models._module_masks.classifier_keeps`), together
    with the units the model silences right now (inside ``experiments.silenced(model, ...)``)."""
    from ..models._module_masks import classifier_keeps, layer_keeps

    in_effect = layer_keeps(model)
    if silence is None:
        return in_effect
    keep = classifier_keeps(model, silence, func="capture")
    return keep if in_effect is None else [b if a is None else (a if b is None else a & b)
                                           for a, b in zip(keep, in_effect, strict=True)]


def _check_model(model, dataset, func="capture"):
    if not hasattr(model, "trace_layers"):
        raise TypeError(
            f"{func}: {type(model).__name__} has no recurrent states to capture; pass an rnnscope.models.RNNClassifier "
            "(wrap a PyTorch nn.LSTM/GRU/RNN with rnnscope.models.from_torch)."
        )
    for name in ("features", "label", "length"):
        if name not in dataset.variables:
            raise ValueError(
                f"{func}: the Dataset has no {name!r}; compute features first (rnnscope.features.compute)."
            )
    if dataset.sizes.get("event", 0) == 0:
        raise ValueError(f"{func}: the Dataset holds no record (event dimension is empty).")
    if dataset.sizes["feature"] != model.input_size:
        raise ValueError(
            f"{func}: the model expects {model.input_size} features per frame but the Dataset has "
            f"{dataset.sizes['feature']}. Compute features with the model's preset."
        )
    if hasattr(model, "check_input"):
        model.check_input(dataset, func)  # the sampling rate and feature configuration it was trained on


def _background(model, dataset, func="capture") -> str | None:
    """The run's background class: the data's ``attrs["background"]``, else the model's (a warning if they differ)."""
    data = stored_background(dataset.attrs)
    own = getattr(model, "background", None)
    if data is not None and own is not None and data != own:
        warnings.warn(f"{func}: the data declare {data!r} as the background class but the model {own!r}; the run "
                      f"keeps the data's ({data!r}).", InputWarning, stacklevel=3)
    return data if data is not None else own


# --------------------------------------------------------------------------------------------- run layout


def _run_attrs(model, dataset, variables, keep, device, window) -> dict:
    training = model.info.get("training", {})
    attrs = {k: v for k, v in dataset.attrs.items() if k != "background"}
    background = _background(model, dataset)
    if background is not None:
        attrs["background"] = background
    attrs.update({
        "schema_version": SCHEMA_VERSION,
        "class_names": list(model.class_names),
        "model_config": plain(model.config),
        "training_summary": plain(training),
        "capture_config": plain({"variables": variables, "time_chunk": int(window), "device": str(device),
                                     "silence": [[] if m is None else np.flatnonzero(~m.numpy()).tolist()
                                                 for m in keep] if keep else None}),
        **_version.provenance(seed=int(training.get("seed", dataset.attrs.get("seed", -1)))),
    })
    return attrs


def _base_dataset(model, dataset) -> xr.Dataset:
    """The data set's variables with labels and segment classes in the model's class order.

    Capturing a run again (e.g. the shipped example run) replaces its states, outputs and summaries.
    """
    mapping = model.class_index_map(list(dataset.attrs.get("class_names", model.class_names)))
    lookup = np.append(np.asarray(mapping, dtype=np.int64), -1)  # index -1 stays -1
    captured = {v for names in STATE_VARIABLES.values() for v in names} | {"prob", "pred", *SUMMARY_VARIABLES,
                                                                            *OVERVIEW_VARIABLES}
    base = dataset.drop_vars([v for v in dataset.variables if v in captured])
    base = base.drop_vars([c for c in ("unit", "layer", "variable") if c in base.coords])
    if np.array_equal(mapping, np.arange(len(mapping))) and dataset["label"].dtype == np.int16:
        return base  # classes already in the model's order
    base["label"] = (
        dataset["label"].dims,
        lookup[np.asarray(dataset["label"].values, dtype=np.int64)].astype(np.int16),
    )
    if "sample_label" in dataset:
        base["sample_label"] = (dataset["sample_label"].dims,
                                lookup[np.asarray(dataset["sample_label"].values, dtype=np.int64)].astype(np.int16))
    if "segment_class" in dataset:
        base["segment_class"] = ("segment", lookup[np.asarray(dataset["segment_class"].values, dtype=np.int64)]
                                 .astype(dataset["segment_class"].dtype))
    return base


# --------------------------------------------------------------------------------------------- capture


def capture(
    model,
    data,
    *,
    var: str | Sequence[str] = "all",
    device: str | torch.device = "auto",
    batch_size: int = 32,
    store: str | os.PathLike | None = None,
    silence=None,
    time_chunk: int = 4096,
    progress: bool = True,
    overwrite: bool = False,
    modules: str | Sequence[str] | None = None,
    sampling_rate: float | None = None,
    time_axis: int | None = None,
    labels=None,
    label_rate: float | None = None,
    class_names: Sequence[str] | None = None,
    event_ids: Sequence | None = None,
    module_batch: dict | None = None,
) -> xr.Dataset:
    """Run ``model`` over ``data`` and return the run: the data plus every internal state.

    Two paths, by the model and the data:

    - an rnnscope classifier (:class:`~rnnscope.models.RNNClassifier`, also from ``from_torch``) on a features
      Dataset: its layers traced by the native kernels straight into the run (the steps of this module's
      documentation);
    - **any** ``torch.nn.Module`` on what its ``forward`` takes (a tensor or array with batch first, or a tuple /
      dict of them: positional / keyword arguments, split into batches along dim 0): every ``nn.RNN`` (tanh, relu),
      ``nn.LSTM`` (also ``proj_size > 0``), ``nn.GRU`` inside it, every layer and direction, and every
      ``nn.RNNCell``/``nn.LSTMCell``/``nn.GRUCell`` called in the model's own loop (each call one step), recorded
      during the model's own forward (in eval mode; its outputs are not changed) and recovered exactly
      (:mod:`rnnscope.capturing._modules`). Packed sequences (packed inside the forward, or a ``PackedSequence``
      given as the data or one of the arguments: split by its sequences, repacked per batch) and given initial
      states work. Each layer and
      direction is one entry of ``layer``, with coordinates ``module``, ``module_layer``, ``direction``,
      ``layer_units`` (units of ``c`` and the gates; wider entries pad ``unit`` with NaN) and ``layer_h_units``.
      Modules with different step counts cannot share a run (one ``time`` axis): capture them all with
      :func:`rnnscope.capture_modules` (a dict ``{steps: run}``), or some with ``modules=``; ``capture`` says so.
      ``prob``/``pred`` are not stored; ``label`` and the segment table only with ``labels=``.

    Parameters
    ----------
    model : RNNClassifier or torch.nn.Module
        An rnnscope classifier (any cell, any number of layers, residual or not, or one made by ``from_torch``),
        or any PyTorch model holding recurrent modules.
    data : xarray.Dataset, or what the model's forward takes
        Features Dataset (``features``, ``label``, ``length``; waveform and spectrogram are kept when present) for
        an rnnscope classifier; else tensors/arrays with batch first (see above).
    var : "all" or list of str
        Which internal variables to store (``h`` always computed): ``h``, ``c``, ``input_gate``, ``forget_gate``,
        ``output_gate``, ``cell_input`` (LSTM family), ``update_gate``, ``reset_gate``, ``candidate`` (GRU).
        A variable a layer does not have is NaN for that layer.
    device : str
        ``"auto"`` picks CUDA, then MPS, then CPU.
    batch_size : int
        Records per batch (records are grouped by length).
    store : path, optional
        Write the run to this zarr store chunk by chunk (memory bounded by one window) instead of memory; the
        returned run is opened lazily from it. An interrupted capture to the same store resumes.
    silence : dict, optional
        ``{layer: units}``: units to silence (their ``h`` is 0 at every step inside the recurrence, so they feed
        nothing to the next step, layer, shortcut or head), ``layer`` the run's layer index and ``units`` the
        silenced unit ids or a boolean mask of the layer's units (True = silenced), as in
        :func:`rnnscope.experiments.silence` and :func:`rnnscope.experiments.silenced`.
    time_chunk : int
        Frames per window for long records (the recurrent state is carried across windows; a store's time
        chunks). An rnnscope classifier on a features Dataset only.
    progress : bool
        Show a progress bar over frames.
    overwrite : bool
        Replace an existing complete store at ``store``.
    modules : str or list of str, optional
        Any ``nn.Module``: the recurrent modules to capture, by name in ``model.named_modules()`` (default all).
    sampling_rate : float, optional
        Any ``nn.Module``: samples (or frames) per second of the input along ``time_axis``. With it, ``time`` is
        in seconds: a module's ``N`` steps over ``S`` input samples last ``S / sampling_rate / N`` s each and
        ``time`` is each step's centre (47 steps of a 60 s window: 1.28 s each). Without it, ``time`` counts steps.
    time_axis : int, optional
        Any ``nn.Module``: the input's time axis (e.g. -1 for waveforms ``(batch, channel, sample)``, 1 for frames
        ``(batch, time, feature)``); needed with ``sampling_rate`` or ``labels`` unless the input is 2-D.
    labels : int array (event, n), optional
        Any ``nn.Module``: class index per input sample (or at ``label_rate`` Hz), -1 unknown; each step gets the
        label at its centre. Stored as ``label`` with a segment table (one segment per stretch of one class) and the
        class summaries.
    label_rate : float, optional
        Any ``nn.Module``: samples per second of ``labels`` when they are not per input sample (1.0: per second).
    class_names : list of str, optional
        Any ``nn.Module``: names of the label indices (default ``class0``, ``class1``, ...).
    event_ids : sequence, optional
        Any ``nn.Module``: an id per event (default its position).
    module_batch : dict, optional
        Any ``nn.Module``: for a module run on ``k`` rows per event (a dilated RNN), ``{name: "stream_major" or
        "event_major"}``, how its rows hold the events (see :data:`rnnscope.capturing._modules.MODULE_BATCH_LAYOUTS`);
        the ``k`` streams are interleaved back in time.

    Returns
    -------
    xarray.Dataset
        The run (see :mod:`rnnscope.schema`): state variables (event, time, unit, layer) float32 NaN past
        ``length``, ``prob`` (event, time, class_name), ``pred`` (event, time), the summaries, and provenance attrs
        (``model_config``, ``feature_config``, ``training_summary``, ``capture_config``, ``versions``, ``created``,
        ``seed``) and ``background`` (the data's, else the model's, when one is known). Classes follow the
        model's order.

    Raises
    ------
    ValueError
        The features do not fit the model: another number of features, other classes, or (for a model that
        remembers its input, see :func:`rnnscope.train.fit`) another sampling rate or feature configuration; the
        message names both.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5)
    >>> run = rnnscope.capture(model, frames, progress=False)
    >>> run["c"].dims, run.sizes["unit"]
    (('event', 'time', 'unit', 'layer'), 8)

    Any PyTorch model, here a bidirectional LSTM over 2 s of frames at 100 Hz, ``(batch, time, feature)``:

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.LSTM(3, 6, batch_first=True, bidirectional=True))
    >>> run = rnnscope.capture(net, torch.randn(2, 200, 3), sampling_rate=100, time_axis=1, progress=False)
    >>> run["direction"].values.tolist(), float(run["time"][0]), run.sizes["time"]
    (['forward', 'backward'], 0.005, 200)

    The same, with units 0 and 2 of the backward direction (the run's layer 1) silenced:

    >>> quiet = rnnscope.capture(net, torch.randn(2, 200, 3), silence={1: [0, 2]}, progress=False)
    >>> bool((quiet["h"].isel(layer=1, unit=[0, 2]) == 0).all())
    True
    """
    func = "capture"
    dataset, variables, window = data, var, time_chunk
    if not (hasattr(model, "trace_layers") and isinstance(dataset, xr.Dataset)):
        from ._any_model import module_runs
        from ._modules import finish_runs

        runs = module_runs(model, data, var=var, device=device, batch_size=batch_size, silence=silence,
                           modules=modules, sampling_rate=sampling_rate, time_axis=time_axis, labels=labels,
                           label_rate=label_rate, class_names=class_names, event_ids=event_ids,
                           module_batch=module_batch, progress=progress, store=store, overwrite=overwrite)
        return finish_runs(runs, store, overwrite, func)
    _refuse_module_options(func, modules=modules, sampling_rate=sampling_rate, time_axis=time_axis, labels=labels,
                           label_rate=label_rate, class_names=class_names, event_ids=event_ids,
                           module_batch=module_batch)
    _check_model(model, dataset, func)
    check_positive(batch_size, name="batch_size", func=func, integer=True)
    check_positive(window, name="time_chunk", func=func, integer=True)
    variables = _check_variables(model, variables)
    keep = _check_silence(model, silence)
    device = resolve_device(device)
    base = _base_dataset(model, dataset)
    attrs = _run_attrs(model, base, variables, keep, device, window)
    n_events, n_time = base.sizes["event"], base.sizes["time"]
    hidden, n_layers, n_classes = model.hidden_size, model.num_layers, len(model.class_names)
    lengths = np.asarray(base["length"].values, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, n_events, batch_size)]
    segs = segment_frames(base)  # the segments of these records (the table refers to them by event_id)
    summaries = SummaryAccumulator(n_classes, segs["class"].to_numpy(np.int64), hidden, n_layers, variables)

    start_batch, start_frame, states0, done = 0, 0, None, []
    if store is None:
        sink = _MemorySink(variables, (n_events, n_time, hidden, n_layers), (n_events, n_time, n_classes))
    else:
        sink, resume = _open_store(Path(store), model, base, attrs, variables, batch_size, window, overwrite)
        if resume is not None:
            start_batch, start_frame, states0, done = (
                resume["batch"],
                resume["t_next"],
                resume["states"],
                resume["done"],
            )
            summaries.restore(resume["summaries"])

    model = on_device(model, device).eval()
    keep_dev = None if keep is None else [None if k is None else k.to(device) for k in keep]
    frame_index = FrameIndex(n_classes, segs)
    labels = np.asarray(base["label"].transpose("event", "time").values)
    total = int(lengths.sum())
    done_frames = int(sum(lengths[b].sum() for b in batches[:start_batch]))
    if start_batch < len(batches):
        done_frames += int(np.minimum(lengths[batches[start_batch]], start_frame).sum())
    bar = _bar(total, done_frames, progress)
    features = base["features"].transpose("event", "time", "feature")
    on_cpu = torch.device(device).type == "cpu"
    layer_variables = [layer.variables for layer in model.layers]
    has_kernels = any(layer.has_native_kernel for layer in model.layers)
    nan_frames = _NaNFrames(n_events)
    with torch.inference_mode():
        for b_index in range(start_batch, len(batches)):
            idx = batches[b_index]
            t_max = int(lengths[idx].max())
            t0 = start_frame if b_index == start_batch else 0
            states = _to_device(states0, device) if (b_index == start_batch and states0 is not None) else None
            if t0 == 0:
                sink.begin(idx)
            while t0 < t_max:
                t1 = min(t0 + window, t_max)
                active = lengths[idx] > t0  # records still running in this window (lengths sorted descending)
                n_active = int(active.sum())
                if states is not None and n_active < len(states[0][0]):
                    states = [tuple(s[:n_active] for s in st) for st in states]
                rows = idx[:n_active]
                n_valid = np.minimum(lengths[rows], t1) - t0
                x = _window_input(features, rows, t0, t1, n_valid)
                n_defined = nan_frames.update(rows, t0, x, n_valid, states)
                outputs = sink.outputs(rows, t0, t1 - t0, n_valid, layer_variables) if on_cpu else None
                frames = frame_index(rows, t0, t1, n_defined, labels[rows, t0:t1])
                outputs, sums = with_group_sums(outputs, frames, t1 - t0, n_classes, hidden)  # summed by the kernels
                logits, layers = model.trace_layers(torch.from_numpy(x).to(device), states, keep_dev, outputs)
                if on_cpu and has_kernels:
                    _warn_native_fallback()
                states = [layer["final_state"] for layer in layers]
                prob = _softmax(logits).cpu()
                layer_values = [{v: t.cpu().numpy() for v, t in layer["variables"].items()} for layer in layers]
                ranges = [layer.get("ranges") for layer in layers]
                # with outputs the layers' h buffers are not needed any more: the summaries may reuse them
                summaries.update(layer_values, *frames, n_defined, ranges, inplace=outputs is not None,
                                 sums=None if sums is None else [s.numpy() for s in sums])
                if outputs is None:
                    for v in variables:
                        sink.write_state(v, rows, t0, n_valid, [lv.get(v) for lv in layer_values])
                sink.write("prob", rows, t0, n_valid, prob.numpy())
                sink.write("pred", rows, t0, n_valid, _predicted(prob).numpy())
                bar.update(int(n_valid.sum()))
                t0 = t1
                if store is not None and t0 < t_max:
                    sink.checkpoint(batch=b_index, t_next=t0, states=_to_numpy(states), summaries=summaries, done=done)
            done.append(int(b_index))
            if store is not None:
                sink.checkpoint(batch=b_index + 1, t_next=0, states=[], summaries=summaries, done=done)
    bar.close()
    sink.pad(lengths)
    warn_nan_frames(func, record_ids(base), nan_frames.first, fill=FILL_DATASET)

    if store is None:
        new: dict[str, tuple[tuple[str, ...], Any]] = {
            name: (("event", "time", "unit", "layer"), arr) for name, arr in sink.arrays.items()
            if name not in ("prob", "pred")}
        new["prob"] = (("event", "time", "class_name"), sink.arrays["prob"])
        new["pred"] = (("event", "time"), sink.arrays["pred"])
        new.update(summaries.arrays(record_ids(base)))
        coords = {**_coords(model, base), "variable": ("variable", np.array(summaries.variables, dtype=str))}
        old = {name: array.variable for name, array in base.data_vars.items()}  # variables: nothing to align
        return xr.Dataset({**old, **new}, coords={**{name: c.variable for name, c in base.coords.items()}, **coords},
                          attrs=attrs)
    return _finish_store(sink, summaries.dataset(model.class_names, record_ids(base)), attrs)


def _window_input(features, rows, t0, t1, n_valid) -> np.ndarray:
    """The frames ``t0:t1`` of the records ``rows`` as float32, padding past each record's length set to 0 (the
    models are causal: it never reaches a valid frame, whatever it holds; NaN there would only make the padded
    states NaN). A view of the data when nothing is padded (never written)."""
    x = np.asarray(window_values(features, rows, t0, t1), dtype=np.float32)
    if (n_valid < t1 - t0).any():
        x = np.where((np.arange(t1 - t0)[None, :] < n_valid[:, None])[..., None], x, np.float32(0))
    return x if x.flags.writeable else x.copy()


class _NaNFrames:
    """The first NaN input frame of every record inside its length (``first``, -1: none), found window by window,
    and the frames of a window whose states are defined (before that frame: after it every state of a recurrent
    layer is NaN, as in PyTorch, and the summaries leave those frames out)."""

    def __init__(self, n_events: int):
        self.first = np.full(n_events, -1, dtype=np.int64)

    def update(self, rows, t0, x, n_valid, states) -> np.ndarray:
        """Record the window's NaN frames; return the defined frames of each row (at most ``n_valid``)."""
        found = first_nan_frames(x, n_valid)
        new = (found >= 0) & (self.first[rows] < 0)
        self.first[rows[new]] = t0 + found[new]
        cut = np.where(found >= 0, found, n_valid)
        if states is not None:  # a state carried in NaN (an earlier window, or a resumed capture): nothing defined
            carried = np.zeros(len(rows), dtype=bool)
            for state in states:
                for s in state:
                    carried |= s.reshape(len(rows), -1).isnan().any(-1).cpu().numpy()
            cut = np.where(carried, 0, cut)
        return np.minimum(cut, n_valid)


def _predicted(prob: torch.Tensor) -> torch.Tensor:
    """The class of highest probability, int16; -1 where the probabilities are NaN (missing input: no class).

    Examples
    --------
    >>> _predicted(torch.tensor([[0.2, 0.8], [float("nan"), float("nan")]])).tolist()
    [1, -1]
    """
    pred = prob.argmax(-1).to(torch.int16)
    return pred.masked_fill_(prob.isnan().any(-1), -1)


def _softmax(logits: torch.Tensor) -> torch.Tensor:
    """``torch.softmax(logits, -1)`` in place on a new buffer: for a handful of classes about 4x faster than
    PyTorch's kernel, which is built for long rows.

    Examples
    --------
    >>> z = torch.tensor([[0.0, 1.0, -1.0]])
    >>> bool(torch.allclose(_softmax(z), torch.softmax(z, -1)))
    True
    """
    e = (logits - logits.amax(-1, keepdim=True)).exp_()
    return e.div_(e.sum(-1, keepdim=True))


def _refuse_module_options(func, **options) -> None:
    given = [name for name, value in options.items() if value is not None]
    if given:
        raise ValueError(f"The {given} parameter(s) of {func} apply to models captured from any nn.Module, not to an "
                         "rnnscope classifier on a features Dataset (which knows its classes, times and labels). "
                         "Leave them out.")


_FALLBACK_WARNED = False


def _warn_native_fallback() -> None:
    """Once per session: capture on the CPU ran without the native kernels for a reason the user did not choose."""
    global _FALLBACK_WARNED
    if _FALLBACK_WARNED:
        return
    status = native_status()
    if status["used"] is not False or status["deliberate"]:
        return
    _FALLBACK_WARNED = True
    warnings.warn(
        f"capture is about 2x slower without the native kernels (same results): {status['reason']}. See "
        "rnnscope.models.native_status(); rnnscope.models.set_native(False) or RNNSCOPE_NATIVE=0 switches them off "
        "on purpose (and silences this warning).", NativeFallbackWarning, stacklevel=3)


def _bar(total, initial, enabled):
    if not enabled:
        class _Null:
            def update(self, n):
                pass

            def close(self):
                pass

        return _Null()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="frame", desc="capture", leave=False)


def _to_device(states, device):
    return [tuple(torch.from_numpy(np.asarray(s)).to(device) for s in st) for st in states]


def _to_numpy(states):
    return [tuple(s.cpu().numpy() for s in st) for st in states]

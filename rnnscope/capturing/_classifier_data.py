"""Capture of an rnnscope classifier from a tensor or array: the run of :func:`rnnscope.capture` for any
``nn.Module`` (:mod:`rnnscope.capturing._modules`: one ``layer`` entry per recurrent module, ``time`` in steps or in
seconds, labels optional), computed by the classifier's own pass instead of recording hooks.

The classifier knows its layers, so nothing has to be recorded, recovered or checked: per batch of events
:meth:`RNNClassifier.trace_layers` runs every layer once, the native kernels writing each variable straight into the
run's arrays (:mod:`rnnscope.capturing._layout`), the pass of a capture from a features Dataset, and the summaries are
accumulated on the way. The numbers are those of the hooked path, which traces the same layers on the same inputs
with the same kernels, without its extra forward, its recovery and its exactness check.

It serves classifiers whose layers are all PyTorch modules (``rnn``, ``lstm``, ``gru``: the modules the hooked path
finds, ``layers.<i>.rnn``); ``module_batch=`` and classifiers with a lazy LSTM layer take the hooked path.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .._device import on_device, resolve_device
from .._validation import FILL_ARRAY, check_positive, first_nan_frames, warn_nan_frames
from ..io import FrameIndex, SummaryAccumulator
from ..models._module_masks import silence_keeps
from ..models._torch_rnn import module_entries, module_kind
from ..models._trace import TraceOutputs
from ..schema import segment_frames
from ._layout import fill_missing, layer_outputs, with_group_sums
from ._module_runs import _check_labels, _class_names, _event_ids, run_layout, with_summaries
from ._modules import _attrs, _bar, _check_data, _check_modules, _check_variables, _input_length

__all__ = ["classifier_pass_applies", "trace_classifier"]

_MODULE_KINDS = ("rnn", "lstm", "gru")


def classifier_pass_applies(model, data, module_batch) -> bool:
    """Whether :func:`trace_classifier` serves this call: an rnnscope classifier whose layers are all PyTorch
    modules, on a tensor or array, without ``module_batch``.

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import RNNClassifier
    >>> x = torch.zeros(1, 5, 3)
    >>> classifier_pass_applies(RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=2), x, None)
    True
    >>> lazy = RNNClassifier("lazy_lstm", input_size=3, hidden_size=4, num_classes=2)
    >>> classifier_pass_applies(lazy, x, None)  # the hooked path
    False
    """
    return (hasattr(model, "trace_layers") and isinstance(model, torch.nn.Module)
            and isinstance(data, (torch.Tensor, np.ndarray)) and not module_batch
            and all(getattr(layer, "kind", None) in _MODULE_KINDS for layer in getattr(model, "layers", [None])))


def trace_classifier(model, data, variables="all", device="auto", batch_size=32, silence=None, *,
                     modules=None, sampling_rate=None, time_axis=None, labels=None, label_rate=None,
                     class_names=None, event_id=None, module_batch=None, progress=True) -> dict:
    """The runs of an rnnscope classifier on a tensor or array (see the module documentation); the arguments and
    the result are those of :func:`rnnscope.capturing._modules.record_modules` (``module_batch`` must be empty:
    :func:`classifier_pass_applies`)."""
    func = "capture"
    chosen = _check_modules(model, modules, func)
    variables = _check_variables(chosen, variables, func)
    check_positive(batch_size, name="batch_size", func=func, integer=True)
    if sampling_rate is not None:
        sampling_rate = float(check_positive(sampling_rate, name="sampling_rate", func=func))
    args, kwargs, n_events = _check_data(data, func)
    n_input = _input_length(args, kwargs, time_axis, func) if (sampling_rate is not None or time_axis is not None
                                                              or labels is not None) else None
    keeps = silence_keeps(model, silence, func=func, modules=chosen)
    device = resolve_device(device)
    x = args[0]
    steps = int(x.shape[1]) if x.dim() == 3 else 0
    names = [f"layers.{i}.rnn" for i in range(model.num_layers)]
    position = {names.index(name): p for p, name in enumerate(chosen)}  # model layer -> entry of the run
    entries = [(name, module_entries(m)[0]) for name, m in chosen.items()]
    kinds = [module_kind(m) for m in chosen.values()]
    layer_variables = [model.layers[i].variables for i in position]
    present = [v for v in variables if any(v in lv for lv in layer_variables)]
    shape = (n_events, steps, model.hidden_size, len(chosen))
    arrays = {v: np.empty(shape, dtype=np.float32) for v in present}
    lengths = np.full(n_events, steps, dtype=np.int64)
    ids = _event_ids(event_id, n_events, func)
    label_array = _check_labels(labels, n_events, label_rate, sampling_rate, func)
    names_of_classes = _class_names(class_names, label_array, func)
    attrs = _attrs(model, chosen, variables, keeps, device, sampling_rate, time_axis, n_input)
    run = run_layout(arrays, entries, kinds, steps, lengths, ids, attrs, sampling_rate, n_input, label_array,
                     label_rate, names_of_classes)
    first_nan = first_nan_frames(x)  # every frame of an array is inside its record: NaN there propagates
    summaries = _trace_batches(model, x, arrays, position, [keeps.get(n, [None])[0] for n in names], run, present,
                               device, int(batch_size), progress, np.where(first_nan >= 0, first_nan, steps))
    warn_nan_frames(func, ids, first_nan, fill=FILL_ARRAY)
    return {steps: with_summaries(run, summaries)}


def _trace_batches(model, x, arrays, position, keep, run, variables, device, batch_size, progress, defined):
    """Every batch of events through ``model.trace_layers`` into ``arrays``; returns the summaries (of the
    ``defined`` first frames of each event: its states are NaN after its first NaN input frame)."""
    n_events, steps = arrays[variables[0]].shape[:2]
    class_names = [str(c) for c in run["class_name"].values] if "class_name" in run.coords else []
    table = segment_frames(run) if "label" in run else pd.DataFrame({"event": np.zeros(0, np.int64), "class": [],
                                                                     "frame_start": [], "frame_stop": []})
    acc = SummaryAccumulator(len(class_names), table["class"].to_numpy(np.int64), model.hidden_size,
                             len(position), variables)
    frames = FrameIndex(len(class_names), table)
    labels = (np.asarray(run["label"].values, dtype=np.int64) if "label" in run
              else np.full((n_events, steps), -1, dtype=np.int64))
    tensors = {v: torch.from_numpy(a) for v, a in arrays.items()}  # the same memory, for the layers
    keep = [None if k is None else k.to(device) for k in keep]
    modes = {m: m.training for m in model.modules()}
    on_device(model, device).eval()
    on_cpu = torch.device(device).type == "cpu"
    bar = _bar(n_events, progress)
    try:
        with torch.inference_mode():
            for start in range(0, n_events, batch_size):
                rows = np.arange(start, min(start + batch_size, n_events))
                n_valid = np.full(rows.size, steps, dtype=np.int64)
                outputs = [_layer_outputs(tensors, layer, i, position, rows, steps, n_valid)
                           for i, layer in enumerate(model.layers)] if on_cpu else None
                window = frames(rows, 0, steps, defined[rows], labels[rows])
                outputs, sums = with_group_sums(outputs, window, steps, len(class_names), model.hidden_size,
                                                layers=list(position))  # summed by the kernels
                batch = torch.as_tensor(x[start: start + rows.size]).to(device)
                _, layers = model.trace_layers(batch, None, keep, outputs)
                values = [{v: t.cpu().numpy() for v, t in layers[i]["variables"].items()} for i in position]
                if not on_cpu:  # on a GPU the layers return their variables: copied in here
                    for p, layer_values in enumerate(values):
                        for v in variables:
                            arrays[v][rows, :, :, p] = layer_values[v] if v in layer_values else np.nan
                ranges = [layers[i].get("ranges") for i in position]
                acc.update([{"h": v["h"]} for v in values], *window, defined[rows], ranges if on_cpu else None,
                           inplace=on_cpu, sums=None if sums is None else [s.numpy() for s in sums])
                bar.update(rows.size)
    finally:
        bar.close()
        for m, training in modes.items():
            m.train(training)
    return acc.dataset(class_names, run["event_id"].values)


def _layer_outputs(tensors, layer, i, position, rows, steps, n_valid) -> TraceOutputs:
    """Where layer ``i`` writes for a batch: its entry of the run's arrays (variables it lacks set to NaN), or
    nowhere when the run leaves it out (``modules=``): only ``h``, the next layer's input, is made."""
    if i not in position:
        return TraceOutputs({}, torch.zeros(rows.size, dtype=torch.int64), 1, 1, torch.from_numpy(n_valid))
    fill_missing(tensors, layer.variables, rows, 0, steps, position[i])
    return layer_outputs(tensors, layer.variables, rows, 0, position[i], n_valid)

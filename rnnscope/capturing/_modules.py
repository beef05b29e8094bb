"""Capture of any PyTorch model: every state of every recurrent module inside it, recorded during its own forward.

The steps (:func:`record_modules`, what :func:`rnnscope.capture` and :func:`rnnscope.capture_modules` run for a
model that is not an rnnscope classifier, or for data that is not a features Dataset):

1. find the recurrent modules (``nn.RNN``/``nn.LSTM``/``nn.GRU`` and the cells, by their names in
   ``model.named_modules()``; ``modules=`` picks some) and check the data (a tensor or array with batch first, or a
   tuple/dict of them: the forward's positional or keyword arguments, split along the first dim);
2. per batch of events, run the model's own forward (eval mode, no autograd) with forward hooks that record each
   chosen module's input, initial state and output (:class:`_Recorder`); the model's outputs are not touched;
3. recover every internal variable of every layer and direction (:mod:`rnnscope.models._torch_rnn`: the cell
   protocol's trace on each layer, the cells' equations on each call) and check that the recovered output equals
   the module's own to float rounding (an error otherwise: the module was called in a way capture cannot model);
4. lay the modules out in runs (:func:`_assemble`): one entry of ``layer`` per layer and direction, coordinates
   ``module``, ``module_layer``, ``direction``, ``layer_units``; modules with the same number of steps (and valid
   steps per event) share a run, others go to separate runs.

Time: a module's ``N`` steps over an input of ``S`` samples (or frames) at ``sampling_rate`` Hz span
``S / sampling_rate / N`` s each (a module over 47 steps of a 60 s window has steps of 1.28 s); step ``k`` covers
``[k, k + 1)`` spans and its time is its centre. Labels (per input sample, or at ``label_rate`` Hz) are mapped to
each step's centre, like a frame's label is its centre sample's.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
import torch
import xarray as xr
from torch import nn
from torch.utils.hooks import RemovableHandle

from .. import _version
from .._device import on_device, resolve_device
from .._validation import check_positive
from ..models._module_masks import active_keeps, merge_keeps, silence_keeps, silenced
from ..models._torch_rnn import (
    RECURRENT_CELLS,
    TorchRNN,
    cell_internals,
    cell_state,
    module_kind,
    recurrent_modules,
)
from ..schema import SCHEMA_VERSION, STATE_VARIABLES, plain
from ._module_runs import RunBuffers, _assemble, _check_labels, _class_names, _event_ids, several_resolutions

__all__ = ["record_modules", "finish_runs", "MODULE_BATCH_LAYOUTS"]

_STATE_ORDER = ("h", "c", "input_gate", "forget_gate", "output_gate", "cell_input", "update_gate", "reset_gate",
                "candidate")
#: How the rows of a module whose batch is ``k`` times the data's hold the events (e.g. a dilated RNN): the ``k``
#: streams of an event are interleaved in time (stream ``j``'s step ``s`` is step ``s * k + j`` of the event).
#: ``"stream_major"``: row ``j * batch + event`` (``torch.cat([x[:, j::k] for j in range(k)], 0)``);
#: ``"event_major"``: row ``event * k + j`` (``x.reshape(batch, T // k, k, F).transpose(1, 2).reshape(-1, T // k, F)``).
MODULE_BATCH_LAYOUTS = ("stream_major", "event_major")
#: Largest difference allowed between a module's own output and the recovered one, relative to the output's
#: largest magnitude when it exceeds 1 (float32 rounding).
_TOLERANCE = 1e-4


# --------------------------------------------------------------------------------------------- checks


def _check_modules(model, modules, func) -> dict[str, nn.Module]:
    found = recurrent_modules(model)
    if not found:
        raise TypeError(
            f"{func}: {type(model).__name__} has no recurrent states to capture: it contains no nn.RNN, nn.LSTM, "
            "nn.GRU, nn.RNNCell, nn.LSTMCell or nn.GRUCell (pass a model that does, or an rnnscope.models."
            "RNNClassifier with a features Dataset)."
        )
    if modules is None:
        return found
    names = [modules] if isinstance(modules, str) else list(modules)
    unknown = [n for n in names if n not in found]
    if unknown or not names:
        raise ValueError(f"The 'modules' parameter of {func} must name recurrent modules of the model, as in "
                         f"model.named_modules(): {list(found)}. Got {unknown or names!r} instead.")
    return {n: m for n, m in found.items() if n in names}


def _check_variables(modules, variables, func) -> list[str]:
    available = [v for v in _STATE_ORDER if any(v in STATE_VARIABLES[module_kind(m)] for m in modules.values())]
    chosen = available if variables == "all" else ([variables] if isinstance(variables, str) else list(variables))
    unknown = [v for v in chosen if v not in available]
    if unknown or not chosen:
        raise ValueError(f"The 'var' parameter of {func} must be 'all' or a list drawn from {available} (the "
                         f"variables of the captured modules). Got {variables!r} instead.")
    return [v for v in available if v in chosen]


class _Packed:
    """A ``PackedSequence`` argument of the forward, held padded (batch first) with its lengths and packed again for
    each batch of events (``enforce_sorted=False``: the events keep their order)."""

    def __init__(self, packed):
        from torch.nn.utils.rnn import pad_packed_sequence

        self.padded, self.lengths = pad_packed_sequence(packed, batch_first=True)  # events in their given order

    def take(self, rows: slice, device):
        from torch.nn.utils.rnn import pack_padded_sequence

        return pack_padded_sequence(self.padded[rows].to(device), self.lengths[rows], batch_first=True,
                                    enforce_sorted=False)


def _is_packed(value) -> bool:
    from torch.nn.utils.rnn import PackedSequence

    return isinstance(value, PackedSequence)


def _as_batchable(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value) if value.dtype.kind in "biuf" else value
    if _is_packed(value):
        return _Packed(value)
    return value


def _check_data(data, func):
    """``(args, kwargs, n_events)``: the forward's arguments; tensors (and arrays) are split along dim 0, a
    ``PackedSequence`` by its sequences (it is a tuple of its fields, never a tuple of arguments)."""
    if _is_packed(data):
        data = (data,)
    if isinstance(data, xr.Dataset):
        raise TypeError(f"The 'data' parameter of {func} must be what the model's forward takes (a tensor or array "
                        "with batch first, or a tuple/dict of them) for a model that is not an rnnscope classifier. "
                        "Got an xarray.Dataset instead: pass its values, e.g. torch.from_numpy(ds['features'].values).")
    if isinstance(data, Mapping):
        args, kwargs = (), {k: _as_batchable(v) for k, v in data.items()}
    elif isinstance(data, (tuple, list)):
        args, kwargs = tuple(_as_batchable(v) for v in data), {}
    else:
        args, kwargs = (_as_batchable(data),), {}
    tensors = [v.padded if isinstance(v, _Packed) else v for v in (*args, *kwargs.values())
               if isinstance(v, (torch.Tensor, _Packed))]
    if not tensors or tensors[0].dim() == 0 or tensors[0].shape[0] == 0:
        raise ValueError(f"The 'data' parameter of {func} must hold at least one tensor or array with batch first "
                         f"(events along dim 0). Got {type(data).__name__} without one instead.")
    n = int(tensors[0].shape[0])
    bad = [tuple(t.shape) for t in tensors if t.dim() == 0 or t.shape[0] != n]
    if bad:
        raise ValueError(f"The 'data' parameter of {func} must hold tensors with the same number of events ({n}) "
                         f"along dim 0. Got shapes {bad} too.")
    return args, kwargs, n


def _input_length(args, kwargs, time_axis, func) -> int:
    first = next(v for v in (*args, *kwargs.values()) if isinstance(v, (torch.Tensor, _Packed)))
    if isinstance(first, _Packed):  # (batch, time, features) once padded: time is axis 1
        first, time_axis = first.padded, 1 if time_axis is None else time_axis
    if time_axis is None:
        if first.dim() != 2:
            raise ValueError(f"The 'time_axis' parameter of {func} must say which axis of the input is time (e.g. "
                             f"-1 for waveforms (batch, channel, sample), 1 for frames (batch, time, feature)) when "
                             f"the input is not 2-D (batch, time). Got time_axis=None for an input of shape "
                             f"{tuple(first.shape)} instead.")
        time_axis = 1
    if not -first.dim() < int(time_axis) < first.dim() or int(time_axis) % first.dim() == 0:
        raise ValueError(f"The 'time_axis' parameter of {func} must be an axis of the input other than the batch "
                         f"(1..{first.dim() - 1} or negative). Got {time_axis!r} for shape {tuple(first.shape)}.")
    return int(first.shape[int(time_axis)])


def _batch(values, rows: slice, device):
    def take(v):
        if isinstance(v, _Packed):
            return v.take(rows, device)
        return v[rows].to(device) if isinstance(v, torch.Tensor) else v
    args, kwargs = values
    return tuple(take(v) for v in args), {k: take(v) for k, v in kwargs.items()}


# --------------------------------------------------------------------------------------------- recording


class _Recorder:
    """Forward hooks recording every call of the chosen modules: ``calls[name]`` = list of ``(input, hx, output)``."""

    def __init__(self, modules: Mapping[str, nn.Module]):
        self.modules = modules
        self.calls: dict[str, list] = {name: [] for name in modules}
        self.handles: list[RemovableHandle] = []

    def __enter__(self):
        for name, module in self.modules.items():
            self.handles.append(module.register_forward_hook(self._hook(name), with_kwargs=True))
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()

    def clear(self):
        for calls in self.calls.values():
            calls.clear()

    def _hook(self, name):
        def hook(module, args, kwargs, output):
            inp = args[0] if args else kwargs.get("input")
            hx = args[1] if len(args) > 1 else kwargs.get("hx")
            self.calls[name].append((inp, hx, output))
        return hook


def _check_close(name, own, recovered, lengths, func, *, bounded: bool = False):
    """The recovered output against the module's own (valid frames only; NaN and infinities, e.g. from a gap in
    the input, must sit where the module's own are); ``recovered``: one tensor, or a list of the parts of the
    output along its last dimension, in order (a bidirectional module's directions), checked as one.

    Every valid element is compared. When both outputs are finite (the usual case) the check is three passes over
    them (the difference, its range and the output's range: :func:`_finite_check`); otherwise the
    element-wise comparison of NaN and infinities decides (:func:`_nonfinite_check`). Both give the same verdict
    and the same numbers for the same outputs, whole or in parts. ``bounded``: the output lies within [-1, 1] by
    its equations (an LSTM without projection, ``o * tanh(c)``; a tanh RNN), so its range is not read (the scale
    is 1, as it would be measured): one subtraction and its range."""
    parts = recovered if isinstance(recovered, (list, tuple)) else [recovered]
    valid = None
    if lengths is not None:
        valid = torch.arange(own.shape[1], device=own.device)[None, :] < lengths.to(own.device)[:, None]
    errors, scales, start = [], [], 0
    for part in parts:
        mine = own[..., start: start + part.shape[-1]] if len(parts) > 1 else own
        start += part.shape[-1]
        if valid is not None:
            mine, part = mine[valid], part[valid]
        # detached: attribution calls it while autograd records
        mine, part = mine.detach().float(), part.detach().float()
        checked = _finite_check(mine, part, bounded=bounded)
        err, scale = checked if checked is not None else _nonfinite_check(mine, part)
        errors.append(err)
        scales.append(scale)
    err = float("nan") if any(math.isnan(e) for e in errors) else max(errors)
    scale = max(scales)
    if not err <= _TOLERANCE * scale:
        raise RuntimeError(f"{func}: the states recovered for module {name!r} do not reproduce its own output "
                           f"(largest difference {err:.3g} > {_TOLERANCE * scale:.3g}). The module was called in a way "
                           "capture does not model (e.g. its weights changed during the forward); please report it.")


def _finite_check(own: torch.Tensor, recovered: torch.Tensor, *, bounded: bool = False,
                  ) -> tuple[float, float] | None:
    """``(largest |own - recovered|, max(1, largest |own|))`` when every element of both is finite, else None:
    one subtraction, its range and the output's range, read in one synchronisation. ``bounded``: ``own`` lies
    within [-1, 1], so the scale is 1 without reading its range (a finite difference means both are finite:
    NaN and infinities in either make it NaN or infinite)."""
    if not own.numel():
        return 0.0, 1.0
    values = (_ranges_numpy if own.device.type == "cpu" else _ranges_torch)(own, recovered, bounded)
    if not all(math.isfinite(v) for v in values):
        return None
    return values[0], 1.0 if bounded else max(1.0, *values[1:])  # relu RNNs are unbounded


def _ranges_numpy(own: torch.Tensor, recovered: torch.Tensor, bounded: bool) -> list[float]:
    """``[largest |own - recovered|]`` plus, unless ``bounded``, ``[-min(own), max(own)]``; NaN and infinities
    propagate. On the CPU: numpy on one thread (a few small reductions need no round trip through the thread
    pool, which costs more than they do when the other core is busy)."""
    mine = own.numpy()
    diff = np.subtract(mine, recovered.numpy())  # contiguous, whatever the views' strides
    values = [float(np.max(np.abs(diff, out=diff)))]
    return values if bounded else values + [float(-np.min(mine)), float(np.max(mine))]


def _ranges_torch(own: torch.Tensor, recovered: torch.Tensor, bounded: bool) -> list[float]:
    """:func:`_ranges_numpy` on any device: the ranges read in one synchronisation."""
    ranges = [*torch.aminmax(own - recovered)] + ([] if bounded else [*torch.aminmax(own)])
    low_high = torch.stack(ranges).tolist()
    return [max(-low_high[0], low_high[1]), *([] if bounded else [-low_high[2], low_high[3]])]


def _nonfinite_check(own: torch.Tensor, recovered: torch.Tensor) -> tuple[float, float]:
    """:func:`_finite_check` when NaN or infinities are present: NaN as the difference unless every non-finite
    element of ``own`` is matched exactly in ``recovered``, the differences and the scale over finite elements."""
    same = torch.isfinite(own) | (own == recovered) | (torch.isnan(own) & torch.isnan(recovered))
    finite = torch.isfinite(own)
    own, recovered = own[finite], recovered[finite]
    err = float((own - recovered).abs().max()) if own.numel() else 0.0
    err = err if bool(same.all()) else float("nan")
    scale = max(1.0, float(own.abs().max())) if own.numel() else 1.0
    return err, scale


def _fused_call(name, view: TorchRNN, call, keeps, variables, func, targets=None):
    """Variables of every entry of one call of a fused module: list of dict (batch, time, units), and lengths;
    ``targets(batch, steps)``: where each entry's variables go (:meth:`RunBuffers.targets`), or None."""
    inp, hx, output = call
    prepared = view.prepare(inp, hx)
    into = None if targets is None else targets(*prepared.x.shape[:2])
    # the last layer's directions apart: each checked against its part of the module's output, never joined
    out, _, traces = view.run(prepared, keeps, trace=True, variables=variables, outputs=into, join=False)
    own = view.prepare(output[0]).x  # the module's own output, batch first (padded for a packed one)
    bounded = (view.kind == "lstm" and not view.proj) or getattr(view.module, "nonlinearity", "") == "tanh"
    _check_close(name, own, out, prepared.lengths, func, bounded=bounded)
    return traces, prepared.lengths


def _cell_calls(name, cell, calls, keep, variables, func):
    """Every call of a cell is one step: its variables ``(batch, steps, units)`` from each call's input and state."""
    xs, hs, cs, outs = [], [], [], []
    for inp, hx, output in calls:
        x = inp if inp.dim() == 2 else inp.unsqueeze(0)
        h_prev, c_prev = cell_state(cell, inp, hx)
        xs.append(x)
        hs.append(h_prev.reshape(x.shape[0], -1))
        cs.append(None if c_prev is None else c_prev.reshape(x.shape[0], -1))
        outs.append((output[0] if isinstance(output, tuple) else output).reshape(x.shape[0], -1))
    sizes = {x.shape[0] for x in xs}
    if len(sizes) != 1:
        raise ValueError(f"{func}: the cell {name!r} was called with batches of different sizes {sorted(sizes)} in one "
                         "forward; capture treats every call as one step of the same rows.")
    x, h_prev = torch.stack(xs, 1), torch.stack(hs, 1)
    c_prev = None if cs[0] is None else torch.stack(cs, 1)
    values = cell_internals(cell, x, h_prev, c_prev, keep)
    _check_close(name, torch.stack(outs, 1), values["h"], None, func)
    return [{k: v for k, v in values.items() if k == "h" or k in variables}]


def _module_values(name, module, view, calls, keeps, variables, func, targets=None):
    """All entries of one module for one batch: (list of dict var -> (rows, steps, units), lengths or None);
    ``targets``: see :func:`_fused_call` (used when the module was called once)."""
    if not calls:
        raise RuntimeError(f"{func}: the module {name!r} was not called by the model's forward; leave it out with "
                           "modules=[...] (the names of the modules the forward uses).")
    if isinstance(module, RECURRENT_CELLS):
        return _cell_calls(name, module, calls, (keeps or [None])[0], variables, func), None
    if len(calls) == 1:
        return _fused_call(name, view, calls[0], keeps, variables, func, targets)
    parts = [_fused_call(name, view, call, keeps, variables, func) for call in calls]
    if len(parts) == 1:
        return parts[0]
    if any(lengths is not None for _, lengths in parts) or len({p[0][0]["h"].shape[0] for p in parts}) != 1:
        raise ValueError(f"{func}: the module {name!r} was called {len(parts)} times in one forward with packed "
                         "sequences or different batches; capture joins several calls only as consecutive stretches "
                         "of the same rows.")
    joined = [{k: torch.cat([p[0][i][k] for p in parts], 1) for k in parts[0][0][i]} for i in range(len(parts[0][0]))]
    return joined, None


def _to_events(name, entries, lengths, n_rows, layout, func):
    """Rows of a module -> events: its batch is the data's (nothing to do) or ``k`` times it (``layout``)."""
    rows = entries[0]["h"].shape[0]
    if rows == n_rows:
        return entries, lengths
    if rows % n_rows or layout is None:
        raise ValueError(f"{func}: the module {name!r} ran on {rows} rows for a batch of {n_rows} events. When its "
                         f"batch is k times the data's (a dilated RNN), say how rows hold events with "
                         f"module_batch={{{name!r}: one of {list(MODULE_BATCH_LAYOUTS)}}}.")
    if lengths is not None:
        raise ValueError(f"{func}: the module {name!r} has packed sequences and {rows // n_rows} rows per event; "
                         "module_batch does not support packed sequences.")
    k = rows // n_rows
    out = []
    for entry in entries:
        moved = {}
        for var, v in entry.items():
            steps = v.shape[1]
            grouped = v.reshape(k, n_rows, steps, -1).transpose(0, 1) if layout == "stream_major" \
                else v.reshape(n_rows, k, steps, -1)
            moved[var] = grouped.permute(0, 2, 1, 3).reshape(n_rows, steps * k, -1)  # step s of stream j -> s*k+j
        out.append(moved)
    return out, None


# --------------------------------------------------------------------------------------------- capture


def record_modules(
    model: nn.Module,
    data,
    variables: str | Sequence[str] = "all",
    device: str | torch.device = "auto",
    batch_size: int = 32,
    store=None,
    silence=None,
    *,
    modules: str | Sequence[str] | None = None,
    sampling_rate: float | None = None,
    time_axis: int | None = None,
    labels=None,
    label_rate: float | None = None,
    class_names: Sequence[str] | None = None,
    event_id: Sequence | None = None,
    module_batch: Mapping[str, str] | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[int, xr.Dataset] | xr.Dataset:  # long: one documented pass (checks, the batch loop, the runs)
    """:func:`rnnscope.capture` and :func:`rnnscope.capture_modules` for any ``nn.Module`` (see the module
    documentation): the runs by step count, or with ``store`` the one run written there chunk by chunk and opened
    from it (:func:`finish_runs` makes the result of ``capture``)."""
    func = "capture"
    if not isinstance(model, nn.Module):
        raise TypeError(f"The 'model' parameter of {func} must be a torch.nn.Module. Got {type(model).__name__} "
                        "instead.")
    chosen = _check_modules(model, modules, func)
    variables = _check_variables(chosen, variables, func)
    check_positive(batch_size, name="batch_size", func=func, integer=True)
    if sampling_rate is not None:
        sampling_rate = float(check_positive(sampling_rate, name="sampling_rate", func=func))
    layouts = dict(module_batch or {})
    bad = {k: v for k, v in layouts.items() if k not in chosen or v not in MODULE_BATCH_LAYOUTS}
    if bad:
        raise ValueError(f"The 'module_batch' parameter of {func} must map captured modules {list(chosen)} to one of "
                         f"{list(MODULE_BATCH_LAYOUTS)}. Got {bad!r} instead.")
    args, kwargs, n_events = _check_data(data, func)
    n_input = _input_length(args, kwargs, time_axis, func) if (sampling_rate is not None or time_axis is not None
                                                              or labels is not None) else None
    keeps = merge_keeps(active_keeps(model, chosen),  # units silenced around this capture (experiments.silenced)
                        silence_keeps(model, silence, func=func, modules=chosen))
    ids = _event_ids(event_id, n_events, func)  # checked before any forward
    label_array = _check_labels(labels, n_events, label_rate, sampling_rate, func)
    names = _class_names(class_names, label_array, func)
    device = resolve_device(device)
    model = on_device(model, device)
    attrs = _attrs(model, chosen, variables, keeps, device, sampling_rate, time_axis, n_input)
    sink = None
    if store is not None:
        from ._module_store import ModuleStore, fingerprint

        options = {"sampling_rate": sampling_rate, "time_axis": time_axis, "labels": None if label_array is None
                   else [list(label_array.shape), int(label_array.sum())], "label_rate": label_rate,
                   "class_names": names, "event_id": ids.tolist(), "module_batch": layouts,
                   "silence": attrs["capture_config"]["silence"]}
        sink = ModuleStore(store, chosen, variables, n_events, attrs,
                           fingerprint(model, chosen, variables, batch_size, (*args, *kwargs.values()), options),
                           overwrite=overwrite, sampling_rate=sampling_rate, n_input=n_input, labels=label_array,
                           label_rate=label_rate, class_names=names, ids=ids, func=func)
    blocks: dict[str, list] = {name: [] for name in chosen}
    # in memory on the CPU, the traces are written straight into the run's layer-first buffers
    buffers = RunBuffers({n: m for n, m in chosen.items() if n not in layouts}, variables, n_events) \
        if sink is None and device.type == "cpu" and set(chosen) - set(layouts) else None

    def keep(start, n_rows, batch):
        if sink is not None:
            sink.add(start, n_rows, batch)
        else:
            for name in chosen:
                blocks[name].append(batch[name])

    _forward_batches(model, chosen, (args, kwargs), n_events, batch_size, device, keeps, variables, layouts, keep,
                     done=set() if sink is None else sink.done, progress=progress, func=func, buffers=buffers)
    if sink is not None:
        return sink.finish()
    runs = _assemble(blocks, chosen, variables, attrs, sampling_rate=sampling_rate, n_input=n_input,
                     labels=label_array, label_rate=label_rate, class_names=names, ids=ids, func=func,
                     buffers=buffers)
    return runs


def _forward_batches(model, chosen, values, n_events, batch_size, device, keeps, variables, layouts, keep, *, done,
                     progress, func, buffers: RunBuffers | None = None) -> None:
    """The model's own forward batch by batch, every chosen module recorded and its states recovered;
    ``keep(start, n_rows, batch)`` receives each batch (module -> (entries' variables, lengths)), in order. Batches
    whose first event is in ``done`` are skipped (a resumed store). With ``buffers``, the traces are written
    there (:class:`RunBuffers`) and the batch's variables are views of them."""
    starts = [s for s in range(0, n_events, int(batch_size)) if s not in done]
    views = {name: None if isinstance(m, RECURRENT_CELLS) else TorchRNN.of(m) for name, m in chosen.items()}
    modes = {m: m.training for m in model.modules()}
    model.eval()
    bar = _bar(n_events, progress, initial=n_events - sum(min(batch_size, n_events - s) for s in starts))
    try:
        with _Recorder(chosen) as recorder, silenced(model, keeps), torch.no_grad():
            for start in starts:
                rows = slice(start, min(start + int(batch_size), n_events))
                n_rows = rows.stop - rows.start
                b_args, b_kwargs = _batch(values, rows, device)
                recorder.clear()
                model(*b_args, **b_kwargs)
                batch = {}
                for name, module in chosen.items():
                    targets = None if buffers is None else partial(buffers.targets, name, rows)
                    entries, lengths = _module_values(name, module, views[name], recorder.calls[name],
                                                      keeps.get(name), variables, func, targets)
                    entries, lengths = _to_events(name, entries, lengths, n_rows, layouts.get(name), func)
                    batch[name] = ([{k: v.detach().to("cpu", torch.float32).numpy() for k, v in e.items()}
                                    for e in entries], None if lengths is None else lengths.cpu().numpy())
                recorder.clear()
                keep(start, n_rows, batch)
                bar.update(n_rows)
    finally:
        bar.close()
        _restore_modes(model, modes)


def finish_runs(runs, store, overwrite: bool, func: str):
    """The result of :func:`rnnscope.capture`: the one run, or the run saved to ``store`` and opened from it (a run
    already written to ``store`` as it was captured is returned as it is); an error naming
    :func:`rnnscope.capture_modules` and ``modules=`` when the modules form several runs."""
    if isinstance(runs, xr.Dataset):
        return runs
    if len(runs) > 1:
        raise several_resolutions({steps: list(dict.fromkeys(str(m) for m in run["module"].values))
                                   for steps, run in runs.items()}, func)
    if store is None:
        return next(iter(runs.values()))
    from .. import io

    path = io.save_run(next(iter(runs.values())), store) if overwrite or not _exists(store) else None
    if path is None:
        raise FileExistsError(f"{func}: {store} exists; pass overwrite=True to replace it or choose another store.")
    return io.open_run(path)


def _exists(store) -> bool:
    from pathlib import Path

    return Path(store).exists()


def _restore_modes(model: nn.Module, modes: dict) -> None:
    """Put every module back in the mode it had (``modes``: module -> training): nothing when none changed, one
    ``model.train(mode)`` when all had one mode (``train`` recurses: once per module would cost the square)."""
    if all(m.training == training for m, training in modes.items()):
        return
    if len(set(modes.values())) == 1:
        model.train(next(iter(modes.values())))
        return
    for m, training in modes.items():
        m.training = training


def _attrs(model, chosen, variables, keeps, device, sampling_rate, time_axis, n_input) -> dict:
    described = {}
    for name, m in chosen.items():
        info = {"type": type(m).__name__, "input_size": int(m.input_size), "hidden_size": int(m.hidden_size)}
        if not isinstance(m, RECURRENT_CELLS):
            info.update({"num_layers": int(m.num_layers), "bidirectional": bool(m.bidirectional),
                         "batch_first": bool(m.batch_first), "proj_size": int(getattr(m, "proj_size", 0) or 0)})
        if isinstance(m, (nn.RNN, nn.RNNCell)):
            info["nonlinearity"] = m.nonlinearity
        described[name] = info
    attrs = {
        "schema_version": SCHEMA_VERSION,
        "class_names": [],
        "model_config": plain({"model": type(model).__name__, "modules": described}),
        "capture_config": plain({
            "variables": variables, "modules": list(chosen), "device": str(device), "time_axis": time_axis,
            "input_length": n_input,
            "silence": {name: [[] if k is None else np.flatnonzero(~k.cpu().numpy()).tolist() for k in masks]
                        for name, masks in keeps.items()} or None}),
        **_version.provenance(),
    }
    if sampling_rate is not None:
        attrs["sampling_rate"] = sampling_rate
    return attrs


def _bar(total, enabled, initial: int = 0):
    if not enabled:
        class _Null:
            def update(self, n):
                pass

            def close(self):
                pass

        return _Null()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="event", desc="capture", leave=False)

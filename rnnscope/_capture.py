"""``rnnscope.capture``: a model and a features Dataset -> the run, every internal state with dims
(event, time, unit, layer).

The steps (one pass over the data, no per-step Python hooks):

1. check the model and the data (feature count, classes matched by name; the run uses the model's class order);
2. order records by length and group them in batches; cut long records into windows of ``window`` frames whose
   recurrent state is carried to the next window (identical to one pass, to float rounding);
3. per window, :meth:`RNNClassifier.trace_layers` runs every layer keeping every variable: on the CPU a native
   C++ step loop (:mod:`rnnscope.models._native`; TorchScript when no compiler is available) writes the states
   straight into the run's arrays while it runs; on a GPU the fused kernels plus a vectorised recovery;
4. into a sink: numpy arrays in memory (written in place, frames past each record's end set to NaN at the end),
   or a zarr store written chunk by chunk (``store=``) as ``NAME.partial`` with a manifest and a checkpoint after
   every window, renamed to ``NAME`` when complete; an interrupted capture resumes from its checkpoint;
5. small summaries (heat per class, unit and layer; activity; value ranges) are accumulated on the way and stored.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from . import _version, io
from ._device import resolve_device
from ._segments import segment_frames
from ._validation import check_positive
from .models._cells import valid_range
from .schema import SCHEMA_VERSION, STATE_VARIABLES, SUMMARY_VARIABLES, json_attr

__all__ = ["capture"]

_STATE_ORDER = ("h", "c", "input_gate", "forget_gate", "output_gate", "cell_input", "update_gate", "reset_gate",
                "candidate")
_CHECKPOINT = "rnnscope_checkpoint.npz"


# --------------------------------------------------------------------------------------------- checks


def _check_variables(model, variables) -> list[str]:
    available = [v for v in _STATE_ORDER if any(v in STATE_VARIABLES[k] for k in model.cells)]
    if isinstance(variables, str):
        if variables == "all":
            return available
        variables = [variables]
    variables = list(variables)
    unknown = [v for v in variables if v not in available]
    if unknown or not variables:
        raise ValueError(
            f"The 'variables' parameter of capture must be 'all' or a list drawn from {available} (the variables of "
            f"a {'/'.join(model.cells)} model). Got {variables!r} instead."
        )
    return [v for v in available if v in variables]


def _check_unit_mask(model, unit_mask) -> list[torch.Tensor | None] | None:
    """``unit_mask``: per layer, the units to silence (see :func:`rnnscope.models._checks.layer_masks`); keep masks."""
    from .models._checks import layer_masks

    if unit_mask is None:
        return None
    return layer_masks(unit_mask, model.num_layers, model.hidden_size, name="unit_mask", func="capture", silenced=True)


def _check_model(model, dataset, func="capture"):
    if not hasattr(model, "trace_layers"):
        raise TypeError(
            f"{func}: {type(model).__name__} has no recurrent states to capture; pass an rnnscope.models.RNNClassifier "
            "(wrap a PyTorch nn.LSTM/GRU/RNN with rnnscope.models.from_torch)."
        )
    for name in ("features", "label", "length"):
        if name not in dataset.variables:
            raise ValueError(f"{func}: the Dataset has no {name!r}; compute features first (rnnscope.features.compute).")
    if dataset.sizes.get("event", 0) == 0:
        raise ValueError(f"{func}: the Dataset holds no record (event dimension is empty).")
    if dataset.sizes["feature"] != model.input_size:
        raise ValueError(
            f"{func}: the model expects {model.input_size} features per frame but the Dataset has "
            f"{dataset.sizes['feature']}. Compute features with the model's preset."
        )


# --------------------------------------------------------------------------------------------- summaries


class _Summaries:
    """Accumulates heat per class (segment- and frame-weighted), activity and value ranges during the pass.

    Works on whole batch windows as torch tensors (one ``index_add_`` per layer and kind of sum), never per record.
    """

    def __init__(self, n_classes, n_segments, hidden, n_layers, variables):
        self.cls_sum = np.zeros((n_classes, hidden, n_layers))
        self.cls_count = np.zeros(n_classes)
        self.seg_sum = np.zeros((n_segments, hidden, n_layers))
        self.seg_count = np.zeros(n_segments)
        self.all_sum = np.zeros((hidden, n_layers))
        self.all_count = 0.0
        self.vmin = np.full((len(variables), n_layers), np.inf)
        self.vmax = np.full((len(variables), n_layers), -np.inf)
        self.variables = variables

    def update(self, layer_values, cls_idx, segments, n_valid, ranges=None, inplace=False):
        """One window of one batch.

        ``layer_values``: per layer, variable -> CPU tensor (rows, n, H); ``cls_idx``: (rows * n,) int64, the class of
        a valid labelled frame, ``n_classes`` for a valid unlabelled frame, ``n_classes + 1`` past the record's end;
        ``segments``: ``(row, lo, hi, segment)`` int64 arrays, the frames ``lo:hi`` of the window (valid frames only)
        that belong to each segment overlapping it (segments may overlap); ``n_valid``: valid frames per row
        (non-increasing: rows are sorted by length); ``ranges``: per layer, variable -> (min, max) over the valid frames
        when the pass measured them (:meth:`RecurrentLayer.trace_into`), else None (then taken from ``layer_values``);
        ``inplace``: ``h`` may be overwritten (by its absolute value).
        """
        n_classes, hidden = self.cls_count.size, self.all_sum.shape[0]
        counts = np.bincount(cls_idx, minlength=n_classes + 2)
        self.cls_count += counts[:n_classes]
        self.all_count += float(counts[: n_classes + 1].sum())
        row, lo, hi, seg = segments
        n = next(iter(layer_values[0].values())).shape[1]
        frame_seg = None
        if seg.size:
            self.seg_count[seg] += hi - lo
            frame_seg = _frame_segments(row * n + lo, hi - lo, len(n_valid) * n)
            if frame_seg is None:  # overlapping segments: differences of a running sum instead
                row_t, lo_t, hi_t = (torch.from_numpy(a) for a in (row, lo, hi))
        cls_t = torch.from_numpy(cls_idx)
        for layer, values in enumerate(layer_values):
            h_abs = values["h"].abs_() if inplace else values["h"].abs()
            flat = h_abs.reshape(-1, hidden)
            sums = torch.zeros(n_classes + 2, hidden, dtype=flat.dtype).index_add_(0, cls_t, flat).double().numpy()
            self.cls_sum[:, :, layer] += sums[:n_classes]
            self.all_sum[:, layer] += sums[: n_classes + 1].sum(0)
            if frame_seg is not None:  # every frame in at most one segment: one index_add over the window
                seg_sums = torch.zeros(seg.size + 1, hidden, dtype=flat.dtype).index_add_(0, frame_seg, flat)
                self.seg_sum[seg, :, layer] += seg_sums[:-1].double().numpy()
            elif seg.size:
                running = torch.zeros(h_abs.shape[0], n + 1, hidden, dtype=torch.float64)
                torch.cumsum(h_abs, dim=1, dtype=torch.float64, out=running[:, 1:])
                self.seg_sum[seg, :, layer] += (running[row_t, hi_t] - running[row_t, lo_t]).numpy()
        for j, var in enumerate(self.variables):
            for layer, values in enumerate(layer_values):
                if ranges is not None and ranges[layer] is not None:
                    measured = ranges[layer].get(var)
                else:
                    measured = None if values.get(var) is None else valid_range(values[var], n_valid)
                if measured is not None:
                    self.vmin[j, layer] = min(self.vmin[j, layer], measured[0])
                    self.vmax[j, layer] = max(self.vmax[j, layer], measured[1])

    def state(self) -> dict:
        return {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)} | {"all_count": self.all_count}

    def restore(self, saved) -> None:
        for k in ("cls_sum", "cls_count", "seg_sum", "seg_count", "all_sum", "vmin", "vmax"):
            setattr(self, k, np.array(saved[k]))
        self.all_count = float(saved["all_count"])

    def dataset(self, seg_class, class_names, n_layers, hidden) -> xr.Dataset:
        with np.errstate(invalid="ignore", divide="ignore"):
            seen = self.seg_count > 0  # segments with at least one valid frame
            seg_mean = np.where(seen[:, None], self.seg_sum.reshape(seen.size, -1) / np.maximum(self.seg_count, 1)[:, None], 0)
            members = (np.asarray(seg_class)[None, :] == np.arange(len(class_names))[:, None]) & seen[None, :]
            n_members = members.sum(1)
            heat = (members.astype(np.float64) @ seg_mean) / np.where(n_members > 0, n_members, np.nan)[:, None]
            heat = heat.reshape(len(class_names), hidden, n_layers)
            heat_frame = self.cls_sum / self.cls_count[:, None, None]
            activity = self.all_sum / self.all_count if self.all_count else np.full_like(self.all_sum, np.nan)
        vmin = np.where(np.isfinite(self.vmin), self.vmin, np.nan)
        vmax = np.where(np.isfinite(self.vmax), self.vmax, np.nan)
        dims3 = ("class_name", "unit", "layer")
        return xr.Dataset({
            "summary_heat": (dims3, heat.astype(np.float32)),
            "summary_heat_frame": (dims3, heat_frame.astype(np.float32)),
            "summary_activity": (("unit", "layer"), activity.astype(np.float32)),
            "summary_min": (("variable", "layer"), vmin.astype(np.float32)),
            "summary_max": (("variable", "layer"), vmax.astype(np.float32)),
        }, coords={"variable": ("variable", np.array(self.variables))})


def _ranges(starts, counts):
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, without a Python loop."""
    return np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(int(counts.sum()))


def _frame_segments(starts, counts, size):
    """Position of each frame's segment in ``starts`` (flat frame positions of the window), ``len(starts)`` for
    frames outside every segment, as an int64 tensor of ``size``; None when segments overlap."""
    ids = np.full(size, starts.size, dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    ends = starts[order] + counts[order]
    if np.any(starts[order][1:] < ends[:-1]):
        return None
    ids[_ranges(starts, counts)] = np.repeat(np.arange(starts.size), counts)
    return torch.from_numpy(ids)


class _FrameIndex:
    """Class of every frame and the segments overlapping a batch window, for :meth:`_Summaries.update`."""

    def __init__(self, labels, n_classes, segs):
        self.labels = labels
        self.n_classes = n_classes
        order = np.argsort(segs["event"].to_numpy(np.int64), kind="stable")
        self.event = segs["event"].to_numpy(np.int64)[order]
        self.start = segs["frame_start"].to_numpy(np.int64)[order]
        self.stop = segs["frame_stop"].to_numpy(np.int64)[order]
        self.segment = segs["segment"].to_numpy(np.int64)[order]

    def __call__(self, rows, t0, t1, n_valid):
        n = t1 - t0
        valid = np.arange(n)[None, :] < n_valid[:, None]
        labels = np.asarray(self.labels[rows, t0:t1], dtype=np.int64)
        cls_idx = np.where(valid, np.where(labels >= 0, labels, self.n_classes), self.n_classes + 1)
        first = np.searchsorted(self.event, rows, side="left")
        last = np.searchsorted(self.event, rows, side="right")
        counts = last - first
        take = _ranges(first, counts)  # the segment rows of each record, record after record
        row = np.repeat(np.arange(len(rows)), counts)
        lo = np.clip(self.start[take] - t0, 0, n_valid[row])
        hi = np.clip(self.stop[take] - t0, 0, n_valid[row])
        keep = hi > lo
        return cls_idx.reshape(-1), (row[keep], lo[keep], hi[keep], self.segment[take][keep])


# --------------------------------------------------------------------------------------------- sinks


class _MemorySink:
    """numpy arrays in memory; blocks are written whole (frames past a record's end included) and
    :meth:`pad` sets everything past each record's length at the end (NaN, -1 for ``pred``)."""

    def __init__(self, variables, shape_state, shape_prob):
        self.arrays = {v: np.empty(shape_state, dtype=np.float32) for v in variables}
        self.tensors = {v: torch.from_numpy(a) for v, a in self.arrays.items()}  # the same memory, for the layers
        self.arrays["prob"] = np.empty(shape_prob, dtype=np.float32)
        self.arrays["pred"] = np.empty(shape_prob[:2], dtype=np.int16)

    def begin(self, rows):
        pass  # padding is set by pad() at the end

    def write(self, name, rows, t0, n_valid, block):
        self.arrays[name][rows, t0 : t0 + block.shape[1]] = block

    def write_state(self, name, rows, t0, n_valid, per_layer):
        out = self.arrays[name]
        n = next(v.shape[1] for v in per_layer if v is not None)
        for layer, values in enumerate(per_layer):
            out[rows, t0 : t0 + n, :, layer] = np.nan if values is None else values

    def targets(self, rows, t0, n_valid, n_layers):
        """One :class:`TraceTarget` per layer: the layers write their variables straight into these arrays."""
        from .models._cells import TraceTarget

        rows_t, n_valid_t = torch.from_numpy(np.asarray(rows, dtype=np.int64)), torch.from_numpy(n_valid.astype(np.int64))
        return [TraceTarget(self.tensors, rows_t, int(t0), layer, n_valid_t) for layer in range(n_layers)]

    def pad(self, lengths):
        for event in np.flatnonzero(lengths < next(iter(self.arrays.values())).shape[1]):
            for name, array in self.arrays.items():
                array[event, lengths[event]:] = -1 if name == "pred" else np.nan

    def checkpoint(self, **_):
        pass


class _ZarrSink:
    """Writes into ``NAME.partial`` directly with zarr (region writes), checkpointing after every window."""

    def __init__(self, partial: Path, variables):
        import zarr

        self.partial = partial
        self.group = zarr.open_group(str(partial), mode="r+", zarr_format=io.ZARR_FORMAT)
        self.arrays = {name: self.group[name] for name in [*variables, "prob", "pred"]}

    def write(self, name, rows, t0, n_valid, block):
        for r, event in enumerate(rows):
            self.arrays[name][event, t0 : t0 + int(n_valid[r])] = block[r, : int(n_valid[r])]

    def write_state(self, name, rows, t0, n_valid, per_layer):
        n = next(v.shape[1] for v in per_layer if v is not None)
        block = np.full((len(rows), n, *self.arrays[name].shape[2:]), np.nan, dtype=np.float32)
        for layer, values in enumerate(per_layer):
            if values is not None:
                block[..., layer] = values
        self.write(name, rows, t0, n_valid, block)

    def begin(self, rows):
        """Before the first window of a batch: ``pred`` -1 over the whole records (the store has no fill value
        for it; the other variables' fill value, NaN, is their padding)."""
        for event in rows:
            self.arrays["pred"][event, :] = np.full(self.arrays["pred"].shape[1], -1, dtype=np.int16)

    def targets(self, rows, t0, n_valid, n_layers):
        return None  # zarr arrays: the layers return blocks, written region by region

    def pad(self, lengths):
        pass  # see begin()

    def checkpoint(self, batch, t_next, states, summaries, done):
        tmp = self.partial / (_CHECKPOINT + ".tmp.npz")
        arrays = {f"state_{layer}_{j}": s for layer, st in enumerate(states) for j, s in enumerate(st)}
        arrays.update({f"summary_{k}": v for k, v in summaries.state().items()})
        np.savez(tmp, batch=batch, t_next=t_next, **arrays)
        os.replace(tmp, self.partial / _CHECKPOINT)
        manifest = json.loads((self.partial / io.MANIFEST).read_text())
        manifest.update({"status": "writing", "batches_done": done, "current_batch": batch, "next_frame": t_next})
        _write_json(self.partial / io.MANIFEST, manifest)


def _write_json(path: Path, value) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------- run layout


def _run_attrs(model, dataset, variables, unit_mask, device, window) -> dict:
    training = model.info.get("training", {})
    attrs = {k: v for k, v in dataset.attrs.items()}
    attrs.update({
        "schema_version": SCHEMA_VERSION,
        "class_names": list(model.class_names),
        "model_config": json_attr(model.config),
        "training_summary": json_attr(training),
        "capture_config": json_attr({"variables": variables, "window": int(window), "device": str(device),
                                     "unit_mask": [[] if m is None else np.flatnonzero(~m.numpy()).tolist()
                                                   for m in unit_mask] if unit_mask else None}),
        "versions": json_attr({"rnnscope": _version.__version__, "torch": torch.__version__,
                               "numpy": np.__version__, "xarray": xr.__version__,
                               "python": platform.python_version()}),
        "rnnscope_version": _version.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": int(training.get("seed", dataset.attrs.get("seed", -1))),
    })
    return attrs


def _base_dataset(model, dataset) -> xr.Dataset:
    """The data set's variables with labels and segment classes in the model's class order.

    Capturing a run again (e.g. the shipped example run) replaces its states, outputs and summaries.
    """
    mapping = model.class_index_map(list(dataset.attrs.get("class_names", model.class_names)))
    lookup = np.append(np.asarray(mapping, dtype=np.int64), -1)  # index -1 stays -1
    captured = {v for names in STATE_VARIABLES.values() for v in names} | {"prob", "pred", *SUMMARY_VARIABLES}
    base = dataset.drop_vars([v for v in dataset.data_vars if v in captured])
    base = base.drop_vars([c for c in ("unit", "layer", "variable") if c in base.coords])
    if np.array_equal(mapping, np.arange(len(mapping))) and dataset["label"].dtype == np.int16:
        return base  # classes already in the model's order
    base["label"] = (dataset["label"].dims, lookup[np.asarray(dataset["label"].values, dtype=np.int64)].astype(np.int16))
    if "sample_label" in dataset:
        base["sample_label"] = (dataset["sample_label"].dims,
                                lookup[np.asarray(dataset["sample_label"].values, dtype=np.int64)].astype(np.int16))
    if "segment_class" in dataset:
        base["segment_class"] = ("segment", lookup[np.asarray(dataset["segment_class"].values, dtype=np.int64)]
                                 .astype(dataset["segment_class"].dtype))
    return base


def _coords(model, base):
    return {"unit": np.arange(model.hidden_size), "layer": np.arange(model.num_layers),
            "class_name": np.array(model.class_names)}


# --------------------------------------------------------------------------------------------- capture


def capture(
    model,
    dataset: xr.Dataset,
    variables: str | Sequence[str] = "all",
    device: str = "auto",
    batch_size: int = 32,
    store: str | os.PathLike | None = None,
    unit_mask=None,
    *,
    window: int = 4096,
    progress: bool = True,
    overwrite: bool = False,
) -> xr.Dataset:
    """Run ``model`` over ``dataset`` and return the run: the data plus every internal state.

    Parameters
    ----------
    model : RNNClassifier
        Any cell, any number of layers, residual or not, or a model wrapped with ``from_torch``.
    dataset : xarray.Dataset
        Features Dataset (``features``, ``label``, ``length``; waveform and spectrogram are kept when present).
    variables : "all" or list of str
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
    unit_mask : per-layer masks, optional
        Units to silence (their ``h`` is 0 at every step inside the recurrence, so they feed nothing to the next
        step, layer, shortcut or head): one entry per layer, a bool array of shape ``(hidden,)`` with True for
        silenced units, a list of unit ids, or None; a dict ``{layer: units}`` also works.
    window : int
        Frames per window for long records (the recurrent state is carried across windows).
    progress : bool
        Show a progress bar over frames.
    overwrite : bool
        Replace an existing complete store at ``store``.

    Returns
    -------
    xarray.Dataset
        The run (see :mod:`rnnscope.schema`): state variables (event, time, unit, layer) float32 NaN past
        ``length``, ``prob`` (event, time, class_name), ``pred`` (event, time), the summaries, and provenance attrs
        (``model_config``, ``feature_config``, ``training_summary``, ``capture_config``, ``versions``, ``created``,
        ``seed``). Classes follow the model's order.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> model = rnnscope.models.RNNClassifier("lstm", 48, 8, 5)
    >>> run = rnnscope.capture(model, frames, progress=False)
    >>> run["c"].dims, run.sizes["unit"]
    (('event', 'time', 'unit', 'layer'), 8)
    """
    func = "capture"
    _check_model(model, dataset, func)
    check_positive(batch_size, name="batch_size", func=func, integer=True)
    check_positive(window, name="window", func=func, integer=True)
    variables = _check_variables(model, variables)
    keep_masks = _check_unit_mask(model, unit_mask)
    device = resolve_device(device)
    base = _base_dataset(model, dataset)
    attrs = _run_attrs(model, base, variables, keep_masks, device, window)
    n_events, n_time = base.sizes["event"], base.sizes["time"]
    hidden, n_layers, n_classes = model.hidden_size, model.num_layers, len(model.class_names)
    lengths = np.asarray(base["length"].values, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, n_events, batch_size)]
    segs = segment_frames(base)
    summaries = _Summaries(n_classes, len(segs), hidden, n_layers, variables)

    start_batch, start_frame, states0, done = 0, 0, None, []
    final_path = None
    if store is None:
        sink = _MemorySink(variables, (n_events, n_time, hidden, n_layers), (n_events, n_time, n_classes))
    else:
        final_path = Path(store)
        sink, resume = _open_store(final_path, model, base, attrs, variables, batch_size, window, overwrite)
        if resume is not None:
            start_batch, start_frame, states0, done = resume["batch"], resume["t_next"], resume["states"], resume["done"]
            summaries.restore(resume["summaries"])

    model = model.to(device).eval()
    keep_dev = None if keep_masks is None else [None if k is None else k.to(device) for k in keep_masks]
    frame_index = _FrameIndex(np.asarray(base["label"].values), n_classes, segs)
    total = int(lengths.sum())
    done_frames = int(sum(lengths[b].sum() for b in batches[:start_batch]))
    if start_batch < len(batches):
        done_frames += int(np.minimum(lengths[batches[start_batch]], start_frame).sum())
    bar = _bar(total, done_frames, progress)
    features = base["features"]
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
                x = np.asarray(features.isel(event=rows, time=slice(t0, t1)).values, dtype=np.float32)
                targets = sink.targets(rows, t0, n_valid, n_layers) if torch.device(device).type == "cpu" else None
                logits, layers = model.trace_layers(torch.from_numpy(x).to(device), states, keep_dev, targets)
                states = [layer["final_state"] for layer in layers]
                prob = torch.softmax(logits, dim=-1).cpu()
                layer_values = [{v: t.cpu() for v, t in layer["variables"].items()} for layer in layers]
                ranges = [layer.get("ranges") for layer in layers]
                # with targets the layers' h buffers are not needed any more: the summaries may reuse them
                summaries.update(layer_values, *frame_index(rows, t0, t1, n_valid), n_valid, ranges,
                                 inplace=targets is not None)
                if targets is None:
                    for v in variables:
                        sink.write_state(v, rows, t0, n_valid,
                                         [lv[v].numpy() if v in lv else None for lv in layer_values])
                sink.write("prob", rows, t0, n_valid, prob.numpy())
                sink.write("pred", rows, t0, n_valid, prob.argmax(-1).to(torch.int16).numpy())
                bar.update(int(n_valid.sum()))
                t0 = t1
                if store is not None and t0 < t_max:
                    sink.checkpoint(batch=b_index, t_next=t0, states=_to_numpy(states), summaries=summaries, done=done)
            done.append(int(b_index))
            if store is not None:
                sink.checkpoint(batch=b_index + 1, t_next=0, states=[], summaries=summaries, done=done)
    bar.close()
    sink.pad(lengths)

    seg_class = np.asarray(base["segment_class"].values) if "segment_class" in base else np.zeros(0, int)
    summary = summaries.dataset(seg_class, model.class_names, n_layers, hidden)
    if store is None:
        new = {name: (("event", "time", "unit", "layer"), arr) for name, arr in sink.arrays.items()
               if name not in ("prob", "pred")}
        new["prob"] = (("event", "time", "class_name"), sink.arrays["prob"])
        new["pred"] = (("event", "time"), sink.arrays["pred"])
        new.update({name: summary[name].variable for name in summary.data_vars})
        coords = {**_coords(model, base), "variable": summary["variable"].variable}
        run = xr.Dataset({**base.data_vars, **new}, coords={**base.coords, **coords}, attrs=attrs)  # one alignment
        return run
    return _finish_store(final_path, summary, attrs)


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


# --------------------------------------------------------------------------------------------- zarr store


def _fingerprint(model, base, variables, batch_size, window) -> str:
    """What must be equal for a capture to resume into an existing partial store."""
    weights = float(sum(float(p.double().abs().sum()) for p in model.state_dict().values() if p.is_floating_point()))
    return json.dumps({"model": model.config, "weights": round(weights, 6), "variables": variables,
                       "batch_size": int(batch_size), "window": int(window), "events": int(base.sizes["event"]),
                       "lengths": int(np.asarray(base["length"].values).sum())}, sort_keys=True, default=str)


def _open_store(final_path: Path, model, base, attrs, variables, batch_size, window, overwrite):
    if final_path.exists() and not overwrite:
        raise FileExistsError(f"capture: {final_path} exists; pass overwrite=True to replace it or choose another store.")
    partial = final_path.with_name(final_path.name + io.PARTIAL_SUFFIX)
    fingerprint = _fingerprint(model, base, variables, batch_size, window)
    if partial.exists():
        manifest_path = partial / io.MANIFEST
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        if manifest.get("fingerprint") == fingerprint and (partial / _CHECKPOINT).exists():
            saved = np.load(partial / _CHECKPOINT)
            n_layers = model.num_layers
            n_state = len(model.layers[0].state_names)
            states = [tuple(saved[f"state_{layer}_{j}"] for j in range(len(model.layers[layer].state_names)))
                      for layer in range(n_layers)] if f"state_0_{n_state - 1}" in saved else None
            resume = {"batch": int(saved["batch"]), "t_next": int(saved["t_next"]), "states": states,
                      "done": list(manifest.get("batches_done", [])),
                      "summaries": {k[len("summary_"):]: saved[k] for k in saved.files if k.startswith("summary_")}}
            return _ZarrSink(partial, variables), resume
        shutil.rmtree(partial)  # left by another capture: start again
    _create_layout(partial, model, base, attrs, variables)
    manifest = json.loads((partial / io.MANIFEST).read_text())
    manifest.update({"fingerprint": fingerprint, "batches_done": []})
    _write_json(partial / io.MANIFEST, manifest)
    return _ZarrSink(partial, variables), None


def _create_layout(partial: Path, model, base, attrs, variables):
    """Write the data's variables and empty (NaN-filled, never materialised) state arrays into ``partial``."""
    import dask.array as da

    n_events, n_time = base.sizes["event"], base.sizes["time"]
    hidden, n_layers, n_classes = model.hidden_size, model.num_layers, len(model.class_names)
    chunks = io.default_chunks(base)
    t_chunk = chunks.get("time", n_time)
    lazy = {}
    for v in variables:
        lazy[v] = (("event", "time", "unit", "layer"),
                   da.full((n_events, n_time, hidden, n_layers), np.nan, dtype=np.float32,
                           chunks=(1, t_chunk, hidden, n_layers)))
    lazy["prob"] = (("event", "time", "class_name"),
                    da.full((n_events, n_time, n_classes), np.nan, dtype=np.float32, chunks=(1, t_chunk, n_classes)))
    lazy["pred"] = (("event", "time"), da.full((n_events, n_time), -1, dtype=np.int16, chunks=(1, t_chunk)))
    template = base.assign(lazy).assign_coords(_coords(model, base))
    template.attrs = attrs
    data = io._prepare(template, chunks={**chunks, "unit": hidden, "layer": n_layers, "class_name": n_classes})
    partial.mkdir(parents=True)
    io._write_manifest(partial, template, "writing")
    encoding = {"pred": {"_FillValue": None}}
    with io._quiet_zarr():
        data.to_zarr(partial, mode="a", compute=False, consolidated=False, zarr_format=io.ZARR_FORMAT,
                     encoding=encoding)
        # data variables of the features Dataset are written now (small next to the states)
        static = [name for name in data.data_vars if name not in lazy]
        if static:
            data[static].to_zarr(partial, mode="r+", zarr_format=io.ZARR_FORMAT, consolidated=False)


def _finish_store(final_path: Path, summary: xr.Dataset, attrs) -> xr.Dataset:
    import zarr

    partial = final_path.with_name(final_path.name + io.PARTIAL_SUFFIX)
    summary = summary.copy()
    summary.attrs = {}
    for name in summary.variables:
        if summary[name].dtype.kind in "OU":
            summary[name] = summary[name].astype(str)
    with io._quiet_zarr():
        summary.to_zarr(partial, mode="a", zarr_format=io.ZARR_FORMAT, consolidated=False)
        group = zarr.open_group(str(partial), mode="r+", zarr_format=io.ZARR_FORMAT)
        group.attrs.update(io.encode_attrs(attrs))
        zarr.consolidate_metadata(str(partial), zarr_format=io.ZARR_FORMAT)
    (partial / _CHECKPOINT).unlink(missing_ok=True)
    manifest = json.loads((partial / io.MANIFEST).read_text())
    manifest["status"] = "complete"
    _write_json(partial / io.MANIFEST, manifest)
    io._replace(partial, final_path)
    return io.open_run(final_path)

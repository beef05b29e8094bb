"""The runs of a capture of any ``nn.Module``: modules grouped by step count, layers and directions along ``layer``,
times in seconds of the input, labels mapped onto each module's steps, summaries.

See :mod:`rnnscope.capturing._modules` (the capture) and ``DESIGN.md`` ("coords on layer").
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import xarray as xr

from ..io._summaries import accumulate, run_summaries
from ..models._torch_rnn import RECURRENT_MODULES, module_entries, module_kind
from ..schema import STATE_VARIABLES, plain, segment_variables

__all__ = []


def _module_steps(parts) -> tuple[int, np.ndarray]:
    """Steps of a module (the longest batch) and the valid steps of every event."""
    steps = max(entries[0]["h"].shape[1] for entries, _ in parts)
    lengths = np.concatenate([np.full(entries[0]["h"].shape[0], entries[0]["h"].shape[1]) if lens is None
                              else np.asarray(lens) for entries, lens in parts]).astype(np.int64)
    return steps, lengths


def several_resolutions(groups: dict, func: str) -> ValueError:
    """The error of a capture whose modules run at several time resolutions (``groups``: steps -> modules)."""
    return ValueError(f"{func}: the captured modules run at {len(groups)} time resolutions (steps: modules "
                      f"{groups}), so they form {len(groups)} runs; a run has one time axis. Capture them all with "
                      "rnnscope.capture_modules(model, data) (a dict {steps: run}), or one resolution with "
                      "rnnscope.capture(model, data, modules=[...]).")


def _groups(blocks, chosen, func) -> dict[int, tuple[list[str], np.ndarray]]:
    groups: dict[int, tuple[list[str], np.ndarray]] = {}
    for name in chosen:
        steps, lengths = _module_steps(blocks[name])
        if steps in groups:
            names, other = groups[steps]
            if not np.array_equal(other, lengths):
                raise ValueError(f"{func}: the modules {names} and {name!r} both run {steps} steps but over different "
                                 "valid steps per event (packed sequences); capture them separately with modules=.")
            names.append(name)
        else:
            groups[steps] = ([name], lengths)
    return groups


def _assemble(blocks, chosen, variables, attrs, *, sampling_rate, n_input, labels, label_rate, class_names, ids,
              func, buffers: RunBuffers | None = None) -> dict[int, xr.Dataset]:
    """One run per group of modules with the same steps: ``{steps: run}`` (``labels``, ``class_names`` and ``ids``
    checked by :func:`_check_labels`, :func:`_class_names` and :func:`_event_ids`); ``buffers``: where the traces
    were written, the run's arrays when they fit its layout."""
    runs = {}
    for steps, (names, lengths) in _groups(blocks, chosen, func).items():
        runs[steps] = _run(blocks, {n: chosen[n] for n in names}, variables, steps, lengths, ids, attrs,
                           sampling_rate, n_input, labels, label_rate, class_names, buffers)
    return runs


class RunBuffers:
    """The layer-first ``(layer, event, time, unit)`` float32 buffers of an in-memory capture of any model, one per
    variable, made before the traces so that each layer's trace is written straight into its block (the native
    kernels write there as they run; a backward direction is written there in time order).

    The layout is that of a run holding every chosen module (``layer``: their entries in order; units: the widest;
    time: the steps of the first module traced); :func:`_run` takes the buffers as the run's arrays when its
    layout is this one, and copies the traces into buffers of its own otherwise (modules at several time
    resolutions, a later batch longer than the first). Modules whose traces are made otherwise (cells, several
    calls in one forward, ``module_batch``) get no destinations: their traces are copied in by :func:`_run`.
    """

    def __init__(self, chosen, variables, n_events: int):
        self.entries = [(name, i, e) for name, m in chosen.items() for i, e in enumerate(module_entries(m))]
        self.n_units = max(max(e.units, e.h_units) for _, _, e in self.entries)
        self.own = {name: [v for v in variables if v == "h" or v in STATE_VARIABLES[module_kind(m)]]
                    for name, m in chosen.items() if isinstance(m, RECURRENT_MODULES)}
        self.variables = [v for v in variables if any(v in own for own in self.own.values())]
        self.n_events = int(n_events)
        self.steps: int | None = None
        self.arrays: dict[str, np.ndarray] = {}

    def targets(self, name: str, rows: slice, batch: int, steps: int) -> list[dict] | None:
        """Per entry of module ``name`` called on ``batch`` rows over ``steps`` steps, variable -> its ``(rows,
        steps, units)`` block (a torch view of the buffers), or None when the module's traces cannot go there (a
        batch that is not the events' ``rows``: the capture's checks then say why)."""
        if name not in self.own or batch != rows.stop - rows.start:
            return None
        if self.steps is None:
            self.steps = int(steps)
            shape = (len(self.entries), self.n_events, self.steps, self.n_units)
            self.arrays = {v: np.empty(shape, dtype=np.float32) for v in self.variables}
        if steps > self.steps:
            return None
        out = []
        for position, (module, _, entry) in enumerate(self.entries):
            if module == name:
                out.append({v: torch.from_numpy(self.arrays[v][position, rows, :steps,
                                                               : entry.h_units if v == "h" else entry.units])
                            for v in self.own[name]})
        return out

    def fitting(self, layout: _Layout) -> dict[str, np.ndarray] | None:
        """The buffers when they have ``layout`` (the same entries, units, steps and variables), else None."""
        same = ([(n, i) for n, i, _ in layout.entries] == [(n, i) for n, i, _ in self.entries]
                and layout.n_units == self.n_units and layout.steps == self.steps
                and all(v in self.arrays for v in layout.present))
        return {v: self.arrays[v] for v in layout.present} if same else None


class _Layout:
    """Where a group of modules goes in a run: one ``layer`` entry per layer and direction (``entries``: module name,
    index of the entry in its module, :class:`~rnnscope.models._torch_rnn.Entry`), ``steps`` frames on ``time`` (in
    seconds of the input with a sampling rate), units padded to the widest entry (or ``n_units``)."""

    def __init__(self, entries, kinds, steps, attrs, *, sampling_rate, n_input, n_units=None):
        self.entries, self.kinds = list(entries), list(kinds)
        self.n_units = int(n_units or max(max(e.units, e.h_units) for _, _, e in self.entries))
        self.present: list[str] = []  # the variables of the run (:meth:`of`)
        self.steps = int(steps)
        self.span = (n_input / sampling_rate / steps) if (sampling_rate is not None and n_input) else None
        self.times = ((np.arange(steps) + 0.5) * self.span if self.span is not None
                      else np.arange(steps, dtype=np.float64))
        self.attrs = dict(attrs)
        config = dict(attrs["model_config"])
        config["cells"] = self.kinds
        self.attrs.update(model_config=plain(config), steps=int(steps))
        if self.span is not None:
            self.attrs["step_seconds"] = float(self.span)

    @classmethod
    def of(cls, modules, first, variables, steps, attrs, *, sampling_rate, n_input) -> _Layout:
        """The layout of ``modules`` (name -> module); its variables: those of ``variables`` in the first batch
        (``first``: module -> its entries' variables)."""
        entries = [(name, i, e) for name, m in modules.items() for i, e in enumerate(module_entries(m))]
        layout = cls(entries, [module_kind(modules[name]) for name, _, _ in entries], steps, attrs,
                     sampling_rate=sampling_rate, n_input=n_input)
        layout.present = [v for v in variables if any(v in first[name][i] for name, i, _ in entries)]
        return layout

    def coords(self) -> dict:
        e = [entry for _, _, entry in self.entries]
        return {
            "time": ("time", self.times, {"units": "s" if self.span is not None else "step"}),
            "unit": np.arange(self.n_units),
            "layer": np.arange(len(self.entries)),
            "module": ("layer", np.array([name for name, _, _ in self.entries])),
            "module_layer": ("layer", np.array([x.layer for x in e], dtype=np.int64)),
            "direction": ("layer", np.array([x.direction for x in e])),
            "layer_units": ("layer", np.array([x.units for x in e], dtype=np.int64)),
            "layer_h_units": ("layer", np.array([x.h_units for x in e], dtype=np.int64)),
        }

    def block(self, batch: dict, var: str, n_rows: int) -> np.ndarray:
        """(rows, steps, unit, layer) values of ``var`` of one batch (``batch``: module -> (entries' variables,
        lengths)), NaN where an entry does not reach."""
        out = np.empty((n_rows, self.steps, self.n_units, len(self.entries)), dtype=np.float32)
        for position, (name, i, _) in enumerate(self.entries):
            values = batch[name][0][i]
            _place(out[:, :, :, position], values.get(var), values["h"].shape[1])
        return out

    def labels(self, labels, label_rate, n_input, lengths) -> np.ndarray:
        """The label of each step (see :func:`_step_labels`) of the events of ``labels``."""
        return _step_labels(labels, label_rate, self.times, n_input, self.steps, lengths)

    def parts(self, arrays, lengths, ids, labels, label_rate, n_input, class_names):
        """``(data variables, coordinates, attrs, step labels, segment frames)`` of the run around the state
        ``arrays`` (wrapped, not copied), with ``labels`` the step labels and the segment table."""
        coords = {**self.coords(), "event_id": ("event", ids), "length": ("event", lengths)}
        data = {v: (("event", "time", "unit", "layer"), a) for v, a in arrays.items()}
        attrs, step_labels, table = dict(self.attrs), None, _NO_SEGMENTS
        if labels is not None:
            step_labels = self.labels(labels, label_rate, n_input, lengths)
            data["label"] = (("event", "time"), step_labels)
            coords["class_name"] = ("class_name", np.array(class_names))
            attrs["class_names"] = list(class_names)
            segments, table = _segments(step_labels, lengths, self.times, self.span or 1.0, ids)
            data.update(segments)
        return data, coords, attrs, step_labels, table


def _run(blocks, modules, variables, steps, lengths, ids, attrs, sampling_rate, n_input, labels, label_rate,
         class_names, prepared: RunBuffers | None = None) -> xr.Dataset:
    layout = _Layout.of(modules, {name: blocks[name][0][0] for name in modules}, variables, steps, attrs,
                        sampling_rate=sampling_rate, n_input=n_input)
    # layer first: each layer's block is contiguous; the traces were written there (nothing to copy below) when
    # the prepared buffers have the run's layout, else each batch of each entry lands as one contiguous copy
    buffers = None if prepared is None else prepared.fitting(layout)
    if buffers is None:
        shape = (len(layout.entries), lengths.size, steps, layout.n_units)
        buffers = {v: np.empty(shape, dtype=np.float32) for v in layout.present}  # every element written below
    for position, (name, i, _) in enumerate(layout.entries):
        row = 0
        for parts, _ in blocks[name]:
            values = parts[i]
            n_rows, n_steps = values["h"].shape[:2]
            for var, buffer in buffers.items():
                _place(buffer[position, row: row + n_rows], values.get(var), n_steps)
            row += n_rows
        for buffer in buffers.values():  # events no batch reached
            buffer[position, row:] = np.nan
    past = np.arange(steps)[None, :] >= lengths[:, None]
    if past.any():
        for buffer in buffers.values():
            buffer[:, past] = np.nan
    arrays = {v: layer_last(buffer) for v, buffer in buffers.items()}
    data, coords, run_attrs, step_labels, table = layout.parts(arrays, lengths, ids, labels, label_rate, n_input,
                                                               class_names)
    # the numbers rnnscope.capture stores, by the same code, straight from the arrays (no classes: no heat per class)
    names = list(class_names) if labels is not None else []
    acc = accumulate({v: arrays[v] for v in ("h", *[v for v in arrays if v != "h"])}, step_labels, lengths, table,
                     len(names))
    summary, summary_coords = run_summaries(acc, names, ids)
    return xr.Dataset({**data, **summary}, coords={**coords, **summary_coords}, attrs=run_attrs)


def run_layout(arrays, entries, kinds, steps, lengths, ids, attrs, sampling_rate, n_input, labels, label_rate,
               class_names) -> xr.Dataset:
    """The run around the state ``arrays`` (event, time, unit, layer) (wrapped, not copied): coordinates of the
    ``entries`` ``(module name, Entry)`` along ``layer``, times, attributes, and with ``labels`` the step labels and
    the segment table; no summaries yet (:func:`with_summaries`)."""
    indexed = [(name, sum(1 for other, _ in entries[:k] if other == name), e) for k, (name, e) in enumerate(entries)]
    layout = _Layout(indexed, kinds, steps, attrs, sampling_rate=sampling_rate, n_input=n_input,
                     n_units=next(iter(arrays.values())).shape[2])
    data, coords, run_attrs, _, _ = layout.parts(arrays, lengths, ids, labels, label_rate, n_input, class_names)
    return xr.Dataset(data, coords=coords, attrs=run_attrs)


def with_summaries(run: xr.Dataset, summaries: xr.Dataset) -> xr.Dataset:
    """``run`` with its summaries (without the per-class heat when the run has no labels)."""
    if "label" not in run:  # no classes: no heat per class
        summaries = summaries.drop_vars([v for v in ("summary_heat", "summary_heat_frame") if v in summaries]
                                        ).drop_vars("class_name", errors="ignore")
    return run.merge(summaries)


def layer_last(buffer: np.ndarray) -> np.ndarray:
    """The (event, time, unit, layer) view of a layer-first (layer, event, time, unit) ``buffer``: the run's
    state arrays are these views (no copy; each layer's values stay contiguous, which the summaries read).

    Examples
    --------
    >>> buffer = np.arange(24, dtype=np.float32).reshape(2, 1, 3, 4)  # (layer, event, time, unit)
    >>> view = layer_last(buffer)
    >>> view.shape, bool(np.shares_memory(view, buffer)), bool(view[0, 2, 1, 1] == buffer[1, 0, 2, 1])
    ((1, 3, 4, 2), True, True)
    """
    return buffer.transpose(1, 2, 3, 0)


def _place(target: np.ndarray, block, n_steps: int) -> None:
    """Write one batch of one entry (``block``: rows, steps, units; None when the entry lacks the variable) into
    ``target`` (rows, time, unit), NaN wherever the block does not reach (later steps, wider units)."""
    if block is None:
        target[...] = np.nan
        return
    units = block.shape[2]
    if not _is_view(block, target[:, :n_steps, :units]):  # a trace written in place (RunBuffers) stays
        target[:, :n_steps, :units] = block
    target[:, :n_steps, units:] = np.nan
    target[:, n_steps:] = np.nan


def _is_view(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a`` and ``b`` are the same elements of the same memory."""
    return (a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


# --------------------------------------------------------------------------------------------- labels


def _event_ids(event_id, n_events, func) -> np.ndarray:
    if event_id is None:
        return np.array([str(i) for i in range(n_events)])
    ids = np.array([str(v) for v in event_id])
    if ids.shape != (n_events,) or len(set(ids.tolist())) != n_events:
        raise ValueError(f"The 'event_id' parameter of {func} must give {n_events} distinct ids (one per event). "
                         f"Got {ids.size} ({len(set(ids.tolist()))} distinct) instead.")
    return ids


def _check_labels(labels, n_events, label_rate, sampling_rate, func):
    if labels is None:
        if label_rate is not None:
            raise ValueError(f"The 'label_rate' parameter of {func} only applies with labels=. Got label_rate="
                             f"{label_rate!r} without labels.")
        return None
    array = np.asarray(labels.cpu().numpy() if hasattr(labels, "cpu") else labels)
    if array.ndim != 2 or array.shape[0] != n_events or array.dtype.kind not in "iu":
        raise ValueError(f"The 'labels' parameter of {func} must be an integer array (event, n) of class indices (-1 "
                         f"unknown), per input sample or at label_rate Hz, with {n_events} events. Got "
                         f"{array.dtype} of shape {array.shape} instead.")
    if label_rate is not None and sampling_rate is None:
        raise ValueError(f"The 'label_rate' parameter of {func} needs the input's sampling_rate (Hz) to place the "
                         f"steps in seconds. Got label_rate={label_rate!r} and sampling_rate=None.")
    return array.astype(np.int64)


def _class_names(class_names, labels, func):
    if labels is None:
        return None
    top = int(labels.max()) if labels.size else -1
    if class_names is None:
        return [f"class{i}" for i in range(top + 1)]
    names = [str(c) for c in class_names]
    if top >= len(names):
        raise ValueError(f"The 'class_names' parameter of {func} must name every class index of the labels (0.."
                         f"{top}). Got {len(names)} names {names} instead.")
    return names


def _step_labels(labels, label_rate, times, n_input, steps, lengths) -> np.ndarray:
    """The label of each step: the label at its centre (per input sample, or at ``label_rate`` Hz); -1 past the
    labels' end and past each event's valid steps."""
    if label_rate is not None:
        position = np.floor(times * float(label_rate)).astype(np.int64)
    else:
        position = np.floor((np.arange(steps) + 0.5) * (n_input / steps)).astype(np.int64)
    inside = position < labels.shape[1]
    out = np.full((labels.shape[0], steps), -1, dtype=np.int16)
    out[:, inside] = labels[:, position[inside]]
    out[np.arange(steps)[None, :] >= lengths[:, None]] = -1
    return out


def _segments(step_labels, lengths, times, span, ids) -> tuple[dict, pd.DataFrame]:
    """The segment table of the labels, one segment per stretch of consecutive steps of one class: its variables
    and its frames (the columns of :func:`rnnscope.schema.segment_frames` the summaries read)."""
    rows = []
    for e, row in enumerate(step_labels):
        row = row[: int(lengths[e])]
        if not row.size:
            continue
        cuts = np.flatnonzero(np.diff(row)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, row.size], strict=True):
            if row[lo] >= 0:
                rows.append((ids[e], int(row[lo]), times[lo] - span / 2, times[hi - 1] + span / 2, e, lo, hi))
    table = pd.DataFrame(rows, columns=["event_id", "class", "start", "end", "event", "frame_start", "frame_stop"])
    return segment_variables(table), table.astype({c: np.int64 for c in ("class", "event", "frame_start",
                                                                          "frame_stop")})


#: the frames of no segment (a run without labels)
_NO_SEGMENTS = pd.DataFrame({c: np.zeros(0, np.int64) for c in ("event", "class", "frame_start", "frame_stop")})



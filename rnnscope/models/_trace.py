"""Tracing a layer into caller-given destinations: the generic output description and the native kernels' glue.

A layer's trace (:meth:`RecurrentLayer.trace_to`) writes every variable it keeps into flat destinations described
by :class:`TraceOutputs`: element ``(row r, frame t, unit j)`` of a variable goes to
``arrays[name].view(-1)[row_offsets[r] + t * time_stride + j * unit_stride]``. The layer knows nothing of what the
destinations are: ``(batch, time, hidden)`` buffers (:func:`buffer_outputs`, what :meth:`RecurrentLayer.trace`
uses), or the arrays of a run, laid out by the caller (capture's :mod:`rnnscope.capturing._layout`). The native
kernels (:mod:`rnnscope.models._native`) write there while they run, with no copy; every other path computes the
variables and copies them in.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = ["TraceOutputs", "buffer_outputs", "view_outputs", "check_outputs", "write_outputs", "run_native",
           "stacked_weights", "valid_range", "add_group_sums"]


class TraceOutputs(NamedTuple):
    """Where a layer's trace writes its variables: one flat, strided destination per variable.

    Attributes
    ----------
    arrays : dict
        Variable name -> float32, contiguous CPU tensor of any shape (its memory is addressed flat). Only names of
        the layer's ``variables``; the others are not written.
    row_offsets : Tensor
        ``(batch,)`` int64: the element of every array where row ``r``'s frame 0, unit 0 goes.
    time_stride, unit_stride : int
        Elements between consecutive frames and between consecutive units.
    n_valid : Tensor
        ``(batch,)`` int64: the valid frames of each row, those the value ranges are measured over (frames past
        them are written too).
    groups, group_sums : Tensor, optional
        Sums of ``|h|`` by group of frames (the summaries' per-class and per-segment sums, made on the way):
        ``groups`` ``(batch, time, 2)`` int32 gives each frame two rows of ``group_sums`` ``(n_groups, hidden)``
        float32 (-1: none), to which the frame's ``|h|`` is added: in column 0 groups any rows share (classes), in
        column 1 groups of one row each (segments).
    """

    arrays: dict
    row_offsets: Tensor
    time_stride: int
    unit_stride: int
    n_valid: Tensor
    groups: Tensor | None = None
    group_sums: Tensor | None = None


def buffer_outputs(names: Sequence[str], batch: int, n_time: int, hidden: int) -> TraceOutputs:
    """Fresh ``(batch, time, hidden)`` float32 buffers for ``names``, every frame valid.

    numpy allocates them (it asks the kernel for huge pages for big arrays: fewer page faults on first write).

    Examples
    --------
    >>> out = buffer_outputs(["c"], 2, 3, 4)
    >>> tuple(out.arrays["c"].shape), out.row_offsets.tolist(), out.time_stride, out.unit_stride
    ((2, 3, 4), [0, 12], 4, 1)
    """
    arrays = {name: torch.from_numpy(np.empty((batch, n_time, hidden), dtype=np.float32)) for name in names}
    offsets = torch.arange(batch, dtype=torch.int64) * (n_time * hidden)
    return TraceOutputs(arrays, offsets, hidden, 1, torch.full((batch,), n_time, dtype=torch.int64))


def view_outputs(views, n_valid) -> TraceOutputs | None:
    """The destinations writing each variable straight into ``views[name]``: ``(batch, time, hidden)`` strided
    views of float32 CPU tensors (e.g. one layer's slice of a run's layer-first buffers), all at the same offset
    and strides in their own memory; None when they are not (the caller then traces into buffers and copies).

    Examples
    --------
    >>> buffer = torch.zeros(2, 3, 4, 5)  # (layer, row, time, unit)
    >>> out = view_outputs({"c": buffer[1, 1:, :, :4]}, torch.tensor([4, 4]))
    >>> out.row_offsets.tolist(), out.time_stride, out.unit_stride, out.arrays["c"].numel()
    ([80, 100], 5, 1, 120)
    """
    first = next(iter(views.values()), None)
    if first is None or first.dim() != 3:
        return None
    offset, strides, shape = first.storage_offset(), first.stride(), first.shape
    if min(strides) < 1 or any(v.dtype != torch.float32 or v.device.type != "cpu" or v.storage_offset() != offset
                               or v.stride() != strides or v.shape != shape for v in views.values()):
        return None
    arrays = {name: torch.as_strided(v, (v.untyped_storage().nbytes() // v.element_size(),), (1,), 0)
              for name, v in views.items()}
    offsets = offset + torch.arange(shape[0], dtype=torch.int64) * strides[0]
    return TraceOutputs(arrays, offsets, strides[1], strides[2], torch.as_tensor(n_valid, dtype=torch.int64))


def check_outputs(out, variables: Sequence[str], batch: int, n_time: int, hidden: int, func: str) -> TraceOutputs:
    """Check a :class:`TraceOutputs` against a call; errors say what arrived and how to fix it."""
    if not isinstance(out, TraceOutputs):
        raise TypeError(f"The 'out' parameter of {func} must be a rnnscope.models._trace.TraceOutputs. "
                        f"Got {type(out).__name__} instead.")
    unknown = [name for name in out.arrays if name not in variables]
    if unknown:
        raise ValueError(f"The 'out' parameter of {func} may only hold the layer's variables {list(variables)}. "
                         f"Got {unknown} too: leave them out (the caller fills what a layer lacks).")
    for name in ("row_offsets", "n_valid"):
        value = getattr(out, name)
        if not isinstance(value, Tensor) or value.dtype != torch.int64 or tuple(value.shape) != (batch,):
            raise ValueError(f"The 'out.{name}' parameter of {func} must be an int64 tensor of shape ({batch},) "
                             f"(one per batch row). Got {_describe(value)} instead.")
    groups, sums = out.groups, out.group_sums
    if (groups is None) != (sums is None) or (groups is not None and sums is not None and not (
            groups.dtype == torch.int32 and tuple(groups.shape) == (batch, n_time, 2)
            and sums.dtype == torch.float32 and sums.dim() == 2
            and sums.shape[1] == hidden and sums.device.type == "cpu")):
        raise ValueError(
            f"The 'out.groups' and 'out.group_sums' parameters of {func} must both be None or an int32 "
            f"tensor of shape ({batch}, {n_time}, 2) and a float32 CPU tensor of shape (groups, {hidden}). "
            f"Got {_describe(out.groups)} and {_describe(out.group_sums)} instead."
        )
    if int(out.time_stride) < 1 or int(out.unit_stride) < 1:
        raise ValueError(f"The 'out.time_stride' and 'out.unit_stride' parameters of {func} must be >= 1. Got "
                         f"{out.time_stride} and {out.unit_stride} instead.")
    if batch == 0:
        return out
    low, high = int(out.row_offsets.min()), int(out.row_offsets.max())
    reach = high + (n_time - 1) * int(out.time_stride) + (hidden - 1) * int(out.unit_stride)
    for name, array in out.arrays.items():
        if not (isinstance(array, Tensor) and array.dtype == torch.float32 and array.device.type == "cpu"
                and array.is_contiguous()):
            raise ValueError(f"The 'out.arrays[{name!r}]' parameter of {func} must be a contiguous float32 CPU "
                             f"tensor. Got {_describe(array)} instead.")
        if low < 0 or reach >= array.numel():
            raise ValueError(f"The 'out.arrays[{name!r}]' parameter of {func} is too small: {array.numel()} "
                             f"elements, but the row offsets ({low} to {high}) and strides reach element {reach} for "
                             f"{n_time} frames of {hidden} units. Give offsets and strides inside the array.")
    return out


def _describe(value) -> str:
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)} on {value.device}"
    return repr(value)


def write_outputs(values: dict, out: TraceOutputs) -> dict:
    """Copy computed variables ``(batch, time, hidden)`` into ``out`` (and add ``|h|`` to its group sums); returns
    their value ranges (see :func:`valid_range`) keyed by name."""
    if out.groups is not None:
        assert out.group_sums is not None  # check_outputs: both or neither
        add_group_sums(values["h"], out.groups, out.group_sums)
    ranges = {}
    for name, array in out.arrays.items():
        block = values[name].detach().to("cpu", torch.float32)
        batch, n_time, hidden = block.shape
        for r in range(batch):
            offset = array.storage_offset() + int(out.row_offsets[r])
            torch.as_strided(array, (n_time, hidden), (out.time_stride, out.unit_stride), offset).copy_(block[r])
        ranges[name] = valid_range(block, out.n_valid)
    return ranges


def add_group_sums(h: Tensor, groups: Tensor, sums: Tensor) -> None:
    """``sums[groups[b, t, c]] += |h[b, t]|`` for c = 0, 1 wherever ``groups`` is not -1 (what the native kernels do on
    the way).

    Examples
    --------
    >>> sums = torch.zeros(2, 1)
    >>> add_group_sums(torch.tensor([[[-1.0], [2.0]]]), torch.tensor([[[0, -1], [0, 1]]], dtype=torch.int32), sums)
    >>> sums.flatten().tolist()
    [3.0, 2.0]
    """
    a = h.detach().to("cpu", torch.float32).abs().reshape(-1, h.shape[-1])
    for column in groups.reshape(-1, 2).t():
        member = column >= 0
        sums.index_add_(0, column[member].long(), a[member])


def valid_range(values: Tensor, n_valid) -> tuple[float, float] | None:
    """(min, max) of ``values`` ``(rows, time, ...)`` over the first ``n_valid[r]`` frames of each row, NaN skipped
    (as the native kernels); None when there are none.

    The leading rows that are valid throughout (all of them but the shortest, when rows are sorted by length, as
    capture sorts them) are measured as one block.

    Examples
    --------
    >>> import torch
    >>> valid_range(torch.tensor([[1.0, 5.0], [2.0, -9.0]]), [2, 1])
    (1.0, 5.0)
    """
    n_valid = [int(v) for v in n_valid]
    full = next((r for r, v in enumerate(n_valid) if v < values.shape[1]), len(n_valid))
    parts = ([values[:full]] if full else []) + [values[r, :v] for r, v in enumerate(n_valid) if r >= full and v > 0]
    if not parts:
        return None
    ranges = []
    for part in parts:
        missing = torch.isnan(part)
        part = part[~missing] if bool(missing.any()) else part
        if part.numel():
            ranges.append(torch.aminmax(part))
    if not ranges:
        return None
    return min(float(low) for low, _ in ranges), max(float(high) for _, high in ranges)


# ------------------------------------------------------------------------------------------- native kernels


def stacked_weights(w_x: Tensor, w_h: Tensor, bias: Tensor) -> Tensor:
    """``(I + H + 1, G)`` weights of a native kernel's one matmul per step, ``[x_t | h_{t-1} | 1] @ w``:
    input weights, recurrent weights and the bias stacked (contiguous: the matmul's fastest layout)."""
    return torch.cat([w_x, w_h, bias[:, None]], dim=1).t().contiguous()


def run_native(ops, kernel: str, args: tuple, order: Sequence[str], x: Tensor, hidden: int, out: TraceOutputs,
               with_c: bool):
    """Call ``ops.<kernel>(*args, destinations...)`` writing into ``out``.

    ``order`` is the kernel's variable order (``h`` last); variables missing from ``out`` are not kept (``h`` is
    always returned as ``h_seq``). Returns ``(h_seq, final_state, ranges)``: ``h_seq`` ``(batch, time, hidden)``,
    ``ranges`` variable of ``out`` -> ``(min, max)`` over the valid frames, or None when there are none.
    """
    batch = x.shape[0]
    h_seq = torch.from_numpy(np.empty((batch, x.shape[1], hidden), dtype=np.float32))  # numpy: huge pages
    h_last = torch.empty(batch, hidden)
    c_last = torch.empty(batch, hidden) if with_c else None
    ranges = torch.empty(len(order), 2)  # the kernel's value ranges (NaN skipped)
    outputs = [out.arrays.get(name) for name in order]
    groups = None if out.groups is None else out.groups.contiguous()
    sums = None if out.group_sums is None else out.group_sums.contiguous()  # the kernels add into contiguous sums
    getattr(ops, kernel)(*args, outputs, out.row_offsets.contiguous(), int(out.time_stride), int(out.unit_stride),
                         h_seq, h_last, c_last, out.n_valid.contiguous(), ranges, groups, sums)
    if sums is not None and out.group_sums is not None and sums is not out.group_sums:
        out.group_sums.copy_(sums)
    final = (h_last, c_last) if with_c else (h_last,)
    low, high = ranges[:, 0].tolist(), ranges[:, 1].tolist()
    kept = {name: (low[j], high[j]) if math.isfinite(low[j]) else None for j, name in enumerate(order)
            if name in out.arrays}
    return h_seq, final, kept

"""The run's layout seen by the layers: where each layer's variables go in capture's in-memory arrays.

The classifier's capture keeps every state variable as one ``(event, time, unit, layer)`` float32 array (C order;
the capture of any other model writes layer-first buffers instead,
:class:`rnnscope.capturing._module_runs.RunBuffers`). For one window (frames ``t0 .. t0 + n_frames``) of one batch
of records (``rows``: the event of each batch row, in any order) and one layer, every value of batch row ``r``,
frame ``t`` of the window and unit ``j`` sits at the flat element

    ``((rows[r] * n_time + t0 + t) * n_units + j) * n_layers + layer``

that is a row offset ``(rows[r] * n_time + t0) * n_units * n_layers + layer``, a time stride
``n_units * n_layers`` and a unit stride ``n_layers``: the generic destinations of
:class:`rnnscope.models._trace.TraceOutputs`. The layers (and their native kernels) write there while they run,
with no copy and without knowing what the arrays are.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..io import frame_groups
from ..models._trace import TraceOutputs

__all__ = ["layer_outputs", "fill_missing", "with_group_sums"]


def _check_arrays(arrays: Mapping[str, torch.Tensor], func: str) -> tuple[int, int, int, int]:
    shapes = {tuple(a.shape) for a in arrays.values()}
    ok = len(shapes) == 1 and all(a.dim() == 4 and a.dtype == torch.float32 and a.is_contiguous()
                                  for a in arrays.values())
    if not ok:
        got = {name: (tuple(a.shape), str(a.dtype), a.is_contiguous()) for name, a in arrays.items()}
        raise ValueError(f"The 'arrays' parameter of {func} must map variable names to contiguous float32 tensors "
                         f"of one shape (event, time, unit, layer). Got {got} instead.")
    events, times, units, layers = shapes.pop()  # four dims: checked above
    return events, times, units, layers


def layer_outputs(arrays: Mapping[str, torch.Tensor], variables: Sequence[str], rows, t0: int, layer: int,
                  n_valid) -> TraceOutputs:
    """The destinations of one layer's variables for one window of one batch, in a run's arrays.

    Parameters
    ----------
    arrays : dict
        Variable name -> ``(event, time, unit, layer)`` float32 contiguous CPU tensor (e.g. ``torch.from_numpy``
        of capture's numpy arrays: the same memory).
    variables : sequence of str
        The layer's variables; only those of ``arrays`` are kept (see :func:`fill_missing` for the others).
    rows : array of int
        The event of each batch row.
    t0 : int
        The window's first frame.
    layer : int
        The layer's index.
    n_valid : array of int
        Valid frames of each row in the window (the value ranges are measured over them).

    Returns
    -------
    TraceOutputs

    Examples
    --------
    >>> import torch
    >>> arrays = {"h": torch.zeros(3, 10, 4, 2), "c": torch.zeros(3, 10, 4, 2)}
    >>> out = layer_outputs(arrays, ("h",), [2, 0], t0=5, layer=1, n_valid=[5, 3])
    >>> list(out.arrays), out.row_offsets.tolist(), out.time_stride, out.unit_stride
    (['h'], [201, 41], 8, 2)
    """
    _, n_time, n_units, n_layers = _check_arrays(arrays, "layer_outputs")
    rows = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    offsets = ((rows * n_time + int(t0)) * n_units * n_layers + int(layer)).contiguous()
    n_valid = torch.from_numpy(np.asarray(n_valid, dtype=np.int64))
    kept = {name: array for name, array in arrays.items() if name in variables}
    return TraceOutputs(kept, offsets, n_units * n_layers, n_layers, n_valid)


def fill_missing(arrays: Mapping[str, torch.Tensor], variables: Sequence[str], rows, t0: int, n_frames: int,
                 layer: int) -> list[str]:
    """Set the variables of ``arrays`` that a layer lacks (e.g. ``c`` of a GRU layer) to NaN over the window.

    Returns their names.

    Examples
    --------
    >>> import torch
    >>> arrays = {"h": torch.zeros(1, 4, 2, 1), "c": torch.zeros(1, 4, 2, 1)}
    >>> fill_missing(arrays, ("h", "update_gate"), [0], t0=1, n_frames=2, layer=0)
    ['c']
    >>> arrays["c"][0, :, 0, 0].tolist()
    [0.0, nan, nan, 0.0]
    """
    missing = [name for name in arrays if name not in variables]
    index = torch.from_numpy(np.asarray(rows, dtype=np.int64))
    for name in missing:
        arrays[name][index, int(t0): int(t0) + int(n_frames), :, int(layer)] = float("nan")
    return missing


def with_group_sums(outputs, frames, n_frames: int, n_classes: int, hidden: int, layers=None):
    """``outputs`` (one :class:`TraceOutputs` per layer, or None) asking the layers for the summaries' sums of
    ``|h|`` over a window of ``n_frames`` frames (``frames``: what :class:`rnnscope.io.FrameIndex` gives), and those
    sums' tensors (None: the summaries take them from ``h``, e.g. when segments overlap); ``layers`` the layers that
    sum (default all).

    Examples
    --------
    >>> arrays = {"h": torch.zeros(1, 3, 2, 1)}
    >>> out = [layer_outputs(arrays, ("h",), [0], 0, 0, [3])]
    >>> frames = (np.array([0, 0, 1]), (np.array([0]), np.array([0]), np.array([2]), np.array([0])))
    >>> out, sums = with_group_sums(out, frames, 3, n_classes=2, hidden=2)
    >>> tuple(out[0].groups.shape), tuple(sums[0].shape)  # class 0, class 1, unlabelled, one segment
    ((1, 3, 2), (4, 2))
    """
    if outputs is None:
        return None, None
    cls_idx, segments = frames
    groups = frame_groups(cls_idx, segments, int(cls_idx.size) // n_frames if n_frames else 0, n_frames, n_classes)
    if groups is None:
        return outputs, None
    g = torch.from_numpy(groups)
    layers = range(len(outputs)) if layers is None else layers
    sums = [torch.zeros(n_classes + 1 + len(segments[0]), hidden) for _ in layers]
    out = list(outputs)
    for i, total in zip(layers, sums, strict=True):
        out[i] = out[i]._replace(groups=g, group_sums=total)
    return out, sums

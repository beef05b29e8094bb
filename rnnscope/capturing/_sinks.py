"""Where capture writes the states: numpy arrays in memory, or a run store (:class:`rnnscope.io.RunWriter`)
region by region.
"""
from __future__ import annotations

import numpy as np
import torch

from ._layout import fill_missing, layer_outputs

__all__ = []


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

    def outputs(self, rows, t0, n_frames, n_valid, layer_variables):
        """The destinations of every layer's variables for one window (see :mod:`._layout`): the layers write
        straight into these arrays. Variables a layer lacks are set to NaN over the window here."""
        out = []
        for layer, variables in enumerate(layer_variables):
            fill_missing(self.tensors, variables, rows, t0, n_frames, layer)
            out.append(layer_outputs(self.tensors, variables, rows, t0, layer, n_valid))
        return out

    def pad(self, lengths):
        for event in np.flatnonzero(lengths < next(iter(self.arrays.values())).shape[1]):
            for name, array in self.arrays.items():
                array[event, lengths[event]:] = -1 if name == "pred" else np.nan

    def checkpoint(self, **_):
        pass


class _ZarrSink:
    """Writes into the run store region by region through :class:`rnnscope.io.RunWriter` (valid frames only:
    chunks past a record's end stay unwritten, their fill value is the padding), checkpointing after every
    window."""

    def __init__(self, writer):
        self.writer = writer

    def write(self, name, rows, t0, n_valid, block):
        self.writer.write(name, rows, t0, n_valid, block)

    def write_state(self, name, rows, t0, n_valid, per_layer):
        first = next(v for v in per_layer if v is not None)
        block = np.full((*first.shape, len(per_layer)), np.nan, dtype=np.float32)
        for layer, values in enumerate(per_layer):
            if values is not None:
                block[..., layer] = values
        self.write(name, rows, t0, n_valid, block)

    def begin(self, rows):
        pass  # padding (NaN, -1 for pred) is the store's fill value

    def outputs(self, rows, t0, n_frames, n_valid, layer_variables):
        return None  # zarr arrays: the layers return blocks, written region by region

    def pad(self, lengths):
        pass  # see begin()

    def checkpoint(self, batch, t_next, states, summaries, done):
        arrays = {f"state_{layer}_{j}": s for layer, st in enumerate(states) for j, s in enumerate(st)}
        arrays.update({f"summary_{k}": v for k, v in summaries.state().items()})
        self.writer.checkpoint({"batch": np.int64(batch), "t_next": np.int64(t_next), **arrays},
                               batches_done=done, current_batch=batch, next_frame=t_next)

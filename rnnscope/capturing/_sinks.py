"""Where capture writes the states: numpy arrays in memory, or a zarr store region by region.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from .. import io
from ._layout import fill_missing, layer_outputs

__all__ = []
_CHECKPOINT = "rnnscope_checkpoint.npz"


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

    def outputs(self, rows, t0, n_frames, n_valid, layer_variables):
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

"""Capture of any ``nn.Module`` into a run store, batch by batch (:func:`rnnscope.capture` with ``store=``).

Each batch of events is written region by region through :class:`rnnscope.io.RunWriter` as soon as it is
captured, with a checkpoint after every batch (the batches done and the valid steps of their events): memory holds
one batch, and an interrupted capture to the same store, with the same model, data and settings, resumes after the
last batch written. The run's layout (modules, steps, units) comes from the first batch captured; a later batch
running more steps (packed sequences) grows the store along ``time``. When the capture completes, the segment table, the
summaries (:func:`rnnscope.io._summaries.accumulate`, read back chunk by chunk)
and the overview (the writer) are added and the store is renamed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import io
from ..io._summaries import accumulate, run_summaries
from ..schema import segment_frames
from ._module_runs import _groups, _Layout, _segments, several_resolutions

__all__ = []

_STATE_DIMS = ("event", "time", "unit", "layer")


def fingerprint(model, chosen, variables, batch_size, values, options) -> str:
    """What must be equal for a capture to resume into an existing partial store: the weights, the modules and
    variables, the batches, the data (shapes and sums) and the options."""
    import torch

    weights = float(sum(float(p.double().abs().sum()) for p in model.state_dict().values() if p.is_floating_point()))
    inputs = []
    for v in values:
        t = v.padded if hasattr(v, "padded") else v
        if isinstance(t, torch.Tensor):
            inputs.append([list(t.shape), round(float(t.double().abs().sum()), 6)])
    return json.dumps({"modules": list(chosen), "weights": round(weights, 6), "variables": list(variables),
                       "batch_size": int(batch_size), "inputs": inputs, "options": options}, sort_keys=True,
                      default=str)


class ModuleStore:
    """The store a capture of any ``nn.Module`` writes batch by batch (see the module documentation).

    ``add(start, n_rows, batch)`` writes one batch (``batch``: module name -> (entries' variables as numpy arrays,
    lengths or None)); ``done`` lists the first events of the batches written (also by an interrupted capture);
    ``finish()`` completes the store and returns the run opened from it.
    """

    def __init__(self, path, chosen, variables, n_events, attrs, key: str, *, overwrite, sampling_rate, n_input,
                 labels, label_rate, class_names, ids, func):
        self.final = Path(path)
        if self.final.exists() and not overwrite:
            raise FileExistsError(f"{func}: {self.final} exists; pass overwrite=True to replace it or choose another "
                                  "store.")
        self.chosen, self.variables, self.attrs, self.key, self.func = chosen, variables, attrs, key, func
        self.options = {"sampling_rate": sampling_rate, "n_input": n_input}
        self.labels, self.label_rate, self.class_names, self.ids = labels, label_rate, class_names, ids
        self.lengths = np.zeros(n_events, np.int64)
        self.done: set[int] = set()
        self.layout: _Layout | None = None  # from the first batch
        self.writer = io.RunWriter.resume(self.final, key)
        if self.writer is not None:
            self.lengths = np.asarray(self.writer.read_checkpoint()["lengths"], np.int64)
            self.done = {int(b) for b in self.writer.manifest.get("batches_done", [])}

    def add(self, start: int, n_rows: int, batch: dict) -> None:
        groups = _groups({name: [batch[name]] for name in self.chosen}, self.chosen, self.func)
        if len(groups) > 1:
            raise several_resolutions({steps: names for steps, (names, _) in groups.items()}, self.func)
        steps, (_, lengths) = next(iter(groups.items()))
        if self.layout is None:
            self._first = {name: batch[name][0] for name in self.chosen}
            stored = None if self.writer is None else int(self.writer.dataset().sizes["time"])
            self.layout = _Layout.of(self.chosen, self._first, self.variables, stored or steps, self.attrs,
                                     **self.options)
            if self.writer is None:
                self.writer = self._create(self.layout)
        writer = self.writer
        assert writer is not None  # resumed, or created above with the first batch
        if steps > self.layout.steps:  # packed sequences: a batch longer than those before (times change)
            self.layout = _Layout.of(self.chosen, self._first, self.variables, steps, self.attrs, **self.options)
            writer.resize("time", steps, {"time": self.layout.times})
        rows = np.arange(start, start + n_rows)
        valid = np.minimum(np.asarray(lengths, np.int64), self.layout.steps)
        for var in self.layout.present:
            writer.write(var, rows, 0, valid, self.layout.block(batch, var, n_rows))
        if self.labels is not None:
            step_labels = self.layout.labels(self.labels[rows], self.label_rate, self.options["n_input"], valid)
            writer.write("label", rows, 0, valid, step_labels)
        self.lengths[rows] = valid
        self.done.add(int(start))
        writer.checkpoint({"lengths": self.lengths}, batches_done=sorted(self.done))

    def _create(self, layout: _Layout) -> io.RunWriter:
        import dask.array as da

        n_events = self.lengths.size
        t_chunk = io.default_chunks(xr.Dataset(coords={"time": layout.times}))["time"]
        shape = (n_events, layout.steps, layout.n_units, len(layout.entries))
        lazy: dict[str, tuple[tuple[str, ...], Any]] = {
            v: (_STATE_DIMS, da.full(shape, np.nan, dtype=np.float32, chunks=(1, t_chunk) + shape[2:]))
            for v in layout.present}
        attrs = dict(layout.attrs)
        coords = {**layout.coords(), "event_id": ("event", self.ids)}
        if self.labels is not None:
            lazy["label"] = (("event", "time"), da.full(shape[:2], -1, dtype=np.int16, chunks=(1, t_chunk)))
            attrs["class_names"] = list(self.class_names)
            coords["class_name"] = ("class_name", np.array(self.class_names))
        template = xr.Dataset(lazy, coords=coords, attrs=attrs)
        # chunks of 4,096 steps whatever the first batch's: a later one may run longer (packed sequences)
        return io.RunWriter.create(self.final, template, empty=list(lazy), chunks={"time": 4096},
                                   grow="time", manifest={"fingerprint": self.key, "batches_done": []})

    def finish(self) -> xr.Dataset:
        """Add the valid steps, the segment table and the summaries; complete and rename the store; open it."""
        layout, writer, names = self.layout, self.writer, list(self.class_names or [])
        assert layout is not None and writer is not None  # set by the first batch (add)
        written = writer.dataset()
        attrs = {**written.attrs, **{k: v for k, v in layout.attrs.items() if k in ("steps", "step_seconds")}}
        extra = xr.Dataset(coords={"length": ("event", self.lengths)})
        step_labels = None
        if self.labels is not None:
            step_labels = np.asarray(written["label"].values)
            segments, _ = _segments(step_labels, self.lengths, layout.times, layout.span or 1.0, self.ids)
            extra = extra.assign(segments)
        run = written.assign_coords(length=("event", self.lengths)).assign(extra.data_vars)
        states = {v: run[v] for v in ("h", *[v for v in layout.present if v != "h"])}
        acc = accumulate(states, None if step_labels is None else run["label"], self.lengths, segment_frames(run),
                         len(names))
        data, coords = run_summaries(acc, names, self.ids)
        return io.open_run(writer.finish(extra.merge(xr.Dataset(data, coords=coords)), attrs=attrs))

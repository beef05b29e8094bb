"""Capture into a run store: layout, resume fingerprint, completion (written by :class:`rnnscope.io.RunWriter`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import io
from ._sinks import _ZarrSink

__all__ = []


def _fingerprint(model, base, variables, batch_size, window) -> str:
    """What must be equal for a capture to resume into an existing partial store."""
    weights = float(sum(float(p.double().abs().sum()) for p in model.state_dict().values() if p.is_floating_point()))
    return json.dumps({"model": model.config, "weights": round(weights, 6), "variables": variables,
                       "batch_size": int(batch_size), "window": int(window), "events": int(base.sizes["event"]),
                       "lengths": int(np.asarray(base["length"].values).sum())}, sort_keys=True, default=str)


def _open_store(final_path: Path, model, base, attrs, variables, batch_size, window, overwrite):
    """The sink writing ``final_path`` and, when an interrupted capture of the same model, data and settings left
    a checkpoint, where to resume (else None)."""
    if final_path.exists() and not overwrite:
        raise FileExistsError(
            f"capture: {final_path} exists; pass overwrite=True to replace it or choose another store."
        )
    fingerprint = _fingerprint(model, base, variables, batch_size, window)
    writer = io.RunWriter.resume(final_path, fingerprint)
    if writer is not None:
        saved = writer.read_checkpoint()
        states = None
        if f"state_0_{len(model.layers[0].state_names) - 1}" in saved:
            states = [tuple(saved[f"state_{layer}_{j}"] for j in range(len(model.layers[layer].state_names)))
                      for layer in range(model.num_layers)]
        resume = {"batch": int(saved["batch"]), "t_next": int(saved["t_next"]), "states": states,
                  "done": list(writer.manifest.get("batches_done", [])),
                  "summaries": {k[len("summary_"):]: v for k, v in saved.items() if k.startswith("summary_")}}
        return _ZarrSink(writer), resume
    template = _template(model, base, attrs, variables)
    writer = io.RunWriter.create(final_path, template, empty=[*variables, "prob", "pred"],
                                 manifest={"fingerprint": fingerprint, "batches_done": []})
    return _ZarrSink(writer), None


def _template(model, base, attrs, variables) -> xr.Dataset:
    """The run's layout: the data's variables, and empty (NaN-filled, never materialised) states and outputs."""
    import dask.array as da

    n_events, n_time = base.sizes["event"], base.sizes["time"]
    hidden, n_layers, n_classes = model.hidden_size, model.num_layers, len(model.class_names)
    t_chunk = io.default_chunks(base).get("time", n_time)
    lazy: dict[str, tuple[tuple[str, ...], Any]] = {v: (("event", "time", "unit", "layer"),
                da.full((n_events, n_time, hidden, n_layers), np.nan, dtype=np.float32,
                        chunks=(1, t_chunk, hidden, n_layers))) for v in variables}
    lazy["prob"] = (("event", "time", "class_name"),
                    da.full((n_events, n_time, n_classes), np.nan, dtype=np.float32, chunks=(1, t_chunk, n_classes)))
    lazy["pred"] = (("event", "time"), da.full((n_events, n_time), -1, dtype=np.int16, chunks=(1, t_chunk)))
    template = base.assign(lazy).assign_coords(_coords(model, base))
    template.attrs = attrs
    return template


def _finish_store(sink, summary: xr.Dataset, attrs) -> xr.Dataset:
    return io.open_run(sink.writer.finish(summary, attrs))


def _coords(model, base):
    return {"unit": np.arange(model.hidden_size), "layer": np.arange(model.num_layers),
            "class_name": np.array(model.class_names)}

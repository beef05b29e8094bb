"""Capture into a zarr store: layout, resume fingerprint, completion.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import xarray as xr

from .. import io
from ._sinks import _CHECKPOINT, _write_json, _ZarrSink

__all__ = []


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


def _coords(model, base):
    return {"unit": np.arange(model.hidden_size), "layer": np.arange(model.num_layers),
            "class_name": np.array(model.class_names)}

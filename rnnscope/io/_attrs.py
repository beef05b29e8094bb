"""Attributes and variables ready for zarr and netCDF: nested values as JSON strings, text as ``str``, padding
as a fill value so chunks entirely of padding are never written.

Attrs are plain Python in memory (dicts, lists: ``run.attrs["feature_config"]`` is a dict whether the run was
captured or opened); :func:`encode_attrs` (when a run is written) and :func:`decode_attrs` (when it is opened) are
the only places that turn them into JSON strings and back.
"""
from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from .. import _overview

__all__ = ["encode_attrs", "decode_attrs", "default_chunks"]

_OVERVIEW_DIMS = tuple(_overview.DIMS.values())

_JSON_ATTRS = "_rnnscope_json_attrs"
#: nested attrs that files written before the typed attrs hold as JSON strings without saying so: decoded on opening
NESTED_ATTRS = ("model_config", "feature_config", "training_summary", "capture_config", "versions", "processing",
                "generator", "noise", "label_shuffle", "waveform_source")
#: integer variables padded with -1 past ``length`` / ``n_samples``: -1 is their store's fill value
PADDED_INTEGERS = ("label", "pred", "sample_label")


def encode_attrs(attrs: dict) -> dict:
    """Attributes ready for zarr and netCDF: lists and dicts become JSON strings (their keys are recorded).

    Parameters
    ----------
    attrs : dict
        A Dataset's or variable's attributes.

    Returns
    -------
    dict
        The same keys with lists, tuples, dicts and None as JSON text, numpy scalars as Python numbers and bools
        as 0 / 1, plus ``_rnnscope_json_attrs`` naming the JSON-encoded keys (when there are any).

    Examples
    --------
    >>> encode_attrs({"class_names": ["A", "B"], "seed": np.int64(3)})
    {'class_names': '["A", "B"]', 'seed': 3, '_rnnscope_json_attrs': '["class_names"]'}
    """
    out: dict[str, Any] = {}
    encoded: list[str] = []
    for key, value in attrs.items():
        if value is None or isinstance(value, (list, tuple, dict)):  # netCDF has no null either
            out[key] = json.dumps(value, default=_json_default)
            encoded.append(key)
        elif isinstance(value, np.generic):
            out[key] = value.item()
        elif isinstance(value, bool):
            out[key] = int(value)
        else:
            out[key] = value
    if encoded:
        out[_JSON_ATTRS] = json.dumps(sorted(encoded))
    return out


def decode_attrs(attrs: dict) -> dict:
    """Inverse of :func:`encode_attrs`.

    Parameters
    ----------
    attrs : dict
        Attributes as read from a store.

    Returns
    -------
    dict
        A new dict with the JSON-encoded values decoded and the ``_rnnscope_json_attrs`` key removed.

    Examples
    --------
    >>> decode_attrs(encode_attrs({"class_names": ["A", "B"], "x": "s"}))
    {'class_names': ['A', 'B'], 'x': 's'}

    The nested attrs of files written before attrs were typed (JSON strings without the list of encoded keys):

    >>> decode_attrs({"feature_config": '{"preset": "paper"}'})
    {'feature_config': {'preset': 'paper'}}
    """
    out = dict(attrs)
    keys = set(json.loads(out.pop(_JSON_ATTRS, "[]")))
    keys |= {k for k in NESTED_ATTRS if isinstance(out.get(k), str) and out[k][:1] in ("{", "[", "n")}
    for key in keys:
        if key in out and isinstance(out[key], str):
            try:
                out[key] = json.loads(out[key])
            except ValueError:  # text that merely starts like JSON: left as it is
                pass
    return out


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in a JSON attribute")


def default_chunks(ds: xr.Dataset, *, time_chunk: int = 4096) -> dict:
    """Chunks by event (one record per chunk) and by time for long records (overview levels: 1,024 blocks); whole
    units, layers, features.

    Parameters
    ----------
    ds : xarray.Dataset
        The Dataset to store.
    time_chunk : int
        Frames per chunk along ``time`` (samples along ``sample``: 50 times as many).

    Returns
    -------
    dict
        Dimension -> chunk size, for every dimension of ``ds``.

    Examples
    --------
    >>> ds = xr.Dataset({"h": (("event", "time", "unit", "layer"), np.zeros((3, 10000, 4, 2)))})
    >>> default_chunks(ds)
    {'event': 1, 'time': 4096, 'unit': 4, 'layer': 2}
    """
    chunks: dict[Hashable, int] = {}
    for dim, size in ds.sizes.items():
        if dim == "event":
            chunks[dim] = 1
        elif dim == "time":
            chunks[dim] = min(size, time_chunk) or 1
        elif dim == "sample":
            chunks[dim] = min(size, time_chunk * 50) or 1
        elif dim in _OVERVIEW_DIMS:
            chunks[dim] = min(size, _overview.CHUNK) or 1
        else:
            chunks[dim] = size or 1
    return chunks


def prepare(ds: xr.Dataset, chunks: dict | None = None, grow: str | None = None) -> tuple[xr.Dataset, dict]:
    """``ds`` ready to write (attributes encoded, text as ``str``, chunked) and its encoding (fill values: NaN
    for floats, -1 for the padded integers, so chunks entirely of padding are never written). ``grow``: a
    dimension the store will grow along; its store chunks take the requested size even when ``ds`` is shorter."""
    out = ds.copy()
    out.attrs = encode_attrs(ds.attrs)
    for name, var in list(out.variables.items()):
        if var.dtype == object:
            out[name] = var.astype(str)
        out[name].attrs = encode_attrs(var.attrs)
        out[name].encoding = {}
    requested = {**default_chunks(out), **(chunks or {})}
    out = out.chunk({d: min(c, out.sizes[d]) or 1 for d, c in requested.items() if d in out.dims})
    encoding: dict[Hashable, dict[str, Any]] = {name: {"_FillValue": -1} for name in PADDED_INTEGERS
                                                if name in out.data_vars}
    if grow is not None:
        for name, var in out.variables.items():
            if grow in var.dims:
                sizes = [requested[grow] if d == grow else var.chunks[i][0] for i, d in enumerate(var.dims)]
                encoding.setdefault(name, {})["chunks"] = tuple(int(n) for n in sizes)
    return out, encoding

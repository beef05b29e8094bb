"""Save and open runs (and records / features Datasets): zarr by default, netCDF supported; lazy with dask.

Writes are atomic: a store is written as ``NAME.partial`` with a manifest (``rnnscope_manifest.json`` inside a
zarr store) and renamed to ``NAME`` when complete, so an interrupted write leaves the previous store intact or
no store, never a half store that opens as valid. :func:`open_run` refuses a ``.partial`` store.

Attributes holding lists or dicts (``class_names``, configs) are stored as JSON strings, so netCDF can hold them,
and decoded on opening. This module imports no torch.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from . import _version
from .schema import SCHEMA_VERSION, SchemaError, validate

__all__ = ["save_run", "open_run", "RunFileError", "MANIFEST", "PARTIAL_SUFFIX", "default_chunks"]

MANIFEST = "rnnscope_manifest.json"
PARTIAL_SUFFIX = ".partial"
_JSON_ATTRS = "_rnnscope_json_attrs"
_NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".h5")
#: Zarr format written: version 2 stores text coordinates in a specified dtype every zarr reader knows.
ZARR_FORMAT = 2


class RunFileError(OSError):
    """A run file is incomplete, corrupt, or not an rnnscope run; the message says which and what to do."""


def _format(path: Path, format: str) -> str:
    if format != "auto":
        if format not in ("zarr", "netcdf"):
            raise ValueError(f"The 'format' parameter must be one of ['auto', 'zarr', 'netcdf']. Got {format!r} instead.")
        return format
    return "netcdf" if path.suffix.lower() in _NETCDF_SUFFIXES else "zarr"


def encode_attrs(attrs: dict) -> dict:
    """Attributes ready for zarr and netCDF: lists and dicts become JSON strings (their keys are recorded)."""
    out, encoded = {}, []
    for key, value in attrs.items():
        if isinstance(value, (list, tuple, dict)):
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
    """Inverse of :func:`encode_attrs`."""
    out = dict(attrs)
    keys = json.loads(out.pop(_JSON_ATTRS, "[]"))
    for key in keys:
        if key in out and isinstance(out[key], str):
            out[key] = json.loads(out[key])
    return out


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in a JSON attribute")


def default_chunks(ds: xr.Dataset, time_chunk: int = 4096) -> dict:
    """Chunks by event (one record per chunk) and by time for long records; whole units, layers, features."""
    chunks = {}
    for dim, size in ds.sizes.items():
        if dim == "event":
            chunks[dim] = 1
        elif dim in ("time",):
            chunks[dim] = min(size, time_chunk) or 1
        elif dim == "sample":
            chunks[dim] = min(size, time_chunk * 50) or 1
        else:
            chunks[dim] = size or 1
    return chunks


def _prepare(ds: xr.Dataset, chunks: dict | None) -> xr.Dataset:
    out = ds.copy()
    out.attrs = encode_attrs(ds.attrs)
    for name, var in list(out.variables.items()):
        if var.dtype == object:
            out[name] = var.astype(str)
        out[name].attrs = encode_attrs(var.attrs)
        out[name].encoding = {}
    chunks = chunks or default_chunks(out)
    return out.chunk({d: c for d, c in chunks.items() if d in out.dims})


def _write_manifest(store: Path, ds: xr.Dataset, status: str, extra: dict | None = None) -> None:
    manifest = {
        "status": status,
        "schema_version": ds.attrs.get("schema_version", SCHEMA_VERSION),
        "rnnscope_version": _version.__version__,
        "variables": sorted(ds.data_vars),
        "sizes": {k: int(v) for k, v in ds.sizes.items()},
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra or {}),
    }
    tmp = store / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, store / MANIFEST)


def _replace(partial: Path, final: Path) -> None:
    """Move ``partial`` to ``final``; an existing ``final`` survives until the new one is in place."""
    if final.exists():
        trash = final.with_name(f"{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(final, trash)
        os.replace(partial, final)
        if trash.is_dir():
            shutil.rmtree(trash, ignore_errors=True)
        else:
            trash.unlink(missing_ok=True)
    else:
        os.replace(partial, final)


def save_run(run: xr.Dataset, path: str | os.PathLike, *, format: str = "auto", chunks: dict | None = None) -> Path:
    """Write ``run`` to ``path`` atomically and return the path.

    Parameters
    ----------
    run : xarray.Dataset
        A run, or a records / features Dataset (anything following :mod:`rnnscope.schema`).
    path : str or path
        ``*.zarr`` (default format, a directory store) or ``*.nc`` (netCDF-4 through the netCDF4 package, zlib-compressed).
    format : {"auto", "zarr", "netcdf"}
        ``"auto"`` chooses by suffix.
    chunks : dict, optional
        Chunk sizes per dimension; default :func:`default_chunks` (one record per chunk, long records split in
        time). Compression is the backend's default (zstd for zarr).

    Examples
    --------
    >>> import tempfile, rnnscope
    >>> records = rnnscope.data.synthetic(n_records=2, seed=0)
    >>> path = save_run(records, tempfile.mkdtemp() + "/records.zarr")
    >>> open_run(path).attrs["class_names"]
    ['SIL', 'TRE', 'LP', 'VTE', 'HYB']
    """
    path = Path(path)
    if path.name.endswith(PARTIAL_SUFFIX):
        raise ValueError(f"save_run: {path} ends in {PARTIAL_SUFFIX!r}, which rnnscope reserves for unfinished writes.")
    fmt = _format(path, format)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    if partial.exists():
        shutil.rmtree(partial) if partial.is_dir() else partial.unlink()
    data = _prepare(run, chunks)
    if fmt == "zarr":
        partial.mkdir(parents=True)
        _write_manifest(partial, run, "writing")
        with _quiet_zarr():
            data.to_zarr(partial, mode="a", consolidated=True, zarr_format=ZARR_FORMAT)
        _write_manifest(partial, run, "complete")
    else:
        data.attrs["rnnscope_complete"] = 1
        encoding = {name: {"zlib": True, "complevel": 4} for name, var in data.data_vars.items()
                    if var.dtype.kind in "fi"}
        data.to_netcdf(partial, engine=_netcdf_engine(), format="NETCDF4", encoding=encoding)
    _replace(partial, path)
    return path


def _netcdf_engine() -> str:
    import importlib.util

    if importlib.util.find_spec("netCDF4") is None:
        raise ImportError("netCDF runs need the netCDF4 package: pip install 'rnnscope[netcdf]' (or use a .zarr path).")
    return "netcdf4"


def open_run(path: str | os.PathLike, *, chunks: dict | str | None = None, validate_schema: bool = True) -> xr.Dataset:
    """Open a run (or records / features Dataset) lazily, backed by dask.

    Nothing is read but metadata: runs larger than memory open instantly, with the chunks they were written with
    (``chunks=None``; pass a dict or ``"auto"`` to rechunk). Attributes are decoded (lists and
    dicts back from JSON). A store still being written (``NAME.partial`` or an incomplete manifest), a truncated
    or corrupt file, or a Dataset that does not follow the schema raises :class:`RunFileError` /
    :class:`rnnscope.schema.SchemaError` with what to do.
    """
    path = Path(path)
    if path.name.endswith(PARTIAL_SUFFIX):
        raise RunFileError(
            f"open_run: {path} is an unfinished write (it ends in {PARTIAL_SUFFIX!r}). Resume the capture that wrote "
            "it (rnnscope.capture(..., store=...) with the same store name) or delete it."
        )
    if not path.exists():
        partial = path.with_name(path.name + PARTIAL_SUFFIX)
        hint = f" An unfinished write exists at {partial}: resume or delete it." if partial.exists() else ""
        raise FileNotFoundError(f"open_run: no run at {path}.{hint}")
    fmt = "zarr" if path.is_dir() else "netcdf"
    chunks = {} if chunks is None else chunks
    try:
        if fmt == "zarr":
            manifest = _read_manifest(path)
            if manifest.get("status") != "complete":
                raise RunFileError(f"open_run: {path} was not completely written (manifest status "
                                   f"{manifest.get('status')!r}); re-create it.")
            with _quiet_zarr():
                ds = xr.open_zarr(path, chunks=chunks, consolidated=True, zarr_format=ZARR_FORMAT)
        else:
            ds = xr.open_dataset(path, engine=_netcdf_engine(), chunks=chunks)
            if not ds.attrs.get("rnnscope_complete"):
                raise RunFileError(f"open_run: {path} is a netCDF file not written completely by rnnscope.save_run.")
    except RunFileError:
        raise
    except Exception as exc:  # backends raise many types for truncated or corrupt files
        raise RunFileError(
            f"open_run: {path} could not be read as a {fmt} run ({type(exc).__name__}: {exc}). The file is corrupt "
            "or truncated; re-create it from its source (save_run or capture)."
        ) from exc
    ds.attrs = decode_attrs(ds.attrs)
    ds.attrs.pop("rnnscope_complete", None)
    for name in ds.variables:
        ds[name].attrs = decode_attrs(ds[name].attrs)
    if validate_schema:
        try:
            validate(ds, check_padding=False)
        except SchemaError as exc:
            raise SchemaError(f"open_run: {path} is not a valid rnnscope Dataset.\n{exc}") from None
    return ds


@contextlib.contextmanager
def _quiet_zarr():
    """Silence zarr's notes about our manifest file and consolidated metadata (both intended)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is not recognized as a component of a Zarr hierarchy.*")
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        yield


def _read_manifest(path: Path) -> dict:
    manifest = path / MANIFEST
    if not manifest.exists():
        raise RunFileError(
            f"open_run: {path} has no {MANIFEST}; it was not written by rnnscope.save_run or capture, or the write "
            "was interrupted. Re-create it."
        )
    try:
        return json.loads(manifest.read_text())
    except json.JSONDecodeError as exc:
        raise RunFileError(f"open_run: the manifest of {path} is corrupt ({exc}); re-create the run.") from exc

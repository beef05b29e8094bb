"""Open a run (or records / features Dataset) lazily, upgrading stores of the previous schema on reading.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import xarray as xr

from ..schema import SchemaError, upgrade, validate
from ._attrs import decode_attrs
from ._check import check_chunks, checked_store
from ._files import (
    PARTIAL_SUFFIX,
    ZARR_FORMAT,
    RunFileError,
    netcdf_engine,
    partial_path,
    quiet_zarr,
    read_manifest,
)

__all__ = ["open_run"]


def open_run(path: str | os.PathLike, *, chunks: dict | Literal["auto"] | None = None, validate_schema: bool = True,
             verify: bool = False) -> xr.Dataset:
    """Open a run (or records / features Dataset) lazily, backed by dask.

    Nothing is read but metadata: runs larger than memory open instantly, with the chunks they were written with
    (``chunks=None``; pass a dict or ``"auto"`` to rechunk). Attributes are decoded (lists and dicts back from
    JSON). A store of schema version 1 is upgraded on reading (:func:`rnnscope.schema.upgrade`: the segment
    table by ``event_id``; its summaries are used only while all its records are selected). A store still being
    written (``NAME.partial`` or an incomplete manifest), a truncated or corrupt file, or a Dataset that does not
    follow the schema raises :class:`RunFileError` / :class:`rnnscope.schema.SchemaError` with what to do.

    **Damaged chunks.** The writer lists every chunk of a zarr store with its size and CRC-32 in the manifest:
    opening checks that each exists with its size (cheap: one ``stat`` per chunk), ``verify=True`` also checks
    every checksum (reads every byte), and each chunk read later (when values are computed) is checked against its
    checksum. A missing, truncated or altered chunk raises :class:`RunFileError` naming the variable, the records
    and frames it holds, never a codec error or NaN in place of the data. Stores written before these checks open
    unchecked.

    Parameters
    ----------
    path : str or path
        A zarr store (directory) or netCDF file written by :func:`rnnscope.save_run` / :func:`rnnscope.capture`.
    chunks : dict or "auto", optional
        Dask chunks (default: those of the store).
    validate_schema : bool
        Check the Dataset against :mod:`rnnscope.schema` (default True).
    verify : bool
        Also check every chunk's checksum at opening (default False: sizes at opening, checksums at reading).

    Returns
    -------
    xarray.Dataset
        The run, lazy (dask arrays).

    Raises
    ------
    FileNotFoundError
        No run at ``path``.
    RunFileError
        Unfinished, corrupt, truncated or damaged store (the message names the damaged chunk's variable and record).
    SchemaError
        The Dataset does not follow the schema.

    Examples
    --------
    >>> import tempfile, rnnscope
    >>> path = rnnscope.save_run(rnnscope.examples.toy_run(), tempfile.mkdtemp() + "/run.zarr")
    >>> run = open_run(path)
    >>> run.attrs["schema_version"], run.pred.dtype
    ('2.0', dtype('int16'))

    A chunk deleted from the store is found at opening, with what it held:

    >>> import os
    >>> os.remove(os.path.join(path, "h", "1.0.0.0"))
    >>> open_run(path)
    Traceback (most recent call last):
    ...
    rnnscope.errors.RunFileError: open_run: the run ... is damaged: chunk h/1.0.0.0 of variable 'h' (record 1, event_id
    'ex1'; frames 0-17) is missing ...
    """
    path = Path(path)
    if path.name.endswith(PARTIAL_SUFFIX):
        raise RunFileError(
            f"open_run: {path} is an unfinished write (it ends in {PARTIAL_SUFFIX!r}). Resume the capture that wrote "
            "it (rnnscope.capture(..., store=...) with the same store name) or delete it."
        )
    if not path.exists():
        partial = partial_path(path)
        hint = f" An unfinished write exists at {partial}: resume or delete it." if partial.exists() else ""
        raise FileNotFoundError(f"open_run: no run at {path}.{hint}")
    fmt = "zarr" if path.is_dir() else "netcdf"
    chunks = {} if chunks is None else chunks
    try:
        if fmt == "zarr":
            manifest = read_manifest(path)
            if manifest.get("status") != "complete":
                raise RunFileError(f"open_run: {path} was not completely written (manifest status "
                                   f"{manifest.get('status')!r}); re-create it.")
            table = check_chunks(path, manifest, verify=verify)
            with quiet_zarr():
                # fill values are padding (NaN, or -1 for labels): read them as values, never as a mask
                store = path if table is None else checked_store(path, table)
                ds = xr.open_zarr(store, chunks=chunks, consolidated=True, zarr_format=ZARR_FORMAT,
                                  mask_and_scale=False)
        else:
            ds = xr.open_dataset(path, engine=netcdf_engine(), chunks=chunks)
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
    for var in ds.variables.values():
        attrs = decode_attrs(var.attrs)
        if "_FillValue" in attrs:
            var.encoding["_FillValue"] = attrs.pop("_FillValue")
        var.attrs = attrs
    ds = upgrade(ds)
    if validate_schema:
        try:
            validate(ds, check_padding=False)
        except SchemaError as exc:
            raise SchemaError(f"open_run: {path} is not a valid rnnscope Dataset.\n{exc}") from None
    return ds

"""Paths, manifests and atomic replacement of run stores; the error a bad run file raises.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Final, Literal

from ..errors import RunFileError

__all__ = ["RunFileError", "MANIFEST", "PARTIAL_SUFFIX", "ZARR_FORMAT"]

MANIFEST = "rnnscope_manifest.json"
PARTIAL_SUFFIX = ".partial"
#: Zarr format written: version 2 stores text coordinates in a specified dtype every zarr reader knows.
ZARR_FORMAT: Final = 2
_NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".h5")



def partial_path(path: Path) -> Path:
    """Where ``path`` is written until it is complete: ``NAME.partial`` beside it."""
    return path.with_name(path.name + PARTIAL_SUFFIX)


def store_format(path: Path, format: str, func: str = "save_run") -> str:
    """``"zarr"`` or ``"netcdf"``: ``format`` itself, or chosen by the suffix for ``"auto"``."""
    if format != "auto":
        if format not in ("zarr", "netcdf"):
            raise ValueError(f"The 'format' parameter of {func} must be one of ['auto', 'zarr', 'netcdf']. "
                             f"Got {format!r} instead.")
        return format
    return "netcdf" if path.suffix.lower() in _NETCDF_SUFFIXES else "zarr"


def netcdf_engine() -> Literal["netcdf4"]:
    import importlib.util

    if importlib.util.find_spec("netCDF4") is None:
        raise ImportError("netCDF runs need the netCDF4 package: pip install 'rnnscope[netcdf]' (or use a .zarr path).")
    return "netcdf4"


@contextlib.contextmanager
def quiet_zarr():
    """Silence zarr's notes about our manifest file and consolidated metadata (both intended)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is not recognized as a component of a Zarr hierarchy.*")
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        yield


def write_json(path: Path, value) -> None:
    """Write ``value`` as JSON to ``path`` atomically (a reader sees the old or the new file, never half)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1))
    os.replace(tmp, path)


def read_manifest(path: Path, func: str = "open_run") -> dict:
    manifest = path / MANIFEST
    if not manifest.exists():
        raise RunFileError(
            f"{func}: {path} has no {MANIFEST}; it was not written by rnnscope.save_run or capture, or the write "
            "was interrupted. Re-create it."
        )
    try:
        return json.loads(manifest.read_text())
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{func}: the manifest of {path} is corrupt ({exc}); re-create the run.") from exc


def remove(path: Path) -> None:
    """Delete a store (directory) or file if it exists."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def replace(partial: Path, final: Path) -> None:
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

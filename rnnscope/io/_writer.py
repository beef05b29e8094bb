"""The one writer of run stores (:class:`RunWriter`) and :func:`save_run`.

Every run store rnnscope writes goes through :class:`RunWriter`: :func:`save_run`, :func:`rnnscope.capture` with
``store=`` (region by region, with a checkpoint after every window, resumable) and the monitor's capture stores
(grown along ``time``). A store is written as ``NAME.partial`` with a manifest (``rnnscope_manifest.json``) and
renamed to ``NAME`` when complete; chunks are one record by at most 4096 frames, and chunks entirely of padding
are never written (their fill value, NaN or -1, is the padding). When it completes a run, the writer adds the
multiscale overview of its long records (:mod:`rnnscope._overview`, computed chunk by chunk by
:func:`rnnscope.io._overview.store_overview`), so views read a level instead of a record. The complete manifest
lists the size and CRC-32 of every chunk written, the overview's too, which :func:`rnnscope.open_run` checks
(:mod:`rnnscope.io._check`).
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .. import _overview as ov
from .. import _version
from .._overview import OVERVIEW_VARIABLES
from ..schema import (
    SCHEMA_VERSION,
    SEGMENT_VARIABLES,
    SUMMARY_VARIABLES,
    fit_to_frames,
    segment_rows,
    segment_variables,
    summaries_cover,
    upgrade,
)
from ._attrs import decode_attrs, encode_attrs, prepare
from ._check import CHUNKS, chunk_table
from ._files import (
    MANIFEST,
    PARTIAL_SUFFIX,
    ZARR_FORMAT,
    netcdf_engine,
    partial_path,
    quiet_zarr,
    read_manifest,
    remove,
    replace,
    store_format,
    write_json,
)
from ._overview import compute_overview, overview_complete, store_overview
from ._summaries import compute_summaries

__all__ = ["RunWriter", "save_run"]

CHECKPOINT = "rnnscope_checkpoint.npz"


class RunWriter:
    """Writes one run store as ``NAME.partial`` and renames it to ``NAME`` when :meth:`finish` completes it.

    Start with :meth:`create` (or :meth:`resume` an interrupted write), fill it with :meth:`write` (region by
    region) or :meth:`append` (along ``time``), save progress with :meth:`checkpoint`, and call :meth:`finish`.

    Parameters
    ----------
    final : path
        The store's final name (``NAME``); ``NAME.partial`` must already exist (:meth:`create` lays it out and
        returns the writer, as :meth:`resume` does for an interrupted write).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> ds = xr.Dataset({"x": (("event", "time"), np.full((2, 3), np.nan, np.float32))},
    ...                 attrs={"schema_version": "2.0", "class_names": ["A"]})
    >>> writer = RunWriter.create(Path(tempfile.mkdtemp()) / "x.zarr", ds)
    >>> writer.write("x", [1], 0, [2], np.ones((1, 3), np.float32))
    >>> path = writer.finish()
    >>> xr.open_zarr(path)["x"].values[1].tolist()
    [1.0, 1.0, nan]
    """

    def __init__(self, final: Path):
        import zarr

        self.final = Path(final)
        self.partial = partial_path(self.final)
        self.group = zarr.open_group(str(self.partial), mode="r+", zarr_format=ZARR_FORMAT)
        self._attrs = dict(self.group.attrs)  # encoded; xarray's later writes into the store would reset them
        self._arrays: dict = {}
        self._source: xr.Dataset | None = None  # the data in memory, read for the overview instead of the store

    # -- starting --------------------------------------------------------------------------------------------
    @classmethod
    def create(cls, path, template: xr.Dataset, *, empty=(), chunks: dict | None = None, grow: str | None = None,
               manifest: dict | None = None) -> RunWriter:
        """Lay out ``NAME.partial`` from ``template`` and write its data, except the variables in ``empty``
        (laid out only: their chunks stay unwritten until :meth:`write`). ``chunks``: per dimension (default
        :func:`default_chunks`); ``grow``: the dimension :meth:`append` will grow (its chunks keep their size);
        ``manifest``: extra manifest entries (e.g. a fingerprint for :meth:`resume`). An older ``NAME.partial`` is
        replaced."""
        final = Path(path)
        if final.name.endswith(PARTIAL_SUFFIX):
            raise ValueError(f"RunWriter: {final} ends in {PARTIAL_SUFFIX!r}, which rnnscope reserves for unfinished "
                             "writes; choose another name.")
        partial = partial_path(final)
        remove(partial)
        data, encoding = prepare(template, chunks, grow)
        partial.mkdir(parents=True)
        write_json(partial / MANIFEST, {**_manifest(template, "writing"), **(manifest or {})})
        with quiet_zarr():
            if empty:
                data.to_zarr(partial, mode="a", compute=False, consolidated=False, zarr_format=ZARR_FORMAT,
                             encoding=encoding)
                written = [name for name in data.data_vars if name not in set(empty)]
                # the coordinates too, also those of no written variable (every variable along event empty)
                data[written].merge(data.coords).to_zarr(partial, mode="r+", zarr_format=ZARR_FORMAT,
                                                         consolidated=False)
            else:
                data.to_zarr(partial, mode="a", consolidated=False, zarr_format=ZARR_FORMAT, encoding=encoding)
        writer = cls(final)
        writer._source = template if grow is None else None  # a grown store holds more than its template
        return writer

    @classmethod
    def resume(cls, path, fingerprint: str) -> RunWriter | None:
        """The writer of an interrupted ``NAME.partial`` created with the same ``fingerprint`` manifest entry and
        holding a checkpoint; None otherwise (then :meth:`create` starts again)."""
        final = Path(path)
        partial = partial_path(final)
        if not (partial / MANIFEST).exists() or not (partial / CHECKPOINT).exists():
            return None
        try:
            manifest = read_manifest(partial, func="RunWriter.resume")
        except OSError:
            return None
        return cls(final) if manifest.get("fingerprint") == fingerprint else None

    # -- writing ---------------------------------------------------------------------------------------------
    @property
    def manifest(self) -> dict:
        return read_manifest(self.partial, func="RunWriter")

    def _array(self, name):
        if name not in self._arrays:
            self._arrays[name] = self.group[name]
        return self._arrays[name]

    def write(self, name: str, rows, t0: int, n_valid, block: np.ndarray) -> None:
        """Frames ``t0 .. t0 + n_valid[r]`` of record ``rows[r]`` from ``block[r]`` (rows, time, ...): only the
        valid frames are written, so chunks past a record's end stay unwritten (padding)."""
        array = self._array(name)
        for r, event in enumerate(rows):
            n = int(n_valid[r])
            if n > 0:
                array[int(event), t0 : t0 + n] = block[r, :n]

    def write_rows(self, name: str, start: int, block: np.ndarray) -> None:
        """Rows ``start .. start + len(block)`` along the first dimension of ``name`` (e.g. the targets of an
        attribution store), whole."""
        self._array(name)[int(start): int(start) + block.shape[0]] = block

    def append(self, ds: xr.Dataset, dim: str = "time") -> None:
        """Grow the store along ``dim`` by ``ds`` (the same variables as the template)."""
        data, _ = prepare(ds.drop_vars([c for c in ds.coords if dim not in ds[c].dims]))
        # one dask chunk along dim: chunked from its own start, a block appended at an offset that is not a
        # multiple of the store's chunk would put two dask chunks into one zarr chunk (refused by xarray)
        data = data.chunk({dim: -1})
        data.attrs = self._attrs
        with quiet_zarr():
            data.to_zarr(self.partial, append_dim=dim, consolidated=False, zarr_format=ZARR_FORMAT)
        self._arrays.clear()

    def resize(self, dim: str, size: int, coords: dict | None = None) -> None:
        """Set the size of ``dim`` to ``size`` in every array along it (the chunks added are unwritten: padding) and
        write ``coords`` (name -> values) along it; for a run whose extent is known only as it is written."""
        import zarr

        with quiet_zarr():
            group = zarr.open_group(str(self.partial), mode="r+", zarr_format=ZARR_FORMAT)
            for _, array in group.arrays():
                names = array.attrs.get("_ARRAY_DIMENSIONS", [])
                dims = list(names) if isinstance(names, (list, tuple)) else []
                if dim in dims:
                    shape = list(array.shape)
                    shape[dims.index(dim)] = int(size)
                    array.resize(tuple(shape))
            for name, values in (coords or {}).items():
                target = group[name]
                assert isinstance(target, zarr.Array)  # a coordinate: an array of the store
                target[...] = np.asarray(values)
        self._arrays.clear()

    def dataset(self) -> xr.Dataset:
        """What is written so far, opened lazily (attributes decoded; padding read as values)."""
        with quiet_zarr():
            ds = xr.open_zarr(self.partial, consolidated=False, zarr_format=ZARR_FORMAT, mask_and_scale=False)
        ds.attrs = decode_attrs(ds.attrs)
        for var in ds.variables.values():
            var.attrs.pop("_FillValue", None)
        return ds

    def checkpoint(self, arrays: dict, **progress) -> None:
        """Save ``arrays`` (a resumable writer's state: recurrent states, running sums) and record ``progress``
        in the manifest; both are replaced atomically."""
        tmp = self.partial / (CHECKPOINT + ".tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, self.partial / CHECKPOINT)
        write_json(self.partial / MANIFEST, {**self.manifest, "status": "writing", **progress})

    def read_checkpoint(self) -> dict:
        with np.load(self.partial / CHECKPOINT) as saved:
            return {k: saved[k] for k in saved.files}

    # -- completing ------------------------------------------------------------------------------------------
    def finish(self, extra: xr.Dataset | None = None, attrs: dict | None = None) -> Path:
        """Add ``extra`` (variables and coordinates without a time axis: summaries, segment table, per-record
        coordinates), set ``attrs``, consolidate the metadata, mark the manifest complete and rename the store
        to ``NAME``; returns ``NAME``."""
        import zarr

        coordinates = _coordinate_names(self._attrs)  # xarray's list of unattached coordinates
        if attrs is not None:
            self._attrs = encode_attrs(attrs)
        with quiet_zarr():
            if extra is not None and (extra.data_vars or extra.coords):
                data, _ = prepare(extra)
                data.attrs = self._attrs
                data.to_zarr(self.partial, mode="a", zarr_format=ZARR_FORMAT, consolidated=False)
            group = zarr.open_group(str(self.partial), mode="r+", zarr_format=ZARR_FORMAT)
            coordinates |= _coordinate_names(group.attrs)
            group.attrs.put({**self._attrs, **({"coordinates": " ".join(sorted(coordinates))} if coordinates else {})})
            self._overview()  # each of xarray's writes sets the list of unattached coordinates to its own
            group = zarr.open_group(str(self.partial), mode="r+", zarr_format=ZARR_FORMAT)  # read it again
            coordinates |= _coordinate_names(group.attrs)
            group.attrs.put({**self._attrs, **({"coordinates": " ".join(sorted(coordinates))} if coordinates else {})})
            zarr.consolidate_metadata(str(self.partial), zarr_format=ZARR_FORMAT)
            written = xr.open_zarr(self.partial, consolidated=True, zarr_format=ZARR_FORMAT, chunks=None)
        (self.partial / CHECKPOINT).unlink(missing_ok=True)
        progress = {k: v for k, v in self.manifest.items() if k in ("fingerprint", "batches_done")}
        # the size and checksum of every chunk stored, which open_run checks (rnnscope.io._check)
        write_json(self.partial / MANIFEST, {**_manifest(written, "complete"), **progress,
                                             CHUNKS: chunk_table(self.partial)})
        replace(self.partial, self.final)
        return self.final

    def _overview(self) -> None:
        """The overview of a run's long records, unless the store holds one (written from a run that had it)."""
        names = set(ov.overview_names()) | set(ov.COVERED.values())
        if "h" not in self.group.array_keys() or names & set(self.group.array_keys()):
            return
        store_overview(self.partial, self.dataset(), self._source)


def _coordinate_names(attrs: Mapping[str, Any]) -> set[str]:
    """xarray's list of unattached coordinates (attribute ``coordinates``, names separated by spaces) as a set."""
    names = attrs.get("coordinates", "")
    return set(names.split()) if isinstance(names, str) else set()


def _manifest(ds: xr.Dataset, status: str) -> dict:
    return {
        "status": status,
        "schema_version": str(ds.attrs.get("schema_version", SCHEMA_VERSION)),
        "rnnscope_version": _version.__version__,
        "variables": sorted(str(v) for v in ds.data_vars),
        "sizes": {str(k): int(v) for k, v in ds.sizes.items()},
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def tidy(run: xr.Dataset) -> xr.Dataset:
    """``run`` as it is stored: the current schema, one segment table (a table that ``xr.concat`` stacked along
    ``event`` is flattened), and summaries that describe its records (recomputed from the data when they
    describe others, e.g. after ``run.isel(event=...)``)."""
    out = upgrade(run)
    if "segment_event_id" in out.variables and out["segment_event_id"].ndim > 1:
        rows = segment_rows(out)
        out = out.drop_vars([v for v in SEGMENT_VARIABLES if v in out.variables]).assign(segment_variables(rows))
    stored = [n for n in SUMMARY_VARIABLES if n in out.variables]
    stale = stored and not summaries_cover(out)
    out = fit_to_frames(out)  # a time selection is stored with the lengths of the frames it holds
    overview = [n for n in OVERVIEW_VARIABLES if n in out.variables]
    if overview and not overview_complete(out):  # the writer computes it again from the data
        out = out.drop_vars(overview)
    if stale:
        out = out.drop_vars([n for n in stored if n in out.variables])
        out = out.drop_vars([c for c in ("variable",) if c in out.coords and
                             not any("variable" in out[v].dims for v in out.data_vars)])
        if "h" in out.data_vars and "length" in out.coords:
            out = out.assign(compute_summaries(out))
    return out


def save_run(run: xr.Dataset, path: str | os.PathLike, *, format: str = "auto", chunks: dict | None = None) -> Path:
    """Write ``run`` to ``path`` atomically and return the path.

    Parameters
    ----------
    run : xarray.Dataset
        A run, or a records / features Dataset (anything following :mod:`rnnscope.schema`). Summaries that
        describe other records than the run's (after ``run.isel(event=...)``) are recomputed from the data, and a
        version-1 Dataset is stored in the current layout.
    path : str or path
        ``*.zarr`` (default format, a directory store) or ``*.nc`` (netCDF-4 through the netCDF4 package,
        zlib-compressed).
    format : {"auto", "zarr", "netcdf"}
        ``"auto"`` chooses by suffix.
    chunks : dict, optional
        Chunk sizes per dimension; default :func:`default_chunks` (one record per chunk, long records split in
        time). Compression is the backend's default (zstd for zarr).

    Returns
    -------
    pathlib.Path
        ``path``, holding a complete run (:func:`rnnscope.open_run` reads it).

    Raises
    ------
    ValueError
        When ``path`` ends in ``.partial`` (reserved for unfinished writes) or the format is unknown.

    Examples
    --------
    >>> import tempfile, rnnscope
    >>> records = rnnscope.data.synthetic(n_records=2, seed=0)
    >>> path = save_run(records, tempfile.mkdtemp() + "/records.zarr")
    >>> path.name, sorted(p.name for p in path.parent.iterdir())  # no partial store left
    ('records.zarr', ['records.zarr'])
    >>> rnnscope.open_run(path).attrs["class_names"]
    ['SIL', 'TRE', 'LP', 'VTE', 'HYB']
    """
    path = Path(path)
    if path.name.endswith(PARTIAL_SUFFIX):
        raise ValueError(f"save_run: {path} ends in {PARTIAL_SUFFIX!r}, which rnnscope reserves for unfinished writes.")
    fmt = store_format(path, format)
    run = tidy(run)
    if fmt == "zarr":
        return RunWriter.create(path, run, chunks=chunks).finish()
    if "h" in run.data_vars and not any(n in run.variables for n in OVERVIEW_VARIABLES):
        run = run.merge(compute_overview(run))
    partial = partial_path(path)
    remove(partial)
    data, _ = prepare(run, chunks)
    data.attrs["rnnscope_complete"] = 1
    encoding = {name: {"zlib": True, "complevel": 4} for name, var in data.data_vars.items() if var.dtype.kind in "fi"}
    data.to_netcdf(partial, engine=netcdf_engine(), format="NETCDF4", encoding=encoding)
    replace(partial, path)
    return path

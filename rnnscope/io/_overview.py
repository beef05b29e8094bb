"""The multiscale overview of a run's long records, computed record by record, chunk by chunk (numpy; no torch).

One builder serves every writer: :class:`rnnscope.io.RunWriter` computes the overview when it completes a run store
(:func:`store_overview`, from the data the store holds, whichever component wrote it: :func:`rnnscope.save_run`,
:func:`rnnscope.capture` with ``store=``, the monitor's capture stores), :func:`compute_overview` returns it in
memory (netCDF runs), and the Explorer builds the same levels for the records of a run that holds none. Layout and
names: :mod:`rnnscope._overview`.

Memory: one read step of one record's variable (a stored chunk, 4,096 frames) plus, per level, less than one chunk
of :data:`~rnnscope._overview.CHUNK` blocks waiting to be written whole (about 3 MB per level for 256 units).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr

from .. import _overview as ov
from ..schema import VARIABLES

__all__ = ["LevelStream", "compute_overview", "store_overview", "overview_sources", "overview_complete",
           "overview_covers"]

_DEFAULT_STEP = {"time": 4096, "sample": 2**18}


class LevelStream:
    """The blocks of every level of one record, from its values pushed in order (chunks of any size).

    Parameters
    ----------
    levels : list of int
        Consecutive levels ``k`` (blocks of ``2**k`` values), finest first.
    reductions : tuple of str
        ``"min"`` / ``"max"`` (NaN only where a whole block is NaN) or ``"count"`` (values of each class
        ``0 .. n_classes - 1`` per block; other values are not counted).
    emit : callable
        ``emit(k, first, blocks)``: blocks ``first, first + 1, ...`` of level ``k``, one array per reduction, in
        order. The last block of a level holds what is left (fewer than ``2**k`` values).
    n_classes : int
        Classes counted by ``"count"``.

    Examples
    --------
    >>> out = {}
    >>> stream = LevelStream([1, 2], ("min", "max"), lambda k, j, b: out.setdefault(k, []).append((j, b[1].tolist())))
    >>> stream.push(np.array([1.0, 5.0, 2.0])); stream.push(np.array([np.nan, 7.0])); stream.close()
    >>> out[1], out[2]
    ([(0, [5.0]), (1, [2.0]), (2, [7.0])], [(0, [5.0]), (1, [7.0])])
    """

    def __init__(self, levels, reductions, emit, n_classes: int = 0):
        self.levels = [int(k) for k in levels]
        self.block = 2 ** self.levels[0]
        self.reductions = tuple(reductions)
        self.emit = emit
        self.n_classes = int(n_classes)
        self._raw: np.ndarray | None = None  # values not yet making a whole block of the finest level
        self._pending: dict = {k: None for k in self.levels}  # per level: a block waiting for its pair
        self._count = {k: 0 for k in self.levels}

    def push(self, values) -> None:
        values = np.asarray(values)
        if self._raw is not None:
            values = np.concatenate([self._raw, values])
        n = values.shape[0] // self.block * self.block
        self._raw = np.array(values[n:]) if n < values.shape[0] else None
        if n:
            self._level(self.levels[0], self._reduce(values[:n], self.block))

    def close(self) -> None:
        """Emit the last (partial) blocks of every level."""
        if self._raw is not None:
            raw, self._raw = self._raw, None
            self._level(self.levels[0], self._reduce(raw, raw.shape[0]))
        for k in self.levels[:-1]:
            single, self._pending[k] = self._pending[k], None
            if single is not None:
                self._level(k + 1, single)

    def _reduce(self, values: np.ndarray, size: int) -> tuple:
        shaped: np.ndarray = values.reshape((-1, size) + values.shape[1:])
        out = []
        for r in self.reductions:
            if r == "min":
                out.append(np.fmin.reduce(shaped, axis=1))
            elif r == "max":
                out.append(np.fmax.reduce(shaped, axis=1))
            else:
                m, labels = shaped.shape[0], shaped.astype(np.int64)
                ok = (labels >= 0) & (labels < self.n_classes)
                index = (np.arange(m)[:, None] * self.n_classes + labels)[ok]
                out.append(np.bincount(index, minlength=m * self.n_classes).reshape(m, self.n_classes)
                           .astype(np.int32))
        return tuple(out)

    def _level(self, k: int, blocks: tuple) -> None:
        n = blocks[0].shape[0]
        if not n:
            return
        self.emit(k, self._count[k], blocks)
        self._count[k] += n
        if k == self.levels[-1]:
            return
        pending = self._pending[k]
        if pending is not None:
            blocks = tuple(np.concatenate([a, b]) for a, b in zip(pending, blocks, strict=True))
        m = blocks[0].shape[0] // 2 * 2
        self._pending[k] = tuple(a[m:] for a in blocks) if m < blocks[0].shape[0] else None
        if m:
            self._level(k + 1, tuple(_pair(r, a[:m]) for r, a in zip(self.reductions, blocks, strict=True)))


def _pair(reduction: str, a: np.ndarray) -> np.ndarray:
    if reduction == "min":
        return np.fmin(a[0::2], a[1::2])
    if reduction == "max":
        return np.fmax(a[0::2], a[1::2])
    return a[0::2] + a[1::2]


class _Sink:
    """Writes one record's blocks at their level's place along the overview dimension, a whole chunk at a time
    (the last one when the record ends), into zarr or numpy arrays (event first)."""

    def __init__(self, targets: dict, event: int, offsets: dict):
        self.targets, self.event, self.offsets = targets, int(event), offsets
        self.parts: dict = {k: [] for k in offsets}  # per level: blocks not yet written
        self.written = {k: 0 for k in offsets}

    def __call__(self, k, first, blocks):
        self.parts[k].append(blocks)
        if sum(b[0].shape[0] for b in self.parts[k]) >= ov.CHUNK:
            self._flush(k, whole=True)

    def _flush(self, k, whole: bool):
        if not self.parts[k]:
            return
        joined = [np.concatenate(a) if len(a) > 1 else a[0] for a in zip(*self.parts[k], strict=True)]
        n = joined[0].shape[0]
        upto = n // ov.CHUNK * ov.CHUNK if whole else n
        if upto:
            at = self.offsets[k] + self.written[k]
            for reduction, values in zip(self.targets, joined, strict=True):
                self.targets[reduction][self.event, at: at + upto] = values[:upto]
            self.written[k] += upto
        self.parts[k] = [tuple(v[upto:] for v in joined)] if upto < n else []

    def close(self):
        for k in self.parts:
            self._flush(k, whole=False)


def overview_sources(ds: xr.Dataset) -> list[tuple[str, str, tuple[str, ...]]]:
    """``(variable, dimension, reductions)`` of the variables of ``ds`` with an overview (schema dims only; none
    when the axis is too short for one level)."""
    out = []
    for name, reductions in ov.SOURCES.items():
        if name not in ds.data_vars or tuple(ds[name].dims) != VARIABLES[name].dims:
            continue
        if "count" in reductions and "class_name" not in ds.dims:
            continue  # a run without classes: nothing to count
        dim = "sample" if name == "waveform" else "time"
        if not ov.levels(ds.sizes[dim], ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL):
            continue  # no record long enough
        out.append((name, "sample" if name == "waveform" else "time", reductions))
    return out


def overview_complete(ds: xr.Dataset) -> bool:
    """Whether ``ds`` holds the overview of every variable and every record long enough to have one, describing
    exactly its frames (what a writer keeps rather than computes again)."""
    for name, dim, reductions in overview_sources(ds):
        if any(ov.overview_name(name, r) not in ds.data_vars for r in reductions):
            return False
        finest = ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL
        needs = np.array([bool(ov.levels(int(n), finest)) for n in _extents(ds, dim)], dtype=bool)
        if not np.all(overview_covers(ds, dim) | ~needs):
            return False
    return True


def overview_covers(ds: xr.Dataset, dim: str = "time") -> np.ndarray:
    """Per record, whether the overview of ``ds`` along ``dim`` describes exactly its valid frames (samples)
    (:func:`rnnscope._overview.covers` with the schema's valid lengths).

    >>> from rnnscope.examples import toy_long_run
    >>> run = toy_long_run(lengths=(6000, 80))
    >>> run = run.merge(compute_overview(run))
    >>> [overview_covers(r).tolist() for r in (run, run.isel(event=[1, 0]), run.isel(time=slice(100, None)))]
    [[True, False], [False, True], [False, False]]
    """
    from ..schema import valid_lengths

    return ov.covers(ds, dim, VARIABLES, valid_lengths)


def _extents(ds: xr.Dataset, dim: str) -> np.ndarray:
    """Valid frames (samples) of every record."""
    n_event = ds.sizes["event"]
    if dim == "time":
        return np.minimum(np.asarray(ds["length"].values, np.int64), ds.sizes["time"])
    if "n_samples" in ds.coords:
        return np.minimum(np.asarray(ds["n_samples"].values, np.int64), ds.sizes["sample"])
    return np.full(n_event, ds.sizes["sample"], np.int64)


def _layout(ds: xr.Dataset, dim: str) -> tuple[np.ndarray, dict]:
    keys = ov.block_keys(ds.sizes[dim], ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL)
    offsets = {}
    for k in sorted({int(x) // ov.KEY for x in keys[:: ov.CHUNK]}):
        offsets[k] = ov.level_start(keys, k)
    return keys, offsets


def _fill(ds: xr.Dataset, targets_of, read, step_of) -> dict[str, np.ndarray]:
    """Run every record of every source through a :class:`LevelStream` into ``targets_of(name, reductions)``;
    returns the frames (samples) covered per record, by dimension."""
    covered: dict[str, np.ndarray] = {}
    n_classes = ds.sizes.get("class_name", 0)
    for name, dim, reductions in overview_sources(ds):
        extents = _extents(ds, dim)
        _, offsets = _layout(ds, dim)
        finest = ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL
        covered.setdefault(dim, np.zeros(ds.sizes["event"], np.int64))
        targets = targets_of(name, reductions)
        step = step_of(name, dim)
        for event, n in enumerate(extents):
            record_levels = ov.levels(int(n), finest)
            if not record_levels:
                continue
            sink = _Sink(targets, event, {k: offsets[k] for k in record_levels})
            stream = LevelStream(record_levels, reductions, sink, n_classes=n_classes)
            for a in range(0, int(n), step):
                stream.push(read(name, event, a, min(int(n), a + step)))
            stream.close()
            sink.close()
            covered[dim][event] = n
    return covered


def _overview_dataset(ds: xr.Dataset, data: dict) -> xr.Dataset:
    """The overview Dataset of ``ds`` around ``data`` (name -> array, event first), with its coordinates."""
    coords = {}
    for dim in {VARIABLES[n].dims[1] for n in data}:
        coords[dim] = (dim, _layout(ds, "time" if dim == "overview" else "sample")[0])
    return xr.Dataset({n: (VARIABLES[n].dims, a) for n, a in data.items()}, coords=coords)


def _empty(ds: xr.Dataset, name: str, reduction: str, lazy: bool):
    """A NaN (count: 0) array of an overview variable of ``ds`` (dask and never computed when ``lazy``)."""
    spec = VARIABLES[ov.overview_name(name, reduction)]
    dim = spec.dims[1]
    size = _layout(ds, "time" if dim == "overview" else "sample")[0].size
    shape = (ds.sizes["event"], size) + tuple(ds.sizes[d] for d in spec.dims[2:])
    dtype, fill = (np.int32, 0) if reduction == "count" else (np.float32, np.nan)
    if not lazy:
        return np.full(shape, fill, dtype)
    import dask.array as da

    return da.full(shape, fill, dtype=dtype, chunks=(1, ov.CHUNK) + shape[2:])


def _in_memory_read(ds: xr.Dataset):
    def read(name, event, a, b):
        data = ds[name].data
        if isinstance(data, np.ndarray):
            return data[event, a:b]
        return np.asarray(ds[name].isel(event=event, **{ds[name].dims[1]: slice(a, b)}).values)
    return read


def _steps(ds: xr.Dataset):
    def step_of(name, dim):
        chunks = ds[name].chunks
        size = int(chunks[1][0]) if chunks else _DEFAULT_STEP[dim]
        finest = 2 ** (ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL)
        return math.lcm(max(size, 1), finest)
    return step_of


def compute_overview(run: xr.Dataset) -> xr.Dataset:
    """The multiscale overview of ``run``'s long records (:mod:`rnnscope._overview`), in memory.

    Reads each record's variables chunk by chunk (dask-backed runs work); the result holds every level of every
    record of at least 4,096 frames (waveform: 32,768 samples): about half the size of the states. Stores written
    by rnnscope hold it already (:class:`RunWriter` computes it chunk by chunk into the store).

    Parameters
    ----------
    run : xarray.Dataset
        A run (``length`` says each record's valid frames).

    Returns
    -------
    xarray.Dataset
        ``overview_<variable>_<min|max|count>`` and the coordinates ``overview``, ``overview_length`` (and for the
        waveform ``overview_sample``, ``overview_n_samples``); empty when no record is long enough.

    Examples
    --------
    >>> from rnnscope.examples import toy_long_run
    >>> run = toy_long_run(lengths=(6000, 80))
    >>> o = compute_overview(run)
    >>> o.overview_length.values.tolist(), o.overview_h_max.dims
    ([6000, 0], ('event', 'overview', 'unit', 'layer'))
    >>> level3 = o.overview_h_max.isel(event=0, overview=slice(0, 750))  # blocks of 8 frames, the finest level
    >>> bool((level3.values == run.h.isel(event=0).coarsen(time=8).max().values).all())
    True
    """
    arrays: dict = {}

    def targets_of(name, reductions):
        return {r: arrays.setdefault(ov.overview_name(name, r), _empty(run, name, r, lazy=False)) for r in reductions}

    covered = _fill(run, targets_of, _in_memory_read(run), _steps(run))
    if not arrays:
        return xr.Dataset()
    out = _overview_dataset(run, arrays)
    return out.assign_coords({ov.COVERED[dim]: ("event", n) for dim, n in covered.items()})


def store_overview(path, ds: xr.Dataset, source: xr.Dataset | None = None) -> None:
    """Compute the overview of the run store at ``path`` (``ds``: it, opened lazily) and write it there, chunk by
    chunk; ``source``: the same data in memory (read instead of the store where it holds numpy arrays).

    Overview arrays the store holds already are replaced.
    """
    import shutil

    import zarr

    from ._files import ZARR_FORMAT, quiet_zarr

    path = Path(path)
    names = [ov.overview_name(n, r) for n, _, rs in overview_sources(ds) for r in rs]
    for old in [*names, *ov.DIMS.values(), *ov.COVERED.values()]:
        shutil.rmtree(path / old, ignore_errors=True)
    if not names:
        return
    template = _overview_dataset(ds, {ov.overview_name(n, r): _empty(ds, n, r, lazy=True)
                                      for n, _, rs in overview_sources(ds) for r in rs})
    encoding = {n: {"_FillValue": 0 if n.endswith("_count") else np.nan} for n in names}
    with quiet_zarr():
        template.to_zarr(path, mode="a", compute=False, consolidated=False, zarr_format=ZARR_FORMAT,
                         encoding=encoding)
        group = zarr.open_group(str(path), mode="r+", zarr_format=ZARR_FORMAT)
    memory = _in_memory_read(source) if source is not None else None

    def read(name, event, a, b):
        if memory is not None and name in source.data_vars and isinstance(source[name].data, np.ndarray):
            return memory(name, event, a, b)
        return group[name][event, a:b]

    def step_of(name, dim):
        finest = 2 ** (ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL)
        return math.lcm(int(group[name].chunks[1]), finest)

    covered = _fill(ds, lambda name, rs: {r: group[ov.overview_name(name, r)] for r in rs}, read, step_of)
    coords = xr.Dataset(coords={ov.COVERED[dim]: ("event", n) for dim, n in covered.items()})
    with quiet_zarr():
        coords.to_zarr(path, mode="a", consolidated=False, zarr_format=ZARR_FORMAT)

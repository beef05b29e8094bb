"""The chunks of a lazy run that the widgets read, kept decoded: a view inside chunks an earlier view read reads
nothing from the store.

Zarr decodes a whole chunk for any slice of it (and the run's checked store verifies its checksum), and dask builds
a graph for every slice: a press on the detection table's next / previous, a pan or a wheel step near what is shown
read the same chunks again (a chunk of a day-long monitor capture holds 4,096 frames, about half an hour; detections
minutes apart share it). :class:`ChunkCache` reads the chunks a slice touches whole (along the variable's long
dimension, after the selection of its record and of the other dimensions), keeps them up to a byte budget (the least
recently used leave first) and serves slices of them as numpy arrays. Runs in memory (numpy) are read as they are.

Examples
--------
>>> from rnnscope.examples import toy_long_run
>>> run = toy_long_run().chunk({"time": 32})  # 120 frames in chunks of 32
>>> cache = ChunkCache(run)
>>> cache.get("h", 0, 40, 60, {"layer": 0}) is None  # nothing read yet
True
>>> [(frames, block.shape) for _, block, frames in cache.missing("h", 0, 40, 60, {"layer": 0})]
[((32, 64), (32, 8))]
>>> cache.fill(cache.missing("h", 0, 40, 60, {"layer": 0}))
>>> np.array_equal(cache.get("h", 0, 40, 60, {"layer": 0}), run["h"].isel(event=0, layer=0).values[40:60])
True
>>> cache.get("h", 0, 50, 70, {"layer": 0}) is None  # frame 64 on: another chunk, not read
True
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

import numpy as np
import xarray as xr

__all__ = ["ChunkCache", "CHUNK_BYTES"]

log = logging.getLogger("rnnscope.widgets")

#: decoded chunks kept per run (bytes); a slice whose chunks would take more than a quarter of it is read as it is
#: (a whole record, the levels built from it), not kept
CHUNK_BYTES = 64_000_000


class ChunkCache:
    """Decoded chunks of the dask-backed variables of ``run``, read whole and kept up to ``budget`` bytes.

    Parameters
    ----------
    run : xarray.Dataset
        The run (variables with ``event`` first and their long dimension, ``time``, ``sample`` or an overview's,
        second).
    budget : int
        Bytes of decoded chunks kept.
    """

    def __init__(self, run: xr.Dataset, budget: int = CHUNK_BYTES):
        self.run = run
        self.budget = int(budget)
        self.nbytes = 0  #: bytes of the chunks kept
        self._blocks: OrderedDict = OrderedDict()  # (name, event, isel, chunk) -> ndarray
        self._lazy: dict = {}  # (name, event, isel) -> the record's array along the long dimension
        self._lock = threading.Lock()
        self._generation = 0  # read_ahead calls: a later one supersedes an earlier one

    @staticmethod
    def _isel_key(isel: dict) -> str:
        return repr(sorted(isel.items()))

    def lazy(self, name: str, event: int, isel: dict):
        """``run[name]`` of record ``event`` with ``isel`` applied (the long dimension first), made once: slicing it
        costs no xarray selection."""
        return self._record(name, event, isel)[0]

    def _record(self, name, event, isel) -> tuple:
        """(lazy array, edges of its chunks along the long dimension or None, bytes per frame), made once."""
        key = (name, event, self._isel_key(isel))
        entry = self._lazy.get(key)
        if entry is None:
            array = self.run[name].isel(event=event, **isel).data
            chunked = not isinstance(array, np.ndarray) and hasattr(array, "chunks")
            edges = np.concatenate([[0], np.cumsum(array.chunks[0])]) if chunked else None
            row = int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize
            entry = self._lazy[key] = (array, edges, row)
        return entry

    def _span(self, name, event, start, stop, isel) -> tuple[int, np.ndarray] | None:
        """(first chunk, edges of the chunks from it) that [start, stop) touches, or None when the slice is not to be
        kept (a run in memory, nothing to read, or more than a quarter of the budget)."""
        _, edges, row = self._record(name, event, isel)
        if edges is None or start < 0:
            return None
        stop = min(stop, int(edges[-1]))
        if stop <= start:
            return None
        j0 = int(np.searchsorted(edges, start, side="right")) - 1
        j1 = int(np.searchsorted(edges, stop, side="left"))
        if (int(edges[j1]) - int(edges[j0])) * row > self.budget // 4:
            return None
        return j0, edges[j0 : j1 + 1]

    def get(self, name: str, event: int, start: int, stop: int, isel: dict) -> np.ndarray | None:
        """Frames [start, stop) of ``name`` (record ``event``, ``isel`` applied) from the kept chunks; None when one
        of its chunks is not kept (or the slice is not one to keep)."""
        span = self._span(name, event, start, stop, isel)
        if span is None:
            return None
        j0, edges = span
        sel = self._isel_key(isel)
        with self._lock:
            keys = [(name, event, sel, j) for j in range(j0, j0 + len(edges) - 1)]
            if not all(k in self._blocks for k in keys):
                return None
            blocks: list[np.ndarray] = [self._blocks[k] for k in keys]
            for k in keys:
                self._blocks.move_to_end(k)
        whole = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return whole[start - int(edges[0]) : stop - int(edges[0])]

    def read(self, name: str, event: int, start: int, stop: int, isel: dict, *, reads: list | None = None):
        """:meth:`get`, reading the missing chunks first (in one synchronous dask computation: a handful of chunks,
        no thread pool to start) and appending (name, event, a, b) of each to ``reads``. Without ``reads`` (None)
        nothing is read: only kept chunks serve. None when the slice is not one to keep (or not kept, without
        ``reads``)."""
        kept = self.get(name, event, start, stop, isel)
        if kept is None and reads is not None:
            missing = self.missing(name, event, start, stop, isel)
            reads += [(name, event, a, b) for _, _, (a, b) in missing]
            self.fill(missing)
            kept = self.get(name, event, start, stop, isel)
        return kept

    def cacheable(self, name: str, event: int, start: int, stop: int, isel: dict) -> bool:
        """Whether [start, stop) is read through the cache (its chunks read whole and kept)."""
        return self._span(name, event, start, stop, isel) is not None

    def missing(self, name: str, event: int, start: int, stop: int, isel: dict) -> list[tuple]:
        """(key, lazy chunk, its frames [a, b)) of each chunk of [start, stop) not kept (empty when the slice is not
        one to keep)."""
        span = self._span(name, event, start, stop, isel)
        if span is None:
            return []
        j0, edges = span
        sel, array = self._isel_key(isel), self.lazy(name, event, isel)
        with self._lock:
            return [((name, event, sel, j0 + i), array[int(a) : int(b)], (int(a), int(b)))
                    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:], strict=True))
                    if (name, event, sel, j0 + i) not in self._blocks]

    def fill(self, missing: list[tuple], values=None) -> None:
        """Keep the chunks of ``missing`` (from :meth:`missing`): ``values`` their computed arrays, or computed here
        in one dask computation."""
        if not missing:
            return
        if values is None:
            import dask

            from ._dask import _sync

            values = dask.compute(*[lazy for _, lazy, _ in missing], scheduler=_sync())
        with self._lock:
            for (key, _, _), value in zip(missing, values, strict=True):
                value = np.asarray(value)
                value.flags.writeable = False  # the slices served are views of it: no caller may change it
                if key in self._blocks:
                    self.nbytes -= self._blocks.pop(key).nbytes
                self._blocks[key] = value
                self.nbytes += value.nbytes
            while self.nbytes > self.budget and len(self._blocks) > 1:
                self.nbytes -= self._blocks.popitem(last=False)[1].nbytes

    def read_ahead(self, requests, *, after=(), delay: float = 0.0) -> threading.Thread | None:
        """Read and keep the chunks of ``requests`` ((name, event, start, stop, isel) tuples) not kept yet, in a
        background thread ``delay`` seconds later and once the threads ``after`` are done (one core: dask's
        synchronous scheduler); a later call supersedes one that has not started reading. Returns the thread (None:
        nothing to read)."""
        missing: dict = {}
        for name, event, start, stop, isel in requests:
            missing.update({m[0]: m for m in self.missing(name, event, start, stop, isel)})
        self._generation += 1
        if not missing:
            return None
        generation = self._generation

        def work():
            time.sleep(delay)  # the press's own messages and the browser's drawing go first
            for thread in after:
                thread.join()
            if generation != self._generation:
                return
            try:
                self.fill([m for m in missing.values() if m[0] not in self._blocks])
            except Exception:  # noqa: BLE001 - only a read-ahead: the views read (and report) for themselves
                log.debug("read-ahead failed", exc_info=True)

        thread = threading.Thread(target=work, name="rnnscope-read-ahead", daemon=True)
        thread.start()
        return thread

    def __len__(self) -> int:
        return len(self._blocks)

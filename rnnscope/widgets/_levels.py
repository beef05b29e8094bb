"""Which overview level a view reads, and where a run's stored levels lie (numpy only).

A view of frames ``[i0, i1)`` drawn on ``n_cols`` image columns reads the coarsest level whose blocks still give
at least ``n_cols / 2`` columns over the range (one per pixel: the images keep two columns per pixel of the plot,
so between one and two per pixel), or the frames themselves when even the finest level (blocks of 8 frames) would
give fewer: a view never reads more than about two values per pixel and unit, whatever the record's length.

Examples
--------
>>> choose_level(0, 172_800, 3200, levels=[3, 4, 5, 6, 7, 8])  # a day on 1,600 pixels: blocks of 64 frames
6
>>> choose_level(0, 4000, 3200, levels=[3, 4, 5]) is None  # 4,000 frames: the frames themselves
True
"""
from __future__ import annotations

import numpy as np

from .. import _overview as ov
from ..io._overview import LevelStream

__all__ = ["choose_level", "StoredLevels", "build_levels"]


def choose_level(i0: int, i1: int, n_cols: int, levels) -> int | None:
    """The coarsest of ``levels`` giving at least ``ceil(n_cols / 2)`` blocks over ``[i0, i1)``; None when none does
    (read the frames)."""
    need = max(1, -(-int(n_cols) // 2))
    best = None
    for k in sorted(levels):
        if -(-int(i1) >> k) - (int(i0) >> k) >= need:
            best = k
    return best


class StoredLevels:
    """The levels a run stores along one dimension (``"time"`` or ``"sample"``): per record, which levels it has;
    per level, where its blocks lie along the overview dimension.

    Parameters
    ----------
    run : xarray.Dataset
        A run as the widgets hold it (:func:`rnnscope.schema.fit_to_frames` applied: ``extents`` are its valid
        lengths; a record whose ``overview_length`` differs has an overview of other frames, not used).
    dim : {"time", "sample"}
    extents : array of int
        Valid frames (samples) of every record.
    """

    def __init__(self, run, dim: str, extents):
        from ..schema import VARIABLES

        self.dim = dim
        self.overview_dim = ov.DIMS[dim]
        self.finest = ov.FRAME_LEVEL if dim == "time" else ov.SAMPLE_LEVEL
        extents = np.asarray(extents, dtype=np.int64)
        # the run is fitted to its frames: its valid lengths are ``extents`` (no second read of its padding)
        covered = ov.covers(run, dim, VARIABLES, lambda _: extents)
        self.keys = np.asarray(run.indexes[self.overview_dim]) if covered.any() else np.zeros(0, np.int64)
        #: variables with an overview (their names in the run)
        self.names = {n for n in run.data_vars if ov.source_of(n) and run[n].dims[1:2] == (self.overview_dim,)}
        self._levels = [ov.levels(int(n), self.finest) if c else [] for n, c in zip(extents, covered, strict=True)]
        self._start = {}
        for k in sorted({k for record in self._levels for k in record}):
            start = ov.level_start(self.keys, k)
            if start is not None:
                self._start[k] = start

    def has(self, name: str) -> bool:
        """Whether the run stores the overview variable ``name`` (e.g. ``overview_h_max``)."""
        return name in self.names

    def levels(self, event: int) -> list[int]:
        """The levels stored for record ``event`` (none when its overview is absent or describes other frames)."""
        return [k for k in self._levels[event] if k in self._start]

    def positions(self, k: int, b0: int, b1: int) -> tuple[int, int] | None:
        """Positions along the overview dimension of blocks ``[b0, b1)`` of level ``k``; None when the stored keys
        do not hold them in order (then read the frames)."""
        start = self._start.get(k)
        if start is None or b1 <= b0:
            return None
        p0, p1 = start + b0, start + b1
        if p1 > self.keys.size:
            return None
        if int(self.keys[p0]) != k * ov.KEY + (b0 << k) or int(self.keys[p1 - 1]) != k * ov.KEY + ((b1 - 1) << k):
            return None
        return p0, p1


def build_levels(read, n_total: int, levels, step: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Min and max of every block of ``2**k`` values along the first axis, for each level ``k`` of ``levels``
    (consecutive), reading ``step`` values at a time (:class:`rnnscope.io._overview.LevelStream`, the run writer's
    builder). Returns ``{k: (lo, hi)}`` with ``ceil(n_total / 2**k)`` rows."""
    parts: dict = {k: [] for k in levels}
    if not levels:
        return {}
    stream = LevelStream(levels, ("min", "max"), lambda k, first, blocks: parts[k].append(blocks))
    for a in range(0, n_total, step):
        stream.push(read(a, min(n_total, a + step)))
    stream.close()
    return {k: (np.concatenate([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks]))
            for k, blocks in parts.items()}

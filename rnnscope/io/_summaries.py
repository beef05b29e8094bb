"""The capture-time summaries of a run, accumulated window by window in numpy (no torch).

One accumulator serves every writer of runs: :func:`rnnscope.capture` (in memory and into a store, resumable
through :meth:`SummaryAccumulator.state`), the monitor's capture stores and :func:`compute_summaries` (the same
numbers from a run's data, e.g. for a selection of records). The summaries:

- ``summary_heat`` (class_name, unit, layer): mean over the class's segments of the segment's mean ``|h|``;
- ``summary_heat_frame``: mean ``|h|`` over the frames labelled with the class;
- ``summary_activity`` (unit, layer): mean ``|h|`` over all valid frames;
- ``summary_min`` / ``summary_max`` (variable, layer): value range of every captured variable;
- ``summary_event_id`` (summary_event): the records they describe.

Sums are taken with one sparse product per window and layer: a 0/1 matrix whose rows are the classes and the
segments overlapping the window, times the window's ``|h|`` (frames x units), in the states' float32 within a window
and in float64 across windows; vectorised over a whole window of a batch of records, never per record in Python.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse

from ..schema import event_ids, segment_frames

__all__ = ["SummaryAccumulator", "FrameIndex", "compute_summaries", "accumulate", "run_summaries",
           "STATE_ORDER", "window_values", "frame_groups"]

#: The state variables in capture order.
STATE_ORDER = ("h", "c", "input_gate", "forget_gate", "output_gate", "cell_input", "update_gate", "reset_gate",
               "candidate")
_STATE_DIMS = ("event", "time", "unit", "layer")


def _concat_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``np.concatenate([np.arange(a, a + n) for a, n in zip(starts, lengths)])`` without a Python loop.

    Examples
    --------
    >>> _concat_ranges(np.array([5, 0]), np.array([2, 3])).tolist()
    [5, 6, 0, 1, 2]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = np.asarray(starts, dtype=np.int64) - np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.repeat(offsets, lengths) + np.arange(int(lengths.sum()))


def _membership(cls_idx: np.ndarray, n_rows: int, starts: np.ndarray, stops: np.ndarray) -> sparse.csr_matrix:
    """0/1 matrix (n_rows + len(starts), frames): row ``k < n_rows`` holds the frames with ``cls_idx == k``; row
    ``n_rows + i`` the frames ``starts[i]:stops[i]`` (every ``start < stop``). Its product with the frames' values
    gives the per-class and per-range sums in one pass."""
    frames = np.flatnonzero(cls_idx < n_rows)
    cls = cls_idx[frames]
    by_class = frames[np.argsort(cls, kind="stable")]
    lengths = stops - starts
    indptr = np.concatenate([[0], np.cumsum(np.bincount(cls, minlength=n_rows)),
                             frames.size + np.cumsum(lengths)])
    indices = np.concatenate([by_class, _concat_ranges(starts, lengths)])
    return sparse.csr_matrix((np.ones(indices.size, dtype=np.float32), indices, indptr),
                             shape=(n_rows + starts.size, cls_idx.size))


def valid_ranges(values: np.ndarray, n_valid: np.ndarray) -> list[tuple[float, float] | None]:
    """``(min, max)`` of each layer of ``values`` (rows, time, unit, layer) over the first ``n_valid[r]`` frames of
    each row, or None for a layer with no value there: the one definition of a stored value range.

    NaN is skipped (a unit a narrower layer does not have, a frame the input left empty): a layer whose units are
    partly NaN has the range of the others; a layer that is NaN everywhere has none (``summary_min`` /
    ``summary_max`` NaN). Frames past a row's length never count.

    Examples
    --------
    >>> v = np.array([[[[0.5, np.nan], [-2.0, np.nan]], [[9.0, 9.0], [9.0, 9.0]]]])  # (row, frame, unit, layer)
    >>> valid_ranges(v, np.array([1]))  # frame 1 is past the row's length; layer 1 holds only NaN there
    [(-2.0, 0.5), None]
    """
    values = np.asarray(values)
    if values.ndim == 3:  # (rows, time, unit): one layer
        values = values[..., None]
    n_layers = values.shape[-1]
    valid = np.arange(values.shape[1])[None, :] < np.asarray(n_valid)[:, None]
    if not valid.any():
        return [None] * n_layers
    layers = np.moveaxis(values, -1, 0)  # (layer, rows, time, unit), a view
    if valid.all() and layers.flags.c_contiguous:  # a whole layer-first buffer: every layer in two reductions
        flat = layers.reshape(n_layers, -1)
        low, high = np.fmin.reduce(flat, axis=1), np.fmax.reduce(flat, axis=1)
    elif layers.strides[-1] == layers.itemsize:  # a layer-first buffer's view: each layer's block read in place
        parts = [layer if valid.all() else layer[valid] for layer in layers]  # a copy only of padded windows
        low = np.array([np.fmin.reduce(part, axis=None) for part in parts])
        high = np.array([np.fmax.reduce(part, axis=None) for part in parts])
    else:  # layer last: one transposed copy, each layer's values then read in a row
        inside = values if valid.all() else values[valid]  # (valid frames..., unit, layer)
        inside = np.ascontiguousarray(inside.reshape(-1, n_layers).T)  # (layer, valid frames x units)
        low, high = np.fmin.reduce(inside, axis=1), np.fmax.reduce(inside, axis=1)
    return [None if np.isnan(low[k]) else (float(low[k]), float(high[k])) for k in range(n_layers)]


def missing_frames(h: np.ndarray) -> np.ndarray | None:
    """Frames (rows, time) where a layer's ``h`` (rows, time, unit, layer) is NaN in every unit: states the input
    left undefined (a NaN frame inside a record makes a recurrent layer NaN from there on, as in PyTorch), which the
    summaries leave out; None when there is none. A unit a narrower layer lacks (NaN in every frame) does not make
    a frame missing.

    Examples
    --------
    >>> h = np.zeros((1, 3, 2, 2), np.float32)
    >>> h[0, 1:, :, 1] = np.nan  # layer 1 undefined from frame 1 on
    >>> h[0, :, 1, 0] = np.nan  # layer 0 has one unit only
    >>> missing_frames(h).tolist()
    [[False, True, True]]
    """
    nan = np.isnan(h)
    if not nan.any():
        return None
    missing = nan.all(axis=2).any(axis=-1)
    return missing if missing.any() else None


def _layer_ranges(part: dict, n_valid: np.ndarray, n_layers: int) -> list[dict]:
    """Per layer, variable -> (min, max) over the valid frames of a window (``part``: variable -> (rows, time, unit,
    layer)), by :func:`valid_ranges`."""
    ranges: list[dict] = [{} for _ in range(n_layers)]
    for var, values in part.items():
        for k, measured in enumerate(valid_ranges(values, n_valid)):
            ranges[k][var] = measured
    return ranges


def _ordered(array: xr.DataArray, dims: tuple) -> xr.DataArray:
    return array if array.dims == dims else array.transpose(*dims)


def window_values(array, rows: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """``array[rows, t0:t1]`` (event and time first) as numpy: straight from memory (a numpy array or a DataArray
    holding one; a view when the rows follow each other), or through xarray (dask)."""
    data = array if isinstance(array, np.ndarray) else array.data
    if isinstance(data, np.ndarray):
        if rows.size and np.array_equal(rows, np.arange(rows[0], rows[0] + rows.size)):  # in order: a view
            return data[rows[0]: rows[0] + rows.size, t0:t1]
        return data[:, t0:t1].take(rows, axis=0)
    return np.asarray(array.isel(event=rows, time=slice(t0, t1)).values)


class FrameIndex:
    """Class of every frame of a window and the segments overlapping it, for :meth:`SummaryAccumulator.update`.

    ``table`` is :func:`rnnscope.schema.segment_frames` of the records; segment ``i`` of the accumulator is row
    ``i`` of the table.
    """

    def __init__(self, n_classes: int, table: pd.DataFrame):
        self.n_classes = n_classes
        event = table["event"].to_numpy(np.int64)
        order = np.argsort(event, kind="stable")
        self.event = event[order]
        self.start = table["frame_start"].to_numpy(np.int64)[order]
        self.stop = table["frame_stop"].to_numpy(np.int64)[order]
        self.segment = order.astype(np.int64)

    def __call__(self, rows, t0, t1, n_valid, labels, missing=None) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """``labels`` (rows, t1 - t0): frame labels of the window; ``missing`` (rows, t1 - t0) bool or None: valid
        frames whose states are NaN (the input was missing there), left out like frames past the end. Returns
        ``(cls_idx, segments)``: the class of each frame (``n_classes`` for a valid unlabelled frame,
        ``n_classes + 1`` past the record's end or missing) and ``(row, lo, hi, segment)``: frames ``lo:hi`` of the
        window's row ``row`` belong to ``segment`` (a segment with missing frames in several pieces)."""
        rows = np.asarray(rows, dtype=np.int64)
        n = t1 - t0
        valid = np.arange(n)[None, :] < n_valid[:, None]
        if missing is not None:
            missing = np.asarray(missing, dtype=bool) & valid
            valid = valid & ~missing
        labels = np.asarray(labels)
        if labels.dtype.kind == "f":  # a concatenation along event pads labels with NaN: unknown, never cast
            labels = np.where(np.isnan(labels), -1, labels)
        labels = labels.astype(np.int64)
        cls_idx = np.where(valid, np.where(labels >= 0, labels, self.n_classes), self.n_classes + 1)
        first = np.searchsorted(self.event, rows, side="left")
        counts = np.searchsorted(self.event, rows, side="right") - first
        take = _concat_ranges(first, counts)
        row = np.repeat(np.arange(len(rows)), counts)
        lo = np.clip(self.start[take] - t0, 0, n_valid[row])
        hi = np.clip(self.stop[take] - t0, 0, n_valid[row])
        keep = hi > lo
        segments: tuple[np.ndarray, ...] = (row[keep], lo[keep], hi[keep], self.segment[take][keep])
        if missing is not None and missing.any():
            segments = _without_missing(segments, missing)
        return cls_idx.reshape(-1), segments


def _without_missing(segments, missing: np.ndarray) -> tuple[np.ndarray, ...]:
    """``segments`` (row, lo, hi, segment) cut around the ``missing`` frames (rows, n): the pieces of each segment
    that hold no missing frame (a Python loop over the segments that hold some: records with NaN input only).

    Examples
    --------
    >>> missing = np.array([[False, False, True, False, False]])
    >>> [a.tolist() for a in _without_missing((np.array([0]), np.array([1]), np.array([5]), np.array([7])), missing)]
    [[0, 0], [1, 3], [2, 5], [7, 7]]
    """
    row, lo, hi, seg = segments
    count = np.zeros((missing.shape[0], missing.shape[1] + 1), dtype=np.int64)  # missing frames before each frame
    np.cumsum(missing, axis=1, out=count[:, 1:])
    hit = count[row, hi] - count[row, lo] > 0
    if not hit.any():
        return segments
    pieces = [tuple(a[~hit] for a in segments)]
    for k in np.flatnonzero(hit):
        inside = np.concatenate([[0], (~missing[row[k], lo[k]:hi[k]]).astype(np.int8), [0]])
        edges = np.diff(inside)
        a, b = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        pieces.append((np.full(a.size, row[k]), lo[k] + a, lo[k] + b, np.full(a.size, seg[k])))
    return tuple(np.concatenate([p[i] for p in pieces]).astype(np.int64) for i in range(4))


def frame_groups(cls_idx: np.ndarray, segments, n_rows: int, n: int, n_classes: int) -> np.ndarray | None:
    """Each frame's two groups for sums of ``|h|`` made during a pass (``SummaryAccumulator.update(sums=...)``):
    ``(n_rows, n, 2)`` int32, column 0 the frame's class (``n_classes`` for a valid unlabelled frame, -1 past the
    record's end), column 1 ``n_classes + 1 + i`` inside the window's segment ``i`` (:class:`FrameIndex`), else -1.
    None when segments overlap (a frame in two of them: the sums are then taken from ``h``).

    Examples
    --------
    >>> cls_idx = np.array([0, 1, 3])  # one record, 3 frames: class 0, class 1, past its end (2 classes)
    >>> frame_groups(cls_idx, (np.array([0]), np.array([1]), np.array([2]), np.array([7])), 1, 3, 2)[0].tolist()
    [[0, -1], [1, 3], [-1, -1]]
    """
    groups = np.full((n_rows * n, 2), -1, dtype=np.int32)
    cls_idx = np.asarray(cls_idx, dtype=np.int64)
    groups[:, 0] = np.where(cls_idx <= n_classes, cls_idx, -1)
    row, lo, hi, _ = segments
    frames = _concat_ranges(np.asarray(row) * n + lo, hi - lo)
    if frames.size and np.bincount(frames).max() > 1:
        return None
    groups[frames, 1] = np.repeat(n_classes + 1 + np.arange(len(lo)), hi - lo)
    return groups.reshape(n_rows, n, 2)


class SummaryAccumulator:
    """Sums of ``|h|`` per class, per segment and overall, and value ranges, updated one window at a time.

    Parameters
    ----------
    n_classes : int
    seg_class : array of int
        Class of every segment (the rows of the :class:`FrameIndex` table).
    hidden, n_layers : int
    variables : list of str
        The captured variables whose value ranges are kept.

    Examples
    --------
    >>> acc = SummaryAccumulator(2, np.array([1]), hidden=1, n_layers=1, variables=["h"])
    >>> h = np.array([[[0.5], [-1.0], [0.25]]], dtype=np.float32)  # one record, 3 frames, 1 unit
    >>> cls_idx = np.array([0, 1, 1])  # frame classes
    >>> acc.update([{"h": h}], cls_idx, (np.array([0]), np.array([1]), np.array([3]), np.array([0])), np.array([3]))
    >>> s = acc.dataset(["A", "B"], ["rec0"])
    >>> s.summary_heat_frame.values.ravel().tolist(), s.summary_heat.values.ravel().tolist()
    ([0.5, 0.625], [nan, 0.625])
    """

    _ARRAYS = ("cls_sum", "cls_count", "seg_sum", "seg_count", "all_sum", "vmin", "vmax")

    def __init__(self, n_classes, seg_class, hidden, n_layers, variables):
        self.seg_class = np.asarray(seg_class, dtype=np.int64)
        self.cls_sum = np.zeros((n_classes, hidden, n_layers))
        self.cls_count = np.zeros(n_classes)
        self.seg_sum = np.zeros((self.seg_class.size, hidden, n_layers))
        self.seg_count = np.zeros(self.seg_class.size)
        self.all_sum = np.zeros((hidden, n_layers))
        self.all_count = 0.0
        self.vmin = np.full((len(variables), n_layers), np.inf)
        self.vmax = np.full((len(variables), n_layers), -np.inf)
        self.variables = list(variables)

    def update(self, layer_values, cls_idx, segments, n_valid, ranges=None, inplace=False, sums=None):
        """One window of a batch of records.

        ``layer_values``: per layer, variable -> array (rows, n, hidden); ``cls_idx`` and ``segments`` from
        :class:`FrameIndex`; ``n_valid``: valid frames per row; ``ranges``: per layer, variable -> (min, max) over
        the valid frames when the pass measured them, else None (then taken from ``layer_values``); ``inplace``:
        ``h`` may be overwritten (by its absolute value); ``sums``: per layer, the sums of ``|h|`` by group of frames
        when the pass made them (:func:`frame_groups`: the classes, the unlabelled frames, then the window's
        segments), else None (then taken from ``layer_values``' ``h``).
        """
        n_classes, hidden = self.cls_count.size, self.all_sum.shape[0]
        n_valid = np.asarray(n_valid, dtype=np.int64)
        self._update_ranges(layer_values, n_valid, ranges)  # before h is replaced by |h|
        cls_idx = np.asarray(cls_idx, dtype=np.int64)
        counts = np.bincount(cls_idx, minlength=n_classes + 2)
        self.cls_count += counts[:n_classes]
        self.all_count += float(counts[: n_classes + 1].sum())
        row, lo, hi, seg = segments
        self.seg_count += np.bincount(seg, weights=hi - lo, minlength=self.seg_count.size)
        if sums is None:  # frames past a record's end (class n_classes + 1: NaN or stale values) are in no row
            n = next(iter(layer_values[0].values())).shape[1]
            members = _membership(cls_idx, n_classes + 1, row * n + lo, row * n + hi)
        # a segment belongs to one record, so it overlaps a window once: a plain indexed add unless a caller repeats it
        repeated = seg.size > 1 and np.unique(seg).size < seg.size
        for layer in range(len(layer_values) if sums is None else len(sums)):
            if sums is None:
                h = np.asarray(layer_values[layer]["h"])
                a = np.abs(h, out=h) if inplace and h.flags.writeable else np.abs(h)
                layer_sums = members @ a.reshape(-1, hidden)  # (class + unlabelled + segments, hidden), a's dtype
            else:
                layer_sums = np.asarray(sums[layer])
            self._add_sums(layer, layer_sums, seg, repeated)

    def _add_sums(self, layer, sums, seg, repeated):
        """One layer's window sums of ``|h|`` (the classes, the unlabelled frames, then the segments ``seg``)."""
        n_classes = self.cls_count.size
        self.cls_sum[:, :, layer] += sums[:n_classes]
        self.all_sum[:, layer] += sums[: n_classes + 1].sum(0)
        if repeated:
            np.add.at(self.seg_sum[:, :, layer], seg, sums[n_classes + 1:])
        elif seg.size:
            self.seg_sum[seg, :, layer] += sums[n_classes + 1:]

    def _update_ranges(self, layer_values, n_valid, ranges):
        for j, var in enumerate(self.variables):
            for layer, values in enumerate(layer_values):
                if ranges is not None and ranges[layer] is not None:
                    measured = ranges[layer].get(var)
                else:
                    measured = None if values.get(var) is None else valid_ranges(values[var], n_valid)[0]
                if measured is not None:
                    self.vmin[j, layer] = min(self.vmin[j, layer], measured[0])
                    self.vmax[j, layer] = max(self.vmax[j, layer], measured[1])

    def state(self) -> dict:
        """The running sums as arrays (for a checkpoint); :meth:`restore` takes them back."""
        return {k: getattr(self, k) for k in self._ARRAYS} | {"all_count": np.float64(self.all_count)}

    def restore(self, saved) -> None:
        for k in self._ARRAYS:
            setattr(self, k, np.array(saved[k]))
        self.all_count = float(saved["all_count"])

    def dataset(self, class_names, records) -> xr.Dataset:
        """The summaries of the records ``records`` (their event_ids) as a Dataset."""
        return xr.Dataset(self.arrays(records),
                          coords={"variable": ("variable", np.array(self.variables, dtype=str)),
                                  "class_name": ("class_name", np.array(class_names, dtype=str))})

    def arrays(self, records) -> dict:
        """What :meth:`dataset` holds, as ``name -> (dims, values)`` (for a writer that assembles its run itself;
        the coordinates ``variable`` and ``class_name`` are the writer's)."""
        n_classes, hidden, n_layers = self.cls_sum.shape
        with np.errstate(invalid="ignore", divide="ignore"):
            seen = self.seg_count > 0  # segments with at least one valid frame
            seg_mean = self.seg_sum.reshape(seen.size, hidden * n_layers) / np.where(seen, self.seg_count, 1)[:, None]
            members = ((self.seg_class[None, :] == np.arange(n_classes)[:, None]) & seen[None, :]).astype(np.float64)
            n_members = members.sum(1)
            heat = (members @ seg_mean) / np.where(n_members > 0, n_members, np.nan)[:, None]
            heat_frame = self.cls_sum / self.cls_count[:, None, None]
            activity = self.all_sum / self.all_count if self.all_count else np.full_like(self.all_sum, np.nan)
        vmin = np.where(np.isfinite(self.vmin), self.vmin, np.nan)
        vmax = np.where(np.isfinite(self.vmax), self.vmax, np.nan)
        dims3 = ("class_name", "unit", "layer")
        return {
            "summary_heat": (dims3, heat.reshape(n_classes, hidden, n_layers).astype(np.float32)),
            "summary_heat_frame": (dims3, heat_frame.astype(np.float32)),
            "summary_activity": (("unit", "layer"), activity.astype(np.float32)),
            "summary_min": (("variable", "layer"), vmin.astype(np.float32)),
            "summary_max": (("variable", "layer"), vmax.astype(np.float32)),
            "summary_event_id": (("summary_event",), np.asarray(records).astype(str)),
        }


def compute_summaries(run: xr.Dataset, *, batch_size: int = 32, time_chunk: int = 4096) -> xr.Dataset:
    """The summaries of ``run``'s records, from its data (the numbers :func:`rnnscope.capture` stores).

    Reads the state variables batch by batch of records and ``time_chunk`` frames at a time (memory bounded by
    one such window), so dask-backed runs larger than memory work.

    Parameters
    ----------
    run : xarray.Dataset
        A run with ``h`` (event, time, unit, layer), in memory or dask-backed.
    batch_size : int
        Records read at a time.
    time_chunk : int
        Frames read at a time.

    Returns
    -------
    xarray.Dataset
        The ``summary_*`` variables (and ``summary_event_id`` naming ``run``'s records), ready for
        ``run.assign(...)``.

    Raises
    ------
    ValueError
        When the run has no ``h``.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()
    >>> again = compute_summaries(run.isel(event=[2, 0]))
    >>> again.summary_event_id.values.tolist() == run.event_id.values[[2, 0]].tolist()
    True
    >>> bool(np.allclose(compute_summaries(run).summary_heat, run.summary_heat, equal_nan=True))
    True
    """
    variables = [v for v in STATE_ORDER if v in run.data_vars and set(run[v].dims) == set(_STATE_DIMS)]
    if "h" not in variables:
        raise ValueError("compute_summaries: the run has no 'h' (event, time, unit, layer); capture it with "
                         "rnnscope.capture.")
    names = ([str(c) for c in run["class_name"].values] if "class_name" in run.coords
             else [str(c) for c in run.attrs.get("class_names", [])])
    states = {v: _ordered(run[v], _STATE_DIMS) for v in variables}
    labels = _ordered(run["label"], ("event", "time")) if "label" in run else None
    acc = accumulate(states, labels, np.asarray(run["length"].values, dtype=np.int64), segment_frames(run),
                     len(names), batch_size=batch_size, time_chunk=time_chunk)
    return acc.dataset(names, event_ids(run))


def run_summaries(acc: SummaryAccumulator, class_names, records) -> tuple[dict, dict]:
    """The summaries of ``acc`` for a run assembled in one Dataset: ``(data variables, coordinates)``, each
    ``name -> (dims, values)``; without classes (``class_names`` empty) no heat per class and no ``class_name``."""
    data = acc.arrays(records)
    coords = {"variable": ("variable", np.array(acc.variables, dtype=str)),
              "class_name": ("class_name", np.array(class_names, dtype=str))}
    if not len(class_names):
        data = {k: v for k, v in data.items() if k not in ("summary_heat", "summary_heat_frame")}
        coords.pop("class_name")
    return data, coords


def accumulate(states: dict, labels, lengths: np.ndarray, table: pd.DataFrame, n_classes: int, *,
               batch_size: int = 32, time_chunk: int = 4096) -> SummaryAccumulator:
    """The summaries' sums over ``states`` (name -> (event, time, unit, layer) numpy arrays or DataArrays, ``h``
    first) with ``labels`` ((event, time) or None: every frame unlabelled), valid ``lengths`` and the segment
    ``table`` (:func:`rnnscope.schema.segment_frames`' columns ``event``, ``class``, ``frame_start``,
    ``frame_stop``): batch by batch of records, window by window of frames (memory bounded by one window)."""
    h = states["h"]
    hidden, n_layers = h.shape[2], h.shape[3]
    acc = SummaryAccumulator(n_classes, table["class"].to_numpy(np.int64), hidden, n_layers, list(states))
    index = FrameIndex(n_classes, table)
    order = np.argsort(-lengths, kind="stable")
    for b in range(0, order.size, batch_size):
        rows = order[b : b + batch_size]
        for t0 in range(0, int(lengths[rows].max(initial=0)), time_chunk):
            t1 = min(t0 + time_chunk, int(lengths[rows].max()))
            n_valid = np.clip(lengths[rows] - t0, 0, t1 - t0)
            part = {v: window_values(s, rows, t0, t1).astype(np.float32, copy=False) for v, s in states.items()}
            lab = np.full((rows.size, t1 - t0), -1) if labels is None else window_values(labels, rows, t0, t1)
            layer_values = [{"h": np.ascontiguousarray(part["h"][..., k])} for k in range(n_layers)]
            source = h if isinstance(h, np.ndarray) else h.data  # |h| in place only in copies, never in the run's
            owned = not isinstance(source, np.ndarray) or not any(np.may_share_memory(v["h"], source)
                                                                   for v in layer_values)
            ranges = _layer_ranges(part, n_valid, n_layers)
            missing = missing_frames(part["h"])
            acc.update(layer_values, *index(rows, t0, t1, n_valid, lab, missing), n_valid, ranges=ranges,
                       inplace=owned)
    return acc

"""Summaries accumulated during capture: heat per class (segment- and frame-weighted), activity, value ranges.
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from ..models._cells import valid_range

__all__ = []


# --------------------------------------------------------------------------------------------- summaries


class _Summaries:
    """Accumulates heat per class (segment- and frame-weighted), activity and value ranges during the pass.

    Works on whole batch windows as torch tensors (one ``index_add_`` per layer and kind of sum), never per record.
    """

    def __init__(self, n_classes, n_segments, hidden, n_layers, variables):
        self.cls_sum = np.zeros((n_classes, hidden, n_layers))
        self.cls_count = np.zeros(n_classes)
        self.seg_sum = np.zeros((n_segments, hidden, n_layers))
        self.seg_count = np.zeros(n_segments)
        self.all_sum = np.zeros((hidden, n_layers))
        self.all_count = 0.0
        self.vmin = np.full((len(variables), n_layers), np.inf)
        self.vmax = np.full((len(variables), n_layers), -np.inf)
        self.variables = variables

    def update(self, layer_values, cls_idx, segments, n_valid, ranges=None, inplace=False):
        """One window of one batch.

        ``layer_values``: per layer, variable -> CPU tensor (rows, n, H); ``cls_idx``: (rows * n,) int64, the class of
        a valid labelled frame, ``n_classes`` for a valid unlabelled frame, ``n_classes + 1`` past the record's end;
        ``segments``: ``(row, lo, hi, segment)`` int64 arrays, the frames ``lo:hi`` of the window (valid frames only)
        that belong to each segment overlapping it (segments may overlap); ``n_valid``: valid frames per row
        (non-increasing: rows are sorted by length); ``ranges``: per layer, variable -> (min, max) over the valid frames
        when the pass measured them (:meth:`RecurrentLayer.trace_into`), else None (then taken from ``layer_values``);
        ``inplace``: ``h`` may be overwritten (by its absolute value).
        """
        n_classes, hidden = self.cls_count.size, self.all_sum.shape[0]
        counts = np.bincount(cls_idx, minlength=n_classes + 2)
        self.cls_count += counts[:n_classes]
        self.all_count += float(counts[: n_classes + 1].sum())
        row, lo, hi, seg = segments
        n = next(iter(layer_values[0].values())).shape[1]
        frame_seg = None
        if seg.size:
            self.seg_count[seg] += hi - lo
            frame_seg = _frame_segments(row * n + lo, hi - lo, len(n_valid) * n)
            if frame_seg is None:  # overlapping segments: differences of a running sum instead
                row_t, lo_t, hi_t = (torch.from_numpy(a) for a in (row, lo, hi))
        cls_t = torch.from_numpy(cls_idx)
        for layer, values in enumerate(layer_values):
            h_abs = values["h"].abs_() if inplace else values["h"].abs()
            flat = h_abs.reshape(-1, hidden)
            sums = torch.zeros(n_classes + 2, hidden, dtype=flat.dtype).index_add_(0, cls_t, flat).double().numpy()
            self.cls_sum[:, :, layer] += sums[:n_classes]
            self.all_sum[:, layer] += sums[: n_classes + 1].sum(0)
            if frame_seg is not None:  # every frame in at most one segment: one index_add over the window
                seg_sums = torch.zeros(seg.size + 1, hidden, dtype=flat.dtype).index_add_(0, frame_seg, flat)
                self.seg_sum[seg, :, layer] += seg_sums[:-1].double().numpy()
            elif seg.size:
                running = torch.zeros(h_abs.shape[0], n + 1, hidden, dtype=torch.float64)
                torch.cumsum(h_abs, dim=1, dtype=torch.float64, out=running[:, 1:])
                self.seg_sum[seg, :, layer] += (running[row_t, hi_t] - running[row_t, lo_t]).numpy()
        for j, var in enumerate(self.variables):
            for layer, values in enumerate(layer_values):
                if ranges is not None and ranges[layer] is not None:
                    measured = ranges[layer].get(var)
                else:
                    measured = None if values.get(var) is None else valid_range(values[var], n_valid)
                if measured is not None:
                    self.vmin[j, layer] = min(self.vmin[j, layer], measured[0])
                    self.vmax[j, layer] = max(self.vmax[j, layer], measured[1])

    def state(self) -> dict:
        return {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)} | {"all_count": self.all_count}

    def restore(self, saved) -> None:
        for k in ("cls_sum", "cls_count", "seg_sum", "seg_count", "all_sum", "vmin", "vmax"):
            setattr(self, k, np.array(saved[k]))
        self.all_count = float(saved["all_count"])

    def dataset(self, seg_class, class_names, n_layers, hidden) -> xr.Dataset:
        with np.errstate(invalid="ignore", divide="ignore"):
            seen = self.seg_count > 0  # segments with at least one valid frame
            seg_mean = np.where(seen[:, None], self.seg_sum.reshape(seen.size, -1) / np.maximum(self.seg_count, 1)[:, None], 0)
            members = (np.asarray(seg_class)[None, :] == np.arange(len(class_names))[:, None]) & seen[None, :]
            n_members = members.sum(1)
            heat = (members.astype(np.float64) @ seg_mean) / np.where(n_members > 0, n_members, np.nan)[:, None]
            heat = heat.reshape(len(class_names), hidden, n_layers)
            heat_frame = self.cls_sum / self.cls_count[:, None, None]
            activity = self.all_sum / self.all_count if self.all_count else np.full_like(self.all_sum, np.nan)
        vmin = np.where(np.isfinite(self.vmin), self.vmin, np.nan)
        vmax = np.where(np.isfinite(self.vmax), self.vmax, np.nan)
        dims3 = ("class_name", "unit", "layer")
        return xr.Dataset({
            "summary_heat": (dims3, heat.astype(np.float32)),
            "summary_heat_frame": (dims3, heat_frame.astype(np.float32)),
            "summary_activity": (("unit", "layer"), activity.astype(np.float32)),
            "summary_min": (("variable", "layer"), vmin.astype(np.float32)),
            "summary_max": (("variable", "layer"), vmax.astype(np.float32)),
        }, coords={"variable": ("variable", np.array(self.variables))})


def _ranges(starts, counts):
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])``, without a Python loop."""
    return np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(int(counts.sum()))


def _frame_segments(starts, counts, size):
    """Position of each frame's segment in ``starts`` (flat frame positions of the window), ``len(starts)`` for
    frames outside every segment, as an int64 tensor of ``size``; None when segments overlap."""
    ids = np.full(size, starts.size, dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    ends = starts[order] + counts[order]
    if np.any(starts[order][1:] < ends[:-1]):
        return None
    ids[_ranges(starts, counts)] = np.repeat(np.arange(starts.size), counts)
    return torch.from_numpy(ids)


class _FrameIndex:
    """Class of every frame and the segments overlapping a batch window, for :meth:`_Summaries.update`."""

    def __init__(self, labels, n_classes, segs):
        self.labels = labels
        self.n_classes = n_classes
        order = np.argsort(segs["event"].to_numpy(np.int64), kind="stable")
        self.event = segs["event"].to_numpy(np.int64)[order]
        self.start = segs["frame_start"].to_numpy(np.int64)[order]
        self.stop = segs["frame_stop"].to_numpy(np.int64)[order]
        self.segment = segs["segment"].to_numpy(np.int64)[order]

    def __call__(self, rows, t0, t1, n_valid):
        n = t1 - t0
        valid = np.arange(n)[None, :] < n_valid[:, None]
        labels = np.asarray(self.labels[rows, t0:t1], dtype=np.int64)
        cls_idx = np.where(valid, np.where(labels >= 0, labels, self.n_classes), self.n_classes + 1)
        first = np.searchsorted(self.event, rows, side="left")
        last = np.searchsorted(self.event, rows, side="right")
        counts = last - first
        take = _ranges(first, counts)  # the segment rows of each record, record after record
        row = np.repeat(np.arange(len(rows)), counts)
        lo = np.clip(self.start[take] - t0, 0, n_valid[row])
        hi = np.clip(self.stop[take] - t0, 0, n_valid[row])
        keep = hi > lo
        return cls_idx.reshape(-1), (row[keep], lo[keep], hi[keep], self.segment[take][keep])

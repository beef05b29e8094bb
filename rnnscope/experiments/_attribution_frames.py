"""Which frames an attribution explains, and the recurrent state a window of frames starts from.

- :func:`frame_rows` turns ``frames=`` (each segment's onset or peak, a time, a time range, every frame) into one
  row per (record, frame, target) of a features Dataset;
- :class:`StateCursor` walks one record forward (no gradient) and gives the state of every layer of an
  :class:`~rnnscope.models.RNNClassifier` at any frame, so a window ``[s, t]`` explains frame ``t`` with the record
  before ``s`` held as it was (its state is part of the window's context, not attributed);
- :func:`target_series` computes a target over every frame of a record (for ``frames="peak"``), window by window.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from .._validation import stored_background
from ..errors import AttributionError
from ..schema import event_ids, segment_frames

__all__ = ["frame_rows", "StateCursor", "target_series", "FRAME_CHOICES"]

#: The named choices of ``frames=`` (besides a time in s and a (start, stop) range in s).
FRAME_CHOICES = ("onset", "peak", "all")
#: Frames run at once when a record is walked without keeping its states (bounds memory on day-long records).
CHUNK = 4096


def _segment_rows(ds: xr.Dataset, classes, func) -> pd.DataFrame:
    table = segment_frames(ds)
    names = list(ds.attrs.get("class_names") or [])
    table = table[table.frame_stop > table.frame_start]
    table = table.assign(class_name=[names[c] if 0 <= c < len(names) else str(c) for c in table["class"]])
    if classes is None:
        background = stored_background(ds.attrs)
        return table[table.class_name != background]
    chosen = [classes] if isinstance(classes, str) else list(classes)
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        raise AttributionError(f"The 'classes' parameter of {func} names {unknown}, which the data do not have: "
                               f"their classes are {names}.")
    return table[table.class_name.isin(chosen)]


def frame_rows(ds: xr.Dataset, frames, *, shift: int = 0, classes=None, peak=None, func: str = "attribution"
               ) -> pd.DataFrame:
    """One row per target frame: ``event`` (position), ``frame``, ``segment`` (-1 when none) and
    ``segment_class`` ("" when none); with ``peak`` (a function ``(event, start, stop) -> frame``) for
    ``frames="peak"``.

    Examples
    --------
    >>> import rnnscope
    >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    >>> rows = frame_rows(frames, (10.0, 11.5))
    >>> rows.frame.tolist(), sorted(set(rows.event))
    ([16, 17, 18, 16, 17, 18], [0, 1])
    """
    times = np.asarray(ds["time"].values, dtype=np.float64)
    lengths = np.asarray(ds["length"].values, dtype=np.int64)
    columns = ["event", "frame", "segment", "segment_class"]
    if isinstance(frames, str) and frames in ("onset", "peak"):
        table = _segment_rows(ds, classes, func)
        if frames == "onset":
            frame = np.minimum(table.frame_start.to_numpy() + int(shift), lengths[table.event.to_numpy()] - 1)
        else:
            frame = np.array(
                [
                    peak(int(e), int(a), int(b))
                    for e, a, b in zip(table.event, table.frame_start, table.frame_stop, strict=True)
                ],
                dtype=np.int64,
            ) + int(shift)
            frame = np.minimum(frame, lengths[table.event.to_numpy()] - 1)
        rows = pd.DataFrame({"event": table.event.to_numpy(np.int64), "frame": np.maximum(frame, 0).astype(np.int64),
                             "segment": table.segment.to_numpy(np.int64),
                             "segment_class": table.class_name.to_numpy(str)})
    elif isinstance(frames, str) and frames == "all":
        rows = pd.DataFrame({"event": np.repeat(np.arange(lengths.size), lengths),
                             "frame": np.concatenate([np.arange(n) for n in lengths]) if lengths.size else []})
    elif isinstance(frames, (int, float, np.integer, np.floating)) and not isinstance(frames, bool):
        hop = float(times[1] - times[0]) if times.size > 1 else 1.0
        # the frame whose centre is nearest (halfway: the later one, as the Explorer's readout rounds)
        frame = int(np.clip(np.floor((float(frames) - times[0]) / hop + 0.5), 0, max(times.size - 1, 0)))
        keep = np.flatnonzero(lengths > frame)
        rows = pd.DataFrame({"event": keep, "frame": np.full(keep.size, frame)})
    elif isinstance(frames, (tuple, list)) and len(frames) == 2:
        start, stop = (float(v) for v in frames)
        inside = np.flatnonzero((times >= start - 1e-9) & (times < stop - 1e-9))
        pairs = [(e, f) for e in range(lengths.size) for f in inside if f < lengths[e]]
        rows = pd.DataFrame(pairs, columns=["event", "frame"])
    else:
        raise AttributionError(f"The 'frames' parameter of {func} must be one of {list(FRAME_CHOICES)}, a time in s or "
                               f"a (start, stop) range in s. Got {frames!r} instead.")
    rows = rows.astype({"event": np.int64, "frame": np.int64}) if len(rows) else rows
    for name, fill in (("segment", -1), ("segment_class", "")):
        if name not in rows:
            rows[name] = fill
    if not len(rows):
        raise AttributionError(f"{func}: frames={frames!r} selects no valid frame in the {lengths.size} record(s) "
                               f"(ids {list(event_ids(ds)[:3])}...; frames at {times[0] if times.size else 0:g} to "
                               f"{times[-1] if times.size else 0:g} s). Choose frames inside the records.")
    return rows[columns].reset_index(drop=True)


class StateCursor:
    """Walks one record of an :class:`~rnnscope.models.RNNClassifier` forward and gives every layer's state at
    chosen frames (the state a window starting there begins with: what frames ``0 .. s - 1`` left).

    Starts must be asked in increasing order (call after call too): the cursor never goes back.
    """

    def __init__(self, model, x: torch.Tensor):
        self.model, self.x = model, x  # x (time, features) on the model's device
        self.cur = 0
        self.state: list[Any] | None = None  # the state after frame cur - 1 (None: the initial state)

    def _zero(self) -> list[tuple[torch.Tensor, ...]]:
        return [tuple(s[0] for s in layer.initial_state(1, device=self.x.device, dtype=self.x.dtype))
                for layer in self.model.layers]

    def _advance(self, frame: int) -> None:
        """Run (no states kept) until the state after frame ``frame - 1``."""
        while self.cur < frame:
            stop = min(frame, self.cur + CHUNK)
            with torch.no_grad():
                _, layers = self.model.forward_layers(self.x[None, self.cur: stop], self.state)
            self.state = [r["final_state"] for r in layers]
            self.cur = stop

    def states(self, starts: np.ndarray) -> list[list[tuple[torch.Tensor, ...]]]:
        """Per start (increasing), per layer, the state tuple (each ``(units,)``)."""
        out: dict[int, list] = {}
        pending = [int(s) for s in np.unique(starts)]
        if pending and pending[0] < self.cur:
            raise AttributionError(f"StateCursor: start {pending[0]} is before frames already walked ({self.cur}).")
        while pending:
            first = pending[0]
            if first == 0 or first == self.cur:
                if first == 0 or self.state is None:  # self.cur == 0: nothing walked yet
                    out[first] = self._zero()
                else:
                    out[first] = [tuple(s[0] for s in st) for st in self.state]
                pending.pop(0)
                continue
            group = [s for s in pending if s - first <= CHUNK]
            self._advance(first - 1)
            last = group[-1]
            with torch.no_grad():
                _, layers = self.model.trace_layers(self.x[None, self.cur: last], self.state)
            for s in group:
                out[s] = [tuple(r["variables"][name][0, s - 1 - self.cur] for name in layer.state_names)
                          for r, layer in zip(layers, self.model.layers, strict=True)]
            self.state = [r["final_state"] for r in layers]
            self.cur = last
            pending = pending[len(group):]
        return [out[int(s)] for s in starts]


def target_series(model, forward, x: torch.Tensor) -> np.ndarray:
    """Every frame's target values ``(time, n)`` for one record ``x`` (time, features), window by window with the
    state carried (no gradient)."""
    parts, state = [], None
    with torch.no_grad():
        for start in range(0, x.shape[0], CHUNK):
            logits, layers = model.forward_layers(x[None, start: start + CHUNK], state)
            parts.append(forward.series(logits, layers)[0].detach().cpu().numpy())
            state = [r["final_state"] for r in layers]
    return np.concatenate(parts, axis=0)

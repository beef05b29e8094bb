"""Frame probabilities -> runs of one class -> detections, for a contiguous piece given chunk by chunk.

:class:`RunDetector` is what :func:`rnnscope.monitoring.detect` and :class:`~rnnscope.monitoring.MonitorResult`
run: the probabilities of a piece arrive in chunks of any size (a day's task, a block of a stored run) and memory
stays that of :data:`BLOCK` frames plus the runs not yet final, however long the piece (a month of continuous data
is one piece of 5.2 million frames). Any chunking gives the same table, bit for bit, because

- the input is re-cut into blocks of :data:`BLOCK` frames counted from the piece's first frame, whatever chunks
  arrive, and every sum (the per-detection means) is taken over the pieces of a run that one block holds, in order;
- smoothing is computed frame by frame from its own window (a sum of ``size`` frames in order, or the
  ``size // 2``-th of the sorted window, scipy's ``median_filter`` convention), so a frame's value never depends on
  where a chunk starts;
- a run at least as long as its class's minimum (a *stable* run) is never given away by the minimum-duration rule
  (only shorter runs are), and the rule compares the two neighbours of a short run over that run's own frames: the
  runs before a stable run are therefore final whatever comes after it, and are resolved and emitted as soon as a
  stable run follows them.
"""
from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

__all__ = []

#: frames re-cut into blocks of this size (9.1 h at the paper's 0.5 s hop): the unit of work and of memory
BLOCK = 65536


def window_smooth(padded: np.ndarray, method: str, size: int) -> np.ndarray:
    """Smoothed frames from ``padded`` (the frames with ``size // 2`` frames before and ``size - 1 - size // 2``
    after): each output frame from its own window only (see the module docstring)."""
    n = padded.shape[0] - size + 1
    if size <= 1:
        return padded.copy()
    if method == "mean":
        acc = padded[0:n].copy()
        for k in range(1, size):
            acc += padded[k : k + n]
        return acc / size
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=0)
    return np.sort(windows, axis=-1)[..., size // 2]


def enforce_min(prob: np.ndarray, starts, stops, cls, min_frames, offset: int = 0):
    """Give every run shorter than its class's minimum to its more probable neighbour, shortest first (a heap,
    ``O(runs log runs)``); runs of one class that meet merge. ``prob`` holds the (smoothed) frames from ``offset``
    on; a neighbour's probability over a short run is the plain sum over that run's frames. Returns the runs left."""
    m = len(starts)
    starts, stops, cls = (np.array(v, dtype=np.int64) for v in (starts, stops, cls))
    prev = np.arange(m) - 1
    nxt = np.arange(m) + 1
    if m:
        nxt[-1] = -1
    alive = np.ones(m, dtype=bool)
    heap = [
        (int(stops[i] - starts[i]), int(starts[i]), i) for i in range(m) if stops[i] - starts[i] < min_frames[cls[i]]
    ]
    heapq.heapify(heap)
    while heap:
        length, start, i = heapq.heappop(heap)
        if not alive[i] or starts[i] != start or stops[i] - starts[i] != length:
            continue  # stale entry
        left, right = prev[i], nxt[i]
        if left < 0 and right < 0:
            alive[i] = False  # the whole piece is one run too short for its class: no detection
            continue
        if left >= 0 and right >= 0:
            frames = prob[starts[i] - offset : stops[i] - offset]
            j = left if frames[:, cls[left]].sum() >= frames[:, cls[right]].sum() else right
        else:
            j = left if left >= 0 else right
        if j == left:
            stops[left] = stops[i]
        else:
            starts[right] = starts[i]
        alive[i] = False
        if left >= 0:
            nxt[left] = right
        if right >= 0:
            prev[right] = left
        k = j
        if left >= 0 and right >= 0 and cls[left] == cls[right]:  # the two neighbours now meet: merge them
            stops[left] = stops[right]
            alive[right] = False
            nxt[left] = nxt[right]
            if nxt[right] >= 0:
                prev[nxt[right]] = left
            k = left
        if stops[k] - starts[k] < min_frames[cls[k]]:
            heapq.heappush(heap, (int(stops[k] - starts[k]), int(starts[k]), k))
    keep = np.flatnonzero(alive)
    return starts[keep], stops[keep], cls[keep]


class RunDetector:
    """The final runs of one contiguous piece from its probabilities, pushed chunk by chunk.

    ``push(chunk)`` any number of times (``(frames, classes)`` arrays in frame order), then ``finish()``: the runs
    ``(start, stop, class index, sum, peak)`` of frames ``[start, stop)`` with the sum and the maximum of the raw
    probabilities of every class over them, in time order. ``smoothing`` is ``(method, size)``; ``min_frames`` the
    minimum length per class index.
    """

    def __init__(self, n_classes: int, smoothing: tuple[str, int], min_frames: Sequence[int]):
        self.method, self.size = smoothing
        self.before, self.after = self.size // 2, self.size - 1 - self.size // 2
        self.min_frames = np.asarray(min_frames, dtype=np.int64)
        self.n_classes = n_classes
        self.pending: list[np.ndarray] = []  # chunks not yet in a block
        self.n_pending = 0
        self.received = 0  # frames in whole blocks processed
        self.raw = np.zeros((0, n_classes))  # raw frames [raw0, received)
        self.raw0 = 0
        self.smoothed = np.zeros((0, n_classes))  # smoothed frames [s0, done)
        self.s0 = 0
        self.done = 0  # frames smoothed and labelled
        self.runs: list[list[int]] = []  # [start, stop, cls] not yet final; runs[0] may be a carried stable run
        # (sum, peak, frames summed up to) of runs[0]'s frames dropped from raw
        self.carried: tuple[np.ndarray, np.ndarray, int] | None = None
        self.out: list[tuple] = []

    # -- input ---------------------------------------------------------------------------------------------
    def push(self, chunk) -> None:
        chunk = np.asarray(chunk)
        if chunk.ndim != 2 or chunk.shape[1] != self.n_classes:
            raise ValueError(f"RunDetector: chunks must be (frames, {self.n_classes}); got {chunk.shape}.")
        self.pending.append(chunk)
        self.n_pending += chunk.shape[0]
        while self.n_pending >= BLOCK:
            self._block(self._take(BLOCK), final=False)

    def finish(self) -> list[tuple]:
        if self.n_pending or self.received:
            self._block(self._take(self.n_pending), final=True)
        return self.out

    def _take(self, n: int) -> np.ndarray:
        data = np.concatenate(self.pending) if len(self.pending) > 1 else (self.pending[0] if self.pending
                                                                             else np.zeros((0, self.n_classes)))
        block, rest = data[:n], data[n:]
        self.pending = [rest] if rest.shape[0] else []
        self.n_pending = rest.shape[0]
        return np.asarray(block, dtype=np.float64)

    # -- one block -----------------------------------------------------------------------------------------
    def _block(self, block: np.ndarray, final: bool) -> None:
        self.raw = np.concatenate([self.raw, block])
        self.received += block.shape[0]
        end = self.received if final else max(self.done, self.received - self.after)
        if end > self.done:
            self._smooth(end, final)
        if final:
            self._resolve(len(self.runs) - 1, last=True)
        else:
            stable = [i for i, (a, b, c) in enumerate(self.runs[:-1]) if b - a >= self.min_frames[c]]
            if stable and stable[-1] > 0:
                self._resolve(stable[-1], last=False)
        self._drop()

    def _smooth(self, end: int, final: bool) -> None:
        """Smooth and label frames ``[done, end)``; extend the runs."""
        lo, hi = self.done - self.before, end + self.after
        first, last = max(lo, 0), min(hi, self.received)
        frames = self.raw[first - self.raw0 : last - self.raw0]
        parts = [np.repeat(self.raw[:1], first - lo, axis=0)] if first > lo else []  # the piece's start: nearest
        parts.append(frames)
        if hi > last:  # the piece's end (only when final): nearest
            parts.append(np.repeat(self.raw[-1:], hi - last, axis=0))
        values = window_smooth(np.concatenate(parts) if len(parts) > 1 else frames, self.method, self.size)
        self.smoothed = np.concatenate([self.smoothed, values])
        labels = values.argmax(axis=1)
        change = np.flatnonzero(np.diff(labels)) + 1
        for a, b in zip(np.r_[0, change], np.r_[change, labels.size], strict=True):
            a, b, c = int(a) + self.done, int(b) + self.done, int(labels[a])
            if self.runs and self.runs[-1][1] == a and self.runs[-1][2] == c:
                self.runs[-1][1] = b
            else:
                self.runs.append([a, b, c])
        self.done = end

    def _resolve(self, j: int, last: bool) -> None:
        """Apply the minimum durations to runs ``0 .. j`` and emit the final ones (all of them when ``last``; else
        every one but the run holding run ``j``, which stays, stable, as the first run)."""
        if j < 0:
            return
        head = self.runs[: j + 1]
        a, b, c = enforce_min(self.smoothed, [r[0] for r in head], [r[1] for r in head], [r[2] for r in head],
                              self.min_frames, offset=self.s0)
        resolved = [[int(x), int(y), int(z)] for x, y, z in zip(a, b, c, strict=True)]
        # the first resolved run starts where runs[0] started (a run is only ever given to a neighbour), so the
        # sums carried for runs[0]'s dropped frames are its
        keep = None if last else resolved.pop()
        for k, run in enumerate(resolved):
            self.out.append((*run, *self._stats(run, self.carried if k == 0 else None)))
        if resolved:
            self.carried = None
        self.runs = [] if keep is None else [keep] + self.runs[j + 1 :]

    def _stats(self, run, carried):
        """Sum and peak of the raw probabilities over ``run``'s frames: the part dropped already (``carried``) and
        the rest from the buffer, summed block piece by block piece on the fixed grid."""
        if carried is None:
            carried = (np.zeros(self.n_classes), np.full(self.n_classes, -np.inf), run[0])
        total, peak, upto = carried
        return self._add(total, peak, upto, run[1])

    def _add(self, total, peak, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """``total`` and ``peak`` updated with frames ``[a, b)`` (in the buffer), block piece by block piece."""
        total, peak = total.copy(), peak.copy()
        while a < b:
            cut = min(b, (a // BLOCK + 1) * BLOCK)
            frames = self.raw[a - self.raw0 : cut - self.raw0]
            total += frames.sum(axis=0)
            np.maximum(peak, frames.max(axis=0), out=peak)
            a = cut
        return total, peak

    def _drop(self) -> None:
        """Free the raw and smoothed frames no longer needed; the first run's raw frames are summed first."""
        if not self.runs:
            keep_raw = self.done - self.before
        else:  # smoothing context, and the raw frames of every run but the first
            keep_raw = min(self.done - self.before, self.runs[1][0] if len(self.runs) > 1 else self.done)
        keep_raw = max(self.raw0, (keep_raw // BLOCK) * BLOCK)  # on the grid: sums stay those of whole pieces
        if self.runs and keep_raw > self.runs[0][0]:
            if self.carried is None:
                self.carried = (np.zeros(self.n_classes), np.full(self.n_classes, -np.inf), self.runs[0][0])
            total, peak, upto = self.carried
            if keep_raw > upto:
                self.carried = (*self._add(total, peak, upto, keep_raw), keep_raw)
        self.raw = self.raw[keep_raw - self.raw0 :]
        self.raw0 = keep_raw
        # smoothed frames: those of the runs that may still be short (a stable first run never is)
        if not self.runs:
            keep_smooth = self.done
        else:
            first = self.runs[0]
            stable = first[1] - first[0] >= self.min_frames[first[2]]
            keep_smooth = (self.runs[1][0] if len(self.runs) > 1 else self.done) if stable else first[0]
        keep_smooth = max(self.s0, keep_smooth)
        self.smoothed = self.smoothed[keep_smooth - self.s0 :]
        self.s0 = keep_smooth

"""The monitor's engine: streaming features and inference with the recurrent state carried across blocks.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..features._streaming import StreamingFeatures
from ._sources import _NS

__all__ = ["Piece", "StoredProb"]
#: frames fed to the model at once (1 h with the paper's 0.5 s hop)
CHUNK_FRAMES = 7200


# ------------------------------------------------------------------------------------------------ classifier


@dataclasses.dataclass
class Piece:
    """One contiguous stretch of classified signal.

    ``start_ns``: UTC (ns) of its first sample at the model rate ``sampling_rate``; ``n_samples``; ``prob``
    ``(frames, classes)`` float32; ``first_frame_ns``: centre of the frame of ``prob``'s first row; ``frame_period_ns``:
    hop. A block task's output holds *fragments* of pieces (:meth:`_Engine.drain`): the rows computed in that task,
    ``first_frame_ns`` their first row's time and ``n_samples`` the piece's samples so far.
    """

    start_ns: int
    n_samples: int
    sampling_rate: float
    first_frame_ns: int
    frame_period_ns: int
    prob: np.ndarray | StoredProb

    @property
    def end_ns(self) -> int:
        """Time just after the last sample (where a contiguous next sample would be)."""
        return self.start_ns + int(round(self.n_samples * _NS / self.sampling_rate))

    @property
    def frame_times_ns(self) -> np.ndarray:
        """UTC (ns) of every frame centre."""
        return self.first_frame_ns + np.arange(self.prob.shape[0], dtype=np.int64) * self.frame_period_ns


class StoredProb:
    """Frame probabilities left on disk: rows ``[a, b)`` of block tasks' ``prob.npy`` files, read when used.

    What a :class:`Piece` of a result read from an output folder holds instead of an array, so that a station's
    month of probabilities is never in memory at once: :func:`prob_chunks` yields it file by file (detections,
    MiniSEED), and ``np.asarray(prob)``, ``prob[...]`` or ``prob == other`` read it all (a piece you asked for).
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, parts: list[tuple[str, int, int]], n_classes: int):
        self.parts = list(parts)
        self.shape = (sum(b - a for _, a, b in self.parts), int(n_classes))

    def __len__(self) -> int:
        return self.shape[0]

    def chunks(self):
        for path, a, b in self.parts:
            if b > a:
                rows = np.load(path, mmap_mode="r")
                chunk = np.array(rows[a:b])  # a copy: the file is unmapped again at once
                del rows
                yield chunk

    def __array__(self, dtype=None, copy=None):
        chunks = list(self.chunks())
        out = np.concatenate(chunks) if chunks else np.zeros(self.shape, np.float32)
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key):
        return np.asarray(self)[key]

    def __eq__(self, other):
        return np.asarray(self) == np.asarray(other)

    __hash__ = None  # type: ignore[assignment]  # unhashable, as the arrays it stands for (== is elementwise)

    def __repr__(self) -> str:
        return f"StoredProb({self.shape[0]} frames x {self.shape[1]} classes in {len(self.parts)} file(s))"


def prob_chunks(prob):
    """The rows of a piece's probabilities in order, a chunk at a time (one array, or a :class:`StoredProb`'s
    files one by one)."""
    return prob.chunks() if isinstance(prob, StoredProb) else iter([prob])


def concat_prob(a, b):
    """Rows of ``a`` then ``b`` (arrays are concatenated; stored probabilities stay on disk)."""
    if isinstance(a, StoredProb) or isinstance(b, StoredProb):
        parts = [p for x in (a, b) for p in (x.parts if isinstance(x, StoredProb) else _held(x))]
        return StoredProb(parts, a.shape[1])
    return np.concatenate([a, b])


def _held(array):
    if array.shape[0]:
        raise TypeError("concat_prob: an array in memory cannot join probabilities stored on disk")
    return []


class _Engine:
    """Streaming features + model with carried state; collects the probabilities of each contiguous piece."""

    def __init__(self, model, cfg, rate, device, timings, capture=None):
        import torch

        self.torch = torch
        self.model = model
        self.cfg = cfg
        self.rate = float(rate)
        self.device = device
        self.timings = timings
        self.features = StreamingFeatures(self.rate, feature_config=cfg, spectrogram=capture is not None)
        self.capture = capture
        self.recurrent = hasattr(model, "forward_layers") and hasattr(model, "initial_states")
        self.context_frames = 0 if self.recurrent else max(int(getattr(model, "receptive_field", 1)) - 1, 0)
        win, hop = self.features.win, self.features.hop
        self.first_offset_ns = int(round(win / 2 * _NS / self.rate))
        self.period_ns = int(round(hop * _NS / self.rate))
        self.pieces: list[Piece] = []
        self.chunk_samples = CHUNK_FRAMES * hop
        self._open = False
        self.last_end_ns = None

    # -- pieces ------------------------------------------------------------------------------------------
    def _start(self, start_ns):
        self.start_ns, self.n_samples, self.probs, self.drained = start_ns, 0, [], 0
        self.states, self.context = None, None
        self._open = True
        if self.capture is not None:
            self.capture.start_piece(start_ns, self.start_ns + self.first_offset_ns, self.period_ns)

    def _end(self):
        t = time.perf_counter()
        tail = self.features.finish()
        self.timings["features"] += time.perf_counter() - t
        self._infer(tail)
        prob = np.concatenate(self.probs) if self.probs else np.zeros((0, len(self.model.class_names)), np.float32)
        self.pieces.append(Piece(self.start_ns, self.n_samples, self.rate, self._row0_ns(), self.period_ns, prob))
        self.last_end_ns = self._next_ns()
        self._open = False
        if self.capture is not None:
            self.capture.end_piece()

    def _row0_ns(self) -> int:
        """Centre of the first frame not drained yet (frame 0 of the piece when nothing was drained)."""
        return self.start_ns + self.first_offset_ns + self.drained * self.period_ns

    def drain(self) -> list[tuple[Piece, bool]]:
        """The pieces closed since the last call and the open piece's frames computed since then, as ``(fragment,
        closed)`` pairs, forgotten here (a block task's output; the open piece continues in the next task)."""
        out = [(piece, True) for piece in self.pieces]
        self.pieces = []
        if self._open:
            prob = np.concatenate(self.probs) if self.probs else np.zeros((0, len(self.model.class_names)), np.float32)
            out.append((Piece(self.start_ns, self.n_samples, self.rate, self._row0_ns(), self.period_ns, prob), False))
            self.probs = []
            self.drained += prob.shape[0]
        return out

    def _next_ns(self):
        return self.start_ns + int(round(self.n_samples * _NS / self.rate))

    def push(self, start_ns: int, y: np.ndarray) -> None:
        if self._open:
            expected = self._next_ns()
            half = 0.5 * _NS / self.rate
            if start_ns > expected + half:
                self._end()
            elif start_ns < expected - half:  # overlap: keep the earlier samples
                y = y[int(round((expected - start_ns) * self.rate / _NS)) :]
        if not self._open:
            self._start(start_ns)
        for i in range(0, y.size, self.chunk_samples):
            part = y[i : i + self.chunk_samples]
            self.n_samples += part.size
            t = time.perf_counter()
            frames = self.features.push(part)
            self.timings["features"] += time.perf_counter() - t
            self._infer(frames)

    def finish(self) -> None:
        if self._open:
            self._end()

    # -- model ---------------------------------------------------------------------------------------------
    def _infer(self, out) -> None:
        feats, spec = out if isinstance(out, tuple) else (out, None)
        if feats.shape[0] == 0:
            return
        torch = self.torch
        t = time.perf_counter()
        x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))[None].to(self.device)
        hidden = None
        with torch.inference_mode():
            if self.recurrent:
                logits, layers = self.model.forward_layers(x, self.states)
                self.states = [layer["final_state"] for layer in layers]
                if self.capture is not None:
                    hidden = [layer["h"][0].cpu().numpy() for layer in layers]
            else:
                if self.context is not None:
                    x = torch.cat([self.context, x], dim=1)
                logits = self.model(x)[:, -feats.shape[0] :]
                if self.context_frames:
                    self.context = x[:, -self.context_frames :]
            prob = torch.softmax(logits[0].float(), dim=-1).cpu().numpy().astype(np.float32)
        self.probs.append(prob)
        self.timings["inference"] += time.perf_counter() - t
        if self.capture is not None:
            self.capture.write(feats, spec, prob, hidden)

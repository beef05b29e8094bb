"""Block tasks: one block (a UTC day) of one channel, run anywhere, with the state carried from the previous block.

A station's range is cut into *chains* of blocks (one chain, or one per span with :func:`rnnscope.monitor`'s
``span_s``). :func:`run_block` runs one block of one chain: it restores the state the previous block of the chain
saved (:mod:`rnnscope.monitoring._state`), reads and classifies the block exactly as the serial monitor does
(:func:`process_block`, which the serial loop also calls) and returns, or writes into its task folder:

- ``fragments``: the rows of probabilities computed in this block, per contiguous piece (a piece that goes on in
  the next block is *open*; see :meth:`rnnscope.monitoring._engine._Engine.drain`);
- ``state``: what the next block of the chain needs (none after the last block);
- ``capture``: with ``capture_store``, the calls the engine made to the capture writer and their arrays, replayed
  into the per-day run stores when the whole station is done (:func:`replay_capture`);
- ``timings``: seconds per stage.

A task folder is written as ``NAME.<random>.partial`` and renamed to ``NAME`` when complete (:func:`write_task`), so
a folder without the suffix is always whole: a rerun skips it and redoes the others. Nothing in it is unpickled when
read (JSON, ``.npy`` and ``.npz`` of numbers only).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from ..features import FeatureConfig
from ._engine import Piece, StoredProb, _Engine, concat_prob
from ._preprocessing import _Preprocessor
from ._sources import _NS, _contiguous_pieces, _FileSource, _SDSSource, _StreamSource
from ._state import restore_state, save_state

__all__ = []

FUNC = "monitor"
TIMING_KEYS = ("read", "preprocess", "features", "inference", "catalog")
PARTIAL = ".partial"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a block task needs besides the model and the data (picklable, sent with every task)."""

    cfg: FeatureConfig
    rate: float
    detrend: str | None
    band: tuple | None
    margin_s: float
    block_s: float
    threads: int | None
    device: str
    smoothing: object
    min_duration: object
    background: str | None
    capture: bool = False

    def fingerprint(self) -> dict:
        """What decides the results (JSON): a rerun in the same output folder must have the same."""
        return {"feature_config": self.cfg.to_json(), "sampling_rate": self.rate, "detrend": self.detrend,
                "bandpass": list(self.band) if self.band else None, "margin_s": self.margin_s,
                "block_s": self.block_s, "capture": self.capture}


# ------------------------------------------------------------------------------------------------ the model


_MODELS: dict = {}
_MODELS_LOCK = threading.Lock()


def model_key(model) -> str:
    """sha256 of the model's config and weights (what a rerun must match)."""
    digest = hashlib.sha256(json.dumps(model.config, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def model_ref(model, key: str, path=None, inline: bool = False) -> tuple:
    """How a task gets the model: the object itself (``inline``, same process), a model file every worker can
    read (``path``), or the bytes of one (sent with each task; loaded once per worker process)."""
    if inline:
        return ("object", key, model)
    if path is not None:
        return ("path", key, os.fspath(path))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        file = model.save(os.path.join(tmp, "model.safetensors"))
        return ("bytes", key, Path(file).read_bytes())


def worker_model(ref, device):
    """The model of ``ref`` on ``device`` (loaded once per process and kept)."""
    from .._device import resolve_device

    kind, key, value = ref
    dev = resolve_device(device, func=FUNC)
    if kind == "object":
        return value.to(dev).eval(), dev
    with _MODELS_LOCK:
        if key not in _MODELS:
            from ..models import load

            if kind == "path":
                model = load(value, device="cpu")
            else:
                import tempfile

                with tempfile.TemporaryDirectory() as tmp:
                    path = os.path.join(tmp, "model.safetensors")
                    Path(path).write_bytes(value)
                    model = load(path, device="cpu")
            while len(_MODELS) >= 4:  # a worker serving several runs keeps the last few models
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[key] = model.to(dev).eval()
        return _MODELS[key], dev


# ------------------------------------------------------------------------------------------------ sources


_SOURCES: dict = {}


def source_spec(src, seed_id: str, a, b):
    """What a task needs to read ``seed_id`` in ``[a, b)``: the SDS root, the file table, or the block's traces."""
    if src.kind == "sds":
        return ("sds", src.root)
    if src.kind == "files":
        return ("files", [row for row in src.files if row[1] == seed_id])
    return ("stream", src.read(seed_id, a, b))


def open_spec(spec):
    kind, value = spec
    if kind == "stream":
        return _StreamSource(value)
    if kind == "files":
        return _FileSource.from_table(value)
    if value not in _SOURCES:
        _SOURCES[value] = _SDSSource(value)
    return _SOURCES[value]


# ------------------------------------------------------------------------------------------------ one block


def feed(engine, pre, timings, trace) -> None:
    """Preprocess one raw piece (``None``: flush the preprocessor) and classify what comes out."""
    t = time.perf_counter()
    outputs = pre.flush() if trace is None else pre.push(trace)
    timings["preprocess"] += time.perf_counter() - t
    while outputs:
        start_ns, y = outputs.pop(0)
        engine.push(start_ns, y)
        del y


def process_block(engine, pre, src, seed_id, a, b, timings) -> None:
    """Read ``seed_id`` in ``[a, b)``, split it at gaps and classify it (the serial loop's body)."""
    t = time.perf_counter()
    st = src.read(seed_id, a, b)
    pieces = _contiguous_pieces(st, FUNC) if len(st) else []
    del st
    timings["read"] += time.perf_counter() - t
    pieces.reverse()
    while pieces:  # pop: the preprocessor then holds the only reference to a piece's samples
        feed(engine, pre, timings, pieces.pop())


@contextlib.contextmanager
def torch_threads(threads):
    """PyTorch threads during a task; restored afterwards in the main thread (a worker thread leaves them set:
    the count is per process and other tasks may be running)."""
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        if threads is not None and threading.current_thread() is threading.main_thread():
            torch.set_num_threads(before)


def run_block(payload: dict) -> dict:
    """Run one block of one chain (module level, so any Executor can pickle it); see the module docstring.

    ``payload``: ``model`` (a :func:`model_ref`), ``settings``, ``source`` (a :func:`source_spec`), ``seed_id``,
    ``block`` (start and end, ns), ``final`` (last block of its chain: flush everything), ``keep`` (frame centres
    kept, ``[from, until)`` in ns, None = open), ``state`` (arrays, in memory) or ``state_path`` (the previous
    task's folder), ``folder`` (this task's folder, or None: return everything).
    """
    from obspy import UTCDateTime

    t_task = time.perf_counter()
    s: Settings = payload["settings"]
    seed_id = payload["seed_id"]
    model, dev = worker_model(payload["model"], s.device)
    timings = dict.fromkeys(TIMING_KEYS, 0.0)
    log = CaptureLog() if s.capture else None
    engine = _Engine(model, s.cfg, s.rate, dev, timings, log)
    pre = _Preprocessor(s.rate, s.detrend, s.band, s.margin_s, seed_id, FUNC)
    state = payload.get("state")
    if state is None and payload.get("state_path"):
        with np.load(Path(payload["state_path"]) / "state.npz") as saved:
            state = {k: saved[k] for k in saved.files}
    if state is not None:
        restore_state(engine, pre, state)
    a, b = (UTCDateTime(ns=int(v)) for v in payload["block"])
    with torch_threads(s.threads):
        process_block(engine, pre, open_spec(payload["source"]), seed_id, a, b, timings)
        if payload["final"]:
            feed(engine, pre, timings, None)
            engine.finish()
    keep = payload.get("keep") or (None, None)
    fragments = [(clip(piece, *keep), closed) for piece, closed in engine.drain()]
    timings["task"] = time.perf_counter() - t_task
    out = {"fragments": fragments, "timings": timings,
           "state": None if payload["final"] else save_state(engine, pre),
           "capture": None if log is None else log.arrays()}
    if payload.get("folder") is None:
        return out
    write_task(payload["folder"], out)
    return {"timings": timings, "frames": sum(f.prob.shape[0] for f, _ in fragments)}


def clip(piece: Piece, keep_from, keep_until) -> Piece:
    """The rows of a fragment whose frame centres lie in ``[keep_from, keep_until)`` (None: no bound)."""
    n = piece.prob.shape[0]
    times = piece.first_frame_ns + np.arange(n, dtype=np.int64) * piece.frame_period_ns
    i0 = 0 if keep_from is None else int(np.searchsorted(times, keep_from, side="left"))
    i1 = n if keep_until is None else int(np.searchsorted(times, keep_until, side="left"))
    i1 = max(i0, i1)
    if i0 == 0 and i1 == n:
        return piece
    return dataclasses.replace(piece, first_frame_ns=piece.first_frame_ns + i0 * piece.frame_period_ns,
                               prob=piece.prob[i0:i1])


# ------------------------------------------------------------------------------------------------ task folders


def task_done(folder) -> bool:
    return Path(folder).is_dir() and (Path(folder) / "task.json").exists()


def write_task(folder, out: dict) -> None:
    """Write a task's output into ``folder`` atomically (a ``.partial`` folder renamed when complete)."""
    final = Path(folder)
    partial = final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}{PARTIAL}")
    partial.mkdir(parents=True)
    try:
        meta = []
        probs = []
        for piece, closed in out["fragments"]:
            meta.append({"start_ns": int(piece.start_ns), "n_samples": int(piece.n_samples),
                         "sampling_rate": float(piece.sampling_rate), "first_frame_ns": int(piece.first_frame_ns),
                         "frame_period_ns": int(piece.frame_period_ns), "rows": int(piece.prob.shape[0]),
                         "closed": bool(closed)})
            probs.append(np.asarray(piece.prob, dtype=np.float32))
        n_classes = probs[0].shape[1] if probs else 0
        np.save(partial / "prob.npy", np.concatenate(probs) if probs else np.zeros((0, n_classes), np.float32))
        if out["state"] is not None:
            np.savez(partial / "state.npz", **out["state"])
        capture = out.get("capture")
        if capture is not None:
            for name, array in capture["arrays"].items():
                np.save(partial / f"capture_{name}.npy", array)
        info = {
            "fragments": meta,
            "timings": out["timings"],
            "capture": None if capture is None else {"calls": capture["calls"], "arrays": sorted(capture["arrays"])},
        }
        (partial / "task.json").write_text(json.dumps(info))  # last: its presence marks the folder as whole
        try:
            os.rename(partial, final)
        except OSError:  # another attempt at the same task finished first (e.g. a worker thought lost): keep that
            if not task_done(final):
                raise
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def read_task(folder) -> dict:
    """A task's output as :func:`run_block` returns it (without its capture recording: :func:`read_capture`), its
    probabilities left in the folder (:class:`~rnnscope.monitoring._engine.StoredProb`, read when used)."""
    folder = Path(folder)
    info = json.loads((folder / "task.json").read_text())
    path = os.fspath(folder / "prob.npy")
    n_classes = int(np.load(path, mmap_mode="r").shape[1])
    fragments, row = [], 0
    for m in info["fragments"]:
        prob = StoredProb([(path, row, row + m["rows"])], n_classes)
        piece = Piece(m["start_ns"], m["n_samples"], m["sampling_rate"], m["first_frame_ns"], m["frame_period_ns"],
                      prob)
        fragments.append((piece, m["closed"]))
        row += m["rows"]
    return {"fragments": fragments, "timings": info["timings"], "has_capture": info["capture"] is not None}


def read_capture(folder) -> dict | None:
    """A task's capture recording (arrays memory-mapped; drop it once replayed), or None; it exists only until the
    station's capture runs are written."""
    folder = Path(folder)
    info = json.loads((folder / "task.json").read_text())["capture"]
    if info is None:
        return None
    arrays = {name: np.load(folder / f"capture_{name}.npy", mmap_mode="r") for name in info["arrays"]}
    return {"calls": info["calls"], "arrays": arrays}


def clean_partials(folder) -> int:
    """Remove the ``.partial`` task folders an interrupted run left under ``folder``; return how many."""
    n = 0
    for path in Path(folder).glob(f"**/*{PARTIAL}"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
            n += 1
    return n


# ------------------------------------------------------------------------------------------------ capture


class CaptureLog:
    """Records the engine's calls to a capture writer (the block's frames), to be replayed into the run stores."""

    def __init__(self):
        self.calls: list = []
        self.chunks: dict[str, list] = {}

    def start_piece(self, start_ns, first_frame_ns, period_ns):
        self.calls.append(["start", int(start_ns), int(first_frame_ns), int(period_ns)])

    def end_piece(self):
        self.calls.append(["end"])

    def write(self, feats, spec, prob, hidden):
        self.calls.append(["write", int(feats.shape[0])])
        parts = {"features": feats, "spectrogram": spec, "prob": prob}
        parts.update({f"h{i}": h for i, h in enumerate(hidden)})
        for name, array in parts.items():
            self.chunks.setdefault(name, []).append(np.asarray(array, dtype=np.float32))

    def arrays(self) -> dict:
        return {"calls": self.calls, "arrays": {k: np.concatenate(v) for k, v in self.chunks.items()}}


def replay_capture(writer, capture: dict) -> None:
    """Make ``writer`` (a :class:`~rnnscope.monitoring._writer.CaptureWriter`) write what a block task recorded."""
    arrays = capture["arrays"]
    layers = sorted((k for k in arrays if k.startswith("h")), key=lambda k: int(k[1:]))
    row = 0
    for call in capture["calls"]:
        if call[0] == "start":
            writer.start_piece(*call[1:])
        elif call[0] == "end":
            writer.end_piece()
        else:
            r = slice(row, row + call[1])
            writer.write(arrays["features"][r], arrays["spectrogram"][r], np.asarray(arrays["prob"][r]),
                         [arrays[k][r] for k in layers])
            row += call[1]


# ------------------------------------------------------------------------------------------------ pieces


def join(chains: list[list[tuple[Piece, bool]]], keeps: list[tuple], rate: float) -> list[Piece]:
    """The pieces of a station from its chains' fragments (in block order), joined across block and chain seams.

    Within a chain, the fragments of one piece are concatenated. Pieces wholly outside a chain's kept range ``[keep
    from, keep until)`` (in its warm-up or its extension) are dropped. At a seam between chains, the piece going on
    past the earlier chain's end and the later chain's piece that started in its warm-up are one piece when their
    frames lie on one grid; else the first ends and the second starts at the seam.
    """
    out: list[Piece] = []
    carried = False  # out[-1] went on past the previous chain's end
    for fragments, (keep_from, keep_until) in zip(chains, keeps, strict=True):
        pieces = [p for p in _concat(fragments) if (keep_from is None or p.end_ns > keep_from)
                  and (keep_until is None or p.start_ns < keep_until)]
        if pieces and keep_from is not None and pieces[0].start_ns <= keep_from:
            prev, first = (out[-1] if carried else None), pieces[0]
            if prev is not None and _on_grid(prev, first):
                n = int(round((first.end_ns - prev.start_ns) * rate / _NS))
                out[-1] = Piece(prev.start_ns, n, rate, prev.first_frame_ns, first.frame_period_ns,
                                concat_prob(prev.prob, first.prob))
                pieces = pieces[1:]
            else:
                pieces[0] = _cut_start(first, keep_from, rate)
        out.extend(pieces)
        carried = keep_until is not None and bool(out) and out[-1].end_ns > keep_until
        if carried:
            out[-1] = _cut_end(out[-1], keep_until, rate)
    return out


def _on_grid(prev: Piece, first: Piece) -> bool:
    """Whether ``first``'s frames continue ``prev``'s frame grid (to a thousandth of a hop)."""
    period = first.frame_period_ns
    offset = (first.first_frame_ns - prev.first_frame_ns) % period
    return period == prev.frame_period_ns and min(offset, period - offset) <= max(1, period // 1000)


def _concat(fragments) -> list[Piece]:
    pieces: list[Piece] = []
    for piece, _ in fragments:
        if pieces and pieces[-1].start_ns == piece.start_ns:
            last = pieces[-1]
            first = last.first_frame_ns if last.prob.shape[0] else piece.first_frame_ns
            pieces[-1] = dataclasses.replace(last, n_samples=piece.n_samples, first_frame_ns=first,
                                             prob=concat_prob(last.prob, piece.prob))
        else:
            pieces.append(piece)
    return pieces


def _cut_end(piece: Piece, at_ns: int, rate: float) -> Piece:
    return dataclasses.replace(piece, n_samples=int(round((at_ns - piece.start_ns) * rate / _NS)))


def _cut_start(piece: Piece, at_ns: int, rate: float) -> Piece:
    end = piece.end_ns
    return dataclasses.replace(piece, start_ns=int(at_ns), n_samples=int(round((end - at_ns) * rate / _NS)))


def gaps_between(pieces: list[Piece], rate: float) -> list[tuple[int, int]]:
    """Where the data stop between consecutive pieces (more than half a sample)."""
    half = 0.5 * _NS / rate
    return [(p.end_ns, q.start_ns) for p, q in zip(pieces, pieces[1:], strict=False) if q.start_ns > p.end_ns + half]


def gap_table(pieces, gaps, rate, t0, t1) -> pd.DataFrame:
    """``start``, ``end``, ``duration_s`` of the data missing in ``[t0, t1)``: before the first piece, between
    pieces (``gaps``) and after the last."""
    spans = []
    if not pieces:
        spans.append((t0.ns, t1.ns))
    else:
        if pieces[0].start_ns > t0.ns + 0.5 * _NS / rate:
            spans.append((t0.ns, pieces[0].start_ns))
        spans += gaps
        end = pieces[-1].end_ns
        if end < t1.ns - 0.5 * _NS / rate:
            spans.append((end, t1.ns))
    a = np.array([s[0] for s in spans], dtype=np.int64)
    b = np.array([s[1] for s in spans], dtype=np.int64)
    return pd.DataFrame({
        "start": pd.to_datetime(a, unit="ns", utc=True),
        "end": pd.to_datetime(b, unit="ns", utc=True),
        "duration_s": (b - a) / _NS,
    })

"""What the monitor carries from one block to the next, as plain arrays: a block task saves it and the next one
restores it, so a station's days can run as separate tasks (on any worker) and still give the serial result.

The state of one channel between two blocks is small (a minute of raw samples, a few frames, the recurrent state):

- the preprocessor's held-back raw samples (``margin_s`` seconds) and its position in the contiguous signal;
- the streaming features' last samples and log filter-bank energies (:class:`rnnscope.features.StreamingFeatures`);
- the engine's open piece (start, samples so far), the recurrent state of every layer (or a TCN's context frames)
  and the end of the last closed piece.

:func:`save_state` turns it into a ``{name: ndarray}`` mapping (written with :func:`numpy.savez`: numbers and
arrays only, nothing is unpickled when it is read back) and :func:`restore_state` sets it on a fresh engine and
preprocessor. Restoring is exact: the arrays are the objects' own values, so a run cut into tasks equals the run in
one process bit for bit.

Examples
--------
>>> import numpy as np, obspy, rnnscope
>>> from rnnscope.features import PRESETS
>>> from rnnscope.monitoring._engine import _Engine
>>> from rnnscope.monitoring._preprocessing import _Preprocessor
>>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5).eval()
>>> def fresh():
...     timings = dict.fromkeys(("features", "inference"), 0.0)
...     return (_Engine(model, PRESETS["paper"], 100.0, "cpu", timings),
...             _Preprocessor(100.0, "linear", None, 60.0, "XX.A..HHZ", "doc"))
>>> x = np.random.default_rng(0).normal(size=36_000)
>>> tr = obspy.Trace(x, header={"sampling_rate": 100.0})
>>> engine, pre = fresh()
>>> for y in pre.push(tr.copy()):
...     engine.push(*y)
>>> arrays = save_state(engine, pre)
>>> engine2, pre2 = fresh()
>>> restore_state(engine2, pre2, arrays)
>>> sorted(arrays)[:3], engine2.n_samples == engine.n_samples, pre2.emitted == pre.emitted
(['engine', 'feat__c', 'feat__spec'], True, True)
"""
from __future__ import annotations

import json

import numpy as np

__all__ = ["save_state", "restore_state"]

#: scalar attributes of :class:`rnnscope.features.StreamingFeatures` (its arrays: _tail, _c, _spec)
_FEATURE_SCALARS = ("_last", "_c0", "_computed", "n_frames", "n_samples")
_FEATURE_ARRAYS = ("_tail", "_c", "_spec")
#: scalar attributes of the preprocessor while a signal is open (its samples: ``parts``)
_PRE_SCALARS = ("rate", "origin_ns", "dropped", "emitted", "up", "down", "margin", "sub")


def _plain(value):
    """numpy scalars -> Python numbers (JSON)."""
    return value.item() if isinstance(value, np.generic) else value


def save_state(engine, pre) -> dict[str, np.ndarray]:
    """The carried state of ``engine`` (:class:`~rnnscope.monitoring._engine._Engine`) and ``pre``
    (:class:`~rnnscope.monitoring._preprocessing._Preprocessor`) as arrays (see the module docstring)."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict = {"pre": None, "engine": {}, "features": {}}
    if pre.parts is not None:
        meta["pre"] = {k: _plain(getattr(pre, k)) for k in _PRE_SCALARS}
        meta["pre"]["n_parts"] = len(pre.parts)
        for i, part in enumerate(pre.parts):
            arrays[f"pre_part_{i}"] = np.asarray(part, dtype=np.float64)
    feat = engine.features
    meta["features"] = {k: _plain(getattr(feat, k)) for k in _FEATURE_SCALARS}
    for k in _FEATURE_ARRAYS:
        arrays[f"feat_{k}"] = np.asarray(getattr(feat, k))
    open_ = bool(engine._open)
    meta["engine"] = {"open": open_, "last_end_ns": engine.last_end_ns}
    if open_:
        meta["engine"].update(start_ns=int(engine.start_ns), n_samples=int(engine.n_samples),
                              drained=int(engine.drained) + sum(p.shape[0] for p in engine.probs))
        states = engine.states
        meta["engine"]["states"] = None if states is None else [len(s) for s in states]
        for i, layer in enumerate(states or []):
            for j, tensor in enumerate(layer):
                arrays[f"state_{i}_{j}"] = tensor.detach().cpu().numpy()
        meta["engine"]["context"] = engine.context is not None
        if engine.context is not None:
            arrays["context"] = engine.context.detach().cpu().numpy()
    arrays["engine"] = np.array(json.dumps(meta))
    return arrays


def restore_state(engine, pre, arrays) -> None:
    """Set the state saved by :func:`save_state` on a fresh ``engine`` and ``pre`` built with the same settings."""
    meta = json.loads(str(arrays["engine"]))
    if meta["pre"] is not None:
        for k in _PRE_SCALARS:
            setattr(pre, k, meta["pre"][k])
        pre.parts = [np.array(arrays[f"pre_part_{i}"], dtype=np.float64) for i in range(meta["pre"]["n_parts"])]
    else:
        pre.parts = None
    feat = engine.features
    for k in _FEATURE_SCALARS:
        setattr(feat, k, meta["features"][k])
    for k in _FEATURE_ARRAYS:
        setattr(feat, k, np.array(arrays[f"feat_{k}"]))
    state = meta["engine"]
    engine.last_end_ns = state["last_end_ns"]
    engine._open = state["open"]
    if engine._open:
        torch = engine.torch
        engine.start_ns, engine.n_samples, engine.probs = state["start_ns"], state["n_samples"], []
        engine.drained = state["drained"]
        sizes = state["states"]
        engine.states = None if sizes is None else [
            tuple(torch.from_numpy(np.array(arrays[f"state_{i}_{j}"])).to(engine.device) for j in range(n))
            for i, n in enumerate(sizes)
        ]
        engine.context = (torch.from_numpy(np.array(arrays["context"])).to(engine.device)
                          if state["context"] else None)

"""Memory timescales of gated units, from their gates (:func:`timescales`).

A gate ``g`` that keeps a fraction of the previous state at every step makes the state decay as ``g**k`` after
``k`` frames of no new input, so its time constant is ``tau = -dt / ln(g)`` (``dt`` the frame period):

- LSTM (and lazy LSTM): ``c_t = f c_{t-1} + i g``: the forget gate ``f``;
- GRU, in PyTorch's convention ``h_t = (1 - z) n + z h_{t-1}``: the update gate ``z`` keeps the state;
- vanilla RNN: no gate, so no gate time constant (NaN, ``gate="none"``); its memory is measured from outside
  with :func:`rnnscope.experiments.impulse_response` or the attributions' memory length
  (:func:`rnnscope.analysis.lag_profile`).

The gate is averaged over every valid frame first (``tau = -dt / ln(mean g)``): the unit's typical keep factor.
This module imports no torch.
"""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ..errors import RnnscopeWarning
from . import _common as C

__all__ = ["timescales", "KEEP_GATES"]

#: The gate that keeps each cell family's state.
KEEP_GATES = {"lstm": "forget_gate", "lazy_lstm": "forget_gate", "gru": "update_gate", "rnn": None}


def _frame_period(run, func) -> float:
    times = np.asarray(run["time"].values, dtype=np.float64) if "time" in run.coords else np.zeros(0)
    if times.size > 1:
        return float(times[1] - times[0])
    if "frame_rate" in run.attrs:
        return 1.0 / float(run.attrs["frame_rate"])
    raise ValueError(f"{func}: the run has one frame and no attrs['frame_rate']: the frame period is unknown.")


def _layer_gates(run, positions) -> list[str | None]:
    """The keeping gate of every selected layer: by the model's cells when the run says, else by the gates it
    holds for that layer."""
    cells = C.model_cells(run)
    out = []
    for p in positions:
        if cells is not None and len(cells) == run.sizes["layer"]:
            out.append(KEEP_GATES.get(cells[p]))
            continue
        found = None
        for gate in ("forget_gate", "update_gate"):
            if gate in run.data_vars and bool(run[gate].isel(layer=int(p), event=0).notnull().any()):
                found = gate
                break
        out.append(found)
    return out


def timescales(run: xr.Dataset, *, layer=None) -> xr.Dataset:
    """Each unit's memory time constant from its keeping gate: ``-dt / ln(mean gate)``.

    Parameters
    ----------
    run : xarray.Dataset
        A run holding the gates (``forget_gate`` for LSTM layers, ``update_gate`` for GRU layers; capture with
        ``variables="all"``).
    layer : int, list of int or None
        Layers (``run.layer`` values); None: all.

    Returns
    -------
    xarray.Dataset
        ``timescale_s`` (unit, layer; NaN for layers without a gate, e.g. vanilla RNN layers, and for units whose
        gate never keeps anything), ``timescale_frames``, ``mean_gate`` (unit, layer), coordinate ``gate`` (layer:
        ``forget_gate``, ``update_gate`` or ``none``); ``attrs["frame_period_s"]``.

    Examples
    --------
    >>> from rnnscope import examples
    >>> tau = timescales(examples.trained_run())
    >>> tau.gate.values.tolist(), tau.timescale_s.dims
    (['forget_gate'], ('unit', 'layer'))
    >>> bool((tau.timescale_s > 0).all())
    True
    """
    func = "timescales"
    run = C.as_run(run, func)
    positions = C.check_layers(run, layer, func)
    dt = _frame_period(run, func)
    gates = _layer_gates(run, positions)
    mean = np.full((run.sizes["unit"], len(positions)), np.nan)
    for gate in sorted({g for g in gates if g is not None}):
        cols = np.array([i for i, g in enumerate(gates) if g == gate])
        if gate not in run.data_vars:
            raise ValueError(f"{func}: layers {C.layer_ids(run, positions[cols]).tolist()} keep their state through "
                             f"{gate!r}, which the run does not hold. Capture it (rnnscope.capture(..., "
                             "variables='all')).")
        total, count = np.zeros((run.sizes["unit"], cols.size)), 0
        for block in C.iter_blocks(run, gate, positions[cols], labels=False):
            total += block.values.astype(np.float64).sum(0)
            count += block.values.shape[0]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[:, cols] = total / count
    with np.errstate(invalid="ignore", divide="ignore"):
        frames = np.where((mean > 0) & (mean < 1), -1.0 / np.log(mean), np.where(mean >= 1, np.inf, np.nan))
    if all(g is None for g in gates):
        warnings.warn(f"{func}: layers {C.layer_ids(run, positions).tolist()} have no gate that keeps their state "
                      "(vanilla RNN layers): no gate time constant; measure their memory with "
                      "rnnscope.experiments.impulse_response or analysis.lag_profile.", RnnscopeWarning, stacklevel=2)
    coords = {"unit": C.unit_ids(run), "layer": C.layer_ids(run, positions),
              "gate": ("layer", [g or "none" for g in gates])}
    out = xr.Dataset({"timescale_s": (("unit", "layer"), frames * dt),
                      "timescale_frames": (("unit", "layer"), frames),
                      "mean_gate": (("unit", "layer"), mean)}, coords=coords)
    out["timescale_s"].attrs.update(units="s", definition="-dt / ln(mean keeping gate) over all valid frames")
    out.attrs.update(frame_period_s=dt, definition="LSTM: forget gate f (c_t = f c_{t-1} + i g); GRU: update gate z "
                                                   "(h_t = (1 - z) n + z h_{t-1}); vanilla RNN: no gate (NaN)")
    return out

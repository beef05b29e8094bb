"""How long each unit remembers a short input impulse (:func:`impulse_response`): a measurement from outside the
cell, for every cell kind (the vanilla RNN too), to compare with the gate time constants of
:func:`rnnscope.analysis.timescales` and the attributions' memory length (:func:`rnnscope.analysis.lag_profile`).
"""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from .._device import resolve_device
from .._validation import check_positive
from ..errors import AttributionError

__all__ = ["impulse_response"]


def _decay(response: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``response`` (time, n): peak, the frames from the peak until the response falls for good
    below peak / e (log-linear between the frames around the crossing), and whether it fell within the window."""
    n_time = response.shape[0]
    peak_at = np.argmax(response, axis=0)
    peak = response[peak_at, np.arange(response.shape[1])]
    decay = np.full(response.shape[1], np.nan)
    decayed = np.zeros(response.shape[1], dtype=bool)
    for j in np.flatnonzero(peak > 0):
        level = peak[j] / np.e
        above = np.flatnonzero(response[:, j] >= level)
        last = int(above[-1])  # the last frame at or above peak / e
        if last >= n_time - 1:
            continue  # still above at the end of the window
        a, b = response[last, j], response[last + 1, j]
        fraction = 1.0 if b <= 0 else np.clip(np.log(a / level) / np.log(a / b), 0.0, 1.0)
        decay[j] = last + fraction - peak_at[j]
        decayed[j] = True
    return peak, decay, decayed


def impulse_response(model, data: xr.Dataset | None = None, *, var: str = "h", amplitude: float = 1.0,
                     pulse_frames: int = 1, pulse_features=None, n_frames: int = 200, onset: int = 50,
                     frame_rate: float | None = None, device="auto") -> xr.Dataset:
    """Each unit's response to a short input impulse and its decay time.

    The model runs twice on a constant input (the per-feature mean: of ``data``'s valid frames, else the model's
    normaliser mean) for ``onset`` frames to settle, then ``n_frames`` more; in the second run the input rises by
    ``amplitude`` standard deviations (``data``'s, else the normaliser's) on ``pulse_features`` during ``pulse_frames``
    frames from frame ``onset``. The response is ``|v_impulse - v_constant|`` of ``var``; the decay time is the time
    from the response's peak until it falls for good below peak / e (interpolated between frames). For a state
    kept by a constant gate ``g`` it is ``-dt / ln(g)``, the gate time constant of
    :func:`rnnscope.analysis.timescales`.

    Parameters
    ----------
    model : RNNClassifier
    data : xarray.Dataset, optional
        Features whose mean and standard deviation set the input (default: the model's normaliser).
    var : str
        The state variable (``"h"``, ``"c"``...).
    amplitude : float
        Height of the impulse in standard deviations.
    pulse_frames : int
        Frames of the impulse.
    pulse_features : list of int or str, optional
        The features the impulse enters (default all).
    n_frames, onset : int
        Frames after the impulse's start, and frames of constant input before it.
    frame_rate : float, optional
        Frames per second (default ``data.attrs["frame_rate"]`` or the model's feature settings; else 1).
    device : str

    Returns
    -------
    xarray.Dataset
        ``response`` (time, unit, layer), ``time`` in s from the impulse's start; ``impulse_decay_s`` (unit,
        layer; NaN when the response never rises, or stays above peak / e to the end of the window: see
        ``decayed``), ``impulse_peak``, ``decayed``.

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import RNNClassifier
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = RNNClassifier("gru", input_size=4, hidden_size=6, num_classes=5)
    >>> out = impulse_response(model)
    >>> out.response.dims, out.impulse_decay_s.dims
    (('time', 'unit', 'layer'), ('unit', 'layer'))
    >>> bool((out.impulse_decay_s.where(out.decayed) > 0).sum() == out.decayed.sum())
    True
    """
    func = "impulse_response"
    if not hasattr(model, "trace_layers"):
        raise AttributionError(f"The 'model' parameter of {func} must be an rnnscope classifier (RNNClassifier, or "
                               f"from_torch). Got {type(model).__name__} instead.")
    check_positive(amplitude, name="amplitude", func=func)
    for name, value in (("pulse_frames", pulse_frames), ("n_frames", n_frames), ("onset", onset)):
        check_positive(value, name=name, func=func, integer=True, allow_zero=name == "onset")
    variables = {v for layer in model.layers for v in layer.variables}
    if var not in variables:
        raise AttributionError(f"The 'var' parameter of {func} must be a variable of the model's layers "
                               f"{sorted(variables)}. Got {var!r} instead.")
    device = resolve_device(device, func=func)
    if data is not None:
        values = data["features"]
        mean = np.asarray(values.mean(("event", "time"), skipna=True).values, dtype=np.float32)
        std = np.asarray(values.std(("event", "time"), skipna=True).values, dtype=np.float32)
    else:
        mean = model.feature_mean.detach().cpu().numpy().astype(np.float32)
        std = model.feature_std.detach().cpu().numpy().astype(np.float32)
    chosen = _feature_index(model, data, pulse_features, func)
    x = np.broadcast_to(mean, (2, onset + n_frames, mean.size)).copy()
    pulse = x[1, onset: onset + pulse_frames]  # a view: the frames of the impulse
    pulse[:, chosen] += amplitude * std[chosen]
    modes = {m: m.training for m in model.modules()}
    model.to(device).eval()
    try:
        with torch.no_grad():
            _, layers = model.trace_layers(torch.from_numpy(x).to(device))
    finally:
        for m, training in modes.items():
            m.train(training)
    stacks = []
    for record in layers:
        v = record["variables"].get(var)
        v = np.full((2, x.shape[1], model.hidden_size), np.nan) if v is None else v.detach().cpu().numpy()
        stacks.append(np.abs(v[1] - v[0])[onset:])
    response = np.stack(stacks, axis=-1)  # (time, unit, layer)
    dt = 1.0 / _rate(model, data, frame_rate)
    flat = np.nan_to_num(response.reshape(n_frames, -1), nan=0.0)
    peak, decay, decayed = _decay(flat)
    shape = response.shape[1:]
    out = xr.Dataset({"response": (("time", "unit", "layer"), response),
                      "impulse_decay_s": (("unit", "layer"), (decay * dt).reshape(shape)),
                      "impulse_peak": (("unit", "layer"), peak.reshape(shape)),
                      "decayed": (("unit", "layer"), decayed.reshape(shape))},
                     coords={"time": np.arange(n_frames) * dt, "unit": np.arange(shape[0]),
                             "layer": np.arange(shape[1])},
                     attrs={"variable": var, "amplitude": float(amplitude), "pulse_frames": int(pulse_frames),
                            "frame_period_s": dt,
                            "definition": "time from the peak of |v_impulse - v_constant| until it falls for good "
                                          "below peak / e"})
    out["impulse_decay_s"].attrs["units"] = "s"
    return out


def _feature_index(model, data, features, func) -> np.ndarray:
    if features is None:
        return np.arange(model.input_size)
    names = [str(n) for n in data["feature"].values] if data is not None and "feature" in data.coords else []
    out = []
    for f in ([features] if isinstance(features, (str, int, np.integer)) else features):
        if isinstance(f, str) and f in names:
            out.append(names.index(f))
        elif isinstance(f, (int, np.integer)) and 0 <= f < model.input_size:
            out.append(int(f))
        else:
            raise AttributionError(f"The 'pulse_features' parameter of {func} must hold feature indices (0.."
                                   f"{model.input_size - 1}) or names of data's features. Got {f!r} instead.")
    return np.asarray(out)


def _rate(model, data, frame_rate) -> float:
    if frame_rate is not None:
        return float(check_positive(frame_rate, name="frame_rate", func="impulse_response"))
    if data is not None and "frame_rate" in data.attrs:
        return float(data.attrs["frame_rate"])
    config = getattr(model, "feature_config", None) or {}
    hop = config.get("hop_s") if isinstance(config, dict) else None
    return 1.0 / float(hop) if hop else 1.0

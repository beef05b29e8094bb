"""Memory robustness (Tang, Shi & Wang, Fig. 8): difference between a clean and a perturbed run, recovery time.

The runs come from :func:`rnnscope.experiments.noise_robustness` (torch side); this module only reads them.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import xarray as xr

from ..errors import NumericalWarning
from . import _common as C

__all__ = ["perturbation", "recovery_time"]

#: Default recovery threshold: mean |difference| over units below 10 % of the clean run's standard deviation.
RECOVERY_THRESHOLD = 0.1


def _noise_info(perturbed) -> dict:
    info = perturbed.attrs.get("noise")
    if isinstance(info, str):
        try:
            info = json.loads(info)
        except json.JSONDecodeError:
            info = None
    return dict(info) if isinstance(info, dict) else {}


def perturbation(
    clean: xr.Dataset,
    perturbed: xr.Dataset,
    *,
    var: str = "cell",
    layer=None,
    event=0,
    noise: tuple[int, int] | None = None,
) -> xr.DataArray:
    """Difference of every unit between a perturbed and a clean run over time, per layer.

    Definition: ``diff[t, u, l] = v_perturbed[t, u, l] - v_clean[m(t), u, l]`` over the perturbed record's valid
    frames, where ``m(t)`` is the clean frame that perturbed frame ``t`` corresponds to: the perturbed run's
    ``clean_frame`` coordinate (written by :func:`rnnscope.experiments.noise_robustness`; the identity when
    absent, i.e. the runs are aligned frame by frame). Frames with no clean counterpart (``clean_frame == -1``:
    inserted noise) are compared with the clean state just before the insertion (the clean network "paused"
    there; zeros, the initial state, when the insertion is at the very start).

    Parameters
    ----------
    clean, perturbed : xarray.Dataset
        Runs of the same model over the clean and the perturbed record.
    var : str
        A state variable, or ``"cell"`` (default): Tang's cell, ``c`` for LSTM-family layers and ``h`` otherwise.
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    event : int or str
        The record in both runs (default 0).
    noise : (int, int), optional
        First and stop (exclusive) perturbed frames touched by the noise; default from the perturbed run's
        ``attrs["noise"]`` (``noise_start_frame``, ``noise_stop_frame``).

    Returns
    -------
    xarray.DataArray
        ``difference`` (time, unit, layer) over the perturbed time axis; coordinates ``clean_frame`` (time),
        ``variable`` and ``clean_std`` (layer: standard deviation of the clean values over frames and units, the
        scale of :func:`recovery_time`); attrs ``noise_start_frame``, ``noise_stop_frame``.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()
    >>> analysis.perturbation(run, run).attrs["noise_start_frame"]  # no noise window known: -1
    -1
    >>> diff = analysis.perturbation(run, run, noise=(2, 4))
    >>> diff.dims, float(abs(diff).max())
    (('time', 'unit', 'layer'), 0.0)
    """
    func = "perturbation"
    clean, perturbed = (C.as_run(ds, func) for ds in (clean, perturbed))
    positions = C.check_layers(clean, layer, func)
    C.check_layers(perturbed, layer, func)
    variables = C.cell_variables(clean, var, positions, func)
    for v in set(variables):
        C.check_var(perturbed, v, func)
    if clean.sizes["unit"] != perturbed.sizes["unit"]:
        raise ValueError(f"{func}: the clean run has {clean.sizes['unit']} units and the perturbed run "
                         f"{perturbed.sizes['unit']}; compare runs of the same model.")
    e_clean = C.event_position(clean, event, func)
    e_pert = C.event_position(perturbed, event, func)
    clean_values, _ = C.event_values(clean, variables, positions, e_clean)
    pert_values, _ = C.event_values(perturbed, variables, positions, e_pert)
    n = pert_values.shape[0]
    if "clean_frame" in perturbed.coords:
        mapping = np.asarray(perturbed["clean_frame"].values, dtype=np.int64)[:n]
    else:
        mapping = np.arange(n)
    mapping = np.where(mapping >= clean_values.shape[0], -1, mapping)
    reference = np.zeros_like(pert_values, dtype=np.float64)
    last = -1
    for t in range(n):
        if mapping[t] >= 0:
            reference[t] = clean_values[mapping[t]]
            last = mapping[t]
        elif last >= 0:
            reference[t] = clean_values[last]
    diff = pert_values.astype(np.float64) - reference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        clean_std = clean_values.astype(np.float64).reshape(-1, len(positions)).std(0) if clean_values.size else \
            np.full(len(positions), np.nan)
    info = _noise_info(perturbed)
    if noise is not None:
        start, stop = (int(v) for v in noise)
    else:
        start, stop = int(info.get("noise_start_frame", -1)), int(info.get("noise_stop_frame", -1))
    out = xr.DataArray(
        diff,
        dims=("time", "unit", "layer"),
        coords={"time": np.asarray(perturbed["time"].values)[:n], "unit": C.unit_ids(perturbed),
                "layer": C.layer_ids(perturbed, positions), "clean_frame": ("time", mapping),
                "variable": ("layer", np.array(variables)), "clean_std": ("layer", clean_std)},
        name="difference",
    )
    out.attrs.update(noise_start_frame=start, noise_stop_frame=stop,
                     definition="perturbed minus clean value at the corresponding clean frame")
    if "frame_rate" in perturbed.attrs:
        out.attrs["frame_rate"] = float(perturbed.attrs["frame_rate"])
    return out


def recovery_time(diff: xr.DataArray, *, threshold: float = RECOVERY_THRESHOLD, scale=None) -> xr.DataArray:
    """Frames after the end of the noise until the difference stays below a threshold, per layer.

    Definition: ``r[t, l] = mean_u |diff[t, u, l]| / scale[l]`` with ``scale`` the clean run's standard deviation
    (``diff.clean_std``, from :func:`perturbation`) unless given. With ``stop`` the first frame after the noise
    (``diff.attrs["noise_stop_frame"]``), the recovery time is ``T - stop`` where ``T >= stop`` is the first frame
    from which ``r < threshold`` holds until the end of the record (0: recovered as soon as the noise ends). A
    layer still above the threshold at the last frame gets NaN (not recovered within the record).

    Parameters
    ----------
    diff : xarray.DataArray
        From :func:`perturbation`.
    threshold : float
        Relative threshold (default 0.1 = 10 % of the clean run's standard deviation).
    scale : float or array (layer,), optional
        Replaces ``clean_std``.

    Returns
    -------
    xarray.DataArray
        ``recovery_frames`` (layer), float (NaN: not recovered); coordinate ``recovery_s`` (seconds, from the
        time step) and ``recovered`` (bool).

    Examples
    --------
    >>> diff = xr.DataArray(np.array([0, 0, 5, 5, 2, 0.5, 0.01, 0.0])[:, None, None], dims=("time", "unit", "layer"),
    ...                     coords={"time": np.arange(8) * 0.5, "layer": [0], "clean_std": ("layer", [1.0])},
    ...                     attrs={"noise_start_frame": 2, "noise_stop_frame": 4})
    >>> int(recovery_time(diff, threshold=0.1).values[0]), int(recovery_time(diff).values[0])  # 0.1 is the default
    (2, 2)
    """
    func = "recovery_time"
    if not isinstance(diff, xr.DataArray) or set(diff.dims) != {"time", "unit", "layer"}:
        raise ValueError(f"The 'diff' parameter of {func} must be the DataArray (time, unit, layer) of perturbation. "
                         f"Got {type(diff).__name__} {getattr(diff, 'dims', '')} instead.")
    if not isinstance(threshold, (int, float, np.integer, np.floating)) or threshold <= 0:
        raise ValueError(f"The 'threshold' parameter of {func} must be a positive number. Got {threshold!r} instead.")
    stop = int(diff.attrs.get("noise_stop_frame", -1))
    if stop < 0:
        raise ValueError(f"{func}: the difference has no 'noise_stop_frame' attribute; pass noise=(start, stop) to "
                         "perturbation or set diff.attrs['noise_stop_frame'].")
    d = diff.transpose("time", "unit", "layer")
    n_layers = d.sizes["layer"]
    if scale is None:
        if "clean_std" not in d.coords:
            raise ValueError(f"{func}: the difference has no 'clean_std' coordinate; pass scale=.")
        scale = np.asarray(d["clean_std"].values, dtype=np.float64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n_layers,))
    rel = np.abs(np.asarray(d.values, dtype=np.float64)).mean(1) / np.where(scale > 0, scale, np.nan)  # (time, layer)
    frames = np.full(n_layers, np.nan)
    n = rel.shape[0]
    for l in range(n_layers):
        after = rel[stop:, l]
        if after.size == 0:
            continue
        above = np.flatnonzero(~(after < threshold))
        if above.size == 0:
            frames[l] = 0.0
        elif above[-1] < after.size - 1:
            frames[l] = float(above[-1] + 1)
    times = np.asarray(d["time"].values, dtype=np.float64)
    step = float(times[1] - times[0]) if times.size > 1 else np.nan
    out = xr.DataArray(
        frames, dims=("layer",),
        coords={"layer": d["layer"].values, "recovery_s": ("layer", frames * step),
                "recovered": ("layer", np.isfinite(frames))},
        name="recovery_frames",
    )
    out.attrs.update(threshold=float(threshold), noise_stop_frame=stop,
                     definition="frames after the noise until mean_u |diff| / clean std stays below the threshold")
    if n and np.isnan(frames).any():
        warnings.warn(f"{func}: layer(s) {list(np.asarray(d['layer'].values)[np.isnan(frames)])} did not recover "
                      f"within the record (threshold {threshold}); their recovery time is NaN.", NumericalWarning,
                      stacklevel=2)
    return out

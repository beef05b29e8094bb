"""What each unit listens to, from its input attributions (:func:`rnnscope.experiments.attribution`): which bands
(:func:`band_profile`) and how far back (:func:`lag_profile`, with the memory length), each against a permutation
null; :func:`attribution_over_time` puts attributions on their records' time axis (an image under the spectrogram).

Definitions (``a`` the attribution of one target, ``|.|`` its magnitude; targets are grouped by unit and layer, or
by class for class targets):

- the **band profile** of a target is the share of its attribution mass in each band,
  ``s(b) = sum_{lag, features of band b} |a| / sum |a|`` (a band's static, delta and delta-delta features
  together); a unit's profile is the mean over its targets; ``band_peak_hz`` the centre of its largest band.
  Chance level: ``1 / bands``. Null: each target's band shares permuted (the same permutation at every lag), the
  unit's mean profile recomputed ``null`` times: a band above ``band_profile_null_q95`` is preferred beyond what a
  unit attending to bands at random would show;
- the **lag profile** is the share per lag, ``s(l) = sum_{features} |a(l)| / sum |a|``, averaged over targets; the
  **memory length** is the smallest lag ``L`` whose lags ``|l| <= L`` hold ``fraction`` (90 %) of the mean
  profile's mass (``memory_lag`` in frames, ``memory_s`` in s). Null: each target's shares permuted over its valid
  lags; ``memory_s_p`` is one-sided towards *shorter* memory, ``(1 + #{null <= memory}) / (1 + null)``.

Lags before a record's start (NaN) hold no mass. This module imports no torch.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..errors import AttributionError
from ._null import check_null, summarise

__all__ = ["band_profile", "lag_profile", "attribution_over_time", "MEMORY_FRACTION"]

#: Share of the attribution mass the memory length holds.
MEMORY_FRACTION = 0.9
#: Null draws processed at once (bounds memory).
_CHUNK = 64


def _check(attr, func) -> xr.Dataset:
    if isinstance(attr, xr.DataArray):
        attr = attr.to_dataset(name="attribution")
    if not isinstance(attr, xr.Dataset) or "attribution" not in attr.data_vars or \
            attr["attribution"].dims != ("target", "lag", "feature"):
        raise AttributionError(f"The 'attr' parameter of {func} must hold 'attribution' with dims (target, lag, "
                               f"feature), from rnnscope.experiments.attribution (or a run it was merged into). Got "
                               f"{type(attr).__name__} with {sorted(getattr(attr, 'data_vars', []))} instead.")
    return attr


def _check_null(null, seed, func):
    check_null(null, "record", seed, func)


def _groups(attr: xr.Dataset):
    """(group of every target, output dims, output coords, output shape) for unit or class targets."""
    kinds = set(np.asarray(attr["target_kind"].values).astype(str).tolist()) if "target_kind" in attr.coords \
        else {"unit"}
    if kinds == {"class"}:
        names = np.asarray(attr["target_class"].values).astype(str)
        classes = list(dict.fromkeys(names))
        return np.array([classes.index(n) for n in names]), ("class_name",), {"class_name": classes}, (len(classes),)
    if kinds != {"unit"}:
        raise AttributionError(f"The targets mix units and classes ({sorted(kinds)}): analyse one kind, e.g. "
                               "attr.isel(target=attr.target_kind == 'unit').")
    units = np.asarray(attr["target_unit"].values, dtype=np.int64)
    layers = np.asarray(attr["target_layer"].values, dtype=np.int64) if "target_layer" in attr.coords else \
        np.zeros_like(units)
    unit_ids, layer_ids = np.unique(units), np.unique(layers)
    index = np.searchsorted(unit_ids, units) * layer_ids.size + np.searchsorted(layer_ids, layers)
    return index, ("unit", "layer"), {"unit": unit_ids, "layer": layer_ids}, (unit_ids.size, layer_ids.size)


def _group_mean(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean over targets of each group: ``values`` (..., target, k) -> (..., group, k); NaN rows left out."""
    ok = np.isfinite(values).all(-1)
    onehot = (groups[None, :] == np.arange(n_groups)[:, None]) & ok[..., None, :]  # (..., group, target)
    sums = np.einsum("...gt,...tk->...gk", onehot.astype(np.float64), np.nan_to_num(values))
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / onehot.sum(-1)[..., None]


def _null_vars(name, dims, reference, nulls, lower=False, what="") -> dict:
    """``<name>_null_mean``, ``_null_q95`` and ``_p`` (:func:`._null.summarise`; with ``lower`` the p-value counts
    the null values at or below the score: one-sided towards smaller scores)."""
    mean, q95, p = summarise(reference, nulls)
    if lower:
        _, _, p = summarise(-np.asarray(reference, dtype=np.float64), -np.asarray(nulls, dtype=np.float64))
    side = "<=" if lower else ">="
    return {f"{name}_null_mean": (dims, mean, {"definition": f"mean of {name} over the permutations of {what}"}),
            f"{name}_null_q95": (dims, q95, {"definition": f"95 % quantile of {name} over the permutations of {what}"}),
            f"{name}_p": (dims, p, {"definition": f"one-sided permutation p-value: (1 + #{{null {side} {name}}}) / "
                                                  "(1 + permutations)"})}


def _null_attrs(null, seed, what):
    return {"null": int(null), "null_seed": int(seed), "null_definition": f"{int(null)} permutations of {what}"}


def _shape(flat, shape):
    return flat.reshape(*flat.shape[:-2], *shape, flat.shape[-1]) if flat.ndim >= 2 else flat


# --------------------------------------------------------------------------------------------- bands


def _bands(attr):
    """(band of every feature, band_hz of every band)."""
    hz = np.asarray(attr["band_hz"].values, dtype=np.float64) if "band_hz" in attr.coords else \
        np.full(attr.sizes["feature"], np.nan)
    keys = [
        f"{h:.9g}" if np.isfinite(h) else f"feature:{n}"
        for h, n in zip(hz, np.asarray(attr["feature"].values), strict=True)
    ]
    order = list(dict.fromkeys(keys))
    band = np.array([order.index(k) for k in keys])
    centre = np.array([hz[band == b][0] for b in range(len(order))])
    return band, centre


def band_profile(attr, *, null: int | None = None, seed: int = 0) -> xr.Dataset:
    """Share of each unit's (or class's) attribution mass per band, its peak band and its permutation null.

    Parameters
    ----------
    attr : xarray.Dataset
        From :func:`rnnscope.experiments.attribution` (or a run it was merged into); select targets first to
        profile some segments only (``attr.isel(target=attr.target_segment_class == "LP")``).
    null : int, optional
        Permutations of each target's band shares (see the module documentation).
    seed : int

    Returns
    -------
    xarray.Dataset
        ``band_profile`` (unit, layer, band) (or (class_name, band)), summing to 1 over ``band``; ``band_peak_hz``
        (unit, layer); ``n_targets``; coordinate ``band_hz``; with ``null``: ``band_profile_null_mean`` (the chance
        level, 1 / bands), ``band_profile_null_q95``, ``band_profile_p``. ``attrs["chance"]``.

    Examples
    --------
    A unit that listens to the second band only, and one that listens to every band alike:

    >>> a = np.zeros((12, 2, 3)); a[:6, :, 1] = 1.0; a[6:] = 1.0
    >>> attr = xr.Dataset({"attribution": (("target", "lag", "feature"), a)},
    ...                   coords={"band_hz": ("feature", [1.0, 2.0, 4.0]), "target_unit": ("target", [0] * 6 + [1] * 6),
    ...                           "target_layer": ("target", [0] * 12)})
    >>> prof = band_profile(attr, null=200)
    >>> prof.band_profile.sel(layer=0).values.round(2).tolist(), prof.band_peak_hz.sel(layer=0).values.tolist()
    ([[0.0, 1.0, 0.0], [0.33, 0.33, 0.33]], [2.0, 1.0])
    >>> prof.band_profile_p.sel(unit=0, layer=0).values.round(3).tolist()  # the 2 Hz band beyond chance
    [1.0, 0.005, 1.0]
    >>> band_profile(attr).n_targets.sel(layer=0).values.tolist()  # without a null: the profile only
    [6, 6]
    """
    func = "band_profile"
    attr = _check(attr, func)
    _check_null(null, seed, func)
    band, centre = _bands(attr)
    mass = np.asarray(np.abs(attr["attribution"]).sum("lag", skipna=True).values, dtype=np.float64)  # (target, f)
    per_band = np.stack([mass[:, band == b].sum(1) for b in range(centre.size)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = per_band / per_band.sum(1, keepdims=True)  # NaN for targets without mass
    groups, dims, coords, shape = _groups(attr)
    n_groups = int(np.prod(shape))
    profile = _group_mean(shares, groups, n_groups)  # (group, band)
    counts = np.bincount(groups[np.isfinite(shares).all(1)], minlength=n_groups)
    peak = np.where(counts > 0, centre[np.nanargmax(np.nan_to_num(profile, nan=-1.0), axis=1)], np.nan)
    out_dims = dims + ("band",)
    data = {"band_profile": (out_dims, _shape(profile, shape)),
            "band_peak_hz": (dims, peak.reshape(shape)),
            "n_targets": (dims, counts.reshape(shape))}
    attrs = {"chance": 1.0 / centre.size, "definition": "share of the attribution mass per band, mean over targets"}
    if null:
        rng = np.random.default_rng(seed)
        draws = []
        for start in range(0, null, _CHUNK):
            n = min(_CHUNK, null - start)
            permuted = rng.permuted(np.broadcast_to(shares, (n, *shares.shape)), axis=2)
            draws.append(_group_mean(permuted, groups, n_groups))
        nulls = np.concatenate(draws)  # (null, group, band)
        data.update(_null_vars("band_profile", out_dims, _shape(profile, shape),
                               nulls.reshape(null, *shape, centre.size), what="each target's band shares"))
        attrs.update(_null_attrs(null, seed, "each target's band shares"))
    out = xr.Dataset(data, coords={**coords, "band_hz": ("band", centre)}, attrs=attrs)
    out["band_peak_hz"].attrs["units"] = "Hz"
    return out


# --------------------------------------------------------------------------------------------- lags


def _memory(profile: np.ndarray, lags: np.ndarray, fraction: float) -> np.ndarray:
    """Smallest ``L`` with the lags ``|l| <= L`` holding ``fraction`` of ``profile`` (..., lag); NaN without mass."""
    distance = np.abs(lags)
    order = np.unique(distance)
    held = np.stack([np.nansum(np.where(distance <= d, profile, 0.0), -1) for d in order], -1)
    total = np.nansum(profile, -1)
    with np.errstate(invalid="ignore"):
        reached = held >= fraction * total[..., None] - 1e-12
    first = np.argmax(reached, -1)
    return np.where(total > 0, order[first], np.nan)


def _permute_valid(shares: np.ndarray, n: int, rng) -> np.ndarray:
    """``n`` copies of ``shares`` (target, lag), each target's finite values permuted among themselves."""
    out = np.broadcast_to(shares, (n, *shares.shape)).copy()
    valid = np.isfinite(shares)
    patterns, which = np.unique(valid, axis=0, return_inverse=True)
    for k, pattern in enumerate(patterns):  # targets with the same valid lags permute together
        rows, cols = np.flatnonzero(np.ravel(which) == k), np.flatnonzero(pattern)
        if cols.size > 1:
            block = out[:, rows][:, :, cols]
            out[np.ix_(np.arange(n), rows, cols)] = rng.permuted(block, axis=2)
    return out


def lag_profile(
    attr, *, memory_fraction: float = MEMORY_FRACTION, null: int | None = None, seed: int = 0
) -> xr.Dataset:
    """Share of each unit's attribution mass per lag, its memory length and their permutation null.

    Parameters
    ----------
    attr : xarray.Dataset
        From :func:`rnnscope.experiments.attribution`.
    memory_fraction : float
        Share of the mass the memory length holds (0.9).
    null : int, optional
        Permutations of each target's lag shares over its valid lags.
    seed : int

    Returns
    -------
    xarray.Dataset
        ``lag_profile`` (unit, layer, lag) (or (class_name, lag)); ``memory_lag`` (frames) and ``memory_s`` (s,
        from ``lag_s``) (unit, layer); ``n_targets``; with ``null``: ``lag_profile_null_mean``/``_null_q95``/``_p``
        and ``memory_s_null_mean``/``_null_q95``/``_p`` (one-sided towards shorter memory).

    Examples
    --------
    A unit remembering two frames and one spreading its mass over eight:

    >>> a = np.zeros((20, 8, 1)); a[:10, 2] = 1.0; a[10:] = 1.0
    >>> attr = xr.Dataset({"attribution": (("target", "lag", "feature"), a)},
    ...                   coords={"lag": np.arange(8), "lag_s": ("lag", np.arange(8) * 0.5),
    ...                           "target_unit": ("target", [0] * 10 + [1] * 10), "target_layer": ("target", [0] * 20)})
    >>> prof = lag_profile(attr, null=100)
    >>> prof.memory_lag.sel(layer=0).values.tolist(), prof.memory_s.sel(layer=0).values.tolist()
    ([2.0, 7.0], [1.0, 3.5])
    >>> float(prof.memory_s_p.sel(unit=0, layer=0)) < 0.05, float(prof.memory_s_p.sel(unit=1, layer=0)) > 0.5
    (True, True)
    >>> lag_profile(attr).lag_profile.sel(unit=0, layer=0).values.tolist()[:3]  # without a null: the profile only
    [0.0, 0.0, 1.0]
    """
    func = "lag_profile"
    attr = _check(attr, func)
    _check_null(null, seed, func)
    if not 0 < float(memory_fraction) <= 1:
        raise ValueError(
            f"The 'memory_fraction' parameter of {func} must lie in (0, 1]. Got {memory_fraction!r} instead."
        )
    lags = np.asarray(attr["lag"].values, dtype=np.float64) if "lag" in attr.coords else np.arange(attr.sizes["lag"])
    period = _period(attr, lags)
    values = attr["attribution"]
    mass = np.asarray(np.abs(values).sum("feature", skipna=True).where(values.notnull().any("feature")).values,
                      dtype=np.float64)  # (target, lag), NaN where the lag reaches before the record
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = mass / np.nansum(mass, 1, keepdims=True)
    shares[~np.isfinite(np.nansum(mass, 1)) | (np.nansum(mass, 1) <= 0)] = np.nan
    groups, dims, coords, shape = _groups(attr)
    n_groups = int(np.prod(shape))
    filled = np.where(np.isfinite(shares), shares, 0.0)
    filled[~np.isfinite(shares).any(1)] = np.nan  # targets without mass stay out of the means
    profile = _group_mean(filled, groups, n_groups)  # (group, lag)
    memory = _memory(profile, lags, float(memory_fraction))
    counts = np.bincount(groups[np.isfinite(filled).all(1)], minlength=n_groups)
    out_dims = dims + ("lag",)
    data = {"lag_profile": (out_dims, _shape(profile, shape)),
            "memory_lag": (dims, memory.reshape(shape)),
            "memory_s": (dims, (memory * period).reshape(shape)),
            "n_targets": (dims, counts.reshape(shape))}
    attrs = {
        "memory_fraction": float(memory_fraction),
        "definition": f"memory: smallest lag holding {memory_fraction:.0%} of the mean lag profile's mass",
    }
    if null:
        rng = np.random.default_rng(seed)
        profiles = []
        for start in range(0, null, _CHUNK):
            permuted = _permute_valid(shares, min(_CHUNK, null - start), rng)
            permuted = np.where(np.isfinite(permuted), permuted, 0.0)
            permuted[:, ~np.isfinite(shares).any(1)] = np.nan
            profiles.append(_group_mean(permuted, groups, n_groups))
        nulls = np.concatenate(profiles)  # (null, group, lag)
        data.update(_null_vars("lag_profile", out_dims, _shape(profile, shape),
                               nulls.reshape(null, *shape, lags.size), what="each target's lag shares"))
        data.update(
            _null_vars(
                "memory_s",
                dims,
                (memory * period).reshape(shape),
                (_memory(nulls, lags, float(memory_fraction)) * period).reshape(null, *shape),
                lower=True,
                what="each target's lag shares",
            )
        )
        attrs.update(_null_attrs(null, seed, "each target's lag shares over its valid lags"))
    out = xr.Dataset(data, coords={**coords, "lag": lags.astype(np.int64), "lag_s": ("lag", lags * period)},
                     attrs=attrs)
    out["memory_s"].attrs["units"] = "s"
    return out


def _period(attr, lags) -> float:
    if "lag_s" in attr.coords and lags.size > 1:
        step = np.diff(np.asarray(attr["lag_s"].values, dtype=np.float64)) / np.diff(lags)
        if np.all(np.isfinite(step)):
            return float(step[0])
    return float(1.0 / attr.attrs["frame_rate"]) if "frame_rate" in attr.attrs else np.nan


# --------------------------------------------------------------------------------------------- time axis


def attribution_over_time(attr, *, target=0) -> xr.DataArray:
    """One target's attribution on its record's time axis: ``(time, feature)``, ``time`` in s from the record start
    (the target's time minus each lag's), sorted, so it lines up with the run's spectrogram and states.

    Parameters
    ----------
    attr : xarray.Dataset
        From :func:`rnnscope.experiments.attribution`.
    target : int
        The target's position along ``target``.

    Returns
    -------
    xarray.DataArray
        ``(time, feature)``; lags before the record start left out.

    Examples
    --------
    >>> a = np.arange(6.0).reshape(1, 3, 2)
    >>> attr = xr.Dataset({"attribution": (("target", "lag", "feature"), a)},
    ...                   coords={"lag": [0, 1, 2], "lag_s": ("lag", [0.0, 0.5, 1.0]),
    ...                           "target_time": ("target", [9.0])})
    >>> image = attribution_over_time(attr)
    >>> image.time.values.tolist(), image.values[:, 0].tolist()
    ([8.0, 8.5, 9.0], [4.0, 2.0, 0.0])
    """
    attr = _check(attr, "attribution_over_time")
    one = attr["attribution"].isel(target=int(target))
    if "target_time" not in attr.coords or "lag_s" not in attr.coords:
        raise AttributionError("attribution_over_time needs the coordinates 'target_time' and 'lag_s' (as "
                               "rnnscope.experiments.attribution writes them).")
    times = float(attr["target_time"].values[int(target)]) - np.asarray(attr["lag_s"].values, dtype=np.float64)
    image = one.assign_coords(time=("lag", times)).swap_dims(lag="time").sortby("time")
    image = image.drop_vars([c for c in image.coords if c in ("lag", "lag_s") or c.startswith("target_")])
    return image.dropna("time", how="all")

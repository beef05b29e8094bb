"""Class selectivity of units ("specialization", Titos & Garcia 2022, Section IV)."""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from . import _common as C
from ._activity import _as_heat

__all__ = ["specialisation"]


def specialisation(run_or_heat, *, var: str = "h", layer=None, weighting: str = "segment") -> xr.Dataset:
    """Class selectivity of every unit and one specialisation number per layer.

    Definition: with ``H[c, u]`` the heat of unit ``u`` for class ``c`` (:func:`heat_map`), ``top = max_c H`` and
    ``rest`` the mean heat over the other classes,

    ``selectivity[u] = (top - rest) / (top + rest)``

    (0: the unit is as active for every class; 1: active for one class only). Classes without frames (NaN heat)
    are left out; a unit with zero heat everywhere gets NaN. The per-layer ``specialisation`` is the mean of
    ``selectivity`` over units (NaN units skipped), so LSTM vs vanilla and 30/110/210 units compare by one number.

    Parameters
    ----------
    run_or_heat : xarray.Dataset or xarray.DataArray
        A run (the heat map is computed with ``var``, ``layer``, ``weighting``) or a heat map.

    Returns
    -------
    xarray.Dataset
        ``selectivity`` (unit, layer), ``preferred_class`` (unit, layer; the class of largest heat) and
        ``specialisation`` (layer).

    Examples
    --------
    >>> heat = xr.DataArray([[1.0, 0.5], [0.0, 0.5]], dims=("class_name", "unit"),
    ...                     coords={"class_name": ["A", "B"], "unit": [0, 1]})
    >>> spec = specialisation(heat)
    >>> spec["selectivity"].sel(layer=0).values.tolist(), float(spec["specialisation"][0])
    ([1.0, 0.0], 0.5)
    """
    func = "specialisation"
    heat = _as_heat(run_or_heat, func, var, layer, weighting)
    values = np.asarray(heat.values, dtype=np.float64)  # (class, unit, layer)
    names = np.asarray(heat["class_name"].values)
    present = ~np.all(np.isnan(values), axis=(1, 2))
    if present.sum() < 2:
        warnings.warn(f"{func}: fewer than two classes have frames; selectivity is NaN.", C.EmptyClassWarning,
                      stacklevel=2)
    v = values[present]
    n_units, n_layers = values.shape[1:]
    selectivity = np.full((n_units, n_layers), np.nan)
    preferred = np.full((n_units, n_layers), "", dtype=object)
    if present.sum() >= 2:
        filled = np.where(np.isnan(v), -np.inf, v)
        best = np.argmax(filled, axis=0)  # (unit, layer)
        top = np.take_along_axis(v, best[None], axis=0)[0]
        valid = ~np.isnan(v)
        count_rest = valid.sum(0) - 1
        rest = (np.nansum(v, axis=0) - top) / np.where(count_rest > 0, count_rest, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            selectivity = (top - rest) / (top + rest)
        preferred = names[present][best].astype(object)
        preferred[np.isnan(top)] = ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_layer = np.nanmean(selectivity, axis=0) if n_units else np.full(n_layers, np.nan)
    coords = {"unit": heat["unit"].values, "layer": heat["layer"].values}
    out = xr.Dataset(
        {
            "selectivity": (("unit", "layer"), selectivity),
            "preferred_class": (("unit", "layer"), preferred.astype(str)),
            "specialisation": (("layer",), per_layer),
        },
        coords=coords,
    )
    out["selectivity"].attrs["definition"] = "(max-class heat - mean of the other classes) / (max + mean of others)"
    out["specialisation"].attrs["definition"] = "mean of selectivity over units"
    out.attrs.update({k: v for k, v in heat.attrs.items() if k in ("variable", "weighting")})
    return out

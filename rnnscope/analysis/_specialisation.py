"""Class selectivity of units ("specialization", Titos & Garcia 2022, Section IV)."""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from . import _common as C
from ._activity import _as_heat

__all__ = ["specialisation"]


def specialisation(run_or_heat, *, var: str = "h", layer=None, weighting: str = "segment") -> xr.Dataset:
    """Class selectivity of every unit and one specialisation number per layer, relative and baseline-free.

    Definitions: with ``H[c, u]`` the heat of unit ``u`` for class ``c`` (:func:`heat_map`), ``top = max_c H`` and
    ``rest`` the mean heat over the other classes,

    - ``selectivity[u] = (top - rest) / (top + rest)``, the relative index (0: the unit is as active for every
      class; 1: active for one class only);
    - ``selectivity_gap[u] = top - rest``, the baseline-free index, in the units of the heat (mean ``|v|``);
    - ``class_gap[c, u] = H[c, u] - mean of H[c', u] over the other classes c'`` with frames, the same contrast
      for every class (``selectivity_gap`` is ``class_gap`` of the preferred class). The Explorer orders its
      heatmap rows by ``class_gap`` of the chosen class.

    The relative index depends on the unit's resting level: adding the same offset ``b`` to every class's heat
    leaves the gap unchanged but divides the index by ``1 + 2b / (top + rest)`` (a unit with ``top = 0.35`` and
    ``rest = 0.35 / 3`` scores 0.5; on a resting level ``b = 0.7`` it scores 0.125). Units whose ``|h|`` is high for every class (polarised units, as in
    vanilla RNNs) therefore score low on ``selectivity`` whatever their class contrast: use it to ask "is this
    unit active *only* for one class?", and ``selectivity_gap`` to ask "how much more active is it for one class
    than for the others, whatever its resting level?". The gap scales with the variable's range (``|h| <= 1`` for
    ``h``): compare it between models of the same variable.

    Classes without frames (NaN heat) are left out; a unit with zero heat everywhere gets NaN selectivity (gap 0).
    The per-layer ``specialisation`` and ``specialisation_gap`` are the means over units (NaN units skipped), so
    LSTM vs vanilla and 30/110/210 units compare by one number.

    Parameters
    ----------
    run_or_heat : xarray.Dataset or xarray.DataArray
        A run (the heat map is computed with ``var``, ``layer``, ``weighting``) or a heat map.

    Returns
    -------
    xarray.Dataset
        ``selectivity``, ``selectivity_gap``, ``preferred_class`` (unit, layer; the class of largest heat),
        ``class_gap`` (class_name, unit, layer; NaN for a class without frames or without another class with
        frames), ``specialisation`` and ``specialisation_gap`` (layer).

    Examples
    --------
    >>> heat = xr.DataArray([[1.0, 0.5], [0.0, 0.5]], dims=("class_name", "unit"),
    ...                     coords={"class_name": ["A", "B"], "unit": [0, 1]})
    >>> spec = specialisation(heat)
    >>> spec["selectivity"].sel(layer=0).values.tolist(), float(spec["specialisation"][0])
    ([1.0, 0.0], 0.5)
    >>> shifted = specialisation(heat + 0.7)  # the same contrast on a resting level of 0.7
    >>> shifted["selectivity"].sel(layer=0).values.round(3).tolist(), shifted["selectivity_gap"].sel(layer=0).values.tolist()
    ([0.417, 0.0], [1.0, 0.0])
    >>> spec["class_gap"].sel(layer=0, class_name="B").values.tolist()
    [-1.0, 0.0]
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
    gap = np.full((n_units, n_layers), np.nan)
    preferred = np.full((n_units, n_layers), "", dtype=object)
    class_gap = np.full(values.shape, np.nan)
    if present.sum() >= 2:
        filled = np.where(np.isnan(v), -np.inf, v)
        best = np.argmax(filled, axis=0)  # (unit, layer)
        top = np.take_along_axis(v, best[None], axis=0)[0]
        valid = ~np.isnan(v)
        count_rest = valid.sum(0) - 1
        rest = (np.nansum(v, axis=0) - top) / np.where(count_rest > 0, count_rest, np.nan)
        gap = top - rest
        with np.errstate(invalid="ignore", divide="ignore"):
            selectivity = gap / (top + rest)
        preferred = names[present][best].astype(object)
        preferred[np.isnan(top)] = ""
        n_valid = valid.sum(0)  # (unit, layer): classes with frames
        total = np.nansum(v, axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            others = (total[None] - v) / np.where(n_valid > 1, n_valid - 1, np.nan)[None]
        class_gap[present] = v - others
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_layer = np.nanmean(selectivity, axis=0) if n_units else np.full(n_layers, np.nan)
        per_layer_gap = np.nanmean(gap, axis=0) if n_units else np.full(n_layers, np.nan)
    coords = {"class_name": names, "unit": heat["unit"].values, "layer": heat["layer"].values}
    out = xr.Dataset(
        {
            "selectivity": (("unit", "layer"), selectivity),
            "preferred_class": (("unit", "layer"), preferred.astype(str)),
            "selectivity_gap": (("unit", "layer"), gap),
            "class_gap": (("class_name", "unit", "layer"), class_gap),
            "specialisation": (("layer",), per_layer),
            "specialisation_gap": (("layer",), per_layer_gap),
        },
        coords=coords,
    )
    out["selectivity"].attrs["definition"] = "(max-class heat - mean of the other classes) / (max + mean of others)"
    out["selectivity_gap"].attrs["definition"] = "max-class heat - mean of the other classes (baseline-free)"
    out["class_gap"].attrs["definition"] = "class heat - mean heat of the other classes with frames"
    out["specialisation"].attrs["definition"] = "mean of selectivity over units"
    out["specialisation_gap"].attrs["definition"] = "mean of selectivity_gap over units"
    out.attrs.update({k: v for k, v in heat.attrs.items() if k in ("variable", "weighting")})
    return out

"""Class selectivity of units ("specialization", Titos & Garcia 2022, Section IV)."""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from . import _common as C
from ._activity import _as_heat
from ._null import check_null, heat_null, null_attrs, null_variables

__all__ = ["specialisation"]


def specialisation(run_or_heat, *, var: str = "h", layer=None, weighting: str = "segment", null: int | None = None,
                   seed: int = 0, null_within: str = "record") -> xr.Dataset:
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
    ``rest = 0.35 / 3`` scores 0.5; on a resting level ``b = 0.7`` it scores 0.125). Units whose ``|h|`` is high for
    every class (polarised units, as in
    vanilla RNNs) therefore score low on ``selectivity`` whatever their class contrast: use it to ask "is this
    unit active *only* for one class?", and ``selectivity_gap`` to ask "how much more active is it for one class
    than for the others, whatever its resting level?". The gap scales with the variable's range (``|h| <= 1`` for
    ``h``): compare it between models of the same variable.

    Classes without frames (NaN heat) are left out; a unit with zero heat everywhere gets NaN selectivity (gap 0).
    The per-layer ``specialisation`` and ``specialisation_gap`` are the means over units (NaN units skipped), so
    LSTM vs vanilla and 30/110/210 units compare by one number.

    Chance level (``null=N``): with a few segments of a class, some unit is always more active for it by chance,
    and ``top`` (the largest class heat) picks that noise up: the numbers are positive even for a network whose
    states ignore the classes. ``N`` permutations of the segments' classes within records
    (:mod:`rnnscope.analysis._null`) recompute every number, preferred class included, on heat maps whose labels
    carry no information; each number ``x`` gets ``x_null_mean`` (the chance level), ``x_null_q95`` and ``x_p``
    (one-sided: is it larger than chance?).

    Parameters
    ----------
    run_or_heat : xarray.Dataset or xarray.DataArray
        A run (the heat map is computed with ``var``, ``layer``, ``weighting``) or a heat map (no null: pass the
        run).
    var, layer, weighting
        As in :func:`heat_map`.
    null : int, optional
        Number of permutations (None: no chance level).
    seed : int
        Seed of the permutations.
    null_within : {"record", "run"}
        Permute the classes among the segments of each record (default) or among all segments.

    Returns
    -------
    xarray.Dataset
        ``selectivity``, ``selectivity_gap``, ``preferred_class`` (unit, layer; the class of largest heat),
        ``class_gap`` (class_name, unit, layer; NaN for a class without frames or without another class with
        frames), ``specialisation`` and ``specialisation_gap`` (layer); with ``null``, ``<x>_null_mean``,
        ``<x>_null_q95`` and ``<x>_p`` next to each of these numbers, and ``attrs["null"]``.

    Examples
    --------
    >>> heat = xr.DataArray([[1.0, 0.5], [0.0, 0.5]], dims=("class_name", "unit"),
    ...                     coords={"class_name": ["A", "B"], "unit": [0, 1]})
    >>> spec = specialisation(heat)
    >>> spec["selectivity"].sel(layer=0).values.tolist(), float(spec["specialisation"][0])
    ([1.0, 0.0], 0.5)
    >>> shifted = specialisation(heat + 0.7)  # the same contrast on a resting level of 0.7
    >>> (shifted["selectivity"].sel(layer=0).values.round(3).tolist(),
    ...  shifted["selectivity_gap"].sel(layer=0).values.tolist())
    ([0.417, 0.0], [1.0, 0.0])
    >>> spec["class_gap"].sel(layer=0, class_name="B").values.tolist()
    [-1.0, 0.0]

    On a run, against its chance level:

    >>> from rnnscope import examples
    >>> spec = specialisation(examples.toy_run(), null=99)
    >>> [name for name in spec.data_vars if name.startswith("specialisation_gap")]
    ['specialisation_gap', 'specialisation_gap_null_mean', 'specialisation_gap_null_q95', 'specialisation_gap_p']
    """
    func = "specialisation"
    null = check_null(null, null_within, seed, func)
    heat = _as_heat(run_or_heat, func, var, layer, weighting)
    values = np.asarray(heat.values, dtype=np.float64)  # (class, unit, layer)
    names = np.asarray(heat["class_name"].values)
    present = ~np.all(np.isnan(values), axis=(1, 2))
    if present.sum() < 2:
        warnings.warn(f"{func}: fewer than two classes have frames; selectivity is NaN.", C.EmptyClassWarning,
                      stacklevel=2)
    scores = _selectivity(values)
    best = scores.pop("best")
    preferred = np.where(np.all(np.isnan(values), axis=0) | (present.sum() < 2), "", names[best]).astype(str)
    dims = {"selectivity": ("unit", "layer"), "selectivity_gap": ("unit", "layer"),
            "class_gap": ("class_name", "unit", "layer"), "specialisation": ("layer",),
            "specialisation_gap": ("layer",)}
    coords = {"class_name": names, "unit": heat["unit"].values, "layer": heat["layer"].values}
    out = xr.Dataset({name: (dims[name], scores[name]) for name in dims}, coords=coords)
    out["preferred_class"] = (("unit", "layer"), preferred)
    out = out[["selectivity", "preferred_class", "selectivity_gap", "class_gap", "specialisation",
               "specialisation_gap"]]
    for name, text in _DEFINITIONS.items():
        out[name].attrs["definition"] = text
    out.attrs.update({k: v for k, v in heat.attrs.items() if k in ("variable", "weighting")})
    if null is not None:
        def score(heats, labels, parts):
            result = _selectivity(heats)
            result.pop("best")
            return result

        reference, nulls, _ = heat_null(run_or_heat, func, var=var, layer=layer, weighting=weighting, null=null,
                                        within=null_within, seed=seed, score=score)
        for name in dims:
            for key, (d, v, attrs) in null_variables(name, dims[name], reference[name], nulls[name]).items():
                out[key] = (d, v, attrs)
        out.attrs.update(null_attrs(null, null_within, seed))
    return out


_DEFINITIONS = {
    "selectivity": "(max-class heat - mean of the other classes) / (max + mean of others)",
    "selectivity_gap": "max-class heat - mean of the other classes (baseline-free)",
    "class_gap": "class heat - mean heat of the other classes with frames",
    "specialisation": "mean of selectivity over units",
    "specialisation_gap": "mean of selectivity_gap over units",
}


def _selectivity(values: np.ndarray) -> dict:
    """The selectivity numbers of heat maps (..., class, unit, layer); classes with NaN heat are left out.

    Returns ``selectivity``, ``selectivity_gap`` (..., unit, layer), ``class_gap`` (..., class, unit, layer),
    ``specialisation``, ``specialisation_gap`` (..., layer) and ``best`` (the preferred class's index).
    """
    valid = ~np.isnan(values)
    n_valid = valid.sum(-3)  # classes with frames, per unit and layer
    best = np.argmax(np.where(valid, values, -np.inf), axis=-3)
    top = np.take_along_axis(values, best[..., None, :, :], axis=-3)[..., 0, :, :]
    total = np.nansum(values, axis=-3)
    with np.errstate(invalid="ignore", divide="ignore"):
        others = np.where(n_valid > 1, n_valid - 1, np.nan)
        rest = (total - top) / others
        gap = top - rest
        selectivity = gap / (top + rest)
        class_gap = values - (total[..., None, :, :] - values) / others[..., None, :, :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        per_layer = np.nanmean(selectivity, axis=-2)
        per_layer_gap = np.nanmean(gap, axis=-2)
    return {"selectivity": selectivity, "selectivity_gap": gap, "class_gap": class_gap,
            "specialisation": per_layer, "specialisation_gap": per_layer_gap, "best": best}

"""What the widgets need from a run, as plain arrays: thin adapters over :mod:`rnnscope.analysis`.

Heat maps, top units, the shared unit set and the class correlation come from the analysis functions (which read
the ``summary_*`` variables that :func:`load_summaries` keeps for the records shown, so no
pass over the states); unit orders for the heatmap and the value ranges (the run's stored ranges, through the rule
of :func:`rnnscope.analysis._common.display_limits`) read the summaries directly; :func:`histograms` gives
:func:`rnnscope.analysis.activation_histogram` a bounded number of records so a long run stays interactive.

Examples
--------
>>> import xarray as xr
>>> heat = np.array([[[0.1], [0.9], [0.5]], [[0.8], [0.2], [0.5]]], dtype=np.float32)  # (class, unit, layer)
>>> run = xr.Dataset({"summary_heat": (("class_name", "unit", "layer"), heat)},
...                  coords={"class_name": ["A", "B"], "unit": [0, 1, 2], "layer": [0]})
>>> specialisation(run, 0, "A").round(2).tolist()
[-0.7, 0.7, 0.0]
>>> unit_order(run, 0, "specialisation", "A").tolist()
[1, 2, 0]
>>> top_units(run, 0, n=2)
{'A': [1, 2], 'B': [0, 2]}
"""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .. import analysis
from ..io import compute_summaries
from ..schema import SUMMARY_VARIABLES, fit_to_frames, summaries_cover

__all__ = ["heat", "activity", "specialisation", "unit_order", "top_units", "shared_units", "class_correlation",
           "histograms", "value_range", "load_summaries", "summaries_of_fitted", "UNIT_ORDERS"]

#: unit orders of the activation heatmap: by unit id, by mean |h| over all frames, by specialisation for a class
UNIT_ORDERS = ("index", "activity", "specialisation")


def heat(run: xr.Dataset, layer: int, weighting: str = "segment") -> np.ndarray:
    """(class, unit) heat of one layer (:func:`rnnscope.analysis.heat_map`, read from the summaries).

    NaN for a class with no segment.
    """
    return np.asarray(_heat_array(run, layer, weighting).isel(layer=0).values, dtype=np.float64)


def activity(run: xr.Dataset, layer: int) -> np.ndarray:
    """(unit,) mean |h| over all valid frames, from ``summary_activity`` (stands for the activity analysis)."""
    if "summary_activity" not in run:
        raise ValueError("The run has no 'summary_activity'; capture it with rnnscope.capture.")
    return np.asarray(run["summary_activity"].isel(layer=layer).values, dtype=np.float64)


def specialisation(run: xr.Dataset, layer: int, class_name: str, weighting: str = "segment") -> np.ndarray:
    """(unit,) ``class_gap`` of ``class_name`` from :func:`rnnscope.analysis.specialisation`: the class's heat minus
    the mean heat of the other classes with segments; ``-inf`` where undefined, so such units sort last."""
    if "class_name" not in run.coords:
        raise ValueError("The unit order 'specialisation' needs labels: this run has no classes (a model captured "
                         "without labels=). Use unit_order='activity' or 'index', or capture with labels=.")
    names = [str(c) for c in run["class_name"].values]
    if class_name not in names:
        raise ValueError(f"Unknown class {class_name!r}; the run's classes are {names}.")
    with warnings.catch_warnings():  # a run with one class only: no contrast, every unit sorts last
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        gap = analysis.specialisation(_heat_array(run, layer, weighting))["class_gap"]
    values = np.asarray(gap.isel(layer=0).values[names.index(class_name)], dtype=np.float64)
    return np.nan_to_num(values, nan=-np.inf)


def unit_order(run: xr.Dataset, layer: int, how: str = "activity", class_name: str | None = None) -> np.ndarray:
    """Unit ids, first row first: by ``"index"``, by ``"activity"`` (descending) or by ``"specialisation"``
    for ``class_name`` (descending)."""
    n_units = run.sizes["unit"]
    if how == "index":
        return np.arange(n_units)
    if how == "activity":
        score = np.nan_to_num(activity(run, layer), nan=-np.inf)
    elif how == "specialisation":
        score = specialisation(run, layer, "" if class_name is None else class_name)
    else:
        raise ValueError(f"The 'unit_order' must be one of {list(UNIT_ORDERS)}. Got {how!r} instead.")
    return np.argsort(-score, kind="stable")


def top_units(run: xr.Dataset, layer: int, n: int = 5, weighting: str = "segment") -> dict[str, list[int]]:
    """The ``n`` units of highest heat per class (:func:`rnnscope.analysis.top_units`, Table II).

    Classes without any segment get an empty list.
    """
    h = heat(run, layer, weighting)
    ranked = analysis.top_units(_heat_array(run, layer, weighting), k=min(n, h.shape[1])).isel(layer=0)
    names = [str(c) for c in run["class_name"].values]
    return {name: [] if np.all(np.isnan(h[c])) else [int(u) for u in ranked.sel(class_name=name).values]
            for c, name in enumerate(names)}


def shared_units(run: xr.Dataset, layer: int, fraction: float, weighting: str = "segment") -> np.ndarray:
    """Units whose heat is in the top ``fraction`` of units for every class with segments, in id order
    (:func:`rnnscope.analysis.top_fraction`, the rule of Figs. 6-7); 1.0 keeps all units."""
    selected = analysis.top_fraction(_heat_array(run, layer, weighting), fraction=fraction)
    return np.asarray(sorted(next(iter(selected.units.values()))), dtype=int)


def class_correlation(run: xr.Dataset, layer: int, fraction: float, weighting: str = "segment") -> np.ndarray:
    """(class, class) Pearson correlation of the classes' heat over the shared units of ``fraction``
    (:func:`rnnscope.analysis.class_correlation`, Fig. 7); NaN where undefined."""
    corr = analysis.class_correlation(_heat_array(run, layer, weighting), fraction=fraction)
    return np.asarray(corr.isel(layer=0).values, dtype=np.float64)


def _heat_array(run: xr.Dataset, layer: int, weighting: str) -> xr.DataArray:
    name = "summary_heat" if weighting == "segment" else "summary_heat_frame"
    if name not in run:
        raise ValueError(f"The run has no {name!r}; capture it with rnnscope.capture (it stores the summaries).")
    with warnings.catch_warnings():  # the views show a class without segments as empty
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        return analysis.heat_map(run, layer=layer, weighting=weighting)


def histograms(run: xr.Dataset, var: str = "h", layer: int = 0, bins=None, max_frames: int = 200_000,
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Density histograms of ``var`` per true class over valid frames (Fig. 5): the counts of
    :func:`rnnscope.analysis.activation_histogram` (the one histogram of the package) over the first records, in
    order, until they hold ``max_frames`` valid frames (a bounded sample for long runs), as densities.

    Returns the bin edges and, per class name, the density (empty classes give zeros).
    """
    import warnings

    lengths = np.asarray(run["length"].values, dtype=np.int64)
    n_events = max(1, int(np.searchsorted(np.cumsum(lengths), max_frames, side="left")) + 1)
    if bins is None:
        bins = np.linspace(*value_range(run, var, layer), 51)
    layer_id = run["layer"].values[layer] if "layer" in run.coords else layer
    with warnings.catch_warnings():  # classes without frames in the sample: zero counts
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        hist = analysis.activation_histogram(run.isel(event=slice(0, n_events)), var=var, layer=layer_id,
                                             bins=np.asarray(bins, dtype=np.float64))
    counts = hist["counts"].isel(layer=0).transpose("class_name", "bin").values.astype(np.float64)
    edges = np.asarray(hist["bin_edges"].values, dtype=np.float64)
    widths = np.diff(edges)
    names = [str(c) for c in hist["class_name"].values]
    return edges, {name: (cnt / (cnt.sum() * widths) if cnt.sum() else cnt)
                   for name, cnt in zip(names, counts, strict=True)}


def value_range(run: xr.Dataset, var: str, layer: int) -> tuple[float, float]:
    """The range the state variable ``var`` is shown on (:func:`rnnscope.analysis._common.display_limits`): [0, 1]
    for gates, [-1, 1] for the candidates and for ``h`` of tanh cells, else symmetric on the run's stored value range
    of ``layer`` (its position) -- never an assumed [-1, 1] for a ReLU RNN or a projected LSTM."""
    from ..analysis._common import display_limits, display_range

    if "summary_min" in run and "variable" in run.coords and var in run["variable"].values:
        lo = float(run["summary_min"].sel(variable=var).isel(layer=layer).values)
        hi = float(run["summary_max"].sel(variable=var).isel(layer=layer).values)
        if np.isfinite(lo) and np.isfinite(hi):
            return display_limits(var, lo, hi)
    if var in run.data_vars and "length" in run.coords:
        return display_range(run, var, [layer])
    return display_limits(var, np.nan, np.nan)


def load_summaries(run: xr.Dataset) -> xr.Dataset:
    """The summaries of the run's records (``summary_*`` and their coordinates) in memory.

    The stored ones when they describe the run's records (:func:`rnnscope.schema.summaries_cover`), else computed
    from the data the way capture computes them (:func:`rnnscope.io.compute_summaries`, one pass over the states
    of the selected records, e.g. after ``run.isel(event=...)``).
    """
    return summaries_of_fitted(fit_to_frames(run) if "event" in run.dims else run)


def summaries_of_fitted(run: xr.Dataset) -> xr.Dataset:
    """:func:`load_summaries` of a run :func:`~rnnscope.schema.fit_to_frames` was applied to (its summaries, when it
    has any, describe its records)."""
    stored = [n for n in SUMMARY_VARIABLES if n in run.data_vars]
    covered = bool(stored) if "event" in run.dims else summaries_cover(run)
    if not covered and "h" in run.data_vars and "length" in run.coords:
        run = run.drop_vars([n for n in SUMMARY_VARIABLES if n in run.variables]).assign(compute_summaries(run))
        covered = True
    names = [n for n in SUMMARY_VARIABLES if n in run.data_vars] if covered else []
    small = run[names] if names else xr.Dataset(coords={d: run[d] for d in ("class_name", "unit", "layer")
                                                        if d in run.coords})
    small = small.drop_vars([c for c in small.coords if c not in small.dims])
    return small.compute()

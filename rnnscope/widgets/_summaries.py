"""Small computations the widgets need from the summaries a run stores at capture time.

TEMPORARY: ``rnnscope.analysis`` (heat maps, top units, histograms, correlation) is being written; until it
lands, the widgets call these few functions, which only read the small ``summary_*`` variables (no pass over the
states) except :func:`histograms`, which reads a bounded number of frames. Each function names the analysis it
stands for, so swapping it for the analysis call is a one-line change in the widgets.

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

__all__ = ["heat", "activity", "specialisation", "unit_order", "top_units", "shared_units", "class_correlation",
           "histograms", "value_range", "UNIT_ORDERS"]

#: unit orders of the activation heatmap: by unit id, by mean |h| over all frames, by specialisation for a class
UNIT_ORDERS = ("index", "activity", "specialisation")


def heat(run: xr.Dataset, layer: int, kind: str = "segment") -> np.ndarray:
    """(class, unit) heat of one layer from ``summary_heat`` (segment-weighted) or ``summary_heat_frame``.

    Stands for ``rnnscope.analysis``'s class heat map (Fig. 6). NaN for a class with no segment.
    """
    name = "summary_heat" if kind == "segment" else "summary_heat_frame"
    if name not in run:
        raise ValueError(f"The run has no {name!r}; capture it with rnnscope.capture (it stores the summaries).")
    return np.asarray(run[name].isel(layer=layer).values, dtype=np.float64)


def activity(run: xr.Dataset, layer: int) -> np.ndarray:
    """(unit,) mean |h| over all valid frames, from ``summary_activity`` (stands for the activity analysis)."""
    if "summary_activity" not in run:
        raise ValueError("The run has no 'summary_activity'; capture it with rnnscope.capture.")
    return np.asarray(run["summary_activity"].isel(layer=layer).values, dtype=np.float64)


def specialisation(run: xr.Dataset, layer: int, class_name: str, kind: str = "segment") -> np.ndarray:
    """(unit,) heat for ``class_name`` minus the mean heat of the other classes (classes without segments skipped)."""
    names = [str(c) for c in run["class_name"].values]
    if class_name not in names:
        raise ValueError(f"Unknown class {class_name!r}; the run's classes are {names}.")
    h = heat(run, layer, kind)
    c = names.index(class_name)
    others = np.delete(h, c, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (no other class with segments)
        rest = np.nanmean(others, axis=0) if others.size else np.zeros(h.shape[1])
    return np.nan_to_num(h[c] - np.nan_to_num(rest), nan=-np.inf)


def unit_order(run: xr.Dataset, layer: int, how: str = "activity", class_name: str | None = None) -> np.ndarray:
    """Unit ids, first row first: by ``"index"``, by ``"activity"`` (descending) or by ``"specialisation"``
    for ``class_name`` (descending)."""
    n_units = run.sizes["unit"]
    if how == "index":
        return np.arange(n_units)
    if how == "activity":
        score = np.nan_to_num(activity(run, layer), nan=-np.inf)
    elif how == "specialisation":
        score = specialisation(run, layer, class_name)
    else:
        raise ValueError(f"The 'unit_order' must be one of {list(UNIT_ORDERS)}. Got {how!r} instead.")
    return np.argsort(-score, kind="stable")


def top_units(run: xr.Dataset, layer: int, n: int = 5, kind: str = "segment") -> dict[str, list[int]]:
    """The ``n`` units of highest heat per class (Table II: "most active, and therefore most specialized").

    Classes without any segment get an empty list.
    """
    h = heat(run, layer, kind)
    out = {}
    for c, name in enumerate(str(x) for x in run["class_name"].values):
        row = h[c]
        out[name] = [] if np.all(np.isnan(row)) else [int(u) for u in np.argsort(-np.nan_to_num(row, nan=-np.inf),
                                                                                  kind="stable")[:n]]
    return out


def shared_units(run: xr.Dataset, layer: int, fraction: float, kind: str = "segment") -> np.ndarray:
    """Units whose heat is in the top ``fraction`` of units for every class (with segments), in id order.

    The selection rule of Fig. 6 / Fig. 7 (``papers/titos2022.md``): 1.0 keeps all units.
    """
    h = heat(run, layer, kind)
    n_units = h.shape[1]
    if fraction >= 1.0:
        return np.arange(n_units)
    n_keep = max(1, int(round(fraction * n_units)))
    keep = np.ones(n_units, dtype=bool)
    for row in h:
        if np.all(np.isnan(row)):
            continue
        top = np.argsort(-np.nan_to_num(row, nan=-np.inf), kind="stable")[:n_keep]
        mask = np.zeros(n_units, dtype=bool)
        mask[top] = True
        keep &= mask
    return np.flatnonzero(keep)


def class_correlation(run: xr.Dataset, layer: int, units=None, kind: str = "segment") -> np.ndarray:
    """(class, class) Pearson correlation of the classes' heat over ``units`` (Fig. 7); NaN where undefined."""
    h = heat(run, layer, kind)
    if units is not None:
        h = h[:, np.asarray(units, dtype=int)]
    n = h.shape[0]
    out = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(n):
            a, b = h[i], h[j]
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() >= 2 and np.std(a[ok]) > 0 and np.std(b[ok]) > 0:
                out[i, j] = float(np.corrcoef(a[ok], b[ok])[0, 1])
    return out


def histograms(run: xr.Dataset, variable: str = "h", layer: int = 0, bins=None, max_frames: int = 200_000,
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Density histograms of ``variable`` per true class over valid frames (Fig. 5).

    Reads events one at a time until ``max_frames`` valid frames have been read (a bounded sample for long
    runs). Returns the bin edges and, per class name, the density (empty classes give zeros).
    """
    names = [str(c) for c in run["class_name"].values]
    if bins is None:
        bins = np.linspace(*value_range(run, variable, layer), 51)
    bins = np.asarray(bins, dtype=np.float64)
    counts = {name: np.zeros(bins.size - 1) for name in names}
    lengths = np.asarray(run["length"].values)
    total = 0
    for event, length in enumerate(lengths):
        if total >= max_frames:
            break
        n = int(min(length, max_frames - total))
        if n <= 0:
            continue
        values = np.asarray(run[variable].isel(event=event, layer=layer, time=slice(0, n)).values)
        labels = np.asarray(run["label"].isel(event=event, time=slice(0, n)).values)
        for c, name in enumerate(names):
            sel = values[labels == c]
            if sel.size:
                counts[name] += np.histogram(sel[np.isfinite(sel)], bins=bins)[0]
        total += n
    widths = np.diff(bins)
    dens = {name: (cnt / (cnt.sum() * widths) if cnt.sum() else cnt) for name, cnt in counts.items()}
    return bins, dens


def value_range(run: xr.Dataset, variable: str, layer: int) -> tuple[float, float]:
    """The range a variable's values can take: [-1, 1] (tanh), [0, 1] (gates), else the captured min and max."""
    from ._render import GATES, TANH

    if variable in TANH:
        return -1.0, 1.0
    if variable in GATES:
        return 0.0, 1.0
    if "summary_min" in run and variable in run["variable"].values:
        lo = float(run["summary_min"].sel(variable=variable).isel(layer=layer).values)
        hi = float(run["summary_max"].sel(variable=variable).isel(layer=layer).values)
        if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
            return lo, hi
    return -1.0, 1.0

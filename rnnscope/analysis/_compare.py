"""Several runs side by side on the numbers of both papers."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

from . import _common as C
from ._dynamics import susceptibility
from ._histograms import activation_histogram
from ._specialisation import specialisation
from ._tang import cell_distribution, smoothness

__all__ = ["frame_accuracy", "compare"]


def frame_accuracy(run: xr.Dataset) -> float:
    """Frame accuracy of a run: share of valid frames with a known label (>= 0) whose ``pred`` equals ``label``.

    Parameters
    ----------
    run : xarray.Dataset
        A run with ``pred`` and ``label``.

    Returns
    -------
    float
        NaN when no valid frame has a known label.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> 0 <= analysis.frame_accuracy(examples.toy_run()) <= 1
    True
    """
    func = "frame_accuracy"
    run = C.as_run(run, func)
    for name in ("pred", "label"):
        if name not in run:
            raise ValueError(f"{func}: the run has no {name!r} variable; capture it with rnnscope.capture.")
    hits = known = 0
    n_frames = C.lengths(run)
    for e in range(run.sizes["event"]):
        n = int(n_frames[e])
        label = np.asarray(run["label"].isel(event=e, time=slice(0, n)).values)
        pred = np.asarray(run["pred"].isel(event=e, time=slice(0, n)).values)
        ok = label >= 0
        hits += int((pred[ok] == label[ok]).sum())
        known += int(ok.sum())
    return hits / known if known else float("nan")


def compare(runs: Mapping[str, xr.Dataset], *, weighting: str = "segment", sampled_units: int | None = 50,
            half_width: int = 2, far: int = 10, seed: int = 0) -> pd.DataFrame:
    """The papers' summary numbers for several runs, one row per run.

    Columns (every per-layer number is averaged over the run's layers):

    - ``cells``, ``n_units``, ``n_layers``, ``accuracy`` (:func:`frame_accuracy`);
    - ``polarization``, ``sparsity``: :func:`activation_histogram` of ``h`` (``per=None``);
    - ``specialisation``: :func:`specialisation` (``weighting``);
    - ``susceptibility``: :func:`susceptibility` of ``h`` (``half_width``, ``far``);
    - ``lstm_c_inside_2``: :func:`cell_distribution` share of ``c`` inside (-2, 2) over LSTM-family layers (NaN
      without any); ``gru_h_outside_0_7``: share of ``h`` outside (-0.7, 0.7) over the other layers (GRU or
      vanilla; NaN without any); ``sampled_units`` random units per layer (seeded);
    - ``smoothness``: :func:`smoothness` of Tang's cell, mean over every record.

    Parameters
    ----------
    runs : mapping name -> run
        The runs to compare (xarray.Dataset each), under the names the table's rows get.
    weighting : {"segment", "frame"}
        Weighting of the heat maps behind ``specialisation`` (:func:`heat_map`).
    sampled_units : int or None
        Units drawn at random per layer for the cell distributions (all units when None).
    half_width : int
        Half width in frames of the window around a boundary for ``susceptibility``.
    far : int
        Frames from any boundary beyond which a frame counts as stationary for ``susceptibility``.
    seed : int
        Seed of the sampled units and of ``smoothness``'s frame subsets.

    Returns
    -------
    pandas.DataFrame
        Indexed by run name (``run``).

    Raises
    ------
    ValueError
        When ``runs`` is not a non-empty mapping.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> analysis.compare({"lstm": examples.toy_run("lstm")}).shape  # one row per run
    (1, 11)
    >>> table = analysis.compare({"lstm": examples.toy_run("lstm"), "gru": examples.toy_run("gru")},
    ...                          half_width=1, far=2)
    >>> list(table.index), bool(np.isnan(table.loc["gru", "lstm_c_inside_2"]))
    (['lstm', 'gru'], True)
    """
    func = "compare"
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(f"The 'runs' parameter of {func} must be a non-empty mapping name -> run. "
                         f"Got {type(runs).__name__} instead.")
    rows = []
    for name, run in runs.items():
        run = C.as_run(run, func)
        cells = C.model_cells(run)
        hist = activation_histogram(run, var="h", per=None)
        dist = cell_distribution(run, sampled_units=sampled_units, seed=seed)
        variables = [str(v) for v in dist["variable"].values]
        is_c = np.asarray([v == "c" for v in variables])
        rows.append({
            "run": str(name),
            "cells": "/".join(sorted(set(cells))) if cells else "unknown",
            "n_units": int(run.sizes["unit"]),
            "n_layers": int(run.sizes["layer"]),
            "accuracy": frame_accuracy(run) if "pred" in run else np.nan,
            "polarization": float(hist["polarization"].mean()),
            "sparsity": float(hist["sparsity"].mean()),
            "specialisation": float(specialisation(run, weighting=weighting)["specialisation"].mean()),
            "susceptibility": float(susceptibility(run, var="h", half_width=half_width,
                                                   far=far)["susceptibility"].mean()),
            "lstm_c_inside_2": float(dist["share_inside_2"].values[is_c].mean()) if is_c.any() else np.nan,
            "gru_h_outside_0_7": float(dist["share_outside_0_7"].values[~is_c].mean()) if (~is_c).any() else np.nan,
            "smoothness": float(smoothness(run, seed=seed).mean()),
        })
    return pd.DataFrame(rows).set_index("run")

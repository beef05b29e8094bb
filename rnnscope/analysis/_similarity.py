"""Similarity of two runs' state spaces on the same frames: linear CKA per layer pair, unit matching across seeds.

Two runs are compared frame by frame, so they must hold the same records with the same lengths (capture two
models on one features Dataset). Both read the runs chunk by chunk through moment accumulators: for the stacked
states ``Z = [X | Y]`` of the valid frames, ``n``, the column sums and the Gram matrix ``Z^T Z`` (float64, after
subtracting a per-column shift taken from the first frames, which keeps the centring exact to rounding); the
centred cross-products ``X^T X``, ``Y^T Y`` and ``Y^T X`` follow from them, so runs larger than memory work.

This module imports no torch.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from . import _common as C

__all__ = ["linear_cka", "match_units", "unit_correlation"]


def _check_pair(run_a, run_b, var, var_b, layer, layer_b, func: str):
    """Both runs, their variables and layers checked; returns both runs as the analyses read them
    (:func:`~rnnscope.analysis._common.as_run`), ``var_b`` (default ``var``) and the layer positions of each run
    (``layer_b`` defaults to ``layer``)."""
    run_a, run_b = C.as_run(run_a, func), C.as_run(run_b, func)
    C.check_var(run_a, var, func)
    var_b = var if var_b is None else var_b
    C.check_var(run_b, var_b, func)
    pos_a = C.check_layers(run_a, layer, func)
    pos_b = C.check_layers(run_b, layer if layer_b is None else layer_b, func)
    return run_a, run_b, var_b, pos_a, pos_b


def _check_same_frames(run_a, run_b, func: str) -> None:
    n_a, n_b = run_a.sizes["event"], run_b.sizes["event"]
    if n_a != n_b:
        raise ValueError(
            f"{func}: run_a holds {n_a} records and run_b {n_b}; the runs must hold the same records (capture both "
            "models on one features Dataset, or select the same records with rnnscope.data.select_records)."
        )
    if "event_id" in run_a.coords and "event_id" in run_b.coords:
        ids_a = [str(v) for v in np.asarray(run_a["event_id"].values)]
        ids_b = [str(v) for v in np.asarray(run_b["event_id"].values)]
        bad = [i for i, (a, b) in enumerate(zip(ids_a, ids_b, strict=True)) if a != b]
        if bad:
            i = bad[0]
            raise ValueError(
                f"{func}: the runs hold different records (record {i}: {ids_a[i]!r} in run_a, {ids_b[i]!r} in run_b); "
                "capture both models on the same features Dataset, in the same order."
            )
    la, lb = C.lengths(run_a), C.lengths(run_b)
    differ = np.flatnonzero(la != lb)
    if differ.size:
        i = int(differ[0])
        raise ValueError(
            f"{func}: record {i} has {la[i]} valid frames in run_a but {lb[i]} in run_b; the runs must cover the same "
            "frames (capture both models on the same features Dataset)."
        )


def _moments(run_a, var_a, pos_a, run_b, var_b, pos_b):
    """n, column means and the centred Gram matrix of the stacked states [run_a layers | run_b layers].

    Columns are ordered (layer, unit) within each run: run_a's first (``pos_a.size * n_units_a`` columns).
    """
    arrays = [C._ordered(run_a, var_a), C._ordered(run_b, var_b)]
    size = min(C._block_size(run_a, var_a), C._block_size(run_b, var_b))
    n_frames = C.lengths(run_a)
    width = pos_a.size * run_a.sizes["unit"] + pos_b.size * run_b.sizes["unit"]
    gram = np.zeros((width, width))
    sums = np.zeros(width)
    shift = None
    count = 0
    for event in range(run_a.sizes["event"]):
        n = int(n_frames[event])
        for t0 in range(0, n, size):
            t1 = min(t0 + size, n)
            parts = []
            for data, pos in zip(arrays, (pos_a, pos_b), strict=True):
                block = C._read(data, event, t0, t1)[..., pos]  # (frames, unit, layer)
                parts.append(np.moveaxis(block, -1, 1).reshape(t1 - t0, -1))
            z = np.concatenate(parts, axis=1).astype(np.float64)
            if shift is None:
                shift = z.mean(0)
            z -= shift
            gram += z.T @ z
            sums += z.sum(0)
            count += t1 - t0
    if count == 0:
        return 0, np.full(width, np.nan), np.full((width, width), np.nan)
    mean = sums / count
    centred = gram - count * np.outer(mean, mean)
    return count, mean + shift, centred


def linear_cka(run_a: xr.Dataset, run_b: xr.Dataset, *, var: str = "h", layer=None, var_b: str | None = None,
               layer_b=None) -> xr.DataArray:
    """Linear centred kernel alignment (CKA) between the state spaces of two runs, for every pair of layers.

    Definition (Kornblith et al. 2019): with ``X`` (frames x units of run_a's layer) and ``Y`` (frames x units of
    run_b's layer) the states on the same valid frames, each column centred,

    ``CKA(X, Y) = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)``.

    It lies in [0, 1], is 1 for identical state spaces up to a rotation (orthogonal transform) and isotropic scaling
    (so unit order, sign flips and the scale of the states do not matter), and is near 0 for unrelated states (for
    finite samples it is biased upwards, by about ``units / frames``). A layer whose states are constant gives NaN.
    Computed from chunk-by-chunk moment accumulators (module docstring), never from the whole state matrix.

    Parameters
    ----------
    run_a, run_b : xarray.Dataset
        Runs of the same records with the same lengths (e.g. two seeds captured on one features Dataset; the unit
        counts may differ).
    var : str
        State variable of run_a (default ``"h"``).
    layer : int, list of int or None
        run_a's layers (None: all).
    var_b : str, optional
        State variable of run_b (default: ``var``).
    layer_b : int, list of int or None
        run_b's layers (default: the ids of ``layer``, all when ``layer`` is None).

    Returns
    -------
    xarray.DataArray
        CKA with dims (``layer_a``, ``layer_b``); ``attrs["n_frames"]`` the number of frames compared.

    Raises
    ------
    ValueError
        When the runs do not hold the same records and lengths, or for an unknown variable or layer.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run(num_layers=2)
    >>> cka = analysis.linear_cka(run, run)
    >>> cka.dims, np.round(np.diag(cka.values), 6).tolist()
    (('layer_a', 'layer_b'), [1.0, 1.0])
    """
    func = "linear_cka"
    run_a, run_b, var_b, pos_a, pos_b = _check_pair(run_a, run_b, var, var_b, layer, layer_b, func)
    _check_same_frames(run_a, run_b, func)
    count, _, cov = _moments(run_a, var, pos_a, run_b, var_b, pos_b)
    ua, ub = run_a.sizes["unit"], run_b.sizes["unit"]
    off = pos_a.size * ua
    out = np.full((pos_a.size, pos_b.size), np.nan)
    for i in range(pos_a.size):
        xx = cov[i * ua:(i + 1) * ua, i * ua:(i + 1) * ua]
        for j in range(pos_b.size):
            cols = slice(off + j * ub, off + (j + 1) * ub)
            yy = cov[cols, cols]
            yx = cov[cols, i * ua:(i + 1) * ua]
            denom = np.linalg.norm(xx) * np.linalg.norm(yy)
            if count and denom > 0:
                out[i, j] = np.sum(yx**2) / denom
    result = xr.DataArray(
        out,
        dims=("layer_a", "layer_b"),
        coords={"layer_a": C.layer_ids(run_a, pos_a), "layer_b": C.layer_ids(run_b, pos_b)},
        name="linear_cka",
        attrs={"variable_a": var, "variable_b": var_b, "n_frames": int(count),
               "definition": "||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F), columns of X and Y centred over valid frames"},
    )
    return result


def match_units(run_a: xr.Dataset, run_b: xr.Dataset, *, var: str = "h", layer=None, var_b: str | None = None,
                layer_b=None, absolute: bool = True) -> pd.DataFrame:
    """Pair every unit of run_a with a distinct unit of run_b by the correlation of their activity (e.g. across seeds).

    Definitions: ``corr[u, v]`` is the Pearson correlation of unit ``u`` of run_a and unit ``v`` of run_b over
    the valid frames of every record (the runs must hold the same records and lengths). The pairs are a maximum-
    weight one-to-one assignment (Hungarian algorithm, :func:`scipy.optimize.linear_sum_assignment`) on the cost
    ``-|corr|`` (``absolute=True``, the default: a unit and its sign-flipped copy are counterparts, since flipping
    a unit's sign together with the signs of its weights leaves a tanh network's function unchanged) or ``-corr``
    (``absolute=False``). A constant unit has NaN correlations, counted as 0 in the assignment. Layers are paired in
    order: ``layer[i]`` of run_a with ``layer_b[i]`` of run_b. With different unit counts, the smaller layer's units
    are all matched.

    So "unit 46 is an S-phase detector in seed 0" can be checked for a counterpart in seed 1: look up unit 46's
    partner and its correlation, then run the same analysis (e.g. :func:`detector_units`) on the partner.

    Parameters
    ----------
    run_a, run_b : xarray.Dataset
        Runs of the same records with the same lengths.
    var : str
        State variable of run_a (default ``"h"``).
    layer : int, list of int or None
        run_a's layers (None: all).
    var_b : str, optional
        State variable of run_b (default: ``var``).
    layer_b : int, list of int or None
        run_b's layers, paired in order with ``layer`` (default: the same ids).
    absolute : bool
        Match on ``|corr|`` (default) or on signed ``corr``.

    Returns
    -------
    pandas.DataFrame
        One row per matched pair: ``layer_a``, ``layer_b``, ``unit_a``, ``unit_b``, ``correlation`` (signed), sorted
        by layer and ``unit_a``. :func:`unit_correlation` gives the full correlation matrix the pairs are read from.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()
    >>> order = [2, 0, 1, 5, 3, 4]  # unit k of `other` is unit order[k] of `run`
    >>> other = run.isel(unit=order).assign_coords(unit=run["unit"].values)
    >>> pairs = analysis.match_units(run, other)
    >>> pairs["unit_b"].tolist(), pairs["correlation"].round(6).tolist()
    ([1, 2, 0, 4, 5, 3], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    """
    from scipy.optimize import linear_sum_assignment

    func = "match_units"
    if not isinstance(absolute, (bool, np.bool_)):
        raise ValueError(f"The 'absolute' parameter of {func} must be True or False. Got {absolute!r} instead.")
    correlation = _correlation(run_a, run_b, var, var_b, layer, layer_b, func)
    rows = []
    for i in range(correlation.sizes["layer_a"]):
        corr = correlation.values[i]
        weight = np.nan_to_num(np.abs(corr) if absolute else corr, nan=0.0)
        ra, rb = linear_sum_assignment(-weight)
        for a, b in zip(ra, rb, strict=True):
            rows.append({"layer_a": correlation["layer_a"].values[i], "layer_b": correlation["layer_b"].values[i],
                         "unit_a": correlation["unit_a"].values[a], "unit_b": correlation["unit_b"].values[b],
                         "correlation": float(corr[a, b])})
    table = pd.DataFrame(rows, columns=["layer_a", "layer_b", "unit_a", "unit_b", "correlation"])
    table = table.sort_values(["layer_a", "unit_a"], kind="stable").reset_index(drop=True)
    table.attrs.update(variable_a=correlation.attrs["variable_a"], variable_b=correlation.attrs["variable_b"],
                       n_frames=correlation.attrs["n_frames"], absolute=bool(absolute))
    return table


def unit_correlation(run_a: xr.Dataset, run_b: xr.Dataset, *, var: str = "h", layer=None, var_b: str | None = None,
                     layer_b=None) -> xr.DataArray:
    """The Pearson correlation of every unit of run_a with every unit of run_b over their valid frames, per layer
    pair (the matrix :func:`match_units` pairs units on).

    Layers are paired in order: ``layer[i]`` of run_a with ``layer_b[i]`` of run_b. A constant unit has NaN
    correlations. The runs must hold the same records with the same lengths; they are read chunk by chunk.

    Parameters
    ----------
    run_a, run_b : xarray.Dataset
        Runs of the same records with the same lengths.
    var, layer, var_b, layer_b
        As in :func:`match_units`.

    Returns
    -------
    xarray.DataArray
        Dims (``layer_a``, ``unit_a``, ``unit_b``) plus a ``layer_b`` coordinate along ``layer_a``; attrs
        ``n_frames``, ``variable_a``, ``variable_b``.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()
    >>> corr = analysis.unit_correlation(run, run)
    >>> corr.dims, corr.shape, bool((abs(corr.values[0].diagonal() - 1.0) < 1e-9).all())
    (('layer_a', 'unit_a', 'unit_b'), (1, 6, 6), True)
    """
    return _correlation(run_a, run_b, var, var_b, layer, layer_b, "unit_correlation")


def _correlation(run_a, run_b, var, var_b, layer, layer_b, func: str) -> xr.DataArray:
    run_a, run_b, var_b, pos_a, pos_b = _check_pair(run_a, run_b, var, var_b, layer, layer_b, func)
    if pos_a.size != pos_b.size:
        raise ValueError(
            f"{func}: layers are paired in order, but {pos_a.size} layer(s) of run_a and {pos_b.size} of run_b were "
            "picked; give 'layer' and 'layer_b' the same number of layers."
        )
    _check_same_frames(run_a, run_b, func)
    count, _, cov = _moments(run_a, var, pos_a, run_b, var_b, pos_b)
    ua, ub = run_a.sizes["unit"], run_b.sizes["unit"]
    off = pos_a.size * ua
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    matrices = []
    for i in range(pos_a.size):
        ca = slice(i * ua, (i + 1) * ua)
        cb = slice(off + i * ub, off + (i + 1) * ub)
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov[ca, cb] / np.outer(std[ca], std[cb])
        matrices.append(np.where(np.outer(std[ca] > 0, std[cb] > 0), np.clip(corr, -1.0, 1.0), np.nan))
    return xr.DataArray(
        np.stack(matrices),
        dims=("layer_a", "unit_a", "unit_b"),
        coords={"layer_a": C.layer_ids(run_a, pos_a), "layer_b": ("layer_a", C.layer_ids(run_b, pos_b)),
                "unit_a": C.unit_ids(run_a), "unit_b": C.unit_ids(run_b)},
        name="correlation",
        attrs={"definition": "Pearson correlation over valid frames", "n_frames": int(count), "variable_a": var,
               "variable_b": var_b},
    )

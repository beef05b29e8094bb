"""Analyses of Tang, Shi & Wang: cell value distributions (Figs. 1-3), neuronal responsibility (Figs. 4-6) and
temporal traces (Fig. 7) with a smoothness number."""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from . import _common as C

__all__ = ["cell_distribution", "responsibility", "responsible_units", "temporal_trace", "smoothness"]

#: Tang et al.'s summary bands: share of LSTM ``c`` inside (-2, 2), share of GRU ``h`` outside (-0.7, 0.7).
LSTM_INSIDE = 2.0
GRU_OUTSIDE = 0.7
#: Tang et al.'s "irregular" activations: LSTM ``c`` outside (-10, 10); GRU ``h`` inside (-0.5, 0.5).
PAPER_THRESHOLDS = {"outside": 10.0, "inside": 0.5}
#: Responsibility above which a unit counts as responsible for a class: 0.8 (LSTM ``c``), 0.5 (GRU ``h``).
RESPONSIBLE_LEVEL = {"outside": 0.8, "inside": 0.5}
_QUANTILE_BINS = 20000


def _rule(var: str) -> str:
    """``"outside"`` (irregular = large, LSTM ``c``) or ``"inside"`` (irregular = near 0, tanh-range states)."""
    return "outside" if var == "c" else "inside"


def _sample_units(n_units: int, units, seed: int) -> np.ndarray:
    if units is None or units >= n_units:
        return np.arange(n_units)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_units, size=int(units), replace=False))


def cell_distribution(
    run: xr.Dataset,
    *,
    var: str = "cell",
    layer=None,
    sampled_units: int | None = 50,
    clip: float = 10.0,
    bins=None,
    seed: int = 0,
) -> xr.Dataset:
    """Distribution of cell values per layer (Tang, Shi & Wang, Figs. 1-3) with the papers' summary shares.

    Definitions (valid frames of every record, ``sampled_units`` randomly drawn units, the same for every layer):

    - ``counts[bin, layer]``: histogram of the values clipped to ``[-clip, clip]`` (the paper clips LSTM cells to
      +-10 for display, so the end bins hold everything beyond);
    - ``share_inside_2 = P(-2 < v < 2)`` (Tang: LSTM cells concentrate near 0);
    - ``share_outside_0_7 = P(v <= -0.7 or v >= 0.7)`` (Tang: GRU states concentrate near +-1).

    Shares are computed on the unclipped values of the sampled units. Both are reported for every layer; the one
    the paper quotes is ``share_inside_2`` for LSTM ``c`` and ``share_outside_0_7`` for GRU ``h``.

    Parameters
    ----------
    run : xarray.Dataset
    var : str
        A state variable, or ``"cell"`` (default): the "cell" of each layer from ``attrs["model_config"]``, ``c``
        for LSTM-family layers and ``h`` for GRU (and vanilla) layers.
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    sampled_units : int or None
        Number of units drawn at random (seeded; all units when None or more than the layer has).
    clip : float
        Display clipping of the histogram.
    bins : int or array of edges, optional
        Default 80 equal bins on [-clip, clip] when any selected layer uses ``c`` or values beyond [-1, 1] (``h``
        of a ReLU RNN, of an LSTM with ``proj_size``), else 40 bins on [-1, 1].
    seed : int
        Seed of the unit draw.

    Returns
    -------
    xarray.Dataset
        ``counts`` (bin, layer), ``bin_edges`` (bin_edge), ``share_inside_2``, ``share_outside_0_7``, ``n_values``
        (layer); coordinates ``variable`` (layer) and ``sampled_unit``.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> analysis.cell_distribution(examples.toy_run()).sizes["sampled_unit"]  # up to 50 units
    6
    >>> dist = analysis.cell_distribution(examples.toy_run(), sampled_units=4)
    >>> dist["counts"].dims, dist["variable"].values.tolist(), dist.sizes["sampled_unit"]
    (('bin', 'layer'), ['c'], 4)
    """
    func = "cell_distribution"
    run = C.as_run(run, func)
    positions = C.check_layers(run, layer, func)
    variables = C.cell_variables(run, var, positions, func)
    if sampled_units is not None:
        sampled_units = C.check_int(sampled_units, name="sampled_units", func=func, minimum=1)
    if not (isinstance(clip, (int, float, np.integer, np.floating)) and clip > 0):
        raise ValueError(f"The 'clip' parameter of {func} must be a positive number. Got {clip!r} instead.")
    if bins is None or (isinstance(bins, (int, np.integer)) and not isinstance(bins, bool)):
        lo, hi = C.value_range(run, variables, positions)  # c has no bound, h none in a ReLU or projected cell
        unbounded = any(
            v == "c" or C.display_limits(v, a, b)[1] > 1.0 for v, a, b in zip(variables, lo, hi, strict=True)
        )
        lim = float(clip) if unbounded else min(1.0, float(clip))
        n = (80 if unbounded else 40) if bins is None else int(bins)
        if n < 1:
            raise ValueError(
                f"The 'bins' parameter of {func} must be a positive int or increasing edges. Got {bins!r} instead."
            )
        edges = np.linspace(-lim, lim, n + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError(
                f"The 'bins' parameter of {func} must be a positive int or increasing edges. Got {bins!r} instead."
            )
    sampled = _sample_units(run.sizes["unit"], sampled_units, seed)
    n_bins, n_layers = edges.size - 1, len(positions)
    counts = np.zeros((n_bins, n_layers), dtype=np.int64)
    inside = np.zeros(n_layers, dtype=np.int64)
    outside = np.zeros(n_layers, dtype=np.int64)
    total = np.zeros(n_layers, dtype=np.int64)
    for block in C.iter_blocks(run, variables, positions, labels=False):
        v = block.values[:, sampled]
        inside += ((v > -LSTM_INSIDE) & (v < LSTM_INSIDE)).sum((0, 1))
        outside += (np.abs(v) >= GRU_OUTSIDE).sum((0, 1))
        total += np.isfinite(v).sum((0, 1))
        clipped = np.clip(v, -clip, clip)
        idx = np.clip(np.searchsorted(edges, clipped, side="right") - 1, 0, n_bins - 1)
        for k in range(n_layers):
            counts[:, k] += np.bincount(idx[..., k].ravel(), minlength=n_bins)[:n_bins]
    with np.errstate(invalid="ignore", divide="ignore"):
        share_in = np.where(total > 0, inside / total, np.nan)
        share_out = np.where(total > 0, outside / total, np.nan)
    out = xr.Dataset(
        {
            "counts": (("bin", "layer"), counts),
            "share_inside_2": (("layer",), share_in),
            "share_outside_0_7": (("layer",), share_out),
            "n_values": (("layer",), total),
        },
        coords={"bin": 0.5 * (edges[1:] + edges[:-1]), "bin_edges": ("bin_edge", edges),
                "layer": C.layer_ids(run, positions), "variable": ("layer", np.array(variables)),
                "sampled_unit": C.unit_ids(run)[sampled]},
    )
    out["share_inside_2"].attrs["definition"] = "P(-2 < v < 2) (Tang et al.: LSTM cells)"
    out["share_outside_0_7"].attrs["definition"] = "P(|v| >= 0.7) (Tang et al.: GRU states)"
    out.attrs.update(clip=float(clip), seed=int(seed))
    return out


# --------------------------------------------------------------------------------------------- responsibility


def _histogram_quantiles(run, variables, positions, use_abs, qs):
    """Quantiles ``qs`` (fractions) of the pooled values of each layer from a fine streaming histogram.

    Exact to one bin: ``(max - min) / 20000`` of the layer's value range.
    """
    lo, hi = C.value_range(run, variables, positions)
    if use_abs:
        lo, hi = np.zeros_like(lo), np.maximum(np.abs(lo), np.abs(hi))
    n_layers = len(positions)
    counts = np.zeros((_QUANTILE_BINS, n_layers), dtype=np.int64)
    span = np.where(hi > lo, hi - lo, 1.0)
    for block in C.iter_blocks(run, variables, positions, labels=False):
        v = np.abs(block.values) if use_abs else block.values
        idx = np.clip(((v - lo) / span * _QUANTILE_BINS).astype(np.int64), 0, _QUANTILE_BINS - 1)
        for k in range(n_layers):
            counts[:, k] += np.bincount(idx[..., k].ravel(), minlength=_QUANTILE_BINS)[:_QUANTILE_BINS]
    out = np.full((len(qs), n_layers), np.nan)
    for k in range(n_layers):
        cum = np.cumsum(counts[:, k])
        if cum[-1] == 0:
            continue
        for i, q in enumerate(qs):
            target = q * cum[-1]
            b = int(np.searchsorted(cum, target, side="left"))
            b = min(b, _QUANTILE_BINS - 1)
            before = cum[b - 1] if b > 0 else 0
            inside = counts[b, k]
            frac = (target - before) / inside if inside else 0.0
            out[i, k] = lo[k] + (b + frac) / _QUANTILE_BINS * span[k]
    return out


def responsibility(run: xr.Dataset, *, var: str = "cell", layer=None, irregular="paper") -> xr.DataArray:
    """Neuronal responsibility (Tang, Shi & Wang, Figs. 4-6): how often a unit activates irregularly for a class.

    Definitions: an activation is *irregular* when

    - ``var == "c"`` (LSTM cells, rule "outside"): ``v <= low`` or ``v >= high``;
    - otherwise (GRU / tanh-range states, rule "inside"): ``low < v < high``.

    ``responsibility[class, unit, layer] = P(irregular | frame labelled class)`` over valid frames (label -1
    frames are left out).

    Thresholds (``irregular``):

    - ``"paper"`` (default, or None): Tang et al.'s, ``(-10, 10)`` for rule outside, ``(-0.5, 0.5)`` for rule
      inside (small models rarely pass +-10);
    - a number ``p`` in (0, 100): percentile thresholds from the run's own values of each layer (pooled over units
      and frames), chosen so that ``p`` % of the values are irregular: rule outside, below the ``p/2``-th or above
      the ``(100 - p/2)``-th percentile (``p=10``: outside the 5-95 % range); rule inside, ``|v|`` below the
      ``p``-th percentile of ``|v|``. Percentiles come from a streaming 20000-bin histogram (exact to 1/20000 of
      the value range);
    - a pair ``(low, high)``: explicit thresholds for every layer.

    Parameters
    ----------
    run : xarray.Dataset
    var : str
        A state variable, or ``"cell"`` (default): ``c`` for LSTM-family layers, ``h`` otherwise
        (``attrs["model_config"]``).
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    irregular : "paper", float or (float, float)
        What counts as irregular (above).

    Returns
    -------
    xarray.DataArray
        ``responsibility`` (class_name, unit, layer) in [0, 1]; coordinates ``variable``, ``rule``, ``low``,
        ``high`` (layer). A class with no frames is NaN with an :class:`EmptyClassWarning`.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> analysis.responsibility(examples.toy_run()).dims
    ('class_name', 'unit', 'layer')
    >>> resp = analysis.responsibility(examples.toy_run(), irregular=10)
    >>> resp.dims, resp["rule"].values.tolist()
    (('class_name', 'unit', 'layer'), ['outside'])
    """
    func = "responsibility"
    run = C.as_run(run, func)
    positions = C.check_layers(run, layer, func)
    variables = C.cell_variables(run, var, positions, func)
    rules = [_rule(v) for v in variables]
    n_layers = len(positions)
    low, high = np.zeros(n_layers), np.zeros(n_layers)
    if irregular is None or (isinstance(irregular, str) and irregular == "paper"):
        for k, rule in enumerate(rules):
            low[k], high[k] = -PAPER_THRESHOLDS[rule], PAPER_THRESHOLDS[rule]
        kind = "paper"
    elif isinstance(irregular, (int, float, np.integer, np.floating)) and not isinstance(irregular, bool):
        p = float(irregular)
        if not 0 < p < 100:
            raise ValueError(f"The 'irregular' parameter of {func} must be 'paper', a percentage in (0, 100) or a "
                             f"pair (low, high). Got {irregular!r} instead.")
        for rule in set(rules):
            cols = np.asarray([k for k, r in enumerate(rules) if r == rule])
            sub_vars = [variables[k] for k in cols]
            if rule == "outside":
                q = _histogram_quantiles(run, sub_vars, positions[cols], False, [p / 200, 1 - p / 200])
                low[cols], high[cols] = q[0], q[1]
            else:
                q = _histogram_quantiles(run, sub_vars, positions[cols], True, [p / 100])
                low[cols], high[cols] = -q[0], q[0]
        kind = f"{p:g} %"
    else:
        try:
            a, b = (float(v) for v in irregular)
            ok = a <= b
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"The 'irregular' parameter of {func} must be 'paper', a percentage in (0, 100) or a "
                             f"pair (low, high). Got {irregular!r} instead.")
        low[:], high[:] = a, b
        kind = "explicit"
    names = C.require_labels(run, func)
    n_irregular = np.zeros((len(names), run.sizes["unit"], n_layers))
    frames = np.zeros(len(names))
    outside = np.asarray([r == "outside" for r in rules])
    for block in C.iter_blocks(run, variables, positions):
        v = block.values
        irr = np.where(outside, (v <= low) | (v >= high), (v > low) & (v < high))
        for c in range(len(names)):
            rows = np.asarray(block.labels == c)
            if rows.any():
                n_irregular[c] += irr[rows].sum(0)
                frames[c] += rows.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        resp = n_irregular / frames[:, None, None]
    C.warn_empty(func, "class(es)", [n for i, n in enumerate(names) if frames[i] == 0])
    out = xr.DataArray(
        resp,
        dims=("class_name", "unit", "layer"),
        coords={"class_name": np.array(names), "unit": C.unit_ids(run), "layer": C.layer_ids(run, positions),
                "variable": ("layer", np.array(variables)), "rule": ("layer", np.array(rules)),
                "low": ("layer", low), "high": ("layer", high)},
        name="responsibility",
    )
    out.attrs.update(irregular=kind, definition="P(irregular activation | frame of the class); irregular: outside "
                     "(low, high) for rule 'outside' (LSTM c), inside (low, high) for rule 'inside' (GRU h)")
    return out


def responsible_units(resp: xr.DataArray, *, level: float | None = None, factor: float = 2.0,
                      min_responsibility: float = 0.1) -> xr.Dataset:
    """Count responsible units per class and layer, and find units dedicated to one class.

    Definitions:

    - ``count[class, layer]``: units whose responsibility for the class exceeds ``level`` (default per layer: 0.8
      for rule "outside" / LSTM ``c``, 0.5 for rule "inside" / GRU ``h``, Tang et al.'s levels);
    - a unit is *dedicated* to its top class when ``top >= factor x second`` (``ratio = top / second``, inf when
      the second is 0) and ``top >= min_responsibility``; ``dominant_class`` is that class, else ``""``.

    Parameters
    ----------
    resp : xarray.DataArray
        From :func:`responsibility`.
    level : float, optional
    factor : float
        How many times more responsive to one class than to any other (default 2).
    min_responsibility : float
        Smallest top responsibility of a dedicated unit (default 0.1).

    Returns
    -------
    xarray.Dataset
        ``count`` (class_name, layer), ``dominant_class``, ``ratio``, ``top_responsibility`` (unit, layer),
        ``n_dominant`` (class_name, layer), ``level`` (layer).

    Examples
    --------
    >>> resp = xr.DataArray([[[0.9], [0.1]], [[0.2], [0.6]]], dims=("class_name", "unit", "layer"),
    ...                     coords={"class_name": ["A", "B"], "unit": [0, 1], "layer": [0]})
    >>> responsible_units(resp)["dominant_class"].sel(layer=0).values.tolist()
    ['A', 'B']
    >>> out = responsible_units(resp, level=0.5)
    >>> out["count"].sel(layer=0).values.tolist(), out["dominant_class"].sel(layer=0).values.tolist()
    ([1, 1], ['A', 'B'])
    """
    func = "responsible_units"
    if not isinstance(resp, xr.DataArray) or set(resp.dims) != {"class_name", "unit", "layer"}:
        raise ValueError(f"The 'resp' parameter of {func} must be the DataArray (class_name, unit, layer) of "
                         f"responsibility. Got {type(resp).__name__} {getattr(resp, 'dims', '')} instead.")
    resp = resp.transpose("class_name", "unit", "layer")
    values = np.asarray(resp.values, dtype=np.float64)
    n_layers = values.shape[2]
    if level is None:
        rules = resp["rule"].values if "rule" in resp.coords else np.array(["inside"] * n_layers)
        levels = np.asarray([RESPONSIBLE_LEVEL[str(r)] for r in rules])
    else:
        if not isinstance(level, (int, float, np.integer, np.floating)) or not 0 <= level <= 1:
            raise ValueError(
                f"The 'level' parameter of {func} must be a number in [0, 1] or None. Got {level!r} instead."
            )
        levels = np.full(n_layers, float(level))
    count = (values > levels[None, None, :]).sum(1)
    names = np.asarray(resp["class_name"].values)
    filled = np.where(np.isnan(values), -np.inf, values)
    order = np.argsort(-filled, axis=0, kind="stable")
    top = np.take_along_axis(filled, order[:1], axis=0)[0]
    if values.shape[0] > 1:
        second = np.take_along_axis(filled, order[1:2], axis=0)[0]
    else:
        second = np.full_like(top, -np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(second > 0, top / np.where(second > 0, second, 1), np.where(top > 0, np.inf, np.nan))
    dedicated = (ratio >= factor) & (top >= min_responsibility) & np.isfinite(top)
    dominant = np.where(dedicated, names[order[0]], "")
    n_dominant = np.stack([(dominant == n).sum(0) for n in names])
    out = xr.Dataset(
        {
            "count": (("class_name", "layer"), count),
            "dominant_class": (("unit", "layer"), dominant.astype(str)),
            "ratio": (("unit", "layer"), ratio),
            "top_responsibility": (("unit", "layer"), np.where(np.isfinite(top), top, np.nan)),
            "n_dominant": (("class_name", "layer"), n_dominant),
            "level": (("layer",), levels),
        },
        coords={"class_name": names, "unit": resp["unit"].values, "layer": resp["layer"].values},
    )
    out.attrs.update(factor=float(factor), min_responsibility=float(min_responsibility))
    return out


# --------------------------------------------------------------------------------------------- temporal trace


def _pca2(x: np.ndarray) -> np.ndarray:
    """First two principal components (n, 2); signs fixed so the largest loading is positive."""
    centred = x - x.mean(0)
    out = np.zeros((x.shape[0], 2))
    if x.shape[0] < 2:
        return out
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    n = min(2, vt.shape[0])
    for i in range(n):
        sign = np.sign(vt[i, np.argmax(np.abs(vt[i]))]) or 1.0
        out[:, i] = centred @ vt[i] * sign
    return out


def temporal_trace(
    run: xr.Dataset,
    event=0,
    *,
    layer=None,
    var: str = "cell",
    method: str = "pca",
    seed: int = 0,
    perplexity: float = 30.0,
    threads: int | None = 1,
) -> xr.DataArray:
    """2-D embedding of one record's state vectors per layer, as a path in time (Tang, Shi & Wang, Fig. 7).

    Definition: the vectors ``v[t, :, layer]`` of every valid frame of the record are embedded in 2-D, per layer,
    by PCA (numpy SVD, deterministic) or t-SNE (:class:`sklearn.manifold.TSNE`, ``random_state=seed``,
    perplexity capped at ``(n_frames - 1) / 3``).

    Parameters
    ----------
    run : xarray.Dataset
    event : int or str
        Record position or ``event_id`` (default 0: the first record).
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    var : str
        A state variable, or ``"cell"`` (default): Tang's cell, ``c`` for LSTM-family layers and ``h`` otherwise.
    method : {"pca", "tsne"}
    seed : int
    perplexity : float
        t-SNE perplexity.
    threads : int or None
        Threads of the t-SNE gradient (threadpoolctl; default 1: one record's few hundred frames run fastest on one
        thread, and a shared machine is not oversubscribed). None leaves the library default.

    Returns
    -------
    xarray.DataArray
        ``trace`` (time, component, layer) with ``component`` = [0, 1], valid frames only; ``label`` (time);
        ``attrs["class_names"]`` names the label indices.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> tr = analysis.temporal_trace(examples.toy_run())  # the first record, by PCA
    >>> tr.dims, tr.sizes["component"]
    (('time', 'component', 'layer'), 2)
    """
    func = "temporal_trace"
    run = C.as_run(run, func)
    C.choose(method, ["pca", "tsne"], name="method", func=func)
    positions = C.check_layers(run, layer, func)
    variables = C.cell_variables(run, var, positions, func)
    e = C.event_position(run, event, func)
    values, labels = C.event_values(run, variables, positions, e)
    n = values.shape[0]
    out = np.zeros((n, 2, len(positions)))
    for k in range(len(positions)):
        x = C.drop_padded_units(values[..., k].astype(np.float64))
        if method == "pca" or n < 4:
            out[:, :, k] = _pca2(x)
        else:
            from sklearn.manifold import TSNE
            from threadpoolctl import threadpool_limits

            perp = float(min(perplexity, max((n - 1) / 3.0, 1.0)))
            with threadpool_limits(threads):
                out[:, :, k] = TSNE(n_components=2, perplexity=perp, random_state=seed, init="pca").fit_transform(x)
    result = xr.DataArray(
        out,
        dims=("time", "component", "layer"),
        coords={"time": np.asarray(run["time"].values)[:n], "component": [0, 1],
                "layer": C.layer_ids(run, positions), "variable": ("layer", np.array(variables))},
        name="trace",
    )
    if labels is not None:
        result = result.assign_coords(label=("time", labels))
    result.attrs.update(method=method, seed=int(seed), class_names=C.class_names(run))
    return result


def _smoothness_of(x: np.ndarray, max_frames: int, rng) -> float:
    """Mean consecutive step / mean pairwise distance of the rows of ``x`` (n, d)."""
    from scipy.spatial.distance import pdist

    n = x.shape[0]
    if n < 3:
        return np.nan
    steps = np.linalg.norm(np.diff(x, axis=0), axis=1).mean()
    sample = x if n <= max_frames else x[np.sort(rng.choice(n, size=max_frames, replace=False))]
    pairwise = pdist(sample).mean()
    return float(steps / pairwise) if pairwise > 0 else np.nan


def smoothness(
    run: xr.Dataset,
    *,
    event=None,
    layer=None,
    var: str = "cell",
    path_frames: int | None = None,
    max_frames: int = 2000,
    seed: int = 0,
) -> xr.DataArray:
    """Smoothness of the state trajectory of a record, measured in the state space itself.

    Definition: ``smoothness = mean_t ||x[t] - x[t-1]|| / mean_{i<j} ||x[i] - x[j]||`` with ``x[t]`` the state
    vector of frame ``t`` (all units of one layer, valid frames): the mean step relative to the typical distance
    between any two states of the path. Lower is smoother (0: frozen; about 1 or more: each step jumps across the
    whole visited region). Paths longer than ``max_frames`` use a random (seeded) subset of ``max_frames`` frames for
    the pairwise mean; paths with fewer than 3 frames are skipped.

    The number depends on the path's length: a straight path of ``n`` evenly spaced states scores
    ``3 / (n + 1)`` (steps ``s``, mean pairwise distance ``s (n + 1) / 3``), so a longer record looks smoother.
    Compare only at equal lengths:

    - ``path_frames=None`` (default): one path per record. Fair when the runs compared hold the same records (two
      models captured on the same data, as the claims report does), not across data sets;
    - ``path_frames=L``: every record is cut into consecutive, non-overlapping paths of exactly ``L`` valid frames
      (the remainder is left out; records shorter than ``L`` give none) and the number is the mean over all paths, so
      records and data sets of any length compare.

    Parameters
    ----------
    run : xarray.Dataset
    event : int, str or None
        One record (position or ``event_id``), or None for the mean over every record.
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    var : str
        A state variable, or ``"cell"`` (default): Tang's cell, ``c`` for LSTM-family layers and ``h`` otherwise.
    path_frames : int, optional
        Path length in frames (at least 3), or None for whole records.
    max_frames : int
        Paths longer than this use a random subset of ``max_frames`` frames for the mean pairwise distance.
    seed : int
        Seed of that subset.

    Returns
    -------
    xarray.DataArray
        ``smoothness`` (layer); ``attrs["n_paths"]`` paths were averaged (``n_records`` records).

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> analysis.smoothness(examples.toy_run()).dims  # every record
    ('layer',)
    >>> s = analysis.smoothness(examples.toy_run(), event=0)
    >>> s.dims, bool((s > 0).all())
    (('layer',), True)
    >>> analysis.smoothness(examples.toy_run(), path_frames=10).attrs["path_frames"]
    10
    """
    func = "smoothness"
    run = C.as_run(run, func)
    positions = C.check_layers(run, layer, func)
    variables = C.cell_variables(run, var, positions, func)
    max_frames = C.check_int(max_frames, name="max_frames", func=func, minimum=3)
    if path_frames is not None:
        path_frames = C.check_int(path_frames, name="path_frames", func=func, minimum=3)
    events = range(run.sizes["event"]) if event is None else [C.event_position(run, event, func)]
    rng = np.random.default_rng(seed)
    per_path, n_records = [], 0
    for e in events:
        values, _ = C.event_values(run, variables, positions, e)
        n = values.shape[0]
        size = n if path_frames is None else path_frames
        starts = range(0, n - size + 1, size) if size >= 3 else range(0)
        n_records += bool(len(starts))
        for a in starts:
            per_path.append([_smoothness_of(C.drop_padded_units(values[a : a + size, ..., k].astype(np.float64)),
                                            max_frames, rng) for k in range(len(positions))])
    if per_path:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = np.nanmean(np.asarray(per_path), axis=0)
    else:
        warnings.warn(f"{func}: no record with at least {3 if path_frames is None else path_frames} valid frames; "
                      "smoothness is NaN.", C.EmptyClassWarning, stacklevel=2)
        result = np.full(len(positions), np.nan)
    out = xr.DataArray(result, dims=("layer",),
                       coords={"layer": C.layer_ids(run, positions), "variable": ("layer", np.array(variables))},
                       name="smoothness")
    out.attrs.update(definition="mean step length between consecutive frames / mean pairwise distance between frames "
                                "(lower = smoother; 3 / (n + 1) for a straight path of n frames)",
                     path_frames="record" if path_frames is None else int(path_frames), n_paths=len(per_path),
                     n_records=n_records)
    return out

"""Figures of Tang, Shi & Wang's analyses: cell-value distributions, responsibility, temporal traces, perturbation."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._colors import CLASS_COLORS, class_color
from ._base import _as_mapping, _blank_figure, activation_limits

if TYPE_CHECKING:  # the return type of the figure makers
    pass

__all__ = ["cell_distributions", "responsibility_map", "temporal_traces", "perturbation_map"]


def cell_distributions(dists):
    """Distribution of cell values per layer (Tang, Shi & Wang, Figs. 1-3).

    Parameters
    ----------
    dists : xarray.Dataset or dict name -> Dataset
        From :func:`rnnscope.analysis.cell_distribution`; one row per model, one panel per layer, titled with the
        paper's share (LSTM ``c`` inside (-2, 2), GRU ``h`` outside (-0.7, 0.7)).

    Returns
    -------
    matplotlib.figure.Figure
        One row per model, one histogram per layer.

    Examples
    --------
    >>> from rnnscope import analysis, examples, plots
    >>> dist = analysis.cell_distribution(examples.toy_run())
    >>> len(plots.cell_distributions(dist).axes)
    1
    """
    dists = _as_mapping(dists, "Dataset")
    n_cols = max(d.sizes["layer"] for d in dists.values())
    fig = _blank_figure(width=max(6.0, 3.4 * n_cols), height=2.6 * len(dists) + 0.6)
    axes = np.atleast_2d(fig.subplots(len(dists), n_cols, squeeze=False))
    for row, (name, dist) in enumerate(dists.items()):
        edges = np.asarray(dist["bin_edges"].values)
        for col in range(n_cols):
            ax = axes[row, col]
            if col >= dist.sizes["layer"]:
                ax.set_axis_off()
                continue
            d = dist.isel(layer=col)
            counts = np.asarray(d["counts"].values, dtype=np.float64)
            total = counts.sum()
            var = str(d["variable"].values)
            ax.bar(edges[:-1], counts / total if total else counts, width=np.diff(edges), align="edge",
                   color="#0072B2" if var == "c" else "#D55E00", edgecolor="none")
            share = (f"inside (-2, 2): {float(d['share_inside_2']):.0%}" if var == "c"
                     else f"outside (-0.7, 0.7): {float(d['share_outside_0_7']):.0%}")
            ax.set_title(f"{name} layer {int(d['layer'])} {var}\n{share}".strip(), fontsize="small")
            ax.set_xlabel(f"{var} (clipped to ±{dist.attrs.get('clip', 10):g})" if var == "c" else var)
            if col == 0:
                ax.set_ylabel("share of values")
    return fig


def responsibility_map(resp, *, units=None):
    """Neuronal responsibility per class and unit, one panel per layer (Tang, Shi & Wang, Figs. 4-6).

    Parameters
    ----------
    resp : xarray.DataArray
        From :func:`rnnscope.analysis.responsibility`.
    units : list of int, optional
        Units to show (0-based), default all.

    Returns
    -------
    matplotlib.figure.Figure
        One class x unit image per layer and a colour bar.

    Examples
    --------
    >>> from rnnscope import analysis, examples, plots
    >>> resp = analysis.responsibility(examples.toy_run(num_layers=2), irregular=10)
    >>> len(plots.responsibility_map(resp).axes)  # two layers and a colour bar
    3
    """
    resp = resp.transpose("class_name", "unit", "layer")
    if units is not None:
        resp = resp.sel(unit=list(units))
    n_layers = resp.sizes["layer"]
    fig = _blank_figure(height=1.0 + 1.8 * n_layers)
    axes = np.atleast_1d(fig.subplots(n_layers, 1, sharex=True))
    image = None
    for ax, l in zip(axes, range(n_layers), strict=True):
        sub = resp.isel(layer=l)
        image = ax.imshow(sub.values, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks(np.arange(sub.sizes["class_name"]), [str(c) for c in sub["class_name"].values])
        rule = f", {sub['rule'].item()} ({sub['low'].item():g}, {sub['high'].item():g})" if "rule" in sub.coords else ""
        var = f" {sub['variable'].item()}" if "variable" in sub.coords else ""
        ax.set_title(f"layer {int(sub['layer'])}{var}{rule}", fontsize="small")
        if sub.sizes["unit"] <= 40:
            ax.set_xticks(np.arange(sub.sizes["unit"]), [str(u) for u in sub["unit"].values], fontsize="x-small")
    axes[-1].set_xlabel("unit (0-based)")
    fig.colorbar(image, ax=list(axes), label="P(irregular | class)", shrink=0.8)
    return fig


def temporal_traces(traces):
    """Temporal trace of a record in the 2-D embedding of its states, per layer (Tang, Shi & Wang, Fig. 7).

    Parameters
    ----------
    traces : xarray.DataArray or dict name -> DataArray
        From :func:`rnnscope.analysis.temporal_trace`; one row per model, one panel per layer. The path is drawn
        in time order; points are coloured by their frame's class.

    Returns
    -------
    matplotlib.figure.Figure
        One row per model, one panel per layer.

    Examples
    --------
    >>> from rnnscope import analysis, examples, plots
    >>> tr = analysis.temporal_trace(examples.toy_run(num_layers=2), event=0)
    >>> len(plots.temporal_traces({"lstm": tr}).axes)
    2
    """
    traces = _as_mapping(traces, "DataArray")
    n_cols = max(t.sizes["layer"] for t in traces.values())
    fig = _blank_figure(width=3.6 * n_cols + 0.5, height=3.4 * len(traces) + 0.4)
    axes = np.atleast_2d(fig.subplots(len(traces), n_cols, squeeze=False))
    for row, (name, tr) in enumerate(traces.items()):
        labels = tr["label"].values if "label" in tr.coords else np.full(tr.sizes["time"], -1)
        names = [str(c) for c in tr.attrs.get("class_names", list(CLASS_COLORS))]
        for col in range(n_cols):
            ax = axes[row, col]
            if col >= tr.sizes["layer"]:
                ax.set_axis_off()
                continue
            xy = tr.isel(layer=col).values
            ax.plot(xy[:, 0], xy[:, 1], color="0.6", lw=0.7, zorder=1)
            colors = ["#FFFFFF" if lab < 0 or lab >= len(names) else class_color(names[int(lab)], names)
                      for lab in labels]
            ax.scatter(xy[:, 0], xy[:, 1], c=colors, s=10, edgecolors="k", linewidths=0.2, zorder=2)
            if len(xy):
                ax.plot(*xy[0], marker=">", color="k", ms=6)
            var = f" {tr['variable'].values[col]}" if "variable" in tr.coords else ""
            ax.set_title(f"{name} layer {int(tr['layer'].values[col])}{var} ({tr.attrs.get('method', '')})".strip(),
                         fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
    return fig


def perturbation_map(diff, *, units=None, threshold: float = 0.1):
    """Difference between perturbed and clean values per unit over time, per layer (Tang, Shi & Wang, Fig. 8).

    One image per layer (units x time, RdBu, symmetric robust range, the noise span marked), a bottom panel with
    the mean ``abs(difference)`` relative to the clean run's standard deviation per layer and the recovery threshold,
    and a colour bar.

    Parameters
    ----------
    diff : xarray.DataArray
        From :func:`rnnscope.analysis.perturbation`.
    units : list of int, optional
        Units to show (0-based), default all.
    threshold : float
        Drawn as the recovery threshold (see :func:`rnnscope.analysis.recovery_time`).

    Returns
    -------
    matplotlib.figure.Figure
        One units x time image per layer, the relative difference curve, and a colour bar.

    Examples
    --------
    >>> from rnnscope import analysis, examples, plots
    >>> run = examples.toy_run(num_layers=2)
    >>> diff = analysis.perturbation(run, run, noise=(2, 4))
    >>> len(plots.perturbation_map(diff).axes)  # two layers, the curve, the colour bar
    4
    """
    d = diff.transpose("time", "unit", "layer")
    if units is not None:
        d = d.sel(unit=list(units))
    n_layers = d.sizes["layer"]
    times = d["time"].values
    fig = _blank_figure(height=1.6 * n_layers + 2.4)
    ratios = [1.0] * n_layers + [0.8]
    axes = np.atleast_1d(fig.subplots(n_layers + 1, 1, sharex=True, gridspec_kw={"height_ratios": ratios}))
    lo, hi = activation_limits("c", d.values)
    start, stop = int(d.attrs.get("noise_start_frame", -1)), int(d.attrs.get("noise_stop_frame", -1))
    image = None
    for l in range(n_layers):
        ax = axes[l]
        sub = d.isel(layer=l)
        image = ax.pcolormesh(times, np.arange(sub.sizes["unit"]), sub.values.T, shading="nearest", cmap="RdBu",
                              vmin=lo, vmax=hi)
        var = f" {sub['variable'].item()}" if "variable" in sub.coords else ""
        ax.set_ylabel(f"layer {int(sub['layer'])}{var}\nunit")
    scale = np.asarray(d["clean_std"].values) if "clean_std" in d.coords else np.ones(n_layers)
    rel = np.abs(d.values).mean(1) / np.where(scale > 0, scale, np.nan)
    ax = axes[-1]
    for l in range(n_layers):
        ax.plot(times, rel[:, l], label=f"layer {int(d['layer'].values[l])}")
    ax.axhline(threshold, color="k", ls=":", lw=0.8, label=f"threshold {threshold:g}")
    ax.set_ylabel("mean |diff| / std")
    ax.set_xlabel("time (s)")
    ax.legend(fontsize="x-small", loc="upper right")
    if 0 <= start < len(times):
        step = times[1] - times[0] if len(times) > 1 else 1.0
        end = times[min(stop, len(times)) - 1] + step / 2 if stop > start else times[start] + step / 2
        for a in axes:
            a.axvspan(times[start] - step / 2, end, color="#F0E442", alpha=0.25, lw=0)
    fig.colorbar(image, ax=list(axes[:-1]), label="perturbed - clean", shrink=0.8)
    return fig

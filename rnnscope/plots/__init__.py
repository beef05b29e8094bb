"""Static figures (matplotlib, headless) drawn as the papers draw them.

Every function returns a :class:`matplotlib.figure.Figure` and never calls ``plt.show``; save with
``fig.savefig(path)``. This module imports no torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .._colors import CLASS_COLORS, class_color  # colours keyed by class name, distinct for any set of names
from .._validation import stored_background
from ._base import _as_mapping, _blank_figure, _figure, activation_limits

if TYPE_CHECKING:  # the return type of the figure makers
    import matplotlib.figure
#: colours of several curves in one figure (e.g. ablation curves of several runs)
_EXTRA_COLORS = ["#CC79A7", "#0072B2", "#F0E442", "#000000"]

__all__ = [
    "CLASS_COLORS",
    "class_color",
    "record_overview",
    "activation_limits",
    "activation_map",
    "activation_histograms",
    "heat_maps",
    "correlation_matrices",
    "top_unit_traces",
    "ablation_curves",
    "cell_distributions",
    "responsibility_map",
    "temporal_traces",
    "perturbation_map",
]


def _label_bands(ax, times, labels, class_names, y0, y1, alpha=0.35):
    """Coloured bands where each class holds (runs of equal labels, -1 left blank)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return
    change = np.flatnonzero(np.diff(labels)) + 1
    starts, ends = np.r_[0, change], np.r_[change, labels.size]
    step = times[1] - times[0] if times.size > 1 else 1.0
    for a, b in zip(starts, ends, strict=True):
        if labels[a] < 0:
            continue
        name = class_names[labels[a]]
        ax.axvspan(times[a] - step / 2, times[b - 1] + step / 2, ymin=y0, ymax=y1,
                   color=class_color(name, class_names), alpha=alpha, lw=0)


def record_overview(ds: xr.Dataset, *, event: int = 0) -> matplotlib.figure.Figure:
    """Waveform with labelled segments and P/S arrivals, spectrogram, features and frame labels of one record.

    Parameters
    ----------
    ds : xarray.Dataset
        A features Dataset with its waveform (from :func:`rnnscope.features.compute`), or a run; in memory or
        opened lazily from disk (:func:`rnnscope.open_run`: only this record is read).
    event : int or str
        Record position or ``event_id``.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per part present (waveform, spectrogram, features) and the frame labels, with a
        legend of the classes.

    Examples
    --------
    >>> import rnnscope
    >>> ds = rnnscope.features.compute(rnnscope.data.synthetic(n_records=1, seed=0))
    >>> fig = rnnscope.plots.record_overview(ds)  # record 0
    >>> len(fig.axes) >= 4
    True
    """
    from matplotlib.patches import Patch

    from ..analysis._common import event_position

    names = list(ds.attrs["class_names"])
    event = event_position(ds, event, "record_overview")
    drawn = [v for v in ("waveform", "spectrogram", "features", "label") if v in ds.data_vars]
    rec = ds[drawn].isel(event=event).load()  # one record, read once (a lazily opened run reads it from disk here)
    n_frames = int(rec["length"])
    times = rec["time"].values[:n_frames]
    panels = [p for p in ("waveform", "spectrogram", "features") if p in rec] + ["label"]
    ratios = {"waveform": 1.2, "spectrogram": 1.2, "features": 1.2, "label": 0.35}
    fig, axes = _figure(len(panels), [ratios[p] for p in panels])
    axes = np.atleast_1d(axes)
    title = f"record {rec['event_id'].values.item() if 'event_id' in rec.coords else event}"
    for coord in ("trace_id", "starttime"):
        if coord in rec.coords and rec[coord].values.item():
            title += f"  {rec[coord].values.item()}"
    fig.suptitle(title)
    for ax, panel in zip(axes, panels, strict=True):
        if panel == "waveform":
            n = int(rec["n_samples"]) if "n_samples" in rec.coords else int(rec["waveform"].notnull().sum())
            t = rec["sample_time"].values[:n]
            ax.plot(t, rec["waveform"].values[:n], lw=0.4, color="k")
            _segment_marks(ax, ds, event, names)
            ax.set_ylabel("amplitude")
        elif panel == "spectrogram":
            spec = rec["spectrogram"].values[:n_frames]
            freq = rec["freq"].values
            keep = freq <= 25.0
            vmin, vmax = np.nanpercentile(spec[:, keep], [5, 99.5]) if n_frames else (0, 1)
            ax.pcolormesh(times, freq[keep], spec[:, keep].T, shading="nearest", cmap="magma", vmin=vmin, vmax=vmax)
            ax.set_ylabel("frequency (Hz)")
        elif panel == "features":
            feats = rec["features"].values[:n_frames, :16]
            ax.pcolormesh(times, np.arange(feats.shape[1]), feats.T, shading="nearest", cmap="viridis")
            ax.set_ylabel("log filter bank")
        else:
            _label_bands(ax, times, rec["label"].values[:n_frames], names, 0, 1, alpha=0.9)
            ax.set_yticks([])
            ax.set_ylabel("label")
    axes[-1].set_xlabel("time (s)")
    handles = [Patch(color=class_color(n, names), label=n) for n in names]
    axes[0].legend(handles=handles, loc="upper right", ncols=len(names), fontsize="small", framealpha=0.8)
    return fig


def _segment_marks(ax, ds, event, names):
    """Shade the record's segments by class (the background class, ``attrs["background"]``, unshaded) and mark P
    (solid) and S (dashed) arrivals."""
    from ..schema import event_ids, segment_rows

    background = stored_background(ds.attrs)
    rows = segment_rows(ds)
    rows = rows[rows["event_id"] == event_ids(ds)[event]]  # the segment table names records by event_id
    for cls, start, end, p, s in zip(rows["class"], rows["start"], rows["end"], rows["p"], rows["s"], strict=True):
        name = names[int(cls)]
        if name != background:
            ax.axvspan(start, end, color=class_color(name, names), alpha=0.25, lw=0)
        if np.isfinite(p):
            ax.axvline(p, color="#0072B2", lw=0.8)
        if np.isfinite(s):
            ax.axvline(s, color="#0072B2", lw=0.8, ls="--")


# ============================================================================================= figures of the papers
#
# Each function takes what the matching rnnscope.analysis function returns (or a run, for record views) and draws
# it as the paper does. Unit ids on the axes are 0-based (the papers' neuron numbers are 1-based).




def _record_panels(fig_axes, run, event, names, n_frames):
    """Draw waveform and spectrogram panels (those present) on the first axes; return how many were used."""
    rec = run.isel(event=event)
    times = rec["time"].values[:n_frames]
    used = 0
    if "waveform" in rec:
        ax = fig_axes[used]
        n = int(rec["n_samples"]) if "n_samples" in rec.coords else int(rec["waveform"].notnull().sum())
        ax.plot(rec["sample_time"].values[:n], rec["waveform"].values[:n], lw=0.4, color="k")
        _segment_marks(ax, run, event, names)
        ax.set_ylabel("amplitude")
        used += 1
    if "spectrogram" in rec:
        ax = fig_axes[used]
        spec = np.asarray(rec["spectrogram"].values[:n_frames])
        freq = rec["freq"].values
        keep = freq <= 25.0
        finite = spec[:, keep][np.isfinite(spec[:, keep])]
        vmin, vmax = np.percentile(finite, [5, 99.5]) if finite.size else (0, 1)
        ax.pcolormesh(times, freq[keep], spec[:, keep].T, shading="nearest", cmap="magma", vmin=vmin, vmax=vmax)
        ax.set_ylabel("frequency (Hz)")
        used += 1
    return used


def _n_record_panels(run):
    return int("waveform" in run) + int("spectrogram" in run)


def activation_map(run: xr.Dataset, *, event=0, var: str = "h", layer: int = 0, units=None):
    """Neural activation map of one record under its waveform and spectrogram (Titos & Garcia 2022, Fig. 4).

    Panels: waveform (segments shaded, P/S marked) and spectrogram when the run has them, the units x time image of
    ``var`` (-1 red, 0 white, +1 dark blue; fixed [-1, 1] for tanh-range variables, symmetric robust range for
    ``c``), the frame labels, and a colour bar.

    Parameters
    ----------
    run : xarray.Dataset
        A run (:func:`rnnscope.capture`).
    event : int or str
        Record position or ``event_id``.
    var : str
        State variable drawn (default ``"h"``).
    layer : int
        Layer id.
    units : list of int, optional
        Units to show (0-based ids), default all.

    Returns
    -------
    matplotlib.figure.Figure
        The record's panels, the units x time image, the label band and a colour bar.

    Examples
    --------
    >>> from rnnscope import analysis, examples, plots
    >>> fig = plots.activation_map(examples.toy_run())  # record 0, h, layer 0
    >>> len(fig.axes)  # waveform, spectrogram, activation, labels, colour bar
    5
    """
    from matplotlib.patches import Patch

    from ..analysis import unit_traces
    from ..analysis._common import event_position

    e = event_position(run, event, "activation_map")
    traces = unit_traces(run, event=e, units=units, var=var, layer=layer).isel(layer=0)
    names = [str(c) for c in run.attrs.get("class_names", [])]
    n_frames = traces.sizes["time"]
    n_rec = _n_record_panels(run)
    ratios = [1.0] * n_rec + [2.0, 0.3]
    fig = _blank_figure()
    axes = np.atleast_1d(fig.subplots(len(ratios), 1, sharex=True, gridspec_kw={"height_ratios": ratios}))
    _record_panels(axes, run, e, names, n_frames)
    ax = axes[n_rec]
    times = traces["time"].values
    vmin, vmax = activation_limits(var, traces.values)
    image = ax.pcolormesh(times, np.arange(traces.sizes["unit"]), traces.values.T, shading="nearest", cmap="RdBu",
                          vmin=vmin, vmax=vmax)
    if traces.sizes["unit"] <= 40:
        ax.set_yticks(np.arange(traces.sizes["unit"]), [str(u) for u in traces["unit"].values], fontsize="x-small")
    ax.set_ylabel(f"unit (0-based), layer {layer}")
    labels = traces["label"].values if "label" in traces.coords else np.full(n_frames, -1)
    _label_bands(axes[-1], times, labels, names, 0, 1, alpha=0.9)
    axes[-1].set_yticks([])
    axes[-1].set_ylabel("label")
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(image, ax=list(axes), label=var, shrink=0.6)
    if names:
        axes[0].legend(handles=[Patch(color=class_color(n, names), label=n) for n in names], loc="upper right",
                       ncols=len(names), fontsize="small", framealpha=0.8)
    event_id = run["event_id"].values[e] if "event_id" in run.coords else e
    fig.suptitle(f"activation map of {var}, record {event_id}")
    return fig


def activation_histograms(hists, *, layer: int = 0):
    """Histograms of activation values per class (or segment) and model (Titos & Garcia 2022, Fig. 5).

    Parameters
    ----------
    hists : xarray.Dataset or dict name -> Dataset
        From :func:`rnnscope.analysis.activation_histogram`; a dict draws one row per model.
    layer : int
        Layer id.

    Returns
    -------
    Figure
        One row per model, one panel per class (segment, or a single panel for ``by=None``), titled with the
        polarization (P) and sparsity (S).

    Examples
    --------
    >>> from rnnscope import analysis, examples, plots
    >>> hist = analysis.activation_histogram(examples.toy_run(), per="class")
    >>> len(plots.activation_histograms({"lstm": hist}).axes)
    5
    """
    hists = _as_mapping(hists, "Dataset")
    first = next(iter(hists.values()))
    group_dim = next((d for d in ("class_name", "segment") if d in first["counts"].dims), None)
    n_cols = first.sizes[group_dim] if group_dim else 1
    fig = _blank_figure(width=max(8.0, 2.4 * n_cols), height=2.4 * len(hists) + 0.6)
    axes = np.atleast_2d(fig.subplots(len(hists), n_cols, sharex=True, squeeze=False))
    for row, (name, hist) in enumerate(hists.items()):
        h = hist.sel(layer=layer)
        edges = np.asarray(hist["bin_edges"].values)
        class_names = list(np.asarray(hist["class_name"].values)) if "class_name" in hist.coords else []
        for col in range(n_cols):
            ax = axes[row, col]
            sub = h.isel({group_dim: col}) if group_dim else h
            counts = np.asarray(sub["counts"].values, dtype=np.float64)
            total = counts.sum()
            if group_dim == "class_name":
                label = str(hist["class_name"].values[col])
            elif group_dim == "segment":
                label = str(hist["segment_class_name"].values[col])
            else:
                label = "all"
            color = class_color(label, class_names) if label != "all" else "#0072B2"
            ax.bar(edges[:-1], counts / total if total else counts, width=np.diff(edges), align="edge", color=color,
                   edgecolor="none")
            ax.set_title(f"{name} {label}\nP={float(sub['polarization']):.2f} S={float(sub['sparsity']):.2f}".strip(),
                         fontsize="small")
            if col == 0:
                ax.set_ylabel("share of values")
            if row == len(hists) - 1:
                ax.set_xlabel(hist.attrs.get("variable", "value"))
    return fig


def heat_maps(run_or_heat, *, fractions=(1.0, 0.5, 0.3), layer: int = 0, weighting: str = "segment",
              rule: str = "every"):
    """Heat maps per class for the most active 100 / 50 / 30 % of the units (Titos & Garcia 2022, Fig. 6).

    Each panel is the class x unit image of :func:`rnnscope.analysis.top_fraction` with ``rule``: ``"every"`` (the
    paper's reading: units in the top fraction of every class, i.e. the units that are *not* class-specific) or
    ``"any"`` (units in the top fraction of at least one class), plus one colour bar. With ``"every"``, an empty
    panel (frequent at 30 % in small models) means that the most active units differ between classes; it says so.

    Parameters
    ----------
    run_or_heat : xarray.Dataset or xarray.DataArray
        A run (its :func:`rnnscope.analysis.heat_map` is computed with ``weighting``) or a heat map.
    fractions : sequence of float
        The fractions of units drawn, one panel each (default the paper's 100, 50 and 30 %).
    layer : int
        Layer id.
    weighting : {"segment", "frame"}
        As in :func:`rnnscope.analysis.heat_map` (used when a run is given).
    rule : {"every", "any"}
        As in :func:`rnnscope.analysis.top_fraction`.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per fraction, titled with its number of units, and a colour bar.

    Examples
    --------
    >>> from rnnscope import analysis, examples, plots
    >>> len(plots.heat_maps(examples.toy_run()).axes), len(plots.heat_maps(examples.toy_run(), rule="any").axes)
    (4, 4)
    """
    from ..analysis import heat_map, top_fraction

    heat = heat_map(run_or_heat, weighting=weighting) if isinstance(run_or_heat, xr.Dataset) else run_or_heat
    if "layer" not in heat.dims:
        heat = heat.expand_dims(layer=[layer], axis=-1)
    heat = heat.sel(layer=[layer])
    vmax = float(np.nanmax(heat.values)) if np.isfinite(heat.values).any() else 1.0
    fig = _blank_figure(height=2.2 * len(fractions) + 0.8)
    axes = np.atleast_1d(fig.subplots(len(fractions), 1))
    image = None
    which = "common to all classes" if rule == "every" else "of any class"
    for ax, fraction in zip(axes, fractions, strict=True):
        sub = top_fraction(heat, fraction=fraction, rule=rule).heat.isel(layer=0).dropna("unit", how="all")
        units = sub["unit"].values
        if units.size:
            image = ax.imshow(sub.values, aspect="auto", cmap="inferno", vmin=0, vmax=vmax, interpolation="nearest")
            if units.size <= 40:
                ax.set_xticks(np.arange(units.size), [str(u) for u in units], fontsize="x-small")
        else:
            ax.set_ylim(heat.sizes["class_name"] - 0.5, -0.5)
            ax.set_xticks([])
            ax.text(0.5, 0.5, f"no unit is in the top {fraction:.0%} of every class: the most active units differ "
                    "between classes\n(rule='any' shows the units in the top of at least one class)",
                    transform=ax.transAxes, ha="center", va="center", fontsize="small")
        ax.set_yticks(np.arange(heat.sizes["class_name"]), [str(c) for c in heat["class_name"].values])
        ax.set_title(f"{fraction:.0%} most active units {which} ({units.size} units)", fontsize="small")
    axes[-1].set_xlabel("unit (0-based)")
    if image is None:
        from matplotlib.cm import ScalarMappable

        image = ScalarMappable(cmap="inferno")
    fig.colorbar(image, ax=list(axes), label="heat (mean |h|)", shrink=0.8)
    return fig


def correlation_matrices(run_or_heat, *, fractions=(1.0, 0.5, 0.3), layer: int = 0, weighting: str = "segment"):
    """Class-by-class correlation of the heat maps at 100 / 50 / 30 % (Titos & Garcia 2022, Fig. 7).

    Each panel is :func:`rnnscope.analysis.class_correlation` at one fraction, its values written in the cells.

    Parameters
    ----------
    run_or_heat : xarray.Dataset or xarray.DataArray
        A run or a heat map (:func:`rnnscope.analysis.heat_map`).
    fractions : sequence of float
        The fractions of units, one panel each.
    layer : int
        Layer id.
    weighting : {"segment", "frame"}
        As in :func:`rnnscope.analysis.heat_map` (used when a run is given).

    Returns
    -------
    matplotlib.figure.Figure
        One class x class panel per fraction (titled with its number of units) and a colour bar.

    Examples
    --------
    >>> from rnnscope import analysis, examples, plots
    >>> len(plots.correlation_matrices(examples.toy_run()).axes)
    4
    """
    from ..analysis import class_correlation

    fig = _blank_figure(width=3.6 * len(fractions) + 1.0, height=3.8)
    axes = np.atleast_1d(fig.subplots(1, len(fractions)))
    image = None
    for ax, fraction in zip(axes, fractions, strict=True):
        kwargs: dict[str, Any] = {"weighting": weighting} if isinstance(run_or_heat, xr.Dataset) else {}
        corr = class_correlation(run_or_heat, fraction=fraction, **kwargs).sel(layer=layer)
        names = [str(c) for c in corr["class_name"].values]
        image = ax.imshow(corr.values, cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_xticks(np.arange(len(names)), names, rotation=90)
        ax.set_yticks(np.arange(len(names)), names)
        for i in range(len(names)):
            for j in range(len(names)):
                if np.isfinite(corr.values[i, j]):
                    ax.text(j, i, f"{corr.values[i, j]:.2f}", ha="center", va="center", fontsize="x-small")
        ax.set_title(f"{fraction:.0%} ({int(corr['n_units'])} units)", fontsize="small")
    fig.colorbar(image, ax=list(axes), label="Pearson r", shrink=0.8)
    return fig


def top_unit_traces(run: xr.Dataset, *, event=0, k: int = 5, classes=None, layer: int = 0, var: str = "h",
                    weighting: str = "segment"):
    """Time evolution of the ``k`` most active units of each class over one record (Titos & Garcia 2022,
    Figs. 8-9), under the record's waveform and spectrogram.

    Parameters
    ----------
    run : xarray.Dataset
        A run.
    event : int or str
        Record position or ``event_id``.
    k : int
        Units per class (:func:`rnnscope.analysis.top_units`).
    classes : list of str, optional
        Classes whose top units are drawn (one panel each); default the classes labelled in the record.
    layer : int
        Layer id.
    var : str
        State variable ranked and drawn (default ``"h"``).
    weighting : {"segment", "frame"}
        Weighting of the heat the units are ranked by (:func:`rnnscope.analysis.heat_map`).

    Returns
    -------
    matplotlib.figure.Figure
        The record's panels, then one panel of traces per class (legend: unit ids, 0-based, and paper numbers).

    Examples
    --------
    >>> from rnnscope import analysis, examples, plots
    >>> fig = plots.top_unit_traces(examples.toy_run(), event=0, k=2, classes=["LP", "HYB"])
    >>> len(fig.axes)  # waveform, spectrogram, one panel per class
    4
    >>> len(plots.top_unit_traces(examples.toy_run()).axes)  # record 0: the classes it holds, 5 units each
    5
    """
    from ..analysis import top_units, unit_traces
    from ..analysis._common import event_position

    e = event_position(run, event, "top_unit_traces")
    names = [str(c) for c in run.attrs.get("class_names", [])]
    ranked = top_units(run, k=k, var=var, layer=layer, weighting=weighting).isel(layer=0)
    traces = unit_traces(run, event=e, units=None, var=var, layer=layer).isel(layer=0)
    if classes is None:
        present = sorted({int(v) for v in np.asarray(traces["label"].values) if v >= 0})
        classes = [names[c] for c in present] if present else names[:1]
    n_rec = _n_record_panels(run)
    fig = _blank_figure(height=1.6 * (n_rec + len(classes)) + 0.8)
    axes = np.atleast_1d(fig.subplots(n_rec + len(classes), 1, sharex=True))
    _record_panels(axes, run, e, names, traces.sizes["time"])
    times = traces["time"].values
    vmin, vmax = activation_limits(var, traces.values)
    for ax, name in zip(axes[n_rec:], classes, strict=True):
        units = [int(u) for u in ranked.sel(class_name=name).values if u >= 0]
        for rank, unit in enumerate(units):
            ax.plot(times, traces.sel(unit=unit).values, lw=1.0, label=f"{unit} (#{unit + 1})",
                    alpha=1.0 - 0.12 * rank)
        _label_bands(ax, times, traces["label"].values, names, 0, 0.08, alpha=0.9)
        ax.set_ylim(vmin, vmax)
        ax.set_ylabel(f"top {name}")
        ax.legend(loc="upper right", fontsize="x-small", ncols=min(len(units), 5) or 1, title="unit (paper #)",
                  title_fontsize="x-small")
    axes[-1].set_xlabel("time (s)")
    event_id = run["event_id"].values[e] if "event_id" in run.coords else e
    fig.suptitle(f"most active units per class, record {event_id}, layer {layer}")
    return fig


def ablation_curves(tables):
    """Accuracy against the fraction of units kept (Titos & Garcia 2022, Fig. 10).

    Parameters
    ----------
    tables : pandas.DataFrame or dict name -> DataFrame
        From :func:`rnnscope.experiments.ablation_curve` (one line per model and ranking; random draws with
        their standard deviation as error bars). The x axis is the share of units kept, or the threshold level
        ``p`` for tables made with ``selection="threshold"`` (their kept counts are in ``n_units``).

    Returns
    -------
    matplotlib.figure.Figure
        One axes: frame accuracy (%) against the units kept, a line per model and ranking.

    Examples
    --------
    >>> import pandas as pd
    >>> from rnnscope import plots
    >>> table = pd.DataFrame({"fraction": [1, 0.5, 1, 0.5], "n_units": [8, 4, 8, 4],
    ...                       "ranking": ["activity", "activity", "random", "random"],
    ...                       "accuracy": [0.9, 0.8, 0.9, 0.6], "accuracy_std": [np.nan, np.nan, 0, 0.05]})
    >>> len(plots.ablation_curves({"lstm": table}).axes)
    1
    """
    tables = _as_mapping(tables, "DataFrame")
    fig = _blank_figure(width=6.5, height=4.5)
    ax = fig.subplots(1, 1)
    styles = {"activity": "-", "random": "--"}
    for i, (name, table) in enumerate(tables.items()):
        color = _EXTRA_COLORS[i % len(_EXTRA_COLORS)] if len(tables) > 1 else None
        for ranking, group in table.groupby("ranking", sort=False):
            group = group.sort_values("fraction")
            label = f"{name} {ranking}".strip()
            std = group["accuracy_std"].to_numpy() if "accuracy_std" in group else None
            ax.errorbar(100 * group["fraction"].to_numpy(), 100 * group["accuracy"].to_numpy(),
                        yerr=None if std is None or np.all(np.isnan(std)) else 100 * np.nan_to_num(std),
                        ls=styles.get(str(ranking), ":"), marker="o", ms=4, capsize=3, label=label, color=color)
    threshold = any("selection" in t and (t["selection"] == "threshold").any() for t in tables.values())
    ax.set_xlabel("threshold level p (%): units reaching (1 - p) x the top activity" if threshold
                  else "units kept (%)")
    ax.set_ylabel("frame accuracy (%)")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


# Tang, Shi & Wang's figures (in their own module; re-exported here)
from ._tang import cell_distributions, perturbation_map, responsibility_map, temporal_traces  # noqa: E402

"""Activity statistics of Titos & Garcia (2022): unit activity, heat maps (Fig. 6) and the traces of chosen units
(Figs. 8-9). The rankings built on the heat maps (the 100/50/30 % rule, class correlation, Table II) live in
:mod:`rnnscope.analysis._ranking`."""
from __future__ import annotations

import numpy as np
import xarray as xr

from . import _common as C

__all__ = ["unit_activity", "heat_map", "unit_traces"]


def _layer_coords(run, positions):
    return {"layer": C.layer_ids(run, positions)}


# --------------------------------------------------------------------------------------------- activity


def unit_activity(run: xr.Dataset, *, var: str = "h", layer=None) -> xr.Dataset:
    """Mean absolute and mean signed value of every unit over all valid frames.

    Definition: ``mean_abs[u, l] = mean_t |v[t, u, l]|`` and ``mean[u, l] = mean_t v[t, u, l]`` over every valid
    frame (``time < length``) of every record, whatever its label (for ``var="h"``, ``mean_abs`` equals the
    capture-time ``summary_activity``).

    Parameters
    ----------
    run : xarray.Dataset
        A run (in memory or dask-backed).
    var : str
        A state variable of the run (``"h"``, ``"c"``, a gate...).
    layer : int, list of int or None
        Layers to use (``run.layer`` values); None: all. The result always keeps a ``layer`` dimension.

    Returns
    -------
    xarray.Dataset
        ``mean_abs`` and ``mean`` (unit, layer); ``n_frames`` (scalar).

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()
    >>> act = analysis.unit_activity(run)
    >>> act["mean_abs"].dims
    ('unit', 'layer')
    >>> bool(np.allclose(act["mean_abs"], run["summary_activity"], atol=1e-6))
    True
    """
    func = "unit_activity"
    run = C.as_run(run, func)
    C.check_var(run, var, func)
    positions = C.check_layers(run, layer, func)
    total_abs = np.zeros((run.sizes["unit"], len(positions)))
    total = np.zeros_like(total_abs)
    count = 0
    for block in C.iter_blocks(run, var, positions, labels=False):
        values = block.values.astype(np.float64)
        total_abs += np.abs(values).sum(0)
        total += values.sum(0)
        count += values.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_abs, mean = total_abs / count, total / count
    coords = {"unit": C.unit_ids(run), **_layer_coords(run, positions)}
    out = xr.Dataset({"mean_abs": (("unit", "layer"), mean_abs), "mean": (("unit", "layer"), mean),
                      "n_frames": count}, coords=coords)
    out.attrs.update(variable=var, definition="mean over all valid frames of |v| (mean_abs) and v (mean)")
    return out


# --------------------------------------------------------------------------------------------- heat maps


def heat_map(
    run: xr.Dataset,
    *,
    var: str = "h",
    layer=None,
    weighting: str = "segment",
    use_summary: bool = True,
) -> xr.DataArray:
    """Heat of every unit for every class (Titos & Garcia 2022, Fig. 6).

    Definitions (``v`` the variable, valid frames only):

    - ``weighting="segment"`` (the paper's, default): the heat of a unit in one labelled segment is the mean over
      the segment's frames of ``|v|``; the heat for a class is the mean of that over all segments of the class
      (every segment counts once, whatever its length). Segment frames come from
      :func:`rnnscope.schema.segment_frames` (frame centre in ``[start, end)``).
    - ``weighting="frame"``: mean ``|v|`` over all frames labelled with the class (long segments weigh more).

    For ``var="h"`` these equal the capture-time summaries ``summary_heat`` / ``summary_heat_frame``; with
    ``use_summary=True`` (default) the stored summary is returned directly when it describes the run's records
    (``summary_event_id``; no pass over the data). After ``run.isel(event=...)``, ``sel`` or a concatenation the
    summaries describe other records and the data are read instead, giving what a capture of those records alone
    stores. After editing ``h`` in place, pass ``use_summary=False``.

    Parameters
    ----------
    run : xarray.Dataset
        A run.
    var : str
        State variable (default ``"h"``).
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    weighting : {"segment", "frame"}
    use_summary : bool
        Use ``summary_heat`` / ``summary_heat_frame`` when ``var == "h"`` and they describe the run's records.

    Returns
    -------
    xarray.DataArray
        ``heat`` (class_name, unit, layer), float64. Unit ids are 0-based (the paper's neuron numbers are
        1-based). A class with no segment (or no frame) is NaN, with an :class:`EmptyClassWarning`.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()
    >>> heat = analysis.heat_map(run, use_summary=False)
    >>> heat.dims
    ('class_name', 'unit', 'layer')
    >>> analysis.heat_map(run).identical(analysis.heat_map(run, use_summary=True))  # the stored summary
    True
    >>> bool(np.allclose(heat, run["summary_heat"], atol=1e-6, equal_nan=True))
    True
    """
    func = "heat_map"
    C.choose(weighting, ["segment", "frame"], name="weighting", func=func)
    summary = "summary_heat" if weighting == "segment" else "summary_heat_frame"
    if not isinstance(run, xr.Dataset) or "event" in run.dims or "event_id" in run.dims:
        run = C.as_run(run, func)  # a run reduced to its summaries (as widgets keep) has no records to check
    from_summary = use_summary and var == "h" and summary in run and C.summaries_usable(run)
    if not from_summary:
        C.as_run(run, func)
        C.check_var(run, var, func)
    positions = C.check_layers(run, layer, func)
    names = C.require_labels(run, func)
    if from_summary:
        heat = np.asarray(run[summary].transpose("class_name", "unit", "layer").values, dtype=np.float64)
        heat = heat[..., positions]
    elif weighting == "frame":
        heat = _frame_heat(run, var, positions, len(names))
    else:
        heat = _segment_heat(run, var, positions, len(names))
    C.warn_empty(func, "class(es)", [n for i, n in enumerate(names) if np.all(np.isnan(heat[i]))])
    out = xr.DataArray(
        heat,
        dims=("class_name", "unit", "layer"),
        coords={"class_name": np.array(names), "unit": C.unit_ids(run), **_layer_coords(run, positions)},
        name="heat",
    )
    out.attrs.update(variable=var, weighting=weighting,
                     definition=("mean over the class's segments of the segment's mean |v|" if weighting == "segment"
                                 else "mean |v| over all frames of the class"))
    return out


def _frame_heat(run, var, positions, n_classes):
    total = np.zeros((n_classes, run.sizes["unit"], len(positions)))
    count = np.zeros(n_classes)
    for block in C.iter_blocks(run, var, positions):
        a = np.abs(block.values.astype(np.float64))
        for c in range(n_classes):
            rows = block.labels == c
            if rows.any():
                total[c] += a[rows].sum(0)
                count[c] += rows.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count[:, None, None]


def segment_means(run, var, positions, table=None):
    """Mean |v| of every segment (segment, unit, layer) and its number of valid frames."""
    table = C.segment_table(run) if table is None else table
    sums = np.zeros((len(table), run.sizes["unit"], len(positions)))
    count = np.zeros(len(table))
    if len(table):
        by_event = {e: g for e, g in table.assign(row=np.arange(len(table))).groupby("event")}
        for block in C.iter_blocks(run, var, positions, events=sorted(by_event), labels=False):
            rows = by_event[block.event]
            n = block.values.shape[0]
            a = np.abs(block.values.astype(np.float64))
            for seg, start, stop in zip(rows["row"], rows["frame_start"], rows["frame_stop"], strict=True):
                lo, hi = max(int(start), block.t0), min(int(stop), block.t0 + n)
                if hi > lo:
                    sums[seg] += a[lo - block.t0 : hi - block.t0].sum(0)
                    count[seg] += hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / count[:, None, None], count, table


def _segment_heat(run, var, positions, n_classes):
    means, count, table = segment_means(run, var, positions)
    heat = np.full((n_classes, run.sizes["unit"], len(positions)), np.nan)
    seg_class = table["class"].to_numpy() if len(table) else np.zeros(0, int)
    for c in range(n_classes):
        rows = (seg_class == c) & (count > 0)
        if rows.any():
            heat[c] = means[rows].mean(0)
    return heat


def _as_heat(run_or_heat, func, var, layer, weighting) -> xr.DataArray:
    if isinstance(run_or_heat, xr.DataArray):
        missing = [d for d in ("class_name", "unit") if d not in run_or_heat.dims]
        if missing:
            raise ValueError(
                f"The 'run_or_heat' parameter of {func} must be a run or a heat map with dims (class_name, unit"
                f"[, layer]) from heat_map. Got a DataArray with dims {run_or_heat.dims} instead."
            )
        heat = run_or_heat if "layer" in run_or_heat.dims else run_or_heat.expand_dims(layer=[0], axis=-1)
        if layer is not None:
            heat = heat.sel(layer=[layer] if np.ndim(layer) == 0 else list(layer))
        return heat.transpose("class_name", "unit", "layer")
    if isinstance(run_or_heat, xr.Dataset):
        return heat_map(run_or_heat, var=var, layer=layer, weighting=weighting)
    raise TypeError(
        f"The 'run_or_heat' parameter of {func} must be a run (xarray.Dataset) or a heat map (xarray.DataArray "
        f"from heat_map). Got {type(run_or_heat).__name__} instead."
    )


def unit_traces(run: xr.Dataset, *, event=0, units=None, var: str = "h", layer=None) -> xr.DataArray:
    """Time evolution of chosen units over one record (Titos & Garcia 2022, Figs. 8-9).

    Parameters
    ----------
    run : xarray.Dataset
    event : int or str
        Record position or ``event_id`` (default 0: the first record).
    units : list of int, optional
        Unit ids (0-based; the paper's neuron numbers are 1-based); default all.
    var : str
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.

    Returns
    -------
    xarray.DataArray
        (time, unit, layer), the valid frames only (``time`` in s), with ``label`` (time) as a coordinate.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> run = examples.toy_run()
    >>> analysis.unit_traces(run).sizes  # the first record and every unit by default
    Frozen({'time': 18, 'unit': 6, 'layer': 1})
    >>> tr = analysis.unit_traces(run, event=0, units=[2, 0])
    >>> tr.dims, tr.sizes["time"] == int(run.length[0]), tr.unit.values.tolist()
    (('time', 'unit', 'layer'), True, [2, 0])
    """
    func = "unit_traces"
    run = C.as_run(run, func)
    C.check_var(run, var, func)
    positions = C.check_layers(run, layer, func)
    e = C.event_position(run, event, func)
    all_units = C.unit_ids(run)
    if units is None:
        unit_pos = np.arange(all_units.size)
    else:
        wanted = [units] if np.ndim(units) == 0 else list(units)
        lookup = {int(u): i for i, u in enumerate(all_units)}
        bad = [u for u in wanted if int(u) not in lookup]
        if bad:
            raise ValueError(
                f"The 'units' parameter of {func} must hold unit ids in [0, {all_units.size - 1}] (0-based). "
                f"Got {bad} instead."
            )
        unit_pos = np.asarray([lookup[int(u)] for u in wanted], dtype=np.int64)
    values, labels = C.event_values(run, var, positions, e)
    n = values.shape[0]
    out = xr.DataArray(
        values[:, unit_pos].astype(np.float64),
        dims=("time", "unit", "layer"),
        coords={"time": np.asarray(run["time"].values)[:n], "unit": all_units[unit_pos],
                **_layer_coords(run, positions)},
        name=var,
    )
    if labels is not None:
        out = out.assign_coords(label=("time", labels))
    if "event_id" in run.coords:
        out = out.assign_coords(event_id=run["event_id"].values[e])
    out.attrs["variable"] = var
    return out

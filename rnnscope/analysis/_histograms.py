"""Activation histograms per class or segment (Titos & Garcia 2022, Fig. 5)."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from ..errors import NumericalWarning
from . import _common as C
from ._activity import _layer_coords

__all__ = ["activation_histogram"]

#: |activation| above this counts as polarized (Titos & Garcia: activations close to -1 / +1).
POLAR_THRESHOLD = 0.9
#: |activation| below this counts as silent (sparsity).
SPARSE_THRESHOLD = 0.1
#: equal bins over a variable's range when a histogram is not given its bins (analyses and widgets alike)
DEFAULT_BINS = 40


# --------------------------------------------------------------------------------------------- histograms


def _default_edges(run, var, positions):
    """Equal bins over the variable's range (:func:`rnnscope.analysis._common.display_range`: the run's stored
    value range, never an assumed [-1, 1])."""
    return np.linspace(*C.display_range(run, var, positions), DEFAULT_BINS + 1)


def activation_histogram(
    run: xr.Dataset,
    *,
    var: str = "h",
    layer=None,
    bins=None,
    per: str | None = "class",
    polar: float = POLAR_THRESHOLD,
    sparse: float = SPARSE_THRESHOLD,
) -> xr.Dataset:
    """Histograms of activation values (Titos & Garcia 2022, Fig. 5) with polarization and sparsity.

    Definitions (over valid frames and all units of a layer, per group):

    - ``counts[group, bin, layer]``: number of (frame, unit) values in each bin. Values outside the bin edges are
      counted in the first / last bin; NaN or infinite values inside valid frames (a broken run) are counted in no
      bin, with a ``RuntimeWarning`` naming the first.
    - ``polarization = P(|v| > polar)``, the share of values close to -1 / +1 (``polar = 0.9``);
    - ``sparsity = P(|v| < sparse)``, the share of values close to 0 (``sparse = 0.1``).

    Both shares are computed from the values themselves, not from the bins.

    Parameters
    ----------
    run : xarray.Dataset
        A run.
    var : str
        State variable (default ``"h"``).
    layer : int, list of int or None
        Layers (None: all); the result keeps a ``layer`` dimension.
    bins : int or array of edges, optional
        Default: 40 equal bins on [0, 1] for gates, on [-1, 1] for the candidates and for ``h`` of tanh cells, and
        on [-m, m] with ``m = max |v|`` for ``c`` and for ``h`` that leaves [-1, 1] (a ReLU RNN, an LSTM with
        ``proj_size``), read from the run's stored value ranges. An int gives that many equal bins on the same
        range.
    per : {"class", "segment", None}
        One histogram per class (frames grouped by their label: dimension ``class_name``; frames labelled -1 are
        left out), per labelled segment (dimension ``segment``, one per segment of the run's records in record
        order, with ``segment_class_name`` and ``segment_event_id`` coordinates), or one over every valid frame,
        known label or not (None).
    polar, sparse : float
        Thresholds of polarization and sparsity.

    Returns
    -------
    xarray.Dataset
        ``counts`` ([group,] bin, layer) int64, ``bin_edges`` (bin_edge), ``polarization``, ``sparsity`` and
        ``n_values`` ([group,] layer). ``bin`` holds the bin centres. A class without frames gives zero counts
        and NaN shares, with an :class:`EmptyClassWarning`.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> hist = analysis.activation_histogram(examples.toy_run())  # by class, 40 bins on [-1, 1]
    >>> hist["counts"].dims, hist["polarization"].dims
    (('class_name', 'bin', 'layer'), ('class_name', 'layer'))
    >>> bool(((hist["polarization"] >= 0) & (hist["polarization"] <= 1)).all())
    True
    """
    func = "activation_histogram"
    run = C.as_run(run, func)
    C.check_var(run, var, func)
    C.choose(per, ["class", "segment", None], name="per", func=func)
    positions = C.check_layers(run, layer, func)
    if bins is None or (isinstance(bins, (int, np.integer)) and not isinstance(bins, bool)):
        edges = _default_edges(run, var, positions)
        if bins is not None:
            if bins < 1:
                raise ValueError(
                    f"The 'bins' parameter of {func} must be a positive int or increasing edges. Got {bins!r} instead."
                )
            edges = np.linspace(edges[0], edges[-1], int(bins) + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
            raise ValueError(
                f"The 'bins' parameter of {func} must be a positive int or increasing edges (1-D, at least 2). "
                f"Got {bins!r} instead."
            )
    n_bins, n_layers = edges.size - 1, len(positions)
    names = C.require_labels(run, func) if per == "class" else C.class_names(run)
    if per == "class":
        n_groups = len(names)
    elif per == "segment":
        table = C.segment_table(run)
        n_groups = len(table)
        table = table.assign(row=np.arange(n_groups))  # the group of each segment
        seg_rows = {e: g for e, g in table.groupby("event")} if n_groups else {}
    else:
        n_groups = 1
    counts = np.zeros((n_groups, n_bins, n_layers), dtype=np.int64)
    n_polar = np.zeros((n_groups, n_layers), dtype=np.int64)
    n_sparse = np.zeros_like(n_polar)
    n_values = np.zeros_like(n_polar)

    def add(group_index, values):
        # values (frames, unit, layer)
        if values.shape[0] == 0:
            return
        a = np.abs(values)
        n_polar[group_index] += (a > polar).sum((0, 1))
        n_sparse[group_index] += (a < sparse).sum((0, 1))
        finite = np.isfinite(values)
        n_values[group_index] += finite.sum((0, 1))
        idx = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
        for k in range(n_layers):  # NaN would sort past the last edge: never counted in a bin
            counts[group_index, :, k] += np.bincount(idx[..., k][finite[..., k]], minlength=n_bins)[:n_bins]

    bad: dict[str, Any] = {"count": 0, "first": None}  # NaN / inf inside valid frames: counted in no bin, and said
    for block in C.iter_blocks(run, var, positions, labels=per == "class"):
        broken = ~np.isfinite(block.values)
        if broken.any() and bad["first"] is None:
            bad["first"] = (block.event, block.t0 + int(np.flatnonzero(broken.any((1, 2)))[0]))
        bad["count"] += int(broken.sum())
        if per == "class":
            for c in range(len(names)):
                rows = np.asarray(block.labels == c)
                if rows.any():
                    add(c, block.values[rows])
        elif per == "segment":
            mine = seg_rows.get(block.event)
            if mine is None:
                continue
            n = block.values.shape[0]
            for seg, a, b in zip(mine["row"], mine["frame_start"], mine["frame_stop"], strict=True):
                lo, hi = max(int(a), block.t0), min(int(b), block.t0 + n)
                if hi > lo:
                    add(int(seg), block.values[lo - block.t0 : hi - block.t0])
        else:
            add(0, block.values)

    if bad["count"]:
        event, frame = bad["first"]
        ids = np.asarray(run["event_id"].values) if "event_id" in run.coords else np.arange(run.sizes["event"])
        warnings.warn(f"{func}: {bad['count']} values of {var!r} inside valid frames (time < length) are NaN or "
                      f"infinite (the first in record {str(ids[event])!r}, frame {frame}); they are left out of the "
                      "counts and shares (n_values). A run holds NaN only past 'length' or after a missing input "
                      "frame (every unit NaN): check the capture or the 'length' coordinate.", NumericalWarning,
                      stacklevel=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        polarization = n_polar / n_values
        sparsity = n_sparse / n_values
    polarization = np.where(n_values > 0, polarization, np.nan)
    sparsity = np.where(n_values > 0, sparsity, np.nan)
    coords = {"bin": 0.5 * (edges[1:] + edges[:-1]), "bin_edges": ("bin_edge", edges), **_layer_coords(run, positions)}
    if per == "class":
        group_dims: tuple[str, ...] = ("class_name",)
        coords["class_name"] = np.array(names)
        C.warn_empty(func, "class(es)", [n for i, n in enumerate(names) if n_values[i].sum() == 0])
    elif per == "segment":
        group_dims = ("segment",)
        seg_class = table["class"].to_numpy() if n_groups else np.zeros(0, int)
        coords["segment_class_name"] = ("segment", np.array([names[c] for c in seg_class], dtype=object))
        coords["segment_event_id"] = ("segment", table["event_id"].to_numpy().astype(str) if n_groups
                                      else np.zeros(0, dtype=str))
        empty = [int(s) for s in range(n_groups) if n_values[s].sum() == 0]
        C.warn_empty(func, "segment(s)", empty)
    else:
        group_dims = ()
        counts, polarization, sparsity, n_values = counts[0], polarization[0], sparsity[0], n_values[0]
    out = xr.Dataset(
        {
            "counts": (group_dims + ("bin", "layer"), counts),
            "polarization": (group_dims + ("layer",), polarization),
            "sparsity": (group_dims + ("layer",), sparsity),
            "n_values": (group_dims + ("layer",), n_values),
        },
        coords=coords,
    )
    out.attrs.update(variable=var, per=str(per), polar_threshold=float(polar), sparse_threshold=float(sparse))
    out["polarization"].attrs["definition"] = f"share of values with |v| > {polar}"
    out["sparsity"].attrs["definition"] = f"share of values with |v| < {sparse}"
    return out

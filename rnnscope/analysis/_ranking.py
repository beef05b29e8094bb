"""Rankings built on the heat maps (Titos & Garcia 2022): the 100/50/30 % rule (Fig. 6), class correlation (Fig. 7)
and the most active units of every class (Table II), each with its chance level on request (``null=``).

The rankings are computed on arrays with any leading axes (``(..., class, unit, layer)``), so the null distribution
of a ranking is the same code run on the heat maps of permuted segment labels (:mod:`rnnscope.analysis._null`).
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import xarray as xr

from ..errors import NumericalWarning
from . import _common as C
from ._activity import _as_heat
from ._null import check_null, heat_null, null_attrs, summarise

__all__ = ["TopFraction", "top_fraction", "class_correlation", "top_units"]

_RULES = ("every", "any", "class")


# --------------------------------------------------------------------------------------------- kernels


def _n_top(fraction: float, n_units: int) -> int:
    return max(1, int(np.floor(fraction * n_units + 0.5)))


def _top_sets(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(..., group, unit, layer) heat -> (in the ``k`` largest of its group and layer (ties: lower unit first),
    group has frames (..., group, 1, layer)); an all-NaN group is in no top set."""
    filled = np.where(np.isnan(values), -np.inf, values)
    order = np.argsort(-filled, axis=-2, kind="stable")
    rank = np.empty_like(order)
    n_units = values.shape[-2]
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n_units)[:, None], order.shape), axis=-2)
    present = ~np.all(np.isnan(values), axis=-2, keepdims=True)
    return (rank < k) & present, present


def _kept(values: np.ndarray, k: int, rule: str, segment_top=None, labels=None) -> np.ndarray:
    """Per class, the units kept by ``rule`` (..., class, unit, layer), from heat maps (..., class, unit, layer).

    ``every`` and ``any`` keep one set for all classes; ``class`` keeps, for each class, the units in the top ``k``
    of every segment of the class (``segment_top`` (segment, unit, layer) and the segments' ``labels``
    (..., segment)).
    """
    if rule == "class":
        labels = np.atleast_2d(labels)
        onehot = (labels[:, None, :] == np.arange(values.shape[-3])[None, :, None]).astype(np.float64)
        inside = onehot @ segment_top.reshape(segment_top.shape[0], -1).astype(np.float64)
        n_segments = onehot.sum(-1)[..., None]
        kept = (inside == n_segments) & (n_segments > 0)
        return kept.reshape(values.shape)
    top, present = _top_sets(values, k)
    if rule == "every":  # a class without frames is ignored; no class with frames: every unit (vacuously)
        shared = np.all(top | ~present, axis=-3, keepdims=True)
    else:
        shared = np.any(top, axis=-3, keepdims=True)
    return np.broadcast_to(shared, values.shape)


def _ranked(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest heats of every class and layer (..., class, k, layer) and their unit positions."""
    filled = np.where(np.isnan(values), -np.inf, values)
    order = np.argsort(-filled, axis=-2, kind="stable")[..., :k, :]
    return order, np.take_along_axis(values, order, axis=-2)


def _segment_top(parts, k: int) -> np.ndarray:
    """(segment, unit, layer): the unit is among the ``k`` most active of the segment (its mean ``|v|``)."""
    return _top_sets(parts.values[None], k)[0][0]


def _layer_key(lid):
    return int(lid) if np.issubdtype(np.asarray(lid).dtype, np.integer) else lid


# --------------------------------------------------------------------------------------------- the 100/50/30 % rule


class TopFraction(NamedTuple):
    """Result of :func:`top_fraction`.

    Parameters
    ----------
    heat : xarray.DataArray
        The heat restricted to the kept units (class_name, unit, layer).
    units : dict
        Layer id -> sorted list of the kept unit ids (0-based).

    Examples
    --------
    >>> heat = xr.DataArray([[3.0, 2.0, 1.0], [2.0, 3.0, 0.0]], dims=("class_name", "unit"),
    ...                     coords={"class_name": ["A", "B"], "unit": [0, 1, 2]})
    >>> heat_kept, units = top_fraction(heat, fraction=0.67)
    >>> units
    {0: [0, 1]}
    >>> heat_kept.sel(class_name="A").values.ravel().tolist()
    [3.0, 2.0]
    """

    heat: xr.DataArray
    """The heat restricted to the kept units (class_name, unit, layer); NaN where a unit is not kept (in this
    layer, or for this class with ``rule="class"``). Coordinate ``n_units`` (layer): how many units are kept,
    with ``n_units_null_mean``, ``n_units_null_q95`` and ``n_units_p`` when a null was asked for."""
    units: dict
    """Layer id -> sorted list of the kept unit ids (0-based)."""


def top_fraction(run_or_heat, fraction: float, *, rule: str = "every", var: str = "h", layer=None,
                 weighting: str = "segment", null: int | None = None, seed: int = 0,
                 null_within: str = "record") -> TopFraction:
    """The units among the most active ``fraction`` for EVERY class ("common to all events"), for ANY class, or
    for every event of each CLASS.

    Definition (Titos & Garcia 2022, Figs. 6-7; the paper's "most active neurons common to all events of the same
    class" reads three ways, ``docs/definitions.md``): per layer, let ``k = max(1, round(fraction x n_units))``; the
    top set of a class is its ``k`` units of largest heat (ties: lower unit id first). Classes with all-NaN heat
    (no frames) are ignored. ``fraction=1`` keeps every unit.

    - ``rule="every"`` (default): the intersection of the classes' top sets, the units that are very active
      whatever the class, i.e. the units that are *not* class-specific. At small fractions of small models this
      set is often empty: no unit is in the top 30 % of every class. An empty panel then says that the most active
      units differ between classes (the opposite of a shared core), not that the analysis failed.
    - ``rule="any"``: the union of the top sets, the units that are very active for at least one class (the
      class-specific units together with the shared ones).
    - ``rule="class"``: for each class, the units among the ``k`` most active of **every segment** of the class
      (by the segment's mean ``|v|``): the units each class uses in all its events. The heat of a class is kept on
      its own units only; ``units`` is their union over classes. The set shrinks as a class has more events (one
      unusual event removes a unit), so compare classes with similar numbers of segments. Needs the run.

    Parameters
    ----------
    run_or_heat : xarray.Dataset or xarray.DataArray
        A run (then :func:`heat_map` is computed with ``var``, ``layer``, ``weighting``) or a heat map from
        :func:`heat_map`: (class_name, unit[, layer]).
    fraction : float in (0, 1]
        E.g. 1.0, 0.5, 0.3 for the paper's 100/50/30 %.
    rule : {"every", "any", "class"}
        Intersection (every class), union (any class) of the classes' top sets, or each class's units common to
        all its segments.
    var, layer, weighting
        As in :func:`heat_map` (used when a run is given).
    null : int, optional
        Number of permutations of the segments' classes within records (:mod:`rnnscope.analysis._null`) giving the
        chance level of ``n_units``; needs the run. Under permuted labels the classes' heat maps look alike, so
        the shared set (``every``) grows: ``n_units_p`` near 1 says that the classes share fewer units than
        chance, a small one that they share more.
    seed : int
        Seed of the permutations.
    null_within : {"record", "run"}
        Permute the classes among the segments of each record (default) or among all segments.

    Returns
    -------
    TopFraction
        ``(heat, units)``: the heat restricted to the units kept in at least one layer (NaN where a unit is not
        kept), and a dict layer id -> unit ids. An empty set gives an empty list.

    Examples
    --------
    >>> heat = xr.DataArray([[3.0, 2.0, 1.0, 0.0], [2.0, 3.0, 0.0, 1.0]], dims=("class_name", "unit"),
    ...                     coords={"class_name": ["A", "B"], "unit": [0, 1, 2, 3]})
    >>> top = top_fraction(heat, fraction=0.5)
    >>> top.units
    {0: [0, 1]}
    >>> top.heat.sizes["unit"], top.heat["n_units"].values.tolist()
    (2, [2])
    >>> top_fraction(heat, fraction=0.25).units, top_fraction(heat, fraction=0.25, rule="any").units
    ({0: []}, {0: [0, 1]})

    A run works as well (the paper's analysis as it is usually called), with the chance level of the count:

    >>> from rnnscope.examples import toy_run
    >>> sorted(top_fraction(toy_run(), fraction=0.5).units)
    [0]
    >>> top = top_fraction(toy_run(), fraction=0.5, null=50)
    >>> sorted(name for name in top.heat.coords if name.startswith("n_units"))
    ['n_units', 'n_units_null_mean', 'n_units_null_q95', 'n_units_p']
    """
    func = "top_fraction"
    fraction = C.check_fraction(fraction, name="fraction", func=func)
    C.choose(rule, list(_RULES), name="rule", func=func)
    null = check_null(null, null_within, seed, func)
    if rule == "class" and not isinstance(run_or_heat, xr.Dataset):
        raise ValueError(f"{func}: rule='class' reads every segment of each class, so it needs the run, not a heat "
                         "map. Pass the run: rnnscope.analysis.top_fraction(run, fraction=fraction, rule='class').")
    heat = _as_heat(run_or_heat, func, var, layer, weighting)
    values = np.asarray(heat.values, dtype=np.float64)
    k = _n_top(fraction, values.shape[1])
    null_out = parts = None
    if null is not None or rule == "class":
        def score(heats, labels, parts):
            top = _segment_top(parts, k) if rule == "class" else None
            return {"n_units": _kept(heats, k, rule, top, labels).any(-3).sum(-2).astype(np.float64)}

        reference, nulls, parts = heat_null(run_or_heat, func, var=var, layer=layer, weighting=weighting,
                                            null=null or 0, within=null_within, seed=seed, score=score)
        if null is not None:
            null_out = summarise(reference["n_units"], nulls["n_units"])
    if rule == "class":
        assert parts is not None  # rule='class' computed them above
        kept = _kept(values[None], k, rule, _segment_top(parts, k), parts.labels[None])[0]
    else:
        kept = _kept(values, k, rule)
    any_class = kept.any(0)  # (unit, layer)
    unit_values = np.asarray(heat["unit"].values)
    layers = np.asarray(heat["layer"].values)
    units = {_layer_key(lid): [int(u) for u in unit_values[any_class[:, l]]] for l, lid in enumerate(layers)}
    mask = xr.DataArray(kept, dims=("class_name", "unit", "layer"),
                        coords={"unit": heat["unit"], "layer": heat["layer"]})
    restricted = heat.where(mask).isel(unit=np.flatnonzero(any_class.any(1)))
    coords = {"n_units": ("layer", any_class.sum(0))}
    if null_out is not None:
        coords.update(
            {f"n_units_{s}": ("layer", v) for s, v in zip(("null_mean", "null_q95", "p"), null_out, strict=True)}
        )
    restricted = restricted.assign_coords(coords)
    restricted.attrs = {**heat.attrs, "fraction": fraction, "n_top_per_class": k, "rule": rule,
                        **(null_attrs(null, null_within, seed) if null is not None else {})}
    return TopFraction(restricted, units)


def class_correlation(
    run_or_heat,
    *,
    fraction: float = 1.0,
    rule: str = "every",
    var: str = "h",
    layer=None,
    weighting: str = "segment",
    null: int | None = None,
    seed: int = 0,
    null_within: str = "record",
) -> xr.DataArray:
    """Pearson correlation between the heat maps of every pair of classes (Titos & Garcia 2022, Fig. 7).

    Definition: per layer, the heat vectors of two classes over the unit set of :func:`top_fraction`
    (``fraction``, ``rule``: the units of every class, of any class, or the union of each class's units common
    to all its segments) are correlated (Pearson). Fewer than 2 units gives NaN with a ``RuntimeWarning``; a
    constant vector gives NaN.

    Chance level: not 0. When the labels carry no class information, every class's heat map is a noisy copy of
    the units' overall activity, so two classes correlate positively as soon as units differ in how active they
    are (about 0.6 on average on the shipped :func:`rnnscope.examples.trained_run`); ``null=N`` recomputes the whole
    analysis (unit set included) on ``N`` permutations of the segments' classes within records. A correlation
    below its ``correlation_null_mean`` says the two classes use the units more differently than chance;
    ``correlation_p`` is one-sided like every ``<score>_p`` (is it *higher* than chance?), so a small
    ``1 - correlation_p`` marks classes that differ.

    Parameters
    ----------
    run_or_heat : xarray.Dataset or xarray.DataArray
        A run (then :func:`heat_map` is computed with ``var``, ``layer``, ``weighting``) or a heat map.
    fraction : float in (0, 1]
        1.0, 0.5, 0.3 for the paper's 100/50/30 %.
    rule : {"every", "any", "class"}
        The unit set, as in :func:`top_fraction` (``"class"`` needs the run).
    var, layer, weighting
        As in :func:`heat_map`.
    null : int, optional
        Number of permutations of the segments' classes (needs the run).
    seed : int
        Seed of the permutations.
    null_within : {"record", "run"}
        Permute within each record (default) or among all segments.

    Returns
    -------
    xarray.DataArray
        ``correlation`` (class_name, class_name_other, layer): the two class dimensions are named ``class_name``
        and ``class_name_other`` (xarray needs distinct names); ``n_units`` (layer) is the size of the unit set;
        with ``null``, coordinates ``correlation_null_mean``, ``correlation_null_q95`` and ``correlation_p``.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> corr = analysis.class_correlation(examples.toy_run())
    >>> corr.dims, int(corr.n_units[0])
    (('class_name', 'class_name_other', 'layer'), 6)
    >>> float(corr.sel(class_name="LP", class_name_other="LP")[0])
    1.0
    >>> int(analysis.class_correlation(examples.toy_run(), fraction=0.5, rule="any").n_units[0])
    5
    >>> corr = analysis.class_correlation(examples.toy_run(), null=20)
    >>> corr["correlation_null_mean"].dims
    ('class_name', 'class_name_other', 'layer')
    """
    func = "class_correlation"
    fraction = C.check_fraction(fraction, name="fraction", func=func)
    C.choose(rule, list(_RULES), name="rule", func=func)
    null = check_null(null, null_within, seed, func)
    heat = _as_heat(run_or_heat, func, var, layer, weighting)
    top = top_fraction(run_or_heat if rule == "class" else heat, fraction=fraction, rule=rule, var=var, layer=layer,
                       weighting=weighting)
    names = np.asarray(heat["class_name"].values)
    layers = np.asarray(heat["layer"].values)
    values = np.asarray(heat.values, dtype=np.float64)
    kept = np.zeros(values.shape[1:], dtype=bool)
    unit_values = list(np.asarray(heat["unit"].values))
    for l, lid in enumerate(layers):
        kept[[unit_values.index(u) for u in top.units[_layer_key(lid)]], l] = True
    out = _correlations(values, kept)
    n_units = kept.sum(0)
    too_few = [(lid, int(n)) for lid, n in zip(layers, n_units, strict=True) if n < 2]
    if too_few:
        where = ", ".join(f"layer {lid}: {n} unit{'s' if n != 1 else ''}" for lid, n in too_few)
        which = {"every": "of every class", "any": "of any class", "class": "of all events of a class"}[rule]
        warnings.warn(f"{func}: fewer than 2 units are among the top {fraction:.0%} {which} ({where}), so the "
                      "correlation there is NaN. Pass a larger fraction (e.g. fraction=1.0) or a model with more "
                      "units.", NumericalWarning, stacklevel=2)
    result = xr.DataArray(
        out,
        dims=("class_name", "class_name_other", "layer"),
        coords={"class_name": names, "class_name_other": names.copy(), "layer": layers,
                "n_units": ("layer", n_units)},
        name="correlation",
    )
    result.attrs.update(fraction=fraction, rule=rule,
                        definition="Pearson correlation of class heat maps over the units of top_fraction(rule)",
                        **{k: v for k, v in heat.attrs.items() if k in ("variable", "weighting")})
    if null is not None:
        k = _n_top(fraction, values.shape[1])

        def score(heats, labels, parts):
            top_segments = _segment_top(parts, k) if rule == "class" else None
            sets = _kept(heats, k, rule, top_segments, labels).any(-3)  # (m, unit, layer)
            return {"correlation": np.stack([_correlations(h, s) for h, s in zip(heats, sets, strict=True)])}

        reference, nulls, _ = heat_null(run_or_heat, func, var=var, layer=layer, weighting=weighting, null=null,
                                        within=null_within, seed=seed, score=score)
        dims = ("class_name", "class_name_other", "layer")
        stats = summarise(reference["correlation"], nulls["correlation"])
        result = result.assign_coords({f"correlation_{suffix}": (dims, v)
                                       for suffix, v in zip(("null_mean", "null_q95", "p"), stats, strict=True)})
        result.attrs.update(null_attrs(null, null_within, seed))
    return result


def _correlations(values: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Pearson correlation of the classes' heat (class, unit, layer) over the kept units of each layer (unit,
    layer): (class, class, layer), NaN for a layer with fewer than 2 kept units."""
    n_classes, _, n_layers = values.shape
    out = np.full((n_classes, n_classes, n_layers), np.nan)
    for l in range(n_layers):
        if kept[:, l].sum() < 2:
            continue
        x = values[:, kept[:, l], l]
        centred = x - x.mean(1, keepdims=True)
        norm = np.sqrt((centred**2).sum(1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[..., l] = (centred @ centred.T) / np.outer(norm, norm)
    return out


# --------------------------------------------------------------------------------------------- top units


def top_units(run_or_heat, *, k: int = 5, var: str = "h", layer=None, weighting: str = "segment",
              null: int | None = None, seed: int = 0, null_within: str = "record") -> xr.DataArray:
    """The ``k`` most active units of every class, ranked by heat (Titos & Garcia 2022, Table II).

    Definition: per class and layer, units sorted by decreasing heat (:func:`heat_map`; ties: lower id first);
    "most active, and therefore most specialized" in the paper's words.

    Chance level (``null=N``): the same ranking on the heat maps of ``N`` permutations of the segments' classes
    within records: ``heat_null_mean[c, r]`` is the ``r``-th largest heat of class ``c`` when the labels carry no
    information (with as many segments as ``c`` has), so ``heat_p`` says whether the class's ``r``-th most active
    unit is more active for it than the ``r``-th most active unit of a random set of segments. Units that are
    active whatever the class reach their heat under any labels: a top unit with a large ``heat_p`` is active,
    not specialised.

    Parameters
    ----------
    run_or_heat : xarray.Dataset or xarray.DataArray
        A run or a heat map (a heat map has no null: pass the run).
    k : int
        Units per class (at most the number of units).
    var, layer, weighting
        As in :func:`heat_map` (used when a run is given).
    null : int, optional
        Number of permutations (:mod:`rnnscope.analysis._null`).
    seed : int
        Seed of the permutations.
    null_within : {"record", "run"}
        Permute within each record (default) or among all segments.

    Returns
    -------
    xarray.DataArray
        Unit ids (class_name, rank, layer), int; ``rank`` runs 1..k (1 = most active). Unit ids are 0-based: add 1
        to compare with the paper's neuron numbers. The coordinate ``heat`` holds the units' heat (with
        ``heat_null_mean``, ``heat_null_q95`` and ``heat_p`` when a null was asked for). A class with no frames
        gets -1.

    Examples
    --------
    >>> from rnnscope import analysis, examples
    >>> analysis.top_units(examples.toy_run()).sizes["rank"]
    5
    >>> top = analysis.top_units(examples.toy_run(), k=3, null=99)
    >>> top.dims, top.sizes["rank"], sorted(top.coords)[:3]
    (('class_name', 'rank', 'layer'), 3, ['class_name', 'heat', 'heat_null_mean'])
    >>> bool(((top.heat_p > 0) & (top.heat_p <= 1)).all())
    True
    """
    func = "top_units"
    null = check_null(null, null_within, seed, func)
    heat = _as_heat(run_or_heat, func, var, layer, weighting)
    k = C.check_int(k, name="k", func=func, minimum=1)
    values = np.asarray(heat.values, dtype=np.float64)
    k = min(k, values.shape[1])
    order, top_heat = _ranked(values, k)
    empty = np.all(np.isnan(values), axis=1, keepdims=True)  # (class, 1, layer)
    ids = np.where(empty, -1, np.asarray(heat["unit"].values)[order])
    dims = ("class_name", "rank", "layer")
    coords = {"class_name": heat["class_name"].values, "rank": np.arange(1, k + 1), "layer": heat["layer"].values,
              "heat": (dims, top_heat)}
    attrs = {"definition": "units ranked by decreasing heat (0-based ids; paper numbers are 1-based)",
             **{key: v for key, v in heat.attrs.items() if key in ("variable", "weighting")}}
    if null is not None:
        reference, nulls, _ = heat_null(run_or_heat, func, var=var, layer=layer, weighting=weighting, null=null,
                                        within=null_within, seed=seed,
                                        score=lambda heats, labels, parts: {"heat": _ranked(heats, k)[1]})
        for suffix, v in zip(("null_mean", "null_q95", "p"), summarise(reference["heat"], nulls["heat"]), strict=True):
            coords[f"heat_{suffix}"] = (dims, v)
        attrs.update(null_attrs(null, null_within, seed))
    return xr.DataArray(ids.astype(np.int64), dims=dims, coords=coords, name="unit", attrs=attrs)

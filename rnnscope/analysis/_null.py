"""Chance levels by permutation: what a score reaches when the labels it reads carry no information.

A score computed from labelled segments (heat maps, selectivity, the most active units, onset windows, probes)
picks up noise: with a few segments of a rare class, some unit is always more active for it by chance. Its null
distribution comes from recomputing the same score with the labels permuted **within records** (the segments of one
record swap their classes; records keep their own mix of classes, so a record that is louder than the others stays
so), ``null`` times with a seeded generator. Next to every score ``<score>`` the analyses then return

- ``<score>_null_mean``: the mean of the null distribution (the chance level);
- ``<score>_null_q95``: its 95 % quantile (a score above it is above chance at the 5 % level);
- ``<score>_p``: the one-sided permutation p-value ``(1 + #{null >= score}) / (1 + null)`` (never 0; at least
  ``1 / (1 + null)``).

Records whose segments all hold one class cannot swap anything; when no record holds two classes, permuting
within records changes nothing and the analyses warn: pass ``null_within="run"`` to permute among all segments.

This module imports no torch.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import xarray as xr

from ..errors import RnnscopeWarning
from . import _common as C
from ._activity import segment_means

__all__ = ["NULL_QUANTILE", "check_null", "permuted_labels", "summarise", "null_variables", "HeatParts",
           "heat_parts", "heats_of", "heat_null"]

#: Quantile of the null distribution reported as ``<score>_null_q95``.
NULL_QUANTILE = 0.95
#: Permutations processed at once by the vectorised nulls (bounds memory: a few tens of MB).
CHUNK = 64
_WITHIN = ("record", "run")


def check_null(null, within, seed, func: str) -> int | None:
    """``null`` (None or a number of permutations >= 1), ``within`` and ``seed`` checked; returns ``null``."""
    if null is not None:
        null = C.check_int(null, name="null", func=func, minimum=1)
    C.choose(within, _WITHIN, name="null_within", func=func)
    C.check_int(seed, name="seed", func=func)
    return null


def permuted_labels(labels: np.ndarray, groups: np.ndarray, n: int, rng: np.random.Generator, *,
                    within: str = "record", func: str = "") -> np.ndarray:
    """``n`` rows of ``labels`` (S,), each permuted independently within every group (``within="record"``: the
    segments of one record swap labels) or among all of them (``within="run"``).

    Examples
    --------
    >>> rows = permuted_labels(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]), 500, np.random.default_rng(0))
    >>> rows.shape, sorted({tuple(r[:2]) for r in rows.tolist()}), sorted({tuple(r[2:]) for r in rows.tolist()})
    ((500, 4), [(0, 1), (1, 0)], [(2, 3), (3, 2)])
    """
    labels = np.asarray(labels)
    out = np.empty((n, labels.size), dtype=labels.dtype)
    if within == "run":
        groups = np.zeros(labels.size, dtype=np.int64)
    movable = 0
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        out[:, idx] = rng.permuted(np.broadcast_to(labels[idx], (n, idx.size)), axis=1)
        movable += np.unique(labels[idx]).size > 1
    if labels.size and not movable and func:
        warnings.warn(f"{func}: no record holds two different labels, so permuting labels within records changes "
                      "nothing and the null equals the score (p = 1). Pass null_within='run' to permute among all "
                      "records.", RnnscopeWarning, stacklevel=3)
    return out


def summarise(reference: np.ndarray, null_values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, 95 % quantile and one-sided p-value of ``reference`` (shape ``s``) against ``null_values`` (n, ``s``).

    ``p = (1 + #{null >= reference}) / (1 + #finite null)``; NaN where the reference or every null value is NaN.

    Examples
    --------
    >>> mean, q95, p = summarise(np.array([3.0, 0.0]), np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 0.5]]))
    >>> mean.tolist(), p.tolist()
    ([1.5, 0.875], [0.4, 1.0])
    """
    null_values = np.asarray(null_values, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    finite = np.isfinite(null_values)
    count = finite.sum(0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(null_values, axis=0)
        q95 = np.nanquantile(null_values, NULL_QUANTILE, axis=0)
        # a null value equal to the score (e.g. the identity permutation) counts as reaching it
        tolerance = 1e-9 * np.maximum(1.0, np.abs(reference))
        reached = (finite & (null_values >= reference - tolerance)).sum(0)
        p = (1.0 + reached) / (1.0 + count)
    bad = ~np.isfinite(reference) | (count == 0)
    return (np.where(count > 0, mean, np.nan), np.where(count > 0, q95, np.nan), np.where(bad, np.nan, p))


def null_variables(name: str, dims: tuple, reference: np.ndarray, null_values: np.ndarray) -> dict:
    """``{<name>_null_mean, <name>_null_q95, <name>_p: (dims, values)}`` for an xarray Dataset."""
    mean, q95, p = summarise(reference, null_values)
    return {f"{name}_null_mean": (dims, mean, {"definition": f"mean of {name} over the label permutations"}),
            f"{name}_null_q95": (dims, q95, {"definition": f"95 % quantile of {name} over the label permutations"}),
            f"{name}_p": (dims, p, {"definition": f"one-sided permutation p-value of {name}: (1 + #{{null >= "
                                                  f"{name}}}) / (1 + permutations)"})}


def null_attrs(null: int, within: str, seed: int, what: str = "segment labels") -> dict:
    """What a result computed with a null says about it (``attrs``)."""
    return {"null": int(null), "null_within": within, "null_seed": int(seed),
            "null_definition": f"{int(null)} permutations of the {what} "
                               f"{'within each record' if within == 'record' else 'among all records'}"}


# --------------------------------------------------------------------------------------------- heat maps


class HeatParts(NamedTuple):
    """What a heat map is made of: every segment with frames, its mean ``|v|`` and its class.

    The heat of class ``c`` is ``sum_s w[s] values[s] / sum_s w[s]`` over the segments of class ``c``, with ``w = 1``
    (``weighting="segment"``) or the segment's frame count (``weighting="frame"``), so the heat maps of any
    relabelling of the segments follow from these parts without reading the states again.
    """

    values: np.ndarray
    """(segment, unit, layer) mean ``|v|`` of each segment with frames."""
    weights: np.ndarray
    """(segment,) 1, or the segment's valid frames."""
    labels: np.ndarray
    """(segment,) class index."""
    groups: np.ndarray
    """(segment,) record position."""
    n_classes: int


def heat_parts(run, var, positions, weighting: str, n_classes: int) -> HeatParts:
    """The :class:`HeatParts` of ``run`` (one pass over the segments' frames)."""
    means, count, table = segment_means(run, var, positions)
    keep = count > 0
    labels = table["class"].to_numpy(np.int64)[keep] if len(table) else np.zeros(0, np.int64)
    groups = table["event"].to_numpy(np.int64)[keep] if len(table) else np.zeros(0, np.int64)
    weights = count[keep] if weighting == "frame" else np.ones(int(keep.sum()))
    return HeatParts(means[keep], weights.astype(np.float64), labels, groups, int(n_classes))


def heats_of(parts: HeatParts, labels: np.ndarray) -> np.ndarray:
    """Heat maps (m, class, unit, layer) of ``m`` labellings (m, segment) of the parts' segments."""
    labels = np.atleast_2d(labels)
    onehot = (labels[:, None, :] == np.arange(parts.n_classes)[None, :, None]) * parts.weights  # (m, C, S)
    shape = parts.values.shape
    sums = onehot @ parts.values.reshape(shape[0], -1)  # (m, C, unit * layer)
    total = onehot.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        heat = sums / total[..., None]
    return heat.reshape(labels.shape[0], parts.n_classes, *shape[1:])


def heat_null(run_or_heat, func: str, *, var, layer, weighting, null: int, within: str, seed: int,
              score: Callable[[np.ndarray, np.ndarray, HeatParts], dict]) -> tuple[dict, dict, HeatParts]:
    """A heat-based score of the run and its null distribution over ``null`` permutations of the segments'
    classes.

    ``score(heats, labels, parts)`` maps heat maps (m, class, unit, layer) and the labellings that made them
    (m, segment) to a dict of arrays with a leading ``m`` axis. Returns the score of the run's own labels (from
    the same parts, so the identity permutation reproduces it exactly), the null values (``null``, ...) per key,
    and the parts.
    """
    if not isinstance(run_or_heat, xr.Dataset):
        raise ValueError(f"{func}: null={null} permutes the classes of the run's segments, so it needs the run, not "
                         f"a heat map. Pass the run: rnnscope.analysis.{func}(run, ..., null={null}).")
    run = C.as_run(run_or_heat, func)
    C.check_var(run, var, func)
    positions = C.check_layers(run, layer, func)
    parts = heat_parts(run, var, positions, weighting, len(C.require_labels(run, func)))
    reference = {k: v[0] for k, v in score(heats_of(parts, parts.labels[None]), parts.labels[None], parts).items()}
    if not null:  # the parts only (e.g. top_fraction's rule="class" without a null)
        return reference, {}, parts
    labels = permuted_labels(parts.labels, parts.groups, null, np.random.default_rng(seed), within=within, func=func)
    chunks = [score(heats_of(parts, labels[i : i + CHUNK]), labels[i : i + CHUNK], parts)
              for i in range(0, null, CHUNK)]
    return reference, {k: np.concatenate([c[k] for c in chunks]) for k in reference}, parts

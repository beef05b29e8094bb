"""Colours of what is not a class: the picked detection's highlight and the unit lines, apart from the classes.

The class colours of a run (:func:`rnnscope._colors.class_colors` of its class names) colour the class bands and
the stacked probabilities; the highlight of the picked detection and the lines of the selected units must never be
mistaken for one of them (the highlight was once TRE's orange, the unit lines reused VTE's and HYB's colours). Both
are chosen per set of class names: the highlight is the first of :data:`HIGHLIGHTS` at least
:data:`~rnnscope._colors.MIN_DISTANCE` (CIE76) from every class colour; the unit colours are, in order, the
colours of :data:`LINE_CANDIDATES` (dark enough for a thin line on white) that keep that distance from the class
colours, the highlight and each other, then, when too few do, the colours of a larger pool furthest from all of
those (farthest-point choice), so that they stay as far apart as the set allows.

Examples
--------
>>> highlight_color(["SIL", "TRE", "LP", "VTE", "HYB"])
'#FF00FF'
>>> trace_colors(["SIL", "TRE", "LP", "VTE", "HYB"], 3)
['#000000', '#CC79A7', '#882255']
"""
from __future__ import annotations

import colorsys
import functools
from collections.abc import Sequence

import numpy as np

from .._colors import MIN_DISTANCE, _lab, class_colors

__all__ = ["HIGHLIGHTS", "LINE_CANDIDATES", "highlight_color", "trace_colors"]

#: colours of the picked detection's highlight, in order of preference (saturated, rare in class palettes)
HIGHLIGHTS = ("#FF00FF", "#7F00FF", "#00E000", "#FF0000", "#00B0FF")
#: colours of the unit lines, in order of preference: dark or saturated enough for a thin line on white
LINE_CANDIDATES = ("#0072B2", "#000000", "#CC79A7", "#882255", "#332288", "#999933", "#117733", "#AA4499",
                   "#44AA99", "#CC6677", "#8C583F", "#3675D9", "#A736D9", "#D9365A", "#3F678C", "#5E8C3F")


def highlight_color(class_names: Sequence[str]) -> str:
    """The highlight colour for a run with these classes (see the module notes).

    Examples
    --------
    >>> highlight_color(["BG", "VT", "LP", "TR", "AV", "IC"])
    '#FF00FF'
    """
    return _highlight(tuple(str(c) for c in class_names))


def trace_colors(class_names: Sequence[str], n: int = 10) -> list[str]:
    """``n`` colours for unit lines on a run with these classes, apart from its class colours and its highlight.

    Examples
    --------
    >>> len(set(trace_colors([f"class{i}" for i in range(12)], 10)))
    10
    """
    return list(_traces(tuple(str(c) for c in class_names), int(n)))


@functools.lru_cache(maxsize=64)
def _highlight(names: tuple[str, ...]) -> str:
    used = [_lab(c) for c in class_colors(names).values()] if names else []
    if not used:
        return HIGHLIGHTS[0]
    nearest = [min(float(np.linalg.norm(_lab(h) - u)) for u in used) for h in HIGHLIGHTS]
    far = [h for h, d in zip(HIGHLIGHTS, nearest, strict=True) if d >= MIN_DISTANCE]
    return far[0] if far else HIGHLIGHTS[int(np.argmax(nearest))]


@functools.lru_cache(maxsize=64)
def _traces(names: tuple[str, ...], n: int) -> tuple[str, ...]:
    used = [_lab(c) for c in class_colors(names).values()] if names else []
    used.append(_lab(_highlight(names)))
    chosen: list[str] = []
    for color in LINE_CANDIDATES:  # first: the preferred colours that keep the distance
        if len(chosen) == n:
            break
        lab = _lab(color)
        if all(np.linalg.norm(lab - u) >= MIN_DISTANCE for u in used):
            chosen.append(color)
            used.append(lab)
    pool = [c for c in LINE_CANDIDATES + _pool() if c not in chosen]
    pool_lab = np.array([_lab(c) for c in pool])
    while len(chosen) < n and pool:  # then: the furthest from everything chosen so far
        nearest = np.min(np.linalg.norm(pool_lab[:, None, :] - np.array(used)[None], axis=2), axis=1)
        k = int(np.argmax(nearest))
        chosen.append(pool.pop(k))
        used.append(pool_lab[k])
        pool_lab = np.delete(pool_lab, k, axis=0)
    return tuple(chosen)


@functools.lru_cache(maxsize=1)
def _pool() -> tuple[str, ...]:
    """Further line colours: 36 hues at three (saturation, value) levels, none too light for a line on white."""
    out = []
    for sat, val in ((0.85, 0.8), (0.6, 0.55), (0.9, 0.45)):
        for i in range(36):
            r, g, b = colorsys.hsv_to_rgb(i / 36, sat, val)
            out.append("#{:02X}{:02X}{:02X}".format(*(round(255 * x) for x in (r, g, b))))
    return tuple(out)

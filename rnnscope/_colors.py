"""Class colours: fixed for the known classes, distinct for any set of class names (figures and widgets alike).

The five classes of the default task keep their colours (Okabe & Ito's colour-blind-safe palette: SIL grey, TRE
orange, LP sky blue, VTE vermillion, HYB bluish green). Every other name of a set gets, in the order of the set,
the first colour of :data:`CANDIDATES` that differs from every colour already given in the set by at least
:data:`MIN_DISTANCE` (CIE76 distance in CIELAB, where about 2.3 is just noticeable); when none is left, the
candidate (or generated colour) furthest from them. So the colours of a set are always distinct strings, and
perceptually distinct for sets of up to about ten names: no "two blues" (LP's sky blue and a dark blue differ by
26), no colour given twice.

The colour of a name depends on the whole set (pass the run's class names), never on anything else; this module
imports neither matplotlib nor torch.
"""
from __future__ import annotations

import colorsys
import functools
from collections.abc import Sequence

import numpy as np

__all__ = ["CLASS_COLORS", "CANDIDATES", "MIN_DISTANCE", "class_color", "class_colors", "color_distance"]

#: colours of the known classes (Okabe & Ito)
CLASS_COLORS = {
    "SIL": "#BBBBBB",
    "TRE": "#E69F00",
    "LP": "#56B4E9",
    "VTE": "#D55E00",
    "HYB": "#009E73",
}
#: colours for other class names, in order of preference: Okabe & Ito's, then Paul Tol's "muted" scheme
CANDIDATES = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000",
    "#332288", "#882255", "#44AA99", "#999933", "#AA4499", "#DDCC77", "#117733", "#88CCEE", "#CC6677", "#BBBBBB",
)
#: smallest CIE76 distance between two colours of one set while candidates allow it
MIN_DISTANCE = 30.0
_GENERATED = 64  # further colours (golden-angle hues) tried once the candidates are too close or used


def class_color(class_name: str, class_names: Sequence[str] | None = None) -> str:
    """Hex colour of class ``class_name`` among ``class_names`` (default: the name alone), stable across figures.

    Parameters
    ----------
    class_name : str
        The class whose colour is asked for.
    class_names : sequence of str, optional
        Every class of the figure (the colours of a set are chosen together, all distinct); ``class_name`` is
        added when missing.

    Returns
    -------
    str
        ``"#RRGGBB"``; the same name in the same set always gets the same colour.

    Examples
    --------
    >>> class_color("LP")
    '#56B4E9'
    >>> names = ["BG", "VT", "LP", "TR", "AV", "IC"]
    >>> [class_color(n, names) for n in names]
    ['#E69F00', '#009E73', '#56B4E9', '#CC79A7', '#D55E00', '#F0E442']
    """
    names = [str(n) for n in (class_names if class_names is not None else [class_name])]
    if str(class_name) not in names:
        names.append(str(class_name))
    return class_colors(names)[str(class_name)]


def class_colors(class_names: Sequence[str]) -> dict[str, str]:
    """Class name -> hex colour for a whole set of names (see the module notes); all colours distinct.

    Examples
    --------
    >>> class_colors(["SIL", "TRE", "LP", "VTE", "HYB"]) == CLASS_COLORS
    True
    >>> len(set(class_colors([f"class{i}" for i in range(100)]).values()))
    100
    """
    return dict(_assign(tuple(str(n) for n in class_names)))


def color_distance(a: str, b: str) -> float:
    """CIE76 distance between two hex colours in CIELAB (D65 white).

    >>> round(color_distance("#56B4E9", "#0072B2"), 1)
    26.4
    """
    return float(np.linalg.norm(_lab(a) - _lab(b)))


@functools.lru_cache(maxsize=256)
def _assign(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    colors = {n: CLASS_COLORS[n] for n in names if n in CLASS_COLORS}
    used = [_lab(c) for c in colors.values()]
    taken = {c.upper() for c in colors.values()}
    pool = list(CANDIDATES) + [_generated(i) for i in range(_GENERATED)]
    pool_lab = np.array([_lab(c) for c in pool])
    extra = _GENERATED
    for name in names:
        if name in colors:
            continue
        free = [i for i, c in enumerate(pool) if c.upper() not in taken]
        if not free:  # more names than colours in the pool: generate new ones
            while _generated(extra).upper() in taken:
                extra += 1
            pool.append(_generated(extra))
            pool_lab = np.vstack([pool_lab, _lab(pool[-1])])
            free = [len(pool) - 1]
        if used:
            nearest = np.min(np.linalg.norm(pool_lab[free][:, None, :] - np.array(used)[None], axis=2), axis=1)
            far = [i for i, d in zip(free, nearest, strict=True) if d >= MIN_DISTANCE]
            pick = far[0] if far else free[int(np.argmax(nearest))]
        else:
            pick = free[0]
        colors[name] = pool[pick]
        used.append(pool_lab[pick])
        taken.add(pool[pick].upper())
    return tuple((n, colors[n]) for n in names)


def _generated(i: int) -> str:
    """The i-th generated colour: golden-angle hues at alternating saturation and brightness."""
    hue = (0.13 + i * 0.6180339887) % 1.0
    sat, val = (0.75, 0.85) if i % 2 == 0 else (0.55, 0.55)
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return "#{:02X}{:02X}{:02X}".format(*(round(255 * x) for x in (r, g, b)))


def _lab(color: str) -> np.ndarray:
    """Hex sRGB -> CIELAB (L*, a*, b*), D65."""
    rgb = np.array([int(color[k : k + 2], 16) for k in (1, 3, 5)]) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])

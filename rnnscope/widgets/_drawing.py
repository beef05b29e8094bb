"""What the Explorer's marks draw, as arrays and HTML: unit-line envelopes, class band colours, legend, readout."""
from __future__ import annotations

import html

import numpy as np

from ._render import hex_to_rgb

__all__ = []

_P_COLOR, _S_COLOR = "#000000", "#6a3d9a"


# ----------------------------------------------------------------------------------------------- helpers
def _envelope(cols, index_time, units=None):
    """x (times) and y of lines through the columns: one point per value, or (min, max) pairs per column."""
    lo, hi = (cols.lo, cols.hi) if units is None else (cols.lo[:, units], cols.hi[:, units])
    if cols.step == 1:
        x = index_time(cols.start + np.arange(cols.n))
        return x, (lo.T if units is not None else lo)
    centre = index_time(cols.start + np.arange(cols.n) * cols.step + (cols.step - 1) / 2)
    x = np.repeat(centre, 2)
    pair = np.stack([lo, hi], axis=1)  # (n, 2, ...) -> zigzag min, max per column
    y = pair.reshape((2 * cols.n,) + lo.shape[1:])
    return x, (y.T if units is not None else y)


def class_counts(labels: np.ndarray, k: int, n_classes: int) -> np.ndarray:
    """(n_cols, n_classes) frames of each class per column of ``k`` frames (other values, e.g. -1, not counted).

    >>> class_counts(np.array([0, 2, 2, -1, 1]), 2, 3).tolist()
    [[1, 0, 1], [0, 0, 1], [0, 1, 0]]
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    n_cols = max(1, -(-labels.size // k))
    ok = (labels >= 0) & (labels < n_classes)
    index = (np.arange(labels.size) // k * n_classes + labels)[ok]
    return np.bincount(index, minlength=n_cols * n_classes).reshape(n_cols, n_classes)


def _band_colors(labels: np.ndarray, k: int, class_names, background: str | None = None) -> np.ndarray:
    """(n_cols, 4) RGBA of a class band: per column the most frequent class other than ``background``, else the
    background; -1 transparent."""
    return _count_colors(class_counts(labels, k, len(class_names)), class_names, background)


def _count_colors(counts: np.ndarray, class_names, background: str | None = None) -> np.ndarray:
    """(n_cols, 4) RGBA of a class band from the frames of each class per column (:func:`class_counts`, or a level
    of the run's overview): the most frequent class other than ``background``, else the background; transparent
    where no frame has a known class."""
    from .._colors import class_color

    counts = np.asarray(counts)
    if not class_names:  # a run without labels: a transparent band
        return np.zeros((counts.shape[0], 4), dtype=np.uint8)
    others = counts.copy()
    if background is not None and background in class_names:
        others[:, list(class_names).index(background)] = 0
    choice = np.where(others.max(axis=1) > 0, others.argmax(axis=1),
                      np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1))
    table = np.array([hex_to_rgb(class_color(c, class_names)) + (255,) for c in class_names] + [(0, 0, 0, 0)],
                     dtype=np.uint8)
    return table[choice]


def _legend_html(class_names, band_rows=("true", "pred"), arrivals=True, prob=False) -> str:
    """The class colours, what the bands are, and the P/S markers only when the record has arrivals."""
    from .._colors import class_color

    items = "".join(
        f'<span style="display:inline-block;margin-right:10px"><span style="display:inline-block;width:12px;'
        f'height:12px;background:{class_color(c, class_names)};vertical-align:middle;margin-right:3px"></span>'
        f"{html.escape(c)}</span>" for c in class_names)
    names = {"true": "true (top)" if len(band_rows) > 1 else "true", "pred": "predicted"}
    bands = " and ".join(names[b] for b in band_rows)
    what = (f"bands: {bands} class" if band_rows else "") + (" · probabilities stacked" if prob else "")
    marks = (f'<span style="margin-left:6px"><span style="color:{_P_COLOR}">│</span> P arrival '
             f'<span style="color:{_S_COLOR};margin-left:6px">┆</span> S arrival</span>') if arrivals else ""
    return f'<div class="rnnscope-legend" style="font-size:12px">{what} &nbsp; {items}{marks}</div>'


def _unit_legend_html(units, colors, var="h", layer=0) -> str:
    """The legend of the unit lines, above their figure (a legend inside it covered the traces)."""
    if not units:
        return ('<div class="rnnscope-unit-legend" style="font-size:12px;color:#555">no unit selected: click a '
                "heatmap row</div>")
    items = "".join(f'<span style="margin-right:10px;color:{c};font-weight:bold">━ unit {u}</span>'
                    for u, c in zip(units, colors, strict=True))
    return (f'<div class="rnnscope-unit-legend" style="font-size:12px">{html.escape(var)} (layer {layer}): '
            f"{items}</div>")


def _readout_html(pointer, var="h", layer=0, starttime=None) -> str:
    from ._timeaxis import format_time

    if not pointer:
        text = "click a heatmap row to add or remove its unit"
    else:
        when = f"{pointer['time']:.2f} s"
        if starttime is not None:
            when = f"{format_time(pointer['time'], starttime)} UTC ({when})"
        text = (f"unit <b>{pointer['unit']}</b> · row {pointer['rank']} · {when} · "
                f"{html.escape(var)} = {pointer['value']:.3f}")
    return f'<div class="rnnscope-readout" style="font-size:12px;color:#333">{text}</div>'

"""Rendering helpers: reduce frames to screen columns, keep extremes, encode images (numpy + Pillow, no widgets).

Everything the widgets send to the browser goes through here, so its size is bounded by the number of screen
columns, never by the length of a record:

- :func:`column_minmax` folds ``n`` frames into at most ``n_cols`` columns of equal width, keeping the smallest
  and largest value of each column (the image and line views keep extremes, so a one-frame spike stays visible);
- :func:`pick_extreme` turns (min, max) into one value per column: the one furthest from the colour map's centre;
- :func:`encode_png` writes an 8-bit palette PNG (one byte per pixel before compression).

Examples
--------
>>> v = np.array([[0.1], [-0.9], [0.2], [0.3]], dtype=np.float32)
>>> lo, hi, k = column_minmax(v, 2)
>>> k, lo[:, 0].tolist(), hi[:, 0].tolist()
(2, [-0.9..., 0.2...], [0.1..., 0.3...])
>>> pick_extreme(lo, hi, center=0.0)[:, 0].tolist()
[-0.9..., 0.3...]
"""
from __future__ import annotations

import io as _io
from dataclasses import dataclass

import numpy as np

from ..analysis._common import SIGMOID_VARIABLES, TANH_VARIABLES, display_limits

__all__ = ["ColorMap", "column_minmax", "pick_extreme", "encode_png", "colormap_for", "png_mark", "set_png",
           "NAN_COLOR", "block_minmax", "fold_minmax", "fold_sum"]

#: colour of missing values (NaN) in every image: a light grey, distinct from the white of 0
NAN_COLOR = "#d9d9d9"
_N_LEVELS = 255  # palette entries for values; entry 255 is NAN_COLOR


def column_minmax(values: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Fold the first axis of ``values`` into at most ``n_cols`` columns of ``k`` frames each.

    Parameters
    ----------
    values : ndarray, shape (n, ...)
        Frames (or samples) along the first axis.
    n_cols : int
        Largest number of output columns.

    Returns
    -------
    lo, hi : ndarray, shape (ceil(n / k), ...)
        Smallest and largest value of each column (NaN only where a whole column is NaN).
    k : int
        Frames per column (1 when ``n <= n_cols``: the values are returned as they are). The last column may
        hold fewer than ``k`` frames.
    """
    n = values.shape[0]
    if n <= n_cols:
        return values, values, 1
    k = -(-n // n_cols)
    lo, hi = block_minmax(values, k)
    return lo, hi, k


def block_minmax(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of every block of ``k`` consecutive rows of ``values`` (the last block may be shorter); NaN
    only where a whole block is NaN (the rule of the run's overview levels, :mod:`rnnscope._overview`)."""
    return _blocks(values, k, np.fmin), _blocks(values, k, np.fmax)


def _blocks(values: np.ndarray, k: int, ufunc) -> np.ndarray:
    """``ufunc.reduce`` over every block of ``k`` consecutive rows (the last block may be shorter)."""
    n = values.shape[0]
    full = n // k
    out = ufunc.reduce(values[: full * k].reshape((full, k) + values.shape[1:]), axis=1)
    if full * k < n:
        out = np.concatenate([out, ufunc.reduce(values[full * k :], axis=0, keepdims=True)])
    return out


def fold_minmax(lo: np.ndarray, hi: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Like :func:`column_minmax` for values already folded into (lo, hi) pairs (an overview level)."""
    n = lo.shape[0]
    if n <= n_cols:
        return lo, hi, 1
    k = -(-n // n_cols)
    return _blocks(lo, k, np.fmin), _blocks(hi, k, np.fmax), k


def fold_sum(counts: np.ndarray, n_cols: int) -> tuple[np.ndarray, int]:
    """Counts per block summed into at most ``n_cols`` columns of ``k`` blocks: ``(columns, k)``.

    >>> fold_sum(np.array([[1, 0], [2, 1], [0, 3]]), 2)[0].tolist()
    [[3, 1], [0, 3]]
    """
    n = counts.shape[0]
    if n <= n_cols:
        return counts, 1
    k = -(-n // n_cols)
    return _blocks(counts, k, np.add), k


def pick_extreme(lo: np.ndarray, hi: np.ndarray, center: float = 0.0) -> np.ndarray:
    """Per column, the value furthest from ``center`` (the colour map's middle) among its min and max."""
    if lo is hi:
        return lo
    return np.where(np.abs(hi - center) >= np.abs(lo - center), hi, lo)


@dataclass(frozen=True)
class ColorMap:
    """A colour map with a fixed value range: what values look like in an image and in its colour bar.

    Attributes
    ----------
    name : str
        Matplotlib colour map name.
    vmin, vmax : float
        Values mapped to the first and last colour (values outside are clipped).
    center : float
        Value an image column keeps extremes around (0 for diverging maps, the middle for gates).
    """

    name: str
    vmin: float
    vmax: float
    center: float = 0.0

    def palette(self) -> np.ndarray:
        """(256, 3) uint8: 255 colours from vmin to vmax, then :data:`NAN_COLOR`."""
        return _palette(self.name)

    def hex_colors(self, n: int = 9) -> list[str]:
        """``n`` colours from vmin to vmax (for a bqplot ColorScale / colour bar)."""
        pal = self.palette()[:_N_LEVELS]
        idx = np.linspace(0, _N_LEVELS - 1, n).round().astype(int)
        return ["#{:02x}{:02x}{:02x}".format(*(int(c) for c in pal[i])) for i in idx]

    def indices(self, values: np.ndarray) -> np.ndarray:
        """uint8 palette indices of ``values`` (NaN -> 255)."""
        span = (self.vmax - self.vmin) or 1.0
        with np.errstate(invalid="ignore"):
            scaled = (np.asarray(values, dtype=np.float32) - self.vmin) * ((_N_LEVELS - 1) / span)
            idx = np.clip(np.rint(scaled), 0, _N_LEVELS - 1)
        idx = np.where(np.isnan(scaled), _N_LEVELS, idx)
        return idx.astype(np.uint8)


_PALETTES: dict[str, np.ndarray] = {}
#: colour maps whose palettes ship with the package (``rnnscope/_shipped/palettes.npz``, made from matplotlib's by
#: ``benchmarks/make_shipped_assets.py --palettes``): an Explorer opens without importing matplotlib
SHIPPED_PALETTES = ("RdBu", "Blues", "magma")


def _palette(name: str) -> np.ndarray:
    if name not in _PALETTES:
        if name in SHIPPED_PALETTES:
            from importlib.resources import files

            with files("rnnscope").joinpath("_shipped").joinpath("palettes.npz").open("rb") as f, np.load(f) as shipped:
                _PALETTES.update({n: shipped[n] for n in shipped.files})
        if name not in _PALETTES:
            _PALETTES[name] = _matplotlib_palette(name)
    return _PALETTES[name]


def _matplotlib_palette(name: str) -> np.ndarray:
    """(256, 3) uint8: 255 colours of matplotlib's colour map ``name``, then :data:`NAN_COLOR`."""
    from matplotlib import colormaps

    cmap = colormaps[name]
    rgb = (np.asarray(cmap(np.linspace(0.0, 1.0, _N_LEVELS)))[:, :3] * 255).round().astype(np.uint8)
    nan = np.array([int(NAN_COLOR[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)
    return np.vstack([rgb, nan[None]])


#: state variables whose values lie in [0, 1] (sigmoid gates): white (closed, 0) to dark blue (open, 1); and those
#: in the tanh range [-1, 1] (-1 red, 0 white, +1 dark blue, fixed range): defined once, with the rule for ``h``
GATES, TANH = SIGMOID_VARIABLES, TANH_VARIABLES


def colormap_for(var: str, *, robust_max: float | None = None, vmin: float | None = None,
                 vmax: float | None = None) -> ColorMap:
    """The colour map of a state variable (the convention of ``DESIGN.md``).

    - tanh-range variables (``cell_input``, ``candidate``, and ``h`` when its range ``vmin``..``vmax`` stays inside
      [-1, 1]: tanh cells): ``RdBu`` fixed to [-1, 1] (-1 red, 0 white, +1 dark blue);
    - ``h`` beyond [-1, 1] (a ReLU RNN, an LSTM with ``proj_size``): ``RdBu`` symmetric on its range (the run's
      stored value range, :func:`rnnscope.analysis._common.display_limits`), or ``robust_max``;
    - gates (``input_gate``, ``forget_gate``, ``output_gate``, ``update_gate``, ``reset_gate``, values in [0, 1]):
      ``Blues`` fixed to [0, 1], white = closed, dark blue = open; columns keep the value furthest from 0.5, so
      both a brief closing of a mostly open gate and a brief opening of a mostly closed one stay visible;
    - ``c`` (unbounded cell state): ``RdBu`` on a symmetric robust range [-r, r], ``r = robust_max``;
    - anything else: ``RdBu`` symmetric on [vmin, vmax] when it takes negative values, else ``Blues``.

    Parameters
    ----------
    var : str
        The state variable.
    robust_max : float, optional
        The robust range ``r`` of ``c`` (and of ``h`` beyond [-1, 1]), e.g. the 99th percentile of ``abs(c)``.
    vmin, vmax : float, optional
        The variable's value range (the run's ``summary_min`` / ``summary_max``).

    Returns
    -------
    ColorMap
        ``(name, vmin, vmax, center)``: the matplotlib colour map's name, its range, and the value an image column
        keeps extremes around (0 for diverging maps, 0.5 for gates).

    Examples
    --------
    >>> colormap_for("h")
    ColorMap(name='RdBu', vmin=-1.0, vmax=1.0, center=0.0)
    >>> colormap_for("forget_gate").center
    0.5
    >>> colormap_for("h", vmin=0.0, vmax=6.5)  # a ReLU RNN's h
    ColorMap(name='RdBu', vmin=-6.5, vmax=6.5, center=0.0)
    """
    if var in GATES:
        return ColorMap("Blues", 0.0, 1.0, 0.5)
    if var in TANH or var == "h":
        lo, hi = display_limits(var, -1.0 if vmin is None else vmin, 1.0 if vmax is None else vmax)
        if (lo, hi) == (-1.0, 1.0):
            return ColorMap("RdBu", -1.0, 1.0, 0.0)
        r = float(robust_max) if robust_max is not None and np.isfinite(robust_max) and robust_max > 0 else hi
        return ColorMap("RdBu", -r, r, 0.0)
    if var == "c" or (vmin is not None and vmin < 0):
        r = robust_max if robust_max is not None else max(abs(vmin or 1.0), abs(vmax or 1.0))
        r = float(r) if np.isfinite(r) and r > 0 else 1.0
        return ColorMap("RdBu", -r, r, 0.0)
    lo = 0.0 if vmin is None else float(vmin)
    hi = 1.0 if vmax is None or not np.isfinite(vmax) or vmax <= lo else float(vmax)
    return ColorMap("Blues", lo, hi, (lo + hi) / 2)


def encode_png(index: np.ndarray, palette: np.ndarray, compress_level: int = 1) -> bytes:
    """An 8-bit palette PNG of ``index`` (uint8, rows top to bottom) with ``palette`` ((256, 3) uint8).

    Examples
    --------
    >>> data = encode_png(np.zeros((2, 3), np.uint8), _palette("RdBu"))
    >>> data[:4] == b"\\x89PNG"
    True
    """
    from PIL import Image as PILImage

    img = PILImage.fromarray(np.ascontiguousarray(index, dtype=np.uint8))
    img.putpalette(np.asarray(palette, dtype=np.uint8).ravel().tolist())
    buf = _io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def encode_rgb_png(rgb: np.ndarray, compress_level: int = 1) -> bytes:
    """A PNG of an (h, w, 3) or (h, w, 4) uint8 array."""
    from PIL import Image as PILImage

    img = PILImage.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8))
    buf = _io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def png_mark(**kwargs):
    """A :class:`bqplot.Image` mark showing PNG bytes, updated with :func:`set_png`.

    bqplot's image view redraws when the mark's ``image`` widget is replaced, not when that widget's bytes
    change; so each mark owns two ``ipywidgets.Image`` and :func:`set_png` fills the hidden one and swaps them
    (no widget is created after construction, and only the new bytes are sent).
    """
    import ipywidgets as widgets
    from bqplot import Image

    blank = encode_rgb_png(np.zeros((1, 1, 4), np.uint8))
    mark = Image(image=widgets.Image(value=blank, format="png"), **kwargs)
    mark._rnnscope_spare = widgets.Image(value=blank, format="png")
    return mark


def set_png(mark, data: bytes) -> None:
    """Show ``data`` (PNG bytes) in a mark made by :func:`png_mark`."""
    spare = mark._rnnscope_spare
    spare.value = data
    mark._rnnscope_spare = mark.image
    mark.image = spare


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """``"#RRGGBB"`` -> (r, g, b)."""
    color = color.lstrip("#")
    return tuple(int(color[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]

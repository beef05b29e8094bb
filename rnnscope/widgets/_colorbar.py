"""A colour bar as a narrow bqplot figure: a gradient image on a value scale with its axis.

Used beside image views (their colours are rendered in Python, so no bqplot colour scale knows them).
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, Figure, LinearScale

from ._render import ColorMap, encode_png, png_mark, set_png
from ._timeaxis import nice_ticks

__all__ = ["ColorBar"]


class ColorBar:
    """A vertical colour bar ``width`` x ``height`` pixels whose plot area lines up with a figure's
    (same ``top`` and ``bottom`` margins).

    Examples
    --------
    >>> bar = ColorBar(80, 200, top=8, bottom=34)
    >>> bar.show(ColorMap("RdBu", -1.0, 1.0), "h")
    >>> (bar.scale.min, bar.scale.max, bar.axis.label)
    (-1.0, 1.0, 'h')
    """

    def __init__(self, width: int, height: int, *, top: int, bottom: int, label: str = ""):
        self.cmap: ColorMap | None = None
        #: value scale of the bar (vmin at the bottom, vmax at the top)
        self.scale = LinearScale(min=0.0, max=1.0, allow_padding=False)
        self.image = png_mark(x=(0.0, 1.0), y=(0.0, 1.0), scales={"x": LinearScale(min=0.0, max=1.0),
                                                                  "y": self.scale}, pixelated=False)
        self.axis = Axis(scale=self.scale, side="right", label=label, tick_values=nice_ticks(0.0, 1.0, 5),
                         label_offset="46px", tick_format=".3~g")
        self.figure = Figure(marks=[self.image], axes=[self.axis], padding_x=0.0, padding_y=0.0,
                             animation_duration=0, min_aspect_ratio=0.01, max_aspect_ratio=100.0,
                             fig_margin={"top": top, "bottom": bottom, "left": 6, "right": max(20, width - 20)},
                             layout=widgets.Layout(width=f"{width}px", height=f"{height}px"))
        self.figure.add_class("rnnscope-colorbar")

    def show(self, cmap: ColorMap, label: str | None = None) -> None:
        """Draw ``cmap`` (only when it changed) and set the label."""
        if cmap != self.cmap:
            self.cmap = cmap
            gradient = cmap.indices(np.linspace(cmap.vmax, cmap.vmin, 256)[:, None])
            with self.image.hold_sync():
                set_png(self.image, encode_png(gradient, cmap.palette()))
                self.image.y = (cmap.vmin, cmap.vmax)
            with self.scale.hold_sync():
                self.scale.min, self.scale.max = cmap.vmin, cmap.vmax
            self.axis.tick_values = nice_ticks(cmap.vmin, cmap.vmax, 5)
        if label is not None:
            self.axis.label = label

"""ClassHeatMap: heat per class and unit (Fig. 6) at 100/50/30 %, class correlation (Fig. 7), top units (Table II).

Everything comes from the run's capture-time summaries (``summary_heat``), so it opens instantly on any run size;
a selection of records (``run.isel(event=...)``) gets summaries of its own records, computed once from its states
(:func:`rnnscope.widgets._summaries.load_summaries`). Unit ids are 0-based (the paper's neuron numbers are 1-based).
"""
from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import traitlets
from bqplot import Axis, ColorScale, Figure, GridHeatMap, LinearScale, OrdinalScale

from . import _summaries as summaries
from ._colorbar import ColorBar
from ._render import ColorMap, encode_png, png_mark, set_png
from ._summaries import load_summaries

__all__ = ["ClassHeatMap", "FRACTIONS"]

#: the fractions of Fig. 6 / Fig. 7: keep the units whose heat is in the top p for every class
FRACTIONS = (1.0, 0.5, 0.3)
_MARGIN = {"top": 10, "bottom": 40, "left": 60, "right": 80}


class ClassHeatMap(widgets.VBox):
    """Class heat map linked to the class-by-class correlation matrix and the top-units table.

    Parameters
    ----------
    run : xarray.Dataset
        A run with its summaries (``rnnscope.capture`` stores them).
    layer : int
        Layer shown.
    fraction : float
        Keep the units whose heat is in the top ``fraction`` for every class (1.0, 0.5 or 0.3 in the paper).
    explorer : Explorer, optional
        Clicking a unit adds it to ``explorer.selected_units`` and shows a record of the clicked class.
    weighting : {"segment", "frame"}
        Segment-weighted heat (the paper's) or frame-weighted (as :func:`rnnscope.analysis.heat_map`).
    width : int
        Width of the heat map in pixels.

    Examples
    --------
    >>> from rnnscope.examples import toy_long_run
    >>> from rnnscope.widgets import Explorer
    >>> run = toy_long_run()
    >>> ex = Explorer(run, width=600)
    >>> ClassHeatMap(run).fraction  # every unit, heat per segment, no Explorer linked
    1.0
    >>> chm = ClassHeatMap(run, fraction=0.5, explorer=ex)
    >>> len(chm.units) <= run.sizes["unit"]
    True
    >>> chm.open_unit(7, "LP")  # what a click on (unit 7, LP) does
    >>> 7 in ex.selected_units
    True
    """

    #: layer shown (0-based)
    layer = traitlets.Int(0)
    #: keep the units whose heat is in the top `fraction` of units for every class (1.0 keeps all)
    fraction = traitlets.Float(1.0)
    #: "segment" (mean over the class's segments of the segment mean |h|, the paper's) or "frame"
    weighting = traitlets.Enum(("segment", "frame"), default_value="segment")
    #: last clicked unit id (-1 before any click)
    selected_unit = traitlets.Int(-1)
    #: class of the last clicked row ("" before any click)
    selected_class = traitlets.Unicode("")

    def __init__(self, run, *, layer: int = 0, fraction: float = 1.0, explorer=None, weighting: str = "segment",
                 width: int = 760):
        self.run = run
        self.summary = load_summaries(run)  # small; the heat maps never touch the states
        self.explorer = explorer
        self.class_names = [str(c) for c in run["class_name"].values]
        self.n_layers = int(run.sizes["layer"])
        self.units = np.arange(run.sizes["unit"])
        n_cls = len(self.class_names)

        # heat map: classes (rows) x kept units (columns), an Image mark so that a click gives the cell
        self.column_scale = LinearScale(min=0.0, max=1.0, allow_padding=False)
        self.row_scale = LinearScale(min=0.0, max=float(n_cls), reverse=True, allow_padding=False)
        self.heat_image = png_mark(x=(0.0, 1.0), y=(float(n_cls), 0.0),
                                   scales={"x": self.column_scale, "y": self.row_scale}, pixelated=True)
        self.heat_image.on_element_click(self._on_click)
        class_axis_scale = OrdinalScale(domain=self.class_names, reverse=True)  # first class on top
        self.unit_axis = Axis(scale=self.column_scale, label="unit", num_ticks=8, tick_format="d")
        height = max(170, 34 * n_cls + 60)
        self.fig_heat = Figure(
            marks=[self.heat_image],
            axes=[self.unit_axis, Axis(scale=class_axis_scale, side="left", label="class")],
            fig_margin={**_MARGIN, "right": 10}, padding_x=0.0, padding_y=0.0, animation_duration=0,
            layout=widgets.Layout(width=f"{width - 90}px", height=f"{height}px"))
        self.heat_bar = ColorBar(90, height, top=_MARGIN["top"], bottom=_MARGIN["bottom"], label="heat (mean |h|)")
        # correlation matrix (classes x classes): a few cells, drawn as a GridHeatMap with its values
        corr_map = ColorMap("RdBu", -1.0, 1.0)
        self.corr_color = ColorScale(colors=corr_map.hex_colors(), min=-1.0, max=1.0)
        self.corr = GridHeatMap(row=self.class_names, column=self.class_names, color=np.zeros((n_cls, n_cls)),
                                scales={"row": OrdinalScale(domain=self.class_names, reverse=True),
                                        "column": OrdinalScale(domain=self.class_names),
                                        "color": self.corr_color},
                                display_format=".2f", null_color="#eeeeee", stroke="white",
                                font_style={"font-size": "11px"})
        corr_margin = {"top": 10, "bottom": 40, "left": 60, "right": 10}
        self.fig_corr = Figure(
            marks=[self.corr],
            axes=[Axis(scale=self.corr.scales["column"], label="class"),
                  Axis(scale=self.corr.scales["row"], side="left", label="class")],
            fig_margin=corr_margin, padding_x=0.0, padding_y=0.0, animation_duration=0,
            layout=widgets.Layout(width="300px", height="290px"))
        self.corr_bar = ColorBar(80, 290, top=10, bottom=40, label="correlation")
        self.corr_bar.show(corr_map)
        self.table = widgets.HTML()
        self.readout = widgets.HTML(_click_hint())
        self.w_fraction = widgets.ToggleButtons(options=[("100 %", 1.0), ("50 %", 0.5), ("30 %", 0.3)],
                                                value=1.0, tooltips=["all units", "units in the top 50 % for every "
                                                                     "class", "units in the top 30 % for every class"],
                                                style={"button_width": "64px"})
        self.w_fraction.observe(lambda c: setattr(self, "fraction", c["new"]), names="value")
        self.w_layer = widgets.Dropdown(options=list(range(self.n_layers)), description="layer",
                                        layout=widgets.Layout(width="120px", display="" if self.n_layers > 1
                                                              else "none"), style={"description_width": "36px"})
        self.w_layer.observe(lambda c: setattr(self, "layer", c["new"]), names="value")
        super().__init__(children=[widgets.HBox([widgets.HTML("units kept:&nbsp;"), self.w_fraction, self.w_layer]),
                                   widgets.HBox([self.fig_heat, self.heat_bar.figure]), self.readout,
                                   widgets.HBox([self.fig_corr, self.corr_bar.figure, self.table])])
        self.add_class("rnnscope-classheatmap")
        with self.hold_trait_notifications():
            self.layer = layer
            self.weighting = weighting
            self.fraction = fraction
        self._update()

    @traitlets.validate("fraction")
    def _valid_fraction(self, proposal):
        p = float(proposal["value"])
        if not 0.0 < p <= 1.0:
            raise traitlets.TraitError(f"The 'fraction' of ClassHeatMap must be in (0, 1] (e.g. 1.0, 0.5, 0.3). "
                                       f"Got {p}.")
        return p

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        if not 0 <= proposal["value"] < self.n_layers:
            raise traitlets.TraitError(f"The 'layer' of ClassHeatMap must be in 0..{self.n_layers - 1}. "
                                       f"Got {proposal['value']}.")
        return proposal["value"]

    @traitlets.observe("fraction", "layer", "weighting")
    def _on_change(self, change):
        if change["name"] == "fraction" and self.w_fraction.value != change["new"] and change["new"] in FRACTIONS:
            self.w_fraction.value = change["new"]
        if change["name"] == "layer":
            self.w_layer.value = change["new"]
        if hasattr(self, "table"):
            self._update()

    def _update(self) -> None:
        run, layer = self.summary, self.layer
        heat = summaries.heat(run, layer, self.weighting)  # (class, unit), Fig. 6
        self.units = summaries.shared_units(run, layer, self.fraction, self.weighting)
        values = heat[:, self.units]
        vmax = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
        cmap = ColorMap("viridis", 0.0, vmax or 1.0)
        n = len(self.units)
        with self.heat_image.hold_sync():
            set_png(self.heat_image, encode_png(cmap.indices(values) if n else np.full((1, 1), 255, np.uint8),
                                                cmap.palette()))
            self.heat_image.x = (0.0, float(max(n, 1)))
        with self.column_scale.hold_sync():
            self.column_scale.min, self.column_scale.max = 0.0, float(max(n, 1))
        self.heat_bar.show(cmap)
        every = self.fraction >= 1.0
        self.unit_axis.label = ("unit" if every else
                                f"{n} units in the top {self.fraction:.0%} for every class (position; click for id)")
        self.unit_axis.tick_format = "d" if every else " "
        corr = summaries.class_correlation(run, layer, self.fraction, self.weighting)  # Fig. 7
        present = [i for i in range(len(self.class_names)) if np.isfinite(heat[i]).any()]  # classes with segments
        names = [self.class_names[i] for i in present]
        self.correlation = corr[np.ix_(present, present)]
        with self.corr.hold_sync(), self.corr.hold_trait_notifications():  # row, column, color validated together
            self.corr.scales["row"].domain = names
            self.corr.scales["column"].domain = names
            self.corr.row, self.corr.column = names, names
            self.corr.color = np.nan_to_num(self.correlation)
        self.table.value = _top_table(summaries.top_units(run, layer, 5, self.weighting), heat)

    def _on_click(self, mark, content) -> None:
        data = content.get("data", {})
        x, y = data.get("click_x"), data.get("click_y")
        if x is None or y is None or not len(self.units):
            return
        col = int(np.clip(np.floor(float(x)), 0, len(self.units) - 1))
        row = int(np.clip(np.floor(float(y)), 0, len(self.class_names) - 1))
        self.open_unit(int(self.units[col]), self.class_names[row])

    def open_unit(self, unit: int, class_name: str) -> None:
        """Select ``unit`` (for ``class_name``); with an Explorer, show it there on a record of that class."""
        self.selected_unit = int(unit)
        self.selected_class = class_name
        heat = summaries.heat(self.summary, self.layer, self.weighting)
        value = heat[self.class_names.index(class_name), unit]
        self.readout.value = (f'<div style="font-size:12px">unit <b>{unit}</b> · class <b>{html.escape(class_name)}'
                              f"</b> · heat {value:.3f}" + (" → shown in the Explorer" if self.explorer else "")
                              + "</div>")
        if self.explorer is not None:
            self.explorer.show_unit(unit, class_name=class_name, layer=self.layer)


def _click_hint() -> str:
    return '<div style="font-size:12px;color:#555">click a cell to open that unit (0-based id) in the Explorer</div>'


def _top_table(top: dict, heat: np.ndarray) -> str:
    """Table II: the five units of highest heat per class, with their heat."""
    names = list(top)
    rows = []
    for c, name in enumerate(names):
        cells = "".join(f"<td>{u} <span style='color:#777'>({heat[c, u]:.2f})</span></td>" for u in top[name])
        rows.append(f"<tr><th style='text-align:left'>{html.escape(name)}</th>{cells or '<td>no segment</td>'}</tr>")
    head = "".join(f"<th>#{i + 1}</th>" for i in range(5))
    return ("<div style='font-size:12px;margin-left:12px'><b>Most specialised units</b> (highest heat; 0-based ids)"
            f"<table style='border-collapse:collapse' cellpadding='3'><tr><th></th>{head}</tr>{''.join(rows)}"
            "</table></div>")

"""Histograms of activation values per class (Fig. 5) and two runs side by side."""
from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import traitlets
from bqplot import Axis, Figure, LinearScale, Lines

from ..analysis._histograms import DEFAULT_BINS
from . import _summaries as summaries
from ._classheat import ClassHeatMap
from ._source import STATE_NAMES

__all__ = ["Histograms", "CompareRuns"]


class Histograms(widgets.VBox):
    """Density of a state variable's values per true class (Fig. 5), one line per class in its colour.

    Parameters
    ----------
    run : xarray.Dataset
        A run.
    var, layer : str, int
        What to histogram.
    bins : int, optional
        Number of bins over the variable's range (its captured range, ``summary_min`` / ``summary_max``; [0, 1]
        for gates). Default: 40, as :func:`rnnscope.analysis.activation_histogram`.
    max_frames : int
        Frames read at most (events in order): a bounded sample on long runs.
    title : str
        Shown above the figure (e.g. the architecture).
    y_scale : bqplot.LinearScale, optional
        Density scale to share with another Histograms (as :class:`CompareRuns` does).
    width : int
        Width of the figure in pixels.
    controls : bool
        Show the variable and layer selectors above the figure (False: the figure alone).

    Examples
    --------
    >>> from rnnscope.examples import toy_long_run
    >>> hist = Histograms(toy_long_run())
    >>> hist.lines.labels
    ['SIL', 'TRE', 'LP', 'VTE', 'HYB']
    >>> hist.var = "forget_gate"  # the figure follows the trait
    >>> hist.x_axis.label, len(Histograms(toy_long_run(), controls=False).children)
    ('forget_gate (layer 0)', 1)
    """

    #: state variable histogrammed
    var = traitlets.Unicode("h")
    #: layer (0-based)
    layer = traitlets.Int(0)

    def __init__(self, run, *, var: str = "h", layer: int = 0, bins: int | None = None, max_frames: int = 200_000,
                 title: str = "", y_scale=None, width: int = 480, controls: bool = True):
        from .._colors import class_color

        self.run = run
        self.bins = DEFAULT_BINS if bins is None else int(bins)
        self.max_frames = int(max_frames)
        self.variables = [v for v in STATE_NAMES if v in run.data_vars]
        names = [str(c) for c in run["class_name"].values]
        self.x_scale = LinearScale(min=-1.0, max=1.0, allow_padding=False)
        self.y_scale = y_scale or LinearScale(min=0.0, allow_padding=False)
        self.lines = Lines(x=np.zeros(2), y=np.zeros((len(names), 2)), labels=names,
                           colors=[class_color(c, names) for c in names], stroke_width=1.6, display_legend=True,
                           scales={"x": self.x_scale, "y": self.y_scale}, interpolation="step-after")
        self.x_axis = Axis(scale=self.x_scale, label="h")
        self.figure = Figure(marks=[self.lines], axes=[self.x_axis, Axis(scale=self.y_scale, side="left",
                                                                         label="density", num_ticks=5)],
                             title=title, legend_location="top-right", animation_duration=0,
                             fig_margin={"top": 30 if title else 10, "bottom": 40, "left": 55, "right": 10},
                             layout=widgets.Layout(width=f"{width}px", height="280px"))
        self.w_var = widgets.Dropdown(options=self.variables, value=var, description="variable",
                                      layout=widgets.Layout(width="190px"), style={"description_width": "56px"})
        self.w_var.observe(lambda c: setattr(self, "var", c["new"]), names="value")
        self.w_layer = widgets.Dropdown(options=list(range(run.sizes["layer"])), description="layer",
                                        layout=widgets.Layout(width="110px"), style={"description_width": "36px"})
        self.w_layer.observe(lambda c: setattr(self, "layer", c["new"]), names="value")
        children = [widgets.HBox([self.w_var, self.w_layer]), self.figure] if controls else [self.figure]
        super().__init__(children=children)
        self.add_class("rnnscope-histograms")
        with self.hold_trait_notifications():
            self.var = var
            self.layer = layer
        self._update()

    @traitlets.validate("var")
    def _valid_variable(self, proposal):
        if proposal["value"] not in self.variables:
            raise traitlets.TraitError(f"The 'var' of Histograms must be one of {self.variables}. "
                                       f"Got {proposal['value']!r} instead.")
        return proposal["value"]

    @traitlets.observe("var", "layer")
    def _on_change(self, change):
        self.w_var.value, self.w_layer.value = self.var, self.layer
        if hasattr(self, "figure"):
            self._update()

    def _update(self) -> None:
        # rnnscope.analysis's activation histograms (Fig. 5) of the first records, on the variable's stored range
        edges, dens = summaries.histograms(self.run, self.var, self.layer,
                                           np.linspace(*summaries.value_range(self.run, self.var, self.layer),
                                                       self.bins + 1), self.max_frames)
        self.edges, self.density = edges, dens
        y = np.stack([np.append(d, d[-1]) for d in dens.values()])
        with self.lines.hold_sync():
            self.lines.x = edges
            self.lines.y = y
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = float(edges[0]), float(edges[-1])
        self.x_axis.label = f"{self.var} (layer {self.layer})"


class CompareRuns(widgets.VBox):
    """Two runs side by side (e.g. LSTM vs vanilla RNN): activation histograms on a shared density scale and
    class heat maps.

    Parameters
    ----------
    run_a, run_b : xarray.Dataset
        The runs.
    names : (str, str), optional
        Titles (default: the cell type from each run's model config, else "run A" / "run B").
    var, layer : str, int
        Histogrammed state variable (must exist in both runs) and layer.
    max_frames : int
        Frames read at most from each run (events in order).

    Raises
    ------
    ValueError
        When ``var`` is not a state variable of both runs.

    Examples
    --------
    >>> from rnnscope.examples import toy_long_run
    >>> len(CompareRuns(toy_long_run(seed=0), toy_long_run(seed=1)).histograms)
    2
    >>> cmp = CompareRuns(toy_long_run(seed=0), toy_long_run(seed=1), names=("LSTM", "vanilla"))
    >>> cmp.histograms[0].y_scale is cmp.histograms[1].y_scale
    True
    """

    #: state variable histogrammed in both runs
    var = traitlets.Unicode("h")
    #: layer shown in both runs (0-based)
    layer = traitlets.Int(0)
    #: fraction of units of the class heat maps (see ClassHeatMap.fraction)
    fraction = traitlets.Float(1.0)

    def __init__(self, run_a, run_b, *, names=None, var: str = "h", layer: int = 0, max_frames: int = 200_000):
        names = list(names or (_run_name(run_a, "run A"), _run_name(run_b, "run B")))
        common = [v for v in STATE_NAMES if v in run_a.data_vars and v in run_b.data_vars]
        if var not in common:
            raise ValueError(f"The 'var' of CompareRuns must be a state variable of both runs: {common}. "
                             f"Got {var!r} instead.")
        shared_y = LinearScale(min=0.0, allow_padding=False)
        self.histograms = [Histograms(r, var=var, layer=layer, title=n, y_scale=shared_y, max_frames=max_frames,
                                      controls=False) for r, n in zip((run_a, run_b), names, strict=False)]
        self.heatmaps = [ClassHeatMap(r, layer=layer, width=480) for r in (run_a, run_b)]
        self.w_var = widgets.Dropdown(options=common, value=var, description="variable",
                                      layout=widgets.Layout(width="190px"), style={"description_width": "56px"})
        self.w_var.observe(lambda c: setattr(self, "var", c["new"]), names="value")
        self.w_fraction = widgets.ToggleButtons(options=[("100 %", 1.0), ("50 %", 0.5), ("30 %", 0.3)], value=1.0,
                                                description="units",
                                                style={"button_width": "60px", "description_width": "40px"})
        self.w_fraction.observe(lambda c: setattr(self, "fraction", c["new"]), names="value")
        for hm in self.heatmaps:
            hm.w_fraction.layout.display = "none"
        titles = [widgets.HTML(f"<b>{html.escape(n)}</b>") for n in names]
        columns = [widgets.VBox([t, h, m]) for t, h, m in zip(titles, self.histograms, self.heatmaps, strict=False)]
        super().__init__(children=[widgets.HBox([self.w_var, self.w_fraction]), widgets.HBox(columns)])
        self.add_class("rnnscope-compare")
        self.var, self.layer = var, layer

    @traitlets.observe("var", "layer")
    def _on_change(self, change):
        for h in self.histograms:
            setattr(h, change["name"], change["new"])
        if change["name"] == "layer":
            for m in self.heatmaps:
                m.layer = change["new"]
        self.w_var.value = self.var

    @traitlets.observe("fraction")
    def _on_fraction(self, change):
        for m in self.heatmaps:
            m.fraction = change["new"]
        self.w_fraction.value = change["new"]


def _run_name(run, default: str) -> str:
    import json

    config = run.attrs.get("model_config")
    try:
        config = json.loads(config) if isinstance(config, str) else config
        cells = config.get("cells") or [config.get("cell")]
        return f"{'/'.join(map(str, cells)).upper()} ({config.get('hidden_size', run.sizes['unit'])} units)"
    except Exception:  # no or foreign model config
        return default

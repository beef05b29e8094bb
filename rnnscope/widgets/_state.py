"""The one state every view of the Explorer reads: what is shown (record, variable, layer, unit order, selected
units, visible time range, time labels, the picked detection, the last pointed unit) and for how many pixels.

:class:`ExplorerState` holds it as validated traitlets, with the reader of the run (:class:`~rnnscope.widgets.
_source.RunReader`, the levels source) and the questions every view asks of it (the frames in view, the heatmap's row
order, the record's UTC start). The view components (:mod:`rnnscope.widgets._views`, :mod:`rnnscope.widgets._units`,
:mod:`rnnscope.widgets._controls`, :mod:`rnnscope.widgets._why`) are typed against this class only: they read the
state and draw their own marks; the :class:`~rnnscope.widgets.Explorer`, whose public traitlets these are, composes
them and decides when each redraws.
"""
from __future__ import annotations

import numpy as np
import traitlets
import xarray as xr

from . import _summaries as summaries
from ._source import Columns, RunReader

__all__ = ["ExplorerState"]


class ExplorerState(traitlets.HasTraits):
    """What an Explorer shows (its public traitlets, validated against the run) and the size it renders for.

    Examples
    --------
    >>> from rnnscope.examples import toy_long_run
    >>> from rnnscope.widgets import Explorer
    >>> state = Explorer(toy_long_run(), width=600)  # an Explorer is its own state
    >>> isinstance(state, ExplorerState), state.view_frames() == state.reader.frame_range(0, *state.time_range)
    (True, True)
    """

    #: position (0-based, along ``event``) of the record shown
    event = traitlets.Int(0)
    #: state variable shown in the heatmap and the unit lines, e.g. "h", "c", "forget_gate"
    var = traitlets.Unicode("h")
    #: layer shown (0-based)
    layer = traitlets.Int(0)
    #: heatmap row order: "index" (unit id), "activity" (mean |h|, descending), "specialisation" (for order_class)
    unit_order = traitlets.Enum(summaries.UNIT_ORDERS, default_value="activity")
    #: class whose specialisation orders the rows when unit_order == "specialisation"
    order_class = traitlets.Unicode("")
    #: unit ids (0-based) drawn in the time-series view, in the order they were added
    selected_units = traitlets.List(traitlets.Int())
    #: visible time range (s from the record start), shared by all views
    time_range = traitlets.Tuple(traitlets.Float(), traitlets.Float(), default_value=(0.0, 1.0))
    #: what the last click on the heatmap or on a unit's trace hit: {"unit", "rank", "time", "value"} (empty before
    #: any click)
    pointer = traitlets.Dict()
    #: time labels: "utc" (clock time, when the run has ``starttime``) or "seconds" (from the record start)
    time_format = traitlets.Enum(["utc", "seconds"], default_value="seconds")
    #: position (in :attr:`detections`) of the picked detection, marked on every view; -1 when none
    picked = traitlets.Int(-1)

    #: the run's reader: lengths, ids, segments, summaries, and the slices the views show
    reader: RunReader
    #: the run shown
    run: xr.Dataset
    #: pixels of the plot area rendered for (the lines get one point per pixel)
    plot_width: int = 0
    #: image columns rendered for the visible range (two per pixel of the plot area)
    n_cols: int = 0
    #: time ticks per axis
    n_ticks: int = 4

    # ------------------------------------------------------------------------------------------- size
    def set_plot_width(self, plot_width: int) -> None:
        """Render for a plot area of ``plot_width`` pixels: two image columns and one line point per pixel."""
        self.plot_width = int(plot_width)
        self.n_cols = 2 * self.plot_width
        self.n_ticks = int(np.clip(self.plot_width // 130, 4, 10))

    # ------------------------------------------------------------------------------------------- questions
    @property
    def order(self) -> np.ndarray:
        """Unit ids in heatmap row order (first row at the top); computed once per layer, order and class (the
        summaries do not change)."""
        key = (self.layer, self.unit_order, self.order_class or None)
        orders = self.__dict__.setdefault("_orders", {})
        if key not in orders:
            orders[key] = summaries.unit_order(self.reader.summary, *key)
            orders[key].flags.writeable = False
        return orders[key]

    def view_frames(self) -> tuple[int, int]:
        """Frames [i0, i1) of the record shown that the visible time range covers."""
        t0, t1 = self.time_range
        return self.reader.frame_range(self.event, t0, t1)

    def starttime(self):
        """UTC start of the record shown (None when the run does not know it)."""
        st = self.reader.starttimes
        return None if st is None else st[self.event]

    def label_starttime(self):
        """The start the time labels count from: the record's UTC start when they show clock time, else None."""
        return self.starttime() if self.time_format == "utc" else None

    def image_x(self, cols: Columns) -> tuple[float, float]:
        """Time span (s) of an image whose columns are ``cols``: from the first frame's start to the last's end."""
        r = self.reader
        return (float(r.frame_time(cols.start) - r.dt / 2),
                float(r.frame_time(cols.start + cols.n * cols.step) - r.dt / 2))

    def value_at(self, unit: int, t: float) -> float:
        """Value of ``unit`` at time ``t`` in the current record, variable and layer (one frame read)."""
        i = int(np.floor((t - self.reader.times[0]) / self.reader.dt + 0.5))
        if not 0 <= i < int(self.reader.lengths[self.event]):
            return float("nan")
        return float(self.reader.state(self.event, self.var, self.layer, i, i + 1)[0, unit])

    def layer_label(self) -> str:
        """The variable and layer shown, as the heatmap's colour bar and the value axis name them."""
        if "module" in self.run.coords:
            return f"{self.var} ({self.reader.layer_labels[self.layer]})"
        return f"{self.var} (layer {self.layer})"

    # ------------------------------------------------------------------------------------------- validation
    def _check_variable(self, name: str) -> str:
        if name not in self.reader.variables:
            raise traitlets.TraitError(
                f"The 'var' of Explorer must be one of {self.reader.variables} (the state variables of this "
                f"run). Got {name!r} instead.")
        return name

    @traitlets.validate("var")
    def _valid_variable(self, proposal):
        return self._check_variable(proposal["value"])

    @traitlets.validate("event")
    def _valid_event(self, proposal):
        n = len(self.reader.lengths)
        if not 0 <= proposal["value"] < n:
            raise traitlets.TraitError(f"The 'event' of Explorer must be in 0..{n - 1}. Got {proposal['value']}.")
        return proposal["value"]

    @traitlets.validate("layer")
    def _valid_layer(self, proposal):
        n = self.reader.n_layers
        if not 0 <= proposal["value"] < n:
            raise traitlets.TraitError(f"The 'layer' of Explorer must be in 0..{n - 1}. Got {proposal['value']}.")
        return proposal["value"]

    @traitlets.validate("order_class")
    def _valid_class(self, proposal):
        if proposal["value"] == "" and not self.reader.class_names:
            return ""  # a run without labels has no class to order by
        if proposal["value"] not in self.reader.class_names:
            raise traitlets.TraitError(f"The 'order_class' of Explorer must be one of {self.reader.class_names}. "
                                       f"Got {proposal['value']!r} instead.")
        return proposal["value"]

    @traitlets.validate("selected_units")
    def _valid_units(self, proposal):
        units = [int(u) for u in proposal["value"]]
        bad = [u for u in units if not 0 <= u < self.reader.n_units]
        if bad:
            raise traitlets.TraitError(f"The 'selected_units' of Explorer must be unit ids in "
                                       f"0..{self.reader.n_units - 1}. Got {bad}.")
        return list(dict.fromkeys(units))

    @traitlets.validate("time_range")
    def _valid_range(self, proposal):
        t0, t1 = (float(x) for x in proposal["value"])
        if not t1 > t0:
            raise traitlets.TraitError(f"The 'time_range' of Explorer must be (start, end) with end > start (s). "
                                       f"Got {(t0, t1)}.")
        return (t0, t1)

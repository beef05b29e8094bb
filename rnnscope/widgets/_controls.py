"""The Explorer's controls and readout, as components: the row of dropdowns and buttons that set the state
(:class:`Controls`), and the legend with the readout of the last pointed unit (:class:`Readout`).
"""
from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import numpy as np

from ._drawing import _legend_html, _readout_html
from ._state import ExplorerState

__all__ = ["Controls", "Readout"]


class Controls:
    """Record, variable, layer, row order and its class, "whole record" and the time format: each control writes
    one trait of the state; :meth:`sync` shows the state's values.

    Parameters
    ----------
    state : ExplorerState
    on_whole : callable
        Called by the "whole record" button.
    """

    def __init__(self, state: ExplorerState, on_whole: Callable[[], None]):
        self.state = state
        r = state.reader
        options = [(f"{i}: {r.event_ids[i]} · {cls} · {r.duration(i):.0f} s", i)
                   for i, cls in enumerate(r.main_classes())]

        def style(w):
            return {"description_width": f"{w}px"}

        self.w_event = widgets.Dropdown(options=options, description="record", style=style(46),
                                        layout=widgets.Layout(width="300px"))
        self.w_var = widgets.Dropdown(options=r.variables, description="variable", style=style(54),
                                      layout=widgets.Layout(width="165px"))
        # "encoder.lstm[0] backward" for runs of any nn.Module (rnnscope.schema.layer_labels), else the layer id
        self.w_layer = widgets.Dropdown(options=[(label, i) for i, label in enumerate(r.layer_labels)],
                                        description="layer", style=style(36), layout=widgets.Layout(width="auto"))
        orders = [("unit id", "index"), ("activity", "activity")]
        orders += [("specialisation", "specialisation")] if r.class_names else []  # it needs labels
        self.w_order = widgets.Dropdown(options=orders, description="order", style=style(38),
                                        layout=widgets.Layout(width="160px"))
        # "of": the class whose specialisation orders the rows (the review page's "class" is the decision's)
        self.w_class = widgets.Dropdown(options=r.class_names, description="of", style=style(20),
                                        layout=widgets.Layout(width="100px"))
        self.w_whole = widgets.Button(description="whole record", tooltip="zoom out to the whole record",
                                      layout=widgets.Layout(width="105px"))
        self.w_whole.on_click(lambda _: on_whole())
        self.w_time_format = widgets.ToggleButtons(options=[("UTC", "utc"), ("s", "seconds")],
                                                   value=state.time_format,
                                                   tooltips=["UTC clock time", "seconds from the record start"],
                                                   style={"button_width": "54px"},
                                                   layout=widgets.Layout(width="auto"))
        for w, name in [(self.w_event, "event"), (self.w_var, "var"), (self.w_layer, "layer"),
                        (self.w_order, "unit_order"), (self.w_class, "order_class"),
                        (self.w_time_format, "time_format")]:
            w.observe(self._writer(name), names="value")
        controls = ([self.w_event] if len(options) > 1 else []) + [
            self.w_var, self.w_layer, self.w_order, self.w_class, self.w_whole]
        if r.starttimes is not None and any(t is not None for t in r.starttimes):
            controls.append(self.w_time_format)
        #: the row of controls
        self.box = widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap"))

    def _writer(self, name: str) -> Callable[[dict], None]:
        def handler(change: dict) -> None:
            if getattr(self.state, name) != change["new"]:
                setattr(self.state, name, change["new"])
        return handler

    def sync(self) -> None:
        """Show the state's values (and enable the class only where it orders the rows)."""
        state = self.state
        self.w_event.value = state.event
        self.w_var.value = state.var
        self.w_layer.value = state.layer
        self.w_order.value = state.unit_order
        if state.reader.class_names:
            self.w_class.value = state.order_class
        self.w_class.disabled = state.unit_order != "specialisation" or not state.reader.class_names
        self.w_time_format.value = state.time_format


class Readout:
    """The legend of the class bands, arrivals and probabilities, and the readout of the last pointed unit.

    Parameters
    ----------
    state : ExplorerState
    band_rows : list of str
        The class bands the waveform figure draws ("true", "pred").
    """

    def __init__(self, state: ExplorerState, band_rows: list[str]):
        self.state = state
        r = state.reader
        has_ps = bool(len(r.segments)) and bool(np.isfinite(r.segments[["p", "s"]].to_numpy(dtype=float)).any())
        self.w_legend = widgets.HTML(_legend_html(r.class_names, band_rows, has_ps, r.has_prob))
        self.w_readout = widgets.HTML(_readout_html(None))
        #: the legend and the readout, above the views
        self.box = widgets.VBox([self.w_legend, self.w_readout], layout=widgets.Layout(padding="0 8px"))

    def show(self) -> None:
        """Show the state's pointer: unit, row, time (UTC when the labels show it) and value."""
        state = self.state
        self.w_readout.value = _readout_html(state.pointer, state.var, state.layer, state.label_starttime())

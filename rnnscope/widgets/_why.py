"""The Explorer's "why" row: what the clicked unit listens to at the clicked time.

A click on the heatmap or on a unit's trace (unit ``u`` at time ``t``) shows, under the spectrogram and on the same
time axis, the input attribution of ``u``'s value at ``t`` (:func:`rnnscope.experiments.attribution`) as an image of
time x band (a band's static, delta and delta-delta features summed; red pushes the unit down, blue up), a line at
``t``, and a small card with the unit's band profile, memory length (:func:`rnnscope.analysis.band_profile`,
:func:`rnnscope.analysis.lag_profile`) and gate time constant (:func:`rnnscope.analysis.timescales`).

Where the attribution comes from (no torch is imported here):

- ``attribute``, a function ``attribute(event_id, time, unit, layer, var) -> attribution Dataset`` computed on
  demand from a model, e.g. ``rnnscope.experiments.attributor(model, run)`` (the torch side builds it);
- else the attributions saved in the run (``run["attribution"]``, merged into it or opened from a store and passed
  as ``attributions=``): the saved target of that unit, layer, variable and record nearest in time.
"""
from __future__ import annotations

import html
import logging
from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
import xarray as xr
from bqplot import Axis, LinearScale, Lines
from bqplot.interacts import PanZoom

from .. import analysis
from ._colorbar import ColorBar
from ._figures import MARGIN, SIDE_WIDTH, FigureKit
from ._render import ColorMap, encode_png, png_mark, set_png
from ._state import ExplorerState

#: ``attribute(event_id, time, unit, layer, var) -> attribution Dataset`` (the torch side builds it)
Attribute = Callable[[str, float, int, int, str], xr.Dataset]

__all__ = ["WhyPanel", "band_image"]

log = logging.getLogger("rnnscope.widgets")
_HEIGHT = 150


def band_image(attr, target: int = 0):
    """``(times, band_hz, values (time, band))`` of one target: its attribution on its record's time axis, the
    features of a band summed (every feature its own band when the bands are unknown).

    Examples
    --------
    >>> import xarray as xr
    >>> a = np.ones((1, 3, 4))
    >>> attr = xr.Dataset({"attribution": (("target", "lag", "feature"), a)},
    ...                   coords={"lag": [0, 1, 2], "lag_s": ("lag", [0.0, 0.5, 1.0]), "target_time": ("target", [5.0]),
    ...                           "band_hz": ("feature", [1.0, 2.0, 1.0, 2.0])})
    >>> times, hz, values = band_image(attr)
    >>> times.tolist(), hz.tolist(), values.tolist()
    ([4.0, 4.5, 5.0], [1.0, 2.0], [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]])
    """
    image = analysis.attribution_over_time(attr, target=target)
    hz = np.asarray(attr["band_hz"].values, dtype=np.float64) if "band_hz" in attr.coords else \
        np.full(attr.sizes["feature"], np.nan)
    keys = [f"{h:.9g}" if np.isfinite(h) else f"f{i}" for i, h in enumerate(hz)]
    order = list(dict.fromkeys(keys))
    values = np.asarray(image.values, dtype=np.float64)
    bands = np.stack([np.nansum(values[:, [k == key for k in keys]], axis=1) for key in order], axis=1)
    centres = np.array([hz[keys.index(key)] if np.isfinite(hz[keys.index(key)]) else i
                        for i, key in enumerate(order)])
    return np.asarray(image["time"].values, dtype=np.float64), centres, bands


class WhyPanel:
    """The attribution row (figure, colour bar, card) of an :class:`~rnnscope.widgets.Explorer`.

    Parameters
    ----------
    state : ExplorerState
        What the Explorer shows (its record, layer and variable are explained).
    kit : FigureKit
        The Explorer's shared scales and layout (the row is on its time scale).
    attribute : callable, optional
        ``attribute(event_id, time, unit, layer, var) -> Dataset`` (see the module documentation).
    attributions : xarray.Dataset, optional
        Saved attributions (default: the run's own ``attribution``, when it has one).
    """

    def __init__(self, state: ExplorerState, kit: FigureKit, attribute: Attribute | None = None,
                 attributions: xr.Dataset | None = None):
        self.state = state
        self.attribute = attribute
        run = state.run
        self.saved = attributions if attributions is not None else (run if "attribution" in run.data_vars else None)
        self.result: xr.Dataset | None = None  #: the attribution shown (one target), or None
        self.target: tuple[int, int, str, float] | None = None  #: (unit, layer, var, time) shown
        self._timescales: dict[int, xr.Dataset | None] = {}
        self.band_scale = LinearScale(min=0.0, max=1.0, allow_padding=False)
        self.image = png_mark(x=(0.0, 1.0), y=(0.0, 1.0), scales={"x": kit.time_scale, "y": self.band_scale},
                              pixelated=True, visible=False)
        self.target_line = Lines(x=[0.0, 0.0], y=[0.0, 1.0], colors=["#000000"], stroke_width=1.5,
                                 line_style="dashed", scales={"x": kit.time_scale, "y": self.band_scale},
                                 visible=False)
        self.band_axis = Axis(scale=self.band_scale, side="left", label="band (Hz)", label_offset="55px",
                              tick_values=np.array([0.5]), tick_labels={"0.5": ""})
        self.figure = kit.figure([self.image, self.target_line, kit.marker(False)],
                                 [kit.time_axis(), self.band_axis], _HEIGHT, "rnnscope-attribution",
                                 interaction=PanZoom(scales={"x": [kit.time_scale]}))
        self.colorbar = ColorBar(SIDE_WIDTH, _HEIGHT, top=MARGIN["top"], bottom=MARGIN["bottom"],
                                 label="attribution")
        self.card = widgets.HTML(self._card_html(None), layout=widgets.Layout(padding="0 8px"))
        self.card.add_class("rnnscope-why-card")
        #: the row under the spectrogram: the figure with its colour bar, and the card
        self.box = widgets.VBox([kit.row(self.figure, self.colorbar.figure), self.card])

    # ------------------------------------------------------------------------------------------- data
    @staticmethod
    def _saved_target(s: xr.Dataset, event_id: str, time: float, unit: int, layer: int, var: str) -> int | None:
        """Position of the saved target (in ``s``) of this unit nearest ``time`` in the record, or None."""
        keep = np.ones(s.sizes["target"], dtype=bool)
        for name, value in (("target_event_id", event_id), ("target_unit", unit), ("target_layer", layer),
                            ("target_var", var)):
            if name in s.coords:
                keep &= np.asarray(s[name].values).astype(type(value)) == value
        if not keep.any():
            return None
        candidates = np.flatnonzero(keep)
        times = np.asarray(s["target_time"].values, dtype=np.float64)[candidates]
        return int(candidates[np.argmin(np.abs(times - time))])

    @staticmethod
    def _unit_targets(s: xr.Dataset, unit: int, layer: int, var: str) -> xr.Dataset | None:
        """The saved targets (in ``s``) of this unit (every record), for its band profile and memory."""
        keep = (np.asarray(s["target_unit"].values) == unit) & (np.asarray(s["target_layer"].values) == layer)
        if "target_var" in s.coords:
            keep &= np.asarray(s["target_var"].values).astype(str) == var
        return s[["attribution"]].isel(target=np.flatnonzero(keep)) if keep.any() else None

    def _timescale(self, unit, layer):
        run = self.state.run
        if "timescale_s" in run.data_vars:
            return float(run["timescale_s"].isel(unit=unit, layer=layer)), "saved"
        if layer not in self._timescales:
            try:
                self._timescales[layer] = analysis.timescales(run, layer=int(run["layer"].values[layer]))
            except (ValueError, KeyError) as exc:
                log.debug("no timescale for layer %s: %s", layer, exc)
                self._timescales[layer] = None
        tau = self._timescales[layer]
        if tau is None or str(tau["gate"].values[0]) == "none":
            return None, "no gate" if tau is not None else "gates not captured"
        return float(tau["timescale_s"].isel(unit=unit, layer=0)), str(tau["gate"].values[0])

    # ------------------------------------------------------------------------------------------- showing
    def show(self, unit: int, time: float) -> None:
        """Show why ``unit`` (of the Explorer's layer and variable, in its record) takes its value at ``time``."""
        state = self.state
        event_id = state.reader.event_ids[state.event]
        var, layer = state.var, state.layer
        self.card.value = self._card_html(f"unit {unit} at {time:.1f} s: computing the attribution...")
        result: xr.Dataset | None = None
        index: int | None = 0
        if self.attribute is not None:
            result = self.attribute(event_id, float(time), int(unit), int(layer), var)
        elif self.saved is not None:
            index = self._saved_target(self.saved, event_id, time, unit, layer, var)
            result = None if index is None else self.saved
        if result is None or index is None:
            self.result, self.target = None, None
            self.image.visible = self.target_line.visible = False
            self.card.value = self._card_html(
                f"No attribution of unit {unit} ({var}, layer {layer}) in record {html.escape(event_id)}: attach a "
                "model, Explorer(run, attribute=rnnscope.experiments.attributor(model, run)), or save attributions "
                "in the run.")
            return
        one = result.isel(target=[index])
        target = (int(unit), int(layer), var, float(one["target_time"].values[0]))
        self.result, self.target = one, target
        self._draw(one)
        unit_targets = self._unit_targets(self.saved, unit, layer, var) if self.saved is not None else None
        self.card.value = self._card_html(self._card(target, one, unit_targets if unit_targets is not None else one))

    def _draw(self, one) -> None:
        times, hz, values = band_image(one)
        dt = float(times[1] - times[0]) if times.size > 1 else self.state.reader.dt
        finite = np.abs(values[np.isfinite(values)])
        r = float(np.percentile(finite, 99)) if finite.size and np.percentile(finite, 99) > 0 else 1.0
        cmap = ColorMap("RdBu", -r, r, 0.0)
        index = cmap.indices(values.T[::-1])  # highest band at the top
        n = values.shape[1]
        picks = np.unique(np.linspace(0, n - 1, min(n, 5)).round().astype(int))
        t = float(one["target_time"].values[0])
        with self.image.hold_sync():
            set_png(self.image, encode_png(index, cmap.palette()))
            self.image.x = (float(times[0] - dt / 2), float(times[-1] + dt / 2))
            self.image.y = (0.0, float(n))
            self.image.visible = True
        with self.band_scale.hold_sync():
            self.band_scale.min, self.band_scale.max = 0.0, float(n)
        self.band_axis.tick_values = picks + 0.5
        self.band_axis.tick_labels = {_tick(p + 0.5): _hz(hz[p]) for p in picks}
        with self.target_line.hold_sync():
            self.target_line.x, self.target_line.y = [t + dt / 2, t + dt / 2], [0.0, float(n)]
            self.target_line.visible = True
        self.colorbar.show(cmap, "attribution")

    def _card(self, target: tuple[int, int, str, float], one: xr.Dataset, targets: xr.Dataset) -> str:
        unit, layer, var, t = target
        bands = analysis.band_profile(targets)
        profile = np.asarray(bands["band_profile"].isel(unit=0, layer=0).values, dtype=np.float64)
        peak = float(bands["band_peak_hz"].isel(unit=0, layer=0))
        memory = float(analysis.lag_profile(targets)["memory_s"].isel(unit=0, layer=0))
        tau, gate = self._timescale(unit, layer)
        value = float(one["target_value"].values[0]) if "target_value" in one else np.nan
        n = int(bands["n_targets"].isel(unit=0, layer=0))
        bars = "".join(f'<span title="{h:.3g} Hz: {s:.0%}" style="display:inline-block;width:7px;margin-right:1px;'
                       f'height:{max(1, int(round(40 * s / max(profile.max(), 1e-12))))}px;background:#4a6fa5;'
                       'vertical-align:bottom"></span>' for h, s in zip(bands["band_hz"].values, profile, strict=True))
        tau_text = f"{tau:.2g} s ({gate})" if tau is not None and np.isfinite(tau) else gate
        return (f"<b>unit {unit}</b> ({html.escape(var)}, layer {layer}) = {value:.3g} at {t:.1f} s &nbsp;·&nbsp; "
                f"listens most to <b>{peak:.3g} Hz</b> &nbsp;·&nbsp; memory (90 % of the attribution) "
                f"<b>{memory:.3g} s</b> &nbsp;·&nbsp; gate time constant <b>{tau_text}</b>"
                f"<br><span style='font-size:11px;color:#555'>band profile over {n} target(s), low to high "
                f"bands:</span> <span class='rnnscope-why-bands'>{bars}</span>")

    def _card_html(self, text) -> str:
        body = text if text is not None else ("Click a unit on the heatmap or its trace to see which bands and frames "
                                              "it listens to.")
        return f"<div style='font-size:12px;line-height:1.5'>{body}</div>"


def _hz(value: float) -> str:
    """A band centre as a tick label: ``20``, ``4.8``, ``0.43``."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _tick(value: float) -> str:
    from ._timeaxis import js_number

    return js_number(value)

"""The Explorer's attribution row (rnnscope.widgets._why): a click on the heatmap explains the unit at that time,
computed on demand by a callable from the torch side or read from attributions saved in the run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnscope
from rnnscope import errors
from rnnscope.experiments import attribution, attributor
from rnnscope.widgets import Explorer


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


@pytest.fixture(scope="module")
def trained():
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=3, seed=4))
    torch.manual_seed(0)
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=12, num_classes=5)
    rnnscope.train.fit(model, frames, epochs=2, progress=False, seed=0)
    run = rnnscope.capture(model, frames, progress=False)
    return model, frames, run


def _click(ex, time, rank):
    ex.heat_image._handle_custom_msgs(None, {"event": "element_click",
                                             "data": {"click_x": float(time), "click_y": rank + 0.5}})


def test_click_shows_the_attribution_under_the_spectrogram_on_the_same_time_axis(trained):
    model, frames, run = trained
    calls = []

    def attribute(*args):
        calls.append(args)
        return attributor(model, run, steps=8, max_lag=40)(*args)

    ex = Explorer(run, event=1, width=700, attribute=attribute)
    assert ex.children.index(ex.why.box) == ex.children.index(ex._spec_row) + 1  # right under the spectrogram
    assert ex.why.image.scales["x"] is ex.time_scale  # one time axis with every view
    unit = int(ex.order[2])
    _click(ex, 60.2, 2)
    assert calls == [(run.event_id.values[1], 60.2, unit, 0, "h")]
    one = ex.why.result
    assert one.target_unit.values.tolist() == [unit] and float(one.target_time[0]) == 60.0
    assert ex.why.image.visible and ex.why.target_line.visible
    dt = float(run.time[1] - run.time[0])
    x0, x1 = ex.why.image.x
    assert x1 == pytest.approx(60.0 + dt / 2) and x0 == pytest.approx(60.0 - 40 * dt - dt / 2)
    assert ex.why.target_line.x[0] == pytest.approx(60.0 + dt / 2)
    n_bands = 16
    assert ex.why.band_scale.max == n_bands and len(ex.why.band_axis.tick_values) >= 3
    card = ex.why.card.value
    assert f"unit {unit}" in card and "Hz" in card and "memory" in card and "forget_gate" in card
    expected = attribution(model, run.isel(event=[1]), target=unit, frames=60.0, steps=8, max_lag=40, progress=False)
    np.testing.assert_allclose(one.attribution, expected.attribution)


def test_saved_attributions_are_read_without_a_model(trained, tmp_path):
    model, frames, run = trained
    saved = attribution(model, run, target=[0, 1], frames="onset", steps=8, max_lag=20, progress=False)
    path = rnnscope.save_run(run.merge(saved), tmp_path / "run.zarr")
    opened = rnnscope.open_run(path)
    ex = Explorer(opened, event=0, width=700)
    target = int(np.flatnonzero((saved.target_unit.values == 1) & (saved.target_event_id.values == "syn00000"))[0])
    t = float(saved.target_time[target])
    ex.explain(1, t + 0.2)
    np.testing.assert_allclose(ex.why.result.attribution.values[0], saved.attribution.values[target])
    assert "over" in ex.why.card.value and "target(s)" in ex.why.card.value
    ex.explain(5, t)  # not saved: the card says how to get it
    assert ex.why.result is None and not ex.why.image.visible
    assert "attribute=rnnscope.experiments.attributor(model, run)" in ex.why.card.value


def test_without_attributions_there_is_no_row(trained):
    _, _, run = trained
    ex = Explorer(run, width=700)
    assert ex.why is None
    _click(ex, 30.0, 0)  # the heatmap click works as before
    with pytest.raises(errors.AttributionError,
                       match=r"Explorer.explain needs attributions: open the Explorer with attribute="):
        ex.explain(0, 30.0)


def _click_trace(ex, time, value):
    """What the browser sends for a click without drag on the traces at ``time`` (s) and ``value``: fractions of the
    plot area (rnnscope.widgets._clicks.PlotClicks)."""
    t0, t1 = ex.time_range
    v0, v1 = ex.value_scale.min, ex.value_scale.max
    ex.traces.clicks._handle_custom_msg({"event": "click", "x": (time - t0) / (t1 - t0), "y": (v1 - value) / (v1 - v0)},
                                        [])


def _isolated_line(ex, time):
    """(unit, its drawn value at ``time``, the gap to the nearest other line there)."""
    t, values = ex.trace_data("lines")
    i = int(np.argmin(np.abs(t - time)))
    at = values[:, i]
    gaps = [np.min(np.abs(np.delete(at, k) - at[k])) for k in range(at.size)]
    k = int(np.argmax(gaps))
    return ex.selected_units[k], float(at[k]), float(gaps[k])


def test_a_click_on_a_trace_explains_that_unit_like_a_heatmap_click(trained):
    model, frames, run = trained
    calls = []

    def attribute(*args):
        calls.append(args)
        return attributor(model, run, steps=8, max_lag=40)(*args)

    ex = Explorer(run, event=1, width=700, attribute=attribute)
    selected = list(ex.selected_units)
    assert len(selected) >= 2 and not ex.envelopes.visible  # one point per frame: the lines are the frames
    unit, value, gap = _isolated_line(ex, 60.2)
    _click_trace(ex, 60.2, value + 0.3 * gap)  # near that line, nearer than to any other
    ((event_id, time, called_unit, layer, var),) = calls
    assert (event_id, called_unit, layer, var) == (run.event_id.values[1], unit, 0, "h")
    assert time == pytest.approx(60.2, abs=1e-6)
    assert ex.pointer["unit"] == unit and ex.pointer["time"] == pytest.approx(60.2, abs=1e-6)
    assert ex.pointer["rank"] == int(np.flatnonzero(ex.order == unit)[0])
    assert ex.pointer["value"] == pytest.approx(float(run.h.isel(event=1, layer=0, unit=unit).sel(time=60.0,
                                                                                              method="nearest")))
    assert f"unit <b>{unit}</b>" in ex.w_readout.value
    assert ex.selected_units == selected  # a trace click explains, it does not remove the line
    dt = float(run.time[1] - run.time[0])
    assert ex.why.result.target_unit.values.tolist() == [unit] and float(ex.why.result.target_time[0]) == 60.0
    assert ex.why.image.visible and ex.why.image.x[1] == pytest.approx(60.0 + dt / 2)  # ends on the clicked frame
    assert f"unit {unit}" in ex.why.card.value

    # the nearest line wins, wherever the click lands between them
    others = [u for u in selected if u != unit]
    t, values = ex.trace_data("lines")
    i = int(np.argmin(np.abs(t - 30.0)))
    at = dict(zip(selected, values[:, i], strict=True))
    target = others[0]
    assert ex.traces.pick(30.0, at[target]) == target
    nearest = min(selected, key=lambda u: abs(at[u] - (at[target] + 0.01)))
    assert ex.traces.pick(30.0, at[target] + 0.01) == nearest


def test_trace_clicks_without_attributions_point_and_zoom_still_brushes(trained):
    _, _, run = trained
    ex = Explorer(run, width=700)
    unit, value, _ = _isolated_line(ex, 20.0)
    _click_trace(ex, 20.0, value)
    assert ex.why is None and ex.pointer["unit"] == unit and f"unit <b>{unit}</b>" in ex.w_readout.value
    ex.traces.clicks._handle_custom_msg({"event": "click", "x": 1.5, "y": 0.5}, [])  # off the plot area: nothing
    ex.traces.clicks._handle_custom_msg({"event": "mousedown"}, [])
    assert ex.pointer["unit"] == unit and ex.pointer["time"] == pytest.approx(20.0, abs=1e-6)
    ex.selected_units = []
    _click_trace(ex, 20.0, value)  # no line drawn: nothing to point at
    assert ex.pointer["time"] == pytest.approx(20.0, abs=1e-6) and ex.traces.pick(20.0, value) is None
    ex.brush.brushing = True  # a drag still zooms every view
    ex.brush.selected = np.array([12.0, 18.0])
    ex.brush.brushing = False
    assert ex.time_range == (12.0, 18.0)

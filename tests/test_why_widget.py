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

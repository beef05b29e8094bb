"""Silencing applies to capture exactly as to evaluate: ``capture(model, data)`` inside ``experiments.silenced(model,
...)`` records the silenced network, for an rnnscope classifier and for any other module (SeisBench's
EQTransformer, random weights, nothing downloaded)."""

import numpy as np
import pytest
import torch

import rnnscope
from rnnscope import analysis, experiments
from rnnscope.models._module_masks import layer_entries


@pytest.fixture(scope="module")
def frames(make_frames):
    return make_frames(4, seed=11)


@pytest.fixture(scope="module")
def model(shipped_model):
    return shipped_model


def test_a_classifier_captured_inside_silenced_is_the_silenced_classifier(model, frames):
    units = list(range(0, 64, 2))  # half the units: the accuracy moves
    plain = analysis.frame_accuracy(rnnscope.capture(model, frames, progress=False))
    with experiments.silenced(model, {0: units}):
        evaluated = rnnscope.train.evaluate(model, frames).accuracy
        run = rnnscope.capture(model, frames, progress=False)
    assert analysis.frame_accuracy(run) == pytest.approx(evaluated, abs=1e-12)
    assert evaluated != pytest.approx(plain, abs=1e-3)  # the silencing matters
    h = run["h"].values
    valid = ~np.isnan(h[..., 0, 0])
    assert np.all(h[valid][:, units] == 0) and np.all(np.abs(h[valid][:, 1::2]).sum(0) > 0)
    assert run.attrs["capture_config"]["silence"] == [units]
    # the same as capture(silence=...) outside the block, and the model is itself again after it
    same = rnnscope.capture(model, frames, progress=False, silence={0: units})
    np.testing.assert_allclose(run["c"].values, same["c"].values, atol=1e-6)
    assert analysis.frame_accuracy(rnnscope.capture(model, frames, progress=False)) == pytest.approx(plain)
    # both silencings together: the union of the units
    with experiments.silenced(model, {0: [1]}):
        both = rnnscope.capture(model, frames, progress=False, silence={0: [3]})
    assert both.attrs["capture_config"]["silence"] == [[1, 3]]


def test_any_module_captured_inside_silenced_is_the_silenced_module():
    sbm = pytest.importorskip("seisbench.models")
    torch.manual_seed(4)
    model = sbm.EQTransformer().eval()  # random weights: nothing is downloaded
    x = torch.randn(2, 3, 6000)
    # the run's layer index of that LSTM's backward direction (every recurrent module, in named_modules order)
    labels = [label for _, label in layer_entries(model)]
    entry = labels.index("bi_lstm_stack.members.0.lstm[0] backward")
    spec = {entry: [1, 3]}
    with experiments.silenced(model, spec):
        run = rnnscope.capture(model, x, sampling_rate=100, time_axis=-1, progress=False)
    assert list(rnnscope.schema.layer_labels(run)) == labels
    h = run["h"].isel(layer=entry).values
    assert np.all(h[..., [1, 3]] == 0) and np.all(np.abs(h[..., [0, 2]]).sum(1) > 0)
    assert run.attrs["capture_config"]["silence"]["bi_lstm_stack.members.0.lstm"] == [[], [1, 3]]
    same = rnnscope.capture(model, x, sampling_rate=100, time_axis=-1, progress=False, silence=spec)
    np.testing.assert_allclose(run["h"].values, same["h"].values, atol=1e-6)
    loud = rnnscope.capture(model, x, sampling_rate=100, time_axis=-1, progress=False)  # itself again
    assert np.all(np.abs(loud["h"].isel(layer=entry).values[..., [1, 3]]).sum(1) > 0)
    assert loud.attrs["capture_config"]["silence"] is None

"""experiments.class_silencing and patch_activations on a hand-wired classifier whose units drive one class each."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnscope
from rnnscope import errors
from rnnscope.experiments import class_silencing, patch_activations
from rnnscope.models import RNNClassifier

CLASSES = ["BG", "A", "B"]


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


def _frames(n_records=6, n_time=40, seed=0):
    """Feature 1 is high during A segments, feature 2 during B segments; features 3.. are noise."""
    rng = np.random.default_rng(seed)
    feats, labels = [], []
    for r in range(n_records):
        x = rng.normal(scale=0.3, size=(n_time, 8)).astype(np.float32)
        y = np.zeros(n_time, int)
        for k, (a, b) in ((1 + r % 2, (8, 18)), (1 + (r + 1) % 2, (24, 32))):
            y[a:b] = k
            x[a:b, k] += 3.0
        feats.append(x)
        labels.append(y)
    return rnnscope.data.from_features(feats, labels, class_names=CLASSES, frame_rate=2.0, background="BG")


def wired_model(seed=0, hidden=12):
    """Unit 0 reads feature 1 and alone drives class A's logit, unit 1 reads feature 2 and drives B; the other
    units read the noise features and drive nothing. BG wins when neither unit is on."""
    torch.manual_seed(seed)
    model = RNNClassifier("rnn", input_size=8, hidden_size=hidden, num_classes=3, class_names=CLASSES, background="BG")
    rnn = model.layers[0].rnn
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        rnn.weight_ih_l0[0, 1] = rnn.weight_ih_l0[1, 2] = 1.0
        rnn.weight_ih_l0[2:, 3:] = torch.randn(hidden - 2, 5) * 0.5  # noise units, active like the class units
        model.head.weight[1, 0] = model.head.weight[2, 1] = 6.0
        model.head.bias[:] = torch.tensor([0.0, -3.0, -3.0])
    return model


def test_silencing_a_unit_wired_to_one_class_drops_only_that_class():
    data = _frames()
    model = wired_model()
    base = rnnscope.train.evaluate(model, data).per_class["recall"]
    assert base["A"] > 0.9 and base["B"] > 0.9  # the wiring works
    table = class_silencing(model, data, class_units={"A": [0], "B": [1]}, null=100, seed=0, progress=False)
    drop = table.recall_drop.to_pandas()
    assert drop.loc["A", "A"] > 0.9 and drop.loc["B", "B"] > 0.9  # only its class's frames are lost
    assert abs(drop.loc["A", "B"]) < 1e-9 and abs(drop.loc["B", "A"]) < 1e-9
    assert drop.loc["A", "BG"] <= 0 and drop.loc["B", "BG"] <= 0  # its frames go to the background
    p = table.recall_drop_p.to_pandas()
    assert p.loc["A", "A"] < 0.02 and p.loc["B", "B"] < 0.02  # beyond activity-matched random units
    assert p.loc["A", "B"] > 0.5 and p.loc["B", "A"] > 0.5
    np.testing.assert_allclose(table.recall_drop_null_mean.sel(class_name=["A", "B"]), 0.0, atol=1e-9)
    assert table.logit_drop.sel(silenced_class="A", class_name="A") > 1.0
    assert table.attrs["units"] == {"A": [[0, 0]], "B": [[0, 1]]}


def test_flagged_units_by_class_gap():
    data = _frames()
    table = class_silencing(wired_model(), data, class_units=1, null=10, progress=False)
    assert table.attrs["units"] == {"A": [[0, 0]], "B": [[0, 1]]}  # the background is left out
    assert table.silenced_class.values.tolist() == ["A", "B"]


def test_patching_the_class_unit_moves_the_probabilities_of_that_class_only_where_patched():
    data = _frames()
    model = wired_model()
    source, target = data.isel(event=[0]), data.isel(event=[1])  # record 0 has A at frames 8-17, record 1 has B
    out = patch_activations(model, target, donor=source, units=[0], frames=(4.0, 9.0))  # frames 8..17 of the target
    patched = out.patched.values
    assert patched.sum() == 10 and out.time.values[patched][0] == 4.0
    change = out.prob_change.sel(class_name="A").values
    assert change[patched].min() > 0.4  # the copied A unit makes A as likely as the target's own B
    assert out.prob_change.sel(class_name="B").values[patched].max() < -0.4
    assert np.abs(change[~patched]).max() < 1e-3  # a vanilla unit's copy leaves no trace after the patch
    shifted = patch_activations(model, target, donor=source, units={0: [0]}, frames=(4.0, 9.0), donor_start=14.0)
    assert shifted.attrs["donor_start_s"] == 14.0 and shifted.attrs["event_id"] == str(target.event_id.values[0])
    assert np.abs(shifted.prob_change.sel(class_name="A").values).max() < 0.1  # the source holds no A there


def test_lstm_patching_copies_the_cell_too():
    data = _frames()
    torch.manual_seed(3)
    model = RNNClassifier("lstm", input_size=8, hidden_size=6, num_classes=3, class_names=CLASSES, background="BG")
    out = patch_activations(model, data.isel(event=[1]), donor=data.isel(event=[0]), units=list(range(6)),
                            frames=(4.0, 9.0))
    with torch.no_grad():  # every unit patched: the states after the patch are the source's, the input the target's
        x_src = torch.from_numpy(np.asarray(data.features.values[0], dtype=np.float32))[None]
        _, layers = model.trace_layers(x_src)
    assert np.abs(out.prob_change.values[out.patched.values]).max() > 0
    assert out.attrs["units"] == {"0": list(range(6))}
    assert layers[0]["variables"]["c"].shape[1] == data.sizes["time"]


def test_errors():
    data = _frames()
    model = wired_model()
    with pytest.raises(errors.AttributionError, match=r"names the class 'LP', which the model does not have"):
        class_silencing(model, data, class_units={"LP": [0]}, null=1, progress=False)
    with pytest.raises(errors.AttributionError, match=r"names \(layer, unit\) \[\(0, 40\)\] for class 'A'"):
        class_silencing(model, data, class_units={"A": [40]}, null=1, progress=False)
    with pytest.raises(errors.AttributionError, match=r"'data' holds 6 records; choose one with event="):
        patch_activations(model, data, donor=data.isel(event=[0]), units=[0], frames=(4.0, 9.0))
    with pytest.raises(errors.AttributionError, match=r"'donor' holds 6 records; choose one with donor_event="):
        patch_activations(model, data.isel(event=[1]), donor=data, units=[0], frames=(4.0, 9.0))
    with pytest.raises(errors.AttributionError, match=r"'frames' parameter of patch_activations selects no frame"):
        patch_activations(model, data, donor=data.isel(event=[0]), units=[0], frames=(400.0, 409.0), event="rec00001")
    with pytest.raises(errors.AttributionError, match=r"fewer than the 10 patched frames"):
        patch_activations(model, data.isel(event=[1]), donor=data.isel(event=[0]), units=[0], frames=(4.0, 9.0),
                          donor_start=17.0)

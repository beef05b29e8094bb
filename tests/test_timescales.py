"""analysis.timescales and experiments.impulse_response on hand-set gates with known time constants."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnscope
from rnnscope import analysis, errors
from rnnscope.experiments import impulse_response
from rnnscope.models import RNNClassifier


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


TAUS = np.array([0.5, 2.0, 5.0, 12.0])  # s; frames of 0.5 s


def _frames(n_features=4):
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(n, n_features)).astype(np.float32) for n in (80, 60)]
    labels = [np.zeros(n, int) for n in (80, 60)]
    return rnnscope.data.from_features(feats, labels, class_names=["BG", "EV"], frame_rate=2.0, background="BG")


def _logit(p):
    return float(np.log(p / (1 - p)))


def gated_model(cell, taus=TAUS, dt=0.5, n_features=4):
    """Units whose keeping gate (LSTM forget, GRU update) is the constant exp(-dt / tau): only biases set it."""
    model = RNNClassifier(
        cell, input_size=n_features, hidden_size=len(taus), num_classes=2, class_names=["BG", "EV"], background="BG"
    )
    rnn = model.layers[0].rnn
    H = len(taus)
    rows = slice(H, 2 * H) if cell == "lstm" else slice(H, 2 * H)  # LSTM (i, f, g, o); GRU (r, z, n)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0"):
            getattr(rnn, name)[rows] = 0.0
        rnn.bias_hh_l0[rows] = 0.0
        rnn.bias_ih_l0[rows] = torch.tensor([_logit(np.exp(-dt / t)) for t in taus])
    return model


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gate_timescale_is_the_set_time_constant(cell):
    torch.manual_seed(0)
    model = gated_model(cell)
    run = rnnscope.capture(model, _frames(), progress=False)
    tau = analysis.timescales(run)
    assert tau.gate.values.tolist() == ["forget_gate" if cell == "lstm" else "update_gate"]
    np.testing.assert_allclose(tau.timescale_s.sel(layer=0), TAUS, rtol=0.10)
    np.testing.assert_allclose(tau.timescale_s.sel(layer=0), TAUS, rtol=1e-4)  # exactly, the gate being constant
    assert tau.attrs["frame_period_s"] == 0.5
    # a slice of the run's records gives the same constants (a run is plain xarray)
    np.testing.assert_allclose(analysis.timescales(run.isel(event=[1])).timescale_s, tau.timescale_s, rtol=1e-5)


def test_impulse_decay_matches_the_gate_time_constant():
    torch.manual_seed(1)
    model = gated_model("lstm")
    with torch.no_grad():
        model.layers[0].rnn.weight_hh_l0.zero_()  # no recurrence but the kept cell: c decays as f**k
    out = impulse_response(model, _frames(), var="c", n_frames=120, amplitude=0.5)
    np.testing.assert_allclose(out.impulse_decay_s.sel(layer=0), TAUS, rtol=0.10)
    assert bool(out.decayed.all()) and out.time.values[1] == 0.5
    gru = gated_model("gru")
    with torch.no_grad():
        gru.layers[0].rnn.weight_hh_l0.zero_()
    out = impulse_response(gru, _frames(), n_frames=120, amplitude=0.2)
    np.testing.assert_allclose(out.impulse_decay_s.sel(layer=0), TAUS, rtol=0.10)


def test_vanilla_layers_have_no_gate_time_constant():
    torch.manual_seed(2)
    model = RNNClassifier(
        ["rnn", "lstm"], input_size=4, hidden_size=3, num_classes=2, class_names=["BG", "EV"], background="BG"
    )
    run = rnnscope.capture(model, _frames(), progress=False)
    tau = analysis.timescales(run)
    assert tau.gate.values.tolist() == ["none", "forget_gate"]
    assert np.isnan(tau.timescale_s.sel(layer=0)).all() and np.isfinite(tau.timescale_s.sel(layer=1)).all()
    with pytest.warns(errors.RnnscopeWarning, match=r"no gate that keeps their state \(vanilla RNN layers\)"):
        analysis.timescales(run, layer=0)
    out = impulse_response(model, _frames())  # measured from outside: defined for the vanilla layer too
    assert np.isfinite(out.impulse_decay_s.sel(layer=0)).any()


def test_errors():
    run = rnnscope.capture(gated_model("gru"), _frames(), var=["h"], progress=False)
    with pytest.raises(ValueError, match=r"keep their state through 'update_gate', which the run does not hold"):
        analysis.timescales(run)
    with pytest.raises(errors.AttributionError, match=r"'var' parameter of impulse_response must be a variable"):
        impulse_response(gated_model("gru"), var="c")
    with pytest.raises(errors.AttributionError, match=r"'pulse_features' parameter of impulse_response"):
        impulse_response(gated_model("gru"), pulse_features=["nope"])


def test_a_time_slice_is_analysed_as_a_run_of_those_frames():
    torch.manual_seed(4)
    model = RNNClassifier("gru", input_size=4, hidden_size=5, num_classes=2, class_names=["BG", "EV"], background="BG")
    run = rnnscope.capture(model, _frames(), progress=False)
    part = run.isel(time=slice(10, 70))  # record 1 holds 60 frames: 50 of them in the slice
    z = part["update_gate"].sel(layer=0).values  # (event, time, unit), NaN past each record's end
    expected = -0.5 / np.log(np.nanmean(z.reshape(-1, z.shape[-1]), axis=0))
    np.testing.assert_allclose(analysis.timescales(part).timescale_s.sel(layer=0), expected, rtol=1e-5)

"""rnnscope.experiments.attribution: known answers on hand-wired models, completeness, windows and states, the
unrolled path, stores, any nn.Module (bidirectional, conv front end, SeisBench's EQTransformer) and errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

import rnnscope
from rnnscope import errors
from rnnscope.experiments import attribution
from rnnscope.models import RNNClassifier


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


def _frames(n_records=3, n_time=30, n_features=6, seed=0, lengths=None):
    """Features of other class names (BG background), random values, records of different lengths."""
    rng = np.random.default_rng(seed)
    lengths = lengths or [n_time - 4 * i for i in range(n_records)]
    feats = [rng.normal(size=(n, n_features)).astype(np.float32) for n in lengths]
    labels = [np.where((np.arange(n) >= 8) & (np.arange(n) < 16), 1, 0) for n in lengths]
    return rnnscope.data.from_features(feats, labels, class_names=["BG", "EV"], frame_rate=2.0, background="BG")


def copy_model(n_features=6, feature=2, delay=3, gain=0.2, hidden=None):
    """A vanilla RNN whose unit ``delay`` copies input feature ``feature`` from ``delay`` frames back: unit 0 reads
    the feature, unit k reads unit k - 1 (a shift register); every other weight is 0."""
    hidden = hidden or delay + 2
    model = RNNClassifier(
        "rnn", input_size=n_features, hidden_size=hidden, num_classes=2, class_names=["BG", "EV"], background="BG"
    )
    layer = model.layers[0].rnn
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        layer.weight_ih_l0[0, feature] = gain
        for k in range(1, hidden):
            layer.weight_hh_l0[k, k - 1] = 1.0
    return model


@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_x_input", "occlusion"])
def test_copy_unit_is_attributed_to_its_feature_and_delay(method):
    data = _frames()
    for feature, delay in ((2, 3), (5, 1)):
        model = copy_model(feature=feature, delay=delay)
        attr = attribution(model, data, target=delay, frames=(10.0, 12.0), method=method, max_lag=8, patch=(1, 1),
                           baseline="zeros", progress=False)
        mass = np.abs(attr.attribution.values).sum(0)  # (lag, feature)
        assert np.unravel_index(np.nanargmax(mass), mass.shape) == (delay, feature)
        assert mass[delay, feature] / np.nansum(mass) > 0.999  # nothing else carries attribution
        if method == "integrated_gradients":  # complete: the sum is f(x) - f(baseline)
            np.testing.assert_allclose(attr.attribution.sum(("lag", "feature")),
                                       attr.target_value - attr.baseline_value, rtol=1e-3, atol=1e-6)


def test_target_value_is_the_captured_state_with_windows_and_carried_state():
    """Each window starts from the state the record left there (max_lag), so f(x) is the unit's captured value."""
    data = _frames(n_records=2, n_time=40)
    torch.manual_seed(0)
    model = RNNClassifier(
        ["gru", "lstm"], input_size=6, hidden_size=5, num_classes=2, class_names=["BG", "EV"], background="BG"
    )
    run = rnnscope.capture(model, data, progress=False)
    for layer, var in ((0, "update_gate"), (1, "c"), (1, "h")):
        attr = attribution(model, data, target=[1, 4], layer=layer, var=var, frames="all", max_lag=5, batch_size=7,
                           steps=8, progress=False)
        captured = run[var].sel(layer=layer).values  # (event, time, unit)
        expected = [captured[list(run.event_id.values).index(e), f, u] for e, f, u in
                    zip(attr.target_event_id.values, attr.target_frame.values, attr.target_unit.values, strict=True)]
        np.testing.assert_allclose(attr.target_value, expected, atol=1e-5)
        assert attr.sizes["lag"] == 6
        early = attr.target_frame.values < 5  # windows reaching before the record start are NaN there
        assert np.isnan(attr.attribution.values[early, 5]).all()
        assert not np.isnan(attr.attribution.values[~early]).any()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "lazy_lstm"])
def test_integrated_gradients_are_complete(cell):
    data = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=3))
    torch.manual_seed(1)
    model = RNNClassifier(cell, input_size=48, hidden_size=12, num_classes=5).fit_normalizer(data)
    for target in (4, "LP"):
        attr = attribution(model, data, target=target, frames="onset", steps=32, max_lag=30, progress=False,
                           class_output="prob")
        diff = (attr.target_value - attr.baseline_value).values
        total = attr.attribution.sum(("lag", "feature")).values
        assert np.all(np.abs(total - diff) <= 0.01 * np.abs(diff) + 1e-6)
        assert float(attr.completeness_error.max()) < 0.01


def test_too_few_steps_are_doubled_until_complete_or_warned():
    data = rnnscope.features.compute(rnnscope.data.synthetic(n_records=1, seed=3))
    torch.manual_seed(1)
    model = RNNClassifier("lstm", input_size=48, hidden_size=12, num_classes=5).fit_normalizer(data)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(6.0)  # a very nonlinear path
    with pytest.warns(errors.CompletenessWarning,
                      match=r"miss f\(x\) - f\(baseline\) by more than 1% .* after up to 2 steps; pass max_steps=4"):
        attribution(model, data, target="VTE", frames="onset", steps=2, max_steps=2, max_lag=30, progress=False)
    # with room to double the steps, the targets missing completeness are computed again until they meet it
    attr = attribution(model, data, target="VTE", frames="onset", steps=2, max_lag=30, progress=False)
    assert float(attr.completeness_error.max()) < 0.01
    assert attr.ig_steps.max() > 2 and set(attr.ig_steps.values.tolist()) <= {2, 4, 8, 16, 32, 64, 128, 256}


def test_unrolled_path_gives_the_same_attributions():
    """The step loop used on CUDA (cuDNN refuses an RNN's backward in eval mode) equals the fused path."""
    data = _frames()
    torch.manual_seed(2)
    model = RNNClassifier(
        ["lstm", "gru"], input_size=6, hidden_size=5, num_classes=2, class_names=["BG", "EV"], background="BG"
    )
    kwargs = dict(layer=1, frames=(9.0, 11.0), steps=8, max_lag=6, progress=False)
    fused = attribution(model, data, target=[0, 3], **kwargs)
    stepped = attribution(model, data, target=[0, 3], unroll=True, **kwargs)
    xr.testing.assert_allclose(fused.drop_vars("completeness_error"), stepped.drop_vars("completeness_error"),
                               atol=1e-6)
    assert float(fused.completeness_error.max()) < 1e-3 and float(stepped.completeness_error.max()) < 1e-3


def test_result_layout_coordinates_and_store(tmp_path):
    data = _frames()
    torch.manual_seed(3)
    model = RNNClassifier("lstm", input_size=6, hidden_size=4, num_classes=2, class_names=["BG", "EV"], background="BG")
    attr = attribution(model, data, target=2, frames="onset", max_lag=4, steps=4, progress=False)
    assert attr.attribution.dims == ("target", "lag", "feature")
    assert attr.target_segment_class.values.tolist() == ["EV"] * 3  # the background's segments are left out
    assert attr.target_frame.values.tolist() == [8, 8, 8]  # the onsets: frame 8 at 4 s
    assert attr.target_time.values.tolist() == [4.0, 4.0, 4.0]
    assert attr.lag_s.values.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert set(attr.feature_part.values) == {"input"} and np.isnan(attr.band_hz).all()  # names not rnnscope's
    stored = attribution(model, data, target=2, frames="onset", max_lag=4, steps=4, progress=False,
                         store=tmp_path / "attr.zarr", batch_size=2)
    stored = stored.load()
    # completeness_error is a float32 rounding residual (1e-5 of f(x) - f(b)): batches of another size round it
    # differently in its last digits
    np.testing.assert_allclose(stored.completeness_error, attr.completeness_error, rtol=0, atol=1e-6)
    xr.testing.assert_allclose(stored.drop_vars("completeness_error"), attr.drop_vars("completeness_error"))
    reopened = rnnscope.open_run(tmp_path / "attr.zarr")
    assert reopened.attrs["class_names"] == ["BG", "EV"]
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        attribution(model, data, target=2, frames="onset", max_lag=4, progress=False, store=tmp_path / "attr.zarr")
    run = rnnscope.capture(model, data, progress=False).merge(attr)
    path = rnnscope.save_run(run, tmp_path / "run.zarr")
    xr.testing.assert_allclose(rnnscope.open_run(path).attribution.load(), attr.attribution)


@pytest.mark.parametrize("rate", [100.0, 50.0, 200.0])
def test_band_labels_of_rnnscope_features(rate):
    """The bands are the features' own at their sampling rate (the filter peaks capture writes), the parts static,
    delta and delta-delta; the frames and the features' reach are counted in frames whatever the rate."""
    records = rnnscope.data.synthetic(n_records=1, seed=0, sampling_rate=rate)
    data = rnnscope.features.compute(records, n_fft=1024) if rate > 100 else rnnscope.features.compute(records)
    model = RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5).fit_normalizer(data)
    attr = attribution(model, data, target=0, frames=20.0, steps=4, max_lag=3, progress=False)
    parts = attr.feature_part.values
    assert parts[:16].tolist() == ["static"] * 16 and parts[16:32].tolist() == ["delta"] * 16
    assert parts[32:].tolist() == ["delta_delta"] * 16
    np.testing.assert_allclose(attr.band_hz.values, data.feature_peak_hz.values)
    np.testing.assert_allclose(attr.band_hz.values[:16], attr.band_hz.values[16:32])
    assert float(attr.band_hz.max()) < rate / 2  # below Nyquist at every rate
    assert attr.attrs["reach_before"] == 8 and attr.target_time.values.tolist() == [20.0]
    assert attr.lag_s.values.tolist() == [0.0, 0.5, 1.0, 1.5]
    assert float(attr.completeness_error.max()) < 0.01


def test_a_result_too_large_for_memory_asks_for_a_store(monkeypatch, tmp_path):
    """Every frame of a long record held in memory would pass the limit (2 GB): refused before any work, with the
    fix; with store= the same call is written batch by batch and gives the numbers of an in-memory call."""
    from rnnscope.experiments import _attribution_result

    data = _frames(n_records=2, n_time=30)
    model = copy_model(feature=2, delay=3)
    kwargs = dict(frames="all", max_lag=5, method="gradient_x_input", batch_size=8, progress=False)
    in_memory = attribution(model, data, target=3, **kwargs)
    one_target = 4 * 6 * 6  # float32 x lags x features
    monkeypatch.setattr(_attribution_result, "MEMORY_LIMIT", 10 * one_target)
    with pytest.raises(
        errors.AttributionError,
        match=r"the result would hold 56 targets x 6 lags x 6 features "
        r".*pass store= \(written batch by batch\) or a smaller max_lag=",
    ):
        attribution(model, data, target=3, **kwargs)
    stored = attribution(model, data, target=3, store=tmp_path / "long.zarr", **kwargs)
    xr.testing.assert_allclose(stored.load(), in_memory)


def test_occlusion_patches_share_their_drop():
    data = _frames()
    model = copy_model(feature=1, delay=2)
    attr = attribution(
        model,
        data,
        target=2,
        frames=12.0,
        method="occlusion",
        patch=(2, 1),
        max_lag=5,
        baseline="zeros",
        progress=False,
    )
    values = attr.attribution.values[:, :, 1]
    # patches end on the target frame: lags (0, 1), (2, 3), (4, 5); the copied lag 2 shares with lag 3
    np.testing.assert_allclose(values[:, 2], values[:, 3])
    assert np.abs(values[:, [0, 1, 4, 5]]).max() == 0
    assert np.isnan(attr.completeness_error).all()


# --------------------------------------------------------------------------------------------- any nn.Module


class ConvBiLSTM(nn.Module):
    """A conv front end (kernel 3, same padding), a bidirectional LSTM, a per-frame head."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 4, 3, padding=1)
        self.rnn = nn.LSTM(4, 3, batch_first=True, bidirectional=True)
        self.head = nn.Linear(6, 3)

    def forward(self, x):  # (batch, channels, time)
        z = self.conv(x).transpose(1, 2)
        out, _ = self.rnn(z)
        return self.head(out)


def test_any_module_bidirectional_with_conv_front_end():
    torch.manual_seed(5)
    model = ConvBiLSTM()
    x = torch.randn(2, 2, 20)
    forward = attribution(model, x, target=1, layer="rnn[0] forward", frames=10, time_axis=-1, steps=16, progress=False)
    backward = attribution(model, x, target=1, layer="rnn[0] backward", frames=10, time_axis=-1, steps=16,
                           progress=False)
    lags = forward.lag.values
    mass_f = np.nansum(np.abs(forward.attribution.values), axis=(0, 2))
    mass_b = np.nansum(np.abs(backward.attribution.values), axis=(0, 2))
    # the forward direction reads frames up to the target (plus the conv's one frame ahead), the backward after it
    assert mass_f[lags < -1].sum() == 0 and mass_f[lags >= 0].sum() > 0
    assert mass_b[lags > 1].sum() == 0 and mass_b[lags <= 0].sum() > 0
    for attr in (forward, backward):
        assert float(attr.completeness_error.max()) < 0.01
        assert attr.sizes["feature"] == 2 and attr.target_layer_label.values.tolist()[0].startswith("rnn[0]")
    logits = attribution(model, x, target="b", frames="peak", time_axis=-1, class_names=["a", "b", "c"],
                         output_fn=lambda out: out, steps=16, progress=False)
    assert logits.target_class.values.tolist() == ["b", "b"]
    with torch.no_grad():
        own = model(x)[:, :, 1]
    np.testing.assert_allclose(logits.target_value, own.max(1).values, atol=1e-5)


def test_eqtransformer_with_random_weights():
    sbm = pytest.importorskip("seisbench.models")
    torch.manual_seed(4)
    model = sbm.EQTransformer()  # random weights: nothing is downloaded
    x = torch.randn(1, 3, 6000)
    attr = attribution(model, x, target=3, layer="bi_lstm_stack.members.0.lstm[0] backward", frames=20, time_axis=-1,
                       sampling_rate=100.0, method="gradient_x_input", progress=False)
    assert attr.sizes["feature"] == 3 and attr.attrs["module_steps"] == 47
    assert attr.target_time.values[0] == pytest.approx((20 + 0.5) * 60 / 47)
    mass = np.nansum(np.abs(attr.attribution.values[0]), axis=1)
    assert mass.sum() > 0 and np.isfinite(attr.target_value).all()


# --------------------------------------------------------------------------------------------- errors


def test_errors_name_what_is_wrong():
    data = _frames()
    model = RNNClassifier(
        ["lstm", "lstm"], input_size=6, hidden_size=4, num_classes=2, class_names=["BG", "EV"], background="BG"
    )
    with pytest.raises(errors.AttributionError, match=r"'layer' parameter of attribution must name the layer of unit"):
        attribution(model, data, target=2, progress=False)
    with pytest.raises(errors.AttributionError, match=r"'var' parameter .* \['h', 'c', 'input_gate'"):
        attribution(model, data, target=2, layer=0, var="update_gate", progress=False)
    with pytest.raises(errors.AttributionError, match=r"unit\(s\) \[9\] of layer 1, which has 4 units"):
        attribution(model, data, target=9, layer=1, progress=False)
    with pytest.raises(errors.AttributionError, match=r"names the class 'LP', which the model does not have"):
        attribution(model, data, target="LP", progress=False)
    with pytest.raises(errors.AttributionError, match=r"frames=\(500.0, 600.0\) selects no valid frame"):
        attribution(model, data, target=0, layer=0, frames=(500.0, 600.0), progress=False)
    with pytest.raises(errors.AttributionError, match=r"'classes' parameter of attribution names \['VT'\]"):
        attribution(model, data, target=0, layer=0, frames="onset", classes=["VT"], progress=False)
    with pytest.raises(ValueError, match=r"'method' parameter of attribution must be one of"):
        attribution(model, data, target=0, layer=0, method="saliency", progress=False)
    with pytest.raises(errors.AttributionError, match=r"'data' parameter of attribution must be a features Dataset"):
        attribution(model, np.zeros((1, 5, 6)), target=0, layer=0, progress=False)
    with pytest.raises(errors.AttributionError, match=r"'baseline' parameter of attribution must hold one value per"):
        attribution(model, data, target=0, layer=0, baseline=np.zeros(4), progress=False)
    with pytest.raises(errors.AttributionError, match=r"a class target of a model that is not an rnnscope classifier"):
        attribution(ConvBiLSTM(), torch.randn(1, 2, 8), target="b", time_axis=-1, progress=False)


def test_copy_unit_band_profile_and_memory_from_a_stored_attribution(tmp_path):
    """End to end: the unit copying band 5 with a delay of 3 frames listens to band 5's centre and remembers 3
    frames (1.5 s), read back from the store without torch's help."""
    data = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=2, sampling_rate=50.0))
    model = copy_model(n_features=48, feature=5, delay=3, gain=0.05).fit_normalizer(data)
    attribution(model, data, target=3, frames="all", max_lag=10, steps=8, batch_size=64, progress=False,
                store=tmp_path / "copy.zarr")
    stored = rnnscope.open_run(tmp_path / "copy.zarr")
    bands = rnnscope.analysis.band_profile(stored, null=50)
    assert float(bands.band_peak_hz.sel(unit=3, layer=0)) == pytest.approx(float(data.feature_peak_hz[5]))
    lags = rnnscope.analysis.lag_profile(stored, null=50)
    assert int(lags.memory_lag.sel(unit=3, layer=0)) == 3 and float(lags.memory_s.sel(unit=3, layer=0)) == 1.5
    assert float(lags.memory_s_p.sel(unit=3, layer=0)) < 0.05


def test_gaps_inside_a_record_are_explained_as_the_model_sees_them():
    """NaN frames inside a record (a gap of the archive): the model sees NaN there, as PyTorch's own modules do
    (nothing is filled in); targets before the gap are explained as usual (the models are causal): every attribution
    stays finite and f(x) is the model's own value; a target after the gap is NaN, as the model's output there."""
    data = _frames(n_records=1, n_time=40)
    features = data["features"].values.copy()
    features[0, 10:14] = np.nan
    data["features"] = (data["features"].dims, features)
    torch.manual_seed(6)
    model = RNNClassifier(
        "gru", input_size=6, hidden_size=4, num_classes=2, class_names=["BG", "EV"], background="BG"
    ).fit_normalizer(data)
    attr = attribution(model, data, target=[0, 2], frames=(3.5, 4.5), max_lag=6, steps=16, progress=False)
    assert set(attr.target_frame.values.tolist()) == {7, 8}  # frames before the gap (10 to 13)
    assert np.isfinite(attr.attribution.values[:, :7]).all()
    with torch.no_grad():
        _, layers = model.forward_layers(torch.from_numpy(features[:, :40]))
    own = layers[0]["h"][0].numpy()
    np.testing.assert_allclose(
        attr.target_value,
        [own[f, u] for f, u in zip(attr.target_frame.values, attr.target_unit.values, strict=True)],
        atol=1e-5,
    )
    assert float(attr.completeness_error.max()) < 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.CompletenessWarning)  # a NaN target has no completeness to miss
        after = attribution(model, data, target=[0], frames=(8.0, 8.5), max_lag=12, steps=4, progress=False)
    assert np.isnan(after.target_value.values).all() and np.isnan(own[int(after.target_frame[0]), 0])
    assert np.isnan(after.completeness_error.values).all() and (after.ig_steps.values == 4).all()  # not redone


def test_unrolled_never_calls_the_fused_kernel_while_autograd_records(monkeypatch):
    """What makes gradients possible on CUDA in eval mode: inside models.unrolled the fused nn.LSTM/nn.GRU kernels
    (cuDNN's on a GPU) are not called at all while autograd records, for rnnscope's layers and for any module."""
    from rnnscope.models import unrolled

    torch.manual_seed(7)
    classifier = RNNClassifier(
        ["lstm", "gru"], input_size=3, hidden_size=4, num_classes=2, class_names=["BG", "EV"], background="BG"
    ).eval()
    bidirectional = ConvBiLSTM().eval()
    x = torch.randn(2, 6, 3, requires_grad=True)
    reference = classifier(x).sum() + bidirectional(x.transpose(1, 2)[:, :2]).sum()

    def refuse(*args, **kwargs):
        raise RuntimeError("fused kernel called")

    monkeypatch.setattr(torch.nn.LSTM, "forward", refuse)
    monkeypatch.setattr(torch.nn.GRU, "forward", refuse)
    with unrolled(bidirectional):
        stepped = classifier(x).sum() + bidirectional(x.transpose(1, 2)[:, :2]).sum()
        stepped.backward()
    assert torch.allclose(stepped, reference, atol=1e-5) and x.grad is not None

"""NaN inside a record's valid frames is missing data: it propagates exactly as in PyTorch's own modules (states,
probabilities NaN from that frame on), with one warning per call naming the records and frames; padding past a
record's length never influences anything; summaries and analyses leave the NaN states out."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

import rnnscope
from rnnscope import analysis, examples, train
from rnnscope.errors import NumericalWarning
from rnnscope.io import compute_summaries

NAN = float("nan")
SUMMARIES = ("summary_heat", "summary_heat_frame", "summary_activity", "summary_min", "summary_max")


@pytest.fixture(scope="module")
def model():
    return examples.trained_model()


@pytest.fixture(scope="module")
def frames(model):
    """Three synthetic records of different lengths (NaN padding)."""
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=3, seed=0))
    lengths = frames["length"].values
    assert len(set(lengths.tolist())) == 3
    assert all(np.isnan(frames["features"].values[i, n:]).all() for i, n in enumerate(lengths))
    return frames


def _with_nan(frames, event=0, frame=5):
    holed = frames.copy(deep=True)
    holed["features"][event, frame, :] = NAN
    return holed


def _normalised(model, x):
    return (torch.as_tensor(x, dtype=torch.float32) - model.feature_mean) / model.feature_std


def _quiet_capture(model, data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        return rnnscope.capture(model, data, progress=False, **kwargs)


def test_capture_of_the_trained_model_with_a_nan_frame_equals_nn_lstm(model):
    """The outside check's case: an array with one NaN frame in record 0, through the classifier's fast path (native
    kernels): every state equals nn.LSTM on the same normalised input, NaN from frame 5 on in record 0, record 1
    untouched and equal to a capture of record 1 alone."""
    torch.manual_seed(0)
    x = torch.randn(2, 30, 48)
    x[0, 5, :] = NAN
    with pytest.warns(NumericalWarning, match=r"capture: 1 record\(s\) hold NaN features inside their length: '0' "
                                              r"from frame 5\. Their states and outputs are NaN from that frame on"):
        run = rnnscope.capture(model, x.numpy(), progress=False)
    lstm = model.layers[0].rnn
    assert isinstance(lstm, torch.nn.LSTM)
    with torch.no_grad():
        own, (_, c_last) = lstm(_normalised(model, x))
    h = torch.from_numpy(run["h"].isel(layer=0).values)
    assert torch.equal(torch.isnan(h), torch.isnan(own))
    assert bool(torch.isnan(h[0, 5:]).all()) and not bool(torch.isnan(h[0, :5]).any())
    assert not bool(torch.isnan(h[1]).any())
    torch.testing.assert_close(h, own, atol=2e-6, rtol=0, equal_nan=True)
    c = torch.from_numpy(run["c"].isel(layer=0, time=-1).values)
    torch.testing.assert_close(c, c_last[0], atol=2e-6, rtol=0, equal_nan=True)
    for var in ("c", "input_gate", "forget_gate", "output_gate", "cell_input"):
        values = run[var].isel(layer=0).values
        assert np.isnan(values[0, 5:]).all() and np.isfinite(values[0, :5]).all() and np.isfinite(values[1]).all()
    alone = rnnscope.capture(model, x[1:].numpy(), progress=False)
    for var in ("h", "c", "forget_gate"):
        np.testing.assert_allclose(run[var].values[1], alone[var].values[0], atol=2e-6, rtol=0)
    # the summaries leave record 0's NaN frames out: the activity is finite and that of the defined frames
    expected = np.concatenate([np.abs(own[0, :5].numpy()), np.abs(own[1].numpy())]).mean(0)
    np.testing.assert_allclose(run["summary_activity"].isel(layer=0).values, expected, rtol=1e-5)
    assert np.isfinite(run["summary_min"].values).all() and np.isfinite(run["summary_max"].values).all()


def test_analyses_of_an_array_capture_with_a_nan_frame_read_the_frames_before_it(model):
    """A capture from an array has no ``pred``: the analyses find the record's undefined end from ``h`` (every unit
    NaN) and give the numbers of the record cut before its NaN frame, without a warning about NaN states."""
    torch.manual_seed(0)
    x = torch.randn(3, 30, 48)
    x[1, 12, 7] = NAN
    run = _quiet_capture(model, x.numpy())
    assert "pred" not in run and run["length"].values.tolist() == [30, 30, 30]
    cut = run.assign_coords(length=("event", [30, 12, 30]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        for call in (lambda r: analysis.unit_activity(r), lambda r: analysis.activation_histogram(r, per=None),
                     lambda r: analysis.smoothness(r), lambda r: analysis.temporal_trace(r, event=1)):
            xr.testing.assert_allclose(call(run), call(cut))


def test_capture_of_frames_with_a_nan_frame_inside_a_record(model, frames):
    """A features Dataset with a NaN frame inside record 0: its states, probabilities and prediction (-1) are NaN
    from that frame on, equal to nn.LSTM on the normalised frames; the other records are what they are without it;
    the summaries are those of the defined frames (the run's own data read again) and finite."""
    holed = _with_nan(frames)
    with pytest.warns(NumericalWarning, match=r"'syn00000' from frame 5\..*frames\[\"features\"\]\.fillna"):
        run = rnnscope.capture(model, holed, progress=False)
    clean = rnnscope.capture(model, frames, progress=False)
    n = int(frames["length"][0])
    with torch.no_grad():
        own, _ = model.layers[0].rnn(_normalised(model, holed["features"].values[:1, :n]))
    h = torch.from_numpy(run["h"].isel(event=0, layer=0, time=slice(0, n)).values)
    torch.testing.assert_close(h, own[0], atol=2e-6, rtol=0, equal_nan=True)
    assert bool(torch.isnan(h[5:]).all()) and not bool(torch.isnan(h[:5]).any())
    assert np.isnan(run["prob"].values[0, 5:n]).all() and (run["pred"].values[0, 5:] == -1).all()
    np.testing.assert_array_equal(run["pred"].values[0, :5], clean["pred"].values[0, :5])
    for var in ("h", "c", "prob", "pred"):
        np.testing.assert_array_equal(run[var].values[1:], clean[var].values[1:])
    again = compute_summaries(run)
    for name in SUMMARIES:
        np.testing.assert_allclose(run[name].values, again[name].values, rtol=2e-5, atol=1e-7, equal_nan=True)
        present = np.isfinite(clean[name].values)  # the classes with frames in the clean run keep them
        assert np.isfinite(run[name].values[present]).all(), name
    # leaving the NaN frames out is cutting the record before them
    cut = run.assign_coords(length=("event", np.r_[5, frames["length"].values[1:]]))
    for name in SUMMARIES:
        np.testing.assert_allclose(run[name].values, compute_summaries(cut)[name].values, rtol=2e-5, atol=1e-7,
                                   equal_nan=True)


def test_a_run_with_missing_input_follows_the_schema_and_keeps_its_lengths(model, frames, tmp_path):
    """NaN states after a missing input frame are part of the schema (validate accepts them, saving and opening keep
    ``length``), NaN states inside a record whose input is defined are still a problem (an edited run)."""
    run = _quiet_capture(model, _with_nan(frames))
    rnnscope.schema.validate(run)
    again = rnnscope.open_run(rnnscope.save_run(run, tmp_path / "holed.zarr"))
    assert again["length"].values.tolist() == frames["length"].values.tolist()
    np.testing.assert_array_equal(again["h"].values, run["h"].values)
    edited = _quiet_capture(model, frames)
    edited["h"][1, 3] = NAN
    with pytest.raises(rnnscope.schema.SchemaError, match=r"'h' has NaN frames inside 'length' \(first in event 1\)"):
        rnnscope.schema.validate(edited)


@pytest.mark.parametrize("time_chunk", [4, 4096])
def test_padding_past_the_length_never_counts(model, frames, time_chunk):
    """Padding past each record's length (NaN, infinite or large) changes nothing and warns nothing; a NaN frame in
    a window before the last (the state carried in NaN) gives the summaries of a capture in one window."""
    junk = frames.copy(deep=True)
    valid = np.arange(frames.sizes["time"])[None, :] < frames["length"].values[:, None]
    values = junk["features"].values
    values[~valid] = np.inf
    values[1, -1] = 1e30
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        plain = rnnscope.capture(model, frames, progress=False, time_chunk=time_chunk)
        odd = rnnscope.capture(model, junk, progress=False, time_chunk=time_chunk)
    for name in ("h", "c", "forget_gate", "prob", "pred", *SUMMARIES):
        np.testing.assert_array_equal(plain[name].values, odd[name].values, err_msg=name)
    assert np.isfinite(plain["h"].values[valid]).all()
    holed = _with_nan(frames, event=1, frame=2)
    chunked = _quiet_capture(model, holed, time_chunk=time_chunk)
    whole = _quiet_capture(model, holed)
    for name in ("h", "prob", "pred", *SUMMARIES):
        np.testing.assert_allclose(chunked[name].values, whole[name].values, rtol=2e-5, atol=2e-6, equal_nan=True)


@pytest.mark.parametrize("make", [
    lambda: rnnscope.models.RNNClassifier(["gru", "lstm"], input_size=4, hidden_size=5, num_classes=3, residual=True),
    lambda: rnnscope.models.TCNClassifier(input_size=4, num_classes=3, filters=4, dilations=(1, 2)),
])
def test_the_models_own_forward_propagates_nan_as_pytorch(make):
    """``model(x)``: NaN at frame 6 of record 0 gives NaN logits at the frames that see it (every later frame of a
    recurrent model, the receptive field of a TCN), nothing before it, nothing in record 1."""
    torch.manual_seed(0)
    model = make().eval()
    model.fit_normalizer(np.random.default_rng(0).normal(3, 2, (50, 4)))
    x = torch.randn(2, 20, 4) * 2 + 3
    x[0, 6, 1] = NAN
    with torch.no_grad():
        out = model(x)
        alone = model(x[1:])
    seen = 6 + getattr(model, "receptive_field", 10**9)
    assert torch.isnan(out[0, 6:seen]).all() and torch.isfinite(out[0, :6]).all()
    assert torch.isfinite(out[0, seen:]).all()
    torch.testing.assert_close(out[1], alone[0], atol=1e-6, rtol=0)


def test_predict_gives_nan_from_the_frame_on_and_fit_and_evaluate_refuse(model, frames):
    holed = _with_nan(frames, event=2, frame=7)
    with pytest.warns(NumericalWarning, match=r"predict: 1 record\(s\) .*'syn00002' from frame 7\."):
        probs = train.predict(model, holed)
    clean = train.predict(model, frames)
    assert np.isnan(probs[2][7:]).all() and np.isfinite(probs[2][:7]).all()
    np.testing.assert_allclose(probs[2][:7], clean[2][:7], atol=1e-6)
    for got, want in zip(probs[:2], clean[:2], strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"evaluate: record 'syn00002' has NaN or infinite features inside its length "
                                         r"\(307 frames; the first at frame 7\)\. Fill them"):
        train.evaluate(model, holed)
    fresh = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=4, num_classes=5)
    with pytest.raises(ValueError, match="fit: record 'syn00002' has NaN or infinite features"):
        train.fit(fresh, holed, epochs=1, progress=False)


def test_training_on_nan_padded_batches_gives_finite_parameters(frames):
    """Records of three lengths in one batch, NaN padding: the padding is left out by selection (zero-filled input,
    frames past the length out of the loss), so no gradient and no parameter becomes NaN; the recurrent and the
    convolutional model alike."""
    for model in (rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=6, num_classes=5),
                  rnnscope.models.TCNClassifier(input_size=48, num_classes=5, filters=4, dilations=(1, 2))):
        before = [p.detach().clone() for p in model.parameters()]
        history = train.fit(model, frames, epochs=2, batch_size=3, progress=False)
        assert np.isfinite(history["loss"]).all()
        assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # it learned


@pytest.mark.filterwarnings("ignore::rnnscope.errors.EmptyClassWarning")  # three records: some classes absent
def test_analyses_and_the_explorer_on_a_run_with_nan_states(model, frames):
    """A run whose record 0 is NaN from frame 5: the analyses skip the NaN frames (the numbers of the run cut before
    them: ``pred`` is -1 there and a layer NaN in every unit ends the record's frames), the Explorer opens the
    record."""
    run = _quiet_capture(model, _with_nan(frames))
    cut = run.assign_coords(length=("event", np.r_[5, frames["length"].values[1:]]))
    for name, call in {
        "heat_map[segment]": lambda r: analysis.heat_map(r, use_summary=False),
        "heat_map[frame]": lambda r: analysis.heat_map(r, use_summary=False, weighting="frame"),
        "unit_activity": lambda r: analysis.unit_activity(r),
        "top_units": lambda r: analysis.top_units(r, k=3),
        "specialisation": lambda r: analysis.specialisation(r),
        "class_correlation": lambda r: analysis.class_correlation(r, fraction=0.8),
        "susceptibility": lambda r: analysis.susceptibility(r, half_width=1, far=2),
        "detector_units": lambda r: analysis.detector_units(r, half_width=1),
        "responsibility": lambda r: analysis.responsibility(r),
        "smoothness": lambda r: analysis.smoothness(r),
        "timescales": lambda r: analysis.timescales(r),
        "frame_accuracy": lambda r: analysis.frame_accuracy(r),
        "activation_histogram": lambda r: analysis.activation_histogram(r),
        "cell_distribution": lambda r: analysis.cell_distribution(r, sampled_units=3),
        "temporal_trace": lambda r: analysis.temporal_trace(r, event=0),
        "unit_traces": lambda r: analysis.unit_traces(r, event=0, units=[3, 0]),
        "gate_saturation": lambda r: analysis.gate_saturation(r),
        "linear_probes": lambda r: analysis.linear_probes(r, folds=3),
        "linear_cka": lambda r: analysis.linear_cka(r, r),
        "perturbation": lambda r: analysis.perturbation(r, r, event=0, noise=(3, 5)),
    }.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", NumericalWarning)  # the missing frames are left out, not "broken"
            got, want = call(run), call(cut)
        if isinstance(got, (xr.Dataset, xr.DataArray)):
            xr.testing.assert_allclose(got, want, rtol=1e-5)
        elif isinstance(got, pd.DataFrame):
            pd.testing.assert_frame_equal(got, want, rtol=1e-5)
        else:
            assert got == pytest.approx(want, nan_ok=True), name
    assert analysis.frame_accuracy(run) > 0.5  # the NaN frames (pred -1) are not counted as errors
    from rnnscope import widgets

    explorer = widgets.Explorer(run, event=0, width=400)
    explorer.render_now()
    assert explorer.event == 0

"""rnnscope.experiments: silencing units (zero / mean), ablation curves, noise insertion and its alignment."""

import numpy as np
import pytest
import torch

import rnnscope
from rnnscope import analysis, experiments
from rnnscope.models import RNNClassifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def frames(make_frames):
    return make_frames(4, seed=1, record_duration_s=(40, 80))


@pytest.fixture(scope="module")
def trained(frames):
    torch.manual_seed(0)
    model = RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5)
    rnnscope.train.fit(model, frames, epochs=2, progress=False, threads=1)
    return model


def _model(cells, frames, hidden=5, residual=False, seed=0):
    torch.manual_seed(seed)
    model = RNNClassifier(cells, input_size=frames.sizes["feature"], hidden_size=hidden, num_classes=5,
                          residual=residual)
    model.fit_normalizer(frames)
    return model.eval()


# --------------------------------------------------------------------------------------------- silence


def _held_reference(model, x, keeps, values):
    """Hand-written step loop: silenced units' h replaced by a constant at every step (initial state included)."""
    with torch.no_grad():
        inp = model.normalize(x)
        for l, layer in enumerate(model.layers):
            drop = ~torch.as_tensor(keeps[l])
            held = torch.as_tensor(values[l], dtype=inp.dtype)
            state = list(layer.initial_state(x.shape[0]))
            state[0][:, drop] = held[drop]
            outs = []
            for t in range(x.shape[1]):
                h, new_state, _ = layer.step(inp[:, t], tuple(state))
                h = h.clone()
                h[:, drop] = held[drop]
                state = [h] + list(new_state[1:])
                outs.append(h)
            h_seq = torch.stack(outs, 1)
            inp = h_seq + inp if model.shortcuts[l] else h_seq
        return model.head(inp)


@pytest.mark.parametrize("cells, residual", [("rnn", False), ("lstm", False), ("gru", False),
                                             (["gru", "lstm"], True), (["rnn", "gru"], False)])
def test_mean_mode_equals_a_hand_written_step_loop(frames, cells, residual):
    model = _model(cells, frames, residual=residual)
    n_layers = model.num_layers
    keeps = [np.array([True, False, True, False, True]), np.array([False, True, True, True, False])][:n_layers]
    values = [np.linspace(-0.5, 0.5, 5), np.full(5, 0.3)][:n_layers]
    silenced = {layer: ~keep for layer, keep in enumerate(keeps)}  # {layer: mask}, True = silenced
    held = experiments.silence(model, silenced, mode="mean", held=dict(enumerate(values)))
    x = torch.from_numpy(frames.features.values[:2, :40])
    with torch.no_grad():
        got = held(x)
    np.testing.assert_allclose(got.numpy(), _held_reference(model, x, keeps, values).numpy(), atol=2e-5)


def test_mean_mode_of_a_lazy_lstm_against_its_own_equations(frames):
    # the lazy LSTM's candidate reads m_t inside step(), so its reference loop is written from the equations
    model = _model("lazy_lstm", frames)
    keep, value = np.array([True, True, False, True, False]), np.array([0.0, 0.0, 0.4, 0.0, -0.2])
    held = experiments.silence(model, {0: ~keep}, mode="mean", held={0: value})
    x = torch.from_numpy(frames.features.values[:1, :30])
    layer = model.layers[0]
    H = 5
    W, U, b = layer.weight_ih, layer.weight_hh, layer.bias_ih + layer.bias_hh
    drop = torch.as_tensor(~keep)
    with torch.no_grad():
        inp = model.normalize(x)
        m, c = torch.zeros(1, H), torch.zeros(1, H)
        m[:, drop] = torch.as_tensor(value, dtype=m.dtype)[drop]
        outs = []
        for t in range(x.shape[1]):
            pre = inp[:, t] @ W.T + b
            i = torch.sigmoid(pre[:, :H] + m @ U[:H].T)
            f = torch.sigmoid(pre[:, H:2 * H] + m @ U[H:2 * H].T)
            o = torch.sigmoid(pre[:, 3 * H:] + m @ U[3 * H:].T)
            m = o * torch.tanh(c)
            m[:, drop] = torch.as_tensor(value, dtype=m.dtype)[drop]
            g = torch.tanh(pre[:, 2 * H:3 * H] + m @ U[2 * H:3 * H].T)
            c = f * c + i * g
            outs.append(m)
        expected = model.head(torch.stack(outs, 1))
        np.testing.assert_allclose(held(x).numpy(), expected.numpy(), atol=2e-5)


def test_silence_never_modifies_the_model(frames):
    model = _model("gru", frames)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    experiments.silence(model, {0: [1]}, mode="mean", held={0: np.ones(5)})
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.masked_units == [[]]


def test_silence_errors():
    model = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5, bias=False)
    with pytest.raises(ValueError, match="The 'mode' parameter of silence must be one of"):
        experiments.silence(model, {}, mode="half")
    with pytest.raises(ValueError, match="bias=False"):
        experiments.silence(model, {0: [1]}, mode="mean", held={0: np.zeros(4)})
    with pytest.raises(ValueError, match=r"The 'silence' parameter of silence must be a dict \{layer: units\}"):
        experiments.silence(model, [np.array([True, False, True, True])])  # a keep mask per layer: the old form
    biased = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5)
    with pytest.raises(ValueError, match=r"The 'held' parameter of silence must be a dict \{layer: values\} giving 4 "
                                         r"values for every layer with silenced units.*\(no values for layers \[0\]\)"):
        experiments.silence(biased, {0: [1]}, mode="mean", held={})


# --------------------------------------------------------------------------------------------- ablation


def test_ablation_fraction_one_is_plain_evaluate(trained, frames):
    table = experiments.ablation_curve(trained, frames, fractions=(1.0,), ranking=["activity", "random"])
    accuracy = rnnscope.train.evaluate(trained, frames).accuracy
    assert table["accuracy"].tolist() == pytest.approx([accuracy, accuracy])
    assert list(table.columns) == ["fraction", "n_units", "ranking", "mode", "selection", "accuracy", "accuracy_std"]


def test_ablation_zero_mode_equals_evaluate_of_the_masked_model(trained, frames):
    table = experiments.ablation_curve(trained, frames, fractions=(0.5, 0.25), ranking="activity")
    run = rnnscope.capture(trained, frames, progress=False, device="cpu")
    activity = run["summary_activity"].sel(layer=0).values
    for fraction, n, accuracy in zip(table["fraction"], table["n_units"], table["accuracy"], strict=True):
        assert n == experiments.keep_count(fraction, 8)
        keep = np.zeros(8, dtype=bool)
        keep[np.argsort(-activity, kind="stable")[:n]] = True
        expected = rnnscope.train.evaluate(trained.masked([torch.from_numpy(keep)]), frames).accuracy
        assert accuracy == pytest.approx(expected)


def test_keep_count_refuses_swapped_or_impossible_arguments():
    """keep_count(32, 0.3) once returned 1 without a word (issue 25)."""
    assert experiments.keep_count(0.3, 32) == 10 and experiments.keep_count(1.0, np.int64(8)) == 8
    with pytest.raises(ValueError, match=r"'hidden_size' parameter of keep_count must be a whole number of units "
                                         r">= 1\. Got 0\.3 instead\. The arguments look swapped: keep_count\(fraction, "
                                         r"hidden_size\), e\.g\. keep_count\(0\.3, 32\)"):
        experiments.keep_count(32, 0.3)
    with pytest.raises(ValueError, match=r"'fraction' parameter of keep_count must be the share of the 10 units "
                                         r"kept, in \[0, 1\]\. Got 1\.5 instead\.$"):
        experiments.keep_count(1.5, 10)
    with pytest.raises(ValueError, match="'hidden_size'.*Got 0 instead"):
        experiments.keep_count(0.5, 0)


def test_ablation_random_reports_mean_and_std_and_is_seeded(trained, frames):
    kwargs = dict(fractions=(0.5,), ranking="random", repeats=3, seed=4)
    a = experiments.ablation_curve(trained, frames, **kwargs)
    b = experiments.ablation_curve(trained, frames, **kwargs)
    assert a.equals(b)
    assert a["accuracy_std"].iloc[0] >= 0 and a["n_units"].iloc[0] == 4


def test_ablation_mean_mode_holds_units_at_their_mean_on_rank_on(trained, frames):
    table = experiments.ablation_curve(trained, frames, fractions=(0.5,), mode="mean")
    run = rnnscope.capture(trained, frames, var=["h"], progress=False, device="cpu")
    act = analysis.unit_activity(run)
    keep = np.zeros(8, dtype=bool)
    keep[np.argsort(-act["mean_abs"].sel(layer=0).values, kind="stable")[:4]] = True
    held = experiments.silence(trained, {0: ~keep}, mode="mean", held={0: act["mean"].sel(layer=0).values})
    assert table["accuracy"].iloc[0] == pytest.approx(rnnscope.train.evaluate(held, frames).accuracy)


def test_ablation_small_models_are_trained_on_rank_on(trained, frames):
    table = experiments.ablation_curve(trained, frames, fractions=(1.0, 0.5), ranking="small_model", rank_on=frames,
                                         seed=2, fit_kwargs={"epochs": 1, "threads": 1})
    assert table["n_units"].tolist() == [8, 4] and set(table["mode"]) == {"retrained"}
    torch.manual_seed(2)
    small = RNNClassifier("lstm", input_size=48, hidden_size=4, num_classes=5)
    rnnscope.train.fit(small, frames, epochs=1, seed=2, threads=1, progress=False)
    assert table["accuracy"].iloc[1] == pytest.approx(rnnscope.train.evaluate(small, frames).accuracy)
    assert table["accuracy"].iloc[0] == pytest.approx(rnnscope.train.evaluate(trained, frames).accuracy)


def test_kept_counts_by_threshold_follow_the_activity_profile():
    # a polarised layer (every unit near the top activity) against a specialised one (one unit far above the rest)
    activity = np.array([[0.90, 1.00], [0.95, 0.30], [0.92, 0.20], [0.88, 0.10], [1.00, 0.05]])
    # p = 0.1: units reaching 90 % of the layer's top -> polarised 0.90, 0.95, 0.92, 1.00 (4); specialised 1.00 (1)
    assert experiments.kept_counts(activity, 0.1, selection="threshold").tolist() == [4, 1]
    # p = 0.8: 20 % of the top -> polarised all 5; specialised 1.00, 0.30, 0.20 (3)
    assert experiments.kept_counts(activity, 0.8, selection="threshold").tolist() == [5, 3]
    # the fraction reading keeps the same share of both: round(0.1 x 5) = 0 -> 1, round(0.8 x 5) = 4
    assert experiments.kept_counts(activity, 0.1).tolist() == [1, 1]
    assert experiments.kept_counts(activity, 0.8).tolist() == [4, 4]


def test_ablation_by_threshold_keeps_the_units_above_it(trained, frames):
    table = experiments.ablation_curve(trained, frames, fractions=(1.0, 0.5, 0.2), ranking=["activity", "random"],
                                         selection="threshold", repeats=2)
    run = rnnscope.capture(trained, frames, var=["h"], progress=False, device="cpu")
    activity = analysis.unit_activity(run)["mean_abs"].sel(layer=0).values
    assert set(table["selection"]) == {"threshold"}
    for _, row in table[table.ranking == "activity"].iterrows():
        keep = activity >= (1 - row.fraction) * activity.max() - 1e-12
        assert row.n_units == keep.sum()
        expected = rnnscope.train.evaluate(trained.masked([torch.from_numpy(keep)]), frames).accuracy
        assert row.accuracy == pytest.approx(expected)
    # random draws keep as many units as the threshold does
    assert (
        table[table.ranking == "random"]["n_units"].tolist() == table[table.ranking == "activity"]["n_units"].tolist()
    )


def test_ablation_errors(trained, frames):
    with pytest.raises(ValueError, match="ranking='small_model' trains new models on 'rank_on'"):
        experiments.ablation_curve(trained, frames, ranking="small_model")
    with pytest.raises(ValueError, match="The 'ranking' parameter of ablation_curve must be one of"):
        experiments.ablation_curve(trained, frames, ranking="best")
    with pytest.raises(ValueError, match="The 'fractions' parameter of ablation_curve must hold numbers in"):
        experiments.ablation_curve(trained, frames, fractions=(0,))
    with pytest.raises(ValueError, match="The 'selection' parameter of ablation_curve must be one of"):
        experiments.ablation_curve(trained, frames, selection="percentile")


# --------------------------------------------------------------------------------------------- noise


@pytest.mark.parametrize("where", ["waveform", "features"])
@pytest.mark.parametrize("mode", ["overwrite", "insert"])
def test_noise_robustness_alignment(trained, frames, mode, where):
    clean, noisy = experiments.noise_robustness(trained, frames, event=1, start=15.0, duration=4.0, noise_level=2.0,
                                                  how=mode, where=where, seed=3)
    info = noisy.attrs["noise"]
    start, stop = info["noise_start_frame"], info["noise_stop_frame"]
    n_clean, n_noisy = int(clean.length[0]), int(noisy.length[0])
    # the level asked for (relative) and, for the waveform, the absolute std it gave: two keys, never one overwritten
    assert info["noise_level"] == 2.0 and info["how"] == mode and info["where"] == where
    if where == "waveform":
        samples = frames.waveform.values[1][: int(frames.n_samples[1])]
        assert info["noise_std"] == pytest.approx(2.0 * float(np.std(samples.astype(np.float64))), rel=1e-6)
    inserted = n_noisy - n_clean
    assert inserted == (8 if mode == "insert" else 0) == info["inserted_frames"]
    assert 0 < start < stop < n_noisy
    mapping = noisy["clean_frame"].values[:n_noisy]
    # frames before the noise: same input, same states
    assert mapping[:start].tolist() == list(range(start))
    for var in ("h", "c"):
        np.testing.assert_array_equal(noisy[var].values[0, :start], clean[var].values[0, :start])
    np.testing.assert_array_equal(noisy["features"].values[0, :start], clean["features"].values[0, :start])
    # frames after the noise map to the clean frames they correspond to, with the same features
    after = np.arange(stop, n_noisy)
    assert (mapping[after] == after - inserted).all()
    np.testing.assert_allclose(noisy["features"].values[0, after], clean["features"].values[0, after - inserted],
                               rtol=1e-5, atol=1e-6)
    if mode == "insert":
        assert (mapping == -1).sum() > 0 and (mapping[start:stop] == -1).any()
    # the analysis side reads the alignment
    diff = analysis.perturbation(clean, noisy)
    assert diff.attrs["noise_stop_frame"] == stop
    assert float(abs(diff.isel(time=slice(0, start))).max()) == 0.0
    assert float(abs(diff.isel(time=slice(start, stop))).max()) > 0.0
    rec = analysis.recovery_time(diff, threshold=10.0)
    assert rec.dims == ("layer",)


@pytest.mark.parametrize("mode", ["overwrite", "insert"])
def test_noise_robustness_on_a_record_with_a_nan_frame_after_the_noise(trained, frames, mode):
    """A record with missing data (a NaN frame) after the noise segment: the noise's mean and spread come from the
    defined frames (finite noise), the frames before the noise are identical in both runs, the NaN frame is not
    taken for a perturbed one, both runs are NaN from it on (as PyTorch) with the warning, and the perturbation
    analysis reads the frames before it."""
    holed = frames.copy(deep=True)
    holed["features"][1, 70, :] = np.nan  # after the noise (15 s to 19 s)
    with pytest.warns(rnnscope.errors.NumericalWarning, match="from frame 70"):
        clean, noisy = experiments.noise_robustness(trained, holed, event=1, start=15.0, duration=4.0,
                                                      noise_level=2.0, how=mode, where="features", seed=3)
    info = noisy.attrs["noise"]
    start, stop = info["noise_start_frame"], info["noise_stop_frame"]
    inserted = info["inserted_frames"]
    assert start == int(np.searchsorted(holed["time"].values, 15.0)) and stop <= 70 + inserted
    assert np.isfinite(noisy["features"].values[0, start:stop]).all()
    np.testing.assert_array_equal(noisy["h"].values[0, :start], clean["h"].values[0, :start])
    assert np.isnan(clean["h"].values[0, 70:int(clean.length[0])]).all()
    assert np.isnan(noisy["h"].values[0, 70 + inserted:int(noisy.length[0])]).all()
    assert np.isfinite(noisy["h"].values[0, :70 + inserted]).all()
    diff = analysis.perturbation(clean, noisy)
    assert float(abs(diff.isel(time=slice(0, start))).max()) == 0.0
    assert float(abs(diff.isel(time=slice(start, stop))).max()) > 0.0


def test_noise_robustness_waveform_needs_a_waveform(trained, frames):
    features_only = frames.drop_vars(["waveform", "sample_label"])
    with pytest.raises(ValueError, match="where='waveform' needs the record's 'waveform'"):
        experiments.noise_robustness(trained, features_only, event=0, where="waveform")
    with pytest.raises(ValueError, match="The 'how' parameter of noise_robustness must be one of"):
        experiments.noise_robustness(trained, frames, event=0, how="replace")

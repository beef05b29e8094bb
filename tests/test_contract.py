"""The background class is data and models know their input (DESIGN.md, issue 15 items 2-4).

Data sets here use other class names than the default five (Chilean-style ``BG, TR, LP, VT, AV`` with background
``BG``), records at 50 Hz and 200 Hz, and models that must remember what they were trained on.
"""
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import rnnscope
from rnnscope import analysis
from rnnscope.data import catalog, from_arrays, from_features
from rnnscope.monitoring import detect, score_detections

obspy = pytest.importorskip("obspy")

CHILE = ["BG", "TR", "LP", "VT", "AV"]  # the synthetic classes SIL, TRE, LP, VTE, HYB, renamed


def chile_records(rate=50.0, n=5, background="BG", seed=0):
    """Synthetic records at ``rate`` with the classes renamed (same indices), background ``BG``."""
    rec = rnnscope.data.synthetic(n_records=n, seed=seed, sampling_rate=rate, record_duration_s=(40.0, 70.0))
    lengths = rec["n_samples"].values
    waves = [rec.waveform.values[i, : lengths[i]] for i in range(n)]
    labels = [rec.sample_label.values[i, : lengths[i]] for i in range(n)]
    return from_arrays(waves, labels, sampling_rate=rate, class_names=CHILE, background=background)


@pytest.fixture(scope="module")
def frames50():
    return rnnscope.features.compute(chile_records(50.0))


@pytest.fixture(scope="module")
def model50(frames50):
    torch.manual_seed(0)
    model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=8, num_classes=5, class_names=CHILE)
    rnnscope.train.fit(model, frames50, epochs=2, progress=False)
    return model


@pytest.fixture(scope="module")
def run50(model50, frames50):
    return rnnscope.capture(model50, frames50, progress=False)


def caught(call):
    """Run ``call`` and return (its result, the messages of the warnings it gave)."""
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = call()
    return out, [str(w.message) for w in got]


# ------------------------------------------------------------------------------------------ the background is data


def test_readers_and_the_generator_declare_the_background_and_features_carry_it():
    rec = chile_records(50.0, n=2)
    assert rec.attrs["background"] == "BG"
    assert rnnscope.features.compute(rec).attrs["background"] == "BG"
    assert rnnscope.data.synthetic(n_records=1, seed=0).attrs["background"] == "SIL"
    assert "background" not in chile_records(50.0, n=1, background=None).attrs
    feats = from_features([np.zeros((3, 2))], [np.array([0, 1, 0])], class_names=["noise", "quake"], background="noise")
    assert feats.attrs["background"] == "noise"
    with pytest.raises(ValueError, match=r"'background' parameter of from_arrays must be None or one of the classes "
                                         r"\['BG', 'TR', 'LP', 'VT', 'AV'\]. Got 'SIL' instead"):
        chile_records(50.0, n=1, background="SIL")


def test_from_obspy_stores_the_background_it_fills_at_200_hz():
    tr = obspy.Trace(np.random.default_rng(0).normal(size=200 * 30),
                     header={"sampling_rate": 200.0, "network": "XX", "station": "BEZ", "channel": "HHZ",
                             "starttime": obspy.UTCDateTime("2024-01-01")})
    events = pd.DataFrame({"trace_id": ["XX.BEZ..HHZ"], "start": ["2024-01-01T00:00:10Z"],
                           "end": ["2024-01-01T00:00:20Z"], "class": ["VT"]})
    rec = rnnscope.data.from_obspy(tr, events, sampling_rate=50.0, class_names=CHILE, background="BG")
    assert rec.attrs["background"] == "BG" and rec.attrs["sampling_rate"] == 50.0
    assert catalog(rec)["class_name"].tolist() == ["BG", "VT", "BG"]


def test_fit_gives_the_model_the_background_and_capture_gives_it_to_the_run(model50, run50):
    assert model50.background == "BG" and model50.config["background"] == "BG"
    assert run50.attrs["background"] == "BG"
    # the default task's background goes with the default classes only
    assert rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5).background == "SIL"
    assert rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5,
                                         class_names=CHILE).background is None
    assert rnnscope.models.TCNClassifier(input_size=48, num_classes=5, class_names=CHILE,
                                         background="BG").background == "BG"
    with pytest.raises(ValueError, match=r"'background' parameter of RNNClassifier must be None or one of the "
                                         r"classes \['BG', 'TR', 'LP', 'VT', 'AV'\]. Got 'SIL'"):
        rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5, class_names=CHILE,
                                      background="SIL")


def _onset_count(run, background):
    det = analysis.detector_units(run, half_width=0, background=background)
    return int(det["n_onsets"])


def test_onset_analyses_read_the_background_from_the_run(run50):
    table = catalog(run50)
    inner = table[(table["start"] > 2.0)]  # segments that start after the first frame: their start is an onset
    n_bg = int((inner["class_name"] == "BG").sum())
    assert n_bg > 0
    default = analysis.detector_units(run50, half_width=0)
    assert int(default["n_onsets"]) == _onset_count(run50, "BG")
    assert _onset_count(run50, None) > _onset_count(run50, "BG")  # BG onsets counted only when asked
    sus = analysis.susceptibility(run50, half_width=1, far=2)
    assert sus.attrs["background"] == "BG" and "SIL" not in repr(sus)
    bare = run50.copy()
    del bare.attrs["background"]
    out, messages = caught(lambda: analysis.susceptibility(bare, half_width=1, far=2))
    assert any("susceptibility: nothing says which class is the background (the run has no attrs['background'])"
               in m and "Pass background= one of ['BG', 'TR', 'LP', 'VT', 'AV']" in m for m in messages)
    assert out.attrs["background"] == "None"
    with pytest.warns(
        UserWarning, match=r"detector_units: nothing says which class is the background \(the run has no "
    ):
        analysis.detector_units(bare, half_width=0)


def test_linear_probes_need_a_background_for_the_event_targets(run50):
    bare = run50.copy()
    del bare.attrs["background"]
    with pytest.warns(UserWarning, match=r"linear_probes: nothing says which class.*left out of the default targets"):
        table = analysis.linear_probes(bare, folds=2, max_frames=300)
    assert "event" not in set(table["target"])
    with pytest.raises(ValueError, match=r"targets \['event'\] \(inside an event\) are undefined.*Or leave"):
        analysis.linear_probes(bare, targets=["event"], folds=2)
    table = analysis.linear_probes(run50, targets=["event"], folds=2, max_frames=300)
    assert table.attrs["background"] == "BG"


def test_evaluate_leaves_background_segments_out_of_the_event_table(model50, frames50):
    scores = rnnscope.train.evaluate(model50, frames50)
    n_events = int((catalog(frames50)["class_name"] != "BG").sum())
    assert len(scores.events) == n_events and "BG" not in set(scores.events["class_name"])
    every = rnnscope.train.evaluate(model50, frames50, background=None)
    assert len(every.events) == frames50.sizes["segment"]
    bare = frames50.copy()
    del bare.attrs["background"]
    other = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=8, num_classes=5, class_names=CHILE)
    other.load_state_dict(model50.state_dict())
    with pytest.warns(
        UserWarning,
        match=r"evaluate: nothing says which class is the background \(neither the data's attrs "
        r"nor the model name one\), so segments of every class are scored as events",
    ):
        rnnscope.train.evaluate(other, bare)


def test_widgets_and_plots_treat_the_run_background_as_background(run50):
    from rnnscope.widgets._drawing import _band_colors
    from rnnscope.widgets._source import RunReader

    reader = RunReader(run50)
    assert reader.background == "BG"
    for e in range(run50.sizes["event"]):
        classes = set(catalog(run50).query("event == @e")["class_name"])
        if classes - {"BG"}:
            assert reader.main_class(e) != "BG"
    labels = np.array([0, 0, 0, 2])  # BG, BG, BG, LP in one column: the event wins
    rgba = _band_colors(labels, 4, CHILE, "BG")
    assert tuple(rgba[0]) == tuple(_band_colors(np.array([2]), 1, CHILE, "BG")[0])
    assert tuple(_band_colors(labels, 4, CHILE, None)[0]) == tuple(_band_colors(np.array([0]), 1, CHILE)[0])

    import matplotlib

    matplotlib.use("Agg")
    rec = chile_records(50.0, n=1)
    fig = rnnscope.plots.record_overview(rnnscope.features.compute(rec))
    shaded = [p for p in fig.axes[0].patches if p.get_alpha() == 0.25]
    assert len(shaded) == int((catalog(rec)["class_name"] != "BG").sum())


# ------------------------------------------------------------------------------------------ models know their input


def test_fit_stores_the_input_contract_and_the_file_keeps_it(model50, tmp_path):
    assert model50.sampling_rate == 50.0 and model50.feature_config["preset"] == "paper"
    assert model50.feature_config["window_s"] == 4.0 and model50.preprocessing is None
    again = rnnscope.models.load(model50.save(tmp_path / "m.safetensors"))
    assert (again.sampling_rate, again.feature_config, again.background) == (50.0, model50.feature_config, "BG")
    # a config written before the contract existed: nothing stored, nothing checked
    old = {k: v for k, v in model50.config.items() if k not in ("sampling_rate", "feature_config", "background",
                                                                 "preprocessing")}
    legacy = rnnscope.models.RNNClassifier.from_config(old)
    assert legacy.sampling_rate is None and legacy.feature_config is None and legacy.background is None
    frames100 = rnnscope.features.compute(chile_records(100.0, n=1))
    assert rnnscope.capture(legacy, frames100, progress=False).sizes["event"] == 1


def test_mismatched_features_are_refused_naming_both_rates(model50):
    frames100 = rnnscope.features.compute(chile_records(100.0, n=2))
    expected = (r"the model was trained on features at 50 Hz with preset 'paper'; these features were computed at "
                r"100 Hz with preset 'paper' \(sampling_rate 50 Hz vs 100 Hz\)\. Compute the features as the model "
                r"expects: records at 50 Hz")
    with pytest.raises(ValueError, match="capture: " + expected):
        rnnscope.capture(model50, frames100, progress=False)
    with pytest.raises(ValueError, match="evaluate: " + expected):
        rnnscope.train.evaluate(model50, frames100)
    with pytest.raises(ValueError, match="predict: " + expected):
        rnnscope.train.predict(model50, frames100)
    with pytest.raises(ValueError, match="fit: " + expected):
        rnnscope.train.fit(model50, frames100, epochs=1, progress=False)
    fresh = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5, class_names=CHILE)
    with pytest.raises(ValueError, match=r"fit: the training data are features at 50 Hz with preset 'paper'; the "
                                         r"validation features were computed at 100 Hz"):
        rnnscope.train.fit(fresh, rnnscope.features.compute(chile_records(50.0, n=2)), validation=frames100,
                           epochs=1, progress=False)
    # a validation Dataset computed like the training features is used (it was once ignored without a word)
    history = rnnscope.train.fit(fresh, rnnscope.features.compute(chile_records(50.0, n=2)), epochs=1,
                                 validation=rnnscope.features.compute(chile_records(50.0, n=2, seed=1)),
                                 progress=False)
    assert "val_loss" in history.columns and np.isfinite(history["val_loss"]).all()
    twenty = rnnscope.features.compute(chile_records(50.0, n=1), n_filters=16, f_max_hz=15.0)
    with pytest.raises(ValueError, match=r"capture: .*\(f_max_hz 20.0 vs 15.0\)"):
        rnnscope.capture(model50, twenty, progress=False)
    # the model's own settings give accepted features
    again = rnnscope.features.compute(chile_records(50.0, n=1), feature_config=model50.feature_config)
    assert rnnscope.capture(model50, again, progress=False).attrs["background"] == "BG"


def test_from_torch_models_have_no_contract_and_accept_any_rate():
    rnn, head = torch.nn.GRU(48, 4, batch_first=True), torch.nn.Linear(4, 5)
    model = rnnscope.models.from_torch(rnn, head, class_names=CHILE, background="BG")
    assert model.sampling_rate is None and model.background == "BG"
    for rate in (50.0, 200.0):
        frames = rnnscope.features.compute(chile_records(rate, n=1), n_fft=1024)
        run = rnnscope.capture(model, frames, progress=False)
        assert run.attrs["sampling_rate"] == rate and run.attrs["background"] == "BG"


# ------------------------------------------------------------------------------------------ monitor


def trace(rate, seconds, seed=0, start="2024-03-01T00:00:00"):
    return obspy.Trace(np.random.default_rng(seed).normal(scale=100.0, size=int(rate * seconds)),
                       header={"sampling_rate": rate, "network": "XX", "station": "BEZ", "channel": "HHZ",
                               "starttime": obspy.UTCDateTime(start)})


def test_monitor_resamples_to_the_model_rate_and_refuses_another(model50):
    result = rnnscope.monitor(model50, trace(200.0, 120.0), progress=False)
    assert result.sampling_rate == 50.0 and result.background == "BG"
    assert result.n_frames == 1 + (120 * 50 - 200) // 25  # framed at 50 Hz, not at 200 Hz
    assert "BG" not in set(result.detections["class_name"]) and result.detections.attrs["background"] == "BG"
    with pytest.raises(ValueError, match=r"monitor: the model was trained on features at 50 Hz with preset 'paper'; "
                                         r"sampling_rate= asks for features at 100 Hz"):
        rnnscope.monitor(model50, trace(100.0, 60.0), sampling_rate=100.0, progress=False)
    with pytest.raises(ValueError, match=r"monitor: the model was trained on features with preset 'paper'; "
                                         r"feature_config= asks for features with preset 'authors_code'"):
        rnnscope.monitor(model50, trace(100.0, 60.0), feature_config="authors_code", progress=False)


def test_monitor_background_comes_from_the_model_or_the_argument(model50):
    every = rnnscope.monitor(model50, trace(50.0, 120.0), background=None, min_duration=1, smoothing=None,
                             progress=False)
    assert every.background is None
    runs = every.detect()
    assert int(runs["n_frames"].sum()) == every.n_frames  # every frame in some detection, BG included
    bare = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=8, num_classes=5, class_names=CHILE)
    bare.load_state_dict(model50.state_dict())
    with pytest.warns(UserWarning, match=r"monitor: nothing says which class is the background \(the model has no "
                                         r"background\), so every run of frames is reported as a detection"):
        result = rnnscope.monitor(bare, trace(100.0, 60.0), progress=False)
    assert result.background is None


def test_min_duration_names_must_be_classes():
    p = np.eye(5)[[0] * 4 + [3] * 6 + [0] * 4]
    with pytest.raises(ValueError, match=r"'min_duration' parameter of detect names classes the model does not have: "
                                         r"\['VTT'\].*Did you mean 'VTT' -> 'VT'\?"):
        detect(p, first_time_ns=0, frame_period_ns=5 * 10**8, class_names=CHILE, min_duration={"VTT": 4},
               background="BG")
    with pytest.raises(ValueError, match=r"names classes the model does not have: \['TRE', 'HYB', 'VTE', 'SIL'\]"):
        detect(p, first_time_ns=0, frame_period_ns=5 * 10**8, class_names=CHILE,
               min_duration=rnnscope.monitoring.DEFAULT_MIN_DURATION | {"SIL": 2}, background="BG")
    # the default applies the authors' numbers by name and 2 frames to the background, whatever its name
    one_bg = np.eye(5)[[3] * 6 + [0] + [3] * 6]
    d = detect(one_bg, first_time_ns=0, frame_period_ns=5 * 10**8, class_names=CHILE, smoothing=None, background="BG")
    assert d["class_name"].tolist() == ["VT"] and d["n_frames"].tolist() == [13]  # the 1-frame BG run is absorbed


def test_monitor_refuses_unknown_min_duration_and_warns_without_frames(model50):
    with pytest.raises(ValueError, match=r"'min_duration' parameter of monitor names classes the model does not "
                                         r"have: \['SIL'\]"):
        rnnscope.monitor(model50, trace(50.0, 60.0), min_duration={"SIL": 2}, progress=False)
    with pytest.warns(UserWarning, match=r"monitor: no frame was classified: the longest contiguous stretch of "
                                         r"'XX.BEZ..HHZ' .* holds 150 samples at 50 Hz \(3 s\), shorter than one 4 s "
                                         r"analysis window"):
        result = rnnscope.monitor(model50, trace(50.0, 3.0), progress=False)
    assert result.n_frames == 0 and len(result.detections) == 0


def test_cli_monitor_takes_the_background_and_reports_errors(model50, tmp_path, capsys):
    from rnnscope.cli import main

    path = str(model50.save(tmp_path / "model.safetensors"))
    mseed = str(tmp_path / "day.mseed")
    st = obspy.Stream([trace(200.0, 90.0)])
    st[0].data = st[0].data.astype(np.float32)
    st.write(mseed, format="MSEED")
    assert main(["monitor", path, mseed, "--out", str(tmp_path / "a"), "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "a" / "detections.csv")
    assert "BG" not in set(table["class_name"])
    assert main(["monitor", path, mseed, "--out", str(tmp_path / "b"), "--quiet", "--background", "none",
                 "--min-duration", "BG=1,VT=1", "--smoothing", "1"]) == 0
    every = pd.read_csv(tmp_path / "b" / "detections.csv")
    assert int(every["n_frames"].sum()) == 1 + (90 * 50 - 200) // 25  # every frame of 90 s at 50 Hz, BG included
    assert main(["monitor", path, mseed, "--out", str(tmp_path / "c"), "--quiet", "--min-duration", "VTE=4"]) == 2
    assert "names classes the model does not have: ['VTE']" in capsys.readouterr().err


def test_score_detections_reads_the_background_of_the_detections():
    truth = pd.DataFrame({"start": [0.0, 10.0, 30.0], "end": [10.0, 30.0, 40.0], "class_name": ["BG", "VT", "BG"]})
    det = pd.DataFrame({"start": [11.0], "end": [29.0], "class_name": ["VT"]})
    assert list(score_detections(det, truth).index) == ["BG", "VT", "all"]  # nothing says: every class scored
    det.attrs["background"] = "BG"
    scores = score_detections(det, truth)
    assert list(scores.index) == ["VT", "all"] and scores.loc["all", "recall"] == 1.0


# ------------------------------------------------------------------------------------------ NaN and empty sets


def test_nan_inside_valid_frames_is_not_polarised(run50):
    broken = run50.copy(deep=True)
    h = broken["h"].values
    h[1, 3, :, 0] = np.nan  # one frame of record 1, every unit
    with pytest.warns(
        RuntimeWarning,
        match=r"activation_histogram: 8 values of 'h' inside valid frames \(time < "
        r"length\) are NaN or infinite \(the first in record 'rec00001', frame 3\)",
    ):
        hist = analysis.activation_histogram(broken, per=None)
    clean = analysis.activation_histogram(run50, per=None)
    assert int(clean["counts"].sum()) - int(hist["counts"].sum()) == 8
    edges = clean["bin_edges"].values
    replaced = run50["h"].values[1, 3, :, 0]
    top = np.clip(np.searchsorted(edges, replaced, side="right") - 1, 0, edges.size - 2) == edges.size - 2
    assert int(hist["counts"].isel(bin=-1).sum()) == int(clean["counts"].isel(bin=-1).sum()) - int(top.sum())
    assert int(hist["n_values"].sum()) == int(hist["counts"].sum())


def test_model_json_config_holds_the_contract(model50):
    config = json.loads(json.dumps(model50.config))
    assert {k: config[k] for k in ("sampling_rate", "background")} == {"sampling_rate": 50.0, "background": "BG"}
    assert config["feature_config"]["n_filters"] == 16

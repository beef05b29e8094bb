"""Linear probes (class, inside an event, time since onset, band energies) and gate saturation."""
import numpy as np
import pandas as pd
import pytest
from analysis_runs import make_run

from rnnscope import analysis, examples

N_EVENTS, N_TIME, N_UNITS = 12, 60, 8
LENGTHS = [50 + 5 * (e % 3) for e in range(N_EVENTS)]
SEGMENTS = [s for e in range(N_EVENTS) for s in ((e, 0, 0, 20), (e, 1 + e % 2, 20, 45), (e, 0, 45, 60))]
BANDS = [f"lfb_{i:02d}" for i in range(4)]


def _labels_and_onset():
    labels = np.zeros((N_EVENTS, N_TIME), dtype=int)
    since = np.full((N_EVENTS, N_TIME), np.nan)
    for e, c, a, b in SEGMENTS:
        labels[e, a:b] = c
        if c != 0:
            since[e, a:b] = np.arange(b - a)
    return labels, since


def _with_features(run, feats):
    names = BANDS + [f"d_{b}" for b in BANDS]
    run = run.drop_vars(["features", "feature"])
    valid = np.arange(N_TIME)[None, :] < np.asarray(LENGTHS)[:, None]
    run["features"] = (("event", "time", "feature"), np.where(valid[..., None], feats, np.nan).astype(np.float32))
    run.attrs["background"] = "A"  # class A is the stretches between events
    return run.assign_coords(feature=names)


def encoded_run(seed=0):
    """unit 0 = class index + noise, unit 1 = time since onset (s) / 10 inside events, units 2-5 = band energies."""
    rng = np.random.default_rng(seed)
    labels, since = _labels_and_onset()
    feats = np.cumsum(rng.normal(size=(N_EVENTS, N_TIME, 8)), axis=1) * 0.3
    h = rng.normal(0.0, 0.3, size=(N_EVENTS, N_TIME, N_UNITS, 1))
    h[..., 0, 0] += labels
    h[..., 1, 0] += np.nan_to_num(since) / 10
    h[..., 2:6, 0] += feats[..., :4]
    return _with_features(make_run({"h": h}, LENGTHS, SEGMENTS), feats)


def control_run(seed=1):
    """The same records, states independent of labels, onsets and features."""
    rng = np.random.default_rng(seed)
    feats = np.cumsum(rng.normal(size=(N_EVENTS, N_TIME, 8)), axis=1) * 0.3
    h = rng.normal(size=(N_EVENTS, N_TIME, N_UNITS, 1))
    return _with_features(make_run({"h": h}, LENGTHS, SEGMENTS), feats)


def _scores(table):
    return table.set_index("target")[["score", "chance"]]


def test_probes_beat_chance_on_a_run_that_encodes_the_targets():
    table = analysis.linear_probes(encoded_run())
    assert list(table.columns) == ["target", "var", "layer", "metric", "score", "chance", "n_frames", "n_records"]
    assert table.target.tolist() == ["class", "event", "time_since_onset", "band_energy"]
    assert table.metric.tolist() == ["balanced_accuracy", "balanced_accuracy", "r2", "r2"]
    s = _scores(table)
    assert s.loc["class", "score"] > 0.8 and s.loc["class", "chance"] < 0.5  # noise 0.3 on a spacing of 1
    assert s.loc["event", "score"] > 0.9
    assert s.loc["time_since_onset", "score"] > 0.8 and s.loc["band_energy", "score"] > 0.8
    assert (s.loc[["time_since_onset", "band_energy"], "chance"].abs() < 0.2).all()
    assert table.set_index("target").loc["class", "n_frames"] == sum(LENGTHS)
    assert table.set_index("target").loc["time_since_onset", "n_frames"] == 25 * N_EVENTS
    assert (table.n_records == N_EVENTS).all()
    assert table.attrs["bands"] == BANDS  # the filter-bank energies, not their deltas


def test_probes_stay_at_chance_on_a_control_run():
    s = _scores(analysis.linear_probes(control_run()))
    for target in ("class", "event"):
        assert s.loc[target, "score"] < s.loc[target, "chance"] + 0.15, target
    assert (s.loc[["time_since_onset", "band_energy"], "score"] < 0.15).all()


def test_folds_never_split_a_record():
    """States that only identify the record (one class per record): frame-level folds would score ~1."""
    rng = np.random.default_rng(3)
    codes = rng.normal(size=(N_EVENTS, 1, N_UNITS, 1))
    h = codes + 0.05 * rng.normal(size=(N_EVENTS, N_TIME, N_UNITS, 1))
    run = make_run({"h": h}, LENGTHS, [(e, e % 3, 0, 60) for e in range(N_EVENTS)])
    table = analysis.linear_probes(run, targets="class", folds=4)
    assert table.score.iloc[0] < 0.6


def test_frames_are_subsampled_with_a_seed():
    run = encoded_run()
    a = analysis.linear_probes(run, targets=["class", "lfb_01"], max_frames=200, seed=1)
    b = analysis.linear_probes(run, targets=["class", "lfb_01"], max_frames=200, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert (a.n_frames == 200).all()
    assert a.set_index("target").loc["lfb_01", "score"] > 0.8  # one feature as a target
    c = analysis.linear_probes(run, targets=["class"], max_frames=200, seed=2)
    assert c.score.iloc[0] != a.score.iloc[0] or c.chance.iloc[0] != a.chance.iloc[0]


def test_every_variable_and_layer_and_plain_accuracy():
    run = examples.toy_run(num_layers=2)
    table = analysis.linear_probes(run, targets=["event"], var="all", layer=[1], metric="accuracy", folds=3)
    assert table[["var", "layer"]].values.tolist() == [["h", 1], ["c", 1]]
    labels = run.label.values[run.label.values >= 0]
    inside = (labels != 0).mean()
    assert table.chance.iloc[0] == pytest.approx(max(inside, 1 - inside), abs=0.25)  # about the majority share


def test_probe_errors_say_how_to_fix():
    run = encoded_run()
    with pytest.raises(ValueError, match="'targets' parameter of linear_probes must be a list drawn from"):
        analysis.linear_probes(run, targets=["phase"])
    with pytest.raises(ValueError, match="'metric' parameter of linear_probes must be one of"):
        analysis.linear_probes(run, metric="f1")
    with pytest.raises(ValueError, match="'background' parameter of linear_probes"):
        analysis.linear_probes(run, background="SIL")
    with pytest.raises(ValueError, match="'folds' parameter of linear_probes must be an integer >= 2"):
        analysis.linear_probes(run, folds=1)


def test_gate_saturation_counts_values_near_zero_and_one():
    gate = np.zeros((2, 6, 3, 1))
    gate[..., 0, 0] = 0.01
    gate[..., 1, 0] = 0.5
    gate[..., 2, 0] = [0.99, 0.99, 0.2, 0.99, 0.99, 0.99]
    run = make_run({"h": np.zeros_like(gate), "forget_gate": gate}, [6, 4], [(0, 0, 0, 6), (1, 1, 0, 4)])
    sat = analysis.gate_saturation(run)
    assert sat.variable.values.tolist() == ["forget_gate"]
    np.testing.assert_allclose(sat.unit_saturation.sel(variable="forget_gate", layer=0).values, [1, 0, 0.8])
    assert float(sat.below.squeeze()) == pytest.approx(1 / 3)
    assert float(sat.above.squeeze()) == pytest.approx(0.8 / 3)
    assert float(sat.saturation.squeeze()) == pytest.approx(1.8 / 3)
    assert int(sat.n_frames) == 10
    tanh = analysis.gate_saturation(run, var="h", low=-0.5, high=0.5)
    assert float(tanh.saturation.squeeze()) == 0.0
    with pytest.raises(ValueError, match="holds no gate variable"):
        analysis.gate_saturation(make_run({"h": gate}, [6, 4], [(0, 0, 0, 6)]))
    with pytest.raises(ValueError, match="low < high"):
        analysis.gate_saturation(run, low=0.9, high=0.1)


def test_a_target_that_cannot_be_cross_validated_is_nan_with_a_warning():
    run = encoded_run().isel(event=[0])
    with pytest.warns(analysis.EmptyClassWarning, match="fewer than two classes or two records"):
        table = analysis.linear_probes(run, targets=["class"])
    assert np.isnan(table.score.iloc[0]) and table.n_records.iloc[0] == 1

"""rnnscope.analysis: every definition on a small hand-made run whose answer is computed by hand here."""
import numpy as np
import pytest
import xarray as xr
from analysis_runs import boundary_run, heat_run, make_run
from sklearn.metrics import roc_auc_score

from rnnscope import analysis, examples
from rnnscope.analysis import EmptyClassWarning

# --------------------------------------------------------------------------------------------- heat maps


def test_heat_map_segment_weighting_is_the_mean_of_segment_means():
    with pytest.warns(EmptyClassWarning, match=r"\['C'\]"):
        heat = analysis.heat_map(heat_run())
    assert heat.dims == ("class_name", "unit", "layer")
    # class A: segments (e0, frames 0-1) and (e1, frames 0-2)
    a0 = ((0.2 + 0.4) / 2 + (1.0 + 1.0 + 0.4) / 3) / 2
    a1 = ((0.0 + 0.0) / 2 + (0.1 + 0.1 + 0.1) / 3) / 2
    b0, b1 = (0.6 + 0.6 + 0.9) / 3, 0.5
    np.testing.assert_allclose(heat.sel(layer=0).values[:2], [[a0, a1], [b0, b1]], rtol=1e-6)
    assert np.isnan(heat.sel(class_name="C")).all()


def test_heat_map_frame_weighting_is_the_mean_over_frames():
    with pytest.warns(EmptyClassWarning):
        heat = analysis.heat_map(heat_run(), weighting="frame")
    a0 = (0.2 + 0.4 + 1.0 + 1.0 + 0.4) / 5
    a1 = (0.0 + 0.0 + 0.1 + 0.1 + 0.1) / 5
    np.testing.assert_allclose(heat.sel(class_name="A", layer=0).values, [a0, a1], rtol=1e-6)
    np.testing.assert_allclose(heat.sel(class_name="B", layer=0).values, [0.7, 0.5], rtol=1e-6)


def test_heat_map_uses_the_stored_summary_only_when_asked_and_only_for_its_records():
    run = heat_run()
    with pytest.warns(EmptyClassWarning):
        run["summary_heat"] = xr.full_like(analysis.heat_map(run), 7.0).variable
    with pytest.warns(EmptyClassWarning):  # a summary without the records it describes is never used
        assert float(analysis.heat_map(run).sel(class_name="A").max()) < 1.0
    run["summary_event_id"] = ("summary_event", ["e1", "e0"])
    assert float(analysis.heat_map(run).sel(class_name="C").max()) == 7.0
    assert float(analysis.heat_map(run.isel(event=[1, 0])).sel(class_name="C").max()) == 7.0  # same records
    with pytest.warns(EmptyClassWarning):  # other records: the data are read
        np.testing.assert_allclose(analysis.heat_map(run.isel(event=[1])).sel(class_name="A", layer=0),
                                   [0.8, 0.1], rtol=1e-6)
    with pytest.warns(EmptyClassWarning):
        assert float(analysis.heat_map(run, use_summary=False).sel(class_name="A").max()) < 1.0
    # another variable never reads the summary of h
    run["c"] = run["h"] * 2
    with pytest.warns(EmptyClassWarning):
        np.testing.assert_allclose(analysis.heat_map(run, var="c").sel(class_name="B", layer=0), [1.4, 1.0], rtol=1e-6)


@pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")
def test_heat_map_equals_capture_summaries_of_a_real_run(real_run):
    for weighting, summary in (("segment", "summary_heat"), ("frame", "summary_heat_frame")):
        heat = analysis.heat_map(real_run, weighting=weighting, use_summary=False)
        np.testing.assert_allclose(heat.values, real_run[summary].values, atol=1e-6, equal_nan=True)
    act = analysis.unit_activity(real_run)
    np.testing.assert_allclose(act["mean_abs"].values, real_run["summary_activity"].values, atol=1e-6)


# --------------------------------------------------------------------------------------------- histograms


def test_activation_histogram_counts_polarization_and_sparsity_by_class():
    with pytest.warns(EmptyClassWarning, match="C"):
        hist = analysis.activation_histogram(heat_run(), bins=[-1.0, 0.0, 1.0])
    # A: unit0 [.2 .4 1 -1 .4], unit1 [0 0 .1 .1 .1]; B: unit0 [-.6 .6 .9], unit1 [.5 .5 .5]
    assert hist["counts"].sel(class_name="A", layer=0).values.tolist() == [1, 9]
    assert hist["counts"].sel(class_name="B", layer=0).values.tolist() == [1, 5]
    assert float(hist["polarization"].sel(class_name="A", layer=0)) == pytest.approx(2 / 10)
    assert float(hist["sparsity"].sel(class_name="A", layer=0)) == pytest.approx(2 / 10)
    assert float(hist["polarization"].sel(class_name="B", layer=0)) == 0.0
    assert np.isnan(float(hist["polarization"].sel(class_name="C", layer=0)))
    assert hist["bin_edges"].values.tolist() == [-1.0, 0.0, 1.0]


def test_activation_histogram_by_segment_and_overall():
    hist = analysis.activation_histogram(heat_run(), bins=4, per="segment")
    assert hist["counts"].dims == ("segment", "bin", "layer")
    assert hist["segment_class_name"].values.tolist() == ["A", "B", "A"]
    assert hist["n_values"].sel(layer=0).values.tolist() == [4, 6, 6]
    overall = analysis.activation_histogram(heat_run(), per=None)
    assert overall["counts"].dims == ("bin", "layer")
    assert int(overall["n_values"].sel(layer=0)) == 16
    assert float(overall["polarization"].sel(layer=0)) == pytest.approx(2 / 16)  # |1.0| and |-1.0|


# ------------------------------------------------------------------------------------- 100/50/30 %, correlation, top


HEAT = xr.DataArray(
    [[[4.0], [3.0], [2.0], [1.0]],
     [[1.0], [4.0], [3.0], [2.0]],
     [[3.0], [4.0], [1.0], [2.0]]],
    dims=("class_name", "unit", "layer"), coords={"class_name": ["A", "B", "C"], "unit": [0, 1, 2, 3], "layer": [0]},
)


def test_top_fraction_keeps_units_in_the_top_of_every_class():
    # top 2 per class: A {0, 1}, B {1, 2}, C {1, 0} -> shared {1}
    top = analysis.top_fraction(HEAT, fraction=0.5)
    assert top.units == {0: [1]}
    assert top.heat["unit"].values.tolist() == [1]
    # top 3: A {0,1,2}, B {1,2,3}, C {1,0,3} -> {1}; 100 %: every unit
    assert analysis.top_fraction(HEAT, fraction=0.75).units == {0: [1]}
    assert analysis.top_fraction(HEAT, fraction=1.0).units == {0: [0, 1, 2, 3]}


def test_top_fraction_any_rule_is_the_union_of_the_top_sets():
    # top 2 per class: A {0, 1}, B {1, 2}, C {1, 0} -> union {0, 1, 2}; top 1: A {0}, B {1}, C {1} -> {0, 1}
    assert analysis.top_fraction(HEAT, fraction=0.5, rule="any").units == {0: [0, 1, 2]}
    assert analysis.top_fraction(HEAT, fraction=0.25, rule="any").units == {0: [0, 1]}
    assert analysis.top_fraction(HEAT, fraction=0.25).units == {0: []}  # the intersection of {0} and {1} is empty
    with pytest.raises(ValueError, match="The 'rule' parameter of top_fraction must be one of"):
        analysis.top_fraction(HEAT, fraction=0.5, rule="all")


def test_top_fraction_ignores_classes_without_frames():
    heat = HEAT.copy()
    heat[0] = np.nan
    # B {1, 2}, C {1, 0} -> {1}
    assert analysis.top_fraction(heat, fraction=0.5).units == {0: [1]}


def _class_rule_run():
    """One record, 3 units, frames 0-9: A [0, 3) unit 0 most active then unit 1, B [3, 6) unit 2 then 1, A [6, 10)
    unit 1 then 2 (mean |h| per segment: A1 (.9, .5, .1), B (.1, .5, .9), A2 (.2, .9, .6))."""
    h = np.zeros((1, 10, 3, 1))
    h[0, 0:3, :, 0] = [0.9, 0.5, 0.1]
    h[0, 3:6, :, 0] = [0.1, 0.5, 0.9]
    h[0, 6:10, :, 0] = [0.2, 0.9, 0.6]
    return make_run({"h": h}, [10], [(0, 0, 0, 3), (0, 1, 3, 6), (0, 0, 6, 10)])


@pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")  # class C has no segment
def test_top_fraction_class_rule_keeps_the_units_common_to_every_event_of_a_class():
    run = _class_rule_run()
    # top 1 (fraction 1/3): A's events {0} and {1} share nothing, B {2} -> A: none, B: unit 2
    top = analysis.top_fraction(run, fraction=1 / 3, rule="class")
    assert top.units == {0: [2]}
    assert np.isnan(top.heat.sel(class_name="A")).all()
    assert float(top.heat.sel(class_name="B", unit=2, layer=0)) == pytest.approx(0.9)
    # top 2: A {0, 1} and {1, 2} -> unit 1; B {2, 1} -> units 1, 2; union {1, 2}
    top = analysis.top_fraction(run, fraction=2 / 3, rule="class")
    assert top.units == {0: [1, 2]} and top.heat["n_units"].values.tolist() == [2]
    assert np.isnan(float(top.heat.sel(class_name="A", unit=2, layer=0)))  # kept for B only
    corr = analysis.class_correlation(run, fraction=2 / 3, rule="class")
    heat = analysis.heat_map(run).sel(unit=[1, 2], layer=0).values
    np.testing.assert_allclose(corr.isel(layer=0).values[:2, :2], np.corrcoef(heat[:2]))
    with pytest.raises(ValueError, match=r"top_fraction: rule='class' reads every segment of each class, so it "
                                         r"needs the run, not a heat map"):
        analysis.top_fraction(analysis.heat_map(run), fraction=0.5, rule="class")


def test_class_correlation_is_pearson_over_the_shared_units():
    corr = analysis.class_correlation(HEAT, fraction=1.0)
    assert corr.dims == ("class_name", "class_name_other", "layer")
    expected = np.corrcoef(HEAT.isel(layer=0).values)
    np.testing.assert_allclose(corr.isel(layer=0).values, expected)
    assert corr["n_units"].values.tolist() == [4]
    # one shared unit: undefined correlation, and a warning that says so and what to do
    with pytest.warns(RuntimeWarning, match=r"fewer than 2 units are among the top 50% of every class \(layer 0: 1 "
                                            r"unit\).*Pass a larger fraction"):
        assert np.isnan(analysis.class_correlation(HEAT, fraction=0.5).values).all()


def test_top_units_ranks_by_heat_with_ties_to_the_lower_id():
    top = analysis.top_units(HEAT, k=2)
    assert top.dims == ("class_name", "rank", "layer")
    assert top["rank"].values.tolist() == [1, 2]
    assert top.sel(layer=0).values.tolist() == [[0, 1], [1, 2], [1, 0]]
    tied = HEAT.copy()
    tied[0, :, 0] = [1.0, 2.0, 2.0, 0.0]
    assert analysis.top_units(tied, k=3).sel(class_name="A", layer=0).values.tolist() == [1, 2, 0]


def test_unit_traces_returns_only_valid_frames():
    tr = analysis.unit_traces(heat_run(), event="e1", units=[1, 0])
    assert tr.dims == ("time", "unit", "layer")
    np.testing.assert_allclose(tr.sel(layer=0).values, [[0.1, 1.0], [0.1, -1.0], [0.1, 0.4]], rtol=1e-6)
    assert tr["label"].values.tolist() == [0, 0, 0]


# --------------------------------------------------------------------------------------------- specialisation


def test_specialisation_by_hand():
    spec = analysis.specialisation(HEAT)
    # unit 0: top 4 (A), rest (1 + 3) / 2 = 2 -> (4 - 2) / (4 + 2); unit 1: top 4, rest 3.5; unit 2: 3 vs 1.5;
    # unit 3: 2 vs 1.5
    expected = [2 / 6, 0.5 / 7.5, 1.5 / 4.5, 0.5 / 3.5]
    np.testing.assert_allclose(spec["selectivity"].sel(layer=0).values, expected)
    assert spec["preferred_class"].sel(layer=0).values.tolist() == ["A", "B", "B", "B"]
    assert float(spec["specialisation"].sel(layer=0)) == pytest.approx(np.mean(expected))


def test_specialisation_gap_is_free_of_a_common_offset():
    # top 0.35, rest 0.35 / 3 (the other two classes): relative index 0.5, gap 0.2333
    heat = xr.DataArray([[0.35], [0.35 / 3], [0.35 / 3]], dims=("class_name", "unit"),
                        coords={"class_name": ["A", "B", "C"], "unit": [0]})
    plain, shifted = analysis.specialisation(heat), analysis.specialisation(heat + 0.7)
    assert float(plain["specialisation"][0]) == pytest.approx(0.5)
    assert float(shifted["specialisation"][0]) == pytest.approx(0.125)  # the same contrast on a 0.7 baseline
    assert float(plain["specialisation_gap"][0]) == pytest.approx(0.7 / 3)
    assert float(shifted["specialisation_gap"][0]) == pytest.approx(0.7 / 3)
    np.testing.assert_allclose(analysis.specialisation(HEAT)["selectivity_gap"].sel(layer=0).values,
                               [2.0, 0.5, 1.5, 0.5])  # top - rest of the hand-made heat above


def test_class_gap_by_hand_and_without_a_class():
    gap = analysis.specialisation(HEAT)["class_gap"].sel(layer=0)
    # A - mean(B, C), B - mean(A, C), C - mean(A, B), unit by unit
    np.testing.assert_allclose(gap.sel(class_name="A").values, [2.0, -1.0, 0.0, -1.0])
    np.testing.assert_allclose(gap.sel(class_name="B").values, [-2.5, 0.5, 1.5, 0.5])
    np.testing.assert_allclose(gap.sel(class_name="C").values, [0.5, 0.5, -1.5, 0.5])
    spec = analysis.specialisation(HEAT)
    preferred = gap.sel(class_name=spec["preferred_class"].sel(layer=0).values.tolist())  # the preferred class's
    np.testing.assert_allclose(np.diagonal(preferred.values), spec["selectivity_gap"].sel(layer=0).values)
    holed = HEAT.copy()
    holed.loc[{"class_name": "C", "unit": 2}] = np.nan  # no C frame for unit 2: A's contrast is with B alone
    gap = analysis.specialisation(holed)["class_gap"].sel(layer=0)
    assert float(gap.sel(class_name="A", unit=2)) == pytest.approx(2.0 - 3.0)
    assert np.isnan(float(gap.sel(class_name="C", unit=2)))


def test_the_explorer_orders_units_by_the_analysis_class_gap():
    from rnnscope.widgets import _summaries

    run = examples.toy_run(hidden_size=6)
    gap = analysis.specialisation(run)["class_gap"].sel(layer=0, class_name="LP").values
    order = _summaries.unit_order(run, 0, "specialisation", "LP")
    assert order.tolist() == np.argsort(-gap, kind="stable").tolist()
    np.testing.assert_allclose(_summaries.specialisation(run, 0, "LP"), gap)


def test_specialisation_of_a_run_leaves_out_empty_classes():
    with pytest.warns(EmptyClassWarning):
        spec = analysis.specialisation(heat_run())
    a0 = ((0.2 + 0.4) / 2 + (1.0 + 1.0 + 0.4) / 3) / 2
    # unit 0: top B 0.7 vs A -> (0.7 - a0) / (0.7 + a0)
    assert float(spec["selectivity"].sel(unit=0, layer=0)) == pytest.approx((0.7 - a0) / (0.7 + a0), rel=1e-6)


# --------------------------------------------------------------------------------------------- susceptibility


def test_susceptibility_by_hand():
    sus = analysis.susceptibility(boundary_run(), half_width=1, far=3, background="A")
    u0 = sus.sel(unit=0, layer=0)
    # onset window t = 9, 10, 11: |dh| = .125, .375, .125; end window 19, 20, 21: .125, .625, .125
    assert float(u0["delta_onset"]) == pytest.approx(0.625 / 3)
    assert float(u0["delta_end"]) == pytest.approx(0.875 / 3)
    # stationary: farther than 3 frames from 10 and 20 -> t = 1..6, 14..16, 24..29, all 0.125
    assert int(sus["n_stationary_frames"]) == 15
    assert float(u0["delta_stationary"]) == pytest.approx(0.125)
    assert float(u0["unit_susceptibility"]) == pytest.approx(((0.625 + 0.875) / 6) / 0.125)
    assert float(u0["unit_susceptibility_onset"]) == pytest.approx((0.625 / 3) / 0.125)
    assert np.isnan(float(sus["unit_susceptibility"].sel(unit=1, layer=0)))  # a unit that never moves
    # per layer: ratio of unit means (unit 1 contributes 0 to both)
    assert float(sus["susceptibility"].sel(layer=0)) == pytest.approx(2.0)


def test_susceptibility_background_none_counts_every_segment():
    sus = analysis.susceptibility(boundary_run(), half_width=1, far=3, background=None)
    # every segment boundary is now both an onset and an end: windows around 10 and 20
    assert float(sus["delta_onset"].sel(unit=0, layer=0)) == pytest.approx((0.625 + 0.875) / 6)


def test_detector_units_auc_by_hand_and_against_sklearn():
    run = boundary_run()
    det = analysis.detector_units(run, half_width=0, background="A", reach=0)
    # windows of one frame: onset at 10 (|dh| .375) and S at 15 (.125) against the 27 other frames t >= 1,
    # 26 x .125 and .625 (the end at 20, a negative)
    assert det.attrs["window"] == 1
    assert float(det["auc_onset"].sel(unit=0, layer=0)) == pytest.approx(26 / 27)
    assert float(det["auc_s"].sel(unit=0, layer=0)) == pytest.approx(13 / 27)  # ties count half
    assert float(det["auc_s"].sel(unit=1, layer=0)) == pytest.approx(0.5)  # all ties
    scores = np.abs(np.diff(run["h"].values[0, :, 0, 0]))  # frames 1..29
    negatives = np.delete(scores, [10 - 1, 15 - 1])
    y = np.r_[1, np.zeros(negatives.size, dtype=int)]
    assert float(det["auc_onset"].sel(unit=0, layer=0)) == pytest.approx(roc_auc_score(y, np.r_[scores[9], negatives]))
    counts = {name: int(det[name]) for name in ("n_onsets", "n_onset_windows", "n_s_arrivals", "n_s_windows",
                                                 "n_negative_windows")}
    assert counts == {"n_onsets": 1, "n_onset_windows": 1, "n_s_arrivals": 1, "n_s_windows": 1,
                      "n_negative_windows": 27}


def _early_run():
    """One record of 30 frames: background A, a B segment [10, 20); features of 2 s windows, 1 s hop, deltas +-1
    at 10 Hz (reach: 3 frames before a boundary, 2 after). Unit 0 jitters by 0.125 and steps up at t = 7, three
    frames before the labelled onset (what a causal model can do when its features look ahead), and down at 20."""
    from rnnscope.features import FeatureConfig

    t = np.arange(30)
    h = np.zeros((1, 30, 2, 1))
    h[0, :, 0, 0] = 0.125 * (t % 2) + 1.0 * ((t >= 7) & (t < 20))
    run = make_run({"h": h}, [30], [(0, 0, 0, 10), (0, 1, 10, 20), (0, 0, 20, 30)])
    run.attrs.update(feature_config=FeatureConfig(window_s=2.0, hop_s=1.0, delta_width=1).to_json(),
                     sampling_rate=10.0)
    return run


@pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")  # no S arrival in this run
def test_detector_units_scores_one_window_spanning_the_features_reach():
    run = _early_run()
    det = analysis.detector_units(run, half_width=0, background="A")
    assert det.attrs["reach"] == [3, 2] and det.attrs["window"] == 6
    # the onset window 10 - 3 .. 10 + 2 = 7..12 scores its largest change, the early step at t = 7 (1.125);
    # negative windows of 6 frames tile 1..6 (.125), 13..18 (.125) and 19..24 (1.125, the end at 20); 25..29 is
    # too short and left out
    assert int(det["n_onset_windows"]) == 1 and int(det["n_negative_windows"]) == 3
    assert float(det["auc_onset"].sel(unit=0, layer=0)) == pytest.approx((2 + 0.5) / 3)
    # one frame per window, as if the features did not reach: the reaction at t = 7 is a negative, below chance
    old = analysis.detector_units(run, half_width=0, background="A", reach=0)
    assert float(old["auc_onset"].sel(unit=0, layer=0)) == pytest.approx(13 / 28)


def test_susceptibility_windows_follow_the_features_reach():
    sus = analysis.susceptibility(_early_run(), half_width=1, far=3, background="A")
    u0 = sus.sel(unit=0, layer=0)
    # onset window 10 - max(1, 3) .. 10 + max(1, 2) = 7..12: 1.125 + 5 x 0.125; end window 17..22 the same
    assert int(sus["n_onset_frames"]) == 6 and float(u0["delta_onset"]) == pytest.approx(1.75 / 6)
    assert float(u0["delta_end"]) == pytest.approx(1.75 / 6)
    # stationary: outside [b - 3, b + 3] for b = 10, 20 -> t = 1..6, 14..16, 24..29
    assert int(sus["n_stationary_frames"]) == 15 and float(u0["delta_stationary"]) == pytest.approx(0.125)
    assert float(u0["unit_susceptibility"]) == pytest.approx((3.5 / 12) / 0.125)
    plain = analysis.susceptibility(_early_run(), half_width=1, far=3, background="A", reach=0)
    assert float(plain["delta_onset"].sel(unit=0, layer=0)) == pytest.approx(0.375 / 3)  # t = 9..11 misses t = 7
    with pytest.raises(ValueError, match="The 'reach' parameter of susceptibility must be None"):
        analysis.susceptibility(_early_run(), reach=(-1, 2))


@pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")
def test_detector_units_matches_sklearn_on_window_maxima(real_run):
    det = analysis.detector_units(real_run, half_width=2, layer=0)
    before, after = det.attrs["reach"]
    assert (before, after) == (8, 7) and det.attrs["window"] == 16  # the paper's features at 100 Hz
    table = analysis._common.segment_table(real_run)
    names = real_run.attrs["class_names"]
    maxima, ys = [], []
    for e in range(real_run.sizes["event"]):  # the definition, written out
        n = int(real_run.length[e])
        dh = np.abs(np.diff(real_run["h"].values[e, :n, :, 0], axis=0))  # row i: frame i + 1
        onsets = [int(r.frame_start) for _, r in table[table.event == e].iterrows()
                  if names[int(r["class"])] != "SIL" and 0 < r.frame_start < n and r.frame_stop > r.frame_start]
        arrivals = [int(f) for f in table[table.event == e].frame_s if 0 < f < n]
        blocked = np.zeros(n, dtype=bool)
        blocked[0] = True
        for b in onsets + arrivals:
            blocked[max(b - 8, 0) : b + 8] = True
        for b in onsets:
            if b - 8 >= 1 and b + 7 <= n - 1:
                maxima.append(dh[b - 8 - 1 : b + 7].max(0))
                ys.append(1)
        t = 1
        while t + 16 <= n:
            if blocked[t : t + 16].any():
                t += 1 if blocked[t] else int(np.argmax(blocked[t : t + 16]))
                continue
            maxima.append(dh[t - 1 : t + 15].max(0))
            ys.append(0)
            t += 16
    maxima, ys = np.array(maxima), np.array(ys)
    assert int(det["n_onset_windows"]) == ys.sum() and int(det["n_negative_windows"]) == (ys == 0).sum()
    expected = [roc_auc_score(ys, maxima[:, u]) for u in range(maxima.shape[1])]
    np.testing.assert_allclose(det["auc_onset"].sel(layer=0).values, expected, atol=1e-9)


# --------------------------------------------------------------------------------------------- Tang: distributions


def _lstm_c_run():
    c = np.zeros((1, 5, 2, 1))
    c[0, :, 0, 0] = [-3.0, -1.0, 0.0, 1.5, 12.0]
    c[0, :, 1, 0] = [-20.0, 2.0, -2.0, 0.5, 11.0]
    h = np.tanh(c)
    return make_run({"h": h, "c": c}, [5], [(0, 0, 0, 2), (0, 1, 2, 5)])


def test_cell_distribution_shares_by_hand():
    dist = analysis.cell_distribution(_lstm_c_run(), sampled_units=None, bins=[-10.0, 0.0, 10.0])
    assert dist["variable"].values.tolist() == ["c"]
    # inside (-2, 2): -1, 0, 1.5, 0.5 -> 4 of 10 (2 and -2 are not inside)
    assert float(dist["share_inside_2"].sel(layer=0)) == pytest.approx(0.4)
    # clipped to +-10: negatives -3, -1, -20, -2 -> bin 0; the rest -> bin 1
    assert dist["counts"].sel(layer=0).values.tolist() == [4, 6]


def test_cell_distribution_picks_h_for_a_gru_and_samples_units():
    h = np.zeros((1, 4, 3, 1))
    h[0, :, :, 0] = [[0.9, 0.1, -0.8], [0.71, -0.69, 0.0], [-1.0, 0.2, 0.75], [0.3, 0.3, 0.3]]
    run = make_run({"h": h}, [4], [(0, 0, 0, 4)], cells=("gru",))
    dist = analysis.cell_distribution(run, sampled_units=None)
    assert dist["variable"].values.tolist() == ["h"]
    # |h| >= 0.7: .9, -.8, .71, -1, .75 -> 5 of 12
    assert float(dist["share_outside_0_7"].sel(layer=0)) == pytest.approx(5 / 12)
    sampled = analysis.cell_distribution(run, sampled_units=2, seed=1)
    assert sampled.sizes["sampled_unit"] == 2
    assert sampled["sampled_unit"].values.tolist() == analysis.cell_distribution(run, sampled_units=2, seed=1)[
        "sampled_unit"].values.tolist()


# --------------------------------------------------------------------------------------------- Tang: responsibility


def test_responsibility_paper_thresholds_by_hand():
    with pytest.warns(EmptyClassWarning):
        resp = analysis.responsibility(_lstm_c_run())
    assert resp["rule"].values.tolist() == ["outside"] and resp["high"].values.tolist() == [10.0]
    # class A = frames 0-1, class B = frames 2-4; irregular = outside (-10, 10)
    # unit 0: only 12.0 (frame 4, B) -> A 0, B 1/3; unit 1: -20 (A), 11 (B) -> A 1/2, B 1/3
    np.testing.assert_allclose(resp.sel(layer=0).values[:2], [[0.0, 0.5], [1 / 3, 1 / 3]])
    assert np.isnan(resp.sel(class_name="C")).all()


def test_responsibility_inside_rule_for_gru_and_explicit_pair():
    h = np.zeros((1, 4, 2, 1))
    h[0, :, 0, 0] = [0.1, 0.9, -0.4, 0.6]
    h[0, :, 1, 0] = [-0.9, -0.2, 0.95, 0.0]
    run = make_run({"h": h}, [4], [(0, 0, 0, 2), (0, 1, 2, 4)], cells=("gru",))
    with pytest.warns(EmptyClassWarning):
        resp = analysis.responsibility(run, irregular="paper")
    assert resp["rule"].values.tolist() == ["inside"]
    # inside (-0.5, 0.5): unit 0 A {.1} -> 1/2, B {-.4} -> 1/2; unit 1 A {-.2} -> 1/2, B {0} -> 1/2
    np.testing.assert_allclose(resp.sel(layer=0).values[:2], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.warns(EmptyClassWarning):
        narrow = analysis.responsibility(run, irregular=(-0.15, 0.15))
    np.testing.assert_allclose(narrow.sel(layer=0).values[:2], [[0.5, 0.0], [0.0, 0.5]])


@pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")
def test_responsibility_percentile_thresholds_follow_the_values(real_run):
    resp = analysis.responsibility(real_run, irregular=10, layer=0)
    c = real_run["c"].values[..., 0]
    c = c[np.isfinite(c)]
    span = c.max() - c.min()
    assert resp["low"].item() == pytest.approx(np.percentile(c, 5), abs=float(2 * span / 20000))
    assert resp["high"].item() == pytest.approx(np.percentile(c, 95), abs=float(2 * span / 20000))
    # about 10 % of all labelled values are irregular
    labels = real_run["label"].values
    counts = np.array([(labels == k).sum() for k in range(labels.max() + 1)])
    share = float((resp.sel(layer=0).values[: counts.size].mean(1) * counts).sum() / counts.sum())
    assert share == pytest.approx(0.1, abs=0.02)


def test_responsible_units_counts_and_dedicated_units():
    resp = xr.DataArray(
        [[[0.9], [0.3], [0.0]], [[0.1], [0.85], [0.0]], [[0.2], [0.5], [0.05]]],
        dims=("class_name", "unit", "layer"),
        coords={"class_name": ["A", "B", "C"], "unit": [0, 1, 2], "layer": [0], "rule": ("layer", ["outside"])},
    )
    out = analysis.responsible_units(resp)
    assert out["level"].values.tolist() == [0.8]
    assert out["count"].sel(layer=0).values.tolist() == [1, 1, 0]
    # unit 0: 0.9 / 0.2 = 4.5 -> A; unit 1: 0.85 / 0.5 = 1.7 -> none; unit 2: 0.05 < min_responsibility
    assert out["dominant_class"].sel(layer=0).values.tolist() == ["A", "", ""]
    assert float(out["ratio"].sel(unit=0, layer=0)) == pytest.approx(4.5)
    assert out["n_dominant"].sel(layer=0).values.tolist() == [1, 0, 0]


# --------------------------------------------------------------------------------------------- Tang: trace, smoothness


def _line_run():
    h = np.zeros((1, 4, 2, 1))
    h[0, :, 0, 0] = [0.0, 0.3, 0.6, 0.9]  # a straight path along unit 0, evenly spaced
    return make_run({"h": h}, [4], [(0, 0, 0, 4)], cells=("gru",))


def test_smoothness_by_hand():
    # steps 0.3; pairwise distances 0.3, 0.6, 0.9, 0.3, 0.6, 0.3 -> mean 0.5
    s = analysis.smoothness(_line_run(), event=0)
    assert float(s.sel(layer=0)) == pytest.approx(0.3 / 0.5)
    jumpy = _line_run()
    jumpy["h"][0, :, 0, 0] = [0.0, 0.9, 0.0, 0.9]
    # steps 0.9; pairwise 0.9, 0, 0.9, 0.9, 0, 0.9 -> 0.6
    assert float(analysis.smoothness(jumpy, event=0).sel(layer=0)) == pytest.approx(0.9 / 0.6)


def test_smoothness_depends_on_length_unless_compared_in_equal_windows():
    def straight(n):
        h = np.zeros((1, n, 2, 1))
        h[0, :, 0, 0] = 0.1 * np.arange(n)
        return make_run({"h": h}, [n], [(0, 0, 0, n)], cells=("gru",))

    # a straight, evenly spaced path of n frames scores 3 / (n + 1): longer records look smoother
    assert float(analysis.smoothness(straight(8))[0]) == pytest.approx(3 / 9)
    assert float(analysis.smoothness(straight(16))[0]) == pytest.approx(3 / 17)
    # in windows of 4 frames both score 3 / 5 (16 frames: 4 windows; 10 frames: 2 windows, 2 frames left out)
    assert float(analysis.smoothness(straight(16), path_frames=4)[0]) == pytest.approx(3 / 5)
    ten = analysis.smoothness(straight(10), path_frames=4)
    assert float(ten[0]) == pytest.approx(3 / 5) and ten.attrs["n_paths"] == 2
    with pytest.warns(EmptyClassWarning, match="no record with at least 20 valid frames"):
        assert np.isnan(float(analysis.smoothness(straight(10), path_frames=20)[0]))


def test_temporal_trace_pca_follows_a_straight_path():
    tr = analysis.temporal_trace(_line_run(), event=0)
    assert tr.dims == ("time", "component", "layer")
    np.testing.assert_allclose(tr.sel(component=0, layer=0).values, [-0.45, -0.15, 0.15, 0.45], atol=1e-6)
    np.testing.assert_allclose(tr.sel(component=1, layer=0).values, 0.0, atol=1e-6)


def test_temporal_trace_tsne_runs_with_a_seed():
    run = boundary_run()
    a = analysis.temporal_trace(run, event=0, var="h", method="tsne", seed=1)
    b = analysis.temporal_trace(run, event=0, var="h", method="tsne", seed=1)
    assert a.sizes["time"] == 30 and a["label"].values.tolist()[10] == 1
    xr.testing.assert_allclose(a, b)


# --------------------------------------------------------------------------------------------- Tang: perturbation


def test_perturbation_and_recovery_time_by_hand():
    clean_h = np.zeros((1, 8, 2, 1))
    clean_h[0, :, 0, 0] = [0.1, -0.1, 0.1, -0.1, 0.1, -0.1, 0.1, -0.1]
    clean = make_run({"h": clean_h}, [8], [(0, 0, 0, 8)], cells=("gru",))
    # perturbed: two frames inserted after frame 2 (clean_frame -1), then the clean frames 3..7 with a decaying offset
    pert_h = np.zeros((1, 10, 2, 1))
    pert_h[0, :3, 0, 0] = clean_h[0, :3, 0, 0]
    pert_h[0, 3:5, 0, 0] = [0.9, 0.9]
    offset = np.array([0.4, 0.2, 0.005, 0.0, 0.0])
    pert_h[0, 5:, 0, 0] = clean_h[0, 3:, 0, 0] + offset
    pert = make_run({"h": pert_h}, [10], [(0, 0, 0, 10)], cells=("gru",))
    pert = pert.assign_coords(clean_frame=("time", [0, 1, 2, -1, -1, 3, 4, 5, 6, 7]))
    pert.attrs["noise"] = '{"noise_start_frame": 3, "noise_stop_frame": 5}'
    diff = analysis.perturbation(clean, pert)
    assert diff.dims == ("time", "unit", "layer")
    d = diff.sel(unit=0, layer=0).values
    np.testing.assert_allclose(d[:3], 0.0)
    np.testing.assert_allclose(d[3:5], 0.9 - 0.1)  # inserted frames against the clean state at the insertion point
    np.testing.assert_allclose(d[5:], offset, atol=1e-7)
    std = float(diff["clean_std"].sel(layer=0))
    assert std == pytest.approx(np.std(np.r_[clean_h[0, :, 0, 0], np.zeros(8)]), rel=1e-6)
    # mean over the two units of |diff| / std: 0.2/std, 0.1/std, 0.0025/std, 0, 0 ; threshold 0.1 -> T = 7
    rec = analysis.recovery_time(diff, threshold=0.1)
    assert float(rec.sel(layer=0)) == 2.0
    assert float(rec["recovery_s"].sel(layer=0)) == 2.0
    assert float(analysis.recovery_time(diff, threshold=1e-9).sel(layer=0)) == 3.0  # the last two frames are exact
    still = diff.copy()
    still[-1] = 1.0
    with pytest.warns(RuntimeWarning, match="did not recover"):
        assert np.isnan(float(analysis.recovery_time(still, threshold=0.1).sel(layer=0)))


# --------------------------------------------------------------------------------------------- compare, activity


def test_compare_collects_the_numbers_of_each_function():
    lstm, gru = examples.toy_run("lstm"), examples.toy_run("gru")
    table = analysis.compare({"lstm": lstm, "gru": gru}, half_width=1, far=2)
    assert list(table.index) == ["lstm", "gru"]
    assert table.loc["lstm", "polarization"] == pytest.approx(
        float(analysis.activation_histogram(lstm, per=None)["polarization"].mean()))
    assert table.loc["gru", "gru_h_outside_0_7"] == pytest.approx(
        float(analysis.cell_distribution(gru)["share_outside_0_7"].mean()))
    assert np.isnan(table.loc["gru", "lstm_c_inside_2"]) and np.isnan(table.loc["lstm", "gru_h_outside_0_7"])
    assert table.loc["lstm", "specialisation"] == pytest.approx(
        float(analysis.specialisation(lstm)["specialisation"].mean()))


def test_unit_activity_by_hand():
    act = analysis.unit_activity(heat_run())
    np.testing.assert_allclose(act["mean_abs"].sel(layer=0).values, [5.1 / 8, 1.8 / 8])
    np.testing.assert_allclose(act["mean"].sel(layer=0).values, [1.9 / 8, 1.8 / 8])


def test_frame_accuracy_by_hand():
    run = heat_run()  # pred 0 everywhere: right on the 5 A frames of 8 labelled ones
    assert analysis.frame_accuracy(run) == pytest.approx(5 / 8)


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("call, match", [
    (lambda r: analysis.heat_map(r, var="x"), r"The 'var' parameter of heat_map must be one of \['h'\]. Got 'x'"),
    (lambda r: analysis.heat_map(r, weighting="time"),
     r"The 'weighting' parameter of heat_map must be one of \['segment', 'frame'\]. Got 'time'"),
    (lambda r: analysis.susceptibility(r, layer=3),
     r"The 'layer' parameter of susceptibility must be None \(all layers\), one of \[0\]"),
    (lambda r: analysis.unit_traces(r, event=9), r"The 'event' parameter of unit_traces must be a record position"),
    (lambda r: analysis.unit_traces(r, event=0, units=[5]), r"The 'units' parameter of unit_traces must hold unit ids"),
    (lambda r: analysis.activation_histogram(r, per="event"), r"The 'per' parameter of activation_histogram"),
    (lambda r: analysis.responsibility(r, var="h", irregular=150), r"The 'irregular' parameter of responsibility"),
    (lambda r: analysis.temporal_trace(r, event=0, method="umap"), r"The 'method' parameter of temporal_trace"),
    (lambda r: analysis.cell_distribution(r), r"cell_distribution: var='cell' picks the cell of each layer, 'c' for"),
    (lambda r: analysis.top_fraction(HEAT, fraction=0),
     r"The 'fraction' parameter of top_fraction must be a number in"),
    (lambda r: analysis.heat_map(r["h"]), r"The 'run' parameter of heat_map must be an xarray.Dataset"),
])
def test_errors_say_what_and_how(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(heat_run())


def test_analysis_imports_no_torch_and_exports_a_public_surface():
    import subprocess
    import sys

    code = "import sys, rnnscope.analysis as a; print('torch' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
    assert all(hasattr(analysis, name) for name in analysis.__all__)
    assert "np" not in analysis.__all__ and not any(name.startswith("_") for name in analysis.__all__)


def test_top_fraction_takes_a_run_as_documented():
    """``top_fraction(run, fraction=0.5)``, the paper's main analysis as users call it, equals the heat-map route."""
    run = examples.toy_run()
    direct = analysis.top_fraction(run, fraction=0.5)
    via_heat = analysis.top_fraction(analysis.heat_map(run), fraction=0.5)
    assert {k: list(v) for k, v in direct.units.items()} == {k: list(v) for k, v in via_heat.units.items()}
    xr.testing.assert_identical(direct.heat, via_heat.heat)
    frame = analysis.top_fraction(run, fraction=0.5, weighting="frame")
    assert frame.heat.attrs.get("weighting") == "frame"

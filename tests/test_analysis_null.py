"""Chance levels of the analyses' scores (``null=N``): hand-made runs whose answer is known.

- a structureless run (states of noise, classes drawn at random): the p-values of every unit are about uniform;
- a planted specialised unit (more active in the segments of one class): p < 0.05;
- an ideal onset unit (steps once in its onset window and stays there) scores >= 0.95, a noise unit about 0.5.
"""
import warnings

import numpy as np
import pytest
import xarray as xr
from analysis_runs import make_run
from scipy import stats

import rnnscope
from rnnscope import analysis
from rnnscope.errors import RnnscopeWarning
from rnnscope.features import FeatureConfig

N_RECORDS, N_TIME, SEGMENT = 12, 60, 10


def _noise_run(n_units=300, planted=(), shift=0.6, seed=1):
    """12 records of 6 segments of 10 frames with random classes A/B/C; ``h`` is noise, and the units ``planted``
    are ``shift`` more active in the segments of class B."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(N_RECORDS, N_TIME, n_units, 1))
    segments = []
    for e in range(N_RECORDS):
        classes = rng.permutation([0, 0, 1, 1, 2, 2])  # every record holds every class: permutations can move them
        for j, c in enumerate(classes):
            frames = slice(j * SEGMENT, (j + 1) * SEGMENT)
            segments.append((e, int(c), frames.start, frames.stop))
            if c == 1:
                for u in planted:
                    h[e, frames, u, 0] = np.abs(h[e, frames, u, 0]) + shift
    return make_run({"h": h}, [N_TIME] * N_RECORDS, segments)


def _uniform(p, what):
    p = np.asarray(p, dtype=np.float64).ravel()
    p = p[np.isfinite(p)]
    result = stats.kstest(p, "uniform")
    assert result.pvalue > 0.01, f"{what}: KS {result}"
    assert 0.02 < np.mean(p < 0.05) < 0.09, f"{what}: {np.mean(p < 0.05):.3f} of the p-values are below 0.05"


# --------------------------------------------------------------------------------------------- heat-based scores


@pytest.fixture(scope="module")
def noise_run():
    return _noise_run()


def test_a_structureless_run_has_about_uniform_p_values(noise_run):
    spec = analysis.specialisation(noise_run, null=199, seed=0)
    for name in ("selectivity_p", "selectivity_gap_p", "class_gap_p"):
        _uniform(spec[name].values, name)
    # the score is positive by construction, and inside its null
    gap, mean, q95 = (float(spec[n][0]) for n in ("specialisation_gap", "specialisation_gap_null_mean",
                                                  "specialisation_gap_null_q95"))
    assert gap > 0 and abs(gap - mean) < 0.01 and gap < q95
    assert float(spec["specialisation_gap_p"][0]) > 0.05
    top = analysis.top_units(noise_run, k=10, null=199, seed=0)
    assert top.heat_p.min() > 0 and float(top.heat_p.median()) > 0.2


def test_a_planted_specialised_unit_is_above_chance():
    run = _noise_run(n_units=40, planted=[3])
    spec = analysis.specialisation(run, null=199, seed=0)
    unit = spec.sel(unit=3, layer=0)
    assert str(unit["preferred_class"].values) == "B"
    assert float(unit["selectivity_gap_p"]) < 0.05 and float(unit["class_gap_p"].sel(class_name="B")) < 0.05
    assert float(unit["selectivity_gap"]) > float(unit["selectivity_gap_null_q95"])
    assert float(spec["selectivity_gap_p"].drop_sel(unit=3).median()) > 0.2  # the noise units are not
    top = analysis.top_units(run, k=3, null=199, seed=0)
    assert int(top.sel(class_name="B", rank=1, layer=0)) == 3
    assert float(top.heat_p.sel(class_name="B", rank=1, layer=0)) < 0.05
    assert float(top.heat_p.sel(class_name="A", rank=1, layer=0)) > 0.05  # A's most active unit: chance
    # a layer of 20 units, 5 of them specialised: the layer's number is above chance too
    layer = analysis.specialisation(_noise_run(n_units=20, planted=range(5)), null=199, seed=0)
    assert float(layer["specialisation_gap_p"][0]) < 0.05


def test_the_null_leaves_the_score_unchanged_and_is_reproducible(noise_run):
    plain = analysis.specialisation(noise_run)
    with_null = analysis.specialisation(noise_run, null=50, seed=3)
    xr.testing.assert_identical(plain, with_null[list(plain.data_vars)].drop_attrs(deep=False).assign_attrs(
        plain.attrs))
    again = analysis.specialisation(noise_run, null=50, seed=3)
    xr.testing.assert_identical(with_null, again)
    other = analysis.specialisation(noise_run, null=50, seed=4)
    assert not np.array_equal(other["selectivity_gap_p"], with_null["selectivity_gap_p"])
    assert with_null.attrs["null"] == 50 and with_null.attrs["null_within"] == "record"
    # p is never 0: at least 1 / (1 + null)
    assert float(with_null["selectivity_gap_p"].min()) >= 1 / 51


def test_top_fraction_counts_its_units_against_chance(noise_run):
    top = analysis.top_fraction(noise_run, fraction=0.5, null=99, seed=0)
    n, mean, p = (top.heat[name].values[0] for name in ("n_units", "n_units_null_mean", "n_units_p"))
    assert n == len(top.units[0]) and 0 < mean <= 150 and 0 < p <= 1
    # the frame weighting and the "any" rule get one too
    assert "n_units_p" in analysis.top_fraction(noise_run, fraction=0.3, rule="any", weighting="frame",
                                                null=9).heat.coords


@pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")  # class C has no segment
def test_a_heat_map_has_no_null_and_records_of_one_class_warn():
    heat = analysis.heat_map(_noise_run(n_units=4))
    with pytest.raises(ValueError, match=r"specialisation: null=10 permutes the classes of the run's segments, so it "
                                         r"needs the run, not a heat map"):
        analysis.specialisation(heat, null=10)
    rng = np.random.default_rng(0)
    one_class = make_run({"h": rng.normal(size=(10, 10, 3, 1))}, [10] * 10, [(e, e % 2, 0, 10) for e in range(10)])
    with pytest.warns(RnnscopeWarning, match=r"no record holds two different labels.*null_within='run'"):
        within = analysis.specialisation(one_class, null=20)
    assert np.all(within["selectivity_gap_p"].values == 1)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*no record holds two different labels")
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        across = analysis.specialisation(one_class, null=20, null_within="run")
    assert float(across["selectivity_gap_p"].max()) < 1
    with pytest.raises(ValueError, match=r"The 'null' parameter of top_units must be an integer >= 1. Got 0"):
        analysis.top_units(one_class, null=0)
    with pytest.raises(ValueError, match=r"The 'null_within' parameter of specialisation must be one of"):
        analysis.specialisation(one_class, null=5, null_within="event")


def test_class_correlation_has_a_chance_level_far_from_zero():
    # units differ in overall activity (scale 0.2 .. 2) whatever the class: every pair of classes correlates by chance
    rng = np.random.default_rng(2)
    run = _noise_run(n_units=30)
    scale = np.linspace(0.2, 2.0, 30)[None, None, :, None]
    run["h"] = run["h"] * scale
    corr = analysis.class_correlation(run, null=99, seed=0)
    off = ~np.eye(3, dtype=bool)
    assert (corr["correlation_null_mean"].values[..., 0][off] > 0.8).all()
    assert (corr["correlation_p"].values[..., 0][off] > 0.05).all()
    # class B reverses the units' profile: A and B correlate far below chance
    flipped = run.copy()
    h = flipped["h"].values.copy()
    b = flipped["label"].values == 1
    h[b] = np.abs(rng.normal(size=h[b].shape)) * scale[0, 0, ::-1]
    flipped["h"] = (flipped["h"].dims, h)
    corr = analysis.class_correlation(flipped, null=99, seed=0).sel(class_name="A", class_name_other="B", layer=0)
    assert float(corr) < float(corr["correlation_null_mean"]) - 0.5 and float(corr["correlation_p"]) == 1.0


# --------------------------------------------------------------------------------------------- onset detectors


def _onset_run(n_noise=200, seed=0):
    """20 records of 90 frames, background A, one event B each (onset b in 20..49, S arrival 3 s later).

    Unit 0: an ideal onset unit: 0 until it steps to 1 somewhere in frames ``b - 6 .. b + 4`` (its features reach
    8 frames before and 7 after the onset), then stays at 1. Unit 1: constant. Units 2...: noise.
    """
    rng = np.random.default_rng(seed)
    h = np.zeros((20, 90, 2 + n_noise, 1))
    segments = []
    for e in range(20):
        b = int(rng.integers(20, 50))
        end = int(rng.integers(b + 15, 90))
        segments += [(e, 0, 0, b), (e, 1, b, end, float(b), b + 3.0), (e, 0, end, 90)]
        h[e, b + int(rng.integers(-6, 5)):, 0, 0] = 1.0
        h[e, :, 2:, 0] = rng.normal(size=(90, n_noise))
    run = make_run({"h": h}, [90] * 20, segments)
    run.attrs.update(feature_config=FeatureConfig().to_json(), sampling_rate=100.0, background="A")
    return run


@pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")  # the S arrivals are in onset windows
def test_an_ideal_onset_unit_scores_one_and_noise_one_half():
    det = analysis.detector_units(_onset_run(), null=199, seed=0)
    assert det.attrs["reach"] == [8, 7] and det.attrs["window"] == 16
    assert int(det["n_onset_windows"]) == 20 and int(det["n_negative_windows"]) > 40
    ideal = det.sel(unit=0, layer=0)
    assert float(ideal["auc_onset"]) >= 0.95 and float(ideal["auc_onset_p"]) < 0.05
    assert float(det["auc_onset"].sel(unit=1, layer=0)) == 0.5  # constant: every window ties
    noise = det["auc_onset"].sel(unit=slice(2, None))
    assert abs(float(noise.mean()) - 0.5) < 0.02
    assert abs(float(det["auc_onset_null_mean"].sel(unit=slice(2, None)).mean()) - 0.5) < 0.02
    _uniform(det["auc_onset_p"].sel(unit=slice(2, None)).values, "noise units' auc_onset_p")
    # S arrivals 6 frames after their onset sit in the onset window: none is usable, and the run says so
    assert int(det["n_s_arrivals"]) == 20 and int(det["n_s_windows"]) == 0 and np.isnan(det["auc_s"]).all()


def test_s_arrivals_are_scored_only_away_from_onsets():
    run = _onset_run(n_noise=2)
    late = run.copy()
    late["segment_s"] = run["segment_s"] + 20.0  # 20 s after the onset: past the onset window (unless past the end)
    with pytest.warns(analysis.EmptyClassWarning, match=r"no usable S-arrival window \(0 of 20 S arrivals; an S "
                                                        r"window must lie inside its record and overlap no onset"):
        analysis.detector_units(run)
    det = analysis.detector_units(late)
    usable = int(det["n_s_windows"])
    assert 0 < usable <= 20
    # the ideal onset unit does not change at S arrivals: no better than the negatives
    assert float(det["auc_s"].sel(unit=0, layer=0)) <= 0.6


# --------------------------------------------------------------------------------------------- reach


@pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")  # no S arrival
def test_features_computed_elsewhere_get_no_reach_without_a_warning_only_when_given():
    rng = np.random.default_rng(0)
    frames = rnnscope.data.from_features([rng.normal(size=(40, 3)) for _ in range(3)],
                                         [np.r_[np.zeros(15), np.ones(10), np.zeros(15)].astype(int)] * 3,
                                         class_names=["BG", "EV"], background="BG")
    run = make_run({"h": rng.normal(size=(3, 40, 2, 1))}, [40] * 3, [(e, 1, 15, 25) for e in range(3)],
                   class_names=("BG", "EV"))
    run.attrs.update(feature_config=frames.attrs["feature_config"], sampling_rate=100.0, background="BG")
    with pytest.warns(RnnscopeWarning, match=r"detector_units: the run does not say how far its features reach "
                                             r"around a boundary \(its features were computed elsewhere.*reach=0\)"):
        det = analysis.detector_units(run)
    assert det.attrs["reach"] == [0, 0]
    with pytest.warns(RnnscopeWarning, match=r"susceptibility: .*it has no attrs\['feature_config'\]"):
        analysis.susceptibility(run.drop_attrs(deep=False).assign_attrs(background="BG", class_names=["BG", "EV"]),
                                half_width=1, far=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*how far its features reach")
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        assert analysis.detector_units(run, reach=(2, 1)).attrs["reach"] == [2, 1]
        assert analysis.susceptibility(run, half_width=1, far=2, reach=0).attrs["reach"] == [0, 0]


# --------------------------------------------------------------------------------------------- probes


def test_probe_scores_against_permuted_segment_labels():
    run = _noise_run(n_units=6, planted=[0, 1, 2])
    run.attrs["background"] = "A"
    table = analysis.linear_probes(run, targets=["class", "event"], folds=3, null=19,
                                   progress=False).set_index("target")
    assert table.loc["class", "score_p"] == pytest.approx(1 / 20)  # no permutation reaches it
    assert table.loc["class", "score_null_mean"] < table.loc["class", "score"]
    noise = _noise_run(n_units=6)
    noise.attrs["background"] = "A"
    plain = analysis.linear_probes(noise, targets=["class", "event", "time_since_onset"], folds=3, null=19,
                                   progress=False).set_index("target")
    assert (plain["score_p"] > 0.05).all()
    assert {"score_null_mean", "score_null_q95", "score_p"} <= set(plain.columns)
    features = analysis.linear_probes(noise, targets=["f0"], folds=3, null=3, progress=False)
    assert features["score_p"].isna().all()  # an input feature is not a segment label: no permutation null

"""Contract of every public analysis function: it accepts a padded run in memory or dask-backed from disk, gives the
same result on both, keeps coordinates, never mutates its input and ignores whatever lies past ``length``."""
import copy
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from analysis_runs import padded_run

import rnnscope
from rnnscope import analysis
from rnnscope.errors import NumericalWarning

pytestmark = pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")

def _attribution_of(run):
    """An attribution-shaped Dataset read from a run's valid frames (what the attribution analyses take): the units of
    layer 0 of record 0 at the last frame every record holds, ``h`` and ``c`` as two features, lags back to frame 0."""
    n = int(run["length"].values.min())
    values = np.stack([run[v].isel(event=0, layer=0, time=slice(0, n)).values for v in ("h", "c")], axis=-1)
    step = float(run["time"].values[1] - run["time"].values[0])
    units = run["unit"].values
    return xr.Dataset({"attribution": (("target", "lag", "feature"), np.abs(values[::-1]).transpose(1, 0, 2))},
                      coords={"lag": np.arange(n), "lag_s": ("lag", np.arange(n) * step),
                              "band_hz": ("feature", [1.0, 2.0]), "target_unit": ("target", units),
                              "target_layer": ("target", np.zeros(units.size, int)),
                              "target_time": ("target", np.full(units.size, float(run["time"].values[n - 1])))})


CALLS = {
    "band_profile[null]": lambda r: analysis.band_profile(_attribution_of(r), null=20, seed=1),
    "lag_profile[null]": lambda r: analysis.lag_profile(_attribution_of(r), null=20, seed=1),
    "attribution_over_time": lambda r: analysis.attribution_over_time(_attribution_of(r), target=2),
    "timescales": lambda r: analysis.timescales(r.assign(forget_gate=(r["h"] + 1) / 2)),
    "activation_histogram[class]": lambda r: analysis.activation_histogram(r),
    "activation_histogram[segment]": lambda r: analysis.activation_histogram(r, var="c", per="segment", bins=8),
    "activation_histogram[all]": lambda r: analysis.activation_histogram(r, layer=1, per=None),
    "heat_map[summary]": lambda r: analysis.heat_map(r),
    "heat_map[segment]": lambda r: analysis.heat_map(r, use_summary=False),
    "heat_map[frame, c]": lambda r: analysis.heat_map(r, var="c", weighting="frame"),
    "top_fraction": lambda r: analysis.top_fraction(analysis.heat_map(r, use_summary=False), fraction=0.6),
    "class_correlation": lambda r: analysis.class_correlation(r, fraction=0.8),
    "top_units": lambda r: analysis.top_units(r, k=3, weighting="frame"),
    "unit_traces": lambda r: analysis.unit_traces(r, event=2, units=[3, 0]),
    "unit_activity": lambda r: analysis.unit_activity(r, var="c", layer=[1]),
    "specialisation": lambda r: analysis.specialisation(r),
    "specialisation[null]": lambda r: analysis.specialisation(r, weighting="frame", null=20, seed=1),
    "top_units[null]": lambda r: analysis.top_units(r, k=2, null=20),
    "top_fraction[null, class]": lambda r: analysis.top_fraction(r, fraction=0.6, rule="class", null=20),
    "class_correlation[class, null]": lambda r: analysis.class_correlation(r, fraction=0.8, rule="class", null=10),
    "detector_units[null]": lambda r: analysis.detector_units(r, half_width=1, reach=0, null=20),
    "susceptibility": lambda r: analysis.susceptibility(r, half_width=1, far=2),
    "detector_units": lambda r: analysis.detector_units(r, half_width=1),
    "cell_distribution": lambda r: analysis.cell_distribution(r, sampled_units=3),
    "responsibility[paper]": lambda r: analysis.responsibility(r),
    "responsibility[percentile]": lambda r: analysis.responsibility(r, irregular=20),
    "responsible_units": lambda r: analysis.responsible_units(analysis.responsibility(r, irregular=20)),
    "temporal_trace[pca]": lambda r: analysis.temporal_trace(r, event="ex1"),
    "temporal_trace[tsne]": lambda r: analysis.temporal_trace(r, event=2, layer=0, method="tsne"),
    "smoothness": lambda r: analysis.smoothness(r),
    "perturbation": lambda r: analysis.perturbation(r, r, event=1, noise=(3, 5)),
    "recovery_time": lambda r: analysis.recovery_time(analysis.perturbation(r, r, event=1, noise=(3, 5))),
    "compare": lambda r: analysis.compare({"run": r}, half_width=1, far=2),
    "frame_accuracy": lambda r: analysis.frame_accuracy(r),
    "across_seeds[xarray]": lambda r: analysis.across_seeds(lambda x: analysis.specialisation(x)["specialisation"],
                                                            [r, r]),
    "across_seeds[series]": lambda r: analysis.across_seeds(
        lambda x: analysis.susceptibility(x, half_width=1, far=2)["susceptibility"].to_series(), {0: r, 1: r}),
    "linear_cka": lambda r: analysis.linear_cka(r, r),
    "linear_cka[c vs h]": lambda r: analysis.linear_cka(r, r, var="c", layer=1, var_b="h", layer_b=[0, 1]),
    "match_units": lambda r: analysis.match_units(r, r, var="c"),
    "unit_correlation": lambda r: analysis.unit_correlation(r, r, var="c"),
    "linear_probes": lambda r: analysis.linear_probes(r, folds=3),
    "linear_probes[all, sampled]": lambda r: analysis.linear_probes(r, targets=["class", "f1"], var="all", layer=1,
                                                                    max_frames=30, seed=1),
    "gate_saturation": lambda r: analysis.gate_saturation(r.assign(forget_gate=(r["h"] + 1) / 2)),
}


def test_every_public_function_is_in_the_contract():
    covered = {name.split("[")[0] for name in CALLS}
    functions = {n for n in analysis.__all__ if callable(getattr(analysis, n)) and n[0].islower()}
    assert functions == covered


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    run = padded_run()
    assert len(set(run.length.values.tolist())) == 3  # three different lengths: padding in two records
    path = rnnscope.save_run(run, tmp_path_factory.mktemp("runs") / "padded.zarr")
    lazy = rnnscope.open_run(path)
    assert lazy["h"].chunks is not None  # dask-backed
    junk = run.copy(deep=True)
    valid = np.arange(run.sizes["time"])[None, :] < run.length.values[:, None]
    for name in ("h", "c"):
        junk[name] = junk[name].where(xr.DataArray(valid, dims=("event", "time")), 123.0)
    return run, lazy, junk


def _same(a, b):
    if isinstance(a, tuple):  # TopFraction
        assert a.units == b.units
        _same(a.heat, b.heat)
    elif isinstance(a, (xr.Dataset, xr.DataArray)):
        xr.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, rtol=1e-9)
    else:
        assert a == pytest.approx(b, nan_ok=True)


@pytest.mark.parametrize("name", list(CALLS))
def test_same_result_in_memory_and_from_disk(runs, name):
    run, lazy, _ = runs
    _same(CALLS[name](run), CALLS[name](lazy))


@pytest.mark.parametrize("name", list(CALLS))
def test_input_is_not_mutated(runs, name):
    run, lazy, _ = runs
    for ds in (run, lazy):
        before = copy.deepcopy(ds)
        CALLS[name](ds)
        xr.testing.assert_identical(ds, before)


@pytest.mark.parametrize("name", list(CALLS))
def test_padding_is_ignored(runs, name):
    run, _, junk = runs
    assert float(junk["h"].max()) == 123.0
    _same(CALLS[name](run), CALLS[name](junk))


@pytest.mark.parametrize("name", list(CALLS))
def test_coordinates_are_kept(runs, name):
    run, _, _ = runs
    result = CALLS[name](run)
    result = result.heat if isinstance(result, tuple) else result
    if not isinstance(result, (xr.Dataset, xr.DataArray)):
        return
    if "unit" in result.coords:
        assert set(result["unit"].values.tolist()) <= set(run["unit"].values.tolist())
    if "layer" in result.dims:
        assert set(result["layer"].values.tolist()) <= set(run["layer"].values.tolist())
    if "class_name" in result.dims:
        assert result["class_name"].values.tolist() == run["class_name"].values.tolist()
    if "time" in result.dims:
        times = run["time"].values.tolist()
        assert result["time"].values.tolist() == times[: result.sizes["time"]]


def test_results_keep_a_layer_dimension(runs):
    run, _, _ = runs
    for name, call in CALLS.items():
        result = call(run)
        result = result.heat if isinstance(result, tuple) else result
        # linear_cka and unit_correlation compare two runs: their dims are (layer_a, layer_b / unit_a, unit_b);
        # attribution_over_time is one target's image
        two_runs = ("frame_accuracy", "linear_cka", "unit_correlation", "attribution_over_time")
        if isinstance(result, (xr.Dataset, xr.DataArray)) and not name.startswith(two_runs):
            assert "layer" in result.dims, name


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# results with a time axis change shape with the padding itself; every other result must not change at all
_TIMELESS = [n for n in CALLS if not n.startswith(("perturbation", "recovery_time", "temporal_trace"))]


def _pad(run: xr.Dataset, extra: int) -> xr.Dataset:
    """The same run with ``extra`` more frames of padding (NaN states, -1 labels) at the end of the time axis."""
    padded = run.pad(time=(0, extra))
    step = float(run.time[1] - run.time[0])
    padded = padded.assign_coords(time=np.r_[run.time.values, run.time.values[-1] + step * np.arange(1, extra + 1)])
    for name in ("label", "pred"):
        padded[name] = padded[name].fillna(-1).astype(run[name].dtype)
    return padded


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.integers(min_value=1, max_value=40), name=st.sampled_from(_TIMELESS))
def test_results_do_not_depend_on_the_padding_length(runs, extra, name):
    run, _, _ = runs
    _same(CALLS[name](run), CALLS[name](_pad(run, extra)))


def _missing_input(run: xr.Dataset, event: int, frame: int) -> xr.Dataset:
    """``run`` as a capture leaves it when record ``event``'s input is NaN at ``frame``: its states and ``prob`` NaN
    and ``pred`` -1 from there to its length (``length`` unchanged); no stored summaries (recomputed by the
    analyses)."""
    out = run.drop_vars([v for v in run.data_vars if v.startswith("summary_")]).copy(deep=True)
    n = int(out["length"].values[event])
    for name in [v for v in out.data_vars if set(out[v].dims) == {"event", "time", "unit", "layer"}] + ["prob"]:
        values = out[name].transpose("event", "time", ...).values
        values[event, frame:n] = np.nan
        out[name] = (out[name].transpose("event", "time", ...).dims, values)
    out["pred"].values[event, frame:n] = -1
    return out


@pytest.fixture(scope="module")
def missing_runs(runs):
    run = runs[0]
    event = int(np.argmax(run["length"].values))
    frame = int(run["length"].values[event]) // 2
    missing = _missing_input(run, event, frame)
    cut = missing.assign_coords(length=("event", np.where(np.arange(run.sizes["event"]) == event, frame,
                                                          run["length"].values)))
    return missing, cut


#: the calls that analyse the run itself (the attribution analyses take an attribution the test builds from it)
RUN_CALLS = [name for name in CALLS if name.split("[")[0] not in ("band_profile", "lag_profile",
                                                                  "attribution_over_time")]


@pytest.mark.parametrize("name", RUN_CALLS)
def test_nan_states_after_a_missing_input_give_the_record_cut_there(missing_runs, name):
    """States NaN from a missing input frame to the record's end (what capture gives for a NaN frame inside a
    record, as PyTorch): every analysis gives the numbers of the run whose record is cut before that frame, and says
    nothing of NaN."""
    missing, cut = missing_runs
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)
        got = CALLS[name](missing)
    _same(got, CALLS[name](cut))

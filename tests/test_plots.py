"""rnnscope.plots: every figure of the papers returns a headless Figure with the expected panels and saves to PNG."""
import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from rnnscope import analysis, examples, plots

pytestmark = pytest.mark.filterwarnings("ignore::rnnscope.analysis.EmptyClassWarning")


@pytest.fixture(scope="module")
def run():
    return examples.toy_run("lstm", hidden_size=6, num_layers=2)


@pytest.fixture(scope="module")
def gru():
    return examples.toy_run("gru", hidden_size=6, num_layers=1)


ABLATION = pd.DataFrame({
    "fraction": [1.0, 0.5, 0.2, 1.0, 0.5, 0.2], "n_units": [10, 5, 2, 10, 5, 2],
    "ranking": ["activity"] * 3 + ["random"] * 3, "mode": "zero",
    "accuracy": [0.9, 0.85, 0.7, 0.9, 0.6, 0.3], "accuracy_std": [np.nan] * 3 + [0.0, 0.05, 0.1],
})


@pytest.fixture(scope="module")
def figures(run, gru):
    return _figures(run, gru)


def _figures(run, gru):
    diff = analysis.perturbation(run, run, event=0, noise=(3, 6))
    return {
        # name: (figure, expected number of axes)
        "activation_map": (plots.activation_map(run, event=0, layer=1), 5),
        "activation_map[c]": (plots.activation_map(run, event="ex1", var="c", units=[0, 2, 4]), 5),
        "activation_histograms": (plots.activation_histograms({"gru": analysis.activation_histogram(gru)}), 5),
        "activation_histograms[all]": (plots.activation_histograms(analysis.activation_histogram(run, per=None)), 1),
        "heat_maps": (plots.heat_maps(run, layer=1), 4),
        "correlation_matrices": (plots.correlation_matrices(analysis.heat_map(run), fractions=(1.0, 0.5)), 3),
        "top_unit_traces": (plots.top_unit_traces(run, event=0, k=3), 2 + 3),  # waveform, spectrogram, SIL/LP/HYB
        "ablation_curves": (plots.ablation_curves({"lstm": ABLATION, "rnn": ABLATION}), 1),
        "cell_distributions": (plots.cell_distributions(
            {"lstm": analysis.cell_distribution(run), "gru": analysis.cell_distribution(gru)}), 4),
        "responsibility_map": (plots.responsibility_map(analysis.responsibility(run, irregular=10)), 3),
        "temporal_traces": (plots.temporal_traces(
            {"lstm": analysis.temporal_trace(run, event=0), "gru": analysis.temporal_trace(gru, event=0)}), 4),
        "perturbation_map": (plots.perturbation_map(diff), 4),
    }


def test_every_figure_function_is_tested(figures):
    names = {n for n in plots.__all__ if callable(getattr(plots, n)) and n not in
             ("class_color", "record_overview", "activation_limits")}
    assert names == {k.split("[")[0] for k in figures}


def _drawn(fig):
    """Every line's y data and every image's values of a figure, in drawing order."""
    out = []
    for ax in fig.axes:
        out += [np.asarray(line.get_ydata(), dtype=float) for line in ax.lines]
        out += [np.asarray(c.get_array(), dtype=float).ravel() for c in ax.collections if c.get_array() is not None]
    return out


@pytest.fixture(scope="module")
def from_disk(run, gru, tmp_path_factory):
    """The same runs saved and opened lazily (dask-backed), as users open them: rnnscope.open_run(path)."""
    from rnnscope import io

    folder = tmp_path_factory.mktemp("runs")
    return io.open_run(io.save_run(run, folder / "lstm.zarr")), io.open_run(io.save_run(gru, folder / "gru.zarr"))


def test_every_figure_works_on_runs_opened_from_disk(figures, from_disk):
    """Issue 25: plots.record_overview(open_run(path), event=0) failed ('item' on a dask array); every figure function
    draws the same from a lazily opened run as from the run in memory."""
    lazy, lazy_gru = from_disk
    assert lazy["h"].chunks is not None  # dask-backed: nothing loaded
    for name, (fig, n_axes) in _figures(lazy, lazy_gru).items():
        assert len(fig.axes) == n_axes, name
        for a, b in zip(_drawn(fig), _drawn(figures[name][0]), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, equal_nan=True, err_msg=name)


def test_record_overview_on_a_features_store_opened_from_disk(tmp_path):
    from rnnscope import data, features, io

    frames = features.compute(data.synthetic(n_records=2, seed=0))
    lazy = io.open_run(io.save_run(frames, tmp_path / "frames.zarr"))
    for event in (1, "syn00001"):
        fig = plots.record_overview(lazy, event=event)
        assert len(fig.axes) == 4 and "record syn00001" in fig._suptitle.get_text()
        for a, b in zip(_drawn(fig), _drawn(plots.record_overview(frames, event=1)), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, equal_nan=True)
    assert len(plots.record_overview(io.open_run(io.save_run(examples.toy_run(), tmp_path / "run.zarr")), event=0).axes)


def test_figures_have_the_expected_panels_and_save(figures, tmp_path):
    for name, (fig, n_axes) in figures.items():
        assert isinstance(fig, Figure), name
        assert len(fig.axes) == n_axes, name
        if "[" in name:  # variants of a figure already saved
            continue
        path = tmp_path / f"{name}.png"
        fig.savefig(path, dpi=40)
        assert path.stat().st_size > 1000, name


def test_activation_colours_follow_the_convention(run):
    fig = plots.activation_map(run, event=0)
    mesh = next(c for ax in fig.axes for c in ax.collections if getattr(c, "cmap", None) is not None
                and c.cmap.name == "RdBu")
    assert mesh.norm.vmin == -1.0 and mesh.norm.vmax == 1.0
    # RdBu: -1 red, 0 white, +1 dark blue
    red, white, blue = (mesh.cmap(mesh.norm(v)) for v in (-1.0, 0.0, 1.0))
    assert red[0] > red[2] and blue[2] > blue[0] and min(white[:3]) > 0.9
    lo, hi = plots.activation_limits("c", np.r_[np.linspace(-3, 3, 200), 50.0])
    assert lo == -hi and 2.9 < hi < 50.0  # symmetric and robust to the outlier


def test_no_pyplot_figure_is_left_open(run):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plots.heat_maps(run)
    assert plt.get_fignums() == before
    assert matplotlib.get_backend()  # headless backends work too


def test_heat_maps_say_what_an_empty_panel_means_and_offer_the_union():
    import xarray as xr

    # each class has its own most active unit: no unit is in the top 25 % (1 unit) of both
    heat = xr.DataArray([[3.0, 2.0, 1.0, 0.0], [2.0, 3.0, 0.0, 1.0]], dims=("class_name", "unit"),
                        coords={"class_name": ["A", "B"], "unit": [0, 1, 2, 3]})
    every = plots.heat_maps(heat, fractions=(0.25,))
    texts = [t.get_text() for t in every.axes[0].texts]
    assert any("the most active units differ between classes" in t for t in texts)
    assert "common to all classes (0 units)" in every.axes[0].get_title()
    union = plots.heat_maps(heat, fractions=(0.25,), rule="any")
    assert "of any class (2 units)" in union.axes[0].get_title() and not union.axes[0].texts


def test_one_row_per_model(run, gru):
    hists = {"lstm": analysis.activation_histogram(run, per=None), "gru": analysis.activation_histogram(gru, per=None)}
    fig = plots.activation_histograms(hists)
    assert len(fig.axes) == 2 and fig.axes[1].get_title().startswith("gru")


def test_class_colours_are_keyed_by_name(run):
    hist = analysis.activation_histogram(run)
    fig = plots.activation_histograms(hist)
    lp = [ax for ax in fig.axes if ax.get_title().startswith("LP")][0]
    assert matplotlib.colors.to_hex(lp.patches[0].get_facecolor()) == plots.class_color("LP").lower()

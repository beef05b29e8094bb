"""Value ranges: stored in the run per variable and layer, read by the histograms, the plots and the views, never
an assumed [-1, 1] (issue 26). A ReLU RNN's h and a projected LSTM's h (nn.LSTM with proj_size, captured as any
module) leave [-1, 1]; a NaN unit (a projected LSTM's h has fewer units than its c) is left out of the range."""
import numpy as np
import pytest
import torch

import rnnscope
from rnnscope import analysis, plots
from rnnscope.analysis._common import display_limits
from rnnscope.io._summaries import valid_ranges


def _big(module):
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.mul_(6.0 if "weight" in name else 1.0)
    return module.eval()


@pytest.fixture(scope="module")
def relu_run():
    torch.manual_seed(0)
    net = _big(torch.nn.RNN(3, 5, nonlinearity="relu", batch_first=True))
    x = torch.randn(4, 30, 3).abs()
    labels = np.tile(np.r_[0, 0, 1].repeat(10), (4, 1))
    return rnnscope.capture(net, x, sampling_rate=10.0, time_axis=1, labels=labels, class_names=["quiet", "loud"],
                            progress=False)


@pytest.fixture(scope="module")
def projected_run():
    torch.manual_seed(1)
    net = torch.nn.LSTM(3, 4, proj_size=2, batch_first=True)
    with torch.no_grad():
        net.weight_hr_l0.mul_(8.0)  # |h| = |W_hr (o * tanh c)| reaches past 1
    return rnnscope.capture(net.eval(), torch.randn(3, 25, 3), progress=False)


@pytest.mark.parametrize("name", ["relu_run", "projected_run"])
def test_the_run_stores_the_true_range_and_everything_reads_it(name, request):
    run = request.getfixturevalue(name)
    h = run["h"].values
    lo, hi = float(np.nanmin(h)), float(np.nanmax(h))
    assert max(abs(lo), abs(hi)) > 1.5  # the point: h leaves [-1, 1]
    assert float(run["summary_min"].sel(variable="h").isel(layer=0)) == pytest.approx(lo, rel=1e-6)
    assert float(run["summary_max"].sel(variable="h").isel(layer=0)) == pytest.approx(hi, rel=1e-6)
    m = max(abs(lo), abs(hi))
    assert analysis._common.display_range(run, "h") == pytest.approx((-m, m), rel=1e-6)
    # histograms: the default bins cover every value (nothing piled into the end bins)
    hist = analysis.activation_histogram(run, per=None)
    edges = hist["bin_edges"].values
    assert edges[0] == pytest.approx(-m, rel=1e-6) and edges[-1] == pytest.approx(m, rel=1e-6)
    assert int(hist["counts"].sum()) == int(np.isfinite(h).sum())
    # plots and views colour on that range
    assert plots.activation_limits("h", h)[1] > 1.5
    from rnnscope.widgets import _summaries
    from rnnscope.widgets._render import colormap_for

    assert _summaries.value_range(run, "h", 0) == pytest.approx((-m, m), rel=1e-6)
    cmap = colormap_for("h", vmin=lo, vmax=hi)
    assert cmap.vmax == pytest.approx(m, rel=1e-6) and cmap.vmin == pytest.approx(-m, rel=1e-6)


def test_the_histogram_widget_spans_a_relu_run(relu_run):
    from rnnscope.widgets import Histograms

    widget = Histograms(relu_run)
    assert widget.edges[-1] >= float(np.nanmax(relu_run["h"].values)) - 1e-6
    assert all(np.isclose(np.sum(d * np.diff(widget.edges)), 1.0) for d in widget.density.values() if d.sum())


def test_a_tanh_cell_keeps_the_fixed_range():
    run = rnnscope.examples.toy_run("gru")
    assert analysis._common.display_range(run, "h") == (-1.0, 1.0)
    assert plots.activation_limits("h", run["h"].values) == (-1.0, 1.0)
    assert display_limits("forget_gate", 0.2, 0.3) == (0.0, 1.0)


def test_a_nan_unit_is_left_out_of_the_range(projected_run):
    """The projected LSTM's h has 2 units of its layer's 4: units 2 and 3 are NaN, and its range is that of units
    0 and 1; a layer NaN everywhere (no value at all) has no range; frames past a record's length never count."""
    h = projected_run["h"].values  # (event, time, unit, layer)
    assert np.isnan(h[:, :, 2:, 0]).all() and np.isfinite(h[:, :, :2, 0]).all()
    expected = (float(h[:, :, :2, 0].min()), float(h[:, :, :2, 0].max()))
    assert valid_ranges(h, np.full(h.shape[0], h.shape[1]))[0] == pytest.approx(expected)
    stored = (float(projected_run["summary_min"].sel(variable="h")[0]),
              float(projected_run["summary_max"].sel(variable="h")[0]))
    assert stored == pytest.approx(expected, rel=1e-6)
    c = projected_run["c"].values[:, :, :, 0]  # c has all 4 units
    assert float(projected_run["summary_max"].sel(variable="c")[0]) == pytest.approx(float(c.max()), rel=1e-6)
    nothing = np.full((1, 3, 2, 1), np.nan)
    assert valid_ranges(nothing, np.array([3])) == [None]
    past = np.zeros((1, 3, 1, 1))
    past[0, 2] = 50.0  # a value past the record's length (2 frames)
    assert valid_ranges(past, np.array([2])) == [(0.0, 0.0)]

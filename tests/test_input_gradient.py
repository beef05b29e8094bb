"""The hand-written input gradient (rnnscope.models._input_gradient, rnnscope.models._bptt) against torch.autograd,
and integrated gradients by hand against Captum's inside rnnscope.experiments.attribution."""
from __future__ import annotations

import warnings
from collections import Counter

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import rnnscope
from rnnscope.experiments import attribution
from rnnscope.experiments._attribution_targets import ClassifierForward
from rnnscope.models import RNNClassifier, _bptt, _native, native_status, set_native
from rnnscope.models._input_gradient import path_buffer_elements, path_gradient_applies, path_input_gradient


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_torch_thread):
    yield


def _autograd(model, x0, dx, pos, index, kind, var, layer, alphas, weights, states):
    """The same sum of gradients by autograd through the model's own forward (fused kernels). NaN after a row's
    target frame is padding: filled with 0 here (the model is causal, so it never reaches the target; left in, the
    fused kernel's backward would multiply a zero gradient by it)."""
    after = (torch.arange(x0.shape[1]).view(1, -1, 1) > pos.view(-1, 1, 1)).expand_as(x0)
    x0, dx = x0.masked_fill(after & x0.isnan(), 0.0), dx.masked_fill(after & dx.isnan(), 0.0)
    total = torch.zeros_like(x0)
    for a, w in zip(alphas, weights, strict=True):
        x = (x0 + a * dx).clone().requires_grad_(True)
        logits, layers = model.forward_layers(x, states)
        if kind == "class":
            series = logits if var == "logit" else torch.softmax(logits, -1)
        elif var == "h":
            series = layers[layer]["h"]
        else:
            rec = layers[layer]
            series = model.layers[layer].internals(rec["input"], rec["h"], rec["state0"], keep=rec["keep"])[var]
        (grad,) = torch.autograd.grad(series[torch.arange(x.shape[0]), pos, index].sum(), x)
        total += w * grad
    return total


def _model(cell, num_layers, residual, dtype, masked=False):
    size = 6 if residual else 5  # the first layer's shortcut needs input_size == hidden_size
    model = RNNClassifier(cell, input_size=size, hidden_size=6, num_classes=3, num_layers=num_layers,
                          residual=residual)
    if masked:
        model = model.masked([torch.tensor([True, False, True, True, True, True])] + [None] * (model.num_layers - 1))
    model = model.to(dtype).eval()
    with torch.no_grad():
        model.feature_mean.normal_()
        model.feature_std.uniform_(0.5, 2.0)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


MODELS = [("lstm", 1, False, False), ("gru", 1, False, False), ("rnn", 1, False, False), ("lstm", 2, False, False),
          ("gru", 2, True, False), ("rnn", 2, True, True), (["gru", "lstm"], 1, False, False), ("lstm", 2, True, True),
          ("lazy_lstm", 1, False, False), (["lstm", "lazy_lstm"], 1, True, True)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(("cell", "num_layers", "residual", "masked"), MODELS)
def test_path_gradient_equals_autograd(dtype, cell, num_layers, residual, masked):
    """Every variable of every layer and both class outputs, targets at frame 0, the last frame and between, with
    and without initial states, on a padded batch (NaN after a row's last frame, as the model pads records)."""
    torch.manual_seed(0)
    model = _model(cell, num_layers, residual, dtype, masked)
    rows, frames, size = 4, 9, model.input_size
    x0 = torch.randn(rows, frames, size, dtype=dtype)
    dx = torch.randn(rows, frames, size, dtype=dtype)
    x0[2, 5:] = float("nan")  # a shorter record: padding after its target frame 4
    dx[0, 1:] = float("nan")  # ... and a record of one frame
    pos = torch.tensor([0, frames - 1, 4, frames - 1])
    states = [tuple(0.5 * torch.randn(rows, 6, dtype=dtype) for _ in layer.state_names) for layer in model.layers]
    targets = [("class", "logit", 0), ("class", "prob", 0)]
    targets += [("unit", var, j) for j, layer in enumerate(model.layers) for var in layer.variables]
    tolerance = 1e-10 if dtype == torch.float64 else 1e-5
    for kind, var, layer in targets:
        index = torch.tensor([0, 1, 2, 1]) if kind == "class" else torch.tensor([0, 5, 1, 3])
        for given in (None, states):
            points = dict(alphas=[0.1, 0.5, 0.9], weights=[0.3, 0.4, 0.3])
            by_hand = path_input_gradient(model, x0, dx, pos=pos, index=index, kind=kind, var=var, layer=layer,
                                          states=given, budget=rows * frames * 100, **points)  # chunks of points
            expected = _autograd(model, x0, dx, pos, index, kind, var, layer, states=given, **points)
            assert by_hand.dtype == dtype and by_hand.shape == x0.shape
            scale = float(expected.abs().max())
            assert scale > 0
            error = float((by_hand - expected).abs().max()) / scale
            assert error < tolerance, (kind, var, layer, given is None, error)
            assert not torch.isnan(by_hand).any()
            assert (by_hand[0, 1:] == 0).all() and (by_hand[2, 5:] == 0).all()  # nothing after the target


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "lazy_lstm"])
def test_nan_at_or_before_the_target_gives_nan_up_to_it_as_autograd(cell):
    """NaN inside the frames a target reads (a gap the user left in): the model's own forward gives NaN there (as
    PyTorch's modules), so does its gradient by autograd, and so does the gradient by hand; other rows untouched."""
    torch.manual_seed(1)
    model = _model(cell, 1, False, torch.float64)
    x0, dx = torch.randn(3, 8, 5, dtype=torch.float64), torch.randn(3, 8, 5, dtype=torch.float64)
    x0[0, 2, 1] = float("nan")  # before row 0's target (frame 6)
    dx[1, 4] = float("nan")  # at row 1's target (frame 4)
    pos, index = torch.tensor([6, 4, 7]), torch.tensor([0, 1, 2])
    points = dict(alphas=[0.25, 0.75], weights=[0.5, 0.5])
    by_hand = path_input_gradient(model, x0, dx, pos=pos, index=index, kind="unit", var="h", layer=0, **points)
    expected = _autograd(model, x0, dx, pos, index, "unit", "h", 0, states=None, **points)
    for r in (0, 1):
        assert torch.isnan(expected[r, : pos[r] + 1]).all() and torch.isnan(by_hand[r, : pos[r] + 1]).all()
        assert (by_hand[r, pos[r] + 1:] == 0).all()
    torch.testing.assert_close(by_hand[2], expected[2], rtol=1e-10, atol=1e-12)


def _frames(lengths=(30, 22, 17), seed=0):
    rng = np.random.default_rng(seed)
    feats = [rng.normal(size=(n, 6)).astype(np.float32) for n in lengths]
    labels = [np.where((np.arange(n) >= 8) & (np.arange(n) < 16), 1, 0) for n in lengths]
    return rnnscope.data.from_features(feats, labels, class_names=["BG", "EV"], frame_rate=2.0, background="BG")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "lazy_lstm"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_integrated_gradients_by_hand_equal_captums(monkeypatch, cell, num_layers):
    """attribution's integrated gradients (by hand) equal Captum's IntegratedGradients over the same forward (the
    same Gauss-Legendre points), on records of different lengths, windows cut by the record start, several target
    frames per batch, a unit's h and c, a class logit and probability; completeness holds as before."""
    data = _frames()
    torch.manual_seed(1)
    model = RNNClassifier(cell, input_size=6, hidden_size=5, num_classes=2, num_layers=num_layers,
                          class_names=["BG", "EV"], background="BG").fit_normalizer(data)
    cases = [dict(target=3, layer=num_layers - 1, frames="all", max_lag=6),
             dict(target="EV", frames=(3.0, 12.0), class_output="prob"),
             dict(target="BG", frames=(0.0, 3.0)),
             dict(target=[1, 2], layer=0, var="c" if "lstm" in cell else "h", frames="onset")]
    for case in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # CompletenessWarning: compared, not asserted here
            by_hand = attribution(model, data, steps=8, batch_size=16, progress=False, **case)
            with monkeypatch.context() as m:
                m.setattr(ClassifierForward, "integrated_gradients", lambda *a, **k: None)
                captum = attribution(model, data, steps=8, batch_size=16, progress=False, **case)
        x, y = by_hand.attribution.values, captum.attribution.values
        assert np.array_equal(np.isnan(x), np.isnan(y))
        assert np.nanmax(np.abs(x - y)) <= 1e-5 * np.nanmax(np.abs(y)), case
        np.testing.assert_array_equal(by_hand.ig_steps, captum.ig_steps)
        np.testing.assert_allclose(by_hand.completeness_error, captum.completeness_error, rtol=0, atol=1e-4)
        total = by_hand.attribution.sum(("lag", "feature")).values
        diff = (by_hand.target_value - by_hand.baseline_value).values
        ok = by_hand.completeness_error.values <= 0.01
        assert ok.mean() > 0.9
        assert np.all(np.abs(total - diff)[ok] <= 0.01 * np.abs(diff)[ok] + 1e-6)


_VIEWS = {"slice", "select", "view", "unsqueeze", "transpose", "t", "detach", "expand", "alias", "as_strided"}


class _Gemms(TorchDispatchMode):
    """Counts the ATen ops that compute (views left out; ``names``: per op), and the rows (first dimension) of every
    matrix product."""

    def __init__(self):
        super().__init__()
        self.ops, self.gemm_rows, self.names = 0, [], Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        self.ops += name not in _VIEWS
        self.names[name] += name not in _VIEWS
        if name in ("mm", "addmm", "addmm_", "bmm"):
            self.gemm_rows.append(int(args[1].shape[-2] if name.startswith("addmm") else args[0].shape[-2]))
        return func(*args, **(kwargs or {}))


def _count(model, rows, frames, steps):
    with _Gemms() as count:
        path_input_gradient(model, torch.randn(rows, frames, 5), torch.randn(rows, frames, 5),
                            pos=torch.tensor([frames - 1, 3, 0]), index=torch.tensor([0, 1, 2]),
                            alphas=[0.2] * steps, weights=[0.2] * steps)
    return count


#: ATen ops per frame (forward and backward, views left out) with the PyTorch ops, and with the native steps (the
#: LSTM's: the recurrent GEMM and one fused step each way; the other tapes have none).
PER_FRAME = {"lstm": 22, "gru": 21, "rnn": 7, "lazy_lstm": 25}
NATIVE_PER_FRAME = {**PER_FRAME, "lstm": 4}


@pytest.mark.parametrize("native", [False, True], ids=["ops", "native"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "lazy_lstm"])
def test_by_hand_path_needs_no_autograd_and_projects_the_input_once_per_record(monkeypatch, cell, native):
    """No autograd; per frame one recurrent GEMM each way (two for the GRU) and a bounded number of elementwise ops
    (counted: the native LSTM steps are one op each way); the first layer's input projection over the rows, not
    rows x steps (W_ih (b + a d) = W_ih b + a W_ih d), and the steps summed before the input's gradient GEMM (by
    one small GEMM per frame, or inside the native LSTM step)."""
    if native and _native.kernels() is None:
        pytest.skip(f"native kernels unavailable: {native_status()['error']}")
    torch.manual_seed(0)
    model = _model(cell, 1, False, torch.float32)
    rows, frames, steps = 3, 7, 5

    def refuse(*args, **kwargs):
        raise AssertionError("autograd ran")
    monkeypatch.setattr(torch.autograd, "grad", refuse)
    monkeypatch.setattr(torch.Tensor, "backward", refuse)
    previous = set_native(native)
    try:
        count = _count(model, rows, frames, steps)
        longer = _count(model, rows, 2 * frames, steps)
    finally:
        set_native(previous)
    rows_seen = sorted(count.gemm_rows)
    # two projections (x0, dx) and the input's gradient: rows x frames; per frame the recurrent GEMM(s) forward and
    # backward (none to the state before frame 0; the lazy LSTM's candidate reads m_t of its own frame) over
    # steps x rows, and one step sum (a row of weights) unless the native LSTM step makes it
    recurrent = {"gru": 2 * (2 * frames - 1), "lazy_lstm": 4 * frames - 1}.get(cell, 2 * frames - 1)
    step_sums = 0 if native and cell == "lstm" else frames
    assert rows_seen.count(rows * frames) == 3
    assert rows_seen.count(steps * rows) == recurrent
    assert rows_seen.count(1) == step_sums
    assert len(rows_seen) == 3 + recurrent + step_sums  # no GEMM over rows x steps x frames
    per_frame = (NATIVE_PER_FRAME if native else PER_FRAME)[cell]
    assert (longer.ops - count.ops) / frames <= per_frame  # ops per frame, forward and backward
    if native and cell == "lstm":
        assert count.names["lstm_tape_forward"] == frames and count.names["lstm_tape_backward"] == frames
        assert not {"sigmoid_", "tanh", "tanh_", "addcmul", "addcmul_", "mul", "mul_"} & set(count.names)


def test_the_tape_s_module_doc_states_the_counted_ops():
    """_bptt's docstring states the per-frame op counts the test above checks."""
    doc = " ".join(_bptt.__doc__.split())
    assert f"vanilla {PER_FRAME['rnn']} ATen ops, GRU {PER_FRAME['gru']}, LSTM {PER_FRAME['lstm']}, lazy LSTM " \
           f"{PER_FRAME['lazy_lstm']}" in doc
    assert f"with the native steps the LSTM's are {NATIVE_PER_FRAME['lstm']}" in doc


def test_which_targets_go_by_hand():
    model = RNNClassifier(["lstm", "lazy_lstm"], input_size=3, hidden_size=4, num_classes=2)
    assert path_gradient_applies(model, "unit", 0) and path_gradient_applies(model, "unit", 1)
    assert path_gradient_applies(model, "class")
    assert not path_gradient_applies(torch.nn.LSTM(3, 4), "unit", 0)  # any other module: Captum's path
    # kept per row, frame and point: gates and cell (5 H) of each LSTM layer, h of the first, the gradient passed
    assert path_buffer_elements(RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=2, num_layers=2),
                                "unit", 1) == 4 * (5 + 1 + 5 + 1)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "lazy_lstm"])
def test_every_chunk_of_points_reuses_the_memory_of_the_first(cell, monkeypatch):
    """A page fault per 4 kB of fresh memory cost more than a chunk's elementwise work: the chunks of one call
    share their (frames, rows, units) buffers (one allocation per buffer and call), with the numbers of one chunk."""
    torch.manual_seed(0)
    model = _model(cell, 2, False, torch.float32, False)
    x0, dx = torch.randn(3, 7, model.input_size), torch.randn(3, 7, model.input_size)
    args = dict(pos=torch.tensor([6, 3, 6]), index=torch.tensor([0, 1, 2]), kind="class", var="logit",
                alphas=[0.1, 0.4, 0.6, 0.9], weights=[0.25] * 4)
    whole = path_input_gradient(model, x0, dx, **args)
    places: dict = {}
    taken = _bptt.Workspace.empty

    def spied(self, key, shape, like):
        out = taken(self, key, shape, like)
        places.setdefault(key, set()).add(out.data_ptr())
        return out

    monkeypatch.setattr(_bptt.Workspace, "empty", spied)
    per_point = 3 * 7 * path_buffer_elements(model, "class")
    chunked = path_input_gradient(model, x0, dx, budget=per_point, **args)  # four chunks of one point
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-6)
    assert len(places) >= 2 and all(len(p) == 1 for p in places.values()), places  # both layers, their tapes

"""The cell protocol: fused fast path == step reference == vectorised internals, for every layer kind."""
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnscope import models, schema
from rnnscope.models import CELL_KINDS, lazy_lstm_recurrence, lstm_cell_scan, make_layer, set_native
from rnnscope.models import _equations as eq
from rnnscope.models._trace import TraceOutputs

ATOL = 1e-5


def _state(layer, batch, random, seed=1):
    if not random:
        return None
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(batch, layer.hidden_size, generator=g) for _ in layer.state_names)


def step_loop(layer, x, state=None, keep=None, manual_keep=None):
    """Reference: ``layer.step`` frame by frame. ``manual_keep`` zeroes masked units' h after every step by hand."""
    if state is None:
        state = layer.initial_state(x.shape[0])
    if manual_keep is not None:
        state = (state[0] * manual_keep,) + tuple(state[1:])
    hs, inside = [], {}
    for t in range(x.shape[1]):
        h, state, internals = layer.step(x[:, t], state, keep=keep)
        if manual_keep is not None:
            h = h * manual_keep
            state = (h,) + tuple(state[1:])
            internals["h"] = h
        hs.append(h)
        for name, value in internals.items():
            inside.setdefault(name, []).append(value)
    return torch.stack(hs, 1), state, {k: torch.stack(v, 1) for k, v in inside.items()}


def _close(a, b, atol=ATOL):
    return torch.allclose(a, b, atol=atol, rtol=0)


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_layer_describes_itself_with_the_schema_names(kind):
    layer = make_layer(kind, input_size=3, hidden_size=4)
    assert layer.kind == kind and layer.input_size == 3 and layer.hidden_size == 4
    assert layer.variables == schema.STATE_VARIABLES[kind]
    state = layer.initial_state(2)
    assert isinstance(state, tuple) and len(state) == len(layer.state_names)
    assert all(s.shape == (2, 4) and not s.any() for s in state)
    assert layer.state_names == (("h", "c") if "lstm" in kind else ("h",))
    assert layer.has_native_kernel == (kind != "rnn")
    # every layer keeps PyTorch's parameter names and layout
    names = {n for n, _ in layer.named_parameters()}
    assert names == {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"}
    gates = {"rnn": 1, "lstm": 4, "gru": 3, "lazy_lstm": 4}[kind]
    assert layer.weight_ih.shape == (gates * 4, 3) and layer.weight_hh.shape == (gates * 4, 4)


@pytest.mark.parametrize("kind", CELL_KINDS)
@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("random_state", [False, True])
def test_fused_forward_matches_step_loop_and_internals(kind, batch, random_state):
    torch.manual_seed(0)
    layer = make_layer(kind, input_size=5, hidden_size=7)
    x = torch.randn(batch, 11, 5)
    state0 = _state(layer, batch, random_state)
    h, final = layer(x, state0)
    h_ref, final_ref, inside_ref = step_loop(layer, x, state0)
    assert h.shape == (batch, 11, 7)
    assert _close(h, h_ref)
    assert len(final) == len(final_ref)
    assert all(_close(a, b) for a, b in zip(final, final_ref, strict=True))
    inside_grad = layer.internals(x, h, state0)  # records a graph: out-of-place path
    assert inside_grad["h"].requires_grad
    with torch.no_grad():
        inside = layer.internals(x, h, state0)  # capture's path: buffers reused in place
    for got in (inside, inside_grad):
        assert list(got) == list(layer.variables)
        for name in layer.variables:
            assert got[name].shape == (batch, 11, 7)
            assert _close(got[name], inside_ref[name]), name
        assert _close(got["h"], h)
        if "c" in got:
            assert _close(got["c"][:, -1], final[1])


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_no_bias_and_float64(kind):
    torch.manual_seed(1)
    layer = make_layer(kind, input_size=2, hidden_size=3, bias=False).double()
    assert layer.bias_ih is None and layer.bias_hh is None
    x = torch.randn(2, 6, 2, dtype=torch.float64)
    h, _ = layer(x)
    assert h.dtype == torch.float64
    h_ref, _, inside_ref = step_loop(layer, x)
    assert torch.allclose(h, h_ref, atol=1e-12)
    inside = layer.internals(x, h)
    assert all(torch.allclose(inside[k], inside_ref[k], atol=1e-12) for k in layer.variables)


def test_gru_gate_convention_matches_grucell_formula():
    torch.manual_seed(2)
    layer = make_layer("gru", input_size=3, hidden_size=4)
    cell = torch.nn.GRUCell(3, 4)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(layer.rnn, f"{name}_l0"))
    x, h_prev = torch.randn(5, 3), torch.randn(5, 4)
    # PyTorch's GRU written out (weights stacked r, z, n):
    W_ir, W_iz, W_in = cell.weight_ih.chunk(3)
    W_hr, W_hz, W_hn = cell.weight_hh.chunk(3)
    b_ir, b_iz, b_in = cell.bias_ih.chunk(3)
    b_hr, b_hz, b_hn = cell.bias_hh.chunk(3)
    r = torch.sigmoid(x @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr)
    z = torch.sigmoid(x @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz)
    n = torch.tanh(x @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn))
    h = (1 - z) * n + z * h_prev
    with torch.no_grad():
        assert _close(cell(x, h_prev), h)
        h_step, _, inside = layer.step(x, (h_prev,))
    assert _close(h_step, h)
    assert _close(inside["update_gate"], z) and _close(inside["reset_gate"], r) and _close(inside["candidate"], n)


def test_lstm_gates_match_lstmcell():
    torch.manual_seed(3)
    layer = make_layer("lstm", input_size=3, hidden_size=4)
    cell = torch.nn.LSTMCell(3, 4)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(layer.rnn, f"{name}_l0"))
        x, h0, c0 = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
        h_ref, c_ref = cell(x, (h0, c0))
        h, (h2, c), inside = layer.step(x, (h0, c0))
    assert _close(h, h_ref) and _close(c, c_ref) and _close(inside["c"], c_ref)
    gates = x @ cell.weight_ih.T + cell.bias_ih + h0 @ cell.weight_hh.T + cell.bias_hh
    i, f, g, o = gates.chunk(4, 1)
    assert _close(inside["input_gate"], torch.sigmoid(i)) and _close(inside["forget_gate"], torch.sigmoid(f))
    assert _close(inside["cell_input"], torch.tanh(g)) and _close(inside["output_gate"], torch.sigmoid(o))


def test_lazy_lstm_step_matches_hand_computed_equations():
    # H = 2, one input, fixed weights; rows stacked (i, f, g, o) as nn.LSTM; the g rows of weight_hh read m_t.
    layer = make_layer("lazy_lstm", input_size=1, hidden_size=2)
    W = torch.tensor([[0.5], [-0.3], [1.0], [0.2], [-0.7], [0.4], [0.8], [-0.6]])
    U = torch.tensor(
        [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6], [0.7, -0.8], [0.9, 0.1], [-0.2, 0.3], [0.25, -0.35], [0.45, 0.55]]
    )
    b_ih = torch.tensor([0.1, 0.0, -0.1, 0.2, 0.05, -0.05, 0.0, 0.3])
    b_hh = torch.tensor([0.0, 0.1, 0.1, -0.2, 0.0, 0.02, 0.1, 0.0])
    with torch.no_grad():
        layer.rnn.weight_ih_l0.copy_(W)
        layer.rnn.weight_hh_l0.copy_(U)
        layer.rnn.bias_ih_l0.copy_(b_ih)
        layer.rnn.bias_hh_l0.copy_(b_hh)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    Wl, Ul, b = W[:, 0].tolist(), U.tolist(), (b_ih + b_hh).tolist()
    x_seq = [0.7, -1.2, 0.3]
    m, c = [0.2, -0.4], [0.5, -1.5]
    expected = []
    for x in x_seq:
        pre = lambda row, vec, x=x: Wl[row] * x + Ul[row][0] * vec[0] + Ul[row][1] * vec[1] + b[row]  # noqa: E731
        i = [sig(pre(0 + u, m)) for u in range(2)]
        f = [sig(pre(2 + u, m)) for u in range(2)]
        o = [sig(pre(6 + u, m)) for u in range(2)]
        m = [o[u] * math.tanh(c[u]) for u in range(2)]  # output first, from the old cell
        g = [math.tanh(pre(4 + u, m)) for u in range(2)]  # candidate reads the new m_t
        c = [f[u] * c[u] + i[u] * g[u] for u in range(2)]  # cell last
        expected.append(dict(h=m, c=c, input_gate=i, forget_gate=f, output_gate=o, cell_input=g))
    state = (torch.tensor([[0.2, -0.4]]), torch.tensor([[0.5, -1.5]]))
    xs = torch.tensor(x_seq).reshape(1, 3, 1)
    with torch.no_grad():
        h_fused, _ = layer(xs, state)
        s = state
        for t, exp in enumerate(expected):
            _, s, inside = layer.step(xs[:, t], s)
            for name, values in exp.items():
                assert torch.allclose(inside[name][0], torch.tensor(values), atol=1e-6), (t, name)
            assert torch.allclose(h_fused[0, t], torch.tensor(exp["h"]), atol=1e-6)


def test_no_torchscript_left():
    # the step loops are the native kernels or the fused forward + vectorised recovery: nothing is scripted
    for name in ("set_torchscript", "lstm_trace", "gru_trace", "lazy_lstm_trace"):
        assert not hasattr(models, name)
    package = Path(models.__file__).parent
    assert not [p.name for p in package.glob("*.py") if "torch.jit" in p.read_text()]


def test_pointwise_equations_agree_in_place_and_out_of_place_and_with_the_formulas():
    g = torch.Generator().manual_seed(9)
    pre, h_pre, h_prev = (torch.randn(2, 5, 12, generator=g) * 3 for _ in range(3))

    def close(a, b):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)

    for got, ref in zip(eq.lstm_gates(pre.clone(), inplace=True), eq.lstm_gates(pre), strict=True):
        close(got, ref)
    r, z, n = eq.gru_gates(pre.clone(), h_pre, inplace=True)
    for got, ref in zip((r, z, n), eq.gru_gates(pre, h_pre), strict=True):
        close(got, ref)
    hp = h_prev[..., :4]
    close(r, torch.sigmoid(pre[..., :4] + h_pre[..., :4]))
    close(n, torch.tanh(pre[..., 8:] + r * h_pre[..., 8:]))
    assert torch.equal(eq.gru_output(z, n, hp, inplace=True), eq.gru_output(z, n, hp))  # same ops, same bits
    close(eq.gru_output(z, n, hp), (1 - z) * n + z * hp)
    close(eq.rnn_output(pre.clone(), inplace=True), torch.tanh(pre))
    i, f, gg, o = eq.lstm_gates(pre)
    close(i, torch.sigmoid(pre[..., :3]))
    close(gg, torch.tanh(pre[..., 6:9]))
    c = eq.lstm_cell(f, h_prev[..., :3], i * gg)
    close(c, f * h_prev[..., :3] + i * gg)
    close(eq.lstm_output(o, c), o * torch.tanh(c))


def test_scan_helpers():
    f = torch.tensor([[[0.5], [0.5], [0.0]]])
    u = torch.tensor([[[1.0], [1.0], [2.0]]])
    assert lstm_cell_scan(f, u, torch.tensor([[4.0]])).flatten().tolist() == [3.0, 2.5, 2.0]
    # lazy recurrence with zero weights: gates 0.5, m_t = 0.5 tanh(c_{t-1}), c_t = 0.5 c + 0.5 tanh(0)
    T, B, H = 3, 1, 1
    m, c = lazy_lstm_recurrence(
        torch.zeros(T, B, 3 * H), torch.zeros(T, B, H), torch.zeros(H, 3 * H), torch.zeros(H, H),
        torch.zeros(B, H), torch.ones(B, H),
    )
    assert torch.allclose(m.flatten(), torch.tensor([0.5 * math.tanh(1), 0.5 * math.tanh(0.5), 0.5 * math.tanh(0.25)]))
    assert torch.allclose(c, torch.tensor([[0.125]]))


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_internals_are_differentiable(kind):
    torch.manual_seed(8)
    layer = make_layer(kind, input_size=2, hidden_size=3).double()
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(2, 3, dtype=torch.float64, requires_grad=True) for _ in layer.state_names)

    def all_internals(x, h, *state):
        return tuple(layer.internals(x, h, state).values())

    assert torch.autograd.gradcheck(all_internals, (x, h, *state))


def test_lazy_lstm_gradients_are_correct():
    torch.manual_seed(5)
    layer = make_layer("lazy_lstm", input_size=2, hidden_size=3).double()
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(2, 3, dtype=torch.float64, requires_grad=True) for _ in range(2))
    assert torch.autograd.gradcheck(lambda x, m, c: layer(x, (m, c))[0], (x, *state))


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_unit_mask_matches_step_loop_that_zeroes_masked_units(kind):
    torch.manual_seed(6)
    layer = make_layer(kind, input_size=4, hidden_size=6)
    keep = torch.tensor([True, False, True, True, False, True])
    x = torch.randn(3, 10, 4)
    state0 = _state(layer, 3, True)
    h, final = layer(x, state0, keep=keep)
    if kind == "lazy_lstm":
        # the candidate reads m_t within the same step: masking must happen inside the step (keep=)
        h_ref, final_ref, inside_ref = step_loop(layer, x, state0, keep=keep)
        # ... and that step is the hand-written masked equations
        m, c = state0[0] * keep, state0[1]
        H = 6
        W, U, b = layer.weight_ih, layer.weight_hh, layer.bias_ih + layer.bias_hh
        for t in range(10):
            pre = x[:, t] @ W.T + b
            i = torch.sigmoid(pre[:, :H] + m @ U[:H].T)
            f = torch.sigmoid(pre[:, H:2 * H] + m @ U[H:2 * H].T)
            o = torch.sigmoid(pre[:, 3 * H:] + m @ U[3 * H:].T)
            m = o * torch.tanh(c) * keep
            c = f * c + i * torch.tanh(pre[:, 2 * H:3 * H] + m @ U[2 * H:3 * H].T)
            assert _close(h_ref[:, t], m)
    else:
        # plain unmasked step; the loop sets h[masked] = 0 after each step
        h_ref, final_ref, inside_ref = step_loop(layer, x, state0, manual_keep=keep.float())
    assert _close(h, h_ref)
    assert not h[..., ~keep].any()
    assert all(_close(a, b) for a, b in zip(final, final_ref, strict=True))
    inside = layer.internals(x, h, state0, keep=keep)
    for name in layer.variables:
        assert _close(inside[name], inside_ref[name]), name
    # the masked copy does the same on every call, and keeps the weights untouched
    masked = layer.masked(keep)
    assert torch.equal(masked.weight_hh, layer.weight_hh)
    h2, _ = masked(x, state0)
    assert _close(h2, h)
    assert masked.keep_mask().tolist() == keep.tolist()
    # masked units feed nothing: changing their input rows changes no kept unit
    perturbed = masked.masked(torch.ones(6, dtype=torch.bool))
    H = 6
    gates = layer.weight_ih.shape[0] // H
    rows = torch.cat([torch.nonzero(~keep).flatten() + g * H for g in range(gates)])
    with torch.no_grad():
        perturbed.rnn.weight_ih_l0[rows] += 3.0
        perturbed.rnn.weight_hh_l0[rows] -= 2.0
        perturbed.rnn.bias_ih_l0[rows] += 1.0
    h3, _ = perturbed(x, state0)
    assert torch.allclose(h3, h, atol=1e-6, rtol=0)


def test_mask_and_state_validation_errors():
    layer = make_layer("lstm", input_size=3, hidden_size=4)
    with pytest.raises(ValueError, match=r"The 'keep' parameter of LSTMLayer.forward must be a boolean mask"):
        layer(torch.randn(1, 2, 3), keep=[0, 1])
    with pytest.raises(ValueError, match=r"The 'x' parameter of LSTMLayer.forward must have shape \(batch, time, 3\)"):
        layer(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"The 'state' parameter of LSTMLayer.forward must be a tuple of 2"):
        layer(torch.randn(1, 2, 3), torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"'h' of shape \(1, 4\)"):
        layer(torch.randn(1, 2, 3), (torch.zeros(2, 4), torch.zeros(2, 4)))
    with pytest.raises(ValueError, match=r"The 'h_seq' parameter of LSTMLayer.internals must have shape \(1, 2, 4\)"):
        layer.internals(torch.randn(1, 2, 3), torch.randn(1, 3, 4))
    with pytest.raises(ValueError, match="must be one of"):
        make_layer("transformer", input_size=3, hidden_size=4)
    # numpy masks and inputs are accepted
    h, _ = layer(np.zeros((1, 2, 3), np.float32), keep=np.array([True, True, False, True]))
    assert h.shape == (1, 2, 4)


def test_repeated_training_steps_after_inference_calls():
    # inference calls reuse buffers in place; calls recording gradients must keep working after them
    torch.manual_seed(7)
    layer = make_layer("lazy_lstm", input_size=3, hidden_size=4)
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        for _ in range(3):
            layer(x)
            layer.internals(x, layer(x)[0])
    for _ in range(3):
        state = tuple(torch.zeros(2, 4, requires_grad=True) for _ in range(2))
        h, _ = layer(x, state)
        h.sum().backward()
        assert layer.weight_hh.grad is not None and state[0].grad is not None
        layer.zero_grad()


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru", "lazy_lstm"])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("grad", [False, True])
def test_trace_returns_every_variable_equal_to_the_step_loop(kind, masked, grad):
    from rnnscope.models import make_layer

    torch.manual_seed(3)
    layer = make_layer(kind, input_size=5, hidden_size=7)
    x = torch.randn(3, 11, 5)
    state = tuple(torch.randn(3, 7) for _ in layer.state_names)
    keep = torch.tensor([1, 0, 1, 1, 0, 1, 1], dtype=torch.bool) if masked else None
    with torch.set_grad_enabled(grad):  # no grad: compiled step loop; grad: fused forward + internals
        out, final = layer.trace(x, state, keep=keep)
    assert list(out) == list(layer.variables)
    reference, s = {v: [] for v in layer.variables}, state
    with torch.no_grad():
        for t in range(11):
            _, s, inter = layer.step(x[:, t], s, keep=keep)
            for v in layer.variables:
                reference[v].append(inter[v])
        for v in layer.variables:
            torch.testing.assert_close(out[v].detach(), torch.stack(reference[v], 1), atol=1e-6, rtol=1e-5)
        for a, b in zip(final, s, strict=True):
            torch.testing.assert_close(a.detach(), b, atol=1e-6, rtol=1e-5)


def _strided_outputs(names, batch, n_time, hidden, order):
    """Destinations in an unusual layout: time-major ``(time, batch, hidden)`` or unit-major ``(batch, hidden,
    time)``, written into a bigger array at an offset, with a NaN sentinel everywhere else."""
    base = 7
    arrays = {name: torch.full((base + batch * n_time * hidden + 5,), float("nan")) for name in names}
    rows = torch.arange(batch, dtype=torch.int64)
    if order == "time_major":
        offsets, time_stride, unit_stride = base + rows * hidden, batch * hidden, 1
    else:
        offsets, time_stride, unit_stride = base + rows * hidden * n_time, 1, n_time
    n_valid = torch.tensor([n_time] + [n_time - 3] * (batch - 1), dtype=torch.int64)
    return TraceOutputs(arrays, offsets, time_stride, unit_stride, n_valid), base


def _read(out, name, base, batch, n_time, hidden, order):
    flat = out.arrays[name][base: base + batch * n_time * hidden]
    if order == "time_major":
        return flat.view(n_time, batch, hidden).transpose(0, 1)
    return flat.view(batch, hidden, n_time).transpose(1, 2)


@pytest.mark.parametrize("kind", CELL_KINDS)
@pytest.mark.parametrize("order", ["time_major", "unit_major"])
@pytest.mark.parametrize("native", [True, False])
def test_trace_to_writes_any_strided_layout_like_trace(kind, order, native):
    torch.manual_seed(11)
    layer = make_layer(kind, input_size=4, hidden_size=5)
    batch, n_time = 3, 9
    x = torch.randn(batch, n_time, 4)
    state = tuple(torch.randn(batch, 5) for _ in layer.state_names)
    keep = torch.tensor([True, False, True, True, True])
    names = layer.variables[1:] + ("h",) if len(layer.variables) > 1 else ("h",)
    out, base = _strided_outputs(names, batch, n_time, 5, order)
    previous = set_native(native)
    try:
        with torch.no_grad():
            h_seq, final, ranges = layer.trace_to(x, state, keep, out)
            expected, expected_final = layer.trace(x, state, keep=keep)
    finally:
        set_native(previous)
    torch.testing.assert_close(h_seq, expected["h"], atol=1e-6, rtol=0)
    for a, b in zip(final, expected_final, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    for name in names:
        got = _read(out, name, base, batch, n_time, 5, order)
        torch.testing.assert_close(got, expected[name], atol=1e-6, rtol=0)
        valid = torch.cat([expected[name][0].flatten()] + [expected[name][r, : n_time - 3].flatten()
                                                            for r in range(1, batch)])
        assert ranges[name] == pytest.approx((float(valid.min()), float(valid.max())), abs=1e-6)
    for array in out.arrays.values():  # nothing outside the destinations was touched
        assert torch.isnan(array[:base]).all() and torch.isnan(array[base + batch * n_time * 5:]).all()


def test_trace_to_refuses_destinations_it_cannot_fill():
    layer = make_layer("gru", input_size=3, hidden_size=4)
    x = torch.randn(2, 5, 3)
    ok = dict(row_offsets=torch.tensor([0, 20]), time_stride=4, unit_stride=1, n_valid=torch.tensor([5, 5]))
    with pytest.raises(ValueError, match=r"may only hold the layer's variables .*Got \['c'\] too"):
        layer.trace_to(x, None, None, TraceOutputs({"c": torch.empty(40)}, **ok))
    with pytest.raises(ValueError, match=r"'out.arrays\['h'\]' parameter of GRULayer.trace_to is too small: 39 "
                                         r"elements, but the row offsets \(0 to 20\) and strides reach element 39"):
        layer.trace_to(x, None, None, TraceOutputs({"h": torch.empty(39)}, **ok))
    with pytest.raises(ValueError, match=r"must be a contiguous float32 CPU tensor. Got a torch.float64"):
        layer.trace_to(x, None, None, TraceOutputs({"h": torch.empty(40, dtype=torch.float64)}, **ok))
    with pytest.raises(ValueError, match=r"'out.row_offsets' parameter of GRULayer.trace_to must be an int64 tensor "
                                         r"of shape \(2,\)"):
        layer.trace_to(x, None, None, TraceOutputs({"h": torch.empty(40)}, **{**ok, "row_offsets": torch.tensor([0])}))
    with pytest.raises(TypeError, match="must be a rnnscope.models._trace.TraceOutputs. Got dict instead"):
        layer.trace_to(x, None, None, {"h": torch.empty(40)})

"""The LSTM tape's native fused steps (rnnscope_native::lstm_tape_forward / lstm_tape_backward, used by
rnnscope.models._bptt for the input gradient of integrated gradients): equal to the PyTorch ops they replace for
every instruction set, with NaN and infinities in every lane and the tail, masks, the point projection and the step
sums; the same bits for any thread count, the work shared by the threads; arguments checked; and the whole input
gradient equal with and without them."""
from __future__ import annotations

import pytest
import torch

from rnnscope.models import RNNClassifier, _native, native_status, set_native
from rnnscope.models._bptt import PointFill, StepSum, make_tape
from rnnscope.models._input_gradient import path_input_gradient

ops = _native.kernels()
pytestmark = pytest.mark.skipif(ops is None, reason=f"native kernels unavailable: {native_status()['error']}")
#: The instruction sets this CPU runs (avx512, avx2, generic): each is tested.
ISAS = list(ops.isas()) if ops is not None else []
SPECIALS = (float("nan"), float("inf"), -float("inf"))


@pytest.fixture
def restore_threads():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


def _tape(hidden):
    layer = RNNClassifier("lstm", input_size=3, hidden_size=hidden, num_classes=2).layers[0]
    return make_tape(layer, torch.float32)


def _poison(t, seed, columns):
    """``t`` with NaN, +inf and -inf at every column of ``columns`` (each in some row, the three in turn) and at
    a few random places more."""
    g = torch.Generator().manual_seed(seed)
    rows = t.shape[0]
    for k, col in enumerate(columns):
        t[(k + seed) % rows, col] = SPECIALS[(k + seed) % 3]
    n = max(1, t.numel() // 50)
    at = torch.randint(0, t.numel(), (n,), generator=g)
    t.view(-1)[at] = torch.tensor(SPECIALS)[torch.randint(0, 3, (n,), generator=g)]
    return t


def _lane_columns(width):
    """Every lane position 0..31 of a row and its tail (``width`` not a multiple of 16), for each block of H."""
    return sorted({c for c in list(range(min(32, width))) + list(range(max(0, width - 20), width))})


def _case(hidden, records, points, seed, specials=True):
    g = torch.Generator().manual_seed(seed)
    N, G = records * points, 4 * hidden

    def rand(*shape):
        return torch.randn(*shape, generator=g)
    t = dict(a=rand(N, G), c_prev=rand(N, hidden), p0=rand(records, G), p1=rand(records, G),
             alphas=torch.rand(points, generator=g), dh=rand(N, hidden), dc=rand(N, hidden),
             weights=torch.rand(points, generator=g), acc=rand(records, G),
             keep=(torch.rand(hidden, generator=g) < 0.7).float())
    if specials:
        for k, name in enumerate(("a", "c_prev", "p0", "p1", "dh", "dc")):
            cols = _lane_columns(t[name].shape[1])
            if name in ("a", "p0", "p1"):  # every lane of each gate block
                cols = [b * hidden + c for b in range(4) for c in _lane_columns(hidden)]
            _poison(t[name], seed + k, cols)
    return t


def _same(ours, theirs, what):
    """NaN where PyTorch has NaN, the same infinities, finite values to float32 rounding (about 1e-6 of the
    largest)."""
    assert torch.equal(torch.isnan(ours), torch.isnan(theirs)), what
    assert torch.equal(torch.isposinf(ours), torch.isposinf(theirs)), what
    assert torch.equal(torch.isneginf(ours), torch.isneginf(theirs)), what
    finite = torch.isfinite(theirs)
    scale = max(1.0, float(theirs[finite].abs().max())) if bool(finite.any()) else 1.0
    torch.testing.assert_close(ours[finite], theirs[finite], rtol=1e-5, atol=2e-6 * scale, msg=what)


def _forward_by_ops(tape, t, projection, keep):
    """The forward step by the tape's PyTorch ops (the recurrent product of a zero h: a + 0)."""
    N, H = t["c_prev"].shape
    a = t["a"].clone()
    if projection:
        point = torch.empty_like(a)
        PointFill(t["p0"][None], t["p1"][None], t["alphas"])(0, point)
        a = a + point
    c, h = torch.empty(N, H), torch.empty(N, H)
    tape._step_ops(None, 0, a[None], torch.zeros(N, H), t["c_prev"], c, h, torch.empty(N, H), keep, None)
    return a, c, h


def _forward_native(t, projection, keep):
    N, H = t["c_prev"].shape
    a, c, h = t["a"].clone(), torch.empty(N, H), torch.empty(N, H)
    extra = (t["p0"], t["p1"], t["alphas"]) if projection else (None, None, None)
    ops.lstm_tape_forward(a, t["c_prev"], c, h, *extra, keep)
    return a, c, h


def _backward_by_ops(tape, t, a, c, summed, keep):
    N, H = c.shape
    a, dh, dc = a.clone(), t["dh"].clone(), t["dc"].clone()
    scratch = (*torch.empty(3, N, H).unbind(0), torch.empty(N, 4 * H))  # as the tape's _scratch
    tape._back_ops(a, c, t["c_prev"], dh, dc, keep, (), scratch)
    acc = t["acc"].clone()
    if summed:
        StepSum(acc[None], t["weights"])(0, a)
    return a, dc, acc


def _backward_native(t, a, c, summed, keep):
    a, dc, acc = a.clone(), t["dc"].clone(), t["acc"].clone()
    ops.lstm_tape_backward(a, c, t["c_prev"], t["dh"], dc, keep, acc if summed else None,
                           t["weights"] if summed else None)
    return a, dc, acc


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("hidden", [13, 210])
@pytest.mark.parametrize("masked", [False, True], ids=["all units", "masked"])
@pytest.mark.parametrize("projection", [False, True], ids=["projected", "point projection"])
@pytest.mark.parametrize("threads", [1, 2])
def test_the_native_steps_equal_the_pytorch_ops_with_nan_and_infinities_in_every_lane(
        isa, hidden, masked, projection, threads, restore_threads):
    """Forward and backward, NaN, +inf and -inf in every input at every lane 0..31 of a row and in the tail of each
    gate block (13 and 210 units: no whole vectors), with and without the unit mask, the point projection and the
    step sums, 1 and 2 threads: the same NaN and infinities as the PyTorch ops, finite values to ~1e-6."""
    torch.set_num_threads(threads)
    tape = _tape(hidden)
    records, points = (8, 6) if hidden > 16 else (16, 40)  # enough rows for two threads
    t = _case(hidden, records=records, points=points, seed=hidden + 7 * masked + 3 * projection)
    keep = t["keep"] if masked else None
    with _native.using_isa(isa):
        ours = _forward_native(t, projection, keep)
        theirs = _forward_by_ops(tape, t, projection, keep)
        for name, x, y in zip(("gates", "c", "h"), ours, theirs, strict=True):
            _same(x, y, (isa, name))
        assert bool(torch.isnan(theirs[0]).any()) and bool(torch.isinf(t["a"]).any())  # the specials took part
        a, c = theirs[0], theirs[1]
        for summed in (False, True):
            ours = _backward_native(t, a, c, summed, keep)
            theirs = _backward_by_ops(tape, t, a, c, summed, keep)
            for name, x, y in zip(("gate gradients", "dc", "acc"), ours, theirs, strict=True):
                _same(x, y, (isa, name, summed))
    assert ops.last_threads() == threads


@pytest.mark.parametrize("isa", ISAS)
def test_the_native_steps_equal_the_pytorch_ops_on_finite_values_to_1e6(isa):
    """Without specials, relative to the largest value: forward to 1e-6, backward and step sums to 1e-6."""
    tape = _tape(210)
    t = _case(210, records=6, points=4, seed=3, specials=False)
    with _native.using_isa(isa):
        fwd = _forward_native(t, True, t["keep"]), _forward_by_ops(tape, t, True, t["keep"])
        bwd = (_backward_native(t, fwd[1][0], fwd[1][1], True, t["keep"]),
               _backward_by_ops(tape, t, fwd[1][0], fwd[1][1], True, t["keep"]))
    for ours, theirs in (fwd, bwd):
        for x, y in zip(ours, theirs, strict=True):
            assert float((x - y).abs().max()) <= 1e-6 * float(y.abs().max())


@pytest.mark.parametrize(("records", "points"), [(16, 4), (1, 64)], ids=["records", "units"])
def test_the_native_steps_split_the_work_over_the_threads(records, points, restore_threads):
    """With 2 threads two distinct threads run each step (the rows, or the records of the step sums; one record:
    the units), with 1 thread one; the same bits either way."""
    t = _case(210, records=records, points=points, seed=11)
    results, seen = {}, {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        a, c, h = _forward_native(t, True, t["keep"])
        seen[threads, "forward"] = int(ops.last_threads())
        back = _backward_native(t, a, c, True, t["keep"])
        seen[threads, "backward"] = int(ops.last_threads())
        results[threads] = (a, c, h, *back)
    assert seen == {(1, "forward"): 1, (1, "backward"): 1, (2, "forward"): 2, (2, "backward"): 2}
    for x, y in zip(results[1], results[2], strict=True):
        assert torch.equal(x.nan_to_num(7.0), y.nan_to_num(7.0)) and torch.equal(x.isnan(), y.isnan())


def test_a_small_step_runs_on_one_thread(restore_threads):
    torch.set_num_threads(2)
    t = _case(13, records=2, points=2, seed=1, specials=False)
    _forward_native(t, False, None)
    assert ops.last_threads() == 1


def _args(**changes):
    t = _case(5, records=2, points=3, seed=0, specials=False)
    fwd = dict(a=t["a"], c_prev=t["c_prev"], c=torch.empty(6, 5), h=torch.empty(6, 5), p0=t["p0"], p1=t["p1"],
               alphas=t["alphas"], keep=None)
    return {**fwd, **changes}


@pytest.mark.parametrize("changes, message", [
    (dict(a=torch.zeros(6, 19)), r"The 'a' argument of rnnscope_native::lstm_tape_forward must be a contiguous "
                                 r"float32 CPU tensor of shape \(rows, 4 \* hidden\) = \[6, 20\]. Got a tensor of "
                                 r"dtype float32, shape \[6, 19\] on cpu instead"),
    (dict(c=torch.zeros(6, 5, dtype=torch.float64)), r"The 'c' argument .* Got a tensor of dtype float64"),
    (dict(h=torch.zeros(5, 6).t()), r"The 'h' argument .*\(not contiguous\)"),
    (dict(alphas=None), r"The 'p0', 'p1' and 'alphas' arguments of rnnscope_native::lstm_tape_forward go together .* "
                        r"Got p0, p1 and no alphas instead"),
    (dict(alphas=torch.rand(4)), r"The 'alphas' argument .* must hold one value per path point, the rows being "
                                 r"points x records .* Got 4 values for 6 rows instead"),
    (dict(p0=torch.zeros(3, 20)), r"The 'p0' argument .* \(records, 4 \* hidden\) = \[2, 20\]"),
    (dict(keep=torch.ones(4)), r"The 'keep' argument .* \(hidden,\) = \[5\]"),
])
def test_the_forward_step_checks_its_arguments(changes, message):
    with pytest.raises(RuntimeError, match=message):
        ops.lstm_tape_forward(*_args(**changes).values())


def test_the_steps_refuse_buffers_that_share_memory():
    args = _args()
    args["h"] = args["c"]
    with pytest.raises(RuntimeError, match=r"The 'c' argument of rnnscope_native::lstm_tape_forward shares memory "
                                           r"with 'h': give each its own buffer"):
        ops.lstm_tape_forward(*args.values())
    t = _case(5, records=2, points=3, seed=0, specials=False)
    with pytest.raises(RuntimeError, match=r"The 'dc' argument of rnnscope_native::lstm_tape_backward shares memory "
                                           r"with 'dh'"):
        ops.lstm_tape_backward(t["a"], t["c_prev"], t["c_prev"].clone(), t["dc"], t["dc"], None, None, None)
    with pytest.raises(RuntimeError, match=r"The 'acc' and 'weights' arguments of rnnscope_native::lstm_tape_backward "
                                           r"go together .* Got acc alone instead"):
        ops.lstm_tape_backward(t["a"], t["c_prev"], t["c_prev"].clone(), t["dh"], t["dc"], None, t["acc"], None)
    with pytest.raises(RuntimeError, match=r"The 'acc' argument .* \(records, 4 \* hidden\) = \[2, 20\]"):
        ops.lstm_tape_backward(t["a"], t["c_prev"], t["c_prev"].clone(), t["dh"], t["dc"], None, t["acc"][:1],
                               t["weights"])


@pytest.mark.parametrize("op, written", [("lstm_tape_forward", {"a", "c", "h"}),
                                         ("lstm_tape_backward", {"a", "dc", "acc"})])
def test_the_step_schemas_mark_every_written_tensor_as_mutated(op, written):
    schema = getattr(ops, op).default._schema
    assert {a.name for a in schema.arguments if a.alias_info is not None and a.alias_info.is_write} == written


# ------------------------------------------------------------------------------ the whole input gradient


def _lstm_model(num_layers, masked, residual=False):
    torch.manual_seed(num_layers + 2 * masked)
    size = 13 if residual else 5
    model = RNNClassifier("lstm", input_size=size, hidden_size=13, num_classes=3, num_layers=num_layers,
                          residual=residual)
    if masked:
        model = model.masked([torch.arange(13) % 4 != 1] + [None] * (num_layers - 1))
    with torch.no_grad():
        model.feature_mean.normal_()
        model.feature_std.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(("num_layers", "masked", "residual"), [(1, False, False), (2, True, False), (2, False, True)])
def test_the_input_gradient_with_native_steps_equals_the_one_by_pytorch_ops(isa, num_layers, masked, residual):
    """path_input_gradient with the native LSTM steps equals the same computation on PyTorch ops (float32), for
    targets on h, c, a gate (whose frame runs the ops) and the class outputs, in chunks of points, with NaN in the
    input before a target; the native steps ran."""
    model = _lstm_model(num_layers, masked, residual)
    g = torch.Generator().manual_seed(5)
    x0, dx = torch.randn(4, 11, model.input_size, generator=g), torch.randn(4, 11, model.input_size, generator=g)
    x0[1, 3, 2] = float("nan")
    pos = torch.tensor([10, 6, 0, 4])
    targets = [("unit", "h", num_layers - 1), ("unit", "c", 0), ("unit", "forget_gate", 0),
               ("unit", "cell_input", num_layers - 1), ("class", "logit", 0), ("class", "prob", 0)]
    for kind, var, layer in targets:
        kw = dict(pos=pos, index=torch.tensor([0, 2, 1, 1]) if kind == "class" else torch.tensor([0, 12, 5, 3]),
                  kind=kind, var=var, layer=layer, alphas=[0.1, 0.4, 0.7, 0.95], weights=[0.2, 0.3, 0.3, 0.2],
                  budget=4 * 11 * 2 * 200)  # chunks of points
        with _native.using_isa(isa), torch.no_grad():
            ours = path_input_gradient(model, x0, dx, **kw)
            previous = set_native(False)
            try:
                theirs = path_input_gradient(model, x0, dx, **kw)
            finally:
                set_native(previous)
        assert torch.equal(ours.isnan(), theirs.isnan()) and bool(ours[1, :7].isnan().all())
        scale = float(theirs.nan_to_num().abs().max())
        assert scale > 0
        assert float((ours - theirs).nan_to_num().abs().max()) <= 1e-5 * scale, (kind, var, layer)


def test_the_tape_takes_the_native_steps_only_for_float32_on_the_cpu():
    from rnnscope.models._bptt import native_steps

    assert native_steps(torch.zeros(2, 3, 8)) is ops
    assert native_steps(torch.zeros(2, 3, 8, dtype=torch.float64)) is None  # float64: the PyTorch ops
    assert native_steps(torch.zeros(2, 3, 8, requires_grad=True)) is None
    previous = set_native(False)
    try:
        assert native_steps(torch.zeros(2, 3, 8)) is None
    finally:
        set_native(previous)

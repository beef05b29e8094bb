"""The native (C++) capture kernels: same variables as the fallback (fused forward + vectorised recovery) and the
reference step, bit-identical results for any thread count, accurate nonlinearities, argument checks that raise
instead of crashing, and a fallback that says why (native_status) and warns once in capture."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnscope
from rnnscope.models import RNNClassifier, _native, native_status, set_native

ops = _native.kernels()
needs_native = pytest.mark.skipif(ops is None, reason=f"native kernels unavailable: {native_status()['error']}")
#: The instruction sets this CPU runs (avx512, avx2, generic): each kernel path is tested.
ISAS = list(ops.isas()) if ops is not None else []


@pytest.fixture
def native_off():
    previous = set_native(False)
    yield
    set_native(previous)


@pytest.fixture
def fresh_session(monkeypatch):
    """A session where nothing was built, tried or warned yet (restored afterwards)."""
    import rnnscope.capturing._capture as cap

    monkeypatch.setattr(_native, "_STATE", {**_native._STATE, "enabled": True, "disabled_by": None, "ops": None,
                                            "tried": False, "error": None, "used": None, "input": None})
    monkeypatch.setattr(cap, "_FALLBACK_WARNED", False)
    return cap


@pytest.fixture
def restore_threads():
    """torch.set_num_threads inside a test, the previous count restored afterwards."""
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def frames(make_frames):
    return make_frames(3, seed=4, record_duration_s=(20, 40))


def _step_reference(layer, x, state, keep):
    """Every variable from the layer's plain step function, frame by frame (the protocol's reference)."""
    kept = {name: [] for name in layer.variables}
    for t in range(x.shape[1]):
        h, state, inside = layer.step(x[:, t], state, keep=keep)
        inside = {**inside, "h": h}
        for name in kept:
            kept[name].append(inside[name])
    return {name: torch.stack(values, 1) for name, values in kept.items()}


@needs_native
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("cell", ["lstm", "gru", "lazy_lstm"])
@pytest.mark.parametrize("batch, hidden, masked", [(1, 8, False), (5, 13, True), (37, 24, False), (20, 9, True)])
def test_native_trace_equals_the_fallback_and_the_step_reference(isa, cell, batch, hidden, masked):
    torch.manual_seed(batch + hidden)
    layer = RNNClassifier(cell, input_size=6, hidden_size=hidden, num_classes=3).layers[0].eval()
    x = torch.randn(batch, 23, 6)
    state = tuple(torch.randn(batch, hidden) for _ in layer.state_names)
    keep = (torch.arange(hidden) % 3 != 1) if masked else None
    with torch.no_grad(), _native.using_isa(isa):
        assert _native.usable_kernels(x, layer.weight_ih) is not None
        native, native_final = layer.trace(x, state, keep=keep)
        assert native_status()["used"] is True and native_status()["reason"] is None
        assert native_status()["isa"] == isa
        previous = set_native(False)
        try:
            fallback, fallback_final = layer.trace(x, state, keep=keep)  # fused forward + vectorised internals
        finally:
            set_native(previous)
        reference = _step_reference(layer, x, state, keep)
    assert set(native) == set(layer.variables)
    for name in layer.variables:
        assert native[name].shape == (batch, 23, hidden)
        torch.testing.assert_close(native[name], fallback[name], atol=2e-6, rtol=0)
        torch.testing.assert_close(native[name], reference[name], atol=2e-6, rtol=0)
    for a, b in zip(native_final, fallback_final, strict=True):
        torch.testing.assert_close(a, b, atol=2e-6, rtol=0)
    if masked:
        assert torch.all(native["h"][..., ~keep] == 0)


@needs_native
@pytest.mark.parametrize("cell", ["lstm", "gru", "lazy_lstm"])
@pytest.mark.parametrize("batch", [1, 3, 40])
def test_the_kernels_split_the_work_over_the_threads(cell, batch, restore_threads):
    """With 2 threads two distinct threads run the kernel (blocks of records for 40 records; the units of every step
    for 1 and 3), with 1 thread one; the results are the same bits either way."""
    torch.manual_seed(0)
    # 37 units: 3 panels of 16, 5 of 8, 10 of 4
    layer = RNNClassifier(cell, input_size=6, hidden_size=37, num_classes=3).layers[0].eval()
    x = torch.randn(batch, 17, 6)
    seen, outs = {}, {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with torch.no_grad():
            outs[threads] = layer.trace(x)
        seen[threads] = native_status()["threads"]
    assert seen == {1: 1, 2: 2}
    (one, one_final), (two, two_final) = outs[1], outs[2]
    for name in one:
        assert torch.equal(one[name], two[name]), name
    assert all(torch.equal(a, b) for a, b in zip(one_final, two_final, strict=True))


@needs_native
@pytest.mark.parametrize("cell", ["lstm", "gru", "lazy_lstm"])
def test_the_instruction_sets_agree(cell):
    """AVX-512 and AVX2 make the same sums in the same order: the same bits; the portable code rounds apart."""
    torch.manual_seed(3)
    layer = RNNClassifier(cell, input_size=6, hidden_size=37, num_classes=3).layers[0].eval()
    x = torch.randn(13, 20, 6)
    outs = {}
    for isa in ISAS:
        with torch.no_grad(), _native.using_isa(isa):
            outs[isa] = layer.trace(x)[0]
    for name in layer.variables:
        if {"avx512", "avx2"} <= set(outs):
            assert torch.equal(outs["avx512"][name], outs["avx2"][name]), name
        torch.testing.assert_close(outs[ISAS[0]][name], outs["generic"][name], atol=1e-6, rtol=0)


# ------------------------------------------------------------- any shape, layout, alignment and thread count


def _at_offset(shape, offset):
    """A contiguous float32 tensor of ``shape`` starting ``offset`` floats into a fresh NaN-filled storage (its
    first element then sits at any 4-byte alignment: vector and streaming stores meet every case)."""
    size = int(np.prod(shape))
    return torch.full((size + offset,), float("nan"))[offset:].view(shape)


def _trace_case(cell, batch, n_time, n_in, hidden, masked, x_layout, dest, seed):
    """A layer, an input laid out as ``x_layout`` and a function giving fresh destinations of kind ``dest``
    (``"buffers"`` or ``"run"``: scattered rows of an (event, time, unit, layer) array at an odd float offset,
    valid lengths and group sums), all drawn from ``seed``."""
    from rnnscope.models._trace import TraceOutputs, buffer_outputs

    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    layer = RNNClassifier(cell, input_size=n_in, hidden_size=hidden, num_classes=3).layers[0].eval()
    values = torch.randn(batch, n_time, n_in)
    if x_layout == "time first":
        x = values.transpose(0, 1).contiguous().transpose(0, 1)
    elif x_layout == "sliced":
        x = torch.cat([torch.randn(batch, 1, n_in), values], 1)[:, 1:]
    elif x_layout == "odd offset":
        x = _at_offset((batch, n_time, n_in), int(rng.integers(1, 16))).copy_(values)
    else:
        x = values
    state = tuple(torch.randn(batch, hidden) for _ in layer.state_names)
    keep = torch.from_numpy(rng.random(hidden) < 0.7) if masked else None
    names = list(layer.variables)
    layers, spare_rows, spare_frames = (int(v) for v in rng.integers(1, 4, 3))
    offset, t0, level = int(rng.integers(0, 16)), int(rng.integers(0, spare_frames + 1)), int(rng.integers(0, layers))
    rows = torch.from_numpy(rng.permutation(batch + spare_rows)[:batch])
    n_valid = torch.from_numpy(rng.integers(0, n_time + 1, batch))
    groups = torch.from_numpy(rng.integers(-1, 3, (batch, n_time, 2)).astype(np.int32))
    groups[..., 1] = torch.where(groups[..., 1] >= 0, 3 + torch.arange(batch, dtype=torch.int32)[:, None], -1)
    which = rng.integers(0, len(names))  # the layer's variables kept in a run: one of them, or all

    def outputs():
        if dest == "buffers":
            return buffer_outputs(names, batch, n_time, hidden)
        total = n_time + spare_frames
        kept = names if which == 0 else [names[which]]
        arrays = {name: _at_offset((batch + spare_rows, total, hidden, layers), offset) for name in kept}
        offsets = ((rows * total + t0) * hidden * layers + level).long()
        return TraceOutputs(arrays, offsets, hidden * layers, layers, n_valid, groups, torch.zeros(3 + batch, hidden))

    return layer, x, state, keep, outputs


def _compare_with_the_fallback(layer, x, state, keep, outputs, isa, threads):
    """trace_to with the kernels (instruction set ``isa``, ``threads`` threads) and with the fallback: every written
    element, h_seq, the final state, the value ranges and the group sums agree as in the tests above."""
    native_out, fallback_out = outputs(), outputs()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad(), _native.using_isa(isa):
            native = layer.trace_to(x, state, keep, native_out)
            assert native_status()["used"] is True
            previous = set_native(False)
            try:
                fallback = layer.trace_to(x, state, keep, fallback_out)
            finally:
                set_native(previous)
    finally:
        torch.set_num_threads(previous_threads)
    (h, final, ranges), (h_ref, final_ref, ranges_ref) = native, fallback
    torch.testing.assert_close(h, h_ref, atol=2e-6, rtol=0)
    for a, b in zip(final, final_ref, strict=True):
        torch.testing.assert_close(a, b, atol=2e-6, rtol=0)
    for name, array in native_out.arrays.items():  # the NaN fill is left where nothing is written, on both paths
        torch.testing.assert_close(array, fallback_out.arrays[name], atol=2e-6, rtol=0, equal_nan=True)
    if native_out.group_sums is not None:
        torch.testing.assert_close(native_out.group_sums, fallback_out.group_sums, atol=2e-6, rtol=1e-6)
    assert ranges.keys() == ranges_ref.keys()
    for name, span in ranges.items():
        assert (span is None) == (ranges_ref[name] is None), name
        if span is not None:
            np.testing.assert_allclose(span, ranges_ref[name], atol=2e-6, rtol=0, err_msg=name)


@needs_native
@settings(max_examples=30, deadline=None)
@given(cell=st.sampled_from(["lstm", "gru", "lazy_lstm"]), batch=st.sampled_from([1, 2, 3, 5, 13, 40]),
       n_time=st.integers(1, 6), n_in=st.sampled_from([1, 2, 3, 17]),
       hidden=st.sampled_from([1, 3, 15, 16, 17, 33, 210]), masked=st.booleans(),
       x_layout=st.sampled_from(["contiguous", "time first", "sliced", "odd offset"]),
       dest=st.sampled_from(["buffers", "run"]), isa=st.sampled_from(ISAS or ["generic"]),
       threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**16))
def test_the_kernels_equal_the_fallback_for_any_shape_layout_alignment_and_thread_count(
        cell, batch, n_time, n_in, hidden, masked, x_layout, dest, isa, threads, seed):
    """Batches smaller than the threads, one frame, hidden sizes off the vector widths (1, 3, 15, 17, 33, 210), one
    input feature, non-contiguous inputs and inputs at odd float offsets, run arrays of several layers at odd
    float offsets with scattered rows, partial valid lengths and group sums: the kernels write exactly what the
    fallback writes, on every instruction set, with 1 and 2 threads."""
    case = _trace_case(cell, batch, n_time, n_in, hidden, masked, x_layout, dest, seed)
    _compare_with_the_fallback(*case, isa=isa, threads=threads)


_ALIGNMENT_SWEEP = """
import sys
sys.path.insert(0, {tests!r})
import torch
from test_native import ISAS, _compare_with_the_fallback, _trace_case
for isa in ISAS:
    for cell in ("lstm", "gru", "lazy_lstm"):
        for batch, threads in ((1, 1), (1, 2), (5, 2)):  # one thread; the units of each step shared; blocks of rows
            for hidden in (16, 33):
                # 16 frames of 33 units put the rows' frames at every float offset modulo 64 bytes; run arrays of
                # one layer (unit stride 1) go through the streaming stores, of two through plain ones
                case = _trace_case(cell, batch, 16, 3, hidden, False, "odd offset", "run", seed=hidden + batch)
                _compare_with_the_fallback(*case, isa=isa, threads=threads)
                case = _trace_case(cell, batch, 16, 3, hidden, True, "contiguous", "buffers", seed=hidden)
                _compare_with_the_fallback(*case, isa=isa, threads=threads)
print("swept", ISAS)
"""


@needs_native
@pytest.mark.slow  # a child process sweeping every alignment (CI runs it)
def test_the_kernels_store_at_every_alignment_without_crashing():
    """Regression: a build whose streaming stores (non-temporal, 64-byte aligned by the instruction) were not
    aligned to the destination first died of a general protection fault in the AVX-512 LSTM on the first record
    whose frames did not start on a 64-byte line (dmesg: ``general protection fault ... in rnnscope_native_*.so``).
    Every destination alignment, instruction set, cell and split, run in a child process so that a crash fails this
    test with its signal instead of ending the session."""
    child = subprocess.run([sys.executable, "-X", "faulthandler", "-c",
                            _ALIGNMENT_SWEEP.format(tests=os.path.dirname(__file__))],
                           capture_output=True, text=True, timeout=600)
    died = f" (signal {-child.returncode})" if child.returncode < 0 else ""
    trace = child.stderr.split("\nExtension modules:")[0]  # faulthandler's stack, not the list of modules
    assert child.returncode == 0, f"the alignment sweep failed{died}:\n{trace[-3000:]}"
    assert child.stdout.strip() == f"swept {ISAS}"


def test_the_environment_variable_picks_the_instruction_set(monkeypatch):
    code = ("from rnnscope.models import native_status, RNNClassifier; import torch\n"
            "layer = RNNClassifier('lstm', input_size=3, hidden_size=4, num_classes=2).layers[0]\n"
            "with torch.no_grad(): layer.trace(torch.randn(1, 5, 3))\n"
            "s = native_status(); print(s['isa'], s['used'], s['reason'])")
    env = {**os.environ, "RNNSCOPE_NATIVE_ISA": "generic"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    if ops is None:
        return
    assert out.stdout.strip() == "generic True None"
    monkeypatch.setenv("RNNSCOPE_NATIVE_ISA", "no-such-isa")  # refused when loaded: the build error says why
    with pytest.raises(_native.NativeBuildError, match=r"RNNSCOPE_NATIVE_ISA=no-such-isa in the environment: The "
                                                       r"'name' argument of rnnscope_native::set_isa must be 'auto' or "
                                                       r"an instruction set this CPU runs \(.*generic; known: .*\). "
                                                       r"Got 'no-such-isa' instead. Unset it or pick one of"):
        _native._chosen_isa(ops)
    assert ops.isa() == native_status()["isa"]  # unchanged


@needs_native
@pytest.mark.parametrize("isa", ISAS)
def test_nonlinearities_are_accurate_over_the_whole_range(isa):
    x = torch.cat([torch.linspace(-100, 100, 20001), torch.tensor([0.0, -0.0, 1e-8, -1e-8, 88.0, -87.0, 1e4, -1e4])])
    with _native.using_isa(isa):
        for mode, reference, atol, rtol in ((0, torch.exp, 0, 3e-7), (1, torch.sigmoid, 3e-7, 0),
                                            (2, torch.tanh, 3e-7, 0)):
            got = ops.activation(x, mode)
            expected = reference(x.double()).float()
            if mode == 0:  # float32's normal range; beyond it exp is +inf above and 0 below
                inside = (x > -86.9) & (x < 88.72)
                assert torch.isinf(got[x > 88.73]).all() and (got[x < -86.9] == 0).all()
                got, expected = got[inside], expected[inside]
            torch.testing.assert_close(got, expected, atol=atol, rtol=rtol)


@needs_native
@pytest.mark.parametrize("isa", ISAS)
def test_nonlinearities_give_nan_and_infinities_as_torch_in_every_lane_and_the_tail(isa):
    """A NaN, +inf or -inf at every position of 1 to 40 values: whole vectors of 16, 8 or 4 lanes and the rest."""
    specials = {"nan": float("nan"), "+inf": float("inf"), "-inf": -float("inf")}
    with _native.using_isa(isa):
        for n in range(1, 41):
            for name, value in specials.items():
                for position in range(n):
                    x = torch.linspace(-3, 3, n)
                    x[position] = value
                    for mode, reference in ((0, torch.exp), (1, torch.sigmoid), (2, torch.tanh)):
                        got, expected = ops.activation(x, mode), reference(x)
                        assert torch.equal(torch.isnan(got), torch.isnan(expected)), (name, n, position, mode)
                        assert got[position].item() == expected[position].item() or name == "nan", \
                            (name, n, position, mode, got[position].item())
                        torch.testing.assert_close(got, expected, atol=3e-7, rtol=3e-7, equal_nan=True)


SPECIALS = {"nan": float("nan"), "+inf": float("inf"), "-inf": -float("inf")}


def _assert_like(ours, theirs, what):
    """Equal to float rounding, NaN exactly where PyTorch has NaN, infinities equal."""
    assert torch.equal(torch.isnan(ours), torch.isnan(theirs)), what
    torch.testing.assert_close(ours, theirs, atol=2e-6, rtol=0, equal_nan=True, msg=what)


def _module_run(layer, x, state):
    """PyTorch's own module (``layer.rnn``, holding the layer's parameters): h of every step and the last state."""
    hx = tuple(s[None].contiguous() for s in state) if len(state) > 1 else state[0][None].contiguous()
    out, last = layer.rnn(x, hx)
    return out, (tuple(s[0] for s in last) if isinstance(last, tuple) else (last[0],))


@needs_native
@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_nan_and_infinities_propagate_as_in_pytorch_s_own_modules(isa, kind):
    """NaN, +inf and -inf at every unit (every lane of whole vectors and the tail: 37 units are 2 x 16 + 5, 4 x 8 + 5
    and 9 x 4 + 1) in a gate's bias, in the initial state of one row per unit, and in the input: the kernels' every
    step and last state equal nn.LSTM's / nn.GRU's / nn.RNN's (NaN where theirs are NaN, the same infinities)."""
    hidden = 37
    torch.manual_seed(1)
    layer = RNNClassifier(kind, input_size=5, hidden_size=hidden, num_classes=3).layers[0].eval()
    x = torch.randn(hidden, 4, 5)
    with torch.no_grad(), _native.using_isa(isa):
        for name, value in SPECIALS.items():
            for s_index in range(len(layer.state_names)):  # row r: the value at unit r of h0 (and of c0)
                state = [torch.randn(hidden, hidden) * 0.5 for _ in layer.state_names]
                state[s_index].diagonal().fill_(value)
                ours, ours_last = layer.trace(x, tuple(state))
                theirs, theirs_last = _module_run(layer, x, state)
                _assert_like(ours["h"], theirs, (name, "state", s_index))
                for a, b in zip(ours_last, theirs_last, strict=True):
                    _assert_like(a, b, (name, "last state", s_index))
            bad = x.clone()
            bad[0, 1, 2], bad[3, 2, 0], bad[hidden - 1, 0, 4] = value, value, -value if name != "nan" else value
            _assert_like(layer.trace(bad)[0]["h"], _module_run(layer, bad, layer.initial_state(hidden))[0],
                         (name, "input"))
            bias = layer.rnn.bias_ih_l0
            saved = bias.clone()
            for units in (slice(None), slice(0, None, 2)):  # every lane of a gate; every other lane
                for gate in range(bias.numel() // hidden):
                    bias.copy_(saved)
                    bias[gate * hidden: (gate + 1) * hidden][units] = value
                    _assert_like(layer.trace(x)[0]["h"], _module_run(layer, x, layer.initial_state(hidden))[0],
                                 (name, "bias", gate, units))
            bias.copy_(saved)


@needs_native
@pytest.mark.parametrize("isa", ISAS)
def test_nan_and_infinities_propagate_through_the_lazy_lstm_as_in_its_step(isa):
    hidden = 37
    torch.manual_seed(2)
    layer = RNNClassifier("lazy_lstm", input_size=5, hidden_size=hidden, num_classes=3).layers[0].eval()
    x = torch.randn(hidden, 4, 5)
    with torch.no_grad(), _native.using_isa(isa):
        for name, value in SPECIALS.items():
            for s_index in range(2):
                state = [torch.randn(hidden, hidden) * 0.5 for _ in range(2)]
                state[s_index].diagonal().fill_(value)
                ours = layer.trace(x, tuple(state))[0]
                reference = _step_reference(layer, x, tuple(state), None)
                for var in layer.variables:
                    _assert_like(ours[var], reference[var], (name, s_index, var))


def test_capture_of_a_module_keeps_a_nan_gap_as_pytorch_does():
    """A record with a gap (NaN frames) through any PyTorch model: the states are NaN where the module's own output
    is (from the gap on), the other records untouched, and no false alarm of capture's exactness check."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.LSTM(3, 21, batch_first=True))
    x = torch.randn(3, 30, 3)
    x[1, 12:15] = float("nan")
    run = rnnscope.capture(net, x, progress=False)
    with torch.no_grad():
        own, _ = net[0](x)
    h = torch.from_numpy(run["h"].isel(layer=0).values)
    assert torch.equal(torch.isnan(h), torch.isnan(own))
    assert bool(torch.isnan(h[1, 12:]).all()) and not bool(torch.isnan(h[[0, 2]]).any())
    torch.testing.assert_close(h, own, atol=2e-6, rtol=0, equal_nan=True)


def test_disabled_native_kernels_fall_back_to_the_fused_forward_and_recovery(native_off):
    layer = RNNClassifier("lstm", input_size=4, hidden_size=5, num_classes=2).layers[0].eval()
    x = torch.randn(2, 7, 4)
    assert _native.usable_kernels(x, layer.weight_ih) is None
    with torch.no_grad():
        inside, _ = layer.trace(x)
        h, _ = layer(x)
    torch.testing.assert_close(inside["h"], h, atol=1e-6, rtol=0)
    status = native_status()
    assert status["used"] is False and status["deliberate"] is True
    assert status["reason"] == "disabled by set_native(False)"


def test_native_kernels_only_take_what_they_support_and_say_why():
    layer = RNNClassifier("lstm", input_size=4, hidden_size=5, num_classes=2).layers[0]
    x = torch.randn(2, 7, 4)
    assert _native.usable_kernels(x.double(), layer.weight_ih.double()) is None
    assert native_status()["reason"] == "the input is float64 (the kernels are float32 only)"
    with torch.enable_grad():
        assert _native.usable_kernels(x, layer.weight_ih) is None  # parameters need gradients
    assert native_status()["reason"].startswith("autograd is recording (the input or the weights require gradients)")
    assert _native.usable_kernels(x.to("meta"), layer.weight_ih.to("meta")) is None
    assert native_status()["reason"].startswith("the input is on meta (the kernels run on the CPU")
    assert not native_status()["deliberate"]
    double = RNNClassifier("gru", input_size=4, hidden_size=5, num_classes=2).double().layers[0].eval()
    with torch.no_grad():
        inside, _ = double.trace(x.double())
        h, _ = double(x.double())
    assert inside["h"].dtype == torch.float64
    torch.testing.assert_close(inside["h"], h, atol=1e-10, rtol=0)
    if ops is not None:
        with torch.no_grad():
            layer.trace(x)
        assert native_status()["used"] is True and native_status()["reason"] is None  # the last call decides


def test_the_environment_variable_switches_them_off_and_says_so():
    code = ("from rnnscope.models import native_status, RNNClassifier; import torch\n"
            "layer = RNNClassifier('gru', input_size=3, hidden_size=4, num_classes=2).layers[0]\n"
            "with torch.no_grad(): layer.trace(torch.randn(1, 5, 3))\n"
            "s = native_status(); print(s['enabled'], s['used'], s['deliberate'], s['reason'])")
    env = {**os.environ, "RNNSCOPE_NATIVE": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False True disabled by RNNSCOPE_NATIVE=0 in the environment"


def test_a_failed_build_is_reported_not_raised(fresh_session, monkeypatch):
    def broken(verbose=False):
        raise RuntimeError("Error building extension 'rnnscope_native':\nFAILED: kernels.o\ng++: not found")

    monkeypatch.setattr(_native, "build", broken)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _native.kernels() is None
        assert _native.kernels() is None  # tried once
    status = native_status()
    assert status["error"] == "the build failed: RuntimeError: g++: not found"
    layer = RNNClassifier("lstm", input_size=4, hidden_size=5, num_classes=2).layers[0].eval()
    with torch.no_grad():
        inside, _ = layer.trace(torch.randn(2, 7, 4))
    assert np.isfinite(inside["c"].numpy()).all()
    assert native_status()["used"] is False and native_status()["reason"] == status["error"]


@pytest.mark.parametrize("missing", ["compiler", "ninja"])
def test_a_missing_toolchain_says_what_to_install(fresh_session, monkeypatch, tmp_path, missing):
    from torch.utils import cpp_extension

    monkeypatch.setenv("RNNSCOPE_NATIVE_DIR", str(tmp_path))  # nothing cached there: build() must compile
    if missing == "compiler":
        monkeypatch.setenv("CXX", "no-such-compiler-xyz")
        expected = "no C++ compiler found ('no-such-compiler-xyz' is not on PATH): install g++ or clang"
    else:
        monkeypatch.setattr(cpp_extension, "is_ninja_available", lambda: False)
        expected = "the 'ninja' build tool is missing (torch builds C++ extensions with it): pip install ninja"
    with pytest.raises(_native.NativeBuildError, match=re.escape(expected)):
        _native.build()  # what build_native() (make native, Binder's postBuild) shows
    assert native_status()["error"].startswith(expected)
    assert _native.kernels() is None  # what a capture meets: no exception, the reason in the status
    assert native_status()["error"].startswith(expected)
    assert native_status()["reason"].startswith(expected)
    if ops is not None:  # fixed (here: the cached library again): build_native() makes them usable at once
        monkeypatch.undo()
        monkeypatch.setattr(_native, "_STATE", {**_native._STATE, "error": "earlier failure", "tried": True,
                                                "ops": None})
        assert _native.build() is not None
        assert _native.kernels() is not None and native_status()["error"] is None


def test_the_environment_s_ninja_is_found_without_activating_it(monkeypatch):
    import sysconfig

    scripts = sysconfig.get_path("scripts")
    monkeypatch.setenv("PATH", "/nonexistent-dir")  # a venv's python run without activating the venv
    with _native._environment_scripts_on_path():
        assert os.environ["PATH"].split(os.pathsep) == [scripts, "/nonexistent-dir"]
    assert os.environ["PATH"] == "/nonexistent-dir"  # restored
    monkeypatch.setenv("PATH", os.pathsep.join([scripts, "/x"]))
    with _native._environment_scripts_on_path():
        assert os.environ["PATH"] == os.pathsep.join([scripts, "/x"])  # already there: unchanged


def test_compiler_flags_and_library_names_per_platform():
    # no instruction-set flag: the AVX-512 / AVX2 code is compiled per function and picked at run time
    assert _native.compile_flags("Linux", "gcc") == ["-O3", "-fopenmp"]  # PyTorch's own OpenMP runtime (libgomp)
    assert _native.compile_flags("Linux", "clang") == ["-O3"]  # another OpenMP runtime: std::thread teams instead
    assert _native.compile_flags("Darwin", "clang") == ["-O3"]  # Apple's compiler has no OpenMP
    assert _native.compile_flags("Windows", "msvc") == ["/O2"]  # MSVC
    assert _native.link_flags(["-O3", "-fopenmp"]) == ["-fopenmp"] and _native.link_flags(["/O2"]) == []
    assert [_native.library_suffix(s) for s in ("Windows", "Linux", "Darwin")] == [".pyd", ".so", ".so"]
    assert _native._compiler("Windows") == "cl"
    assert _native._compiler_family("cl") == "msvc"
    assert _native._compiler_family("no-such-compiler-xyz") == "unknown"


@needs_native
def test_native_build_is_cached_and_reports_its_status():
    status = native_status()
    assert status["loaded"] and status["error"] is None
    assert status["path"].endswith(_native.library_suffix())
    capability = torch.backends.cpu.get_cpu_capability()
    if not {"ATEN_CPU_CAPABILITY", "RNNSCOPE_NATIVE_ISA"} & set(os.environ):  # the best this CPU runs, as torch's
        assert status["isa"] == ops.isa() == {"AVX512": "avx512", "AVX2": "avx2"}.get(capability, "generic")
    assert status["vectorized"] == (status["isa"] != "generic")
    assert list(ops.isas())[-1] == "generic" and status["isa"] in ops.isas()
    if sys.platform.startswith("linux") and _native._compiler_family() == "gcc":
        assert status["parallel"] == "openmp"


# ------------------------------------------------------------------------------------ the ops' argument checks


def _lstm_args(batch=3, n_time=4, n_in=2, hidden=5):
    x = torch.randn(batch, n_time, n_in)
    w = torch.randn(n_in + hidden + 1, 4 * hidden)
    h0, c0 = torch.zeros(batch, hidden), torch.zeros(batch, hidden)
    outputs = [torch.empty(batch, n_time, hidden) for _ in range(6)]
    offsets = torch.arange(batch) * (n_time * hidden)
    return dict(x=x, w=w, h0=h0, c0=c0, keep=None, outputs=outputs, row_offsets=offsets, time_stride=hidden,
                unit_stride=1, h_seq=torch.empty(batch, n_time, hidden), h_last=torch.empty(batch, hidden),
                c_last=torch.empty(batch, hidden), n_valid=torch.full((batch,), n_time),
                ranges=torch.empty(6, 2))


def _call(**changes):
    args = {**_lstm_args(), **changes}
    ops.lstm_trace(*args.values())
    return args


@needs_native
def test_the_ops_run_with_correct_arguments():
    args = _call()
    layer_like = torch.nn.LSTM(2, 5, batch_first=True)
    with torch.no_grad():
        w_ih, w_hh = layer_like.weight_ih_l0, layer_like.weight_hh_l0
        bias = layer_like.bias_ih_l0 + layer_like.bias_hh_l0
        w = torch.cat([w_ih, w_hh, bias[:, None]], 1).t().contiguous()
        args = _call(w=w)
        expected, _ = layer_like(args["x"])
    torch.testing.assert_close(args["h_seq"], expected, atol=2e-6, rtol=0)
    torch.testing.assert_close(args["outputs"][5], expected, atol=2e-6, rtol=0)


@needs_native
@pytest.mark.parametrize("changes, message", [
    (lambda a: {"x": a["x"].double()},
     r"The 'x' argument of rnnscope_native::lstm_trace must be a contiguous float32 CPU tensor of shape "
     r"\(batch, time, input\) = \[\*, \*, \*\]. Got a tensor of dtype float64, shape \[3, 4, 2\] on cpu instead"),
    (lambda a: {"x": a["x"].to("meta")}, r"The 'x' argument .* must be a contiguous float32 CPU tensor.* on meta"),
    (lambda a: {"x": a["x"].transpose(0, 1).contiguous().transpose(0, 1)}, r"'x' argument.*\(not contiguous\)"),
    (lambda a: {"w": a["w"][:-1]}, r"The 'w' argument .* shape \(input \+ hidden \+ 1, 4 \* hidden\) = \[8, 20\]. "
                                   r"Got a tensor of dtype float32, shape \[7, 20\]"),
    (lambda a: {"h0": a["h0"][:2]}, r"The 'h0' argument .* shape \(batch, hidden\) = \[3, \*\]"),
    (lambda a: {"c0": torch.zeros(3, 4)}, r"The 'c0' argument .* = \[3, 5\]. Got .* \[3, 4\]"),
    (lambda a: {"keep": torch.ones(4)}, r"The 'keep' argument .* shape \(hidden,\) = \[5\]"),
    (lambda a: {"keep": torch.ones(5, dtype=torch.bool)}, r"The 'keep' argument .* Got a tensor of dtype bool"),
    (lambda a: {"outputs": a["outputs"][:5]},
     r"The 'outputs' argument .* must hold 6 entries \(a tensor or None for each of input_gate, forget_gate, "
     r"cell_input, output_gate, c, h\). Got 5 instead"),
    (lambda a: {"outputs": a["outputs"][:5] + [torch.empty(3, 4, 4)]},
     r"The 'outputs' argument of rnnscope_native::lstm_trace is too small for h: it has 48 elements, but row "
     r"offsets from 0 to 40 with time_stride 5, unit_stride 1, 4 frames and 5 units reach element 59"),
    (lambda a: {"row_offsets": a["row_offsets"] - 1}, r"too small for input_gate: .* row offsets from -1 to 39"),
    (lambda a: {"outputs": [None] * 5 + [torch.empty(60, dtype=torch.float64)]},
     r"The 'h' argument .* must be a contiguous float32 CPU tensor"),
    (lambda a: {"row_offsets": a["row_offsets"][:2]},
     r"The 'row_offsets' argument .* must be a contiguous int64 CPU tensor of shape \(batch,\) = \[3\]"),
    (lambda a: {"row_offsets": a["row_offsets"].int()}, r"The 'row_offsets' argument .* Got a tensor of dtype int32"),
    (lambda a: {"n_valid": torch.full((4,), 4)}, r"The 'n_valid' argument .* = \[3\]. Got .* \[4\]"),
    (lambda a: {"unit_stride": 0}, r"'time_stride' and 'unit_stride' arguments .* must be >= 1 .* Got 5 and 0"),
    (lambda a: {"h_seq": torch.empty(3, 3, 5)}, r"The 'h_seq' argument .* \(batch, time, hidden\) = \[3, 4, 5\]"),
    (lambda a: {"h_last": torch.empty(3, 5, dtype=torch.float64)}, r"The 'h_last' argument"),
    (lambda a: {"c_last": torch.empty(2, 5)}, r"The 'c_last' argument .* = \[3, 5\]"),
    (lambda a: {"ranges": torch.empty(1, 6, 2)}, r"The 'ranges' argument .* \(variables, 2\) = \[6, 2\]"),
])
def test_the_ops_check_their_arguments(changes, message):
    with pytest.raises(RuntimeError, match=message):
        _call(**changes(_lstm_args()))


@needs_native
def test_gru_and_lazy_lstm_ops_check_their_own_arguments():
    a = _lstm_args()
    with pytest.raises(RuntimeError, match=r"The 'w' argument of rnnscope_native::gru_trace .* = \[8, 20\]"):
        ops.gru_trace(a["x"], a["w"][:, :15], a["h0"], None, a["outputs"][:4], a["row_offsets"], 5, 1, a["h_seq"],
                      a["h_last"], None, a["n_valid"], torch.empty(4, 2))
    with pytest.raises(RuntimeError, match=r"'outputs' argument of rnnscope_native::gru_trace must hold 4 entries "
                                           r"\(a tensor or None for each of reset_gate, update_gate, candidate, h\)"):
        ops.gru_trace(a["x"], a["w"], a["h0"], None, a["outputs"], a["row_offsets"], 5, 1, a["h_seq"], a["h_last"],
                      None, a["n_valid"], torch.empty(4, 2))
    with pytest.raises(RuntimeError, match=r"The 'w_cm' argument of rnnscope_native::lazy_lstm_trace .* "
                                           r"\(hidden, hidden\) = \[5, 5\]"):
        ops.lazy_lstm_trace(a["x"], a["w"], torch.empty(5, 4), a["h0"], a["c0"], None, a["outputs"], a["row_offsets"],
                            5, 1, a["h_seq"], a["h_last"], a["c_last"], a["n_valid"], a["ranges"])
    with pytest.raises(RuntimeError, match=r"The 'm0' argument of rnnscope_native::lazy_lstm_trace"):
        ops.lazy_lstm_trace(a["x"], a["w"], torch.empty(5, 5), a["h0"][:1], a["c0"], None, a["outputs"],
                            a["row_offsets"], 5, 1, a["h_seq"], a["h_last"], a["c_last"], a["n_valid"], a["ranges"])
    with pytest.raises(RuntimeError, match=r"The 'mode' argument of rnnscope_native::activation must be 0 \(exp\)"):
        ops.activation(torch.zeros(3), 3)
    with pytest.raises(RuntimeError, match=r"The 'x' argument of rnnscope_native::activation must be a float32 CPU"):
        ops.activation(torch.zeros(3, dtype=torch.float64), 1)


@needs_native
@pytest.mark.parametrize("kernel", ["lstm_trace", "gru_trace", "lazy_lstm_trace"])
def test_the_schemas_mark_every_written_tensor_as_mutated(kernel):
    schema = getattr(ops, kernel).default._schema
    written = {a.name for a in schema.arguments if a.alias_info is not None and a.alias_info.is_write}
    assert written == {"outputs", "h_seq", "h_last", "c_last", "ranges", "group_sums"}
    assert "Tensor(a!)?[] outputs" in str(schema).replace("Tensor?(a!)[]", "Tensor(a!)?[]")


@needs_native
@pytest.mark.parametrize("cell", ["lstm", "gru", "lazy_lstm"])
def test_the_kernels_sum_abs_h_by_group_of_frames_as_the_fallback(cell, restore_threads):
    """The summaries' sums of |h| made on the way (two groups per frame, -1 none: shared groups in column 0, groups of
    one row in column 1) equal those of the fallback for every instruction set, and are the same bits with 1 and 2
    threads, for blocks of records and one record's units."""
    from rnnscope.models._trace import TraceOutputs

    torch.manual_seed(5)
    layer = RNNClassifier(cell, input_size=6, hidden_size=37, num_classes=3).layers[0].eval()
    for batch in (1, 9):
        x = torch.randn(batch, 11, 6)
        groups = torch.randint(-1, 4, (batch, 11, 2), dtype=torch.int32)  # shared groups 0..3
        own = 4 + torch.arange(batch)[:, None] * 3 + torch.randint(0, 3, (batch, 11))  # each row its own 3 groups
        groups[..., 1] = torch.where(torch.rand(batch, 11) < 0.8, own, -1).int()

        def sums(batch=batch, groups=groups, x=x):
            out = TraceOutputs({}, torch.zeros(batch, dtype=torch.int64), 1, 1, torch.full((batch,), 11),
                               groups, torch.zeros(4 + 3 * batch, 37))
            with torch.no_grad():
                layer.trace_to(x, None, None, out)
            return out.group_sums

        previous = set_native(False)
        try:
            expected = sums()
        finally:
            set_native(previous)
        for isa in ISAS:
            with _native.using_isa(isa):
                by_threads = []
                for threads in (1, 2):
                    torch.set_num_threads(threads)
                    by_threads.append(sums())
                    torch.testing.assert_close(by_threads[-1], expected, atol=2e-6, rtol=1e-6)
                assert torch.equal(*by_threads)



@needs_native
@pytest.mark.parametrize("cell", ["lstm", "gru", "lazy_lstm"])
def test_group_sums_in_a_non_contiguous_view_are_added_to_as_by_the_fallback(cell):
    """out.group_sums may be any (groups, hidden) view (e.g. the transpose of a (hidden, groups) array): the
    kernels add into it as the fallback does (they used to reject it with the op's own error)."""
    from rnnscope.models._trace import TraceOutputs

    torch.manual_seed(2)
    layer = RNNClassifier(cell, input_size=3, hidden_size=17, num_classes=3).layers[0].eval()
    x = torch.randn(2, 6, 3)
    groups = torch.zeros(2, 6, 2, dtype=torch.int32)
    groups[..., 0] = torch.arange(6) % 2  # column 0: groups 0 and 1, shared by the rows
    groups[..., 1] = torch.tensor([[2], [3]])  # column 1: each row its own group
    groups[0, 4:, 1] = -1

    def sums():
        storage = torch.full((17, 4), 1.0)  # sums already holding something: the kernels add to it
        out = TraceOutputs({}, torch.zeros(2, dtype=torch.int64), 1, 1, torch.full((2,), 6), groups, storage.t())
        with torch.no_grad():
            layer.trace_to(x, None, None, out)
        assert not out.group_sums.is_contiguous()
        return storage.t()

    previous = set_native(False)
    try:
        expected = sums()
    finally:
        set_native(previous)
    assert native_status()["used"] is False
    native = sums()
    assert native_status()["used"] is True
    assert bool((expected != 1.0).all())
    torch.testing.assert_close(native, expected, atol=2e-6, rtol=1e-6)

@needs_native
def test_the_group_sums_are_checked():
    a = _lstm_args()
    with pytest.raises(RuntimeError, match=r"The 'groups' and 'group_sums' arguments of rnnscope_native::lstm_trace go "
                                           r"together .* Got groups without group_sums instead"):
        ops.lstm_trace(*a.values(), torch.zeros(3, 4, 2, dtype=torch.int32), None)
    with pytest.raises(RuntimeError, match=r"The 'groups' argument of rnnscope_native::lstm_trace must hold rows of "
                                           r"group_sums \(0 to 2\) or -1. Got values from -1 to 3 instead"):
        ops.lstm_trace(*a.values(), torch.tensor([-1, 3]).repeat(12).view(3, 4, 2).int(), torch.zeros(3, 5))
    with pytest.raises(RuntimeError, match=r"The 'group_sums' argument .* \(groups, hidden\) = \[\*, 5\]"):
        ops.lstm_trace(*a.values(), torch.zeros(3, 4, 2, dtype=torch.int32), torch.zeros(3, 4))
    with pytest.raises(
        RuntimeError,
        match=r"must give in its column 1 groups of one batch row each \(a segment belongs "
        r"to one record\). Got group 1 in rows 0 and 1 instead",
    ):
        ops.lstm_trace(*a.values(), torch.ones(3, 4, 2, dtype=torch.int32), torch.zeros(3, 5))


# ---------------------------------------------------------------------------------------- capture's fallback


def test_capture_without_the_kernels_gives_the_same_run(frames):
    torch.manual_seed(0)
    model = RNNClassifier(["gru", "lstm", "lazy_lstm", "rnn"], input_size=frames.sizes["feature"], hidden_size=6,
                          num_classes=5)
    model.fit_normalizer(frames)
    native = rnnscope.capture(model, frames, progress=False, batch_size=2, time_chunk=50)
    previous = set_native(False)
    try:
        fallback = rnnscope.capture(model, frames, progress=False, batch_size=2, time_chunk=50)
    finally:
        set_native(previous)
    for name in ("h", "c", "input_gate", "update_gate", "candidate", "prob"):
        np.testing.assert_allclose(native[name].values, fallback[name].values, atol=2e-6, rtol=0)
    gru_c = fallback["c"].values[..., 0]  # the GRU layer has no cell: NaN, as with the kernels
    assert np.isnan(gru_c).all() and np.isnan(native["c"].values[..., 0]).all()
    assert np.array_equal(native["pred"].values, fallback["pred"].values)
    for name in ("summary_min", "summary_max", "summary_heat"):  # the ranges measured by the kernels or after
        np.testing.assert_allclose(native[name].values, fallback[name].values, atol=2e-6, rtol=0)


def test_capture_warns_once_when_it_falls_back(fresh_session, monkeypatch, frames):
    def broken(verbose=False):
        raise RuntimeError("g++: not found")

    monkeypatch.setattr(_native, "build", broken)
    model = RNNClassifier("lstm", input_size=frames.sizes["feature"], hidden_size=4, num_classes=5)
    with pytest.warns(RuntimeWarning, match=r"capture is about 2x slower without the native kernels \(same results\): "
                                            r"the build failed: RuntimeError: g\+\+: not found. See "
                                            r"rnnscope.models.native_status\(\)") as record:
        rnnscope.capture(model, frames, progress=False, time_chunk=30)
    assert len([w for w in record if "2x slower" in str(w.message)]) == 1  # once, not once per window
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnnscope.capture(model, frames, progress=False)  # once per session


def test_capture_does_not_warn_when_the_kernels_are_off_on_purpose_or_not_needed(fresh_session, native_off, frames):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnnscope.capture(RNNClassifier("gru", input_size=frames.sizes["feature"], hidden_size=4, num_classes=5),
                         frames, progress=False)
        set_native(True)
        _native._STATE["used"] = False  # a stale fallback of an earlier call must not make an RNN capture warn
        rnnscope.capture(RNNClassifier("rnn", input_size=frames.sizes["feature"], hidden_size=4, num_classes=5),
                         frames, progress=False)
    assert fresh_session._FALLBACK_WARNED is False


@pytest.mark.parametrize("native", [True, False], ids=["native", "fallback"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_nan_inside_a_record_propagates_through_the_classifier_as_in_pytorch(kind, native):
    """A features Dataset (records of three lengths, NaN padding) with a NaN feature inside record 1: through the
    classifier's capture (native kernels, or the fused fallback), every layer's states equal PyTorch's own modules on
    the normalised frames, NaN from that frame on in record 1 only; padding changes nothing."""
    rng = np.random.default_rng(3)
    lengths = [25, 21, 17]
    feats = [rng.normal(2.0, 1.5, (n, 6)).astype(np.float32) for n in lengths]
    data = rnnscope.data.from_features(feats, [np.zeros(n, int) for n in lengths], class_names=["BG", "EV"],
                                       frame_rate=2.0, background="BG")
    feats[1][9, 4] = np.nan  # missing data the reader would refuse, put in afterwards
    data["features"][1, 9, 4] = np.nan
    torch.manual_seed(1)
    model = RNNClassifier(kind, input_size=6, hidden_size=37, num_classes=2, num_layers=2,
                          class_names=["BG", "EV"]).eval()
    model.fit_normalizer([feats[0], feats[2]])
    previous = set_native(native)
    try:
        with pytest.warns(rnnscope.errors.NumericalWarning, match=r"'rec00001' from frame 9\."):
            run = rnnscope.capture(model, data, progress=False, batch_size=3)
    finally:
        set_native(previous)
    for e, n in enumerate(lengths):
        inp = (torch.from_numpy(feats[e][None]) - model.feature_mean) / model.feature_std
        with torch.no_grad():
            for layer in range(2):
                inp, _ = model.layers[layer].rnn(inp)
                h = torch.from_numpy(run["h"].isel(event=e, layer=layer, time=slice(0, n)).values)
                _assert_like(h, inp[0], (kind, e, layer))
        assert bool(torch.isnan(h[9:]).all()) == (e == 1) and not bool(torch.isnan(h[:9]).any())

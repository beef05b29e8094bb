"""The native (C++) capture kernels: same variables as the TorchScript loops and the reference step, bit-identical
results for any thread count, accurate nonlinearities, and a clean fallback when they cannot be used."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from rnnscope.models import RNNClassifier, _native, native_status, set_native
from rnnscope.models._cells import _native_ops

ops = _native.kernels()
needs_native = pytest.mark.skipif(ops is None, reason=f"native kernels unavailable: {native_status()['error']}")


@pytest.fixture
def native_off():
    previous = set_native(False)
    yield
    set_native(previous)


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
@pytest.mark.parametrize("cell", ["lstm", "gru", "lazy_lstm"])
@pytest.mark.parametrize("batch, hidden, masked", [(1, 8, False), (5, 13, True), (37, 24, False), (20, 9, True)])
def test_native_trace_equals_torchscript_and_the_step_reference(cell, batch, hidden, masked):
    torch.manual_seed(batch + hidden)
    layer = RNNClassifier(cell, 6, hidden, 3).layers[0].eval()
    x = torch.randn(batch, 23, 6)
    state = tuple(torch.randn(batch, hidden) for _ in layer.state_names)
    keep = (torch.arange(hidden) % 3 != 1) if masked else None
    with torch.no_grad():
        assert _native_ops(x, layer.weight_ih) is not None
        native, native_final = layer.trace(x, state, keep=keep)
        previous = set_native(False)
        try:
            script, script_final = layer.trace(x, state, keep=keep)
        finally:
            set_native(previous)
        reference = _step_reference(layer, x, state, keep)
    assert set(native) == set(layer.variables)
    for name in layer.variables:
        assert native[name].shape == (batch, 23, hidden)
        torch.testing.assert_close(native[name], script[name], atol=2e-6, rtol=0)
        torch.testing.assert_close(native[name], reference[name], atol=2e-6, rtol=0)
    for a, b in zip(native_final, script_final):
        torch.testing.assert_close(a, b, atol=2e-6, rtol=0)
    if masked:
        assert torch.all(native["h"][..., ~keep] == 0)


@needs_native
@pytest.mark.parametrize("cell", ["lstm", "gru", "lazy_lstm"])
def test_native_results_do_not_depend_on_the_thread_count(cell):
    torch.manual_seed(0)
    layer = RNNClassifier(cell, 6, 21, 3).layers[0].eval()
    x = torch.randn(40, 17, 6)  # several blocks of rows
    previous = torch.get_num_threads()
    outs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with torch.no_grad():
                outs.append(layer.trace(x)[0])
    finally:
        torch.set_num_threads(previous)
    for name in outs[0]:
        assert torch.equal(outs[0][name], outs[1][name]), name


@needs_native
def test_nonlinearities_are_accurate_over_the_whole_range():
    x = torch.cat([torch.linspace(-100, 100, 20001), torch.tensor([0.0, -0.0, 1e-8, -1e-8, 88.0, -87.0, 1e4, -1e4])])
    for mode, reference, atol, rtol in ((0, torch.exp, 0, 3e-7), (1, torch.sigmoid, 3e-7, 0), (2, torch.tanh, 3e-7, 0)):
        got = ops.activation(x, mode)
        expected = reference(x.double()).float()
        if mode == 0:  # the kernel clamps its argument to [-87.3, 88.3], where float32 exp is finite and normal
            keep = (x > -87.3) & (x < 88.3)
            got, expected = got[keep], expected[keep]
        torch.testing.assert_close(got, expected, atol=atol, rtol=rtol)
        assert torch.isfinite(got).all()


def test_disabled_native_kernels_fall_back_to_torchscript(native_off):
    layer = RNNClassifier("lstm", 4, 5, 2).layers[0].eval()
    x = torch.randn(2, 7, 4)
    assert _native_ops(x, layer.weight_ih) is None
    with torch.no_grad():
        inside, _ = layer.trace(x)
        h, _ = layer(x)
    torch.testing.assert_close(inside["h"], h, atol=1e-6, rtol=0)


def test_native_kernels_only_take_what_they_support():
    layer = RNNClassifier("lstm", 4, 5, 2).layers[0]
    x = torch.randn(2, 7, 4)
    assert _native_ops(x.double(), layer.weight_ih.double()) is None  # float64: TorchScript
    with torch.enable_grad():
        assert _native_ops(x, layer.weight_ih) is None  # parameters need gradients: TorchScript (autograd)
    double = RNNClassifier("gru", 4, 5, 2).double().layers[0].eval()
    with torch.no_grad():
        inside, _ = double.trace(x.double())
        h, _ = double(x.double())
    assert inside["h"].dtype == torch.float64
    torch.testing.assert_close(inside["h"], h, atol=1e-10, rtol=0)


def test_a_failed_build_warns_once_and_falls_back(monkeypatch):
    state = dict(_native._STATE)
    monkeypatch.setattr(_native, "_STATE", {**state, "enabled": True, "ops": None, "tried": False, "error": None})

    def broken(verbose=False):
        raise RuntimeError("Error building extension 'rnnscope_native': g++: not found")

    monkeypatch.setattr(_native, "build", broken)
    with pytest.warns(RuntimeWarning, match="TorchScript step loops.*g\\+\\+: not found"):
        assert _native.kernels() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _native.kernels() is None  # tried once: no second warning
    assert native_status()["error"].endswith("g++: not found")
    layer = RNNClassifier("lstm", 4, 5, 2).layers[0].eval()
    with torch.no_grad():
        inside, _ = layer.trace(torch.randn(2, 7, 4))
    assert np.isfinite(inside["c"].numpy()).all()


@needs_native
def test_native_build_is_cached_and_reports_its_status():
    status = native_status()
    assert status["loaded"] and status["error"] is None
    assert status["path"].endswith(".so")
    assert status["vectorized"] == (torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"))

"""Similarity across runs: linear CKA per layer pair and Hungarian unit matching."""
import numpy as np
import pytest
import xarray as xr
from analysis_runs import make_run

from rnnscope import analysis

LENGTHS = [120, 90, 150]
SEGMENTS = [(0, 0, 0, 60), (0, 1, 60, 120), (1, 2, 0, 90), (2, 0, 0, 150)]


def _states(rng, n_units=8, n_layers=2):
    """Smooth-ish random states (event, time, unit, layer) with correlated units, padded past the lengths."""
    x = rng.normal(size=(3, 150, n_units, n_layers))
    x = np.cumsum(x, axis=1) * 0.1 + rng.normal(size=(1, 1, n_units, n_layers))
    mix = rng.normal(size=(n_units, n_units))
    return np.einsum("etul,uv->etvl", x, mix)


def _run(states, **kw):
    return make_run({"h": states, "c": 2 * states}, LENGTHS, SEGMENTS, **kw)


def _orthogonal(rng, n):
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def _direct_cka(x, y):
    x, y = x - x.mean(0), y - y.mean(0)
    return np.sum((y.T @ x) ** 2) / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def _valid(states, layer):
    """Valid frames of one layer as float64 (runs store float32: compare with what the run holds)."""
    states = np.asarray(states, dtype=np.float32).astype(np.float64)
    return np.concatenate([states[e, :n, :, layer] for e, n in enumerate(LENGTHS)])


def test_cka_of_a_run_with_itself_is_one():
    run = _run(_states(np.random.default_rng(0)))
    cka = analysis.linear_cka(run, run)
    assert cka.dims == ("layer_a", "layer_b") and cka.layer_a.values.tolist() == [0, 1]
    np.testing.assert_allclose(np.diag(cka.values), 1.0, atol=1e-10)
    assert cka.attrs["n_frames"] == sum(LENGTHS)
    np.testing.assert_allclose(cka.values, cka.values.T, atol=1e-12)


def test_cka_is_one_for_a_rotated_and_scaled_copy_and_matches_the_formula():
    rng = np.random.default_rng(1)
    states = _states(rng)
    q = _orthogonal(rng, 8)
    rotated = 3.0 * np.einsum("etul,uv->etvl", states, q) + 5.0
    a, b = _run(states), _run(rotated)
    cka = analysis.linear_cka(a, b)
    np.testing.assert_allclose(np.diag(cka.values), 1.0, atol=1e-9)
    expected = _direct_cka(_valid(states, 0), _valid(states, 1))
    assert float(cka.sel(layer_a=0, layer_b=1)) == pytest.approx(expected, rel=1e-9)
    # chunk by chunk (several blocks per record, dask-backed) gives the same numbers
    chunked = analysis.linear_cka(a.chunk({"time": 7}), b.chunk({"time": 11}))
    np.testing.assert_allclose(chunked.values, cka.values, rtol=1e-9)


def test_cka_with_an_unrelated_run_is_low():
    rng = np.random.default_rng(2)
    noise = rng.normal(size=(3, 150, 8, 2))
    cka = analysis.linear_cka(_run(_states(rng)), _run(noise))
    assert float(cka.max()) < 0.2


def test_cka_between_variables_layers_and_unit_counts():
    rng = np.random.default_rng(3)
    states = _states(rng)
    run = _run(states)
    smaller = _run(states[:, :, :5, :])
    cka = analysis.linear_cka(run, smaller, var="c", layer=1, var_b="h", layer_b=[0, 1])
    assert cka.layer_a.values.tolist() == [1] and cka.layer_b.values.tolist() == [0, 1]
    expected = _direct_cka(_valid(2 * states, 1), _valid(states[:, :, :5], 1))
    assert float(cka.sel(layer_a=1, layer_b=1)) == pytest.approx(expected, rel=1e-9)


def test_cka_refuses_runs_of_different_frames():
    rng = np.random.default_rng(4)
    a = _run(_states(rng))
    b = make_run({"h": _states(rng)}, [120, 90, 149], SEGMENTS)
    with pytest.raises(ValueError, match="record 2 has 150 valid frames in run_a but 149 in run_b"):
        analysis.linear_cka(a, b)
    with pytest.raises(ValueError, match="run_a holds 3 records and run_b 2"):
        analysis.linear_cka(a, a.isel(event=[0, 1]))
    with pytest.raises(ValueError, match="'var' parameter of linear_cka"):
        analysis.linear_cka(a, a, var="input_gate")


def _permuted(states, order, rng, noise=0.05, flip=None):
    other = states[:, :, order, :].copy()
    if flip is not None:
        other[:, :, flip, :] *= -1
    return other + noise * rng.normal(size=other.shape)


def test_hungarian_matching_recovers_a_permutation_of_units():
    rng = np.random.default_rng(5)
    states = _states(rng)
    order = rng.permutation(8)  # unit k of b is unit order[k] of a
    b = _run(_permuted(states, order, rng))
    pairs = analysis.match_units(_run(states), b)
    assert list(pairs.columns) == ["layer_a", "layer_b", "unit_a", "unit_b", "correlation"]
    assert len(pairs) == 16
    for layer in (0, 1):
        sub = pairs[pairs.layer_a == layer]
        assert sub.unit_a.tolist() == list(range(8))
        assert sub.unit_b.tolist() == np.argsort(order).tolist()
    assert (pairs.correlation > 0.9).all()


def test_matching_on_absolute_correlation_finds_sign_flipped_units():
    rng = np.random.default_rng(6)
    states = _states(rng)
    order = rng.permutation(8)
    b = _run(_permuted(states, order, rng, flip=[0, 3]))
    pairs, corr = analysis.match_units(_run(states), b, layer=0), analysis.unit_correlation(_run(states), b, layer=0)
    assert pairs.unit_b.tolist() == np.argsort(order).tolist()
    flipped = set(order[[0, 3]].tolist())
    assert all((c < -0.9) == (u in flipped) for u, c in zip(pairs.unit_a, pairs.correlation, strict=True))
    assert corr.dims == ("layer_a", "unit_a", "unit_b") and corr.shape == (1, 8, 8)
    expected = np.corrcoef(_valid(states, 0).T, _valid(np.asarray(b.h.values), 0).T)[:8, 8:]
    np.testing.assert_allclose(corr.values[0], expected, atol=1e-9)
    signed = analysis.match_units(_run(states), b, layer=0, absolute=False)
    assert (signed.correlation > -0.5).all()  # signed matching never pairs a unit with its flipped copy


def test_matching_with_fewer_units_and_errors():
    rng = np.random.default_rng(7)
    states = _states(rng)
    small = _run(states[:, :, [6, 2, 4], :])
    pairs = analysis.match_units(_run(states), small, layer=1)
    assert sorted(zip(pairs.unit_a, pairs.unit_b, strict=True)) == [(2, 1), (4, 2), (6, 0)]
    with pytest.raises(ValueError, match="layers are paired in order"):
        analysis.match_units(_run(states), small, layer=[0, 1], layer_b=[0])
    with pytest.raises(ValueError, match="different records"):
        analysis.match_units(_run(states), small.assign_coords(event_id=("event", ["x", "y", "z"])))
    assert isinstance(analysis.unit_correlation(_run(states), small), xr.DataArray)
    with pytest.raises(ValueError, match="unit_correlation: layers are paired in order"):
        analysis.unit_correlation(_run(states), small, layer=[0, 1], layer_b=[0])

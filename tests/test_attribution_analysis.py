"""rnnscope.analysis.band_profile / lag_profile / attribution_over_time: ideal and noise units with their chance
levels, selections and concatenations, results of experiments.attribution read from a store."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from rnnscope import analysis, errors


def _attr(values, units, layers=None, band_hz=None, period=0.5):
    values = np.asarray(values, dtype=np.float32)
    n_target, n_lag, n_feat = values.shape
    coords = {"lag": np.arange(n_lag), "lag_s": ("lag", np.arange(n_lag) * period),
              "band_hz": ("feature", np.arange(1.0, n_feat + 1) if band_hz is None else band_hz),
              "target_unit": ("target", units), "target_layer": ("target", layers or [0] * n_target),
              "target_kind": ("target", ["unit"] * n_target), "target_time": ("target", np.full(n_target, 30.0))}
    return xr.Dataset({"attribution": (("target", "lag", "feature"), values)}, coords=coords)


def _ideal_and_noise(n=40, lags=10, bands=6, seed=0):
    """Unit 0 listens to band 3 at lag 2 (plus a little noise); unit 1 is noise everywhere."""
    rng = np.random.default_rng(seed)
    values = rng.normal(scale=0.001, size=(2 * n, lags, bands))
    values[:n, 2, 3] += rng.choice([-1.0, 1.0], size=n)
    values[n:] = rng.normal(size=(n, lags, bands))
    return _attr(values, [0] * n + [1] * n)


def test_ideal_unit_beyond_chance_and_noise_unit_at_chance():
    attr = _ideal_and_noise()
    bands = analysis.band_profile(attr, null=300, seed=1)
    assert bands.attrs["chance"] == pytest.approx(1 / 6)
    np.testing.assert_allclose(bands.band_profile_null_mean, 1 / 6, atol=0.01)  # the chance level
    assert bands.band_peak_hz.sel(unit=0, layer=0) == 4.0  # band index 3
    assert float(bands.band_profile_p.sel(unit=0, layer=0).isel(band=3)) < 0.01
    noise_p = bands.band_profile_p.sel(unit=1, layer=0).values
    assert noise_p.min() > 0.01 and np.median(noise_p) > 0.2
    lags = analysis.lag_profile(attr, null=300, seed=1)
    assert lags.memory_lag.sel(unit=0, layer=0) == 2 and lags.memory_s.sel(unit=0, layer=0) == 1.0
    assert float(lags.memory_s_p.sel(unit=0, layer=0)) < 0.01
    assert lags.memory_lag.sel(unit=1, layer=0) >= 8  # noise: about 90 % of the ten lags
    assert float(lags.memory_s_p.sel(unit=1, layer=0)) > 0.05
    np.testing.assert_allclose(lags.lag_profile.sum("lag"), 1.0)
    np.testing.assert_allclose(lags.lag_profile_null_mean, 0.1, atol=0.01)


def test_structureless_attributions_give_about_uniform_p_values():
    rng = np.random.default_rng(3)
    attr = _attr(rng.normal(size=(400, 6, 4)), np.repeat(np.arange(40), 10))
    p = analysis.band_profile(attr, null=200, seed=0).band_profile_p.values.ravel()
    assert 0.02 < np.mean(p < 0.05) < 0.12 and 0.4 < np.mean(p) < 0.6


def test_selections_and_concatenations_equal_the_analyses_of_those_targets():
    attr = _ideal_and_noise(n=12)
    first, second = attr.isel(target=slice(0, 7)), attr.isel(target=slice(7, None))
    joined = xr.concat([first, second], dim="target")
    for func in (analysis.band_profile, analysis.lag_profile):
        xr.testing.assert_allclose(func(joined, null=50, seed=2), func(attr, null=50, seed=2))
    only = analysis.band_profile(attr.isel(target=attr.target_unit == 1))
    xr.testing.assert_allclose(only.band_profile.sel(unit=1),
                               analysis.band_profile(attr).band_profile.sel(unit=1))


def test_nan_lags_before_the_record_start_and_bands_of_three_parts():
    values = np.zeros((2, 4, 6))
    values[0, :2, 1] = 1.0  # target near the record start: lags 2 and 3 are NaN
    values[0, 2:] = np.nan
    values[1, 3, 4] = 2.0  # band 1 in its delta part
    attr = _attr(values, [5, 5], band_hz=np.tile([1.0, 2.0, 3.0], 2))
    bands = analysis.band_profile(attr)
    assert bands.band_hz.values.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(bands.band_profile.sel(unit=5, layer=0), [0.0, 1.0, 0.0])  # static and delta
    lags = analysis.lag_profile(attr, memory_fraction=0.5)
    np.testing.assert_allclose(lags.lag_profile.sel(unit=5, layer=0), [0.25, 0.25, 0.0, 0.5])
    assert int(lags.memory_lag.sel(unit=5, layer=0)) == 1


def test_class_targets_group_by_class_and_mixed_targets_are_refused():
    attr = _ideal_and_noise(n=4)
    classes = attr.assign_coords(target_kind=("target", ["class"] * 8),
                                 target_class=("target", ["LP"] * 4 + ["VT"] * 4))
    prof = analysis.band_profile(classes)
    assert prof.band_profile.dims == ("class_name", "band") and prof.class_name.values.tolist() == ["LP", "VT"]
    mixed = attr.assign_coords(target_kind=("target", ["class"] * 4 + ["unit"] * 4),
                               target_class=("target", ["LP"] * 4 + [""] * 4))
    with pytest.raises(errors.AttributionError, match=r"mix units and classes .*target=attr.target_kind == 'unit'"):
        analysis.lag_profile(mixed)
    with pytest.raises(errors.AttributionError, match=r"'attr' parameter of band_profile must hold 'attribution'"):
        analysis.band_profile(xr.Dataset({"h": ("x", [1.0])}))
    with pytest.raises(ValueError, match=r"'null' parameter of lag_profile must be an integer >= 1. Got 0"):
        analysis.lag_profile(attr, null=0)


def test_attribution_over_time_lines_up_with_the_record():
    values = np.arange(12.0).reshape(1, 4, 3)
    attr = _attr(values, [0])
    image = analysis.attribution_over_time(attr)
    assert image.dims == ("time", "feature")
    assert image.time.values.tolist() == [28.5, 29.0, 29.5, 30.0]
    np.testing.assert_allclose(image.sel(time=30.0), values[0, 0])

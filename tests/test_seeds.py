"""Several seeds: rnnscope.train.fit_many (reproducible, any Executor) and rnnscope.analysis.across_seeds."""
import pickle
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from rnnscope import analysis, examples, train
from rnnscope.models import RNNClassifier

T_975_2 = 4.302652729911275  # Student t quantile 0.975, 2 degrees of freedom
T_95_2 = 2.919985580355516  # 0.95, 2 degrees of freedom


# --------------------------------------------------------------------------------------------- across_seeds


def test_a_number_gets_mean_std_and_the_student_t_interval():
    stats = analysis.across_seeds(None, [1.0, 2.0, 3.0])
    assert list(stats.index) == ["mean", "std", "sem", "n", "ci_low", "ci_high"]
    half = T_975_2 * 1.0 / np.sqrt(3)
    assert stats["mean"] == pytest.approx(2.0)
    assert stats["std"] == pytest.approx(1.0)
    assert stats["sem"] == pytest.approx(1 / np.sqrt(3))
    assert stats["n"] == 3
    assert stats["ci_low"] == pytest.approx(2.0 - half) and stats["ci_high"] == pytest.approx(2.0 + half)
    narrow = analysis.across_seeds(None, [1.0, 2.0, 3.0], confidence=0.9)
    assert narrow["ci_high"] == pytest.approx(2.0 + T_95_2 / np.sqrt(3))
    assert stats.attrs["confidence"] == 0.95


def test_fn_is_applied_to_every_run_and_nan_results_are_left_out():
    stats = analysis.across_seeds(lambda x: x * 2, {10: 1.0, 11: np.nan, 12: 3.0})
    assert stats["mean"] == pytest.approx(4.0) and stats["n"] == 2
    assert stats.attrs["seeds"] == [10, 11, 12]
    single = analysis.across_seeds(None, [5.0])
    assert single["mean"] == 5.0 and np.isnan(single["std"]) and np.isnan(single["ci_low"])


def test_labelled_results_are_summarised_element_by_element():
    series = [pd.Series({"LP": 1.0, "VTE": 2.0}), pd.Series({"LP": 3.0, "VTE": 4.0}), pd.Series({"LP": 5.0})]
    table = analysis.across_seeds(None, series)
    assert table.loc["LP", "mean"] == pytest.approx(3.0) and table.loc["LP", "n"] == 3
    assert table.loc["VTE", "mean"] == pytest.approx(3.0) and table.loc["VTE", "n"] == 2

    curves = [pd.DataFrame({"ranking": ["activity", "random"], "fraction": [0.5, 0.5], "mode": "zero",
                            "accuracy": [0.8 + d, 0.6 + d]}) for d in (-0.1, 0.0, 0.1)]
    table = analysis.across_seeds(None, curves, by=["ranking", "fraction"])
    assert table.index.names == ["ranking", "fraction", "column"]
    row = table.loc[("activity", 0.5, "accuracy")]
    assert row["mean"] == pytest.approx(0.8) and row["std"] == pytest.approx(0.1)
    assert row["ci_high"] == pytest.approx(0.8 + T_975_2 * 0.1 / np.sqrt(3))

    arrays = [xr.DataArray([1.0, 10.0 + d], dims="layer", coords={"layer": [0, 1]}) for d in (-1, 0, 1)]
    result = analysis.across_seeds(None, arrays)
    assert result.dims == ("statistic", "layer")
    assert float(result.sel(statistic="mean", layer=1)) == pytest.approx(10.0)
    assert float(result.sel(statistic="std", layer=1)) == pytest.approx(1.0)
    assert float(result.sel(statistic="std", layer=0)) == 0.0


def test_an_analysis_over_seeds_of_runs():
    runs = [examples.toy_run(seed=s) for s in range(3)]
    result = analysis.across_seeds(lambda r: analysis.specialisation(r), runs)
    assert isinstance(result, xr.Dataset) and "preferred_class" not in result  # strings dropped
    values = [float(analysis.specialisation(r)["specialisation"][0]) for r in runs]
    assert float(result["specialisation"].sel(statistic="mean")[0]) == pytest.approx(np.mean(values))


def test_across_seeds_errors_say_how_to_fix():
    with pytest.raises(TypeError, match="must return a number, a pandas Series or DataFrame"):
        analysis.across_seeds(lambda r: "high", [1, 2])
    with pytest.raises(ValueError, match="at least one item"):
        analysis.across_seeds(None, [])
    with pytest.raises(ValueError, match=r"'confidence' parameter of across_seeds must be a number in \(0, 1\)"):
        analysis.across_seeds(None, [1.0, 2.0], confidence=95)
    with pytest.raises(TypeError, match="results of different kinds"):
        analysis.across_seeds(None, [1.0, pd.Series({"a": 1.0})])
    with pytest.raises(ValueError, match="'by' parameter"):
        analysis.across_seeds(None, [pd.DataFrame({"a": [1.0]})], by="nope")


# --------------------------------------------------------------------------------------------- fit_many


@pytest.fixture(scope="module")
def frames(one_torch_thread, small_frames):
    return small_frames


def _make(frames):
    return partial(RNNClassifier, "gru", input_size=frames.sizes["feature"], hidden_size=4, num_classes=5,
                   class_names=frames.attrs["class_names"])


def _same_weights(a, b):
    return all(torch.equal(pa, pb) for pa, pb in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.fixture(scope="module")
def serial(frames):
    return train.fit_many(_make(frames), frames, seeds=[0, 1, 2], epochs=1, batch_size=2, progress=False)


def test_fit_many_trains_one_model_per_seed_reproducibly(frames, serial):
    assert [m.info["training"]["seed"] for m in serial] == [0, 1, 2]
    assert not _same_weights(serial[0], serial[1])  # inits differ by seed
    again = train.fit_many(_make(frames), frames, seeds=[1], epochs=1, batch_size=2, progress=False)
    assert _same_weights(again[0], serial[1])


def test_fit_many_on_an_executor_equals_the_serial_models_bit_for_bit(frames, serial):
    with ThreadPoolExecutor(max_workers=2) as pool:
        parallel = train.fit_many(_make(frames), frames, seeds=[0, 1, 2], executor=pool, epochs=1, batch_size=2,
                                  progress=False)
    assert all(_same_weights(a, b) for a, b in zip(serial, parallel, strict=True))


def test_fit_many_tasks_are_picklable_for_process_executors(frames):
    payload = {"make_model": _make(frames), "dataset": frames, "seed": 0, "threads": 1, "device": "cpu",
               "fit_kwargs": {"epochs": 1}}
    assert pickle.loads(pickle.dumps(train._seeds._fit_seed_task)) is train._seeds._fit_seed_task
    assert pickle.loads(pickle.dumps(payload))["seed"] == 0


def test_fit_many_refuses_bad_seeds(frames):
    with pytest.raises(ValueError, match="'seeds' parameter of fit_many must be a list of integers"):
        train.fit_many(_make(frames), frames, seeds=3)
    with pytest.raises(ValueError, match="duplicated seeds"):
        train.fit_many(_make(frames), frames, seeds=[1, 1])
    with pytest.raises(TypeError, match="'seed' is set by fit_many"):
        train.fit_many(_make(frames), frames, seeds=[1], seed=2)

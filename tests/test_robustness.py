"""Cross-cutting robustness: bad input gets a clear error, results are reproducible (docs/robustness.md)."""
import numpy as np
import pytest
import torch

import rnnscope
from rnnscope.data import from_arrays

NAMES = ["SIL", "TRE", "LP", "VTE", "HYB"]


def test_nan_and_inf_samples_are_refused_with_the_record_and_sample():
    x = np.zeros(1000)
    x[17] = np.nan
    with pytest.raises(ValueError, match=r"record 'rec00001' has 1 NaN or infinite samples \(first at sample 17\)"):
        from_arrays([np.ones(1000), x], [np.zeros(1000, int)] * 2, sampling_rate=100.0, class_names=NAMES)
    x[17] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        from_arrays([x], [np.zeros(1000, int)], sampling_rate=100.0, class_names=NAMES)


def test_constant_and_all_zero_traces_warn_and_give_finite_features():
    with pytest.warns(RuntimeWarning, match=r"record 'rec00000' is constant \(0 in all 1000 samples\)"):
        records = from_arrays([np.zeros(1000)], [np.zeros(1000, int)], sampling_rate=100.0, class_names=NAMES)
    frames = rnnscope.features.compute(records)
    assert np.isfinite(frames.features.values[0, : int(frames.length[0])]).all()


def test_integer_samples_are_accepted():
    records = from_arrays([np.arange(1000, dtype=np.int32) % 7], [np.zeros(1000, int)], sampling_rate=100.0,
                          class_names=NAMES)
    assert records.waveform.dtype == np.float32


def test_an_empty_dataset_is_refused_everywhere():
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    empty = frames.isel(event=[])
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=4, num_classes=5)
    for call in (lambda: rnnscope.train.fit(model, empty, epochs=1, progress=False),
                 lambda: rnnscope.train.evaluate(model, empty),
                 lambda: rnnscope.capture(model, empty, progress=False)):
        with pytest.raises(ValueError, match="no record"):
            call()


def test_the_same_seed_gives_identical_arrays_on_the_cpu():
    def once():
        frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=6, seed=5))
        torch.manual_seed(5)
        model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=6, num_classes=5)
        rnnscope.train.fit(model, frames, epochs=2, seed=5, threads=2, progress=False)
        return rnnscope.capture(model, frames, progress=False)

    a, b = once(), once()
    for name in ("features", "h", "update_gate", "prob", "pred", "summary_heat"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert a.attrs["seed"] == 5 and "torch" in a.attrs["versions"]


def test_a_model_and_data_with_different_classes_are_refused():
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0))
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=4, num_classes=5,
                                          class_names=["SIL", "TRE", "LP", "VTE", "EQ"])
    with pytest.raises(ValueError, match="HYB") as info:
        rnnscope.capture(model, frames, progress=False)
    assert "EQ" in str(info.value)

"""Controls: untrained twin of a model, labels shuffled among segments, trained/untrained/shuffled side by side."""
import copy
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from rnnscope import analysis, experiments, train
from rnnscope.models import RNNClassifier
from rnnscope.schema import segment_frames


@pytest.fixture(scope="module")
def frames(one_torch_thread, small_frames):
    return small_frames


def _make(frames, cell="gru"):
    return partial(RNNClassifier, cell, input_size=frames.sizes["feature"], hidden_size=4, num_classes=5,
                   class_names=frames.attrs["class_names"])


# --------------------------------------------------------------------------------------------- shuffle_labels


def test_shuffle_labels_keeps_boundaries_and_class_counts_and_frame_labels_follow(frames):
    before = copy.deepcopy(frames)
    shuffled = experiments.shuffle_labels(frames, seed=3)
    xr.testing.assert_identical(frames, before)  # input untouched
    for name in ("segment_event_id", "segment_start", "segment_end", "segment_p", "segment_s"):
        xr.testing.assert_identical(shuffled[name], frames[name])
    old, new = frames.segment_class.values, shuffled.segment_class.values
    assert sorted(old.tolist()) == sorted(new.tolist())  # class counts of segments
    assert (old != new).any()
    assert shuffled.attrs["label_shuffle"] == {"seed": 3, "unshuffled": []}
    table = segment_frames(frames)
    inside = np.zeros(frames.label.shape, dtype=bool)
    for seg, e, a, b in table[["segment", "event", "frame_start", "frame_stop"]].to_numpy():
        labels = shuffled.label.values[e, a:b]
        known = frames.label.values[e, a:b] >= 0
        assert (labels[known] == new[seg]).all()
        inside[e, a:b] = True
    unchanged = ~inside | (frames.label.values < 0)
    np.testing.assert_array_equal(shuffled.label.values[unchanged], frames.label.values[unchanged])
    # sample labels follow too: the frame label is the label of the frame's centre sample
    times = frames.time.values
    centre = np.searchsorted(frames.sample_time.values, times)
    for e in range(frames.sizes["event"]):
        n = int(frames.length[e])
        np.testing.assert_array_equal(shuffled.sample_label.values[e, centre[:n]], shuffled.label.values[e, :n])
    xr.testing.assert_identical(experiments.shuffle_labels(frames, seed=3), shuffled)  # seeded


def test_shuffle_labels_can_keep_the_background(frames):
    shuffled = experiments.shuffle_labels(frames, seed=1, unshuffled="SIL")
    old, new = frames.segment_class.values, shuffled.segment_class.values
    sil = frames.attrs["class_names"].index("SIL")
    np.testing.assert_array_equal(new[old == sil], old[old == sil])
    assert sorted(new[old != sil].tolist()) == sorted(old[old != sil].tolist())
    with pytest.raises(ValueError, match=r"'unshuffled' parameter of shuffle_labels must name classes"):
        experiments.shuffle_labels(frames, unshuffled="NOISE")
    with pytest.raises(ValueError, match="needs a segment table|lacks"):
        experiments.shuffle_labels(frames.drop_vars("segment_class"))


# --------------------------------------------------------------------------------------------- untrained_like


def test_untrained_like_has_the_architecture_but_not_the_weights(frames):
    make = _make(frames, "lstm")
    model = train.fit_many(make, frames, seeds=[5], epochs=1, progress=False)[0]
    state = torch.random.get_rng_state()
    fresh = experiments.untrained_like(model, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's random state is untouched
    assert type(fresh) is type(model)
    shapes = [(k, v.shape) for k, v in model.state_dict().items()]
    assert [(k, v.shape) for k, v in fresh.state_dict().items()] == shapes
    keys = ("cells", "hidden_size", "num_layers", "input_size", "class_names")
    assert {k: fresh.config[k] for k in keys} == {k: model.config[k] for k in keys}
    weights = [k for k in model.state_dict() if not k.startswith("feature_")]
    assert all(not torch.equal(fresh.state_dict()[k], model.state_dict()[k]) for k in weights if "weight" in k)
    assert torch.equal(fresh.feature_mean, model.feature_mean)  # the normaliser is data preprocessing: kept
    assert "training" not in fresh.info and fresh.info["control"] == "untrained"
    torch.manual_seed(5)  # with the training seed: the trained model's own starting point
    start = make()
    assert all(torch.equal(fresh.state_dict()[k], start.state_dict()[k]) for k in weights)
    other = experiments.untrained_like(model, seed=6)
    assert not torch.equal(other.head.weight, fresh.head.weight)
    reset = experiments.untrained_like(model, keep_normalizer=False)
    assert torch.equal(reset.feature_mean, torch.zeros_like(reset.feature_mean))
    with pytest.raises(TypeError, match="must be an rnnscope model"):
        experiments.untrained_like(torch.nn.Linear(2, 2))


# --------------------------------------------------------------------------------------------- side by side


def test_compare_controls_puts_the_three_models_side_by_side(frames):
    table = experiments.compare_controls(_make(frames), frames, fn=analysis.frame_accuracy, seeds=(0,), epochs=1,
                                         capture_kwargs={"var": ["h"]}, progress=False)
    assert list(table.index) == ["trained", "untrained", "shuffled_labels"]
    assert (table["n"] == 1).all() and table["mean"].between(0, 1).all()
    per_layer = experiments.compare_controls(_make(frames), frames,
                                             fn=lambda r: analysis.unit_activity(r)["mean_abs"].mean("unit"),
                                             seeds=(0,), epochs=1, capture_kwargs={"var": ["h"]}, progress=False)
    assert per_layer.dims[:2] == ("control", "statistic")
    assert isinstance(per_layer, xr.DataArray) and per_layer.sizes["control"] == 3
    assert isinstance(table, pd.DataFrame)

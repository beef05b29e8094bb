"""Training, evaluation, folds and sweeps."""
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

import rnnscope
from rnnscope import train
from rnnscope.models import RNNClassifier


@pytest.fixture(scope="module")
def frames(make_frames):
    return make_frames(16, seed=3)


def _tiny(frames, cell="lstm", hidden=8):
    return RNNClassifier(cell, input_size=frames.sizes["feature"], hidden_size=hidden, num_classes=5,
                         class_names=frames.attrs["class_names"])


def test_fit_learns_and_is_reproducible_for_a_seed(frames):
    torch.manual_seed(0)
    a = _tiny(frames)
    torch.manual_seed(0)
    b = _tiny(frames)
    ha = train.fit(a, frames, epochs=4, batch_size=4, seed=1, threads=2, progress=False)
    hb = train.fit(b, frames, epochs=4, batch_size=4, seed=1, threads=2, progress=False)
    assert ha["loss"].iloc[-1] < ha["loss"].iloc[0]
    pd.testing.assert_frame_equal(ha.drop(columns="seconds"), hb.drop(columns="seconds"))
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert a.info["training"]["epochs_run"] == 4 and a.info["training"]["seed"] == 1


def test_normaliser_is_fitted_on_training_records_only(frames):
    model = _tiny(frames)
    sub = rnnscope.data.select_records(frames, [0, 1, 2])
    train.fit(model, sub, epochs=1, progress=False)
    x = np.concatenate([sub.features.values[i, : int(sub.length[i])] for i in range(3)])
    np.testing.assert_allclose(model.feature_mean.numpy(), x.mean(0), rtol=1e-4, atol=1e-4)


def test_padded_and_unknown_frames_do_not_enter_the_loss():
    logits = torch.randn(2, 5, 3, requires_grad=True)
    y = torch.tensor([[0, 1, 2, -1, -1], [2, -1, 1, 1, 0]])

    class Fixed(torch.nn.Module):
        def forward(self, x):
            return logits

    loss, hits, n = train._fit._loss_and_hits(Fixed(), torch.zeros(2, 5, 1), y, None, "cpu")
    valid = y >= 0
    expected = torch.nn.functional.cross_entropy(logits[valid], y[valid])
    assert torch.allclose(loss, expected) and int(n) == 7
    assert int(hits) == int((logits.argmax(-1) == y)[valid].sum())


def test_record_folds_never_split_and_put_rare_classes_in_every_fold(frames):
    labels = [frames.label.values[i, : int(frames.length[i])].astype(int) for i in range(frames.sizes["event"])]
    folds = train.record_folds(labels, folds=4, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(labels)))
    counts = {c: sum(c in set(y.tolist()) for y in labels) for c in range(5)}
    for c, n in counts.items():
        if n >= 4:
            assert all(any(c in set(labels[i].tolist()) for i in f) for f in folds), c


def _constant_model(frames, cls):
    """A model whose head always prefers class ``cls`` (known answer for the scores)."""
    model = _tiny(frames, "rnn", 4)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.fill_(-5.0)
        model.head.bias[cls] = 5.0
    return model


def test_evaluate_scores_a_model_with_a_known_answer(frames):
    lp = frames.attrs["class_names"].index("LP")
    scores = train.evaluate(_constant_model(frames, lp), frames)
    valid = frames.label.values[frames.label.values >= 0]
    assert scores.accuracy == pytest.approx(np.mean(valid == lp))
    assert scores.per_class.loc["LP", "recall"] == 1.0
    assert scores.per_class.loc["SIL", "recall"] == 0.0
    assert scores.confusion.loc["SIL", "LP"] == np.sum(valid == 0)
    assert scores.confusion.values.sum() == valid.size
    lp_events = scores.events[scores.events.class_name == "LP"]
    # the whole record is predicted LP: every LP segment is detected and its onset error is
    # (first frame start) - (true start) = (2.0 - 0.25) - start
    assert lp_events.detected.all()
    np.testing.assert_allclose(lp_events.onset_error_s, 1.75 - lp_events.start)
    assert not scores.events[scores.events.class_name == "VTE"].detected.any()


def test_classes_are_matched_by_name(frames):
    model = _constant_model(frames, 2)
    reordered = frames.copy()
    names = frames.attrs["class_names"]
    new_names = names[::-1]
    mapping = np.array([new_names.index(n) for n in names] + [-1])
    reordered["label"] = (("event", "time"), mapping[frames.label.values].astype(np.int16))
    reordered["segment_class"] = ("segment", mapping[frames.segment_class.values].astype(np.int16))
    reordered.attrs = {**frames.attrs, "class_names": new_names}
    a, b = train.evaluate(model, frames), train.evaluate(model, reordered)
    assert a.accuracy == b.accuracy
    pd.testing.assert_frame_equal(a.confusion, b.confusion)
    other = frames.copy()
    other.attrs = {**frames.attrs, "class_names": ["SIL", "TRE", "LP", "VTE", "EQ"]}
    with pytest.raises(ValueError, match="EQ"):
        train.evaluate(model, other)


def test_wrong_feature_count_and_empty_data_are_refused(frames):
    model = RNNClassifier("lstm", input_size=10, hidden_size=4, num_classes=5)
    with pytest.raises(ValueError, match="expects 10 features per frame but the Dataset has 48"):
        train.fit(model, frames, epochs=1, progress=False)
    with pytest.raises(ValueError, match="no record"):
        train.evaluate(_tiny(frames), frames.isel(event=[]))


def test_early_stopping_restores_the_best_weights(frames):
    model = _tiny(frames)
    history = train.fit(model, frames, epochs=6, lr=0.05, validation=0.25, early_stopping=2, seed=0, progress=False)
    best = int(history["val_loss"].idxmin())
    assert len(history) <= 6
    assert model.info["training"]["best_epoch"] == best + 1
    with pytest.raises(ValueError, match="early_stopping needs validation"):
        train.fit(model, frames, epochs=1, early_stopping=2, progress=False)


def test_cross_validate_gives_the_table_one_layout_with_the_paper_tables_scores(frames):
    """Layout changed (issue 24): the paper tables' scores, record counts and the corrected interval's rows."""
    table = train.cross_validate(partial(_tiny, frames), frames, folds=4, epochs=1, return_models=True,
                                 progress=False)
    assert list(table.index) == [1, 2, 3, 4, "average", "ci_low", "ci_high"]
    assert list(table.columns) == ["accuracy", "balanced_accuracy", "macro_f1", "detection_rate", "onset_error_s",
                                   "n_parameters", "train_time_s", "n_train_records", "n_test_records", "model"]
    parts = table.loc[[1, 2, 3, 4]]
    assert table.loc["average", "accuracy"] == pytest.approx(parts["accuracy"].mean())
    assert (parts["n_parameters"] == _tiny(frames).n_parameters).all()
    assert (parts["n_train_records"] + parts["n_test_records"] == 16).all()
    assert parts["n_test_records"].sum() == 16  # every record tested once
    for score in ("balanced_accuracy", "macro_f1"):
        expected = train.corrected_interval(parts[score].astype(float), n_train=parts["n_train_records"],
                                            n_test=parts["n_test_records"])
        assert table.loc["ci_low", score] == pytest.approx(expected["ci_low"])
        assert table.loc["ci_high", score] == pytest.approx(expected["ci_high"])
    # each row is evaluate's summary of the fold's model on its test records: the one definition of the scores
    folds = train.record_folds(frames, folds=4, seed=0)
    for k, test_idx in enumerate(folds, start=1):
        test = rnnscope.data.select_records(frames, test_idx)
        model = table.loc[k, "model"]
        summary = train.evaluate(model, test, device="cpu").summary()
        for score, value in summary.items():
            assert table.loc[k, score] == pytest.approx(value, nan_ok=True), (k, score)
        true = np.concatenate([test.label.values[i, : int(test.length[i])] for i in range(len(test_idx))])
        predicted = np.concatenate([p.argmax(-1) for p in train.predict(model, test, device="cpu")])
        by_hand = train.frame_scores(true, predicted)
        assert table.loc[k, "balanced_accuracy"] == pytest.approx(by_hand["balanced_accuracy"])
        assert table.loc[k, "n_test_records"] == len(test_idx)


def test_cross_validate_scores_the_baselines_on_the_same_partitions(frames):
    table = train.cross_validate(partial(_tiny, frames), frames, folds=2, epochs=1, model_name="tiny lstm",
                                 baselines={"linear": {"estimator": "logistic"}}, progress=False)
    assert table.index.names == ["name", "partition"]
    assert list(table.index.get_level_values("name").unique()) == ["tiny lstm", "linear"]
    folds = train.record_folds(frames, folds=2, seed=0)
    for k, test_idx in enumerate(folds, start=1):
        train_idx = np.setdiff1d(np.arange(16), test_idx)
        expected = train.frame_baseline(frames, train_idx=train_idx, test_idx=test_idx, estimator="logistic")
        for score in ("accuracy", "balanced_accuracy", "macro_f1"):
            assert table.loc[("linear", k), score] == pytest.approx(expected[score])
    assert np.isnan(table.loc[("linear", 1), "detection_rate"])  # a baseline predicts frames, not events
    summary = train.fold_summary(table, scores="accuracy")
    assert summary["name"].tolist() == ["tiny lstm", "linear"] and summary["n_partitions"].tolist() == [2, 2]
    with pytest.raises(ValueError, match="the named baselines are"):
        train.cross_validate(partial(_tiny, frames), frames, folds=2, epochs=1, baselines=["forest"], progress=False)
    with pytest.raises(ValueError, match="give baseline 'one-frame logistic' its own class_weight"):
        train.cross_validate(partial(_tiny, frames), frames, folds=2, epochs=1, baselines=["one-frame logistic"],
                             class_weights=[1, 2, 3, 4, 5], progress=False)


def test_sweep_runs_a_list_of_grids_with_seeds_and_resumes_from_its_checkpoint(frames, tmp_path, monkeypatch):
    grid = [{"cell": ["rnn"], "hidden_size": [3]}, {"cell": ["gru"], "hidden_size": [4]}]
    path = tmp_path / "sweep.csv"
    table = train.sweep(grid, frames, folds=2, seeds=[0, 1], epochs=1, batch_size=8, checkpoint=path,
                        baselines=["one-frame logistic"], progress=False)
    assert list(table.columns[:5]) == ["name", "cell", "hidden_size", "seed", "partition"]
    assert table.groupby("name", sort=False).size().to_dict() == {
        "cell=rnn, hidden_size=3": 4, "cell=gru, hidden_size=4": 4, "one-frame logistic": 2}
    assert set(table[table.name == "one-frame logistic"].seed) == {0}  # baselines: the first seed
    seed_0, seed_1 = (table[(table.name == "cell=rnn, hidden_size=3") & (table.seed == s)] for s in (0, 1))
    assert not np.allclose(seed_0.accuracy, seed_1.accuracy)  # another seed trains another model
    assert len(pd.read_csv(path)) == 10
    # a finished sweep is read back from the checkpoint without training anything
    monkeypatch.setattr(train._folds, "_fold_task", lambda payload: pytest.fail("a task ran again"))
    again = train.sweep(grid, frames, folds=2, seeds=[0, 1], epochs=1, batch_size=8, checkpoint=path,
                        baselines=["one-frame logistic"], progress=False)
    cols = ["name", "seed", "partition", "accuracy", "balanced_accuracy", "macro_f1", "n_test_records"]
    pd.testing.assert_frame_equal(table[cols], again[cols], check_dtype=False)
    monkeypatch.undo()
    # an interrupted one reruns only the rows it lacks, with the same numbers
    pd.read_csv(path).iloc[:7].to_csv(path, index=False)
    resumed = train.sweep(grid, frames, folds=2, seeds=[0, 1], epochs=1, batch_size=8, checkpoint=path,
                          baselines=["one-frame logistic"], progress=False)
    pd.testing.assert_frame_equal(table[cols], resumed[cols], check_dtype=False)
    with pytest.raises(ValueError, match="'seed' is not a grid key"):
        train.sweep({"cell": ["rnn"], "seed": [0, 1]}, frames, folds=2, epochs=1, progress=False)


@pytest.mark.slow
def test_sweep_on_a_dask_cluster_equals_the_serial_sweep(frames):
    from dask.distributed import Client, LocalCluster

    grid = {"cell": ["rnn", "gru"], "hidden_size": [4, 6]}
    serial = train.sweep(grid, frames, folds=2, epochs=1, batch_size=8, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                      processes=True) as cluster, Client(cluster) as client:
        parallel = train.sweep(grid, frames, folds=2, epochs=1, batch_size=8, executor=client.get_executor())
    assert len(serial) == 8
    cols = ["cell", "hidden_size", "partition", "accuracy", "macro_f1", "n_parameters"]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])


def test_threads_pin_the_call_not_the_session(frames):
    before = torch.get_num_threads()
    train.fit(_tiny(frames), frames, epochs=1, threads=1, progress=False)
    train.sweep({"cell": ["rnn"], "hidden_size": [4]}, frames, folds=2, epochs=1, threads=1, progress=False)
    assert torch.get_num_threads() == before


def test_training_leaves_the_callers_random_generators_alone(frames):
    """fit, sweep and fit_many seed their own work, never the session: the next draws are those without them."""
    import random

    def draws():
        return random.random(), float(np.random.rand()), torch.rand(2).tolist()

    rnnscope.seed_everything(11)
    expected = draws()
    rnnscope.seed_everything(11)
    model = _tiny(frames)
    rnnscope.seed_everything(11)
    train.fit(model, frames, epochs=1, seed=3, progress=False, validation=0.3)
    train.sweep({"cell": ["gru"], "hidden_size": [3]}, frames, folds=2, epochs=1, progress=False)
    train.fit_many(lambda: _tiny(frames), frames, seeds=[1], epochs=1, progress=False)
    assert draws() == expected


def test_fit_with_a_seed_gives_the_same_weights_whatever_the_global_state(frames):
    weights = []
    for global_seed in (0, 99):
        rnnscope.seed_everything(5)
        model = _tiny(frames)  # same initial weights
        rnnscope.seed_everything(global_seed)  # the session's state differs between the two fits
        train.fit(model, frames, epochs=2, seed=1, progress=False)
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


# --------------------------------------------------------------------------------------------- baselines


def _hand_made_frames(x, y):
    """A features Dataset from per-record feature arrays (event, time, feature) and labels (event, time)."""
    import xarray as xr

    n_events, n_time = y.shape
    return xr.Dataset({"features": (("event", "time", "feature"), x.astype(np.float32)),
                       "label": (("event", "time"), y.astype(np.int16))},
                      coords={"length": ("event", np.full(n_events, n_time))})


def test_frame_scores_by_hand():
    # 6 frames of class 0, 2 of class 1 predicted right once: recall 5/6 and 1/2
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, -1])
    p = np.array([0, 0, 0, 0, 0, 1, 1, 0, 1])
    scores = train.frame_scores(y, p)
    assert scores["accuracy"] == pytest.approx(6 / 8)
    assert scores["balanced_accuracy"] == pytest.approx((5 / 6 + 1 / 2) / 2)
    f0 = 2 * (5 / 6) * (5 / 6) / (5 / 6 + 5 / 6)  # precision 5/6, recall 5/6
    f1 = 2 * (1 / 2) * (1 / 2) / (1 / 2 + 1 / 2)
    assert scores["macro_f1"] == pytest.approx((f0 + f1) / 2)


def test_nonlinear_one_frame_baseline_sees_what_the_linear_one_cannot():
    # class 1 when |x| > 1: no line separates it, a tree does at once
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(20, 60, 1))
    frames = _hand_made_frames(x, (np.abs(x[..., 0]) > 1).astype(int))
    linear = train.frame_baseline(frames, train_idx=np.arange(15), test_idx=np.arange(15, 20), estimator="logistic")
    boosting = train.frame_baseline(frames, train_idx=np.arange(15), test_idx=np.arange(15, 20), estimator="boosting")
    assert linear["balanced_accuracy"] < 0.7 and boosting["balanced_accuracy"] > 0.95
    assert boosting["n_test_frames"] == 5 * 60


def test_context_window_baseline_sees_the_past_frames():
    # the class of frame t is the sign of frame t - 1: one frame says nothing, a window of 2 says everything
    rng = np.random.default_rng(1)
    x = rng.choice([-1.0, 1.0], size=(20, 60, 1))
    y = np.full((20, 60), -1)
    y[:, 1:] = (x[:, :-1, 0] > 0).astype(int)  # frame 0 has no past: unknown label
    frames = _hand_made_frames(x, y)
    one = train.frame_baseline(frames, train_idx=np.arange(15), test_idx=np.arange(15, 20), estimator="boosting")
    window = train.frame_baseline(frames, train_idx=np.arange(15), test_idx=np.arange(15, 20), estimator="boosting",
                                  context=1)
    assert one["balanced_accuracy"] < 0.65 and window["balanced_accuracy"] == pytest.approx(1.0)
    assert window["n_train_frames"] == 15 * 59
    with pytest.raises(ValueError, match="The 'context' parameter of frame_baseline must be an integer >= 0"):
        train.frame_baseline(frames, train_idx=np.arange(15), test_idx=np.arange(15, 20), context=-1)
    with pytest.raises(ValueError, match="The 'estimator' parameter of frame_baseline must be one of"):
        train.frame_baseline(frames, train_idx=np.arange(15), test_idx=np.arange(15, 20), estimator="forest")


# --------------------------------------------------------------------------------------------- one epoch loop


def _reference_epoch(model, records, optimiser, weights, batch_size, rng):
    """The epoch loop fit and retrain each had before they shared ``_train_epoch`` (issue 26), kept verbatim as the
    reference the shared loop must match bit for bit."""
    from rnnscope.train._fit import _loss_and_hits
    from rnnscope.train._records import _batches

    model.train()
    total, frames = 0.0, 0
    for _, x, y in _batches(records, batch_size, rng):
        optimiser.zero_grad(set_to_none=True)
        loss, _, n = _loss_and_hits(model, x, y, weights, "cpu")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        total += loss.item() * int(n)
        frames += int(n)
    return total / frames


def test_fit_gives_the_weights_of_the_loop_it_had_before_sharing_it_with_retrain(frames):
    from rnnscope._seed import seeded
    from rnnscope.train._fit import _class_weights
    from rnnscope.train._records import _records

    # eight records in batches of four, two epochs: several shuffled batches, and an epoch that carries the
    # optimiser's and the shuffle's state over from the one before (all a bit-for-bit comparison needs)
    frames = rnnscope.data.select_records(frames, range(8))
    rnnscope.seed_everything(2)
    shared = _tiny(frames, "gru", 6)
    reference = _tiny(frames, "gru", 6)
    reference.load_state_dict(shared.state_dict())
    history = train.fit(shared, frames, epochs=2, batch_size=4, lr=0.01, seed=7, device="cpu", progress=False)
    losses = []
    with seeded(7) as rng:
        records = _records(reference, frames, "fit")
        reference.fit_normalizer(records.x)
        weights = _class_weights(records, "balanced", 5)
        optimiser = torch.optim.Adam(reference.parameters(), lr=0.01)
        for _ in range(2):
            losses.append(_reference_epoch(reference, records, optimiser, weights, 4, rng))
    assert history["loss"].tolist() == losses
    for (name, a), b in zip(shared.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_retrain_fine_tunes_with_the_loop_it_had_before_sharing_it_with_fit(frames):
    import math

    from rnnscope.train._fit import _class_weights
    from rnnscope.train._records import _Records, _records
    from rnnscope.train._retrain import _fine_tune

    model = _tiny(frames, "lstm", 5)
    train.fit(model, frames, epochs=1, progress=False)
    reference = _tiny(frames, "lstm", 5)
    reference.load_state_dict(model.state_dict())
    reviewed, original = (rnnscope.data.select_records(frames, idx) for idx in (range(0, 5), range(5, 16)))
    history = _fine_tune(model, reviewed, original, None, None, epochs=3, lr=1e-3, replay=1.0, batch_size=4,
                         grad_clip=1.0, rng=np.random.default_rng(3), device="cpu", progress=False, func="retrain")
    rng = np.random.default_rng(3)
    mine, old = _records(reference, reviewed, "retrain"), _records(reference, original, "retrain")
    weights = _class_weights(_Records(mine.x + old.x, mine.y + old.y, mine.class_names), "balanced", 5)
    optimiser = torch.optim.Adam(reference.parameters(), lr=1e-3)
    n_replay = min(len(old), math.ceil(1.0 * len(mine)))
    losses = []
    for _ in range(3):
        picked = rng.choice(len(old), size=n_replay, replace=False)
        batch = _Records(mine.x + [old.x[i] for i in picked], mine.y + [old.y[i] for i in picked], mine.class_names)
        losses.append(_reference_epoch(reference, batch, optimiser, weights, 4, rng))
    assert history["loss"].tolist() == losses
    for (name, a), b in zip(model.state_dict().items(), reference.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


# --------------------------------------------------------------------------------------------- intervals

T_975_3 = 3.182446305284263  # Student t quantile 0.975, 3 degrees of freedom


def test_corrected_interval_by_hand():
    # four partitions of a 4-fold split: 180 training and 60 test records each
    values = [0.02, 0.05, 0.08, 0.05]
    # mean 0.05; sample variance (0.03^2 + 0 + 0.03^2 + 0) / 3 = 0.0006; factor 1/4 + 60/180 = 7/12
    sem = np.sqrt(0.0006 * 7 / 12)
    stats = train.corrected_interval(values, n_train=180, n_test=60)
    assert stats["mean"] == pytest.approx(0.05) and stats["n"] == 4
    assert stats["sem"] == pytest.approx(sem)
    assert stats["ci_low"] == pytest.approx(0.05 - T_975_3 * sem)
    assert stats["ci_high"] == pytest.approx(0.05 + T_975_3 * sem)
    assert stats["ci_low"] < 0 < stats["ci_high"]  # the plain interval, [0.011, 0.089], would exclude 0
    assert stats.attrs["variance_factor"] == pytest.approx(7 / 12)
    from scipy import stats as sps

    assert stats["p"] == pytest.approx(2 * sps.t.sf(0.05 / sem, 3))
    # n_test = 0: the plain Student-t interval of independent repetitions (that of analysis.across_seeds)
    plain = train.corrected_interval(values, n_train=1, n_test=0)
    seeds = rnnscope.analysis.across_seeds(None, values)
    assert plain["ci_low"] == pytest.approx(seeds["ci_low"]) and plain["ci_high"] == pytest.approx(seeds["ci_high"])
    assert plain["p"] == pytest.approx(sps.ttest_1samp(values, 0).pvalue)
    # one count per partition: the ratio of their means; NaN values are left out with their counts
    uneven = train.corrected_interval([0.02, 0.05, np.nan, 0.08], n_train=[170, 190, 0, 180], n_test=[70, 50, 0, 60])
    assert uneven["n"] == 3 and uneven.attrs["variance_factor"] == pytest.approx(1 / 3 + 60 / 180)
    assert np.isnan(train.corrected_interval([0.5], n_train=3, n_test=1)["ci_low"])
    with pytest.raises(ValueError, match="n_train must be positive"):
        train.corrected_interval(values, n_train=0, n_test=60)
    with pytest.raises(ValueError, match="The 'confidence' parameter of corrected_interval must be a number in"):
        train.corrected_interval(values, n_train=180, n_test=60, confidence=95)


def _fold_table(rows):
    return pd.DataFrame(rows, columns=["name", "seed", "partition", "accuracy", "n_train_records", "n_test_records"])


def test_fold_summary_and_differences_pair_seeds_partitions_and_baselines_by_hand():
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.02)):
        for part, acc in zip((1, 2, 3, 4), (0.80, 0.84, 0.78, 0.82), strict=True):
            rows.append(("lstm", seed, part, acc + shift, 12, 4))
            rows.append(("rnn", seed, part, acc + shift - 0.10 - 0.01 * part, 12, 4))
    for part, acc in zip((1, 2, 3, 4), (0.70, 0.70, 0.72, 0.70), strict=True):
        rows.append(("linear", 0, part, acc, 12, 4))  # a baseline: one seed
    table = _fold_table(rows)
    summary = train.fold_summary(table).set_index("name")
    # lstm: per-partition seed means 0.81, 0.85, 0.79, 0.83
    expected = train.corrected_interval([0.81, 0.85, 0.79, 0.83], n_train=12, n_test=4)
    assert summary.loc["lstm", "mean"] == pytest.approx(0.82)
    assert summary.loc["lstm", "ci_low"] == pytest.approx(expected["ci_low"])
    assert summary.loc["lstm", "n_seeds"] == 2 and summary.loc["lstm", "seed_sd"] == pytest.approx(0.02 / np.sqrt(2))
    assert summary.loc["linear", "n_seeds"] == 1 and np.isnan(summary.loc["linear", "seed_sd"])

    diffs = train.fold_differences(table).set_index(["a", "b"])
    assert list(diffs.index) == [("lstm", "rnn"), ("lstm", "linear"), ("rnn", "linear")]
    d = diffs.loc[("lstm", "rnn")]
    # the same seed and partition: differences 0.11, 0.12, 0.13, 0.14 in both seeds
    by_hand = train.corrected_interval([0.11, 0.12, 0.13, 0.14], n_train=12, n_test=4)
    assert d["difference"] == pytest.approx(0.125) and d["ci_low_partitions"] == pytest.approx(by_hand["ci_low"])
    assert d["n_seeds"] == 2 and d["ci_low_seeds"] == pytest.approx(0.125)  # both seeds give 0.125: no spread
    # the baseline pairs with every seed of the lstm on its partition: lstm seed means - baseline
    b = diffs.loc[("lstm", "linear")]
    assert b["difference"] == pytest.approx(np.mean([0.11, 0.15, 0.07, 0.13]))
    # p: the larger of the two tests; Holm over the 3 comparisons of the score
    p = diffs["p"].to_numpy()
    order = np.argsort(p)
    holm = np.maximum.accumulate(np.sort(p) * np.array([3, 2, 1]))
    np.testing.assert_allclose(diffs["p_adjusted"].to_numpy()[order], np.minimum(holm, 1))
    assert (diffs["n_comparisons"] == 3).all()
    assert (diffs["shown"] == (diffs["p_adjusted"] < 0.05)).all()
    bonferroni = train.fold_differences(table, correction="bonferroni")
    np.testing.assert_allclose(bonferroni["p_adjusted"], np.minimum(diffs["p"].to_numpy() * 3, 1))
    only = train.fold_differences(table, pairs=[("rnn", "lstm")])
    assert len(only) == 1 and only["difference"].iloc[0] == pytest.approx(-0.125) and only["n_comparisons"].iloc[0] == 1
    with pytest.raises(ValueError, match=r"pairs name configurations \['tcn'\] the table does not have"):
        train.fold_differences(table, pairs=[("lstm", "tcn")])
    with pytest.raises(ValueError, match="The 'correction' parameter of fold_differences must be one of"):
        train.fold_differences(table, correction="fdr")


def test_fold_summary_without_record_counts_assumes_equal_folds():
    table = pd.DataFrame({"partition": [1, 2, 3, 4], "accuracy": [0.70, 0.75, 0.80, 0.75]})
    summary = train.fold_summary(table)
    expected = train.corrected_interval([0.70, 0.75, 0.80, 0.75], n_train=3, n_test=1)  # 4 folds: 1/3
    assert summary["ci_low"].iloc[0] == pytest.approx(expected["ci_low"])
    with pytest.raises(ValueError, match="no 'partition' column"):
        train.fold_summary(pd.DataFrame({"accuracy": [0.5]}))
    with pytest.raises(ValueError, match=r"The 'by' parameter of fold_summary names columns \['cell'\] the table"):
        train.fold_summary(table, by="cell")
    with pytest.raises(ValueError, match=r"fold_summary: the table has no column \['f1'\]"):
        train.fold_summary(table, scores=["f1"])


# --------------------------------------------------------------------------------------------- grouped folds


def _grouped_records(n_groups=6, per_group=3, seed=0):
    """Labels of records from ``n_groups`` stations, ``per_group`` records each; station 0 holds the rare class 2."""
    rng = np.random.default_rng(seed)
    labels, stations = [], []
    for g in range(n_groups):
        for _ in range(per_group + g % 2):
            y = rng.choice([0, 1], size=20)
            if g % 3 == 0:
                y[5:8] = 2
            labels.append(y)
            stations.append(f"XX.S{g:02d}")
    return labels, np.array(stations, dtype=object)


def test_record_folds_never_split_a_group():
    labels, stations = _grouped_records()
    for folds in (2, 3, 4, 6):
        parts = train.record_folds(labels, folds=folds, seed=1, groups=stations)
        assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))
        owner = {}
        for f, part in enumerate(parts):
            for i in part:
                assert owner.setdefault(stations[i], f) == f, f"station {stations[i]} split over folds"
        assert all(len(p) for p in parts)
    parts = train.record_folds(labels, folds=2, seed=1, groups=stations)
    assert all(any(2 in labels[i] for i in p) for p in parts)  # the rare class's two stations: one in each fold
    assert abs(len(parts[0]) - len(parts[1])) <= 4  # sizes balanced up to one group


def test_record_folds_groups_by_a_coordinate_station_or_day():
    labels, stations = _grouped_records(n_groups=4, per_group=2)
    n = len(labels)
    frames = xr.Dataset({"label": (("event", "time"), np.stack(labels).astype(np.int16))},
                        coords={"length": ("event", np.full(n, 20)),
                                "trace_id": ("event", np.array([f"{s}..HHZ" if i % 2 else f"{s}.00.EHZ"
                                                                for i, s in enumerate(stations)], dtype=object)),
                                "starttime": ("event", np.array([f"2024-03-0{1 + i % 3}T0{i % 5}:00:00.000000Z"
                                                                 for i in range(n)], dtype=object)),
                                "survey": ("event", stations)})
    # NET.STA of trace_id: channels and locations merged
    by_station = train.record_folds(frames, folds=2, groups="station")
    for same in (train.record_folds(frames, folds=2, groups="survey"),
                 train.record_folds(labels, folds=2, groups=stations)):
        assert [p.tolist() for p in by_station] == [p.tolist() for p in same]
    by_day = train.record_folds(frames, folds=3, groups="day")
    days = np.array([t[:10] for t in frames.starttime.values])
    assert all(len(set(days[p])) == 1 for p in by_day)
    with pytest.raises(ValueError, match=r"The 'folds' parameter of record_folds must be between 2 and the number of "
                                         r"groups \(3\) \(3 groups: \['2024-03-01', '2024-03-02', '2024-03-03'\]\)"):
        train.record_folds(frames, folds=4, groups="day")
    with pytest.raises(ValueError, match="names 'cruise', but the Dataset has no such variable along 'event'"):
        train.record_folds(frames, folds=2, groups="cruise")
    with pytest.raises(ValueError, match="which needs the features Dataset"):
        train.record_folds(labels, folds=2, groups="station")
    with pytest.raises(ValueError, match="must hold one key per record"):
        train.record_folds(labels, folds=2, groups=stations[:3])
    with pytest.raises(ValueError, match=r"1 record\(s\) have no group \(positions \[2\]"):
        train.record_folds(labels, folds=2, groups=[*stations[:2], None, *stations[3:]])


def test_cross_validation_keeps_groups_together(frames):
    station = np.array([f"S{i // 4}" for i in range(16)], dtype=object)  # 4 stations of 4 records
    grouped = frames.assign_coords(station=("event", station))
    table = train.sweep({"cell": ["rnn"], "hidden_size": [3]}, grouped, folds=3, groups="station", epochs=1,
                        baselines={"linear": {"estimator": "logistic"}}, progress=False)
    sizes = [len(p) for p in train.record_folds(grouped, folds=3, groups="station")]
    assert sorted(sizes) == [4, 4, 8]  # whole stations
    assert table.groupby("name", sort=False)["n_test_records"].apply(list).tolist() == [sizes, sizes]
    with pytest.raises(ValueError, match=r"The 'folds' parameter of sweep must be between 2 and the number of groups"):
        train.sweep({"cell": ["rnn"], "hidden_size": [3]}, grouped, folds=5, groups="station", epochs=1,
                    progress=False)

"""rnnscope.train.retrain: fine-tuning on a reviewed detection catalog (the loop monitor -> review -> retrain).

The archive: 40 minutes of synthetic data (one channel, 100 Hz, SDS) with its true catalog. A small LSTM trained
briefly on other synthetic records monitors it; the "analyst" keeps the true events (added or accepted, with the
true class) and rejects the detections that overlap no true event, as the review page's reviewed catalog says.
"""
import numpy as np
import pandas as pd
import pytest
import torch

obspy = pytest.importorskip("obspy")

import rnnscope
from rnnscope.data._synthetic_archive import write_sds_archive
from rnnscope.monitoring import score_detections, to_catalog
from rnnscope.train._retrain import read_reviewed, reviewed_records, windows

START = "2024-03-01T00:00:00"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("retrain_sds")
    truth, _ = write_sds_archive(root, START, 2400.0, seed=5)
    return str(root), truth


@pytest.fixture(scope="module")
def original(make_frames):
    return make_frames(24, seed=1)


@pytest.fixture(scope="module")
def model(original):
    torch.manual_seed(0)
    m = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=16, num_classes=5)
    rnnscope.train.fit(m, original, epochs=3, progress=False, seed=0)
    return m


@pytest.fixture(scope="module")
def reviewed(archive, model):
    """The true events kept (with their true class), the detections that overlap none of them rejected."""
    root, truth = archive
    detections = rnnscope.monitor(model, root, progress=False).detections
    true = truth.assign(review="added")
    overlaps = [((true["start"] < d.end) & (true["end"] > d.start)).any() for d in detections.itertuples()]
    false_alarms = detections[~np.array(overlaps, dtype=bool)].assign(review="rejected")
    assert len(false_alarms) > 0
    columns = ["seed_id", "class_name", "start", "end", "review"]
    return pd.concat([true[columns], false_alarms[columns]], ignore_index=True)


def _frame_labels_at(frames, when):
    """(record, frame) of the frame centred nearest to UTC ``when``."""
    t = pd.Timestamp(when)
    for e in range(frames.sizes["event"]):
        t0 = pd.Timestamp(str(frames["starttime"].values[e]))
        s = (t - t0).total_seconds()
        n = int(frames["length"].values[e])
        times = frames["time"].values[:n]
        if n and times[0] - 0.25 <= s <= times[-1] + 0.25:
            return e, int(np.argmin(np.abs(times - s)))
    return None


def test_reviewed_windows_are_labelled_by_the_review(archive, model, reviewed):
    root, truth = archive
    frames = reviewed_records(model, reviewed, root)
    names = list(model.class_names)
    assert frames.attrs["background"] == "SIL" and frames.attrs["sampling_rate"] == model.sampling_rate
    duration = frames["length"].values / 2.0  # frames at 2 Hz
    assert duration.max() <= 600.0 + 2 * 30.0 + 60.0  # windows of at most 10 minutes plus context
    checked = 0
    for row in reviewed.itertuples():
        mid = row.start + (row.end - row.start) / 2
        if (row.end - row.start).total_seconds() < 3.0:
            continue
        e, k = _frame_labels_at(frames, mid)
        expected = "SIL" if row.review == "rejected" else row.class_name
        inside_true = ((truth["start"] <= mid) & (truth["end"] > mid)).any()
        if row.review == "rejected" and inside_true:
            continue  # a false alarm overlapping a kept event: the kept event wins
        assert names[int(frames["label"].values[e, k])] == expected, row
        checked += 1
    assert checked > 0.8 * len(reviewed)
    first = truth["start"].min()  # 30 s of context before the first event are background (or unknown: no data)
    e, k = _frame_labels_at(frames, first - pd.Timedelta(10, "s")) or (None, None)
    if e is not None:
        assert names[int(frames["label"].values[e, k])] == "SIL"


def test_windows_join_close_events_and_cut_long_runs():
    s = 10**9
    rows = pd.DataFrame({"trace_id": ["A", "A", "B"], "start": [0, 50 * s, 0], "end": [10 * s, 60 * s, 10 * s]})
    w = windows(rows, 30.0)
    assert w.values.tolist() == [["A", -30 * s, 90 * s], ["B", -30 * s, 40 * s]]
    many = pd.DataFrame({"trace_id": ["A"] * 30, "start": [i * 40 * s for i in range(30)],
                         "end": [(i * 40 + 20) * s for i in range(30)]})
    cut = windows(many, 5.0, max_s=300.0)
    assert len(cut) > 3 and ((cut["end"] - cut["start"]) <= 300 * s).all()
    assert (cut["start"].to_numpy()[1:] > cut["end"].to_numpy()[:-1]).all()  # apart: separate records
    for row in many.itertuples():  # every event lies in one window
        assert ((cut["start"] <= row.start) & (cut["end"] >= row.end)).sum() == 1


def test_retrain_fine_tunes_a_copy_and_scores_before_and_after(archive, model, reviewed, original):
    root, _ = archive
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    out = rnnscope.train.retrain(model, reviewed, waveforms=root, original=original, epochs=12, lr=3e-3, progress=False)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())  # the model passed in is kept
    assert out.model is not model
    assert torch.equal(out.model.feature_mean, model.feature_mean)  # the normaliser is the model's
    assert out.model.sampling_rate == model.sampling_rate and out.model.background == model.background
    for table in (out.before, out.after):
        assert list(table.index) == ["reviewed held out", "reviewed tuned on", "original held out"]
        assert list(table.columns) == ["events", "event_accuracy", "frame_accuracy", "macro_f1"]
    pd.testing.assert_series_equal(out.before["events"], out.after["events"])
    n_windows = out.records.sizes["event"]
    assert len(out.split["holdout"]) == max(1, round(0.25 * n_windows))
    assert len(out.split["holdout"]) + len(out.split["tuned"]) == n_windows
    assert out.before.loc["reviewed held out", "events"] > 0 and out.before.loc["original held out", "events"] > 0
    assert out.after.loc["reviewed tuned on", "frame_accuracy"] > out.before.loc["reviewed tuned on", "frame_accuracy"]
    assert len(out.history) == 12 and out.history["loss"].iloc[-3:].mean() < out.history["loss"].iloc[:3].mean()
    assert {"loss_reviewed", "loss_original"} <= set(out.history.columns)
    assert out.model.info["retraining"]["epochs"] == 12
    assert ("frame_accuracy", "before") in out.summary().columns and "Retraining(12 epochs)" in repr(out)
    again = rnnscope.train.retrain(model, reviewed, waveforms=root, original=original, epochs=12, lr=3e-3,
                                   progress=False)
    pd.testing.assert_frame_equal(again.after, out.after)  # seeded


def test_csv_and_quakeml_catalogs_give_the_same_records(archive, model, reviewed, tmp_path):
    root, _ = archive
    kept = reviewed[reviewed["review"] != "rejected"].reset_index(drop=True)
    csv = kept.copy()
    for col in ("start", "end"):
        csv[col] = csv[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    csv.to_csv(tmp_path / "reviewed.csv", index=False)
    table = kept.assign(duration_s=(kept["end"] - kept["start"]).dt.total_seconds(), p_mean=1.0, p_peak=1.0)
    to_catalog(table).write(str(tmp_path / "reviewed.xml"), format="QUAKEML")
    a = read_reviewed(tmp_path / "reviewed.csv", model.class_names)
    b = read_reviewed(tmp_path / "reviewed.xml", model.class_names)
    pd.testing.assert_frame_equal(a.drop(columns="source"), b.drop(columns="source"))
    fa = reviewed_records(model, tmp_path / "reviewed.csv", root)
    fb = reviewed_records(model, tmp_path / "reviewed.xml", root)
    np.testing.assert_array_equal(fa["label"].values, fb["label"].values)


def test_retrain_errors_say_what_and_how(archive, model, reviewed, original, tmp_path):
    root, _ = archive
    with pytest.raises(ValueError, match=r"holds classes \['XX'\] the model does not have"):
        rnnscope.train.retrain(model, reviewed.assign(class_name="XX"), waveforms=root, original=original,
                               progress=False)
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['start'\]"):
        rnnscope.train.retrain(model, reviewed.drop(columns="start"), waveforms=root, original=original, progress=False)
    with pytest.raises(ValueError, match="the waveforms hold no sample around the reviewed events"):
        rnnscope.train.retrain(model, reviewed.assign(seed_id="XX.NONE..HHZ"), waveforms=root, original=original,
                               progress=False)
    with pytest.raises(ValueError, match=r"The 'holdout' parameter of retrain must be a fraction in \[0, 1\)"):
        rnnscope.train.retrain(model, reviewed, waveforms=root, original=original, holdout=1.5, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rnnscope.train.retrain(model, tmp_path / "missing.csv", waveforms=root, original=original, progress=False)


def test_monitor_review_retrain_loop_on_the_command_line(archive, model, reviewed, original, tmp_path, capsys):
    """monitor -> reviewed.csv -> rnnscope retrain -> monitor with the new model: its catalog is closer to the
    reviewed one over the archive it was tuned on."""
    from rnnscope.cli import main

    root, truth = archive
    model_path = model.save(tmp_path / "model.safetensors")
    train_path = rnnscope.save_run(original, tmp_path / "train.zarr")
    csv = reviewed.copy()
    for col in ("start", "end"):
        csv[col] = csv[col].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    csv.to_csv(tmp_path / "reviewed.csv", index=False)
    out = tmp_path / "retrained.safetensors"
    code = main(["retrain", model_path, str(tmp_path / "reviewed.csv"), root, "--original", str(train_path),
                 "--out", str(out), "--epochs", "15", "--lr", "3e-3", "--quiet"])
    assert code == 0 and "Retraining(15 epochs)" in capsys.readouterr().out
    scores = pd.read_csv(str(out) + ".scores.csv", header=[0, 1], index_col=0)
    assert scores.shape == (3, 8)
    new = rnnscope.models.load(out)
    assert new.info["retraining"]["reviewed_windows"] > 0
    before = score_detections(rnnscope.monitor(model, root, progress=False).detections, truth)
    after = score_detections(rnnscope.monitor(new, root, progress=False).detections, truth)
    assert after.loc["all", "f1"] > before.loc["all", "f1"]
    assert main(["retrain", model_path, str(tmp_path / "missing.csv"), root, "--quiet"]) == 2

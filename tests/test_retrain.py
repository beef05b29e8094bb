"""rnnscope.train.retrain: fine-tuning on a reviewed detection catalog (the loop monitor -> review -> retrain).

The archive: 40 minutes of synthetic data (one channel, 100 Hz, SDS) with its true catalog. A small LSTM trained
briefly on other synthetic records monitors it; the "analyst" keeps the true events (added or accepted, with the
true class) and rejects the detections that overlap no true event, as the review page's reviewed catalog says.
"""
import glob
import os

import numpy as np
import pandas as pd
import pytest
import torch

obspy = pytest.importorskip("obspy")

import rnnscope  # noqa: E402  (after the importorskip of obspy)
from rnnscope.data._synthetic_archive import write_sds_archive  # noqa: E402  (after the importorskip of obspy)
from rnnscope.monitoring import score_detections, to_catalog  # noqa: E402  (after the importorskip of obspy)
from rnnscope.train._retrain import read_reviewed, reviewed_records, windows  # noqa: E402  (after the importorskip of obspy)

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
def detections(archive, model):
    """The model's detections over the archive; ``false_alarm`` marks those that overlap no true event."""
    root, truth = archive
    detections = rnnscope.monitor(model, root, progress=False).detections
    overlaps = [((truth["start"] < d.end) & (truth["end"] > d.start)).any() for d in detections.itertuples()]
    return detections.assign(false_alarm=~np.array(overlaps, dtype=bool))


@pytest.fixture(scope="module")
def reviewed(archive, detections):
    """The true events kept (with their true class), the detections that overlap none of them rejected."""
    root, truth = archive
    true = truth.assign(review="added")
    false_alarms = detections[detections["false_alarm"]].assign(review="rejected")
    assert len(false_alarms) > 0
    columns = ["seed_id", "class_name", "start", "end", "review"]
    return pd.concat([true[columns], false_alarms[columns]], ignore_index=True)


@pytest.fixture(scope="module")
def review_folder(archive, model, detections, tmp_path_factory):
    """The same review made with the review page's store on a monitor output folder: every true event drawn
    (added) with its class, every false alarm rejected; the store writes reviewed.csv and rejected.csv."""
    from rnnscope.review import ReviewStore

    _, truth = archive
    folder = tmp_path_factory.mktemp("review")
    detections.drop(columns="false_alarm").to_csv(folder / "detections.csv", index=False)
    store = ReviewStore(folder, class_names=model.class_names)
    for row in truth.itertuples():
        store.decide("", "add", class_name=row.class_name, start=row.start, end=row.end, seed_id=row.seed_id)
    for key, false_alarm in zip(store.keys(), detections["false_alarm"], strict=True):
        if false_alarm:
            store.decide(key, "reject")
    return folder


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


def test_the_printed_scores_show_every_column():
    """`rnnscope retrain` prints the Retraining: its scores once showed as "event_accuracy events ... macro_f1"
    in an 80-column terminal, frame_accuracy hidden behind "..."."""
    from rnnscope.train._retrain import Retraining

    sets = ["reviewed held out", "reviewed tuned on", "original held out"]
    table = pd.DataFrame({"events": [3, 9, 4], "event_accuracy": [0.5, 0.75, 1.0], "frame_accuracy": [0.61, 0.72, 0.8],
                          "macro_f1": [0.4, 0.55, 0.7]}, index=sets)
    out = Retraining(model=None, before=table, after=table + 0.1, history=pd.DataFrame(index=range(10)),
                     records=None, split={})
    with pd.option_context("display.width", 80, "display.max_columns", 0):  # pandas' defaults in a terminal
        text = repr(out)
    assert text.startswith("Retraining(10 epochs)\n") and "..." not in text
    assert all(name in text for name in ["events", "event_accuracy", "frame_accuracy", "macro_f1", *sets]), text
    assert "0.61" in text and "0.71" in text and "0.82" in text  # before and after, rounded to 3 digits


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


def test_monitor_review_retrain_loop_on_the_command_line(archive, model, review_folder, original, tmp_path, capsys):
    """monitor -> the review page's reviewed.csv and rejected.csv -> rnnscope retrain -> monitor with the new model:
    its catalog is closer to the reviewed one over the archive it was tuned on."""
    from rnnscope.cli import main

    root, truth = archive
    model_path = model.save(tmp_path / "model.safetensors")
    train_path = rnnscope.save_run(original, tmp_path / "train.zarr")
    out = tmp_path / "retrained.safetensors"
    code = main(["retrain", model_path, str(review_folder / "reviewed.csv"), root, "--original", str(train_path),
                 "--out", str(out), "--epochs", "15", "--lr", "3e-3", "--quiet"])
    printed = capsys.readouterr().out
    n_rejected = len(pd.read_csv(review_folder / "rejected.csv"))
    assert code == 0 and "Retraining(15 epochs)" in printed
    assert f"{n_rejected} rejected detection(s) learned as SIL (false alarms)" in printed
    scores = pd.read_csv(str(out) + ".scores.csv", header=[0, 1], index_col=0)
    assert scores.shape == (3, 8)
    new = rnnscope.models.load(out)
    assert new.info["retraining"]["reviewed_windows"] > 0
    assert new.info["retraining"]["rejected_detections"] == n_rejected
    before = score_detections(rnnscope.monitor(model, root, progress=False).detections, truth)
    after = score_detections(rnnscope.monitor(new, root, progress=False).detections, truth)
    assert after.loc["all", "f1"] > before.loc["all", "f1"]
    assert main(["retrain", model_path, str(tmp_path / "missing.csv"), root, "--quiet"]) == 2


def _mean_probability(model, root, stretches: pd.DataFrame) -> float:
    """The model's mean probability (monitoring the archive), over the frames of every stretch (columns start, end,
    model_class), of the class the original model detected there."""
    stream = rnnscope.monitor(model, root, progress=False).probabilities()
    values = []
    for row in stretches.itertuples():
        for tr in stream:
            if tr.stats.class_name == row.model_class:
                piece = tr.slice(obspy.UTCDateTime(row.start.isoformat()), obspy.UTCDateTime(row.end.isoformat()))
                values.append(piece.data.astype(float))
    return float(np.mean(np.concatenate(values)))


def test_rejections_made_in_the_review_store_are_labelled_background_for_retraining(archive, model, review_folder,
                                                                                    tmp_path):
    """Review store decisions -> reviewed.csv (the events only: no reader meets a false alarm) and rejected.csv
    (the false alarms, no class a reader could take) -> the records retrain builds from reviewed.csv, as `rnnscope
    retrain` is run: every rejected stretch labelled background."""
    root, truth = archive
    reviewed = pd.read_csv(review_folder / "reviewed.csv", parse_dates=["start", "end"])
    rejected = pd.read_csv(review_folder / "rejected.csv", parse_dates=["start", "end"])
    detections = pd.read_csv(review_folder / "detections.csv", parse_dates=["start", "end"])
    # the catalog holds the events only: a reader of it never meets a false alarm
    assert set(reviewed["review"]) == {"added"} and len(reviewed) == len(truth)
    assert score_detections(reviewed, truth).loc["all", "precision"] == 1.0
    # the rejections: every false alarm, with the class the model gave and no class_name a reader could take
    assert list(rejected.columns) == ["seed_id", "start", "end", "duration_s", "p_mean", "p_peak", "model_class",
                                      "review"]
    assert set(rejected["review"]) == {"rejected"} and 0 < len(rejected) < len(detections)
    merged = rejected.merge(detections, on=["seed_id", "start", "end"])
    assert len(merged) == len(rejected) and (merged["model_class"] == merged["class_name"]).all()
    stream = obspy.read(sorted(glob.glob(os.path.join(root, "**", "*.D.*"), recursive=True))[0])
    with pytest.raises(ValueError, match=r"the catalog has no class \('class' or 'class_name'\) column"):
        rnnscope.data.from_obspy(stream, catalog=str(review_folder / "rejected.csv"), background="SIL")

    # retraining reads rejected.csv beside reviewed.csv: each rejected stretch is labelled background
    frames = reviewed_records(model, review_folder / "reviewed.csv", root)
    assert frames.attrs["rejected_detections"] == len(rejected)
    names = list(frames.attrs["class_names"])
    checked = 0
    for row in rejected.itertuples():
        mid = row.start + (row.end - row.start) / 2
        if ((truth["start"] <= mid) & (truth["end"] > mid)).any() or row.duration_s < 2.0:
            continue
        e, k = _frame_labels_at(frames, mid)
        assert names[int(frames["label"].values[e, k])] == "SIL", row
        checked += 1
    assert checked >= 0.8 * len(rejected)
    # a review that only rejected: every frame retraining gets comes from the rejections, all background
    from rnnscope.review import ReviewStore
    from rnnscope.review._store import detection_key

    only = ReviewStore(tmp_path, detections=detections)
    for row in rejected.iloc[:3].itertuples():
        only.decide(detection_key(row.seed_id, row.start, row.model_class), "reject")
    frames_only = reviewed_records(model, only.reviewed_csv, root, context_s=0.0)
    labels = frames_only["label"].values[frames_only["label"].values >= 0]
    assert frames_only.attrs["rejected_detections"] == 3 and labels.size > 0
    assert set(np.array(names)[labels]) == {"SIL"}
    scores = rnnscope.train.evaluate(model, frames_only)  # background only: no event to score, frames scored
    assert scores.events.empty and list(scores.events.columns)[:2] == ["event", "class_name"]
    assert scores.event_scores.empty and 0.0 <= scores.accuracy <= 1.0
    with pytest.raises(ValueError, match="holds no event and no rejection"):
        reviewed_records(model, only.reviewed_csv, root, rejected=None)



def test_rejections_need_a_background_class(archive, model, review_folder, tmp_path, capsys):
    """A model that names no background class cannot learn false alarms as background: refused, saying how to go
    on; without the rejections (rejected=None, --rejected none) the rest is read."""
    import copy

    from rnnscope.cli import main

    root, _ = archive
    plain = copy.deepcopy(model)
    plain.background = None
    n = len(pd.read_csv(review_folder / "rejected.csv"))
    message = (rf"the review rejected {n} detection\(s\) \(false alarms, in .*rejected.csv\), which retraining "
               r"teaches as the background class, but the model names no background class")
    with pytest.raises(ValueError, match=message):
        reviewed_records(plain, review_folder / "reviewed.csv", root)
    path = plain.save(tmp_path / "plain.safetensors")
    assert main(["retrain", str(path), str(review_folder / "reviewed.csv"), root, "--epochs", "1", "--quiet",
                 "--out", str(tmp_path / "x.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "model.background = NAME" in err and "--rejected none" in err
    rows = read_reviewed(review_folder / "reviewed.csv", plain.class_names, rejected=None)
    assert not rows["rejected"].any() and len(rows) == len(pd.read_csv(review_folder / "reviewed.csv"))
    rows = read_reviewed(review_folder / "reviewed.csv", plain.class_names)
    assert rows["rejected"].sum() == n and rows["source"].str.startswith("rejected row").sum() == n
    with pytest.raises(TypeError, match="The 'rejected' parameter of retrain must be the path of a table of "
                                        "rejected detections"):
        read_reviewed(review_folder / "reviewed.csv", plain.class_names, rejected=3)


def test_a_rejection_lowers_the_retrained_models_probability_of_the_rejected_class(archive, original, tmp_path):
    """The loop on a small example with the shipped model (confident where it errs): the analyst accepts three
    detections of true events and rejects every false alarm in the review store; retraining on the store's
    reviewed.csv lowers the model's probability of the rejected class on the rejected stretches, and retraining on
    the same accepted events without the rejections does not."""
    from rnnscope.review import ReviewStore

    root, truth = archive
    model = rnnscope.examples.trained_model()
    detections = rnnscope.monitor(model, root, progress=False).detections
    detections.to_csv(tmp_path / "detections.csv", index=False)
    store = ReviewStore(tmp_path, class_names=model.class_names)
    accepted = 0
    for key, d in zip(store.keys(), detections.itertuples(), strict=True):
        same = truth[(truth["start"] < d.end) & (truth["end"] > d.start)]
        if same.empty:
            store.decide(key, "reject")
        elif accepted < 3 and (same["class_name"] == d.class_name).all():
            store.decide(key, "accept")
            accepted += 1
    rejected = pd.read_csv(store.rejected_csv, parse_dates=["start", "end"])
    assert len(rejected) >= 3 and accepted == 3
    assert pd.read_csv(store.reviewed_csv)["review"].tolist() == ["accepted"] * 3
    settings = dict(context_s=5.0, epochs=10, progress=False)
    out = rnnscope.train.retrain(model, store.reviewed_csv, waveforms=root, original=original, **settings)
    control = rnnscope.train.retrain(
        model, store.reviewed_csv, waveforms=root, original=original, rejected=None, **settings
    )
    assert out.model.info["retraining"]["rejected_detections"] == len(rejected)
    assert control.model.info["retraining"]["rejected_detections"] == 0
    before = _mean_probability(model, root, rejected)
    after, without = _mean_probability(out.model, root, rejected), _mean_probability(control.model, root, rejected)
    assert before > 0.4 and after < 0.7 * before and after < 0.8 * without, (before, after, without)

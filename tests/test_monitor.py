"""rnnscope.monitor over a synthetic SDS archive: chunking, state carrying, gaps, rate changes, exports, scores.

The archive (written once per session, ~5 s): 80 minutes of continuous synthetic data from 2024-03-01T23:20 to
2024-03-02T00:40 ("days" of 40 minutes each side of midnight), as Steim-2 MiniSEED in an SDS tree:

- day 1 (2024-061) at 100 Hz with a 90 s gap from 23:40:00 to 23:41:30;
- day 2 (2024-062) at 200 Hz (resampled to the model's 100 Hz by monitor);
- an event at least 10 s long straddles midnight, so the day boundary (a chunk boundary) falls inside it.
"""
import glob
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

obspy = pytest.importorskip("obspy")
from obspy import UTCDateTime  # noqa: E402

import rnnscope  # noqa: E402
from rnnscope.data._synthetic_archive import write_sds_archive  # noqa: E402
from rnnscope.features import frames_of  # noqa: E402
from rnnscope.monitoring import MonitorResult, detect, frame_runs, match_detections, score_detections, smooth  # noqa: E402
from rnnscope.monitoring._preprocessing import _detrend_inplace  # noqa: E402

SEED_ID = "XX.SYN..HHZ"
START = UTCDateTime("2024-03-01T23:20:00")
MIDNIGHT = UTCDateTime("2024-03-02T00:00:00")
GAP = (START + 1200, START + 1290)
END = START + 4800


@pytest.fixture(scope="session")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("sds")
    truth, _ = write_sds_archive(root, START, 4800.0, seed=3, seed_id=SEED_ID, day_rates={1: 200.0},
                                 gaps=[(1200.0, 1290.0)], event_at_s=2400.0)
    return str(root), truth


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=12, num_classes=5)
    with torch.no_grad():  # a normaliser on the scale of the synthetic data, so the probabilities move
        frames, _ = frames_of(np.random.default_rng(0).normal(scale=100.0, size=20000), 100.0)
        m.fit_normalizer(frames[None])
        m.head.bias.copy_(torch.tensor([0.5, 0.0, 0.0, 0.0, 0.0]))
    return m.eval()


def one_pass(model, x):
    """The reference: frames_of of the whole signal + one forward pass of the model."""
    feats, _ = frames_of(x, 100.0)
    with torch.inference_mode():
        return torch.softmax(model(torch.from_numpy(feats.astype(np.float32))[None])[0], -1).numpy()


def day_files(root):
    return sorted(glob.glob(os.path.join(root, "*", "*", "*", "*", "*")))


@pytest.fixture(scope="module")
def raw(archive):
    """Day 1 (100 Hz, two pieces) and day 2 resampled to 100 Hz with from_obspy's resampler, no detrend."""
    root, _ = archive
    day1, day2 = (obspy.read(p) for p in day_files(root))
    day1.sort(keys=["starttime"])
    day2_100 = rnnscope.data.from_obspy(day2, sampling_rate=100.0, detrend=False)
    x2 = day2_100["waveform"].values[0, : int(day2_100["n_samples"][0])].astype(np.float64)
    return [tr.data.astype(np.float64) for tr in day1], x2


@pytest.fixture(scope="module")
def chunked(archive, model):
    """monitor with small blocks (317.3 s: chunk boundaries everywhere, none on a frame) and no detrend."""
    root, _ = archive
    return rnnscope.monitor(model, root, seed_id=SEED_ID, starttime=START, endtime=END, detrend=False,
                            block_s=317.3, progress=False)


# ------------------------------------------------------------------------------------------------ equivalence


def test_chunked_equals_one_pass_over_the_concatenated_data(chunked, raw, model):
    (before_gap, after_gap), day2 = raw
    assert len(chunked.pieces) == 2  # the gap splits the range; midnight and the rate change do not
    ref0 = one_pass(model, before_gap)
    ref1 = one_pass(model, np.concatenate([after_gap, day2]))  # across midnight and 100 Hz -> 200 Hz
    p0, p1 = chunked.pieces
    assert p0.prob.shape == ref0.shape and p1.prob.shape == ref1.shape
    np.testing.assert_allclose(p0.prob, ref0, rtol=0, atol=1e-5)
    np.testing.assert_allclose(p1.prob, ref1, rtol=0, atol=1e-5)
    assert np.ptp(p1.prob[:, 0]) > 0.05  # the comparison is not between constants


def test_block_size_does_not_change_results(chunked, archive, model):
    root, _ = archive
    daily = rnnscope.monitor(model, root, seed_id=SEED_ID, starttime=START, endtime=END, detrend=False,
                             progress=False)
    for a, b in zip(chunked.pieces, daily.pieces, strict=True):
        np.testing.assert_allclose(a.prob, b.prob, rtol=0, atol=1e-5)
    pd.testing.assert_frame_equal(chunked.detections[["class_name", "start", "end"]],
                                  daily.detections[["class_name", "start", "end"]])


def test_default_detrend_stays_close_to_one_pass(archive, model, raw):
    """Detrending each window (day + margins) on its own only shifts by each window's (tiny) trend."""
    root, _ = archive
    res = rnnscope.monitor(model, root, seed_id=SEED_ID, starttime=START, endtime=END, block_s=600.0,
                           progress=False)
    (before_gap, _), _ = raw
    np.testing.assert_allclose(res.pieces[0].prob, one_pass(model, before_gap), atol=2e-2)


# ------------------------------------------------------------------------------------------------ gaps, rates


def test_gap_restarts_framing_and_holds_no_frame(chunked):
    p0, p1 = chunked.pieces
    assert p0.start_ns == START.ns and p0.end_ns == GAP[0].ns
    assert p1.start_ns == GAP[1].ns
    assert p1.first_frame_ns == GAP[1].ns + 2 * 10**9  # framing restarts: first frame centred 2 s after the gap
    last_window_end = p0.frame_times_ns[-1] + 2 * 10**9
    assert last_window_end <= GAP[0].ns  # no window reaches into the gap
    gaps = chunked.gaps
    assert len(gaps) == 1 and gaps["duration_s"].tolist() == [90.0]
    assert gaps["start"][0] == pd.Timestamp(GAP[0].datetime, tz="UTC")


def test_no_detection_in_a_gap(chunked):
    every_run = chunked.detect(smoothing=None, min_duration=1, background=None)
    gap0, gap1 = (pd.Timestamp(t.datetime, tz="UTC") for t in GAP)
    assert not ((every_run["start"] < gap1) & (every_run["end"] > gap0)).any()
    # every frame of each piece is in exactly one run: the runs tile the pieces
    assert every_run["n_frames"].sum() == chunked.n_frames


def test_rate_change_keeps_framing_and_state(chunked, raw):
    _, day2 = raw
    p1 = chunked.pieces[1]
    assert p1.end_ns == END.ns
    assert p1.n_samples == int((MIDNIGHT - GAP[1]) * 100) + day2.size
    assert chunked.data_seconds == pytest.approx(4800 - 90)


def test_truth_has_an_event_across_midnight(archive):
    _, truth = archive
    m = pd.Timestamp(MIDNIGHT.datetime, tz="UTC")
    across = truth[(truth["start"] < m - pd.Timedelta(5, "s")) & (truth["end"] > m + pd.Timedelta(5, "s"))]
    assert len(across) == 1


def test_sources_agree(archive, model, tmp_path):
    """An SDS root, a glob of files and an in-memory Stream give the same probabilities."""
    root, _ = archive
    kw = dict(seed_id=SEED_ID, starttime=START + 1800, endtime=START + 3000, progress=False)  # detrend on
    sds = rnnscope.monitor(model, root, **kw)
    files = rnnscope.monitor(model, os.path.join(root, "2024", "XX", "SYN", "HHZ.D", "XX.SYN..HHZ.D.*"), **kw)
    stream = obspy.Stream()
    for path in day_files(root):
        stream += obspy.read(path)
    for tr in stream:
        tr.data = tr.data.astype(np.float64)  # float64 data could be detrended in place if not copied
    before = [tr.copy() for tr in stream]
    mem = rnnscope.monitor(model, stream, **kw)
    assert all(
        np.array_equal(a.data, b.data) for a, b in zip(before, stream, strict=True)
    )  # the caller's stream is untouched
    for other in (files, mem):
        assert len(other.pieces) == len(sds.pieces) == 1
        np.testing.assert_array_equal(other.pieces[0].prob, sds.pieces[0].prob)
    assert sds.pieces[0].start_ns == (START + 1800).ns and sds.pieces[0].end_ns == (START + 3000).ns


def test_tcn_gets_its_receptive_field_as_context(archive, raw):
    root, _ = archive
    torch.manual_seed(1)
    tcn = rnnscope.models.TCNClassifier(input_size=48, num_classes=5, filters=6).eval()
    res = rnnscope.monitor(tcn, root, seed_id=SEED_ID, starttime=START, endtime=GAP[0], detrend=False,
                           block_s=200.0, progress=False)
    (before_gap, _), _ = raw
    np.testing.assert_allclose(res.pieces[0].prob, one_pass(tcn, before_gap), rtol=0, atol=1e-5)


# ------------------------------------------------------------------------------------------------ exports


def test_exports_read_back_with_obspy_and_pandas(chunked, tmp_path):
    det = chunked.detections
    assert len(det) > 0 and (det["class_name"] != "SIL").all()
    assert list(det.columns[:8]) == ["seed_id", "class_name", "start", "end", "duration_s", "n_frames", "p_mean",
                                     "p_peak"]
    assert {f"p_mean_{c}" for c in chunked.class_names} <= set(det.columns)
    assert (det["p_peak"] >= det["p_mean"]).all()

    csv = pd.read_csv(chunked.to_csv(tmp_path / "d.csv"), parse_dates=["start", "end"])
    assert len(csv) == len(det) and csv["class_name"].tolist() == det["class_name"].tolist()
    assert (csv["start"] == det["start"]).all() and csv["start"].dt.tz is not None

    cat = obspy.read_events(chunked.to_quakeml(tmp_path / "d.xml"))
    assert len(cat) == len(det)
    ev = cat[0]
    assert ev.event_descriptions[0].text == det["class_name"][0]
    assert f"class={det['class_name'][0]}" in ev.comments[0].text
    assert ev.picks[0].waveform_id.id == SEED_ID
    assert abs(ev.picks[0].time - UTCDateTime(det["start"][0].isoformat())) < 1e-3
    types = {e.event_type for e in cat}
    assert types <= {"earthquake", "other event"}

    st = obspy.read(chunked.to_mseed(tmp_path / "p.mseed"))
    assert sorted({tr.stats.channel for tr in st}) == sorted(chunked.class_names)
    assert len(st) == 5 * len(chunked.pieces)  # one trace per class and contiguous piece
    sil = st.select(channel="SIL")
    sil.sort(keys=["starttime"])
    assert sil[0].stats.sampling_rate == 2.0 and sil[0].stats.starttime == START + 2
    np.testing.assert_array_equal(sil[0].data, chunked.pieces[0].prob[:, 0])
    total = sum(tr.data for tr in st if tr.stats.starttime == sil[0].stats.starttime)
    np.testing.assert_allclose(total, 1.0, atol=1e-5)


def test_cli_writes_the_three_files(archive, model, tmp_path, capsys):
    from rnnscope.cli import main

    root, _ = archive
    path = model.save(tmp_path / "model.safetensors")
    out = tmp_path / "out"
    code = main(["monitor", path, root, "--start", str(START + 2400), "--end", str(END), "--id", SEED_ID,
                 "--out", str(out), "--smoothing", "median:3", "--min-duration", "SIL=2,TRE=10", "--quiet"])
    assert code == 0
    assert "MonitorResult" in capsys.readouterr().out
    table = pd.read_csv(out / "detections.csv", parse_dates=["start", "end"])
    assert len(obspy.read_events(str(out / "detections.xml"))) == len(table)
    assert obspy.read(str(out / "probabilities.mseed"))[0].stats.sampling_rate == 2.0


# ------------------------------------------------------------------------------------------------ scoring


def test_scores_against_the_true_catalog(archive, chunked):
    _, truth = archive
    perfect = score_detections(truth, truth)
    assert (perfect.loc["all", ["precision", "recall"]] == 1.0).all()
    assert perfect.loc["all", "onset_abs_error_median_s"] == 0.0
    scores = chunked.score(truth)
    assert list(scores.columns) == ["n_true", "n_detected", "n_matched", "precision", "recall", "f1",
                                    "onset_error_median_s", "onset_error_mean_s", "onset_abs_error_median_s"]
    assert scores.loc["all", "n_true"] == len(truth) and scores.loc["all", "n_detected"] == len(chunked.detections)


def test_score_matching_rules():
    t = pd.Timestamp("2024-01-01T00:00:00Z")
    s = pd.to_timedelta
    truth = pd.DataFrame({"start": [t, t + s("100s")], "end": [t + s("60s"), t + s("130s")],
                          "class_name": ["TRE", "LP"], "seed_id": ["A.B..C", "A.B..C"]})
    det = pd.DataFrame({"start": [t + s("5s"), t + s("40s"), t + s("99s"), t + s("200s")],
                        "end": [t + s("30s"), t + s("70s"), t + s("125s"), t + s("210s")],
                        "class_name": ["TRE", "TRE", "VTE", "LP"], "seed_id": ["A.B..C"] * 4})
    scores, matches = score_detections(det, truth), match_detections(det, truth)
    assert scores.loc["TRE", "n_matched"] == 1  # one-to-one: the larger overlap wins
    assert matches.loc[matches.class_name == "TRE", "detection"].tolist() == [0]
    # the pairs listed are the pairs counted, class by class
    assert matches["class_name"].value_counts().reindex(scores.index[:-1], fill_value=0).tolist() == \
        scores["n_matched"].iloc[:-1].tolist()
    assert scores.loc["TRE", "onset_error_median_s"] == 5.0
    assert scores.loc["LP", "recall"] == 0.0 and scores.loc["LP", "precision"] == 0.0  # wrong class, no overlap
    assert np.isnan(scores.loc["VTE", "recall"]) and scores.loc["VTE", "precision"] == 0.0
    other = det.assign(seed_id="A.B..D")
    assert score_detections(other, truth).loc["all", "n_matched"] == 0  # other station: no match
    with pytest.raises(ValueError, match="lacks the column"):
        score_detections(det.drop(columns="end"), truth)


# ------------------------------------------------------------------------------------------------ detections


def test_min_duration_merges_short_runs_into_the_more_probable_neighbour():
    eye = np.eye(5)
    labels = [0] * 10 + [2] * 3 + [0] * 10 + [1] * 50 + [3] * 2 + [1] * 5
    prob = eye[labels] * 0.9 + 0.02
    runs = frame_runs(prob, min_frames=[2, 40, 4, 4, 14])
    assert runs.values.tolist() == [[0, 23, 0], [23, 80, 1]]  # LP (3 < 4) -> SIL; VTE (2 < 4) -> TRE, then merged
    prob = eye[[0] * 10 + [2] * 2 + [1] * 50]
    prob[10:12] = [0.05, 0.3, 0.6, 0.05, 0.0]  # inside the short LP run, TRE is more probable than SIL
    assert frame_runs(prob, min_frames=[1, 1, 4, 1, 1]).values.tolist() == [[0, 10, 0], [10, 62, 1]]


def test_detect_times_are_frame_edges_and_a_single_short_piece_gives_nothing():
    prob = np.eye(5)[[0] * 3 + [4] * 20 + [0] * 3]
    t0 = UTCDateTime("2024-01-01T00:00:02").ns
    names = rnnscope.models.RNNClassifier("rnn", input_size=2, hidden_size=2, num_classes=5).class_names
    d = detect(prob, first_time_ns=t0, frame_period_ns=5 * 10**8, class_names=names, smoothing=None, background="SIL")
    assert d["class_name"].tolist() == ["HYB"] and d["n_frames"].tolist() == [20]
    assert d["start"][0] == pd.Timestamp("2024-01-01T00:00:03.25Z")  # frame 3 centred at 3.5 s, minus half a hop
    assert d["duration_s"][0] == 10.0
    short = detect(np.eye(5)[[4] * 5], first_time_ns=t0, frame_period_ns=5 * 10**8,
                   class_names=["SIL", "TRE", "LP", "VTE", "HYB"], smoothing=None)
    assert len(short) == 0  # 5 HYB frames < 14 and no neighbour to absorb them


def test_smoothing_options():
    p = np.eye(2)[[0, 0, 1, 0, 0, 0]]
    assert smooth(p, smoothing=None).tolist() == p.tolist()
    assert smooth(p, smoothing=("median", 3))[:, 0].tolist() == [1.0] * 6
    with pytest.raises(ValueError, match="smoothing"):
        smooth(p, smoothing="wide")


# ------------------------------------------------------------------------------------------------ errors, misc


def test_errors_say_what_and_how(archive, model, tmp_path):
    root, _ = archive
    with pytest.raises(ValueError, match="NET.STA.LOC.CHA"):
        rnnscope.monitor(model, root, seed_id="XX.SYN", progress=False)
    with pytest.raises(ValueError, match="holds no data"):
        rnnscope.monitor(model, root, seed_id="XX.SYN..HHN", progress=False)
    with pytest.raises(ValueError, match="model expects 48"):
        rnnscope.monitor(model, root, feature_config=rnnscope.features.FeatureConfig(n_filters=10), progress=False)
    with pytest.raises(ValueError, match="smoothing"):
        rnnscope.monitor(model, root, smoothing="lots", progress=False)
    with pytest.raises(ValueError, match="not after starttime"):
        rnnscope.monitor(model, root, starttime=END, endtime=START, progress=False)
    with pytest.raises(FileNotFoundError, match="no file or SDS archive"):
        rnnscope.monitor(model, str(tmp_path / "nothing*.mseed"), progress=False)
    two = obspy.Stream([obspy.Trace(np.zeros(1000), header={"station": s}) for s in ("A", "B")])
    with pytest.raises(ValueError, match="holds 2 ids"):
        rnnscope.monitor(model, two, progress=False)


def test_empty_range_gives_an_empty_catalog(archive, model):
    root, _ = archive
    with pytest.warns(UserWarning, match="monitor: no frame was classified: the source holds no sample of "
                                         "'XX.SYN..HHZ' between"):
        res = rnnscope.monitor(model, root, seed_id=SEED_ID, starttime=GAP[0] + 10, endtime=GAP[1] - 10,
                               progress=False)
    assert isinstance(res, MonitorResult) and res.n_frames == 0 and len(res.detections) == 0
    assert res.gaps["duration_s"].tolist() == [70.0]
    assert len(res.probabilities()) == 0


def test_inplace_detrend_matches_obspy():
    x = np.cumsum(np.random.default_rng(7).normal(size=5000)) + np.arange(5000) * 0.3
    for kind in ("linear", "demean", "simple"):
        tr = obspy.Trace(x.copy())
        tr.detrend(kind)
        y = x.copy()
        _detrend_inplace(y, kind, block=777)
        np.testing.assert_allclose(y, tr.data, atol=1e-8)


@pytest.fixture(scope="module")
def stored(archive, model, tmp_path_factory):
    """monitor(..., capture_store=...) after the gap: its result and the runs it wrote."""
    root, _ = archive
    res = rnnscope.monitor(model, root, seed_id=SEED_ID, starttime=GAP[1], endtime=END, detrend=False,
                           capture_store=tmp_path_factory.mktemp("runs"), block_s=900.0, progress=False)
    return res, res.capture_store


def test_capture_store_writes_runs_the_explorer_opens(stored, model, raw):
    """capture_store: one run per UTC day and contiguous piece, h as monitored, detections as segments."""
    res, paths = stored
    assert [p.name for p in paths] == ["XX.SYN..HHZ_20240301T234130.zarr", "XX.SYN..HHZ_20240301T235958.zarr"]
    runs = [rnnscope.open_run(p) for p in paths]  # validates the schema
    assert sum(r.sizes["time"] for r in runs) == res.n_frames
    day2 = runs[1]
    assert float(day2.time[0]) == 2.0 and str(day2.starttime.values[0]).startswith(
        "2024-03-01T23:59:58"
    )  # first frame at midnight
    np.testing.assert_array_equal(day2.prob.values[0], res.pieces[0].prob[-day2.sizes["time"]:])
    # h equals one forward pass over the whole piece (the state is carried across midnight)
    (_, after_gap), x2 = raw
    feats, _ = frames_of(np.concatenate([after_gap, x2]), 100.0)
    with torch.inference_mode():
        _, layers = model.forward_layers(torch.from_numpy(feats.astype(np.float32))[None])
    h = layers[0]["h"][0].numpy()
    np.testing.assert_allclose(day2.h.values[0, :, :, 0], h[-day2.sizes["time"]:], atol=1e-5)
    assert day2.attrs["segments"] == "detections" and "summary_heat" in day2
    n_det = sum(r.sizes["segment"] for r in runs)
    assert n_det >= len(res.detections)  # a detection across midnight is in both runs


def test_monitor_stores_open_and_analyse_like_capture_stores(stored, model, tmp_path):
    """One writer: a monitor run and the capture of its features into a store have one layout, one manifest
    format, the same summaries (computed the same way) and the same analyses."""
    from rnnscope import analysis, schema

    _, paths = stored
    monitored = rnnscope.open_run(paths[0])  # the piece after the gap: the monitor's state starts at zero
    assert monitored.sizes["segment"] > 0  # detections to weigh the heat by
    captured = rnnscope.capture(model, monitored, var=["h"], progress=False, store=tmp_path / "again.zarr")
    names = ["h", "features", "spectrogram", "prob", "pred", "label", *schema.SEGMENT_VARIABLES,
             *schema.SUMMARY_VARIABLES]
    for name in names:
        assert (captured[name].dims, captured[name].dtype.kind) == (monitored[name].dims, monitored[name].dtype.kind), (
            name
        )
    for coord in ("event_id", "length", "starttime", "trace_id", "variable"):
        np.testing.assert_array_equal(captured[coord].values, monitored[coord].values)
    manifests = [json.loads((p / rnnscope.io.MANIFEST).read_text()) for p in (paths[0], tmp_path / "again.zarr")]
    assert manifests[0]["status"] == manifests[1]["status"] == "complete"
    assert manifests[0]["sizes"] == manifests[1]["sizes"] and manifests[0]["variables"] == manifests[1]["variables"]
    np.testing.assert_allclose(captured.h.values, monitored.h.values, atol=1e-5)
    assert schema.summaries_cover(captured) and schema.summaries_cover(monitored)
    for name in ("summary_heat", "summary_heat_frame", "summary_activity", "summary_min", "summary_max"):
        np.testing.assert_allclose(captured[name].values, monitored[name].values, atol=1e-5, equal_nan=True)
    assert np.isfinite(monitored.summary_heat.values).any()  # heat over the detections
    assert np.isnan(monitored.summary_heat_frame.values).all()  # no frame has a known label
    with pytest.warns(analysis.EmptyClassWarning):
        for fn in (analysis.heat_map, lambda r: analysis.activation_histogram(r, per="segment")):
            xr.testing.assert_allclose(fn(captured), fn(monitored), atol=1e-5)


@pytest.mark.parametrize("band", [None, (0.5, 20.0)])
def test_preprocessor_windows_match_processing_the_whole_signal(band):
    """Overlapping windows (margins) and sub-windows give what processing the whole signal at once gives."""
    from rnnscope.data._readers import _process_piece
    from rnnscope.monitoring._preprocessing import _Preprocessor

    rng = np.random.default_rng(8)
    x = np.cumsum(rng.normal(size=200 * 3000)) * 0.01 + rng.normal(size=200 * 3000) * 50  # 50 min at 200 Hz
    start = UTCDateTime("2024-03-01T23:30:00")
    whole = obspy.Trace(x.copy(), header={"sampling_rate": 200.0, "starttime": start})
    _process_piece(whole, None, band, 100.0, "test")
    pre = _Preprocessor(100.0, None, band, margin_s=60.0, seed_id=SEED_ID, func="test", sub_s=500.0)
    out, cuts = [], [0, 123_457, 300_001, 300_002, 450_000, x.size]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        out += pre.push(obspy.Trace(x[a:b].copy(), header={"sampling_rate": 200.0, "starttime": start + a / 200}))
    out += pre.flush()
    starts = [s for s, _ in out]
    y = np.concatenate([v for _, v in out])
    assert starts[0] == start.ns and y.size == whole.data.size
    for (s0, v0), (s1, _) in zip(out[:-1], out[1:], strict=True):
        assert s1 == s0 + v0.size * 10**7  # contiguous at 100 Hz, nothing lost or repeated
    scale = np.abs(whole.data).max()
    np.testing.assert_allclose(y, whole.data, rtol=0, atol=1e-5 * scale)  # resample_poly pads its ends with a line
    np.testing.assert_allclose(y[100:-100], whole.data[100:-100], rtol=0, atol=1e-9 * scale)  # fitted on the window

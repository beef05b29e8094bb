"""The observatory path on archives with the defects of real ones (issue 25): monitor, its capture store, network
runs and the documented CLI command, each on an archive built for the case with ``rnnscope.data.synthetic_archive``.

Cases (each archive a few minutes to 40 minutes of synthetic data, written once per module):

- ``gaps``: two telemetry outages, one ending off the half-second frame grid;
- ``missing_day``: the first UTC day of the range has no file at all, the data start the next day;
- ``overlap``: every day file also holds the first 30 s of the next day (files overlap);
- ``other_rate``: the second day's file is at 50 Hz (the first at 100 Hz, the model's rate);
- ``event_cuts``: event-cut files at 200 Hz two months apart, starting between samples;
- ``dead_station``: a second station whose day files are empty (0 bytes).

For every case the serial monitor with ``capture_store``, ``monitor(..., output=..., capture_store=...)``, a network
run of every station of the archive (``seed_id="XX.*..HHZ"``) and ``rnnscope monitor MODEL SDS --id ID --out out
--capture out/capture`` (docs/monitoring.md) run to the end with the same catalog, and the capture runs open.
"""
import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

obspy = pytest.importorskip("obspy")
from obspy import UTCDateTime  # noqa: E402

import rnnscope  # noqa: E402
from rnnscope.cli import main  # noqa: E402
from rnnscope.data._synthetic_archive import sds_path  # noqa: E402
from rnnscope.errors import DataSkippedWarning  # noqa: E402
from rnnscope.features import frames_of  # noqa: E402
from rnnscope.monitoring import MonitorResult, NetworkResult, read_probabilities  # noqa: E402

SID = "XX.SYN..HHZ"
DEAD = "XX.DED..HHZ"
EVENING = "2024-03-01T23:40:00"
CUTS = [("2024-03-01T10:22:33.417", 300.0), ("2024-05-03T04:01:09.008", 240.0)]
pytestmark = pytest.mark.filterwarnings("ignore::obspy.io.mseed.InternalMSEEDWarning")  # the damaged files
CASES = {
    "gaps": dict(starttime=EVENING, duration_s=2400.0, gaps=[(300.0, 420.0), (1500.0, 1545.37)]),
    "missing_day": dict(starttime="2024-03-01T23:30:00", duration_s=3600.0, missing_days=[0]),
    "overlap": dict(starttime=EVENING, duration_s=2400.0, overlap_s=30.0),
    "other_rate": dict(starttime=EVENING, duration_s=2400.0, day_rates={1: 50.0}),
    "event_cuts": dict(event_cuts=CUTS, sampling_rate=200.0),
    "dead_station": dict(starttime=EVENING, duration_s=2400.0, seed_ids=[SID, DEAD], without_data=[DEAD]),
}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    m = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5,
                                      class_names=["SIL", "TRE", "LP", "VTE", "HYB"])
    with torch.no_grad():  # a normaliser on the scale of the synthetic data, so the probabilities move
        frames, _ = frames_of(np.random.default_rng(0).normal(scale=100.0, size=20000), 100.0)
        m.fit_normalizer(frames[None])
        m.head.bias.copy_(torch.tensor([0.5, 0.0, 0.0, 0.0, 0.0]))
    m.background = "SIL"
    return m.save(tmp_path_factory.mktemp("model") / "model.safetensors")


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """{case: (SDS root, truth)}, each archive built once."""
    built = {}

    def build(case):
        if case not in built:
            root = tmp_path_factory.mktemp(case)
            built[case] = (str(root), rnnscope.data.synthetic_archive(root, seed=5, **CASES[case]))
        return built[case]

    return build


def monitored(model_path, root, out, **kw):
    """The serial run with capture, the run in tasks with capture into an output folder, and the CLI command of
    docs/monitoring.md; every warning they give."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        serial = rnnscope.monitor(model_path, root, seed_id=SID, capture_store=out / "serial_capture",
                                  progress=False, **kw)
        tasks = rnnscope.monitor(model_path, root, seed_id=SID, output=out / "tasks_out",
                                 capture_store=out / "tasks_out" / "capture", progress=False, **kw)
        network = rnnscope.monitor(model_path, root, seed_id="XX.*..HHZ", output=out / "network",
                                   capture_store=out / "network" / "capture", progress=False, **kw)
    cli = out / "cli"
    args = ["monitor", str(model_path), root, "--id", SID, "--out", str(cli), "--capture", str(cli / "capture")]
    args += [a for k, v in kw.items() for a in ({"starttime": "--start", "endtime": "--end"}[k], str(v))]
    code = main(args + ["--quiet"])
    return serial, tasks, network, code, cli, [str(w.message) for w in caught]


def same_catalog(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["seed_id", "class_name", "start", "end", "n_frames"]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True), check_dtype=False)


@pytest.mark.slow  # 2-9 s a case (make test-fast stays short; CI runs it)
@pytest.mark.parametrize("case", list(CASES))
def test_monitor_capture_and_cli_run_to_the_end(case, archives, model_path, tmp_path, capsys):
    """Serial + capture, output + capture, a network run (every station of the archive) with capture and the
    documented CLI command: one catalog, capture runs that open, exit status 0 (the CLI command and output +
    capture once exited 2: capture_features.npy was read after the recordings had been deleted)."""
    root, truth = archives(case)
    serial, tasks, network, code, cli, messages = monitored(model_path, root, tmp_path)
    assert code == 0, capsys.readouterr().err
    assert isinstance(serial, MonitorResult) and isinstance(tasks, MonitorResult)
    assert serial.n_frames > 0 and tasks.n_frames == serial.n_frames
    same_catalog(tasks.detections, serial.detections)
    assert isinstance(network, NetworkResult) and len(network.failures) == 0
    same_catalog(network.detections[network.detections["seed_id"] == SID], serial.detections)
    assert sorted(os.path.basename(p) for p in network.capture_store if SID in str(p)) == \
        sorted(os.path.basename(p) for p in serial.capture_store)
    same_catalog(pd.read_csv(cli / "detections.csv", parse_dates=["start", "end"]), serial.detections)
    assert len(serial.detections) > 0
    stores = {"serial": serial.capture_store, "tasks": tasks.capture_store,
              "cli": json.loads((cli / "monitor.json").read_text())["capture_store"]}
    names = {k: [os.path.basename(p) for p in v] for k, v in stores.items()}
    assert names["serial"] == names["tasks"] == names["cli"] and names["serial"]
    frames = sum(rnnscope.open_run(p).sizes["time"] for p in stores["cli"])
    assert frames == serial.n_frames  # the capture runs hold every frame classified
    assert not list((cli / "tasks").rglob("capture_*.npy"))  # recordings freed once in the runs
    assert not [m for m in messages if "no frame" in m and SID in m]


def frames_in(seconds: float, rate: float = 100.0) -> int:
    return frames_of(np.zeros(int(round(seconds * rate))), rate)[0].shape[0]


def test_gaps_end_pieces_where_the_data_stop(archives, model_path):
    root, truth = archives("gaps")
    result = rnnscope.monitor(model_path, root, seed_id=SID, progress=False)
    t0 = UTCDateTime(EVENING)
    assert [(p.start_ns, p.end_ns) for p in result.pieces] == [
        (t0.ns, (t0 + 300).ns), ((t0 + 420).ns, (t0 + 1500).ns), ((t0 + 1545.37).ns, (t0 + 2400).ns)]
    inner = result.gaps[(result.gaps["duration_s"] < 3600)]
    assert inner["duration_s"].round(2).tolist() == [120.0, 45.37]
    assert result.n_frames == frames_in(300) + frames_in(1080) + frames_in(854.63)
    gaps = [(pd.Timestamp((t0 + a).datetime, tz="UTC"), pd.Timestamp((t0 + b).datetime, tz="UTC"))
            for a, b in ((300, 420), (1500, 1545.37))]
    det = result.detections
    for a, b in gaps:  # no detection spans a gap, nor does the truth
        assert not ((det["start"] < b) & (det["end"] > a)).any()
        assert not ((truth["start"] < b) & (truth["end"] > a)).any()


def test_a_missing_day_is_a_gap_and_the_next_day_is_classified(archives, model_path):
    root, truth = archives("missing_day")
    assert not os.path.exists(sds_path(root, SID, UTCDateTime("2024-03-01")))
    result = rnnscope.monitor(model_path, root, seed_id=SID, starttime="2024-03-01", endtime="2024-03-03",
                              progress=False)
    assert len(result.pieces) == 1 and result.pieces[0].start_ns == UTCDateTime("2024-03-02").ns
    assert result.n_frames == frames_in(1800)  # 00:00 - 00:30 of the second day
    first = result.gaps.iloc[0]
    assert (str(first["start"]), first["duration_s"]) == ("2024-03-01 00:00:00+00:00", 86400.0)
    assert truth["start"].min() >= pd.Timestamp("2024-03-02", tz="UTC")


def test_overlapping_day_files_give_what_files_without_overlap_give(archives, model_path, tmp_path):
    """Day files that overlap by 30 s (the same samples twice) change nothing: the samples are merged once."""
    root, _ = archives("overlap")
    plain = str(tmp_path / "plain")
    rnnscope.data.synthetic_archive(plain, seed=5, **{k: v for k, v in CASES["overlap"].items() if k != "overlap_s"})
    day1 = obspy.read(sds_path(root, SID, UTCDateTime(EVENING)))
    assert day1[-1].stats.endtime > UTCDateTime("2024-03-02T00:00:29")  # the file runs 30 s into the next day
    a = rnnscope.monitor(model_path, root, seed_id=SID, progress=False)
    b = rnnscope.monitor(model_path, plain, seed_id=SID, progress=False)
    assert len(a.pieces) == len(b.pieces) == 1
    np.testing.assert_array_equal(a.pieces[0].prob, b.pieces[0].prob)
    same_catalog(a.detections, b.detections)


def test_a_day_at_another_rate_continues_the_piece(archives, model_path):
    root, _ = archives("other_rate")
    assert obspy.read(sds_path(root, SID, UTCDateTime("2024-03-02")))[0].stats.sampling_rate == 50.0
    result = rnnscope.monitor(model_path, root, seed_id=SID, progress=False)
    assert len(result.pieces) == 1  # resampled to the model's 100 Hz: no gap at midnight
    assert result.pieces[0].n_samples == 240_000 and result.n_frames == frames_in(2400)


def test_event_cut_files_months_apart(archives, model_path):
    """Event-cut files of 200 Hz two months apart: one piece per cut, the months between are gaps, memory and
    work of the cuts only (the days without a file are read as nothing)."""
    root, truth = archives("event_cuts")
    result = rnnscope.monitor(model_path, root, seed_id=SID, progress=False)
    starts = [UTCDateTime(t) for t, _ in CUTS]
    assert len(result.pieces) == 2
    for piece, start, (_, length) in zip(result.pieces, starts, CUTS, strict=True):
        assert abs(piece.start_ns - start.ns) <= 5_000_000  # to half a sample at 100 Hz
        assert piece.prob.shape[0] == frames_in(length)
    assert result.gaps["duration_s"].max() > 60 * 86400
    assert truth["start"].min() >= pd.Timestamp(starts[0].datetime, tz="UTC")


def test_a_station_without_data_warns_and_gets_an_empty_catalog(archives, model_path, tmp_path, capsys):
    """Alone or in a network, a station whose day files are empty gives a warning naming it, an empty catalog and
    an empty probability file; the other station's catalog is written; the CLI exits 0 (it once exited 1 with
    ObsPy's "Can not write empty stream to file", and no station got its detections.csv)."""
    root, _ = archives("dead_station")
    with pytest.warns(DataSkippedWarning, match=r"no frame was classified: the source holds no sample of "
                                                r"'XX.DED..HHZ' between .*; the catalog is empty"):
        alone = rnnscope.monitor(model_path, root, seed_id=DEAD, progress=False)
    assert alone.n_frames == 0 and len(alone.detections) == 0
    with pytest.warns(DataSkippedWarning, match=r"no frame was classified for \['XX.DED..HHZ'\]"):
        network = rnnscope.monitor(model_path, root, seed_id="XX.*..HHZ", output=tmp_path / "net", progress=False)
    assert isinstance(network, NetworkResult) and network.no_data == [DEAD] and len(network.failures) == 0
    same_catalog(network.detections, rnnscope.monitor(model_path, root, seed_id=SID, progress=False).detections)
    manifest = json.loads((tmp_path / "net" / "monitor.json").read_text())
    assert manifest["no_data"] == [DEAD] and manifest["failed"] == []
    assert len(read_probabilities(tmp_path / "net" / "probabilities" / f"{DEAD}.mseed")) == 0
    for ids, out in ((DEAD, "cli_dead"), (f"{SID},{DEAD}", "cli_net")):
        assert main(["monitor", str(model_path), root, "--id", ids, "--out", str(tmp_path / out), "--quiet"]) == 0
        err = capsys.readouterr().err
        assert "rnnscope monitor: warning: monitor: no frame was classified" in err and "XX.DED..HHZ" in err
        table = pd.read_csv(tmp_path / out / "detections.csv")
        assert list(table.columns[:4]) == ["seed_id", "class_name", "start", "end"]
        assert set(table["seed_id"]) == (set() if ids == DEAD else {SID})


def test_a_range_without_data_warns_and_writes_empty_files(archives, model_path, tmp_path, capsys):
    """A time range holding no data for the channel: a warning and an empty catalog on every path;
    ``MonitorResult.to_mseed`` writes an empty file with a warning instead of ObsPy's "Can not write empty stream"."""
    root, _ = archives("gaps")
    empty = dict(starttime="2024-03-05", endtime="2024-03-06")
    with pytest.warns(DataSkippedWarning, match="no frame was classified"):
        result = rnnscope.monitor(model_path, root, seed_id=SID, progress=False, **empty)
    assert len(result.detections) == 0 and result.gaps["duration_s"].tolist() == [86400.0]
    with pytest.warns(DataSkippedWarning, match=r"MonitorResult.to_mseed: no frame of 'XX.SYN..HHZ' was classified "
                                                r"between .* is an empty MiniSEED file \(no record\)"):
        path = result.to_mseed(tmp_path / "p.mseed")
    assert os.path.getsize(path) == 0 and len(read_probabilities(path)) == 0
    with pytest.warns(DataSkippedWarning, match="no frame was classified"):
        tasks = rnnscope.monitor(model_path, root, seed_id=SID, output=tmp_path / "o", progress=False, **empty)
    assert tasks.n_frames == 0 and os.path.getsize(tmp_path / "o" / "probabilities.mseed") == 0
    code = main(["monitor", str(model_path), root, "--id", SID, "--start", "2024-03-05", "--end", "2024-03-06",
                 "--out", str(tmp_path / "cli"), "--capture", str(tmp_path / "cli" / "capture"), "--quiet"])
    assert code == 0 and "no frame was classified" in capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "cli" / "detections.csv")) == 0
    assert len(obspy.read_events(str(tmp_path / "cli" / "detections.xml"))) == 0


def damage(root, seed_id, day):
    """Overwrite 4 kB in the middle of a day file with noise (a disk or transfer error)."""
    path = sds_path(root, seed_id, UTCDateTime(day))
    data = bytearray(open(path, "rb").read())
    data[5000:9000] = np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    open(path, "wb").write(bytes(data))
    return path


def test_a_failing_station_never_costs_the_others_their_catalog(model_path, tmp_path, capsys):
    """One station's day file is damaged: the network run writes every other station's catalog (equal to its run
    alone), names the failed station-span and why in monitor.json, on the console and in a warning; the CLI exits
    1 (the catalog lacks that span); after the file is repaired a rerun redoes only the failed span and exits 0."""
    root = str(tmp_path / "sds")
    ids = ["XX.AAA..HHZ", "XX.BBB..HHZ"]
    rnnscope.data.synthetic_archive(root, starttime=EVENING, duration_s=1800.0, seed_ids=ids, seed=9)
    good = open(sds_path(root, ids[1], UTCDateTime("2024-03-02")), "rb").read()
    damage(root, ids[1], "2024-03-02")
    with pytest.warns(DataSkippedWarning, match=r"1 station-span\(s\) could not be classified and are missing from "
                                                r"the catalog \(XX.BBB..HHZ 2024-03-02T00:00:00.000000Z - .*Error"):
        result = rnnscope.monitor(model_path, root, seed_id=ids, output=tmp_path / "api", progress=False)
    assert result.failures["seed_id"].tolist() == [ids[1]] and "FAILED" in repr(result)
    alone = rnnscope.monitor(model_path, root, seed_id=ids[0], progress=False)
    same_catalog(result.detections[result.detections["seed_id"] == ids[0]], alone.detections)
    assert result[ids[1]].n_frames > 0  # the day before the damaged file is kept

    out = tmp_path / "cli"
    assert main(["monitor", str(model_path), root, "--id", ",".join(ids), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "rnnscope monitor: FAILED XX.BBB..HHZ 2024-03-02T00:00:00.000000Z" in err
    assert "1 station-span(s) failed (listed in" in err
    assert err.count("rnnscope monitor: warning:") <= 8  # ObsPy's note per damaged record: three and a count
    manifest = json.loads((out / "monitor.json").read_text())
    assert [f["seed_id"] for f in manifest["failed"]] == [ids[1]] and "Error" in manifest["failed"][0]["error"]
    table = pd.read_csv(out / "detections.csv", parse_dates=["start", "end"])
    same_catalog(table[table["seed_id"] == ids[0]], alone.detections)

    open(sds_path(root, ids[1], UTCDateTime("2024-03-02")), "wb").write(good)
    assert main(["monitor", str(model_path), root, "--id", ",".join(ids), "--out", str(out), "--quiet"]) == 0
    assert "1 task(s) run, 3 skipped" in capsys.readouterr().out
    assert json.loads((out / "monitor.json").read_text())["failed"] == []
    table = pd.read_csv(out / "detections.csv", parse_dates=["start", "end"])
    same_catalog(table[table["seed_id"] == ids[1]],
                 rnnscope.monitor(model_path, root, seed_id=ids[1], progress=False).detections)


def test_one_station_alone_still_raises_its_error(model_path, tmp_path):
    root = str(tmp_path / "sds")
    rnnscope.data.synthetic_archive(root, starttime=EVENING, duration_s=1800.0, seed=9)
    damage(root, SID, "2024-03-02")
    with pytest.raises(Exception, match="Steim|readMSEEDBuffer|record"):
        rnnscope.monitor(model_path, root, seed_id=SID, output=tmp_path / "o", progress=False)


# ------------------------------------------------------------------------------------------------ the archive


def test_synthetic_archive_options_write_what_they_say(tmp_path):
    root = str(tmp_path)
    truth = rnnscope.data.synthetic_archive(root, starttime="2024-03-01T23:50:00", duration_s=1200.0,
                                            seed_ids=["XX.AAA..HHZ", "XX.BBB..HHZ"], gaps=[(100.0, 160.0)],
                                            missing_days=[1], without_data=["XX.BBB..HHZ"], overlap_s=5.0)
    day0, day1 = UTCDateTime("2024-03-01"), UTCDateTime("2024-03-02")
    st = obspy.read(sds_path(root, "XX.AAA..HHZ", day0))
    assert [(str(tr.stats.starttime), tr.stats.npts) for tr in st] == [
        ("2024-03-01T23:50:00.000000Z", 10000), ("2024-03-01T23:52:40.000000Z", 44000)]
    assert not os.path.exists(sds_path(root, "XX.AAA..HHZ", day1))  # missing day (its overlap too)
    assert os.path.getsize(sds_path(root, "XX.BBB..HHZ", day0)) == 0  # a station that recorded nothing
    assert set(truth["seed_id"]) == {"XX.AAA..HHZ"}
    edges = [(pd.Timestamp("2024-03-01T23:51:40", tz="UTC"), pd.Timestamp("2024-03-01T23:52:40", tz="UTC")),
             (pd.Timestamp("2024-03-02", tz="UTC"), pd.Timestamp("2024-03-03", tz="UTC"))]
    for a, b in edges:  # events are clipped at gaps and missing days
        assert not ((truth["start"] < b) & (truth["end"] > a)).any()
    assert (truth["end"] > truth["start"]).all() and truth["start"].is_monotonic_increasing
    with pytest.raises(ValueError, match="'without_data' parameter of synthetic_archive names \\['XX.C..HHZ'\\]"):
        rnnscope.data.synthetic_archive(root, without_data=["XX.C..HHZ"])
    with pytest.raises(ValueError, match="not both"):
        rnnscope.data.synthetic_archive(root, duration_s=60.0, event_cuts=CUTS)
    with pytest.raises(ValueError, match="NET.STA.LOC.CHA"):
        rnnscope.data.synthetic_archive(root, seed_ids="XX.SYN")
    with pytest.raises(TypeError, match="give one channel as seed_id, or every channel as seed_ids"):
        rnnscope.data.synthetic_archive(root, seed_id="XX.ONE..HHZ", seed_ids=["XX.A..HHZ", "XX.B..HHZ"])


def test_synthetic_archive_takes_one_channel_as_seed_id_as_monitor_names_it(tmp_path):
    """``seed_id=`` (one channel, the name ``monitor`` uses) writes what ``seed_ids=[that id]`` writes."""
    one, many = str(tmp_path / "one"), str(tmp_path / "many")
    a = rnnscope.data.synthetic_archive(one, "2024-03-01T23:00:00", 600.0, seed_id="XX.GAP..HHZ", gaps=[(60, 120)])
    b = rnnscope.data.synthetic_archive(many, "2024-03-01T23:00:00", 600.0, seed_ids=["XX.GAP..HHZ"], gaps=[(60, 120)])
    pd.testing.assert_frame_equal(a, b)
    day = UTCDateTime("2024-03-01")
    st_one, st_many = obspy.read(sds_path(one, "XX.GAP..HHZ", day)), obspy.read(sds_path(many, "XX.GAP..HHZ", day))
    assert len(st_one) == len(st_many) == 2  # the gap splits the day
    for x, y in zip(st_one, st_many, strict=True):
        assert x.stats.starttime == y.stats.starttime
        np.testing.assert_array_equal(x.data, y.data)


def test_synthetic_archive_overlap_repeats_the_next_days_samples(tmp_path):
    root = str(tmp_path)
    rnnscope.data.synthetic_archive(root, starttime=EVENING, duration_s=1800.0, overlap_s=30.0, day_rates={1: 200.0})
    day0 = obspy.read(sds_path(root, SID, UTCDateTime("2024-03-01")))
    day1 = obspy.read(sds_path(root, SID, UTCDateTime("2024-03-02")))
    late = [tr for tr in day0 if tr.stats.starttime >= UTCDateTime("2024-03-02")]
    assert len(late) == 1 and late[0].stats.sampling_rate == 200.0 and late[0].stats.npts == 6000
    np.testing.assert_array_equal(late[0].data, day1[0].data[:6000])


def test_synthetic_archive_with_defaults(tmp_path, model_path):
    """One hour of one channel at 100 Hz from 2024-03-01T00:00, which the monitor reads whole."""
    truth = rnnscope.data.synthetic_archive(tmp_path)
    st = obspy.read(sds_path(tmp_path, SID, UTCDateTime("2024-03-01")))
    assert len(st) == 1 and st[0].stats.npts == 360_000 and st[0].stats.sampling_rate == 100.0
    assert len(truth) > 10 and set(truth["class_name"]) <= {"TRE", "LP", "VTE", "HYB"}
    result = rnnscope.monitor(model_path, str(tmp_path), progress=False)
    assert result.seed_id == SID and result.n_frames == frames_in(3600)


# ------------------------------------------------------------------------------------------------ the docs


DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "monitoring.md")


def documented_commands():
    """The ``rnnscope monitor`` / ``rnnscope retrain`` command lines of docs/monitoring.md's bash blocks, in order
    (continuation lines joined; ``rnnscope review`` serves a page, ``--workers`` / ``--scheduler`` need a cluster)."""
    import shlex

    commands, block, line = [], False, ""
    for raw in open(DOCS).read().splitlines():
        if raw.startswith("```"):
            block = raw.startswith("```bash")
            continue
        if not block:
            continue
        line += raw.rstrip("\\").strip() + " " if raw.rstrip().endswith("\\") else raw
        if raw.rstrip().endswith("\\"):
            continue
        words, line = shlex.split(line, comments=True), ""
        if words[:2] in (["rnnscope", "monitor"], ["rnnscope", "retrain"]) and not \
                {"--workers", "--scheduler"} & set(words):
            commands.append(words)
    return commands


def test_the_commands_of_docs_monitoring_run_as_shown(tmp_path, monkeypatch, capsys):
    """Every rnnscope monitor / retrain command of docs/monitoring.md, exactly as written, in a folder holding what
    they name (model.safetensors, the SDS root sds with XX.DCP..HHZ, train.zarr; march/reviewed.csv stands in for the
    review page: every detection accepted): each exits 0 and writes what the page says."""
    commands = documented_commands()
    assert [c[1] for c in commands] == ["monitor", "monitor", "monitor", "retrain", "monitor"]
    monkeypatch.chdir(tmp_path)
    rnnscope.data.synthetic_archive("sds", seed_ids="XX.DCP..HHZ", seed=3)
    original = rnnscope.features.compute(rnnscope.data.synthetic(n_records=16, seed=1))
    rnnscope.save_run(original, "train.zarr")
    torch.manual_seed(0)
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=8, num_classes=5)
    rnnscope.train.fit(model, original, epochs=2, progress=False, seed=0)
    model.save("model.safetensors")
    for words in commands:
        if words[1] == "retrain":
            table = pd.read_csv("march/detections.csv")
            assert len(table) > 0
            table.assign(review="accepted").to_csv("march/reviewed.csv", index=False)
        code = main(words[1:])
        assert code == 0, (words, capsys.readouterr().err)
        out = capsys.readouterr().out
        if words[1] == "monitor":
            folder = words[words.index("--out") + 1]
            for name in ("detections.csv", "detections.xml", "monitor.json", "probabilities.mseed"):
                assert os.path.exists(os.path.join(folder, name)), (words, name)
            assert "MonitorResult(XX.DCP..HHZ" in out
        else:
            assert os.path.exists("model-v2.safetensors") and os.path.exists("model-v2.safetensors.scores.csv")
    runs = json.loads(open("out/monitor.json").read())["capture_store"]
    assert runs and all(rnnscope.open_run(p).sizes["event"] == 1 for p in runs)

"""rnnscope.monitor over a station network: tasks on an Executor (Dask), restarts, capture stores, spans, CLI.

The archive (written once per module, a few seconds): three channels from 2024-03-01T23:40 to 2024-03-02T00:20 (40
minutes across midnight) as Steim-2 MiniSEED in one SDS tree, cut into blocks of 10 minutes (4 blocks a channel):

- ``XX.AAA..HHZ`` at 100 Hz with a gap from 300 s to 345.37 s (the data restart off the half-second frame grid);
- ``XX.BBB..HHZ`` at 100 Hz, then 200 Hz after midnight (resampled by the monitor), an event across midnight;
- ``XX.CCC..HHZ`` at 100 Hz.

The reference is each channel monitored alone by the serial path (``rnnscope.monitor(model, root, seed_id=id)``).
"""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch

obspy = pytest.importorskip("obspy")
from obspy import UTCDateTime  # noqa: E402  (after the importorskip of obspy)

import rnnscope  # noqa: E402  (after the importorskip of obspy)
from rnnscope.data._synthetic_archive import write_sds_archive  # noqa: E402  (after the importorskip of obspy)
from rnnscope.features import frames_of  # noqa: E402  (after the importorskip of obspy)
from rnnscope.monitoring import MonitorResult, NetworkResult  # noqa: E402  (after the importorskip of obspy)

START = UTCDateTime("2024-03-01T23:40:00")
SECONDS = 2400.0
END = START + SECONDS
IDS = ["XX.AAA..HHZ", "XX.BBB..HHZ", "XX.CCC..HHZ"]
KW = dict(starttime=START, endtime=END, block_s=600.0, progress=False)
N_TASKS = 3 * 4


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("network_sds")
    truths = [
        write_sds_archive(root, START, SECONDS, seed=21, seed_id=IDS[0], gaps=[(300.0, 345.37)])[0],
        write_sds_archive(root, START, SECONDS, seed=22, seed_id=IDS[1], day_rates={1: 200.0}, event_at_s=1200.0)[0],
        write_sds_archive(root, START, SECONDS, seed=23, seed_id=IDS[2])[0],
    ]
    return str(root), pd.concat(truths, ignore_index=True)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=12, num_classes=5)
    with torch.no_grad():  # a normaliser on the scale of the synthetic data, so the probabilities move
        frames, _ = frames_of(np.random.default_rng(0).normal(scale=100.0, size=20000), 100.0)
        m.fit_normalizer(frames[None])
        m.head.bias.copy_(torch.tensor([0.5, 0.0, 0.0, 0.0, 0.0]))
    return m.eval()


@pytest.fixture(scope="module")
def model_path(model, tmp_path_factory):
    return model.save(tmp_path_factory.mktemp("model") / "model.safetensors")


@pytest.fixture(scope="module")
def serial(archive, model):
    root, _ = archive
    return {sid: rnnscope.monitor(model, root, seed_id=sid, **KW) for sid in IDS}


@pytest.fixture(scope="module")
def cluster():
    """Two Dask worker processes of one thread on 127.0.0.1, closed at the end of the module."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  host="127.0.0.1") as cluster, distributed.Client(cluster) as client:
        yield cluster, client


def assert_same_as_serial(result, serial, ids=IDS):
    """Every channel's pieces, probabilities, gaps and detections are those of the serial run, bit for bit."""
    assert isinstance(result, NetworkResult) and result.seed_ids == ids
    for sid in ids:
        mine, ref = result[sid], serial[sid]
        assert [(p.start_ns, p.n_samples, p.first_frame_ns) for p in mine.pieces] == \
            [(p.start_ns, p.n_samples, p.first_frame_ns) for p in ref.pieces]
        for a, b in zip(mine.pieces, ref.pieces, strict=True):
            np.testing.assert_array_equal(a.prob, b.prob)
        pd.testing.assert_frame_equal(mine.gaps, ref.gaps)
        table = result.detections[result.detections["seed_id"] == sid].reset_index(drop=True)
        pd.testing.assert_frame_equal(table, ref.detections)
    assert len(result.detections) == sum(len(serial[sid].detections) for sid in ids)


# ------------------------------------------------------------------------------------------------ equality


def test_network_in_tasks_equals_each_station_alone(archive, model, serial):
    root, _ = archive
    result = rnnscope.monitor(model, root, seed_id=IDS, **KW)
    assert_same_as_serial(result, serial)
    det = result.detections
    assert det["start"].is_monotonic_increasing and set(det["seed_id"]) == set(IDS)
    assert det.attrs["background"] == "SIL"
    assert list(result.gaps.columns) == ["seed_id", "start", "end", "duration_s"]
    assert result.gaps["seed_id"].tolist() == [IDS[0]]  # AAA's gap only
    assert result.timings["tasks_run"] == N_TASKS and result.timings["tasks_skipped"] == 0
    assert result.n_frames == sum(r.n_frames for r in serial.values())
    assert "3 channel(s)" in repr(result) and f"{N_TASKS} task(s) run" in repr(result)
    assert len(serial[IDS[1]].pieces) == 1  # midnight and the change to 200 Hz do not cut BBB


@pytest.mark.slow  # several seconds (make test-fast stays short; CI runs it)
def test_dask_cluster_gives_the_serial_result(archive, model, serial, cluster):
    root, _ = archive
    _, client = cluster
    result = rnnscope.monitor(model, root, seed_id="XX.*..HHZ", executor=client.get_executor(), **KW)
    assert_same_as_serial(result, serial)
    one = rnnscope.monitor(model, root, seed_id=IDS[1], executor=client.get_executor(), **KW)
    assert isinstance(one, MonitorResult)  # one id: one station's result, as without an executor
    np.testing.assert_array_equal(one.pieces[0].prob, serial[IDS[1]].pieces[0].prob)


def test_ids_as_patterns_lists_and_inventory(archive, model):
    from obspy.core.inventory import Channel, Inventory, Network, Station

    root, _ = archive
    kw = dict(KW, endtime=START + 600)
    assert rnnscope.monitor(model, root, seed_id="XX.[AB]*..HHZ", **kw).seed_ids == IDS[:2]
    assert rnnscope.monitor(model, root, seed_id=[IDS[2], "XX.A*"], **kw).seed_ids == [IDS[0], IDS[2]]
    channels = [Channel("HHZ", "", 0.0, 0.0, 0.0, 0.0)]
    inventory = Inventory(networks=[Network("XX", stations=[Station("CCC", 0.0, 0.0, 0.0, channels=channels),
                                                            Station("ZZZ", 0.0, 0.0, 0.0, channels=channels)])])
    assert rnnscope.monitor(model, root, seed_id=inventory, **kw).seed_ids == [IDS[2]]  # ZZZ has no data
    with pytest.raises(ValueError, match=r"no trace matching 'YY\.\*'; it holds \['XX\.AAA\.\.HHZ'"):
        rnnscope.monitor(model, root, seed_id="YY.*", **kw)
    with pytest.raises(ValueError, match="must be a SEED id 'NET.STA.LOC.CHA', a pattern such as 'XX"):
        rnnscope.monitor(model, root, seed_id=["XX.AAA"], **kw)


def test_network_result_exports(archive, model, serial, tmp_path):
    root, truth = archive
    result = rnnscope.monitor(model, root, seed_id=IDS, **KW)
    st = result.probabilities()
    assert {tr.stats.station for tr in st} == {"AAA", "BBB", "CCC"} and len(result.probabilities(IDS[2])) == 5
    paths = result.to_mseed(tmp_path / "prob")
    assert [os.path.basename(p) for p in paths] == [f"{sid}.mseed" for sid in IDS]
    back = rnnscope.monitoring.read_probabilities(paths[0])
    assert {tr.stats.class_name for tr in back} == set(model.class_names)
    cat = obspy.read_events(result.to_quakeml(tmp_path / "d.xml"))
    assert [ev.picks[0].waveform_id.id for ev in cat] == result.detections["seed_id"].tolist()
    assert [ev.event_descriptions[0].text for ev in cat] == result.detections["class_name"].tolist()
    table = pd.read_csv(result.to_csv(tmp_path / "d.csv"), parse_dates=["start", "end"])
    assert table["seed_id"].tolist() == result.detections["seed_id"].tolist()
    scores = result.score(truth)  # matched per channel: the truth has a seed_id column
    assert scores.loc["all", "n_true"] == len(truth)
    assert scores.loc["all", "n_detected"] == len(result.detections)
    again = result.detect(smoothing=None, min_duration=1)
    expected = sum(len(serial[sid].detect(smoothing=None, min_duration=1)) for sid in IDS)
    assert len(again) == expected


# ------------------------------------------------------------------------------------------------ restarts


def test_rerun_skips_finished_tasks_and_refuses_another_run(archive, model, serial, tmp_path):
    root, _ = archive
    out = tmp_path / "out"
    first = rnnscope.monitor(model, root, seed_id=IDS, output=out, **KW)
    assert_same_as_serial(first, serial)
    assert first.timings["tasks_run"] == N_TASKS
    for name in ("detections.csv", "detections.xml", "monitor.json", *[f"probabilities/{s}.mseed" for s in IDS]):
        assert (out / name).is_file(), name
    assert not list(out.rglob("*.partial"))
    again = rnnscope.monitor(model, root, seed_id=IDS, output=out, **KW)
    assert again.timings["tasks_run"] == 0 and again.timings["tasks_skipped"] == N_TASKS
    pd.testing.assert_frame_equal(again.detections, first.detections)

    import shutil

    last = sorted((out / "tasks" / IDS[1]).glob("c000_b*"))[-1]
    shutil.rmtree(last)  # an unfinished last day, and what a killed task leaves: a .partial folder
    (out / "tasks" / IDS[0] / "c000_b00002.1234abcd.partial").mkdir()
    redo = rnnscope.monitor(model, root, seed_id=IDS, output=out, **KW)
    assert redo.timings["tasks_run"] == 1 and redo.timings["tasks_skipped"] == N_TASKS - 1
    assert_same_as_serial(redo, serial)
    assert not list(out.rglob("*.partial"))

    with pytest.raises(ValueError, match=r"holds the tasks of another run \(it differs in \['settings'\]\)"):
        rnnscope.monitor(model, root, seed_id=IDS, output=out, **dict(KW, margin_s=30.0))
    other = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5).eval()
    with pytest.raises(ValueError, match=r"differs in \['model'\]"):
        rnnscope.monitor(other, root, seed_id=IDS, output=out, **KW)


_RUN = r"""
import sys, rnnscope
root, model, out = sys.argv[1:4]
rnnscope.monitor(model, root, seed_id="XX.*..HHZ", starttime="2024-03-01T23:40:00", endtime="2024-03-02T00:20:00",
                 block_s=120.0, output=out, progress=False)
"""


def _finished(out):
    return [p for p in (out / "tasks").glob("*/c*_b*") if not p.name.endswith(".partial")]


@pytest.mark.slow  # several seconds (make test-fast stays short; CI runs it)
def test_a_killed_run_loses_only_the_tasks_in_flight(archive, model, model_path, tmp_path):
    root, _ = archive
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-c", _RUN, root, model_path, str(out)])
    try:
        deadline = time.monotonic() + 120
        while len(_finished(out)) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    done = len(_finished(out))
    assert done >= 3 and not (out / "detections.csv").exists()  # killed mid-run: no catalog yet
    kw = dict(KW, block_s=120.0)
    rerun = rnnscope.monitor(rnnscope.models.load(model_path), root, seed_id="XX.*..HHZ", output=out, **kw)
    total = 3 * 20
    assert rerun.timings["tasks_skipped"] == done and rerun.timings["tasks_run"] == total - done
    whole = rnnscope.monitor(model, root, seed_id="XX.*..HHZ", **kw)
    pd.testing.assert_frame_equal(rerun.detections, whole.detections)
    for sid in IDS:
        for a, b in zip(rerun[sid].pieces, whole[sid].pieces, strict=True):
            np.testing.assert_array_equal(a.prob, b.prob)


@pytest.mark.slow  # several seconds (make test-fast stays short; CI runs it)
def test_a_killed_worker_loses_only_its_task(archive, model, serial, cluster, tmp_path):
    root, _ = archive
    local, client = cluster
    out = tmp_path / "out"
    kw = dict(KW, block_s=120.0)
    outcome = {}

    def run():
        try:
            outcome["result"] = rnnscope.monitor(model, root, seed_id=IDS, executor=client.get_executor(),
                                                 output=out, **kw)
        except Exception as err:  # a lost worker may fail the run: the rerun finishes it
            outcome["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while len(_finished(out)) < 2 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    victim = next(iter(local.workers.values()))
    os.kill(victim.process.process.pid, signal.SIGKILL)
    assert len(_finished(out)) < 3 * 20  # mid-run
    thread.join(timeout=300)
    assert not thread.is_alive()
    client.wait_for_workers(2, timeout=60)
    rerun = rnnscope.monitor(model, root, seed_id=IDS, executor=client.get_executor(), output=out, **kw)
    assert rerun.timings["tasks_skipped"] >= 2
    whole = rnnscope.monitor(model, root, seed_id=IDS, **kw)
    pd.testing.assert_frame_equal(rerun.detections, whole.detections)
    for sid in IDS:
        for a, b in zip(rerun[sid].pieces, whole[sid].pieces, strict=True):
            np.testing.assert_array_equal(a.prob, b.prob)


# ------------------------------------------------------------------------------------------------ capture


@pytest.mark.slow  # several seconds (make test-fast stays short; CI runs it)
def test_network_capture_stores_equal_the_serial_ones(archive, model, tmp_path):
    root, _ = archive
    ids = IDS[1:2]  # across midnight (a run per UTC day) and the change to 200 Hz
    kw = dict(KW, starttime=START + 900, endtime=START + 1500)
    alone = {sid: rnnscope.monitor(model, root, seed_id=sid, capture_store=tmp_path / "alone", **kw) for sid in ids}
    result = rnnscope.monitor(model, root, seed_id=ids, capture_store=tmp_path / "net", output=tmp_path / "out", **kw)
    assert len(result.capture_store) == 2
    expected = sorted(p.name for sid in ids for p in alone[sid].capture_store)
    assert sorted(p.name for p in result.capture_store) == expected
    for sid in ids:
        for path in alone[sid].capture_store:
            a, b = rnnscope.open_run(path), rnnscope.open_run(tmp_path / "net" / path.name)
            assert sorted(a.data_vars) == sorted(b.data_vars)
            for name in a.data_vars:
                np.testing.assert_array_equal(a[name].values, b[name].values)
    assert not list((tmp_path / "out").rglob("capture_*.npy"))  # the recordings are freed once in the stores


# ------------------------------------------------------------------------------------------------ spans


def _worst(result, reference):
    """Largest probability difference per piece, and the frame times (s from START) where it exceeds 1e-6."""
    worst, where = 0.0, []
    for a, b in zip(result.pieces, reference.pieces, strict=True):
        diff = np.abs(a.prob - b.prob).max(axis=1)
        worst = max(worst, float(diff.max(initial=0.0)))
        where += ((a.frame_times_ns[diff > 1e-6] - START.ns) / 1e9).tolist()
    return worst, np.array(where)


def test_spans_with_a_warm_up_agree_with_the_serial_run(archive, model, serial):
    root, _ = archive
    # spans of 10 minutes (seams at 23:50, 00:00, 00:10); each hands over margin_s = 60 s before its seam
    handovers = np.array([600.0, 1200.0, 1800.0]) - 60.0
    # without detrending, only the recurrent state differs after a span's start: 600 s of warm-up forget it
    plain = {sid: rnnscope.monitor(model, root, seed_id=sid, detrend=False, **KW) for sid in IDS}
    spans = rnnscope.monitor(model, root, seed_id=IDS, detrend=False, span_s=600.0, warmup_s=600.0, **KW)
    for sid in IDS:
        ref = plain[sid]
        assert [(p.start_ns, p.n_samples, p.first_frame_ns, p.prob.shape) for p in spans[sid].pieces] == \
            [(p.start_ns, p.n_samples, p.first_frame_ns, p.prob.shape) for p in ref.pieces]  # one frame grid
        worst, _ = _worst(spans[sid], ref)
        assert worst < 1e-6
    assert spans.timings["tasks_run"] > N_TASKS  # warm-up and extension blocks
    # with detrending (the default) each processing window is detrended alone: the windows next to a hand-over
    # point differ from the serial run's, nothing else does
    spans = rnnscope.monitor(model, root, seed_id=IDS, span_s=600.0, warmup_s=600.0, **KW)
    for sid in IDS:
        worst, where = _worst(spans[sid], serial[sid])
        assert worst < 2e-2
        assert all(np.abs(handovers - t).min() <= 15.0 for t in where), sid
    key = ["seed_id", "class_name", "start", "end"]
    changed = pd.concat([spans.detections[key], *[serial[s].detections[key] for s in IDS]]).drop_duplicates(
        keep=False)
    for row in changed.itertuples():  # a detection that changed holds a hand-over point
        a, b = ((t - pd.Timestamp(START.datetime, tz="UTC")).total_seconds() for t in (row.start, row.end))
        assert any(a - 15.0 <= h <= b + 15.0 for h in handovers), row


# ------------------------------------------------------------------------------------------------ options, CLI


def test_network_options_are_checked(archive, model, tmp_path):
    root, _ = archive
    with pytest.raises(ValueError, match="capture_store needs an output folder .* Pass output='FOLDER'"):
        rnnscope.monitor(model, root, seed_id=IDS, capture_store=tmp_path / "c", **KW)
    with pytest.raises(ValueError, match="cannot be combined with span_s"):
        rnnscope.monitor(model, root, seed_id=IDS, capture_store=tmp_path / "c", output=tmp_path, span_s=600.0, **KW)
    with pytest.raises(TypeError, match=r"must be a concurrent.futures.Executor .* Got list instead"):
        rnnscope.monitor(model, root, seed_id=IDS, executor=[], **KW)
    with pytest.raises(ValueError, match="The 'warmup_s' parameter of monitor must be a non-negative number"):
        rnnscope.monitor(model, root, seed_id=IDS, span_s=600.0, warmup_s=-1.0, **KW)


def test_cli_runs_a_network_on_a_scheduler_and_restarts(archive, model_path, serial, cluster, tmp_path, capsys):
    from rnnscope.cli import main

    root, _ = archive
    local, _ = cluster
    out = tmp_path / "out"
    args = ["monitor", model_path, root, "--id", ",".join(IDS), "--start", str(START), "--end", str(END),
            "--out", str(out), "--quiet"]
    assert main(args + ["--scheduler", local.scheduler_address]) == 0
    assert "NetworkResult(3 channel(s)" in capsys.readouterr().out
    table = pd.read_csv(out / "detections.csv", parse_dates=["start", "end"])
    assert len(table) == len(obspy.read_events(str(out / "detections.xml")))
    assert set(table["seed_id"]) <= set(IDS)
    assert sorted(os.listdir(out / "probabilities")) == sorted([f"{s}.mseed" for s in IDS] +
                                                                 [f"{s}.mseed.json" for s in IDS])
    assert main(args) == 0  # serial rerun into the same folder: every day was done
    assert "0 task(s) run, 6 skipped" in capsys.readouterr().out  # 3 channels x 2 UTC days


def test_a_channel_without_data_in_the_range_warns(archive, model):
    root, _ = archive
    with pytest.warns(UserWarning, match=r"no frame was classified for \['XX.AAA..HHZ'\]"):
        result = rnnscope.monitor(model, root, seed_id=IDS[:2], starttime=START + 300, endtime=START + 340,
                                  progress=False)  # AAA is in its gap; BBB has 40 s
    assert result[IDS[0]].n_frames == 0 and result[IDS[1]].n_frames > 0
    assert result.gaps["seed_id"].tolist() == [IDS[0]]

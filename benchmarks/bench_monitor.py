"""How fast is ``rnnscope.monitor`` on a day of continuous data, how much memory does it take, how good is its catalog?

1. **Archive**: one synthetic day (24 h at 100 Hz, records of ``rnnscope.data.synthetic`` concatenated, with its
   true catalog) written as Steim-2 MiniSEED in an SDS tree, and two more days (copies of the first, shifted by 24 h
   and 48 h) for the memory comparison.
2. **Speed and memory**: ``rnnscope.monitor`` with an LSTM(210) (the paper's best size; untrained weights, the cost
   does not depend on them) over 1, 2 and 3 days, each in a fresh child process: wall time per stage (read,
   preprocess, features, inference, catalog), real-time factor (seconds of data per second of wall time; goal >=
   5,000x, i.e. a day in under 17.3 s) and peak memory (RSS high-water mark of the child; must not grow with the
   range).
3. **Catalog quality**: a small LSTM trained on other synthetic records (a different seed), then monitored over
   the synthetic day; event-level precision, recall and onset error per class
   (``rnnscope.monitoring.score_detections``).
4. **A network on Dask** (``--network``): 4 stations x 2 days (copies of the synthetic day under other station
   codes) monitored with ``executor=client.get_executor()`` on a ``distributed.LocalCluster`` of 1 and 2 worker
   processes (one thread each): wall time and speed-up (goal >= 1.7x with 2 workers on 2 cores), the mean cost of a
   station-day task inside a worker, the scheduler overhead per task (workers x wall - task seconds, per task; and
   the round trip of an empty task submitted the way the monitor submits them), and the peak RSS of every worker
   for 1 and 2 days (must not grow with the range).
5. **Spans** (``--network``): one station over the days with ``span_s`` = 6 h (blocks of 1 h) and several
   warm-ups, against the serial run with the trained model: detections that differ and the largest probability
   difference.

Run: ``.venv/bin/python benchmarks/bench_monitor.py [--quick] [--workdir DIR] [--network | --network-only]``;
record the output in docs/perf/monitor.md (and the network figures in docs/monitoring.md). ``--workdir`` keeps
the archive and the trained model for a second run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from _timing import Stopwatch  # noqa: E402  (benchmarks/_timing.py, the one timing helper)

_CHILD = r"""
import json, resource, sys, time
import torch, rnnscope
torch.manual_seed(0)
root, start, days, hidden, model_path = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
capture = sys.argv[7] if len(sys.argv) > 7 and sys.argv[7] != "-" else None
if model_path != "-":
    model = rnnscope.models.load(model_path)
else:
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=hidden, num_classes=5)
from obspy import UTCDateTime
t0 = UTCDateTime(start)
rnnscope.monitor(model, root, starttime=t0, endtime=t0 + 600, progress=False)  # warm-up (imports, first calls)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tic = time.perf_counter()
result = rnnscope.monitor(model, root, starttime=t0, endtime=t0 + days * 86400, progress=False, capture_store=capture)
wall = time.perf_counter() - tic
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {"wall": wall, "timings": result.timings, "data_s": result.data_seconds, "frames": result.n_frames,
       "detections": len(result.detections), "peak_mb": peak / 1024, "base_mb": base / 1024}
if capture:
    import pathlib
    out["capture_mb"] = sum(f.stat().st_size for f in pathlib.Path(capture).rglob("*") if f.is_file()) / 1e6
if len(sys.argv) > 6 and sys.argv[6] != "-":
    result.detections.to_pickle(sys.argv[6])
print(json.dumps(out))
"""


def child(root, start, days, hidden=210, model_path="-", detections=None, capture=None) -> dict:
    args = [sys.executable, "-c", _CHILD, root, start, str(days), str(hidden), model_path, detections or "-",
            capture or "-"]
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def build_archive(workdir: str, hours: float, seed: int = 7, days: int = 3):
    """Day 1 (synthetic, ``hours`` of data from 00:00) and copies of it shifted by 1, 2, ... days; return truth."""
    import obspy
    import pandas as pd

    from rnnscope.data._synthetic_archive import sds_path, write_sds_archive

    root = os.path.join(workdir, "sds")
    truth_path = os.path.join(workdir, "truth.csv")
    start = obspy.UTCDateTime("2024-03-01T00:00:00")
    if not os.path.exists(truth_path):
        with Stopwatch() as sw:
            truth, _ = write_sds_archive(root, start, hours * 3600, seed=seed)
            truth.to_csv(truth_path, index=False)
        print(f"wrote a synthetic day ({hours:g} h of data) in {sw.seconds:.0f} s: {root}")
    for day in range(1, days):
        path = sds_path(root, "XX.SYN..HHZ", start + 86400 * day)
        if not os.path.exists(path):
            st = obspy.read(sds_path(root, "XX.SYN..HHZ", start))
            for tr in st:
                tr.stats.starttime += 86400 * day
            st.write(path, format="MSEED", encoding="STEIM2", reclen=4096)
    truth = pd.read_csv(truth_path, parse_dates=["start", "end"])
    return root, start, truth


def build_200hz(workdir: str, root: str, start) -> str:
    """The synthetic day upsampled to 200 Hz (scipy resample_poly), in its own SDS tree."""
    import numpy as np
    import obspy
    from scipy.signal import resample_poly

    from rnnscope.data._synthetic_archive import sds_path

    root200 = os.path.join(workdir, "sds200")
    path = sds_path(root200, "XX.SYN..HHZ", start)
    if not os.path.exists(path):
        st = obspy.read(sds_path(root, "XX.SYN..HHZ", start))
        for tr in st:
            tr.data = np.rint(resample_poly(tr.data.astype(np.float64), 2, 1)).astype(np.int32)
            tr.stats.sampling_rate = 200.0
        os.makedirs(os.path.dirname(path), exist_ok=True)
        st.write(path, format="MSEED", encoding="STEIM2", reclen=4096)
    return root200


def train_model(workdir: str, hidden: int, epochs: int, seed: int = 100) -> str:
    path = os.path.join(workdir, f"lstm{hidden}.safetensors")
    if os.path.exists(path):
        return path
    import torch

    import rnnscope

    with Stopwatch() as sw:
        frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=240, seed=seed,
                                                                   record_duration_s=(120.0, 300.0)))
        torch.manual_seed(seed)
        model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=hidden, num_classes=5)
        history = rnnscope.train.fit(model, frames, epochs=epochs, validation=0.15, early_stopping=5, seed=seed,
                                     progress=False)
        model.save(path)
    print(f"trained LSTM({hidden}) on 240 synthetic records (seed {seed}): {len(history)} epochs in "
          f"{sw.seconds:.0f} s, last val. frame accuracy {history['val_accuracy'].iloc[-1]:.3f}")
    return path


# ------------------------------------------------------------------------------------------------ network


def build_network(workdir: str, root: str, start, stations: int, days: int) -> str:
    """``stations`` x ``days``: the synthetic day copied under station codes S00, S01, ... and shifted by days."""
    import obspy

    from rnnscope.data._synthetic_archive import sds_path

    net_root = os.path.join(workdir, "network_sds")
    day1 = obspy.read(sds_path(root, "XX.SYN..HHZ", start))
    for k in range(stations):
        for day in range(days):
            seed_id = f"XX.S{k:02d}..HHZ"
            path = sds_path(net_root, seed_id, start + 86400 * day)
            if os.path.exists(path):
                continue
            st = day1.copy()
            for tr in st:
                tr.stats.station = f"S{k:02d}"
                tr.stats.starttime += 86400 * day
            os.makedirs(os.path.dirname(path), exist_ok=True)
            st.write(path, format="MSEED", encoding="STEIM2", reclen=4096)
    return net_root


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _empty_task(_):
    return None


def network_run(net_root, start, days, workers, hidden=210):
    """One network run on a fresh LocalCluster: wall, task seconds, tasks, peak RSS per worker, empty-task trip."""
    import time
    from concurrent.futures import wait

    import torch
    from distributed import Client, LocalCluster

    import rnnscope

    torch.manual_seed(0)
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=hidden, num_classes=5)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        executor = client.get_executor()
        with tempfile.TemporaryDirectory() as warm:  # imports and the model on every worker
            rnnscope.monitor(model, net_root, seed_id="XX.*..HHZ", starttime=start, endtime=start + 600,
                             executor=executor, output=warm, progress=False)
        trips = []
        for _ in range(100):  # one task after the other, as a chain's blocks are submitted
            tic = time.perf_counter()
            wait([executor.submit(_empty_task, None)])
            trips.append(time.perf_counter() - tic)
        with tempfile.TemporaryDirectory() as out:
            tic = time.perf_counter()
            result = rnnscope.monitor(model, net_root, seed_id="XX.*..HHZ", starttime=start,
                                      endtime=start + days * 86400, executor=executor, output=out, progress=False)
            wall = time.perf_counter() - tic
        peaks = client.run(_peak_rss_mb)
    t = result.timings
    return {"wall": wall, "task_seconds": t["task_seconds"], "tasks": t["tasks_run"], "data_s": result.data_seconds,
            "peaks": sorted(peaks.values()), "trip_ms": 1000 * float(sorted(trips)[len(trips) // 2])}


def network_case(workdir, root, start, stations=4, days=2):
    print(f"\nnetwork on Dask: {stations} stations x {days} days, LSTM(210) untrained, LocalCluster of 1 and 2 worker "
          "processes (1 thread each)")
    net_root = build_network(workdir, root, start, stations, days)
    runs = {}
    for workers in (1, 2):
        r = network_run(net_root, start, days, workers)
        runs[workers] = r
        overhead = (workers * r["wall"] - r["task_seconds"]) / r["tasks"]
        print(f"  {workers} worker(s): {r['tasks']} tasks ({r['data_s'] / 3600:.0f} h of data) in {r['wall']:.1f} s "
              f"-> {r['data_s'] / r['wall']:,.0f}x real time; {r['task_seconds'] / r['tasks']:.2f} s per station-day "
              f"task in a worker; overhead {overhead * 1000:.0f} ms per task (workers x wall - task time); empty task "
              f"round trip {r['trip_ms']:.1f} ms; peak RSS per worker {', '.join(f'{p:.0f}' for p in r['peaks'])} MB")
    print(f"  speed-up with 2 workers: {runs[1]['wall'] / runs[2]['wall']:.2f}x (goal >= 1.7x)")
    one_day = network_run(net_root, start, 1, 2)
    print(f"  peak RSS per worker, 1 day: {', '.join(f'{p:.0f}' for p in one_day['peaks'])} MB; {days} days: "
          f"{', '.join(f'{p:.0f}' for p in runs[2]['peaks'])} MB (2 workers)")
    per_task = runs[1]["task_seconds"] / runs[1]["tasks"] * 86400 / (runs[1]["data_s"] / runs[1]["tasks"])
    trip = runs[2]["trip_ms"] / 1000
    tasks = 30 * 365
    print(
        f"  estimate, 30 stations x 365 days on 64 cores: {per_task:.1f} s per station-day task -> without spans "
        f"{365 * (per_task + trip) / 3600:.1f} h (30 chains of 365 days: 30 cores busy); with span_s = 30 days "
        f"(390 chains, 2 short warm-up/extension tasks each) "
        f"{(tasks * (per_task + trip) + 390 * 2 * trip) / 64 / 3600:.1f} h"
    )


def spans_case(workdir, root, start, model_path, days=1, span_hours=6.0):
    """Agreement of spans with the serial run, per warm-up: detections that differ, largest probability difference."""
    import numpy as np
    import pandas as pd

    import rnnscope

    model = rnnscope.models.load(model_path)
    kw = dict(seed_id="XX.SYN..HHZ", starttime=start, endtime=start + days * 86400, block_s=3600.0, progress=False)
    serial = rnnscope.monitor(model, root, **kw)
    print(f"\nspans of {span_hours:g} h (blocks of 1 h, hand-over 60 s before each seam) vs the serial run, trained "
          f"LSTM, {serial.data_seconds / 3600:.0f} h, {len(serial.detections)} detections")
    key = ["class_name", "start", "end"]
    for warmup in (0.0, 60.0, 120.0, 300.0, 600.0, 1200.0):
        spans = rnnscope.monitor(model, root, span_s=span_hours * 3600, warmup_s=warmup, **kw)
        worst, frames = 0.0, 0
        for a, b in zip(serial.pieces, spans.pieces, strict=True):
            if a.prob.shape != b.prob.shape:
                worst, frames = float("nan"), -1
                break
            diff = np.abs(a.prob - b.prob).max(axis=1)
            worst, frames = max(worst, float(diff.max(initial=0.0))), frames + int((diff > 1e-3).sum())
        changed = pd.concat([serial.detections[key], spans.detections[key]]).drop_duplicates(keep=False)
        print(f"  warm-up {warmup:6.0f} s: largest probability difference {worst:.2e}, {frames} frames differ by more "
              f"than 1e-3, {len(changed)} detection rows differ (of {len(serial.detections)})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 hours per day instead of 24")
    parser.add_argument("--hours", type=float, help="hours of data per day (overrides --quick)")
    parser.add_argument("--network", action="store_true", help="also the network (Dask) and spans cases")
    parser.add_argument("--network-only", action="store_true", help="only the network (Dask) and spans cases")
    parser.add_argument("--workdir", help="keep the archive and model here (default: a temporary folder)")
    parser.add_argument("--hidden", type=int, default=32, help="units of the trained LSTM (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=40, help="max training epochs (default %(default)s)")
    args = parser.parse_args(argv)
    hours = args.hours if args.hours else 2.0 if args.quick else 24.0
    tmp = None
    workdir = args.workdir
    if workdir is None:
        tmp = tempfile.TemporaryDirectory()
        workdir = tmp.name
    os.makedirs(workdir, exist_ok=True)
    import pandas as pd
    import torch

    import rnnscope

    print(f"rnnscope {rnnscope.__version__}, torch {torch.__version__}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")
    root, start, truth = build_archive(workdir, hours)
    iso = str(start)
    if args.network or args.network_only:
        network_case(workdir, root, start)
        spans_case(workdir, root, start, train_model(workdir, args.hidden, args.epochs))
        if args.network_only:
            if tmp is not None:
                tmp.cleanup()
            return

    print(f"\nspeed and memory: LSTM(210), untrained, {hours:g} h per day at 100 Hz (fresh child process each)")
    rows = []
    for days in (1, 2, 3):
        r = child(root, iso, days)
        t = r["timings"]
        rows.append(r)
        print(f"  {days} day(s): {r['data_s'] / 3600:.1f} h of data, {r['frames']} frames in {r['wall']:.1f} s "
              f"-> real-time factor {r['data_s'] / r['wall']:,.0f}x; read {t['read']:.1f} s, preprocess "
              f"{t['preprocess']:.1f} s, features {t['features']:.1f} s, inference {t['inference']:.1f} s, catalog "
              f"{t['catalog']:.2f} s; peak RSS {r['peak_mb']:.0f} MB "
              f"(after imports and a warm-up: {r['base_mb']:.0f} MB)")
    print(f"  peak RSS, 2 days - 1 day: {rows[1]['peak_mb'] - rows[0]['peak_mb']:+.0f} MB; 3 days - 1 day: "
          f"{rows[2]['peak_mb'] - rows[0]['peak_mb']:+.0f} MB")

    print("\na day recorded at 200 Hz (the same day upsampled; monitor resamples it to 100 Hz)")
    root200 = build_200hz(workdir, root, start)
    r = child(root200, iso, 1)
    t = r["timings"]
    print(
        f"  {r['data_s'] / 3600:.1f} h in {r['wall']:.1f} s -> {r['data_s'] / r['wall']:,.0f}x; "
        f"read {t['read']:.1f} s, "
        f"preprocess (resampling) {t['preprocess']:.1f} s, features {t['features']:.1f} s, inference "
        f"{t['inference']:.1f} s; peak RSS {r['peak_mb']:.0f} MB"
    )

    hours_cap = 2.0
    print(f"\ncapture_store: LSTM(210), {hours_cap:g} h, h + features + spectrogram + prob written to zarr")
    with tempfile.TemporaryDirectory() as cap:
        r = child(root, iso, hours_cap / 24, capture=os.path.join(cap, "runs"))
        r0 = child(root, iso, hours_cap / 24)
    print(
        f"  {r['wall']:.1f} s with capture vs {r0['wall']:.1f} s without ({r['data_s'] / r['wall']:,.0f}x real time); "
        f"{r['capture_mb']:.0f} MB on disk ({r['capture_mb'] * 24 / hours_cap:.0f} MB per day); peak RSS "
        f"{r['peak_mb']:.0f} MB"
    )

    print(f"\ncatalog quality: trained LSTM({args.hidden}) over the synthetic day")
    model_path = train_model(workdir, args.hidden, args.epochs)
    det_path = os.path.join(workdir, "detections.pkl")
    r = child(root, iso, 1, model_path=model_path, detections=det_path)
    detections = pd.read_pickle(det_path)
    print(f"  {len(detections)} detections in {r['wall']:.1f} s ({r['data_s'] / r['wall']:,.0f}x real time)")
    from rnnscope.monitoring import score_detections

    scores = score_detections(detections, truth)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(scores.round(3).to_string())
    counts = truth["class_name"].value_counts().to_dict()
    print(f"  true events: {counts}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()

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
   the synthetic day; event-level precision, recall and onset error per class (``rnnscope.monitoring.score_detections``).

Run: ``.venv/bin/python benchmarks/bench_monitor.py [--quick] [--workdir DIR]``; record the output in
docs/perf/monitor.md. ``--workdir`` keeps the archive and the trained model for a second run.
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
    model = rnnscope.models.RNNClassifier("lstm", 48, hidden, 5)
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
                                                                   duration_s=(120.0, 300.0)))
        torch.manual_seed(seed)
        model = rnnscope.models.RNNClassifier("lstm", 48, hidden, 5)
        history = rnnscope.train.fit(model, frames, epochs=epochs, validation=0.15, early_stopping=5, seed=seed,
                                     progress=False)
        model.save(path)
    print(f"trained LSTM({hidden}) on 240 synthetic records (seed {seed}): {len(history)} epochs in "
          f"{sw.seconds:.0f} s, last val. frame accuracy {history['val_accuracy'].iloc[-1]:.3f}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 hours per day instead of 24")
    parser.add_argument("--workdir", help="keep the archive and model here (default: a temporary folder)")
    parser.add_argument("--hidden", type=int, default=32, help="units of the trained LSTM (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=40, help="max training epochs (default %(default)s)")
    args = parser.parse_args(argv)
    hours = 2.0 if args.quick else 24.0
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
    print(f"  {r['data_s'] / 3600:.1f} h in {r['wall']:.1f} s -> {r['data_s'] / r['wall']:,.0f}x; read {t['read']:.1f} s, "
          f"preprocess (resampling) {t['preprocess']:.1f} s, features {t['features']:.1f} s, inference "
          f"{t['inference']:.1f} s; peak RSS {r['peak_mb']:.0f} MB")

    hours_cap = 2.0
    print(f"\ncapture_store: LSTM(210), {hours_cap:g} h, h + features + spectrogram + prob written to zarr")
    with tempfile.TemporaryDirectory() as cap:
        r = child(root, iso, hours_cap / 24, capture=os.path.join(cap, "runs"))
        r0 = child(root, iso, hours_cap / 24)
    print(f"  {r['wall']:.1f} s with capture vs {r0['wall']:.1f} s without ({r['data_s'] / r['wall']:,.0f}x real time); "
          f"{r['capture_mb']:.0f} MB on disk ({r['capture_mb'] * 24 / hours_cap:.0f} MB per day); peak RSS "
          f"{r['peak_mb']:.0f} MB")

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

"""A month of one station: does ``rnnscope monitor`` keep the memory of one day, and is its time linear in days?

The archive: one synthetic day (``--hours`` of data from 00:00 at 100 Hz, records of ``rnnscope.data.synthetic``
concatenated) written as Steim-2 MiniSEED in an SDS tree, and copies of it shifted by 1, 2, ... days up to
``--days`` (the same helper as ``bench_monitor.py``). The model: an LSTM(``--hidden``), untrained (the cost does not
depend on the weights), saved as a model file.

Each measurement runs in a fresh child process (its peak RSS, ``ru_maxrss``, after imports and a 10-minute warm-up
run of the same kind), for 1 day and for ``--days`` days:

- ``cli``: the documented command, ``rnnscope monitor MODEL SDS --id XX.SYN..HHZ --start ... --end ... --out OUT``
  (every day a task written into ``OUT/tasks``; catalog, QuakeML and probability MiniSEED written from the task
  folders chunk by chunk);
- ``api``: ``rnnscope.monitor(model, sds, ...)`` in memory, whose result holds the frame probabilities of the whole
  range (3.5 MB a day for 5 classes: the ``.probabilities()`` and ``.detect()`` of the result need them).

Printed: wall seconds per day and the ratio (N days) / (N x 1 day) (1.00 = linear), peak RSS for 1 and N days and
their ratio (goal for ``cli``: within 10 %).

Run: ``.venv/bin/python benchmarks/bench_month.py [--workdir DIR] [--days 30] [--hours 24] [--hidden 210]``; record
the output in docs/perf/monitor.md. ``--days 3 --hours 0.2 --hidden 8`` checks that it runs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

from bench_monitor import build_archive  # noqa: E402  (benchmarks/: the same synthetic day and its copies)

_CHILD = r"""
import json, os, resource, sys, tempfile, time
import rnnscope
from rnnscope.cli import main
mode, model_path, root, start, days = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
from obspy import UTCDateTime
t0 = UTCDateTime(start)
t1 = t0 + days * 86400
work = tempfile.mkdtemp()


def run(a, b, out):
    if mode == "cli":
        code = main(["monitor", model_path, root, "--id", "XX.SYN..HHZ", "--start", str(a), "--end", str(b),
                     "--out", out, "--quiet"])
        assert code == 0, code
        import pandas as pd
        return len(pd.read_csv(os.path.join(out, "detections.csv")))
    result = rnnscope.monitor(model_path, root, seed_id="XX.SYN..HHZ", starttime=a, endtime=b, progress=False)
    return len(result.detections)


run(t0, t0 + 600, os.path.join(work, "warm"))  # imports, first calls
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tic = time.perf_counter()
detections = run(t0, t1, os.path.join(work, "out"))
wall = time.perf_counter() - tic
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall": wall, "peak_mb": peak / 1024, "base_mb": base / 1024, "detections": detections}))
"""


def child(mode: str, model_path: str, root: str, start: str, days: float) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, mode, model_path, root, start, str(days)],
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def save_model(workdir: str, hidden: int) -> str:
    import torch

    import rnnscope

    path = os.path.join(workdir, f"untrained_lstm{hidden}.safetensors")
    if not os.path.exists(path):
        torch.manual_seed(0)
        rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=hidden, num_classes=5).save(path)
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of the long range (default %(default)s)")
    parser.add_argument("--hours", type=float, default=24.0, help="hours of data per day (default %(default)s)")
    parser.add_argument("--hidden", type=int, default=210, help="LSTM units (default %(default)s)")
    parser.add_argument("--workdir", help="keep the archive here (default: a temporary folder)")
    args = parser.parse_args(argv)
    tmp = None if args.workdir else tempfile.TemporaryDirectory()
    workdir = args.workdir or tmp.name
    os.makedirs(workdir, exist_ok=True)
    import torch

    import rnnscope

    print(f"rnnscope {rnnscope.__version__}, torch {torch.__version__}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}")
    root, start, _ = build_archive(workdir, args.hours, days=args.days)
    model_path = save_model(workdir, args.hidden)
    print(f"\none station, {args.hours:g} h of data per day at 100 Hz, LSTM({args.hidden}) untrained; fresh child "
          "process per run")
    for mode in ("cli", "api"):
        one = child(mode, model_path, root, str(start), 1)
        many = child(mode, model_path, root, str(start), args.days)
        linear = many["wall"] / (args.days * one["wall"])
        print(f"  {mode}: 1 day {one['wall']:.1f} s, peak RSS {one['peak_mb']:.0f} MB ({one['detections']} "
              f"detections); {args.days} days {many['wall']:.1f} s ({many['wall'] / args.days:.1f} s per day), peak "
              f"RSS {many['peak_mb']:.0f} MB ({many['detections']} detections)")
        print(f"    time {args.days} days / ({args.days} x 1 day) = {linear:.2f}; peak RSS {args.days} days / 1 day = "
              f"{many['peak_mb'] / one['peak_mb']:.3f} ({many['peak_mb'] - one['peak_mb']:+.0f} MB; after imports "
              f"and warm-up {one['base_mb']:.0f} MB)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()

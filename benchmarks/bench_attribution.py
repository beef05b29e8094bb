"""What does explaining a unit cost, next to the model's plain fused forward pass? And does a day-long record stay
within memory?

Side by side in one run, 2 CPU threads, LSTM(210), 48 inputs (the paper's best model):

- ``fused``: the model's own forward (``nn.LSTM`` fused kernel + head) on the batch (32 records of 400 frames),
  nothing kept, under ``torch.inference_mode``;
- ``integrated_gradients``: :func:`rnnscope.experiments.attribution` of one unit at one target frame per record
  (the last: its window is the whole record), 32 steps evaluated as one batch (32 x 32 rows), completeness
  checked; goal <= 40x the fused forward;
- ``gradient_x_input`` and ``integrated_gradients, unrolled`` (the step loop used on CUDA, where cuDNN refuses an
  RNN's backward in eval mode) for reference.

The variants run in turns (``--rounds`` rounds after one warm-up call each); a ratio is the median over rounds of
variant / fused forward of the same round (``benchmarks/_timing.py``). Then the long-record case: every frame of
one 24-hour record (172,800 frames) attributed for one unit in windows of ``--max-lag`` frames into a zarr store,
in a child process whose peak memory (VmHWM, the RSS high-water mark) is reported; goal <= 2 GB. Its method is
``--long-method`` (gradient x input by default: integrated gradients hold ``steps`` times the rows per batch, and
take ``steps`` times longer; pass ``--long-method integrated_gradients`` to measure them).

Run: ``.venv/bin/python benchmarks/bench_attribution.py [--quick | --tiny]``; record the output in
docs/performance.md. ``--tiny`` only checks that the script runs (a small model, short records, a 3-minute record).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from _timing import interleaved, ratio  # noqa: E402  (benchmarks/_timing.py, the one timing helper)

from rnnscope.experiments import attribution
from rnnscope.models import RNNClassifier

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_capture import features_dataset  # noqa: E402  (the benchmarks' features of random records)


def batch_ratio(hidden: int, batch: int, frames: int, steps: int, rounds: int) -> dict:
    torch.manual_seed(0)
    model = RNNClassifier("lstm", input_size=48, hidden_size=hidden, num_classes=5).eval()
    ds = features_dataset(batch, frames)
    x = torch.from_numpy(ds.features.values)
    last = float(ds.time.values[frames - 1])

    def explain(method, unroll=False):
        return lambda: attribution(model, ds, target=7, frames=last, method=method, steps=steps, batch_size=batch,
                                   unroll=unroll, progress=False)

    def fused():
        with torch.inference_mode():
            model(x)

    times = interleaved({"fused": fused, "integrated_gradients": explain("integrated_gradients")}, rounds)
    others = interleaved({"fused": fused, "gradient_x_input": explain("gradient_x_input"),
                          "unrolled": explain("integrated_gradients", unroll=True)}, max(2, rounds // 3))
    check = explain("integrated_gradients")()
    return {"times": times, "others": others, "completeness": float(check.completeness_error.max()),
            "steps": int(check.ig_steps.max())}


_LONG = """
import sys, time, numpy as np, torch, rnnscope
sys.path.insert(0, sys.argv[1])
from bench_capture import features_dataset
from rnnscope.experiments import attribution
torch.set_num_threads(2)
frames, hidden, max_lag, steps, batch = (int(v) for v in sys.argv[2:7])
method, store = sys.argv[7], sys.argv[8]
ds = features_dataset(1, frames)
torch.manual_seed(0)
model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=hidden, num_classes=5)
def hwm_kb():  # this process's own peak RSS
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
base = hwm_kb()
t0 = time.perf_counter()
out = attribution(model, ds, target=7, frames="all", method=method, steps=steps, max_lag=max_lag, batch_size=batch,
                  store=store, progress=False)
dt = time.perf_counter() - t0
print(f"{out.sizes['target']} {dt:.2f} {hwm_kb() / 1024:.0f} {base / 1024:.0f}")
"""


def long_record(frames, hidden, max_lag, steps, batch, method) -> tuple[int, float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", _LONG, os.path.dirname(os.path.abspath(__file__)), str(frames),
                              str(hidden), str(max_lag), str(steps), str(batch), method, f"{tmp}/attr.zarr"],
                             capture_output=True, text=True, check=True)
        n, seconds, peak_mb, base_mb = out.stdout.split()
    return int(n), float(seconds), float(peak_mb), float(base_mb)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a 2-hour record instead of 24 h")
    parser.add_argument("--tiny", action="store_true", help="only check that the script runs (small sizes)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--max-lag", type=int, default=60, help="window of the long record (frames before)")
    parser.add_argument("--long-method", default="gradient_x_input")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    if args.tiny:
        hidden, batch, frames, steps, rounds, hours, max_lag = 16, 4, 40, 4, 1, 0.05, 8
    else:
        hidden, batch, frames, steps = 210, 32, 400, 32
        rounds, hours, max_lag = (3, 2.0, args.max_lag) if args.quick else (args.rounds, 24.0, args.max_lag)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, LSTM({hidden}), 48 inputs")
    result = batch_ratio(hidden, batch, frames, steps, rounds)
    times, others = result["times"], result["others"]
    print(f"\none target frame per record (the last), batch {batch} records x {frames} frames, {steps} steps; "
          f"{rounds} rounds in turns: median time and median ratio to the fused forward of the same round")
    print(f"  {'fused forward (nothing kept)':44s} {np.median(times['fused']) * 1e3:9.1f} ms   1.00x")
    print(f"  {'integrated gradients (steps batched)':44s} {np.median(times['integrated_gradients']) * 1e3:9.1f} ms"
          f"   {ratio(times, 'integrated_gradients', 'fused'):.1f}x   (goal <= 40x)")
    print(f"  {'gradient x input':44s} {np.median(others['gradient_x_input']) * 1e3:9.1f} ms   "
          f"{ratio(others, 'gradient_x_input', 'fused'):.1f}x")
    print(f"  {'integrated gradients, unrolled (CUDA path)':44s} {np.median(others['unrolled']) * 1e3:9.1f} ms   "
          f"{ratio(others, 'unrolled', 'fused'):.1f}x")
    print(f"  largest completeness error: {result['completeness']:.2e} (tolerance 1e-2); most steps a target took: "
          f"{result['steps']} (targets missing completeness are computed again with twice the steps)")
    n_frames = int(hours * 3600 * 2)
    n, seconds, peak, base = long_record(n_frames, hidden, max_lag, steps, batch, args.long_method)
    print(f"\nevery frame of a {hours:g} h record ({n_frames} frames) for one unit, {args.long_method}, windows of "
          f"{max_lag + 1} frames, batches of {batch} targets, into a zarr store:")
    print(f"  {n} targets in {seconds:.1f} s ({n / seconds:.0f} targets/s); peak memory {peak:.0f} MB "
          f"(the process before: {base:.0f} MB)   (goal <= 2048 MB)")


if __name__ == "__main__":
    main()

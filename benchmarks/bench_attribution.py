"""What does explaining a unit cost, next to the model's plain fused forward pass? And does a day-long record stay
within memory?

Side by side in one run, 2 CPU threads, LSTM(210), 48 inputs (the paper's best model):

- ``fused``: the model's own forward (``nn.LSTM`` fused kernel + head) on the batch (32 records of 400 frames),
  nothing kept, under ``torch.inference_mode``;
- ``integrated_gradients``: :func:`rnnscope.experiments.attribution` of one unit at one target frame per record
  (the last: its window is the whole record), 32 steps evaluated as one batch (32 x 32 rows, in chunks of at most
  about 1 GB of kept activations), completeness checked; goal <= 40x the fused forward. On the CPU its input
  gradient is computed by hand (:mod:`rnnscope.models._input_gradient`: no autograd, the first layer's input
  projection once per record);
- ``gradient_x_input``, ``integrated gradients, Captum's autograd path`` (what ran before the hand-written path:
  Captum's IntegratedGradients through PyTorch's fused LSTM under autograd) and ``integrated_gradients, unrolled``
  (the step loop used on CUDA, where cuDNN refuses an RNN's backward in eval mode) for reference.

Also printed, as information: the steps each target needed to meet the default completeness tolerance (1 %) when
started from 8 steps (the adaptive doubling of :func:`~rnnscope.experiments.attribution`). ``--count`` prints, in
place of times, the ATen ops that compute (views left out), the matrix products and the kept buffer of both
integrated-gradient paths, and the ops the hand-written path runs per frame (the native LSTM steps, when the
kernels are built, count as one op each: ``lstm_tape_forward``, ``lstm_tape_backward``), counted under a
``TorchDispatchMode``: no clock involved.

The variants run in turns (``--rounds`` rounds after one warm-up call each); a ratio is the median over rounds of
variant / fused forward of the same round (``benchmarks/_timing.py``). Then the long-record case: every frame of
one 24-hour record (172,800 frames) attributed for one unit in windows of ``--max-lag`` frames into a zarr store,
in a child process whose peak memory (VmHWM, the RSS high-water mark) is reported; goal <= 2 GB. Its method is
``--long-method`` (gradient x input by default: integrated gradients hold ``steps`` times the rows per batch, and
take ``steps`` times longer; pass ``--long-method integrated_gradients`` to measure them).

Run: ``.venv/bin/python benchmarks/bench_attribution.py [--quick | --tiny] [--count]``; record the output in
docs/performance.md. ``--tiny`` only checks that the script runs (a small model, short records, a 3-minute record).
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from _timing import interleaved, ratio  # noqa: E402  (benchmarks/_timing.py, the one timing helper)
from torch.utils._python_dispatch import TorchDispatchMode

from rnnscope.experiments import attribution
from rnnscope.experiments._attribution import _BUDGET
from rnnscope.experiments._attribution_targets import ClassifierForward
from rnnscope.models import RNNClassifier
from rnnscope.models._bptt import native_steps
from rnnscope.models._input_gradient import path_buffer_elements

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_capture import features_dataset  # noqa: E402  (the benchmarks' features of random records)


@contextlib.contextmanager
def captum_path():
    """Integrated gradients through Captum's IntegratedGradients and autograd (the path before the one by hand)."""
    by_hand = ClassifierForward.integrated_gradients
    ClassifierForward.integrated_gradients = lambda *args, **kwargs: None
    try:
        yield
    finally:
        ClassifierForward.integrated_gradients = by_hand


def _setup(hidden: int, batch: int, frames: int):
    torch.manual_seed(0)
    model = RNNClassifier("lstm", input_size=48, hidden_size=hidden, num_classes=5).eval()
    ds = features_dataset(batch, frames)
    return model, ds, float(ds.time.values[frames - 1])


def batch_ratio(hidden: int, batch: int, frames: int, steps: int, rounds: int) -> dict:
    model, ds, last = _setup(hidden, batch, frames)
    x = torch.from_numpy(ds.features.values)

    def explain(method, unroll=False, n_steps=steps, captum=False):
        def run():
            with captum_path() if captum else contextlib.nullcontext():
                return attribution(model, ds, target=7, frames=last, method=method, steps=n_steps,
                                   batch_size=batch, unroll=unroll, progress=False)
        return run

    def fused():
        with torch.inference_mode():
            model(x)

    times = interleaved({"fused": fused, "integrated_gradients": explain("integrated_gradients")}, rounds)
    others = interleaved({"fused": fused, "gradient_x_input": explain("gradient_x_input"),
                          "captum": explain("integrated_gradients", captum=True),
                          "unrolled": explain("integrated_gradients", unroll=True)}, max(2, rounds // 3))
    check = explain("integrated_gradients")()
    adaptive = explain("integrated_gradients", n_steps=8)()  # information: the steps each target needed
    needed = dict(zip(*np.unique(adaptive.ig_steps.values, return_counts=True), strict=True))
    return {"times": times, "others": others, "completeness": float(check.completeness_error.max()),
            "steps": int(check.ig_steps.max()), "needed": {int(k): int(v) for k, v in needed.items()}}


class _Count(TorchDispatchMode):
    """ATen ops that compute (views left out) and matrix products, as they run."""

    _views = {"slice", "select", "view", "unsqueeze", "transpose", "t", "detach", "expand", "alias", "as_strided",
              "_unsafe_view", "squeeze", "permute", "reshape", "_reshape_alias", "split", "chunk", "unbind"}

    def __init__(self):
        super().__init__()
        self.ops, self.gemms, self.gemm_flop, self.names = 0, 0, 0, collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        self.ops += name not in self._views
        self.names[name] += name not in self._views
        if name in ("mm", "addmm", "addmm_", "bmm", "baddbmm"):
            a, b = (args[1], args[2]) if name in ("addmm", "addmm_", "baddbmm") else (args[0], args[1])
            self.gemms += 1
            self.gemm_flop += 2 * a.numel() * b.shape[-1]
        return func(*args, **(kwargs or {}))


def counts(hidden: int, batch: int, frames: int, steps: int) -> None:
    """Print the ops, matrix products and kept buffer of both integrated-gradient paths (no timing)."""
    model, ds, last = _setup(hidden, batch, frames)
    per = path_buffer_elements(model, "unit", 0)
    most = max(1, _BUDGET // (batch * frames * per))
    chunk = -(-steps // -(-steps // most))
    for label, context in (("by hand", contextlib.nullcontext), ("Captum's autograd path", captum_path)):
        with context(), _Count() as count:
            attribution(model, ds, target=7, frames=last, steps=steps, batch_size=batch, max_steps=steps,
                        progress=False)
        note = "" if label == "by hand" else " (the LSTM's own inside oneDNN's mkldnn_rnn_layer[_backward])"
        print(f"  integrated gradients, {label:24s} {count.ops:8d} ATen ops (views left out), {count.gemms:6d} "
              f"matrix products, {count.gemm_flop / 1e9:7.1f} GFLOP in them{note}")
        if label == "by hand":
            passes = frames * -(-steps // chunk)  # frames x chunks of points: what runs once per frame
            every = {name: n / passes for name, n in sorted(count.names.items()) if n >= passes}
            native = native_steps(torch.zeros(1, dtype=model.head.weight.dtype)) is not None
            path = "native LSTM steps" if native else "PyTorch ops, no native steps"
            print(f"    per frame and chunk of points ({path}; the ops that ran at least once per frame): "
                  + ", ".join(f"{name} {n:g}" for name, n in every.items())
                  + f" = {sum(every.values()):g} ops")
    kept = chunk * batch * frames * per * 4
    fixed = 3 * frames * batch * 4 * hidden * 4  # the two projections of the rows and the step sums
    print(f"  by hand: {per} floats kept per row, frame and step; steps in chunks of {chunk}: {kept / 2**20:.0f} MB "
          f"kept + {fixed / 2**20:.0f} MB for the batch's projections and step sums; no buffer allocated inside the "
          "frame loops")
    with _Count() as count:
        with torch.inference_mode():
            model(torch.from_numpy(ds.features.values))
    print(f"  fused forward: {count.ops} ATen ops, {count.gemms} matrix products (inside the fused kernel: not "
          f"dispatched), for scale")


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
    parser.add_argument("--count", action="store_true", help="count ops, matrix products and buffers; no timing")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    if args.tiny:
        hidden, batch, frames, steps, rounds, hours, max_lag = 16, 4, 40, 4, 1, 0.05, 8
    else:
        hidden, batch, frames, steps = 210, 32, 400, 32
        rounds, hours, max_lag = (3, 2.0, args.max_lag) if args.quick else (args.rounds, 24.0, args.max_lag)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, LSTM({hidden}), 48 inputs")
    if args.count:
        print(f"\none target frame per record (the last), batch {batch} records x {frames} frames, {steps} steps:")
        counts(hidden, batch, frames, steps)
        return
    result = batch_ratio(hidden, batch, frames, steps, rounds)
    times, others = result["times"], result["others"]
    print(f"\none target frame per record (the last), batch {batch} records x {frames} frames, {steps} steps; "
          f"{rounds} rounds in turns: median time and median ratio to the fused forward of the same round")
    print(f"  {'fused forward (nothing kept)':44s} {np.median(times['fused']) * 1e3:9.1f} ms   1.00x")
    needed = ", ".join(f"{k} steps: {v}" for k, v in sorted(result["needed"].items()))
    print(f"  {'integrated gradients (steps batched)':44s} {np.median(times['integrated_gradients']) * 1e3:9.1f} ms"
          f"   {ratio(times, 'integrated_gradients', 'fused'):.1f}x   (goal <= 40x; started from 8 steps, the "
          f"targets needed {needed} to meet 1 %)")
    print(f"  {'gradient x input':44s} {np.median(others['gradient_x_input']) * 1e3:9.1f} ms   "
          f"{ratio(others, 'gradient_x_input', 'fused'):.1f}x")
    print(f"  {'integrated gradients, Captum autograd path':44s} {np.median(others['captum']) * 1e3:9.1f} ms   "
          f"{ratio(others, 'captum', 'fused'):.1f}x")
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

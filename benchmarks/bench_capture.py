"""What does capturing every internal state cost, next to the model's plain fused forward pass?

Side by side in one run, 2 CPU threads, LSTM(210), 48 inputs (the paper's best model):

- ``fused``: the model's own forward (``nn.LSTM`` fused kernel + head) on the batch, nothing kept;
- ``capture``: ``rnnscope.capture(..., variables="all")``, the run assembled in memory as an xarray Dataset
  (every state, prob, pred, summaries), with the native kernels, and again with the fallback used without them
  (the fused forward followed by the vectorised recovery, ``layer.internals``);
- ``hooks``: what users do today: a per-step Python loop over ``nn.LSTMCell`` keeping every gate;
- ``recompute``: the fused forward, then every gate recomputed from the fused ``h`` (``layer.internals``).

The variants run in turns (``--rounds`` rounds, after one warm-up call each) so a slow moment of a shared machine
hits them alike; a ratio is the median over rounds of variant / fused forward of the same round. Then the matrix
batch {1, 32, 128} x frames {400, 4000} of the capture / fused ratio (and the GPU ratio when a GPU
is present), and the long-record case: one 24-hour record (172,800 frames) captured to a zarr store with every
state, with its throughput (frames/s) and peak memory (VmHWM, the RSS high-water mark of a child process).

Run: ``.venv/bin/python benchmarks/bench_capture.py [--quick]``; record the output in docs/performance.md.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile

import numpy as np
import torch
import xarray as xr

import rnnscope
from rnnscope.models import RNNClassifier, native_status, set_native

from _timing import interleaved, ratio  # noqa: E402  (benchmarks/_timing.py, the one timing helper)


def features_dataset(batch: int, frames: int, n_features: int = 48, seed: int = 0) -> xr.Dataset:
    """``batch`` records x ``frames`` frames of random features (the cost does not depend on them), labelled in runs
    of 20-120 frames of one class, like events in a record (so the segment table has a realistic size)."""
    rng = np.random.default_rng(seed)
    labels = []
    for _ in range(batch):
        label, t = np.empty(frames, dtype=np.int64), 0
        while t < frames:
            n = int(rng.integers(20, 120))
            label[t : t + n] = rng.integers(0, 5)
            t += n
        labels.append(label)
    feats = [rng.normal(size=(frames, n_features)).astype(np.float32) for _ in range(batch)]
    return rnnscope.data.from_features(feats, labels, class_names=["SIL", "TRE", "LP", "VTE", "HYB"])


def hooks_loop(model, x):
    """Per-step nn.LSTMCell loop keeping every gate (the usual hand-written way)."""
    layer = model.layers[0]
    cell = torch.nn.LSTMCell(layer.input_size, layer.hidden_size)
    cell.load_state_dict({"weight_ih": layer.weight_ih, "weight_hh": layer.weight_hh,
                          "bias_ih": layer.bias_ih, "bias_hh": layer.bias_hh})
    h = torch.zeros(x.shape[0], layer.hidden_size)
    c = torch.zeros_like(h)
    kept = []
    inp = model.normalize(x)
    for t in range(x.shape[1]):
        gates = torch.nn.functional.linear(inp[:, t], layer.weight_ih, layer.bias_ih) + \
            torch.nn.functional.linear(h, layer.weight_hh, layer.bias_hh)
        i, f, g, o = gates.chunk(4, 1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        h, c = cell(inp[:, t], (h, c))
        kept.append(torch.stack([h, c, i, f, g, o]))
    out = torch.stack(kept, 1)
    return model.head(out[0].transpose(0, 1))


def recompute(model, x):
    _, layers = model.forward_layers(x)
    d = layers[0]
    return model.layers[0].internals(d["input"], d["h"], d["state0"])


def compare(model, batch, frames, rounds, device="cpu"):
    ds = features_dataset(batch, frames)
    x = torch.from_numpy(ds.features.values).to(device)
    model = model.to(device)
    with torch.inference_mode():
        return interleaved({
            "fused": lambda: model(x),
            "capture": lambda: rnnscope.capture(model, ds, device=device, batch_size=batch, window=frames,
                                                progress=False),
        }, rounds)


_LONG = """
import sys, time, numpy as np, torch, rnnscope
sys.path.insert(0, sys.argv[3])
from bench_capture import features_dataset
torch.set_num_threads(2)
frames = int(sys.argv[1])
ds = features_dataset(1, frames)
torch.manual_seed(0)
model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=210, num_classes=5)
def hwm_kb():  # this process's own peak RSS (ru_maxrss would include the parent's peak, kept across exec)
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
base = hwm_kb()
t0 = time.perf_counter()
rnnscope.capture(model, ds, store=sys.argv[2], progress=False, window=4096)
dt = time.perf_counter() - t0
peak = hwm_kb()
print(f"{frames} {dt:.2f} {peak / 1024:.0f} {base / 1024:.0f}")
"""


def long_record(frames: int) -> tuple[float, float, float]:
    import os

    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", _LONG, str(frames), f"{tmp}/long.zarr",
                              os.path.dirname(os.path.abspath(__file__))],
                             capture_output=True, text=True, check=True)
        n, seconds, peak_mb, base_mb = out.stdout.split()
        size = sum(f.stat().st_size for f in __import__("pathlib").Path(f"{tmp}/long.zarr").rglob("*") if f.is_file())
    return float(seconds), float(peak_mb), size / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a 2-hour record instead of 24 h")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = RNNClassifier("lstm", input_size=48, hidden_size=210, num_classes=5).eval()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, LSTM(210), 48 inputs")

    ds = features_dataset(32, 400)
    x = torch.from_numpy(ds.features.values)

    def capture(native):
        def run():
            previous = set_native(native)
            try:
                rnnscope.capture(model, ds, batch_size=32, window=400, progress=False)
            finally:
                set_native(previous)
        return run

    with torch.inference_mode():  # the headline ratio: the two alone, in turns
        pinned = interleaved({"fused": lambda: model(x), "capture": capture(True)}, rounds)
        others = interleaved({
            "fused": lambda: model(x),
            "capture_fallback": capture(False),
            "hooks": lambda: hooks_loop(model, x),
            "recompute": lambda: (model(x), recompute(model, x)),
        }, max(3, rounds // 3))
    print(f"native kernels: {native_status()}")
    print(f"\npinned point: batch 32, 400 frames; fused and capture timed in turns, {rounds} rounds: median time, and "
          "the median over rounds of the ratio to the fused forward of the same round")
    print(f"  {'fused forward (nothing kept)':40s} {np.median(pinned['fused']) * 1e3:8.1f} ms   1.00x")
    print(f"  {'rnnscope.capture, all states, in RAM':40s} {np.median(pinned['capture']) * 1e3:8.1f} ms   "
          f"{ratio(pinned, 'capture', 'fused'):.2f}x   (goal <= 1.5x)")
    print("the usual alternatives (timed in turns with the fused forward, in a second group):")
    rows = [("capture, fallback (no C++): fused + recovery", "capture_fallback"),
            ("per-step loop keeping every gate", "hooks"),
            ("fused + recompute gates from h", "recompute")]
    for label, name in rows:
        print(f"  {label:40s} {np.median(others[name]) * 1e3:8.1f} ms   {ratio(others, name, 'fused'):.2f}x")

    print("\ncapture / fused, all states in RAM (median of per-round ratios):")
    print("  batch  frames   fused ms  capture ms  ratio")
    for batch in (1, 32, 128):
        for frames in (400, 4000):
            if args.quick and batch * frames > 128_000:
                continue
            t = compare(model, batch, frames, max(3, rounds // 3))
            print(f"  {batch:5d}  {frames:6d}  {np.median(t['fused']) * 1e3:9.1f}  {np.median(t['capture']) * 1e3:10.1f}"
                  f"  {ratio(t, 'capture', 'fused'):5.2f}x")
    if torch.cuda.is_available():
        t = compare(model, 32, 400, rounds, device="cuda")
        print(f"\nGPU ({torch.cuda.get_device_name()}): fused {np.median(t['fused']) * 1e3:.1f} ms, capture "
              f"{np.median(t['capture']) * 1e3:.1f} ms, {ratio(t, 'capture', 'fused'):.2f}x")

    frames = 14_400 if args.quick else 172_800
    seconds, peak_mb, size_mb = long_record(frames)
    hours = frames / 2 / 3600
    print(f"\nlong record: {hours:.0f} h at 2 frames/s = {frames} frames, LSTM(210), all states to zarr")
    print(f"  {seconds:.1f} s, {frames / seconds:,.0f} frames/s, peak RSS {peak_mb:,.0f} MB (goal < 2048 MB), "
          f"store {size_mb:,.0f} MB on disk")


if __name__ == "__main__":
    main()

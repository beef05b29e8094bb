"""What does capturing every internal state cost, next to the model's plain fused forward pass?

Side by side in one run, 2 CPU threads, LSTM(210), 48 inputs (the paper's best model):

- ``fused``: the model's own forward (``nn.LSTM`` fused kernel + head) on the batch, nothing kept;
- ``capture``: ``rnnscope.capture(..., var="all")``, the run assembled in memory as an xarray Dataset
  (every state, prob, pred, summaries), with the native kernels (the instruction set they pick, and again forced to
  AVX2 on an AVX-512 CPU), and with the fallback used without them (the fused forward followed by the vectorised
  recovery, ``layer.internals``);
- ``hooks``: what users do today: a per-step Python loop over ``nn.LSTMCell`` keeping every gate;
- ``recompute``: the fused forward, then every gate recomputed from the fused ``h`` (``layer.internals``).

The variants run in turns (``--rounds`` rounds, after one warm-up call each) so a slow moment of a shared machine
hits them alike; a ratio is the median over rounds of variant / fused forward of the same round. Then: the thread
scaling (capture at batch 32 with 1 and with 2 threads, in turns), one long record (batch 1 x 4,000 frames), the
matrix batch {1, 32, 128} x frames {400, 4000} of the capture / fused ratio, the same pinned table against the
cuDNN forward when a GPU is present, and one 24-hour record (172,800 frames) captured to a zarr store with every
state, with its throughput (frames/s) and peak memory (VmHWM, the RSS high-water mark of a child process). The
header gives the CPU, its vector instruction sets and what the kernels use (``native_status()``).

Goals (issue 28): capture <= 1.25x the fused forward at the pinned point on an AVX-512 CPU (<= 1.5x with AVX2),
<= 2x at batch 1 x 4,000 frames, and 2 threads >= 1.7x faster than 1 at batch 32.

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
from _timing import interleaved, ratio  # noqa: E402  (benchmarks/_timing.py, the one timing helper)

import rnnscope
from rnnscope.models import RNNClassifier, _native, native_status, set_native


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
    """Fused forward and capture of ``batch`` records of ``frames`` frames, in turns (on a GPU each call waits for
    the device to finish)."""
    ds = features_dataset(batch, frames)
    x = torch.from_numpy(ds.features.values).to(device)
    model = model.to(device)
    wait = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    def fused():
        model(x)
        wait()

    with torch.inference_mode():
        return interleaved({
            "fused": fused,
            "capture": lambda: rnnscope.capture(model, ds, device=device, batch_size=batch, time_chunk=frames,
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
rnnscope.capture(model, ds, store=sys.argv[2], progress=False, time_chunk=4096)
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


def cpu_description() -> str:
    """The CPU, its vector instruction sets (from /proc/cpuinfo where there is one) and what the kernels use."""
    import platform

    flags, name = set(), platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name in ("", platform.machine(), platform.processor()):
                    name = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    wanted = ["avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw", "avx512vl", "avx512_bf16", "neon", "asimd"]
    isas = native_isas()  # loads the kernels first
    status = native_status()
    return (f"CPU: {name}; vector flags: {' '.join(f for f in wanted if f in flags) or 'unknown'}; torch capability "
            f"{torch.backends.cpu.get_cpu_capability()}; native kernels: {status['isa']} "
            f"(of {isas}), threads by {status['parallel']}")


def native_isas() -> list[str]:
    ops = _native.kernels()
    return list(ops.isas()) if ops is not None else []


def capture_call(model, ds, batch, frames, native=True, isa=None, threads=None, device="cpu"):
    """One capture of ``ds`` (every state, in RAM), with the kernels on or off, an instruction set and a thread
    count (restored afterwards)."""
    def run():
        previous, before = set_native(native), torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            if isa is None:
                rnnscope.capture(model, ds, batch_size=batch, time_chunk=frames, device=device, progress=False)
            else:
                with _native.using_isa(isa):
                    rnnscope.capture(model, ds, batch_size=batch, time_chunk=frames, device=device, progress=False)
        finally:
            set_native(previous)
            torch.set_num_threads(before)
    return run


def fused_call(model, x, threads=None):
    def run():
        before = torch.get_num_threads()
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                model(x)
        finally:
            torch.set_num_threads(before)
    return run


def row(label, times, name, base="fused", goal=""):
    return (f"  {label:46s} {np.median(times[name]) * 1e3:8.1f} ms   {ratio(times, name, base):.2f}x"
            + (f"   ({goal})" if goal else ""))


def pinned_point(model, rounds):
    ds = features_dataset(32, 400)
    x = torch.from_numpy(ds.features.values)
    isas = native_isas()
    variants = {"fused": fused_call(model, x), "capture": capture_call(model, ds, 32, 400)}
    if "avx512" in isas and "avx2" in isas:
        variants["capture_avx2"] = capture_call(model, ds, 32, 400, isa="avx2")
    pinned = interleaved(variants, rounds)  # the headline ratios: these alone, in turns
    with torch.inference_mode():
        others = interleaved({
            "fused": fused_call(model, x),
            "capture_fallback": capture_call(model, ds, 32, 400, native=False),
            "hooks": lambda: hooks_loop(model, x),
            "recompute": lambda: (model(x), recompute(model, x)),
        }, max(3, rounds // 3))
    print(f"\npinned point: batch 32, 400 frames, {torch.get_num_threads()} threads; variants timed in turns, {rounds} "
          "rounds: median time, and the median over rounds of the ratio to the fused forward of the same round")
    print(row("fused forward (nothing kept)", pinned, "fused"))
    best = native_status()["isa"]
    goal = "goal <= 1.25x on AVX-512" if best == "avx512" else "goal <= 1.5x on AVX2"
    print(row(f"rnnscope.capture, all states, in RAM ({best})", pinned, "capture", goal=goal))
    if "capture_avx2" in pinned:
        print(row("rnnscope.capture, kernels forced to AVX2", pinned, "capture_avx2", goal="AVX2 goal <= 1.5x"))
    print("the usual alternatives (timed in turns with the fused forward, in a second group):")
    for label, name in (("capture, fallback (no C++): fused + recovery", "capture_fallback"),
                        ("per-step loop keeping every gate", "hooks"), ("fused + recompute gates from h", "recompute")):
        print(row(label, others, name))


def thread_scaling(model, rounds):
    ds = features_dataset(32, 400)
    x = torch.from_numpy(ds.features.values)
    t = interleaved({"capture_1": capture_call(model, ds, 32, 400, threads=1),
                     "capture_2": capture_call(model, ds, 32, 400, threads=2),
                     "fused_1": fused_call(model, x, threads=1), "fused_2": fused_call(model, x, threads=2)}, rounds)
    print(f"\nthread scaling: batch 32, 400 frames, 1 and 2 threads in turns, {rounds} rounds (speed-up = median over "
          "rounds of time with 1 thread / time with 2)")
    print("                     1 thread    2 threads   speed-up")
    for label, name in (("capture", "capture"), ("fused forward", "fused")):
        goal = "   (goal >= 1.7x)" if name == "capture" else ""
        print(f"  {label:16s} {np.median(t[name + '_1']) * 1e3:9.1f} ms {np.median(t[name + '_2']) * 1e3:9.1f} ms   "
              f"{ratio(t, name + '_1', name + '_2'):6.2f}x{goal}")


def one_long_record(model, rounds):
    t = compare(model, 1, 4000, rounds)
    print(f"\none record of 4,000 frames (batch 1), {rounds} rounds in turns:")
    print(row("fused forward", t, "fused"))
    print(row("rnnscope.capture, all states, in RAM", t, "capture", goal="goal <= 2x"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, a 2-hour record instead of 24 h")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = RNNClassifier("lstm", input_size=48, hidden_size=210, num_classes=5).eval()
    rnnscope.capture(model, features_dataset(2, 20), progress=False)  # builds / loads the kernels
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, LSTM(210), 48 inputs")
    print(cpu_description())
    pinned_point(model, rounds)
    thread_scaling(model, max(3, rounds // 2))
    one_long_record(model, max(3, rounds // 3))

    print("\ncapture / fused, all states in RAM (median of per-round ratios):")
    print("  batch  frames   fused ms  capture ms  ratio")
    for batch in (1, 32, 128):
        for frames in (400, 4000):
            if args.quick and batch * frames > 128_000:
                continue
            t = compare(model, batch, frames, max(3, rounds // 3))
            print(
                f"  {batch:5d}  {frames:6d}  {np.median(t['fused']) * 1e3:9.1f}  {np.median(t['capture']) * 1e3:10.1f}"
                f"  {ratio(t, 'capture', 'fused'):5.2f}x"
            )
    if torch.cuda.is_available():
        gpu_table(model, rounds)

    frames = 14_400 if args.quick else 172_800
    seconds, peak_mb, size_mb = long_record(frames)
    hours = frames / 2 / 3600
    print(f"\nlong record: {hours:.0f} h at 2 frames/s = {frames} frames, LSTM(210), all states to zarr")
    print(f"  {seconds:.1f} s, {frames / seconds:,.0f} frames/s, peak RSS {peak_mb:,.0f} MB (goal < 2048 MB), "
          f"store {size_mb:,.0f} MB on disk")


def gpu_table(model, rounds):
    """The pinned point and the long record against the cuDNN forward (the kernels are CPU-only: on a GPU capture
    runs the fused forward and the vectorised recovery)."""
    print(f"\nGPU ({torch.cuda.get_device_name()}), capture / cuDNN forward, {rounds} rounds in turns:")
    print("  batch  frames   cuDNN ms  capture ms  ratio")
    for batch, frames in ((32, 400), (1, 4000), (128, 4000)):
        t = compare(model, batch, frames, rounds, device="cuda")
        print(f"  {batch:5d}  {frames:6d}  {np.median(t['fused']) * 1e3:9.1f}  {np.median(t['capture']) * 1e3:10.1f}"
              f"  {ratio(t, 'capture', 'fused'):5.2f}x")
    model.to("cpu")


if __name__ == "__main__":
    main()

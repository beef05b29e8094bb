"""Cell protocol timings, side by side in one run (2 threads, CPU).

Compares, for the paper's LSTM(210) on 48 features, batch 32, 400 frames:

- the fused ``nn.LSTM`` forward against the lazy LSTM's forward (its plain PyTorch recurrence);
- recovering every internal variable (``layer.internals``) against the fused forward it starts from;
- the same for training (forward + backward).

Run: ``.venv/bin/python benchmarks/bench_cells.py [--rounds 7]``. The variants of each table run in turns
(:mod:`_timing`); the ratios are medians over rounds of the per-round ratio to the fused forward (or the fused
forward + backward for training), the times the median over rounds.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from _timing import interleaved, ratio  # noqa: E402  (benchmarks/_timing.py, the one timing helper)

from rnnscope.models import make_layer


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--inputs", type=int, default=48)
    parser.add_argument("--hidden", type=int, default=210)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    B, T, I, H = args.batch, args.frames, args.inputs, args.hidden
    x = torch.randn(B, T, I)
    lstm, lazy = make_layer("lstm", input_size=I, hidden_size=H), make_layer("lazy_lstm", input_size=I, hidden_size=H)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; LSTM({H}), {I} inputs, batch {B}, {T} frames")

    with torch.no_grad():
        h, _ = lstm(x)
        inference = interleaved({
            "inference: fused nn.LSTM forward": lambda: lstm(x),
            "inference: lazy LSTM forward": lambda: lazy(x),
            "capture fallback: LSTM internals (vectorised)": lambda: lstm.internals(x, h),
            "reference: LSTM step loop (all internals)": lambda: _step_loop(lstm, x),
        }, args.rounds)

    def train(layer):
        def run():
            layer.zero_grad()
            out, _ = layer(x)
            out.sum().backward()
        return run

    training = interleaved({"training: fused nn.LSTM forward+backward": train(lstm),
                            "training: lazy LSTM forward+backward": train(lazy)}, max(2, args.rounds // 2))
    width = max(len(name) for name in [*inference, *training])
    print(f"{'':{width}}  {'median':>9}  {'x fused':>8}")
    for table in (inference, training):
        base = next(iter(table))
        for name, times in table.items():
            print(f"{name:{width}}  {np.median(times) * 1e3:7.1f}ms  {ratio(table, name, base):7.2f}x")
    fused, lazy_name, internals = list(inference)[:3]
    print(f"\nlazy/fused forward: {ratio(inference, lazy_name, fused):.2f}; internals/fused forward: "
          f"{ratio(inference, internals, fused):.2f}; capture fallback total (forward + internals)/forward: "
          f"{np.median((inference[fused] + inference[internals]) / inference[fused]):.2f}")


def _step_loop(layer, x):
    state = layer.initial_state(x.shape[0])
    for t in range(x.shape[1]):
        _, state, _ = layer.step(x[:, t], state)


if __name__ == "__main__":
    main()

"""Cell protocol timings, side by side in one run (2 threads, CPU).

Compares, for the paper's LSTM(210) on 48 features, batch 32, 400 frames:

- the fused ``nn.LSTM`` forward against the lazy LSTM's forward (its plain PyTorch recurrence);
- recovering every internal variable (``layer.internals``) against the fused forward it starts from;
- the same for training (forward + backward).

Run: ``.venv/bin/python benchmarks/bench_cells.py [--repeats 7]``. Timings are the minimum over repeats.
"""
from __future__ import annotations

import argparse
import time

import torch

from rnnscope.models import make_layer


def best_time(fn, repeats: int) -> float:
    fn()  # warm up
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--inputs", type=int, default=48)
    parser.add_argument("--hidden", type=int, default=210)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    B, T, I, H = args.batch, args.frames, args.inputs, args.hidden
    x = torch.randn(B, T, I)
    lstm, lazy = make_layer("lstm", I, H), make_layer("lazy_lstm", I, H)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; LSTM({H}), {I} inputs, batch {B}, {T} frames")

    rows = []
    with torch.no_grad():
        t_fused = best_time(lambda: lstm(x), args.repeats)
        h, _ = lstm(x)
        t_lazy = best_time(lambda: lazy(x), args.repeats)
        t_int = best_time(lambda: lstm.internals(x, h), args.repeats)
        t_step = best_time(lambda: _step_loop(lstm, x), max(1, args.repeats // 3))
    rows += [
        ("inference: fused nn.LSTM forward", t_fused),
        ("inference: lazy LSTM forward", t_lazy),
        ("capture fallback: LSTM internals (vectorised)", t_int),
        ("reference: LSTM step loop (all internals)", t_step),
    ]

    def train(layer):
        def run():
            layer.zero_grad()
            out, _ = layer(x)
            out.sum().backward()
        return run

    t_fused_train = best_time(train(lstm), max(1, args.repeats // 2))
    t_lazy_train = best_time(train(lazy), max(1, args.repeats // 2))
    rows += [
        ("training: fused nn.LSTM forward+backward", t_fused_train),
        ("training: lazy LSTM forward+backward", t_lazy_train),
    ]

    width = max(len(name) for name, _ in rows)
    print(f"{'':{width}}  {'time':>9}  {'x fused':>8}")
    for name, t in rows:
        ref = t_fused_train if name.startswith("training") else t_fused
        print(f"{name:{width}}  {t * 1e3:7.1f}ms  {t / ref:7.2f}x")
    print(
        f"\nlazy/fused forward: {t_lazy / t_fused:.2f}; internals/fused forward: {t_int / t_fused:.2f}; "
        f"capture fallback total (forward + internals)/forward: {(t_fused + t_int) / t_fused:.2f}"
    )


def _step_loop(layer, x):
    state = layer.initial_state(x.shape[0])
    for t in range(x.shape[1]):
        _, state, _ = layer.step(x[:, t], state)


if __name__ == "__main__":
    main()

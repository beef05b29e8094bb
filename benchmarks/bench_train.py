"""One epoch of ``rnnscope.train.fit`` against a bare PyTorch ``nn.LSTM`` training loop on the same batches.

Both train an LSTM(210) with a linear head, Adam, cross-entropy ignoring padded frames and gradient clipping, on
the same padded batches of synthetic records (2 CPU threads). ``fit`` additionally normalises inside the model,
weights the classes, pads its own batches and counts accuracy: the ratio says what that bookkeeping costs.

Run: ``.venv/bin/python benchmarks/bench_train.py [--records 64 --epochs 3]``. Prints the per-epoch times
(minimum over epochs) and their ratio; record the result in docs/performance.md.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch
from _timing import interleaved  # noqa: E402  (benchmarks/_timing.py, the one timing helper)
from torch import nn

import rnnscope
from rnnscope import train
from rnnscope.models import RNNClassifier


def bare_epoch(lstm, head, optimiser, batches) -> None:
    for x, y in batches:
        optimiser.zero_grad(set_to_none=True)
        out, _ = lstm(x)
        logits = head(out)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=-1)
        loss.backward()
        nn.utils.clip_grad_norm_(list(lstm.parameters()) + list(head.parameters()), 1.0)
        optimiser.step()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=210)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=args.records, seed=0))
    n_features = frames.sizes["feature"]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; LSTM({args.hidden}), {args.records} records, "
          f"{int(frames.length.sum())} frames, batch {args.batch}")

    model = RNNClassifier("lstm", input_size=n_features, hidden_size=args.hidden, num_classes=5)
    records = train._records._records(model, frames, "bench")
    batches = [(x, y) for _, x, y in train._records._batches(records, args.batch, np.random.default_rng(0))]
    lstm, head = nn.LSTM(n_features, args.hidden, batch_first=True), nn.Linear(args.hidden, 5)
    optimiser = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=3e-3)

    # one epoch of each, in turns, so both see the same machine state (fit's own epoch time excludes its set-up)
    times = interleaved({"bare": lambda: bare_epoch(lstm, head, optimiser, batches),
                         "fit": lambda: train.fit(model, frames, epochs=1, batch_size=args.batch, progress=False,
                                                  device="cpu")}, args.epochs, warmup=0)
    b, o = float(times["bare"].min()), float(times["fit"].min())
    print(f"bare nn.LSTM loop, one epoch : {b:8.3f} s")
    print(f"rnnscope.train.fit, one epoch: {o:8.3f} s")
    print(f"ratio fit / bare             : {o / b:8.3f}   (goal <= 1.15)")


if __name__ == "__main__":
    main()

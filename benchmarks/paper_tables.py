"""Table I and Table III analogues of Titos & Garcia (2022) on the built-in synthetic data.

Protocol (written into the output with the numbers):

- data: ``rnnscope.data.synthetic(n_records=N, seed=0)``, paper features (48 LFB + deltas), 4 record folds
  (``rnnscope.train.record_folds``: never splits a record, rare classes in every fold);
- Table I: vanilla RNN (140 units), LSTM (210 units), TCN (50 filters, kernel 2, dilations 8/16/32), and a
  frame-wise baseline that sees one frame at a time (balanced logistic regression) on the same folds;
- Table III: LSTM and vanilla with 30/110/210/250/290 units;
- training: Adam (lr 3e-3), balanced class weights, batch 16, ``--epochs`` epochs with early stopping (patience 5)
  on 15 % of the training records, seed 0, 2 threads.

Writes ``docs/results/table1.csv``, ``docs/results/table3.csv`` (one row per model and partition, with provenance
columns) and prints the tables. Run: ``.venv/bin/python benchmarks/paper_tables.py [--records 240 --epochs 40]``
(``--quick`` for a smoke run). A ``--executor dask`` option runs the folds on a local Dask cluster.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import rnnscope
from rnnscope import train

OUT = Path(__file__).resolve().parent.parent / "docs" / "results"


def provenance(args) -> dict:
    return {
        "command": "python benchmarks/paper_tables.py " + " ".join(sys.argv[1:]),
        "seed": 0,
        "rnnscope": rnnscope.__version__,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, {platform.python_version()}",
        "date": dt.date.today().isoformat(),
    }


def frame_baseline_table(frames, folds) -> pd.DataFrame:
    rows = []
    for k, test in enumerate(folds, 1):
        train_idx = np.setdiff1d(np.arange(frames.sizes["event"]), test)
        t0 = time.perf_counter()
        acc = train.frame_baseline(frames, train_idx, test)
        rows.append({"model": "frame-wise logistic", "partition": k, "accuracy": acc,
                     "train_time_s": time.perf_counter() - t0, "n_parameters": 48 * 5 + 5})
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--tables", default="1,3")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--executor", choices=["serial", "dask"], default="serial")
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.epochs = 40, 2
    torch.set_num_threads(2)
    OUT.mkdir(parents=True, exist_ok=True)
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=args.records, seed=0))
    labels = [frames.label.values[i, : int(frames.length[i])] for i in range(frames.sizes["event"])]
    folds = train.record_folds(labels, 4, seed=0)
    fit_kwargs = {"epochs": args.epochs, "batch_size": 16, "lr": 3e-3, "validation": 0.15, "early_stopping": 5}
    prov = provenance(args)
    executor = None
    if args.executor == "dask":
        from dask.distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address="127.0.0.1:0"))
        executor = client.get_executor()

    if "1" in args.tables:
        grid = {"cell": ["rnn", "lstm", "tcn"], "hidden_size": [None]}
        sizes = {"rnn": 140, "lstm": 210, "tcn": None}
        parts = []
        for cell in grid["cell"]:
            table = train.sweep({"cell": [cell], "hidden_size": [sizes[cell] or 1]}, frames, folds=4, seed=0,
                                threads=2 if executor is None else 1, executor=executor, progress=True, **fit_kwargs)
            table.insert(0, "model", {"rnn": "vanilla RNN (140)", "lstm": "LSTM (210)", "tcn": "TCN"}[cell])
            if sizes[cell] is None:
                table["hidden_size"] = np.nan  # the TCN has filters, not a hidden size (50 filters, kernel 2)
            parts.append(table)
        parts.append(frame_baseline_table(frames, folds))
        table1 = pd.concat(parts, ignore_index=True).assign(**prov)
        table1.to_csv(OUT / "table1.csv", index=False)
        print("\nTable I analogue (frame accuracy per test partition):")
        print(table1.pivot_table(index="model", columns="partition", values="accuracy").assign(
            average=lambda t: t.mean(axis=1)).round(4).to_string())
        print(table1.groupby("model")[["n_parameters", "train_time_s"]].mean().round(1).to_string())

    if "3" in args.tables:
        table3 = train.sweep({"cell": ["lstm", "rnn"], "hidden_size": [30, 110, 210, 250, 290]}, frames, folds=4,
                             seed=0, threads=2 if executor is None else 1, executor=executor, progress=True,
                             **fit_kwargs).assign(**prov)
        table3.to_csv(OUT / "table3.csv", index=False)
        print("\nTable III analogue (average frame accuracy over 4 partitions):")
        print(table3.pivot_table(index="hidden_size", columns="cell", values="accuracy").round(4).to_string())
    print("\nprovenance:", json.dumps(prov))


if __name__ == "__main__":
    main()

"""Table I and Table III analogues of Titos & Garcia (2022) on the built-in synthetic data, baselines and intervals.

Everything goes through the package's own route, so a user's table has these columns and these intervals:
``rnnscope.train.sweep`` trains and scores every (model, seed, partition) and the baselines on the same partitions
(``baselines=``), ``rnnscope.train.fold_summary`` and ``rnnscope.train.fold_differences`` summarise the rows. This
script only chooses the models, names them and writes the files. Protocol (written into the output with the numbers):

- data: ``rnnscope.data.synthetic(n_records=N, seed=0)``, paper features (48 LFB + deltas), 4 record folds
  (``rnnscope.train.record_folds``, seed 0: never splits a record, rare classes in every fold); each test partition
  is one fold, training uses the other three;
- Table I: vanilla RNN (140 units), LSTM (210 units), TCN (50 filters, kernel 2, dilations 8/16/32), and three
  baselines without recurrence on the same folds (``rnnscope.train.frame_baseline``): a linear one-frame classifier
  (logistic regression), a nonlinear one-frame classifier (histogram gradient boosting) and the nonlinear one on a
  window of the current and ``--context`` past frames (default 4: 2 s); every sequence model with ``--seeds``
  seeds (default 0, 1, 2), the baselines with the first (their seed only moves the boosting's early-stopping
  split; they pair with every seed of a sequence model on the same partition);
- Table III: LSTM and vanilla with 30/110/210/250/290 units, seed 0;
- training: Adam (lr 3e-3), class weights ``--class-weights`` (``balanced``, fit's default, or ``none``: every
  frame counts once, as the paper's frame accuracy), batch 16, ``--epochs`` epochs with early stopping (patience 5)
  on 15 % of the training records, ``--threads`` threads per model;
- scores per test partition (``rnnscope.train.frame_scores`` definitions, the columns of ``sweep``): frame
  accuracy, balanced accuracy (mean recall over classes: rare classes weigh as much as the background) and macro
  F1; the CSV also holds the event scores (detection rate, mean onset error);
- intervals: the 4 partitions share two thirds of their training records, so every interval over partitions is
  the corrected resampled t interval (Nadeau & Bengio 2003, variance factor 1/4 + 1/3 instead of 1/4:
  ``rnnscope.train.corrected_interval``), 3 degrees of freedom. For a model, the interval of its mean over the
  4 partitions (of its seed means); for two models, the paired difference (same seed, same partition) with two
  intervals: over partitions (corrected) and over seeds (the partition-averaged difference of each seed, plain t).
  Each difference gets a p-value, the larger of the two tests' (it must hold over partitions and over seeds), and
  a Holm-adjusted p-value over the comparisons of its score in the table (``n_comparisons``); a difference is
  called *shown* only when the adjusted p-value is below 0.05. The intervals are at 95 % each, not adjusted.

Writes, in ``docs/results/`` (suffix ``_unweighted`` with ``--class-weights none``): ``table1.csv`` /
``table3.csv`` (one row per model, seed and partition, with provenance columns), ``table1_summary.csv`` /
``table3_summary.csv`` (per model and score: mean and interval over partitions) and ``table1_differences.csv`` /
``table3_differences.csv`` (paired differences). Finished rows go to ``*.partial.csv`` first (the sweep's
checkpoint); ``--resume`` keeps them after an interruption.

Run: ``.venv/bin/python benchmarks/paper_tables.py [--records 240 --epochs 40 --tables 1,3]`` (``--quick`` for a
smoke run; ``--from-csv`` recomputes the summaries from ``table1.csv`` / ``table3.csv`` without training).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

import rnnscope
from rnnscope import train

OUT = Path(__file__).resolve().parent.parent / "docs" / "results"
SCORES = ("accuracy", "balanced_accuracy", "macro_f1")
CELL_NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}
#: Table I's sequence models: name -> one sweep configuration
TABLE1_MODELS = {
    "vanilla RNN (140)": {"cell": ["rnn"], "hidden_size": [140]},
    "LSTM (210)": {"cell": ["lstm"], "hidden_size": [210]},
    "TCN": {"cell": ["tcn"]},
}
SEQUENCE_MODELS = ("LSTM (210)", "vanilla RNN (140)", "TCN")
BASELINES = ("one-frame logistic", "one-frame boosting", "context boosting")
TABLE3_SIZES = (30, 110, 210, 250, 290)
#: Columns of the result rows, in this order (sequence models and baselines fill different ones).
COLUMNS = ["model", "cell", "hidden_size", "context", "seed", "partition", "accuracy", "balanced_accuracy", "macro_f1",
           "detection_rate", "onset_error_s", "n_parameters", "train_time_s", "n_train_records", "n_test_records"]


def provenance(args) -> dict:
    import torch

    return {
        "command": "python benchmarks/paper_tables.py " + " ".join(sys.argv[1:]),
        "rnnscope": rnnscope.__version__,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {args.workers} worker(s) x {args.threads} thread(s), "
                   f"{platform.python_version()}",
        "date": dt.date.today().isoformat(),
    }


def baselines(context: int) -> dict:
    """The three baselines (``rnnscope.train.frame_baseline`` keywords); the class weighting follows the models'."""
    return {"one-frame logistic": {"estimator": "logistic", "context": 0},
            "one-frame boosting": {"estimator": "boosting", "context": 0},
            "context boosting": {"estimator": "boosting", "context": context}}


def display_name(row) -> str:
    """The tables' name of a sweep row: "LSTM (210)", "TCN", or the baseline's name."""
    if not isinstance(row["cell"], str):
        return row["name"]
    return "TCN" if row["cell"] == "tcn" else f"{CELL_NAMES.get(row['cell'], row['cell'])} ({int(row['hidden_size'])})"


def run_table(name, grid, seeds, frames, args, fit_kwargs, with_baselines, partial: Path) -> pd.DataFrame:
    """``rnnscope.train.sweep`` of one table, rows saved to (and resumed from) ``partial``."""
    specs = baselines(args.context) if with_baselines else None
    pool = ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) if args.workers > 1 else None
    try:
        table = train.sweep(grid, frames, folds=4, seed=0, seeds=seeds, baselines=specs, threads=args.threads,
                            device="cpu", executor=pool, checkpoint=partial, progress=True, **fit_kwargs)
    finally:
        if pool is not None:
            pool.shutdown()
    context = {b: spec["context"] for b, spec in (specs or {}).items()}
    table = table.assign(model=[display_name(r) for _, r in table.iterrows()],
                         context=[context.get(n, np.nan) for n in table["name"]])
    print(f"{name}: {len(table)} rows", flush=True)
    return table.reindex(columns=COLUMNS)


# ------------------------------------------------------------------------------------------------ statistics
def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and score: mean over partitions (of the seed mean), corrected interval, seed spread."""
    return train.fold_summary(table, by="model", scores=SCORES)


def differences(table: pd.DataFrame, pairs) -> pd.DataFrame:
    """Paired differences with intervals over partitions (corrected) and seeds, Holm within each score."""
    present = set(table.model)
    return train.fold_differences(table, pairs=[(a, b) for a, b in pairs if a in present and b in present], by="model",
                                  scores=SCORES)


def table1_pairs():
    pairs = [("LSTM (210)", "vanilla RNN (140)"), ("LSTM (210)", "TCN"), ("vanilla RNN (140)", "TCN"),
             ("context boosting", "one-frame boosting"), ("one-frame boosting", "one-frame logistic")]
    return pairs + [(m, b) for m in SEQUENCE_MODELS for b in BASELINES]


def table3_pairs(table):
    return [(f"LSTM ({h})", f"vanilla RNN ({h})") for h in sorted(table.hidden_size.dropna().unique().astype(int))]


def print_markdown(title, summ, diffs):
    def pct(v):
        return "n/a" if not np.isfinite(v) else f"{100 * v:.1f}"

    print(
        f"\n### {title}\n\nMean over partitions [95 % corrected resampled interval over partitions], "
        f"{len(summ)} intervals, not adjusted:\n\n| model | " + " | ".join(SCORES) + " |\n|---|" + "---|" * len(SCORES)
    )
    for model, group in summ.groupby("model", sort=False):
        cells = [f"{pct(r['mean'])} [{pct(r['ci_low'])}, {pct(r['ci_high'])}]" for _, r in group.iterrows()]
        print(f"| {model} | " + " | ".join(cells) + " |")
    if diffs.empty:
        return
    m = diffs.groupby("score")["n_comparisons"].first()
    print(f"\nPaired differences: {', '.join(f'{int(v)} comparisons of {k}' for k, v in m.items())}; shown = "
          f"Holm-adjusted p < 0.05 within each score ({diffs.attrs.get('correction', 'holm')}).\n\n"
          "| a - b | score | difference | over partitions | over seeds | p | p (Holm) | shown |\n"
          "|---|---|---|---|---|---|---|---|")
    for _, r in diffs.iterrows():
        print(f"| {r.a} - {r.b} | {r.score} | {pct(r.difference)} | [{pct(r.ci_low_partitions)}, "
              f"{pct(r.ci_high_partitions)}] | [{pct(r.ci_low_seeds)}, {pct(r.ci_high_seeds)}] | {r.p:.3g} | "
              f"{r.p_adjusted:.3g} | {'yes' if r.shown else 'no'} |")


def model_order(table, name) -> dict:
    """Table I's models in their order; Table III's by cell (LSTM first) and size."""
    first = {m: i for i, m in enumerate([*TABLE1_MODELS, *BASELINES])} if name == "table1" else {}
    return {m: (first.get(m, len(first)), "vanilla" in m, float(h) if np.isfinite(h) else 0.0)
            for m, h in table.groupby("model")["hidden_size"].first().items()}


def write(name, table, pairs, suffix, prov):
    order = model_order(table, name)
    table = table.sort_values(["model", "seed", "partition"], key=lambda c: c.map(order) if c.name == "model" else c,
                              kind="stable")
    if prov is not None:
        table = table.assign(**prov)
    table.to_csv(OUT / f"{name}{suffix}.csv", index=False)
    summ, diffs = summary(table), differences(table, pairs)
    summ.to_csv(OUT / f"{name}{suffix}_summary.csv", index=False)
    diffs.to_csv(OUT / f"{name}{suffix}_differences.csv", index=False)
    print_markdown(f"{name}{suffix}", summ, diffs)


# ------------------------------------------------------------------------------------------------------ main
def main(argv=None):
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=240)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--tables", default="1,3")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of Table I (Table III uses the first)")
    parser.add_argument("--class-weights", choices=["balanced", "none"], default="balanced")
    parser.add_argument("--context", type=int, default=4, help="past frames of the context-window baseline")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--resume", action="store_true", help="keep the rows of *.partial.csv")
    parser.add_argument("--from-csv", action="store_true", help="recompute the summaries from the tables")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=None, help="folder of the CSV files (default docs/results)")
    args = parser.parse_args(argv)
    OUT = Path(args.out) if args.out else OUT
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.quick:
        args.records, args.epochs, seeds = 40, 2, seeds[:2]
    suffix = "" if args.class_weights == "balanced" else "_unweighted"
    OUT.mkdir(parents=True, exist_ok=True)
    if args.from_csv:
        for name in ("table1", "table3"):
            if name[-1] in args.tables and (OUT / f"{name}{suffix}.csv").exists():
                table = pd.read_csv(OUT / f"{name}{suffix}.csv")
                write(name, table, table1_pairs() if name == "table1" else table3_pairs(table), suffix, None)
        return
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=args.records, seed=0))
    fit_kwargs = {"epochs": args.epochs, "batch_size": 16, "lr": 3e-3, "validation": 0.15, "early_stopping": 5,
                  "class_weights": None if args.class_weights == "none" else "balanced"}
    prov = provenance(args) | {"class_weights": args.class_weights}
    tables = {"table1": (list(TABLE1_MODELS.values()), seeds, True),
              "table3": ({"cell": ["lstm", "rnn"], "hidden_size": list(TABLE3_SIZES)}, seeds[:1], False)}
    for name, (grid, seed_list, with_baselines) in tables.items():
        if name[-1] not in args.tables:
            continue
        partial = OUT / f"{name}{suffix}.partial.csv"
        if partial.exists() and not args.resume:
            partial.unlink()
        table = run_table(name, grid, seed_list, frames, args, fit_kwargs, with_baselines, partial)
        write(name, table, table1_pairs() if name == "table1" else table3_pairs(table), suffix, prov)
        partial.unlink()
    print("\nprovenance:", json.dumps(prov))


if __name__ == "__main__":
    main()

"""Table I and Table III analogues of Titos & Garcia (2022) on the built-in synthetic data, with baselines and intervals.

Protocol (written into the output with the numbers):

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
- scores per test partition (``rnnscope.train.frame_scores`` definitions): frame accuracy, balanced accuracy (mean
  recall over classes: rare classes weigh as much as the background) and macro F1;
- intervals: for a model, the 95 % Student-t interval of the mean over the 4 partitions; for two models, the paired
  difference (same seed, same partition) with two intervals: over partitions (the seed-averaged difference of each
  partition, 3 degrees of freedom: how much the data split moves it) and over seeds (the partition-averaged
  difference of each seed: how much training randomness moves it). A difference is called *shown* only when both
  intervals exclude 0.

Writes, in ``docs/results/`` (suffix ``_unweighted`` with ``--class-weights none``): ``table1.csv`` /
``table3.csv`` (one row per model, seed and partition, with provenance columns), ``table1_summary.csv`` /
``table3_summary.csv`` (per model and score: mean and interval over partitions) and ``table1_differences.csv`` /
``table3_differences.csv`` (paired differences). Finished rows go to ``*.partial.csv`` first; ``--resume`` skips
them after an interruption.

Run: ``.venv/bin/python benchmarks/paper_tables.py [--records 240 --epochs 40 --tables 1,3]`` (``--quick`` for a
smoke run; ``--from-csv`` recomputes the summaries from ``table1.csv`` / ``table3.csv`` without training).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import rnnscope
from rnnscope import train

OUT = Path(__file__).resolve().parent.parent / "docs" / "results"
SCORES = ("accuracy", "balanced_accuracy", "macro_f1")
TABLE1_MODELS = {  # name -> (kind, cell, hidden size)
    "vanilla RNN (140)": ("rnn", "rnn", 140),
    "LSTM (210)": ("rnn", "lstm", 210),
    "TCN": ("rnn", "tcn", None),
    "one-frame logistic": ("baseline", "logistic", 0),
    "one-frame boosting": ("baseline", "boosting", 0),
    "context boosting": ("baseline", "boosting", None),  # None: --context past frames
}
SEQUENCE_MODELS = ("LSTM (210)", "vanilla RNN (140)", "TCN")
#: Columns of the result rows, in this order (sequence models and baselines fill different ones).
COLUMNS = ["model", "cell", "hidden_size", "context", "seed", "partition", "accuracy", "balanced_accuracy", "macro_f1",
           "detection_rate", "n_parameters", "train_time_s"]
BASELINES = ("one-frame logistic", "one-frame boosting", "context boosting")


# ----------------------------------------------------------------------------------------------------- tasks
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


def _rnn_scores(model, test) -> dict:
    scores = train.evaluate(model, test, device="cpu")
    recall = scores.per_class.loc[scores.per_class["support"] > 0, "recall"]
    return {"accuracy": scores.accuracy, "balanced_accuracy": float(recall.mean()), "macro_f1": scores.macro_f1,
            "detection_rate": scores.summary()["detection_rate"],
            "n_parameters": int(sum(p.numel() for p in model.parameters()))}


def fold_task(payload) -> dict:
    """Train and score one (model, seed, partition); module level so a process pool can run it."""
    import torch

    from rnnscope.data import select_records

    name, kind, what, size, seed, part, frames, train_idx, test_idx, cfg = payload
    t0 = time.perf_counter()
    if kind == "baseline":
        context = cfg["context"] if size is None else size
        from threadpoolctl import threadpool_limits

        with threadpool_limits(cfg["threads"]):
            out = train.frame_baseline(frames, train_idx, test_idx, model=what, context=context,
                                       class_weight=cfg["class_weights"], seed=seed)
        out = {k: out[k] for k in SCORES} | {"context": context}
    else:
        torch.set_num_threads(cfg["threads"])
        rnnscope.seed_everything(seed, cfg["threads"])
        names = list(frames.attrs["class_names"])
        if what == "tcn":
            model = rnnscope.models.TCNClassifier(frames.sizes["feature"], len(names), class_names=names)
        else:
            model = rnnscope.models.RNNClassifier(what, frames.sizes["feature"], size, len(names), class_names=names)
        train.fit(model, select_records(frames, train_idx), seed=seed, threads=cfg["threads"], device="cpu",
                  progress=False, class_weights=cfg["class_weights"], **cfg["fit"])
        out = _rnn_scores(model, select_records(frames, test_idx))
    return {"model": name, "cell": what, "hidden_size": size if kind == "rnn" else np.nan, "seed": seed,
            "partition": part, **out, "train_time_s": time.perf_counter() - t0}


def run_tasks(payloads, partial: Path, workers: int) -> pd.DataFrame:
    """Run the payloads not yet in ``partial`` (appending each finished row to it); return every row."""
    done = pd.read_csv(partial) if partial.exists() else pd.DataFrame(columns=["model", "seed", "partition"])
    finished = {(m, int(s), int(p)) for m, s, p in zip(done["model"], done["seed"], done["partition"])}
    todo = [p for p in payloads if (p[0], p[4], p[5]) not in finished]
    print(f"{len(payloads) - len(todo)} rows already in {partial.name}, {len(todo)} to run", flush=True)
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn")) if workers > 1 else None
    results = pool.map(fold_task, todo) if pool else map(fold_task, todo)
    try:
        for row in results:
            pd.DataFrame([row]).reindex(columns=COLUMNS).to_csv(partial, mode="a", header=not partial.exists(),
                                                                index=False)
            print(f"{row['model']} seed {row['seed']} partition {row['partition']}: accuracy "
                  f"{row['accuracy']:.4f}, balanced {row['balanced_accuracy']:.4f} ({row['train_time_s']:.0f} s)",
                  flush=True)
    finally:
        if pool:
            pool.shutdown()
    return pd.read_csv(partial)


# ------------------------------------------------------------------------------------------------ statistics
def t_interval(values) -> tuple[float, float, float, int]:
    """Mean and 95 % Student-t interval of the mean (NaN interval for fewer than 2 values)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = values.size
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(values.mean())
    if n < 2:
        return mean, np.nan, np.nan, n
    half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half, n


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and score: mean over partitions (of the seed mean) and its interval; the seed spread."""
    rows = []
    for model, group in table.groupby("model", sort=False):
        for score in SCORES:
            by_part = group.groupby("partition")[score].mean()
            mean, lo, hi, n = t_interval(by_part.values)
            by_seed = group.groupby("seed")[score].mean()
            rows.append({"model": model, "score": score, "mean": mean, "ci_low": lo, "ci_high": hi,
                         "n_partitions": n, "n_seeds": int(group["seed"].nunique()),
                         "seed_sd": float(by_seed.std(ddof=1)) if len(by_seed) > 1 else np.nan})
    return pd.DataFrame(rows)


def paired(table: pd.DataFrame, a: str, b: str, score: str) -> dict:
    """Paired difference a - b (same seed and partition) with intervals over partitions and over seeds."""
    rows_a, rows_b = table[table.model == a], table[table.model == b]
    if rows_b.seed.nunique() == 1:  # a one-seed baseline pairs with every seed of the other model
        diff = rows_a.assign(d=rows_a[score] - rows_a.partition.map(rows_b.groupby("partition")[score].mean()))
    elif rows_a.seed.nunique() == 1:
        diff = rows_b.assign(d=rows_b.partition.map(rows_a.groupby("partition")[score].mean()) - rows_b[score])
    else:
        keys = ["seed", "partition"]
        both = rows_a.set_index(keys)[score].to_frame("a").join(rows_b.set_index(keys)[score].to_frame("b"),
                                                                how="inner")
        diff = (both["a"] - both["b"]).reset_index(name="d")
    mean, lo, hi, n_parts = t_interval(diff.groupby("partition")["d"].mean().values)
    _, slo, shi, n_seeds = t_interval(diff.groupby("seed")["d"].mean().values)
    shown = all(np.isfinite(v) for v in (lo, hi)) and (lo > 0 or hi < 0)
    if n_seeds >= 2:
        shown = shown and np.isfinite(slo) and (slo > 0 or shi < 0) and np.sign(slo) == np.sign(lo)
    return {"a": a, "b": b, "score": score, "difference": mean, "ci_low_partitions": lo, "ci_high_partitions": hi,
            "n_partitions": n_parts, "ci_low_seeds": slo, "ci_high_seeds": shi, "n_seeds": n_seeds,
            "shown": bool(shown)}


def differences(table: pd.DataFrame, pairs) -> pd.DataFrame:
    present = set(table.model)
    return pd.DataFrame([paired(table, a, b, s) for a, b in pairs if a in present and b in present for s in SCORES])


def table1_pairs():
    pairs = [("LSTM (210)", "vanilla RNN (140)"), ("LSTM (210)", "TCN"), ("vanilla RNN (140)", "TCN"),
             ("context boosting", "one-frame boosting"), ("one-frame boosting", "one-frame logistic")]
    return pairs + [(m, b) for m in SEQUENCE_MODELS for b in BASELINES]


def table3_pairs(table):
    return [(f"LSTM ({h})", f"vanilla RNN ({h})") for h in sorted(table.hidden_size.dropna().unique().astype(int))]


def print_markdown(title, summ, diffs):
    def pct(v):
        return "n/a" if not np.isfinite(v) else f"{100 * v:.1f}"

    print(f"\n### {title}\n\n| model | " + " | ".join(SCORES) + " |\n|---|" + "---|" * len(SCORES))
    for model, group in summ.groupby("model", sort=False):
        cells = [f"{pct(r['mean'])} [{pct(r['ci_low'])}, {pct(r['ci_high'])}]" for _, r in group.iterrows()]
        print(f"| {model} | " + " | ".join(cells) + " |")
    print("\n| a - b | score | difference | over partitions | over seeds | shown |\n|---|---|---|---|---|---|")
    for _, r in diffs.iterrows():
        print(f"| {r.a} - {r.b} | {r.score} | {pct(r.difference)} | [{pct(r.ci_low_partitions)}, "
              f"{pct(r.ci_high_partitions)}] | [{pct(r.ci_low_seeds)}, {pct(r.ci_high_seeds)}] | "
              f"{'yes' if r.shown else 'no'} |")


def model_order(table, name) -> dict:
    """Table I's models in their order; Table III's by cell (LSTM first) and size."""
    first = {m: i for i, m in enumerate(TABLE1_MODELS)} if name == "table1" else {}
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
    labels = [frames.label.values[i, : int(frames.length[i])] for i in range(frames.sizes["event"])]
    folds = train.record_folds(labels, 4, seed=0)
    everything = np.arange(frames.sizes["event"])
    cfg = {"threads": args.threads, "context": args.context,
           "class_weights": None if args.class_weights == "none" else "balanced",
           "fit": {"epochs": args.epochs, "batch_size": 16, "lr": 3e-3, "validation": 0.15, "early_stopping": 5}}
    prov = provenance(args) | {"class_weights": args.class_weights}

    def payloads(models, seed_list):
        return [(name, kind, what, size, seed, k + 1, frames, np.setdiff1d(everything, test), test, cfg)
                for name, (kind, what, size) in models.items() for seed in (seed_list[:1] if kind == "baseline"
                                                                            else seed_list)
                for k, test in enumerate(folds)]

    for name, models, seed_list in (("table1", TABLE1_MODELS, seeds),
                                    ("table3", {f"{label} ({h})": ("rnn", cell, h)
                                                for cell, label in (("lstm", "LSTM"), ("rnn", "vanilla RNN"))
                                                for h in (30, 110, 210, 250, 290)}, seeds[:1])):
        if name[-1] not in args.tables:
            continue
        partial = OUT / f"{name}{suffix}.partial.csv"
        if partial.exists() and not args.resume:
            partial.unlink()
        table = run_tasks(payloads(models, seed_list), partial, args.workers)
        write(name, table, table1_pairs() if name == "table1" else table3_pairs(table), suffix, prov)
        partial.unlink()
    print("\nprovenance:", json.dumps(prov))


if __name__ == "__main__":
    main()

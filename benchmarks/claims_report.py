"""Check the papers' claims on the synthetic data over several seeds, with controls, and write ``docs/claims.md``.

For every seed ``s`` and every cell (vanilla RNN, LSTM, GRU; one layer, same hidden size) the script trains

- the **trained** model (:func:`rnnscope.train.fit_many`, seed ``s``) on three record folds of four;
- its **untrained** twin (:func:`rnnscope.experiments.untrained_like`: the same architecture and starting point, no
  training): what the architecture gives for free;
- a model trained with seed ``s`` on **shuffled labels** (:func:`rnnscope.experiments.shuffle_labels`: the classes are
  permuted among segments): the segment structure without the link between signal and class.

Each is captured on the held-out fold and measured with :mod:`rnnscope.analysis` and :mod:`rnnscope.experiments`
(polarization, specialisation, test-time pruning, cell-value distributions, smoothness, recovery after noise, linear
probes, gate saturation); across seeds: linear CKA and unit matching. Every number is summarised over seeds with
:func:`rnnscope.analysis.across_seeds` (mean and Student-t 95 % interval) and each claim gets a verdict:

- **supported**: the interval of the claimed quantity (usually a paired difference between two cells, seed by
  seed) lies entirely on the claimed side of its threshold;
- **not supported**: it lies entirely on the other side;
- **inconclusive**: the interval contains the threshold.

The control column says whether the untrained or shuffled-label models show the same effect (then it is a property
of the architecture or of the segment structure, not of learning the classes).

Writes ``docs/claims.md``, ``docs/results/claims_seeds.csv`` (every number of every model and seed, tidy) and
``docs/results/claims.csv`` (the claims table; notebooks 02 and 03 read it).

Run: ``.venv/bin/python benchmarks/claims_report.py`` (defaults: ``--records 120 --epochs 20 --hidden 64 --seeds 5
--workers 2``; about 10 minutes on 2 cores). ``--quick`` is a smoke run; ``--from-csv`` rewrites the report from
``claims_seeds.csv`` without training.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from itertools import combinations
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

import rnnscope
from rnnscope import analysis
from rnnscope.data import select_records

ROOT = Path(__file__).resolve().parents[1]
CELLS = ("rnn", "lstm", "gru")
CONTROLS = ("trained", "untrained", "shuffled_labels")
FRACTIONS = (1.0, 0.3, 0.2, 0.1)
NOISE = {"start": 15.0, "duration": 5.0, "level": 1.0, "mode": "insert", "where": "waveform"}
RECOVERY_THRESHOLD = 0.1
RECOVERY_CAP = 100  # frames: a record that never recovers counts as this many frames (50 s)
NOISE_RECORDS = 6
PROBE_FRAMES = 3000
TOP_UNITS = 5


# ----------------------------------------------------------------------------------------------- data and tasks
def split(frames, seed=0):
    """Three record folds of four for training, the fourth for analysis (rnnscope.train.record_folds)."""
    lengths = frames["length"].values
    labels = [frames["label"].values[i, : lengths[i]] for i in range(frames.sizes["event"])]
    test = rnnscope.train.record_folds(labels, 4, seed=seed)[0]
    train = np.setdiff1d(np.arange(frames.sizes["event"]), test)
    return select_records(frames, train), select_records(frames, test)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty classes, never-recovered records
        return fn(*args, **kwargs)


def _run_numbers(run, seed) -> dict:
    """Numbers of one captured test run (one model)."""
    row = _quiet(analysis.compare, {"run": run}, seed=seed).iloc[0]
    names = ["accuracy", "polarization", "sparsity", "specialisation", "smoothness", "lstm_c_inside_2",
             "gru_h_outside_0_7"]
    out = {n: float(row[n]) for n in names if n in row and np.isfinite(float(row[n]))}
    probes = _quiet(analysis.linear_probes, run, ["class", "event"], var="h", max_frames=PROBE_FRAMES, seed=seed)
    for _, p in probes.iterrows():
        out[f"probe_{p.target}"] = float(p.score)
        out[f"probe_{p.target}_chance"] = float(p.chance)
    if any(v in run for v in analysis.GATE_VARIABLES):
        sat = analysis.gate_saturation(run)["saturation"].isel(layer=0)
        for var in sat["variable"].values:
            out[f"saturation_{var}"] = float(sat.sel(variable=var))
    return out


def _ablation_numbers(model, train, test, seed, small_epochs: int | None) -> dict:
    """Test-time pruning numbers; ``small_epochs``: also train a model with 30 % of the units (None: skip)."""
    rankings = ["activity", "random"]
    table = _quiet(rnnscope.experiments.ablation_curve, model, test, FRACTIONS, ranking=rankings, rank_on=train,
                   repeats=5, seed=seed, threads=1, device="cpu")

    def acc(ranking, fraction):
        row = table[(table.ranking == ranking) & np.isclose(table.fraction, fraction)]
        return float(row.accuracy.iloc[0])

    full = acc("activity", 1.0)
    out = {"full_accuracy": full, **{f"activity_{int(f * 100)}": acc("activity", f) for f in FRACTIONS[1:]},
           "random_20": acc("random", 0.2)}
    out["retention_activity_20"] = out["activity_20"] / full
    out["retention_activity_10"] = out["activity_10"] / full
    out["random_loss_20"] = (full - out["random_20"]) / full
    if small_epochs is not None:
        small_table = _quiet(rnnscope.experiments.ablation_curve, model, test, (0.3,), ranking="small_model",
                             rank_on=train, seed=seed, threads=1, device="cpu",
                             fit_kwargs={"epochs": small_epochs, "threads": 1})
        out["small_30"] = float(small_table.accuracy.iloc[0])
        out["pruned_minus_small_30"] = out["activity_30"] - out["small_30"]
    return out


def _recovery_median(model, test, seed) -> float:
    """Median recovery time (frames) after a noise insertion, over up to NOISE_RECORDS long test records."""
    lengths = test["length"].values
    events = [int(e) for e in np.flatnonzero(lengths >= 120)][:NOISE_RECORDS]
    times = []
    for e in events:
        clean, noisy = rnnscope.experiments.noise_robustness(model, test, e, seed=seed + e, threads=1,
                                                               device="cpu", **NOISE)
        rec = _quiet(analysis.recovery_time, analysis.perturbation(clean, noisy), RECOVERY_THRESHOLD)
        value = float(rec.values[0])
        times.append(RECOVERY_CAP if not np.isfinite(value) else min(value, RECOVERY_CAP))
    return float(np.median(times)) if times else float("nan")


def _h_only(run):
    drop = [v for v in run.data_vars if (v in rnnscope.schema.STATE_VARIABLES and v != "h")
            or v.startswith("summary_")]
    return run.drop_vars(drop)


def seed_task(payload) -> tuple[list[dict], dict]:
    """Everything about one (cell, seed): three models, their numbers, and the test runs' ``h`` for CKA."""
    import torch

    cell, seed, cfg, train, test = payload
    torch.set_num_threads(1)
    make = partial(rnnscope.models.RNNClassifier, cell, train.sizes["feature"], cfg["hidden"],
                   len(train.attrs["class_names"]), class_names=list(train.attrs["class_names"]))
    fit_kwargs = {"epochs": cfg["epochs"], "threads": 1, "progress": False}
    trained = rnnscope.train.fit_many(make, train, seeds=[seed], **fit_kwargs)[0]
    shuffled_data = rnnscope.experiments.shuffle_labels(train, seed=seed)
    shuffled = rnnscope.train.fit_many(make, shuffled_data, seeds=[seed], **fit_kwargs)[0]
    untrained = rnnscope.experiments.untrained_like(trained, seed=seed)
    rows, runs = [], {}
    for control, model in zip(CONTROLS, (trained, untrained, shuffled)):
        run = rnnscope.capture(model, test, progress=False, device="cpu")
        numbers = _run_numbers(run, seed)
        if cell in ("rnn", "lstm") and control != "untrained":
            numbers.update(_ablation_numbers(model, train, test, seed,
                                              cfg["epochs"] if control == "trained" else None))
        if cell in ("lstm", "gru") and control != "shuffled_labels":
            numbers["recovery_median"] = _recovery_median(model, test, seed)
        rows += [{"cell": cell, "control": control, "seed": seed, "metric": k, "value": v} for k, v in numbers.items()]
        if control != "shuffled_labels":
            runs[control] = _h_only(run)
    return rows, runs


def similarity_rows(runs: dict) -> list[dict]:
    """CKA and unit matching between seed 0 and every other seed, per cell, trained and untrained.

    ``top5_match``: mean |correlation| with its Hungarian partner in the other seed of the TOP_UNITS most selective
    units of seed 0 (:func:`rnnscope.analysis.specialisation`).
    """
    rows = []
    for (cell, control), by_seed in runs.items():
        seeds = sorted(by_seed)
        ref = by_seed[seeds[0]]
        selectivity = _quiet(analysis.specialisation, ref)["selectivity"].isel(layer=0)
        top = selectivity["unit"].values[np.argsort(-np.nan_to_num(selectivity.values, nan=-1))[:TOP_UNITS]]
        for other in seeds[1:]:
            cka = float(analysis.linear_cka(ref, by_seed[other]).values.squeeze())
            pairs = analysis.match_units(ref, by_seed[other])
            matched = pairs.set_index("unit_a").loc[top, "correlation"].abs()
            all_units = float(pairs["correlation"].abs().mean())
            for metric, value in (("cka_seed0", cka), ("top5_match", float(matched.mean())),
                                  ("unit_match", all_units)):
                rows.append({"cell": cell, "control": control, "seed": other, "metric": metric, "value": value})
    return rows


# ------------------------------------------------------------------------------------------------------ claims
class Numbers:
    """Per-seed numbers (tidy table) with helpers that summarise them across seeds."""

    def __init__(self, table: pd.DataFrame):
        self.table = table

    def values(self, cell, control, metric) -> pd.Series:
        t = self.table
        sel = t[(t.cell == cell) & (t.control == control) & (t.metric == metric)]
        return sel.set_index("seed")["value"].astype(float)

    def stats(self, cell, control, metric, minus=None) -> pd.Series:
        """across_seeds of a metric, or of the paired (same seed) difference with ``minus=(cell, metric)`` or
        ``minus=(cell, metric, control)``."""
        x = self.values(cell, control, metric)
        if minus is not None:
            other_cell, other_metric, *other_control = minus
            x = x - self.values(other_cell, other_control[0] if other_control else control, other_metric)
        return self.summarise(x)

    @staticmethod
    def summarise(values: pd.Series) -> pd.Series:
        """across_seeds of per-seed values (indexed by seed; NaN left out)."""
        values = values.dropna()
        if values.empty:
            return pd.Series({"mean": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n": 0})
        return analysis.across_seeds(None, {int(s): float(v) for s, v in values.items()})


def fmt(stats, digits=3) -> str:
    if not np.isfinite(stats["mean"]):
        return "n/a"
    if not np.isfinite(stats["ci_low"]):
        return f"{stats['mean']:.{digits}f} (n={int(stats['n'])})"
    return f"{stats['mean']:.{digits}f} [{stats['ci_low']:.{digits}f}, {stats['ci_high']:.{digits}f}]"


def side(stats, threshold, greater=True) -> str:
    """'above', 'below' or 'straddles': where the interval lies relative to the threshold (claimed side first)."""
    lo, hi = float(stats["ci_low"]), float(stats["ci_high"])
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "unknown"
    if lo > threshold:
        return "claimed" if greater else "opposite"
    if hi < threshold:
        return "opposite" if greater else "claimed"
    return "straddles"


def verdict(ours, controls: dict, threshold=0.0, greater=True) -> str:
    """supported / not supported / inconclusive from the interval, and what the controls say about a supported claim."""
    where = side(ours, threshold, greater)
    text = {"claimed": "supported", "opposite": "not supported"}.get(where, "inconclusive")
    if where != "claimed" or not controls:
        return text
    holds = {name for name, stats in controls.items() if stats is not None and side(stats, threshold, greater)
             == "claimed"}
    if not holds:
        return text + "; absent in the controls: learned"
    name = "untrained" if "untrained" in holds else "shuffled_labels"
    what = {"untrained": "untrained models show it too: the architecture gives it",
            "shuffled_labels": "models trained on shuffled labels show it too: the segment structure gives it"}[name]
    stronger = (side(ours, float(controls[name]["ci_high"]), True) == "claimed" if greater
                else side(ours, float(controls[name]["ci_low"]), False) == "claimed")
    return f"{text}; {what}" + (", training strengthens it" if stronger else ", not training")


def control_text(controls) -> str:
    parts = []
    for name, key in (("untrained", "untrained"), ("shuffled", "shuffled_labels")):
        if key in controls and controls[key] is not None:
            parts.append(f"{name}: {fmt(controls[key])}")
    return "; ".join(parts) if parts else "n/a"


def claims(n: Numbers) -> list[dict]:
    rows = []

    def add(source, claim, quantity, ours, controls, threshold=0.0, greater=True, control_note=None):
        rows.append({
            "source": source, "claim": claim, "quantity": quantity, "ours": fmt(ours),
            "control": control_note or control_text(controls),
            "verdict": verdict(ours, controls, threshold, greater),
            "mean": ours["mean"], "ci_low": ours["ci_low"], "ci_high": ours["ci_high"], "n_seeds": int(ours["n"]),
        })

    def diff(a, b, metric, metric_b=None, controls=("untrained", "shuffled_labels")):
        ours = n.stats(a, "trained", metric, minus=(b, metric_b or metric))
        ctl = {c: n.stats(a, c, metric, minus=(b, metric_b or metric)) for c in controls}
        return ours, ctl

    titos, tang, rigor = "Titos & Garcia 2022", "Tang, Shi & Wang", "rnnscope (rigor)"
    ours, ctl = diff("rnn", "lstm", "polarization")
    add(f"{titos}, Sec. V-A, Figs. 4-5", "The vanilla RNN is more polarized (activations near ±1) than the LSTM.",
        "P(|h| > 0.9): vanilla - LSTM", ours, ctl)
    ours, ctl = diff("lstm", "rnn", "sparsity")
    add(f"{titos}, Sec. V-A, Figs. 4-5", "LSTM units sit near 0 more often than vanilla units.",
        "P(|h| < 0.1): LSTM - vanilla", ours, ctl)
    ours, ctl = diff("lstm", "rnn", "specialisation")
    add(f"{titos}, Secs. V-A, VI-A", "The LSTM is more specialized (units dedicated to classes) than the vanilla RNN.",
        "specialisation: LSTM - vanilla", ours, ctl)
    ours = n.stats("lstm", "trained", "retention_activity_20")
    add(f"{titos}, Sec. VI-B, Fig. 10", "A specialized LSTM keeps high accuracy (>= 90 %) with 20 % of its units "
        "(kept by activity).", "accuracy with 20 % / all units, LSTM", ours,
        {"shuffled_labels": n.stats("lstm", "shuffled_labels", "retention_activity_20")}, threshold=0.9)
    ours, ctl = diff("lstm", "rnn", "random_loss_20", controls=("shuffled_labels",))
    add(f"{titos}, Sec. VI-B, Fig. 10", "Random dropout (20 % of units kept) hurts the specialized LSTM more than the "
        "vanilla RNN.", "relative accuracy lost: LSTM - vanilla", ours, ctl)
    ours = n.stats("lstm", "trained", "pruned_minus_small_30")
    add(f"{titos}, Sec. VI-B, Fig. 10", "An LSTM pruned at test time to 30 % of its units (by activity) does about as "
        "well as (within 0.02) or better than an LSTM trained with that few units.",
        "accuracy: pruned - trained small, LSTM", ours, {}, threshold=-0.02,
        control_note=f"vanilla RNN: {fmt(n.stats('rnn', 'trained', 'pruned_minus_small_30'))}")
    ours, ctl = diff("lstm", "rnn", "probe_class")
    add(f"{titos}, Sec. VI-A", "LSTM states encode the class better than vanilla states (linear probe).",
        "probe balanced accuracy: LSTM - vanilla", ours, ctl)
    ours = n.stats("lstm", "trained", "lstm_c_inside_2")
    add(f"{tang}, Sec. 4.1, Figs. 1-3", "Most LSTM cell values lie inside (-2, 2).", "share of c in (-2, 2), LSTM",
        ours, {c: n.stats("lstm", c, "lstm_c_inside_2") for c in CONTROLS[1:]}, threshold=0.5)
    ours = n.stats("gru", "trained", "gru_h_outside_0_7")
    add(f"{tang}, Sec. 4.1, Figs. 1-3", "Most GRU cell values lie near ±1 (outside (-0.7, 0.7)).",
        "share of h outside (-0.7, 0.7), GRU", ours,
        {c: n.stats("gru", c, "gru_h_outside_0_7") for c in CONTROLS[1:]}, threshold=0.5)
    ours, ctl = diff("gru", "lstm", "smoothness")
    add(f"{tang}, Sec. 4.3, Fig. 7", "LSTM temporal traces are smoother than GRU's.",
        "smoothness (lower = smoother): GRU h - LSTM c", ours, ctl)
    ours, ctl = diff("lstm", "gru", "recovery_median", controls=("untrained",))
    add(f"{tang}, Sec. 4.4, Fig. 8", "After a noise insertion the GRU recovers faster than the LSTM.",
        "median recovery (frames): LSTM - GRU", ours, ctl)
    ours = n.stats("lstm", "trained", "probe_class", minus=("lstm", "probe_class", "untrained"))
    add(rigor, "Training makes the class more linearly decodable from the LSTM's h than in its untrained twin.",
        "probe balanced accuracy: trained - untrained, LSTM", ours, {},
        control_note=f"untrained: {fmt(n.stats('lstm', 'untrained', 'probe_class'))}; shuffled: "
                     f"{fmt(n.stats('lstm', 'shuffled_labels', 'probe_class'))}; trained: "
                     f"{fmt(n.stats('lstm', 'trained', 'probe_class'))}; chance: "
                     f"{fmt(n.stats('lstm', 'trained', 'probe_class_chance'))}")
    ours = n.stats("lstm", "trained", "cka_seed0", minus=("lstm", "cka_seed0", "untrained"))
    add(rigor, "Training makes the state spaces of LSTMs of different seeds more alike than their untrained twins.",
        "linear CKA between seeds: trained - untrained, LSTM", ours, {},
        control_note=f"untrained CKA: {fmt(n.stats('lstm', 'untrained', 'cka_seed0'))}; trained CKA: "
                     f"{fmt(n.stats('lstm', 'trained', 'cka_seed0'))}")
    for cell, name in (("lstm", "LSTM"), ("rnn", "vanilla")):
        ours, ctl = diff(cell, cell, "top5_match", "unit_match", controls=("untrained",))
        add(rigor, f"The {name}'s most specialized units have closer counterparts in other seeds than its average "
            "unit.", f"top-5 |corr| - all-unit |corr| with the Hungarian partner, {name}", ours, ctl)
    return rows


# ------------------------------------------------------------------------------------------------------ report
def provenance(args) -> dict:
    import torch

    return {"command": "python benchmarks/claims_report.py " + " ".join(sys.argv[1:]),
            "rnnscope": rnnscope.__version__, "torch": torch.__version__,
            "machine": f"{platform.machine()}, {args.workers} workers x 1 thread, {platform.python_version()}",
            "date": dt.date.today().isoformat()}


def summary_table(n: Numbers) -> pd.DataFrame:
    rows = []
    for (cell, control, metric), group in n.table.groupby(["cell", "control", "metric"], sort=False):
        summary = Numbers.summarise(group.set_index("seed")["value"].astype(float))
        rows.append({"metric": metric, "cell": cell, "control": control, "value": fmt(summary)})
    table = pd.DataFrame(rows).pivot_table(index=["metric", "cell"], columns="control", values="value",
                                           aggfunc="first")
    return table.reindex(columns=[c for c in CONTROLS if c in table.columns]).fillna("")


def report(n: Numbers, table: pd.DataFrame, meta: dict) -> str:
    lines = [
        "# The papers' claims on synthetic data, over seeds, with controls",
        "",
        "Generated by `benchmarks/claims_report.py`; re-create with:",
        "",
        "```",
        f".venv/bin/python benchmarks/claims_report.py --records {meta['records']} --epochs {meta['epochs']} "
        f"--hidden {meta['hidden']} --seeds {meta['seeds']} --workers {meta['workers']}",
        "```",
        "",
        f"Setup: `rnnscope.data.synthetic(n_records={meta['records']}, seed=0)`, paper features; one-layer vanilla "
        f"RNN, LSTM and GRU with {meta['hidden']} units, trained {meta['epochs']} epochs on three record folds of "
        f"four (the same split for every seed) and analysed on the held-out fold. Seeds {meta['seed_list']} (weights, "
        "batch order, validation split, label shuffles). For every seed and cell: the trained model, its untrained "
        "twin (same starting point) and a model trained on labels shuffled among segments. "
        f"Runtime {meta['seconds'] / 60:.0f} min ({meta['provenance']['machine']}; {meta['provenance']['date']}, "
        f"rnnscope {meta['provenance']['rnnscope']}, torch {meta['provenance']['torch']}).",
        "",
        "Numbers: mean over seeds [95 % Student-t interval of the mean]. Differences between two cells are paired by "
        "seed. Verdict: **supported** when the interval lies on the claimed side of the threshold (0 for a "
        "difference unless the claim says otherwise), **not supported** when it lies on the other side, "
        "**inconclusive** when it contains the threshold. A claim that also holds in a control is a property of "
        "the architecture (untrained) or of the segment structure (shuffled labels), not of learning the classes; "
        "the verdict says so.",
        "",
        "These are checks on synthetic data with small models, not a replication on the papers' real data: the "
        "papers' LSTM has 210 units and the vanilla RNN 140.",
        "",
        "| source | claim | quantity | ours | control | verdict |",
        "|---|---|---|---|---|---|",
    ]
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731  (a literal | would end a table cell)
    lines += ["| " + " | ".join(cell(r[k]) for k in ("source", "claim", "quantity", "ours", "control", "verdict"))
              + " |" for r in claims(n)]
    lines += [
        "",
        "## Definitions",
        "",
        "- polarization / sparsity: `rnnscope.analysis.activation_histogram(run, by=None)`: share of (frame, unit) "
        "values with |h| > 0.9 / |h| < 0.1 over valid test frames.",
        "- specialisation: `rnnscope.analysis.specialisation`: mean over units of (max-class heat - mean of the other "
        "classes) / (sum), heat = segment-weighted mean |h| (the paper's heat map).",
        "- pruning: `rnnscope.experiments.ablation_curve(model, test, rank_on=train, mode='zero')`: units ranked by "
        "mean |h| on the training records (activity) or drawn at random (5 draws, mean); relative loss = (full - "
        "pruned) / full accuracy; small model: a fresh model with 30 % of the units trained like the full one. The "
        "untrained control is left out (its accuracy is chance level, so ratios mean nothing).",
        "- distributions: `rnnscope.analysis.cell_distribution` (50 random units, seeded) via `analysis.compare`.",
        "- smoothness: `rnnscope.analysis.smoothness` of Tang's cell (LSTM `c`, GRU `h`), mean over test records.",
        f"- recovery: `rnnscope.experiments.noise_robustness` ({NOISE['duration']:g} s of white noise, std = "
        f"{NOISE['level']:g} x the record's, inserted into the waveform at {NOISE['start']:g} s) on up to "
        f"{NOISE_RECORDS} test records of at least 120 frames; `rnnscope.analysis.recovery_time` with threshold "
        f"{RECOVERY_THRESHOLD}; median over records, never recovered = {RECOVERY_CAP} frames.",
        f"- probes: `rnnscope.analysis.linear_probes(run, ['class', 'event'], var='h', max_frames={PROBE_FRAMES})`: "
        "logistic regression cross-validated by record, balanced accuracy; chance = the same score of a predictor "
        "that ignores the states.",
        f"- across seeds: `rnnscope.analysis.linear_cka` and `rnnscope.analysis.match_units` (Hungarian assignment "
        f"on |correlation|) between seed {meta['seed_list'][0]} and each other seed, on the same test frames; "
        f"top-5: the {TOP_UNITS} most selective units of seed {meta['seed_list'][0]}.",
        "- gate saturation: `rnnscope.analysis.gate_saturation` (share of gate values < 0.05 or > 0.95).",
        "",
        "## All numbers",
        "",
        "Mean [95 % interval] over seeds for every model; per-seed values in `docs/results/claims_seeds.csv`.",
        "",
        table.to_markdown() if _has_tabulate() else "```\n" + table.to_string() + "\n```",
        "",
    ]
    return "\n".join(lines)


def _has_tabulate() -> bool:
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None


# -------------------------------------------------------------------------------------------------------- main
def compute(args) -> tuple[pd.DataFrame, float]:
    t0 = time.perf_counter()
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=args.records, seed=0))
    train, test = split(frames)
    print(f"data: {frames.sizes['event']} records ({train.sizes['event']} train, {test.sizes['event']} test)")
    cfg = {"hidden": args.hidden, "epochs": args.epochs}
    payloads = [(cell, seed, cfg, train, test) for seed in range(args.seeds) for cell in CELLS]
    rows, runs = [], {}
    if args.workers > 1:
        pool = ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"))
        results = pool.map(seed_task, payloads)
    else:
        pool, results = None, map(seed_task, payloads)
    try:
        for (cell, seed, *_), (task_rows, task_runs) in zip(payloads, results):
            rows += task_rows
            for control, run in task_runs.items():
                runs.setdefault((cell, control), {})[seed] = run
            acc = next(r["value"] for r in task_rows if r["control"] == "trained" and r["metric"] == "accuracy")
            print(f"{cell} seed {seed}: test accuracy {acc:.3f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    finally:
        if pool is not None:
            pool.shutdown()
    rows += similarity_rows(runs)
    return pd.DataFrame(rows), time.perf_counter() - t0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=120)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: 40 records, 2 epochs, 2 seeds")
    parser.add_argument("--from-csv", action="store_true", help="rewrite the report from claims_seeds.csv")
    parser.add_argument("--out", default=str(ROOT / "docs" / "claims.md"))
    parser.add_argument("--results", default=str(ROOT / "docs" / "results"))
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.epochs, args.seeds = 40, 2, 2
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    seeds_csv = results / "claims_seeds.csv"
    if args.from_csv:
        table = pd.read_csv(seeds_csv)
        meta = json.loads((results / "claims_meta.json").read_text())
    else:
        table, seconds = compute(args)
        meta = {"records": args.records, "epochs": args.epochs, "hidden": args.hidden, "seeds": args.seeds,
                "workers": args.workers, "seed_list": list(range(args.seeds)), "seconds": seconds,
                "provenance": provenance(args)}
        table.to_csv(seeds_csv, index=False)
        (results / "claims_meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    numbers = Numbers(table)
    claim_rows = pd.DataFrame(claims(numbers))
    claim_rows.assign(**{k: v for k, v in meta["provenance"].items()}).to_csv(results / "claims.csv", index=False)
    Path(args.out).write_text(report(numbers, summary_table(numbers), meta))
    print(claim_rows[["source", "quantity", "ours", "verdict"]].to_string(index=False))
    print(f"wrote {args.out}, {results / 'claims.csv'} and {seeds_csv}")


if __name__ == "__main__":
    main()

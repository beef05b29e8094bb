"""Check the papers' claims on the synthetic data over seeds and data splits, with controls; write ``docs/claims.md``.

For every seed ``s`` and every cell (vanilla RNN, LSTM, GRU; one layer, same hidden size) the script trains

- the **trained** model (:func:`rnnscope.train.fit_many`, seed ``s``) on three record folds of four;
- its **untrained** twin (:func:`rnnscope.experiments.untrained_like`: the same architecture and starting point, no
  training): what the architecture gives for free;
- a model trained with seed ``s`` on **shuffled labels** (:func:`rnnscope.experiments.shuffle_labels`: the classes are
  permuted among segments): the segment structure of the input without the link between signal and class.

Each is captured on the held-out fold and measured with :mod:`rnnscope.analysis` and :mod:`rnnscope.experiments`
(polarization, specialisation, test-time pruning, cell-value distributions, smoothness, recovery after noise, linear
probes, gate saturation); across seeds: linear CKA and unit matching. The main split (test fold 1) gets
``--seeds`` seeds and every measurement; the other ``--splits`` - 1 splits (test folds 2, 3, 4) get ``--split-seeds``
seeds and the measurements of the headline claims, so the data split enters as a second source of variance.

Training is :func:`rnnscope.train.fit`'s default: balanced class weights, no validation split (no early stopping),
a fixed number of epochs.

Every number is summarised over seeds with :func:`rnnscope.analysis.across_seeds` (mean and Student-t 95 %
interval: seeds are independent repetitions on one split); over data splits with
:func:`rnnscope.train.corrected_interval` (the test folds' training sets overlap by two thirds, so the plain
interval is too narrow: Nadeau & Bengio's corrected resampled t). Each claim gets a verdict (defined once, in
:func:`verdict`; the report's "How to read the verdicts" section says it in words):

- **supported** / **not supported**: the interval over seeds (main split) lies entirely on the claimed / the other
  side of the claim's threshold, and so does the interval over splits for the headline claims;
- **inconclusive**: an interval contains the threshold;
- the report states how many claims it tests; the intervals are at 95 % each, not adjusted for that number, unless
  ``--bonferroni`` sets every interval to ``1 - 0.05 / k`` for ``k`` claims;
- for a supported claim only, where the effect comes from, read from the **share** of the trained effect that each
  control reproduces (:func:`origin`): "architecture", "mostly input structure", "mostly learning" or "mixed".
  Shares of an effect that is not shown mean nothing and are not printed.

Scores with a chance level: where :mod:`rnnscope.analysis` offers a permutation null (``null=N``: variables
``<score>_null_mean``, ``<score>_null_q95``, ``<score>_p``), the script asks for it (``--null``, ``--probe-null``)
and reports each score against its null ("Scores against chance", and claims that a score exceeds its null's 95 %
quantile); with an analysis that has no ``null=`` yet, those rows are simply absent.

Writes ``docs/claims.md``, ``docs/results/claims_seeds.csv`` (every number of every model, seed and split, tidy) and
``docs/results/claims.csv`` (the claims table; notebooks 02 and 03 read it).

Run: ``.venv/bin/python benchmarks/claims_report.py`` (defaults: ``--records 120 --epochs 20 --hidden 64 --seeds 5
--splits 4 --split-seeds 3 --null 200 --probe-null 20 --workers 2``). ``--quick`` is a smoke run; ``--from-csv``
rewrites the report from ``claims_seeds.csv`` without training.
"""
from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

import rnnscope
from rnnscope import analysis
from rnnscope.data import select_records

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _claims_verdicts import (  # noqa: E402, F401  (benchmarks/_claims_verdicts.py: the verdict rules, all here)
    ORIGINS,
    SHARE_MOST,
    Claim,
    Numbers,
    evaluate,
    fmt,
    fmt_share,
    origin,
    share,
    share_level,
    side,
    verdict,
)

ROOT = Path(__file__).resolve().parents[1]
CELLS = ("rnn", "lstm", "gru")
CONTROLS = ("trained", "untrained", "shuffled_labels")
FRACTIONS = (1.0, 0.3, 0.2, 0.1)
NOISE = {"start": 15.0, "duration": 5.0, "noise_level": 1.0, "how": "insert", "where": "waveform"}
RECOVERY_THRESHOLD = 0.1
RECOVERY_CAP = 100  # frames: a record that never recovers counts as this many frames (50 s)
NOISE_RECORDS = 6
PROBE_FRAMES = 3000
PROBE_FOLDS = 5  # the folds these numbers were measured with (linear_probes defaults to 4, as cross_validate)
PROBE_TARGETS = ["class", "event", "time_since_onset", "band_energy"]
TOP_UNITS = 5
THRESHOLD_LEVELS = (0.1, 0.2)  # pruning by activity threshold: units reaching 90 % / 80 % of the top activity
#: What a score's permutation null adds (``analysis.specialisation(run, null=N)`` and the like).
NULL_SUFFIXES = ("_null_mean", "_null_q95", "_p")
#: Scores reported against their null where the analysis gives one: per-seed metric -> its name in the report.
NULL_SCORES = {"specialisation_gap": "specialisation gap (top - rest heat)",
               "specialisation": "specialisation (top - rest) / (top + rest)",
               **{f"probe_{t}": f"probe, {t}" for t in PROBE_TARGETS}}


# ----------------------------------------------------------------------------------------------- data and tasks
def split(frames, fold=0):
    """Three record folds of four for training, fold ``fold`` for analysis (rnnscope.train.record_folds, seed 0)."""
    lengths = frames["length"].values
    labels = [frames["label"].values[i, : lengths[i]] for i in range(frames.sizes["event"])]
    test = rnnscope.train.record_folds(labels, folds=4, seed=0)[fold]
    train = np.setdiff1d(np.arange(frames.sizes["event"]), test)
    return select_records(frames, train), select_records(frames, test)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty classes, never-recovered records
        return fn(*args, **kwargs)


def null_kwargs(fn, permutations: int, seed: int) -> dict:
    """``null=permutations`` (and ``seed``) for an analysis that offers a permutation null; {} for one that does
    not (yet), or for ``permutations=0``."""
    params = inspect.signature(fn).parameters
    if not permutations or "null" not in params:
        return {}
    return {"null": int(permutations), **({"seed": seed} if "seed" in params else {})}


def null_numbers(result, score: str, name: str, select=lambda v: v) -> dict:
    """``<name>_null_mean``, ``<name>_null_q95``, ``<name>_p`` of ``result`` where it has ``<score>_p`` (an analysis
    called with ``null=N``); {} otherwise."""
    if f"{score}_p" not in result:
        return {}
    return {f"{name}{suffix}": float(select(result[f"{score}{suffix}"])) for suffix in NULL_SUFFIXES}


def _run_numbers(run, seed, null: int = 0, probe_null: int = 0) -> dict:
    """Numbers of one captured test run (one model); with ``null`` / ``probe_null`` permutations, the scores'
    nulls where the analyses offer them."""
    row = _quiet(analysis.compare, {"run": run}, seed=seed).iloc[0]
    names = ["accuracy", "polarization", "sparsity", "specialisation", "smoothness", "lstm_c_inside_2",
             "gru_h_outside_0_7"]
    out = {n: float(row[n]) for n in names if n in row and np.isfinite(float(row[n]))}
    spec = _quiet(analysis.specialisation, run, **null_kwargs(analysis.specialisation, null, seed))
    out["specialisation_gap"] = float(spec["specialisation_gap"].isel(layer=0))
    for score in ("specialisation_gap", "specialisation"):
        out.update(null_numbers(spec, score, score, lambda v: v.isel(layer=0)))
    probe_kwargs = {"targets": PROBE_TARGETS, "var": "h", "folds": PROBE_FOLDS, "max_frames": PROBE_FRAMES,
                    "seed": seed,
                    **null_kwargs(analysis.linear_probes, probe_null, seed)}
    probes = _quiet(analysis.linear_probes, run, **probe_kwargs)
    for _, p in probes.iterrows():
        out[f"probe_{p.target}"] = float(p.score)
        out[f"probe_{p.target}_chance"] = float(p.chance)
        out.update(null_numbers(p, "score", f"probe_{p.target}"))
    if any(v in run for v in analysis.GATE_VARIABLES):
        sat = analysis.gate_saturation(run)["saturation"].isel(layer=0)
        for var in sat["variable"].values:
            out[f"saturation_{var}"] = float(sat.sel(variable=var))
    return out


def _ablation_numbers(model, train, test, seed, small_epochs: int | None) -> dict:
    """Test-time pruning numbers; ``small_epochs``: also train a model with 30 % of the units (None: skip)."""
    rankings = ["activity", "random"]
    table = _quiet(rnnscope.experiments.ablation_curve, model, test, fractions=FRACTIONS, ranking=rankings,
                   rank_on=train, repeats=5, seed=seed, threads=1, device="cpu")

    def acc(ranking, fraction):
        row = table[(table.ranking == ranking) & np.isclose(table.fraction, fraction)]
        return float(row.accuracy.iloc[0])

    full = acc("activity", 1.0)
    out = {"full_accuracy": full, **{f"activity_{int(f * 100)}": acc("activity", f) for f in FRACTIONS[1:]},
           "random_20": acc("random", 0.2)}
    out["retention_activity_20"] = out["activity_20"] / full
    out["retention_activity_10"] = out["activity_10"] / full
    out["random_loss_20"] = (full - out["random_20"]) / full
    by_threshold = _quiet(rnnscope.experiments.ablation_curve, model, test, fractions=THRESHOLD_LEVELS,
                          ranking="activity", rank_on=train, selection="threshold", seed=seed, threads=1, device="cpu")
    for level, n_units, accuracy in zip(THRESHOLD_LEVELS, by_threshold.n_units, by_threshold.accuracy, strict=True):
        out[f"threshold_{int(level * 100)}_kept_share"] = float(n_units) / model.hidden_size
        out[f"threshold_{int(level * 100)}"] = float(accuracy)
    if small_epochs is not None:
        small_table = _quiet(rnnscope.experiments.ablation_curve, model, test, fractions=(0.3,), ranking="small_model",
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
        clean, noisy = rnnscope.experiments.noise_robustness(model, test, event=e, seed=seed + e, threads=1,
                                                               device="cpu", **NOISE)
        rec = _quiet(analysis.recovery_time, analysis.perturbation(clean, noisy), threshold=RECOVERY_THRESHOLD)
        value = float(rec.values[0])
        times.append(RECOVERY_CAP if not np.isfinite(value) else min(value, RECOVERY_CAP))
    return float(np.median(times)) if times else float("nan")


def _h_only(run):
    drop = [v for v in run.data_vars if (v in rnnscope.schema.STATE_VARIABLES and v != "h")
            or v.startswith("summary_")]
    return run.drop_vars(drop)


def seed_task(payload) -> tuple[list[dict], dict]:
    """Everything about one (cell, seed, split): three models, their numbers, and the test runs' ``h`` for CKA.

    On the main split (``full``) every measurement; on the other splits only those of the headline claims.
    """
    import torch

    cell, seed, fold, full, cfg, train, test = payload
    torch.set_num_threads(1)
    make = partial(rnnscope.models.RNNClassifier, cell, input_size=train.sizes["feature"], hidden_size=cfg["hidden"],
                   num_classes=len(train.attrs["class_names"]), class_names=list(train.attrs["class_names"]))
    fit_kwargs = {"epochs": cfg["epochs"], "threads": 1, "progress": False}
    trained = rnnscope.train.fit_many(make, train, seeds=[seed], **fit_kwargs)[0]
    shuffled_data = rnnscope.experiments.shuffle_labels(train, seed=seed)
    shuffled = rnnscope.train.fit_many(make, shuffled_data, seeds=[seed], **fit_kwargs)[0]
    untrained = rnnscope.experiments.untrained_like(trained, seed=seed)
    rows, runs = [], {}
    for control, model in zip(CONTROLS, (trained, untrained, shuffled), strict=True):
        run = rnnscope.capture(model, test, progress=False, device="cpu")
        numbers = _run_numbers(run, seed, cfg.get("null", 0), cfg.get("probe_null", 0) if full else 0)
        if full and cell in ("rnn", "lstm") and control != "untrained":
            numbers.update(_ablation_numbers(model, train, test, seed,
                                              cfg["epochs"] if control == "trained" else None))
        if full and cell in ("lstm", "gru") and control != "shuffled_labels":
            numbers["recovery_median"] = _recovery_median(model, test, seed)
        rows += [{"cell": cell, "control": control, "seed": seed, "split": fold, "metric": k, "value": v}
                 for k, v in numbers.items()]
        if full and control != "shuffled_labels":
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
                rows.append({"cell": cell, "control": control, "seed": other, "split": 0, "metric": metric,
                             "value": value})
    return rows


# ------------------------------------------------------------------------------------------------------ claims
TITOS, TANG, RIGOR = "Titos & Garcia 2022", "Tang, Shi & Wang", "rnnscope (rigor)"
PROBE_NAMES = {"class": ("the class", "balanced accuracy"), "event": ("inside an event", "balanced accuracy"),
               "time_since_onset": ("the time since the event's onset", "R²"),
               "band_energy": ("the input's band energies", "R²")}


def claim_list(n: Numbers) -> list[Claim]:
    out = [
        Claim(f"{TITOS}, Sec. V-A, Figs. 4-5", "The vanilla RNN is more polarized (activations near ±1) than the LSTM.",
              "P(|h| > 0.9): vanilla - LSTM", "rnn", "polarization", "lstm", headline=True),
        Claim(f"{TITOS}, Sec. V-A, Figs. 4-5", "LSTM units sit near 0 more often than vanilla units.",
              "P(|h| < 0.1): LSTM - vanilla", "lstm", "sparsity", "rnn", headline=True),
        Claim(f"{TITOS}, Secs. V-A, VI-A", "The LSTM is more specialized (units respond to one class more than to "
              "the others, whatever their resting level) than the vanilla RNN.",
              "specialisation gap (top - rest heat, baseline-free): LSTM - vanilla", "lstm", "specialisation_gap",
              "rnn", headline=True),
        Claim(f"{TITOS}, Secs. V-A, VI-A", "LSTM units are more exclusively active for one class than vanilla units "
              "(relative index: falls mechanically when |h| is high for every class, as in polarised units).",
              "specialisation (top - rest) / (top + rest): LSTM - vanilla", "lstm", "specialisation", "rnn",
              headline=True),
        Claim(f"{TITOS}, Sec. VI-B, Fig. 10", "A specialized LSTM keeps high accuracy (>= 90 %) with 20 % of its "
              "units (kept by activity).", "accuracy with 20 % / all units, LSTM", "lstm", "retention_activity_20",
              threshold=0.9, controls=("shuffled_labels",)),
        Claim(f"{TITOS}, Sec. VI-B, Fig. 10", "Random dropout (20 % of units kept) hurts the specialized LSTM more "
              "than the vanilla RNN.", "relative accuracy lost: LSTM - vanilla", "lstm", "random_loss_20", "rnn",
              controls=("shuffled_labels",)),
        Claim(f"{TITOS}, Sec. VI-B, Fig. 10", "With the threshold reading of the pruning (units reaching 90 % of the "
              "top activity), the vanilla RNN keeps a larger share of its units than the LSTM.",
              "share of units kept at the 90 % threshold: vanilla - LSTM", "rnn", "threshold_10_kept_share", "lstm",
              controls=("shuffled_labels",)),
        Claim(f"{TITOS}, Sec. VI-B, Fig. 10", "An LSTM pruned at test time to 30 % of its units (by activity) does "
              "about as well as (within 0.02) or better than an LSTM trained with that few units.",
              "accuracy: pruned - trained small, LSTM", "lstm", "pruned_minus_small_30", threshold=-0.02,
              controls=(), note=f"vanilla RNN: {fmt(n.stats('rnn', 'trained', 'pruned_minus_small_30'))}"),
    ]
    for target, (what, score) in PROBE_NAMES.items():
        circular = (" Near circular: the classifier's head is a linear readout of h, so this mostly restates the "
                    "accuracy gap." if target == "class" else "")
        out.append(Claim(f"{TITOS}, Sec. VI-A" if target == "class" else RIGOR,
                         f"LSTM states encode {what} better than vanilla states (linear probe).{circular}",
                         f"probe {score}, {what}: LSTM - vanilla", "lstm", f"probe_{target}", "rnn", headline=True))
    out += [
        Claim(
            f"{TANG}, Sec. 4.1, Figs. 1-3",
            "Most LSTM cell values lie inside (-2, 2).",
            "share of c in (-2, 2), LSTM",
            "lstm",
            "lstm_c_inside_2",
            threshold=0.5,
            headline=True,
        ),
        Claim(
            f"{TANG}, Sec. 4.1, Figs. 1-3",
            "Most GRU cell values lie near ±1 (outside (-0.7, 0.7)).",
            "share of h outside (-0.7, 0.7), GRU",
            "gru",
            "gru_h_outside_0_7",
            threshold=0.5,
            headline=True,
        ),
        Claim(
            f"{TANG}, Sec. 4.3, Fig. 7",
            "LSTM temporal traces are smoother than GRU's.",
            "smoothness (lower = smoother): GRU h - LSTM c, same records",
            "gru",
            "smoothness",
            "lstm",
            headline=True,
        ),
        Claim(
            f"{TANG}, Sec. 4.4, Fig. 8",
            "After a noise insertion the GRU recovers faster than the LSTM.",
            "median recovery (frames): LSTM - GRU",
            "lstm",
            "recovery_median",
            "gru",
            controls=("untrained",),
        ),
    ]
    for target in ("class", "time_since_onset"):
        what, score = PROBE_NAMES[target]
        out.append(Claim(RIGOR, f"Training makes {what} more linearly decodable from the LSTM's h than in its "
                         "untrained twin." + (" Near circular for the class (the head is trained to read it)."
                                              if target == "class" else ""),
                         f"probe {score}, {what}: trained - untrained, LSTM", "lstm", f"probe_{target}", "lstm",
                         b_control="untrained", controls=(),
                         note=f"untrained: {fmt(n.stats('lstm', 'untrained', f'probe_{target}'))}; shuffled: "
                              f"{fmt(n.stats('lstm', 'shuffled_labels', f'probe_{target}'))}; trained: "
                              f"{fmt(n.stats('lstm', 'trained', f'probe_{target}'))}; chance: "
                              f"{fmt(n.stats('lstm', 'trained', f'probe_{target}_chance'))}"))
    out.append(Claim(RIGOR, "Training makes the state spaces of LSTMs of different seeds more alike than their "
                     "untrained twins.", "linear CKA between seeds: trained - untrained, LSTM", "lstm", "cka_seed0",
                     "lstm", b_control="untrained", controls=(),
                     note=f"untrained CKA: {fmt(n.stats('lstm', 'untrained', 'cka_seed0'))}; trained CKA: "
                          f"{fmt(n.stats('lstm', 'trained', 'cka_seed0'))}"))
    for cell, name in (("lstm", "LSTM"), ("rnn", "vanilla")):
        out.append(Claim(RIGOR, f"The {name}'s most specialized units have closer counterparts in other seeds than "
                         "its average unit.", f"top-5 |corr| - all-unit |corr| with the Hungarian partner, {name}",
                         cell, "top5_match", cell, "unit_match", controls=("untrained",)))
    return out + null_claims(n)


def null_claims(n: Numbers) -> list[Claim]:
    """Claims that a trained model's score exceeds its permutation null, for the scores whose analysis gave one."""
    out = []
    for cell, name in (("lstm", "LSTM"), ("rnn", "vanilla RNN"), ("gru", "GRU")):
        if not n.has("specialisation_gap_null_q95"):
            break
        excess = {c: fmt(n.stats(cell, c, "specialisation_gap", minus=(cell, "specialisation_gap_null_q95")))
                  for c in ("untrained", "shuffled_labels")}
        out.append(Claim(
            RIGOR, f"The trained {name}'s specialisation gap is above chance: above the 95 % quantile of its null "
            "(class labels permuted among the segments of each record).",
            f"specialisation gap - null 95 % quantile, {name}", cell, "specialisation_gap", cell,
            "specialisation_gap_null_q95", controls=(), headline=True,
            note=f"gap {fmt(n.stats(cell, 'trained', 'specialisation_gap'))}, null mean "
                 f"{fmt(n.stats(cell, 'trained', 'specialisation_gap_null_mean'))}, p < 0.05 in "
                 f"{below(n, cell, 'trained', 'specialisation_gap_p')} seeds; untrained: {excess['untrained']}; "
                 f"shuffled: {excess['shuffled_labels']}"))
    return out


def below(n: Numbers, cell, control, metric, level=0.05) -> str:
    """'k of m': the seeds of the main split whose p-value is below ``level``."""
    p = n.values(cell, control, metric).dropna()
    return f"{int((p < level).sum())} of {len(p)}"


def chance_table(n: Numbers) -> pd.DataFrame | None:
    """Every score that has a permutation null, per cell and model: mean over seeds [interval], its null's mean and
    95 % quantile (means over seeds) and the seeds with p < 0.05; None when no analysis gave a null."""
    rows = []
    for metric, label in NULL_SCORES.items():
        if not n.has(f"{metric}_p"):
            continue
        for cell in CELLS:
            for control in CONTROLS:
                score = n.values(cell, control, metric).dropna()
                if score.empty:
                    continue
                rows.append({"score": label, "cell": cell, "model": control,
                             "score (seeds)": fmt(n.summarise(score)),
                             "null mean": f"{n.values(cell, control, f'{metric}_null_mean').mean():.3f}",
                             "null 95 %": f"{n.values(cell, control, f'{metric}_null_q95').mean():.3f}",
                             "p < 0.05": below(n, cell, control, f"{metric}_p")})
    return pd.DataFrame(rows) if rows else None


def claims(n: Numbers) -> list[dict]:
    return [evaluate(n, c) for c in claim_list(n)]


# ------------------------------------------------------------------------------------------------------ report
def provenance(args) -> dict:
    import torch

    return {"command": "python benchmarks/claims_report.py " + " ".join(sys.argv[1:]),
            "rnnscope": rnnscope.__version__, "torch": torch.__version__,
            "machine": f"{platform.machine()}, {args.workers} workers x 1 thread, {platform.python_version()}",
            "date": dt.date.today().isoformat()}


def summary_table(n: Numbers) -> pd.DataFrame:
    rows = []
    main_split = n.table[n.table.split == 0]
    for (cell, control, metric), group in main_split.groupby(["cell", "control", "metric"], sort=False):
        summary = Numbers.summarise(group.set_index("seed")["value"].astype(float))
        rows.append({"metric": metric, "cell": cell, "control": control, "value": fmt(summary)})
    table = pd.DataFrame(rows).pivot_table(index=["metric", "cell"], columns="control", values="value",
                                           aggfunc="first")
    return table.reindex(columns=[c for c in CONTROLS if c in table.columns]).fillna("")


HOW_TO_READ = [
    "## How to read the verdicts",
    "",
    "- **ours**: the claimed quantity of the trained models, mean over seeds [95 % Student-t interval of the mean], "
    "on the main data split (one test fold). Differences between two cells are paired by seed. This interval covers "
    "the variance between *seeds* (initial weights, batch order, label shuffles) on *one* data split only.",
    "- **over splits** (headline claims): the data split as a second source of variance. The claim is measured on "
    "every test fold of the 4-fold split (fewer seeds on the other folds); each split's mean over its seeds, then "
    "the corrected resampled t interval over splits (Nadeau & Bengio 2003, `rnnscope.train.corrected_interval`): "
    "the splits' training sets share two thirds of their records, so their results are correlated and the plain "
    "Student-t interval would be too narrow (variance factor 1/k + 1/3 instead of 1/k).",
    "- **supported** / **not supported**: the interval over seeds, and for headline claims the interval over splits "
    "too, lies entirely on the claimed / the other side of the threshold (0 for a difference unless the claim says "
    "otherwise). **inconclusive**: an interval contains the threshold (\"inconclusive; supported over seeds on one "
    "split, not over splits\" names the case where only the split interval does).",
    "- **control** and **share**: the same quantity for the untrained twins (the architecture alone) and for models "
    "trained on labels shuffled among segments (the input's segment structure without the classes), and, for a "
    "supported claim only, the share of the trained effect each reproduces, seed by seed: "
    "`(control - threshold) / (trained - threshold)` (100 %: the control shows all of it; above 100 %: more). The "
    "share of an effect that is not shown is a ratio of noise and is not printed.",
    f"- what a supported effect comes from, from the shares (a share counts as *most* when its interval lies at or "
    f"above {SHARE_MOST:.0%}, as *little* when it lies below): **architecture** when the untrained twin reproduces "
    "most of it; else **mostly input structure** when the shuffled-label models do; else **mostly learning** when "
    "every control reproduces little (**not the architecture** when only the untrained control exists); else "
    "**mixed**. Only \"mostly learning\" says that learning the classes is what makes the effect.",
    "- A claim about a linear probe of the *class* is near circular: the head of every classifier is a linear "
    "readout of `h`, so a better class probe mostly restates a better accuracy. The probes of targets the model is "
    "not trained on (inside an event, time since onset, band energies) carry the claim that one architecture's "
    "states *encode* more.",
    "",
]


def report(n: Numbers, table: pd.DataFrame, meta: dict) -> str:
    splits = meta.get("splits", 1)
    lines = [
        "# The papers' claims on synthetic data, over seeds and splits, with controls",
        "",
        "Generated by `benchmarks/claims_report.py`; re-create with:",
        "",
        "```",
        f".venv/bin/python benchmarks/claims_report.py --records {meta['records']} --epochs {meta['epochs']} "
        f"--hidden {meta['hidden']} --seeds {meta['seeds']} --splits {splits} --split-seeds "
        f"{meta.get('split_seeds', 0)}"
        + (f" --null {meta['null']} --probe-null {meta['probe_null']}" if "null" in meta else "")
        + (" --bonferroni" if n.confidence > 0.95 + 1e-9 else "")
        + f" --workers {meta['workers']}",
        "```",
        "",
        f"Setup: `rnnscope.data.synthetic(n_records={meta['records']}, seed=0)`, paper features; one-layer vanilla "
        f"RNN, LSTM and GRU with {meta['hidden']} units, trained {meta['epochs']} epochs on three record folds of "
        "four and analysed on the held-out fold. Training is `rnnscope.train.fit`'s default: balanced class weights "
        "(every class weighs as much in the loss as the background), no validation split and no early stopping "
        "(the last epoch's weights). "
        f"Main split (test fold 1): seeds {meta['seed_list']} (weights, batch order, label shuffles), every "
        "measurement. "
        + (
            f"Other splits (test folds 2 to {splits}): seeds {list(range(meta.get('split_seeds', 0)))}, the "
            "measurements of the headline claims. "
            if splits > 1
            else ""
        )
        + "For every seed and cell: the trained model, its untrained twin (same starting point) and a model trained "
        f"on labels shuffled among segments. Runtime {meta['seconds'] / 60:.0f} min ({meta['provenance']['machine']}; "
        f"{meta['provenance']['date']}, rnnscope {meta['provenance']['rnnscope']}, torch "
        f"{meta['provenance']['torch']}).",
        "",
        "These are checks on synthetic data with small models, not a replication on the papers' real data: the "
        "papers' LSTM has 210 units and the vanilla RNN 140.",
        "",
        *HOW_TO_READ,
        "## Claims",
        "",
        "| source | claim | quantity | ours (seeds, one split) | over splits | control (share of the effect) "
        "| verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    cell = lambda text: str(text).replace("|", "\\|")  # noqa: E731  (a literal | would end a table cell)
    keys = ("source", "claim", "quantity", "ours", "over splits", "control", "verdict")
    rows = claims(n)
    lines += ["| " + " | ".join(cell(r[k]) for k in keys) + " |" for r in rows]
    lines += ["", comparisons_note(len(rows), n.confidence)]
    lines += chance_section(n, meta)
    lines += [
        "",
        "## Definitions",
        "",
        "The readings behind these definitions, and where rnnscope deviates from the papers, are in "
        "`docs/definitions.md`.",
        "",
        "- polarization / sparsity: `rnnscope.analysis.activation_histogram(run, per=None)`: share of (frame, unit) "
        "values with |h| > 0.9 / |h| < 0.1 over valid test frames.",
        "- specialisation: `rnnscope.analysis.specialisation`, heat = segment-weighted mean |h| (the paper's heat "
        "map), top = the unit's largest class heat, rest = the mean of the other classes; gap (baseline-free) = mean "
        "over units of top - rest; relative index = mean over units of (top - rest) / (top + rest), which falls when "
        "every class's heat gets the same offset (polarised units score low whatever their class contrast).",
        "- pruning: `rnnscope.experiments.ablation_curve(model, test, rank_on=train, mode='zero')`: units ranked by "
        "mean |h| on the training records (activity) or drawn at random (5 draws, mean); relative loss = (full - "
        "pruned) / full accuracy; small model: a fresh model with 30 % of the units trained like the full one. "
        "Threshold reading (`selection='threshold'`): the units whose activity reaches 90 % of the layer's top "
        "activity. The untrained control is left out (its accuracy is chance level, so ratios mean nothing).",
        "- distributions: `rnnscope.analysis.cell_distribution` (50 random units, seeded) via `analysis.compare`.",
        "- smoothness: `rnnscope.analysis.smoothness` of Tang's cell (LSTM `c`, GRU `h`), mean over test records. "
        "It depends on a record's length (3 / (n + 1) for a straight path of n frames); every cell and control is "
        "measured on the same test records, so the comparison is at equal lengths.",
        f"- recovery: `rnnscope.experiments.noise_robustness` ({NOISE['duration']:g} s of white noise, std = "
        f"{NOISE['noise_level']:g} x the record's, inserted into the waveform at {NOISE['start']:g} s) on up to "
        f"{NOISE_RECORDS} test records of at least 120 frames; `rnnscope.analysis.recovery_time` with threshold "
        f"{RECOVERY_THRESHOLD}; median over records, never recovered = {RECOVERY_CAP} frames.",
        f"- probes: `rnnscope.analysis.linear_probes(run, targets={PROBE_TARGETS}, var='h', folds={PROBE_FOLDS}, "
        f"max_frames={PROBE_FRAMES})`: "
        "logistic regression (class, inside an event: balanced accuracy) or ridge regression (time since onset, "
        "band energies: R²) cross-validated by record; chance = the same score of a predictor that ignores the "
        "states.",
        f"- across seeds: `rnnscope.analysis.linear_cka` and `rnnscope.analysis.match_units` (Hungarian assignment "
        f"on |correlation|) between seed {meta['seed_list'][0]} and each other seed, on the same test frames; "
        f"top-5: the {TOP_UNITS} most selective units of seed {meta['seed_list'][0]}.",
        "- gate saturation: `rnnscope.analysis.gate_saturation` (share of gate values < 0.05 or > 0.95).",
        "",
        "## All numbers",
        "",
        "Mean [95 % interval] over seeds for every model on the main split; per-seed values of every split in "
        "`docs/results/claims_seeds.csv`.",
        "",
        table.to_markdown() if _has_tabulate() else "```\n" + table.to_string() + "\n```",
        "",
    ]
    return "\n".join(lines)


def comparisons_note(k: int, confidence: float) -> str:
    """How many claims the table tests, and whether its intervals are adjusted for that number."""
    if abs(confidence - 0.95) < 1e-9:
        return (f"{k} claims, each judged on its own 95 % intervals, not adjusted for their number: if none of the "
                f"effects existed, about 5 % of the claims (about {0.05 * k:.1f} of {k}) would still come out "
                "supported or not supported by chance. `--bonferroni` sets every interval to 1 - 0.05 / "
                f"{k} (Bonferroni over the claims).")
    return (f"{k} claims; every interval is at {100 * confidence:.2f} % = 1 - 0.05 / {k} (Bonferroni over the "
            "claims), so the chance that any claim gets a verdict although its effect does not exist is at most 5 %.")


def chance_section(n: Numbers, meta: dict) -> list[str]:
    """The "Scores against chance" section: every score whose analysis gave a permutation null (none: a note)."""
    table = chance_table(n)
    head = ["", "## Scores against chance", ""]
    if table is None:
        return head + ["No analysis gave a permutation null for these numbers (run with an rnnscope whose "
                       "`analysis.specialisation` and `analysis.linear_probes` take `null=`): the selectivity numbers "
                       "above carry no chance level.", ""]
    return head + [
        f"Each score next to its null: the same score with the class labels permuted among the segments of each "
        f"record ({meta.get('null', 'N')} permutations; probes {meta.get('probe_null', 'N')}, main split only), "
        "mean over seeds of the null's mean and 95 % quantile, and the number of seeds whose p-value is below "
        "0.05. A score inside its null says nothing about the network.", "",
        table.to_markdown(index=False) if _has_tabulate() else "```\n" + table.to_string(index=False) + "\n```", ""]


def _has_tabulate() -> bool:
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None


# -------------------------------------------------------------------------------------------------------- main
def compute(args) -> tuple[pd.DataFrame, float]:
    t0 = time.perf_counter()
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=args.records, seed=0))
    cfg = {"hidden": args.hidden, "epochs": args.epochs, "null": args.null, "probe_null": args.probe_null}
    payloads = []
    for fold in range(args.splits):
        train, test = split(frames, fold)
        args.fold_records.append((int(train.sizes["event"]), int(test.sizes["event"])))
        print(f"split {fold}: {train.sizes['event']} train, {test.sizes['event']} test records")
        seeds = range(args.seeds) if fold == 0 else range(args.split_seeds)
        payloads += [(cell, seed, fold, fold == 0, cfg, train, test) for seed in seeds for cell in CELLS]
    rows, runs = [], {}
    if args.workers > 1:
        pool = ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"))
        results = pool.map(seed_task, payloads)
    else:
        pool, results = None, map(seed_task, payloads)
    try:
        for (cell, seed, fold, *_), (task_rows, task_runs) in zip(payloads, results, strict=True):
            rows += task_rows
            for control, run in task_runs.items():
                runs.setdefault((cell, control), {})[seed] = run
            acc = next(r["value"] for r in task_rows if r["control"] == "trained" and r["metric"] == "accuracy")
            print(f"{cell} seed {seed} split {fold}: test accuracy {acc:.3f} ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
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
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the main split")
    parser.add_argument("--splits", type=int, default=4, help="test folds measured (1: the main split only)")
    parser.add_argument("--split-seeds", type=int, default=3, help="seeds of every other split")
    parser.add_argument("--null", type=int, default=200,
                        help="permutations of the selectivity nulls (where the analysis offers null=; 0: none)")
    parser.add_argument("--probe-null", type=int, default=20,
                        help="permutations of the probes' nulls, main split only (0: none)")
    parser.add_argument("--bonferroni", action="store_true",
                        help="every interval at 1 - 0.05 / (number of claims) instead of 95 %%")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: 40 records, 2 epochs, 2 seeds, 2 splits")
    parser.add_argument("--from-csv", action="store_true", help="rewrite the report from claims_seeds.csv")
    parser.add_argument("--out", default=str(ROOT / "docs" / "claims.md"))
    parser.add_argument("--results", default=str(ROOT / "docs" / "results"))
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.epochs, args.seeds, args.splits, args.split_seeds = 40, 2, 2, 2, 2
        args.null, args.probe_null = min(args.null, 20), min(args.probe_null, 3)
    args.fold_records = []
    if not 1 <= args.splits <= 4:
        parser.error(f"--splits must be between 1 and 4 (test folds of a 4-fold split). Got {args.splits}.")
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    seeds_csv = results / "claims_seeds.csv"
    if args.from_csv:
        table = pd.read_csv(seeds_csv)
        meta = json.loads((results / "claims_meta.json").read_text())
    else:
        table, seconds = compute(args)
        meta = {"records": args.records, "epochs": args.epochs, "hidden": args.hidden, "seeds": args.seeds,
                "splits": args.splits, "split_seeds": args.split_seeds, "workers": args.workers,
                "null": args.null, "probe_null": args.probe_null, "fold_records": args.fold_records,
                "seed_list": list(range(args.seeds)), "seconds": seconds, "provenance": provenance(args)}
        table.to_csv(seeds_csv, index=False)
        (results / "claims_meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    numbers = Numbers(table, meta.get("fold_records"))
    if args.bonferroni:
        numbers.confidence = 1 - 0.05 / len(claim_list(numbers))
    claim_rows = pd.DataFrame(claims(numbers))
    claim_rows.assign(**{k: v for k, v in meta["provenance"].items()}).to_csv(results / "claims.csv", index=False)
    Path(args.out).write_text(report(numbers, summary_table(numbers), meta))
    print(claim_rows[["source", "quantity", "ours", "verdict"]].to_string(index=False))
    print(f"wrote {args.out}, {results / 'claims.csv'} and {seeds_csv}")


if __name__ == "__main__":
    main()

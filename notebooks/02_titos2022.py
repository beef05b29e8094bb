# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Titos & Garcia (2022) on synthetic data
#
# This notebook walks through the paper *Toward Knowledge Extraction in Classification of Volcano-Seismic Events:
# Visualizing Hidden States in Recurrent Neural Networks* (IEEE JSTARS 15, 2022), table by table and figure by figure:
#
# | paper | here |
# |---|---|
# | Table I: vanilla RNN, LSTM, TCN on 4 test partitions | paper-scale CSV (`docs/results/table1*.csv`: 3 seeds, baselines, intervals) + one partition recomputed |
# | Fig. 4: neural activation maps | `plots.activation_map` |
# | Fig. 5: histograms of activations, polarization | `analysis.activation_histogram`, `plots.activation_histograms` |
# | Fig. 6: heat maps at 100 / 50 / 30 % | `analysis.heat_map`, `analysis.top_fraction` (every class / any class), `plots.heat_maps` |
# | Fig. 7: class-by-class correlation | `analysis.class_correlation`, `plots.correlation_matrices` |
# | Table II, Figs. 8-9: five most active units per class, their traces, LSTMs of 30/110/210 units | `analysis.top_units`, `plots.top_unit_traces` |
# | Table III: hidden-size sweep | `train.sweep` (+ `docs/results/table3.csv` when present) |
# | Fig. 10: test-time pruning by activity vs random vs small models (a fixed share, or an activity threshold) | `experiments.ablation_curve`, `plots.ablation_curves` |
#
# The paper's Deception Island recordings are not public; we use rnnscope's synthetic volcano-seismic generator
# (same five classes, same heavy imbalance). So the question is never "do we get 84.88 %" but "do our numbers point
# the way the paper's claims do". **Unit ids are 0-based** here; the paper numbers its neurons from 1. Where the paper
# can be read more than one way (pruning, the units "common to all events", specialisation, onsets), both readings
# are shown and `docs/definitions.md` says which one each number uses.
#
# With `QUICK = True` (default) everything is small (LSTMs of 16/32/64 units, a few epochs; what else quick mode
# leaves out is said where it does) and the notebook runs in a minute or two on 2 CPU cores; `QUICK = False` uses the
# paper's sizes (LSTM 30/110/210, vanilla 140) and takes hours. Paper-scale Table I and III numbers are loaded from
# the repository, not recomputed.

# %%
# Parameters: quick by default; QUICK = False uses the paper's sizes (hours on 2 CPU cores).
QUICK = True
SEED = 0
THREADS = 1 if QUICK else 2   # small models: 1 thread is as fast and never stalls on a busy machine
N_RECORDS = 120 if QUICK else 240                       # synthetic records (docs/results.md uses 240)
SIZES = (16, 32, 64) if QUICK else (30, 110, 210)       # LSTMs of Figs. 8-9 (the paper's 30/110/210 units)
VANILLA_SIZE = 64 if QUICK else 140                      # the paper's best vanilla RNN has 140 units
EPOCHS = 10 if QUICK else 40                             # at most (early stopping, patience 5)
T1_SIZES = {"rnn": 32, "lstm": 32} if QUICK else {"rnn": 140, "lstm": 210}   # Table I recomputation
T1_PARTITIONS = [1] if QUICK else [1, 2, 3, 4]           # test partitions recomputed here
T1_EPOCHS = 2 if QUICK else 40
T1_BASELINES = ("logistic",) if QUICK else ("logistic", "boosting")   # the one-frame baselines recomputed here
SWEEP_SIZES = (16, 32) if QUICK else (30, 110, 210, 250, 290)   # Table III
SWEEP_FOLDS = 2 if QUICK else 4
SWEEP_EPOCHS = 2 if QUICK else 40
FRACTIONS = (1.0, 0.5, 0.3, 0.2, 0.1)                    # Fig. 10: share of units kept
REPEATS = 3 if QUICK else 10                             # random draws per fraction
SMALL_MODELS = True                                      # Fig. 10's red points: train small models too
SMALL_FRACTIONS = (0.3,) if QUICK else FRACTIONS          # the sizes of those small models (a share of the units)
NULL = 999                                               # label permutations of every chance level (seconds)

# %%
# %matplotlib inline
# %config InlineBackend.print_figure_kwargs = {"bbox_inches": "tight", "dpi": 72}
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

import rnnscope
from rnnscope import analysis, experiments, plots, train
from rnnscope.data import select_records
from rnnscope.errors import NumericalWarning
from rnnscope.models import RNNClassifier, TCNClassifier

torch.set_num_threads(THREADS)  # pinned: with the seeds below, the numbers are the same on every run
threadpool_limits(THREADS)      # numpy's BLAS and scikit-learn's OpenMP threads too
warnings.filterwarnings("ignore", category=analysis.EmptyClassWarning)
warnings.filterwarnings("ignore", message="In a future version of xarray", category=FutureWarning)
# the paper-scale tables committed with the repository (docs/results/), found from the notebook's folder
RESULTS = next((p / "docs" / "results" for p in [Path.cwd(), *Path.cwd().parents] if (p / "docs" / "results").is_dir()),
               Path("docs/results"))
print("rnnscope", rnnscope.__version__, "| torch threads:", torch.get_num_threads())

# %% [markdown]
# ## 1. Data
#
# Records of continuous signal at 100 Hz with labelled segments, turned into the paper's features (Section III-A):
# 16 log filter-bank energies + deltas + delta-deltas per 4 s window, 2 frames per second. `record_folds` deals the
# records into 4 partitions that never cut a record and hold every rare class, as the paper's 4 test partitions.

# %%
records = rnnscope.data.synthetic(n_records=N_RECORDS, seed=SEED)
frames = rnnscope.features.compute(records)
catalog = rnnscope.data.catalog(frames)
labels = [frames.label.values[i, : int(frames.length[i])] for i in range(frames.sizes["event"])]
folds = train.record_folds(labels, folds=4, seed=SEED)
CLASSES = list(frames.attrs["class_names"])

# %%
# NBVAL_CHECK_OUTPUT
print(frames.sizes["event"], "records,", int(frames.length.sum()), "frames,",
      round(float(records.n_samples.sum()) / 100 / 3600, 2), "hours")
print("segments:", catalog["class_name"].value_counts().reindex(CLASSES).to_dict())
known = np.concatenate(labels)
print("frame share:", {c: round(float((known == i).mean()), 3) for i, c in enumerate(CLASSES)})
print("records per test partition:", [len(f) for f in folds])

# %% [markdown]
# ## 2. Table I: vanilla RNN, LSTM and TCN on four test partitions
#
# The paper reports frame accuracy averaged over 4 test partitions: vanilla RNN (140 units) 82.39 %, LSTM (210)
# 84.88 %, TCN 81.66 %. `benchmarks/paper_tables.py --tables 1` ran the same protocol on 240 synthetic records with
# 3 seeds per model (protocol in `docs/results.md`) and committed the raw rows, a summary and paired differences.
# Next to the sequence models, three baselines without recurrence (`train.frame_baseline`): a *linear* one-frame
# classifier (logistic regression), a *nonlinear* one-frame classifier (gradient boosting) and the nonlinear one on a
# window of the current and 4 past frames. Every model is scored by frame accuracy (what the paper reports,
# dominated by SIL), balanced accuracy (mean recall over classes: rare classes count as much as SIL) and macro F1.
# Intervals: 95 % over the 4 partitions, **corrected resampled t** (Nadeau & Bengio; `train.corrected_interval`):
# the partitions share two thirds of their training records, so the plain Student-t interval would be too narrow.
# The 18 intervals of the table are each at 95 %, not adjusted for their number.

# %%
table1 = pd.read_csv(RESULTS / "table1.csv")
summary1 = pd.read_csv(RESULTS / "table1_summary.csv")
PAPER_T1 = {"vanilla RNN (140)": 82.39, "LSTM (210)": 84.88, "TCN": 81.66}


def with_interval(summary):
    cell = lambda r: f"{100 * r['mean']:.1f} [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"  # noqa: E731
    shown = summary.assign(value=summary.apply(cell, axis=1)).pivot(index="model", columns="score", values="value")
    return shown.reindex(index=summary["model"].unique(), columns=["accuracy", "balanced_accuracy", "macro_f1"])


print("made by:", table1["command"].iloc[0], "|", table1["machine"].iloc[0], "|", table1["date"].iloc[0],
      "| class weights:", table1["class_weights"].iloc[0])
t1 = with_interval(summary1)
t1["paper accuracy"] = pd.Series(PAPER_T1)
t1

# %% [markdown]
# Paired differences (same seed and partition), in points, with two 95 % intervals: over partitions (corrected, how
# much the data split moves the difference) and over seeds (how much training randomness moves it; 2 degrees of
# freedom). `p` is the larger of the two tests' p-values; `p (Holm)` adjusts it for the number of comparisons of its
# score (`n_comparisons`, printed first). A difference is **shown** only when `p (Holm)` < 0.05; an interval that
# excludes 0 is not enough, since the intervals are not adjusted for the number of comparisons.

# %%
diffs1 = pd.read_csv(RESULTS / "table1_differences.csv")
print("comparisons per score (Holm):", diffs1.groupby("score")["n_comparisons"].first().to_dict())


def interval(low, high):
    return "" if np.isnan(low) else f"[{100 * low:.1f}, {100 * high:.1f}]"


def p_value(p):
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def paired_table(diffs, scores=("accuracy", "balanced_accuracy")):
    key = diffs[diffs.score.isin(scores)]
    key = key.assign(pair=key.a + " - " + key.b, difference=(100 * key.difference).round(1),
                     over_partitions=list(map(interval, key.ci_low_partitions, key.ci_high_partitions)),
                     over_seeds=list(map(interval, key.ci_low_seeds, key.ci_high_seeds)),
                     p=key.p.map(p_value), p_holm=key.p_adjusted.map(p_value))
    columns = ["difference", "over_partitions", "over_seeds", "p", "p_holm", "shown"]
    shown = key.pivot(index="pair", columns="score", values=columns).swaplevel(axis=1)
    shown = shown.reindex(index=key.pair.unique(), columns=pd.MultiIndex.from_product([list(scores), columns]))
    return shown.rename(columns={"over_partitions": "over partitions", "over_seeds": "over seeds",
                                 "p_holm": "p (Holm)"}, level=1)


paired_table(diffs1)

# %% [markdown]
# The same code path, recomputed for the partitions in `T1_PARTITIONS` (quick mode: one partition, small models,
# 2 epochs and only the linear one-frame baseline, so its numbers only show that the pipeline runs): each model is
# trained on the other three partitions with `train.fit` (Adam, balanced class weights, early stopping on 15 % of the
# training records; normaliser, weights and early-stopping split come from the training records only) and scored
# with `train.evaluate`.
# `train.cross_validate` and `train.sweep` do the same for all partitions at once.

# %%
FIT = dict(batch_size=16, lr=3e-3, validation=0.15, early_stopping=5, seed=SEED, progress=False)
T1_MODELS = {
    f"vanilla RNN ({T1_SIZES['rnn']})": lambda: RNNClassifier("rnn", input_size=48, hidden_size=T1_SIZES["rnn"],
                                                              num_classes=5),
    f"LSTM ({T1_SIZES['lstm']})": lambda: RNNClassifier("lstm", input_size=48, hidden_size=T1_SIZES["lstm"],
                                                        num_classes=5),
    # 50 filters, kernel size 2, dilations 8/16/32, one residual block
    "TCN": lambda: TCNClassifier(input_size=48, num_classes=5),
}
rows = []
for k in T1_PARTITIONS:
    test_idx = folds[k - 1]
    train_idx = np.setdiff1d(np.arange(frames.sizes["event"]), test_idx)
    tr, te = select_records(frames, train_idx), select_records(frames, test_idx)
    for name, make in T1_MODELS.items():
        torch.manual_seed(SEED)
        model = make()
        t0 = time.perf_counter()
        train.fit(model, tr, epochs=T1_EPOCHS, **FIT)
        scores = train.evaluate(model, te)
        rows.append({"model": name, "partition": k, "accuracy": scores.accuracy, "macro_f1": scores.macro_f1,
                     "parameters": sum(p.numel() for p in model.parameters()),
                     "train_s": time.perf_counter() - t0})
        recall = scores.per_class.loc[scores.per_class["support"] > 0, "recall"]
        rows[-1]["balanced_accuracy"] = float(recall.mean())
    for kind in T1_BASELINES:
        name = f"one-frame {kind}"
        base = train.frame_baseline(frames, train_idx=train_idx, test_idx=test_idx, estimator=kind, seed=SEED)
        rows.append({"model": name, "partition": k, "accuracy": base["accuracy"],
                     "balanced_accuracy": base["balanced_accuracy"], "macro_f1": base["macro_f1"]})
table1_here = pd.DataFrame(rows)

# %%
# NBVAL_CHECK_OUTPUT
print(table1_here.set_index(["model", "partition"])[["accuracy", "balanced_accuracy"]].round(2).to_string())

# %% [markdown]
# **Agreement with the paper** (the paper-scale tables above; `docs/results.md` reads them in full). Of the three
# sequence models the LSTM has the highest mean scores, as in the paper, but none of its leads over the other
# sequence models is *shown*: LSTM - TCN (+5.4 points of frame accuracy) and LSTM - vanilla RNN (+13.1) point the
# paper's way, yet with 4 correlated partitions, 3 seeds and 14 comparisons per score their Holm-adjusted p-values
# are about 0.36. What is shown (p (Holm) < 0.05) is little: in frame accuracy the LSTM and the TCN are ahead of the
# *linear* one-frame classifier, the nonlinear one-frame classifier is ahead of the linear one, and a 2 s context
# window adds about 3 points to the nonlinear one; in macro F1 the same gaps over the linear classifier. Nothing
# else is. So the big gap to the linear baseline is mostly nonlinearity, not memory: a *nonlinear* classifier that
# sees one frame at a time is level with the sequence models in frame accuracy (not shown either way), and the
# context window's lead over the LSTM is not shown either.
# The sequence models' advantage on the rare classes is *suggested, not shown*: in balanced accuracy the LSTM leads
# the nonlinear baselines by 13-17 points and each interval over partitions excludes 0, but the Holm-adjusted
# p-values are 0.10-0.12. "Temporal context matters" is therefore at most a direction for recall on VTE, HYB and
# TRE here, and not a finding for frame accuracy. Our absolute accuracies are lower than the paper's: the synthetic
# set is small (180 training records per partition), and balanced class weights lower frame accuracy. Unweighted
# (one seed, `docs/results.md`, "Class weights") the LSTM reaches 82.7 % frame accuracy (paper 84.88 %) with the
# same balanced accuracy within a wide interval (+0.2 [-9.8, 10.1] points): on this data the weighting does not
# visibly pay for the sequence models. The quick recomputation above uses tiny models and few epochs and is not
# comparable with either.
#
# ## 3. The models of Figs. 4-10
#
# One vanilla RNN and LSTMs of several sizes, trained on partitions 2-4 and analysed on partition 1 (the paper's
# Fig. 10 uses partition 1 too). `rnnscope.capture` runs each model once over the test records and keeps every
# internal state (`h`, and for the LSTM `c` and the gates), dims (event, time, unit, layer).

# %%
test_idx = folds[0]
train_idx = np.setdiff1d(np.arange(frames.sizes["event"]), test_idx)
train_set, test_set = select_records(frames, train_idx), select_records(frames, test_idx)


def trained(cell, hidden):
    torch.manual_seed(SEED)
    model = RNNClassifier(cell, input_size=48, hidden_size=hidden, num_classes=5)
    train.fit(model, train_set, epochs=EPOCHS, **FIT)
    return model


models = {f"LSTM ({h})": trained("lstm", h) for h in SIZES}
models[f"vanilla ({VANILLA_SIZE})"] = trained("rnn", VANILLA_SIZE)
runs = {name: rnnscope.capture(model, test_set, progress=False) for name, model in models.items()}
LSTM, VANILLA = f"LSTM ({SIZES[-1]})", f"vanilla ({VANILLA_SIZE})"   # the two architectures compared

# %%
# NBVAL_CHECK_OUTPUT
for name, run in runs.items():
    print(f"{name:14s} test frame accuracy {analysis.frame_accuracy(run):.2f}, "
          f"epochs run {models[name].info['training']['epochs_run']}")

# %% [markdown]
# ## 4. Fig. 4: neural activation maps
#
# Units x time image of `h` for one test record holding a VTE, under its waveform and spectrogram (−1 red, 0 white,
# +1 dark blue). The paper sees the vanilla RNN's units saturate at ±1 most of the time, while the LSTM's stay
# closer to 0 and switch when the input changes.

# %%
cat = rnnscope.data.catalog(test_set)
VTE_RECORD = int(cat.loc[cat.class_name == "VTE", "event"].iloc[0])
plots.activation_map(runs[LSTM], event=VTE_RECORD)

# %%
plots.activation_map(runs[VANILLA], event=VTE_RECORD)

# %% [markdown]
# The paper also reads onsets and ends off these maps: the LSTM detects emergent onsets early and ends events later
# than the vanilla RNN. `train.evaluate` measures the onset error of every detected segment (start of the first
# overlapping predicted segment of the same class minus the true start, in seconds; negative = early) and the share
# of segments detected at all:

# %%
evals = {name: train.evaluate(models[name], test_set) for name in (LSTM, VANILLA)}
onsets = pd.DataFrame({name: e.events.groupby("class_name")["onset_error_s"].mean() for name, e in evals.items()})
detection = pd.DataFrame({name: e.event_scores["detection_rate"] for name, e in evals.items()})
pd.concat({"mean onset error (s)": onsets.reindex(CLASSES), "detection rate": detection.reindex(CLASSES)},
          axis=1).round(2)

# %% [markdown]
# For the emergent classes (LP, TRE) the paper expects the LSTM's onset error to be smaller (earlier) than the
# vanilla RNN's; impulsive VTE onsets are easy for both. With only a few segments of the rare classes in one test
# partition, differences of a second or two are within the noise.

# %% [markdown]
# ## 5. Fig. 5: histograms of activations, polarization
#
# Histograms of `h` per class for both architectures. Titles give the **polarization** P(|h| > 0.9) and the
# **sparsity** P(|h| < 0.1). The paper: the vanilla RNN is strongly polarized (activations near ±1), the LSTM keeps
# more units near 0 and its histograms look like narrower Gaussians.

# %%
hists = {name: analysis.activation_histogram(runs[name], per="class") for name in (VANILLA, LSTM)}
plots.activation_histograms(hists)

# %%
# NBVAL_CHECK_OUTPUT
overall = {name: analysis.activation_histogram(run, per=None) for name, run in runs.items()}
polar = pd.DataFrame({name: {"polarization": float(h["polarization"][0]), "sparsity": float(h["sparsity"][0])}
                      for name, h in overall.items()}).T
print(polar.round(2).to_string())
print("vanilla more polarized than the LSTM:", bool(polar.loc[VANILLA, "polarization"] > polar.loc[LSTM, "polarization"]))
print("LSTM sparser than the vanilla RNN:  ", bool(polar.loc[LSTM, "sparsity"] > polar.loc[VANILLA, "sparsity"]))

# %% [markdown]
# ## 6. Fig. 6: heat maps at 100 / 50 / 30 %
#
# The heat of a unit for a class is its mean |h| over each labelled segment, averaged over the segments of the class
# (`analysis.heat_map`, the paper's definition). For 50 % and 30 %, only the units that are among the most active
# 50 % / 30 % **for every class** are kept (`analysis.top_fraction`; "common to all events" in the paper). That
# intersection holds the units that are very active *whatever* the class, i.e. the units that are **not**
# class-specific; in small models it is often empty at 30 %. An empty panel (the figure says so) means that the most
# active units differ between classes, not that nothing was found.

# %%
plots.heat_maps(runs[LSTM])

# %%
plots.heat_maps(runs[VANILLA])

# %% [markdown]
# The other reading, the **union** (`rule="any"`): the units in the top fraction of *at least one* class, which shows
# the class-specific units as well. The number of units each reading keeps:

# %%
plots.heat_maps(runs[LSTM], rule="any")

# %% [markdown]
# How many units a reading keeps depends on chance too: when the labels carry no information every class's heat map
# is a noisy copy of the units' overall activity, so the classes' top sets overlap much more than they do for
# classes that use different units. Each count is shown next to its null (`null=NULL`: the same count with the
# segments' classes permuted within records, seeded): the null's mean (chance level), its 95 % quantile and the
# one-sided p-value (is the count *larger* than chance?). For `every` a count *below* the null says the classes
# share fewer of their most active units than chance (the classes use different units); for `any` a p below 0.05
# says the same from the other side (the union is larger than chance). At 100 % every unit is kept whatever the
# labels.

# %%
# NBVAL_CHECK_OUTPUT
def kept_row(run, fraction, rule):
    top = analysis.top_fraction(run, fraction=fraction, rule=rule, null=NULL, seed=SEED).heat
    return {stat: float(top[column][0]) for stat, column in
            (("kept", "n_units"), ("null mean", "n_units_null_mean"), ("null 95 %", "n_units_null_q95"),
             ("p", "n_units_p"))}


kept = pd.DataFrame({(name, rule, f"{p:.0%}"): kept_row(runs[name], p, rule)
                     for name in (LSTM, VANILLA) for rule in ("every", "any") for p in (0.5, 0.3)}).T
kept.index.names = ["model", "rule", "fraction"]
print(kept.round(3).to_string())

# %% [markdown]
# ## 7. Fig. 7: class-by-class correlation of the heat maps
#
# Pearson correlation of the class heat vectors over the shared units of each fraction. The paper: for both
# architectures the units of the very characteristic VTE and HYB coincide almost entirely, the LSTM also finds
# similarities between TRE, HYB and VTE, and SIL gets little specialization.

# %%
plots.correlation_matrices(runs[LSTM])

# %%
plots.correlation_matrices(runs[VANILLA])

# %% [markdown]
# The chance level of a class correlation is **not 0**: when the labels carry no information, every class's heat
# map is a noisy copy of the units' overall activity, so any two classes correlate positively as soon as units
# differ in how active they are. Each correlation `r` is therefore shown with its null (`null=NULL`, the unit set
# recomputed for every permutation too): its mean, its 95 % quantile and `p`, one-sided (are the two classes *more
# alike* than chance?). A correlation below its null mean says the two classes use the units more differently than
# chance; only a `p` below 0.05 supports "these classes share their units".

# %%
pairs = [("VTE", "HYB"), ("TRE", "VTE"), ("TRE", "HYB"), ("LP", "TRE"), ("SIL", "LP")]
STATS = {"r": "correlation", "null mean": "correlation_null_mean", "null 95 %": "correlation_null_q95",
         "p": "correlation_p"}
corr = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", NumericalWarning)   # fewer than 2 shared units: NaN, see below
    for name in (LSTM, VANILLA):
        for fraction in (1.0, 0.5, 0.3):
            c = analysis.class_correlation(runs[name], fraction=fraction, null=NULL, seed=SEED).sel(layer=0)
            column = {(f"{a}-{b}", stat): float((c if v == c.name else c[v]).sel(class_name=a, class_name_other=b))
                      for a, b in pairs for stat, v in STATS.items()}
            corr[(name, f"{fraction:.0%}")] = column | {("shared units", ""): int(c["n_units"])}
corr = pd.DataFrame(corr)
corr.round(3)

# %%
# NBVAL_CHECK_OUTPUT
for name in (LSTM, VANILLA):
    at_100 = corr[(name, "100%")]
    alike = [pair for pair in dict.fromkeys(p for p, _ in at_100.index if p != "shared units")
             if at_100[(pair, "p")] < 0.05]
    print(f"{name}, 100 %: pairs more alike than chance (p < 0.05): {alike or 'none'}")


# %% [markdown]
# Our reading of "the most active neurons common to all events" keeps a unit only if it is in the top fraction for
# *every* class. With the small models of quick mode that intersection is tiny at 50 % and often empty at 30 %
# (row `shared units`; an empty set gives NaN and the blank panels above), so the 50 % and 30 % correlations rest on a
# handful of units or are undefined; the paper's 210-unit LSTM left more. At 100 %, compare the VTE-HYB rows with the
# other pairs: the paper finds VTE and HYB among the most similar classes for both architectures. Here a high `r` is
# a finding only when it is above its null (the pairs printed above); a pair whose `r` sits near its null mean is as
# alike as any two random groups of segments would be.

# %% [markdown]
# Selectivity says how much a unit prefers one class: (max-class heat − mean of the others) / (sum), 0 = as active
# for every class, 1 = active for one class only (`analysis.specialisation`; its mean over units is one
# specialisation number per model). This relative index falls when every class's heat gets the same offset, so
# units whose |h| is high for every class (the polarised vanilla RNN) score low mechanically; the **gap**
# (max-class heat − mean of the others, in |h|) is free of that baseline (`docs/definitions.md`). Both are positive
# by chance: `top` is the largest of five noisy class means, and with a few segments of a rare class some unit is
# always more active for it. Grouped by the class each unit prefers, with the number of units whose gap is above
# its null (`selectivity_gap_p` < 0.05, `null=NULL`; uncorrected, so about 5 % of the units pass by chance alone):

# %%
def by_preferred_class(run):
    spec = analysis.specialisation(run, null=NULL, seed=SEED).sel(layer=0)
    frame = pd.DataFrame({"class": spec["preferred_class"].values, "selectivity": spec["selectivity"].values,
                          "gap": spec["selectivity_gap"].values, "above": spec["selectivity_gap_p"].values < 0.05})
    return frame.groupby("class").agg(count=("selectivity", "size"), selectivity=("selectivity", "mean"),
                                      gap=("gap", "mean"), gap_above_chance=("above", "sum")).reindex(CLASSES)


pd.concat({name: by_preferred_class(runs[name]) for name in (LSTM, VANILLA)}, axis=1).round(2)


# %% [markdown]
# ## 8. Table II and Fig. 8: the five most active units per class
#
# "Most active, and therefore most specialized": per class, the units of largest heat (`analysis.top_units`).
# Ids are 0-based; add 1 for the paper's numbering (the legends of the trace plots show both). "Most active" is not
# "specialised": a unit active for every class is among the most active of each. With `null=NULL` the `r`-th unit
# of a class is compared with the `r`-th largest heat of the class under permuted labels; a `*` marks the units
# above it (`heat_p` < 0.05): more active for this class than for a random set of as many segments. Unmarked
# units are active, not shown to be specialised.

# %%
def table2(run, k=5):
    top = analysis.top_units(run, k=k, null=NULL, seed=SEED).sel(layer=0)
    marked = np.where(top["heat_p"].values < 0.05, "*", "")
    return pd.DataFrame(np.char.add(top.values.astype(str), marked), index=top["class_name"].values,
                        columns=[f"#{r}" for r in top["rank"].values])


pd.concat({name: table2(runs[name]) for name in (LSTM, VANILLA)}, axis=1)


# %%
# NBVAL_CHECK_OUTPUT
def top_heat(run, k=5):
    top = analysis.top_units(run, k=k, null=NULL, seed=SEED).sel(layer=0)
    heat = top.to_dataframe()[["heat", "heat_null_mean", "heat_null_q95", "heat_p"]]
    return heat.groupby("class_name", sort=False).agg(heat=("heat", "mean"), null_mean=("heat_null_mean", "mean"),
                                                      null_q95=("heat_null_q95", "mean"),
                                                      above_chance=("heat_p", lambda p: int((p < 0.05).sum())))


print("mean heat of the 5 top units per class, the mean of their nulls, and how many are above chance:")
print(pd.concat({name: top_heat(runs[name]) for name in (LSTM, VANILLA)}, axis=1).round(3).to_string())

# %% [markdown]
# Their time evolution over the VTE record of Fig. 4, one panel per class present in the record (frame labels as a
# colour band at the bottom of each panel):

# %%
plots.top_unit_traces(runs[LSTM], event=VTE_RECORD, k=5)

# %%
plots.top_unit_traces(runs[VANILLA], event=VTE_RECORD, k=5)

# %% [markdown]
# ## 9. Fig. 9: LSTMs of increasing size
#
# The paper's Fig. 9 shows the five most active units of LSTMs with 30, 110 and 210 units on VTE and LP records and
# sees a more class-oriented specialization as the layer grows. Here: the smaller sizes of `SIZES` on the VTE record
# of Fig. 8, whose traces show the largest.

# %%
for h in SIZES[:-1]:
    display(plots.top_unit_traces(runs[f"LSTM ({h})"], event=VTE_RECORD, k=5))


# %% [markdown]
# One specialisation number per model, next to its null (`null=NULL`: mean, 95 % quantile and p of the same number
# with the segments' classes permuted within records). A model's specialisation says something about the network
# only where it is above its null's 95 % quantile (p < 0.05); the comparisons between models printed below are
# meaningful only between models that are. `susceptibility` (change at segment boundaries / change elsewhere) has
# the fixed chance level 1.

# %%
# NBVAL_CHECK_OUTPUT
def size_row(run):
    spec = analysis.specialisation(run, null=NULL, seed=SEED)
    row = {"units": run.sizes["unit"], "accuracy": analysis.frame_accuracy(run)}
    for label, score in (("specialisation", "specialisation"), ("gap", "specialisation_gap")):
        row |= {label: float(spec[score][0]), f"{label} null mean": float(spec[f"{score}_null_mean"][0]),
                f"{label} null 95 %": float(spec[f"{score}_null_q95"][0]), f"{label} p": float(spec[f"{score}_p"][0])}
    return row | {"susceptibility": float(analysis.susceptibility(run)["susceptibility"][0])}


by_size = pd.DataFrame({name: size_row(run) for name, run in runs.items()}).T.astype({"units": int})
by_size.index.name = "model"
with pd.option_context("display.width", 200):
    print(by_size.round(3).to_string())
for column in ("specialisation", "gap"):
    above = [name for name in runs if by_size.loc[name, f"{column} p"] < 0.05]
    print(f"{column} above chance (p < 0.05): {above or 'none'}")
lstm_spec = by_size.loc[[f"LSTM ({h})" for h in SIZES], "specialisation"].to_numpy(dtype=float)
print("LSTM specialisation grows with size:", bool(np.all(np.diff(lstm_spec) > 0)))
for column in ("specialisation", "gap"):
    print(f"LSTM above vanilla at the largest size ({column}):",
          bool(by_size.loc[LSTM, column] > by_size.loc[VANILLA, column]))

# %% [markdown]
# ## 10. Table III: hidden-size sweep
#
# The paper's Table III (accuracy %): LSTM 30/110/210/250/290 units 82.18, 82.90, 84.88, 84.43, 83.19; vanilla
# 81.03, 80.96, 79.45, 79.14, 81.15. The paper-scale synthetic analogue is produced by
# `benchmarks/paper_tables.py --tables 3` (hours on 2 cores) into `docs/results/table3.csv`; it is shown when present.

# %%
PAPER_T3 = pd.DataFrame({"lstm": [82.18, 82.90, 84.88, 84.43, 83.19], "rnn": [81.03, 80.96, 79.45, 79.14, 81.15]},
                        index=pd.Index([30, 110, 210, 250, 290], name="hidden_size")).T
if (RESULTS / "table3.csv").exists():
    table3 = pd.read_csv(RESULTS / "table3.csv")
    t3 = {score: 100 * table3.pivot_table(index="cell", columns="hidden_size", values=score)
          for score in ("accuracy", "balanced_accuracy")}
    for t in t3.values():
        t.columns = t.columns.astype(int)
    shown = pd.concat({"synthetic, frame accuracy": t3["accuracy"],
                       "synthetic, balanced accuracy": t3["balanced_accuracy"], "paper, frame accuracy": PAPER_T3})
else:
    print("docs/results/table3.csv is not there yet: `.venv/bin/python benchmarks/paper_tables.py --tables 3` "
          "produces it. The paper's numbers:")
    shown = PAPER_T3
shown.round(2)

# %% [markdown]
# Paired differences LSTM - vanilla RNN at each size (same partition; one seed, so no interval over seeds and no
# check of training randomness), with the corrected interval over partitions and the Holm-adjusted p among the
# comparisons of each score (shown = p (Holm) < 0.05):

# %%
if (RESULTS / "table3_differences.csv").exists():
    diffs3 = pd.read_csv(RESULTS / "table3_differences.csv")
    print("comparisons per score (Holm):", diffs3.groupby("score")["n_comparisons"].first().to_dict())
    display(paired_table(diffs3).drop(columns="over seeds", level=1))

# %% [markdown]
# `train.sweep` cross-validates every configuration of a grid (cells x hidden sizes here; any `fit` keyword can be a
# grid key too). Each (configuration, partition) task pins its seed and thread count, so passing an `executor` (a
# `ProcessPoolExecutor`, a Dask client's `get_executor()`) gives the same numbers in parallel. In quick mode: a
# tiny sweep on 2 partitions, 2 epochs each (`SWEEP_EPOCHS`), whose models have barely started to learn.

# %%
sweep = train.sweep({"cell": ["lstm", "rnn"], "hidden_size": list(SWEEP_SIZES)}, frames, folds=SWEEP_FOLDS,
                    seed=SEED, threads=THREADS, epochs=SWEEP_EPOCHS, batch_size=16, lr=3e-3, progress=False)
torch.set_num_threads(THREADS)
sweep[["cell", "hidden_size", "partition", "accuracy", "macro_f1", "n_parameters"]].round(3)

# %%
# NBVAL_CHECK_OUTPUT
print(sweep.pivot_table(index="cell", columns="hidden_size", values="accuracy").round(2).to_string())

# %% [markdown]
# In the paper the LSTM beats the vanilla RNN at every size (by 1 to 5 points), with a peak at 210 units, and the
# vanilla RNN does not improve with size. The paper-scale synthetic sweep above (`docs/results.md` reads it):
# the LSTM is ahead at every size in both scores, by 7 to 22 points, but among the 5 comparisons of each score this
# is *shown* (Holm-adjusted p < 0.05) only at 30 and 250 units in frame accuracy and at 110 and 250 units in
# balanced accuracy; with one seed none of it is checked against training randomness. Which size is best is not
# shown: the LSTM sizes' intervals overlap widely, so their ordering (the paper's peak at 210 units included) is
# noise here; the vanilla RNN does not improve with size, as in the paper. The quick sweep (tiny models, few
# epochs, half the records for training) only shows that the code path runs; its numbers say nothing about these
# claims.

# %% [markdown]
# ## 11. Fig. 10: test-time pruning
#
# Keep only a fraction of the units at test time (the others output 0 at every step; nothing is retrained) and
# score the model again (`experiments.ablation_curve`):
#
# - **activity**: keep the units of highest mean |h|, ranked on the *training* records (the paper ranks by activity
#   percentile; its "10th percentile" of the LSTM(210) is 22 units);
# - **random**: keep as many units drawn at random (`REPEATS` draws; error bars = std) — the paper's green lines;
# - **small_model**: a fresh model with that many units, trained like the full one — the paper's red points (quick
#   mode: only at 30 %, `SMALL_FRACTIONS`, the share the comparison below reads; the other shares print NaN).
#
# The paper: an LSTM keeps high accuracy with 10-20 % of its units; random dropout hurts the specialised LSTM more
# than the vanilla RNN; a pruned large LSTM does about as well as a small one trained from scratch.

# %%
ablation = {name: experiments.ablation_curve(models[name], test_set, fractions=FRACTIONS,
                                             ranking=["activity", "random"], rank_on=train_set, repeats=REPEATS,
                                             seed=SEED)
            for name in (LSTM, VANILLA)}
if SMALL_MODELS:  # trained like the full models (same epochs and early stopping), one per share of SMALL_FRACTIONS
    fit_small = {k: v for k, v in FIT.items() if k not in ("seed", "progress")} | {"epochs": EPOCHS}
    for name in (LSTM, VANILLA):
        small = experiments.ablation_curve(models[name], test_set, fractions=SMALL_FRACTIONS, ranking="small_model",
                                           rank_on=train_set, seed=SEED, fit_kwargs=fit_small)
        ablation[name] = pd.concat([ablation[name], small], ignore_index=True)
plots.ablation_curves(ablation)

# %%
# NBVAL_CHECK_OUTPUT
curves = pd.concat({name: t.set_index(["ranking", "fraction"])["accuracy"] for name, t in ablation.items()}, axis=1)
print(curves.unstack("ranking").round(2).to_string())


# %%
def acc(name, ranking, fraction, tables=ablation):
    t = tables[name]
    return float(t.loc[(t.ranking == ranking) & np.isclose(t.fraction, fraction), "accuracy"].iloc[0])


for name in (LSTM, VANILLA):
    full = acc(name, "activity", 1.0)
    print(f"{name}: 20 % of the units (by activity) keep {acc(name, 'activity', 0.2) / full:.0%} of the accuracy, "
          f"20 % at random {acc(name, 'random', 0.2) / full:.0%}")
drop = {name: acc(name, "activity", 1.0) - acc(name, "random", 0.2) for name in (LSTM, VANILLA)}
print("random dropout (20 %) hurts the LSTM more than the vanilla RNN:", drop[LSTM] > drop[VANILLA])
if SMALL_MODELS:
    for name in (LSTM, VANILLA):
        print(f"{name}: 30 % pruned {acc(name, 'activity', 0.3):.2f} vs trained small {acc(name, 'small_model', 0.3):.2f}")

# %% [markdown]
# **The threshold reading.** The paper also describes its levels as "those neurons reaching 90 % of the maximum
# activation value" and notes that for its vanilla RNN "even when lowering the activation threshold, the number of
# neurons remains constant": that is a threshold on activity, not a fixed share. With
# `selection="threshold"`, level `p` keeps the units whose activity reaches `(1 - p)` times the top activity of the
# layer, so the number kept differs between architectures (`n_units`); random dropout keeps as many. The x axis of
# the figure is now the threshold level `p`, not a share of units:

# %%
by_threshold = {name: experiments.ablation_curve(models[name], test_set, fractions=FRACTIONS,
                                                 ranking=["activity", "random"], rank_on=train_set, repeats=REPEATS,
                                                 seed=SEED, selection="threshold")
                for name in (LSTM, VANILLA)}
plots.ablation_curves(by_threshold)

# %%
# NBVAL_CHECK_OUTPUT
kept = pd.DataFrame({name: t[t.ranking == "activity"].set_index("fraction")["n_units"] / models[name].hidden_size
                     for name, t in by_threshold.items()})
kept.index = [f"units reaching {1 - p:.0%} of the top" for p in kept.index]
print("share of units kept, threshold reading:")
print(kept.round(2).to_string())
print("the vanilla RNN keeps a larger share at the 90 % threshold:", bool(kept.iloc[-1][VANILLA] > kept.iloc[-1][LSTM]))
for name in (LSTM, VANILLA):
    print(f"{name}: at the 80 % threshold the kept units give {acc(name, 'activity', 0.2, by_threshold):.2f} "
          f"(all units {acc(name, 'activity', 1.0, by_threshold):.2f})")

# %% [markdown]
# **Agreement with the paper.** Read the `True`/`False` lines printed above; `docs/claims.md` runs the same checks
# over 5 seeds and 4 data splits, with untrained and shuffled-label controls and the share of each effect the
# controls reproduce (section 12 shows its rows).
#
# - *Polarization* (Fig. 5) is the most robust finding: the vanilla RNN puts far more values near ±1 and the LSTM
#   far more near 0, at every size we tried. Where it comes from is another matter: the untrained twins show little
#   of the polarization gap (about 5 %), but models trained on *shuffled* labels reproduce about 60 % of it, so much
#   of it comes from training on the input's segment structure rather than from learning the classes (verdict
#   "mixed"); the sparsity gap (LSTM near 0) is there before any training ("architecture").
# - *Specialisation* (Figs. 6-9): first against chance. The LSTM's specialisation gap is above its null here (read
#   the `above chance` lines of section 9) and over seeds (`docs/claims.md`: gap 0.289 against a null mean of 0.134
#   and 95 % quantile 0.191, p < 0.05 in 5 of 5 seeds). The vanilla RNN's is not clearly above chance: over seeds
#   its gap 0.109 sits at its null's 95 % quantile (0.106; null mean 0.082; p < 0.05 in 3 of 5 seeds; verdict
#   "inconclusive"), and in the run above its p is printed in section 9. So "the LSTM is more specialised than the
#   vanilla RNN" (supported over seeds and splits by both indices, the relative one, which polarised vanilla
#   units score low on mechanically, and the baseline-free gap) compares a specialised LSTM with a vanilla RNN whose
#   own specialisation is not shown to differ from chance. Shuffled-label models reproduce 40-60 % of the
#   difference, so part of it is the input's structure, not the classes (verdict "mixed"). Which units are
#   specialised: the starred units of Table II and the `gap_above_chance` counts of section 7; the rest of the
#   "most active" units are active whatever the class. Class correlations (Fig. 7) are findings only where they
#   are above their null (printed in section 7). That specialisation grows with the LSTM's size (the paper's Fig. 9)
#   is not something quick mode can show: its sizes are tiny and trained for a few epochs, so the trend is usually
#   not monotonic.
# - *Pruning* (Fig. 10): keeping the most active units beats keeping random ones, as in the paper. How much of its
#   accuracy one LSTM keeps at 10-20 % of its units varies from run to run (the printed lines above; the paper's
#   LSTM(210) kept about 88 %): over 5 seeds (`docs/claims.md`) 20 % of the LSTM's units keep about 81 % of its
#   accuracy (the 90 % we ask for: not supported), and random dropout hurts the *vanilla* RNN more than the LSTM
#   (the paper's claim: not supported). The paper's pruned LSTM beat small models trained from scratch (about 86 vs
#   84 %); compare the last two printed lines; over seeds the two are within a few points of each other
#   (inconclusive). With the threshold
#   reading the vanilla RNN keeps a larger share of its units at the 90 % threshold in the run above (compare the
#   kept shares), as the paper describes; over 5 seeds the difference is about 5 points, inconclusive.
# - Table I / III: see the notes after each table. The paper's models were larger and trained on far more events.

# %% [markdown]
# ## 12. Over seeds, with controls
#
# Everything above is one trained network: one sample. Unit ids are arbitrary across seeds, and a number such as
# "specialisation 0.27" means little until it is compared with its chance level (its null, section 9) and with what
# an **untrained** network of the same architecture gives (`experiments.untrained_like`) and with a network
# trained on **shuffled labels** (`experiments.shuffle_labels`: the classes permuted among segments, so the segment
# structure is learned but not the link between signal and class). `experiments.compare_controls` trains and
# captures all three over seeds and summarises any analysis number with `analysis.across_seeds` (mean, Student-t
# interval over seeds). Here: the LSTM's specialisation over `CLAIM_SEEDS` seeds.

# %%
from functools import partial

CLAIM_SEEDS = (0, 1) if QUICK else (0, 1, 2, 3, 4)
CLAIM_EPOCHS = 6 if QUICK else 20
make_lstm = partial(RNNClassifier, "lstm", input_size=frames.sizes["feature"], hidden_size=SIZES[-1],
                    num_classes=len(frames.attrs["class_names"]), class_names=list(frames.attrs["class_names"]))


def lstm_specialisation(run):
    return float(analysis.specialisation(run)["specialisation"].mean())


controls = experiments.compare_controls(make_lstm, train_set, fn=lstm_specialisation, test=test_set, seeds=CLAIM_SEEDS,
                                        threads=THREADS, epochs=CLAIM_EPOCHS)
torch.set_num_threads(THREADS)
controls[["mean", "ci_low", "ci_high", "n"]].round(3)

# %%
# NBVAL_CHECK_OUTPUT
print("trained LSTM more specialised than both controls:",
      bool(controls.loc["trained", "mean"] > controls.loc[["untrained", "shuffled_labels"], "mean"].max()))

# %% [markdown]
# The paper-scale version of every claim (5 seeds, 64-unit models, all three controls, paired differences between
# cells) is produced by `benchmarks/claims_report.py` into `docs/claims.md` and `docs/results/claims.csv`. The
# Titos & Garcia rows, and the rows that put each cell's specialisation gap against its null (the chance levels of
# every score, for trained models and both controls, are in `docs/claims.md`, "Scores against chance"):

# %%
claims = pd.read_csv(RESULTS / "claims.csv")
with pd.option_context("display.max_colwidth", None):
    display(claims.loc[claims.source.str.startswith("Titos") | claims.claim.str.contains("above chance"),
                       ["claim", "quantity", "ours", "over splits", "control", "verdict"]])

# %% [markdown]
# ## 13. Explore: the ClassHeatMap widget
#
# The heat map per class at 100/50/30 % (Fig. 6), the class-by-class correlation (Fig. 7) and the top units per
# class (Table II), linked: choose the fraction and the layer, and click a unit to open it in the Explorer below
# (waveform, spectrogram, activation map and the selected units' traces on one time axis). The widget reads the
# capture-time summaries, so it opens instantly on runs of any size. (Widgets need a live kernel; a static render
# of this notebook shows them blank.)

# %%
explorer = rnnscope.widgets.Explorer(runs[LSTM])
rnnscope.widgets.ClassHeatMap(runs[LSTM], fraction=0.5, explorer=explorer)

# %%
explorer

# %% [markdown]
# Next: `03_tang_lstm_vs_gru.ipynb` applies Tang, Shi & Wang's analyses (cell distributions, responsibility,
# temporal traces, memory robustness) to LSTMs and GRUs of several layers; `05_regression_tests.ipynb` shows how to
# pin these numbers with nbval.

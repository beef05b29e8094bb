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
# # Why a unit fires
#
# Notebooks 02 and 03 show *what* the units of a recogniser do: which are active for which class, how their states
# move. This one asks *why*: which part of the spectrogram a unit listens to, how far back it remembers, and
# whether the units flagged for a class really carry that class. On the synthetic data the answers are known in
# advance, because the generator knows each class's bands (`rnnscope/data/_synthetic.py`): LP events ring in
# resonators of 0.5-5 Hz; VT earthquakes are broadband with the velocity spectrum of an omega-squared source, peaking
# at its corner frequency, 4-15 Hz.
#
# | question | tool |
# |---|---|
# | which input frames and bands make a unit's value at a frame | `experiments.attribution` (integrated gradients, Captum's, over rnnscope's recurrent path; completeness checked) |
# | which bands a unit listens to, how far back, against chance | `analysis.band_profile`, `analysis.lag_profile` (`null=` permutations) |
# | each unit's time constant from its gates, and from outside | `analysis.timescales`, `experiments.impulse_response` |
# | do the units flagged for a class carry it | `experiments.class_silencing` (against activity-matched random units), `experiments.patch_activations` |
# | the same, clicking a unit in the Explorer | `widgets.Explorer(run, attribute=experiments.attributor(model, run))` |
#
# With `QUICK = True` (default) the models are small (one layer of 32 units, a few epochs), the silencing test draws
# 40 random unit sets (`SILENCE_NULL`; 100 with `QUICK = False`) and the notebook runs in about a minute on 2 CPU
# cores.

# %%
# Parameters: quick by default; QUICK = False for more records, wider models and more null draws.
QUICK = True
SEED = 0
THREADS = 1 if QUICK else 2
N_RECORDS = 60 if QUICK else 200
HIDDEN = 32 if QUICK else 96
EPOCHS = 8 if QUICK else 30
STEPS = 16 if QUICK else 32        # integrated-gradient steps
MAX_LAG = 40                       # frames before the explained frame (20 s)
N_UNITS = 3                        # units flagged per class
NULL = 100                         # permutations of the band and lag nulls
SILENCE_NULL = 40 if QUICK else 100   # random unit sets of the silencing null (each one a pass over the test set)
CLASSES = {"LP": (0.5, 5.0), "VTE": (4.0, 15.0)}   # the generator's bands (Hz) of the two classes compared

# %%
# %matplotlib inline
# %config InlineBackend.print_figure_kwargs = {"bbox_inches": "tight", "dpi": 72}
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import xarray as xr
from threadpoolctl import threadpool_limits

import rnnscope
from rnnscope import analysis, experiments, train
from rnnscope.data import select_records
from rnnscope.models import RNNClassifier
from rnnscope.schema import segment_frames

torch.set_num_threads(THREADS)
threadpool_limits(THREADS)      # numpy's BLAS and scikit-learn's OpenMP threads too
warnings.filterwarnings("ignore", category=analysis.EmptyClassWarning)
print("rnnscope", rnnscope.__version__, "| torch threads:", torch.get_num_threads())

# %% [markdown]
# ## 1. Data and two models
#
# Synthetic records with as many VT as LP events (the default mix follows the paper's, with ten times more LPs), a
# quarter of them held out; an LSTM and a GRU of the same size, seed and training budget.

# %%
records = rnnscope.data.synthetic(n_records=N_RECORDS, seed=SEED, record_duration_s=(60.0, 120.0),
                                  class_proportions={"TRE": 0.5, "LP": 1.0, "VTE": 1.0, "HYB": 0.5})
frames = rnnscope.features.compute(records)
labels = [frames.label.values[i, : int(frames.length[i])] for i in range(frames.sizes["event"])]
test_idx = train.record_folds(labels, folds=4, seed=SEED)[0]
train_set = select_records(frames, np.setdiff1d(np.arange(frames.sizes["event"]), test_idx))
test_set = select_records(frames, test_idx)
models, runs = {}, {}
for cell in ("lstm", "gru"):
    torch.manual_seed(SEED)
    models[cell] = RNNClassifier(cell, input_size=48, hidden_size=HIDDEN, num_classes=5)
    train.fit(models[cell], train_set, epochs=EPOCHS, seed=SEED, progress=False)
    runs[cell] = rnnscope.capture(models[cell], test_set, progress=False)
    print(cell, "test accuracy", round(train.evaluate(models[cell], test_set).accuracy, 3))

# %% [markdown]
# ## 2. The units flagged for LP and for VT
#
# A unit is flagged for a class when its heat for that class exceeds its mean heat for the others the most
# (`class_gap` of `analysis.specialisation`, on the test records: the units are then explained on those records).

# %%
flagged = {}
for cell, run in runs.items():
    gap = analysis.specialisation(run)["class_gap"].sel(layer=0)
    flagged[cell] = {c: [int(u) for u in gap.sel(class_name=c).values.argsort()[::-1][:N_UNITS]] for c in CLASSES}
pd.DataFrame(flagged)

# %% [markdown]
# ## 3. What they listen to
#
# Each flagged unit is explained at the frame of each segment of its class where it is most active
# (`frames="peak"`), by integrated gradients over the 20 s before (`MAX_LAG` frames): the attribution of every input
# frame and feature, summing (completeness, checked for every target) to the unit's value minus its value on the
# mean input. `band_profile` gives the share of a unit's attribution mass per band and its peak band, against a
# null that permutes each target's band shares (`null=`). An LP unit should listen to 0.5-5 Hz, a VT unit higher.

# %%
attrs = {}
for cell, model in models.items():
    parts = []
    for c in CLASSES:
        for unit in flagged[cell][c]:
            parts.append(experiments.attribution(model, test_set, target=unit, frames="peak", classes=[c], steps=STEPS,
                                                 max_lag=MAX_LAG, progress=False))
    attrs[cell] = xr.concat(parts, dim="target")
    print(cell, attrs[cell].sizes["target"], "targets; largest completeness error",
          f"{float(attrs[cell].completeness_error.max()):.1e}")

# %%
rows = []
profiles = {}
for cell, attr in attrs.items():
    prof = analysis.band_profile(attr, null=NULL, seed=SEED)
    profiles[cell] = prof
    hz = prof.band_hz.values
    for c, (lo, hi) in CLASSES.items():
        for unit in flagged[cell][c]:
            p = prof.sel(unit=unit, layer=0)
            inside = (hz >= lo) & (hz <= hi)
            rows.append({"model": cell, "flagged for": c, "unit": unit,
                         "peak band (Hz)": float(p.band_peak_hz),
                         "share in LP band": float(p.band_profile.values[(hz >= 0.5) & (hz <= 5.0)].sum()),
                         "share in VT band": float(p.band_profile.values[(hz >= 4.0) & (hz <= 15.0)].sum()),
                         "bands above chance (p < 0.05)": ", ".join(f"{h:.2g}" for h in hz[p.band_profile_p.values
                                                                                               < 0.05]),
                         "own band above chance": bool((p.band_profile_p.values[inside] < 0.05).any())})
listening = pd.DataFrame(rows).set_index(["model", "flagged for", "unit"])
listening.round(2)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
for ax, (cell, prof) in zip(axes, profiles.items(), strict=True):
    for c, color in (("LP", "#56B4E9"), ("VTE", "#D55E00")):
        mean = prof.band_profile.sel(unit=flagged[cell][c], layer=0).mean("unit")
        ax.plot(prof.band_hz, mean, "o-", color=color, label=f"{c} units")
    ax.plot(prof.band_hz, prof.band_profile_null_q95.sel(layer=0).max("unit"), ":", color="grey",
            label="null 95 % (largest)")
    ax.axhline(1 / prof.sizes["band"], color="grey", lw=0.8, label="chance")
    ax.set_xscale("log"), ax.set_xlabel("band centre (Hz)"), ax.set_title(cell.upper())
axes[0].set_ylabel("share of the attribution mass"), axes[1].legend(fontsize=8)
plt.show()

# %% [markdown]
# Read the table with its nulls: a band counts as preferred when the unit's share exceeds what a unit attending
# to bands at random would reach (p < 0.05 over the segments explained). The delta and delta-delta features of a
# band count with it: an LP unit may listen to how fast the LP band's energy rises, not only to its level.
#
# ## 4. How far back: memory lengths of LSTM and GRU units
#
# Three numbers per unit, compared with Tang et al.'s claim that LSTM units remember longer than GRU units:
#
# - `memory_s` (`analysis.lag_profile`): the lag holding 90 % of the unit's attribution mass, against a null that
#   permutes each target's lag shares (its p-value is one-sided towards *shorter* memory). The features themselves
#   reach `attrs["reach_before"]` frames (4 s windows and deltas): lags within it still see the explained frame's
#   own signal;
# - `timescale_s` (`analysis.timescales`): `-dt / ln(mean gate)` of the gate that keeps the state (the LSTM's
#   forget gate; the GRU's update gate, PyTorch's `h_t = (1 - z) n + z h_{t-1}`);
# - `impulse_decay_s` (`experiments.impulse_response`): how long the response of `c` (LSTM) or `h` (GRU) to a
#   one-frame input impulse takes to fall below 1/e of its peak.

# %%
memory = {}
for cell, attr in attrs.items():
    lags = analysis.lag_profile(attr, null=NULL, seed=SEED)
    tau = analysis.timescales(runs[cell])
    impulse = experiments.impulse_response(models[cell], test_set, var="c" if cell == "lstm" else "h")
    units = lags.unit.values
    memory[cell] = pd.DataFrame({
        "memory_s": lags.memory_s.sel(layer=0).values, "memory p": lags.memory_s_p.sel(layer=0).values,
        "timescale_s": tau.timescale_s.sel(unit=units, layer=0).values,
        "impulse_decay_s": impulse.impulse_decay_s.sel(unit=units, layer=0).values}, index=units)
    memory[cell].index.name = "unit"
print("feature reach:", attrs["lstm"].attrs.get("reach_before"), "frames before an input frame see it")
pd.concat(memory, names=["model"]).round(2)

# %%
every = {cell: (analysis.timescales(runs[cell]).timescale_s.sel(layer=0).values,
                experiments.impulse_response(models[cell], test_set, var="c" if cell == "lstm" else "h")
                .impulse_decay_s.sel(layer=0).values) for cell in models}
summary = pd.DataFrame({cell: {"median gate time constant (s), all units": np.nanmedian(tau),
                               "median impulse decay (s), all units": np.nanmedian(decay),
                               "median attribution memory (s), flagged units": memory[cell]["memory_s"].median()}
                        for cell, (tau, decay) in every.items()})
summary.round(2)

# %%
fig, ax = plt.subplots(figsize=(5, 3.5))
for cell, color in (("lstm", "#0072B2"), ("gru", "#E69F00")):
    tau, decay = every[cell]
    ax.scatter(tau, decay, s=14, color=color, label=cell.upper())
lim = [0.1, max(np.nanmax(every["lstm"][0]), np.nanmax(every["gru"][0]), 1.0) * 1.5]
ax.plot(lim, lim, color="grey", lw=0.8)
ax.set_xscale("log"), ax.set_yscale("log"), ax.set_xlabel("gate time constant (s)")
ax.set_ylabel("impulse decay (s)"), ax.legend()
plt.show()

# %% [markdown]
# The gate time constant reads the gate alone; the impulse decay also sees the recurrent weights (a unit fed back by
# others remembers longer than its gate says) and the output nonlinearity. Where the two agree, the gate explains
# the memory; Tang's claim holds per unit when the LSTM's distribution sits to the right of the GRU's. These small
# models trained for a few epochs are a first look, not a verdict: `docs/claims.md` checks the papers' claims over
# seeds with controls.
#
# ## 5. Do the flagged units carry their class?
#
# The units flagged for each class (the `N_UNITS` of largest class gap, flagged on the training records) are
# silenced (`h = 0` at every step) and every class's frame recall and mean logit are measured on the test records,
# against `SILENCE_NULL` draws of random units of about the same mean activity (never units flagged for any class;
# quick mode: 40 draws, so the smallest p is 1 / 41 = 0.024; 100 with `QUICK = False`). A specialised unit set drops
# its own class's recall beyond the random units (small p on the diagonal) and leaves the others alone.

# %%
tables = {cell: experiments.class_silencing(model, test_set, class_units=N_UNITS, rank_on=train_set,
                                            null=SILENCE_NULL, seed=SEED, progress=False)
          for cell, model in models.items()}
for cell, table in tables.items():
    print(cell.upper(), "— drop of recall (rows: classes whose units are silenced; columns: recall of)")
    print(table.recall_drop.to_pandas().round(2).to_string())
    print("p against activity-matched random units")
    print(table.recall_drop_p.to_pandas().round(3).to_string(), "\n")

# %% [markdown]
# ## 6. Activation patching: a VT onset's units in an LP record
#
# The units flagged for VTE copy their states (`h` and the LSTM's `c`) from the first seconds of a VT event into the
# same number of frames of an LP record; everything else follows from the model's own equations. The class
# probabilities over time show whether those units alone make the model see a VT.

# %%
table = segment_frames(test_set)
names = test_set.attrs["class_names"]
vt = table[table["class"] == names.index("VTE")].iloc[0]
lp = table[(table["class"] == names.index("LP")) & (table.event != vt.event)].iloc[0]
patch = experiments.patch_activations(
    models["lstm"], test_set, donor=test_set, units=flagged["lstm"]["VTE"],
    frames=(float(lp.start), float(lp.start) + 8.0), donor_start=float(vt.start), donor_event=str(vt.event_id),
    event=str(lp.event_id))
fig, ax = plt.subplots(figsize=(9, 2.8))
for c, color in (("LP", "#56B4E9"), ("VTE", "#D55E00")):
    ax.plot(patch.time, patch.prob_clean.sel(class_name=c), color=color, lw=1, ls="--", label=f"{c}, intact")
    ax.plot(patch.time, patch.prob.sel(class_name=c), color=color, lw=1.5, label=f"{c}, VT units patched")
ax.axvspan(float(lp.start), float(lp.start) + 8.0, color="grey", alpha=0.2)
ax.set_xlabel("time (s) in the LP record"), ax.set_ylabel("probability"), ax.legend(fontsize=8, ncol=2)
plt.show()

# %% [markdown]
# ## 7. In the Explorer
#
# A click on a unit of the heatmap explains it at that time: the attribution (time x band) under the spectrogram,
# on the same time axis, with the unit's band profile, memory length and gate time constant. The model's side runs
# through the callable `experiments.attributor` builds (the widgets never import torch); attributions saved in the
# run (`run.merge(attr)`, then `rnnscope.save_run`) are read without a model.

# %%
ex = rnnscope.widgets.Explorer(runs["lstm"], event=int(lp.event), width=900,
                               attribute=experiments.attributor(models["lstm"], runs["lstm"], steps=STEPS,
                                                                max_lag=MAX_LAG))
ex.explain(flagged["lstm"]["LP"][0], float(lp.start) + 4.0)  # what a click does
ex

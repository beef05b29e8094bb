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
# # rnnscope quickstart
#
# From a synthetic volcano-seismic data set to the hidden states of a trained LSTM, in five steps:
# data -> features -> train -> capture -> explore. About a minute on 2 CPU cores (a GPU is used automatically).
#
# The classes are those of Titos & Garcia (2022): background noise **SIL**, volcanic tremor **TRE**, long-period
# events **LP**, volcano-tectonic earthquakes **VTE** and hybrid events **HYB**.

# %%
# Parameters: quick by default; set QUICK = False for a larger data set and model.
QUICK = True
N_RECORDS = 120 if QUICK else 400
HIDDEN = 64 if QUICK else 210
EPOCHS = 20 if QUICK else 60
SEED = 0

# %%
# %matplotlib inline
import numpy as np
import torch

import rnnscope

# pinned so the numbers below are the same on every run; one thread: a small recurrent model is no faster on more
# (each step is a small matrix product), and extra threads stall on a busy machine
torch.set_num_threads(1)
print("rnnscope", rnnscope.__version__, "| device:", "cuda" if torch.cuda.is_available() else "cpu")

# %% [markdown]
# ## 1. Data
#
# `synthetic` returns a *records* Dataset: waveforms at 100 Hz, a class label per sample, and a segment table
# (class, start, end, P and S arrivals) that `catalog` shows as a DataFrame.

# %%
records = rnnscope.data.synthetic(n_records=N_RECORDS, seed=SEED)
catalog = rnnscope.data.catalog(records)
catalog.head()

# %%
# NBVAL_CHECK_OUTPUT
print(records.sizes["event"], "records,", round(float(records.n_samples.sum()) / 100 / 3600, 2), "hours")
print(catalog["class_name"].value_counts().reindex(records.attrs["class_names"]).to_dict())

# %% [markdown]
# ## 2. Features
#
# 16 log filter-bank energies on a logarithmic frequency scale, their deltas and delta-deltas: 48 values per 4 s
# window, 2 frames per second (the paper's Section III-A). The figure shows one record: waveform with its labelled
# segments and P/S arrivals, spectrogram, features and frame labels.

# %%
frames = rnnscope.features.compute(records)
event = int(catalog.loc[catalog.class_name == "VTE", "event"].iloc[0])
rnnscope.plots.record_overview(frames, event=event)

# %% [markdown]
# ## 3. Train an LSTM
#
# Records are split into 4 folds that never cut a record; we train on three and keep one for testing. The model
# owns its input normalisation (fitted on the training records) and its class names.

# %%
labels = [frames.label.values[i, : int(frames.length[i])] for i in range(frames.sizes["event"])]
test_idx = rnnscope.train.record_folds(labels, folds=4, seed=SEED)[0]
train_idx = np.setdiff1d(np.arange(frames.sizes["event"]), test_idx)
train_set = rnnscope.data.select_records(frames, train_idx)
test_set = rnnscope.data.select_records(frames, test_idx)

torch.manual_seed(SEED)
model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=HIDDEN, num_classes=5)
history = rnnscope.train.fit(model, train_set, epochs=EPOCHS, validation=0.15, early_stopping=6, seed=SEED)
history.tail(3)

# %%
# NBVAL_CHECK_OUTPUT
scores = rnnscope.train.evaluate(model, test_set)
print(f"test frame accuracy {scores.accuracy:.2f}, macro F1 {scores.macro_f1:.2f}")

# %%
scores.confusion

# %% [markdown]
# ## 4. Capture every internal state
#
# `capture` runs the model once and keeps everything: the unit outputs `h`, the cell state `c` and the four gates,
# with dimensions (event, time, unit, layer), plus class probabilities and predictions. With `store=` the run is
# written to disk chunk by chunk and reopened lazily.

# %%
run = rnnscope.capture(model, test_set, store="quickstart_run.zarr", overwrite=True)
run

# %%
# NBVAL_CHECK_OUTPUT
print(dict(run.h.sizes))
print(sorted(v for v in run.data_vars if run[v].dims == ("event", "time", "unit", "layer")))

# %% [markdown]
# ## 5. Explore
#
# The Explorer links four views on one time axis: the waveform with true (upper band) and predicted (lower band)
# classes and P/S arrivals, the spectrogram, the activation heatmap (units x time; -1 red, 0 white, +1 blue) and the
# time series of selected units. Zoom or brush in any view; click a heatmap row to add or remove a unit's trace.
# The five most specialised units for the record's main class are preselected.

# %%
explorer = rnnscope.widgets.Explorer(rnnscope.open_run("quickstart_run.zarr"))
explorer

# %% [markdown]
# Next: `02_titos2022.ipynb` reproduces the paper's figures and tables, `03_tang_lstm_vs_gru.ipynb` compares LSTM
# and GRU dynamics, `04_your_own_data.ipynb` reads real waveforms with ObsPy.

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
# # Pinning a model's internals with nbval
#
# A lab that relies on what its network does inside — which units fire for LPs, how polarized the states are, how
# accurate it is on a reference set — wants to know when a code change, a library upgrade or a retrained model
# changes those numbers. A notebook that recomputes them and prints them **rounded**, tested with
# [nbval](https://nbval.readthedocs.io), does that with little machinery:
#
# 1. fixed inputs: a seeded synthetic data set (or the lab's own reference records), the shipped model file;
# 2. pinned randomness and threads, so the same computation gives the same numbers on every run;
# 3. check cells `with pinned("""..."""):` whose printed output must equal the text pinned in the cell (the
#    expected numbers live in the notebook's source, `notebooks/05_regression_tests.py`, reviewed like code); nbval
#    runs every cell, and a check whose numbers moved raises an error showing the pinned and the obtained lines.
#
# Here the model is rnnscope's shipped LSTM(64) (`rnnscope.examples.trained_model()`), a stand-in for yours.

# %%
# Parameters: the reference inputs. Change them only on purpose (the pinned outputs change with them).
SEED = 0
THREADS = 1           # small models: one thread is as fast and never stalls on a busy machine
N_RECORDS = 12        # reference records
RECORD_SEED = 2024    # not the seed the shipped model was trained on (0)
DIGITS = 3            # rounding of numbers computed from a fixed model

# %%
# %matplotlib inline
# %config InlineBackend.print_figure_kwargs = {"bbox_inches": "tight", "dpi": 72}
import contextlib
import difflib
import io
import warnings

import numpy as np
import pandas as pd
import torch

import rnnscope
from rnnscope import analysis, plots

np.random.seed(SEED)
torch.manual_seed(SEED)
torch.set_num_threads(THREADS)   # results on the CPU depend on the thread count: pin it
warnings.filterwarnings("ignore", category=analysis.EmptyClassWarning)
warnings.filterwarnings("ignore", message="In a future version of xarray", category=FutureWarning)
print("rnnscope", rnnscope.__version__, "| torch", torch.__version__, "| threads", torch.get_num_threads())


@contextlib.contextmanager
def pinned(expected: str):
    """Run the block, show what it prints, and fail when that differs from ``expected`` (trailing spaces aside)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        yield
    print(printed.getvalue(), end="")
    want = [line.rstrip() for line in expected.strip("\n").splitlines()]
    got = [line.rstrip() for line in printed.getvalue().strip("\n").splitlines()]
    if got != want:
        diff = "\n".join(difflib.unified_diff(want, got, "pinned", "obtained", lineterm=""))
        raise AssertionError(f"the pinned numbers moved (update the cell only if the change is intended):\n{diff}")

# %% [markdown]
# ## 1. The reference inputs
#
# A fixed set of synthetic records: the generator is seeded per record, so these are the same on every machine.
# The check cell pins their shape and class content: if the generator or the feature extraction changes, this cell
# fails first, which tells you the inputs moved rather than the model.

# %%
records = rnnscope.data.synthetic(n_records=N_RECORDS, seed=RECORD_SEED)
frames = rnnscope.features.compute(records)
catalog = rnnscope.data.catalog(frames)

# %%
with pinned("""
{'event': 12, 'time': 330, 'feature': 48} | valid frames: 2057
segments: {'SIL': 28, 'TRE': 5, 'LP': 14, 'VTE': 3, 'HYB': 1}
labelled frames: {'SIL': 1164, 'TRE': 347, 'LP': 413, 'VTE': 83, 'HYB': 50}
feature mean / std: 3.581 5.136
"""):
    print(dict(frames.features.sizes), "| valid frames:", int(frames.length.sum()))
    print("segments:", catalog["class_name"].value_counts().reindex(frames.attrs["class_names"]).to_dict())
    print("labelled frames:", {c: int((frames.label == i).sum()) for i, c in enumerate(frames.attrs["class_names"])})
    print("feature mean / std:", round(float(frames.features.mean()), DIGITS),
          round(float(frames.features.std()), DIGITS))

# %% [markdown]
# ## 2. The model and its run
#
# The shipped model file is read without executing code (safetensors + JSON config). `capture` runs it once over the
# reference records and keeps every internal state; inference on the CPU with a pinned thread count is deterministic.

# %%
model = rnnscope.examples.trained_model()
run = rnnscope.capture(model, frames, device="cpu", progress=False)

# %%
with pinned("""
RNNClassifier(48 features -> 5 classes ['SIL', 'TRE', 'LP', 'VTE', 'HYB'], 29,509 parameters
  layer 0: lstm 48 -> 64
  head: linear 64 -> 5
)
['c', 'cell_input', 'forget_gate', 'h', 'input_gate', 'output_gate']
"""):
    print(model)
    print(sorted(v for v in run.data_vars if run[v].dims == ("event", "time", "unit", "layer")))

# %% [markdown]
# ## 3. The numbers we pin
#
# Each check cell prints numbers rounded to `DIGITS` decimals. Rounding absorbs the last-bit differences between
# BLAS builds while any real change (a different unit ranking, a shift in accuracy) still shows.
#
# **Accuracy** on the reference records, frame level and event level, and the confusion matrix (frame counts):

# %%
with pinned("""
frame accuracy 0.702 | macro F1 0.607 | detection rate 0.783
predicted  SIL  TRE   LP  VTE  HYB
true
SIL        972   38  141   13    0
TRE        176  109   39    2   21
LP          83   39  291    0    0
VTE         38    3    0   42    0
HYB         20    0    0    1   29
"""):
    scores = rnnscope.train.evaluate(model, frames, device="cpu")
    print(f"frame accuracy {scores.accuracy:.{DIGITS}f} | macro F1 {scores.macro_f1:.{DIGITS}f} | "
          f"detection rate {scores.summary()['detection_rate']:.{DIGITS}f}")
    print(scores.confusion.to_string())

# %% [markdown]
# **Polarization and sparsity** of `h` (Titos & Garcia, Fig. 5), overall and per class:

# %%
with pinned("""
            polarization  sparsity
class_name
SIL                0.034     0.233
TRE                0.081     0.246
LP                 0.048     0.208
VTE                0.076     0.191
HYB                0.077     0.203
all                0.048     0.228
"""):
    hist = analysis.activation_histogram(run, per="class").sel(layer=0)
    overall = analysis.activation_histogram(run, per=None).sel(layer=0)
    table = pd.DataFrame({"polarization": hist["polarization"].to_series(), "sparsity": hist["sparsity"].to_series()})
    table.loc["all"] = [float(overall["polarization"]), float(overall["sparsity"])]
    print(table.round(DIGITS).to_string())

# %% [markdown]
# **The five most active units per class** (Table II; 0-based ids) with their heat. A retrained or modified model
# almost always changes this table first:

# %%
with pinned("""
SIL  24 (0.749) 41 (0.742) 33 (0.733)  3 (0.649) 48 (0.647)
TRE  33 (0.730) 41 (0.581)  2 (0.562) 49 (0.538) 55 (0.527)
LP   33 (0.855) 39 (0.687)  2 (0.683) 44 (0.659) 53 (0.595)
VTE  47 (0.810) 11 (0.809) 48 (0.759) 41 (0.752) 24 (0.729)
HYB  16 (0.869)  7 (0.718)  5 (0.680) 13 (0.661) 56 (0.654)
"""):
    top = analysis.top_units(run, k=5).sel(layer=0)
    for c in top["class_name"].values:
        units = top.sel(class_name=c)
        print(f"{c:4s}", " ".join(f"{int(u):2d} ({h:.{DIGITS}f})" for u, h in zip(units.values, units["heat"].values, strict=True)))

# %% [markdown]
# **Specialisation and a few summary values**: mean class selectivity, how many units prefer each class,
# susceptibility at segment boundaries, the share of LSTM cell values inside (−2, 2) (Tang et al.), the smoothness of
# the state trajectories, and the class correlation of the heat maps over the units shared at 50 %.

# %%
with pinned("""
specialisation index: 0.239
units preferring each class: {'SIL': 3, 'TRE': 9, 'LP': 14, 'VTE': 16, 'HYB': 22}
susceptibility: 1.128
LSTM c inside (-2, 2): 0.878
smoothness: 0.214
shared units at 50 %: 4
class_name_other   SIL   TRE    LP   VTE   HYB
class_name
SIL               1.00  0.98 -0.07  0.94  0.60
TRE               0.98  1.00  0.05  0.91  0.50
LP               -0.07  0.05  1.00 -0.38 -0.84
VTE               0.94  0.91 -0.38  1.00  0.82
HYB               0.60  0.50 -0.84  0.82  1.00
"""):
    spec = analysis.specialisation(run).sel(layer=0)
    print("specialisation index:", round(float(spec["specialisation"]), DIGITS))
    preferred = pd.Series(spec["preferred_class"].values).value_counts()
    print("units preferring each class:", preferred.reindex(run.attrs["class_names"], fill_value=0).to_dict())
    print("susceptibility:", round(float(analysis.susceptibility(run)["susceptibility"][0]), DIGITS))
    inside = float(analysis.cell_distribution(run, seed=SEED)["share_inside_2"][0])
    print("LSTM c inside (-2, 2):", round(inside, DIGITS))
    print("smoothness:", round(float(analysis.smoothness(run, seed=SEED)[0]), DIGITS))
    corr = analysis.class_correlation(run, fraction=0.5).sel(layer=0)
    print(f"shared units at 50 %: {int(corr['n_units'])}")
    print(corr.to_pandas().round(2).to_string())

# %% [markdown]
# A figure is useful for a human reviewing a failure but the checks compare printed text, not images, so figures go
# in ordinary cells:

# %%
plots.heat_maps(run)

# %% [markdown]
# ## 4. The shipped run agrees with a fresh capture
#
# rnnscope also ships the run of this model on 8 held-out records (`rnnscope.examples.trained_run()`, made by
# `benchmarks/make_shipped_assets.py`). Capturing those records again with today's code must give the same states:
# a cheap guard against silent changes in the cells, the normaliser or the capture.

# %%
with pinned("""
h: identical within 1e-5: True
c: identical within 1e-5: True
prob: identical within 1e-5: True
accuracy of the shipped run: 0.788 | recaptured: 0.788
"""):
    shipped = rnnscope.examples.trained_run().load()
    again = rnnscope.capture(model, shipped, device="cpu", progress=False)
    for var in ("h", "c", "prob"):
        diff = float(np.nanmax(np.abs(again[var].values - shipped[var].values)))
        print(f"{var}: identical within 1e-5: {diff < 1e-5}")
    print("accuracy of the shipped run:", round(analysis.frame_accuracy(shipped), DIGITS),
          "| recaptured:", round(analysis.frame_accuracy(again), DIGITS))

# %% [markdown]
# ## 5. Something trained in the notebook
#
# Training adds many more floating-point operations and some nondeterminism across machines, so numbers of a model
# trained here are pinned to 2 decimals. With seeds and threads fixed, training on the CPU repeats bit for bit on
# one machine; a different CPU, BLAS or PyTorch version can move the last digits, so keep such checks few and coarse.

# %%
with pinned("""
final training loss 1.68, accuracy 0.42
"""):
    torch.manual_seed(SEED)
    tiny = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=8, num_classes=5)
    history = rnnscope.train.fit(tiny, frames, epochs=3, seed=SEED, threads=THREADS, progress=False)
    print(f"final training loss {history['loss'].iloc[-1]:.2f}, accuracy {history['accuracy'].iloc[-1]:.2f}")

# %% [markdown]
# ## 6. Running the checks
#
# From the repository root:
#
# ```
# .venv/bin/pytest notebooks/05_regression_tests.ipynb
# ```
#
# `pyproject.toml` adds `--nbval-lax --nbval-current-env` to every pytest run: `--nbval-lax` runs every cell and
# fails on any error (a check whose numbers moved raises one), `--nbval-current-env` runs the notebook in the current
# Python environment instead of the kernel named in the notebook. The notebook is committed twice, as its source
# `notebooks/05_regression_tests.py` (jupytext percent format: the file you edit and review) and as the `.ipynb`
# built from it without outputs (`make notebooks`); the expected numbers are in the source, so a check can fail
# whatever outputs a copy of the notebook carries.
#
# A failing cell shows the pinned and the obtained lines as a diff.
#
# ## 7. Updating the pinned numbers
#
# When a change is **intended** (a retrained model, a fixed bug, new reference records):
#
# 1. run the test and read each failing cell's diff: check that only the numbers you expected to move did;
# 2. copy the obtained lines into the `pinned("""...""")` text of those cells in `notebooks/05_regression_tests.py`,
#    then `make notebooks` (rebuilds the `.ipynb` from the source);
# 3. run the test again to confirm it passes, and commit both files with a message that says why the numbers
#    changed (`git diff` of the `.py` shows exactly which numbers moved).
#
# Never update the pinned numbers to silence a failure you cannot explain: that failure is what the notebook is for.

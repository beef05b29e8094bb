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
# # Your own data
#
# rnnscope reads what observatories have: waveforms ObsPy can read (MiniSEED, SAC, ...) with a catalog of labelled
# segments, and models trained with other code. This notebook uses the real waveforms that ship inside ObsPy (no
# download), a small hand-written catalog, the model shipped with rnnscope, and a PyTorch LSTM trained "elsewhere".

# %%
# %matplotlib inline
import io

import numpy as np
import obspy
import pandas as pd
import torch

import rnnscope

torch.set_num_threads(1)  # small models: one thread is as fast and never stalls on a busy machine

# %% [markdown]
# ## 1. Waveforms and a catalog
#
# `obspy.read()` returns ObsPy's example stream: three components of station BW.RJOB at 100 Hz with a local
# earthquake. The catalog is a CSV (a DataFrame works too) with trace id, start, end, class and optional P/S
# arrivals; times are ISO 8601 in UTC (time zones are converted). Outside the catalogued segments samples are
# unknown unless `background="SIL"` says they are background.

# %%
stream = obspy.read()
print(stream)
catalog_csv = """trace_id,start,end,class,p,s
BW.RJOB..EHZ,2009-08-24T00:20:07.0,2009-08-24T00:20:21.0,VTE,2009-08-24T00:20:07.6,2009-08-24T00:20:09.3
"""
catalog = pd.read_csv(io.StringIO(catalog_csv))
catalog

# %%
records = rnnscope.data.from_obspy(stream.select(component="Z"), catalog=catalog, background="SIL",
                                   bandpass=(0.5, 20.0))
rnnscope.data.catalog(records)

# %% [markdown]
# Data at other rates are resampled with an anti-alias filter (here a 200 Hz MiniSEED from ObsPy's test data
# becomes 100 Hz); gaps are labelled unknown, never background.

# %%
# NBVAL_CHECK_OUTPUT
from pathlib import Path

path = Path(obspy.__file__).parent / "io" / "mseed" / "tests" / "data" / "BW.BGLD.__.EHE.D.2008.001.first_10_records"
other = rnnscope.data.from_obspy(str(path))
print(obspy.read(str(path))[0].stats.sampling_rate, "Hz ->", other.attrs["sampling_rate"], "Hz,",
      int(other.n_samples[0]), "samples")

# %% [markdown]
# ## 2. Features, a model, a run
#
# The shipped LSTM(64) was trained on synthetic data; the real records are far shorter than its training records,
# so its predictions here illustrate the mechanics, not its skill.

# %%
frames = rnnscope.features.compute(records)
model = rnnscope.examples.trained_model()
print(model)
run = rnnscope.capture(model, frames, progress=False)
rnnscope.plots.record_overview(run, event=0)

# %%
# NBVAL_CHECK_OUTPUT
print(dict(run.c.sizes))
print("frames:", int(run.length[0]), "| labelled VTE frames:", int((run.label[0] == 3).sum()))

# %%
rnnscope.widgets.Explorer(run)

# %% [markdown]
# ## 3. A model trained elsewhere, made an rnnscope classifier: `from_torch`
#
# Any `nn.LSTM` / `nn.GRU` / `nn.RNN` (batch first or not, any number of layers) with an `nn.Linear` head becomes an
# `RNNClassifier` with identical outputs, so capture, masks and every analysis work on it. Here a bare PyTorch loop
# stands in for another team's training code.
# Convert a model when you want to train it further (`rnnscope.train.fit`), save it as an rnnscope model file or
# prune it; to look inside a model as it is, whatever its shape, see section 4.
#

# %%
synthetic = rnnscope.features.compute(rnnscope.data.synthetic(n_records=20, seed=1))
raw = torch.from_numpy(np.nan_to_num(synthetic.features.values))
mean, std = raw.mean((0, 1)), raw.std((0, 1))
x = (raw - mean) / std                              # their own normalisation, outside the model
y = torch.from_numpy(synthetic.label.values.astype(np.int64))

torch.manual_seed(0)
lstm, head = torch.nn.LSTM(48, 16, batch_first=True), torch.nn.Linear(16, 5)
optimiser = torch.optim.Adam([*lstm.parameters(), *head.parameters()], lr=1e-2)
for _ in range(15):
    optimiser.zero_grad()
    loss = torch.nn.functional.cross_entropy(head(lstm(x)[0]).reshape(-1, 5), y.reshape(-1), ignore_index=-1)
    loss.backward()
    optimiser.step()

wrapped = rnnscope.models.from_torch(lstm, head, class_names=["SIL", "TRE", "LP", "VTE", "HYB"])
with torch.no_grad():
    same = torch.allclose(wrapped(x), head(lstm(x)[0]), atol=1e-5)
print("identical outputs:", same)

# %% [markdown]
# Their normalisation happened outside the model; give the wrapped model the same one so it can read raw
# features (or keep feeding it normalised features).

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    wrapped.feature_mean.copy_(mean)
    wrapped.feature_std.copy_(std)
run_elsewhere = rnnscope.capture(wrapped, synthetic, progress=False)
print(sorted(v for v in run_elsewhere.data_vars if "gate" in v))

# %% [markdown]
# ## 4. A model trained elsewhere, as it is: SeisBench's EQTransformer
#
# Nothing needs converting to look inside a model: `rnnscope.capture` takes **any** `torch.nn.Module` and what its
# `forward` takes (batch first). Every `nn.LSTM` / `nn.GRU` / `nn.RNN` inside it (bidirectional, projected, over packed
# sequences) and every `nn.LSTMCell` / `nn.GRUCell` / `nn.RNNCell` called in its own loop is captured, every layer
# and direction, exactly (the model's own forward runs; its outputs are unchanged).
#
# SeisBench's EQTransformer reads 60 s windows of three components at 100 Hz. It is built here with random weights
# (`sbm.EQTransformer.from_pretrained("original")` loads the published ones, which needs a download): the point is
# the plumbing, not what the units learned. The ObsPy record fills the first 30 s of one window (zeros after it),
# normalised as SeisBench does; the catalogue's sample labels come along, mapped onto each LSTM step (the label at the
# step's centre).
#

# %%
import seisbench.models as sbm

torch.manual_seed(0)
eqt = sbm.EQTransformer()                               # random weights: nothing is downloaded
window = np.zeros((1, 3, 6000), dtype=np.float32)       # (batch, channel Z/N/E, sample): 60 s at 100 Hz
for c, component in enumerate("ZNE"):
    window[0, c, :3000] = stream.select(component=component)[0].data
window -= window.mean(axis=-1, keepdims=True)
window /= window.std() + 1e-10
labels = np.full((1, 6000), -1)                         # class per input sample, -1 unknown
labels[0, :3000] = records.sample_label.values[0, :3000]

run_eqt = rnnscope.capture(eqt, window, sampling_rate=100, time_axis=-1, labels=labels,
                           class_names=records.attrs["class_names"], progress=False)

# %% [markdown]
# Each layer and direction of each LSTM is one entry of `layer`, labelled by the coordinates `module` (its name
# in `eqt.named_modules()`), `module_layer` and `direction`. The LSTMs run over 47 steps of the 60 s window, so a step
# lasts 60 / 47 = 1.28 s and `time` is each step's centre in seconds. (Modules over different step counts cannot
# share a run: `rnnscope.capture_modules` returns one run per step count, as a dict keyed by step count.)
#

# %%
# NBVAL_CHECK_OUTPUT
print(dict(run_eqt.h.sizes), "| step:", round(run_eqt.attrs["step_seconds"], 3), "s")
for label, units in zip(rnnscope.schema.layer_labels(run_eqt), run_eqt.layer_units.values, strict=True):
    print(f"{label:42s} {units} units")
print("VTE steps:", int((run_eqt.label[0] == run_eqt.attrs["class_names"].index("VTE")).sum()))

# %% [markdown]
# The analyses read these runs like any other (what needs labels says so when a run has none), and the Explorer
# shows them: pick a layer and direction in the layer selector (e.g. "bi_lstm_stack.members.0.lstm[0] backward").
# Units are silenced the same way in any model, `{layer: units}` with the run's layer index (the position of a
# label in `rnnscope.schema.layer_labels(run_eqt)`):
# `with rnnscope.experiments.silenced(eqt, {1: [0, 1, 2]}): ...` silences units 0-2 of the layer shown below.
#

# %%
rnnscope.widgets.Explorer(run_eqt, layer=1)

# %% [markdown]
# ## 5. Your labels, your classes: Transcriber, QuakeML, CSV; another background
#
# Observatory archives are often **event-cut files** (one MiniSEED file per event, months apart) labelled in
# Transcriber (`.trs`: each `<Sync time=.../>` mark opens a segment labelled by the text after it; the times may be in
# a scaled time base), in a QuakeML catalog or in a CSV with times from each file's start. The readers
# `rnnscope.data.read_transcriber`, `read_quakeml_catalog` and `read_relative_csv` turn them into the catalog
# `from_obspy` takes. Here: 50 Hz files of one station in August and December, six classes of the Chilean volcano
# sets (`BG` background, `VT`, `LP`, `TR`, `AV`, `IC`), labels in tenths of a second. Files months apart stay
# separate records (`max_gap_s`), so memory follows the files, not the months between them.

# %%
import tempfile
from pathlib import Path

workdir = Path(tempfile.mkdtemp())
names = {"SIL": "BG", "VTE": "VT", "LP": "LP", "TRE": "TR", "HYB": "AV"}
synthetic_events = rnnscope.data.synthetic(n_records=8, seed=11, sampling_rate=50.0, record_duration_s=(60.0, 90.0))
table = rnnscope.data.catalog(synthetic_events)
starts = [obspy.UTCDateTime(2017, 8, 3) + 7200 * i for i in range(4)] + \
         [obspy.UTCDateTime(2017, 12, 11) + 7200 * i for i in range(4)]
labels = []
for i, start in enumerate(starts):
    n = int(synthetic_events.n_samples[i])
    trace = obspy.Trace((synthetic_events.waveform.values[i, :n] * 1e4).astype(np.int32),
                        header={"network": "KC", "station": "BEZ", "channel": "EHZ", "sampling_rate": 50.0,
                                "starttime": start})
    wave = workdir / f"BEZ_{start.strftime('%Y%m%dT%H%M')}.mseed"
    trace.write(str(wave), format="MSEED")
    marks = "".join(f'<Sync time="{row.start / 10:.3f}"/>\n{"IC" if (row.class_name == "LP" and k % 3 == 1) else names[row.class_name]}\n'
                    for k, row in enumerate(table[table.event == i].itertuples()))
    trs = wave.with_suffix(".trs")
    trs.write_text(f'<?xml version="1.0"?><Trans><Episode><Section type="report" startTime="0" endTime="{n / 500:.3f}">'
                   f'<Turn startTime="0" endTime="{n / 500:.3f}">\n{marks}</Turn></Section></Episode></Trans>')
    labels.append(rnnscope.data.read_transcriber(trs, wave, time_scale=10.0))  # reference: the labelled file
labels = pd.concat(labels, ignore_index=True)
labels.head()

# %%
# NBVAL_CHECK_OUTPUT
chile = ["BG", "VT", "LP", "TR", "AV", "IC"]
events = rnnscope.data.from_obspy(str(workdir / "*.mseed"), catalog=labels, sampling_rate=50.0, class_names=chile,
                                  background="BG")
print(events.sizes["event"], "records;", "background:", events.attrs["background"])
print(rnnscope.data.catalog(events).groupby("class_name").size().to_dict())

# %% [markdown]
# The background is data from here on: features, the model trained on them, its file, the run and the monitor
# all carry `BG` as the background class, so no analysis counts background onsets and no detection is of class `BG`.
# The model also remembers its input (50 Hz, the feature configuration): monitoring 100 Hz data resamples it, and
# features computed differently are refused with both configurations named.

# %%
# NBVAL_CHECK_OUTPUT
event_frames = rnnscope.features.compute(events)
torch.manual_seed(0)
bez = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=16, num_classes=len(chile), class_names=chile)
rnnscope.train.fit(bez, event_frames, epochs=3, progress=False)
print("model background:", bez.background, "| trained at", bez.sampling_rate, "Hz")
result = rnnscope.monitor(bez, str(workdir / "*.mseed"), progress=False)
print("detections of the background class:", int((result.detections.class_name == "BG").sum()))

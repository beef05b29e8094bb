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
# # Detections of a monitored archive in the Explorer
#
# `rnnscope.monitor` runs a trained model over continuous waveforms (an SDS archive, MiniSEED files, an ObsPy
# `Stream`) with the recurrent state carried along, and returns a detection catalog; with `capture_store` it also
# keeps every internal state of the network over the whole span, as a run. The Explorer opens that run with the
# catalog: every detection is marked on the views and listed in a table under them (in a running notebook, a click
# on a row zooms to it). The command line (`rnnscope monitor`), station networks on Dask, the analyst's review page
# and retraining are in the user guide's monitoring page (`docs/monitoring.md`).
#
# Everything here is small and synthetic: 20 minutes of one station, and the LSTM(64) shipped with rnnscope
# (`rnnscope.examples.trained_model()`, trained on the synthetic classes). About 20 seconds on 2 CPU cores.

# %%
import tempfile
from pathlib import Path

import numpy as np
import obspy

import rnnscope

model = rnnscope.examples.trained_model()
records = rnnscope.data.synthetic(n_records=4, seed=7, record_duration_s=(300.0, 300.0))  # four 5-minute records
rate = float(records.attrs["sampling_rate"])
start = obspy.UTCDateTime(2024, 3, 1)
traces = [obspy.Trace(records.waveform.values[i, : int(records.n_samples[i])].astype(np.float32),
                      header={"network": "XX", "station": "SYN", "channel": "HHZ", "sampling_rate": rate,
                              "starttime": start + 300.0 * i})
          for i in range(records.sizes["event"])]
workdir = Path(tempfile.mkdtemp())
archive = workdir / "XX.SYN..HHZ.mseed"
obspy.Stream(traces).merge().write(str(archive), format="MSEED")  # one continuous 20-minute trace
print(obspy.read(str(archive)))

# %% [markdown]
# ## 1. Monitor
#
# The model reads the file in blocks, with its state carried from one block to the next, and the class
# probabilities become detections: runs of frames of one class (other than the background class, `SIL` here),
# smoothed and at least as long as each class's minimum duration. `capture_store` keeps the states too.

# %%
result = rnnscope.monitor(model, str(archive), capture_store=workdir / "capture", progress=False)
print(len(result.detections), "detections:", result.detections["class_name"].value_counts().to_dict())
result.detections[["seed_id", "class_name", "start", "end", "duration_s", "p_mean"]].head()

# %% [markdown]
# ## 2. Explore the monitored span with its detections
#
# The captured run is opened lazily (only what is shown is read). The table under the views lists the detections;
# filter it by class, station or probability, and in a running notebook pick a row to zoom on it.

# %%
run = rnnscope.open_run(result.capture_store[0])
explorer = rnnscope.widgets.Explorer(run, catalog=result.detections)
explorer

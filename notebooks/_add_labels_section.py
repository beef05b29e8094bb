"""Add (or replace) notebook 04's section on annotation formats and label sets of your own.

Run ``python notebooks/_add_labels_section.py`` then re-execute the notebook (see notebooks/_make_notebooks.py).
"""
from __future__ import annotations

import json
from pathlib import Path

NOTEBOOK = Path(__file__).with_name("04_your_own_data.ipynb")
MARK = "## 5. Your labels, your classes"

CELLS = [
    ("markdown", f"""{MARK}: Transcriber, QuakeML, CSV; another background

Observatory archives are often **event-cut files** (one MiniSEED file per event, months apart) labelled in
Transcriber (`.trs`: each `<Sync time=.../>` mark opens a segment labelled by the text after it; the times may be in
a scaled time base), in a QuakeML catalog or in a CSV with times from each file's start. The readers
`rnnscope.data.read_transcriber`, `read_quakeml_catalog` and `read_relative_csv` turn them into the catalog
`from_obspy` takes. Here: 50 Hz files of one station in August and December, six classes of the Chilean volcano
sets (`BG` background, `VT`, `LP`, `TR`, `AV`, `IC`), labels in tenths of a second. Files months apart stay
separate records (`max_gap_s`), so memory follows the files, not the months between them."""),
    ("code", """import tempfile
from pathlib import Path

workdir = Path(tempfile.mkdtemp())
names = {"SIL": "BG", "VTE": "VT", "LP": "LP", "TRE": "TR", "HYB": "AV"}
synthetic_events = rnnscope.data.synthetic(n_records=8, seed=11, sampling_rate=50.0, duration_s=(60.0, 90.0))
table = rnnscope.data.catalog(synthetic_events)
starts = [obspy.UTCDateTime(2017, 8, 3) + 7200 * i for i in range(4)] + \\
         [obspy.UTCDateTime(2017, 12, 11) + 7200 * i for i in range(4)]
labels = []
for i, start in enumerate(starts):
    n = int(synthetic_events.n_samples[i])
    trace = obspy.Trace((synthetic_events.waveform.values[i, :n] * 1e4).astype(np.int32),
                        header={"network": "KC", "station": "BEZ", "channel": "EHZ", "sampling_rate": 50.0,
                                "starttime": start})
    wave = workdir / f"BEZ_{start.strftime('%Y%m%dT%H%M')}.mseed"
    trace.write(str(wave), format="MSEED")
    marks = "".join(f'<Sync time="{row.start / 10:.3f}"/>\\n{"IC" if (row.class_name == "LP" and k % 3 == 1) else names[row.class_name]}\\n'
                    for k, row in enumerate(table[table.event == i].itertuples()))
    trs = wave.with_suffix(".trs")
    trs.write_text(f'<?xml version="1.0"?><Trans><Episode><Section type="report" startTime="0" endTime="{n / 500:.3f}">'
                   f'<Turn startTime="0" endTime="{n / 500:.3f}">\\n{marks}</Turn></Section></Episode></Trans>')
    labels.append(rnnscope.data.read_transcriber(trs, wave, time_scale=10.0))  # reference: the labelled file
labels = pd.concat(labels, ignore_index=True)
labels.head()"""),
    ("code", """# NBVAL_CHECK_OUTPUT
chile = ["BG", "VT", "LP", "TR", "AV", "IC"]
events = rnnscope.data.from_obspy(str(workdir / "*.mseed"), catalog=labels, sampling_rate=50.0, class_names=chile,
                                  background="BG")
print(events.sizes["event"], "records;", "background:", events.attrs["background"])
print(rnnscope.data.catalog(events).groupby("class_name").size().to_dict())"""),
    ("markdown", """The background is data from here on: features, the model trained on them, its file, the run and the monitor
all carry `BG` as the background class, so no analysis counts background onsets and no detection is of class `BG`.
The model also remembers its input (50 Hz, the feature configuration): monitoring 100 Hz data resamples it, and
features computed differently are refused with both configurations named."""),
    ("code", """# NBVAL_CHECK_OUTPUT
event_frames = rnnscope.features.compute(events)
torch.manual_seed(0)
bez = rnnscope.models.RNNClassifier("gru", 48, 16, len(chile), class_names=chile)
rnnscope.train.fit(bez, event_frames, epochs=3, progress=False)
print("model background:", bez.background, "| trained at", bez.sampling_rate, "Hz")
result = rnnscope.monitor(bez, str(workdir / "*.mseed"), progress=False)
print("detections of the background class:", int((result.detections.class_name == "BG").sum()))"""),
]


def main() -> None:
    nb = json.loads(NOTEBOOK.read_text())
    cells = nb["cells"]
    start = next((i for i, c in enumerate(cells) if "".join(c["source"]).startswith(MARK)), None)
    if start is not None:
        cells[:] = cells[:start]
    for kind, text in CELLS:
        cell = {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    NOTEBOOK.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

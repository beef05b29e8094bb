"""End to end on data shaped like the public real sets, made here (no downloads).

Six classes with the background "BG" (as the Chilean volcano sets: BG, VT, LP, TR, AV, IC), 50 Hz event-cut MiniSEED
files of one station recorded months apart (as Bezymianny's) labelled in Transcriber ``.trs`` files whose times are
in a scaled time base. Through reader -> features -> fit -> capture -> every analysis -> Explorer -> monitor (Python
and CLI) -> QuakeML read back with ObsPy. It checks that no output mentions a class that is not in the data, that no
detection is of the background class, and that the numbers on subsets of records equal those of the subsets' own
runs.
"""
from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import rnnscope

obspy = pytest.importorskip("obspy")

pytestmark = pytest.mark.slow

NAMES = ["BG", "VT", "LP", "TR", "AV", "IC"]
RENAME = {"SIL": "BG", "VTE": "VT", "LP": "LP", "TRE": "TR", "HYB": "AV"}
FOREIGN = re.compile(r"\b(SIL|TRE|VTE|HYB)\b")  # the synthetic world's names that are not in these data
RATE = 50.0
TIME_SCALE = 10.0  # the .trs files count tenths of the signal's seconds
STARTS = [obspy.UTCDateTime("2017-08-03T00:00:00") + 3 * 3600 * i for i in range(6)] + \
         [obspy.UTCDateTime("2017-12-11T00:00:00") + 3 * 3600 * i for i in range(6)]
SEED_ID = "KC.BEZ..EHZ"


def _trs(rows: pd.DataFrame, end_s: float) -> str:
    marks = "".join(f'<Sync time="{start / TIME_SCALE:.4f}"/>\n{label}\n' for start, label in rows)
    return (f'<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE Trans SYSTEM "trans-14.dtd">\n<Trans>'
            f'<Episode><Section type="report" startTime="0" endTime="{end_s / TIME_SCALE:.4f}">'
            f'<Turn startTime="0" endTime="{end_s / TIME_SCALE:.4f}">\n{marks}</Turn></Section></Episode></Trans>\n')


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """12 MiniSEED files (August and December) with .trs labels in a scaled time base, and their catalogue."""
    root = tmp_path_factory.mktemp("bezymianny_like")
    recs = rnnscope.data.synthetic(n_records=len(STARTS), seed=5, sampling_rate=RATE, record_duration_s=(70.0, 120.0))
    cat = rnnscope.data.catalog(recs)
    files, tables = [], []
    for i, start in enumerate(STARTS):
        n = int(recs["n_samples"][i])
        data = np.asarray(recs["waveform"].values[i, :n], dtype=np.float64)
        tr = obspy.Trace((data * 1e4).astype(np.int32), header={
            "network": "KC", "station": "BEZ", "channel": "EHZ", "sampling_rate": RATE, "starttime": start})
        path = root / f"BEZ_{start.strftime('%Y%m%dT%H%M%S')}.mseed"
        tr.write(str(path), format="MSEED")
        rows = cat[cat.event == i]
        labels = []
        for k, row in enumerate(rows.itertuples()):
            name = RENAME[row.class_name]
            if name == "LP" and k % 3 == 1:
                name = "IC"  # a sixth class the synthetic world does not have
            labels.append((row.start, name))
        trs = root / (path.stem + ".trs")
        trs.write_text(_trs(labels, n / RATE), encoding="latin-1")
        files.append(path)
        tables.append(rnnscope.data.read_transcriber(trs, path, time_scale=TIME_SCALE))
    catalog = pd.concat(tables, ignore_index=True)
    return root, files, catalog


@pytest.fixture(scope="module")
def pipeline(archive):
    root, files, catalog = archive
    records = rnnscope.data.from_obspy([str(f) for f in files], catalog, sampling_rate=RATE, class_names=NAMES,
                                       background="BG")
    frames = rnnscope.features.compute(records)
    model = rnnscope.models.RNNClassifier("gru", input_size=frames.sizes["feature"], hidden_size=12,
                                          num_classes=len(NAMES), class_names=NAMES)
    rnnscope.train.fit(model, frames, epochs=3, progress=False, seed=0)
    run = rnnscope.capture(model, frames, progress=False)
    return records, frames, model, run


def _no_foreign_names(what, value):
    text = value if isinstance(value, str) else repr(value)
    found = FOREIGN.findall(text)
    assert not found, f"{what} mentions classes not in the data: {sorted(set(found))}"


def test_reader_makes_one_record_per_file_months_apart_with_the_labels(archive, pipeline):
    _, files, catalog = archive
    records = pipeline[0]
    assert records.sizes["event"] == len(files)  # months (and hours) apart: never one gap-filled trace
    assert records.attrs["background"] == "BG" and list(records.attrs["class_names"]) == NAMES
    starts = sorted(str(s)[:10] for s in records["starttime"].values)
    assert starts[0] == "2017-08-03" and starts[-1] == "2017-12-11"
    table = rnnscope.data.catalog(records)
    assert set(table["class_name"]) <= set(NAMES) and "IC" in set(table["class_name"])
    assert len(table) == len(catalog)


ANALYSES = {
    "activation_histogram": lambda r: rnnscope.analysis.activation_histogram(r),
    "heat_map": lambda r: rnnscope.analysis.heat_map(r),
    "top_fraction": lambda r: rnnscope.analysis.top_fraction(r, fraction=0.5),
    "class_correlation": lambda r: rnnscope.analysis.class_correlation(r),
    "top_units": lambda r: rnnscope.analysis.top_units(r),
    "unit_activity": lambda r: rnnscope.analysis.unit_activity(r),
    "specialisation": lambda r: rnnscope.analysis.specialisation(r),
    "susceptibility": lambda r: rnnscope.analysis.susceptibility(r),
    "detector_units": lambda r: rnnscope.analysis.detector_units(r),
    "cell_distribution": lambda r: rnnscope.analysis.cell_distribution(r),
    "responsibility": lambda r: rnnscope.analysis.responsibility(r),
    "temporal_trace": lambda r: rnnscope.analysis.temporal_trace(r, event=0),
    "smoothness": lambda r: rnnscope.analysis.smoothness(r),
    "frame_accuracy": lambda r: rnnscope.analysis.frame_accuracy(r),
}


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_every_analysis_speaks_of_these_classes_only(pipeline, name):
    run = pipeline[3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = ANALYSES[name](run)
    _no_foreign_names(name, out)
    if isinstance(out, (xr.Dataset, xr.DataArray)) and "class_name" in out.coords:
        assert set(map(str, out["class_name"].values)) <= set(NAMES)


def test_background_onsets_are_not_counted(pipeline):
    run = pipeline[3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sus = rnnscope.analysis.susceptibility(run)
    classes = set(map(str, sus["class_name"].values)) if "class_name" in sus.coords else set()
    assert "BG" not in classes


def test_numbers_on_subsets_equal_the_subsets_own_runs(pipeline):
    _, frames, model, run = pipeline
    subset = [7, 0, 3]
    own = rnnscope.capture(model, frames.isel(event=subset), progress=False)
    for name in ("heat_map", "class_correlation", "unit_activity", "specialisation"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a, b = ANALYSES[name](run.isel(event=subset)), ANALYSES[name](own)
        xr.testing.assert_allclose(a.load(), b.load(), atol=1e-5)


def test_the_explorer_shows_these_classes(pipeline):
    import rnnscope.widgets as rw

    run = pipeline[3]
    ex = rw.Explorer(run)
    html = " ".join(getattr(w, "value", "") for w in _walk(ex) if isinstance(getattr(w, "value", None), str))
    _no_foreign_names("the Explorer", html)
    assert "BG" in html or "VT" in html


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from _walk(child)


def test_monitor_python_and_cli_report_events_of_these_classes_only(archive, pipeline, tmp_path):
    _, files, _ = archive
    model = pipeline[2]
    model_path = model.save(tmp_path / "bez.safetensors")
    source = [str(f) for f in files]
    result = rnnscope.monitor(rnnscope.models.load(model_path), source, progress=False)
    det = result.detections
    assert len(det) > 0
    assert set(det["class_name"]) <= set(NAMES) - {"BG"}, "a detection of the background class"
    _no_foreign_names("monitor detections", det.to_csv())
    quakeml = result.to_quakeml(tmp_path / "events.xml")
    events = obspy.read_events(quakeml)
    assert len(events) == len(det)
    back = rnnscope.data.read_quakeml_catalog(quakeml)
    assert list(back["class_name"]) == list(det["class_name"])

    from rnnscope.cli import main

    out = tmp_path / "cli"
    assert main(["monitor", str(model_path), str(files[0].parent / "*.mseed"), "--out", str(out), "--quiet"]) == 0
    cli = pd.read_csv(out / "detections.csv")
    assert set(cli["class_name"]) <= set(NAMES) - {"BG"}
    assert len(cli) == len(det)
    _no_foreign_names("CLI catalog", (out / "detections.xml").read_text())
    meta = json.loads((out / "probabilities.mseed.json").read_text()) if (out / "probabilities.mseed.json").exists() \
        else {}
    _no_foreign_names("probability MiniSEED", json.dumps(meta))

"""Schema 2: any selection, reordering or concatenation of a run's records analyses like a capture of those records.

The segment table names records by ``event_id`` and the summaries know which records they describe, so
``run.isel(event=S)`` needs no fixing up: every analysis gives what a capture of ``frames.isel(event=S)`` gives.
Version-1 stores (positional ``segment_event``) are upgraded on opening.
"""
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnscope
from rnnscope import analysis, io, schema
from rnnscope.models import RNNClassifier

N_RECORDS = 6


@pytest.fixture(scope="module")
def frames():
    records = rnnscope.data.synthetic(n_records=N_RECORDS, seed=4, duration_s=(25, 60))
    return rnnscope.features.compute(records)


@pytest.fixture(scope="module")
def model(frames):
    torch.manual_seed(1)
    m = RNNClassifier(["lstm", "gru"], frames.sizes["feature"], 5, 5)
    m.fit_normalizer(frames)
    return m


@pytest.fixture(scope="module")
def run(model, frames):
    return rnnscope.capture(model, frames, progress=False, batch_size=4)


def _close(a, b, what):
    """Analysis results (DataArray, Dataset, or a TopFraction) equal to 1e-5, coordinates included."""
    if isinstance(a, analysis.TopFraction):
        assert a.units == b.units, what
        a, b = a.heat, b.heat
    try:
        xr.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}") from None


def _analyses(run):
    """Every analysis of rnnscope.analysis that reads a run's records, by name."""
    heat = analysis.heat_map(run)
    out = {
        "heat_map": heat,
        "heat_map(frame)": analysis.heat_map(run, weighting="frame"),
        "heat_map(c)": analysis.heat_map(run, "c", layer=0),
        "top_fraction": analysis.top_fraction(heat, 0.5),
        "class_correlation": analysis.class_correlation(run, 0.5),
        "top_units": analysis.top_units(run, 3),
        "specialisation": analysis.specialisation(run),
        "activation_histogram": analysis.activation_histogram(run),
        "activation_histogram(segment)": analysis.activation_histogram(run, by="segment"),
        "activation_histogram(c)": analysis.activation_histogram(run, "c", layer=0, by=None),
        "unit_activity": analysis.unit_activity(run),
        "susceptibility": analysis.susceptibility(run, k=1, far=3),
        "detector_units": analysis.detector_units(run, k=1),
        "cell_distribution": analysis.cell_distribution(run),
        "responsibility": analysis.responsibility(run),
        "smoothness": analysis.smoothness(run),
        "temporal_trace": analysis.temporal_trace(run, 0),
    }
    return out


def _compare(got, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        a, b = _analyses(got), _analyses(expected)
    for name in a:
        _close(a[name], b[name], name)


def _segment_heat_by_hand(run):
    """Class -> (unit, layer) heat, straight from the definition, each segment found by its record's event_id."""
    position = {str(i): k for k, i in enumerate(run.event_id.values)}
    h, times = np.abs(run.h.values.astype(np.float64)), run.time.values
    per_class = {}
    for i, c, a, b in zip(run.segment_event_id.values, run.segment_class.values, run.segment_start.values,
                          run.segment_end.values):
        if str(i) not in position:  # a segment of a record selected away
            continue
        e = position[str(i)]
        inside = (times >= a) & (times < b) & (np.arange(times.size) < int(run.length[e]))
        if inside.any():
            per_class.setdefault(int(c), []).append(h[e, inside].mean(0))
    return {c: np.mean(rows, axis=0) for c, rows in per_class.items()}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(range(N_RECORDS)), st.integers(1, N_RECORDS))
def test_any_selection_of_records_analyses_like_their_own_capture(run, model, frames, order, size):
    selection = list(order[:size])
    subset = run.isel(event=selection)
    fresh = rnnscope.capture(model, frames.isel(event=selection), progress=False, batch_size=4)
    assert schema.summaries_cover(fresh)
    assert schema.summaries_cover(subset) == (size == N_RECORDS)
    _compare(subset, fresh)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        heat = analysis.heat_map(subset).values
    expected = _segment_heat_by_hand(subset)
    for c in range(heat.shape[0]):
        np.testing.assert_allclose(heat[c], expected.get(c, np.full(heat.shape[1:], np.nan)), rtol=1e-5,
                                   equal_nan=True)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # xarray's announced change of concat's defaults
@pytest.mark.parametrize("data_vars", ["all", "minimal"])
def test_concatenated_runs_analyse_like_the_run_of_all_their_records(run, data_vars):
    first, second = run.isel(event=[4, 1]), run.isel(event=[0, 5, 2, 3])
    both = xr.concat([first, second], dim="event", data_vars=data_vars)
    _compare(both, run.isel(event=[4, 1, 0, 5, 2, 3]))
    assert len(schema.segment_frames(both)) == len(schema.segment_frames(run))
    if data_vars == "minimal":  # the summaries came along unchanged and describe exactly these records
        assert schema.summaries_cover(both)


def test_a_reordered_selection_keeps_each_record_with_its_own_segments(run):
    table = schema.segment_frames(run.isel(event=[5, 0, 3]))
    ids = run.event_id.values[[5, 0, 3]]
    assert table.event_id.tolist() == [ids[e] for e in table.event]
    whole = schema.segment_frames(run).set_index("segment")
    for _, row in table.iterrows():  # the same segment as in the whole run, frames included
        assert whole.loc[row.segment, "event_id"] == row.event_id
        assert whole.loc[row.segment, ["frame_start", "frame_stop"]].tolist() == [row.frame_start, row.frame_stop]
    hist = analysis.activation_histogram(run.isel(event=[5, 0, 3]), by="segment")
    assert hist.segment_event_id.values.tolist() == table.event_id.tolist()


@pytest.mark.parametrize("events", [[5, 0, 3], [2, 2, 4], [], [1]])
def test_segment_frames_match_a_join_on_event_ids(run, events):
    # the reference: every segment row joined with every record of the same id (a record twice: its segments twice)
    sub = run.isel(event=events)
    rows = schema.segment_rows(sub).rename_axis("segment").reset_index()
    records = pd.DataFrame({"event_id": sub.event_id.values.astype(str), "event": np.arange(len(events))})
    expected = rows.merge(records, on="event_id").sort_values(["event", "start"], kind="stable")
    table = schema.segment_frames(sub)
    assert table[["segment", "event", "event_id"]].values.tolist() == \
        expected[["segment", "event", "event_id"]].values.tolist()


def test_capture_of_reordered_records(model, frames, run):
    picked = rnnscope.capture(model, frames.isel(event=[5, 0, 3]), progress=False)
    np.testing.assert_array_equal(picked.event_id.values, frames.event_id.values[[5, 0, 3]])
    np.testing.assert_array_equal(picked.summary_event_id.values, frames.event_id.values[[5, 0, 3]])
    xr.testing.assert_allclose(picked.h, run.h.isel(event=[5, 0, 3]), rtol=1e-5, atol=1e-6)
    again = io.compute_summaries(run.isel(event=[5, 0, 3]))
    for name in ("summary_heat", "summary_heat_frame", "summary_activity", "summary_min", "summary_max"):
        np.testing.assert_allclose(picked[name], again[name], rtol=1e-5, atol=1e-6, equal_nan=True)


def test_saving_a_selection_stores_summaries_of_its_records(run, tmp_path):
    back = rnnscope.open_run(rnnscope.save_run(run.isel(event=[3, 1]), tmp_path / "two.zarr"))
    assert schema.summaries_cover(back)
    fresh = io.compute_summaries(run.isel(event=[3, 1]))
    np.testing.assert_allclose(back.summary_heat, fresh.summary_heat, equal_nan=True)
    assert back.sizes["segment"] == run.sizes["segment"]  # the table is kept whole, read by event_id
    assert back.pred.dtype == np.int16 and int(back.pred.min()) == -1


# ------------------------------------------------------------------------------------------- version 1


def _as_version_1(run):
    """``run`` the way rnnscope wrote it before schema 2: positional segment_event, no summary coverage."""
    ids = [str(i) for i in run.event_id.values]
    old = run.drop_vars(["segment_event_id", "summary_event_id"])
    old["segment_event"] = ("segment", np.array([ids.index(str(i)) for i in run.segment_event_id.values], np.int32))
    old.attrs = {**run.attrs, "schema_version": "1.0"}
    return old


def _write_version_1(run, path):
    """A zarr store as rnnscope 1 wrote it: xarray's to_zarr plus a complete manifest."""
    data = run.copy()
    data.attrs = io.encode_attrs(run.attrs)
    for name, var in data.variables.items():
        if var.dtype == object:
            data[name] = var.astype(str)
        data[name].encoding = {}
    data.chunk(io.default_chunks(data)).to_zarr(path, consolidated=True, zarr_format=2,
                                                encoding={"pred": {"_FillValue": None}})
    (path / io.MANIFEST).write_text(json.dumps({"status": "complete", "schema_version": "1.0"}))
    return path


def test_a_version_1_store_opens_upgraded(run, tmp_path):
    captured = rnnscope.data.select_records(run, [2, 0, 4])  # what a version-1 capture of 3 records held
    captured = captured.assign(io.compute_summaries(captured))
    path = _write_version_1(_as_version_1(captured), tmp_path / "old.zarr")
    old = rnnscope.open_run(path)
    assert old.attrs["schema_version"] == schema.SCHEMA_VERSION and "segment_event" not in old
    np.testing.assert_array_equal(old.segment_event_id.values, captured.segment_event_id.values)
    # its summaries describe the whole store: they are used only while all its records are selected
    assert schema.summaries_cover(old) and not schema.summaries_cover(old.isel(event=[0, 2]))
    _compare(old.isel(event=[1, 2]), run.isel(event=[0, 4]))
    # the previous layout in memory is named in the error, with the fix
    with pytest.raises(schema.SchemaError, match=r"previous layout.*rnnscope.schema.upgrade"):
        schema.validate(_as_version_1(run))
    schema.validate(schema.upgrade(_as_version_1(run)))


def test_the_shipped_trained_run_is_upgraded_on_opening():
    shipped = rnnscope.examples.trained_run()
    assert shipped.attrs["schema_version"] == schema.SCHEMA_VERSION
    assert schema.summaries_cover(shipped) and not schema.summaries_cover(shipped.isel(event=[0]))
    table = schema.segment_frames(shipped.isel(event=[1]))
    assert set(table.event_id) == {str(shipped.event_id.values[1])}


def test_chunks_entirely_of_padding_are_never_written(run, tmp_path):
    path = rnnscope.save_run(run, tmp_path / "run.zarr", chunks={"time": 20})
    lengths = run.length.values
    for name in ("h", "pred", "label", "features"):
        written = {tuple(int(i) for i in f.name.split(".")[:2]) for f in (path / name).iterdir()
                   if not f.name.startswith(".")}
        expected = {(e, k) for e in range(run.sizes["event"]) for k in range(-(-int(lengths[e]) // 20))}
        assert written == expected, name
    back = rnnscope.open_run(path).load()  # padding reads back as NaN and -1
    xr.testing.assert_identical(back[["h", "pred", "label"]], run[["h", "pred", "label"]])

"""Schema 2: any selection, reordering or concatenation of a run's records or frames analyses like a run of exactly
those frames.

The segment table names records by ``event_id`` and the summaries know which records they describe, so
``run.isel(event=S)`` needs no fixing up: every analysis gives what a capture of ``frames.isel(event=S)`` gives.
A time selection (``isel``/``sel`` on ``time``, pieces concatenated along ``time``) analyses like a run built
from exactly those frames (``schema.valid_lengths``; the summaries are never used for other frames). Records
selected by id (``swap_dims``, ``set_xindex``, ``sel(event_id=...)``) analyse like the same records selected by
position. Version-1 stores (positional ``segment_event``) are upgraded on opening; a version-1 run in memory is
refused, naming ``schema.upgrade``.
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
def frames(make_frames):
    return make_frames(N_RECORDS, seed=4, record_duration_s=(25, 60))


@pytest.fixture(scope="module")
def model(frames):
    torch.manual_seed(1)
    m = RNNClassifier(["lstm", "gru"], input_size=frames.sizes["feature"], hidden_size=5, num_classes=5)
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
        "heat_map(c)": analysis.heat_map(run, var="c", layer=0),
        "top_fraction": analysis.top_fraction(heat, fraction=0.5),
        "class_correlation": analysis.class_correlation(run, fraction=0.5),
        "top_units": analysis.top_units(run, k=3),
        "specialisation": analysis.specialisation(run),
        "specialisation(null)": analysis.specialisation(run, null=20, seed=2),
        "top_units(null)": analysis.top_units(run, k=2, null=20),
        "activation_histogram": analysis.activation_histogram(run),
        "activation_histogram(segment)": analysis.activation_histogram(run, per="segment"),
        "activation_histogram(c)": analysis.activation_histogram(run, var="c", layer=0, per=None),
        "unit_activity": analysis.unit_activity(run),
        "susceptibility": analysis.susceptibility(run, half_width=1, far=3),
        "detector_units": analysis.detector_units(run, half_width=1, null=20),
        "cell_distribution": analysis.cell_distribution(run),
        "responsibility": analysis.responsibility(run),
        "smoothness": analysis.smoothness(run),
        "temporal_trace": analysis.temporal_trace(run, event=0),
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
                          run.segment_end.values, strict=True):
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
    hist = analysis.activation_histogram(run.isel(event=[5, 0, 3]), per="segment")
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


# ------------------------------------------------------------------------------------------- time selections


def _frames_run(run, start, stop):
    """The reference: a run holding frames ``start .. stop - 1`` of every record, built with numpy slicing and the
    lengths by arithmetic (no xarray selection, no summaries: a run of exactly those frames)."""
    n = stop - start
    data = {}
    for name, var in run.data_vars.items():
        if name.startswith("summary_"):
            continue
        if "time" in var.dims:
            data[name] = (var.dims, np.take(var.values, np.arange(start, stop), axis=var.dims.index("time")))
        else:
            data[name] = var.variable
    coords = {k: v.variable for k, v in run.coords.items() if "time" not in v.dims and k != "length"}
    coords.update(time=run.time.values[start:stop], length=("event", np.clip(run.length.values - start, 0, n)))
    return xr.Dataset(data, coords=coords, attrs=run.attrs)


def _heat_by_hand_on_axis(run, start, stop):
    """Class -> (unit, layer) heat of the frames ``start .. stop - 1`` straight from the definition."""
    position = {str(i): k for k, i in enumerate(run.event_id.values)}
    h, times = np.abs(run.h.values.astype(np.float64)), run.time.values
    per_class = {}
    for i, c, a, b in zip(run.segment_event_id.values, run.segment_class.values, run.segment_start.values,
                          run.segment_end.values, strict=True):
        e = position[str(i)]
        frames = np.arange(times.size)
        inside = (times >= a) & (times < b) & (frames < int(run.length[e])) & (frames >= start) & (frames < stop)
        if inside.any():
            per_class.setdefault(int(c), []).append(h[e, inside].mean(0))
    return {c: np.mean(rows, axis=0) for c, rows in per_class.items()}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_time_slice_analyses_like_a_run_of_exactly_its_frames(run, data):
    n_time = run.sizes["time"]
    start = data.draw(st.integers(0, n_time - 8), label="start")
    stop = data.draw(st.integers(start + 8, n_time), label="stop")
    by_label = data.draw(st.booleans(), label="sel by time")
    times = run.time.values
    part = run.sel(time=slice(times[start], times[stop - 1])) if by_label else run.isel(time=slice(start, stop))
    reference = _frames_run(run, start, stop)
    np.testing.assert_array_equal(schema.valid_lengths(part), reference.length.values)
    assert schema.summaries_cover(part) == bool(np.all(reference.length.values == run.length.values))
    _compare(part, reference)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        heat = analysis.heat_map(part).values
    expected = _heat_by_hand_on_axis(run, start, stop)
    for c in range(heat.shape[0]):
        np.testing.assert_allclose(heat[c], expected.get(c, np.full(heat.shape[1:], np.nan)), rtol=1e-5,
                                   equal_nan=True)


def test_a_time_slice_never_reads_the_whole_runs_summaries(run):
    part = run.isel(time=slice(0, 40))
    assert not schema.summaries_cover(part)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        sliced, whole = analysis.heat_map(part), analysis.heat_map(run)
        spec = analysis.specialisation(part)["specialisation_gap"]
        expected = analysis.specialisation(_frames_run(run, 0, 40))["specialisation_gap"]
    assert not np.allclose(sliced.values, whole.values, equal_nan=True)
    _close(spec, expected, "specialisation")
    # the padding tail of a record is not a valid frame: slicing only padding away keeps the summaries
    assert schema.summaries_cover(run.isel(time=slice(0, int(run.length.max()))))
    # the widgets' summaries of a time slice are those of its frames too
    from rnnscope.widgets._summaries import load_summaries

    np.testing.assert_allclose(load_summaries(part).summary_heat.values, sliced.values, rtol=1e-5, equal_nan=True)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # xarray's announced change of concat's defaults
@pytest.mark.parametrize("data_vars", ["all", "minimal"])
def test_pieces_concatenated_along_time_analyse_like_the_whole_run(run, data_vars):
    cut = int(run.length.min()) // 2
    pieces = [run.isel(time=slice(0, cut)), run.isel(time=slice(cut, None))]
    both = xr.concat(pieces, dim="time", data_vars=data_vars)
    np.testing.assert_array_equal(schema.valid_lengths(both), run.length.values)
    _compare(both, run)


def test_saving_a_time_slice_stores_its_own_lengths_and_summaries(run, tmp_path):
    part = run.isel(time=slice(20, 70))
    back = rnnscope.open_run(rnnscope.save_run(part, tmp_path / "part.zarr"))
    reference = _frames_run(run, 20, 70)
    np.testing.assert_array_equal(back.length.values, reference.length.values)
    assert schema.summaries_cover(back)
    np.testing.assert_allclose(back.summary_heat, io.compute_summaries(reference).summary_heat, rtol=1e-5,
                               equal_nan=True)
    _compare(back, reference)


def test_a_time_axis_out_of_order_is_refused_naming_the_fix(run):
    with pytest.raises(schema.SchemaError, match=r"heat_map: the run's time axis is not in increasing order .*"
                                                 r"run\.sortby\('time'\)"):
        analysis.heat_map(run.isel(time=[3, 1, 2]))
    with pytest.raises(schema.SchemaError, match=r"unit_activity: .*drop_duplicates"):
        analysis.unit_activity(run.isel(time=[0, 0, 1]))


@pytest.fixture(scope="module")
def holed_run(model, frames):
    """The run of ``frames`` with record 1's input missing at frames 10-11 (a gap: NaN states from there on)."""
    holed = frames.copy(deep=True)
    holed["features"][1, 10:12, :] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rnnscope.errors.NumericalWarning)
        return rnnscope.capture(model, holed, progress=False, batch_size=4)


@pytest.mark.parametrize(("start", "stop"), [(2, None), (0, 40), (5, 11), (11, 60), (12, None), (30, None)])
def test_a_time_slice_of_a_record_with_missing_input_analyses_like_a_run_of_exactly_its_frames(holed_run, start,
                                                                                               stop):
    """A gap inside a record (NaN input followed by data) is not padding: a time slice keeps the record's frames
    after the gap as valid (they were refused as 'valid frames after padding'), and analyses like a run of exactly
    those frames (each record read up to its first missing frame)."""
    stop = holed_run.sizes["time"] if stop is None else stop
    reference = _frames_run(holed_run, start, stop)
    expected = reference.length.values.copy()
    if start < 10 <= stop - 1 < 12:  # a slice ending inside the gap: its last frames look like padding, and are
        expected[1] = 10 - start  # counted out (analyses read a record up to its first missing frame anyway)
    for part in (holed_run.isel(time=slice(start, stop)),
                 holed_run.sel(time=slice(holed_run.time.values[start], holed_run.time.values[stop - 1]))):
        np.testing.assert_array_equal(schema.valid_lengths(part), expected)
        _compare(part, reference)


def test_runs_on_other_frame_grids_concatenated_along_event_are_refused():
    """Concatenating along ``event`` runs whose frames sit on other grids interleaves their times: a record's valid
    frames then follow padding, which is refused with the fix, as is a gap in a run whose frame rate is unknown."""
    run = rnnscope.examples.toy_run()
    quarter_frame = 0.25 / run.attrs["frame_rate"]
    shifted = run.isel(event=[0]).assign_coords(event_id=("event", ["other"]), time=run.time + quarter_frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        both = xr.concat([run.isel(event=[1]), shifted], dim="event", join="outer")
    with pytest.raises(schema.SchemaError, match="holds valid frames after padding .* share one frame grid"):
        schema.valid_lengths(both)
    unknown = both.copy()
    unknown.attrs.pop("frame_rate")
    with pytest.raises(schema.SchemaError, match="holds valid frames after padding"):
        schema.valid_lengths(unknown)


# ------------------------------------------------------------------------------------------- records by id


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(range(N_RECORDS)), st.integers(1, N_RECORDS),
       st.sampled_from(["swap_dims", "set_xindex", "sel", "event coordinate"]))
def test_records_selected_by_event_id_analyse_like_their_positions(run, order, size, how):
    selection = list(order[:size])
    ids = [str(i) for i in run.event_id.values[selection]]
    if how == "swap_dims":
        picked = run.swap_dims(event="event_id").sel(event_id=ids)
        assert "event" not in picked.dims
    elif how == "set_xindex":
        picked = run.set_xindex("event_id").sel(event_id=ids)
    elif how == "sel":  # xarray builds the index of a plain coordinate on the fly
        picked = run.sel(event_id=ids)
    else:  # the ids as the event dimension's own coordinate: run.sel(event=ids) works
        picked = run.assign_coords(event=run.event_id.values).sel(event=ids)
    _compare(picked, run.isel(event=selection))


def test_a_swapped_whole_run_keeps_its_summaries_and_a_swapped_subset_does_not(run):
    swapped = run.swap_dims(event="event_id")
    ids = [str(i) for i in run.event_id.values[:2]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        _close(analysis.heat_map(swapped), analysis.heat_map(run), "whole run")
        subset = analysis.heat_map(swapped.sel(event_id=ids))
        assert not np.allclose(subset.values, analysis.heat_map(run).values, equal_nan=True)


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


@pytest.mark.parametrize("call", [analysis.heat_map, analysis.specialisation, analysis.unit_activity,
                                  lambda r: analysis.detector_units(r, half_width=1)])
def test_a_version_1_run_in_memory_is_refused_naming_upgrade(run, call):
    with pytest.raises(schema.SchemaError, match=r"previous layout \(schema_version 1\.0.*"
                                                 r"run = rnnscope\.schema\.upgrade\(run\)"):
        call(_as_version_1(run))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", analysis.EmptyClassWarning)
        call(schema.upgrade(_as_version_1(run)))


def test_the_shipped_trained_run_is_upgraded_on_opening():
    shipped = rnnscope.examples.trained_run()
    assert shipped.attrs["schema_version"] == schema.SCHEMA_VERSION
    assert schema.summaries_cover(shipped) and not schema.summaries_cover(shipped.isel(event=[0]))
    table = schema.segment_frames(shipped.isel(event=[1]))
    assert set(table.event_id) == {str(shipped.event_id.values[1])}
    # the background class is data (DESIGN.md): the shipped run names its model's
    assert shipped.attrs["background"] == rnnscope.examples.trained_model().background == "SIL"


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

"""save_run / open_run: round trips, laziness, atomic writes and clear refusals."""
import json
import os

import dask.array as da
import numpy as np
import pytest
import xarray as xr

import rnnscope
from rnnscope import io
from rnnscope.schema import SchemaError


@pytest.fixture(scope="module")
def frames(make_frames):
    return make_frames(3, seed=0)


@pytest.mark.parametrize("name", ["run.zarr", "run.nc"])
def test_round_trip_keeps_values_dtypes_and_attrs(frames, tmp_path, name):
    path = io.save_run(frames, tmp_path / name)
    back = io.open_run(path)
    assert isinstance(back["features"].data, da.Array)  # lazy
    xr.testing.assert_identical(back.load(), frames)
    assert back.attrs["class_names"] == ["SIL", "TRE", "LP", "VTE", "HYB"]
    assert back.attrs["feature_config"]["preset"] == "paper"


def test_zarr_is_chunked_by_event(frames, tmp_path):
    back = io.open_run(io.save_run(frames, tmp_path / "run.zarr"))
    assert back["features"].data.chunksize[0] == 1
    assert back["waveform"].data.chunksize[0] == 1


def test_an_interrupted_write_leaves_the_previous_store_intact(frames, tmp_path, monkeypatch):
    path = io.save_run(frames, tmp_path / "run.zarr")

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_zarr", broken)
    with pytest.raises(KeyboardInterrupt):
        io.save_run(frames.isel(event=[0]), path)
    monkeypatch.undo()
    assert io.open_run(path).sizes["event"] == 3  # the old store, untouched
    partial = tmp_path / "run.zarr.partial"
    assert partial.exists()
    with pytest.raises(io.RunFileError, match="unfinished write"):
        io.open_run(partial)


def test_a_store_without_a_complete_manifest_is_refused(frames, tmp_path):
    path = io.save_run(frames, tmp_path / "run.zarr")
    manifest = json.loads((path / io.MANIFEST).read_text())
    (path / io.MANIFEST).write_text(json.dumps({**manifest, "status": "writing"}))
    with pytest.raises(io.RunFileError, match="not completely written"):
        io.open_run(path)
    (path / io.MANIFEST).unlink()
    with pytest.raises(io.RunFileError, match="has no rnnscope_manifest.json"):
        io.open_run(path)


def test_a_corrupt_zarr_store_gives_a_clear_error(frames, tmp_path):
    path = io.save_run(frames, tmp_path / "run.zarr")
    (path / ".zmetadata").write_text("{ not json")
    with pytest.raises(io.RunFileError, match="corrupt or truncated"):
        io.open_run(path)


def test_a_truncated_netcdf_file_gives_a_clear_error(frames, tmp_path):
    path = io.save_run(frames, tmp_path / "run.nc")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(io.RunFileError, match="corrupt or truncated"):
        io.open_run(path)


def test_a_missing_variable_is_named(frames, tmp_path):
    path = io.save_run(frames.drop_vars("label"), tmp_path / "run.zarr")
    with pytest.raises(SchemaError, match="missing variable 'label'"):
        io.open_run(path)


def test_a_run_from_another_schema_version_is_refused(frames, tmp_path):
    old = frames.copy()
    old.attrs = {**frames.attrs, "schema_version": "0.3"}
    path = io.save_run(old, tmp_path / "run.zarr")
    with pytest.raises(SchemaError, match="schema_version '0.3' is not compatible"):
        io.open_run(path)


def test_missing_path_mentions_an_unfinished_write(tmp_path):
    (tmp_path / "run.zarr.partial").mkdir()
    with pytest.raises(FileNotFoundError, match="unfinished write exists"):
        io.open_run(tmp_path / "run.zarr")


def test_attribute_encoding_round_trips_nested_values():
    attrs = {"class_names": ["A", "B"], "model": {"cell": "lstm", "sizes": [1, 2]}, "seed": np.int64(3), "x": "s"}
    back = io.decode_attrs(io.encode_attrs(attrs))
    assert back == {"class_names": ["A", "B"], "model": {"cell": "lstm", "sizes": [1, 2]}, "seed": 3, "x": "s"}
    assert all(not isinstance(v, (list, dict)) for v in io.encode_attrs(attrs).values())


@pytest.mark.parametrize("name", ["run.zarr", "run.nc"])
def test_attrs_are_plain_python_whether_the_run_was_captured_or_opened(frames, tmp_path, name):
    """Nested attrs are dicts and lists in memory, captured or opened: only the file backend encodes them (issue 26);
    a store written before (nested attrs as bare JSON strings) opens with them decoded too."""
    model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=3, num_classes=5)
    rnnscope.train.fit(model, frames, epochs=1, progress=False)
    run = rnnscope.capture(model, frames, silence={0: [1]}, progress=False)
    for key in ("feature_config", "model_config", "training_summary", "capture_config", "versions"):
        assert isinstance(run.attrs[key], dict), key
    assert run.attrs["capture_config"]["silence"] == [[1]] and run.attrs["feature_config"]["preset"] == "paper"
    back = io.open_run(io.save_run(run, tmp_path / name))
    assert {k: back.attrs[k] for k in run.attrs} == run.attrs
    raw = xr.open_zarr(tmp_path / name) if name.endswith(".zarr") else xr.open_dataset(tmp_path / name)
    assert isinstance(raw.attrs["feature_config"], str)  # what the file holds: JSON, written by the backend only
    raw.close()
    older = frames.copy()
    older.attrs = {**frames.attrs, "feature_config": json.dumps(frames.attrs["feature_config"])}
    path = io.save_run(older, tmp_path / f"older_{name}")
    assert io.open_run(path).attrs["feature_config"] == frames.attrs["feature_config"]


def test_save_refuses_a_partial_name(frames, tmp_path):
    with pytest.raises(ValueError, match="reserves for unfinished writes"):
        io.save_run(frames, tmp_path / "x.zarr.partial")
    assert not os.path.exists(tmp_path / "x.zarr.partial")


@pytest.mark.parametrize("n_layers", [1, 2])
def test_compute_summaries_leaves_the_run_untouched(n_layers):
    # records in length order are read as views of the run's arrays: |h| must not be taken in place there
    run = rnnscope.examples.toy_run(num_layers=n_layers)
    before = run["h"].values.copy()
    again = rnnscope.io.compute_summaries(run)
    np.testing.assert_array_equal(run["h"].values, before)
    np.testing.assert_allclose(again["summary_heat"], run["summary_heat"], rtol=1e-6)


# ------------------------------------------------------------------------------------------------ damaged chunks
# (issue 25: a truncated chunk gave a blosc RuntimeError deep in numcodecs, a deleted one read as NaN)


@pytest.fixture
def stored(frames, tmp_path):
    """A run store of three records whose lengths differ (the shorter ones' last chunks are padding, unwritten)."""
    return io.save_run(frames, tmp_path / "run.zarr", chunks={"time": 128})


def chunk(path, name="features", key="1.0.0"):
    return path / name / key


def test_the_manifest_lists_every_chunk_with_its_size_and_checksum(stored):
    import zlib

    table = json.loads((stored / io.MANIFEST).read_text())["chunks"]
    on_disk = {f"{p.parent.name}/{p.name}" for p in stored.glob("*/*") if not p.name.startswith(".")}
    assert {f"{v}/{k}" for v, chunks in table.items() for k in chunks} == on_disk
    size, crc = table["features"]["1.0.0"]
    data = chunk(stored).read_bytes()
    assert (size, crc) == (len(data), zlib.crc32(data))
    lengths = io.open_run(stored)["length"].values  # padding chunks were never written, so never listed
    assert len(table["features"]) == sum(-(-int(n) // 128) for n in lengths)


def test_a_deleted_chunk_is_an_error_at_opening_naming_variable_and_record(stored):
    chunk(stored).unlink()
    with pytest.raises(io.RunFileError, match=r"open_run: the run .*run.zarr is damaged: chunk features/1.0.0 of "
                                              r"variable 'features' \(record 1, event_id 'syn00001'; frames 0-127\) "
                                              r"is missing \(the writer stored \d+ bytes there\)\. Re-create the run"):
        io.open_run(stored)


def test_a_truncated_chunk_is_an_error_at_opening_never_a_codec_error(stored):
    data = chunk(stored, "waveform", "2.0").read_bytes()
    chunk(stored, "waveform", "2.0").write_bytes(data[: len(data) // 2])
    with pytest.raises(io.RunFileError, match=r"chunk waveform/2.0 of variable 'waveform' \(record 2, event_id "
                                              r"'syn00002'; samples 0-\d+\) holds \d+ bytes where the writer stored "
                                              r"\d+ \(truncated"):
        io.open_run(stored)


def test_an_altered_chunk_is_found_by_verify_and_when_it_is_read(stored, frames):
    data = bytearray(chunk(stored).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the checksum sees it
    chunk(stored).write_bytes(bytes(data))
    with pytest.raises(io.RunFileError, match=r"features/1.0.0 .* does not match the checksum the writer recorded"):
        io.open_run(stored, verify=True)
    run = io.open_run(stored)  # the cheap check at opening reads sizes only
    np.testing.assert_array_equal(run.features.isel(event=0).values, frames.features.values[0])  # others read
    with pytest.raises(io.RunFileError, match=r"reading a run: the run .* is damaged: chunk features/1.0.0 of "
                                              r"variable 'features' \(record 1, event_id 'syn00001'; frames 0-127\) "
                                              r"does not match the checksum"):
        _ = run.features.isel(event=1).values


@pytest.mark.parametrize("damage", ["delete", "truncate"])
def test_damage_after_opening_is_found_when_dask_reads_the_chunk(stored, damage):
    """A lazily opened run reads chunks when values are needed: a chunk deleted or truncated after opening is a
    RunFileError then, not NaN and not a codec error."""
    run = io.open_run(stored)
    if damage == "delete":
        chunk(stored).unlink()
    else:
        chunk(stored).write_bytes(chunk(stored).read_bytes()[:10])
    with pytest.raises(io.RunFileError, match=r"features/1.0.0 of variable 'features' \(record 1"):
        run.features.mean().compute()
    assert np.isfinite(run.features.isel(event=0, time=slice(0, 128)).values).all()  # the others still read


def test_a_store_written_before_the_chunk_table_still_opens(stored, frames):
    manifest = json.loads((stored / io.MANIFEST).read_text())
    del manifest["chunks"]
    (stored / io.MANIFEST).write_text(json.dumps(manifest))
    back = io.open_run(stored, verify=True)
    xr.testing.assert_identical(back.load(), frames)


def test_capture_and_monitor_stores_carry_the_chunk_table(tmp_path):
    import torch

    torch.manual_seed(0)
    model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5)
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=1))
    path = tmp_path / "captured.zarr"
    rnnscope.capture(model, frames, store=path, progress=False)
    table = json.loads((path / io.MANIFEST).read_text())["chunks"]
    assert {"h", "features", "prob"} <= set(table)
    (path / "h" / "0.0.0.0").unlink()
    with pytest.raises(io.RunFileError, match="chunk h/0.0.0.0 of variable 'h' \\(record 0"):
        io.open_run(path)

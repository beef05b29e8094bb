"""The multiscale overview of long records (issue 28): written by the run writer, read level by level by the
Explorer, kept or recomputed across selections of a run.

What is checked: every level equals min/max (class counts) over its blocks of the full data, NaN frames included;
the writer's chunked computation equals the in-memory one; the store lists the overview's chunks; the Explorer's
first visit of a long record reads a few chunks of one level (counted at the store, never the record) and shows the
same extremes as the full data; selections over records keep the overview, a time selection that drops frames makes
it describe nothing (read the frames instead, or save it again), a concatenation of runs of different lengths aligns
the blocks by key.
"""
from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
import xarray as xr

import rnnscope
from rnnscope import _overview as ov
from rnnscope import widgets as rw
from rnnscope.io._overview import LevelStream, compute_overview, overview_covers

CLASSES = ["noise", "LP", "VT"]
N_UNITS, N_FREQ = 24, 17


def make_run(lengths, seed=0, n_units=N_UNITS):
    """A valid run of random states (one layer), with NaN frames inside the first record (a gap) and labels of
    another background class; 100 Hz waveform, 2 frames per second."""
    rng = np.random.default_rng(seed)
    n_ev, n_t = len(lengths), max(lengths)
    valid = np.arange(n_t)[None, :] < np.asarray(lengths)[:, None]
    h = np.where(valid[..., None, None], np.tanh(rng.standard_normal((n_ev, n_t, n_units, 1))), np.nan)
    h[0, 1000:1013] = np.nan  # a gap: NaN frames inside the record
    h[0, 2000:2003, 5] = np.nan  # a few NaN values of one unit
    label = np.where(valid, rng.integers(-1, 3, (n_ev, n_t)), -1).astype(np.int16)
    pred = np.where(valid, rng.integers(0, 3, (n_ev, n_t)), -1).astype(np.int16)
    prob = np.where(valid[..., None], rng.random((n_ev, n_t, 3)), np.nan)
    spec = np.where(valid[..., None], rng.standard_normal((n_ev, n_t, N_FREQ)), np.nan)
    n_samples = np.array([50 * (n - 1) + 400 for n in lengths])
    wave = np.where(np.arange(n_samples.max())[None, :] < n_samples[:, None],
                    rng.standard_normal((n_ev, n_samples.max())), np.nan)
    feats = np.where(valid[..., None], 0.0, np.nan) + np.zeros((1, 1, 2))
    times = 2.0 + 0.5 * np.arange(n_t)
    ds = xr.Dataset(
        {"h": (("event", "time", "unit", "layer"), h.astype(np.float32)),
         "features": (("event", "time", "feature"), feats.astype(np.float32)),
         "spectrogram": (("event", "time", "freq"), spec.astype(np.float32)),
         "waveform": (("event", "sample"), wave.astype(np.float32)),
         "label": (("event", "time"), label), "pred": (("event", "time"), pred),
         "prob": (("event", "time", "class_name"), prob.astype(np.float32))},
        coords={"time": times, "unit": np.arange(n_units), "layer": [0], "class_name": CLASSES,
                "freq": np.linspace(0, 50, N_FREQ), "feature": ["a", "b"], "length": ("event", list(lengths)),
                "n_samples": ("event", n_samples), "event_id": ("event", [f"r{seed}_{e}" for e in range(n_ev)]),
                "sample_time": ("sample", np.arange(n_samples.max()) / 100.0)},
        attrs={"schema_version": "2.0", "class_names": CLASSES, "background": "noise", "sampling_rate": 100.0})
    return ds.merge(rnnscope.io.compute_summaries(ds))


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """(in-memory run, path of its store): records of 40,000, 9,000 and 300 frames."""
    run = make_run((40_000, 9_000, 300))
    return run, rnnscope.save_run(run, tmp_path_factory.mktemp("ov") / "run.zarr")


def brute(values, n, block, reduction):
    """The blocks of ``values[:n]`` (first axis) the slow way."""
    out = []
    for a in range(0, n, block):
        part = values[a: min(n, a + block)]
        if reduction == "min":
            out.append(np.fmin.reduce(part, axis=0))
        elif reduction == "max":
            out.append(np.fmax.reduce(part, axis=0))
        else:  # "count", or "count_<n>" for n classes
            n_classes = int(reduction.split("_")[1]) if "_" in reduction else len(CLASSES)
            out.append([int((part == c).sum()) for c in range(n_classes)])
    return np.array(out)


@contextlib.contextmanager
def chunk_reads():
    """Every chunk a run opened with open_run reads (key, bytes), counted at its store."""
    from rnnscope.io._check import _checked_class

    cls, seen = _checked_class(), []
    original = cls.get

    async def get(self, key, prototype, byte_range=None):
        buffer = await original(self, key, prototype, byte_range)
        seen.append((key, 0 if buffer is None else buffer.as_numpy_array().nbytes))
        return buffer

    cls.get = get
    try:
        yield seen
    finally:
        cls.get = original


# ----------------------------------------------------------------------------------------------- the levels
@pytest.mark.parametrize("seed", range(6))
def test_a_level_stream_gives_the_blocks_of_the_full_data_for_any_chunking(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3000))
    x = rng.standard_normal((n, 3)).astype(np.float32)
    x[rng.random(n) < 0.2] = np.nan
    x[:40] = np.nan  # whole blocks of NaN stay NaN
    labels = rng.integers(-1, 3, n)
    out: dict = {}
    stream = LevelStream([2, 3, 4, 5], ("min", "max"), lambda k, j, b: out.setdefault(k, []).append((j, b)))
    counts: dict = {}
    count = LevelStream([2, 3], ("count",), lambda k, j, b: counts.setdefault(k, []).append(b[0]), n_classes=3)
    a = 0
    while a < n:
        b = min(n, a + int(rng.integers(1, 200)))
        stream.push(x[a:b])
        count.push(labels[a:b])
        a = b
    stream.close()
    count.close()
    for k, parts in out.items():
        assert [j for j, _ in parts] == np.cumsum([0] + [len(b[0]) for _, b in parts[:-1]]).tolist()  # in order
        for r, reduction in enumerate(("min", "max")):
            np.testing.assert_array_equal(np.concatenate([b[r] for _, b in parts]), brute(x, n, 2**k, reduction))
    for k, parts in counts.items():
        np.testing.assert_array_equal(np.concatenate(parts), brute(labels, n, 2**k, "count"))


def test_levels_keys_and_store_size():
    assert ov.levels(4095, ov.FRAME_LEVEL) == [] and ov.levels(4096, ov.FRAME_LEVEL) == [3]
    assert ov.levels(172_800, ov.FRAME_LEVEL) == [3, 4, 5, 6, 7, 8]  # a day: blocks of 8 to 256 frames
    keys = ov.block_keys(172_800, ov.FRAME_LEVEL)
    starts = [ov.level_start(keys, k) for k in range(3, 9)]
    assert all(s % ov.CHUNK == 0 for s in starts) and np.all(np.diff(keys) > 0)
    # min and max over levels of 8, 16, ... frames: about half the values of the record
    assert 0.45 < 2 * sum(-(-172_800 // 2**k) for k in range(3, 9)) / 172_800 < 0.5


def test_the_stored_overview_equals_the_full_data_and_the_in_memory_one(stored):
    run, path = stored
    back = rnnscope.open_run(path)
    assert back["overview_length"].values.tolist() == [40_000, 9_000, 0]  # 300 frames: too short for a level
    assert {"overview", "overview_length", "overview_sample", "overview_n_samples", "length"} <= set(back.coords)
    assert back["overview_n_samples"].values.tolist() == [2_000_350, 450_350, 0]
    memory = compute_overview(run)
    for name in memory.data_vars:
        np.testing.assert_array_equal(back[name].values, memory[name].values)
    keys = back["overview"].values
    for e, n in enumerate((40_000, 9_000)):
        for k in ov.levels(n, ov.FRAME_LEVEL):
            p0 = ov.level_start(keys, k)
            nb = -(-n // 2**k)
            for source, reductions in (("h", ("min", "max")), ("spectrogram", ("max",)), ("prob", ("max",)),
                                       ("label", ("count",)), ("pred", ("count",))):
                data = run[source].values[e]
                for r in reductions:
                    got = back[ov.overview_name(source, r)].values[e, p0: p0 + nb]
                    np.testing.assert_array_equal(got, brute(data, n, 2**k, r).reshape(got.shape),
                                                  err_msg=f"{source} {r} level {k} record {e}")
    # the gap: NaN blocks where every frame is NaN, values where a block holds a valid frame
    h_max = back["overview_h_max"].values[0, :5000, :, 0]
    assert np.isnan(h_max[1000 // 8]).all() and np.isfinite(h_max[1008 // 8]).all()  # frames 1000-1012 NaN
    assert np.isfinite(h_max[2000 // 8, 5])  # frames 2000-2002 of unit 5 NaN, the rest of its block not
    wave = back["overview_waveform_max"].values[0]
    p0 = ov.level_start(back["overview_sample"].values, ov.SAMPLE_LEVEL)
    np.testing.assert_array_equal(wave[p0: p0 + 100], brute(run["waveform"].values[0], 6400, 64, "max"))


def test_the_manifest_lists_the_overview_chunks_and_a_damaged_one_is_named(stored, tmp_path):
    import shutil

    _, path = stored
    manifest = json.loads((path / "rnnscope_manifest.json").read_text())
    assert {"overview_h_min", "overview_h_max", "overview_spectrogram_max", "overview_label_count"} <= set(
        manifest["chunks"])
    keys = ov.block_keys(40_000, ov.FRAME_LEVEL)
    written = {f"{e}.{c}.0.0" for e, n in enumerate((40_000, 9_000)) for k in ov.levels(n, ov.FRAME_LEVEL)
               for c in range(ov.level_start(keys, k) // ov.CHUNK,
                              (ov.level_start(keys, k) + -(-n // 2**k) - 1) // ov.CHUNK + 1)}
    assert set(manifest["chunks"]["overview_h_max"]) == written and len(written) == 11 + 3  # only blocks written
    copy = shutil.copytree(path, tmp_path / "copy.zarr")
    (copy / "overview_h_max" / "0.3.0.0").unlink()
    with pytest.raises(rnnscope.io.RunFileError, match=r"chunk overview_h_max/0.3.0.0 of variable 'overview_h_max' "
                                                       r"\(record 0, event_id 'r0_0'\) is missing"):
        rnnscope.open_run(copy)


# ----------------------------------------------------------------------------------------------- the Explorer
def test_the_first_visit_of_a_long_record_reads_one_level_and_shows_the_full_datas_extremes(stored):
    run, path = stored
    lazy = rnnscope.open_run(path)
    with chunk_reads() as reads:
        ex = rw.Explorer(lazy, event=0, width=1000)  # the whole record: 40,000 frames on about 1,660 columns
    record = [key for key, _ in reads if key.split("/")[1].startswith("0.") and key.split("/")[0] in
              ("h", "spectrogram", "prob", "label", "pred", "waveform")]  # chunks of record 0's data
    assert set(record) == {"pred/0.9"}, record  # never the record: its last valid frame (schema.valid_lengths)
    level = [(key, n) for key, n in reads if key.startswith("overview_h_m")]
    assert 2 <= len(level) <= 6  # min and max of one level: a few chunks
    bytes_h = sum(n for _, n in level)
    assert bytes_h < 0.2 * run["h"].isel(event=0).nbytes
    r, cols = ex.reader, ex._cols
    assert cols.step >= 8 and cols.n <= ex.n_cols
    h = run["h"].values[0, :, :, 0]
    for name, got in (("min", cols.lo), ("max", cols.hi)):
        want = brute(h[cols.start:], min(cols.stop, 40_000) - cols.start, cols.step, name)
        np.testing.assert_array_equal(got, want)
    spec = r.spectrogram_columns(0, 0, 40_000, ex.n_cols, ex.n_freq)
    np.testing.assert_array_equal(spec.hi, brute(run["spectrogram"].values[0, :, : ex.n_freq], 40_000, spec.step,
                                                 "max"))
    prob = r.prob_columns(0, 0, 40_000, ex.n_cols)
    np.testing.assert_array_equal(prob.hi, brute(run["prob"].values[0], 40_000, prob.step, "max"))
    label = r.class_columns(0, "label", 0, 40_000, ex.n_cols)
    np.testing.assert_array_equal(label.hi, brute(run["label"].values[0], 40_000, label.step, "count"))
    wave = r.waveform_columns(0, 0, 2_000_350, ex.plot_width)
    assert wave.step >= 64
    np.testing.assert_array_equal(wave.hi, brute(run["waveform"].values[0], 2_000_350, wave.step, "max"))
    # zoomed in to a few frames per column: the frames themselves, a stored chunk
    with chunk_reads() as reads:
        ex.time_range = (5000.0, 5000.0 + 0.5 * 2 * ex.n_cols)
        ex.render_now()
    assert ex._cols.step <= 4 and any(k.startswith("h/0.") for k, _ in reads)


@contextlib.contextmanager
def dask_computations():
    """The dask computations started inside the block (a list that grows by one per computation)."""
    from dask.callbacks import Callback

    started = []
    with Callback(start=lambda dsk: started.append(len(dsk))):
        yield started


@pytest.mark.parametrize("shorts", [2, 9])
def test_opening_the_explorer_computes_a_few_times_whatever_the_number_of_records(tmp_path, shorts):
    """Opening reads the small variables, the valid lengths, the main class of every record without a segment
    table (the record list names it: a coarse level of the label counts, or the labels of a short record) and the
    first view's slices in a fixed number of dask computations (57 before issue 28, then one per record and
    variable); the first visit of another record reads its view in one. The main classes are those of the labels."""
    run = make_run((9_000,) + (300,) * shorts, seed=4)
    path = rnnscope.save_run(run, tmp_path / "run.zarr")
    lazy = rnnscope.open_run(path)
    assert "segment_event_id" not in lazy  # every record's class comes from its labels
    with dask_computations() as opening:
        ex = rw.Explorer(lazy, event=0, width=800, prefetch=False)
    # the small variables, the valid lengths, the waveform's first sample time, the label counts, the first view
    assert len(opening) <= 5, opening
    labels = run["label"].values
    want = [CLASSES[int(np.bincount(labels[e][labels[e] >= 0], minlength=3).argmax())]
            for e in range(1 + shorts)]
    assert [option.split(" · ")[1] for option, _ in ex.w_event.options] == want
    assert ex.order_class == want[0]
    with dask_computations() as visit:
        ex.event = 1
    assert len(visit) == 1, visit
    assert ex.reader.main_class(1) == want[1] and png_size_of(ex.heat_image)[0] > 0


def png_size_of(mark):
    """(width, height) of the PNG an image mark shows."""
    data = bytes(mark.image.value)
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_every_level_a_zoom_reads_matches_the_full_data(stored):
    run, path = stored
    ex = rw.Explorer(rnnscope.open_run(path), event=0, width=700, prefetch=False)
    h = run["h"].values[0, :, :, 0]
    for t0, t1 in ((2.0, 20_001.0), (3000.0, 9000.0), (100.0, 1900.0), (700.0, 1000.0)):
        ex.time_range = (t0, t1)
        ex.render_now()
        cols = ex._cols
        want_lo = brute(h[cols.start:], min(cols.stop, 40_000) - cols.start, cols.step, "min")
        np.testing.assert_array_equal(cols.lo, want_lo[: cols.n])
        i0, i1 = ex.reader.frame_range(0, t0, t1)
        assert cols.start <= i0 and cols.start + cols.n * cols.step >= i1  # the view is covered


def test_a_record_without_a_stored_overview_builds_the_same_levels(stored):
    """A run captured in memory holds no overview: the Explorer builds the same levels, once per record (in a
    background thread after the first view, or when a view needs one), from one pass over the record."""
    run, path = stored
    memory = rw.Explorer(run, event=0, width=1000)
    memory.reader.wait()
    lazy = rnnscope.open_run(path)
    keys = lazy["overview"].values
    built = memory.reader._built(("state", 0, "h", 0))
    assert ("state", 0, "h", 0) in memory.reader.build_seconds and sorted(built) == [3, 4, 5, 6]
    for k, (lo, hi) in built.items():
        p0 = ov.level_start(keys, k)
        np.testing.assert_array_equal(hi, lazy["overview_h_max"].values[0, p0: p0 + lo.shape[0], :, 0])
        np.testing.assert_array_equal(lo, lazy["overview_h_min"].values[0, p0: p0 + lo.shape[0], :, 0])
    stored_ex = rw.Explorer(lazy, event=0, width=1000, prefetch=False)
    assert not stored_ex.reader.build_seconds  # nothing to build: the store holds the levels
    memory.time_range = stored_ex.time_range = (2.0, 15_000.0)
    memory.render_now()
    stored_ex.render_now()
    for a, b in ((memory._cols.lo, stored_ex._cols.lo), (memory._cols.hi, stored_ex._cols.hi)):
        np.testing.assert_array_equal(a, b)
    assert png_bytes(memory.heat_image) == png_bytes(stored_ex.heat_image)


def png_bytes(mark):
    return bytes(mark.image.value)


def _raw_chunks(reads) -> dict[str, int]:
    """Chunks read per variable that is not part of the overview (the frames themselves), metadata left out."""
    out: dict[str, int] = {}
    for key, _ in reads:
        name = key.split("/")[0]
        if not name.startswith("overview") and name in _FRAME_VARIABLES and not key.rsplit("/", 1)[-1].startswith(
                (".z", "zarr.json")):
            out[name] = out.get(name, 0) + 1
    return out


_FRAME_VARIABLES = {"h", "prob", "spectrogram", "label", "pred", "waveform"}


def test_right_after_opening_the_explorer_warms_what_the_first_zoom_reads_frame_by_frame(stored):
    """A long record opens on its stored overview, so its first zoom was the first read of the frames' arrays (zarr's
    codec pipeline, dask's graph of each array: the first press after the page opened cost more than the later
    ones, issue 28). Right after opening, a background thread reads one chunk of each variable a zoom reads frame by
    frame; it keeps nothing, the views are the same as without it, and it reads once per variable, not per render
    or record."""
    run, path = stored
    with chunk_reads() as cold:
        quiet = rw.Explorer(rnnscope.open_run(path), event=0, width=700, prefetch=False)
    assert not set(_raw_chunks(cold)) - {"label", "pred"}  # the opening reads the overview (and short records' labels)
    with chunk_reads() as opening:
        ex = rw.Explorer(rnnscope.open_run(path), event=0, width=700)
        ex.reader.wait()
    warmed = {name: n - _raw_chunks(cold).get(name, 0) for name, n in _raw_chunks(opening).items()}
    assert warmed == dict.fromkeys(_FRAME_VARIABLES, 1), warmed  # one chunk of each more, in the background
    assert ex.reader.reads == quiet.reader.reads and ex.reader._preloaded.keys() == quiet.reader._preloaded.keys()
    with chunk_reads() as zoom:
        ex.time_range = (700.0, 730.0)
        ex.render_now()
    assert set(_raw_chunks(zoom)) <= set(warmed) and "h" in _raw_chunks(zoom)  # the zoom reads warmed arrays
    quiet.time_range = (700.0, 730.0)
    quiet.render_now()
    for a, b in ((ex.heat_image, quiet.heat_image), (ex.spec_image, quiet.spec_image)):
        assert png_bytes(a) == png_bytes(b)
    np.testing.assert_array_equal(ex.wave.y, quiet.wave.y)
    memory = rw.Explorer(run, event=0, width=700)  # no stored overview: the prefetch reads the frames itself
    memory.reader.wait()
    assert not memory.reader._warm
    ex.event = 1  # another long record: the same arrays, nothing to warm again
    ex.reader.wait()
    assert ex.reader.warm(1, "h", 0, ex.spectrogram.n_freq) is None


# ----------------------------------------------------------------------------------------------- selections
def test_selections_of_records_keep_the_overview_and_time_selections_drop_it(stored, tmp_path):
    run, path = stored
    lazy = rnnscope.open_run(path)
    sub = lazy.isel(event=[1, 0])
    assert overview_covers(sub).tolist() == [True, True]
    ex = rw.Explorer(sub, event=1, width=900, prefetch=False)
    assert ex.reader.stored["time"].levels(1) and not ex.reader.build_seconds
    cut = lazy.isel(time=slice(0, 20_000))  # drops valid frames of record 0, none of record 1
    assert overview_covers(cut).tolist() == [False, True, False]
    ex = rw.Explorer(cut, event=0, width=900, prefetch=False)
    assert not ex.reader.stored["time"].levels(0)  # the overview describes 40,000 frames: the frames are read
    h = run["h"].values[0, :20_000, :, 0]
    cols = ex._cols
    np.testing.assert_array_equal(cols.hi, brute(h[cols.start:], min(cols.stop, 20_000) - cols.start, cols.step,
                                                 "max"))
    shifted = lazy.isel(time=slice(100, None))  # other frames everywhere
    assert not overview_covers(shifted).any()
    # saving a selection stores the overview of exactly its frames
    again = rnnscope.open_run(rnnscope.save_run(cut, tmp_path / "cut.zarr"))
    assert again["overview_length"].values.tolist() == [20_000, 9_000, 0]
    np.testing.assert_array_equal(again["overview_h_max"].values, compute_overview(
        again.drop_vars([v for v in again.variables if v.startswith("overview")]))["overview_h_max"].values)


def test_a_concatenation_of_runs_of_different_lengths_aligns_the_blocks(tmp_path):
    a = rnnscope.open_run(rnnscope.save_run(make_run((6_000,), seed=1), tmp_path / "a.zarr"))
    b = rnnscope.open_run(rnnscope.save_run(make_run((20_000, 5_000), seed=2), tmp_path / "b.zarr"))
    # summaries of other records, and the waveforms (no index on ``sample``: xarray cannot align them), dropped
    drop = [*rnnscope.schema.SUMMARY_VARIABLES, "variable", "waveform", "sample_time", "overview_waveform_min",
            "overview_waveform_max", "overview_sample", "overview_n_samples", "n_samples"]
    both = xr.concat([a.drop_vars(drop), b.drop_vars(drop)], dim="event", join="outer")
    assert overview_covers(both).tolist() == [True, True, True]
    memory = compute_overview(both.drop_vars([v for v in both.variables if v.startswith("overview")]))
    keys = both["overview"].values
    for k in ov.levels(20_000, ov.FRAME_LEVEL):
        i, j = ov.level_start(keys, k), ov.level_start(memory["overview"].values, k)
        for e, n in enumerate((6_000, 20_000, 5_000)):
            nb = -(-n // 2**k) if k in ov.levels(n, ov.FRAME_LEVEL) else 0
            np.testing.assert_array_equal(both["overview_h_max"].values[e, i: i + nb],
                                          memory["overview_h_max"].values[e, j: j + nb])
    ex = rw.Explorer(both, event=0, width=600, prefetch=False)
    assert ex.reader.stored["time"].levels(0) == [3] and ex._cols.step >= 8


def test_the_summaries_of_a_concatenation_read_the_nan_padded_labels_as_unknown():
    """xarray pads the labels of the shorter record of a concatenation with NaN (float): the summaries the Explorer
    recomputes for it read them as unknown frames (-1), never casting NaN to an integer."""
    import warnings

    a, b = make_run((500,), seed=1), make_run((800, 300), seed=2)
    drop = [*rnnscope.schema.SUMMARY_VARIABLES, "variable", "waveform", "sample_time", "n_samples"]
    both = xr.concat([a.drop_vars(drop), b.drop_vars(drop)], dim="event", join="outer")
    assert both["label"].dtype.kind == "f" and np.isnan(both["label"].values[0, 500:]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "invalid value encountered in cast"
        got = rnnscope.io.compute_summaries(both)
    ints = both.assign(label=both["label"].fillna(-1).astype(np.int16))
    want = rnnscope.io.compute_summaries(ints)
    for name in ("summary_heat", "summary_activity", "summary_min", "summary_max"):
        np.testing.assert_array_equal(got[name].values, want[name].values)


def test_netcdf_runs_carry_the_overview(tmp_path):
    pytest.importorskip("netCDF4")
    run = make_run((5_000,), seed=3)
    back = rnnscope.open_run(rnnscope.save_run(run, tmp_path / "run.nc"))
    np.testing.assert_array_equal(back["overview_h_min"].values, compute_overview(run)["overview_h_min"].values)
    assert back["overview_length"].values.tolist() == [5_000]


def test_capture_into_a_store_writes_the_overview(tmp_path):
    """A classifier captured into a store, window by window (windows not aligned to the blocks), at 50 Hz."""
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=2, seed=0, sampling_rate=50.0,
                                                               record_duration_s=(2_200.0, 2_300.0)))
    model = rnnscope.models.RNNClassifier("gru", input_size=frames.sizes["feature"], hidden_size=6, num_classes=5)
    run = rnnscope.capture(model, frames, store=tmp_path / "cap.zarr", progress=False, time_chunk=1000)
    lengths = run["length"].values
    assert (lengths >= 4_096).all() and run["overview_length"].values.tolist() == lengths.tolist()
    for var in ("h", "update_gate", "candidate"):
        for e, n in enumerate(lengths):
            np.testing.assert_array_equal(run[f"overview_{var}_max"].values[e, : -(-n // 8)],
                                          brute(run[var].values[e], n, 8, "max"))
    counts = run["overview_pred_count"].values[0, : -(-lengths[0] // 8)]
    np.testing.assert_array_equal(counts, brute(run["pred"].values[0], lengths[0], 8, "count_5"))


def test_the_monitors_capture_store_holds_the_overview(tmp_path):
    """monitor(..., capture_store=...): the run writer adds the overview when the monitoring completes (the
    run grew chunk by chunk along time); the Explorer reads it."""
    import torch

    from rnnscope.data._synthetic_archive import write_sds_archive

    write_sds_archive(tmp_path / "sds", "2024-03-01T00:00:00", 2_200.0, seed=1, seed_id="XX.OVR..HHZ",
                      sampling_rate=50.0)
    n_features = rnnscope.features.compute(rnnscope.data.synthetic(n_records=1, seed=0, sampling_rate=50.0)).sizes[
        "feature"]
    torch.manual_seed(0)
    result = rnnscope.monitor(
        rnnscope.models.RNNClassifier("lstm", input_size=n_features, hidden_size=4, num_classes=5),
        tmp_path / "sds",
        capture_store=tmp_path / "capture",
        sampling_rate=50.0,
        progress=False,
    )
    run = rnnscope.open_run(result.capture_store[0])
    n = int(run["length"].values[0])
    assert n >= 4_096 and run["overview_length"].values.tolist() == [n]
    for source, reduction in (("h", "max"), ("spectrogram", "max"), ("prob", "max"), ("pred", "count")):
        name = ov.overview_name(source, reduction)
        want = brute(run[source].values[0], n, 8, reduction if reduction != "count" else "count_5")
        np.testing.assert_array_equal(run[name].values[0, : want.shape[0]].reshape(want.shape), want)
    assert not run["overview_label_count"].values.any()  # no label known: every count 0 (no chunk stored)
    ex = rw.Explorer(run, width=400, prefetch=False)  # 4,393 frames on about 460 columns: a level
    assert ex._cols.step >= 8 and not ex.reader.build_seconds

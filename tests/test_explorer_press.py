"""What the kernel does when a detection is picked in the Explorer (next / previous; issue 28, the first interaction
in the browser): one dask computation for every variable read, nothing read again for a detection inside the chunks
already read, each view's image encoded and sent once, no trait sent that did not change; the views the same as
an Explorer that kept nothing shows. And the chunk cache behind it: bounded, whole records never kept, runs in
memory read as they are.
"""
from __future__ import annotations

import contextlib
import json

import numpy as np
import pandas as pd
import pytest
from test_overview import chunk_reads, make_run

import rnnscope
from rnnscope import widgets as rw
from rnnscope.widgets import _units, _views
from rnnscope.widgets._chunks import ChunkCache

#: three detections: two a minute apart (frames 1,400-1,480: one chunk of 4,096 frames), one far away (chunk 4)
CATALOG = pd.DataFrame({"event_id": ["r0_0"] * 3, "start": [700.0, 730.0, 9000.0], "end": [710.0, 740.0, 9010.0],
                        "class_name": ["LP"] * 3})


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    """A stored run (records of 20,000 and 300 frames, chunks of 4,096 frames, waveform at 100 Hz)."""
    return rnnscope.save_run(make_run((20_000, 300)), tmp_path_factory.mktemp("press") / "run.zarr")


@contextlib.contextmanager
def computations():
    """Every dask computation started (one entry each)."""
    from dask.callbacks import Callback

    started: list = []
    with Callback(start=started.append):
        yield started


@contextlib.contextmanager
def sent_messages():
    """(widget, state keys) of every update message the widgets send."""
    from ipywidgets import Widget

    original, sent = Widget._send, []

    def _send(widget, msg, buffers=None):
        if msg.get("method") == "update":
            keys = sorted(set(msg["state"]) | {p[0] for p in msg.get("buffer_paths", [])})
            paths = [p[0] for p in msg.get("buffer_paths", [])]
            sent.append((widget, keys, json.dumps(msg["state"], sort_keys=True, default=str),
                         list(zip(paths, [bytes(memoryview(b)) for b in buffers or []], strict=True))))
        return original(widget, msg, buffers=buffers)

    Widget._send = _send
    try:
        yield sent
    finally:
        Widget._send = original


def _views_of(ex):
    images = [ex.heat_image, ex.spec_image, ex.prob_image, ex.band_image]
    return ([bytes(m.image.value) for m in images], [np.asarray(m.x) for m in images],
            [np.asarray(ex.wave.y), np.asarray(ex.lines.y)])


def _assert_same_views(ex, other):
    a, b = _views_of(ex), _views_of(other)
    assert a[0] == b[0]  # the PNG bytes of every image
    for x, y in zip(a[1] + a[2], b[1] + b[2], strict=True):
        np.testing.assert_array_equal(x, y)


def test_a_press_reads_every_variable_in_one_computation_and_a_press_nearby_reads_nothing(path):
    ex = rw.Explorer(rnnscope.open_run(path), catalog=CATALOG, width=700, prefetch=False, debounce=0)
    with computations() as first, chunk_reads() as read:
        ex.table.next()  # the first detection: frames 1,376-1,436 of record 0
    assert len(first) == 1  # h, prob, spectrogram, label, pred and waveform in one computation
    frames = {key.split("/")[0] for key, _ in read if not key.endswith((".zarray", ".zattrs", "zarr.json"))}
    assert frames == {"h", "prob", "spectrogram", "label", "pred", "waveform"}, frames
    assert len(read) == len(frames)  # one chunk each
    with computations() as second, chunk_reads() as again:
        ex.table.next()  # a minute later: the same chunks
    assert ex.picked == 1 and not second and not again
    fresh = rw.Explorer(rnnscope.open_run(path), catalog=CATALOG, width=700, prefetch=False, debounce=0)
    fresh.show_detection(1)
    _assert_same_views(ex, fresh)  # the same views as read from the store
    with computations() as far, chunk_reads() as read_far:
        ex.table.next()  # 9,000 s: other chunks
    assert len(far) == 1 and {key.split("/")[0] for key, _ in read_far} >= {"h", "spectrogram"}
    fresh.show_detection(2)
    _assert_same_views(ex, fresh)
    with computations() as back:
        ex.table.previous()
        ex.table.previous()
    assert not back  # both earlier detections' chunks are kept
    fresh.show_detection(0)
    _assert_same_views(ex, fresh)


def test_a_press_encodes_each_image_once_and_sends_only_what_changed(path, monkeypatch):
    ex = rw.Explorer(rnnscope.open_run(path), catalog=CATALOG, width=700, prefetch=False, debounce=0)
    ex.table.next()
    encoded = []

    def counting(encode):
        def wrapper(*args, **kwargs):
            data = encode(*args, **kwargs)
            encoded.append(data)
            return data
        return wrapper

    monkeypatch.setattr(_units, "encode_png", counting(_units.encode_png))
    monkeypatch.setattr(_views, "encode_png", counting(_views.encode_png))
    monkeypatch.setattr(_views, "encode_rgb_png", counting(_views.encode_rgb_png))
    last: dict = {}
    with sent_messages() as sent:
        for step in ("next", "previous", "next"):
            encoded.clear()
            start = len(sent)
            getattr(ex.table, step)()
            assert len(encoded) == 4  # heatmap, spectrogram, probabilities, class bands: once each
            mine = sent[start:]
            per_widget: dict = {}
            for widget, keys, state, buffers in mine:
                per_widget.setdefault(widget.model_id, []).append(keys)
                for key in keys:  # every trait sent has a new value (an unchanged one would not be sent)
                    value = (json.loads(state).get(key), [b for path, b in buffers if path == key])
                    assert last.get((widget.model_id, key)) != value, (type(widget), key)
                    last[widget.model_id, key] = value
            axes = {a.model_id for a in ex.time_axes}
            # one message per widget, but the time axes: their labels go before their values (a bqplot redraw)
            assert all(len(v) == 1 for k, v in per_widget.items() if k not in axes), per_widget
            assert all(len(v) <= 2 for v in per_widget.values())
            # at most: the 2 markers (filled and outlined, each shared by its views), 4 images (their bytes, then
            # the mark's image and span), 2 time axes (the shared unlabelled one and the bottom one: labels,
            # values), the time scale, the waveform and unit lines, the amplitude axis and scale, the table's
            # selection and scroll (30 before the markers and axes were shared)
            assert len(mine) <= 2 + 4 * 2 + 2 * 2 + 1 + 2 + 2 + 2, [(type(w).__name__, k) for w, k, *_ in mine]
            kinds = [type(w).__name__ for w, *_ in mine]
            assert kinds.count("Axis") <= 2 * 2 + 1 and kinds.count("Lines") <= 2 + 2, kinds
            # the table's selection and scroll go first: the browser scrolls the grid (a forced layout, a repaint
            # of its canvas) while the kernel renders, not in the frame that shows the views' new data
            assert kinds[:2] == ["DataGrid", "GridScroller"], kinds
            assert ex.table.scroller.row == int(np.flatnonzero(ex.table._rows == ex.picked)[0])


def test_the_views_share_one_marker_of_each_kind_and_one_unlabelled_time_axis(path):
    """The browser handles each comm message on its main thread: the picked detection's interval and the ticks of
    the time axes are sent once per kind, not once per figure, and every figure still shows them."""
    ex = rw.Explorer(rnnscope.open_run(path), catalog=CATALOG, width=700, prefetch=False, debounce=0)
    assert len(ex.figures) == 5 and len(ex.markers) == 2 and len(ex.time_axes) == 2
    assert sorted(m.fill for m in ex.markers) == ["inside", "none"]
    for fig in ex.figures:  # every figure: one marker and one time axis, each a shared widget
        assert len([m for m in fig.marks if m in ex.markers]) == 1
        assert len([a for a in fig.axes if a in ex.time_axes]) == 1
    shown = {a.model_id: sum(a in fig.axes for fig in ex.figures) for a in ex.time_axes}
    assert shown == {ex.bottom_axis.model_id: 1, next(a.model_id for a in ex.time_axes if a is not ex.bottom_axis): 4}
    with sent_messages() as sent:
        ex.table.next()
    det = ex.detections.iloc[ex.picked]
    marker_messages = [keys for w, keys, *_ in sent if w in ex.markers]
    assert len(marker_messages) == 2 and all(m.visible for m in ex.markers)
    assert all(m.x.tolist() == [det["t0"], det["t0"], det["t1"], det["t1"], det["t0"]] for m in ex.markers)
    axis_messages = [keys for w, keys, *_ in sent if w in ex.time_axes]
    assert axis_messages == [["tick_labels"], ["tick_values"]] * 2  # labels before values, per axis widget
    assert all(a.tick_labels == ex.bottom_axis.tick_labels for a in ex.time_axes)


def test_the_chunk_cache_is_bounded_and_keeps_no_whole_record(path):
    run = rnnscope.open_run(path)
    chunk_bytes = 4096 * 24 * 4  # one chunk of h (24 units, float32)
    cache = ChunkCache(run, budget=4 * chunk_bytes + 1)
    reads: list = []
    for start in range(0, 16_384, 4096):
        cache.read("h", 0, start, start + 10, {"layer": 0}, reads=reads)
    assert len(cache) == 4 and cache.nbytes == 4 * chunk_bytes and len(reads) == 4
    cache.read("h", 0, 16_400, 16_410, {"layer": 0}, reads=reads)  # a fifth chunk: the oldest leaves
    assert len(cache) == 4 and cache.nbytes <= cache.budget and cache.get("h", 0, 0, 10, {"layer": 0}) is None
    np.testing.assert_array_equal(cache.get("h", 0, 16_400, 16_410, {"layer": 0}),
                                  run["h"].isel(event=0, layer=0).values[16_400:16_410])
    assert cache.read("h", 0, 0, 8192, {"layer": 0}, reads=reads) is None  # two chunks: more than a quarter
    assert cache.read("h", 0, 16_400, 16_410, {"layer": 0}) is not None  # kept: served without reads=
    memory = ChunkCache(make_run((300,)))
    assert memory.read("h", 0, 0, 100, {"layer": 0}, reads=reads) is None and not len(memory)  # numpy: no cache


def test_reading_a_whole_record_in_the_background_keeps_nothing(path):
    """The labels of a whole record (or the levels built from it) are passes over the record: read, not kept."""
    ex = rw.Explorer(rnnscope.open_run(path), event=1, width=700, prefetch=False)
    before = len(ex.reader.chunks)
    ex.reader._load_labels(0)
    assert len(ex.reader.chunks) == before and ex.reader.labels_cached(0)


def test_the_chunks_previous_and_next_lead_to_are_read_ahead_so_the_first_press_reads_nothing(path):
    catalog = pd.concat([CATALOG, pd.DataFrame({"event_id": ["r0_0"], "start": [5_000.0], "end": [5_010.0],
                                                "class_name": ["VT"]})], ignore_index=True)
    ex = rw.Explorer(rnnscope.open_run(path), catalog=catalog, width=700, debounce=0)  # prefetch=True, the default
    ex.reader.wait()  # the opening's background reads, then the read-ahead of the first and the last detection
    with computations() as first, chunk_reads() as read:
        ex.table.next()
    assert ex.picked == 0 and not first and not read  # the first press after opening reads nothing
    ex.table.w_class.value = "VT"  # the filter: previous / next now lead to the VT detection (far away)
    ex.reader.wait()
    with computations() as filtered, chunk_reads() as read:
        ex.table.next()
    assert ex.picked == 3 and not filtered and not read
    fresh = rw.Explorer(rnnscope.open_run(path), catalog=catalog, width=700, prefetch=False, debounce=0)
    fresh.show_detection(3)
    _assert_same_views(ex, fresh)
    quiet = rw.Explorer(rnnscope.open_run(path), catalog=catalog, width=700, prefetch=False, debounce=0)
    quiet.reader.wait()
    with computations() as unread:
        quiet.table.next()
    assert len(unread) == 1  # without prefetch nothing is read ahead


def test_a_later_read_ahead_supersedes_one_not_started(path):
    cache = ChunkCache(rnnscope.open_run(path))
    first = cache.read_ahead([("h", 0, 0, 10, {"layer": 0})], delay=0.3)
    second = cache.read_ahead([("h", 0, 8192, 8200, {"layer": 0})], delay=0.0)
    first.join()
    second.join()
    assert cache.get("h", 0, 0, 10, {"layer": 0}) is None and cache.get("h", 0, 8192, 8200, {"layer": 0}) is not None
    assert cache.read_ahead([("h", 0, 8192, 8200, {"layer": 0})]) is None  # kept: nothing to read

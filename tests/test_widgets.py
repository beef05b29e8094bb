"""Widgets without a browser: traitlets, clicks through the marks' message handlers, linking, rendering."""
from __future__ import annotations

import asyncio
import io
import json

import numpy as np
import pytest
import traitlets
import xarray as xr

import rnnscope
from rnnscope import widgets as rw
from rnnscope.widgets import _render, _summaries
from rnnscope.widgets._render import fold_minmax
from rnnscope.widgets._source import RunReader


# ----------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def small_run(tmp_path_factory, make_frames):
    """A captured run (untrained LSTM, 16 units) saved to zarr and reopened lazily (dask-backed)."""
    frames = make_frames(6, seed=3)
    model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=16, num_classes=5)
    path = tmp_path_factory.mktemp("run") / "run.zarr"
    rnnscope.capture(model, frames, progress=False, store=path)
    return rnnscope.open_run(path)


@pytest.fixture
def ex(small_run):
    return rw.Explorer(small_run, width=800)


def long_run(n_frames=20_000, n_units=128, spike_at=None):
    """An in-memory run with one long record: small random states and one spike of +1 (unit 0)."""
    rng = np.random.default_rng(0)
    spike_at = int(0.6 * n_frames) if spike_at is None else spike_at
    times = 2.0 + 0.5 * np.arange(n_frames)
    h = (0.3 * np.tanh(rng.standard_normal((1, n_frames, n_units, 1)))).astype(np.float32)
    h[0, spike_at, 0, 0] = 1.0
    n_samples = 50 * (n_frames - 1) + 400
    label = np.zeros((1, n_frames), np.int16)
    a, b = n_frames // 4, n_frames // 4 + n_frames // 50
    label[0, a:b] = 2
    heat = rng.random((5, n_units, 1)).astype(np.float32)
    ds = xr.Dataset(
        {"h": (("event", "time", "unit", "layer"), h),
         "spectrogram": (("event", "time", "freq"), rng.standard_normal((1, n_frames, 33)).astype(np.float32)),
         "waveform": (("event", "sample"), rng.standard_normal((1, n_samples)).astype(np.float32)),
         "label": (("event", "time"), label), "pred": (("event", "time"), label.copy()),
         "segment_event_id": ("segment", np.array(["long", "long"])), "segment_class": ("segment", np.array([0, 2])),
         "segment_start": ("segment", np.array([0.0, times[a] - 0.25])),
         "segment_end": ("segment", np.array([times[a] - 0.25, times[b] - 0.25])),
         "segment_p": ("segment", np.array([np.nan, times[a] + 1.0])),
         "segment_s": ("segment", np.array([np.nan, times[a] + 4.0])),
         "summary_heat": (("class_name", "unit", "layer"), heat),
         "summary_activity": (("unit", "layer"), heat.mean(0)),
         "summary_event_id": ("summary_event", np.array(["long"]))},
        coords={"time": times, "unit": np.arange(n_units), "layer": [0],
                "class_name": ["SIL", "TRE", "LP", "VTE", "HYB"], "freq": np.linspace(0, 50, 33),
                "sample_time": ("sample", np.arange(n_samples) / 100.0), "length": ("event", [n_frames]),
                "n_samples": ("event", [n_samples]), "event_id": ("event", ["long"])},
        attrs={"class_names": ["SIL", "TRE", "LP", "VTE", "HYB"], "sampling_rate": 100.0})
    return ds


def click(mark, x, y):
    """What bqplot's frontend sends when an Image mark is clicked (see its ImageModel view)."""
    mark._handle_custom_msgs(None, {"event": "element_click", "data": {"click_x": x, "click_y": y}})


def png_size(mark):
    from PIL import Image

    return Image.open(io.BytesIO(mark.image.value)).size  # (width, height)


def main_class(run, event):
    names = list(run.attrs["class_names"])
    seg = run[["segment_event_id", "segment_class", "segment_start", "segment_end"]].compute()
    record = str(run.event_id.values[event])
    rows = [(float(e - s), int(c)) for ev, c, s, e in zip(seg.segment_event_id.values, seg.segment_class.values,
                                                         seg.segment_start.values, seg.segment_end.values, strict=True)
            if str(ev) == record]
    non_sil = [r for r in rows if names[r[1]] != "SIL"]
    return names[max(non_sil or rows)[1]]


# ----------------------------------------------------------------------------------------------- Explorer
def test_views_share_one_time_scale(ex):
    scale = ex.time_scale
    for fig in ex.figures:
        assert fig.axes[0].scale is scale
        for mark in fig.marks:
            x = mark.scales.get("x")
            assert x is scale or x.max == 1.0  # time-scaled marks, or marks pinned to the plot's width
    assert [fig.interaction.scales["x"] for fig in ex.figures[:2]] == [[scale], [scale]]
    assert ex.brush.scale is scale
    assert ex.fig_heatmap.interaction is None  # its clicks must reach the image mark


def test_preselection_is_top_five_heat_of_main_class(small_run, ex):
    cls = main_class(small_run, 0)
    heat = small_run["summary_heat"].sel(class_name=cls).isel(layer=0).values
    assert ex.order_class == cls
    assert ex.selected_units == list(np.argsort(-heat, kind="stable")[:5])
    assert ex.lines.y.shape[0] == 5 and ex.lines.labels == [f"unit {u}" for u in ex.selected_units]


def test_click_on_heatmap_row_toggles_its_line(ex):
    t = sum(ex.time_range) / 2
    order = ex.order
    row = next(r for r in range(len(order)) if order[r] not in ex.selected_units)
    unit = int(order[row])
    click(ex.heat_image, t, row + 0.5)
    assert ex.selected_units[-1] == unit
    assert ex.lines.y.shape[0] == 6 and ex.lines.labels[-1] == f"unit {unit}"
    assert ex.pointer["unit"] == unit and ex.pointer["rank"] == row
    assert abs(ex.pointer["time"] - t) < 1e-9 and np.isfinite(ex.pointer["value"])
    assert f"unit <b>{unit}</b>" in ex.w_readout.value
    assert list(ex.unit_labels.text)[-1] == str(unit)
    click(ex.heat_image, t, row + 0.5)
    assert unit not in ex.selected_units and ex.lines.y.shape[0] == 5


def test_switching_event_updates_every_view_and_reads_only_it(ex):
    before = {"heat": ex.heat_image.image.value, "spec": ex.spec_image.image.value,
              "band": ex.band_image.image.value, "wave": ex.trace_data("wave")[1], "lines": ex.trace_data("lines")[1]}
    ex.reader.reads.clear()
    ex.event = 2
    assert ex.time_range == ex.initial_range(2) == ex.reader.record_span(2)
    assert (ex.time_scale.min, ex.time_scale.max) == ex.time_range
    assert ex.heat_image.image.value != before["heat"]
    assert ex.spec_image.image.value != before["spec"]
    assert ex.band_image.image.value != before["band"]
    assert not np.array_equal(ex.trace_data("wave")[1], before["wave"])
    assert not np.array_equal(ex.trace_data("lines")[1], before["lines"])
    assert {e for _, e, *_ in ex.reader.reads} == {2}
    assert ex.w_event.value == 2
    ex.w_event.value = 1  # the dropdown drives the traitlet
    assert ex.event == 1


def test_zoom_rerenders_at_screen_resolution(small_run):
    longest = int(np.argmax(small_run["length"].values))
    ex = rw.Explorer(small_run, event=longest, width=336)  # 2 x 138 px of plot = 276 columns
    assert ex.n_cols == 2 * (336 - 86 - 72 - 40) == 276  # less the side column (colour bars) and the margins
    n = int(ex.reader.lengths[longest])
    assert n > ex.n_cols and png_size(ex.heat_image) == (-(-n // -(-n // ex.n_cols)), ex.reader.n_units)
    t0 = ex.time_range[0]
    ex.time_range = (t0, t0 + 20.0)  # 40 frames
    ex.render_now()
    assert png_size(ex.heat_image)[0] == 40
    assert ex.heat_image.x[0] == pytest.approx(t0)
    assert ex.lines.x.size == 40  # one point per frame, no envelope
    renders = ex.render_count
    ex.render_now()  # nothing changed: nothing to do
    assert ex.render_count == renders


def test_browser_pan_zoom_renders_at_once_then_throttles():
    ex = rw.Explorer(long_run(2_000), width=300, debounce=0.2)

    async def browser_zooms():
        renders = ex.render_count
        ex.time_scale.set_state({"min": 100.0, "max": 300.0})  # what PanZoom sends: after a pause, rendered at once
        assert ex.time_range == (100.0, 300.0)
        assert ex.render_count == renders + 1 and not ex._debouncer.pending
        assert ex.heat_image.x[0] <= 100.0 + ex.reader.dt
        ex.time_scale.set_state({"min": 110.0, "max": 310.0})  # within the interval: folded into one later render
        ex.time_scale.set_state({"min": 115.0, "max": 315.0})
        assert ex.render_count == renders + 1 and ex._debouncer.pending
        await asyncio.sleep(0.3)
        assert ex.render_count == renders + 2 and not ex._debouncer.pending
        assert ex._rendered == (0, (115.0, 315.0))  # the last state is always rendered
        # a drag: 50 messages in quick succession give far fewer renders, the last range among them
        before = ex.render_count
        for i in range(50):
            ex.time_scale.set_state({"min": 200.0 + i, "max": 400.0 + i})
            await asyncio.sleep(0.002)
        await asyncio.sleep(0.3)
        assert ex.render_count - before < 25 and ex._rendered == (0, (249.0, 449.0))
        ex.time_scale.set_state({"min": 120.0, "max": 320.0})
        ex.render_now()  # bypass
        assert not ex._debouncer.pending and ex._rendered == (0, (120.0, 320.0))

    asyncio.run(browser_zooms())


def test_brush_zooms_every_view(ex):
    ex.brush.selected = np.array([20.0, 40.0])
    ex.brush.brushing = True
    ex.brush.brushing = False
    ex.render_now()
    assert ex.time_range == (20.0, 40.0) and ex.brush.selected is None
    assert ex.heat_image.x[0] == pytest.approx(19.75) and ex.spec_image.x[0] == pytest.approx(19.75)


def test_variable_and_layer_switch(ex):
    ex.var = "c"
    bar = ex.colorbar.cmap
    assert bar.name == "RdBu" and bar.vmin == -bar.vmax and bar.vmax != 1.0  # symmetric robust range
    assert ex.value_axis.label == "c (layer 0)"
    ex.var = "forget_gate"
    assert (ex.colorbar.cmap.name, ex.colorbar.cmap.vmin, ex.colorbar.cmap.vmax) == ("Blues", 0.0, 1.0)
    ex.var = "h"
    assert (ex.colorbar.cmap.vmin, ex.colorbar.cmap.vmax) == (-1.0, 1.0)
    with pytest.raises(traitlets.TraitError, match="The 'var' of Explorer must be one of .*Got 'update_gate'"):
        ex.var = "update_gate"
    with pytest.raises(traitlets.TraitError, match=r"'layer' of Explorer must be in 0..0. Got 3"):
        ex.layer = 3
    with pytest.raises(traitlets.TraitError, match="'event' of Explorer must be in 0..5"):
        ex.event = 6


def test_unit_orders(small_run, ex):
    activity = small_run["summary_activity"].isel(layer=0).values
    heat = small_run["summary_heat"].isel(layer=0).values
    ex.unit_order = "index"
    assert ex.order.tolist() == list(range(16)) and ex.unit_axis.label == "unit"
    ex.unit_order = "activity"
    assert ex.order.tolist() == np.argsort(-activity, kind="stable").tolist()
    ex.order_class = "LP"
    ex.unit_order = "specialisation"
    c = list(small_run.attrs["class_names"]).index("LP")
    rest = np.nanmean(np.delete(heat, c, axis=0), axis=0)
    assert ex.order.tolist() == np.argsort(-(heat[c] - rest), kind="stable").tolist()
    assert "LP" in ex.unit_axis.label and not ex.w_class.disabled
    with pytest.raises(traitlets.TraitError, match="'order_class' of Explorer must be one of"):
        ex.order_class = "XYZ"


def test_opening_reads_only_the_shown_slice(small_run):
    reader_reads = []
    original = RunReader._read

    def spy(self, name, event, start, stop, **isel):
        reader_reads.append((name, event, start, stop))
        return original(self, name, event, start, stop, **isel)

    RunReader._read = spy
    try:
        ex = rw.Explorer(small_run, event=1, width=800)
    finally:
        RunReader._read = original
    reads = reader_reads + ex.reader.reads
    assert reads and {e for _, e, *_ in reads} == {1}
    assert {name for name, *_ in reads} <= {"label", "pred", "prob", "h", "spectrogram", "waveform"}


def test_long_record_uses_overview_and_keeps_extremes():
    run = long_run()
    window = rw.Explorer(run, width=300, prefetch=False, initial_frames=600)
    assert window.time_range[1] - window.time_range[0] == pytest.approx(600 * 0.5)  # the window asked for
    ex = rw.Explorer(run, width=300, prefetch=False)
    assert ex.time_range == ex.reader.record_span(0)  # by default: the whole record
    ex.time_range = (1000.0, 1100.0)
    ex.render_now()
    ex.show_whole_record()
    ex.render_now()
    assert ("state", 0, "h", 0) in ex.reader.build_seconds  # read once through the overview
    width, height = png_size(ex.heat_image)
    assert width <= ex.n_cols and height == 128
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(ex.heat_image.image.value)))
    row = list(ex.order).index(0)
    assert pixels[row].max() == 254  # the one-frame spike of +1 survives the reduction (darkest blue)
    assert ex.wave.x.size <= 2 * ex.n_cols + 2


def test_update_sends_less_than_a_megabyte():
    from ipywidgets import Widget

    ex = rw.Explorer(long_run(), width=1000, prefetch=False)
    ex.time_range = (100.0, 200.0)
    ex.render_now()
    sent = []
    original = Widget._send

    def count(widget, msg, buffers=None):
        sent.append(len(json.dumps(msg, default=str)) + sum(memoryview(b).nbytes for b in buffers or []))
        return original(widget, msg, buffers=buffers)

    Widget._send = count
    try:
        ex.show_whole_record()
        ex.render_now()
        ex.event = 0
    finally:
        Widget._send = original
    assert 0 < sum(sent) < 1_000_000


def test_the_explorer_renders_for_the_width_the_browser_reports():
    """Without a fixed width the Explorer renders for 1600 px until the browser reports the page's width (the
    probe's width_px, what its ResizeObserver sends), then for that width: fewer image columns and trace points
    on a narrow page, never more than for 1600 px."""
    ex = rw.Explorer(long_run(), prefetch=False)  # 20 000 frames: every view folded to columns
    assert ex._width_probe in ex.children and ex.plot_width == 1600 - 86 - 72 - 40
    assert png_size(ex.heat_image)[0] > 1600
    renders = ex.render_count
    ex._width_probe.width_px = 900  # a laptop, JupyterLab's file browser open
    assert ex.plot_width == 900 - 86 - 72 - 40 and ex.n_cols == 2 * 702 and ex.render_count == renders + 1
    assert png_size(ex.heat_image)[0] <= 2 * 702 and png_size(ex.spec_image)[0] <= 2 * 702
    assert ex.lines.x.size <= 702 and ex.wave.x.size <= 2 * 702 + 2
    t, _ = ex.trace_data("lines")  # still the whole record
    assert t[0] < 0.01 * ex.time_range[1] and t[-1] > 0.99 * ex.time_range[1]
    ex._width_probe.width_px = 910  # a small change: not worth a render
    assert ex.plot_width == 702 and ex.render_count == renders + 1
    ex._width_probe.width_px = 3000  # a wide screen: at most the default
    assert ex.plot_width == 1600 - 86 - 72 - 40 and ex.render_count == renders + 2
    fixed = rw.Explorer(long_run(), width=600, prefetch=False)
    assert fixed._width_probe is None and not any(type(c).__name__ == "WidthProbe" for c in fixed.children)


def test_a_zoom_sends_each_long_trace_once_and_never_rescales_it():
    """bqplot redraws every path of a mark when one of its scales changes: the waveform, unit lines and envelopes
    are drawn on fixed view-coordinate scales, so a zoom sends their data once and nothing that redraws them
    again (the axes still follow the time and value scales)."""
    from ipywidgets import Widget

    ex = rw.Explorer(long_run(), width=600, prefetch=False)
    assert ex.envelopes.visible  # coarse zoom: lines and envelopes
    traces = {ex.wave.model_id: "wave", ex.lines.model_id: "lines", ex.envelopes.model_id: "envelopes",
              ex.trace_x.model_id: "trace_x", ex.trace_y.model_id: "trace_y"}
    for mark in (ex.wave, ex.lines, ex.envelopes):
        assert mark.scales["x"] is ex.trace_x and mark.scales["y"] is ex.trace_y
    sent = []
    original = Widget._send

    def record(widget, msg, buffers=None):
        if widget.model_id in traces and msg.get("method") == "update":
            sent.append((traces[widget.model_id], tuple(sorted(msg["state"]))))
        return original(widget, msg, buffers=buffers)

    Widget._send = record
    try:
        for t0, t1 in ((2000.0, 6000.0), (2500.0, 3500.0)):
            sent.clear()
            ex.time_range = (t0, t1)
            ex.render_now()
            assert (ex.time_scale.min, ex.time_scale.max) == (t0, t1)
            assert not [name for name, _ in sent if name.startswith("trace_")]  # fixed scales: never sent
            data = [name for name, keys in sent if {"x", "y"} <= set(keys)]
            assert sorted(data) == ["envelopes", "lines", "wave"]  # each trace once, x and y in one message
            for name in ("wave", "lines", "envelopes"):
                t, _ = ex.trace_data(name)
                mark = getattr(ex, name)
                column = 2.0 / ex.plot_width  # the columns may reach a column's width past the view's edges
                assert -column <= np.nanmin(mark.x) and np.nanmax(mark.x) <= 1.0 + column
                assert t0 - column * (t1 - t0) <= t.min() and t.max() <= t1 + column * (t1 - t0)  # back in s
    finally:
        Widget._send = original
    with pytest.raises(ValueError, match="one of"):
        ex.trace_data("heat")


# ----------------------------------------------------------------------------------------------- rendering
def test_column_minmax_keeps_extremes_and_colormaps():
    v = np.zeros((1000, 2), np.float32)
    v[537, 0], v[10, 1] = -0.9, 0.7
    lo, hi, k = _render.column_minmax(v, 100)
    ext = _render.pick_extreme(lo, hi, 0.0)
    assert k == 10 and ext.shape == (100, 2)
    assert ext[53, 0] == pytest.approx(-0.9) and ext[1, 1] == pytest.approx(0.7)
    cmap = rw.colormap_for("h")
    assert cmap.indices(np.array([-1.0, 0.0, 1.0, np.nan])).tolist() == [0, 127, 254, 255]
    assert rw.colormap_for("c", robust_max=2.5) == _render.ColorMap("RdBu", -2.5, 2.5, 0.0)
    pal = cmap.palette()
    assert tuple(pal[0]) == (103, 0, 31) and tuple(pal[254]) == (5, 48, 97)  # dark red .. dark blue (RdBu)


# ----------------------------------------------------------------------------------------------- summaries
def test_widgets_use_summaries_of_the_records_they_show(small_run):
    """A selection of records gets its own summaries (computed from its states), never the whole run's."""
    from rnnscope.widgets._summaries import load_summaries

    whole = load_summaries(small_run)
    np.testing.assert_array_equal(whole["summary_heat"].values, small_run["summary_heat"].values)  # as stored
    subset = small_run.isel(event=[4, 1])
    chm = rw.ClassHeatMap(subset)
    with pytest.warns(rnnscope.analysis.EmptyClassWarning):
        expected = rnnscope.analysis.heat_map(subset, layer=0).isel(layer=0).values
    np.testing.assert_allclose(rw._summaries.heat(chm.summary, 0), expected, rtol=1e-5, equal_nan=True)
    assert not np.allclose(expected, whole["summary_heat"].isel(layer=0).values, equal_nan=True)
    reader = rw._source.RunReader(subset)
    assert set(reader.segments["event"]) == {0, 1}
    ids = subset.event_id.values
    for e in (0, 1):  # each record with its own segments
        rows = reader.event_segments(e)
        table = rnnscope.data.catalog(subset)
        assert rows["start"].tolist() == table[table.event_id == ids[e]]["start"].tolist()


def test_classheatmap_fraction_and_click_into_explorer(small_run, ex):
    chm = rw.ClassHeatMap(small_run, explorer=ex)
    assert chm.units.tolist() == list(range(16))
    heat = small_run["summary_heat"].isel(layer=0).values
    chm.fraction = 0.5
    keep = np.ones(16, bool)
    for row in heat:
        if np.isfinite(row).any():
            mask = np.zeros(16, bool)
            mask[np.argsort(-np.nan_to_num(row, nan=-np.inf), kind="stable")[:8]] = True
            keep &= mask
    assert chm.units.tolist() == np.flatnonzero(keep).tolist()
    assert png_size(chm.heat_image) == (max(1, keep.sum()), 5)
    chm.fraction = 0.3
    assert set(chm.units) <= set(np.flatnonzero(keep))
    assert chm.w_fraction.value == 0.3
    with pytest.raises(traitlets.TraitError, match=r"'fraction' of ClassHeatMap must be in \(0, 1\]"):
        chm.fraction = 1.5
    chm.fraction = 1.0
    present = [c for c, row in zip(chm.class_names, heat, strict=True) if np.isfinite(row).any()]
    assert list(chm.corr.row) == present and chm.correlation.shape == (len(present), len(present))
    assert np.allclose(np.diag(chm.correlation), 1.0)
    assert "Most specialised units" in chm.table.value
    # a click on (unit 3, LP) opens the unit in the Explorer on a record of that class
    cls_row = chm.class_names.index("LP")
    click(chm.heat_image, 3.5, cls_row + 0.5)
    assert chm.selected_unit == 3 and chm.selected_class == "LP"
    assert 3 in ex.selected_units and ex.order_class == "LP"
    assert ex.reader.main_class(ex.event) == "LP"


def test_histograms_and_compare_runs(small_run):
    hist = rw.Histograms(small_run)
    widths = np.diff(hist.edges)
    for dens in hist.density.values():
        assert dens.sum() == 0 or (dens * widths).sum() == pytest.approx(1.0)
    assert hist.lines.labels == list(small_run.attrs["class_names"])
    hist.var = "forget_gate"
    assert hist.edges[0] == 0.0 and hist.edges[-1] == 1.0
    cmp = rw.CompareRuns(small_run, small_run, names=("LSTM", "again"))
    assert cmp.histograms[0].y_scale is cmp.histograms[1].y_scale
    cmp.var = "c"
    assert [h.var for h in cmp.histograms] == ["c", "c"]
    cmp.fraction = 0.5
    assert [m.fraction for m in cmp.heatmaps] == [0.5, 0.5]


def test_summaries_stand_ins_match_the_summaries(small_run):
    top = _summaries.top_units(small_run, 0, n=3)
    heat = small_run["summary_heat"].isel(layer=0).values
    for c, name in enumerate(small_run.attrs["class_names"]):
        assert top[name] == ([] if np.isnan(heat[c]).all() else np.argsort(-heat[c], kind="stable")[:3].tolist())
    with pytest.raises(ValueError, match="'unit_order' must be one of"):
        _summaries.unit_order(small_run, 0, "random")


def test_a_detection_catalog_is_listed_and_opens_its_record(small_run):
    import pandas as pd

    run = small_run
    ids = [str(i) for i in run.event_id.values]
    catalog = pd.DataFrame({"event_id": [ids[2], ids[0], "nowhere"], "start": [20.0, 5.0, 1.0],
                            "end": [30.0, 9.0, 2.0], "class_name": ["LP", "VTE", "SIL"]})
    ex = rw.Explorer(run, catalog=catalog, debounce=0)
    assert len(ex.detections) == 2  # the row of an unknown record is left out
    assert ex.table.grid.data["class"].tolist() == ["VTE", "LP"]  # time order: record 0 first
    ex.table.pick(0)  # picking it in the table
    assert ex.event == 2 and ex.picked == 0
    lo, hi = ex.reader.record_span(2)
    assert ex.time_range == (max(lo, 10.0), min(hi, 40.0))  # padded by its length, at least 10 s
    # UTC times (as rnnscope.monitor writes them) are matched against the run's starttime coordinate
    timed = run.assign_coords(starttime=("event", ["2024-01-01T00:00:00"] * run.sizes["event"]),
                              trace_id=("event", ["XX.STA..HHZ"] + ["YY.STA..HHZ"] * (run.sizes["event"] - 1)))
    utc = pd.DataFrame(
        {
            "start": pd.to_datetime(["2024-01-01T00:00:12Z"]),
            "end": pd.to_datetime(["2024-01-01T00:00:15Z"]),
            "class_name": ["LP"],
            "seed_id": ["YY.STA..HHZ"],
            "p_mean": [0.875],
        }
    )
    ex2 = rw.Explorer(timed, catalog=utc, debounce=0)
    assert ex2.detections[["event", "t0", "t1"]].values.tolist() == [[1, 12.0, 15.0]]
    row = ex2.table.grid.data.iloc[0]
    assert (row["class"], row["station"], row["start (UTC)"], row["duration (s)"], row["probability"]) == (
        "LP", "STA", "2024-01-01 00:00:12.0", 3.0, 0.875)
    with pytest.raises(ValueError, match="lacks columns"):
        rw.Explorer(run, catalog=pd.DataFrame({"begin": [1]}))
    with pytest.raises(ValueError, match=r"'row' of Explorer.show_detection must be in 0..0"):
        ex2.show_detection(3)


def _cell_click(table, row):
    """What ipydatagrid's frontend sends for a click on a body cell of ``row`` (a row of the shown data)."""
    table.grid._cell_click_handlers({"region": "body", "column": "class", "column_index": 1, "row": row,
                                     "primary_key_row": row, "cell_value": ""})


def test_detection_table_filters_steps_clicks_and_marks(small_run):
    import pandas as pd

    ids = [str(i) for i in small_run.event_id.values]
    catalog = pd.DataFrame({"event_id": [ids[1], ids[1], ids[3], ids[1]], "start": [30.0, 5.0, 12.0, 50.0],
                            "end": [34.0, 8.0, 20.0, 52.0], "class_name": ["LP", "VTE", "LP", "LP"],
                            "p_mean": [0.9, 0.5, 0.7, 0.3]})
    ex = rw.Explorer(small_run, catalog=catalog, debounce=0)
    table = ex.table
    assert table.visible_rows().tolist() == [1, 0, 3, 2]  # by record, then start
    table.w_class.value = "LP"
    assert table.visible_rows().tolist() == [0, 3, 2] and len(table.grid.data) == 3
    assert "3 of 4" in table.w_count.value
    table.w_prob.value = (0.5, 1.0)
    assert table.visible_rows().tolist() == [0, 2]
    table.w_prob.value = (0.0, 1.0)
    table.next()  # nothing picked yet: the first filtered row
    assert ex.picked == 0 and ex.event == 1
    table.next()
    assert ex.picked == 3 and ex.time_range[0] == pytest.approx(40.0)
    table.next()
    assert ex.picked == 2 and ex.event == 3
    table.next()  # the last row stays picked
    assert ex.picked == 2
    table.previous()
    assert ex.picked == 3
    # a click on a row zooms to it; after zooming away, a click on the same row moves the views again
    for _ in range(2):
        ex.show_whole_record()
        ex.render_now()
        renders = ex.render_count
        _cell_click(table, 0)
        assert ex.picked == 0 and ex.event == 1 and ex.time_range == (20.0, 44.0)
        assert ex.render_count == renders + 1 and ex.heat_image.x[0] == pytest.approx(19.75)
    assert table.grid.selections[0]["r1"] == 0  # the picked row is selected in the grid
    # the picked detection is marked on every view
    assert len(ex.markers) == 2  # one filled, one outlined, each shared by the figures that show it
    for fig in ex.figures:
        mark = next(m for m in fig.marks if m in ex.markers)
        assert mark.visible and mark.x.tolist() == [30.0, 30.0, 34.0, 34.0, 30.0]
    ex.event = 0  # another record: the marker goes
    assert not any(m.visible for m in ex.markers)
    # "in view only": the detections overlapping the shown range of the shown record
    ex.event = 1
    ex.time_range = (0.0, 31.0)
    table.w_class.value = ""
    table.w_in_view.value = True
    assert table.visible_rows().tolist() == [1, 0]
    ex.time_range = (45.0, 60.0)
    assert table.visible_rows().tolist() == [3]
    # arrow keys move the grid's selection in the browser: the row under it is picked
    table.grid.set_state({"selections": [{"r1": 0, "r2": 0, "c1": 0, "c2": 4}]})
    assert ex.picked == 3


def test_utc_time_axes_and_readout(small_run):
    timed = small_run.assign_coords(starttime=("event", ["2024-03-01T23:59:30"] * small_run.sizes["event"]))
    ex = rw.Explorer(timed, event=1, debounce=0)
    assert ex.time_format == "utc" and "w_time_format" in dir(ex) and ex.w_time_format in ex._controls.children
    ex.time_range = (0.0, 60.0)
    ex.render_now()
    labels = [ex.bottom_axis.tick_labels[_js(v)] for v in ex.bottom_axis.tick_values]
    assert labels[:3] == ["23:59:30", "23:59:40", "23:59:50"] and "2024-03-02" in labels  # midnight: the date
    assert ex.bottom_axis.label == "time (UTC) 2024-03-01 - 2024-03-02"
    assert all(axis.tick_labels == ex.bottom_axis.tick_labels for axis in ex.time_axes)
    click(ex.heat_image, 12.5, 0.5)
    assert "2024-03-01 23:59:42.50 UTC (12.50 s)" in ex.w_readout.value
    ex.time_format = "seconds"
    labels = [ex.bottom_axis.tick_labels[_js(v)] for v in ex.bottom_axis.tick_values]
    assert labels[:3] == ["0", "10", "20"] and ex.bottom_axis.label.startswith("time (s from 2024-03-01T23:59:30")
    plain = rw.Explorer(small_run, debounce=0)  # no starttime: seconds, round ticks, no UTC switch
    assert plain.time_format == "seconds" and plain.w_time_format not in plain._controls.children
    values = np.asarray(plain.bottom_axis.tick_values)
    assert np.allclose(values % (values[1] - values[0]), 0) and plain.bottom_axis.label == "time (s)"


def _js(value):
    from rnnscope.widgets._timeaxis import js_number

    return js_number(value)


def test_a_click_on_a_trace_at_coarse_zoom_picks_the_envelope_it_lands_in():
    """At coarse zoom each unit is a min/max envelope: a click inside one unit's envelope (and only its) points at
    that unit, at the clicked time; where envelopes overlap, the nearest middle line wins (what the browser sends:
    fractions of the plot area, rnnscope.widgets._clicks)."""
    run = long_run()
    h = run["h"].values.copy()  # (event, time, unit, layer): two units moved apart from the others
    h[:, :, 3], h[:, :, 7] = 0.6 + 0.1 * h[:, :, 3], -0.6 + 0.1 * h[:, :, 7]
    run["h"] = (run["h"].dims, h)
    ex = rw.Explorer(run, width=600, prefetch=False)
    ex.selected_units = [3, 5, 7]
    assert ex.envelopes.visible
    t0, t1 = ex.time_range
    v0, v1 = ex.value_scale.min, ex.value_scale.max

    def click(time, value):
        ex.traces.clicks._handle_custom_msg({"event": "click", "x": (time - t0) / (t1 - t0),
                                             "y": (v1 - value) / (v1 - v0)}, [])
        return ex.pointer["unit"], ex.pointer["time"]

    for time in (t0 + 0.2 * (t1 - t0), t0 + 0.7 * (t1 - t0)):
        assert click(time, 0.6) == (3, pytest.approx(time, abs=1e-6 * (t1 - t0)))
        assert click(time, -0.62) == (7, pytest.approx(time, abs=1e-6 * (t1 - t0)))
        assert click(time, 0.0)[0] == 5
        assert click(time, 0.9)[0] == 3  # above every envelope: the nearest one
    assert ex.selected_units == [3, 5, 7]


def test_unit_lines_stay_readable_at_coarse_zoom():
    ex = rw.Explorer(long_run(), width=600, prefetch=False)  # 20 000 frames on 1 056 columns
    cols = ex._cols
    assert cols.step > 1
    units = ex.selected_units
    # the heatmap has two columns per pixel; the lines fold them to one per pixel (half the points to draw)
    assert cols.n > ex.plot_width
    lo, hi, k = fold_minmax(cols.lo[:, units], cols.hi[:, units], ex.plot_width)
    lo, hi = lo.T, hi.T
    assert k == 2 and lo.shape[1] <= ex.plot_width
    x, y = ex.trace_data("lines")
    tol = 1e-6 * (ex.value_scale.max - ex.value_scale.min)  # float32 view coordinates
    np.testing.assert_allclose(y, (lo + hi) / 2, atol=tol)  # a middle line per unit ...
    n = lo.shape[1]
    _, ring = ex.trace_data("envelopes")
    assert ex.envelopes.visible and ring.shape == (len(units), 2 * n)  # ... in a light envelope
    assert list(ex.envelopes.fill_opacities) == [0.16] * len(units)
    np.testing.assert_allclose(ring[:, :n], lo, atol=tol)
    assert ring[:, n:].max() == pytest.approx(float(cols.hi[:, units].max()), abs=tol)  # no extreme lost
    span = ex.time_range[1] - ex.time_range[0]
    assert np.all(np.diff(x) > 0) and x[-1] <= ex.reader.frame_time(cols.start + cols.n * cols.step - 1) + 1e-6 * span
    assert len(ex.wave.x) <= 2 * ex.plot_width  # the waveform too: one (min, max) pair per pixel
    ex.time_range = (100.0, 150.0)  # one point per frame: plain lines
    ex.render_now()
    i0, i1 = ex.reader.frame_range(0, 100.0, 150.0)
    assert not ex.envelopes.visible and ex.lines.y.shape == (len(units), i1 - i0)
    x, _ = ex.trace_data("lines")
    np.testing.assert_allclose(x, ex.reader.frame_time(np.arange(i0, i1)), atol=1e-6 * 50.0)
    assert "unit" in ex.w_unit_legend.value and ex.fig_lines.legend_location  # the legend sits above the figure
    assert not any(getattr(m, "display_legend", False) for m in ex.fig_lines.marks)


def test_unit_labels_never_overlap(small_run):
    ex = rw.Explorer(small_run, debounce=0)
    ex.unit_order = "index"
    ex.selected_units = [3, 4, 5, 6, 0, 15]
    y = np.sort(np.asarray(ex.unit_labels.y))
    plot_px = ex.heat_height - 8 - 34
    gap_rows = 13.0 * 16 / plot_px
    assert np.all(np.diff(y) >= gap_rows - 1e-9) and y[0] >= gap_rows / 2 - 1e-9 and y[-1] <= 16 - gap_rows / 2 + 1e-9
    assert not ex.fig_heatmap.display_toolbar  # bqplot's hover toolbar covered the labels


def test_explorer_follows_the_page_width(small_run):
    ex = rw.Explorer(small_run, debounce=0)  # width=None: responsive
    assert ex.layout.width == "100%"
    assert all(fig.layout.width == "auto" for fig in ex.figures)
    assert ex.fig_heatmap.layout.flex == "1 1 auto" and ex._heat_row.children[1].layout.flex == "0 0 auto"
    fixed = rw.Explorer(small_run, width=900, debounce=0)
    assert fixed.fig_lines.layout.width == "814px" and fixed.n_cols == 2 * (900 - 86 - 72 - 40)
    assert all(fig.layout.width == "814px" for fig in fixed.figures)  # every figure as wide: axes aligned


# ----------------------------------------------------------------------------------------------- monitor runs
def test_monitor_run_shows_what_it_has(monitor_run):
    run, detections, root = monitor_run
    source = run.attrs["waveform_source"]  # nested attrs are dicts in memory, opened or not
    assert source == {"kind": "sds", "root": str((root / "sds").resolve())}
    ex = rw.Explorer(run, catalog=detections, debounce=0)
    assert ex.time_range == ex.reader.record_span(0)  # opens on the whole record
    # the waveform comes from the archive, for the shown window only
    assert ex.reader.waveform_origin == "archive" and ex.wave.visible and ex.amp_axis.visible
    archive = ex.reader.archive(0)
    assert archive.sampling_rate == 50.0 and archive.n_samples == pytest.approx(50 * ex.reader.record_span(0)[1], abs=1)
    from rnnscope.widgets._archive import ArchiveWaveform

    zoomed = rw.Explorer(run, debounce=0, initial_frames=120, prefetch=False)  # opens on 60 s
    t0, t1 = zoomed.time_range
    archive = zoomed.reader.archive(0)
    archive.BLOCK = 1024  # small blocks: what is read is the blocks around the view
    archive._cache.clear()
    zoomed.time_range = (t0 + 30.0, t1 + 30.0)
    zoomed.render_now()
    a, b = archive.reads[-1]
    assert len(archive.reads) == 2 and a <= (t0 + 30) * 50 and b >= (t1 + 30) * 50 and b - a <= 60 * 50 + 2 * 1024
    wave_t, _ = zoomed.trace_data("wave")
    assert wave_t[0] >= t0 + 30 - 0.02 and wave_t[-1] <= t1 + 30 + 0.02 and wave_t.size > 1000
    zoomed.time_range = (t0 + 45.0, t1 + 45.0)  # a pan: only the blocks not read yet are read
    zoomed.render_now()
    assert all(b0 >= b for b0, _ in archive.reads[2:])
    n = len(archive.reads)
    zoomed.time_range = (t0 + 30.0, t1 + 30.0)  # and back: nothing read
    zoomed.render_now()
    assert len(archive.reads) == n
    expected = ArchiveWaveform(archive.source, archive.seed_id, archive.starttime, archive.duration_s)
    np.testing.assert_array_equal(archive.read(1000, 5000), expected.read(1000, 5000))  # across blocks
    # no labels: no "true" band; predicted band, probabilities, no P/S
    assert ex.band_rows == ["pred"] and list(ex.band_labels.text) == ["pred"]
    assert "true" not in ex.w_legend.value and "P arrival" not in ex.w_legend.value
    assert not ex.p_lines.visible and not ex.s_lines.visible
    assert ex.fig_prob in ex.figures and png_size(ex.prob_image)[1] == 64
    from PIL import Image

    rgba = np.asarray(Image.open(io.BytesIO(ex.prob_image.image.value)))
    n = int(ex.reader.lengths[0])
    assert n < ex.n_cols and rgba.shape[1] == n and (rgba[..., 3] == 255).all()  # a column per frame, all coloured
    # UTC everywhere: axes, table
    assert ex.time_format == "utc" and ex.bottom_axis.label == "time (UTC) 2024-03-01"
    assert ex.table.grid.data["start (UTC)"].iloc[0].startswith("2024-03-01 00:")  # the title says UTC
    # a run whose archive moved: no waveform, said in the log, the rest is drawn
    moved = run.assign_attrs(waveform_source={"kind": "sds", "root": str(root / "gone")})
    ex2 = rw.Explorer(moved, debounce=0)
    assert ex2.reader.waveform_origin == "archive" and not ex2.wave.visible and not ex2.amp_axis.visible
    ex3 = rw.Explorer(moved, debounce=0, waveform_source=root / "sds")  # pointed at its new place
    assert ex3.wave.visible


# ----------------------------------------------------------------------------------------------- axes
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _is_round(step: float) -> bool:
    mantissa = step / 10.0 ** np.floor(np.log10(step) + 1e-9)
    return any(np.isclose(mantissa, m, rtol=1e-6) for m in (1.0, 2.0, 5.0))


def test_nice_ticks_of_the_issue_give_three_ticks():
    from rnnscope.widgets._timeaxis import nice_ticks

    assert nice_ticks(-7775, 8170, 3).tolist() == [-5000.0, 0.0, 5000.0]  # was a lone 0 (step 10 000)


@settings(max_examples=300, deadline=None)
@given(lo=st.floats(-1e9, 1e9), span=st.floats(1e-6, 1e9), n=st.integers(3, 10))
def test_nice_ticks_are_round_inside_the_range_and_at_least_three(lo, span, n):
    from rnnscope.widgets._timeaxis import nice_ticks

    assume(span >= 1e-6 * max(1.0, abs(lo)))  # within float64's resolution of lo
    hi = lo + span
    values = nice_ticks(lo, hi, n)
    tol = 1e-6 * span
    assert len(values) >= 3 and len(values) <= 2.5 * n + 2
    assert values.min() >= lo - tol and values.max() <= hi + tol
    steps = np.diff(values)
    assert np.allclose(steps, steps[0], rtol=1e-6) and _is_round(float(steps[0]))
    assert np.allclose(values / steps[0], np.round(values / steps[0]), atol=1e-6)  # multiples of the step


@settings(max_examples=200, deadline=None)
@given(start_s=st.floats(0, 3e8), t0=st.floats(0, 86400.0), span=st.floats(0.005, 60 * 86400.0),
       n=st.integers(4, 10), relative=st.booleans())
def test_time_ticks_label_at_least_three_ticks_at_every_zoom(start_s, t0, span, n, relative):
    import pandas as pd

    from rnnscope.widgets._timeaxis import js_number, time_ticks

    start = pd.Timestamp("2015-01-01") + pd.Timedelta(seconds=round(start_s, 3))
    values, labels, title = time_ticks(t0, t0 + span, start, n=n, relative=relative)
    tol = max(1e-6 * span, 1e-6)  # epoch seconds in float64 resolve about 0.3 us
    assert len(values) >= 3 and values.min() >= t0 - tol and values.max() <= t0 + span + tol
    texts = [labels[js_number(v)] for v in values]
    assert all(texts), texts  # every tick labelled
    assert len(set(texts)) == len(texts) or any(t.startswith("20") for t in texts)  # alike only on other days


def _ticks_inside(axis):
    """The tick values of a bqplot axis inside its scale's range (labelled ones when it has tick labels)."""
    lo, hi = sorted((float(axis.scale.min), float(axis.scale.max)))
    values = [float(v) for v in np.asarray(axis.tick_values, dtype=float) if lo - 1e-9 <= v <= hi + 1e-9]
    if axis.tick_labels:
        from rnnscope.widgets._timeaxis import js_number

        values = [v for v in values if axis.tick_labels.get(js_number(v))]
    return values


@pytest.mark.parametrize("zoom", [1.0, 0.2, 0.01, 0.0005])
def test_every_axis_has_three_labelled_ticks_at_every_zoom(monitor_run, zoom):
    run, detections, _ = monitor_run  # opened from disk (lazy), waveform read from the archive, UTC axes
    ex = rw.Explorer(run, catalog=detections, debounce=0, width=900)
    lo, hi = ex.reader.record_span(0)
    centre = lo + 0.37 * (hi - lo)
    half = max(zoom * (hi - lo) / 2, 0.05)
    ex.time_range = (max(lo, centre - half), min(hi, centre + half))
    ex.render_now()
    axes = {f"time[{i}]": a for i, a in enumerate(ex.time_axes)}
    axes.update(amplitude=ex.amp_axis, unit=ex.unit_axis, value=ex.value_axis, heat_colorbar=ex.colorbar.axis,
                spec_colorbar=ex.spec_colorbar.axis, frequency=ex.fig_spectrogram.axes[1])
    few = {name: _ticks_inside(a) for name, a in axes.items() if len(_ticks_inside(a)) < 3}
    assert not few, few
    for seconds in (False, True):
        ex.time_format = "seconds" if seconds else "utc"
        assert all(len(_ticks_inside(a)) >= 3 for a in ex.time_axes)


def test_every_figure_is_as_wide_as_the_others_so_time_axes_align(small_run):
    from rnnscope.widgets._figures import SIDE_WIDTH

    for width in (None, 900):
        ex = rw.Explorer(small_run, width=width, debounce=0)
        rows = [ex._wave_row, ex._spec_row, ex._heat_row, ex._lines_row]
        assert [row.children[0] for row in rows] == [f for f in ex.figures if f is not ex.fig_prob]
        assert len({(f.layout.width, f.layout.flex, tuple(sorted(f.fig_margin.items()))) for f in ex.figures}) == 1
        sides = [row.children[1] for row in rows]  # the colour bars and blank boxes beside them: one width
        assert {s.layout.width for s in sides} == {f"{SIDE_WIDTH}px"} and all(s.layout.flex == "0 0 auto"
                                                                            for s in sides)
    assert ex._spec_row.children[1].children == (ex.spec_colorbar.figure,) and ex.spec_colorbar.cmap.name == "magma"
    assert ex.spec_colorbar.axis.label == "log power"


@settings(max_examples=60, deadline=None)
@given(names=st.lists(st.sampled_from(["SIL", "TRE", "LP", "VTE", "HYB", "BG", "VT", "TR", "AV", "IC", "EQ",
                                       "NOISE", "ROCK", "GL", "X1", "X2"]), min_size=1, max_size=12, unique=True))
def test_highlight_and_unit_line_colours_stay_apart_from_class_colours(names):
    import itertools

    from rnnscope._colors import MIN_DISTANCE, class_colors, color_distance
    from rnnscope.widgets._palette import highlight_color, trace_colors

    classes = list(class_colors(names).values())
    own = [highlight_color(names)] + trace_colors(names, 10)
    assert len(set(own)) == 11
    nearest_class = min(color_distance(a, b) for a in own for b in classes)
    nearest_own = min(color_distance(a, b) for a, b in itertools.combinations(own, 2))
    assert min(nearest_class, nearest_own) >= 25.0  # well apart (2.3 is just noticeable) for any set
    if names in (["SIL", "TRE", "LP", "VTE", "HYB"], ["BG", "VT", "LP", "TR", "AV", "IC"]):
        assert min(nearest_class, nearest_own) >= MIN_DISTANCE


def test_the_explorer_draws_its_highlight_and_lines_in_those_colours(small_run):
    from rnnscope._colors import CLASS_COLORS, MIN_DISTANCE, color_distance

    ex = rw.Explorer(small_run, width=800, debounce=0)
    assert color_distance(ex.highlight, CLASS_COLORS["TRE"]) >= MIN_DISTANCE  # was #E6A700, 4.8 from TRE
    assert all(list(m.colors) == [ex.highlight] for m in ex.markers)
    assert all(list(m.fill_colors) == [ex.highlight] for m in ex.markers if m.fill == "inside")
    assert list(ex.lines.colors) == ex.unit_colors[: len(ex.selected_units)]
    assert not set(ex.unit_colors) & set(CLASS_COLORS.values())  # the lines once reused VTE's and HYB's colours


# ----------------------------------------------------------------------------------------------- catalogs
def test_a_quakeml_catalog_with_a_class_column_lists_the_same_classes(monitor_run, tmp_path):
    """read_quakeml_catalog returned ``class`` where the Explorer read ``class_name``: every class showed empty."""
    from rnnscope.monitoring import to_catalog

    run, detections, _ = monitor_run
    to_catalog(detections).write(str(tmp_path / "detections.xml"), format="QUAKEML")
    quakeml = rnnscope.data.read_quakeml_catalog(tmp_path / "detections.xml")
    by_name = rw.Explorer(run, catalog=detections, debounce=0).detections
    read = rw.Explorer(run, catalog=quakeml, debounce=0).detections
    assert read["class_name"].tolist() == by_name["class_name"].tolist() != [""] * len(by_name)
    np.testing.assert_allclose(read[["event", "t0"]].to_numpy(float), by_name[["event", "t0"]].to_numpy(float),
                               atol=1e-3)
    for column in ("class", "class_name"):  # either column name: the same table
        renamed = detections.rename(columns={"class_name": column})
        table = rw.Explorer(run, catalog=renamed, debounce=0).detections
        assert table["class_name"].tolist() == by_name["class_name"].tolist()
    with pytest.warns(rnnscope.errors.CatalogColumnWarning, match="no class column .* Name it 'class_name'"):
        rw.Explorer(run, catalog=detections.drop(columns="class_name"), debounce=0)


def test_the_explorer_warns_when_the_run_names_no_background_class(small_run):
    import warnings

    assert small_run.attrs.get("background") == "SIL"
    with warnings.catch_warnings():
        warnings.simplefilter("error", rnnscope.errors.NoBackgroundWarning)
        rw.Explorer(small_run, width=600, debounce=0)  # a run that names it: no warning
    bare = small_run.copy()
    bare.attrs = {k: v for k, v in small_run.attrs.items() if k != "background"}
    with pytest.warns(rnnscope.errors.NoBackgroundWarning,
                      match=r"names no background class .* run.attrs\['background'\] = 'SIL'"):
        rw.Explorer(bare, width=600, debounce=0)


def test_catalog_rows_on_no_record_are_listed_when_asked(small_run):
    import pandas as pd

    ids = [str(i) for i in small_run.event_id.values]
    catalog = pd.DataFrame({"event_id": [ids[2], "nowhere", ids[0]], "start": [20.0, 1.0, 5.0],
                            "end": [30.0, 2.0, 9.0], "class_name": ["LP", "SIL", "VTE"]})
    ex = rw.Explorer(small_run, catalog=catalog, debounce=0, unplaced="list")
    assert len(ex.detections) == 3 and ex.detections["event"].tolist() == [2, -1, 0]
    assert "3 of 3 detections" in ex.table.w_count.value
    rendered, shown = ex.render_count, (ex.event, ex.time_range)
    ex.table.pick(1)  # on no record: marked in the table, no view moves, no highlight
    assert ex.picked == 1 and (ex.event, ex.time_range) == shown and ex.render_count == rendered
    assert not any(m.visible for m in ex.markers)
    with pytest.raises(ValueError, match="'unplaced' of Explorer must be 'drop' or 'list'. Got 'keep'"):
        rw.Explorer(small_run, catalog=catalog, unplaced="keep")


@pytest.mark.parametrize("unplaced", ["drop", "list"])
def test_a_catalog_row_outside_its_records_frames_is_on_no_record(small_run, unplaced):
    """A row naming a record but starting after its last valid frame (or ending before its first) was placed on it,
    and picking it raised a TraitError (an inverted time range): it is on no record (dropped, or listed as such);
    a row overlapping the record's end is shown on the part inside."""
    import pandas as pd

    ids = [str(i) for i in small_run.event_id.values]
    end = float(small_run.time.values[int(small_run.length[1]) - 1])
    catalog = pd.DataFrame({"event_id": [ids[1], ids[1], ids[1]], "start": [end + 50.0, -30.0, end - 2.0],
                            "end": [end + 60.0, -20.0, end + 40.0], "class_name": ["LP", "SIL", "VTE"]})
    ex = rw.Explorer(small_run, catalog=catalog, debounce=0, unplaced=unplaced)
    events = ex.detections["event"].tolist()
    assert events == ([1] if unplaced == "drop" else [-1, -1, 1])
    ex.show_detection(len(events) - 1)  # the row overlapping the record's end
    lo, hi = ex.reader.record_span(1)
    assert ex.event == 1 and lo <= ex.time_range[0] < ex.time_range[1] <= hi
    assert ex.time_range[1] == pytest.approx(hi)
    if unplaced == "list":
        ex.show_detection(0)  # on no record: nothing moves, nothing raises
        assert ex.event == 1


# ----------------------------------------------------------------------------------------------- lazy runs
@pytest.mark.parametrize("selection", ["whole", "records", "time slice"])
def test_every_widget_works_on_a_run_opened_lazily_from_disk(small_run, selection):
    """Widgets on what open_run returns (dask-backed, nothing loaded), also after isel over records or time (a run
    sliced along time keeps its records' full ``length``: the Explorer once stacked bands of different widths)."""
    import dask.array

    run = {"whole": small_run, "records": small_run.isel(event=[4, 1]),
           "time slice": small_run.isel(time=slice(10, 60))}[selection]
    assert isinstance(run["h"].data, dask.array.Array)
    ex = rw.Explorer(run, width=600, debounce=0)
    assert png_size(ex.heat_image)[0] > 0 and ex.lines.visible
    ex.event = run.sizes["event"] - 1
    ex.time_range = (ex.time_range[0], ex.time_range[0] + 5.0)
    ex.render_now()
    assert {e for _, e, *_ in ex.reader.reads} <= {0, run.sizes["event"] - 1}  # only the records shown were read
    chm = rw.ClassHeatMap(run, explorer=ex)
    assert png_size(chm.heat_image)[0] > 0
    hist = rw.Histograms(run)
    assert any(d.sum() > 0 for d in hist.density.values())
    rw.CompareRuns(run, small_run)
    assert isinstance(run["h"].data, dask.array.Array)  # nothing turned the run into an in-memory one


def test_the_explorer_reads_overviews_of_a_lazy_monitor_run(monitor_run):
    run, detections, _ = monitor_run
    ex = rw.Explorer(run, catalog=detections, width=336, debounce=0)  # 2 400 frames on 276 columns: overviews
    assert ex._cols.step > 1 and png_size(ex.heat_image)[0] <= ex.n_cols
    ex.table.pick(2)
    det = ex.detections.iloc[2]
    lo, hi = ex.time_range
    assert ex.picked == 2 and lo <= det["t0"] < det["t1"] <= hi and hi - lo < ex.reader.record_span(0)[1] / 2
    t, values = ex.trace_data("lines")
    assert values.shape[0] == len(ex.selected_units) and np.isfinite(values).any()


def test_the_shipped_palettes_are_matplotlibs_and_an_explorer_opens_without_matplotlib_or_distributed():
    """The Explorer's palettes ship with the package (benchmarks/make_shipped_assets.py --palettes): opening one
    in a fresh kernel imports neither matplotlib nor dask.distributed (half a second and a quarter of one)."""
    import subprocess
    import sys

    for name in _render.SHIPPED_PALETTES:
        _render._PALETTES.pop(name, None)
        np.testing.assert_array_equal(_render._palette(name), _render._matplotlib_palette(name))
    code = ("import sys, rnnscope, rnnscope.widgets as rw\n"
            "run = rnnscope.open_run(sys.argv[1], validate_schema=False)\n"
            "ex = rw.Explorer(run, width=800)\n"
            "print(sorted(m for m in ('matplotlib', 'distributed') if m in sys.modules))\n")
    path = rnnscope.save_run(long_run(6_000), __import__("tempfile").mkdtemp() + "/run.zarr")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_an_archive_waveform_to_read_whole_is_drawn_when_a_background_thread_has_read_it(monitor_run, monkeypatch):
    """In a kernel (an event loop runs), a view of a monitor run that needs the whole record from the archive (its
    levels) does not hold the other views: a thread reads it and the waveform is drawn when it is read."""
    import asyncio

    from rnnscope.widgets import _source

    run, _, _ = monitor_run
    monkeypatch.setattr(_source, "RAW_ELEMENTS", 1000)  # a 20-minute record read as a day-long one is

    async def session():
        ex = rw.Explorer(run, width=800, debounce=0, prefetch=False)  # the whole record
        # the line is set on the event loop once the thread has read the record, never inside the constructor (the
        # thread itself may finish first on a busy machine: whether it is in the cache yet is a race)
        drawn_at_once = ex.trace_data("wave")[0].size > 0
        for _ in range(400):
            if ("waveform", 0) in ex.reader._cache and ex.wave.visible:
                break
            await asyncio.sleep(0.05)
        return ex, drawn_at_once

    ex, drawn_at_once = asyncio.run(session())
    assert not drawn_at_once and png_size(ex.heat_image)[0] > 0  # the heatmap did not wait
    assert ex.wave.visible and ex.reader.build_seconds.get(("waveform", 0))
    t, values = ex.trace_data("wave")
    assert t.size > 100 and np.isfinite(values).any()

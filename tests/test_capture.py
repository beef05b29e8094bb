"""rnnscope.capture: exact internal states, windows, unit masks, streaming to zarr and resuming."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnscope
from rnnscope import schema
from rnnscope.models import RNNClassifier, TCNClassifier, from_torch

KINDS = ["rnn", "lstm", "gru", "lazy_lstm"]


@pytest.fixture(scope="module")
def frames(make_frames):
    return make_frames(4, seed=2, record_duration_s=(30, 90))


def _model(cells, frames, hidden=6, residual=False, seed=0):
    torch.manual_seed(seed)
    model = RNNClassifier(cells, input_size=frames.sizes["feature"], hidden_size=hidden, num_classes=5,
                          residual=residual)
    model.fit_normalizer(frames)
    return model


def _step_reference(model, frames, keep_per_layer=None):
    """Every variable of every layer, recomputed with each layer's step function, one frame at a time."""
    x = torch.from_numpy(frames.features.values)
    with torch.no_grad():
        inp = model.normalize(x)
        out = []
        for i, layer in enumerate(model.layers):
            keep = None if keep_per_layer is None else keep_per_layer[i]
            state = layer.initial_state(x.shape[0])
            seq = {v: [] for v in layer.variables}
            for t in range(x.shape[1]):
                h, state, inter = layer.step(inp[:, t], state, keep=keep)
                for v in layer.variables:
                    seq[v].append(inter[v])
            seq = {v: torch.stack(s, 1) for v, s in seq.items()}
            out.append(seq)
            h = seq["h"]
            inp = h + inp if model.shortcuts[i] else h
        logits = model.head(inp)
    return out, torch.softmax(logits, -1)


def _valid(run, name, event):
    return run[name].values[event, : int(run.length[event])]


@pytest.mark.parametrize(
    "cells,residual", [(k, False) for k in KINDS] + [(["gru", "lstm"], True), (["lstm", "lazy_lstm", "rnn"], True)]
)
def test_states_are_the_true_internal_values(frames, cells, residual):
    model = _model(cells, frames, residual=residual)
    run = rnnscope.capture(model, frames, progress=False, batch_size=3, time_chunk=37)
    reference, prob = _step_reference(model, frames)
    with torch.no_grad():
        fused = torch.softmax(model(torch.from_numpy(frames.features.values)), -1).numpy()
    for e in range(frames.sizes["event"]):
        n = int(frames.length[e])
        np.testing.assert_allclose(_valid(run, "prob", e), fused[e, :n], atol=1e-5)
        np.testing.assert_allclose(_valid(run, "prob", e), prob[e, :n].numpy(), atol=1e-5)
        assert (_valid(run, "pred", e) == fused[e, :n].argmax(-1)).all()
        for layer, variables in enumerate(reference):
            for name, values in variables.items():
                np.testing.assert_allclose(_valid(run, name, e)[:, :, layer], values[e, :n].numpy(), atol=1e-5,
                                           err_msg=f"{name} layer {layer} event {e}")


def test_padding_schema_and_provenance(frames):
    model = _model("lstm", frames)
    rnnscope.train.fit(model, frames, epochs=1, progress=False)
    run = rnnscope.capture(model, frames, progress=False)
    schema.validate(run)
    short = int(np.argmin(frames.length.values))
    n = int(frames.length[short])
    assert np.isnan(run.c.values[short, n:]).all() and np.isfinite(run.c.values[short, :n]).all()
    assert (run.pred.values[short, n:] == -1).all()
    assert run.h.dims == ("event", "time", "unit", "layer") and run.h.dtype == np.float32
    assert run.attrs["model_config"]["cells"] == ["lstm"]
    assert run.attrs["training_summary"]["epochs_run"] == 1
    assert run.attrs["feature_config"]["preset"] == "paper"
    assert run.attrs["versions"]["torch"] == torch.__version__
    assert run.attrs["seed"] == 0 and "created" in run.attrs
    assert list(run.class_name.values) == model.class_names


def test_fewer_variables_on_request(frames):
    run = rnnscope.capture(_model("gru", frames), frames, var=["h"], progress=False)
    assert "h" in run and "update_gate" not in run and "c" not in run
    with pytest.raises(ValueError,
                       match=r"'var' parameter of capture must be 'all' or a list drawn from \['h', 'update_gate'"):
        rnnscope.capture(_model("gru", frames), frames, var=["c"], progress=False)


def test_mixed_cells_leave_nan_where_a_layer_lacks_a_variable(frames):
    run = rnnscope.capture(_model(["gru", "lstm"], frames), frames, progress=False)
    assert np.isnan(run.c.sel(layer=0).values).all()
    assert np.isfinite(_valid(run, "c", 0)[:, :, 1]).all()
    assert np.isnan(run.update_gate.sel(layer=1).values).all()


@settings(max_examples=8, deadline=None)
@given(window=st.integers(min_value=1, max_value=200), batch=st.integers(min_value=1, max_value=4))
def test_windows_and_batches_do_not_change_the_result(frames, window, batch):
    model = _model(["lstm", "gru"], frames, residual=True)
    whole = _whole_run(model, frames)
    cut = rnnscope.capture(model, frames, progress=False, time_chunk=window, batch_size=batch)
    for name in ("h", "c", "update_gate", "prob"):
        np.testing.assert_allclose(cut[name].values, whole[name].values, atol=1e-5, equal_nan=True)
    np.testing.assert_array_equal(cut.pred.values, whole.pred.values)


_WHOLE = {}


def _whole_run(model, frames):
    key = float(sum(p.detach().double().sum() for p in model.parameters()))
    if key not in _WHOLE:
        _WHOLE[key] = rnnscope.capture(model, frames, progress=False, time_chunk=10_000, batch_size=4)
    return _WHOLE[key]


@pytest.mark.parametrize("cells", KINDS + [["gru", "lstm"]])
def test_silence_equals_a_step_loop_with_silenced_units(frames, cells):
    model = _model(cells, frames, residual=True)
    layers = model.num_layers
    silenced = [np.array([1, 4]), np.array([0])][:layers]
    run = rnnscope.capture(model, frames, progress=False, silence=dict(enumerate(silenced)))
    keep = []
    for units in silenced:
        k = torch.ones(model.hidden_size, dtype=torch.bool)
        k[torch.from_numpy(units)] = False
        keep.append(k)
    reference, prob = _step_reference(model, frames, keep)
    for e in range(frames.sizes["event"]):
        n = int(frames.length[e])
        np.testing.assert_allclose(_valid(run, "prob", e), prob[e, :n].numpy(), atol=1e-5)
        for layer in range(layers):
            h = _valid(run, "h", e)[:, :, layer]
            assert (h[:, silenced[layer]] == 0).all()
            np.testing.assert_allclose(h, reference[layer]["h"][e, :n].numpy(), atol=1e-5)
    assert run.attrs["capture_config"]["silence"][0] == silenced[0].tolist()


def test_silence_takes_layer_to_units_ids_or_masks_and_refuses_other_forms(frames):
    """One way to name units: {layer: units}, the units as ids or a boolean mask (True = silenced)."""
    model = _model("lstm", frames)
    as_bool = np.zeros(6, dtype=bool)
    as_bool[[2, 3]] = True
    a = rnnscope.capture(model, frames, progress=False, silence={0: as_bool})
    b = rnnscope.capture(model, frames, progress=False, silence={0: [2, 3]})
    xr.testing.assert_identical(a.h, b.h)
    assert (a.h.isel(unit=[2, 3]).fillna(0) == 0).all() and (a.h.isel(unit=[0, 1, 4, 5]) != 0).any()
    with pytest.raises(
        ValueError,
        match=r"'silence' parameter of capture: the mask of layer 0 has shape \(4,\); it must "
        r"have shape \(6,\) \(True for the silenced units\)",
    ):
        rnnscope.capture(model, frames, progress=False, silence={0: np.zeros(4, dtype=bool)})
    with pytest.raises(ValueError, match="outside 0..5"):
        rnnscope.capture(model, frames, progress=False, silence={0: [7]})
    with pytest.raises(ValueError, match=r"The 'silence' parameter of capture must be a dict \{layer: units\} .* "
                                         r"Got a list instead"):
        rnnscope.capture(model, frames, progress=False, silence=[[2, 3]])
    with pytest.raises(ValueError, match=r"Got the keys \[1\] instead \(the model gives 1 layer\(s\)\)"):
        rnnscope.capture(model, frames, progress=False, silence={1: [2]})


def test_from_torch_models_are_captured_exactly(frames):
    torch.manual_seed(1)
    lstm = torch.nn.LSTM(48, 5, num_layers=2, batch_first=False)
    head = torch.nn.Linear(5, 5)
    model = from_torch(lstm, head)
    run = rnnscope.capture(model, frames, progress=False)
    x = torch.from_numpy(np.nan_to_num(frames.features.values)).transpose(0, 1)
    with torch.no_grad():
        out, _ = lstm(x)
        prob = torch.softmax(head(out), -1).transpose(0, 1).numpy()
    for e in range(frames.sizes["event"]):
        n = int(frames.length[e])
        np.testing.assert_allclose(_valid(run, "prob", e), prob[e, :n], atol=1e-5)
        np.testing.assert_allclose(_valid(run, "h", e)[:, :, 1], out.transpose(0, 1)[e, :n].numpy(), atol=1e-5)


def test_classes_follow_the_model_order(frames):
    model = _model("gru", frames)
    names = frames.attrs["class_names"]
    reversed_names = names[::-1]
    mapping = np.array([reversed_names.index(n) for n in names] + [-1])
    other = frames.copy()
    other["label"] = (("event", "time"), mapping[frames.label.values].astype(np.int16))
    other["segment_class"] = ("segment", mapping[frames.segment_class.values].astype(np.int16))
    other.attrs = {**frames.attrs, "class_names": reversed_names}
    a = rnnscope.capture(model, frames, progress=False)
    b = rnnscope.capture(model, other, progress=False)
    assert b.attrs["class_names"] == names
    np.testing.assert_array_equal(a.label.values, b.label.values)
    np.testing.assert_array_equal(a.segment_class.values, b.segment_class.values)
    np.testing.assert_allclose(a.summary_heat.values, b.summary_heat.values)


def _with_overlapping_segment(frames):
    """frames plus one segment of record 0 that overlaps the segments already there."""
    seg_vars = [v for v in frames.data_vars if "segment" in frames[v].dims]
    extra = frames[seg_vars].isel(segment=[0]).copy(deep=True)
    times = frames.time.values
    extra["segment_start"][:] = times[3]
    extra["segment_end"][:] = times[min(40, int(frames.length[0]) - 1)]
    extra["segment_class"][:] = 2
    merged = xr.concat([frames[seg_vars], extra], dim="segment")
    return frames.drop_vars(seg_vars).assign({v: merged[v] for v in seg_vars})


@pytest.mark.parametrize("window, batch_size, overlap", [(4096, 32, False), (7, 3, True)])
def test_summaries_match_their_definitions(frames, window, batch_size, overlap):
    if overlap:
        frames = _with_overlapping_segment(frames)
    run = rnnscope.capture(_model("lstm", frames), frames, progress=False, time_chunk=window, batch_size=batch_size)
    h = np.abs(run.h.values[..., 0])  # (event, time, unit)
    labels = run.label.values
    sil = labels == 0
    np.testing.assert_allclose(run.summary_heat_frame.sel(class_name="SIL", layer=0), h[sil].mean(0), rtol=1e-5)
    valid = ~np.isnan(h[..., 0])
    np.testing.assert_allclose(run.summary_activity.sel(layer=0), h[valid].mean(0), rtol=1e-5)
    times = run.time.values
    per_segment = {}
    position = {str(i): k for k, i in enumerate(run.event_id.values)}
    for i, c, a, b in zip(run.segment_event_id.values, run.segment_class.values, run.segment_start.values,
                          run.segment_end.values, strict=True):
        e = position[str(i)]
        inside = (times >= a) & (times < b) & (np.arange(times.size) < int(run.length[e]))
        if inside.any():
            per_segment.setdefault(int(c), []).append(h[e, inside].mean(0))
    for c, rows in per_segment.items():
        np.testing.assert_allclose(run.summary_heat.isel(class_name=c, layer=0), np.mean(rows, 0), rtol=1e-5)
    assert float(run.summary_min.sel(variable="forget_gate", layer=0)) >= 0
    assert float(run.summary_max.sel(variable="h", layer=0)) == pytest.approx(np.nanmax(run.h.values))


def test_streamed_store_equals_the_in_memory_run(frames, tmp_path):
    model = _model(["lstm", "gru"], frames)
    memory = rnnscope.capture(model, frames, progress=False, time_chunk=25, batch_size=3)
    lazy = rnnscope.capture(model, frames, progress=False, time_chunk=25, batch_size=3, store=tmp_path / "run.zarr")
    assert lazy.h.chunks is not None  # dask-backed
    xr.testing.assert_allclose(lazy.load(), memory)
    assert lazy.attrs["class_names"] == memory.attrs["class_names"]
    assert not (tmp_path / "run.zarr.partial").exists()
    reopened = rnnscope.open_run(tmp_path / "run.zarr")
    xr.testing.assert_allclose(reopened.load(), memory)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        rnnscope.capture(model, frames, progress=False, store=tmp_path / "run.zarr")


_KILL_SCRIPT = """
import sys, time, rnnscope, torch
from rnnscope.capturing import _sinks
frames = rnnscope.open_run(sys.argv[1]).load()
torch.manual_seed(0)
model = rnnscope.models.RNNClassifier("lstm", input_size=48, hidden_size=6, num_classes=5)
model.fit_normalizer(frames)
slow = _sinks._ZarrSink.checkpoint
def checkpoint(self, **kw):
    slow(self, **kw)
    time.sleep(0.2)
_sinks._ZarrSink.checkpoint = checkpoint
rnnscope.capture(model, frames, progress=False, time_chunk=20, batch_size=2, store=sys.argv[2])
"""


@pytest.mark.slow  # several seconds (make test-fast stays short; CI runs it)
def test_a_killed_capture_resumes_to_the_same_result(frames, tmp_path):
    data = rnnscope.save_run(frames, tmp_path / "frames.zarr")
    store = tmp_path / "run.zarr"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(data), str(store)])
    checkpoint = tmp_path / "run.zarr.partial" / "rnnscope_checkpoint.npz"
    deadline = time.time() + 120
    while time.time() < deadline and not checkpoint.exists():
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists() and not store.exists()
    manifest = json.loads((tmp_path / "run.zarr.partial" / "rnnscope_manifest.json").read_text())
    assert manifest["status"] == "writing"
    torch.manual_seed(0)
    model = RNNClassifier("lstm", input_size=48, hidden_size=6, num_classes=5)
    model.fit_normalizer(frames)
    resumed = rnnscope.capture(model, frames, progress=False, time_chunk=20, batch_size=2, store=store)
    whole = rnnscope.capture(model, frames, progress=False, time_chunk=20, batch_size=2)
    xr.testing.assert_allclose(resumed.load(), whole)


def test_bad_inputs_are_refused(frames):
    with pytest.raises(TypeError, match="no recurrent states to capture"):
        rnnscope.capture(TCNClassifier(input_size=48, num_classes=5), frames, progress=False)
    with pytest.raises(ValueError, match="expects 10 features per frame but the Dataset has 48"):
        rnnscope.capture(RNNClassifier("lstm", input_size=10, hidden_size=4, num_classes=5), frames, progress=False)
    with pytest.raises(ValueError, match="no 'features'"):
        rnnscope.capture(RNNClassifier("lstm", input_size=48, hidden_size=4, num_classes=5),
                         frames.drop_vars("features"), progress=False)
    other = frames.copy()
    other.attrs = {**frames.attrs, "class_names": ["SIL", "TRE", "LP", "VTE", "EQ"]}
    with pytest.raises(ValueError, match="EQ"):
        rnnscope.capture(RNNClassifier("lstm", input_size=48, hidden_size=4, num_classes=5), other, progress=False)


def test_capturing_a_run_again_replaces_its_states_and_summaries(frames):
    first = rnnscope.capture(_model("lstm", frames, hidden=6), frames, progress=False)
    again = rnnscope.capture(_model("gru", frames, hidden=4, seed=1), first, progress=False)
    fresh = rnnscope.capture(_model("gru", frames, hidden=4, seed=1), frames, progress=False)
    assert again.sizes["unit"] == 4 and "c" not in again and "update_gate" in again
    xr.testing.assert_allclose(again[["h", "prob", "summary_heat", "summary_max"]],
                               fresh[["h", "prob", "summary_heat", "summary_max"]])

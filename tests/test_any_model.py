"""Capture of any PyTorch model (issue 17): every state of every recurrent module, exact, laid out by module, layer
and direction; times in seconds of the input; silencing; analyses and the Explorer on these runs; SeisBench models.

Every internal value is checked against a plain step-by-step recomputation from the module's weights written here
(one sequence at a time, explicit sigmoid/tanh), independent of rnnscope's equations.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils._python_dispatch import TorchDispatchMode

import rnnscope
from rnnscope import analysis, experiments, schema
from rnnscope.io._summaries import STATE_ORDER

ATOL = 1e-5


# ---------------------------------------------------------------------------------------- the reference


def _step(kind, x, h, c, w, nonlinearity="tanh"):
    """One step of one sequence from the weights: returns (h, c, gates dict)."""
    gi = w["weight_ih"] @ x + (w["bias_ih"] if "bias_ih" in w else 0)
    gh = w["weight_hh"] @ h + (w["bias_hh"] if "bias_hh" in w else 0)
    if kind == "lstm":
        i, f, g, o = (gi + gh).chunk(4)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        m = o * torch.tanh(c)
        h = w["weight_hr"] @ m if "weight_hr" in w else m
        return h, c, {"c": c, "input_gate": i, "forget_gate": f, "output_gate": o, "cell_input": g}
    if kind == "gru":
        r = torch.sigmoid(gi.chunk(3)[0] + gh.chunk(3)[0])
        z = torch.sigmoid(gi.chunk(3)[1] + gh.chunk(3)[1])
        n = torch.tanh(gi.chunk(3)[2] + r * gh.chunk(3)[2])
        h = (1 - z) * n + z * h
        return h, None, {"update_gate": z, "reset_gate": r, "candidate": n}
    pre = gi + gh
    return (torch.relu(pre) if nonlinearity == "relu" else torch.tanh(pre)), None, {}


def _weights(module, layer, reverse=False):
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"]
    return {n: getattr(module, n + suffix).detach() for n in names if hasattr(module, n + suffix)}


def reference(module, x, lengths=None, hx=None):
    """Every variable of every entry of a fused module, batch-first ``x`` (B, T, I): list of dict var -> (B, T, U),
    NaN past each sequence's length."""
    kind = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}[type(module)]
    n_dir = 2 if module.bidirectional else 1
    batch, n_time = x.shape[:2]
    lengths = [n_time] * batch if lengths is None else [int(v) for v in lengths]
    h_size = getattr(module, "proj_size", 0) or module.hidden_size
    out, inp = [], x
    for layer in range(module.num_layers):
        outs = []
        for d in range(n_dir):
            w = _weights(module, layer, reverse=bool(d))
            index = layer * n_dir + d
            values: dict = {}
            for b in range(batch):
                if hx is None:
                    h, c = torch.zeros(h_size), torch.zeros(module.hidden_size)
                elif kind == "lstm":
                    h, c = hx[0][index, b], hx[1][index, b]
                else:
                    h, c = hx[index, b], None
                steps = range(lengths[b]) if d == 0 else range(lengths[b] - 1, -1, -1)
                for t in steps:
                    h, c, inside = _step(kind, inp[b, t], h, c, w, getattr(module, "nonlinearity", "tanh"))
                    for name, v in {"h": h, **inside}.items():
                        values.setdefault(name, torch.full((batch, n_time, v.shape[0]), float("nan")))[b, t] = v
            outs.append(values["h"])
            out.append(values)
        inp = torch.cat(outs, -1).nan_to_num()
    return out


def assert_entries(run, module_name, expected, layers=None):
    """The run's entries of one module equal the reference values on the valid frames."""
    positions = np.flatnonzero(np.asarray(run["module"].values) == module_name)
    assert len(positions) == len(expected)
    for position, values in zip(positions, expected, strict=True):
        for name, ref in values.items():
            got = run[name].isel(layer=int(position)).values[:, : ref.shape[1], : ref.shape[2]]
            ref = ref.numpy()
            assert np.array_equal(np.isnan(got), np.isnan(ref)), (module_name, position, name)
            np.testing.assert_allclose(got, ref, atol=ATOL, err_msg=f"{module_name} {position} {name}")


# ---------------------------------------------------------------------------------------- models


class Wrap(nn.Module):
    """A recurrent module inside a model: input projection, the module, a head."""

    def __init__(self, rnn, n_in=3):
        super().__init__()
        self.proj = nn.Linear(n_in, rnn.input_size)
        self.rnn = rnn
        out = (getattr(rnn, "proj_size", 0) or rnn.hidden_size) * (2 if rnn.bidirectional else 1)
        self.head = nn.Linear(out, 2)

    def forward(self, x):
        z = self.proj(x)
        y, _ = self.rnn(z if self.rnn.batch_first else z.transpose(0, 1))
        return self.head(y if self.rnn.batch_first else y.transpose(0, 1))


class Speech(nn.Module):
    """Stacked bidirectional LSTMs over a PackedSequence, with learned initial states (speech-style)."""

    def __init__(self, n_in=4, hidden=5):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.lstm = nn.LSTM(n_in, hidden, num_layers=2, bidirectional=True, batch_first=True)
        self.h0 = nn.Parameter(torch.randn(4, 1, hidden) * 0.5)
        self.c0 = nn.Parameter(torch.randn(4, 1, hidden) * 0.5)
        self.out = nn.Linear(2 * hidden, 3)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        hx = (self.h0.expand(-1, x.shape[0], -1).contiguous(), self.c0.expand(-1, x.shape[0], -1).contiguous())
        y, _ = self.encoder.lstm(packed, hx)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return self.out(y)


class CellLoop(nn.Module):
    """Research code: an LSTMCell and a GRUCell called step by step in the model's own loop."""

    def __init__(self, n_in=3, hidden=4):
        super().__init__()
        self.cell = nn.LSTMCell(n_in, hidden)
        self.gru = nn.GRUCell(hidden, 6)

    def forward(self, x):
        h = c = x.new_zeros(x.shape[0], self.cell.hidden_size)
        g = x.new_zeros(x.shape[0], 6)
        outs = []
        for t in range(x.shape[1]):
            h, c = self.cell(x[:, t], (h, c))
            g = self.gru(h, g)
            outs.append(g)
        return torch.stack(outs, 1)


class Dilated(nn.Module):
    """A dilated RNN layer: the sequence split into ``rate`` interleaved streams stacked along the batch."""

    def __init__(self, rate=3, n_in=2, hidden=4):
        super().__init__()
        self.rate = rate
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)

    def forward(self, x):
        streams = torch.cat([x[:, j:: self.rate] for j in range(self.rate)], 0)  # (rate * B, T / rate, F)
        y, _ = self.lstm(streams)
        y = y.reshape(self.rate, x.shape[0], -1, y.shape[-1]).permute(1, 2, 0, 3)
        return y.reshape(x.shape[0], x.shape[1], -1)


class TwoRates(nn.Module):
    """A GRU over every input frame and an LSTM over frames pooled by 4: two step counts."""

    def __init__(self):
        super().__init__()
        self.fast = nn.GRU(2, 3, batch_first=True)
        self.slow = nn.LSTM(3, 5, batch_first=True)

    def forward(self, x):
        y, _ = self.fast(x)
        pooled = nn.functional.avg_pool1d(y.transpose(1, 2), 4).transpose(1, 2)
        return self.slow(pooled)[0]


def _capture(model, data, **kw):
    return rnnscope.capture(model, data, progress=False, **kw)


# ---------------------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("rnn", [
    lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True),
    lambda: nn.LSTM(4, 5, num_layers=2, proj_size=3, batch_first=True, bidirectional=True),
    lambda: nn.GRU(4, 6, num_layers=2, bidirectional=True, batch_first=True),
    lambda: nn.RNN(4, 5, num_layers=2, nonlinearity="relu", batch_first=True),
    lambda: nn.RNN(4, 5, bias=False),
], ids=["lstm-bi", "lstm-proj-bi", "gru-bi", "rnn-relu", "rnn-tanh-nobias"])
def test_every_layer_and_direction_is_exact(rnn):
    torch.manual_seed(0)
    model = Wrap(rnn()).eval()
    x = torch.randn(5, 9, 3)
    before = model(x).detach()
    run = _capture(model, x, batch_size=2)
    assert torch.equal(model(x).detach(), before)  # the model is not changed
    expected = reference(model.rnn, model.proj(x).detach())
    assert_entries(run, "rnn", expected)
    module = model.rnn
    n_dir = 2 if module.bidirectional else 1
    assert list(run["module_layer"].values) == [l_ for l_ in range(module.num_layers) for _ in range(n_dir)]
    assert list(run["direction"].values) == ["forward", "backward"][:n_dir] * module.num_layers
    assert set(run["layer_units"].values) == {module.hidden_size}
    assert set(run["layer_h_units"].values) == {getattr(module, "proj_size", 0) or module.hidden_size}
    assert run.sizes["time"] == 9 and list(run["length"].values) == [9] * 5
    schema.validate(run)


def test_packed_sequences_and_initial_states_are_exact():
    torch.manual_seed(1)
    model = Speech().eval()
    lengths = torch.tensor([7, 3, 6, 1, 7])
    x = torch.randn(5, 7, 4) * (torch.arange(7)[None, :, None] < lengths[:, None, None])
    run = _capture(model, (x, lengths), batch_size=3)
    hx = (model.h0.expand(-1, 5, -1).detach(), model.c0.expand(-1, 5, -1).detach())
    expected = reference(model.encoder.lstm, x, lengths, hx)
    assert_entries(run, "encoder.lstm", expected)
    assert run["length"].values.tolist() == lengths.tolist()
    assert bool(run["h"].isel(event=3, time=slice(1, None)).isnull().all())  # NaN past length
    assert schema.layer_labels(run) == ["encoder.lstm[0] forward", "encoder.lstm[0] backward",
                                        "encoder.lstm[1] forward", "encoder.lstm[1] backward"]


class PackedSpeech(Speech):
    """Speech whose forward takes the PackedSequence itself (issue 25: capture listed its fields as events)."""

    def forward(self, packed):
        n = int(packed.batch_sizes[0])
        hx = (self.h0.expand(-1, n, -1).contiguous(), self.c0.expand(-1, n, -1).contiguous())
        y, _ = self.encoder.lstm(packed, hx)
        y, _ = pad_packed_sequence(y, batch_first=True)
        return self.out(y)


def test_a_forward_that_takes_a_packed_sequence_is_captured_exactly():
    """The PackedSequence is split by its sequences (events keep their given order, repacked per batch), so the run
    equals the capture of the same LSTM packed inside a forward that takes (x, lengths)."""
    torch.manual_seed(1)
    model = PackedSpeech().eval()
    lengths = torch.tensor([7, 3, 6, 1, 7])
    x = torch.randn(5, 7, 4) * (torch.arange(7)[None, :, None] < lengths[:, None, None])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    run = _capture(model, packed, batch_size=2)
    hx = (model.h0.expand(-1, 5, -1).detach(), model.c0.expand(-1, 5, -1).detach())
    assert_entries(run, "encoder.lstm", reference(model.encoder.lstm, x, lengths, hx))
    assert run["length"].values.tolist() == lengths.tolist() and run.sizes["event"] == 5
    inside = Speech().eval()
    inside.load_state_dict(model.state_dict())
    xr.testing.assert_allclose(run["h"], _capture(inside, (x, lengths), batch_size=5)["h"], atol=1e-6)
    as_kwarg = _capture(model, {"packed": packed}, batch_size=3)
    xr.testing.assert_allclose(run["h"], as_kwarg["h"], atol=1e-6)


def test_cells_called_in_a_loop_are_one_step_per_call():
    torch.manual_seed(2)
    model = CellLoop().eval()
    x = torch.randn(3, 6, 3)
    run = _capture(model, x)
    assert list(run["module"].values) == ["cell", "gru"] and run.sizes["time"] == 6
    h, c = torch.zeros(3, 4), torch.zeros(3, 4)
    g = torch.zeros(3, 6)
    w_cell = {k: getattr(model.cell, k).detach() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    w_gru = {k: getattr(model.gru, k).detach() for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    for t in range(6):
        for b in range(3):
            hb, cb, inside = _step("lstm", x[b, t], h[b], c[b], w_cell)
            gb, _, g_inside = _step("gru", hb, g[b], None, w_gru)
            for name, v in {"h": hb, **inside}.items():
                np.testing.assert_allclose(run[name].isel(layer=0, event=b, time=t).values[:4], v, atol=ATOL)
            for name, v in {"h": gb, **g_inside}.items():
                np.testing.assert_allclose(run[name].isel(layer=1, event=b, time=t).values, v, atol=ATOL)
            h[b], c[b], g[b] = hb, cb, gb
    # the narrower cell pads the shared unit dimension with NaN
    assert run["layer_units"].values.tolist() == [4, 6]
    assert bool(run["h"].isel(layer=0, unit=slice(4, None)).isnull().all())
    assert bool(run["c"].isel(layer=1).isnull().all())  # a GRU cell has no c


def test_dilated_rnn_streams_are_interleaved_back_in_time():
    torch.manual_seed(3)
    model = Dilated(rate=3).eval()
    x = torch.randn(2, 12, 2)
    with pytest.raises(ValueError, match="module_batch=.*'lstm'.*stream_major"):
        _capture(model, x)
    run = _capture(model, x, module_batch={"lstm": "stream_major"}, sampling_rate=4.0, time_axis=1)
    assert run.sizes["time"] == 12 and float(run.attrs["step_seconds"]) == pytest.approx(0.25)
    for j in range(3):
        expected = reference(model.lstm, x[:, j::3])[0]
        for name, ref in expected.items():
            np.testing.assert_allclose(run[name].isel(layer=0, time=slice(j, None, 3)).values, ref, atol=ATOL)


def test_modules_with_different_step_counts_go_to_separate_runs():
    """capture gives one Dataset: modules at several time resolutions are an error naming capture_modules and
    modules=; capture_modules gives them all, always a dict {steps: run}."""
    model = TwoRates().eval()
    with pytest.raises(ValueError, match=r"capture: the captured modules run at 2 time resolutions \(steps: modules "
                                         r"\{40: \['fast'\], 10: \['slow'\]\}\).*rnnscope.capture_modules\(model, "
                                         r"data\).*modules=\[\.\.\.\]"):
        _capture(model, torch.randn(2, 40, 2), sampling_rate=10.0, time_axis=1)
    runs = rnnscope.capture_modules(model, torch.randn(2, 40, 2), sampling_rate=10.0, time_axis=1, progress=False)
    assert sorted(runs) == [10, 40]
    assert runs[40]["module"].values.tolist() == ["fast"] and runs[10]["module"].values.tolist() == ["slow"]
    assert runs[40].attrs["step_seconds"] == pytest.approx(0.1) and runs[10].attrs["step_seconds"] == pytest.approx(0.4)
    np.testing.assert_allclose(runs[10]["time"].values[:2], [0.2, 0.6])
    only = _capture(model, torch.randn(2, 40, 2), modules=["slow"], var=["h", "c"])
    assert isinstance(only, xr.Dataset) and sorted(only.data_vars) == ["c", "h", "summary_activity",
                                                                         "summary_event_id", "summary_max",
                                                                         "summary_min"]
    with pytest.raises(ValueError, match="rnnscope.capture_modules"):
        _capture(model, torch.randn(2, 40, 2), store="unused.zarr")
    one = rnnscope.capture_modules(model, torch.randn(2, 40, 2), modules=["slow"], progress=False)
    assert isinstance(one, dict) and list(one) == [10]  # a dict even for one resolution


# ---------------------------------------------------------------------------------------- time and labels


def test_labels_per_sample_and_per_second_are_mapped_to_step_centres(tmp_path):
    model = TwoRates().eval()
    x = torch.randn(2, 40, 2)  # 4 s at 10 Hz
    per_sample = np.zeros((2, 40), dtype=np.int64)
    per_sample[:, 12:30] = 1
    per_sample[1, 30:] = -1
    runs = rnnscope.capture_modules(model, x, sampling_rate=10.0, time_axis=1, labels=per_sample,
                                    class_names=["noise", "quake"], progress=False)
    slow = runs[10]  # steps of 0.4 s, centres 0.2, 0.6, ...: label of samples 2, 6, 10, 14, ..., 38
    assert slow["label"].values[0].tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    assert slow["label"].values[1].tolist() == [0, 0, 0, 1, 1, 1, 1, -1, -1, -1]
    assert runs[40]["label"].values[0].tolist() == per_sample[0].tolist()
    per_second = np.array([[0, 1, 1, 0], [1, 1, 0, 0]])
    slow = _capture(model, x, modules="slow", sampling_rate=10.0, time_axis=1, labels=per_second, label_rate=1.0)
    assert slow["label"].values[0].tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0]  # the second at 0.2, 0.6, 1.0, ...
    assert slow["label"].values[1].tolist() == [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert slow.attrs["class_names"] == ["class0", "class1"]
    # the segment table follows the labels; the stored summaries are what the analyses compute
    assert slow["segment_class"].values.tolist() == [0, 1, 0, 1, 0]
    for weighting in ("segment", "frame"):
        stored = analysis.heat_map(slow, weighting=weighting)
        xr.testing.assert_allclose(stored, analysis.heat_map(slow, weighting=weighting, use_summary=False))
    path = rnnscope.save_run(slow, tmp_path / "slow.zarr")
    reopened = rnnscope.open_run(path)
    assert schema.layer_labels(reopened) == ["slow[0]"]
    xr.testing.assert_allclose(reopened["c"].load(), slow["c"])


def test_eqtransformer_window_times():
    sbm = pytest.importorskip("seisbench.models")
    torch.manual_seed(4)
    model = sbm.EQTransformer().eval()  # random weights: nothing is downloaded
    x = torch.randn(2, 3, 6000)  # two 60 s windows at 100 Hz
    with torch.no_grad():
        own = [t.clone() for t in model(x)]
    recorded = {}
    handles = [m.register_forward_hook(lambda m, a, out, name=n: recorded.__setitem__(name, out[0].detach()))
               for n, m in model.named_modules() if isinstance(m, nn.LSTM)]
    model.train()
    run = _capture(model, x, sampling_rate=100, time_axis=-1)
    for handle in handles:
        handle.remove()
    assert model.training  # the model's mode is restored
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(own, model.eval()(x), strict=True))  # and the model is unchanged
    assert run.sizes["time"] == 47 and run.attrs["step_seconds"] == pytest.approx(60 / 47)
    assert float(run["time"][0]) == pytest.approx(30 / 47) and float(run["time"][-1]) == pytest.approx(60 - 30 / 47)
    labels = schema.layer_labels(run)
    assert labels[:2] == ["bi_lstm_stack.members.0.lstm[0] forward", "bi_lstm_stack.members.0.lstm[0] backward"]
    assert labels[-2:] == ["pick_lstms.0[0]", "pick_lstms.1[0]"] and len(recorded) == 5
    for name, out in recorded.items():  # what the model's own LSTMs output, time major (47, batch, directions * 16)
        positions = np.flatnonzero(run["module"].values == name)
        for d, position in enumerate(positions):
            h = out[:, :, 16 * d: 16 * (d + 1)].transpose(0, 1).numpy()
            np.testing.assert_allclose(run["h"].isel(layer=int(position)).values, h, atol=ATOL)


def test_cred_gates_from_the_weights():
    sbm = pytest.importorskip("seisbench.models")
    torch.manual_seed(5)
    model = sbm.CRED().eval()
    spectrogram = torch.rand(2, 3, 76, 41)  # 30 s windows: 76 frames at 2.5 Hz, 41 frequencies
    inputs = {}
    model.lstm_block.lstms[0].register_forward_hook(lambda m, a, out: inputs.__setitem__("x", a[0].detach()))
    run = _capture(model, spectrogram, sampling_rate=2.5, time_axis=2)
    assert run.sizes["time"] == 19 and run.attrs["step_seconds"] == pytest.approx(1.6)
    assert schema.layer_labels(run)[-1] == "lstm[0]" and run.sizes["layer"] == 5
    assert_entries(run, "lstm_block.lstms.0", reference(model.lstm_block.lstms[0], inputs["x"]))


# ---------------------------------------------------------------------------------------- silencing


def test_silencing_units_of_one_direction():
    torch.manual_seed(6)
    model = Wrap(nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True)).eval()
    x = torch.randn(3, 8, 3)
    spec = {1: [1, 3]}  # the run's layer 1: "rnn[0] backward"
    run = _capture(model, x, silence=spec)
    assert rnnscope.schema.layer_labels(run)[1] == "rnn[0] backward"
    h = run["h"].values
    assert np.all(h[:, :, [1, 3], 1] == 0) and np.all(h[:, :, [0, 2, 4], 1] != 0)
    assert np.all(h[..., [0, 2, 3]] != 0)
    with torch.no_grad():
        plain = model(x)
        with experiments.silenced(model, spec):
            quiet = model(x)
        # the same as a boolean mask (True = silenced) and through a silenced copy
        with experiments.silenced(model, {1: np.array([False, True, False, True, False])}):
            kept = model(x)
        copy = experiments.silence(model, spec)
        assert torch.allclose(copy(x), quiet, atol=1e-6)
        assert torch.equal(model(x), plain)  # the model is itself again
    assert not torch.allclose(plain, quiet, atol=1e-3)
    assert torch.allclose(quiet, kept, atol=1e-6)
    # a silenced unit feeds nothing into its recurrence: recomputed with the masked weights, the backward direction
    # of layer 0 equals the run
    module = model.rnn
    with torch.no_grad():
        z = model.proj(x)
        keep = torch.tensor([1.0, 0, 1, 0, 1])
        w = _weights(module, 0, reverse=True)
        w["weight_hh"] = w["weight_hh"] * keep
        h_b = torch.zeros(5)
        c_b = torch.zeros(5)
        for t in range(7, -1, -1):
            h_b, c_b, inside = _step("lstm", z[0, t], h_b, c_b, w)
            h_b = h_b * keep
            np.testing.assert_allclose(run["c"].values[0, t, :, 1], c_b, atol=ATOL)
    with pytest.raises(ValueError, match=r"The 'silence' parameter of capture must be a dict \{layer: units\}"):
        _capture(model, x, silence={"rnn[0] backward": [1]})  # labels name layers in errors, never in specs
    with pytest.raises(ValueError, match=r"Got the keys \[4\] instead \(the model gives 4 layer\(s\)\)"):
        _capture(model, x, silence={4: [1]})


def test_ablation_curve_of_any_model():
    torch.manual_seed(7)
    model = Wrap(nn.GRU(4, 8, batch_first=True, bidirectional=True)).eval()
    x = torch.randn(4, 10, 3)
    with torch.no_grad():
        target = model(x).argmax(-1)

    def agreement(m):
        with torch.no_grad():
            return float((m(x).argmax(-1) == target).float().mean())

    table = experiments.ablation_curve(model, x, fractions=(1, 0.5, 0.25), ranking=["activity", "random"], repeats=2,
                                       score=agreement)
    assert table["n_units"].tolist() == [16, 8, 4] * 2
    assert table["accuracy"].iloc[0] == 1.0 and table["accuracy"].iloc[3] == 1.0
    assert table["accuracy"].between(0, 1).all() and table["accuracy_std"].iloc[:3].isna().all()
    with pytest.raises(ValueError, match="'score' parameter of ablation_curve must be a function"):
        experiments.ablation_curve(model, x, fractions=(0.5,))


# ---------------------------------------------------------------------------------------- analyses and widgets


def test_analyses_and_explorer_on_runs_of_any_model():
    pytest.importorskip("bqplot")
    from rnnscope.widgets import Explorer

    torch.manual_seed(8)
    model = Speech().eval()
    lengths = torch.tensor([7, 5, 6])
    x = torch.randn(3, 7, 4)
    run = _capture(model, (x, lengths))
    activity = analysis.unit_activity(run)
    assert activity.sizes == {"unit": 5, "layer": 4}
    with pytest.raises(ValueError, match="heat_map needs labels: the run has no classes"):
        analysis.heat_map(run)
    with pytest.raises(ValueError, match="activation_histogram needs labels"):
        analysis.activation_histogram(run)
    explorer = Explorer(run, layer=1, width=500)
    assert explorer.w_layer.options[1] == ("encoder.lstm[0] backward", 1)
    assert explorer.order_class == "" and len(explorer.selected_units) == 5
    assert "specialisation" not in [v for _, v in explorer.w_order.options]
    explorer.var = "forget_gate"
    explorer.render_now()
    labelled = _capture(model, (x, lengths), labels=np.array([[0, 0, 1, 1, 1, 0, 0]] * 3),
                        class_names=["SIL", "LP"], time_axis=1)
    explorer = Explorer(labelled, width=500)
    assert explorer.order_class == "LP"
    explorer.unit_order = "specialisation"
    explorer.render_now()


# ---------------------------------------------------------------------------------------- errors


def test_what_cannot_be_captured_is_refused_with_a_reason():
    with pytest.raises(TypeError, match="Linear has no recurrent states to capture: it contains no nn.RNN"):
        _capture(nn.Linear(3, 2), torch.randn(2, 3))
    model = Wrap(nn.GRU(4, 5, batch_first=True))
    with pytest.raises(ValueError, match=r"'modules' parameter of capture must name recurrent modules .*\['rnn'\]"):
        _capture(model, torch.randn(2, 5, 3), modules=["gru"])
    with pytest.raises(ValueError, match="'time_axis' parameter of capture must say which axis"):
        _capture(model, torch.randn(2, 5, 3), sampling_rate=100)
    with pytest.raises(ValueError, match="'labels' parameter of capture must be an integer array"):
        _capture(model, torch.randn(2, 5, 3), labels=np.zeros((3, 5), int), time_axis=1)
    with pytest.raises(ValueError, match="'var' parameter of capture must be 'all' or a list drawn from"):
        _capture(model, torch.randn(2, 5, 3), var=["c"])
    with pytest.raises(TypeError, match="Got an xarray.Dataset instead"):
        _capture(model, xr.Dataset())


class Chunked(nn.Module):
    """A long sequence run in two calls of one LSTM, the state carried from the first to the second."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 3, batch_first=True)

    def forward(self, x):
        a, state = self.lstm(x[:, :5])
        b, _ = self.lstm(x[:, 5:], state)
        return torch.cat([a, b], 1)


class Drifting(nn.Module):
    """Changes its LSTM's weights after calling it: what capture cannot model."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 3, batch_first=True)

    def forward(self, x):
        y, _ = self.lstm(x)
        with torch.no_grad():
            self.lstm.weight_hh_l0.mul_(0.5)
        return y


def test_calls_of_one_module_join_in_time_and_the_store_holds_the_run(tmp_path):
    torch.manual_seed(9)
    model = Chunked().eval()
    x = torch.randn(2, 12, 2)
    run = _capture(model, x, store=tmp_path / "chunked.zarr")
    assert run.sizes["time"] == 12 and (tmp_path / "chunked.zarr").exists()
    assert_entries(run.load(), "lstm", reference(model.lstm, x))
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        _capture(model, x, store=tmp_path / "chunked.zarr")
    assert _capture(model, x, store=tmp_path / "chunked.zarr", overwrite=True).sizes["time"] == 12


def test_a_module_that_capture_cannot_reproduce_is_an_error():
    with pytest.raises(RuntimeError, match="do not reproduce its own output"):
        _capture(Drifting(), torch.randn(2, 6, 2))


def test_analyses_leave_out_the_padding_of_narrower_layers():
    torch.manual_seed(10)
    model = CellLoop().eval()  # an LSTM cell of 4 units and a GRU cell of 6: the first pads 2 units with NaN
    x = torch.randn(4, 30, 3)
    labels = np.zeros((4, 30), dtype=np.int64)
    labels[:, 10:20] = 1
    run = _capture(model, x, labels=labels, time_axis=1)
    assert np.isfinite(analysis.temporal_trace(run, event=0).values).all()
    assert np.isfinite(analysis.smoothness(run).values).all()
    activity = analysis.unit_activity(run)["mean_abs"].values
    assert np.isnan(activity[4:, 0]).all() and np.isfinite(activity[:4, 0]).all() and np.isfinite(activity[:, 1]).all()


def test_module_views_are_reused_rebuilt_on_new_parameters_and_never_keep_a_module_alive():
    import gc
    import weakref

    from rnnscope.models._torch_rnn import _VIEWS, TorchRNN

    lstm = nn.LSTM(3, 4, batch_first=True)
    view = TorchRNN.of(lstm)
    assert TorchRNN.of(lstm) is view
    with torch.no_grad():
        lstm.weight_hh_l0.mul_(0.5)  # in place (an optimiser step): the view shares the parameter
    x = torch.randn(2, 5, 3)
    with torch.no_grad():
        out, _, _ = TorchRNN.of(lstm).run(TorchRNN.of(lstm).prepare(x), trace=True)
        torch.testing.assert_close(out, lstm(x)[0], atol=1e-5, rtol=1e-5)
    lstm.weight_ih_l0 = nn.Parameter(torch.zeros(16, 3))  # replaced: a new view
    assert TorchRNN.of(lstm) is not view
    alive = weakref.ref(lstm)
    del lstm, view
    gc.collect()
    assert alive() is None
    assert all(key is not None for key in _VIEWS.keys())


# ------------------------------------------------------------------ an rnnscope classifier from a tensor or array


@pytest.mark.parametrize("options", [
    {},
    {"sampling_rate": 10.0, "time_axis": 1, "class_names": ["a", "b", "c"],
     "labels": np.random.default_rng(2).integers(-1, 3, size=(5, 20))},
    {"modules": ["layers.0.rnn", "layers.2.rnn"], "silence": {0: [1, 2]}, "var": ["h", "c"]},
])
def test_a_classifier_from_a_tensor_or_array_takes_its_own_pass_with_the_hooked_path_s_run(options, monkeypatch):
    """An RNNClassifier on a tensor or an array is traced by its own layers (the native kernels writing into the run),
    not recorded by hooks: the run equals the hooked path's (states, labels, segments, summaries, attributes)."""
    from rnnscope.capturing import _modules

    torch.manual_seed(0)
    model = rnnscope.models.RNNClassifier(["lstm", "gru", "rnn"], input_size=4, hidden_size=6, num_classes=3)
    model.fit_normalizer(np.random.default_rng(0).normal(2, 3, size=(5, 30, 4)))
    x = np.random.default_rng(1).normal(size=(5, 20, 4)).astype(np.float32)
    hooked_options = {("variables" if k == "var" else k): v for k, v in options.items()}
    (hooked,) = _modules.record_modules(model, torch.from_numpy(x), progress=False, batch_size=2,
                                        **hooked_options).values()
    recorded = []
    monkeypatch.setattr(_modules._Recorder, "__enter__", lambda self: recorded.append(self) or self)
    for data in (x, torch.from_numpy(x)):
        own = rnnscope.capture(model, data, progress=False, batch_size=2, **options)
        assert not recorded  # no hooks, no recovery
        xr.testing.assert_allclose(own.drop_attrs(), hooked.drop_attrs(), atol=2e-6, rtol=0)
        assert {k: v for k, v in own.attrs.items() if k != "created"} == \
            {k: v for k, v in hooked.attrs.items() if k != "created"}
        assert list(own.data_vars) == list(hooked.data_vars)


def test_a_classifier_from_a_tensor_gives_the_states_of_its_capture_from_frames(tmp_path):
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=3, seed=4, record_duration_s=(20, 20)))
    torch.manual_seed(1)
    model = rnnscope.models.RNNClassifier(["gru", "lstm"], input_size=frames.sizes["feature"], hidden_size=8,
                                          num_classes=5)
    model.fit_normalizer(frames)
    from_frames = rnnscope.capture(model, frames, progress=False)
    x = frames["features"].transpose("event", "time", "feature").values
    from_tensor = rnnscope.capture(model, torch.from_numpy(x), progress=False, store=tmp_path / "t.zarr")
    assert from_tensor.sizes["layer"] == 2 and list(from_tensor["module"].values) == ["layers.0.rnn", "layers.1.rnn"]
    for name in ("h", "c", "update_gate", "input_gate"):
        np.testing.assert_allclose(from_tensor[name].values, from_frames[name].values, atol=2e-6, rtol=0)
    np.testing.assert_allclose(from_tensor["summary_min"].values, from_frames["summary_min"].values, atol=2e-6)


def test_a_lazy_lstm_classifier_or_module_batch_take_the_hooked_path():
    from rnnscope.capturing._classifier_data import classifier_pass_applies

    x = torch.zeros(2, 5, 3)
    assert classifier_pass_applies(rnnscope.models.RNNClassifier("gru", input_size=3, hidden_size=4, num_classes=2), x,
                                   None)
    assert classifier_pass_applies(rnnscope.models.RNNClassifier("gru", input_size=3, hidden_size=4, num_classes=2),
                                   x.numpy(), {})
    assert not classifier_pass_applies(rnnscope.models.RNNClassifier(["gru", "lazy_lstm"], input_size=3, hidden_size=4,
                                                                     num_classes=2), x, None)
    assert not classifier_pass_applies(rnnscope.models.RNNClassifier("gru", input_size=3, hidden_size=4,
                                                                     num_classes=2), x, {"layers.0.rnn": "event_major"})
    assert not classifier_pass_applies(rnnscope.models.RNNClassifier("gru", input_size=3, hidden_size=4,
                                                                     num_classes=2), (x, torch.tensor([5, 3])), None)
    assert not classifier_pass_applies(nn.Sequential(nn.LSTM(3, 4)), x, None)


# ---------------------------------------------------------------------------------------- store: batch by batch
class Interrupted(Exception):
    pass


class FailsOnCall(TwoRates):
    """TwoRates whose forward raises on call ``fail_on`` (1-based): an interrupted capture."""

    def __init__(self, weights_of, fail_on):
        super().__init__()
        self.load_state_dict(weights_of.state_dict())
        self.fail_on, self.calls = fail_on, 0
        self.eval()

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_on:
            raise Interrupted(f"call {self.calls}")
        return super().forward(x)


def _same_runs(stored, memory):
    """A run read from a store equals the one captured in memory: states, labels, segments, summaries."""
    stored = stored.load()
    for name in memory.data_vars:
        np.testing.assert_allclose(stored[name].values, memory[name].values, rtol=1e-6, atol=1e-7, err_msg=name) \
            if memory[name].dtype.kind == "f" else np.testing.assert_array_equal(stored[name].values,
                                                                                memory[name].values, err_msg=name)
    for name in ("length", "event_id", "time", "module", "direction", "layer_units"):
        np.testing.assert_array_equal(stored[name].values, memory[name].values, err_msg=name)
    assert set(memory.data_vars) <= set(stored.data_vars)


def test_a_store_is_written_batch_by_batch_and_an_interrupted_capture_resumes(tmp_path):
    """store=: every batch is written as soon as it is captured, with a checkpoint; an interrupted capture resumes
    after its last batch and gives the run of an uninterrupted one (in memory too), labels and summaries included."""
    torch.manual_seed(3)
    inner = TwoRates().eval()
    x = torch.randn(7, 40, 2)
    labels = (np.arange(40)[None, :] // 13 + np.arange(7)[:, None]) % 3 - (np.arange(40)[None, :] > 36)
    kw = dict(modules="slow", sampling_rate=10.0, time_axis=1, labels=labels, class_names=["noise", "LP", "VT"],
              batch_size=2)
    memory = _capture(inner, x, **kw)
    model = FailsOnCall(inner, fail_on=3)  # the third batch (events 4-5) fails
    with pytest.raises(Interrupted):
        _capture(model, x, store=tmp_path / "run.zarr", **kw)
    partial = tmp_path / "run.zarr.partial"
    manifest = json.loads((partial / "rnnscope_manifest.json").read_text())
    assert manifest["status"] == "writing" and manifest["batches_done"] == [0, 2]
    written = rnnscope.io.RunWriter(tmp_path / "run.zarr").dataset()  # what the partial store holds
    np.testing.assert_allclose(written["h"].values[:4], memory["h"].values[:4], rtol=1e-6, atol=1e-7)  # batches 1-2
    assert np.isnan(written["h"].values[4:]).all()  # nothing of the batches not captured yet
    with pytest.raises(rnnscope.io.RunFileError, match="unfinished write"):
        rnnscope.open_run(partial)
    model.calls = 0
    resumed = _capture(model, x, store=tmp_path / "run.zarr", **kw)
    assert model.calls == 2  # the two batches left (events 4-5 and 6), not the whole data again
    _same_runs(resumed, memory)
    assert resumed["segment_class"].values.tolist() == memory["segment_class"].values.tolist()


def test_an_interrupted_capture_of_other_data_starts_again(tmp_path):
    torch.manual_seed(4)
    inner = TwoRates().eval()
    x = torch.randn(5, 40, 2)
    with pytest.raises(Interrupted):
        _capture(FailsOnCall(inner, fail_on=2), x, store=tmp_path / "run.zarr", modules="slow", batch_size=2)
    other = x * 2
    model = FailsOnCall(inner, fail_on=0)
    run = _capture(model, other, store=tmp_path / "run.zarr", modules="slow", batch_size=2)
    assert model.calls == 3  # every batch: the partial store held another capture
    _same_runs(run, _capture(inner, other, modules="slow", batch_size=2))


def test_packed_sequences_of_any_length_go_to_a_store():
    """With sequences packed inside the forward, a later batch may run more steps than the first: the store grows
    along time (and its times follow); every event keeps its place and its valid steps."""
    import tempfile

    torch.manual_seed(1)
    model = Speech().eval()
    lengths = torch.tensor([2, 3, 6, 1, 7, 4, 5])
    x = torch.randn(7, 7, 4) * (torch.arange(7)[None, :, None] < lengths[:, None, None])
    memory = _capture(model, (x, lengths), batch_size=2)
    stored = _capture(model, (x, lengths), batch_size=2, store=Path(tempfile.mkdtemp()) / "packed.zarr")
    assert stored["length"].values.tolist() == lengths.tolist() and stored.sizes["time"] == 7
    _same_runs(stored, memory)


# ---------------------------------------------------------------------------------------- fixed cost (issue 28)


class _AtenOps(TorchDispatchMode):
    """Counts the aten operations run inside it (deterministic, unlike a timing)."""

    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def _with(values, where):
    out = values.clone()
    for index, value in where.items():
        out[index] = value
    return out


_OWN = torch.linspace(-3, 3, 2 * 7 * 5).view(2, 7, 5)
_NAN, _INF = float("nan"), float("inf")
_CHECK_CASES = {  # name: (recovered, own, lengths)
    "equal": (_OWN, _OWN, None),
    "within tolerance": (_OWN + 5e-5, _OWN, None),
    "beyond tolerance": (_with(_OWN, {(1, 3, 2): 2.9}), _OWN, None),
    "relu scale": (_OWN * 1e4 + 0.5, _OWN * 1e4, None),
    "nan in both": (_with(_OWN, {(0, 2, 1): _NAN}), _with(_OWN, {(0, 2, 1): _NAN}), None),
    "nan recovered only": (_with(_OWN, {(0, 2, 1): _NAN}), _OWN, None),
    "nan own only": (_OWN, _with(_OWN, {(0, 2, 1): _NAN}), None),
    "inf in both": (_with(_OWN, {(1, 0, 0): _INF}), _with(_OWN, {(1, 0, 0): _INF}), None),
    "inf of the other sign": (_with(_OWN, {(1, 0, 0): -_INF}), _with(_OWN, {(1, 0, 0): _INF}), None),
    "overflowing difference": (_with(_OWN, {(1, 0, 0): -3e38}), _with(_OWN, {(1, 0, 0): 3e38}), None),
    "garbage past the lengths": (_with(_OWN, {(1, 5, 0): _NAN, (1, 6, 4): 99.0}), _OWN, torch.tensor([7, 5])),
    "nothing valid": (_with(_OWN, {(0, 0, 0): _NAN}), _OWN, torch.tensor([0, 0])),
}


@pytest.mark.parametrize("case", list(_CHECK_CASES))
def test_the_exactness_check_decides_as_the_element_wise_comparison(case):
    """Capture's check of every module's output (issue 28: three passes over finite outputs instead of about twenty):
    the same verdict and the same numbers as the element-wise definition of NaN and infinities it replaced, which
    still decides whenever an output is not finite."""
    from rnnscope.capturing._modules import _TOLERANCE, _check_close, _finite_check, _nonfinite_check

    recovered, own, lengths = _CHECK_CASES[case]
    valid = (torch.arange(7)[None, :] < lengths[:, None]) if lengths is not None else torch.ones(2, 7, dtype=bool)
    expected_err, expected_scale = _nonfinite_check(own[valid], recovered[valid])  # the definition, element-wise
    fast = _finite_check(own[valid], recovered[valid])
    finite = bool(torch.isfinite(own[valid]).all() and torch.isfinite(recovered[valid] - own[valid]).all())
    assert (fast is not None) == finite
    if fast is not None:
        assert fast == (expected_err, expected_scale)
    passes = expected_err <= _TOLERANCE * expected_scale
    assert passes == (case in ("equal", "within tolerance", "relu scale", "nan in both", "inf in both",
                               "garbage past the lengths", "nothing valid"))
    # whole, or in parts along units (a bidirectional module's directions, checked without joining them)
    for given in (recovered, list(recovered.split([2, 3], -1)), list(recovered.split([4, 1], -1))):
        if passes:
            _check_close("m", own, given, lengths, "capture")
        else:
            with pytest.raises(RuntimeError, match="'m' do not reproduce its own output") as raised:
                _check_close("m", own, given, lengths, "capture")
            with pytest.raises(RuntimeError) as whole:
                _check_close("m", own, recovered, lengths, "capture")
            assert str(raised.value) == str(whole.value)  # the same numbers


@pytest.mark.parametrize("case", list(_CHECK_CASES))
@pytest.mark.parametrize("bounded", [False, True])
def test_the_exactness_checks_ranges_are_the_same_in_numpy_as_in_torch(case, bounded):
    """On the CPU the check reads its ranges with numpy on one thread (no thread-pool round trip for a few small
    reductions), elsewhere with torch: the same numbers, NaN and infinities included, on strided views too (a
    bidirectional module's directions are column slices of its output)."""
    from rnnscope.capturing._modules import _ranges_numpy, _ranges_torch

    recovered, own, _ = _CHECK_CASES[case]
    views = ((own, recovered), (own[..., 1:4], recovered[..., 1:4]), (own.transpose(0, 1), recovered.transpose(0, 1)))
    for mine, theirs in views:
        by_numpy, by_torch = _ranges_numpy(mine, theirs, bounded), _ranges_torch(mine, theirs, bounded)
        assert len(by_numpy) == (1 if bounded else 3)
        np.testing.assert_array_equal(by_numpy, by_torch)


def _outcome(check):
    try:
        check()
    except RuntimeError as error:
        return str(error)
    return "passes"


_BOUNDED_CASES = [case for case, (_, own, _) in _CHECK_CASES.items()
                  if float((own[torch.isfinite(own)] / 3).abs().max()) <= 1]


@pytest.mark.parametrize("case", _BOUNDED_CASES)
def test_the_exactness_check_of_a_bounded_output_decides_as_the_full_one(case):
    """An LSTM's output (``o * tanh(c)``) and a tanh RNN's lie within [-1, 1]: their check reads only the
    difference's range (the scale is 1 without reading the output's), with the same verdict and numbers as the
    full check, whole or in parts, with NaN, infinities and lengths."""
    from rnnscope.capturing._modules import _check_close

    recovered, own, lengths = _CHECK_CASES[case]
    own, recovered = own / 3, recovered / 3
    for given in (recovered, list(recovered.split([2, 3], -1))):
        full = _outcome(lambda given=given: _check_close("m", own, given, lengths, "capture"))
        short = _outcome(lambda given=given: _check_close("m", own, given, lengths, "capture", bounded=True))
        assert short == full, case
    assert ("passes" in full) == (case not in ("nan recovered only", "nan own only", "inf of the other sign",
                                               "beyond tolerance")), (case, full)


_FULL_SIZE = ("sub", "aminmax", "abs", "isfinite", "isnan", "eq", "index", "max", "bitwise_or", "bitwise_and")


def _check_ops(monkeypatch, own, recovered, **kwargs):
    """The ATen ops of one check on the CPU (its ranges read by numpy) and on the torch path (other devices)."""
    from rnnscope.capturing import _modules

    counts = []
    for ranges in (_modules._ranges_numpy, _modules._ranges_torch):
        monkeypatch.setattr(_modules, "_ranges_numpy", ranges)
        with _AtenOps() as counted:
            _modules._check_close("m", own, recovered, None, "capture", **kwargs)
        counts.append(counted.ops)
    return counts


def test_the_exactness_check_of_a_bounded_output_is_one_subtraction_and_one_range(monkeypatch):
    own = torch.rand(8, 19, 128).transpose(0, 1) * 2 - 1
    on_cpu, by_torch = _check_ops(monkeypatch, own, own.contiguous() + 1e-6, bounded=True)
    assert [op for op in on_cpu if op.split(".")[1] in _FULL_SIZE] == [], on_cpu  # numpy's passes on the CPU
    full_size = [op for op in by_torch if op.split(".")[1] in _FULL_SIZE]
    assert sorted(full_size) == ["aten.aminmax.default", "aten.sub.Tensor"], by_torch


def test_the_exactness_check_of_finite_outputs_is_one_subtraction_and_two_ranges(monkeypatch):
    own = torch.randn(8, 19, 128).transpose(0, 1)  # a batch-first LSTM's output is a transposed view
    on_cpu, by_torch = _check_ops(monkeypatch, own, own.contiguous() + 1e-6)
    assert [op for op in on_cpu if op.split(".")[1] in _FULL_SIZE] == [], on_cpu  # numpy's passes on the CPU
    assert set(on_cpu) == {"aten.detach.default"}, on_cpu  # no ATen pass: detach only (before numpy reads)
    full_size = [op for op in by_torch if op.split(".")[1] in _FULL_SIZE]
    assert sorted(full_size) == ["aten.aminmax.default", "aten.aminmax.default", "aten.sub.Tensor"], by_torch
    assert len(by_torch) <= 6, by_torch  # with two detach and one stack of the four numbers


def test_any_model_capture_runs_one_forward_each_module_once_and_assembles_without_merges(monkeypatch):
    """The fixed cost of capturing any model, counted (issue 28): per batch, one forward of the model (each
    recurrent module called once by it, none run again), one trace of each layer and direction, one exactness check
    per module call; the run built as one Dataset (no merge, no drop_vars); its states bit for bit those of the
    modules' own traces (what ``benchmarks/bench_any_model.py`` times as "modules alone")."""
    from rnnscope.capturing import _modules
    from rnnscope.models._torch_rnn import TorchRNN

    sbm = pytest.importorskip("seisbench.models")
    torch.manual_seed(28)
    model = sbm.CRED().eval()
    x = torch.rand(5, 3, 76, 41)
    lstms = {name: m for name, m in model.named_modules() if isinstance(m, nn.LSTM)}
    counts = {"forward": 0, "module calls": 0, "checks": 0, "merge": 0, "drop_vars": 0}
    inputs: dict[str, list] = {name: [] for name in lstms}

    def counting(key, call=None):
        def counted(*args, **kwargs):
            counts[key] += 1
            return call(*args, **kwargs) if call is not None else None  # hooks return None: nothing replaced
        return counted

    model.register_forward_pre_hook(counting("forward"))
    for name, m in lstms.items():
        m.register_forward_pre_hook(counting("module calls", lambda m, a, name=name: inputs[name].append(a[0])))
    monkeypatch.setattr(_modules, "_check_close", counting("checks", _modules._check_close))
    for method in ("merge", "drop_vars"):
        monkeypatch.setattr(xr.Dataset, method, counting(method, getattr(xr.Dataset, method)))
    run = _capture(model, x, var="all", sampling_rate=2.5, time_axis=2, batch_size=3)
    assert counts == {"forward": 2, "module calls": 2 * 3, "checks": 2 * 3, "merge": 0, "drop_vars": 0}
    monkeypatch.undo()
    for name, module in lstms.items():  # bit for bit the traces of the modules alone on the inputs they received
        view = TorchRNN(module)
        with torch.no_grad():
            traces = [view.run(view.prepare(inp), trace=True)[2] for inp in inputs[name]]
        entries = np.flatnonzero(run["module"].values == name)
        for i, layer in enumerate(entries):
            for var in ("h", "c", "input_gate", "forget_gate", "output_gate", "cell_input"):
                alone = torch.cat([t[i][var] for t in traces]).numpy()
                np.testing.assert_array_equal(run[var].values[:, :, : alone.shape[2], layer], alone)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_cell_internals_of_a_cell_call_equal_the_cells_own_outputs_with_and_without_a_cell_state(kind):
    from rnnscope.models._torch_rnn import cell_internals

    torch.manual_seed(0)
    cell = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}[kind](3, 4)
    x, h = torch.randn(5, 3), torch.randn(5, 4)
    if kind == "lstm":
        c = torch.randn(5, 4)
        inside, h_ref, c_ref = cell_internals(cell, x, h, c), *cell(x, (h, c))
        torch.testing.assert_close(inside["c"], c_ref)
        # no cell state: zeros, as nn.LSTMCell takes a missing state (it used to stop at an assert)
        alone = cell_internals(cell, x, h)
        torch.testing.assert_close(alone["h"], cell(x, (h, torch.zeros_like(h)))[0])
    else:
        inside, h_ref = cell_internals(cell, x, h), cell(x, h)
    torch.testing.assert_close(inside["h"], h_ref)


# ---------------------------------------------------------------------------------------- layer-first memory


class ConvBiGRU(nn.Module):
    """A bidirectional GRU behind a strided conv front end (waveforms in, 1 step per 4 samples)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 5, stride=4, padding=2)
        self.gru = nn.GRU(8, 6, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        return self.head(self.gru(torch.relu(self.conv(x)).transpose(1, 2))[0])


class EQLike(nn.Module):
    """EQTransformer-like: a conv front end, a bidirectional LSTM, then a narrower-input LSTM of other width."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(3, 8, 7, stride=8, padding=3)
        self.bi = nn.LSTM(8, 5, bidirectional=True, batch_first=True)
        self.one = nn.LSTM(10, 7, batch_first=True)

    def forward(self, x):
        return self.one(self.bi(torch.relu(self.conv(x)).transpose(1, 2))[0])[0]


def _layered_cases():
    """(name, model, input, capture options): CRED, EQTransformer-like (NaN gap, labels), a conv + BiGRU, and an
    rnnscope classifier given a tensor."""
    sbm = pytest.importorskip("seisbench.models")
    torch.manual_seed(0)
    cred = (sbm.CRED().eval(), torch.rand(5, 3, 76, 41), {"sampling_rate": 2.5, "time_axis": 2})
    torch.manual_seed(1)
    x = torch.randn(4, 3, 800)
    x[1, :, 400:] = float("nan")  # a gap: NaN states from there on
    eq = (EQLike().eval(), x, {"sampling_rate": 100.0, "time_axis": -1, "class_names": ["A", "B"],
                               "labels": np.repeat(np.arange(4)[:, None] % 2, 800, 1)})
    torch.manual_seed(2)
    gru = (ConvBiGRU().eval(), torch.randn(3, 3, 400), {"sampling_rate": 50.0, "time_axis": -1})
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=3, seed=4, record_duration_s=(20, 20)))
    torch.manual_seed(1)
    clf = rnnscope.models.RNNClassifier(["gru", "lstm"], input_size=frames.sizes["feature"], hidden_size=8,
                                        num_classes=5)
    clf.fit_normalizer(frames)
    features = torch.from_numpy(frames["features"].transpose("event", "time", "feature").values)
    return {"cred": cred, "eqtransformer-like": eq, "conv-bigru": gru, "classifier": (clf, features, {})}


def _contiguous(run: xr.Dataset) -> xr.Dataset:
    """``run`` with every variable a fresh C-ordered array (the layout runs had before the layer-first buffers)."""
    return run.copy(data={name: np.ascontiguousarray(v.values) for name, v in run.data_vars.items()})


def _store_contents(path: Path) -> dict:
    """Every file of a store (metadata parsed, chunks as bytes), the manifest's write time left out."""
    contents = {}
    for p in sorted(path.rglob("*")):
        if not p.is_file():
            continue
        key = str(p.relative_to(path))
        if p.name == "rnnscope_manifest.json":
            contents[key] = {k: v for k, v in json.loads(p.read_text()).items() if k != "written"}
        elif p.name == "zarr.json":
            contents[key] = json.loads(p.read_text())
        else:
            contents[key] = p.read_bytes()
    return contents


def test_runs_of_any_model_hold_layer_first_buffers_and_store_as_contiguous_runs_do(tmp_path):
    """The state arrays of an in-memory run of any model are (event, time, unit, layer) views of (layer, event, time,
    unit) buffers (each layer's block contiguous: no strided copy to build them), float32, dims unchanged (the
    classifier given a tensor keeps its own pass, which writes layer last while its layers run); saved to zarr
    or netCDF they give the very files, encodings and chunks of the same run held C-ordered, and their summaries
    are those recomputed from that copy."""
    for name, (model, x, options) in _layered_cases().items():
        run = _capture(model, x, var="all", batch_size=2, **options)
        states = [v for v in STATE_ORDER if v in run.data_vars]
        assert states and "h" in states, name
        for var in states:
            data = run[var].data
            assert run[var].dims == ("event", "time", "unit", "layer") and data.dtype == np.float32, (name, var)
            if name != "classifier":  # its own pass writes while the layers run (layer last, no copy either)
                assert np.moveaxis(data, -1, 0).flags.c_contiguous, (name, var, data.strides)  # layer first
        plain = _contiguous(run)
        assert all(plain[v].data.flags.c_contiguous for v in states)
        xr.testing.assert_identical(run, plain)
        again = rnnscope.io.compute_summaries(plain)
        for summary in ("summary_min", "summary_max"):
            np.testing.assert_array_equal(run[summary].values, again[summary].values, err_msg=f"{name} {summary}")
        # sums in float32 per window (the classifier's, made by its layers as they run, in another order)
        np.testing.assert_allclose(run["summary_activity"].values, again["summary_activity"].values, rtol=1e-5)
        for suffix in ("zarr", "nc"):
            a = rnnscope.io.save_run(run, tmp_path / f"{name}.{suffix}")
            b = rnnscope.io.save_run(plain, tmp_path / f"{name}-plain.{suffix}")
            opened, reference_run = rnnscope.open_run(a), rnnscope.open_run(b)
            xr.testing.assert_identical(opened.load(), reference_run.load())
            for var in opened.variables:
                assert opened[var].encoding.keys() == reference_run[var].encoding.keys(), (name, var)
                assert {k: str(v) for k, v in opened[var].encoding.items() if k != "source"} == \
                    {k: str(v) for k, v in reference_run[var].encoding.items() if k != "source"}, (name, var)
                assert opened[var].chunks == reference_run[var].chunks, (name, var)
            if suffix == "zarr":
                assert _store_contents(a) == _store_contents(b), name


def test_assembling_a_run_of_any_model_copies_no_state():
    """Counted (issue 28): the traces of a CRED capture are written straight into the run's layer-first buffers
    (the native kernels write there as they run; each backward direction is written there in time order, in the
    one pass that reverses it), so building the run allocates no state array and, beyond small ones, less than
    half a variable (the summaries read each layer's block in place). Before: the run's arrays were allocated
    and filled by a strided copy of every trace, then the value ranges made a transposed copy of every variable
    and the heat a copy of every layer of ``h`` (about twice ``h`` beyond the arrays)."""
    import tracemalloc

    from rnnscope.capturing import _module_runs

    sbm = pytest.importorskip("seisbench.models")
    torch.manual_seed(28)
    model, x = sbm.CRED().eval(), torch.rand(16, 3, 76, 41)
    _capture(model, x[:2], var="all", sampling_rate=2.5, time_axis=2)  # first calls: imports and caches
    counted: dict = {"copied": 0}
    assemble, place = _module_runs._run, _module_runs._place

    def run(*args, **kwargs):
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            out = assemble(*args, **kwargs)
            kept, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        counted.update(kept=kept - base, peak=peak - base)
        return out

    def counting_place(target, block, n_steps):
        place(target, block, n_steps)
        if block is not None and not np.shares_memory(block, target):
            counted["copied"] += block.nbytes
    _module_runs._run, _module_runs._place = run, counting_place
    try:
        captured = _capture(model, x, var="all", sampling_rate=2.5, time_axis=2, batch_size=16)
    finally:
        _module_runs._run, _module_runs._place = assemble, place
    h = captured["h"].nbytes
    assert counted["copied"] == 0  # every trace already where it belongs
    assert counted["kept"] <= 64 * 1024, counted  # coordinates, summaries: no state array
    assert counted["peak"] - counted["kept"] < 0.5 * h, (counted, h)  # before: about 2 h
    buffers = {captured[v].data.base is not None and captured[v].data.base.shape for v in STATE_ORDER
               if v in captured}
    assert buffers == {(5, 16, 19, 64)}, buffers  # views of (layer, event, time, unit) buffers


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("var", ["all", ["h", "reset_gate"]])
def test_states_traced_into_the_run_are_those_of_the_modules_alone(dtype, var):
    """Bit for bit the traces of the module alone (fresh tensors, rounded to float32), whether they went straight
    into the run's buffers (float32 on the CPU, both directions, two layers, two batches) or were copied in
    (float64: the next layer reads ``h`` at the model's precision)."""
    from rnnscope.models._torch_rnn import TorchRNN

    torch.manual_seed(11)
    model = Wrap(nn.GRU(4, 6, num_layers=2, bidirectional=True, batch_first=True)).to(dtype).eval()
    x = torch.randn(5, 9, 3, dtype=dtype)
    run = _capture(model, x, var=var, batch_size=3)
    with torch.no_grad():
        view = TorchRNN(model.rnn)
        alone = view.run(view.prepare(model.proj(x)), trace=True)[2]
    names = ["h", "update_gate", "reset_gate", "candidate"] if var == "all" else var
    assert sorted(v for v in run.data_vars if run[v].ndim == 4) == sorted(names)
    for layer, traced in enumerate(alone):
        for name in names:
            np.testing.assert_array_equal(run[name].values[..., layer], traced[name].float().numpy(),
                                          err_msg=f"{dtype} {layer} {name}")
    assert run["h"].dtype == np.float32


def test_value_ranges_read_layer_first_buffers_in_place_as_c_ordered_arrays():
    """The one definition of a stored value range gives the same numbers for a layer-first buffer's view (read
    layer by layer in place) and for the C-ordered array: padded rows, NaN units of a narrower layer, a layer
    with no value, frames past a row's length holding values that must not count."""
    from rnnscope.capturing._module_runs import layer_last
    from rnnscope.io._summaries import valid_ranges

    rng = np.random.default_rng(3)
    buffer = rng.normal(size=(4, 5, 7, 6)).astype(np.float32)  # (layer, row, time, unit)
    buffer[1, :, :, 4:] = np.nan  # a narrower layer
    buffer[3] = np.nan  # no value at all
    buffer[0, 2, 5:] = 1e6  # counted only while inside row 2's length
    view = layer_last(buffer)
    for n_valid in (np.full(5, 7), np.array([7, 3, 5, 0, 7])):
        ranges = valid_ranges(view, n_valid)
        assert ranges == valid_ranges(np.ascontiguousarray(view), n_valid)
        assert ranges[3] is None and (ranges[0][1] == 1e6) == (n_valid[2] > 5)
        inside = np.arange(7)[None, :] < n_valid[:, None]
        for k in range(3):
            values = buffer[k][inside]
            assert ranges[k] == (float(np.nanmin(values)), float(np.nanmax(values)))


@pytest.mark.parametrize("var", [["h"], ["h", "forget_gate"], "all"])
def test_packed_sequences_with_some_variables_are_captured(var):
    """An LSTM fed packed sequences needs ``c`` for its final state after each row's last valid frame, also when
    ``c`` is not captured (before: KeyError 'c'); the variables captured are those of the full capture."""
    torch.manual_seed(3)
    model = Speech().eval()
    x, lengths = torch.randn(5, 9, 4), torch.tensor([9, 3, 7, 2, 9])
    full = _capture(model, (x, lengths), batch_size=2)
    run = _capture(model, (x, lengths), batch_size=2, var=var)
    names = [v for v in STATE_ORDER if v in run.data_vars]
    assert names == (["h", "c", "input_gate", "forget_gate", "output_gate", "cell_input"] if var == "all" else var)
    for name in names:  # NaN past each row's length in both; float rounding apart (the kernels' paths differ)
        np.testing.assert_allclose(run[name].values, full[name].values, atol=1e-6, rtol=0, err_msg=name)

"""Classifiers, unit masks, normaliser, class names, from_torch, files, TCN, devices."""
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from rnnscope.models import (
    CELL_KINDS,
    ClassMismatchError,
    ModelFileError,
    RNNClassifier,
    TCNClassifier,
    UnsafeModelFileError,
    from_torch,
    load,
)

ATOL = 1e-5
H = 6
MIXED = ["lstm", "gru", "lazy_lstm"]


def _masks(num_layers, seed=0):
    g = torch.Generator().manual_seed(seed)
    masks = []
    for _ in range(num_layers):
        keep = torch.rand(H, generator=g) > 0.4
        keep[0], keep[1] = True, False  # at least one kept and one masked unit
        masks.append(keep)
    return masks


def interleaved_step_loop(model, x, keep_masks=None):
    """Hand-written reference: frame by frame, layer by layer, shortcut added after h, masked h set to 0."""
    z = model.normalize(x)
    states = [layer.initial_state(x.shape[0]) for layer in model.layers]
    hs = [[] for _ in model.layers]
    logits = []
    for t in range(x.shape[1]):
        inp = z[:, t]
        for i, layer in enumerate(model.layers):
            keep = None if keep_masks is None else keep_masks[i]
            if keep is not None and layer.kind != "lazy_lstm":
                # plain unmasked step, masked units' h zeroed by hand before and after it
                state = (states[i][0] * keep,) + tuple(states[i][1:])
                h, state, _ = layer.step(inp, state)
                h = h * keep
                states[i] = (h,) + tuple(state[1:])
            else:
                # the lazy LSTM's candidate reads m_t within the step, so the step applies the mask itself
                h, states[i], _ = layer.step(inp, states[i], keep=keep)
            hs[i].append(h)
            inp = h + inp if model.shortcuts[i] else h
        logits.append(model.head(inp))
    return torch.stack(logits, 1), [torch.stack(h, 1) for h in hs]


@pytest.mark.parametrize("cells", [*CELL_KINDS, MIXED])
@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("input_size", [5, H])
@pytest.mark.parametrize("masked", [False, True])
def test_classifier_matches_interleaved_step_loop(cells, residual, input_size, masked):
    torch.manual_seed(0)
    num_layers = len(cells) if isinstance(cells, list) else 2
    model = RNNClassifier(cells, input_size=input_size, hidden_size=H, num_classes=4, num_layers=num_layers,
                          residual=residual)
    assert model.shortcuts == [residual and (i > 0 or input_size == H) for i in range(num_layers)]
    x = torch.randn(3, 8, input_size)
    keep_masks = _masks(num_layers) if masked else None
    with torch.no_grad():
        logits, layers = model.forward_layers(x, keep=keep_masks)
        ref_logits, ref_h = interleaved_step_loop(model, x, keep_masks)
    assert logits.shape == (3, 8, 4)
    assert torch.allclose(logits, ref_logits, atol=ATOL)
    assert torch.allclose(model(x, keep=keep_masks), logits, atol=1e-6)
    for i, (record, h) in enumerate(zip(layers, ref_h, strict=True)):
        assert torch.allclose(record["h"], h, atol=ATOL)  # captured h is before the shortcut
        inside = model.layers[i].internals(record["input"], record["h"], record["state0"], keep=record["keep"])
        assert torch.allclose(inside["h"], record["h"], atol=ATOL)
        if masked:
            assert torch.equal(record["keep"], keep_masks[i])
            assert not record["h"][..., ~keep_masks[i]].any()
    if masked:
        pruned = model.masked(keep_masks)
        assert torch.allclose(pruned(x), logits, atol=1e-6)
        assert pruned.masked_units == [torch.nonzero(~k).flatten().tolist() for k in keep_masks]


@pytest.mark.parametrize("kind", CELL_KINDS)
@pytest.mark.parametrize("residual", [False, True])
def test_masked_units_have_zero_effect_on_the_head(kind, residual):
    torch.manual_seed(1)
    model = RNNClassifier(kind, input_size=H, hidden_size=H, num_classes=3, num_layers=2, residual=residual).eval()
    keep_masks = _masks(2, seed=3)
    x = torch.randn(2, 9, H)
    with torch.no_grad():
        before = model(x, keep=keep_masks)
        gates = model.layers[0].weight_ih.shape[0] // H
        for layer, keep in zip(model.layers, keep_masks, strict=True):
            rows = torch.cat([torch.nonzero(~keep).flatten() + g * H for g in range(gates)])
            layer.rnn.weight_ih_l0[rows] += 2.0
            layer.rnn.weight_hh_l0[rows] -= 1.5
            layer.rnn.bias_hh_l0[rows] += 0.7
        if not residual:  # with the shortcut the input still reaches these head columns, by design
            model.head.weight[:, ~keep_masks[1]] += 5.0
        after = model(x, keep=keep_masks)
        unmasked = model(x)
    assert torch.allclose(before, after, atol=1e-6)
    assert not torch.allclose(before, unmasked, atol=1e-3)


@pytest.mark.parametrize("masked", [False, True])
def test_trace_layers_into_given_outputs_equals_trace_layers(masked):
    from rnnscope.models._trace import buffer_outputs

    torch.manual_seed(4)
    model = RNNClassifier(MIXED + ["rnn"], input_size=4, hidden_size=H, num_classes=3, residual=True).eval()
    x = torch.randn(3, 10, 4)
    keep_masks = _masks(4, seed=5) if masked else None
    outputs = [buffer_outputs(layer.variables, 3, 10, H) for layer in model.layers]
    with torch.no_grad():
        logits, layers = model.trace_layers(x, keep=keep_masks)
        logits_out, layers_out = model.trace_layers(x, keep=keep_masks, outputs=outputs)
    assert torch.allclose(logits_out, logits, atol=1e-6)
    for layer, record, record_out, out in zip(model.layers, layers, layers_out, outputs, strict=True):
        assert list(record_out["variables"]) == ["h"]
        for name in layer.variables:
            assert torch.allclose(out.arrays[name], record["variables"][name], atol=1e-6), name
            low, high = record_out["ranges"][name]
            assert low == pytest.approx(float(record["variables"][name].min()), abs=1e-6)
            assert high == pytest.approx(float(record["variables"][name].max()), abs=1e-6)
    with pytest.raises(ValueError, match=r"The 'outputs' parameter of RNNClassifier.trace_layers must be None or a "
                                         r"list of 4 TraceOutputs \(one per layer\). Got a list of 3 instead"):
        model.trace_layers(x, outputs=outputs[:3])


def test_streaming_in_chunks_equals_one_pass():
    torch.manual_seed(2)
    model = RNNClassifier(MIXED, input_size=4, hidden_size=H, num_classes=3, residual=True).eval()
    x = torch.randn(2, 12, 4)
    with torch.no_grad():
        full = model(x)
        first, layers = model.forward_layers(x[:, :5])
        second, _ = model.forward_layers(x[:, 5:], states=[r["final_state"] for r in layers])
    assert torch.allclose(torch.cat([first, second], 1), full, atol=1e-6)


def test_dropout_between_layers_only_in_training():
    torch.manual_seed(3)
    model = RNNClassifier("gru", input_size=4, hidden_size=H, num_classes=3, num_layers=2, dropout=0.5)
    x = torch.randn(2, 10, 4)
    model.train()
    assert not torch.allclose(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))
    # one layer: no dropout before the head
    one = RNNClassifier("gru", input_size=4, hidden_size=H, num_classes=3, dropout=0.5).train()
    assert torch.equal(one(x), one(x))


def test_cell_list_and_argument_errors():
    model = RNNClassifier(["lstm", "lazy_lstm"], input_size=4, hidden_size=H, num_classes=5)
    assert model.num_layers == 2 and model.cells == ["lstm", "lazy_lstm"]
    with pytest.raises(ValueError, match="one kind per layer"):
        RNNClassifier(["lstm", "gru"], input_size=4, hidden_size=H, num_classes=5, num_layers=3)
    with pytest.raises(ValueError, match=r"The 'cell' parameter of RNNClassifier must be one of"):
        RNNClassifier("transformer", input_size=4, hidden_size=H, num_classes=5)
    with pytest.raises(ValueError, match=r"The 'dropout' parameter of RNNClassifier must be a number in \[0, 1\)"):
        RNNClassifier("lstm", input_size=4, hidden_size=H, num_classes=5, dropout=1.5)
    with pytest.raises(ValueError, match=r"The 'hidden_size' parameter of RNNClassifier must be a positive integer"):
        RNNClassifier("lstm", input_size=4, hidden_size=0, num_classes=5)
    with pytest.raises(ValueError, match=r"The 'class_names' parameter of RNNClassifier must hold num_classes=5"):
        RNNClassifier("lstm", input_size=4, hidden_size=H, num_classes=5, class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"The 'keep' parameter of RNNClassifier.forward_layers must give one entry "
                                         r"per layer \(2"):
        model.forward_layers(torch.randn(1, 3, 4), keep=[None])
    with pytest.raises(ValueError, match=r"The 'x' parameter of RNNClassifier.forward_layers must have shape"):
        model(torch.randn(1, 3, 5))


# ---- normaliser ---------------------------------------------------------------------------------------------


def test_fit_normalizer_ignores_padding_and_floors_std():
    rng = np.random.default_rng(0)
    a = rng.normal(3.0, 2.0, size=(40, 3))
    b = rng.normal(3.0, 2.0, size=(25, 3))
    b[:, 2] = a[:, 2].mean()  # nearly constant feature in part of the data
    padded = np.full((2, 40, 3), np.nan)
    padded[0], padded[1, :25] = a, b
    valid = np.concatenate([a, b])
    for data in (padded, [a, b], [torch.as_tensor(a), b], torch.as_tensor(padded)):
        model = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5).fit_normalizer(data)
        assert np.allclose(model.feature_mean.numpy(), valid.mean(0), atol=1e-5)
        assert np.allclose(model.feature_std.numpy(), valid.std(0), atol=1e-5)
    constant = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5).fit_normalizer(np.ones((5, 3)))
    assert constant.feature_std.tolist() == pytest.approx([1e-3] * 3)
    with pytest.raises(ValueError, match="at least one frame without NaN"):
        RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5).fit_normalizer(np.full((1, 4, 3), np.nan))
    with pytest.raises(ValueError, match=r"must hold frames of 3 features"):
        RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5).fit_normalizer(np.zeros((4, 2)))


def test_fit_normalizer_reads_a_features_dataset_event_by_event():
    xr = pytest.importorskip("xarray")
    feats = np.random.default_rng(1).normal(size=(3, 7, 2))
    feats[2, 4:] = np.nan
    ds = xr.Dataset({"features": (("event", "time", "feature"), feats)})
    model = TCNClassifier(input_size=2, num_classes=5, filters=4).fit_normalizer(ds)
    valid = np.concatenate([feats[0], feats[1], feats[2, :4]])
    assert np.allclose(model.feature_mean.numpy(), valid.mean(0), atol=1e-6)


@pytest.mark.parametrize("make", [lambda: RNNClassifier(MIXED, input_size=3, hidden_size=4, num_classes=5),
                                  lambda: TCNClassifier(input_size=3, num_classes=5, filters=4)])
def test_normaliser_applied_inside_forward_and_nan_propagates_as_in_pytorch(make):
    """NaN after a record (padding the model cannot tell from missing data) makes the outputs NaN from there on, as
    PyTorch's own modules do, and never reaches the frames before it (the models are causal)."""
    torch.manual_seed(4)
    model = make().eval()
    rng = np.random.default_rng(2)
    long, short = rng.normal(10, 3, (12, 3)), rng.normal(10, 3, (7, 3))
    model.fit_normalizer([long, short])
    batch = np.full((2, 12, 3), np.nan, np.float32)
    batch[0], batch[1, :7] = long, short
    with torch.no_grad():
        out = model(batch)
        alone = model(short[None].astype(np.float32))
        assert torch.isfinite(out[0]).all() and torch.isfinite(out[1, :7]).all()
        assert torch.isnan(out[1, 7:]).all()
        assert torch.allclose(out[1, :7], alone[0], atol=1e-5)
        # the normaliser is really inside: the same model with identity normaliser on pre-normalised input
        z = (torch.as_tensor(short[None], dtype=torch.float32) - model.feature_mean) / model.feature_std
        ident = make().eval()
        ident.load_state_dict(model.state_dict())
        ident.feature_mean.zero_()
        ident.feature_std.fill_(1.0)
        assert torch.allclose(ident(z), alone, atol=1e-5)


# ---- classes ------------------------------------------------------------------------------------------------


def test_class_names_default_and_remapping():
    assert RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5).class_names == \
        ["SIL", "TRE", "LP", "VTE", "HYB"]
    assert RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=3).class_names == \
        ["class0", "class1", "class2"]
    model = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5)
    data_names = ["LP", "SIL", "HYB", "TRE", "VTE"]
    assert model.class_index_map(data_names).tolist() == [2, 0, 4, 1, 3]
    labels = np.array([[0, 1, 2, -1], [3, 4, -1, -1]], dtype=np.int16)
    out = model.remap_labels(labels, data_names)
    assert out.dtype == np.int16 and out.tolist() == [[2, 0, 4, -1], [1, 3, -1, -1]]
    for i, name in enumerate(data_names):  # every label keeps its class name
        assert model.class_names[out.flat[list(labels.flat).index(i)]] == name
    t = model.remap_labels(torch.as_tensor(labels.astype(np.int64)), data_names)
    assert t.dtype == torch.int64 and t.tolist() == out.tolist()
    with pytest.raises(ClassMismatchError, match=r"only in the model: \['HYB'\]; only in the data: \['EXP'\]"):
        model.remap_labels(labels, ["LP", "SIL", "EXP", "TRE", "VTE"])
    with pytest.raises(ClassMismatchError, match=r"only in the model: \['HYB'\]; only in the data: \[\]"):
        model.class_index_map(["LP", "SIL", "TRE", "VTE"])
    with pytest.raises(ValueError, match=r"must lie in \[-1, 4\]"):
        model.remap_labels(np.array([5]), data_names)


# ---- description --------------------------------------------------------------------------------------------


def test_config_repr_and_parameter_count():
    model = RNNClassifier(["lstm", "lazy_lstm"], input_size=48, hidden_size=16, num_classes=5, residual=True,
                          dropout=0.1)
    config = model.config
    assert json.loads(json.dumps(config)) == config
    assert config["model"] == "RNNClassifier" and config["cells"] == ["lstm", "lazy_lstm"]
    assert config["class_names"] == ["SIL", "TRE", "LP", "VTE", "HYB"]
    assert config["normalizer"]["mean"] == [0.0] * 48 and config["normalizer"]["std"] == [1.0] * 48
    assert "rnnscope_version" in config
    lstm1 = 4 * 16 * (48 + 16 + 2)
    lstm2 = 4 * 16 * (16 + 16 + 2)
    assert model.n_parameters == lstm1 + lstm2 + 16 * 5 + 5
    text = repr(model)
    assert "lazy_lstm 16 -> 16 + shortcut" in text and f"{model.n_parameters:,} parameters" in text
    tcn = TCNClassifier(input_size=48, num_classes=5)
    assert tcn.config["dilations"] == [8, 16, 32] and "receptive field 113" in repr(tcn)


# ---- from_torch ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bias", [True, False])
def test_from_torch_gives_identical_outputs(module, batch_first, num_layers, bias):
    torch.manual_seed(5)
    rnn = module(4, 5, num_layers=num_layers, batch_first=batch_first, bias=bias)
    head = torch.nn.Linear(5, 3, bias=bias)
    model = from_torch(rnn, head, class_names=["SIL", "LP", "VTE"])
    assert model.cells == [{torch.nn.RNN: "rnn", torch.nn.LSTM: "lstm", torch.nn.GRU: "gru"}[module]] * num_layers
    assert model.class_names == ["SIL", "LP", "VTE"] and not model.training
    x = torch.randn(2, 7, 4)
    with torch.no_grad():
        out, _ = rnn(x if batch_first else x.transpose(0, 1))
        expected = head(out if batch_first else out.transpose(0, 1))
        got = model(x)
    assert torch.allclose(got, expected, atol=1e-6, rtol=0)
    assert model.feature_mean.abs().sum() == 0 and (model.feature_std == 1).all()
    # the originals are untouched and no longer shared
    with torch.no_grad():
        model.layers[0].rnn.weight_ih_l0.zero_()
    assert rnn.weight_ih_l0.abs().sum() > 0


def test_from_torch_refuses_what_it_cannot_represent():
    head = torch.nn.Linear(5, 3)
    with pytest.raises(ValueError, match="must be unidirectional"):
        from_torch(torch.nn.LSTM(4, 5, bidirectional=True), head)
    with pytest.raises(ValueError, match="must have proj_size=0"):
        from_torch(torch.nn.LSTM(4, 5, proj_size=2), head)
    with pytest.raises(ValueError, match="must use nonlinearity='tanh'"):
        from_torch(torch.nn.RNN(4, 5, nonlinearity="relu"), head)
    with pytest.raises(ValueError, match="must be a torch.nn.RNN"):
        from_torch(torch.nn.Linear(4, 5), head)
    with pytest.raises(ValueError, match="must take hidden_size=5 inputs"):
        from_torch(torch.nn.GRU(4, 5), torch.nn.Linear(6, 3))


# ---- files --------------------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(6)
    model = RNNClassifier(MIXED, input_size=3, hidden_size=5, num_classes=4, residual=True,
                          class_names=["SIL", "LP", "VTE", "HYB"])
    model.fit_normalizer(np.random.default_rng(3).normal(2.0, 4.0, (30, 3)))
    model.info["class_weights"] = [1.0, 2.0, 3.0, 4.0]
    model = model.masked([None, torch.tensor([True, False, True, True, False]), None]).eval()
    path = str(tmp_path / "model.safetensors")
    assert model.save(path) == path
    assert os.listdir(tmp_path) == ["model.safetensors"]  # the .partial was renamed
    again = load(path)
    x = torch.randn(2, 9, 3)
    with torch.no_grad():
        assert torch.equal(again(x), model(x))
    assert again.config == model.config
    assert again.class_names == ["SIL", "LP", "VTE", "HYB"] and again.masked_units == [[], [1, 4], []]
    assert torch.equal(again.feature_mean, model.feature_mean) and torch.equal(again.feature_std, model.feature_std)
    assert again.info == {"class_weights": [1.0, 2.0, 3.0, 4.0]} and not again.training
    # the metadata is plain JSON readable without rnnscope
    from safetensors import safe_open

    with safe_open(path, framework="pt") as f:
        assert json.loads(f.metadata()["rnnscope_model"])["cells"] == MIXED

    tcn = TCNClassifier(input_size=3, num_classes=5, filters=4, dilations=(1, 2), blocks=2,
                        class_names=list("ABCDE")).eval()
    tcn.save(tmp_path / "tcn.safetensors")
    tcn2 = load(tmp_path / "tcn.safetensors", device="auto").to("cpu")
    with torch.no_grad():
        assert torch.equal(tcn2(x), tcn(x))
    assert isinstance(tcn2, TCNClassifier) and tcn2.config == tcn.config


def test_state_dict_file_with_json_config(tmp_path):
    torch.manual_seed(7)
    model = RNNClassifier("gru", input_size=3, hidden_size=4, num_classes=5).eval()
    torch.save(model.state_dict(), tmp_path / "w.pt")
    (tmp_path / "cfg.json").write_text(json.dumps(model.config))
    x = torch.randn(1, 5, 3)
    for config in (str(tmp_path / "cfg.json"), model.config, json.dumps(model.config)):
        again = load(tmp_path / "w.pt", model_config=config)
        with torch.no_grad():
            assert torch.equal(again(x), model(x))
    with pytest.raises(ModelFileError, match="holds no config"):
        load(tmp_path / "w.pt")


def test_mismatched_config_names_the_mismatch(tmp_path):
    model = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5)
    path = tmp_path / "m.safetensors"
    model.save(path)
    config = dict(model.config, hidden_size=8)
    with pytest.raises(
        ModelFileError, match=r"layers.0.rnn.weight_ih_l0: config expects \(32, 3\), file holds \(16, 3\)"
    ):
        load(path, model_config=config)
    config = dict(model.config, cells=["lstm", "lstm"], num_layers=2)
    with pytest.raises(ModelFileError, match=r"missing from the file: \['layers.1.rnn.weight_ih_l0'"):
        load(path, model_config=config)
    config = dict(model.config, cells=["gru"])
    with pytest.raises(ModelFileError, match="wrong shapes"):
        load(path, model_config=config)
    config = {k: v for k, v in model.config.items() if k != "hidden_size"}
    with pytest.raises(ModelFileError, match="lacks the key 'hidden_size'"):
        load(path, model_config=config)
    with pytest.raises(ModelFileError, match="must be one of"):
        load(path, model_config=dict(model.config, model="Transformer"))
    (tmp_path / "junk.bin").write_bytes(b"hello world, not a model")
    with pytest.raises(ModelFileError, match="neither a safetensors file nor"):
        load(tmp_path / "junk.bin")


class _Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_malicious_pickle_is_refused_and_not_executed(tmp_path, writer):
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"layers.0.rnn.weight_ih_l0": _Exploit(target)}
    if writer == "torch.save":
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    config = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5).config
    with pytest.raises(
        UnsafeModelFileError, match="not a plain weights file.*was refused and nothing in it was executed"
    ):
        load(path, model_config=config)
    assert not target.exists()
    assert isinstance(UnsafeModelFileError("x"), ValueError)


def test_a_safetensors_file_whose_header_length_starts_like_a_pickle_loads(tmp_path):
    """A safetensors file begins with its header length (8 bytes, little endian); a length whose low byte is 0x80,
    the first byte of a pickle, once made load() call the file a PyTorch state dict and refuse it (1 file in 256,
    e.g. after fit_normalizer)."""
    from safetensors.torch import save_file

    from rnnscope.models._file import METADATA_KEY

    model = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    path = tmp_path / "model.safetensors"
    for pad in range(256):
        save_file(tensors, path, metadata={METADATA_KEY: json.dumps(model.config), "pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            break
    assert path.read_bytes()[0] == 0x80 and path.read_bytes()[8:9] == b"{"
    again = load(path)
    assert again.config == model.config


# ---- TCN ----------------------------------------------------------------------------------------------------


def test_tcn_is_causal_with_the_stated_receptive_field():
    torch.manual_seed(8)
    model = TCNClassifier(input_size=3, num_classes=4, filters=5, kernel_size=3, dilations=(1, 2, 4), blocks=2).eval()
    assert model.receptive_field == 1 + 2 * 2 * 2 * 7
    assert isinstance(model.tcn[0].skip, torch.nn.Conv1d) and isinstance(model.tcn[1].skip, torch.nn.Identity)
    T, t = 150, 100
    x = torch.randn(1, T, 3)
    y = x.clone()
    y[:, t + 1:] += torch.randn(1, T - t - 1, 3)  # change only the future of frame t
    with torch.no_grad():
        a, b = model(x), model(y)
        assert torch.equal(a[:, : t + 1], b[:, : t + 1])
        assert not torch.allclose(a[:, t + 1], b[:, t + 1])
        # frames older than the receptive field do not matter either
        z = x.clone()
        z[:, : t - model.receptive_field + 1] += 10.0
        c = model(z)
        assert torch.allclose(c[:, t], a[:, t], atol=1e-6)
        # ... and the bound is tight: with positive weights and inputs every ReLU passes, so frame
        # t - receptive_field reaches output t - 1
        for p in model.parameters():
            p.abs_()
        pos, pos_z = x.abs(), z.abs() + 1.0
        pos_z[:, t - model.receptive_field + 1:] = pos[:, t - model.receptive_field + 1:]
        assert torch.equal(model(pos)[:, t], model(pos_z)[:, t])
        assert (model(pos)[:, t - 1] - model(pos_z)[:, t - 1]).abs().min() > 1e-3


# ---- devices and imports ------------------------------------------------------------------------------------


def test_resolve_device():
    from rnnscope._device import DeviceUnavailableError, resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected and resolve_device(None).type == expected
    with pytest.raises(ValueError, match=r"The 'device' parameter of resolve_device must be 'auto'"):
        resolve_device("gpu please")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceUnavailableError, match="CUDA is not available"):
            resolve_device("cuda:0")
    if not torch.backends.mps.is_available():
        with pytest.raises(DeviceUnavailableError, match="MPS is not available"):
            resolve_device("mps")


def test_import_rnnscope_does_not_import_torch():
    code = "import rnnscope, sys; assert 'torch' not in sys.modules; rnnscope.models; assert 'torch' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unit_masks_are_read_the_same_way_everywhere():
    """models' keep, capture's silence and the interventions share one reader."""
    from rnnscope.models._checks import layer_masks

    def read(masks, layers=2, silenced=False):
        out = layer_masks(masks, layers, 4, name="m", func="f", silenced=silenced)
        return [None if m is None else m.tolist() for m in out]

    kept = [True, False, True, True]
    assert read([kept, None]) == [kept, None]
    assert read({1: [0, 3]}) == [None, [True, False, False, True]]
    assert read([[1], None], silenced=True) == [[True, False, True, True], None]
    assert read(kept, layers=1) == [kept]                      # one layer: one entry
    assert read([[0, 2]], layers=1) == [[True, False, True, False]]
    assert read([2], layers=1, silenced=True) == [[True, True, False, True]]
    assert read(torch.tensor(kept), layers=1) == [kept]
    with pytest.raises(ValueError, match=r"layer 0 has shape \(3,\)"):
        read([[True, False, True], None])
    with pytest.raises(ValueError, match=r"names units outside 0..3 \(\[7\]\)"):
        read([[7], None])
    with pytest.raises(ValueError, match=r"has entries for layers \[5\]"):
        read({5: [0]})
    with pytest.raises(ValueError, match="one entry per layer"):
        read([[0.5, 1.0, 0.0, 1.0], None])
    # the same mask through the model and through capture's "silenced" convention silences the same unit
    model = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=2)
    x = torch.randn(1, 5, 3)
    with torch.no_grad():
        by_keep = model.forward_layers(x, keep=[kept])[1][0]["h"]
        by_ids = model.forward_layers(x, keep=[[0, 2, 3]])[1][0]["h"]
    torch.testing.assert_close(by_keep, by_ids)
    assert bool((by_keep[..., 1] == 0).all())

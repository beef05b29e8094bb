"""The recurrent layers: vanilla RNN, LSTM, GRU and lazy LSTM behind the protocol of :mod:`._layers`.

Each layer's ``_step`` (the reference) and ``_internals`` (the vectorised recovery) apply the same pointwise
functions of :mod:`rnnscope.models._equations`; only the pre-activations differ (one frame, or every frame at once).

``forward`` of the standard layers goes through PyTorch's fused single-layer ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``
(held as ``layer.rnn``, so cuDNN is used on a GPU and every weight keeps PyTorch's own name and layout:
``rnn.weight_ih_l0``, ``rnn.weight_hh_l0``, ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0``). The lazy LSTM has no fused
kernel: its input projections for all frames are one matmul, then a plain PyTorch recurrence
(:func:`~rnnscope.models.lazy_lstm_recurrence`). Its weights use the same four names and the LSTM's gate order
``(i, f, g, o)``; see :class:`LazyLSTMLayer`.

The LSTM, GRU and lazy LSTM also have a native C++ kernel for :meth:`~RecurrentLayer.trace` (``_native_weights``
prepares its stacked weights, kept while the parameters do not change; :mod:`rnnscope.models._trace` calls it).
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._equations import (
    gate,
    gru_gates,
    gru_output,
    lazy_lstm_recurrence,
    lstm_cell,
    lstm_cell_scan,
    lstm_gates,
    lstm_output,
    rnn_output,
    squash,
)
from ._layers import RecurrentLayer
from ._trace import stacked_weights

__all__ = ["CELL_KINDS", "RNNLayer", "LSTMLayer", "GRULayer", "LazyLSTMLayer", "make_layer"]

#: The layer kinds :func:`make_layer` and :class:`~rnnscope.models.RNNClassifier` accept.
CELL_KINDS: tuple[str, ...] = ("rnn", "lstm", "gru", "lazy_lstm")


def _addmm_(out: Tensor, cols: slice, h: Tensor, weight: Tensor, bias: Tensor | None = None) -> None:
    """``out[..., cols] += h @ weight.T (+ bias)`` in place, as one matmul over all frames (``out`` contiguous)."""
    flat = out.view(-1, out.shape[-1])[:, cols]
    flat.addmm_(h.reshape(-1, h.shape[-1]), weight.t())
    if bias is not None:
        flat.add_(bias)


class _FusedLayer(RecurrentLayer):
    """A layer whose fast path is one single-layer, batch-first PyTorch RNN module (``self.rnn``)."""

    _torch_class: type[nn.RNN] | type[nn.LSTM] | type[nn.GRU]
    _torch_kwargs: dict[str, Any] = {}

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True):
        super().__init__(input_size, hidden_size, bias=bias)
        self.rnn = self._torch_class(
            self.input_size, self.hidden_size, num_layers=1, bias=self.bias, batch_first=True, **self._torch_kwargs
        )

    def _pack_state(self, state):
        return state[0].unsqueeze(0).contiguous()

    def _unpack_state(self, hn):
        return (hn[0],)

    def _forward(self, x, state, k):
        hx = self._pack_state(state)
        if k is None:
            out, hn = self.rnn(x, hx)
        else:
            # Zero the recurrent columns reading masked units; the fused kernel then sees h = 0 for them.
            masked_w = {"weight_hh_l0": self.rnn.weight_hh_l0 * k}
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*not part of single contiguous chunk.*")
                out, hn = torch.func.functional_call(self.rnn, masked_w, (x, hx))
        return out, self._unpack_state(hn)


class RNNLayer(_FusedLayer):
    """Vanilla (Elman) tanh layer: ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``.

    Fast path: ``nn.RNN(nonlinearity="tanh")``. Variables: ``h`` (its trace is the fused forward: nothing else
    to keep).

    Parameters
    ----------
    input_size : int
        Features per frame of the input.
    hidden_size : int
        Units of the layer.
    bias : bool
        Whether the layer has biases (PyTorch's ``bias_ih`` and ``bias_hh``).

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import RNNLayer
    >>> layer = RNNLayer(3, 4)
    >>> h, (h_last,) = layer(torch.randn(2, 5, 3))
    >>> tuple(h.shape), torch.allclose(h[:, -1], h_last)
    ((2, 5, 4), True)
    """

    kind = "rnn"
    _torch_class = nn.RNN
    _torch_kwargs = {"nonlinearity": "tanh"}

    def _step(self, x_t, state, k):
        (h,) = state
        h = rnn_output(F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh))
        return h, (h,), {}

    def _internals(self, x, h_seq, h_prev, state0, k):
        pre = F.linear(x, self.weight_ih, self.bias_ih)
        if self._inplace_ok(x, h_prev):
            _addmm_(pre, slice(None), h_prev, self.weight_hh, self.bias_hh)
            return {"h": rnn_output(pre, inplace=True)}
        return {"h": rnn_output(pre + F.linear(h_prev, self.weight_hh, self.bias_hh))}


class LSTMLayer(_FusedLayer):
    """LSTM layer (PyTorch's, no peepholes), gate order ``(i, f, g, o)`` in the weight rows.

    ``i, f, o = sigmoid(.)``, ``g = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)``, ``c_t = f c_{t-1} + i g``,
    ``h_t = o tanh(c_t)``. Fast path: ``nn.LSTM``. Variables: ``h, c, input_gate, forget_gate, output_gate,
    cell_input`` (``cell_input`` is ``g``). State: ``(h, c)``.

    No peepholes (Tang et al.'s LSTM has them: its gates read ``c``): PyTorch's fused LSTM and cuDNN have none, so a
    peephole cell would train and capture only as a step loop, several times slower; Greff et al. (2017) found
    that removing them does not significantly hurt accuracy, and Tang's analyses read ``c`` and ``h``, which this
    cell exposes. Part of a difference from Tang's LSTM numbers may still come from them
    (``docs/definitions.md``, "Cells").

    Parameters
    ----------
    input_size : int
        Features per frame of the input.
    hidden_size : int
        Units of the layer.
    bias : bool
        Whether the layer has biases (PyTorch's ``bias_ih`` and ``bias_hh``).

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import LSTMLayer
    >>> layer = LSTMLayer(3, 4)
    >>> x = torch.randn(2, 5, 3)
    >>> h, state = layer(x)
    >>> inside = layer.internals(x, h)
    >>> list(inside), torch.allclose(inside["c"][:, -1], state[1], atol=1e-6)
    (['h', 'c', 'input_gate', 'forget_gate', 'output_gate', 'cell_input'], True)
    """

    kind = "lstm"
    _torch_class = nn.LSTM
    _native_order = ("input_gate", "forget_gate", "cell_input", "output_gate", "c", "h")

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h", "c")

    def _pack_state(self, state):
        return (state[0].unsqueeze(0).contiguous(), state[1].unsqueeze(0).contiguous())

    def _unpack_state(self, hn):
        return (hn[0][0], hn[1][0])

    def _step(self, x_t, state, k):
        h, c = state
        i, f, g, o = lstm_gates(F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh))
        c = lstm_cell(f, c, i * g)
        h = lstm_output(o, c)
        return h, (h, c), {"c": c, "input_gate": i, "forget_gate": f, "output_gate": o, "cell_input": g}

    def _internals(self, x, h_seq, h_prev, state0, k):
        # all gate pre-activations of all frames: one (B*T, I) and one (B*T, H) matmul
        pre = F.linear(x, self.weight_ih, self._bias_sum())
        inplace = self._inplace_ok(x, h_prev, state0[1])
        if inplace:
            _addmm_(pre, slice(None), h_prev, self.weight_hh)
        else:
            pre = pre + F.linear(h_prev, self.weight_hh)
        i, f, g, o = lstm_gates(pre, inplace=inplace)  # in place: views of one buffer
        c = lstm_cell_scan(f, i * g, state0[1])  # the only recurrence left
        h = lstm_output(o, c)
        return {"h": h, "c": c, "input_gate": i, "forget_gate": f, "output_gate": o, "cell_input": g}

    def _native_weights(self, k):
        bias = self._bias_sum() if self.bias else self.weight_ih.new_zeros(4 * self.hidden_size)
        return "lstm_trace", (stacked_weights(self.weight_ih, self._masked_hh(k), bias),)


class GRULayer(_FusedLayer):
    """GRU layer in PyTorch's convention, gate order ``(r, z, n)`` in the weight rows.

    ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``, ``z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h_t = (1 - z) n + z h_{t-1}``.
    Fast path: ``nn.GRU``. Variables: ``h, update_gate (z), reset_gate (r), candidate (n)``.

    In Tang et al.'s notation (cell ``c_t`` = our ``h_t``): their input gate ``i_t`` is ``1 - z``, their forget
    gate ``f_t`` is ``z``, their gate ``o_t`` is ``r`` and their candidate is ``n``. The reset gate sits where
    PyTorch puts it, **after** the recurrent product (``r * (W_hn h)``: ``r_j`` scales the recurrent input of unit
    ``j``'s own candidate); Cho et al. and Tang put it **before** (``U (o * c_{t-1})``: ``o_j`` scales unit ``j``'s
    state as an input to every candidate). The two are different functions, so ``reset_gate`` answers "how much of
    each unit's recurrent input reaches its candidate" (``docs/definitions.md``, "Cells").

    Parameters
    ----------
    input_size : int
        Features per frame of the input.
    hidden_size : int
        Units of the layer.
    bias : bool
        Whether the layer has biases (PyTorch's ``bias_ih`` and ``bias_hh``).

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import GRULayer
    >>> layer = GRULayer(3, 4)
    >>> x = torch.randn(2, 5, 3)
    >>> h, _ = layer(x)
    >>> torch.allclose(layer.internals(x, h)["h"], h, atol=1e-6)
    True
    """

    kind = "gru"
    _torch_class = nn.GRU
    _native_order = ("reset_gate", "update_gate", "candidate", "h")

    def _step(self, x_t, state, k):
        (h_prev,) = state
        r, z, n = gru_gates(F.linear(x_t, self.weight_ih, self.bias_ih), F.linear(h_prev, self.weight_hh, self.bias_hh))
        h = gru_output(z, n, h_prev)
        return h, (h,), {"update_gate": z, "reset_gate": r, "candidate": n}

    def _internals(self, x, h_seq, h_prev, state0, k):
        inplace = self._inplace_ok(x, h_prev)
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        gh = F.linear(h_prev, self.weight_hh, self.bias_hh)
        r, z, n = gru_gates(gi, gh, inplace=inplace)
        h = gru_output(z, n, h_prev, inplace=inplace)
        return {"h": h, "update_gate": z, "reset_gate": r, "candidate": n}

    def _native_weights(self, k):
        H = self.hidden_size
        w_ih, w_hh = self.weight_ih, self._masked_hh(k)
        # columns [r, z | n from x | n from h], so one matmul serves the whole step (the kernel skips the zeros)
        zeros_x, zeros_h = w_ih.new_zeros(H, self.input_size), w_hh.new_zeros(H, H)
        b_hh = self.bias_hh if self.bias else w_ih.new_zeros(3 * H)
        b_ih = self.bias_ih if self.bias else w_ih.new_zeros(3 * H)
        w = stacked_weights(torch.cat([w_ih[: 2 * H], w_ih[2 * H:], zeros_x]),
                            torch.cat([w_hh[: 2 * H], zeros_h, w_hh[2 * H:]]),
                            torch.cat([b_ih[: 2 * H] + b_hh[: 2 * H], b_ih[2 * H:], b_hh[2 * H:]]))
        return "gru_trace", (w,)


class _LazyLSTMWeights(nn.Module):
    """Parameter holder named like a single-layer ``nn.LSTM`` so every layer's state dict looks the same."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool):
        super().__init__()
        self.weight_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        if bias:
            self.bias_ih_l0 = nn.Parameter(torch.empty(4 * hidden_size))
            self.bias_hh_l0 = nn.Parameter(torch.empty(4 * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():  # as nn.LSTM.reset_parameters
            nn.init.uniform_(p, -bound, bound)


class LazyLSTMLayer(RecurrentLayer):
    """Lazy LSTM (Tang et al., Fig. 9(a), our reading): output first from the old cell, cell updated last.

    ``i, f, o = sigmoid(W x_t + U m_{t-1} + b)``; ``m_t = o * tanh(c_{t-1})``;
    ``g = tanh(W_cx x_t + W_cm m_t + b_c)``; ``c_t = f * c_{t-1} + i * g``.

    Weights use ``nn.LSTM``'s names and gate order ``(i, f, g, o)``: ``rnn.weight_ih_l0`` (4H, I) holds
    ``W_i, W_f, W_cx, W_o``; ``rnn.weight_hh_l0`` (4H, H) holds ``U_i, U_f, W_cm, U_o`` where the ``g`` block
    ``W_cm`` reads ``m_t`` (the new output) while ``U_i, U_f, U_o`` read ``m_{t-1}``; biases ``rnn.bias_ih_l0`` and
    ``rnn.bias_hh_l0`` (4H each, summed as in PyTorch). Initialised like ``nn.LSTM`` (uniform ±1/sqrt(H)).

    Variables: ``h`` (= ``m_t``), ``c``, ``input_gate``, ``forget_gate``, ``output_gate``, ``cell_input`` (= ``g``).
    State: ``(m, c)``. The fast path precomputes the input projections of all frames in one matmul and runs
    :func:`~rnnscope.models.lazy_lstm_recurrence` (two small matmuls per step).

    Parameters
    ----------
    input_size : int
        Features per frame of the input.
    hidden_size : int
        Units of the layer.
    bias : bool
        Whether the layer has biases (PyTorch's ``bias_ih`` and ``bias_hh``).

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import LazyLSTMLayer
    >>> layer = LazyLSTMLayer(3, 4)
    >>> x = torch.randn(2, 5, 3)
    >>> h, (m, c) = layer(x)
    >>> bool((h[:, 0] == 0).all())  # m_1 = o * tanh(c_0) = 0 from a zero cell
    True
    """

    kind = "lazy_lstm"
    _native_order = ("input_gate", "forget_gate", "cell_input", "output_gate", "c", "h")

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True):
        super().__init__(input_size, hidden_size, bias=bias)
        self.rnn = _LazyLSTMWeights(self.input_size, self.hidden_size, self.bias)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h", "c")

    def _split(self, k: Tensor | None):
        """Recurrent weight blocks ``U_ifo`` (3H, H) and ``W_cm`` (H, H), masked columns zeroed."""
        H = self.hidden_size
        w = self._masked_hh(k)
        return torch.cat([w[: 2 * H], w[3 * H:]], dim=0), w[2 * H: 3 * H]

    def _forward(self, x, state, k):
        H = self.hidden_size
        proj = F.linear(x, self.weight_ih, self._bias_sum()).transpose(0, 1).contiguous()  # (T, B, 4H), biases in
        x_ifo = torch.cat([proj[..., : 2 * H], proj[..., 3 * H:]], dim=-1)
        u_ifo, w_cm = self._split(k)
        m, c_last = lazy_lstm_recurrence(x_ifo, proj[..., 2 * H: 3 * H], u_ifo.t(), w_cm.t(), state[0].contiguous(),
                                         state[1].contiguous())
        return m, (m[:, -1], c_last)

    def _step(self, x_t, state, k):
        H = self.hidden_size
        m_prev, c_prev = state
        u_ifo, w_cm = self._split(None)
        pre = F.linear(x_t, self.weight_ih, self._bias_sum())  # (B, 4H): every gate's input part, both biases
        i, f, o = gate(torch.cat([pre[:, : 2 * H], pre[:, 3 * H:]], 1) + F.linear(m_prev, u_ifo)).chunk(3, 1)
        m = lstm_output(o, c_prev)  # the output first, from the old cell
        if k is not None:
            m = m * k  # a masked unit's m_t is 0 before the candidate reads it
        g = squash(pre[:, 2 * H: 3 * H] + F.linear(m, w_cm))  # the candidate reads the new m_t
        c = lstm_cell(f, c_prev, i * g)  # the cell last
        return m, (m, c), {"c": c, "input_gate": i, "forget_gate": f, "output_gate": o, "cell_input": g}

    def _internals(self, x, h_seq, h_prev, state0, k):
        H = self.hidden_size
        U = self.weight_hh
        pre = F.linear(x, self.weight_ih, self._bias_sum())  # (B, T, 4H), both biases
        inplace = self._inplace_ok(x, h_seq, h_prev, state0[1])
        if inplace:
            _addmm_(pre, slice(0, 2 * H), h_prev, U[: 2 * H])  # i, f read m_{t-1}
            _addmm_(pre, slice(3 * H, 4 * H), h_prev, U[3 * H:])  # o reads m_{t-1}
            _addmm_(pre, slice(2 * H, 3 * H), h_seq, U[2 * H: 3 * H])  # the candidate reads m_t
        else:
            rec = torch.cat([F.linear(h_prev, U[: 2 * H]), F.linear(h_seq, U[2 * H: 3 * H]),
                             F.linear(h_prev, U[3 * H:])], dim=-1)
            pre = pre + rec
        i, f, g, o = lstm_gates(pre, inplace=inplace)
        c = lstm_cell_scan(f, i * g, state0[1])
        c_prev = torch.cat([state0[1].unsqueeze(1), c[:, :-1]], dim=1)
        h = lstm_output(o, c_prev)
        return {"h": h, "c": c, "input_gate": i, "forget_gate": f, "output_gate": o, "cell_input": g}

    def _native_weights(self, k):
        H = self.hidden_size
        # first matmul: x and m_{t-1} (g block of m zeroed); second: W_cm reading m_t
        u = self._masked_hh(k)
        u_gates = torch.cat([u[: 2 * H], torch.zeros_like(u[:H]), u[3 * H:]], dim=0)
        bias = self._bias_sum() if self.bias else self.weight_ih.new_zeros(4 * H)
        w = stacked_weights(self.weight_ih, u_gates, bias)
        return "lazy_lstm_trace", (w, u[2 * H: 3 * H].t().contiguous())


_LAYERS: dict[str, type[RecurrentLayer]] = {
    "rnn": RNNLayer,
    "lstm": LSTMLayer,
    "gru": GRULayer,
    "lazy_lstm": LazyLSTMLayer,
}


def make_layer(cell: str, *, input_size: int, hidden_size: int, bias: bool = True) -> RecurrentLayer:
    """Build a layer of the given kind (one of :data:`CELL_KINDS`).

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru", "lazy_lstm"}
        The kind of cell.
    input_size : int
        Features per frame of the input.
    hidden_size : int
        Units of the layer.
    bias : bool
        Whether the layer has biases.

    Returns
    -------
    RecurrentLayer
        A new layer (:class:`RNNLayer`, :class:`LSTMLayer`, :class:`GRULayer` or :class:`LazyLSTMLayer`),
        initialised as PyTorch initialises its own.

    Raises
    ------
    ValueError
        When ``cell`` is not one of :data:`CELL_KINDS`.

    Examples
    --------
    >>> from rnnscope.models import make_layer
    >>> layer = make_layer("gru", input_size=3, hidden_size=4)
    >>> layer.kind, layer.variables
    ('gru', ('h', 'update_gate', 'reset_gate', 'candidate'))
    """
    if cell not in _LAYERS:
        raise ValueError(f"The 'cell' parameter of make_layer must be one of {list(CELL_KINDS)}. Got {cell!r} instead.")
    return _LAYERS[cell](input_size, hidden_size, bias=bias)

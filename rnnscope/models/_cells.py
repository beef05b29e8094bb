"""Recurrent layers behind one protocol.

Every layer type (``"rnn"`` vanilla tanh, ``"lstm"``, ``"gru"``, ``"lazy_lstm"``) is an :class:`torch.nn.Module`
with the same interface, so capture, unit masks, ``from_torch`` and the equivalence tests are written once:

========================================================  ==========================================================
``kind``, ``input_size``, ``hidden_size``, ``bias``        what the layer is
``variables``                                             ``schema.STATE_VARIABLES[kind]``: the internal variables
``state_names``                                           ``("h",)`` or ``("h", "c")``: what a state tuple holds
``initial_state(batch_size, device=None, dtype=None)``    zeros, a tuple of ``(batch, hidden)`` tensors
``forward(x, state=None, keep=None)``                     fast path -> ``(h_seq (B, T, H), final_state)``
``step(x_t, state=None, keep=None)``                      one step in plain tensor ops -> ``(h_t, state, internals)``
``internals(x, h_seq, state0=None, keep=None)``           every variable for the whole sequence, ``(B, T, H)`` each
``masked(keep)``                                          a copy whose units outside ``keep`` are silenced
========================================================  ==========================================================

Shapes are batch first: ``x`` is ``(batch, time, input_size)``, ``x_t`` is ``(batch, input_size)``, every state
tensor and every per-step internal is ``(batch, hidden_size)``.

``forward`` of the standard layers goes through PyTorch's fused single-layer ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``
(held as ``layer.rnn``, so cuDNN is used on a GPU and every weight keeps PyTorch's own name and layout:
``rnn.weight_ih_l0``, ``rnn.weight_hh_l0``, ``rnn.bias_ih_l0``, ``rnn.bias_hh_l0``). The lazy LSTM has no fused
kernel: its input projections for all frames are one matmul, then a tight recurrence
(:func:`lazy_lstm_recurrence`, TorchScript-compiled when available). Its weights use the same four names and the
LSTM's gate order ``(i, f, g, o)``; see :class:`LazyLSTMLayer`.

``step`` is written independently of the fused path; it is the reference of the tests. ``internals`` recovers every
variable exactly from the input and the fused output ``h_seq``: all gate pre-activations come from ``x`` and
``h_{t-1} = cat(h0, h_seq[:, :-1])`` in one vectorised pass; the LSTM cell state is the only recurrence left
(:func:`lstm_cell_scan`, an elementwise linear scan); the GRU and the vanilla RNN need no scan at all.

Unit masks (``keep``, a bool tensor of shape ``(hidden_size,)``, True = keep): a masked unit's output ``h`` is 0 at
every step *inside* the recurrence (including the initial state), so it feeds nothing to the next step. The fast
path implements this by zeroing the recurrent weight columns that read masked units (for the lazy LSTM, every
weight reading ``m_t``: the gates' ``m_{t-1}`` and the candidate's ``m_t``) so the fused kernels stay usable, and
then zeroing the masked units of ``h_seq`` and of the final ``h``. Other state (the LSTM cell ``c``, the gates) of a
masked unit keeps evolving and is reported as computed. ``layer.masked(keep)`` returns a copy that applies a mask
on every call (the weights themselves are never modified); a ``keep`` argument is combined with it (logical and).
"""
from __future__ import annotations

import copy
import math
import warnings
from typing import Any, List, NamedTuple, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..schema import STATE_VARIABLES
from ._checks import check_int, check_keep, check_sequence, as_float_tensor

__all__ = [
    "CELL_KINDS",
    "RecurrentLayer",
    "RNNLayer",
    "LSTMLayer",
    "GRULayer",
    "LazyLSTMLayer",
    "make_layer",
    "lstm_cell_scan",
    "lazy_lstm_recurrence",
    "lstm_trace",
    "gru_trace",
    "lazy_lstm_trace",
    "set_torchscript",
]

#: The layer kinds :func:`make_layer` and :class:`~rnnscope.models.RNNClassifier` accept.
CELL_KINDS: tuple[str, ...] = ("rnn", "lstm", "gru", "lazy_lstm")

State = Tuple[Tensor, ...]


# --------------------------------------------------------------------------------------------------------------
# The two recurrences left once everything else is vectorised. Plain PyTorch, TorchScript-compatible (so they
# can be compiled), and autograd-friendly (``unbind``/``stack`` instead of per-step indexing, which would make
# the backward pass quadratic in the number of frames).
# --------------------------------------------------------------------------------------------------------------


def lstm_cell_scan(forget: Tensor, update: Tensor, c0: Tensor) -> Tensor:
    """Run the LSTM cell recurrence ``c_t = forget_t * c_{t-1} + update_t`` over a whole sequence.

    This is the only sequential part of recovering an LSTM's internals from its output (``update = i * g``).

    Parameters
    ----------
    forget, update : Tensor
        ``(batch, time, hidden)``, batch first.
    c0 : Tensor
        ``(batch, hidden)``, the cell before the first frame.

    Returns
    -------
    Tensor
        ``c`` for every frame, ``(batch, time, hidden)``.

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import lstm_cell_scan
    >>> f = torch.full((1, 3, 1), 0.5); u = torch.ones(1, 3, 1)
    >>> lstm_cell_scan(f, u, torch.zeros(1, 1)).flatten().tolist()
    [1.0, 1.5, 1.75]
    """
    fs = forget.unbind(1)
    us = update.unbind(1)
    cs: List[Tensor] = []
    c = c0
    for t in range(len(fs)):
        c = torch.addcmul(us[t], fs[t], c)
        cs.append(c)
    return torch.stack(cs, 1)


def lazy_lstm_recurrence(
    x_ifo: Tensor, x_g: Tensor, u_ifo_t: Tensor, w_cm_t: Tensor, m0: Tensor, c0: Tensor
) -> Tuple[Tensor, Tensor]:
    """The lazy LSTM's recurrence, given the input projections of every frame.

    For each frame: ``(i, f, o) = sigmoid(x_ifo[t] + m_{t-1} @ u_ifo_t)``; ``m_t = o * tanh(c_{t-1})``;
    ``c_t = f * c_{t-1} + i * tanh(x_g[t] + m_t @ w_cm_t)``.

    Parameters
    ----------
    x_ifo : Tensor
        ``(time, batch, 3 * hidden)``, time major: input projections (with all biases) of the i, f, o gates.
    x_g : Tensor
        ``(time, batch, hidden)``, time major: input projection (with its biases) of the candidate.
    u_ifo_t : Tensor
        ``(hidden, 3 * hidden)``: transposed recurrent weights of i, f, o (they read ``m_{t-1}``).
    w_cm_t : Tensor
        ``(hidden, hidden)``: transposed weights of the candidate reading ``m_t``.
    m0, c0 : Tensor
        ``(batch, hidden)``, the initial state.

    Returns
    -------
    m : Tensor
        ``(batch, time, hidden)``, batch first.
    c_last : Tensor
        ``(batch, hidden)``, the cell after the last frame.
    """
    xs = x_ifo.unbind(0)
    xg = x_g.unbind(0)
    ms: List[Tensor] = []
    m = m0
    c = c0
    for t in range(len(xs)):
        gates = torch.sigmoid(torch.addmm(xs[t], m, u_ifo_t))
        i, f, o = gates.chunk(3, 1)
        m = o * torch.tanh(c)
        g = torch.tanh(torch.addmm(xg[t], m, w_cm_t))
        c = torch.addcmul(f * c, i, g)
        ms.append(m)
    return torch.stack(ms, 1), c


def lstm_trace(xp: Tensor, w_hh_t: Tensor, h0: Tensor, c0: Tensor, keep: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    """Run an LSTM over a sequence keeping every internal variable, one step at a time into preallocated buffers.

    Parameters
    ----------
    xp : Tensor
        ``(time, batch, 4 * hidden)``, time major: input projections with both biases, gate order (i, f, g, o).
    w_hh_t : Tensor
        ``(hidden, 4 * hidden)``: transposed recurrent weights (masked rows already zeroed).
    h0, c0 : Tensor
        ``(batch, hidden)``; ``h0`` already masked.
    keep : Tensor or None
        ``(hidden,)`` 0/1 factor applied to ``h`` at every step.

    Returns
    -------
    gates : Tensor
        ``(time, batch, 4 * hidden)`` activated (i, f, g, o).
    c, h : Tensor
        ``(time, batch, hidden)`` each.
    """
    n_t = xp.shape[0]
    hidden = h0.shape[1]
    gates = torch.empty_like(xp)
    cs = torch.empty(n_t, h0.shape[0], hidden, dtype=xp.dtype, device=xp.device)
    hs = torch.empty_like(cs)
    h = h0
    c = c0
    for t in range(n_t):
        g = gates[t]
        torch.addmm(xp[t], h, w_hh_t, out=g)
        g[:, : 2 * hidden].sigmoid_()
        g[:, 2 * hidden : 3 * hidden].tanh_()
        g[:, 3 * hidden :].sigmoid_()
        c_new = cs[t]
        torch.mul(g[:, hidden : 2 * hidden], c, out=c_new)
        c_new.addcmul_(g[:, :hidden], g[:, 2 * hidden : 3 * hidden])
        h_new = hs[t]
        torch.tanh(c_new, out=h_new)
        h_new.mul_(g[:, 3 * hidden :])
        if keep is not None:
            h_new.mul_(keep)
        h = h_new
        c = c_new
    return gates, cs, hs


def gru_trace(xp: Tensor, w_hh_t: Tensor, b_hh: Tensor, h0: Tensor, keep: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """Run a GRU over a sequence keeping every internal variable, one step at a time into preallocated buffers.

    ``xp`` is ``(time, batch, 3 * hidden)``, the input projections with ``b_ih`` (gate order r, z, n); ``w_hh_t``
    ``(hidden, 3 * hidden)``; ``b_hh`` ``(3 * hidden,)``. Returns the activated gates ``(time, batch, 3 * hidden)``
    (r, z, n) and ``h`` ``(time, batch, hidden)``.
    """
    n_t = xp.shape[0]
    hidden = h0.shape[1]
    gates = torch.empty_like(xp)
    hs = torch.empty(n_t, h0.shape[0], hidden, dtype=xp.dtype, device=xp.device)
    h = h0
    for t in range(n_t):
        gh = torch.addmm(b_hh, h, w_hh_t)
        g = gates[t]
        rz = g[:, : 2 * hidden]
        torch.add(xp[t, :, : 2 * hidden], gh[:, : 2 * hidden], out=rz)
        rz.sigmoid_()
        n = g[:, 2 * hidden :]
        torch.addcmul(xp[t, :, 2 * hidden :], g[:, :hidden], gh[:, 2 * hidden :], out=n)
        n.tanh_()
        h_new = hs[t]
        torch.sub(h, n, out=h_new)
        h_new.mul_(g[:, hidden : 2 * hidden]).add_(n)
        if keep is not None:
            h_new.mul_(keep)
        h = h_new
    return gates, hs


def lazy_lstm_trace(
    x_ifo: Tensor, x_g: Tensor, u_ifo_t: Tensor, w_cm_t: Tensor, m0: Tensor, c0: Tensor, keep: Optional[Tensor]
) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`lazy_lstm_recurrence` keeping every variable: returns ``ifo`` ``(time, batch, 3 * hidden)``
    (activated i, f, o), ``g``, ``c`` and ``m`` ``(time, batch, hidden)`` each; ``keep`` masks ``m`` at every step."""
    n_t = x_ifo.shape[0]
    hidden = m0.shape[1]
    ifo = torch.empty_like(x_ifo)
    gs = torch.empty_like(x_g)
    cs = torch.empty_like(x_g)
    ms = torch.empty_like(x_g)
    m = m0
    c = c0
    for t in range(n_t):
        a = ifo[t]
        torch.addmm(x_ifo[t], m, u_ifo_t, out=a)
        a.sigmoid_()
        m_new = ms[t]
        torch.tanh(c, out=m_new)
        m_new.mul_(a[:, 2 * hidden :])
        if keep is not None:
            m_new.mul_(keep)
        g = gs[t]
        torch.addmm(x_g[t], m_new, w_cm_t, out=g)
        g.tanh_()
        c_new = cs[t]
        torch.mul(a[:, hidden : 2 * hidden], c, out=c_new)
        c_new.addcmul_(a[:, :hidden], g)
        m = m_new
        c = c_new
    return ifo, gs, cs, ms


def _addmm_(out: Tensor, cols: slice, h: Tensor, weight: Tensor, bias: Tensor | None = None) -> None:
    """``out[..., cols] += h @ weight.T (+ bias)`` in place, as one matmul over all frames (``out`` contiguous)."""
    flat = out.view(-1, out.shape[-1])[:, cols]
    flat.addmm_(h.reshape(-1, h.shape[-1]), weight.t())
    if bias is not None:
        flat.add_(bias)


_USE_TORCHSCRIPT = True
_SCRIPTED: dict[Any, Any] = {}


def set_torchscript(enabled: bool) -> bool:
    """Use (or stop using) TorchScript-compiled recurrences; returns the previous setting.

    TorchScript is deprecated in recent PyTorch but still the cheapest way to compile a Python loop without a
    C++ toolchain. When scripting fails, the plain Python functions are used silently; results are the same to
    float rounding.
    """
    global _USE_TORCHSCRIPT
    previous, _USE_TORCHSCRIPT = _USE_TORCHSCRIPT, bool(enabled)
    return previous


def _compiled(fn, *tensors: Tensor):
    """The TorchScript version of ``fn`` when scripting is on and no autograd graph is being recorded.

    TorchScript's autodiff is fragile (its optimised differentiable graphs fail on undefined output gradients,
    e.g. when only ``h_seq`` of the lazy LSTM is used in a loss), so anything needing gradients runs the plain
    Python function.
    """
    if not _USE_TORCHSCRIPT or (torch.is_grad_enabled() and any(t.requires_grad for t in tensors)):
        return fn
    if fn not in _SCRIPTED:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _SCRIPTED[fn] = torch.jit.script(fn)
        except Exception:  # TorchScript missing or unable to compile: fall back to Python
            _SCRIPTED[fn] = fn
    return _SCRIPTED[fn]


def _native_ops(x: Tensor, *weights: Tensor):
    """The native kernels (:mod:`rnnscope.models._native`) when they apply: CPU float32, no autograd; else None."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or any(w.dtype != torch.float32 for w in weights):
        return None
    if torch.is_grad_enabled() and (x.requires_grad or any(w.requires_grad for w in weights)):
        return None
    from ._native import kernels

    return kernels()


def _stacked(w_x: Tensor, w_h: Tensor, bias: Tensor) -> Tensor:
    """``(I + H + 1, G)`` weights of a native kernel's one matmul per step, ``[x_t | h_{t-1} | 1] @ w``:
    input weights, recurrent weights and the bias stacked (contiguous: the matmul's fastest layout)."""
    return torch.cat([w_x, w_h, bias[:, None]], dim=1).t().contiguous()


def _factor(k: Tensor | None) -> Tensor | None:
    return None if k is None else k.contiguous()


class TraceTarget(NamedTuple):
    """Where :meth:`RecurrentLayer.trace_into` writes one window of one batch: a run's own arrays.

    ``arrays``: variable -> float32 contiguous CPU tensor ``(event, time, unit, layer)`` (e.g. ``torch.from_numpy``
    of capture's in-memory arrays); ``rows``: the event of each batch row (int64, any order); ``t0``: the window's
    first frame; ``layer``: the layer's index; ``n_valid``: valid frames of each row in the window (int64), the
    frames the value ranges are taken over. Frames past ``n_valid`` are written too (the caller pads them).
    """

    arrays: dict
    rows: Tensor
    t0: int
    layer: int
    n_valid: Tensor


def _native_layout(names, x: Tensor, hidden: int, target: TraceTarget | None):
    """Output arguments of a native kernel: per variable the destination (or None), row offsets and strides."""
    batch, n_time = x.shape[0], x.shape[1]
    if target is None:  # a (batch, time, hidden) buffer per variable; numpy asks for huge pages (fewer page faults)
        buffers = {name: torch.from_numpy(np.empty((batch, n_time, hidden), dtype=np.float32)) for name in names[:-1]}
        offsets = torch.arange(batch, dtype=torch.int64) * (n_time * hidden)
        n_valid = torch.full((batch,), n_time, dtype=torch.int64)
        return [buffers[name] for name in names[:-1]] + [None], offsets, hidden, 1, n_valid, buffers
    some = next(iter(target.arrays.values()))
    _, total_time, units, n_layers = some.shape
    offsets = ((target.rows.to(torch.int64) * total_time + target.t0) * units * n_layers + target.layer).contiguous()
    outputs = [target.arrays.get(name) for name in names]
    return outputs, offsets, units * n_layers, n_layers, target.n_valid.to(torch.int64).contiguous(), None


def _run_native(ops, kernel: str, args, names, x: Tensor, hidden: int, target: TraceTarget | None, with_c: bool):
    """Call ``ops.<kernel>(*args, outputs...)``; returns (variables or None, h_seq, final state, value ranges or
    None)."""
    outputs, offsets, time_stride, unit_stride, n_valid, buffers = _native_layout(names, x, hidden, target)
    batch = x.shape[0]
    h_seq = torch.from_numpy(np.empty((batch, x.shape[1], hidden), dtype=np.float32))  # numpy: huge pages
    h_last = torch.empty(batch, hidden)
    c_last = torch.empty(batch, hidden) if with_c else None
    blocks = -(-batch // ops.rows_per_block())  # the kernel's value ranges: one row per block of records
    ranges = torch.empty(blocks, len(names), 2)
    getattr(ops, kernel)(*args, outputs, offsets, time_stride, unit_stride, h_seq, h_last, c_last, n_valid, ranges)
    final = (h_last, c_last) if with_c else (h_last,)
    if buffers is not None:
        return {**buffers, names[-1]: h_seq}, h_seq, final, None
    low, high = ranges[..., 0].amin(0), ranges[..., 1].amax(0)
    kept = {name: (float(low[j]), float(high[j])) if bool(torch.isfinite(low[j])) else None
            for j, name in enumerate(names) if name in target.arrays}
    return None, h_seq, final, kept


def valid_range(values: Tensor, n_valid) -> tuple[float, float] | None:
    """(min, max) of ``values`` (rows, time, ...) over the first ``n_valid[r]`` frames of each row; None when
    there are none. ``n_valid`` is non-increasing (rows sorted by length), so the fully valid rows are one block."""
    n_valid = [int(v) for v in n_valid]
    full = sum(v == values.shape[1] for v in n_valid)
    parts = ([values[:full]] if full else []) + [values[r, :v] for r, v in enumerate(n_valid) if r >= full and v > 0]
    if not parts:
        return None
    ranges = [torch.aminmax(part) for part in parts]
    return min(float(low) for low, _ in ranges), max(float(high) for _, high in ranges)


# --------------------------------------------------------------------------------------------------------------
# The protocol
# --------------------------------------------------------------------------------------------------------------


class RecurrentLayer(nn.Module):
    """Base class of the layers: argument checks, states and unit masks; subclasses give the equations.

    Subclasses set ``kind`` and implement ``_forward(x, state, k)``, ``_step(x_t, state, k)`` and
    ``_internals(x, h_seq, h_prev, state0, k)`` where ``k`` is the unit mask as a 0/1 float tensor (or None),
    ``state`` has the masked units of ``h`` already set to 0, and ``h_seq``/``h_prev`` are masked.
    """

    kind: str = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        func = type(self).__name__
        self.input_size = check_int(input_size, name="input_size", func=func)
        self.hidden_size = check_int(hidden_size, name="hidden_size", func=func)
        self.bias = bool(bias)
        self.register_buffer("unit_keep", None, persistent=False)

    # ---- description ------------------------------------------------------------------------------------
    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the internal variables, in capture order (``schema.STATE_VARIABLES[kind]``)."""
        return STATE_VARIABLES[self.kind]

    @property
    def state_names(self) -> tuple[str, ...]:
        """What a state tuple holds: ``("h",)`` or ``("h", "c")``."""
        return ("h",)

    @property
    def weight_ih(self) -> Tensor:
        """Input weights in PyTorch's layout (gates stacked along the rows)."""
        return self.rnn.weight_ih_l0

    @property
    def weight_hh(self) -> Tensor:
        """Recurrent weights in PyTorch's layout (gates stacked along the rows; column j reads unit j)."""
        return self.rnn.weight_hh_l0

    @property
    def bias_ih(self) -> Tensor | None:
        return self.rnn.bias_ih_l0 if self.bias else None

    @property
    def bias_hh(self) -> Tensor | None:
        return self.rnn.bias_hh_l0 if self.bias else None

    def extra_repr(self) -> str:
        masked = "" if self.unit_keep is None else f", masked={int((~self.unit_keep).sum())}"
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False") + masked

    # ---- states ---------------------------------------------------------------------------------------
    def initial_state(self, batch_size: int, device=None, dtype=None) -> State:
        """Zero state: a tuple of ``(batch_size, hidden_size)`` tensors, one per name in ``state_names``.

        ``device`` and ``dtype`` default to the layer's parameters'.
        """
        batch_size = check_int(batch_size, name="batch_size", func=f"{type(self).__name__}.initial_state")
        ref = self.weight_ih
        return tuple(
            torch.zeros(batch_size, self.hidden_size, device=device or ref.device, dtype=dtype or ref.dtype)
            for _ in self.state_names
        )

    def _check_state(self, state, batch_size: int, func: str) -> State:
        if state is None:
            return self.initial_state(batch_size)
        if isinstance(state, Tensor):
            state = (state,)
        n = len(self.state_names)
        if not isinstance(state, (tuple, list)) or len(state) != n:
            raise ValueError(
                f"The 'state' parameter of {func} must be a tuple of {n} tensor(s) {self.state_names}, each of "
                f"shape ({batch_size}, {self.hidden_size}). Got {type(state).__name__} instead."
            )
        out = []
        for name, s in zip(self.state_names, state):
            s = as_float_tensor(s, like=self.weight_ih, name="state", func=func)
            if tuple(s.shape) != (batch_size, self.hidden_size):
                raise ValueError(
                    f"The 'state' parameter of {func} must hold {name!r} of shape ({batch_size}, "
                    f"{self.hidden_size}) (batch, hidden). Got shape {tuple(s.shape)} instead."
                )
            out.append(s)
        return tuple(out)

    # ---- unit masks -------------------------------------------------------------------------------------
    def masked(self, keep) -> "RecurrentLayer":
        """Return a copy of this layer that silences the units where ``keep`` is False on every call.

        Parameters
        ----------
        keep : bool tensor or array of shape (hidden_size,)
            True for the units to keep. Combined (logical and) with a mask this layer already has.

        Returns
        -------
        RecurrentLayer
            A deep copy; the weights are not modified (the mask is applied on the fly).
        """
        func = f"{type(self).__name__}.masked"
        mask = check_keep(keep, self.hidden_size, like=self.weight_ih, func=func)
        out = copy.deepcopy(self)
        if mask is not None:
            out.unit_keep = mask if self.unit_keep is None else (mask & self.unit_keep)
        return out

    def keep_mask(self, keep=None) -> Tensor | None:
        """The effective unit mask (bool, ``(hidden_size,)``) for a call with ``keep``, or None when unmasked."""
        mask = check_keep(keep, self.hidden_size, like=self.weight_ih, func=f"{type(self).__name__}.forward")
        if self.unit_keep is None:
            return mask
        return self.unit_keep if mask is None else (mask & self.unit_keep)

    def _masked_state(self, state, batch_size: int, keep, func: str) -> tuple[State, Tensor | None]:
        """The checked state with masked units' ``h`` set to 0, and the 0/1 keep factor (None when unmasked)."""
        state = self._check_state(state, batch_size, func)
        k = self._keep_factor(keep)
        if k is not None:
            state = (state[0] * k,) + tuple(state[1:])
        return state, k

    def _keep_factor(self, keep) -> Tensor | None:
        mask = self.keep_mask(keep)
        return None if mask is None else mask.to(self.weight_ih.dtype)

    # ---- the protocol ---------------------------------------------------------------------------------
    def forward(self, x: Tensor, state: State | None = None, keep=None) -> tuple[Tensor, State]:
        """Run the layer over a whole sequence (fast path).

        Parameters
        ----------
        x : Tensor
            ``(batch, time, input_size)``.
        state : tuple of Tensor, optional
            Initial state, each ``(batch, hidden_size)`` (see ``state_names``); zeros when None.
        keep : bool tensor of shape (hidden_size,), optional
            Unit mask (True = keep); see the module documentation.

        Returns
        -------
        h_seq : Tensor
            ``(batch, time, hidden_size)``, the unit outputs (LSTM ``m_t``, GRU ``h_t``).
        final_state : tuple of Tensor
            The state after the last frame, same layout as ``state``.
        """
        func = f"{type(self).__name__}.forward"
        x = check_sequence(x, self.input_size, like=self.weight_ih, func=func)
        state = self._check_state(state, x.shape[0], func)
        k = self._keep_factor(keep)
        h_seq, final = self._forward(x, state, k)
        if k is not None:
            h_seq = h_seq * k
            final = (final[0] * k,) + tuple(final[1:])
        return h_seq, final

    def step(self, x_t: Tensor, state: State | None = None, keep=None) -> tuple[Tensor, State, dict[str, Tensor]]:
        """One time step in plain tensor operations (the reference implementation).

        Parameters
        ----------
        x_t : Tensor
            ``(batch, input_size)``.
        state : tuple of Tensor, optional
            Each ``(batch, hidden_size)``; zeros when None.
        keep : bool tensor of shape (hidden_size,), optional
            Unit mask: masked units' ``h`` is treated as 0 in ``state`` and set to 0 in the output.

        Returns
        -------
        h_t : Tensor
            ``(batch, hidden_size)``.
        new_state : tuple of Tensor
        internals : dict
            Every name of ``variables`` -> ``(batch, hidden_size)``.
        """
        func = f"{type(self).__name__}.step"
        x_t = as_float_tensor(x_t, like=self.weight_ih, name="x_t", func=func)
        if x_t.dim() != 2 or x_t.shape[1] != self.input_size:
            raise ValueError(
                f"The 'x_t' parameter of {func} must have shape (batch, {self.input_size}). "
                f"Got shape {tuple(x_t.shape)} instead."
            )
        state, k = self._masked_state(state, x_t.shape[0], keep, func)
        h, new_state, inter = self._step(x_t, state, k)
        if k is not None:
            h = h * k
            new_state = (h,) + tuple(new_state[1:])
        inter["h"] = h
        return h, new_state, {name: inter[name] for name in self.variables}

    def internals(self, x: Tensor, h_seq: Tensor, state0: State | None = None, keep=None) -> dict[str, Tensor]:
        """Recover every internal variable for the whole sequence from the input and the output.

        Exact (same equations as :meth:`step`, to float rounding) and vectorised over time: the only
        recurrence left is the LSTM cell scan.

        Parameters
        ----------
        x : Tensor
            ``(batch, time, input_size)``, what the layer received.
        h_seq : Tensor
            ``(batch, time, hidden_size)``, what :meth:`forward` returned for ``x`` and ``state0``.
        state0 : tuple of Tensor, optional
            The initial state given to :meth:`forward`; zeros when None.
        keep : bool tensor of shape (hidden_size,), optional
            The unit mask given to :meth:`forward`.

        Returns
        -------
        dict
            Every name of ``variables`` -> ``(batch, time, hidden_size)``, in that order. ``"h"`` is recomputed
            from the recovered variables (it equals ``h_seq``). When no autograd graph is recorded (run capture
            under ``torch.no_grad()`` or ``torch.inference_mode()``), big buffers are reused in place and the gates
            may be non-contiguous views of one buffer; otherwise the result is differentiable.
        """
        func = f"{type(self).__name__}.internals"
        x = check_sequence(x, self.input_size, like=self.weight_ih, func=func)
        h_seq = as_float_tensor(h_seq, like=self.weight_ih, name="h_seq", func=func)
        expected = (x.shape[0], x.shape[1], self.hidden_size)
        if tuple(h_seq.shape) != expected:
            raise ValueError(
                f"The 'h_seq' parameter of {func} must have shape {expected} (batch, time, hidden) to match 'x'. "
                f"Got shape {tuple(h_seq.shape)} instead."
            )
        state0, k = self._masked_state(state0, x.shape[0], keep, func)
        if k is not None:
            h_seq = h_seq * k
        h_prev = torch.cat([state0[0].unsqueeze(1), h_seq[:, :-1]], dim=1)
        out = self._internals(x, h_seq, h_prev, state0, k)
        if k is not None:
            out["h"] = out["h"] * k
        return {name: out[name] for name in self.variables}

    def trace(self, x: Tensor, state: State | None = None, keep=None) -> tuple[dict[str, Tensor], State]:
        """Run the layer over a sequence and return every internal variable in one pass (what capture uses).

        On the CPU without autograd, a compiled step loop writes every variable into buffers while it runs: the
        native C++ kernels of :mod:`rnnscope.models._native` for float32 (about 1.2x the fused forward), else a
        TorchScript loop; on a GPU, the fused forward followed by the vectorised :meth:`internals` (a Python step
        loop would pay a kernel launch per step). All agree with :meth:`step` and with :meth:`forward`'s ``h`` to
        float rounding (1e-6).

        Parameters
        ----------
        x, state, keep
            As for :meth:`forward`.

        Returns
        -------
        variables : dict
            Every name of ``variables`` -> ``(batch, time, hidden_size)`` (possibly non-contiguous views).
        final_state : tuple of Tensor

        Examples
        --------
        >>> import torch
        >>> from rnnscope.models import LSTMLayer
        >>> layer = LSTMLayer(3, 4)
        >>> x = torch.randn(2, 5, 3)
        >>> with torch.no_grad():
        ...     inside, _ = layer.trace(x)
        ...     h, _ = layer(x)
        >>> list(inside) == list(layer.variables), torch.allclose(inside["h"], h, atol=1e-6)
        (True, True)
        """
        func = f"{type(self).__name__}.trace"
        x = check_sequence(x, self.input_size, like=self.weight_ih, func=func)
        state, k = self._masked_state(state, x.shape[0], keep, func)
        if x.device.type == "cpu" and not torch.is_grad_enabled():
            out, final = self._trace(x, state, k)
            return {name: out[name] for name in self.variables}, final
        h_seq, final = self.forward(x, state, keep=keep)
        return self.internals(x, h_seq, state, keep=keep), final

    def trace_into(self, x: Tensor, state: State | None, keep, target: TraceTarget):
        """:meth:`trace`, writing every variable straight into a run's arrays (what capture uses in memory).

        Returns ``(h_seq, final_state, ranges)``: ``h_seq`` ``(batch, time, hidden)`` (the next layer's input),
        and ``ranges`` variable -> ``(min, max)`` over the valid frames of ``target`` (None when there are none).
        Variables of ``target.arrays`` this layer does not have are set to NaN. The native kernels write the
        arrays directly; every other path traces into buffers and copies.
        """
        func = f"{type(self).__name__}.trace_into"
        x = check_sequence(x, self.input_size, like=self.weight_ih, func=func)
        n = x.shape[1]
        rows = target.rows.to(torch.int64)
        missing = [name for name in target.arrays if name not in self.variables]
        for name in missing:
            target.arrays[name][rows, target.t0 : target.t0 + n, :, target.layer] = float("nan")
        if x.device.type == "cpu" and not torch.is_grad_enabled():
            masked_state, k = self._masked_state(state, x.shape[0], keep, func)
            native = self._trace_native(x, masked_state, k, target)
            if native is not None:
                _, h_seq, final, ranges = native
                return h_seq, final, {**ranges, **{name: None for name in missing}}
        variables, final = self.trace(x, state, keep=keep)
        ranges = {name: None for name in missing}
        for name in target.arrays:
            if name in missing:
                continue
            values = variables[name].detach().to("cpu", torch.float32)
            target.arrays[name][rows, target.t0 : target.t0 + n, :, target.layer] = values
            ranges[name] = valid_range(values, target.n_valid)
        return variables["h"], final, ranges

    def _trace_native(self, x: Tensor, state: State, k: Tensor | None, target: TraceTarget | None):
        """The native kernel's pass (see :func:`_run_native`), or None when it does not apply."""
        return None

    def _trace(self, x: Tensor, state: State, k: Tensor | None) -> tuple[dict[str, Tensor], State]:
        """Every variable in one CPU pass, no autograd (subclasses with gates override it with a step loop)."""
        h_seq, final = self._forward(x, state, k)
        if k is not None:
            h_seq = h_seq * k
            final = (final[0] * k,) + tuple(final[1:])
        return {"h": h_seq}, final

    # ---- helpers of the vectorised recovery ---------------------------------------------------------------
    def _inplace_ok(self, *tensors: Tensor) -> bool:
        """True when no autograd graph is recorded, so big intermediate buffers may be reused in place.

        Capture runs under ``torch.no_grad()``/``torch.inference_mode()`` and takes this fast path; with
        gradients the same equations run out of place.
        """
        if not torch.is_grad_enabled():
            return True
        return not (any(t.requires_grad for t in tensors) or any(p.requires_grad for p in self.parameters()))

    def _bias_sum(self) -> Tensor | None:
        return self.bias_ih + self.bias_hh if self.bias else None

    # ---- hooks ------------------------------------------------------------------------------------------
    def _forward(self, x: Tensor, state: State, k: Tensor | None) -> tuple[Tensor, State]:  # pragma: no cover
        raise NotImplementedError

    def _step(self, x_t: Tensor, state: State, k: Tensor | None):  # pragma: no cover
        raise NotImplementedError

    def _internals(self, x, h_seq, h_prev, state0, k) -> dict[str, Tensor]:  # pragma: no cover
        raise NotImplementedError


class _FusedLayer(RecurrentLayer):
    """A layer whose fast path is one single-layer, batch-first PyTorch RNN module (``self.rnn``)."""

    _torch_class: type[nn.RNNBase]
    _torch_kwargs: dict[str, Any] = {}

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__(input_size, hidden_size, bias)
        self.rnn = self._torch_class(
            self.input_size, self.hidden_size, num_layers=1, bias=self.bias, batch_first=True, **self._torch_kwargs
        )

    def _pack_state(self, state: State):
        return state[0].unsqueeze(0).contiguous()

    def _unpack_state(self, hn) -> State:
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

    Fast path: ``nn.RNN(nonlinearity="tanh")``. Variables: ``h``.

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
        h = torch.tanh(F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh))
        return h, (h,), {}

    def _internals(self, x, h_seq, h_prev, state0, k):
        pre = F.linear(x, self.weight_ih, self.bias_ih)
        if self._inplace_ok(x, h_prev):
            _addmm_(pre, slice(None), h_prev, self.weight_hh, self.bias_hh)
            return {"h": pre.tanh_()}
        return {"h": torch.tanh(pre + F.linear(h_prev, self.weight_hh, self.bias_hh))}


class LSTMLayer(_FusedLayer):
    """LSTM layer (PyTorch's, no peepholes), gate order ``(i, f, g, o)`` in the weight rows.

    ``i, f, o = sigmoid(.)``, ``g = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)``, ``c_t = f c_{t-1} + i g``,
    ``h_t = o tanh(c_t)``. Fast path: ``nn.LSTM``. Variables: ``h, c, input_gate, forget_gate, output_gate,
    cell_input`` (``cell_input`` is ``g``). State: ``(h, c)``.

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

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h", "c")

    def _pack_state(self, state):
        return (state[0].unsqueeze(0).contiguous(), state[1].unsqueeze(0).contiguous())

    def _unpack_state(self, hn):
        return (hn[0][0], hn[1][0])

    def _step(self, x_t, state, k):
        h, c = state
        gates = F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, (h, c), {"c": c, "input_gate": i, "forget_gate": f, "output_gate": o, "cell_input": g}

    def _internals(self, x, h_seq, h_prev, state0, k):
        # all gate pre-activations of all frames: one (B*T, I) and one (B*T, H) matmul
        gates = F.linear(x, self.weight_ih, self._bias_sum())
        if self._inplace_ok(x, h_prev, state0[1]):
            _addmm_(gates, slice(None), h_prev, self.weight_hh)
            i, f, g, o = gates.chunk(4, dim=-1)  # views of one buffer, activated in place
            i.sigmoid_(), f.sigmoid_(), g.tanh_(), o.sigmoid_()
        else:
            gates = gates + F.linear(h_prev, self.weight_hh)
            i, f, g, o = gates.chunk(4, dim=-1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        u = i * g
        c = _compiled(lstm_cell_scan, f, u, state0[1])(f, u, state0[1])  # the only recurrence left
        h = o * torch.tanh(c)
        return {"h": h, "c": c, "input_gate": i, "forget_gate": f, "output_gate": o, "cell_input": g}

    _NATIVE_ORDER = ("input_gate", "forget_gate", "cell_input", "output_gate", "c", "h")

    def _trace_native(self, x, state, k, target):
        w_hh = self.weight_hh if k is None else self.weight_hh * k
        ops = _native_ops(x, self.weight_ih, w_hh)
        if ops is None:
            return None
        bias = self._bias_sum() if self.bias else x.new_zeros(4 * self.hidden_size)
        w = _stacked(self.weight_ih, w_hh, bias)
        args = (x.contiguous(), w, state[0].contiguous(), state[1].contiguous(), _factor(k))
        return _run_native(ops, "lstm_trace", args, self._NATIVE_ORDER, x, self.hidden_size, target, with_c=True)

    def _trace(self, x, state, k):
        native = self._trace_native(x, state, k, None)
        if native is not None:
            return native[0], native[2]
        H = self.hidden_size
        w_t = (self.weight_hh if k is None else self.weight_hh * k).t()
        xp = F.linear(_time_major(x), self.weight_ih, self._bias_sum())
        args = (xp, w_t, state[0].contiguous(), state[1].contiguous(), k)
        gates, c, h = _compiled(lstm_trace, xp)(*args)
        gates, c, h = _batch_first(gates), _batch_first(c), _batch_first(h)
        out = {"h": h, "c": c, "input_gate": gates[..., :H], "forget_gate": gates[..., H : 2 * H],
               "cell_input": gates[..., 2 * H : 3 * H], "output_gate": gates[..., 3 * H :]}
        return out, (h[:, -1], c[:, -1])


def _time_major(t: Tensor) -> Tensor:
    return t.transpose(0, 1).contiguous()


def _batch_first(t: Tensor) -> Tensor:
    return t.transpose(0, 1)


class GRULayer(_FusedLayer):
    """GRU layer in PyTorch's convention, gate order ``(r, z, n)`` in the weight rows.

    ``r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)``, ``z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)``,
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h_t = (1 - z) n + z h_{t-1}``.
    Fast path: ``nn.GRU``. Variables: ``h, update_gate (z), reset_gate (r), candidate (n)``.

    In Tang et al.'s notation (cell ``c_t`` = our ``h_t``): their input gate ``i_t`` is ``1 - z``, their forget
    gate ``f_t`` is ``z``, and their candidate is ``n``.

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

    def _gates(self, x, h_prev):
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        gh = F.linear(h_prev, self.weight_hh, self.bias_hh)
        ir, iz, in_ = gi.chunk(3, dim=-1)
        hr, hz, hn = gh.chunk(3, dim=-1)
        r = torch.sigmoid(ir + hr)
        z = torch.sigmoid(iz + hz)
        n = torch.tanh(in_ + r * hn)
        h = (1.0 - z) * n + z * h_prev
        return h, {"update_gate": z, "reset_gate": r, "candidate": n}

    def _step(self, x_t, state, k):
        h, inter = self._gates(x_t, state[0])
        return h, (h,), inter

    def _internals(self, x, h_seq, h_prev, state0, k):
        if not self._inplace_ok(x, h_prev):
            h, inter = self._gates(x, h_prev)
            inter["h"] = h
            return inter
        H = self.hidden_size
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        gh = F.linear(h_prev, self.weight_hh, self.bias_hh)
        r, z = gi[..., : 2 * H].add_(gh[..., : 2 * H]).sigmoid_().chunk(2, dim=-1)
        n = gi[..., 2 * H:].addcmul_(r, gh[..., 2 * H:]).tanh_()
        h = torch.sub(h_prev, n).mul_(z).add_(n)  # (1 - z) n + z h_prev
        return {"h": h, "update_gate": z, "reset_gate": r, "candidate": n}

    _NATIVE_ORDER = ("reset_gate", "update_gate", "candidate", "h")

    def _trace_native(self, x, state, k, target):
        H = self.hidden_size
        w_hh = self.weight_hh if k is None else self.weight_hh * k
        ops = _native_ops(x, self.weight_ih, w_hh)
        if ops is None:
            return None
        # columns [r, z | n from x | n from h], so one matmul serves the whole step
        w_ih = self.weight_ih
        zeros_x, zeros_h = w_ih.new_zeros(H, self.input_size), w_hh.new_zeros(H, H)
        b_hh = self.bias_hh if self.bias else x.new_zeros(3 * H)
        b_ih = self.bias_ih if self.bias else x.new_zeros(3 * H)
        w = _stacked(torch.cat([w_ih[: 2 * H], w_ih[2 * H:], zeros_x]),
                     torch.cat([w_hh[: 2 * H], zeros_h, w_hh[2 * H:]]),
                     torch.cat([b_ih[: 2 * H] + b_hh[: 2 * H], b_ih[2 * H:], b_hh[2 * H:]]))
        args = (x.contiguous(), w, state[0].contiguous(), _factor(k))
        return _run_native(ops, "gru_trace", args, self._NATIVE_ORDER, x, H, target, with_c=False)

    def _trace(self, x, state, k):
        native = self._trace_native(x, state, k, None)
        if native is not None:
            return native[0], native[2]
        H = self.hidden_size
        w_t = (self.weight_hh if k is None else self.weight_hh * k).t()
        b_hh = self.bias_hh if self.bias else torch.zeros(3 * H, dtype=x.dtype, device=x.device)
        xp = F.linear(_time_major(x), self.weight_ih, self.bias_ih)
        gates, h = _compiled(gru_trace, xp)(xp, w_t, b_hh, state[0].contiguous(), k)
        gates, h = _batch_first(gates), _batch_first(h)
        out = {"h": h, "reset_gate": gates[..., :H], "update_gate": gates[..., H : 2 * H],
               "candidate": gates[..., 2 * H :]}
        return out, (h[:, -1],)


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
    :func:`lazy_lstm_recurrence` (two small matmuls per step).

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

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__(input_size, hidden_size, bias)
        self.rnn = _LazyLSTMWeights(self.input_size, self.hidden_size, self.bias)

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("h", "c")

    def _split(self, k: Tensor | None):
        """Recurrent weight blocks ``U_ifo`` (3H, H) and ``W_cm`` (H, H), masked columns zeroed."""
        H = self.hidden_size
        w = self.weight_hh if k is None else self.weight_hh * k
        u_ifo = torch.cat([w[: 2 * H], w[3 * H:]], dim=0)
        return u_ifo, w[2 * H: 3 * H]

    def _forward(self, x, state, k):
        H = self.hidden_size
        b = None if not self.bias else self.bias_ih + self.bias_hh
        proj = F.linear(x, self.weight_ih, b).transpose(0, 1).contiguous()  # (T, B, 4H), biases included
        x_ifo = torch.cat([proj[..., : 2 * H], proj[..., 3 * H:]], dim=-1)
        x_g = proj[..., 2 * H: 3 * H]
        u_ifo, w_cm = self._split(k)
        m0, c0 = state
        args = (x_ifo, x_g, u_ifo.t(), w_cm.t(), m0.contiguous(), c0.contiguous())
        m, c_last = _compiled(lazy_lstm_recurrence, *args)(*args)
        return m, (m[:, -1], c_last)

    _NATIVE_ORDER = ("input_gate", "forget_gate", "cell_input", "output_gate", "c", "h")

    def _trace_native(self, x, state, k, target):
        H = self.hidden_size
        ops = _native_ops(x, self.weight_ih, self.weight_hh)
        if ops is None:
            return None
        # first matmul: x and m_{t-1} (g block of m zeroed); second: W_cm reading m_t
        u = self.weight_hh if k is None else self.weight_hh * k
        u_gates = torch.cat([u[: 2 * H], torch.zeros_like(u[:H]), u[3 * H:]], dim=0)
        bias = self.bias_ih + self.bias_hh if self.bias else x.new_zeros(4 * H)
        w = _stacked(self.weight_ih, u_gates, bias)
        args = (x.contiguous(), w, u[2 * H: 3 * H].t().contiguous(), state[0].contiguous(), state[1].contiguous(),
                _factor(k))
        return _run_native(ops, "lazy_lstm_trace", args, self._NATIVE_ORDER, x, H, target, with_c=True)

    def _trace(self, x, state, k):
        native = self._trace_native(x, state, k, None)
        if native is not None:
            return native[0], native[2]
        H = self.hidden_size
        b = None if not self.bias else self.bias_ih + self.bias_hh
        proj = F.linear(_time_major(x), self.weight_ih, b)
        x_ifo = torch.cat([proj[..., : 2 * H], proj[..., 3 * H:]], dim=-1)
        x_g = proj[..., 2 * H: 3 * H].contiguous()
        u_ifo, w_cm = self._split(k)
        args = (x_ifo, x_g, u_ifo.t(), w_cm.t(), state[0].contiguous(), state[1].contiguous(), k)
        ifo, g, c, m = (_batch_first(t) for t in _compiled(lazy_lstm_trace, x_ifo)(*args))
        out = {"h": m, "c": c, "input_gate": ifo[..., :H], "forget_gate": ifo[..., H : 2 * H],
               "output_gate": ifo[..., 2 * H :], "cell_input": g}
        return out, (m[:, -1], c[:, -1])

    def _step(self, x_t, state, k):
        H = self.hidden_size
        m_prev, c_prev = state
        W, U = self.weight_ih, self.weight_hh
        b_i = self.bias_ih if self.bias else torch.zeros(4 * H, dtype=W.dtype, device=W.device)
        b_h = self.bias_hh if self.bias else torch.zeros(4 * H, dtype=W.dtype, device=W.device)
        blk = lambda a, j: a[j * H: (j + 1) * H]  # noqa: E731 - gate block j of (i, f, g, o)
        i = torch.sigmoid(x_t @ blk(W, 0).T + m_prev @ blk(U, 0).T + blk(b_i, 0) + blk(b_h, 0))
        f = torch.sigmoid(x_t @ blk(W, 1).T + m_prev @ blk(U, 1).T + blk(b_i, 1) + blk(b_h, 1))
        o = torch.sigmoid(x_t @ blk(W, 3).T + m_prev @ blk(U, 3).T + blk(b_i, 3) + blk(b_h, 3))
        m = o * torch.tanh(c_prev)
        if k is not None:
            m = m * k  # a masked unit's m_t is 0 before the candidate reads it
        g = torch.tanh(x_t @ blk(W, 2).T + m @ blk(U, 2).T + blk(b_i, 2) + blk(b_h, 2))
        c = f * c_prev + i * g
        return m, (m, c), {"c": c, "input_gate": i, "forget_gate": f, "output_gate": o, "cell_input": g}

    def _internals(self, x, h_seq, h_prev, state0, k):
        H = self.hidden_size
        U = self.weight_hh
        pre = F.linear(x, self.weight_ih, self._bias_sum())  # (B, T, 4H), both biases
        if self._inplace_ok(x, h_seq, h_prev, state0[1]):
            _addmm_(pre, slice(0, 2 * H), h_prev, U[: 2 * H])  # i, f read m_{t-1}
            _addmm_(pre, slice(3 * H, 4 * H), h_prev, U[3 * H:])  # o reads m_{t-1}
            _addmm_(pre, slice(2 * H, 3 * H), h_seq, U[2 * H: 3 * H])  # the candidate reads m_t
            i, f, g, o = pre.chunk(4, dim=-1)
            i.sigmoid_(), f.sigmoid_(), g.tanh_(), o.sigmoid_()
        else:
            rec = F.linear(h_prev, U)  # reads m_{t-1}: right for i, f, o
            i = torch.sigmoid(pre[..., :H] + rec[..., :H])
            f = torch.sigmoid(pre[..., H: 2 * H] + rec[..., H: 2 * H])
            o = torch.sigmoid(pre[..., 3 * H:] + rec[..., 3 * H:])
            g = torch.tanh(pre[..., 2 * H: 3 * H] + F.linear(h_seq, U[2 * H: 3 * H]))  # reads m_t
        u = i * g
        c = _compiled(lstm_cell_scan, f, u, state0[1])(f, u, state0[1])
        c_prev = torch.cat([state0[1].unsqueeze(1), c[:, :-1]], dim=1)
        h = o * torch.tanh(c_prev)
        return {"h": h, "c": c, "input_gate": i, "forget_gate": f, "output_gate": o, "cell_input": g}


_LAYERS: dict[str, type[RecurrentLayer]] = {
    "rnn": RNNLayer,
    "lstm": LSTMLayer,
    "gru": GRULayer,
    "lazy_lstm": LazyLSTMLayer,
}


def make_layer(kind: str, input_size: int, hidden_size: int, bias: bool = True) -> RecurrentLayer:
    """Build a layer of the given kind (one of :data:`CELL_KINDS`).

    Examples
    --------
    >>> from rnnscope.models import make_layer
    >>> layer = make_layer("gru", 3, 4)
    >>> layer.kind, layer.variables
    ('gru', ('h', 'update_gate', 'reset_gate', 'candidate'))
    """
    if kind not in _LAYERS:
        raise ValueError(f"The 'cell' parameter of make_layer must be one of {list(CELL_KINDS)}. Got {kind!r} instead.")
    return _LAYERS[kind](input_size, hidden_size, bias=bias)

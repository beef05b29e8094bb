"""The cells' equations, written once: pointwise functions of pre-activations and states.

Every layer of :mod:`rnnscope.models._cells` writes its reference ``step`` with these functions, and its vectorised
``internals`` applies the same functions to whole sequences (``(batch, time, ...)`` tensors instead of
``(batch, ...)``). The two recurrences left once everything else is vectorised are here too: the LSTM cell scan
(:func:`lstm_cell_scan`, the only sequential part of recovering an LSTM's internals) and the lazy LSTM's forward
recurrence (:func:`lazy_lstm_recurrence`, its fast path: it has no fused PyTorch kernel). The fused PyTorch
kernels (``nn.RNN/LSTM/GRU``) and the native C++ kernels (:mod:`rnnscope.models._native`) implement the same
equations on their own; tests check them against the step.

Functions taking ``inplace=True`` overwrite their pre-activation arguments (capture's path, when no autograd graph
is recorded: no new big buffers); with ``inplace=False`` they are differentiable. The results agree to float
rounding (PyTorch's vectorised sigmoid/tanh may round the last bit differently for another memory layout).

Gate order in the weight rows follows PyTorch: LSTM family ``(i, f, g, o)``, GRU ``(r, z, n)``.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "gate",
    "squash",
    "rnn_output",
    "lstm_gates",
    "lstm_cell",
    "lstm_output",
    "gru_gates",
    "gru_output",
    "lstm_cell_scan",
    "lazy_lstm_recurrence",
]

#: Gate nonlinearity of the LSTM family and the GRU (input, forget, output, reset, update gates).
gate = torch.sigmoid
#: Nonlinearity of candidates and outputs.
squash = torch.tanh


# ---------------------------------------------------------------------------------------------------- vanilla


def rnn_output(pre: Tensor, inplace: bool = False, nonlinearity: str = "tanh") -> Tensor:
    """Vanilla (Elman) output ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` from its pre-activation.

    ``nonlinearity="relu"`` gives ``nn.RNN(nonlinearity="relu")``'s ``h_t = max(0, .)`` instead.

    Examples
    --------
    >>> import torch
    >>> rnn_output(torch.tensor([0.0, 100.0])).tolist()
    [0.0, 1.0]
    >>> rnn_output(torch.tensor([-2.0, 3.0]), nonlinearity="relu").tolist()
    [0.0, 3.0]
    """
    if nonlinearity == "relu":
        return pre.relu_() if inplace else torch.relu(pre)
    return pre.tanh_() if inplace else squash(pre)


# ------------------------------------------------------------------------------------------------ LSTM family


def lstm_gates(pre: Tensor, inplace: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The LSTM's gates ``(i, f, g, o)`` from their pre-activations ``(..., 4 * hidden)`` in that order.

    ``i, f, o = sigmoid(.)``, the candidate ``g = tanh(.)``. With ``inplace=True`` the results are views of
    ``pre``.

    Examples
    --------
    >>> import torch
    >>> i, f, g, o = lstm_gates(torch.zeros(1, 4))
    >>> [float(v) for v in (i, f, g, o)]
    [0.5, 0.5, 0.0, 0.5]
    """
    i, f, g, o = pre.chunk(4, dim=-1)
    if inplace:
        return i.sigmoid_(), f.sigmoid_(), g.tanh_(), o.sigmoid_()
    return gate(i), gate(f), squash(g), gate(o)


def lstm_cell(forget: Tensor, c_prev: Tensor, update: Tensor) -> Tensor:
    """The cell update ``c_t = forget * c_{t-1} + update`` where ``update = i * g``.

    Examples
    --------
    >>> import torch
    >>> lstm_cell(torch.tensor([0.5]), torch.tensor([2.0]), torch.tensor([0.25])).tolist()
    [1.25]
    """
    return torch.addcmul(update, forget, c_prev)


def lstm_output(o: Tensor, c: Tensor) -> Tensor:
    """The output ``o * tanh(c)`` (LSTM: ``h_t`` from ``c_t``; lazy LSTM: ``m_t`` from ``c_{t-1}``).

    Examples
    --------
    >>> import torch
    >>> lstm_output(torch.tensor([0.5]), torch.tensor([0.0])).tolist()
    [0.0]
    """
    return o * squash(c)


def lstm_cell_scan(forget: Tensor, update: Tensor, c0: Tensor) -> Tensor:
    """Run the LSTM cell recurrence ``c_t = forget_t * c_{t-1} + update_t`` (:func:`lstm_cell`) over a sequence.

    This is the only sequential part of recovering an LSTM's internals from its output (``update = i * g``).
    Autograd-friendly: ``unbind``/``stack`` rather than per-step indexing, which would make the backward pass
    quadratic in the number of frames.

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
    cs: list[Tensor] = []
    c = c0
    for t in range(len(fs)):
        c = lstm_cell(fs[t], c, us[t])
        cs.append(c)
    return torch.stack(cs, 1)


def lazy_lstm_recurrence(
    x_ifo: Tensor, x_g: Tensor, u_ifo_t: Tensor, w_cm_t: Tensor, m0: Tensor, c0: Tensor
) -> tuple[Tensor, Tensor]:
    """The lazy LSTM's recurrence, given the input projections of every frame.

    For each frame: ``(i, f, o) = sigmoid(x_ifo[t] + m_{t-1} @ u_ifo_t)``; ``m_t = o * tanh(c_{t-1})``
    (:func:`lstm_output`); ``c_t = f * c_{t-1} + i * tanh(x_g[t] + m_t @ w_cm_t)`` (:func:`lstm_cell`).
    Plain PyTorch (two small matmuls per step), differentiable.

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

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import lazy_lstm_recurrence
    >>> m, c = lazy_lstm_recurrence(torch.zeros(2, 1, 3), torch.zeros(2, 1, 1), torch.zeros(1, 3),
    ...                             torch.zeros(1, 1), torch.zeros(1, 1), torch.ones(1, 1))
    >>> round(float(m[0, 0, 0]), 4), float(c)  # m_1 = 0.5 tanh(1); c = 0.5 * 0.5 * 1
    (0.3808, 0.25)
    """
    xs = x_ifo.unbind(0)
    xg = x_g.unbind(0)
    ms: list[Tensor] = []
    m = m0
    c = c0
    for t in range(len(xs)):
        i, f, o = gate(torch.addmm(xs[t], m, u_ifo_t)).chunk(3, 1)
        m = lstm_output(o, c)
        g = squash(torch.addmm(xg[t], m, w_cm_t))
        c = lstm_cell(f, c, i * g)
        ms.append(m)
    return torch.stack(ms, 1), c


# -------------------------------------------------------------------------------------------------------- GRU


def gru_gates(x_pre: Tensor, h_pre: Tensor, inplace: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """The GRU's gates ``(r, z, n)`` from the input and recurrent projections ``(..., 3 * hidden)``.

    ``x_pre = W_i x + b_i`` and ``h_pre = W_h h_{t-1} + b_h``, gate order ``(r, z, n)``:
    ``r = sigmoid(x_r + h_r)``, ``z = sigmoid(x_z + h_z)``, ``n = tanh(x_n + r * h_n)`` (PyTorch's convention:
    the reset gate scales the recurrent projection, bias included). With ``inplace=True`` the results are views of
    ``x_pre``.

    Examples
    --------
    >>> import torch
    >>> r, z, n = gru_gates(torch.zeros(1, 3), torch.ones(1, 3))
    >>> round(float(r), 4), round(float(n), 4)  # n = tanh(0 + sigmoid(1) * 1)
    (0.7311, 0.6237)
    """
    hidden = x_pre.shape[-1] // 3
    if inplace:
        r, z = x_pre[..., : 2 * hidden].add_(h_pre[..., : 2 * hidden]).sigmoid_().chunk(2, dim=-1)
        n = x_pre[..., 2 * hidden :].addcmul_(r, h_pre[..., 2 * hidden :]).tanh_()
        return r, z, n
    xr, xz, xn = x_pre.chunk(3, dim=-1)
    hr, hz, hn = h_pre.chunk(3, dim=-1)
    r = gate(xr + hr)
    return r, gate(xz + hz), squash(torch.addcmul(xn, r, hn))


def gru_output(z: Tensor, n: Tensor, h_prev: Tensor, inplace: bool = False) -> Tensor:
    """The GRU's output ``h_t = (1 - z) * n + z * h_{t-1}``, computed as ``n + z * (h_{t-1} - n)``.

    ``inplace=True`` only reuses the new buffer of ``h_{t-1} - n`` (the arguments are never modified); the bits
    are the same either way.

    Examples
    --------
    >>> import torch
    >>> gru_output(torch.tensor([0.25]), torch.tensor([1.0]), torch.tensor([-1.0])).tolist()
    [0.5]
    """
    if inplace:
        return torch.sub(h_prev, n).mul_(z).add_(n)
    return n + z * (h_prev - n)

"""Backpropagation through time by hand for one recurrent layer: the input's gradient, no autograd, no parameters'.

A **tape** runs a layer forward over a time-major batch keeping only what its backward reads (the gates after their
nonlinearity, the LSTM cell, the GRU's recurrent candidate term and previous output), in buffers allocated once,
then walks back through time with in-place PyTorch ops and one ``addmm`` per frame for the recurrent product. It
returns the gradient of every frame's gate *pre-activations* (written over the gates' buffer); the layer input's
gradient is then one GEMM over all frames (``dGates @ W_ih``, done by the caller, who may first sum the path steps
of integrated gradients). Used by :func:`rnnscope.models._input_gradient.path_input_gradient`.

Shapes are time-major: ``A`` ``(T, N, G)`` holds, before :meth:`forward`, the input projection of every frame
(``W_ih x_t`` plus every bias that does not sit behind a gate: the caller fills it with one GEMM, or per frame with
``fill(t, A[t])``); ``N`` rows; ``G`` = 4H (LSTM, lazy LSTM), 3H (GRU), H (vanilla). The equations are those of
:mod:`rnnscope.models._cells` (PyTorch's), unit masks included (``k``: 0/1 per unit, the masked units' ``h`` is 0
inside the recurrence); tests check every gradient against autograd.

Per frame (forward and backward together, views left out; ``tests/test_input_gradient.py`` counts them): vanilla
7 ATen ops, GRU 21, LSTM 22, lazy LSTM 25, of which one ``addmm`` each way (two for the GRU and the lazy LSTM) and
the rest elementwise over ``(N, H)``/``(N, G)`` blocks; nothing is allocated inside the loops; with the native
steps the LSTM's are 4. Where :func:`native_steps` gives the native kernels (float32 on the CPU; float64, CUDA and
a missing compiler keep the PyTorch ops above), the LSTM tape runs per frame the recurrent GEMM and one fused pass
each way (``rnnscope_native::lstm_tape_forward``: the first layer's point projection (a :class:`PointFill`), the
gates' nonlinearities, the cell and ``h``; ``lstm_tape_backward``: the cell's and the gates' gradients and, for a
:class:`StepSum`, the points' weighted sum), one pass over memory where the ops above make a dozen. A frame whose
seeds touch a gate (a target on a gate) runs the PyTorch ops. The lazy LSTM, the GRU and the vanilla tapes always
run PyTorch's ops.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from . import _native

__all__ = ["Workspace", "make_tape", "tape_elements", "native_steps", "PointFill", "StepSum", "TAPE_KINDS", "Seeds"]

#: The layer kinds a tape exists for (every kind of :data:`rnnscope.models.CELL_KINDS`).
TAPE_KINDS = ("rnn", "lstm", "gru", "lazy_lstm")

#: ``{frame: [(variable, rows, units, values)]}``: what the target adds to the gradient of a layer variable at a
#: frame (``values`` a tensor of one value per row, or None for 1).
Seeds = dict


def _seed(buffer: Tensor, seeds, var: str) -> None:
    """Add the seeds of ``var`` into ``buffer`` ``(N, H)`` (a view of the gradient of that variable at one frame)."""
    for name, rows, units, values in seeds:
        if name == var:
            buffer.index_put_((rows, units), values if values is not None else buffer.new_ones(rows.shape),
                              accumulate=True)



def native_steps(A: Tensor):
    """The native kernels (``torch.ops.rnnscope_native``) when the LSTM tape's fused steps run on the gates' buffer
    ``A``: float32 on the CPU, no autograd, the kernels enabled (:func:`~rnnscope.models.set_native`) and built;
    else None, and the tape runs its PyTorch ops (float64, CUDA, no compiler). The one place that chooses."""
    if _native._input_reason(A, ()) is not None:
        return None
    return _native.kernels()


class PointFill:
    """``fill(t, a)`` of the first layer on a straight path: row ``s * R + r`` of frame ``t`` gets point ``s``'s
    input projection of record ``r``, ``p0[t, r] + alphas[s] * p1[t, r]`` (``p0``, ``p1`` ``(T, R, G)``: the
    projections of the path's start and direction). The LSTM tape's native step adds it in its own pass."""

    def __init__(self, p0: Tensor, p1: Tensor, alphas: Tensor):
        self.p0, self.p1, self.alphas = p0, p1, alphas.contiguous()

    def __call__(self, t: int, a: Tensor) -> None:
        p0 = self.p0[t]
        torch.addcmul(p0, self.alphas.view(-1, 1, 1), self.p1[t], out=a.view(len(self.alphas), *p0.shape))


class StepSum:
    """``on_frame(t, d_gates)`` of the first layer's backward: ``acc[t, r] += sum_s weights[s] d_gates[s * R + r]``
    (``acc`` ``(T, R, G)``, the path's points summed frame by frame), one small GEMM; the LSTM tape's native step
    sums them in its own pass."""

    def __init__(self, acc: Tensor, weights: Tensor):
        self.acc, self.weights = acc, weights.contiguous()

    def __call__(self, t: int, d_gates: Tensor) -> None:
        S = len(self.weights)
        self.acc[t].view(1, -1).addmm_(self.weights.view(1, S), d_gates.view(S, -1))


class Workspace:
    """Buffers of ``(frames, rows, ...)`` reused from one chunk of path points to the next: each first touch of
    fresh memory costs a page fault per 4 kB (about a fifth of a second per gigabyte, more than the elementwise work
    of a chunk), so one call of :func:`~rnnscope.models._input_gradient.path_input_gradient` allocates its tapes
    once. Kept until the workspace is dropped (the end of that call).

    Examples
    --------
    >>> import torch
    >>> ws, like = Workspace(), torch.zeros(1)
    >>> a = ws.empty("c", (3, 4), like)
    >>> b = ws.empty("c", (2, 4), like)  # a smaller chunk: the same memory
    >>> b.data_ptr() == a.data_ptr(), tuple(b.shape)
    (True, (2, 4))
    """

    def __init__(self):
        self._buffers: dict = {}

    def empty(self, key, shape, like: Tensor) -> Tensor:
        """An uninitialised ``shape`` tensor of ``like``'s dtype and device, in the memory kept under ``key``."""
        n = math.prod(int(size) for size in shape)
        kept = self._buffers.get(key)
        if kept is None or kept.numel() < n or kept.dtype != like.dtype or kept.device != like.device:
            kept = self._buffers[key] = like.new_empty(n)
        return kept[:n].view(*shape)


class _Tape:
    """Common parts: the layer's weights re-laid for the loops, the ``(N, H)`` scratch buffers."""

    workspace: Workspace | None = None  # where the (frames, rows, units) buffers live (None: fresh each forward)

    def _frames_buffer(self, name: str, shape, like: Tensor) -> Tensor:
        """An uninitialised ``(frames, rows, units)`` buffer: from the workspace when one is set."""
        if self.workspace is None:
            return like.new_empty(shape)
        return self.workspace.empty((id(self), name), shape, like)

    gates = 1  # G / H
    kept = 1  # elements kept per row, frame and unit (gates' buffer included)
    w_ih: Tensor  # (G, I), rows in the tape's gate order
    w_hh: Tensor  # (G, H), the recurrent weights in the same order, as the backward multiplies by them
    input_bias: Tensor | None  # the biases added to the input projection

    def _prepare(self, w_ih, w_hh, b_ih, b_hh) -> None:  # pragma: no cover - each tape sets its weights
        raise NotImplementedError

    def forward(self, A, state0, k, keep_h=True, fill: Callable | None = None, on_frame: Callable | None = None):
        """Run the layer over ``A`` (holding the input projection), keep what the backward reads; return ``h``
        ``(T, N, H)`` (None when not ``keep_h``: the LSTM then rotates two frames)."""
        raise NotImplementedError  # pragma: no cover

    def backward(self, d_out, k, seeds, on_frame: Callable | None = None) -> Tensor:
        """Walk back from the last frame with ``d_out`` ``(T, N, H)`` (the gradient of the layer's output from
        above, or None) and the target's ``seeds``; return the gates' pre-activation gradients ``(T, N, G)``
        (written over ``A``). ``on_frame(t, dGates_t)`` sees every frame's."""
        raise NotImplementedError  # pragma: no cover

    def _back_to_h(self, t: int, a: Tensor, dh: Tensor, d_out, on_frame: Callable | None,
                   recurrent: tuple[Tensor, Tensor] | None = None) -> None:
        """Frame ``t``'s gate gradients ``a`` handed on: to ``on_frame``, then (but at frame 0) into ``dh`` of frame
        ``t - 1`` (``a @ W_hh``, plus what the layer above sent back there); ``recurrent``: the gradients and the
        weights of that product when they are other than ``(a, W_hh)`` (the lazy LSTM's gates through ``U``)."""
        if on_frame is not None:
            on_frame(t, a)
        if t:
            grad, weight = (a, self.w_hh) if recurrent is None else recurrent
            if d_out is None:
                torch.mm(grad, weight, out=dh)
            else:
                torch.addmm(d_out[t - 1], grad, weight, out=dh)

    def __init__(self, layer, dtype):
        self.H = layer.hidden_size
        self.kind = layer.kind
        self.dtype = dtype
        w_ih = layer.weight_ih.detach().to(dtype)
        w_hh = layer.weight_hh.detach().to(dtype)
        b_ih = None if layer.bias_ih is None else layer.bias_ih.detach().to(dtype)
        b_hh = None if layer.bias_hh is None else layer.bias_hh.detach().to(dtype)
        self._prepare(w_ih, w_hh, b_ih, b_hh)
        self.one = torch.ones((), dtype=dtype, device=w_ih.device)

    @property
    def input_weight(self) -> Tensor:
        """``(G, I)``, rows in the tape's gate order: the projection ``A = x @ input_weight.T + input_bias``."""
        return self.w_ih

    def release(self) -> None:
        """Drop the kept buffers (the caller moves on to the layer below)."""
        for name in ("A", "c", "h", "hn", "c0", "h0"):
            self.__dict__.pop(name, None)



class _RNNTape(_Tape):
    gates, kept = 1, 1

    def _prepare(self, w_ih, w_hh, b_ih, b_hh):
        self.w_ih, self.w_hh, self.w_hh_t = w_ih, w_hh.contiguous(), w_hh.t().contiguous()
        self.input_bias = None if b_ih is None else b_ih + b_hh

    def forward(self, A, state0, k, keep_h=True, fill: Callable | None = None, on_frame: Callable | None = None):
        """Run the layer; ``A`` becomes ``h`` (kept: the backward reads it). Returns ``h`` ``(T, N, H)``."""
        (h_prev,) = state0
        for t in range(A.shape[0]):
            a = A[t]
            if fill is not None:
                fill(t, a)
            a.addmm_(h_prev, self.w_hh_t).tanh_()
            if k is not None:
                a.mul_(k)
            if on_frame is not None:
                on_frame(t, a)
            h_prev = a
        self.A = A
        return A

    def backward(self, d_out, k, seeds, on_frame: Callable | None = None) -> Tensor:
        """Gradients of the pre-activations, written over ``A``: ``(T, N, H)``."""
        A = self.A
        T, N, H = A.shape
        dh = A.new_zeros(N, H) if d_out is None else d_out[T - 1].clone()
        for t in range(T - 1, -1, -1):
            a = A[t]
            if t in seeds:
                _seed(dh, seeds[t], "h")
            if k is not None:
                dh.mul_(k)
            torch.addcmul(self.one, a, a, value=-1, out=a)  # 1 - h^2 (h masked: its gradient is 0 anyway)
            a.mul_(dh)
            self._back_to_h(t, a, dh, d_out, on_frame)
        return A


class _LSTMTape(_Tape):
    """LSTM, gates re-ordered ``(i, f, o, g)`` so one sigmoid covers the three gates; keeps the gates and ``c``."""

    gates, kept = 4, 5
    _order = (0, 1, 3, 2)  # PyTorch's (i, f, g, o) -> (i, f, o, g)
    _slots = {"input_gate": 0, "forget_gate": 1, "output_gate": 2, "cell_input": 3}

    def _reorder(self, w):
        H = self.H
        return torch.cat([w[j * H: (j + 1) * H] for j in self._order])

    def _prepare(self, w_ih, w_hh, b_ih, b_hh):
        self.w_ih = self._reorder(w_ih).contiguous()
        self.w_hh = self._reorder(w_hh).contiguous()  # (4H, H)
        self.w_hh_t = self.w_hh.t().contiguous()
        self.input_bias = None if b_ih is None else self._reorder(b_ih + b_hh)

    def _views(self, A):
        """Views of the gates' buffer ``(T, N, 4H)``: the three sigmoid gates together, then i, f, o, g."""
        H = self.H
        return A[:, :, : 3 * H], A[:, :, :H], A[:, :, H: 2 * H], A[:, :, 2 * H: 3 * H], A[:, :, 3 * H:]

    def forward(self, A, state0, k, keep_h=True, fill=None, on_frame=None):
        T, N, _ = A.shape
        H = self.H
        h_prev, c_prev = state0
        self.c0 = c_prev = c_prev.contiguous()
        c = self._frames_buffer("c", (T, N, H), A)
        h = self._frames_buffer("h", (T if keep_h else 2, N, H), A)
        ops = native_steps(A)
        step = self._step_ops if ops is None else self._step_native
        tc = A.new_empty(N, H) if ops is None else None
        for t in range(T):
            h_t = h[t if keep_h else t % 2]
            step(ops, t, A, h_prev, c_prev, c[t], h_t, tc, k, fill)
            if on_frame is not None:
                on_frame(t, h_t)
            h_prev, c_prev = h_t, c[t]
        self.A, self.c = A, c
        return h if keep_h else None

    def _step_ops(self, _, t, A, h_prev, c_prev, c_t, h_t, tc, k, fill):
        """Frame ``t`` forward by PyTorch ops (the gates' buffer ``A[t]``, ``c_t``, ``h_t`` written)."""
        a = A[t]
        H = self.H
        if fill is not None:
            fill(t, a)
        a.addmm_(h_prev, self.w_hh_t)
        a[:, : 3 * H].sigmoid_()
        g = a[:, 3 * H:]
        g.tanh_()
        torch.mul(a[:, H: 2 * H], c_prev, out=c_t)
        c_t.addcmul_(a[:, :H], g)
        torch.tanh(c_t, out=tc)
        torch.mul(a[:, 2 * H: 3 * H], tc, out=h_t)
        if k is not None:
            h_t.mul_(k)

    def _step_native(self, ops, t, A, h_prev, c_prev, c_t, h_t, _, k, fill):
        """Frame ``t`` forward by the recurrent GEMM and one native step (``lstm_tape_forward``: the first layer's
        point projection when ``fill`` is a :class:`PointFill`, the nonlinearities, the cell and ``h``)."""
        a = A[t]
        if isinstance(fill, PointFill):
            torch.mm(h_prev, self.w_hh_t, out=a)
            ops.lstm_tape_forward(a, c_prev, c_t, h_t, fill.p0[t], fill.p1[t], fill.alphas, k)
            return
        if fill is not None:
            fill(t, a)
        a.addmm_(h_prev, self.w_hh_t)
        ops.lstm_tape_forward(a, c_prev, c_t, h_t, None, None, None, k)

    def backward(self, d_out, k, seeds, on_frame=None):
        A, c = self.A, self.c
        T, N, _ = A.shape
        H = self.H
        dh = A.new_zeros(N, H) if d_out is None else d_out[T - 1].clone()
        dc = A.new_zeros(N, H)
        ops = native_steps(A)
        fused = ops is not None and isinstance(on_frame, StepSum)  # the step sums made by the native step
        by_ops = {t for t, here in seeds.items() if ops is None or any(seed[0] in self._slots for seed in here)}
        scratch = self._scratch(N) if ops is None or by_ops else None
        for t in range(T - 1, -1, -1):
            a = A[t]
            here = seeds.get(t, ())
            if here:
                _seed(dh, here, "h")
                _seed(dc, here, "c")
            c_prev = c[t - 1] if t else self.c0
            if ops is None or t in by_ops:  # no kernels, or a gate's seed at this frame: the PyTorch ops
                self._back_ops(a, c[t], c_prev, dh, dc, k, here, scratch)
                self._back_to_h(t, a, dh, d_out, on_frame)
                continue
            ops.lstm_tape_backward(a, c[t], c_prev, dh, dc, k, on_frame.acc[t] if fused else None,
                                   on_frame.weights if fused else None)
            self._back_to_h(t, a, dh, d_out, None if fused else on_frame)
        return A

    def _scratch(self, N):
        """The ``(N, H)`` buffers of :meth:`_back_ops` (allocated once per backward) and ``raw`` ``(N, 4H)``: the
        gates' gradients after their nonlinearity."""
        return (*self.A.new_empty(3, N, self.H).unbind(0), self.A.new_empty(N, 4 * self.H))

    def _back_ops(self, a, c_t, c_prev, dh, dc, k, here, scratch):
        """One frame back by PyTorch ops: the gates' pre-activation gradients over ``a``, ``dc`` carried to the frame
        before; ``here``: the frame's seeds (those of the gates added after their nonlinearity)."""
        H = self.H
        tc, w, tmp, raw = scratch
        i, f, o, g = a[:, :H], a[:, H: 2 * H], a[:, 2 * H: 3 * H], a[:, 3 * H:]
        if k is not None:
            dh.mul_(k)
        torch.tanh(c_t, out=tc)
        torch.mul(dh, o, out=tmp)
        torch.addcmul(self.one, tc, tc, value=-1, out=w)
        dc.addcmul_(tmp, w)  # dc += dh * o * (1 - tanh(c)^2)
        torch.mul(dc, g, out=raw[:, :H])
        torch.mul(dc, c_prev, out=raw[:, H: 2 * H])
        torch.mul(dh, tc, out=raw[:, 2 * H: 3 * H])
        torch.mul(dc, i, out=raw[:, 3 * H:])
        if here:
            for name, slot in self._slots.items():
                _seed(raw[:, slot * H: (slot + 1) * H], here, name)
        dc.mul_(f)  # carried to c_{t-1}
        s = a[:, : 3 * H]
        s.addcmul_(s, s, value=-1)  # sigmoid' = s (1 - s)
        torch.addcmul(self.one, g, g, value=-1, out=g)  # tanh' = 1 - g^2
        a.mul_(raw)


class _GRUTape(_Tape):
    """GRU (PyTorch's: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``); keeps ``r, z, n``, ``W_hn h + b_hn`` and
    ``h``."""

    gates, kept = 3, 5
    _slots = {"reset_gate": 0, "update_gate": 1}

    def _prepare(self, w_ih, w_hh, b_ih, b_hh):
        H = self.H
        self.w_ih = w_ih.contiguous()
        self.w_rz, self.w_n = w_hh[: 2 * H].contiguous(), w_hh[2 * H:].contiguous()
        self.w_rz_t, self.w_n_t = self.w_rz.t().contiguous(), self.w_n.t().contiguous()
        if b_ih is None:
            self.input_bias, self.b_hn = None, None
        else:
            self.input_bias = torch.cat([b_ih[: 2 * H] + b_hh[: 2 * H], b_ih[2 * H:]])
            self.b_hn = b_hh[2 * H:]

    def _views(self, A):
        """Views of the gates' buffer ``(T, N, 3H)``: r and z together, then r, z, n."""
        H = self.H
        return A[:, :, : 2 * H], A[:, :, :H], A[:, :, H: 2 * H], A[:, :, 2 * H:]

    def forward(self, A, state0, k, keep_h=True, fill=None, on_frame=None):
        T, N, _ = A.shape
        H = self.H
        (h_prev,) = state0
        self.h0 = h_prev
        hn = self._frames_buffer("hn", (T, N, H), A)
        h = self._frames_buffer("h", (T, N, H), A)
        tmp = A.new_empty(N, H)
        rz_, r_, z_, n_ = self._views(A)
        for t in range(T):
            h_t, hn_t, n = h[t], hn[t], n_[t]
            if fill is not None:
                fill(t, A[t])
            rz_[t].addmm_(h_prev, self.w_rz_t).sigmoid_()
            if self.b_hn is None:
                torch.mm(h_prev, self.w_n_t, out=hn_t)
            else:
                torch.addmm(self.b_hn, h_prev, self.w_n_t, out=hn_t)
            n.addcmul_(r_[t], hn_t).tanh_()
            torch.sub(h_prev, n, out=tmp)
            torch.addcmul(n, z_[t], tmp, out=h_t)  # h = (1 - z) n + z h_prev
            if k is not None:
                h_t.mul_(k)
            if on_frame is not None:
                on_frame(t, h_t)
            h_prev = h_t
        self.A, self.hn, self.h = A, hn, h
        return h

    def backward(self, d_out, k, seeds, on_frame=None):
        A, hn, h = self.A, self.hn, self.h
        T, N, _ = A.shape
        H = self.H
        dh = A.new_zeros(N, H) if d_out is None else d_out[T - 1].clone()
        carry, dn, dghn = A.new_empty(N, H), A.new_empty(N, H), A.new_empty(N, H)
        raw = A.new_empty(N, 2 * H)  # d(r, z) after the sigmoid
        raw_r, raw_z = raw[:, :H], raw[:, H:]
        rz_, r_, z_, n_ = self._views(A)
        for t in range(T - 1, -1, -1):
            a, n, s = A[t], n_[t], rz_[t]
            here = seeds.get(t, ())
            if here:
                _seed(dh, here, "h")
            if k is not None:
                dh.mul_(k)
            h_prev = h[t - 1] if t else self.h0
            torch.sub(h_prev, n, out=carry)
            torch.mul(dh, carry, out=raw_z)  # dz
            torch.mul(dh, z_[t], out=carry)  # what reaches h_{t-1} directly
            torch.sub(dh, carry, out=dn)  # dn = dh (1 - z)
            if here:
                _seed(dn, here, "candidate")
            torch.addcmul(self.one, n, n, value=-1, out=n)
            n.mul_(dn)  # d(n's pre-activation)
            torch.mul(n, hn[t], out=raw_r)  # dr
            torch.mul(n, r_[t], out=dghn)  # d(W_hn h + b_hn)
            if here:
                for name, slot in self._slots.items():
                    _seed(raw[:, slot * H: (slot + 1) * H], here, name)
            s.addcmul_(s, s, value=-1)
            s.mul_(raw)
            if on_frame is not None:
                on_frame(t, a)
            if t:
                if d_out is not None:
                    carry.add_(d_out[t - 1])
                torch.addmm(carry, s, self.w_rz, out=dh)
                dh.addmm_(dghn, self.w_n)
        return A


class _LazyLSTMTape(_LSTMTape):
    """Lazy LSTM (:class:`~rnnscope.models.LazyLSTMLayer`): ``i, f, o`` read ``m_{t-1}``, then
    ``m_t = o tanh(c_{t-1})``, the candidate ``g`` reads ``m_t``, the cell last. Gates re-ordered ``(i, f, o, g)``;
    keeps the gates and ``c``."""

    def _prepare(self, w_ih, w_hh, b_ih, b_hh):
        H = self.H
        super()._prepare(w_ih, w_hh, b_ih, b_hh)
        self.u_ifo, self.w_cm = self.w_hh[: 3 * H].contiguous(), self.w_hh[3 * H:].contiguous()
        self.u_ifo_t, self.w_cm_t = self.u_ifo.t().contiguous(), self.w_cm.t().contiguous()

    def forward(self, A, state0, k, keep_h=True, fill=None, on_frame=None):
        T, N, _ = A.shape
        H = self.H
        m_prev, c_prev = state0
        self.c0 = c_prev
        c = self._frames_buffer("c", (T, N, H), A)
        m = self._frames_buffer("m", (T if keep_h else 2, N, H), A)
        tc = A.new_empty(N, H)
        sig, i_, f_, o_, g_ = self._views(A)
        for t in range(T):
            c_t, g, m_t = c[t], g_[t], m[t if keep_h else t % 2]
            if fill is not None:
                fill(t, A[t])
            sig[t].addmm_(m_prev, self.u_ifo_t).sigmoid_()
            torch.tanh(c_prev, out=tc)
            torch.mul(o_[t], tc, out=m_t)  # the output first, from the old cell
            if k is not None:
                m_t.mul_(k)
            g.addmm_(m_t, self.w_cm_t).tanh_()  # the candidate reads the new output
            torch.mul(f_[t], c_prev, out=c_t)
            c_t.addcmul_(i_[t], g)  # the cell last
            if on_frame is not None:
                on_frame(t, m_t)
            m_prev, c_prev = m_t, c_t
        self.A, self.c = A, c
        return m if keep_h else None

    def backward(self, d_out, k, seeds, on_frame=None):
        A, c = self.A, self.c
        T, N, _ = A.shape
        H = self.H
        dm = A.new_zeros(N, H) if d_out is None else d_out[T - 1].clone()  # d m_t, from above and from t + 1
        dc = A.new_zeros(N, H)
        tc, w = A.new_empty(N, H), A.new_empty(N, H)
        raw = A.new_empty(N, 4 * H)
        raw_i, raw_f, raw_o, raw_g = raw[:, :H], raw[:, H: 2 * H], raw[:, 2 * H: 3 * H], raw[:, 3 * H:]
        sig, i_, f_, o_, g_ = self._views(A)
        for t in range(T - 1, -1, -1):
            a, g, o = A[t], g_[t], o_[t]
            here = seeds.get(t, ())
            if here:
                _seed(dm, here, "h")
                _seed(dc, here, "c")
            c_prev = c[t - 1] if t else self.c0
            torch.mul(dc, i_[t], out=raw_g)
            torch.mul(dc, g, out=raw_i)
            torch.mul(dc, c_prev, out=raw_f)
            if here:
                _seed(raw_g, here, "cell_input")
            torch.addcmul(self.one, g, g, value=-1, out=g)
            g.mul_(raw_g)  # d(g's pre-activation)
            dm.addmm_(g, self.w_cm)  # the candidate read m_t
            if k is not None:
                dm.mul_(k)
            dc.mul_(f_[t])  # carried to c_{t-1} through the cell ...
            torch.tanh(c_prev, out=tc)
            torch.mul(dm, tc, out=raw_o)
            torch.mul(dm, o, out=w)
            torch.addcmul(self.one, tc, tc, value=-1, out=tc)
            dc.addcmul_(w, tc)  # ... and through m_t = o tanh(c_{t-1})
            if here:
                for name in ("input_gate", "forget_gate", "output_gate"):
                    slot = self._slots[name]
                    _seed(raw[:, slot * H: (slot + 1) * H], here, name)
            s = sig[t]
            s.addcmul_(s, s, value=-1)
            s.mul_(raw[:, : 3 * H])
            self._back_to_h(t, a, dm, d_out, on_frame, recurrent=(s, self.u_ifo))
        return A


_TAPES = {"rnn": _RNNTape, "lstm": _LSTMTape, "gru": _GRUTape, "lazy_lstm": _LazyLSTMTape}


def tape_elements(kind: str, hidden: int, keep_h: bool) -> int:
    """Elements a tape of ``kind`` keeps per row and frame (its gates' buffer included; ``keep_h``: every frame's
    output too, for the layer above or the head).

    Examples
    --------
    >>> tape_elements("lstm", 10, keep_h=False), tape_elements("lstm", 10, keep_h=True), tape_elements("gru", 10, True)
    (50, 60, 50)
    """
    tape = _TAPES[kind]
    return hidden * (tape.kept + (1 if keep_h and issubclass(tape, _LSTMTape) else 0))


def make_tape(layer, dtype) -> _Tape:
    """The tape of an rnnscope layer (``layer.kind`` in :data:`TAPE_KINDS`) computing in ``dtype``.

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import make_layer
    >>> tape = make_tape(make_layer("lstm", input_size=3, hidden_size=4), torch.float32)
    >>> tuple(tape.input_weight.shape), tape.kind
    ((16, 3), 'lstm')
    """
    return _TAPES[layer.kind](layer, dtype)

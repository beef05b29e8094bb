"""The input's gradient of an :class:`~rnnscope.models.RNNClassifier`'s unit or class output along a straight path,
by hand (:mod:`rnnscope.models._bptt`): what integrated gradients need, without autograd.

:func:`path_input_gradient` returns, per row ``r``, ``sum_s w_s df_r/dx (x0 + a_s dx)``: with Gauss-Legendre points
``a_s`` and weights ``w_s`` on [0, 1] times ``dx`` it is integrated gradients (the quadrature of
:func:`rnnscope.experiments.attribution`, Captum's), with one point ``a = 1, w = 1`` the plain gradient at
``x0 + dx``. The target ``f_r`` is a unit's variable (``h``, ``c``, a gate) of one layer or a class logit/probability
of the head, read at frame ``pos[r]`` of row ``r``; each layer starts from a given state (the record before the
window). The path's points run as one batch of ``steps x rows`` (in chunks of steps bounded by ``budget``
elements of kept activations), time-major. What the path's linearity gives for free:

- the first layer's input projection ``W_ih z(a) + b = (W_ih z0 + b) + a W_ih dz`` is two GEMMs over the rows
  (not the rows x steps), each point's projection one ``addcmul`` per frame;
- the gradient of the first layer's input is ``sum_s w_s dGates_s @ W_ih = (sum_s w_s dGates_s) @ W_ih``: the
  steps are summed per frame while the backward walks (one small ``addmm``), then one GEMM over rows x frames.

Layers above the first take the previous layer's output (plus the shortcut) by one GEMM over all frames and all
points, and give their input's gradient back by one GEMM. Only the layers up to the target's run. Eval-mode
semantics (no dropout); unit masks as the model applies them. NaN in the input propagates as in the model's own
forward (:meth:`~rnnscope.models.ModelBase.normalize` keeps it, as PyTorch's modules do): a row with NaN at or
before its target frame gets NaN at every frame up to the target (what autograd gives there); NaN after the target
(padding) never reaches it (the models are causal), and the gradient is 0 there.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ._bptt import TAPE_KINDS, PointFill, StepSum, Workspace, make_tape, tape_elements

__all__ = ["path_input_gradient", "path_gradient_applies", "path_buffer_elements"]

#: Elements of kept activations one chunk of path points may hold by default (about 1 GB of float32).
BUDGET = 2 ** 28


def _top(model, kind: str, layer: int) -> int:
    return int(layer) if kind == "unit" else model.num_layers - 1


def path_gradient_applies(model, kind: str, layer: int = 0) -> bool:
    """Whether :func:`path_input_gradient` serves this target of ``model``: an rnnscope classifier on the CPU whose
    layers up to the target's have a tape (every kind of :data:`~rnnscope.models.CELL_KINDS`).

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import RNNClassifier
    >>> model = RNNClassifier(["gru", "lazy_lstm"], input_size=3, hidden_size=4, num_classes=5)
    >>> path_gradient_applies(model, "unit", 0), path_gradient_applies(model, "class")
    (True, True)
    >>> path_gradient_applies(torch.nn.LSTM(3, 4), "unit", 0)  # any other module: Captum's path
    False
    """
    if not hasattr(model, "trace_layers") or not hasattr(model, "shortcuts"):
        return False
    if model.feature_mean.device.type != "cpu":
        return False
    return all(model.layers[j].kind in TAPE_KINDS for j in range(_top(model, kind, layer) + 1))


def path_buffer_elements(model, kind: str, layer: int = 0) -> int:
    """Elements kept per row, frame and path point by :func:`path_input_gradient` (its chunks hold at most
    ``budget`` of them): every layer's tape, the gradient one layer passes down, materialised shortcuts.

    Examples
    --------
    >>> from rnnscope.models import RNNClassifier
    >>> path_buffer_elements(RNNClassifier("lstm", input_size=48, hidden_size=210, num_classes=5), "unit")
    1050
    """
    top = _top(model, kind, layer)
    total = 0
    for j in range(top + 1):
        tape_layer = model.layers[j]
        keep_h = j < top or kind == "class"
        total += tape_elements(tape_layer.kind, tape_layer.hidden_size, keep_h)
        if model.shortcuts[j] and keep_h:
            total += tape_layer.hidden_size
    passed = top > 0 or kind == "class"  # the gradient one layer passes down (or the class target's)
    return total + (model.hidden_size if passed else 0)


def _seeds(kind, var, pos_rep, index_rep):
    """``{frame: [(var, rows, units, None)]}`` of a unit target."""
    if kind != "unit":
        return {}
    seeds = {}
    for t in torch.unique(pos_rep).tolist():
        rows = torch.nonzero(pos_rep == t).flatten()
        seeds[int(t)] = [(var, rows, index_rep[rows], None)]
    return seeds


def _class_gradient(model, out_top, pos_rep, index_rep, var, dtype) -> Tensor:
    """The gradient of the class target with respect to what the last layer passes to the head ``(T, N, H)``
    (zero except at each row's target frame)."""
    n = out_top.shape[1]
    rows = torch.arange(n, device=out_top.device)
    w = model.head.weight.detach().to(dtype)
    seed = w[index_rep]  # d logit_k / d out = W_k
    if var == "prob":
        b = None if model.head.bias is None else model.head.bias.detach().to(dtype)
        logits = out_top[pos_rep, rows] @ w.t()
        if b is not None:
            logits = logits + b
        p = torch.softmax(logits, dim=-1)
        pk = p[rows, index_rep].unsqueeze(1)
        seed = pk * (seed - p @ w)  # d p_k / d out = p_k (W_k - sum_j p_j W_j)
    d_out = torch.zeros_like(out_top)
    d_out[pos_rep, rows] = seed
    return d_out


def _initial(model, states, rows, chunk, dtype, device, top):
    out = []
    for j in range(top + 1):
        layer = model.layers[j]
        given = None if states is None else states[j]
        if given is None:
            given = layer.initial_state(rows, device=device, dtype=dtype)
        tensors = [s.detach().to(dtype).repeat(chunk, 1) for s in given]
        mask = layer.keep_mask(None)
        if mask is not None:
            tensors[0] = tensors[0] * mask.to(dtype)
        out.append(tuple(tensors))
    return out


def path_input_gradient(model, x0: Tensor, dx: Tensor, *, pos: Tensor, index: Tensor, kind: str = "unit",
                        var: str = "h", layer: int = 0, alphas: Sequence[float] = (1.0,),
                        weights: Sequence[float] = (1.0,), states: Sequence | None = None,
                        budget: int = BUDGET) -> Tensor:
    """``sum_s weights[s] * df_r/dx`` at ``x0 + alphas[s] * dx`` for every row ``r``, by hand (no autograd).

    Parameters
    ----------
    model : RNNClassifier
        In eval mode on the CPU (:func:`path_gradient_applies`).
    x0, dx : Tensor
        ``(rows, frames, input_size)`` raw features (the model normalises): the path's start and direction.
    pos, index : Tensor
        Per row the target's frame and its unit (or class index).
    kind : {"unit", "class"}
    var : str
        A unit's variable (``"h"``, ``"c"``, a gate of the layer) or ``"logit"``/``"prob"`` for a class.
    layer : int
        The unit's layer.
    alphas, weights : sequence of float
        The path's points on [0, 1] and their weights.
    states : list, optional
        Per layer its state at the first frame (a tuple of ``(rows, hidden)`` tensors, or None for zeros).
    budget : int
        Elements of kept activations per chunk of points.

    Returns
    -------
    Tensor
        ``(rows, frames, input_size)``, in the model's dtype; 0 after each row's target frame, NaN up to it for a row
        whose input holds NaN there.

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import RNNClassifier
    >>> model = RNNClassifier("gru", input_size=3, hidden_size=4, num_classes=5).eval()
    >>> x = torch.randn(2, 6, 3, requires_grad=True)
    >>> model(x)[torch.arange(2), torch.tensor([5, 2]), 1].sum().backward()
    >>> g = path_input_gradient(model, torch.zeros(2, 6, 3), x.detach(), pos=torch.tensor([5, 2]),
    ...                         index=torch.tensor([1, 1]), kind="class", var="logit")
    >>> torch.allclose(g, x.grad, atol=1e-6)
    True
    """
    path = _Path(model, x0, dx, kind, var, _top(model, kind, layer), states)
    alphas_t = torch.as_tensor(list(alphas), dtype=path.dtype, device=path.device)
    weights_t = torch.as_tensor(list(weights), dtype=path.dtype, device=path.device)
    R, T = path.rows, path.frames
    most = max(1, budget // max(1, R * T * path_buffer_elements(model, kind, layer)))
    chunk = -(-len(alphas_t) // -(-len(alphas_t) // most))  # chunks of (nearly) equal size, each <= most
    pos, index = pos.to(path.device).long(), index.to(path.device).long()
    for a in range(0, len(alphas_t), chunk):
        path.run(alphas_t[a: a + chunk], weights_t[a: a + chunk], pos, index)
    gradient = path.input_gradient()
    frame = torch.arange(T, device=path.device).view(1, T)
    upto = frame <= pos.view(R, 1)  # (rows, frames): the frames a row's target reads
    poisoned = (path.bad.any(-1).transpose(0, 1) & upto).any(1)  # NaN at or before the target frame
    if bool(poisoned.any()):
        gradient[poisoned.view(R, 1) & upto] = float("nan")  # as autograd through the model's own forward
    return gradient


class _Path:
    """One call of :func:`path_input_gradient`: the normalised path, the tapes, the first layer's projections
    and the step sums, filled chunk of points after chunk."""

    def __init__(self, model, x0, dx, kind, var, top, states):
        self.model, self.kind, self.var, self.top, self.states = model, kind, var, top, states
        self.dtype, self.device = model.head.weight.dtype, model.head.weight.device
        self.rows, self.frames, _ = dx.shape
        R, T, dtype = self.rows, self.frames, self.dtype
        self.std = model.feature_std.to(dtype)
        z0 = ((x0.to(dtype) - model.feature_mean.to(dtype)) / self.std).transpose(0, 1).contiguous()  # (T, R, I)
        zd = (dx.to(dtype) / self.std).transpose(0, 1).contiguous()
        self.bad = torch.isnan(z0) | torch.isnan(zd)  # NaN: run as 0 here, the rows it reaches set to NaN at the end
        self.z0, self.zd = z0.masked_fill_(self.bad, 0.0), zd.masked_fill_(self.bad, 0.0)
        self.tapes = [make_tape(model.layers[j], dtype) for j in range(top + 1)]
        self.workspace = Workspace()  # every chunk of points in the same memory (allocated once per call)
        for tape in self.tapes:
            tape.workspace = self.workspace
        self.masks = [None if (m := model.layers[j].keep_mask(None)) is None else m.to(dtype) for j in range(top + 1)]
        first = self.tapes[0]
        self.G0 = G0 = first.input_weight.shape[0]
        p0 = z0.view(T * R, -1) @ first.input_weight.t()  # the projection of the rows, once: W_ih z0 + b ...
        if first.input_bias is not None:
            p0.add_(first.input_bias)
        self.p0 = p0.view(T, R, G0)
        self.p1 = (zd.view(T * R, -1) @ first.input_weight.t()).view(T, R, G0)  # ... and W_ih dz
        self.acc = torch.zeros(T, R, G0, dtype=dtype, device=self.device)  # sum_s w_s dGates of the first layer
        self.acc_z: Tensor | None = None  # sum_s w_s d(the first layer's shortcut)

    def run(self, alphas: Tensor, weights: Tensor, pos: Tensor, index: Tensor) -> None:
        """Forward and backward of one chunk of points, summed into ``acc``."""
        S = len(alphas)
        pos_rep, index_rep = pos.repeat(S), index.repeat(S)  # row s * R + r: point s of row r
        out = self._forward(alphas)
        d_out = _class_gradient(self.model, out, pos_rep, index_rep, self.var, self.dtype) \
            if self.kind == "class" else None
        del out
        self._backward(d_out, weights, _seeds(self.kind, self.var, pos_rep, index_rep))

    def _forward(self, alphas):
        """Run the layers up to the target's; return what the last one passes on (when the target reads it)."""
        T, R, G0, S = self.frames, self.rows, self.G0, len(alphas)
        N = S * R
        first_gates = self.workspace.empty("gates 0", (T, N, G0), self.p0)
        fill = PointFill(self.p0, self.p1, alphas)  # every point of frame t: (W_ih z0 + b) + a_s (W_ih dz)

        state0 = _initial(self.model, self.states, R, S, self.dtype, self.device, self.top)
        inp = None
        for j, tape in enumerate(self.tapes):
            if j:
                A = self.workspace.empty(f"gates {j}", (T, N, tape.input_weight.shape[0]), self.p0)
                _project(tape, inp, A)
            keep_h = j < self.top or self.kind == "class"
            h = tape.forward(first_gates if j == 0 else A, state0[j], self.masks[j], keep_h=keep_h,
                             fill=None if j else fill)
            if keep_h and self.model.shortcuts[j]:
                if j:
                    h = h + inp
                else:
                    h = h.clone()
                    view = h.view(T, S, R, -1)
                    view.add_(self.z0.unsqueeze(1)).addcmul_(alphas.view(1, S, 1, 1), self.zd.unsqueeze(1))
            inp = h
        return inp

    def _backward(self, d_out, weights, seeds):
        T, R, S = self.frames, self.rows, len(weights)
        N = S * R
        to_acc = StepSum(self.acc, weights)  # sum_s w_s dGates of frame t

        for j in range(self.top, -1, -1):
            tape = self.tapes[j]
            d_gates = tape.backward(d_out, self.masks[j], seeds if j == self.top else {},
                                    on_frame=None if j else to_acc)
            shortcut = self.model.shortcuts[j] and d_out is not None
            if j:
                d_in = (d_gates.view(T * N, -1) @ tape.input_weight).view(T, N, -1)  # one GEMM, every point
                if shortcut:
                    d_in.add_(d_out)
                d_out = d_in
            elif shortcut:
                part = torch.matmul(weights.view(1, 1, S), d_out.reshape(T, S, -1)).view(T, R, -1)
                self.acc_z = part if self.acc_z is None else self.acc_z.add_(part)
            tape.release()  # free this layer's buffers before the next
            del d_gates

    def input_gradient(self) -> Tensor:
        """``(rows, frames, input_size)``: the step sums through the first layer's input weights, one GEMM."""
        T, R = self.frames, self.rows
        dz = (self.acc.view(T * R, self.G0) @ self.tapes[0].input_weight).view(T, R, -1)
        if self.acc_z is not None:
            dz.add_(self.acc_z)
        dz.div_(self.std).masked_fill_(self.bad, 0.0)
        return dz.transpose(0, 1)


def _project(tape, inp: Tensor, A: Tensor) -> None:
    """``A = inp @ W_ih.T + b`` over every frame and point, one GEMM."""
    flat, rows = A.view(-1, A.shape[-1]), inp.reshape(-1, inp.shape[-1])
    if tape.input_bias is None:
        torch.mm(rows, tape.input_weight.t(), out=flat)
    else:
        torch.addmm(tape.input_bias, rows, tape.input_weight.t(), out=flat)

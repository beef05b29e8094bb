"""PyTorch's own recurrent modules through the cell protocol: every layer and direction of ``nn.RNN``/``nn.LSTM``/
``nn.GRU``, and the cells ``nn.RNNCell``/``nn.LSTMCell``/``nn.GRUCell`` called step by step.

A fused module runs all its layers and both directions in one kernel and returns only the last layer's output, so
its internals are recovered layer by layer (:class:`TorchRNN`): one rnnscope layer of :mod:`rnnscope.models._cells`
per layer and direction, holding the module's own parameters (shared, not copied), traced with the layer protocol
(:meth:`RecurrentLayer.trace_to`: the native kernels on the CPU, else the fused kernel and the vectorised recovery).
A layer's input is the previous layer's output, forward and backward directions concatenated; the backward direction
runs over each sequence's valid part reversed (:func:`reverse_valid`). LSTM projections (``proj_size > 0``): the
fused single-layer kernel gives the projected ``h``, then the gates (which read the projected ``h_{t-1}``) and the
cell come from the same equations, ``h = W_hr (o * tanh(c))``. The cells' variables are computed from each call's
recorded input and state (:func:`cell_internals`), vectorised over the calls. Every equation is the one of
:mod:`rnnscope.models._equations`.

Unit masks (``keep``, True = keep) mean what they mean for rnnscope's layers: a silenced unit's output ``h`` is 0 at
every step inside the recurrence (the recurrent weight columns reading it are zeroed) and in what the layer passes on.
"""
from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..schema import STATE_VARIABLES
from ._cells import GRULayer, LSTMLayer, RNNLayer
from ._equations import gru_gates, gru_output, lstm_cell, lstm_cell_scan, lstm_gates, lstm_output, rnn_output
from ._layers import UNROLLED, RecurrentLayer
from ._trace import buffer_outputs, view_outputs

__all__ = ["RECURRENT_MODULES", "RECURRENT_CELLS", "Entry", "TorchRNN", "module_kind", "module_entries",
           "cell_internals", "cell_forward", "reverse_valid", "recurrent_modules"]

#: The fused modules whose every layer and direction is captured.
RECURRENT_MODULES = (nn.RNN, nn.LSTM, nn.GRU)
#: The cells whose every call is one step.
RECURRENT_CELLS = (nn.RNNCell, nn.LSTMCell, nn.GRUCell)
DIRECTIONS = ("forward", "backward")


def module_kind(module: nn.Module) -> str:
    """``"lstm"``, ``"gru"`` or ``"rnn"`` (tanh or relu) for a recurrent module or cell.

    Examples
    --------
    >>> from torch import nn
    >>> module_kind(nn.GRU(2, 3)), module_kind(nn.LSTMCell(2, 3))
    ('gru', 'lstm')
    """
    for kinds, kind in (((nn.LSTM, nn.LSTMCell), "lstm"), ((nn.GRU, nn.GRUCell), "gru"), ((nn.RNN, nn.RNNCell), "rnn")):
        if isinstance(module, kinds):
            return kind
    raise TypeError(f"The 'module' parameter of module_kind must be one of nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, "
                    f"nn.LSTMCell or nn.GRUCell. Got {type(module).__name__} instead.")


def recurrent_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Every recurrent module and cell of ``model`` by its name in ``model.named_modules()`` (``""`` for the model
    itself when it is one).

    Examples
    --------
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.LSTM(3, 4))
    >>> list(recurrent_modules(model))
    ['1']
    """
    return {name: m for name, m in model.named_modules() if isinstance(m, RECURRENT_MODULES + RECURRENT_CELLS)}


@dataclass(frozen=True)
class Entry:
    """One entry of the ``layer`` dimension: a layer and direction of a module (a cell has one, forward).

    ``units`` counts the units of ``c`` and the gates (``hidden_size``); ``h_units`` those of ``h`` (the
    projection size of an LSTM with ``proj_size > 0``, else ``hidden_size``).
    """

    layer: int
    direction: str
    units: int
    h_units: int


def module_entries(module: nn.Module) -> list[Entry]:
    """The entries of a module, layer after layer, forward before backward.

    Examples
    --------
    >>> from torch import nn
    >>> [(e.layer, e.direction, e.units, e.h_units) for e in module_entries(nn.LSTM(2, 4, 2, proj_size=3))]
    [(0, 'forward', 4, 3), (1, 'forward', 4, 3)]
    """
    if isinstance(module, RECURRENT_CELLS):
        return [Entry(0, "forward", module.hidden_size, module.hidden_size)]
    assert isinstance(module, nn.RNNBase)  # a recurrent module: a cell (above), nn.RNN, nn.LSTM or nn.GRU
    h_units = getattr(module, "proj_size", 0) or module.hidden_size
    n_dir = 2 if module.bidirectional else 1
    return [Entry(layer, DIRECTIONS[d], module.hidden_size, h_units)
            for layer in range(module.num_layers) for d in range(n_dir)]


# --------------------------------------------------------------------------------------------- helpers


def reverse_valid(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse each row's first ``lengths[b]`` frames along dim 1 (frames past them stay in place); all frames
    when ``lengths`` is None. Its own inverse.

    Examples
    --------
    >>> import torch
    >>> reverse_valid(torch.arange(8.).view(2, 4, 1), torch.tensor([4, 2]))[..., 0].tolist()
    [[3.0, 2.0, 1.0, 0.0], [5.0, 4.0, 6.0, 7.0]]
    """
    if lengths is None:
        return x.flip(1)
    n = x.shape[1]
    t = torch.arange(n, device=x.device)[None, :]
    lengths = lengths.to(x.device)[:, None]
    index = torch.where(t < lengths, lengths - 1 - t, t)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


def _reversed_into(x: Tensor, lengths: Tensor | None, into: Tensor | None) -> Tensor:
    """:func:`reverse_valid` of ``x``, written into ``into`` when given (and returned): in one pass (read
    backwards, written in order) when every frame is valid on the CPU."""
    if into is None:
        return reverse_valid(x, lengths)
    if lengths is None and x.device.type == "cpu" and into.device.type == "cpu" and x.dtype == into.dtype:
        into.detach().numpy()[...] = x.detach().numpy()[:, ::-1]
    else:
        into.copy_(reverse_valid(x, lengths))
    return into


def _copied_into(values: dict, into: dict | None) -> dict:
    """``values`` (with ``h``), those of ``into`` replaced by its destinations, ``values`` copied in; without
    ``into`` the entry's ``h`` stays out (the caller keeps it apart)."""
    if not into:
        return {k: v for k, v in values.items() if k != "h"}
    for name, target in into.items():
        target.copy_(values[name])
    return {**{k: v for k, v in values.items() if k != "h"}, **into}


def _last_valid(x: Tensor, lengths: Tensor | None) -> Tensor:
    """``x[b, lengths[b] - 1]`` for every row (the last frame when ``lengths`` is None)."""
    if lengths is None:
        return x[:, -1]
    index = (lengths.to(x.device) - 1).clamp(min=0)
    return x[torch.arange(x.shape[0], device=x.device), index]


class _ReluRNNLayer(RNNLayer):
    """``nn.RNN(nonlinearity="relu")``'s layer: ``h_t = relu(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``."""

    _torch_kwargs = {"nonlinearity": "relu"}

    def _step(self, x_t, state, k):
        (h,) = state
        pre = F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(h, self.weight_hh, self.bias_hh)
        h = rnn_output(pre, nonlinearity="relu")
        return h, (h,), {}

    def _internals(self, x, h_seq, h_prev, state0, k):
        pre = F.linear(x, self.weight_ih, self.bias_ih) + F.linear(h_prev, self.weight_hh, self.bias_hh)
        return {"h": rnn_output(pre, nonlinearity="relu")}


def _layer_class(module: nn.Module):
    if isinstance(module, nn.LSTM):
        return LSTMLayer
    if isinstance(module, nn.GRU):
        return GRULayer
    return _ReluRNNLayer if module.nonlinearity == "relu" else RNNLayer


# --------------------------------------------------------------------------------------------- fused modules


@dataclass
class ModuleInput:
    """A call of a fused module, batch first: ``x`` ``(batch, time, input)`` (zeros past ``lengths``), ``lengths``
    ``(batch,)`` for a PackedSequence input (else None), ``hx`` the initial state as the module takes it
    (``(layers * directions, batch, hidden)``, a tuple ``(h0, c0)`` for an LSTM, or None), and how to give the
    output back in the module's own form."""

    x: Tensor
    lengths: Tensor | None
    hx: Any
    packed: PackedSequence | None
    unbatched: bool


#: module -> (ids of its parameters, its view): building a view costs about 0.5 ms per layer and direction
_VIEWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class TorchRNN:
    """Layer-by-layer view of one ``nn.RNN``/``nn.LSTM``/``nn.GRU``: run it, trace it, silence units of it.

    Parameters
    ----------
    module : nn.RNN, nn.LSTM or nn.GRU
        Any ``num_layers``, ``bidirectional``, ``batch_first``, ``bias``, ``proj_size``, tanh or relu. Its
        parameters are shared with the per-layer views (never copied), so later changes to them are seen.

    Examples
    --------
    >>> import torch
    >>> lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    >>> view = TorchRNN(lstm)
    >>> x = torch.randn(2, 5, 3)
    >>> with torch.no_grad():
    ...     out, _, traces = view.run(view.prepare(x), trace=True)
    ...     ref, _ = lstm(x)
    >>> len(traces), sorted(traces[3])[:2], torch.allclose(out, ref, atol=1e-5)
    (4, ['c', 'cell_input'], True)
    """

    def __init__(self, module: nn.Module):
        if not isinstance(module, RECURRENT_MODULES):
            raise TypeError(f"The 'module' parameter of TorchRNN must be an nn.RNN, nn.LSTM or nn.GRU. "
                            f"Got {type(module).__name__} instead.")
        self.module: nn.RNNBase = module
        self.kind = module_kind(module)
        self.entries = module_entries(module)
        self.n_dir = 2 if module.bidirectional else 1
        self.proj = int(getattr(module, "proj_size", 0) or 0)
        self.layers: list[nn.Module] = []
        for i, _ in enumerate(self.entries):
            self.layers.append(self._view(i))

    @classmethod
    def of(cls, module: nn.Module) -> TorchRNN:
        """The view of ``module``, built once and reused while the module holds the same parameter objects (the
        views share them, so in-place updates such as an optimiser step are seen; replaced parameters rebuild it).

        Examples
        --------
        >>> lstm = nn.LSTM(3, 4, batch_first=True)
        >>> TorchRNN.of(lstm) is TorchRNN.of(lstm)
        True
        """
        key = tuple(id(p) for p in module.parameters(recurse=False))
        cached = _VIEWS.get(module)
        if cached is not None and cached[0] == key:
            return cached[1]
        view = cls(module)
        view.module = cast(nn.RNNBase, weakref.proxy(module))  # the cache must not keep the module alive
        _VIEWS[module] = (key, view)
        return view

    @property
    def variables(self) -> tuple[str, ...]:
        """The variables of every entry (``schema.STATE_VARIABLES[kind]``)."""
        return STATE_VARIABLES[self.kind]

    def _params(self, i: int) -> dict[str, Tensor]:
        layer, d = divmod(i, self.n_dir)
        suffix = f"_l{layer}" + ("_reverse" if d else "")
        names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if self.module.bias else [])
        names += ["weight_hr"] if self.proj else []
        return {name: getattr(self.module, name + suffix) for name in names}

    def _view(self, i: int) -> nn.Module:
        """A single-layer module sharing the parameters of entry ``i``: an rnnscope layer, or for projections a
        one-layer ``nn.LSTM`` with ``proj_size``."""
        params = self._params(i)
        m = self.module
        input_size = params["weight_ih"].shape[1]
        with torch.device("meta"):  # no memory, no random initialisation: the parameters are replaced below
            if self.proj:
                view = nn.LSTM(input_size, m.hidden_size, bias=m.bias, batch_first=True, proj_size=self.proj)
                target = view
            else:
                view = _layer_class(m)(input_size, m.hidden_size, bias=m.bias)
                target = view.rnn
        for name, p in params.items():
            setattr(target, f"{name}_l0", p)
        return view

    # ---- calls --------------------------------------------------------------------------------------------
    def prepare(self, input, hx=None) -> ModuleInput:
        """A module call's arguments, batch first (what :meth:`run` takes)."""
        m = self.module
        packed = input if isinstance(input, PackedSequence) else None
        unbatched = packed is None and input.dim() == 2
        lengths = None
        if packed is not None:
            x, lengths = pad_packed_sequence(packed, batch_first=True)
        elif unbatched:
            x = input.unsqueeze(0)
        else:
            x = input if m.batch_first else input.transpose(0, 1)
        if unbatched and hx is not None:
            hx = tuple(s.unsqueeze(1) for s in hx) if isinstance(hx, tuple) else hx.unsqueeze(1)
        return ModuleInput(x, lengths, hx, packed, unbatched)

    def states0(self, call: ModuleInput) -> list[tuple[Tensor, ...] | None]:
        """Initial state of every entry, ``(batch, units)`` tensors (None: zeros)."""
        if call.hx is None:
            return [None] * len(self.entries)
        if isinstance(call.hx, (tuple, list)):
            return [tuple(s[i] for s in call.hx) for i in range(len(self.entries))]
        return [(call.hx[i],) for i in range(len(self.entries))]

    def run(self, call: ModuleInput, keeps: Sequence[Tensor | None] | None = None, trace: bool = False,
            variables: Sequence[str] | None = None, *, outputs: Sequence[dict | None] | None = None,
            join: bool = True) -> tuple[Tensor | list[Tensor], list[tuple[Tensor, ...]], list[dict]]:
        """Run the module layer by layer.

        Parameters
        ----------
        call : ModuleInput
            From :meth:`prepare`.
        keeps : list of (bool tensor or None), optional
            Per entry, the units kept (True); see the module documentation.
        trace : bool
            Keep the internal variables of every entry.
        variables : sequence of str, optional
            With ``trace``: which variables to keep (default all; ``h`` always).
        outputs : list of (dict or None), optional
            With ``trace``: per entry, variable -> ``(batch, time, units)`` tensor (e.g. a view of a run's buffer)
            the variable is written into, the native kernels writing there as they run (a backward direction's
            values are written there in time order, in one pass); the traces are then these tensors. Entries that
            are None, variables left out, and inputs other than float32 on the CPU (whose next layer reads ``h``
            at their own precision) are traced into fresh tensors.
        join : bool
            Join the last layer's directions along units (the module's output form); False: leave them apart
            (e.g. to compare each with its part of the module's own output, with no joined copy).

        Returns
        -------
        output : Tensor or list of Tensor
            ``(batch, time, directions * h_units)``, the last layer's output (frames past ``lengths``
            unspecified); with ``join=False`` its directions, each ``(batch, time, h_units)``.
        finals : list of tuple of Tensor
            Per entry, the state after its last valid frame.
        traces : list of dict
            With ``trace``: per entry, variable -> ``(batch, time, units)`` (``h``: ``h_units``); else empty.
        """
        keeps = [None] * len(self.entries) if keeps is None else list(keeps)
        wanted = [v for v in self.variables if v != "h" and (variables is None or v in variables)]
        states = self.states0(call)
        lengths = call.lengths
        if lengths is not None and bool((lengths == call.x.shape[1]).all()):
            lengths = None  # every row runs to the end
        inp = call.x
        direct = inp.device.type == "cpu" and inp.dtype == torch.float32  # outputs= applies (else fresh tensors)
        finals, traces = [], []
        for layer in range(self.module.num_layers):
            outs = []
            for d in range(self.n_dir):
                i = layer * self.n_dir + d
                x = inp if d == 0 else reverse_valid(inp, lengths)
                # an LSTM's final state after each row's last valid frame reads c (packed sequences)
                traced = wanted if trace else []
                need = traced + (["c"] if self.kind == "lstm" and lengths is not None and "c" not in traced else [])
                into = (outputs[i] or None) if (trace and outputs is not None and direct) else None
                h, values, final = self._run_entry(i, x, states[i], keeps[i], need, into if d == 0 else None)
                finals.append(final if lengths is None else self._final(h, values, lengths))
                if d:
                    into = into or {}
                    h = _reversed_into(h, lengths, into.get("h"))
                    values = {k: _reversed_into(v, lengths, into.get(k)) for k, v in values.items()}
                if trace:
                    traces.append({"h": values.get("h", h), **{k: values[k] for k in wanted}})
                outs.append(h)
            if not join and layer == self.module.num_layers - 1:
                return outs, finals, traces
            inp = torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]
            if self.module.dropout and self.module.training and layer < self.module.num_layers - 1:
                inp = F.dropout(inp, self.module.dropout, training=True)
        return inp, finals, traces

    def _final(self, h: Tensor, values: dict, lengths: Tensor | None) -> tuple[Tensor, ...]:
        h_last = _last_valid(h, lengths)
        if self.kind != "lstm":
            return (h_last,)
        return (h_last, _last_valid(values["c"], lengths))

    def _run_entry(self, i: int, x: Tensor, state, keep, need: Sequence[str], into: dict | None = None,
                   ) -> tuple[Tensor, dict, tuple]:
        """``(h, the variables of need, final state after the last frame)`` of entry ``i``; with ``into``
        (variable -> destination, ``h`` among them), the variables are those destinations, written."""
        view = self.layers[i]
        if self.proj:
            h, values, final = self._run_projected(i, x, state, keep)
            return h, _copied_into({"h": h, **values}, into), final
        assert isinstance(view, RecurrentLayer)  # without projections every view is an rnnscope layer
        if need or into:
            out = None
            if x.device.type == "cpu" and x.dtype == torch.float32:
                out = view_outputs(into, [x.shape[1]] * x.shape[0]) if into and set(need) <= set(into) else None
                out = out or buffer_outputs(need, x.shape[0], x.shape[1], self.module.hidden_size)
            if out is not None:
                h, final, _ = view.trace_to(x, state, keep, out)
                if into and set(out.arrays) == set(into):  # written where they belong by the trace
                    return h, dict(into), final
                return h, _copied_into({"h": h, **out.arrays}, into), final
            values, final = view.trace(x, state, keep=keep)
            return values["h"], _copied_into({k: values[k] for k in ("h", *need)}, into), final
        h, final = view(x, state, keep=keep)
        return h, {}, final

    def _run_projected(self, i: int, x: Tensor, state, keep) -> tuple[Tensor, dict, tuple]:
        """An LSTM entry with a projection: the fused kernel, then every variable from the equations."""
        view, p = self.layers[i], self._params(i)
        batch, hidden = x.shape[0], self.module.hidden_size
        h0 = x.new_zeros(batch, self.proj) if state is None else state[0]
        c0 = x.new_zeros(batch, hidden) if state is None else state[1]
        k = None if keep is None else keep.to(x.dtype)
        w_hh = p["weight_hh"] if k is None else p["weight_hh"] * k
        bias = p["bias_ih"] + p["bias_hh"] if self.module.bias else None
        if k is not None:
            h0 = h0 * k
        if UNROLLED.get() and torch.is_grad_enabled():
            h_seq = _projected_steps(x, h0, c0, p, w_hh, bias, k)
        elif k is not None:
            h_seq, _ = torch.func.functional_call(view, {"weight_hh_l0": w_hh}, (x, (h0[None], c0[None])))
            h_seq = h_seq * k
        else:
            h_seq, _ = view(x, (h0[None].contiguous(), c0[None].contiguous()))
        h_prev = torch.cat([h0.unsqueeze(1), h_seq[:, :-1]], dim=1)
        gates, forget, cand, out_gate = lstm_gates(F.linear(x, p["weight_ih"], bias) + F.linear(h_prev, w_hh))
        c = lstm_cell_scan(forget, gates * cand, c0)
        h = F.linear(lstm_output(out_gate, c), p["weight_hr"])
        if k is not None:
            h = h * k
        values = {"c": c, "input_gate": gates, "forget_gate": forget, "output_gate": out_gate, "cell_input": cand}
        return h, values, (h[:, -1], c[:, -1])

    def forward_like(self, call: ModuleInput, keeps: Sequence[Tensor | None], traces: list | None = None,
                     variables: Sequence[str] | None = None):
        """The module's own forward, layer by layer with unit masks, in the module's output form:
        ``(output, h_n)`` or ``(output, (h_n, c_n))``, a PackedSequence output for a PackedSequence input.

        With a list as ``traces``, every entry's variables (:meth:`run` with ``trace=True`` and ``variables``) are
        appended to it, batch first (differentiable when autograd records)."""
        out, finals, traced = self.run(call, keeps, trace=traces is not None, variables=variables)
        assert isinstance(out, Tensor)  # joined (the default)
        if traces is not None:
            traces.extend(traced)
        h_n = torch.stack([f[0] for f in finals])
        hidden: tuple[Tensor, ...] | Tensor = (h_n, torch.stack([f[1] for f in finals])) if self.kind == "lstm" \
            else h_n
        if call.packed is not None:
            assert call.lengths is not None  # a packed input comes with its lengths
            packed = call.packed
            order = packed.sorted_indices
            padded = out if order is None else out.index_select(0, order.to(out.device))
            lengths = call.lengths if order is None else call.lengths.index_select(0, order.cpu())
            data = pack_padded_sequence(padded, lengths.cpu(), batch_first=True, enforce_sorted=True).data
            return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), hidden
        if call.unbatched:
            hidden = tuple(s[:, 0] for s in hidden) if isinstance(hidden, tuple) else hidden[:, 0]
            return out[0], hidden
        return (out if self.module.batch_first else out.transpose(0, 1)), hidden


def _projected_steps(x: Tensor, h0: Tensor, c0: Tensor, p: dict, w_hh: Tensor, bias: Tensor | None,
                     k: Tensor | None) -> Tensor:
    """A projected LSTM entry's ``h`` frame after frame (:func:`rnnscope.models.unrolled`): the equations of
    :meth:`TorchRNN._run_projected`, differentiable without the fused kernel."""
    pre_x = F.linear(x, p["weight_ih"], bias)
    h, c, outs = h0, c0, []
    for t in range(x.shape[1]):
        i, f, g, o = lstm_gates(pre_x[:, t] + F.linear(h, w_hh))
        c = lstm_cell(f, c, i * g)
        h = F.linear(lstm_output(o, c), p["weight_hr"])
        h = h if k is None else h * k
        outs.append(h)
    return torch.stack(outs, 1)


# --------------------------------------------------------------------------------------------- cells


def _cell_params(cell: nn.Module):
    return cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh


def cell_internals(cell: nn.Module, x: Tensor, h_prev: Tensor, c_prev: Tensor | None = None,
                   keep: Tensor | None = None) -> dict[str, Tensor]:
    """Every variable of calls of a cell, from each call's input and state (vectorised over any leading dims).

    Parameters
    ----------
    cell : nn.RNNCell, nn.LSTMCell or nn.GRUCell
    x : Tensor
        ``(..., input_size)``, what each call received.
    h_prev, c_prev : Tensor
        ``(..., hidden_size)``, the state each call received (``c_prev`` for an LSTM cell only; None there means
        zeros, as ``nn.LSTMCell`` takes a missing state).
    keep : bool tensor (hidden_size,), optional
        Units kept: silenced units read 0 from ``h_prev`` and output 0.

    Returns
    -------
    dict
        ``schema.STATE_VARIABLES[kind]`` -> ``(..., hidden_size)``.

    Examples
    --------
    >>> import torch
    >>> cell = torch.nn.LSTMCell(3, 4)
    >>> x, h, c = torch.randn(2, 3), torch.randn(2, 4), torch.randn(2, 4)
    >>> inside = cell_internals(cell, x, h, c)
    >>> ref = cell(x, (h, c))
    >>> torch.allclose(inside["h"], ref[0], atol=1e-6), torch.allclose(inside["c"], ref[1], atol=1e-6)
    (True, True)
    """
    kind = module_kind(cell)
    w_ih, w_hh, b_ih, b_hh = _cell_params(cell)
    k = None if keep is None else keep.to(x.dtype)
    if k is not None:
        h_prev = h_prev * k
    x_pre, h_pre = F.linear(x, w_ih, b_ih), F.linear(h_prev, w_hh, b_hh)
    if kind == "lstm":
        i, f, g, o = lstm_gates(x_pre + h_pre)
        if c_prev is None:
            c_prev = torch.zeros_like(h_prev)
        c = lstm_cell(f, c_prev, i * g)
        out = {"h": lstm_output(o, c), "c": c, "input_gate": i, "forget_gate": f, "output_gate": o,
               "cell_input": g}
    elif kind == "gru":
        r, z, n = gru_gates(x_pre, h_pre)
        out = {"h": gru_output(z, n, h_prev), "update_gate": z, "reset_gate": r, "candidate": n}
    else:
        assert isinstance(cell, (nn.RNN, nn.RNNCell))  # module_kind: "rnn"
        out = {"h": rnn_output(x_pre + h_pre, nonlinearity=cell.nonlinearity)}
    if k is not None:
        out["h"] = out["h"] * k
    return {name: out[name] for name in STATE_VARIABLES[kind]}


def cell_state(cell: nn.Module, x: Tensor, hx) -> tuple[Tensor, Tensor | None]:
    """The ``(h_prev, c_prev)`` a cell call used (zeros where ``hx`` is None; ``c_prev`` None for non-LSTM)."""
    shape = (*x.shape[:-1], cell.hidden_size)
    if hx is None:
        zeros = x.new_zeros(shape)
        return zeros, (zeros if isinstance(cell, nn.LSTMCell) else None)
    if isinstance(cell, nn.LSTMCell):
        return hx[0], hx[1]
    return hx, None


def cell_forward(cell: nn.Module, x: Tensor, hx, keep: Tensor):
    """A cell call with units silenced: the cell reads 0 from silenced units of ``h`` and outputs 0 for them (its
    own kernel, masked state in and out)."""
    k = keep.to(x.dtype)
    h_prev, c_prev = cell_state(cell, x, hx)
    if isinstance(cell, nn.LSTMCell):
        assert c_prev is not None  # cell_state gives an LSTM cell its c
        h, c = type(cell).forward(cell, x, (h_prev * k, c_prev))
        return h * k, c
    return type(cell).forward(cell, x, h_prev * k) * k

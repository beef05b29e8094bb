"""The cell protocol: one base class for every recurrent layer kind.

Every layer type (``"rnn"`` vanilla tanh, ``"lstm"``, ``"gru"``, ``"lazy_lstm"``; :mod:`rnnscope.models._cells`)
is an :class:`torch.nn.Module` with the same interface, so capture, unit masks, ``from_torch`` and the equivalence
tests are written once:

========================================================  ==========================================================
``kind``, ``input_size``, ``hidden_size``, ``bias``        what the layer is
``variables``                                             ``schema.STATE_VARIABLES[kind]``: the internal variables
``state_names``                                           ``("h",)`` or ``("h", "c")``: what a state tuple holds
``initial_state(batch_size, device=None, dtype=None)``    zeros, a tuple of ``(batch, hidden)`` tensors
``forward(x, state=None, keep=None)``                     fast path -> ``(h_seq (B, T, H), final_state)``
``step(x_t, state=None, keep=None)``                      one step, the reference -> ``(h_t, state, internals)``
``internals(x, h_seq, state0=None, keep=None)``           every variable for the whole sequence, ``(B, T, H)`` each
``trace(x, state=None, keep=None)``                       every variable in one pass -> ``(variables, final_state)``
``trace_to(x, state, keep, out)``                         the same, written into caller-given destinations
``masked(keep)``                                          a copy whose units outside ``keep`` are silenced
========================================================  ==========================================================

Shapes are batch first: ``x`` is ``(batch, time, input_size)``, ``x_t`` is ``(batch, input_size)``, every state
tensor and every per-step internal is ``(batch, hidden_size)``.

``step`` is the reference: each cell's equations are written once, as the pointwise functions of
:mod:`rnnscope.models._equations`, and ``step`` applies them to one frame. ``internals`` applies the same functions
to whole sequences: it recovers every variable exactly from the input and ``h_seq`` (all gate pre-activations
come from ``x`` and ``h_{t-1} = cat(h0, h_seq[:, :-1])`` in one vectorised pass; the LSTM cell state is the only
recurrence left, :func:`~rnnscope.models.lstm_cell_scan`). The fused PyTorch kernels behind ``forward`` and the
native C++ kernels behind ``trace`` implement the equations on their own; tests check both against ``step``.

``trace`` runs the native kernels (:mod:`rnnscope.models._native`) on the CPU for float32 without autograd, else
(no compiler, a GPU, float64, autograd, or ``set_native(False)``) the fused ``forward`` followed by the vectorised
``internals``. Both agree with ``step`` to float rounding (1e-6).

Unit masks (``keep``, a bool tensor of shape ``(hidden_size,)``, True = keep): a masked unit's output ``h`` is 0 at
every step *inside* the recurrence (including the initial state), so it feeds nothing to the next step. The fast
paths implement this by zeroing the recurrent weight columns that read masked units (for the lazy LSTM, every
weight reading ``m_t``: the gates' ``m_{t-1}`` and the candidate's ``m_t``) so the fused kernels stay usable, and
then zeroing the masked units of ``h_seq`` and of the final ``h``. Other state (the LSTM cell ``c``, the gates) of a
masked unit keeps evolving and is reported as computed. ``layer.masked(keep)`` returns a copy that applies a mask
on every call (the weights themselves are never modified); a ``keep`` argument is combined with it (logical and).
"""
from __future__ import annotations

import contextvars
import copy

import torch
from torch import Tensor, nn

from ..schema import STATE_VARIABLES
from ._checks import as_float_tensor, check_int, check_keep, check_sequence
from ._native import usable_kernels
from ._trace import TraceOutputs, buffer_outputs, check_outputs, run_native, write_outputs

__all__ = ["RecurrentLayer", "State", "UNROLLED"]

State = tuple[Tensor, ...]

#: True inside :func:`rnnscope.models.unrolled`: every layer's fast path runs its exact step loop (the reference
#: :meth:`RecurrentLayer.step`, frame after frame) instead of the fused kernel while autograd records, so it never
#: needs cuDNN's RNN backward (which refuses to run in eval mode); without autograd the fused kernel still runs.
UNROLLED: contextvars.ContextVar[bool] = contextvars.ContextVar("rnnscope_unrolled", default=False)


class RecurrentLayer(nn.Module):
    """Base class of the layers: argument checks, states, unit masks and tracing; subclasses give the equations.

    Subclasses set ``kind`` and implement ``_forward(x, state, k)``, ``_step(x_t, state, k)`` and
    ``_internals(x, h_seq, h_prev, state0, k)`` where ``k`` is the unit mask as a 0/1 float tensor (or None),
    ``state`` has the masked units of ``h`` already set to 0, and ``h_seq``/``h_prev`` are masked. A layer with a
    native kernel sets ``_native_order`` (the kernel's variables, ``h`` last) and implements
    ``_native_weights(k) -> (kernel name, weight tensors)``: the kernel is called with ``(x, *weights, *state,
    keep)``.

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
    Every layer answers the same protocol (``forward``, ``step``, ``internals``, ``trace``, ``masked``):

    >>> import torch
    >>> from rnnscope.models import RecurrentLayer, make_layer
    >>> layer = make_layer("lstm", input_size=3, hidden_size=4)
    >>> isinstance(layer, RecurrentLayer), layer.state_names, layer.has_native_kernel
    (True, ('h', 'c'), True)
    >>> x = torch.randn(2, 5, 3)
    >>> with torch.no_grad():
    ...     h, _ = layer(x)
    ...     h0, _, inside = layer.step(x[:, 0])
    ...     silenced, _ = layer.masked([True, False, True, True])(x)
    >>> torch.allclose(h[:, 0], h0, atol=1e-6), sorted(inside)[:2], bool((silenced[..., 1] == 0).all())
    (True, ['c', 'cell_input'], True)
    """

    kind: str = ""
    _native_order: tuple[str, ...] | None = None
    rnn: nn.Module  # holds the weights named as a single-layer PyTorch RNN (set by the subclasses)
    unit_keep: Tensor | None  # buffer (not saved), set in __init__

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True):
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
    def has_native_kernel(self) -> bool:
        """Whether :meth:`trace` has a native C++ kernel for this cell (LSTM, GRU, lazy LSTM; not the vanilla RNN,
        whose only variable is the fused forward's output)."""
        return self._native_order is not None

    @property
    def weight_ih(self) -> Tensor:
        """Input weights in PyTorch's layout (gates stacked along the rows)."""
        return self.rnn.get_parameter("weight_ih_l0")

    @property
    def weight_hh(self) -> Tensor:
        """Recurrent weights in PyTorch's layout (gates stacked along the rows; column j reads unit j)."""
        return self.rnn.get_parameter("weight_hh_l0")

    @property
    def bias_ih(self) -> Tensor | None:
        return self.rnn.get_parameter("bias_ih_l0") if self.bias else None

    @property
    def bias_hh(self) -> Tensor | None:
        return self.rnn.get_parameter("bias_hh_l0") if self.bias else None

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
        for name, s in zip(self.state_names, state, strict=True):
            s = as_float_tensor(s, like=self.weight_ih, name="state", func=func)
            if tuple(s.shape) != (batch_size, self.hidden_size):
                raise ValueError(
                    f"The 'state' parameter of {func} must hold {name!r} of shape ({batch_size}, "
                    f"{self.hidden_size}) (batch, hidden). Got shape {tuple(s.shape)} instead."
                )
            out.append(s)
        return tuple(out)

    # ---- unit masks -------------------------------------------------------------------------------------
    def masked(self, keep) -> RecurrentLayer:
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
        return self._masked_forward(x, state, self._keep_factor(keep))

    def _masked_forward(self, x: Tensor, state: State, k: Tensor | None) -> tuple[Tensor, State]:
        stepped = UNROLLED.get() and torch.is_grad_enabled()  # without autograd the fused kernel serves
        h_seq, final = self._unrolled(x, state, k) if stepped else self._forward(x, state, k)
        if k is not None:
            h_seq = h_seq * k
            final = (final[0] * k,) + tuple(final[1:])
        return h_seq, final

    def _unrolled(self, x: Tensor, state: State, k: Tensor | None) -> tuple[Tensor, State]:
        """The fast path's result from the reference step, frame after frame (differentiable everywhere)."""
        if k is not None:
            state = (state[0] * k,) + tuple(state[1:])
        outs = []
        for t in range(x.shape[1]):
            h, state, _ = self._step(x[:, t], state, k)
            if k is not None:
                h = h * k
                state = (h,) + tuple(state[1:])
            outs.append(h)
        h_seq = torch.stack(outs, 1) if outs else x.new_zeros(x.shape[0], 0, self.hidden_size)
        return h_seq, state

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

        Exact (the equations of :meth:`step`, to float rounding) and vectorised over time: the only recurrence
        left is the LSTM cell scan.

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
        return self._recover(x, h_seq, state0, k)

    def _recover(self, x: Tensor, h_seq: Tensor, state0: State, k: Tensor | None) -> dict[str, Tensor]:
        """:meth:`internals` on checked arguments (``state0`` and ``h_seq`` masked)."""
        h_prev = torch.cat([state0[0].unsqueeze(1), h_seq[:, :-1]], dim=1)
        out = self._internals(x, h_seq, h_prev, state0, k)
        if k is not None:
            out["h"] = out["h"] * k
        return {name: out[name] for name in self.variables}

    def trace(self, x: Tensor, state: State | None = None, keep=None) -> tuple[dict[str, Tensor], State]:
        """Run the layer over a sequence and return every internal variable in one pass.

        On the CPU for float32 without autograd the native C++ kernels of :mod:`rnnscope.models._native` write
        every variable into buffers while they run (about 1.2x the fused forward); otherwise (no compiler, a GPU,
        float64, autograd, kernels switched off) the fused :meth:`forward` followed by the vectorised
        :meth:`internals`. All agree with :meth:`step` and with :meth:`forward`'s ``h`` to float rounding (1e-6).
        :func:`~rnnscope.models.native_status` says which path ran and why.

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
        ops = self._kernels(x, k)
        if ops is None:
            return self._trace_fallback(x, state, k)
        assert self._native_order is not None  # _kernels is None for a layer without a kernel
        out = buffer_outputs(self._native_order[:-1], x.shape[0], x.shape[1], self.hidden_size)  # h: h_seq
        h_seq, final, _ = self._trace_native(ops, x, state, k, out)
        variables = {**out.arrays, "h": h_seq}
        return {name: variables[name] for name in self.variables}, final

    def trace_to(self, x: Tensor, state: State | None, keep, out: TraceOutputs):
        """:meth:`trace`, writing every variable of ``out`` into its destination (what capture uses in memory).

        Parameters
        ----------
        x, state, keep
            As for :meth:`forward`.
        out : TraceOutputs
            The destinations (:class:`rnnscope.models._trace.TraceOutputs`): flat float32 CPU tensors, one per
            variable to keep (a subset of ``variables``), a row offset per batch row, the time and unit strides,
            and the valid frames of each row. The native kernels write there while they run (no copy); the
            fallback computes the variables and copies them in.

        Returns
        -------
        h_seq : Tensor
            ``(batch, time, hidden_size)``, the next layer's input.
        final_state : tuple of Tensor
        ranges : dict
            Variable of ``out`` -> ``(min, max)`` over the valid frames (None when there are none).

        Examples
        --------
        >>> import torch
        >>> from rnnscope.models import GRULayer
        >>> from rnnscope.models._trace import buffer_outputs
        >>> layer, x = GRULayer(3, 4), torch.randn(2, 5, 3)
        >>> out = buffer_outputs(["update_gate"], 2, 5, 4)
        >>> with torch.no_grad():
        ...     h, _, ranges = layer.trace_to(x, None, None, out)
        ...     z = layer.trace(x)[0]["update_gate"]
        >>> torch.allclose(out.arrays["update_gate"], z, atol=1e-6), 0 < ranges["update_gate"][0] < 1
        (True, True)
        """
        func = f"{type(self).__name__}.trace_to"
        x = check_sequence(x, self.input_size, like=self.weight_ih, func=func)
        state, k = self._masked_state(state, x.shape[0], keep, func)
        check_outputs(out, self.variables, x.shape[0], x.shape[1], self.hidden_size, func)
        ops = self._kernels(x, k)
        if ops is not None:
            return self._trace_native(ops, x, state, k, out)
        variables, final = self._trace_fallback(x, state, k)
        return variables["h"], final, write_outputs(variables, out)

    def _kernels(self, x: Tensor, k: Tensor | None):
        """The native kernels when this layer has one and they apply to ``x``, else None."""
        if not self.has_native_kernel:
            return None
        return usable_kernels(x, self.weight_ih, self.weight_hh)

    def _trace_native(self, ops, x: Tensor, state: State, k: Tensor | None, out: TraceOutputs):
        kernel, weights = self._cached_native_weights(k)
        args = (x.contiguous(), *weights, *(s.contiguous() for s in state), None if k is None else k.contiguous())
        assert self._native_order is not None  # called with kernels only: a layer that has one
        return run_native(ops, kernel, args, self._native_order, x, self.hidden_size, out, len(state) == 2)

    def __getstate__(self):  # pickles and deep copies leave the cached kernel weights out
        state = super().__getstate__()
        state = dict(state) if isinstance(state, dict) else dict(self.__dict__)
        state.pop("_native_cache", None)
        return state

    def _cached_native_weights(self, k: Tensor | None):
        """:meth:`_native_weights`, built again only when a parameter (its memory or its version, bumped by every
        in-place change such as an optimiser step) or the mask changes."""
        key = (tuple((p.data_ptr(), p._version) for p in self.parameters()),
               None if k is None else k.detach().cpu().numpy().tobytes())
        cached = self.__dict__.get("_native_cache")
        if cached is None or cached[0] != key:
            cached = (key, self._native_weights(k))
            self.__dict__["_native_cache"] = cached
        return cached[1]

    def _trace_fallback(self, x: Tensor, state: State, k: Tensor | None) -> tuple[dict[str, Tensor], State]:
        """The fused forward (or the lazy LSTM's plain recurrence), then the vectorised recovery."""
        h_seq, final = self._masked_forward(x, state, k)
        if self.variables == ("h",):
            return {"h": h_seq}, final
        return self._recover(x, h_seq, state, k), final

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
        b_ih, b_hh = self.bias_ih, self.bias_hh  # None without bias
        return None if b_ih is None or b_hh is None else b_ih + b_hh

    def _masked_hh(self, k: Tensor | None) -> Tensor:
        """The recurrent weights with the columns reading masked units zeroed."""
        return self.weight_hh if k is None else self.weight_hh * k

    # ---- hooks ------------------------------------------------------------------------------------------
    def _forward(self, x: Tensor, state: State, k: Tensor | None) -> tuple[Tensor, State]:  # pragma: no cover
        raise NotImplementedError

    def _step(self, x_t: Tensor, state: State, k: Tensor | None):  # pragma: no cover
        raise NotImplementedError

    def _internals(self, x, h_seq, h_prev, state0, k) -> dict[str, Tensor]:  # pragma: no cover
        raise NotImplementedError

    def _native_weights(self, k: Tensor | None) -> tuple[str, tuple]:  # pragma: no cover
        raise NotImplementedError

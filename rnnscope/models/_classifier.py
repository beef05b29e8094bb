"""Stacked recurrent classifier with per-frame logits, optional shortcut (residual) connections and unit masks."""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import Tensor, nn

from ._base import ModelBase
from ._cells import CELL_KINDS, make_layer
from ._checks import check_bool, check_int, check_probability, layer_masks
from ._layers import RecurrentLayer

__all__ = ["RNNClassifier"]


def _describe_outputs(outputs: Any) -> str:
    if isinstance(outputs, (list, tuple)):
        return f"a {type(outputs).__name__} of {len(outputs)}"
    return f"a {type(outputs).__name__}"


def _check_cells(cell: Any, num_layers: Any, func: str) -> list[str]:
    num_layers = check_int(num_layers, name="num_layers", func=func)
    if isinstance(cell, str):
        kinds = [cell] * num_layers
    elif isinstance(cell, Sequence) and len(cell) > 0:
        kinds = [str(c) if isinstance(c, str) else c for c in cell]
        if num_layers not in (1, len(kinds)):
            raise ValueError(
                f"The 'cell' parameter of {func} must give one kind per layer (num_layers={num_layers}). "
                f"Got {len(kinds)} kinds {kinds} instead."
            )
    else:
        raise ValueError(
            f"The 'cell' parameter of {func} must be one of {list(CELL_KINDS)} or a list of them (one per layer). "
            f"Got {cell!r} instead."
        )
    for kind in kinds:
        if kind not in CELL_KINDS:
            raise ValueError(
                f"The 'cell' parameter of {func} must be one of {list(CELL_KINDS)} or a list of them (one per "
                f"layer). Got {cell!r} instead."
            )
    return kinds


class RNNClassifier(ModelBase):
    """Stacked recurrent layers and a per-frame linear head: frames in, per-frame class logits out.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru", "lazy_lstm"} or list of them
        Layer kind, or one kind per layer (e.g. ``["lstm", "lstm", "lazy_lstm"]``: lazy only in the last layer, as
        Tang et al.). With a list, ``num_layers`` may be left at 1 (it is then the list's length).
    input_size : int
        Features per frame.
    hidden_size : int
        Units per layer.
    num_classes : int
        Classes (logits per frame).
    num_layers : int
        Recurrent layers.
    residual : bool
        Tang et al.'s shortcut: the output a layer passes on is ``h + layer input`` wherever the sizes match
        (every layer after the first, and the first too when ``input_size == hidden_size``; see ``shortcuts``).
        Captured ``h`` is always the layer's own output, before the shortcut.
    dropout : float
        Dropout on what a layer passes to the next recurrent layer (as ``nn.LSTM``'s ``dropout``: not after the
        last layer, so not before the head), in training mode only.
    class_names : list of str, optional
        Default ``["SIL", "TRE", "LP", "VTE", "HYB"]`` for 5 classes, else ``["class0", ...]``.
    background : str or None
        The class that is not an event (``model.background``, saved with the model). ``"auto"`` (default): the
        class the training features declare (``attrs["background"]``, taken by :func:`rnnscope.train.fit`); before
        that ``"SIL"`` for the default task's five classes, else none.
    bias, head_bias : bool
        Biases of the recurrent layers and of the head.

    Attributes
    ----------
    layers : nn.ModuleList of RecurrentLayer
        The layers (each follows the cell protocol: ``forward``, ``step``, ``internals``, ``variables``...).
    head : nn.Linear
        ``hidden_size -> num_classes``, applied to every frame.
    shortcuts : list of bool
        Whether layer ``l`` adds its input to its output (``residual`` and sizes match).
    feature_mean, feature_std : Tensor
        The input normaliser (buffers; identity by default), applied inside ``forward``; see ``fit_normalizer``.

    Notes
    -----
    Input is batch first, ``(batch, time, input_size)``, raw (the model normalises). NaN is kept, as in PyTorch's
    ``nn.LSTM``: a NaN frame makes the states and logits NaN from that frame on. Batches of records of different
    lengths are padded by the caller (capture, :func:`rnnscope.train.fit` and :func:`rnnscope.train.predict` pad
    with 0); the model is causal, so padding after a record never changes its valid frames.

    Unit masks (``keep``: one bool tensor ``(hidden_size,)`` per layer, True = keep, or None) silence units
    *inside* the recurrence (their ``h`` is 0 at every step, so they feed nothing to the next step; see
    :mod:`rnnscope.models._layers`) and zero them in what the layer passes on (next layer, head, shortcut).
    :meth:`masked` returns a copy with masks applied on every call.

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import RNNClassifier
    >>> model = RNNClassifier(["lstm", "lazy_lstm"], input_size=6, hidden_size=8, num_classes=5, residual=True)
    >>> model.shortcuts
    [False, True]
    >>> logits, layers = model.forward_layers(torch.randn(2, 7, 6))
    >>> tuple(logits.shape), sorted(layers[1])
    ((2, 7, 5), ['final_state', 'h', 'input', 'keep', 'state0'])
    >>> inside = model.layers[1].internals(layers[1]["input"], layers[1]["h"], layers[1]["state0"])
    >>> torch.allclose(inside["h"], layers[1]["h"], atol=1e-6)
    True

    With defaults: one layer, no shortcut, the default five classes (whose background is SIL), no input contract
    until :func:`rnnscope.train.fit` takes it from the training features:

    >>> model = RNNClassifier("gru", input_size=48, hidden_size=16, num_classes=5)
    >>> model.num_layers, model.shortcuts, model.background, model.sampling_rate is None
    (1, [False], 'SIL', True)
    >>> RNNClassifier("gru", input_size=48, hidden_size=16, num_classes=3, class_names=["BG", "VT", "LP"],
    ...               background="BG").background
    'BG'
    """

    def __init__(
        self,
        cell: str | Sequence[str],
        input_size: int,
        hidden_size: int,
        num_classes: int,
        *,
        num_layers: int = 1,
        residual: bool = False,
        dropout: float = 0.0,
        class_names: Sequence[str] | None = None,
        bias: bool = True,
        head_bias: bool = True,
        background: str | None = "auto",
    ):
        super().__init__()
        func = "RNNClassifier"
        kinds = _check_cells(cell, num_layers, func)
        self._init_common(input_size, num_classes, class_names, func, background)
        self.hidden_size = check_int(hidden_size, name="hidden_size", func=func)
        self.num_layers = len(kinds)
        self.cells: list[str] = kinds
        self.residual = check_bool(residual, name="residual", func=func)
        self.dropout = check_probability(dropout, name="dropout", func=func)
        self.bias = check_bool(bias, name="bias", func=func)
        self.head_bias = check_bool(head_bias, name="head_bias", func=func)
        self.layers = nn.ModuleList()
        self.shortcuts: list[bool] = []
        size = self.input_size
        for kind in kinds:
            self.layers.append(make_layer(kind, input_size=size, hidden_size=self.hidden_size, bias=self.bias))
            self.shortcuts.append(self.residual and size == self.hidden_size)
            size = self.hidden_size
        self.drop = nn.Dropout(self.dropout)
        self.head = nn.Linear(self.hidden_size, self.num_classes, bias=self.head_bias)

    # ---- masks --------------------------------------------------------------------------------------------
    def _check_keep(self, keep: Any, func: str) -> list[Tensor | None]:
        masks = layer_masks(keep, self.num_layers, self.hidden_size, name="keep", func=func)
        device = self.feature_mean.device
        return [None if m is None else m.to(device) for m in masks]

    def masked(self, keep) -> RNNClassifier:
        """Return a copy that silences the units where ``keep`` is False, on every call.

        Parameters
        ----------
        keep : list of (bool tensor of shape (hidden_size,) or None)
            One mask per layer (True = keep); a single mask is accepted for a one-layer model. Combined (logical
            and) with masks this model already has. Weights are not modified.

        Examples
        --------
        >>> import torch
        >>> from rnnscope.models import RNNClassifier
        >>> model = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5)
        >>> pruned = model.masked(torch.tensor([True, False, True, True]))
        >>> pruned.masked_units
        [[1]]
        >>> bool((pruned.forward_layers(torch.randn(1, 6, 3))[1][0]["h"][..., 1] == 0).all())
        True
        """
        masks = self._check_keep(keep, f"{type(self).__name__}.masked")
        out = copy.deepcopy(self)
        for i, mask in enumerate(masks):
            if mask is not None:
                out.layers[i] = out._recurrent_layers[i].masked(mask)
        return out

    @property
    def masked_units(self) -> list[list[int]]:
        """Indices of the units silenced by :meth:`masked`, per layer (empty lists when unmasked)."""
        return [
            [] if layer.unit_keep is None else torch.nonzero(~layer.unit_keep).flatten().tolist()
            for layer in self._recurrent_layers
        ]

    @property
    def _recurrent_layers(self) -> list[RecurrentLayer]:
        """``layers`` as a list, typed: every entry is a :class:`RecurrentLayer` (``make_layer`` built it)."""
        return cast("list[RecurrentLayer]", list(self.layers))

    # ---- forward ------------------------------------------------------------------------------------------
    def initial_states(self, batch_size: int) -> list[tuple[Tensor, ...]]:
        """Zero states of every layer."""
        return [layer.initial_state(batch_size) for layer in self._recurrent_layers]

    def forward_layers(
        self, x: Any, states: Sequence[Any] | None = None, keep: Any = None
    ) -> tuple[Tensor, list[dict[str, Any]]]:
        """Run the model and return, for every layer, what capture needs to recover its internals.

        Parameters
        ----------
        x : Tensor or array
            Raw features, ``(batch, time, input_size)``; NaN propagates from its frame on, as in PyTorch.
        states : list of (tuple of Tensor or None), optional
            Initial state of each layer (e.g. the ``final_state`` of the previous chunk of a long record).
        keep : list of (bool tensor or None), optional
            Unit masks per layer (True = keep), combined with those of :meth:`masked`.

        Returns
        -------
        logits : Tensor
            ``(batch, time, num_classes)``.
        layers : list of dict
            Per layer: ``"input"`` (what the layer received: the normalised features for layer 0, else what the
            previous layer passed on), ``"h"`` ``(batch, time, hidden)`` (the layer's output before any shortcut;
            masked units 0), ``"state0"`` (the initial state used), ``"final_state"``, ``"keep"`` (the effective
            bool mask or None). ``model.layers[l].internals(d["input"], d["h"], d["state0"], keep=d["keep"])``
            recovers every internal variable.
        """
        return self._run_layers(x, states, keep, f"{type(self).__name__}.forward_layers", trace=False)

    def trace_layers(
        self, x: Any, states: Sequence[Any] | None = None, keep: Any = None, outputs: Sequence[Any] | None = None
    ) -> tuple[Tensor, list[dict[str, Any]]]:
        """Run the model keeping every internal variable of every layer (capture's one pass).

        Same arguments as :meth:`forward_layers`. Each layer dict holds ``"variables"`` (name -> ``(batch, time,
        hidden)``, from :meth:`RecurrentLayer.trace`), ``"final_state"`` and ``"keep"``. Run it under
        ``torch.no_grad()`` (or ``torch.inference_mode()``) to get the fast CPU path. With ``outputs`` (one
        :class:`~rnnscope.models._trace.TraceOutputs` per layer, holding only that layer's variables) the variables
        are written into those destinations instead (:meth:`RecurrentLayer.trace_to`): ``"variables"`` then holds
        ``h`` only, and ``"ranges"`` the value range of each written variable.

        Examples
        --------
        >>> import torch
        >>> from rnnscope.models import RNNClassifier
        >>> model = RNNClassifier(["gru", "lstm"], input_size=3, hidden_size=4, num_classes=5, residual=True)
        >>> x = torch.randn(2, 7, 3)
        >>> with torch.no_grad():
        ...     logits, layers = model.trace_layers(x)
        >>> sorted(layers[1]["variables"])[:3], torch.allclose(logits, model(x), atol=1e-5)
        (['c', 'cell_input', 'forget_gate'], True)
        """
        func = f"{type(self).__name__}.trace_layers"
        if outputs is not None and (not isinstance(outputs, (list, tuple)) or len(outputs) != self.num_layers):
            raise ValueError(
                f"The 'outputs' parameter of {func} must be None or a list of {self.num_layers} TraceOutputs (one "
                f"per layer). Got {_describe_outputs(outputs)} instead."
            )
        return self._run_layers(x, states, keep, func, trace=True, outputs=outputs)

    def _run_layers(self, x, states, keep, func: str, trace: bool, outputs=None):
        x = self._prepare_input(x, func)
        inp = self.normalize(x)
        batch = x.shape[0]
        if states is None:
            states = [None] * self.num_layers
        elif not isinstance(states, (list, tuple)) or len(states) != self.num_layers:
            raise ValueError(
                f"The 'states' parameter of {func} must be a list of {self.num_layers} states (one per layer, "
                f"each a tuple of tensors or None). Got {type(states).__name__} instead."
            )
        masks = self._check_keep(keep, func)
        records: list[dict[str, Any]] = []
        last = self.num_layers - 1
        for i, layer in enumerate(self._recurrent_layers):
            state0 = layer._check_state(states[i], batch, func)
            layer_keep = layer.keep_mask(masks[i])
            if trace and outputs is not None:
                h, final, ranges = layer.trace_to(inp, state0, layer_keep, outputs[i])
                records.append({"variables": {"h": h}, "final_state": final, "keep": layer_keep, "ranges": ranges})
            elif trace:
                variables, final = layer.trace(inp, state0, keep=layer_keep)
                h = variables["h"]
                records.append({"variables": variables, "final_state": final, "keep": layer_keep})
            else:
                h, final = layer(inp, state0, keep=layer_keep)
                records.append({"input": inp, "h": h, "state0": state0, "final_state": final, "keep": layer_keep})
            out = h + inp if self.shortcuts[i] else h
            inp = self.drop(out) if i < last else out
        return self.head(inp), records

    def forward(self, x: Any, state: Sequence[Any] | None = None, keep: Any = None) -> Tensor:
        """Per-frame logits ``(batch, time, num_classes)`` for raw features ``x`` ``(batch, time, input_size)``.

        ``state`` is a list of per-layer initial states (zeros when None); see :meth:`forward_layers`.
        """
        logits, _ = self.forward_layers(x, state, keep)
        return logits

    # ---- config -------------------------------------------------------------------------------------------
    def _arch_config(self) -> dict[str, Any]:
        return {
            "cells": list(self.cells),
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_classes": self.num_classes,
            "num_layers": self.num_layers,
            "residual": self.residual,
            "dropout": self.dropout,
            "bias": self.bias,
            "head_bias": self.head_bias,
            "masked_units": self.masked_units,
        }

    @classmethod
    def _build(cls, config: Mapping[str, Any]) -> RNNClassifier:
        model = cls(
            list(config["cells"]),
            input_size=config["input_size"],
            hidden_size=config["hidden_size"],
            num_classes=config["num_classes"],
            num_layers=config["num_layers"],
            residual=config.get("residual", False),
            dropout=config.get("dropout", 0.0),
            class_names=config.get("class_names"),
            bias=config.get("bias", True),
            head_bias=config.get("head_bias", True),
            background=config.get("background", "auto"),
        )
        masked = config.get("masked_units") or []
        if any(masked):
            if len(masked) != model.num_layers:
                raise ValueError(f"'masked_units' must hold one list per layer ({model.num_layers}); got {len(masked)}")
            keeps = []
            for units in masked:
                keep = torch.ones(model.hidden_size, dtype=torch.bool)
                keep[torch.as_tensor(list(units), dtype=torch.long)] = False
                keeps.append(keep if units else None)
            for i, mask in enumerate(keeps):
                if mask is not None:
                    model.layers[i].unit_keep = mask
        return model

    def __repr__(self) -> str:
        lines = [self._fmt_header()]
        size = self.input_size
        for i, (layer, short) in enumerate(zip(self._recurrent_layers, self.shortcuts, strict=True)):
            extra = " + shortcut" if short else ""
            if layer.unit_keep is not None:
                extra += f", {int((~layer.unit_keep).sum())} units masked"
            lines.append(f"  layer {i}: {layer.kind} {size} -> {self.hidden_size}{extra}")
            size = self.hidden_size
        drop = f", dropout {self.dropout} between layers" if self.dropout and self.num_layers > 1 else ""
        lines.append(f"  head: linear {self.hidden_size} -> {self.num_classes}{drop}")
        return "\n".join(lines) + "\n)"

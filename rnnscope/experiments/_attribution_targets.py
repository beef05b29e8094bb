"""What an attribution explains, and the forward functions that compute it from a model's input.

A **target** is a unit's variable (``h`` by default, or any variable the layer exposes: ``c``, a gate...) in one
layer (and direction), or a class output (the logit or the softmax probability), read at one frame of each input
row. :func:`resolve_targets` turns the user's description into :class:`Target` objects; the forwards below take the
input as a deviation ``d`` from a baseline ``base`` (so Captum's methods, which multiply by the input or replace it
by a baseline of 0, work in the baseline's frame) and return one value per row:

- :class:`ClassifierForward` for an :class:`~rnnscope.models.RNNClassifier`: a window of frames, the recurrent
  state at the window's first frame given (what the record before the window left), the target read at ``pos``;
- :class:`ModuleForward` for any ``nn.Module``: the module's whole input, its recurrent module recorded during the
  forward and its variables recovered through :class:`~rnnscope.models._torch_rnn.TorchRNN` (differentiable), or a
  class score from ``output_fn(model output)``.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from ..capturing._modules import _module_values, _Recorder
from ..errors import AttributionError
from ..models._input_gradient import path_gradient_applies, path_input_gradient
from ..models._layers import UNROLLED
from ..models._module_masks import entry_labels
from ..models._torch_rnn import RECURRENT_CELLS, TorchRNN, module_entries, module_kind, recurrent_modules
from ..schema import STATE_VARIABLES

__all__ = ["Target", "resolve_targets", "ClassifierForward", "ModuleForward", "CLASS_OUTPUTS"]

#: How a class target is read: the logit (pre-softmax score) or the softmax probability.
CLASS_OUTPUTS = ("logit", "prob")


@dataclass(frozen=True)
class Target:
    """One thing to explain: a unit's variable, or a class output.

    ``kind`` is ``"unit"`` or ``"class"``; ``var`` the state variable (units) or ``"logit"``/``"prob"``
    (classes); ``layer`` the position along a run's ``layer`` dimension and ``label`` its name (:func:`rnnscope.
    schema.layer_labels`); ``unit`` and ``class_index`` are -1 when they do not apply, ``class_name`` is "".
    """

    kind: str
    var: str
    layer: int = -1
    unit: int = -1
    class_index: int = -1
    class_name: str = ""
    label: str = ""
    module: str = ""
    entry: int = 0


def _units(target, func) -> list[int]:
    values = [target] if isinstance(target, (int, np.integer)) else list(target)
    if not values or any(isinstance(u, bool) or not isinstance(u, (int, np.integer)) or u < 0 for u in values):
        raise AttributionError(f"The 'target' parameter of {func} must be a unit id (int >= 0), a list of unit ids, a "
                               f"class name or a dict such as {{'unit': 3, 'layer': 0}} or {{'class': 'LP'}}. Got "
                               f"{target!r} instead.")
    return [int(u) for u in values]


def _split_dict(target, layer, var, direction, class_output):
    """A dict target -> (target, layer, var, direction, class_output) with the dict's entries taking precedence."""
    if not isinstance(target, dict):
        return target, layer, var, direction, class_output
    known = {"unit", "class", "layer", "var", "direction", "class_output"}
    unknown = sorted(set(target) - known)
    if unknown or ("unit" in target) == ("class" in target):
        raise AttributionError(f"The 'target' parameter holds {sorted(target)}: a dict target names either 'unit' "
                               f"(with 'layer', 'var', 'direction') or 'class' (with 'class_output'), from "
                               f"{sorted(known)}.")
    main = target["unit"] if "unit" in target else str(target["class"])
    return (main, target.get("layer", layer), target.get("var", var), target.get("direction", direction),
            target.get("class_output", class_output))


def _check_class(target, class_output, class_names, func) -> list[Target]:
    if class_output not in CLASS_OUTPUTS:
        raise AttributionError(f"The 'class_output' parameter of {func} must be one of {list(CLASS_OUTPUTS)} for a "
                               f"class target. Got {class_output!r} instead.")
    if target not in class_names:
        raise AttributionError(f"The 'target' parameter of {func} names the class {target!r}, which the model does not "
                               f"have: its classes are {list(class_names)}.")
    k = list(class_names).index(target)
    return [Target("class", class_output, class_index=k, class_name=target, label="output")]


def resolve_targets(model, target, *, layer=None, var: str = "h", direction: str | None = None,
                    class_output: str = "logit", class_names: Sequence[str] | None = None, func: str = "attribution"
                    ) -> list[Target]:
    """The :class:`Target` objects ``target`` describes for ``model`` (see :func:`rnnscope.experiments.attribution`).

    Examples
    --------
    >>> from rnnscope.models import RNNClassifier
    >>> model = RNNClassifier("gru", input_size=3, hidden_size=4, num_classes=5)
    >>> [(t.kind, t.var, t.layer, t.unit) for t in resolve_targets(model, [1, 2], var="update_gate")]
    [('unit', 'update_gate', 0, 1), ('unit', 'update_gate', 0, 2)]
    >>> resolve_targets(model, "LP", class_output="prob")[0].class_index
    2
    """
    target, layer, var, direction, class_output = _split_dict(target, layer, var, direction, class_output)
    if hasattr(model, "trace_layers"):
        if isinstance(target, str):
            return _check_class(target, class_output, model.class_names, func)
        units = _units(target, func)
        if layer is None and model.num_layers > 1:
            raise AttributionError(f"The 'layer' parameter of {func} must name the layer of unit {units[0]}: the model "
                                   f"has {model.num_layers} layers (0..{model.num_layers - 1}). Got layer=None.")
        layer = 0 if layer is None else layer
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < model.num_layers:
            raise AttributionError(f"The 'layer' parameter of {func} must be a layer id in 0..{model.num_layers - 1}. "
                                   f"Got {layer!r} instead.")
        variables = model.layers[int(layer)].variables
        kind, hidden, label = model.layers[int(layer)].kind, model.hidden_size, f"layer {int(layer)}"
        entry_kind, module, entry = kind, "", 0
    else:
        if isinstance(target, str):
            if class_names is None:
                raise AttributionError(f"{func}: a class target of a model that is not an rnnscope classifier needs "
                                       "class_names= (the names of the classes output_fn returns, in order).")
            return _check_class(target, class_output, class_names, func)
        units = _units(target, func)
        module, entry, label, info, entry_kind = _module_entry(model, layer, direction, func)
        variables, hidden = STATE_VARIABLES[entry_kind], info.units
        layer = _entry_position(model, module, entry)
    if var not in variables:
        raise AttributionError(f"The 'var' parameter of {func} must be a variable of {label} ({entry_kind}): "
                               f"{list(variables)}. Got {var!r} instead.")
    if not hasattr(model, "trace_layers") and var == "h":
        hidden = info.h_units
    bad = [u for u in units if u >= hidden]
    if bad:
        raise AttributionError(f"The 'target' parameter of {func} names unit(s) {bad} of {label}, which has {hidden} "
                               f"units of {var!r} (0..{hidden - 1}).")
    return [Target("unit", var, int(layer), u, label=label, module=module, entry=entry) for u in units]


def _module_entry(model: nn.Module, layer, direction, func):
    """(module name, entry index, label, Entry, kind) of ``layer``: a position along the run's ``layer``, a layer
    label (``"rnn[0] backward"``) or a module name (its ``direction`` entry of layer 0)."""
    modules = recurrent_modules(model)
    if not modules:
        raise AttributionError(f"{func}: {type(model).__name__} has no recurrent module (nn.RNN, nn.LSTM, nn.GRU or a "
                               "cell) whose units could be a target; pass a class target with output_fn=.")
    rows = [(name, i, label, e, module_kind(m)) for name, m in modules.items()
            for i, (label, e) in enumerate(zip(entry_labels(name, m), module_entries(m), strict=True))]
    labels = [r[2] for r in rows]
    if layer is None and len(rows) == 1:
        return rows[0]
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool) and 0 <= layer < len(rows):
        return rows[int(layer)]
    if isinstance(layer, str):
        if layer in labels:
            return rows[labels.index(layer)]
        picked = [r for r in rows if r[0] == layer and r[3].layer == 0 and r[3].direction == (direction or "forward")]
        if picked:
            return picked[0]
    raise AttributionError(f"The 'layer' parameter of {func} must be a layer position (0..{len(rows) - 1}) or a layer "
                           f"label among {labels}. Got {layer!r} instead.")


def _entry_position(model, module: str, entry: int) -> int:
    position = 0
    for name, m in recurrent_modules(model).items():
        if name == module:
            return position + entry
        position += len(module_entries(m))
    return position  # pragma: no cover - the module comes from the same list


# --------------------------------------------------------------------------------------------- forwards


def _pick(values: Tensor, pos: Tensor, index: Tensor) -> Tensor:
    """``values[r, pos[r], index[r]]`` for every row ``r`` of ``values`` (rows, time, n)."""
    rows = torch.arange(values.shape[0], device=values.device)
    return values[rows, pos.to(values.device), index.to(values.device)]


class ClassifierForward:
    """The target of an :class:`~rnnscope.models.RNNClassifier` over a window: ``f(d, pos, which, base, *states)``.

    ``d`` ``(rows, frames, features)`` is the input minus ``base`` (raw features: the model normalises), ``pos``
    the target's frame in the window, ``which`` the target of each row (index into ``targets``), ``states`` every
    layer's state at the window's first frame, flattened (``h`` then ``c`` for LSTM layers).
    """

    def __init__(self, model, targets: Sequence[Target]):
        self.model = model
        self.targets = list(targets)
        first = self.targets[0]
        self.kind, self.var, self.layer = first.kind, first.var, first.layer
        index = [t.unit if t.kind == "unit" else t.class_index for t in self.targets]
        self.index = torch.as_tensor(index, dtype=torch.long)
        self.names = [layer.state_names for layer in model.layers]

    def flatten_states(self, states: Sequence[Sequence[Tensor]]) -> tuple[Tensor, ...]:
        return tuple(s for layer_state in states for s in layer_state)

    def _unflatten(self, flat: Sequence[Tensor]) -> list[tuple[Tensor, ...]]:
        out, i = [], 0
        for names in self.names:
            out.append(tuple(flat[i: i + len(names)]))
            i += len(names)
        return out

    def series(self, logits: Tensor, layers: list) -> Tensor:
        """Every target variable ``(rows, time, n)`` from :meth:`RNNClassifier.forward_layers`' result."""
        if self.kind == "class":
            return logits if self.var == "logit" else torch.softmax(logits, dim=-1)
        record = layers[self.layer]
        if self.var == "h":
            return record["h"]
        inside = self.model.layers[self.layer].internals(record["input"], record["h"], record["state0"],
                                                         keep=record["keep"])
        return inside[self.var]

    def __call__(self, d: Tensor, pos: Tensor, which: Tensor, base: Tensor, *flat_states: Tensor) -> Tensor:
        logits, layers = self.model.forward_layers(base + d, self._unflatten(flat_states))
        return _pick(self.series(logits, layers), pos, self.index.to(d.device)[which.to(d.device)])

    def integrated_gradients(self, d: Tensor, args: tuple, steps: int, budget: int) -> Tensor | None:
        """Captum's integrated gradients of this forward (Gauss-Legendre, ``steps`` points, baseline ``d = 0``)
        computed by hand (:func:`rnnscope.models._input_gradient.path_input_gradient`: no autograd, the first
        layer's projection once per row), or None where that path does not apply (a GPU, the unrolled step loop
        asked for): the caller then runs Captum's."""
        from captum.attr._utils.approximation_methods import approximation_parameters

        if UNROLLED.get() or d.device.type != "cpu" or not path_gradient_applies(self.model, self.kind, self.layer):
            return None
        pos, which, base, *flat = args
        step_sizes, alphas = approximation_parameters("gausslegendre")
        weights = torch.tensor(step_sizes(steps)).float().tolist()  # rounded as Captum rounds them
        grad = path_input_gradient(self.model, base, d, pos=pos, index=self.index.to(d.device)[which.to(d.device)],
                                   kind=self.kind, var=self.var, layer=self.layer, alphas=alphas(steps),
                                   weights=weights, states=self._unflatten(flat), budget=budget)
        return d * grad.to(d.dtype)


class ModuleForward:
    """The target of any ``nn.Module`` over its whole input: ``f(d, pos, which, base, *extra)``.

    ``d`` is the attributed input minus ``base``; ``extra`` the forward's other positional arguments (not
    attributed); ``pos`` the target's step of the recurrent module (units) or frame of ``output_fn``'s result
    (classes).
    """

    def __init__(self, model: nn.Module, targets: Sequence[Target], output_fn: Callable | None = None,
                 func: str = "attribution"):
        self.model = model
        self.targets = list(targets)
        first = self.targets[0]
        self.kind, self.var, self.func = first.kind, first.var, func
        index = [t.unit if t.kind == "unit" else t.class_index for t in self.targets]
        self.index = torch.as_tensor(index, dtype=torch.long)
        self.output_fn = output_fn
        if self.kind == "unit":
            self.name, self.entry = first.module, first.entry
            self.module = dict(model.named_modules())[self.name]
            self.view = None if isinstance(self.module, RECURRENT_CELLS) else TorchRNN.of(self.module)
        elif not callable(output_fn):
            raise AttributionError(f"The 'output_fn' parameter of {func} must be a function of the model's output "
                                   "returning per-frame class scores (rows, frames, classes) for a class target of a "
                                   f"model that is not an rnnscope classifier. Got {output_fn!r} instead.")

    def series(self, x: Tensor, extra: Sequence = ()) -> Tensor:
        """Every target variable ``(rows, steps, n)`` for the input ``x``."""
        if self.kind == "class":
            assert self.output_fn is not None  # checked in __init__ for class targets
            scores = self.output_fn(self.model(x, *extra))
            if not isinstance(scores, Tensor) or scores.dim() != 3 or scores.shape[0] != x.shape[0]:
                raise AttributionError(f"The 'output_fn' parameter of {self.func} must return a tensor (rows, frames, "
                                       f"classes) with one row per input row ({x.shape[0]}). Got "
                                       f"{getattr(scores, 'shape', type(scores).__name__)} instead.")
            return scores if self.var == "logit" else torch.softmax(scores, dim=-1)
        with _Recorder({self.name: self.module}) as recorder:
            self.model(x, *extra)
            entries, _ = _module_values(self.name, self.module, self.view, recorder.calls[self.name], None, [self.var],
                                        self.func)
        values = entries[self.entry][self.var]
        if values.shape[0] != x.shape[0]:
            raise AttributionError(f"{self.func}: the module {self.name!r} ran on {values.shape[0]} rows for "
                                   f"{x.shape[0]} input rows; attribution reads modules whose batch is the input's.")
        return values

    def __call__(self, d: Tensor, pos: Tensor, which: Tensor, base: Tensor, *extra) -> Tensor:
        return _pick(self.series(base + d, extra), pos, self.index.to(d.device)[which.to(d.device)])

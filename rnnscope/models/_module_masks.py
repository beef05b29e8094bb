"""Silencing units of the recurrent modules of any PyTorch model: the spec users write, and a context manager.

**What users write** (``silence=`` of :func:`rnnscope.capture`, :func:`rnnscope.experiments.silence`,
:func:`rnnscope.experiments.silenced`): ``{layer: units}``, ``layer`` the index along the ``layer`` dimension of
the run the model gives (an rnnscope classifier's layer; for any other model each layer and direction of each
recurrent module in ``model.named_modules()`` order, as :func:`rnnscope.capture` numbers them), ``units`` the
silenced units (unit ids, or a boolean mask of the layer's ``h`` units, True = silenced). :func:`silence_keeps`
reads it, the one reader of that form.

Internally a spec names units per entry of a run's ``layer`` dimension (a layer and direction of a module,
:func:`rnnscope.models._torch_rnn.module_entries`). It is a dict whose keys are

- a module name (as in ``model.named_modules()``) -> one entry per layer and direction of that module, in the
  run's order (a list, or a dict ``{entry: units}``), or the units of its only entry;
- a layer label (:func:`rnnscope.schema.layer_label`, e.g. ``"encoder.lstm[0] backward"``) -> that entry's units;

and the units are a boolean mask of the entry's ``h`` units or a list of unit ids. ``keep=`` names the units kept,
``silence=`` the units silenced (:func:`module_keeps` turns either into keep masks).

Inside :func:`silenced`, every module with a mask runs layer by layer (:class:`~rnnscope.models._torch_rnn.TorchRNN`)
or, for a cell, on a masked state: a silenced unit's ``h`` is 0 at every step inside the recurrence (the recurrent
weight columns reading it see 0) and in everything the module passes on. The model's weights are never modified.
A silenced module carries its masks while they are in effect (:func:`active_keeps`), so whatever else runs the
model's layers itself (capture's one pass over an rnnscope classifier, the recovery of every state of any module)
silences the same units.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor, nn

from ..schema import layer_label
from ._checks import layer_masks
from ._torch_rnn import RECURRENT_CELLS, TorchRNN, cell_forward, module_entries, recurrent_modules

if TYPE_CHECKING:
    from ._classifier import RNNClassifier

__all__ = ["module_keeps", "silenced", "apply_keeps", "entry_labels", "active_keeps", "layer_keeps", "merge_keeps",
           "silence_keeps", "check_silence", "layer_entries", "classifier_keeps"]

#: Instance attribute of a recurrent module holding its keep masks (one per entry) while it silences units.
_ACTIVE = "_rnnscope_keeps"


def entry_labels(name: str, module: nn.Module) -> list[str]:
    """The layer labels of a module's entries (:func:`rnnscope.schema.layer_label`).

    Examples
    --------
    >>> from torch import nn
    >>> entry_labels("enc", nn.GRU(2, 3, bidirectional=True))
    ['enc[0] forward', 'enc[0] backward']
    """
    entries = module_entries(module)
    both = any(e.direction == "backward" for e in entries)
    return [layer_label(name, e.layer, direction=e.direction, bidirectional=both) for e in entries]


def check_silence(silence: Any, n_layers: int, *, func: str) -> dict[int, Any]:
    """``silence`` as ``{layer: units}`` (None: ``{}``), with every ``layer`` an int in ``0 .. n_layers - 1``; else
    a ValueError saying the one form.

    Examples
    --------
    >>> check_silence({0: [1, 3]}, 2, func="f")
    {0: [1, 3]}
    >>> check_silence([[1, 3]], 1, func="f")
    Traceback (most recent call last):
    ...
    ValueError: The 'silence' parameter of f must be a dict {layer: units} ... Got a list instead.
    """
    what = (f"a dict {{layer: units}} (layer: the run's layer index, 0..{n_layers - 1}; units: the silenced unit "
            "ids or a boolean mask of the layer's units, True = silenced), e.g. {0: [1, 3]}")
    if silence is None:
        return {}
    if not isinstance(silence, Mapping):
        raise ValueError(f"The 'silence' parameter of {func} must be {what}. Got a {type(silence).__name__} "
                         "instead.")
    bad = [k for k in silence if isinstance(k, bool) or not isinstance(k, (int, np.integer))
           or not 0 <= int(k) < n_layers]
    if bad:
        raise ValueError(f"The 'silence' parameter of {func} must be {what}. Got the keys {bad!r} instead (the "
                         f"model gives {n_layers} layer(s)).")
    return {int(k): v for k, v in silence.items()}


def layer_entries(model: nn.Module, modules: Mapping[str, nn.Module] | None = None) -> list[tuple[str, str]]:
    """``(module name, layer label)`` of every entry of the ``layer`` dimension, in the run's order: an rnnscope
    classifier's layers, or each layer and direction of each recurrent module (``modules``, default all).

    Examples
    --------
    >>> from torch import nn
    >>> layer_entries(nn.ModuleDict({"a": nn.GRU(2, 3, num_layers=2), "b": nn.LSTM(3, 2, bidirectional=True)}))
    [('a', 'a[0]'), ('a', 'a[1]'), ('b', 'b[0] forward'), ('b', 'b[0] backward')]
    """
    modules = dict(recurrent_modules(model) if modules is None else modules)
    return [(name, label) for name, m in modules.items() for label in entry_labels(name, m)]


def silence_keeps(model: nn.Module, silence: Any, *, func: str,
                  modules: Mapping[str, nn.Module] | None = None) -> dict[str, list[Tensor | None]]:
    """Keep masks per module and entry (as :func:`module_keeps`) from ``silence={layer: units}`` (see the module
    documentation); ``modules`` the recurrent modules the run holds (default all: the layers of a capture of the
    whole model).

    Examples
    --------
    >>> from torch import nn
    >>> model = nn.ModuleDict({"rnn": nn.LSTM(2, 3, bidirectional=True)})
    >>> keeps = silence_keeps(model, {1: [1]}, func="f")  # layer 1: the backward direction
    >>> keeps["rnn"][0] is None, keeps["rnn"][1].tolist()
    (True, [True, False, True])
    """
    entries = layer_entries(model, modules)
    spec = check_silence(silence, len(entries), func=func)
    labelled = {entries[layer][1]: units for layer, units in spec.items()}
    return module_keeps(model, labelled, name="silence", func=func, silenced=True, modules=modules)


def classifier_keeps(model: RNNClassifier, silence: Any, *, func: str) -> list[Tensor | None]:
    """An rnnscope classifier's keep mask (True = keep) or None for each layer, from ``silence={layer: units}``.

    Examples
    --------
    >>> from rnnscope.models import RNNClassifier
    >>> model = RNNClassifier("gru", input_size=2, hidden_size=3, num_classes=2, num_layers=2)
    >>> [None if m is None else m.tolist() for m in classifier_keeps(model, {1: [0]}, func="f")]
    [None, [False, True, True]]
    """
    spec = check_silence(silence, model.num_layers, func=func)
    return layer_masks(spec, model.num_layers, model.hidden_size, name="silence", func=func, silenced=True)


def module_keeps(model: nn.Module, spec: Any, *, name: str, func: str, silenced: bool = False,
                 modules: Mapping[str, nn.Module] | None = None) -> dict[str, list[Tensor | None]]:
    """Keep masks (True = keep) per module and entry from a spec (see the module documentation).

    Parameters
    ----------
    model : nn.Module
    spec : dict or None
    name, func : str
        The parameter and the function, for error messages.
    silenced : bool
        The spec names silenced units (``silence=``) rather than kept ones (``keep=``).
    modules : dict, optional
        The recurrent modules by name (default: all of ``model``).

    Returns
    -------
    dict
        Module name -> one mask or None per entry; modules without any mask are left out.

    Examples
    --------
    >>> from torch import nn
    >>> model = nn.ModuleDict({"rnn": nn.LSTM(2, 3, bidirectional=True)})
    >>> keeps = module_keeps(model, {"rnn[0] backward": [1]}, name="silence", func="f", silenced=True)
    >>> keeps["rnn"][0] is None, keeps["rnn"][1].tolist()
    (True, [True, False, True])
    """
    modules = dict(recurrent_modules(model) if modules is None else modules)
    if spec is None:
        return {}
    if not isinstance(spec, Mapping):
        raise ValueError(f"The {name!r} parameter of {func} must be a dict whose keys are module names "
                         f"{list(modules)} or layer labels such as {_example_labels(modules)}. "
                         f"Got {type(spec).__name__} instead.")
    labels = {label: (module_name, i) for module_name, m in modules.items()
              for i, label in enumerate(entry_labels(module_name, m))}
    out: dict[str, list] = {}
    for key, value in spec.items():
        if key in modules:
            m = modules[key]
            entries = module_entries(m)
            masks = layer_masks(value, len(entries), entries[0].h_units, name=name, func=f"{func} ({key!r})",
                                silenced=silenced)
            current = out.setdefault(key, [None] * len(entries))
            out[key] = [_and(a, b) for a, b in zip(current, masks, strict=True)]
        elif key in labels:
            module_name, i = labels[key]
            entries = module_entries(modules[module_name])
            (mask,) = layer_masks([value], 1, entries[i].h_units, name=name, func=f"{func} ({key!r})",
                                  silenced=silenced)
            current = out.setdefault(module_name, [None] * len(entries))
            current[i] = _and(current[i], mask)
        else:
            raise ValueError(f"The {name!r} parameter of {func} names {key!r}, which is neither a recurrent module "
                             f"of the model ({list(modules)}) nor a layer label ({_example_labels(modules)}).")
    return {k: v for k, v in out.items() if any(m is not None for m in v)}


def _and(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    if a is None:
        return b
    return a if b is None else (a & b)


def _example_labels(modules: Mapping[str, nn.Module]) -> list[str]:
    return [label for n, m in modules.items() for label in entry_labels(n, m)][:4]


@contextlib.contextmanager
def silenced(model: nn.Module, keeps: Mapping[str, list[Tensor | None]]) -> Iterator[nn.Module]:
    """Within the ``with`` block, ``model``'s recurrent modules silence the units outside ``keeps``.

    Parameters
    ----------
    model : nn.Module
    keeps : dict
        From :func:`module_keeps`: module name -> one keep mask (or None) per entry.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.GRU(2, 3, batch_first=True))
    >>> keeps = module_keeps(model, {"0": [0]}, name="silence", func="f", silenced=True)
    >>> with torch.no_grad(), silenced(model, keeps):
    ...     out, _ = model(torch.randn(1, 4, 2))
    >>> bool((out[..., 0] == 0).all()), bool((out[..., 1] != 0).all())
    (True, True)
    >>> "forward" in vars(model[0])  # the module's own forward again
    False
    """
    patched = apply_keeps(model, keeps)
    try:
        yield model
    finally:
        for module, previous, previous_keeps in reversed(patched):
            del module.forward
            vars(module).pop(_ACTIVE, None)
            if previous is not None:
                module.forward = previous
            if previous_keeps is not None:
                vars(module)[_ACTIVE] = previous_keeps


def apply_keeps(model: nn.Module, keeps: Mapping[str, list[Tensor | None]]) -> list:
    """Make the modules of ``keeps`` silence their units from now on (their ``forward`` replaced on the instance,
    their masks kept with them: :func:`active_keeps`); returns ``(module, previous instance forward or None,
    previous masks or None)`` triples to undo it (what :func:`silenced` does)."""
    modules = dict(model.named_modules())
    patched = []
    for module_name, masks in keeps.items():
        module = modules[module_name]
        device = next(module.parameters()).device
        masks = [None if m is None else m.to(device) for m in masks]
        patched.append((module, vars(module).get("forward"), vars(module).get(_ACTIVE)))
        module.__dict__[_ACTIVE] = [None if m is None else m.detach().cpu() for m in masks]
        if isinstance(module, RECURRENT_CELLS):
            module.__dict__["forward"] = _cell_call(module, masks[0])  # on the instance (what silenced undoes)
        else:  # the cached view: built once per module
            module.__dict__["forward"] = _module_call(TorchRNN.of(module), masks)
    return patched


def active_keeps(model: nn.Module, modules: Mapping[str, nn.Module] | None = None
                 ) -> dict[str, list[Tensor | None]]:
    """The keep masks (on the CPU) of the recurrent modules of ``model`` that silence units right now: inside
    :func:`silenced` (:func:`rnnscope.experiments.silenced`), or copies made by :func:`apply_keeps`.

    Examples
    --------
    >>> from torch import nn
    >>> model = nn.Sequential(nn.GRU(2, 3, batch_first=True))
    >>> keeps = module_keeps(model, {"0": [1]}, name="silence", func="f", silenced=True)
    >>> with silenced(model, keeps):
    ...     inside = active_keeps(model)
    >>> inside["0"][0].tolist(), active_keeps(model)
    ([True, False, True], {})
    """
    modules = recurrent_modules(model) if modules is None else modules
    return {name: list(vars(m)[_ACTIVE]) for name, m in modules.items() if vars(m).get(_ACTIVE) is not None}


def merge_keeps(*specs: Mapping[str, list[Tensor | None]]) -> dict[str, list[Tensor | None]]:
    """Keep masks per module and entry kept by every one of ``specs`` (a unit silenced by any is silenced)."""
    out: dict[str, list] = {}
    for spec in specs:
        for name, masks in spec.items():
            current = out.get(name, [None] * len(masks))
            out[name] = [_and(a, None if b is None else b.cpu()) for a, b in zip(current, masks, strict=True)]
    return {k: v for k, v in out.items() if any(m is not None for m in v)}


def layer_keeps(model: RNNClassifier) -> list[Tensor | None] | None:
    """For an rnnscope classifier (``model.layers``): the keep mask in effect for each layer's recurrent module
    (:func:`active_keeps`), or None when no layer silences units."""
    out = []
    for layer in model.layers:
        mask = None
        for masks in active_keeps(layer).values():
            for m in masks:
                mask = _and(mask, m)
        out.append(mask)
    return out if any(m is not None for m in out) else None


def _module_call(view: TorchRNN, masks):
    def forward(input, hx=None):
        return view.forward_like(view.prepare(input, hx), masks)
    return forward


def _cell_call(cell: nn.Module, mask):
    def forward(input, hx=None):
        if mask is None:
            return type(cell).forward(cell, input, hx)
        return cell_forward(cell, input, hx, mask)
    return forward

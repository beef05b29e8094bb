"""Argument checks for the torch side of :mod:`rnnscope.models`.

They extend :mod:`rnnscope._validation` (same phrasing: ``The 'x' parameter of f must be ... Got ... instead.``)
with checks that need torch (sequences, states, unit masks).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._validation import check_positive


def check_int(value: Any, *, name: str, func: str, allow_zero: bool = False) -> int:
    """Return ``value`` as a positive (or non-negative) ``int``."""
    return int(check_positive(value, name=name, func=func, integer=True, allow_zero=allow_zero))


def check_probability(value: Any, *, name: str, func: str) -> float:
    """Return ``value`` as a float in [0, 1)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not (0.0 <= float(value) < 1.0):
        raise ValueError(f"The {name!r} parameter of {func} must be a number in [0, 1). Got {value!r} instead.")
    return float(value)


def check_bool(value: Any, *, name: str, func: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"The {name!r} parameter of {func} must be True or False. Got {value!r} instead.")
    return bool(value)


def _describe(x: Any) -> str:
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return f"an array of shape {tuple(x.shape)} and dtype {x.dtype}"
    return repr(x) if len(repr(x)) < 80 else f"a {type(x).__name__}"


def as_float_tensor(x: Any, *, like: torch.Tensor, name: str, func: str) -> torch.Tensor:
    """Return ``x`` as a floating tensor on ``like``'s device and dtype (numpy arrays are converted)."""
    if isinstance(x, torch.Tensor):
        if not (x.is_floating_point()):
            raise ValueError(
                f"The {name!r} parameter of {func} must hold floating-point values. Got {_describe(x)} instead."
            )
        return x.to(device=like.device, dtype=like.dtype)
    try:
        arr = np.asarray(x)
    except Exception:  # pragma: no cover - exotic inputs
        arr = None
    if arr is None or arr.dtype.kind not in "iuf":
        raise ValueError(
            f"The {name!r} parameter of {func} must be a float tensor or array. Got {_describe(x)} instead."
        )
    return torch.as_tensor(arr, dtype=like.dtype, device=like.device)


def check_sequence(x: Any, n_features: int, *, like: torch.Tensor, name: str = "x", func: str) -> torch.Tensor:
    """Return a batch-first sequence ``(batch, time, n_features)`` with at least one frame."""
    x = as_float_tensor(x, like=like, name=name, func=func)
    if x.dim() != 3 or x.shape[-1] != n_features or x.shape[1] == 0:
        raise ValueError(
            f"The {name!r} parameter of {func} must have shape (batch, time, {n_features}) with time >= 1 "
            f"(batch first). Got shape {tuple(x.shape)} instead."
        )
    return x


def check_keep(
    keep: Any, hidden_size: int, *, like: torch.Tensor, name: str = "keep", func: str
) -> torch.Tensor | None:
    """Return a unit mask as a bool tensor of shape ``(hidden_size,)`` on ``like``'s device, or None."""
    if keep is None:
        return None
    mask: torch.Tensor | None
    if isinstance(keep, torch.Tensor):
        mask = keep
    else:
        arr = np.asarray(keep)
        mask = torch.as_tensor(arr) if arr.dtype.kind == "b" else None
        if mask is None:
            raise ValueError(
                f"The {name!r} parameter of {func} must be a boolean mask of shape ({hidden_size},), True for the "
                f"units to keep. Got {_describe(keep)} instead. (Turn unit indices into a mask with "
                f"mask = np.zeros({hidden_size}, bool); mask[indices] = True.)"
            )
    if mask.dtype != torch.bool or tuple(mask.shape) != (hidden_size,):
        raise ValueError(
            f"The {name!r} parameter of {func} must be a boolean mask of shape ({hidden_size},), True for the "
            f"units to keep. Got {_describe(keep)} instead."
        )
    return mask.to(like.device)


def layer_masks(masks: Any, num_layers: int, hidden_size: int, *, name: str, func: str,
                silenced: bool = False) -> list[torch.Tensor | None]:
    """Per-layer unit masks in any of the forms users write, as keep masks (bool tensor, True = keep) or None.

    The one place unit masks are read (models' ``keep``, ``capture(silence=)``, interventions). Accepted:

    - None (nothing masked);
    - one entry for a one-layer model;
    - a list or tuple with one entry per layer, or a dict ``{layer: entry}`` (missing layers: None);
    - an entry: None, a boolean mask of shape ``(hidden_size,)``, or a list of unit ids.

    A mask or a list of ids names the units **kept**, or the units **silenced** with ``silenced=True`` (what
    ``capture``'s ``silence`` means); the result always says True = keep.

    Examples
    --------
    >>> [m.tolist() for m in layer_masks([0, 2], 1, 4, name="silence", func="capture", silenced=True)]
    [[False, True, False, True]]
    >>> layer_masks({1: [True, False]}, 2, 2, name="keep", func="f")[0] is None
    True
    """
    what = "silenced" if silenced else "kept"
    expected = (f"one entry per layer ({num_layers}; a list, or a dict {{layer: entry}}), each None, a boolean "
                f"mask of shape ({hidden_size},) with True for the {what} units, or a list of the {what} unit ids")
    if masks is None:
        return [None] * num_layers
    if isinstance(masks, dict):
        unknown = [k for k in masks if not isinstance(k, (int, np.integer)) or not 0 <= int(k) < num_layers]
        if unknown:
            raise ValueError(f"The {name!r} parameter of {func} has entries for layers {unknown}; the model has "
                             f"layers 0..{num_layers - 1}.")
        masks = [masks.get(layer) for layer in range(num_layers)]
    elif num_layers == 1 and not _is_layer_list(masks):
        masks = [masks]  # one entry for a one-layer model
    if not isinstance(masks, (list, tuple)) or len(masks) != num_layers:
        raise ValueError(f"The {name!r} parameter of {func} must give {expected}. Got {_describe(masks)} instead.")
    out: list[torch.Tensor | None] = []
    for layer, entry in enumerate(masks):
        if entry is None:
            out.append(None)
            continue
        arr = _as_array(entry)
        if arr.dtype.kind == "b":
            if arr.shape != (hidden_size,):
                raise ValueError(f"The {name!r} parameter of {func}: the mask of layer {layer} has shape {arr.shape}; "
                                 f"it must have shape ({hidden_size},) (True for the {what} units).")
            chosen = arr
        elif arr.dtype.kind in "iu" or (arr.size == 0 and arr.ndim == 1):
            ids = arr.astype(np.int64).reshape(-1)
            if ids.size and (ids.min() < 0 or ids.max() >= hidden_size):
                raise ValueError(
                    f"The {name!r} parameter of {func}: layer {layer} names units outside "
                    f"0..{hidden_size - 1} ({sorted(set(ids[(ids < 0) | (ids >= hidden_size)].tolist()))})."
                )
            chosen = np.zeros(hidden_size, dtype=bool)
            chosen[ids] = True
        else:
            raise ValueError(f"The {name!r} parameter of {func} must give {expected}. Got {_describe(entry)} for "
                             f"layer {layer} instead.")
        out.append(torch.from_numpy(np.ascontiguousarray(~chosen if silenced else chosen)))
    return out


def _is_layer_list(masks: Any) -> bool:
    """A list of one per-layer entry (None or a 1-D mask / id list), as opposed to one layer's mask or ids."""
    return (
        isinstance(masks, (list, tuple)) and len(masks) == 1 and (masks[0] is None or np.ndim(_as_array(masks[0])) == 1)
    )


def _as_array(entry: Any) -> np.ndarray:
    return entry.detach().cpu().numpy() if isinstance(entry, torch.Tensor) else np.asarray(entry)

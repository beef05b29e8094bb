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


def check_keep(keep: Any, hidden_size: int, *, like: torch.Tensor, name: str = "keep", func: str) -> torch.Tensor | None:
    """Return a unit mask as a bool tensor of shape ``(hidden_size,)`` on ``like``'s device, or None."""
    if keep is None:
        return None
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

"""Device selection shared by every torch-side entry point (models, training, capture).

``device="auto"`` picks CUDA when available, then Apple MPS, then the CPU. Explicit devices (``"cpu"``,
``"cuda"``, ``"cuda:1"``, ``"mps"`` or a :class:`torch.device`) are accepted and checked, so asking for a device
the machine does not have fails early with a clear message instead of deep inside a forward pass.

This module imports torch; it is only imported by the torch side of the package (never by ``import rnnscope``).
"""
from __future__ import annotations

import itertools
from typing import Any

import torch

from .errors import DeviceUnavailableError

__all__ = ["resolve_device", "DeviceUnavailableError"]



def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: Any = "auto", *, func: str = "resolve_device") -> torch.device:
    """Return the :class:`torch.device` to use for ``device``.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device or None
        ``"auto"`` (or ``None``) picks CUDA when available, then Apple MPS, then the CPU.
    func : str
        Name of the calling function, used in error messages.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        ``device`` is not a device name.
    DeviceUnavailableError
        The device is valid but not usable here (no CUDA / MPS, or a CUDA index past the last GPU).

    Examples
    --------
    >>> from rnnscope._device import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("auto").type in {"cpu", "cuda", "mps"}
    True
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device.strip())
        except (RuntimeError, ValueError):
            raise ValueError(
                f"The 'device' parameter of {func} must be 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a "
                f"torch.device. Got {device!r} instead."
            ) from None
    else:
        raise ValueError(
            f"The 'device' parameter of {func} must be 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a "
            f"torch.device. Got {device!r} instead."
        )
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"The 'device' parameter of {func} asks for {str(dev)!r} but CUDA is not available here "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda is not None}). "
                "Use device='auto' or device='cpu'."
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise DeviceUnavailableError(
                f"The 'device' parameter of {func} asks for {str(dev)!r} but only {count} CUDA device(s) "
                f"exist (cuda:0..cuda:{count - 1})."
            )
    elif dev.type == "mps":
        if not _mps_available():
            raise DeviceUnavailableError(
                f"The 'device' parameter of {func} asks for 'mps' but Apple MPS is not available here. "
                "Use device='auto' or device='cpu'."
            )
    elif dev.type != "cpu":
        raise ValueError(
            f"The 'device' parameter of {func} must be a CPU, CUDA or MPS device. Got {str(dev)!r} instead."
        )
    return dev


def on_device(model: torch.nn.Module, device) -> torch.nn.Module:
    """``model`` on ``device``, moved only when a parameter or buffer is elsewhere (``Module.to`` walks every module
    and re-flattens every RNN's weights even when nothing moves: about a third of a millisecond for SeisBench's CRED,
    a few percent of its capture)."""
    target = torch.device(device)
    # each module's own tensors, one walk (``parameters()`` and ``buffers()`` walk the tree twice, naming members)
    if all(t is None or t.device == target for m in model.modules()
           for t in itertools.chain(m._parameters.values(), m._buffers.values())):
        return model
    return model.to(device)

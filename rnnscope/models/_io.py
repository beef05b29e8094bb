"""Model files: one ``.safetensors`` file (weights + buffers, JSON config in the metadata); loading never runs code.

A PyTorch state-dict file (``.pt``/``.pth``) plus a JSON config is accepted too; it is read with
``torch.load(..., weights_only=True)`` only, and a file that would need to run code to load is refused.
"""
from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from typing import Any

import torch

from .._device import resolve_device
from ..errors import UnsafeModelFileError
from ._base import ModelBase, ModelFileError
from ._file import METADATA_KEY

__all__ = ["load", "ModelFileError", "UnsafeModelFileError"]


def _registry() -> dict[str, type[ModelBase]]:
    from ._classifier import RNNClassifier
    from ._tcn import TCNClassifier

    return {"RNNClassifier": RNNClassifier, "TCNClassifier": TCNClassifier}


def _sniff(path: str) -> str:
    """'safetensors', 'torch' (zip or legacy pickle) or 'unknown', from the first bytes of the file."""
    with open(path, "rb") as f:
        head = f.read(9)
    # safetensors first: its 8-byte header length may start with 0x80, the first byte of a pickle
    if len(head) == 9 and head[8:9] == b"{" and head[:2] != b"PK":
        return "safetensors"
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return "torch"
    return "unknown"


def _read_config(config: Any) -> dict[str, Any]:
    if isinstance(config, Mapping):
        return dict(config)
    if isinstance(config, (str, os.PathLike)):
        text = os.fspath(config)
        if not text.lstrip().startswith("{"):
            with open(text, encoding="utf-8") as f:
                text = f.read()
        try:
            out = json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelFileError(f"The 'model_config' parameter of load is not valid JSON: {err}") from None
        if isinstance(out, dict) and METADATA_KEY in out and isinstance(out[METADATA_KEY], (dict, str)):
            out = out[METADATA_KEY] if isinstance(out[METADATA_KEY], dict) else json.loads(out[METADATA_KEY])
        return out
    raise ModelFileError(
        "The 'model_config' parameter of load must be a dict, a JSON string or the path of a JSON file (a model's "
        f"`config`). Got {type(config).__name__} instead."
    )


def _read_safetensors(path: str):
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except Exception as err:
        raise ModelFileError(f"{path!r} is not a readable safetensors file: {err}") from None
    return tensors, metadata


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = next((line.strip() for line in str(err).splitlines() if "global" in line.lower()), "")
        raise UnsafeModelFileError(
            f"{path!r} is not a plain weights file: loading it would run code ({detail or 'arbitrary objects'}). "
            "It was refused and nothing in it was executed. Save weights with model.save(path) (safetensors) or "
            "torch.save(model.state_dict(), path)."
        ) from None
    except Exception as err:
        raise ModelFileError(
            f"{path!r} could not be read as a PyTorch state dict: {type(err).__name__}: {err}"
        ) from None
    if isinstance(obj, Mapping) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelFileError(
            f"{path!r} must hold a state dict (a mapping of names to tensors, as model.state_dict()). "
            f"Got {type(obj).__name__} instead."
        )
    return dict(obj)


def _check_weights(model: ModelBase, tensors: Mapping[str, torch.Tensor], source: str) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    wrong = [
        f"{k}: config expects {tuple(expected[k].shape)}, file holds {tuple(tensors[k].shape)}"
        for k in expected
        if k in tensors and tuple(expected[k].shape) != tuple(tensors[k].shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if wrong:
            parts.append("wrong shapes: " + "; ".join(wrong))
        if missing:
            parts.append(f"missing from the file: {missing}")
        if unexpected:
            parts.append(f"in the file but not in the model: {unexpected}")
        raise ModelFileError(
            f"The config does not match the weights in {source!r} (config: {model.config.get('model')} "
            f"{_summary(model)}). " + " | ".join(parts)
        )


def _summary(model: ModelBase) -> str:
    c = model.config
    keys = ("cells", "input_size", "hidden_size", "num_layers", "num_classes", "filters", "dilations")
    return ", ".join(f"{k}={c[k]}" for k in keys if k in c)


def load(path: str | os.PathLike, *, device: Any = "auto", model_config: Any = None) -> ModelBase:
    """Load a model written by ``model.save(path)``, or a state-dict file with its JSON config.

    Never executes code from the file: safetensors holds only tensors, and ``.pt``/``.pth`` files are read with
    ``torch.load(..., weights_only=True)``; a pickle that would run code raises :class:`UnsafeModelFileError`.

    Parameters
    ----------
    path : str or path-like
        A ``.safetensors`` file written by ``model.save``, or a PyTorch state dict (``.pt``/``.pth``, from
        ``torch.save(model.state_dict(), path)``).
    device : str or torch.device
        Where to put the model; ``"auto"`` (default) picks CUDA, then MPS, then the CPU.
    model_config : dict, JSON string or path of a JSON file, optional
        The model's ``config``. Required for a state-dict file; overrides the config stored in a safetensors file.

    Returns
    -------
    RNNClassifier or TCNClassifier
        In eval mode, with weights loaded strictly.

    Raises
    ------
    ModelFileError
        The file is not a model file, or the config does not match the weights (the message names the
        mismatched, missing and unexpected tensors).
    UnsafeModelFileError
        The file is a pickle that would run code; it was not executed.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from rnnscope.models import RNNClassifier, load
    >>> model = RNNClassifier("lstm", input_size=3, hidden_size=4, num_classes=5)
    >>> path = model.save(os.path.join(tempfile.mkdtemp(), "model.safetensors"))
    >>> x = torch.randn(1, 6, 3)
    >>> again = load(path)
    >>> torch.equal(again(x), model(x)), again.config == model.config
    (True, True)
    """
    dev = resolve_device(device, func="load")
    config = model_config
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The 'path' parameter of load must be an existing file. Got {path!r} instead.")
    kind = _sniff(path)
    if kind == "safetensors":
        tensors, metadata = _read_safetensors(path)
        if config is None:
            if METADATA_KEY not in metadata:
                raise ModelFileError(
                    f"{path!r} is a safetensors file without an rnnscope config (metadata key {METADATA_KEY!r}); "
                    "pass model_config= (the model's config as a dict or JSON file)."
                )
            try:
                cfg = json.loads(metadata[METADATA_KEY])
            except json.JSONDecodeError as err:
                raise ModelFileError(f"The config stored in {path!r} is not valid JSON: {err}") from None
        else:
            cfg = _read_config(config)
    elif kind == "torch":
        if config is None:
            raise ModelFileError(
                f"{path!r} is a PyTorch state-dict file; it holds no config. Pass model_config= (the model's config as "
                "a dict, a JSON string or a JSON file)."
            )
        cfg = _read_config(config)
        tensors = _read_state_dict(path)
    else:
        raise ModelFileError(
            f"{path!r} is neither a safetensors file nor a PyTorch state-dict file (its first bytes are not a "
            "safetensors header, a zip archive or a pickle)."
        )
    if not isinstance(cfg, Mapping):
        raise ModelFileError(f"A model config must be a JSON object. Got {type(cfg).__name__} instead.")
    name = cfg.get("model")
    registry = _registry()
    if name not in registry:
        raise ModelFileError(f"The config's 'model' must be one of {sorted(registry)}. Got {name!r} instead.")
    model = registry[name].from_config(cfg)
    floats = [t.dtype for t in tensors.values() if t.is_floating_point()]
    if floats:
        model = model.to(floats[0])
    _check_weights(model, tensors, path)
    model.load_state_dict(tensors, strict=True)
    return model.to(dev).eval()

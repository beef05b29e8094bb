"""The model file format: one ``.safetensors`` file, weights and buffers as tensors, the model's JSON config in the
metadata under :data:`METADATA_KEY`. Writing lives here (:func:`save_model`, what ``model.save`` calls); reading,
which needs the model classes, in :mod:`rnnscope.models._io`.
"""
from __future__ import annotations

import json
import os

__all__ = ["METADATA_KEY", "save_model"]

#: Key of the JSON config in a model file's safetensors metadata.
METADATA_KEY = "rnnscope_model"


def save_model(model, path: str | os.PathLike) -> str:
    """Write ``model`` (any rnnscope model: ``config`` and ``state_dict``) to ``path`` as safetensors (atomic:
    ``path + ".partial"``, then renamed)."""
    from safetensors.torch import save_file

    path = os.fspath(path)
    try:
        config = json.dumps(model.config, sort_keys=True)
    except TypeError as err:
        raise ValueError(f"The model's info/config must be JSON-able to be saved: {err}") from None
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in model.state_dict().items()}
    partial = path + ".partial"
    try:
        save_file(tensors, partial, metadata={METADATA_KEY: config})
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return path

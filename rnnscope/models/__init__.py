"""Models: recurrent layers behind one cell protocol, the stacked classifier, the TCN baseline, files.

- :class:`RNNClassifier` — stacked ``"rnn"`` / ``"lstm"`` / ``"gru"`` / ``"lazy_lstm"`` layers (one kind or one
  per layer), optional shortcut connections, per-frame linear head; owns its input normaliser and class names.
- :class:`TCNClassifier` — causal dilated convolutions, the papers' baseline; same normaliser/classes/files.
- :func:`from_torch` — make an :class:`RNNClassifier` (trainable with ``fit``) from an ``nn.RNN``/``nn.LSTM``/
  ``nn.GRU`` and ``nn.Linear`` trained elsewhere (to capture any model as it is, pass it to
  :func:`rnnscope.capture`: its recurrent modules are read through :mod:`rnnscope.models._torch_rnn`).
- :func:`load` — read a model file (``model.save(path)`` writes one ``.safetensors`` file); never runs code.
- The layers (:class:`RNNLayer`, :class:`LSTMLayer`, :class:`GRULayer`, :class:`LazyLSTMLayer`) share the cell
  protocol documented in :class:`RecurrentLayer`: ``forward`` (fused fast path), ``step`` (reference),
  ``internals`` (exact recovery of every variable), ``trace`` (every variable in one pass: native C++ kernels on
  the CPU, see :func:`native_status`), ``variables``, ``initial_state``, ``masked``.
- :func:`unrolled` — inside its ``with`` block every recurrent layer runs its exact step loop instead of a fused
  kernel (gradients in eval mode on a GPU, where cuDNN refuses an RNN's backward pass).

Importing this package imports torch (``import rnnscope`` alone does not).

Examples
--------
>>> import torch
>>> from rnnscope import models
>>> model = models.RNNClassifier("lstm", input_size=4, hidden_size=8, num_classes=5)
>>> model.class_names
['SIL', 'TRE', 'LP', 'VTE', 'HYB']
>>> tuple(model(torch.randn(2, 10, 4)).shape)
(2, 10, 5)
"""
from ._base import ClassMismatchError, ModelBase, ModelFileError
from ._cells import CELL_KINDS, GRULayer, LazyLSTMLayer, LSTMLayer, RNNLayer, make_layer
from ._classifier import RNNClassifier
from ._equations import lazy_lstm_recurrence, lstm_cell_scan
from ._from_torch import from_torch
from ._io import UnsafeModelFileError, load
from ._layers import RecurrentLayer
from ._native import build as build_native
from ._native import native_status, set_native
from ._tcn import TCNClassifier
from ._unrolled import unrolled

__all__ = [
    "RNNClassifier",
    "TCNClassifier",
    "from_torch",
    "load",
    "CELL_KINDS",
    "make_layer",
    "RecurrentLayer",
    "RNNLayer",
    "LSTMLayer",
    "GRULayer",
    "LazyLSTMLayer",
    "lstm_cell_scan",
    "lazy_lstm_recurrence",
    "build_native",
    "native_status",
    "set_native",
    "unrolled",
    "ModelBase",
    "ModelFileError",
    "UnsafeModelFileError",
    "ClassMismatchError",
]

"""Make an rnnscope classifier from a recurrent network trained elsewhere (``nn.RNN``/``nn.LSTM``/``nn.GRU`` +
``nn.Linear``).

To *look inside* any PyTorch model, nothing needs converting: :func:`rnnscope.capture` takes any ``nn.Module``
(bidirectional, projected, packed, cells in a loop...). :func:`from_torch` is for when the result should be an
:class:`RNNClassifier`: trainable further with :func:`rnnscope.train.fit`, saved as an rnnscope model file, owning
its normaliser and class names, captured on features Datasets with the native kernels, and pruned with
:func:`rnnscope.experiments.silence` (``mode="mean"`` too). Only the causal, unidirectional stacks the classifier
represents can be converted.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._classifier import RNNClassifier

__all__ = ["from_torch"]

_KINDS = ((nn.LSTM, "lstm"), (nn.GRU, "gru"), (nn.RNN, "rnn"))


def from_torch(rnn: nn.Module, head: nn.Linear, *, class_names: Sequence[str] | None = None,
               background: str | None = "auto") -> RNNClassifier:
    """Make an :class:`RNNClassifier` (trainable with ``fit``) from a PyTorch recurrent module and its per-frame
    linear head trained elsewhere.

    To capture the states of a model as it is (any shape, bidirectional too), pass it to :func:`rnnscope.capture`
    directly; convert it when it should become an rnnscope classifier (see the module documentation). The result
    gives identical outputs (``model(x) == head(rnn(x)[0])`` for batch-first ``x``) and exposes every
    internal state through the cell protocol. Weights are copied (the originals are untouched); the normaliser is
    the identity (call ``fit_normalizer`` only if the original model was trained on normalised features and you
    want the wrapper to do it); the model is returned in eval mode on the device and dtype of ``rnn``.

    Parameters
    ----------
    rnn : nn.RNN (tanh), nn.LSTM or nn.GRU
        Any ``num_layers``, ``batch_first`` or not, with or without bias. Bidirectional modules, LSTM projections
        (``proj_size > 0``) and ReLU RNNs are refused.
    head : nn.Linear
        ``hidden_size -> num_classes``, applied to every frame.
    class_names : list of str, optional
        Names of the head's outputs in order (default as :class:`RNNClassifier`).
    background : str or None
        The class that is not an event (default as :class:`RNNClassifier`). The wrapped model has no input
        contract (``sampling_rate`` and ``feature_config`` are None): its input is not checked.

    Returns
    -------
    RNNClassifier

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import from_torch
    >>> rnn, head = torch.nn.GRU(4, 6, num_layers=2), torch.nn.Linear(6, 3)
    >>> model = from_torch(rnn, head, class_names=["SIL", "LP", "VTE"])
    >>> x = torch.randn(5, 2, 4)  # (time, batch, features): this GRU is not batch first
    >>> torch.allclose(model(x.transpose(0, 1)), head(rnn(x)[0]).transpose(0, 1), atol=1e-6)
    True
    >>> plain = from_torch(torch.nn.LSTM(4, 6), torch.nn.Linear(6, 5))
    >>> plain.class_names[:2], plain.sampling_rate, plain.feature_config  # nothing known of its input
    (['SIL', 'TRE'], None, None)
    """
    func = "from_torch"
    kind = next((k for cls, k in _KINDS if isinstance(rnn, cls)), None)
    if kind is None or not isinstance(rnn, nn.RNNBase):  # nn.RNN, nn.LSTM and nn.GRU are RNNBase
        raise ValueError(
            f"The 'rnn' parameter of {func} must be a torch.nn.RNN (tanh), torch.nn.LSTM or torch.nn.GRU. "
            f"Got {type(rnn).__name__} instead."
        )
    if rnn.bidirectional:
        raise ValueError(
            f"The 'rnn' parameter of {func} must be unidirectional: rnnscope's models are causal (frame t sees "
            f"frames <= t only). Got a bidirectional {type(rnn).__name__} instead."
        )
    if getattr(rnn, "proj_size", 0):
        raise ValueError(
            f"The 'rnn' parameter of {func} must have proj_size=0 (LSTM projections are not supported). "
            f"Got proj_size={rnn.proj_size} instead."
        )
    if kind == "rnn" and getattr(rnn, "nonlinearity", "tanh") != "tanh":
        raise ValueError(
            f"The 'rnn' parameter of {func} must use nonlinearity='tanh' (the vanilla cell of the papers). "
            f"Got nonlinearity={rnn.nonlinearity!r} instead."
        )
    if not isinstance(head, nn.Linear):
        raise ValueError(
            f"The 'head' parameter of {func} must be a torch.nn.Linear. Got {type(head).__name__} instead."
        )
    if head.in_features != rnn.hidden_size:
        raise ValueError(
            f"The 'head' parameter of {func} must take hidden_size={rnn.hidden_size} inputs. "
            f"Got in_features={head.in_features} instead."
        )
    ref = rnn.get_parameter("weight_ih_l0")
    model = RNNClassifier(
        kind,
        input_size=rnn.input_size,
        hidden_size=rnn.hidden_size,
        num_classes=head.out_features,
        num_layers=rnn.num_layers,
        dropout=float(rnn.dropout),
        class_names=class_names,
        background=background,
        bias=bool(rnn.bias),
        head_bias=head.bias is not None,
    ).to(device=ref.device, dtype=ref.dtype)
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.bias else [])
    with torch.no_grad():
        for i, layer in enumerate(model._recurrent_layers):
            for name in names:
                getattr(layer.rnn, f"{name}_l0").copy_(getattr(rnn, f"{name}_l{i}"))
            assert isinstance(layer.rnn, nn.RNNBase)  # rnn, lstm and gru layers run one PyTorch module
            layer.rnn.flatten_parameters()
        model.head.weight.copy_(head.weight)
        if head.bias is not None:
            model.head.bias.copy_(head.bias)
    return model.eval()

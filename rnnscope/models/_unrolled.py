"""Recurrent layers run as their exact step loop while autograd records: a path it can always go back through.

cuDNN runs an RNN's backward pass only in training mode, so gradients of a model in eval mode on a GPU (what input
attribution needs) cannot go through PyTorch's fused kernels there. Inside :func:`unrolled`, every rnnscope layer
(:class:`~rnnscope.models.RecurrentLayer`) computes its fast path with the reference step of its cell, frame after
frame, and every ``nn.RNN``/``nn.LSTM``/``nn.GRU`` of the given model runs layer by layer through its
:class:`~rnnscope.models._torch_rnn.TorchRNN` view, whose layers are rnnscope layers holding the module's own
parameters. The numbers are those of the fused kernels to float rounding (tests check it); cells
(``nn.LSTMCell``...) need nothing: they are single steps already.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from ._layers import UNROLLED
from ._module_masks import silenced
from ._torch_rnn import RECURRENT_MODULES, module_entries, recurrent_modules

__all__ = ["unrolled"]


@contextlib.contextmanager
def unrolled(model: nn.Module | None = None) -> Iterator[nn.Module | None]:
    """Within the ``with`` block, recurrent layers run their exact step loop instead of a fused kernel whenever
    autograd records (under ``torch.no_grad()`` the fused kernel still runs: it needs no backward).

    Parameters
    ----------
    model : nn.Module, optional
        Its ``nn.RNN``/``nn.LSTM``/``nn.GRU`` modules run layer by layer through rnnscope layers for the block
        (modules already silenced by :func:`rnnscope.experiments.silenced` keep their masks: they run that way
        already). rnnscope's own layers (an :class:`~rnnscope.models.RNNClassifier`'s) need no model: every one
        of them steps inside the block.

    Yields
    ------
    nn.Module or None
        ``model``, for ``with unrolled(model) as m:``.

    Examples
    --------
    >>> import torch
    >>> lstm = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    >>> x = torch.randn(2, 6, 3)
    >>> fused, _ = lstm(x)
    >>> with unrolled(lstm):
    ...     stepped, _ = lstm(x)
    >>> torch.allclose(fused, stepped, atol=1e-6), "forward" in vars(lstm)
    (True, False)

    An rnnscope classifier's layers step without being named:

    >>> from rnnscope.models import RNNClassifier
    >>> model = RNNClassifier("gru", input_size=3, hidden_size=4, num_classes=5).eval()
    >>> with unrolled():
    ...     logits = model(x)
    >>> logits.sum().backward()  # in eval mode: possible on CUDA too
    >>> model.head.weight.grad.shape
    torch.Size([5, 4])
    """
    fused: dict[str, list[torch.Tensor | None]] = {}
    if model is not None:
        fused = {name: [None] * len(module_entries(m)) for name, m in recurrent_modules(model).items()
                 if isinstance(m, RECURRENT_MODULES) and "forward" not in vars(m)}
    token = UNROLLED.set(True)
    try:
        # no unit masked: the views run (fused is empty without a model)
        with silenced(model, fused) if model is not None and fused else contextlib.nullcontext():
            yield model
    finally:
        UNROLLED.reset(token)

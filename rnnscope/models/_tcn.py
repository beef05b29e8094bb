"""Temporal convolutional network baseline (Titos & Garcia 2022, Table I): causal dilated 1-D convolutions."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ._base import ModelBase
from ._checks import check_int, check_probability

__all__ = ["TCNClassifier"]


class _CausalConv1d(nn.Module):
    """``nn.Conv1d`` with left padding only, so output frame t sees input frames <= t."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.left_pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)

    def forward(self, x: Tensor) -> Tensor:  # x: (batch, channels, time)
        return self.conv(F.pad(x, (self.left_pad, 0)))


class _ResidualBlock(nn.Module):
    """Two causal dilated convolutions (ReLU, dropout) plus a skip path; output ``ReLU(F(x) + skip(x))``.

    The skip path is a 1x1 convolution when the channel counts differ, else the identity.
    """

    def __init__(self, in_channels: int, filters: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.conv1 = _CausalConv1d(in_channels, filters, kernel_size, dilation)
        self.conv2 = _CausalConv1d(filters, filters, kernel_size, dilation)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv1d(in_channels, filters, 1) if in_channels != filters else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.drop(F.relu(self.conv1(x)))
        y = self.drop(F.relu(self.conv2(y)))
        return F.relu(y + self.skip(x))


class TCNClassifier(ModelBase):
    """Causal temporal convolutional network with a per-frame linear head (the papers' TCN baseline).

    Parameters
    ----------
    input_size : int
        Features per frame.
    num_classes : int
        Classes (logits per frame).
    filters : int
        Channels of every convolution.
    kernel_size : int
        Taps of each dilated convolution.
    dilations : sequence of int
        One residual unit per dilation (two causal convolutions each).
    blocks : int
        How many times the dilation stack is repeated (keras-tcn's ``nb_stacks``; the paper uses one).
    dropout : float
        Dropout after every convolution, in training mode only.
    class_names : list of str, optional
        Default ``["SIL", "TRE", "LP", "VTE", "HYB"]`` for 5 classes, else ``["class0", ...]``.
    background : str or None
        The class that is not an event (``model.background``, saved with the model). ``"auto"`` (default): the
        class the training features declare (``attrs["background"]``, taken by :func:`rnnscope.train.fit`); before
        that ``"SIL"`` for the default task's five classes, else none.

    Notes
    -----
    Same interface as :class:`RNNClassifier` for the normaliser (``fit_normalizer``; NaN is kept, as in PyTorch: a
    NaN frame makes the logits of the frames that see it NaN), class names, ``config``, ``save`` and
    :func:`rnnscope.models.load`. Convolutions are padded on the left only, so the output at frame t depends on frames
    ``t - receptive_field + 1 .. t`` only.

    Examples
    --------
    >>> import torch
    >>> from rnnscope.models import TCNClassifier
    >>> model = TCNClassifier(input_size=6, num_classes=5, filters=8)
    >>> model.receptive_field
    113
    >>> tuple(model(torch.randn(2, 30, 6)).shape)
    (2, 30, 5)
    >>> TCNClassifier(input_size=48, num_classes=5).receptive_field, TCNClassifier(input_size=48, num_classes=5).filters
    (113, 50)
    """

    def __init__(
        self,
        *,
        input_size: int,
        num_classes: int,
        filters: int = 50,
        kernel_size: int = 2,
        dilations: Sequence[int] = (8, 16, 32),
        blocks: int = 1,
        dropout: float = 0.0,
        class_names: Sequence[str] | None = None,
        background: str | None = "auto",
    ):
        super().__init__()
        func = "TCNClassifier"
        self._init_common(input_size, num_classes, class_names, func, background)
        self.filters = check_int(filters, name="filters", func=func)
        self.kernel_size = check_int(kernel_size, name="kernel_size", func=func)
        if isinstance(dilations, (str, bytes)) or not hasattr(dilations, "__iter__"):
            raise ValueError(
                f"The 'dilations' parameter of {func} must be a sequence of positive integers such as (8, 16, 32). "
                f"Got {dilations!r} instead."
            )
        self.dilations = [check_int(d, name="dilations", func=func) for d in dilations]
        if not self.dilations:
            raise ValueError(f"The 'dilations' parameter of {func} must hold at least one dilation. Got [] instead.")
        self.blocks = check_int(blocks, name="blocks", func=func)
        self.dropout = check_probability(dropout, name="dropout", func=func)
        units = []
        channels = self.input_size
        for _ in range(self.blocks):
            for d in self.dilations:
                units.append(_ResidualBlock(channels, self.filters, self.kernel_size, d, self.dropout))
                channels = self.filters
        self.tcn = nn.Sequential(*units)
        self.head = nn.Linear(self.filters, self.num_classes)

    @property
    def receptive_field(self) -> int:
        """Frames an output sees: ``1 + blocks * sum(2 * (kernel_size - 1) * d for d in dilations)``."""
        return 1 + self.blocks * sum(2 * (self.kernel_size - 1) * d for d in self.dilations)

    def forward(self, x: Any) -> Tensor:
        """Per-frame logits ``(batch, time, num_classes)`` for raw features ``(batch, time, input_size)``."""
        x = self._prepare_input(x, f"{type(self).__name__}.forward")
        z = self.normalize(x).transpose(1, 2)  # (batch, features, time)
        return self.head(self.tcn(z).transpose(1, 2))

    def _arch_config(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "num_classes": self.num_classes,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilations": list(self.dilations),
            "blocks": self.blocks,
            "dropout": self.dropout,
        }

    @classmethod
    def _build(cls, config: Mapping[str, Any]) -> TCNClassifier:
        return cls(
            input_size=config["input_size"],
            num_classes=config["num_classes"],
            filters=config["filters"],
            kernel_size=config["kernel_size"],
            dilations=list(config["dilations"]),
            blocks=config["blocks"],
            dropout=config.get("dropout", 0.0),
            class_names=config.get("class_names"),
            background=config.get("background", "auto"),
        )

    def __repr__(self) -> str:
        return (
            self._fmt_header()
            + f"\n  {self.blocks} x dilations {self.dilations}, {self.filters} filters, kernel {self.kernel_size}, "
            f"receptive field {self.receptive_field} frames\n  head: linear {self.filters} -> {self.num_classes}\n)"
        )

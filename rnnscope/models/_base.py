"""What every rnnscope model shares: its input normaliser, its class names, its config and save/load."""
from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .._validation import (
    DEFAULT_BACKGROUND,
    DEFAULT_CLASS_NAMES,
    FROM_DATA,
    check_background,
    check_class_names,
)
from .._version import __version__
from ..errors import ClassMismatchError, InputWarning, ModelFileError
from ..features._contract import check_contract, input_contract
from ._checks import check_int, check_sequence
from ._file import save_model

__all__ = ["ModelBase", "ClassMismatchError", "ModelFileError", "default_class_names"]

#: Version of the config layout written into model files.
CONFIG_VERSION = 1




def default_class_names(num_classes: int) -> list[str]:
    """``["SIL", "TRE", "LP", "VTE", "HYB"]`` for 5 classes, else ``["class0", "class1", ...]``."""
    if num_classes == len(DEFAULT_CLASS_NAMES):
        return list(DEFAULT_CLASS_NAMES)
    return [f"class{i}" for i in range(num_classes)]


def _iter_frame_blocks(x: Any, n_features: int, func: str):
    """Yield 2-D float64 arrays (frames, features) from the many shapes a feature collection can take."""
    if hasattr(x, "data_vars"):  # xarray Dataset: its "features" variable
        if "features" not in x.data_vars:
            raise ValueError(
                f"The 'x' parameter of {func} must be a features Dataset (with a 'features' variable), an array "
                f"or a list of arrays. Got a Dataset with variables {sorted(x.data_vars)} instead."
            )
        x = x["features"]
    if hasattr(x, "dims") and hasattr(x, "values") and not isinstance(x, (np.ndarray, Tensor)):  # DataArray
        if x.ndim == 3:
            for i in range(x.shape[0]):  # event by event: never loads a whole (dask) data set at once
                yield from _iter_frame_blocks(np.asarray(x[i].values), n_features, func)
            return
        x = np.asarray(x.values)
    if isinstance(x, Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, (list, tuple)):
        for item in x:
            yield from _iter_frame_blocks(item, n_features, func)
        return
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf" or arr.ndim not in (2, 3) or arr.shape[-1] != n_features:
        raise ValueError(
            f"The 'x' parameter of {func} must hold frames of {n_features} features: an array (time, "
            f"{n_features}) or (sequence, time, {n_features}), a list of such arrays, or a features Dataset. "
            f"Got an array of shape {arr.shape} and dtype {arr.dtype} instead."
        )
    yield arr.reshape(-1, n_features).astype(np.float64, copy=False)


class ModelBase(nn.Module):
    """Shared part of :class:`RNNClassifier` and :class:`TCNClassifier`.

    Holds the input normaliser (buffers ``feature_mean`` and ``feature_std``, applied inside ``forward``), the
    class names and the background class, the **input contract** (``sampling_rate`` and ``feature_config`` of
    the features it was trained on, set by :func:`rnnscope.train.fit`), a free ``info`` dict saved with the model
    (e.g. class weights, training summary), ``config``, ``save`` and the class-name matching helpers.

    Attributes
    ----------
    class_names : list of str
        Name of each output, in order.
    background : str or None
        The class that is not an event (monitor detections, event scores and onset analyses leave it out);
        None when nothing says.
    sampling_rate : float or None
        Hz of the records the training features were computed from (None: unknown, nothing is checked).
    feature_config : dict or None
        Every setting of those features (``attrs["feature_config"]``; ``rnnscope.features.compute(records,
        feature_config=model.feature_config)`` computes them again).
    preprocessing : dict or None
        ``detrend`` and ``bandpass`` of the records (:func:`rnnscope.data.from_obspy`), which the monitor repeats.

    Parameters
    ----------
    *args, **kwargs
        Passed to :class:`torch.nn.Module`; the subclasses' constructors take the model's settings and call
        ``_init_common``.

    Examples
    --------
    >>> from rnnscope.models import ModelBase, RNNClassifier
    >>> model = RNNClassifier("gru", input_size=4, hidden_size=3, num_classes=3, class_names=["BG", "LP", "VT"],
    ...                       background="BG")
    >>> isinstance(model, ModelBase), model.class_names, model.background, model.sampling_rate
    (True, ['BG', 'LP', 'VT'], 'BG', None)
    >>> model.remap_labels(np.array([2, 0, -1]), ["VT", "BG", "LP"])  # data's class indices -> the model's
    array([ 1,  2, -1])
    """

    feature_mean: Tensor  # buffers (registered in __init__)
    feature_std: Tensor

    def _init_common(self, input_size: int, num_classes: int, class_names, func: str,
                     background: str | None = FROM_DATA) -> None:
        self.input_size = check_int(input_size, name="input_size", func=func)
        self.num_classes = check_int(num_classes, name="num_classes", func=func)
        if class_names is None:
            names = default_class_names(self.num_classes)
        else:
            names = check_class_names(class_names, func=func)
            if len(names) != self.num_classes:
                raise ValueError(
                    f"The 'class_names' parameter of {func} must hold num_classes={self.num_classes} names. "
                    f"Got {len(names)} names {names} instead."
                )
        self.class_names: list[str] = names
        if isinstance(background, str) and background == FROM_DATA and FROM_DATA not in names:
            # "auto": what the model's inputs declare. Before fit takes its training features' declaration, a model
            # of the default task's classes declares the default task's background, any other model none.
            background = DEFAULT_BACKGROUND if names == list(DEFAULT_CLASS_NAMES) else None
        self.background: str | None = check_background(background, names, func=func)
        self.sampling_rate: float | None = None
        self.feature_config: dict[str, Any] | None = None
        self.preprocessing: dict[str, Any] | None = None
        self.info: dict[str, Any] = {}
        self.register_buffer("feature_mean", torch.zeros(self.input_size))
        self.register_buffer("feature_std", torch.ones(self.input_size))

    # ---- normaliser ---------------------------------------------------------------------------------------
    def normalize(self, x: Tensor) -> Tensor:
        """``(x - feature_mean) / feature_std``: NaN and infinities stay what they are, as in PyTorch's own modules.

        A NaN frame inside a record is missing data: the states and outputs are NaN from that frame on (what
        ``nn.LSTM`` gives), never silently filled. Padding past a record's length is the business of the code that
        knows the lengths (capture, :func:`rnnscope.train.fit`, :func:`rnnscope.train.predict` fill it with 0: the
        models are causal, so it never changes the outputs on valid frames).

        Examples
        --------
        >>> from rnnscope.models import RNNClassifier
        >>> model = RNNClassifier("gru", input_size=2, hidden_size=3, num_classes=5)
        >>> model.feature_mean.fill_(1.0)
        tensor([1., 1.])
        >>> model.normalize(torch.tensor([[[3.0, float("nan")]]])).tolist()
        [[[2.0, nan]]]
        """
        if torch.is_grad_enabled() and (x.requires_grad or self.feature_mean.requires_grad
                                        or self.feature_std.requires_grad):
            return (x - self.feature_mean) / self.feature_std
        return x.sub(self.feature_mean).div_(self.feature_std)  # no graph: one new buffer, updated in place

    def _prepare_input(self, x: Any, func: str) -> Tensor:
        ref = self.feature_mean
        return check_sequence(x, self.input_size, like=ref, func=func)

    def fit_normalizer(self, x: Any, *, min_std: float = 1e-3) -> ModelBase:
        """Fit ``feature_mean`` and ``feature_std`` on raw features; frames holding NaN (padding) are ignored.

        Parameters
        ----------
        x : array, tensor, list of arrays, DataArray or features Dataset
            Frames as ``(time, features)`` or ``(sequence, time, features)``; a list may mix lengths.
            A Dataset's ``features`` variable is read event by event.
        min_std : float
            Floor of the standard deviation (a constant feature is then only shifted).

        Returns
        -------
        self

        Examples
        --------
        >>> from rnnscope.models import RNNClassifier
        >>> model = RNNClassifier("rnn", input_size=2, hidden_size=3, num_classes=5)
        >>> x = np.array([[[1.0, 5.0], [3.0, 5.0], [np.nan, np.nan]]])
        >>> model.fit_normalizer(x).feature_mean.tolist(), model.feature_std.tolist()
        ([2.0, 5.0], [1.0, 0.001...])
        """
        func = f"{type(self).__name__}.fit_normalizer"
        count, mean, m2 = 0, np.zeros(self.input_size), np.zeros(self.input_size)
        for block in _iter_frame_blocks(x, self.input_size, func):
            block = block[np.isfinite(block).all(axis=1)]
            n = block.shape[0]
            if n == 0:
                continue
            block_mean = block.mean(axis=0)
            block_m2 = ((block - block_mean) ** 2).sum(axis=0)
            delta, total = block_mean - mean, count + n  # Chan et al.'s pairwise update
            mean = mean + delta * (n / total)
            m2 = m2 + block_m2 + delta**2 * (count * n / total)
            count = total
        if count == 0:
            raise ValueError(f"The 'x' parameter of {func} must hold at least one frame without NaN. Got none.")
        std = np.maximum(np.sqrt(m2 / count), float(min_std))
        with torch.no_grad():
            self.feature_mean.copy_(torch.as_tensor(mean))
            self.feature_std.copy_(torch.as_tensor(std))
        return self

    # ---- classes --------------------------------------------------------------------------------------
    def class_index_map(self, data_class_names: Iterable[str]) -> np.ndarray:
        """Index map from the data's class order to the model's: ``model_index = map[data_index]``.

        Raises :class:`ClassMismatchError` naming the differing classes when the two sets differ.

        Examples
        --------
        >>> from rnnscope.models import RNNClassifier
        >>> model = RNNClassifier("gru", input_size=4, hidden_size=3, num_classes=3, class_names=["SIL", "LP", "VTE"])
        >>> model.class_index_map(["VTE", "SIL", "LP"]).tolist()
        [2, 0, 1]
        """
        func = f"{type(self).__name__}.class_index_map"
        data = check_class_names(data_class_names, func=func)
        if set(data) != set(self.class_names):
            only_model = [c for c in self.class_names if c not in data]
            only_data = [c for c in data if c not in self.class_names]
            raise ClassMismatchError(
                f"The model's classes {self.class_names} and the data's classes {data} differ: "
                f"only in the model: {only_model}; only in the data: {only_data}. Classes are matched by name; "
                "relabel the data or train a model on these classes."
            )
        return np.array([self.class_names.index(c) for c in data], dtype=np.int64)

    def remap_labels(self, labels: Any, data_class_names: Iterable[str]):
        """Return ``labels`` (data class indices, -1 unknown) re-indexed to the model's class order.

        Works on numpy arrays and torch tensors (same type, shape and dtype back).

        Examples
        --------
        >>> from rnnscope.models import RNNClassifier
        >>> model = RNNClassifier("gru", input_size=4, hidden_size=3, num_classes=3, class_names=["SIL", "LP", "VTE"])
        >>> model.remap_labels(np.array([0, 1, 2, -1]), ["VTE", "SIL", "LP"]).tolist()
        [2, 0, 1, -1]
        """
        func = f"{type(self).__name__}.remap_labels"
        mapping = self.class_index_map(data_class_names)
        n = len(mapping)
        if isinstance(labels, Tensor):
            if labels.is_floating_point() or labels.dtype == torch.bool:
                raise ValueError(
                    f"The 'labels' parameter of {func} must hold integer class indices. "
                    f"Got dtype {labels.dtype} instead."
                )
            bad = (labels < -1) | (labels >= n)
            if bool(bad.any()):
                raise ValueError(
                    f"The 'labels' parameter of {func} must lie in [-1, {n - 1}] for {n} data classes. "
                    f"Got {sorted(set(labels[bad].tolist()))[:5]} instead."
                )
            table = torch.as_tensor(mapping, device=labels.device)
            out = torch.where(labels >= 0, table[labels.clamp(min=0).long()], -1)
            return out.to(labels.dtype)
        arr = np.asarray(labels)
        if arr.dtype.kind not in "iu":
            raise ValueError(
                f"The 'labels' parameter of {func} must hold integer class indices. Got dtype {arr.dtype} instead."
            )
        outside = (arr < -1) | (arr >= n)
        if outside.any():
            raise ValueError(
                f"The 'labels' parameter of {func} must lie in [-1, {n - 1}] for {n} data classes. "
                f"Got {sorted(set(arr[outside].tolist()))[:5]} instead."
            )
        return np.where(arr >= 0, mapping[np.clip(arr, 0, None)], -1).astype(arr.dtype)

    # ---- input contract -------------------------------------------------------------------------------
    @property
    def input_contract(self) -> dict[str, Any]:
        """``{"sampling_rate", "feature_config"}`` the model expects (None where unknown: nothing is checked)."""
        return {"sampling_rate": self.sampling_rate, "feature_config": self.feature_config}

    def set_input(self, features: Any) -> ModelBase:
        """Remember the input contract of a features Dataset (what :func:`rnnscope.train.fit` calls).

        Stores ``attrs["sampling_rate"]``, ``attrs["feature_config"]``, the records' ``detrend`` and ``bandpass``
        (``attrs["processing"]``) and ``attrs["background"]`` (when the features declare one) in the model; they
        are saved with it.

        Examples
        --------
        >>> import rnnscope
        >>> frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=1, seed=0, sampling_rate=50.0))
        >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5).set_input(frames)
        >>> model.sampling_rate, model.feature_config["preset"], model.background
        (50.0, 'paper', 'SIL')
        """
        attrs = getattr(features, "attrs", features)
        contract = input_contract(attrs)
        self.sampling_rate, self.feature_config = contract["sampling_rate"], contract["feature_config"]
        processing = attrs.get("processing")
        processing = json.loads(processing) if isinstance(processing, str) else processing
        if isinstance(processing, Mapping):
            kept = {k: processing[k] for k in ("detrend", "bandpass") if k in processing}
            self.preprocessing = kept or None
        else:
            self.preprocessing = None
        background = attrs.get("background")
        if background not in (None, ""):
            func = f"{type(self).__name__}.set_input"
            background = check_background(str(background), self.class_names, func=func)
            if self.background is not None and self.background != background:
                warnings.warn(f"{func}: the model's background class was {self.background!r}; the features declare "
                              f"{background!r}, which the model takes.", InputWarning, stacklevel=3)
            self.background = background
        return self

    def check_input(self, features: Any, func: str) -> None:
        """Raise a ValueError naming both sides when ``features`` (a Dataset or its attrs) were computed at another
        sampling rate or with another feature configuration than the model's training features.

        Examples
        --------
        >>> import rnnscope
        >>> records = rnnscope.data.synthetic(n_records=1, seed=0, sampling_rate=50.0)
        >>> model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=4, num_classes=5)
        >>> model = model.set_input(rnnscope.features.compute(records))
        >>> other = rnnscope.features.compute(rnnscope.data.synthetic(n_records=1, seed=0))
        >>> model.check_input(other, "capture")
        Traceback (most recent call last):
        ...
        ValueError: capture: the model was trained on features at 50 Hz with preset 'paper'; these features were
        computed at 100 Hz with preset 'paper' (sampling_rate 50 Hz vs 100 Hz). ...
        """
        check_contract(self.input_contract, input_contract(getattr(features, "attrs", features)), func=func)

    # ---- description ----------------------------------------------------------------------------------
    @property
    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return int(sum(p.numel() for p in self.parameters() if p.requires_grad))

    @property
    def device(self) -> torch.device:
        """Device of the model's tensors."""
        return self.feature_mean.device

    def to_device(self, device: Any = "auto") -> ModelBase:
        """Move the model to ``device`` (``"auto"``: CUDA, then Apple MPS, then CPU) and return it.

        Examples
        --------
        >>> from rnnscope.models import TCNClassifier
        >>> TCNClassifier(input_size=3, num_classes=5, filters=4).to_device("cpu").device
        device(type='cpu')
        """
        from .._device import resolve_device

        return self.to(resolve_device(device, func=f"{type(self).__name__}.to_device"))

    def _arch_config(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild the model (weights aside), as a JSON-able dict."""
        config = {"model": type(self).__name__, "config_version": CONFIG_VERSION}
        config.update(self._arch_config())
        config["class_names"] = list(self.class_names)
        config["background"] = self.background
        config["sampling_rate"] = self.sampling_rate
        config["feature_config"] = self.feature_config
        config["preprocessing"] = self.preprocessing
        config["normalizer"] = {
            "mean": [float(v) for v in self.feature_mean.detach().cpu().tolist()],
            "std": [float(v) for v in self.feature_std.detach().cpu().tolist()],
        }
        config["info"] = json.loads(json.dumps(self.info))  # a JSON-able copy (raises early otherwise)
        config["rnnscope_version"] = __version__
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ModelBase:
        """Build an untrained model from a ``config`` (weights random; normaliser, classes and info restored)."""
        if not isinstance(config, Mapping):
            raise ModelFileError(f"A model config must be a JSON object (dict). Got {type(config).__name__} instead.")
        if config.get("model", cls.__name__) != cls.__name__:
            raise ModelFileError(f"This config describes a {config.get('model')!r}, not a {cls.__name__}.")
        try:
            model = cls._build(config)
        except KeyError as err:
            raise ModelFileError(f"The {cls.__name__} config lacks the key {err.args[0]!r}.") from None
        except (TypeError, ValueError) as err:
            raise ModelFileError(f"The {cls.__name__} config is not valid: {err}") from None
        norm = config.get("normalizer")
        if norm is not None:
            mean, std = np.asarray(norm.get("mean"), dtype=np.float64), np.asarray(norm.get("std"), dtype=np.float64)
            if mean.shape != (model.input_size,) or std.shape != (model.input_size,):
                raise ModelFileError(
                    f"The config's normalizer must hold {model.input_size} means and stds (input_size). "
                    f"Got {mean.shape} and {std.shape} instead."
                )
            with torch.no_grad():
                model.feature_mean.copy_(torch.as_tensor(mean))
                model.feature_std.copy_(torch.as_tensor(std))
        model.info = dict(config.get("info") or {})
        # the input contract (absent from files written before it existed: nothing is checked then)
        if "background" in config:
            model.background = check_background(config["background"], model.class_names, func="from_config")
        rate, feature_config = config.get("sampling_rate"), config.get("feature_config")
        model.sampling_rate = float(rate) if rate is not None else None
        model.feature_config = dict(feature_config) if isinstance(feature_config, Mapping) else None
        preprocessing = config.get("preprocessing")
        model.preprocessing = dict(preprocessing) if isinstance(preprocessing, Mapping) else None
        return model

    @classmethod
    def _build(cls, config: Mapping[str, Any]) -> ModelBase:  # pragma: no cover - abstract
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> str:
        """Write the model to ONE ``.safetensors`` file (weights + buffers; config as JSON metadata).

        The write is atomic (``path + ".partial"``, then renamed). Read it back with
        :func:`rnnscope.models.load`; loading never executes code.

        Returns
        -------
        str
            The path written.
        """
        return save_model(self, path)

    def _fmt_header(self) -> str:
        return (
            f"{type(self).__name__}({self.input_size} features -> {self.num_classes} classes {self.class_names}, "
            f"{self.n_parameters:,} parameters"
        )


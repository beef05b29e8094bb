"""A model's input contract: the sampling rate and feature configuration of the features it was trained on.

:func:`rnnscope.train.fit` stores the training features' contract in the model (``model.sampling_rate``,
``model.feature_config``, saved in the model file); capture, evaluation and monitoring compare it with their
input through :func:`check_contract`, which refuses mismatched features with an error that names both sides.
Features without a stored value on either side (old model files, ``from_torch`` models, features from
:func:`rnnscope.data.from_features` without a sampling rate) leave that value unchecked.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..data._pieces import RATE_RTOL

__all__ = ["check_contract", "contract_differences", "describe_input", "input_contract"]


def _config_dict(config: Any) -> dict | None:
    """A feature configuration (FeatureConfig, dict or its JSON) as a plain dict; None when absent."""
    if config is None or (isinstance(config, str) and not config):
        return None
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    if isinstance(config, str):
        config = json.loads(config)
    return dict(config) if isinstance(config, Mapping) else None


def _rate(value: Any) -> float | None:
    try:
        rate = float(value)
    except (TypeError, ValueError):
        return None
    return rate if np.isfinite(rate) and rate > 0 else None


def input_contract(attrs: Mapping) -> dict:
    """``{"sampling_rate": Hz or None, "feature_config": dict or None}`` of a features Dataset's attrs.

    Examples
    --------
    >>> c = input_contract({"sampling_rate": 50.0, "feature_config": '{"preset": "paper", "hop_s": 0.5}'})
    >>> c["sampling_rate"], c["feature_config"]["preset"]
    (50.0, 'paper')
    >>> input_contract({})
    {'sampling_rate': None, 'feature_config': None}
    """
    return {"sampling_rate": _rate(attrs.get("sampling_rate")),
            "feature_config": _config_dict(attrs.get("feature_config"))}


def describe_input(sampling_rate: float | None, feature_config: Any) -> str:
    """``"features at 50 Hz with preset 'paper'"`` (what is known of it).

    >>> describe_input(50.0, {"preset": "paper"}), describe_input(None, None)
    ("features at 50 Hz with preset 'paper'", 'features of unknown rate and configuration')
    """
    config = _config_dict(feature_config)
    parts = []
    if sampling_rate is not None:
        parts.append(f"at {float(sampling_rate):g} Hz")
    if config is not None:
        parts.append(f"with preset {config.get('preset', '?')!r}")
    return "features " + " ".join(parts) if parts else "features of unknown rate and configuration"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=0.0))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def contract_differences(expected: Mapping, actual: Mapping) -> list[str]:
    """What differs between two contracts (values missing on either side are not compared).

    Examples
    --------
    >>> contract_differences({"sampling_rate": 50.0, "feature_config": {"preset": "paper", "n_filters": 16}},
    ...                      {"sampling_rate": 100.0, "feature_config": {"preset": "paper", "n_filters": 20}})
    ['sampling_rate 50 Hz vs 100 Hz', 'n_filters 16 vs 20']
    >>> contract_differences({"sampling_rate": 50.0, "feature_config": None}, {"sampling_rate": None})
    []
    """
    out = []
    a_rate, b_rate = _rate(expected.get("sampling_rate")), _rate(actual.get("sampling_rate"))
    if a_rate is not None and b_rate is not None and abs(a_rate - b_rate) > RATE_RTOL * a_rate:
        out.append(f"sampling_rate {a_rate:g} Hz vs {b_rate:g} Hz")
    a_cfg, b_cfg = _config_dict(expected.get("feature_config")), _config_dict(actual.get("feature_config"))
    if a_cfg is not None and b_cfg is not None:
        for key in a_cfg:
            if key in b_cfg and not _same(a_cfg[key], b_cfg[key]):
                out.append(f"{key} {a_cfg[key]!r} vs {b_cfg[key]!r}")
    return out


def check_contract(expected: Mapping, actual: Mapping, *, func: str, here: str = "these features were computed",
                   fix: str | None = None, there: str = "the model was trained on") -> None:
    """Raise a ValueError naming both sides when ``actual`` differs from the model's contract ``expected``.

    Parameters
    ----------
    expected, actual : dict
        Contracts (``sampling_rate``, ``feature_config``) of the model and of the input.
    func : str
        The function named in the message.
    here : str
        How the input came about, for the message (``"these features were computed"``).
    fix : str, optional
        How to fix it (default: recompute the features with the model's rate and configuration).
    there : str
        What ``expected`` describes, for the message (``"the model was trained on"``).

    Examples
    --------
    >>> check_contract({"sampling_rate": 50.0, "feature_config": {"preset": "paper"}},
    ...                {"sampling_rate": 100.0, "feature_config": {"preset": "paper"}}, func="capture")
    Traceback (most recent call last):
    ...
    ValueError: capture: the model was trained on features at 50 Hz with preset 'paper'; these features were computed at
    100 Hz with preset 'paper' (sampling_rate 50 Hz vs 100 Hz). ...
    """
    differences = contract_differences(expected, actual)
    if not differences:
        return
    rate = _rate(expected.get("sampling_rate"))
    if fix is None:
        steps = []
        if rate is not None:
            steps.append(f"records at {rate:g} Hz (e.g. rnnscope.data.from_obspy(..., sampling_rate={rate:g}))")
        if _config_dict(expected.get("feature_config")) is not None:
            steps.append("rnnscope.features.compute(records, feature_config=model.feature_config)")
        fix = "Compute the features as the model expects: " + ", then ".join(steps) + "."
    trained = describe_input(rate, expected.get("feature_config"))
    given = describe_input(_rate(actual.get("sampling_rate")), actual.get("feature_config"))
    raise ValueError(
        f"{func}: {there} {trained}; {here} {given.removeprefix('features ')} "
        f"({'; '.join(differences)}). {fix}"
    )

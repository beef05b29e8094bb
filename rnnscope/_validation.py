"""Input checks shared by every public entry point.

Every error says what is wrong, where (record, trace id, variable), what arrived, and how to fix it.
Messages are phrased the same way everywhere: ``The 'x' parameter of f must be ... Got ... instead.``
"""
from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .errors import NumericalWarning

DEFAULT_CLASS_NAMES = ("SIL", "TRE", "LP", "VTE", "HYB")
#: the background class of the default task (the synthetic generator's); used only with DEFAULT_CLASS_NAMES
DEFAULT_BACKGROUND = "SIL"
#: default of every ``background=`` argument that reads the background class from the data, model or run
FROM_DATA = "auto"


def check_choice(value: Any, choices: Iterable[Any], *, name: str, func: str) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError naming them."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(
            f"The {name!r} parameter of {func} must be one of {choices}. Got {value!r} instead."
        )
    return value


def check_positive(value: Any, *, name: str, func: str, integer: bool = False, allow_zero: bool = False) -> Any:
    """Return ``value`` if it is a positive (or non-negative) finite number, else raise."""
    kind = "integer" if integer else "number"
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.integer, np.floating))
    ok = ok and not isinstance(value, bool) and np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = "non-negative" if allow_zero else "positive"
        raise ValueError(f"The {name!r} parameter of {func} must be a {bound} {kind}. Got {value!r} instead.")
    return value


def check_range(
    value: Sequence[float], *, name: str, func: str, low: float = -np.inf, high: float = np.inf
) -> tuple[float, float]:
    """Return ``(a, b)`` for a pair with ``low <= a <= b <= high``, else raise."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"The {name!r} parameter of {func} must be a pair (min, max). Got {value!r} instead."
        ) from None
    if not (low <= a <= b <= high):
        raise ValueError(
            f"The {name!r} parameter of {func} must satisfy {low} <= min <= max <= {high}. Got {value!r} instead."
        )
    return a, b


def check_class_names(class_names: Any, *, func: str) -> list[str]:
    """Return class names as a list of unique, non-empty strings."""
    if isinstance(class_names, str) or not isinstance(class_names, Iterable):
        raise ValueError(
            f"The 'class_names' parameter of {func} must be a list of class names such as "
            f"{list(DEFAULT_CLASS_NAMES)}. Got {class_names!r} instead."
        )
    names = [str(c) for c in class_names]
    if not names or any(not n for n in names):
        raise ValueError(f"The 'class_names' parameter of {func} must hold non-empty names. Got {names!r} instead.")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(
            f"The 'class_names' parameter of {func} holds duplicated names {duplicated}. Give each class once."
        )
    return names


def check_waveform(x: Any, *, where: str, func: str) -> np.ndarray:
    """Return one record's samples as float64 1-D, refusing NaN/inf and empty traces.

    Integer samples (raw counts) are accepted and converted.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{func}: {where} must hold numbers; got an array of dtype {arr.dtype}.")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != 1:
        raise ValueError(f"{func}: {where} must be one-dimensional (samples); got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{func}: {where} is empty; drop it or give it samples.")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{func}: {where} has {int(bad.sum())} NaN or infinite samples (first at sample {first}). "
            "Fill or cut them before calling (for ObsPy gaps use from_obspy, which labels gaps unknown)."
        )
    return arr


def check_labels(y: Any, n: int, n_classes: int, *, where: str, func: str) -> np.ndarray:
    """Return integer labels of length ``n`` in ``[-1, n_classes)`` as int16."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{func}: {where} labels must have shape ({n},) to match the data; got {arr.shape}.")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{func}: {where} labels must be integer class indices (-1 for unknown).")
    elif arr.dtype.kind not in "iu":
        raise TypeError(
            f"{func}: {where} labels must be integer class indices (-1 for unknown); got dtype {arr.dtype}. "
            "Map class names to indices with class_names.index(name)."
        )
    arr = arr.astype(np.int64)
    bad = (arr < -1) | (arr >= n_classes)
    if bad.any():
        raise ValueError(
            f"{func}: {where} labels must lie in [-1, {n_classes - 1}] for {n_classes} classes; "
            f"found {sorted(set(arr[bad].tolist()))[:5]}."
        )
    return arr.astype(np.int16)


def check_features(x: Any, *, where: str, func: str, n_features: int | None = None) -> np.ndarray:
    """Return one record's frames as a finite float64 ``(T, F)`` array with ``T >= 1``.

    ``n_features``, when given, is the number of features every record must have.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{func}: {where} features must hold numbers; got an array of dtype {arr.dtype}.")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != 2:
        raise ValueError(
            f"{func}: {where} features must be two-dimensional (time, feature); got shape {arr.shape}. "
            "Reshape a single feature with x[:, None]."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{func}: {where} has no frames; drop it or give it frames.")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(
            f"{func}: {where} has {arr.shape[1]} features per frame but the first record has {n_features}; "
            "give every record the same features (columns)."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        frame, feature = (int(i[0]) for i in np.nonzero(bad))
        raise ValueError(
            f"{func}: {where} has {int(bad.sum())} NaN or infinite feature values (first at frame {frame}, "
            f"feature {feature}). Fill or cut them before calling."
        )
    return arr


# ------------------------------------------------------------------------------------------------ NaN frames

#: how to fill NaN frames, for the warning of :func:`warn_nan_frames`: a features Dataset, an array or tensor
FILL_DATASET = ('frames["features"] = frames["features"].fillna(xr.DataArray(model.feature_mean.numpy(), '
                'dims="feature"))')
FILL_ARRAY = "x = np.where(np.isnan(x), model.feature_mean.numpy(), x)"


def first_nan_frames(x: Any, n_valid: Any = None) -> np.ndarray:
    """Per row of ``x`` (rows, time, features; an array or a tensor), the first frame holding a NaN feature before
    ``n_valid[row]`` (default every frame), else -1.

    Examples
    --------
    >>> x = np.zeros((3, 4, 2))
    >>> x[0, 2, 1] = x[1, 3, 0] = np.nan
    >>> first_nan_frames(x).tolist(), first_nan_frames(x, [4, 3, 4]).tolist()
    ([2, 3, -1], [2, -1, -1])
    """
    if hasattr(x, "detach"):  # a tensor (on any device): reduced where it lives
        bad = x.detach().isnan().any(-1).cpu().numpy()
    else:
        bad = np.isnan(np.asarray(x)).any(-1)
    if n_valid is not None:
        bad &= np.arange(bad.shape[1])[None, :] < np.asarray(n_valid)[:, None]
    return np.where(bad.any(axis=1), bad.argmax(axis=1), -1).astype(np.int64)


def warn_nan_frames(func: str, ids: Sequence[Any] | np.ndarray, first: np.ndarray, *, fill: str) -> None:
    """One :class:`~rnnscope.errors.NumericalWarning` naming the records ``ids`` whose ``first`` NaN frame (-1: none)
    lies inside their length, what follows (NaN from there on, as PyTorch gives) and ``fill``, how to fill them.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_nan_frames("capture", ["a", "b"], np.array([-1, 5]), fill=FILL_ARRAY)
    >>> print(caught[0].message)
    capture: 1 record(s) hold NaN features inside their length: 'b' from frame 5. Their states and outputs are NaN from
    that frame on, as PyTorch's own modules give (NaN is missing data; rnnscope fills nothing in). ...
    """
    first = np.asarray(first)
    hit = np.flatnonzero(first >= 0)
    if not hit.size:
        return
    listed = ", ".join(f"{str(ids[i])!r} from frame {int(first[i])}" for i in hit[:5])
    more = f" and {hit.size - 5} more" if hit.size > 5 else ""
    warnings.warn(
        f"{func}: {hit.size} record(s) hold NaN features inside their length: {listed}{more}. Their states and "
        "outputs are NaN from that frame on, as PyTorch's own modules give (NaN is missing data; rnnscope fills "
        "nothing in). To fill it instead, e.g. with the training mean (0 after normalising), do so before the call: "
        f"{fill}; or cut the records before those frames.", NumericalWarning, stacklevel=3)


# ------------------------------------------------------------------------------------------------ background


def stored_background(attrs: Any) -> str | None:
    """The background class an attrs dict (records, features, run) or a model declares, else None.

    >>> stored_background({"background": "BG"}), stored_background({}), stored_background({"background": ""})
    ('BG', None, None)
    """
    value = attrs.get("background") if hasattr(attrs, "get") else getattr(attrs, "background", None)
    return str(value) if value not in (None, "") else None


def check_background(background: Any, class_names: Sequence[str], *, func: str) -> str | None:
    """Return ``background`` (None or one of ``class_names``), else raise naming the classes."""
    if background is None:
        return None
    names = [str(c) for c in class_names]
    if not isinstance(background, str) or background not in names:
        raise ValueError(
            f"The 'background' parameter of {func} must be None or one of the classes {names}. "
            f"Got {background!r} instead."
        )
    return background


def resolve_background(background: Any, class_names: Sequence[str], attrs: Any, *, func: str) -> str | None:
    """The background class a function uses: ``background`` when given (a class name, or None for none), else
    (``background="auto"``) the one ``attrs`` (records, features, run attrs or a model) declares, else None.

    Callers that need a background warn or raise when this returns None for ``"auto"`` (see
    :func:`no_background_message`).

    >>> resolve_background("auto", ["BG", "VT"], {"background": "BG"}, func="f")
    'BG'
    >>> resolve_background(None, ["BG", "VT"], {"background": "BG"}, func="f") is None
    True
    >>> resolve_background("VT", ["BG", "VT"], {}, func="f")
    'VT'
    """
    if isinstance(background, str) and background == FROM_DATA and FROM_DATA not in class_names:
        stored = stored_background(attrs)
        return stored if stored in [str(c) for c in class_names] else None
    return check_background(background, class_names, func=func)


def declared_background(background: Any, class_names: Sequence[str], sources: Sequence[Any], *,
                        func: str) -> str | None:
    """The background class a reader declares: ``background`` when given (a class name, or None for none), else
    (``background="auto"``) the one the tables it reads declare (``attrs["background"]`` of a catalog or segment
    table), else None.

    >>> import pandas as pd
    >>> table = pd.DataFrame({"class": ["BG"]}); table.attrs["background"] = "BG"
    >>> declared_background("auto", ["BG", "VT"], [table], func="f")
    'BG'
    >>> declared_background("auto", ["BG"], [None], func="f") is None  # nothing declared
    True
    """
    if isinstance(background, str) and background == FROM_DATA and FROM_DATA not in class_names:
        background = next((b for b in (stored_background(getattr(s, "attrs", {})) for s in sources) if b), None)
    return check_background(background, class_names, func=func)


def no_background_message(func: str, where: str, class_names: Sequence[str], consequence: str, *,
                          none_ok: bool = True) -> str:
    """The one wording of "nothing says which class is the background" (warnings and errors).

    >>> no_background_message("susceptibility", "the run has no attrs['background']", ["BG", "VT"],
    ...                       "every segment counts as an event")
    "susceptibility: nothing says which class is the background (the run has no attrs['background']), so every segment
    counts as an event. Pass background= one of ['BG', 'VT'] (or background=None: no class is background), or declare it
    where the data are read (rnnscope.data.from_arrays(..., background='BG'))."
    """
    names = [str(c) for c in class_names]
    example = names[0] if names else "BG"
    return (
        f"{func}: nothing says which class is the background ({where}), so {consequence}. "
        f"Pass background= one of {names}" + (" (or background=None: no class is background)" if none_ok else "")
        + f", or declare it where the data are read (rnnscope.data.from_arrays(..., background={example!r}))."
    )


# ------------------------------------------------------------------------------------------------ attrs


def plain(value: Any) -> Any:
    """A nested attribute value as plain Python: dicts (keys sorted), lists, ``str``, ``int``, ``float``, ``bool``
    and None, numpy scalars and arrays included. What a Dataset's attrs hold in memory; the file backend
    (:func:`rnnscope.io.encode_attrs`) turns nested values into JSON strings and back.

    Parameters
    ----------
    value : any JSON-able value
        Dicts, lists, tuples, numbers, strings, None, numpy scalars and arrays, nested.

    Returns
    -------
    dict, list, str, int, float, bool or None
        The same value in plain Python (tuples and arrays as lists).

    Examples
    --------
    >>> plain({"b": np.int64(2), "a": (1.5, np.float32(0.5))})
    {'a': [1.5, 0.5], 'b': 2}
    """
    return json.loads(json.dumps(value, sort_keys=True, default=_json_default))


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot store {type(obj).__name__} in a JSON attribute")


# ------------------------------------------------------------------------------------------------ extras


#: optional extras of rnnscope: name -> what they serve (pyproject.toml's [project.optional-dependencies])
EXTRAS = {
    "seismic": "ObsPy: seismic files, archives and catalogs (from_obspy, monitor, QuakeML)",
    "netcdf": "netCDF4: runs saved as netCDF",
    "review": "Voila and ipydatagrid: the review page and the Explorer's detection table",
    "cluster": "Dask distributed: rnnscope monitor --workers / --scheduler",
}


def require(module: str, *, extra: str, what: str):
    """Import ``module``, or raise a :class:`~rnnscope.errors.MissingExtraError` naming ``what`` needs it and the
    extra that installs it.

    Examples
    --------
    >>> require("json", extra="review", what="f").__name__
    'json'
    >>> require("no_such_module_xyz", extra="review", what="The review page")
    Traceback (most recent call last):
    ...
    rnnscope.errors.MissingExtraError: The review page needs no_such_module_xyz, which is not installed: ... pip install
    'rnnscope[review]'.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        from .errors import MissingExtraError

        raise MissingExtraError(
            f"{what} needs {module.split('.')[0]}, which is not installed: it comes with rnnscope's {extra!r} extra "
            f"({EXTRAS[extra]}): pip install 'rnnscope[{extra}]'."
        ) from err

"""rnnscope's errors and warnings: one family, each also the built-in it has always been.

Every error rnnscope raises on purpose derives from :class:`RnnscopeError`, and every warning from
:class:`RnnscopeWarning`, so a caller can catch the whole family at once. Each class also keeps subclassing the
built-in it subclassed before (``ValueError``, ``OSError``, ``RuntimeError``, ``RuntimeWarning``), so existing
``except ValueError:`` clauses keep working, as scikit-learn's ``NotFittedError(ValueError, AttributeError)`` does.

The classes stay importable from where they were first published (``rnnscope.schema.SchemaError``,
``rnnscope.io.RunFileError``, ``rnnscope.models.ModelFileError``, ...): those names are this module's classes.

Examples
--------
>>> from rnnscope import errors
>>> issubclass(errors.SchemaError, errors.RnnscopeError), issubclass(errors.SchemaError, ValueError)
(True, True)
>>> try:
...     raise errors.RunFileError("run.zarr is incomplete")
... except errors.RnnscopeError as exc:
...     print(type(exc).__name__, "-", exc)
RunFileError - run.zarr is incomplete
"""
from __future__ import annotations

__all__ = [
    "RnnscopeError",
    "RnnscopeWarning",
    "SchemaError",
    "RunFileError",
    "ModelFileError",
    "UnsafeModelFileError",
    "ClassMismatchError",
    "DeviceUnavailableError",
    "NativeBuildError",
    "EmptyClassWarning",
    "NoBackgroundWarning",
    "CatalogColumnWarning",
    "ReviewConflictError",
    "ReviewOverlapError",
    "DataSkippedWarning",
    "MissingExtraError",
    "NumericalWarning",
    "NativeFallbackWarning",
    "InputWarning",
    "AttributionError",
    "CompletenessWarning",
]


class RnnscopeError(Exception):
    """Base class of every error rnnscope raises on purpose (each also subclasses a built-in error).

    Examples
    --------
    Catch any of rnnscope's own errors at once (here a :class:`SchemaError`, also a ``ValueError``):

    >>> from rnnscope import schema
    >>> from rnnscope.errors import RnnscopeError
    >>> try:
    ...     schema.validate(xr.Dataset())
    ... except RnnscopeError as err:
    ...     print(type(err).__name__, isinstance(err, ValueError))
    SchemaError True
    """


class RnnscopeWarning(UserWarning):
    """Base class of rnnscope's own warning categories.

    Examples
    --------
    Silence (or turn into errors) every warning of rnnscope at once:

    >>> import warnings
    >>> from rnnscope.errors import InputWarning, RnnscopeWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("ignore", RnnscopeWarning)
    ...     warnings.warn("segments merged", InputWarning)
    >>> len(caught)
    0
    """


class SchemaError(RnnscopeError, ValueError):
    """A Dataset does not follow the rnnscope schema; the message lists every problem found.

    Examples
    --------
    >>> from rnnscope import data, schema
    >>> records = data.synthetic(n_records=1, seed=0)
    >>> del records.attrs["sampling_rate"]
    >>> schema.validate(records)
    Traceback (most recent call last):
    ...
    rnnscope.errors.SchemaError: The Dataset does not follow the rnnscope schema:
      - missing attribute 'sampling_rate' (Hz)
    """


class RunFileError(RnnscopeError, OSError):
    """A run file is incomplete, corrupt, or not an rnnscope run; the message says which and what to do.

    Examples
    --------
    >>> import rnnscope
    >>> rnnscope.open_run("capture.zarr.partial")
    Traceback (most recent call last):
    ...
    rnnscope.errors.RunFileError: open_run: capture.zarr.partial is an unfinished write (it ends in '.partial'). ...
    """


class ModelFileError(RnnscopeError, ValueError):
    """A model file or config cannot be turned into a model (the message names what does not match).

    Examples
    --------
    >>> import os, tempfile
    >>> from rnnscope import models
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"not a model")
    >>> models.load(path)
    Traceback (most recent call last):
    ...
    rnnscope.errors.ModelFileError: '...model.safetensors' is neither a safetensors file nor a PyTorch state-dict ...
    """


class UnsafeModelFileError(ModelFileError):
    """A file asks to run code while loading (a pickle of arbitrary objects); it was refused, nothing was run.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from rnnscope import models
    >>> model = models.RNNClassifier("gru", input_size=4, hidden_size=3, num_classes=2, class_names=["BG", "LP"])
    >>> path = os.path.join(tempfile.mkdtemp(), "weights.pt")
    >>> torch.save({"weight": print}, path)  # a pickle that names a function: loading it would call code
    >>> models.load(path, model_config=model.config)
    Traceback (most recent call last):
    ...
    rnnscope.errors.UnsafeModelFileError: '...weights.pt' is not a plain weights file: loading it would run code ...
    """


class ClassMismatchError(RnnscopeError, ValueError):
    """A model and a data set do not hold the same set of class names.

    Examples
    --------
    >>> from rnnscope import models
    >>> model = models.RNNClassifier("gru", input_size=4, hidden_size=3, num_classes=2, class_names=["BG", "LP"])
    >>> model.class_index_map(["BG", "VT"])
    Traceback (most recent call last):
    ...
    rnnscope.errors.ClassMismatchError: The model's classes ['BG', 'LP'] and the data's classes ['BG', 'VT'] differ: ...
    """


class DeviceUnavailableError(RnnscopeError, RuntimeError):
    """The requested device exists as a name but this machine (or this torch build) cannot use it.

    Examples
    --------
    It is a ``RuntimeError``, so a script can fall back to the CPU when the GPU it asked for is not there:

    >>> from rnnscope.errors import DeviceUnavailableError
    >>> def pick(device):
    ...     try:
    ...         raise DeviceUnavailableError(f"{device!r} is not available here")  # what a call on it would raise
    ...     except RuntimeError:
    ...         return "cpu"
    >>> pick("cuda:1")
    'cpu'
    """


class NativeBuildError(RnnscopeError, RuntimeError):
    """The native kernels cannot be built here (no compiler, no ``ninja``); the message says what to install.

    Examples
    --------
    :func:`rnnscope.models.build_native` raises it; capture then runs without the kernels (same results):

    >>> from rnnscope.errors import NativeBuildError, RnnscopeError
    >>> issubclass(NativeBuildError, RuntimeError), issubclass(NativeBuildError, RnnscopeError)
    (True, True)
    """


class EmptyClassWarning(RnnscopeWarning, RuntimeWarning):
    """A class (or segment, boundary kind...) has no frames in the run: its values are NaN.

    Examples
    --------
    >>> import warnings
    >>> from rnnscope import analysis
    >>> heat = xr.DataArray([[1.0, 0.0], [np.nan, np.nan]], dims=("class_name", "unit"),
    ...                     coords={"class_name": ["LP", "VT"], "unit": [0, 1]})  # VT has no frames
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     spec = analysis.specialisation(heat)
    >>> caught[0].category.__name__, str(caught[0].message)
    ('EmptyClassWarning', 'specialisation: fewer than two classes have frames; selectivity is NaN.')
    >>> spec["specialisation"].values.tolist()
    [nan]
    """


class NumericalWarning(RnnscopeWarning, RuntimeWarning):
    """A number could not be computed where the data do not allow it (a layer that never recovered, fewer than two
    units to correlate, NaN or infinite states inside valid frames, a constant record, NaN input frames inside a
    record, whose states are NaN from there on as in PyTorch): NaN or a floor value there, as the message says.

    Examples
    --------
    >>> from rnnscope.errors import NumericalWarning
    >>> issubclass(NumericalWarning, RuntimeWarning)
    True
    """


class NativeFallbackWarning(RnnscopeWarning, RuntimeWarning):
    """Capture runs without the native kernels (same results, about 2x slower); the message says why and how to
    switch them off on purpose.

    Examples
    --------
    >>> import warnings
    >>> from rnnscope.errors import NativeFallbackWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", NativeFallbackWarning)  # a machine without a C++ compiler, known
    ...     warnings.warn("capture is about 2x slower without the native kernels", NativeFallbackWarning)
    >>> issubclass(NativeFallbackWarning, RuntimeWarning)
    True
    """


class InputWarning(RnnscopeWarning):
    """The inputs look off but were taken (segments merged or clipped, labels that cover a sliver of their record,
    data and model naming different background classes); the message names what and how to fix it.

    Examples
    --------
    >>> from rnnscope.errors import InputWarning, RnnscopeWarning
    >>> issubclass(InputWarning, RnnscopeWarning), issubclass(InputWarning, UserWarning)
    (True, True)
    """


class NoBackgroundWarning(RnnscopeWarning):
    """Nothing says which class is the background; what depends on it falls back (the message says how to set it).

    Examples
    --------
    >>> import warnings
    >>> from rnnscope.errors import NoBackgroundWarning, RnnscopeWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", NoBackgroundWarning)  # silence just this kind
    ...     warnings.warn("no background class", NoBackgroundWarning)
    >>> issubclass(NoBackgroundWarning, RnnscopeWarning)
    True
    """


class CatalogColumnWarning(RnnscopeWarning):
    """A detection catalog lacks a column a view shows (e.g. its class); the message names the columns expected.

    Examples
    --------
    >>> from rnnscope.errors import CatalogColumnWarning
    >>> issubclass(CatalogColumnWarning, UserWarning)
    True
    """


class ReviewConflictError(RnnscopeError, RuntimeError):
    """A review decision was made on a detection another page decided on meanwhile; nothing was saved (the message
    names the other page's decision).

    Examples
    --------
    >>> from rnnscope.errors import ReviewConflictError
    >>> try:
    ...     raise ReviewConflictError("detection 63 was accepted in another page")
    ... except RuntimeError as err:
    ...     print(err)
    detection 63 was accepted in another page
    """


class ReviewOverlapError(ReviewConflictError, ValueError):
    """A review decision would put events of two classes at one moment of a channel in the reviewed catalog (a drawn
    event over a kept detection of another class, or the reverse), which retraining refuses; nothing was saved (the
    message names the other event and what to do).

    Examples
    --------
    >>> from rnnscope.errors import ReviewConflictError, ReviewOverlapError
    >>> issubclass(ReviewOverlapError, ReviewConflictError), issubclass(ReviewOverlapError, ValueError)
    (True, True)
    """


class DataSkippedWarning(RnnscopeWarning):
    """Part of what was asked for holds no data or could not be processed and was left out (a channel without data
    in the range, a station-span whose task failed, an empty probability file); the message names it and why.

    Examples
    --------
    >>> import warnings
    >>> from rnnscope.errors import DataSkippedWarning
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("XX.STA..HHZ has no data in the range", DataSkippedWarning)
    >>> caught[0].category.__name__
    'DataSkippedWarning'
    """


class AttributionError(RnnscopeError, ValueError):
    """An attribution cannot be computed as asked: an unknown target (unit, layer, variable, class), frames outside
    the records, or a result too large to hold (the message says which and how to fix it).

    Examples
    --------
    >>> issubclass(AttributionError, ValueError)
    True
    """


class CompletenessWarning(RnnscopeWarning, RuntimeWarning):
    """Integrated gradients whose attributions do not sum to ``f(x) - f(baseline)`` within the tolerance (more
    ``steps`` fix it).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", CompletenessWarning)  # make incomplete attributions fail
    ...     issubclass(CompletenessWarning, RuntimeWarning)
    True
    """


class MissingExtraError(RnnscopeError, ImportError):
    """A feature needs a package of one of rnnscope's optional extras that is not installed; the message names the
    feature, the package and the ``pip install 'rnnscope[extra]'`` that installs it.

    Examples
    --------
    >>> from rnnscope.errors import MissingExtraError
    >>> issubclass(MissingExtraError, ImportError)
    True
    """

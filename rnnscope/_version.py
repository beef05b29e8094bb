"""The package version, and the provenance attrs every Dataset rnnscope makes carries (:func:`provenance`)."""
from __future__ import annotations

__version__ = "0.1.0"


def provenance(*, seed: int | None = None) -> dict:
    """The provenance attrs of a Dataset rnnscope makes (records, features, a run, a monitor's run), built here
    only: ``rnnscope_version``; ``created`` (UTC, ISO 8601, seconds); ``versions`` (rnnscope, numpy, xarray,
    python, and torch when it is loaded: rnnscope never imports it for this); ``seed`` when one is given.

    Parameters
    ----------
    seed : int, optional
        The seed the data or the model came from.

    Returns
    -------
    dict
        Plain Python values, ready to go into ``Dataset.attrs``.

    Examples
    --------
    >>> attrs = provenance(seed=3)
    >>> attrs["rnnscope_version"] == __version__, attrs["seed"], sorted(attrs["versions"])[:3]
    (True, 3, ['numpy', 'python', 'rnnscope'])
    """
    import datetime
    import platform
    import sys

    import numpy
    import xarray

    versions = {"rnnscope": __version__, "numpy": numpy.__version__, "xarray": xarray.__version__,
                "python": platform.python_version()}
    if "torch" in sys.modules:
        versions["torch"] = str(sys.modules["torch"].__version__)
    out: dict[str, object] = {"rnnscope_version": __version__,
           "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "versions": dict(sorted(versions.items()))}
    if seed is not None:
        out["seed"] = int(seed)
    return out

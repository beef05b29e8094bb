"""Fixtures shared by the test modules: built once per test session, each from one place.

- ``make_frames(n_records, seed=..., **settings)``: features of the synthetic generator (:func:`rnnscope.data.synthetic`
  settings), computed once per set of arguments and given as a copy (a test may change its own);
- ``small_frames``: four records (seed 0), the frames most modules need;
- ``real_model``, ``real_frames``, ``real_run``: an LSTM(8) trained two epochs on six synthetic records (one thread)
  and its capture (:func:`analysis_runs.real_run`);
- ``shipped_model``: the model shipped with the package (:func:`rnnscope.examples.trained_model`);
- ``monitor_run``: a monitored day's capture run, its detections and its folder (:func:`monitor_day.build_monitor_run`);
- ``docs_html``: the built documentation site.

Property tests (hypothesis) are derandomized: the same examples on every run (``HYPOTHESIS_PROFILE=explore`` for
new ones).

The session-wide values are shared by every test that asks for them, in whatever order the tests run: their arrays
are read-only (a test that writes into one fails at once: copy it first, ``ds.copy(deep=True)``), and their
attributes and the models' weights are checked at the end of the session (:func:`_shared`).
"""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings as _hypothesis_settings

ROOT = Path(__file__).resolve().parent.parent

# Property tests draw the same examples on every run (a failure in CI reproduces on a laptop; a green suite does not
# turn red on a lucky draw): ``derandomize`` seeds each test from its own name. ``HYPOTHESIS_PROFILE=explore`` draws
# new examples each run (what to use when hunting for counter-examples).
_hypothesis_settings.register_profile("default", derandomize=True, print_blob=True)
_hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules beside the tests


def _read_only(ds):
    """``ds`` (a Dataset) with every in-memory array made read-only (lazy, dask-backed variables are left as they
    are: they are read from disk each time)."""
    for var in ds.variables.values():
        data = var._data
        if isinstance(data, np.ndarray):
            data.flags.writeable = False
        else:
            array = getattr(data, "array", None)  # xarray's index adaptors and lazy wrappers hold the array
            if isinstance(array, np.ndarray):
                array.flags.writeable = False
    return ds


def _fingerprint(value):
    """What a test must not change in a shared value: a Dataset's attributes and coordinates, a DataFrame, a model's
    weights, mode and attributes (each item of a tuple)."""
    if isinstance(value, tuple):
        return [_fingerprint(v) for v in value]
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # a DataFrame
        return {"frame": value.to_dict("split"), "dtypes": [str(t) for t in value.dtypes]}
    if isinstance(value, Path):
        return value
    if hasattr(value, "state_dict"):
        return {"weights": {k: v.detach().clone() for k, v in value.state_dict().items()},
                "training": [m.training for m in value.modules()],
                "attrs": copy.deepcopy({k: v for k, v in vars(value).items() if not k.startswith("_")})}
    return {"attrs": copy.deepcopy(dict(value.attrs)),
            "coords": {k: np.asarray(v.values).copy() for k, v in value.coords.items()}}


def _same(a, b) -> bool:
    import torch

    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    try:
        return bool(a == b) or (a != a and b != b)  # NaN == NaN here
    except (TypeError, ValueError):
        return repr(a) == repr(b)


def _shared(name, value):
    """Yield ``value`` (read-only arrays when a Dataset) and, when the session ends, fail if a test changed its
    attributes (a Dataset) or its weights, mode or attributes (a model)."""
    for item in value if isinstance(value, tuple) else (value,):
        if hasattr(item, "variables"):
            _read_only(item)
    before = _fingerprint(value)
    yield value
    assert _same(before, _fingerprint(value)), (
        f"a test changed the shared {name} fixture (its attributes, coordinates or weights): copy it before changing "
        "it (ds.copy(deep=True), copy.deepcopy(model))")


@pytest.fixture(scope="session")
def make_frames():
    """``make_frames(n_records, seed=0, **settings)``: the features of ``rnnscope.data.synthetic(n_records, seed=seed,
    **settings)``, computed once per set of arguments in a session; every call gets its own copy."""
    import rnnscope

    made = {}

    def make(n_records: int = 4, *, seed: int = 0, **settings):
        key = (n_records, seed, tuple(sorted(settings.items())))
        if key not in made:
            made[key] = rnnscope.features.compute(rnnscope.data.synthetic(n_records=n_records, seed=seed,
                                                                          **settings))
        return made[key].copy(deep=True)

    return make


@pytest.fixture(scope="session")
def small_frames(make_frames):
    """Four synthetic records (seed 0) as features (shared: read-only)."""
    yield from _shared("small_frames", make_frames(4, seed=0))


@pytest.fixture(scope="session")
def real_run():
    """A small real run: an LSTM(8) trained two epochs on six synthetic records (one thread), captured."""
    import analysis_runs

    yield from _shared("real_run", analysis_runs.real_run())


@pytest.fixture(scope="session")
def real_model(real_run):
    """The model of ``real_run`` (do not train it further: copy it)."""
    import analysis_runs

    yield from _shared("real_model", analysis_runs._REAL["model"])


@pytest.fixture(scope="session")
def real_frames(real_run):
    """The features ``real_run`` was captured from (a copy)."""
    import analysis_runs

    return analysis_runs._REAL["frames"].copy(deep=True)


@pytest.fixture(scope="session")
def shipped_model():
    """The LSTM(64) shipped with the package (rnnscope.examples.trained_model)."""
    import rnnscope

    yield from _shared("shipped_model", rnnscope.examples.trained_model())


@pytest.fixture(scope="session")
def monitor_run(tmp_path_factory):
    """(run opened from disk, detections DataFrame, root folder with ``sds/`` and ``capture/``) of a monitored
    stretch of a synthetic archive (:func:`monitor_day.build_monitor_run`)."""
    from monitor_day import build_monitor_run

    yield from _shared("monitor_run", build_monitor_run(tmp_path_factory))


@pytest.fixture(scope="session")
def docs_html(tmp_path_factory) -> Path:
    """The built documentation site (its html folder).

    ``make test`` builds it first (``make docs``) and names it in ``RNNSCOPE_DOCS_HTML``; without that variable the
    site is built here into a temporary folder (warnings as errors), executing only the notebooks whose pages the
    tests open (the quickstart and the monitoring one) to save minutes.
    """
    built = os.environ.get("RNNSCOPE_DOCS_HTML")
    if built:
        html = Path(built)
        assert (html / "index.html").is_file(), f"RNNSCOPE_DOCS_HTML={built} holds no built site (make docs)"
        return html
    pytest.importorskip("sphinx")
    tmp = tmp_path_factory.mktemp("docs")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp / "doctrees"),
           "-D", "notebook_runs_only=01_quickstart,06_monitoring", str(ROOT / "docs"), str(tmp / "html")]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, f"the docs build failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
    return tmp / "html"

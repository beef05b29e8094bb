"""Fixtures shared by the test modules: built once per test session, each from one place.

- ``make_frames(n_records, seed=..., **settings)``: features of the synthetic generator (:func:`rnnscope.data.synthetic`
  settings), computed once per set of arguments and given as a copy (a test may change its own);
- ``small_frames``: four records (seed 0), the frames most modules need;
- ``real_model``, ``real_frames``, ``real_run``: an LSTM(8) trained two epochs on six synthetic records (one thread)
  and its capture (:func:`analysis_runs.real_run`);
- ``shipped_model``: the model shipped with the package (:func:`rnnscope.examples.trained_model`);
- ``monitor_run``: a monitored day's capture run, its detections and its folder (:func:`monitor_day.build_monitor_run`);
- ``docs_html``: the built documentation site.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helper modules beside the tests


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
    """Four synthetic records (seed 0) as features."""
    return make_frames(4, seed=0)


@pytest.fixture(scope="session")
def real_run():
    """A small real run: an LSTM(8) trained two epochs on six synthetic records (one thread), captured."""
    import analysis_runs

    return analysis_runs.real_run()


@pytest.fixture(scope="session")
def real_model(real_run):
    """The model of ``real_run`` (do not train it further: copy it)."""
    import analysis_runs

    return analysis_runs._REAL["model"]


@pytest.fixture(scope="session")
def real_frames(real_run):
    """The features ``real_run`` was captured from (a copy)."""
    import analysis_runs

    return analysis_runs._REAL["frames"].copy(deep=True)


@pytest.fixture(scope="session")
def shipped_model():
    """The LSTM(64) shipped with the package (rnnscope.examples.trained_model)."""
    import rnnscope

    return rnnscope.examples.trained_model()


@pytest.fixture(scope="session")
def monitor_run(tmp_path_factory):
    """(run opened from disk, detections DataFrame, root folder with ``sds/`` and ``capture/``) of a monitored
    stretch of a synthetic archive (:func:`monitor_day.build_monitor_run`)."""
    from monitor_day import build_monitor_run

    return build_monitor_run(tmp_path_factory)


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

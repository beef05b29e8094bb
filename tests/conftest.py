"""Fixtures shared by tests in several folders."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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

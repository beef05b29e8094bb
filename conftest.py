"""Root conftest: doctests get ``np`` and ``xr`` and a fixed seed, as in xarray's own setup, and make their temporary
folders under pytest's; no test may leave
PyTorch's thread count changed for the tests after it; ``RNNSCOPE_TEST_TORCH_THREADS=n`` runs the session on ``n``
PyTorch threads (``make test-fast`` sets 1)."""
import os
import sys
import tempfile

import numpy as np
import pytest
import xarray as xr


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace, request, monkeypatch):
    """Doctests' namespace and seed; their ``tempfile.mkdtemp()`` folders go under pytest's own temporary directory
    (kept for the last few sessions, then removed) instead of piling up in the system's."""
    np.random.seed(0)
    doctest_namespace["np"] = np
    doctest_namespace["xr"] = xr
    if type(request.node).__name__ == "DoctestItem":
        monkeypatch.setattr(tempfile, "tempdir", str(request.getfixturevalue("tmp_path")))


@pytest.fixture(scope="session", autouse=True)
def _session_torch_threads():
    """``RNNSCOPE_TEST_TORCH_THREADS=n``: PyTorch's intra-op thread count for the whole session (restored after it).

    ``make test-fast`` sets 1: the tests' models are tiny, and on a machine whose cores are busy with other work a
    second intra-op thread makes each small operation wait for a core (a tiny GRU's forward pass 3 ms on one
    thread, up to 200 ms on two). Tests that are about thread counts set their own (``threads=``,
    :func:`one_torch_thread`); ``make test`` (CI) leaves PyTorch's default."""
    threads = os.environ.get("RNNSCOPE_TEST_TORCH_THREADS")
    if not threads:
        yield
        return
    from rnnscope.experiments._common import _threads  # the package's own "n threads, then restore"

    with _threads(int(threads)):
        yield


@pytest.fixture(autouse=True)
def _torch_threads_left_as_found(request):
    """Fail a test that changes PyTorch's intra-op thread count without putting it back (it would change the
    numbers and speed of every later test). Module fixtures may pin a count for their module
    (:func:`one_torch_thread`): they are set up before this check and torn down after it."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if torch is None:
        return
    after = torch.get_num_threads()
    if before is None:
        before = _SESSION_THREADS.setdefault("n", after)
    if after != before:
        torch.set_num_threads(before)
        pytest.fail(f"{request.node.nodeid} left torch's thread count at {after} (it was {before}): restore it, "
                    "e.g. with rnnscope._seed.preserved() or the one_torch_thread fixture", pytrace=False)


_SESSION_THREADS: dict = {}


@pytest.fixture(scope="module")
def one_torch_thread():
    """PyTorch on one thread for a whole test module (bit-reproducible training), restored after the module.
    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    from rnnscope._seed import preserved

    with preserved():
        torch.set_num_threads(1)
        yield


# the notebooks' jupytext sources (notebooks/*.py) run as notebooks through nbval (their .ipynb), not as modules
collect_ignore_glob = ["notebooks/*.py"]
# conftest files hold fixtures, not doctests: collecting them as modules imports a second "conftest"
collect_ignore = ["tests/conftest.py", "tests/browser/conftest.py"]

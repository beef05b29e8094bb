"""Root conftest: doctests get ``np`` and ``xr`` and a fixed seed, as in xarray's own setup."""
import numpy as np
import pytest
import xarray as xr


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    np.random.seed(0)
    doctest_namespace["np"] = np
    doctest_namespace["xr"] = xr


# the notebooks' jupytext sources (notebooks/*.py) run as notebooks through nbval (their .ipynb), not as modules
collect_ignore_glob = ["notebooks/*.py"]

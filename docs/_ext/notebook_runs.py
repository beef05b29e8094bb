"""The gallery's notebooks run side by side before Sphinx reads them, and again whenever the package changes.

myst-nb runs a notebook when Sphinx reads it; Sphinx reads the notebooks one after the other (they fall in one chunk
of its parallel reading), so the build took the sum of their run times. Here, just before reading, every notebook
Sphinx is about to read runs in a pool of processes (one per core) through jupyter-cache, into the cache myst-nb's
``cache`` execution mode reads (``<build folder>/.jupyter_cache``); myst-nb then takes each executed notebook from the
cache. A notebook that fails is left to myst-nb, which runs it again and stops the build with its traceback.

Side by side, each notebook's kernel gets one core: its BLAS and OpenMP pools (numpy, scipy, scikit-learn) start with
one thread (``OMP_NUM_THREADS`` and friends, unless the environment sets them), and the notebooks pin PyTorch to one
thread themselves. Two kernels with a pool of two threads each on two cores stall each other: a thread that waits for
its partner spins while the other kernel holds the core (on the busy 2-core machine, notebook 02's one-frame
logistic regression ran many times slower with two BLAS threads than with one).

jupyter-cache matches a notebook by its cells only, and Sphinx rereads a page only when its source changed: a change
of the package would leave yesterday's outputs and API pages. So the package's sources are hashed
(``notebook_runs_package_hash``, set in conf.py): a new hash rebuilds the environment (every page is read again) and
empties the notebook cache (every notebook runs again).
"""
from __future__ import annotations

import contextlib
import hashlib
import logging as std_logging
import os
import shutil
from pathlib import Path, PurePosixPath

from sphinx.util import logging

logger = logging.getLogger(__name__)


def package_hash(package_dir: Path) -> str:
    """A hash of every Python, C++ and notebook file of the package (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(package_dir).rglob("*") if p.suffix in (".py", ".cpp", ".ipynb")):
        digest.update(str(path.relative_to(package_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


#: the thread pools of a notebook's kernel (read when numpy, scipy or PyTorch load): one thread each
ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


@contextlib.contextmanager
def one_thread_per_kernel():
    """Kernels started inside (they inherit the environment) use one thread per pool; a variable the environment
    already sets is kept. The environment is restored afterwards."""
    added = [name for name in ONE_THREAD if name not in os.environ]
    os.environ.update(dict.fromkeys(added, "1"))
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def _excluded(path: Path, patterns) -> bool:
    posix = PurePosixPath(path.as_posix())
    return any(posix.match(pattern) for pattern in patterns)


def run_notebooks(app, env, docnames) -> None:
    config = env.mystnb_config
    if config.execution_mode != "cache":
        return
    from jupyter_cache import get_cache
    from jupyter_cache.executors import load_executor

    cache_dir = Path(config.execution_cache_path)
    stamp = cache_dir / "package-hash.txt"
    current = app.config.notebook_runs_package_hash
    if cache_dir.exists() and (not stamp.exists() or stamp.read_text() != current):
        logger.info("notebook_runs: the package changed since the notebooks last ran: running them again")
        shutil.rmtree(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache = get_cache(str(cache_dir))
    stamp.write_text(current)
    paths = [Path(env.doc2path(doc)) for doc in sorted(docnames)]
    paths = [p for p in paths if p.suffix == ".ipynb" and not _excluded(p, config.execution_excludepatterns)]
    if not paths:
        return
    records = [cache.add_nb_to_project(str(path)) for path in paths]
    quiet = std_logging.getLogger("rnnscope.docs.notebook_runs")
    executor = load_executor("temp-parallel", cache, logger=quiet)
    with one_thread_per_kernel():  # one notebook per core (the pool has one process per core)
        result = executor.run_and_cache(filter_pks=[r.pk for r in records], timeout=config.execution_timeout,
                                        allow_errors=config.execution_allow_errors)
    logger.info(f"notebook_runs: {len(result.succeeded)} notebook(s) ran side by side; "
                f"{len(result.excepted) + len(result.errored)} failed (myst-nb runs those again and reports)")


def run_only(app, config) -> None:
    """``-D notebook_runs_only=01_quickstart,06_monitoring`` runs only those notebooks (the others are shown without
    outputs): for a quick build, e.g. the one tests make when no built site is given."""
    if config.notebook_runs_only:
        keep = set(config.notebook_runs_only)
        srcdir = Path(app.srcdir)
        others = sorted(p.stem for p in srcdir.rglob("*.ipynb") if p.stem not in keep and "_build" not in p.parts)
        config.nb_execution_excludepatterns = [*config.nb_execution_excludepatterns, *(f"{o}.ipynb" for o in others)]


def setup(app):
    app.add_config_value("notebook_runs_package_hash", "", "env")
    app.add_config_value("notebook_runs_only", [], "env")
    app.connect("config-inited", run_only)
    app.connect("env-before-read-docs", run_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

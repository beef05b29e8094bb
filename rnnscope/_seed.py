"""Random number generators and thread counts: seeded on request, never behind the user's back.

- :func:`seed_everything` (public, ``rnnscope.seed_everything``) seeds Python's, NumPy's and PyTorch's *global*
  generators and optionally pins the thread count: call it when you want the whole session seeded.
- :func:`seeded` does the same for one block only and restores every generator and the thread count afterwards:
  what :func:`rnnscope.train.fit`, ``cross_validate``, ``sweep`` and ``fit_many`` use, so training is
  reproducible (same seed and thread count: bit-identical weights on the CPU) without reseeding the caller's
  generators.
"""
from __future__ import annotations

import contextlib
import random
import sys

import numpy as np

__all__ = ["seed_everything", "seeded", "preserved", "pin_threads"]


def seed_everything(seed: int, *, threads: int | None = None) -> np.random.Generator:
    """Seed Python, NumPy and (when imported) PyTorch; optionally pin PyTorch's intra-op thread count.

    The session-wide reproducibility helper (``rnnscope.seed_everything``); rnnscope's own functions never call it
    on your generators (they use :func:`seeded`, which restores them). On the CPU, the same seed and thread count
    give bit-identical results. torch is seeded only when it has been imported (this function never imports it);
    seed after importing :mod:`rnnscope.models` in a script that builds models. ``PYTHONHASHSEED`` is not set: it
    only affects a Python process started afterwards (set it in the environment that starts the process).

    Parameters
    ----------
    seed : int
        A non-negative integer.
    threads : int, optional
        PyTorch's intra-op thread count (``torch.set_num_threads``); None leaves it as it is.

    Returns
    -------
    numpy.random.Generator
        A generator derived from ``seed`` for the caller's own draws.

    Examples
    --------
    >>> import rnnscope
    >>> rng = rnnscope.seed_everything(0)
    >>> float(rng.random()) == float(rnnscope.seed_everything(0).random())
    True
    """
    func = "seed_everything"
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"The 'seed' parameter of {func} must be a non-negative integer, e.g. 0. Got {seed!r} instead."
        )
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(
            f"The 'threads' parameter of {func} must be a positive integer or None. Got {threads!r} instead."
        )
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
        if threads is not None:
            torch.set_num_threads(int(threads))
    return np.random.default_rng(seed)


@contextlib.contextmanager
def preserved():
    """Save every generator's state (Python, NumPy, PyTorch CPU and CUDA) and PyTorch's thread count on entry and
    put them back on exit (also after an error), whatever the block does to them.

    Examples
    --------
    >>> import random
    >>> from rnnscope._seed import preserved
    >>> before = random.getstate()
    >>> with preserved():
    ...     random.seed(1)
    >>> random.getstate() == before
    True
    """
    import torch

    py_state, np_state = random.getstate(), np.random.get_state()
    torch_state = torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    n_threads = torch.get_num_threads()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.random.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        if torch.get_num_threads() != n_threads:
            torch.set_num_threads(n_threads)


@contextlib.contextmanager
def seeded(seed: int, threads: int | None = None):
    """Seed every generator (Python, NumPy, PyTorch CPU and CUDA) for a ``with`` block, then restore them.

    The generators' states and PyTorch's thread count are saved on entry and put back on exit (also after an
    error; :func:`preserved`), so the caller's session is left as it was; inside, everything is as after
    ``seed_everything(seed, threads=threads)``.

    Parameters
    ----------
    seed : int
        A non-negative integer.
    threads : int, optional
        PyTorch's intra-op thread count inside the block; None leaves it as it is.

    Yields
    ------
    numpy.random.Generator
        A generator derived from ``seed`` for the block's own draws.

    Examples
    --------
    >>> import random
    >>> from rnnscope._seed import seeded
    >>> before = random.getstate()
    >>> with seeded(3) as rng:
    ...     inside = random.random()
    >>> random.getstate() == before
    True
    >>> with seeded(3):
    ...     random.random() == inside
    True
    """
    import torch

    with preserved():
        rng = seed_everything(seed, threads=threads)
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.manual_seed_all(int(seed))
        yield rng


def pin_threads(threads: int | None) -> None:
    """Set PyTorch's intra-op thread count for the rest of a task (None: leave it), without restoring it: tasks of
    an Executor pin their worker's count; the caller restores its own around the whole batch (:func:`preserved`).
    With a thread-based executor the count is shared by the tasks, so restoring it inside one task would change
    it under another's feet."""
    if threads is not None:
        import torch

        if torch.get_num_threads() != int(threads):
            torch.set_num_threads(int(threads))

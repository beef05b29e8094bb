"""One helper that pins every random number generator and the thread count.

On the CPU, the same seed and thread count give bit-identical results (training, capture, sweeps).
"""
from __future__ import annotations

import os
import random

import numpy as np

__all__ = ["seed_everything"]


def seed_everything(seed: int, threads: int | None = None) -> np.random.Generator:
    """Seed Python, NumPy and (when imported) PyTorch; optionally pin PyTorch's intra-op thread count.

    The one reproducibility helper (``rnnscope.seed_everything``): :func:`rnnscope.train.fit`, ``sweep`` and
    ``fit_many`` call it for every task. On the CPU, the same seed and thread count give bit-identical results.
    torch is seeded only when it has been imported (this function never imports it); seed after importing
    :mod:`rnnscope.models` in a script that builds models.

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
        raise ValueError(f"The 'seed' parameter of {func} must be a non-negative integer, e.g. 0. Got {seed!r} instead.")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(f"The 'threads' parameter of {func} must be a positive integer or None. Got {threads!r} instead.")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    import sys

    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
        if threads is not None:
            torch.set_num_threads(int(threads))
    return np.random.default_rng(seed)

"""Running a list of tasks serially or on any ``concurrent.futures.Executor``, with one progress bar.
"""
from __future__ import annotations

from concurrent.futures import Executor

__all__ = []


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False)


def _run_tasks(task, payloads: list, executor: Executor | None, progress: bool, desc: str) -> list:
    """Run tasks serially or on ``executor``, in order, with one progress bar."""
    if executor is None:
        return [task(p) for p in _progress(payloads, progress, desc)]
    futures = [executor.submit(task, p) for p in payloads]
    return [f.result() for f in _progress(futures, progress, desc)]

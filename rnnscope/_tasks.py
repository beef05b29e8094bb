"""Running a list of tasks serially or on any ``concurrent.futures.Executor``, with one progress bar.
"""
from __future__ import annotations

from concurrent.futures import Executor

__all__ = []


def _progress(iterable, enabled: bool, desc: str, total: int | None = None):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, leave=False, total=total)


def _run_tasks(task, payloads: list, executor: Executor | None, progress: bool, desc: str, on_result=None) -> list:
    """Run tasks serially or on ``executor``, in order, with one progress bar; ``on_result(i, result)`` is called as
    each result arrives (in order), e.g. to save it before the next one."""
    if executor is None:
        results = (task(p) for p in payloads)
    else:
        futures = [executor.submit(task, p) for p in payloads]
        results = (f.result() for f in futures)
    out = []
    for i, result in enumerate(_progress(results, progress, desc, total=len(payloads))):
        if on_result is not None:
            on_result(i, result)
        out.append(result)
    return out

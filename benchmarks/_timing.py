"""The one timing helper of the benchmarks: variants timed side by side in one process, reported as ratios.

A shared or loaded machine slows everything at once; timing variants in turns (round after round, after one warm-up
call each) lets a slow moment hit every variant alike, so the **ratios** between variants stay meaningful even when
the absolute seconds do not. ``docs/performance.md`` records ratios and says which figures come from a quiet
machine.

- :func:`interleaved` — times of several variants, run in turns;
- :func:`ratio` — median over rounds of the per-round ratio of two variants;
- :func:`best_of` — best time of one function over repeats (for a single variant's throughput);
- :class:`Stopwatch` — ``with Stopwatch() as sw: ...; sw.seconds`` for a one-off step (file writes, training).
"""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = ["interleaved", "ratio", "best_of", "Stopwatch"]


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> dict[str, np.ndarray]:
    """Seconds of each function, run in turns ``rounds`` times after ``warmup`` calls each; name -> array."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            with Stopwatch() as sw:
                fn()
            times[name].append(sw.seconds)
    return {name: np.asarray(t) for name, t in times.items()}


def ratio(times: dict[str, np.ndarray], name: str, base: str) -> float:
    """Median over rounds of the per-round ratio ``name / base`` (rounds of :func:`interleaved`)."""
    return float(np.median(times[name] / times[base]))


def best_of(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Best time (s) of ``fn`` over ``repeats`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    return float(min(interleaved({"fn": fn}, repeats, warmup=0)["fn"]))


class Stopwatch:
    """Wall-clock seconds of a ``with`` block (``time.perf_counter``)."""

    def __enter__(self) -> Stopwatch:
        self.seconds = float("nan")
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._t0

"""How fast does :func:`rnnscope.data.synthetic` generate signal?

Run with ``python benchmarks/bench_synthetic.py``. It prints the wall-clock time to generate one hour of signal
(60 records of 60 s, and about one hour of records of the default lengths) and the realtime factor (seconds of
signal per second of compute). The target is well under a second per hour of signal.
"""
from __future__ import annotations

from _timing import best_of  # noqa: E402  (benchmarks/_timing.py, the one timing helper)

import rnnscope


def _best_time(repeat: int, **kwargs) -> tuple[float, float]:
    """Best wall-clock time (s) over ``repeat`` runs and the seconds of signal generated."""
    ds = rnnscope.data.synthetic(seed=0, **kwargs)
    seconds = float(ds["n_samples"].sum()) / ds.attrs["sampling_rate"]
    return best_of(lambda: rnnscope.data.synthetic(seed=0, **kwargs), repeat), seconds


def main(repeat: int = 5) -> None:
    rnnscope.data.synthetic(n_records=2, seed=0)  # warm up imports and caches
    cases = {
        "60 records x 60 s": {"n_records": 60, "record_duration_s": (60.0, 60.0)},
        "33 records of default length (~1 h)": {"n_records": 33},
    }
    for name, kwargs in cases.items():
        elapsed, seconds = _best_time(repeat, **kwargs)
        per_hour = elapsed * 3600.0 / seconds
        print(
            f"{name:38s}: {seconds / 3600:.2f} h of signal in {elapsed:.3f} s "
            f"-> {per_hour:.3f} s per hour, realtime factor {seconds / elapsed:,.0f}x"
        )


if __name__ == "__main__":
    main()

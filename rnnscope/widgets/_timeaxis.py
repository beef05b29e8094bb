"""Time as seismologists read it: UTC clock ticks at round times for the shared time axis, and readable times.

The Explorer's time scale counts seconds from the record start (the run's ``time`` coordinate). When the run
knows the record's UTC start (its ``starttime`` coordinate), :func:`time_ticks` places ticks at round UTC times
(every 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 6, 12 h, 1, 2, 7 days ..., or 1, 2, 5 ms up to
0.5 s: whichever gives the most ticks up to ``n`` over the view, and never fewer than three) and labels them
``HH:MM`` / ``HH:MM:SS`` / ``HH:MM:SS.s``; a tick at midnight is labelled with the date when the view spans more
than one day. Without ``starttime`` ticks sit at round seconds (1, 2, 5 x 10^k). The labels reach bqplot as an
axis's ``tick_values`` and ``tick_labels`` (a dict keyed by the tick value as JavaScript prints it:
:func:`js_number`).

Examples
--------
>>> start = pd.Timestamp("2024-03-01T00:00:00")
>>> values, labels, title = time_ticks(0.0, 86399.0, start, n=6)
>>> [labels[js_number(v)] for v in values][:4], title
(['00:00', '06:00', '12:00', '18:00'], 'time (UTC) 2024-03-01')
>>> values, labels, _ = time_ticks(40170.2, 40293.8, start, n=5)
>>> [labels[js_number(v)] for v in values]
['11:10:00', '11:10:30', '11:11:00', '11:11:30']
>>> format_time(43034.23, start)
'2024-03-01 11:57:14.23'
>>> time_ticks(2.0, 86398.0, None, n=5)[0].tolist()
[20000.0, 40000.0, 60000.0, 80000.0]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["time_ticks", "nice_ticks", "js_number", "format_time", "format_duration", "UTC_STEPS"]

#: tick steps (s) on a UTC clock axis, smallest first
UTC_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
             3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000)
_DAY = 86400.0


def js_number(value: float) -> str:
    """``value`` as JavaScript's ``String(number)`` prints it (the key bqplot looks tick labels up with).

    Examples
    --------
    >>> js_number(3600.0), js_number(0.5), js_number(-0.0)
    ('3600', '0.5', '0')
    """
    value = float(value)
    if value == 0:
        return "0"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About ``n`` round values (1, 2 or 5 x 10^k apart) in [lo, hi], and at least ``min(n, 3)`` of them.

    The step is the round step giving the most ticks in [lo, hi] up to ``n``, and never fewer than ``min(n, 3)``
    (then the largest step giving that many): an axis from -7775 to 8170 gets -5000, 0, 5000, not a lone 0.

    Examples
    --------
    >>> nice_ticks(-1.04, 1.04, 5).tolist()
    [-1.0, -0.5, 0.0, 0.5, 1.0]
    >>> nice_ticks(-7775, 8170, 3).tolist()
    [-5000.0, 0.0, 5000.0]
    """
    lo, hi = float(lo), float(hi)
    span = hi - lo
    if not (np.isfinite(span) and span > 0 and np.isfinite(lo)):
        return np.array([lo])
    n = max(int(n), 1)
    step = _pick_step(lo, hi, n, _round_steps(span / n))
    first = np.ceil(lo / step - 1e-9) * step
    values = first + step * np.arange(_count(lo, hi, step))
    decimals = max(0, int(-np.floor(np.log10(step))) + 1)
    return np.round(values, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0


def _round_steps(raw: float) -> list[float]:
    """1, 2 and 5 x 10^k around ``raw``, ascending (from a tenth to ten times its magnitude)."""
    mag = 10.0 ** np.floor(np.log10(raw))
    return [m * mag * 10.0 ** e for e in (-1, 0, 1) for m in (1, 2, 5)]


def _count(lo: float, hi: float, step: float) -> int:
    """How many multiples of ``step`` lie in [lo, hi] (with a little tolerance for rounding)."""
    first = np.ceil(lo / step - 1e-9)
    return max(0, int(np.floor(hi / step + 1e-9) - first) + 1)


def _pick_step(lo: float, hi: float, n: int, steps) -> float:
    """Of ``steps`` (ascending), the one giving the most ticks in [lo, hi] up to ``n`` and at least ``min(n, 3)``;
    when none does, the largest step giving at least ``min(n, 3)`` (else the smallest step)."""
    need = min(n, 3)
    counts = [(_count(lo, hi, s), s) for s in steps]
    fitting = [(c, s) for c, s in counts if need <= c <= n]
    if fitting:
        return max(fitting, key=lambda cs: (cs[0], cs[1]))[1]
    more = [s for c, s in counts if c >= need]
    return more[-1] if more else steps[0]


def _epoch(start: pd.Timestamp) -> float:
    return pd.Timestamp(start).value / 1e9


def time_ticks(t0: float, t1: float, starttime: pd.Timestamp | None = None, *, n: int = 8,
               relative: bool = False) -> tuple[np.ndarray, dict[str, str], str]:
    """Tick values (s from the record start), their labels and the axis title for the view [t0, t1].

    Parameters
    ----------
    t0, t1 : float
        Visible range, seconds from the record start.
    starttime : pandas.Timestamp, optional
        UTC time of second 0 (naive, UTC). None: seconds.
    n : int
        About how many ticks.
    relative : bool
        Seconds from the record start even when ``starttime`` is known.

    Returns
    -------
    values : ndarray
        Tick positions on the time scale (s).
    labels : dict
        :func:`js_number` of each value -> its label.
    title : str
        The axis title (``time (UTC) 2024-03-01``, ``time (UTC) 2024-03-01 - 2024-03-02`` or ``time (s)``).
    """
    if starttime is None or relative:
        values = nice_ticks(t0, t1, n)
        step = float(values[1] - values[0]) if values.size > 1 else 1.0
        digits = max(0, int(-np.floor(np.log10(step)))) if step < 1 else 0
        title = "time (s)" if starttime is None else f"time (s from {pd.Timestamp(starttime).isoformat()} UTC)"
        return values, {js_number(v): f"{v:.{digits}f}" for v in values}, title
    base = _epoch(starttime)
    a, b = base + float(t0), base + float(t1)
    step = _pick_step(a, b, max(int(n), 1), UTC_STEPS)
    first = np.ceil(a / step - 1e-9) * step
    absolute = first + step * np.arange(_count(a, b, step))
    values = np.round(absolute - base, 6)
    stamps = pd.to_datetime(np.round(absolute * 1e6).astype(np.int64), unit="us")
    digits = max(1, int(np.ceil(-np.log10(step) - 1e-9))) if step < 1 else 0
    days = {s.normalize() for s in pd.to_datetime([a * 1e3, max(a, b - 1e-3) * 1e3], unit="ms")}
    fmt = "%Y-%m-%d" if step >= _DAY else "%H:%M" if step >= 60 else "%H:%M:%S"
    labels = {}
    several_days = len(days | {s.normalize() for s in stamps}) > 1  # a view to midnight shows the next date
    for v, s in zip(values, stamps, strict=True):
        text = s.strftime(fmt) if step >= 1 else s.strftime("%H:%M:%S.") + f"{s.microsecond:06d}"[:digits]
        if several_days and step < _DAY and s == s.normalize():
            text = s.strftime("%Y-%m-%d")
        labels[js_number(v)] = text
    lo, hi = min(days), max(days)
    title = "time (UTC) " + (lo.strftime("%Y-%m-%d") if lo == hi else f"{lo:%Y-%m-%d} - {hi:%Y-%m-%d}")
    return values, labels, title


def format_time(t: float, starttime: pd.Timestamp | None = None, digits: int = 2) -> str:
    """A time on the record's axis as a reader wants it: UTC when ``starttime`` is known, else seconds.

    Examples
    --------
    >>> format_time(12.5), format_time(12.5, pd.Timestamp("2024-03-01"), digits=1)
    ('12.50 s', '2024-03-01 00:00:12.5')
    """
    if starttime is None or not np.isfinite(t):
        return f"{t:.{digits}f} s"
    stamp = pd.Timestamp(starttime) + pd.Timedelta(seconds=float(t))
    text = stamp.strftime("%Y-%m-%d %H:%M:%S")
    if digits > 0:
        frac = f"{(stamp.microsecond + stamp.nanosecond / 1000) / 1e6:.{digits}f}"[1:]
        text += frac if not frac.startswith(".") or len(frac) > 1 else ""
    return text


def format_duration(seconds: float) -> str:
    """``12.3 s``, ``4 min 05 s``, ``2 h 03 min``.

    Examples
    --------
    >>> format_duration(12.34), format_duration(245.0), format_duration(7380.0)
    ('12.3 s', '4 min 05 s', '2 h 03 min')
    """
    s = float(seconds)
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(round(s % 60)):02d} s"
    return f"{int(s // 3600)} h {int(round(s % 3600 / 60)):02d} min"

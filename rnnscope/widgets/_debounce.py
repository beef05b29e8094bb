"""Throttle a callback on the kernel's event loop: at once after a pause, at most once per interval in a burst.

Panning, zooming and dragging in the browser send a stream of scale changes. A fixed debounce (wait until the
stream stops) made every single wheel step or click wait too; a throttle renders the first change of a burst at
once (leading edge), then at most once per ``delay`` seconds while changes keep coming, and always renders the last
state (trailing edge): a single interaction costs no waiting, a 1 s drag at most ``1 / delay + 1`` renders. Runs
at once where no asyncio loop runs (scripts, tests).
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("rnnscope.widgets")

__all__ = ["Debouncer"]


class Debouncer:
    """Call ``callback`` at the start of a burst of :meth:`__call__` calls, then at most once per ``delay`` seconds,
    and once after the last call of the burst.

    Inside Jupyter the kernel's asyncio loop is running while a widget message is handled: the first call of a
    burst runs the callback at once, later ones within ``delay`` of the previous run are folded into one call
    scheduled with ``loop.call_later``. Without a running loop (scripts, tests) or with ``delay <= 0`` every call
    runs at once. :meth:`flush` runs a pending call now (what :meth:`Explorer.render_now` uses).

    Examples
    --------
    >>> calls = []
    >>> d = Debouncer(0.15, lambda: calls.append(1))
    >>> d(); d(); len(calls)  # no running loop: immediate
    2
    """

    def __init__(self, delay: float, callback):
        self.delay = float(delay)
        self.callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._last = -float("inf")  # loop time of the last run
        self.runs = 0  #: callbacks run (for tests)

    @property
    def pending(self) -> bool:
        """Whether a call is scheduled and has not run yet."""
        return self._handle is not None

    def __call__(self) -> None:
        loop = None
        if self.delay > 0:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        if loop is None:
            self.cancel()
            self._run()
            return
        if self._handle is not None:
            return  # a run is scheduled: it will render the latest state
        wait = self._last + self.delay - loop.time()
        if wait <= 0:
            self._run(loop)
        else:
            self._handle = loop.call_later(wait, self._fire)

    def _run(self, loop=None) -> None:
        self.runs += 1
        try:
            self.callback()
        finally:
            if loop is not None:
                self._last = loop.time()

    def _fire(self) -> None:
        self._handle = None
        try:
            self._run(asyncio.get_running_loop())
        except Exception:
            log.exception("rnnscope.widgets: a throttled render failed")

    def cancel(self) -> None:
        """Drop a pending call."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def flush(self) -> None:
        """Run the callback now (dropping a pending call)."""
        self.cancel()
        self._run()

"""Debounce a callback on the kernel's event loop (runs at once where no loop runs, e.g. in plain scripts)."""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("rnnscope.widgets")

__all__ = ["Debouncer"]


class Debouncer:
    """Call ``callback`` once, ``delay`` seconds after the last of a burst of :meth:`__call__` calls.

    Inside Jupyter the kernel's asyncio loop is running while a widget message is handled, so the call is
    scheduled with ``loop.call_later``; without a running loop (scripts, tests) or with ``delay <= 0`` it runs at
    once. :meth:`flush` runs a pending call now (what :meth:`Explorer.render_now` uses).

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
        self._handle = None

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
            self.callback()
            return
        self.cancel()
        self._handle = loop.call_later(self.delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        try:
            self.callback()
        except Exception:  # noqa: BLE001 - a loop callback's error would vanish; log it where users look
            log.exception("rnnscope.widgets: a debounced render failed")

    def cancel(self) -> None:
        """Drop a pending call."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def flush(self) -> None:
        """Run the callback now (dropping a pending call)."""
        self.cancel()
        self.callback()

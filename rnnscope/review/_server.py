"""The review page's Voila server, configured to be safe on a shared machine (``python -m rnnscope.review._server``).

What :func:`rnnscope.review.serve` starts, through Voila's and jupyter_server's own settings:

- **a token**, as Jupyter servers have: every request needs it (``?token=...`` once, then a cookie); without it
  the server answers with its login page and starts no kernel. It arrives in the environment
  (``RNNSCOPE_REVIEW_TOKEN``, removed before any kernel starts), never on the command line;
- **host and origin checks**: only 127.0.0.1 is listened on, a request whose ``Host`` header names anything but a
  loopback address or ``localhost`` is refused (403: a page of another site that rebinds its name to 127.0.0.1
  cannot reach the server), and kernel websockets from another origin are refused (jupyter_server's same-origin
  check);
- **idle kernels culled**: a kernel no page is connected to (a page closed without saying so, a plain GET) is shut
  down after ``idle_timeout`` seconds (``MappingKernelManager.cull_idle_timeout``; open pages stay connected);
- **a cap on kernels**: at most ``max_kernels`` pages are open at once (each kernel holds the run and its caches,
  about 0.5 GB); one more gets a plain "503" page saying so (:class:`CappedKernelManager`);
- **no traceback in a page** (``VoilaConfiguration.show_tracebacks = False``): the notebook shows a plain message
  and logs the traceback to the server's terminal.
"""
from __future__ import annotations

import argparse
import os

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer
from traitlets.config import Config

from ._serve import NOTEBOOK, TOKEN_ENV

__all__ = ["CappedKernelManager", "voila_config", "main"]


class CappedKernelManager(AsyncMappingKernelManager):
    """jupyter_server's kernel manager with a cap on the kernels running at once (``max_kernels``; 0: none)."""

    max_kernels = Integer(4, config=True, help="Most kernels (open review pages) at once; 0: no cap.")
    _starting = 0

    async def start_kernel(self, *, kernel_id=None, path=None, **kwargs):
        """Start a kernel, or refuse with 503 when ``max_kernels`` are running or starting."""
        if kernel_id is None or kernel_id not in self:
            running = len(self.list_kernel_ids()) + self._starting
            if self.max_kernels > 0 and running >= self.max_kernels:
                self.log.warning("rnnscope review: refused a page: %d of %d kernels running", running,
                                 self.max_kernels)
                raise web.HTTPError(503, reason=f"The review server already has {self.max_kernels} pages open (its "
                                                "limit, rnnscope review --max-pages): close a tab, or wait until "
                                                "pages closed without saying so are shut down, and reload.")
        self._starting += 1
        try:
            return await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        finally:
            self._starting -= 1


def voila_config(port: int, token: str, *, max_kernels: int = 4, idle_timeout: int = 600) -> Config:
    """The Voila configuration of the review server (see the module notes).

    Examples
    --------
    >>> c = voila_config(8866, "secret", max_kernels=2, idle_timeout=60)
    >>> c.Voila.ip, c.Voila.token, c.Voila.tornado_settings["allow_remote_access"]
    ('127.0.0.1', 'secret', False)
    >>> c.CappedKernelManager.max_kernels, c.CappedKernelManager.cull_idle_timeout, c.CappedKernelManager.cull_interval
    (2, 60, 30)
    >>> c.VoilaConfiguration.show_tracebacks
    False
    """
    if not token:
        raise ValueError("The review server needs a token (rnnscope review makes one); an empty token would let any "
                         "local program or web page start kernels.")
    c = Config()
    c.Voila.ip = "127.0.0.1"
    c.Voila.port = int(port)
    c.Voila.port_retries = 0
    c.Voila.open_browser = False
    c.Voila.token = token
    # applied over Voila's own settings (which allow any Host): only loopback addresses and localhost
    c.Voila.tornado_settings = {"allow_remote_access": False, "local_hostnames": ["localhost"]}
    c.VoilaConfiguration.show_tracebacks = False
    c.VoilaConfiguration.theme = "light"
    c.VoilaConfiguration.multi_kernel_manager_class = CappedKernelManager
    c.CappedKernelManager.max_kernels = int(max_kernels)
    c.CappedKernelManager.cull_idle_timeout = int(idle_timeout)
    c.CappedKernelManager.cull_interval = max(1, min(60, int(idle_timeout) // 2))
    c.CappedKernelManager.cull_connected = False  # an open page is an analyst at work
    c.CappedKernelManager.cull_busy = False
    return c


def main(argv=None) -> None:
    """Serve the review notebook (``python -m rnnscope.review._server --port P``; the token in the environment)."""
    from voila.app import Voila

    parser = argparse.ArgumentParser(prog="python -m rnnscope.review._server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-kernels", type=int, default=4)
    parser.add_argument("--idle-timeout", type=int, default=600)
    args = parser.parse_args(argv)
    token = os.environ.pop(TOKEN_ENV, "")  # kernels get the server's environment: not the token
    config = voila_config(args.port, token, max_kernels=args.max_kernels, idle_timeout=args.idle_timeout)
    Voila.launch_instance(argv=[str(NOTEBOOK)], config=config)


if __name__ == "__main__":  # pragma: no cover - run as a module by serve()
    main()

"""Serve the review page with Voila on 127.0.0.1, behind a token (``rnnscope review OUTDIR``).

Voila runs the notebook shipped in this package (:data:`NOTEBOOK`) in a kernel per browser tab and shows its
widgets as a web page, without code. The folder to review reaches the notebook through the environment
(``RNNSCOPE_REVIEW_DIR``, and ``RNNSCOPE_REVIEW_CAPTURE`` for the capture runs' folder). The server
(:mod:`rnnscope.review._server`) asks for a token as Jupyter servers do (a new random one at each start, in the URL
printed), refuses foreign ``Host`` headers and cross-origin websockets, shuts down kernels no page is connected to
after ``idle_timeout`` seconds, opens at most ``max_pages`` pages at once, and never shows a traceback in a page.
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

from .._validation import require

__all__ = ["NOTEBOOK", "TOKEN_ENV", "serve", "server_command", "free_port"]

#: the notebook Voila serves
NOTEBOOK = Path(__file__).with_name("review.ipynb")
#: the environment variable that passes the token to the server (not the command line: `ps` shows that)
TOKEN_ENV = "RNNSCOPE_REVIEW_TOKEN"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(port: int, *, max_pages: int = 4, idle_timeout: int = 600) -> list[str]:
    """The command line of the review server on 127.0.0.1:``port`` (the token goes in its environment).

    Examples
    --------
    >>> server_command(8866, max_pages=2)[1:]
    ['-m', 'rnnscope.review._server', '--port=8866', '--max-kernels=2', '--idle-timeout=600']
    """
    return [sys.executable, "-m", "rnnscope.review._server", f"--port={int(port)}", f"--max-kernels={int(max_pages)}",
            f"--idle-timeout={int(idle_timeout)}"]


def serve(folder, *, capture_store=None, port: int | None = None, token: str | None = None, max_pages: int = 4,
          idle_timeout: int = 600, wait: bool = True) -> tuple[subprocess.Popen | None, str]:
    """Start the review server for ``folder``; print and return the URL (with its token).

    Parameters
    ----------
    folder : path
        Output folder of ``rnnscope monitor`` (``detections.csv``).
    capture_store : path, optional
        Folder of its capture runs (default: ``monitor.json``, ``folder/capture`` or ``folder``).
    port : int, optional
        Port on 127.0.0.1 (default: a free one).
    token : str, optional
        The token every request needs (default: a new random one, as Jupyter servers make).
    max_pages : int
        Most pages (kernels) open at once; one more gets a plain "503" page (0: no limit).
    idle_timeout : int
        Seconds after which a kernel no page is connected to is shut down.
    wait : bool
        Block until the server stops (Ctrl-C stops it; on POSIX this process becomes the server); False returns at
        once (the caller stops the process).

    Returns
    -------
    process, url
        The server process (None when this process became it) and ``http://127.0.0.1:PORT/?token=...``.

    Raises
    ------
    FileNotFoundError
        ``folder`` has no ``detections.csv``.
    rnnscope.errors.MissingExtraError
        Voila is not installed (``pip install 'rnnscope[review]'``).
    ValueError
        An empty token, or a negative ``max_pages`` or ``idle_timeout``.

    Examples
    --------
    A folder that is not a monitor's output is refused before any server starts:

    >>> import tempfile
    >>> serve(tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    FileNotFoundError: rnnscope review: ... has no detections.csv; pass the --out folder of `rnnscope monitor`.

    Serving a monitor's output folder starts a Voila server (skipped here: it needs a server and a browser):

    >>> process, url = serve("monitor_out", wait=False)  # doctest: +SKIP
    rnnscope review: .../monitor_out at http://127.0.0.1:8866/?token=... (Ctrl-C stops it)
    >>> process.terminate()  # doctest: +SKIP
    """
    for module in ("voila", "jupyter_server"):  # the server runs in another process: say it here, plainly
        require(module, extra="review", what="The review page (rnnscope review)")
    folder = Path(folder).resolve()
    if not (folder / "detections.csv").exists():
        raise FileNotFoundError(f"rnnscope review: {folder} has no detections.csv; pass the --out folder of "
                                "`rnnscope monitor`.")
    if token is not None and not str(token).strip():
        raise ValueError("rnnscope review: the token must not be empty (any local program or web page could then "
                         "start kernels); leave it out to get a random one.")
    if max_pages < 0 or idle_timeout <= 0:
        raise ValueError(f"rnnscope review: max_pages must be >= 0 and idle_timeout > 0 (s). Got {max_pages} and "
                         f"{idle_timeout}.")
    token = str(token) if token is not None else secrets.token_urlsafe(24)
    port = int(port or free_port())
    env = dict(os.environ, RNNSCOPE_REVIEW_DIR=str(folder), **{TOKEN_ENV: token})
    if capture_store is not None:
        env["RNNSCOPE_REVIEW_CAPTURE"] = str(Path(capture_store).resolve())
    url = f"http://127.0.0.1:{port}/?token={token}"
    print(f"rnnscope review: {folder} at {url} (Ctrl-C stops it)", flush=True)
    command = server_command(port, max_pages=max_pages, idle_timeout=idle_timeout)
    if wait and os.name == "posix":  # become the server: signals (Ctrl-C, SIGTERM) reach Voila itself
        os.chdir(folder)
        os.execve(sys.executable, command, env)
    process = subprocess.Popen(command, env=env, cwd=str(folder))
    if wait:
        try:
            process.wait()
        except KeyboardInterrupt:
            process.terminate()
            process.wait(timeout=20)
    return process, url

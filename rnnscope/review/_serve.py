"""Serve the review page with Voila on 127.0.0.1 (``rnnscope review OUTDIR``).

Voila runs the notebook shipped in this package (:data:`NOTEBOOK`) in a kernel per browser tab and shows its
widgets as a web page, without code. The folder to review reaches the notebook through the environment
(``RNNSCOPE_REVIEW_DIR``, and ``RNNSCOPE_REVIEW_CAPTURE`` for the capture runs' folder).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["NOTEBOOK", "serve", "voila_command", "free_port"]

#: the notebook Voila serves
NOTEBOOK = Path(__file__).with_name("review.ipynb")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def voila_command(port: int) -> list[str]:
    """The command line that serves :data:`NOTEBOOK` on 127.0.0.1:``port`` (no browser opened, no token)."""
    return [sys.executable, "-m", "voila", str(NOTEBOOK), "--no-browser", f"--port={int(port)}",
            "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", "--theme=light",
            "--VoilaConfiguration.show_tracebacks=True"]


def serve(folder, *, capture=None, port: int | None = None, wait: bool = True) -> tuple[subprocess.Popen, str]:
    """Start Voila on the review page of ``folder``; print and return the URL.

    Parameters
    ----------
    folder : path
        Output folder of ``rnnscope monitor`` (``detections.csv``).
    capture : path, optional
        Folder of its capture runs (default: ``monitor.json``, ``folder/capture`` or ``folder``).
    port : int, optional
        Port on 127.0.0.1 (default: a free one).
    wait : bool
        Block until the server stops (Ctrl-C stops it; on POSIX this process becomes the Voila server); False
        returns at once (the caller stops the process).

    Returns
    -------
    process, url
    """
    folder = Path(folder).resolve()
    if not (folder / "detections.csv").exists():
        raise FileNotFoundError(f"rnnscope review: {folder} has no detections.csv; pass the --out folder of "
                                "`rnnscope monitor`.")
    port = int(port or free_port())
    env = dict(os.environ, RNNSCOPE_REVIEW_DIR=str(folder))
    if capture is not None:
        env["RNNSCOPE_REVIEW_CAPTURE"] = str(Path(capture).resolve())
    url = f"http://127.0.0.1:{port}/"
    print(f"rnnscope review: {folder} at {url} (Ctrl-C stops it)", flush=True)
    if wait and os.name == "posix":  # become the server: signals (Ctrl-C, SIGTERM) reach Voila itself
        os.chdir(folder)
        os.execve(sys.executable, voila_command(port), env)
    process = subprocess.Popen(voila_command(port), env=env, cwd=str(folder))
    if wait:
        try:
            process.wait()
        except KeyboardInterrupt:
            process.terminate()
            process.wait(timeout=20)
    return process, url

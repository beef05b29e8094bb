"""Helpers of the browser tests: the browser's launch flags, free ports, servers started and stopped, where
screenshots go (the test's temporary folder; ``RNNSCOPE_SCREENSHOTS=DIR``, set by ``make screenshots``, writes
the README's images there instead: tests never write into the source tree on their own), and the environment that
keeps everything a test starts (Chromium, Playwright's driver, JupyterLab, Voila, their kernels, the ``rnnscope``
commands) writing into a temporary folder, never into the user's home: :func:`contained` (``conftest.py`` sets it
for every browser test module; servers started here get it for their own root too)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync"]


#: where a process writes what is not its output, relative to a temporary folder: Chromium's profile, crash
#: reports (``~/.config/chromium``) and dconf cache (``~/.cache/dconf``), Jupyter's runtime files and config,
#: IPython's profile, matplotlib's font cache, temporary files
CONTAINED = {
    "HOME": ".home",
    "XDG_CONFIG_HOME": ".home/.config",
    "XDG_CACHE_HOME": ".home/.cache",
    "XDG_DATA_HOME": ".home/.local/share",
    "TMPDIR": ".tmp",
    "JUPYTER_RUNTIME_DIR": ".jupyter/runtime",
    "JUPYTER_CONFIG_DIR": ".jupyter/config",
    "IPYTHONDIR": ".ipython",
    "MPLCONFIGDIR": ".matplotlib",
}


def _native_cache() -> str:
    """The compiled capture kernels' folder as the user's environment names it (read, not written: kept so that
    processes with another HOME load them instead of compiling them again)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return os.environ.get("RNNSCOPE_NATIVE_DIR") or str(Path(base) / "rnnscope" / "native")


def contained(root: Path) -> dict[str, str]:
    """The variables of :data:`CONTAINED` pointing into ``root`` (folders created), plus ``RNNSCOPE_NATIVE_DIR``
    (the user's compiled kernels) and ``PYTHONUNBUFFERED``."""
    out = {"RNNSCOPE_NATIVE_DIR": _native_cache(), "PYTHONUNBUFFERED": "1"}
    for name, sub in CONTAINED.items():
        (Path(root) / sub).mkdir(parents=True, exist_ok=True)
        out[name] = str(Path(root) / sub)
    return out


def environment(root: Path) -> dict[str, str]:
    """The environment of a process a test starts (a server, a command): this one's with :func:`contained`."""
    return dict(os.environ, **contained(root))


def launch_chromium(playwright, **kwargs):
    """Headless Chromium at :data:`CHROMIUM` with :data:`LAUNCH_ARGS`, in this process's environment (contained by
    ``conftest.py``)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, env=dict(os.environ), **kwargs)


def require_browser():
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package is missing (pip install playwright; never `playwright install`)")
    if missing:
        message = "browser test needs a browser: " + "; ".join(missing)
        if os.environ.get("RNNSCOPE_REQUIRE_BROWSER") == "1":
            pytest.fail(message + " (RNNSCOPE_REQUIRE_BROWSER=1)")
        pytest.skip(message)


def screenshot_path(tmp_path: Path, name: str) -> Path:
    """Where a test saves the screenshot ``name``: ``$RNNSCOPE_SCREENSHOTS/name`` when set, else in ``tmp_path``."""
    folder = Path(os.environ.get("RNNSCOPE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read(100)
            return
        except Exception as err:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start ({url}):\n" + log.read_text()[-3000:]) from err
            time.sleep(0.5)


def stop(proc) -> None:
    """Stop a server and whatever it started (kernels)."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    proc.terminate()
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(children, timeout=20)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def jupyterlab(root: Path, token: str):
    """A JupyterLab on 127.0.0.1 (a free port) serving ``root``; yields its URL."""
    port = free_port()
    env = environment(root)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.token={token}",
           "--ServerApp.ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
           f"--ServerApp.root_dir={root}", f"--LabApp.workspaces_dir={root / '.workspaces'}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI often run as root
    log_path = root / "lab.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/api/status?token={token}", proc, log_path)
            yield url
        finally:
            stop(proc)

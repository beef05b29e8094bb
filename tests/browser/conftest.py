"""Shared by the browser tests: a day-long monitor output (built once per session) and server helpers.

The day: one station-day of a synthetic SDS archive at 50 Hz, a small LSTM (16 units) trained briefly on
synthetic records at 50 Hz, and ``rnnscope.monitor`` over the day with a capture store, written as
``rnnscope monitor --out OUT --capture OUT/capture`` writes it (``detections.csv``, ``monitor.json``).
"""
from __future__ import annotations

import json
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
DAY = "2024-03-01T00:00:00"
SEED_ID = "XX.DAY..HHZ"


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def day_output(tmp_path_factory):
    """``{"out": folder, "run": capture run path, "detections": csv path, "sds": archive root}`` of one day."""
    require_browser()
    import rnnscope
    from rnnscope.data._synthetic_archive import write_sds_archive

    root = tmp_path_factory.mktemp("day")
    write_sds_archive(root / "sds", DAY, 86400.0, seed=2, seed_id=SEED_ID, sampling_rate=50.0)
    frames = rnnscope.features.compute(rnnscope.data.synthetic(n_records=12, seed=1, sampling_rate=50.0))
    model = rnnscope.models.RNNClassifier("lstm", frames.sizes["feature"], 16, 5)
    rnnscope.train.fit(model, frames, epochs=3, progress=False, seed=0)
    out = root / "out"
    out.mkdir()
    result = rnnscope.monitor(model, root / "sds", capture_store=out / "capture", sampling_rate=50.0,
                              progress=False)
    result.to_csv(out / "detections.csv")
    (out / "monitor.json").write_text(json.dumps({"capture_store": [str(p) for p in result.capture_store],
                                                  "seed_id": SEED_ID}))
    return {"out": out, "run": result.capture_store[0], "detections": out / "detections.csv", "sds": root / "sds",
            "root": root}


def wait_http(url: str, proc, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                r.read(100)
            return
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start ({url}):\n" + log.read_text()[-3000:])
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
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(root / ".runtime"), JUPYTER_CONFIG_DIR=str(root / ".config"),
               IPYTHONDIR=str(root / ".ipython"), PYTHONUNBUFFERED="1")
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

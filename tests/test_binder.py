"""Binder: a fresh virtual environment made from binder/'s files alone runs the quickstart notebook."""
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd, **kwargs):
    out = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


@pytest.mark.slow
def test_a_venv_from_binder_files_runs_the_quickstart(tmp_path):
    env_dir = tmp_path / "binder-env"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}", "PIP_RETRIES": "0",
           "PIP_TIMEOUT": "10", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    # what repo2docker does: requirements.txt, then postBuild, from the repository root
    _run([python, "-m", "pip", "install", "-q", "-r", str(ROOT / "binder" / "requirements.txt")], env=env, cwd=ROOT)
    torch_version = _run([python, "-c", "import torch; print(torch.__version__)"], env=env).stdout
    assert "+cpu" in torch_version, f"binder/requirements.txt must give a CPU build of torch, got {torch_version}"
    _run(["bash", str(ROOT / "binder" / "postBuild")], env=env, cwd=ROOT)
    assert _run([python, "-c", "import torch; print(torch.__version__)"], env=env).stdout == torch_version
    # Binder's base image brings Jupyter; a bare venv needs a kernel and a notebook runner
    _run([python, "-m", "pip", "install", "-q", "ipykernel", "nbclient", "nbformat"], env=env)
    notebook = tmp_path / "01_quickstart.ipynb"
    shutil.copy(ROOT / "notebooks" / "01_quickstart.ipynb", notebook)
    code = (
        "import nbformat, nbclient, sys;"
        "nb = nbformat.read(sys.argv[1], 4);"
        "nbclient.NotebookClient(nb, timeout=900, kernel_name='python3', "
        "resources={'metadata': {'path': sys.argv[2]}}).execute();"
        "print('executed', len(nb.cells), 'cells')"
    )
    out = _run([python, "-c", code, str(notebook), str(tmp_path)], env=env, cwd=tmp_path)
    assert "executed" in out.stdout

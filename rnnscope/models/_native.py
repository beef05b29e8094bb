"""Native (C++) capture kernels: built once on first use, with the TorchScript step loops as the fallback.

:func:`kernels` returns ``torch.ops.rnnscope_native`` (the ops of ``_native_kernels.cpp``: ``lstm_trace``,
``gru_trace``, ``lazy_lstm_trace``) or None when they cannot be used. The first call compiles the file with
:func:`torch.utils.cpp_extension.load` (about 15 s; a C++ compiler is needed) into a cache directory and loads it;
later calls, and later sessions, load the cached library at once. The cache key includes the source, the PyTorch
version, the Python version and the CPU's vector extension (AVX2 code only where the CPU has it, so a cache shared
by different machines never runs instructions a machine lacks).

Everything degrades gracefully: no compiler, a failed build or ``RNNSCOPE_NATIVE=0`` in the environment -> the
TorchScript loops of :mod:`rnnscope.models._cells` (same numbers to float rounding), with one warning saying why
for a failed build. ``RNNSCOPE_NATIVE_DIR`` overrides the cache directory (default
``~/.cache/rnnscope/native``). :func:`set_native` switches the kernels on or off for the session.
"""
from __future__ import annotations

import hashlib
import os
import platform
import sys
import threading
import warnings
from pathlib import Path

import torch

__all__ = ["kernels", "set_native", "native_status", "build"]

SOURCE = Path(__file__).with_name("_native_kernels.cpp")
_LOCK = threading.Lock()
_STATE: dict = {"enabled": os.environ.get("RNNSCOPE_NATIVE", "1").strip().lower() not in ("0", "false", "no", "off"),
                "ops": None, "tried": False, "error": None, "path": None}


def _cpu_flags() -> list[str]:
    capability = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "DEFAULT"
    if platform.machine().lower() in ("x86_64", "amd64") and capability in ("AVX2", "AVX512"):
        return ["-mavx2", "-mfma"]
    return []


def _build_name(flags: list[str]) -> str:
    key = "|".join([SOURCE.read_text(), torch.__version__, sys.version.split()[0], platform.machine(), *flags])
    return "rnnscope_native_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _cache_root() -> Path:
    root = os.environ.get("RNNSCOPE_NATIVE_DIR")
    if root:
        return Path(root).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rnnscope" / "native"


def build(verbose: bool = False):
    """Compile (or load the cached) native kernels now; returns ``torch.ops.rnnscope_native``.

    Raises whatever the build raises (no compiler, compile errors). Call it once after installing to move the
    compile out of the first capture (``python -c "from rnnscope.models import build_native; build_native()"``;
    ``make test``, ``make demo`` and Binder's ``postBuild`` do).
    """
    from torch.utils import cpp_extension

    flags = _cpu_flags()
    name = _build_name(flags)
    directory = _cache_root() / name
    directory.mkdir(parents=True, exist_ok=True)
    library = directory / f"{name}.so"
    if library.exists():
        try:
            torch.ops.load_library(str(library))
            _STATE["path"] = str(library)
            return torch.ops.rnnscope_native
        except Exception:  # e.g. another process is still writing it: build() below waits for its lock
            pass
    if not verbose:
        print(f"rnnscope: compiling the native capture kernels (once, about 15 s) into {directory}",
              file=sys.stderr, flush=True)
    cpp_extension.load(name=name, sources=[str(SOURCE)], build_directory=str(directory),
                       extra_cflags=["-O3", *flags], is_python_module=False, verbose=verbose)
    _STATE["path"] = str(library)
    return torch.ops.rnnscope_native


def kernels():
    """``torch.ops.rnnscope_native`` when the native kernels are enabled and built, else None (see module doc)."""
    if not _STATE["enabled"]:
        return None
    if _STATE["tried"]:
        return _STATE["ops"]
    with _LOCK:
        if not _STATE["tried"]:
            try:
                _STATE["ops"] = build()
            except Exception as exc:  # no compiler, failed build: the TorchScript loops do the same work
                _STATE["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
                warnings.warn(
                    "rnnscope could not build its native capture kernels, so capture uses the slower TorchScript "
                    f"step loops (same results). Reason: {_STATE['error']}. Install a C++ compiler (g++ or clang) to "
                    "enable them, or set RNNSCOPE_NATIVE=0 to silence this warning.", RuntimeWarning, stacklevel=3)
            _STATE["tried"] = True
    return _STATE["ops"]


def set_native(enabled: bool) -> bool:
    """Use (or stop using) the native capture kernels for this session; returns the previous setting.

    Examples
    --------
    >>> from rnnscope.models import set_native
    >>> previous = set_native(False)   # capture now runs the TorchScript step loops
    >>> _ = set_native(previous)
    """
    previous, _STATE["enabled"] = _STATE["enabled"], bool(enabled)
    return previous


def native_status() -> dict:
    """What the native kernels are doing: ``enabled``, ``loaded``, ``vectorized`` (AVX2 code), ``path``, ``error``."""
    ops = _STATE["ops"]
    return {"enabled": _STATE["enabled"], "loaded": ops is not None,
            "vectorized": bool(ops.vectorized()) if ops is not None else None, "path": _STATE["path"],
            "error": _STATE["error"]}

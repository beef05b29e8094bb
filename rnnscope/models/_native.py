"""Native (C++) capture kernels: built once on first use, loaded like a library afterwards.

:func:`kernels` returns ``torch.ops.rnnscope_native`` (the ops of ``_native_kernels.cpp`` and ``_native_simd.h``:
``lstm_trace``, ``gru_trace``, ``lazy_lstm_trace``; of ``_native_tape.h`` and ``_native_tape_simd.h``: the LSTM
tape's fused steps ``lstm_tape_forward``, ``lstm_tape_backward`` of :mod:`rnnscope.models._bptt`) or None when they
cannot be used. The first call compiles them
with :func:`torch.utils.cpp_extension.load` (about 30 s; a C++ compiler and ``ninja``, a dependency of rnnscope,
are needed) into a cache directory and loads them; later calls, and later sessions, load the cached library at
once. The cache key includes the sources, the PyTorch version, the Python version, the platform and the compiler
flags.

One build serves every CPU of its platform: the library holds AVX-512, AVX2 and portable code and picks the best
the CPU runs when it is loaded (``RNNSCOPE_NATIVE_ISA=avx2``, ``avx512`` or ``generic`` in the environment forces
one; :func:`native_status` says which runs). The kernels run on PyTorch's intra-op thread count
(:func:`torch.set_num_threads`): blocks of records on separate threads, or, for a few records per thread (one long
record), the units of each step shared by the threads.

Platforms: Linux builds with the system's ``c++`` (or ``$CXX``): ``-O3``, plus ``-fopenmp`` with GCC (the team then
reuses PyTorch's own OpenMP threads: the libgomp PyTorch loaded); other compilers (Clang, Apple's on macOS) build
without OpenMP and the team is made of ``std::thread`` s. ARM (Apple silicon) runs the portable code. Windows builds
with MSVC (``cl``: ``/O2``) into a ``.pyd`` library.

Everything degrades gracefully: with no compiler, a failed build, ``RNNSCOPE_NATIVE=0`` in the environment or
``set_native(False)``, or for inputs the kernels do not take (float64, a GPU, autograd recording), the layers run
their fused forward followed by the vectorised recovery of every variable (same numbers to float rounding, about
twice slower on the CPU). :func:`native_status` says which case applies and why; :func:`rnnscope.capture` warns
once per session when it falls back for a reason the user did not choose. ``RNNSCOPE_NATIVE_DIR`` overrides the
cache directory (default ``~/.cache/rnnscope/native``).
"""
from __future__ import annotations

import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import threading
from contextlib import contextmanager
from pathlib import Path

import torch

from ..errors import NativeBuildError

__all__ = ["kernels", "usable_kernels", "set_native", "native_status", "build", "using_isa", "NativeBuildError"]

SOURCE = Path(__file__).with_name("_native_kernels.cpp")
#: Every file of the build (the cache key hashes them all).
SOURCES = (SOURCE, *(Path(__file__).with_name(name) for name in ("_native_simd.h", "_native_tape.h",
                                                                   "_native_tape_simd.h")))
_LOCK = threading.Lock()
_ENV = "RNNSCOPE_NATIVE"
_ENV_OFF = os.environ.get(_ENV, "1").strip().lower() in ("0", "false", "no", "off")
_ISA_ENV = "RNNSCOPE_NATIVE_ISA"
_STATE: dict = {
    "enabled": not _ENV_OFF,
    "disabled_by": "environment" if _ENV_OFF else None,  # None, "environment" or "set_native"
    "ops": None,
    "tried": False,
    "error": None,  # why the build failed (no compiler, no ninja, the compiler's error)
    "path": None,
    "used": None,  # did the last trace of a cell with a kernel use it (None: no such trace yet)
    "input": None,  # why the last trace's input could not use them (float64, device, autograd)
}



# ------------------------------------------------------------------------------------------------- building


def _compiler_family(compiler: str | None = None) -> str:
    """``"gcc"``, ``"clang"`` or ``"msvc"``: what ``$CXX`` (or ``c++``, ``cl`` on Windows) is."""
    compiler = _compiler() if compiler is None else compiler
    if compiler == "cl":
        return "msvc"
    try:
        banner = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return "clang" if "clang" in banner.lower() else "gcc" if ("gcc" in banner.lower() or "g++" in banner
                                                               or "free software foundation" in banner.lower()) \
        else "unknown"


def compile_flags(system: str | None = None, family: str | None = None) -> list[str]:
    """The compiler flags for a platform and compiler family (default: this one and ``$CXX``'s).

    No instruction-set flag: the AVX-512 and AVX2 code is compiled for its instruction set function by function and
    chosen at run time. ``-fopenmp`` only with GCC, whose OpenMP runtime is the one PyTorch's Linux builds ship
    (another runtime would add a second pool of threads); other compilers run the team on ``std::thread``.

    Examples
    --------
    >>> compile_flags("Linux", "gcc")
    ['-O3', '-fopenmp']
    >>> compile_flags("Darwin", "clang")  # macOS: no OpenMP in Apple's compiler
    ['-O3']
    >>> compile_flags("Windows", "msvc")
    ['/O2']
    """
    system = platform.system() if system is None else system
    if system == "Windows":
        return ["/O2"]
    family = _compiler_family() if family is None else family
    return ["-O3"] + (["-fopenmp"] if family == "gcc" and system == "Linux" else [])


def link_flags(cflags: list[str]) -> list[str]:
    """Linker flags for compiler flags ``cflags``: ``-fopenmp`` links the OpenMP runtime.

    Examples
    --------
    >>> link_flags(["-O3", "-fopenmp"]), link_flags(["/O2"])
    (['-fopenmp'], [])
    """
    return ["-fopenmp"] if "-fopenmp" in cflags else []


def library_suffix(system: str | None = None) -> str:
    """What :func:`torch.utils.cpp_extension.load` names the library: ``.pyd`` on Windows, else ``.so``.

    Examples
    --------
    >>> library_suffix("Windows"), library_suffix("Darwin")
    ('.pyd', '.so')
    """
    return ".pyd" if (platform.system() if system is None else system) == "Windows" else ".so"


def _compiler(system: str | None = None) -> str:
    if (platform.system() if system is None else system) == "Windows":
        return "cl"
    words = shlex.split(os.environ.get("CXX", "") or "c++")
    return words[0] if words else "c++"


def _build_name(flags: list[str]) -> str:
    key = "|".join(
        [
            *(path.read_text() for path in SOURCES),
            torch.__version__,
            sys.version.split()[0],
            platform.system(),
            platform.machine(),
            *flags,
        ]
    )
    return "rnnscope_native_" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _cache_root() -> Path:
    root = os.environ.get("RNNSCOPE_NATIVE_DIR")
    if root:
        return Path(root).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rnnscope" / "native"


@contextmanager
def _environment_scripts_on_path():
    """Put this Python environment's scripts directory on ``PATH`` during a build (restored afterwards).

    ``pip install ninja`` (a dependency of rnnscope) puts ``ninja`` there, and torch runs ``ninja`` from ``PATH``,
    which lacks that directory when a virtual environment's Python runs without the environment activated.
    """
    scripts = sysconfig.get_path("scripts")
    before = os.environ.get("PATH", "")
    if not scripts or scripts in before.split(os.pathsep):
        yield
        return
    os.environ["PATH"] = scripts + (os.pathsep + before if before else "")
    try:
        yield
    finally:
        os.environ["PATH"] = before


def _check_toolchain() -> None:
    from torch.utils import cpp_extension

    compiler = _compiler()
    if shutil.which(compiler) is None:
        hint = ("install the Microsoft C++ Build Tools and run from a Developer Command Prompt" if compiler == "cl"
                else "install g++ or clang, or point $CXX at a C++ compiler")
        raise NativeBuildError(f"no C++ compiler found ({compiler!r} is not on PATH): {hint}")
    if not cpp_extension.is_ninja_available():
        raise NativeBuildError("the 'ninja' build tool is missing (torch builds C++ extensions with it): "
                               "pip install ninja")


def build(*, verbose: bool = False):
    """Compile (or load the cached) native kernels now; returns ``torch.ops.rnnscope_native``.

    Call it once after installing to move the compile out of the first capture (``python -c "from rnnscope.models
    import build_native; build_native()"``; ``make test``, ``make demo`` and Binder's ``postBuild`` do). After a
    success the session uses the kernels, even when an earlier attempt failed (e.g. before a compiler was installed).

    Parameters
    ----------
    verbose : bool
        Show the compiler's output (default: one line saying that it compiles).

    Returns
    -------
    torch._ops._OpNamespace
        ``torch.ops.rnnscope_native``, the loaded kernels.

    Raises
    ------
    NativeBuildError
        No C++ compiler or no ``ninja`` (the message says what to install).
    Exception
        Whatever the compiler raises when the build fails. Either way :func:`native_status` then gives the reason
        in one line (``error``).

    Examples
    --------
    >>> from rnnscope.models import build_native, native_status
    >>> try:
    ...     ops = build_native()  # loads the cached library (the first call compiles it, about 30 s)
    ... except Exception:  # no compiler or no ninja here: native_status()["error"] says which
    ...     ops = None
    >>> native_status()["loaded"] == (ops is not None)
    True
    >>> ops is None or ops.isa() in ("avx512", "avx2", "generic")
    True
    """
    try:
        ops = _build(verbose)
    except Exception as exc:
        _STATE["error"] = _build_error(exc)
        raise
    _STATE.update(ops=ops, tried=True, error=None)  # usable from now on, also after an earlier failure
    return ops


def _chosen_isa(ops) -> None:
    """Apply ``RNNSCOPE_NATIVE_ISA`` (when set) to freshly loaded kernels."""
    wanted = os.environ.get(_ISA_ENV, "").strip().lower()
    if not wanted:
        return
    try:
        ops.set_isa(wanted)
    except RuntimeError as exc:
        raise NativeBuildError(f"{_ISA_ENV}={wanted} in the environment: {str(exc).splitlines()[0]} Unset it or "
                               f"pick one of {list(ops.isas())} (or 'auto').") from None


def _build(verbose: bool):
    from torch.utils import cpp_extension

    flags = compile_flags()
    name = _build_name(flags)
    directory = _cache_root() / name
    library = directory / f"{name}{library_suffix()}"
    if library.exists():
        try:
            torch.ops.load_library(str(library))
        except Exception:  # e.g. another process is still writing it: load() below waits for its lock
            pass
        else:
            _STATE["path"] = str(library)
            _chosen_isa(torch.ops.rnnscope_native)
            return torch.ops.rnnscope_native
    with _environment_scripts_on_path():
        _check_toolchain()
        directory.mkdir(parents=True, exist_ok=True)
        if not verbose:
            print(f"rnnscope: compiling the native capture kernels (once, about 30 s) into {directory}",
                  file=sys.stderr, flush=True)
        cpp_extension.load(name=name, sources=[str(SOURCE)], build_directory=str(directory), extra_cflags=flags,
                           extra_ldflags=link_flags(flags), is_python_module=False, verbose=verbose)
    _STATE["path"] = str(library)
    _chosen_isa(torch.ops.rnnscope_native)
    return torch.ops.rnnscope_native


def _build_error(exc: Exception) -> str:
    if isinstance(exc, NativeBuildError):
        return str(exc)
    text = str(exc).strip()
    return f"the build failed: {type(exc).__name__}: {text.splitlines()[-1] if text else ''}"


def kernels():
    """``torch.ops.rnnscope_native`` when the native kernels are enabled and built, else None (see module doc).

    The first call builds them (once per session; a failure is recorded in :func:`native_status`, not raised).
    """
    if not _STATE["enabled"]:
        return None
    if _STATE["tried"]:
        return _STATE["ops"]
    with _LOCK:
        if not _STATE["tried"]:
            try:
                _STATE["ops"] = build()
            except Exception as exc:  # no compiler, failed build: the fused forward + recovery do the same work
                _STATE["error"] = _build_error(exc)  # (build() records it too; a replaced build() may not)
            _STATE["tried"] = True
    return _STATE["ops"]


# ------------------------------------------------------------------------------------------------- using


def _input_reason(x: torch.Tensor, weights) -> str | None:
    tensors = (x, *weights)
    device = next((t.device for t in tensors if t.device.type != "cpu"), None)
    if device is not None:
        return f"the input is on {device} (the kernels run on the CPU; a GPU runs the fused kernels instead)"
    dtype = next((t.dtype for t in tensors if t.dtype != torch.float32), None)
    if dtype is not None:
        return f"the input is {str(dtype).replace('torch.', '')} (the kernels are float32 only)"
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return ("autograd is recording (the input or the weights require gradients): run under torch.no_grad() "
                "or torch.inference_mode()")
    return None


def usable_kernels(x: torch.Tensor, *weights: torch.Tensor):
    """The kernels when they apply to this call (CPU, float32, no autograd, enabled and built), else None.

    Records the outcome for :func:`native_status` (``used``, and the input's ``reason`` when it is the input that
    cannot use them).
    """
    reason = _input_reason(x, weights)
    ops = kernels() if reason is None else None
    _STATE["input"] = reason
    _STATE["used"] = ops is not None
    return ops


def set_native(enabled: bool) -> bool:
    """Use (or stop using) the native capture kernels for this session; returns the previous setting.

    Switching them off on purpose silences capture's warning about the slower fallback.

    Parameters
    ----------
    enabled : bool
        True to use the kernels (when they build), False to run capture without them.

    Returns
    -------
    bool
        The setting before this call.

    Examples
    --------
    >>> from rnnscope.models import set_native
    >>> previous = set_native(False)   # capture now runs the fused forward + vectorised recovery
    >>> set_native(previous)  # back as it was; returns the setting it replaces
    False
    """
    previous = _STATE["enabled"]
    _STATE["enabled"] = bool(enabled)
    _STATE["disabled_by"] = None if enabled else "set_native"
    return previous


@contextmanager
def using_isa(isa: str):
    """Run the kernels with instruction set ``isa`` (``"avx512"``, ``"avx2"``, ``"generic"`` or ``"auto"``) inside
    the ``with`` block, e.g. to compare them; the previous one is restored afterwards.

    Raises
    ------
    NativeBuildError
        The kernels are not built or not enabled.
    RuntimeError
        This CPU does not run ``isa`` (the message lists those it runs).

    Examples
    --------
    >>> from rnnscope.models import _native
    >>> ops = _native.kernels()
    >>> if ops is not None:
    ...     with _native.using_isa("generic"):
    ...         assert ops.isa() == "generic"
    """
    ops = kernels()
    if ops is None:
        raise NativeBuildError(f"the native kernels are not in use: {_reason()}")
    previous = ops.isa()
    ops.set_isa(isa)
    try:
        yield ops
    finally:
        ops.set_isa(previous)


def _reason() -> str | None:
    if not _STATE["enabled"]:
        if _STATE["disabled_by"] == "environment":
            return f"disabled by {_ENV}={os.environ.get(_ENV, '0')} in the environment"
        return "disabled by set_native(False)"
    if _STATE["error"]:
        return _STATE["error"]
    if _STATE["used"] is False:
        return _STATE["input"]
    return None


def native_status() -> dict:
    """What the native kernels are doing, and why they are not used when they are not.

    Returns
    -------
    dict
        ``enabled`` (not switched off by ``RNNSCOPE_NATIVE=0`` or :func:`set_native`), ``loaded`` (built and
        loaded), ``vectorized`` (AVX-512 or AVX2 code; None until loaded), ``isa`` (the instruction set the kernels
        run: ``"avx512"``, ``"avx2"`` or ``"generic"``; None until loaded), ``parallel`` (how the kernels' threads
        are made: ``"openmp"``, PyTorch's own OpenMP threads, or ``"threads"``), ``threads`` (how many distinct
        threads ran the last kernel call: 1 for one record on one thread; None before any), ``path`` (the
        library), ``error`` (why the build
        failed: no compiler, no ninja, the compiler's message; None otherwise), ``platform``, ``used`` (whether the
        last trace of an LSTM, GRU or lazy LSTM layer ran them; None before any), ``reason`` (why they are not
        used: switched off and by what, the build error, or the last input's dtype, device or autograd; None when
        they are used) and ``deliberate`` (True when the user switched them off: capture does not warn then).

    Examples
    --------
    >>> from rnnscope.models import native_status, set_native
    >>> previous = set_native(False)
    >>> status = native_status()
    >>> status["reason"], status["deliberate"]
    ('disabled by set_native(False)', True)
    >>> _ = set_native(previous)
    """
    ops = _STATE["ops"]
    return {
        "enabled": _STATE["enabled"],
        "loaded": ops is not None,
        "vectorized": bool(ops.vectorized()) if ops is not None else None,
        "isa": str(ops.isa()) if ops is not None else None,
        "parallel": str(ops.parallel_backend()) if ops is not None else None,
        "threads": (int(ops.last_threads()) or None) if ops is not None else None,
        "path": _STATE["path"],
        "error": _STATE["error"],
        "platform": f"{platform.system()} {platform.machine()}",
        "used": _STATE["used"] if _STATE["enabled"] else False,
        "reason": _reason(),
        "deliberate": not _STATE["enabled"],
    }

"""rnnscope's public surface as the docs see it: every public module and the names of its ``__all__``.

A module is public when no part of its dotted name starts with ``_``; its public names are its ``__all__``. The API
pages (:mod:`api_pages`) and the docstring checks (:mod:`docstring_checks`) both read this, so a name added to an
``__all__`` gets a page and is checked without touching the docs.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class PublicName:
    module: str  #: the public module whose ``__all__`` lists it, e.g. "rnnscope.analysis"
    name: str  #: the name in that ``__all__``, e.g. "heat_map"
    kind: str  #: "module", "class", "exception", "function" or "data"

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


def public_modules(package: str = "rnnscope") -> list[str]:
    """The package and its public subpackages and modules that define ``__all__``, package first, then sorted."""
    root = importlib.import_module(package)
    found = [info.name for info in pkgutil.walk_packages(root.__path__, f"{package}.")
             if not any(part.startswith("_") for part in info.name.split(".")[1:])]
    return [package] + sorted(m for m in found if hasattr(importlib.import_module(m), "__all__"))


def _kind(obj) -> str:
    if isinstance(obj, ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "function"
    return "data"


def public_names(module: str) -> list[PublicName]:
    """The names of ``module.__all__`` in their order, each with its kind."""
    mod = importlib.import_module(module)
    return [PublicName(module, name, _kind(getattr(mod, name))) for name in mod.__all__]


def checked_objects(package: str = "rnnscope") -> dict[str, object]:
    """Every public function and class once, under the first public name that lists it (the package's own
    ``__all__`` first, then the modules in alphabetical order): ``{qualified name: object}``."""
    seen: dict[int, str] = {}
    objects: dict[str, object] = {}
    for module in public_modules(package):
        mod = importlib.import_module(module)
        for entry in public_names(module):
            if entry.kind in ("module", "data"):
                continue
            obj = getattr(mod, entry.name)
            if id(obj) not in seen:
                seen[id(obj)] = entry.qualname
                objects[entry.qualname] = obj
    return objects

"""Write the intersphinx inventories the docs link through: small ``objects.inv`` files made here, committed.

The docs build has no internet, so it cannot download the projects' own ``objects.inv``; none of the installed
packages ships one. This script lists the public names of the installed numpy, pandas, xarray, torch, ObsPy and
SeisBench (and the few Python names numpydoc links parameter types to: ``bool``, ``sequence``, ...) that rnnscope's
docstrings and pages are likely to mention (each top-level name, the members of the
central classes), maps each to its page in that project's online reference (the URL scheme each project's Sphinx
site uses), and writes them with Sphinx's own inventory writer. A name not listed stays plain text in the docs
(never a warning). Re-run it after upgrading one of these packages (from the repository root)::

    .venv/bin/python docs/_inventories/make_inventories.py
"""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from types import SimpleNamespace

from sphinx.util.inventory import InventoryFile

HERE = Path(__file__).resolve().parent

#: project -> (its online reference, as in docs/conf.py's intersphinx_mapping)
BASE_URLS = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "pandas": "https://pandas.pydata.org/docs/",
    "xarray": "https://docs.xarray.dev/en/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "obspy": "https://docs.obspy.org/",
    "seisbench": "https://seisbench.readthedocs.io/en/stable/",
}


def _public(obj) -> list[str]:
    names = getattr(obj, "__all__", None) if inspect.ismodule(obj) else None
    return sorted(n for n in (names or dir(obj)) if not n.startswith("_"))


def _role(obj, member_of_class: bool = False) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj):
        return "method" if member_of_class else "function"
    if isinstance(obj, property) or member_of_class:
        return "attribute"
    return "data"


def _entries(module_name: str, page, classes: list[str], aliases: dict[str, str] | None = None):
    """``(name, role, uri)`` of a module's public names and of the members of ``classes``; ``page(name)`` gives the
    page of a name; ``aliases`` maps a public shortcut (``obspy.Stream``) to the name its page is made for."""
    module = importlib.import_module(module_name)
    out = []
    for name in _public(module):
        try:
            obj = getattr(module, name)
        except Exception:  # noqa: BLE001 (lazy attributes that fail to import are not documented either)
            continue
        if inspect.ismodule(obj):
            continue
        full = f"{module_name}.{name}"
        out.append((full, _role(obj), page(full)))
    for cls_name in classes:
        owner, _, attr = cls_name.rpartition(".")
        cls = getattr(importlib.import_module(owner), attr)
        out.append((cls_name, "class", page(cls_name)))
        for name in _public(cls):
            member = inspect.getattr_static(cls, name, None)
            out.append((f"{cls_name}.{name}", _role(member, member_of_class=True), page(f"{cls_name}.{name}")))
    for alias, target in (aliases or {}).items():
        out.append((alias, "class" if target[0].isupper() or "." in target else "function", page(target)))
    return out


def numpy_entries():
    scalars = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_", "datetime64"}

    def page(full):
        if full.split(".")[1] in scalars:
            return f"reference/arrays.scalars.html#{full}"
        return f"reference/generated/{full}.html#{full}"
    return _entries("numpy", page, ["numpy.ndarray"])


def pandas_entries():
    return _entries("pandas", lambda full: f"reference/api/{full}.html#{full}",
                    ["pandas.DataFrame", "pandas.Series", "pandas.Timestamp", "pandas.Index"])


def xarray_entries():
    return _entries("xarray", lambda full: f"generated/{full}.html#{full}", ["xarray.Dataset", "xarray.DataArray"])


def torch_entries():
    special = {"torch.Tensor": "tensors.html#torch.Tensor", "torch.device": "tensor_attributes.html#torch.device",
               "torch.dtype": "tensor_attributes.html#torch.dtype"}

    def page(full):
        if full in special:
            return special[full]
        if full.startswith("torch.Tensor."):
            return f"generated/{full}.html#{full}"
        if full.startswith("torch.utils.data."):
            return f"data.html#{full}"
        return f"generated/{full}.html#{full}"
    out = _entries("torch.nn", page, ["torch.nn.Module"])
    out += _entries("torch.utils.data", page, [])
    out += [(name, "class", page(name)) for name in ("torch.Tensor", "torch.device", "torch.dtype")]
    out += [(f"torch.{n}", "function", page(f"torch.{n}"))
            for n in ("tensor", "zeros", "ones", "manual_seed", "set_num_threads", "get_num_threads", "no_grad",
                      "from_numpy", "save", "load", "compile")]
    return out


def obspy_entries():
    canonical = {"Stream": "obspy.core.stream.Stream", "Trace": "obspy.core.trace.Trace",
                 "UTCDateTime": "obspy.core.utcdatetime.UTCDateTime", "read": "obspy.core.stream.read",
                 "Inventory": "obspy.core.inventory.inventory.Inventory",
                 "read_inventory": "obspy.core.inventory.inventory.read_inventory",
                 "Catalog": "obspy.core.event.catalog.Catalog", "read_events": "obspy.core.event.catalog.read_events"}
    out = []
    for short, full in canonical.items():
        uri = f"packages/autogen/{full}.html#{full}"
        role = "class" if short[0].isupper() else "function"
        out += [(full, role, uri), (f"obspy.{short}", role, uri)]
        if role == "class":
            owner, _, attr = full.rpartition(".")
            cls = getattr(importlib.import_module(owner), attr)
            for name in _public(cls):
                member = inspect.getattr_static(cls, name, None)
                out.append(
                    (f"{full}.{name}", _role(member, True), f"packages/autogen/{full}.{name}.html#{full}.{name}")
                )
    return out


def seisbench_entries():
    out = []
    for module, page in (
        ("seisbench.models", "models"),
        ("seisbench.data", "data"),
        ("seisbench.generate", "generate"),
    ):
        mod = importlib.import_module(module)
        for name in _public(mod):
            obj = getattr(mod, name, None)
            if obj is None or inspect.ismodule(obj) or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            full = f"{obj.__module__}.{obj.__qualname__}"
            uri = f"pages/documentation/{page}.html#{full}"
            out += [(full, _role(obj), uri), (f"{module}.{name}", _role(obj), uri)]
    return out


def python_entries():
    """The names numpydoc links parameter types to (``bool``, ``sequence``, ``int``, ...) in Python's own docs."""
    out = [("bltin-boolean-values", "std:label", "library/stdtypes.html#bltin-boolean-values")]
    out += [(term, "std:term", f"glossary.html#term-{term}")
            for term in ("sequence", "iterable", "mapping", "generator", "iterator", "file-object", "path-like-object")]
    out += [(name, "class", f"library/functions.html#{name}") for name in ("int", "float", "bool", "complex", "object")]
    out += [(name, "class", f"library/stdtypes.html#{name}")
            for name in ("str", "list", "tuple", "dict", "set", "frozenset", "bytes", "range")]
    out += [(name, "function", f"library/functions.html#{name}") for name in ("callable", "len", "isinstance")]
    out += [(name, "data", f"library/constants.html#{name}") for name in ("None", "True", "False")]
    out += [(name, "exception", f"library/exceptions.html#{name}")
            for name in ("ValueError", "TypeError", "KeyError", "IndexError", "RuntimeError", "FileNotFoundError",
                         "FileExistsError", "OSError", "ImportError", "NotImplementedError", "Warning",
                         "UserWarning", "RuntimeWarning", "Exception")]
    return out


def write(project: str, entries, version: str) -> Path:
    """Write ``entries`` (``(name, role, uri)``; a role without a domain is Python's) as ``<project>.inv`` with
    :meth:`sphinx.util.inventory.InventoryFile.dump`."""
    by_domain: dict[str, set] = {}
    for name, role, uri in entries:
        domain, _, kind = role.rpartition(":")
        by_domain.setdefault(domain or "py", set()).add((name, kind, uri))
    domains = [SimpleNamespace(name=d, get_objects=lambda objs=objs: [(n, n, k, u, "", 1) for n, k, u in sorted(objs)])
               for d, objs in sorted(by_domain.items())]
    env = SimpleNamespace(config=SimpleNamespace(project=project, version=version),
                          domains=SimpleNamespace(sorted=lambda: domains))
    # the URIs are complete already: docname -> itself, no anchor appended
    builder = SimpleNamespace(get_target_uri=lambda docname: docname)
    path = HERE / f"{project}.inv"
    InventoryFile.dump(path, env, builder)
    return path


def main() -> None:
    makers = {
        "python": python_entries,
        "numpy": numpy_entries,
        "pandas": pandas_entries,
        "xarray": xarray_entries,
        "torch": torch_entries,
        "obspy": obspy_entries,
        "seisbench": seisbench_entries,
    }
    for project, make in makers.items():
        version = "3" if project == "python" else importlib.import_module(project).__version__
        entries = make()
        path = write(project, entries, version)
        print(f"{path.name}: {len(entries)} names of {project} {version}, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

"""Writes the API reference's module pages from the package's ``__all__`` before autosummary reads them.

One page per public module (``api/generated/<module>.rst``): its docstring, then an autosummary table per kind
(functions, classes, exceptions and warnings, data) whose ``:toctree:`` makes one page per object
(``api/generated/objects/``). The package's own page links its subpackages. Files are rewritten only when their
text changes, so incremental builds stay incremental. ``api/generated/`` is git-ignored: it is build output.
"""
from __future__ import annotations

from pathlib import Path

from public_api import public_modules, public_names

GROUPS = [("function", "Functions"), ("class", "Classes"), ("exception", "Exceptions and warnings"),
          ("data", "Data")]


def module_page(module: str, documented: set[str]) -> str:
    names = public_names(module)
    lines = [module, "=" * len(module), "", f".. automodule:: {module}", "   :no-members:", ""]
    submodules = [n for n in names if n.kind == "module" and n.qualname in documented]
    if submodules:
        lines += [".. rubric:: Subpackages and modules", ""]
        lines += [f"- :doc:`{n.qualname}`" for n in submodules] + [""]
    for kind, title in GROUPS:
        group = [n for n in names if n.kind == kind]
        if group:
            lines += [f".. rubric:: {title}", "", ".. autosummary::", "   :toctree: objects", "   :nosignatures:", ""]
            lines += [f"   {n.name}" for n in group] + [""]
    return "\n".join(lines)


def write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_module_pages(app, config=None) -> None:
    out = Path(app.srcdir) / "api" / "generated"
    modules = public_modules((config or app.config).api_package)
    for module in modules:
        write_if_changed(out / f"{module}.rst", module_page(module, set(modules)))
    objects = {n.qualname for m in modules for n in public_names(m) if n.kind != "module"}
    # pages of names no longer public would otherwise stay, outside every toctree
    stale = [p for p in out.glob("*.rst") if p.stem not in modules]
    stale += [p for p in out.glob("objects/*.rst") if p.stem not in objects]
    for path in stale:
        path.unlink()


def setup(app):
    app.add_config_value("api_package", "rnnscope", "env")
    # before Sphinx lists the source files, which autosummary scans for its tables when it generates object pages
    app.connect("config-inited", write_module_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

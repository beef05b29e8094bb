"""The package's shape: imports go one way (``../shared/DESIGN.md``), no circles, small modules and functions.

Every ``import`` statement of the package is read (module level and inside functions alike), resolved to the
rnnscope module it names, and checked against the allowed arrows between the parts of the pipeline.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rnnscope"

#: part -> the parts it may import. The pipeline: data -> features -> models -> train/capturing -> experiments /
#: monitoring; the run (schema, io) is read by analysis -> plots -> widgets, which never import the torch side.
ALLOWED = {
    "base": set(),  # _version, _validation, _tasks, _colors, _overview (the overview layout): torch-free helpers
    "device": {"base"},  # _device, _seed: devices, seeds and threads of the torch side
    "schema": {"base"},
    "io": {"base", "schema"},
    "data": {"base", "schema"},
    "features": {"base", "schema", "data"},
    "analysis": {"base", "schema", "io", "features"},
    "plots": {"base", "schema", "analysis"},
    "widgets": {"base", "schema", "io", "analysis", "plots"},
    "models": {"base", "device", "schema", "features"},
    "train": {"base", "device", "schema", "data", "features", "models"},
    "capturing": {"base", "device", "schema", "io", "data", "features", "models"},
    "experiments": {"base", "device", "schema", "io", "data", "features", "models", "train", "capturing", "analysis"},
    "monitoring": {"base", "device", "schema", "io", "data", "features", "models", "capturing"},
    "review": {"base", "schema", "io", "data", "analysis", "plots", "widgets", "monitoring"},
    "examples": {"base", "device", "schema", "io", "models"},
    "cli": {
        "base",
        "device",
        "schema",
        "io",
        "data",
        "features",
        "models",
        "train",
        "capturing",
        "experiments",
        "monitoring",
        "analysis",
        "plots",
        "widgets",
        "examples",
        "review",
    },
    "root": {"base"},  # rnnscope/__init__.py: lazy attributes only
}
#: parts that never import torch (a run opened from disk is analysed and explored without it)
TORCH_FREE = {"base", "schema", "io", "data", "features", "analysis", "plots", "widgets", "review"}
BASE_MODULES = {"_version", "_validation", "_tasks", "_colors", "_overview", "errors"}
DEVICE_MODULES = {"_device", "_seed"}
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 120  # code lines after the docstring; longer ones say why in a "# long: ..." comment


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _part(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "root"
    head = parts[1]
    if head in BASE_MODULES:
        return "base"
    if head in DEVICE_MODULES:
        return "device"
    return head


def _imports(module: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported rnnscope module, line) for every import in the file, relative ones resolved."""
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "rnnscope"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "rnnscope":
                continue
            submodules = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            if submodules:
                out += [(s, node.lineno) for s in submodules]
            if len(submodules) < len(node.names):
                out.append((target, node.lineno))
    return out


def _graph():
    modules = _modules()
    known = set(modules)
    return {m: [(t, line) for t, line in _imports(m, p, known) if t != m] for m, p in modules.items()}, modules


def test_every_import_follows_the_pipeline():
    graph, modules = _graph()
    wrong = []
    for module, targets in graph.items():
        part = _part(module)
        assert part in ALLOWED, f"{module} belongs to no known part of the package ({part!r}); add it to ALLOWED"
        for target, line in targets:
            other = _part(target)
            if other != part and other not in ALLOWED[part]:
                wrong.append(f"{modules[module].relative_to(PACKAGE.parent)}:{line}: {part} imports {other} ({target})")
    assert not wrong, "imports against the one-way flow of DESIGN.md:\n" + "\n".join(wrong)


def test_no_import_circles():
    graph, modules = _graph()
    edges = {m: sorted({t for t, _ in targets if t in graph}) for m, targets in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in edges[node]:
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in edges:
        if node not in state:
            visit(node, [])
    assert not cycles, "import circles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_torch_free_parts_never_import_torch():
    modules = _modules()
    offenders = []
    for module, path in modules.items():
        if _part(module) not in TORCH_FREE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n.split(".")[0] == "torch" for n in names):
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not offenders, f"torch imported by a torch-free part: {offenders}"


def _function_lengths(path: Path):
    lines = path.read_text().splitlines()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        first = node.body[0]
        has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
            first.value.value, str)
        start = first.end_lineno + 1 if has_doc else node.body[0].lineno
        code = [ln for ln in lines[start - 1 : node.end_lineno] if ln.strip() and not ln.strip().startswith("#")]
        header = "\n".join(lines[max(0, node.lineno - 3) : start])
        yield node, len(code), "# long:" in header


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_and_functions_stay_small(path):
    n_lines = len(path.read_text().splitlines())
    assert n_lines <= MAX_MODULE_LINES, f"{path.name} has {n_lines} lines (at most {MAX_MODULE_LINES}): split it"
    long = [f"{node.name} ({n} lines)" for node, n, excused in _function_lengths(path)
            if n > MAX_FUNCTION_LINES and not excused]
    assert not long, (f"functions over {MAX_FUNCTION_LINES} code lines in {path.name}: {long}; split them or say "
                      "why next to the def ('# long: <reason>')")


def test_the_graph_sees_relative_and_function_level_imports():
    graph, _ = _graph()
    targets = {t for t, _ in graph["rnnscope.capturing._capture"]}
    assert "rnnscope.models._module_masks" in targets  # imported inside a function (_check_silence)
    assert "rnnscope.schema" in targets  # relative, module level
    assert (
        _part("rnnscope._validation") == "base"
        and _part("rnnscope._seed") == "device"
        and _part("rnnscope.monitoring._engine") == "monitoring"
    )


def test_public_entry_points_are_not_shadowed_by_packages():
    import rnnscope
    import rnnscope.capturing  # noqa: F401  (importing the packages must not replace the functions)
    import rnnscope.monitoring  # noqa: F401

    assert callable(rnnscope.capture) and callable(rnnscope.monitor)
    assert rnnscope.capture.__module__ == "rnnscope.capturing._capture"

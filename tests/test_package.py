"""Package-level contracts: torch stays out of the torch-free parts; the console script answers."""
import subprocess
import sys
from pathlib import Path

import pytest

TORCH_FREE = ["rnnscope", "rnnscope.data", "rnnscope.features", "rnnscope.schema", "rnnscope.plots", "rnnscope.io",
              "rnnscope.examples", "rnnscope.data._synthetic_archive", "rnnscope.features._streaming"]
OPTIONAL_TORCH_FREE = ["rnnscope.analysis", "rnnscope.widgets"]


def _imports_torch(module: str) -> bool:
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


@pytest.mark.parametrize("module", TORCH_FREE)
def test_torch_free_modules_do_not_import_torch(module):
    assert not _imports_torch(module)


@pytest.mark.parametrize("module", OPTIONAL_TORCH_FREE)
def test_exploration_modules_do_not_import_torch(module):
    import importlib.util

    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} does not exist yet")
    assert not _imports_torch(module)


def test_lazy_attributes_resolve_and_unknown_names_fail():
    import rnnscope

    assert rnnscope.features.compute
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = rnnscope.nope


RNNSCOPE = str(Path(sys.executable).with_name("rnnscope"))


def test_console_script_help_lists_demo():
    out = subprocess.run([RNNSCOPE, "--help"], capture_output=True, text=True, check=True)
    assert "demo" in out.stdout


@pytest.mark.slow
def test_demo_trains_captures_saves_and_draws(tmp_path):
    out = subprocess.run(
        [RNNSCOPE, "demo", "--out", str(tmp_path), "--records", "12", "--epochs", "2", "--hidden", "8",
         "--figures", "2", "--quiet"],
        capture_output=True, text=True, check=True,
    )
    assert "test frame accuracy" in out.stdout and "done in" in out.stdout
    pngs = sorted(tmp_path.glob("record_*.png"))
    assert len(pngs) == 2 and all(p.stat().st_size > 10_000 for p in pngs)
    assert (tmp_path / "catalog.csv").read_text().startswith("event,event_id,class_name")
    import rnnscope

    run = rnnscope.open_run(tmp_path / "run.zarr")
    assert {"h", "c", "input_gate", "prob", "pred", "summary_heat"} <= set(run.data_vars)
    model = rnnscope.models.load(tmp_path / "model.safetensors")
    assert model.class_names == run.attrs["class_names"]


def test_seed_everything_is_public_and_reproducible():
    import random

    import numpy as np
    import torch

    import rnnscope

    previous = torch.get_num_threads()
    try:
        rng = rnnscope.seed_everything(7, threads=1)
        draws = (random.random(), np.random.rand(), torch.rand(3), rng.random())
        assert torch.get_num_threads() == 1
        rng = rnnscope.seed_everything(7)
        again = (random.random(), np.random.rand(), torch.rand(3), rng.random())
    finally:
        torch.set_num_threads(previous)
    assert draws[0] == again[0] and draws[1] == again[1] and draws[3] == again[3]
    assert torch.equal(draws[2], again[2])
    for bad in (-1, 1.5, "0", True):
        with pytest.raises(ValueError, match="non-negative integer"):
            rnnscope.seed_everything(bad)
    with pytest.raises(ValueError, match="positive integer or None"):
        rnnscope.seed_everything(0, threads=0)


def test_every_public_error_and_warning_belongs_to_the_one_family():
    """Each exception class in any public ``__all__`` is an :mod:`rnnscope.errors` class of the family, and keeps
    the built-in base it always had (callers' ``except ValueError`` still work)."""
    import importlib
    import inspect

    import rnnscope
    from rnnscope import errors

    found = {}
    for name in rnnscope.__all__:
        if name in {"cli"}:
            continue
        module = importlib.import_module(f"rnnscope.{name}") if name in rnnscope._SUBMODULES else None
        for attr in getattr(module, "__all__", []) if module else []:
            obj = getattr(module, attr)
            if inspect.isclass(obj) and issubclass(obj, BaseException | Warning):
                found[f"rnnscope.{name}.{attr}"] = obj
    assert found, "no public exception classes found: the walk over __all__ is broken"
    strays = [k for k, cls in found.items() if not issubclass(cls, errors.RnnscopeError | errors.RnnscopeWarning)]
    assert not strays, f"public exception classes outside rnnscope.errors' family: {strays}"
    assert set(found.values()) <= {getattr(errors, n) for n in errors.__all__}
    builtins = {"SchemaError": ValueError, "RunFileError": OSError, "ModelFileError": ValueError,
                "UnsafeModelFileError": ValueError, "ClassMismatchError": ValueError,
                "DeviceUnavailableError": RuntimeError, "NativeBuildError": RuntimeError,
                "EmptyClassWarning": RuntimeWarning, "NumericalWarning": RuntimeWarning,
                "NativeFallbackWarning": RuntimeWarning, "InputWarning": UserWarning,
                "NoBackgroundWarning": UserWarning}
    for name, builtin in builtins.items():
        assert issubclass(getattr(errors, name), builtin), name


def test_every_warning_the_package_emits_is_one_of_the_family():
    """Every ``warnings.warn`` in the package names a category of rnnscope.errors (RnnscopeWarning or a subclass),
    so that ``warnings.simplefilter("ignore", rnnscope.errors.RnnscopeWarning)`` silences rnnscope alone."""
    import ast

    from rnnscope import errors

    family = {n for n in errors.__all__ if n.endswith("Warning")}
    package = Path(__file__).resolve().parent.parent / "rnnscope"
    strays, seen = [], 0
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("warnings.warn", "warn"):
                seen += 1
                category = node.args[1] if len(node.args) > 1 else next(
                    (k.value for k in node.keywords if k.arg == "category"), None)
                name = ast.unparse(category).split(".")[-1] if category is not None else "UserWarning"
                if name not in family and name != "category":  # a helper passing its caller's category on
                    strays.append(f"{path.relative_to(package)}:{node.lineno}: {name}")
    assert seen > 20, "the walk over the package found no warnings.warn"
    assert not strays, "warnings outside rnnscope.errors' family:\n" + "\n".join(strays)


def test_every_dataset_rnnscope_makes_carries_the_same_provenance():
    """One helper (rnnscope._version.provenance) builds the provenance attrs of records, features, runs of either
    capture path: rnnscope's version, the creation time, the versions (torch when it is loaded) and the seed."""
    import numpy as np
    import torch

    import rnnscope
    from rnnscope._version import provenance

    records = rnnscope.data.synthetic(n_records=2, seed=4)
    frames = rnnscope.features.compute(records)
    external = rnnscope.data.from_features([np.zeros((5, 3))], [np.zeros(5, int)], class_names=["A"])
    model = rnnscope.models.RNNClassifier("gru", input_size=48, hidden_size=3, num_classes=5)
    run = rnnscope.capture(model, frames, progress=False)
    any_run = rnnscope.capture(torch.nn.GRU(3, 2, batch_first=True), torch.zeros(1, 4, 3), progress=False)
    keys = set(provenance())
    for name, ds in {"records": records, "features": frames, "from_features": external, "run": run,
                     "any module": any_run}.items():
        assert keys <= set(ds.attrs), name
        assert ds.attrs["rnnscope_version"] == rnnscope.__version__ and ds.attrs["versions"]["torch"], name
    assert records.attrs["seed"] == 4 and run.attrs["seed"] == 4  # the data's seed, for an unfitted model


def test_the_core_works_without_the_optional_extras():
    """`pip install rnnscope` without extras: everything but the extras' features imports and runs (issue 26); the
    extras' packages are declared in pyproject.toml, and every package the code imports is declared somewhere."""
    import ast
    import sys
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = {d.split("[")[0].split(">")[0].split("=")[0].strip().lower().replace("-", "_")
                for d in project["dependencies"] + [d for e in project["optional-dependencies"].values() for d in e]}
    import_names = {"PIL": "pillow", "sklearn": "scikit_learn", "netCDF4": "netcdf4"}
    imported = set()
    for path in (root / "rnnscope").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            imported |= {n.split(".")[0] for n in names}
    third_party = {n for n in imported - set(sys.stdlib_module_names) if n != "rnnscope"}
    # voila runs jupyter_server and tornado; the review extra brings them
    undeclared = sorted(n for n in third_party if import_names.get(n, n).lower() not in declared
                        and n not in ("jupyter_server", "tornado"))
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    extras = project["optional-dependencies"]
    assert any(d.startswith("voila") for d in extras["review"]) and any(d.startswith("ipydatagrid") for d in
                                                                         extras["review"])
    assert not any(d.startswith(("voila", "ipydatagrid", "distributed", "obspy")) for d in project["dependencies"])
    code = ("import sys\n"
            "for name in ('voila', 'ipydatagrid', 'distributed', 'jupyter_server'): sys.modules[name] = None\n"
            "import rnnscope, rnnscope.widgets, rnnscope.review, rnnscope.cli\n"
            "from rnnscope.examples import toy_long_run\n"
            "ex = rnnscope.widgets.Explorer(toy_long_run(), width=400)\n"
            "print(ex.var)\n")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "h", out.stderr[-2000:]

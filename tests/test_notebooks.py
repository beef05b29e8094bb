"""The notebooks are text: each ``notebooks/NN_*.py`` (jupytext percent format) is the source, and the ``.ipynb``
beside it, which Binder, JupyterLab and nbval open, is built from it without outputs (``make notebooks``).

Why both are committed (rather than building the ``.ipynb`` in ``make test``): Binder's link opens
``notebooks/01_quickstart.ipynb`` straight from a clone, people browsing the repository or running ``pytest`` without
``make`` get the notebooks as notebooks, and the pair stays in sync because this test fails as soon as they differ.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

jupytext = pytest.importorskip("jupytext")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
FIX = "run `make notebooks` (builds each .ipynb from its .py source, without outputs) and commit both"


def test_every_notebook_has_a_source_and_every_source_a_notebook():
    built = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert len(SOURCES) == 7
    assert [p.stem for p in SOURCES] == built, f"notebooks/ holds unpaired files; {FIX}"
    assert not list(NOTEBOOKS.glob("_*.py")), "notebooks are written in their .py source, not by a generator script"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_ipynb_is_its_source_built_without_outputs(source):
    text = jupytext.read(source)
    nb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent", f"{source.name}: not paired; {FIX}"
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in text.cells], (
        f"{source.with_suffix('.ipynb').name} differs from its source {source.name}; {FIX}")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"cell {i} of {source.with_suffix('.ipynb').name} carries outputs; {FIX}")
    assert "widgets" not in nb.metadata, f"{source.with_suffix('.ipynb').name} carries saved widget state; {FIX}"


def _pinned_helper():
    """The ``pinned`` check of notebook 05, taken from its source (the cell that defines it)."""
    nb = jupytext.read(NOTEBOOKS / "05_regression_tests.py")
    cell = next(c.source for c in nb.cells if "def pinned(" in c.source)
    definition = cell[cell.index("@contextlib.contextmanager"):]
    namespace: dict = {}
    exec("import contextlib, difflib, io\n" + definition, namespace)  # noqa: S102 (the notebook's own code)
    return namespace["pinned"]


def test_notebook_05_checks_fail_when_a_pinned_number_moves(capsys):
    """With outputs stripped, nbval has no stored output to compare: 05's checks compare with the text pinned in
    its source, so they fail without any stored output."""
    pinned = _pinned_helper()
    with pinned("\nfeature mean / std: 3.581 5.136\n"):
        print("feature mean / std: 3.581 5.136   ")  # trailing spaces (pandas tables) do not count
    assert capsys.readouterr().out == "feature mean / std: 3.581 5.136   \n"  # the reader still sees the numbers
    with pytest.raises(
        AssertionError, match=r"(?s)pinned numbers moved.*-frame accuracy 0.702.*\+frame accuracy 0.703"
    ):
        with pinned("frame accuracy 0.702"):
            print("frame accuracy 0.703")
    with pytest.raises(AssertionError):
        with pinned("a\nb"):
            print("a")  # a missing line fails too


def test_notebook_05_pins_its_numbers_in_its_source():
    nb = jupytext.read(NOTEBOOKS / "05_regression_tests.py")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    checks = [c for c in code if c.startswith('with pinned("""')]
    assert len(checks) == 8
    # an output check (`# NBVAL_CHECK_OUTPUT`) compares with stored outputs, and the committed notebook has none
    assert not any("NBVAL_CHECK_OUTPUT" in c for c in code)
    assert "frame accuracy 0.702 | macro F1 0.607" in "".join(checks)


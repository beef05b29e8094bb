"""The docs build's numpydoc checks (docs/_ext/docstring_checks.py) and their list of objects that do not pass yet."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
pytest.importorskip("numpydoc")
pytest.importorskip("sphinx")

import docstring_checks as dc  # noqa: E402
from public_api import checked_objects  # noqa: E402


def fake_failures(table):
    return lambda name, checks: {code: f"{code} message" for code in table.get(name, ()) if code in checks}


def test_a_new_failure_fails_and_a_listed_one_does_not():
    fails = fake_failures({"pkg.f": ["PR01", "EX01"], "pkg.g": ["RT01"]})
    out = dc.problems(["pkg.f", "pkg.g"], {"pkg.f": {"PR01"}}, set(dc.CHECKS), "list.txt", failures=fails)
    assert out == [
        "pkg.f: numpydoc EX01: EX01 message (every public object needs an Examples section; write it in the docstring)",
        "pkg.g: numpydoc RT01: RT01 message (every public object needs a Returns section (for a function that returns "
        "something); write it in the docstring)"]


def test_the_list_only_shrinks():
    fails = fake_failures({"pkg.f": ["PR01"]})
    out = dc.problems(["pkg.f"], {"pkg.f": {"PR01", "EX01"}, "pkg.gone": {"EX01"}}, set(dc.CHECKS), "list.txt",
                      failures=fails)
    assert out == ["pkg.f now passes EX01: delete it from its line in list.txt",
                   "list.txt lists pkg.gone, which is not a public function or class of any public __all__: "
                   "delete its line"]


def test_a_malformed_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "pending.txt"
    path.write_text("# comment\npkg.f PR01\npkg.g XX99\n")
    with pytest.raises(ValueError, match=r"pending.txt:3: expected '<qualified name> <check>.*got 'pkg.g XX99'"):
        dc.read_pending(path)


def test_the_package_passes_with_the_committed_list():
    """What the docs build checks, on the package as it is: the committed list is exact."""
    pending = dc.read_pending(DOCS / "docstring_checks_pending.txt")
    names = list(checked_objects())
    assert len(names) > 100
    assert dc.problems(names, pending, set(dc.CHECKS), "docs/docstring_checks_pending.txt") == []

"""numpydoc's validation of every public function and class, in the build, with a committed list of known failures.

Every object of every public ``__all__`` (:func:`public_api.checked_objects`) is validated with
:func:`numpydoc.validate.validate`; the build warns (an error under ``-W``) for each failure of a check in
``docstring_checks`` that ``docs/docstring_checks_pending.txt`` does not list. That file names, one object a line,
the checks each object does not pass yet::

    rnnscope.analysis.top_units PR01
    rnnscope.data.catalog PR01 RT01

It only shrinks: an object that fails a check it does not list fails the build (a new object, or a docstring that
lost a section), and so does a listed check that now passes (delete it from the line, and the line when it is
empty), so the file is always the exact list of what is left to write.
"""
from __future__ import annotations

from pathlib import Path

from public_api import checked_objects
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: what each check asks for (numpydoc's codes)
CHECKS = {
    "GL08": "a docstring",
    "PR01": "every parameter in the Parameters section",
    "PR02": "no documented parameter that the signature lacks",
    "RT01": "a Returns section (for a function that returns something)",
    "YD01": "a Yields section (for a generator)",
    "EX01": "an Examples section",
}


def read_pending(path: Path) -> dict[str, set[str]]:
    pending: dict[str, set[str]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, *codes = line.split()
        unknown = set(codes) - set(CHECKS)
        if not codes or unknown:
            raise ValueError(f"{path}:{number}: expected '<qualified name> <check> [<check> ...]' with checks among "
                             f"{', '.join(sorted(CHECKS))}; got {line!r}")
        pending[name] = set(codes)
    return pending


def failures(name: str, checks: set[str]) -> dict[str, str]:
    """``{code: numpydoc's message}`` of the checks ``name`` fails."""
    from numpydoc.validate import validate

    return {code: message for code, message in validate(name)["errors"] if code in checks}


def problems(names, pending: dict[str, set[str]], checks: set[str], pending_file: str = "the pending list",
             failures=failures) -> list[str]:
    """What the build reports: each failure of ``names`` not listed in ``pending``, each listed check that passes,
    each listed name that is not checked."""
    out = []
    for name in names:
        failed = failures(name, checks)
        excused = pending.get(name, set())
        for code in sorted(set(failed) - excused):
            out.append(f"{name}: numpydoc {code}: {failed[code]} (every public object needs {CHECKS[code]}; "
                       "write it in the docstring)")
        passed = sorted(excused - set(failed))
        if passed:
            out.append(f"{name} now passes {' '.join(passed)}: delete {'it' if len(passed) == 1 else 'them'} from "
                       f"its line in {pending_file}")
    for name in sorted(set(pending) - set(names)):
        out.append(f"{pending_file} lists {name}, which is not a public function or class of any public __all__: "
                   "delete its line")
    return out


def check_docstrings(app) -> None:
    path = Path(app.srcdir) / app.config.docstring_checks_pending
    names = list(checked_objects(app.config.api_package))
    relpath = str(path.relative_to(Path(app.srcdir).parent))
    for problem in problems(names, read_pending(path), set(app.config.docstring_checks), relpath):
        logger.warning(problem, type="docstring_checks")


def setup(app):
    app.setup_extension("api_pages")  # the api_package setting
    app.add_config_value("docstring_checks", sorted(CHECKS), "env")
    app.add_config_value("docstring_checks_pending", "docstring_checks_pending.txt", "env")
    app.connect("builder-inited", check_docstrings)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

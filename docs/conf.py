"""Sphinx configuration of rnnscope's documentation site: ``make docs`` builds it into docs/_build/html.

- API reference: one page per public module and per object of its ``__all__`` (``_ext/api_pages.py`` writes the
  module pages, autosummary the object pages), docstrings in numpydoc, checked by numpydoc's validation
  (``_ext/docstring_checks.py``, with the committed list ``docstring_checks_pending.txt``);
- user guide: the Markdown pages of docs/ (MyST);
- gallery: the notebooks (``gallery/*.ipynb`` link to ``notebooks/``), executed during the build by myst-nb, with their
  figures and their widgets drawn from saved state by JavaScript served from the site itself
  (``_ext/offline_widgets.py``);
- intersphinx through the inventories in ``_inventories/`` (made by ``_inventories/make_inventories.py``): nothing
  is fetched at build time, and a name without an inventory entry stays plain text.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

from notebook_runs import package_hash  # noqa: E402
from offline_widgets import NB_IPYWIDGETS_JS  # noqa: E402

import rnnscope  # noqa: E402

project = "rnnscope"
author = "rnnscope developers"
copyright = "rnnscope developers"  # noqa: A001
release = rnnscope.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "api_pages",
    "docstring_checks",
    "offline_widgets",
    "notebook_runs",
]

root_doc = "index"
exclude_patterns = ["_build", "_vendor", "_inventories", "**/.ipynb_checkpoints", "docstring_checks_pending.txt"]
templates_path = ["_templates"]
html_static_path = ["_static"]
html_css_files = ["rnnscope.css"]

# ------------------------------------------------------------------------------------------------ theme
html_theme = "pydata_sphinx_theme"
html_title = f"rnnscope {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
html_last_updated_fmt = None

# ------------------------------------------------------------------------------------------------ API
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # numpydoc's Parameters carry the types; signatures stay readable
autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = True  # "run : xarray.Dataset" links to xarray's page (through the inventories)
numpydoc_xref_aliases = {
    "Dataset": "xarray.Dataset", "DataArray": "xarray.DataArray", "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series", "ndarray": "numpy.ndarray", "Module": "torch.nn.Module", "Stream": "obspy.Stream",
    "Trace": "obspy.Trace", "UTCDateTime": "obspy.UTCDateTime", "Inventory": "obspy.Inventory",
}
numpydoc_xref_ignore = {"of", "or", "and", "optional", "default", "shape", "like", "any", "the", "a", "an", "with",
                        "each", "per", "one", "in", "to", "from", "for", "by", "same", "as", "on", "none"}
docstring_checks_pending = "docstring_checks_pending.txt"

# ------------------------------------------------------------------------------------------------ intersphinx
#: every inventory is a file in the repository: nothing is downloaded at build time (intersphinx_timeout is moot)
_INVENTORIES = HERE / "_inventories"
intersphinx_mapping = {
    name: (url, str(_INVENTORIES / f"{name}.inv"))
    for name, url in {
        "python": "https://docs.python.org/3/",
        "numpy": "https://numpy.org/doc/stable/",
        "pandas": "https://pandas.pydata.org/docs/",
        "xarray": "https://docs.xarray.dev/en/stable/",
        "torch": "https://docs.pytorch.org/docs/stable/",
        "obspy": "https://docs.obspy.org/",
        "seisbench": "https://seisbench.readthedocs.io/en/stable/",
    }.items()
}

# ------------------------------------------------------------------------------------------------ pages, notebooks
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
# every notebook runs in the build, side by side (_ext/notebook_runs.py), and again when it or the package changes
nb_execution_mode = "cache"
notebook_runs_package_hash = package_hash(Path(rnnscope.__file__).parent)
nb_execution_timeout = 1200
nb_execution_raise_on_error = True  # a failing notebook fails the build
nb_execution_show_tb = True
nb_execution_in_temp = True  # files a notebook writes (the quickstart's run) stay out of the repository
nb_merge_streams = True
nb_ipywidgets_js = NB_IPYWIDGETS_JS
nb_execution_excludepatterns: list[str] = []


def _notebook_tempdir(app) -> None:
    """Notebooks run in a temporary folder under the build folder: files they write stay out of the sources, and
    notebooks 02 and 03 still find the repository's docs/results/ among its parents."""
    folder = Path(app.doctreedir).parent / "notebook-runs"
    folder.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(folder)


def setup(app):
    app.connect("builder-inited", _notebook_tempdir)

"""Static widgets served by the site itself: the JavaScript that draws saved widget state, without a CDN.

A notebook page executed by myst-nb carries its widgets' saved state; the browser draws it with the Jupyter widgets'
HTML manager (``embed-amd.js``, an AMD bundle that also defines ``@jupyter-widgets/base`` and ``controls``), which
loads every other widget module (bqplot, bqscales, ipydatagrid, anywidget) through RequireJS and falls back to a CDN
for a module RequireJS cannot find. Here every one of them is copied into ``_static/widgets/`` of the built site:

- RequireJS from Voila's static files and each widget module from the ``nbextensions`` folder its Python package
  installs (AMD builds defining the module against ``@jupyter-widgets/base``), found on Jupyter's data path;
- the HTML manager from ``docs/_vendor/html-manager`` (``make docs-deps`` fetches it once from the npm registry:
  no Python package ships it);
- ``widgets-config.js``, written here, runs before the manager: it maps each module name to its copy on this site
  (RequireJS ``paths``, relative to the script itself, so it works from any page depth and from ``file://``) and
  points the manager's CDN fallback at a folder of this site, so an unknown module fails locally instead of being
  fetched from elsewhere.

Nothing is downloaded at build time; a missing file stops the build with the command that provides it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from sphinx.errors import ConfigError

#: AMD widget modules the notebooks' widgets use: module name -> folder under Jupyter's nbextensions
WIDGET_MODULES = {"bqplot": "bqplot", "bqscales": "bqscales", "ipydatagrid": "ipydatagrid", "anywidget": "anywidget"}
TARGET = "widgets"  # under _static/

CONFIG_JS = """\
// Written by docs/_ext/offline_widgets.py: widget modules load from this site, never from a CDN.
(function () {
  var script = document.currentScript;
  var here = script.src.replace(/[^/]*$/, "");
  var modules = %(modules)s;
  var paths = {};
  Object.keys(modules).forEach(function (name) { paths[name] = here + modules[name]; });
  window.__jupyter_widgets_assets_path__ = here + "html-manager/";
  require.config({ paths: paths });
  // the HTML manager reads this attribute when it loads: its fallback for unknown modules stays on this site
  script.setAttribute("data-jupyter-widgets-cdn", here + "no-cdn/");
})();
"""


def _find_nbextension(folder: str) -> Path:
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path("nbextensions"):
        candidate = Path(root) / folder / "index.js"
        if candidate.is_file():
            return candidate.parent
    raise ConfigError(f"docs: the widget module {folder!r} is not installed (no nbextensions/{folder}/index.js on "
                      f"Jupyter's data path {jupyter_path('nbextensions')}); install rnnscope's dev extras: make venv")


def _find_requirejs() -> Path:
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path("voila"):
        candidate = Path(root) / "templates" / "base" / "static" / "require.min.js"
        if candidate.is_file():
            return candidate
    raise ConfigError("docs: RequireJS not found (Voila's templates/base/static/require.min.js); make venv")


def _html_manager(app) -> Path:
    dist = Path(app.srcdir) / app.config.offline_widgets_html_manager / "dist"
    if not (dist / "embed-amd.js").is_file():
        raise ConfigError(f"docs: {dist / 'embed-amd.js'} is missing: run `make docs-deps` once (fetches "
                          "@jupyter-widgets/html-manager from the npm registry)")
    return dist


def check_assets(app) -> None:
    """Fail early, before any notebook runs, when an asset is missing."""
    _html_manager(app)
    _find_requirejs()
    for folder in WIDGET_MODULES.values():
        _find_nbextension(folder)


def copy_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir) / "_static" / TARGET
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy2(_find_requirejs(), out / "require.min.js")
    manager = out / "html-manager"
    shutil.rmtree(manager, ignore_errors=True)
    shutil.copytree(_html_manager(app), manager, ignore=shutil.ignore_patterns("*.map", "embed.js", "libembed*"))
    for name, folder in WIDGET_MODULES.items():
        source = _find_nbextension(folder)
        shutil.rmtree(out / name, ignore_errors=True)
        shutil.copytree(source, out / name, ignore=shutil.ignore_patterns("*.map", "extension.js"))
    modules = {name: f"{name}/index" for name in WIDGET_MODULES}
    (out / "widgets-config.js").write_text(CONFIG_JS % {"modules": json.dumps(modules)})


#: what myst-nb loads on a page with saved widget state, in this order (paths under _static/)
NB_IPYWIDGETS_JS = {
    f"{TARGET}/require.min.js": {},
    f"{TARGET}/widgets-config.js": {},
    f"{TARGET}/html-manager/embed-amd.js": {},
}


def setup(app):
    app.add_config_value("offline_widgets_html_manager", "_vendor/html-manager", "env")
    app.connect("builder-inited", check_assets)
    app.connect("build-finished", copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

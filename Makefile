# Two commands for a fresh machine with only Python and make:
#   make demo   -> synthetic data -> figures (and, as the package grows, train -> capture -> run)
#   make test   -> lint and types (make lint), the documentation site (make docs), then the whole test suite
# Both create .venv when it is missing and reinstall only when pyproject.toml changed.

PYTHON ?= python3
VENV ?= .venv
# A plain `torch` requirement pulls a multi-GB CUDA build on Linux: install the CPU build first.
# Elsewhere: make TORCH_SPEC=torch TORCH_INDEX=--index-url=https://download.pytorch.org/whl/cpu
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PY := $(VENV)/bin/python
STAMP := $(VENV)/.rnnscope-installed
DEMO_OUT ?= rnnscope-demo
PYTEST_ARGS ?=
# The static widgets of the documentation site need the Jupyter widgets' HTML manager, which no Python package
# ships: `make docs-deps` fetches it once from the npm registry (npm keeps a copy in its cache) into docs/_vendor/.
# bqplot, bqscales, ipydatagrid and anywidget come from the installed Python packages. The build downloads nothing.
HTML_MANAGER ?= 1.0.15
HTML_MANAGER_DIR := docs/_vendor/html-manager
HTML_MANAGER_STAMP := $(HTML_MANAGER_DIR)/.version-$(HTML_MANAGER)
SPHINX_ARGS ?= -j 2

.PHONY: demo test test-fast lint venv native notebooks docs docs-deps clean

venv: $(STAMP)

# The README's images (docs/images: explorer.png, review.png, classheatmap.png, histograms.png), on purpose only:
# the browser tests write their screenshots to their temporary folders, here to docs/images. Needs /usr/bin/chromium
# (never `playwright install`).
.PHONY: screenshots
screenshots: native
	RNNSCOPE_SCREENSHOTS=$(CURDIR)/docs/images RNNSCOPE_REQUIRE_BROWSER=1 $(PY) -m pytest tests/browser -q \
		-p no:cacheprovider -k "jupyterlab or voila or chromium" $(PYTEST_ARGS)

# rnnscope's C++ capture kernels: compiled once into ~/.cache/rnnscope/native (about 15 s), loaded from there
# afterwards. Without a C++ compiler capture falls back to the fused forward + vectorised recovery (slower, same
# results); rnnscope.models.native_status() says why.
native: $(STAMP)
	@$(PY) -c "from rnnscope.models import build_native; build_native()" \
		|| echo "rnnscope: native capture kernels not built (reason above); capture falls back to the fused forward + vectorised recovery, about 2x slower"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: native
	$(VENV)/bin/rnnscope demo --out $(DEMO_OUT)

# The notebooks' sources are notebooks/NN_*.py (jupytext percent format); this builds each .ipynb beside them
# (Binder, JupyterLab and nbval open those) without outputs, keeping the cell ids. The documentation site shows them
# executed, with their figures and widgets (make docs). tests/test_notebooks.py fails while a pair differs.
notebooks: venv
	$(VENV)/bin/jupytext --quiet --update --to ipynb notebooks/[0-9][0-9]_*.py
	$(VENV)/bin/jupyter nbconvert --log-level=WARN --clear-output --inplace notebooks/[0-9][0-9]_*.ipynb

docs-deps: venv $(HTML_MANAGER_STAMP)

$(HTML_MANAGER_STAMP):
	@command -v npm >/dev/null || { echo "make docs-deps: npm is needed once, to fetch @jupyter-widgets/html-manager@$(HTML_MANAGER) (apt-get install -y npm)"; exit 1; }
	rm -rf $(HTML_MANAGER_DIR) && mkdir -p $(HTML_MANAGER_DIR)
	cd $(HTML_MANAGER_DIR) && npm pack --silent --prefer-offline @jupyter-widgets/html-manager@$(HTML_MANAGER) >/dev/null \
		&& tar xzf jupyter-widgets-html-manager-$(HTML_MANAGER).tgz --strip-components=1 \
		&& rm jupyter-widgets-html-manager-$(HTML_MANAGER).tgz
	@touch $@

# The documentation site in docs/_build/html, warnings as errors, every notebook executed (see docs/conf.py).
docs: native docs-deps
	$(PY) -m sphinx -W --keep-going $(SPHINX_ARGS) -b html -d docs/_build/doctrees docs docs/_build/html

# Lint and import order (ruff, over the whole repository: rnnscope, tests, benchmarks, the notebooks' sources,
# docs/_ext; settings in pyproject.toml) and the package's types (mypy). make test runs it first, so CI fails on a
# lint or type error before the tests start. The same checks run before each commit after `pre-commit install`.
lint: venv
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy rnnscope

# The browser test (tests/browser/test_docs_browser.py) checks the site this built instead of building another.
test: native lint docs
	RNNSCOPE_DOCS_HTML=$(CURDIR)/docs/_build/html $(PY) -m pytest $(PYTEST_ARGS)

# The unit tests only: no notebooks, no browser, nothing marked slow (what to run while working), with PyTorch on
# one thread (the tests' models are tiny; on a busy machine a second thread makes every small operation wait) in
# one pytest-xdist worker per core (xdist's work stealing: an idle worker takes tests queued for a busy one).
# TEST_FAST_WORKERS=0 runs them in this process (e.g. to use a debugger).
TEST_FAST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
test-fast: native
	RNNSCOPE_TEST_TORCH_THREADS=1 $(PY) -m pytest tests rnnscope -m "not slow and not browser" \
		$(if $(filter 0,$(TEST_FAST_WORKERS)),,-n $(TEST_FAST_WORKERS) --dist worksteal) $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache docs/_build docs/_vendor docs/api/generated

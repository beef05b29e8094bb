# Two commands for a fresh machine with only Python and make:
#   make demo   -> synthetic data -> figures (and, as the package grows, train -> capture -> run)
#   make test   -> the whole test suite
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

.PHONY: demo test venv native notebooks clean

venv: $(STAMP)

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

# Execute the notebooks in place, saving the widgets' state with them: JupyterLab, nbviewer and HTML exports then
# show the Explorer and the other widgets as they were, without a kernel.
notebooks: native
	cd notebooks && for nb in 0*.ipynb; do \
		../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.store_widget_state=True --ExecutePreprocessor.timeout=1200 "$$nb" || exit 1; \
	done

test: native
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache

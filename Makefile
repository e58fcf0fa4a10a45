# initcourse: the Makefile is the project's vocabulary. `make help` lists it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.initcourse-installed
PORT ?= 8888
DEMO_PORT ?= 8866

# JAX runs on the CPU here: no accelerator probing, no "GPU not found" noise.
export JAX_PLATFORMS := cpu
export PYTHONHASHSEED := 0

# A recipe that fails leaves no half-made target behind (so the next run starts over).
.DELETE_ON_ERROR:

.PHONY: help install lab demo test test-fast test-notebooks test-browser lint bench notebooks grade autograder site clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "initcourse needs Python >= 3.11; PYTHON=$(PYTHON) is " + sys.version.split()[0])'
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "initcourse: $(PYTHON) cannot create virtual environments; on Debian or Ubuntu: sudo apt install python3-venv" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(STAMP): $(BIN)/python pyproject.toml constraints.txt tools/ipython_kernel_config.py
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	mkdir -p $(VENV)/etc/ipython
	cp tools/ipython_kernel_config.py $(VENV)/etc/ipython/ipython_kernel_config.py
	@touch $@

install: $(STAMP)  ## Create .venv (if missing) and install the pinned course environment

# axe-core (the browser tests' accessibility audit) and MathJax (the static site's math), pinned
# in package.json and package-lock.json.
NODE_STAMP := node_modules/.initcourse-installed
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "initcourse: the browser tests and make site need npm (Node 20); on Debian or Ubuntu: apt install npm" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Jupyter refuses to run as root unless told; containers often run as root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install  ## Open JupyterLab on notebooks/ (127.0.0.1, token authentication on)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks --ip=127.0.0.1 --port=$(PORT) $(ALLOW_ROOT)

demo: install  ## Serve the explorers as a code-free page for class (Voilà, 127.0.0.1, token on; DEMO_PORT=8866)
	$(BIN)/python tools/demo.py --port=$(DEMO_PORT)

test: install $(NODE_STAMP)  ## Run the whole suite: unit tests, nbval on every notebook, browser tests
	$(BIN)/python -m pytest

test-fast: install  ## Unit tests only (no notebooks, no browser, no slow tests)
	$(BIN)/python -m pytest tests -m "not browser and not slow"

test-notebooks: install  ## nbval on every notebook
	$(BIN)/python -m pytest notebooks

test-browser: install $(NODE_STAMP)  ## JupyterLab + Chromium tests only (and the static site)
	$(BIN)/python -m pytest tests -m browser

lint: install  ## ruff on the package, tests, benchmarks and notebooks
	$(BIN)/ruff check initcourse tests benchmarks notebooks tools

bench: install  ## Run the benchmarks: they print their figures, written to benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run.py

notebooks: install  ## Re-execute every notebook top to bottom and store its outputs
	$(BIN)/python tools/execute_notebooks.py notebooks/[0-9][0-9]_*.ipynb

grade: install  ## Grade submitted notebooks in a sandbox: make grade SUBMISSIONS=folder/ [OUT=report.csv] [POINTS=1=10,2=10,3=10] [FEEDBACK=dir/] [ROSTER=roster.csv GRADEBOOK=gradebook.csv] [JOBS=4] [SEED=n] [GRADE_ARGS=...]
	@test -n "$(SUBMISSIONS)" || { echo "make grade: say which notebooks, e.g. make grade SUBMISSIONS=submissions/ OUT=grades.csv" >&2; exit 2; }
	$(BIN)/python -m initcourse grade $(SUBMISSIONS) $(if $(OUT),--out $(OUT)) $(if $(JOBS),--jobs $(JOBS)) $(if $(SEED),--seed $(SEED)) $(if $(POINTS),--points $(POINTS)) $(if $(FEEDBACK),--feedback $(FEEDBACK)) $(if $(ROSTER),--roster $(ROSTER)) $(if $(GRADEBOOK),--gradebook $(GRADEBOOK)) $(GRADE_ARGS)

autograder: install  ## The Gradescope autograder zip: make autograder [OUT=autograder.zip] [POINTS=1=10,2=10,3=10] [EXERCISES=1,2,3]
	$(BIN)/python -m initcourse autograder --out $(or $(OUT),autograder.zip) $(if $(POINTS),--points $(POINTS)) $(if $(EXERCISES),--exercises $(EXERCISES))

site: install $(NODE_STAMP)  ## The course as static HTML in _build/site/, from the stored outputs (no re-execution)
	$(BIN)/python tools/build_site.py --out _build/site

clean:  ## Remove caches and test artifacts (keeps .venv)
	rm -rf .pytest_cache .ruff_cache .hypothesis test-artifacts build _build *.egg-info

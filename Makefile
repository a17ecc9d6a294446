# Course tooling. `make help` lists the targets. Every install uses the exact pins of
# constraints.txt; a stamp named after the hash of pyproject.toml + constraints.txt makes re-runs
# skip the install until one of them changes.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
HASH := $(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
# Run with the venv first on PATH, so kernels and subprocesses use it too.
RUN := env PATH="$(CURDIR)/$(VENV)/bin:$$PATH"
# This machine's pip config names local indexes that do not all exist: drop that noise.
PIP_FILTER := { grep -v "is ignored: it is neither a file nor a directory" || true; }

# Notebook runs: offline, quiet, deterministic (tests/conftest.py sets the same for pytest).
NB_ENV := COURSE_STATIC_WIDGETS=1 TQDM_DISABLE=1 TRANSFORMERS_VERBOSITY=error HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
	MPLBACKEND=module://matplotlib_inline.backend_inline PYTHONHASHSEED=0
NB_DIRS := $(wildcard notebooks solutions exercises)
CELL_TIMEOUT ?= 300
PYTEST_ARGS ?=
LAB_ARGS ?=
BENCH_ARGS ?=
# The course site (make site): lessons executed once, cached by jupyter-cache until their code changes.
SITE_DIR ?= build/site
SITE_CACHE ?= build/site-cache

CHROMIUM := $(shell command -v chromium || command -v chromium-browser || true)
ifeq ($(CHROMIUM),)
BROWSER_SELECT := -m "not browser"
else
BROWSER_SELECT :=
endif

ifeq ($(shell id -u),0)
ROOT_FLAG := --allow-root
endif

# The headless widget tests run a second time under ipywidgets 7.7.1, the version Colab ships,
# in their own small venv (course_lib and pytest only, the same pins otherwise).
VENV77 ?= .venv-ipyw77
PY77 := $(VENV77)/bin/python
IPYWIDGETS77 := ipywidgets==7.7.1 widgetsnbextension==3.6.10 jupyterlab_widgets==1.1.11
WIDGET_TESTS := $(wildcard tests/test_widgets_*.py tests/test_training_monitor.py \
	tests/test_preference_collector.py tests/test_colab.py)

.PHONY: help venv lab test test-widgets-77 notebooks exercises bench site site-check constraints clean \
	distclean

help:
	@echo "make lab         install .[lab] into $(VENV) and start JupyterLab on notebooks/ (LAB_ARGS=...)"
	@echo "make test        ruff, repository checks and unit tests, then run every notebook (nbval)"
	@echo "make test-widgets-77  the widget unit tests under ipywidgets 7.7.1 (Colab's), in $(VENV77)"
	@echo "make notebooks   Colab badges + set-up cells from pyproject.toml's Repository, then each .ipynb from its .py"
	@echo "make exercises   regenerate exercises/ from solutions/, then sync notebooks"
	@echo "make bench       time every notebook and its kernel's peak memory (BENCH_ARGS=--only 05)"
	@echo "make site        the course site in $(SITE_DIR): executed lessons, exercises, essay, instructor pages"
	@echo "make site-check  open every page of the built site in headless Chromium: figures load, no broken links"
	@echo "make constraints re-pin constraints.txt from the current $(VENV)"
	@echo "make clean       remove caches and results;  make distclean also removes $(VENV)"

$(PY):
	python3 -m venv $(VENV)

$(VENV)/.installed-dev-$(HASH): | $(PY)
	@echo "== installing .[dev] into $(VENV) (pinned by constraints.txt)"
	rm -f $(VENV)/.installed-*
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]' 2>&1 | $(PIP_FILTER)
	touch $@ $(VENV)/.installed-lab-$(HASH)

$(VENV)/.installed-lab-$(HASH): | $(PY)
	@echo "== installing .[lab] into $(VENV) (pinned by constraints.txt)"
	rm -f $(VENV)/.installed-lab-*
	$(PY) -m pip install -q -c constraints.txt -e '.[lab]' 2>&1 | $(PIP_FILTER)
	touch $@

venv: $(VENV)/.installed-dev-$(HASH)

lab: $(VENV)/.installed-lab-$(HASH)
	$(RUN) jupyter lab $(ROOT_FLAG) --ServerApp.root_dir="$(CURDIR)" \
		--LabApp.default_url=/lab/tree/notebooks $(LAB_ARGS)

test: $(VENV)/.installed-dev-$(HASH)
	@echo "== ruff"
	$(RUN) ruff check .
	@echo "== repository checks and unit tests"
	@if [ -z "$(CHROMIUM)" ]; then echo "SKIPPED browser tests: chromium not found"; fi
	$(RUN) CHROMIUM_PATH="$(CHROMIUM)" python -m pytest $(BROWSER_SELECT) $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory test-widgets-77
	@echo "== notebooks (one kernel per notebook, each code cell is a test; lessons that pass are kept for make site)"
	$(RUN) $(NB_ENV) COURSE_SITE_CACHE="$(abspath $(SITE_CACHE))" python -m pytest -p tests.conftest \
		-p tests.nbval_site_cache --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(CELL_TIMEOUT) $(PYTEST_ARGS) $(NB_DIRS)

$(VENV77)/.installed-$(HASH):
	@echo "== installing course_lib with ipywidgets 7.7.1 into $(VENV77)"
	rm -rf $(VENV77)
	python3 -m venv $(VENV77)
	grep -v -i -E '^(ipywidgets|jupyterlab_widgets|widgetsnbextension)==' constraints.txt \
		> $(VENV77)/constraints.txt
	$(PY77) -m pip install -q -c $(VENV77)/constraints.txt -e . pytest packaging \
		$(IPYWIDGETS77) 2>&1 | $(PIP_FILTER)
	touch $@

test-widgets-77: $(VENV77)/.installed-$(HASH)
	@echo "== widget unit tests under ipywidgets 7.7.1 (Colab's version)"
	env PATH="$(CURDIR)/$(VENV77)/bin:$$PATH" COURSE_EXPECT_IPYWIDGETS=7.7.1 \
		$(PY77) -m pytest -p no:cacheprovider -W ignore::DeprecationWarning $(PYTEST_ARGS) \
		$(WIDGET_TESTS)

notebooks: $(VENV)/.installed-lab-$(HASH)
	$(RUN) python tools/sync_notebooks.py

exercises: $(VENV)/.installed-lab-$(HASH)
	$(RUN) python tools/make_exercises.py
	$(RUN) python tools/sync_notebooks.py

bench: $(VENV)/.installed-dev-$(HASH)
	$(RUN) $(NB_ENV) python benchmarks/course_timing.py $(BENCH_ARGS)

site: $(VENV)/.installed-dev-$(HASH)
	@echo "== course site: every lesson executed (one kernel each, in order; cached in $(SITE_CACHE)) into $(SITE_DIR)"
	$(RUN) $(NB_ENV) COURSE_SITE_CACHE="$(abspath $(SITE_CACHE))" python tools/build_site.py --out $(SITE_DIR)

site-check: $(VENV)/.installed-dev-$(HASH)
	@echo "== the built site in headless Chromium: every lesson's figures load, no broken internal link"
	$(RUN) CHROMIUM_PATH="$(CHROMIUM)" COURSE_SITE_CHECK=1 COURSE_SITE_DIR="$(abspath $(SITE_DIR))" \
		python -m pytest -p no:cacheprovider -m site $(PYTEST_ARGS) tests/site

constraints: | $(PY)
	{ echo "# Exact versions CI tested (pip freeze of .venv, course_lib excluded). Regenerate: make constraints"; \
	  echo "# torch is pinned without its local label (+cpu) so the pin matches both the CPU wheel (+cpu) and PyPI's build."; \
	  $(PY) -m pip freeze --exclude-editable 2>/dev/null | grep -vi '^course[-_]lib' \
	    | sed -E 's/^(torch==[0-9.]+)\+.*/\1/'; } > constraints.txt
	@echo "wrote constraints.txt; update environment.yml pins if a key package moved (make test checks)"

clean:
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \
		-o -name '*.egg-info' \) -type d -print0 | xargs -0 rm -rf
	rm -rf .pytest_cache .ruff_cache tests/artifacts benchmarks/results build/site build/site-src \
		$(SITE_CACHE)

distclean: clean
	rm -rf $(VENV) $(VENV77)

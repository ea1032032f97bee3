# makemore-notes: every target sets up its own project-local virtual environment (.venv)
# first, and is safe to re-run.
#
#   make serve     the main job: build the book in preview mode and serve it on localhost:8000
#   make test      the whole test suite (quick mode)
#   make chapters  run every chapter as a plain script (quick mode: QUICK=0 for full);
#                  CHAPTERS=chapters/04_deep_mlp.py SET="n_layers=10 gain=1.0" runs your own knobs
#   make publish   build the site with the lecture's full training into site/
#   make deploy    the same publication build, pushed to GitHub Pages (mkdocs gh-deploy)

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.setup-done
QUICK ?= 1
CHAPTERS ?= $(wildcard chapters/[0-9]*.py)
SET ?=

.PHONY: setup serve test browser-deps chapters publish deploy clean

setup: $(SETUP_STAMP)

# torch first, pinned to the CPU wheel: anything installed after it that depends on torch
# finds it satisfied and never pulls a CUDA build.
# The Jupyter kernel "makemore-notes" runs the venv's python: Jupyter, VS Code and
# `jupytext --execute` find it (jupytext picks the kernel whose python is the one running it).
$(SETUP_STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name makemore-notes --display-name "Python (makemore-notes)" > /dev/null
	touch $@

# SET is passed to every chapter in CHAPTERS as --set: a chapter without one of its knobs stops
# with one line listing the knobs it has
chapters: setup
	@for f in $(CHAPTERS); do \
	  echo "== $$f"; MAKEMORE_QUICK=$(QUICK) $(PY) $$f $(if $(strip $(SET)),--set $(SET)) || exit 1; \
	done

# two workers for the two cores; the suite runs the gradient checks again under the CPU
# kernels of other machines itself (tests/test_kernel_sets.py)
test: setup browser-deps
	$(PY) -m pytest -n 2

# Debian's Chromium for tests/test_browser.py (driven by the playwright package, never
# `playwright install`). Installs as root; otherwise says how, and the browser test skips
# (unless MAKEMORE_REQUIRE_BROWSER=1, as in CI, where it fails).
browser-deps:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium chromium-driver; \
	  else echo "chromium is missing: sudo apt-get install -y chromium chromium-driver"; fi; }

# preview: quick training; chapters are executed once, then cached under .cache/ until their
# source, makemore_lib, the data file or the mode changes; edits re-render in seconds
serve: setup
	MAKEMORE_QUICK=1 NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

# publication: the lecture's full training, into site/. The build goes into a fresh folder that
# replaces site/ only when the strict build succeeded: a failed build leaves the last good site.
PUBLISH_ENV := MAKEMORE_QUICK=0 NO_MKDOCS_2_WARNING=1
publish: setup
	rm -rf site.new
	$(PUBLISH_ENV) $(VENV)/bin/mkdocs build --strict -d site.new || { rm -rf site.new; exit 1; }
	rm -rf site && mv site.new site

# GitHub Pages: `mkdocs gh-deploy` runs the same build through the same hook, in the same
# mode and with the same .cache/ (nothing cached is executed again: after `make publish` it
# only builds the pages), to the gh-pages branch of the remote `origin`, and pushes it; as
# for publish, site/ is replaced only after a successful build
deploy: setup
	rm -rf site.new
	$(PUBLISH_ENV) $(VENV)/bin/mkdocs gh-deploy --strict --force -d site.new || { rm -rf site.new; exit 1; }
	rm -rf site && mv site.new site

clean:
	rm -rf build site site.new .cache

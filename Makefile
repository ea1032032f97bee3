# makemore-notes: every target sets up its own project-local virtual environment (.venv)
# first, and is safe to re-run.
#
#   make serve     the main job: build the book in preview mode and serve it on localhost:8000
#   make test      the whole test suite (quick mode)
#   make chapters  run every chapter as a plain script (quick mode: QUICK=0 for full)
#   make publish   build the site with the lecture's full training into site/

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.setup-done
QUICK ?= 1

.PHONY: setup serve test chapters publish clean

setup: $(SETUP_STAMP)

# torch first, pinned to the CPU wheel: anything installed after it that depends on torch
# finds it satisfied and never pulls a CUDA build.
$(SETUP_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

chapters: setup
	@for f in chapters/[0-9]*.py; do \
	  echo "== $$f"; MAKEMORE_QUICK=$(QUICK) $(PY) $$f || exit 1; \
	done

test: setup
	$(PY) -m pytest -n 2

serve: setup
	MAKEMORE_QUICK=1 $(VENV)/bin/mkdocs serve

publish: setup
	MAKEMORE_QUICK=0 $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf build site .cache

# The user interface of the book. Every target creates .venv and installs the package when missing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= quick
DEVICE ?= cpu
CHAPTER ?=
# Chapters with a full profile worth running on a GPU (make full); their one home is gancnn.book.timings.
HEAVY = $(shell $(BIN)/python -c 'from gancnn.book.timings import HEAVY_CHAPTERS; print(*HEAVY_CHAPTERS)')
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: setup book page student timings bench site-check vendor-mathjax test lint format run full reference clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install the package (editable) with its pinned dependencies

book: $(STAMP)  ## execute every chapter on the quick profile and build the site in _build/html (strict)
	@# jupyter-cache keys on a chapter's own code only: drop it when the library or parameters changed
	@mkdir -p _build && h=$$(cat $$(find src params -type f \( -name '*.py' -o -name '*.yaml' \) | sort) | sha256sum | cut -c1-16); \
	  if [ "$$(cat _build/.library-hash 2>/dev/null)" != "$$h" ]; then rm -rf _build/.jupyter_cache; echo "$$h" > _build/.library-hash; fi
	GANCNN_PROGRESS=0 $(BIN)/jupyter-book build . -W -n --keep-going

page: $(STAMP)  ## make page CHAPTER=<name>: build one chapter alone into _build/page-<name> (not strict: links to other chapters dangle)
	@test -n "$(CHAPTER)" || { echo "usage: make page CHAPTER=<name>"; exit 2; }
	@mkdir -p _build && printf 'format: jb-book\nroot: book/%s\n' "$(CHAPTER)" > _build/toc-$(CHAPTER).yml
	$(BIN)/jupyter-book build . --toc _build/toc-$(CHAPTER).yml --path-output _build/page-$(CHAPTER) -n --keep-going
	@echo "open _build/page-$(CHAPTER)/_build/html/index.html"

student: $(STAMP)  ## the student edition in _build/student: each chapter with exercises as a notebook without its solutions (a stub after each exercise), and solutions/<chapter>.md
	$(BIN)/python scripts/student.py

timings: $(STAMP)  ## after `make book`: store each chapter's execution time (shown atop the chapter) in artifacts/timings/
	$(BIN)/python -m gancnn.book.timings --write

bench: $(STAMP)  ## benchmark suite (python -m gancnn.bench [--tiny]): each figure a ratio against a baseline timed in the same process, interleaved; JSON in _build/bench/bench.json
	$(BIN)/python -m gancnn.bench

site-check: $(STAMP)  ## after `make book`: read every page in headless Chromium at 1280 and 390 px; name overflowing elements, MathJax errors, missing alt text, console errors, stderr boxes; screenshots in _build/screenshots
	$(BIN)/python scripts/browser_check.py _build/html --json _build/site-check.json

MATHJAX := 4.1.3
vendor-mathjax:  ## re-create _extra/mathjax (MathJax $(MATHJAX) and its CHTML font, from npm; needs the npm registry)
	rm -rf _build/mathjax-npm _extra/mathjax/{tex-chtml.js,input,output,a11y,ui,fonts} && mkdir -p _build/mathjax-npm
	cd _build/mathjax-npm && npm pack --silent mathjax@$(MATHJAX) @mathjax/mathjax-newcm-font@$(MATHJAX) >/dev/null && \
	  mkdir mj font && tar xzf mathjax-$(MATHJAX).tgz -C mj && tar xzf mathjax-mathjax-newcm-font-$(MATHJAX).tgz -C font
	mkdir -p _extra/mathjax/fonts/mathjax-newcm _extra/mathjax/input _extra/mathjax/output
	cp _build/mathjax-npm/mj/package/{tex-chtml.js,LICENSE} _extra/mathjax/
	cp -r _build/mathjax-npm/mj/package/{a11y,ui} _extra/mathjax/
	cp -r _build/mathjax-npm/mj/package/input/tex _extra/mathjax/input/
	cp _build/mathjax-npm/mj/package/output/chtml.js _extra/mathjax/output/
	cp -r _build/mathjax-npm/font/package/{chtml,chtml.js,package.json} _extra/mathjax/fonts/mathjax-newcm/

test: $(STAMP)  ## run the test suite
	$(BIN)/python -m pytest

lint: $(STAMP)  ## ruff (lint and format check) on the library, tests, scripts and Sphinx extensions (_ext), and on the chapters' code cells
	$(BIN)/ruff check src tests scripts _ext
	$(BIN)/ruff format --check src tests scripts _ext
	$(BIN)/python scripts/lint_chapters.py

format: $(STAMP)  ## apply ruff's safe fixes and formatter to the library, tests, scripts and the chapters' code cells
	$(BIN)/ruff check --fix src tests scripts _ext
	$(BIN)/ruff format src tests scripts _ext
	$(BIN)/python scripts/lint_chapters.py --fix

run: $(STAMP)  ## make run CHAPTER=<name> PROFILE=quick|full [DEVICE=cpu|cuda]
	@test -n "$(CHAPTER)" || { echo "usage: make run CHAPTER=<name> PROFILE=quick|full [DEVICE=cpu|cuda]"; exit 2; }
	$(BIN)/gancnn-run $(CHAPTER) --profile $(PROFILE) --device $(DEVICE)

full: $(STAMP)  ## every heavy chapter on the full profile (results stored under artifacts/full), then the book; refuses on a CPU unless FORCE=1
	$(BIN)/python -m gancnn.book.estimate --device $(DEVICE) $(if $(FORCE),--force)
	@for c in $(HEAVY); do \
	  if [ -f book/$$c.md ]; then $(BIN)/gancnn-run $$c --profile full --device $(DEVICE); \
	  else echo "skipping $$c: book/$$c.md does not exist yet"; fi; \
	done
	$(MAKE) book

reference: $(STAMP)  ## train the reference networks that are not stored yet (resumes after a kill); results in artifacts/reference
	$(BIN)/python -m gancnn.reference --device $(DEVICE)

clean:  ## remove the built site and executed notebooks (keeps .venv and artifacts)
	rm -rf _build runs

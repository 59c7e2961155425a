# Two commands do all the set-up on a fresh machine (see README.md):
#   make demo   -- the main job
#   make test   -- the whole test suite, once per backend (mlx, torch, numpy)
# Both create or refresh the virtual environment .venv with the dev and torch extras.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.ember-installed
BACKENDS := mlx torch numpy

.PHONY: demo test lint bench

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	# Pinned first: an unpinned torch pulls gigabytes of CUDA wheels.
	$(VENV)/bin/python -m pip install -q "torch==2.13.0"
	$(VENV)/bin/python -m pip install -q -e ".[dev,torch]"
	# Test-only reference for the RKM; --no-deps: its torchvision pin is a CUDA build (tests stub it).
	$(VENV)/bin/python -m pip install -q --no-deps "pyrkm==0.1.0"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python examples/demo.py --out demo_output

test: $(STAMP)
	@status=0; \
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . || status=1; \
	for backend in $(BACKENDS); do \
		echo "=== EMBER_BACKEND=$$backend"; \
		EMBER_BACKEND=$$backend $(VENV)/bin/python -m pytest -q -p no:cacheprovider || status=1; \
	done; exit $$status

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(VENV)/bin/python -m pytest benchmarks -q -p no:cacheprovider

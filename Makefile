# One command sets up and runs the main job (`make demo`); one sets up and runs the tests (`make test`).
# Both create .venv, install torch's CPU wheel first (a bare `torch` requirement would pull a multi-GB CUDA
# build), then the project with all extras. llama-cpp-python compiles from source the first time (~5 min on
# 2 cores) with the CPU's native optimisations; pip caches the wheel.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.edgeproof-installed
WHEELS ?= .wheels
TORCH  ?= torch==2.13.0
export CMAKE_ARGS ?= -DGGML_NATIVE=ON

.PHONY: install browser demo test test-fast bench proto proto-check docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip wheel setuptools
	$(BIN)/python -m pip install $(TORCH)
	# llama-cpp-python compiles once into $(WHEELS); the install below and the lean-install test reuse the wheel
	$(BIN)/python -m pip wheel --no-deps -w $(WHEELS) "llama-cpp-python>=0.3.8"
	$(BIN)/python -m pip install --find-links $(WHEELS) -e ".[all,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/edgeproof demo

# The report-page test drives Debian's chromium headless (playwright, no browser download): installed here when
# missing and we may (root or passwordless sudo, apt); otherwise say what to do.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || [ -n "$$EDGEPROOF_CHROMIUM" ] || { \
	  if command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then \
	    SUDO=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
	    $$SUDO apt-get install -y --no-install-recommends chromium || \
	    { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }; \
	  else \
	    echo "make test needs Chromium for the report-page test: install it (Debian/Ubuntu: apt-get install chromium)" \
	         "or set EDGEPROOF_CHROMIUM=/path/to/chromium-or-chrome, then run make test again." >&2; exit 1; \
	  fi; }

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/cold_start.py
	$(BIN)/python benchmarks/poai.py
	$(BIN)/python benchmarks/storage.py
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/federation.py
	$(BIN)/python benchmarks/validator.py

proto: $(STAMP)
	$(BIN)/python scripts/gen_proto.py
	$(BIN)/python scripts/gen_test_vectors.py

proto-check: $(STAMP)
	$(BIN)/python scripts/gen_proto.py --check
	$(BIN)/python scripts/gen_test_vectors.py --check

docs: $(STAMP)
	$(BIN)/python scripts/gen_config_reference.py

clean:
	rm -rf $(VENV) $(WHEELS) .pytest_cache build *.egg-info

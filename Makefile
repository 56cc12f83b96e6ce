# Two commands a user needs: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Which torch wheel pip picks for TORCH depends on the index it asks. From PyPI (the default, TORCH_INDEX
# empty) Linux x86_64 gets the CUDA build, several GB with its nvidia-* packages; macOS and Windows get the
# CPU build. For the small CPU build on Linux use PyTorch's CPU index:
#     make TORCH_INDEX=https://download.pytorch.org/whl/cpu test
# (machines whose pip is configured with a local wheel mirror get whatever that mirror holds).
# Any torch >= 2.2 works: on a GPU machine e.g. make TORCH=torch test.
TORCH  ?= torch==2.13.0
TORCH_INDEX ?=
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all lint mutate bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)" $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)")
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/atrialjsq demo --out demo_output

test: lint
	$(BIN)/python -m pytest -q -m "not slow" -n auto --maxprocesses 4 tests

test-all: lint
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 tests

lint: $(STAMP)
	$(BIN)/ruff check src studies tests benchmarks scripts
	$(BIN)/ruff format --check src studies tests benchmarks scripts
	$(BIN)/mypy

# Mutation testing of the analysis modules ([tool.mutmut] in pyproject.toml; not in CI: hours on two cores).
# MUTANTS narrows it, e.g. make mutate MUTANTS='atrialjsq.data.plausibility*'. Scores: docs/results/mutation.md.
mutate: $(STAMP)
	$(BIN)/mutmut run $(MUTANTS)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) demo_output .pytest_cache .mypy_cache mutants

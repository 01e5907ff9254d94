# echoscope: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= test,spark,faces,live

.PHONY: demo test setup setup-test docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# runtime install (what a user gets)
setup: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

# everything the test suite needs (optional extras included: Spark, faces, live collectors)
setup-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"

demo: setup
	$(BIN)/echoscope demo

# the linter (ruff), the layer contracts (import-linter, in pyproject.toml), then the whole test suite
test: setup-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup

docs: setup
	$(BIN)/python -m echoscope.docgen

bench: setup-test
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/bench_ingest.py

clean:
	rm -rf $(VENV) demo-study report.html .pytest_cache

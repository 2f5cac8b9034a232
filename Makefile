# The two commands: `make run` and `make test`. Everything else is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test install lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/pybabel compile --use-fuzzy -d portal/translations >/dev/null
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pybabel compile --use-fuzzy -d portal/translations >/dev/null
	touch $(STAMP) $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/preau init
	$(BIN)/preau demo --if-empty
	$(BIN)/preau serve

test: $(DEV_STAMP)
	$(BIN)/pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache

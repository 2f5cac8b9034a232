# The two commands: `make run` and `make test`. Everything else is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# pytest-xdist workers for `make test` (0: one process, for debugging); PYTEST_ARGS: more options.
TEST_WORKERS ?= 3
PYTEST_ARGS ?=

.PHONY: run test install lint translations clean

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
	$(BIN)/pybabel compile --use-fuzzy -d portal/translations >/dev/null
	$(BIN)/preau init
	$(BIN)/preau demo --if-empty
	$(BIN)/preau serve

test: $(DEV_STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d portal/translations >/dev/null
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .

# After changing French text: extract it (N_ marks labels translated at run time), merge it
# into the English catalog, then translate the new entries in messages.po.
translations: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k N_ -o $(VENV)/messages.pot .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d portal/translations -l en --no-fuzzy-matching
	$(BIN)/pybabel compile --use-fuzzy -d portal/translations --statistics

clean:
	rm -rf $(VENV) .pytest_cache

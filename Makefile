# Two commands on a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock

.PHONY: run test lint bench lock clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "careerbot needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs are redone only when the dependency declarations change.
$(VENV)/.run-installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[slack,discord,postgres]'
	@touch $@

$(VENV)/.dev-installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[slack,discord,postgres,dev]'
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	@$(BIN)/careerbot run

# The suite under coverage (settings in pyproject.toml), spread over one pytest-xdist worker per core
# (`make test TEST_WORKERS=0` runs it in one process): every process's data file is combined, the report
# printed, and the target fails if the tests fail or coverage is under `fail_under`.
TEST_WORKERS ?= auto
test: $(VENV)/.dev-installed lint
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -n $(TEST_WORKERS) --dist worksteal; tests=$$?; \
	$(BIN)/coverage combine --quiet; \
	$(BIN)/coverage report; report=$$?; \
	test $$tests -eq 0 && test $$report -eq 0

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.core
	$(BIN)/python -m bench.slack_http
	$(BIN)/python -m bench.discord_interactions
	$(BIN)/python -m bench.tips_fanout
	$(BIN)/python -m bench.knowledge_hostile
	$(BIN)/python -m bench.mentoring
	$(BIN)/python -m bench.mentoring_intros
	$(BIN)/python -m bench.answers

# Refresh the pinned versions (constraints for every install above) from a clean resolve.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet '.[slack,discord,postgres,dev]'
	.lock-venv/bin/python -m pip freeze --exclude careerbot | grep -v '^-e' > $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis build dist .coverage .coverage.* htmlcov

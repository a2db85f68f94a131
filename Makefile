# The two commands: `make run` (embedded dev stack) and `make test` (the whole suite).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-fuzz test-chaos lint audit bench bench-throughput clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The workflow sandbox imports the workflow modules afresh for every workflow run; where
# PYTHONDONTWRITEBYTECODE is set (as on CI's machine) no import caches their bytecode, and each
# run would compile them from source again.
PACKAGES := domain workflows activities api forms policies store workers services ticketflow \
	migrations triage sentiment
bytecode: $(STAMP)
	$(PY) -m compileall -q $(PACKAGES) tests >/dev/null

run: bytecode
	$(VENV)/bin/ticketflow dev

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint bytecode
	$(PY) -m tests.runner

# Known vulnerabilities of the installed dependencies (pip-audit against PyPI; see tests/audit.py).
audit: $(STAMP)
	$(PY) -m tests.audit

# The Schemathesis run alone, deeper than in `make test` (FUZZ_EXAMPLES per operation and role).
FUZZ_EXAMPLES ?= 200
test-fuzz: $(STAMP)
	TICKETFLOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m tests.runner -m fuzz tests/api/test_openapi_fuzz.py

# The chaos scenarios at full size (50 tickets, a 30 s database outage); `make test` runs them
# bounded (8 tickets, a 4 s outage). TICKETFLOW_CHAOS_SEED picks other fault times.
test-chaos: $(STAMP)
	TICKETFLOW_CHAOS_FULL=1 $(PY) -m tests.runner -m chaos tests/chaos

# Every benchmark, one after the other (well over half an hour here, load.py and
# open_tickets.py the longest); each prints its own ratios.
# bench/harness.py is what the benches racing bare Temporal share, not a bench.
bench: $(STAMP)
	for script in bench/*.py; do \
		if [ $$script != bench/harness.py ]; then $(PY) $$script || exit 1; fi; \
	done

bench-throughput: $(STAMP)
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) .ticketflow

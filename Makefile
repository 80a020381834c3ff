# The two commands (README): `make demo` runs the whole system on embedded defaults,
# `make test` runs the test suite. Each bootstraps .venv and installs what is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: demo test lint chaos bench dist bootstrap-demo bootstrap-test clean

demo: bootstrap-demo
	$(PY) -m broker.dispatcher demo

# PRIVCARD_TEST_STRICT=1: a test skipped because a library is missing fails the run (tests/conftest.py).
# The unit and integration tests (each file's tests on one worker: --dist loadfile) run on
# TEST_WORKERS pytest-xdist workers: a serial run left the 2 cores idle more than half the
# time (they wait on brokers, servers and subprocesses). The browser, Kivy, booted-system,
# chaos, e2e and security tests follow one at a time (timing, a display, Chromium).
# PYTEST_ARGS given: one plain pytest run of those.
TEST_WORKERS ?= 2
test: bootstrap-test lint
ifeq ($(strip $(PYTEST_ARGS)),)
	PRIVCARD_TEST_STRICT=1 $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 tests/unit tests/integration
	PRIVCARD_TEST_STRICT=1 $(PY) -m pytest --durations=15 --ignore=tests/unit --ignore=tests/integration
else
	PRIVCARD_TEST_STRICT=1 $(PY) -m pytest --durations=15 $(PYTEST_ARGS)
endif

# ruff (lint and format) and the import-linter layering contracts (docs/architecture.md)
lint: bootstrap-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

chaos: bootstrap-test
	PRIVCARD_CHAOS=full $(PY) -m pytest -m chaos tests/chaos tests/fuzz tests/system tests/e2e/test_import_load.py \
		tests/integration/test_poison_isolation.py tests/ui/test_kiosk_idle.py $(PYTEST_ARGS)

# the release artefact: dist/privcard-VERSION-py3-none-any.whl and the sdist (version from git tags)
dist: bootstrap-test
	rm -rf dist build
	$(PY) -m build --outdir dist .

bench: bootstrap-test
	$(PY) -m broker.dispatcher bench

bootstrap-demo:
	@VENV=$(VENV) .ci/bootstrap.sh demo

bootstrap-test:
	@VENV=$(VENV) .ci/bootstrap.sh test

clean:
	rm -rf $(VENV) var .pytest_cache dist build

# Madoguchi — the two commands of the README (make demo, make test) and make bench.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

AXE := node_modules/axe-core/axe.min.js

.PHONY: demo test bench soak lint install system-deps

# Debian packages (chromium, IPAmj明朝, poppler, ...): installed as root, otherwise the one command to
# run is printed and make stops here, before anything else (the order-only prerequisites below).
system-deps:
	PYTHON=$(PYTHON) scripts/system-deps

$(STAMP): pyproject.toml requirements.lock | system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# axe-core for the accessibility tests.
$(AXE): package.json package-lock.json | system-deps
	npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE)

install: $(STAMP) $(AXE)

# Demo: SQLite, synthetic municipality, one worker for every queue and the scheduler in the
# background, server on 127.0.0.1:8000. (Production: `manage.py workers` and `manage.py scheduler`.)
demo: system-deps $(STAMP)
	DEBUG=1 $(BIN)/python manage.py migrate --noinput --verbosity 0
	DEBUG=1 $(BIN)/python manage.py seed_demo
	DEBUG=1 $(BIN)/python manage.py db_worker --queue-name '*' --interval 0.5 & worker=$$!; \
	DEBUG=1 $(BIN)/python manage.py scheduler & scheduler=$$!; \
	trap 'kill $$worker $$scheduler 2>/dev/null' EXIT INT TERM; \
	DEBUG=1 $(BIN)/python manage.py runserver 127.0.0.1:8000

# Browser tests fail when Chromium or axe-core is missing; MADOGUCHI_SKIP_BROWSER=1 skips them on purpose.
test: system-deps $(STAMP) $(AXE)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# make bench ONLY="documents line" runs those modules of madoguchi/bench/ only.
bench: $(STAMP)
	DEBUG=1 $(BIN)/python -m madoguchi.bench $(ONLY)

# The load and fault harness (docs/operations.md): PostgreSQL and Redis on 127.0.0.1, a scratch
# database dropped afterwards; SOAK_SECONDS (default 600) of open-loop load with worker and web SIGKILLs.
soak: $(STAMP)
	SOAK_SECONDS=$${SOAK_SECONDS:-600} $(BIN)/python -m madoguchi.bench.soak

# The two commands a newcomer needs: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := src/cityhub/web/static/vendor/.installed
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_WORKERS ?= 2
# The tests' temporary dirs (their SQLite databases, uploads, brokers' files) go on tmpfs when there is one:
# on the shared disk each commit's fsync waited behind other work (a fresh test database migrated in
# 2-7 s on /tmp, 0.7-1.7 s on /dev/shm, load 14). Process death (the kill -9 tests) loses nothing that
# the page cache holds either way; only a power cut would. TEST_TMP_ROOT= (empty) uses TMPDIR or /tmp.
# Only when it has room (a container's default /dev/shm is 64 MB): at least 4 GB free.
TEST_TMP_ROOT ?= $(shell test -d /dev/shm -a -w /dev/shm && \
	test "$$(df -Pk /dev/shm | awk 'NR==2 {print $$4}')" -ge 4194304 2>/dev/null && echo /dev/shm)

.PHONY: demo serve test bench lint install assets clean peers

install: $(STAMP) $(VENDOR)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

# Browser libraries come from npm and land in static/vendor (never committed).
$(VENDOR): package.json scripts/copy_vendor.py
	npm install --no-audit --no-fund --loglevel=error
	$(BIN)/python scripts/copy_vendor.py
	touch $@

assets: $(VENDOR)

demo: install
	$(BIN)/cityhub demo --host 127.0.0.1 --port 8000

serve: install
	$(BIN)/cityhub serve

test: install peers
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		echo "PostgreSQL answers: storage tests run on SQLite and PostgreSQL"; \
		export CITYHUB_TEST_POSTGRES_URL=$${CITYHUB_TEST_POSTGRES_URL:-$(PG_TEST_URL)}; \
	else echo "PostgreSQL is down: storage tests run on SQLite only"; fi; \
	base=$$(mktemp -d -p "$(or $(TEST_TMP_ROOT),$${TMPDIR:-/tmp})" cityhub-tests.XXXXXX); \
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --basetemp="$$base/t" $(PYTEST_ARGS) tests; status=$$?; \
	if [ $$status -eq 0 ]; then rm -rf "$$base"; else echo "temporary dirs of this run kept in $$base"; fi; \
	exit $$status

# wrk (Debian) drives the HTTP throughput benches; without it they fall back to an httpx client.
bench: install peers
	@command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null 2>&1 || sudo -n apt-get install -y -q wrk \
		>/dev/null 2>&1 || echo "wrk not installed (apt-get install wrk): HTTP benches use httpx instead"
	$(BIN)/python -m benchmarks.run_all

lint: install
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) node_modules src/cityhub/web/static/vendor

# Peer client libraries whose pins conflict with ours (ngsildclient, datasette, ...) live in their own venv.
# Add a package with another `PEER_PACKAGES += name==version` line; tests run them as subprocesses.
PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed
PEER_PACKAGES := ngsildclient==0.5.2
PEER_PACKAGES += datasette==0.65.5

peers: $(PEERS_STAMP)

$(PEERS_STAMP): Makefile
	test -x $(PEERS)/bin/python || $(PY) -m venv $(PEERS)
	$(PEERS)/bin/pip install -q $(PEER_PACKAGES)
	touch $@

# `make demo`, `make check` and `make test` install into .venv (created when missing) before they run,
# from the hashed lock files that `make lock` writes from pyproject.toml.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install lock browser hosts-tools compose-tools prometheus-tools demo lint check test e2e bench clean

$(STAMP): requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m sim.launcher.demo

# The browser test drives Debian's headless Chromium; installed here when missing (as root, or with sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for the browser test"; \
	  $(SUDO) apt-get install -y -q chromium >/dev/null || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; }; }

# The multi-host suite (tests/hosts) builds hosts from network namespaces and needs root and nftables
# (Debian's package, installed here when missing). Without root the suite skips and nothing is installed.
hosts-tools:
	@[ "$$(id -u)" != 0 ] || command -v nft >/dev/null 2>&1 || { \
	  echo "installing nftables (Debian package) for the multi-host suite"; \
	  apt-get install -y -q nftables >/dev/null || \
	  { apt-get update -q >/dev/null && apt-get install -y -q nftables >/dev/null; }; }

# tests/integration/test_compose_config.py resolves the compose files with Debian's docker-compose,
# which needs no Docker engine for `config`; installed here when missing (without the engine it
# recommends).
compose-tools:
	@command -v docker-compose >/dev/null 2>&1 || { \
	  echo "installing docker-compose (Debian package) for the compose test"; \
	  $(SUDO) apt-get install -y -q --no-install-recommends docker-compose >/dev/null || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends docker-compose >/dev/null; }; }

# tests/integration/test_promtool.py and tests/e2e/test_prometheus.py run Debian's prometheus (the
# server and promtool); installed here when missing, without its recommends. The package may try to
# start its service: where systemd runs, it is stopped and disabled again (the tests start their own).
prometheus-tools:
	@command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || { \
	  echo "installing prometheus (Debian package) for the Prometheus tests"; \
	  $(SUDO) apt-get install -y -q --no-install-recommends prometheus >/dev/null || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends prometheus >/dev/null; }; \
	  if [ -d /run/systemd/system ]; then $(SUDO) systemctl disable --now prometheus >/dev/null 2>&1 || true; fi; }

# Rewrites the locks after a change to pyproject.toml's dependencies (pip-tools; hashes of every file).
lock: $(STAMP)
	$(PY) -m piptools compile -o requirements.txt pyproject.toml
	$(PY) -m piptools compile --extra dev -o requirements-dev.txt pyproject.toml

# Lint, format, types and the layering rules: seconds.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) tests/tools/import_graph.py

# The fast tier for the edit-test loop: the checks, then every test that starts no process of its
# own, on both cores (real Redis where a test needs it, fakeredis where Redis semantics are enough).
check: lint
	$(PY) -m pytest -n 2 -m "not e2e and not processes" tests/unit tests/integration tests/sim

# The slower tier: the tests that start processes (command lines, simulators) and the end-to-end
# tests (real workers, Redis and the simulators; the multi-host suite; the browser). On both cores,
# then alone the few that hold the fleet to a quota's pace to the request (marker solo), which
# another test's CPU load beside them could push past a provider's window.
e2e: $(STAMP) browser hosts-tools compose-tools prometheus-tools
	$(PY) -m pytest -n 2 --dist loadgroup -m "(e2e or processes) and not solo"
	$(PY) -m pytest -m "e2e and solo"

# Everything, as CI runs it: the fast tier first, so a slip shows in two minutes, then end to end.
test: check e2e

# Seed design vs fleet, CPU-bound ratio, worker memory, and the LLM plan's ceiling with the I/O
# pool against prefork only, side by side (about 35 minutes).
bench: $(STAMP)
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) logs .pytest_cache

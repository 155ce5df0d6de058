# `make demo` and `make test` install into .venv (created when missing) before they run.
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install browser hosts-tools demo test bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m launcher.demo

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

test: $(STAMP) browser hosts-tools
	$(PY) -m pytest

# Seed design vs fleet, CPU-bound ratio, worker memory, and the LLM plan's ceiling with the I/O
# pool against prefork only, side by side (about 35 minutes).
bench: $(STAMP)
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/throughput.py

clean:
	rm -rf $(VENV) logs .pytest_cache

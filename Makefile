# Two entry points: `make demo` (the main job) and `make test`. Each sets itself up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup data browser clean

setup: $(VENV)/.installed

# A virtual environment with torch pinned to the local CPU wheel through constraints.txt.
$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

# Fashion-MNIST from Debian's dataset-fashion-mnist package, where apt is available and we are root.
data:
	@if [ -d /usr/share/datasets/fashion-mnist ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist; \
	else echo "note: cannot install dataset-fashion-mnist here; set NOISYLABELS_DATA (see README)"; fi

# Headless Chromium, which the report tests render the HTML pages with.
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "note: cannot install chromium here; the report tests need it (apt-get install chromium)"; fi

demo: setup data
	$(BIN)/noisylabels demo

test: setup data browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) runs .pytest_cache

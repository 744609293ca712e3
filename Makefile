# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV := .venv
STAMP := $(VENV)/.installed

LOWEST_VENV := .venv-lowest

.PHONY: demo test test-fast style test-lowest test-hub-middle install clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	./scripts/bootstrap.sh
	@touch $(STAMP)

# Puts `stylora-tui` on PATH where a user bin folder already is on it (~/.local/bin), so
# the commands it prints after an SSH drop work from any folder; says so otherwise.
install: $(STAMP)
	@./scripts/link_command.sh

# The wizard on the embedded demo in a terminal; a headless run of the same path without one.
demo: $(STAMP)
	@if [ -t 0 ] && [ -t 1 ]; then $(VENV)/bin/stylora-tui --demo; else $(VENV)/bin/stylora-tui --demo --headless; fi

test: $(STAMP) style
	$(VENV)/bin/python -m pytest -q

# One format, lint-clean, the light side type-checked (settings in pyproject.toml).
style: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Everything but the tests that train or build models (about 3 minutes on 2 cores, against
# about 25 for `make test`): the quick check while working.
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not slow"

# The suite's library-facing part with the lowest version of every dependency we allow
# (CI runs both ends). Snapshots are pinned to one Textual rendering and the end-to-end
# tests exercise our own process handling, so those run in `make test` only.
$(LOWEST_VENV)/.installed: pyproject.toml scripts/bootstrap.sh ci/lowest-constraints.txt
	VENV=$(LOWEST_VENV) LOWEST=1 ./scripts/bootstrap.sh
	@touch $@

test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python -m pytest -q --ignore=tests/tui/test_snapshots.py --ignore=tests/e2e

# huggingface_hub changed HTTP library twice inside the range we allow (requests in 0.x,
# httpx in 1.x, httpx2 in 2.x), and network failures are those libraries' exceptions: the hub
# tests also run against a 1.x release, laid over the main environment.
HUB_MIDDLE := .hub-middle
HUB_MIDDLE_VERSION := 1.33.0

$(HUB_MIDDLE)/.installed: $(STAMP) Makefile
	rm -rf $(HUB_MIDDLE)
	$(VENV)/bin/pip install --disable-pip-version-check -q --target $(HUB_MIDDLE) "huggingface_hub==$(HUB_MIDDLE_VERSION)"
	@touch $@

test-hub-middle: $(HUB_MIDDLE)/.installed
	PYTHONPATH=$(HUB_MIDDLE) $(VENV)/bin/python -c "import huggingface_hub as h; assert h.__version__ == '$(HUB_MIDDLE_VERSION)', h.__file__"
	PYTHONPATH=$(HUB_MIDDLE) $(VENV)/bin/python -m pytest -q tests/integrations/test_hub.py tests/integrations/test_hub_network.py tests/rental/test_hub_mirror.py tests/integrations/test_style.py

clean:
	rm -rf $(VENV) $(LOWEST_VENV) $(HUB_MIDDLE) .pytest_cache

# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV := .venv
STAMP := $(VENV)/.installed

LOWEST_VENV := .venv-lowest

.PHONY: demo test test-lowest install clean

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

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

# The suite's library-facing part with the lowest version of every dependency we allow
# (CI runs both ends). Snapshots are pinned to one Textual rendering and the end-to-end
# tests exercise our own process handling, so those run in `make test` only.
$(LOWEST_VENV)/.installed: pyproject.toml scripts/bootstrap.sh ci/lowest-constraints.txt
	VENV=$(LOWEST_VENV) LOWEST=1 ./scripts/bootstrap.sh
	@touch $@

test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_VENV)/bin/python -m pytest -q --ignore=tests/tui/test_snapshots.py --ignore=tests/e2e

clean:
	rm -rf $(VENV) $(LOWEST_VENV) .pytest_cache

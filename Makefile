# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-all install clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	./scripts/bootstrap.sh
	@touch $(STAMP)

install: $(STAMP)

# The wizard on the embedded demo in a terminal; a headless run of the same path without one.
demo: $(STAMP)
	@if [ -t 0 ] && [ -t 1 ]; then $(VENV)/bin/stylora-tui --demo; else $(VENV)/bin/stylora-tui --demo --headless; fi

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache

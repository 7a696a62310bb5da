# The two commands a newcomer needs: `make demo` and `make test`. Both create
# the virtualenv on first use and reinstall when setup.py's pins change.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Quiet TensorFlow's C++ start-up logging; errors still show.
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test bench lint docs clean lock lowest

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# setup.py declares ranges; requirements.lock pins the exact versions.
LOCK := requirements.lock
NO_DEPS_REQUIRES = $(shell $(BIN)/python -c \
	'import runpy; print(*runpy.run_path("setup.py")["NO_DEPS_REQUIRES"])')

$(INSTALLED): setup.py $(LOCK) $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) --editable '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps -c $(LOCK) \
		$(NO_DEPS_REQUIRES)
	touch $@

demo: $(INSTALLED)
	$(BIN)/mmkeras demo

# Two workers, one per core: each runs TensorFlow's ops on one thread
# (two threads each would contend for the two cores).
SUITE := -m pytest -n 2 --dist loadfile

test: $(INSTALLED) lint docs
	TF_NUM_INTRAOP_THREADS=1 $(BIN)/python $(SUITE) --durations=15

lint: $(INSTALLED)
	$(BIN)/ruff check .

# The site goes to build/ (ignored); --strict fails on any warning.
docs: $(INSTALLED)
	$(BIN)/mkdocs build --strict --quiet --site-dir build/site

bench: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -c $(LOCK) --editable '.[dev,bench]'
	$(BIN)/python benchmarks/attention.py
	$(BIN)/python benchmarks/vs_keras_hub.py
	$(BIN)/python benchmarks/xla_default.py
	$(BIN)/python benchmarks/causal_lm.py

# Rewrite the lock from the current environment (after a setup.py change).
lock: $(INSTALLED)
	( head -3 $(LOCK); $(BIN)/python -m pip freeze --exclude-editable \
		| grep -v '^mmkeras' ) > $(LOCK).new && mv $(LOCK).new $(LOCK)

# The low end of every range in setup.py, installed in its own virtualenv
# and tested: what a user resolving beside older packages may get.
LOWEST := .venv-lowest
lowest:
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -c 'import re, runpy; \
		[print(re.sub(r">=([^,]+).*", r"==\1", r)) \
		for r in runpy.run_path("setup.py")["INSTALL_REQUIRES"]]' \
		> $(LOWEST)/constraints.txt
	$(LOWEST)/bin/python -m pip install --quiet \
		-c $(LOWEST)/constraints.txt --editable '.[dev]'
	$(LOWEST)/bin/python -m pip install --quiet --no-deps -c $(LOCK) \
		$$($(LOWEST)/bin/python -c \
		'import runpy; print(*runpy.run_path("setup.py")["NO_DEPS_REQUIRES"])')
	TF_NUM_INTRAOP_THREADS=1 $(LOWEST)/bin/python $(SUITE)

clean:
	rm -rf $(VENV) $(LOWEST) build *.egg-info .pytest_cache .ruff_cache

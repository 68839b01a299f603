# Two entry points, both self-installing: `make demo` (the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# Headless by default: offscreen MuJoCo rendering through EGL, pygame without a window.
export MUJOCO_GL ?= egl
export SDL_VIDEODRIVER ?= dummy

.PHONY: install demo test test-ecosystem lint bench

# Setting up says what each step does: pip names every package it collects (with download bars
# on a terminal) and then installs them all in one step that prints nothing until it is done.
$(VENV)/.installed: pyproject.toml constraints.txt
	@echo "setting up $(VENV), once (about a minute): every dependency pinned by constraints.txt"
	@echo "[1/2] python3 -m venv $(VENV)"
	@python3 -m venv $(VENV)
	@echo "[2/2] pip install -c constraints.txt -e '.[dev]': pip names each package it collects,"
	@echo "      then installs them all at once, quiet for half a minute (torch, ray, mujoco)"
	@$(PY) -m pip install -c constraints.txt -e '.[dev]'
	@touch $@
	@echo "$(VENV) is ready"

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/arena demo $(ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(PY) benchmarks/env_throughput.py

# The ecosystem environment: the project and its tests at the lower end of its Gymnasium range,
# with RLlib (which pins gymnasium 1.2.2) and SuperSuit, in a virtual environment of its own.
ECO_VENV ?= .venv-ecosystem
$(ECO_VENV)/.installed: pyproject.toml constraints-ecosystem.txt
	@echo "setting up $(ECO_VENV), once (about two minutes): RLlib, SuperSuit, gymnasium 1.2.2"
	@echo "[1/2] python3 -m venv $(ECO_VENV)"
	@python3 -m venv $(ECO_VENV)
	@echo "[2/2] pip install -c constraints-ecosystem.txt -e '.[ecosystem,dev]': pip names each"
	@echo "      package it collects, then installs them all at once, quiet for a minute or so"
	@$(ECO_VENV)/bin/python -m pip install -c constraints-ecosystem.txt -e '.[ecosystem,dev]'
	@touch $@
	@echo "$(ECO_VENV) is ready"

test-ecosystem: $(ECO_VENV)/.installed
	$(ECO_VENV)/bin/python -m pytest $(PYTEST_ARGS)

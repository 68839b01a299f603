# Two entry points, both self-installing: `make demo` (the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
# Headless by default: offscreen MuJoCo rendering through EGL, pygame without a window.
export MUJOCO_GL ?= egl
export SDL_VIDEODRIVER ?= dummy

.PHONY: install demo test test-ecosystem lint bench

$(VENV)/.installed: pyproject.toml constraints.txt
	@echo "setting up $(VENV): every pinned dependency, about a minute, once"
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

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
	@echo "setting up $(ECO_VENV): RLlib, SuperSuit, gymnasium 1.2.2, about two minutes, once"
	python3 -m venv $(ECO_VENV)
	$(ECO_VENV)/bin/python -m pip install -q -c constraints-ecosystem.txt -e '.[ecosystem,dev]'
	touch $@

test-ecosystem: $(ECO_VENV)/.installed
	$(ECO_VENV)/bin/python -m pytest $(PYTEST_ARGS)

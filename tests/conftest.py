"""Test configuration: headless rendering must be chosen before mujoco is imported."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="session")
def script():
    """Load a module of ``scripts/`` by name (``script("zoo_publish")``), once per session."""
    loaded = {}

    def load(name: str):
        if name not in loaded:
            sys.path.insert(0, str(SCRIPTS))  # the scripts import their shared resultsdoc module
            try:
                spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(SCRIPTS))
            loaded[name] = module
        return loaded[name]

    return load

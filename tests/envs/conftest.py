"""Fixtures shared by the environment tests."""

from __future__ import annotations

import pytest


class FakePassiveViewer:
    """Stands in for MuJoCo's passive viewer window on machines without a display."""

    def __init__(self, model, data):
        self.model, self.data = model, data
        self.syncs = 0
        self.closed = False
        import mujoco

        self.cam = mujoco.MjvCamera()

    def lock(self):
        import contextlib

        return contextlib.nullcontext()

    def is_running(self) -> bool:
        return not self.closed

    def sync(self) -> None:
        self.syncs += 1

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake_viewer(monkeypatch):
    """Replace the window of ``render_mode="human"`` by a recorder; yields the opened viewers."""
    opened: list[FakePassiveViewer] = []

    def launch(model, data):
        viewer = FakePassiveViewer(model, data)
        opened.append(viewer)
        return viewer

    monkeypatch.setattr("envs.robosumo.render.launch_viewer", launch)
    # "human" is declared only where a display exists; the fake window stands in for one
    from envs.robosumo import SumoEnv

    monkeypatch.setitem(SumoEnv.metadata, "render_modes", ["human", "rgb_array"])
    return opened

"""Rendering of the sumo arena: offscreen RGB frames and a passive MuJoCo window.

Offscreen rendering needs an OpenGL backend chosen before ``mujoco`` is imported; on a headless
machine set ``MUJOCO_GL=egl``. The ``human`` mode opens MuJoCo's passive viewer and needs a display.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import mujoco
import numpy as np

CAMERAS = ("tracking", "top", "side")
TRACKING_MIN_DISTANCE = 3.5  # m, closest the tracking camera gets to the midpoint of the robots
TRACKING_MARGIN = 2.5  # m, added to the robots' separation so that both stay in view


def tracking_camera(cam: mujoco.MjvCamera, torsos: Sequence[np.ndarray], view: str = "tracking"):
    """Aim a free camera so that both torsos stay in view.

    Args:
        cam: the camera to set (modified in place).
        torsos: world positions of the two torsos.
        view: ``tracking`` (oblique, follows the pair), ``top`` (straight down on the tatami) or
            ``side`` (fixed, level view of the whole tatami).
    """
    a, b = np.asarray(torsos[0]), np.asarray(torsos[1])
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    if view == "top":
        cam.lookat[:] = (0.0, 0.0, 0.5)
        cam.distance, cam.elevation, cam.azimuth = 9.0, -90.0, 90.0
        return
    if view == "side":
        cam.lookat[:] = (0.0, 0.0, 0.8)
        cam.distance, cam.elevation, cam.azimuth = 8.0, -15.0, 90.0
        return
    mid = (a + b) / 2
    separation = math.hypot(a[0] - b[0], a[1] - b[1])
    cam.lookat[:] = (mid[0], mid[1], 0.8)
    cam.distance = max(TRACKING_MIN_DISTANCE, 1.2 * separation + TRACKING_MARGIN)
    cam.elevation = -30.0
    cam.azimuth = 90.0


def has_display() -> bool:
    """Whether a window can be opened (an X11 or Wayland display is set)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def launch_viewer(model: mujoco.MjModel, data: mujoco.MjData) -> Any:
    """Open MuJoCo's passive viewer; raise instead of letting GLFW kill a headless process."""
    if not has_display():
        raise RuntimeError("render_mode='human' needs a display (DISPLAY or WAYLAND_DISPLAY is "
                           "not set); use render_mode='rgb_array' on a headless machine, or the "
                           "arena's pygame viewer")
    import mujoco.viewer

    return mujoco.viewer.launch_passive(model, data, show_left_ui=False, show_right_ui=False)


class SumoRenderer:
    """Renders the arena for one env: ``rgb_array`` frames or a ``human`` window."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, mode: str, width: int,
                 height: int, camera: str, layouts: Sequence[Any]) -> None:
        if camera not in CAMERAS:
            raise ValueError(f"camera must be one of {CAMERAS}, got {camera!r}")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            raise ValueError(f"width and height must be positive integers, got {width}x{height}")
        self.model, self.data, self.mode = model, data, mode
        self.width, self.height, self.view = width, height, camera
        self._torso_adr = [layout.qpos_adr for layout in layouts]
        self.camera = mujoco.MjvCamera()
        self._renderer: mujoco.Renderer | None = None
        self._viewer: Any = None

    def _torsos(self) -> list[np.ndarray]:
        return [self.data.qpos[a:a + 3] for a in self._torso_adr]

    def render(self) -> np.ndarray | None:
        tracking_camera(self.camera, self._torsos(), self.view)
        if self.mode == "rgb_array":
            if self._renderer is None:
                self._renderer = mujoco.Renderer(self.model, self.height, self.width)
            self._renderer.update_scene(self.data, self.camera)
            return self._renderer.render()
        if self._viewer is None:
            self._viewer = launch_viewer(self.model, self.data)
            with self._viewer.lock():
                self._viewer.cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        if self._viewer.is_running():
            with self._viewer.lock():
                for field in ("lookat", "distance", "elevation", "azimuth"):
                    setattr(self._viewer.cam, field, getattr(self.camera, field))
            self._viewer.sync()
        return None

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None

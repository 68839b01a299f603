"""The viewer's choices (cameras, speeds, render quality), importable without pygame or mujoco."""

from __future__ import annotations

from typing import Any

CAMERAS = ("tracking", "top", "side", "orbit")
FOLLOW = ("free", "A", "B")  # f cycles: the camera above, or orbiting the torso of side A or B
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # multiples of real time
REAL_TIME_FPS = 20  # frames per second of real time: one frame per env step, dt = 0.05 s
# Offscreen render settings. On a CPU (software OpenGL) shadows cost more than everything else:
# "fast" drops them and keeps 640x480 at real time on two busy cores; "shadows" adds them back;
# "high" is the model's own look (anti-aliasing, large shadow map, reflections).
QUALITY: dict[str, dict[str, Any]] = {
    "fast": {"offsamples": 0, "shadowsize": 1024, "shadow": False, "reflection": False},
    "shadows": {"offsamples": 0, "shadowsize": 1024, "shadow": True, "reflection": False},
    "high": {"offsamples": 4, "shadowsize": 4096, "shadow": True, "reflection": True},
}

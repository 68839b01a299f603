"""Simulation only: the robot bodies, the RoboSumo arena and nonstationary locomotion.

MuJoCo picks its OpenGL backend when it is first imported; on a machine without a display the
default backend cannot render offscreen ("an OpenGL platform library has not been loaded"), so
importing ``envs`` chooses EGL there unless ``MUJOCO_GL`` is set (import ``envs`` before
``mujoco``, or set ``MUJOCO_GL=egl`` yourself).
"""

import os as _os

if not (_os.environ.get("DISPLAY") or _os.environ.get("WAYLAND_DISPLAY")):
    _os.environ.setdefault("MUJOCO_GL", "egl")

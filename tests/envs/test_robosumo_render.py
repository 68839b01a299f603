"""Rendering of the sumo arena: offscreen frames, the tracking camera, the human window."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from envs.robosumo import parallel_env
from envs.robosumo.render import tracking_camera


def project(model, data, cam, point, width, height):
    """Pixel coordinates of a world point seen through a free camera (pinhole model)."""
    scene = mujoco.MjvScene(model, maxgeom=100)
    mujoco.mjv_updateScene(model, data, mujoco.MjvOption(), None, cam,
                           mujoco.mjtCatBit.mjCAT_ALL, scene)
    gl = scene.camera[0]
    pos, fwd, up = np.array(gl.pos), np.array(gl.forward), np.array(gl.up)
    right = np.cross(fwd, up)
    rel = np.asarray(point) - pos
    depth = rel @ fwd
    half_h = np.tan(np.radians(model.vis.global_.fovy) / 2) * depth
    half_w = half_h * width / height
    return (rel @ right) / half_w, (rel @ up) / half_h, depth


def test_rgb_frames_show_the_arena_and_change_as_robots_move():
    env = parallel_env(("ant", "spider"), render_mode="rgb_array", width=160, height=120)
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (120, 160, 3) and first.dtype == np.uint8
    assert first.std() > 10, "frame is blank"
    rng = np.random.default_rng(0)
    for _ in range(10):
        env.step({p: rng.uniform(-1, 1, env.action_space(p).shape) for p in env.agents})
    later = env.render()
    assert np.abs(later.astype(int) - first).mean() > 1.0, "frames do not change"
    env.close()
    env.close()  # closing twice is allowed


@pytest.mark.parametrize("view", ["tracking", "top", "side"])
@pytest.mark.parametrize("xy", [((-1.0, 0.3), (1.2, -0.4)), ((1.9, 1.9), (-1.9, -1.9)),
                                ((0.2, 0.0), (0.5, 0.1))])
def test_camera_keeps_both_robots_in_view(view, xy):
    env = parallel_env(("bug", "bug"))
    env.reset(seed=0)
    for i, (x, y) in enumerate(xy):
        a = env.layouts[i].qpos_adr
        env.data.qpos[a:a + 2] = (x, y)
    mujoco.mj_forward(env.model, env.data)
    cam = mujoco.MjvCamera()
    torsos = [env.torso_xyz(0), env.torso_xyz(1)]
    tracking_camera(cam, torsos, view)
    for torso in torsos:
        u, v, depth = project(env.model, env.data, cam, torso, 640, 480)
        assert depth > 0
        assert abs(u) < 0.9 and abs(v) < 0.9, f"torso at {torso} leaves the {view} view"


def test_human_mode_without_a_display_explains_itself(monkeypatch):
    from envs.robosumo import SumoEnv

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    # headless, "human" is not declared (as at import on a machine without a display), yet a
    # human env can be built (PettingZoo's render_test does) and says why it cannot show
    monkeypatch.setitem(SumoEnv.metadata, "render_modes", ["rgb_array"])
    env = parallel_env(("ant", "ant"), render_mode="human")
    with pytest.raises(RuntimeError, match="needs a display"):
        env.reset(seed=0)
    with pytest.raises(ValueError, match=r"one of \['human', 'rgb_array'\], got 'window'"):
        parallel_env(("ant", "ant"), render_mode="window")


def test_human_mode_syncs_its_window_every_step(fake_viewer):
    env = parallel_env(("ant", "bug"), render_mode="human")
    env.reset(seed=0)
    for _ in range(3):
        env.step({p: np.zeros(env.action_space(p).shape) for p in env.agents})
    assert len(fake_viewer) == 1 and fake_viewer[0].syncs == 4
    env.close()
    assert fake_viewer[0].closed

"""A tiny, fast vector env for smoke tests of learners: a point that must reach a goal.

``PointGoalVectorEnv``: each of ``num_envs`` points starts at a random position in [-1, 1]^2 with
a random goal there too; it observes (x, y, goal_x, goal_y), moves by 0.1 * clip(action, -1, 1)
per step and is rewarded ``-distance to the goal``. Episodes last ``max_steps`` (20) steps and end
by truncation. A random policy scores about -16; a good one about -3. Numpy only: thousands of
steps per millisecond, so a learner must visibly improve within seconds.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

STEP_SIZE = 0.1  # distance moved per step at full action


class PointGoalVectorEnv(VectorEnv):
    """``num_envs`` point-goal tasks, same-step autoreset (``info["final_obs"]``)."""

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.SAME_STEP,
                                          "render_modes": []}

    def __init__(self, num_envs: int = 8, max_steps: int = 20) -> None:
        if num_envs < 1 or max_steps < 1:
            raise ValueError(f"num_envs and max_steps must be >= 1, got {num_envs}, {max_steps}")
        self.num_envs, self.max_steps = int(num_envs), int(max_steps)
        self.single_observation_space = gymnasium.spaces.Box(-2.0, 2.0, (4,), np.float32)
        self.single_action_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._rng = np.random.default_rng()
        self._state = np.zeros((self.num_envs, 4))
        self._t = np.zeros(self.num_envs, dtype=np.int64)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._state = self._rng.uniform(-1, 1, (self.num_envs, 4))
        self._t[:] = 0
        return self._state.astype(np.float32), {}

    def step(self, actions: np.ndarray):
        a = np.clip(np.asarray(actions, dtype=np.float64), -1, 1)
        if a.shape != (self.num_envs, 2):
            raise ValueError(f"actions must have shape ({self.num_envs}, 2), got {a.shape}")
        self._state[:, :2] = np.clip(self._state[:, :2] + STEP_SIZE * a, -2, 2)
        self._t += 1
        reward = -np.linalg.norm(self._state[:, :2] - self._state[:, 2:], axis=1)
        truncated = self._t >= self.max_steps
        terminated = np.zeros(self.num_envs, dtype=bool)
        info: dict[str, Any] = {}
        obs = self._state.astype(np.float32)
        if truncated.any():
            info["final_obs"] = obs.copy()
            ids = np.flatnonzero(truncated)
            self._state[ids] = self._rng.uniform(-1, 1, (len(ids), 4))
            self._t[ids] = 0
            obs = self._state.astype(np.float32)
        return obs, reward, terminated, truncated, info

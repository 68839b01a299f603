"""The point agent of the NoRML paper: move a point to a goal when its actions are rotated.

Every task rotates the commanded displacement by one angle ``phi``: ``s' = clip(s + R(phi) a)``.
An agent that adapts without reward must discover the rotation from the state transitions alone.

Entry points:
    ``PointRotationEnv`` (Gymnasium id ``PointRotation-v0``, registered on import): one point; the
    task is passed as ``reset(options={"angle": phi})`` and kept until changed.
    ``PointRotationVectorEnv``: many points, each with its own angle (``set_angles``), stepped in
    numpy with same-step autoreset.
    ``sample_angles(rng, n)``: task angles, uniform in ``ANGLE_RANGE``.

Settings follow the reference implementation (google-research ``norml/envs/move_point_env.py``
and ``config_maml.py``): start (0, 0), goal (1, 0), positions clipped to [-2, 2]; shaped reward
``-||s' - goal||`` over 10 steps; sparse reward ``-1`` per step over up to 100 steps, the episode
ending early when the point is within 0.1 of the goal; angles uniform in [-pi, pi].
One deliberate difference: actions are clipped to the action space [-1, 1] before rotation (the
reference moves by the raw Gaussian sample).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.checks import reset_options

START = (0.0, 0.0)
GOAL = (1.0, 0.0)
BOUND = 2.0  # positions are clipped to [-BOUND, BOUND] in both coordinates
ANGLE_RANGE = (-math.pi, math.pi)  # rad, range of the per-task rotation
SHAPED_STEPS = 10  # episode length with the shaped reward
SPARSE_STEPS = 100  # episode length (at most) with the sparse reward
GOAL_DISTANCE = 0.1  # sparse reward: the episode ends when the point is this close to the goal
RESET_OPTIONS = ("angle",)
ENV_ID = "PointRotation-v0"


def rotate(actions: np.ndarray, angles: np.ndarray | float) -> np.ndarray:
    """``R(phi) a`` for actions ``[..., 2]`` and angles broadcastable to ``[...]``."""
    c, s = np.cos(angles), np.sin(angles)
    x, y = actions[..., 0], actions[..., 1]
    return np.stack([c * x - s * y, s * x + c * y], axis=-1)


def sample_angles(rng: np.random.Generator, n: int,
                  low: float = ANGLE_RANGE[0], high: float = ANGLE_RANGE[1]) -> np.ndarray:
    """``n`` task angles, uniform in ``[low, high]`` (radians)."""
    return rng.uniform(low, high, size=int(n))


def _check(sparse: bool, max_steps: int | None, goal_distance: float) -> int:
    steps = (SPARSE_STEPS if sparse else SHAPED_STEPS) if max_steps is None else max_steps
    if not (isinstance(steps, int | np.integer) and steps >= 1):
        raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")
    if not goal_distance >= 0:
        raise ValueError(f"goal_distance must be >= 0, got {goal_distance!r}")
    return int(steps)


def _check_angle(angle: Any) -> float:
    try:
        value = float(angle)
    except (TypeError, ValueError):
        raise ValueError(f"angle must be a finite number (radians), got {angle!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"angle must be a finite number (radians), got {angle!r}")
    return value


class PointRotationEnv(gymnasium.Env):
    """A point in the plane that must reach (1, 0) from (0, 0) through rotated actions.

    ## Observation: the position (x, y), float32 in [-2, 2]^2.
    ## Action: the displacement (dx, dy), clipped to [-1, 1]^2, then rotated by the task's angle.
    ## Rewards: shaped ``-||s' - goal||`` (distance after the move), or sparse ``-1`` per step.
    ## Episode end: truncated after ``max_steps``; with the sparse reward also terminated when the
    point is within ``goal_distance`` of the goal.

    Args:
        sparse: use the sparse reward (and its 100-step horizon by default).
        max_steps: episode length (default 10 shaped, 100 sparse).
        goal_distance: sparse reward: distance at which the episode ends.
        angle: initial task angle in radians; ``reset(options={"angle": phi})`` changes it.

    Version history: v0, the first.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, sparse: bool = False, max_steps: int | None = None,
                 goal_distance: float = GOAL_DISTANCE, angle: float = 0.0) -> None:
        self.sparse = bool(sparse)
        self.max_steps = _check(self.sparse, max_steps, goal_distance)
        self.goal_distance = float(goal_distance)
        self.angle = _check_angle(angle)
        self.observation_space = gymnasium.spaces.Box(-BOUND, BOUND, (2,), np.float32)
        self.action_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._pos = np.array(START)
        self._t = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start at (0, 0); ``options={"angle": phi}`` sets the task (kept until changed)."""
        super().reset(seed=seed)
        if "angle" in (options := reset_options(options, RESET_OPTIONS)):
            self.angle = _check_angle(options["angle"])
        self._pos = np.array(START)
        self._t = 0
        return self._pos.astype(np.float32), {"angle": self.angle}

    def step(self, action: np.ndarray):
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        self._pos = np.clip(self._pos + rotate(a, self.angle), -BOUND, BOUND)
        self._t += 1
        distance = float(np.linalg.norm(self._pos - np.array(GOAL)))
        reward = -1.0 if self.sparse else -distance
        terminated = self.sparse and distance < self.goal_distance
        truncated = not terminated and self._t >= self.max_steps
        return self._pos.astype(np.float32), reward, terminated, truncated, {"distance": distance}


class PointRotationVectorEnv(VectorEnv):
    """``num_envs`` points, each with its own rotation angle, stepped together in numpy.

    Point ``i`` behaves exactly like ``PointRotationEnv`` with angle ``angles[i]`` (the env has no
    randomness). Autoreset is same-step: a finished point restarts within the step that ended
    its episode and its last observation is in ``info["final_obs"]`` (rows of unfinished points
    hold their current observation).

    Args:
        num_envs: number of points.
        sparse, max_steps, goal_distance: as ``PointRotationEnv``.
        angles: one angle for all or one per point (radians).
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.SAME_STEP,
                                          "render_modes": []}

    def __init__(self, num_envs: int = 8, sparse: bool = False, max_steps: int | None = None,
                 goal_distance: float = GOAL_DISTANCE,
                 angles: float | np.ndarray = 0.0) -> None:
        if not (isinstance(num_envs, int | np.integer) and num_envs >= 1):
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        self.num_envs = int(num_envs)
        self.sparse = bool(sparse)
        self.max_steps = _check(self.sparse, max_steps, goal_distance)
        self.goal_distance = float(goal_distance)
        self.single_observation_space = gymnasium.spaces.Box(-BOUND, BOUND, (2,), np.float32)
        self.single_action_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self.angles = np.zeros(self.num_envs)
        self.set_angles(angles)
        self._pos = np.tile(np.array(START), (self.num_envs, 1))
        self._t = np.zeros(self.num_envs, dtype=np.int64)

    def set_angles(self, angles: float | np.ndarray) -> None:
        """One angle for every point, or one per point (radians)."""
        values = np.asarray(angles, dtype=np.float64)
        if values.ndim == 0:
            values = np.full(self.num_envs, float(values))
        if values.shape != (self.num_envs,) or not np.isfinite(values).all():
            raise ValueError(f"angles must be one finite number or {self.num_envs} of them, "
                             f"got shape {np.shape(angles)}")
        self.angles = values.copy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Restart every point; ``options={"angle": phi or [phi_i]}`` sets the tasks."""
        if "angle" in (options := reset_options(options, RESET_OPTIONS)):
            self.set_angles(options["angle"])
        self._pos[:] = START
        self._t[:] = 0
        return self._pos.astype(np.float32), {}

    def step(self, actions: np.ndarray):
        a = np.asarray(actions, dtype=np.float64)
        if a.shape != (self.num_envs, 2):
            raise ValueError(f"actions must have shape ({self.num_envs}, 2), got {a.shape}")
        a = np.clip(a, -1.0, 1.0)
        self._pos = np.clip(self._pos + rotate(a, self.angles), -BOUND, BOUND)
        self._t += 1
        distance = np.linalg.norm(self._pos - np.array(GOAL), axis=1)
        reward = -np.ones(self.num_envs) if self.sparse else -distance
        terminated = (distance < self.goal_distance) if self.sparse else np.zeros(
            self.num_envs, dtype=bool)
        truncated = ~terminated & (self._t >= self.max_steps)
        obs = self._pos.astype(np.float32)
        info: dict[str, Any] = {"distance": distance}
        done = terminated | truncated
        if done.any():
            info["final_obs"] = obs.copy()
            self._pos[done] = START
            self._t[done] = 0
            obs = self._pos.astype(np.float32)
        return obs, reward, terminated, truncated, info


def register() -> None:
    """Register ``PointRotation-v0`` (single and vector entry points)."""
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point="envs.point:PointRotationEnv",
                           vector_entry_point="envs.point:PointRotationVectorEnv")


register()

__all__ = ["ANGLE_RANGE", "ENV_ID", "GOAL", "GOAL_DISTANCE", "SHAPED_STEPS", "SPARSE_STEPS",
           "START", "PointRotationEnv", "PointRotationVectorEnv", "rotate", "sample_angles"]

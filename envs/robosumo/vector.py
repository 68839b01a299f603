"""Many RoboSumo arenas of one matchup, stepped together in C on several threads.

``SumoVectorEnv`` runs ``num_envs`` arenas in one ``mujoco.batch.Batch`` and applies the rules of
``envs.robosumo.rules`` to all of them at once with numpy, so that samplers can use every core
for physics and pay the Python overhead once per batch rather than once per arena. Arena ``i``
reproduces a ``SumoEnv`` reset with seed ``seed + i``, step for step, its later bouts continuing
that env's random stream.

Bouts end at different times, so finished arenas are reset in the same step (Gymnasium's
"same-step" autoreset): ``step`` returns the first observation of the new bout, and the last
observation of the finished one in ``info["final_obs"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mujoco
import mujoco.batch
import numpy as np
from gymnasium.utils import seeding

from envs.robosumo import rules
from envs.robosumo.core import CLOCK_START, SumoCore, diverged
from envs.robosumo.rules import RewardWeights
from envs.robosumo.scene import FRAME_SKIP, PLAYERS


class SumoVectorEnv:
    """``num_envs`` RoboSumo arenas (one matchup) with both players' views, batched.

    Args:
        num_envs: number of arenas.
        bodies: (player_0 body, player_1 body).
        nthread: physics threads (0: all CPUs). Results do not depend on it.
        weights: shaping weights (``RewardWeights``); ``SumoEnv``'s keyword names are accepted
            too (``shaping_weight``, ``ctrl_cost_weight``, ...).
        **kwargs: the game arguments of ``SumoEnv`` (max_steps, height_reference,
            face_each_other, init_pos_noise, init_vel_noise, tatami_size, densities).

    ``step((actions_0 [n, a0], actions_1 [n, a1]))`` returns ``(obs, rewards [n, 2],
    terminated [n], truncated [n], info)`` where ``obs = (obs_0 [n, d0], obs_1 [n, d1])``
    float32 and ``info`` holds ``reward_<term>`` ``[n, 2]``, ``winner`` ``[n]`` (0, 1 or -1),
    ``unstable`` ``[n]``, ``final_obs`` (like ``obs``; rows of finished arenas hold their last
    observation), ``episode_steps`` ``[n]`` (length of the bouts that just ended, else 0) and
    ``fallen``, ``out`` ``[n, 2]`` (each player's torso, after the step and before any reset,
    is below the fall height or outside the tatami: why a bout was lost).
    """

    def __init__(self, num_envs: int = 8, bodies: tuple[str, str] = ("ant", "ant"), *,
                 nthread: int = 0, weights: RewardWeights | None = None,
                 **kwargs: Any) -> None:
        if not (isinstance(num_envs, int | np.integer) and num_envs > 0):
            raise ValueError(f"num_envs must be a positive integer, got {num_envs!r}")
        weights = weights or _weights_from_kwargs(kwargs)
        self.core = SumoCore(bodies, weights=weights, **kwargs)
        self.num_envs = int(num_envs)
        self.bodies = self.core.bodies
        self.model = self.core.model
        self.layouts = self.core.layouts
        self.dt = self.core.dt
        self.observation_spaces = self.core.observation_spaces
        self.action_spaces = self.core.action_spaces
        self.batch = mujoco.batch.Batch(self.model, self.num_envs, nthread=nthread)
        self._qpos = self.batch.bind("qpos")
        self._qvel = self.batch.bind("qvel")
        self._ctrl = self.batch.bind("ctrl")
        self._cfrc = self.batch.bind("cfrc_ext")
        self._time = self.batch.bind("time")
        self._forces = np.zeros(self._cfrc.shape)
        self._obs = [np.zeros((self.num_envs, *self.observation_spaces[p].shape), np.float32)
                     for p in PLAYERS]
        self._steps = np.zeros(self.num_envs, dtype=np.int64)
        self._rngs = [seeding.np_random()[0] for _ in range(self.num_envs)]
        self._started = False

    @property
    def weights(self) -> RewardWeights:
        """The shaping weights; assign a new ``RewardWeights`` to anneal them."""
        return self.core.weights

    @weights.setter
    def weights(self, value: RewardWeights) -> None:
        self.core.weights = value

    def reset(self, seed: int | Sequence[int] | None = None,
              options: dict | None = None) -> tuple[tuple[np.ndarray, ...], dict]:
        """Reset every arena; arena ``i`` is seeded with ``seed + i`` (or ``seed[i]``)."""
        if seed is not None:
            seeds = ([int(seed) + i for i in range(self.num_envs)]
                     if isinstance(seed, int | np.integer) else [int(s) for s in seed])
            if len(seeds) != self.num_envs:
                raise ValueError(f"need one seed per arena ({self.num_envs}), got {len(seeds)}")
            self._rngs = [seeding.np_random(s)[0] for s in seeds]
        face = (options or {}).get("face_each_other")
        self._reset_arenas(np.arange(self.num_envs), face)
        self._started = True
        self.core.observe(self._qpos, self._qvel, self._cfrc, self._forces, self._obs)
        return tuple(o.copy() for o in self._obs), {}

    def _reset_arenas(self, ids: np.ndarray, face: bool | None = None) -> None:
        self.batch.reset(ids, stage=mujoco.mjtStage.mjSTAGE_NONE)
        for i in ids:
            self._qpos[i], self._qvel[i] = self.core.initial_state(self._rngs[i], face)
        self._time[ids] = CLOCK_START
        self.batch.forward(ids)  # also fills cfrc_ext (see scene.build_spec)
        self._steps[ids] = 0

    def step(self, actions: Sequence[np.ndarray]):
        """Step every arena with ``(actions_0 [n, a0], actions_1 [n, a1])``."""
        if not self._started:
            raise RuntimeError("call reset() before step()")
        n = self.num_envs
        action_sq = np.empty((n, 2))
        for i, layout in enumerate(self.layouts):
            player = PLAYERS[i]
            a = rules.check_actions(actions[i], player, self.bodies[i],
                                    (n, *self.action_spaces[player].shape))
            action_sq[:, i] = np.einsum("ij,ij->i", a, a)
            self._ctrl[:, layout.ctrl] = a
        before = self.core.torso_xy(self._qpos)
        self.batch.step(nstep=FRAME_SKIP)
        self._steps += 1
        unstable = diverged(self._time)
        self.core.observe(self._qpos, self._qvel, self._cfrc, self._forces, self._obs)
        result = self.core.judge(self._qpos, self._forces, before, action_sq, self._steps,
                                 unstable)
        done = result.terminated | result.truncated
        info: dict[str, Any] = dict(result.terms)
        info["winner"] = result.winner
        info["unstable"] = unstable
        info["final_obs"] = tuple(o.copy() for o in self._obs)
        info["episode_steps"] = np.where(done, self._steps, 0)
        info["fallen"], info["out"] = rules.loss_reasons(
            rules.torso_positions(self._qpos, self.layouts), self.core.out_limit)
        if done.any():
            ids = np.flatnonzero(done)
            self._reset_arenas(ids)
            self.core.observe(self._qpos, self._qvel, self._cfrc, self._forces, self._obs)
        obs = tuple(o.copy() for o in self._obs)
        return obs, result.rewards, result.terminated, result.truncated, info

    def get_data(self, i: int) -> mujoco.MjData:
        """A copy of arena ``i``'s state as an ``MjData`` (for rendering or inspection)."""
        data = self.batch.get_data(i)
        mujoco.mj_forward(self.model, data)
        return data

    def close(self) -> None:
        """Nothing to release; present for symmetry with the other envs."""


_WEIGHT_KWARGS = {"shaping_weight": "shaping", "ctrl_cost_weight": "ctrl_cost",
                  "move_to_opponent_weight": "move_to_opponent", "push_out_weight": "push_out",
                  "stay_in_center_weight": "stay_in_center", "attack_weight": "attack"}


def _weights_from_kwargs(kwargs: dict[str, Any]) -> RewardWeights:
    """Pop ``SumoEnv``-style weight keywords out of ``kwargs`` into a ``RewardWeights``."""
    given = {_WEIGHT_KWARGS[k]: kwargs.pop(k) for k in list(kwargs) if k in _WEIGHT_KWARGS}
    return RewardWeights(**given)


__all__ = ["SumoVectorEnv"]

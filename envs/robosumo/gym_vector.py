"""RoboSumo as a Gymnasium ``VectorEnv``: player_0 of many batched arenas against an opponent.

``SumoGymVectorEnv`` is the batched twin of the Gymnasium ids (``SumoGymEnv``): the arenas step
together in C (``SumoVectorEnv``), player_0's observations, rewards and flags come back as
arrays, and player_1 is driven by ``opponent`` for all arenas at once. Finished arenas reset in
the same step (``metadata["autoreset_mode"]`` is ``SAME_STEP``): the last observation of a
finished bout is in ``info["final_obs"]`` with the mask ``info["_final_obs"]``.

``gymnasium.make_vec("RoboSumo-Ant-vs-Bug-Batched-v0", num_envs=16, opponent="idle")`` builds it
through the ids' ``vector_entry_point``; ``envs.sb3_vec.SB3VecEnv`` adapts it to
Stable-Baselines3's ``VecEnv``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from envs.robosumo.gym_env import OPPONENTS, reset_opponent
from envs.robosumo.vector import SumoVectorEnv

BatchOpponent = Callable[[np.ndarray], np.ndarray]


class SumoGymVectorEnv(gymnasium.vector.VectorEnv):
    """``num_envs`` arenas seen by player_0.

    Args:
        num_envs: arenas.
        bodies: (player_0 body, player_1 body).
        opponent: ``"random"`` (uniform torques from the env's seeded generator), ``"idle"``,
            or a callable from player_1's observations ``[n, d1]`` to actions ``[n, a1]`` (its
            ``reset`` is called at every ``reset``, as ``SumoGymEnv`` calls it; arenas that
            finish a bout reset on their own, without it).
        nthread: physics threads (0: all cores).
        max_episode_steps: the step limit of a bout, where the draw comes (what ``make_vec``
            passes from the id's spec or the user; the same as ``max_steps``, default 500).
        **kwargs: ``SumoVectorEnv``'s (max_steps, shaping weights, ...).
    """

    metadata: ClassVar[dict[str, Any]] = {"autoreset_mode": AutoresetMode.SAME_STEP,
                                         "render_modes": []}

    def __init__(self, num_envs: int = 8, bodies: tuple[str, str] = ("ant", "ant"),
                 opponent: str | BatchOpponent = "random", nthread: int = 0,
                 max_episode_steps: int | None = None, render_mode: str | None = None,
                 **kwargs: Any) -> None:
        if not (callable(opponent) or opponent in OPPONENTS):
            raise ValueError(f"opponent must be a callable or one of {OPPONENTS}, "
                             f"got {opponent!r}")
        if render_mode is not None:
            raise ValueError(f"the batched vector env does not render (render_mode "
                             f"{render_mode!r}); render one SumoGymEnv, or use make_vec's "
                             f"sync mode on RoboSumo-X-vs-Y-v0")
        if max_episode_steps is not None:
            if kwargs.get("max_steps", max_episode_steps) != max_episode_steps:
                raise ValueError(f"max_episode_steps {max_episode_steps} and max_steps "
                                 f"{kwargs['max_steps']} disagree; give one of them")
            kwargs["max_steps"] = max_episode_steps
        self.arenas = SumoVectorEnv(num_envs, tuple(bodies), nthread=nthread, **kwargs)
        self.num_envs = self.arenas.num_envs
        self.opponent = opponent
        self.single_observation_space = self.arenas.observation_spaces["player_0"]
        self.single_action_space = self.arenas.action_spaces["player_0"]
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._opponent_dim = self.arenas.action_spaces["player_1"].shape[0]
        self._opponent_obs: np.ndarray | None = None
        self.render_mode = None

    def reset(self, *, seed: int | list[int] | None = None, options: dict | None = None):
        """Reset every arena (arena i from ``seed + i``); player_0's observations ``[n, d0]``."""
        if isinstance(seed, list):
            raise ValueError("seed one int (arena i starts from seed + i), not a list")
        super().reset(seed=seed)
        obs, _ = self.arenas.reset(seed=seed, options=options)
        reset_opponent(self.opponent, self.np_random)
        self._opponent_obs = obs[1]
        return obs[0], {}

    def _opponent_actions(self) -> np.ndarray:
        n, a = self.num_envs, self._opponent_dim
        if self.opponent == "idle":
            return np.zeros((n, a))
        if self.opponent == "random":
            return self.np_random.uniform(-1.0, 1.0, (n, a))
        return np.asarray(self.opponent(self._opponent_obs), dtype=np.float64)

    def step(self, actions: np.ndarray):
        """player_0's actions ``[n, a0]`` -> ``(obs, rewards [n], terminated, truncated, info)``."""
        if self._opponent_obs is None:
            raise RuntimeError("call reset() before step()")
        obs, rewards, terminated, truncated, info = self.arenas.step(
            (np.asarray(actions), self._opponent_actions()))
        self._opponent_obs = obs[1]
        done = terminated | truncated
        out = {k: v[:, 0] for k, v in info.items() if k.startswith("reward_")}
        out.update(winner=info["winner"], unstable=info["unstable"],
                   episode_steps=info["episode_steps"], final_obs=info["final_obs"][0],
                   _final_obs=done)
        return obs[0], rewards[:, 0], terminated, truncated, out

    def close_extras(self, **kwargs: Any) -> None:
        arenas = getattr(self, "arenas", None)  # absent if the constructor refused its arguments
        if arenas is not None:
            arenas.close()

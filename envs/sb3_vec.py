"""A Gymnasium ``VectorEnv`` as Stable-Baselines3's ``VecEnv``: the batched envs in SB3.

SB3 takes its own ``VecEnv`` (its ``make_vec_env`` builds one from copies of a single env, each
stepped in Python); ``SB3VecEnv`` hands SB3 a vector env that already steps its arenas
together, e.g. RoboSumo's ``SumoGymVectorEnv`` or the locomotion ``LocomotionVectorEnv``::

    venv = SB3VecEnv(gymnasium.make_vec("RoboSumo-Ant-vs-Ant-Batched-v0", num_envs=16,
                                        opponent="idle"))
    stable_baselines3.PPO("MlpPolicy", venv).learn(100_000)

The vector env must reset finished envs in the same step (``AutoresetMode.SAME_STEP``, with the
last observation in ``info["final_obs"]``), which is what SB3 expects: a done env's
``infos[i]["terminal_observation"]`` is that observation and ``infos[i]["TimeLimit.truncated"]``
says it was cut by the step limit, not ended. Gymnasium's info dict of arrays (with ``_key``
masks) becomes SB3's list of per-env dicts. Seeds set with ``seed(s)`` reach the vector env's
next reset as the one seed it takes (env i starts from ``s + i`` in both conventions).

Needs ``stable-baselines3`` (the ``dev`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices


class SB3VecEnv(VecEnv):
    """``vector_env`` (a ``gymnasium.vector.VectorEnv`` with same-step autoreset) seen by SB3.

    ``get_attr``/``set_attr``/``env_method`` reach the vector env itself (one object for all
    envs), so they return its value once per requested index.
    """

    def __init__(self, vector_env: gymnasium.vector.VectorEnv) -> None:
        if not isinstance(vector_env, gymnasium.vector.VectorEnv):
            raise TypeError(f"SB3VecEnv wraps a gymnasium.vector.VectorEnv, got "
                            f"{type(vector_env).__name__}")
        mode = vector_env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"SB3 needs same-step autoreset (AutoresetMode.SAME_STEP); this "
                             f"vector env resets in mode {mode}: build it with "
                             f"autoreset_mode=AutoresetMode.SAME_STEP")
        self.venv = vector_env
        super().__init__(vector_env.num_envs, vector_env.single_observation_space,
                         vector_env.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seed = self._seeds[0]
        options = self._options[0] or None
        obs, info = self.venv.reset(seed=seed, options=options)
        self.reset_infos = _per_env(info, self.num_envs)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async()")
        obs, rewards, terminated, truncated, info = self.venv.step(self._actions)
        self._actions = None
        done = np.logical_or(terminated, truncated)
        infos = _per_env({k: v for k, v in info.items() if k not in ("final_obs", "_final_obs",
                                                                      "final_info",
                                                                      "_final_info")},
                         self.num_envs)
        for i in np.flatnonzero(done):
            infos[i]["terminal_observation"] = info["final_obs"][i]
            infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, np.asarray(rewards, dtype=np.float32), done, infos

    def close(self) -> None:
        self.venv.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None,
                   **method_kwargs) -> list[Any]:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gymnasium.Wrapper],
                       indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]  # no per-env Gymnasium wrappers

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs


def _per_env(info: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Gymnasium's vector info (arrays over envs, ``_key`` masks) as SB3's list of dicts."""
    out: list[dict[str, Any]] = [{} for _ in range(n)]
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get(f"_{key}")
        if isinstance(value, dict):
            for i, sub in enumerate(_per_env(value, n)):
                if mask is None or mask[i]:
                    out[i][key] = sub
            continue
        for i in range(n):
            if mask is None or mask[i]:
                out[i][key] = value[i]
    return out

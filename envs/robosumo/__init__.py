"""RoboSumo: two robots (ant, bug, spider) wrestle on a square tatami.

Entry points:
    parallel_env(bodies=("ant", "bug"), **kwargs) -> SumoEnv, a PettingZoo ParallelEnv
    env(bodies=..., **kwargs) -> the same game as a PettingZoo AEC env
    raw_env(bodies=..., **kwargs) -> the AEC env without wrappers (PettingZoo's convention)
    SumoEnv -> the ParallelEnv class
    Gymnasium ids ``RoboSumo-{Ant,Bug,Spider}-vs-{Ant,Bug,Spider}-v0``: player_0's view against an
    opponent policy (see ``envs.robosumo.gym_env.SumoGymEnv``).
    SumoVectorEnv(num_envs, bodies, **kwargs) -> many arenas stepped together in C, for samplers
    SumoGymVectorEnv(num_envs, bodies, opponent=...) -> the same as a Gymnasium VectorEnv of
        player_0 against an opponent
"""

from __future__ import annotations

from typing import Any

from pettingzoo.utils.conversions import parallel_to_aec

from envs.bodies import BODIES
from envs.robosumo.gym_env import SumoGymEnv, register_gym_envs
from envs.robosumo.gym_vector import SumoGymVectorEnv
from envs.robosumo.sumo import DRAW_PENALTY, REWARD_TERMS, WIN_REWARD, SumoEnv
from envs.robosumo.vector import SumoVectorEnv


def parallel_env(bodies: tuple[str, str] = ("ant", "ant"), **kwargs: Any) -> SumoEnv:
    """A RoboSumo match as a PettingZoo ParallelEnv (see ``SumoEnv`` for the arguments)."""
    return SumoEnv(bodies=bodies, **kwargs)


def raw_env(bodies: tuple[str, str] = ("ant", "ant"), **kwargs: Any):
    """The AEC env without wrappers, as PettingZoo environments name it (``env`` is the same:
    the parallel game converted to turns already checks its inputs)."""
    return parallel_to_aec(SumoEnv(bodies=bodies, **kwargs))


def env(bodies: tuple[str, str] = ("ant", "ant"), **kwargs: Any):
    """A RoboSumo match as a PettingZoo AEC env (players act in turn; physics steps after both)."""
    return raw_env(bodies, **kwargs)


register_gym_envs()

__all__ = ["BODIES", "DRAW_PENALTY", "REWARD_TERMS", "WIN_REWARD", "SumoEnv", "SumoGymEnv",
           "SumoGymVectorEnv", "SumoVectorEnv", "env", "parallel_env", "raw_env"]
